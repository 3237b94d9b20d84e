//! Fault injection (issue 13, item 5): `iam-audit scan` of one seeded Organization against the
//! moto harness (`tests/moto/`), once without faults (the reference) and once per fault, each
//! fault in an emulator of its own. For every fault:
//!
//! - the exit code says incomplete (3), or, for a fault the SDK's retries absorb (20% of all
//!   requests throttled, short bursts of 5xx), equals the reference and so does every output;
//! - the failed account (and its data source) is named in every output that reports coverage:
//!   the findings JSON (`accounts.incomplete`), the inventory (its collection status), the SARIF
//!   (an `account-not-audited` result and a notification), the HTML and the Markdown reports,
//!   the summary on stderr and the remediation CSV;
//! - the healthy accounts' parts of the outputs are byte-identical to the reference: their
//!   inventory accounts, findings, SARIF results, stock CSV rows and Markdown lines.
//!
//! Every seeded time is a whole number of days (or hours) before one instant taken once per
//! test binary, so ages (in days, to two decimals) come out the same in every scan of the
//! suite. The reference runs once, in the first test that needs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use common::{hermetic, Moto};
use serde_json::{json, Value};

const MGMT: &str = "123456789012";
const PROD: &str = "111111111111";
const DEV: &str = "222222222222";
const TOOLS: &str = "333333333333";
/// The members: a fault hits PROD or DEV; TOOLS and the management account stay healthy.
const ACCOUNTS: [&str; 4] = [MGMT, PROD, DEV, TOOLS];

/// The scan's settings, the same for the reference and every fault: a tight call timeout
/// (a call with its retries gives up after 6 × 2 s), a data source deadline well past that,
/// a short wait for the credential report, a month of CloudTrail.
const SCAN_ARGS: [&str; 10] = [
    "--fail-on",
    "none",
    "--call-timeout",
    "2",
    "--account-deadline",
    "40",
    "--report-deadline",
    "4",
    "--cloudtrail-days",
    "30",
];

/// The instant every seeded time is relative to.
fn base() -> DateTime<Utc> {
    static BASE: OnceLock<DateTime<Utc>> = OnceLock::new();
    *BASE.get_or_init(|| {
        use chrono::SubsecRound;
        Utc::now().trunc_subsecs(0)
    })
}

fn days(n: i64) -> String {
    (base() - chrono::Duration::days(n)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hours(n: i64) -> String {
    (base() - chrono::Duration::hours(n)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A small Organization: in each account a console user with MFA, one without, a service
/// user with an old key in use, and events in the last month.
fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let account = |id: &str, name: &str, joined: i64| {
            json!({
                "id": id, "name": name, "joined": days(joined),
                "root": {"created": days(joined), "password_last_used": days(40)},
                "users": [
                    {"name": format!("{name}-admin"), "created": days(500),
                     "password": {"last_used": days(2), "last_changed": days(120)}, "mfa": "virtual",
                     "keys": [{"status": "Active", "created": days(100),
                               "last_used": {"date": days(1), "service": "iam", "region": "us-east-1"}}]},
                    {"name": format!("{name}-dev"), "created": days(300),
                     "password": {"last_used": days(5), "last_changed": days(20)},
                     "keys": [{"status": "Active", "created": days(10), "last_used": null},
                              {"status": "Inactive", "created": days(200), "last_used": null}]},
                    {"name": format!("{name}-ci"), "created": days(900),
                     "keys": [{"status": "Active", "created": days(800),
                               "last_used": {"date": days(3), "service": "s3", "region": "us-east-1"}}]}
                ],
                "events": [
                    {"name": "CreateAccessKey", "time": days(10), "user": format!("{name}-dev"), "key": 0},
                    {"name": "ConsoleLogin", "time": hours(30), "user": format!("{name}-admin")},
                    {"name": "DeactivateMFADevice", "time": days(4), "user": format!("{name}-dev")}
                ]
            })
        };
        let mut management = account(MGMT, "management", 2000);
        management["audit_role"] = json!("ok");
        json!({
            "report_generated": hours(1),
            "management": management,
            "accounts": [account(PROD, "prod", 1999), account(DEV, "dev", 1998), account(TOOLS, "tools", 1997)]
        })
    })
}

/// One scan's outcome: its exit code, stderr, and each output by kind (its name without the
/// stamp, e.g. `findings.json`), with the scan's start time in every spelling replaced.
struct Scan {
    code: i32,
    stderr: String,
    files: BTreeMap<String, String>,
    elapsed: Duration,
}

impl Scan {
    fn file(&self, kind: &str) -> &str {
        self.files
            .get(kind)
            .unwrap_or_else(|| panic!("no {kind} among {:?}", self.files.keys()))
    }

    fn json(&self, kind: &str) -> Value {
        serde_json::from_str(self.file(kind)).unwrap()
    }
}

/// Runs the scan against `moto` with the seeded credentials and [`SCAN_ARGS`].
fn scan(moto: &Moto, seeded: &Value) -> Scan {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
    let creds = &seeded["credentials"];
    hermetic(
        &mut cmd,
        creds["access_key_id"].as_str().unwrap(),
        creds["secret_access_key"].as_str().unwrap(),
    );
    cmd.env_remove("IAM_AUDIT_LOG")
        .args(moto.scan_args(out.path()))
        .args(SCAN_ARGS);
    let started = Instant::now();
    let run = cmd.output().unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
    let files = outputs(out.path());
    Scan {
        code: run.status.code().unwrap_or(-1),
        stderr,
        files,
        elapsed,
    }
}

/// Every output of a scan by kind, its start time (the stamp of the file names) replaced by
/// `<as_of>` wherever it is written.
fn outputs(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // <kind>_YYYYMMDD_HHMMSS.<ext>
        let (stem, ext) = name.rsplit_once('.').unwrap();
        let (kind, stamp) = stem.split_at(stem.len() - 16);
        let at = chrono::NaiveDateTime::parse_from_str(&stamp[1..], "%Y%m%d_%H%M%S")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let spellings = [
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            at.format("%Y-%m-%d %H:%M:%S").to_string(),
            at.format("%Y%m%d_%H%M%S").to_string(),
        ];
        let mut text = std::fs::read_to_string(&path).unwrap();
        for s in spellings {
            text = text.replace(&s, "<as_of>");
        }
        files.insert(format!("{kind}.{ext}"), text);
    }
    files
}

