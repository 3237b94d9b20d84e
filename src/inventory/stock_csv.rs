//! The three stock CSV reports of the original tool, read and written exactly as the seed
//! describes them (SPEC §2):
//!
//! - the main report (`iam_audit_report_<stamp>.csv`, [`REPORT_HEADER`]): one row per access
//!   key, plus one `N/A` row per user without keys unless [`WriteOptions::keys_only`];
//! - the CloudTrail events (`cloudtrail_events_<stamp>.csv`, [`EVENTS_HEADER`]);
//! - the root report (`root_audit_report_<stamp>.csv`, [`ROOT_HEADER`]).
//!
//! Writers produce one canonical form: UTC times `YYYY-MM-DD HH:MM:SS`, `\n` line endings,
//! quotes only where needed, cells trimmed and neutralised against spreadsheet formulas
//! ([`neutralize`]), rows in a fixed order. Readers accept that form — reading a file a writer
//! wrote and writing it again gives the same bytes — plus what the original Python tool wrote:
//! `+00:00` offsets, fractional seconds, ISO-8601 times, CRLF, a UTF-8 BOM and quoted fields.
//!
//! A row the original tool can write, alone or in reports joined one after the other, is read
//! with a warning rather than refused: `tracing::warn!` naming the file and lines, and a note in
//! the account's `collection.notes` (or the inventory's `notes`). That covers one account id
//! with several names, rows repeating earlier rows exactly and lines repeating the header. What
//! neither AWS nor the original tool writes is an [`InputError`] naming the file, the physical
//! line, the field number, what was expected, what was found and, for rows that contradict each
//! other, what to do.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use chrono::{DateTime, Utc};

use super::model::{
    AccessKey, Account, Event, Field, Inventory, KeyStatus, MfaDevice, MfaType, Password,
    RootCredentials, SourceKind, User,
};
use super::time::{format_stock, parse_date_or_time, parse_time};
use crate::error::InputError;

/// Header of the main report, exactly as the seed gives it.
pub const REPORT_HEADER: &str = "account_id,account_name,username,password_status,password_last_used,access_key_id,status,created_date,last_used_date,service_name,mfa_status";
/// Header of the CloudTrail events report.
pub const EVENTS_HEADER: &str = "eventTime,eventName,username,account_id,account_name,resources";
/// Header of the root report.
pub const ROOT_HEADER: &str =
    "account_id,account_name,mfa_enabled,access_key_present,root_last_login";

/// `password_status` of a user with a console password.
const CONFIGURED: &str = "Configurada";
/// `password_status` of a user without a console password.
const NOT_CONFIGURED: &str = "No configurada";
/// `password_last_used` of a password never used (or absent), and `root_last_login` of a root
/// user that never signed in.
const NEVER: &str = "Nunca";
/// `last_used_date` of a key never used.
const KEY_NEVER_USED: &str = "Nunca utilizada";
/// A key field of a user without keys, and `service_name` of a key never used.
const NA: &str = "N/A";
const MFA_VIRTUAL: &str = "Virtual";
const MFA_HARDWARE: &str = "Hardware";
const MFA_NONE: &str = "None";
const TRUE: &str = "True";
const FALSE: &str = "False";

/// Column indexes (0-based) of the main report.
mod report_col {
    pub const ACCOUNT_ID: usize = 0;
    pub const ACCOUNT_NAME: usize = 1;
    pub const USERNAME: usize = 2;
    pub const PASSWORD_STATUS: usize = 3;
    pub const PASSWORD_LAST_USED: usize = 4;
    pub const ACCESS_KEY_ID: usize = 5;
    pub const STATUS: usize = 6;
    pub const CREATED_DATE: usize = 7;
    pub const LAST_USED_DATE: usize = 8;
    pub const SERVICE_NAME: usize = 9;
    pub const MFA_STATUS: usize = 10;
}

/// Column indexes (0-based) of the events report.
mod events_col {
    pub const EVENT_TIME: usize = 0;
    pub const EVENT_NAME: usize = 1;
    pub const USERNAME: usize = 2;
    pub const ACCOUNT_ID: usize = 3;
    pub const ACCOUNT_NAME: usize = 4;
    pub const RESOURCES: usize = 5;
}

/// Column indexes (0-based) of the root report.
mod root_col {
    pub const ACCOUNT_ID: usize = 0;
    pub const ACCOUNT_NAME: usize = 1;
    pub const MFA_ENABLED: usize = 2;
    pub const ACCESS_KEY_PRESENT: usize = 3;
    pub const ROOT_LAST_LOGIN: usize = 4;
}

/// Fields a stock CSV set cannot carry: every optional field but the key ids, which the stock
/// report has. [`read_events`] and [`read_root`] remove `Events` and `Root` again.
const STOCK_UNAVAILABLE: [Field; 15] = {
    let all = crate::inventory::model::ALL_FIELDS;
    let mut out = [Field::Events; 15];
    let mut i = 0;
    let mut j = 0;
    while i < all.len() {
        if !matches!(all[i], Field::KeyId) {
            out[j] = all[i];
            j += 1;
        }
        i += 1;
    }
    out
};

// ---------------------------------------------------------------------------------------------
// Formula neutralisation
// ---------------------------------------------------------------------------------------------

/// First characters that make a spreadsheet treat a cell as a formula.
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `s`, once any leading `'` are skipped, starts with a formula trigger.
fn starts_like_formula(s: &str) -> bool {
    s.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS)
}

/// Formula-injection neutralisation used by every CSV writer of the crate: a cell starting
/// with `=`, `+`, `-`, `@`, TAB or CR gets a leading `'`, which spreadsheets take as "text".
///
/// A cell that already starts with `'` followed by such a character (after any number of
/// `'`) gets one more `'`, so that [`unneutralize`] gives back exactly the original text.
pub fn neutralize(cell: &str) -> Cow<'_, str> {
    if starts_like_formula(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as every CSV writer of the crate writes it: trimmed, then [`neutralize`]d. Trimming
/// first matters: spreadsheets skip leading spaces, so ` =HYPERLINK(…)` is a formula that a
/// guard looking only at the first character would let through.
pub fn safe_cell(text: &str) -> Cow<'_, str> {
    neutralize(text.trim())
}

/// The inverse of [`neutralize`], used by readers: strips a leading `'` only when it is
/// followed by a formula trigger (possibly after more `'`). `unneutralize(neutralize(s)) == s`
/// for every `s`.
pub fn unneutralize(cell: &str) -> Cow<'_, str> {
    match cell.strip_prefix('\'') {
        Some(rest) if starts_like_formula(rest) => Cow::Borrowed(rest),
        _ => Cow::Borrowed(cell),
    }
}

// ---------------------------------------------------------------------------------------------
// Writers
// ---------------------------------------------------------------------------------------------

/// How to write the main report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// The original tool's behaviour: users without access keys get no row (which hides console
    /// users without keys from MFA coverage). Otherwise they get one row of `N/A` key fields.
    pub keys_only: bool,
}

