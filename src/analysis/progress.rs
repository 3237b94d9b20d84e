//! Remediation progress over the event window (seed: "Tracking Remediation Progress — use
//! CloudTrail events to measure security improvements over time"): per account and for the
//! Organization, the keys deleted and deactivated, console access removed, users deleted, MFA
//! devices enabled and deactivated; and each user's offboarding as the seed shows it, a
//! sequence of keys → console access → user, with its duration.
//!
//! Only successful calls at or before `as_of` count (a failed call changed nothing).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::inventory::{Event, Inventory};

/// What the events did, counted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressCounts {
    /// `DeleteAccessKey`.
    pub keys_deleted: u64,
    /// `UpdateAccessKey` to `Inactive`.
    pub keys_deactivated: u64,
    /// `DeleteLoginProfile`.
    pub console_access_removed: u64,
    /// `DeleteUser`.
    pub users_deleted: u64,
    /// `EnableMFADevice`.
    pub mfa_enabled: u64,
    /// `DeactivateMFADevice`.
    pub mfa_deactivated: u64,
}

impl ProgressCounts {
    fn add(&mut self, e: &Event) {
        match e.name.as_str() {
            "DeleteAccessKey" => self.keys_deleted += 1,
            "UpdateAccessKey" if e.key_status.as_deref() == Some("Inactive") => {
                self.keys_deactivated += 1;
            }
            "DeleteLoginProfile" => self.console_access_removed += 1,
            "DeleteUser" => self.users_deleted += 1,
            "EnableMFADevice" => self.mfa_enabled += 1,
            "DeactivateMFADevice" => self.mfa_deactivated += 1,
            _ => {}
        }
    }
}

/// The counts of one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountProgress {
    pub account_id: String,
    pub account_name: String,
    #[serde(flatten)]
    pub counts: ProgressCounts,
}

/// One step of an offboarding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OffboardingStep {
    pub time: DateTime<Utc>,
    /// `DeleteAccessKey`, `UpdateAccessKey` (to `Inactive`), `DeleteLoginProfile`, `DeleteUser`.
    pub event: String,
    pub actor: String,
    /// The key, for a key step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
}

/// A user's offboarding: its keys removed, its console access removed, the user deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Offboarding {
    pub account_id: String,
    pub account_name: String,
    pub username: String,
    /// In time order.
    pub steps: Vec<OffboardingStep>,
    /// Hours from the first step to the last.
    pub duration_hours: f64,
    /// The user was deleted.
    pub complete: bool,
    /// Keys first, then console access, then the user, as the seed recommends.
    pub in_order: bool,
}

impl Offboarding {
    /// `DeleteAccessKey AKIA… 2026-03-01 10:30 → DeleteLoginProfile 2026-03-01 10:31 → …`
    /// (plain text).
    pub fn sequence(&self) -> String {
        self.steps
            .iter()
            .map(|s| {
                let what = match (&s.access_key_id, s.event.as_str()) {
                    (Some(k), "DeleteAccessKey" | "UpdateAccessKey") => format!("{} {k}", s.event),
                    _ => s.event.clone(),
                };
                format!("{what} {} by {}", s.time.format("%Y-%m-%d %H:%M"), s.actor)
            })
            .collect::<Vec<_>>()
            .join(" → ")
    }
}

impl ProgressCounts {
    /// The counts with their names, in the order the outputs show them.
    pub fn named(&self) -> [(&'static str, u64); 6] {
        [
            ("keys deleted", self.keys_deleted),
            ("keys deactivated", self.keys_deactivated),
            ("console access removed", self.console_access_removed),
            ("users deleted", self.users_deleted),
            ("MFA enabled", self.mfa_enabled),
            ("MFA deactivated", self.mfa_deactivated),
        ]
    }
}

/// Remediation progress over the event window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Progress {
    /// The first and last event of the window (every event, successful or not, at or before
    /// `as_of`); absent without events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    pub organization: ProgressCounts,
    /// Accounts with at least one counted call, by id.
    pub accounts: Vec<AccountProgress>,
    /// Users whose console access was removed or who were deleted in the window, by account
    /// and user name.
    pub offboardings: Vec<Offboarding>,
}

