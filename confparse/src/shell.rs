//! Shell-like tokenizer for script keywords (reference 1.3): keepalived's
//! `alloc_strvec_quoted_escaped()`, used for `script`, `notify*`,
//! `misc_path` and the like. Both `"` and `'` quote, quotes may be glued
//! to text (`ab" c"d` is `ab cd`), and C escapes are decoded: `\a \b \E \f
//! \n \r \t \v`, `\nnn` (octal, up to 3 digits), `\xHH..`, `\cC` (control
//! character), and `\` before anything else gives that character. The
//! result is argv for a direct exec, not a shell command line.

use crate::diag::ErrClass;
use thiserror::Error;

/// Why a script line could not be split.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShellError {
    /// keepalived: "String '...': missing terminating `QUOTE`"
    /// (CONFIG_UNMATCHED_QUOTE).
    #[error("String '{line}': missing terminating {quote}")]
    UnterminatedQuote { line: String, quote: char },
    /// keepalived: "Missing escape char at end: '...'" (only logged).
    #[error("Missing escape char at end: '{line}'")]
    TrailingBackslash { line: String },
    /// An escape produced bytes that are not UTF-8 (e.g. `\xff`).
    #[error("String '{line}': escape sequences give invalid UTF-8")]
    NotUtf8 { line: String },
}

impl ShellError {
    /// keepalived's class for the problem (`None`: only logged, it does
    /// not change the `-t` exit status).
    pub fn class(&self) -> Option<ErrClass> {
        match self {
            ShellError::UnterminatedQuote { .. } => Some(ErrClass::UnmatchedQuote),
            ShellError::TrailingBackslash { .. } | ShellError::NotUtf8 { .. } => None,
        }
    }
}

fn is_space(b: u8) -> bool {
    crate::lexer::is_word_space(b)
}

/// Split a script line into words. An empty line gives no words.
pub fn split(raw: &str) -> Result<Vec<String>, ShellError> {
    let b = raw.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    let mut quote: u8 = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        while i < b.len() {
            let c = b[i];
            let special = match quote {
                b'"' => c == b'"' || c == b'\\',
                b'\'' => c == b'\'' || c == b'\\',
                _ => is_space(c) || c == b'\'' || c == b'"' || c == b'\\',
            };
            if !special {
                word.push(c);
                i += 1;
                continue;
            }
            if c == b'\\' {
                i += 1;
                let Some(&e) = b.get(i) else {
                    return Err(ShellError::TrailingBackslash {
                        line: raw.to_string(),
                    });
                };
                let next = b.get(i + 1).copied();
                let out = if e == b'x' && next.is_some_and(|n| n.is_ascii_hexdigit()) {
                    // All following hex digits; the value wraps to a byte
                    // like keepalived's `char`.
                    i += 1;
                    let mut v: u8 = 0;
                    while let Some(d) = b.get(i).and_then(|&d| (d as char).to_digit(16)) {
                        v = (v << 4) | d as u8;
                        i += 1;
                    }
                    v
                } else if e == b'c' && next.is_some() {
                    i += 2;
                    next.unwrap_or(0) & 0x1f
                } else if (b'0'..=b'7').contains(&e) {
                    let mut v: u8 = e - b'0';
                    i += 1;
                    for _ in 0..2 {
                        match b.get(i) {
                            Some(&d) if (b'0'..=b'7').contains(&d) => {
                                v = (v << 3).wrapping_add(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    v
                } else {
                    i += 1;
                    match e {
                        b'a' => 0x07,
                        b'b' => 0x08,
                        b'E' => 0x1b,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'v' => 0x0b,
                        other => other,
                    }
                };
                word.push(out);
                continue;
            }
            if quote != 0 {
                // The closing quote.
                quote = 0;
                i += 1;
                continue;
            }
            if c == b'"' || c == b'\'' {
                quote = c;
                i += 1;
                continue;
            }
            // White space ends the word.
            break;
        }
        if quote != 0 {
            return Err(ShellError::UnterminatedQuote {
                line: raw.to_string(),
                quote: quote as char,
            });
        }
        // keepalived copies the word with strndup(), which stops at a NUL
        // produced by an escape.
        if let Some(nul) = word.iter().position(|&c| c == 0) {
            word.truncate(nul);
        }
        match String::from_utf8(word) {
            Ok(w) => words.push(w),
            Err(_) => {
                return Err(ShellError::NotUtf8 {
                    line: raw.to_string(),
                })
            }
        }
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<String> {
        split(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn quotes_and_glue() {
        assert_eq!(
            ok(r#"/etc/notify.sh 'two words' MASTER"#),
            vec!["/etc/notify.sh", "two words", "MASTER"]
        );
        assert_eq!(ok(r#"ab" c"d"#), vec!["ab cd"]);
        assert_eq!(ok(r#"a'"'b "'" """#), vec![r#"a"b"#, "'", ""]);
        assert_eq!(ok("  "), Vec::<String>::new());
    }

    #[test]
    fn escapes() {
        assert_eq!(ok(r"a\tb"), vec!["a\tb"]);
        assert_eq!(ok(r"\x41\x4a"), vec!["AJ"]);
        assert_eq!(ok(r"\101\60"), vec!["A0"]);
        assert_eq!(ok(r"\cA\E"), vec!["\u{1}\u{1b}"]);
        assert_eq!(ok(r#"a\ b \"q\" '\''"#), vec!["a b", "\"q\"", "'"]);
        assert_eq!(ok(r"\q\x"), vec!["qx"]);
        // A NUL from an escape ends the word (strndup).
        assert_eq!(ok(r"ab\0cd e"), vec!["ab", "e"]);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            split("a 'b"),
            Err(ShellError::UnterminatedQuote { quote: '\'', .. })
        ));
        assert_eq!(
            split("a \"b").map_err(|e| e.class()),
            Err(Some(ErrClass::UnmatchedQuote))
        );
        assert!(matches!(
            split("a\\"),
            Err(ShellError::TrailingBackslash { .. })
        ));
        assert!(matches!(split(r"\xff"), Err(ShellError::NotUtf8 { .. })));
    }
}
