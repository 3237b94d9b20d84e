//! The CloudTrail cross-reference (seed Workflow 1 step 4): a finding whose key, console access
//! or user an event removed after the inventory saw it is reported `remediated`, with the
//! event, in every output, and does not gate; SARIF leaves it out (the next run confirms it).
//! The seed's own example: the report still lists `old-contractor` and the key
//! `AKIAIOSFODNN7EXAMPLE`, the events show the key deleted, the console access removed and
//! the user deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{bin, read, read_json};
use serde_json::Value;

const DATA: &str = "tests/data/remediated";

/// `evaluate` of the fixture report with `events` (paths under `DATA`); returns the exit code
/// and stderr.
fn evaluate(events: &[&str], out: &Path) -> (Option<i32>, String) {
    let mut c = bin();
    c.arg("evaluate").arg(format!("{DATA}/report.csv"));
    for e in events {
        c.arg("--events").arg(format!("{DATA}/{e}"));
    }
    let o = c
        .args(["--as-of", "2026-03-06 12:00:00", "--out"])
        .arg(out)
        .output()
        .unwrap();
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into())
}

/// The findings of `user` as (rule, status, remediated_by event name or "").
fn of_user(findings: &Value, user: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = findings["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["username"] == user && f["severity"] != "info")
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["remediated_by"]["event"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_seeds_offboarding_remediates_what_the_report_still_lists() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = evaluate(&["events.csv", "cloudtrail.json"], dir.path());
    assert_eq!(code, Some(1), "alice and carol still gate: {stderr}");
    let f = read_json(&dir.path().join("findings_20260306_120000.json"));

    // Everything about old-contractor was fixed after the report: the key by its deletion
    // (10:30), the console findings by the login profile's removal (10:31, before the user's
    // deletion the next day).
    let old = of_user(&f, "old-contractor");
    assert!(!old.is_empty());
    for (rule, status, by) in &old {
        assert_eq!(status, "remediated", "{rule}");
        let expected = if rule.contains("key") || rule == "unused-active-key" {
            "DeleteAccessKey"
        } else {
            "DeleteLoginProfile"
        };
        assert_eq!(by, expected, "{rule}");
    }
    assert!(old.iter().any(|(r, _, _)| r == "console-without-mfa"));
    let cwm = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["username"] == "old-contractor" && x["rule_id"] == "console-without-mfa")
        .unwrap();
    assert_eq!(
        cwm["remediated_by"],
        serde_json::json!({"time": "2026-03-01T10:31:00Z", "event": "DeleteLoginProfile", "actor": "security-team"})
    );

    // alice deactivated her key (CloudTrail log file: UpdateAccessKey to Inactive): the key's
    // findings are remediated; her MFA device was not enabled (the call failed).
    let alice = of_user(&f, "alice");
    assert!(alice.contains(&("console-without-mfa".into(), "open".into(), String::new())));
    let alice_key: Vec<_> = alice
        .iter()
        .filter(|(r, _, _)| r != "console-without-mfa")
        .collect();
    assert!(!alice_key.is_empty());
    for (rule, status, by) in alice_key {
        assert_eq!(
            (status.as_str(), by.as_str()),
            ("remediated", "UpdateAccessKey"),
            "{rule}"
        );
    }
    let alice_fix = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["username"] == "alice" && x["status"] == "remediated")
        .unwrap();
    assert_eq!(alice_fix["remediated_by"]["actor"], "alice");
    assert_eq!(alice_fix["remediated_by"]["actor_type"], "IAMUser");
    assert_eq!(alice_fix["remediated_by"]["source_ip"], "198.51.100.7");

    // bob's key was set Active again (not a fix); carol's console access came back.
    assert!(of_user(&f, "bob").iter().all(|(_, s, _)| s == "open"));
    assert!(of_user(&f, "carol").iter().all(|(_, s, _)| s == "open"));
    assert!(of_user(&f, "carol")
        .iter()
        .any(|(r, _, _)| r == "console-without-mfa"));

    // SARIF leaves the remediated findings out; the remediation list says they are
    // remediated, last; the Markdown lists them with the event.
    let sarif = std::fs::read_to_string(dir.path().join("findings_20260306_120000.sarif")).unwrap();
    let results = serde_json::from_str::<Value>(&sarif).unwrap()["runs"][0]["results"]
        .as_array()
        .unwrap()
        .clone();
    let remediated_ids: Vec<&str> = f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == "remediated")
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(remediated_ids.len(), 3, "{remediated_ids:?}");
    for r in &results {
        let text = r.to_string();
        assert!(
            remediated_ids.iter().all(|id| !text.contains(id)),
            "a remediated finding in SARIF: {text}"
        );
    }
    assert!(!sarif.contains("old-contractor"));
    let csv = read(dir.path(), "remediation_");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    let first_remediated = rows
        .iter()
        .position(|r| r.contains(",remediated,"))
        .unwrap();
    assert!(rows[first_remediated..]
        .iter()
        .all(|r| r.contains(",remediated,")));
    assert_eq!(
        rows.iter().filter(|r| r.contains(",remediated,")).count(),
        remediated_ids.len()
    );
    let md = read(dir.path(), "report_20260306_120000.md");
    assert!(md.contains("## Remediated since the inventory"), "{md}");
    assert!(
        md.contains("DeleteAccessKey by admin-user at 2026-03-01 10:30:00 UTC"),
        "{md}"
    );
    // Remediation progress over the window, and the seed's offboarding sequence.
    let p = &f["progress"];
    assert_eq!(
        p["organization"],
        serde_json::json!({"keys_deleted": 1, "keys_deactivated": 1, "console_access_removed": 2,
            "users_deleted": 1, "mfa_enabled": 0, "mfa_deactivated": 0})
    );
    assert_eq!(p["from"], "2026-03-01T10:30:00Z");
    assert_eq!(p["to"], "2026-03-04T09:00:00Z");
    let offboardings = p["offboardings"].as_array().unwrap();
    assert_eq!(offboardings.len(), 2, "{offboardings:?}");
    let carol = &offboardings[0];
    assert_eq!(
        (carol["username"].as_str(), carol["complete"].as_bool()),
        (Some("carol"), Some(false))
    );
    let old = &offboardings[1];
    assert_eq!(old["username"], "old-contractor");
    let steps: Vec<&str> = old["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["DeleteAccessKey", "DeleteLoginProfile", "DeleteUser"]
    );
    assert_eq!(old["steps"][0]["access_key_id"], "AKIAIOSFODNN7EXAMPLE");
    assert_eq!(old["complete"], true);
    assert_eq!(old["in_order"], true);
    // 2026-03-01 10:30 to 2026-03-02 14:20: 27 h 50 min.
    assert_eq!(old["duration_hours"], 27.83);
    assert!(md.contains("## Remediation progress"), "{md}");
    assert!(
        md.contains(
            "DeleteAccessKey AKIAIOSFODNN7EXAMPLE 2026-03-01 10:30 by admin-user → \
             DeleteLoginProfile 2026-03-01 10:31 by security-team → \
             DeleteUser 2026-03-02 14:20 by security-team | 27.83 | yes | yes |"
        ),
        "{md}"
    );

    let html = read(dir.path(), "report_20260306_120000.html");
    assert!(html.contains("<section id=\"progress\">"));
    assert!(html.contains(
        "remediated: UpdateAccessKey by alice at 2026-03-04 08:00:00 UTC from 198.51.100.7"
    ));
}

