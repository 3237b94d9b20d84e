//! `report_<stamp>.html`: one self-contained page for people (SPEC §3): totals, findings by
//! severity and by account, MFA coverage per account with the production segment, the key-age
//! distribution, outliers, the remediation list and the findings, with what the run could not
//! see. Charts are inline SVG. The page has no script and loads nothing: its
//! Content-Security-Policy forbids both, so a hostile user name or tag cannot run or fetch
//! anything even if it slipped past the escaping. A second policy (a browser enforces every
//! policy of a page) sets `base-uri 'none'` and `form-action 'none'`, which `default-src`
//! does not cover: injected markup could neither re-base the page's relative links nor make
//! a form that submits anywhere.
//!
//! Long lists are cut (most urgent first) and say where the rest is: the page stays small on
//! a large Organization, the CSV and JSON outputs stay complete.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::metrics::OrgMetrics;
use crate::emit::csv::first_sentence;
use crate::emit::emitter::{Emitter, OutputFile, OutputOptions};
use crate::finding::Finding;
use crate::finding::Located;
use crate::run::view::{tally, Headline, SeverityCounts, View};
use crate::run::RunReport;
use crate::trend::{compute, By};
use crate::vocab::{Change, Severity, Status};
use crate::wire::HistoryLineV1;

/// `--format html`: the report for people, one self-contained page.
pub struct Html;

impl Emitter for Html {
    fn name(&self) -> &'static str {
        "html"
    }

    fn describe(&self) -> &'static str {
        "the self-contained HTML report"
    }

    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>> {
        vec![OutputFile::new(
            format!("report_{}.html", opts.stamp),
            move |w| w.write_all(render(run, opts.history.as_deref()).as_bytes()),
        )]
    }
}

/// Findings listed on the page (most severe first); the findings JSON has them all.
pub const MAX_FINDING_ROWS: usize = 2_000;
/// Remediation tasks listed on the page (most urgent first); the remediation CSV has them all.
pub const MAX_TASK_ROWS: usize = 2_000;
/// Outlier keys listed on the page (oldest first).
pub const MAX_OUTLIER_ROWS: usize = 500;

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Bar colour of a severity.
pub fn color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#b91c1c",
        Severity::High => "#ea580c",
        Severity::Medium => "#ca8a04",
        Severity::Low => "#2563eb",
        Severity::Info => "#6b7280",
    }
}

