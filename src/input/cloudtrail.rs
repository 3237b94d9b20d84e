//! CloudTrail files as a team holds them: log files as CloudTrail delivers them to S3
//! (`{"Records": [...]}`, `.json` or `.json.gz`), folders of them or an organization trail's
//! tree (`AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/`), the output of
//! `aws cloudtrail lookup-events` (`{"Events": [...]}`), and records as JSON Lines.
//!
//! Files are streamed: a file is never held in memory whole, only the events that are kept
//! (the configured event names), so gigabytes of logs are read in constant memory. Files are
//! read (and decompressed) in parallel. A record that is not a CloudTrail record is skipped
//! and counted with its file and record number; a file that stops being JSON keeps what was
//! read before and is counted too.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

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

/// What one file (or stream) gave.
#[derive(Debug, Default)]
pub struct FileRead {
    /// The kept events, each with its CloudTrail `eventID` when the record has one.
    pub events: Vec<(Option<String>, Event)>,
    /// Records read (kept or not, malformed included).
    pub records: u64,
    pub skipped: Vec<Skipped>,
    /// Bytes read (decompressed).
    pub bytes: u64,
}

/// A reader that counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
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
    fn skip(&self, out: &mut FileRead, record: u64, reason: impl Into<String>) {
        out.skipped.push(Skipped {
            file: self.file.to_string(),
            record,
            reason: reason.into(),
        });
    }

    /// One record (the JSON text of one element of `Records`, or one line).
    fn record(&self, out: &mut FileRead, n: u64, json: &str) {
        out.records += 1;
        let record = match serde_json::from_str::<Record<'_>>(json) {
            Ok(r) => r,
            Err(e) => return self.skip(out, n, format!("not a CloudTrail record: {e}")),
        };
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
    fn lookup_event(&self, out: &mut FileRead, n: u64, json: &str) {
        out.records += 1;
        let e = match serde_json::from_str::<LookupEvent<'_>>(json) {
            Ok(e) => e,
            Err(e) => return self.skip(out, n, format!("not a LookupEvents event: {e}")),
        };
        let Some(name) = e.event_name.as_deref() else {
            return self.skip(out, n, "not a LookupEvents event: no EventName");
        };
        if !self.keep.keeps(name) {
            return;
        }
        // The full record, when the output has it; else what LookupEvents says of it.
        let record = e
            .cloud_trail_event
            .as_deref()
            .and_then(|j| serde_json::from_str::<Record<'_>>(j).ok());
        let event = record.as_ref().and_then(|r| r.to_event(self.account).ok());
        let event = if let Some(mut event) = event {
            if let Some(user) = e.username.as_deref().filter(|u| !u.is_empty()) {
                event.actor = user.to_string();
            }
            let resources: Vec<String> = e
                .resources
                .iter()
                .filter_map(|r| r.resource_name.as_deref())
                .map(str::to_string)
                .collect();
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
                resources: e
                    .resources
                    .iter()
                    .filter_map(|r| r.resource_name.as_deref())
                    .map(str::to_string)
                    .collect(),
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
            #[allow(clippy::cast_possible_truncation)] // seconds of a real date
            EventTime::Epoch(s) => chrono::DateTime::from_timestamp(s.floor() as i64, 0),
        }
    }
}

/// The top-level object of a log file or a lookup-events output: `Records` or `Events` are
/// read element by element, everything else skipped.
struct TopLevel<'o, 'a> {
    origin: &'o Origin<'a>,
    out: &'o mut FileRead,
}

