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
    Account, AccountAccess, Collection, CollectionError, CollectionStatus, DataSource, Event,
    Inventory, KeyStatus, MfaDevice, MfaType, Password, SourceKind, User,
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
    /// The region where CloudTrail records IAM events (`--region`); default: the IAM region
    /// of the caller's partition (us-east-1, us-gov-west-1, cn-north-1). Also the SDK's
    /// region when neither the environment nor the profile sets one.
    pub region: Option<String>,
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
            region: None,
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
    #[error(
        "cannot tell who is calling (STS GetCallerIdentity): {0}\nhint: the credentials may be expired or \
         for another partition; set the region of your partition with --region or AWS_REGION"
    )]
    Identity(String),
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
    let mut config = loader.load().await;
    if config.region().is_none() {
        let region = opts.region.clone().unwrap_or_else(|| "us-east-1".into());
        config = config.to_builder().region(Region::new(region)).build();
    }
    match config.credentials_provider() {
        None => Err(ScanError::NoCredentials("no credential provider".into())),
        Some(p) => match p.provide_credentials().await {
            Ok(_) => Ok(config),
            Err(e) => Err(ScanError::NoCredentials(describe(&e))),
        },
    }
}

/// Who is calling, from STS GetCallerIdentity, with the partition of its ARN.
pub async fn caller_identity(config: &SdkConfig) -> Result<crate::inventory::Caller, ScanError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| ScanError::Identity(describe(&e)))?;
    let arn = out.arn().unwrap_or_default().to_string();
    let account_id = out.account().unwrap_or_default().to_string();
    let partition = partition_of(&arn)
        .ok_or_else(|| ScanError::Identity(format!("unexpected caller ARN `{arn}`")))?;
    Ok(crate::inventory::Caller {
        account_id,
        arn,
        partition,
    })
}

/// The partition of an ARN (`arn:PARTITION:service:...`).
pub fn partition_of(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.next())
        .flatten()
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_string)
}

/// The region where CloudTrail records IAM (global service) events in a partition.
pub fn iam_events_region(partition: &str) -> &'static str {
    match partition {
        "aws-us-gov" => "us-gov-west-1",
        "aws-cn" => "cn-north-1",
        "aws-iso" => "us-iso-east-1",
        "aws-iso-b" => "us-isob-east-1",
        _ => "us-east-1",
    }
}

