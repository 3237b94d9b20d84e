//! Collection from AWS (`iam-audit scan`), split by data source. The pure parsers build without
//! the AWS SDK: the credential report and key-slot matching ([`credential_report`]) and
//! CloudTrail records ([`cloudtrail_record`]). Behind the `aws` feature, the only SDK code:
//!
//! - [`access`]: credentials, the caller's identity and partition, the audit role (STS);
//! - [`org`]: Organizations discovery (accounts, OU paths, tags);
//! - [`iam`]: IAM users, keys, MFA, passwords, root, the credential report flow, and the
//!   Organization's centralized root access features;
//! - [`cloudtrail`]: CloudTrail LookupEvents;
//! - [`sources`]: the per-account data source trait and list, and the IAM actions each part
//!   needs ([`required_actions`]);
//! - [`scan`]: the orchestrator that runs them over the Organization into an inventory.
//!
//! [`error`] holds the layer's typed errors.

#[cfg(feature = "aws")]
pub mod access;
#[cfg(feature = "aws")]
pub mod cloudtrail;
pub mod cloudtrail_record;
pub mod credential_report;
pub mod error;
#[cfg(feature = "aws")]
pub mod iam;
#[cfg(all(test, feature = "aws"))]
mod mock_tests;
#[cfg(feature = "aws")]
pub mod org;
#[cfg(feature = "aws")]
pub mod scan;
#[cfg(feature = "aws")]
pub mod sources;

pub use error::{CollectError, ReportError, ScanError};
#[cfg(feature = "aws")]
pub use scan::{scan, ScanOptions, DEFAULT_EVENTS};
#[cfg(feature = "aws")]
pub use sources::{required_actions, AccountSource, Principal, ACCOUNT_SOURCES};

/// An SDK time as a chrono time.
#[cfg(feature = "aws")]
pub(crate) fn chrono_time(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
