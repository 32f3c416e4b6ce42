//! The keyword framework: declarative keyword tables, the block frames the
//! parser stacks, and the value parsers (numbers, timers, booleans, IPs)
//! with keepalived 2.2.7's exact messages and ranges (lib/parser.c).
//!
//! # How to add a block
//!
//! 1. Define the state the block builds, e.g. `struct RealServerB { .. }`,
//!    and implement [`Block`] for it: `NAME` (the keyword, for messages) and
//!    `table()` returning a `static` [`Table`].
//! 2. Write the table: one [`Kw`] per keyword, built with
//!    [`Kw::set`] (a statement: `fn(&mut S, &mut Cx, &LogicalLine)`),
//!    [`Kw::block`] (a keyword with its own keyword table: the handler
//!    returns `cx.open(child_state, sink)` (or `cx.skip_block()` to skip a
//!    rejected block unread, like keepalived's `skip_block`), where
//!    `sink: fn(&mut S, Child, &mut Cx)` stores the finished child into the
//!    parent when its `}` is read), or [`Kw::values`] (a value block like
//!    `virtual_ipaddress { … }`: one call of the entry handler per line,
//!    on the parent's state). Chain `.old("replacement", class)` for a
//!    deprecated spelling, `.not_acted("what is not done")` for a keyword
//!    keepalived-rs accepts but does not act on yet, `.tier(Tier::T3)`.
//! 3. Inside handlers, read words with `cx.arg(line, i)` (reports
//!    keepalived's "missing a parameter" when absent) and convert them with
//!    `cx.unsigned`, `cx.int`, `cx.timer`, `cx.flag`, `cx.ip`, ... which
//!    report keepalived's message and class and return `None` on error (the
//!    caller then keeps its default, as keepalived does).
//! 4. Hook the opening keyword into its parent's table (top-level LVS
//!    keywords go into `lvs::KEYWORDS`, a `Table<LvsConfig>`).
//!
//! Lookup is exact and case-sensitive (reference 1.1 step 9), through a
//! hash index built once per table.

use crate::diag::{Diagnostic, Diagnostics, ErrClass, Severity};
use crate::lexer::{LogicalLine, Word};
use crate::source::Span;
use std::any::{Any, TypeId};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::Duration;

/// How often a keyword appears in real configurations (reference 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    T1,
    T2,
    T3,
}

/// What keepalived says when an old spelling is used (reference 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Old {
    /// The current spelling.
    pub use_instead: &'static str,
    /// keepalived's class for its message; `None` when keepalived accepts
    /// the spelling silently or only logs an info line (no effect on `-t`).
    pub class: Option<ErrClass>,
}

/// What happens when a keyword is read.
pub enum Action<S: 'static> {
    /// A statement.
    Set(fn(&mut S, &mut Cx, &LogicalLine)),
    /// A keyword with its own keyword table; returns the child frame, or
    /// `Dispatch::Skip` when the block is rejected.
    Block(fn(&mut S, &mut Cx, &LogicalLine) -> Dispatch),
    /// A value block: the optional `open` handler runs on the keyword line,
    /// `entry` once per line inside the braces (keepalived's
    /// `alloc_value_block`).
    Values {
        open: Option<fn(&mut S, &mut Cx, &LogicalLine)>,
        entry: fn(&mut S, &mut Cx, &LogicalLine),
    },
}

/// One keyword of a block.
pub struct Kw<S: 'static> {
    pub name: &'static str,
    /// Value syntax, for help texts and hints (e.g. `"<1-255>"`).
    pub syntax: &'static str,
    pub action: Action<S>,
    pub tier: Tier,
    pub old: Option<Old>,
    /// `Some(what)`: accepted and stored, but keepalived-rs does not act on
    /// it yet; reported once per load as a warning naming `what`.
    pub not_acted: Option<&'static str>,
}

