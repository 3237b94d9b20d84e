//! The AWS side of `scan`: the only code that touches the AWS SDK. Discovers the accounts of
//! the Organization, assumes the audit role in each member account, collects IAM users, keys,
//! MFA devices and root credentials (credential report first, per-user calls as a fallback)
//! and CloudTrail events, and builds the [`Inventory`]. A failed account never stops the
//! others: it is recorded in the account's collection status.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::collect::credential_report::{self, ListedKey};
use crate::inventory::{
    Account, Collection, CollectionError, CollectionStatus, DataSource, Event, Inventory,
    KeyStatus, MfaDevice, MfaType, Password, SourceKind, User,
};

/// The events collected by default (the seed's five, plus the two the red flags and the root
/// report need).
pub const DEFAULT_EVENTS: [&str; 7] = [
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "DeleteLoginProfile",
    "DeactivateMFADevice",
    "ConsoleLogin",
];

/// What to scan and how.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub role_name: String,
    pub external_id: Option<String>,
    pub session_name: String,
    /// Only these account ids (empty: all).
    pub accounts: BTreeSet<String>,
    pub exclude_accounts: BTreeSet<String>,
    /// Only accounts under an OU with this id or name (anywhere in the path).
    pub ou: Option<String>,
    pub concurrency: usize,
    pub cloudtrail_days: u32,
    pub event_names: Vec<String>,
    /// Deadline for one account.
    pub account_deadline: Duration,
    /// How long to wait for a credential report.
    pub report_deadline: Duration,
    /// Client-side limit of CloudTrail LookupEvents requests per second per account.
    pub cloudtrail_rps: f64,
    /// Timeout of one attempt of an AWS call; a call with its retries may take six times
    /// as long.
    pub call_timeout: Duration,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            profile: None,
            endpoint_url: None,
            role_name: "OrganizationAccountAccessRole".into(),
            external_id: None,
            session_name: "iam-audit".into(),
            accounts: BTreeSet::new(),
            exclude_accounts: BTreeSet::new(),
            ou: None,
            concurrency: 8,
            cloudtrail_days: 90,
            event_names: DEFAULT_EVENTS.iter().map(|s| s.to_string()).collect(),
            account_deadline: Duration::from_secs(900),
            report_deadline: Duration::from_secs(120),
            cloudtrail_rps: 2.0,
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// Why a scan could not start (per-account failures are not errors: they are in the inventory).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(
        "no AWS credentials: {0}\nhint: configure credentials as for the AWS CLI (AWS_PROFILE or --profile, \
         `aws sso login`, environment variables, or an instance role); to try iam-audit without AWS, run \
         `iam-audit evaluate examples/inventory_20260306_120000.json --config examples/iam-audit.yaml`"
    )]
    NoCredentials(String),
    #[error("cannot discover the Organization's accounts: {0}")]
    Discovery(String),
}

fn chrono_time(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// The full message of an SDK error (code and message; never credentials).
fn describe<E: std::error::Error>(e: &E) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Loads the AWS configuration the way the AWS CLI does (profile, environment, SSO, instance
/// role), with adaptive retries for throttling and timeouts per call.
pub async fn load_config(opts: &ScanOptions) -> Result<SdkConfig, ScanError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .retry_config(RetryConfig::adaptive().with_max_attempts(10))
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(opts.call_timeout)
                .operation_timeout(opts.call_timeout * 6)
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    match config.credentials_provider() {
        None => Err(ScanError::NoCredentials("no credential provider".into())),
        Some(p) => match p.provide_credentials().await {
            Ok(_) => Ok(config),
            Err(e) => Err(ScanError::NoCredentials(describe(&e))),
        },
    }
}

/// An account of the Organization, before collection.
#[derive(Clone, Debug)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    pub status: String,
    pub ou_path: Vec<String>,
    pub ou_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// What discovery could not read about the account.
    pub notes: Vec<String>,
}

/// The Organization: its id, the management account and every account.
pub struct Org {
    pub id: Option<String>,
    pub management_account: String,
    pub accounts: Vec<OrgAccount>,
}

