//! Findings and the vocabularies they use. A finding is built only through
//! [`Finding::new`], which computes its stable fingerprint. The waiver a finding may carry is
//! defined here too; reading and applying waivers is the `waivers` module.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

// The vocabulary lives in its own leaf module; re-exported here for the modules that still
// import it from `finding`.
use crate::vocab::{Change, Scope, Severity, Status};

/// What a finding is about: the identity the rule looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subject {
    pub account_id: Option<Arc<str>>,
    pub account_name: Option<Arc<str>>,
    pub username: Option<Arc<str>>,
    pub access_key_id: Option<Arc<str>>,
    /// Distinguishes evaluations that share account, user and key (an event's time and name,
    /// the user name of a username-scope group).
    pub scope_key: Option<String>,
}

/// One waiver, as written.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    /// The rule id waived.
    pub rule: String,
    /// Only findings in this account (12 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Only findings about this IAM user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Only findings about this access key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Why the finding is accepted.
    pub reason: String,
    /// Who accepted it (a person or team who can be asked).
    pub owner: String,
    /// The last day (UTC) the waiver applies, `YYYY-MM-DD`.
    pub expires: NaiveDate,
    /// A ticket tracking the fix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// A waiver with where it was written (as the findings JSON shows it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct Located {
    #[serde(flatten)]
    pub waiver: Waiver,
    /// `file:line` of the entry.
    pub at: String,
}

/// What a finding carries of its rule, shared by every finding of that rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleInfo {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub scope: Scope,
    pub remediation: String,
    pub tags: Vec<String>,
    /// The CloudTrail calls that fix what a finding of this rule is about (among
    /// [`REMEDIATING_EVENTS`]): its `remediated_by`, else by scope — a key rule's key deleted,
    /// deactivated or its user deleted; a user rule's user deleted; nothing for other scopes.
    pub remediated_by: Vec<String>,
}

/// The calls a rule's `remediated_by` may name.
pub const REMEDIATING_EVENTS: [&str; 5] = [
    "DeleteAccessKey",
    "UpdateAccessKey",
    "DeleteLoginProfile",
    "EnableMFADevice",
    "DeleteUser",
];

/// What a rule of `scope` is fixed by when it does not say.
pub fn default_remediated_by(scope: Scope) -> Vec<String> {
    let names: &[&str] = match scope {
        Scope::Key => &["DeleteAccessKey", "UpdateAccessKey", "DeleteUser"],
        Scope::User => &["DeleteUser"],
        _ => &[],
    };
    names.iter().map(|n| (*n).to_string()).collect()
}

/// The call that fixed what a finding is about, after the inventory saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediatedBy {
    /// When CloudTrail recorded the call.
    pub time: DateTime<Utc>,
    /// CloudTrail `eventName`: `DeleteAccessKey`, `UpdateAccessKey`, `DeleteLoginProfile`,
    /// `EnableMFADevice` or `DeleteUser`.
    pub event: String,
    /// Who acted.
    pub actor: String,
    /// `userIdentity.type`, when the event has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    /// `sourceIPAddress`, when the event has it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

impl RemediatedBy {
    /// `DeleteAccessKey by alice at 2026-03-05 10:00:00 UTC from 203.0.113.9` (plain text).
    pub fn describe(&self) -> String {
        let mut out = format!(
            "{} by {} at {}",
            self.event,
            self.actor,
            self.time.format("%Y-%m-%d %H:%M:%S UTC")
        );
        if let Some(ip) = &self.source_ip {
            out.push_str(" from ");
            out.push_str(ip);
        }
        out
    }
}

/// Evidence: a JSON object `{name the condition used: value}`, in the condition's order,
/// kept as its JSON text (a million findings hold far less that way).
pub type Evidence = Box<serde_json::value::RawValue>;

/// One thing a rule found.
#[derive(Clone, Debug)]
pub struct Finding {
    /// Stable fingerprint of rule + account + user + key + scope key.
    pub id: String,
    pub rule: Arc<RuleInfo>,
    pub severity: Severity,
    pub subject: Subject,
    pub message: String,
    /// The fields that made the rule fire.
    pub evidence: Evidence,
    pub status: Status,
    /// With `--baseline`: new or unchanged.
    pub change: Option<Change>,
    /// The waiver in force that covers it (then `status` is `Waived`).
    pub waiver: Option<Arc<Located>>,
    /// The call that fixed it since the inventory saw it (then `status` is `Remediated`).
    pub remediated_by: Option<Arc<RemediatedBy>>,
}

impl Finding {
    /// The one constructor: computes the fingerprint from the rule id and the subject.
    pub fn new(
        rule: &Arc<RuleInfo>,
        subject: Subject,
        message: String,
        evidence: Evidence,
    ) -> Finding {
        Finding {
            id: fingerprint(&rule.id, &subject),
            rule: rule.clone(),
            severity: rule.severity,
            subject,
            message,
            evidence,
            status: Status::Open,
            change: None,
            waiver: None,
            remediated_by: None,
        }
    }

    /// Whether the finding counts against `--fail-on`: at or above it, not waived, and new
    /// when only new findings gate.
    pub fn gates(&self, fail_on: Severity, new_only: bool) -> bool {
        self.severity >= fail_on
            && self.status == Status::Open
            && (!new_only || self.change == Some(Change::New))
    }

    /// The order findings are written in: most severe first, then rule, then subject.
    pub fn sort_key(&self) -> impl Ord + '_ {
        (
            std::cmp::Reverse(self.severity),
            &self.rule.id,
            &self.subject,
        )
    }
}

/// `sha256(rule \x1f account \x1f user \x1f key \x1f scope_key)`, first 32 hex digits.
/// The same finding has the same id whatever the input was (scan, CSV or JSON).
pub fn fingerprint(rule_id: &str, s: &Subject) -> String {
    let mut h = Sha256::new();
    for part in [
        Some(rule_id),
        s.account_id.as_deref(),
        s.username.as_deref(),
        s.access_key_id.as_deref(),
        s.scope_key.as_deref(),
    ] {
        h.update(part.unwrap_or("").as_bytes());
        h.update([0x1f]);
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = h.finalize();
    let mut out = String::with_capacity(32);
    for b in digest.iter().take(16) {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_every_part_and_nothing_else() {
        let base = Subject {
            account_id: Some("111111111111".into()),
            account_name: Some("Prod".into()),
            username: Some("alice".into()),
            access_key_id: Some("AKIA1".into()),
            scope_key: None,
        };
        let id = fingerprint("r", &base);
        assert_eq!(id.len(), 32);
        let renamed = Subject {
            account_name: Some("Renamed".into()),
            ..base.clone()
        };
        assert_eq!(
            fingerprint("r", &renamed),
            id,
            "account name is not identity"
        );
        assert_ne!(fingerprint("s", &base), id);
        let other_key = Subject {
            access_key_id: Some("AKIA2".into()),
            ..base.clone()
        };
        assert_ne!(fingerprint("r", &other_key), id);
        // Field boundaries matter: ("ab","c") differs from ("a","bc").
        let a = Subject {
            username: Some("ab".into()),
            access_key_id: Some("c".into()),
            ..Subject::default()
        };
        let b = Subject {
            username: Some("a".into()),
            access_key_id: Some("bc".into()),
            ..Subject::default()
        };
        assert_ne!(fingerprint("r", &a), fingerprint("r", &b));
    }
}