impl<S: 'static> Kw<S> {
    pub const fn set(
        name: &'static str,
        syntax: &'static str,
        f: fn(&mut S, &mut Cx, &LogicalLine),
    ) -> Self {
        Kw {
            name,
            syntax,
            action: Action::Set(f),
            tier: Tier::T2,
            old: None,
            not_acted: None,
        }
    }

    pub const fn block(
        name: &'static str,
        syntax: &'static str,
        f: fn(&mut S, &mut Cx, &LogicalLine) -> Dispatch,
    ) -> Self {
        Kw {
            name,
            syntax,
            action: Action::Block(f),
            tier: Tier::T2,
            old: None,
            not_acted: None,
        }
    }

    pub const fn values(
        name: &'static str,
        syntax: &'static str,
        entry: fn(&mut S, &mut Cx, &LogicalLine),
    ) -> Self {
        Kw {
            name,
            syntax,
            action: Action::Values { open: None, entry },
            tier: Tier::T2,
            old: None,
            not_acted: None,
        }
    }

    /// A value block whose keyword line is also handled.
    pub const fn values_open(
        name: &'static str,
        syntax: &'static str,
        open: fn(&mut S, &mut Cx, &LogicalLine),
        entry: fn(&mut S, &mut Cx, &LogicalLine),
    ) -> Self {
        Kw {
            name,
            syntax,
            action: Action::Values {
                open: Some(open),
                entry,
            },
            tier: Tier::T2,
            old: None,
            not_acted: None,
        }
    }

    pub const fn tier(mut self, t: Tier) -> Self {
        self.tier = t;
        self
    }

    /// Mark as an old spelling of `use_instead`.
    pub const fn old(mut self, use_instead: &'static str, class: Option<ErrClass>) -> Self {
        self.old = Some(Old { use_instead, class });
        self
    }

    pub const fn not_acted(mut self, what: &'static str) -> Self {
        self.not_acted = Some(what);
        self
    }
}

/// FNV-1a for the keyword index: its keys are our own keyword names and it
/// is looked up once per statement, so SipHash's flooding resistance buys
/// nothing there and cost ~3 % of `-t` on a 250k-line file (callgrind).
#[derive(Clone, Copy)]
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// FNV-1a for the small-keyed maps of the parser (keyword names, defined
/// names): they hash short strings from the configuration, many times.
type FnvBuild = std::hash::BuildHasherDefault<Fnv1a>;

type KwIndex = HashMap<&'static str, usize, FnvBuild>;

/// A block's keyword table with its lookup index.
pub struct Table<S: 'static> {
    pub kws: &'static [Kw<S>],
    index: OnceLock<KwIndex>,
}

impl<S: 'static> Table<S> {
    pub const fn new(kws: &'static [Kw<S>]) -> Self {
        Table {
            kws,
            index: OnceLock::new(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&Kw<S>> {
        let idx = self.index.get_or_init(|| {
            let mut m = KwIndex::with_capacity_and_hasher(self.kws.len(), Default::default());
            for (i, k) in self.kws.iter().enumerate() {
                m.entry(k.name).or_insert(i);
            }
            m
        });
        idx.get(name).map(|&i| &self.kws[i])
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.kws.iter().map(|k| k.name)
    }
}

/// The state a keyword block builds.
pub trait Block: Sized + 'static {
    /// The keyword that opens the block (for messages).
    const NAME: &'static str;
    fn table() -> &'static Table<Self>;
    /// Extra tables consulted after `table()` (the top level adds the LVS
    /// keywords this way). Returns the keyword's frame action if found.
    fn fallback(&mut self, _cx: &mut Cx, _line: &LogicalLine) -> Option<Dispatch> {
        None
    }
    /// Keywords valid besides `table()`, for did-you-mean hints.
    fn fallback_names() -> Vec<&'static str> {
        Vec::new()
    }
    /// A sub-state of this state by type, so that handlers of a fallback
    /// table (working on e.g. the top level's `LvsConfig`) find their
    /// state when their child blocks close.
    fn project(&mut self, _want: TypeId) -> Option<&mut dyn Any> {
        None
    }
}

/// What a frame did with a keyword line.
pub enum Dispatch {
    Done,
    Open(Box<dyn Frame>),
    /// A value block was opened on this frame's state; `entry` gets its lines.
    OpenValues(ValuesRef),
    /// Skip the block that follows, unread (keepalived's `skip_block`).
    Skip,
    /// Skip the block that follows if it starts with `{`; otherwise the
    /// following lines are read by this frame, whose result is dropped
    /// (keepalived still enters the sub-level when the `{` is missing).
    SkipOr(Box<dyn Frame>),
    Unknown,
}

/// Calls a value block's entry handler on the state of the frame below it.
pub type ValuesEntry = Box<dyn Fn(&mut dyn Frame, &mut Cx, &LogicalLine)>;

/// Identifies the entry handler of a value block inside its parent frame.
pub struct ValuesRef {
    pub block: &'static str,
    pub entry: ValuesEntry,
}

/// One level of the parser's block stack.
pub trait Frame: Any {
    fn block_name(&self) -> &'static str;
    /// Handle one keyword line inside this block.
    fn keyword(&mut self, cx: &mut Cx, line: &LogicalLine) -> Dispatch;
    /// The block's `}` was read (or the input ended): hand the finished
    /// state to the parent.
    fn close(self: Box<Self>, cx: &mut Cx, parent: Option<&mut dyn Frame>);
    /// The state this frame builds, or a sub-state of it, by type: for
    /// children's sinks and value entries.
    fn state_for(&mut self, want: TypeId) -> Option<&mut dyn Any>;
    fn keyword_names(&self) -> Vec<&'static str>;
}

