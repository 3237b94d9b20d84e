//! `iam-audit scan` against an emulated AWS: moto (pinned, installed by `scripts/moto.sh`) with
//! the harness in `tests/moto/` (seeding, back-dating, CloudTrail, faults, call counts). The
//! real binary runs with the real AWS SDK; only loopback is used, no AWS config is read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use chrono::{Duration, SecondsFormat, Utc};
use common::{ago, hermetic, read, Moto};
use serde_json::{json, Value};

/// How these tests run the scan.
impl Moto {
    /// Runs the scan binary against the emulator with the seeded management credentials.
    fn scan(&self, seeded: &Value, out: &Path, extra: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
        self.scan_env(&mut cmd, seeded);
        cmd.args(self.scan_args(out)).args(extra);
        cmd.output().unwrap()
    }

    /// The hermetic environment of a scan: the seeded credentials and nothing of the host's.
    #[allow(clippy::unused_self)] // one harness, one way in
    fn scan_env(&self, cmd: &mut Command, seeded: &Value) {
        let creds = &seeded["credentials"];
        hermetic(
            cmd,
            creds["access_key_id"].as_str().unwrap(),
            creds["secret_access_key"].as_str().unwrap(),
        );
    }

    /// Runs the scan and checks its exit code.
    fn scan_expect(&self, seeded: &Value, out: &Path, extra: &[&str], code: i32) {
        let run = self.scan(seeded, out, extra);
        assert_eq!(
            run.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

fn stock(t: &str) -> String {
    t.replace('T', " ").trim_end_matches('Z').to_string()
}

fn seed_spec() -> Value {
    json!({
        "report_generated": (Utc::now() - Duration::minutes(10)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "management": {"id": "123456789012", "name": "management", "users": [
            {"name": "mgmt-admin", "password": {"last_used": ago(2), "last_changed": ago(30)}, "mfa": "virtual"}
        ]},
        "accounts": [
            {"id": "111111111111", "name": "Prod-Payments", "ou": "/Workloads/Prod", "tags": {"Environment": "production"},
             "users": [
                {"name": "admin-user", "created": ago(200), "password": {"last_used": ago(2), "last_changed": ago(100)},
                 "keys": [{"status": "Active", "created": ago(95), "last_used": {"date": ago(1), "service": "iam", "region": "us-east-1"}}]},
                {"name": "service-account", "created": ago(900),
                 "keys": [{"status": "Active", "created": ago(800), "last_used": {"date": ago(2), "service": "dynamodb", "region": "us-east-1"}}]},
                {"name": "test-user", "created": ago(50), "keys": [{"status": "Active", "created": ago(40), "last_used": null}]}
             ]},
            {"id": "222222222222", "name": "Dev", "ou": "/Workloads/Dev",
             "users": [
                {"name": "shared-dev", "created": ago(400), "keys": [
                    {"status": "Active", "created": ago(300), "last_used": {"date": ago(1), "service": "ec2", "region": "us-east-1"}},
                    {"status": "Active", "created": ago(20), "last_used": {"date": ago(1), "service": "s3", "region": "us-east-1"}}]},
                {"name": "alice", "created": ago(100), "password": {"last_used": ago(3), "last_changed": ago(10)}, "mfa": "hardware"}
             ],
             // A day and an hour ago: outside a one-day window even when the scan starts within the
             // same second as the seeding (the window's start is inclusive).
             "events": [{"name": "DeactivateMFADevice", "time": (Utc::now() - Duration::hours(25)).to_rfc3339_opts(SecondsFormat::Secs, true), "user": "alice"}]},
            {"id": "333333333333", "name": "Sandbox", "ou": "/Sandbox", "audit_role": "missing"},
            {"id": "444444444444", "name": "Retired", "ou": "/Sandbox", "status": "SUSPENDED"}
        ]
    })
}

fn findings(dir: &Path) -> Value {
    serde_json::from_str(&read(dir, "findings_")).unwrap()
}

fn has(f: &Value, rule: &str, account: &str, user: Option<&str>) -> bool {
    f["findings"].as_array().unwrap().iter().any(|x| {
        x["rule_id"] == rule
            && x["account_id"] == account
            && user.is_none_or(|u| x["username"] == u)
    })
}

/// The entry of `accounts.incomplete` for `account`, with its status and first reason.
fn incomplete<'a>(f: &'a Value, account: &str) -> (&'a Value, &'a str) {
    let entry = f["accounts"]["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == account)
        .unwrap_or_else(|| panic!("{account} is not incomplete: {}", f["accounts"]));
    (&entry["status"], entry["reasons"][0].as_str().unwrap())
}

#[test]
fn scan_collects_a_seeded_organization() {
    let moto = Moto::start();
    let spec = seed_spec();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&spec));
    let out = tempfile::tempdir().unwrap();
    let run = moto.scan(&seeded, out.path(), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");

    // The SARIF of a scan names the Organization and reports the account it could not audit.
    let sarif_path = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sarif"))
        .expect("a SARIF file");
    let sarif: Value = serde_json::from_slice(&std::fs::read(sarif_path).unwrap()).unwrap();
    let run0 = &sarif["runs"][0];
    let org = seeded["organization_id"].as_str().unwrap();
    assert!(
        run0["automationDetails"]["id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("iam-audit/{org}/")),
        "{}",
        run0["automationDetails"]
    );
    assert!(run0["results"].as_array().unwrap().iter().any(|r| {
        r["ruleId"] == "account-not-audited"
            && r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "aws/333333333333/iam"
    }));

    // The stock report, row by row, with the seeded key ids and back-dated times.
    let report = read(out.path(), "iam_audit_report_");
    let key = |acct: &str, user: &str, i: usize| {
        seeded["accounts"][acct]["users"][user]["keys"][i]
            .as_str()
            .unwrap()
            .to_string()
    };
    let admin_key = key("111111111111", "admin-user", 0);
    let admin = &spec["accounts"][0]["users"][0];
    let want = format!(
        "111111111111,Prod-Payments,admin-user,Configurada,{},{admin_key},Active,{},{},iam,None",
        stock(admin["password"]["last_used"].as_str().unwrap()),
        stock(admin["keys"][0]["created"].as_str().unwrap()),
        stock(admin["keys"][0]["last_used"]["date"].as_str().unwrap()),
    );
    assert!(report.lines().any(|l| l == want), "no row {want}\n{report}");
    let test_key = key("111111111111", "test-user", 0);
    assert!(
        report.contains(&format!("{test_key},Active,"))
            && report.contains("Nunca utilizada,N/A,None"),
        "{report}"
    );
    assert!(
        report.contains("123456789012,management,mgmt-admin,Configurada,"),
        "{report}"
    );
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("222222222222,Dev,alice,") && l.ends_with(",Hardware")),
        "{report}"
    );
    assert!(
        !report.contains("333333333333"),
        "nothing was collected in the account without role"
    );

    // The findings the seed's examples call for, and the account that could not be audited.
    let f = findings(out.path());
    assert!(has(
        &f,
        "console-without-mfa",
        "111111111111",
        Some("admin-user")
    ));
    assert!(has(
        &f,
        "old-key-in-use",
        "111111111111",
        Some("service-account")
    ));
    assert!(has(
        &f,
        "unused-active-key",
        "111111111111",
        Some("test-user")
    ));
    assert!(has(
        &f,
        "shared-credentials",
        "222222222222",
        Some("shared-dev")
    ));
    assert!(has(&f, "mfa-deactivated", "222222222222", None));
    assert!(has(&f, "production-mfa-gap", "111111111111", None));
    assert!(has(&f, "account-not-audited", "333333333333", None));
    // A suspended account is skipped and listed, not a failure.
    assert!(!has(&f, "account-not-audited", "444444444444", None));
    assert_eq!(
        f["accounts"]["skipped"],
        json!([{"id": "444444444444", "name": "Retired", "reason": "SUSPENDED"}])
    );
    let failed = &f["accounts"]["incomplete"];
    assert_eq!(failed.as_array().unwrap().len(), 1, "{failed}");
    assert!(
        failed[0]["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("assume-role: "),
        "{failed}"
    );

    // Inventory: OU path, tags, MFA types, credential report time.
    let inv: Value = serde_json::from_str(&read(out.path(), "inventory_")).unwrap();
    let prod = inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "111111111111")
        .unwrap();
    assert_eq!(prod["ou_path"], json!(["Root", "Workloads", "Prod"]));
    assert_eq!(prod["tags"]["Environment"], "production");
    assert!(prod["collection"]["credential_report_generated_at"].is_string());
    let events = read(out.path(), "cloudtrail_events_");
    assert!(
        events
            .lines()
            .any(|l| l.contains(",DeactivateMFADevice,") && l.contains("222222222222,Dev")),
        "{events}"
    );

    // ListAccessKeys for every user (the report names no key ids, and a cached report misses
    // keys created since), MFA only for users the scan's own report says have MFA.
    let calls = moto.call("GET", "/iam-audit/calls?log=1", None);
    let users: usize = inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["users"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(
        calls["by_operation"]["iam:ListAccessKeys"],
        json!(users),
        "{}",
        calls["by_operation"]
    );
    assert_eq!(
        calls["by_operation"]["iam:ListMFADevices"], 2,
        "{}",
        calls["by_operation"]
    );
    // At most 2 LookupEvents requests per second per account.
    let mut last: std::collections::HashMap<String, f64> = std::collections::HashMap::new();
    for entry in calls["log"].as_array().unwrap() {
        if entry["op"] != "cloudtrail:LookupEvents" {
            continue;
        }
        let account = entry["account"].as_str().unwrap().to_string();
        let t = entry["t"].as_f64().unwrap();
        if let Some(prev) = last.insert(account.clone(), t) {
            assert!(
                t - prev >= 0.45,
                "LookupEvents in {account} {:.3} s apart",
                t - prev
            );
        }
    }
    assert_eq!(
        last.len(),
        3,
        "LookupEvents ran in the management account and both members"
    );
}

#[test]
fn scan_survives_throttling_and_5xx_with_identical_output() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    let calm = tempfile::tempdir().unwrap();
    moto.scan_expect(&seeded, calm.path(), &["--quiet"], 1);
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({
            "throttle": {"match": "iam:ListAccessKeys", "count": 3},
            "error5xx": {"match": "organizations:ListAccounts", "count": 2}
        })),
    );
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"throttle": {"match": "cloudtrail:LookupEvents", "count": 2}})),
    );
    let stormy = tempfile::tempdir().unwrap();
    moto.scan_expect(&seeded, stormy.path(), &["--quiet"], 1);
    let fired = moto.call("GET", "/iam-audit/faults", None);
    assert!(fired.to_string().contains("fired"), "{fired}");
    assert_eq!(
        read(calm.path(), "iam_audit_report_"),
        read(stormy.path(), "iam_audit_report_")
    );
    assert_eq!(
        read(calm.path(), "cloudtrail_events_"),
        read(stormy.path(), "cloudtrail_events_")
    );
    let ids = |v: &Value| -> Vec<String> {
        let mut x: Vec<String> = v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        x.sort();
        x
    };
    assert_eq!(ids(&findings(calm.path())), ids(&findings(stormy.path())));
}

