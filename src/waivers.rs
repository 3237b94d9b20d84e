//! Waivers: an owner accepts a finding for a reason until a date. A waived finding is still
//! reported (status `waived`) but does not gate. An expired waiver stops applying and is
//! reported; a waiver that matches nothing is stale; one that expires within
//! [`EXPIRING_SOON_DAYS`] days is warned about.

use chrono::{DateTime, Days, Utc};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::error::WaiversError;
use crate::finding::Finding;
// The waiver types live beside the finding that carries one (waivers depend on findings, not
// the other way round).
pub use crate::finding::{Located, Waiver};
use crate::vocab::Status;
use crate::yaml::parse_yaml;

/// A waiver expiring within this many days of `as_of` is warned about.
pub const EXPIRING_SOON_DAYS: i64 = 14;

/// A waivers file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaiversFile {
    /// The waivers, each scoping one rule to an account, a user or an access key.
    #[schemars(with = "Vec<Waiver>")]
    pub waivers: Vec<Spanned<Waiver>>,
}

impl Waiver {
    /// The first instant the waiver no longer applies (the day after `expires`, 00:00 UTC).
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.expires
            .checked_add_days(Days::new(1))
            .unwrap_or(self.expires)
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .unwrap_or_default()
    }

    /// Whether the waiver covers a finding (its rule and every scope it names).
    pub fn matches(&self, f: &Finding) -> bool {
        self.rule == f.rule.id
            && self
                .account
                .as_deref()
                .is_none_or(|a| f.subject.account_id.as_deref() == Some(a))
            && self
                .user
                .as_deref()
                .is_none_or(|u| f.subject.username.as_deref() == Some(u))
            && self
                .key
                .as_deref()
                .is_none_or(|k| f.subject.access_key_id.as_deref() == Some(k))
    }
}

/// Reads and checks a waivers file: every problem at once, each as `file:line:col: ...`.
pub fn load(path: &std::path::Path) -> Result<Vec<Located>, WaiversError> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| WaiversError {
        problems: vec![format!("{display}: {e}")],
    })?;
    parse(&display, &text)
}

/// Parses and checks the text of a waivers file.
pub fn parse(display: &str, text: &str) -> Result<Vec<Located>, WaiversError> {
    let file: WaiversFile =
        parse_yaml(display, text).map_err(|e| WaiversError { problems: vec![e] })?;
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for entry in file.waivers {
        let at = format!("{display}:{}", entry.referenced.line().max(1));
        let w = entry.value;
        let mut bad = |m: String| problems.push(format!("{at}: waiver of `{}`: {m}", w.rule));
        if w.rule.trim().is_empty() {
            bad("`rule` must not be empty".into());
        }
        if w.account.is_none() && w.user.is_none() && w.key.is_none() {
            bad("name the `account`, `user` or `key` it covers (a waiver never covers a whole rule)".into());
        }
        if let Some(a) = &w.account {
            if a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()) {
                bad(format!(
                    "`account: {a}` is not a 12-digit account id (quote it in YAML)"
                ));
            }
        }
        for (field, value) in [("reason", &w.reason), ("owner", &w.owner)] {
            if value.trim().is_empty() {
                bad(format!("`{field}` must not be empty"));
            }
        }
        out.push(Located { waiver: w, at });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(WaiversError { problems })
    }
}

/// Warnings about waivers that are valid but wider than they may look: one that names only a
/// user (no `account`, no `key`) covers a user of that name in every account, those added
/// later included. Each names the waiver's `file:line`.
pub fn warnings(waivers: &[Located]) -> Vec<String> {
    waivers
        .iter()
        .filter(|w| w.waiver.account.is_none() && w.waiver.key.is_none())
        .filter_map(|w| {
            w.waiver.user.as_deref().map(|user| {
                format!(
                    "{}: waiver of `{}` names only `user: {user}`: it covers a user of that name \
                     in every account of the Organization (and in any account added later); \
                     add `account` to limit it to one",
                    w.at, w.waiver.rule
                )
            })
        })
        .collect()
}

/// What applying waivers did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Findings marked waived.
    pub waived: usize,
    /// Waivers past their date: they no longer apply (and the findings they covered are open).
    pub expired: Vec<Located>,
    /// Waivers in force that matched no finding.
    pub stale: Vec<Located>,
    /// Waivers in force that expire within [`EXPIRING_SOON_DAYS`] days.
    pub expiring: Vec<Located>,
}

