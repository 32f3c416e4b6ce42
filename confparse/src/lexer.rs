//! The per-line lexical steps of keepalived's reader (reference 1.1 and
//! 1.3): the working line with a map back to source positions, comment
//! stripping (`decomment`), the search for the first brace outside double
//! quotes, and the split of a statement into words. The preprocessing
//! driver in `preproc` strings these together; the types here are what it
//! produces.

use crate::diag::{Diagnostic, Diagnostics, ErrClass};
use crate::source::{FileId, Span};
use compact_str::CompactString;
use serde::Serialize;
use std::cell::Cell;
use std::sync::Arc;

/// One word of a logical line: its text with quotes removed, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    pub text: CompactString,
    pub span: Span,
}

/// One statement: a keyword and its arguments, or a lone `{` / `}`.
/// `raw` is the statement's text after preprocessing and before word
/// splitting, for keywords that re-tokenize it with the shell-like rules
/// (`script`, `notify*`, `misc_path`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogicalLine {
    pub words: Vec<Word>,
    pub raw: CompactString,
    pub span: Span,
}

impl LogicalLine {
    pub fn keyword(&self) -> &str {
        self.words.first().map(|w| w.text.as_str()).unwrap_or("")
    }

    pub fn is_open(&self) -> bool {
        self.words.len() == 1 && self.words[0].text == "{"
    }

    pub fn is_close(&self) -> bool {
        self.words.len() == 1 && self.words[0].text == "}"
    }
}

/// keepalived's `WHITE_SPACE_STR`: what separates words.
pub(crate) fn is_word_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' | b'\x0b')
}

/// `isblank()`: what `decomment` and the brace splitter trim.
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Where one byte of a working line came from: 1-based line and column (in
/// characters) in its source file, and how many columns the place covers
/// (1 for a character copied from the file; the length of the `$NAME`
/// reference for text produced by substitution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin {
    pub line: u32,
    pub col: u32,
    pub width: u32,
}

/// How the bytes of a [`Text`] map to source positions.
#[derive(Debug, Clone)]
pub(crate) enum PosMap {
    /// Copied verbatim from one source line: byte 0 is at `col`, each
    /// following character one column further. `ascii` lets us count
    /// columns in bytes.
    Literal { line: u32, col: u32, ascii: bool },
    /// Every byte comes from one place (a line replayed from a multi-line
    /// definition points at the `$NAME` that replayed it).
    Ref(Origin),
    /// One origin per byte (after substitution or escape removal).
    PerByte(Vec<Origin>),
}

/// A working line: text plus the map back to the source. `start` is where
/// the unconsumed part begins; keepalived's "line residue" after a brace is
/// the same text with `start` moved on, so splitting a line with many
/// braces stays linear.
/// The bytes of a [`Text`]: a slice of the file as read (no copy for the
/// common line that only gets trimmed), or an owned string once edited.
#[derive(Debug, Clone)]
pub(crate) enum Backing {
    Shared {
        rc: Arc<str>,
        begin: usize,
        end: usize,
    },
    Owned(String),
}

impl Backing {
    #[inline]
    pub fn as_str(&self) -> &str {
        match self {
            Backing::Shared { rc, begin, end } => &rc[*begin..*end],
            Backing::Owned(s) => s,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Backing::Shared { begin, end, .. } => end - begin,
            Backing::Owned(s) => s.len(),
        }
    }

    /// Keep the first `n` bytes (`n` on a char boundary).
    fn truncate(&mut self, n: usize) {
        match self {
            Backing::Shared { begin, end, .. } => *end = (*begin + n).min(*end),
            Backing::Owned(s) => s.truncate(n),
        }
    }

