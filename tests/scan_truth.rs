//! `iam-audit scan` where AWS differs from a naive emulator: a credential report served from
//! AWS's 4-hour cache, failed calls in CloudTrail, member accounts without root credentials,
//! and a scan run from a delegated administrator's account. The harness (`tests/moto/`)
//! behaves as AWS documents it; the real binary runs with the real AWS SDK on loopback only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use chrono::{Duration, SecondsFormat, Utc};
use common::{account, ago, hermetic, read, Moto};
use serde_json::{json, Value};

fn at(d: Duration) -> String {
    (Utc::now() - d).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Runs the scan with these keys; returns (exit code, stderr).
fn scan(moto: &Moto, key: &str, secret: &str, out: &Path, extra: &[&str]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
    hermetic(&mut cmd, key, secret);
    cmd.args(moto.scan_args(out)).args(extra);
    let run = cmd.output().unwrap();
    (
        run.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&run.stderr).into_owned(),
    )
}

/// Scans with the seeded management credentials into a new folder, which it returns; the
/// scan must end with exit 0 or 1 (it ran, findings or not).
fn scan_as_management(moto: &Moto, seeded: &Value, extra: &[&str]) -> tempfile::TempDir {
    let c = &seeded["credentials"];
    let out = tempfile::tempdir().unwrap();
    let (code, stderr) = scan(
        moto,
        c["access_key_id"].as_str().unwrap(),
        c["secret_access_key"].as_str().unwrap(),
        out.path(),
        extra,
    );
    assert!(code == 0 || code == 1, "{stderr}");
    out
}

fn json_out(dir: &Path, prefix: &str) -> Value {
    serde_json::from_str(&read(dir, prefix)).unwrap()
}

fn user<'a>(acct: &'a Value, name: &str) -> &'a Value {
    acct["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no user {name} in {}", acct["id"]))
}

fn fired(f: &Value, rule: &str, account: &str) -> Vec<Value> {
    f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule_id"] == rule && x["account_id"] == account)
        .cloned()
        .collect()
}

#[test]
fn a_key_created_after_a_cached_credential_report_is_never_missed() {
    let moto = Moto::start();
    let spec = json!({
        "accounts": [{"id": "111111111111", "name": "Dev", "users": [
            {"name": "bob", "created": ago(100)},
            {"name": "carol", "created": ago(100), "password": {"last_used": ago(1), "last_changed": ago(50)}}
        ]}]
    });
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&spec));
    // AWS generated the account's report three hours ago: for an hour more it answers
    // GenerateCredentialReport with COMPLETE and serves that report unchanged.
    let generated = at(Duration::hours(3));
    let report = moto.call(
        "POST",
        "/iam-audit/report",
        Some(&json!({"account": "111111111111", "action": "generate", "generated": generated})),
    );
    assert_eq!(report["generated"], json!(generated));
    // Since then: a key for bob (the seed's red flag), MFA for carol.
    let change = moto.call(
        "POST",
        "/iam-audit/change",
        Some(&json!({"account": "111111111111", "user": "bob",
                     "create_access_key": {"status": "Active", "created": at(Duration::hours(2))}})),
    );
    let new_key = change["access_key_id"].as_str().unwrap().to_string();
    moto.call(
        "POST",
        "/iam-audit/change",
        Some(&json!({"account": "111111111111", "user": "carol", "enable_mfa": "virtual"})),
    );

    let out = scan_as_management(&moto, &seeded, &[]);

    // The report AWS served is still the cached one ...
    let status = moto.call(
        "POST",
        "/iam-audit/report",
        Some(&json!({"account": "111111111111", "action": "status"})),
    );
    assert_eq!(status["generated"], json!(generated), "{status}");
    // ... and the key created after it is in the inventory, the account complete.
    let inv = json_out(out.path(), "inventory_");
    let dev = account(&inv, "111111111111");
    assert_eq!(dev["collection"]["status"], "complete", "{dev}");
    let bob = user(dev, "bob");
    assert_eq!(bob["access_keys"][0]["id"], json!(new_key), "{bob}");
    assert_eq!(bob["access_keys"][0]["status"], "Active");
    let carol = user(dev, "carol");
    assert_eq!(carol["mfa_devices"][0]["type"], "virtual", "{carol}");
    assert!(
        dev["collection"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("before the scan")),
        "{dev}"
    );
    let report_csv = read(out.path(), "iam_audit_report_");
    assert!(report_csv.contains(&format!(",bob,No configurada,Nunca,{new_key},Active,")));
    // The seed's red flag fires on it; carol's MFA enabled since the report is seen.
    let f = json_out(out.path(), "findings_");
    let flagged = fired(&f, "new-key-unrecognized-user", "111111111111");
    assert_eq!(flagged.len(), 1, "{f}");
    assert_eq!(flagged[0]["access_key_id"], json!(new_key));
    assert!(fired(&f, "console-without-mfa", "111111111111").is_empty());
}

