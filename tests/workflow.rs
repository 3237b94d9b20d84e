//! The example GitHub Actions workflow does what the README says: scheduled, OIDC, scan with
//! a baseline and the run history kept between runs, the monthly trend in the job summary,
//! SARIF upload skipped (and said why) when coverage is incomplete, fails on critical findings.
//! (`scripts/action-validator.sh` checks it against GitHub's schema.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

fn workflow() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/github-actions/iam-audit.yml"
    );
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn step<'a>(steps: &'a [Value], name_part: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["name"].as_str().is_some_and(|n| n.contains(name_part)))
        .unwrap_or_else(|| panic!("no step named like `{name_part}`"))
}

#[test]
fn the_example_workflow_is_wired_as_documented() {
    let w = workflow();
    assert!(w["on"]["schedule"][0]["cron"].is_string());
    assert_eq!(w["permissions"]["id-token"], "write");
    assert_eq!(w["permissions"]["security-events"], "write");
    let steps = w["jobs"]["audit"]["steps"].as_array().unwrap();
    let uses = |s: &Value| s["uses"].as_str().unwrap_or_default().to_string();
    let position = |part: &str| {
        steps
            .iter()
            .position(|s| s["name"].as_str().is_some_and(|n| n.contains(part)))
            .unwrap()
    };
    // OIDC credentials before the scan; the baseline restored before it and saved after.
    let oidc = step(steps, "OIDC");
    assert!(uses(oidc).starts_with("aws-actions/configure-aws-credentials@"));
    assert!(oidc["with"]["role-to-assume"].is_string());
    assert!(position("OIDC") < position("Scan"));
    assert!(uses(step(steps, "Restore the previous")).starts_with("actions/cache/restore@"));
    assert!(position("Restore the previous") < position("Scan"));
    assert!(uses(step(steps, "Save the baseline")).starts_with("actions/cache/save@"));
    let scan = step(steps, "Scan")["run"].as_str().unwrap();
    for part in [
        "iam-audit scan",
        "--baseline baseline/findings.json",
        "--format csv,json,sarif,html,md",
        "--fail-on critical",
        "--waivers waivers.yaml",
        ".accounts.incomplete | length",
        // The run history, kept in the cached folder between runs.
        "--history baseline/history.jsonl",
    ] {
        assert!(scan.contains(part), "scan step lacks `{part}`");
    }
    // The external id comes from the environment, not the command line (which `ps` shows).
    let scan_step = step(steps, "Scan");
    assert!(scan_step["env"]["IAM_AUDIT_EXTERNAL_ID"].is_string());
    assert!(!scan.contains("--external-id"), "{scan}");
    // The Markdown report becomes the job summary; every output is kept as an artifact.
    let summary = step(steps, "Job summary")["run"].as_str().unwrap();
    assert!(summary.contains("out/report_*.md") && summary.contains("$GITHUB_STEP_SUMMARY"));
    // ... with the trend by month of the history this run appended to.
    assert!(summary.contains("iam-audit trend baseline/history.jsonl --by month --format md"));
    assert_eq!(step(steps, "Save the baseline")["with"]["path"], "baseline");
    assert!(position("Save the baseline") > position("Scan"));
    assert!(position("Scan") < position("Job summary"));
    let kept = step(steps, "Keep the reports");
    assert!(uses(kept).starts_with("actions/upload-artifact@"));
    assert_eq!(kept["with"]["path"], "out/");
    // Upload only with complete coverage; otherwise a step says why.
    let upload = step(steps, "Upload SARIF");
    assert!(uses(upload).starts_with("github/codeql-action/upload-sarif@"));
    assert_eq!(upload["if"], "steps.scan.outputs.incomplete == '0'");
    let why = step(steps, "Say why");
    assert_eq!(why["if"], "steps.scan.outputs.incomplete != '0'");
    assert!(why["run"].as_str().unwrap().contains("::warning::"));
    // The last step fails the job on the gate's exit code 1 (critical findings).
    let last = steps.last().unwrap();
    assert_eq!(last["if"], "steps.scan.outputs.exit-code == '1'");
    assert!(last["run"].as_str().unwrap().contains("exit 1"));
}
