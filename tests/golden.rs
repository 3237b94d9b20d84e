//! Golden outputs: every file and every stream the bundled examples produce, byte for byte,
//! against the copies committed in `tests/golden/`. A change of structure must not change one
//! byte; a change of behaviour regenerates them on purpose (`UPDATE_GOLDEN=1 cargo test --test
//! golden`) and the diff shows in review what a user will see change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{bin, root, EXAMPLE_CONFIG, EXAMPLE_CSV_INPUT, EXAMPLE_JSON, EXAMPLE_WAIVERS, STAMP};

fn golden_dir(case: &str) -> PathBuf {
    root().join("tests/golden").join(case)
}

/// What one command produced: its exit code, stdout, stderr (with the output folder's path
/// replaced by `OUT`) and every file it wrote.
fn outputs(args: &[&str], out: Option<&Path>) -> BTreeMap<String, Vec<u8>> {
    outputs_scrubbed(args, out, &[])
}

/// [`outputs`], with each `(path, name)` of `also` replaced by its name too.
fn outputs_scrubbed(
    args: &[&str],
    out: Option<&Path>,
    also: &[(&str, &str)],
) -> BTreeMap<String, Vec<u8>> {
    let result = bin()
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run iam-audit");
    let mut files = BTreeMap::new();
    let scrub = |bytes: &[u8]| -> Vec<u8> {
        let mut text = String::from_utf8_lossy(bytes).into_owned();
        if let Some(dir) = out {
            text = text.replace(&dir.display().to_string(), "OUT");
        }
        for (path, name) in also {
            text = text.replace(path, name);
        }
        text.into_bytes()
    };
    files.insert(
        "exit-code".to_string(),
        format!("{}\n", result.status.code().unwrap_or(-1)).into_bytes(),
    );
    files.insert("stdout".to_string(), scrub(&result.stdout));
    files.insert("stderr".to_string(), scrub(&result.stderr));
    if let Some(dir) = out {
        for entry in std::fs::read_dir(dir).expect("read out dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            files.insert(
                format!("out/{name}"),
                scrub(&std::fs::read(&path).expect("read")),
            );
        }
    }
    files
}

/// Compares (or, with `UPDATE_GOLDEN=1`, rewrites) one case's outputs.
fn check(case: &str, got: &BTreeMap<String, Vec<u8>>) {
    let dir = golden_dir(case);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (name, bytes) in got {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        return;
    }
    let mut expected = BTreeMap::new();
    for sub in ["", "out"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let key = if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                };
                expected.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }
    assert!(
        !expected.is_empty(),
        "no golden files in {} (run with UPDATE_GOLDEN=1)",
        dir.display()
    );
    let got_names: Vec<_> = got.keys().collect();
    let want_names: Vec<_> = expected.keys().collect();
    assert_eq!(got_names, want_names, "{case}: files written");
    for (name, want) in &expected {
        let have = &got[name];
        if have != want {
            let have = String::from_utf8_lossy(have);
            let want = String::from_utf8_lossy(want);
            let first = have
                .lines()
                .zip(want.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| have.lines().count().min(want.lines().count()));
            panic!(
                "{case}/{name} differs from tests/golden at line {}:\n got: {:?}\nwant: {:?}",
                first + 1,
                have.lines().nth(first),
                want.lines().nth(first)
            );
        }
    }
}

fn run_case(case: &str, args: &[&str]) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    run_case_scrubbed(case, args, &[])
}

fn run_case_scrubbed(
    case: &str,
    args: &[&str],
    also: &[(&str, &str)],
) -> (tempfile::TempDir, BTreeMap<String, Vec<u8>>) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut all: Vec<&str> = args.to_vec();
    let out_s = out.display().to_string();
    all.extend(["--out", &out_s]);
    let got = outputs_scrubbed(&all, Some(&out), also);
    check(case, &got);
    (tmp, got)
}

