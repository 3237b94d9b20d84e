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

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::analysis::lifecycle::Lifecycle;
use crate::finding::{Finding, RemediatedBy};
use crate::inventory::{Event, Inventory, KeyStatus};
use crate::vocab::{Severity, Status};

/// When the inventory saw `account`: the earlier of its credential report's time and the
/// inventory's collection time, when either is known.
pub fn observed_at(inv: &Inventory, account: &str) -> Option<DateTime<Utc>> {
    let report = inv
        .accounts
        .iter()
        .find(|a| a.id == account)
        .and_then(|a| a.collection.credential_report_generated_at);
    match (report, inv.collected_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The last of the events `names` in `events` (time order).
fn last_of<'a>(inv: &'a Inventory, events: &[u32], names: &[&str]) -> Option<&'a Event> {
    events
        .iter()
        .rev()
        .map(|&e| &inv.events[e as usize])
        .find(|e| names.contains(&e.name.as_str()))
}

/// Marks the open findings that an event fixed since the inventory saw them; returns how
/// many. Info findings (good practice, not a problem) are left alone.
pub fn cross_reference(findings: &mut [Finding], inv: &Inventory, as_of: DateTime<Utc>) -> usize {
    if inv.events.is_empty() {
        return 0;
    }
    let life = Lifecycle::of(inv);
    let mut marked = 0;
    for f in findings.iter_mut() {
        if f.status != Status::Open || f.severity <= Severity::Info {
            continue;
        }
        if let Some(e) = fix_of(f, inv, &life, as_of) {
            f.status = Status::Remediated;
            f.remediated_by = Some(Arc::new(RemediatedBy::of(e)));
            marked += 1;
        }
    }
    marked
}

/// The first call that fixed what `f` is about, if any.
fn fix_of<'a>(
    f: &Finding,
    inv: &'a Inventory,
    life: &Lifecycle,
    as_of: DateTime<Utc>,
) -> Option<&'a Event> {
    let account = f.subject.account_id.as_deref()?;
    let observed = observed_at(inv, account);
    let counts = |e: &Event| e.time <= as_of && observed.is_none_or(|o| e.time > o);
    let fixes = |name: &str| f.rule.remediated_by.iter().any(|n| n == name);
    let mut found: Vec<&Event> = Vec::new();
    if let Some(key) = f.subject.access_key_id.as_deref() {
        let events = life.key(account, key);
        if fixes("DeleteAccessKey") {
            found.extend(last_of(inv, events, &["DeleteAccessKey"]).filter(|e| counts(e)));
        }
        if fixes("UpdateAccessKey") && listed_active(inv, account, key) {
            found.extend(
                last_of(inv, events, &["UpdateAccessKey"])
                    .filter(|e| e.key_status.as_deref() == Some("Inactive") && counts(e)),
            );
        }
    }
    if let Some(user) = f.subject.username.as_deref() {
        let events = life.user(account, user);
        for (fix, undo) in [
            ("DeleteUser", "CreateUser"),
            ("DeleteLoginProfile", "CreateLoginProfile"),
            ("EnableMFADevice", "DeactivateMFADevice"),
        ] {
            if fixes(fix) {
                found.extend(
                    last_of(inv, events, &[fix, undo]).filter(|e| e.name == fix && counts(e)),
                );
            }
        }
    }
    found.into_iter().min_by_key(|e| (e.time, e.name.as_str()))
}

/// Whether the inventory lists key `key` of `account` as active.
fn listed_active(inv: &Inventory, account: &str, key: &str) -> bool {
    inv.accounts
        .iter()
        .filter(|a| a.id == account)
        .flat_map(|a| &a.users)
        .flat_map(|u| &u.access_keys)
        .any(|k| k.id == key && k.status == KeyStatus::Active)
}