#[test]
fn cloudtrail_denied_is_reported_as_partial_and_iam_data_is_kept() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"deny": {"match": "cloudtrail:LookupEvents", "account": "222222222222"}})),
    );
    let out = tempfile::tempdir().unwrap();
    let run = moto.scan(&seeded, out.path(), &["--quiet", "--fail-on", "none"]);
    assert_eq!(
        run.status.code(),
        Some(3),
        "incomplete inventory: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let f = findings(out.path());
    let (status, reason) = incomplete(&f, "222222222222");
    assert_eq!(status, "partial");
    assert!(reason.starts_with("cloudtrail: "), "{reason}");
    // IAM data of that account is still there, and so are its IAM findings.
    assert!(has(
        &f,
        "shared-credentials",
        "222222222222",
        Some("shared-dev")
    ));
    assert!(!has(&f, "mfa-deactivated", "222222222222", None));
    assert!(has(&f, "account-not-audited", "222222222222", None));
}

#[test]
fn a_call_past_its_timeout_fails_its_source_and_the_rest_is_kept() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    // LookupEvents in Dev answers after 3 s; with a 1 s call timeout every attempt times out
    // and the call gives up after 6 s in all.
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"latency": {"ms": 3000, "match": "cloudtrail:LookupEvents", "account": "222222222222"}})),
    );
    let out = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let run = moto.scan(
        &seeded,
        out.path(),
        &["--quiet", "--fail-on", "none", "--call-timeout", "1"],
    );
    let elapsed = started.elapsed();
    assert_eq!(
        run.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let f = findings(out.path());
    let (status, reason) = incomplete(&f, "222222222222");
    assert_eq!(status, "partial");
    assert!(
        reason.starts_with("cloudtrail: LookupEvents")
            && reason
                .contains("operation timeout (all attempts including retries) occurred after 6s"),
        "{reason}"
    );
    // The other accounts are complete and Dev's IAM findings are there.
    assert_eq!(
        f["accounts"]["incomplete"].as_array().unwrap().len(),
        2,
        "{}",
        f["accounts"]
    );
    assert!(has(
        &f,
        "shared-credentials",
        "222222222222",
        Some("shared-dev")
    ));
    // Bounded by the timeouts, not by the 3 s answers times the retries.
    assert!(elapsed < std::time::Duration::from_secs(40), "{elapsed:?}");
}

