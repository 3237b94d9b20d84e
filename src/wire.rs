//! The wire types of `findings_<stamp>.json`, the versioned findings envelope (v1): what the
//! JSON emitter writes, what a baseline and `diff` read back, what the JSON Schema is
//! generated from. Separate from the internal [`crate::finding::Finding`] and from the run
//! report the JSON emitter builds them from; nothing here computes anything.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::analysis::metrics::OrgMetrics;
use crate::inventory::{CollectionStatus, SourceKind};
use crate::vocab::{Change, Scope, Severity, Status};

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
    /// With events: what they show of remediation over the event window (counts per account
    /// and for the Organization, each user's offboarding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<ProgressV1>,
    pub findings: Vec<FindingV1>,
}

/// Remediation progress over the event window.
pub type ProgressV1 = crate::analysis::progress::Progress;

/// A waiver as the outputs show it: the entry of the waivers file and where it was written.
pub type WaiverV1 = crate::finding::Located;
/// The call that remediated a finding since the inventory saw it.
pub type RemediatedByV1 = crate::finding::RemediatedBy;

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

    /// Every severity's count.
    pub fn total(&self) -> u64 {
        self.critical + self.high + self.medium + self.low + self.info
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
    /// The CloudTrail call that fixed it after the inventory saw it (`status: remediated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediated_by: Option<RemediatedByV1>,
}

/// One line of a run history (`--history FILE`, JSON Lines): what `trend` and time-to-remediate
/// need of one run, compactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryLineV1 {
    pub schema_version: u32,
    pub as_of: DateTime<Utc>,
    /// `scan`, `stock-csv`, `inventory-json`, `credential-report`, `combined`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// Organization, production, non-production and per-account metrics.
    pub metrics: OrgMetrics,
    /// Open findings per severity.
    pub open: SeverityCountsV1,
    /// Open findings per rule id.
    pub open_by_rule: BTreeMap<String, u64>,
    /// Open findings not open in the previous line.
    pub new: u64,
    /// Findings open in the previous line and not now.
    pub resolved: u64,
    /// Findings marked remediated by this run.
    pub remediated: u64,
    /// Accounts audited completely or partly; account ids not (fully) audited; skipped.
    pub coverage: HistoryCoverageV1,
    /// Every open finding, by severity and rule, grouped by when it was first seen open:
    /// `{severity: {rule id: {first-seen as_of: [finding ids]}}}`. Each open finding's id,
    /// severity, rule and first-seen time are recoverable from it (see
    /// [`HistoryLineV1::open_findings`]): what time-to-remediate by severity and a baseline
    /// from the history need.
    pub first_seen: FirstSeenV1,
}

/// `{severity: {rule id: {first-seen as_of: [finding ids]}}}`.
pub type FirstSeenV1 = BTreeMap<Severity, BTreeMap<String, BTreeMap<DateTime<Utc>, Vec<String>>>>;

/// One open finding of a history line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFindingV1<'a> {
    pub id: &'a str,
    pub severity: Severity,
    pub rule_id: &'a str,
    pub first_seen: DateTime<Utc>,
}

impl HistoryLineV1 {
    /// The open findings of the line, as `first_seen` lists them (most severe first, then by
    /// rule id, first-seen time and id).
    pub fn open_findings(&self) -> Vec<OpenFindingV1<'_>> {
        let mut out = Vec::new();
        for (severity, rules) in self.first_seen.iter().rev() {
            for (rule_id, times) in rules {
                for (t, ids) in times {
                    for id in ids {
                        out.push(OpenFindingV1 {
                            id,
                            severity: *severity,
                            rule_id,
                            first_seen: *t,
                        });
                    }
                }
            }
        }
        out
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryCoverageV1 {
    pub audited: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    pub skipped: u64,
}

/// Version of the `trend --format json` output.
pub const TREND_SCHEMA_VERSION: u32 = 1;

/// `iam-audit trend --format json`: the run history per run, ISO week or calendar month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrendV1 {
    pub schema_version: u32,
    /// `run`, `week` (ISO 8601 week, UTC) or `month` (calendar month, UTC).
    pub by: String,
    /// History lines read (damaged ones are skipped and not counted).
    pub runs: u64,
    /// One row per period with at least one run, oldest first. The last run of a period
    /// represents it: its as_of, metrics and open findings.
    pub periods: Vec<TrendPeriodV1>,
    /// Time to remediate over the whole history, by severity.
    pub time_to_remediate: TtrBySeverityV1,
}

/// One period of a trend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrendPeriodV1 {
    /// The run's as_of (`run`), `YYYY-Www` (`week`) or `YYYY-MM` (`month`).
    pub period: String,
    /// The as_of of the run that represents the period (its last).
    pub as_of: DateTime<Utc>,
    /// Runs in the period.
    pub runs: u64,
    /// MFA coverage of console users, percent cut to two decimals; absent without console users.
    pub mfa_coverage_pct: MfaCoverageV1,
    /// Console users in the organization.
    pub console_users: u64,
    /// Active keys in the organization by age in days.
    pub active_keys_by_age: crate::analysis::metrics::AgeBuckets,
    /// Active keys older than 365 days (the `365+` bucket).
    pub keys_older_than_365_days: u64,
    /// Open findings by severity.
    pub open: SeverityCountsV1,
    /// Findings open in a run of the period and not in the run before it, summed over the
    /// period's runs (the first run of the history: all its open findings).
    pub new: u64,
    /// Findings open in a run and not in the next, when that next run is in the period.
    pub resolved: u64,
    /// Time to remediate of the findings resolved in the period, by severity.
    pub time_to_remediate: TtrBySeverityV1,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaCoverageV1 {
    pub organization: Option<f64>,
    pub production: Option<f64>,
}

/// Time to remediate per severity (info findings have no remediation deadline: left out).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TtrBySeverityV1 {
    pub critical: TtrV1,
    pub high: TtrV1,
    pub medium: TtrV1,
    pub low: TtrV1,
}

/// Days from a finding's first-seen time to the as_of of the first run where it is no longer
/// open.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TtrV1 {
    /// Findings resolved.
    pub resolved: u64,
    /// Mean, in days, rounded to two decimals; absent when none was resolved.
    pub mean_days: Option<f64>,
    /// 90th percentile (nearest rank: the ⌈0.9·n⌉-th smallest), in days, rounded to two
    /// decimals; absent when none was resolved.
    pub p90_days: Option<f64>,
}
