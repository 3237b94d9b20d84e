//! The config file (`--config iam-audit.yaml`): raw serde type with `deny_unknown_fields`,
//! errors with file:line:col. Command-line flags win over the file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::analysis::remediation::SlaDays;
use crate::error::InputError;
use crate::rules::params::{OverrideOrigin, OverrideValue, ParamOverride};

/// `iam-audit.yaml`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rule packs to load (`builtin:stock` or pack folders, relative to this file).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Param values for every rule whose pack declares the param.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Param values for one rule: `rule-id: {param: value}`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>")]
    pub rule_params: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    /// Regular expression for production account names (default `(?i)prod`).
    #[serde(default)]
    pub production_accounts: Option<String>,
    /// Gate: `critical`, `high`, `medium`, `low` or `none`.
    #[serde(default)]
    pub fail_on: Option<String>,
    /// Output formats (`csv`, `json`, `sarif`, `html`, `md`; default all of them).
    #[serde(default)]
    pub format: Option<Vec<String>>,
    /// Output folder, relative to this file.
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Waivers file, relative to this file.
    #[serde(default)]
    pub waivers: Option<PathBuf>,
    /// Days to remediate by severity.
    #[serde(default)]
    pub sla_days: Option<SlaDays>,
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, InputError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(path, format!("cannot read config: {e}")))?;
        let max = crate::rules::pack::MAX_PACK_FILE_BYTES;
        if text.len() > max {
            return Err(InputError::new(
                path,
                format!("config is {} bytes; at most {max} are accepted", text.len()),
            ));
        }
        let options = crate::rules::pack::yaml_options();
        let mut cfg: Config = serde_saphyr::from_str_with_options(&text, options).map_err(|e| {
            let err = InputError::new(path, crate::rules::pack::yaml_message(&e));
            match e.location() {
                Some(l) => err.at(l.line(), Some(l.column())),
                None => err,
            }
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        for r in &mut cfg.rules {
            if !r.starts_with("builtin:") {
                *r = base.join(&*r).display().to_string();
            }
        }
        if let Some(out) = &cfg.out {
            cfg.out = Some(base.join(out));
        }
        if let Some(w) = &cfg.waivers {
            cfg.waivers = Some(base.join(w));
        }
        Ok(cfg)
    }

    /// The file's params as overrides (pack-level first, then rule-level).
    pub fn overrides(&self, path: &Path) -> Vec<ParamOverride> {
        let origin = OverrideOrigin::Config(path.display().to_string());
        let mut out: Vec<ParamOverride> = self
            .params
            .iter()
            .map(|(name, v)| ParamOverride {
                rule: None,
                name: name.clone(),
                value: OverrideValue::Json(v.clone()),
                origin: origin.clone(),
            })
            .collect();
        for (rule, params) in &self.rule_params {
            for (name, v) in params {
                out.push(ParamOverride {
                    rule: Some(rule.clone()),
                    name: name.clone(),
                    value: OverrideValue::Json(v.clone()),
                    origin: origin.clone(),
                });
            }
        }
        out
    }
}