/// A fresh emulator with the suite's Organization.
fn seeded_moto() -> (Moto, Value) {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(spec()));
    (moto, seeded)
}

/// The fault-free scan, run once.
fn reference() -> &'static Scan {
    static REFERENCE: OnceLock<Scan> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        let (moto, seeded) = seeded_moto();
        let s = scan(&moto, &seeded);
        assert_eq!(s.code, 0, "the reference scan: {}", s.stderr);
        let f = s.json("findings.json");
        assert_eq!(f["accounts"]["audited"].as_array().unwrap().len(), 4);
        s
    })
}

/// A scan with these fault rules (one `POST /iam-audit/faults` each); the harness's
/// `/iam-audit/calls` after it.
fn faulted(rules: &[Value]) -> (Scan, Value) {
    let reference = reference();
    let (moto, seeded) = seeded_moto();
    for r in rules {
        moto.call("POST", "/iam-audit/faults", Some(r));
    }
    let s = scan(&moto, &seeded);
    let calls = moto.call("GET", "/iam-audit/calls?log=1", None);
    let reasons: Vec<&str> = s
        .stderr
        .lines()
        .skip_while(|l| !l.starts_with("Accounts not fully audited"))
        .take_while(|l| !l.is_empty())
        .collect();
    eprintln!(
        "faults {rules:?}: exit {} in {:.1} s (reference {:.1} s), fired {}\n{}",
        s.code,
        s.elapsed.as_secs_f64(),
        reference.elapsed.as_secs_f64(),
        calls["faults_fired"],
        reasons.join("\n")
    );
    (s, calls)
}

/// A fault the retries absorb: same exit code, every output identical to the reference.
fn assert_absorbed(s: &Scan) {
    let reference = reference();
    assert_eq!(s.code, reference.code, "{}", s.stderr);
    assert_eq!(
        s.files.keys().collect::<Vec<_>>(),
        reference.files.keys().collect::<Vec<_>>()
    );
    for (kind, text) in &reference.files {
        assert!(
            s.file(kind) == text,
            "{kind} differs from the reference:\n{}",
            first_difference(text, s.file(kind))
        );
    }
    assert!(!s.stderr.contains("not fully audited"), "{}", s.stderr);
}

fn first_difference(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n- {x}\n+ {y}", i + 1);
        }
    }
    format!("{} lines vs {}", a.lines().count(), b.lines().count())
}

/// How a failed part is expected to be reported: the account, its status and the start of
/// one of its reasons (`iam: `, `cloudtrail: `, `assume-role: `).
struct Failed<'a> {
    account: &'a str,
    status: &'a str,
    reason: &'a str,
}