    /// Append `c`, copying a shared slice first.
    fn push(&mut self, c: char) {
        match self {
            Backing::Owned(s) => s.push(c),
            Backing::Shared { .. } => {
                let mut s = self.as_str().to_string();
                s.push(c);
                *self = Backing::Owned(s);
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Text {
    s: Backing,
    start: usize,
    pub file: FileId,
    map: PosMap,
    /// (byte, chars) of the last column lookup in a non-ASCII literal, so
    /// lookups moving forward cost only the distance moved.
    cursor: Cell<(usize, u32)>,
    /// The start offset from which a substitution pass found nothing, and
    /// the definitions generation it ran under (see `preproc`).
    pub no_subst_from: Cell<Option<(usize, u64)>>,
}

impl Text {
    /// Text read from `line` of `file`, its first byte at column `col`.
    pub fn literal(s: String, file: FileId, line: u32, col: u32) -> Self {
        let ascii = s.is_ascii();
        Text {
            s: Backing::Owned(s),
            start: 0,
            file,
            map: PosMap::Literal { line, col, ascii },
            cursor: Cell::new((0, 0)),
            no_subst_from: Cell::new(None),
        }
    }

    /// Bytes `begin..end` of a file's text, read from `line` (column 1).
    /// `ascii`: the slice is ASCII (the caller may know it for the whole
    /// file).
    pub fn shared(
        rc: Arc<str>,
        begin: usize,
        end: usize,
        file: FileId,
        line: u32,
        ascii: bool,
    ) -> Self {
        Text {
            s: Backing::Shared { rc, begin, end },
            start: 0,
            file,
            map: PosMap::Literal {
                line,
                col: 1,
                ascii,
            },
            cursor: Cell::new((0, 0)),
            no_subst_from: Cell::new(None),
        }
    }

    /// Text whose every byte points at `origin`.
    pub fn from_ref(s: String, file: FileId, origin: Origin) -> Self {
        Text {
            s: Backing::Owned(s),
            start: 0,
            file,
            map: PosMap::Ref(origin),
            cursor: Cell::new((0, 0)),
            no_subst_from: Cell::new(None),
        }
    }

    /// The unconsumed text.
    #[inline]
    pub fn view(&self) -> &str {
        &self.s.as_str()[self.start..]
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start >= self.s.len()
    }

    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Drop `n` bytes from the front of the view (must end on a char
    /// boundary; callers only skip ASCII).
    pub fn advance(&mut self, n: usize) {
        self.start = (self.start + n).min(self.s.len());
    }

    /// Keep only the first `n` bytes of the view.
    pub fn truncate_view(&mut self, n: usize) {
        let end = self.start + n;
        if end < self.s.len() && self.s.as_str().is_char_boundary(end) {
            self.s.truncate(end);
            if let PosMap::PerByte(v) = &mut self.map {
                v.truncate(end);
            }
        }
    }

    /// Append one ASCII byte that belongs at `origin`.
    fn push_ascii(&mut self, b: u8, origin: Origin) {
        if let PosMap::Literal { .. } = self.map {
            // A literal map gives the appended byte the next column, which
            // is where keepalived's re-appended `\` sits after trimming.
            self.s.push(b as char);
            return;
        }
        let o = self.origin_at(self.s.len()).unwrap_or(origin);
        self.s.push(b as char);
        if let PosMap::PerByte(v) = &mut self.map {
            v.push(o);
        }
    }

    /// Source position of absolute byte `i` (the end position for
    /// `i == len`).
    pub fn origin_at(&self, i: usize) -> Option<Origin> {
        match &self.map {
            PosMap::Literal { line, col, ascii } => {
                let chars = if *ascii {
                    u32::try_from(i).unwrap_or(u32::MAX)
                } else {
                    self.chars_before(i)
                };
                Some(Origin {
                    line: *line,
                    col: col.saturating_add(chars),
                    width: 1,
                })
            }
            PosMap::Ref(o) => Some(*o),
            PosMap::PerByte(v) => v.get(i).copied().or_else(|| {
                v.last().map(|o| Origin {
                    col: o.col.saturating_add(o.width),
                    width: 1,
                    ..*o
                })
            }),
        }
    }

    fn chars_before(&self, i: usize) -> u32 {
        let i = i.min(self.s.len());
        let (mut b, mut c) = self.cursor.get();
        if i < b {
            b = 0;
            c = 0;
        }
        let mut j = b;
        let bytes = self.s.as_str().as_bytes();
        while j < i {
            // Count chars by their first bytes (not 10xxxxxx).
            if bytes[j] & 0xC0 != 0x80 {
                c = c.saturating_add(1);
            }
            j += 1;
        }
        self.cursor.set((i, c));
        c
    }

    /// The span covering absolute bytes `a..b` (b > a).
    pub fn span(&self, a: usize, b: usize) -> Span {
        if let PosMap::Literal {
            line,
            col,
            ascii: true,
        } = self.map
        {
            let a32 = u32::try_from(a).unwrap_or(u32::MAX);
            let len = u32::try_from(b.saturating_sub(a)).unwrap_or(u32::MAX);
            return Span::new(self.file, line, col.saturating_add(a32), len);
        }
        let first = self.origin_at(a).unwrap_or(Origin {
            line: 0,
            col: 0,
            width: 0,
        });
        let last_start = self.s.as_str()[..b.min(self.s.len())]
            .char_indices()
            .next_back()
            .map(|(i, _)| i)
            .filter(|&i| i >= a)
            .unwrap_or(a);
        let len = match self.origin_at(last_start) {
            Some(l) if l.line == first.line && l.col.saturating_add(l.width) > first.col => {
                l.col.saturating_add(l.width) - first.col
            }
            _ => first.width,
        };
        Span::new(self.file, first.line, first.col, len)
    }

    /// Span of the start of the view (for diagnostics about the whole line).
    pub fn line_span(&self) -> Span {
        let end = self.s.len();
        if self.start < end {
            self.span(self.start, end)
        } else {
            let o = self.origin_at(self.start).unwrap_or(Origin {
                line: 0,
                col: 0,
                width: 0,
            });
            Span::new(self.file, o.line, o.col, 0)
        }
    }

    /// Force a per-byte map (before edits that break column continuity).
    fn make_per_byte(&mut self) {
        if matches!(self.map, PosMap::PerByte(_)) {
            return;
        }
        let mut v = Vec::with_capacity(self.s.len());
        for (i, ch) in self.s.as_str().char_indices() {
            let o = self.origin_at(i).unwrap_or(Origin {
                line: 0,
                col: 0,
                width: 0,
            });
            for _ in 0..ch.len_utf8() {
                v.push(o);
            }
        }
        self.map = PosMap::PerByte(v);
    }

    /// A copy of view bytes `a..` (relative to the view) as a new text.
    pub fn tail_copy(&self, a: usize) -> Text {
        let abs = (self.start + a).min(self.s.len());
        let s = self.s.as_str()[abs..].to_string();
        let map = match &self.map {
            PosMap::Literal { line, .. } => {
                let o = self.origin_at(abs).map(|o| o.col).unwrap_or(1);
                PosMap::Literal {
                    line: *line,
                    col: o,
                    ascii: s.is_ascii(),
                }
            }
            PosMap::Ref(o) => PosMap::Ref(*o),
            PosMap::PerByte(v) => PosMap::PerByte(v[abs..].to_vec()),
        };
        Text {
            s: Backing::Owned(s),
            start: 0,
            file: self.file,
            map,
            cursor: Cell::new((0, 0)),
            no_subst_from: Cell::new(None),
        }
    }
}

/// Builds a new [`Text`] out of pieces of others and inserted strings.
pub(crate) struct TextBuilder {
    pub s: String,
    origins: Vec<Origin>,
    file: FileId,
}

impl TextBuilder {
    pub fn new(file: FileId, cap: usize) -> Self {
        TextBuilder {
            s: String::with_capacity(cap),
            origins: Vec::with_capacity(cap),
            file,
        }
    }

    /// Copy absolute bytes `a..b` of `t` (char boundaries) with their
    /// origins.
    pub fn push_from(&mut self, t: &Text, a: usize, b: usize) {
        if a >= b {
            return;
        }
        let piece = &t.s.as_str()[a..b];
        match &t.map {
            PosMap::PerByte(v) => self.origins.extend_from_slice(&v[a..b]),
            PosMap::Ref(o) => self.origins.extend(std::iter::repeat_n(*o, b - a)),
            PosMap::Literal { .. } => {
                for (i, ch) in piece.char_indices() {
                    let o = t.origin_at(a + i).unwrap_or(Origin {
                        line: 0,
                        col: 0,
                        width: 0,
                    });
                    for _ in 0..ch.len_utf8() {
                        self.origins.push(o);
                    }
                }
            }
        }
        self.s.push_str(piece);
    }

    /// Append `s`, every byte pointing at `origin`.
    pub fn push_str(&mut self, s: &str, origin: Origin) {
        self.s.push_str(s);
        self.origins.extend(std::iter::repeat_n(origin, s.len()));
    }

    pub fn finish(self) -> Text {
        Text {
            s: Backing::Owned(self.s),
            start: 0,
            file: self.file,
            map: PosMap::PerByte(self.origins),
            cursor: Cell::new((0, 0)),
            no_subst_from: Cell::new(None),
        }
    }
}

/// What [`decomment`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decommented {
    /// An odd number of `"` (keepalived: "Unterminated quote", GENERAL_ERROR).
    pub unterminated_quote: bool,
    /// A `\#` or `\!` outside quotes lost its backslash.
    pub escapes_removed: bool,
}

/// keepalived's `decomment()`: drop leading blanks; cut at the first `#` or
/// `!` outside double quotes; outside quotes `\#` and `\!` lose their
/// backslash; drop trailing blanks, also those before a final `\` (which
/// stays: it continues a multi-line definition).
pub(crate) fn decomment(t: &mut Text) -> Decommented {
    let mut res = Decommented::default();
    let lead = t.view().bytes().take_while(|&b| is_blank(b)).count();
    t.advance(lead);
    let base = t.start;
    let bytes = t.s.as_str().as_bytes();
    // Fast path: most lines hold none of the bytes handled below, and a
    // branch-free scan for them (which the compiler vectorizes) is several
    // times cheaper than the byte-by-byte state machine.
    let special = bytes[base..].iter().fold(false, |acc, &b| {
        acc | matches!(b, b'"' | b'\\' | b'#' | b'!')
    });
    if !special {
        let trail = t.view().bytes().rev().take_while(|&b| is_blank(b)).count();
        let keep = t.view().len() - trail;
        t.truncate_view(keep);
        return res;
    }
    let mut quote = false;
    let mut cont_at: Option<usize> = None;
    let mut skip: Option<usize> = None;
    let mut removals: Vec<usize> = Vec::new();
    let mut i = base;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if skip.is_none() {
                    quote = !quote;
                }
                i += 1;
            }
            b'\\' => {
                if i + 1 < bytes.len() {
                    if !quote && (bytes[i + 1] == b'#' || bytes[i + 1] == b'!') {
                        removals.push(i);
                        i += 2;
                    } else {
                        i += 2;
                    }
                    continue;
                }
                cont_at = Some(i);
                break;
            }
            b'#' | b'!' if !quote && skip.is_none() => {
                skip = Some(i);
                i += 1;
            }
            _ => i += 1,
        }
    }
    res.unterminated_quote = quote;
    let mut end = cont_at.unwrap_or(bytes.len());
    if let Some(s) = skip {
        end = end.min(s);
    }
    // Escapes after the cut point do not matter.
    removals.retain(|&r| r < end);
    let cont_origin = cont_at.and_then(|c| t.origin_at(c));
    t.s.truncate(end);
    if let PosMap::PerByte(v) = &mut t.map {
        v.truncate(end);
    }
    if !removals.is_empty() {
        res.escapes_removed = true;
        t.make_per_byte();
        let old_s = t.s.as_str();
        let mut s = String::with_capacity(old_s.len());
        let mut v = Vec::with_capacity(old_s.len());
        let old = match &t.map {
            PosMap::PerByte(o) => o.clone(),
            _ => Vec::new(),
        };
        let mut prev = 0;
        for &r in &removals {
            s.push_str(&old_s[prev..r]);
            v.extend_from_slice(&old[prev..r]);
            prev = r + 1;
        }
        s.push_str(&old_s[prev..]);
        v.extend_from_slice(&old[prev..]);
        t.s = Backing::Owned(s);
        t.map = PosMap::PerByte(v);
    }
    let trail = t.view().bytes().rev().take_while(|&b| is_blank(b)).count();
    let keep = t.view().len() - trail;
    t.truncate_view(keep);
    if let Some(o) = cont_origin {
        t.push_ascii(b'\\', o);
    }
    res
}

/// The first `{` or `}` of the view that is not inside double quotes, as an
/// offset into the view. A line that starts with a brace splits there; an
/// unterminated quote hides every later brace (keepalived stops looking).
pub(crate) fn find_brace(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    if matches!(b.first(), Some(b'{') | Some(b'}')) {
        return Some(0);
    }
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'}' => return Some(i),
            b'"' => match b[i + 1..].iter().position(|&c| c == b'"') {
                Some(q) => i += q + 2,
                None => return None,
            },
            _ => i += 1,
        }
    }
    None
}

