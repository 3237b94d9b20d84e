//! What an input file is, told by its content (not its extension): the formats `evaluate`
//! reads, and the ones a security team holds that it does not read in that position, so that
//! such a file gets a message naming what it is and what would use it instead of a parse
//! error.

use std::collections::BTreeMap;

use crate::inventory::stock_csv::{EVENTS_HEADER, REPORT_HEADER, ROOT_HEADER};

/// A kind of input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `inventory_<stamp>.json` (iam-audit).
    InventoryJson,
    /// `findings_<stamp>.json` (iam-audit).
    FindingsJson,
    /// `iam_audit_report_<stamp>.csv` (the stock report).
    StockReport,
    /// `cloudtrail_events_<stamp>.csv` (the stock events report).
    StockEvents,
    /// `root_audit_report_<stamp>.csv` (the stock root report).
    StockRoot,
    /// An IAM credential report as CSV (the console download, or the decoded `Content`).
    CredentialReportCsv,
    /// `aws iam get-credential-report` output (base64 `Content`).
    CredentialReportJson,
    /// A CloudTrail log file as delivered to S3 (`{"Records": [...]}`).
    CloudTrailLog,
    /// A gzip file: CloudTrail delivers its log files as `.json.gz`.
    Gzip,
    /// `aws cloudtrail lookup-events` output (`{"Events": [...]}`).
    LookupEvents,
    /// CloudTrail records, one JSON object per line.
    CloudTrailJsonLines,
    /// `aws organizations list-accounts` output.
    OrganizationsAccounts,
    /// JSON of another kind.
    OtherJson,
    /// Anything else (CSV with another header, text).
    Other,
}

/// Where a file was given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// The input (`evaluate INPUT`).
    Input,
    /// `--events`.
    Events,
    /// `--root`.
    Root,
}

/// The first header line of a CSV (without a byte-order mark or a line end).
fn first_line(body: &[u8]) -> &[u8] {
    let end = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let line = &body[..end];
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The top-level keys of a JSON object, if `text` is one (values are skipped, not kept).
#[allow(clippy::zero_sized_map_values)] // a map that skips its values: the keys are wanted
fn object_keys(text: &[u8]) -> Option<Vec<String>> {
    serde_json::from_slice::<BTreeMap<String, serde::de::IgnoredAny>>(text)
        .ok()
        .map(|m| m.into_keys().collect())
}

/// What the file whose content is `bytes` is.
pub fn detect(bytes: &[u8]) -> Kind {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let body = &body[start..];
    if body.first() == Some(&b'{') {
        let Some(keys) = object_keys(body) else {
            // JSON Lines: not one object, but the first line alone is a CloudTrail record.
            let first = object_keys(first_line(body)).unwrap_or_default();
            return if first.iter().any(|k| k == "eventName") {
                Kind::CloudTrailJsonLines
            } else {
                Kind::OtherJson
            };
        };
        let has = |k: &str| keys.iter().any(|x| x == k);
        return if has("schema_version") && has("findings") && has("tool") {
            Kind::FindingsJson
        } else if has("schema_version") && has("accounts") {
            Kind::InventoryJson
        } else if has("Records") {
            Kind::CloudTrailLog
        } else if has("Events") {
            Kind::LookupEvents
        } else if has("Content") && (has("GeneratedTime") || has("ReportFormat")) {
            Kind::CredentialReportJson
        } else if has("Accounts") {
            Kind::OrganizationsAccounts
        } else {
            Kind::OtherJson
        };
    }
    let header = first_line(body);
    if header.starts_with(b"user,arn,user_creation_time")
        || header.starts_with(crate::input::credential_report::BASE64_HEADER)
    {
        Kind::CredentialReportCsv
    } else if header == REPORT_HEADER.as_bytes() {
        Kind::StockReport
    } else if header == EVENTS_HEADER.as_bytes() {
        Kind::StockEvents
    } else if header == ROOT_HEADER.as_bytes() {
        Kind::StockRoot
    } else {
        Kind::Other
    }
}

/// How much of a file [`detect_start`] looks at.
pub const START: usize = 64 * 1024;

/// The first [`START`] bytes of a file (the whole file when it is smaller).
///
/// # Errors
///
/// The file cannot be read.
pub fn read_start(path: &std::path::Path) -> Result<Vec<u8>, crate::error::InputError> {
    use std::io::Read;
    let mut start = Vec::with_capacity(START);
    std::fs::File::open(path)
        .and_then(|f| f.take(START as u64).read_to_end(&mut start))
        .map_err(|e| crate::error::InputError::new(path, format!("cannot read: {e}")))?;
    Ok(start)
}

/// The first key of the top-level JSON object at the start of `body`, if it is there.
pub fn first_key(body: &[u8]) -> Option<&[u8]> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut i = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[i] != b'{' {
        return None;
    }
    i += 1;
    i += body[i..].iter().position(|b| !b.is_ascii_whitespace())?;
    if body[i] != b'"' {
        return None;
    }
    let end = body[i + 1..].iter().position(|b| *b == b'"')?;
    Some(&body[i + 1..i + 1 + end])
}