/// A frame driven by a [`Block`]'s table; on close, `sink` moves the state
/// into the parent's state `P`.
pub struct TableFrame<C: Block, P: 'static> {
    pub state: C,
    sink: Option<fn(&mut P, C, &mut Cx)>,
}

impl<C: Block, P: 'static> TableFrame<C, P> {
    pub fn new(state: C, sink: Option<fn(&mut P, C, &mut Cx)>) -> Self {
        TableFrame { state, sink }
    }
}

/// Run one keyword of `table` on `state`: shared by table frames and
/// fallback tables.
pub fn dispatch<S: 'static>(
    table: &'static Table<S>,
    state: &mut S,
    cx: &mut Cx,
    line: &LogicalLine,
) -> Dispatch {
    let Some(kw) = table.get(line.keyword()) else {
        return Dispatch::Unknown;
    };
    cx.announce(kw, line);
    match &kw.action {
        Action::Set(f) => {
            f(state, cx, line);
            Dispatch::Done
        }
        Action::Block(f) => f(state, cx, line),
        Action::Values { open, entry } => {
            if let Some(o) = open {
                o(state, cx, line);
            }
            let entry = *entry;
            Dispatch::OpenValues(ValuesRef {
                block: kw.name,
                entry: Box::new(move |frame, cx, line| {
                    if let Some(s) = frame
                        .state_for(TypeId::of::<S>())
                        .and_then(|a| a.downcast_mut::<S>())
                    {
                        entry(s, cx, line);
                    }
                }),
            })
        }
    }
}

impl<C: Block, P: 'static> Frame for TableFrame<C, P> {
    fn block_name(&self) -> &'static str {
        C::NAME
    }

    fn keyword(&mut self, cx: &mut Cx, line: &LogicalLine) -> Dispatch {
        match dispatch(C::table(), &mut self.state, cx, line) {
            Dispatch::Unknown => self.state.fallback(cx, line).unwrap_or(Dispatch::Unknown),
            d => d,
        }
    }

    fn close(self: Box<Self>, cx: &mut Cx, parent: Option<&mut dyn Frame>) {
        let this = *self;
        if let (Some(sink), Some(parent)) = (this.sink, parent) {
            if let Some(p) = parent
                .state_for(TypeId::of::<P>())
                .and_then(|a| a.downcast_mut::<P>())
            {
                sink(p, this.state, cx);
            }
        }
    }

    fn state_for(&mut self, want: TypeId) -> Option<&mut dyn Any> {
        if want == TypeId::of::<C>() {
            Some(&mut self.state)
        } else {
            self.state.project(want)
        }
    }

    fn keyword_names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = C::table().names().collect();
        v.extend(C::fallback_names());
        v
    }
}

/// Parsing context handed to every handler: where diagnostics go, the load
/// options, and the value parsers.
pub struct Cx<'a> {
    pub diags: &'a mut Diagnostics,
    pub opts: &'a crate::LoadOptions,
    /// Set once a "missing a parameter" error was reported: keepalived exits
    /// at once with status 2 (reference 1.9), so validation is skipped.
    pub missing_parameter: bool,
    /// Each top-level statement: (diagnostics count before it, its logical
    /// line index). Used to reproduce what keepalived's other processes
    /// skip (see `parse::unterminated_for_others`).
    pub top_marks: Vec<(usize, usize)>,
    /// Each top-level statement's `parse::owner_of` and span (parallel to
    /// `top_marks`), kept since the statements themselves are not.
    pub top_owners: Vec<(Option<u8>, Span)>,
    not_acted_seen: HashSet<&'static str>,
    /// Names defined so far, by kind ("vrrp_script", "track_file", ...):
    /// keepalived resolves references against what was defined earlier in
    /// the text (reference 1.8), and nested handlers need to see it.
    /// (FNV-hashed, names inline up to 24 bytes: one definition per
    /// instance made SipHash and a String allocation 4 % of a 10,000
    /// instance load.)
    defined: HashMap<&'static str, HashSet<compact_str::CompactString, FnvBuild>, FnvBuild>,
    counters: HashMap<&'static str, u32>,
}

impl<'a> Cx<'a> {
    pub fn new(diags: &'a mut Diagnostics, opts: &'a crate::LoadOptions) -> Self {
        Cx {
            diags,
            opts,
            missing_parameter: false,
            top_marks: Vec::new(),
            top_owners: Vec::new(),
            not_acted_seen: HashSet::new(),
            defined: HashMap::default(),
            counters: HashMap::new(),
        }
    }

