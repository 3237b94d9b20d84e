//! The IAM credential report (`GetCredentialReport` content): parsing, and matching its two
//! access-key slots to the key ids `ListAccessKeys` returns. Pure: no AWS calls here.
//!
//! The report names no key ids: slot 1 and slot 2 carry a key's last rotation (creation) time
//! and its last use. A listed key is matched to the slot whose `last_rotated` equals its
//! creation time to the second; when two keys were created in the same second the match is
//! ambiguous, which is said, never hidden.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use chrono::{DateTime, Utc};

use crate::error::InputError;
use crate::inventory::time::parse_time;
use crate::inventory::{
    AccessKey, Account, KeyStatus, MfaDevice, MfaType, Password, RootCredentials, User,
};

/// The name the report gives the root user's row.
pub const ROOT_ROW: &str = "<root_account>";

/// Since when IAM records password sign-ins (the report's `no_information` before it).
fn password_tracking_start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_413_763_200, 0).unwrap_or_default() // 2014-10-20 00:00 UTC
}

/// Since when IAM records access key use (`N/A` for a key last used before it; no date
/// from GetAccessKeyLastUsed either).
pub fn key_tracking_start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_429_660_800, 0).unwrap_or_default() // 2015-04-22 00:00 UTC
}

/// One access-key slot of a report row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySlot {
    pub active: bool,
    /// Creation (or last rotation) time; `None` when the slot is empty.
    pub last_rotated: Option<DateTime<Utc>>,
    pub last_used: Option<DateTime<Utc>>,
    pub last_used_region: Option<String>,
    pub last_used_service: Option<String>,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    pub user: String,
    pub arn: String,
    pub created: Option<DateTime<Utc>>,
    pub password_enabled: bool,
    /// `password_enabled` said `not_supported` (the root row of older reports): whether
    /// root has a password is unknown.
    pub password_not_supported: bool,
    pub password_last_used: Option<DateTime<Utc>>,
    /// `password_last_used` said `no_information`: never used, or not used since IAM began
    /// tracking sign-ins (2014-10-20).
    pub password_no_information: bool,
    pub password_last_changed: Option<DateTime<Utc>>,
    pub mfa_active: bool,
    pub keys: [KeySlot; 2],
}

impl ReportRow {
    pub fn is_root(&self) -> bool {
        self.user == ROOT_ROW
    }

    /// Whether the password's last use is unknown rather than never: `no_information` for
    /// a user (or root) created before IAM tracked sign-ins, or of unknown age.
    pub fn password_last_used_unknown(&self) -> bool {
        self.password_last_used.is_none()
            && self.password_no_information
            && self.created.is_none_or(|c| c < password_tracking_start())
    }

    /// Root credentials from the root row (hardware MFA is not in the report). Root's
    /// password is `true` / `false` in newer reports, unknown where the report says
    /// `not_supported`.
    pub fn root_credentials(&self) -> RootCredentials {
        RootCredentials {
            password_enabled: (!self.password_not_supported).then_some(self.password_enabled),
            mfa_enabled: self.mfa_active,
            hardware_mfa: None,
            // A key exists when its slot is active or has a creation time (an Inactive key
            // still exists, and CIS counts it).
            access_key_present: self
                .keys
                .iter()
                .any(|k| k.active || k.last_rotated.is_some()),
            last_console_login: self.password_last_used,
            access_key_last_used: self.keys.iter().filter_map(|k| k.last_used).max(),
        }
    }
}

const COLUMNS: [&str; 22] = [
    "user",
    "arn",
    "user_creation_time",
    "password_enabled",
    "password_last_used",
    "password_last_changed",
    "password_next_rotation",
    "mfa_active",
    "access_key_1_active",
    "access_key_1_last_rotated",
    "access_key_1_last_used_date",
    "access_key_1_last_used_region",
    "access_key_1_last_used_service",
    "access_key_2_active",
    "access_key_2_last_rotated",
    "access_key_2_last_used_date",
    "access_key_2_last_used_region",
    "access_key_2_last_used_service",
    "cert_1_active",
    "cert_1_last_rotated",
    "cert_2_active",
    "cert_2_last_rotated",
];