/// Lists the accounts (paginated to a null token; empty pages are fine), their OU paths and
/// tags.
pub async fn discover(
    org: &aws_sdk_organizations::Client,
    concurrency: usize,
) -> Result<Org, ScanError> {
    let err = |e: String| ScanError::Discovery(e);
    let described = org
        .describe_organization()
        .send()
        .await
        .map_err(|e| err(describe(&e)))?;
    let (id, management) = described
        .organization()
        .map(|o| {
            (
                o.id().map(str::to_string),
                o.master_account_id().unwrap_or_default().to_string(),
            )
        })
        .unwrap_or_default();
    let mut accounts = Vec::new();
    let mut pages = org.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| err(describe(&e)))?;
        for a in page.accounts() {
            accounts.push(OrgAccount {
                id: a.id().unwrap_or_default().to_string(),
                name: a.name().unwrap_or_default().to_string(),
                status: a
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                ou_path: Vec::new(),
                ou_ids: Vec::new(),
                tags: BTreeMap::new(),
                notes: Vec::new(),
            });
        }
    }
    // OU paths and tags, `concurrency` accounts at a time; each OU's name is asked once.
    let ou_names: Arc<std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>> =
        Arc::default();
    let limit = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, account) in accounts.iter().enumerate() {
        let (org, ou_names, limit, id) = (
            org.clone(),
            ou_names.clone(),
            limit.clone(),
            account.id.clone(),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            (index, place_account(&org, &ou_names, &id).await)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let (index, placed) = done.map_err(|e| err(format!("discovery task failed: {e}")))?;
        let (path, ids, tags, notes) = placed?;
        let account = &mut accounts[index];
        account.ou_path = path;
        account.ou_ids = ids;
        account.tags = tags;
        account.notes = notes;
    }
    accounts.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Org {
        id,
        management_account: management,
        accounts,
    })
}

type OuNames = std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<String>>>>;

/// An account's OU path (names, ids), tags, and notes on what could not be read.
type Placed = (
    Vec<String>,
    Vec<String>,
    BTreeMap<String, String>,
    Vec<String>,
);

/// An account's OU path (names and ids, root first) and tags.
async fn place_account(
    org: &aws_sdk_organizations::Client,
    ou_names: &OuNames,
    account: &str,
) -> Result<Placed, ScanError> {
    use aws_sdk_organizations::types::ParentType;
    let err = |e: String| ScanError::Discovery(e);
    let mut child = account.to_string();
    let mut path = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..8 {
        let parents = org
            .list_parents()
            .child_id(&child)
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        let Some(parent) = parents.parents().first() else {
            break;
        };
        let pid = parent.id().unwrap_or_default().to_string();
        if parent.r#type() == Some(&ParentType::Root) {
            path.push("Root".to_string());
            ids.push(pid);
            break;
        }
        let cell = ou_names
            .lock()
            .map_err(|_| err("OU name cache poisoned".into()))?
            .entry(pid.clone())
            .or_default()
            .clone();
        let name = cell
            .get_or_try_init(|| async {
                let ou = org
                    .describe_organizational_unit()
                    .organizational_unit_id(&pid)
                    .send()
                    .await
                    .map_err(|e| err(describe(&e)))?;
                Ok::<_, ScanError>(
                    ou.organizational_unit()
                        .and_then(|o| o.name())
                        .unwrap_or(&pid)
                        .to_string(),
                )
            })
            .await?
            .clone();
        path.push(name);
        ids.push(pid.clone());
        child = pid;
    }
    path.reverse();
    ids.reverse();
    let mut tags = BTreeMap::new();
    let mut pages = org
        .list_tags_for_resource()
        .resource_id(account)
        .into_paginator()
        .send();
    let mut notes = Vec::new();
    while let Some(page) = pages.next().await {
        // An account whose tags cannot be read is still audited, but the gap is said: a
        // production tag may be missing from the classification.
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                notes.push(format!(
                    "the account's tags could not be read (ListTagsForResource: {}); tag-based classification may miss it",
                    describe(&e)
                ));
                break;
            }
        };
        for t in page.tags() {
            tags.insert(t.key().to_string(), t.value().to_string());
        }
    }
    Ok((path, ids, tags, notes))
}