/// A CSV writer in the canonical stock form. Every cell is trimmed and neutralised.
struct StockWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> StockWriter<W> {
    /// Starts a file with `header`.
    fn new(w: W, header: &str) -> std::io::Result<StockWriter<W>> {
        let csv = csv::WriterBuilder::new()
            .quote_style(csv::QuoteStyle::Necessary)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(w);
        let mut out = StockWriter { csv };
        out.row(header.split(','))?;
        Ok(out)
    }

    fn row<'a>(&mut self, cells: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
        let cells: Vec<Cow<'_, str>> = cells.into_iter().map(safe_cell).collect();
        self.csv.write_record(cells.iter().map(|c| c.as_bytes()))?;
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<()> {
        self.csv.flush()
    }
}

/// Sorts by `key`, stably.
fn sorted_by<'a, T, K: Ord>(items: &'a [T], key: impl Fn(&'a T) -> K) -> Vec<&'a T> {
    let mut v: Vec<&T> = items.iter().collect();
    v.sort_by_cached_key(|t| key(*t));
    v
}

/// The `mfa_status` cell: `Hardware` if any device is hardware or FIDO, else `Virtual` if the
/// user has any device (virtual or of unknown kind), else `None`.
fn mfa_cell(user: &User) -> &'static str {
    let devices = &user.mfa_devices;
    if devices
        .iter()
        .any(|d| matches!(d.kind, MfaType::Hardware | MfaType::Fido))
    {
        MFA_HARDWARE
    } else if devices.is_empty() {
        MFA_NONE
    } else {
        MFA_VIRTUAL
    }
}

/// Writes the main report: one row per access key, sorted by account id, username, creation
/// time (to the second) and key id; a user without keys gets one row whose five key fields are
/// `N/A`, unless `opts.keys_only`.
pub fn write_report<W: Write>(inv: &Inventory, opts: &WriteOptions, w: W) -> std::io::Result<()> {
    let mut out = StockWriter::new(w, REPORT_HEADER)?;
    for account in sorted_by(&inv.accounts, |a| a.id.trim()) {
        for user in sorted_by(&account.users, |u| u.name.trim()) {
            let password_status = if user.password.enabled {
                CONFIGURED
            } else {
                NOT_CONFIGURED
            };
            // Written with or without a password: AWS keeps the last sign-in after the password
            // is removed, and the original tool writes it (ListUsers' PasswordLastUsed).
            let password_last_used = user
                .password
                .last_used
                .as_ref()
                .map_or_else(|| NEVER.to_owned(), format_stock);
            let mfa = mfa_cell(user);
            let prefix = [
                account.id.as_str(),
                account.name.as_str(),
                user.name.as_str(),
                password_status,
                password_last_used.as_str(),
            ];
            if user.access_keys.is_empty() {
                if !opts.keys_only {
                    out.row(prefix.into_iter().chain([NA, NA, NA, NA, NA, mfa]))?;
                }
                continue;
            }
            for key in sorted_by(&user.access_keys, |k| (k.created.timestamp(), k.id.trim())) {
                let created = format_stock(&key.created);
                let (last_used, service) = match &key.last_used {
                    Some(t) => {
                        let service = key.last_used_service.as_deref().map(str::trim);
                        (
                            format_stock(t),
                            service.filter(|s| !s.is_empty()).unwrap_or(NA),
                        )
                    }
                    None => (KEY_NEVER_USED.to_owned(), NA),
                };
                out.row(prefix.into_iter().chain([
                    key.id.as_str(),
                    key.status.as_str(),
                    created.as_str(),
                    last_used.as_str(),
                    service,
                    mfa,
                ]))?;
            }
        }
    }
    out.finish()
}

/// The resources of an event as written: trimmed, empty ones left out.
fn clean_resources(event: &Event) -> Vec<&str> {
    event
        .resources
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .collect()
}

/// Writes the CloudTrail events report: the successful calls ([`Event::failed`] ones, a denied
/// call or a failed sign-in, stay in the inventory JSON only, as the original tool listed
/// none), sorted by time (to the second), then account id, event name, actor and resources —
/// the order [`Inventory::normalize`] gives them back.
pub fn write_events<W: Write>(inv: &Inventory, w: W) -> std::io::Result<()> {
    let mut out = StockWriter::new(w, EVENTS_HEADER)?;
    let succeeded: Vec<&Event> = inv.events.iter().filter(|e| !e.failed()).collect();
    let events = sorted_by(&succeeded, |e| {
        (
            e.time.timestamp(),
            e.account_id.trim(),
            e.name.trim(),
            e.actor.trim(),
            clean_resources(e),
        )
    });
    for event in events {
        let time = format_stock(&event.time);
        let resources = clean_resources(event).join(", ");
        out.row([
            time.as_str(),
            event.name.as_str(),
            event.actor.as_str(),
            event.account_id.as_str(),
            event.account_name.as_str(),
            resources.as_str(),
        ])?;
    }
    out.finish()
}

fn bool_cell(b: bool) -> &'static str {
    if b {
        TRUE
    } else {
        FALSE
    }
}

/// Writes the root report: one row per account whose root credentials are known, sorted by
/// account id.
pub fn write_root<W: Write>(inv: &Inventory, w: W) -> std::io::Result<()> {
    let mut out = StockWriter::new(w, ROOT_HEADER)?;
    for account in sorted_by(&inv.accounts, |a| a.id.trim()) {
        let Some(root) = &account.root else { continue };
        let last_login = match &root.last_console_login {
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => NEVER.to_owned(),
        };
        out.row([
            account.id.as_str(),
            account.name.as_str(),
            bool_cell(root.mfa_enabled),
            bool_cell(root.access_key_present),
            last_login.as_str(),
        ])?;
    }
    out.finish()
}

// ---------------------------------------------------------------------------------------------
// Reading: records, cells and their validation
// ---------------------------------------------------------------------------------------------

/// A CSV file being read: its header was checked; yields data rows.
struct StockReader<'a> {
    path: &'a Path,
    /// The file's content without its BOM, for line numbers.
    bytes: &'a [u8],
    csv: csv::Reader<&'a [u8]>,
    /// Byte offset up to which `line` counts the newlines.
    counted_to: usize,
    /// 1-based physical line at `counted_to`.
    line: u64,
    columns: Vec<&'static str>,
    record: csv::ByteRecord,
    /// The current record's cells, reused from row to row.
    cells: Vec<String>,
    /// Lines after the first that repeat the header (reports joined with `cat`): skipped.
    repeated_headers: Vec<u64>,
}

/// One data row: its physical line and its cells, trimmed and unneutralised.
struct Row<'a> {
    path: &'a Path,
    line: u64,
    columns: &'a [&'static str],
    cells: &'a [String],
}

