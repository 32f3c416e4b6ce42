//! Diagnostics: what the loader reports, how keepalived would classify it
//! (which decides the `-t` exit status), and compiler-style rendering.

use crate::source::{SourceMap, Span};
use serde::Serialize;
use std::fmt::Write as _;

/// How serious a diagnostic is, as shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

/// keepalived 2.2.7's `config_err_t` (lib/parser.h), in its numeric order.
/// keepalived keeps the numerically highest class seen and derives the `-t`
/// exit status from it; we record the class of every diagnostic so that our
/// status is computed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrClass {
    FileNotFound = 1,
    BadIf = 2,
    Fatal = 3,
    MultipleFiles = 4,
    UnknownKeyword = 5,
    UnexpectedBob = 6,
    MissingBob = 7,
    UnexpectedEob = 8,
    MissingEob = 9,
    UnmatchedQuote = 10,
    MissingParameter = 11,
    InvalidNumber = 12,
    GeneralError = 13,
    Warning = 14,
    Deprecated = 15,
    SecurityError = 16,
}

/// keepalived's exit statuses for `-t` (observed on 2.2.7, reference 1.9).
pub mod exit {
    pub const OK: i32 = 0;
    /// "Configuration line starting ... is missing a parameter": keepalived
    /// exits at once with status 2, even under `-t`.
    pub const MISSING_PARAMETER: i32 = 2;
    pub const FATAL: i32 = 4;
    pub const PROBLEMS: i32 = 5;
    pub const SECURITY: i32 = 6;
}

/// One problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// keepalived's class for the same problem; `None` when keepalived 2.2.7
    /// reports nothing here (our own extra checks), so it does not change the
    /// exit status.
    pub class: Option<ErrClass>,
    pub span: Option<Span>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        class: Option<ErrClass>,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            class,
            span,
            message: message.into(),
            hint: None,
        }
    }

    pub fn error(class: ErrClass, span: Option<Span>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, Some(class), span, message)
    }

    pub fn warning(
        class: Option<ErrClass>,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, class, span, message)
    }

    pub fn note(class: Option<ErrClass>, span: Option<Span>, message: impl Into<String>) -> Self {
        Self::new(Severity::Note, class, span, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// All diagnostics of one load, in the order found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        // One diagnostic per problem: keepalived prints many twice (once per
        // parsing process); we drop exact repeats. Repeats are adjacent, so
        // only the last few are compared: a full scan made loading a
        // config with many diagnostics quadratic.
        if !self.items.iter().rev().take(16).any(|x| x == &d) {
            self.items.push(d);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The highest keepalived class seen, as keepalived keeps it.
    pub fn worst_class(&self) -> Option<ErrClass> {
        self.items.iter().filter_map(|d| d.class).max()
    }

    /// The exit status keepalived 2.2.7's `-t` gives for these diagnostics.
    pub fn exit_status(&self) -> i32 {
        if self
            .items
            .iter()
            .any(|d| d.class == Some(ErrClass::MissingParameter))
        {
            return exit::MISSING_PARAMETER;
        }
        match self.worst_class() {
            None => exit::OK,
            Some(ErrClass::SecurityError) => exit::SECURITY,
            Some(c) if c < ErrClass::MultipleFiles => exit::FATAL,
            Some(_) => exit::PROBLEMS,
        }
    }

    /// Render every diagnostic like a compiler does: location, severity,
    /// message, the source line with a caret under the offending text, hint.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        for d in &self.items {
            render_one(&mut out, d, sources);
        }
        out
    }

    /// One JSON object per diagnostic, for editors and CI.
    pub fn to_json(&self, sources: &SourceMap) -> serde_json::Value {
        let items: Vec<serde_json::Value> = self
            .items
            .iter()
            .map(|d| {
                let (file, line, col, len) = match d.span {
                    Some(s) => (
                        sources.path(s.file).map(|p| p.display().to_string()),
                        Some(s.line),
                        Some(s.col),
                        Some(s.len),
                    ),
                    None => (None, None, None, None),
                };
                serde_json::json!({
                    "severity": d.severity,
                    "class": d.class,
                    "file": file,
                    "line": line,
                    "column": col,
                    "length": len,
                    "message": d.message,
                    "hint": d.hint,
                })
            })
            .collect();
        serde_json::Value::Array(items)
    }
}

fn render_one(out: &mut String, d: &Diagnostic, sources: &SourceMap) {
    let sev = match d.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    match d.span.and_then(|s| sources.get(s.file).map(|f| (s, f))) {
        Some((s, f)) => {
            let _ = writeln!(
                out,
                "{}:{}:{}: {sev}: {}",
                f.path.display(),
                s.line,
                s.col,
                d.message
            );
            if let Some(text) = f.line(s.line) {
                let gutter = s.line.to_string();
                let pad = " ".repeat(gutter.len());
                let _ = writeln!(out, "{pad} |");
                let _ = writeln!(out, "{gutter} | {}", text.replace('\t', " "));
                let lead = " ".repeat(s.col.saturating_sub(1) as usize);
                let marks = "^".repeat(s.len.max(1) as usize);
                let _ = writeln!(out, "{pad} | {lead}{marks}");
            }
        }
        None => {
            let _ = writeln!(out, "{sev}: {}", d.message);
        }
    }
    if let Some(h) = &d.hint {
        let _ = writeln!(out, "  = help: {h}");
    }
}