/// Exit 3, each failed account named in every output, and the other accounts' parts of the
/// outputs byte-identical to the reference.
fn assert_incomplete(s: &Scan, failed: &[Failed<'_>]) {
    assert_eq!(s.code, 3, "incomplete: {}", s.stderr);
    let bad: Vec<&str> = failed.iter().map(|f| f.account).collect();
    for f in failed {
        assert_named(s, f);
    }
    let f = s.json("findings.json");
    let listed: Vec<&str> = f["accounts"]["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let mut want = bad.clone();
    want.sort_unstable();
    assert_eq!(listed, want, "only the faulty accounts are incomplete");
    assert_healthy_identical(s, &bad);
}

fn assert_named(s: &Scan, want: &Failed<'_>) {
    let id = want.account;
    // Findings JSON: accounts.incomplete with the status and the reason, and the finding.
    let f = s.json("findings.json");
    let entry = f["accounts"]["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in accounts.incomplete: {}", f["accounts"]));
    assert_eq!(entry["status"], want.status, "{entry}");
    let reasons: Vec<&str> = entry["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(
        reasons.iter().any(|r| r.starts_with(want.reason)),
        "{id}: {reasons:?} (want {})",
        want.reason
    );
    let reason = reasons
        .iter()
        .find(|r| r.starts_with(want.reason))
        .unwrap()
        .to_string();
    assert!(
        f["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["rule_id"] == "account-not-audited" && x["account_id"] == id),
        "no account-not-audited finding for {id}"
    );
    // Inventory: the account's collection status and its error.
    let inv = s.json("inventory.json");
    let account = common::account(&inv, id);
    assert_eq!(account["collection"]["status"], want.status);
    assert!(
        account["collection"]["errors"].to_string().contains(
            reason
                .split_once(": ")
                .map_or(reason.as_str(), |(_, m)| m)
                .split('"')
                .next()
                .unwrap()
        ),
        "{}",
        account["collection"]
    );
    // SARIF: an account-not-audited result at the account, and a notification naming it.
    let sarif = s.json("findings.sarif");
    let run = &sarif["runs"][0];
    assert!(
        run["results"].as_array().unwrap().iter().any(|r| {
            r["ruleId"] == "account-not-audited"
                && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("aws/{id}/"))
        }),
        "no account-not-audited SARIF result for {id}"
    );
    let notifications = run["invocations"][0]["toolExecutionNotifications"].to_string();
    assert!(notifications.contains(id), "{notifications}");
    // HTML, Markdown, the remediation list, the summary on stderr: the account and why.
    let short = reason.chars().take(40).collect::<String>();
    for kind in ["report.html", "report.md", "remediation.csv"] {
        let text = s.file(kind);
        assert!(text.contains(id), "{kind} does not name {id}");
    }
    assert!(
        s.file("report.md").contains(&short) || s.file("report.md").contains(&escape_md(&short)),
        "report.md does not say why ({short})"
    );
    assert!(
        s.file("report.html").contains(&html_escape(&short)),
        "report.html does not say why ({short})"
    );
    let line = s
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with(id))
        .unwrap_or_else(|| panic!("stderr does not name {id}:\n{}", s.stderr));
    assert!(line.contains(want.reason), "{line}");
}