/// The Organization's centralized root access features (IAM ListOrganizationsFeatures),
/// asked with `config`: `Ok(None)` with a reason when they cannot be known.
async fn root_access_features(
    config: &SdkConfig,
) -> Result<crate::inventory::RootAccessFeatures, String> {
    use aws_sdk_iam::operation::list_organizations_features::ListOrganizationsFeaturesError as E;
    match aws_sdk_iam::Client::new(config)
        .list_organizations_features()
        .send()
        .await
    {
        Ok(out) => {
            let on = |f: &str| out.enabled_features().iter().any(|x| x.as_str() == f);
            Ok(crate::inventory::RootAccessFeatures {
                root_credentials_management: on("RootCredentialsManagement"),
                root_sessions: on("RootSessions"),
            })
        }
        // Trusted access for IAM is off: centralized root access cannot be on.
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(E::ServiceAccessNotEnabledException(_))
            ) =>
        {
            Ok(crate::inventory::RootAccessFeatures::default())
        }
        Err(e) => Err(format!("ListOrganizationsFeatures: {}", describe(&e))),
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
    partition: &str,
    opts: &ScanOptions,
) -> Result<SdkConfig, String> {
    let sts = aws_sdk_sts::Client::new(config);
    let arn = format!("arn:{partition}:iam::{account}:role/{}", opts.role_name);
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
    ct_region: &str,
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
            .region(Region::new(ct_region.to_string()))
            .retry_partition(aws_sdk_cloudtrail::config::retry::RetryPartition::new(
                format!("cloudtrail-{}", account.id),
            ))
            .build(),
    );
    let (iam_result, events_result) = tokio::join!(
        collect_iam(&iam, opts, until, &mut collection),
        collect_events(&ct, account, opts, since, until)
    );
    let (users, mut root) = match iam_result {
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
    if let Some(root) = root.as_mut() {
        root.last_console_login = root.last_console_login.max(last_root_sign_in(&events));
    }
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

/// The last successful root console sign-in among `events` (a failed sign-in is not one).
pub(crate) fn last_root_sign_in(events: &[Event]) -> Option<DateTime<Utc>> {
    events
        .iter()
        .filter(|e| e.name == "ConsoleLogin" && !e.failed())
        .filter(|e| e.actor_type.as_deref() == Some("Root") || e.actor == "root")
        .map(|e| e.time)
        .max()
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
    // refusal here is met again, and handled, when the report is polled.) An answer of
    // COMPLETE at once means AWS serves a report it already had: one up to 4 hours old.
    let first_state = iam
        .generate_credential_report()
        .send()
        .await
        .ok()
        .and_then(|g| g.state().map(|s| s.as_str().to_string()));

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

    // Whether the report vouches for the state at the scan's start: it was generated for
    // this scan (IAM was still building it when first asked) or at or after the scan began.
    // A report AWS served from its cache shows the state at its generation time: credentials
    // created or removed since are not in it, so they are read with per-user calls.
    let mut vouched = false;
    let report = match credential_report(iam, opts).await {
        Ok((rows, generated)) => {
            collection.credential_report_generated_at = generated;
            vouched = first_state.as_deref().is_some_and(|s| s != "COMPLETE")
                || generated.is_some_and(|g| g >= as_of);
            if !vouched {
                collection.notes.push(format!(
                    "the credential report was generated at {} before the scan (AWS serves a report up to 4 hours old): every user's keys, console password and MFA devices were read with per-user calls",
                    generated.map_or_else(
                        || "an unknown time".to_string(),
                        |g| format!("{} UTC", g.format("%Y-%m-%d %H:%M:%S"))
                    )
                ));
            }
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
    // Without a report that vouches for the scan, ListUsers gives every password's last use
    // (a call per 100 users), as it is now.
    let mut password_used: HashMap<String, Option<DateTime<Utc>>> = HashMap::new();
    if !vouched {
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
        // Keys: listed for every user. The report names no key ids, and a report served
        // from AWS's cache (up to 4 hours old) lacks every key created since: no key may be
        // missing, so no user is skipped.
        let listed = list_keys(iam, &name).await.map_err(iam_err)?;
        let row_vouches = row.filter(|_| vouched);
        user.password = match row_vouches {
            Some(r) => Password {
                enabled: r.password_enabled,
                // AWS keeps the last sign-in after a password is removed.
                last_used: r.password_last_used,
                last_used_unknown: r.password_last_used_unknown(),
                last_changed: r.password_last_changed.filter(|_| r.password_enabled),
            },
            None => {
                let used = password_used.get(&name).copied().flatten();
                let mut p = per_user_password(iam, &name, used).await.map_err(iam_err)?;
                // The report's last change is newer than the login profile's creation.
                if let Some(changed) = row
                    .filter(|r| r.password_enabled && p.enabled)
                    .and_then(|r| r.password_last_changed)
                {
                    p.last_changed = Some(changed);
                }
                p
            }
        };
        user.access_keys = match row {
            Some(r) => {
                let m = credential_report::match_keys(&name, r, &listed);
                collection.notes.extend(m.notes);
                m.keys
            }
            None => listed
                .into_iter()
                .map(|k| crate::inventory::AccessKey {
                    id: k.id,
                    status: k.status,
                    created: k.created,
                    last_used_unknown: true,
                    ..Default::default()
                })
                .collect(),
        };
        // A key the report cannot speak for (none of its slots, or no report): its last use
        // from GetAccessKeyLastUsed.
        for key in user.access_keys.iter_mut().filter(|k| k.last_used_unknown) {
            key_last_used(iam, key).await.map_err(iam_err)?;
        }
        // MFA devices: only users a vouching report says have MFA; everyone otherwise.
        if row_vouches.is_none_or(|r| r.mfa_active) {
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

/// Every access key of one user (ListAccessKeys, paginated).
async fn list_keys(iam: &aws_sdk_iam::Client, name: &str) -> Result<Vec<ListedKey>, String> {
    let mut listed = Vec::new();
    let mut pages = iam
        .list_access_keys()
        .user_name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("ListAccessKeys {name}: {}", describe(&e)))?;
        for k in page.access_key_metadata() {
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
    Ok(listed)
}

/// Fills a key's last use from GetAccessKeyLastUsed.
async fn key_last_used(
    iam: &aws_sdk_iam::Client,
    key: &mut crate::inventory::AccessKey,
) -> Result<(), String> {
    let used = iam
        .get_access_key_last_used()
        .access_key_id(&key.id)
        .send()
        .await
        .map_err(|e| format!("GetAccessKeyLastUsed {}: {}", key.id, describe(&e)))?;
    let last = used.access_key_last_used();
    let known = |s: &&str| !s.is_empty() && *s != "N/A";
    key.last_used = last.and_then(|l| l.last_used_date()).and_then(chrono_time);
    key.last_used_service = last
        .map(|l| l.service_name())
        .filter(known)
        .map(str::to_string);
    key.last_used_region = last.map(|l| l.region()).filter(known).map(str::to_string);
    // No date: never used, unless the key predates AWS's tracking of key use.
    key.last_used_unknown =
        key.last_used.is_none() && key.created < credential_report::key_tracking_start();
    Ok(())
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
            ..Default::default()
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
                let mut event = Event {
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
                    ..Default::default()
                };
                // What CloudTrail recorded beside the name: a failed call's error code, the
                // source IP, the actor's type, a sign-in's outcome.
                if let Some(details) = e
                    .cloud_trail_event()
                    .and_then(crate::collect::cloudtrail_record::details_of_json)
                {
                    details.apply(&mut event);
                }
                events.push(event);
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
    // Who runs the scan: its own account is read with its own credentials, every other one
    // (the management account included) through the audit role. The partition of its ARN
    // goes into every ARN built, and decides where CloudTrail records IAM events.
    let caller = caller_identity(&config).await?;
    let ct_region = opts
        .region
        .clone()
        .unwrap_or_else(|| iam_events_region(&caller.partition).to_string());
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
        let own = caller.account_id.clone();
        let partition = caller.partition.clone();
        let ct_region = ct_region.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let access = if account.id == own {
                AccountAccess::Caller
            } else {
                AccountAccess::AssumeRole
            };
            let result = {
                let work = async {
                    let member = if access == AccountAccess::Caller {
                        config.clone()
                    } else {
                        assume(&config, &account.id, &partition, &opts)
                            .await
                            .map_err(|e| (DataSource::AssumeRole, e))?
                    };
                    Ok::<_, (DataSource, String)>(
                        collect_account(&member, &account, &opts, &ct_region, since, as_of).await,
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
            (account, access, result)
        });
    }
    progress.set_length(tasks.len() as u64);
    progress.set_message("accounts audited");
    let mut inv = Inventory::new(SourceKind::Scan);
    inv.collected_at = Some(as_of);
    inv.organization_id = org.id.clone();
    inv.management_account_id = Some(org.management_account.clone()).filter(|m| !m.is_empty());
    inv.skipped = skipped;
    // Centralized root access: asked as the caller (the management account or IAM's
    // delegated administrator can); else through the management account's audit role.
    // Optional: its absence is noted, never fatal.
    inv.root_access = match root_access_features(&config).await {
        Ok(f) => Some(f),
        Err(first) => {
            let management = &org.management_account;
            let second = if management.is_empty() || *management == caller.account_id {
                Err(first.clone())
            } else {
                match assume(&config, management, &caller.partition, opts).await {
                    Ok(m) => root_access_features(&m).await,
                    Err(e) => Err(e),
                }
            };
            match second {
                Ok(f) => Some(f),
                Err(e) => {
                    let why = if e == first {
                        first
                    } else {
                        format!("{first}; through the management account: {e}")
                    };
                    let note = format!(
                        "the Organization's centralized root access features are unknown ({why}); rules that need them are not evaluable"
                    );
                    tracing::warn!("{note}");
                    inv.notes.push(note);
                    None
                }
            }
        }
    };
    inv.caller = Some(caller);
    while let Some(done) = tasks.join_next().await {
        progress.inc(1);
        let Ok((account, access, result)) = done else {
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
                out.collection.access = Some(access);
                inv.events.extend(c.events);
            }
            Err((source, message)) => {
                out.collection = Collection {
                    status: CollectionStatus::Failed,
                    errors: vec![CollectionError { source, message }],
                    access: Some(access),
                    ..Collection::default()
                };
            }
        }
        inv.accounts.push(out);
    }
    inv.normalize();
    Ok(inv)
}
