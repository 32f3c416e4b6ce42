//! Reads the configuration files and runs keepalived 2.2.7's per-line
//! preprocessing pipeline (`read_line()` in lib/parser.c; reference 1.1
//! to 1.7): comments, `@id` conditionals, `$NAME` definitions (also
//! multi-line) and substitution, `~SEQ`/`~LST` generators, `include*`
//! with globs and brace lists, brace splitting. Output: logical lines
//! whose words carry spans into the original files.
//!
//! The state machine mirrors keepalived's: a line comes from (in this
//! order) the residue after a brace, the innermost running generator, the
//! multi-line definition being replayed, or the next file line. Where
//! keepalived has no bound (include cycles, self-referencing definitions,
//! huge generators) we stop with a diagnostic instead.
//!
//! For the consumer (the keyword tables):
//! - Braces come as statements of their own; brace accounting ("Extra
//!   '}'", "missing '}'") is the consumer's job, as in keepalived's
//!   `process_stream`.
//! - `include_check` and `random_seed` inside `global_defs` are acted on
//!   here (they change later includes and `${_RANDOM}`); the statements
//!   are still passed on. `include_check`'s own errors are reported here.
//! - [`PreprocOutput::include_failed`]: keepalived exits 6 ("not
//!   configured") when a checked include failed, even under `-t`.
//! - Script keywords re-split [`LogicalLine::raw`] with `shell::split`.

use crate::diag::{Diagnostic, Diagnostics, ErrClass};
use crate::lexer::{
    decomment, is_blank, take_statement, LogicalLine, Origin, Text, TextBuilder, Word,
};
use crate::source::{FileId, SourceMap, Span};
use compact_str::CompactString;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// Longest line we read (keepalived 2.2.7 reads 1023 bytes and splits the
/// rest into a new line; we read up to this and skip longer lines).
pub const MAX_LINE: usize = 1 << 20;
/// keepalived 2.2.7's line buffer: longer lines are split by `fgets`.
pub const KEEPALIVED_LINE: usize = 1023;
/// Cap on one line's length after substitution.
pub const MAX_EXPANSION: usize = 1 << 20;
/// Cap on nested substitution (a definition that refers to itself).
pub const MAX_SUBST_DEPTH: usize = 64;
/// Cap on the bytes substitution may produce for one source line and the
/// statements split off it (a value containing braces and its own
/// reference regrows the rest of the line after every brace).
pub const MAX_LINE_WORK: usize = 8 << 20;
/// Cap on the bytes substitution may produce in one load.
pub const MAX_TOTAL_WORK: usize = 256 << 20;
/// Cap on substitution passes over one line.
pub const MAX_SUBST_PASSES: usize = 64;
/// Cap on lines produced by `~SEQ`/`~LST` in one load.
pub const MAX_GENERATED: u64 = 1_000_000;
/// Cap on lines replayed from multi-line definitions in one load.
pub const MAX_REPLAYED: u64 = 1_000_000;
/// Cap on logical lines produced by one load (substitution can feed a
/// brace split forever: `$A={ $A`; keepalived loops until killed).
pub const MAX_OUTPUT_LINES: usize = 4_000_000;
/// Cap on nested include files.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Cap on `~SEQ`/`~LST` running inside each other (a definition that
/// expands to a generator of itself nests without end).
pub const MAX_SEQ_NESTING: usize = 64;
/// Diagnostics the preprocessor reports in full before summarising.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// Options that change what the preprocessor produces.
#[derive(Debug, Clone, Default)]
pub struct PreprocOptions {
    /// The id `@ID` lines are matched against (`-i`; default host name up
    /// to the first dot).
    pub config_id: Option<String>,
    /// `-e/--all-config`: every missing include is fatal.
    pub all_config: bool,
    /// Seed for `${_RANDOM}` (keepalived seeds with the time unless
    /// `random_seed` is configured; a `random_seed` line in `global_defs`
    /// reseeds, as in keepalived).
    pub random_seed: Option<u64>,
    /// Treat `include` lines as errors instead of opening files (fuzzing,
    /// text given without a file system).
    pub disable_includes: bool,
    /// Lower the caps on generated, replayed and output lines (defaults
    /// [`MAX_GENERATED`], [`MAX_REPLAYED`], [`MAX_OUTPUT_LINES`]); the fuzz
    /// target uses it to keep each run short.
    pub max_lines: Option<usize>,
    /// Lower the cap on the bytes substitution may produce in one load
    /// (default [`MAX_TOTAL_WORK`]); the fuzz target uses it because under
    /// the sanitizer an exponential definition's 256 MiB of work costs
    /// seconds and the quarantine's memory on every such input.
    pub max_subst_bytes: Option<usize>,
}

/// Everything one load produces.
#[derive(Debug, Clone, Default)]
pub struct PreprocOutput {
    pub lines: Vec<LogicalLine>,
    /// A strictly checked include (`includer`/`m`/`w`/`b`/`a`,
    /// `include_check`, `-e`) failed: keepalived stops with
    /// KEEPALIVED_EXIT_NO_CONFIG (6), even under `-t`.
    pub include_failed: bool,
}

