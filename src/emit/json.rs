//! `findings_<stamp>.json`: the versioned findings envelope (v1), built from the run report
//! (wire types in [`crate::wire`]).

use serde::Serialize;

use crate::emit::emitter::{Emitter, OutputFile, OutputOptions};
use crate::inventory::json::write_inventory;
use crate::run::RunReport;
use crate::vocab::{Change, Scope, Severity, Status};
use crate::wire::{
    AccountRefV1, AccountsV1, FindingsV1, IncompleteAccountV1, NotEvaluableV1, RuleErrorV1,
    RuleRunV1, SkippedAccountV1, SourceV1, SummaryV1, ToolV1, WaiverV1, WaiversV1,
    FINDINGS_SCHEMA_VERSION,
};

/// `--format json`: the findings envelope and the normalized inventory.
pub struct Json;

impl Emitter for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn describe(&self) -> &'static str {
        "the findings JSON and the inventory JSON"
    }

    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>> {
        let stamp = &opts.stamp;
        vec![
            OutputFile::new(format!("findings_{stamp}.json"), move |w| {
                write_findings(&envelope(run), &run.findings, w)
            }),
            OutputFile::new(format!("inventory_{stamp}.json"), move |w| {
                write_inventory(&run.inventory, w)
            }),
        ]
    }
}

/// The v1 envelope of a run (without its findings, which [`write_findings`] streams).
pub fn envelope(run: &RunReport) -> FindingsV1 {
    let inv = &run.inventory;
    let c = &run.coverage;
    FindingsV1 {
        schema_version: FINDINGS_SCHEMA_VERSION,
        tool: ToolV1 {
            name: "iam-audit".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        as_of: run.as_of_text(),
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
            .gate
            .fail_on
            .map_or("none", Severity::as_str)
            .to_string(),
        new_only: run.gate.new_only,
        accounts: AccountsV1 {
            audited: c
                .audited
                .iter()
                .map(|(id, name)| AccountRefV1 {
                    id: id.clone(),
                    name: name.clone(),
                })
                .collect(),
            incomplete: c
                .incomplete
                .iter()
                .map(|i| IncompleteAccountV1 {
                    id: i.id.clone(),
                    name: i.name.clone(),
                    status: i.status,
                    reasons: i.reasons.clone(),
                })
                .collect(),
            skipped: c
                .skipped
                .iter()
                .map(|s| SkippedAccountV1 {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
        },
        params: run
            .rules
            .iter()
            .map(|r| (r.rule.id.clone(), r.params.clone()))
            .collect(),
        summary: SummaryV1 {
            findings_by_severity: run.counts().by_severity.clone(),
            gating_findings: run.gate.gating as u64,
            exit_code: run.gate.exit_code(),
            rules: run
                .rules
                .iter()
                .map(|r| RuleRunV1 {
                    rule_id: r.rule.id.clone(),
                    severity: r.rule.severity,
                    scope: r.rule.scope,
                    evaluations: r.evaluations,
                    findings: r.findings,
                })
                .collect(),
            not_evaluable: run
                .not_evaluable
                .iter()
                .map(|n| NotEvaluableV1 {
                    rule_id: n.rule_id.clone(),
                    records: n.records,
                    whole_rule: n.whole_rule,
                    missing_fields: n.fields.iter().cloned().collect(),
                })
                .collect(),
            rule_errors: run
                .rule_errors
                .iter()
                .map(|e| RuleErrorV1 {
                    rule_id: e.rule_id.clone(),
                    record: e.record.clone(),
                    message: e.message.clone(),
                    more: e.more,
                })
                .collect(),
            metrics: run.metrics.clone(),
        },
        waivers: run.waivers.as_ref().map(waivers_v1),
        baseline: run.baseline.clone(),
        progress: run.progress().cloned(),
        // Findings are streamed by `write_findings`, never copied into the envelope.
        findings: Vec::new(),
    }
}

/// What the waivers did, as the envelope writes it.
fn waivers_v1(a: &crate::waivers::Applied) -> WaiversV1 {
    WaiversV1 {
        waived_findings: a.waived as u64,
        expired: a.expired.clone(),
        stale: a.stale.clone(),
        expiring_soon: a.expiring.clone(),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    remediated_by: Option<&'a crate::wire::RemediatedByV1>,
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
                remediated_by: f.remediated_by.as_deref(),
            },
        )?;
    }
    w.write_all(if findings.is_empty() {
        b"]\n}\n"
    } else {
        b"\n  ]\n}\n"
    })
}