#[test]
fn without_events_nothing_is_remediated_and_old_contractor_gates() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = evaluate(&[], dir.path());
    assert_eq!(code, Some(1), "{stderr}");
    let f = read_json(&dir.path().join("findings_20260306_120000.json"));
    let old = of_user(&f, "old-contractor");
    assert!(old.contains(&("console-without-mfa".into(), "open".into(), String::new())));
    assert!(f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["status"] != "remediated" && x.get("remediated_by").is_none()));
}

#[test]
fn remediated_findings_do_not_gate() {
    // Only old-contractor's events: alice and carol are left out of the report, so nothing
    // open is critical once old-contractor's console finding is remediated.
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.csv");
    let text =
        std::fs::read_to_string(format!("{}/{DATA}/report.csv", common::root().display())).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains(",alice,") && !l.contains(",carol,"))
        .collect();
    std::fs::write(&report, kept.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let run = |events: bool| {
        let mut c = bin();
        c.arg("evaluate").arg(&report);
        if events {
            c.arg("--events").arg(format!("{DATA}/events.csv"));
        }
        c.args([
            "--as-of",
            "2026-03-06 12:00:00",
            "--format",
            "json",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap()
    };
    assert_eq!(run(false).status.code(), Some(1), "open: critical gates");
    let o = run(true);
    assert_eq!(
        o.status.code(),
        Some(0),
        "remediated: nothing gates: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}
