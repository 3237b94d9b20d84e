//! `iam-audit trend HISTORY`: the run history per run, ISO week or calendar month, as an
//! aligned table, versioned JSON ([`TrendV1`]) or a Markdown table. The computation is
//! [`crate::trend`]; this module reads the file and renders.

use std::fmt::Write as _;

use crate::cli::args::{TrendArgs, TrendBy, TrendFormat};
use crate::cli::exit::Outcome;
use crate::error::{Error, InputError};
use crate::trend::{compute, By};
use crate::wire::{TrendV1, TtrV1};

/// Runs the command: reads the history (damaged lines warned about with file:line and
/// skipped), prints or writes the trend. [`Outcome::CLEAN`]: a trend reports, it does not gate.
///
/// # Errors
///
/// The history cannot be read or holds no line (exit 2); the output cannot be written.
pub fn run(a: &TrendArgs) -> Result<Outcome, Error> {
    let path = &a.history;
    if !path.exists() {
        return Err(InputError::new(
            path,
            "no such history file: write one with `evaluate` or `scan --history FILE`",
        )
        .into());
    }
    let history = crate::history::read_warned(path)?;
    if history.lines.is_empty() {
        let why = if history.damaged.is_empty() {
            "the history is empty".to_string()
        } else {
            format!(
                "the history has no readable line ({} damaged)",
                history.damaged.len()
            )
        };
        return Err(InputError::new(
            path,
            format!("{why}: nothing to show (runs with `--history FILE` append to it)"),
        )
        .into());
    }
    let by = match a.by {
        TrendBy::Run => By::Run,
        TrendBy::Week => By::Week,
        TrendBy::Month => By::Month,
    };
    let t = compute(&history.lines, by);
    let text = match a.format {
        TrendFormat::Table => table(&t),
        TrendFormat::Md => markdown(&t),
        TrendFormat::Json => {
            let mut s = serde_json::to_string_pretty(&t)
                .map_err(|e| Error::Usage(format!("cannot render the trend: {e}")))?;
            s.push('\n');
            s
        }
    };
    match &a.out {
        Some(file) => crate::emit::files::write_atomic(file, |w| w.write_all(text.as_bytes()))?,
        None => print!("{text}"),
    }
    Ok(Outcome::CLEAN)
}

/// A percentage or `-`.
fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |p| format!("{p:.2}"))
}

/// Days or `-`.
fn days(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |d| format!("{d:.2}"))
}

/// The header and the cells of each period, as text.
fn cells(t: &TrendV1) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "period",
        "as_of",
        "runs",
        "mfa_org_%",
        "mfa_prod_%",
        "console",
        "keys_0-30",
        "keys_31-90",
        "keys_91-365",
        "keys_365+",
        "critical",
        "high",
        "medium",
        "low",
        "info",
        "new",
        "resolved",
        "ttr_crit_mean",
        "ttr_crit_p90",
        "ttr_high_mean",
        "ttr_high_p90",
        "ttr_med_mean",
        "ttr_med_p90",
        "ttr_low_mean",
        "ttr_low_p90",
    ];
    let rows = t
        .periods
        .iter()
        .map(|p| {
            let k = &p.active_keys_by_age;
            let ttr = &p.time_to_remediate;
            let mut row = vec![
                p.period.clone(),
                p.as_of.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                p.runs.to_string(),
                pct(p.mfa_coverage_pct.organization),
                pct(p.mfa_coverage_pct.production),
                p.console_users.to_string(),
                k.d0_30.to_string(),
                k.d31_90.to_string(),
                k.d91_365.to_string(),
                k.d365_plus.to_string(),
                p.open.critical.to_string(),
                p.open.high.to_string(),
                p.open.medium.to_string(),
                p.open.low.to_string(),
                p.open.info.to_string(),
                p.new.to_string(),
                p.resolved.to_string(),
            ];
            for s in [&ttr.critical, &ttr.high, &ttr.medium, &ttr.low] {
                let TtrV1 {
                    mean_days,
                    p90_days,
                    ..
                } = s;
                row.push(days(*mean_days));
                row.push(days(*p90_days));
            }
            row
        })
        .collect();
    (header, rows)
}

/// An aligned text table: text columns left, numbers right.
pub fn table(t: &TrendV1) -> String {
    let (header, rows) = cells(t);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &[String]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            if i < 2 {
                let _ = write!(l, "{c:<w$}");
            } else {
                let _ = write!(l, "{c:>w$}");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    let header: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    line(&mut out, &header);
    for r in &rows {
        line(&mut out, r);
    }
    let o = &t.time_to_remediate;
    let _ = writeln!(
        out,
        "\n{} run(s). Time to remediate over the whole history (days, mean / p90 nearest rank): \
         critical {} / {} ({} resolved), high {} / {} ({}), medium {} / {} ({}), low {} / {} ({})",
        t.runs,
        days(o.critical.mean_days),
        days(o.critical.p90_days),
        o.critical.resolved,
        days(o.high.mean_days),
        days(o.high.p90_days),
        o.high.resolved,
        days(o.medium.mean_days),
        days(o.medium.p90_days),
        o.medium.resolved,
        days(o.low.mean_days),
        days(o.low.p90_days),
        o.low.resolved,
    );
    out
}

/// A Markdown table; every cell escaped (they are numbers and dates, but nothing from a file
/// reaches Markdown unescaped).
pub fn markdown(t: &TrendV1) -> String {
    use crate::emit::md::esc;
    let (header, rows) = cells(t);
    let mut out = format!("## Trend by {}\n\n", esc(&t.by));
    let _ = writeln!(
        out,
        "| {} |",
        header
            .iter()
            .map(|h| esc(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        out,
        "|{}",
        header
            .iter()
            .enumerate()
            .map(|(i, _)| if i < 2 { "---|" } else { "---:|" })
            .collect::<String>()
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "| {} |",
            r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
        );
    }
    let o = &t.time_to_remediate;
    let _ = writeln!(
        out,
        "\n{} run(s). Time to remediate over the whole history (days, mean / p90): critical {} / {}, high {} / {}, medium {} / {}, low {} / {}.",
        t.runs,
        esc(&days(o.critical.mean_days)),
        esc(&days(o.critical.p90_days)),
        esc(&days(o.high.mean_days)),
        esc(&days(o.high.p90_days)),
        esc(&days(o.medium.mean_days)),
        esc(&days(o.medium.p90_days)),
        esc(&days(o.low.mean_days)),
        esc(&days(o.low.p90_days)),
    );
    out
}
