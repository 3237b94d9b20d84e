//! The config file (`--config iam-audit.yaml`), like a rule pack: parsed into [`RawConfig`]
//! (`deny_unknown_fields`, spans kept), then validated into [`Config`] with every problem
//! reported at once, each at `file:line:col`. Command-line flags win over the file (the
//! command merges them).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use crate::analysis::remediation::SlaDays;
use crate::emit::Format;
use crate::error::{ConfigError, InputError};
use crate::rules::params::{OverrideOrigin, OverrideValue, ParamOverride};
use crate::vocab::{parse_fail_on, Severity};
use crate::yaml::{line_col, parse_located, read_limited};

// The file as written. Values that are validated keep their span; their schema is the type
// they validate into.
/// `iam-audit.yaml`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Config")]
pub struct RawConfig {
    /// Rule packs to load (`builtin:stock` or pack folders, relative to this file).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Param values for every rule whose pack declares the param.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub params: BTreeMap<String, Spanned<serde_json::Value>>,
    /// Param values for one rule: `rule-id: {param: value}`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>")]
    pub rule_params: BTreeMap<String, BTreeMap<String, Spanned<serde_json::Value>>>,
    /// Regular expression for production account names (default `(?i)prod`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub production_accounts: Option<Spanned<String>>,
    /// Gate: `critical`, `high`, `medium`, `low` or `none`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub fail_on: Option<Spanned<String>>,
    /// Output formats (`csv`, `json`, `sarif`, `html`, `md`; default all of them).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub format: Option<Vec<Spanned<String>>>,
    /// Output folder, relative to this file.
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Waivers file, relative to this file.
    #[serde(default)]
    pub waivers: Option<PathBuf>,
    /// Days to remediate by severity, each 1 to 36500.
    #[serde(default)]
    #[schemars(with = "Option<SlaDaysSchema>")]
    pub sla_days: Option<BTreeMap<String, Spanned<String>>>,
    /// Rhai operations one rule may spend over the whole run (default 1,000,000,000).
    #[serde(default)]
    #[schemars(with = "Option<std::num::NonZeroU64>")]
    pub rule_budget_ops: Option<Spanned<String>>,
}

/// A validated config file. Paths in it are resolved against the file's folder; `None`
/// means the file does not set the value.
#[derive(Clone, Debug)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// Rule packs to load (`builtin:NAME` or a path).
    pub rules: Vec<String>,
    /// `params` then `rule_params`, each naming `config FILE:LINE:COL` as its origin.
    pub overrides: Vec<ParamOverride>,
    pub production_accounts: Option<Regex>,
    /// `Some(None)`: `fail_on: none` (nothing gates).
    pub fail_on: Option<Option<Severity>>,
    pub formats: Option<BTreeSet<Format>>,
    pub out: Option<PathBuf>,
    pub waivers: Option<PathBuf>,
    pub sla_days: Option<SlaDays>,
    /// Operations one rule may spend over a run.
    pub rule_budget_ops: Option<u64>,
}

// The schema of a config is the schema of the file it is read from.
impl JsonSchema for Config {
    fn schema_name() -> Cow<'static, str> {
        RawConfig::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        RawConfig::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawConfig::json_schema(generator)
    }
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_limited(path, "config").map_err(|e| ConfigError { problems: vec![e] })?;
        Config::parse(path, &text)
    }

    /// Parses and validates the text of a config file read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig =
            parse_located(path, text).map_err(|e| ConfigError { problems: vec![e] })?;
        raw.validate(path)
    }
}

/// Collects the problems of one file, each at a span.
struct Problems<'a> {
    path: &'a Path,
    list: Vec<InputError>,
}

impl Problems<'_> {
    fn at(&mut self, at: &Location, message: String) {
        let (line, column) = line_col(at);
        self.list
            .push(InputError::new(self.path, message).at(line, Some(column)));
    }
}

/// The most days `sla_days` gives a severity (100 years): a due date is `as_of` plus these
/// days, which must stay a date.
pub const MAX_SLA_DAYS: u32 = 36_500;

