//! `findings_<stamp>.json`: the versioned findings envelope (v1). Wire types live here,
//! separate from the internal [`crate::finding::Finding`].

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::metrics::OrgMetrics;
use crate::engine::Report;
use crate::finding::{Change, Scope, Severity, Status};
use crate::inventory::{CollectionStatus, SourceKind};

/// Version of the findings JSON format written by this build.
pub const FINDINGS_SCHEMA_VERSION: u32 = 1;

/// The findings envelope.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingsV1 {
    pub schema_version: u32,
    pub tool: ToolV1,
    /// The instant every age was measured from (RFC 3339, UTC).
    pub as_of: String,
    pub source: SourceV1,
    /// The gate of the run (`critical`, ..., `none`).
    pub fail_on: String,
    /// Only findings new since the baseline gate (`--new-only`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new_only: bool,
    pub accounts: AccountsV1,
    /// Effective params of every rule: `rule-id → param → value`.
    pub params: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    pub summary: SummaryV1,
    /// With `--waivers`: what the waivers did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waivers: Option<WaiversV1>,
    /// With `--baseline`: the comparison with the earlier run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineV1>,
    pub findings: Vec<FindingV1>,
}

/// A waiver as the outputs show it: the entry of the waivers file and where it was written.
pub type WaiverV1 = crate::waivers::Located;

/// What the waivers file did in this run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiversV1 {
    /// Findings marked waived (they do not gate).
    pub waived_findings: u64,
    /// Waivers past their date: they no longer apply.
    pub expired: Vec<WaiverV1>,
    /// Waivers in force that matched no finding.
    pub stale: Vec<WaiverV1>,
    /// Waivers in force that expire within 14 days.
    pub expiring_soon: Vec<WaiverV1>,
}

impl From<&crate::waivers::Applied> for WaiversV1 {
    fn from(a: &crate::waivers::Applied) -> WaiversV1 {
        WaiversV1 {
            waived_findings: a.waived as u64,
            expired: a.expired.clone(),
            stale: a.stale.clone(),
            expiring_soon: a.expiring.clone(),
        }
    }
}

