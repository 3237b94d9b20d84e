//! The data sources of a scan, and what each needs.
//!
//! Per account, the scan runs every [`AccountSource`] of [`ACCOUNT_SOURCES`] concurrently and
//! merges their results in the list's order. A source declares its [`DataSource`] (what its
//! errors are recorded under), the inventory fields it fills, the IAM actions its calls need,
//! and whether the account fails without it (else it is partial). Adding a data source: one
//! file with a type implementing [`AccountSource`], one line in [`ACCOUNT_SOURCES`], and its
//! actions in `deploy/` (tests/deploy_policy.rs fails until they are there).
//!
//! Organization-level work (discovery, role assumption, the centralized root access features)
//! runs once per scan as the caller; its actions are declared beside it ([`super::org::NEEDS`],
//! [`super::access::NEEDS`], [`super::iam::ORGANIZATION_FEATURES_NEEDS`]).
//! [`required_actions`] is every declaration, which the deploy policies must grant.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};

use crate::collect::error::CollectError;
use crate::collect::org::OrgAccount;
use crate::collect::scan::ScanOptions;
use crate::collect::{access, cloudtrail, iam, org};
use crate::inventory::{DataSource, Event, RootCredentials, User};

/// Every per-account data source, in the order their results (and errors) are merged.
pub static ACCOUNT_SOURCES: &[&dyn AccountSource] = &[&iam::Iam, &cloudtrail::CloudTrail];

/// Who makes a call, hence which deploy policy must allow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// The principal that runs the scan, in the management account or a delegated
    /// administrator account (deploy/iam-audit-caller-policy.json). It also reads its own
    /// account, so its policy holds every [`Principal::AuditRole`] action too.
    Caller,
    /// The audit role in each member account (deploy/iam-audit-role.yaml, whose inline policy
    /// is deploy/iam-audit-member-policy.json): every per-account data source's calls.
    AuditRole,
}

/// The IAM actions one part of the scan needs, and who needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    pub principal: Principal,
    pub actions: &'static [&'static str],
}

/// Every action the scan may call, with the principal that calls it (an action needed by both
/// is listed for each). `sts:GetCallerIdentity` needs no permission and is not listed.
pub fn required_actions() -> Vec<(Principal, &'static str)> {
    let organization = [org::NEEDS, access::NEEDS, iam::ORGANIZATION_FEATURES_NEEDS];
    let per_account = ACCOUNT_SOURCES.iter().map(|s| s.needs());
    organization
        .into_iter()
        .chain(per_account)
        .flat_map(|n| n.actions.iter().map(move |a| (n.principal, *a)))
        .collect()
}

/// What a per-account source reads from, for one account.
pub struct AccountContext<'a> {
    /// The account's credentials: the audit role's, or the caller's in its own account.
    pub config: &'a SdkConfig,
    pub account: &'a OrgAccount,
    pub opts: &'a ScanOptions,
    /// Where CloudTrail records IAM events (`--region`, or the partition's IAM region).
    pub ct_region: &'a str,
    /// Events from this time...
    pub since: DateTime<Utc>,
    /// ...to this one, the scan's start (also the time ages are measured from).
    pub until: DateTime<Utc>,
}

/// What the sources of one account produced: each source fills its own, and the scan merges
/// them in [`ACCOUNT_SOURCES`]' order.
#[derive(Debug, Default)]
pub struct Collected {
    pub users: Vec<User>,
    pub root: Option<RootCredentials>,
    pub events: Vec<Event>,
    /// Remarks on how the data was obtained; kept even when the source fails.
    pub notes: Vec<String>,
    /// Kept even when the source fails.
    pub credential_report_generated_at: Option<DateTime<Utc>>,
}

/// The future of one source's collection.
pub type SourceFuture<'a> = Pin<Box<dyn Future<Output = Result<(), CollectError>> + Send + 'a>>;

/// One data source read in every audited account.
pub trait AccountSource: Sync {
    /// What the source's errors are recorded under.
    fn data_source(&self) -> DataSource;
    /// The inventory fields it fills (paths in the inventory JSON).
    fn fills(&self) -> &'static [&'static str];
    /// The IAM actions its calls need, and the principal (per account: the audit role).
    fn needs(&self) -> Needs;
    /// Whether the account fails without it; without a non-essential source it is partial.
    fn essential(&self) -> bool;
    /// Collects the account's data into `out`. On an error, only `out`'s notes and report
    /// time are kept.
    fn collect<'a>(
        &'a self,
        cx: &'a AccountContext<'a>,
        out: &'a mut Collected,
    ) -> SourceFuture<'a>;
    /// Runs, when the source succeeded, on everything all sources collected (in list order):
    /// what needs another source's data.
    fn complete(&self, _all: &mut Collected) {}
}

/// Runs the futures concurrently in the current task (as `tokio::join!` does); their outputs
/// in order.
pub(crate) async fn join_all<'a, T>(
    futures: Vec<Pin<Box<dyn Future<Output = T> + Send + 'a>>>,
) -> Vec<T> {
    let mut pending: Vec<_> = futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut finished = true;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => {
                        *out = Some(value);
                        *slot = None;
                    }
                    Poll::Pending => finished = false,
                }
            }
        }
        if finished {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    done.into_iter().flatten().collect()
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
