//! What every output format implements, and what it is given: the [`Emitter`] contract.

use std::io::Write;
use std::path::PathBuf;

use crate::run::RunReport;

/// One output format: the files it writes from a run report. Each format is one file of
/// this folder implementing this trait, registered in [`EMITTERS`](crate::emit::EMITTERS); `--format` values, their
/// help and the default set derive from that list.
pub trait Emitter: Sync {
    /// The `--format` value.
    fn name(&self) -> &'static str;
    /// What it writes, for `--help`.
    fn describe(&self) -> &'static str;
    /// The files of this format for a run, in the order the summary lists them.
    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>>;
}

/// A file to write: its name in the output folder and what fills it.
pub struct OutputFile<'a> {
    pub name: String,
    pub fill: Fill<'a>,
}

impl<'a> OutputFile<'a> {
    pub fn new(
        name: String,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'a,
    ) -> OutputFile<'a> {
        OutputFile {
            name,
            fill: Box::new(fill),
        }
    }
}

/// Writes the content of one output file.
pub type Fill<'a> = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'a>;

/// Where and what to write.
#[derive(Clone, Debug)]
pub struct OutputOptions {
    pub out_dir: PathBuf,
    /// `YYYYMMDD_HHMMSS` of the run.
    pub stamp: String,
    /// Write the report as the original tool did: key rows only.
    pub stock_keys_only: bool,
    /// Input files that must never be overwritten (an output with the same path is skipped).
    pub inputs: Vec<PathBuf>,
    /// What the SARIF file includes beyond open findings above info.
    pub sarif: SarifInclude,
    /// With `--history`: the history's lines and this run's, oldest first (the HTML report
    /// draws the trend from them).
    pub history: Option<Vec<crate::wire::HistoryLineV1>>,
}

/// `--sarif-include`: info findings and waived findings are left out of SARIF unless asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SarifInclude {
    pub info: bool,
    pub waived: bool,
}

impl SarifInclude {
    pub fn parse(s: &str) -> Result<SarifInclude, String> {
        let mut out = SarifInclude::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            match item {
                "info" => out.info = true,
                "waived" => out.waived = true,
                other => {
                    return Err(format!(
                        "--sarif-include `{other}`: expected info, waived or both"
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// The name a unit enum value has in the JSON outputs (`stock-csv`, `partial`, ...).
pub fn wire_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
