//! The normalized inventory, its stock CSV readers and writers, and its JSON form.

pub mod json;
pub mod model;
pub mod stock_csv;
pub mod time;

pub use model::*;

use std::path::Path;

use crate::error::InputError;

fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    std::fs::read(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// Reads an evaluation input: an inventory JSON, or a stock report CSV with optional events
/// and root CSVs. The kind is told by the content (a JSON object) or the `.json` extension.
pub fn load(
    path: &Path,
    events: Option<&Path>,
    root: Option<&Path>,
) -> Result<Inventory, InputError> {
    let bytes = read_file(path)?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_json {
        if let Some(extra) = events.or(root) {
            return Err(InputError::new(
                extra,
                "--events and --root go with a stock CSV report; an inventory JSON already holds events and root credentials",
            ));
        }
        return json::read_inventory(path, &bytes);
    }
    let mut inv = stock_csv::read_report(path, &bytes)?;
    if let Some(p) = events {
        stock_csv::read_events(p, &read_file(p)?, &mut inv)?;
        inv.source.files.push(file_name(p));
    }
    if let Some(p) = root {
        stock_csv::read_root(p, &read_file(p)?, &mut inv)?;
        inv.source.files.push(file_name(p));
    }
    Ok(inv)
}