/// Read `path` and everything it includes into logical lines.
pub fn read_config(
    path: &Path,
    opts: &PreprocOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Vec<LogicalLine> {
    read_config_full(path, opts, sources, diags).lines
}

/// [`read_config`], also telling whether a checked include failed.
pub fn read_config_full(
    path: &Path,
    opts: &PreprocOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> PreprocOutput {
    let mut p = Preproc::new(opts, sources, diags);
    p.open_main(path);
    p.run()
}

/// Statements handed to [`read_config_streamed`]'s sink at a time: enough
/// to amortise the call, few enough to stay in cache.
pub const STREAM_BATCH: usize = 256;

/// [`read_config_full`] without collecting the statements: they go to
/// `sink` in order, in batches, as they are produced, and each batch is
/// dropped after it (a consumer that walks them once needs no more; the
/// whole of a 250k-line file as logical lines was ~45 MiB). Returns
/// whether a checked include failed ([`PreprocOutput::include_failed`]).
pub fn read_config_streamed(
    path: &Path,
    opts: &PreprocOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
    mut sink: impl FnMut(&[LogicalLine]),
) -> bool {
    let mut p = Preproc::new(opts, sources, diags);
    p.streamed = true;
    p.out.reserve(STREAM_BATCH + 64);
    p.open_main(path);
    loop {
        let more = p.read_statement();
        if p.out.len() >= STREAM_BATCH || !more {
            sink(&p.out);
            p.flushed += p.out.len();
            // The word vectors go back to the pool `plain_line` builds
            // statements from: one allocation and one free less per
            // statement.
            for l in p.out.drain(..) {
                let mut w = l.words;
                w.clear();
                p.word_pool.push(w);
            }
        }
        if !more {
            break;
        }
    }
    p.finish();
    p.include_failed
}

/// Preprocess `text` as if it were the file `virtual_path` (includes are
/// resolved next to that path unless `opts.disable_includes`).
pub fn read_config_from_str(
    text: &str,
    virtual_path: &Path,
    opts: &PreprocOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> PreprocOutput {
    read_config_from_bytes(text.as_bytes(), virtual_path, opts, sources, diags)
}

/// [`read_config_from_str`] for raw bytes (not necessarily UTF-8: decoded
/// lossily with a warning, as files are).
pub fn read_config_from_bytes(
    bytes: &[u8],
    virtual_path: &Path,
    opts: &PreprocOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> PreprocOutput {
    let mut p = Preproc::new(opts, sources, diags);
    p.open_text(virtual_path, bytes);
    p.run()
}

/// The host name up to its first dot: keepalived's default config id.
pub fn default_config_id() -> Option<String> {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let h = h.trim();
    let id = h.split('.').next().unwrap_or(h);
    (!id.is_empty()).then(|| id.to_string())
}

// include_t bits (lib/parser.c).
const INCLUDE_R: u8 = 1;
const INCLUDE_M: u8 = 2;
const INCLUDE_W: u8 = 4;
const INCLUDE_B: u8 = 8;
const INCLUDE_ALL: u8 = INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B;

/// What computes a predefined definition's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StdDef {
    Pwd,
    Instance,
    Random,
}

#[derive(Debug, Clone)]
struct Def {
    value: Rc<str>,
    multiline: bool,
    func: Option<StdDef>,
    max_params: u8,
}

/// A multi-line definition being replayed: the rest of its value, and the
/// `$NAME` reference its lines point at.
#[derive(Debug, Clone)]
struct Replay {
    value: Rc<str>,
    pos: usize,
    file: FileId,
    origin: Origin,
    /// The multi-line definitions being replayed when this one started,
    /// and this one: a definition that replays itself would loop forever
    /// (keepalived does), so we refuse it.
    chain: Chain,
    /// The generator depth to restore when this replay resumes.
    seq_depth: usize,
}

/// Names of the multi-line definitions a line was replayed from.
type Chain = Rc<Vec<String>>;

/// A running `~SEQ` or `~LST`.
#[derive(Debug)]
struct Seq {
    var: String,
    next: i64,
    step: i64,
    last: i64,
    hex: bool,
    text: Text,
    /// `~LST`: variable names, value sets, next set.
    lst: Option<(Vec<String>, Vec<Vec<String>>, usize)>,
    /// The replay chain the generator was written in.
    chain: Chain,
}

/// One open file.
#[derive(Debug)]
struct OpenFile {
    id: FileId,
    text: Arc<str>,
    pos: usize,
    line_no: u32,
    dir: PathBuf,
    canon: Option<PathBuf>,
    pwd: Option<String>,
    /// Whole-file facts that spare a scan of every line.
    has_nul: bool,
    ascii: bool,
}

/// One `include` (or the main file): its matches, read in order.
#[derive(Debug)]
struct GlobEntry {
    paths: Vec<PathBuf>,
    next: usize,
    include_type: u8,
    sav_include_check: u8,
    cur: Option<OpenFile>,
}

struct Preproc<'a> {
    sources: &'a mut SourceMap,
    diags: &'a mut Diagnostics,
    config_id: Option<String>,
    disable_includes: bool,
    rng: StdRng,
    defs: HashMap<String, Def>,
    /// Bumped whenever a definition changes (invalidates the
    /// "nothing to substitute here" memo on texts).
    defs_gen: u64,
    seq_list: Vec<Seq>,
    next_ptr: Option<Replay>,
    replay_stack: Vec<Replay>,
    multiline_seq_depth: usize,
    /// The replay chain of the line being processed.
    cur_chain: Chain,
    /// The chain of a line read from a file (no definition being expanded).
    empty_chain: Chain,
    /// Bytes substitution produced for the current source line.
    line_work: usize,
    /// Bytes substitution produced in this load.
    total_work: usize,
    max_total_work: usize,
    /// A multi-line definition being collected.
    ml_def: Option<String>,
    residue: Option<Text>,
    stack: Vec<GlobEntry>,
    include_check: u8,
    include_failed: bool,
    generated: u64,
    replayed: u64,
    max_generated: u64,
    max_replayed: u64,
    max_output: usize,
    gen_capped: bool,
    /// For each block we are in, whether the statement that opened it was
    /// `global_defs` (`include_check` and `random_seed` only act there);
    /// `None` for a `{` with no statement before it.
    blocks: Vec<Option<bool>>,
    /// Whether the last statement that was not a brace was `global_defs`.
    last_statement: Option<bool>,
    out: Vec<LogicalLine>,
    /// Statements already handed on by [`read_config_streamed`] (`out`
    /// holds only the batch being filled).
    flushed: usize,
    /// Statements go out in batches: do not size `out` for the whole file.
    streamed: bool,
    /// Emptied word vectors of statements already handed on
    /// ([`read_config_streamed`]), reused by `plain_line`.
    word_pool: Vec<Vec<Word>>,
    /// `plain_line`'s word and statement ranges, kept to reuse the
    /// allocations.
    plain_words: Vec<(usize, usize)>,
    plain_pieces: Vec<(usize, usize, usize)>,
    diag_count: usize,
    classes_seen: Vec<Option<ErrClass>>,
    suppressed: usize,
}

impl<'a> Preproc<'a> {
    fn new(opts: &PreprocOptions, sources: &'a mut SourceMap, diags: &'a mut Diagnostics) -> Self {
        let seed = opts.random_seed.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        });
        let mut p = Preproc {
            sources,
            diags,
            config_id: opts.config_id.clone().or_else(default_config_id),
            disable_includes: opts.disable_includes,
            rng: StdRng::seed_from_u64(seed),
            defs: HashMap::new(),
            defs_gen: 0,
            seq_list: Vec::new(),
            next_ptr: None,
            replay_stack: Vec::new(),
            multiline_seq_depth: 0,
            cur_chain: Rc::new(Vec::new()),
            empty_chain: Rc::new(Vec::new()),
            line_work: 0,
            total_work: 0,
            max_total_work: opts
                .max_subst_bytes
                .map_or(MAX_TOTAL_WORK, |m| MAX_TOTAL_WORK.min(m)),
            ml_def: None,
            residue: None,
            stack: Vec::new(),
            include_check: if opts.all_config { INCLUDE_ALL } else { 0 },
            include_failed: false,
            generated: 0,
            replayed: 0,
            max_generated: opts
                .max_lines
                .map_or(MAX_GENERATED, |m| MAX_GENERATED.min(m as u64)),
            max_replayed: opts
                .max_lines
                .map_or(MAX_REPLAYED, |m| MAX_REPLAYED.min(m as u64)),
            max_output: opts
                .max_lines
                .map_or(MAX_OUTPUT_LINES, |m| MAX_OUTPUT_LINES.min(m)),
            gen_capped: false,
            blocks: Vec::new(),
            last_statement: None,
            out: Vec::new(),
            flushed: 0,
            streamed: false,
            word_pool: Vec::new(),
            plain_words: Vec::new(),
            plain_pieces: Vec::new(),
            diag_count: 0,
            classes_seen: Vec::new(),
            suppressed: 0,
        };
        // set_std_definitions()
        for (name, value, func, max_params) in [
            ("_PWD", "", Some(StdDef::Pwd), 0),
            ("_INSTANCE", "", Some(StdDef::Instance), 0),
            ("_RANDOM", "", Some(StdDef::Random), 2),
            ("_HASH", "#", None, 0),
            ("_BANG", "!", None, 0),
        ] {
            p.defs.insert(
                name.to_string(),
                Def {
                    value: Rc::from(value),
                    multiline: false,
                    func,
                    max_params,
                },
            );
        }
        p
    }

    /// Report `d`. Past [`MAX_DIAGNOSTICS`] only diagnostics of a class
    /// not reported yet get through (so the `-t` status is unchanged); the
    /// rest are counted and summed up at the end, keeping a damaged or
    /// binary file from flooding the output.
    fn push_diag(&mut self, d: Diagnostic) {
        if self.diag_count < MAX_DIAGNOSTICS || !self.classes_seen.contains(&d.class) {
            self.diag_count += 1;
            if !self.classes_seen.contains(&d.class) {
                self.classes_seen.push(d.class);
            }
            self.diags.push(d);
        } else {
            self.suppressed += 1;
        }
    }

    fn error(&mut self, class: ErrClass, span: Option<Span>, msg: String) {
        self.push_diag(Diagnostic::error(class, span, msg));
    }

    // ----------------------------------------------------------------
    // Files

    /// Open the main configuration file (or the files its name matches:
    /// keepalived globs `-f` too).
    fn open_main(&mut self, path: &Path) {
        let pattern = path.to_string_lossy().into_owned();
        let paths = if std::fs::symlink_metadata(path).is_ok() || !has_wildcard(&pattern) {
            vec![path.to_path_buf()]
        } else {
            expand_pattern(&pattern).paths
        };
        if paths.len() > 1 {
            self.push_diag(Diagnostic::warning(
                Some(ErrClass::MultipleFiles),
                None,
                format!(
                    "WARNING, multiple configuration file matches of {pattern}, starting with {}",
                    paths[0].display()
                ),
            ));
        }
        let mut entry = GlobEntry {
            paths,
            next: 0,
            include_type: INCLUDE_R | INCLUDE_M | INCLUDE_W,
            sav_include_check: self.include_check,
            cur: None,
        };
        let mut opened = false;
        while entry.next < entry.paths.len() {
            let p = entry.paths[entry.next].clone();
            entry.next += 1;
            match std::fs::read(&p) {
                Ok(bytes) if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) => {
                    if bytes.is_empty() {
                        self.push_diag(Diagnostic::warning(
                            None,
                            None,
                            format!("Configuration file '{}' is empty", p.display()),
                        ));
                    }
                    entry.cur = Some(self.load(&p, bytes));
                    opened = true;
                    break;
                }
                Ok(_) => self.error(
                    ErrClass::FileNotFound,
                    None,
                    format!("Configuration file '{}' is not a regular file", p.display()),
                ),
                Err(e) => self.error(
                    ErrClass::FileNotFound,
                    None,
                    format!(
                        "Configuration file '{}' could not be read: {e}",
                        p.display()
                    ),
                ),
            }
        }
        if entry.paths.is_empty() {
            self.error(
                ErrClass::FileNotFound,
                None,
                format!("Configuration file '{pattern}' could not be read: no such file"),
            );
        }
        if opened {
            self.stack.push(entry);
        }
    }

    fn open_text(&mut self, path: &Path, bytes: &[u8]) {
        let f = self.load(path, bytes.to_vec());
        self.stack.push(GlobEntry {
            paths: vec![path.to_path_buf()],
            next: 1,
            include_type: INCLUDE_R | INCLUDE_M | INCLUDE_W,
            sav_include_check: self.include_check,
            cur: Some(f),
        });
    }

    /// Decode a file (lossy, warning where it is not UTF-8) and add it to
    /// the source map.
    fn load(&mut self, path: &Path, bytes: Vec<u8>) -> OpenFile {
        let text: String = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => self.decode_lossy(path, e.as_bytes()),
        };
        // About one statement per line, plus one more for each `{` that
        // follows a keyword on its line (`real_server A P {` is two
        // statements): size the output once, as growing a vector of some
        // 300k statements copies it and doubles its memory for a moment.
        if self.out.is_empty() && !self.streamed {
            let pieces = text.bytes().filter(|&b| b == b'\n' || b == b'{').count();
            self.out.reserve(pieces + 16);
        }
        // One copy of the text, shared by the source map (for diagnostics)
        // and the reader's lines.
        let text: Arc<str> = Arc::from(text);
        let id = self
            .sources
            .add_shared(path.to_path_buf(), Arc::clone(&text));
        let (has_nul, ascii) = (text.contains('\0'), text.is_ascii());
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        OpenFile {
            id,
            text,
            pos: 0,
            line_no: 0,
            dir,
            canon: std::fs::canonicalize(path).ok(),
            pwd: None,
            has_nul,
            ascii,
        }
    }

    fn decode_lossy(&mut self, path: &Path, bytes: &[u8]) -> String {
        // The file id this text will get, for the warning spans.
        let file = FileId(u32::try_from(self.sources.len()).unwrap_or(u32::MAX));
        let mut out = String::with_capacity(bytes.len() + 16);
        let (mut line, mut col) = (1u32, 1u32);
        let mut reported = 0usize;
        let mut bad = 0usize;
        for chunk in bytes.utf8_chunks() {
            for ch in chunk.valid().chars() {
                if ch == '\n' {
                    line = line.saturating_add(1);
                    col = 1;
                } else {
                    col = col.saturating_add(1);
                }
            }
            out.push_str(chunk.valid());
            if !chunk.invalid().is_empty() {
                bad += 1;
                if reported < 20 {
                    reported += 1;
                    self.push_diag(Diagnostic::warning(
                        None,
                        Some(Span::new(file, line, col, 1)),
                        format!(
                            "invalid UTF-8 byte(s) {:02x?} in '{}', read as U+FFFD",
                            chunk.invalid(),
                            path.display()
                        ),
                    ));
                }
                out.push('\u{FFFD}');
                col = col.saturating_add(1);
            }
        }
        if bad > reported {
            self.push_diag(Diagnostic::warning(
                None,
                None,
                format!(
                    "{} more invalid UTF-8 sequences in '{}'",
                    bad - reported,
                    path.display()
                ),
            ));
        }
        out
    }

    /// The next physical line from the include stack, without its line
    /// ending; `None` at the end of all files.
    fn next_physical(&mut self) -> Option<Text> {
        loop {
            let entry = self.stack.last_mut()?;
            let Some(f) = entry.cur.as_mut() else {
                self.next_file();
                continue;
            };
            if f.pos >= f.text.len() {
                self.next_file();
                continue;
            }
            let rest = &f.text[f.pos..];
            // A plain byte loop: config lines are short, and `str::find`'s
            // memchr set-up cost more than the scan itself (callgrind).
            let len = rest.bytes().position(|b| b == b'\n').unwrap_or(rest.len());
            let start = f.pos;
            f.pos += len + 1;
            f.line_no = f.line_no.saturating_add(1);
            let (id, line_no, has_nul, ascii) = (f.id, f.line_no, f.has_nul, f.ascii);
            let text = Arc::clone(&f.text);
            let mut l = &text[start..start + len];
            while let Some(s) = l.strip_suffix(['\r', '\n']) {
                l = s;
            }
            if l.len() > MAX_LINE {
                self.error(
                    ErrClass::GeneralError,
                    Some(Span::new(id, line_no, 1, 0)),
                    format!(
                        "line too long ({} bytes, limit {MAX_LINE}) - ignoring",
                        l.len()
                    ),
                );
                continue;
            }
            if let Some(nul) = has_nul.then(|| l.find('\0')).flatten() {
                let col = l[..nul].chars().count() as u32 + 1;
                self.push_diag(
                    Diagnostic::warning(
                        None,
                        Some(Span::new(id, line_no, col, 1)),
                        "NUL byte in line: the rest of the line is ignored",
                    )
                    .with_hint("keepalived 2.2.7 also stops reading the line at a NUL byte"),
                );
                l = &l[..nul];
            }
            if l.len() > KEEPALIVED_LINE {
                self.push_diag(Diagnostic::warning(
                    None,
                    Some(Span::new(id, line_no, 1, 0)),
                    format!(
                        "line is {} bytes long: keepalived 2.2.7 reads lines in 1023-byte pieces and would split it",
                        l.len()
                    ),
                ));
            }
            let end = start + l.len();
            let ascii = ascii || l.is_ascii();
            return Some(Text::shared(text, start, end, id, line_no, ascii));
        }
    }

    /// The current file ended: restore `include_check` (keepalived's
    /// `end_file`), open the next match of its include, or pop it.
    fn next_file(&mut self) {
        let Some(entry) = self.stack.last_mut() else {
            return;
        };
        if entry.cur.take().is_some() {
            self.include_check = entry.sav_include_check;
        }
        if !self.open_next_match() {
            self.stack.pop();
        }
    }

    /// Open the next readable match of the top include (keepalived's
    /// `open_conf_file`). False when none is left.
    fn open_next_match(&mut self) -> bool {
        loop {
            let Some(entry) = self.stack.last_mut() else {
                return false;
            };
            if entry.next >= entry.paths.len() {
                return false;
            }
            let p = entry.paths[entry.next].clone();
            entry.next += 1;
            let itype = entry.include_type;
            let meta = std::fs::metadata(&p);
            let ok = match &meta {
                Ok(m) if m.is_dir() => {
                    self.file_error(
                        itype,
                        INCLUDE_R,
                        None,
                        format!(
                            "Configuration file '{}/' is a directory - skipping",
                            p.display()
                        ),
                    );
                    false
                }
                Ok(m) if !m.is_file() || is_executable(m) => {
                    self.file_error(
                        itype,
                        INCLUDE_R,
                        None,
                        format!(
                            "Configuration file '{}' is not a regular non-executable file - skipping",
                            p.display()
                        ),
                    );
                    false
                }
                Ok(_) => true,
                Err(_) => {
                    self.file_error(
                        itype,
                        INCLUDE_R,
                        None,
                        format!(
                            "Configuration file '{}' is not a regular non-executable file - skipping",
                            p.display()
                        ),
                    );
                    false
                }
            };
            if !ok {
                continue;
            }
            // An include cycle: keepalived recurses until it runs out of
            // file descriptors (EMFILE); we name the chain and skip it.
            let canon = std::fs::canonicalize(&p).ok();
            if let Some(c) = &canon {
                let chain: Vec<&OpenFile> =
                    self.stack.iter().filter_map(|e| e.cur.as_ref()).collect();
                if chain.iter().any(|f| f.canon.as_ref() == Some(c)) {
                    let mut names: Vec<String> = chain
                        .iter()
                        .filter_map(|f| self.sources.path(f.id))
                        .map(|p| p.display().to_string())
                        .collect();
                    names.push(p.display().to_string());
                    let span = self.include_span();
                    self.error(
                        ErrClass::GeneralError,
                        span,
                        format!(
                            "include cycle: {} - skipping the repeated include",
                            names.join(" -> ")
                        ),
                    );
                    continue;
                }
            }
            if self.stack.iter().filter(|e| e.cur.is_some()).count() >= MAX_INCLUDE_DEPTH {
                let span = self.include_span();
                self.error(
                    ErrClass::GeneralError,
                    span,
                    format!(
                        "includes nested more than {MAX_INCLUDE_DEPTH} deep - skipping '{}'",
                        p.display()
                    ),
                );
                continue;
            }
            match std::fs::read(&p) {
                Ok(bytes) => {
                    let f = self.load(&p, bytes);
                    if let Some(e) = self.stack.last_mut() {
                        e.cur = Some(f);
                    }
                    return true;
                }
                Err(e) => {
                    self.file_error(
                        itype,
                        INCLUDE_R,
                        None,
                        format!(
                            "Configuration file '{}' open problem ({e}) - skipping",
                            p.display()
                        ),
                    );
                }
            }
        }
    }

    /// Where the include line being processed is (the line just read from
    /// the innermost open file).
    fn include_span(&self) -> Option<Span> {
        self.stack
            .iter()
            .rev()
            .find_map(|e| e.cur.as_ref())
            .map(|f| Span::new(f.id, f.line_no, 1, 0))
    }

    /// keepalived's `file_config_error()`: a problem with an include is an
    /// error (FILE_NOT_FOUND, and keepalived then refuses to run) only when
    /// the include's own type or `include_check` asks for that check;
    /// otherwise it is only logged.
    fn file_error(&mut self, itype: u8, check: u8, span: Option<Span>, msg: String) {
        let span = span.or_else(|| self.include_span());
        if (self.include_check | itype) & check != 0 {
            self.include_failed = true;
            self.push_diag(
                Diagnostic::error(ErrClass::FileNotFound, span, msg).with_hint(
                    "a checked include failed: keepalived exits with status 6 (not configured)",
                ),
            );
        } else {
            self.push_diag(Diagnostic::warning(None, span, msg));
        }
    }

    /// `include`, `includer`, `includem`, `includew`, `includeb`,
    /// `includea` (keepalived's `check_include`). The pattern is the rest
    /// of the line.
    fn check_include(&mut self, t: &Text) -> bool {
        let v = t.view().as_bytes();
        if !v.starts_with(b"include") || v.len() < 8 {
            return false;
        }
        let c7 = v[7];
        // C isspace(): also \v and \f.
        let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
        let (itype, skip) = if space(c7) {
            (0, 8)
        } else if v.len() > 8 && space(v[8]) && b"rmwba".contains(&c7) {
            let t = match c7 {
                b'r' => INCLUDE_R,
                b'a' => INCLUDE_ALL,
                b'w' => INCLUDE_R | INCLUDE_M | INCLUDE_W,
                b'm' => INCLUDE_R | INCLUDE_M,
                _ => INCLUDE_R | INCLUDE_B,
            };
            (t, 9)
        } else {
            return false;
        };
        let pattern = t.view()[skip..].trim_start_matches([' ', '\t']).to_string();
        let span = Some(t.line_span());
        if self.disable_includes {
            self.push_diag(Diagnostic::warning(
                None,
                span,
                format!("include of '{pattern}' not followed (includes are disabled)"),
            ));
            return true;
        }
        self.open_glob(&pattern, itype, span);
        true
    }

    /// keepalived's `open_glob_file()` + `open_and_check_glob()`.
    fn open_glob(&mut self, pattern: &str, itype: u8, span: Option<Span>) {
        let dir = self
            .stack
            .iter()
            .rev()
            .find_map(|e| e.cur.as_ref())
            .map(|f| f.dir.clone())
            .unwrap_or_else(|| PathBuf::from("."));
        let full = if pattern.starts_with('/') {
            pattern.to_string()
        } else {
            format!("{}/{}", dir.display(), pattern)
        };
        let g = expand_pattern(&full);
        let check = self.include_check | itype;
        if g.paths.is_empty() {
            if g.missing {
                let kind = if have_brace(pattern) {
                    INCLUDE_B
                } else {
                    INCLUDE_M
                };
                self.file_error(
                    itype,
                    kind,
                    span,
                    format!("Config files missing '{pattern}'."),
                );
            } else if g.wildcards && check & INCLUDE_W != 0 {
                self.file_error(
                    itype,
                    INCLUDE_W,
                    span,
                    format!("No config files matched '{pattern}'."),
                );
            } else {
                self.push_diag(Diagnostic::note(
                    None,
                    span,
                    format!("No config files matched '{pattern}'."),
                ));
            }
            return;
        }
        if g.missing {
            self.file_error(
                itype,
                INCLUDE_B,
                span,
                format!("Some config files missing: \"{pattern}\"."),
            );
            if check & INCLUDE_B != 0 {
                return;
            }
        }
        self.stack.push(GlobEntry {
            paths: g.paths,
            next: 0,
            include_type: itype,
            sav_include_check: self.include_check,
            cur: None,
        });
        if !self.open_next_match() {
            self.stack.pop();
        }
    }

    // ----------------------------------------------------------------
    // The line pipeline

    fn run(mut self) -> PreprocOutput {
        while self.read_statement() {}
        self.finish();
        PreprocOutput {
            lines: self.out,
            include_failed: self.include_failed,
        }
    }

    /// After the last statement: close a pending multi-line definition and
    /// sum up the diagnostics not shown.
    fn finish(&mut self) {
        if let Some(name) = self.ml_def.take() {
            self.finish_ml_def(&name);
        }
        if self.suppressed > 0 {
            self.diags.push(Diagnostic::note(
                None,
                None,
                format!(
                    "{} more preprocessing diagnostics not shown",
                    self.suppressed
                ),
            ));
        }
    }

    /// The next line to work on, from the residue, a generator, a replayed
    /// definition or the files, decommented; `None` at the end.
    fn next_source_line(&mut self) -> Option<Text> {
        if let Some(r) = self.residue.take() {
            return Some(r);
        }
        self.line_work = 0;
        if !self.seq_list.is_empty() && self.seq_list.len() > self.multiline_seq_depth {
            if let Some(s) = self.seq_list.last() {
                self.cur_chain = Rc::clone(&s.chain);
            }
            return self.next_seq_line();
        }
        if let Some(mut r) = self.next_ptr.take() {
            self.cur_chain = Rc::clone(&r.chain);
            self.replayed += 1;
            if self.replayed > self.max_replayed {
                if self.replayed == self.max_replayed + 1 {
                    self.error(
                        ErrClass::GeneralError,
                        Some(Span::new(r.file, r.origin.line, r.origin.col, r.origin.width)),
                        format!("more than {} lines replayed from multi-line definitions - stopping the expansion", self.max_replayed),
                    );
                }
                self.replay_stack.clear();
                self.multiline_seq_depth = 0;
                return Some(Text::from_ref(String::new(), r.file, r.origin));
            }
            let rest = &r.value[r.pos..];
            let line = match rest.find('\n') {
                None => {
                    let l = rest.to_string();
                    match self.replay_stack.pop() {
                        Some(prev) => {
                            self.multiline_seq_depth = prev.seq_depth;
                            self.next_ptr = Some(prev);
                        }
                        None => self.multiline_seq_depth = 0,
                    }
                    l
                }
                Some(n) => {
                    let l = rest[..n].to_string();
                    r.pos += n + 1;
                    let (file, origin) = (r.file, r.origin);
                    self.next_ptr = Some(r);
                    return Some(Text::from_ref(l, file, origin));
                }
            };
            return Some(Text::from_ref(line, r.file, r.origin));
        }
        // A line from a file has no definitions being expanded; sharing
        // one empty chain saves an allocation per line.
        self.cur_chain = Rc::clone(&self.empty_chain);
        loop {
            let mut t = self.next_physical()?;
            if t.is_empty() {
                // A blank line ends a multi-line definition.
                if let Some(name) = self.ml_def.take() {
                    self.finish_ml_def(&name);
                }
                continue;
            }
            self.decomment_reporting(&mut t);
            if !t.is_empty() {
                return Some(t);
            }
        }
    }

    /// `decomment()`; a removed `\#`/`\!` escape is decommented again, as
    /// keepalived's child processes do when they re-read the parent's
    /// flattened copy (reference Q3: the escape does not survive).
    fn decomment_reporting(&mut self, t: &mut Text) {
        if self.decomment_once(t).escapes_removed {
            decomment(t);
        }
    }

    /// `decomment()` once (after substitution keepalived's children also
    /// decomment only once), reporting an unterminated quote.
    fn decomment_once(&mut self, t: &mut Text) -> crate::lexer::Decommented {
        let d = decomment(t);
        if d.unterminated_quote {
            self.error(
                ErrClass::GeneralError,
                Some(t.line_span()),
                format!("Unterminated quote '{}'", t.view()),
            );
        }
        d
    }

    fn next_seq_line(&mut self) -> Option<Text> {
        self.generated += 1;
        if self.generated > self.max_generated {
            if !self.gen_capped {
                self.gen_capped = true;
                let span = self.seq_list.last().map(|s| s.text.line_span());
                self.error(
                    ErrClass::GeneralError,
                    span,
                    format!(
                        "~SEQ/~LST would generate more than {} lines - stopping the generators",
                        self.max_generated
                    ),
                );
            }
            self.seq_list.clear();
            return Some(Text::literal(String::new(), FileId(0), 0, 0));
        }
        let seq = self.seq_list.last_mut()?;
        let text = seq.text.clone();
        let mut sets: Vec<(String, String)> = Vec::new();
        let mut done = false;
        match &mut seq.lst {
            None => {
                let val = if seq.hex {
                    format!("{:x}", seq.next as u64)
                } else {
                    seq.next.to_string()
                };
                sets.push((seq.var.clone(), val));
                match seq.next.checked_add(seq.step) {
                    Some(n) => {
                        seq.next = n;
                        if (seq.step > 0 && n > seq.last) || (seq.step < 0 && n < seq.last) {
                            done = true;
                        }
                    }
                    None => done = true,
                }
            }
            Some((params, values, next)) => {
                if let Some(set) = values.get(*next) {
                    for (p, v) in params.iter().zip(set.iter()) {
                        sets.push((p.clone(), v.clone()));
                    }
                }
                *next += 1;
                if *next >= values.len() {
                    done = true;
                }
            }
        }
        if done {
            self.seq_list.pop();
        }
        for (k, v) in sets {
            self.set_definition(&k, &v);
        }
        Some(text)
    }

    /// keepalived's `set_definition()` (used by the generators): keeps the
    /// multi-line flag of an existing definition.
    fn set_definition(&mut self, name: &str, value: &str) {
        self.defs_gen += 1;
        match self.defs.get_mut(name) {
            Some(d) => {
                d.value = Rc::from(value);
                d.func = None;
            }
            None => {
                self.defs.insert(
                    name.to_string(),
                    Def {
                        value: Rc::from(value),
                        multiline: false,
                        func: None,
                        max_params: 0,
                    },
                );
            }
        }
    }

    /// Read until one logical line is produced (or the input ends).
    fn read_statement(&mut self) -> bool {
        if self.plain_line() {
            return true;
        }
        let mut buf = loop {
            let Some(mut buf) = self.next_source_line() else {
                return false;
            };
            if let Some(name) = self.ml_def.clone() {
                self.add_ml_def_line(&name, &buf);
                continue;
            }
            if buf.is_empty() {
                continue;
            }
            if !self.process_line(&mut buf) || buf.is_empty() {
                continue;
            }
            if self.check_include(&buf) {
                continue;
            }
            break buf;
        };
        let mut local = Diagnostics::new();
        let line = take_statement(&mut buf, &mut local);
        for d in local.items {
            self.push_diag(d);
        }
        if let Some(line) = line {
            self.track_blocks(&line);
            self.out.push(line);
            if self.flushed + self.out.len() >= self.max_output {
                let span = Some(buf.line_span());
                self.error(
                    ErrClass::GeneralError,
                    span,
                    format!(
                        "more than {} statements (runaway expansion?) - stopping",
                        self.max_output
                    ),
                );
                return false;
            }
        }
        if !buf.is_empty() {
            self.residue = Some(buf);
        }
        true
    }

    /// The common line, done in one pass: the next line of the current
    /// file, read while no residue, generator, replay or multi-line
    /// definition is pending, made only of printable ASCII, blanks and
    /// braces, with none of the bytes the pipeline acts on (`"`, `\\`,
    /// `#`, `!`, `$`, `@`, `~`). For such a line `decomment` only trims
    /// blanks, `@`/`$`/`~` processing and substitution do nothing, and the
    /// brace split and the word split have no quotes to honour, so its
    /// statements are the pieces between braces split at blanks, each
    /// column its byte offset + 1 (callgrind: the general path cost ~1,700
    /// instructions per statement, most of it moving `Text`s around).
    /// Returns false, having consumed nothing, for any other line; the
    /// general path then reads it.
    fn plain_line(&mut self) -> bool {
        if self.residue.is_some()
            || self.next_ptr.is_some()
            || self.ml_def.is_some()
            || self.seq_list.len() > self.multiline_seq_depth
        {
            return false;
        }
        let Some(f) = self.stack.last().and_then(|e| e.cur.as_ref()) else {
            return false;
        };
        if f.has_nul || f.pos >= f.text.len() {
            return false;
        }
        let text = Arc::clone(&f.text);
        let (id, start) = (f.id, f.pos);
        let bytes = &text.as_bytes()[start..];
        // One pass over the line: the words (runs of non-blanks), and the
        // statements (take_statement's split: a lone brace, or the words
        // between braces, trailing blanks trimmed) as (first byte, end,
        // end of its words in `words`).
        let mut words = std::mem::take(&mut self.plain_words);
        let mut pieces = std::mem::take(&mut self.plain_pieces);
        words.clear();
        pieces.clear();
        let mut piece_start: Option<usize> = None;
        let mut include = false;
        let mut i = 0;
        let mut plain = true;
        // The line ends at `\n`; `\r`s right before it (or before the end
        // of the file) are part of the line ending, as in `next_physical`.
        let (len, step) = loop {
            // Indentation is a good part of a configuration's bytes: skip
            // blanks, and then a whole word, in tight loops.
            while bytes.get(i).is_some_and(|&c| is_blank(c)) {
                i += 1;
            }
            let Some(&b) = bytes.get(i) else {
                break (i, i);
            };
            match PLAIN_CLASS[usize::from(b)] {
                PLAIN => {
                    let w = i;
                    i += 1;
                    while bytes
                        .get(i)
                        .is_some_and(|&c| PLAIN_CLASS[usize::from(c)] == PLAIN)
                    {
                        i += 1;
                    }
                    words.push((w, i));
                    if piece_start.is_none() {
                        piece_start = Some(w);
                        include |= bytes[w..].starts_with(b"include");
                    }
                    continue;
                }
                BRACE => {
                    if let Some(p) = piece_start.take() {
                        let end = words.last().map_or(i, |w| w.1);
                        pieces.push((p, end, words.len()));
                    }
                    words.push((i, i + 1));
                    pieces.push((i, i + 1, words.len()));
                }
                NEWLINE => break (i, i + 1),
                _ => {
                    let crs = bytes[i..].iter().take_while(|&&c| c == b'\r').count();
                    match bytes.get(i + crs) {
                        None if b == b'\r' => break (i, i + crs),
                        Some(b'\n') if b == b'\r' => break (i, i + crs + 1),
                        _ => {
                            plain = false;
                            break (i, i);
                        }
                    }
                }
            }
            i += 1;
        };
        if let Some(p) = piece_start.take() {
            let end = words.last().map_or(len, |w| w.1);
            pieces.push((p, end, words.len()));
        }
        // `include` at the start of a statement is check_include's, a long
        // line gets a warning, a runaway count an error: all for the
        // general path.
        if !plain
            || include
            || len > KEEPALIVED_LINE
            || self.flushed + self.out.len() + pieces.len() >= self.max_output
        {
            self.plain_words = words;
            self.plain_pieces = pieces;
            return false;
        }
        if let Some(f) = self.stack.last_mut().and_then(|e| e.cur.as_mut()) {
            f.pos += step;
            f.line_no = f.line_no.saturating_add(1);
            let line_no = f.line_no;
            self.line_work = 0;
            if !Rc::ptr_eq(&self.cur_chain, &self.empty_chain) {
                self.cur_chain = Rc::clone(&self.empty_chain);
            }
            let line = &text[start..start + len];
            let col = |x: usize| u32::try_from(x + 1).unwrap_or(u32::MAX);
            let width = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
            let mut w0 = 0;
            for &(a, b, w1) in &pieces {
                let ws = words.get(w0..w1).unwrap_or(&[]);
                w0 = w1;
                let mut v = self.word_pool.pop().unwrap_or_default();
                v.reserve_exact(ws.len());
                v.extend(ws.iter().map(|&(x, y)| Word {
                    text: CompactString::from(&line[x..y]),
                    span: Span::new(id, line_no, col(x), width(y - x)),
                }));
                let l = LogicalLine {
                    words: v,
                    raw: CompactString::from(&line[a..b]),
                    span: Span::new(id, line_no, col(a), width(b - a)),
                };
                self.track_blocks(&l);
                self.out.push(l);
            }
        }
        self.plain_words = words;
        self.plain_pieces = pieces;
        true
    }

    /// A continuation line of a multi-line definition (keepalived keeps
    /// lines that end in `\` and ends the definition at the first that
    /// does not).
    fn add_ml_def_line(&mut self, name: &str, buf: &Text) {
        let v = buf.view();
        let mut line = v;
        let cont = v.ends_with('\\');
        if cont {
            line = v[..v.len() - 1].trim_end_matches([' ', '\t']);
        }
        let Some(def) = self.defs.get_mut(name) else {
            self.ml_def = None;
            return;
        };
        let mut value = def.value.to_string();
        if cont {
            if !line.is_empty() {
                value.push_str(line);
                value.push('\n');
            }
        } else if !line.is_empty() {
            value.push_str(line);
        }
        if value.len() > MAX_EXPANSION {
            self.error(
                ErrClass::GeneralError,
                Some(buf.line_span()),
                format!("definition ${name} longer than {MAX_EXPANSION} bytes - truncated"),
            );
            self.ml_def = None;
            return;
        }
        def.value = Rc::from(value);
        self.defs_gen += 1;
        if !cont {
            self.ml_def = None;
            self.finish_ml_def(name);
        }
    }

    fn finish_ml_def(&mut self, name: &str) {
        if let Some(d) = self.defs.get_mut(name) {
            if d.value.is_empty() {
                d.multiline = false;
            }
        }
    }

    /// The `@`, `$NAME=`, `~SEQ`/`~LST` and substitution steps of
    /// `read_line()`, repeated while substitution leaves a line starting
    /// with `@` or containing `$`. False when the line was consumed.
    fn process_line(&mut self, buf: &mut Text) -> bool {
        let mut passes = 0;
        loop {
            if buf.view().starts_with('@') && !self.conditional(buf) {
                return false;
            }
            let v = buf.view();
            if v.starts_with('$') && self.check_definition(buf) {
                return false;
            }
            let v = buf.view();
            if v.starts_with("~SEQ") || v.starts_with("~LST") {
                let ok = if v.as_bytes()[1] == b'S' {
                    self.add_seq(buf)
                } else {
                    self.add_lst(buf)
                };
                if let Err(msg) = ok {
                    let kind = if v.as_bytes()[1] == b'S' {
                        "~SEQ"
                    } else {
                        "~LST"
                    };
                    let msg = if msg.is_empty() {
                        format!("Invalid {kind} specification '{v}'")
                    } else {
                        msg
                    };
                    self.error(ErrClass::GeneralError, Some(buf.line_span()), msg);
                }
                return false;
            }
            if v.starts_with('~') {
                return true;
            }
            // Memo: nothing to substitute from an earlier offset of this
            // text under the same definitions means nothing from here
            // either (keeps many braces on one line linear).
            if let Some((from, gen)) = buf.no_subst_from.get() {
                if from <= buf.start() && gen == self.defs_gen {
                    return true;
                }
            }
            if !v.bytes().any(|b| b == b'$') {
                buf.no_subst_from.set(Some((buf.start(), self.defs_gen)));
                return true;
            }
            if self.total_work > self.max_total_work {
                if self.total_work != usize::MAX {
                    self.total_work = usize::MAX;
                    let cap = self.max_total_work;
                    self.error(
                        ErrClass::GeneralError,
                        Some(buf.line_span()),
                        format!("substitution produced more than {cap} bytes in all - no more substitution from here on"),
                    );
                }
                return true;
            }
            if self.line_work > MAX_LINE_WORK {
                if self.line_work != usize::MAX {
                    self.line_work = usize::MAX;
                    self.error(
                        ErrClass::GeneralError,
                        Some(buf.line_span()),
                        format!("substitution on this line produced more than {MAX_LINE_WORK} bytes - not substituting any further"),
                    );
                }
                return true;
            }
            match self.replace_param(buf) {
                Subst::Unchanged => {
                    buf.no_subst_from.set(Some((buf.start(), self.defs_gen)));
                    return true;
                }
                Subst::Failed(t) => {
                    self.line_work = self.line_work.saturating_add(t.view().len());
                    self.total_work = self.total_work.saturating_add(t.view().len());
                    *buf = t;
                    return true;
                }
                Subst::Changed(t) => {
                    self.line_work = self.line_work.saturating_add(t.view().len());
                    self.total_work = self.total_work.saturating_add(t.view().len());
                    *buf = t;
                }
            }
            self.decomment_once(buf);
            let v = buf.view();
            if !(v.starts_with('@') || v.contains('$')) {
                return true;
            }
            passes += 1;
            if passes >= MAX_SUBST_PASSES {
                self.error(
                    ErrClass::GeneralError,
                    Some(buf.line_span()),
                    format!("substitution did not settle after {MAX_SUBST_PASSES} passes (self-referencing definition?) - line used as it is"),
                );
                return true;
            }
        }
    }

    /// `@ID text` / `@^ID text`: keep `text` only when ID is (is not) the
    /// config id. False when the line is dropped.
    fn conditional(&mut self, buf: &mut Text) -> bool {
        let v = buf.view().as_bytes();
        let (rev, ofs) = if v.get(1) == Some(&b'^') {
            (true, 2)
        } else {
            (false, 1)
        };
        let Some(blank) = v[ofs..].iter().position(|&b| is_blank(b)) else {
            return false;
        };
        let id = &v[ofs..ofs + blank];
        let matches = self
            .config_id
            .as_deref()
            .is_some_and(|c| c.as_bytes() == id);
        if matches == rev {
            return false;
        }
        let after = v[ofs + blank..]
            .iter()
            .take_while(|&&b| is_blank(b))
            .count();
        buf.advance(ofs + blank + after);
        true
    }

    /// `$NAME=VALUE` (keepalived's `check_definition`): no blank between
    /// the name and `=`; a value ending in `\` starts a multi-line
    /// definition.
    fn check_definition(&mut self, buf: &Text) -> bool {
        let Some((name, value)) = parse_definition(buf.view()) else {
            return false;
        };
        let (value, multiline) = match value.strip_suffix('\\') {
            Some(v) => {
                let v = v.trim_end_matches([' ', '\t']);
                if v.is_empty() {
                    (String::new(), true)
                } else {
                    (format!("{v}\n"), true)
                }
            }
            None => (value.to_string(), false),
        };
        self.defs_gen += 1;
        self.defs.insert(
            name.to_string(),
            Def {
                value: Rc::from(value),
                multiline,
                func: None,
                max_params: self.defs.get(name).map(|d| d.max_params).unwrap_or(0),
            },
        );
        if multiline {
            self.ml_def = Some(name.to_string());
        }
        true
    }

    /// Refuse a generator nested in [`MAX_SEQ_NESTING`] others.
    fn check_seq_nesting(&self, v: &str) -> Result<(), String> {
        if self.seq_list.len() >= MAX_SEQ_NESTING {
            return Err(format!(
                "generators nested more than {MAX_SEQ_NESTING} deep (a definition that generates itself?) '{v}'"
            ));
        }
        Ok(())
    }

    /// keepalived's `add_seq()`: `~SEQ[x](var, [start,] [step,] end) text`.
    fn add_seq(&mut self, buf: &Text) -> Result<(), String> {
        let v = buf.view();
        self.check_seq_nesting(v)?;
        let b = v.as_bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let mut p = 4;
        let hex = at(p) == b'x';
        if hex {
            p += 1;
        }
        while is_blank(at(p)) {
            p += 1;
        }
        if at(p) != b'(' {
            return Err(String::new());
        }
        p += 1;
        while is_blank(at(p)) {
            p += 1;
        }
        let var_start = p;
        while !matches!(at(p), 0 | b' ' | b'\t' | b',' | b')') {
            p += 1;
        }
        let var = &v[var_start..p];
        while is_blank(at(p)) {
            p += 1;
        }
        if at(p) == 0 || at(p) == b')' || p == var_start {
            return Err(format!("Invalid ~SEQ definition '{v}'"));
        }
        // The separator: keepalived skips any character here.
        p += v[p..].chars().next().map_or(1, char::len_utf8);
        while is_blank(at(p)) {
            p += 1;
        }
        let Some(close) = v[p..].find(')').map(|c| c + p) else {
            return Err(format!("Invalid ~SEQ definition '{v}'"));
        };
        if close + 1 - p + 1 > 64 {
            return Err(format!("~SEQ parameter strings too long '{v}'"));
        }
        // The parameters may use definitions.
        let params_text = {
            let t = buf.tail_copy(p);
            let mut t = t;
            t.truncate_view(close + 1 - p);
            let saved_next = self.next_ptr.clone();
            let res = self.replace_param(&t);
            let out = match res {
                Subst::Changed(n) | Subst::Failed(n) => n.view().to_string(),
                Subst::Unchanged => t.view().to_string(),
            };
            let multiline = !same_replay(&saved_next, &self.next_ptr);
            if multiline {
                self.next_ptr = saved_next;
                return Err(format!("~SEQ parameter is multiline definition '{v}'"));
            }
            // keepalived's 64-byte buffer.
            if out.len() > 63 {
                return Err(format!("~SEQ parameter strings too long '{v}'"));
            }
            out
        };
        let (start, step, end) = parse_seq_numbers(&params_text)
            .ok_or_else(|| format!("Invalid ~SEQ definition '{v}'"))?;
        if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
            return Err(format!("Invalid ~SEQ values '{v}'"));
        }
        if hex && (start < 0 || end < 0) {
            return Err(format!("~SEQx is only valid for positive numbers '{v}'"));
        }
        let mut q = close + 1;
        while is_blank(at(q)) {
            q += 1;
        }
        let text = buf.tail_copy(q);
        self.seq_list.push(Seq {
            var: var.to_string(),
            next: start,
            step,
            last: end,
            hex,
            text,
            lst: None,
            chain: Rc::clone(&self.cur_chain),
        });
        Ok(())
    }

    /// keepalived's `add_lst()`: `~LST(var, v1, v2, ...)` or
    /// `~LST({a,b}, {1,2}, {3,4})`.
    fn add_lst(&mut self, buf: &Text) -> Result<(), String> {
        let v = buf.view();
        self.check_seq_nesting(v)?;
        let b = v.as_bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(0);
        let skip_blanks = |mut p: usize| {
            while is_blank(at(p)) {
                p += 1;
            }
            p
        };
        let until = |mut p: usize, stops: &[u8]| {
            while at(p) != 0 && !stops.contains(&at(p)) {
                p += 1;
            }
            p
        };
        let mut p = skip_blanks(4);
        if at(p) != b'(' {
            return Err(String::new());
        }
        p = skip_blanks(p + 1);
        let mut end_char = b',';
        if at(p) == b'{' {
            end_char = b'}';
            p = skip_blanks(p + 1);
        }
        let mut params: Vec<String> = Vec::new();
        let mut num_vars = 0usize;
        loop {
            let s = p;
            p = until(p, b" \t,}");
            params.push(v[s..p].to_string());
            p = skip_blanks(p);
            if at(p) == end_char {
                break;
            }
            if at(p) != b',' {
                return Err(String::new());
            }
            p = skip_blanks(p + 1);
            num_vars += 1;
        }
        if at(p) == b'}' {
            p = skip_blanks(p + 1);
        }
        if at(p) != b',' {
            return Err(String::new());
        }
        p = skip_blanks(p + 1);
        let mut sets: Vec<Vec<String>> = Vec::new();
        loop {
            let mut end_char = b',';
            if at(p) == b'{' {
                end_char = b'}';
                p = skip_blanks(p + 1);
            }
            let mut values = Vec::new();
            let mut num_values = 0usize;
            loop {
                let s = p;
                p = until(p, b" \t,})");
                values.push(v[s..p].to_string());
                p = skip_blanks(p);
                if at(p) == end_char || (at(p) == b')' && end_char == b',') {
                    break;
                }
                if at(p) != b',' {
                    return Err(String::new());
                }
                p = skip_blanks(p + 1);
                num_values += 1;
                if num_values > num_vars {
                    return Err(format!("~LST specification has too many values '{v}'"));
                }
            }
            while values.len() < params.len() {
                values.push(String::new());
            }
            sets.push(values);
            if at(p) == b'}' && end_char == b'}' {
                p = skip_blanks(p + 1);
            }
            if at(p) == b')' {
                break;
            }
            if at(p) != b',' {
                return Err(String::new());
            }
            p = skip_blanks(p + 1);
            if sets.len() as u64 > self.max_generated {
                return Err(format!(
                    "~LST has more than {} value sets",
                    self.max_generated
                ));
            }
        }
        let q = skip_blanks(p + 1);
        let text = buf.tail_copy(q.min(v.len()));
        self.seq_list.push(Seq {
            var: String::new(),
            next: 0,
            step: 0,
            last: 0,
            hex: false,
            text,
            lst: Some((params, sets, 0)),
            chain: Rc::clone(&self.cur_chain),
        });
        Ok(())
    }

    /// The value a definition stands for now (predefined ones are computed
    /// at each use, as keepalived's `def->fn`).
    fn def_value(&mut self, name: &str, params: Option<&str>) -> Option<Rc<str>> {
        let d = self.defs.get(name)?;
        match d.func {
            None => Some(Rc::clone(&d.value)),
            Some(StdDef::Instance) => Some(Rc::from(self.config_id.clone().unwrap_or_default())),
            Some(StdDef::Pwd) => Some(Rc::from(self.current_pwd())),
            Some(StdDef::Random) => Some(Rc::from(self.random(params))),
        }
    }

    /// `${_PWD}`: keepalived changes into the directory of each file it
    /// reads, and `_PWD` is `getcwd()`.
    fn current_pwd(&mut self) -> String {
        let f = self.stack.iter_mut().rev().find_map(|e| e.cur.as_mut());
        match f {
            Some(f) => {
                if f.pwd.is_none() {
                    let p = std::fs::canonicalize(&f.dir)
                        .unwrap_or_else(|_| f.dir.clone())
                        .display()
                        .to_string();
                    f.pwd = Some(p);
                }
                f.pwd.clone().unwrap_or_default()
            }
            None => std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        }
    }

    /// `${_RANDOM [MIN [MAX]]}` (keepalived's `get_random`): default
    /// 0..=32767; printed with at most as many digits as MAX has.
    fn random(&mut self, params: Option<&str>) -> String {
        let (mut min, mut max) = (0u64, 32767u64);
        if let Some(p) = params {
            let mut it = p.split(' ').filter(|s| !s.is_empty());
            if let Some(a) = it.next() {
                min = a.parse().unwrap_or(u64::MAX);
            }
            if let Some(b) = it.next() {
                max = b.parse().unwrap_or(u64::MAX);
            }
        }
        let r: u64 = self.rng.random_range(0..=i32::MAX as u64);
        let val = match max.checked_sub(min).and_then(|d| d.checked_add(1)) {
            Some(range) => r % range + min,
            None => r.wrapping_add(min),
        };
        let digits = max.to_string().len();
        let mut s = val.to_string();
        s.truncate(digits);
        s
    }

    /// keepalived's `replace_param()`: replace each `$NAME` (followed by
    /// blank, `,`, `)` or the end) and `${NAME}` with its value, rescanning
    /// the inserted text; a multi-line definition (only when its reference
    /// ends the line) contributes its first line here and queues the rest.
    fn replace_param(&mut self, buf: &Text) -> Subst {
        let start = buf.start();
        let total_len = buf.view().len();
        let Some(first) = buf.view().find('$') else {
            return Subst::Unchanged;
        };
        let mut out = TextBuilder::new(buf.file, total_len + 16);
        out.push_from(buf, start, start + first);
        let mut frames: Vec<Frame> = vec![Frame::Src {
            pos: start + first,
            end: buf.view().len() + start,
        }];
        let mut found = false;
        let mut mp = self.next_ptr.clone();
        let mut len_used = total_len;
        let mut work = 0usize;
        let mut failed: Option<String> = None;
        'scan: while let Some(top) = frames.last_mut() {
            // Copy up to the next '$' of the top frame.
            match top {
                Frame::Src { pos, end } => {
                    let seg = &buf.view()[*pos - start..*end - start];
                    match seg.find('$') {
                        Some(k) => {
                            out.push_from(buf, *pos, *pos + k);
                            *pos += k;
                        }
                        None => {
                            out.push_from(buf, *pos, *end);
                            frames.pop();
                            continue;
                        }
                    }
                }
                Frame::Val { s, pos, origin, .. } => match s[*pos..].find('$') {
                    Some(k) => {
                        out.push_str(&s[*pos..*pos + k], *origin);
                        *pos += k;
                    }
                    None => {
                        out.push_str(&s[*pos..], *origin);
                        frames.pop();
                        continue;
                    }
                },
            }
            // At a '$'.
            let peek = |k: usize| peek_frames(&frames, buf, start, k);
            if peek(1) == 0 {
                break 'scan;
            }
            let Some(r) = find_reference(&peek) else {
                let (s, o) = take_frames(&mut frames, buf, 1);
                push_taken(&mut out, buf, &s, o);
                continue;
            };
            let Some(def) = self.defs.get(&r.name) else {
                let (s, o) = take_frames(&mut frames, buf, 1);
                push_taken(&mut out, buf, &s, o);
                continue;
            };
            if (def.multiline && !r.allow_multiline) || (r.params.is_some() && def.max_params == 0)
            {
                let (s, o) = take_frames(&mut frames, buf, 1);
                push_taken(&mut out, buf, &s, o);
                continue;
            }
            let multiline = def.multiline;
            if multiline && self.cur_chain.contains(&r.name) {
                failed = Some(format!(
                    "multi-line definition ${} replays itself - not expanded",
                    r.name
                ));
                break 'scan;
            }
            let Some(value) = self.def_value(&r.name, r.params.as_deref()) else {
                let (s, o) = take_frames(&mut frames, buf, 1);
                push_taken(&mut out, buf, &s, o);
                continue;
            };
            let replaced = if r.params.is_some() {
                r.params_end + 2
            } else {
                r.name.len() + 1 + if r.braces { 2 } else { 0 }
            };
            let depth = match frames.last() {
                Some(Frame::Val { depth, .. }) => *depth,
                _ => 0,
            };
            let replacing: Rc<str> = if multiline {
                let first_len = value.find('\n').unwrap_or(value.len());
                Rc::from(&value[..first_len])
            } else {
                Rc::clone(&value)
            };
            if len_used + replacing.len() - replaced.min(len_used + replacing.len())
                >= MAX_EXPANSION
            {
                failed = Some(format!(
                    "Parameter substitution would make the line longer than {MAX_EXPANSION} bytes"
                ));
                break 'scan;
            }
            if depth + 1 > MAX_SUBST_DEPTH {
                failed = Some(format!(
                    "definition ${} nests more than {MAX_SUBST_DEPTH} deep (self-referencing?)",
                    r.name
                ));
                break 'scan;
            }
            work += replacing.len() + replaced;
            if work > 16 * MAX_EXPANSION {
                failed = Some(format!(
                    "substitution of ${} is too costly (exponential definitions?)",
                    r.name
                ));
                break 'scan;
            }
            // The reference's place, for the spans of what replaces it.
            let (_, ref_origin) = take_frames(&mut frames, buf, replaced);
            let ref_origin = Origin {
                width: ref_origin.width.max(1),
                ..ref_origin
            };
            found = true;
            len_used = len_used + replacing.len() - replaced;
            if multiline {
                if let Some(mut old) = mp.take() {
                    // keepalived's multiline_stack_push() saves the
                    // generator depth with the interrupted replay.
                    old.seq_depth = self.multiline_seq_depth;
                    self.replay_stack.push(old);
                }
                self.multiline_seq_depth = self.seq_list.len();
                let first_len = replacing.len();
                let mut chain = (*self.cur_chain).clone();
                chain.push(r.name.clone());
                mp = Some(Replay {
                    value: Rc::clone(&value),
                    pos: (first_len + 1).min(value.len()),
                    file: buf.file,
                    origin: ref_origin,
                    chain: Rc::new(chain),
                    seq_depth: 0,
                });
                if first_len >= value.len() {
                    // A value without a line end (cannot happen for a
                    // stored multi-line value, but stay safe): nothing to
                    // replay.
                    if let Some(Replay { value: v, pos, .. }) = &mut mp {
                        *pos = v.len();
                    }
                }
            }
            let stop = value.trim_start_matches([' ', '\t']).starts_with('~');
            frames.push(Frame::Val {
                s: replacing,
                pos: 0,
                origin: ref_origin,
                depth: depth + 1,
            });
            if stop {
                // keepalived stops substituting when a value starts with
                // `~` (it may be a generator line).
                break 'scan;
            }
        }
        // Whatever was not scanned stays as it is.
        while let Some(f) = frames.pop() {
            match f {
                Frame::Src { pos, end } => out.push_from(buf, pos, end),
                Frame::Val { s, pos, origin, .. } => out.push_str(&s[pos..], origin),
            }
        }
        if let Some(msg) = failed {
            self.error(ErrClass::GeneralError, Some(buf.line_span()), msg);
            return Subst::Failed(out.finish());
        }
        if !found {
            return Subst::Unchanged;
        }
        self.next_ptr = mp;
        Subst::Changed(out.finish())
    }

    /// Follow `{`/`}` to know which block we are in, and act on the
    /// `global_defs` keywords that change preprocessing.
    fn track_blocks(&mut self, line: &LogicalLine) {
        if line.is_open() {
            self.blocks.push(self.last_statement.take());
            return;
        }
        if line.is_close() {
            self.blocks.pop();
            return;
        }
        self.last_statement = Some(line.keyword() == "global_defs");
        let in_global = self.blocks.len() == 1 && self.blocks[0] == Some(true);
        if !in_global {
            return;
        }
        match line.keyword() {
            "include_check" => self.include_check_set(line),
            "random_seed" => {
                if let Some(seed) = line.words.get(1).and_then(|w| w.text.parse::<u64>().ok()) {
                    self.rng = StdRng::seed_from_u64(seed);
                }
            }
            _ => {}
        }
    }

    /// keepalived's `include_check_set()`: `include_check` alone = all
    /// checks; `read|match|wildcard_match|brace_match` sets, `+x` adds,
    /// `-x` removes.
    fn include_check_set(&mut self, line: &LogicalLine) {
        if line.words.len() <= 1 {
            self.include_check = INCLUDE_ALL;
            return;
        }
        for (i, w) in line.words.iter().enumerate().skip(1) {
            let word = w.text.as_str();
            let (mode, name) = if let Some(n) = word.strip_prefix('-') {
                (-1, n)
            } else if let Some(n) = word.strip_prefix('+') {
                (1, n)
            } else {
                if i == 1 {
                    self.include_check = 0;
                } else {
                    self.error(
                        ErrClass::GeneralError,
                        Some(w.span),
                        format!("Duplicate include_check '{word}' specified - ignoring"),
                    );
                    continue;
                }
                (0, word)
            };
            let flag = match name {
                "read" => INCLUDE_R,
                "match" => INCLUDE_M,
                "wildcard_match" => INCLUDE_W,
                "brace_match" => INCLUDE_B,
                _ => {
                    self.error(
                        ErrClass::GeneralError,
                        Some(w.span),
                        format!("Unknown include_check type '{name}' - ignoring"),
                    );
                    0
                }
            };
            if flag != 0 {
                match mode {
                    0 => self.include_check = INCLUDE_R | flag,
                    1 => self.include_check |= flag,
                    _ => self.include_check &= !flag,
                }
            }
        }
    }
}

