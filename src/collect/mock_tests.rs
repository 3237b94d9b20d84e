//! Edge cases of the AWS collectors that the moto emulator cannot produce (truncated and empty
//! pages, reports in progress, throttling, access denied, keys created in the same second),
//! with clients mocked by `aws-smithy-mocks`: no server, no network.
//!
//! The IAM and CloudTrail clients are in `RuleMode::Sequential`: the rules list the calls in
//! the exact order the collector must make them. Discovery places accounts concurrently, so
//! the Organizations client is in `RuleMode::MatchAny`, each rule matching its request's
//! parameters (page token, child or resource id). Either way a call that no rule expects
//! panics the test, and each test checks at the end how often every rule was used.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use chrono::{DateTime, Utc};

use super::error::CollectError;
use super::org::OrgAccount;
use super::{access, cloudtrail, iam, org, ScanOptions};
use crate::inventory::time::parse_time;
use crate::inventory::{
    AccessKey, Collection, DataSource, Event, KeyStatus, MfaDevice, MfaType, Password, User,
};

// ---------------------------------------------------------------------------------------------
// Helpers

fn t(s: &str) -> DateTime<Utc> {
    parse_time(s).expect("a test time")
}

fn sdk_time(s: &str) -> aws_smithy_types::DateTime {
    let t = t(s);
    aws_smithy_types::DateTime::from_secs_and_nanos(t.timestamp(), t.timestamp_subsec_nanos())
}

/// Retries with a small budget and backoffs of a few ms (standard mode, as `load_config`).
fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

/// A retry partition of its own for each client: the retry quota (token bucket) of a partition
/// is shared by the whole process, so tests that throttle must not drain the others' quota.
fn partition() -> aws_sdk_iam::config::retry::RetryPartition {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    aws_sdk_iam::config::retry::RetryPartition::new(format!("mock-tests-{n}"))
}

/// An IAM client answering `rules` in order, after the credential report request that
/// `collect_iam` sends first (so the report is generated while users are listed).
fn iam_client(rules: &[&Rule]) -> aws_sdk_iam::Client {
    let p = partition();
    let early = generate(&[aws_sdk_iam::types::ReportStateType::Started]);
    let mut all = vec![&early];
    all.extend_from_slice(rules);
    mock_client!(aws_sdk_iam, RuleMode::Sequential, &all, move |c| c
        .retry_config(retry())
        .retry_partition(p.clone()))
}

/// Runs the IAM collection on a mocked client answering with `rules`: its result and what
/// the collection recorded.
async fn collect(rules: &[&Rule], opts: &ScanOptions) -> (iam::IamResult, Collection) {
    let iam = iam_client(rules);
    let mut collection = Collection::default();
    let result = iam::collect_iam(&iam, opts, t(AS_OF), &mut collection).await;
    (result, collection)
}

fn org_client(rules: &[&Rule]) -> aws_sdk_organizations::Client {
    let p = partition();
    mock_client!(aws_sdk_organizations, RuleMode::MatchAny, rules, move |c| c
        .retry_config(retry())
        .retry_partition(p.clone()))
}

fn ct_client(rules: &[&Rule]) -> aws_sdk_cloudtrail::Client {
    let p = partition();
    mock_client!(aws_sdk_cloudtrail, RuleMode::Sequential, rules, move |c| c
        .retry_config(retry())
        .retry_partition(p.clone()))
}

/// Asserts how many responses each rule served (retries included).
fn assert_calls(rules: &[(&str, &Rule, usize)]) {
    for (what, rule, n) in rules {
        assert_eq!(rule.num_calls(), *n, "calls of {what}");
    }
}

/// An awsQuery (IAM) error body.
fn iam_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
    )
}

const ACCOUNT: &str = "111111111111";
const AS_OF: &str = "2026-03-06 12:00:00";

/// One user at a time: the IAM client's rules list the calls in order.
fn opts() -> ScanOptions {
    ScanOptions {
        report_deadline: Duration::from_secs(5),
        cloudtrail_rps: 1000.0,
        user_concurrency: 1,
        ..ScanOptions::default()
    }
}

fn arn(user: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{user}")
}

fn detail(user: &str, id: &str, created: &str) -> aws_sdk_iam::types::UserDetail {
    aws_sdk_iam::types::UserDetail::builder()
        .user_name(user)
        .user_id(id)
        .arn(arn(user))
        .create_date(sdk_time(created))
        .build()
}

/// A GetAccountAuthorizationDetails page; `marker` set means truncated.
fn gaad_page(
    users: &[aws_sdk_iam::types::UserDetail],
    marker: Option<&str>,
) -> aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput
{
    aws_sdk_iam::operation::get_account_authorization_details::GetAccountAuthorizationDetailsOutput::builder()
        .set_user_detail_list(Some(users.to_vec()))
        .is_truncated(marker.is_some())
        .set_marker(marker.map(str::to_string))
        .build()
}

/// A GetAccountAuthorizationDetails rule answering `page` to a request with marker `expect`.
fn gaad_rule(
    expect: Option<&'static str>,
    users: Vec<aws_sdk_iam::types::UserDetail>,
    marker: Option<&'static str>,
) -> Rule {
    mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(move |r| {
            r.marker() == expect && r.filter() == [aws_sdk_iam::types::EntityType::User]
        })
        .then_output(move || gaad_page(&users, marker))
}

fn no_virtual_mfa() -> Rule {
    virtual_mfa(&[])
}

fn virtual_mfa(serials: &[&str]) -> Rule {
    let devices: Vec<_> = serials
        .iter()
        .map(|s| {
            let mut d = aws_sdk_iam::types::VirtualMfaDevice::builder().serial_number(*s);
            // The root user's device is listed with the root ARN as its user.
            if s.ends_with(":mfa/root-account-mfa-device") {
                d = d.user(
                    aws_sdk_iam::types::User::builder()
                        .path("/")
                        .user_name("")
                        .user_id("111111111111")
                        .arn("arn:aws:iam::111111111111:root")
                        .create_date(sdk_time("2020-01-01 00:00:00"))
                        .build()
                        .expect("complete test data"),
                );
            }
            d.build().expect("complete test data")
        })
        .collect();
    mock!(aws_sdk_iam::Client::list_virtual_mfa_devices).then_output(move || {
        aws_sdk_iam::operation::list_virtual_mfa_devices::ListVirtualMfaDevicesOutput::builder()
            .set_virtual_mfa_devices(Some(devices.clone()))
            .is_truncated(false)
            .build()
            .expect("complete test data")
    })
}

fn generate(states: &[aws_sdk_iam::types::ReportStateType]) -> Rule {
    let mut seq = mock!(aws_sdk_iam::Client::generate_credential_report).sequence();
    for state in states {
        let state = state.clone();
        seq = seq.output(move || {
            aws_sdk_iam::operation::generate_credential_report::GenerateCredentialReportOutput::builder()
                .state(state.clone())
                .build()
        });
    }
    seq.build()
}

const REPORT_HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// A credential report: the header, then one line per row (the columns after `user`).
fn report(rows: &[&str]) -> String {
    let mut text = String::from(REPORT_HEADER);
    for r in rows {
        text.push('\n');
        text.push_str(r);
    }
    text.push('\n');
    text
}