/// The step order of an offboarding: keys, console access, user.
fn rank(e: &str) -> Option<u8> {
    match e {
        "DeleteAccessKey" | "UpdateAccessKey" => Some(0),
        "DeleteLoginProfile" => Some(1),
        "DeleteUser" => Some(2),
        _ => None,
    }
}

/// The progress shown by the events of `inv` at `as_of`.
pub fn progress(inv: &Inventory, as_of: DateTime<Utc>) -> Progress {
    let mut out = Progress::default();
    let names: BTreeMap<&str, &str> = inv
        .accounts
        .iter()
        .map(|a| (a.id.as_str(), a.name.as_str()))
        .collect();
    // A key step that names only the key (the stock events CSV, LookupEvents' resources):
    // its user is the one the inventory lists it under.
    let owners: BTreeMap<(&str, &str), &str> = inv
        .accounts
        .iter()
        .flat_map(|a| {
            a.users.iter().flat_map(move |u| {
                u.access_keys
                    .iter()
                    .map(move |k| ((a.id.as_str(), k.id.as_str()), u.name.as_str()))
            })
        })
        .collect();
    let mut accounts: BTreeMap<&str, AccountProgress> = BTreeMap::new();
    let mut users: BTreeMap<(&str, &str), Vec<&Event>> = BTreeMap::new();
    for e in inv.events.iter().filter(|e| e.time <= as_of) {
        out.from = Some(out.from.map_or(e.time, |f| f.min(e.time)));
        out.to = Some(out.to.map_or(e.time, |t| t.max(e.time)));
        if e.failed() {
            continue;
        }
        let before = out.organization.clone();
        out.organization.add(e);
        if out.organization != before {
            let name = names
                .get(e.account_id.as_str())
                .copied()
                .filter(|n| !n.is_empty())
                .unwrap_or(e.account_name.as_str());
            accounts
                .entry(e.account_id.as_str())
                .or_insert_with(|| AccountProgress {
                    account_id: e.account_id.clone(),
                    account_name: name.to_string(),
                    counts: ProgressCounts::default(),
                })
                .counts
                .add(e);
        }
        let step = rank(&e.name).is_some()
            && (e.name != "UpdateAccessKey" || e.key_status.as_deref() == Some("Inactive"));
        if step {
            let user = e.target_user().or_else(|| {
                e.target_key()
                    .and_then(|k| owners.get(&(e.account_id.as_str(), k)).copied())
            });
            if let Some(u) = user {
                users.entry((e.account_id.as_str(), u)).or_default().push(e);
            }
        }
    }
    out.accounts = accounts.into_values().collect();
    for ((account, user), mut events) in users {
        if !events
            .iter()
            .any(|e| matches!(e.name.as_str(), "DeleteLoginProfile" | "DeleteUser"))
        {
            continue;
        }
        events.sort_by_key(|e| (e.time, rank(&e.name)));
        let (first, last) = (events[0].time, events[events.len() - 1].time);
        let ranks: Vec<u8> = events.iter().filter_map(|e| rank(&e.name)).collect();
        out.offboardings.push(Offboarding {
            account_id: account.to_string(),
            account_name: names
                .get(account)
                .copied()
                .filter(|n| !n.is_empty())
                .unwrap_or(events[0].account_name.as_str())
                .to_string(),
            username: user.to_string(),
            steps: events
                .iter()
                .map(|e| OffboardingStep {
                    time: e.time,
                    event: e.name.clone(),
                    actor: e.actor.clone(),
                    access_key_id: e.target_key().map(str::to_string),
                })
                .collect(),
            duration_hours: ((last - first).num_seconds() as f64 / 3600.0 * 100.0).round() / 100.0,
            complete: events.iter().any(|e| e.name == "DeleteUser"),
            in_order: ranks.windows(2).all(|w| w[0] <= w[1]),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SourceKind;

    fn event(t: &str, name: &str, actor: &str, resources: &[&str]) -> Event {
        Event {
            time: crate::inventory::time::parse_time(t).unwrap(),
            name: name.into(),
            actor: actor.into(),
            account_id: "123456789012".into(),
            account_name: "Production".into(),
            resources: resources.iter().map(|r| (*r).to_string()).collect(),
            ..Event::default()
        }
    }

    /// The seed's example: a proper offboarding, keys → console access → user.
    #[test]
    fn the_seeds_offboarding() {
        let mut inv = Inventory::new(SourceKind::StockCsv);
        // The report still lists the user and its key; the stock CSV's DeleteAccessKey names
        // only the key.
        let mut account = crate::inventory::Account::new("123456789012", "Production");
        let mut user = crate::inventory::User::named("old-contractor");
        user.access_keys.push(crate::inventory::AccessKey {
            id: "AKIAIOSFODNN7EXAMPLE".into(),
            ..crate::inventory::AccessKey::default()
        });
        account.users.push(user);
        inv.accounts.push(account);
        inv.events = vec![
            event(
                "2026-03-01T10:30:00Z",
                "DeleteAccessKey",
                "admin-user",
                &["AKIAIOSFODNN7EXAMPLE"],
            ),
            event(
                "2026-03-01T10:31:00Z",
                "DeleteLoginProfile",
                "security-team",
                &["old-contractor"],
            ),
            event(
                "2026-03-02T14:20:00Z",
                "DeleteUser",
                "security-team",
                &["old-contractor"],
            ),
        ];
        let as_of = crate::inventory::time::parse_time("2026-03-06T12:00:00Z").unwrap();
        let p = progress(&inv, as_of);
        assert_eq!(p.organization.keys_deleted, 1);
        assert_eq!(p.organization.console_access_removed, 1);
        assert_eq!(p.organization.users_deleted, 1);
        assert_eq!(p.accounts.len(), 1);
        assert_eq!(p.offboardings.len(), 1);
        let o = &p.offboardings[0];
        assert_eq!(o.username, "old-contractor");
        assert_eq!(
            o.steps.iter().map(|s| s.event.as_str()).collect::<Vec<_>>(),
            ["DeleteAccessKey", "DeleteLoginProfile", "DeleteUser"]
        );
        assert!(o.complete && o.in_order);
        // 10:30 on the 1st to 14:20 on the 2nd: 27 h 50 min.
        assert!(
            (o.duration_hours - 27.83).abs() < 1e-9,
            "{}",
            o.duration_hours
        );
    }

    #[test]
    fn out_of_order_failed_and_future_calls() {
        let mut inv = Inventory::new(SourceKind::StockCsv);
        let mut denied = event("2026-03-01T09:00:00Z", "DeleteUser", "mallory", &["bob"]);
        denied.error_code = Some("AccessDenied".into());
        inv.events = vec![
            denied,
            event(
                "2026-03-01T10:00:00Z",
                "DeleteLoginProfile",
                "ops",
                &["bob"],
            ),
            event(
                "2026-03-01T11:00:00Z",
                "DeleteAccessKey",
                "ops",
                &["AKIABOBEXAMPLE000001", "bob"],
            ),
            event("2026-03-09T11:00:00Z", "DeleteUser", "ops", &["bob"]),
            event(
                "2026-03-01T12:00:00Z",
                "EnableMFADevice",
                "carol",
                &["carol"],
            ),
        ];
        let as_of = crate::inventory::time::parse_time("2026-03-06T12:00:00Z").unwrap();
        let p = progress(&inv, as_of);
        assert_eq!(p.organization.users_deleted, 0, "failed, and after as_of");
        assert_eq!(p.organization.mfa_enabled, 1);
        let o = &p.offboardings[0];
        assert!(!o.complete);
        assert!(!o.in_order, "console access before the key");
        assert!(
            (o.duration_hours - 1.0).abs() < 1e-9,
            "{}",
            o.duration_hours
        );
        assert_eq!(p.from.unwrap().to_rfc3339(), "2026-03-01T09:00:00+00:00");
    }
}
