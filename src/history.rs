//! The run history (`--history FILE`): one JSON line per run ([`HistoryLineV1`]), appended
//! under a lock so that two runs at once lose nothing, read back skipping a damaged line with
//! a warning, and pruned (`--history-keep DAYS`) by rewriting the file atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};

use crate::error::{Error, InputError};
use crate::run::RunReport;
use crate::vocab::Status;
use crate::wire::{FirstSeenV1, HistoryCoverageV1, HistoryLineV1, SeverityCountsV1};

/// Version of the history line format.
pub const HISTORY_SCHEMA_VERSION: u32 = 1;

/// A line of the file that is not a history line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damaged {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// What a history file holds.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub lines: Vec<HistoryLineV1>,
    pub damaged: Vec<Damaged>,
}

/// Reads a history: every good line, and the damaged ones named (never an error but for a
/// file that cannot be read; a missing file is an empty history).
///
/// # Errors
///
/// The file exists but cannot be read.
pub fn read(path: &Path) -> Result<History, InputError> {
    Ok(parse(&read_bytes(path)?).0)
}

/// [`read`], saying on stderr which damaged lines were skipped.
///
/// # Errors
///
/// As [`read`].
pub fn read_warned(path: &Path) -> Result<History, InputError> {
    let history = read(path)?;
    for d in &history.damaged {
        tracing::warn!(
            "{}:{}: damaged history line skipped: {}",
            path.display(),
            d.line,
            d.reason
        );
    }
    Ok(history)
}

/// The bytes of the history at `path`; none when it does not exist.
fn read_bytes(path: &Path) -> Result<Vec<u8>, InputError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(InputError::new(path, format!("cannot read: {e}"))),
    }
}

/// The history in `text`, and the `as_of` of each good line by its 0-based line index.
fn parse(text: &[u8]) -> (History, BTreeMap<usize, DateTime<Utc>>) {
    let mut out = History::default();
    let mut as_of = BTreeMap::new();
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<HistoryLineV1>(line) {
            Ok(l) if l.schema_version == HISTORY_SCHEMA_VERSION => {
                as_of.insert(i, l.as_of);
                out.lines.push(l);
            }
            Ok(l) => out.damaged.push(Damaged {
                line: i + 1,
                reason: format!("schema_version {} is not known", l.schema_version),
            }),
            Err(e) => out.damaged.push(Damaged {
                line: i + 1,
                reason: e.to_string(),
            }),
        }
    }
    (out, as_of)
}

/// Whether the file at `path` is a run history (told by content: one of its first lines is a
/// history line's JSON object). A findings JSON (one object over many lines, or one line
/// with `tool`) is not.
pub fn is_history(path: &Path) -> bool {
    use std::io::BufRead;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    std::io::BufReader::new(file)
        .split(b'\n')
        .map_while(Result::ok)
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(5)
        .any(|l| {
            serde_json::from_slice::<serde_json::Value>(&l).is_ok_and(|v| {
                v.get("first_seen").is_some()
                    && v.get("schema_version").is_some()
                    && v.get("tool").is_none()
            })
        })
}

