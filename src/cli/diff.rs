//! `iam-audit diff OLD NEW`: new, resolved and unchanged findings between two runs, and the
//! change in each summary metric.

use std::fmt::Write as _;

use crate::baseline::{diff, load, Diff};
use crate::cli::args::DiffArgs;
use crate::cli::exit::Outcome;
use crate::error::Error;
use crate::wire::FindingV1;

/// Runs the command; prints the table (or JSON) on stdout. Always [`Outcome::CLEAN`]: a
/// diff reports changes, it does not gate.
pub fn run(a: &DiffArgs) -> Result<Outcome, Error> {
    let old = load(&a.old)?;
    let new = load(&a.new)?;
    let d = diff(&old, &a.old, &new, &a.new);
    match a.format.as_str() {
        "json" => {
            let text = serde_json::to_string_pretty(&d)
                .map_err(|e| Error::Usage(format!("cannot render the diff: {e}")))?;
            println!("{text}");
        }
        "table" => print!("{}", render(&d, a.unchanged)),
        other => {
            return Err(Error::Usage(format!(
                "--format `{other}`: expected table or json"
            )))
        }
    }
    Ok(Outcome::CLEAN)
}

fn finding_line(out: &mut String, f: &FindingV1) {
    let who = [
        f.account_id.as_deref(),
        f.username.as_deref(),
        f.access_key_id.as_deref(),
    ]
    .iter()
    .flatten()
    .copied()
    .collect::<Vec<_>>()
    .join(" ");
    let _ = writeln!(
        out,
        "  {:<8}  {:<32}  {who}",
        f.severity.as_str(),
        f.rule_id
    );
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// The diff as a person reads it.
pub fn render(d: &Diff, with_unchanged: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (as of {}) → {} (as of {})",
        d.old.file, d.old.as_of, d.new.file, d.new.as_of
    );
    let _ = writeln!(
        out,
        "Findings: {} new, {} resolved, {} unchanged",
        d.counts.new, d.counts.resolved, d.counts.unchanged
    );
    let mut section = |title: &str, list: &[FindingV1]| {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title}");
            for f in list {
                finding_line(&mut out, f);
            }
        }
    };
    section("NEW", &d.new_findings);
    section("RESOLVED", &d.resolved_findings);
    if with_unchanged {
        section("UNCHANGED", &d.unchanged_findings);
    }
    let changed: Vec<_> = d.metrics.iter().filter(|m| m.old != m.new).collect();
    let _ = writeln!(out, "\nMETRICS ({} changed)", changed.len());
    let _ = writeln!(
        out,
        "  {:<34}  {:<22}  {:>8}  {:>8}  {:>8}",
        "scope", "metric", "old", "new", "change"
    );
    for m in &d.metrics {
        // Every organization-level metric; per account only those that changed.
        let org = matches!(
            m.scope.as_str(),
            "organization" | "production" | "non-production"
        );
        if !org && m.old == m.new {
            continue;
        }
        let scope = match &m.account_name {
            Some(n) => format!("{} {n}", m.scope),
            None => m.scope.clone(),
        };
        let change = match m.change {
            Some(c) if c > 0.0 => format!("+{}", number(Some(c))),
            other => number(other),
        };
        let _ = writeln!(
            out,
            "  {scope:<34}  {:<22}  {:>8}  {:>8}  {change:>8}",
            m.metric,
            number(m.old),
            number(m.new)
        );
    }
    out
}