#[test]
fn failed_calls_are_kept_but_never_counted_and_a_root_without_credentials_is_not_flagged() {
    let moto = Moto::start();
    let recent = |h: i64| at(Duration::hours(h));
    let spec = json!({
        "accounts": [{"id": "111111111111", "name": "Dev",
            "users": [{"name": "alice", "created": ago(100), "mfa": "hardware",
                       "password": {"last_used": ago(1), "last_changed": ago(10)}}],
            // Centralized root access deleted this member's root credentials.
            "root": {"password": false, "mfa": "none"},
            "events": [
                {"name": "DeactivateMFADevice", "time": recent(5), "user": "alice", "actor": "mallory",
                 "error_code": "AccessDenied", "source_ip": "203.0.113.9"},
                {"name": "ConsoleLogin", "time": recent(4), "actor": {"type": "Root"}, "outcome": "Failure"},
                {"name": "CreateUser", "time": recent(3), "user": "alice"}
            ]},
          {"id": "222222222222", "name": "Legacy",
            // An old-style report: whether root has a password is unknown.
            "root": {"mfa": "none"},
            "events": [
                {"name": "DeactivateMFADevice", "time": recent(2), "user": "dave"},
                {"name": "ConsoleLogin", "time": recent(1), "actor": {"type": "Root"}}
            ],
            "users": [{"name": "dave", "created": ago(100)}]}
        ]
    });
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&spec));
    let out = scan_as_management(
        &moto,
        &seeded,
        &["--rules", "builtin:stock", "--rules", "builtin:cis-aws"],
    );

    let f = json_out(out.path(), "findings_");
    // A denied DeactivateMFADevice is not an MFA removal; a successful one is.
    assert!(
        fired(&f, "mfa-deactivated", "111111111111").is_empty(),
        "{f}"
    );
    assert_eq!(fired(&f, "mfa-deactivated", "222222222222").len(), 1);
    // No root credentials at all: no root MFA finding; unknown password: the finding stays.
    assert!(fired(&f, "cis-root-without-mfa", "111111111111").is_empty());
    assert_eq!(fired(&f, "cis-root-without-mfa", "222222222222").len(), 1);

    // The stock events CSV lists successful calls only.
    let events = read(out.path(), "cloudtrail_events_");
    let dev_rows: Vec<&str> = events
        .lines()
        .filter(|l| l.contains(",111111111111,"))
        .collect();
    assert_eq!(dev_rows.len(), 1, "{events}");
    assert!(dev_rows[0].contains(",CreateUser,"), "{events}");
    assert!(events.contains(",DeactivateMFADevice,") && events.contains(",222222222222,"));

    // The inventory keeps the failed calls with what CloudTrail said of them.
    let inv = json_out(out.path(), "inventory_");
    let denied = inv["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "DeactivateMFADevice" && e["account_id"] == "111111111111")
        .expect("the failed call is kept");
    assert_eq!(denied["error_code"], "AccessDenied", "{denied}");
    assert_eq!(denied["source_ip"], "203.0.113.9");
    let failed_login = inv["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ConsoleLogin" && e["account_id"] == "111111111111")
        .expect("the failed sign-in is kept");
    assert_eq!(failed_login["login_outcome"], "Failure");
    assert_eq!(failed_login["actor_type"], "Root");

    // Root: no password (false), unknown (absent); the failed sign-in is not a last login,
    // the successful one is.
    let dev_root = &account(&inv, "111111111111")["root"];
    assert_eq!(dev_root["password_enabled"], json!(false), "{dev_root}");
    assert!(dev_root.get("last_console_login").is_none(), "{dev_root}");
    let legacy_root = &account(&inv, "222222222222")["root"];
    assert!(
        legacy_root.get("password_enabled").is_none(),
        "{legacy_root}"
    );
    assert!(
        legacy_root["last_console_login"].is_string(),
        "{legacy_root}"
    );
    let root_csv = read(out.path(), "root_audit_report_");
    assert!(
        root_csv.contains("111111111111,Dev,False,False,Nunca"),
        "{root_csv}"
    );
}