/// Marks the findings covered by a waiver in force at `as_of` as waived.
pub fn apply(findings: &mut [Finding], waivers: &[Located], as_of: DateTime<Utc>) -> Applied {
    let mut out = Applied::default();
    let mut used = vec![false; waivers.len()];
    let shared: Vec<std::sync::Arc<Located>> =
        waivers.iter().cloned().map(std::sync::Arc::new).collect();
    for f in findings.iter_mut() {
        for (i, w) in waivers.iter().enumerate() {
            if as_of < w.waiver.ends_at() && w.waiver.matches(f) {
                if f.status != Status::Waived {
                    out.waived += 1;
                    // The first waiver in the file that covers a finding is the one shown.
                    f.waiver = Some(shared[i].clone());
                }
                f.status = Status::Waived;
                used[i] = true;
            }
        }
    }
    for (i, w) in waivers.iter().enumerate() {
        let ends = w.waiver.ends_at();
        if as_of >= ends {
            out.expired.push(w.clone());
        } else {
            if !used[i] {
                out.stale.push(w.clone());
            }
            if ends - as_of <= chrono::Duration::days(EXPIRING_SOON_DAYS) {
                out.expiring.push(w.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::finding::{RuleInfo, Subject};
    use crate::vocab::{Scope, Severity};

    fn finding(rule: &str, account: &str, user: &str, key: Option<&str>) -> Finding {
        let info = Arc::new(RuleInfo {
            id: rule.into(),
            title: "t".into(),
            severity: Severity::High,
            scope: Scope::Key,
            remediation: "r".into(),
            tags: Vec::new(),
            remediated_by: Vec::new(),
        });
        let subject = Subject {
            account_id: Some(account.into()),
            username: Some(user.into()),
            access_key_id: key.map(Into::into),
            ..Subject::default()
        };
        let evidence = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        Finding::new(&info, subject, "m".into(), evidence)
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const FILE: &str = "# yaml-language-server: $schema=../schemas/waivers.schema.json
waivers:
  - rule: old-key-in-use
    account: \"111111111111\"
    key: AKIAOLD
    reason: legacy batch job, migrating to a role
    owner: payments-team
    expires: 2026-03-31
    ticket: SEC-1
  - rule: two-active-keys
    user: ci
    reason: rotation in progress
    owner: platform
    expires: 2026-03-10
  - rule: zombie-user
    user: nobody
    reason: left alone
    owner: sec
    expires: 2026-01-01
";

    #[test]
    fn parses_with_lines_and_applies_until_the_end_of_the_expiry_day() {
        let ws = parse("w.yaml", FILE).unwrap();
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[0].at, "w.yaml:3");
        assert_eq!(ws[1].at, "w.yaml:10");
        let mut fs = vec![
            finding("old-key-in-use", "111111111111", "svc", Some("AKIAOLD")),
            finding("old-key-in-use", "111111111111", "svc", Some("AKIANEW")),
            finding("old-key-in-use", "222222222222", "svc", Some("AKIAOLD")),
            finding("two-active-keys", "222222222222", "ci", None),
        ];
        let applied = apply(&mut fs, &ws, at("2026-03-06T12:00:00Z"));
        let status: Vec<Status> = fs.iter().map(|f| f.status).collect();
        assert_eq!(
            status,
            [Status::Waived, Status::Open, Status::Open, Status::Waived]
        );
        assert_eq!(applied.waived, 2);
        assert_eq!(applied.expired.len(), 1);
        assert_eq!(applied.expired[0].waiver.rule, "zombie-user");
        // two-active-keys expires in 4.5 days: warned; old-key-in-use in 25.5: not.
        assert_eq!(applied.expiring.len(), 1);
        assert_eq!(applied.expiring[0].waiver.rule, "two-active-keys");
        assert!(applied.stale.is_empty());

        // Last second of the expiry day: still waived; the next second: expired, open.
        let mut fs = vec![finding("two-active-keys", "2", "ci", None)];
        apply(&mut fs, &ws, at("2026-03-10T23:59:59Z"));
        assert_eq!(fs[0].status, Status::Waived);
        let mut fs = vec![finding("two-active-keys", "2", "ci", None)];
        let applied = apply(&mut fs, &ws, at("2026-03-11T00:00:00Z"));
        assert_eq!(fs[0].status, Status::Open);
        assert!(applied
            .expired
            .iter()
            .any(|w| w.waiver.rule == "two-active-keys"));
        // Nothing matched the old-key waiver: stale.
        assert!(applied
            .stale
            .iter()
            .any(|w| w.waiver.rule == "old-key-in-use"));
    }

    #[test]
    fn a_waiver_naming_only_a_user_is_warned_about() {
        let ws = parse("w.yaml", FILE).unwrap();
        let warnings = warnings(&ws);
        // two-active-keys (line 10) and zombie-user (line 15) name only a user.
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].starts_with("w.yaml:10: waiver of `two-active-keys` names only `user: ci`"),
            "{warnings:?}"
        );
        assert!(warnings[0].contains("every account"), "{warnings:?}");
        assert!(warnings[1].starts_with("w.yaml:15: "), "{warnings:?}");
    }

    #[test]
    fn malformed_files_name_the_line() {
        let err = parse(
            "w.yaml",
            "waivers:\n  - rule: x\n    user: u\n    owner: o\n    expires: 2026-01-01\n",
        )
        .unwrap_err()
        .problems;
        assert!(err[0].starts_with("w.yaml:"), "{err:?}");
        assert!(err[0].contains("missing field `reason`"), "{err:?}");
        let err = parse(
            "w.yaml",
            "waivers:\n  - rule: x\n    reason: r\n    owner: o\n    expires: 2026-02-30\n",
        )
        .unwrap_err()
        .problems;
        assert!(err[0].starts_with("w.yaml:5:"), "{err:?}");
        let err = parse(
            "w.yaml",
            "waivers:\n  - rule: x\n    reason: \" \"\n    owner: o\n    expires: 2026-01-01\n  - rule: y\n    account: \"12\"\n    reason: r\n    owner: o\n    expires: 2026-01-01\n",
        )
        .unwrap_err()
        .problems;
        assert_eq!(err.len(), 3, "{err:?}");
        assert!(
            err[0].starts_with("w.yaml:2: waiver of `x`: name the"),
            "{err:?}"
        );
        assert!(err[1].starts_with("w.yaml:2: waiver of `x`: `reason` must not be empty"));
        assert!(err[2].starts_with("w.yaml:6: waiver of `y`: `account: 12` is not"));
        let err = parse("w.yaml", "waivers:\n  - rule: x\n    usr: u\n")
            .unwrap_err()
            .problems;
        assert!(err[0].contains("unknown field `usr`"), "{err:?}");
    }
}
