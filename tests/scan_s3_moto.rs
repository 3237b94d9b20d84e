//! `iam-audit scan --cloudtrail-s3` against moto's S3: the organization trail's gzip log files
//! written by the harness (`POST /iam-audit/trail`) in CloudTrail's real layout
//! (`PREFIX/AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/…json.gz`, and the plain
//! layout without `<org-id>/`), read by the real binary. Only the days of `--cloudtrail-days`
//! and the IAM events region are read (the harness's call log shows every S3 request); what
//! cannot be listed or read leaves the account partial, naming the call. Loopback only; no AWS
//! config is read.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "aws")]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use common::{account, ago, hermetic, read, Moto};
use serde_json::{json, Value};

const MGMT: &str = "123456789012";
const PROD: &str = "111111111111";
const DEV: &str = "222222222222";
const SANDBOX: &str = "333333333333";

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn hours_ago(h: i64) -> String {
    at(Utc::now() - Duration::hours(h))
}

/// The seeded Organization, an S3 trail in eu-west-1 (a region other than the SDK's, so the
/// scan must find it) owned by another account than the caller's, and the log files of the
/// scenario.
fn trail_org() -> (Moto, Value) {
    let moto = Moto::start();
    let seeded = moto.call(
        "POST",
        "/iam-audit/seed",
        Some(&json!({
            "management": {"id": MGMT, "name": "management"},
            "accounts": [
                {"id": PROD, "name": "Prod", "users": [{"name": "alice", "keys": [{"created": ago(30)}]}]},
                {"id": DEV, "name": "Dev", "users": [{"name": "bob", "password": true}]},
                {"id": SANDBOX, "name": "Sandbox"}
            ]
        })),
    );
    // A record as CloudTrail writes it, given whole (the same eventID in two files).
    let duplicated = json!({
        "eventVersion": "1.09", "eventTime": hours_ago(30), "eventSource": "iam.amazonaws.com",
        "eventName": "DeleteAccessKey", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1",
        "userIdentity": {"type": "IAMUser", "userName": "admin", "accountId": PROD,
                         "arn": format!("arn:aws:iam::{PROD}:user/admin")},
        "requestParameters": {"userName": "alice", "accessKeyId": "AKIAOLDKEY0000000001"},
        "responseElements": null, "eventID": "00000000-0000-4000-8000-00000000d0d0",
        "recipientAccountId": PROD, "eventType": "AwsApiCall", "managementEvent": true
    });
    // Three days asked (--cloudtrail-days 3): `since` is about 72 hours ago.
    let files = json!([
        // Prod, inside the window: a kept event, a record not kept, a failed call.
        {"account": PROD, "events": [
            {"name": "CreateAccessKey", "time": hours_ago(24), "user": "alice", "key": 0},
            {"name": "ListUsers", "time": hours_ago(24)},
            {"name": "DeleteUser", "time": hours_ago(24), "user": "mallory", "error_code": "AccessDenied"}]},
        // The same record in two files (an organization trail beside a copy): kept once.
        {"account": PROD, "delivered": hours_ago(29), "records": [duplicated.clone()]},
        {"account": PROD, "delivered": hours_ago(28), "records": [duplicated]},
        // Outside the window: its day is never listed.
        {"account": PROD, "events": [{"name": "CreateUser", "time": hours_ago(24 * 6), "user": "old"}]},
        // A file misfiled six days ago holding an event inside the window: proves that day's
        // folder is not read (its event would be kept if it were).
        {"account": PROD, "delivered": hours_ago(24 * 6), "events": [
            {"name": "CreateUser", "time": hours_ago(20), "user": "misfiled"}]},
        // The first day's folder, delivered before the window starts: listed after it (start
        // after an hour before `since`) or read and its event dropped by time.
        {"account": PROD, "delivered": hours_ago(72 + 2), "events": [
            {"name": "CreateUser", "time": hours_ago(72 + 3), "user": "too-early"}]},
        // Dev: the root user's sign-in, a failed sign-in, and an object that is not a log file.
        {"account": DEV, "events": [
            {"name": "ConsoleLogin", "time": hours_ago(48), "actor": {"type": "Root"}, "mfa_used": true},
            {"name": "ConsoleLogin", "time": hours_ago(47), "user": "bob", "outcome": "Failure"}]},
        {"account": DEV, "delivered": hours_ago(10), "body": "this is not a CloudTrail log file"},
        // Dev: an IAM user's sign-in recorded in eu-west-1: read with --cloudtrail-regions only.
        {"account": DEV, "region": "eu-west-1", "events": [
            {"name": "ConsoleLogin", "time": hours_ago(5), "user": "bob", "region": "eu-west-1"}]},
        // The management account: read with the caller's own credentials like the others.
        {"account": MGMT, "events": [{"name": "DeactivateMFADevice", "time": hours_ago(3), "user": "mgmt"}]}
    ]);
    let written = moto.call(
        "POST",
        "/iam-audit/trail",
        // Dev owns the bucket (the log archive): read across accounts with the caller's keys.
        Some(&json!({"bucket": "org-trail", "bucket_account": DEV, "bucket_region": "eu-west-1", "prefix": "logs",
                     "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555",
                     "files": files})),
    );
    assert_eq!(written["objects"].as_array().unwrap().len(), 10);
    assert_eq!(written["org_id"], seeded["organization_id"]);
    // The plain layout (an account's own trail) in the same bucket: read too.
    moto.call(
        "POST",
        "/iam-audit/trail",
        Some(&json!({"bucket": "org-trail", "bucket_account": DEV, "prefix": "logs", "org_id": null, "files": [
            {"account": MGMT, "events": [{"name": "CreateUser", "time": hours_ago(6), "user": "plain-layout"}]}]})),
    );
    moto.call("POST", "/iam-audit/reset", None);
    (moto, seeded)
}

