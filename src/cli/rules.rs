//! `iam-audit rules list | show | validate | test`: rule authoring.

pub mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::json;

use crate::cli::args::{
    PackArgs, RulesCommand, RulesListArgs, RulesShowArgs, RulesTestArgs, RulesValidateArgs,
};
use crate::cli::evaluate::rules_and_overrides;
use crate::cli::exit::Outcome;
use crate::config::Config;
use crate::error::Error;
use crate::rules::fixtures::{self as fixture_files, Expect};
use crate::rules::pack::{Pack, Rule};
use crate::rules::params::ParamOverride;
use crate::rules::{load_partial, pack_files, RuleSet};

/// Runs a `rules` subcommand. `list` and `show` end clean; `validate` counts its problems as
/// rule errors (exit 2); `test` counts failed cases as gating findings (exit 1) and errors as
/// rule errors (exit 2). Both print their report on stdout, so neither is an [`Error`].
pub fn run(command: &RulesCommand) -> Result<Outcome, Error> {
    match command {
        RulesCommand::List(a) => list(a),
        RulesCommand::Show(a) => show(a),
        RulesCommand::Validate(a) => Ok(validate(a)),
        RulesCommand::Test(a) => Ok(test(a)),
    }
}

/// The packs and overrides named by `--rules`, `--config` and `--param`.
fn selection(packs: &PackArgs, params: &[String]) -> Result<(RuleSet, Vec<ParamOverride>), Error> {
    let config = packs.config.as_deref().map(Config::load).transpose()?;
    let (specs, overrides) = rules_and_overrides(&packs.rules, config.as_ref(), params)?;
    Ok((RuleSet::load(&specs)?, overrides))
}

fn list(a: &RulesListArgs) -> Result<Outcome, Error> {
    let (set, _) = selection(&a.packs, &[])?;
    let mut out = String::new();
    if a.format == "json" {
        let rows: Vec<_> = set
            .rules()
            .map(|(p, r)| {
                json!({"id": r.id, "scope": r.scope.as_str(), "severity": r.severity.as_str(),
                       "pack": p.name, "title": r.title, "tags": r.tags})
            })
            .collect();
        out = serde_json::to_string_pretty(&rows).unwrap_or_default();
        out.push('\n');
    } else if a.format == "table" {
        let width = set.rules().map(|(_, r)| r.id.len()).max().unwrap_or(2);
        let pack_width = set.packs.iter().map(|p| p.name.len()).max().unwrap_or(4);
        let _ = writeln!(
            out,
            "{:width$}  {:8}  {:8}  {:pack_width$}  TITLE",
            "ID", "SCOPE", "SEVERITY", "PACK"
        );
        for (p, r) in set.rules() {
            let _ = writeln!(
                out,
                "{:width$}  {:8}  {:8}  {:pack_width$}  {}",
                r.id,
                r.scope.as_str(),
                r.severity.as_str(),
                p.name,
                r.title
            );
        }
    } else {
        return Err(Error::Usage(format!(
            "--format `{}`: expected table or json",
            a.format
        )));
    }
    print!("{out}");
    Ok(Outcome::CLEAN)
}

/// The fixture cases of a rule, as (expect, name), or why there are none.
fn fixture_cases(pack: &Pack, rule: &Rule) -> Result<(String, Vec<(Expect, String)>), String> {
    let files = pack_files(&pack.origin)?;
    let name = format!("tests/{}.yaml", rule.id);
    let display = files.display(&name);
    if !files.fixture_files().contains(&name) {
        return Err(format!("none ({display} does not exist)"));
    }
    let text = files.read(&name).map_err(|e| format!("{display}: {e}"))?;
    let file = fixture_files::parse(&display, &text)?;
    Ok((
        display,
        file.cases.into_iter().map(|c| (c.expect, c.name)).collect(),
    ))
}

