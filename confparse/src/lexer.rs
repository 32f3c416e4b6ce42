//! Turns configuration text into logical lines of words, each word with its
//! span (reference 1.1). This first version handles comments, double quotes
//! and brace splitting; the preprocessing steps (include, `@id`, `$NAME`,
//! `~SEQ`) are layered on top of it in `preproc`.

use crate::diag::{Diagnostic, Diagnostics, ErrClass};
use crate::source::{FileId, Span};
use serde::Serialize;

/// One word of a logical line: its text with quotes removed, and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

/// One statement: a keyword and its arguments, or a lone `{` / `}`.
/// `raw` is the statement's text after preprocessing and before word
/// splitting, for keywords that re-tokenize it with the shell-like rules
/// (`script`, `notify*`, `misc_path`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogicalLine {
    pub words: Vec<Word>,
    pub raw: String,
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

/// Split one physical line (already free of its line ending) into logical
/// lines. `line` is 1-based. Comments (`#`, `!` outside double quotes) end
/// the line; each brace outside quotes becomes its own logical line.
pub fn split_line(
    file: FileId,
    line: u32,
    text: &str,
    diags: &mut Diagnostics,
) -> Vec<LogicalLine> {
    let chars: Vec<char> = text.chars().collect();
    // Cut the comment: the first # or ! outside double quotes.
    let mut end = chars.len();
    let mut in_q = false;
    let mut quotes = 0usize;
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '"' => {
                in_q = !in_q;
                quotes += 1;
            }
            '#' | '!' if !in_q => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    if quotes % 2 == 1 {
        let col = chars.iter().rposition(|&c| c == '"').unwrap_or(0) as u32 + 1;
        diags.push(Diagnostic::error(
            ErrClass::UnmatchedQuote,
            Some(Span::new(file, line, col, 1)),
            "Unterminated quote",
        ));
    }
    let chars = &chars[..end];

    let mut out = Vec::new();
    let mut cur: Vec<Word> = Vec::new();
    let mut raw_start: Option<usize> = None;
    let mut i = 0;
    let flush = |cur: &mut Vec<Word>,
                 raw_start: &mut Option<usize>,
                 upto: usize,
                 out: &mut Vec<LogicalLine>| {
        if let (Some(first), Some(rs)) = (cur.first(), *raw_start) {
            let raw: String = chars[rs..upto]
                .iter()
                .collect::<String>()
                .trim_end()
                .to_string();
            let span = Span::new(file, line, first.span.col, raw.chars().count() as u32);
            out.push(LogicalLine {
                words: std::mem::take(cur),
                raw,
                span,
            });
        }
        *raw_start = None;
    };
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '{' || c == '}' {
            flush(&mut cur, &mut raw_start, i, &mut out);
            let span = Span::new(file, line, i as u32 + 1, 1);
            out.push(LogicalLine {
                words: vec![Word {
                    text: c.to_string(),
                    span,
                }],
                raw: c.to_string(),
                span,
            });
            i += 1;
            continue;
        }
        if raw_start.is_none() {
            raw_start = Some(i);
        }
        let start = i;
        let mut text = String::new();
        if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                text.push(chars[i]);
                i += 1;
            }
            i += 1; // closing quote (or end of line)
        } else {
            while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '{' && chars[i] != '}'
            {
                text.push(chars[i]);
                i += 1;
            }
        }
        let len = (i.min(chars.len()) - start) as u32;
        cur.push(Word {
            text,
            span: Span::new(file, line, start as u32 + 1, len),
        });
    }
    flush(&mut cur, &mut raw_start, chars.len(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<String>> {
        let mut d = Diagnostics::new();
        split_line(FileId(0), 1, text, &mut d)
            .into_iter()
            .map(|l| l.words.into_iter().map(|w| w.text).collect())
            .collect()
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
    }
}
