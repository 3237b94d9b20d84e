//! Every shipped pack (`rules/<pack>/` with a `pack.yaml`): it is built into the binary as
//! `builtin:<pack>`, its files validate against the schemas, every fixture passes, and every
//! rule has both firing and non-firing fixture cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use iam_audit::cli::rules::fixtures::run_file;
use iam_audit::rules::fixtures::Expect;
use iam_audit::rules::pack::load_dir;
use iam_audit::rules::{builtin_names, builtin_pack};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `rules/<pack>/` folders that hold a manifest, sorted.
fn shipped_pack_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("rules"))
        .expect("rules folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("pack.yaml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_pack_is_built_in() {
    let dirs = shipped_pack_dirs();
    let names: Vec<String> = dirs
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "stock"), "{names:?}");
    assert!(names.iter().any(|n| n == "cis-aws"), "{names:?}");
    let mut builtin: Vec<String> = builtin_names()
        .iter()
        .map(std::string::ToString::to_string)
        .collect();
    builtin.sort();
    assert_eq!(
        builtin, names,
        "built-in packs differ from rules/*/pack.yaml"
    );
    for (dir, name) in dirs.iter().zip(&names) {
        let from_dir = load_dir(dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
        let embedded = builtin_pack(name).unwrap_or_else(|e| panic!("builtin:{name}: {e:?}"));
        assert_eq!(from_dir.name, *name, "pack name must equal its folder name");
        let ids = |p: &iam_audit::rules::pack::Pack| {
            p.rules
                .iter()
                .map(|r| (r.id.clone(), r.condition.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&from_dir), ids(&embedded), "builtin:{name} is stale");
    }
}

#[test]
fn shipped_pack_files_validate_against_the_schemas() {
    let validator = |name: &str| {
        let text = std::fs::read_to_string(root().join("schemas").join(name)).expect("schema");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
        jsonschema::validator_for(&schema).expect("valid schema")
    };
    let (pack, rule, fixture) = (
        validator("pack.schema.json"),
        validator("rule.schema.json"),
        validator("fixture.schema.json"),
    );
    let mut problems = Vec::new();
    for dir in shipped_pack_dirs() {
        let pack_files = yaml_files(&dir).into_iter().map(|p| {
            let v = if p.file_name().is_some_and(|n| n == "pack.yaml") {
                &pack
            } else {
                &rule
            };
            (p, v)
        });
        let fixture_files = yaml_files(&dir.join("tests"))
            .into_iter()
            .map(|p| (p, &fixture));
        for (path, v) in pack_files.chain(fixture_files) {
            let text = std::fs::read_to_string(&path).expect("read");
            if !text.starts_with("# yaml-language-server: $schema=") {
                problems.push(format!(
                    "{}: must start with the yaml-language-server schema line",
                    path.display()
                ));
            }
            let doc: serde_json::Value =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for e in v.iter_errors(&doc) {
                problems.push(format!("{}: {e} at {}", path.display(), e.instance_path()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn builtin_pack_fixtures_pass_and_cover_every_rule() {
    let mut failures = Vec::new();
    let mut uncovered = Vec::new();
    let mut cases = 0;
    for dir in shipped_pack_dirs() {
        let pack = load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
        let mut coverage: BTreeMap<String, (usize, usize)> =
            pack.rules.iter().map(|r| (r.id.clone(), (0, 0))).collect();
        for path in yaml_files(&dir.join("tests")) {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let results = run_file(&path, &pack).unwrap_or_else(|e| panic!("{e}"));
            for r in results {
                cases += 1;
                if r.rule != stem {
                    failures.push(format!(
                        "{}: tests rule `{}`; a fixture file is named after its rule",
                        path.display(),
                        r.rule
                    ));
                }
                let c = coverage.entry(r.rule.clone()).or_default();
                // Other kinds of case (a known gap) do not count as coverage.
                if r.expect == Expect::Finding {
                    c.0 += 1;
                } else if matches!(r.expect, Expect::NoFinding | Expect::NotEvaluable) {
                    c.1 += 1;
                }
                if let Some(f) = r.failure {
                    failures.push(format!("{}: {} / {}: {f}", pack.name, r.rule, r.case));
                }
            }
        }
        uncovered.extend(
            coverage
                .iter()
                .filter(|(_, (fire, quiet))| *fire == 0 || *quiet == 0)
                .map(|(id, c)| {
                    format!(
                        "{}/{id} (firing cases {}, non-firing cases {})",
                        pack.name, c.0, c.1
                    )
                }),
        );
    }
    assert!(
        failures.is_empty(),
        "fixture failures:\n{}",
        failures.join("\n")
    );
    assert!(
        uncovered.is_empty(),
        "rules without both kinds of fixture: {uncovered:?}"
    );
    assert!(cases > 100, "ran only {cases} cases");
}
