//! Loading the project's own YAML files (rule packs, fixtures, config, waivers): size limit,
//! serde-saphyr budgets, errors as `file:line:col: message`, spans as line and column.
//! Imports nothing from the crate but the error type.

use std::path::Path;

use crate::error::InputError;

/// Largest YAML file accepted (bytes); a bigger file is refused before parsing.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Parses YAML text into `T` with serde-saphyr's budgets (alias bombs, nesting depth) and
/// turns errors into `file:line:col: message`.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(display: &str, text: &str) -> Result<T, String> {
    if text.len() > MAX_FILE_BYTES {
        return Err(format!(
            "{display}: file is {} bytes; at most {} are accepted",
            text.len(),
            MAX_FILE_BYTES
        ));
    }
    let options = yaml_options();
    serde_saphyr::from_str_with_options::<T>(text, options).map_err(|e| yaml_error(display, &e))
}

/// serde-saphyr options for the project's own YAML files (packs, fixtures, config, waivers).
/// Far below serde-saphyr's defaults, which suit documents of hundreds of megabytes: such a
/// file is at most a megabyte, nests a few levels and has little use for aliases, so an alias
/// bomb or a deep nest stops within milliseconds and a few megabytes.
pub fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: 32,
            flow_nesting_limit: 32,
            max_anchors: 1_000,
            max_aliases: 1_000,
            max_documents: 1,
            max_total_scalar_bytes: 4 * MAX_FILE_BYTES,
            max_recorded_anchor_events: 20_000,
            max_recorded_anchor_bytes: 4 * MAX_FILE_BYTES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 20_000,
            max_replay_stack_depth: 32,
        },
    }
}

/// Formats a serde-saphyr error as `file:line:col: message`.
pub fn yaml_error(display: &str, e: &serde_saphyr::Error) -> String {
    let first = yaml_message(e);
    match e.location() {
        Some(loc) => format!("{display}:{}:{}: {first}", loc.line(), loc.column()),
        None => format!("{display}: {first}"),
    }
}

/// What went wrong, in words, without the location.
pub fn yaml_message(e: &serde_saphyr::Error) -> String {
    let msg = e.to_string();
    let mut first = msg.lines().next().unwrap_or("invalid YAML").to_string();
    // The location is given once, in front: drop serde-saphyr's own "error: line L column C: ".
    if let Some(rest) = first.strip_prefix("error: line ") {
        if let Some((_, after)) = rest.split_once(": ") {
            first = after.to_string();
        }
    }
    // Budget breaches in words (serde-saphyr shows its Debug form).
    {
        use serde_saphyr::budget::BudgetBreach as B;
        use serde_saphyr::Error as E;
        const ALIASES: &str = "aliases expand to too much YAML (an alias bomb?)";
        let mut inner = e;
        while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = inner {
            inner = error;
        }
        let plain = match inner {
            E::Budget { breach, .. } => Some(match breach {
                B::Depth { depth } => format!("YAML nested too deeply ({depth} levels)"),
                B::Nodes { nodes } => format!("too many YAML nodes ({nodes})"),
                B::Events { events } => format!("too many YAML events ({events})"),
                B::Documents { documents } => {
                    format!("{documents} YAML documents; one is expected")
                }
                B::ScalarBytes { total_scalar_bytes } => format!(
                    "text values add up to {total_scalar_bytes} bytes or more (aliases \
                     repeating long text?)"
                ),
                B::Aliases { .. }
                | B::Anchors { .. }
                | B::AliasAnchorRatio { .. }
                | B::RecordedAnchorEvents { .. }
                | B::RecordedAnchorBytes { .. } => ALIASES.to_string(),
                other => format!("YAML over budget: {other:?}"),
            }),
            E::AliasReplayLimitExceeded { .. }
            | E::AliasExpansionLimitExceeded { .. }
            | E::AliasReplayStackDepthExceeded { .. } => Some(format!("{ALIASES}: {first}")),
            _ if first == "recursion limit exceeded" => Some("YAML nested too deeply".to_string()),
            _ => None,
        };
        if let Some(plain) = plain {
            first = plain;
        }
        // Advice for the program, not for the author of the file.
        first = first.replace(", set DuplicateKeyPolicy in Options if acceptable", "");
    }
    first
}

/// 1-based (line, column) of a span, never 0 (serde-saphyr gives 0 when it does not know).
pub fn line_col(at: &serde_saphyr::Location) -> (u64, u64) {
    (at.line().max(1), at.column().max(1))
}

/// Reads a YAML file of at most [`MAX_FILE_BYTES`] bytes; `what` names it in errors
/// (`config`: "cannot read config: ...").
pub fn read_limited(path: &Path, what: &str) -> Result<String, InputError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(path, format!("cannot read {what}: {e}")))?;
    if text.len() > MAX_FILE_BYTES {
        return Err(InputError::new(
            path,
            format!(
                "{what} is {} bytes; at most {MAX_FILE_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// Parses YAML text into `T` with [`yaml_options`]; an error is an [`InputError`] at the
/// line and column serde-saphyr reports.
pub fn parse_located<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
) -> Result<T, InputError> {
    serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
        let err = InputError::new(path, yaml_message(&e));
        match e.location() {
            Some(l) => err.at(l.line(), Some(l.column())),
            None => err,
        }
    })
}
