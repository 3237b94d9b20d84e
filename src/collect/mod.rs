//! Collection from AWS (`iam-audit scan`): the credential report parser and key-slot matching
//! (pure), and the SDK side (`aws`, behind the `aws` feature).

#[cfg(feature = "aws")]
pub mod aws;
pub mod cloudtrail_record;
pub mod credential_report;
#[cfg(all(test, feature = "aws"))]
mod mock_tests;