#[test]
fn the_inventory_example_with_config_and_waivers() {
    run_case(
        "inventory",
        &[
            "evaluate",
            EXAMPLE_JSON,
            "--config",
            EXAMPLE_CONFIG,
            "--waivers",
            EXAMPLE_WAIVERS,
            "--rules",
            "builtin:stock",
            "--rules",
            "builtin:cis-aws",
            "--rules",
            "examples/rules/my-team",
        ],
    );
}

#[test]
fn the_stock_csv_example_keys_only_with_every_sarif_extra() {
    run_case(
        "stock-csv",
        &[
            "evaluate",
            EXAMPLE_CSV_INPUT[0],
            EXAMPLE_CSV_INPUT[1],
            EXAMPLE_CSV_INPUT[2],
            EXAMPLE_CSV_INPUT[3],
            EXAMPLE_CSV_INPUT[4],
            "--config",
            EXAMPLE_CONFIG,
            "--stock-keys-only",
            "--sarif-include",
            "info,waived",
            "--fail-on",
            "high",
        ],
    );
}

/// The inventory against the stock CSV run as baseline: new, unchanged and resolved findings,
/// metric changes, a gate on new findings only; then `diff` between the two runs.
#[test]
fn a_baseline_run_and_diff() {
    let base = tempfile::tempdir().unwrap();
    let base_out = base.path().display().to_string();
    let mut args: Vec<&str> = vec!["evaluate"];
    args.extend(EXAMPLE_CSV_INPUT);
    args.extend([
        "--config",
        EXAMPLE_CONFIG,
        "--format",
        "json",
        "--out",
        &base_out,
    ]);
    bin().args(&args).assert().code(1);
    let old = base.path().join(format!("findings_{STAMP}.json"));
    let old_s = old.display().to_string();
    let base_dir = base.path().display().to_string();
    let (tmp, _) = run_case_scrubbed(
        "baseline",
        &[
            "evaluate",
            EXAMPLE_JSON,
            "--config",
            EXAMPLE_CONFIG,
            "--waivers",
            EXAMPLE_WAIVERS,
            "--baseline",
            &old_s,
            "--new-only",
            "--fail-on",
            "medium",
            "--param",
            "max_key_age_days=120",
            "--as-of",
            "2026-03-10",
        ],
        &[(&base_dir, "BASE")],
    );
    let new = tmp.path().join("out").join("findings_20260310_000000.json");
    let new_s = new.display().to_string();
    for (case, format) in [("diff-table", "table"), ("diff-json", "json")] {
        let mut got = outputs(
            &["diff", &old_s, &new_s, "--format", format, "--unchanged"],
            None,
        );
        for bytes in got.values_mut() {
            let text = String::from_utf8_lossy(bytes)
                .replace(&old_s, "OLD")
                .replace(&new_s, "NEW");
            *bytes = text.into_bytes();
        }
        check(case, &got);
    }
}

/// Each format alone, as `--format` selects it (the summary lists only what was written).
#[test]
fn each_format_alone() {
    for format in ["csv", "json", "sarif", "html", "md"] {
        run_case(
            &format!("format-{format}"),
            &["evaluate", EXAMPLE_JSON, "--format", format, "--quiet"],
        );
    }
}

/// The rule-authoring commands on the bundled packs.
#[test]
fn rules_commands() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "rules-list",
            &[
                "rules",
                "list",
                "--rules",
                "builtin:stock",
                "--rules",
                "builtin:cis-aws",
            ],
        ),
        (
            "rules-show",
            &[
                "rules",
                "show",
                "old-key-in-use",
                "--config",
                EXAMPLE_CONFIG,
            ],
        ),
        (
            "rules-list-json",
            &[
                "rules",
                "list",
                "--rules",
                "examples/rules/my-team",
                "--format",
                "json",
            ],
        ),
        (
            "rules-validate",
            &["rules", "validate", "examples/rules/my-team"],
        ),
        (
            "rules-test",
            &["rules", "test", "builtin:stock", "examples/rules/my-team"],
        ),
    ];
    for (case, args) in cases {
        check(case, &outputs(args, None));
    }
}
