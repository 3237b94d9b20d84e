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
    assert_eq!(set.packs[0].rules.len(), 22);
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
        ..Default::default()
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

#[test]
fn huge_evidence_values_are_left_out_with_their_size() {
    // An inventory (JSON input is free-form) with a 15 KB tag value: the rule's evidence
    // (the fields its condition reads) keeps the user's name and notes the tags' size.
    let dir = temp_pack(&[("tagged", "user", "user.name != \"\" && user.tags.len() > 0")]);
    let mut inv = one_user_inventory();
    inv.accounts[0].users[0]
        .tags
        .insert("note".into(), "y".repeat(15_000));
    let set = RuleSet::load(&[dir.path().display().to_string()]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let report = evaluate(Arc::new(inv), &compiled, &opts());
    assert_eq!(
        report.findings.len(),
        1,
        "{:?} {:?}",
        report.rule_errors,
        report.not_evaluable
    );
    let evidence: serde_json::Value =
        serde_json::from_str(report.findings[0].evidence.get()).unwrap();
    assert_eq!(evidence["user.name"], "old-timer");
    assert_eq!(
        evidence["user.tags"], "(15011 bytes of JSON left out)",
        "{evidence}"
    );
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
        .filter(|r| {
            r.prefilter
                .as_ref()
                .is_some_and(iam_audit::rules::prefilter::Prefilter::is_complete)
        })
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
        // `account.root_password_enabled != false`: an unknown password (`()`) counts.
        ("() != false", true),
        ("() == false", false),
        ("true != false", true),
    ] {
        let got: bool = engine
            .eval_expression(src)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(got, want, "{src}");
    }
}

/// A deterministic mixed inventory: every combination the stock rules care about, in bulk.
/// With `unknown`, some keys and passwords have a last use the source could not tell.
fn random_inventory(users: usize, unavailable: &[Field], unknown: bool) -> Inventory {
    let as_of = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
    let mut state = 7u64;
    let mut next = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut inv = Inventory::new(SourceKind::StockCsv);
    inv.unavailable = unavailable.iter().copied().collect();
    for a in 0..10u64 {
        let mut acct = Account::new(
            format!("{:012}", 100 + a),
            if a % 3 == 0 { "Prod" } else { "Dev" },
        );
        for u in 0..users / 10 {
            // Boundary-heavy ages: around 7, 30, 90, 270 and 365 days, and exactly on them.
            let days = |n: u64| {
                let base = i64::from([0, 1, 7, 30, 90, 270, 365, 400, 800][n as usize % 9]);
                chrono::Duration::days(base)
                    + chrono::Duration::seconds([0, 1, -1, 3600][(n / 9) as usize % 4])
            };
            let names = ["svc-app", "deploy-user", "alice", "bob", "ci-runner"];
            let mut user = User::named(if u < 5 {
                names[u].to_string()
            } else {
                format!("u{u}")
            });
            user.created = Some(as_of - days(next(36)));
            if next(2) == 0 {
                user.password.enabled = true;
                user.password.last_used = (next(4) != 0).then(|| as_of - days(next(36)));
                if unknown && next(4) == 0 {
                    user.password.last_used = None;
                    user.password.last_used_unknown = true;
                }
                user.password.last_changed = Some(as_of - days(next(36)));
                if next(2) == 0 {
                    user.mfa_devices.push(iam_audit::inventory::MfaDevice {
                        serial: None,
                        kind: iam_audit::inventory::MfaType::Virtual,
                        enabled_at: None,
                    });
                }
            }
            if next(4) == 0 {
                user.tags
                    .insert("iam-audit:delete-after".into(), "2026-04-01".into());
            }
            for k in 0..next(3) {
                let created = as_of - days(next(36));
                let used = (next(3) != 0).then(|| as_of - days(next(36)));
                let used_unknown = unknown && next(4) == 0;
                let used = used.filter(|_| !used_unknown);
                user.access_keys.push(AccessKey {
                    id: format!("AKIA{a}X{u}X{k}"),
                    status: if next(4) == 0 {
                        KeyStatus::Inactive
                    } else {
                        KeyStatus::Active
                    },
                    created,
                    last_used: used,
                    last_used_service: used.and_then(|_| {
                        ["s3", "ec2", "iam"]
                            .get(next(4) as usize)
                            .map(std::string::ToString::to_string)
                    }),
                    last_used_region: None,
                    last_used_unknown: used_unknown,
                });
            }
            acct.users.push(user);
        }
        inv.accounts.push(acct);
    }
    inv.normalize();
    inv
}

