//! Several inputs evaluated as one report: an Organization scanned in shards, several
//! Organizations, the stock CSVs of several runs. Accounts seen twice: the newest collection
//! is used, with a warning; cross-account rules see the union.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{account, bin, read_json, root, EXAMPLE_CSV, EXAMPLE_JSON};
use serde_json::Value;

fn evaluate(inputs: &[&Path], out: &Path) -> (String, Value, Value) {
    let o = bin()
        .arg("evaluate")
        .args(inputs)
        .args([
            "--as-of",
            "2026-03-06 12:00:00",
            "--format",
            "json",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(matches!(o.status.code(), Some(0 | 1)), "{stderr}");
    (
        stderr,
        read_json(&out.join("inventory_20260306_120000.json")),
        read_json(&out.join("findings_20260306_120000.json")),
    )
}

/// The findings as (id, status, message): what a reader compares.
fn findings(f: &Value) -> Vec<(String, String, String)> {
    f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
                f["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn shards_of_one_organization_give_the_report_of_the_whole() {
    let whole: Value = read_json(&root().join(EXAMPLE_JSON));
    let tmp = tempfile::tempdir().unwrap();
    // Two shards (as `scan --ou` writes them): the accounts split, each event with its account.
    let shard = |keep: &dyn Fn(&str) -> bool, name: &str| {
        let mut inv = whole.clone();
        inv["accounts"] = Value::Array(
            whole["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| keep(a["id"].as_str().unwrap()))
                .cloned()
                .collect(),
        );
        inv["events"] = Value::Array(
            whole["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| keep(e["account_id"].as_str().unwrap()))
                .cloned()
                .collect(),
        );
        let p = tmp.path().join(name);
        std::fs::write(&p, serde_json::to_string_pretty(&inv).unwrap()).unwrap();
        p
    };
    let a = shard(&|id| id < "400000000000", "shard-a.json");
    let b = shard(&|id| id >= "400000000000", "shard-b.json");
    let (_, inv_whole, f_whole) =
        evaluate(&[&root().join(EXAMPLE_JSON)], &tmp.path().join("whole"));
    let (stderr, inv, f_shards) = evaluate(&[&a, &b], &tmp.path().join("shards"));
    assert!(
        !stderr.contains("is in shard"),
        "no account is in both: {stderr}"
    );
    assert_eq!(inv["accounts"], inv_whole["accounts"]);
    assert_eq!(inv["events"], inv_whole["events"]);
    assert_eq!(inv["organization_id"], "o-exampleorgid");
    // Every finding, cross-account ones included (shared credentials, uniform key ages,
    // outliers), is the whole's.
    assert_eq!(findings(&f_shards), findings(&f_whole));
    assert!(!findings(&f_whole).is_empty());
}

#[test]
fn an_account_seen_twice_is_taken_from_the_newest_collection_with_a_warning() {
    let whole: Value = read_json(&root().join(EXAMPLE_JSON));
    let tmp = tempfile::tempdir().unwrap();
    // A later scan of Development alone, in which its users are gone.
    let mut later = whole.clone();
    later["collected_at"] = Value::from("2026-03-06T18:00:00Z");
    let mut dev = account(&whole, "555666777888").clone();
    dev["users"] = Value::Array(vec![]);
    later["accounts"] = Value::Array(vec![dev]);
    later["events"] = Value::Array(vec![]);
    let later_path = tmp.path().join("dev-rescan.json");
    std::fs::write(&later_path, later.to_string()).unwrap();
    let example = root().join(EXAMPLE_JSON);
    let (_, alone, _) = evaluate(&[&example], &tmp.path().join("alone"));
    for (i, order) in [[&example, &later_path], [&later_path, &example]]
        .iter()
        .enumerate()
    {
        let (stderr, inv, _) = evaluate(&[order[0], order[1]], &tmp.path().join(format!("o{i}")));
        assert_eq!(
            account(&inv, "555666777888")["users"],
            Value::Array(vec![]),
            "{stderr}"
        );
        assert_eq!(inv["accounts"].as_array().unwrap().len(), 9);
        assert!(
            stderr.contains("account 555666777888 (Development) is in")
                && stderr.contains(
                    "the newest, from dev-rescan.json (collected at 2026-03-06 18:00:00), is used"
                ),
            "{stderr}"
        );
        assert!(inv["notes"].to_string().contains("dev-rescan.json"));
        // Events of both are kept, once.
        assert_eq!(inv["events"], alone["events"]);
    }
}

#[test]
fn several_organizations_and_several_stock_runs() {
    let whole: Value = read_json(&root().join(EXAMPLE_JSON));
    let tmp = tempfile::tempdir().unwrap();
    let mut other = whole.clone();
    other["organization_id"] = Value::from("o-otherorg");
    other["accounts"] = Value::Array(vec![{
        let mut a = account(&whole, "111111111111").clone();
        a["id"] = Value::from("999999999999");
        a["name"] = Value::from("Other-Org-Account");
        a
    }]);
    other["events"] = Value::Array(vec![]);
    let other_path = tmp.path().join("other-org.json");
    std::fs::write(&other_path, other.to_string()).unwrap();
    let (stderr, inv, _) = evaluate(
        &[&root().join(EXAMPLE_JSON), &other_path],
        &tmp.path().join("o"),
    );
    assert!(inv.get("organization_id").is_none(), "{inv}");
    assert!(
        stderr.contains("several Organizations: o-exampleorgid"),
        "{stderr}"
    );
    assert_eq!(inv["accounts"].as_array().unwrap().len(), 10);
    // Two stock reports (the same run twice): one report, each account once, with warnings.
    let (stderr, inv, _) = evaluate(
        &[&root().join(EXAMPLE_CSV), &root().join(EXAMPLE_CSV)],
        &tmp.path().join("s"),
    );
    assert_eq!(inv["source"]["kind"], "stock-csv");
    let once = read_json(&{
        let out = tmp.path().join("s1");
        evaluate(&[&root().join(EXAMPLE_CSV)], &out);
        out.join("inventory_20260306_120000.json")
    });
    let n = inv["accounts"].as_array().unwrap().len();
    assert_eq!(inv["accounts"], once["accounts"], "{stderr}");
    assert_eq!(stderr.matches("the newest, from").count(), n, "{stderr}");
    // A stock report and an inventory: combined, fields the stock CSV lacks unavailable.
    let (_, inv, _) = evaluate(
        &[&root().join(EXAMPLE_CSV), &other_path],
        &tmp.path().join("m"),
    );
    assert_eq!(inv["source"]["kind"], "combined");
    assert!(inv["unavailable"].to_string().contains("user.tags"));
}