impl<'a> StockReader<'a> {
    /// Opens `bytes` (the content of `path`) and checks that its first record is `header`.
    fn open(path: &'a Path, bytes: &'a [u8], header: &'static str) -> Result<Self, InputError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut reader = StockReader {
            path,
            bytes,
            csv,
            counted_to: 0,
            line: 1,
            columns: header.split(',').collect(),
            record: csv::ByteRecord::new(),
            cells: Vec::new(),
            repeated_headers: Vec::new(),
        };
        let Some(line) = reader.next_record()? else {
            return Err(InputError::new(
                path,
                format!("empty file: expected the header `{header}`"),
            )
            .at(1, Some(1)));
        };
        reader.check_header(line, &reader.cells)?;
        Ok(reader)
    }

    /// The 1-based physical line of the record that the csv reader says starts at `byte`.
    ///
    /// `csv::Position::line()` is not that line: it is taken before the reader skips the `\n`
    /// of a CRLF and any blank lines, so it lags behind. The byte offset has the same lag, so
    /// skip line ends from it and count the newlines before.
    fn physical_line(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        if start < self.counted_to {
            (self.counted_to, self.line) = (0, 1);
        }
        let skipped = self.bytes.get(self.counted_to..start).unwrap_or_default();
        self.line += count_line_ends(skipped, self.bytes.get(start).copied());
        self.counted_to = start;
        self.line
    }

    /// The next non-blank record: its line and its cells (trimmed, unneutralised).
    fn next_record(&mut self) -> Result<Option<u64>, InputError> {
        loop {
            let more = match self.csv.read_byte_record(&mut self.record) {
                Ok(more) => more,
                Err(e) => {
                    let err = InputError::new(self.path, format!("cannot read the CSV: {e}"));
                    return Err(match e.position() {
                        Some(p) => err.at(self.physical_line(p.byte()), None),
                        None => err,
                    });
                }
            };
            if !more {
                return Ok(None);
            }
            let byte = self.record.position().map_or(0, csv::Position::byte);
            let line = self.physical_line(byte);
            let n = self.record.len();
            self.cells.resize_with(n, String::new);
            for (i, field) in self.record.iter().enumerate() {
                let text = std::str::from_utf8(field).map_err(|_| {
                    InputError::new(self.path, "invalid UTF-8: expected UTF-8 text")
                        .at(line, Some(i as u64 + 1))
                })?;
                let cell = &mut self.cells[i];
                cell.clear();
                cell.push_str(&unneutralize(text.trim()));
            }
            // A line holding only whitespace is as blank as an empty one.
            if let [only] = self.cells.as_slice() {
                if only.is_empty() {
                    continue;
                }
            }
            return Ok(Some(line));
        }
    }

    fn check_header(&self, line: u64, found: &[String]) -> Result<(), InputError> {
        let expected = &self.columns;
        let header = expected.join(",");
        let err = |column: usize, message: String| {
            Err(InputError::new(self.path, message).at(line, Some(column as u64 + 1)))
        };
        let first_is_data = found
            .first()
            .is_some_and(|c| is_account_id(c) || parse_time(c).is_some());
        if first_is_data {
            return err(
                0,
                format!("missing header: expected the header `{header}`, found a data row"),
            );
        }
        let must = format!("(the header must be `{header}`)");
        for i in 0..expected.len().max(found.len()) {
            let found_here = match (expected.get(i), found.get(i)) {
                (Some(e), Some(f)) if e == f => continue,
                (Some(e), Some(f)) => {
                    format!("expected column {} `{e}`, found {}", i + 1, quoted(f))
                }
                (Some(e), None) => {
                    format!("expected column {} `{e}`, found the end of the line", i + 1)
                }
                (None, Some(f)) => format!(
                    "expected {} columns, found an extra column {}",
                    expected.len(),
                    quoted(f)
                ),
                (None, None) => continue,
            };
            return err(i, format!("wrong header: {found_here} {must}"));
        }
        Ok(())
    }

    /// The next data row, with as many cells as the header has columns. A line that repeats
    /// the header exactly (reports joined one after the other) is skipped and remembered.
    fn next_row(&mut self) -> Result<Option<Row<'_>>, InputError> {
        let line = loop {
            let Some(line) = self.next_record()? else {
                return Ok(None);
            };
            if self
                .cells
                .iter()
                .map(String::as_str)
                .eq(self.columns.iter().copied())
            {
                self.repeated_headers.push(line);
                continue;
            }
            break line;
        };
        let cells = &self.cells;
        let want = self.columns.len();
        if cells.len() != want {
            let column = cells.len().min(want) + 1;
            return Err(InputError::new(
                self.path,
                format!(
                    "wrong number of fields: expected {want} (as in the header), found {}",
                    cells.len()
                ),
            )
            .at(line, Some(column as u64)));
        }
        Ok(Some(Row {
            path: self.path,
            line,
            columns: &self.columns,
            cells,
        }))
    }
}

impl StockReader<'_> {
    /// The note on the repeated headers of the file, if any.
    fn repeated_headers_note(&self) -> Option<String> {
        let (first, more) = self.repeated_headers.split_first()?;
        let lines = if more.is_empty() {
            format!("line {first} repeats the header")
        } else {
            format!(
                "lines {} repeat the header",
                lines_list(&self.repeated_headers)
            )
        };
        Some(format!(
            "{}: {lines} (reports joined one after the other?); the rows that follow are \
             read with the others",
            file_name(self.path)
        ))
    }
}

/// At most [`LIST_MAX`] line numbers, then how many more.
fn lines_list(lines: &[u64]) -> String {
    let mut out: Vec<String> = lines.iter().take(LIST_MAX).map(u64::to_string).collect();
    if lines.len() > LIST_MAX {
        out.push(format!("and {} more", lines.len() - LIST_MAX));
    }
    out.join(", ")
}

/// Most items a warning lists one by one.
const LIST_MAX: usize = 5;

/// Logs `note` as a warning and gives it back, for the inventory's notes.
fn warn(note: String) -> String {
    tracing::warn!("{note}");
    note
}

