//! CloudTrail files as a team holds them: log files as CloudTrail delivers them to S3
//! (`{"Records": [...]}`, `.json` or `.json.gz`), folders of them or an organization trail's
//! tree (`AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/`), the output of
//! `aws cloudtrail lookup-events` (`{"Events": [...]}`), records as JSON Lines (one record a
//! line, as data lakes export them), and records one after the other or in a JSON array (what
//! `jq '.Records[]'` prints).
//!
//! Files are streamed: a file is never held in memory whole, only the record being read and
//! the events that are kept (the configured event names), so gigabytes of logs are read in
//! constant memory. A log file is cut into its records by a scanner that only follows strings
//! and brackets; each record is then parsed on its own, so a malformed record is skipped and
//! counted with its file and record number (its line, for JSON Lines) and the records after it
//! are still read. A file that ends inside a record (a truncated download, a damaged gzip
//! file) keeps what was read before and is counted too. Files are read (and decompressed) in
//! parallel.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use rayon::prelude::*;
use serde::Deserialize;

use crate::error::InputError;
use crate::input::cloudtrail_record::Record;
use crate::inventory::time::parse_time;
use crate::inventory::Event;

/// Which event names to keep.
#[derive(Clone, Debug)]
pub struct Keep {
    names: HashSet<String>,
}

impl Keep {
    pub fn names<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Keep {
        Keep {
            names: names.into_iter().map(Into::into).collect(),
        }
    }

    /// The default event names ([`crate::input::cloudtrail_record::DEFAULT_EVENTS`]).
    pub fn default_events() -> Keep {
        Keep::names(crate::input::cloudtrail_record::DEFAULT_EVENTS)
    }

    fn keeps(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// A record or a file part that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file, as given (or found under a given folder).
    pub file: String,
    /// 1-based record number in the file (the line, for JSON Lines); 0 for the whole file.
    pub record: u64,
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.record == 0 {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: record {}: {}", self.file, self.record, self.reason)
        }
    }
}

/// How many skipped records of one file are listed in [`FileRead::skipped`]; the others are
/// only counted (a file of garbage must not fill the memory with reasons).
pub const LISTED_PER_FILE: usize = 100;

/// The largest record (or JSON Lines line) read; a larger one is skipped without being held.
pub const MAX_RECORD_BYTES: usize = 32 << 20;

/// What one file (or stream) gave.
#[derive(Debug, Default)]
pub struct FileRead {
    /// The kept events, each with its CloudTrail `eventID` when the record has one.
    pub events: Vec<(Option<String>, Event)>,
    /// Records read (kept or not, malformed included).
    pub records: u64,
    /// What was skipped: the first [`LISTED_PER_FILE`] records, and the end of a file that
    /// stops early.
    pub skipped: Vec<Skipped>,
    /// Everything skipped, listed or not.
    pub skipped_total: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
}

/// The account a file's path names: `AWSLogs/<account>/…` or `AWSLogs/<org-id>/<account>/…`,
/// or a file name `<account>_CloudTrail_<region>_….json.gz` — for records of AWS's older
/// format, which lack `recipientAccountId`.
pub fn account_of_path(path: &Path) -> Option<String> {
    let is_account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(at) = parts.iter().rposition(|p| p == "AWSLogs") {
        let mut rest = parts[at + 1..].iter();
        match rest.next() {
            Some(p) if is_account(p) => return Some(p.clone()),
            Some(p) if p.starts_with("o-") => {
                if let Some(a) = rest.next().filter(|a| is_account(a)) {
                    return Some(a.clone());
                }
            }
            _ => {}
        }
    }
    let name = parts.last()?;
    let (account, rest) = name.split_once('_')?;
    (is_account(account) && rest.starts_with("CloudTrail")).then(|| account.to_string())
}

/// Where the records of one stream come from.
struct Origin<'a> {
    file: &'a str,
    account: Option<&'a str>,
    keep: &'a Keep,
}

