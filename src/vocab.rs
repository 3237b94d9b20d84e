//! The vocabulary findings, rules and outputs share: severities, scopes, statuses, changes.
//! A leaf: it imports nothing from the crate.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Low < Medium < High < Critical`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one evaluation of a rule looks at.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// One access key (`key`, `user`, `account`).
    Key,
    /// One IAM user (`user`, `account`).
    User,
    /// One user name seen in several accounts (`name`, `users`).
    Username,
    /// One account (`account`).
    Account,
    /// One CloudTrail event (`event`, `account`).
    Event,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::Key,
        Scope::User,
        Scope::Username,
        Scope::Account,
        Scope::Event,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Key => "key",
            Scope::User => "user",
            Scope::Username => "username",
            Scope::Account => "account",
            Scope::Event => "event",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lifecycle state of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Waived,
    Remediated,
}

/// With `--baseline`: whether a finding was already in the baseline run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    New,
    Unchanged,
}

/// Parses a gate (`--fail-on`, the config's `fail_on`): `critical`, `high`, `medium`, `low`
/// (`Some`), or `none` (`None`: nothing gates). The error says what was expected.
pub fn parse_fail_on(s: &str) -> Result<Option<Severity>, String> {
    match s {
        "none" => Ok(None),
        other => Severity::parse(other)
            .filter(|s| *s != Severity::Info)
            .map(Some)
            .ok_or_else(|| "expected critical, high, medium, low or none".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_parse() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::parse("severe"), None);
    }

    #[test]
    fn gates_parse() {
        assert_eq!(parse_fail_on("none"), Ok(None));
        assert_eq!(parse_fail_on("high"), Ok(Some(Severity::High)));
        assert!(parse_fail_on("info").is_err());
        assert!(parse_fail_on("severe").is_err());
    }
}
