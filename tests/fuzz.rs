//! The fuzz targets of `fuzz/` on the stable toolchain, for a bounded time: each target gets
//! inputs mutated from real files of its format (the examples, the test data, the shipped
//! packs) and random bytes, and must never panic. Deterministic for a seed.
//!
//! `FUZZ_SECONDS` (per target, default 2), `FUZZ_SEED` (default 1), `FUZZ_CASES` (a cap
//! per target) and `FUZZ_TARGETS` (a comma-separated list; default all) set the run: `FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture`
//! is the long run the README quotes. A crashing input is saved under
//! `target/fuzz-crashes/<target>-<n>.bin` and named in the failure; replay it with
//! `cargo +nightly fuzz run <target> target/fuzz-crashes/<file>` or `FUZZ_REPLAY=<file>`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// xorshift64*: small, fast, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Tokens that matter to the readers: delimiters, the credential report's and CloudTrail's
/// special values, times at the edges, numbers that overflow, Rhai that loops or sorts NaN.
const DICTIONARY: &[&[u8]] = &[
    b"\"",
    b",",
    b"\r\n",
    b"\n",
    b"\0",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"null",
    b"N/A",
    b"no_information",
    b"not_supported",
    b"<root_account>",
    b"true",
    b"false",
    b"9999-12-31T23:59:59Z",
    b"0000-00-00 00:00:00",
    b"2026-02-30T25:61:61+99:99",
    b"-1",
    b"18446744073709551616",
    b"1e309",
    b"NaN",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"\"Records\":[",
    b"\"eventName\":\"DeleteAccessKey\"",
    b"\"eventTime\":1772791200000",
    b"\"Content\":\"",
    b"schema_version",
    b"{p.days}",
    b"{user.name}",
    b"[1.0, 0.0/0.0, 2.0].sort()",
    b"loop {}",
    b"&&",
    b"||",
    b" | ",
    b"/*",
    b"*/",
    b"!!binary",
    b"&a [*a, *a, *a, *a]",
    b"---\n",
    b"\t",
    b"=HYPERLINK(",
    b"Configurada",
    b"Nunca",
    b"AKIAIOSFODNN7EXAMPLE",
];

/// The seed inputs of a target: its files, and the files under its folders (up to 1 MiB each,
/// sorted, so the run is the same on every machine).
fn seeds(paths: &[&str]) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack: Vec<PathBuf> = paths.iter().map(|p| root.join(p)).collect();
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&p)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            entries.sort();
            stack.extend(entries);
        } else {
            files.push(p);
        }
    }
    files.sort();
    files
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .filter(|b| b.len() <= 1 << 20)
        .collect()
}

/// One input: a seed changed by a few mutations, or random bytes.
fn input(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if seeds.is_empty() || rng.below(16) == 0 {
        let n = rng.below(512);
        return (0..n).map(|_| rng.next() as u8).collect();
    }
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(8) {
        let len = data.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = *b"\",\n{}[]:\\=$\x1b\0\xff"
                    .get(rng.below(15))
                    .unwrap_or(&b'x');
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                data.drain(a..b);
            }
            3 if len > 0 => {
                let a = rng.below(len);
                let b = (a + rng.below(64)).min(len);
                let copy = data[a..b].to_vec();
                let at = rng.below(data.len() + 1);
                data.splice(at..at, copy);
            }
            4 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, token.iter().copied());
            }
            5 if len > 0 => data.truncate(rng.below(len)),
            6 => {
                // Splice in part of another seed.
                let other = &seeds[rng.below(seeds.len())];
                if !other.is_empty() {
                    let a = rng.below(other.len());
                    let b = (a + rng.below(256)).min(other.len());
                    let at = rng.below(len + 1);
                    data.splice(at..at, other[a..b].iter().copied());
                }
            }
            _ => {
                // A long run of one byte: field and line length limits.
                let at = rng.below(len + 1);
                let byte = *b"A\"{[ ,\n".get(rng.below(7)).unwrap_or(&b'A');
                data.splice(at..at, std::iter::repeat_n(byte, 1 + rng.below(70_000)));
            }
        }
    }
    data
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn every_target_survives_mutated_and_random_inputs() {
    if let Ok(file) = std::env::var("FUZZ_REPLAY") {
        let name = Path::new(&file).file_name().unwrap().to_string_lossy();
        let target = name.rsplit_once('-').map_or(name.as_ref(), |(t, _)| t);
        targets::run(target, &std::fs::read(&file).unwrap());
        return;
    }
    let seconds = env_u64("FUZZ_SECONDS", 2);
    let cap = env_u64("FUZZ_CASES", u64::MAX);
    let seed = env_u64("FUZZ_SEED", 1).max(1);
    let crashes_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes");
    let mut crashes: Vec<String> = Vec::new();
    let mut total = 0u64;
    let only = std::env::var("FUZZ_TARGETS").unwrap_or_default();
    for (target, paths) in targets::TARGETS {
        if !only.is_empty() && !only.split(',').any(|t| t == *target) {
            continue;
        }
        let seeds = seeds(paths);
        assert!(!seeds.is_empty(), "{target}: no seed files in {paths:?}");
        let mut rng = Rng(seed ^ (target.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let started = Instant::now();
        let mut cases = 0u64;
        while started.elapsed() < Duration::from_secs(seconds) && cases < cap {
            let data = input(&mut rng, &seeds);
            cases += 1;
            let outcome = std::panic::catch_unwind(|| targets::run(target, &data));
            if outcome.is_err() {
                std::fs::create_dir_all(&crashes_dir).unwrap();
                let file = crashes_dir.join(format!("{target}-{}.bin", crashes.len()));
                std::fs::write(&file, &data).unwrap();
                crashes.push(file.display().to_string());
            }
        }
        // Every seed itself, unchanged, too.
        for s in &seeds {
            targets::run(target, s);
        }
        eprintln!(
            "fuzz {target}: {cases} inputs in {:.1} s, {} seed files",
            started.elapsed().as_secs_f64(),
            seeds.len()
        );
        total += cases;
    }
    eprintln!("fuzz: {total} inputs, {} crashes", crashes.len());
    assert!(crashes.is_empty(), "inputs that crashed: {crashes:?}");
}
