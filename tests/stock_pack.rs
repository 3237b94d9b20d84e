//! Runs every fixture of the shipped packs and checks each rule has firing and non-firing
//! cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use iam_audit::rules::fixtures::{run_file, Expect};
use iam_audit::rules::pack::load_dir;

#[test]
fn stock_pack_fixtures_pass_and_cover_every_rule() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/stock");
    let pack = load_dir(&root).unwrap_or_else(|e| panic!("stock pack: {e:?}"));
    let mut coverage: BTreeMap<String, (usize, usize)> =
        pack.rules.iter().map(|r| (r.id.clone(), (0, 0))).collect();
    let mut failures = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(root.join("tests"))
        .expect("tests folder")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let results = run_file(&path, &pack).unwrap_or_else(|e| panic!("{e}"));
        for r in results {
            let c = coverage.entry(r.rule.clone()).or_default();
            match r.expect {
                Expect::Finding => c.0 += 1,
                Expect::NoFinding | Expect::NotEvaluable => c.1 += 1,
            }
            if let Some(f) = r.failure {
                failures.push(format!("{} / {}: {f}", r.rule, r.case));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "fixture failures:\n{}",
        failures.join("\n")
    );
    let uncovered: Vec<_> = coverage
        .iter()
        .filter(|(_, (fire, quiet))| *fire == 0 || *quiet == 0)
        .map(|(id, c)| format!("{id} (firing cases {}, non-firing cases {})", c.0, c.1))
        .collect();
    assert!(
        uncovered.is_empty(),
        "rules without both kinds of fixture: {uncovered:?}"
    );
}