fn get_report(content: String, generated: &'static str) -> Rule {
    mock!(aws_sdk_iam::Client::get_credential_report).then_output(move || {
        aws_sdk_iam::operation::get_credential_report::GetCredentialReportOutput::builder()
            .content(aws_smithy_types::Blob::new(content.clone().into_bytes()))
            .report_format(aws_sdk_iam::types::ReportFormatType::TextCsv)
            .generated_time(sdk_time(generated))
            .build()
    })
}

fn access_key(
    user: &str,
    id: &str,
    status: &str,
    created: &str,
) -> aws_sdk_iam::types::AccessKeyMetadata {
    aws_sdk_iam::types::AccessKeyMetadata::builder()
        .user_name(user)
        .access_key_id(id)
        .status(aws_sdk_iam::types::StatusType::from(status))
        .create_date(sdk_time(created))
        .build()
}

fn list_keys_output(
    keys: &[aws_sdk_iam::types::AccessKeyMetadata],
) -> aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput {
    aws_sdk_iam::operation::list_access_keys::ListAccessKeysOutput::builder()
        .set_access_key_metadata(Some(keys.to_vec()))
        .is_truncated(false)
        .build()
        .expect("complete test data")
}

fn list_keys(user: &'static str, keys: Vec<aws_sdk_iam::types::AccessKeyMetadata>) -> Rule {
    mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(move |r| r.user_name() == Some(user))
        .then_output(move || list_keys_output(&keys))
}

fn list_mfa(user: &'static str, devices: &[(&str, &str)]) -> Rule {
    let devices: Vec<_> = devices
        .iter()
        .map(|(serial, enabled)| {
            aws_sdk_iam::types::MfaDevice::builder()
                .user_name(user)
                .serial_number(*serial)
                .enable_date(sdk_time(enabled))
                .build()
                .expect("complete test data")
        })
        .collect();
    mock!(aws_sdk_iam::Client::list_mfa_devices)
        .match_requests(move |r| r.user_name() == Some(user))
        .then_output(move || {
            aws_sdk_iam::operation::list_mfa_devices::ListMfaDevicesOutput::builder()
                .set_mfa_devices(Some(devices.clone()))
                .is_truncated(false)
                .build()
                .expect("complete test data")
        })
}

fn list_users(users: &[(&str, Option<&str>)]) -> Rule {
    let users: Vec<_> = users
        .iter()
        .map(|(name, used)| {
            aws_sdk_iam::types::User::builder()
                .path("/")
                .user_name(*name)
                .user_id(format!("AIDA{}", name.to_uppercase()))
                .arn(arn(name))
                .create_date(sdk_time("2025-01-01 00:00:00"))
                .set_password_last_used(used.map(sdk_time))
                .build()
                .expect("complete test data")
        })
        .collect();
    mock!(aws_sdk_iam::Client::list_users).then_output(move || {
        aws_sdk_iam::operation::list_users::ListUsersOutput::builder()
            .set_users(Some(users.clone()))
            .is_truncated(false)
            .build()
            .expect("complete test data")
    })
}

fn login_profile(user: &'static str, created: &'static str) -> Rule {
    mock!(aws_sdk_iam::Client::get_login_profile)
        .match_requests(move |r| r.user_name() == Some(user))
        .then_output(move || {
            aws_sdk_iam::operation::get_login_profile::GetLoginProfileOutput::builder()
                .login_profile(
                    aws_sdk_iam::types::LoginProfile::builder()
                        .user_name(user)
                        .create_date(sdk_time(created))
                        .build()
                        .expect("complete test data"),
                )
                .build()
        })
}

fn no_login_profile(user: &'static str) -> Rule {
    use aws_sdk_iam::operation::get_login_profile::GetLoginProfileError;
    mock!(aws_sdk_iam::Client::get_login_profile)
        .match_requests(move |r| r.user_name() == Some(user))
        .then_error(move || {
            GetLoginProfileError::NoSuchEntityException(
                aws_sdk_iam::types::error::NoSuchEntityException::builder()
                    .message(format!("Login Profile for User {user} cannot be found."))
                    .build(),
            )
        })
}

fn key_last_used(
    id: &'static str,
    used: Option<&'static str>,
    service: &'static str,
    region: &'static str,
) -> Rule {
    mock!(aws_sdk_iam::Client::get_access_key_last_used)
        .match_requests(move |r| r.access_key_id() == Some(id))
        .then_output(move || {
            aws_sdk_iam::operation::get_access_key_last_used::GetAccessKeyLastUsedOutput::builder()
                .access_key_last_used(
                    aws_sdk_iam::types::AccessKeyLastUsed::builder()
                        .set_last_used_date(used.map(sdk_time))
                        .service_name(service)
                        .region(region)
                        .build()
                        .expect("complete test data"),
                )
                .build()
        })
}

fn user(name: &str, id: &str, created: &str) -> User {
    User {
        id: Some(id.to_string()),
        arn: Some(arn(name)),
        created: Some(t(created)),
        ..User::named(name)
    }
}

// Credential report rows (after the `user` column come `arn`, creation, password, MFA, keys).
const ROOT_ROW: &str = "<root_account>,arn:aws:iam::111111111111:root,2020-01-01T00:00:00+00:00,not_supported,2026-02-20T17:45:02+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
const ALICE_ROW: &str = "alice,arn:aws:iam::111111111111:user/alice,2025-01-01T00:00:00+00:00,true,2026-03-04T10:15:33+00:00,2025-01-01T00:05:00+00:00,N/A,false,true,2025-06-01T08:00:00+00:00,2026-03-03T16:20:10+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
const BOB_ROW: &str = "bob,arn:aws:iam::111111111111:user/bob,2025-02-01T00:00:00+00:00,false,N/A,N/A,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";

/// The rules after the credential report for alice and bob (report path), and the users.
fn report_path_tail() -> (Vec<Rule>, Vec<User>) {
    let rules = vec![
        list_keys(
            "alice",
            vec![access_key(
                "alice",
                "AKIAALICE1",
                "Active",
                "2025-06-01 08:00:00",
            )],
        ),
        // alice has no MFA in the report: no ListMFADevices. bob has no keys in the report,
        // but every user's keys are listed (a key created since the report is not in it).
        list_keys("bob", vec![]),
        list_mfa(
            "bob",
            &[
                (
                    "arn:aws:iam::111111111111:mfa/bob-phone",
                    "2025-02-02 00:00:00",
                ),
                (
                    "arn:aws:iam::111111111111:u2f/user/bob/yubi",
                    "2025-02-03 00:00:00",
                ),
            ],
        ),
    ];
    let alice = User {
        password: Password {
            enabled: true,
            last_used: Some(t("2026-03-04 10:15:33")),
            last_changed: Some(t("2025-01-01 00:05:00")),
            ..Default::default()
        },
        access_keys: vec![AccessKey {
            id: "AKIAALICE1".into(),
            status: KeyStatus::Active,
            created: t("2025-06-01 08:00:00"),
            last_used: Some(t("2026-03-03 16:20:10")),
            last_used_service: Some("s3".into()),
            last_used_region: Some("us-east-1".into()),
            ..Default::default()
        }],
        ..user("alice", "AIDAALICE", "2025-01-01 00:00:00")
    };
    let bob = User {
        mfa_devices: vec![
            MfaDevice {
                serial: Some("arn:aws:iam::111111111111:mfa/bob-phone".into()),
                kind: MfaType::Virtual,
                enabled_at: Some(t("2025-02-02 00:00:00")),
            },
            MfaDevice {
                serial: Some("arn:aws:iam::111111111111:u2f/user/bob/yubi".into()),
                kind: MfaType::Fido,
                enabled_at: Some(t("2025-02-03 00:00:00")),
            },
        ],
        ..user("bob", "AIDABOB", "2025-02-01 00:00:00")
    };
    (rules, vec![alice, bob])
}

