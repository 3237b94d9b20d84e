//! Typed errors of the collection layer: [`ScanError`] stops a scan before (or instead of) an
//! inventory; [`CollectError`] is one account's data source that could not be collected (it is
//! recorded in the inventory, never fatal); [`ReportError`] is why the credential report could
//! not be had (a note: the IAM source falls back to per-user calls).

use std::time::Duration;

use crate::inventory::{CollectionError, DataSource};

/// Why a scan stopped without an inventory (per-account failures are not errors: they are in
/// the inventory).
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
    /// The async runtime the SDK runs on could not be started.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Ctrl-C during the scan.
    #[error("interrupted: nothing was written")]
    Interrupted,
}

/// One data source of one account that could not be collected (or the whole account: the
/// audit role, the deadline). Its text is what the inventory records as the error's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// STS AssumeRole into the account's audit role failed.
    #[error("cannot assume {arn}: {reason}")]
    AssumeRole { arn: String, reason: String },
    /// An AWS call failed (after the SDK's retries). `call` is the operation, with its
    /// subject when it has one (`ListAccessKeys alice`); `message` the SDK error in full.
    #[error("{call}: {message}")]
    Call {
        data_source: DataSource,
        call: String,
        message: String,
    },
    /// A paginated call answered a page token it had answered before (any cycle), or none
    /// for a truncated page: its listing cannot be followed to the end.
    #[error("{call}: the service answered a page token it had answered before ({token}): stopped, the listing is incomplete")]
    RepeatedPageToken {
        data_source: DataSource,
        call: String,
        token: String,
    },
    /// An IAM listing said it was truncated and gave no marker to go on with.
    #[error("{call}: the service said the listing goes on but gave no marker: stopped, the listing is incomplete")]
    TruncatedWithoutMarker {
        data_source: DataSource,
        call: String,
    },
    /// The organization trail's bucket has no folder for the account (`--cloudtrail-s3`): its
    /// events are not there, which is not the same as it having none.
    #[error(
        "no CloudTrail log files for account {account} under {location} (no {account}/ folder): \
         the trail does not deliver this account's events to this bucket and prefix"
    )]
    NoTrailFolder { account: String, location: String },
    /// A request the SDK refused to build.
    #[error("{message}")]
    Request {
        data_source: DataSource,
        message: String,
    },
    /// A data source of an account (or the role assumption into it) was not finished within
    /// the deadline: what the other sources collected is kept.
    #[error("not finished within {} s", .after.as_secs())]
    Deadline {
        data_source: DataSource,
        after: Duration,
    },
}

impl CollectError {
    /// A failed call of `data_source`, with the SDK error's full text.
    #[cfg(feature = "aws")]
    pub(crate) fn call<E: std::error::Error>(
        data_source: DataSource,
        call: impl Into<String>,
        error: &E,
    ) -> CollectError {
        CollectError::Call {
            data_source,
            call: call.into(),
            message: describe(error),
        }
    }

    /// The data source the inventory records the error under.
    pub fn data_source(&self) -> DataSource {
        match self {
            CollectError::AssumeRole { .. } => DataSource::AssumeRole,
            CollectError::Call { data_source, .. }
            | CollectError::RepeatedPageToken { data_source, .. }
            | CollectError::TruncatedWithoutMarker { data_source, .. }
            | CollectError::Request { data_source, .. } => *data_source,
            CollectError::NoTrailFolder { .. } => DataSource::Cloudtrail,
            CollectError::Deadline { data_source, .. } => *data_source,
        }
    }
}

impl From<CollectError> for CollectionError {
    fn from(e: CollectError) -> CollectionError {
        CollectionError {
            source: e.data_source(),
            message: e.to_string(),
        }
    }
}

/// Why the credential report could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// GenerateCredentialReport or GetCredentialReport failed.
    #[error("{call}: {message}")]
    Call { call: &'static str, message: String },
    #[error("credential report is not UTF-8: {0}")]
    NotUtf8(#[from] std::string::FromUtf8Error),
    /// The report's CSV could not be parsed.
    #[error("{0}")]
    Parse(String),
    #[error("the credential report was not ready within {:.1} s", .0.as_secs_f64())]
    NotReady(Duration),
}

/// The full message of an SDK error (code and message; never credentials).
#[cfg(feature = "aws")]
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
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

impl From<ScanError> for crate::error::Error {
    fn from(e: ScanError) -> Self {
        crate::error::Error::Scan(Box::new(e))
    }
}
