//! The terminal summary (printed on stderr by the binary): findings per rule and severity,
//! what could not be evaluated or collected, the outputs and the gate.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::emit::json::FindingsV1;
use crate::finding::Severity;

/// Renders the summary table.
pub fn render(f: &FindingsV1, written: &[PathBuf], skipped: &[PathBuf]) -> String {
    let mut s = String::new();
    let m = &f.summary.metrics.all;
    let _ = writeln!(
        s,
        "iam-audit {} · as of {} · {} accounts, {} users, {} active + {} inactive keys",
        f.tool.version,
        f.as_of,
        f.summary.metrics.accounts.len(),
        m.users,
        m.active_keys,
        m.inactive_keys
    );
    let width = f
        .summary
        .rules
        .iter()
        .map(|r| r.rule_id.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        s,
        "\n  {:<width$}  {:<8}  {:>8}",
        "rule", "severity", "findings"
    );
    let _ = writeln!(s, "  {:-<width$}  {:-<8}  {:->8}", "", "", "");
    let mut rules = f.summary.rules.clone();
    rules.sort_by(|a, b| {
        (std::cmp::Reverse(a.severity), &a.rule_id)
            .cmp(&(std::cmp::Reverse(b.severity), &b.rule_id))
    });
    for r in &rules {
        let not_eval = f
            .summary
            .not_evaluable
            .iter()
            .find(|n| n.rule_id == r.rule_id);
        let note = match not_eval {
            Some(n) if n.whole_rule => "  (not evaluable)".to_string(),
            Some(n) => format!("  ({} not evaluable)", n.records),
            None => String::new(),
        };
        let _ = writeln!(
            s,
            "  {:<width$}  {:<8}  {:>8}{note}",
            r.rule_id,
            r.severity.as_str(),
            r.findings
        );
    }
    let c = &f.summary.findings_by_severity;
    let _ = writeln!(
        s,
        "\nFindings: {} critical, {} high, {} medium, {} low, {} info",
        c.critical, c.high, c.medium, c.low, c.info
    );
    if let Some(w) = &f.waivers {
        let _ = writeln!(
            s,
            "Waived: {} finding(s) (they do not gate); waivers expired: {}, stale: {}, expiring within 14 days: {}",
            w.waived_findings,
            w.expired.len(),
            w.stale.len(),
            w.expiring_soon.len()
        );
    }
    if let Some(b) = &f.baseline {
        let _ = writeln!(
            s,
            "Since the baseline ({}, as of {}): {} new, {} unchanged, {} resolved",
            b.file,
            b.as_of,
            b.new,
            b.unchanged,
            b.resolved.len()
        );
    }
    if let Some(cov) = m.mfa_coverage_pct {
        let prod = f
            .summary
            .metrics
            .production
            .mfa_coverage_pct
            .map(|p| format!("{p}%"))
            .unwrap_or_else(|| "n/a".into());
        let _ = writeln!(
            s,
            "MFA coverage: {cov}% of {} console users (production: {prod})",
            m.console_users
        );
    }
    if !f.summary.not_evaluable.is_empty() {
        let _ = writeln!(
            s,
            "\nNot evaluable (the input lacks a field these rules need):"
        );
        for n in &f.summary.not_evaluable {
            let what = n.extent();
            let _ = writeln!(
                s,
                "  {}: {what}; needs {}",
                n.rule_id,
                n.missing_fields.join(", ")
            );
        }
        // The hint is for fields the whole input lacks, not for gaps of single records
        // (an account without root data, a root MFA device of unknown kind).
        let input_gap = f
            .summary
            .not_evaluable
            .iter()
            .flat_map(|n| &n.missing_fields)
            .any(|m| f.source.unavailable.contains(m));
        if f.source.kind == crate::inventory::SourceKind::StockCsv && input_gap {
            let _ = writeln!(
                s,
                "  A stock CSV lacks these fields; evaluate an inventory_<stamp>.json for every rule."
            );
        }
    }
    if !f.accounts.incomplete.is_empty() {
        let _ = writeln!(s, "\nAccounts not fully audited:");
        for a in &f.accounts.incomplete {
            let _ = writeln!(s, "  {} {}: {}", a.id, a.name, a.reasons.join("; "));
        }
    }
    if !f.accounts.skipped.is_empty() {
        let _ = writeln!(s, "\nAccounts skipped (not active):");
        for a in &f.accounts.skipped {
            let _ = writeln!(s, "  {} {}: {}", a.id, a.name, a.reason);
        }
    }
    if !f.summary.rule_errors.is_empty() {
        let _ = writeln!(s, "\nRule errors:");
        for e in &f.summary.rule_errors {
            let more = if e.more > 0 {
                format!(" (and {} more)", e.more)
            } else {
                String::new()
            };
            let _ = writeln!(s, "  {} on {}: {}{more}", e.rule_id, e.record, e.message);
        }
    }
    if !written.is_empty() {
        let _ = writeln!(s, "\nWrote:");
        for p in written {
            let _ = writeln!(s, "  {}", p.display());
        }
    }
    for p in skipped {
        let _ = writeln!(s, "Not overwritten (it is an input): {}", p.display());
    }
    let gate = match Severity::parse(&f.fail_on) {
        Some(sev) => format!(
            "{} {}finding(s) at or above {} (--fail-on {}{})",
            f.summary.gating_findings,
            if f.new_only { "new " } else { "" },
            sev.as_str(),
            sev.as_str(),
            if f.new_only { " --new-only" } else { "" }
        ),
        None => "gate off (--fail-on none)".to_string(),
    };
    let _ = writeln!(s, "\nGate: {gate} → exit {}", f.summary.exit_code);
    s
}
