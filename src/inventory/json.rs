//! Inventory JSON: read (with a version check and line:col errors) and write.

use std::path::Path;

use crate::error::InputError;
use crate::inventory::{Inventory, INVENTORY_SCHEMA_VERSION};

/// Reads an inventory JSON file. Refuses versions this build does not know.
pub fn read_inventory(path: &Path, bytes: &[u8]) -> Result<Inventory, InputError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        InputError::new(path, format!("not valid JSON: {e}"))
            .at(e.line() as u64, Some(e.column() as u64))
    })?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
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

/// Writes an inventory as pretty JSON with a trailing newline.
pub fn write_inventory<W: std::io::Write>(inv: &Inventory, mut w: W) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut w, inv)?;
    w.write_all(b"\n")
}
