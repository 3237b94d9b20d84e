//! Benchmark of reading CloudTrail files (`evaluate --events`): throughput per core and peak
//! memory (run: `cargo bench --no-default-features --bench cloudtrail_read`; sizes in MB of
//! uncompressed JSON with `BENCH_CT_MB`, default `100,1000`).
//!
//! 1. Generates, once, deterministic logs into `target/bench-data/cloudtrail/<size>mb/`: an
//!    organization trail's tree of gzip log files (`AWSLogs/o-…/<account>/CloudTrail/<region>/
//!    YYYY/MM/DD/…json.gz`, about 8 MB of JSON each, records of 1-2 KB: mostly `AssumeRole`,
//!    S3 `GetObject` data events and `Describe*` calls, one in a thousand an IAM event the
//!    reader keeps) and the same records as one JSON Lines file (`one.jsonl.gz`), read by one
//!    thread.
//! 2. Reads each with `input::cloudtrail::read_paths` in a child process run under
//!    `/usr/bin/time -v`, and reports the wall time, MB/s of uncompressed JSON, MB/s per core
//!    (bytes over user + system CPU seconds) and the peak RSS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use flate2::write::GzEncoder;
use flate2::Compression;
use iam_audit::input::cloudtrail::{read_paths, Keep};
use rayon::prelude::*;

/// A small deterministic pseudo-random generator (no dependency, same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
    fn upper(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[self.below(32) as usize]))
            .collect()
    }
    fn uuid(&mut self) -> String {
        format!(
            "{}-{}-4{}-8{}-{}",
            self.hex(8),
            self.hex(4),
            self.hex(3),
            self.hex(3),
            self.hex(12)
        )
    }
}

const ACCOUNTS: [&str; 4] = [
    "111111111111",
    "222222222222",
    "333333333333",
    "444444444444",
];
const KEPT: [&str; 4] = [
    "CreateAccessKey",
    "ConsoleLogin",
    "DeleteAccessKey",
    "CreateUser",
];

