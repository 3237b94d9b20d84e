//! `findings_<stamp>.sarif`: the findings as SARIF 2.1.0 that GitHub code scanning accepts.
//!
//! IAM findings have no file, so every result points at a relative pseudo-path per identity,
//! `aws/<account_id>/iam/user/<username>[/access-key/<key_id>]`, line 1 (GitHub rejects a
//! whole upload if one result lacks `artifactLocation.uri` + `region.startLine`, and any URI
//! with a scheme such as `arn:`). A name that is a dot segment (`.` and `..` are valid IAM user
//! names) gets a segment no URL resolver removes ([`location_uri`]), and every message text
//! escapes `\`, `[` and `]` ([`message_text`]), so a name cannot become an embedded link
//! (SARIF §3.11.6). `partialFingerprints.primaryLocationLineHash` is set here
//! from the finding's id (upload-sarif computes one only for real files), so an alert keeps
//! its identity across runs and across inputs (scan, stock CSV or inventory JSON).
//!
//! One SARIF rule per rule id, with `security-severity` (critical 9.5, high 8.0, medium 5.5,
//! low 2.0; none for info) and `help` generated from the rule's metadata. Info and waived
//! findings are left out unless `--sarif-include` asks for them (GitHub ignores
//! `suppressions`, so a waived result would show as an open alert). Accounts that were not
//! (fully) audited are reported as tool execution notifications and as `account-not-audited`
//! results. GitHub keeps at most [`GITHUB_RESULTS_KEPT`] results per run: beyond that the
//! most severe are kept and a notification says how many were dropped.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::Arc;

use serde_json::{json, Value};
use serde_sarif::sarif::{
    ArtifactLocation, Invocation, Location, Message, MultiformatMessageString, Notification,
    PhysicalLocation, PropertyBag, Region, ReportingConfiguration, ReportingDescriptor,
    ReportingDescriptorReference, Result as SarifResult, ResultLevel, Run, RunAutomationDetails,
    Sarif, Suppression, Tool, ToolComponent,
};

use crate::emit::emitter::{Emitter, OutputFile, OutputOptions, SarifInclude};
use crate::emit::md::code;
use crate::engine::{NotEvaluable, RuleError};
use crate::finding::{Finding, Subject};
use crate::inventory::{CollectionStatus, SkippedAccount};
use crate::rules::pack::Rule;
use crate::run::{Incomplete, RunReport, ACCOUNT_NOT_AUDITED};
use crate::vocab::{Change, Scope, Severity, Status};

/// `--format sarif`: the findings for GitHub code scanning.
pub struct SarifFormat;

impl Emitter for SarifFormat {
    fn name(&self) -> &'static str {
        "sarif"
    }

    fn describe(&self) -> &'static str {
        "SARIF 2.1.0 for GitHub code scanning"
    }

    fn files<'a>(&self, run: &'a RunReport, opts: &'a OutputOptions) -> Vec<OutputFile<'a>> {
        vec![OutputFile::new(
            format!("findings_{}.sarif", opts.stamp),
            move |w| write(run, opts, w),
        )]
    }
}

/// The schema the file declares: OASIS SARIF 2.1.0, errata 01.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// Results GitHub keeps per run (by severity); it refuses a run with more than 25,000.
pub const GITHUB_RESULTS_KEPT: usize = 5_000;

/// Tags GitHub accepts per rule.
pub const GITHUB_TAGS_PER_RULE: usize = 20;

/// The `partialFingerprints` key GitHub reads.
pub const LINE_HASH_KEY: &str = "primaryLocationLineHash";

/// GitHub's `security-severity` of a severity: a number in (0, 10] as a string (over 9.0 is
/// critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low). Info has none: its results are
/// notes, not security alerts.
pub fn security_severity(s: Severity) -> Option<&'static str> {
    match s {
        Severity::Critical => Some("9.5"),
        Severity::High => Some("8.0"),
        Severity::Medium => Some("5.5"),
        Severity::Low => Some("2.0"),
        Severity::Info => None,
    }
}

/// The SARIF level of a severity.
pub fn level(s: Severity) -> ResultLevel {
    match s {
        Severity::Critical | Severity::High => ResultLevel::Error,
        Severity::Medium => ResultLevel::Warning,
        Severity::Low | Severity::Info => ResultLevel::Note,
    }
}

fn level_str(s: Severity) -> &'static str {
    match level(s) {
        ResultLevel::Error => "error",
        ResultLevel::Warning => "warning",
        ResultLevel::Note => "note",
        ResultLevel::None => "none",
    }
}

use crate::rules::scopes::segment;

