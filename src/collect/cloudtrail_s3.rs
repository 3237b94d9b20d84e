//! CloudTrail from the organization trail's bucket (`scan --cloudtrail-s3 s3://BUCKET/PREFIX`),
//! instead of LookupEvents: each account's log files of the days of `--cloudtrail-days` (no
//! 90-day cap), in the regions that matter, listed and fetched in parallel within a memory
//! budget, and read by [`crate::input::cloudtrail::read_stream`] (what `evaluate` reads CloudTrail
//! files with).
//!
//! Where the files are: `PREFIX/AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/`
//! (an organization trail), or `PREFIX/AWSLogs/<account>/CloudTrail/…` (an account's own trail).
//! [`Trail::open`] lists `PREFIX/AWSLogs/` once (delimiter `/`) to find the Organization's folder
//! and the account folders under it (both layouts are read when both are there; a record seen
//! twice is kept once, by `eventID`). Then, per account, one listing per region and day
//! (`ListObjectsV2` on the day's prefix; the first day starts after the files delivered before
//! `since`), and one `GetObject` per file.
//!
//! Regions: IAM is a global service whose events CloudTrail records in the partition's IAM
//! region (us-east-1 for `aws`), the one region LookupEvents is asked in; so by default only that
//! region's folders are read. A `ConsoleLogin` is recorded in the region of the sign-in endpoint
//! used (root sign-ins in us-east-1; an IAM user's may be in another region):
//! `--cloudtrail-regions all` reads every region folder of each account (one more listing per
//! account), or name the regions.
//!
//! Memory: at most `cloudtrail_s3_memory` bytes of (compressed) object bodies are held at once
//! across the whole scan (each object takes its listed size from a shared budget before it is
//! fetched, and gives it back once read; an object larger than the budget is read alone), and at
//! most `cloudtrail_s3_requests` S3 requests are in flight. Files are decompressed and parsed as
//! streams (only the kept events stay), on tokio's blocking threads.
//!
//! Who reads: the caller's credentials, or the `--cloudtrail-role` (typically in the log archive
//! account that owns the bucket), assumed once with `--external-id` and refreshed by the SDK.
//! The bucket's region is asked with HeadBucket (its `x-amz-bucket-region` answer, which S3 also
//! gives when it refuses), and the client built once in that region. Objects encrypted with
//! SSE-KMS are decrypted by S3 for a reader allowed `kms:Decrypt` on the key.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::collect::error::{describe, CollectError};
use crate::collect::needs::{Needs, Principal};
use crate::collect::options::{ScanOptions, TrailLocation};
use crate::collect::org::OrgAccount;
use crate::collect::pages::Pages;
use crate::input::cloudtrail::{FileRead, Keep, Skipped};
use crate::inventory::{DataSource, Event};

/// Files of one account being fetched or waiting for the memory budget, at most.
const TASKS_PER_ACCOUNT: usize = 64;

/// What reading the trail needs, from whoever reads it: the caller, or `--cloudtrail-role`.
/// `s3:ListBucket` covers HeadBucket and ListObjectsV2 (on `PREFIX/AWSLogs/*` only);
/// `kms:Decrypt` is what S3 asks for a reader of SSE-KMS objects (no call of the scan names it).
pub const NEEDS: Needs = Needs {
    principal: Principal::TrailReader,
    actions: &["s3:ListBucket", "s3:GetObject", "kms:Decrypt"],
};

/// The organization trail's bucket, opened once per scan and read for each account.
pub struct Trail {
    client: aws_sdk_s3::Client,
    location: TrailLocation,
    /// The folders of each account's `CloudTrail/` (`…/AWSLogs/<org-id>/<account>/`,
    /// `…/AWSLogs/<account>/`).
    accounts: BTreeMap<String, Vec<String>>,
    /// The regions read; `None`: every region folder found.
    regions: Option<Vec<String>>,
    keep: Arc<Keep>,
    /// KiB of object bodies held at once.
    budget: Arc<Semaphore>,
    budget_kib: u32,
    /// S3 requests in flight.
    requests: Arc<Semaphore>,
    /// Remarks for the inventory (the layout found).
    pub notes: Vec<String>,
}