/// One record of about 1-2 KB.
fn record(rng: &mut Lcg, account: &str, minute: u64, out: &mut String) {
    let time = format!(
        "2026-03-05T{:02}:{:02}:{:02}Z",
        (minute / 60) % 24,
        minute % 60,
        rng.below(60)
    );
    let event_id = rng.uuid();
    let request_id = rng.uuid();
    let session = format!("i-0{}", rng.hex(16));
    let role = format!("app-role-{}", rng.below(40));
    let tls = r#""tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sts.us-east-1.amazonaws.com"}"#;
    match rng.below(1000) {
        0 => {
            let name = KEPT[rng.below(KEPT.len() as u64) as usize];
            let user = format!("user-{}", rng.below(500));
            let key = format!("AKIA{}", rng.upper(16));
            write!(
                out,
                r#"{{"eventVersion":"1.09","userIdentity":{{"type":"IAMUser","principalId":"AIDA{p}","arn":"arn:aws:iam::{account}:user/admin","accountId":"{account}","accessKeyId":"AKIA{k}","userName":"admin"}},"eventTime":"{time}","eventSource":"iam.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.{ip}","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64","requestParameters":{{"userName":"{user}","accessKeyId":"{key}"}},"responseElements":null,"requestID":"{request_id}","eventID":"{event_id}","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management",{tls}}}"#,
                p = rng.upper(17),
                k = rng.upper(16),
                ip = rng.below(250),
            )
            .unwrap();
        }
        1..=449 => {
            write!(
                out,
                r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AWSService","invokedBy":"ec2.amazonaws.com"}},"eventTime":"{time}","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"ec2.amazonaws.com","userAgent":"ec2.amazonaws.com","requestParameters":{{"roleArn":"arn:aws:iam::{account}:role/{role}","roleSessionName":"{session}","durationSeconds":3600}},"responseElements":{{"credentials":{{"accessKeyId":"ASIA{k}","sessionToken":"IQoJb3JpZ2luX2VjE{token}","expiration":"Mar 5, 2026, 4:00:00 PM"}},"assumedRoleUser":{{"assumedRoleId":"AROA{r}:{session}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{session}"}}}},"requestID":"{request_id}","eventID":"{event_id}","readOnly":true,"resources":[{{"accountId":"{account}","type":"AWS::IAM::Role","ARN":"arn:aws:iam::{account}:role/{role}"}}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","sharedEventID":"{shared}","eventCategory":"Management",{tls}}}"#,
                k = rng.upper(16),
                token = rng.hex(300),
                r = rng.upper(17),
                shared = rng.uuid(),
            )
            .unwrap();
        }
        450..=849 => {
            let bucket = format!("data-{}-{}", account, rng.below(8));
            let key = format!("prefix/{}/part-{}.parquet", rng.hex(8), rng.below(10_000));
            write!(
                out,
                r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROA{r}:{session}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{session}","accountId":"{account}","accessKeyId":"ASIA{k}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{r}","arn":"arn:aws:iam::{account}:role/{role}","accountId":"{account}","userName":"{role}"}},"attributes":{{"creationDate":"2026-03-05T09:00:00Z","mfaAuthenticated":"false"}},"ec2RoleDelivery":"2.0"}}}},"eventTime":"{time}","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"10.0.{a}.{b}","userAgent":"[aws-sdk-java/2.25.0 Linux/6.1 OpenJDK_64-Bit_Server_VM/17.0.10]","requestParameters":{{"bucketName":"{bucket}","Host":"{bucket}.s3.us-east-1.amazonaws.com","key":"{key}"}},"responseElements":null,"additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"{id2}","bytesTransferredOut":{out_bytes}}},"requestID":"{rid}","eventID":"{event_id}","readOnly":true,"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::{bucket}/{key}"}},{{"accountId":"{account}","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::{bucket}"}}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"{account}","eventCategory":"Data",{tls}}}"#,
                r = rng.upper(17),
                k = rng.upper(16),
                a = rng.below(256),
                b = rng.below(256),
                id2 = rng.hex(76),
                out_bytes = rng.below(10_000_000),
                rid = rng.upper(16),
            )
            .unwrap();
        }
        _ => {
            let name =
                ["DescribeInstances", "ListBuckets", "GetCallerIdentity"][rng.below(3) as usize];
            write!(
                out,
                r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROA{r}:{session}","arn":"arn:aws:sts::{account}:assumed-role/{role}/{session}","accountId":"{account}","accessKeyId":"ASIA{k}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{r}","arn":"arn:aws:iam::{account}:role/{role}","accountId":"{account}","userName":"{role}"}},"attributes":{{"creationDate":"2026-03-05T09:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{a}","userAgent":"Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.12.2","requestParameters":{{"instancesSet":{{}},"filterSet":{{"items":[{{"name":"tag:Environment","valueSet":{{"items":[{{"value":"production"}}]}}}}]}}}},"responseElements":null,"requestID":"{request_id}","eventID":"{event_id}","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management",{tls}}}"#,
                r = rng.upper(17),
                k = rng.upper(16),
                a = rng.below(250),
            )
            .unwrap();
        }
    }
}

/// Bytes of uncompressed JSON per log file.
const FILE_BYTES: usize = 8_000_000;

/// Generates the tree and the JSON Lines file of about `mb` MB of JSON under `dir`.
fn generate(dir: &Path, mb: usize) {
    let files = (mb * 1_000_000).div_ceil(FILE_BYTES);
    let tree = dir.join("tree");
    let written: Vec<Vec<u8>> = (0..files)
        .into_par_iter()
        .map(|i| {
            let account = ACCOUNTS[i % ACCOUNTS.len()];
            let mut rng = Lcg(i as u64 + 1);
            let mut body = String::with_capacity(FILE_BYTES + 4096);
            let mut lines = String::with_capacity(FILE_BYTES + 4096);
            body.push_str("{\"Records\":[");
            let mut n = 0u64;
            while body.len() < FILE_BYTES {
                if n > 0 {
                    body.push(',');
                }
                let at = lines.len();
                record(
                    &mut rng,
                    account,
                    (i as u64 * 7 + n / 100) % 1440,
                    &mut lines,
                );
                body.push_str(&lines[at..]);
                lines.push('\n');
                n += 1;
            }
            body.push_str("]}");
            let day = 1 + (i / ACCOUNTS.len()) % 28;
            let folder = tree.join(format!(
                "AWSLogs/o-bench12345/{account}/CloudTrail/us-east-1/2026/03/{day:02}"
            ));
            std::fs::create_dir_all(&folder).unwrap();
            let name = format!(
                "{account}_CloudTrail_us-east-1_202603{day:02}T{:04}Z_{i:016}.json.gz",
                i % 2400
            );
            let mut gz = GzEncoder::new(
                std::fs::File::create(folder.join(name)).unwrap(),
                Compression::fast(),
            );
            gz.write_all(body.as_bytes()).unwrap();
            gz.finish().unwrap();
            lines.into_bytes()
        })
        .collect();
    let mut gz = GzEncoder::new(
        std::fs::File::create(dir.join("one.jsonl.gz")).unwrap(),
        Compression::fast(),
    );
    for part in written {
        gz.write_all(&part).unwrap();
    }
    gz.finish().unwrap();
}

/// The child: reads the paths and prints bytes, records, events and seconds.
fn read(paths: &[PathBuf]) {
    let started = Instant::now();
    let read = read_paths(paths, &Keep::default_events(), false).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bytes={} records={} events={} skipped={} files={} secs={secs:.3}",
        read.bytes,
        read.records,
        read.events.len(),
        read.skipped.len(),
        read.files
    );
}

