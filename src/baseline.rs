//! Baselines and diffs: a finding's id is a fingerprint of its rule and subject, so the same
//! finding has the same id in every run (scan, stock CSV or inventory JSON). Comparing two
//! runs' ids says which findings are new, unchanged or resolved.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::SecondsFormat;
use serde::Serialize;

use crate::analysis::metrics::Metrics;
use crate::error::{Error, InputError};
use crate::finding::Finding;
use crate::inventory::SourceKind;
use crate::vocab::{Change, Scope, Status};
use crate::wire::{
    AccountsV1, BaselineV1, FindingV1, FindingsV1, HistoryLineV1, SourceV1, SummaryV1, ToolV1,
    FINDINGS_SCHEMA_VERSION,
};

/// Reads a findings JSON written by iam-audit (this format version).
pub fn load(path: &Path) -> Result<FindingsV1, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(path, format!("cannot read findings JSON: {e}")))?;
    let doc = serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
        InputError::new(path, format!("not JSON: {e}")).at(e.line() as u64, Some(e.column() as u64))
    })?;
    let version = doc
        .get("schema_version")
        .and_then(serde_json::Value::as_u64);
    let ours = doc
        .pointer("/tool/name")
        .and_then(serde_json::Value::as_str)
        == Some("iam-audit")
        && doc.get("findings").is_some_and(serde_json::Value::is_array);
    if !ours || version != Some(u64::from(FINDINGS_SCHEMA_VERSION)) {
        return Err(InputError::new(
            path,
            format!(
                "not an iam-audit findings JSON of schema_version {FINDINGS_SCHEMA_VERSION} (found {})",
                version.map_or_else(|| "none".into(), |v| v.to_string())
            ),
        )
        .into());
    }
    serde_json::from_str(&text).map_err(|e| {
        InputError::new(path, format!("not a findings JSON: {e}"))
            .at(e.line() as u64, Some(e.column() as u64))
            .into()
    })
}

