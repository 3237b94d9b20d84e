//! Files a security team already holds, given where `evaluate` does not read them: each gets
//! a message naming what it is and what would use it (exit 2), never a bare parse error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, root, EXAMPLE_CSV, EXAMPLE_EVENTS, EXAMPLE_JSON};

/// An IAM credential report as AWS writes it (header of the IAM User Guide's "Getting
/// credential reports"; the root row of an account without root credentials).
const CREDENTIAL_REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111111111111:root,2019-05-02T09:00:00+00:00,false,no_information,not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
alice,arn:aws:iam::111111111111:user/alice,2024-01-10T08:00:00+00:00,true,2026-03-01T10:00:00+00:00,2024-01-10T08:00:00+00:00,N/A,true,true,2024-01-10T08:05:00+00:00,2026-03-05T12:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

/// A CloudTrail log file as delivered to S3 (CloudTrail record contents reference).
const CLOUDTRAIL_LOG: &str = r#"{"Records":[{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/alice","accountId":"111111111111","userName":"alice"},"eventTime":"2026-03-05T12:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","requestParameters":{"userName":"alice"},"responseElements":null,"eventID":"e1","eventType":"AwsApiCall","recipientAccountId":"111111111111"}]}"#;

fn refused(args: &[&str], expect: &[&str]) {
    let out = bin().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "{args:?}: `{e}` not in:\n{stderr}");
    }
    assert!(!stderr.contains("wrong header"), "{args:?}: {stderr}");
}

#[test]
fn files_given_where_they_are_not_read_are_named_with_what_would_use_them() {
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("status_reports_2026-03-06.csv");
    std::fs::write(&report, CREDENTIAL_REPORT).unwrap();
    let report_json = tmp.path().join("report.json");
    std::fs::write(
        &report_json,
        r#"{"Content": "dXNlcixhcm4K", "ReportFormat": "text/csv", "GeneratedTime": "2026-03-06T12:00:00+00:00"}"#,
    )
    .unwrap();
    let log = tmp
        .path()
        .join("111111111111_CloudTrail_us-east-1_20260305T1200Z_abc.json");
    std::fs::write(&log, CLOUDTRAIL_LOG).unwrap();
    let s = |p: &std::path::Path| p.display().to_string();
    let (report, report_json, log) = (s(&report), s(&report_json), s(&log));
    let events = root().join(EXAMPLE_EVENTS).display().to_string();

    // Credential reports and CloudTrail files are read where they belong, and named where
    // they do not.
    refused(
        &["evaluate", EXAMPLE_CSV, "--events", &report],
        &[
            "status_reports_2026-03-06.csv",
            "an AWS IAM credential report (CSV)",
            "pass it as the input",
        ],
    );
    refused(
        &["evaluate", EXAMPLE_CSV, "--root", &report_json],
        &["`aws iam get-credential-report`", "pass it as the input"],
    );
    refused(
        &["evaluate", &log],
        &["a CloudTrail log file", "not credentials", "--events"],
    );
    refused(
        &["evaluate", &report, &log],
        &["a CloudTrail log file", "not credentials", "--events"],
    );
    let accounts = root()
        .join("tests/data/credential_reports/accounts.json")
        .display()
        .to_string();
    refused(
        &["evaluate", &accounts],
        &["`aws organizations list-accounts`", "--accounts-file"],
    );
    refused(
        &["evaluate", EXAMPLE_CSV, "--events", &accounts],
        &["`aws organizations list-accounts`", "--accounts-file"],
    );
    refused(
        &["evaluate", &events],
        &["a stock events CSV", "pass it as `--events`"],
    );
    refused(
        &["evaluate", EXAMPLE_CSV, "--events", EXAMPLE_CSV],
        &["a stock report CSV", "pass it as the input"],
    );
    refused(
        &["evaluate", EXAMPLE_CSV, "--root", &events],
        &["a stock events CSV", "--events"],
    );
    // A file of no known kind keeps the reader's located error.
    let odd = tmp.path().join("odd.csv");
    std::fs::write(&odd, "a,b,c\n1,2,3\n").unwrap();
    let out = bin().args(["evaluate", &s(&odd)]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong header"));
    // What it reads is still read.
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--format",
            "json",
            "--quiet",
            "--out",
        ])
        .arg(tmp.path().join("out"))
        .assert()
        .code(1);
}

#[test]
fn a_findings_json_as_the_input_points_to_diff_and_baseline() {
    let tmp = tempfile::tempdir().unwrap();
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--format",
            "json",
            "--quiet",
            "--out",
        ])
        .arg(tmp.path())
        .assert()
        .code(1);
    let findings = tmp.path().join("findings_20260306_120000.json");
    refused(
        &["evaluate", &findings.display().to_string()],
        &["an iam-audit findings JSON", "iam-audit diff", "--baseline"],
    );
}

#[test]
fn evaluate_help_lists_every_accepted_format_with_how_to_obtain_it() {
    let out = bin().args(["evaluate", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "inventory_<stamp>.json",
        "iam_audit_report_<stamp>.csv",
        "aws iam get-credential-report --query Content --output text | base64 -d",
        "aws iam get-credential-report > ",
        "cloudtrail_events_<stamp>.csv",
        "aws s3 sync s3://",
        "aws cloudtrail lookup-events",
        "JSON Lines",
        "aws organizations list-accounts",
    ] {
        assert!(
            help.contains(needle),
            "`{needle}` not in evaluate --help:\n{help}"
        );
    }
    // Every kind the detector knows that evaluate reads somewhere is in the list.
    let short = bin().args(["evaluate", "-h"]).output().unwrap();
    assert!(String::from_utf8_lossy(&short.stdout).contains("with the AWS CLI: --help"));
}
