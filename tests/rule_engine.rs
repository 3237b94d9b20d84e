//! Engine behaviour: the stock pack compiles; overrides; not-evaluable; rule errors isolated;
//! sandbox limits; determinism.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use iam_audit::analysis::metrics::Classifier;
use iam_audit::engine::{evaluate, EvalOptions};
use iam_audit::inventory::{AccessKey, Account, Field, Inventory, KeyStatus, SourceKind, User};
use iam_audit::rules::params::ParamOverride;
use iam_audit::rules::RuleSet;

fn opts() -> EvalOptions {
    EvalOptions {
        as_of: Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap(),
        classifier: Classifier::default(),
    }
}

#[test]
fn stock_pack_compiles_with_defaults() {
    let set = RuleSet::load(&[]).expect("stock pack loads");
    assert_eq!(set.packs[0].name, "stock");
    assert_eq!(set.packs[0].rules.len(), 20);
    set.compile(&[]).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn unknown_param_override_is_an_error() {
    let set = RuleSet::load(&[]).unwrap();
    let o = ParamOverride::parse_cli("recent_dayz=3").unwrap();
    let err = set.compile(&[o]).err().expect("must fail").to_string();
    assert!(err.contains("recent_dayz"), "{err}");
    let o = ParamOverride::parse_cli("no-such-rule.recent_days=3").unwrap();
    assert!(set.compile(&[o]).is_err());
    let o = ParamOverride::parse_cli("recent_days=soon").unwrap();
    let err = set.compile(&[o]).err().expect("must fail").to_string();
    assert!(err.contains("whole number"), "{err}");
}

fn inventory_with_inactive_key(unavailable: &[Field]) -> Inventory {
    let mut inv = Inventory::new(SourceKind::StockCsv);
    inv.unavailable = unavailable.iter().copied().collect();
    let mut acct = Account::new("111111111111", "Dev");
    let mut u = User::named("old-timer");
    u.access_keys.push(AccessKey {
        id: "AKIAOLD".into(),
        status: KeyStatus::Inactive,
        created: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        last_used: None,
        last_used_service: None,
        last_used_region: None,
    });
    acct.users.push(u);
    inv.accounts.push(acct);
    inv
}

#[test]
fn missing_fields_make_rules_not_evaluable_not_silent() {
    let set = RuleSet::load(&[]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let report = evaluate(
        Arc::new(inventory_with_inactive_key(&[
            Field::UserTags,
            Field::Events,
        ])),
        &compiled,
        &opts(),
    );
    assert!(!report
        .findings
        .iter()
        .any(|f| f.rule.id == "inactive-key-not-deleted"));
    let ne = report
        .not_evaluable
        .iter()
        .find(|n| n.rule_id == "inactive-key-not-deleted")
        .expect("listed as not evaluable");
    assert_eq!(ne.records, 1);
    assert!(ne.fields.contains("user.tags"));
    let ev = report
        .not_evaluable
        .iter()
        .find(|n| n.rule_id == "mfa-deactivated")
        .expect("event rule listed without events");
    assert!(ev.whole_rule);

    // With tags known, the same key fires.
    let report = evaluate(
        Arc::new(inventory_with_inactive_key(&[])),
        &compiled,
        &opts(),
    );
    assert!(report
        .findings
        .iter()
        .any(|f| f.rule.id == "inactive-key-not-deleted"));
    assert!(
        report.not_evaluable.is_empty(),
        "{:?}",
        report.not_evaluable
    );
}

/// Writes a one-pack folder with the given rules `(id, scope, condition)`.
fn temp_pack(rules: &[(&str, &str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<String> = rules
        .iter()
        .map(|(id, _, _)| format!("  - {id}\n"))
        .collect();
    std::fs::write(
        dir.path().join("pack.yaml"),
        format!("pack: custom\ntitle: t\nparams:\n  n: {{type: int, default: 1, description: d}}\nrules:\n{}", ids.concat()),
    )
    .unwrap();
    for (id, scope, cond) in rules {
        let body = format!(
            "id: {id}\ntitle: T\nseverity: high\nscope: {scope}\ncondition: |\n  {}\nmessage: \"{{user.name}} hit\"\ndescription: d\nremediation: r\n",
            cond.replace('\n', "\n  ")
        );
        std::fs::write(dir.path().join(format!("{id}.yaml")), body).unwrap();
    }
    dir
}

fn one_user_inventory() -> Inventory {
    let mut inv = inventory_with_inactive_key(&[]);
    inv.unavailable.insert(Field::Events);
    inv
}

fn run_pack(dir: &tempfile::TempDir) -> Result<iam_audit::engine::Report, String> {
    let set = RuleSet::load(&[dir.path().display().to_string()]).map_err(|e| e.to_string())?;
    let compiled = set.compile(&[]).map_err(|e| e.to_string())?;
    Ok(evaluate(Arc::new(one_user_inventory()), &compiled, &opts()))
}

#[test]
fn a_failing_rule_is_reported_and_does_not_hide_others() {
    let dir = temp_pack(&[
        ("boom", "user", "let a = [1]; a[5] > 0"),
        ("not-bool", "user", "42"),
        ("fires", "user", "user.name == \"old-timer\""),
    ]);
    let report = run_pack(&dir).expect("loads");
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].rule.id, "fires");
    assert_eq!(report.findings[0].message, "old-timer hit");
    let ids: Vec<_> = report
        .rule_errors
        .iter()
        .map(|e| e.rule_id.as_str())
        .collect();
    assert_eq!(ids, ["boom", "not-bool"]);
    assert!(report.rule_errors[1].message.contains("not a bool"));
    assert_eq!(report.rule_errors[0].record, "111111111111/old-timer");
}

#[test]
fn hostile_conditions_end_quickly_with_an_error() {
    let cases = [
        ("spin", "let i = 0; loop { i += 1; } true"),
        ("recurse", "fn f(x) { f(x + 1) } f(0) > 0"),
        ("big-string", "let s = \"x\"; s.pad(100000000, \"x\"); true"),
        ("big-array", "let a = []; a.pad(100000000, 0); true"),
    ];
    for (id, cond) in cases {
        let dir = temp_pack(&[(id, "user", cond)]);
        let started = std::time::Instant::now();
        let report = run_pack(&dir).expect("loads");
        assert!(
            started.elapsed().as_secs() < 5,
            "{id} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            report.rule_errors.len(),
            1,
            "{id}: {:?}",
            report.rule_errors
        );
        assert!(report.findings.is_empty());
    }
}

#[test]
fn forbidden_features_do_not_compile() {
    for (id, cond) in [
        ("imports", "import \"x\" as y; true"),
        ("evals", "eval(\"true\")"),
        ("undeclared-param", "p.nope > 1"),
        ("unknown-field", "user.pasword_enabled"),
        ("unknown-variable", "usr.name == \"x\""),
        ("syntax", "user.name == "),
    ] {
        let dir = temp_pack(&[(id, "user", cond)]);
        let err = run_pack(&dir)
            .err()
            .unwrap_or_else(|| panic!("{id} must not load"));
        assert!(
            err.contains(&format!("{id}.yaml")),
            "{id}: error must name the file: {err}"
        );
    }
}

#[test]
fn evaluation_is_deterministic_across_runs() {
    let set = RuleSet::load(&[]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/inventory_20260306_120000.json"
    ))
    .unwrap();
    let inv =
        iam_audit::inventory::json::read_inventory(std::path::Path::new("x.json"), &text).unwrap();
    let a = evaluate(Arc::new(inv.clone()), &compiled, &opts());
    let b = evaluate(Arc::new(inv), &compiled, &opts());
    let ids = |r: &iam_audit::engine::Report| {
        r.findings
            .iter()
            .map(|f| (f.id.clone(), f.message.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    assert!(a.findings.len() > 20);
}

#[test]
fn stock_rules_have_the_expected_prefilters() {
    let set = RuleSet::load(&[]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let guarded: Vec<&str> = compiled
        .rules
        .iter()
        .filter(|r| r.prefilter.is_some())
        .map(|r| r.rule.id.as_str())
        .collect();
    for id in [
        "old-key-in-use",
        "console-without-mfa",
        "zombie-user",
        "service-account-without-console",
    ] {
        assert!(guarded.contains(&id), "{id} has no prefilter: {guarded:?}");
    }
    let complete: Vec<&str> = compiled
        .rules
        .iter()
        .filter(|r| r.prefilter.as_ref().is_some_and(|p| p.is_complete()))
        .map(|r| r.rule.id.as_str())
        .collect();
    for id in [
        "old-key-in-use",
        "unused-active-key",
        "console-without-mfa",
        "two-active-keys",
    ] {
        assert!(
            complete.contains(&id),
            "{id} is not decided in Rust: {complete:?}"
        );
    }
}

/// The engine's Rust-side prefilters rely on these Rhai semantics; if Rhai changes them,
/// this fails.
#[test]
fn rhai_comparison_semantics_the_prefilter_relies_on() {
    let engine = iam_audit::rules::script::build_engine();
    for (src, want) in [
        ("() <= 30", false),
        ("() > 30", false),
        ("() == ()", true),
        ("() != 3", true),
        ("2.5 > 2", true),
        ("2 >= 2.0", true),
        ("\"a\" == 1", false),
        ("\"a\" != 1", true),
        ("\"Active\" == \"Active\"", true),
    ] {
        let got: bool = engine
            .eval_expression(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(got, want, "{src}");
    }
}
