//! Source files read while loading a configuration, and spans into them.

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FileId(pub u32);

/// A place in a source file: 1-based line and column (in characters), and the
/// length of the marked text in characters (0 = a point).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(file: FileId, line: u32, col: u32, len: u32) -> Self {
        Span {
            file,
            line,
            col,
            len,
        }
    }
}

/// One file that was read, with an index of its line starts for diagnostics.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// Shared with the preprocessor, which reads its lines from the same
    /// copy (a second copy was 4.8 MiB at 2,000 x 20 virtual servers).
    pub text: Arc<str>,
    /// Byte offset of the start of every line, built on the first
    /// [`SourceFile::line`] call: rendering one diagnostic per instance of a
    /// 100k-line file used to rescan the text from the top each time
    /// (quadratic).
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: PathBuf, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            path,
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    /// The text of 1-based line `line`, without its line ending.
    pub fn line(&self, line: u32) -> Option<&str> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        let starts = self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(after_newlines(&self.text))
                .collect()
        });
        let begin = *starts.get(idx)?;
        // A line ends at the next start's '\n', or at the end of the text.
        let end = starts
            .get(idx + 1)
            .map(|&next| next - 1)
            .unwrap_or(self.text.len());
        let l = self.text.get(begin..end)?;
        Some(l.strip_suffix('\r').unwrap_or(l))
    }
}

/// Offsets just past every '\n' of `text`.
fn after_newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'\n')
        .map(|(i, _)| i + 1)
}

/// Every file read while loading one configuration.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: PathBuf, text: String) -> FileId {
        self.add_shared(path, Arc::from(text))
    }

    /// [`SourceMap::add`] for a text already shared.
    pub fn add_shared(&mut self, path: PathBuf, text: Arc<str>) -> FileId {
        let id = FileId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile::new(path, text));
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn path(&self, id: FileId) -> Option<&Path> {
        self.get(id).map(|f| f.path.as_path())
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile::new(PathBuf::from("t.conf"), text.to_string())
    }

    #[test]
    fn lines_match_split_on_newline() {
        let texts = [
            "",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "\n\nx\n",
            "é\n€x\r\n\n",
        ];
        for t in texts {
            let f = file(t);
            let want: Vec<&str> = t
                .split('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect();
            for (i, w) in want.iter().enumerate() {
                assert_eq!(f.line(i as u32 + 1), Some(*w), "{t:?} line {}", i + 1);
            }
            assert_eq!(f.line(want.len() as u32 + 1), None, "{t:?}");
            assert_eq!(f.line(0), None);
        }
    }
}