impl Origin<'_> {
    /// A record skipped: counted, and listed while the file has few.
    fn skip(&self, out: &mut FileRead, record: u64, reason: impl Into<String>) {
        out.skipped_total += 1;
        if out.skipped.len() < LISTED_PER_FILE {
            out.skipped.push(Skipped {
                file: self.file.to_string(),
                record,
                reason: reason.into(),
            });
        }
    }

    /// The rest of the file skipped: always listed.
    fn stop(&self, out: &mut FileRead, record: u64, reason: impl Into<String>) {
        out.skipped_total += 1;
        out.skipped.push(Skipped {
            file: self.file.to_string(),
            record,
            reason: reason.into(),
        });
    }

    /// One record (the JSON text of one element of `Records`, or one line).
    fn record(&self, out: &mut FileRead, n: u64, json: &[u8]) {
        out.records += 1;
        let record = match serde_json::from_slice::<Record<'_>>(json) {
            Ok(r) => r,
            Err(e) => return self.skip(out, n, format!("not a CloudTrail record: {e}")),
        };
        if record.is_insight() {
            return; // an Insights event: no API call of its own
        }
        let Some(name) = record.event_name.as_deref() else {
            return self.skip(out, n, "not a CloudTrail record: no eventName");
        };
        if !self.keep.keeps(name) {
            return;
        }
        match record.to_event(self.account) {
            Ok(event) => out
                .events
                .push((record.event_id.map(Cow::into_owned), event)),
            Err(e) => self.skip(out, n, e),
        }
    }

    /// One element of a `lookup-events` output's `Events`.
    fn lookup_event(&self, out: &mut FileRead, n: u64, json: &[u8]) {
        out.records += 1;
        let e = match serde_json::from_slice::<LookupEvent<'_>>(json) {
            Ok(e) => e,
            Err(e) => return self.skip(out, n, format!("not a LookupEvents event: {e}")),
        };
        let Some(name) = e.event_name.as_deref() else {
            return self.skip(out, n, "not a LookupEvents event: no EventName");
        };
        if !self.keep.keeps(name) {
            return;
        }
        let resources: Vec<String> = e
            .resources
            .iter()
            .filter_map(|r| r.resource_name.as_deref())
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        // The full record, when the output has it; else what LookupEvents says of it.
        let record = e
            .cloud_trail_event
            .as_deref()
            .and_then(|j| serde_json::from_str::<Record<'_>>(j).ok());
        let event = record.as_ref().and_then(|r| r.to_event(self.account).ok());
        let event = if let Some(mut event) = event {
            // What LookupEvents says wins, as `scan` takes it.
            if let Some(user) = e.username.as_deref().filter(|u| !u.is_empty()) {
                event.actor = user.to_string();
            }
            if !resources.is_empty() {
                event.resources = resources;
            }
            event
        } else {
            let Some(time) = e.event_time.as_ref().and_then(EventTime::time) else {
                return self.skip(out, n, "no EventTime");
            };
            let Some(account) = self.account else {
                return self.skip(
                    out,
                    n,
                    "no CloudTrailEvent record, so no account: keep the output whole",
                );
            };
            Event {
                time,
                name: name.to_string(),
                actor: e.username.as_deref().unwrap_or("N/A").to_string(),
                account_id: account.to_string(),
                resources,
                ..Event::default()
            }
        };
        let id = e
            .event_id
            .map(Cow::into_owned)
            .or_else(|| record.and_then(|r| r.event_id.map(Cow::into_owned)));
        out.events.push((id, event));
    }
}

/// An element of `aws cloudtrail lookup-events` output.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupEvent<'a> {
    #[serde(borrow)]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_name: Option<Cow<'a, str>>,
    event_time: Option<EventTime>,
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    resources: Vec<LookupResource<'a>>,
    #[serde(borrow)]
    cloud_trail_event: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupResource<'a> {
    #[serde(borrow)]
    resource_name: Option<Cow<'a, str>>,
}

/// The AWS CLI prints times as ISO-8601 (v2) or epoch seconds (v1).
#[derive(Deserialize)]
#[serde(untagged)]
enum EventTime {
    Text(String),
    Epoch(f64),
}

impl EventTime {
    fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self {
            EventTime::Text(s) => parse_time(s),
            EventTime::Epoch(s) if s.is_finite() => {
                let secs = s.floor();
                let nanos = ((s - secs) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
                chrono::DateTime::from_timestamp(secs as i64, nanos)
            }
            EventTime::Epoch(_) => None,
        }
    }
}

/// Why a stream stopped before its end.
enum Stop {
    /// The reader failed (a damaged gzip stream, an I/O error).
    Io(io::Error),
    /// The stream ended inside a record or before the closing brackets.
    Eof,
    /// Not JSON at the top level.
    Syntax(String),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Io(e)
    }
}

/// The reading buffer's size.
const BUFFER: usize = 256 * 1024;

/// A buffered reader that can look ahead a few kilobytes and counts the bytes it reads.
struct Source<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// A failure seen while looking ahead, for the next read.
    failed: Option<io::Error>,
    bytes: u64,
}

impl<R: Read> Source<R> {
    fn new(inner: R) -> Source<R> {
        Source {
            inner,
            buf: vec![0; BUFFER],
            start: 0,
            end: 0,
            eof: false,
            failed: None,
            bytes: 0,
        }
    }

