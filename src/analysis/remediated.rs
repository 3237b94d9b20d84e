//! The CloudTrail cross-reference (seed: "check if any remediation actions have already been
//! taken but not yet reflected in the latest audit"): an open finding whose key was deleted or
//! deactivated, whose user lost console access, got MFA or was deleted — by a successful call
//! after the inventory saw the account, at or before `as_of` — is marked
//! [`Status::Remediated`] with that event. The next run confirms it.
//!
//! Which calls fix a finding is its rule's `remediated_by` (see
//! [`crate::finding::RuleInfo::remediated_by`]); each call fixes only what it acted on:
//!
//! - `DeleteAccessKey` — the finding's key.
//! - `UpdateAccessKey` to `Inactive` — the finding's key, when the inventory lists it active and
//!   no later call made it active again.
//! - `DeleteLoginProfile` — the finding's user's console password, unless a later
//!   `CreateLoginProfile` gave it back.
//! - `EnableMFADevice` — the finding's user, unless a later `DeactivateMFADevice` removed it.
//! - `DeleteUser` — the finding's user (and its keys), unless a later `CreateUser` reused the
//!   name.
//!
//! "After the inventory saw it" is after the earlier of the account's credential report and
//! the collection time; an inventory that says neither (the stock CSVs) cannot have seen a call
//! that contradicts what it lists, so a call at or before `as_of` counts.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::analysis::lifecycle::Lifecycle;
use crate::finding::{Finding, RemediatedBy};
use crate::inventory::{Event, Inventory, KeyStatus};
use crate::vocab::{Severity, Status};

/// When the inventory saw each account: the earlier of its credential report's time and the
/// inventory's collection time, when either is known.
fn observed_at(inv: &Inventory) -> HashMap<&str, Option<DateTime<Utc>>> {
    inv.accounts
        .iter()
        .map(|a| {
            let seen = match (
                a.collection.credential_report_generated_at,
                inv.collected_at,
            ) {
                (Some(r), Some(c)) => Some(r.min(c)),
                (r, c) => r.or(c),
            };
            (a.id.as_str(), seen)
        })
        .collect()
}

/// What the cross-reference reads of the inventory, gathered in one pass.
struct Seen<'a> {
    inv: &'a Inventory,
    life: &'a Lifecycle,
    as_of: DateTime<Utc>,
    observed: HashMap<&'a str, Option<DateTime<Utc>>>,
    /// (account, key id) of the keys the inventory lists active.
    active: HashSet<(&'a str, &'a str)>,
}

/// Marks the open findings that an event fixed since the inventory saw them; returns how
/// many. Info findings (good practice, not a problem) are left alone. `life` is the index the
/// engine built, if a rule read it; else it is built here.
pub fn cross_reference(
    findings: &mut [Finding],
    inv: &Inventory,
    as_of: DateTime<Utc>,
    life: Option<&Lifecycle>,
) -> usize {
    if inv.events.is_empty() {
        return 0;
    }
    let built;
    let life = if let Some(l) = life {
        l
    } else {
        built = Lifecycle::of(inv);
        &built
    };
    let seen = Seen {
        inv,
        life,
        as_of,
        observed: observed_at(inv),
        active: inv
            .accounts
            .iter()
            .flat_map(|a| {
                a.users.iter().flat_map(move |u| {
                    u.access_keys
                        .iter()
                        .filter(|k| k.status == KeyStatus::Active)
                        .map(move |k| (a.id.as_str(), k.id.as_str()))
                })
            })
            .collect(),
    };
    let mut marked = 0;
    for f in findings.iter_mut() {
        if f.status != Status::Open || f.severity <= Severity::Info {
            continue;
        }
        if let Some(e) = seen.fix_of(f) {
            f.status = Status::Remediated;
            f.remediated_by = Some(Arc::new(RemediatedBy {
                time: e.time,
                event: e.name.clone(),
                actor: e.actor.clone(),
                actor_type: e.actor_type.clone(),
                source_ip: e.source_ip.clone(),
            }));
            marked += 1;
        }
    }
    marked
}