struct Elements<'o, 'a> {
    origin: &'o Origin<'a>,
    out: &'o mut FileRead,
    lookup: bool,
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file ({\"Records\": [...]}) or lookup-events output")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "Records" | "Events" => {
                    found = true;
                    map.next_value_seed(Elements {
                        origin: self.origin,
                        out: &mut *self.out,
                        lookup: key == "Events",
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0u64;
        while let Some(raw) = seq.next_element::<Box<RawValue>>()? {
            n += 1;
            if self.lookup {
                self.origin.lookup_event(self.out, n, raw.get());
            } else {
                self.origin.record(self.out, n, raw.get());
            }
        }
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(()) // `"Records": null`
    }
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// The first key of the top-level object at the start of `buf`, if it is there.
fn first_key(buf: &[u8]) -> Option<&[u8]> {
    let buf = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(buf);
    let mut i = buf.iter().position(|b| !b.is_ascii_whitespace())?;
    if buf[i] != b'{' {
        return None;
    }
    i += 1;
    i += buf[i..].iter().position(|b| !b.is_ascii_whitespace())?;
    if buf[i] != b'"' {
        return None;
    }
    let end = buf[i + 1..].iter().position(|b| *b == b'"')?;
    Some(&buf[i + 1..i + 1 + end])
}

/// Reads one stream of CloudTrail data (already decompressed): a log file, a lookup-events
/// output, or JSON Lines — told apart by the first key of the first object. `file` names it
/// in what is skipped; `account` is the account its path names, if any.
pub fn read_stream<R: BufRead>(
    mut reader: R,
    file: &str,
    account: Option<&str>,
    keep: &Keep,
) -> FileRead {
    let origin = Origin {
        file,
        account,
        keep,
    };
    let mut out = FileRead::default();
    let object = match reader.fill_buf() {
        Ok(buf) => matches!(first_key(buf), Some(b"Records" | b"Events" | b"NextToken")),
        Err(e) => {
            origin.skip(&mut out, 0, format!("cannot read: {e}"));
            return out;
        }
    };
    if object {
        let mut counting = Counting {
            inner: reader,
            count: 0,
        };
        let mut de = serde_json::Deserializer::from_reader(&mut counting);
        let read = TopLevel {
            origin: &origin,
            out: &mut out,
        }
        .deserialize(&mut de)
        .and_then(|found| de.end().map(|()| found));
        match read {
            Ok(true) => {}
            Ok(false) => origin.skip(&mut out, 0, "a JSON object without `Records` or `Events`"),
            Err(e) => {
                let at = out.records + 1;
                origin.skip(
                    &mut out,
                    at,
                    format!("the file stops being JSON ({e}); the records before it are kept"),
                );
            }
        }
        out.bytes = counting.count;
        return out;
    }
    // JSON Lines: one record per line; a bad line is skipped, the others kept.
    let mut line = String::new();
    let mut n = 0u64;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(len) => {
                n += 1;
                out.bytes += len as u64;
                let text = line.trim();
                if text.is_empty() {
                    continue;
                }
                origin.record(&mut out, n, text);
            }
            Err(e) => {
                origin.skip(&mut out, n + 1, format!("cannot read: {e}"));
                break;
            }
        }
    }
    out
}

/// Reads one file, decompressing it when it is gzip (by content, not by name).
pub fn read_file(path: &Path, file: &str, keep: &Keep) -> FileRead {
    let account = account_of_path(path);
    let opened = std::fs::File::open(path);
    let mut reader = match opened {
        Ok(f) => BufReader::with_capacity(256 * 1024, f),
        Err(e) => {
            let mut out = FileRead::default();
            out.skipped.push(Skipped {
                file: file.to_string(),
                record: 0,
                reason: format!("cannot read: {e}"),
            });
            return out;
        }
    };
    let gzip = reader
        .fill_buf()
        .is_ok_and(|b| b.starts_with(&[0x1f, 0x8b]));
    if gzip {
        let decoder = flate2::bufread::MultiGzDecoder::new(reader);
        let mut out = read_stream(
            BufReader::with_capacity(256 * 1024, decoder),
            file,
            account.as_deref(),
            keep,
        );
        for s in &mut out.skipped {
            if s.reason.contains("stops being JSON") || s.reason.starts_with("cannot read") {
                s.reason.push_str(" (a damaged or truncated gzip file?)");
            }
        }
        out
    } else {
        read_stream(reader, file, account.as_deref(), keep)
    }
}

/// Folders of an organization trail that hold no events (digests, Insights).
const NOT_EVENTS: [&str; 2] = ["CloudTrail-Digest", "CloudTrail-Insight"];

/// Whether a file found under a folder looks like CloudTrail data by its name.
fn is_data_file(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
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
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InputError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| InputError::new(dir, format!("cannot read the folder: {e}")))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if p.is_dir() {
                if !NOT_EVENTS.contains(&name.as_str()) {
                    walk(&p, out)?;
                }
            } else if is_data_file(&name) {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
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
    /// organization trail beside an account's own trail, is kept once, by `eventID`).
    pub events: Vec<Event>,
    pub files: usize,
    pub records: u64,
    pub bytes: u64,
    /// Records seen again under the same `eventID`.
    pub duplicates: u64,
    pub skipped: Vec<Skipped>,
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
        if !self.skipped.is_empty() {
            let files: BTreeSet<&str> = self.skipped.iter().map(|s| s.file.as_str()).collect();
            s.push_str(&format!(
                "; {} skipped as unreadable in {} file(s), first: {}",
                self.skipped.len(),
                files.len(),
                self.skipped[0]
            ));
        }
        s
    }
}

/// Reads every CloudTrail file under `paths` (files and folders), in parallel, keeping the
/// events `keep` names. `progress` draws a bar on stderr (by bytes of the files).
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
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .collect();
    let bar = if progress {
        let bar = indicatif::ProgressBar::new(sizes.iter().sum());
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "CloudTrail files {bar:30} {binary_bytes}/{binary_total_bytes} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let reads: Vec<FileRead> = files
        .par_iter()
        .zip(sizes.par_iter())
        .map(|(f, size)| {
            let read = read_file(f, &f.display().to_string(), keep);
            bar.inc(*size);
            read
        })
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
