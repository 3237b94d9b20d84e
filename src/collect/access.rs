//! Access: the SDK configuration (credentials found as the AWS CLI finds them), who is calling
//! (STS GetCallerIdentity) and its partition, and credentials in an account through the audit
//! role (STS AssumeRole).

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::collect::error::{describe, CollectError, ScanError};
use crate::collect::needs::{Needs, Principal};
use crate::collect::options::ScanOptions;

/// What the caller needs to reach the other accounts: the audit role (`--role-name`) in each.
/// (`sts:GetCallerIdentity` needs no permission: no policy names it.)
pub const NEEDS: Needs = Needs {
    principal: Principal::Caller,
    actions: &["sts:AssumeRole"],
};

/// Loads the AWS configuration the way the AWS CLI does (profile, environment, SSO, instance
/// role), with retries for throttling and transient errors and timeouts per call.
pub async fn load_config(opts: &ScanOptions) -> Result<SdkConfig, ScanError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(opts.call_timeout)
                // Saturating: a library caller's huge timeout never overflows.
                .operation_timeout(opts.call_timeout.saturating_mul(6))
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

/// Standard retries (exponential backoff with jitter, up to 10 attempts), not the SDK's
/// adaptive mode: its client-side rate limiter, once a few requests are throttled, lets a
/// partition's requests out at the rate it measured from this bursty client (down to one
/// every two seconds), and a call waiting for it counts against the call's timeout. With 20%
/// of requests throttled a scan took 20 times as long, and with tighter timeouts healthy
/// accounts were reported as not audited (tests/faults.rs). Throttling is still backed off
/// from, per call, and LookupEvents has its own rate limit.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(10)
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

/// Credentials for an account through the audit role.
pub(crate) async fn assume(
    config: &SdkConfig,
    account: &str,
    partition: &str,
    opts: &ScanOptions,
) -> Result<SdkConfig, CollectError> {
    let sts = aws_sdk_sts::Client::new(config);
    let arn = format!("arn:{partition}:iam::{account}:role/{}", opts.role_name);
    let failed = |reason: String| CollectError::AssumeRole {
        arn: arn.clone(),
        reason,
    };
    let out = sts
        .assume_role()
        .role_arn(&arn)
        .role_session_name(&opts.session_name)
        .set_external_id(opts.external_id.clone())
        .duration_seconds(3600)
        .send()
        .await
        .map_err(|e| failed(describe(&e)))?;
    let c = out
        .credentials()
        .ok_or_else(|| failed("no credentials in the answer".into()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_are_standard_without_a_client_side_rate_limiter() {
        // The adaptive mode's rate limiter turned 20% throttling into a scan 20 times as long
        // and healthy accounts past their timeouts (tests/faults.rs).
        let retry = retry_config();
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        assert_eq!(retry.max_attempts(), 10);
    }
}