#[test]
fn without_a_credential_report_it_falls_back_to_per_user_calls() {
    let moto = Moto::start();
    let spec = seed_spec();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&spec));
    let normal = tempfile::tempdir().unwrap();
    let run = moto.scan(
        &seeded,
        normal.path(),
        &["--quiet", "--accounts", "111111111111"],
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    moto.call("POST", "/iam-audit/reset", None);
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"report_pending": {"account": "111111111111", "count": 1000}})),
    );
    let fallback = tempfile::tempdir().unwrap();
    let run = moto.scan(
        &seeded,
        fallback.path(),
        &[
            "--quiet",
            "--accounts",
            "111111111111",
            "--report-deadline",
            "2",
        ],
    );
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Same rows, same findings, and the inventory says how the data was obtained.
    assert_eq!(
        read(normal.path(), "iam_audit_report_"),
        read(fallback.path(), "iam_audit_report_")
    );
    let inv: Value = serde_json::from_str(&read(fallback.path(), "inventory_")).unwrap();
    let notes = inv["accounts"][0]["collection"]["notes"].to_string();
    assert!(notes.contains("per-user calls"), "{notes}");
    assert!(inv["accounts"][0]["collection"]["credential_report_generated_at"].is_null());
    let calls = moto.call("GET", "/iam-audit/calls", None);
    assert_eq!(
        calls["by_operation"]["iam:GetAccessKeyLastUsed"], 3,
        "{}",
        calls["by_operation"]
    );
    assert!(has(
        &findings(fallback.path()),
        "console-without-mfa",
        "111111111111",
        Some("admin-user")
    ));
}

