//! AWS IAM credential reports read offline by `evaluate`, as AWS gives them: the CSV (the
//! console download, or the decoded `Content`) and `aws iam get-credential-report` JSON; one
//! file per account, several files, or a folder; account names from `aws organizations
//! list-accounts`. Fixtures in `tests/data/credential_reports/` are written from the IAM User
//! Guide's "Getting credential reports": the current root row (`password_enabled` true or
//! false, `password_last_changed` N/A) and the older one (`not_supported`), `no_information`
//! and `N/A` cells, `+00:00` and `Z` times.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{account, bin, read_json, root};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    root().join("tests/data/credential_reports").join(name)
}

/// Runs `evaluate` and returns (exit code, stderr, inventory JSON, findings JSON, out dir).
fn evaluate(args: &[&Path], extra: &[&str]) -> (i32, String, Value, Value, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.arg("evaluate")
        .args(args)
        .args(extra)
        .arg("--out")
        .arg(out.path());
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let find = |prefix: &str| {
        std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_string();
                n.starts_with(prefix) && n.ends_with(".json")
            })
            .unwrap_or_else(|| panic!("no {prefix}*.json: {stderr}"))
    };
    let code = o.status.code().unwrap();
    assert!(code == 0 || code == 1, "exit {code}: {stderr}");
    let inv = read_json(&find("inventory_"));
    let findings = read_json(&find("findings_"));
    (code, stderr, inv, findings, out)
}

