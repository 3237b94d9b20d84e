//! What to scan and how: the options of `iam-audit scan`, which every part of the collector
//! reads.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

pub use crate::input::cloudtrail_record::DEFAULT_EVENTS;

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
    /// Users of one account whose per-user calls (keys, and when no report vouches for them,
    /// password and MFA devices) run at once.
    pub user_concurrency: usize,
    /// Days of CloudTrail history: at most 90 with LookupEvents, any with `cloudtrail_s3`.
    pub cloudtrail_days: u32,
    pub event_names: Vec<String>,
    /// Read CloudTrail from the organization trail's bucket instead of LookupEvents.
    pub cloudtrail_s3: Option<TrailLocation>,
    /// The role to read the trail's bucket with (else the caller's credentials).
    pub cloudtrail_role: Option<String>,
    /// The trail's regions to read (empty: the IAM events region; `all`: every one found).
    pub cloudtrail_regions: Vec<String>,
    /// Bytes of trail objects held in memory at once, across the scan.
    pub cloudtrail_s3_memory: u64,
    /// S3 requests in flight at once, across the scan.
    pub cloudtrail_s3_requests: usize,
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
            role_name: "IamAuditRole".into(),
            external_id: None,
            session_name: "iam-audit".into(),
            accounts: BTreeSet::new(),
            exclude_accounts: BTreeSet::new(),
            ou: None,
            concurrency: 8,
            user_concurrency: 8,
            cloudtrail_days: 90,
            event_names: DEFAULT_EVENTS
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            cloudtrail_s3: None,
            cloudtrail_role: None,
            cloudtrail_regions: Vec::new(),
            cloudtrail_s3_memory: 256 * 1024 * 1024,
            cloudtrail_s3_requests: 32,
            account_deadline: Duration::from_secs(900),
            report_deadline: Duration::from_secs(120),
            cloudtrail_rps: 2.0,
            region: None,
            call_timeout: Duration::from_secs(30),
        }
    }
}

/// Where the trail writes: `s3://BUCKET/PREFIX` (the trail's S3 key prefix, may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrailLocation {
    pub bucket: String,
    /// Empty, or the prefix with one trailing `/`.
    pub prefix: String,
}

impl TrailLocation {
    /// Parses `s3://BUCKET[/PREFIX]` (a trailing `/AWSLogs` is the folder CloudTrail adds, and
    /// is dropped).
    pub fn parse(s: &str) -> Result<TrailLocation, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{s}`: expected s3://BUCKET or s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            return Err(format!("`{bucket}` is not an S3 bucket name"));
        }
        let mut prefix = prefix.trim_matches('/').to_string();
        if prefix == "AWSLogs" {
            prefix.clear();
        } else if let Some(p) = prefix.strip_suffix("/AWSLogs") {
            prefix = p.to_string();
        }
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Ok(TrailLocation {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// `PREFIX/AWSLogs/`.
    pub(crate) fn logs(&self) -> String {
        format!("{}AWSLogs/", self.prefix)
    }

    pub(crate) fn url(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

impl fmt::Display for TrailLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        let l = TrailLocation::parse("s3://org-trail/logs/").unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("org-trail", "logs/")
        );
        assert_eq!(l.logs(), "logs/AWSLogs/");
        let l = TrailLocation::parse("s3://org-trail").unwrap();
        assert_eq!(l.prefix, "");
        assert_eq!(l.logs(), "AWSLogs/");
        assert_eq!(l.to_string(), "s3://org-trail/");
        let l = TrailLocation::parse("s3://org-trail/a/b/AWSLogs/").unwrap();
        assert_eq!(l.prefix, "a/b/");
        assert_eq!(TrailLocation::parse("s3://t1x/AWSLogs").unwrap().prefix, "");
        for bad in [
            "org-trail",
            "https://x/y",
            "s3://",
            "s3://Upper",
            "s3://a",
            "s3://-ab",
        ] {
            assert!(TrailLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
