//! Typed errors of the library layers, and the one [`Error`] that carries any of them to the
//! exit-code mapping (`cli::exit`). A leaf: it imports nothing from the crate.

use std::path::PathBuf;

/// A problem with an input file (a stock CSV, an inventory JSON, a config file), or one
/// problem of a config file.
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

/// A broken rule pack: every problem found (loading, compiling), each naming its file and,
/// when known, `line:col` (`rules/x/r.yaml:4:7: ...`).
#[derive(Debug, thiserror::Error)]
#[error("rule pack error{}:\n{}", plural(.problems), .problems.join("\n"))]
pub struct PackError {
    pub problems: Vec<String>,
}

/// Param overrides (`--param`, the config's `params` and `rule_params`) that do not fit the
/// loaded packs: an unknown rule or param, a value of the wrong type. Each names its origin
/// (`--param`, or `config FILE:LINE:COL`).
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ParamsError {
    pub problems: Vec<String>,
}

/// A config file that cannot be used: every problem at once, each at `file:line:col`
/// (reading and YAML syntax problems included).
#[derive(Debug, thiserror::Error)]
#[error("{}{}", if .problems.len() > 1 { "config file errors:\n" } else { "" }, lines(.problems))]
pub struct ConfigError {
    pub problems: Vec<InputError>,
}

/// A waivers file that cannot be used: every problem at once, each at `file:line[:col]`.
#[derive(Debug, thiserror::Error)]
#[error("waivers file error{}:\n{}", plural(.problems), .problems.join("\n"))]
pub struct WaiversError {
    pub problems: Vec<String>,
}

fn plural<T>(list: &[T]) -> &'static str {
    if list.len() > 1 {
        "s"
    } else {
        ""
    }
}

fn lines(problems: &[InputError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Everything that can stop a command, by layer. `cli::exit::report` turns any of them into
/// the message on stderr and exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input data: a stock CSV, an inventory or findings JSON.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A bad config file.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A broken rule pack.
    #[error(transparent)]
    Rules(#[from] PackError),
    /// Param overrides that do not fit the packs.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// A bad waivers file.
    #[error(transparent)]
    Waivers(#[from] WaiversError),
    /// A bad command line (a flag's value, a flag that does not apply).
    #[error("{0}")]
    Usage(String),
    /// `scan` stopped without an inventory: no credentials, no caller identity, no
    /// Organization, interrupted (exit 2). The collector's typed error (`collect::ScanError`,
    /// which converts into this variant) is kept whole, not flattened to its text; boxed so
    /// this leaf module names no layer above it.
    #[error(transparent)]
    Scan(Box<dyn std::error::Error + Send + Sync>),
    /// Writing an output failed.
    #[error("cannot write {}: {source}", .path.display())]
    Output {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