fn field<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
}

fn run(label: &str, path: &Path) {
    let exe = std::env::current_exe().unwrap();
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.arg("--read").arg(path);
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the reader failed: {stderr}");
    let get = |k: &str| -> f64 {
        stdout
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let bytes = get("bytes=");
    let secs = get("secs=");
    let cpu = field(&stderr, "User time (seconds):")
        .and_then(|v| v.parse::<f64>().ok())
        .zip(field(&stderr, "System time (seconds):").and_then(|v| v.parse::<f64>().ok()))
        .map(|(u, s)| u + s);
    let rss =
        field(&stderr, "Maximum resident set size (kbytes):").and_then(|v| v.parse::<f64>().ok());
    let mb = bytes / 1e6;
    println!(
        "{label}: {mb:.0} MB of JSON, {} records, {} events kept, {secs:.2} s read: {:.0} MB/s; \
         CPU {}: {} per core; peak RSS {}",
        get("records=") as u64,
        get("events=") as u64,
        mb / secs,
        cpu.map_or_else(|| "n/a".into(), |c| format!("{c:.2} s")),
        cpu.map_or_else(|| "n/a".into(), |c| format!("{:.0} MB/s", mb / c)),
        rss.map_or_else(
            || "n/a (no /usr/bin/time)".into(),
            |k| format!("{:.1} MB", k / 1024.0)
        ),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--read") {
        let paths: Vec<PathBuf> = args[at + 1..].iter().map(PathBuf::from).collect();
        read(&paths);
        return;
    }
    let sizes: Vec<usize> = std::env::var("BENCH_CT_MB")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data/cloudtrail");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "cores: {}, load average before: {}",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for mb in sizes {
        let dir = root.join(format!("{mb}mb"));
        let done = dir.join(".complete");
        if !done.exists() {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let started = Instant::now();
            generate(&dir, mb);
            std::fs::write(&done, b"").unwrap();
            eprintln!(
                "generated {} in {:.1}s",
                dir.display(),
                started.elapsed().as_secs_f64()
            );
        }
        run(&format!("{mb} MB org-trail tree (gzip)"), &dir.join("tree"));
        run(
            &format!("{mb} MB one JSON Lines file (gzip)"),
            &dir.join("one.jsonl.gz"),
        );
    }
}
