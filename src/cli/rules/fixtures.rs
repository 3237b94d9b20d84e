//! Runs rule fixtures (parsed by [`crate::rules::fixtures`]) through the engine: each case's
//! inventory evaluated with the one rule under test, judged against what the case expects.
//! Above the engine, so it lives with the command that uses it (`rules test`).

use std::path::Path;
use std::sync::Arc;

use crate::analysis::metrics::Classifier;
use crate::engine::{evaluate, EvalOptions};
use crate::inventory::{Inventory, SourceKind};
use crate::rules::fixtures::{parse, Case, Expect};
use crate::rules::pack::Pack;
use crate::rules::params::{OverrideOrigin, OverrideValue, ParamOverride};
use crate::rules::RuleSet;

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseResult {
    pub rule: String,
    pub case: String,
    pub expect: Expect,
    /// What the case expects, in words (`finding: 2 about [a, b]`).
    pub expected: String,
    /// What the rule did, in words.
    pub actual: String,
    /// `None` when the case passed; what went wrong otherwise.
    pub failure: Option<String>,
}

/// What a rule did with a case's inventory.
struct Actual {
    /// (subject, message) of each finding.
    findings: Vec<(String, String)>,
    not_evaluable: bool,
    error: Option<String>,
}

impl Actual {
    fn outcome(&self) -> Expect {
        if !self.findings.is_empty() {
            Expect::Finding
        } else if self.not_evaluable {
            Expect::NotEvaluable
        } else {
            Expect::NoFinding
        }
    }

    fn describe(&self) -> String {
        if let Some(e) = &self.error {
            return format!("rule error: {e}");
        }
        match self.outcome() {
            Expect::Finding => {
                let subjects: Vec<&str> = self.findings.iter().map(|(s, _)| s.as_str()).collect();
                format!(
                    "finding: {} about {subjects:?}: {}",
                    self.findings.len(),
                    self.findings[0].1
                )
            }
            other => other.as_str().to_string(),
        }
    }
}

fn expected_text(case: &Case) -> String {
    match case.expect {
        Expect::Finding => {
            let mut text = "finding".to_string();
            if let Some(n) = case.count {
                text.push_str(&format!(": {n}"));
            }
            if let Some(s) = &case.subjects {
                let mut s = s.clone();
                s.sort();
                text.push_str(&format!(" about {s:?}"));
            }
            text
        }
        Expect::KnownGap => format!(
            "known gap: should be {} but is not yet",
            case.gap.map_or("?", Expect::as_str)
        ),
        other => other.as_str().to_string(),
    }
}

/// Judges a case: `None` when it passed.
fn judge(case: &Case, actual: &Actual) -> Option<String> {
    if let Some(e) = &actual.error {
        return Some(format!("rule error: {e}"));
    }
    let got = actual.outcome();
    match case.expect {
        Expect::KnownGap => match case.gap {
            None | Some(Expect::KnownGap) => {
                Some("`expect: known-gap` needs `gap: finding | no-finding | not-evaluable` (what the rule should do)".into())
            }
            Some(ideal) if ideal == got => Some(format!(
                "the known gap is closed: the rule now gives {}; change `expect` to `{}`",
                got.as_str(),
                got.as_str()
            )),
            Some(_) => None,
        },
        want if want != got => Some(format!(
            "expected {}, got {}",
            want.as_str(),
            got.as_str()
        )),
        Expect::Finding => {
            let mut problems = Vec::new();
            if let Some(n) = case.count {
                if n != actual.findings.len() {
                    problems.push(format!(
                        "expected {n} finding(s), got {}",
                        actual.findings.len()
                    ));
                }
            }
            if let Some(want) = &case.subjects {
                let mut want = want.clone();
                want.sort();
                let mut got: Vec<&str> = actual.findings.iter().map(|(s, _)| s.as_str()).collect();
                got.sort_unstable();
                if got != want {
                    problems.push(format!("expected findings about {want:?}, got {got:?}"));
                }
            }
            (!problems.is_empty()).then(|| problems.join("; "))
        }
        _ => None,
    }
}

/// Runs the fixture file at `path` against `pack`.
pub fn run_file(path: &Path, pack: &Pack) -> Result<Vec<CaseResult>, String> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{display}: {e}"))?;
    run_text(&display, &text, pack)
}

/// Runs a fixture file's text against `pack`.
pub fn run_text(display: &str, text: &str, pack: &Pack) -> Result<Vec<CaseResult>, String> {
    let file = parse(display, text)?;
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
        let actual = match single.compile(&overrides) {
            Err(e) => Actual {
                findings: Vec::new(),
                not_evaluable: false,
                error: Some(format!("the rule does not compile: {e}")),
            },
            Ok(compiled) => {
                let mut inv = Inventory::new(SourceKind::InventoryJson);
                inv.unavailable.clone_from(&case.unavailable);
                inv.management_account_id
                    .clone_from(&case.management_account_id);
                inv.root_access = case.root_access;
                inv.accounts.clone_from(&case.accounts);
                inv.events.clone_from(&case.events);
                inv.normalize();
                let report = evaluate(
                    Arc::new(inv),
                    &compiled,
                    &EvalOptions {
                        as_of: case.as_of.unwrap_or(file.as_of),
                        classifier: Classifier::default(),
                    },
                );
                Actual {
                    findings: report
                        .findings
                        .iter()
                        .filter(|f| f.rule.id == rule.id)
                        .map(|f| {
                            let subject = f
                                .subject
                                .access_key_id
                                .clone()
                                .or_else(|| f.subject.username.clone())
                                .or_else(|| f.subject.account_id.clone())
                                .map(|s| s.to_string())
                                .unwrap_or_default();
                            (subject, f.message.clone())
                        })
                        .collect(),
                    not_evaluable: report.not_evaluable.iter().any(|n| n.rule_id == rule.id),
                    error: report
                        .rule_errors
                        .first()
                        .map(|e| format!("on {}: {}", e.record, e.message)),
                }
            }
        };
        results.push(CaseResult {
            rule: rule.id.clone(),
            case: case.name.clone(),
            expect: case.expect,
            expected: expected_text(case),
            actual: actual.describe(),
            failure: judge(case, &actual),
        });
    }
    Ok(results)
}
