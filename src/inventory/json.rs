//! Inventory JSON: read (with a version check and line:col errors) and write.

use std::path::Path;

use crate::error::InputError;
use crate::inventory::model::{Inventory, INVENTORY_SCHEMA_VERSION};

/// Reads an inventory JSON file. Refuses versions this build does not know.
pub fn read_inventory(path: &Path, bytes: &[u8]) -> Result<Inventory, InputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        InputError::new(path, format!("not valid JSON: {e}"))
            .at(e.line() as u64, Some(e.column() as u64))
    })?;
    match value.get("schema_version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(INVENTORY_SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(InputError::new(
                path,
                format!(
                    "inventory schema_version {v} is not supported by this build (expected {INVENTORY_SCHEMA_VERSION})"
                ),
            ))
        }
        None => {
            return Err(InputError::new(
                path,
                "not an iam-audit inventory: no `schema_version` field (expected an inventory_<stamp>.json)",
            ))
        }
    }
    let mut inv: Inventory = serde_json::from_slice(bytes).map_err(|e| {
        InputError::new(path, format!("invalid inventory: {e}"))
            .at(e.line() as u64, Some(e.column() as u64))
    })?;
    inv.normalize();
    Ok(inv)
}

/// Writes an inventory: the envelope pretty-printed, each account and each event on one line
/// (a million keys stay a file that streams, diffs and greps well).
pub fn write_inventory<W: std::io::Write>(inv: &Inventory, mut w: W) -> std::io::Result<()> {
    let header = Inventory {
        schema_version: inv.schema_version,
        source: inv.source.clone(),
        collected_at: inv.collected_at,
        organization_id: inv.organization_id.clone(),
        management_account_id: inv.management_account_id.clone(),
        caller: inv.caller.clone(),
        root_access: inv.root_access,
        notes: inv.notes.clone(),
        unavailable: inv.unavailable.clone(),
        accounts: Vec::new(),
        skipped: inv.skipped.clone(),
        events: Vec::new(),
    };
    let text = serde_json::to_string_pretty(&header)?;
    let head = text
        .strip_suffix("\"accounts\": [],\n  \"events\": []\n}")
        .ok_or_else(|| std::io::Error::other("inventory envelope does not end with its lists"))?;
    w.write_all(head.as_bytes())?;
    write_lines(&mut w, "accounts", &inv.accounts)?;
    w.write_all(b",\n  ")?;
    write_lines(&mut w, "events", &inv.events)?;
    w.write_all(b"\n}\n")
}

fn write_lines<W: std::io::Write, T: serde::Serialize>(
    w: &mut W,
    name: &str,
    items: &[T],
) -> std::io::Result<()> {
    write!(w, "\"{name}\": [")?;
    for (i, item) in items.iter().enumerate() {
        w.write_all(if i == 0 { b"\n    " } else { b",\n    " })?;
        serde_json::to_writer(&mut *w, item)?;
    }
    w.write_all(if items.is_empty() { b"]" } else { b"\n  ]" })
}
