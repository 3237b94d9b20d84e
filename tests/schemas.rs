//! The committed schemas match the Rust types (regenerate with `UPDATE_SCHEMAS=1 cargo test
//! --test schemas`), and the documents we ship and write validate against them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_schemas_are_fresh() {
    let dir = root().join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, text) in iam_audit::schema::all() {
        let path = dir.join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            if update {
                std::fs::write(&path, &text).expect("write schema");
            } else {
                stale.push(name);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale schemas {stale:?}: run `UPDATE_SCHEMAS=1 cargo test --test schemas` and commit"
    );
}

fn validator(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas").join(name)).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema JSON");
    jsonschema::validator_for(&schema).expect("valid schema")
}

fn yaml_to_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("read");
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn shipped_packs_and_fixtures_validate() {
    let pack = validator("pack.schema.json");
    let rule = validator("rule.schema.json");
    let fixture = validator("fixture.schema.json");
    let mut checked = 0;
    let mut packs = 0;
    for pack_dir in std::fs::read_dir(root().join("rules")).expect("rules dir") {
        let dir = pack_dir.expect("entry").path();
        if !dir.join("pack.yaml").is_file() {
            continue;
        }
        packs += 1;
        for entry in std::fs::read_dir(&dir).expect("pack dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let v = if path.file_name().is_some_and(|n| n == "pack.yaml") {
                    &pack
                } else {
                    &rule
                };
                checked += check_yaml(v, &path);
            }
        }
        for entry in std::fs::read_dir(dir.join("tests")).expect("tests dir") {
            checked += check_yaml(&fixture, &entry.expect("entry").path());
        }
    }
    assert!(packs >= 1 && checked >= 41, "checked only {checked} files");
}

/// Validates one YAML file that must start with the yaml-language-server schema line.
fn check_yaml(v: &jsonschema::Validator, path: &Path) -> usize {
    let doc = yaml_to_json(path);
    let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    let first = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        first.starts_with("# yaml-language-server: $schema="),
        "{} must start with the yaml-language-server schema line",
        path.display()
    );
    1
}

#[test]
fn example_config_and_waivers_validate_and_parse() {
    check_yaml(
        &validator("waivers.schema.json"),
        &root().join("examples/waivers.yaml"),
    );
    let waivers = iam_audit::waivers::load(&root().join("examples/waivers.yaml")).unwrap();
    assert_eq!(waivers.len(), 3);
    let mut broken = yaml_to_json(&root().join("examples/waivers.yaml"));
    broken["waivers"][0]
        .as_object_mut()
        .unwrap()
        .remove("owner");
    assert!(!validator("waivers.schema.json").is_valid(&broken));
    check_yaml(
        &validator("config.schema.json"),
        &root().join("examples/iam-audit.yaml"),
    );
}

#[test]
fn written_findings_and_inventory_validate_against_their_schemas() {
    use clap::Parser;
    let out = tempfile::tempdir().unwrap();
    let cli = iam_audit::cli::Cli::parse_from([
        "iam-audit",
        "evaluate",
        root()
            .join("examples/inventory_20260306_120000.json")
            .to_str()
            .unwrap(),
        "--config",
        root().join("examples/iam-audit.yaml").to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    let iam_audit::cli::Command::Evaluate(args) = cli.command else {
        panic!("parsed as another command");
    };
    let run = iam_audit::cli::evaluate::execute(&args).expect("evaluate");
    assert!(run.report.findings.len() > 20);
    for (file, schema) in [
        ("findings_20260306_120000.json", "findings.schema.json"),
        ("inventory_20260306_120000.json", "inventory.schema.json"),
    ] {
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.path().join(file)).unwrap()).unwrap();
        let errors: Vec<String> = validator(schema)
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{file}: {errors:?}");
    }
    // The shipped example inventory validates too, and a broken one does not.
    let example = yaml_to_json(&root().join("examples/inventory_20260306_120000.json"));
    assert!(validator("inventory.schema.json").is_valid(&example));
    let mut broken = example.clone();
    broken["accounts"][0]["users"][0]["access_keys"][0]["status"] = "Enabled".into();
    assert!(!validator("inventory.schema.json").is_valid(&broken));
}
