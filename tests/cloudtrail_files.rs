//! CloudTrail files as `evaluate --events` reads them (`iam_audit::input::cloudtrail`): log
//! files, an organization trail's gzip tree, lookup-events output (AWS CLI v2 and v1), JSON
//! Lines, and damaged input. The fixtures in `tests/data/cloudtrail/` are written from AWS's
//! documented record formats (CloudTrail record contents, the userIdentity element, the IAM
//! and sign-in event examples, the lookup-events output); trees and gzip files are built from
//! them in a temporary folder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use iam_audit::input::cloudtrail::{
    account_of_path, files_of, read_file, read_paths, read_stream, Keep,
};
use iam_audit::inventory::time::format_stock;
use iam_audit::inventory::Event;

const A: &str = "111111111111";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/cloudtrail")
        .join(name)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn put(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// An event as the tests compare it: name, time, actor, account, resources, error code,
/// sign-in outcome.
type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn row(e: &Event) -> Row {
    (
        e.name.clone(),
        format_stock(&e.time),
        e.actor.clone(),
        e.account_id.clone(),
        e.resources.join(", "),
        e.error_code.clone(),
        e.login_outcome.clone(),
    )
}

fn r(
    name: &str,
    time: &str,
    actor: &str,
    account: &str,
    resources: &str,
    error: Option<&str>,
    outcome: Option<&str>,
) -> Row {
    (
        name.into(),
        time.into(),
        actor.into(),
        account.into(),
        resources.into(),
        error.map(Into::into),
        outcome.map(Into::into),
    )
}

/// The events of `records.json`, in file order.
fn records_json_rows() -> Vec<Row> {
    let denied = Some("AccessDenied");
    vec![
        r(
            "CreateUser",
            "2026-03-05 10:00:00",
            "alice",
            A,
            "bob",
            None,
            None,
        ),
        r(
            "CreateAccessKey",
            "2026-03-05 10:05:00",
            "deployer-session",
            A,
            "AKIAEXAMPLEBOB000001, bob",
            None,
            None,
        ),
        // No userName in the request: the caller's own key, the response names the user.
        r(
            "CreateAccessKey",
            "2026-03-05 10:10:00",
            "carol",
            A,
            "AKIAEXAMPLECAROL0001, carol",
            None,
            None,
        ),
        r(
            "CreateAccessKey",
            "2026-03-05 10:15:00",
            "mallory",
            A,
            "alice",
            denied,
            None,
        ),
        r(
            "DeleteAccessKey",
            "2026-03-05 10:20:00",
            "root",
            A,
            "AKIAEXAMPLEBOB000001, bob",
            None,
            None,
        ),
        r(
            "DeleteLoginProfile",
            "2026-03-05 10:25:00",
            "alice",
            A,
            "bob",
            None,
            None,
        ),
        r(
            "DeactivateMFADevice",
            "2026-03-05 10:30:00",
            "alice",
            A,
            "dave, arn:aws:iam::111111111111:mfa/dave",
            None,
            None,
        ),
        r(
            "DeactivateMFADevice",
            "2026-03-05 10:35:00",
            "mallory",
            A,
            "alice, arn:aws:iam::111111111111:mfa/alice",
            denied,
            None,
        ),
        r(
            "DeleteUser",
            "2026-03-05 10:40:00",
            "deployer-session",
            A,
            "bob",
            None,
            None,
        ),
        r(
            "ConsoleLogin",
            "2026-03-05 10:45:00",
            "root",
            A,
            "",
            None,
            Some("Success"),
        ),
        r(
            "ConsoleLogin",
            "2026-03-05 10:50:00",
            "root",
            A,
            "",
            None,
            Some("Failure"),
        ),
        r(
            "ConsoleLogin",
            "2026-03-05 10:55:00",
            "alice",
            A,
            "",
            None,
            Some("Success"),
        ),
    ]
}

fn older_row() -> Row {
    // eventVersion 1.01: no recipientAccountId; the caller's account (333333333333) is not the
    // account the file belongs to.
    r(
        "CreateAccessKey",
        "2015-08-01 02:05:13",
        "ops",
        "222222222222",
        "AKIAEXAMPLELEGACY001, legacy-batch",
        None,
        None,
    )
}

#[test]
fn a_log_file_gives_each_kept_event_with_what_cloudtrail_recorded() {
    let read = read_file(
        &data("records.json"),
        "records.json",
        &Keep::default_events(),
    );
    assert_eq!(
        read.records, 14,
        "12 kept events, an AssumeRole and a GetObject"
    );
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    let rows: Vec<Row> = read.events.iter().map(|(_, e)| row(e)).collect();
    assert_eq!(rows, records_json_rows());
    let ids: Vec<&str> = read
        .events
        .iter()
        .map(|(id, _)| id.as_deref().unwrap())
        .collect();
    assert_eq!(ids[0], "0c0a0e9d-0000-4000-8000-000000000001");
    // The details: a denied call, a failed sign-in, MFA, the actor's type and ARN.
    let e = |i: usize| &read.events[i].1;
    assert!(e(3).failed());
    assert!(e(3)
        .error_message
        .as_deref()
        .unwrap()
        .contains("is not authorized to perform: iam:CreateAccessKey"));
    assert!(!e(0).failed());
    assert_eq!(e(0).actor_type.as_deref(), Some("IAMUser"));
    assert_eq!(e(1).actor_type.as_deref(), Some("AssumedRole"));
    assert_eq!(
        e(1).actor_arn.as_deref(),
        Some("arn:aws:sts::111111111111:assumed-role/Deployer/deployer-session")
    );
    assert_eq!(e(4).actor_type.as_deref(), Some("Root"));
    assert!(
        e(10).failed(),
        "a failed sign-in has no errorCode but fails"
    );
    assert_eq!(e(10).error_code, None);
    assert_eq!(
        e(10).error_message.as_deref(),
        Some("Failed authentication")
    );
    assert_eq!(e(9).mfa_used, Some(true));
    assert_eq!(e(10).mfa_used, Some(false));
    assert_eq!(e(9).source_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(e(9).region.as_deref(), Some("us-east-1"));
    assert_eq!(
        read.bytes,
        std::fs::metadata(data("records.json")).unwrap().len()
    );
}

#[test]
fn only_the_configured_event_names_are_kept() {
    let keep = Keep::names(["ConsoleLogin", "AssumeRole"]);
    let read = read_file(&data("records.json"), "records.json", &keep);
    let names: Vec<&str> = read.events.iter().map(|(_, e)| e.name.as_str()).collect();
    assert_eq!(
        names,
        ["AssumeRole", "ConsoleLogin", "ConsoleLogin", "ConsoleLogin"]
    );
    // A service acts under its own name.
    assert_eq!(read.events[0].1.actor, "ec2.amazonaws.com");
    assert_eq!(read.events[0].1.actor_type.as_deref(), Some("AWSService"));
}

#[test]
fn an_older_record_without_recipient_account_takes_the_account_of_its_file() {
    let name = "222222222222_CloudTrail_us-east-1_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json";
    let path = data(name);
    assert_eq!(account_of_path(&path).as_deref(), Some("222222222222"));
    let read = read_file(&path, name, &Keep::default_events());
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    let rows: Vec<Row> = read.events.iter().map(|(_, e)| row(e)).collect();
    assert_eq!(rows, [older_row()]);
    // Without a file that names its account, the caller's account is the last resort.
    let bytes = std::fs::read(&path).unwrap();
    let read = read_stream(&bytes[..], "stdin", None, &Keep::default_events());
    assert_eq!(read.events[0].1.account_id, "333333333333");
}

/// An organization trail's tree (gzip), its digests beside it, and an account's own trail
/// holding one record the organization trail also has.
fn org_tree(dir: &Path) -> (PathBuf, PathBuf) {
    let org = dir.join("org-bucket/AWSLogs/o-abc123");
    let records = std::fs::read(data("records.json")).unwrap();
    put(
        &org.join(format!(
            "{A}/CloudTrail/us-east-1/2026/03/05/{A}_CloudTrail_us-east-1_20260305T1000Z_x.json.gz"
        )),
        &gzip(&records),
    );
    let old = "222222222222_CloudTrail_us-east-1_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json";
    put(
        &org.join(format!(
            "222222222222/CloudTrail/us-east-1/2015/08/01/{old}.gz"
        )),
        &gzip(&std::fs::read(data(old)).unwrap()),
    );
    // Digest files are JSON too, but hold no events: never read.
    put(
        &org.join(format!(
            "{A}/CloudTrail-Digest/us-east-1/2026/03/05/{A}_CloudTrail-Digest_us-east-1_org_us-east-1_20260305T110000Z.json.gz"
        )),
        &gzip(br#"{"awsAccountId":"111111111111","digestStartTime":"2026-03-05T10:00:00Z","digestEndTime":"2026-03-05T11:00:00Z","digestS3Bucket":"org-bucket","logFiles":[]}"#),
    );
    // The account's own trail, delivered to another bucket, has the first record again.
    let value: serde_json::Value = serde_json::from_slice(&records).unwrap();
    let first = serde_json::json!({ "Records": [value["Records"][0].clone()] });
    let account = dir.join("account-bucket");
    put(
        &account.join(format!(
            "AWSLogs/{A}/CloudTrail/us-east-1/2026/03/05/{A}_CloudTrail_us-east-1_20260305T1005Z_y.json.gz"
        )),
        &gzip(first.to_string().as_bytes()),
    );
    (dir.join("org-bucket"), account)
}

#[test]
fn an_organization_trail_tree_is_read_whole_digests_left_out_duplicates_kept_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (org, account) = org_tree(tmp.path());
    let files = files_of(&[org.clone(), account.clone()]).unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files
        .iter()
        .all(|f| !f.to_string_lossy().contains("Digest")));
    let read = read_paths(&[org, account], &Keep::default_events(), false).unwrap();
    assert!(read.skipped.is_empty(), "{:?}", read.skipped);
    assert_eq!(read.files, 3);
    assert_eq!(read.records, 16);
    assert_eq!(read.duplicates, 1);
    // Files in path order: 111… of the organization, 222… of the organization, the account's.
    let mut want = records_json_rows();
    want.push(older_row());
    let rows: Vec<Row> = read.events.iter().map(row).collect();
    assert_eq!(rows, want);
    let decompressed = 2 * std::fs::metadata(data("records.json")).unwrap().len();
    assert!(read.bytes > decompressed / 2 && read.bytes < decompressed);
    let summary = read.summary();
    assert!(
        summary.starts_with(
            "CloudTrail files: 3 read, 16 records, 13 events kept, 1 records seen twice"
        ),
        "{summary}"
    );
    assert!(!summary.contains("skipped"), "{summary}");
}

#[test]
fn lookup_events_output_of_the_cli_v2_and_v1() {
    let keep = Keep::default_events();
    let want = vec![
        r(
            "CreateAccessKey",
            "2026-03-05 12:00:00",
            "erin",
            "444444444444",
            "AKIAEXAMPLEFRANK001, frank",
            None,
            None,
        ),
        // No user name in the request and none in the LookupEvents resources: the caller's
        // own (root's) password.
        r(
            "DeleteLoginProfile",
            "2026-03-05 12:30:00",
            "root",
            "444444444444",
            "root",
            None,
            None,
        ),
    ];
    for name in ["lookup-events.json", "lookup-events-cli-v1.json"] {
        let read = read_file(&data(name), name, &keep);
        assert!(read.skipped.is_empty(), "{name}: {:?}", read.skipped);
        let rows: Vec<Row> = read.events.iter().map(|(_, e)| row(e)).collect();
        assert_eq!(rows, want, "{name}");
        assert_eq!(
            read.events[0].0.as_deref(),
            Some("0c0a0e9d-0000-4000-8000-000000000301")
        );
        assert_eq!(read.events[1].1.actor_type.as_deref(), Some("Root"));
    }
    assert_eq!(
        read_file(&data("lookup-events.json"), "x", &keep).records,
        3
    );
}

#[test]
fn json_lines_skip_a_bad_line_with_its_number_and_keep_the_others() {
    let read = read_file(
        &data("records.jsonl"),
        "records.jsonl",
        &Keep::default_events(),
    );
    assert_eq!(read.records, 5);
    let rows: Vec<Row> = read.events.iter().map(|(_, e)| row(e)).collect();
    let all = records_json_rows();
    assert_eq!(rows, [all[0].clone(), all[8].clone(), all[11].clone()]);
    let skipped: Vec<(u64, bool)> = read
        .skipped
        .iter()
        .map(|s| (s.record, s.file == "records.jsonl"))
        .collect();
    assert_eq!(skipped, [(2, true), (4, true)]);
    assert!(read.skipped[0].reason.contains("not a CloudTrail record"));
    assert!(read.skipped[1].reason.contains("no eventName"));
    assert_eq!(read.skipped_total, 2);
}

#[test]
fn json_lines_gzip_and_crlf_and_a_line_of_bad_utf8() {
    let text = std::fs::read_to_string(data("records.jsonl")).unwrap();
    let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
    lines[3] = b"{\"eventName\":\"CreateUser\",\"x\":\"\xff\xfe\"}".to_vec();
    let body = lines.join(&b"\r\n"[..]);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("export.jsonl.gz");
    std::fs::write(&path, gzip(&body)).unwrap();
    let read = read_paths(&[path], &Keep::default_events(), false).unwrap();
    assert_eq!(read.events.len(), 3);
    let lines: Vec<u64> = read.skipped.iter().map(|s| s.record).collect();
    assert_eq!(lines, [2, 4]);
    assert_eq!(
        read.summary()
            .matches("2 skipped as unreadable in 1 file(s)")
            .count(),
        1
    );
}

#[test]
fn a_truncated_gzip_file_keeps_the_records_before_the_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("records.json")).unwrap()).unwrap();
    let recs = value["Records"].as_array().unwrap();
    // Two gzip members, as a file written in two flushes: the second one cut short.
    let head = format!("{{\"Records\":[{},{},", recs[0], recs[1]);
    let tail = format!("{},{}]}}", recs[2], recs[4]);
    let mut bytes = gzip(head.as_bytes());
    let second = gzip(tail.as_bytes());
    bytes.extend_from_slice(&second[..second.len() / 2]);
    let path = tmp.path().join(format!(
        "{A}_CloudTrail_us-east-1_20260305T1000Z_cut.json.gz"
    ));
    std::fs::write(&path, bytes).unwrap();
    let read = read_paths(&[path], &Keep::default_events(), false).unwrap();
    let all = records_json_rows();
    let rows: Vec<Row> = read.events.iter().map(row).collect();
    assert!(
        rows.len() >= 2 && rows.len() < 4,
        "{rows:?} {:?}",
        read.skipped
    );
    assert_eq!(rows[..2], all[..2]);
    assert_eq!(read.skipped.len(), 1, "{:?}", read.skipped);
    let s = &read.skipped[0];
    assert_eq!(s.record, read.records + 1);
    assert!(s.reason.contains("damaged or truncated gzip"), "{s}");
    assert!(s.reason.contains("the records before it are kept"), "{s}");
    assert!(read
        .summary()
        .contains("1 skipped as unreadable in 1 file(s)"));
}

