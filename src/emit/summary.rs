//! The terminal summary (printed on stderr by the binary): findings per rule and severity,
//! what could not be evaluated or collected, the outputs and the gate. Everything it prints
//! from the inputs (names, reasons, rule error text, paths) has its control characters
//! written out ([`visible`]), so a name cannot send escape sequences to the terminal.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::emit::text::visible;
use crate::run::RunReport;

/// Renders the summary table.
pub fn render(run: &RunReport, written: &[PathBuf], skipped: &[PathBuf]) -> String {
    let v = run.view();
    let mut s = String::new();
    let m = &run.metrics.all;
    let _ = writeln!(
        s,
        "iam-audit {} · as of {} · {} accounts, {} users, {} active + {} inactive keys",
        env!("CARGO_PKG_VERSION"),
        run.as_of_text(),
        run.metrics.accounts.len(),
        m.users,
        m.active_keys,
        m.inactive_keys
    );
    let width = v
        .rules
        .iter()
        .map(|r| visible(&r.run.rule.id).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        s,
        "\n  {:<width$}  {:<8}  {:>8}",
        "rule", "severity", "findings"
    );
    let _ = writeln!(s, "  {:-<width$}  {:-<8}  {:->8}", "", "", "");
    for line in &v.rules {
        let r = line.run;
        let note = match line.not_evaluable {
            Some(n) if n.whole_rule => "  (not evaluable)".to_string(),
            Some(n) => format!("  ({} not evaluable)", n.records),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "  {:<width$}  {:<8}  {:>8}{note}",
            visible(&r.rule.id),
            r.rule.severity.as_str(),
            r.findings
        );
    }
    let c = &v.by_severity;
    let _ = writeln!(
        s,
        "\nFindings: {} critical, {} high, {} medium, {} low, {} info",
        c.critical, c.high, c.medium, c.low, c.info
    );
    if let Some(w) = v.waivers {
        let _ = writeln!(
            s,
            "Waived: {} finding(s) (they do not gate); waivers expired: {}, stale: {}, expiring within 14 days: {}",
            w.waived,
            w.expired.len(),
            w.stale.len(),
            w.expiring.len()
        );
    }
    if !v.remediated.is_empty() {
        let _ = writeln!(
            s,
            "Remediated since the inventory (CloudTrail): {} finding(s) (they do not gate; the next run confirms them)",
            v.remediated.len()
        );
    }
    if let Some(b) = v.baseline {
        let _ = writeln!(
            s,
            "Since the baseline ({}, as of {}): {} new, {} unchanged, {} resolved",
            visible(&b.file),
            visible(&b.as_of),
            b.new,
            b.unchanged,
            b.resolved.len()
        );
    }
    if let Some(cov) = m.mfa_coverage_pct {
        let prod = run
            .metrics
            .production
            .mfa_coverage_pct
            .map_or_else(|| "n/a".into(), |p| format!("{p}%"));
        let _ = writeln!(
            s,
            "MFA coverage: {cov}% of {} console users (production: {prod})",
            m.console_users
        );
    }
    if !v.not_evaluable.is_empty() {
        let _ = writeln!(
            s,
            "\nNot evaluable (the input lacks a field these rules need):"
        );
        for n in v.not_evaluable {
            let what = n.extent();
            let fields: Vec<&str> = n.fields.iter().map(String::as_str).collect();
            let _ = writeln!(
                s,
                "  {}: {what}; needs {}",
                visible(&n.rule_id),
                visible(&fields.join(", "))
            );
        }
        if v.stock_csv_hint {
            let _ = writeln!(
                s,
                "  A stock CSV lacks these fields; evaluate an inventory_<stamp>.json for every rule."
            );
        }
    }
    if !v.incomplete.is_empty() {
        let _ = writeln!(s, "\nAccounts not fully audited:");
        for a in v.incomplete {
            let _ = writeln!(
                s,
                "  {} {}: {}",
                visible(&a.id),
                visible(&a.name),
                visible(&a.reasons.join("; "))
            );
        }
    }
    if !v.skipped.is_empty() {
        let _ = writeln!(s, "\nAccounts skipped (not active):");
        for a in v.skipped {
            let _ = writeln!(
                s,
                "  {} {}: {}",
                visible(&a.id),
                visible(&a.name),
                visible(&a.reason)
            );
        }
    }
    if !v.rule_errors.is_empty() {
        let _ = writeln!(s, "\nRule errors:");
        for e in v.rule_errors {
            let more = if e.more > 0 {
                format!(" (and {} more)", e.more)
            } else {
                String::new()
            };
            let _ = writeln!(
                s,
                "  {} on {}: {}{more}",
                visible(&e.rule_id),
                visible(&e.record),
                visible(&e.message)
            );
        }
    }
    if !written.is_empty() {
        let _ = writeln!(s, "\nWrote:");
        for p in written {
            let _ = writeln!(s, "  {}", visible(&p.display().to_string()));
        }
    }
    for p in skipped {
        let _ = writeln!(
            s,
            "Not overwritten (it is an input): {}",
            visible(&p.display().to_string())
        );
    }
    let gate = match run.gate.fail_on {
        Some(sev) => format!(
            "{} {}finding(s) at or above {} (--fail-on {}{})",
            v.gating,
            if v.new_only { "new " } else { "" },
            sev.as_str(),
            sev.as_str(),
            if v.new_only { " --new-only" } else { "" }
        ),
        None => "gate off (--fail-on none)".to_string(),
    };
    let _ = writeln!(s, "\nGate: {gate} → exit {}", v.exit_code);
    s
}