    /// The buffered bytes, reading more when none are left; empty at the end of the stream.
    fn fill(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end && !self.eof {
            self.start = 0;
            self.end = 0;
            self.read_more()?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// Reads more after what is buffered (moved to the front first), unless the buffer is full.
    fn read_more(&mut self) -> io::Result<()> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < self.buf.len() && !self.eof {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => {
                    self.end += n;
                    self.bytes += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// At least `n` bytes buffered, unless the stream ends (or fails) first. A failure after
    /// some bytes is kept for the next read, so that the bytes before it are read.
    fn look_ahead(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.end - self.start < n && !self.eof && self.end - self.start < self.buf.len() {
            if let Err(e) = self.read_more() {
                if self.end == self.start {
                    return Err(e);
                }
                self.failed = Some(e);
                break;
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Skips whitespace; the next byte (not consumed), or `None` at the end of the stream.
    fn next_non_space(&mut self) -> io::Result<Option<u8>> {
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(None);
            }
            if let Some(p) = buf.iter().position(|b| !b.is_ascii_whitespace()) {
                let b = buf[p];
                self.consume(p);
                return Ok(Some(b));
            }
            let n = buf.len();
            self.consume(n);
        }
    }

    /// Reads the JSON value that starts at the next byte (whitespace skipped first), following
    /// only strings and brackets: the value's text goes into `into` (cleared first) unless it
    /// is longer than `limit`. Returns whether it fit.
    fn value(&mut self, into: &mut Vec<u8>, limit: usize) -> Result<bool, Stop> {
        into.clear();
        let first = self.next_non_space()?.ok_or(Stop::Eof)?;
        let mut fits = true;
        let keep = |into: &mut Vec<u8>, part: &[u8], fits: &mut bool| {
            if *fits && into.len() + part.len() <= limit {
                into.extend_from_slice(part);
            } else {
                *fits = false;
                into.clear();
            }
        };
        if matches!(first, b'{' | b'[' | b'"') {
            let mut scan = Scan::default();
            loop {
                let buf = self.fill()?;
                if buf.is_empty() {
                    return Err(Stop::Eof);
                }
                let (end, done) = match scan.run(buf) {
                    Some(end) => (end, true),
                    None => (buf.len(), false),
                };
                keep(into, &buf[..end], &mut fits);
                self.consume(end);
                if done {
                    return Ok(fits);
                }
            }
        }
        // A number, `true`, `false`, `null` (or garbage): up to the next separator.
        loop {
            let buf = self.fill()?;
            if buf.is_empty() {
                return Ok(fits);
            }
            let end = buf
                .iter()
                .position(|b| matches!(b, b',' | b']' | b'}') || b.is_ascii_whitespace());
            let n = end.unwrap_or(buf.len());
            keep(into, &buf[..n], &mut fits);
            self.consume(n);
            if end.is_some() {
                return Ok(fits);
            }
        }
    }

    /// Consumes the next byte if it is `b` (after whitespace).
    fn expect(&mut self, b: u8, what: &str) -> Result<(), Stop> {
        match self.next_non_space()? {
            Some(c) if c == b => {
                self.consume(1);
                Ok(())
            }
            Some(c) => Err(Stop::Syntax(format!(
                "expected {what}, found `{}`",
                char::from(c).escape_default()
            ))),
            None => Err(Stop::Eof),
        }
    }
}

/// Follows strings and brackets to find where a JSON value (an object, an array or a string)
/// ends.
#[derive(Default)]
struct Scan {
    depth: u32,
    in_string: bool,
    escaped: bool,
}

impl Scan {
    /// The index just past the end of the value in `buf`, or `None` if it goes on after it.
    fn run(&mut self, buf: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < buf.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                let p = buf[i..].iter().position(|&b| b == b'"' || b == b'\\')?;
                i += p;
                if buf[i] == b'\\' {
                    self.escaped = true;
                } else {
                    self.in_string = false;
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                i += 1;
                continue;
            }
            match buf[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    // A closing bracket with none open ends the value (it is then malformed).
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// Whether an object starting with this key is a container (a log file or lookup-events
/// output) rather than a record.
fn is_container_key(key: &[u8]) -> bool {
    matches!(key, b"Records" | b"Events" | b"NextToken")
}

/// What to look ahead at to tell the kind of a stream or of an object.
const LOOK_AHEAD: usize = 4096;

/// Reads JSON values one after the other: log files and lookup-events outputs (whose records
/// are read one by one), JSON arrays of records, and records.
fn read_values<R: Read>(
    src: &mut Source<R>,
    origin: &Origin<'_>,
    out: &mut FileRead,
) -> Result<(), Stop> {
    let mut record = Vec::new();
    let mut key = Vec::new();
    while let Some(b) = src.next_non_space()? {
        match b {
            b'[' => {
                src.consume(1);
                elements(src, origin, out, false, &mut record)?;
            }
            b'{' if crate::input::detect::first_key(src.look_ahead(LOOK_AHEAD)?)
                .is_some_and(is_container_key) =>
            {
                src.consume(1);
                container(src, origin, out, &mut record, &mut key)?;
            }
            b'{' => {
                let n = out.records + 1;
                if src.value(&mut record, MAX_RECORD_BYTES)? {
                    origin.record(out, n, &record);
                } else {
                    out.records += 1;
                    origin.skip(out, n, too_large());
                }
            }
            c => {
                return Err(Stop::Syntax(format!(
                    "expected `{{` or `[`, found `{}`",
                    char::from(c).escape_default()
                )))
            }
        }
    }
    Ok(())
}

fn too_large() -> String {
    format!(
        "a record longer than {} MiB, not read",
        MAX_RECORD_BYTES >> 20
    )
}

/// Before a member or an element: `true` at the closing `close` (consumed); else the `,` that
/// must separate it from the one before (consumed), none before the first. A syntax error
/// names the record it follows, in an array of records.
fn closed<R: Read>(
    src: &mut Source<R>,
    close: u8,
    first: &mut bool,
    after_record: Option<u64>,
) -> Result<bool, Stop> {
    match src.next_non_space()?.ok_or(Stop::Eof)? {
        c if c == close => {
            src.consume(1);
            return Ok(true);
        }
        b',' if !*first => src.consume(1),
        _ if *first => {}
        c => {
            let after = after_record.map_or(String::new(), |n| format!(" after record {n}"));
            return Err(Stop::Syntax(format!(
                "expected `,` or `{}`{after}, found `{}`",
                char::from(close),
                char::from(c).escape_default()
            )));
        }
    }
    *first = false;
    Ok(false)
}

/// The members of a log file or lookup-events output (after its `{`): `Records` and `Events`
/// read record by record, the others skipped.
fn container<R: Read>(
    src: &mut Source<R>,
    origin: &Origin<'_>,
    out: &mut FileRead,
    record: &mut Vec<u8>,
    key: &mut Vec<u8>,
) -> Result<(), Stop> {
    let mut first = true;
    loop {
        if closed(src, b'}', &mut first, None)? {
            return Ok(());
        }
        if src.next_non_space()? != Some(b'"') {
            return Err(Stop::Syntax("expected a member name".into()));
        }
        src.value(key, 1024)?;
        src.expect(b':', "`:`")?;
        let lookup = key.as_slice() == b"\"Events\"";
        if (lookup || key.as_slice() == b"\"Records\"") && src.next_non_space()? == Some(b'[') {
            src.consume(1);
            elements(src, origin, out, lookup, record)?;
        } else {
            src.value(record, 0)?;
        }
    }
}

/// The elements of an array of records (after its `[`).
fn elements<R: Read>(
    src: &mut Source<R>,
    origin: &Origin<'_>,
    out: &mut FileRead,
    lookup: bool,
    record: &mut Vec<u8>,
) -> Result<(), Stop> {
    let mut first = true;
    loop {
        if closed(src, b']', &mut first, Some(out.records))? {
            return Ok(());
        }
        let n = out.records + 1;
        if src.value(record, MAX_RECORD_BYTES)? {
            if lookup {
                origin.lookup_event(out, n, record);
            } else {
                origin.record(out, n, record);
            }
        } else {
            out.records += 1;
            origin.skip(out, n, too_large());
        }
    }
}

/// JSON Lines: one record a line; a bad line is skipped, the others kept.
fn read_lines<R: Read>(
    src: &mut Source<R>,
    origin: &Origin<'_>,
    out: &mut FileRead,
) -> io::Result<()> {
    fn line(origin: &Origin<'_>, out: &mut FileRead, n: u64, text: &[u8], too_long: bool) {
        if too_long {
            out.records += 1;
            origin.skip(out, n, too_large());
            return;
        }
        let text = text.trim_ascii();
        if !text.is_empty() {
            origin.record(out, n, text);
        }
    }
    let mut partial: Vec<u8> = Vec::new();
    let mut too_long = false;
    let mut n = 0u64;
    loop {
        let buf = src.fill()?;
        if buf.is_empty() {
            if !partial.is_empty() || too_long {
                line(origin, out, n + 1, &partial, too_long);
            }
            return Ok(());
        }
        if let Some(p) = buf.iter().position(|b| *b == b'\n') {
            n += 1;
            if partial.is_empty() && !too_long {
                line(origin, out, n, &buf[..p], false);
            } else {
                too_long |= partial.len() + p > MAX_RECORD_BYTES;
                if !too_long {
                    partial.extend_from_slice(&buf[..p]);
                }
                line(origin, out, n, &partial, too_long);
                partial.clear();
                too_long = false;
            }
            src.consume(p + 1);
        } else {
            let len = buf.len();
            too_long |= partial.len() + len > MAX_RECORD_BYTES;
            if too_long {
                partial.clear();
            } else {
                partial.extend_from_slice(buf);
            }
            src.consume(len);
        }
    }
}

/// Reads one stream, told apart by its start: records one a line (JSON Lines), or JSON
/// values (log files, lookup-events outputs, arrays of records, records one after the other).
fn read_source<R: Read>(src: &mut Source<R>, origin: &Origin<'_>) -> FileRead {
    let mut out = FileRead::default();
    let lines = match src.look_ahead(LOOK_AHEAD) {
        Ok(head) => {
            let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
            is_json_lines(head)
        }
        Err(e) => {
            origin.stop(&mut out, 0, format!("cannot read: {e}"));
            return out;
        }
    };
    if src.fill().is_ok_and(|b| b.starts_with(b"\xEF\xBB\xBF")) {
        src.consume(3);
    }
    let read = if lines {
        read_lines(src, origin, &mut out).map_err(Stop::Io)
    } else {
        read_values(src, origin, &mut out)
    };
    out.bytes = src.bytes;
    let at = out.records + 1;
    match read {
        Ok(()) => {}
        Err(Stop::Io(e)) => origin.stop(
            &mut out,
            at,
            format!("cannot read further: {e}; the records before it are kept"),
        ),
        Err(Stop::Eof) => origin.stop(
            &mut out,
            at,
            "the file ends inside this record (truncated?); the records before it are kept",
        ),
        Err(Stop::Syntax(m)) => origin.stop(
            &mut out,
            at,
            format!("the file stops being JSON: {m}; the records before it are kept"),
        ),
    }
    out
}

/// Whether a stream starting with `head` is JSON Lines: an object that is not a log file or
/// a lookup-events output and whose first line holds it whole (or as much of it as `head`
/// has). A pretty-printed record spans lines and is read as JSON values.
fn is_json_lines(head: &[u8]) -> bool {
    let Some(key) = crate::input::detect::first_key(head) else {
        return false;
    };
    if is_container_key(key) {
        return false;
    }
    let Some(start) = head.iter().position(|b| *b == b'{') else {
        return false;
    };
    let mut scan = Scan::default();
    let end = scan.run(&head[start..]).map_or(head.len(), |e| start + e);
    !head[start..end].contains(&b'\n')
}

/// Reads one stream of CloudTrail data (already decompressed): a log file, a lookup-events
/// output, JSON Lines, an array of records or records one after the other — told apart by
/// how it starts. `file` names it in what is skipped; `account` is the account its path
/// names, if any (for records without `recipientAccountId`).
pub fn read_stream<R: BufRead>(
    reader: R,
    file: &str,
    account: Option<&str>,
    keep: &Keep,
) -> FileRead {
    let origin = Origin {
        file,
        account,
        keep,
    };
    read_source(&mut Source::new(reader), &origin)
}

/// A reader that moves a progress bar by the bytes read through it.
struct Progress<'a, R> {
    inner: R,
    bar: Option<&'a indicatif::ProgressBar>,
    read: &'a AtomicU64,
}

impl<R: Read> Read for Progress<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(bar) = self.bar {
            bar.inc(n as u64);
        }
        Ok(n)
    }
}

/// How many decompressed chunks (of [`BUFFER`] bytes) the decompressing thread may be ahead.
const AHEAD_CHUNKS: usize = 4;

/// Decompresses a gzip stream into chunks sent to `chunks`, until its end, a failure (sent
/// too), or the reader hanging up.
fn inflate<R: BufRead>(reader: R, chunks: &mpsc::SyncSender<io::Result<Vec<u8>>>) {
    let mut decoder = flate2::bufread::MultiGzDecoder::new(reader);
    loop {
        let mut chunk = vec![0; BUFFER];
        let mut n = 0;
        let result = loop {
            if n == chunk.len() {
                break Ok(false);
            }
            match decoder.read(&mut chunk[n..]) {
                Ok(0) => break Ok(true),
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        chunk.truncate(n);
        if n > 0 && chunks.send(Ok(chunk)).is_err() {
            return;
        }
        match result {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => {
                let _ = chunks.send(Err(e));
                return;
            }
        }
    }
}

/// The reading end of [`inflate`].
struct Ahead {
    chunks: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    at: usize,
}

impl Read for Ahead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.chunk.len() {
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvError) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads one file, decompressing it when it is gzip (by content, not by name).
pub fn read_file(path: &Path, file: &str, keep: &Keep) -> FileRead {
    read_file_with(path, file, keep, None, false)
}

fn read_file_with(
    path: &Path,
    file: &str,
    keep: &Keep,
    bar: Option<&indicatif::ProgressBar>,
    ahead: bool,
) -> FileRead {
    let account = account_of_path(path);
    let origin = Origin {
        file,
        account: account.as_deref(),
        keep,
    };
    let opened = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let mut out = FileRead::default();
            origin.stop(&mut out, 0, format!("cannot read: {e}"));
            return out;
        }
    };
    let read = AtomicU64::new(0);
    let mut reader = BufReader::with_capacity(
        BUFFER,
        Progress {
            inner: opened,
            bar,
            read: &read,
        },
    );
    let gzip = reader
        .fill_buf()
        .is_ok_and(|b| b.starts_with(&[0x1f, 0x8b]));
    let out = if gzip {
        let mut out = if ahead {
            // Decompression on a thread of its own, a few chunks ahead of the parsing.
            std::thread::scope(|s| {
                let (chunks, rx) = mpsc::sync_channel(AHEAD_CHUNKS);
                s.spawn(move || inflate(reader, &chunks));
                read_source(
                    &mut Source::new(Ahead {
                        chunks: rx,
                        chunk: Vec::new(),
                        at: 0,
                    }),
                    &origin,
                )
            })
        } else {
            read_source(
                &mut Source::new(flate2::bufread::MultiGzDecoder::new(reader)),
                &origin,
            )
        };
        gzip_hint(&mut out);
        out
    } else {
        read_source(&mut Source::new(reader), &origin)
    };
    // The bar counts the whole file, also when it stopped early.
    if let (Some(bar), Ok(meta)) = (bar, std::fs::metadata(path)) {
        bar.inc(meta.len().saturating_sub(read.load(Ordering::Relaxed)));
    }
    out
}

/// A gzip file that stops early is probably damaged or truncated: say so.
fn gzip_hint(out: &mut FileRead) {
    for s in &mut out.skipped {
        if s.reason.starts_with("cannot read") || s.reason.starts_with("the file ends") {
            s.reason.push_str(" (a damaged or truncated gzip file?)");
        }
    }
}

/// Reads one file held in memory (an S3 object's body), gzip or not (told by content).
/// `file` names it in what is skipped; `account` is the account its key names.
pub fn read_bytes(body: &[u8], file: &str, account: Option<&str>, keep: &Keep) -> FileRead {
    let origin = Origin {
        file,
        account,
        keep,
    };
    if body.starts_with(&[0x1f, 0x8b]) {
        let mut out = read_source(
            &mut Source::new(flate2::bufread::MultiGzDecoder::new(body)),
            &origin,
        );
        gzip_hint(&mut out);
        out
    } else {
        read_source(&mut Source::new(body), &origin)
    }
}

/// Folders of an organization trail that hold no events (digests, Insights).
const NOT_EVENTS: [&str; 2] = ["CloudTrail-Digest", "CloudTrail-Insight"];

/// Whether a file found under a folder looks like CloudTrail data by its name.
fn is_data_file(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if NOT_EVENTS
        .iter()
        .any(|n| name.contains(&n.to_ascii_lowercase()))
    {
        return false;
    }
    [
        ".json",
        ".json.gz",
        ".jsonl",
        ".jsonl.gz",
        ".ndjson",
        ".ndjson.gz",
        ".gz",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

/// The files to read: each file given, and the data files under each folder given (sorted,
/// digests and Insights left out). A path that does not exist is an error.
pub fn files_of(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            out.extend(crate::input::walk::files_under(
                p,
                &|name| !NOT_EVENTS.contains(&name),
                &|name| is_data_file(name),
            )?);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(InputError::new(p, "cannot read: no such file or folder"));
        }
    }
    Ok(out)
}

/// What all the CloudTrail files gave.
#[derive(Debug, Default)]
pub struct EventsRead {
    /// The kept events, each record once (a record seen in several files, e.g. an
    /// organization trail beside an account's own trail, is kept once, by `eventID`), in the
    /// order of the files (sorted within each folder given) and of the records in them.
    pub events: Vec<Event>,
    pub files: usize,
    pub records: u64,
    /// Bytes of JSON read (decompressed).
    pub bytes: u64,
    /// Records seen again under the same `eventID`.
    pub duplicates: u64,
    /// What was skipped (at most [`LISTED_PER_FILE`] records of each file listed).
    pub skipped: Vec<Skipped>,
    /// Everything skipped, listed or not.
    pub skipped_total: u64,
}

impl EventsRead {
    /// One line for the run's notes: what was read and what was skipped.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "CloudTrail files: {} read, {} records, {} events kept",
            self.files,
            self.records,
            self.events.len()
        );
        if self.duplicates > 0 {
            s.push_str(&format!(
                ", {} records seen twice (same eventID) kept once",
                self.duplicates
            ));
        }
        let total = self.skipped_total.max(self.skipped.len() as u64);
        if total > 0 {
            let files: BTreeSet<&str> = self.skipped.iter().map(|s| s.file.as_str()).collect();
            s.push_str(&format!(
                "; {total} skipped as unreadable in {} file(s)",
                files.len()
            ));
            if let Some(first) = self.skipped.first() {
                s.push_str(&format!(", first: {first}"));
            }
        }
        s
    }
}

/// Reads every CloudTrail file under `paths` (files and folders), in parallel, keeping the
/// events `keep` names. `progress` draws a bar on stderr (by bytes of the files, as read; only
/// on a terminal).
///
/// # Errors
///
/// A path that does not exist or a folder that cannot be listed. What is inside a file is
/// never an error: an unreadable record or file is in [`EventsRead::skipped`].
pub fn read_paths(
    paths: &[PathBuf],
    keep: &Keep,
    progress: bool,
) -> Result<EventsRead, InputError> {
    let files = files_of(paths)?;
    let bar = if progress {
        let total = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        let bar = indicatif::ProgressBar::new(total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "CloudTrail files {bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Fewer files than threads: each decompresses on a thread of its own too.
    let ahead = files.len() < rayon::current_num_threads();
    let reads: Vec<FileRead> = files
        .par_iter()
        .map(|f| read_file_with(f, &f.display().to_string(), keep, Some(&bar), ahead))
        .collect();
    bar.finish_and_clear();
    let mut all = EventsRead {
        files: files.len(),
        ..EventsRead::default()
    };
    let mut seen: HashSet<String> = HashSet::new();
    for read in reads {
        all.records += read.records;
        all.bytes += read.bytes;
        all.skipped_total += read.skipped_total;
        all.skipped.extend(read.skipped);
        for (id, event) in read.events {
            if let Some(id) = id {
                if !seen.insert(id) {
                    all.duplicates += 1;
                    continue;
                }
            }
            all.events.push(event);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDS: &str = include_str!("../../tests/data/cloudtrail/records.json");

    /// A reader that gives `n` bytes a call: every record crosses buffer boundaries.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn names(read: &FileRead) -> Vec<String> {
        read.events
            .iter()
            .map(|(id, e)| format!("{} {} {}", id.as_deref().unwrap_or("-"), e.name, e.actor))
            .collect()
    }

    fn read_trickle(body: &[u8], n: usize) -> FileRead {
        let origin = Origin {
            file: "t",
            account: None,
            keep: &Keep::default_events(),
        };
        read_source(&mut Source::new(Trickle(body, n)), &origin)
    }

    #[test]
    fn the_result_does_not_depend_on_how_the_bytes_arrive() {
        let whole = read_stream(RECORDS.as_bytes(), "t", None, &Keep::default_events());
        assert_eq!(whole.events.len(), 12);
        assert_eq!(whole.records, 14);
        for n in [1, 2, 3, 7, 4095, 4096, 4097] {
            let read = read_trickle(RECORDS.as_bytes(), n);
            assert_eq!(names(&read), names(&whole), "{n} bytes a read");
            assert_eq!(read.records, 14);
            assert!(read.skipped.is_empty());
            assert_eq!(read.bytes, RECORDS.len() as u64);
        }
    }

    #[test]
    fn a_file_cut_anywhere_keeps_a_prefix_of_its_events_and_says_so() {
        let whole = names(&read_stream(
            RECORDS.as_bytes(),
            "t",
            None,
            &Keep::default_events(),
        ));
        let end = RECORDS.trim_end().len();
        for cut in (0..end).step_by(37) {
            let read = read_stream(
                &RECORDS.as_bytes()[..cut],
                "t",
                None,
                &Keep::default_events(),
            );
            let got = names(&read);
            assert_eq!(got[..], whole[..got.len()], "cut at {cut}");
            if cut > 0 {
                let last = read.skipped.last().expect("a cut file is reported");
                assert_eq!(last.record, read.records + 1, "cut at {cut}");
            }
        }
    }

    #[test]
    fn a_damaged_byte_never_panics_and_never_makes_up_events() {
        let whole = read_stream(RECORDS.as_bytes(), "t", None, &Keep::default_events());
        for at in (0..RECORDS.len()).step_by(101) {
            for bad in [b'"', b'{', b'}', b'[', b'\\', b',', 0xff] {
                let mut body = RECORDS.as_bytes().to_vec();
                body[at] = bad;
                let read = read_stream(&body[..], "t", None, &Keep::default_events());
                assert!(
                    read.events.len() <= whole.events.len(),
                    "byte {at} set to {bad}"
                );
                assert!(read.records <= whole.records + 1, "byte {at} set to {bad}");
            }
        }
    }

    #[test]
    fn decompressing_ahead_on_a_thread_reads_the_same() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(RECORDS.repeat(40).as_bytes()).unwrap();
        let whole = gz.finish().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let keep = Keep::default_events();
        for (name, bytes) in [
            ("whole", &whole[..]),
            ("cut", &whole[..whole.len() * 2 / 3]),
        ] {
            let path = tmp.path().join(format!("{name}.json.gz"));
            std::fs::write(&path, bytes).unwrap();
            let here = read_file_with(&path, name, &keep, None, false);
            let ahead = read_file_with(&path, name, &keep, None, true);
            assert_eq!(names(&ahead), names(&here), "{name}");
            assert_eq!(ahead.records, here.records, "{name}");
            assert_eq!(ahead.skipped, here.skipped, "{name}");
            assert_eq!(ahead.bytes, here.bytes, "{name}");
        }
        assert_eq!(
            read_file_with(&tmp.path().join("whole.json.gz"), "w", &keep, None, true)
                .events
                .len(),
            12 * 40
        );
    }

    #[test]
    fn strings_with_brackets_quotes_and_escapes_do_not_end_a_record() {
        let mut scan = Scan::default();
        let text = br#"{"a":"}]\"\\","b":["\\\"]"],"c":{}} tail"#;
        assert_eq!(scan.run(text), Some(text.len() - 5));
        // Cut anywhere, the scan resumes where it stopped.
        for cut in 1..text.len() - 5 {
            let mut scan = Scan::default();
            assert_eq!(scan.run(&text[..cut]), None, "cut at {cut}");
            assert_eq!(
                scan.run(&text[cut..]).map(|e| e + cut),
                Some(text.len() - 5)
            );
        }
    }

    #[test]
    fn a_record_longer_than_the_limit_is_skipped_without_being_held() {
        let body =
            br#"[{"eventName":"CreateUser","pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, 7]"#;
        let mut src = Source::new(&body[..]);
        assert_eq!(src.next_non_space().unwrap(), Some(b'['));
        src.consume(1);
        let mut into = Vec::new();
        assert!(matches!(src.value(&mut into, 20), Ok(false)));
        assert!(into.is_empty());
        src.expect(b',', "`,`").ok().unwrap();
        assert!(matches!(src.value(&mut into, 20), Ok(true)));
        assert_eq!(into, b"7");
    }

    #[test]
    fn a_record_larger_than_the_buffer_is_read_whole() {
        let pad = "p".repeat(3 * BUFFER);
        let body = format!(
            r#"{{"Records":[{{"eventName":"CreateUser","pad":"{pad}","eventTime":"2026-03-05T10:00:00Z","recipientAccountId":"111111111111","requestParameters":{{"userName":"big"}}}}]}}"#
        );
        let read = read_stream(body.as_bytes(), "t", None, &Keep::default_events());
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        assert_eq!(read.events[0].1.resources, ["big"]);
    }

    #[test]
    fn json_lines_are_told_from_pretty_records_and_log_files() {
        assert!(is_json_lines(
            b"{\"eventVersion\":\"1.09\",\"eventName\":\"X\"}\n{}"
        ));
        assert!(is_json_lines(b"\n\n{\"eventVersion\":\"1.09\""));
        assert!(!is_json_lines(b"{\n    \"eventVersion\": \"1.09\"\n}"));
        assert!(!is_json_lines(b"{\"Records\":[]}"));
        assert!(!is_json_lines(b"{\n    \"Events\": []\n}"));
        assert!(!is_json_lines(b"[{\"eventName\":\"X\"}]"));
        assert!(!is_json_lines(b""));
    }

    #[test]
    fn a_file_that_is_not_json_is_one_skip_not_a_failure() {
        let read = read_stream(
            &b"eventTime,eventName\n"[..],
            "x.csv",
            None,
            &Keep::default_events(),
        );
        assert_eq!(read.skipped.len(), 1);
        assert_eq!(read.skipped[0].record, 1);
        assert!(read.skipped[0].reason.contains("stops being JSON"));
        let read = read_stream(&b""[..], "empty.json", None, &Keep::default_events());
        assert_eq!((read.records, read.skipped.len()), (0, 0));
        let read = read_stream(
            &b"{\"Records\":[{\"eventName\":\"X\"},"[..],
            "cut.json",
            None,
            &Keep::default_events(),
        );
        assert_eq!(read.records, 1);
        assert_eq!(read.skipped[0].record, 2);
        assert!(read.skipped[0]
            .reason
            .starts_with("the file ends inside this record"));
    }

    #[test]
    fn concatenated_log_files_and_other_members_are_read() {
        let one = r#"{"NextToken":null,"Records":[{"eventName":"DeleteUser","eventTime":"2026-03-05T10:00:00Z","recipientAccountId":"111111111111","eventID":"a"}],"x":{"Records":[1]}}"#;
        let body = format!("\u{feff}{one}\n{one}");
        let read = read_stream(body.as_bytes(), "t", None, &Keep::default_events());
        assert!(read.skipped.is_empty(), "{:?}", read.skipped);
        assert_eq!(read.events.len(), 2);
        assert_eq!(read.records, 2);
    }

    #[test]
    fn many_bad_lines_are_counted_but_not_all_listed() {
        let body = "not json\n".repeat(LISTED_PER_FILE + 50);
        let read = read_stream(
            format!("{{\"eventName\":\"X\"}}\n{body}").as_bytes(),
            "t",
            None,
            &Keep::default_events(),
        );
        assert_eq!(read.skipped.len(), LISTED_PER_FILE);
        assert_eq!(read.skipped_total, LISTED_PER_FILE as u64 + 50);
        assert_eq!(read.records, LISTED_PER_FILE as u64 + 51);
    }

    #[test]
    fn digests_and_insights_are_not_data_files() {
        assert!(is_data_file(
            "111111111111_CloudTrail_us-east-1_20260305T1000Z_x.json.gz"
        ));
        assert!(is_data_file("export.jsonl"));
        assert!(!is_data_file(
            "111111111111_CloudTrail-Digest_us-east-1_t_us-east-1_20260305T110000Z.json.gz"
        ));
        assert!(!is_data_file("notes.txt"));
    }

    #[test]
    fn the_account_of_a_path() {
        let p = |s: &str| account_of_path(Path::new(s));
        assert_eq!(
            p("b/AWSLogs/o-abc123/222222222222/CloudTrail/us-east-1/2026/03/05/f.json.gz")
                .as_deref(),
            Some("222222222222")
        );
        assert_eq!(
            p("b/AWSLogs/222222222222/CloudTrail/us-east-1/2026/03/05/f.json.gz").as_deref(),
            Some("222222222222")
        );
        assert_eq!(
            p("x/333333333333_CloudTrail_us-east-1_20260305T1000Z_u.json.gz").as_deref(),
            Some("333333333333")
        );
        assert_eq!(p("x/events.json"), None);
        assert_eq!(p("AWSLogs/o-abc123/CloudTrail/f.json"), None);
    }
}