/// The line of `run`, given the history before it (its last line gives new, resolved and
/// each open finding's first-seen time).
pub fn line_of(run: &RunReport, before: &History) -> HistoryLineV1 {
    let previous = before
        .lines
        .iter()
        .filter(|l| l.as_of <= run.as_of)
        .max_by_key(|l| l.as_of);
    let mut first_seen_before: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    if let Some(p) = previous {
        for f in p.open_findings() {
            first_seen_before.insert(f.id, f.first_seen);
        }
    }
    let mut open = SeverityCountsV1::default();
    let mut open_by_rule: BTreeMap<String, u64> = BTreeMap::new();
    let mut first_seen = FirstSeenV1::new();
    let mut open_ids: BTreeSet<&str> = BTreeSet::new();
    let mut remediated = 0;
    for f in &run.findings {
        match f.status {
            Status::Open => {
                open.add(f.severity);
                *open_by_rule.entry(f.rule.id.clone()).or_default() += 1;
                if open_ids.insert(f.id.as_str()) {
                    let t = first_seen_before
                        .get(f.id.as_str())
                        .copied()
                        .unwrap_or(run.as_of);
                    first_seen
                        .entry(f.severity)
                        .or_default()
                        .entry(f.rule.id.clone())
                        .or_default()
                        .entry(t)
                        .or_default()
                        .push(f.id.clone());
                }
            }
            Status::Remediated => remediated += 1,
            Status::Waived => {}
        }
    }
    for ids in first_seen
        .values_mut()
        .flat_map(BTreeMap::values_mut)
        .flat_map(BTreeMap::values_mut)
    {
        ids.sort();
    }
    let (new, resolved) = match previous {
        Some(_) => (
            open_ids
                .iter()
                .filter(|id| !first_seen_before.contains_key(*id))
                .count() as u64,
            first_seen_before
                .keys()
                .filter(|id| !open_ids.contains(*id))
                .count() as u64,
        ),
        None => (open_ids.len() as u64, 0),
    };
    HistoryLineV1 {
        schema_version: HISTORY_SCHEMA_VERSION,
        as_of: run.as_of,
        source: serde_json::to_value(run.inventory.source.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        organization_id: run.inventory.organization_id.clone(),
        metrics: run.metrics.clone(),
        open,
        open_by_rule,
        new,
        resolved,
        remediated,
        coverage: HistoryCoverageV1 {
            audited: run.coverage.audited.len() as u64,
            incomplete: run
                .coverage
                .incomplete
                .iter()
                .map(|i| i.id.clone())
                .collect(),
            skipped: run.coverage.skipped.len() as u64,
        },
        first_seen,
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    path.with_file_name(name)
}

fn io(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::Input(InputError::new(path, format!("{what}: {e}")))
}

/// Appends the line of `run` to the history at `path` (created 0600 if missing), under an
/// exclusive lock on `path.lock` held from reading the last line to the end of the append, so
/// two runs at once both land. With `keep_days`, lines older than that many days before
/// `run.as_of` are dropped (the file rewritten to a temporary name and renamed; damaged lines
/// are kept as they were). Returns the damaged lines met.
///
/// # Errors
///
/// The lock, the history or its folder cannot be opened or written.
pub fn record(run: &RunReport, path: &Path, keep_days: Option<u32>) -> Result<Vec<Damaged>, Error> {
    let lock = private_open(&lock_path(path)).map_err(|e| io(path, "cannot open its lock", &e))?;
    lock.lock().map_err(|e| io(path, "cannot lock", &e))?;
    // Read once, under the lock: the previous line, the lines to prune, the last byte.
    let old = read_bytes(path)?;
    let (before, as_of_by_line) = parse(&old);
    for d in &before.damaged {
        tracing::warn!(
            "{}:{}: damaged history line skipped (kept in the file): {}",
            path.display(),
            d.line,
            d.reason
        );
    }
    let line = line_of(run, &before);
    let mut text = serde_json::to_string(&line).map_err(|e| {
        Error::Input(InputError::new(
            path,
            format!("cannot write the history line: {e}"),
        ))
    })?;
    text.push('\n');
    if let Some(days) = keep_days {
        {
            let cutoff = run.as_of - Duration::days(i64::from(days));
            let mut kept = Vec::new();
            for (i, raw) in old.split(|b| *b == b'\n').enumerate() {
                if raw.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let drop = as_of_by_line.get(&i).is_some_and(|t| *t < cutoff);
                if !drop {
                    kept.extend_from_slice(raw);
                    kept.push(b'\n');
                }
            }
            kept.extend_from_slice(text.as_bytes());
            // A new private file under an unpredictable name, renamed over the history.
            crate::emit::files::write_atomic(path, |w| w.write_all(&kept))?;
        }
    } else {
        {
            let mut f = private_open(path).map_err(|e| io(path, "cannot open", &e))?;
            // A last line cut short (a run killed mid-write) must not swallow this one.
            if old.last().is_some_and(|b| *b != b'\n') {
                text.insert(0, '\n');
            }
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(|e| io(path, "cannot append", &e))?;
        }
    }
    drop(lock);
    Ok(before.damaged)
}

/// Opens `path` for appending, created 0600 on Unix.
fn private_open(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}
