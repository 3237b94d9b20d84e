//! The prioritized remediation list of seed Workflow 1 step 5: one task per open finding of
//! severity low or above, due `as_of` + the SLA of its severity.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::vocab::{Severity, Status};

/// Days to remediate, by severity (SPEC §3: critical 1, high 30, medium 14).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaDays {
    #[serde(default = "d_critical")]
    pub critical: u32,
    #[serde(default = "d_high")]
    pub high: u32,
    #[serde(default = "d_medium")]
    pub medium: u32,
    #[serde(default = "d_low")]
    pub low: u32,
}

fn d_critical() -> u32 {
    1
}
fn d_high() -> u32 {
    30
}
fn d_medium() -> u32 {
    60
}
fn d_low() -> u32 {
    90
}

impl Default for SlaDays {
    fn default() -> Self {
        SlaDays {
            critical: d_critical(),
            high: d_high(),
            medium: d_medium(),
            low: d_low(),
        }
    }
}

impl SlaDays {
    /// The first pair (more severe, less severe) where the less severe task would be due
    /// sooner, if any.
    pub fn backwards(&self) -> Option<(Severity, Severity)> {
        let order = [
            (Severity::Critical, self.critical),
            (Severity::High, self.high),
            (Severity::Medium, self.medium),
            (Severity::Low, self.low),
        ];
        order
            .windows(2)
            .find(|w| w[1].1 < w[0].1)
            .map(|w| (w[0].0, w[1].0))
    }

    pub fn days(&self, s: Severity) -> Option<u32> {
        match s {
            Severity::Critical => Some(self.critical),
            Severity::High => Some(self.high),
            Severity::Medium => Some(self.medium),
            Severity::Low => Some(self.low),
            Severity::Info => None,
        }
    }
}

/// One task of the remediation list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Task {
    /// 1 = do first.
    pub priority: usize,
    pub due: DateTime<Utc>,
    /// The finding's index in the findings the tasks were made from.
    pub finding: usize,
}

/// Tasks for the open findings, most severe first, then by due date, then subject; then the
/// waived ones (due when their waiver ends), in the same order; then the ones an event
/// remediated since the inventory (listed so that the next run can confirm them).
pub fn tasks(findings: &[Finding], as_of: &DateTime<Utc>, sla: &SlaDays) -> Vec<Task> {
    let mut out: Vec<Task> = findings
        .iter()
        .enumerate()
        .filter(|(_, f)| f.severity > Severity::Info)
        .filter_map(|(i, f)| {
            sla.days(f.severity).map(|d| Task {
                priority: 0,
                // A waived finding is due when its waiver ends.
                due: match &f.waiver {
                    Some(w) if f.status == Status::Waived => w.waiver.ends_at(),
                    _ => *as_of + Duration::days(i64::from(d)),
                },
                finding: i,
            })
        })
        .collect();
    // Open tasks first, then the waived ones, then the remediated ones.
    let group = |s: Status| match s {
        Status::Open => 0,
        Status::Waived => 1,
        Status::Remediated => 2,
    };
    out.sort_by(|a, b| {
        let (fa, fb) = (&findings[a.finding], &findings[b.finding]);
        (
            group(fa.status),
            std::cmp::Reverse(fa.severity),
            a.due,
            fa.sort_key(),
        )
            .cmp(&(
                group(fb.status),
                std::cmp::Reverse(fb.severity),
                b.due,
                fb.sort_key(),
            ))
    });
    for (i, t) in out.iter_mut().enumerate() {
        t.priority = i + 1;
    }
    out
}
