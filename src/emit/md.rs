//! `report_<stamp>.md`: the run in GitHub-flavoured Markdown, for a job summary
//! (`$GITHUB_STEP_SUMMARY`) or a pull-request comment: the gate, what could not be seen,
//! findings by severity, MFA coverage per account, the key-age distribution, the most
//! urgent open findings and those CloudTrail shows remediated since the inventory.
//!
//! Nothing from the inputs becomes markup: every value (names, ids, messages, reasons, the
//! baseline's `as_of`) is escaped ([`esc`]): no link, image, HTML, table cell, autolink or
//! GitHub math (`$`), and control characters are written out. An identifier shown as code
//! (the SARIF help's rule id and tags) is a code span nothing can close early ([`code`]).

use std::fmt::Write as _;

use crate::emit::emitter::{Emitter, OutputFile, OutputOptions};
use crate::emit::text::{is_control, visible_char};
use crate::finding::RemediatedBy;
use crate::run::view::Headline;
use crate::run::RunReport;
use crate::vocab::Change;

/// `--format md`: the run in Markdown.
pub struct Md;

impl Emitter for Md {
    fn name(&self) -> &'static str {
        "md"
    }

    fn describe(&self) -> &'static str {
        "the Markdown summary, for a CI job summary or a pull-request comment"
    }

    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>> {
        vec![OutputFile::new(
            format!("report_{}.md", opts.stamp),
            move |w| w.write_all(render(run).as_bytes()),
        )]
    }
}

/// Open findings listed (most severe first); the findings JSON has them all.
pub const MAX_FINDING_ROWS: usize = 50;

/// A `$` GitHub does not take for a math delimiter. A backslash does not stop GitHub math
/// (`\$x\$` still renders as LaTeX); a `$` in an element of its own does, as GitHub's
/// documentation advises.
const DOLLAR: &str = "<span>$</span>";

/// Escapes text for a Markdown table cell: no markup, no HTML, no link, no cell break, no
/// math, one line. GitHub's autolinks (`www.`, `scheme://`, `name@host`) are broken by
/// escaping the `.` after `www`, the `:` before `//` and every `@`; every `$` is
/// [`DOLLAR`]; control characters are written out (`\x1b`).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let autolink = match c {
            ':' => chars.get(i + 1) == Some(&'/') && chars.get(i + 2) == Some(&'/'),
            '.' => i >= 3 && chars[i - 3..i].iter().all(|p| p.eq_ignore_ascii_case(&'w')),
            '@' => true,
            _ => false,
        };
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            '$' => out.push_str(DOLLAR),
            c if is_control(c) => {
                let mut v = String::new();
                visible_char(c, &mut v);
                out.push_str(&v.replace('\\', "\\\\"));
            }
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if autolink => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// An identifier as a code span, shown verbatim: its content is never markup, so it needs no
/// escaping but this. The fence is one backtick longer than the longest run of backticks it
/// holds (a backtick cannot close it early); a space pads content that starts or ends with a
/// backtick or a `$` (GitHub's `` $`math`$ `` delimiters) or with spaces at both ends
/// (CommonMark strips one from each); `|` is `\|` (the table splits cells before it sees
/// code spans); line breaks are spaces and other control characters are written out. An
/// empty identifier is an empty cell.
pub fn code(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut body = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => body.push(' '),
            '|' => body.push_str("\\|"),
            c if is_control(c) => visible_char(c, &mut body),
            c => body.push(c),
        }
    }
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let edge = |c: char| c == '`' || c == '$';
    let pad = body.starts_with(edge)
        || body.ends_with(edge)
        || (body.starts_with(' ') && body.ends_with(' ') && body.trim() != "");
    let space = if pad { " " } else { "" };
    format!("{fence}{space}{body}{space}{fence}")
}

fn pct(p: Option<f64>) -> String {
    p.map_or_else(|| "n/a".into(), |p| format!("{p}%"))
}