/// [`PLAIN_CLASS`]: a byte `Preproc::plain_line` copies into a word.
const PLAIN: u8 = 0;
/// [`PLAIN_CLASS`]: `{` or `}`, a statement of its own.
const BRACE: u8 = 1;
/// [`PLAIN_CLASS`]: a byte the general path acts on (quote, escape,
/// comment, `$`, `@`, `~`), a control byte other than tab, or non-ASCII.
const SPECIAL: u8 = 2;
/// [`PLAIN_CLASS`]: space or tab, between words.
const BLANK: u8 = 3;
/// [`PLAIN_CLASS`]: the end of the line.
const NEWLINE: u8 = 4;

/// What each byte is to `Preproc::plain_line`.
static PLAIN_CLASS: [u8; 256] = {
    let mut t = [SPECIAL; 256];
    let mut b = 0x21;
    while b < 0x7f {
        t[b] = PLAIN;
        b += 1;
    }
    t[b' ' as usize] = BLANK;
    t[b'\t' as usize] = BLANK;
    t[b'\n' as usize] = NEWLINE;
    t[b'{' as usize] = BRACE;
    t[b'}' as usize] = BRACE;
    let mut k = 0;
    let special = *b"\"\\#!$@~";
    while k < special.len() {
        t[special[k] as usize] = SPECIAL;
        k += 1;
    }
    t
};