/// Credentials for a member account through the audit role.
async fn assume(
    config: &SdkConfig,
    account: &str,
    opts: &ScanOptions,
) -> Result<SdkConfig, String> {
    let sts = aws_sdk_sts::Client::new(config);
    let arn = format!("arn:aws:iam::{account}:role/{}", opts.role_name);
    let out = sts
        .assume_role()
        .role_arn(&arn)
        .role_session_name(&opts.session_name)
        .set_external_id(opts.external_id.clone())
        .duration_seconds(3600)
        .send()
        .await
        .map_err(|e| format!("cannot assume {arn}: {}", describe(&e)))?;
    let c = out
        .credentials()
        .ok_or_else(|| format!("cannot assume {arn}: no credentials in the answer"))?;
    let expiry = std::time::SystemTime::try_from(*c.expiration()).ok();
    let creds = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        expiry,
        "iam-audit-assume-role",
    );
    Ok(config
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(creds))
        .build())
}

/// What one account's collection produced.
struct Collected {
    users: Vec<User>,
    root: Option<crate::inventory::RootCredentials>,
    events: Vec<Event>,
    collection: Collection,
}

/// Collects IAM and CloudTrail data of one account.
async fn collect_account(
    config: &SdkConfig,
    account: &OrgAccount,
    opts: &ScanOptions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Collected {
    let mut collection = Collection::default();
    let fail = |c: &mut Collection, source: DataSource, message: String| {
        c.errors.push(CollectionError { source, message });
    };
    // IAM and CloudTrail are independent: their calls overlap (CloudTrail mostly waits on
    // its rate limit).
    // Throttling is per account in AWS: each account gets its own retry quota and adaptive
    // rate limiter, so one throttled account does not slow or starve the others.
    let iam = aws_sdk_iam::Client::from_conf(
        aws_sdk_iam::config::Builder::from(config)
            .retry_partition(aws_sdk_iam::config::retry::RetryPartition::new(format!(
                "iam-{}",
                account.id
            )))
            .build(),
    );
    let ct = aws_sdk_cloudtrail::Client::from_conf(
        aws_sdk_cloudtrail::config::Builder::from(config)
            .retry_partition(aws_sdk_cloudtrail::config::retry::RetryPartition::new(
                format!("cloudtrail-{}", account.id),
            ))
            .build(),
    );
    let (iam_result, events_result) = tokio::join!(
        collect_iam(&iam, opts, until, &mut collection),
        collect_events(&ct, account, opts, since, until)
    );
    let (users, root) = match iam_result {
        Ok(x) => x,
        Err((source, message)) => {
            fail(&mut collection, source, message);
            (Vec::new(), None)
        }
    };
    let events = match events_result {
        Ok(e) => e,
        Err(message) => {
            fail(&mut collection, DataSource::Cloudtrail, message);
            Vec::new()
        }
    };
    collection.status = if collection.errors.is_empty() {
        CollectionStatus::Complete
    } else if collection
        .errors
        .iter()
        .any(|e| e.source == DataSource::Iam)
    {
        CollectionStatus::Failed
    } else {
        CollectionStatus::Partial
    };
    Collected {
        users,
        root,
        events,
        collection,
    }
}

pub(crate) type IamResult =
    Result<(Vec<User>, Option<crate::inventory::RootCredentials>), (DataSource, String)>;

/// IAM: credential report + GetAccountAuthorizationDetails + ListAccessKeys for users with
/// keys + MFA devices; per-user calls when the report cannot be had.
pub(crate) async fn collect_iam(
    iam: &aws_sdk_iam::Client,
    opts: &ScanOptions,
    as_of: DateTime<Utc>,
    collection: &mut Collection,
) -> IamResult {
    use aws_sdk_iam::types::EntityType;
    let iam_err = |e: String| (DataSource::Iam, e);
    // Ask for the credential report first: IAM builds it while the users are listed. (A
    // refusal here is met again, and handled, when the report is polled.)
    let _ = iam.generate_credential_report().send().await;

    // Users with ids, ARNs, tags and creation dates, in one paginated call.
    let mut details = Vec::new();
    let mut pages = iam
        .get_account_authorization_details()
        .filter(EntityType::User)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| iam_err(format!("GetAccountAuthorizationDetails: {}", describe(&e))))?;
        details.extend(page.user_detail_list().iter().cloned());
    }

    // Virtual MFA devices: everything else a user has is hardware or FIDO.
    let mut virtual_serials = BTreeSet::new();
    let mut root_has_virtual = false;
    let mut pages = iam.list_virtual_mfa_devices().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| iam_err(format!("ListVirtualMFADevices: {}", describe(&e))))?;
        for d in page.virtual_mfa_devices() {
            virtual_serials.insert(d.serial_number().to_string());
            // The root user's virtual device is listed with the root ARN as its user.
            root_has_virtual |= d.user().is_some_and(|u| u.arn().ends_with(":root"));
        }
    }

    let report = match credential_report(iam, opts).await {
        Ok((rows, generated)) => {
            collection.credential_report_generated_at = generated;
            if let Some(g) = generated.filter(|g| as_of - *g > chrono::Duration::hours(4)) {
                let note = format!(
                    "the credential report was generated at {} UTC, more than 4 hours before the scan: last-use times may be stale",
                    g.format("%Y-%m-%d %H:%M:%S")
                );
                tracing::warn!("{note}");
                collection.notes.push(note);
            }
            Some(rows)
        }
        Err(e) => {
            collection.notes.push(format!(
                "credential report unavailable ({e}); collected with per-user calls instead"
            ));
            None
        }
    };
    let by_name: HashMap<&str, &credential_report::ReportRow> = report
        .iter()
        .flatten()
        .map(|r| (r.user.as_str(), r))
        .collect();
    let root = report.iter().flatten().find(|r| r.is_root()).map(|r| {
        let mut root = r.root_credentials();
        // MFA on and no virtual device for root: it is a hardware or FIDO device.
        if root.mfa_enabled {
            root.hardware_mfa = Some(!root_has_virtual);
        }
        root
    });
    // Without the report, ListUsers gives every password's last use (a call per 100 users).
    let mut password_used: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();
    if report.is_none() {
        let mut pages = iam.list_users().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| iam_err(format!("ListUsers: {}", describe(&e))))?;
            for u in page.users() {
                password_used.insert(
                    u.user_name().to_string(),
                    u.password_last_used().and_then(chrono_time),
                );
            }
        }
    }

    let mut users = Vec::new();
    for d in &details {
        let name = d.user_name().unwrap_or_default().to_string();
        let row = by_name.get(name.as_str()).copied();
        let mut user = User {
            id: d.user_id().map(str::to_string),
            arn: d.arn().map(str::to_string),
            created: d.create_date().and_then(chrono_time),
            tags: d
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect(),
            ..User::named(name.clone())
        };
        // Keys: only users the report says have keys need ListAccessKeys (all without report).
        let may_have_keys =
            row.is_none_or(|r| r.keys.iter().any(|k| k.active || k.last_rotated.is_some()));
        let mut listed = Vec::new();
        if may_have_keys {
            let out = iam
                .list_access_keys()
                .user_name(&name)
                .send()
                .await
                .map_err(|e| iam_err(format!("ListAccessKeys {name}: {}", describe(&e))))?;
            for k in out.access_key_metadata() {
                let status = match k.status().map(|s| s.as_str()) {
                    Some("Active") => KeyStatus::Active,
                    Some("Expired") => KeyStatus::Expired,
                    _ => KeyStatus::Inactive,
                };
                if let (Some(id), Some(created)) =
                    (k.access_key_id(), k.create_date().and_then(chrono_time))
                {
                    listed.push(ListedKey {
                        id: id.to_string(),
                        status,
                        created,
                    });
                }
            }
        }
        match row {
            Some(r) => {
                user.password = Password {
                    enabled: r.password_enabled,
                    last_used: r.password_last_used.filter(|_| r.password_enabled),
                    last_changed: r.password_last_changed.filter(|_| r.password_enabled),
                };
                let m = credential_report::match_keys(&name, r, &listed);
                user.access_keys = m.keys;
                collection.notes.extend(m.notes);
            }
            None => {
                let used = password_used.get(&name).copied().flatten();
                user.password = per_user_password(iam, &name, used).await.map_err(iam_err)?;
                for k in listed {
                    let used = iam
                        .get_access_key_last_used()
                        .access_key_id(&k.id)
                        .send()
                        .await
                        .map_err(|e| {
                            iam_err(format!("GetAccessKeyLastUsed {}: {}", k.id, describe(&e)))
                        })?;
                    let last = used.access_key_last_used();
                    user.access_keys.push(crate::inventory::AccessKey {
                        id: k.id,
                        status: k.status,
                        created: k.created,
                        last_used: last.and_then(|l| l.last_used_date()).and_then(chrono_time),
                        last_used_service: last
                            .map(|l| l.service_name())
                            .filter(|s| !s.is_empty() && *s != "N/A")
                            .map(str::to_string),
                        last_used_region: last
                            .map(|l| l.region())
                            .filter(|s| !s.is_empty() && *s != "N/A")
                            .map(str::to_string),
                    });
                }
            }
        }
        // MFA devices: only users the report says have MFA (all without report).
        if row.is_none_or(|r| r.mfa_active) {
            let out = iam
                .list_mfa_devices()
                .user_name(&name)
                .send()
                .await
                .map_err(|e| iam_err(format!("ListMFADevices {name}: {}", describe(&e))))?;
            for d in out.mfa_devices() {
                let serial = d.serial_number().to_string();
                let kind = if virtual_serials.contains(&serial) {
                    MfaType::Virtual
                } else if serial.contains(":u2f/") {
                    MfaType::Fido
                } else {
                    MfaType::Hardware
                };
                user.mfa_devices.push(MfaDevice {
                    serial: Some(serial),
                    kind,
                    enabled_at: chrono_time(d.enable_date()),
                });
            }
        }
        users.push(user);
    }
    Ok((users, root))
}