#[test]
fn prefilters_never_change_a_result() {
    let set = RuleSet::load(&[]).unwrap();
    let overrides = [ParamOverride::parse_cli("expected_services=s3,ec2").unwrap()];
    let stock_csv = &[
        Field::UserTags,
        Field::UserCreated,
        Field::PasswordLastChanged,
        Field::Events,
    ][..];
    for (unavailable, unknown) in [
        (&[][..], false),
        (stock_csv, false),
        (&[][..], true),
        (stock_csv, true),
    ] {
        let inv = Arc::new(random_inventory(3000, unavailable, unknown));
        let with = set.compile(&overrides).unwrap();
        let mut without = set.compile(&overrides).unwrap();
        assert!(with.rules.iter().filter(|r| r.prefilter.is_some()).count() >= 10);
        for r in &mut without.rules {
            r.prefilter = None;
        }
        let a = evaluate(inv.clone(), &with, &opts());
        let b = evaluate(inv.clone(), &without, &opts());
        let view = |r: &iam_audit::engine::Report| {
            r.findings
                .iter()
                .map(|f| {
                    (
                        f.id.clone(),
                        f.message.clone(),
                        f.evidence.get().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert!(
            a.findings.len() > 500,
            "too few findings to mean anything: {}",
            a.findings.len()
        );
        assert_eq!(view(&a), view(&b));
        assert_eq!(a.not_evaluable, b.not_evaluable);
        assert_eq!(a.rule_errors, b.rule_errors);
        let runs = |r: &iam_audit::engine::Report| {
            r.runs
                .iter()
                .map(|x| (x.rule_id.clone(), x.findings))
                .collect::<Vec<_>>()
        };
        assert_eq!(runs(&a), runs(&b));
        if unknown {
            // Unknown last uses are not evaluable for the rules that read them, and never
            // a finding that rests on them.
            for id in ["unused-active-key", "unexpected-service", "zombie-user"] {
                assert!(
                    a.not_evaluable.iter().any(|n| n.rule_id == id),
                    "{id} not listed as not evaluable"
                );
            }
            let unknown_keys: std::collections::BTreeSet<&str> = inv_keys_unknown(&inv);
            assert!(!unknown_keys.is_empty());
            for f in &a.findings {
                if let Some(k) = f.subject.access_key_id.as_deref() {
                    if unknown_keys.contains(k) {
                        assert!(
                            ![
                                "unused-active-key",
                                "unexpected-service",
                                "old-key-in-use",
                                "aging-key-in-use",
                                "fresh-key-in-use"
                            ]
                            .contains(&f.rule.id.as_str()),
                            "{} fired on key {k} of unknown last use",
                            f.rule.id
                        );
                    }
                }
            }
        }
    }
}

/// Conditions generated from every kind of operator Rhai has, around the simple tests a
/// prefilter reads, with and without the prefilters: the results must be the same. A
/// prefilter may only decide what Rhai would decide, so operators that bind looser than `&&`
/// (`||`, `|`, `^`), `&` (which does not short-circuit), statements, and brackets, quotes or
/// operators inside comments must never let it cut a record short.
#[test]
fn prefilters_never_change_a_result_of_generated_conditions() {
    // Tests a prefilter can read (some read a field unknown for some records).
    let simple = [
        "key.status == \"Active\"",
        "key.status != \"Inactive\"",
        "key.age_days > 30",
        "key.age_days <= 90",
        "key.age_days >= p.n",
        "key.never_used",
        "!key.never_used",
        "user.password_enabled",
        "!user.password_enabled",
        "key.days_since_used != ()",
        "key.days_since_used <= 30",
        "key.service == \"s3\"",
    ];
    // Tests only Rhai runs: arithmetic, bit and range operators, `??`, `in`, method calls,
    // and one that always fails.
    let other = [
        "key.age_days + 1 > 31",
        "key.age_days - 1.0 < 6",
        "key.age_days * 2 >= 60",
        "key.age_days / 2 < 45",
        "key.age_days % 7 == 0",
        "key.age_days ** 1 > 100",
        "(1 << 3) == 8",
        "(16 >> 2) == key.age_days",
        "(key.service ?? \"none\") == \"s3\"",
        "\"s3\" in [\"s3\", key.service]",
        "30 in 0..key.age_days",
        "user.has_tag(\"iam-audit:delete-after\")",
        "user.name.starts_with(\"svc\")",
        "[1][5] > 0",
        "true",
        "false",
    ];
    let joins = [" && ", " || ", " & ", " | ", " ^ ", " == ", " != "];
    let comments = [
        "/* ( */",
        "/* ) */",
        "/* \" */",
        "/* || */",
        "/* /* ) */ */",
        "// )\n",
    ];
    let mut state = 11u64;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % n as u64) as usize
    };
    // Written out: each shape a prefilter once got wrong.
    let mut conditions: Vec<String> = vec![
        "key.never_used && key.age_days > 30 | true".into(),
        "key.never_used && key.age_days > 30 ^ true".into(),
        "key.status == \"Active\" && key.age_days > 30 & [1][5] > 0".into(),
        "key.never_used && key.age_days > 3 /* ( */ || true /* ) */".into(),
        "key.never_used && key.age_days > 3 /* \" */ || true /* \" */".into(),
        "key.never_used && (key.age_days > 3 /* ) */ || true)".into(),
    ];
    while conditions.len() < 160 {
        let terms = 2 + next(3);
        let mut c = String::new();
        for t in 0..terms {
            if t > 0 {
                // Mostly `&&`, so that prefilters are found.
                c.push_str(if next(2) == 0 {
                    " && "
                } else {
                    joins[next(joins.len())]
                });
            }
            if next(6) == 0 {
                c.push_str(comments[next(comments.len())]);
                c.push(' ');
            }
            let term = if t == 0 || next(2) == 0 {
                simple[next(simple.len())]
            } else {
                other[next(other.len())]
            };
            match next(8) {
                0 => c.push_str(&format!("({term})")),
                1 => c.push_str(&format!("!({term})")),
                _ => c.push_str(term),
            }
        }
        if next(10) == 0 {
            c = format!("if {} {{ return false; }} {c}", simple[next(simple.len())]);
        }
        conditions.push(c);
    }
    let rules: Vec<(String, String)> = conditions
        .iter()
        .enumerate()
        .map(|(i, c)| (format!("gen-{i:03}"), c.clone()))
        .collect();
    let specs: Vec<(&str, &str, &str)> = rules
        .iter()
        .map(|(id, c)| (id.as_str(), "key", c.as_str()))
        .collect();
    let dir = temp_pack(&specs);
    let set = RuleSet::load(&[dir.path().display().to_string()]).unwrap();
    let with = set.compile(&[]).unwrap();
    let mut without = set.compile(&[]).unwrap();
    let guarded = with.rules.iter().filter(|r| r.prefilter.is_some()).count();
    assert!(
        guarded >= 40,
        "too few prefilters to mean anything: {guarded}"
    );
    for r in &mut without.rules {
        r.prefilter = None;
    }
    for unknown in [false, true] {
        let inv = Arc::new(random_inventory(400, &[], unknown));
        let a = evaluate(inv.clone(), &with, &opts());
        let b = evaluate(inv, &without, &opts());
        for (i, (ra, rb)) in a.runs.iter().zip(&b.runs).enumerate() {
            assert_eq!(
                ra.findings, rb.findings,
                "`{}`: {} finding(s) with its prefilter {:?}, {} without",
                conditions[i], ra.findings, with.rules[i].prefilter, rb.findings
            );
        }
        let per_rule = |r: &iam_audit::engine::Report| {
            let mut out = std::collections::BTreeMap::<String, Vec<String>>::new();
            for f in &r.findings {
                out.entry(f.rule.id.clone()).or_default().push(f.id.clone());
            }
            for n in &r.not_evaluable {
                out.entry(n.rule_id.clone())
                    .or_default()
                    .push(format!("not evaluable: {}", n.extent()));
            }
            for e in &r.rule_errors {
                out.entry(e.rule_id.clone())
                    .or_default()
                    .push(format!("error: {} {} (+{})", e.record, e.message, e.more));
            }
            out
        };
        let (pa, pb) = (per_rule(&a), per_rule(&b));
        for (id, cond) in &rules {
            assert_eq!(
                pa.get(id),
                pb.get(id),
                "`{cond}` (unknown last uses: {unknown})"
            );
        }
    }
}

/// What the stock and cis-aws packs spend, per record, on the example inventory and on a
/// generated one: the default run budget must be far out of their reach at the scale of a
/// 10,000-account organization (100 users of 2 keys each per account).
#[test]
fn default_rule_budget_is_out_of_reach_of_the_builtin_packs() {
    let set = RuleSet::load(&["builtin:stock".to_string(), "builtin:cis-aws".to_string()]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    assert_eq!(
        compiled.rule_budget_ops(),
        iam_audit::rules::script::DEFAULT_RULE_BUDGET_OPS
    );
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/inventory_20260306_120000.json"
    ))
    .unwrap();
    let example =
        iam_audit::inventory::json::read_inventory(std::path::Path::new("x.json"), &text).unwrap();
    // Per record of the inventory (users and keys): a `username` rule's one evaluation covers
    // every user of the name, so its cost grows with the users, not with its evaluations.
    let mut most_per_record = 0.0f64;
    for inv in [example, random_inventory(2000, &[], true)] {
        let records = (inv.user_count() + inv.key_count()) as f64;
        let report = evaluate(Arc::new(inv), &compiled, &opts());
        assert!(report.rule_errors.is_empty(), "{:?}", report.rule_errors);
        for run in &report.runs {
            let per = run.operations as f64 / records;
            println!(
                "{}: {} operations, {per:.1} per record",
                run.rule_id, run.operations
            );
            most_per_record = most_per_record.max(per);
        }
    }
    println!("most: {most_per_record:.1} operations per record");
    let records = 10_000.0 * (100.0 + 200.0);
    assert!(
        most_per_record * records * 10.0 < iam_audit::rules::script::DEFAULT_RULE_BUDGET_OPS as f64,
        "{most_per_record:.1} operations per record: the default budget is within 10x of a \
         10,000-account run"
    );
}

fn inv_keys_unknown(inv: &Inventory) -> std::collections::BTreeSet<&str> {
    inv.accounts
        .iter()
        .flat_map(|a| &a.users)
        .flat_map(|u| &u.access_keys)
        .filter(|k| k.last_used_unknown)
        .map(|k| k.id.as_str())
        .collect()
}

/// Writes a one-pack folder of whole rule files `(id, body after the id line)`.
fn raw_pack(rules: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<String> = rules.iter().map(|(id, _)| format!("  - {id}\n")).collect();
    std::fs::write(
        dir.path().join("pack.yaml"),
        format!("pack: custom\ntitle: t\nrules:\n{}", ids.concat()),
    )
    .unwrap();
    for (id, body) in rules {
        std::fs::write(
            dir.path().join(format!("{id}.yaml")),
            format!("id: {id}\ntitle: T\nseverity: high\n{body}description: d\nremediation: r\n"),
        )
        .unwrap();
    }
    dir
}

fn event(minute: u32, name: &str, actor: &str, error: Option<&str>) -> iam_audit::inventory::Event {
    iam_audit::inventory::Event {
        time: Utc.with_ymd_and_hms(2026, 3, 5, 22, minute, 0).unwrap(),
        name: name.into(),
        actor: actor.into(),
        account_id: "111111111111".into(),
        account_name: "Dev".into(),
        resources: vec!["admin-user".into()],
        error_code: error.map(str::to_string),
        error_message: error.map(|e| format!("{e}: not authorized")),
        source_ip: Some("203.0.113.7".into()),
        region: Some("us-east-1".into()),
        actor_type: Some("IAMUser".into()),
        ..Default::default()
    }
}

fn events_inventory(unavailable: &[Field]) -> Inventory {
    let mut inv = Inventory::new(SourceKind::InventoryJson);
    inv.unavailable = unavailable.iter().copied().collect();
    inv.accounts.push(Account::new("111111111111", "Dev"));
    inv.events = vec![
        event(1, "DeactivateMFADevice", "mallory", Some("AccessDenied")),
        event(2, "DeactivateMFADevice", "security-team", None),
        event(3, "CreateAccessKey", "mallory", Some("LimitExceeded")),
    ];
    inv.normalize();
    inv
}

fn findings_of<'r>(report: &'r iam_audit::engine::Report, rule: &str) -> Vec<&'r str> {
    report
        .findings
        .iter()
        .filter(|f| f.rule.id == rule)
        .map(|f| f.subject.username.as_deref().unwrap_or(""))
        .collect()
}

