//! Rule fixtures: YAML files of cases (an inventory, an `as_of`, optional param overrides, an
//! expected outcome) that a rule must pass. `rules/<pack>/tests/<rule-id>.yaml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::analysis::metrics::Classifier;
use crate::engine::{evaluate, EvalOptions};
use crate::inventory::{Account, Event, Field, Inventory, SourceKind};
use crate::rules::pack::{parse_yaml, Pack};
use crate::rules::params::{OverrideOrigin, OverrideValue, ParamOverride};
use crate::rules::RuleSet;

/// A fixture file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixtureFile {
    /// The rule under test.
    pub rule: String,
    /// The instant ages are measured from, for every case (a case may override it).
    pub as_of: DateTime<Utc>,
    pub cases: Vec<Case>,
}

/// One case: an inventory and what the rule must do with it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    pub expect: Expect,
    /// Exact number of findings expected (with `expect: finding`).
    #[serde(default)]
    pub count: Option<usize>,
    /// Usernames (or key ids) the findings must be about, exactly (with `expect: finding`).
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
    /// Param overrides for this case.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Fields the case's input lacks (as a stock CSV would).
    #[serde(default)]
    pub unavailable: BTreeSet<Field>,
    #[serde(default)]
    pub accounts: Vec<Account>,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// The expected outcome of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// The rule fires.
    Finding,
    /// The rule does not fire.
    NoFinding,
    /// The rule cannot be evaluated on this input (a field it needs is missing).
    NotEvaluable,
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub rule: String,
    pub case: String,
    pub expect: Expect,
    /// `None` when the case passed; what went wrong otherwise.
    pub failure: Option<String>,
}

/// Runs the fixture file at `path` against `pack`.
pub fn run_file(path: &Path, pack: &Pack) -> Result<Vec<CaseResult>, String> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{display}: {e}"))?;
    let file: FixtureFile = parse_yaml(&display, &text)?;
    let Some(rule) = pack.rules.iter().find(|r| r.id == file.rule) else {
        return Err(format!(
            "{display}: rule `{}` is not in pack `{}`",
            file.rule, pack.name
        ));
    };
    let single = RuleSet {
        packs: vec![Pack {
            rules: vec![rule.clone()],
            ..pack.clone()
        }],
    };
    let mut results = Vec::new();
    for case in &file.cases {
        let overrides: Vec<ParamOverride> = case
            .params
            .iter()
            .map(|(name, v)| ParamOverride {
                rule: None,
                name: name.clone(),
                value: OverrideValue::Json(v.clone()),
                origin: OverrideOrigin::Config(format!("{display} case `{}`", case.name)),
            })
            .collect();
        let failure = match single.compile(&overrides) {
            Err(e) => Some(format!("rule does not compile: {e}")),
            Ok(compiled) => {
                let mut inv = Inventory::new(SourceKind::InventoryJson);
                inv.unavailable = case.unavailable.clone();
                inv.accounts = case.accounts.clone();
                inv.events = case.events.clone();
                inv.normalize();
                let report = evaluate(
                    Arc::new(inv),
                    &compiled,
                    &EvalOptions {
                        as_of: case.as_of.unwrap_or(file.as_of),
                        classifier: Classifier::default(),
                    },
                );
                let found: Vec<_> = report
                    .findings
                    .iter()
                    .filter(|f| f.rule.id == rule.id)
                    .collect();
                let not_eval = report.not_evaluable.iter().any(|n| n.rule_id == rule.id);
                if let Some(e) = report.rule_errors.first() {
                    Some(format!("rule error on {}: {}", e.record, e.message))
                } else {
                    match case.expect {
                        Expect::Finding if found.is_empty() => Some(if not_eval {
                            "expected a finding; the rule was not evaluable".to_string()
                        } else {
                            "expected a finding; the rule did not fire".to_string()
                        }),
                        Expect::Finding => {
                            let mut problems = Vec::new();
                            if let Some(n) = case.count {
                                if n != found.len() {
                                    problems.push(format!(
                                        "expected {n} finding(s), got {}",
                                        found.len()
                                    ));
                                }
                            }
                            if let Some(want) = &case.subjects {
                                let mut want = want.clone();
                                want.sort();
                                let mut got: Vec<String> = found
                                    .iter()
                                    .map(|f| {
                                        f.subject
                                            .access_key_id
                                            .clone()
                                            .or_else(|| f.subject.username.clone())
                                            .or_else(|| f.subject.account_id.clone())
                                            .map(|s| s.to_string())
                                            .unwrap_or_default()
                                    })
                                    .collect();
                                got.sort();
                                if got != want {
                                    problems.push(format!(
                                        "expected findings about {want:?}, got {got:?}"
                                    ));
                                }
                            }
                            (!problems.is_empty()).then(|| problems.join("; "))
                        }
                        Expect::NoFinding if !found.is_empty() => Some(format!(
                            "expected no finding; got {}: {}",
                            found.len(),
                            found[0].message
                        )),
                        Expect::NoFinding if not_eval => {
                            Some("expected no finding; the rule was not evaluable".to_string())
                        }
                        Expect::NoFinding => None,
                        Expect::NotEvaluable if !found.is_empty() => Some(format!(
                            "expected not evaluable; got a finding: {}",
                            found[0].message
                        )),
                        Expect::NotEvaluable if !not_eval => {
                            Some("expected not evaluable; the rule was evaluated".to_string())
                        }
                        Expect::NotEvaluable => None,
                    }
                }
            }
        };
        results.push(CaseResult {
            rule: rule.id.clone(),
            case: case.name.clone(),
            expect: case.expect,
            failure,
        });
    }
    Ok(results)
}