#[test]
fn a_delegated_administrator_reads_its_own_account_itself_and_the_management_account_through_the_role(
) {
    let moto = Moto::start();
    let spec = json!({
        "delegated_admin": "222222222222",
        "root_features": ["RootCredentialsManagement"],
        "management": {"id": "123456789012", "name": "management", "audit_role": "ok",
                       "users": [{"name": "mgmt-admin", "created": ago(100)}]},
        "accounts": [
            {"id": "111111111111", "name": "Workload", "users": [{"name": "app", "created": ago(100)}],
             // A member that still holds a root password under centralized root credentials management.
             "root": {"password": true, "mfa": "hardware"}},
            {"id": "222222222222", "name": "Security", "users": [{"name": "sec-analyst", "created": ago(100)}]}
        ]
    });
    moto.call("POST", "/iam-audit/seed", Some(&spec));
    let principal = moto.call(
        "POST",
        "/iam-audit/principal",
        Some(&json!({
            "account": "222222222222",
            "name": "iam-audit-scanner",
            "policy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        })),
    );
    let c = &principal["credentials"];
    let out = tempfile::tempdir().unwrap();
    moto.call("POST", "/iam-audit/reset", Some(&json!({})));
    let (code, stderr) = scan(
        &moto,
        c["access_key_id"].as_str().unwrap(),
        c["secret_access_key"].as_str().unwrap(),
        out.path(),
        &["--rules", "builtin:cis-aws"],
    );
    assert!(code == 0 || code == 1, "{stderr}");

    let inv = json_out(out.path(), "inventory_");
    assert_eq!(
        inv["caller"]["account_id"], "222222222222",
        "{}",
        inv["caller"]
    );
    assert_eq!(inv["caller"]["partition"], "aws");
    assert_eq!(inv["management_account_id"], "123456789012");
    let security = account(&inv, "222222222222");
    assert_eq!(security["collection"]["access"], "caller");
    user(security, "sec-analyst");
    let management = account(&inv, "123456789012");
    assert_eq!(management["collection"]["access"], "assume-role");
    assert_eq!(
        management["collection"]["status"], "complete",
        "{management}"
    );
    user(management, "mgmt-admin");
    assert!(
        management["users"]
            .as_array()
            .unwrap()
            .iter()
            .all(|u| u["name"] != "sec-analyst"),
        "the caller's users are not filed under the management account"
    );
    assert_eq!(
        inv["root_access"],
        json!({"root_credentials_management": true, "root_sessions": false})
    );

    // Calls: AssumeRole into the management account, never into the caller's own.
    let calls = moto.call("GET", "/iam-audit/calls?log=1", None);
    let assumed: Vec<String> = calls["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["op"] == "sts:AssumeRole")
        .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        assumed
            .iter()
            .any(|d| d.contains("arn:aws:iam::123456789012:role/")),
        "{assumed:?}"
    );
    assert!(
        !assumed
            .iter()
            .any(|d| d.contains("arn:aws:iam::222222222222:role/")),
        "{assumed:?}"
    );

    // The member that keeps a root password under centralized management is flagged; the
    // Organization has it enabled, so the management account is not.
    let f = json_out(out.path(), "findings_");
    assert_eq!(
        fired(
            &f,
            "root-credentials-in-centrally-managed-member",
            "111111111111"
        )
        .len(),
        1,
        "{f}"
    );
    assert!(fired(
        &f,
        "org-root-credentials-management-disabled",
        "123456789012"
    )
    .is_empty());
}

#[test]
fn an_organization_without_centralized_root_access_is_flagged_once() {
    let moto = Moto::start();
    let spec = json!({
        "root_features": null,
        "accounts": [{"id": "111111111111", "name": "Workload"}]
    });
    let seeded = moto.call("POST", "/iam-audit/seed", Some(&spec));
    let out = scan_as_management(&moto, &seeded, &["--rules", "builtin:cis-aws"]);
    let inv = json_out(out.path(), "inventory_");
    // Trusted access for IAM is off: centralized root access cannot be on.
    assert_eq!(
        inv["root_access"],
        json!({"root_credentials_management": false, "root_sessions": false})
    );
    let f = json_out(out.path(), "findings_");
    let all: Vec<&Value> = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["rule_id"] == "org-root-credentials-management-disabled")
        .collect();
    assert_eq!(all.len(), 1, "{f}");
    assert_eq!(all[0]["account_id"], "123456789012");
}
