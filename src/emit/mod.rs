//! Emitters: translate a [`Report`](crate::engine::Report) into files. Every file is written
//! to a temporary name in the output folder and renamed into place, so a final name never
//! holds a half-written file.

pub mod html;
pub mod json;
pub mod md;
pub mod remediation;
pub mod sarif;
pub mod summary;

use std::collections::BTreeSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::analysis::remediation::SlaDays;
use crate::engine::Report;
use crate::error::Error;
use crate::inventory::json::write_inventory;
use crate::inventory::stock_csv::{write_events, write_report, write_root, WriteOptions};
use crate::inventory::Field;

/// An output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// The stock CSVs and the remediation list.
    Csv,
    /// Findings JSON and inventory JSON.
    Json,
    /// Findings SARIF (GitHub code scanning).
    Sarif,
    /// The self-contained HTML report.
    Html,
    /// The Markdown summary (a CI job summary or a pull-request comment).
    Md,
}

impl Format {
    pub fn parse_list(s: &str) -> Result<BTreeSet<Format>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(|f| match f {
                "csv" => Ok(Format::Csv),
                "json" => Ok(Format::Json),
                "sarif" => Ok(Format::Sarif),
                "html" => Ok(Format::Html),
                "md" => Ok(Format::Md),
                other => Err(format!(
                    "--format {other}: unknown format (available: csv, json, sarif, html, md)"
                )),
            })
            .collect()
    }

    /// Every format: what is written when none is asked for.
    pub fn all() -> BTreeSet<Format> {
        BTreeSet::from([
            Format::Csv,
            Format::Json,
            Format::Sarif,
            Format::Html,
            Format::Md,
        ])
    }
}

/// Where and what to write.
#[derive(Clone, Debug)]
pub struct OutputOptions {
    pub out_dir: PathBuf,
    pub formats: BTreeSet<Format>,
    /// `YYYYMMDD_HHMMSS` of the run.
    pub stamp: String,
    /// Write the report as the original tool did: key rows only.
    pub stock_keys_only: bool,
    /// Input files that must never be overwritten (an output with the same path is skipped).
    pub inputs: Vec<PathBuf>,
    pub sla: SlaDays,
    /// The rules of the run (SARIF rule metadata).
    pub rules: Vec<std::sync::Arc<crate::rules::pack::Rule>>,
    /// What the SARIF file includes beyond open findings above info.
    pub sarif: SarifInclude,
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

/// Writes the content of one output file.
type Fill<'a> = Box<dyn FnOnce(&mut dyn Write) -> std::io::Result<()> + Send + 'a>;

/// Writes `path` atomically: a temporary file beside it, flushed, then renamed.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let err = |source| Error::Output {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        fill(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?;
        // No fsync: the rename keeps a half file from ever bearing the final name while the
        // system runs; syncing too would cost 1.3 s on the 1M-row benchmark's 892 MB.
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Writes every requested output; returns the paths written and the ones skipped because
/// they are inputs of the run.
pub fn write_outputs(
    report: &Report,
    findings: &json::FindingsV1,
    opts: &OutputOptions,
) -> Result<(Vec<PathBuf>, Vec<PathBuf>), Error> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|source| Error::Output {
        path: opts.out_dir.clone(),
        source,
    })?;
    let inv = &report.inventory;
    let stamp = &opts.stamp;
    // The remediation tasks (all findings, sorted) once, for the CSV and the HTML report.
    let all_tasks = if opts.formats.contains(&Format::Csv) || opts.formats.contains(&Format::Html) {
        crate::analysis::remediation::tasks(&report.findings, &report.as_of, &opts.sla)
    } else {
        Vec::new()
    };
    let tasks = all_tasks.as_slice();
    let mut jobs: Vec<(String, Fill<'_>)> = Vec::new();
    if opts.formats.contains(&Format::Csv) {
        let keys_only = opts.stock_keys_only;
        jobs.push((
            format!("iam_audit_report_{stamp}.csv"),
            Box::new(move |w| write_report(inv, &WriteOptions { keys_only }, w)),
        ));
        if inv.has(Field::Events) {
            jobs.push((
                format!("cloudtrail_events_{stamp}.csv"),
                Box::new(move |w| write_events(inv, w)),
            ));
        }
        if inv.has(Field::Root) && inv.accounts.iter().any(|a| a.root.is_some()) {
            jobs.push((
                format!("root_audit_report_{stamp}.csv"),
                Box::new(move |w| write_root(inv, w)),
            ));
        }
        jobs.push((
            format!("remediation_{stamp}.csv"),
            Box::new(move |w| remediation::write(tasks, w)),
        ));
    }
    if opts.formats.contains(&Format::Json) {
        jobs.push((
            format!("findings_{stamp}.json"),
            Box::new(move |w| json::write_findings(findings, &report.findings, w)),
        ));
        jobs.push((
            format!("inventory_{stamp}.json"),
            Box::new(move |w| write_inventory(inv, w)),
        ));
    }
    if opts.formats.contains(&Format::Sarif) {
        jobs.push((
            format!("findings_{stamp}.sarif"),
            Box::new(move |w| sarif::write(report, findings, opts, w)),
        ));
    }
    if opts.formats.contains(&Format::Html) {
        jobs.push((
            format!("report_{stamp}.html"),
            Box::new(move |w| w.write_all(html::render(report, findings, tasks).as_bytes())),
        ));
    }
    if opts.formats.contains(&Format::Md) {
        jobs.push((
            format!("report_{stamp}.md"),
            Box::new(move |w| w.write_all(md::render(report, findings).as_bytes())),
        ));
    }
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    let mut todo = Vec::new();
    for (name, fill) in jobs {
        let path = opts.out_dir.join(name);
        if opts.inputs.iter().any(|i| same_file(i, &path)) {
            skipped.push(path);
        } else {
            todo.push((path, fill));
        }
    }
    // Files are independent: write them in parallel (each still atomically).
    let results: Vec<Result<PathBuf, Error>> = todo
        .into_par_iter()
        .map(|(path, fill)| write_atomic(&path, fill).map(|()| path))
        .collect();
    for r in results {
        written.push(r?);
    }
    Ok((written, skipped))
}