/// Values the report uses for "nothing here".
fn absent(v: &str) -> bool {
    matches!(v, "" | "N/A" | "no_information" | "not_supported")
}

/// Parses the report's CSV. Errors name the 1-based line and the column.
pub fn parse(text: &str) -> Result<Vec<ReportRow>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| format!("credential report: unreadable header: {e}"))?
        .clone();
    let index = |name: &str| header.iter().position(|h| h == name);
    let mut at = [0usize; COLUMNS.len()];
    for (i, name) in COLUMNS.iter().enumerate() {
        // The certificate and rotation columns are not needed; the others must be there.
        let needed = !name.starts_with("cert_") && *name != "password_next_rotation";
        match index(name) {
            Some(p) => at[i] = p,
            None if needed => return Err(format!("credential report: line 1: no column `{name}`")),
            None => at[i] = usize::MAX,
        }
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n + 2;
        let record = record.map_err(|e| format!("credential report: line {line}: {e}"))?;
        let cell = |i: usize| record.get(at[i]).unwrap_or("").trim();
        let time = |i: usize| -> Result<Option<DateTime<Utc>>, String> {
            let v = cell(i);
            if absent(v) {
                return Ok(None);
            }
            parse_time(v).map(Some).ok_or_else(|| {
                format!(
                    "credential report: line {line}: column `{}`: expected a time, found `{v}`",
                    COLUMNS[i]
                )
            })
        };
        let flag = |i: usize| cell(i).eq_ignore_ascii_case("true");
        let said = |i: usize, what: &str| cell(i).eq_ignore_ascii_case(what);
        let text = |i: usize| (!absent(cell(i))).then(|| cell(i).to_string());
        let slot = |base: usize| -> Result<KeySlot, String> {
            Ok(KeySlot {
                active: flag(base),
                last_rotated: time(base + 1)?,
                last_used: time(base + 2)?,
                last_used_region: text(base + 3),
                last_used_service: text(base + 4),
            })
        };
        rows.push(ReportRow {
            user: cell(0).to_string(),
            arn: cell(1).to_string(),
            created: time(2)?,
            password_enabled: flag(3),
            password_not_supported: said(3, "not_supported"),
            password_last_used: time(4)?,
            password_no_information: said(4, "no_information"),
            password_last_changed: time(5)?,
            mfa_active: flag(7),
            keys: [slot(8)?, slot(13)?],
        });
    }
    Ok(rows)
}

/// A key as `ListAccessKeys` returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedKey {
    pub id: String,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
}

/// Keys with their use from the report, and what could not be matched exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    pub keys: Vec<AccessKey>,
    /// Remarks for the account's collection notes (never secrets: key ids only).
    pub notes: Vec<String>,
}

/// Matches the listed keys of one user to the report row's two slots by creation time.
pub fn match_keys(user: &str, row: &ReportRow, listed: &[ListedKey]) -> Matched {
    let mut notes = Vec::new();
    let mut taken = [false; 2];
    let mut keys = Vec::new();
    let mut listed: Vec<&ListedKey> = listed.iter().collect();
    listed.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    for (i, key) in listed.iter().enumerate() {
        let second = key.created.timestamp();
        let candidates: Vec<usize> = (0..2)
            .filter(|&s| !taken[s])
            .filter(|&s| row.keys[s].last_rotated.map(|t| t.timestamp()) == Some(second))
            .collect();
        let twin = listed
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.created.timestamp() == second);
        let slot = match candidates.as_slice() {
            [] => {
                notes.push(format!(
                    "{user}: access key {} has no slot in the credential report (created after the report?); its last use is unknown",
                    key.id
                ));
                None
            }
            [only, ..] => {
                if twin {
                    notes.push(format!(
                        "{user}: access keys created in the same second ({}); their last-use data may be swapped",
                        key.created.format("%Y-%m-%d %H:%M:%S")
                    ));
                }
                taken[*only] = true;
                Some(&row.keys[*only])
            }
        };
        // No slot: the report says nothing of this key. A slot without a last use means
        // never used, unless the key is older than AWS's tracking of key use.
        let last_used_unknown = slot.is_none_or(|s| {
            s.last_used.is_none() && s.last_rotated.is_some_and(|t| t < key_tracking_start())
        });
        keys.push(AccessKey {
            id: key.id.clone(),
            status: key.status,
            created: key.created,
            last_used_unknown,
            last_used: slot.and_then(|s| s.last_used),
            last_used_service: slot.and_then(|s| s.last_used_service.clone()),
            last_used_region: slot.and_then(|s| s.last_used_region.clone()),
        });
    }
    notes.dedup();
    Matched { keys, notes }
}

