//! Rule packs: loading, validation, params, compilation into the sandboxed Rhai engine.

pub mod docs;
pub mod fields;
pub mod fixtures;
pub mod pack;
pub mod params;
pub mod prefilter;
pub mod record;
pub mod refs;
pub mod scopes;
pub mod script;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use rhai::Engine;

use crate::error::{Error, PackError, ParamsError};
use pack::{load_dir, load_pack, EmbeddedFiles, Pack, Rule};
use params::{EffectiveParams, ParamOverride};
use script::{build_engine, compile_rule, CompiledRule};

include!(concat!(env!("OUT_DIR"), "/builtin_packs.rs"));

/// The pack used when no `--rules` is given.
pub const DEFAULT_PACK: &str = "builtin:stock";

/// The loaded packs of a run.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub packs: Vec<Pack>,
}

/// Loads a built-in pack by name.
pub fn builtin_pack(name: &str) -> Result<Pack, Vec<String>> {
    let Some((name, files)) = BUILTIN_PACKS.iter().find(|(n, _)| *n == name) else {
        return Err(vec![format!(
            "builtin:{name}: no such built-in pack (built-in: {})",
            BUILTIN_PACKS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )]);
    };
    let mut pack = load_pack(&EmbeddedFiles { name, files })?;
    pack.origin = format!("builtin:{name}");
    Ok(pack)
}

/// The files of a pack named by a spec: `builtin:NAME`, a pack folder, or a file in one
/// (`pack.yaml`, a rule file, or a fixture under `tests/`).
pub fn pack_files(spec: &str) -> Result<Box<dyn pack::PackFiles>, String> {
    if let Some(name) = spec.strip_prefix("builtin:") {
        return match BUILTIN_PACKS.iter().find(|(n, _)| *n == name) {
            Some((name, files)) => Ok(Box::new(EmbeddedFiles { name, files })),
            None => Err(format!(
                "{spec}: no such built-in pack (built-in: {})",
                builtin_names().join(", ")
            )),
        };
    }
    let path = Path::new(spec);
    let mut dir = if path.is_file() {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    } else {
        path.to_path_buf()
    };
    if !dir.join("pack.yaml").is_file() && dir.file_name().is_some_and(|n| n == "tests") {
        if let Some(parent) = dir.parent() {
            dir = parent.to_path_buf();
        }
    }
    if !path.exists() {
        return Err(format!("{spec}: no such file or folder"));
    }
    if !dir.join("pack.yaml").is_file() {
        return Err(format!(
            "{spec}: not a rule pack (no pack.yaml manifest in this folder)"
        ));
    }
    Ok(Box::new(pack::DirFiles(if dir.as_os_str().is_empty() {
        std::path::PathBuf::from(".")
    } else {
        dir
    })))
}

/// The origin a pack loaded from `spec` is given (`builtin:NAME` or its folder).
fn origin_of(spec: &str, files: &dyn pack::PackFiles) -> String {
    if spec.starts_with("builtin:") {
        spec.to_string()
    } else {
        let manifest = files.display("pack.yaml");
        manifest
            .strip_suffix("pack.yaml")
            .map(|d| d.trim_end_matches('/').to_string())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| ".".into())
    }
}

/// Loads the pack named by `spec` as far as it can (see [`pack::load_pack_partial`]).
pub fn load_partial(spec: &str) -> (Option<Pack>, Vec<String>) {
    match pack_files(spec) {
        Err(e) => (None, vec![e]),
        Ok(files) => {
            let (pack, problems) = pack::load_pack_partial(files.as_ref());
            let pack = pack.map(|mut p| {
                p.origin = origin_of(spec, files.as_ref());
                p
            });
            (pack, problems)
        }
    }
}

/// Names of the built-in packs.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN_PACKS.iter().map(|(n, _)| *n).collect()
}

impl RuleSet {
    /// Loads packs named by `specs` (`builtin:NAME` or a pack folder); none means the stock
    /// pack. Reports every problem of every pack at once.
    pub fn load(specs: &[String]) -> Result<RuleSet, Error> {
        let default = [DEFAULT_PACK.to_string()];
        let specs = if specs.is_empty() {
            &default[..]
        } else {
            specs
        };
        let mut packs = Vec::new();
        let mut problems = Vec::new();
        for spec in specs {
            let loaded = match spec.strip_prefix("builtin:") {
                Some(name) => builtin_pack(name),
                None => load_dir(Path::new(spec)),
            };
            match loaded {
                Ok(p) => packs.push(p),
                Err(mut e) => problems.append(&mut e),
            }
        }
        let mut names: BTreeMap<&str, &str> = BTreeMap::new();
        for pack in &packs {
            if let Some(first) = names.insert(&pack.name, &pack.origin) {
                problems.push(format!(
                    "pack name `{}` is loaded twice ({first} and {})",
                    pack.name, pack.origin
                ));
            }
        }
        let mut ids: BTreeMap<&str, &Rule> = BTreeMap::new();
        for rule in packs.iter().flat_map(|p| &p.rules) {
            if let Some(first) = ids.insert(&rule.id, rule) {
                problems.push(format!(
                    "{}: rule id `{}` is already defined in {}",
                    rule.file, rule.id, first.file
                ));
            }
        }
        if problems.is_empty() {
            Ok(RuleSet { packs })
        } else {
            Err(PackError { problems }.into())
        }
    }

