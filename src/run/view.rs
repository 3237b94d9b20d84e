//! What the people-facing outputs (the terminal summary, the Markdown summary, the HTML
//! report) show, decided once: the gate's headline, the open counts, the rules table, what
//! could not be collected or evaluated, what the waivers and the baseline did, the open
//! findings worth a person's eyes, the findings CloudTrail shows remediated since. Each of the three renders the same [`View`] its own way.

use crate::engine::{NotEvaluable, RuleError};
use crate::finding::Finding;
use crate::inventory::{SkippedAccount, SourceKind};
use crate::run::{Incomplete, RuleRun, RunReport, Verdict};
use crate::vocab::{Severity, Status};
use crate::waivers::Applied;
use crate::wire::BaselineV1;

/// Counts per severity (the findings JSON's type: the outputs count the same way).
pub type SeverityCounts = crate::wire::SeverityCountsV1;

/// Counts a finding as open (per severity) or waived; a remediated one is neither.
pub fn tally(open: &mut SeverityCounts, waived: &mut u64, f: &Finding) {
    match f.status {
        Status::Open => open.add(f.severity),
        Status::Waived => *waived += 1,
        Status::Remediated => {}
    }
}

/// What the outputs count of the findings, made in one pass over them.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Every finding per severity, whatever its status.
    pub by_severity: SeverityCounts,
    /// Open findings per severity.
    pub open: SeverityCounts,
    pub waived: u64,
    /// Indexes of the open findings above info, in report order (most severe first).
    pub open_above_info: Vec<usize>,
    /// Some of those carries a baseline change (new or unchanged).
    pub open_above_info_have_change: bool,
    /// Indexes of the findings an event remediated since the inventory, in report order.
    pub remediated: Vec<usize>,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Counts {
        let mut c = Counts::default();
        for (i, f) in findings.iter().enumerate() {
            c.by_severity.add(f.severity);
            tally(&mut c.open, &mut c.waived, f);
            if f.status == Status::Open && f.severity > Severity::Info {
                c.open_above_info.push(i);
                c.open_above_info_have_change |= f.change.is_some();
            }
            if f.status == Status::Remediated {
                c.remediated.push(i);
            }
        }
        c
    }
}

/// The gate's headline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Headline {
    /// `--fail-on none`, every account collected.
    GateOff,
    /// `--fail-on none`, but this many accounts were not fully collected.
    GateOffIncomplete {
        accounts: usize,
    },
    Passed,
    /// This many open findings at or above the gate.
    Failed {
        gating: usize,
    },
    /// Nothing at or above the gate, but this many accounts were not fully collected.
    Incomplete {
        accounts: usize,
    },
    /// Rules failed at run time (then the exit code is that of errors).
    Errors {
        rule_errors: usize,
        exit_code: u8,
    },
}

/// A line of the rules table.
pub struct RuleLine<'r> {
    pub run: &'r RuleRun,
    /// What of it could not be evaluated.
    pub not_evaluable: Option<&'r NotEvaluable>,
}

/// The sections of the people-facing outputs.
pub struct View<'r> {
    pub headline: Headline,
    /// `critical` ... `low`, or `none` when the gate is off.
    pub fail_on: &'static str,
    /// Only new findings gate.
    pub new_only: bool,
    pub gating: usize,
    pub exit_code: u8,
    /// Every finding per severity, whatever its status.
    pub by_severity: SeverityCounts,
    pub open: SeverityCounts,
    pub waived: u64,
    /// Most severe first, then by id.
    pub rules: Vec<RuleLine<'r>>,
    pub not_evaluable: &'r [NotEvaluable],
    /// The input is a stock CSV and lacks fields some rule needs: say an inventory JSON has
    /// them all (not said for gaps of single records).
    pub stock_csv_hint: bool,
    pub incomplete: &'r [Incomplete],
    pub skipped: &'r [SkippedAccount],
    pub rule_errors: &'r [RuleError],
    pub waivers: Option<&'r Applied>,
    pub baseline: Option<&'r BaselineV1>,
    /// Indexes (in the run's findings) of the open findings above info, in report order
    /// (most severe first).
    pub open_findings: &'r [usize],
    /// Some open finding carries a baseline change (new or unchanged).
    pub open_findings_have_change: bool,
    /// Indexes (in the run's findings) of the findings a CloudTrail call remediated since the
    /// inventory saw them, in report order: listed, not counted as open, never gating.
    pub remediated: &'r [usize],
}

impl RunReport {
    /// The sections of the people-facing outputs.
    pub fn view(&self) -> View<'_> {
        let gate = &self.gate;
        let accounts = self.coverage.incomplete.len();
        let exit_code = gate.exit_code();
        let headline = match (gate.verdict(), gate.fail_on.is_none()) {
            (Verdict::Errors, _) => Headline::Errors {
                rule_errors: self.rule_errors.len(),
                exit_code,
            },
            (Verdict::Incomplete, true) => Headline::GateOffIncomplete { accounts },
            (Verdict::Incomplete, false) => Headline::Incomplete { accounts },
            (Verdict::Failed, _) => Headline::Failed {
                gating: gate.gating,
            },
            (Verdict::Passed, true) => Headline::GateOff,
            (Verdict::Passed, false) => Headline::Passed,
        };
        let counts = self.counts();
        let mut rules: Vec<RuleLine<'_>> = self
            .rules
            .iter()
            .map(|run| RuleLine {
                run,
                not_evaluable: self.not_evaluable.iter().find(|n| n.rule_id == run.rule.id),
            })
            .collect();
        rules.sort_by(|a, b| {
            (std::cmp::Reverse(a.run.rule.severity), &a.run.rule.id)
                .cmp(&(std::cmp::Reverse(b.run.rule.severity), &b.run.rule.id))
        });
        let unavailable: Vec<&str> = self
            .inventory
            .unavailable
            .iter()
            .map(|f| f.as_str())
            .collect();
        let stock_csv_hint = self.inventory.source.kind == SourceKind::StockCsv
            && self
                .not_evaluable
                .iter()
                .flat_map(|n| &n.fields)
                .any(|m| unavailable.contains(&m.as_str()));
        View {
            headline,
            fail_on: gate.fail_on.map_or("none", Severity::as_str),
            new_only: gate.new_only,
            gating: gate.gating,
            exit_code,
            by_severity: counts.by_severity.clone(),
            open: counts.open.clone(),
            waived: counts.waived,
            rules,
            not_evaluable: &self.not_evaluable,
            stock_csv_hint,
            incomplete: &self.coverage.incomplete,
            skipped: &self.coverage.skipped,
            rule_errors: &self.rule_errors,
            waivers: self.waivers.as_ref(),
            baseline: self.baseline.as_ref(),
            open_findings: &counts.open_above_info,
            open_findings_have_change: counts.open_above_info_have_change,
            remediated: &counts.remediated,
        }
    }

    /// The instant of the run as the outputs write it (RFC 3339, seconds, `Z`).
    pub fn as_of_text(&self) -> String {
        self.as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}