fn same_replay(a: &Option<Replay>, b: &Option<Replay>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => Rc::ptr_eq(&x.value, &y.value) && x.pos == y.pos,
        _ => false,
    }
}

/// Outcome of one substitution pass.
enum Subst {
    Unchanged,
    Changed(Text),
    /// Stopped at a cap; the partly substituted line.
    Failed(Text),
}

/// Input still to scan during substitution: part of the line, or an
/// inserted value (rescanned, as keepalived substitutes in place).
enum Frame {
    Src {
        pos: usize,
        end: usize,
    },
    Val {
        s: Rc<str>,
        pos: usize,
        origin: Origin,
        depth: usize,
    },
}

/// Byte `k` ahead across the frames (0 past the end, like a C string).
fn peek_frames(frames: &[Frame], buf: &Text, start: usize, mut k: usize) -> u8 {
    for f in frames.iter().rev() {
        let bytes = match f {
            Frame::Src { pos, end } => &buf.view().as_bytes()[*pos - start..*end - start],
            Frame::Val { s, pos, .. } => &s.as_bytes()[*pos..],
        };
        if k < bytes.len() {
            return bytes[k];
        }
        k -= bytes.len();
    }
    0
}

/// Remove `n` bytes from the front of the frames; returns what they were
/// (as source ranges or text) and the origin of the first.
fn take_frames(frames: &mut Vec<Frame>, buf: &Text, mut n: usize) -> (Vec<Taken>, Origin) {
    let mut taken = Vec::new();
    let mut origin = None;
    let mut first_src_end: Option<(usize, usize)> = None;
    while n > 0 {
        let Some(f) = frames.last_mut() else {
            break;
        };
        match f {
            Frame::Src { pos, end } => {
                let k = n.min(*end - *pos);
                if origin.is_none() {
                    origin = buf.origin_at(*pos);
                    first_src_end = Some((*pos, *pos + k));
                }
                taken.push(Taken::Src(*pos, *pos + k));
                *pos += k;
                n -= k;
                if *pos >= *end {
                    frames.pop();
                }
            }
            Frame::Val {
                s, pos, origin: o, ..
            } => {
                let k = n.min(s.len() - *pos);
                if origin.is_none() {
                    origin = Some(*o);
                }
                taken.push(Taken::Val(s[*pos..*pos + k].to_string(), *o));
                *pos += k;
                n -= k;
                if *pos >= s.len() {
                    frames.pop();
                }
            }
        }
    }
    let mut o = origin.unwrap_or(Origin {
        line: 0,
        col: 0,
        width: 0,
    });
    // A reference written in the file: point at all of it.
    if let Some((a, b)) = first_src_end {
        if b > a && taken.len() == 1 {
            o.width = buf.span(a, b).len;
        }
    }
    (taken, o)
}