/// The comparison with a baseline run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaselineV1 {
    /// The baseline findings file.
    pub file: String,
    /// The baseline's `as_of`.
    pub as_of: String,
    /// Findings not in the baseline.
    pub new: u64,
    /// Findings also in the baseline.
    pub unchanged: u64,
    /// Findings of the baseline that are gone, as the baseline wrote them.
    pub resolved: Vec<FindingV1>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolV1 {
    pub name: String,
    pub version: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceV1 {
    pub kind: SourceKind,
    pub files: Vec<String>,
    /// Fields the input could not provide.
    pub unavailable: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountsV1 {
    /// Accounts whose data was collected (completely or partly).
    pub audited: Vec<AccountRefV1>,
    /// Accounts that were not, or only partly, collected, with the reasons.
    pub incomplete: Vec<IncompleteAccountV1>,
    /// Accounts not audited on purpose (suspended or closed).
    pub skipped: Vec<SkippedAccountV1>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkippedAccountV1 {
    pub id: String,
    pub name: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRefV1 {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncompleteAccountV1 {
    pub id: String,
    pub name: String,
    pub status: CollectionStatus,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeverityCountsV1 {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub info: u64,
}

impl SeverityCountsV1 {
    /// Open findings per severity, and the number of waived ones.
    pub fn open_and_waived(findings: &[crate::finding::Finding]) -> (SeverityCountsV1, u64) {
        let mut open = SeverityCountsV1::default();
        let mut waived = 0;
        for f in findings {
            match f.status {
                Status::Open => open.add(f.severity),
                Status::Waived => waived += 1,
                Status::Remediated => {}
            }
        }
        (open, waived)
    }

    /// The count of one severity.
    pub fn get(&self, s: Severity) -> u64 {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }

    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Info => self.info += 1,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryV1 {
    pub findings_by_severity: SeverityCountsV1,
    /// Findings at or above `fail_on`.
    pub gating_findings: u64,
    /// Exit code of the run.
    pub exit_code: u8,
    pub rules: Vec<RuleRunV1>,
    pub not_evaluable: Vec<NotEvaluableV1>,
    pub rule_errors: Vec<RuleErrorV1>,
    pub metrics: OrgMetrics,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleRunV1 {
    pub rule_id: String,
    pub severity: Severity,
    pub scope: Scope,
    pub evaluations: u64,
    pub findings: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NotEvaluableV1 {
    pub rule_id: String,
    /// Records the rule could not be evaluated for (0 when `whole_rule`).
    pub records: u64,
    pub whole_rule: bool,
    /// Fields the input lacks.
    pub missing_fields: Vec<String>,
}

impl NotEvaluableV1 {
    /// What could not be evaluated: `the whole rule` or `N record(s)`.
    pub fn extent(&self) -> String {
        if self.whole_rule {
            "the whole rule".to_string()
        } else {
            format!("{} record(s)", self.records)
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleErrorV1 {
    pub rule_id: String,
    pub record: String,
    pub message: String,
    pub more: u64,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingV1 {
    /// Stable fingerprint of rule + account + user + key + scope key.
    pub id: String,
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub scope: Scope,
    pub account_id: Option<String>,
    pub account_name: Option<String>,
    pub username: Option<String>,
    pub access_key_id: Option<String>,
    pub message: String,
    /// The fields that made the rule fire.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    pub remediation: String,
    pub tags: Vec<String>,
    pub status: Status,
    /// With `--baseline`: new or unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    /// The waiver that covers it (`status: waived`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<WaiverV1>,
}

/// What the run knew besides the report.
pub struct RunInfo<'a> {
    pub fail_on: Option<Severity>,
    pub new_only: bool,
    /// Findings that gate (see [`crate::finding::Finding::gates`]).
    pub gating: u64,
    pub waivers: Option<WaiversV1>,
    pub baseline: Option<BaselineV1>,
    pub exit_code: u8,
    pub params: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    pub severities: &'a BTreeMap<String, (Severity, Scope)>,
}

/// Translates a report into the v1 envelope.
pub fn envelope(report: &Report, run: &RunInfo) -> FindingsV1 {
    let inv = &report.inventory;
    let mut audited = Vec::new();
    let mut incomplete = Vec::new();
    for a in &inv.accounts {
        if a.collection.status != CollectionStatus::Failed {
            audited.push(AccountRefV1 {
                id: a.id.clone(),
                name: a.name.clone(),
            });
        }
        if a.collection.status != CollectionStatus::Complete {
            incomplete.push(IncompleteAccountV1 {
                id: a.id.clone(),
                name: a.name.clone(),
                status: a.collection.status,
                reasons: a
                    .collection
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.source.as_str(), e.message))
                    .collect(),
            });
        }
    }
    let mut by_severity = SeverityCountsV1::default();
    for f in &report.findings {
        by_severity.add(f.severity);
    }
    let gating = run.gating;
    FindingsV1 {
        schema_version: FINDINGS_SCHEMA_VERSION,
        tool: ToolV1 {
            name: "iam-audit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        as_of: report
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source: SourceV1 {
            kind: inv.source.kind,
            files: inv.source.files.clone(),
            unavailable: inv
                .unavailable
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
        },
        fail_on: run
            .fail_on
            .map(|s| s.as_str())
            .unwrap_or("none")
            .to_string(),
        new_only: run.new_only,
        accounts: AccountsV1 {
            audited,
            incomplete,
            skipped: inv
                .skipped
                .iter()
                .map(|s| SkippedAccountV1 {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
        },
        params: run.params.clone(),
        summary: SummaryV1 {
            findings_by_severity: by_severity,
            gating_findings: gating,
            exit_code: run.exit_code,
            rules: report
                .runs
                .iter()
                .map(|r| {
                    let (severity, scope) = run
                        .severities
                        .get(&r.rule_id)
                        .copied()
                        .unwrap_or((Severity::Info, Scope::Key));
                    RuleRunV1 {
                        rule_id: r.rule_id.clone(),
                        severity,
                        scope,
                        evaluations: r.evaluations,
                        findings: r.findings,
                    }
                })
                .collect(),
            not_evaluable: report
                .not_evaluable
                .iter()
                .map(|n| NotEvaluableV1 {
                    rule_id: n.rule_id.clone(),
                    records: n.records,
                    whole_rule: n.whole_rule,
                    missing_fields: n.fields.iter().cloned().collect(),
                })
                .collect(),
            rule_errors: report
                .rule_errors
                .iter()
                .map(|e| RuleErrorV1 {
                    rule_id: e.rule_id.clone(),
                    record: e.record.clone(),
                    message: e.message.clone(),
                    more: e.more,
                })
                .collect(),
            metrics: report.metrics.clone(),
        },
        waivers: run.waivers.clone(),
        baseline: run.baseline.clone(),
        // Findings are streamed by `write_findings`, never copied into the envelope.
        findings: Vec::new(),
    }
}

/// A finding as written: the same fields as [`FindingV1`], borrowed from the report.
#[derive(Serialize)]
struct FindingOut<'a> {
    id: &'a str,
    rule_id: &'a str,
    title: &'a str,
    severity: Severity,
    scope: Scope,
    account_id: Option<&'a str>,
    account_name: Option<&'a str>,
    username: Option<&'a str>,
    access_key_id: Option<&'a str>,
    message: &'a str,
    evidence: &'a serde_json::value::RawValue,
    remediation: &'a str,
    tags: &'a [String],
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    change: Option<Change>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waiver: Option<&'a WaiverV1>,
}

/// Writes the findings file: the envelope pretty-printed, each finding on one line.
pub fn write_findings(
    header: &FindingsV1,
    findings: &[crate::finding::Finding],
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(header)?;
    let head = text
        .strip_suffix("\"findings\": []\n}")
        .ok_or_else(|| std::io::Error::other("findings envelope does not end with its findings"))?;
    w.write_all(head.as_bytes())?;
    w.write_all(b"\"findings\": [")?;
    for (i, f) in findings.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        let s = &f.subject;
        serde_json::to_writer(
            &mut *w,
            &FindingOut {
                id: &f.id,
                rule_id: &f.rule.id,
                title: &f.rule.title,
                severity: f.severity,
                scope: f.rule.scope,
                account_id: s.account_id.as_deref(),
                account_name: s.account_name.as_deref(),
                username: s.username.as_deref(),
                access_key_id: s.access_key_id.as_deref(),
                message: &f.message,
                evidence: &f.evidence,
                remediation: &f.rule.remediation,
                tags: &f.rule.tags,
                status: f.status,
                change: f.change,
                waiver: f.waiver.as_deref(),
            },
        )?;
    }
    w.write_all(if findings.is_empty() {
        b"]\n}\n"
    } else {
        b"\n  ]\n}\n"
    })
}
