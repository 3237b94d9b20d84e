//! Rule fixtures: YAML files of cases (an inventory, an `as_of`, optional param overrides, an
//! expected outcome) that a rule must pass. `rules/<pack>/tests/<rule-id>.yaml`. Only their
//! format and parsing: running them through the engine is `cli::rules::fixtures`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::inventory::{Account, Event, Field, RootAccessFeatures};
use crate::yaml::parse_yaml;

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
    /// With `expect: known-gap`: what the rule should do but does not yet.
    #[serde(default)]
    pub gap: Option<Expect>,
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
    /// The Organization's management account (`account.management`); unknown when absent.
    #[serde(default)]
    pub management_account_id: Option<String>,
    /// The Organization's centralized root access features (`account.org_root_*`); unknown
    /// when absent.
    #[serde(default)]
    pub root_access: Option<RootAccessFeatures>,
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
    /// A known gap: the rule should give `gap` but does not yet. The case passes while the
    /// gap is there and fails once the rule gives `gap` (then change `expect` to it).
    KnownGap,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Finding => "finding",
            Expect::NoFinding => "no-finding",
            Expect::NotEvaluable => "not-evaluable",
            Expect::KnownGap => "known-gap",
        }
    }
}

/// Parses a fixture file (`display` names it in messages).
pub fn parse(display: &str, text: &str) -> Result<FixtureFile, String> {
    parse_yaml(display, text)
}
