//! Typed errors of the library layers. The binary maps them to exit codes in one place.

use std::path::PathBuf;

/// A problem with an input file: a stock CSV, an inventory JSON, a config or waiver file.
/// Always names the file and, when known, the line and column.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", .path.display(), location(*.line, *.column))]
pub struct InputError {
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column (for CSV: the 1-based field number), when known.
    pub column: Option<u64>,
    pub message: String,
}

fn location(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        (Some(l), None) => format!(":{l}"),
        _ => String::new(),
    }
}

impl InputError {
    pub fn new(path: impl Into<PathBuf>, message: impl Into<String>) -> InputError {
        InputError {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(mut self, line: u64, column: Option<u64>) -> InputError {
        self.line = Some(line);
        self.column = column;
        self
    }
}

/// Everything that can stop a run before or after evaluation, by exit-code class.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input data (exit 2).
    #[error(transparent)]
    Input(#[from] InputError),
    /// A broken rule pack (exit 2). One message per problem.
    #[error("rule pack error{}:\n{}", if .0.len() > 1 { "s" } else { "" }, .0.join("\n"))]
    Rules(Vec<String>),
    /// A usage or configuration problem (exit 2).
    #[error("{0}")]
    Usage(String),
    /// `scan` stopped without an inventory: no credentials, no caller identity, no
    /// Organization, interrupted (exit 2).
    #[error(transparent)]
    Scan(#[from] crate::collect::ScanError),
    /// Writing an output failed.
    #[error("cannot write {}: {source}", .path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
