//! The run stage: evaluate → waivers → CloudTrail cross-reference → baseline → gate. Every
//! command that evaluates rules (`evaluate`, `scan`) calls [`run`], and every output is made
//! from the one [`RunReport`] it returns: findings (unaudited accounts included, made by the
//! one finding constructor; those an event fixed since the inventory marked remediated),
//! account coverage, rule runs, what could not be evaluated, metrics, remediation tasks,
//! remediation progress, outliers, waiver and baseline state, and the gate decision.
//! Emitters only translate it.

pub mod view;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

use crate::analysis::metrics::{outlier_keys, Classifier, OrgMetrics, OutlierKey};
use crate::analysis::progress::Progress;
use crate::analysis::remediation::{SlaDays, Task};
use crate::engine::{evaluate, EvalOptions, NotEvaluable, RuleError};
use crate::finding::{Finding, Subject};
use crate::inventory::{CollectionStatus, Field, Inventory, SkippedAccount};
use crate::rules::pack::Rule;
use crate::rules::CompiledRules;
use crate::vocab::Severity;
use crate::waivers::{Applied, Located};
use crate::wire::{BaselineV1, FindingsV1};

/// The rule that reports accounts that were not (fully) audited.
pub const ACCOUNT_NOT_AUDITED: &str = "account-not-audited";

/// What a run is asked to do besides the rules.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// The instant every age is measured from.
    pub as_of: DateTime<Utc>,
    pub classifier: Classifier,
    /// The gate: findings at or above it fail the run (`None`: gate off).
    pub fail_on: Option<Severity>,
    /// Only findings new since the baseline gate.
    pub new_only: bool,
    /// The waivers file's entries.
    pub waivers: Option<Vec<Located>>,
    /// The baseline run's findings file and its content.
    pub baseline: Option<(PathBuf, FindingsV1)>,
    /// Days to remediate, by severity.
    pub sla: SlaDays,
}

impl RunSettings {
    /// A run at `as_of` with the defaults of the command line: gate at critical, no waivers,
    /// no baseline, the default SLA.
    pub fn new(as_of: DateTime<Utc>, classifier: Classifier) -> RunSettings {
        RunSettings {
            as_of,
            classifier,
            fail_on: Some(Severity::Critical),
            new_only: false,
            waivers: None,
            baseline: None,
            sla: SlaDays::default(),
        }
    }
}

/// One rule of the run: the rule, its effective params and its counts.
#[derive(Clone, Debug)]
pub struct RuleRun {
    pub rule: Arc<Rule>,
    /// Effective params, as JSON values.
    pub params: BTreeMap<String, serde_json::Value>,
    pub evaluations: u64,
    pub findings: u64,
}

/// An account whose collection was partial or failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incomplete {
    pub id: String,
    pub name: String,
    pub status: CollectionStatus,
    /// `source: message`, one per collection error.
    pub reasons: Vec<String>,
}

impl Incomplete {
    /// `was not audited` (failed) or `was not fully audited` (partial).
    pub fn what(&self) -> &'static str {
        match self.status {
            CollectionStatus::Failed => "was not audited",
            _ => "was not fully audited",
        }
    }
}

/// Which accounts the run saw.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    /// Accounts whose data was collected, completely or partly: (id, name).
    pub audited: Vec<(String, String)>,
    /// Accounts not, or only partly, collected.
    pub incomplete: Vec<Incomplete>,
    /// Accounts left out on purpose (suspended or closed).
    pub skipped: Vec<SkippedAccount>,
}

/// The gate decision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    pub fail_on: Option<Severity>,
    pub new_only: bool,
    /// Findings that gate (see [`Finding::gates`]).
    pub gating: usize,
    pub rule_errors: usize,
    /// Some account was not fully collected.
    pub incomplete: bool,
}

/// How a run ended, in the order that decides it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A rule failed at run time: the gate cannot be trusted.
    Errors,
    /// Findings at or above the gate.
    Failed,
    /// No gating finding, but some account was not fully collected.
    Incomplete,
    Passed,
}

impl Verdict {
    /// A rule error wins (the gate cannot be trusted), then gating findings, then an
    /// incomplete inventory.
    pub fn of(rule_errors: usize, gating: usize, incomplete: bool) -> Verdict {
        if rule_errors > 0 {
            Verdict::Errors
        } else if gating > 0 {
            Verdict::Failed
        } else if incomplete {
            Verdict::Incomplete
        } else {
            Verdict::Passed
        }
    }