// The schema of `sla_days`: what this file accepts for `SlaDays`, each severity 1 to
// `MAX_SLA_DAYS` days.
/// Days to remediate, by severity: each a whole number from 1 to 36500 (defaults: critical 1,
/// high 30, medium 60, low 90); a less severe severity never fewer than a more severe one.
#[derive(JsonSchema, serde::Serialize)]
#[schemars(rename = "SlaDays", deny_unknown_fields)]
#[serde(default)]
#[allow(dead_code)] // a schema only
struct SlaDaysSchema {
    #[schemars(range(min = 1, max = 36500))]
    critical: u32,
    #[schemars(range(min = 1, max = 36500))]
    high: u32,
    #[schemars(range(min = 1, max = 36500))]
    medium: u32,
    #[schemars(range(min = 1, max = 36500))]
    low: u32,
}

impl Default for SlaDaysSchema {
    fn default() -> Self {
        let d = SlaDays::default();
        SlaDaysSchema {
            critical: d.critical,
            high: d.high,
            medium: d.medium,
            low: d.low,
        }
    }
}

/// `SlaDays` field names, in the order the problems name them.
const SLA_SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

impl RawConfig {
    /// Validates every value; every problem is reported, each at its `file:line:col`.
    pub fn validate(self, path: &Path) -> Result<Config, ConfigError> {
        let mut problems = Problems {
            path,
            list: Vec::new(),
        };
        let origin = |at: &Location| {
            let (line, column) = line_col(at);
            OverrideOrigin::Config(format!("{}:{line}:{column}", path.display()))
        };
        let mut overrides: Vec<ParamOverride> = self
            .params
            .into_iter()
            .map(|(name, v)| ParamOverride {
                rule: None,
                name,
                origin: origin(&v.referenced),
                value: OverrideValue::Json(v.value),
            })
            .collect();
        for (rule, params) in self.rule_params {
            for (name, v) in params {
                overrides.push(ParamOverride {
                    rule: Some(rule.clone()),
                    name,
                    origin: origin(&v.referenced),
                    value: OverrideValue::Json(v.value),
                });
            }
        }
        let production_accounts = self.production_accounts.and_then(|p| {
            Regex::new(&p.value)
                .map_err(|e| {
                    problems.at(
                        &p.referenced,
                        format!("production_accounts `{}`: {e}", p.value),
                    );
                })
                .ok()
        });
        let fail_on = self.fail_on.and_then(|f| {
            parse_fail_on(&f.value)
                .map_err(|e| problems.at(&f.referenced, format!("fail_on `{}`: {e}", f.value)))
                .ok()
        });
        let formats = self.format.map(|list| {
            let mut formats = BTreeSet::new();
            // An item may itself be a comma-separated list, as `--format` is.
            for item in list {
                for name in item.value.split(',').map(str::trim) {
                    match Format::parse_list(name) {
                        Ok(f) => formats.extend(f),
                        Err(e) => {
                            let prefix = format!("--format {name}: ");
                            let why = e.strip_prefix(&prefix).unwrap_or(&e);
                            problems.at(&item.referenced, format!("format `{name}`: {why}"));
                        }
                    }
                }
            }
            formats
        });
        let sla_days = self.sla_days.map(|days| {
            let mut sla = SlaDays::default();
            let spans: Vec<(String, Spanned<String>)> =
                days.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for (key, value) in days {
                let Some(severity) = SLA_SEVERITIES.into_iter().find(|s| s.as_str() == key) else {
                    problems.at(
                        &value.referenced,
                        format!(
                            "sla_days: unknown severity `{key}` (expected critical, high, medium \
                             or low)"
                        ),
                    );
                    continue;
                };
                match value
                    .value
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_SLA_DAYS).contains(n))
                {
                    Some(n) => match severity {
                        Severity::Critical => sla.critical = n,
                        Severity::High => sla.high = n,
                        Severity::Medium => sla.medium = n,
                        _ => sla.low = n,
                    },
                    None => problems.at(
                        &value.referenced,
                        format!(
                            "sla_days.{key}: `{}` is not a whole number of days from 1 to \
                             {MAX_SLA_DAYS}",
                            value.value
                        ),
                    ),
                }
            }
            // A less severe task is never due before a more severe one.
            if let Some((more, less)) = sla.backwards() {
                let given = |s: Severity| spans.iter().find(|(k, _)| k == s.as_str());
                let (more_days, less_days) = (sla.days(more), sla.days(less));
                let say = |s: Severity, d: Option<u32>| {
                    let d = d.unwrap_or_default();
                    if given(s).is_some() {
                        format!("{} is {d} days", s.as_str())
                    } else {
                        format!("{} is {d} days (the default)", s.as_str())
                    }
                };
                if let Some((_, at)) = given(less).or_else(|| given(more)) {
                    problems.at(
                        &at.referenced,
                        format!(
                            "sla_days: {} but {}: a less severe task would be due sooner \
                             (each severity's days must be at least the more severe one's)",
                            say(less, less_days),
                            say(more, more_days)
                        ),
                    );
                }
            }
            sla
        });
        let rule_budget_ops = self.rule_budget_ops.and_then(|b| {
            crate::rules::script::parse_rule_budget_ops(&b.value)
                .map_err(|e| problems.at(&b.referenced, format!("rule_budget_ops: {e}")))
                .ok()
        });
        if !problems.list.is_empty() {
            return Err(ConfigError {
                problems: problems.list,
            });
        }
        let base = path.parent().unwrap_or(Path::new(""));
        let rules = self
            .rules
            .into_iter()
            .map(|r| {
                if r.starts_with("builtin:") {
                    r
                } else {
                    base.join(r).display().to_string()
                }
            })
            .collect();
        Ok(Config {
            path: path.to_path_buf(),
            rules,
            overrides,
            production_accounts,
            fail_on,
            formats,
            out: self.out.map(|o| base.join(o)),
            waivers: self.waivers.map(|w| base.join(w)),
            sla_days,
            rule_budget_ops,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Vec<String>> {
        Config::parse(Path::new("dir/c.yaml"), text)
            .map_err(|e| e.problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn a_valid_file_validates_with_paths_resolved_against_its_folder() {
        let c = parse(
            "rules: [builtin:stock, packs/mine]\nparams:\n  recent_days: 45\nrule_params:\n  \
             old-key-in-use: {max_age: 90}\nproduction_accounts: \"(?i)prd\"\nfail_on: none\n\
             format: [json, md]\nout: reports\nwaivers: w.yaml\nsla_days: {critical: 2, low: 60}\n",
        )
        .unwrap();
        assert_eq!(c.rules, ["builtin:stock", "dir/packs/mine"]);
        assert_eq!(c.overrides.len(), 2);
        assert_eq!(c.overrides[0].origin.to_string(), "config dir/c.yaml:3:16");
        assert_eq!(c.overrides[1].rule.as_deref(), Some("old-key-in-use"));
        assert_eq!(c.overrides[1].origin.to_string(), "config dir/c.yaml:5:29");
        assert_eq!(c.production_accounts.unwrap().as_str(), "(?i)prd");
        assert_eq!(c.fail_on, Some(None));
        assert_eq!(c.formats, Some(Format::parse_list("json,md").unwrap()));
        assert_eq!(c.out, Some(PathBuf::from("dir/reports")));
        assert_eq!(c.waivers, Some(PathBuf::from("dir/w.yaml")));
        let sla = c.sla_days.unwrap();
        assert_eq!((sla.critical, sla.high, sla.low), (2, 30, 60));
        let empty = parse("{}\n").unwrap();
        assert!(empty.fail_on.is_none() && empty.formats.is_none() && empty.sla_days.is_none());
    }

    #[test]
    fn rule_budget_ops_is_validated_at_its_line() {
        let c = parse("rule_budget_ops: 5000000\n").unwrap();
        assert_eq!(c.rule_budget_ops, Some(5_000_000));
        assert_eq!(parse("fail_on: high\n").unwrap().rule_budget_ops, None);
        for (value, needle) in [
            ("0", "a budget of 0 would stop every rule"),
            ("99999999999999999", "above the largest budget"),
            ("many", "not a whole number of operations"),
        ] {
            let err = parse(&format!("rule_budget_ops: {value}\n")).unwrap_err();
            assert!(
                err[0].starts_with("dir/c.yaml:1:18: rule_budget_ops: ") && err[0].contains(needle),
                "{err:?}"
            );
        }
    }

    #[test]
    fn a_less_severe_task_is_never_due_sooner() {
        let err = parse("sla_days:\n  medium: 10\n").unwrap_err();
        assert_eq!(
            err,
            [
                "dir/c.yaml:2:11: sla_days: medium is 10 days but high is 30 days (the default): \
              a less severe task would be due sooner (each severity's days must be at least \
              the more severe one's)"
            ]
        );
        let err = parse("sla_days:\n  high: 90\n").unwrap_err();
        assert!(
            err[0].starts_with(
                "dir/c.yaml:2:9: sla_days: medium is 60 days (the default) but high is 90 days"
            ),
            "{err:?}"
        );
        // Equal days, or the defaults, are fine.
        let c = parse("sla_days:\n  high: 60\n  low: 60\n").unwrap();
        let sla = c.sla_days.unwrap();
        assert_eq!(
            (sla.critical, sla.high, sla.medium, sla.low),
            (1, 60, 60, 60)
        );
        assert_eq!(SlaDays::default().backwards(), None);
    }

    #[test]
    fn every_bad_value_is_reported_at_its_line_and_column() {
        let err = parse(
            "fail_on: severe\nproduction_accounts: \"(prod\"\nformat: [json, pdf]\n\
             sla_days:\n  high: soon\n  urgent: 1\n",
        )
        .unwrap_err();
        assert_eq!(err.len(), 5, "{err:#?}");
        assert_eq!(
            err[0],
            format!(
                "dir/c.yaml:2:22: production_accounts `(prod`: {}",
                Regex::new(&String::from("(prod")).unwrap_err()
            )
        );
        assert_eq!(
            err[1],
            "dir/c.yaml:1:10: fail_on `severe`: expected critical, high, medium, low or none"
        );
        assert_eq!(
            err[2],
            "dir/c.yaml:3:16: format `pdf`: unknown format (available: csv, json, sarif, html, md)"
        );
        assert_eq!(
            err[3],
            "dir/c.yaml:5:9: sla_days.high: `soon` is not a whole number of days from 1 to 36500"
        );
        assert_eq!(
            err[4],
            "dir/c.yaml:6:11: sla_days: unknown severity `urgent` (expected critical, high, \
             medium or low)"
        );
        let e = Config::parse(
            Path::new("c.yaml"),
            "fail_on: info\nformat: [\"csv, xls\"]\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("config file errors:\nc.yaml:1:10: fail_on `info`"),
            "{e}"
        );
    }

    #[test]
    fn structural_problems_are_located_too() {
        let err = parse("fail_on: high\nparam:\n  x: 1\n").unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(
            err[0].starts_with("dir/c.yaml:2:1: unknown field `param`"),
            "{err:?}"
        );
        let err = parse("format: json\n").unwrap_err();
        assert!(err[0].starts_with("dir/c.yaml:1:9: "), "{err:?}");
        let err = parse("rules: [a\n").unwrap_err();
        assert!(err[0].starts_with("dir/c.yaml:"), "{err:?}");
    }

    #[test]
    fn unreadable_and_oversized_files_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.yaml");
        let e = Config::load(&missing).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: cannot read config: ", missing.display())),
            "{e}"
        );
        let big = dir.path().join("big.yaml");
        std::fs::write(&big, format!("# {}\n", "x".repeat(2 << 20))).unwrap();
        let e = Config::load(&big).unwrap_err().to_string();
        assert!(e.ends_with("bytes; at most 1048576 are accepted"), "{e}");
    }
}
