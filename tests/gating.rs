//! CI gating as a team wires it: waivers with expiry, baselines, `--new-only`, `diff`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

mod common;

use common::{bin, root, EXAMPLE_CONFIG, EXAMPLE_JSON, STAMP};

/// Evaluates `input` into `out` with `extra` flags; returns (exit code, stderr).
fn evaluate(input: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let o = bin()
        .arg("evaluate")
        .arg(input)
        .args(["--config", EXAMPLE_CONFIG, "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

fn findings(out: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(out.join(format!("findings_{STAMP}.json"))).unwrap())
        .unwrap()
}

fn find<'a>(f: &'a Value, rule: &str, user: &str) -> &'a Value {
    f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["rule_id"] == rule && x["username"] == user)
        .unwrap_or_else(|| panic!("no {rule} finding for {user}"))
}

/// The example organization a week of work later: admin-user enrolled MFA and changed the
/// password (two findings resolved, one info finding new) and a new user got a long-lived
/// key that is in use (a new high finding).
fn next_week(dir: &Path) -> PathBuf {
    let mut inv: Value =
        serde_json::from_slice(&std::fs::read(root().join(EXAMPLE_JSON)).unwrap()).unwrap();
    for account in inv["accounts"].as_array_mut().unwrap() {
        if account["id"] == "987654321098" {
            let admin = account["users"]
                .as_array_mut()
                .unwrap()
                .iter_mut()
                .find(|u| u["name"] == "admin-user")
                .unwrap();
            admin["mfa_devices"] =
                json!([{"serial": "arn:aws:iam::987654321098:mfa/admin", "type": "virtual"}]);
            admin["password"]["last_changed"] = json!("2026-03-01T00:00:00Z");
        }
        if account["id"] == "111111111111" {
            account["users"].as_array_mut().unwrap().push(json!({
                "name": "batch-user", "created": "2024-01-01T00:00:00Z",
                "password": {"enabled": false},
                "access_keys": [{"id": "AKIABATCHUSEREXAMPLE", "status": "Active",
                    "created": "2024-01-02T00:00:00Z", "last_used": "2026-03-05T00:00:00Z",
                    "last_used_service": "s3", "last_used_region": "us-east-1"}]
            }));
        }
    }
    let path = dir.join(format!("inventory_{STAMP}.json"));
    std::fs::write(&path, serde_json::to_vec_pretty(&inv).unwrap()).unwrap();
    path
}

#[test]
fn waived_findings_show_as_waived_and_do_not_gate() {
    let out = tempfile::tempdir().unwrap();
    let waivers = out.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: console-without-mfa\n    account: \"987654321098\"\n    user: admin-user\n    reason: MFA token on order\n    owner: it@example.com\n    expires: 2026-04-30\n    ticket: IT-7\n  - rule: mfa-deactivated\n    account: \"987654321098\"\n    reason: investigated, was the token swap\n    owner: sec@example.com\n    expires: 2026-03-06\n",
    )
    .unwrap();
    // Without waivers the two critical findings gate.
    let (code, _) = evaluate(Path::new(EXAMPLE_JSON), out.path(), &[]);
    assert_eq!(code, 1);
    let (code, err) = evaluate(
        Path::new(EXAMPLE_JSON),
        out.path(),
        &["--waivers", waivers.to_str().unwrap()],
    );
    // Nothing critical is open any more; the unaudited account makes it 3.
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("Waived: 2 finding(s)"), "{err}");
    // Expires on the day of as_of: applies through the day, and is warned about.
    assert!(
        err.contains("waivers.yaml:9: the waiver of `mfa-deactivated` expires on 2026-03-06"),
        "{err}"
    );
    let f = findings(out.path());
    let w = find(&f, "console-without-mfa", "admin-user");
    assert_eq!(w["status"], "waived");
    assert_eq!(w["waiver"]["reason"], "MFA token on order");
    assert_eq!(w["waiver"]["ticket"], "IT-7");
    assert_eq!(w["waiver"]["at"], format!("{}:2", waivers.display()));
    assert_eq!(f["waivers"]["waived_findings"], 2);
    assert_eq!(f["summary"]["gating_findings"], 0);
    // The remediation list keeps the task, marked waived with its waiver.
    let csv = std::fs::read_to_string(out.path().join(format!("remediation_{STAMP}.csv"))).unwrap();
    assert!(csv.starts_with("priority,severity,due_date,account_id,account_name,username,access_key_id,rule_id,action,status,waiver\n"));
    let row = csv
        .lines()
        .find(|l| l.contains(",console-without-mfa,"))
        .unwrap();
    assert!(
        row.ends_with(",waived,until 2026-04-30 by it@example.com: MFA token on order"),
        "{row}"
    );
    let open = csv
        .lines()
        .find(|l| l.contains(",old-key-in-use,"))
        .unwrap();
    assert!(open.ends_with(",open,"), "{open}");
}