#[test]
fn empty_pages_with_tokens_lose_nothing() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    let calm = tempfile::tempdir().unwrap();
    moto.scan_expect(&seeded, calm.path(), &["--quiet"], 1);
    for (op, count) in [
        ("organizations:ListAccounts", 2),
        ("iam:GetAccountAuthorizationDetails", 2),
        ("cloudtrail:LookupEvents", 3),
    ] {
        moto.call(
            "POST",
            "/iam-audit/faults",
            Some(&json!({"empty_page": {"match": op, "count": count}})),
        );
    }
    let paged = tempfile::tempdir().unwrap();
    moto.scan_expect(&seeded, paged.path(), &["--quiet"], 1);
    // Every empty page was served (each rule's `remaining` is 0, and there were three rules).
    fn remaining(v: &Value, out: &mut Vec<i64>) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("remaining").and_then(Value::as_i64) {
                    out.push(r);
                }
                m.values().for_each(|x| remaining(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| remaining(x, out)),
            _ => {}
        }
    }
    let faults = moto.call("GET", "/iam-audit/faults", None);
    let mut left = Vec::new();
    remaining(&faults, &mut left);
    assert_eq!(left, vec![0, 0, 0], "{faults}");
    assert_eq!(
        read(calm.path(), "iam_audit_report_"),
        read(paged.path(), "iam_audit_report_")
    );
    assert_eq!(
        read(calm.path(), "cloudtrail_events_"),
        read(paged.path(), "cloudtrail_events_")
    );
}

