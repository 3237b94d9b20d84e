//! The binary as a user runs it: exit codes, outputs, determinism, errors naming the input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

mod common;

use common::{
    bin, read_json, root, EXAMPLE_CONFIG, EXAMPLE_CSV, EXAMPLE_CSV_INPUT, EXAMPLE_EVENTS,
    EXAMPLE_JSON, EXAMPLE_ROOT,
};

const STOCK_RULES: [&str; 22] = [
    "console-without-mfa",
    "old-key-in-use",
    "unused-active-key",
    "aging-key-in-use",
    "console-old-password",
    "inactive-key-not-deleted",
    "service-account-console-access",
    "uniform-key-ages",
    "shared-credentials",
    "zombie-user",
    "new-key-unrecognized-user",
    "unexpected-service",
    "mfa-deactivated",
    "two-active-keys",
    "production-mfa-gap",
    "account-not-audited",
    "fresh-key-in-use",
    "console-with-mfa",
    "inactive-key-scheduled-deletion",
    "service-account-without-console",
    "key-created-by-other",
    "offboarding-keys-left-active",
];

/// Stock rules the examples keep quiet on purpose: the seed's only offboarding (old-contractor)
/// deleted the key a minute before removing console access, then deleted the user.
const QUIET_ON_EXAMPLES: [&str; 1] = ["offboarding-keys-left-active"];

#[test]
fn example_inventory_fires_every_stock_rule_and_gates_on_critical() {
    let out = tempfile::tempdir().unwrap();
    let assert = bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--config",
            EXAMPLE_CONFIG,
            "--out",
        ])
        .arg(out.path())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("Gate: 2 finding(s) at or above critical"),
        "{stderr}"
    );
    assert!(
        assert.get_output().stdout.is_empty(),
        "stdout carries nothing unrequested"
    );
    let findings = read_json(&out.path().join("findings_20260306_120000.json"));
    assert_eq!(findings["schema_version"], 1);
    assert_eq!(findings["as_of"], "2026-03-06T12:00:00Z");
    let fired: std::collections::BTreeSet<&str> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    for rule in STOCK_RULES {
        assert_eq!(
            fired.contains(rule),
            !QUIET_ON_EXAMPLES.contains(&rule),
            "{rule} on the example"
        );
    }
    // The seed's worked examples produce the findings the seed describes.
    let has = |rule: &str, user: &str| {
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule_id"] == rule && f["username"] == user)
    };
    assert!(has("console-without-mfa", "admin-user"));
    assert!(has("old-key-in-use", "service-account"));
    assert!(has("unused-active-key", "test-user"));
    assert!(has("uniform-key-ages", "deploy-user"));
    assert!(has("shared-credentials", "shared-dev"));
    assert!(has("zombie-user", "john.smith"));
    // The seed's new hire got its key from admin-user.
    assert!(has("key-created-by-other", "new-hire"));
    assert_eq!(findings["accounts"]["incomplete"][0]["id"], "666666666666");
    assert_eq!(
        findings["params"]["unexpected-service"]["expected_services"][0],
        "s3"
    );
    for name in [
        "iam_audit_report_20260306_120000.csv",
        "cloudtrail_events_20260306_120000.csv",
        "root_audit_report_20260306_120000.csv",
        "remediation_20260306_120000.csv",
        "inventory_20260306_120000.json",
    ] {
        assert!(out.path().join(name).is_file(), "{name} not written");
    }
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .filter_map(std::result::Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn outputs_are_byte_identical_across_runs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for dir in [&a, &b] {
        bin()
            .args([
                "evaluate",
                EXAMPLE_JSON,
                "--config",
                EXAMPLE_CONFIG,
                "--quiet",
                "--out",
            ])
            .arg(dir.path())
            .assert()
            .code(1);
    }
    let mut names: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    // Every format by default: the stock CSVs, remediation, JSON, SARIF, HTML and Markdown.
    for part in [
        "iam_audit_report_",
        "remediation_",
        "findings_",
        "inventory_",
        "report_",
    ] {
        assert!(
            names.iter().any(|n| n.to_string_lossy().starts_with(part)),
            "{part}: {names:?}"
        );
    }
    for ext in [".csv", ".json", ".sarif", ".html", ".md"] {
        assert!(
            names.iter().any(|n| n.to_string_lossy().ends_with(ext)),
            "{ext}: {names:?}"
        );
    }
    for n in names {
        let x = std::fs::read(a.path().join(&n)).unwrap();
        let y = std::fs::read(b.path().join(&n)).unwrap();
        assert!(x == y, "{n:?} differs between runs");
    }
}