enum Taken {
    Src(usize, usize),
    Val(String, Origin),
}

fn push_taken(out: &mut TextBuilder, buf: &Text, taken: &[Taken], _o: Origin) {
    for t in taken {
        match t {
            Taken::Src(a, b) => out.push_from(buf, *a, *b),
            Taken::Val(s, o) => out.push_str(s, *o),
        }
    }
}

/// A `$NAME` / `${NAME}` / `${NAME params}` reference as keepalived's
/// `find_definition` reads it (offsets from the `$`).
struct Reference {
    name: String,
    braces: bool,
    params: Option<String>,
    /// Offset of the last parameter character.
    params_end: usize,
    allow_multiline: bool,
}

fn find_reference(peek: &dyn Fn(usize) -> u8) -> Option<Reference> {
    let braces = peek(1) == b'{';
    let ns = if braces { 2 } else { 1 };
    let c = peek(ns);
    if !(c.is_ascii_alphabetic() || c == b'_') {
        return None;
    }
    let mut len = 1;
    while {
        let c = peek(ns + len);
        c.is_ascii_alphanumeric() || c == b'_'
    } {
        len += 1;
        if len > 4096 {
            return None;
        }
    }
    let mut p = ns + len;
    let mut params: Option<(usize, usize)> = None;
    if braces {
        while peek(p) == b' ' || peek(p).is_ascii_digit() {
            if peek(p) != b' ' {
                let s = params.map(|x| x.0).unwrap_or(p);
                params = Some((s, p));
            }
            p += 1;
            if p > MAX_EXPANSION {
                return None;
            }
        }
        if let Some((_, e)) = params {
            if e + 1 != p {
                return None;
            }
        }
        if peek(p) != b'}' {
            return None;
        }
    } else if !matches!(peek(p), b' ' | b'\t' | b',' | b')' | 0) {
        return None;
    }
    let name: String = (ns..ns + len).map(|i| peek(i) as char).collect();
    let allow_multiline = if braces {
        peek(ns + len + 1) == 0
    } else {
        peek(ns + len) == 0
    };
    let (params, params_end) = match params {
        Some((s, e)) => (Some((s..=e).map(|i| peek(i) as char).collect()), e),
        None => (None, 0),
    };
    Some(Reference {
        name,
        braces,
        params,
        params_end,
        allow_multiline,
    })
}

