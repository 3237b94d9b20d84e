//! A bad config file as a user meets it: exit 2, every problem on stderr at `file:line:col`,
//! nothing written; flags still win over a good file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{bin, EXAMPLE_JSON};

/// Runs `args` with `--config` set to a file holding `text`; (exit code, stderr, files written).
fn run(text: &str, args: &[&str]) -> (Option<i32>, String, usize, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("iam-audit.yaml");
    std::fs::write(&config, text).unwrap();
    let out_dir = dir.path().join("out");
    let mut cmd = bin();
    cmd.args(args).arg("--config").arg(&config);
    if args[0] == "evaluate" {
        cmd.arg("--out").arg(&out_dir);
    }
    let out = cmd.output().unwrap();
    let written = std::fs::read_dir(&out_dir).map_or(0, std::iter::Iterator::count);
    (
        out.status.code(),
        String::from_utf8(out.stderr).unwrap(),
        written,
        config.display().to_string(),
    )
}

#[test]
fn every_bad_value_is_named_at_its_line_and_column() {
    let (code, stderr, written, file) = run(
        "fail_on: urgent\nformat: [json, pdf]\nproduction_accounts: \"[prod\"\n\
         sla_days: {high: soon}\n",
        &["evaluate", EXAMPLE_JSON, "--quiet"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(written, 0, "a bad config writes nothing");
    assert!(
        stderr.starts_with("error: config file errors:\n"),
        "{stderr}"
    );
    for located in [
        format!("{file}:1:10: fail_on `urgent`: expected critical, high, medium, low or none"),
        format!("{file}:2:16: format `pdf`: unknown format"),
        format!("{file}:3:22: production_accounts `[prod`: "),
        format!("{file}:4:18: sla_days.high: `soon` is not a whole number of days"),
    ] {
        assert!(stderr.contains(&located), "no `{located}` in:\n{stderr}");
    }
}

#[test]
fn a_param_no_pack_declares_is_named_at_its_line_and_column() {
    let (code, stderr, _, file) = run(
        "params:\n  expected_services: [s3]\n  no_such_param: 3\n",
        &["rules", "show", "unexpected-service"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!("error: config {file}:3:18: no loaded pack declares a param `no_such_param`\n")
    );
}

#[test]
fn flags_win_over_a_valid_file() {
    let (code, stderr, written, _) = run(
        "fail_on: low\nformat: [csv]\n",
        &[
            "evaluate",
            EXAMPLE_JSON,
            "--quiet",
            "--fail-on",
            "none",
            "--format",
            "json",
        ],
    );
    // Nothing gates (`fail_on: low` would exit 1); the example inventory is incomplete: 3.
    assert_eq!(
        code,
        Some(3),
        "--fail-on none wins over fail_on: low: {stderr}"
    );
    // The findings JSON and the inventory JSON, not the CSVs the file asks for.
    assert_eq!(written, 2, "{stderr}");
}

#[test]
fn sla_days_out_of_range_are_named_at_their_line_and_column_never_a_panic() {
    for severity in ["critical", "high", "medium", "low"] {
        for value in [
            "0",
            "-1",
            "36501",
            "4294967295",
            "18446744073709551615",
            "99999999999999999999",
            "1e30",
        ] {
            let (code, stderr, written, file) = run(
                &format!("sla_days:\n  {severity}: {value}\n"),
                &["evaluate", EXAMPLE_JSON, "--quiet"],
            );
            assert_eq!(code, Some(2), "{severity}: {value}: {stderr}");
            assert_eq!(written, 0, "{stderr}");
            let column = severity.len() + 5;
            let located = format!(
                "{file}:2:{column}: sla_days.{severity}: `{value}` is not a whole number of days \
                 from 1 to 36500"
            );
            assert!(stderr.contains(&located), "no `{located}` in:\n{stderr}");
        }
    }
    // Every severity at u32::MAX: the due dates would overflow a date.
    let (code, stderr, _, _) = run(
        "sla_days: {critical: 4294967295, high: 4294967295, medium: 4294967295, \
         low: 4294967295}\n",
        &["evaluate", EXAMPLE_JSON, "--quiet"],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