/// A result's pseudo-path: the location its rule's scope declares
/// ([`crate::rules::scopes::location_uri`]), with no dot segment ([`no_dot_segments`]).
pub fn location_uri(scope: Scope, subject: &Subject) -> String {
    no_dot_segments(&crate::rules::scopes::location_uri(scope, subject))
}

/// The pseudo-path `uri` with every segment a URL resolver would take for `.` or `..` made
/// an ordinary segment. Percent-encoding the dots is not enough: RFC 3986 normalization
/// decodes `%2E` (an unreserved character) and the WHATWG URL standard (browsers, `new URL`)
/// takes `%2e` for a dot, so `…/user/%2E%2E` would resolve to `…/`, the user of another
/// finding's path gone. Such a segment gets a `%00` after its dots (as an empty name is
/// `%00`): no IAM or CloudTrail name holds a NUL, and `.` and `..` stay distinct.
pub fn no_dot_segments(uri: &str) -> String {
    uri.split('/')
        .map(|seg| {
            let dots = seg.to_ascii_lowercase().replace("%2e", ".");
            if dots == "." || dots == ".." {
                format!("{}%00", "%2E".repeat(dots.len()))
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A plain-text message (SARIF §3.11.6): `\`, `[` and `]` escaped with a backslash, so that
/// no text from the inputs (a user name `[x](https://…)`, an error message) is taken for an
/// embedded link by a viewer, and a viewer that unescapes them shows the text as it was.
pub fn message_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '\\' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `partialFingerprints.primaryLocationLineHash`: 16 hex digits of the finding id, then
/// `:1` (GitHub's `hash:occurrence` form). The id depends only on rule and identity.
pub fn line_hash(finding_id: &str) -> String {
    let head = finding_id.get(..16).unwrap_or(finding_id);
    format!("{head}:1")
}

/// `tool.driver.informationUri`: the package's homepage or repository (`Cargo.toml`), when
/// it names one.
fn information_uri() -> Option<&'static str> {
    [env!("CARGO_PKG_HOMEPAGE"), env!("CARGO_PKG_REPOSITORY")]
        .into_iter()
        .find(|u| is_web_uri(u))
}

/// A message as a sentence: trimmed, ending with a period.
fn sentence(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        return "(no message).".into();
    }
    if t.ends_with(['.', '!', '?']) {
        t.to_string()
    } else {
        format!("{t}.")
    }
}

/// `console-without-mfa` → `ConsoleWithoutMfa`.
fn pascal(id: &str) -> String {
    id.split(['-', '_'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn is_web_uri(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn markdown_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// What a SARIF rule is made from: a loaded rule, or only what a finding carries of it.
struct RuleMeta<'a> {
    id: &'a str,
    title: &'a str,
    severity: Severity,
    scope: Scope,
    description: &'a str,
    remediation: &'a str,
    references: &'a [String],
    tags: &'a [String],
    pack: Option<&'a str>,
}

impl<'a> RuleMeta<'a> {
    fn of_rule(r: &'a Rule) -> RuleMeta<'a> {
        RuleMeta {
            id: &r.id,
            title: &r.title,
            severity: r.severity,
            scope: r.scope,
            description: &r.description,
            remediation: &r.remediation,
            references: &r.references,
            tags: &r.tags,
            pack: Some(&r.pack),
        }
    }

    fn of_finding(f: &'a Finding) -> RuleMeta<'a> {
        RuleMeta {
            id: &f.rule.id,
            title: &f.rule.title,
            severity: f.rule.severity,
            scope: f.rule.scope,
            description: "",
            remediation: &f.rule.remediation,
            references: &[],
            tags: &f.rule.tags,
            pack: None,
        }
    }

    fn help_text(&self) -> String {
        let mut s = String::new();
        let desc = self.description.trim();
        let _ = writeln!(
            s,
            "{}",
            sentence(if desc.is_empty() { self.title } else { desc })
        );
        let _ = writeln!(s, "\nRemediation: {}", sentence(self.remediation));
        let _ = write!(
            s,
            "\nRule {}: severity {}, one evaluation per {}",
            self.id, self.severity, self.scope
        );
        if let Some(p) = self.pack {
            let _ = write!(s, ", pack {p}");
        }
        s.push_str(".\n");
        if !self.references.is_empty() {
            s.push_str("\nReferences:\n");
            for r in self.references {
                let _ = writeln!(s, "- {}", r.trim());
            }
        }
        if !self.tags.is_empty() {
            let _ = writeln!(s, "\nTags: {}.", self.tags.join(", "));
        }
        s
    }

    fn help_markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "**{}**\n", self.title.trim());
        let desc = self.description.trim();
        if !desc.is_empty() {
            let _ = writeln!(s, "{desc}\n");
        }
        let _ = writeln!(s, "## Remediation\n\n{}\n", self.remediation.trim());
        let _ = writeln!(s, "| rule | severity | scope | pack |");
        let _ = writeln!(s, "|---|---|---|---|");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            code(self.id),
            self.severity,
            self.scope,
            self.pack.map_or_else(|| "—".into(), markdown_escape)
        );
        if !self.references.is_empty() {
            s.push_str("\n## References\n\n");
            for r in self.references {
                let r = r.trim();
                if is_web_uri(r) {
                    let _ = writeln!(s, "- <{r}>");
                } else {
                    let _ = writeln!(s, "- {r}");
                }
            }
        }
        if !self.tags.is_empty() {
            // A pack's tags are free text: each a code span nothing in it can close.
            let tags: Vec<String> = self.tags.iter().map(|t| code(t)).collect();
            let _ = writeln!(s, "\nTags: {}", tags.join(" "));
        }
        s
    }

    /// `security` first (not for info rules), then the rule's tags; unique, at most
    /// [`GITHUB_TAGS_PER_RULE`].
    fn sarif_tags(&self) -> Vec<String> {
        let mut seen = BTreeSet::new();
        let security = (self.severity != Severity::Info).then(|| "security".to_string());
        security
            .into_iter()
            .chain(self.tags.iter().cloned())
            .filter(|t| seen.insert(t.clone()))
            .take(GITHUB_TAGS_PER_RULE)
            .collect()
    }

    fn descriptor(&self) -> ReportingDescriptor {
        let mut props = BTreeMap::new();
        if let Some(ss) = security_severity(self.severity) {
            props.insert("security-severity".to_string(), json!(ss));
        }
        props.insert("severity".to_string(), json!(self.severity.as_str()));
        props.insert("scope".to_string(), json!(self.scope.as_str()));
        if let Some(p) = self.pack {
            props.insert("pack".to_string(), json!(p));
        }
        let desc = self.description.trim();
        let mut d = ReportingDescriptor::builder()
            .id(self.id)
            .name(pascal(self.id))
            .short_description(
                MultiformatMessageString::builder()
                    .text(sentence(self.title))
                    .build(),
            )
            .full_description(
                MultiformatMessageString::builder()
                    .text(sentence(if desc.is_empty() { self.title } else { desc }))
                    .build(),
            )
            .help(
                MultiformatMessageString::builder()
                    .text(self.help_text())
                    .markdown(self.help_markdown())
                    .build(),
            )
            .default_configuration(
                ReportingConfiguration::builder()
                    .level(json!(level_str(self.severity)))
                    .build(),
            )
            .properties(
                PropertyBag::builder()
                    .tags(self.sarif_tags())
                    .additional_properties(props)
                    .build(),
            )
            .build();
        d.help_uri = self
            .references
            .iter()
            .map(|r| r.trim())
            .find(|r| is_web_uri(r))
            .map(str::to_string);
        d
    }
}

/// Something that becomes one result.
enum Item<'a> {
    Finding(&'a Finding),
    /// An account the run could not (fully) audit, when no `account-not-audited` rule ran:
    /// the finding the run made for it.
    Unaudited(&'a Finding),
}

/// A result before it is built, with what orders it.
struct Candidate<'a> {
    severity: Severity,
    rule_id: &'a str,
    subject: Cow<'a, Subject>,
    item: Item<'a>,
}

/// Sorts candidates most severe first (then rule, then identity) and keeps at most
/// `limit`; returns how many were dropped per severity.
fn keep_most_severe(cands: &mut Vec<Candidate<'_>>, limit: usize) -> BTreeMap<Severity, u64> {
    cands.sort_by(|a, b| {
        (Reverse(a.severity), a.rule_id, &*a.subject).cmp(&(
            Reverse(b.severity),
            b.rule_id,
            &*b.subject,
        ))
    });
    let mut dropped = BTreeMap::new();
    if cands.len() > limit {
        for c in &cands[limit..] {
            *dropped.entry(c.severity).or_insert(0) += 1;
        }
        cands.truncate(limit);
    }
    dropped
}

/// Everything the SARIF file is made from.
struct Input<'a> {
    findings: &'a [Finding],
    rule_errors: &'a [RuleError],
    not_evaluable: &'a [NotEvaluable],
    organization_id: Option<&'a str>,
    /// RFC 3339.
    as_of: &'a str,
    source_kind: crate::inventory::SourceKind,
    incomplete: &'a [Incomplete],
    skipped: &'a [SkippedAccount],
    /// Every rule of the run.
    rules: Vec<&'a Rule>,
    /// Findings for the unaudited accounts no rule of the run reports, and the rule that
    /// describes them.
    unaudited: Option<&'a (Arc<Rule>, Vec<Finding>)>,
    include: SarifInclude,
    /// Results kept at most.
    limit: usize,
}

fn notification(
    descriptor: (&str, usize),
    level: &str,
    text: String,
    rule: Option<(&str, usize)>,
    props: BTreeMap<String, Value>,
) -> Notification {
    let mut n = Notification::builder()
        .descriptor(
            ReportingDescriptorReference::builder()
                .id(descriptor.0)
                .index(descriptor.1 as i64)
                .build(),
        )
        .level(json!(level))
        .message(
            Message::builder()
                .text(message_text(&sentence(&text)))
                .build(),
        )
        .build();
    n.associated_rule = rule.map(|(id, index)| {
        ReportingDescriptorReference::builder()
            .id(id)
            .index(index as i64)
            .build()
    });
    if !props.is_empty() {
        n.properties = Some(PropertyBag::builder().additional_properties(props).build());
    }
    n
}

/// The notification descriptors (`tool.driver.notifications`), in index order: id, what
/// happened, what to do.
const NOTIFICATIONS: [(&str, &str, &str); 5] = [
    (
        "account-not-audited",
        "An account could not be collected, or only partly: its credentials were not (fully) audited.",
        "Fix the cause the notification names (usually the audit role: deploy it to the account, \
         check its trust policy and external id, or an SCP that denies it), then scan again.",
    ),
    (
        "account-skipped",
        "An account was left out on purpose (suspended or closed).",
        "Nothing to do unless the account should be active: suspended and closed accounts are not audited.",
    ),
    (
        "rule-error",
        "A rule failed at run time on some records: they were not evaluated by it.",
        "Run `iam-audit rules test` on the rule's pack and fix the condition the notification names.",
    ),
    (
        "rule-not-evaluable",
        "The input lacks a field a rule needs: the rule could not be evaluated for some or all records.",
        "Evaluate an inventory JSON written by `iam-audit scan` (it has every field) instead of the stock CSVs, \
         or pass the missing CSV (`--events`, `--root`).",
    ),
    (
        "results-truncated",
        "The run had more results than GitHub code scanning keeps: only the most severe were written.",
        "The findings JSON of the same run has every finding. Fix or waive findings to bring the \
         run under GitHub's limit.",
    ),
];

fn notification_index(id: &str) -> usize {
    NOTIFICATIONS
        .iter()
        .position(|(n, _, _)| *n == id)
        .unwrap_or_default()
}

fn build_log(input: &Input<'_>) -> Sarif {
    // Rules: every rule of the run, by id; then rules only findings know of.
    let mut metas: BTreeMap<&str, RuleMeta<'_>> = BTreeMap::new();
    for r in &input.rules {
        metas
            .entry(r.id.as_str())
            .or_insert_with(|| RuleMeta::of_rule(r));
    }
    for f in input.findings {
        metas
            .entry(f.rule.id.as_str())
            .or_insert_with(|| RuleMeta::of_finding(f));
    }
    // Unaudited accounts are results even when no rule of the run reports them: then the
    // stock pack's `account-not-audited` rule describes them.
    if let Some((r, _)) = input.unaudited {
        metas.insert(ACCOUNT_NOT_AUDITED, RuleMeta::of_rule(r));
    }
    let rule_index: BTreeMap<&str, usize> =
        metas.keys().enumerate().map(|(i, id)| (*id, i)).collect();

    // Results.
    let mut omitted_info = 0u64;
    let mut omitted_waived = 0u64;
    let mut cands: Vec<Candidate<'_>> = Vec::new();
    for f in input.findings {
        if f.status == Status::Remediated {
            continue;
        }
        if f.severity == Severity::Info && !input.include.info {
            omitted_info += 1;
            continue;
        }
        if f.status == Status::Waived && !input.include.waived {
            omitted_waived += 1;
            continue;
        }
        cands.push(Candidate {
            severity: f.severity,
            rule_id: &f.rule.id,
            subject: Cow::Borrowed(&f.subject),
            item: Item::Finding(f),
        });
    }
    for f in input.unaudited.iter().flat_map(|(_, list)| list) {
        cands.push(Candidate {
            severity: f.severity,
            rule_id: ACCOUNT_NOT_AUDITED,
            subject: Cow::Borrowed(&f.subject),
            item: Item::Unaudited(f),
        });
    }
    let total = cands.len();
    let dropped = keep_most_severe(&mut cands, input.limit);
    let results: Vec<SarifResult> = cands
        .iter()
        .map(|c| {
            let index = rule_index.get(c.rule_id).copied().unwrap_or_default();
            match &c.item {
                Item::Finding(f) => finding_result(f, index),
                Item::Unaudited(f) => unaudited_result(f, index),
            }
        })
        .collect();

    // Notifications.
    let mut notes = Vec::new();
    for a in input.incomplete {
        let (lvl, what) = match a.status {
            CollectionStatus::Failed => ("error", "was not audited"),
            _ => ("warning", "was only partly audited"),
        };
        let reasons = if a.reasons.is_empty() {
            String::new()
        } else {
            format!(": {}", a.reasons.join("; "))
        };
        notes.push(notification(
            (
                "account-not-audited",
                notification_index("account-not-audited"),
            ),
            lvl,
            format!("Account {} ({}) {what}{reasons}", a.name, a.id),
            rule_index
                .get(ACCOUNT_NOT_AUDITED)
                .map(|i| (ACCOUNT_NOT_AUDITED, *i)),
            BTreeMap::from([
                ("account_id".to_string(), json!(a.id)),
                ("account_name".to_string(), json!(a.name)),
                ("collection_status".to_string(), json!(a.status)),
                ("reasons".to_string(), json!(a.reasons)),
            ]),
        ));
    }
    for s in input.skipped {
        notes.push(notification(
            ("account-skipped", notification_index("account-skipped")),
            "note",
            format!("Account {} ({}) was skipped: {}", s.name, s.id, s.reason),
            None,
            BTreeMap::from([
                ("account_id".to_string(), json!(s.id)),
                ("account_name".to_string(), json!(s.name)),
            ]),
        ));
    }
    for e in input.rule_errors {
        let more = if e.more > 0 {
            format!(" ({} more failure(s) not listed)", e.more)
        } else {
            String::new()
        };
        notes.push(notification(
            ("rule-error", notification_index("rule-error")),
            "error",
            format!(
                "Rule {} failed on {}: {}{more}",
                e.rule_id, e.record, e.message
            ),
            rule_index
                .get(e.rule_id.as_str())
                .map(|i| (e.rule_id.as_str(), *i)),
            BTreeMap::new(),
        ));
    }
    for n in input.not_evaluable {
        let fields: Vec<&str> = n.fields.iter().map(String::as_str).collect();
        let text = if n.whole_rule {
            format!(
                "Rule {} was not evaluated: the input lacks {}",
                n.rule_id,
                fields.join(", ")
            )
        } else {
            format!(
                "Rule {} could not be evaluated for {} record(s): the input lacks {}",
                n.rule_id,
                n.records,
                fields.join(", ")
            )
        };
        notes.push(notification(
            (
                "rule-not-evaluable",
                notification_index("rule-not-evaluable"),
            ),
            "note",
            text,
            rule_index
                .get(n.rule_id.as_str())
                .map(|i| (n.rule_id.as_str(), *i)),
            BTreeMap::from([("missing_fields".to_string(), json!(fields))]),
        ));
    }
    let dropped_total: u64 = dropped.values().sum();
    if dropped_total > 0 {
        let by: Vec<String> = dropped
            .iter()
            .rev()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        notes.push(notification(
            ("results-truncated", notification_index("results-truncated")),
            "warning",
            format!(
                "{dropped_total} of {total} results were left out ({}): GitHub code scanning keeps \
                 at most {} results per run, so only the most severe were written; the findings \
                 JSON has them all",
                by.join(", "),
                input.limit
            ),
            None,
            BTreeMap::from([
                ("results_total".to_string(), json!(total)),
                ("results_dropped".to_string(), json!(dropped_total)),
            ]),
        ));
    }

    let descriptors: Vec<ReportingDescriptor> = metas.values().map(RuleMeta::descriptor).collect();
    let notification_descriptors: Vec<ReportingDescriptor> = NOTIFICATIONS
        .iter()
        .map(|(id, text, help)| {
            ReportingDescriptor::builder()
                .id(*id)
                .name(pascal(id))
                .short_description(MultiformatMessageString::builder().text(*text).build())
                .full_description(MultiformatMessageString::builder().text(*text).build())
                .help(
                    MultiformatMessageString::builder()
                        .text(*help)
                        .markdown(*help)
                        .build(),
                )
                .build()
        })
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let driver = ToolComponent::builder()
        .name("iam-audit")
        .full_name(format!("iam-audit {version}"))
        .version(version)
        .semantic_version(version)
        .rules(descriptors)
        .notifications(notification_descriptors)
        .build();
    let mut driver = driver;
    driver.information_uri = information_uri().map(str::to_string);
    let mut invocation = Invocation::builder().execution_successful(true).build();
    if !notes.is_empty() {
        invocation.tool_execution_notifications = Some(notes);
    }
    let org = input.organization_id.unwrap_or("offline");
    let mut run_props = BTreeMap::from([
        ("as_of".to_string(), json!(input.as_of)),
        ("source".to_string(), json!(input.source_kind)),
        (
            "omitted".to_string(),
            json!({
                "info": omitted_info,
                "waived": omitted_waived,
                "over_limit": dropped_total,
            }),
        ),
    ]);
    if let Some(o) = input.organization_id {
        run_props.insert("organization_id".to_string(), json!(o));
    }
    let run = Run::builder()
        .tool(Tool::builder().driver(driver).build())
        .automation_details(
            RunAutomationDetails::builder()
                .id(format!("iam-audit/{}/{}", segment(org), input.as_of))
                .build(),
        )
        .invocations(vec![invocation])
        .results(results)
        .properties(
            PropertyBag::builder()
                .additional_properties(run_props)
                .build(),
        )
        .build();
    Sarif::builder()
        .schema(SARIF_SCHEMA_URI)
        .version(json!("2.1.0"))
        .runs(vec![run])
        .build()
}

fn location(uri: String) -> Location {
    Location::builder()
        .physical_location(
            PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(uri).build())
                .region(Region::builder().start_line(1).build())
                .build(),
        )
        .build()
}

fn subject_props(s: &Subject, id: &str) -> BTreeMap<String, Value> {
    let mut props = BTreeMap::from([("finding_id".to_string(), json!(id))]);
    for (k, v) in [
        ("account_id", &s.account_id),
        ("account_name", &s.account_name),
        ("username", &s.username),
        ("access_key_id", &s.access_key_id),
    ] {
        if let Some(v) = v {
            props.insert(k.to_string(), json!(&**v));
        }
    }
    props
}

fn finding_result(f: &Finding, rule_index: usize) -> SarifResult {
    let mut props = subject_props(&f.subject, &f.id);
    props.insert("severity".to_string(), json!(f.severity.as_str()));
    props.insert("status".to_string(), json!(f.status));
    let evidence: Value = serde_json::from_str(f.evidence.get()).unwrap_or(Value::Null);
    if !evidence.is_null() {
        props.insert("evidence".to_string(), evidence);
    }
    let mut r = SarifResult::builder()
        .rule_id(f.rule.id.as_str())
        .rule_index(rule_index as i64)
        .level(level(f.severity))
        .message(
            Message::builder()
                .text(message_text(&sentence(&f.message)))
                .build(),
        )
        .locations(vec![location(location_uri(f.rule.scope, &f.subject))])
        .partial_fingerprints(BTreeMap::from([(
            LINE_HASH_KEY.to_string(),
            line_hash(&f.id),
        )]))
        .properties(PropertyBag::builder().additional_properties(props).build())
        .build();
    r.baseline_state = f.change.map(|c| match c {
        Change::New => json!("new"),
        Change::Unchanged => json!("unchanged"),
    });
    if f.status == Status::Waived {
        let mut sp = BTreeMap::new();
        let justification = match &f.waiver {
            Some(w) => {
                let w = &**w;
                sp.insert("owner".to_string(), json!(w.waiver.owner));
                sp.insert(
                    "expires".to_string(),
                    json!(w.waiver.expires.format("%Y-%m-%d").to_string()),
                );
                if let Some(t) = &w.waiver.ticket {
                    sp.insert("ticket".to_string(), json!(t));
                }
                sp.insert("waiver".to_string(), json!(w.at));
                w.waiver.reason.clone()
            }
            None => "waived".to_string(),
        };
        let mut s = Suppression::builder()
            .kind(json!("external"))
            .status(json!("accepted"))
            .justification(justification)
            .build();
        if !sp.is_empty() {
            s.properties = Some(PropertyBag::builder().additional_properties(sp).build());
        }
        r.suppressions = Some(vec![s]);
    }
    r
}

/// The result of an unaudited account's finding: as any finding, with the collection status
/// and reasons of its evidence as properties of their own.
fn unaudited_result(f: &Finding, rule_index: usize) -> SarifResult {
    let mut r = finding_result(f, rule_index);
    if let Some(props) = r.properties.as_mut() {
        if let Some(Value::Object(evidence)) = props.additional_properties.remove("evidence") {
            props.additional_properties.extend(evidence);
        }
    }
    r
}

/// Builds the SARIF log of a run.
pub fn build(run: &RunReport, opts: &OutputOptions) -> Sarif {
    let as_of = run.as_of_text();
    build_log(&Input {
        findings: &run.findings,
        rule_errors: &run.rule_errors,
        not_evaluable: &run.not_evaluable,
        organization_id: run.inventory.organization_id.as_deref(),
        as_of: &as_of,
        source_kind: run.inventory.source.kind,
        incomplete: &run.coverage.incomplete,
        skipped: &run.coverage.skipped,
        rules: run.rules.iter().map(|r| &*r.rule).collect(),
        unaudited: run.unaudited.as_ref(),
        include: opts.sarif,
        limit: GITHUB_RESULTS_KEPT,
    })
}

/// Writes `findings_<stamp>.sarif`; warns (on stderr, through `tracing`) when results had to
/// be left out for GitHub's per-run limit.
pub fn write(run: &RunReport, opts: &OutputOptions, w: &mut dyn Write) -> io::Result<()> {
    let log = build(run, opts);
    warn_if_truncated(&log);
    serde_json::to_writer_pretty(&mut *w, &log)?;
    w.write_all(b"\n")
}

fn warn_if_truncated(log: &Sarif) {
    let dropped = log
        .runs
        .first()
        .and_then(|r| r.properties.as_ref())
        .and_then(|p| p.additional_properties.get("omitted"))
        .and_then(|o| o.get("over_limit"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if dropped > 0 {
        tracing::warn!(
            dropped,
            kept = GITHUB_RESULTS_KEPT,
            "SARIF: GitHub code scanning keeps at most {GITHUB_RESULTS_KEPT} results per run; \
             left out the {dropped} least severe (the findings JSON has them all)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::RuleInfo;

    fn finding(rule: &Arc<RuleInfo>, user: &str) -> Finding {
        Finding::new(
            rule,
            Subject {
                account_id: Some("111111111111".into()),
                account_name: Some("A".into()),
                username: Some(user.into()),
                ..Subject::default()
            },
            format!("{user} is bad"),
            serde_json::value::RawValue::from_string("{\"x\":1}".into()).unwrap(),
        )
    }

    fn rule(id: &str, severity: Severity) -> Arc<RuleInfo> {
        Arc::new(RuleInfo {
            id: id.into(),
            title: format!("{id} title"),
            severity,
            scope: Scope::User,
            remediation: "Fix it".into(),
            tags: vec!["t".into()],
            remediated_by: Vec::new(),
        })
    }

    fn input(findings: &[Finding], limit: usize) -> Input<'_> {
        Input {
            findings,
            rule_errors: &[],
            not_evaluable: &[],
            organization_id: None,
            as_of: "2026-03-06T12:00:00Z",
            source_kind: crate::inventory::SourceKind::Scan,
            incomplete: &[],
            skipped: &[],
            rules: Vec::new(),
            unaudited: None,
            include: SarifInclude::default(),
            limit,
        }
    }

    #[test]
    fn over_the_limit_keeps_the_most_severe_and_says_so() {
        let crit = rule("c-rule", Severity::Critical);
        let med = rule("m-rule", Severity::Medium);
        let low = rule("l-rule", Severity::Low);
        let mut findings = Vec::new();
        for i in 0..7 {
            findings.push(finding(&low, &format!("u{i}")));
            findings.push(finding(&med, &format!("u{i}")));
        }
        findings.push(finding(&crit, "root-ish"));
        let log = build_log(&input(&findings, 5));
        let run = &log.runs[0];
        let results = run.results.as_ref().unwrap();
        assert_eq!(results.len(), 5);
        assert_eq!(results[0].rule_id.as_deref(), Some("c-rule"));
        assert!(results[1..]
            .iter()
            .all(|r| r.rule_id.as_deref() == Some("m-rule")));
        let notes = run.invocations.as_ref().unwrap()[0]
            .tool_execution_notifications
            .as_ref()
            .unwrap();
        let text = notes[0].message.text.as_deref().unwrap();
        assert!(
            text.starts_with("10 of 15 results were left out (3 medium, 7 low)"),
            "{text}"
        );
        let omitted = &run.properties.as_ref().unwrap().additional_properties["omitted"];
        assert_eq!(omitted["over_limit"], 10);
    }

    #[test]
    fn within_the_limit_nothing_is_dropped() {
        let med = rule("m-rule", Severity::Medium);
        let findings: Vec<Finding> = (0..3).map(|i| finding(&med, &format!("u{i}"))).collect();
        let log = build_log(&input(&findings, 3));
        assert_eq!(log.runs[0].results.as_ref().unwrap().len(), 3);
        assert!(log.runs[0].invocations.as_ref().unwrap()[0]
            .tool_execution_notifications
            .is_none());
    }

    #[test]
    fn pseudo_paths_are_relative_single_segments() {
        let s = Subject {
            account_id: Some("123456789012".into()),
            username: Some("a/b%c".into()),
            access_key_id: Some("AKIA1".into()),
            ..Subject::default()
        };
        assert_eq!(
            location_uri(Scope::Key, &s),
            "aws/123456789012/iam/user/a%2Fb%25c/access-key/AKIA1"
        );
        let dots = Subject {
            account_id: Some("1".into()),
            username: Some("..".into()),
            ..Subject::default()
        };
        assert_eq!(location_uri(Scope::User, &dots), "aws/1/iam/user/%2E%2E%00");
        let dot = Subject {
            username: Some(".".into()),
            access_key_id: Some("AKIA1".into()),
            ..dots.clone()
        };
        assert_eq!(
            location_uri(Scope::Key, &dot),
            "aws/1/iam/user/%2E%00/access-key/AKIA1"
        );
        // Three dots are a name, not a dot segment.
        let three = Subject {
            username: Some("...".into()),
            ..dots.clone()
        };
        assert_eq!(
            location_uri(Scope::User, &three),
            "aws/1/iam/user/%2E%2E%2E"
        );
        let group = Subject {
            username: Some("deploy-user".into()),
            scope_key: Some("username:deploy-user".into()),
            ..Subject::default()
        };
        assert_eq!(
            location_uri(Scope::Username, &group),
            "aws/organization/iam/user/deploy-user"
        );
        let root_event = Subject {
            account_id: Some("1".into()),
            username: Some("root".into()),
            scope_key: Some("event:x".into()),
            ..Subject::default()
        };
        assert_eq!(location_uri(Scope::Event, &root_event), "aws/1/iam/root");
        assert_eq!(
            location_uri(Scope::User, &root_event),
            "aws/1/iam/user/root"
        );
    }

    #[test]
    fn severities_map_into_githubs_bands() {
        for s in Severity::ALL {
            match security_severity(s) {
                Some(v) => {
                    let n: f64 = v.parse().unwrap();
                    assert!(n > 0.0 && n <= 10.0);
                    let band = match n {
                        x if x > 9.0 => Severity::Critical,
                        x if x >= 7.0 => Severity::High,
                        x if x >= 4.0 => Severity::Medium,
                        _ => Severity::Low,
                    };
                    assert_eq!(band, s);
                }
                None => assert_eq!(s, Severity::Info),
            }
        }
        assert_eq!(
            line_hash("0123456789abcdef0123456789abcdef"),
            "0123456789abcdef:1"
        );
        assert_eq!(sentence("x"), "x.");
        assert_eq!(sentence("x. "), "x.");
        assert_eq!(pascal("console-without-mfa"), "ConsoleWithoutMfa");
    }

    #[test]
    fn segments_that_resolve_as_dots_get_a_nul() {
        for (uri, want) in [
            ("aws/1/iam/user/%2E%2E", "aws/1/iam/user/%2E%2E%00"),
            (
                "aws/1/iam/user/%2e/access-key/K",
                "aws/1/iam/user/%2E%00/access-key/K",
            ),
            ("aws/1/iam/user/.%2e", "aws/1/iam/user/%2E%2E%00"),
            ("aws/1/iam/user/..", "aws/1/iam/user/%2E%2E%00"),
            ("aws/1/iam/user/%2E%2E%2E", "aws/1/iam/user/%2E%2E%2E"),
            ("aws/1/iam/user/a.b", "aws/1/iam/user/a.b"),
            ("aws/1/iam/user/%00", "aws/1/iam/user/%00"),
        ] {
            assert_eq!(no_dot_segments(uri), want, "{uri}");
        }
    }

    #[test]
    fn message_text_escapes_what_would_be_an_embedded_link() {
        assert_eq!(
            message_text("[x](https://e.example)"),
            "\\[x\\](https://e.example)"
        );
        assert_eq!(message_text("a\\b"), "a\\\\b");
        assert_eq!(message_text("\\[0\\]"), "\\\\\\[0\\\\\\]");
        assert_eq!(message_text("plain (text)."), "plain (text).");
        let log = build_log(&input(&[finding(&rule("r", Severity::High), "[u](v)")], 5));
        let text = log.runs[0].results.as_ref().unwrap()[0]
            .message
            .text
            .clone()
            .unwrap();
        assert_eq!(text, "\\[u\\](v) is bad.");
    }
}