/// keepalived's `alloc_strvec_r()`: split absolute bytes `a..b` of `t`
/// into words at white space; a word starting with `"` runs to the next
/// `"` and loses its quotes; a `"` also ends an unquoted word. Returns the
/// words and whether a quote was left open (keepalived then drops the rest
/// of the line).
pub(crate) fn split_words(t: &Text, a: usize, b: usize) -> (Vec<Word>, bool) {
    let bytes = &t.s.as_str().as_bytes()[..b];
    // Size the vector from a quick count of blank-separated runs: most
    // statements have one to three words, and a default-sized vector
    // would waste more memory than the words themselves.
    let mut runs = 0;
    let mut in_word = false;
    for &c in &bytes[a..] {
        let w = !is_word_space(c);
        if w && !in_word {
            runs += 1;
        }
        in_word = w;
    }
    let mut words = Vec::with_capacity(runs);
    let mut i = a;
    loop {
        while i < b && is_word_space(bytes[i]) {
            i += 1;
        }
        if i >= b {
            return (words, false);
        }
        let tok = i;
        if bytes[i] == b'"' {
            match bytes[i + 1..].iter().position(|&c| c == b'"') {
                Some(q) => {
                    let end = i + 1 + q;
                    words.push(Word {
                        text: CompactString::from(&t.s.as_str()[i + 1..end]),
                        span: t.span(tok, end + 1),
                    });
                    i = end + 1;
                }
                None => return (words, true),
            }
        } else {
            while i < b && !is_word_space(bytes[i]) && bytes[i] != b'"' {
                i += 1;
            }
            words.push(Word {
                text: CompactString::from(&t.s.as_str()[tok..i]),
                span: t.span(tok, i),
            });
        }
    }
}

