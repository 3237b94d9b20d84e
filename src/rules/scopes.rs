//! Rule scopes, declared once: what one evaluation looks at, the variables a condition sees
//! (and the record type of each), what a finding's subject holds, and the finding's location
//! (a pseudo-path, used by SARIF).
//!
//! The engine binds each scope's values in the order of [`ScopeDef::variables`]
//! ([`ScopeDef::bind`]); conditions are compiled and checked against the same list, and the
//! rule docs list it.

use std::fmt::Write as _;

use rhai::Dynamic;

use crate::finding::Subject;
use crate::rules::fields::RecordKind;
use crate::vocab::Scope;

/// What a variable holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// A record, with the fields of its type.
    Record(RecordKind),
    /// A plain value without a field table, described by this text.
    Plain(&'static str),
}

/// One variable a condition of a scope sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub binding: Binding,
}

impl Variable {
    /// The record type of the variable, if it is a record.
    pub fn record(&self) -> Option<RecordKind> {
        match self.binding {
            Binding::Record(kind) => Some(kind),
            Binding::Plain(_) => None,
        }
    }
}

/// One rule scope.
pub struct ScopeDef {
    pub scope: Scope,
    /// What one evaluation looks at.
    pub item: &'static str,
    /// The variables, in the order the engine binds them (`p` comes after).
    pub variables: &'static [Variable],
    /// What a finding's subject holds.
    pub subject: &'static str,
    /// The finding's location: see [`location_uri`].
    pub location: fn(&Subject) -> String,
}

impl ScopeDef {
    /// The variables of one evaluation, named in declaration order: `values` holds one value
    /// per variable.
    pub fn bind<const N: usize>(&self, values: [Dynamic; N]) -> Vec<(&'static str, Dynamic)> {
        assert_eq!(N, self.variables.len(), "scope {}", self.scope);
        self.variables.iter().map(|v| v.name).zip(values).collect()
    }
}

const fn record(name: &'static str, kind: RecordKind) -> Variable {
    Variable {
        name,
        binding: Binding::Record(kind),
    }
}

const KEY: Variable = record("key", RecordKind::Key);
const USER: Variable = record("user", RecordKind::User);
const ACCOUNT: Variable = record("account", RecordKind::Account);
const EVENT: Variable = record("event", RecordKind::Event);

/// Every scope, in the order of [`Scope::ALL`].
pub static SCOPES: [ScopeDef; 5] = [
    ScopeDef {
        scope: Scope::Key,
        item: "one access key",
        variables: &[KEY, USER, ACCOUNT],
        subject: "account id and name, user name, access key id",
        location: |s| identity_path(s, false),
    },
    ScopeDef {
        scope: Scope::User,
        item: "one IAM user",
        variables: &[USER, ACCOUNT],
        subject: "account id and name, user name",
        location: |s| identity_path(s, false),
    },
    ScopeDef {
        scope: Scope::Username,
        item: "one user name seen in at least two accounts",
        variables: &[
            Variable {
                name: "name",
                binding: Binding::Plain("The user name (text)"),
            },
            Variable {
                name: "users",
                binding: Binding::Plain(
                    "The users of that name, one per account (array of `user`)",
                ),
            },
        ],
        subject: "user name, and `username:<name>` as scope key",
        location: |s| identity_path(s, false),
    },
    ScopeDef {
        scope: Scope::Account,
        item: "one account",
        variables: &[ACCOUNT],
        subject: "account id and name",
        location: |s| identity_path(s, false),
    },
    ScopeDef {
        scope: Scope::Event,
        item: "one CloudTrail event (only successful calls unless `include_failed: true`)",
        variables: &[EVENT, ACCOUNT],
        subject: "account id and name, the actor as user name, and the event's time, name, \
                  resources (and a failed call's error) as scope key",
        location: |s| identity_path(s, true),
    },
];

/// The declaration of a scope.
pub fn def(scope: Scope) -> &'static ScopeDef {
    match scope {
        Scope::Key => &SCOPES[0],
        Scope::User => &SCOPES[1],
        Scope::Username => &SCOPES[2],
        Scope::Account => &SCOPES[3],
        Scope::Event => &SCOPES[4],
    }
}

/// The pseudo-path of a finding's identity: `aws/<account_id>/iam` for an account,
/// `…/user/<username>` for a user, `…/access-key/<key_id>` for a key; the actor of an event
/// (`…/iam/root` for the root user); `aws/organization/iam/user/<name>` for a user name seen
/// across accounts. Relative, no scheme. The same text as `emit::sarif::location_uri`.
pub fn location_uri(scope: Scope, s: &Subject) -> String {
    (def(scope).location)(s)
}

/// `aws/<account>/iam[/user/<name>][/access-key/<id>]`; with `root_actor`, the user `root`
/// is `…/iam/root` (an event's actor).
fn identity_path(s: &Subject, root_actor: bool) -> String {
    let mut uri = String::from("aws/");
    match s.account_id.as_deref() {
        Some(a) => uri.push_str(&segment(a)),
        None => uri.push_str("organization"),
    }
    uri.push_str("/iam");
    if let Some(u) = s.username.as_deref() {
        if root_actor && u == "root" {
            uri.push_str("/root");
        } else {
            uri.push_str("/user/");
            uri.push_str(&segment(u));
        }
    }
    if let Some(k) = s.access_key_id.as_deref() {
        uri.push_str("/access-key/");
        uri.push_str(&segment(k));
    }
    uri
}

/// One path segment, percent-encoded so that any IAM or CloudTrail name stays one segment of
/// a relative URI reference (`/` and `%` are encoded; a name of dots is percent-encoded, which
/// RFC 3986 normalisation and WHATWG URL parsers still read as a dot segment: the SARIF emitter
/// appends `%00` to such a segment so that `.` and `..` cannot climb).
pub fn segment(s: &str) -> String {
    if s.is_empty() {
        return "%00".into();
    }
    if s.bytes().all(|b| b == b'.') {
        return "%2E".repeat(s.len());
    }
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_declaration_per_scope_in_order() {
        for (def, scope) in SCOPES.iter().zip(Scope::ALL) {
            assert_eq!(def.scope, scope);
            assert!(std::ptr::eq(self::def(scope), def));
            let mut names: Vec<_> = def.variables.iter().map(|v| v.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), def.variables.len(), "{scope}");
            assert!(!names.contains(&"p"), "{scope}: `p` is every scope's");
        }
    }
}