/// `$NAME=value`: the name (`[A-Za-z_][A-Za-z0-9_]*`, directly followed
/// by `=`) and the value without leading blanks.
fn parse_definition(s: &str) -> Option<(&str, &str)> {
    use nom::bytes::complete::{tag, take_while, take_while1};
    use nom::character::complete::space0;
    use nom::sequence::preceded;
    use nom::{IResult, Parser};
    fn name(i: &str) -> IResult<&str, &str> {
        nom::combinator::recognize((
            take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
            take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
        ))
        .parse(i)
    }
    let (rest, (n, _, _)) = (preceded(tag("$"), name), tag("="), space0).parse(s).ok()?;
    // `take_while1` of the first class may swallow more than one letter;
    // `recognize` keeps the whole name either way.
    Some((n, rest))
}

/// `~SEQ` numbers: `end`, `start, end` or `start, step, end`, each read
/// like `strtol(..., 0)` (decimal, `0x` hex, leading-0 octal; no digits
/// reads as 0). Returns (start, step, end).
fn parse_seq_numbers(s: &str) -> Option<(i64, i64, i64)> {
    let b = s.as_bytes();
    let mut p = 0;
    let mut nums = Vec::new();
    loop {
        let (n, q) = strtol(b, p);
        nums.push(n);
        p = q;
        while p < b.len() && is_blank(b[p]) {
            p += 1;
        }
        match b.get(p) {
            Some(b')') => break,
            Some(b',') if nums.len() < 3 => p += 1,
            _ => return None,
        }
    }
    Some(match nums[..] {
        [end] => {
            let step = if end < 1 { -1 } else { 1 };
            let start = if end < 0 { -1 } else { 1 };
            (start, step, end)
        }
        [start, end] => (start, if start <= end { 1 } else { -1 }, end),
        [start, step, end] => (start, step, end),
        _ => return None,
    })
}