/// Split one physical line (already free of its line ending) into logical
/// lines with keepalived's lexical rules only (comments, quotes, braces; no
/// preprocessing). `line` is 1-based. Kept for callers that lex a single
/// line; the full pipeline is `preproc::read_config`.
pub fn split_line(
    file: FileId,
    line: u32,
    text: &str,
    diags: &mut Diagnostics,
) -> Vec<LogicalLine> {
    let mut t = Text::literal(text.to_string(), file, line, 1);
    let d = decomment(&mut t);
    if d.unterminated_quote {
        diags.push(Diagnostic::error(
            ErrClass::GeneralError,
            Some(t.line_span()),
            format!("Unterminated quote '{}'", t.view()),
        ));
    }
    let mut out = Vec::new();
    while !t.is_empty() {
        if let Some(l) = take_statement(&mut t, diags) {
            out.push(l);
        }
    }
    out
}

/// Take the next statement off the front of `t` (keepalived's brace split
/// in `read_line`): a lone brace, or the text up to the first brace. The
/// rest stays in `t` (the "line residue").
pub(crate) fn take_statement(t: &mut Text, diags: &mut Diagnostics) -> Option<LogicalLine> {
    let lead = t.view().bytes().take_while(|&b| is_blank(b)).count();
    t.advance(lead);
    let v = t.view();
    if v.is_empty() {
        return None;
    }
    let (piece_len, next) = match find_brace(v) {
        Some(0) => {
            let blanks = v.as_bytes()[1..]
                .iter()
                .take_while(|&&b| is_blank(b))
                .count();
            (1, 1 + blanks)
        }
        Some(k) => (k, k),
        None => (v.len(), v.len()),
    };
    let a = t.start();
    let piece = &v[..piece_len];
    let trimmed = piece.trim_end_matches([' ', '\t']).len();
    let b = a + trimmed;
    let line = statement(t, a, b, diags);
    t.advance(next);
    line
}

