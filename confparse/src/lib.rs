//! keepalived.conf → validated, defaults-filled [`Model`]. Pure: reads files,
//! opens no sockets and starts no threads. The same path serves `-t` and the
//! daemon.

pub mod diag;
pub mod lexer;
pub mod lvs;
pub mod preproc;
pub mod shell;
pub mod source;

pub use diag::{Diagnostic, Diagnostics, ErrClass, Severity};
pub use source::{FileId, SourceMap, Span};