#[test]
fn progress_bar_is_drawn_on_a_terminal_only() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    // Not a terminal (a pipe, as in CI): the summary, no progress bar.
    let out = tempfile::tempdir().unwrap();
    let piped = moto.scan(
        &seeded,
        out.path(),
        &["--fail-on", "none", "--exclude-accounts", "333333333333"],
    );
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("accounts audited"), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr}");
    // A terminal (a pseudo-terminal from `script`): the bar is drawn on stderr.
    let out = tempfile::tempdir().unwrap();
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_iam-audit"));
    for a in moto.scan_args(out.path()) {
        line.push_str(&format!(" '{a}'"));
    }
    line.push_str(" --fail-on none --exclude-accounts 333333333333");
    let mut cmd = Command::new("script");
    moto.scan_env(&mut cmd, &seeded);
    let tty = cmd
        .args(["-qec", &line, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert_eq!(tty.status.code(), Some(0), "{screen}");
    assert!(screen.contains("accounts audited"), "{screen}");
    assert!(screen.contains("/3 accounts audited"), "{screen}");
}

#[test]
fn ou_and_cloudtrail_days_narrow_the_scan() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    // Only the accounts under the Workloads OU (by name), with one day of CloudTrail: the
    // DeactivateMFADevice event of a day and an hour ago is outside that window.
    let out = tempfile::tempdir().unwrap();
    let extra = [
        "--ou",
        "Workloads",
        "--cloudtrail-days",
        "1",
        "--fail-on",
        "none",
    ];
    moto.scan_expect(&seeded, out.path(), &extra, 0);
    let inv: Value = serde_json::from_str(&read(out.path(), "inventory_")).unwrap();
    let ids: Vec<&str> = inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["111111111111", "222222222222"]);
    assert_eq!(
        inv["events"].as_array().unwrap().len(),
        0,
        "{}",
        inv["events"]
    );
    assert!(!has(
        &findings(out.path()),
        "mfa-deactivated",
        "222222222222",
        None
    ));
    // The same by OU id, with the default 90 days: the event is back.
    let dev_ou = seeded["ous"]["/Workloads/Dev"].as_str().unwrap();
    let out = tempfile::tempdir().unwrap();
    moto.scan_expect(
        &seeded,
        out.path(),
        &["--ou", dev_ou, "--fail-on", "none"],
        0,
    );
    let f = findings(out.path());
    assert!(has(&f, "mfa-deactivated", "222222222222", None));
    assert_eq!(f["accounts"]["audited"].as_array().unwrap().len(), 1);
}

