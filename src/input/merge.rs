//! Several inventories evaluated as one: several Organizations, or one large Organization
//! scanned in shards (`scan --ou`). Cross-account rules see the union.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::inventory::time::format_stock;
use crate::inventory::{Account, Field, Inventory, SourceKind};

/// How new an account's data is: the collection it came with, then AWS's credential report
/// time (a later collection may read the same cached report).
fn collected(
    account: &Account,
    part: &Inventory,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    (
        part.collected_at,
        account.collection.credential_report_generated_at,
    )
}

fn when((collected, report): (Option<DateTime<Utc>>, Option<DateTime<Utc>>)) -> String {
    match (collected, report) {
        (Some(t), _) => format!("at {}", format_stock(&t)),
        (None, Some(r)) => format!("from a credential report of {}", format_stock(&r)),
        (None, None) => "at an unknown time".to_string(),
    }
}

/// A value all parts that know it agree on; else `None`, with what each said.
fn agreed<T: Clone + PartialEq>(
    parts: &[(String, Inventory)],
    get: impl Fn(&Inventory) -> Option<T>,
) -> Result<Option<T>, Vec<(String, T)>> {
    let known: Vec<(String, T)> = parts
        .iter()
        .filter_map(|(label, inv)| get(inv).map(|v| (label.clone(), v)))
        .collect();
    match known.first() {
        None => Ok(None),
        Some((_, first)) if known.iter().all(|(_, v)| v == first) => Ok(Some(first.clone())),
        Some(_) => Err(known),
    }
}

/// Combines `parts` (each labelled by its file name, in command-line order) into one
/// inventory. An account found in several parts is taken from the part that collected it
/// last (by the part's collection time, then the credential report's time; on a tie, the
/// later part), with a warning in the notes. A field one part cannot provide is unavailable
/// in the whole. A single part is returned as it is.
pub fn combine(mut parts: Vec<(String, Inventory)>) -> Inventory {
    if parts.len() == 1 {
        return parts
            .pop()
            .map_or_else(|| Inventory::new(SourceKind::InventoryJson), |(_, inv)| inv);
    }
    let mut out = Inventory::new(SourceKind::InventoryJson);
    let kinds: BTreeSet<SourceKind> = parts.iter().map(|(_, inv)| inv.source.kind).collect();
    out.source.kind = match kinds.iter().next() {
        Some(kind) if kinds.len() == 1 => *kind,
        _ => SourceKind::Combined,
    };
    out.collected_at = parts.iter().filter_map(|(_, inv)| inv.collected_at).max();
    match agreed(&parts, |inv| inv.organization_id.clone()) {
        Ok(org) => out.organization_id = org,
        Err(orgs) => {
            let list: Vec<String> = orgs.iter().map(|(l, o)| format!("{o} ({l})")).collect();
            out.notes.push(warn(format!(
                "the inputs come from several Organizations: {}; Organization-wide figures cover them all",
                list.join(", ")
            )));
        }
    }
    out.management_account_id =
        agreed(&parts, |inv| inv.management_account_id.clone()).unwrap_or(None);
    out.caller = agreed(&parts, |inv| inv.caller.clone()).unwrap_or(None);
    match agreed(&parts, |inv| inv.root_access) {
        Ok(r) => out.root_access = r,
        Err(_) => {
            out.unavailable.insert(Field::OrgRootAccess);
        }
    }
    // Which part each account is taken from.
    let mut chosen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (label, inv)) in parts.iter().enumerate() {
        for account in &inv.accounts {
            let Some(&j) = chosen.get(&account.id) else {
                chosen.insert(account.id.clone(), i);
                continue;
            };
            let (other_label, other) = &parts[j];
            let Some(earlier) = other.accounts.iter().find(|a| a.id == account.id) else {
                continue;
            };
            let (old, new) = (collected(earlier, other), collected(account, inv));
            let keep_new = new >= old;
            if keep_new {
                chosen.insert(account.id.clone(), i);
            }
            let (kept, kept_at) = if keep_new {
                (label, new)
            } else {
                (other_label, old)
            };
            out.notes.push(warn(format!(
                "account {} ({}) is in {other_label} (collected {}) and in {label} (collected {}): the newest, from {kept} (collected {}), is used",
                account.id,
                if account.name.is_empty() { &earlier.name } else { &account.name },
                when(old),
                when(new),
                when(kept_at)
            )));
        }
    }
    let audited: BTreeSet<String> = chosen.keys().cloned().collect();
    for (i, (label, inv)) in parts.into_iter().enumerate() {
        out.source.files.extend(inv.source.files);
        out.unavailable.extend(inv.unavailable);
        out.notes
            .extend(inv.notes.into_iter().map(|n| format!("{label}: {n}")));
        out.accounts.extend(
            inv.accounts
                .into_iter()
                .filter(|a| chosen.get(&a.id) == Some(&i)),
        );
        for s in inv.skipped {
            if !audited.contains(&s.id) && !out.skipped.iter().any(|x| x.id == s.id) {
                out.skipped.push(s);
            }
        }
        out.events.extend(inv.events);
    }
    out.normalize();
    // The same event from two parts (shards that overlap in time) is one event.
    out.events.dedup();
    out
}

fn warn(note: String) -> String {
    tracing::warn!("{note}");
    note
}
