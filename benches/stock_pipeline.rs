//! Benchmark of the offline pipeline on a large stock CSV (run: `cargo bench --bench
//! stock_pipeline`; rows and accounts can be set with `BENCH_ROWS` and `BENCH_ACCOUNTS`).
//!
//! 1. Generates a deterministic stock report of 1,000,000 credential rows over 1,000 accounts
//!    (through the crate's own writer) into `target/bench-data/`.
//! 2. Times parsing it alone, in-process (best of 3).
//! 3. Runs the release binary, `evaluate` with the stock pack and every output written, under
//!    `/usr/bin/time -v` when present, and reports wall time, rows/s and peak RSS.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use iam_audit::inventory::stock_csv::{read_report, write_report, WriteOptions};
use iam_audit::inventory::{
    AccessKey, Account, Inventory, KeyStatus, MfaDevice, MfaType, SourceKind, User,
};

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
}

const SERVICES: [&str; 8] = [
    "s3",
    "ec2",
    "dynamodb",
    "iam",
    "sts",
    "lambda",
    "sqs",
    "cloudformation",
];
const SHARED_NAMES: [&str; 5] = ["deploy-user", "terraform", "backup", "monitoring", "ci"];

fn generate(rows: usize, accounts: usize) -> Inventory {
    let as_of = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
    let mut rng = Lcg(42);
    let mut inv = Inventory::new(SourceKind::StockCsv);
    let per_account = rows / accounts;
    for a in 0..accounts {
        let id = format!("{:012}", 100_000_000_000u64 + a as u64 * 7919);
        let name = if a % 4 == 0 {
            format!("Prod-{a}")
        } else {
            format!("Dev-{a}")
        };
        let mut account = Account::new(id, name);
        let mut account_rows = 0;
        let mut u = 0;
        while account_rows < per_account {
            let name = if u < SHARED_NAMES.len() {
                SHARED_NAMES[u].to_string()
            } else {
                format!("user-{a}-{u}")
            };
            let mut user = User::named(name);
            if rng.below(3) == 0 {
                user.password.enabled = true;
                if rng.below(4) != 0 {
                    user.password.last_used =
                        Some(as_of - Duration::minutes(rng.below(600 * 24 * 60) as i64));
                }
                if rng.below(3) != 0 {
                    user.mfa_devices.push(MfaDevice {
                        serial: None,
                        kind: if rng.below(5) == 0 {
                            MfaType::Hardware
                        } else {
                            MfaType::Virtual
                        },
                        enabled_at: None,
                    });
                }
            }
            let keys = match rng.below(10) {
                0 => 0,
                1..=6 => 1,
                _ => 2,
            }
            .min(per_account - account_rows);
            for k in 0..keys {
                let created = as_of - Duration::minutes(rng.below(5 * 365 * 24 * 60) as i64);
                let used = (rng.below(5) != 0)
                    .then(|| as_of - Duration::minutes(rng.below(400 * 24 * 60) as i64))
                    .filter(|t| *t > created);
                user.access_keys.push(AccessKey {
                    id: format!("AKIA{:016}", (a * 1_000_000 + u * 2 + k) as u64),
                    status: if rng.below(6) == 0 {
                        KeyStatus::Inactive
                    } else {
                        KeyStatus::Active
                    },
                    created,
                    last_used: used,
                    last_used_service: used.map(|_| SERVICES[rng.below(8) as usize].to_string()),
                    last_used_region: None,
                    ..Default::default()
                });
            }
            account_rows += keys.max(1);
            account.users.push(user);
            u += 1;
        }
        inv.accounts.push(account);
    }
    inv.normalize();
    inv
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let rows = env_usize("BENCH_ROWS", 1_000_000);
    let accounts = env_usize("BENCH_ACCOUNTS", 1_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("target/bench-data");
    std::fs::create_dir_all(&data).unwrap();
    let csv = data.join(format!("iam_audit_report_20260306_120000_{rows}.csv"));
    // The stamp must be the last one in the name for as_of: keep a canonical name too.
    let input = data.join(format!("r{rows}/iam_audit_report_20260306_120000.csv"));
    if !input.exists() {
        let started = Instant::now();
        let inv = generate(rows, accounts);
        let file = std::fs::File::create(&csv).unwrap();
        write_report(
            &inv,
            &WriteOptions { keys_only: false },
            std::io::BufWriter::new(file),
        )
        .unwrap();
        std::fs::create_dir_all(input.parent().unwrap()).unwrap();
        std::fs::rename(&csv, &input).unwrap();
        eprintln!(
            "generated {} in {:.1}s",
            input.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let bytes = std::fs::read(&input).unwrap();
    #[allow(clippy::naive_bytecount)] // one count of a benchmark's input
    let lines = bytes.iter().filter(|b| **b == b'\n').count() - 1;
    println!(
        "input: {} rows over {accounts} accounts, {:.1} MB",
        lines,
        bytes.len() as f64 / 1e6
    );

    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let inv = read_report(Path::new("bench.csv"), &bytes).unwrap();
        best = best.min(started.elapsed().as_secs_f64());
        assert!(inv.key_count() > 0);
    }
    println!(
        "parse alone: {best:.2} s ({:.0} rows/s)",
        lines as f64 / best
    );

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_iam-audit"));
    let out = data.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-v").arg(&bin);
        c
    } else {
        Command::new(&bin)
    };
    cmd.args(["evaluate", "--quiet", "--fail-on", "none", "--out"])
        .arg(&out)
        .arg(&input);
    let started = Instant::now();
    let output = cmd.output().unwrap();
    let wall = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.code().is_some_and(|c| c == 0 || c == 3),
        "evaluate failed: {stderr}"
    );
    let rss_kb: Option<u64> = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok());
    let written: u64 = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "evaluate (stock pack, all outputs, {:.0} MB written): {wall:.2} s ({:.0} rows/s), peak RSS {}",
        written as f64 / 1e6,
        lines as f64 / wall,
        rss_kb.map_or_else(|| "n/a (no /usr/bin/time)".into(), |k| format!("{:.0} MB", k as f64 / 1024.0))
    );
}