/// Colour of an MFA coverage bar: green at 100 %, amber from 80 %, red below.
fn coverage_color(pct: f64) -> &'static str {
    if pct >= 100.0 {
        "#15803d"
    } else if pct >= 80.0 {
        "#ca8a04"
    } else {
        "#b91c1c"
    }
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0; color: #111827; background: #f9fafb; }
header { background: #111827; color: #f9fafb; padding: 1.2rem 2rem; }
header h1 { margin: 0 0 .3rem 0; font-size: 1.5rem; }
header p { margin: 0; color: #d1d5db; }
nav { padding: .5rem 2rem; background: #e5e7eb; font-size: .9rem; }
nav a { margin-right: 1rem; color: #1f2937; }
main { padding: 1rem 2rem 3rem 2rem; max-width: 1400px; }
section { margin-top: 2rem; }
h2 { font-size: 1.2rem; border-bottom: 2px solid #d1d5db; padding-bottom: .3rem; }
.banner { padding: .8rem 1rem; border-radius: 6px; margin-top: 1rem; }
.banner.fail { background: #fee2e2; border: 1px solid #b91c1c; }
.banner.pass { background: #dcfce7; border: 1px solid #15803d; }
.banner.incomplete { background: #fef3c7; border: 1px solid #ca8a04; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; }
.card { background: #fff; border: 1px solid #d1d5db; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.card .n { font-size: 1.6rem; font-weight: 600; }
.card .l { font-size: .85rem; color: #4b5563; }
table { border-collapse: collapse; background: #fff; font-size: .85rem; margin-top: .5rem; }
th, td { border: 1px solid #e5e7eb; padding: .3rem .5rem; text-align: left; vertical-align: top; overflow-wrap: break-word; }
td.msg { overflow-wrap: anywhere; min-width: 16rem; }
td.mono, td.date, .sev { white-space: nowrap; }
td.status { min-width: 12rem; }
table.wide { width: 100%; }
th { background: #f3f4f6; }
td.date { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.sev { display: inline-block; padding: 0 .4rem; border-radius: 4px; color: #fff; font-size: .8rem; }
.sev-critical { background: #b91c1c; } .sev-high { background: #ea580c; } .sev-medium { background: #ca8a04; }
.sev-low { background: #2563eb; } .sev-info { background: #6b7280; }
.waived { color: #6b7280; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 4px; font-size: .75rem; border: 1px solid #9ca3af; }
.badge.prod { background: #fee2e2; border-color: #b91c1c; }
.note { color: #4b5563; font-size: .9rem; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
svg text { font-family: system-ui, "DejaVu Sans", sans-serif; font-size: 12px; fill: #111827; }
@media print { nav { display: none; } body { background: #fff; } }
"#;

/// Renders the page; with the run history (`--history`, this run's line included), the trend
/// section.
pub fn render(report: &RunReport, history: Option<&[HistoryLineV1]>) -> String {
    let v = report.view();
    let as_of = report.as_of_text();
    let version = env!("CARGO_PKG_VERSION");
    let inv = &report.inventory;
    let mut h = String::with_capacity(64 * 1024);
    let m = &report.metrics;
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"iam-audit {version}\">\n\
         <title>iam-audit report · as of {as_of}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        version = esc(version),
        as_of = esc(&as_of),
    );
    let _ = writeln!(
        h,
        "<header><h1>IAM credential audit</h1><p>As of {as_of} · iam-audit {version} · source: {kind} ({files}) · {accounts} account(s) audited</p></header>",
        as_of = esc(&as_of),
        version = esc(version),
        kind = esc(&crate::emit::emitter::wire_name(&inv.source.kind)),
        files = esc(&if inv.source.files.is_empty() {
            "AWS".to_string()
        } else {
            inv.source.files.join(", ")
        }),
        accounts = report.coverage.audited.len(),
    );
    h.push_str(
        "<nav><a href=\"#totals\">Totals</a><a href=\"#coverage\">Coverage</a><a href=\"#severity\">By severity</a>\
         <a href=\"#accounts\">By account</a><a href=\"#mfa\">MFA coverage</a><a href=\"#key-age\">Key age</a>\
         <a href=\"#outliers\">Outliers</a><a href=\"#remediation\">Remediation</a>",
    );
    if report.progress().is_some() {
        h.push_str("<a href=\"#progress\">Progress</a>");
    }
    h.push_str("<a href=\"#findings\">Findings</a>");
    let history = history.filter(|l| !l.is_empty());
    if history.is_some() {
        h.push_str("<a href=\"#trend\">Trend</a>");
    }
    h.push_str("</nav>\n<main>\n");
    gate_banner(&mut h, &v);
    totals(&mut h, report, &v);
    coverage(&mut h, &v);
    by_severity(&mut h, &v.open, v.waived);
    by_account(&mut h, report);
    mfa(&mut h, m);
    key_age(&mut h, m);
    outliers(&mut h, report);
    remediation(&mut h, report);
    if let Some(p) = report.progress() {
        progress(&mut h, p);
    }
    findings(&mut h, report);
    if let Some(lines) = history {
        trend(&mut h, lines);
    }
    h.push_str("</main>\n</body>\n</html>\n");
    h
}

fn gate_banner(h: &mut String, v: &View<'_>) {
    let scope = if v.new_only { " new" } else { "" };
    let (class, text) = match v.headline {
        Headline::GateOff => ("pass", "Gate off (<b>--fail-on none</b>).".to_string()),
        Headline::GateOffIncomplete { accounts } => (
            "incomplete",
            format!(
                "Incomplete: gate off (<b>--fail-on none</b>), but {accounts} account(s) were not fully collected (see Coverage)."
            ),
        ),
        Headline::Passed => (
            "pass",
            format!(
                "Gate passed: no{scope} open finding at or above <b>{}</b>.",
                esc(v.fail_on)
            ),
        ),
        Headline::Failed { gating } => (
            "fail",
            format!(
                "Gate failed: {gating} open{scope} finding(s) at or above <b>{}</b>.",
                esc(v.fail_on)
            ),
        ),
        Headline::Incomplete { accounts } => (
            "incomplete",
            format!(
                "Incomplete: no{scope} open finding at or above <b>{}</b>, but {accounts} account(s) were not fully collected (see Coverage).",
                esc(v.fail_on)
            ),
        ),
        Headline::Errors {
            rule_errors,
            exit_code,
        } => (
            "fail",
            format!(
                "Errors: {rule_errors} rule error(s) (exit code {exit_code}); the findings below are those the other rules produced."
            ),
        ),
    };
    let _ = writeln!(h, "<div class=\"banner {class}\" id=\"gate\">{text}</div>");
}

fn card(h: &mut String, n: &str, label: &str) {
    let _ = write!(
        h,
        "<div class=\"card\"><div class=\"n\">{}</div><div class=\"l\">{}</div></div>",
        esc(n),
        esc(label)
    );
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".into(), |p| format!("{p}%"))
}

fn totals(h: &mut String, report: &RunReport, v: &View<'_>) {
    let (open, waived) = (&v.open, v.waived);
    let m = &report.metrics.all;
    h.push_str("<section id=\"totals\"><h2>Totals</h2><div class=\"cards\">");
    card(
        h,
        &report.coverage.audited.len().to_string(),
        "accounts audited",
    );
    card(h, &m.users.to_string(), "IAM users");
    card(h, &m.console_users.to_string(), "console users");
    card(h, &pct(m.mfa_coverage_pct), "MFA coverage");
    card(
        h,
        &pct(report.metrics.production.mfa_coverage_pct),
        "MFA coverage, production",
    );
    card(h, &m.active_keys.to_string(), "active keys");
    card(h, &m.inactive_keys.to_string(), "inactive keys");
    for s in SEVERITIES {
        card(h, &open.get(s).to_string(), &format!("open {s}"));
    }
    card(h, &waived.to_string(), "waived");
    if !v.remediated.is_empty() {
        card(
            h,
            &v.remediated.len().to_string(),
            "remediated since the inventory",
        );
    }
    if let Some(b) = v.baseline {
        card(h, &b.new.to_string(), "new since baseline");
        card(h, &b.resolved.len().to_string(), "resolved since baseline");
    }
    h.push_str("</div>");
    let _ = write!(
        h,
        "<p class=\"note\">Usage patterns: {} active key(s) older than 365 days used within 30 days (migration priority), \
         {} older than 365 days never used (safe deletion candidates); {} user(s) hold two or more keys (at most {} per user).</p>",
        m.old_recently_used, m.old_never_used, m.users_with_multiple_keys, m.max_keys_per_user
    );
    h.push_str("</section>\n");
}

/// What the run could not see, and what the waivers and the baseline did.
fn coverage(h: &mut String, v: &View<'_>) {
    h.push_str("<section id=\"coverage\"><h2>Coverage</h2>");
    if v.incomplete.is_empty() && v.not_evaluable.is_empty() {
        h.push_str("<p>Every account was fully collected and every rule could be evaluated.</p>");
    }
    if !v.incomplete.is_empty() {
        h.push_str(
            "<p><b>Accounts not (fully) collected</b>: their findings are missing or partial.</p>\
             <table><tr><th>account</th><th>name</th><th>status</th><th>reasons</th></tr>",
        );
        for i in v.incomplete {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&i.id),
                esc(&i.name),
                esc(&crate::emit::emitter::wire_name(&i.status)),
                esc(&i.reasons.join("; "))
            );
        }
        h.push_str("</table>");
    }
    if !v.skipped.is_empty() {
        h.push_str("<p>Accounts skipped on purpose:</p><table><tr><th>account</th><th>name</th><th>reason</th></tr>");
        for s in v.skipped {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.id),
                esc(&s.name),
                esc(&s.reason)
            );
        }
        h.push_str("</table>");
    }
    if !v.not_evaluable.is_empty() {
        h.push_str(
            "<p><b>Not evaluable</b>: the input lacks fields these rules need; they were not passed silently.</p>\
             <table><tr><th>rule</th><th>not evaluable for</th><th>missing fields</th></tr>",
        );
        for n in v.not_evaluable {
            let fields: Vec<&str> = n.fields.iter().map(String::as_str).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&n.rule_id),
                esc(&n.extent()),
                esc(&fields.join(", "))
            );
        }
        h.push_str("</table>");
    }
    if !v.rule_errors.is_empty() {
        h.push_str("<p><b>Rule errors</b>:</p><table><tr><th>rule</th><th>record</th><th>error</th><th>more</th></tr>");
        for e in v.rule_errors {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(&e.rule_id),
                esc(&e.record),
                esc(&e.message),
                e.more
            );
        }
        h.push_str("</table>");
    }
    if let Some(w) = v.waivers {
        let _ = write!(
            h,
            "<p>Waivers: {} finding(s) waived (they do not gate).</p>",
            w.waived
        );
        waiver_table(h, "Expired waivers (no longer applied)", &w.expired);
        waiver_table(h, "Stale waivers (match no finding)", &w.stale);
        waiver_table(h, "Waivers expiring within 14 days", &w.expiring);
    }
    if let Some(b) = v.baseline {
        let _ = write!(
            h,
            "<p>Since the baseline {} (as of {}): {} new, {} unchanged, {} resolved.</p>",
            esc(&b.file),
            esc(&b.as_of),
            b.new,
            b.unchanged,
            b.resolved.len()
        );
        if !b.resolved.is_empty() {
            h.push_str("<table><tr><th>resolved</th><th>severity</th><th>account</th><th>user</th><th>key</th></tr>");
            for f in b.resolved.iter().take(MAX_FINDING_ROWS) {
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
                    esc(&f.rule_id),
                    severity_badge(f.severity),
                    esc(f.account_id.as_deref().unwrap_or("")),
                    esc(f.username.as_deref().unwrap_or("")),
                    esc(f.access_key_id.as_deref().unwrap_or(""))
                );
            }
            h.push_str("</table>");
            more(h, b.resolved.len(), MAX_FINDING_ROWS, "the findings JSON");
        }
    }
    h.push_str("</section>\n");
}

fn waiver_table(h: &mut String, title: &str, list: &[Located]) {
    if list.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<p>{}:</p><table><tr><th>rule</th><th>account</th><th>user</th><th>key</th><th>expires</th><th>owner</th><th>reason</th><th>at</th></tr>",
        esc(title)
    );
    for l in list {
        let w = &l.waiver;
        let _ = write!(
            h,
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"date\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            esc(&w.rule),
            esc(w.account.as_deref().unwrap_or("")),
            esc(w.user.as_deref().unwrap_or("")),
            esc(w.key.as_deref().unwrap_or("")),
            w.expires.format("%Y-%m-%d"),
            esc(&w.owner),
            esc(&w.reason),
            esc(&l.at)
        );
    }
    h.push_str("</table>");
}

fn more(h: &mut String, total: usize, shown: usize, where_: &str) {
    if total > shown {
        let _ = write!(
            h,
            "<p class=\"note\">{} more not shown here: see {}.</p>",
            total - shown,
            esc(where_)
        );
    }
}

fn severity_badge(s: Severity) -> String {
    format!("<span class=\"sev sev-{s}\">{s}</span>")
}

/// Horizontal bars of open findings per severity.
fn by_severity(h: &mut String, open: &SeverityCounts, waived: u64) {
    let max = SEVERITIES
        .iter()
        .map(|s| open.get(*s))
        .max()
        .unwrap_or(0)
        .max(1);
    let (label_w, bar_w, row_h) = (80.0, 380.0, 26.0);
    let height = row_h * SEVERITIES.len() as f64 + 8.0;
    let _ = write!(
        h,
        "<section id=\"severity\"><h2>Open findings by severity</h2>\
         <svg role=\"img\" width=\"560\" height=\"{height}\" viewBox=\"0 0 560 {height}\"><title>Open findings by severity</title>"
    );
    for (i, s) in SEVERITIES.iter().enumerate() {
        let n = open.get(*s);
        let y = 4.0 + row_h * i as f64;
        let w = if n == 0 {
            0.0
        } else {
            (bar_w * n as f64 / max as f64).max(2.0)
        };
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{ty}\">{s}</text><rect class=\"bar-{s}\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"{c}\"><title>{s}: {n}</title></rect>\
             <text x=\"{tx:.1}\" y=\"{ty}\">{n}</text>",
            ty = y + 14.0,
            c = color(*s),
            tx = label_w + w + 6.0,
        );
    }
    h.push_str("</svg>");
    if waived > 0 {
        let _ = write!(
            h,
            "<p class=\"note\">Not counted above: {waived} waived finding(s).</p>"
        );
    }
    h.push_str("</section>\n");
}

/// Open findings per account: counts per severity and a stacked bar.
fn by_account(h: &mut String, report: &RunReport) {
    let mut per: BTreeMap<&str, (SeverityCounts, u64)> = BTreeMap::new();
    for f in &report.findings {
        let key = f.subject.account_id.as_deref().unwrap_or("");
        let (open, waived) = per.entry(key).or_default();
        tally(open, waived, f);
    }
    let total = SeverityCounts::total;
    let max = per
        .values()
        .map(|(c, _)| total(c))
        .max()
        .unwrap_or(0)
        .max(1);
    let names: BTreeMap<&str, (&str, bool)> = report
        .metrics
        .accounts
        .iter()
        .map(|a| {
            (
                a.account_id.as_str(),
                (a.account_name.as_str(), a.production),
            )
        })
        .collect();
    h.push_str(
        "<section id=\"accounts\"><h2>Open findings by account</h2>\
         <table><tr><th>account</th><th>name</th><th class=\"num\">critical</th><th class=\"num\">high</th><th class=\"num\">medium</th>\
         <th class=\"num\">low</th><th class=\"num\">info</th><th class=\"num\">waived</th><th>open findings</th></tr>",
    );
    // Accounts with no finding are listed too: a clean account is news.
    let mut ids: Vec<&str> = names.keys().copied().collect();
    for id in per.keys() {
        if !names.contains_key(id) {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let empty = (SeverityCounts::default(), 0);
    for id in ids {
        let (c, waived) = per.get(id).unwrap_or(&empty);
        let (name, production) = names.get(id).copied().unwrap_or(("", false));
        let shown_id = if id.is_empty() { "(organization)" } else { id };
        let _ = write!(
            h,
            "<tr><td class=\"mono\">{}</td><td>{}{}</td>",
            esc(shown_id),
            esc(name),
            if production {
                " <span class=\"badge prod\">production</span>"
            } else {
                ""
            }
        );
        for s in SEVERITIES {
            let _ = write!(h, "<td class=\"num\">{}</td>", c.get(s));
        }
        let _ = write!(h, "<td class=\"num\">{waived}</td><td>");
        // The stacked bar, scaled to the account with the most open findings.
        let _ = write!(
            h,
            "<svg role=\"img\" width=\"204\" height=\"14\" viewBox=\"0 0 204 14\"><title>{} open finding(s)</title>",
            total(c)
        );
        let mut x = 2.0;
        for s in SEVERITIES {
            let n = c.get(s);
            if n > 0 {
                let w = 200.0 * n as f64 / max as f64;
                let _ = write!(
                    h,
                    "<rect x=\"{x:.1}\" y=\"1\" width=\"{w:.1}\" height=\"12\" fill=\"{}\"/>",
                    color(s)
                );
                x += w;
            }
        }
        h.push_str("</svg></td></tr>");
    }
    h.push_str("</table></section>\n");
}

/// MFA coverage of console users per account, production accounts first.
fn mfa(h: &mut String, m: &OrgMetrics) {
    let (all, prod, non_prod) = (&m.all, &m.production, &m.non_production);
    let _ = write!(
        h,
        "<section id=\"mfa\"><h2>MFA coverage of console users</h2>\
         <p>Organization: <b>{}</b> of {} console user(s) · production: <b>{}</b> of {} (target 100%) · non-production: <b>{}</b> of {}</p>",
        pct(all.mfa_coverage_pct),
        all.console_users,
        pct(prod.mfa_coverage_pct),
        prod.console_users,
        pct(non_prod.mfa_coverage_pct),
        non_prod.console_users
    );
    h.push_str(
        "<table><tr><th>account</th><th>name</th><th>segment</th><th class=\"num\">console users</th>\
         <th class=\"num\">with MFA</th><th class=\"num\">coverage</th><th></th></tr>",
    );
    for a in m.accounts_production_first() {
        let m = &a.metrics;
        let bar = match m.mfa_coverage_pct {
            Some(p) => format!(
                "<svg role=\"img\" width=\"124\" height=\"14\" viewBox=\"0 0 124 14\"><title>{p}%</title>\
                 <rect x=\"2\" y=\"1\" width=\"120\" height=\"12\" fill=\"#e5e7eb\"/>\
                 <rect class=\"mfa-bar\" x=\"2\" y=\"1\" width=\"{:.1}\" height=\"12\" fill=\"{}\"/></svg>",
                120.0 * p / 100.0,
                coverage_color(p)
            ),
            None => String::new(),
        };
        let _ = write!(
            h,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{bar}</td></tr>",
            esc(&a.account_id),
            esc(&a.account_name),
            if a.production {
                "<span class=\"badge prod\">production</span>"
            } else {
                "non-production"
            },
            m.console_users,
            m.mfa_users,
            pct(m.mfa_coverage_pct)
        );
    }
    h.push_str("</table></section>\n");
}

/// Active keys per age bucket, production stacked under non-production.
fn key_age(h: &mut String, m: &OrgMetrics) {
    let (prod, non_prod) = (
        &m.production.active_key_age,
        &m.non_production.active_key_age,
    );
    let buckets = [
        ("0–30 days", prod.d0_30, non_prod.d0_30),
        ("31–90 days", prod.d31_90, non_prod.d31_90),
        ("91–365 days", prod.d91_365, non_prod.d91_365),
        ("365+ days", prod.d365_plus, non_prod.d365_plus),
    ];
    let max = buckets
        .iter()
        .map(|(_, p, n)| p + n)
        .max()
        .unwrap_or(0)
        .max(1);
    let (chart_h, col_w, top) = (160.0, 110.0, 20.0);
    let _ = write!(
        h,
        "<section id=\"key-age\"><h2>Active keys by age</h2><p>{} active key(s). \
         <span style=\"color:#7f1d1d\">■</span> production <span style=\"color:#fca5a5\">■</span> non-production</p>\
         <svg role=\"img\" width=\"480\" height=\"210\" viewBox=\"0 0 480 210\"><title>Active keys by age</title>",
        m.all.active_keys
    );
    for (i, (label, p, n)) in buckets.iter().enumerate() {
        let x = 10.0 + col_w * i as f64;
        let ph = chart_h * *p as f64 / max as f64;
        let nh = chart_h * *n as f64 / max as f64;
        let base = top + chart_h;
        let _ = write!(
            h,
            "<rect class=\"age-prod\" x=\"{x}\" y=\"{py:.1}\" width=\"80\" height=\"{ph:.1}\" fill=\"#7f1d1d\"><title>{label}, production: {p}</title></rect>\
             <rect class=\"age-nonprod\" x=\"{x}\" y=\"{ny:.1}\" width=\"80\" height=\"{nh:.1}\" fill=\"#fca5a5\"><title>{label}, non-production: {n}</title></rect>\
             <text x=\"{x}\" y=\"{ly}\">{label}</text><text x=\"{x}\" y=\"{ty:.1}\">{total}</text>",
            py = base - ph,
            ny = base - ph - nh,
            ly = base + 16.0,
            ty = (base - ph - nh - 4.0).max(12.0),
            total = p + n,
        );
    }
    h.push_str("</svg></section>\n");
}

fn outliers(h: &mut String, report: &RunReport) {
    let list = report.outliers();
    let _ = write!(
        h,
        "<section id=\"outliers\"><h2>Outliers</h2><p>Active keys older than two years in production accounts: {}.</p>",
        list.len()
    );
    if !list.is_empty() {
        h.push_str("<table><tr><th>account</th><th>name</th><th>user</th><th>key</th><th class=\"num\">age (days)</th><th>last used</th></tr>");
        for o in list.iter().take(MAX_OUTLIER_ROWS) {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"date\">{}</td></tr>",
                esc(&o.account_id),
                esc(&o.account_name),
                esc(&o.username),
                esc(&o.access_key_id),
                o.age_days.floor(),
                o.last_used.map_or_else(|| "never".into(), |t| t.format("%Y-%m-%d").to_string())
            );
        }
        h.push_str("</table>");
        more(h, list.len(), MAX_OUTLIER_ROWS, "the inventory JSON");
    }
    h.push_str("</section>\n");
}

/// Waiver text of a finding: until when, by whom, why.
fn waiver_text(w: &Located) -> String {
    let mut s = format!(
        "waived until {} by {}: {}",
        w.waiver.expires.format("%Y-%m-%d"),
        w.waiver.owner,
        w.waiver.reason
    );
    if let Some(t) = &w.waiver.ticket {
        let _ = write!(s, " ({t})");
    }
    s
}

fn status_cell(f: &Finding) -> String {
    match (f.status, f.waiver.as_deref()) {
        (Status::Waived, Some(w)) => format!(
            "<span class=\"status-waived\">{}</span>",
            esc(&waiver_text(w))
        ),
        (Status::Waived, None) => "<span class=\"status-waived\">waived</span>".into(),
        (Status::Open, _) => "open".into(),
        (Status::Remediated, _) => match f.remediated_by.as_deref() {
            Some(r) => format!(
                "<span class=\"status-remediated\">remediated: {}</span>",
                esc(&r.describe())
            ),
            None => "<span class=\"status-remediated\">remediated</span>".into(),
        },
    }
}

fn remediation(h: &mut String, report: &RunReport) {
    let list = report.tasks();
    let _ = write!(
        h,
        "<section id=\"remediation\"><h2>Remediation</h2><p>{} task(s), most severe first, then by due date; then the waived ones, due when their waiver ends; last those CloudTrail shows remediated since the inventory (the next run confirms them).</p>",
        list.len()
    );
    if !list.is_empty() {
        h.push_str(
            "<table class=\"wide\"><tr><th class=\"num\">#</th><th>due</th><th>severity</th><th>account</th><th>user</th><th>key</th>\
             <th>rule</th><th>action</th><th>status</th></tr>",
        );
        for t in list.iter().take(MAX_TASK_ROWS) {
            let f = report.task_finding(t);
            let s = &f.subject;
            let class = if f.status == Status::Open {
                ""
            } else {
                " class=\"waived\""
            };
            let _ = write!(
                h,
                "<tr{class}><td class=\"num\">{}</td><td class=\"date\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"msg\">{} {}</td><td class=\"status\">{}</td></tr>",
                t.priority,
                t.due.format("%Y-%m-%d"),
                severity_badge(f.severity),
                esc(s.account_id.as_deref().unwrap_or("")),
                esc(s.username.as_deref().unwrap_or("")),
                esc(s.access_key_id.as_deref().unwrap_or("")),
                esc(&f.rule.id),
                esc(&f.message),
                esc(first_sentence(&f.rule.remediation)),
                status_cell(f)
            );
        }
        h.push_str("</table>");
        more(h, list.len(), MAX_TASK_ROWS, "the remediation CSV");
    }
    h.push_str("</section>\n");
}

fn progress(h: &mut String, p: &crate::analysis::progress::Progress) {
    let counts = p.organization.named();
    let window = match (p.from, p.to) {
        (Some(from), Some(to)) => format!(
            "Events from {} to {}.",
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M")
        ),
        _ => "No events.".to_string(),
    };
    let _ = write!(
        h,
        "<section id=\"progress\"><h2>Remediation progress</h2><p>{}</p><div class=\"cards\">",
        esc(&window)
    );
    for (what, n) in counts {
        card(h, &n.to_string(), what);
    }
    h.push_str("</div>");
    if !p.accounts.is_empty() {
        h.push_str("<table><tr><th>account</th><th>name</th>");
        for (what, _) in counts {
            let _ = write!(h, "<th class=\"num\">{}</th>", esc(what));
        }
        h.push_str("</tr>");
        for a in &p.accounts {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td>",
                esc(&a.account_id),
                esc(&a.account_name)
            );
            for (_, n) in a.counts.named() {
                let _ = write!(h, "<td class=\"num\">{n}</td>");
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    if !p.offboardings.is_empty() {
        h.push_str(
            "<h3>Offboardings</h3><p>Keys first, then console access, then the user.</p>\
             <table class=\"wide\"><tr><th>account</th><th>user</th><th>steps</th><th class=\"num\">hours</th><th>user deleted</th><th>in order</th></tr>",
        );
        for o in &p.offboardings {
            let _ = write!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"msg\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&o.account_id),
                esc(&o.username),
                esc(&o.sequence()),
                o.duration_hours,
                if o.complete { "yes" } else { "no" },
                if o.in_order { "yes" } else { "<b>no</b>" }
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>\n");
}

fn findings(h: &mut String, report: &RunReport) {
    let baseline = report.findings.iter().any(|f| f.change.is_some());
    let _ = write!(
        h,
        "<section id=\"findings\"><h2>Findings</h2><p>{} finding(s), most severe first.</p>",
        report.findings.len()
    );
    if !report.findings.is_empty() {
        let _ = write!(
            h,
            "<table class=\"wide\"><tr><th>severity</th><th>rule</th><th>account</th><th>user</th><th>key</th><th>message</th><th>status</th>{}</tr>",
            if baseline { "<th>since baseline</th>" } else { "" }
        );
        for f in report.findings.iter().take(MAX_FINDING_ROWS) {
            let s = &f.subject;
            let class = if f.status == Status::Open {
                ""
            } else {
                " class=\"waived\""
            };
            let account = match (s.account_id.as_deref(), s.account_name.as_deref()) {
                (Some(id), Some(name)) if !name.is_empty() => format!("{id} ({name})"),
                (Some(id), _) => id.to_string(),
                _ => String::new(),
            };
            let _ = write!(
                h,
                "<tr{class} id=\"f-{}\"><td>{}</td><td title=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td class=\"msg\">{}</td><td class=\"status\">{}</td>",
                esc(&f.id),
                severity_badge(f.severity),
                esc(&f.rule.title),
                esc(&f.rule.id),
                esc(&account),
                esc(s.username.as_deref().unwrap_or("")),
                esc(s.access_key_id.as_deref().unwrap_or("")),
                esc(&f.message),
                status_cell(f)
            );
            if baseline {
                let change = match f.change {
                    Some(Change::New) => "<b>new</b>",
                    Some(Change::Unchanged) => "unchanged",
                    None => "",
                };
                let _ = write!(h, "<td>{change}</td>");
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
        more(
            h,
            report.findings.len(),
            MAX_FINDING_ROWS,
            "the findings JSON",
        );
    }
    h.push_str("</section>\n");
}

/// One series of a trend chart: its class, colour, label and a value per run (absent: no point).
struct Series {
    class: String,
    color: &'static str,
    label: String,
    values: Vec<Option<f64>>,
}

/// A line chart, one point per run (x evenly spaced, oldest left), y from 0 to `max`.
fn line_chart(
    h: &mut String,
    title: &str,
    runs: &[String],
    series: &[Series],
    max: f64,
    unit: &str,
) {
    let (w, ht, left, right, top, bottom) = (720.0, 240.0, 48.0, 150.0, 12.0, 34.0);
    let (pw, ph) = (w - left - right, ht - top - bottom);
    let n = runs.len();
    let x = |i: usize| {
        if n <= 1 {
            left + pw / 2.0
        } else {
            left + pw * i as f64 / (n - 1) as f64
        }
    };
    let max = if max > 0.0 { max } else { 1.0 };
    let y = |v: f64| top + ph - ph * v / max;
    let _ = write!(
        h,
        "<svg role=\"img\" width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\"><title>{}</title>\
         <line x1=\"{left}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#9ca3af\"/>\
         <line x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{b}\" stroke=\"#9ca3af\"/>\
         <text x=\"4\" y=\"{yt:.1}\">{}{unit}</text><text x=\"4\" y=\"{b}\">0{unit}</text>",
        esc(title),
        number(max),
        b = top + ph,
        r = left + pw,
        yt = top + 10.0,
    );
    if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
        let _ = write!(
            h,
            "<text x=\"{left}\" y=\"{ly}\">{}</text>",
            esc(first),
            ly = ht - 8.0
        );
        if n > 1 {
            let _ = write!(
                h,
                "<text x=\"{lx:.1}\" y=\"{ly}\" text-anchor=\"end\">{}</text>",
                esc(last),
                lx = left + pw,
                ly = ht - 8.0
            );
        }
    }
    for (k, s) in series.iter().enumerate() {
        let points: Vec<(usize, f64)> = s
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (i, v)))
            .collect();
        if points.len() > 1 {
            let path: Vec<String> = points
                .iter()
                .map(|(i, v)| format!("{:.1},{:.1}", x(*i), y(*v)))
                .collect();
            let _ = write!(
                h,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                s.color,
                path.join(" ")
            );
        }
        for (i, v) in &points {
            let _ = write!(
                h,
                "<circle class=\"{}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{}\"><title>{}: {} {}{unit}</title></circle>",
                esc(&s.class),
                x(*i),
                y(*v),
                s.color,
                esc(&runs[*i]),
                esc(&s.label),
                number(*v),
            );
        }
        let ly = top + 14.0 + 18.0 * k as f64;
        let _ = write!(
            h,
            "<rect x=\"{lx}\" y=\"{ry}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{tx}\" y=\"{ly}\">{}</text>",
            s.color,
            esc(&s.label),
            lx = w - right + 16.0,
            ry = ly - 10.0,
            tx = w - right + 34.0,
        );
    }
    h.push_str("</svg>");
}

/// A number as people read it: whole numbers without decimals.
fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The trend over the run history (`--history`): MFA coverage and open findings by severity,
/// one point per run, this run the last.
fn trend(h: &mut String, lines: &[HistoryLineV1]) {
    let t = compute(lines, By::Run);
    let runs: Vec<String> = t
        .periods
        .iter()
        .map(|p| p.as_of.format("%Y-%m-%d %H:%M").to_string())
        .collect();
    let _ = write!(
        h,
        "<section id=\"trend\"><h2>Trend</h2><p>{} run(s) of the history, this one the last (see <code>iam-audit trend</code> for \
         key ages, new and resolved findings and time to remediate).</p><h3>MFA coverage of console users</h3>",
        t.runs
    );
    let mfa = [
        Series {
            class: "trend-mfa-org".into(),
            color: "#15803d",
            label: "organization".into(),
            values: t
                .periods
                .iter()
                .map(|p| p.mfa_coverage_pct.organization)
                .collect(),
        },
        Series {
            class: "trend-mfa-prod".into(),
            color: "#7f1d1d",
            label: "production".into(),
            values: t
                .periods
                .iter()
                .map(|p| p.mfa_coverage_pct.production)
                .collect(),
        },
    ];
    line_chart(h, "MFA coverage of console users", &runs, &mfa, 100.0, "%");
    h.push_str("<h3>Open findings by severity</h3>");
    let open: Vec<Series> = SEVERITIES
        .iter()
        .map(|s| Series {
            class: format!("trend-open-{s}"),
            color: color(*s),
            label: s.to_string(),
            values: t
                .periods
                .iter()
                .map(|p| Some(p.open.get(*s) as f64))
                .collect(),
        })
        .collect();
    let max = t
        .periods
        .iter()
        .flat_map(|p| SEVERITIES.iter().map(|s| p.open.get(*s)))
        .max()
        .unwrap_or(0) as f64;
    line_chart(h, "Open findings by severity", &runs, &open, max, "");
    h.push_str("</section>\n");
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn text_and_attribute_values_are_escaped() {
        assert_eq!(
            esc(r#"<a href="x" title='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(esc("jane.doe"), "jane.doe");
    }
}