async fn per_user_password(
    iam: &aws_sdk_iam::Client,
    name: &str,
    last_used: Option<DateTime<Utc>>,
) -> Result<Password, String> {
    use aws_sdk_iam::operation::get_login_profile::GetLoginProfileError;
    match iam.get_login_profile().user_name(name).send().await {
        Ok(out) => Ok(Password {
            enabled: true,
            last_used,
            last_changed: out
                .login_profile()
                .and_then(|p| chrono_time(p.create_date())),
        }),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetLoginProfileError::NoSuchEntityException(_))
            ) =>
        {
            Ok(Password::default())
        }
        Err(e) => Err(format!("GetLoginProfile {name}: {}", describe(&e))),
    }
}

/// Generates the credential report and polls for it with backoff until the deadline.
async fn credential_report(
    iam: &aws_sdk_iam::Client,
    opts: &ScanOptions,
) -> Result<(Vec<credential_report::ReportRow>, Option<DateTime<Utc>>), String> {
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        let generated = iam
            .generate_credential_report()
            .send()
            .await
            .map_err(|e| format!("GenerateCredentialReport: {}", describe(&e)))?;
        let complete = generated.state().map(|s| s.as_str()) == Some("COMPLETE");
        if complete {
            match iam.get_credential_report().send().await {
                Ok(out) => {
                    let content = out
                        .content()
                        .map(|b| b.as_ref().to_vec())
                        .unwrap_or_default();
                    let text = String::from_utf8(content)
                        .map_err(|e| format!("credential report is not UTF-8: {e}"))?;
                    let rows = credential_report::parse(&text)?;
                    return Ok((rows, out.generated_time().and_then(chrono_time)));
                }
                Err(e) => {
                    let text = describe(&e);
                    if !text.contains("NotReady") && !text.contains("NotPresent") {
                        return Err(format!("GetCredentialReport: {text}"));
                    }
                }
            }
        }
        if started.elapsed() + wait > opts.report_deadline {
            return Err(format!(
                "the credential report was not ready within {:.1} s",
                opts.report_deadline.as_secs_f64()
            ));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}

/// CloudTrail LookupEvents in us-east-1, one event name per call, paginated to the end, at
/// most `cloudtrail_rps` requests per second.
pub(crate) async fn collect_events(
    ct: &aws_sdk_cloudtrail::Client,
    account: &OrgAccount,
    opts: &ScanOptions,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<Event>, String> {
    use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
    let interval = Duration::from_secs_f64(1.0 / opts.cloudtrail_rps.max(0.01));
    let mut next_slot = tokio::time::Instant::now();
    let mut events = Vec::new();
    for name in &opts.event_names {
        let attribute = LookupAttribute::builder()
            .attribute_key(LookupAttributeKey::EventName)
            .attribute_value(name)
            .build()
            .map_err(|e| e.to_string())?;
        let mut token: Option<String> = None;
        loop {
            tokio::time::sleep_until(next_slot).await;
            next_slot = tokio::time::Instant::now() + interval;
            let out = ct
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(aws_smithy_types::DateTime::from_secs(since.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(until.timestamp()))
                .max_results(50)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| format!("LookupEvents {name}: {}", describe(&e)))?;
            for e in out.events() {
                let Some(time) = e.event_time().and_then(chrono_time) else {
                    continue;
                };
                events.push(Event {
                    time,
                    name: e.event_name().unwrap_or(name).to_string(),
                    actor: e.username().unwrap_or("N/A").to_string(),
                    account_id: account.id.clone(),
                    account_name: account.name.clone(),
                    resources: e
                        .resources()
                        .iter()
                        .filter_map(|r| r.resource_name().map(str::to_string))
                        .collect(),
                });
            }
            let next = out
                .next_token()
                .map(str::to_string)
                .filter(|t| !t.is_empty());
            if next.is_some() && next == token {
                return Err(format!(
                    "LookupEvents {name}: the service answered the same page token twice; stopped to avoid a loop"
                ));
            }
            token = next;
            if token.is_none() {
                break;
            }
        }
    }
    Ok(events)
}

/// Scans the Organization: returns the inventory (failed accounts included, with reasons).
pub async fn scan(
    opts: &ScanOptions,
    as_of: DateTime<Utc>,
    progress: &indicatif::ProgressBar,
) -> Result<Inventory, ScanError> {
    let config = load_config(opts).await?;
    progress.set_message("discovering accounts");
    let org = discover(
        &aws_sdk_organizations::Client::new(&config),
        opts.concurrency,
    )
    .await?;
    let since = as_of - chrono::Duration::days(i64::from(opts.cloudtrail_days));
    let selected: Vec<OrgAccount> = org
        .accounts
        .iter()
        .filter(|a| opts.accounts.is_empty() || opts.accounts.contains(&a.id))
        .filter(|a| !opts.exclude_accounts.contains(&a.id))
        .filter(|a| {
            opts.ou
                .as_ref()
                .is_none_or(|ou| a.ou_ids.contains(ou) || a.ou_path.contains(ou))
        })
        .cloned()
        .collect();
    let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut skipped = Vec::new();
    for account in selected {
        if account.status != "ACTIVE" {
            // Suspended or closed accounts cannot be audited: listed, not failed.
            skipped.push(crate::inventory::SkippedAccount {
                id: account.id.clone(),
                name: account.name.clone(),
                reason: account.status.clone(),
            });
            continue;
        }
        let config = config.clone();
        let opts = opts.clone();
        let management = org.management_account.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = {
                let work = async {
                    let member = if account.id == management {
                        config.clone()
                    } else {
                        assume(&config, &account.id, &opts)
                            .await
                            .map_err(|e| (DataSource::AssumeRole, e))?
                    };
                    Ok::<_, (DataSource, String)>(
                        collect_account(&member, &account, &opts, since, as_of).await,
                    )
                };
                match tokio::time::timeout(opts.account_deadline, work).await {
                    Ok(r) => r,
                    Err(_) => Err((
                        DataSource::Deadline,
                        format!("not finished within {} s", opts.account_deadline.as_secs()),
                    )),
                }
            };
            (account, result)
        });
    }
    progress.set_length(tasks.len() as u64);
    progress.set_message("accounts audited");
    let mut inv = Inventory::new(SourceKind::Scan);
    inv.collected_at = Some(as_of);
    inv.organization_id = org.id.clone();
    inv.skipped = skipped;
    while let Some(done) = tasks.join_next().await {
        progress.inc(1);
        let Ok((account, result)) = done else {
            continue;
        };
        let mut out = Account::new(account.id.clone(), account.name.clone());
        out.ou_path = account.ou_path.clone();
        out.tags = account.tags.clone();
        match result {
            Ok(c) => {
                out.users = c.users;
                out.root = c.root;
                out.collection = c.collection;
                out.collection.notes.splice(0..0, account.notes.clone());
                inv.events.extend(c.events);
            }
            Err((source, message)) => {
                out.collection = Collection {
                    status: CollectionStatus::Failed,
                    errors: vec![CollectionError { source, message }],
                    ..Collection::default()
                };
            }
        }
        inv.accounts.push(out);
    }
    inv.normalize();
    Ok(inv)
}