/// What one account's log files gave.
#[derive(Debug, Default)]
pub struct TrailRead {
    pub events: Vec<Event>,
    /// How the events were read (files, records, what was skipped).
    pub notes: Vec<String>,
    /// Objects read.
    pub files: usize,
    /// Compressed bytes fetched.
    pub bytes: u64,
}

fn call_error(call: impl Into<String>, e: &impl std::error::Error) -> CollectError {
    CollectError::call(DataSource::Cloudtrail, call, e)
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Trail {
    /// Builds the S3 client (as the caller, or as `--cloudtrail-role`) in the bucket's region,
    /// and finds the account folders under `PREFIX/AWSLogs/`. `org_id` is the scanned
    /// Organization's.
    ///
    /// # Errors
    ///
    /// The role cannot be assumed, the bucket does not exist, or `PREFIX/AWSLogs/` cannot be
    /// listed: every account's CloudTrail is then missing (the accounts are partial).
    pub async fn open(
        config: &SdkConfig,
        opts: &ScanOptions,
        location: &TrailLocation,
        org_id: Option<&str>,
    ) -> Result<Trail, CollectError> {
        let mut config = config.clone();
        if let Some(arn) = &opts.cloudtrail_role {
            let mut builder = aws_config::sts::AssumeRoleProvider::builder(arn)
                .session_name(&opts.session_name)
                .configure(&config);
            if let Some(id) = &opts.external_id {
                builder = builder.external_id(id);
            }
            let provider = builder.build().await;
            // Assumed now, so that a refusal is told as such; the SDK's cache is handed these
            // first credentials, and asks the provider again when they are about to expire.
            let first = provider
                .provide_credentials()
                .await
                .map_err(|e| CollectError::Call {
                    data_source: DataSource::Cloudtrail,
                    call: format!("AssumeRole {arn} (--cloudtrail-role)"),
                    message: describe(&e),
                })?;
            let provider = FirstThen {
                first: std::sync::Mutex::new(Some(first)),
                then: provider,
            };
            config = config
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .build();
        }
        let client_in = |region: Option<Region>| {
            let mut b = aws_sdk_s3::config::Builder::from(&config).retry_partition(
                aws_sdk_s3::config::retry::RetryPartition::new("cloudtrail-s3"),
            );
            if let Some(r) = region {
                b = b.region(r);
            }
            aws_sdk_s3::Client::from_conf(b.build())
        };
        let mut client = client_in(None);
        // The bucket's region: S3 says it in `x-amz-bucket-region`, even when it refuses.
        let region = match client.head_bucket().bucket(&location.bucket).send().await {
            Ok(out) => out.bucket_region().map(str::to_string),
            Err(e) => {
                let raw = e.raw_response();
                let region = raw
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_string);
                if region.is_none() && raw.is_some_and(|r| r.status().as_u16() == 404) {
                    return Err(CollectError::Call {
                        data_source: DataSource::Cloudtrail,
                        call: format!("HeadBucket s3://{}", location.bucket),
                        message: "no such bucket".into(),
                    });
                }
                region
            }
        };
        if let Some(r) = region.filter(|r| config.region().is_none_or(|c| c.as_ref() != r)) {
            client = client_in(Some(Region::new(r)));
        }
        let budget_kib =
            u32::try_from((opts.cloudtrail_s3_memory / 1024).max(64)).unwrap_or(u32::MAX >> 4);
        let mut trail = Trail {
            client,
            location: location.clone(),
            accounts: BTreeMap::new(),
            regions: if opts.cloudtrail_regions.iter().any(|r| r == "all") {
                None
            } else {
                Some(opts.cloudtrail_regions.clone())
            },
            keep: Arc::new(Keep::names(opts.event_names.iter().cloned())),
            budget: Arc::new(Semaphore::new(budget_kib as usize)),
            budget_kib,
            requests: Arc::new(Semaphore::new(opts.cloudtrail_s3_requests.max(1))),
            notes: Vec::new(),
        };
        trail.find_accounts(org_id).await?;
        Ok(trail)
    }

    /// The sub-folders of `prefix` (names without the `/`), listed with delimiter `/`.
    async fn folders(&self, prefix: &str) -> Result<Vec<String>, CollectError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = Pages::new(
            DataSource::Cloudtrail,
            format!("ListObjectsV2 {}", self.location.url(prefix)),
        );
        loop {
            let page = {
                let _slot = self.requests.acquire().await;
                self.client
                    .list_objects_v2()
                    .bucket(&self.location.bucket)
                    .prefix(prefix)
                    .delimiter("/")
                    .set_continuation_token(token.clone())
                    .send()
                    .await
                    .map_err(|e| {
                        call_error(format!("ListObjectsV2 {}", self.location.url(prefix)), &e)
                    })?
            };
            out.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix())
                    .filter_map(|p| p.strip_prefix(prefix))
                    .map(|p| p.trim_end_matches('/').to_string()),
            );
            token = pages.next(page.next_continuation_token())?;
            if token.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// The account folders: `AWSLogs/<org-id>/<account>/` of the scanned Organization (any
    /// Organization's when its id is unknown) and `AWSLogs/<account>/`.
    async fn find_accounts(&mut self, org_id: Option<&str>) -> Result<(), CollectError> {
        let logs = self.location.logs();
        let top = self.folders(&logs).await?;
        let orgs: Vec<&String> = top
            .iter()
            .filter(|f| f.starts_with("o-"))
            .filter(|f| org_id.is_none_or(|id| *f == id))
            .collect();
        let others: Vec<&String> = top
            .iter()
            .filter(|f| f.starts_with("o-") && !orgs.contains(f))
            .collect();
        if !others.is_empty() {
            self.notes.push(format!(
                "{}{logs} also holds the folders of other Organizations ({}); not read",
                self.location.url(""),
                others
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for org in orgs {
            let base = format!("{logs}{org}/");
            for account in self.folders(&base).await? {
                if is_account(&account) {
                    let folder = format!("{base}{account}/");
                    self.accounts.entry(account).or_default().push(folder);
                }
            }
        }
        for account in top.iter().filter(|f| is_account(f)) {
            self.accounts
                .entry(account.clone())
                .or_default()
                .push(format!("{logs}{account}/"));
        }
        if self.accounts.is_empty() {
            self.notes.push(format!(
                "no account folders under {}: is it the trail's bucket and prefix?",
                self.location.url(&logs)
            ));
        }
        Ok(())
    }

    /// One account's events between `since` and `until`, from the log files of the days in
    /// between, in `iam_region` (the partition's IAM events region) or the regions asked.
    ///
    /// # Errors
    ///
    /// The account has no folder in the bucket, or a listing or an object cannot be read (the
    /// first failure by message among those seen; no file is fetched after one: the account's
    /// CloudTrail is missing either way).
    pub async fn collect(
        &self,
        account: &OrgAccount,
        iam_region: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<TrailRead, CollectError> {
        let Some(bases) = self.accounts.get(&account.id) else {
            return Err(CollectError::NoTrailFolder {
                account: account.id.clone(),
                location: self.location.url(&self.location.logs()),
            });
        };
        // Region folders to read.
        let mut folders: Vec<(String, String)> = Vec::new();
        for base in bases {
            let trail = format!("{base}CloudTrail/");
            let regions = match &self.regions {
                Some(list) if list.is_empty() => vec![iam_region.to_string()],
                Some(list) => list.clone(),
                None => self.folders(&trail).await?,
            };
            for region in regions {
                folders.push((format!("{trail}{region}/"), region));
            }
        }
        let days = days_between(since.date_naive(), until.date_naive());
        // The files of every day, listed in parallel.
        let mut listings = JoinSet::new();
        for (folder, region) in &folders {
            for (i, day) in days.iter().enumerate() {
                let prefix = format!("{folder}{}/", day.format("%Y/%m/%d"));
                // The first day: only the files delivered from an hour before `since` on (a
                // file holds events of the minutes before its delivery time, in its name).
                let start_after = (i == 0).then(|| {
                    let from = since - chrono::Duration::hours(1);
                    format!(
                        "{prefix}{}_CloudTrail_{region}_{}",
                        account.id,
                        from.format("%Y%m%dT%H%MZ")
                    )
                });
                let client = self.client.clone();
                let bucket = self.location.bucket.clone();
                let requests = self.requests.clone();
                listings.spawn(async move {
                    list_files(&client, &bucket, &prefix, start_after, &requests).await
                });
            }
        }
        let mut objects: Vec<(String, i64)> = Vec::new();
        let mut failures: Vec<CollectError> = Vec::new();
        while let Some(done) = listings.join_next().await {
            match done {
                Ok(Ok(found)) => objects.extend(found),
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(joined(&e)),
            }
        }
        if let Some(e) = first(std::mem::take(&mut failures)) {
            return Err(e);
        }
        objects.sort();
        // Every file, fetched and read in parallel within the memory budget.
        let mut reads = JoinSet::new();
        let mut files = Vec::new();
        let settle =
            |done: Result<Result<(u64, FileRead), CollectError>, tokio::task::JoinError>,
             files: &mut Vec<(u64, FileRead)>,
             failures: &mut Vec<CollectError>| match done {
                Ok(Ok(read)) => files.push(read),
                Ok(Err(e)) => failures.push(e),
                Err(e) => failures.push(joined(&e)),
            };
        for (key, size) in objects {
            // A bounded number of tasks per account (the files of a year are many), and none
            // once a file could not be read: the account's CloudTrail is missing anyway.
            while reads.len() >= TASKS_PER_ACCOUNT {
                if let Some(done) = reads.join_next().await {
                    settle(done, &mut files, &mut failures);
                }
            }
            if !failures.is_empty() {
                break;
            }
            let kib = u32::try_from(size.max(0).unsigned_abs().div_ceil(1024))
                .unwrap_or(u32::MAX)
                .clamp(1, self.budget_kib);
            let client = self.client.clone();
            let bucket = self.location.bucket.clone();
            let requests = self.requests.clone();
            let budget = self.budget.clone();
            let keep = self.keep.clone();
            let id = account.id.clone();
            reads.spawn(async move {
                // Held until the file is read: the body is in memory that long.
                let _memory = budget.acquire_many_owned(kib).await;
                let url = format!("s3://{bucket}/{key}");
                let body = {
                    let _slot = requests.acquire().await;
                    let out = client
                        .get_object()
                        .bucket(&bucket)
                        .key(&key)
                        .send()
                        .await
                        .map_err(|e| call_error(format!("GetObject {url}"), &e))?;
                    out.body
                        .collect()
                        .await
                        .map_err(|e| call_error(format!("GetObject {url}"), &e))?
                        .into_bytes()
                };
                let size = body.len() as u64;
                let read =
                    tokio::task::spawn_blocking(move || read_object(&body, &url, &id, &keep))
                        .await
                        .map_err(|e| joined(&e))?;
                Ok::<_, CollectError>((size, read))
            });
        }
        while let Some(done) = reads.join_next().await {
            settle(done, &mut files, &mut failures);
        }
        if let Some(e) = first(failures) {
            return Err(e);
        }
        Ok(self.merge(account, files, &folders, &days, since, until))
    }

    /// The events of one account's files, each record once, within `since..=until`.
    fn merge(
        &self,
        account: &OrgAccount,
        files: Vec<(u64, FileRead)>,
        folders: &[(String, String)],
        days: &[NaiveDate],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> TrailRead {
        let mut out = TrailRead {
            files: files.len(),
            ..TrailRead::default()
        };
        let mut seen: HashSet<String> = HashSet::new();
        let mut records = 0u64;
        let mut duplicates = 0u64;
        let mut skipped: Vec<Skipped> = Vec::new();
        for (size, read) in files {
            out.bytes += size;
            records += read.records;
            skipped.extend(read.skipped);
            for (id, mut event) in read.events {
                if event.time < since || event.time > until {
                    continue;
                }
                if let Some(id) = id {
                    if !seen.insert(id) {
                        duplicates += 1;
                        continue;
                    }
                }
                if event.account_id == account.id {
                    event.account_name.clone_from(&account.name);
                }
                out.events.push(event);
            }
        }
        let regions: BTreeSet<&str> = folders.iter().map(|(_, r)| r.as_str()).collect();
        let mut note = format!(
            "CloudTrail from {} ({}; {} to {}): {} log file(s), {} records, {} events kept",
            self.location,
            regions.into_iter().collect::<Vec<_>>().join(", "),
            days.first().map(ToString::to_string).unwrap_or_default(),
            days.last().map(ToString::to_string).unwrap_or_default(),
            out.files,
            records,
            out.events.len()
        );
        if duplicates > 0 {
            note.push_str(&format!(
                ", {duplicates} records seen twice (same eventID) kept once"
            ));
        }
        if !skipped.is_empty() {
            skipped.sort_by(|a, b| (&a.file, a.record).cmp(&(&b.file, b.record)));
            let in_files: BTreeSet<&str> = skipped.iter().map(|s| s.file.as_str()).collect();
            note.push_str(&format!(
                "; {} skipped as unreadable in {} file(s), first: {}",
                skipped.len(),
                in_files.len(),
                skipped[0]
            ));
            tracing::warn!(account = %account.id, "{note}");
        }
        out.notes.push(note);
        out
    }
}

/// Credentials already had, then a provider's.
#[derive(Debug)]
struct FirstThen<P> {
    first: std::sync::Mutex<Option<aws_credential_types::Credentials>>,
    then: P,
}

impl<P: ProvideCredentials> ProvideCredentials for FirstThen<P> {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        let first = self.first.lock().ok().and_then(|mut f| f.take());
        match first {
            Some(c) => aws_credential_types::provider::future::ProvideCredentials::ready(Ok(c)),
            None => self.then.provide_credentials(),
        }
    }
}

/// Every day from `first` to `last`, both included.
fn days_between(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// The first error by message among those seen (the same whichever finished first).
fn first(mut errors: Vec<CollectError>) -> Option<CollectError> {
    errors.sort_by_key(ToString::to_string);
    errors.into_iter().next()
}

fn joined(e: &tokio::task::JoinError) -> CollectError {
    CollectError::Request {
        data_source: DataSource::Cloudtrail,
        message: format!("reading the trail's files stopped: {e}"),
    }
}

/// The objects (key, size) under one day's prefix, paginated.
async fn list_files(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    start_after: Option<String>,
    requests: &Semaphore,
) -> Result<Vec<(String, i64)>, CollectError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = Pages::new(
        DataSource::Cloudtrail,
        format!("ListObjectsV2 s3://{bucket}/{prefix}"),
    );
    loop {
        let page = {
            let _slot = requests.acquire().await;
            client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_start_after(start_after.clone())
                .set_continuation_token(token.clone())
                .send()
                .await
                .map_err(|e| call_error(format!("ListObjectsV2 s3://{bucket}/{prefix}"), &e))?
        };
        out.extend(page.contents().iter().filter_map(|o| {
            let key = o.key()?;
            (!key.ends_with('/')).then(|| (key.to_string(), o.size().unwrap_or(0)))
        }));
        token = pages.next(page.next_continuation_token())?;
        if token.is_none() {
            break;
        }
    }
    Ok(out)
}

/// One object's records, gzip or not (told by content, as for files given to `evaluate`).
fn read_object(body: &[u8], url: &str, account: &str, keep: &Keep) -> FileRead {
    crate::input::cloudtrail::read_bytes(body, url, Some(account), keep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_inclusive() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            days_between(d("2026-02-27"), d("2026-03-01")),
            vec![d("2026-02-27"), d("2026-02-28"), d("2026-03-01")]
        );
        assert_eq!(days_between(d("2026-03-01"), d("2026-03-01")).len(), 1);
    }

    #[test]
    fn objects_are_read_gzip_or_not() {
        use std::io::Write;
        let record = r#"{"Records":[{"eventVersion":"1.09","eventTime":"2026-03-05T10:00:00Z","eventName":"CreateUser","eventID":"e1","recipientAccountId":"111111111111","requestParameters":{"userName":"bob"}},{"eventTime":"2026-03-05T10:00:00Z","eventName":"GetUser","eventID":"e2"}]}"#;
        let keep = Keep::names(["CreateUser"]);
        let plain = read_object(record.as_bytes(), "s3://b/k", "111111111111", &keep);
        assert_eq!((plain.records, plain.events.len()), (2, 1));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(record.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let read = read_object(&gz, "s3://b/k", "111111111111", &keep);
        assert_eq!(read.events.len(), 1);
        assert_eq!(read.events[0].1.resources, vec!["bob".to_string()]);
        // Cut short: what was read is kept, and the file is named as damaged.
        let cut = read_object(&gz[..gz.len() / 2], "s3://b/k", "111111111111", &keep);
        assert!(!cut.skipped.is_empty());
        assert!(cut.skipped[0].reason.contains("gzip"), "{:?}", cut.skipped);
        let junk = read_object(b"\x00\x01 not json", "s3://b/junk", "111111111111", &keep);
        assert_eq!(junk.events.len(), 0);
        assert_eq!(junk.skipped.len(), 1, "{:?}", junk.skipped);
    }
}