#[test]
fn a_record_without_event_name_is_skipped_and_the_file_read_on() {
    let body = br#"{"Records":[
        {"eventVersion":"1.09","eventTime":"2026-03-05T10:00:00Z","eventSource":"iam.amazonaws.com","recipientAccountId":"111111111111"},
        {"eventVersion":"1.09","eventTime":"2026-03-05T10:00:00Z","eventName":"DeleteUser","requestParameters":{"userName":"bob"},"recipientAccountId":"111111111111","userIdentity":{"type":"Root","arn":"arn:aws:iam::111111111111:root"}},
        {"eventName": 12},
        {"eventVersion":"1.09","eventTime":"not a time","eventName":"DeleteUser","recipientAccountId":"111111111111"},
        {"eventVersion":"1.07","eventType":"AwsCloudTrailInsight","eventTime":"2026-03-05T10:00:00Z","insightDetails":{"state":"Start","eventSource":"iam.amazonaws.com","eventName":"DeleteUser"}},
        {"eventVersion":"1.09","eventTime":"2026-03-05T11:00:00Z","eventName":"CreateUser","requestParameters":{"userName":"eve"},"recipientAccountId":"111111111111","userIdentity":{"type":"IAMUser","userName":"alice"}}
    ]}"#;
    let read = read_stream(&body[..], "inline.json", None, &Keep::default_events());
    assert_eq!(read.records, 6);
    let names: Vec<(&str, &str)> = read
        .events
        .iter()
        .map(|(_, e)| (e.name.as_str(), e.resources[0].as_str()))
        .collect();
    assert_eq!(names, [("DeleteUser", "bob"), ("CreateUser", "eve")]);
    let skipped: Vec<(u64, &str)> = read
        .skipped
        .iter()
        .map(|s| (s.record, s.reason.as_str()))
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(skipped[0], (1, "not a CloudTrail record: no eventName"));
    assert_eq!(skipped[1].0, 3);
    assert_eq!(skipped[2], (4, "eventTime `not a time` is not a time"));
}

