//! IAM, in each audited account: users, access keys, MFA devices, console passwords and the
//! root user's credentials, from the credential report (generated for the scan, polled with
//! backoff) with per-user calls where the report cannot vouch for the scan's start; and, once
//! per Organization, the centralized root access features (ListOrganizationsFeatures).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};

use crate::collect::error::{describe, CollectError, ReportError};
use crate::collect::needs::{Needs, Principal};
use crate::collect::options::ScanOptions;
use crate::collect::pages::Pages;
use crate::collect::source::chrono_time;
use crate::collect::source::{join_all, AccountContext, AccountSource, Collected, SourceFuture};
use crate::input::credential_report::{self, ListedKey};
use crate::inventory::{Collection, DataSource, KeyStatus, MfaDevice, MfaType, Password, User};

/// The IAM data of one account. Essential: without it the account is not audited.
pub struct Iam;

impl AccountSource for Iam {
    fn data_source(&self) -> DataSource {
        DataSource::Iam
    }

    fn fills(&self) -> &'static [&'static str] {
        &[
            "accounts[].users",
            "accounts[].root",
            "accounts[].collection.credential_report_generated_at",
            "accounts[].collection.notes",
        ]
    }

    fn needs(&self) -> Needs {
        Needs {
            principal: Principal::AuditRole,
            actions: &[
                "iam:GenerateCredentialReport",
                "iam:GetAccountAuthorizationDetails",
                "iam:ListVirtualMFADevices",
                "iam:GetCredentialReport",
                "iam:ListUsers",
                "iam:ListAccessKeys",
                "iam:GetLoginProfile",
                "iam:GetAccessKeyLastUsed",
                "iam:ListMFADevices",
            ],
        }
    }

    fn essential(&self) -> bool {
        true
    }

    fn collect<'a>(
        &'a self,
        cx: &'a AccountContext<'a>,
        out: &'a mut Collected,
    ) -> SourceFuture<'a> {
        Box::pin(async move {
            // Throttling is per account in AWS: each account gets its own retry quota, so
            // one throttled account does not starve the others.
            let iam = aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(cx.config)
                    .retry_partition(aws_sdk_iam::config::retry::RetryPartition::new(format!(
                        "iam-{}",
                        cx.account.id
                    )))
                    .build(),
            );
            let mut collection = Collection::default();
            let result = collect_iam(&iam, cx.opts, cx.until, &mut collection).await;
            // What was learned about the report stays, even when the collection failed.
            out.notes = collection.notes;
            out.credential_report_generated_at = collection.credential_report_generated_at;
            let (users, root) = result?;
            out.users = users;
            out.root = root;
            Ok(())
        })
    }
}

/// What ListOrganizationsFeatures needs: asked as the caller (the management account or IAM's
/// delegated administrator), once per scan. (Its fallback through the management account's
/// audit role needs the action added to that role; the deploy policies leave it out.)
pub const ORGANIZATION_FEATURES_NEEDS: Needs = Needs {
    principal: Principal::Caller,
    actions: &["iam:ListOrganizationsFeatures"],
};

/// The Organization's centralized root access features (IAM ListOrganizationsFeatures),
/// asked with `config`: `Ok(None)` with a reason when they cannot be known.
pub(crate) async fn root_access_features(
    config: &SdkConfig,
) -> Result<crate::inventory::RootAccessFeatures, CollectError> {
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
        Err(e) => Err(CollectError::call(
            DataSource::Iam,
            "ListOrganizationsFeatures",
            &e,
        )),
    }
}

pub(crate) type IamResult =
    Result<(Vec<User>, Option<crate::inventory::RootCredentials>), CollectError>;