#[test]
fn fail_on_levels_map_to_exit_codes() {
    let out = tempfile::tempdir().unwrap();
    let run = |fail_on: &str| {
        bin()
            .args([
                "evaluate",
                EXAMPLE_JSON,
                "--config",
                EXAMPLE_CONFIG,
                "--quiet",
                "--fail-on",
                fail_on,
                "--out",
            ])
            .arg(out.path())
            .assert()
    };
    run("critical").code(1);
    run("high").code(1);
    // Nothing gates, but one account was not audited: 3.
    run("none").code(3);
    run("severe").code(2).stderr(predicates::str::contains(
        "expected critical, high, medium, low or none",
    ));
}

fn write_inventory(dir: &Path, failed: bool) -> PathBuf {
    let collection = if failed {
        r#"{"status": "partial", "errors": [{"source": "cloudtrail", "message": "AccessDenied: cloudtrail:LookupEvents"}]}"#
    } else {
        r#"{"status": "complete"}"#
    };
    let text = format!(
        r#"{{"schema_version": 1, "source": {{"kind": "scan"}}, "accounts": [
            {{"id": "111111111111", "name": "Dev", "collection": {collection}, "users": [
              {{"name": "bob", "password": {{"enabled": true, "last_used": "2026-03-01T00:00:00Z"}},
               "mfa_devices": [{{"type": "virtual"}}]}}]}}], "events": []}}"#
    );
    let path = dir.join("inventory_20260306_120000.json");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn exit_0_when_clean_and_3_when_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let clean = write_inventory(dir.path(), false);
    let out = dir.path().join("out");
    bin()
        .args(["evaluate", "--quiet", "--out"])
        .arg(&out)
        .arg(&clean)
        .assert()
        .code(0);
    let partial = write_inventory(dir.path(), true);
    bin()
        .args(["evaluate", "--out"])
        .arg(&out)
        .arg(&partial)
        .assert()
        .code(3)
        .stderr(predicates::str::contains("cloudtrail: AccessDenied"));
    // account-not-audited is high: with --fail-on high the gate wins.
    bin()
        .args(["evaluate", "--quiet", "--fail-on", "high", "--out"])
        .arg(&out)
        .arg(&partial)
        .assert()
        .code(1);
}