/// `n` and `unit`, plural when `n` is not 1.
fn count_of(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// The names one account id is given in a file.
struct NamesSeen {
    /// In order of first appearance.
    names: Vec<NameSeen>,
    /// Index in `names` of the name on the account's last row.
    last: usize,
    /// Line of the account's last row.
    last_line: u64,
}

struct NameSeen {
    name: String,
    first_line: u64,
    rows: u64,
}

impl NamesSeen {
    /// Names seen on no row yet; the first row is to be recorded with [`NamesSeen::see`].
    fn new(name: &str, line: u64) -> NamesSeen {
        NamesSeen {
            names: vec![NameSeen {
                name: name.to_owned(),
                first_line: line,
                rows: 0,
            }],
            last: 0,
            last_line: line,
        }
    }

    /// Records a row at `line` naming the account `name`.
    fn see(&mut self, name: &str, line: u64) {
        if self.names[self.last].name != name {
            self.last = if let Some(i) = self.names.iter().position(|n| n.name == name) {
                i
            } else {
                self.names.push(NameSeen {
                    name: name.to_owned(),
                    first_line: line,
                    rows: 0,
                });
                self.names.len() - 1
            };
        }
        self.names[self.last].rows += 1;
        self.last_line = line;
    }

    /// The name on the account's last row in file order.
    fn last_name(&self) -> &str {
        &self.names[self.last].name
    }

    /// Each name with its row count and first line, `unit` naming a row.
    fn describe(&self, unit: &str) -> String {
        let names: Vec<String> = self
            .names
            .iter()
            .map(|n| {
                format!(
                    "{} ({}, first on line {})",
                    quoted(&n.name),
                    count_of(n.rows, unit),
                    n.first_line
                )
            })
            .collect();
        names.join(", ")
    }

    /// The warning on an account given several names in `file`, if it is; the account takes
    /// [`NamesSeen::last_name`].
    fn conflict_note(&self, file: &str, account_id: &str) -> Option<String> {
        (self.names.len() > 1).then(|| {
            format!(
                "{file}: account {account_id} has {} names: {}; using {}, the name on its last \
                 row (line {}), as a report joined after a rename ends with the newer name; \
                 every row is kept under the one account",
                self.names.len(),
                self.describe("row"),
                quoted(self.last_name()),
                self.last_line
            )
        })
    }
}

/// The line ends in `bytes` (LF, CRLF or a lone CR), `next` being the byte after them.
fn count_line_ends(bytes: &[u8], next: Option<u8>) -> u64 {
    let followers = bytes.iter().skip(1).copied().map(Some).chain([next]);
    bytes
        .iter()
        .zip(followers)
        .filter(|&(&b, after)| b == b'\n' || (b == b'\r' && after != Some(b'\n')))
        .count() as u64
}

/// Exactly twelve ASCII digits.
fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Row<'_> {
    /// The cell at 0-based `col` (empty if out of range, which `next_row` rules out).
    fn cell(&self, col: usize) -> &str {
        self.cells.get(col).map_or("", String::as_str)
    }

    fn column_name(&self, col: usize) -> &'static str {
        self.columns.get(col).copied().unwrap_or("?")
    }

    /// An error at 0-based `col` of this row.
    fn err(&self, col: usize, message: impl Into<String>) -> InputError {
        InputError::new(self.path, message).at(self.line, Some(col as u64 + 1))
    }

    /// An error saying what `col` should hold, quoting what it holds.
    fn expected(&self, col: usize, what: &str) -> InputError {
        self.err(
            col,
            format!(
                "expected {what} in column `{}`, found {}",
                self.column_name(col),
                quoted(self.cell(col))
            ),
        )
    }

    fn account_id(&self, col: usize) -> Result<String, InputError> {
        let s = self.cell(col);
        if is_account_id(s) {
            Ok(s.to_owned())
        } else {
            Err(self.expected(col, "an account id of exactly 12 digits"))
        }
    }

    fn non_empty(&self, col: usize, what: &str) -> Result<String, InputError> {
        let s = self.cell(col);
        if s.is_empty() {
            Err(self.expected(col, what))
        } else {
            Ok(s.to_owned())
        }
    }

    fn time(&self, col: usize) -> Result<DateTime<Utc>, InputError> {
        parse_time(self.cell(col)).ok_or_else(|| self.expected(col, "a time `YYYY-MM-DD HH:MM:SS`"))
    }

    /// A time, or `None` when the cell is `never`.
    fn time_or(&self, col: usize, never: &str) -> Result<Option<DateTime<Utc>>, InputError> {
        if self.cell(col) == never {
            return Ok(None);
        }
        parse_time(self.cell(col)).map(Some).ok_or_else(|| {
            self.expected(col, &format!("a time `YYYY-MM-DD HH:MM:SS` or `{never}`"))
        })
    }

    /// One of a closed set of values.
    fn choice<T: Copy>(&self, col: usize, choices: &[(&str, T)]) -> Result<T, InputError> {
        let s = self.cell(col);
        choices
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("`{n}`")).collect();
                self.expected(col, &format!("one of {}", names.join(", ")))
            })
    }
}

/// Longest text quoted in a message, in characters.
const QUOTE_MAX: usize = 80;

/// A value from the file for a message: backquoted, control characters escaped (a file must
/// not be able to drive the terminal), cut at [`QUOTE_MAX`] characters; or "an empty cell".
fn quoted(s: &str) -> String {
    if s.is_empty() {
        return "an empty cell".to_owned();
    }
    let mut out = String::from("`");
    for c in s.chars().take(QUOTE_MAX) {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    if s.chars().nth(QUOTE_MAX).is_some() {
        out.push('…');
    }
    out.push('`');
    out
}

/// The name under which an inventory records `path`.
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// Reading the main report
// ---------------------------------------------------------------------------------------------

/// `mfa_status` as the report writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StockMfa {
    None,
    Virtual,
    Hardware,
}

impl StockMfa {
    fn as_str(self) -> &'static str {
        match self {
            StockMfa::None => MFA_NONE,
            StockMfa::Virtual => MFA_VIRTUAL,
            StockMfa::Hardware => MFA_HARDWARE,
        }
    }

    fn devices(self) -> Vec<MfaDevice> {
        let kind = match self {
            StockMfa::None => return Vec::new(),
            StockMfa::Virtual => MfaType::Virtual,
            StockMfa::Hardware => MfaType::Hardware,
        };
        vec![MfaDevice {
            serial: None,
            kind,
            enabled_at: None,
        }]
    }
}

/// What one report row says about its access key.
enum KeyCells {
    /// The row of a user without keys.
    None,
    Key(AccessKey),
}

/// Parses the key fields of a report row (access_key_id to service_name).
fn key_cells(row: &Row<'_>) -> Result<KeyCells, InputError> {
    use report_col::{ACCESS_KEY_ID, CREATED_DATE, LAST_USED_DATE, SERVICE_NAME, STATUS};
    if row.cell(ACCESS_KEY_ID) == NA {
        let key_fields = [STATUS, CREATED_DATE, LAST_USED_DATE, SERVICE_NAME];
        if let Some(&col) = key_fields.iter().find(|&&c| row.cell(c) != NA) {
            return Err(row.err(
                col,
                format!(
                    "expected `N/A` in column `{}`, found {}: access_key_id is `N/A` (a user \
                     without keys), so all five key fields must be `N/A`",
                    row.column_name(col),
                    quoted(row.cell(col))
                ),
            ));
        }
        return Ok(KeyCells::None);
    }
    let id = row.non_empty(ACCESS_KEY_ID, "an access key id or `N/A`")?;
    // service_name is `N/A` for a key never used; the other key fields never are.
    let required = [STATUS, CREATED_DATE, LAST_USED_DATE];
    if let Some(&col) = required.iter().find(|&&c| row.cell(c) == NA) {
        return Err(row.err(
            col,
            format!(
                "expected a value in column `{}` of key {}, found `N/A`: `N/A` key fields only \
                 appear all together, on the row of a user without keys (access_key_id `N/A`)",
                row.column_name(col),
                quoted(&id)
            ),
        ));
    }
    let status = row.choice(
        STATUS,
        &[
            ("Active", KeyStatus::Active),
            ("Inactive", KeyStatus::Inactive),
            ("Expired", KeyStatus::Expired),
        ],
    )?;
    let created = row.time(CREATED_DATE)?;
    let last_used = row.time_or(LAST_USED_DATE, KEY_NEVER_USED)?;
    let service = match row.cell(SERVICE_NAME) {
        NA => None,
        "" => return Err(row.expected(SERVICE_NAME, "an AWS service id or `N/A`")),
        s if last_used.is_none() => {
            return Err(row.err(
                SERVICE_NAME,
                format!(
                    "expected `N/A` in column `service_name` because last_used_date is \
                     `{KEY_NEVER_USED}`, found `{s}`"
                ),
            ))
        }
        s => Some(s.to_owned()),
    };
    Ok(KeyCells::Key(AccessKey {
        id,
        status,
        created,
        last_used,
        last_used_service: service,
        last_used_region: None,
        ..Default::default()
    }))
}

