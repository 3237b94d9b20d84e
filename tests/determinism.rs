//! Same inputs and `as_of`, same bytes — whatever the number of threads. The engine evaluates
//! rules in parallel (rayon) and CloudTrail files are read in parallel: every output file of
//! `evaluate` with one thread equals the one with many, byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{bin, EXAMPLE_CONFIG, EXAMPLE_CSV_INPUT, EXAMPLE_JSON, EXAMPLE_WAIVERS};

/// Every output file of one `evaluate` run with `threads` threads, by name.
fn outputs(args: &[&str], threads: &str, out: &Path) -> BTreeMap<String, Vec<u8>> {
    let o = bin()
        .arg("evaluate")
        .args(args)
        .args([
            "--config",
            EXAMPLE_CONFIG,
            "--waivers",
            EXAMPLE_WAIVERS,
            "--format",
            "csv,json,sarif,html,md",
            "--fail-on",
            "none",
            "--history",
        ])
        .arg(out.join("history.jsonl"))
        .arg("--out")
        .arg(out)
        .env("RAYON_NUM_THREADS", threads)
        .output()
        .unwrap();
    assert!(
        matches!(o.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with(".lock"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn one_thread_and_many_write_the_same_bytes() {
    let events = [
        "--events",
        "tests/data/remediated/events.csv",
        "--events",
        "tests/data/remediated/cloudtrail.json",
        "--events",
        "tests/data/cloudtrail",
    ];
    let mut stock: Vec<&str> = EXAMPLE_CSV_INPUT.to_vec();
    stock.extend(events);
    let mut json = vec![EXAMPLE_JSON];
    json.extend(events);
    for args in [json, stock] {
        let dir = tempfile::tempdir().unwrap();
        let runs: Vec<BTreeMap<String, Vec<u8>>> = ["1", "2", "8"]
            .iter()
            .map(|t| outputs(&args, t, &dir.path().join(t)))
            .collect();
        assert!(runs[0].len() >= 8, "{:?}", runs[0].keys());
        for (threads, run) in ["2", "8"].iter().zip(&runs[1..]) {
            assert_eq!(
                run.keys().collect::<Vec<_>>(),
                runs[0].keys().collect::<Vec<_>>(),
                "{threads} threads"
            );
            for (name, bytes) in run {
                assert!(
                    *bytes == runs[0][name],
                    "{name} differs between 1 and {threads} threads ({args:?})"
                );
            }
        }
    }
}