/// Issue 9 item 2: a CloudTrail record with an `errorCode` is a failed call, not an event a
/// rule counts, unless the rule asks for failures with `include_failed: true`.
#[test]
fn failed_calls_are_seen_only_by_rules_that_include_them() {
    let dir = raw_pack(&[
        (
            "deactivations",
            "scope: event\ncondition: event.name == \"DeactivateMFADevice\"\nmessage: \"{event.actor}\"\n",
        ),
        (
            "denied-calls",
            "scope: event\ninclude_failed: true\ncondition: event.failed && event.error_code == \"AccessDenied\"\nmessage: \"{event.actor} denied: {event.error_message}\"\n",
        ),
        (
            "every-deactivation-attempt",
            "scope: event\ninclude_failed: true\ncondition: event.name == \"DeactivateMFADevice\"\nmessage: \"{event.actor}\"\n",
        ),
        (
            "details",
            "scope: event\ncondition: event.source_ip == \"203.0.113.7\" && event.region == \"us-east-1\" && event.actor_type == \"IAMUser\" && event.error_code == () && event.mfa_used == () && event.login_outcome == () && event.actor_arn == () && event.user_agent == () && !event.failed\nmessage: \"{event.actor}\"\n",
        ),
    ]);
    let set = RuleSet::load(&[dir.path().display().to_string()]).unwrap_or_else(|e| panic!("{e}"));
    let compiled = set.compile(&[]).unwrap_or_else(|e| panic!("{e}"));
    let report = evaluate(Arc::new(events_inventory(&[])), &compiled, &opts());
    assert!(report.rule_errors.is_empty(), "{:?}", report.rule_errors);
    assert!(
        report.not_evaluable.is_empty(),
        "{:?}",
        report.not_evaluable
    );
    assert_eq!(findings_of(&report, "deactivations"), ["security-team"]);
    assert_eq!(findings_of(&report, "denied-calls"), ["mallory"]);
    let denied = report
        .findings
        .iter()
        .find(|f| f.rule.id == "denied-calls")
        .unwrap();
    assert_eq!(
        denied.message,
        "mallory denied: AccessDenied: not authorized"
    );
    let mut attempts = findings_of(&report, "every-deactivation-attempt");
    attempts.sort_unstable();
    assert_eq!(attempts, ["mallory", "security-team"]);
    assert_eq!(findings_of(&report, "details"), ["security-team"]);
    // Failed calls are not evaluations of a rule that does not include them.
    let runs = |id: &str| {
        report
            .runs
            .iter()
            .find(|r| r.rule_id == id)
            .unwrap()
            .evaluations
    };
    assert_eq!(runs("deactivations"), 1);
    assert_eq!(runs("denied-calls"), 3);

    // The stock events CSV has no event details: those rules are not evaluable, never
    // silently passed, while a rule on the event name still runs.
    let report = evaluate(
        Arc::new(events_inventory(&[Field::EventDetails])),
        &compiled,
        &opts(),
    );
    let ne: Vec<&str> = report
        .not_evaluable
        .iter()
        .map(|n| n.rule_id.as_str())
        .collect();
    assert_eq!(
        ne,
        ["denied-calls", "details"],
        "{:?}",
        report.not_evaluable
    );
    assert!(report
        .not_evaluable
        .iter()
        .all(|n| n.fields.contains("event.details")));
}