/// Parses the password fields of a report row.
fn password_cells(row: &Row<'_>) -> Result<Password, InputError> {
    use report_col::{PASSWORD_LAST_USED, PASSWORD_STATUS};
    let enabled = row.choice(
        PASSWORD_STATUS,
        &[(CONFIGURED, true), (NOT_CONFIGURED, false)],
    )?;
    // A time with `No configurada` is kept: AWS keeps a user's last sign-in after the password
    // is removed (ListUsers' PasswordLastUsed) and the original tool copies it. Rules only
    // count a password as a console credential when it is enabled.
    let last_used = row.time_or(PASSWORD_LAST_USED, NEVER)?;
    Ok(Password {
        enabled,
        last_used,
        last_changed: None,
        ..Default::default()
    })
}

/// One validated row of the main report.
struct ReportRow<'a> {
    account_id: &'a str,
    account_name: &'a str,
    username: &'a str,
    password: Password,
    key: KeyCells,
    mfa: StockMfa,
}

impl<'a> ReportRow<'a> {
    fn parse(row: &'a Row<'_>) -> Result<ReportRow<'a>, InputError> {
        use report_col::{ACCOUNT_ID, ACCOUNT_NAME, MFA_STATUS, USERNAME};
        let account_id = row.cell(ACCOUNT_ID);
        if !is_account_id(account_id) {
            return Err(row.expected(ACCOUNT_ID, "an account id of exactly 12 digits"));
        }
        let username = row.cell(USERNAME);
        if username.is_empty() {
            return Err(row.expected(USERNAME, "a username"));
        }
        Ok(ReportRow {
            account_id,
            account_name: row.cell(ACCOUNT_NAME),
            username,
            password: password_cells(row)?,
            key: key_cells(row)?,
            mfa: row.choice(
                MFA_STATUS,
                &[
                    (MFA_VIRTUAL, StockMfa::Virtual),
                    (MFA_HARDWARE, StockMfa::Hardware),
                    (MFA_NONE, StockMfa::None),
                ],
            )?,
        })
    }
}

/// Names a user in messages; formatted only when there is an error to report.
struct Who<'a> {
    username: &'a str,
    account_id: &'a str,
}

impl std::fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "user {} of account {}",
            quoted(self.username),
            self.account_id
        )
    }
}

/// The accounts and users of a report, assembled row by row.
#[derive(Default)]
struct ReportAssembly {
    /// Accounts in the order first seen, with their ids.
    accounts: Vec<(String, AccountRows)>,
    account_index: HashMap<String, usize>,
    /// The account of the previous row: rows come grouped, so this spares most look-ups.
    last_account: Option<usize>,
    /// Where each access key id was first seen.
    keys: HashMap<String, KeyAt>,
}

/// Where an access key was first seen: its line, account, user and index among the user's
/// keys.
#[derive(Clone, Copy)]
struct KeyAt {
    line: u64,
    account: usize,
    user: usize,
    index: usize,
}

/// An account being assembled from rows.
struct AccountRows {
    /// The names its rows give it.
    names: NamesSeen,
    /// Users in the order first seen, with their names.
    users: Vec<(String, UserRows)>,
    user_index: HashMap<String, usize>,
    last_user: Option<usize>,
    /// Rows that repeat an earlier row exactly (read once): how many, and the first few
    /// described.
    repeats: u64,
    repeat_examples: Vec<String>,
}

impl AccountRows {
    /// Records a row at `line` that repeats the row at `first` exactly.
    fn repeat(&mut self, line: u64, what: String, first: u64) {
        self.repeats += 1;
        if self.repeat_examples.len() < LIST_MAX {
            self.repeat_examples
                .push(format!("line {line} ({what}, first on line {first})"));
        }
    }

    /// The warning on the repeated rows, if any.
    fn repeats_note(&self, file: &str) -> Option<String> {
        (self.repeats > 0).then(|| {
            let mut examples = self.repeat_examples.join(", ");
            let listed = self.repeat_examples.len() as u64;
            if self.repeats > listed {
                examples.push_str(&format!(" and {} more", self.repeats - listed));
            }
            let (rows, verb) = if self.repeats == 1 {
                ("1 row repeats an earlier row".to_owned(), "is")
            } else {
                (format!("{} rows repeat earlier rows", self.repeats), "are")
            };
            format!(
                "{file}: {rows} exactly and {verb} read once (reports of the same state joined \
                 one after the other?): {examples}"
            )
        })
    }
}

/// A user being assembled from rows.
struct UserRows {
    /// Line of the first row of the user.
    line: u64,
    password: Password,
    mfa: StockMfa,
    /// Line of the user's `N/A` row, if any.
    no_key_line: Option<u64>,
    /// The user's keys and the line of each.
    keys: Vec<(u64, AccessKey)>,
}

/// What the original tool or a concatenation of its reports cannot explain, and what to do.
const JOINED_RUNS: &str = "such rows come from reports of different runs joined together; \
                           evaluate each report on its own (the newest for the current state)";