fn show(a: &RulesShowArgs) -> Result<Outcome, Error> {
    let (set, overrides) = selection(&a.packs, &a.params)?;
    let Some((pack, rule)) = set.rules().find(|(_, r)| r.id == a.id) else {
        let ids: Vec<&str> = set.rules().map(|(_, r)| r.id.as_str()).collect();
        return Err(Error::Usage(format!(
            "no loaded rule has the id `{}` (loaded: {})",
            a.id,
            ids.join(", ")
        )));
    };
    let effective = set.effective_params(&overrides)?;
    let effective = effective.get(&rule.id).cloned().unwrap_or_default();
    let used: BTreeSet<String> = crate::rules::refs::param_refs(&rule.condition)
        .into_iter()
        .chain(crate::rules::refs::param_refs(&rule.message))
        .collect();
    let fixtures = fixture_cases(pack, rule);
    if a.format == "json" {
        let params: Vec<_> = pack
            .params
            .iter()
            .filter(|p| used.contains(&p.name))
            .map(|p| {
                json!({"name": p.name, "type": p.ty.as_str(), "default": p.default.to_json(),
                       "effective": effective.get(&p.name).map(super::super::rules::params::ParamValue::to_json),
                       "description": p.description})
            })
            .collect();
        let fixtures = match &fixtures {
            Ok((file, cases)) => json!({"file": file, "cases": cases.iter()
                .map(|(e, n)| json!({"expect": e.as_str(), "name": n})).collect::<Vec<_>>()}),
            Err(e) => json!({"error": e}),
        };
        let doc = json!({
            "id": rule.id, "title": rule.title, "pack": pack.name, "origin": pack.origin,
            "file": rule.file, "severity": rule.severity.as_str(), "scope": rule.scope.as_str(),
            "tags": rule.tags, "references": rule.references, "description": rule.description,
            "remediation": rule.remediation, "message": rule.message,
            "condition": rule.condition, "condition_line": rule.condition_line,
            "params": params, "fixtures": fixtures,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        return Ok(Outcome::CLEAN);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", rule.id, rule.title);
    let _ = writeln!(out, "pack:       {} ({})", pack.name, pack.origin);
    let _ = writeln!(out, "file:       {}", rule.file);
    let _ = writeln!(out, "severity:   {}", rule.severity);
    let _ = writeln!(out, "scope:      {}", rule.scope);
    let _ = writeln!(out, "tags:       {}", rule.tags.join(", "));
    for r in &rule.references {
        let _ = writeln!(out, "reference:  {r}");
    }
    let section = |out: &mut String, title: &str, body: &str| {
        let _ = writeln!(out, "\n{title}");
        for line in body.trim_end().lines() {
            let _ = writeln!(out, "  {line}");
        }
    };
    section(&mut out, "Description", &rule.description);
    section(&mut out, "Remediation", &rule.remediation);
    section(&mut out, "Message", &rule.message);
    section(
        &mut out,
        &format!("Condition ({}:{})", rule.file, rule.condition_line),
        &rule.condition,
    );
    let _ = writeln!(out, "\nParams");
    let declared: Vec<_> = pack
        .params
        .iter()
        .filter(|p| used.contains(&p.name))
        .collect();
    if declared.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for p in declared {
        let eff = effective
            .get(&p.name)
            .map(std::string::ToString::to_string)
            .unwrap_or_default();
        let def = p.default.to_string();
        let changed = if eff == def { "" } else { "  (overridden)" };
        let _ = writeln!(
            out,
            "  {} ({}): default {}, effective {}{changed}\n    {}",
            p.name,
            p.ty.as_str(),
            def,
            eff,
            p.description.trim()
        );
    }
    match fixtures {
        Ok((file, cases)) => {
            let _ = writeln!(out, "\nFixtures ({file}, {} cases)", cases.len());
            for (expect, name) in cases {
                let _ = writeln!(out, "  {:13} {name}", expect.as_str());
            }
        }
        Err(e) => {
            let _ = writeln!(out, "\nFixtures: {e}");
        }
    }
    print!("{out}");
    Ok(Outcome::CLEAN)
}

/// Every problem of the packs at `paths`: loading, compiling, fixtures. Exit 2 on any.
fn validate(a: &RulesValidateArgs) -> Outcome {
    let mut problems: Vec<String> = Vec::new();
    let mut packs: Vec<Pack> = Vec::new();
    let mut cases = 0usize;
    for spec in &a.paths {
        let (pack, mut found) = load_partial(spec);
        problems.append(&mut found);
        let Some(pack) = pack else { continue };
        // Compile what loaded: syntax, undeclared params, unknown fields, message placeholders.
        let single = RuleSet {
            packs: vec![pack.clone()],
        };
        match single.compile(&[]) {
            Ok(_) => {}
            Err(Error::Rules(mut e)) => problems.append(&mut e.problems),
            Err(other) => problems.push(other.to_string()),
        }
        // Fixtures: every rule has a file with a firing case; every file names a rule.
        match pack_files(spec) {
            Err(e) => problems.push(e),
            Ok(files) => {
                let listed = files.fixture_files();
                let ids: BTreeSet<&str> = pack.rules.iter().map(|r| r.id.as_str()).collect();
                for name in &listed {
                    let display = files.display(name);
                    let parsed = files
                        .read(name)
                        .map_err(|e| format!("{display}: {e}"))
                        .and_then(|text| fixture_files::parse(&display, &text));
                    match parsed {
                        Err(e) => problems.push(e),
                        Ok(f) => {
                            cases += f.cases.len();
                            let stem = name
                                .strip_prefix("tests/")
                                .and_then(|n| n.strip_suffix(".yaml"))
                                .unwrap_or_default();
                            if f.rule != stem {
                                problems.push(format!(
                                    "{display}: `rule: {}` must equal the file stem `{stem}`",
                                    f.rule
                                ));
                            } else if !pack.listed.iter().any(|id| id == stem) {
                                problems.push(format!(
                                    "{display}: no rule `{stem}` in pack `{}`",
                                    pack.name
                                ));
                            }
                            if f.rule == stem
                                && ids.contains(stem)
                                && !f.cases.iter().any(|c| c.expect == Expect::Finding)
                            {
                                problems.push(format!(
                                    "{display}: rule `{stem}` has no firing fixture (a case with `expect: finding`)"
                                ));
                            }
                            for c in f.cases.iter().filter(|c| c.expect == Expect::KnownGap) {
                                if c.gap.is_none() {
                                    problems.push(format!(
                                        "{display}: case `{}`: `expect: known-gap` needs `gap:` (what the rule should do)",
                                        c.name
                                    ));
                                }
                            }
                        }
                    }
                }
                for r in &pack.rules {
                    let name = format!("tests/{}.yaml", r.id);
                    if !listed.contains(&name) {
                        problems.push(format!(
                            "{}: rule `{}` has no fixture file ({} with at least one `expect: finding` case)",
                            r.file,
                            r.id,
                            files.display(&name)
                        ));
                    }
                }
            }
        }
        packs.push(pack);
    }
    // Across packs: one pack name, one rule id.
    let mut names: BTreeMap<&str, &str> = BTreeMap::new();
    let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
    for pack in &packs {
        if let Some(first) = names.insert(&pack.name, &pack.origin) {
            problems.push(format!(
                "pack name `{}` is used twice ({first} and {})",
                pack.name, pack.origin
            ));
        }
        for r in &pack.rules {
            if let Some(first) = ids.insert(&r.id, &r.file) {
                problems.push(format!(
                    "{}: rule id `{}` is already defined in {first}",
                    r.file, r.id
                ));
            }
        }
    }
    let rules: usize = packs.iter().map(|p| p.rules.len()).sum();
    if problems.is_empty() {
        println!(
            "ok: {} pack(s), {rules} rule(s), {cases} fixture case(s), no problems",
            packs.len()
        );
    } else {
        for p in &problems {
            println!("{p}");
        }
        println!("{} problem(s)", problems.len());
    }
    Outcome {
        rule_errors: problems.len(),
        ..Outcome::CLEAN
    }
}

/// Runs fixtures; prints a pass/fail matrix and a diff per failure.
fn test(a: &RulesTestArgs) -> Outcome {
    let mut out = String::new();
    let mut failures = String::new();
    let (mut passed, mut failed, mut gaps) = (0usize, 0usize, 0usize);
    let mut errors = Vec::new();
    for spec in &a.paths {
        let (pack, problems) = load_partial(spec);
        if !problems.is_empty() {
            errors.extend(problems);
            continue;
        }
        let Some(pack) = pack else { continue };
        let files = match pack_files(spec) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        // A fixture file named on the command line runs alone; a pack runs all of its own.
        let only: Option<String> = std::path::Path::new(spec)
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| n.ends_with(".yaml") && *n != "pack.yaml")
            .map(|n| format!("tests/{n}"));
        let names: Vec<String> = files
            .fixture_files()
            .into_iter()
            .filter(|n| only.as_ref().is_none_or(|o| o == n))
            .filter(|n| a.rule.is_empty() || a.rule.iter().any(|r| n == &format!("tests/{r}.yaml")))
            .collect();
        let mut rows: Vec<(String, usize, usize, usize, usize)> = Vec::new();
        for name in &names {
            let display = files.display(name);
            let results = files
                .read(name)
                .map_err(|e| format!("{display}: {e}"))
                .and_then(|text| fixtures::run_text(&display, &text, &pack));
            let results = match results {
                Ok(r) => r,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let rule = results.first().map(|r| r.rule.clone()).unwrap_or_default();
            let (mut p, mut f, mut g) = (0, 0, 0);
            for r in &results {
                match &r.failure {
                    None if r.expect == Expect::KnownGap => g += 1,
                    None => p += 1,
                    Some(why) => {
                        f += 1;
                        let _ = writeln!(failures, "FAIL {} › {} ({display})", r.rule, r.case);
                        let _ = writeln!(failures, "  - expected: {}", r.expected);
                        let _ = writeln!(failures, "  + actual:   {}", r.actual);
                        let _ = writeln!(failures, "    {why}");
                    }
                }
            }
            passed += p;
            failed += f;
            gaps += g;
            rows.push((rule, results.len(), p, f, g));
        }
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(4).max(4);
        let _ = writeln!(out, "{} ({})", pack.origin, pack.name);
        let _ = writeln!(
            out,
            "  {:width$}  {:>5}  {:>5}  {:>5}  {:>5}",
            "RULE", "CASES", "PASS", "FAIL", "GAP"
        );
        for (rule, n, p, f, g) in rows {
            let mark = if f > 0 { "  ✗" } else { "" };
            let _ = writeln!(out, "  {rule:width$}  {n:>5}  {p:>5}  {f:>5}  {g:>5}{mark}");
        }
    }
    print!("{out}");
    if !failures.is_empty() {
        print!("\n{failures}");
    }
    for e in &errors {
        println!("error: {e}");
    }
    println!(
        "\n{} case(s): {passed} passed, {failed} failed, {gaps} known gap(s){}",
        passed + failed + gaps,
        if errors.is_empty() {
            String::new()
        } else {
            format!(", {} error(s)", errors.len())
        }
    );
    Outcome {
        gating_findings: failed,
        rule_errors: errors.len(),
        incomplete: false,
    }
}