fn scan(moto: &Moto, seeded: &Value, out: &Path, extra: &[&str]) -> (Option<i32>, Value) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
    let creds = &seeded["credentials"];
    hermetic(
        &mut cmd,
        creds["access_key_id"].as_str().unwrap(),
        creds["secret_access_key"].as_str().unwrap(),
    );
    cmd.args(moto.scan_args(out))
        .args(["--quiet", "--fail-on", "none", "--format", "json"])
        .args(extra);
    let run = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr).to_string();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let inv =
        serde_json::from_str(&read(out, "inventory_")).unwrap_or_else(|e| panic!("{e}\n{stderr}"));
    (run.status.code(), inv)
}

/// (account, event name, first resource or actor) of every event.
fn events(inv: &Value) -> BTreeSet<(String, String, String)> {
    inv["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let what = e["resources"]
                .as_array()
                .and_then(|r| {
                    r.iter()
                        .rev()
                        .find(|r| !r.as_str().unwrap().starts_with("AKIA"))
                })
                .and_then(Value::as_str)
                .unwrap_or_else(|| e["actor"].as_str().unwrap());
            (
                e["account_id"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap().to_string(),
                what.to_string(),
            )
        })
        .collect()
}

fn ev(account: &str, name: &str, what: &str) -> (String, String, String) {
    (account.into(), name.into(), what.into())
}

/// The day folder (`YYYY/MM/DD`) an S3 request names, if any.
fn day_of(detail: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> = detail.split('/').collect();
    parts.windows(3).find_map(|w| {
        NaiveDate::parse_from_str(&format!("{}-{}-{}", w[0], w[1], w[2]), "%Y-%m-%d").ok()
    })
}