#[test]
fn records_one_after_the_other_and_arrays_of_records_are_read_too() {
    // What `jq '.Records[]'` prints (pretty records one after the other), and a JSON array.
    let value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data("records.json")).unwrap()).unwrap();
    let recs = value["Records"].as_array().unwrap();
    let pretty: String = recs
        .iter()
        .map(|r| serde_json::to_string_pretty(r).unwrap() + "\n")
        .collect();
    let array = serde_json::to_string(&recs).unwrap();
    for (what, body) in [("pretty", pretty), ("array", array)] {
        let read = read_stream(body.as_bytes(), what, None, &Keep::default_events());
        assert!(read.skipped.is_empty(), "{what}: {:?}", read.skipped);
        assert_eq!(read.records, 14, "{what}");
        let rows: Vec<Row> = read.events.iter().map(|(_, e)| row(e)).collect();
        assert_eq!(rows, records_json_rows(), "{what}");
    }
}

#[test]
fn a_missing_path_is_an_error_and_a_folder_without_logs_reads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let err = read_paths(&[tmp.path().join("nope")], &Keep::default_events(), false).unwrap_err();
    assert!(err.message.contains("no such file or folder"), "{err:?}");
    put(&tmp.path().join("notes.txt"), b"hello");
    let read = read_paths(&[tmp.path().to_path_buf()], &Keep::default_events(), false).unwrap();
    assert_eq!((read.files, read.records, read.events.len()), (0, 0, 0));
}

