//! Engine behaviour: the stock pack compiles; overrides; not-evaluable; rule errors isolated;
//! sandbox limits; determinism.

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
        Arc::new(inventory_with_inactive_key(&[Field::UserTags, Field::Events])),
        &compiled,
        &opts(),
    );
    assert!(!report.findings.iter().any(|f| f.rule_id == "inactive-key-not-deleted"));
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
    let report = evaluate(Arc::new(inventory_with_inactive_key(&[])), &compiled, &opts());
    assert!(report.findings.iter().any(|f| f.rule_id == "inactive-key-not-deleted"));
    assert!(report.not_evaluable.is_empty(), "{:?}", report.not_evaluable);
}