// ---------------------------------------------------------------------------------------------
// Offline: credential report files as AWS gives them
// ---------------------------------------------------------------------------------------------

/// A credential report file: its rows, its account, when AWS generated it.
#[derive(Clone, Debug)]
pub struct ReportFile {
    pub path: PathBuf,
    pub account_id: String,
    pub rows: Vec<ReportRow>,
    /// `GeneratedTime` of `aws iam get-credential-report`; the CSV alone does not say it.
    pub generated: Option<DateTime<Utc>>,
}

/// The account of an IAM ARN (`arn:aws:iam::111111111111:user/x`, `…:root`).
fn arn_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (arn_, _partition, service, _region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    (arn_ == "arn"
        && service == "iam"
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit()))
    .then_some(account)
}

/// The start of a report's header (`user,arn,`) in base64: the `Content` saved without
/// decoding it.
pub const BASE64_HEADER: &[u8] = b"dXNlcixhcm4s";

/// `aws iam get-credential-report` output.
#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReportJson {
    content: String,
    #[serde(default)]
    report_format: Option<String>,
    #[serde(default)]
    generated_time: Option<serde_json::Value>,
}

/// Reads a credential report: the CSV (the console download, or the decoded `Content`), or
/// the JSON `aws iam get-credential-report` prints (base64 `Content`, `GeneratedTime`). The
/// account comes from the ARNs, which must all name one account.
///
/// # Errors
///
/// An [`InputError`] naming the file (and the line): not a report, a cell that is not what
/// its column holds, no row with an ARN, rows of several accounts.
pub fn read_file(path: &Path, bytes: &[u8]) -> Result<ReportFile, InputError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let (text, generated) = if first == Some(&b'{') {
        let json: ReportJson = serde_json::from_slice(body).map_err(|e| {
            InputError::new(
                path,
                format!("not the output of `aws iam get-credential-report`: {e}"),
            )
            .at(e.line() as u64, Some(e.column() as u64))
        })?;
        if let Some(f) = json.report_format.as_deref().filter(|f| *f != "text/csv") {
            return Err(InputError::new(
                path,
                format!("ReportFormat `{f}`: only `text/csv` reports exist"),
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(json.content.trim())
            .map_err(|e| InputError::new(path, format!("Content is not base64: {e}")))?;
        let generated = match &json.generated_time {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(t)) => Some(parse_time(t).ok_or_else(|| {
                InputError::new(path, format!("GeneratedTime `{t}` is not a time"))
            })?),
            #[allow(clippy::cast_possible_truncation)] // seconds of a real date
            Some(serde_json::Value::Number(n)) => n
                .as_f64()
                .and_then(|s| DateTime::from_timestamp(s.floor() as i64, 0)),
            Some(other) => {
                return Err(InputError::new(
                    path,
                    format!("GeneratedTime `{other}` is not a time"),
                ))
            }
        };
        (decoded, generated)
    } else if body.trim_ascii_start().starts_with(BASE64_HEADER) {
        // `--query Content --output text` without `| base64 -d`: still the report.
        let compact: Vec<u8> = body
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| {
                InputError::new(path, format!("base64 report that does not decode: {e}"))
            })?;
        (decoded, None)
    } else {
        (body.to_vec(), None)
    };
    let text = String::from_utf8(text)
        .map_err(|e| InputError::new(path, format!("the report is not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let rows = parse(text).map_err(|e| {
        InputError::new(
            path,
            e.strip_prefix("credential report: ")
                .unwrap_or(&e)
                .to_string(),
        )
    })?;
    let mut account: Option<(&str, usize)> = None;
    for (n, row) in rows.iter().enumerate() {
        let line = n + 2;
        let Some(a) = arn_account(&row.arn) else {
            return Err(InputError::new(
                path,
                format!(
                    "line {line}: `{}` is not an IAM ARN with an account id",
                    row.arn
                ),
            ));
        };
        match account {
            None => account = Some((a, line)),
            Some((first, at)) if first != a => {
                return Err(InputError::new(
                    path,
                    format!(
                        "line {line}: account {a}, but line {at} is account {first}: a credential report covers one account; give each account's report as its own file"
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    let Some((account_id, _)) = account else {
        return Err(InputError::new(
            path,
            "the credential report has no rows (not even the root user's)",
        ));
    };
    Ok(ReportFile {
        path: path.to_path_buf(),
        account_id: account_id.to_string(),
        rows,
        generated,
    })
}

/// The id a key gets when the input names none: the report's slot (`access_key_1`,
/// `access_key_2`), never an invented `AKIA…` id.
pub fn slot_id(slot: usize) -> String {
    format!("access_key_{}", slot + 1)
}

impl ReportFile {
    /// The account this report describes, named `name`: its users (key ids unknown: each key
    /// is its slot), the root user from the root row, when AWS generated the report.
    pub fn to_account(&self, name: &str) -> Account {
        let mut account = Account::new(self.account_id.clone(), name);
        account.collection.credential_report_generated_at = self.generated;
        for row in &self.rows {
            if row.is_root() {
                account.root = Some(row.root_credentials());
                continue;
            }
            let mut user = User::named(row.user.clone());
            user.arn = Some(row.arn.clone()).filter(|a| !a.is_empty());
            user.created = row.created;
            user.password = Password {
                enabled: row.password_enabled,
                last_used: row.password_last_used,
                last_used_unknown: row.password_last_used_unknown(),
                last_changed: row.password_last_changed,
            };
            if row.mfa_active {
                // The report says whether MFA is on, not which kind.
                user.mfa_devices.push(MfaDevice {
                    serial: None,
                    kind: MfaType::Unknown,
                    enabled_at: None,
                });
            }
            for (i, slot) in row.keys.iter().enumerate() {
                let Some(created) = slot.last_rotated else {
                    if slot.active {
                        account.collection.notes.push(format!(
                            "{}: {} is active without a creation time in the credential report; left out",
                            row.user,
                            slot_id(i)
                        ));
                    }
                    continue;
                };
                user.access_keys.push(AccessKey {
                    id: slot_id(i),
                    status: if slot.active {
                        KeyStatus::Active
                    } else {
                        KeyStatus::Inactive
                    },
                    created,
                    last_used: slot.last_used,
                    last_used_unknown: slot.last_used.is_none() && created < key_tracking_start(),
                    last_used_service: slot.last_used_service.clone(),
                    last_used_region: slot.last_used_region.clone(),
                });
            }
            account.users.push(user);
        }
        account
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const REPORT: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated
<root_account>,arn:aws:iam::111111111111:root,2020-01-01T00:00:00+00:00,not_supported,2026-02-20T17:45:02+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
admin-user,arn:aws:iam::111111111111:user/admin-user,2025-11-30T12:00:00+00:00,true,2026-03-04T10:15:33+00:00,2025-11-30T12:00:00+00:00,N/A,false,true,2025-12-01T08:00:00+00:00,2026-03-03T16:20:10+00:00,us-east-1,iam,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
shared-dev,arn:aws:iam::111111111111:user/shared-dev,2024-05-02T10:00:00+00:00,false,N/A,N/A,N/A,false,true,2024-05-02T10:10:00+00:00,2026-03-05T08:30:00+00:00,us-east-1,ec2,true,2025-09-14T16:00:00+00:00,2026-03-05T09:15:00+00:00,eu-west-1,s3,false,N/A,false,N/A
newbie,arn:aws:iam::111111111111:user/newbie,2026-03-01T00:00:00+00:00,true,no_information,2026-03-01T00:00:00+00:00,N/A,false,true,2026-03-01T00:00:00+00:00,N/A,not_supported,not_supported,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A
";

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s).unwrap()
    }

    #[test]
    fn an_inactive_root_key_is_present_and_its_last_use_is_kept() {
        // Slot 1: an Inactive key used in January; slot 2: an Active key never used.
        let report = REPORT.replacen(
            "true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
            "true,false,2021-01-01T00:00:00+00:00,2026-01-15T10:00:00+00:00,us-east-1,s3,true,2025-06-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A\n",
            1,
        );
        assert_ne!(report, REPORT);
        let creds = parse(&report).unwrap()[0].root_credentials();
        assert!(creds.access_key_present);
        assert_eq!(creds.access_key_last_used, Some(t("2026-01-15 10:00:00")));
        // Only an Inactive key: still present.
        let inactive_only = REPORT.replacen(
            "true,false,N/A,N/A,N/A,N/A,false,",
            "true,false,2021-01-01T00:00:00+00:00,N/A,N/A,N/A,false,",
            1,
        );
        assert_ne!(inactive_only, REPORT);
        let creds = parse(&inactive_only).unwrap()[0].root_credentials();
        assert!(creds.access_key_present);
        assert_eq!(creds.access_key_last_used, None);
        // No key at all.
        let creds = parse(REPORT).unwrap()[0].root_credentials();
        assert!(!creds.access_key_present);
    }

    #[test]
    fn parses_rows_and_the_root_row() {
        let rows = parse(REPORT).unwrap();
        assert_eq!(rows.len(), 4);
        let root = &rows[0];
        assert!(root.is_root());
        let creds = root.root_credentials();
        assert!(creds.mfa_enabled && !creds.access_key_present);
        assert_eq!(creds.last_console_login, Some(t("2026-02-20 17:45:02")));
        let admin = &rows[1];
        assert!(admin.password_enabled && !admin.mfa_active);
        assert_eq!(admin.keys[0].last_used_service.as_deref(), Some("iam"));
        assert_eq!(admin.keys[1], KeySlot::default());
        let newbie = &rows[3];
        assert_eq!(
            newbie.password_last_used, None,
            "no_information is never used"
        );
        assert_eq!(
            newbie.keys[0].last_used_service, None,
            "not_supported is unknown"
        );
    }

    #[test]
    fn root_password_is_true_false_or_unknown_as_the_report_says() {
        // Old reports: `not_supported` (the fixture's root row): unknown.
        let rows = parse(REPORT).unwrap();
        assert_eq!(rows[0].root_credentials().password_enabled, None);
        // Newer reports: `true`, or `false` for a member account whose root credentials were
        // deleted through centralized root access (AWS keeps the last sign-in).
        let old_root = "<root_account>,arn:aws:iam::111111111111:root,2020-01-01T00:00:00+00:00,not_supported,2026-02-20T17:45:02+00:00,not_supported,not_supported,true,";
        assert!(REPORT.contains(old_root));
        let with = |password: &str, used: &str, mfa: &str| {
            REPORT.replace(
                old_root,
                &format!("<root_account>,arn:aws:iam::111111111111:root,2020-01-01T00:00:00+00:00,{password},{used},N/A,not_supported,{mfa},"),
            )
        };
        let no_root_credentials =
            parse(&with("false", "N/A", "false")).unwrap()[0].root_credentials();
        assert_eq!(no_root_credentials.password_enabled, Some(false));
        assert!(!no_root_credentials.mfa_enabled && !no_root_credentials.access_key_present);
        let kept_login = parse(&with("false", "2025-01-02T03:04:05+00:00", "false")).unwrap()[0]
            .root_credentials();
        assert_eq!(
            kept_login.last_console_login,
            Some(t("2025-01-02 03:04:05"))
        );
        let with_password =
            parse(&with("true", "no_information", "true")).unwrap()[0].root_credentials();
        assert_eq!(with_password.password_enabled, Some(true));
        assert_eq!(with_password.last_console_login, None);
    }

    #[test]
    fn no_information_is_unknown_only_before_aws_tracked_sign_ins() {
        let rows = parse(REPORT).unwrap();
        // newbie (created 2026) never signed in.
        assert!(rows[3].password_no_information && !rows[3].password_last_used_unknown());
        let old = REPORT.replace(
            "newbie,arn:aws:iam::111111111111:user/newbie,2026-03-01T00:00:00+00:00",
            "newbie,arn:aws:iam::111111111111:user/newbie,2013-03-01T00:00:00+00:00",
        );
        assert_ne!(old, REPORT);
        assert!(parse(&old).unwrap()[3].password_last_used_unknown());
    }

    #[test]
    fn a_key_without_a_slot_or_older_than_use_tracking_has_an_unknown_last_use() {
        let mut rows = parse(REPORT).unwrap();
        let listed = [ListedKey {
            id: "AKIAOLD".into(),
            status: KeyStatus::Active,
            created: t("2014-06-01 00:00:00"),
        }];
        rows[1].keys[0] = KeySlot {
            active: true,
            last_rotated: Some(t("2014-06-01 00:00:00")),
            ..KeySlot::default()
        };
        let m = match_keys("admin-user", &rows[1], &listed);
        assert!(m.keys[0].last_used_unknown && m.keys[0].last_used.is_none());
        // The same never-used slot for a key created after April 2015: never used.
        let rows = parse(REPORT).unwrap();
        let listed = [ListedKey {
            id: "AKIANEWBIE".into(),
            status: KeyStatus::Active,
            created: t("2026-03-01 00:00:00"),
        }];
        let m = match_keys("newbie", &rows[3], &listed);
        assert!(!m.keys[0].last_used_unknown && m.keys[0].last_used.is_none());
        // No slot at all: unknown.
        let late = [ListedKey {
            id: "AKIALATE".into(),
            status: KeyStatus::Active,
            created: t("2026-03-06 11:00:00"),
        }];
        assert!(match_keys("newbie", &rows[3], &late).keys[0].last_used_unknown);
    }

    #[test]
    fn bad_times_and_missing_columns_name_the_line() {
        let bad = REPORT.replace("2026-03-04T10:15:33+00:00", "yesterday");
        let e = parse(&bad).unwrap_err();
        assert!(
            e.contains("line 3") && e.contains("password_last_used"),
            "{e}"
        );
        let e = parse("user,arn\nx,y\n").unwrap_err();
        assert!(e.contains("user_creation_time"), "{e}");
    }

    #[test]
    fn keys_match_slots_by_creation_time() {
        let rows = parse(REPORT).unwrap();
        let listed = [
            ListedKey {
                id: "AKIAM".into(),
                status: KeyStatus::Active,
                created: t("2025-09-14 16:00:00"),
            },
            ListedKey {
                id: "AKIAL".into(),
                status: KeyStatus::Active,
                created: t("2024-05-02 10:10:00"),
            },
        ];
        let m = match_keys("shared-dev", &rows[2], &listed);
        assert!(m.notes.is_empty(), "{:?}", m.notes);
        assert_eq!(m.keys[0].id, "AKIAL");
        assert_eq!(m.keys[0].last_used_service.as_deref(), Some("ec2"));
        assert_eq!(m.keys[1].id, "AKIAM");
        assert_eq!(m.keys[1].last_used_region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn ties_and_unknown_keys_are_said() {
        let mut rows = parse(REPORT).unwrap();
        let same = Utc.with_ymd_and_hms(2024, 5, 2, 10, 10, 0).unwrap();
        rows[2].keys[1].last_rotated = Some(same);
        let listed = [
            ListedKey {
                id: "AKIA1".into(),
                status: KeyStatus::Active,
                created: same,
            },
            ListedKey {
                id: "AKIA2".into(),
                status: KeyStatus::Inactive,
                created: same,
            },
        ];
        let m = match_keys("shared-dev", &rows[2], &listed);
        assert_eq!(m.keys.len(), 2);
        assert!(
            m.notes.iter().any(|n| n.contains("same second")),
            "{:?}",
            m.notes
        );
        let late = [ListedKey {
            id: "AKIANEW".into(),
            status: KeyStatus::Active,
            created: t("2026-03-06 11:00:00"),
        }];
        let m = match_keys("admin-user", &rows[1], &late);
        assert_eq!(m.keys[0].last_used, None);
        assert!(m.notes[0].contains("AKIANEW"));
    }
}