    /// The process exit code (SPEC §1): 0 passed, 1 findings, 2 errors, 3 incomplete. Errors
    /// that stop a command before it ends (a bad input, a broken pack) exit 2 as well.
    pub const fn exit_code(self) -> u8 {
        match self {
            Verdict::Passed => 0,
            Verdict::Failed => 1,
            Verdict::Errors => 2,
            Verdict::Incomplete => 3,
        }
    }
}

impl Gate {
    pub fn verdict(&self) -> Verdict {
        Verdict::of(self.rule_errors, self.gating, self.incomplete)
    }

    /// The exit code of the verdict.
    pub fn exit_code(&self) -> u8 {
        self.verdict().exit_code()
    }
}

/// Everything a run produced, for every output.
pub struct RunReport {
    pub as_of: DateTime<Utc>,
    pub inventory: Arc<Inventory>,
    /// Sorted: most severe first, then rule, then subject.
    pub findings: Vec<Finding>,
    /// `account-not-audited` findings for the accounts not fully collected when no rule of
    /// the run reports them, with the stock pack's rule that describes them; outputs that
    /// must never hide an unaudited account (SARIF) show them.
    pub unaudited: Option<(Arc<Rule>, Vec<Finding>)>,
    pub coverage: Coverage,
    /// In load order.
    pub rules: Vec<RuleRun>,
    pub not_evaluable: Vec<NotEvaluable>,
    pub rule_errors: Vec<RuleError>,
    pub metrics: OrgMetrics,
    pub waivers: Option<Applied>,
    pub baseline: Option<BaselineV1>,
    pub gate: Gate,
    pub sla: SlaDays,
    tasks: OnceLock<Vec<Task>>,
    outliers: OnceLock<Vec<OutlierKey>>,
    counts: OnceLock<view::Counts>,
    progress: OnceLock<Option<Progress>>,
}

impl RunReport {
    /// The remediation tasks (every open, waived or remediated finding with an SLA, most
    /// urgent first),
    /// computed the first time an output asks.
    pub fn tasks(&self) -> &[Task] {
        self.tasks.get_or_init(|| {
            crate::analysis::remediation::tasks(&self.findings, &self.as_of, &self.sla)
        })
    }

    /// Active production keys older than two years, computed the first time an output asks.
    pub fn outliers(&self) -> &[OutlierKey] {
        self.outliers
            .get_or_init(|| outlier_keys(&self.inventory, &self.metrics, &self.as_of))
    }

    /// The findings counted in one pass, the first time an output asks (the JSON envelope and
    /// every people-facing output share it).
    pub fn counts(&self) -> &view::Counts {
        self.counts.get_or_init(|| view::Counts::of(&self.findings))
    }

    /// What the events show of remediation (`None` when the input has no events), computed
    /// the first time an output asks.
    pub fn progress(&self) -> Option<&Progress> {
        self.progress
            .get_or_init(|| {
                self.inventory
                    .has(Field::Events)
                    .then(|| crate::analysis::progress::progress(&self.inventory, self.as_of))
            })
            .as_ref()
    }

    /// The finding a task is about.
    pub fn task_finding(&self, t: &Task) -> &Finding {
        &self.findings[t.finding]
    }
}