impl ReportAssembly {
    /// Adds one row, checking it against the rows before.
    fn add(&mut self, row: &Row<'_>, r: ReportRow<'_>) -> Result<(), InputError> {
        let ai = match self.last_account {
            Some(i) if self.accounts[i].0 == r.account_id => i,
            _ => {
                if let Some(&i) = self.account_index.get(r.account_id) {
                    i
                } else {
                    self.accounts.push((
                        r.account_id.to_owned(),
                        AccountRows {
                            names: NamesSeen::new(r.account_name, row.line),
                            users: Vec::new(),
                            user_index: HashMap::new(),
                            last_user: None,
                            repeats: 0,
                            repeat_examples: Vec::new(),
                        },
                    ));
                    self.account_index
                        .insert(r.account_id.to_owned(), self.accounts.len() - 1);
                    self.accounts.len() - 1
                }
            }
        };
        self.last_account = Some(ai);
        let account = &mut self.accounts[ai].1;
        // A second name is a warning, not an error (see `NamesSeen::conflict_note`).
        account.names.see(r.account_name, row.line);
        let ui = match account.last_user {
            Some(i) if account.users[i].0 == r.username => i,
            _ => {
                if let Some(&i) = account.user_index.get(r.username) {
                    i
                } else {
                    account.users.push((
                        r.username.to_owned(),
                        UserRows {
                            line: row.line,
                            password: r.password.clone(),
                            mfa: r.mfa,
                            no_key_line: None,
                            keys: Vec::new(),
                        },
                    ));
                    account
                        .user_index
                        .insert(r.username.to_owned(), account.users.len() - 1);
                    account.users.len() - 1
                }
            }
        };
        account.last_user = Some(ui);
        let user = &mut account.users[ui].1;
        let who = Who {
            username: r.username,
            account_id: r.account_id,
        };
        user.check_agrees(row, &who, &r)?;
        match r.key {
            KeyCells::None => {
                if let Some(first) = user.add_no_key_row(row, &who)? {
                    let what = format!("`{NA}` row of user {}", quoted(r.username));
                    account.repeat(row.line, what, first);
                }
                Ok(())
            }
            KeyCells::Key(key) => {
                if let Some(&first) = self.keys.get(&key.id) {
                    let KeyAt {
                        line: first_line,
                        account: first_account,
                        user: first_user,
                        index,
                    } = first;
                    if (first_account, first_user) != (ai, ui) {
                        let (id, owner) = &self.accounts[first_account];
                        let other = Who {
                            username: &owner.users[first_user].0,
                            account_id: id,
                        };
                        return Err(row.err(
                            report_col::ACCESS_KEY_ID,
                            format!(
                                "expected each access key once, found {} again (first on line \
                                 {first_line}, for {other}): an access key belongs to one user; \
                                 correct or remove one of the two rows",
                                quoted(&key.id)
                            ),
                        ));
                    }
                    let account = &mut self.accounts[ai].1;
                    let (_, earlier) = &account.users[ui].1.keys[index];
                    key_agrees(row, earlier, &key, first_line)?;
                    let what = format!("{} of user {}", quoted(&key.id), quoted(r.username));
                    account.repeat(row.line, what, first_line);
                    return Ok(());
                }
                let user = &mut self.accounts[ai].1.users[ui].1;
                self.keys.insert(
                    key.id.clone(),
                    KeyAt {
                        line: row.line,
                        account: ai,
                        user: ui,
                        index: user.keys.len(),
                    },
                );
                user.add_key(row, &who, key)
            }
        }
    }

    /// The assembled accounts, with a note (also logged) on each account given several names
    /// or holding repeated rows. `file` names the report in the notes.
    fn into_accounts(self, file: &str) -> Vec<Account> {
        // Order does not matter here: the inventory is normalized (sorted) afterwards.
        self.accounts
            .into_iter()
            .map(|(id, rows)| {
                let notes = [rows.names.conflict_note(file, &id), rows.repeats_note(file)]
                    .into_iter()
                    .flatten()
                    .map(warn)
                    .collect();
                let mut account = Account::new(id, rows.names.last_name());
                account.collection.notes = notes;
                account.users = rows
                    .users
                    .into_iter()
                    .map(|(name, u)| u.into_user(name))
                    .collect();
                account
            })
            .collect()
    }
}

/// Checks that a key's second row says what its first (on line `first_line`) said.
fn key_agrees(
    row: &Row<'_>,
    first: &AccessKey,
    again: &AccessKey,
    first_line: u64,
) -> Result<(), InputError> {
    use report_col::{CREATED_DATE, LAST_USED_DATE, SERVICE_NAME, STATUS};
    let last_used = |k: &AccessKey| {
        k.last_used
            .as_ref()
            .map_or_else(|| KEY_NEVER_USED.to_owned(), format_stock)
    };
    let differs = [
        (
            STATUS,
            first.status != again.status,
            first.status.as_str().to_owned(),
        ),
        (
            CREATED_DATE,
            first.created != again.created,
            format_stock(&first.created),
        ),
        (
            LAST_USED_DATE,
            first.last_used != again.last_used,
            last_used(first),
        ),
        (
            SERVICE_NAME,
            first.last_used_service != again.last_used_service,
            first.last_used_service.as_deref().unwrap_or(NA).to_owned(),
        ),
    ];
    match differs.into_iter().find(|(_, differ, _)| *differ) {
        None => Ok(()),
        Some((col, _, was)) => Err(row.err(
            col,
            format!(
                "expected each access key once, found {} again with other {} {} (first on \
                 line {first_line} with `{was}`): {JOINED_RUNS}",
                quoted(&again.id),
                row.column_name(col),
                quoted(row.cell(col))
            ),
        )),
    }
}

impl UserRows {
    /// Checks that `r` repeats the user fields of the user's first row.
    fn check_agrees(&self, row: &Row<'_>, who: &Who<'_>, r: &ReportRow) -> Result<(), InputError> {
        use report_col::{MFA_STATUS, PASSWORD_LAST_USED, PASSWORD_STATUS};
        let disagree = |col: usize, first: &str| {
            row.err(
                col,
                format!(
                    "expected {} `{first}` for {who}, as on line {}, found {}: the original tool \
                     reads a user's password and MFA once and writes them on each of the user's \
                     rows, so {JOINED_RUNS}",
                    row.column_name(col),
                    self.line,
                    quoted(row.cell(col))
                ),
            )
        };
        if self.password.enabled != r.password.enabled {
            let first = if self.password.enabled {
                CONFIGURED
            } else {
                NOT_CONFIGURED
            };
            return Err(disagree(PASSWORD_STATUS, first));
        }
        if self.password.last_used != r.password.last_used {
            let first = self.password.last_used.as_ref().map(format_stock);
            return Err(disagree(
                PASSWORD_LAST_USED,
                first.as_deref().unwrap_or(NEVER),
            ));
        }
        if self.mfa != r.mfa {
            return Err(disagree(MFA_STATUS, self.mfa.as_str()));
        }
        Ok(())
    }

    /// Records the `N/A` row of a user without keys; a second one (which repeats the first
    /// exactly, the user fields having been checked) gives the line of the first.
    fn add_no_key_row(&mut self, row: &Row<'_>, who: &Who<'_>) -> Result<Option<u64>, InputError> {
        if let Some((key_line, key)) = self.keys.first() {
            return Err(row.err(
                report_col::ACCESS_KEY_ID,
                format!(
                    "expected no `N/A` row for {who}, who has access key {} on line {key_line}: \
                     a user has key rows or one `N/A` row; {JOINED_RUNS}",
                    quoted(&key.id)
                ),
            ));
        }
        if let Some(first) = self.no_key_line {
            return Ok(Some(first));
        }
        self.no_key_line = Some(row.line);
        Ok(None)
    }

    /// Records one of the user's keys.
    fn add_key(&mut self, row: &Row<'_>, who: &Who<'_>, key: AccessKey) -> Result<(), InputError> {
        if let Some(na_line) = self.no_key_line {
            return Err(row.err(
                report_col::ACCESS_KEY_ID,
                format!(
                    "expected no access key for {who}, who has a `N/A` row (no keys) on line \
                     {na_line}, found {}: a user has key rows or one `N/A` row; {JOINED_RUNS}",
                    quoted(&key.id)
                ),
            ));
        }
        self.keys.push((row.line, key));
        Ok(())
    }