fn ids(findings: &Value, rule: &str) -> Vec<String> {
    findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule_id"] == rule)
        .map(|f| {
            format!(
                "{}/{}/{}",
                f["account_id"].as_str().unwrap_or(""),
                f["username"].as_str().unwrap_or(""),
                f["access_key_id"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn a_folder_of_reports_with_the_accounts_list_is_one_organization() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["111111111111.csv", "222222222222.json"] {
        std::fs::copy(data(f), dir.path().join(f)).unwrap();
    }
    let (_, stderr, inv, findings, out) = evaluate(
        &[dir.path()],
        &[
            "--accounts-file",
            data("accounts.json").to_str().unwrap(),
            "--as-of",
            "2026-03-06 12:00:00",
        ],
    );
    assert_eq!(inv["source"]["kind"], "credential-report", "{stderr}");
    assert_eq!(inv["organization_id"], "o-exampleorg1");
    assert_eq!(inv["management_account_id"], "111111111111");
    // Names from the accounts list; the account without a report is said, the suspended one
    // skipped.
    assert_eq!(account(&inv, "111111111111")["name"], "Production");
    assert_eq!(account(&inv, "222222222222")["name"], "Development");
    let sandbox = account(&inv, "333333333333");
    assert_eq!(sandbox["collection"]["status"], "failed");
    assert!(sandbox["collection"]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("no input holds its data"));
    assert_eq!(inv["skipped"][0]["id"], "444444444444");
    assert_eq!(inv["skipped"][0]["reason"], "SUSPENDED");
    assert!(stderr.contains("333333333333 Sandbox"), "{stderr}");
    // What a report cannot say is listed as unavailable.
    let unavailable: Vec<&str> = inv["unavailable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in ["key.id", "user.id", "user.tags", "events", "account.tags"] {
        assert!(unavailable.contains(&f), "{f} not in {unavailable:?}");
    }
    for f in [
        "user.arn",
        "user.created",
        "account.root",
        "key.last_used_region",
    ] {
        assert!(!unavailable.contains(&f), "{f} in {unavailable:?}");
    }
    // Key ids: the slot, never an invented id.
    let ci = account(&inv, "111111111111")["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "ci-deploy")
        .unwrap()
        .clone();
    let keys: Vec<(&str, &str)> = ci["access_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["id"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        keys,
        [("access_key_1", "Active"), ("access_key_2", "Active")]
    );
    assert_eq!(
        ci["arn"],
        "arn:aws:iam::111111111111:user/automation/ci-deploy"
    );
    assert_eq!(ci["access_keys"][0]["last_used_region"], "us-east-1");
    assert_eq!(ci["access_keys"][0]["last_used_service"], "ec2");
    assert!(ci["access_keys"][1].get("last_used").is_none());
    assert!(ci["access_keys"][1].get("last_used_unknown").is_none());
    assert_eq!(ci["access_keys"][1]["created"], "2025-12-01T00:00:00Z");
    assert!(!serde_json::to_string(&inv).unwrap().contains("AKIA"));
    // A key never used and older than AWS's tracking of key use (April 2015): unknown, not
    // never used; a user created before sign-in tracking with `no_information`: unknown too.
    let veteran = account(&inv, "111111111111")["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "veteran")
        .unwrap()
        .clone();
    assert_eq!(veteran["access_keys"][0]["last_used_unknown"], true);
    assert_eq!(veteran["password"]["last_used_unknown"], true);
    assert_eq!(veteran["mfa_devices"][0]["type"], "unknown");
    // The rules run on it: the console user without MFA, the old key in use (by its slot).
    assert_eq!(
        ids(&findings, "console-without-mfa"),
        ["111111111111/alice/"]
    );
    assert!(ids(&findings, "old-key-in-use")
        .contains(&"111111111111/ci-deploy/access_key_1".to_string()));
    assert_eq!(
        ids(&findings, "two-active-keys"),
        ["111111111111/ci-deploy/"]
    );
    let report = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("iam_audit_report_"))
        .unwrap();
    let csv = std::fs::read_to_string(report).unwrap();
    assert!(
        csv.contains("111111111111,Production,ci-deploy,No configurada,Nunca,access_key_1,Active,2023-02-01 00:05:00,2026-03-05 08:30:00,ec2,None"),
        "{csv}"
    );
}

#[test]
fn root_rows_old_and_new_feed_the_root_report_and_rules() {
    let (_, _, inv, findings, out) = evaluate(
        &[&data("111111111111.csv"), &data("222222222222.json")],
        &[
            "--as-of",
            "2026-03-06 12:00:00",
            "--rules",
            "builtin:stock",
            "--rules",
            "builtin:cis-aws",
        ],
    );
    // The current root row: a password (true), no MFA, an access key used in January.
    let prod = &account(&inv, "111111111111")["root"];
    assert_eq!(prod["password_enabled"], true);
    assert_eq!(prod["mfa_enabled"], false);
    assert_eq!(prod["access_key_present"], true);
    assert_eq!(prod["access_key_last_used"], "2026-01-15T10:00:00Z");
    assert_eq!(prod["last_console_login"], "2026-02-20T17:45:02Z");
    // The older root row: `not_supported` password (unknown), MFA on, no key, never signed in.
    let dev = &account(&inv, "222222222222")["root"];
    assert!(dev.get("password_enabled").is_none(), "{dev}");
    assert_eq!(dev["mfa_enabled"], true);
    assert_eq!(dev["access_key_present"], false);
    assert!(dev.get("last_console_login").is_none());
    // No names without --accounts-file: the id.
    assert_eq!(account(&inv, "222222222222")["name"], "222222222222");
    let root_csv = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("root_audit_report_"))
        .unwrap();
    let root_csv = std::fs::read_to_string(root_csv).unwrap();
    assert!(
        root_csv.contains("111111111111,111111111111,False,True,2026-02-20"),
        "{root_csv}"
    );
    assert!(
        root_csv.contains("222222222222,222222222222,True,False,Nunca"),
        "{root_csv}"
    );
    // CIS root rules: Production's root has a key, used recently, and no MFA; Development's
    // root has MFA and no key.
    for rule in [
        "cis-root-access-key",
        "cis-root-key-recently-used",
        "cis-root-without-mfa",
    ] {
        assert_eq!(ids(&findings, rule), ["111111111111//"], "{rule}");
    }
}

#[test]
fn as_of_is_when_aws_generated_the_report() {
    // The JSON alone: GeneratedTime 2026-03-06T11:00:00Z (a `Z` time) is the run's instant.
    let (_, _, inv, _, out) = evaluate(&[&data("222222222222.json")], &[]);
    assert_eq!(inv["collected_at"], "2026-03-06T11:00:00Z");
    assert_eq!(
        account(&inv, "222222222222")["collection"]["credential_report_generated_at"],
        "2026-03-06T11:00:00Z"
    );
    assert!(out.path().join("findings_20260306_110000.json").exists());
    // The `Content` saved without decoding it (`--output text` without `| base64 -d`) is the
    // same report.
    let dir = tempfile::tempdir().unwrap();
    let json: Value =
        serde_json::from_slice(&std::fs::read(data("222222222222.json")).unwrap()).unwrap();
    let b64 = dir.path().join("content.txt");
    std::fs::write(&b64, format!("{}\n", json["Content"].as_str().unwrap())).unwrap();
    let (_, _, from_b64, _, _) = evaluate(&[&b64], &["--as-of", "2026-03-06 11:00:00"]);
    assert_eq!(
        from_b64["accounts"],
        inv["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let mut a = a.clone();
                a["collection"]
                    .as_object_mut()
                    .unwrap()
                    .remove("credential_report_generated_at");
                a
            })
            .collect::<Vec<_>>()
            .into_iter()
            .collect::<Value>()
    );
    // The CSV alone cannot say it: a warning, and --as-of makes it reproducible.
    let (_, stderr, _, _, out) = evaluate(&[&data("111111111111.csv")], &["--as-of", "2026-03-07"]);
    assert!(
        stderr.contains("does not say when AWS generated it"),
        "{stderr}"
    );
    assert!(out.path().join("findings_20260307_000000.json").exists());
}

#[test]
fn the_newest_of_two_reports_of_one_account_is_used_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // An older report of Development in which bob still had no key.
    let old = serde_json::json!({
        "Content": base64_of(&format!(
            "{HEADER}\n<root_account>,arn:aws:iam::222222222222:root,2021-07-01T00:00:00Z,not_supported,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        )),
        "ReportFormat": "text/csv",
        "GeneratedTime": "2026-01-01T00:00:00+00:00"
    });
    let old_path = dir.path().join("dev-january.json");
    std::fs::write(&old_path, old.to_string()).unwrap();
    for order in [
        [old_path.clone(), data("222222222222.json")],
        [data("222222222222.json"), old_path.clone()],
    ] {
        let (_, stderr, inv, _, _) = evaluate(&[&order[0], &order[1]], &["--as-of", "2026-03-06"]);
        let dev = account(&inv, "222222222222");
        assert_eq!(dev["users"][0]["name"], "bob", "{stderr}");
        assert_eq!(dev["root"]["mfa_enabled"], true);
        assert!(
            stderr.contains("two credential reports")
                && stderr.contains("222222222222.json, is used"),
            "{stderr}"
        );
    }
}

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

fn base64_of(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn refused(args: &[&str], expect: &[&str]) {
    let o = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "`{e}` not in {stderr}");
    }
}

#[test]
fn a_broken_report_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let csv = std::fs::read_to_string(data("111111111111.csv")).unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, csv.replace("2026-03-04T10:15:33+00:00", "yesterday")).unwrap();
    refused(
        &["evaluate", bad.to_str().unwrap()],
        &["bad.csv", "line 3", "password_last_used", "yesterday"],
    );
    // Rows of two accounts in one file.
    let two = dir.path().join("two.csv");
    std::fs::write(
        &two,
        csv.replace(
            "arn:aws:iam::111111111111:user/veteran",
            "arn:aws:iam::999999999999:user/veteran",
        ),
    )
    .unwrap();
    refused(
        &["evaluate", two.to_str().unwrap()],
        &["two.csv", "line 5", "999999999999", "one account"],
    );
    // Base64 that is not.
    let json = dir.path().join("broken.json");
    std::fs::write(&json, r#"{"Content": "%%%", "ReportFormat": "text/csv", "GeneratedTime": "2026-03-06T11:00:00Z"}"#).unwrap();
    refused(
        &["evaluate", json.to_str().unwrap()],
        &["broken.json", "base64"],
    );
    // A folder with a report and something else: the other file is skipped with a warning.
    std::fs::copy(data("111111111111.csv"), dir.path().join("ok.csv")).unwrap();
    let only = tempfile::tempdir().unwrap();
    std::fs::copy(data("111111111111.csv"), only.path().join("ok.csv")).unwrap();
    std::fs::write(only.path().join("notes.txt"), "hello").unwrap();
    let (_, stderr, inv, _, _) = evaluate(&[only.path()], &["--as-of", "2026-03-06"]);
    assert!(stderr.contains("notes.txt: skipped"), "{stderr}");
    assert_eq!(inv["accounts"].as_array().unwrap().len(), 1);
}

#[test]
fn cloudtrail_files_add_events_to_credential_reports() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir
        .path()
        .join("111111111111_CloudTrail_us-east-1_20260305T1200Z_abc.json");
    std::fs::write(
        &log,
        r#"{"Records":[{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111111111111:user/mallory","accountId":"111111111111","userName":"mallory"},"eventTime":"2026-03-05T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"DeactivateMFADevice","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.15.0","requestParameters":{"userName":"alice","serialNumber":"arn:aws:iam::111111111111:mfa/alice"},"responseElements":null,"eventID":"ev-1","eventType":"AwsApiCall","recipientAccountId":"111111111111"},
{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/mallory","accountId":"111111111111","userName":"mallory"},"eventTime":"2026-03-05T10:05:00Z","eventSource":"iam.amazonaws.com","eventName":"DeactivateMFADevice","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","errorCode":"AccessDenied","errorMessage":"not authorized","requestParameters":null,"responseElements":null,"eventID":"ev-2","recipientAccountId":"111111111111"},
{"eventVersion":"1.09","eventTime":"2026-03-05T10:06:00Z","eventName":"GetObject","eventID":"ev-3","recipientAccountId":"111111111111"}]}"#,
    )
    .unwrap();
    let (_, stderr, inv, findings, _) = evaluate(
        &[&data("111111111111.csv")],
        &["--events", log.to_str().unwrap(), "--as-of", "2026-03-06"],
    );
    let unavailable = inv["unavailable"].to_string();
    assert!(
        !unavailable.contains("\"events\"") && !unavailable.contains("event.details"),
        "{unavailable}"
    );
    let events = inv["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{stderr}");
    assert_eq!(events[0]["account_name"], "111111111111");
    assert_eq!(events[1]["error_code"], "AccessDenied");
    // The successful deactivation is a red flag; the denied one is not.
    let flagged = ids(&findings, "mfa-deactivated");
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(
        inv["notes"]
            .to_string()
            .contains("3 records, 2 events kept"),
        "{}",
        inv["notes"]
    );
}