#[test]
fn input_errors_exit_2_and_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("inventory_20260306_120000.json");
    std::fs::write(&bad, "{\"schema_version\": 1,\n \"accounts\": [oops]}").unwrap();
    bin()
        .arg("evaluate")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "inventory_20260306_120000.json:2:",
        ));
    std::fs::write(&bad, "{\"schema_version\": 9}").unwrap();
    bin()
        .arg("evaluate")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("schema_version 9"));
    bin()
        .args(["evaluate", "does-not-exist.csv"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does-not-exist.csv"));
    bin()
        .args(["evaluate", EXAMPLE_JSON, "--param", "recent_dayz=3"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("recent_dayz"));
    bin()
        .args(["evaluate", EXAMPLE_JSON, "--as-of", "yesterday"])
        .assert()
        .code(2);
    bin()
        .args(["evaluate", EXAMPLE_JSON, "--format", "xml"])
        .assert()
        .code(2);
    bin().args(["bogus"]).assert().code(2);
}

/// A pack folder `mine` with one rule file `<id>.yaml` holding `rule` as written.
fn one_rule_pack(id: &str, rule: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pack.yaml"),
        format!("pack: mine\ntitle: t\nrules: [{id}]\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join(format!("{id}.yaml")), rule).unwrap();
    dir
}

#[test]
fn broken_pack_exits_2_naming_file_and_line() {
    let dir = one_rule_pack(
        "bad-rule",
        "id: bad-rule\ntitle: T\nseverity: high\nscope: user\ncondition: |\n  user.name ==\nmessage: m\ndescription: d\nremediation: r\n",
    );
    bin()
        .args(["evaluate", EXAMPLE_JSON, "--rules"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("bad-rule.yaml:6:"));
    std::fs::write(
        dir.path().join("bad-rule.yaml"),
        "id: bad-rule\nseverity: severe\n",
    )
    .unwrap();
    bin()
        .args(["evaluate", EXAMPLE_JSON, "--rules"])
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(predicates::str::contains("bad-rule.yaml:2:"));
}

#[test]
fn a_rule_error_at_run_time_exits_2_but_writes_everything_else() {
    let dir = one_rule_pack(
        "breaks",
        "id: breaks\ntitle: T\nseverity: low\nscope: user\ncondition: |\n  let a = []; a[3] == 1\nmessage: m\ndescription: d\nremediation: r\n",
    );
    let out = dir.path().join("out");
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--rules",
            "builtin:stock",
            "--rules",
        ])
        .arg(dir.path())
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("Rule errors:"));
    let findings = read_json(&out.join("findings_20260306_120000.json"));
    assert!(findings["summary"]["rule_errors"][0]["rule_id"] == "breaks");
    // Placed in the rule's file, at the failing index (`3`, line 6, column 17).
    let message = findings["summary"]["rule_errors"][0]["message"]
        .as_str()
        .unwrap();
    let file = dir.path().join("breaks.yaml");
    assert!(
        message.starts_with(&format!(
            "{}:6:17: Array index 3 out of bounds",
            file.display()
        )),
        "{message}"
    );
    assert!(findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule_id"] == "console-without-mfa"));
}

#[test]
fn as_of_comes_from_the_flag_then_the_file_name() {
    let out = tempfile::tempdir().unwrap();
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--quiet",
            "--fail-on",
            "none",
            "--as-of",
            "2027-01-01",
            "--format",
            "json",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .code(3);
    let f = read_json(&out.path().join("findings_20270101_000000.json"));
    assert_eq!(f["as_of"], "2027-01-01T00:00:00Z");
    // A year later admin-user's password is no longer "recent": no critical finding.
    assert!(!f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["rule_id"] == "console-without-mfa"));
}

#[test]
fn an_input_is_never_overwritten_by_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("inventory_20260306_120000.json");
    std::fs::copy(root().join(EXAMPLE_JSON), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    bin()
        .args(["evaluate", "--format", "json", "--out"])
        .arg(dir.path())
        .arg(&input)
        .assert()
        .code(1)
        .stderr(predicates::str::contains(
            "Not overwritten (it is an input)",
        ));
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn example_csvs_are_what_the_writer_makes_of_the_example_inventory() {
    let out = tempfile::tempdir().unwrap();
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--quiet",
            "--fail-on",
            "none",
            "--format",
            "csv",
            "--out",
        ])
        .arg(out.path())
        .assert()
        .code(3);
    for f in [EXAMPLE_CSV, EXAMPLE_EVENTS, EXAMPLE_ROOT] {
        let name = Path::new(f).file_name().unwrap();
        assert_eq!(
            std::fs::read(out.path().join(name)).unwrap(),
            std::fs::read(root().join(f)).unwrap(),
            "{f} is not what the writer produces from the example inventory"
        );
    }
}