/// Renders the summary.
pub fn render(run: &RunReport) -> String {
    let v = run.view();
    let mut s = String::new();
    let m = &run.metrics;
    let _ = writeln!(
        s,
        "# IAM credential audit\n\nAs of {} · iam-audit {} · {} account(s) audited\n",
        run.as_of_text(),
        env!("CARGO_PKG_VERSION"),
        run.coverage.audited.len()
    );
    let scope = if v.new_only { " new" } else { "" };
    let gate = match v.headline {
        Headline::GateOff => "**Gate off** (`--fail-on none`).".to_string(),
        Headline::GateOffIncomplete { accounts } => format!(
            "⚠️ **Incomplete**: gate off (`--fail-on none`), but {accounts} account(s) were not fully collected."
        ),
        Headline::Passed => format!(
            "✅ **Gate passed**: no{scope} open finding at or above **{}**.",
            esc(v.fail_on)
        ),
        Headline::Failed { gating } => format!(
            "❌ **Gate failed**: {gating} open{scope} finding(s) at or above **{}**.",
            esc(v.fail_on)
        ),
        Headline::Incomplete { accounts } => format!(
            "⚠️ **Incomplete**: no{scope} open finding at or above **{}**, but {accounts} account(s) were not fully collected.",
            esc(v.fail_on)
        ),
        Headline::Errors {
            rule_errors,
            exit_code,
        } => format!("❌ **Errors**: {rule_errors} rule error(s) (exit code {exit_code})."),
    };
    let _ = writeln!(s, "{gate}\n");

    if !v.incomplete.is_empty() {
        let _ = writeln!(
            s,
            "## Not fully collected\n\n| account | name | status | reasons |\n|---|---|---|---|"
        );
        for i in v.incomplete {
            let status = crate::emit::emitter::wire_name(&i.status);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                esc(&i.id),
                esc(&i.name),
                esc(&status),
                esc(&i.reasons.join("; "))
            );
        }
        s.push('\n');
    }
    if !v.not_evaluable.is_empty() {
        let _ = writeln!(
            s,
            "## Not evaluable\n\nThe input lacks fields these rules need:\n\n| rule | not evaluable for | missing fields |\n|---|---|---|"
        );
        for n in v.not_evaluable {
            let fields: Vec<&str> = n.fields.iter().map(String::as_str).collect();
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                esc(&n.rule_id),
                esc(&n.extent()),
                esc(&fields.join(", "))
            );
        }
        s.push('\n');
    }

    let (open, waived) = (&v.open, v.waived);
    let _ = writeln!(
        s,
        "## Open findings\n\n| critical | high | medium | low | info | waived |\n|---:|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} | {} |\n",
        open.critical, open.high, open.medium, open.low, open.info, waived
    );
    if let Some(b) = v.baseline {
        let _ = writeln!(
            s,
            "Since the baseline (as of {}): {} new, {} unchanged, {} resolved.\n",
            esc(&b.as_of),
            b.new,
            b.unchanged,
            b.resolved.len()
        );
    }
    if let Some(w) = v.waivers {
        let _ = writeln!(
            s,
            "Waivers: {} expired, {} stale, {} expiring within 14 days.\n",
            w.expired.len(),
            w.stale.len(),
            w.expiring.len()
        );
    }

    let _ = writeln!(
        s,
        "## MFA coverage of console users\n\nOrganization {} of {} · production {} of {} (target 100%) · non-production {} of {}\n\n\
         | account | name | segment | console users | with MFA | coverage |\n|---|---|---|---:|---:|---:|",
        pct(m.all.mfa_coverage_pct),
        m.all.console_users,
        pct(m.production.mfa_coverage_pct),
        m.production.console_users,
        pct(m.non_production.mfa_coverage_pct),
        m.non_production.console_users
    );
    for a in m.accounts_production_first() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            esc(&a.account_id),
            esc(&a.account_name),
            if a.production {
                "production"
            } else {
                "non-production"
            },
            a.metrics.console_users,
            a.metrics.mfa_users,
            pct(a.metrics.mfa_coverage_pct)
        );
    }
    let k = &m.all.active_key_age;
    let _ = writeln!(
        s,
        "\n## Active keys by age\n\n| 0–30 days | 31–90 | 91–365 | 365+ | outliers (production, 2+ years) |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
        k.d0_30, k.d31_90, k.d91_365, k.d365_plus, m.all.outliers
    );

    let open_findings = &v.open_findings;
    if !open_findings.is_empty() {
        let baseline = v.open_findings_have_change;
        let _ = writeln!(
            s,
            "## Most severe open findings\n\n| severity | rule | account | user | key | message |{}\n|---|---|---|---|---|---|{}",
            if baseline { " since baseline |" } else { "" },
            if baseline { "---|" } else { "" }
        );
        for f in open_findings
            .iter()
            .take(MAX_FINDING_ROWS)
            .map(|&i| &run.findings[i])
        {
            s.push_str(&row(f, &f.message));
            if baseline {
                let _ = write!(
                    s,
                    " {} |",
                    match f.change {
                        Some(Change::New) => "**new**",
                        Some(Change::Unchanged) => "unchanged",
                        None => "",
                    }
                );
            }
            s.push('\n');
        }
        if open_findings.len() > MAX_FINDING_ROWS {
            let _ = writeln!(
                s,
                "\n{} more open finding(s) in the findings JSON and the HTML report.",
                open_findings.len() - MAX_FINDING_ROWS
            );
        }
    }
    if !v.remediated.is_empty() {
        let _ = writeln!(
            s,
            "\n## Remediated since the inventory\n\nCloudTrail shows these fixed after the inventory saw them; they do not gate, and the next run confirms them.\n\n| severity | rule | account | user | key | fixed by |\n|---|---|---|---|---|---|"
        );
        for f in v
            .remediated
            .iter()
            .take(MAX_FINDING_ROWS)
            .map(|&i| &run.findings[i])
        {
            let fixed = f.remediated_by.as_deref().map(RemediatedBy::describe);
            s.push_str(&row(f, &fixed.unwrap_or_default()));
            s.push('\n');
        }
        if v.remediated.len() > MAX_FINDING_ROWS {
            let _ = writeln!(
                s,
                "\n{} more remediated finding(s) in the findings JSON and the HTML report.",
                v.remediated.len() - MAX_FINDING_ROWS
            );
        }
    }
    if let Some(p) = run.progress() {
        progress(&mut s, p);
    }
    s
}