fn alice_and_bob() -> Vec<aws_sdk_iam::types::UserDetail> {
    vec![
        detail("alice", "AIDAALICE", "2025-01-01 00:00:00"),
        detail("bob", "AIDABOB", "2025-02-01 00:00:00"),
    ]
}

fn root_credentials() -> crate::inventory::RootCredentials {
    crate::inventory::RootCredentials {
        mfa_enabled: true,
        // No root device among the virtual ones: a hardware or FIDO device.
        hardware_mfa: Some(true),
        access_key_present: false,
        last_console_login: Some(t("2026-02-20 17:45:02")),
        access_key_last_used: None,
        ..Default::default()
    }
}

// ---------------------------------------------------------------------------------------------
// IAM: GetAccountAuthorizationDetails pagination

#[tokio::test]
async fn truncated_authorization_details_pages_collect_every_user_once_in_order() {
    use aws_sdk_iam::types::ReportStateType::Complete;
    let pages = [
        gaad_rule(
            None,
            vec![
                detail("u1", "AIDAU1", "2025-01-01 00:00:00"),
                detail("u2", "AIDAU2", "2025-01-02 00:00:00"),
            ],
            Some("m1"),
        ),
        // An empty page that is still truncated: pagination goes on.
        gaad_rule(Some("m1"), vec![], Some("m2")),
        gaad_rule(
            Some("m2"),
            vec![detail("u3", "AIDAU3", "2025-01-03 00:00:00")],
            Some("m3"),
        ),
        gaad_rule(
            Some("m3"),
            vec![detail("u4", "AIDAU4", "2025-01-04 00:00:00")],
            None,
        ),
    ];
    let mfa = no_virtual_mfa();
    let gen = generate(&[Complete]);
    let rows: Vec<String> = ["u1", "u2", "u3", "u4"]
        .iter()
        .map(|u| {
            format!("{u},{},2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A", arn(u))
        })
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let get = get_report(report(&rows), "2026-03-06 11:00:00");
    // No user has keys in the report; their keys are listed all the same.
    let no_keys: Vec<Rule> = ["u1", "u2", "u3", "u4"]
        .into_iter()
        .map(|u| list_keys(u, vec![]))
        .collect();
    let mut all: Vec<&Rule> = pages.iter().collect();
    all.extend([&mfa, &gen, &get]);
    all.extend(no_keys.iter());

    let (result, collection) = collect(&all, &opts()).await;
    let (users, root) = result.expect("collected");

    let expected = vec![
        user("u1", "AIDAU1", "2025-01-01 00:00:00"),
        user("u2", "AIDAU2", "2025-01-02 00:00:00"),
        user("u3", "AIDAU3", "2025-01-03 00:00:00"),
        user("u4", "AIDAU4", "2025-01-04 00:00:00"),
    ];
    assert_eq!(users, expected);
    assert_eq!(root, None, "no root row in this report");
    assert_eq!(collection.notes, Vec::<String>::new());
    assert_eq!(
        collection.credential_report_generated_at,
        Some(t("2026-03-06 11:00:00"))
    );
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.num_calls(), 1, "page {i}");
    }
    assert_calls(&[("GenerateCredentialReport", &gen, 1)]);
}