impl<'a> Seen<'a> {
    /// The first call that fixed what `f` is about, if any.
    fn fix_of(&self, f: &Finding) -> Option<&'a Event> {
        let (inv, as_of) = (self.inv, self.as_of);
        let account = f.subject.account_id.as_deref()?;
        let observed = self.observed.get(account).copied().flatten();
        let after = |e: &&Event| observed.is_none_or(|o| e.time > o);
        let fixes = |name: &str| f.rule.remediated_by.iter().any(|n| n == name);
        let mut found: Vec<&Event> = Vec::new();
        if let Some(key) = f.subject.access_key_id.as_deref() {
            let events = self.life.key(account, key);
            if fixes("DeleteAccessKey") {
                found.extend(
                    Lifecycle::last(inv, events, &["DeleteAccessKey"], as_of).filter(after),
                );
            }
            if fixes("UpdateAccessKey") && self.active.contains(&(account, key)) {
                found.extend(
                    Lifecycle::last(inv, events, &["UpdateAccessKey"], as_of)
                        .filter(|e| e.key_status.as_deref() == Some("Inactive"))
                        .filter(after),
                );
            }
        }
        if let Some(user) = f.subject.username.as_deref() {
            let events = self.life.user(account, user);
            for (fix, undo) in [
                ("DeleteUser", "CreateUser"),
                ("DeleteLoginProfile", "CreateLoginProfile"),
                ("EnableMFADevice", "DeactivateMFADevice"),
            ] {
                if fixes(fix) {
                    found.extend(
                        Lifecycle::last(inv, events, &[fix, undo], as_of)
                            .filter(|e| e.name == fix)
                            .filter(after),
                    );
                }
            }
        }
        found.into_iter().min_by_key(|e| (e.time, e.name.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{default_remediated_by, RuleInfo, Subject};
    use crate::inventory::{AccessKey, Account, SourceKind, User};
    use crate::vocab::Scope;
    use chrono::TimeZone;

    const ACCOUNT: &str = "111111111111";
    const KEY: &str = "AKIAEXAMPLEKEY000001";

    fn at(day: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, h, 0, 0).unwrap()
    }

    fn inventory(key_status: KeyStatus, events: Vec<Event>) -> Inventory {
        let mut inv = Inventory::new(SourceKind::InventoryJson);
        let mut account = Account::new(ACCOUNT, "prod");
        let mut user = User::named("alice");
        user.access_keys.push(AccessKey {
            id: KEY.into(),
            status: key_status,
            ..AccessKey::default()
        });
        account.users.push(user);
        inv.accounts.push(account);
        inv.events = events;
        inv
    }

    fn event(time: DateTime<Utc>, name: &str) -> Event {
        Event {
            time,
            name: name.into(),
            actor: "admin".into(),
            account_id: ACCOUNT.into(),
            user_name: Some("alice".into()),
            access_key_id: name.contains("AccessKey").then(|| KEY.to_string()),
            key_status: (name == "UpdateAccessKey").then(|| "Inactive".to_string()),
            ..Event::default()
        }
    }

    fn finding(scope: Scope, severity: Severity, fixed_by: Option<&[&str]>) -> Finding {
        let rule = Arc::new(RuleInfo {
            id: "r".into(),
            title: "t".into(),
            severity,
            scope,
            remediation: String::new(),
            tags: Vec::new(),
            remediated_by: fixed_by.map_or_else(
                || default_remediated_by(scope),
                |n| n.iter().map(|s| (*s).to_string()).collect(),
            ),
        });
        let evidence = serde_json::value::RawValue::from_string("{}".into()).unwrap();
        Finding::new(
            &rule,
            Subject {
                account_id: Some(ACCOUNT.into()),
                username: Some("alice".into()),
                access_key_id: (scope == Scope::Key).then(|| KEY.into()),
                ..Subject::default()
            },
            String::new(),
            evidence,
        )
    }

    fn status(inv: &Inventory, mut f: Finding, as_of: DateTime<Utc>) -> (Status, Option<String>) {
        cross_reference(std::slice::from_mut(&mut f), inv, as_of, None);
        (f.status, f.remediated_by.map(|r| r.event.clone()))
    }

    #[test]
    fn a_key_deleted_or_deactivated_fixes_the_keys_findings() {
        let key = || finding(Scope::Key, Severity::High, None);
        let deleted = inventory(KeyStatus::Active, vec![event(at(3, 9), "DeleteAccessKey")]);
        assert_eq!(
            status(&deleted, key(), at(6, 0)),
            (Status::Remediated, Some("DeleteAccessKey".into()))
        );
        let off = inventory(KeyStatus::Active, vec![event(at(3, 9), "UpdateAccessKey")]);
        assert_eq!(status(&off, key(), at(6, 0)).0, Status::Remediated);
        // Listed inactive already: deactivating it again fixes nothing it is about.
        let listed_off = inventory(
            KeyStatus::Inactive,
            vec![event(at(3, 9), "UpdateAccessKey")],
        );
        assert_eq!(status(&listed_off, key(), at(6, 0)).0, Status::Open);
        // Made active again later.
        let mut again = event(at(4, 9), "UpdateAccessKey");
        again.key_status = Some("Active".into());
        let back = inventory(
            KeyStatus::Active,
            vec![event(at(3, 9), "UpdateAccessKey"), again],
        );
        assert_eq!(status(&back, key(), at(6, 0)).0, Status::Open);
    }

    #[test]
    fn only_a_call_after_the_inventory_saw_the_account_and_not_after_as_of() {
        let key = || finding(Scope::Key, Severity::High, None);
        let mut inv = inventory(KeyStatus::Active, vec![event(at(3, 9), "DeleteAccessKey")]);
        inv.collected_at = Some(at(4, 0));
        assert_eq!(
            status(&inv, key(), at(6, 0)).0,
            Status::Open,
            "before collection"
        );
        inv.collected_at = Some(at(2, 0));
        assert_eq!(status(&inv, key(), at(6, 0)).0, Status::Remediated);
        // A cached credential report older than the collection: its time counts.
        inv.collected_at = Some(at(5, 0));
        inv.accounts[0].collection.credential_report_generated_at = Some(at(3, 8));
        assert_eq!(status(&inv, key(), at(6, 0)).0, Status::Remediated);
        // An event after as_of has not happened yet at as_of.
        assert_eq!(status(&inv, key(), at(3, 8)).0, Status::Open);
    }

    #[test]
    fn user_findings_are_fixed_only_by_the_calls_their_rule_names() {
        let console = || {
            finding(
                Scope::User,
                Severity::Critical,
                Some(&["DeleteLoginProfile", "EnableMFADevice", "DeleteUser"]),
            )
        };
        let removed = inventory(
            KeyStatus::Active,
            vec![event(at(3, 9), "DeleteLoginProfile")],
        );
        assert_eq!(
            status(&removed, console(), at(6, 0)),
            (Status::Remediated, Some("DeleteLoginProfile".into()))
        );
        // The default of a user rule: only the user's deletion.
        let plain = finding(Scope::User, Severity::High, None);
        assert_eq!(status(&removed, plain, at(6, 0)).0, Status::Open);
        // Given back later; MFA enabled then removed again; a failed call.
        let back = inventory(
            KeyStatus::Active,
            vec![
                event(at(3, 9), "DeleteLoginProfile"),
                event(at(3, 10), "CreateLoginProfile"),
                event(at(3, 11), "EnableMFADevice"),
                event(at(3, 12), "DeactivateMFADevice"),
            ],
        );
        assert_eq!(status(&back, console(), at(6, 0)).0, Status::Open);
        let mut failed = event(at(3, 9), "DeleteUser");
        failed.error_code = Some("AccessDenied".into());
        let denied = inventory(KeyStatus::Active, vec![failed]);
        assert_eq!(status(&denied, console(), at(6, 0)).0, Status::Open);
        // The earliest fix is the one reported.
        let both = inventory(
            KeyStatus::Active,
            vec![
                event(at(4, 9), "DeleteUser"),
                event(at(3, 9), "EnableMFADevice"),
            ],
        );
        assert_eq!(
            status(&both, console(), at(6, 0)).1.as_deref(),
            Some("EnableMFADevice")
        );
    }

    #[test]
    fn an_undoing_call_after_as_of_has_not_happened_yet() {
        let console = finding(
            Scope::User,
            Severity::Critical,
            Some(&["DeleteLoginProfile"]),
        );
        let inv = inventory(
            KeyStatus::Active,
            vec![
                event(at(3, 9), "DeleteLoginProfile"),
                event(at(7, 9), "CreateLoginProfile"),
            ],
        );
        assert_eq!(
            status(&inv, console, at(6, 0)),
            (Status::Remediated, Some("DeleteLoginProfile".into()))
        );
    }

    #[test]
    fn info_and_waived_findings_are_left_alone() {
        let inv = inventory(KeyStatus::Active, vec![event(at(3, 9), "DeleteAccessKey")]);
        let info = finding(Scope::Key, Severity::Info, None);
        assert_eq!(status(&inv, info, at(6, 0)).0, Status::Open);
        let mut waived = finding(Scope::Key, Severity::High, None);
        waived.status = Status::Waived;
        assert_eq!(status(&inv, waived, at(6, 0)).0, Status::Waived);
    }
}