/// A finding's row: severity, rule, account, user, key, and `last`, escaped (no line end).
fn row(f: &crate::finding::Finding, last: &str) -> String {
    let sub = &f.subject;
    format!(
        "| {} | {} | {} | {} | {} | {} |",
        f.severity,
        esc(&f.rule.id),
        esc(sub.account_id.as_deref().unwrap_or("")),
        esc(sub.username.as_deref().unwrap_or("")),
        esc(sub.access_key_id.as_deref().unwrap_or("")),
        esc(last)
    )
}

fn progress(s: &mut String, p: &crate::analysis::progress::Progress) {
    let window = match (p.from, p.to) {
        (Some(from), Some(to)) => format!(
            "Events from {} to {}",
            from.format("%Y-%m-%d %H:%M"),
            to.format("%Y-%m-%d %H:%M")
        ),
        _ => "No events".to_string(),
    };
    let counts = p.organization.named();
    let _ = writeln!(
        s,
        "\n## Remediation progress\n\n{window}: {}.\n",
        counts
            .iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !p.accounts.is_empty() {
        let _ = writeln!(
            s,
            "| account | name | {} |\n|---|---|{}",
            counts.map(|(what, _)| what).join(" | "),
            "---:|".repeat(counts.len())
        );
        for a in &p.accounts {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                esc(&a.account_id),
                esc(&a.account_name),
                a.counts.named().map(|(_, n)| n.to_string()).join(" | ")
            );
        }
    }
    if !p.offboardings.is_empty() {
        let _ = writeln!(
            s,
            "\n### Offboardings\n\nKeys first, then console access, then the user.\n\n| account | user | steps | hours | user deleted | in order |\n|---|---|---|---:|---|---|"
        );
        for o in &p.offboardings {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                esc(&o.account_id),
                esc(&o.username),
                esc(&o.sequence()),
                o.duration_hours,
                if o.complete { "yes" } else { "no" },
                if o.in_order { "yes" } else { "**no**" }
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{code, esc};

    #[test]
    fn cells_carry_no_markup_html_link_or_cell_break() {
        assert_eq!(esc("a|b"), "a\\|b");
        assert_eq!(esc("<b>x</b>"), "&lt;b&gt;x&lt;/b&gt;");
        assert_eq!(esc("[x](y) ![i](z)"), "\\[x\\]\\(y\\) \\!\\[i\\]\\(z\\)");
        assert_eq!(esc("line\nbreak"), "line break");
        assert_eq!(esc("*_`~#"), "\\*\\_\\`\\~\\#");
        // Autolinks are broken; ordinary dots and colons stay readable.
        assert_eq!(esc("https://x.io"), "https\\://x.io");
        assert_eq!(esc("see WWW.x"), "see WWW\\.x");
        assert_eq!(esc("maria@corp"), "maria\\@corp");
        assert_eq!(esc("2.5 days: ok"), "2.5 days: ok");
    }

    #[test]
    fn cells_carry_no_math_and_show_control_characters() {
        // A backslash does not stop GitHub math; a `$` in its own element does.
        assert_eq!(
            esc("$\\color{red}{X}$"),
            "<span>$</span>\\\\color{red}{X}<span>$</span>"
        );
        assert_eq!(
            esc("$$x$$"),
            "<span>$</span><span>$</span>x<span>$</span><span>$</span>"
        );
        // Control characters are written out, their backslash escaped (it renders as `\x1b`).
        assert_eq!(esc("a\u{1b}[2Jb\u{7}"), "a\\\\x1b\\[2Jb\\\\x07");
        assert_eq!(esc("r\u{9b}\u{202e}"), "r\\\\u{9b}\\\\u{202e}");
        // What the input writes cannot close our span.
        assert_eq!(esc("</span>$"), "&lt;/span&gt;<span>$</span>");
    }

    #[test]
    fn identifiers_are_code_spans_nothing_can_break_out_of() {
        assert_eq!(code("deploy-user"), "`deploy-user`");
        assert_eq!(code("[x](https://e.example)"), "`[x](https://e.example)`");
        assert_eq!(code("$\\frac{1}{2}$"), "` $\\frac{1}{2}$ `");
        assert_eq!(code(".."), "`..`");
        assert_eq!(code(""), "");
        // A backtick needs a longer fence; one at an edge needs a space.
        assert_eq!(code("tick`s"), "``tick`s``");
        assert_eq!(code("a``b`"), "``` a``b` ```");
        assert_eq!(code("`"), "`` ` ``");
        // Spaces at both ends survive CommonMark's stripping of one.
        assert_eq!(code(" x "), "`  x  `");
        assert_eq!(code(" x"), "` x`");
        // One cell, one line, no control characters.
        assert_eq!(code("a|b"), "`a\\|b`");
        assert_eq!(code("a\nb\rc"), "`a b c`");
        assert_eq!(code("e\u{1b}[31m"), "`e\\x1b[31m`");
    }
}