/// C `strtol(s + p, &end, 0)`: returns the value (clamped) and where the
/// number ended (`p` itself when there is no number).
fn strtol(b: &[u8], p: usize) -> (i64, usize) {
    let mut i = p;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    let (radix, digits_at) = if i + 1 < b.len()
        && b[i] == b'0'
        && (b[i + 1] | 0x20) == b'x'
        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        (16, i + 2)
    } else if i < b.len() && b[i] == b'0' {
        (8, i)
    } else {
        (10, i)
    };
    let mut j = digits_at;
    let mut v: i128 = 0;
    while j < b.len() && (b[j] as char).is_digit(radix) {
        v = (v * radix as i128 + (b[j] as char).to_digit(radix).unwrap_or(0) as i128)
            .min(i64::MAX as i128 + 1);
        j += 1;
    }
    if j == digits_at {
        return (0, p);
    }
    let v = if neg { -v } else { v };
    (v.clamp(i64::MIN as i128, i64::MAX as i128) as i64, j)
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

fn has_wildcard(s: &str) -> bool {
    s.bytes().any(|b| matches!(b, b'*' | b'?' | b'['))
}

/// keepalived's `have_brace()`: a `{` not escaped by `\`.
fn have_brace(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'{' {
            return true;
        }
        i += 1;
    }
    false
}