/// A run history's line as a baseline: its open findings (from `first_seen`) are the findings
/// of the earlier run. A history keeps each finding's id, rule and severity, not its subject:
/// the resolved ones carry their rule's title and scope when `rule` knows the rule id (the
/// rules of this run), else the id, and a message that says so.
pub fn from_history(
    line: &HistoryLineV1,
    rule: impl Fn(&str) -> Option<(String, Scope)>,
) -> FindingsV1 {
    let as_of = line.as_of.to_rfc3339_opts(SecondsFormat::Secs, true);
    let findings = line
        .open_findings()
        .into_iter()
        .map(|f| {
            let (title, scope) = rule(f.rule_id).unwrap_or_else(|| (f.rule_id.to_string(), Scope::Account));
            FindingV1 {
                id: f.id.to_string(),
                rule_id: f.rule_id.to_string(),
                title,
                severity: f.severity,
                scope,
                account_id: None,
                account_name: None,
                username: None,
                access_key_id: None,
                message: format!(
                    "open in the run history's line of {as_of} (first seen {}); the history keeps no subject",
                    f.first_seen.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
                evidence: serde_json::Map::new(),
                remediation: String::new(),
                tags: Vec::new(),
                status: Status::Open,
                change: None,
                waiver: None,
                remediated_by: None,
            }
        })
        .collect();
    FindingsV1 {
        schema_version: FINDINGS_SCHEMA_VERSION,
        tool: ToolV1 {
            name: "iam-audit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        as_of,
        source: SourceV1 {
            kind: SourceKind::Combined,
            files: Vec::new(),
            unavailable: Vec::new(),
        },
        fail_on: "none".into(),
        new_only: false,
        accounts: AccountsV1 {
            audited: Vec::new(),
            incomplete: Vec::new(),
            skipped: Vec::new(),
        },
        params: BTreeMap::new(),
        summary: SummaryV1 {
            findings_by_severity: line.open.clone(),
            gating_findings: 0,
            exit_code: 0,
            rules: Vec::new(),
            not_evaluable: Vec::new(),
            rule_errors: Vec::new(),
            metrics: line.metrics.clone(),
        },
        waivers: None,
        baseline: None,
        progress: None,
        findings,
    }
}

/// Marks each finding new or unchanged against `old`; returns the comparison (with the
/// baseline's findings that are gone).
pub fn apply(findings: &mut [Finding], old: &FindingsV1, file: &Path) -> BaselineV1 {
    let before: BTreeSet<&str> = old.findings.iter().map(|f| f.id.as_str()).collect();
    let (mut new, mut unchanged) = (0, 0);
    for f in findings.iter_mut() {
        if before.contains(f.id.as_str()) {
            f.change = Some(Change::Unchanged);
            unchanged += 1;
        } else {
            f.change = Some(Change::New);
            new += 1;
        }
    }
    let now: BTreeSet<&str> = findings.iter().map(|f| f.id.as_str()).collect();
    let resolved = old
        .findings
        .iter()
        .filter(|f| !now.contains(f.id.as_str()))
        .cloned()
        .collect();
    BaselineV1 {
        file: file.display().to_string(),
        as_of: old.as_of.clone(),
        new,
        unchanged,
        resolved,
    }
}

/// One metric in two runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricDelta {
    /// `organization`, `production`, `non-production` or an account id.
    pub scope: String,
    /// The account name (for an account scope).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    pub metric: String,
    pub old: Option<f64>,
    pub new: Option<f64>,
    /// `new - old` (absent when either is).
    pub change: Option<f64>,
}

/// Two runs compared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diff {
    pub old: RunRef,
    pub new: RunRef,
    pub counts: DiffCounts,
    pub new_findings: Vec<FindingV1>,
    pub resolved_findings: Vec<FindingV1>,
    pub unchanged_findings: Vec<FindingV1>,
    pub metrics: Vec<MetricDelta>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRef {
    pub file: String,
    pub as_of: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DiffCounts {
    pub new: usize,
    pub resolved: usize,
    pub unchanged: usize,
}

/// The metrics a diff compares, by name.
fn metric_values(m: &Metrics) -> Vec<(&'static str, Option<f64>)> {
    let n = |v: u64| Some(v as f64);
    vec![
        ("mfa_coverage_pct", m.mfa_coverage_pct),
        ("console_users", n(m.console_users)),
        ("mfa_users", n(m.mfa_users)),
        ("active_keys", n(m.active_keys)),
        ("inactive_keys", n(m.inactive_keys)),
        ("active_key_age.0-30", n(m.active_key_age.d0_30)),
        ("active_key_age.31-90", n(m.active_key_age.d31_90)),
        ("active_key_age.91-365", n(m.active_key_age.d91_365)),
        ("active_key_age.365+", n(m.active_key_age.d365_plus)),
        ("old_recently_used", n(m.old_recently_used)),
        ("old_never_used", n(m.old_never_used)),
    ]
}

fn round(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn deltas(
    scope: &str,
    name: Option<&str>,
    old: &Metrics,
    new: &Metrics,
    out: &mut Vec<MetricDelta>,
) {
    for ((metric, a), (_, b)) in metric_values(old).into_iter().zip(metric_values(new)) {
        out.push(MetricDelta {
            scope: scope.to_string(),
            account_name: name.map(str::to_string),
            metric: metric.to_string(),
            old: a,
            new: b,
            change: a.zip(b).map(|(a, b)| round(b - a)),
        });
    }
}

/// Compares two findings files.
pub fn diff(old: &FindingsV1, old_file: &Path, new: &FindingsV1, new_file: &Path) -> Diff {
    let before: BTreeMap<&str, &FindingV1> =
        old.findings.iter().map(|f| (f.id.as_str(), f)).collect();
    let after: BTreeSet<&str> = new.findings.iter().map(|f| f.id.as_str()).collect();
    let mut new_findings = Vec::new();
    let mut unchanged = Vec::new();
    for f in &new.findings {
        if before.contains_key(f.id.as_str()) {
            unchanged.push(f.clone());
        } else {
            new_findings.push(f.clone());
        }
    }
    let resolved: Vec<FindingV1> = old
        .findings
        .iter()
        .filter(|f| !after.contains(f.id.as_str()))
        .cloned()
        .collect();
    let (mo, mn) = (&old.summary.metrics, &new.summary.metrics);
    let mut metrics = Vec::new();
    deltas("organization", None, &mo.all, &mn.all, &mut metrics);
    deltas(
        "production",
        None,
        &mo.production,
        &mn.production,
        &mut metrics,
    );
    deltas(
        "non-production",
        None,
        &mo.non_production,
        &mn.non_production,
        &mut metrics,
    );
    let empty = Metrics::default();
    let mut ids: BTreeSet<&str> = mo.accounts.iter().map(|a| a.account_id.as_str()).collect();
    ids.extend(mn.accounts.iter().map(|a| a.account_id.as_str()));
    for id in ids {
        let a = mo.accounts.iter().find(|a| a.account_id == id);
        let b = mn.accounts.iter().find(|a| a.account_id == id);
        let name = b.or(a).map(|x| x.account_name.as_str());
        let mut rows = Vec::new();
        deltas(
            id,
            name,
            a.map_or(&empty, |x| &x.metrics),
            b.map_or(&empty, |x| &x.metrics),
            &mut rows,
        );
        // An account only in one run: its metrics are absent, not zero, in the other.
        for r in &mut rows {
            if a.is_none() {
                r.old = None;
                r.change = None;
            }
            if b.is_none() {
                r.new = None;
                r.change = None;
            }
        }
        metrics.extend(rows);
    }
    Diff {
        old: RunRef {
            file: old_file.display().to_string(),
            as_of: old.as_of.clone(),
        },
        new: RunRef {
            file: new_file.display().to_string(),
            as_of: new.as_of.clone(),
        },
        counts: DiffCounts {
            new: new_findings.len(),
            resolved: resolved.len(),
            unchanged: unchanged.len(),
        },
        new_findings,
        resolved_findings: resolved,
        unchanged_findings: unchanged,
        metrics,
    }
}
