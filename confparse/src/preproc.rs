//! Reads the configuration files and runs the per-line preprocessing
//! pipeline of keepalived (reference 1.1): comments, `@id` conditionals,
//! `$NAME` definitions and substitution, `~SEQ`/`~LST` generators,
//! `include`, brace splitting. Output: logical lines with spans.
//!
//! This first version reads one file and splits it; the rest of the
//! pipeline is added step by step.

use crate::diag::{Diagnostic, Diagnostics, ErrClass};
use crate::lexer::{split_line, LogicalLine};
use crate::source::SourceMap;
use std::path::Path;

/// Options that change what the preprocessor produces.
#[derive(Debug, Clone, Default)]
pub struct PreprocOptions {
    /// The id `@ID` lines are matched against (`-i`; default host name up
    /// to the first dot).
    pub config_id: Option<String>,
    /// `-e/--all-config`: every missing include is fatal.
    pub all_config: bool,
}

/// Read `path` and everything it includes into logical lines.
pub fn read_config(
    path: &Path,
    _opts: &PreprocOptions,
    sources: &mut SourceMap,
    diags: &mut Diagnostics,
) -> Vec<LogicalLine> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            diags.push(Diagnostic::error(
                ErrClass::FileNotFound,
                None,
                format!(
                    "Configuration file '{}' could not be read: {e}",
                    path.display()
                ),
            ));
            return Vec::new();
        }
    };
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let file = sources.add(path.to_path_buf(), text.clone());
    let mut out = Vec::new();
    for (i, l) in text.split('\n').enumerate() {
        let l = l.strip_suffix('\r').unwrap_or(l);
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        out.extend(split_line(file, lineno, l, diags));
    }
    out
}
