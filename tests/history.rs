//! The run history (`--history FILE`): one JSON line per run, appended under a lock, damaged
//! lines skipped with a warning and never lost, old lines pruned with `--history-keep`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{bin, EXAMPLE_JSON};
use iam_audit::history::read;

fn run(history: &Path, out: &Path, as_of: &str, extra: &[&str]) -> std::process::Output {
    // Quiet unless the caller asks for logs.
    let quiet = if extra.contains(&"-v") {
        "-v"
    } else {
        "--quiet"
    };
    bin()
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--format",
            "json",
            quiet,
            "--as-of",
            as_of,
        ])
        .arg("--out")
        .arg(out)
        .arg("--history")
        .arg(history)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn each_run_appends_a_line_that_remembers_when_findings_were_first_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("history.jsonl");
    assert_eq!(
        run(&h, &tmp.path().join("a"), "2026-03-06", &[])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&h, &tmp.path().join("b"), "2026-04-06", &[])
            .status
            .code(),
        Some(1)
    );
    let hist = read(&h).unwrap();
    assert!(hist.damaged.is_empty());
    assert_eq!(hist.lines.len(), 2);
    let (first, second) = (&hist.lines[0], &hist.lines[1]);
    assert_eq!(first.source, "scan");
    assert_eq!(first.organization_id.as_deref(), Some("o-exampleorgid"));
    assert!(first.open.total() > 0);
    assert_eq!(first.new, first.open.total());
    assert_eq!(first.resolved, 0);
    // Every open finding of the first run was first seen in it.
    let first_open = first.open_findings();
    assert_eq!(first_open.len() as u64, first.open.total());
    assert!(first_open.iter().all(|f| f.first_seen == first.as_of));
    // A month later the findings still open were first seen in the first run.
    let second_open = second.open_findings();
    let carried = second_open
        .iter()
        .filter(|f| f.first_seen == first.as_of)
        .count();
    assert!(carried > 0, "{:?}", second.first_seen);
    assert_eq!(second.new as usize, second_open.len() - carried);
    // Each open finding's severity and rule are recoverable: they add up to the counts.
    for sev in iam_audit::vocab::Severity::ALL {
        let n = second_open.iter().filter(|f| f.severity == sev).count() as u64;
        assert_eq!(n, second.open.get(sev), "{sev}");
    }
    for (rule, n) in &second.open_by_rule {
        let m = second_open.iter().filter(|f| f.rule_id == rule).count() as u64;
        assert_eq!(m, *n, "{rule}");
    }
    // Grouped by severity, then rule, then first-seen time.
    let line: serde_json::Value =
        serde_json::from_str(std::fs::read_to_string(&h).unwrap().lines().nth(1).unwrap()).unwrap();
    let some_id = &second_open[0];
    let ids = &line["first_seen"][some_id.severity.as_str()][some_id.rule_id][some_id
        .first_seen
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)];
    assert!(
        ids.as_array().unwrap().iter().any(|i| i == some_id.id),
        "{}",
        line["first_seen"]
    );
    assert_eq!(
        second.open_by_rule.values().sum::<u64>(),
        second.open.total()
    );
    assert!(second.metrics.all.console_users > 0);
    // Every line holds to the published schema.
    let schema: serde_json::Value =
        common::read_json(&common::root().join("schemas/history-line.schema.json"));
    let validator = jsonschema::validator_for(&schema).unwrap();
    for line in std::fs::read_to_string(&h).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(validator.is_valid(&v), "{line}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&h).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn two_runs_at_once_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("history.jsonl");
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("iam-audit"));
            cmd.current_dir(common::root())
                .args([
                    "evaluate",
                    EXAMPLE_JSON,
                    "--format",
                    "json",
                    "--quiet",
                    "--as-of",
                ])
                .arg(format!("2026-03-0{}", i + 1))
                .arg("--out")
                .arg(tmp.path().join(format!("o{i}")))
                .arg("--history")
                .arg(&h);
            cmd.spawn().unwrap()
        })
        .collect();
    for mut c in children {
        assert_eq!(c.wait().unwrap().code(), Some(1));
    }
    let hist = read(&h).unwrap();
    assert!(hist.damaged.is_empty(), "{:?}", hist.damaged);
    assert_eq!(hist.lines.len(), 4);
}

#[test]
fn a_truncated_last_line_is_reported_skipped_and_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("history.jsonl");
    run(&h, &tmp.path().join("a"), "2026-03-06", &[]);
    let good = std::fs::read_to_string(&h).unwrap();
    // A run killed mid-write: half a line, no newline.
    std::fs::write(&h, format!("{good}{}", &good[..good.len() / 2])).unwrap();
    let o = run(&h, &tmp.path().join("b"), "2026-03-07", &["-v"]);
    assert_eq!(o.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("history.jsonl:2: damaged history line skipped"),
        "stderr: {stderr} stdout: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let hist = read(&h).unwrap();
    assert_eq!(hist.lines.len(), 2);
    assert_eq!(hist.damaged.len(), 1);
    assert_eq!(hist.damaged[0].line, 2);
    // The second run still saw the first as its previous run: what was open then keeps its
    // first-seen time.
    let first_time = hist.lines[0].as_of;
    assert!(hist.lines[1]
        .open_findings()
        .iter()
        .any(|f| f.first_seen == first_time));
    assert!(hist.lines[1].new < hist.lines[1].open.total());
}

#[test]
fn history_keep_prunes_old_lines_and_keeps_damaged_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().join("history.jsonl");
    run(&h, &tmp.path().join("a"), "2025-01-01", &[]);
    std::fs::write(
        &h,
        format!("{}not json\n", std::fs::read_to_string(&h).unwrap()),
    )
    .unwrap();
    run(&h, &tmp.path().join("b"), "2026-02-01", &[]);
    run(
        &h,
        &tmp.path().join("c"),
        "2026-03-06",
        &["--history-keep", "90"],
    );
    let hist = read(&h).unwrap();
    let times: Vec<String> = hist.lines.iter().map(|l| l.as_of.to_rfc3339()).collect();
    assert_eq!(
        times,
        ["2026-02-01T00:00:00+00:00", "2026-03-06T00:00:00+00:00"]
    );
    assert_eq!(hist.damaged.len(), 1);
    // --history-keep alone is refused.
    let o = bin()
        .args(["evaluate", EXAMPLE_JSON, "--history-keep", "3"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