/// IAM: credential report + GetAccountAuthorizationDetails + ListAccessKeys for users with
/// keys + MFA devices; per-user calls when the report cannot be had.
pub(crate) async fn collect_iam(
    iam: &aws_sdk_iam::Client,
    opts: &ScanOptions,
    as_of: DateTime<Utc>,
    collection: &mut Collection,
) -> IamResult {
    use aws_sdk_iam::types::EntityType;
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
    let mut pages = Pages::new(DataSource::Iam, "GetAccountAuthorizationDetails");
    let mut marker = None;
    loop {
        let page = iam
            .get_account_authorization_details()
            .filter(EntityType::User)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| {
                CollectError::call(DataSource::Iam, "GetAccountAuthorizationDetails", &e)
            })?;
        details.extend(page.user_detail_list().iter().cloned());
        marker = pages.next_marker(page.is_truncated(), page.marker())?;
        if marker.is_none() {
            break;
        }
    }

    // Virtual MFA devices: everything else a user has is hardware or FIDO.
    let mut virtual_serials = BTreeSet::new();
    let mut root_has_virtual = false;
    let mut pages = Pages::new(DataSource::Iam, "ListVirtualMFADevices");
    let mut marker = None;
    loop {
        let page = iam
            .list_virtual_mfa_devices()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| CollectError::call(DataSource::Iam, "ListVirtualMFADevices", &e))?;
        for d in page.virtual_mfa_devices() {
            virtual_serials.insert(d.serial_number().to_string());
            // The root user's virtual device is listed with the root ARN as its user.
            root_has_virtual |= d.user().is_some_and(|u| u.arn().ends_with(":root"));
        }
        marker = pages.next_marker(page.is_truncated(), page.marker())?;
        if marker.is_none() {
            break;
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
                "credential report unavailable ({e}); collected with per-user calls instead; the root user's credentials (MFA, access keys, last sign-in) are unknown without it"
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
        let mut pages = Pages::new(DataSource::Iam, "ListUsers");
        let mut marker = None;
        loop {
            let page = iam
                .list_users()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| CollectError::call(DataSource::Iam, "ListUsers", &e))?;
            for u in page.users() {
                password_used.insert(
                    u.user_name().to_string(),
                    u.password_last_used().and_then(chrono_time),
                );
            }
            marker = pages.next_marker(page.is_truncated(), page.marker())?;
            if marker.is_none() {
                break;
            }
        }
    }

    // Per-user calls, `user_concurrency` users at a time, in the listing's order.
    let shared = PerUser {
        iam,
        by_name: &by_name,
        vouched,
        password_used: &password_used,
        virtual_serials: &virtual_serials,
    };
    let mut users = Vec::with_capacity(details.len());
    for chunk in details.chunks(opts.user_concurrency.max(1)) {
        let futures: Vec<Pin<Box<dyn Future<Output = _> + Send + '_>>> = chunk
            .iter()
            .map(|d| Box::pin(collect_user(&shared, d)) as _)
            .collect();
        for done in join_all(futures).await {
            let (user, notes) = done?;
            collection.notes.extend(notes);
            users.push(user);
        }
    }
    Ok((users, root))
}

/// What every user's calls share.
struct PerUser<'a> {
    iam: &'a aws_sdk_iam::Client,
    by_name: &'a HashMap<&'a str, &'a credential_report::ReportRow>,
    vouched: bool,
    password_used: &'a HashMap<String, Option<DateTime<Utc>>>,
    virtual_serials: &'a BTreeSet<String>,
}