#[tokio::test]
async fn access_denied_on_authorization_details_is_an_iam_error_naming_the_operation() {
    let denied = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .sequence()
        .http_status(
            403,
            Some(iam_error(
                "AccessDenied",
                "User: arn:aws:sts::111111111111:assumed-role/audit/x is not authorized to perform: iam:GetAccountAuthorizationDetails",
            )),
        )
        .build();
    let (result, _) = collect(&[&denied], &opts()).await;
    let err = result.expect_err("access denied");
    assert!(
        matches!(
            err,
            CollectError::Call {
                data_source: DataSource::Iam,
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.starts_with("GetAccountAuthorizationDetails: "),
        "{}",
        err
    );
    assert!(err.contains("AccessDenied"), "{}", err);
    assert!(err.contains("is not authorized"), "{}", err);
    assert_calls(&[("GetAccountAuthorizationDetails", &denied, 1)]);
}

#[tokio::test]
async fn access_denied_on_a_later_authorization_details_page_fails_the_whole_collection() {
    let first = gaad_rule(
        None,
        vec![detail("u1", "AIDAU1", "2025-01-01 00:00:00")],
        Some("m1"),
    );
    let denied = mock!(aws_sdk_iam::Client::get_account_authorization_details)
        .match_requests(|r| r.marker() == Some("m1"))
        .sequence()
        .http_status(403, Some(iam_error("AccessDenied", "explicit deny")))
        .build();
    let (result, _) = collect(&[&first, &denied], &opts()).await;
    let err = result.expect_err("access denied");
    assert!(
        matches!(
            err,
            CollectError::Call {
                data_source: DataSource::Iam,
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(
        err.starts_with("GetAccountAuthorizationDetails: ") && err.contains("AccessDenied"),
        "{}",
        err
    );
    assert_calls(&[("first page", &first, 1), ("second page", &denied, 1)]);
}

// ---------------------------------------------------------------------------------------------
// IAM: the credential report

#[tokio::test]
async fn credential_report_in_progress_then_complete_is_used() {
    use aws_sdk_iam::types::ReportStateType::{Complete, Inprogress};
    let gaad = gaad_rule(None, alice_and_bob(), None);
    let mfa = virtual_mfa(&["arn:aws:iam::111111111111:mfa/bob-phone"]);
    let gen = generate(&[Inprogress, Complete]);
    let get = get_report(
        report(&[ROOT_ROW, ALICE_ROW, BOB_ROW]),
        "2026-03-06 11:59:00",
    );
    let (tail, expected) = report_path_tail();
    let mut all = vec![&gaad, &mfa, &gen, &get];
    all.extend(tail.iter());

    let (result, collection) = collect(&all, &opts()).await;
    let (users, root) = result.expect("collected");
    assert_eq!(users, expected);
    assert_eq!(root, Some(root_credentials()));
    assert_eq!(collection.notes, Vec::<String>::new());
    assert_eq!(
        collection.credential_report_generated_at,
        Some(t("2026-03-06 11:59:00"))
    );
    assert_calls(&[
        ("GenerateCredentialReport", &gen, 2),
        ("GetCredentialReport", &get, 1),
    ]);
    for r in &tail {
        assert_eq!(r.num_calls(), 1);
    }
}

/// A report generated `generated` (UTC) for a scan at AS_OF: the notes of the collection.
async fn notes_with_report_generated(generated: &'static str) -> Vec<String> {
    use aws_sdk_iam::types::ReportStateType::Complete;
    let gaad = gaad_rule(None, alice_and_bob(), None);
    let mfa = virtual_mfa(&["arn:aws:iam::111111111111:mfa/bob-phone"]);
    let gen = generate(&[Complete]);
    let get = get_report(report(&[ROOT_ROW, ALICE_ROW, BOB_ROW]), generated);
    let (tail, _) = report_path_tail();
    let mut all = vec![&gaad, &mfa, &gen, &get];
    all.extend(tail.iter());
    let (result, collection) = collect(&all, &opts()).await;
    result.expect("collected");
    assert_eq!(
        collection.credential_report_generated_at,
        Some(t(generated))
    );
    collection.notes
}

#[tokio::test]
async fn a_report_older_than_four_hours_is_said_to_be_stale() {
    assert_eq!(
        notes_with_report_generated("2026-03-06 07:59:59").await,
        ["the credential report was generated at 2026-03-06 07:59:59 UTC, more than 4 hours before the scan: last-use times may be stale"]
    );
    // Exactly four hours is not more than four hours.
    assert_eq!(
        notes_with_report_generated("2026-03-06 08:00:00").await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn credential_report_not_ready_on_get_is_polled_again() {
    use aws_sdk_iam::types::ReportStateType::Complete;
    let gaad = gaad_rule(None, alice_and_bob(), None);
    // Here the root user's MFA is a virtual device.
    let mfa = virtual_mfa(&[
        "arn:aws:iam::111111111111:mfa/bob-phone",
        "arn:aws:iam::111111111111:mfa/root-account-mfa-device",
    ]);
    let gen1 = generate(&[Complete]);
    // What IAM answers while the report is being generated: 410, ReportInProgress.
    let not_ready = mock!(aws_sdk_iam::Client::get_credential_report)
        .sequence()
        .http_status(
            410,
            Some(iam_error("ReportInProgress", "Report is being generated")),
        )
        .build();
    let gen2 = generate(&[Complete]);
    let get = get_report(
        report(&[ROOT_ROW, ALICE_ROW, BOB_ROW]),
        "2026-03-06 11:59:00",
    );
    let (tail, expected) = report_path_tail();
    let mut all = vec![&gaad, &mfa, &gen1, &not_ready, &gen2, &get];
    all.extend(tail.iter());

    let (result, collection) = collect(&all, &opts()).await;
    let (users, root) = result.expect("collected");
    assert_eq!(users, expected);
    assert_eq!(
        root,
        Some(crate::inventory::RootCredentials {
            hardware_mfa: Some(false),
            ..root_credentials()
        })
    );
    assert_eq!(collection.notes, Vec::<String>::new());
    assert_calls(&[
        ("GenerateCredentialReport 1", &gen1, 1),
        ("GetCredentialReport (not ready)", &not_ready, 1),
        ("GenerateCredentialReport 2", &gen2, 1),
        ("GetCredentialReport", &get, 1),
    ]);
}

#[tokio::test]
async fn credential_report_never_ready_falls_back_to_per_user_calls() {
    use aws_sdk_iam::types::ReportStateType::Inprogress;
    let gaad = gaad_rule(None, alice_and_bob(), None);
    let mfa = virtual_mfa(&["arn:aws:iam::111111111111:mfa/alice-phone"]);
    // Deadline 1 s: a first try, a 500 ms wait, a second try, then no time for a 1 s wait.
    let gen = generate(&[Inprogress, Inprogress]);
    let users = list_users(&[("alice", Some("2026-03-01 09:00:00")), ("bob", None)]);
    let alice_keys = list_keys(
        "alice",
        vec![
            access_key("alice", "AKIAALICE1", "Active", "2025-06-01 08:00:00"),
            access_key("alice", "AKIAALICE2", "Inactive", "2025-07-01 08:00:00"),
        ],
    );
    let alice_login = login_profile("alice", "2025-01-01 00:05:00");
    let used1 = key_last_used(
        "AKIAALICE1",
        Some("2026-03-02 10:00:00"),
        "ec2",
        "eu-west-1",
    );
    // A key never used: AWS answers N/A for service and region, and no date.
    let used2 = key_last_used("AKIAALICE2", None, "N/A", "N/A");
    let alice_mfa = list_mfa(
        "alice",
        &[(
            "arn:aws:iam::111111111111:mfa/alice-phone",
            "2025-01-02 00:00:00",
        )],
    );
    let bob_keys = list_keys("bob", vec![]);
    let bob_login = no_login_profile("bob");
    let bob_mfa = list_mfa("bob", &[]);
    let all = [
        &gaad,
        &mfa,
        &gen,
        &users,
        &alice_keys,
        &alice_login,
        &used1,
        &used2,
        &alice_mfa,
        &bob_keys,
        &bob_login,
        &bob_mfa,
    ];
    let opts = ScanOptions {
        report_deadline: Duration::from_secs(1),
        ..opts()
    };

    let (result, collection) = collect(&all, &opts).await;
    let (got, root) = result.expect("collected");

    let alice = User {
        password: Password {
            enabled: true,
            last_used: Some(t("2026-03-01 09:00:00")),
            last_changed: Some(t("2025-01-01 00:05:00")),
            ..Default::default()
        },
        access_keys: vec![
            AccessKey {
                id: "AKIAALICE1".into(),
                status: KeyStatus::Active,
                created: t("2025-06-01 08:00:00"),
                last_used: Some(t("2026-03-02 10:00:00")),
                last_used_service: Some("ec2".into()),
                last_used_region: Some("eu-west-1".into()),
                ..Default::default()
            },
            AccessKey {
                id: "AKIAALICE2".into(),
                status: KeyStatus::Inactive,
                created: t("2025-07-01 08:00:00"),
                last_used: None,
                last_used_service: None,
                last_used_region: None,
                ..Default::default()
            },
        ],
        mfa_devices: vec![MfaDevice {
            serial: Some("arn:aws:iam::111111111111:mfa/alice-phone".into()),
            kind: MfaType::Virtual,
            enabled_at: Some(t("2025-01-02 00:00:00")),
        }],
        ..user("alice", "AIDAALICE", "2025-01-01 00:00:00")
    };
    // NoSuchEntity on GetLoginProfile: no password, and not an error.
    let bob = user("bob", "AIDABOB", "2025-02-01 00:00:00");
    assert_eq!(got, vec![alice, bob]);
    assert_eq!(root, None, "the root is only in the credential report");
    assert_eq!(
        collection.notes,
        vec![
            "credential report unavailable (the credential report was not ready within 1.0 s); collected with per-user calls instead; the root user's credentials (MFA, access keys, last sign-in) are unknown without it"
                .to_string()
        ]
    );
    assert_eq!(collection.credential_report_generated_at, None);
    assert!(collection.errors.is_empty());
    assert_calls(&[("GenerateCredentialReport", &gen, 2)]);
    for (i, r) in all.iter().enumerate() {
        assert!(r.num_calls() >= 1, "rule {i} unused");
    }
}

/// A report AWS served from its cache (the first GenerateCredentialReport answers COMPLETE,
/// GeneratedTime three hours before the scan): it says bob has no key, no password and no
/// MFA, but since then bob got a key, a console password and an MFA device, and alice lost
/// her MFA.
#[tokio::test]
async fn a_cached_report_cannot_hide_what_changed_since_it_was_generated() {
    use aws_sdk_iam::types::ReportStateType::Complete;
    let p = partition();
    let gaad = gaad_rule(None, alice_and_bob(), None);
    let mfa = virtual_mfa(&["arn:aws:iam::111111111111:mfa/bob-phone"]);
    let first = generate(&[Complete]);
    let gen = generate(&[Complete]);
    let bob_row_then = "bob,arn:aws:iam::111111111111:user/bob,2025-02-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
    let get = get_report(
        report(&[ROOT_ROW, ALICE_ROW, bob_row_then]),
        "2026-03-06 09:00:00",
    );
    let users = list_users(&[
        ("alice", Some("2026-03-06 10:00:00")),
        ("bob", Some("2026-03-06 11:30:00")),
    ]);
    let alice_keys = list_keys(
        "alice",
        vec![access_key(
            "alice",
            "AKIAALICE1",
            "Active",
            "2025-06-01 08:00:00",
        )],
    );
    let alice_login = login_profile("alice", "2025-01-01 00:05:00");
    let alice_mfa = list_mfa("alice", &[]);
    let bob_keys = list_keys(
        "bob",
        vec![access_key(
            "bob",
            "AKIABOBNEW",
            "Active",
            "2026-03-06 11:00:00",
        )],
    );
    let bob_login = login_profile("bob", "2026-03-06 11:20:00");
    let bob_used = key_last_used(
        "AKIABOBNEW",
        Some("2026-03-06 11:40:00"),
        "iam",
        "us-east-1",
    );
    let bob_mfa = list_mfa(
        "bob",
        &[(
            "arn:aws:iam::111111111111:mfa/bob-phone",
            "2026-03-06 11:25:00",
        )],
    );
    let all = [
        &first,
        &gaad,
        &mfa,
        &gen,
        &get,
        &users,
        &alice_keys,
        &alice_login,
        &alice_mfa,
        &bob_keys,
        &bob_login,
        &bob_used,
        &bob_mfa,
    ];
    let iam = mock_client!(aws_sdk_iam, RuleMode::Sequential, &all, move |c| c
        .retry_config(retry())
        .retry_partition(p.clone()));
    let mut collection = Collection::default();
    let result = iam::collect_iam(&iam, &opts(), t(AS_OF), &mut collection).await;
    let (got, _) = result.expect("collected");
    let bob = &got[1];
    assert_eq!(
        bob.access_keys,
        vec![AccessKey {
            id: "AKIABOBNEW".into(),
            status: KeyStatus::Active,
            created: t("2026-03-06 11:00:00"),
            last_used: Some(t("2026-03-06 11:40:00")),
            last_used_service: Some("iam".into()),
            last_used_region: Some("us-east-1".into()),
            ..Default::default()
        }],
        "the key created after the cached report is in the inventory"
    );
    assert!(bob.password.enabled, "the password created since");
    assert_eq!(bob.password.last_used, Some(t("2026-03-06 11:30:00")));
    assert_eq!(bob.mfa_devices.len(), 1);
    let alice = &got[0];
    assert!(alice.mfa_devices.is_empty(), "alice's MFA is asked live");
    assert_eq!(
        alice.access_keys[0].last_used,
        Some(t("2026-03-03 16:20:10")),
        "the report's last use of a key it knows is kept"
    );
    assert_eq!(
        alice.password.last_changed,
        Some(t("2025-01-01 00:05:00")),
        "the report's last password change"
    );
    assert!(
        collection
            .notes
            .iter()
            .any(|n| n.contains("2026-03-06 09:00:00 UTC before the scan")
                && n.contains("per-user calls")),
        "{:?}",
        collection.notes
    );
    for (i, r) in all.iter().enumerate() {
        assert!(r.num_calls() >= 1, "rule {i} unused");
    }
}

#[tokio::test]
async fn a_root_sign_in_that_failed_is_not_the_last_sign_in() {
    let ok = Event {
        time: t("2026-03-01 09:00:00"),
        name: "ConsoleLogin".into(),
        actor: "root".into(),
        actor_type: Some("Root".into()),
        login_outcome: Some("Success".into()),
        ..Event::default()
    };
    let failed = Event {
        time: t("2026-03-05 09:00:00"),
        login_outcome: Some("Failure".into()),
        ..ok.clone()
    };
    let user_login = Event {
        time: t("2026-03-06 09:00:00"),
        actor: "alice".into(),
        actor_type: Some("IAMUser".into()),
        ..ok.clone()
    };
    assert_eq!(
        cloudtrail::last_root_sign_in(&[ok.clone(), failed.clone(), user_login]),
        Some(t("2026-03-01 09:00:00"))
    );
    assert_eq!(cloudtrail::last_root_sign_in(&[failed]), None);
}

#[tokio::test]
async fn lookup_events_keep_what_cloudtrail_recorded_of_a_failed_call() {
    let denied = r#"{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/mallory","userName":"mallory"},"eventName":"DeactivateMFADevice","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.15.0","errorCode":"AccessDenied","errorMessage":"not authorized","responseElements":null}"#;
    let e = aws_sdk_cloudtrail::types::Event::builder()
        .event_id("e1")
        .event_name("DeactivateMFADevice")
        .event_time(sdk_time("2026-03-05 10:00:00"))
        .username("mallory")
        .cloud_trail_event(denied)
        .build();
    let page = mock!(aws_sdk_cloudtrail::Client::lookup_events).then_output(move || {
        aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput::builder()
            .events(e.clone())
            .build()
    });
    let ct = ct_client(&[&page]);
    let account = org::OrgAccount {
        id: "111111111111".into(),
        name: "Dev".into(),
        status: "ACTIVE".into(),
        ou_path: vec![],
        ou_ids: vec![],
        tags: std::collections::BTreeMap::default(),
        notes: vec![],
        ou_unknown: false,
    };
    let opts = ScanOptions {
        event_names: vec!["DeactivateMFADevice".into()],
        cloudtrail_rps: 1000.0,
        ..opts()
    };
    let events =
        cloudtrail::collect_events(&ct, &account, &opts, t("2026-03-01 00:00:00"), t(AS_OF))
            .await
            .expect("collected");
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert!(e.failed());
    assert_eq!(e.error_code.as_deref(), Some("AccessDenied"));
    assert_eq!(e.source_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(e.actor_type.as_deref(), Some("IAMUser"));
    assert_eq!(
        e.actor_arn.as_deref(),
        Some("arn:aws:iam::111111111111:user/mallory")
    );
}

#[test]
fn partitions_come_from_the_caller_arn() {
    assert_eq!(
        access::partition_of("arn:aws-us-gov:sts::123456789012:assumed-role/Audit/s").as_deref(),
        Some("aws-us-gov")
    );
    assert_eq!(
        access::partition_of("arn:aws-cn:iam::123456789012:user/a").as_deref(),
        Some("aws-cn")
    );
    assert_eq!(
        access::partition_of("arn:aws:iam::123456789012:root").as_deref(),
        Some("aws")
    );
    assert_eq!(access::partition_of("not-an-arn"), None);
    assert_eq!(access::iam_events_region("aws-us-gov"), "us-gov-west-1");
    assert_eq!(access::iam_events_region("aws-cn"), "cn-north-1");
    assert_eq!(access::iam_events_region("aws"), "us-east-1");
}

#[tokio::test]
async fn login_profile_access_denied_is_an_iam_error_naming_the_user() {
    use aws_sdk_iam::types::ReportStateType::Inprogress;
    let gaad = gaad_rule(
        None,
        vec![detail("carol", "AIDACAROL", "2025-03-01 00:00:00")],
        None,
    );
    let mfa = no_virtual_mfa();
    // Deadline 0: the first INPROGRESS ends the wait at once.
    let gen = generate(&[Inprogress]);
    let users = list_users(&[("carol", None)]);
    let keys = list_keys("carol", vec![]);
    let denied = mock!(aws_sdk_iam::Client::get_login_profile)
        .match_requests(|r| r.user_name() == Some("carol"))
        .sequence()
        .http_status(
            403,
            Some(iam_error(
                "AccessDenied",
                "User: audit is not authorized to perform: iam:GetLoginProfile on resource: user carol",
            )),
        )
        .build();
    let opts = ScanOptions {
        report_deadline: Duration::ZERO,
        ..opts()
    };
    let (result, _) = collect(&[&gaad, &mfa, &gen, &users, &keys, &denied], &opts).await;
    let err = result.expect_err("access denied");
    assert!(
        matches!(
            err,
            CollectError::Call {
                data_source: DataSource::Iam,
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(err.starts_with("GetLoginProfile carol: "), "{}", err);
    assert!(err.contains("AccessDenied"), "{}", err);
    assert_calls(&[("GetLoginProfile", &denied, 1)]);
}

// ---------------------------------------------------------------------------------------------
// IAM: throttling and retries

/// One user with one key, report path; ListAccessKeys answers with `list_keys_rule`.
async fn collect_with_list_keys(list_keys_rule: &Rule) -> iam::IamResult {
    use aws_sdk_iam::types::ReportStateType::Complete;
    let gaad = gaad_rule(
        None,
        vec![detail("alice", "AIDAALICE", "2025-01-01 00:00:00")],
        None,
    );
    let mfa = no_virtual_mfa();
    let gen = generate(&[Complete]);
    let get = get_report(report(&[ROOT_ROW, ALICE_ROW]), "2026-03-06 11:59:00");
    let (result, collection) = collect(&[&gaad, &mfa, &gen, &get, list_keys_rule], &opts()).await;
    if result.is_ok() {
        assert_eq!(collection.notes, Vec::<String>::new());
    }
    result
}

fn throttled() -> String {
    iam_error("Throttling", "Rate exceeded")
}

fn alice_key() -> aws_sdk_iam::types::AccessKeyMetadata {
    access_key("alice", "AKIAALICE1", "Active", "2025-06-01 08:00:00")
}

#[tokio::test]
async fn throttling_then_success_gives_the_same_result_as_no_throttling() {
    let plain = list_keys("alice", vec![alice_key()]);
    let calm = collect_with_list_keys(&plain).await.expect("no throttling");
    assert_eq!(calm.0.len(), 1);
    assert_eq!(calm.0[0].access_keys.len(), 1);
    assert_eq!(
        calm.0[0].access_keys[0].last_used_service.as_deref(),
        Some("s3")
    );

    let flaky = mock!(aws_sdk_iam::Client::list_access_keys)
        .match_requests(|r| r.user_name() == Some("alice"))
        .sequence()
        .http_status(400, Some(throttled()))
        .times(2)
        .output(|| list_keys_output(&[alice_key()]))
        .build();
    let stormy = collect_with_list_keys(&flaky).await.expect("retried");
    assert_eq!(stormy, calm);
    assert_calls(&[
        ("ListAccessKeys (no throttling)", &plain, 1),
        ("ListAccessKeys (throttled)", &flaky, 3),
    ]);
}

#[tokio::test]
async fn throttling_past_the_retry_budget_is_an_error_naming_the_operation() {
    let storm = mock!(aws_sdk_iam::Client::list_access_keys)
        .sequence()
        .http_status(400, Some(throttled()))
        .times(3)
        .build();
    let err = collect_with_list_keys(&storm)
        .await
        .expect_err("retries exhausted");
    assert!(
        matches!(
            err,
            CollectError::Call {
                data_source: DataSource::Iam,
                ..
            }
        ),
        "{err:?}"
    );
    let err = err.to_string();
    assert!(err.starts_with("ListAccessKeys alice: "), "{}", err);
    assert!(err.contains("Throttling"), "{}", err);
    assert_calls(&[("ListAccessKeys", &storm, 3)]);
}

// ---------------------------------------------------------------------------------------------
// IAM: key slots

#[tokio::test]
async fn keys_created_in_the_same_second_are_said_to_be_ambiguous() {
    use aws_sdk_iam::types::ReportStateType::Complete;
    let gaad = gaad_rule(
        None,
        vec![detail("dave", "AIDADAVE", "2025-01-01 00:00:00")],
        None,
    );
    let mfa = no_virtual_mfa();
    let gen = generate(&[Complete]);
    let dave = "dave,arn:aws:iam::111111111111:user/dave,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2025-01-02T03:04:05+00:00,2026-03-01T00:00:00+00:00,us-east-1,s3,true,2025-01-02T03:04:05+00:00,2026-03-02T00:00:00+00:00,eu-west-1,ec2,false,N/A,false,N/A";
    let get = get_report(report(&[dave]), "2026-03-06 11:59:00");
    let keys = list_keys(
        "dave",
        vec![
            // Same second, different sub-second parts (the report has seconds only).
            access_key("dave", "AKIADAVE2", "Active", "2025-01-02 03:04:05.700"),
            access_key("dave", "AKIADAVE1", "Active", "2025-01-02 03:04:05.200"),
        ],
    );
    let (result, collection) = collect(&[&gaad, &mfa, &gen, &get, &keys], &opts()).await;
    let (users, _) = result.expect("collected");
    assert_eq!(
        collection.notes,
        vec![
            "dave: access keys created in the same second (2025-01-02 03:04:05); their last-use data may be swapped"
                .to_string()
        ]
    );
    assert_eq!(users.len(), 1);
    let keys: Vec<(&str, Option<&str>)> = users[0]
        .access_keys
        .iter()
        .map(|k| (k.id.as_str(), k.last_used_service.as_deref()))
        .collect();
    // Both keys are kept, each with one slot (which one cannot be told).
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].0, "AKIADAVE1");
    assert_eq!(keys[1].0, "AKIADAVE2");
    let mut services: Vec<_> = keys.iter().filter_map(|k| k.1).collect();
    services.sort_unstable();
    assert_eq!(services, ["ec2", "s3"]);
}

// ---------------------------------------------------------------------------------------------
// Organizations

fn org_account(id: &str, name: &str) -> aws_sdk_organizations::types::Account {
    aws_sdk_organizations::types::Account::builder()
        .id(id)
        .name(name)
        .status(aws_sdk_organizations::types::AccountStatus::Active)
        .build()
}

fn describe_org() -> Rule {
    mock!(aws_sdk_organizations::Client::describe_organization).then_output(|| {
        aws_sdk_organizations::operation::describe_organization::DescribeOrganizationOutput::builder()
            .organization(
                aws_sdk_organizations::types::Organization::builder()
                    .id("o-abc123")
                    .master_account_id("111111111111")
                    .build(),
            )
            .build()
    })
}

fn accounts_page(
    expect: Option<&'static str>,
    accounts: Vec<aws_sdk_organizations::types::Account>,
    next: Option<&'static str>,
) -> Rule {
    mock!(aws_sdk_organizations::Client::list_accounts)
        .match_requests(move |r| r.next_token() == expect)
        .then_output(move || {
            aws_sdk_organizations::operation::list_accounts::ListAccountsOutput::builder()
                .set_accounts(Some(accounts.clone()))
                .set_next_token(next.map(str::to_string))
                .build()
        })
}

fn parent(
    child: &'static str,
    id: &'static str,
    kind: aws_sdk_organizations::types::ParentType,
) -> Rule {
    mock!(aws_sdk_organizations::Client::list_parents)
        .match_requests(move |r| r.child_id() == Some(child))
        .then_output(move || {
            aws_sdk_organizations::operation::list_parents::ListParentsOutput::builder()
                .parents(
                    aws_sdk_organizations::types::Parent::builder()
                        .id(id)
                        .r#type(kind.clone())
                        .build(),
                )
                .build()
        })
}

fn describe_ou(id: &'static str, name: &'static str) -> Rule {
    mock!(aws_sdk_organizations::Client::describe_organizational_unit)
        .match_requests(move |r| r.organizational_unit_id() == Some(id))
        .then_output(move || {
            aws_sdk_organizations::operation::describe_organizational_unit::DescribeOrganizationalUnitOutput::builder()
                .organizational_unit(
                    aws_sdk_organizations::types::OrganizationalUnit::builder()
                        .id(id)
                        .name(name)
                        .build(),
                )
                .build()
        })
}

fn tags(
    account: &'static str,
    expect: Option<&'static str>,
    tags: &[(&'static str, &'static str)],
    next: Option<&'static str>,
) -> Rule {
    let tags: Vec<_> = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_organizations::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .expect("complete test data")
        })
        .collect();
    mock!(aws_sdk_organizations::Client::list_tags_for_resource)
        .match_requests(move |r| r.resource_id() == Some(account) && r.next_token() == expect)
        .then_output(move || {
            aws_sdk_organizations::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .set_tags(Some(tags.clone()))
                .set_next_token(next.map(str::to_string))
                .build()
        })
}

#[tokio::test]
async fn list_accounts_pages_with_an_empty_page_reach_the_null_token() {
    use aws_sdk_organizations::types::ParentType::{OrganizationalUnit, Root};
    let rules = vec![
        describe_org(),
        accounts_page(
            None,
            vec![
                org_account("333333333333", "prod"),
                org_account("111111111111", "management"),
            ],
            Some("t1"),
        ),
        // An empty page with a token: the listing goes on.
        accounts_page(Some("t1"), vec![], Some("t2")),
        accounts_page(
            Some("t2"),
            vec![org_account("222222222222", "staging")],
            None,
        ),
        // OU walk: two accounts under the same OU, placed concurrently.
        parent("333333333333", "ou-root-prod", OrganizationalUnit),
        parent("222222222222", "ou-root-prod", OrganizationalUnit),
        parent("111111111111", "r-root", Root),
        parent("ou-root-prod", "r-root", Root),
        describe_ou("ou-root-prod", "Prod"),
        tags("333333333333", None, &[("env", "prod")], Some("tt1")),
        tags("333333333333", Some("tt1"), &[("owner", "ops")], None),
        tags("111111111111", None, &[], None),
        tags("222222222222", None, &[("env", "staging")], None),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let org = org::discover(&org_client(&refs), 4)
        .await
        .expect("discovered");

    assert_eq!(org.id.as_deref(), Some("o-abc123"));
    assert_eq!(org.management_account, "111111111111");
    // Per account: id, name, status, OU path, OU ids, tags, notes.
    type Placed<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Vec<&'a str>,
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        &'a [String],
    );
    let placed: Vec<Placed> = org
        .accounts
        .iter()
        .map(|a| {
            (
                a.id.as_str(),
                a.name.as_str(),
                a.status.as_str(),
                a.ou_path.iter().map(String::as_str).collect(),
                a.ou_ids.iter().map(String::as_str).collect(),
                a.tags
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
                a.notes.as_slice(),
            )
        })
        .collect();
    let none: &[String] = &[];
    assert_eq!(
        placed,
        [
            (
                "111111111111",
                "management",
                "ACTIVE",
                vec!["Root"],
                vec!["r-root"],
                vec![],
                none
            ),
            (
                "222222222222",
                "staging",
                "ACTIVE",
                vec!["Root", "Prod"],
                vec!["r-root", "ou-root-prod"],
                vec![("env", "staging")],
                none
            ),
            (
                "333333333333",
                "prod",
                "ACTIVE",
                vec!["Root", "Prod"],
                vec!["r-root", "ou-root-prod"],
                vec![("env", "prod"), ("owner", "ops")],
                none
            ),
        ]
    );
    // Every rule once, but ListParents of the OU (once per account under it); the OU's name
    // is asked once.
    let calls: Vec<usize> = rules.iter().map(Rule::num_calls).collect();
    assert_eq!(calls, [1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1, 1]);
}

#[tokio::test]
async fn list_accounts_stops_at_an_empty_string_token() {
    use aws_sdk_organizations::types::ParentType::Root;
    let rules = [
        describe_org(),
        accounts_page(
            None,
            vec![org_account("111111111111", "management")],
            Some("t1"),
        ),
        // The empty-string token ends the listing: no third ListAccounts call.
        accounts_page(
            Some("t1"),
            vec![org_account("222222222222", "staging")],
            Some(""),
        ),
        parent("111111111111", "r-root", Root),
        tags("111111111111", None, &[], None),
        parent("222222222222", "r-root", Root),
        tags("222222222222", None, &[], None),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let org = org::discover(&org_client(&refs), 1)
        .await
        .expect("discovered");
    let ids: Vec<&str> = org.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["111111111111", "222222222222"]);
    for (i, r) in rules.iter().enumerate() {
        assert_eq!(r.num_calls(), 1, "rule {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// CloudTrail

fn ct_event(
    name: &str,
    user: &str,
    time: &str,
    resource: &str,
) -> aws_sdk_cloudtrail::types::Event {
    aws_sdk_cloudtrail::types::Event::builder()
        .event_id(format!("{name}-{user}-{time}"))
        .event_name(name)
        .username(user)
        .event_time(sdk_time(time))
        .resources(
            aws_sdk_cloudtrail::types::Resource::builder()
                .resource_type("AWS::IAM::User")
                .resource_name(resource)
                .build(),
        )
        .build()
}

fn lookup(
    name: &'static str,
    expect: Option<&'static str>,
    events: Vec<aws_sdk_cloudtrail::types::Event>,
    next: Option<&'static str>,
) -> Rule {
    mock!(aws_sdk_cloudtrail::Client::lookup_events)
        .match_requests(move |r| {
            r.next_token() == expect
                && r.lookup_attributes()
                    .iter()
                    .map(aws_sdk_cloudtrail::types::LookupAttribute::attribute_value)
                    .eq([name])
        })
        .then_output(move || {
            aws_sdk_cloudtrail::operation::lookup_events::LookupEventsOutput::builder()
                .set_events(Some(events.clone()))
                .set_next_token(next.map(str::to_string))
                .build()
        })
}

fn event(name: &str, actor: &str, time: &str, resource: &str) -> Event {
    Event {
        time: t(time),
        name: name.into(),
        actor: actor.into(),
        account_id: "111111111111".into(),
        account_name: "management".into(),
        resources: vec![resource.into()],
        ..Default::default()
    }
}

/// The account whose events the CloudTrail tests read.
fn management() -> OrgAccount {
    OrgAccount {
        id: "111111111111".into(),
        name: "management".into(),
        status: "ACTIVE".into(),
        ou_path: vec![],
        ou_ids: vec![],
        tags: std::collections::BTreeMap::default(),
        notes: vec![],
        ou_unknown: false,
    }
}

#[tokio::test]
async fn lookup_events_pages_give_every_event_once() {
    let rules = [
        lookup(
            "CreateUser",
            None,
            vec![
                ct_event("CreateUser", "admin", "2026-03-05 10:00:00", "u1"),
                ct_event("CreateUser", "admin", "2026-03-04 10:00:00", "u2"),
            ],
            Some("a1"),
        ),
        // An empty page with a token: the lookup goes on.
        lookup("CreateUser", Some("a1"), vec![], Some("a2")),
        lookup(
            "CreateUser",
            Some("a2"),
            vec![ct_event("CreateUser", "ops", "2026-03-01 10:00:00", "u3")],
            // An empty-string token ends the lookup.
            Some(""),
        ),
        lookup(
            "DeleteUser",
            None,
            vec![ct_event("DeleteUser", "ops", "2026-03-02 10:00:00", "u0")],
            None,
        ),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let ct = ct_client(&refs);
    let account = management();
    let opts = ScanOptions {
        event_names: vec!["CreateUser".into(), "DeleteUser".into()],
        ..opts()
    };
    let events =
        cloudtrail::collect_events(&ct, &account, &opts, t("2025-12-06 12:00:00"), t(AS_OF))
            .await
            .expect("events");
    assert_eq!(
        events,
        vec![
            event("CreateUser", "admin", "2026-03-05 10:00:00", "u1"),
            event("CreateUser", "admin", "2026-03-04 10:00:00", "u2"),
            event("CreateUser", "ops", "2026-03-01 10:00:00", "u3"),
            event("DeleteUser", "ops", "2026-03-02 10:00:00", "u0"),
        ]
    );
    for (i, r) in rules.iter().enumerate() {
        assert_eq!(r.num_calls(), 1, "rule {i}");
    }
}

#[tokio::test]
async fn lookup_events_stops_on_a_repeated_token() {
    let rules = [
        lookup("CreateUser", None, vec![], Some("t1")),
        // The service hands back the token it was given: following it would never end.
        lookup("CreateUser", Some("t1"), vec![], Some("t1")),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let ct = ct_client(&refs);
    let account = management();
    let opts = ScanOptions {
        event_names: vec!["CreateUser".into()],
        ..opts()
    };
    let err = cloudtrail::collect_events(&ct, &account, &opts, t("2025-12-06 12:00:00"), t(AS_OF))
        .await
        .expect_err("a repeated token is an error");
    assert_eq!(err.data_source(), DataSource::Cloudtrail);
    assert_eq!(
        err.to_string(),
        "LookupEvents CreateUser: the service answered a page token it had answered before (t1): stopped, the listing is incomplete"
    );
    for (i, r) in rules.iter().enumerate() {
        assert_eq!(r.num_calls(), 1, "rule {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// Page tokens that come back: never a complete listing, never a loop

#[tokio::test]
async fn authorization_details_answering_the_marker_it_was_given_is_an_error_not_an_end() {
    // The SDK's paginator ends quietly here, taking the first page for every user.
    let pages = [
        gaad_rule(
            None,
            vec![detail("u1", "AIDAU1", "2025-01-01 00:00:00")],
            Some("m1"),
        ),
        gaad_rule(Some("m1"), vec![], Some("m1")),
    ];
    let refs: Vec<&Rule> = pages.iter().collect();
    let (result, _) = collect(&refs, &opts()).await;
    let err = result.expect_err("a marker answered twice is an error");
    assert_eq!(err.data_source(), DataSource::Iam);
    assert_eq!(
        err.to_string(),
        "GetAccountAuthorizationDetails: the service answered a page token it had answered before (m1): stopped, the listing is incomplete"
    );
}

#[tokio::test]
async fn a_cycle_of_page_tokens_is_an_error_not_a_loop() {
    // m1 → m2 → m1: the SDK's paginator would follow it for ever.
    let pages = [
        gaad_rule(None, vec![], Some("m1")),
        gaad_rule(Some("m1"), vec![], Some("m2")),
        gaad_rule(Some("m2"), vec![], Some("m1")),
    ];
    let refs: Vec<&Rule> = pages.iter().collect();
    let (result, _) = tokio::time::timeout(Duration::from_secs(20), collect(&refs, &opts()))
        .await
        .expect("ends");
    let err = result.expect_err("a cycle is an error");
    assert!(err.to_string().contains("(m1)"), "{err}");
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p.num_calls(), 1, "page {i}");
    }
}

#[tokio::test]
async fn lookup_events_stops_on_a_cycle_of_tokens() {
    let rules = [
        lookup("CreateUser", None, vec![], Some("t1")),
        lookup("CreateUser", Some("t1"), vec![], Some("t2")),
        lookup("CreateUser", Some("t2"), vec![], Some("t1")),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let ct = ct_client(&refs);
    let account = management();
    let opts = ScanOptions {
        event_names: vec!["CreateUser".into()],
        ..opts()
    };
    let err = cloudtrail::collect_events(&ct, &account, &opts, t("2025-12-06 12:00:00"), t(AS_OF))
        .await
        .expect_err("a cycle is an error");
    assert_eq!(err.data_source(), DataSource::Cloudtrail);
    assert!(err.to_string().contains("(t1)"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Discovery: one account that cannot be placed is that account's note

#[tokio::test]
async fn an_account_whose_parents_cannot_be_read_is_noted_and_the_others_placed() {
    use aws_sdk_organizations::types::ParentType::Root;
    let denied = mock!(aws_sdk_organizations::Client::list_parents)
        .match_requests(|r| r.child_id() == Some("222222222222"))
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"AccessDeniedException","Message":"You don't have permissions to access this resource."}"#
                    .to_string(),
            ),
        )
        .build();
    let rules = [
        describe_org(),
        accounts_page(
            None,
            vec![
                org_account("111111111111", "management"),
                org_account("222222222222", "staging"),
            ],
            None,
        ),
        parent("111111111111", "r-root", Root),
        tags("111111111111", None, &[("env", "prod")], None),
        denied,
        tags("222222222222", None, &[("env", "staging")], None),
    ];
    let refs: Vec<&Rule> = rules.iter().collect();
    let org = org::discover(&org_client(&refs), 2)
        .await
        .expect("discovery goes on past one account");
    let ids: Vec<&str> = org.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["111111111111", "222222222222"]);
    assert_eq!(org.accounts[0].ou_path, ["Root"]);
    assert!(org.accounts[0].notes.is_empty());
    let staging = &org.accounts[1];
    assert!(staging.ou_path.is_empty());
    assert!(staging.ou_unknown);
    assert_eq!(staging.tags.get("env").map(String::as_str), Some("staging"));
    assert_eq!(staging.notes.len(), 1, "{:?}", staging.notes);
    assert!(
        staging.notes[0].contains("OU path could not be read")
            && staging.notes[0].contains("AccessDenied"),
        "{:?}",
        staging.notes
    );
}