    /// Post-increment a named counter (keepalived's file-level statics
    /// such as the automatic rule priorities).
    pub fn next_count(&mut self, key: &'static str) -> u32 {
        let c = self.counters.entry(key).or_insert(0);
        let v = *c;
        *c += 1;
        v
    }

    /// Record `name` as defined under `kind`; false if it already was.
    pub fn define(&mut self, kind: &'static str, name: &str) -> bool {
        self.defined
            .entry(kind)
            .or_default()
            .insert(compact_str::CompactString::from(name))
    }

    /// Whether anything was defined under `kind`.
    pub fn any_defined(&self, kind: &str) -> bool {
        self.defined.get(kind).is_some_and(|s| !s.is_empty())
    }

    /// Whether `name` was defined under `kind` earlier in the text.
    pub fn is_defined(&self, kind: &str, name: &str) -> bool {
        self.defined.get(kind).is_some_and(|s| s.contains(name))
    }

    /// A block whose keyword was rejected: keepalived skips its whole body
    /// without reading it (`skip_block`).
    pub fn skip_block(&mut self) -> Dispatch {
        Dispatch::Skip
    }

    /// Like [`Cx::skip_block`], but when no `{` follows, the lines are read
    /// by a throw-away block of type `C` (keepalived 2.2.7 then runs the
    /// block's handlers on whatever object came last).
    pub fn skip_block_or<C: Block>(&mut self, state: C) -> Dispatch {
        Dispatch::SkipOr(Box::new(TableFrame::<C, ()>::new(state, None)))
    }