#[test]
fn example_csvs_fire_every_rule_they_can_and_list_the_rest() {
    let out = tempfile::tempdir().unwrap();
    let assert = bin()
        .arg("evaluate")
        .args(EXAMPLE_CSV_INPUT)
        .args(["--config", EXAMPLE_CONFIG, "--out"])
        .arg(out.path())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("inactive-key-not-deleted: 2 record(s); needs user.tags"),
        "{stderr}"
    );
    let csv = read_json(&out.path().join("findings_20260306_120000.json"));
    let fired: std::collections::BTreeSet<&str> = csv["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule_id"].as_str().unwrap())
        .collect();
    let not_evaluable: std::collections::BTreeSet<&str> = csv["summary"]["not_evaluable"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["rule_id"].as_str().unwrap())
        .collect();
    // A stock CSV has no collection status, password change dates or tags.
    let blind = [
        "account-not-audited",
        "console-old-password",
        "inactive-key-not-deleted",
        "inactive-key-scheduled-deletion",
    ];
    for rule in STOCK_RULES {
        if blind.contains(&rule) {
            assert!(
                !fired.contains(rule) && not_evaluable.contains(rule),
                "{rule}"
            );
        } else if QUIET_ON_EXAMPLES.contains(&rule) {
            assert!(
                !fired.contains(rule) && !not_evaluable.contains(rule),
                "{rule}"
            );
        } else {
            assert!(
                fired.contains(rule),
                "{rule} did not fire on the example CSV"
            );
        }
    }
    // The same finding has the same id whether it came from the CSV or the inventory.
    let json_out = tempfile::tempdir().unwrap();
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--config",
            EXAMPLE_CONFIG,
            "--quiet",
            "--format",
            "json",
            "--out",
        ])
        .arg(json_out.path())
        .assert()
        .code(1);
    let full = read_json(&json_out.path().join("findings_20260306_120000.json"));
    let ids = |v: &serde_json::Value| -> std::collections::BTreeSet<String> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (csv_ids, full_ids) = (ids(&csv), ids(&full));
    assert!(csv_ids.len() > 20);
    assert!(
        csv_ids.is_subset(&full_ids),
        "CSV findings missing from the inventory run: {:?}",
        csv_ids.difference(&full_ids).collect::<Vec<_>>()
    );
}

#[test]
fn a_malformed_csv_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam_audit_report_20260306_120000.csv");
    let mut text = std::fs::read_to_string(root().join(EXAMPLE_CSV)).unwrap();
    text = text.replacen("2018-06-22 11:30:00", "2018-06-31 11:30:00", 1);
    std::fs::write(&path, text).unwrap();
    bin()
        .arg("evaluate")
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "iam_audit_report_20260306_120000.csv:3:8",
        ));
}

#[test]
fn scan_without_credentials_says_how_to_get_some() {
    bin()
        .args(["scan", "--quiet", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no AWS credentials"))
        .stderr(predicates::str::contains("iam-audit evaluate examples/"));
}

#[test]
fn the_stock_csv_hint_is_for_fields_the_whole_input_lacks() {
    let out = tempfile::tempdir().unwrap();
    // The stock pack on the CSVs: user tags and the rest are missing from the input.
    let stock = bin()
        .arg("evaluate")
        .args(EXAMPLE_CSV_INPUT)
        .args(["--fail-on", "none", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(stock.stderr).unwrap();
    assert!(
        stderr.contains("A stock CSV lacks these fields"),
        "{stderr}"
    );
    // A rule missing only the root MFA kind of some accounts (a per-record gap): no hint.
    let dir = one_rule_pack(
        "root-hw",
        "id: root-hw\ntitle: T\nseverity: high\nscope: account\ncondition: \"!account.root_hardware_mfa\"\nmessage: m\ndescription: d\nremediation: r\n",
    );
    let root_only = bin()
        .arg("evaluate")
        .args(EXAMPLE_CSV_INPUT)
        .args(["--fail-on", "none", "--rules"])
        .arg(dir.path())
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(root_only.stderr).unwrap();
    assert!(
        stderr.contains("root-hw: ") && stderr.contains("needs account.root_hardware_mfa"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("A stock CSV lacks these fields"),
        "{stderr}"
    );
}

#[test]
fn a_hostile_config_file_is_refused_quickly_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.yaml");
    // A billion laughs inside `params` (a field that takes any value).
    let mut text = String::from("params:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = (b'a' + i - 1) as char;
        let cur = (b'a' + i) as char;
        text.push_str(&format!(
            "  {cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
    }
    std::fs::write(&bomb, text).unwrap();
    let started = std::time::Instant::now();
    let out = bin()
        .args(["evaluate", EXAMPLE_JSON, "--config"])
        .arg(&bomb)
        .output()
        .unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&bomb.display().to_string()), "{stderr}");
    assert!(stderr.contains("alias"), "{stderr}");
    let big = dir.path().join("big.yaml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
    let out = bin()
        .args(["evaluate", EXAMPLE_JSON, "--config"])
        .arg(&big)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("bytes; at most 1048576 are accepted"),
        "{stderr}"
    );
}