    fn into_user(self, name: String) -> User {
        User {
            password: self.password,
            mfa_devices: self.mfa.devices(),
            access_keys: self.keys.into_iter().map(|(_, k)| k).collect(),
            ..User::named(name)
        }
    }
}

/// Reads the main report into a new inventory (source kind [`SourceKind::StockCsv`],
/// `source.files` = the file name of `path`, and every field a stock CSV cannot carry marked
/// unavailable). Rows are grouped into accounts (by account id) and users (by account id and
/// username); the fields a user repeats on each of its rows must agree. The result is
/// normalized.
///
/// What the original tool, or its reports joined one after the other, can write is read with a
/// warning (logged, and kept in the notes of the account, or of the inventory for the file):
/// an account id with several names (the account takes the name of its last row in file
/// order), a row that repeats an earlier row exactly (read once), a line that repeats the
/// header (skipped).
///
/// # Errors
///
/// An [`InputError`] at the first problem: a missing or wrong header, a row with the wrong
/// number of fields, a cell that is not what its column holds, rows of one user that
/// disagree, a `N/A` row beside key rows, a key id seen again for another user or with other
/// values, invalid UTF-8.
pub fn read_report(path: &Path, bytes: &[u8]) -> Result<Inventory, InputError> {
    let mut reader = StockReader::open(path, bytes, REPORT_HEADER)?;
    let mut assembly = ReportAssembly::default();
    while let Some(row) = reader.next_row()? {
        let parsed = ReportRow::parse(&row)?;
        assembly.add(&row, parsed)?;
    }
    let file = file_name(path);
    let mut inv = Inventory::new(SourceKind::StockCsv);
    inv.notes.extend(reader.repeated_headers_note().map(warn));
    inv.accounts = assembly.into_accounts(&file);
    inv.source.files.push(file);
    inv.unavailable.extend(STOCK_UNAVAILABLE);
    inv.normalize();
    Ok(inv)
}

// ---------------------------------------------------------------------------------------------
// Reading the events and root reports
// ---------------------------------------------------------------------------------------------

/// Reads a CloudTrail events report and appends its events to `inv.events`; events become
/// available. Normalizes `inv`. (The caller records the file in `inv.source.files`.)
///
/// Each event keeps the account name written on it (events are independent rows); an account
/// whose events carry another name than `inv` gives it, or several names, gets a warning
/// (logged, and kept in the account's notes, or the inventory's for an account `inv` does not
/// hold). The stock events CSV lists successful calls only, without error codes:
/// `event.details` stays unavailable.
///
/// # Errors
///
/// An [`InputError`] at the first problem (header, field count, a bad time, account id or
/// event name, invalid UTF-8); `inv` is then left untouched.
pub fn read_events(path: &Path, bytes: &[u8], inv: &mut Inventory) -> Result<(), InputError> {
    use events_col::{ACCOUNT_ID, ACCOUNT_NAME, EVENT_NAME, EVENT_TIME, RESOURCES, USERNAME};
    let mut reader = StockReader::open(path, bytes, EVENTS_HEADER)?;
    let mut events = Vec::new();
    let mut names: HashMap<String, NamesSeen> = HashMap::new();
    while let Some(row) = reader.next_row()? {
        let account_id = row.account_id(ACCOUNT_ID)?;
        let account_name = row.cell(ACCOUNT_NAME);
        if let Some(seen) = names.get_mut(&account_id) {
            seen.see(account_name, row.line);
        } else {
            let mut seen = NamesSeen::new(account_name, row.line);
            seen.see(account_name, row.line);
            names.insert(account_id.clone(), seen);
        }
        events.push(Event {
            time: row.time(EVENT_TIME)?,
            name: row.non_empty(EVENT_NAME, "a CloudTrail event name")?,
            actor: row.cell(USERNAME).to_owned(),
            account_id,
            account_name: account_name.to_owned(),
            resources: row
                .cell(RESOURCES)
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect(),
            ..Default::default()
        });
    }
    let file = file_name(path);
    inv.notes.extend(reader.repeated_headers_note().map(warn));
    let mut names: Vec<(String, NamesSeen)> = names.into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, seen) in names {
        let account = inv.accounts.iter_mut().find(|a| a.id == id);
        let known = account
            .as_ref()
            .map(|a| a.name.as_str())
            .filter(|n| !n.is_empty());
        let differs = match known {
            Some(name) => seen.names.iter().any(|n| n.name != name),
            None => seen.names.len() > 1,
        };
        if !differs {
            continue;
        }
        let count = if seen.names.len() == 1 {
            "the name".to_owned()
        } else {
            format!("{} names:", seen.names.len())
        };
        let mut note = format!(
            "{file}: the events of account {id} carry {count} {}",
            seen.describe("event")
        );
        if let Some(name) = known {
            note.push_str(&format!("; the report names it {}", quoted(name)));
        }
        note.push_str(
            "; each event keeps the name written on it (reports of different runs, or an \
             account renamed in between?)",
        );
        let note = warn(note);
        match account {
            Some(account) => account.collection.notes.push(note),
            None => inv.notes.push(note),
        }
    }
    inv.events.extend(events);
    inv.unavailable.remove(&Field::Events);
    inv.normalize();
    Ok(())
}

/// The root credentials read for one account.
struct RootRow {
    names: NamesSeen,
    root: RootCredentials,
    /// Line of the account's first row.
    line: u64,
    /// Lines of the rows repeating the first's credentials.
    repeats: Vec<u64>,
}