fn escape_md(s: &str) -> String {
    s.replace('(', "\\(")
        .replace(')', "\\)")
        .replace('|', "\\|")
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The parts of the outputs that belong to the healthy accounts, byte for byte as in the
/// reference.
fn assert_healthy_identical(s: &Scan, bad: &[&str]) {
    let reference = reference();
    let healthy = |text: &str| !bad.iter().any(|b| text.contains(b));
    // Inventory: each healthy account whole, and its events.
    let (ri, si) = (reference.json("inventory.json"), s.json("inventory.json"));
    for id in ACCOUNTS.iter().filter(|a| !bad.contains(a)) {
        assert_eq!(
            common::account(&ri, id).to_string(),
            common::account(&si, id).to_string(),
            "inventory of {id}"
        );
    }
    let events = |inv: &Value| -> Vec<String> {
        inv["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .filter(|e| healthy(e))
            .collect()
    };
    assert_eq!(events(&ri), events(&si), "events of the healthy accounts");
    // Findings JSON: every finding of a healthy account.
    let findings = |f: &Value| -> Vec<String> {
        f["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| !bad.contains(&x["account_id"].as_str().unwrap_or("")))
            .map(Value::to_string)
            .collect()
    };
    let (rf, sf) = (
        findings(&reference.json("findings.json")),
        findings(&s.json("findings.json")),
    );
    assert!(!rf.is_empty());
    assert_eq!(rf, sf, "findings of the healthy accounts");
    // SARIF: every result located in a healthy account.
    let results = |sarif: &Value| -> Vec<String> {
        sarif["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                let uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap_or("");
                !bad.iter().any(|b| uri.starts_with(&format!("aws/{b}/")))
            })
            .map(Value::to_string)
            .collect()
    };
    assert_eq!(
        results(&reference.json("findings.sarif")),
        results(&s.json("findings.sarif")),
        "SARIF results of the healthy accounts"
    );
    // Stock CSVs: the healthy accounts' rows, in order. The remediation list ranks every
    // finding (its first column), so its rows are compared without the rank.
    for kind in [
        "iam_audit_report.csv",
        "cloudtrail_events.csv",
        "root_audit_report.csv",
        "remediation.csv",
    ] {
        let rows = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| healthy(l))
                .map(|l| {
                    if kind == "remediation.csv" {
                        l.split_once(',').map_or(l, |(_, rest)| rest).to_string()
                    } else {
                        l.to_string()
                    }
                })
                .collect()
        };
        let want = rows(reference.file(kind));
        assert!(want.len() > 1, "{kind}: no rows of healthy accounts");
        assert_eq!(want, rows(s.file(kind)), "{kind}: healthy accounts' rows");
    }
    // Markdown: every line of the reference about a healthy account (its MFA coverage row, its
    // findings) is in the report as it was.
    let md = s.file("report.md");
    for line in reference
        .file("report.md")
        .lines()
        .filter(|l| healthy(l) && ACCOUNTS.iter().any(|a| l.contains(a)))
    {
        assert!(md.lines().any(|l| l == line), "report.md lost: {line}");
    }
}

#[test]
fn throttling_of_one_request_in_five_is_absorbed() {
    // Every 5th request, of every API, answers its service's throttling error.
    let (s, calls) = faulted(&[json!({"throttle": {"match": "*", "every": 5}})]);
    let fired: u64 = calls["faults_fired"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    let total = calls["total"].as_u64().unwrap();
    assert_absorbed(&s);
    assert!(fired >= 20 && fired * 5 <= total, "{fired} of {total}");
}

#[test]
fn short_bursts_of_5xx_are_absorbed() {
    // Two 5xx in a row (each status) on the calls every account makes, and on discovery.
    let (s, calls) = faulted(&[json!({"error5xx": [
        {"match": "organizations:ListAccounts", "count": 2, "status": 503},
        {"match": "sts:AssumeRole", "count": 2, "status": 500},
        {"match": "iam:GetAccountAuthorizationDetails", "count": 2, "status": 502},
        {"match": "iam:ListAccessKeys", "count": 2, "status": 504},
        {"match": "cloudtrail:LookupEvents", "count": 2, "status": 503}
    ]})]);
    assert_eq!(
        calls["faults_fired"].as_object().unwrap().len(),
        5,
        "{}",
        calls["faults_fired"]
    );
    assert_absorbed(&s);
}

#[test]
fn a_burst_of_5xx_longer_than_the_retries_fails_only_its_account() {
    // Every IAM call in Dev answers 503: its calls give up, the account fails (IAM is
    // essential); the others are as in the reference.
    let (s, _) = faulted(&[
        json!({"error5xx": {"match": "iam:*", "account": DEV, "count": 100_000, "status": 503}}),
    ]);
    assert_incomplete(
        &s,
        &[Failed {
            account: DEV,
            status: "failed",
            reason: "iam: ",
        }],
    );
}

#[test]
fn connections_reset_mid_answer() {
    // Once per operation, in every account: retried like any transient failure.
    let (s, calls) = faulted(&[json!({"reset": [
        {"match": "organizations:ListAccounts"},
        {"match": "sts:AssumeRole"},
        {"match": "iam:GetAccountAuthorizationDetails", "count": 2},
        {"match": "iam:ListAccessKeys", "count": 2},
        {"match": "cloudtrail:LookupEvents", "count": 2}
    ]})]);
    assert!(
        calls["faults_fired"].as_object().unwrap().len() == 5,
        "{}",
        calls["faults_fired"]
    );
    assert_absorbed(&s);
}

#[test]
fn connections_always_reset_fail_only_their_account() {
    // Every answer of IAM in Prod is cut: the account fails, naming the call.
    let (s, _) =
        faulted(&[json!({"reset": {"match": "iam:*", "account": PROD, "count": 100_000}})]);
    assert_incomplete(
        &s,
        &[Failed {
            account: PROD,
            status: "failed",
            reason: "iam: ",
        }],
    );
}

#[test]
fn a_stalled_endpoint_times_out_and_the_others_finish() {
    // IAM in Dev answers after 30 s: every attempt (2 s) times out, the call gives up after
    // 12 s, and the other accounts finish meanwhile.
    let (s, _) = faulted(&[json!({"latency": {"ms": 30_000, "match": "iam:*", "account": DEV}})]);
    assert_incomplete(
        &s,
        &[Failed {
            account: DEV,
            status: "failed",
            reason: "iam: ",
        }],
    );
    assert!(s.elapsed < Duration::from_secs(30), "{:?}", s.elapsed);
}

#[test]
fn a_credential_report_stuck_in_progress() {
    // Prod's report never completes: past --report-deadline the scan reads what the report
    // would have said with per-user calls, and says so.
    let (s, calls) = faulted(&[json!({"report_pending": {"account": PROD}})]);
    assert!(
        calls["faults_fired"]["report_pending:iam:GenerateCredentialReport"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{}",
        calls["faults_fired"]
    );
    let inv = s.json("inventory.json");
    let prod = common::account(&inv, PROD);
    assert!(
        prod["collection"]["notes"]
            .to_string()
            .contains("per-user calls"),
        "{}",
        prod["collection"]
    );
    assert_eq!(s.code, reference().code, "{}", s.stderr);
    assert_healthy_identical(&s, &[PROD]);
    // Prod's users are as in the reference, but for what only the report has: the fallback
    // takes a password's age from its login profile's creation, and the root user (a row of
    // the report only) is unknown, which the note says.
    let notes = prod["collection"]["notes"].to_string();
    assert!(notes.contains("root user's credentials"), "{notes}");
    assert!(prod["root"].is_null(), "{}", prod["root"]);
    let rows = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with(PROD))
            .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
            .collect()
    };
    assert_eq!(
        rows(reference().file("iam_audit_report.csv")),
        rows(s.file("iam_audit_report.csv"))
    );
}