    /// Every rule of every pack, in load order.
    pub fn rules(&self) -> impl Iterator<Item = (&Pack, &Rule)> {
        self.packs
            .iter()
            .flat_map(|p| p.rules.iter().map(move |r| (p, r)))
    }

    /// The effective params of every rule after overrides (later overrides win; a rule-level
    /// override wins over a pack-level one whatever the order).
    pub fn effective_params(
        &self,
        overrides: &[ParamOverride],
    ) -> Result<BTreeMap<String, EffectiveParams>, Error> {
        let mut problems = Vec::new();
        let rule_ids: BTreeSet<&str> = self.rules().map(|(_, r)| r.id.as_str()).collect();
        for o in overrides {
            match &o.rule {
                Some(rule) if !rule_ids.contains(rule.as_str()) => problems.push(format!(
                    "{}: `{rule}.{}`: no loaded rule has the id `{rule}`",
                    o.origin, o.name
                )),
                Some(rule) => {
                    let declared = self
                        .rules()
                        .find(|(_, r)| r.id == *rule)
                        .and_then(|(p, _)| p.param(&o.name));
                    if declared.is_none() {
                        problems.push(format!(
                            "{}: rule `{rule}` has no param `{}`",
                            o.origin, o.name
                        ));
                    }
                }
                None => {
                    if !self.packs.iter().any(|p| p.param(&o.name).is_some()) {
                        problems.push(format!(
                            "{}: no loaded pack declares a param `{}`",
                            o.origin, o.name
                        ));
                    }
                }
            }
        }
        let mut out = BTreeMap::new();
        for (pack, rule) in self.rules() {
            let mut eff = EffectiveParams::new();
            for decl in &pack.params {
                let mut value = decl.default.clone();
                let pack_level = overrides.iter().filter(|o| o.rule.is_none());
                let rule_level = overrides
                    .iter()
                    .filter(|o| o.rule.as_deref() == Some(rule.id.as_str()));
                for o in pack_level.chain(rule_level).filter(|o| o.name == decl.name) {
                    match o.typed(decl.ty) {
                        Ok(v) => value = v,
                        Err(e) => {
                            let msg = format!(
                                "{}: param `{}` ({}): {e}",
                                o.origin,
                                o.name,
                                decl.ty.as_str()
                            );
                            if !problems.contains(&msg) {
                                problems.push(msg);
                            }
                        }
                    }
                }
                eff.insert(decl.name.clone(), value);
            }
            out.insert(rule.id.clone(), eff);
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(ParamsError { problems }.into())
        }
    }

    /// Compiles every rule once, with its effective params.
    pub fn compile(&self, overrides: &[ParamOverride]) -> Result<CompiledRules, Error> {
        let params = self.effective_params(overrides)?;
        let engine = build_engine();
        let mut rules = Vec::new();
        let mut problems = Vec::new();
        // Rules with the same effective params share one `p`, so the engine binds it once per
        // record for the whole group.
        let mut shared: Vec<(String, script::ParamsRec)> = Vec::new();
        for (_, rule) in self.rules() {
            let eff = params.get(&rule.id).cloned().unwrap_or_default();
            let key = serde_json::to_string(
                &eff.iter()
                    .map(|(k, v)| (k, v.to_json()))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default();
            let p = if let Some((_, p)) = shared.iter().find(|(k, _)| *k == key) {
                p.clone()
            } else {
                let p = script::params_rec(&eff);
                shared.push((key, p.clone()));
                p
            };
            match compile_rule(&engine, Arc::new(rule.clone()), eff, Some(p)) {
                Ok(c) => rules.push(c),
                Err(mut e) => problems.append(&mut e),
            }
        }
        if problems.is_empty() {
            Ok(CompiledRules {
                engine,
                rules,
                rule_budget_ops: std::sync::atomic::AtomicU64::new(script::DEFAULT_RULE_BUDGET_OPS),
            })
        } else {
            Err(PackError { problems }.into())
        }
    }
}

/// Compiled rules and the engine that runs them.
pub struct CompiledRules {
    pub engine: Engine,
    pub rules: Vec<CompiledRule>,
    /// Operations each rule may spend over a whole evaluation (`--rule-budget-ops`). Set by
    /// the command that runs them, which holds the rules shared (`scan` and `evaluate`).
    rule_budget_ops: std::sync::atomic::AtomicU64,
}

impl CompiledRules {
    /// Operations each rule may spend over a whole evaluation.
    pub fn rule_budget_ops(&self) -> u64 {
        self.rule_budget_ops
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets the operations each rule may spend over a whole evaluation (validated by
    /// [`script::parse_rule_budget_ops`] where it is read).
    pub fn set_rule_budget_ops(&self, ops: u64) {
        self.rule_budget_ops
            .store(ops.max(1), std::sync::atomic::Ordering::Relaxed);
    }
}