    /// Open a child keyword block; `sink` stores it into the parent state
    /// when its `}` is read.
    pub fn open<C: Block, P: 'static>(
        &mut self,
        state: C,
        sink: fn(&mut P, C, &mut Cx),
    ) -> Dispatch {
        Dispatch::Open(Box::new(TableFrame::<C, P>::new(state, Some(sink))))
    }

    /// Open a child keyword block whose content is checked but dropped
    /// (keepalived parses the body of a rejected block all the same).
    pub fn open_discard<C: Block>(&mut self, state: C) -> Dispatch {
        Dispatch::Open(Box::new(TableFrame::<C, ()>::new(state, None)))
    }

    /// Deprecation and "not acted on" notices for a keyword being used.
    fn announce<S>(&mut self, kw: &Kw<S>, line: &LogicalLine) {
        let span = line.words.first().map(|w| w.span);
        if let Some(old) = kw.old {
            let msg = format!(
                "Keyword \"{}\" is deprecated - please use \"{}\"",
                kw.name, old.use_instead
            );
            let d = match old.class {
                Some(c) => Diagnostic::new(Severity::Warning, Some(c), span, msg),
                None => Diagnostic::note(None, span, msg),
            };
            self.diags
                .push(d.with_hint(format!("replace with `{}`", old.use_instead)));
        }
        if let Some(what) = kw.not_acted {
            if self.not_acted_seen.insert(kw.name) {
                self.diags.push(Diagnostic::warning(
                    None,
                    span,
                    format!(
                        "'{}' is accepted but keepalived-rs does not act on it yet: {what}",
                        kw.name
                    ),
                ));
            }
        }
    }

    pub fn error(&mut self, class: ErrClass, span: Option<Span>, msg: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(class, Some(span).flatten(), msg));
    }

    /// keepalived's GENERAL_ERROR: reported, the item ignored, still runs.
    /// keepalived often reports a bad number twice (the number reader's
    /// message, then the keyword's); that is one problem, so the number's
    /// message at the same place becomes the hint of this one.
    pub fn general(&mut self, span: Span, msg: impl Into<String>) {
        let msg = msg.into();
        if let Some(last) = self.diags.items.last_mut() {
            if last.class == Some(ErrClass::InvalidNumber) && last.span == Some(span) {
                let hint = std::mem::replace(&mut last.message, msg);
                last.class = Some(ErrClass::GeneralError);
                last.hint = Some(hint);
                return;
            }
        }
        self.error(ErrClass::GeneralError, Some(span), msg);
    }

    /// A warning keepalived reports through its config-error reporter with
    /// CONFIG_WARNING (counts for the exit status).
    pub fn warn_class(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(
            Some(ErrClass::Warning),
            Some(span),
            msg,
        ));
    }

    /// A plain log line of keepalived (no effect on its exit status).
    pub fn info(&mut self, span: Span, msg: impl Into<String>) {
        self.diags.push(Diagnostic::warning(None, Some(span), msg));
    }

    /// Word `i` of `line`; reports keepalived's missing-parameter error
    /// (exit status 2) when absent.
    pub fn arg<'l>(&mut self, line: &'l LogicalLine, i: usize) -> Option<&'l Word> {
        if let Some(w) = line.words.get(i) {
            return Some(w);
        }
        self.missing_param(line, i);
        None
    }

    /// Report that `line` lacks word `i` (keepalived's `null_strvec`).
    pub fn missing_param(&mut self, line: &LogicalLine, i: usize) {
        let first = line.keyword();
        let msg = match i.checked_sub(1).and_then(|p| line.words.get(p)) {
            Some(prev) => format!(
                "*** Configuration line starting `{first}` is missing a parameter after keyword `{}` at word position {}",
                prev.text,
                i + 1
            ),
            None => format!(
                "*** Configuration line starting `{first}` is missing a parameter at word position {}",
                i + 1
            ),
        };
        let span = line
            .words
            .last()
            .map(|w| Span::new(w.span.file, w.span.line, w.span.col + w.span.len, 1))
            .unwrap_or(line.span);
        self.missing_parameter = true;
        self.diags.push(Diagnostic::error(
            ErrClass::MissingParameter,
            Some(span),
            msg,
        ));
    }

    /// Optional word `i`.
    pub fn opt<'l>(&self, line: &'l LogicalLine, i: usize) -> Option<&'l Word> {
        line.words.get(i)
    }

    fn invalid(&mut self, w: &Word, msg: String, hint: Option<String>) {
        let mut d = Diagnostic::error(ErrClass::InvalidNumber, Some(w.span), msg);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.diags.push(d);
    }

    /// keepalived's `read_unsigned_strvec` (base 10).
    pub fn unsigned(&mut self, w: &Word, min: u32, max: u32) -> Option<u32> {
        self.unsigned_base(w, 10, min, max)
    }

    /// keepalived's `read_unsigned_base_strvec`: strtoul semantics (leading
    /// blanks and `+` allowed, base 0 = C prefixes).
    pub fn unsigned_base(&mut self, w: &Word, base: u32, min: u32, max: u32) -> Option<u32> {
        // A number in range in plain decimal digits needs none of the
        // checks below (anything else takes them, messages included).
        let b = w.text.as_bytes();
        if base == 10 && !b.is_empty() && b.len() <= 9 && b.iter().all(u8::is_ascii_digit) {
            let v = b.iter().fold(0u32, |v, &d| v * 10 + u32::from(d - b'0'));
            if (min..=max).contains(&v) {
                return Some(v);
            }
        }
        let s = w.text.trim_start_matches([' ', '\t']);
        if s.starts_with('-') {
            self.invalid(w, format!("negative number '{}'", w.text), None);
            return None;
        }
        match strtoul(s, base) {
            Err(()) => {
                self.invalid(w, format!("invalid number '{}'", w.text), None);
                None
            }
            Ok(v) if v > u64::from(u32::MAX) => {
                self.invalid(
                    w,
                    format!("number '{}' outside unsigned integer range", w.text),
                    None,
                );
                None
            }
            Ok(v) if v < u64::from(min) || v > u64::from(max) => {
                self.invalid(
                    w,
                    format!("number '{}' outside range [{min}, {max}]", w.text),
                    Some(format!("valid range is {min} to {max}")),
                );
                None
            }
            Ok(v) => u32::try_from(v).ok(),
        }
    }

    /// keepalived's `read_unsigned64_strvec`.
    pub fn unsigned64(&mut self, w: &Word, min: u64, max: u64) -> Option<u64> {
        let s = w.text.trim_start_matches([' ', '\t']);
        if s.starts_with('-') {
            self.invalid(w, format!("negative number '{}'", w.text), None);
            return None;
        }
        match strtoul(s, 10) {
            Err(()) => {
                self.invalid(w, format!("invalid number '{}'", w.text), None);
                None
            }
            Ok(v) if v < min || v > max => {
                self.invalid(
                    w,
                    format!("number '{}' outside range [{min}, {max}]", w.text),
                    Some(format!("valid range is {min} to {max}")),
                );
                None
            }
            Ok(v) => Some(v),
        }
    }

    /// keepalived's `read_int_strvec` (base 10).
    pub fn int(&mut self, w: &Word, min: i32, max: i32) -> Option<i32> {
        match strtol(&w.text) {
            Err(()) => {
                self.invalid(w, format!("invalid number '{}'", w.text), None);
                None
            }
            Ok(v) if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) => {
                self.invalid(
                    w,
                    format!("number '{}' outside integer range", w.text),
                    None,
                );
                None
            }
            Ok(v) if v < i64::from(min) || v > i64::from(max) => {
                self.invalid(
                    w,
                    format!("number '{}' outside range [{min}, {max}]", w.text),
                    Some(format!("valid range is {min} to {max}")),
                );
                None
            }
            Ok(v) => i32::try_from(v).ok(),
        }
    }

    /// keepalived's `read_decimal_unsigned_long_func`: a decimal with up
    /// to `shift` places, returned × 10^shift. More places are reported
    /// and rounded, like keepalived does.
    pub fn decimal(&mut self, w: &Word, min: u64, max: u64, shift: u32) -> Option<u64> {
        let p = w.text.as_str();
        // Plain digits (nearly every timer in a configuration): the value
        // is the integer scaled by 10^shift, saturating like the strtoul of
        // the zero-padded text below; skips building that text.
        let plain = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let val = if plain {
            p.parse::<u64>()
                .ok()
                .zip(10u64.checked_pow(shift))
                .and_then(|(v, m)| v.checked_mul(m))
                .unwrap_or(u64::MAX)
        } else {
            self.decimal_text(w, shift)?
        };
        self.decimal_range(w, val, min, max, shift)
    }

    /// [`Cx::decimal`]'s general case: sign, decimal places and rounding,
    /// as keepalived's `read_decimal_unsigned_strvec`.
    fn decimal_text(&mut self, w: &Word, shift: u32) -> Option<u64> {
        let p = w.text.as_str();
        if p.starts_with('-') {
            self.invalid(w, format!("negative number '{p}'"), None);
            return None;
        }
        let (int_part, frac) = match p.split_once('.') {
            Some((a, b)) => (a, b),
            None => (p, ""),
        };
        let mut frac_digits: String = frac.to_string();
        let mut round_up = false;
        if frac.len() > shift as usize {
            self.invalid(
                w,
                format!("number '{p}' has too many decimal places"),
                Some(format!("at most {shift} decimal places")),
            );
            round_up = frac
                .as_bytes()
                .get(shift as usize)
                .is_some_and(|&c| c >= b'5');
            frac_digits.truncate(shift as usize);
        }
        while frac_digits.len() < shift as usize {
            frac_digits.push('0');
        }
        let joined = format!("{int_part}{frac_digits}");
        match strtoul(&joined, 10) {
            Ok(v) => Some(v.saturating_add(u64::from(round_up))),
            Err(()) => {
                self.invalid(w, format!("invalid number '{p}'"), None);
                None
            }
        }
    }

    /// [`Cx::decimal`]'s range check of the scaled value.
    fn decimal_range(&mut self, w: &Word, val: u64, min: u64, max: u64, shift: u32) -> Option<u64> {
        let p = w.text.as_str();
        if val < min || val > max {
            let scale = 10u64.pow(shift);
            let sh = shift as usize;
            let fmt = |v: u64| {
                if sh == 0 {
                    format!("{}", v / scale)
                } else {
                    format!("{}.{:0sh$}", v / scale, v % scale)
                }
            };
            self.invalid(
                w,
                format!("number '{p}' outside range [{}, {}]", fmt(min), fmt(max)),
                Some(format!("valid range is {} to {}", fmt(min), fmt(max))),
            );
            return None;
        }
        Some(val)
    }

    /// keepalived's `read_timer`: decimal seconds with microsecond
    /// resolution, range given in microseconds.
    pub fn timer(&mut self, w: &Word, min_us: u64, max_us: u64) -> Option<Duration> {
        self.decimal(w, min_us, max_us, 6)
            .map(Duration::from_micros)
    }

    /// An optional boolean after a flag keyword at word `i`: absent = true;
    /// `on|off|true|false|yes|no` (keepalived's `check_true_false`).
    /// An invalid word gives keepalived's "Invalid value '%s' for %s
    /// specified" (GENERAL_ERROR) and `None`.
    pub fn flag(&mut self, line: &LogicalLine, i: usize, what: &str) -> Option<bool> {
        let Some(w) = line.words.get(i) else {
            return Some(true);
        };
        match true_false(&w.text) {
            Some(b) => Some(b),
            None => {
                let d = Diagnostic::error(
                    ErrClass::GeneralError,
                    Some(w.span),
                    format!("Invalid value '{}' for {what} specified", w.text),
                )
                .with_hint("expected one of on, off, true, false, yes, no");
                self.diags.push(d);
                None
            }
        }
    }

    /// An IP address; `msg` is keepalived's message for this keyword.
    pub fn ip(&mut self, w: &Word, msg: impl FnOnce(&str) -> String) -> Option<IpAddr> {
        match parse_ip(&w.text) {
            Some(a) => Some(a),
            None => {
                let m = msg(&w.text);
                self.general(w.span, m);
                None
            }
        }
    }
}

