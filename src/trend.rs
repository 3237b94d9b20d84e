//! `trend`: a run history summarised per run, ISO week or calendar month, and the time to
//! remediate findings by severity. Pure: it takes the history lines (read by the caller) and
//! returns the [`TrendV1`] that `iam-audit trend` prints and the HTML report draws.
//!
//! - **Periods.** The lines are ordered by `as_of` (a tie keeps the file's order). A period
//!   is one run, one ISO 8601 week (`2026-W09`) or one calendar month (`2026-03`), in UTC;
//!   the last run of a period represents it (its as_of, metrics and open findings).
//! - **New and resolved** are counted between consecutive runs from the open finding ids each
//!   line lists (not from the line's own `new`/`resolved`, which depended on whatever line
//!   preceded it when it was written), and summed over the runs of the period: a finding open
//!   in a run and not in the run before it is new in that run's period; one open in a run and
//!   not in the next is resolved in the next run's period. The first run of the history has
//!   nothing before it: all its open findings are new. So each period's open total is the
//!   previous period's plus new minus resolved.
//! - **Time to remediate** of a resolved finding: the as_of of the first run where it is no
//!   longer open minus its first-seen time (as the last line that lists it open says), in
//!   days. Per severity: the mean, and the 90th percentile by nearest rank (the ⌈0.9·n⌉-th
//!   smallest of n), both rounded to two decimals. Info findings have no deadline and are left
//!   out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, SecondsFormat, Utc};

use crate::vocab::Severity;
use crate::wire::{
    HistoryLineV1, MfaCoverageV1, TrendPeriodV1, TrendV1, TtrBySeverityV1, TtrV1,
    TREND_SCHEMA_VERSION,
};

/// How runs are grouped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Run,
    /// ISO 8601 week (Monday to Sunday, UTC).
    Week,
    /// Calendar month (UTC).
    Month,
}

impl By {
    pub fn as_str(self) -> &'static str {
        match self {
            By::Run => "run",
            By::Week => "week",
            By::Month => "month",
        }
    }

    /// The period of a run.
    pub fn period(self, as_of: &DateTime<Utc>) -> String {
        match self {
            By::Run => as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
            By::Week => {
                let w = as_of.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            By::Month => format!("{}-{:02}", as_of.year(), as_of.month()),
        }
    }
}

/// The severities time to remediate is given for.
const TTR_SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

/// Days to remediate, per severity, of the findings resolved in one period.
#[derive(Default)]
struct Samples(BTreeMap<Severity, Vec<f64>>);

impl Samples {
    fn add(&mut self, s: Severity, days: f64) {
        if TTR_SEVERITIES.contains(&s) {
            self.0.entry(s).or_default().push(days);
        }
    }

    fn extend(&mut self, o: &Samples) {
        for (s, v) in &o.0 {
            self.0.entry(*s).or_default().extend(v);
        }
    }