/// Evaluates the rules over the inventory, applies waivers and the baseline, decides the gate.
pub fn run(inv: Inventory, compiled: &CompiledRules, s: &RunSettings) -> RunReport {
    let inventory = Arc::new(inv);
    let report = evaluate(
        inventory.clone(),
        compiled,
        &EvalOptions {
            as_of: s.as_of,
            classifier: s.classifier.clone(),
        },
    );
    let metrics = OrgMetrics::from_accounts(&inventory, &report.production, report.account_metrics);
    let mut findings = report.findings;
    let waivers = s.waivers.as_ref().map(|w| {
        let applied = crate::waivers::apply(&mut findings, w, s.as_of);
        warn_waivers(&applied);
        applied
    });
    // After the waivers: a finding an event fixed is reported `remediated` (the next run
    // confirms it); a waived one stays waived.
    crate::analysis::remediated::cross_reference(
        &mut findings,
        &inventory,
        s.as_of,
        report.lifecycle.as_deref(),
    );
    let baseline = s
        .baseline
        .as_ref()
        .map(|(path, old)| crate::baseline::apply(&mut findings, old, path));
    let coverage = coverage(&inventory);
    let gate = Gate {
        fail_on: s.fail_on,
        new_only: s.new_only,
        gating: s.fail_on.map_or(0, |sev| {
            findings.iter().filter(|f| f.gates(sev, s.new_only)).count()
        }),
        rule_errors: report.rule_errors.len(),
        incomplete: !coverage.incomplete.is_empty(),
    };
    let rules: Vec<RuleRun> = compiled
        .rules
        .iter()
        .zip(&report.runs)
        .map(|(r, counts)| RuleRun {
            rule: r.rule.clone(),
            params: r
                .params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
            evaluations: counts.evaluations,
            findings: counts.findings,
        })
        .collect();
    let unaudited = unaudited_findings(&coverage.incomplete, &rules);
    RunReport {
        as_of: s.as_of,
        inventory,
        findings,
        unaudited,
        coverage,
        rules,
        not_evaluable: report.not_evaluable,
        rule_errors: report.rule_errors,
        metrics,
        waivers,
        baseline,
        gate,
        sla: s.sla,
        tasks: OnceLock::new(),
        outliers: OnceLock::new(),
        counts: OnceLock::new(),
        progress: OnceLock::new(),
    }
}

fn coverage(inv: &Inventory) -> Coverage {
    let mut out = Coverage {
        skipped: inv.skipped.clone(),
        ..Coverage::default()
    };
    for a in &inv.accounts {
        if a.collection.status != CollectionStatus::Failed {
            out.audited.push((a.id.clone(), a.name.clone()));
        }
        if a.collection.status != CollectionStatus::Complete {
            out.incomplete.push(Incomplete {
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
    out
}

/// Unaudited accounts as findings of the stock pack's `account-not-audited` rule, when no
/// rule of the run has that id (then its own findings report them).
fn unaudited_findings(
    incomplete: &[Incomplete],
    rules: &[RuleRun],
) -> Option<(Arc<Rule>, Vec<Finding>)> {
    if incomplete.is_empty() || rules.iter().any(|r| r.rule.id == ACCOUNT_NOT_AUDITED) {
        return None;
    }
    let rule = crate::rules::builtin_pack("stock")
        .ok()
        .and_then(|p| p.rules.into_iter().find(|r| r.id == ACCOUNT_NOT_AUDITED))?;
    let info = Arc::new(rule.info());
    let findings = incomplete
        .iter()
        .map(|a| {
            let reasons = if a.reasons.is_empty() {
                String::new()
            } else {
                format!(": {}", a.reasons.join("; "))
            };
            let evidence = serde_json::json!({
                "collection_status": a.status,
                "reasons": a.reasons,
            });
            let evidence = serde_json::value::to_raw_value(&evidence)
                .or_else(|_| serde_json::value::RawValue::from_string("{}".to_string()))
                .expect("`{}` is valid JSON");
            Finding::new(
                &info,
                Subject {
                    account_id: Some(a.id.as_str().into()),
                    account_name: Some(a.name.as_str().into()),
                    ..Subject::default()
                },
                format!("{} ({}) {}{reasons}", a.name, a.id, a.what()),
                evidence,
            )
        })
        .collect();
    Some((Arc::new(rule), findings))
}

/// Says on stderr what needs an owner's attention in the waivers file.
fn warn_waivers(a: &Applied) {
    for w in &a.expired {
        tracing::warn!(
            "{}: the waiver of `{}` expired on {}: it no longer applies",
            w.at,
            w.waiver.rule,
            w.waiver.expires
        );
    }
    for w in &a.stale {
        tracing::warn!(
            "{}: the waiver of `{}` matches no finding (stale: remove it)",
            w.at,
            w.waiver.rule
        );
    }
    for w in &a.expiring {
        tracing::warn!(
            "{}: the waiver of `{}` expires on {} (within {} days; owner {})",
            w.at,
            w.waiver.rule,
            w.waiver.expires,
            crate::waivers::EXPIRING_SOON_DAYS,
            w.waiver.owner
        );
    }
}