#[test]
fn a_named_profile_supplies_the_credentials_and_the_session_name_is_used() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    let creds = &seeded["credentials"];
    let dir = tempfile::tempdir().unwrap();
    let credentials = dir.path().join("credentials");
    std::fs::write(
        &credentials,
        format!(
            "[audit]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            creds["access_key_id"].as_str().unwrap(),
            creds["secret_access_key"].as_str().unwrap()
        ),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = |profile: &str, session: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
        hermetic(&mut cmd, "", "");
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials)
            .args(moto.scan_args(out.path()))
            .args([
                "--profile",
                profile,
                "--session-name",
                session,
                "--accounts",
                "111111111111",
                "--fail-on",
                "none",
            ])
            .output()
            .unwrap()
    };
    let ok = run("audit", "audit-run-42");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(findings(out.path())["accounts"]["audited"][0]["id"] == "111111111111");
    // The member role was assumed under the session name given (what CloudTrail records).
    let calls = moto.call("GET", "/iam-audit/calls?log=1", None);
    let sessions: Vec<&str> = calls["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["op"] == "sts:AssumeRole")
        .map(|e| e["detail"].as_str().unwrap())
        .collect();
    assert!(!sessions.is_empty(), "{calls}");
    for s in sessions {
        assert!(s.ends_with(",RoleSessionName=audit-run-42"), "{s}");
    }
    let bad = run("audit", "no spaces allowed");
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("--session-name"), "{stderr}");
    let missing = run("nobody", "iam-audit");
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("no AWS credentials"), "{stderr}");
}

#[test]
fn ctrl_c_writes_nothing() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    // Every call takes 300 ms: the scan is still collecting when it is interrupted.
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"latency_ms": 300})),
    );
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
    moto.scan_env(&mut cmd, &seeded);
    let child = cmd
        .args(moto.scan_args(out.path()))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(
        stderr.contains("interrupted: nothing was written"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(out.path()).unwrap().collect();
    assert!(left.is_empty(), "files left: {left:?}");
}

#[test]
fn a_slow_data_source_costs_only_its_own_data() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    // CloudTrail in Dev answers after 10 s (the call timeout allows it): past the 6 s deadline
    // of the data source. IAM in Dev is fast: its users are kept, the account is partial.
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"latency": {"ms": 10000, "match": "cloudtrail:LookupEvents", "account": "222222222222"}})),
    );
    let out = tempfile::tempdir().unwrap();
    let extra = [
        "--account-deadline",
        "6",
        "--call-timeout",
        "30",
        "--exclude-accounts",
        "333333333333",
        "--fail-on",
        "none",
    ];
    moto.scan_expect(&seeded, out.path(), &extra, 3);
    let f = findings(out.path());
    let (status, reason) = incomplete(&f, "222222222222");
    assert_eq!(status, "partial");
    assert_eq!(reason, "cloudtrail: not finished within 6 s");
    assert!(has(
        &f,
        "shared-credentials",
        "222222222222",
        Some("shared-dev")
    ));
}

#[test]
fn an_account_past_its_deadline_is_reported_and_the_others_complete() {
    let moto = Moto::start();
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
    // Every call in the caller's own account takes 10 s: its IAM data cannot be read within
    // the deadline of a data source, 8 s, which is ample for the others (their 11
    // LookupEvents at 2 requests/s take 5 s).
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"latency": {"ms": 10000, "account": "111111111111"}})),
    );
    let out = tempfile::tempdir().unwrap();
    let extra = [
        "--account-deadline",
        "8",
        "--exclude-accounts",
        "333333333333",
        "--fail-on",
        "none",
    ];
    moto.scan_expect(&seeded, out.path(), &extra, 3);
    let f = findings(out.path());
    let incomplete = f["accounts"]["incomplete"].as_array().unwrap();
    assert_eq!(incomplete.len(), 1, "{incomplete:?}");
    assert_eq!(incomplete[0]["id"], "111111111111");
    assert_eq!(incomplete[0]["status"], "failed");
    // IAM is essential: without it the account failed.
    assert_eq!(incomplete[0]["reasons"][0], "iam: not finished within 8 s");
    assert!(has(&f, "account-not-audited", "111111111111", None));
    assert!(has(
        &f,
        "shared-credentials",
        "222222222222",
        Some("shared-dev")
    ));
}