/// One user: keys, password, MFA devices, as far as the report does not vouch for them; the
/// notes its key matching made.
async fn collect_user(
    cx: &PerUser<'_>,
    d: &aws_sdk_iam::types::UserDetail,
) -> Result<(User, Vec<String>), CollectError> {
    let (iam, by_name, vouched, password_used, virtual_serials) = (
        cx.iam,
        cx.by_name,
        cx.vouched,
        cx.password_used,
        cx.virtual_serials,
    );
    let mut notes = Vec::new();

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
    let listed = list_keys(iam, &name).await?;
    let row_vouches = row.filter(|_| vouched);
    user.password = if let Some(r) = row_vouches {
        Password {
            enabled: r.password_enabled,
            // AWS keeps the last sign-in after a password is removed.
            last_used: r.password_last_used,
            last_used_unknown: r.password_last_used_unknown(),
            last_changed: r.password_last_changed.filter(|_| r.password_enabled),
        }
    } else {
        let used = password_used.get(&name).copied().flatten();
        let mut p = per_user_password(iam, &name, used).await?;
        // The report's last change is newer than the login profile's creation.
        if let Some(changed) = row
            .filter(|r| r.password_enabled && p.enabled)
            .and_then(|r| r.password_last_changed)
        {
            p.last_changed = Some(changed);
        }
        p
    };
    user.access_keys = match row {
        Some(r) => {
            let m = credential_report::match_keys(&name, r, &listed);
            notes.extend(m.notes);
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
        key_last_used(iam, key).await?;
    }
    // MFA devices: only users a vouching report says have MFA; everyone otherwise.
    if row_vouches.is_none_or(|r| r.mfa_active) {
        let out = iam
            .list_mfa_devices()
            .user_name(&name)
            .send()
            .await
            .map_err(|e| {
                CollectError::call(DataSource::Iam, format!("ListMFADevices {name}"), &e)
            })?;
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
    Ok((user, notes))
}

/// Every access key of one user (ListAccessKeys, paginated).
async fn list_keys(iam: &aws_sdk_iam::Client, name: &str) -> Result<Vec<ListedKey>, CollectError> {
    let mut listed = Vec::new();
    let mut pages = Pages::new(DataSource::Iam, format!("ListAccessKeys {name}"));
    let mut marker = None;
    loop {
        let page = iam
            .list_access_keys()
            .user_name(name)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| {
                CollectError::call(DataSource::Iam, format!("ListAccessKeys {name}"), &e)
            })?;
        marker = pages.next_marker(page.is_truncated(), page.marker())?;
        for k in page.access_key_metadata() {
            let status = match k.status().map(aws_sdk_iam::types::StatusType::as_str) {
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
        if marker.is_none() {
            break;
        }
    }
    Ok(listed)
}

/// Fills a key's last use from GetAccessKeyLastUsed.
async fn key_last_used(
    iam: &aws_sdk_iam::Client,
    key: &mut crate::inventory::AccessKey,
) -> Result<(), CollectError> {
    let used = iam
        .get_access_key_last_used()
        .access_key_id(&key.id)
        .send()
        .await
        .map_err(|e| {
            CollectError::call(
                DataSource::Iam,
                format!("GetAccessKeyLastUsed {}", key.id),
                &e,
            )
        })?;
    let last = used.access_key_last_used();
    let known = |s: &&str| !s.is_empty() && *s != "N/A";
    key.last_used = last.and_then(|l| l.last_used_date()).and_then(chrono_time);
    key.last_used_service = last
        .map(aws_sdk_iam::types::AccessKeyLastUsed::service_name)
        .filter(known)
        .map(str::to_string);
    key.last_used_region = last
        .map(aws_sdk_iam::types::AccessKeyLastUsed::region)
        .filter(known)
        .map(str::to_string);
    // No date: never used, unless the key predates AWS's tracking of key use.
    key.last_used_unknown =
        key.last_used.is_none() && key.created < credential_report::key_tracking_start();
    Ok(())
}

async fn per_user_password(
    iam: &aws_sdk_iam::Client,
    name: &str,
    last_used: Option<DateTime<Utc>>,
) -> Result<Password, CollectError> {
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
        Err(e) => Err(CollectError::call(
            DataSource::Iam,
            format!("GetLoginProfile {name}"),
            &e,
        )),
    }
}

/// Generates the credential report and polls for it with backoff until the deadline.
async fn credential_report(
    iam: &aws_sdk_iam::Client,
    opts: &ScanOptions,
) -> Result<(Vec<credential_report::ReportRow>, Option<DateTime<Utc>>), ReportError> {
    let started = tokio::time::Instant::now();
    let mut wait = Duration::from_millis(500);
    loop {
        let generated =
            iam.generate_credential_report()
                .send()
                .await
                .map_err(|e| ReportError::Call {
                    call: "GenerateCredentialReport",
                    message: describe(&e),
                })?;
        let complete = generated
            .state()
            .map(aws_sdk_iam::types::ReportStateType::as_str)
            == Some("COMPLETE");
        if complete {
            match iam.get_credential_report().send().await {
                Ok(out) => {
                    let content = out
                        .content()
                        .map(|b| b.as_ref().to_vec())
                        .unwrap_or_default();
                    let text = String::from_utf8(content)?;
                    let rows = credential_report::parse(&text).map_err(ReportError::Parse)?;
                    return Ok((rows, out.generated_time().and_then(chrono_time)));
                }
                Err(e) => {
                    let text = describe(&e);
                    if !text.contains("NotReady") && !text.contains("NotPresent") {
                        return Err(ReportError::Call {
                            call: "GetCredentialReport",
                            message: text,
                        });
                    }
                }
            }
        }
        if started.elapsed() + wait > opts.report_deadline {
            return Err(ReportError::NotReady(opts.report_deadline));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}
