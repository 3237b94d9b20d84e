//! What the events say happened to each access key and each user: the successful calls of
//! the inventory's events, indexed by (account, key id) and (account, user name), each list in
//! time order. The cross-reference (a finding fixed since the inventory saw it), the
//! remediation progress and the key fields that tell who created a key read it.
//!
//! A failed call (CloudTrail `errorCode`, a failed sign-in) changed nothing and is left out.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::inventory::{Event, Inventory};

type Index = HashMap<String, HashMap<String, Vec<u32>>>;

/// The successful events of an inventory by the key and the user they acted on.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    by_key: Index,
    by_user: Index,
}

fn push(index: &mut Index, account: &str, name: &str, e: u32) {
    index
        .entry(account.to_string())
        .or_default()
        .entry(name.to_string())
        .or_default()
        .push(e);
}

fn get<'a>(index: &'a Index, account: &str, name: &str) -> &'a [u32] {
    index
        .get(account)
        .and_then(|m| m.get(name))
        .map_or(&[], Vec::as_slice)
}

impl Lifecycle {
    /// Indexes the successful events of `inv` (see [`Event::target_key`] and
    /// [`Event::target_user`]); each list is in time order (ties in inventory order).
    pub fn of(inv: &Inventory) -> Lifecycle {
        let mut out = Lifecycle::default();
        for (i, e) in inv.events.iter().enumerate() {
            if e.failed() {
                continue;
            }
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            if let Some(k) = e.target_key() {
                push(&mut out.by_key, &e.account_id, k, i);
            }
            if let Some(u) = e.target_user() {
                push(&mut out.by_user, &e.account_id, u, i);
            }
        }
        for index in [&mut out.by_key, &mut out.by_user] {
            for lists in index.values_mut() {
                for list in lists.values_mut() {
                    list.sort_by_key(|&e| (inv.events[e as usize].time, e));
                }
            }
        }
        out
    }

    /// The events (indexes into `inv.events`) that acted on key `key` of `account`.
    pub fn key(&self, account: &str, key: &str) -> &[u32] {
        get(&self.by_key, account, key)
    }

    /// The events (indexes into `inv.events`) that acted on user `user` of `account`.
    pub fn user(&self, account: &str, user: &str) -> &[u32] {
        get(&self.by_user, account, user)
    }

    /// The last of `events` (a list of this index) named one of `names`, at or before
    /// `until`: which of a fix and its undoing came last by then.
    pub fn last<'a>(
        inv: &'a Inventory,
        events: &[u32],
        names: &[&str],
        until: DateTime<Utc>,
    ) -> Option<&'a Event> {
        events
            .iter()
            .rev()
            .map(|&e| &inv.events[e as usize])
            .filter(|e| e.time <= until)
            .find(|e| names.contains(&e.name.as_str()))
    }

    /// The `CreateAccessKey` event that created key `key` of `account`, if the events have it.
    pub fn key_created<'a>(
        &self,
        inv: &'a Inventory,
        account: &str,
        key: &str,
    ) -> Option<&'a Event> {
        self.key(account, key)
            .iter()
            .map(|&e| &inv.events[e as usize])
            .find(|e| e.name == "CreateAccessKey")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::SourceKind;
    use chrono::{TimeZone, Utc};

    fn event(h: u32, name: &str, resources: &[&str], failed: bool) -> Event {
        Event {
            time: Utc.with_ymd_and_hms(2026, 3, 5, h, 0, 0).unwrap(),
            name: name.into(),
            actor: "admin".into(),
            account_id: "111111111111".into(),
            resources: resources.iter().map(|r| (*r).to_string()).collect(),
            error_code: failed.then(|| "AccessDenied".to_string()),
            ..Event::default()
        }
    }

    #[test]
    fn indexes_successful_events_by_key_and_user_in_time_order() {
        let mut inv = Inventory::new(SourceKind::StockCsv);
        inv.events = vec![
            event(
                12,
                "DeleteAccessKey",
                &["AKIAEXAMPLEKEY000001", "alice"],
                false,
            ),
            event(
                9,
                "CreateAccessKey",
                &["AKIAEXAMPLEKEY000001", "alice"],
                false,
            ),
            event(10, "DeleteLoginProfile", &["alice"], true),
            event(
                11,
                "DeactivateMFADevice",
                &["alice", "arn:aws:iam::111111111111:mfa/alice"],
                false,
            ),
        ];
        let l = Lifecycle::of(&inv);
        assert_eq!(l.key("111111111111", "AKIAEXAMPLEKEY000001"), &[1, 0]);
        assert_eq!(
            l.user("111111111111", "alice"),
            &[1, 3, 0],
            "the failed call is left out"
        );
        assert!(l.key("222222222222", "AKIAEXAMPLEKEY000001").is_empty());
        assert_eq!(
            l.key_created(&inv, "111111111111", "AKIAEXAMPLEKEY000001")
                .map(|e| e.time),
            Some(inv.events[1].time)
        );
    }

    #[test]
    fn the_record_fields_win_over_resources() {
        let mut inv = Inventory::new(SourceKind::Scan);
        let mut e = event(
            9,
            "UpdateAccessKey",
            &["AKIAEXAMPLEKEY000002", "bob"],
            false,
        );
        e.user_name = Some("carol".into());
        e.access_key_id = Some("AKIAEXAMPLEKEY000003".into());
        inv.events = vec![e];
        let l = Lifecycle::of(&inv);
        assert_eq!(l.user("111111111111", "carol"), &[0]);
        assert!(l.user("111111111111", "bob").is_empty());
        assert_eq!(l.key("111111111111", "AKIAEXAMPLEKEY000003"), &[0]);
    }
}