#[test]
fn assume_role_denied_in_one_account() {
    let (s, _) = faulted(&[json!({"deny": {
        "match": "sts:AssumeRole", "detail": format!("RoleArn=arn:aws:iam::{DEV}:role/*")
    }})]);
    assert_incomplete(
        &s,
        &[Failed {
            account: DEV,
            status: "failed",
            reason: "assume-role: ",
        }],
    );
    let f = s.json("findings.json");
    assert!(f["accounts"]["incomplete"]
        .to_string()
        .contains("AccessDenied"));
}

#[test]
fn cloudtrail_denied_by_an_scp() {
    let (s, _) = faulted(&[json!({"deny": {
        "match": "cloudtrail:LookupEvents", "account": PROD, "scp": true
    }})]);
    assert_incomplete(
        &s,
        &[Failed {
            account: PROD,
            status: "partial",
            reason: "cloudtrail: ",
        }],
    );
    let f = s.json("findings.json");
    let why = f["accounts"]["incomplete"][0]["reasons"][0]
        .as_str()
        .unwrap();
    assert!(
        why.contains("with an explicit deny in a service control policy"),
        "{why}"
    );
    // Prod's IAM data is kept: its users are in the inventory as in the reference.
    let users = |inv: &Value| common::account(inv, PROD)["users"].to_string();
    assert_eq!(
        users(&reference().json("inventory.json")),
        users(&s.json("inventory.json"))
    );
}

#[test]
fn page_tokens_that_repeat() {
    // IAM in Dev answers the marker it was just sent; CloudTrail in Prod a cycle of two
    // tokens (t1, t2, t1). Both listings are errors of their data source, never complete.
    let (s, calls) = faulted(&[json!({"repeat_token": [
        {"match": "iam:GetAccountAuthorizationDetails", "account": DEV, "cycle": 1},
        {"match": "cloudtrail:LookupEvents", "account": PROD, "cycle": 2, "detail": "EventName=CreateAccessKey"}
    ]})]);
    assert_eq!(
        calls["faults_fired"].as_object().unwrap().len(),
        2,
        "{}",
        calls["faults_fired"]
    );
    assert_incomplete(
        &s,
        &[
            Failed {
                account: PROD,
                status: "partial",
                reason: "cloudtrail: ",
            },
            Failed {
                account: DEV,
                status: "failed",
                reason: "iam: ",
            },
        ],
    );
    let f = s.json("findings.json").to_string();
    assert!(f.contains("GetAccountAuthorizationDetails"), "{f}");
    assert!(f.contains("LookupEvents"), "{f}");
}
