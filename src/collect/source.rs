//! One data source read in every audited account: the [`AccountSource`] trait, what a source
//! reads from ([`AccountContext`]) and what it fills ([`Collected`]).
//!
//! Per account, the scan runs every source of
//! [`ACCOUNT_SOURCES`](crate::collect::scan::ACCOUNT_SOURCES) concurrently and merges their
//! results in the list's order. A source declares its [`DataSource`] (what its errors are
//! recorded under), the inventory fields it fills, the IAM actions its calls need, and
//! whether the account fails without it (else it is partial). Adding a data source: one file
//! with a type implementing [`AccountSource`], one line in `ACCOUNT_SOURCES`, and its actions
//! in `deploy/` (tests/deploy_policy.rs fails until they are there).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use aws_config::SdkConfig;
use chrono::{DateTime, Utc};

use crate::collect::error::CollectError;
use crate::collect::needs::Needs;
use crate::collect::options::ScanOptions;
use crate::collect::org::OrgAccount;
use crate::inventory::{DataSource, Event, RootCredentials, User};

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

/// An SDK time as a chrono time.
pub(crate) fn chrono_time(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