#[test]
fn expired_and_stale_waivers_are_reported_and_stop_applying() {
    let out = tempfile::tempdir().unwrap();
    let waivers = out.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: console-without-mfa\n    user: admin-user\n    reason: r\n    owner: o\n    expires: 2026-03-05\n  - rule: old-key-in-use\n    key: AKIANOSUCHKEYEXAMPLE\n    reason: r\n    owner: o\n    expires: 2027-01-01\n",
    )
    .unwrap();
    let (code, err) = evaluate(
        Path::new(EXAMPLE_JSON),
        out.path(),
        &["--waivers", waivers.to_str().unwrap()],
    );
    assert_eq!(code, 1, "an expired waiver covers nothing: {err}");
    assert!(
        err.contains("waivers.yaml:2: the waiver of `console-without-mfa` expired on 2026-03-05: it no longer applies"),
        "{err}"
    );
    assert!(
        err.contains(
            "waivers.yaml:7: the waiver of `old-key-in-use` matches no finding (stale: remove it)"
        ),
        "{err}"
    );
    let f = findings(out.path());
    assert_eq!(
        find(&f, "console-without-mfa", "admin-user")["status"],
        "open"
    );
    assert_eq!(f["waivers"]["expired"][0]["rule"], "console-without-mfa");
    assert_eq!(f["waivers"]["stale"][0]["key"], "AKIANOSUCHKEYEXAMPLE");
    assert_eq!(f["waivers"]["waived_findings"], 0);
}