/// keepalived's `check_true_false`.
pub fn true_false(s: &str) -> Option<bool> {
    match s {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// An IPv4/IPv6 literal as `inet_pton` accepts it (IPv6 may carry a
/// `%scope` suffix in some places; callers strip it where allowed).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>().ok()
}

/// C `strtoul` on the whole string: optional `+`, digits of `base` (0 =
/// auto: `0x` hex, leading `0` octal). An empty digit string is invalid
/// (strtoul leaves endptr at the start, which is only "valid" for an empty
/// input: keepalived then reads 0).
#[allow(clippy::result_unit_err)] // the error has no content beyond "not a number"
pub fn strtoul(s: &str, base: u32) -> Result<u64, ()> {
    // Plain decimal digits, the common case: at most 19 cannot overflow.
    let b = s.as_bytes();
    let decimal = base == 10 || (base == 0 && b.first() != Some(&b'0'));
    if decimal && !b.is_empty() && b.len() <= 19 && b.iter().all(u8::is_ascii_digit) {
        return Ok(b.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0')));
    }
    let s = s.trim_start_matches([' ', '\t', '\n']);
    if s.is_empty() {
        return Ok(0);
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (digits, radix) = match base {
        0 => {
            if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                (h, 16)
            } else if s.len() > 1 && s.starts_with('0') {
                (&s[1..], 8)
            } else {
                (s, 10)
            }
        }
        16 => (
            s.strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .unwrap_or(s),
            16,
        ),
        b => (s, b),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(());
    }
    // Saturate like strtoul does with ERANGE; callers compare with u32::MAX.
    Ok(u64::from_str_radix(digits, radix).unwrap_or(u64::MAX))
}

/// C `strtol` (base 10) on the whole string.
#[allow(clippy::result_unit_err)]
pub fn strtol(s: &str) -> Result<i64, ()> {
    let s = s.trim_start_matches([' ', '\t', '\n']);
    if s.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return Err(());
    }
    let v = digits.parse::<i64>().unwrap_or(i64::MAX);
    Ok(if neg { -v } else { v })
}

/// The closest keyword to `word` among `candidates` (Levenshtein distance at
/// most a third of the word's length, at least 1), for did-you-mean hints.
pub fn suggest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    let wlen = word.chars().count();
    for c in candidates {
        // The distance is at least the length difference: skip cheaply.
        if c.len().abs_diff(wlen) > limit {
            continue;
        }
        let d = levenshtein(word, c);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Edit distance counting an adjacent transposition as one edit (optimal
/// string alignment): `eht0` is one edit from `eth0`.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        d[i * w] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j - 1] + cost)
                .min(d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::FileId;

    fn word(s: &str) -> Word {
        Word {
            text: s.into(),
            span: Span::new(FileId(0), 1, 1, s.len() as u32),
        }
    }

    fn with_cx<R>(f: impl FnOnce(&mut Cx) -> R) -> (R, Diagnostics) {
        let mut d = Diagnostics::new();
        let o = crate::LoadOptions::default();
        let r = {
            let mut cx = Cx::new(&mut d, &o);
            f(&mut cx)
        };
        (r, d)
    }

    #[test]
    fn unsigned_messages_match_keepalived() {
        let (r, d) = with_cx(|cx| cx.unsigned(&word("300"), 1, 255));
        assert_eq!(r, None);
        assert_eq!(d.items[0].message, "number '300' outside range [1, 255]");
        assert_eq!(d.items[0].class, Some(ErrClass::InvalidNumber));
        let (r, d) = with_cx(|cx| cx.unsigned(&word("-1"), 0, 255));
        assert_eq!(r, None);
        assert_eq!(d.items[0].message, "negative number '-1'");
        let (r, d) = with_cx(|cx| cx.unsigned(&word("12a"), 0, 255));
        assert_eq!(r, None);
        assert_eq!(d.items[0].message, "invalid number '12a'");
        let (r, _) = with_cx(|cx| cx.unsigned(&word("+42"), 0, 255));
        assert_eq!(r, Some(42));
        let (r, d) = with_cx(|cx| cx.unsigned(&word("99999999999"), 0, 255));
        assert_eq!(r, None);
        assert!(d.items[0]
            .message
            .contains("outside unsigned integer range"));
    }

    #[test]
    fn int_and_timer_ranges() {
        let (r, d) = with_cx(|cx| cx.int(&word("300"), -253, 253));
        assert_eq!(r, None);
        assert_eq!(d.items[0].message, "number '300' outside range [-253, 253]");
        let (r, _) = with_cx(|cx| cx.int(&word("-20"), -253, 253));
        assert_eq!(r, Some(-20));
        let (r, d) = with_cx(|cx| cx.timer(&word("0.001"), 10_000, 255_000_000));
        assert_eq!(r, None);
        assert_eq!(
            d.items[0].message,
            "number '0.001' outside range [0.010000, 255.000000]"
        );
        let (r, _) = with_cx(|cx| cx.timer(&word("1.5"), 10_000, 255_000_000));
        assert_eq!(r, Some(Duration::from_micros(1_500_000)));
        let (r, d) = with_cx(|cx| cx.timer(&word("1.00000051"), 0, 255_000_000));
        assert_eq!(r, Some(Duration::from_micros(1_000_001)));
        assert!(d.items[0].message.contains("too many decimal places"));
    }

    #[test]
    fn flags_and_bools() {
        let mut d = Diagnostics::new();
        let l = crate::lexer::split_line(FileId(0), 1, "vrrp_strict maybe", &mut d);
        let (r, d) = with_cx(|cx| cx.flag(&l[0], 1, "vrrp_strict"));
        assert_eq!(r, None);
        assert_eq!(d.items[0].class, Some(ErrClass::GeneralError));
        let (r, _) = with_cx(|cx| cx.flag(&l[0], 2, "vrrp_strict"));
        assert_eq!(r, Some(true));
        assert_eq!(true_false("off"), Some(false));
        assert_eq!(true_false("Off"), None);
    }

    #[test]
    fn strtoul_bases() {
        assert_eq!(strtoul("0x1f", 0), Ok(31));
        assert_eq!(strtoul("017", 0), Ok(15));
        assert_eq!(strtoul("17", 10), Ok(17));
        assert_eq!(strtoul("1f", 16), Ok(31));
        assert_eq!(strtoul("1.5", 10), Err(()));
        // Saturates like strtoul's ERANGE, past the 19-digit fast path too.
        assert_eq!(strtoul("18446744073709551616", 10), Ok(u64::MAX));
        assert_eq!(
            strtoul("9999999999999999999", 0),
            Ok(9_999_999_999_999_999_999)
        );
    }

    proptest::proptest! {
        /// Plain digits in and out of range: the value, or the range
        /// message the general path gives.
        #[test]
        fn plain_digit_numbers_in_and_out_of_range(s in "[0-9]{1,12}", min in 0u32..50, span in 0u32..2000) {
            let max = min + span;
            let (r, d) = with_cx(|cx| cx.unsigned(&word(&s), min, max));
            let v: u64 = s.parse().unwrap_or(u64::MAX);
            if v >= u64::from(min) && v <= u64::from(max) {
                proptest::prop_assert_eq!(r, u32::try_from(v).ok());
                proptest::prop_assert!(d.items.is_empty());
            } else {
                proptest::prop_assert_eq!(r, None);
                proptest::prop_assert!(d.items[0].message.contains("outside"), "{}", d.items[0].message);
            }
            let (t, d) = with_cx(|cx| cx.decimal(&word(&s), u64::from(min) * 1000, u64::from(max) * 1000, 3));
            let scaled = v.checked_mul(1000);
            if scaled.is_some_and(|x| x >= u64::from(min) * 1000 && x <= u64::from(max) * 1000) {
                proptest::prop_assert_eq!(t, scaled);
            } else {
                proptest::prop_assert_eq!(t, None);
                proptest::prop_assert!(d.items[0].message.contains("outside range"), "{}", d.items[0].message);
            }
        }

        /// The plain-digits fast path agrees with the general parse.
        #[test]
        fn strtoul_digits_are_decimal(s in "[0-9]{1,25}", base0 in proptest::bool::ANY) {
            let want = if base0 && s.len() > 1 && s.starts_with('0') {
                u64::from_str_radix(&s[1..], 8).ok()
            } else {
                Some(s.parse::<u64>().unwrap_or(u64::MAX))
            };
            let got = strtoul(&s, if base0 { 0 } else { 10 });
            match want {
                Some(w) => proptest::prop_assert_eq!(got, Ok(w)),
                // Octal with an 8 or 9 in it.
                None => proptest::prop_assert!(got == Err(()) || s[1..].bytes().all(|b| b < b'8')),
            }
        }
    }

    #[test]
    fn did_you_mean() {
        let c = ["priority", "interface", "virtual_router_id"];
        assert_eq!(suggest("priorty", c), Some("priority"));
        assert_eq!(suggest("virtual_routerid", c), Some("virtual_router_id"));
        assert_eq!(suggest("zzz", c), None);
        assert_eq!(suggest("eht0", ["eth0", "eth1", "lo"]), Some("eth0"));
    }
}