/// What a file is, from its first bytes only ([`read_start`]): CloudTrail files may be
/// gigabytes, and are told by their first key.
pub fn detect_start(start: &[u8]) -> Kind {
    if start.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    match first_key(start) {
        Some(b"Records") => return Kind::CloudTrailLog,
        Some(b"Events" | b"NextToken") => return Kind::LookupEvents,
        _ => {}
    }
    if start.len() < START {
        return detect(start);
    }
    // Larger than the start: JSON Lines when the first line alone is a record.
    let body = start.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(start);
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        let line = first_line(body.trim_ascii_start());
        return if object_keys(line).is_some_and(|k| k.iter().any(|k| k == "eventName")) {
            Kind::CloudTrailJsonLines
        } else {
            Kind::OtherJson
        };
    }
    detect(start)
}

impl Kind {
    /// CloudTrail's own formats (read by `--events`).
    pub fn is_cloudtrail(self) -> bool {
        matches!(
            self,
            Kind::CloudTrailLog | Kind::Gzip | Kind::LookupEvents | Kind::CloudTrailJsonLines
        )
    }

    /// Whether a file of this kind is read in `position` (unknown kinds are tried, so that
    /// their error names the line and column).
    pub fn read_in(self, position: Position) -> bool {
        match position {
            Position::Input => matches!(
                self,
                Kind::InventoryJson
                    | Kind::StockReport
                    | Kind::CredentialReportCsv
                    | Kind::CredentialReportJson
                    | Kind::OtherJson
                    | Kind::Other
            ),
            Position::Events => {
                self.is_cloudtrail() || matches!(self, Kind::StockEvents | Kind::Other)
            }
            Position::Root => matches!(self, Kind::StockRoot | Kind::Other),
        }
    }