/// Reads a root report and sets the root credentials of the accounts it lists; an account
/// absent from `inv` is added with no users. Root credentials become available; whether the
/// root user has a password stays unknown (the stock root CSV has no such column).
/// Normalizes `inv`. (The caller records the file in `inv.source.files`.)
///
/// Read with a warning (logged, and kept in the account's notes): an account named otherwise
/// than in `inv` (keeps `inv`'s name, the report's), an account listed again exactly alike
/// (read once), several names for an account `inv` does not hold (takes the name of its last
/// row), a line repeating the header (skipped).
///
/// # Errors
///
/// An [`InputError`] at the first problem (header, field count, a bad account id, boolean or
/// date, an account listed again with other credentials, invalid UTF-8); `inv` is then left
/// untouched.
pub fn read_root(path: &Path, bytes: &[u8], inv: &mut Inventory) -> Result<(), InputError> {
    use root_col::{ACCESS_KEY_PRESENT, ACCOUNT_ID, ACCOUNT_NAME, MFA_ENABLED, ROOT_LAST_LOGIN};
    let mut reader = StockReader::open(path, bytes, ROOT_HEADER)?;
    let mut roots: BTreeMap<String, RootRow> = BTreeMap::new();
    let booleans = [(TRUE, true), (FALSE, false)];
    while let Some(row) = reader.next_row()? {
        let id = row.account_id(ACCOUNT_ID)?;
        let name = row.cell(ACCOUNT_NAME);
        let last_login =
            match row.cell(ROOT_LAST_LOGIN) {
                NEVER => None,
                s => Some(parse_date_or_time(s).ok_or_else(|| {
                    row.expected(ROOT_LAST_LOGIN, "a date `YYYY-MM-DD` or `Nunca`")
                })?),
            };
        let root = RootCredentials {
            // Not in the stock root report: unknown, not absent.
            password_enabled: None,
            mfa_enabled: row.choice(MFA_ENABLED, &booleans)?,
            hardware_mfa: None,
            access_key_present: row.choice(ACCESS_KEY_PRESENT, &booleans)?,
            last_console_login: last_login,
            // Not in the stock root report: `account.root_access_key_last_used` stays
            // unavailable.
            access_key_last_used: None,
        };
        if let Some(first) = roots.get_mut(&id) {
            root_agrees(&row, &first.root, &root, first.line)?;
            first.names.see(name, row.line);
            first.repeats.push(row.line);
        } else {
            let mut names = NamesSeen::new(name, row.line);
            names.see(name, row.line);
            roots.insert(
                id,
                RootRow {
                    names,
                    root,
                    line: row.line,
                    repeats: Vec::new(),
                },
            );
        }
    }
    let file = file_name(path);
    inv.notes.extend(reader.repeated_headers_note().map(warn));
    for (id, read) in roots {
        let mut notes = Vec::new();
        if !read.repeats.is_empty() {
            notes.push(format!(
                "{file}: {} line {} (the root credentials of account {id}) and {} read once \
                 (reports joined one after the other?)",
                if read.repeats.len() == 1 {
                    format!("line {} repeats", lines_list(&read.repeats))
                } else {
                    format!("lines {} repeat", lines_list(&read.repeats))
                },
                read.line,
                if read.repeats.len() == 1 { "is" } else { "are" },
            ));
        }
        let index = if let Some(i) = inv.accounts.iter().position(|a| a.id == id) {
            i
        } else {
            inv.accounts.push(Account::new(id.clone(), ""));
            inv.accounts.len() - 1
        };
        let account = &mut inv.accounts[index];
        if account.name.is_empty() {
            // Only this report names the account: several names are a warning.
            read.names.last_name().clone_into(&mut account.name);
            notes.extend(read.names.conflict_note(&file, &id));
        } else if read.names.names.iter().any(|n| n.name != account.name) {
            // The main report names the account: its name is kept.
            notes.push(format!(
                "{file}: the root report names account {id} {}, the report {}; keeping {} \
                 (reports of different runs, or an account renamed in between?)",
                read.names.describe("row"),
                quoted(&account.name),
                quoted(&account.name)
            ));
        }
        account.root = Some(read.root);
        account.collection.notes.extend(notes.into_iter().map(warn));
    }
    inv.unavailable.remove(&Field::Root);
    inv.normalize();
    Ok(())
}

/// Checks that an account's second row in the root report (`row`) says what its first (on
/// line `first_line`) said; the last login is compared by its date, what the report holds.
fn root_agrees(
    row: &Row<'_>,
    first: &RootCredentials,
    again: &RootCredentials,
    first_line: u64,
) -> Result<(), InputError> {
    use root_col::{ACCESS_KEY_PRESENT, MFA_ENABLED, ROOT_LAST_LOGIN};
    let date = |r: &RootCredentials| r.last_console_login.map(|t| t.date_naive());
    let differs = [
        (
            MFA_ENABLED,
            first.mfa_enabled != again.mfa_enabled,
            bool_cell(first.mfa_enabled).to_owned(),
        ),
        (
            ACCESS_KEY_PRESENT,
            first.access_key_present != again.access_key_present,
            bool_cell(first.access_key_present).to_owned(),
        ),
        (
            ROOT_LAST_LOGIN,
            date(first) != date(again),
            date(first).map_or_else(|| NEVER.to_owned(), |d| d.to_string()),
        ),
    ];
    match differs.into_iter().find(|(_, differ, _)| *differ) {
        None => Ok(()),
        Some((col, _, was)) => Err(row.err(
            col,
            format!(
                "expected each account once, found {} again with other {} {} (first on line \
                 {first_line} with `{was}`): {JOINED_RUNS}",
                row.cell(root_col::ACCOUNT_ID),
                row.column_name(col),
                quoted(row.cell(col))
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_indexes_match_the_headers() {
        let report: Vec<&str> = REPORT_HEADER.split(',').collect();
        assert_eq!(report.len(), 11);
        assert_eq!(report[report_col::ACCOUNT_ID], "account_id");
        assert_eq!(report[report_col::ACCOUNT_NAME], "account_name");
        assert_eq!(report[report_col::USERNAME], "username");
        assert_eq!(report[report_col::PASSWORD_STATUS], "password_status");
        assert_eq!(report[report_col::PASSWORD_LAST_USED], "password_last_used");
        assert_eq!(report[report_col::ACCESS_KEY_ID], "access_key_id");
        assert_eq!(report[report_col::STATUS], "status");
        assert_eq!(report[report_col::CREATED_DATE], "created_date");
        assert_eq!(report[report_col::LAST_USED_DATE], "last_used_date");
        assert_eq!(report[report_col::SERVICE_NAME], "service_name");
        assert_eq!(report[report_col::MFA_STATUS], "mfa_status");
        let events: Vec<&str> = EVENTS_HEADER.split(',').collect();
        assert_eq!(events.len(), 6);
        assert_eq!(events[events_col::EVENT_TIME], "eventTime");
        assert_eq!(events[events_col::EVENT_NAME], "eventName");
        assert_eq!(events[events_col::USERNAME], "username");
        assert_eq!(events[events_col::ACCOUNT_ID], "account_id");
        assert_eq!(events[events_col::ACCOUNT_NAME], "account_name");
        assert_eq!(events[events_col::RESOURCES], "resources");
        let root: Vec<&str> = ROOT_HEADER.split(',').collect();
        assert_eq!(root.len(), 5);
        assert_eq!(root[root_col::ACCOUNT_ID], "account_id");
        assert_eq!(root[root_col::ACCOUNT_NAME], "account_name");
        assert_eq!(root[root_col::MFA_ENABLED], "mfa_enabled");
        assert_eq!(root[root_col::ACCESS_KEY_PRESENT], "access_key_present");
        assert_eq!(root[root_col::ROOT_LAST_LOGIN], "root_last_login");
    }

    #[test]
    fn quoted_values_cannot_drive_the_terminal() {
        assert_eq!(quoted(""), "an empty cell");
        assert_eq!(quoted("a\u{1b}[31mb\n"), "`a\\u{1b}[31mb\\n`");
        let long = "x".repeat(QUOTE_MAX + 1);
        assert_eq!(quoted(&long), format!("`{}…`", "x".repeat(QUOTE_MAX)));
    }
}
