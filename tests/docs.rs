//! Rule documentation is generated from the rule metadata: the reference page of every
//! built-in pack (`docs/rules/<pack>.md`) and the README's rule tables. These tests fail when
//! either is stale; `UPDATE_DOCS=1 cargo test --test docs` regenerates them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use iam_audit::rules::docs::{pack_page, page_path, read_fixtures, readme_section, END, START};
use iam_audit::rules::{builtin_names, RuleSet, DEFAULT_PACK};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn update() -> bool {
    std::env::var_os("UPDATE_DOCS").is_some()
}

/// Every built-in pack, the default (stock) first, then by name.
fn builtin_set() -> RuleSet {
    let mut specs: Vec<String> = builtin_names()
        .iter()
        .map(|n| format!("builtin:{n}"))
        .collect();
    specs.sort_by_key(|s| (s != DEFAULT_PACK, s.clone()));
    RuleSet::load(&specs).expect("built-in packs load together")
}

#[test]
fn readme_rule_tables_are_fresh() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let set = builtin_set();
    let section = readme_section(&set);
    let (Some(a), Some(b)) = (readme.find(START), readme.find(END)) else {
        panic!("README.md lacks the rule table markers");
    };
    assert!(a < b, "README.md rule table markers are out of order");
    let current = &readme[a + START.len()..b];
    let wanted = format!("\n{section}");
    if current != wanted {
        if update() {
            let updated = format!("{}{wanted}{}", &readme[..a + START.len()], &readme[b..]);
            std::fs::write(&path, updated).expect("write README");
        } else {
            panic!(
                "README rule table is stale: run `UPDATE_DOCS=1 cargo test --test docs` and commit"
            );
        }
    }
    for (pack, r) in set.rules() {
        assert!(
            section.contains(&format!("[`{}`]({}#{})", r.id, page_path(&pack.name), r.id)),
            "{} missing from the README section",
            r.id
        );
    }
}

#[test]
fn pack_reference_pages_are_fresh() {
    let set = builtin_set();
    let mut stale = Vec::new();
    let mut wanted_pages = Vec::new();
    for pack in &set.packs {
        let fixtures =
            read_fixtures(&root().join("rules").join(&pack.name)).unwrap_or_else(|e| panic!("{e}"));
        let page = pack_page(pack, &fixtures);
        for r in &pack.rules {
            assert!(page.contains(&format!("### `{}`", r.id)), "{}", r.id);
            assert!(page.contains(r.condition.trim_end()), "{}", r.id);
        }
        let rel = page_path(&pack.name);
        let path = root().join(&rel);
        wanted_pages.push(path.clone());
        if std::fs::read_to_string(&path).ok().as_deref() != Some(page.as_str()) {
            if update() {
                std::fs::create_dir_all(path.parent().unwrap()).expect("create docs/rules");
                std::fs::write(&path, &page).expect("write page");
            } else {
                stale.push(rel);
            }
        }
    }
    // A page whose pack is gone is stale too.
    let pages = std::fs::read_dir(root().join("docs/rules"));
    for entry in pages.into_iter().flatten() {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "md") && !wanted_pages.contains(&path) {
            if update() {
                std::fs::remove_file(&path).expect("remove stale page");
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale rule pages {stale:?}: run `UPDATE_DOCS=1 cargo test --test docs` and commit"
    );
}

/// The field tables of the docs are the getters Rhai resolves: every registered getter is
/// documented under each variable of its record type, and every documented field resolves.
#[test]
fn documented_fields_are_the_registered_getters() {
    use std::collections::{BTreeMap, BTreeSet};

    use iam_audit::rules::fields::RecordKind;
    use iam_audit::rules::scopes::{Binding, SCOPES};
    use iam_audit::rules::script::build_engine;

    let set = builtin_set();
    let page = pack_page(&set.packs[0], &[]);
    let fields = &page[page
        .find("## Fields a condition can read")
        .expect("fields section")..];
    // `var` -> the fields documented for it (`| `var.field` | meaning |` rows).
    let mut documented: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for line in fields.lines() {
        if let Some(cell) = line.strip_prefix("| `") {
            let Some((path, _)) = cell.split_once("` |") else {
                continue;
            };
            if let Some((var, field)) = path.split_once('.') {
                documented.entry(var).or_default().insert(field);
            }
        }
    }

    let engine = build_engine();
    let getters: Vec<(std::any::TypeId, String)> = engine.collect_fn_metadata(
        None,
        |f| {
            let name = f.metadata.name.strip_prefix("get$")?;
            Some((*f.metadata.param_types.first()?, name.to_string()))
        },
        true,
    );
    let registered = |kind: RecordKind| -> BTreeSet<&str> {
        getters
            .iter()
            .filter(|(t, _)| *t == kind.type_id())
            .map(|(_, n)| n.as_str())
            .collect()
    };
    let mut checked = BTreeSet::new();
    for def in &SCOPES {
        for var in def.variables {
            let docs = documented.get(var.name).cloned().unwrap_or_default();
            match var.binding {
                Binding::Record(kind) => {
                    assert!(!docs.is_empty(), "`{}` has no field table", var.name);
                    assert_eq!(docs, registered(kind), "fields of `{}`", var.name);
                    checked.insert(kind);
                }
                Binding::Plain(_) => assert!(docs.is_empty(), "`{}`", var.name),
            }
        }
    }
    assert_eq!(
        checked.len(),
        RecordKind::ALL.len(),
        "a record type no scope binds"
    );
    // Every documented variable is one a scope binds.
    for var in documented.keys() {
        assert!(
            SCOPES
                .iter()
                .any(|d| d.variables.iter().any(|v| v.name == *var)),
            "`{var}` documented but bound by no scope"
        );
    }
}