#[test]
fn the_organization_trail_gives_the_events_of_the_days_asked_only() {
    let (moto, seeded) = trail_org();
    // Pages of one key or folder: every listing of more than one paginates.
    moto.call("POST", "/iam-audit/s3", Some(&json!({"max_keys": 1})));
    let out = tempfile::tempdir().unwrap();
    let started = Utc::now();
    let (code, inv) = scan(
        &moto,
        &seeded,
        out.path(),
        &[
            "--cloudtrail-s3",
            "s3://org-trail/logs/",
            "--cloudtrail-days",
            "3",
        ],
    );
    // Sandbox has no folder in the bucket: its CloudTrail is missing, so it is partial (exit
    // 3: an account not audited) and says why; the others are complete.
    assert_eq!(code, Some(3));
    let sandbox = &account(&inv, SANDBOX)["collection"];
    assert_eq!(sandbox["status"], "partial", "{sandbox}");
    assert_eq!(sandbox["errors"][0]["source"], "cloudtrail");
    let message = sandbox["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "no CloudTrail log files for account {SANDBOX} under s3://org-trail/logs/AWSLogs/"
        )),
        "{message}"
    );
    for a in [MGMT, PROD, DEV] {
        let c = &account(&inv, a)["collection"];
        assert_eq!(c["status"], "complete", "{a}: {c}");
    }

    // Exactly the kept events of the window: the failed call kept (with its error), the
    // record of two files once, nothing of the days or the region not read, nothing before
    // the window, both layouts.
    assert_eq!(
        events(&inv),
        BTreeSet::from([
            ev(PROD, "CreateAccessKey", "alice"),
            ev(PROD, "DeleteUser", "mallory"),
            ev(PROD, "DeleteAccessKey", "alice"),
            ev(DEV, "ConsoleLogin", "root"),
            ev(DEV, "ConsoleLogin", "bob"),
            ev(MGMT, "DeactivateMFADevice", "mgmt"),
            ev(MGMT, "CreateUser", "plain-layout"),
        ])
    );
    let all = inv["events"].as_array().unwrap();
    let failed = all.iter().find(|e| e["name"] == "DeleteUser").unwrap();
    assert_eq!(failed["error_code"], "AccessDenied", "{failed}");
    let sign_in = all
        .iter()
        .find(|e| e["name"] == "ConsoleLogin" && e["actor"] == "bob")
        .unwrap();
    assert_eq!(sign_in["login_outcome"], "Failure");
    assert!(all
        .iter()
        .all(|e| e["account_name"].as_str().is_some_and(|n| !n.is_empty())));
    // Root's last sign-in comes from the trail, as from LookupEvents.
    let root = &account(&inv, DEV)["root"];
    assert!(
        root["last_console_login"]
            .as_str()
            .is_some_and(|t| t >= hours_ago(49).as_str()),
        "{root}"
    );
    // The file that is not a log file is skipped and said so.
    let notes = account(&inv, DEV)["collection"]["notes"].to_string();
    assert!(
        notes.contains("1 skipped as unreadable in 1 file(s)")
            && notes.contains("s3://org-trail/logs/AWSLogs/"),
        "{notes}"
    );
    let notes = account(&inv, PROD)["collection"]["notes"].to_string();
    assert!(notes.contains("kept once"), "{notes}");

    // The S3 requests: the bucket's region asked once, then everything in it; only day
    // folders of the window, of the IAM region, and no LookupEvents.
    let calls = moto.call("GET", "/iam-audit/calls?log=1", None);
    let log = calls["log"].as_array().unwrap();
    assert_eq!(calls["by_operation"]["s3:HeadBucket"], 1, "{calls}");
    assert!(calls["by_operation"]["cloudtrail:LookupEvents"].is_null());
    let first_day = (started - Duration::days(3)).date_naive();
    let mut days_listed = BTreeSet::new();
    for e in log
        .iter()
        .filter(|e| e["op"].as_str().unwrap().starts_with("s3:"))
    {
        assert_eq!(e["status"], 200, "{e}");
        if e["op"] != "s3:HeadBucket" {
            assert_eq!(e["region"], "eu-west-1", "{e}");
        }
        let detail = e["detail"].as_str().unwrap_or("");
        assert!(!detail.contains("/eu-west-1/"), "{e}");
        if let Some(day) = day_of(detail) {
            assert!(day >= first_day && day <= Utc::now().date_naive(), "{e}");
            days_listed.insert(day);
        }
    }
    assert!(days_listed.len() >= 4, "{days_listed:?}");
    let continued = log
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .unwrap_or("")
                .contains("continuation-token=")
        })
        .count();
    assert!(continued >= 3, "listings paginated: {continued}");
    // One listing per account, region and day (Sandbox has none), one GetObject per file.
    let gets = calls["by_operation"]["s3:GetObject"].as_u64().unwrap();
    assert_eq!(gets, 7, "{calls}");

    // Every region of the trail: the IAM user's sign-in recorded in eu-west-1 too.
    moto.call("POST", "/iam-audit/reset", None);
    let out = tempfile::tempdir().unwrap();
    let (_, inv) = scan(
        &moto,
        &seeded,
        out.path(),
        &[
            "--cloudtrail-s3",
            "s3://org-trail/logs",
            "--cloudtrail-days",
            "3",
            "--cloudtrail-regions",
            "all",
        ],
    );
    let logins: Vec<&Value> = inv["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == "ConsoleLogin" && e["region"] == "eu-west-1")
        .collect();
    assert_eq!(logins.len(), 1, "{}", inv["events"]);
    assert_eq!(logins[0]["actor"], "bob");
}