#[test]
fn include_failed_is_only_for_event_rules() {
    let dir = raw_pack(&[(
        "user-rule",
        "scope: user\ninclude_failed: true\ncondition: user.password_enabled\nmessage: \"{user.name}\"\n",
    )]);
    let err = RuleSet::load(&[dir.path().display().to_string()])
        .expect_err("must not load")
        .to_string();
    assert!(err.contains("user-rule.yaml:5:17"), "{err}");
    assert!(err.contains("include_failed"), "{err}");
}

/// Issue 9 item 7: a key or password whose last use the source could not tell is not
/// evaluable for the rules that read it, never treated as never used.
#[test]
fn unknown_last_use_is_not_evaluable_never_never_used() {
    let mut inv = inventory_with_inactive_key(&[Field::Events]);
    {
        let user = &mut inv.accounts[0].users[0];
        user.access_keys[0].status = KeyStatus::Active;
        user.access_keys[0].last_used_unknown = true;
        user.password.enabled = true;
        user.password.last_used_unknown = true;
        user.created = Some(Utc.with_ymd_and_hms(2013, 1, 1, 0, 0, 0).unwrap());
    }
    let set = RuleSet::load(&[]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let report = evaluate(Arc::new(inv), &compiled, &opts());
    for id in ["unused-active-key", "zombie-user", "console-without-mfa"] {
        assert!(
            findings_of(&report, id).is_empty(),
            "{id} fired on an unknown last use"
        );
    }
    let fields = |id: &str| {
        report
            .not_evaluable
            .iter()
            .find(|n| n.rule_id == id)
            .unwrap_or_else(|| {
                panic!(
                    "{id} not listed as not evaluable: {:?}",
                    report.not_evaluable
                )
            })
            .fields
            .clone()
    };
    assert!(fields("unused-active-key").contains("key.last_used"));
    assert!(fields("zombie-user").contains("user.password_last_used"));
    assert!(fields("console-without-mfa").contains("user.password_last_used"));
}

/// Issue 12 item 3: who created a key, from where, in the messages of
/// `new-key-unrecognized-user` and `key-created-by-other`; item 2: the offboarding message.
#[test]
fn provenance_and_offboarding_messages() {
    let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap();
    let mut inv = Inventory::new(SourceKind::InventoryJson);
    let mut acct = Account::new("111111111111", "Dev");
    let mut mallory = User::named("mallory");
    mallory.access_keys.push(AccessKey {
        id: "AKIAMALLORYNEWKEY001".into(),
        created: at(6, 10),
        ..Default::default()
    });
    let mut alice = User::named("alice");
    alice.access_keys.push(AccessKey {
        id: "AKIAALICENEWKEY00001".into(),
        created: at(6, 11),
        ..Default::default()
    });
    let mut bob = User::named("bob");
    bob.access_keys.push(AccessKey {
        id: "AKIABOBLEFTACTIVE001".into(),
        created: Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
        last_used: Some(at(5, 0)),
        ..Default::default()
    });
    acct.users = vec![alice, bob, mallory];
    inv.accounts.push(acct);
    let event = |time, name: &str, actor: &str, user: &str, key: Option<&str>| {
        iam_audit::inventory::Event {
            time,
            name: name.into(),
            actor: actor.into(),
            account_id: "111111111111".into(),
            account_name: "Dev".into(),
            user_name: Some(user.into()),
            access_key_id: key.map(str::to_string),
            ..Default::default()
        }
    };
    let mut created = event(
        at(6, 10),
        "CreateAccessKey",
        "admin-user",
        "mallory",
        Some("AKIAMALLORYNEWKEY001"),
    );
    created.actor_type = Some("IAMUser".into());
    created.source_ip = Some("203.0.113.7".into());
    created.user_agent = Some("aws-cli/2.15.0".into());
    inv.events = vec![
        created,
        event(
            at(3, 12),
            "DeleteLoginProfile",
            "security-team",
            "bob",
            None,
        ),
    ];
    inv.normalize();
    let set = RuleSet::load(&[]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let report = evaluate(Arc::new(inv.clone()), &compiled, &opts());
    let message = |rule: &str, user: &str| {
        report
            .findings
            .iter()
            .find(|f| f.rule.id == rule && f.subject.username.as_deref() == Some(user))
            .map_or_else(
                || panic!("no {rule} finding for {user}"),
                |f| f.message.clone(),
            )
    };
    assert_eq!(
        message("new-key-unrecognized-user", "mallory"),
        "Access key AKIAMALLORYNEWKEY001 was created 2026-03-06 10:00:00 for mallory in Dev \
         (111111111111), who is not a known user; created by admin-user (IAMUser) from \
         203.0.113.7 with aws-cli/2.15.0."
    );
    assert_eq!(
        message("new-key-unrecognized-user", "alice"),
        "Access key AKIAALICENEWKEY00001 was created 2026-03-06 11:00:00 for alice in Dev \
         (111111111111), who is not a known user; created by an unknown caller (no \
         CreateAccessKey event for it in the events read)."
    );
    assert_eq!(
        message("key-created-by-other", "mallory"),
        "Access key AKIAMALLORYNEWKEY001 of mallory in Dev (111111111111) was created by \
         admin-user (IAMUser) from 203.0.113.7 with aws-cli/2.15.0 at 2026-03-06 10:00:00: \
         neither the user nor a listed key creator."
    );
    assert_eq!(findings_of(&report, "key-created-by-other"), ["mallory"]);
    assert_eq!(
        message("offboarding-keys-left-active", "bob"),
        "bob in Dev (111111111111) lost console access 2026-03-03 12:00:00 (72 hours ago, \
         more than 24) but still has 1 Active access key(s)."
    );

    // Without events: the provenance and offboarding rules are not evaluable, the new-key
    // rule still fires and says why it cannot name the creator.
    inv.events.clear();
    inv.unavailable.insert(Field::Events);
    let report = evaluate(Arc::new(inv), &compiled, &opts());
    let ne: Vec<&str> = report
        .not_evaluable
        .iter()
        .map(|n| n.rule_id.as_str())
        .collect();
    assert!(ne.contains(&"key-created-by-other"), "{ne:?}");
    assert!(ne.contains(&"offboarding-keys-left-active"), "{ne:?}");
    assert!(!ne.contains(&"new-key-unrecognized-user"), "{ne:?}");
    let f = report
        .findings
        .iter()
        .find(|f| f.rule.id == "new-key-unrecognized-user")
        .unwrap();
    assert!(
        f.message
            .ends_with("created by an unknown caller (no CloudTrail events were read)."),
        "{}",
        f.message
    );
}
