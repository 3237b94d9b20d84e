//! The scan: who is calling, the Organization's accounts, then every per-account data source
//! ([`ACCOUNT_SOURCES`]) in each selected account, `concurrency`
//! accounts at a time, each within its deadline; and the [`Inventory`]. A failed account never
//! stops the others: it is recorded in the account's collection status. With `--cloudtrail-s3`
//! the organization trail's bucket ([`Trail`], opened once) replaces each account's
//! LookupEvents source: read as the caller (or `--cloudtrail-role`), its failures recorded
//! under the account's CloudTrail like the source's.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::collect::access::{assume, caller_identity, iam_events_region, load_config};
use crate::collect::cloudtrail_s3::Trail;
use crate::collect::error::{CollectError, ScanError};
use crate::collect::iam::root_access_features;
use crate::collect::needs::Principal;
use crate::collect::options::ScanOptions;
use crate::collect::org::{discover, OrgAccount};
use crate::collect::source::{join_all, AccountContext, AccountSource, Collected, SourceFuture};
use crate::collect::{access, cloudtrail, cloudtrail_s3, iam, org};
use crate::inventory::{
    Account, AccountAccess, Collection, CollectionError, CollectionStatus, DataSource, Inventory,
    SourceKind,
};

/// The organization trail, when the scan reads CloudTrail from it; an error when it could
/// not be opened (every account's CloudTrail is then missing).
type TrailState = Option<Arc<Result<Trail, CollectError>>>;

/// Every per-account data source, in the order their results (and errors) are merged.
pub static ACCOUNT_SOURCES: &[&dyn AccountSource] = &[&iam::Iam, &cloudtrail::CloudTrail];

/// Organization-level work (discovery, role assumption, the centralized root access features)
/// runs once per scan as the caller; its actions are declared beside it ([`org::NEEDS`],
/// [`access::NEEDS`], [`iam::ORGANIZATION_FEATURES_NEEDS`]).
/// Reading the organization trail (`--cloudtrail-s3`) needs [`cloudtrail_s3::NEEDS`] of
/// whoever reads it ([`Principal::TrailReader`]).
/// Every action the scan may call, with the principal that calls it (an action needed by both
/// is listed for each). `sts:GetCallerIdentity` needs no permission and is not listed.
pub fn required_actions() -> Vec<(Principal, &'static str)> {
    let organization = [
        org::NEEDS,
        access::NEEDS,
        iam::ORGANIZATION_FEATURES_NEEDS,
        cloudtrail_s3::NEEDS,
    ];
    let per_account = ACCOUNT_SOURCES.iter().map(|s| s.needs());
    organization
        .into_iter()
        .chain(per_account)
        .flat_map(|n| n.actions.iter().map(move |a| (n.principal, *a)))
        .collect()
}

/// One account's collection: what its sources produced, and its status.
struct AccountResult {
    collected: Collected,
    collection: Collection,
}

/// Runs every per-account source on one account concurrently (they are independent: IAM and
/// CloudTrail calls overlap, CloudTrail mostly waiting on its rate limit) and merges their
/// results in the list's order: complete without errors, failed when an essential source
/// failed, else partial. With the organization trail, the account's files are read instead of
/// the LookupEvents source, at the same time, and merged in its place.
async fn collect_account(cx: &AccountContext<'_>, trail: &TrailState) -> AccountResult {
    let sources: Vec<&dyn AccountSource> = ACCOUNT_SOURCES
        .iter()
        .copied()
        .filter(|s| trail.is_none() || s.data_source() != DataSource::Cloudtrail)
        .collect();
    let mut parts: Vec<Collected> = sources.iter().map(|_| Collected::default()).collect();
    // Each data source has the deadline to itself: a slow CloudTrail costs the account its
    // events, never the IAM data collected meanwhile.
    let deadline = cx.opts.account_deadline;
    let from_trail = async {
        match trail.as_deref() {
            None => None,
            Some(Ok(t)) => Some(
                within(
                    deadline,
                    DataSource::Cloudtrail,
                    t.collect(cx.account, cx.ct_region, cx.since, cx.until),
                )
                .await,
            ),
            Some(Err(e)) => Some(Err(e.clone())),
        }
    };
    let (results, from_trail) = tokio::join!(
        join_all(
            sources
                .iter()
                .zip(parts.iter_mut())
                .map(|(source, out)| {
                    Box::pin(within(
                        deadline,
                        source.data_source(),
                        source.collect(cx, out),
                    )) as SourceFuture<'_>
                })
                .collect(),
        ),
        from_trail
    );
    let mut all = Collected::default();
    let mut collection = Collection::default();
    let mut essential_failed = false;
    let mut succeeded = Vec::new();
    for ((source, part), result) in sources.iter().zip(parts).zip(results) {
        collection.notes.extend(part.notes);
        collection.credential_report_generated_at = collection
            .credential_report_generated_at
            .or(part.credential_report_generated_at);
        match result {
            Ok(()) => {
                all.users.extend(part.users);
                all.root = all.root.or(part.root);
                all.events.extend(part.events);
                succeeded.push(*source);
            }
            Err(e) => {
                // Recorded under the source's declared data source.
                debug_assert_eq!(e.data_source(), source.data_source());
                essential_failed |= source.essential();
                collection.errors.push(CollectionError {
                    source: source.data_source(),
                    message: e.to_string(),
                });
            }
        }
    }
    match from_trail {
        None => {}
        Some(Ok(read)) => {
            collection.notes.extend(read.notes);
            all.events.extend(read.events);
            // What the LookupEvents source completes: root's last sign-in.
            succeeded.push(&cloudtrail::CloudTrail as &dyn AccountSource);
        }
        Some(Err(e)) => collection.errors.push(CollectionError::from(e)),
    }
    for source in succeeded {
        source.complete(&mut all);
    }
    collection.status = if collection.errors.is_empty() {
        CollectionStatus::Complete
    } else if essential_failed {
        CollectionStatus::Failed
    } else {
        CollectionStatus::Partial
    };
    AccountResult {
        collected: all,
        collection,
    }
}