#[test]
fn an_account_whose_files_cannot_be_listed_or_read_is_partial_naming_the_call() {
    let (moto, seeded) = trail_org();
    // Dev's day folders cannot be listed; one of Prod's files cannot be read.
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"deny": [
            {"match": "s3:ListObjectsV2", "detail": format!("prefix=logs/AWSLogs/o-*/{DEV}/CloudTrail/*")},
            {"match": "s3:GetObject", "detail": format!("key=logs/AWSLogs/o-*/{PROD}/*")}
        ]})),
    );
    let out = tempfile::tempdir().unwrap();
    let (code, inv) = scan(
        &moto,
        &seeded,
        out.path(),
        &[
            "--cloudtrail-s3",
            "s3://org-trail/logs",
            "--cloudtrail-days",
            "3",
        ],
    );
    assert_eq!(code, Some(3));
    for (a, call) in [(DEV, "ListObjectsV2"), (PROD, "GetObject")] {
        let c = &account(&inv, a)["collection"];
        assert_eq!(c["status"], "partial", "{a}: {c}");
        assert_eq!(c["errors"].as_array().unwrap().len(), 1, "{c}");
        assert_eq!(c["errors"][0]["source"], "cloudtrail");
        let message = c["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{call} s3://org-trail/logs/AWSLogs/o-"))
                && message.contains(&format!("/{a}/CloudTrail/us-east-1/"))
                && message.contains("AccessDenied"),
            "{message}"
        );
        // The IAM data is there all the same.
        assert!(!account(&inv, a)["users"].as_array().unwrap().is_empty());
    }
    assert_eq!(account(&inv, MGMT)["collection"]["status"], "complete");
    // Nothing of the partial accounts' CloudTrail is kept (none of it is trusted whole).
    assert!(inv["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["account_id"] == MGMT));

    // A bucket that does not exist: every account's CloudTrail is missing, each says why.
    let out = tempfile::tempdir().unwrap();
    let (code, inv) = scan(
        &moto,
        &seeded,
        out.path(),
        &["--cloudtrail-s3", "s3://no-such-trail-bucket/logs"],
    );
    assert_eq!(code, Some(3));
    for a in [MGMT, PROD, DEV, SANDBOX] {
        let c = &account(&inv, a)["collection"];
        assert_eq!(c["status"], "partial", "{a}: {c}");
        assert_eq!(
            c["errors"][0]["message"], "HeadBucket s3://no-such-trail-bucket: no such bucket",
            "{c}"
        );
    }
}

#[test]
fn a_trail_role_that_cannot_be_assumed_leaves_every_account_partial() {
    let (moto, seeded) = trail_org();
    let role = format!("arn:aws:iam::{DEV}:role/NoSuchTrailReader");
    let out = tempfile::tempdir().unwrap();
    let (code, inv) = scan(
        &moto,
        &seeded,
        out.path(),
        &[
            "--cloudtrail-s3",
            "s3://org-trail/logs",
            "--cloudtrail-role",
            &role,
        ],
    );
    assert_eq!(code, Some(3));
    for a in [MGMT, PROD, DEV, SANDBOX] {
        let c = &account(&inv, a)["collection"];
        assert_eq!(c["status"], "partial", "{a}: {c}");
        let message = c["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("AssumeRole {role} (--cloudtrail-role): "))
                && message.contains("AccessDenied"),
            "{message}"
        );
    }
    // Tried once for the scan, not once per account; and no S3 call without it.
    let calls = moto.call("GET", "/iam-audit/calls", None);
    let ops = &calls["by_operation"];
    assert!(
        ops.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("s3:")),
        "{ops}"
    );
    let log = moto.call("GET", "/iam-audit/calls?log=1", None);
    let tries = log["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["detail"]
                .as_str()
                .unwrap_or("")
                .contains("NoSuchTrailReader")
        })
        .count();
    assert_eq!(tries, 1, "{ops}");
}

#[test]
fn the_flags_are_checked() {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
    hermetic(&mut cmd, "AKIAIOSFODNN7EXAMPLE", "not-a-secret");
    let run = cmd
        .args(["scan", "--cloudtrail-s3", "org-trail/logs", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("--cloudtrail-s3"), "{stderr}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
    hermetic(&mut cmd, "AKIAIOSFODNN7EXAMPLE", "not-a-secret");
    let run = cmd
        .args([
            "scan",
            "--cloudtrail-role",
            "arn:aws:iam::123456789012:role/R",
        ])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("--cloudtrail-s3"));
}