/// The logical line for absolute bytes `a..b` of `t`.
pub(crate) fn statement(
    t: &Text,
    a: usize,
    b: usize,
    diags: &mut Diagnostics,
) -> Option<LogicalLine> {
    if a >= b {
        return None;
    }
    let raw = &t.s.as_str()[a..b];
    let (words, open_quote) = split_words(t, a, b);
    if open_quote {
        diags.push(Diagnostic::error(
            ErrClass::UnmatchedQuote,
            Some(t.span(a, b)),
            format!("Unmatched quote: '{raw}'"),
        ));
    }
    if words.is_empty() {
        return None;
    }
    Some(LogicalLine {
        words,
        raw: CompactString::from(raw),
        span: t.span(a, b),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        let mut d = Diagnostics::new();
        split_line(FileId(0), 1, text, &mut d)
            .into_iter()
            .map(|l| l.words.into_iter().map(|w| w.text.to_string()).collect())
            .collect()
    }

    fn dec(s: &str) -> (String, Decommented) {
        let mut t = Text::literal(s.to_string(), FileId(0), 1, 1);
        let d = decomment(&mut t);
        (t.view().to_string(), d)
    }

    #[test]
    fn braces_split_and_comments_cut() {
        assert_eq!(
            words("track_script { chk } # c"),
            vec![vec!["track_script"], vec!["{"], vec!["chk"], vec!["}"]]
        );
        assert_eq!(
            words("router_id lb-a ! bang"),
            vec![vec!["router_id", "lb-a"]]
        );
        assert_eq!(words(r#"script "a # b""#), vec![vec!["script", "a # b"]]);
    }

    #[test]
    fn spans_are_columns() {
        let mut d = Diagnostics::new();
        let l = split_line(FileId(0), 3, "  priority 100", &mut d);
        assert_eq!(l[0].words[1].span, Span::new(FileId(0), 3, 12, 3));
        assert_eq!(l[0].raw, "priority 100");
        assert_eq!(l[0].span, Span::new(FileId(0), 3, 3, 12));
    }

    #[test]
    fn spans_count_characters_not_bytes() {
        let mut d = Diagnostics::new();
        let l = split_line(FileId(0), 1, "é x", &mut d);
        assert_eq!(l[0].words[1].span, Span::new(FileId(0), 1, 3, 1));
        let l = split_line(FileId(0), 1, "aé b", &mut d);
        assert_eq!(l[0].words[0].span, Span::new(FileId(0), 1, 1, 2));
    }

    #[test]
    fn decomment_like_keepalived() {
        assert_eq!(dec("  a b  # c").0, "a b");
        assert_eq!(dec("a \"#\" b").0, "a \"#\" b");
        // Escaped comment characters lose the backslash outside quotes only.
        assert_eq!(dec(r"a\#b").0, "a#b");
        assert!(dec(r"a\#b").1.escapes_removed);
        assert_eq!(dec(r#""a\#b""#).0, r#""a\#b""#);
        // Trailing backslash stays, blanks before it go.
        assert_eq!(dec("x = \\").0, "x =\\");
        assert_eq!(dec("a # b \\").0, "a\\");
        assert!(dec("a \" b").1.unterminated_quote);
        assert_eq!(dec("!x").0, "");
    }

    #[test]
    fn escaped_hash_keeps_columns() {
        let mut t = Text::literal(r"ab\#cd x".to_string(), FileId(0), 1, 1);
        decomment(&mut t);
        assert_eq!(t.view(), "ab#cd x");
        let (w, _) = split_words(&t, 0, t.view().len());
        assert_eq!(w[1].span, Span::new(FileId(0), 1, 8, 1));
        assert_eq!(w[0].span, Span::new(FileId(0), 1, 1, 6));
    }

    #[test]
    fn quotes_split_words_like_alloc_strvec() {
        assert_eq!(words(r#"a"b c"d"#), vec![vec!["a", "b c", "d"]]);
        let mut d = Diagnostics::new();
        let l = split_line(FileId(0), 1, r#"a "b"#, &mut d);
        assert_eq!(l[0].words.len(), 1);
        assert_eq!(d.items[0].class, Some(ErrClass::GeneralError));
        assert!(d
            .items
            .iter()
            .any(|x| x.class == Some(ErrClass::UnmatchedQuote)));
    }

    #[test]
    fn brace_search_skips_quotes() {
        assert_eq!(find_brace(r#"a "{" {"#), Some(6));
        assert_eq!(find_brace(r#"a "{ b"#), None);
        assert_eq!(find_brace("} x"), Some(0));
        assert_eq!(
            words(r#"a "{" { b }"#),
            vec![vec!["a", "{"], vec!["{"], vec!["b"], vec!["}"]]
        );
    }

    #[test]
    fn many_braces_on_one_line_are_linear() {
        let s = "{".repeat(200_000);
        let mut d = Diagnostics::new();
        let l = split_line(FileId(0), 1, &s, &mut d);
        assert_eq!(l.len(), 200_000);
        assert_eq!(l[199_999].span.col, 200_000);
    }
}