/// One account within the account's deadline: with the caller's credentials (`caller.config`)
/// in its own account, else through the audit role (in `partition`).
async fn audit_account(
    caller: &AccountContext<'_>,
    access: AccountAccess,
    partition: &str,
    trail: &TrailState,
) -> Result<AccountResult, CollectError> {
    let opts = caller.opts;
    let member = if access == AccountAccess::Caller {
        caller.config.clone()
    } else {
        within(
            opts.account_deadline,
            DataSource::AssumeRole,
            assume(caller.config, &caller.account.id, partition, opts),
        )
        .await?
    };
    let cx = AccountContext {
        config: &member,
        ..*caller
    };
    Ok(collect_account(&cx, trail).await)
}

/// `work`, or the deadline error of `source` when it is not done within `deadline`.
async fn within<T>(
    deadline: std::time::Duration,
    source: DataSource,
    work: impl std::future::Future<Output = Result<T, CollectError>>,
) -> Result<T, CollectError> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or(Err(CollectError::Deadline {
            data_source: source,
            after: deadline,
        }))
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
    // The organization trail, opened once: its client, region and account folders.
    let trail: TrailState = match &opts.cloudtrail_s3 {
        None => None,
        Some(location) => {
            progress.set_message("opening the organization trail");
            let opened = Trail::open(&config, opts, location, org.id.as_deref()).await;
            if let Err(e) = &opened {
                tracing::warn!("cannot read the organization trail {location}: {e}");
            }
            Some(Arc::new(opened))
        }
    };
    let selected: Vec<OrgAccount> = org
        .accounts
        .iter()
        .filter(|a| opts.accounts.is_empty() || opts.accounts.contains(&a.id))
        .filter(|a| !opts.exclude_accounts.contains(&a.id))
        .filter(|a| {
            opts.ou
                .as_ref()
                .is_none_or(|ou| a.ou_unknown || a.ou_ids.contains(ou) || a.ou_path.contains(ou))
        })
        .cloned()
        .collect();
    let limit = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut skipped = Vec::new();
    let (selected, unplaced): (Vec<OrgAccount>, Vec<OrgAccount>) = selected
        .into_iter()
        .partition(|a| opts.ou.is_none() || !a.ou_unknown);
    for account in unplaced {
        // With --ou, an account whose OU path could not be read is neither audited nor
        // silently dropped: it is listed as left out, with the reason.
        skipped.push(crate::inventory::SkippedAccount {
            id: account.id.clone(),
            name: account.name.clone(),
            reason: format!(
                "OU unknown, so --ou cannot select it: {}",
                account.notes.first().map_or("", String::as_str)
            ),
        });
    }
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
        let trail = trail.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let access = if account.id == own {
                AccountAccess::Caller
            } else {
                AccountAccess::AssumeRole
            };
            let caller = AccountContext {
                config: &config,
                account: &account,
                opts: &opts,
                ct_region: &ct_region,
                since,
                until: as_of,
            };
            let result = audit_account(&caller, access, &partition, &trail).await;
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
    if let Some(Ok(t)) = trail.as_deref() {
        inv.notes.extend(t.notes.iter().cloned());
    }
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
                        first.to_string()
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
        out.ou_path.clone_from(&account.ou_path);
        out.tags = account.tags.clone();
        match result {
            Ok(r) => {
                out.users = r.collected.users;
                out.root = r.collected.root;
                out.collection = r.collection;
                out.collection.notes.splice(0..0, account.notes.clone());
                out.collection.access = Some(access);
                inv.events.extend(r.collected.events);
            }
            Err(e) => {
                out.collection = Collection {
                    status: CollectionStatus::Failed,
                    errors: vec![CollectionError::from(e)],
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for source in ACCOUNT_SOURCES {
            assert!(
                seen.insert(source.data_source()),
                "{:?} twice",
                source.data_source()
            );
            assert!(!source.fills().is_empty(), "{:?}", source.data_source());
            assert_eq!(source.needs().principal, Principal::AuditRole);
            // The one source the organization trail replaces is LookupEvents.
            assert_eq!(
                source.data_source() == DataSource::Cloudtrail,
                source.fills().contains(&"events")
            );
        }
        let actions = required_actions();
        assert!(!actions.is_empty());
        let mut unique = std::collections::BTreeSet::new();
        for (principal, action) in &actions {
            let (service, op) = action.split_once(':').expect("service:Action");
            assert!(
                !service.is_empty() && op.starts_with(|c: char| c.is_ascii_uppercase()),
                "{action}"
            );
            assert!(
                unique.insert((*principal, *action)),
                "{action} declared twice"
            );
        }
    }
}