/// The result of expanding an include pattern.
struct Expanded {
    paths: Vec<PathBuf>,
    /// Some literal alternative or directory did not exist (glibc's
    /// `gl_lstat`/`gl_opendir` failures that keepalived counts).
    missing: bool,
    /// A wildcard was used.
    wildcards: bool,
}

/// glob(3) with GLOB_BRACE: csh brace lists first (`{a,b}`, nested), then
/// each alternative globbed and sorted on its own, in order.
fn expand_pattern(pattern: &str) -> Expanded {
    let mut alts = Vec::new();
    brace_expand(pattern, &mut alts, 0);
    let mut res = Expanded {
        paths: Vec::new(),
        missing: false,
        wildcards: false,
    };
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    for alt in alts {
        if has_wildcard(&alt) {
            res.wildcards = true;
            // The directory before the first wildcard must exist
            // (glibc counts a failed opendir as missing).
            let wild = alt.find(['*', '?', '[']).unwrap_or(0);
            let dir_end = alt[..wild].rfind('/').map(|i| i.max(1)).unwrap_or(0);
            let dir = if dir_end == 0 { "." } else { &alt[..dir_end] };
            if !Path::new(dir).is_dir() {
                res.missing = true;
                continue;
            }
            match glob::glob_with(&alt, opts) {
                Ok(paths) => {
                    let mut v: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    v.sort();
                    res.paths.extend(v);
                }
                Err(_) => {
                    // An invalid pattern: glibc treats it literally.
                    if std::fs::symlink_metadata(&alt).is_ok() {
                        res.paths.push(PathBuf::from(&alt));
                    } else {
                        res.missing = true;
                    }
                }
            }
        } else {
            let lit = unescape(&alt);
            if std::fs::symlink_metadata(&lit).is_ok() {
                res.paths.push(PathBuf::from(lit));
            } else {
                res.missing = true;
            }
        }
    }
    res
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// csh-style brace expansion as glibc's GLOB_BRACE does it: the first
/// `{...}` with its top-level commas is expanded, then the results again.
/// An unmatched `{` is literal.
fn brace_expand(s: &str, out: &mut Vec<String>, depth: usize) {
    if depth > 16 || out.len() > 4096 {
        out.push(s.to_string());
        return;
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut open = None;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 2;
                continue;
            }
            b'{' => {
                open = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let Some(open) = open else {
        out.push(s.to_string());
        return;
    };
    // Find the matching close and the top-level commas.
    let mut level = 0;
    let mut commas = Vec::new();
    let mut close = None;
    let mut j = open + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => {
                j += 2;
                continue;
            }
            b'{' => level += 1,
            b'}' => {
                if level == 0 {
                    close = Some(j);
                    break;
                }
                level -= 1;
            }
            b',' if level == 0 => commas.push(j),
            _ => {}
        }
        j += 1;
    }
    let Some(close) = close else {
        out.push(s.to_string());
        return;
    };
    let prefix = &s[..open];
    let suffix = &s[close + 1..];
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    for w in bounds.windows(2) {
        let alt = &s[w[0] + 1..w[1]];
        brace_expand(&format!("{prefix}{alt}{suffix}"), out, depth + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, opts: &PreprocOptions) -> (Vec<Vec<String>>, Diagnostics) {
        let mut s = SourceMap::new();
        let mut d = Diagnostics::new();
        let o = read_config_from_str(text, Path::new("/nonexistent/t.conf"), opts, &mut s, &mut d);
        let lines = o
            .lines
            .into_iter()
            .map(|l| l.words.into_iter().map(|w| w.text.to_string()).collect())
            .collect();
        (lines, d)
    }

    fn lines(text: &str) -> Vec<String> {
        let opts = PreprocOptions {
            config_id: Some("lb1".into()),
            random_seed: Some(1),
            ..Default::default()
        };
        run(text, &opts)
            .0
            .into_iter()
            .map(|w| w.join(" "))
            .collect()
    }

    #[test]
    fn conditionals() {
        assert_eq!(
            lines("@lb1 a 1\n@lb2 b 2\n@^lb1 c 3\n@^lb2 d 4\n@lb1\n"),
            vec!["a 1", "d 4"]
        );
    }

    #[test]
    fn definitions_and_substitution() {
        assert_eq!(
            lines("$A=1\n$B=x$A\nv $A ${A} $B 10.0.0.$A/32 ${A}b $A, ($A)\n"),
            vec!["v 1 1 x1 10.0.0.$A/32 1b 1, (1)"]
        );
        // Blank before '=' is not a definition; undefined names stay.
        assert_eq!(lines("$X = 5\n$Y\n"), vec!["$X = 5", "$Y"]);
        // Lazy: a value may use names defined later.
        assert_eq!(lines("$A=$B\n$B=2\nv $A\n"), vec!["v 2"]);
    }

    #[test]
    fn multiline_definition() {
        let text =
            "$INST= \\\nvrrp_instance VI_${N} { \\\n  virtual_router_id ${N} \\\n}\n$N=51\n$INST\n";
        assert_eq!(
            lines(text),
            vec!["vrrp_instance VI_51", "{", "virtual_router_id 51", "}"]
        );
    }

    #[test]
    fn predefined() {
        let l = lines("a ${_HASH} \"${_HASH}\" ${_BANG}x ${_INSTANCE}\n");
        // Outside quotes the substituted # starts a comment (reference Q3).
        assert_eq!(l, vec!["a"]);
        assert_eq!(lines("a \"${_HASH}\" ${_INSTANCE}\n"), vec!["a # lb1"]);
        let r = lines("r ${_RANDOM 5 9}\n");
        let n: u32 = r[0][2..].parse().unwrap_or(0);
        assert!((5..=9).contains(&n));
    }

    #[test]
    fn seq_and_lst() {
        assert_eq!(lines("~SEQ(i, 1, 3) a $i\n"), vec!["a 1", "a 2", "a 3"]);
        assert_eq!(lines("~SEQ(i, 3) a $i\n"), vec!["a 1", "a 2", "a 3"]);
        assert_eq!(lines("~SEQ(i, 5, -2, 1) a $i\n"), vec!["a 5", "a 3", "a 1"]);
        assert_eq!(lines("~SEQx(i, 9, 11) a $i\n"), vec!["a 9", "a a", "a b"]);
        assert_eq!(
            lines("~SEQ(a, 1, 2) ~SEQ(b, 1, 2) x $a $b\n"),
            vec!["x 1 1", "x 1 2", "x 2 1", "x 2 2"]
        );
        assert_eq!(lines("~LST(v, a, b) x $v\n"), vec!["x a", "x b"]);
        assert_eq!(
            lines("~LST({a,b}, {1,2}, {3,4}) x $a $b\nafter $a\n"),
            vec!["x 1 2", "x 3 4", "after 3"]
        );
    }

    #[test]
    fn bad_seq_reported() {
        let (l, d) = run(
            "~SEQ(i, 1, -1, 3) a\n~SEQ(i)\n~LST(x)\n",
            &PreprocOptions::default(),
        );
        assert!(l.is_empty());
        assert_eq!(d.len(), 3);
        assert!(d
            .items
            .iter()
            .all(|x| x.class == Some(ErrClass::GeneralError)));
    }

    #[test]
    fn self_reference_is_bounded() {
        let (_, d) = run("$A=$A\nx $A\n$B=$B $B\ny $B\n", &PreprocOptions::default());
        assert!(d.has_errors());
    }

    #[test]
    fn huge_seq_is_capped() {
        let (l, d) = run("~SEQ(i, 1, 5000000) a\n", &PreprocOptions::default());
        assert_eq!(l.len() as u64, MAX_GENERATED);
        assert!(d.has_errors());
    }

    #[test]
    fn residue_runs_the_pipeline() {
        assert_eq!(lines("$A=1\nx { y $A }\n"), vec!["x", "{", "y 1", "}"]);
        assert_eq!(lines("} @lb2 x\n"), vec!["}"]);
    }

    #[test]
    fn substituted_words_point_at_the_reference() {
        let mut s = SourceMap::new();
        let mut d = Diagnostics::new();
        let o = read_config_from_str(
            "$VIP=10.0.0.1\n  addr ${VIP} z\n",
            Path::new("/x/t.conf"),
            &PreprocOptions::default(),
            &mut s,
            &mut d,
        );
        let w = &o.lines[0].words;
        assert_eq!(w[1].text, "10.0.0.1");
        assert_eq!((w[1].span.line, w[1].span.col, w[1].span.len), (2, 8, 6));
        assert_eq!((w[2].span.line, w[2].span.col), (2, 15));
    }

    #[test]
    fn multibyte_text_in_generators_is_safe() {
        // Found by fuzzing: the ~SEQ separator skip landed inside a char.
        let (_, d) = run(
            "~SEQ(k+ \u{fffd}\u{fffd}2) x\n~LST(\u{e9}, \u{e9}) y\n",
            &PreprocOptions::default(),
        );
        assert!(d.has_errors());
        assert_eq!(
            lines("~LST(v, \u{e9}a, b) x_$v\n"),
            vec!["x_\u{e9}a", "x_b"]
        );
    }

    #[test]
    fn seq_numbers_like_strtol() {
        assert_eq!(parse_seq_numbers("0x10, 20)"), Some((16, 1, 20)));
        assert_eq!(parse_seq_numbers("010)"), Some((1, 1, 8)));
        assert_eq!(parse_seq_numbers("-3)"), Some((-1, -1, -3)));
        assert_eq!(parse_seq_numbers("1 2)"), None);
    }

    #[test]
    fn brace_expansion() {
        let mut v = Vec::new();
        brace_expand("a{b,c{d,e}}f", &mut v, 0);
        assert_eq!(v, vec!["abf", "acdf", "acef"]);
        let mut v = Vec::new();
        brace_expand("a{b", &mut v, 0);
        assert_eq!(v, vec!["a{b"]);
    }

    #[test]
    fn definition_syntax() {
        assert_eq!(parse_definition("$A_1=  x y"), Some(("A_1", "x y")));
        assert_eq!(parse_definition("$1A=x"), None);
        assert_eq!(parse_definition("$A =x"), None);
        assert_eq!(parse_definition("$A="), Some(("A", "")));
    }
}