/// The command a user runs: `evaluate` with an organization trail's tree, an account trail and
/// a damaged file as `--events` (repeatable) beside the stock report.
#[test]
fn evaluate_reads_the_trees_as_events_and_says_what_it_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let (org, account) = org_tree(tmp.path());
    // A truncated .json.gz among the account trail's files.
    let records = std::fs::read(data("records.json")).unwrap();
    let gz = gzip(&records);
    put(
        &account.join(format!(
            "AWSLogs/{A}/CloudTrail/us-east-1/2026/03/06/{A}_CloudTrail_us-east-1_20260306T0000Z_z.json.gz"
        )),
        &gz[..gz.len() / 2],
    );
    let out = tmp.path().join("out");
    let o = common::bin()
        .args(["evaluate", common::EXAMPLE_CSV, "--events"])
        .arg(&org)
        .arg("--events")
        .arg(&account)
        .args([
            "--as-of",
            "2026-03-06 12:00:00",
            "--format",
            "json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    let inv = common::read_json(&out.join("inventory_20260306_120000.json"));
    let unavailable = inv["unavailable"].to_string();
    assert!(
        !unavailable.contains("\"events\"") && !unavailable.contains("event.details"),
        "{unavailable}"
    );
    let events = inv["events"].as_array().unwrap();
    // The tree's 13 kept events, and those of the damaged file before the damage, once each.
    assert!(events.len() >= 13, "{}", events.len());
    assert!(events.iter().any(|e| e["error_code"] == "AccessDenied"));
    // Accounts the stock report names carry its name.
    assert!(events
        .iter()
        .filter(|e| e["account_id"] == A)
        .all(|e| !e["account_name"].as_str().unwrap().is_empty()));
    assert!(stderr.contains("skipped: "), "{stderr}");
    assert!(stderr.contains("_z.json.gz"), "{stderr}");
    assert!(stderr.contains("skipped as unreadable"), "{stderr}");
    let notes = inv["notes"].to_string();
    assert!(notes.contains("CloudTrail files: 4 read"), "{notes}");
}