#[test]
fn a_malformed_waivers_file_is_an_error_naming_the_line() {
    let out = tempfile::tempdir().unwrap();
    let waivers = out.path().join("waivers.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: old-key-in-use\n    user: x\n    reason: r\n    owner: o\n    expires: next week\n",
    )
    .unwrap();
    let (code, err) = evaluate(
        Path::new(EXAMPLE_JSON),
        out.path(),
        &["--waivers", waivers.to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:6:", waivers.display())), "{err}");
    assert!(
        !out.path().join(format!("findings_{STAMP}.json")).exists(),
        "nothing is written on a bad waivers file"
    );
}

#[test]
fn a_baseline_marks_new_and_unchanged_and_new_only_gates_on_new_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (old_out, new_out) = (dir.path().join("old"), dir.path().join("new"));
    let (code, _) = evaluate(Path::new(EXAMPLE_JSON), &old_out, &[]);
    assert_eq!(code, 1);
    let baseline = old_out.join(format!("findings_{STAMP}.json"));
    let input = next_week(dir.path());
    let args = [
        "--baseline",
        baseline.to_str().unwrap(),
        "--fail-on",
        "high",
        "--new-only",
    ];
    let (code, err) = evaluate(&input, &new_out, &args);
    // One new high finding (batch-user's old key in use): the gate trips on it alone.
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("1 new finding(s) at or above high (--fail-on high --new-only)"),
        "{err}"
    );
    assert!(err.contains(" 2 new, 29 unchanged, 2 resolved"), "{err}");
    let f = findings(&new_out);
    assert_eq!(f["new_only"], true);
    assert_eq!(find(&f, "old-key-in-use", "batch-user")["change"], "new");
    assert_eq!(
        find(&f, "old-key-in-use", "deploy-user")["change"],
        "unchanged"
    );
    let resolved: Vec<&str> = f["baseline"]["resolved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(resolved, ["console-without-mfa", "production-mfa-gap"]);
    assert_eq!(f["baseline"]["new"], 2);
    assert_eq!(find(&f, "console-with-mfa", "admin-user")["change"], "new");
    // The same run against itself as baseline: nothing new, so only the incomplete
    // inventory is left to report (exit 3), though high findings are open.
    let again = dir.path().join("again");
    let own = new_out.join(format!("findings_{STAMP}.json"));
    let (code, err) = evaluate(
        &input,
        &again,
        &[
            "--baseline",
            own.to_str().unwrap(),
            "--fail-on",
            "high",
            "--new-only",
        ],
    );
    assert_eq!(code, 3, "{err}");
    // Without --new-only the same findings gate.
    let (code, _) = evaluate(
        &input,
        &again,
        &["--baseline", own.to_str().unwrap(), "--fail-on", "high"],
    );
    assert_eq!(code, 1);
    // --new-only needs a baseline; a baseline that is not a findings file is named.
    let (code, err) = evaluate(&input, &again, &["--new-only"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = evaluate(&input, &again, &["--baseline", EXAMPLE_JSON]);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("{EXAMPLE_JSON}: not an iam-audit findings JSON")),
        "{err}"
    );
}

#[test]
fn diff_lists_new_resolved_unchanged_and_metric_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (old_out, new_out) = (dir.path().join("old"), dir.path().join("new"));
    evaluate(Path::new(EXAMPLE_JSON), &old_out, &[]);
    evaluate(&next_week(dir.path()), &new_out, &[]);
    let old = old_out.join(format!("findings_{STAMP}.json"));
    let new = new_out.join(format!("findings_{STAMP}.json"));
    let o = bin().arg("diff").arg(&old).arg(&new).output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let table = String::from_utf8(o.stdout).unwrap();
    assert!(
        table.contains("Findings: 2 new, 2 resolved, 29 unchanged"),
        "{table}"
    );
    assert!(
        table.contains("\nNEW\n  high      old-key-in-use                    111111111111 batch-user AKIABATCHUSEREXAMPLE\n"),
        "{table}"
    );
    assert!(
        table.contains("\nRESOLVED\n  critical  console-without-mfa"),
        "{table}"
    );
    let line = table
        .lines()
        .find(|l| l.contains("987654321098 Production") && l.contains("mfa_coverage_pct"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.ends_with("50       100       +50"), "{line}");
    let o = bin()
        .arg("diff")
        .arg(&old)
        .arg(&new)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let d: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        d["counts"],
        json!({"new": 2, "resolved": 2, "unchanged": 29})
    );
    let keys = d["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["scope"] == "organization" && m["metric"] == "active_key_age.365+")
        .unwrap();
    assert_eq!(
        (keys["old"].as_f64(), keys["new"].as_f64()),
        (Some(6.0), Some(7.0))
    );
    assert_eq!(keys["change"].as_f64(), Some(1.0));
    // A file that is not a findings JSON is an error naming it.
    let o = bin()
        .arg("diff")
        .arg(&old)
        .arg(EXAMPLE_JSON)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// The remediation list reads in priority order: by severity, then due date; with the default
/// SLAs (critical 1, high 30, medium 60, low 90 days) a less severe task is never due earlier.
#[test]
fn remediation_list_is_in_severity_then_due_order() {
    let tmp = tempfile::tempdir().unwrap();
    common::bin()
        .args([
            "evaluate",
            common::EXAMPLE_JSON,
            "--format",
            "csv",
            "--quiet",
            "--out",
        ])
        .arg(tmp.path())
        .assert()
        .code(1);
    let csv = std::fs::read_to_string(tmp.path().join("remediation_20260306_120000.csv")).unwrap();
    let rank = |s: &str| match s {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        other => panic!("severity {other}"),
    };
    let mut last = (0, String::new());
    let mut seen = std::collections::BTreeSet::new();
    for line in csv.lines().skip(1) {
        let cells: Vec<&str> = line.splitn(4, ',').collect();
        if !line.contains(",open,") {
            continue;
        }
        let now = (rank(cells[1]), cells[2].to_string());
        assert!(now >= last, "{line} listed after {last:?}");
        let want = match cells[1] {
            "critical" => "2026-03-07",
            "high" => "2026-04-05",
            "medium" => "2026-05-05",
            _ => "2026-06-04",
        };
        assert_eq!(cells[2], want, "{line}");
        seen.insert(cells[1].to_string());
        last = now;
    }
    assert!(seen.contains("high") && seen.contains("medium"), "{seen:?}");
}
