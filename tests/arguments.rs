//! Arguments cannot panic: every numeric flag of `scan` and the shared flags is checked at the
//! command line (exit 2, naming the flag and its range) for 0, negative, huge and malformed
//! values; the largest accepted values run without overflowing a duration or a date. The
//! external id is also read from `IAM_AUDIT_EXTERNAL_ID` (never shown by `--help`), the role
//! defaults to the `IamAuditRole` of `deploy/`, and a waiver naming only a user warns that it
//! covers every account.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{bin, EXAMPLE_JSON};

/// Values no numeric flag accepts: zero, negative, past u64, past any integer, a float.
const BAD: [&str; 6] = [
    "0",
    "-1",
    "18446744073709551615",
    "99999999999999999999",
    "1e30",
    "ten",
];

/// The binary without any AWS configuration or credentials of the host: a scan that gets past
/// its arguments fails fast for want of credentials (never reaching the network).
fn hermetic_bin() -> assert_cmd::Command {
    let mut c = bin();
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k == "IAM_AUDIT_EXTERNAL_ID" {
            c.env_remove(k);
        }
    }
    c.env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .timeout(Duration::from_secs(60));
    c
}

/// Runs the binary; (exit code, stderr).
fn run(cmd: &mut assert_cmd::Command) -> (Option<i32>, String) {
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

/// Each numeric flag with the command line it belongs to and its accepted range.
fn numeric_flags(dir: &std::path::Path) -> Vec<(&'static str, Vec<String>, u64, u64)> {
    let history = dir.join("h.jsonl").display().to_string();
    let out = dir.join("out").display().to_string();
    let scan = || -> Vec<String> {
        vec![
            "scan".into(),
            "--endpoint-url".into(),
            "http://127.0.0.1:9".into(),
            "--out".into(),
            out.clone(),
            "--quiet".into(),
        ]
    };
    let mut evaluate: Vec<String> = vec!["evaluate".into(), EXAMPLE_JSON.into(), "--quiet".into()];
    evaluate.extend([
        "--out".into(),
        out.clone(),
        "--history".into(),
        history.clone(),
    ]);
    let mut scan_history = scan();
    scan_history.extend(["--history".into(), history.clone()]);
    vec![
        ("--concurrency", scan(), 1, 64),
        ("--cloudtrail-days", scan(), 1, 36_500),
        ("--report-deadline", scan(), 1, 86_400),
        ("--account-deadline", scan(), 1, 86_400),
        ("--call-timeout", scan(), 1, 3_600),
        ("--history-keep", evaluate, 1, 36_500),
        ("--history-keep", scan_history, 1, 36_500),
    ]
}

#[test]
fn every_numeric_flag_rejects_zero_negative_huge_and_malformed_values_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (flag, base, min, max) in numeric_flags(dir.path()) {
        let over = (max + 1).to_string();
        for value in BAD.iter().copied().chain([over.as_str()]) {
            // Both spellings: `--flag VALUE` (a negative value must not be taken for a flag)
            // and `--flag=VALUE`.
            for args in [
                vec![flag.to_string(), value.to_string()],
                vec![format!("{flag}={value}")],
            ] {
                let (code, stderr) = run(hermetic_bin().args(&base).args(&args));
                let range = format!("from {min} to {max}");
                let ok = code == Some(2)
                    && !stderr.contains("panicked")
                    && stderr.contains(flag)
                    && stderr.contains(&range);
                if !ok {
                    failures.push(format!(
                        "{} {}: exit {code:?}, expected 2 naming {flag} and `{range}`:\n{stderr}",
                        base[0],
                        args.join(" ")
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_largest_accepted_values_run_without_overflow() {
    let dir = tempfile::tempdir().unwrap();
    // scan: past its arguments, it stops for want of credentials (exit 2, no panic).
    let (code, stderr) = run(hermetic_bin().args([
        "scan",
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--quiet",
        "--concurrency",
        "64",
        "--cloudtrail-days",
        "36500",
        "--report-deadline",
        "86400",
        "--account-deadline",
        "86400",
        "--call-timeout",
        "3600",
        "--history-keep",
        "36500",
        "--history",
        &dir.path().join("h.jsonl").display().to_string(),
        "--out",
        &dir.path().join("out").display().to_string(),
    ]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("invalid value"), "{stderr}");
    assert!(stderr.contains("credentials"), "{stderr}");

    // evaluate at the far ends of time, with the longest SLA and history.
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "sla_days: {critical: 36500, high: 36500, medium: 36500, low: 36500}\n",
    )
    .unwrap();
    for as_of in ["9999-12-31", "0001-01-01"] {
        let (code, stderr) = run(hermetic_bin()
            .args(["evaluate", EXAMPLE_JSON, "--quiet", "--as-of", as_of])
            .arg("--config")
            .arg(&config)
            .args(["--history-keep", "36500", "--history"])
            .arg(dir.path().join(format!("h-{as_of}.jsonl")))
            .arg("--out")
            .arg(dir.path().join(format!("out-{as_of}"))));
        assert!(
            matches!(code, Some(0 | 1 | 3)),
            "--as-of {as_of}: exit {code:?}\n{stderr}"
        );
    }
}

#[test]
fn scan_help_documents_the_limits_the_env_var_and_the_default_role_but_no_value() {
    let (code, help) = {
        let out = hermetic_bin()
            .env("IAM_AUDIT_EXTERNAL_ID", "ext-id-canary-4f1d")
            .args(["scan", "--help"])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    assert_eq!(code, Some(0));
    assert!(help.contains("IAM_AUDIT_EXTERNAL_ID"), "{help}");
    assert!(!help.contains("ext-id-canary-4f1d"), "{help}");
    assert!(help.contains("[default: IamAuditRole]"), "{help}");
    assert!(!help.contains("OrganizationAccountAccessRole]"), "{help}");
    assert!(help.contains("at most 64"), "{help}");
}

#[test]
fn the_role_defaults_to_the_audit_role_of_deploy() {
    use iam_audit::cli::{Cli, Command};
    let cli = <Cli as clap::Parser>::try_parse_from(["iam-audit", "scan"]).unwrap();
    let Command::Scan(scan) = cli.command else {
        unreachable!()
    };
    assert_eq!(scan.role_name, "IamAuditRole");
    let template = common::deploy("iam-audit-role.yaml");
    assert!(template.contains("Default: IamAuditRole"), "{template}");
}

#[test]
fn the_external_id_comes_from_the_environment_too_never_echoed_and_the_flag_wins() {
    let scan = ["scan", "--endpoint-url", "http://127.0.0.1:9", "--quiet"];
    // A malformed id from the environment is refused: the variable is named, its value never.
    for bad in ["x", "canary with spaces 7q", "canary;7q"] {
        let (code, stderr) = run(hermetic_bin().env("IAM_AUDIT_EXTERNAL_ID", bad).args(scan));
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("IAM_AUDIT_EXTERNAL_ID"), "{stderr}");
        assert!(stderr.contains("2 to 1224 characters"), "{stderr}");
        assert!(bad.len() < 2 || !stderr.contains(bad), "echoed: {stderr}");
        // Given on the command line: named as the flag, not echoed either.
        let (code, stderr) = run(hermetic_bin().args(scan).args(["--external-id", bad]));
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("--external-id"), "{stderr}");
        assert!(bad.len() < 2 || !stderr.contains(bad), "echoed: {stderr}");
    }
    // A good id from the environment, or a good flag over a bad variable: past the arguments,
    // the scan stops for want of credentials.
    for (env, flag) in [("Good-Id_2026", None), ("x", Some("Good-Id_2026"))] {
        let mut cmd = hermetic_bin();
        cmd.env("IAM_AUDIT_EXTERNAL_ID", env).args(scan);
        if let Some(f) = flag {
            cmd.args(["--external-id", f]);
        }
        let (code, stderr) = run(&mut cmd);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(!stderr.contains("external"), "{stderr}");
        assert!(stderr.contains("credentials"), "{stderr}");
    }
}

#[test]
fn a_waiver_naming_only_a_user_warns_that_it_covers_every_account() {
    let dir = tempfile::tempdir().unwrap();
    let waivers = dir.path().join("w.yaml");
    std::fs::write(
        &waivers,
        "waivers:\n  - rule: two-active-keys\n    account: \"444444444444\"\n    user: shared-dev\n    \
         reason: r\n    owner: o\n    expires: 2026-03-15\n  - rule: zombie-user\n    user: ci\n    \
         reason: r\n    owner: o\n    expires: 2026-03-15\n  - rule: old-key-in-use\n    user: ci\n    \
         key: AKIAJSERVICEEXAMPLE1\n    reason: r\n    owner: o\n    expires: 2026-03-15\n",
    )
    .unwrap();
    let (code, stderr) = run(hermetic_bin()
        .args(["evaluate", EXAMPLE_JSON, "--format", "json", "--waivers"])
        .arg(&waivers)
        .arg("--out")
        .arg(dir.path().join("out")));
    assert!(matches!(code, Some(0 | 1 | 3)), "{stderr}");
    let file = waivers.display().to_string();
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("every account"))
        .collect();
    // Only the second waiver: the first names its account, the third a key (one account).
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(&format!("{file}:8:")), "{stderr}");
    assert!(warnings[0].contains("zombie-user"), "{stderr}");
    assert!(warnings[0].contains("`user: ci`"), "{stderr}");
}
