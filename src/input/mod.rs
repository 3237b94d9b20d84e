//! What `evaluate` reads, and the formats AWS hands out that both `evaluate` and `scan` parse:
//!
//! - [`detect`]: what a file is, told by its content, and the refusal for a file given where it
//!   is not read;
//! - [`credential_report`]: the IAM credential report (CSV rows, key-slot matching);
//! - [`cloudtrail_record`]: one CloudTrail record turned into an event.
//!
//! [`load`] reads the files given to `evaluate` into one inventory.

pub mod cloudtrail;
pub mod cloudtrail_record;
pub mod credential_report;
pub mod detect;

use std::path::Path;

use crate::error::InputError;
use crate::input::detect::Position;
use crate::inventory::{json, stock_csv, Inventory};

fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    std::fs::read(path).map_err(|e| InputError::new(path, format!("cannot read: {e}")))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// A file that could not be read in `position`: when its content says it is something else
/// (a CloudTrail log as the input, the report CSV as `--events`, ...), what it is and what
/// would use it; else the reader's own error, with its line and column.
fn refuse_or(path: &Path, bytes: &[u8], position: Position, e: InputError) -> InputError {
    let kind = detect::detect(bytes);
    if kind.read_in(position) {
        e
    } else {
        InputError::new(path, kind.refusal(position))
    }
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
        return json::read_inventory(path, &bytes)
            .map_err(|e| refuse_or(path, &bytes, Position::Input, e));
    }
    let mut inv = stock_csv::read_report(path, &bytes)
        .map_err(|e| refuse_or(path, &bytes, Position::Input, e))?;
    if let Some(p) = events {
        let bytes = read_file(p)?;
        stock_csv::read_events(p, &bytes, &mut inv)
            .map_err(|e| refuse_or(p, &bytes, Position::Events, e))?;
        inv.source.files.push(file_name(p));
    }
    if let Some(p) = root {
        let bytes = read_file(p)?;
        stock_csv::read_root(p, &bytes, &mut inv)
            .map_err(|e| refuse_or(p, &bytes, Position::Root, e))?;
        inv.source.files.push(file_name(p));
    }
    Ok(inv)
}