    /// What the file is, for a person.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::InventoryJson => "an iam-audit inventory JSON",
            Kind::FindingsJson => "an iam-audit findings JSON",
            Kind::StockReport => "a stock report CSV (iam_audit_report_<stamp>.csv)",
            Kind::StockEvents => "a stock events CSV (cloudtrail_events_<stamp>.csv)",
            Kind::StockRoot => "a stock root report CSV (root_audit_report_<stamp>.csv)",
            Kind::CredentialReportCsv => "an AWS IAM credential report (CSV)",
            Kind::CredentialReportJson => {
                "an AWS IAM credential report as `aws iam get-credential-report` prints it"
            }
            Kind::CloudTrailLog => "a CloudTrail log file (`{\"Records\": [...]}`)",
            Kind::Gzip => "a gzip-compressed file (CloudTrail delivers its log files as .json.gz)",
            Kind::LookupEvents => "the output of `aws cloudtrail lookup-events`",
            Kind::CloudTrailJsonLines => "CloudTrail records as JSON Lines",
            Kind::OrganizationsAccounts => "the output of `aws organizations list-accounts`",
            Kind::OtherJson => "a JSON file",
            Kind::Other => "a file",
        }
    }

    /// What to do with a file of this kind that was given in `position`, which does not
    /// read it.
    pub fn refusal(self, position: Position) -> String {
        let what = self.describe();
        let todo = match (self, position) {
            (Kind::InventoryJson, _) => {
                "an inventory holds its events and root credentials: pass it as the input, \
                 `iam-audit evaluate inventory_<stamp>.json`"
            }
            (Kind::FindingsJson, _) => {
                "it is a run's result, not an input: compare two runs with `iam-audit diff OLD \
                 NEW`, or mark what is new with `--baseline OLD_findings.json`"
            }
            (Kind::StockReport, _) => {
                "pass it as the input: `iam-audit evaluate iam_audit_report_<stamp>.csv --events \
                 cloudtrail_events_<stamp>.csv --root root_audit_report_<stamp>.csv`"
            }
            (Kind::StockEvents, _) => {
                "pass it as `--events` beside the stock report: `iam-audit evaluate \
                 iam_audit_report_<stamp>.csv --events cloudtrail_events_<stamp>.csv`"
            }
            (Kind::StockRoot, _) => {
                "pass it as `--root` beside the stock report: `iam-audit evaluate \
                 iam_audit_report_<stamp>.csv --root root_audit_report_<stamp>.csv`"
            }
            (Kind::CredentialReportCsv | Kind::CredentialReportJson, _) => {
                "pass it as the input: `iam-audit evaluate credential-report.csv` (one file per \
                 account, several files, or a folder of them)"
            }
            (
                Kind::CloudTrailLog | Kind::Gzip | Kind::LookupEvents | Kind::CloudTrailJsonLines,
                _,
            ) => {
                "it holds events, not credentials: pass it as `--events` beside the input, \
                 `iam-audit evaluate INPUT --events FILE_OR_FOLDER`"
            }
            (Kind::OrganizationsAccounts, _) => {
                "it names accounts but holds no credentials: pass it as `--accounts-file` \
                 beside credential reports, `iam-audit evaluate REPORTS/ --accounts-file \
                 accounts.json`"
            }
            (Kind::OtherJson | Kind::Other, _) => {
                "expected an inventory JSON, a stock report CSV or credential reports as the \
                 input, a stock events CSV or CloudTrail files as `--events`, a stock root \
                 report CSV as `--root` (`iam-audit evaluate --help` lists every format)"
            }
        };
        format!("this is {what}: {todo}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_told_by_its_content() {
        let cases: &[(&[u8], Kind)] = &[
            (b"{\"schema_version\": 1, \"accounts\": []}", Kind::InventoryJson),
            (
                b"\xEF\xBB\xBF  {\"schema_version\":1,\"tool\":{},\"accounts\":{},\"findings\":[]}",
                Kind::FindingsJson,
            ),
            (
                b"{\"Records\":[{\"eventVersion\":\"1.08\",\"eventName\":\"CreateUser\"}]}",
                Kind::CloudTrailLog,
            ),
            (b"{\"Events\": [], \"NextToken\": \"x\"}", Kind::LookupEvents),
            (
                b"{\"Content\": \"dXNlcg==\", \"ReportFormat\": \"text/csv\", \"GeneratedTime\": \"2026-03-06T12:00:00+00:00\"}",
                Kind::CredentialReportJson,
            ),
            (
                b"{\"eventName\":\"CreateUser\",\"eventTime\":\"2026-03-06T12:00:00Z\"}\n{\"eventName\":\"DeleteUser\"}\n",
                Kind::CloudTrailJsonLines,
            ),
            (b"{\"Accounts\": []}", Kind::OrganizationsAccounts),
            (b"{\"other\": 1}", Kind::OtherJson),
            (b"{not json", Kind::OtherJson),
            (&[0x1f, 0x8b, 8, 0], Kind::Gzip),
            (
                b"user,arn,user_creation_time,password_enabled,password_last_used\r\n<root_account>,arn:aws:iam::111111111111:root,N/A,not_supported,no_information\r\n",
                Kind::CredentialReportCsv,
            ),
            (b"dXNlcixhcm4sdXNlcl9jcmVhdGlvbl90aW1l\n", Kind::CredentialReportCsv),
            (b"a,b,c\n1,2,3\n", Kind::Other),
            (b"", Kind::Other),
        ];
        for (bytes, want) in cases {
            assert_eq!(detect(bytes), *want, "{}", String::from_utf8_lossy(bytes));
        }
        for (header, want) in [
            (REPORT_HEADER, Kind::StockReport),
            (EVENTS_HEADER, Kind::StockEvents),
            (ROOT_HEADER, Kind::StockRoot),
        ] {
            assert_eq!(detect(format!("{header}\r\n").as_bytes()), want);
        }
    }

    #[test]
    fn what_a_position_reads_and_what_it_refuses() {
        assert!(Kind::StockReport.read_in(Position::Input));
        assert!(Kind::InventoryJson.read_in(Position::Input));
        assert!(!Kind::StockEvents.read_in(Position::Input));
        assert!(Kind::StockEvents.read_in(Position::Events));
        assert!(!Kind::StockReport.read_in(Position::Events));
        assert!(Kind::StockRoot.read_in(Position::Root));
        assert!(Kind::CredentialReportCsv.read_in(Position::Input));
        assert!(!Kind::CredentialReportCsv.read_in(Position::Events));
        assert!(Kind::CloudTrailLog.read_in(Position::Events));
        assert!(!Kind::CloudTrailLog.read_in(Position::Input));
        let m = Kind::CredentialReportJson.refusal(Position::Events);
        assert!(m.contains("pass it as the input"), "{m}");
        let m = Kind::StockEvents.refusal(Position::Input);
        assert!(m.contains("--events"), "{m}");
        let m = Kind::CloudTrailLog.refusal(Position::Input);
        assert!(m.starts_with("this is a CloudTrail log file"), "{m}");
        assert!(m.contains("not credentials"), "{m}");
    }
}
