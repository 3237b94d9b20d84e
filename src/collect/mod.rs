//! Collection from AWS (`iam-audit scan`), split by data source. The formats AWS answers in
//! (the credential report, CloudTrail records) are parsed by [`crate::input`], which
//! `evaluate` shares. Behind the `aws` feature, the only SDK code:
//!
//! - [`access`]: credentials, the caller's identity and partition, the audit role (STS);
//! - [`org`]: Organizations discovery (accounts, OU paths, tags);
//! - [`iam`]: IAM users, keys, MFA, passwords, root, the credential report flow, and the
//!   Organization's centralized root access features;
//! - [`cloudtrail`]: CloudTrail LookupEvents;
//! - [`cloudtrail_s3`]: CloudTrail from the organization trail's bucket (`--cloudtrail-s3`);
//! - [`source`]: the per-account data source trait, what a source reads and fills;
//! - [`needs`]: who makes each call and the IAM actions it needs;
//! - [`options`]: the scan's options;
//! - [`scan`]: the list of per-account sources, every action they and the Organization-level
//!   work need ([`required_actions`]), and the orchestrator that runs them over the
//!   Organization into an inventory.
//!
//! [`error`] holds the layer's typed errors.

#[cfg(feature = "aws")]
pub mod access;
#[cfg(feature = "aws")]
pub mod cloudtrail;
#[cfg(feature = "aws")]
pub mod cloudtrail_s3;
pub mod error;
#[cfg(feature = "aws")]
pub mod iam;
#[cfg(all(test, feature = "aws"))]
mod mock_tests;
#[cfg(feature = "aws")]
pub mod needs;
#[cfg(feature = "aws")]
pub mod options;
#[cfg(feature = "aws")]
pub mod org;
#[cfg(feature = "aws")]
pub mod pages;
#[cfg(feature = "aws")]
pub mod scan;
#[cfg(feature = "aws")]
pub mod source;

pub use error::{CollectError, ReportError, ScanError};
#[cfg(feature = "aws")]
pub use needs::{Needs, Principal};
#[cfg(feature = "aws")]
pub use options::{ScanOptions, DEFAULT_EVENTS};
#[cfg(feature = "aws")]
pub use scan::{required_actions, scan, ACCOUNT_SOURCES};
#[cfg(feature = "aws")]
pub use source::AccountSource;