    fn summary(&self) -> TtrBySeverityV1 {
        let of = |s: Severity| self.0.get(&s).map_or_else(TtrV1::default, |v| ttr(v));
        TtrBySeverityV1 {
            critical: of(Severity::Critical),
            high: of(Severity::High),
            medium: of(Severity::Medium),
            low: of(Severity::Low),
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The 90th percentile of `sorted` (ascending, not empty) by nearest rank: the ⌈0.9·n⌉-th
/// smallest value.
pub fn p90_nearest_rank(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    let rank = (90 * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn ttr(days: &[f64]) -> TtrV1 {
    let mut v = days.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    TtrV1 {
        resolved: n as u64,
        mean_days: (n > 0).then(|| round2(v.iter().sum::<f64>() / n as f64)),
        p90_days: p90_nearest_rank(&v).map(round2),
    }
}

/// Days from `from` to `to` (fractional).
fn days_between(from: &DateTime<Utc>, to: &DateTime<Utc>) -> f64 {
    (*to - *from).num_milliseconds() as f64 / 86_400_000.0
}

/// The trend of a history (its good lines, in any order).
pub fn compute(lines: &[HistoryLineV1], by: By) -> TrendV1 {
    let mut order: Vec<&HistoryLineV1> = lines.iter().collect();
    // Stable: runs with the same as_of keep the file's order.
    order.sort_by_key(|l| l.as_of);
    let mut periods: Vec<TrendPeriodV1> = Vec::new();
    let mut all = Samples::default();
    let mut period_samples = Samples::default();
    let mut previous: Option<&HistoryLineV1> = None;
    for line in &order {
        let now: BTreeSet<&str> = line.open_findings().iter().map(|f| f.id).collect();
        let mut samples = Samples::default();
        let (new, resolved) = match previous {
            None => (now.len() as u64, 0),
            Some(p) => {
                let before = p.open_findings();
                let before_ids: BTreeSet<&str> = before.iter().map(|f| f.id).collect();
                let mut resolved = 0;
                for f in &before {
                    if !now.contains(f.id) {
                        resolved += 1;
                        samples.add(f.severity, days_between(&f.first_seen, &line.as_of));
                    }
                }
                let new = now.iter().filter(|id| !before_ids.contains(*id)).count();
                (new as u64, resolved)
            }
        };
        all.extend(&samples);
        let label = by.period(&line.as_of);
        let same_period = by != By::Run && periods.last().is_some_and(|p| p.period == label);
        if same_period {
            period_samples.extend(&samples);
        } else {
            period_samples = samples;
        }
        let row = row_of(line, label, &period_samples);
        match periods.last_mut() {
            Some(last) if same_period => {
                let (runs, new0, resolved0) = (last.runs, last.new, last.resolved);
                *last = row;
                last.runs = runs + 1;
                last.new = new0 + new;
                last.resolved = resolved0 + resolved;
            }
            _ => {
                let mut row = row;
                row.new = new;
                row.resolved = resolved;
                periods.push(row);
            }
        }
        previous = Some(line);
    }
    TrendV1 {
        schema_version: TREND_SCHEMA_VERSION,
        by: by.as_str().to_string(),
        runs: order.len() as u64,
        periods,
        time_to_remediate: all.summary(),
    }
}

/// The row of a period represented by `line`, with one run and no new or resolved counts yet.
fn row_of(line: &HistoryLineV1, period: String, samples: &Samples) -> TrendPeriodV1 {
    let m = &line.metrics;
    TrendPeriodV1 {
        period,
        as_of: line.as_of,
        runs: 1,
        mfa_coverage_pct: MfaCoverageV1 {
            organization: m.all.mfa_coverage_pct,
            production: m.production.mfa_coverage_pct,
        },
        console_users: m.all.console_users,
        active_keys_by_age: m.all.active_key_age,
        keys_older_than_365_days: m.all.active_key_age.d365_plus,
        open: line.open.clone(),
        new: 0,
        resolved: 0,
        time_to_remediate: samples.summary(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentile() {
        assert_eq!(p90_nearest_rank(&[]), None);
        assert_eq!(p90_nearest_rank(&[5.0]), Some(5.0));
        // ⌈0.9·2⌉ = 2, ⌈0.9·3⌉ = 3, ⌈0.9·10⌉ = 9, ⌈0.9·11⌉ = 10.
        assert_eq!(p90_nearest_rank(&[1.0, 2.0]), Some(2.0));
        assert_eq!(p90_nearest_rank(&[1.0, 2.0, 3.0]), Some(3.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(p90_nearest_rank(&ten), Some(9.0));
        let eleven: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(p90_nearest_rank(&eleven), Some(10.0));
    }

    #[test]
    fn periods_are_iso_weeks_and_calendar_months_in_utc() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_default();
        // 2027-01-01 is a Friday: ISO week 53 of 2026.
        assert_eq!(By::Week.period(&t("2027-01-01T00:00:00Z")), "2026-W53");
        assert_eq!(By::Week.period(&t("2026-03-02T00:00:00Z")), "2026-W10");
        assert_eq!(By::Month.period(&t("2026-03-31T23:59:59Z")), "2026-03");
        assert_eq!(
            By::Run.period(&t("2026-03-31T23:59:59Z")),
            "2026-03-31T23:59:59Z"
        );
    }
}
