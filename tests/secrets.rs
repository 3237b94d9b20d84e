//! No secret anywhere: `scan` runs against the moto harness with known, distinctive values
//! for the secret access key, the session token, a web-identity token and the external id,
//! at every verbosity and with `IAM_AUDIT_LOG` asking the SDK for its trace logs; none of the
//! values (nor their base64, nor any part of a request signature, nor the credentials moto
//! hands out for the member accounts) appears on stdout, on stderr or in any output file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use common::{ago, hermetic, Moto};
use serde_json::json;

/// moto maps an access key it did not issue to its default account, the seeded management
/// account: these credentials are the caller's.
const ACCESS_KEY_ID: &str = "AKIACANARY7Q3ZX4KEY1";
const SECRET_ACCESS_KEY: &str = "SecretKeyCanary/7q3Zx+wJalrXUtnFEMIK7MDENG";
const SESSION_TOKEN: &str = "SessionTokenCanary7q3ZxIQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3Qt";
const WEB_IDENTITY_TOKEN: &str =
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3ZWJpZGNhbmFyeSJ9.WebIdentityCanary7q3ZxSignature";
const EXTERNAL_ID: &str = "ExternalIdCanary-7q3Zx";

/// The text that must appear nowhere: each secret, and what gives a signed request or a
/// credential of an assumed role away.
fn forbidden() -> Vec<String> {
    let mut out = Vec::new();
    for secret in [
        SECRET_ACCESS_KEY,
        SESSION_TOKEN,
        WEB_IDENTITY_TOKEN,
        EXTERNAL_ID,
    ] {
        out.push(secret.to_string());
        out.extend(base64_cores(secret));
    }
    for leak in [
        // SigV4: the Authorization header, its signature, presigned query strings.
        "AWS4-HMAC-SHA256",
        "Signature=",
        "X-Amz-Signature",
        "authorization:",
        "Authorization:",
        "x-amz-security-token",
        "X-Amz-Security-Token",
        // moto's session tokens (every assumed role's: the member accounts' credentials).
        "FQoGZXIvYXdzEBYaD",
        // STS answers and web-identity requests as the SDK would log them.
        "<SecretAccessKey>",
        "<SessionToken>",
        "WebIdentityToken=",
    ] {
        out.push(leak.to_string());
    }
    out
}

/// What stays of a secret's base64 (standard and URL-safe) wherever in a longer text it was
/// encoded: for each of the three alignments, the characters that depend on the secret alone.
fn base64_cores(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    for shift in 0..3 {
        let mut bytes = vec![b'#'; shift];
        bytes.extend_from_slice(secret.as_bytes());
        for engine in [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::URL_SAFE,
        ] {
            let encoded = engine.encode(&bytes);
            // Drop the group the padding bytes share, and the last (padded) group.
            let start = if shift == 0 { 0 } else { 4 };
            let core = &encoded[start..encoded.len() - 4];
            if core.len() >= 16 {
                out.push(core.to_string());
            }
        }
    }
    out
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The forbidden texts found in a run's stdout, stderr and output files.
fn leaks(label: &str, out: &std::process::Output, dir: &Path) -> Vec<String> {
    let mut texts = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
    ];
    for f in files(dir) {
        texts.push((f.display().to_string(), std::fs::read(&f).unwrap()));
    }
    let mut found = Vec::new();
    for (name, bytes) in texts {
        let text = String::from_utf8_lossy(&bytes);
        for needle in forbidden() {
            if let Some(at) = text.find(&needle) {
                let bytes = text.as_bytes();
                let context =
                    &bytes[at.saturating_sub(120)..(at + needle.len() + 120).min(bytes.len())];
                found.push(format!(
                    "{label}: `{needle}` in {name}: ...{}...",
                    String::from_utf8_lossy(context)
                ));
            }
        }
    }
    found
}

fn seed(moto: &Moto) {
    moto.call(
        "POST",
        "/iam-audit/seed",
        Some(&json!({
            "management": {"id": "123456789012", "name": "management", "users": [
                {"name": "mgmt-admin", "password": {"last_used": ago(2), "last_changed": ago(30)}, "mfa": "virtual"}
            ]},
            "accounts": [
                {"id": "111111111111", "name": "Prod", "ou": "/Prod", "users": [
                    {"name": "svc", "created": ago(400), "keys": [
                        {"status": "Active", "created": ago(300), "last_used": {"date": ago(1), "service": "s3", "region": "us-east-1"}}]},
                    {"name": "alice", "created": ago(100), "password": {"last_used": ago(3), "last_changed": ago(10)}}
                ]}
            ]
        })),
    );
}

/// The levels of logging a run may ask for: flags, and filters that name the SDK's crates.
fn verbosities() -> Vec<(Vec<&'static str>, Option<&'static str>)> {
    vec![
        (vec![], None),
        (vec!["-v"], None),
        (vec!["-vv"], None),
        (vec!["-vvv"], None),
        (vec!["-q"], None),
        (vec![], Some("trace")),
        (
            vec!["-vv"],
            Some(
                "aws_smithy_runtime=trace,aws_sigv4=trace,aws_config=trace,\
                 aws_credential_types=trace,aws_smithy_http_client=trace,hyper=trace,\
                 hyper_util=trace,h2=trace,trace",
            ),
        ),
    ]
}

#[test]
fn no_secret_appears_at_any_verbosity() {
    let moto = Moto::start();
    seed(&moto);
    let mut found = Vec::new();
    for (i, (flags, log)) in verbosities().into_iter().enumerate() {
        // The external id on the command line, then from the environment, in turn.
        for from_env in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let out_dir = dir.path().join("out");
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
            hermetic(&mut cmd, ACCESS_KEY_ID, SECRET_ACCESS_KEY);
            cmd.env("AWS_SESSION_TOKEN", SESSION_TOKEN)
                .env_remove("IAM_AUDIT_LOG")
                .env_remove("IAM_AUDIT_EXTERNAL_ID")
                .args(moto.scan_args(&out_dir))
                .args(["--history"])
                .arg(out_dir.join("history.jsonl"))
                .args(&flags);
            if let Some(filter) = log {
                cmd.env("IAM_AUDIT_LOG", filter);
            }
            if from_env {
                cmd.env("IAM_AUDIT_EXTERNAL_ID", EXTERNAL_ID);
            } else {
                cmd.args(["--external-id", EXTERNAL_ID]);
            }
            let out = cmd.output().unwrap();
            let label = format!("run {i} {flags:?} IAM_AUDIT_LOG={log:?} env={from_env}");
            // The scan got through: the example's findings gate (1), or an account is not
            // audited (3) — never an error.
            assert!(
                matches!(out.status.code(), Some(0 | 1 | 3)),
                "{label}: exit {:?}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                files(&out_dir).len() > 3,
                "{label}: outputs {:?}",
                files(&out_dir)
            );
            // The logs were on.
            if log.is_some() || flags.iter().any(|f| f.starts_with("-v")) {
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("INFO"),
                    "{label}: no log\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            found.extend(leaks(&label, &out, &out_dir));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n\n"));
}

/// With a web-identity token as the only credentials (the chain of the SDK reads the token
/// file and calls STS AssumeRoleWithWebIdentity), at the most verbose settings: the token
/// appears nowhere, whether the run succeeds or not.
#[test]
fn no_web_identity_token_appears_even_at_trace() {
    let moto = Moto::start();
    seed(&moto);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, WEB_IDENTITY_TOKEN).unwrap();
    let mut found = Vec::new();
    for (flags, log) in [
        (vec!["-vvv"], None),
        (
            vec!["-vv"],
            Some(
                "aws_smithy_runtime=trace,aws_sigv4=trace,aws_config=trace,\
                 aws_sdk_sts=trace,hyper=trace,trace",
            ),
        ),
    ] {
        let out_dir = dir.path().join(format!("out{}", flags[0]));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
        hermetic(&mut cmd, "unused", "unused");
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("IAM_AUDIT_LOG")
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token)
            .env(
                "AWS_ROLE_ARN",
                "arn:aws:iam::123456789012:role/WebIdentityScanner",
            )
            .env("AWS_ROLE_SESSION_NAME", "web-identity-scan")
            // The SDK's own STS client (of the credential chain) goes to the emulator too.
            .env(
                "AWS_ENDPOINT_URL",
                format!("http://127.0.0.1:{}", moto.port),
            )
            .env("IAM_AUDIT_EXTERNAL_ID", EXTERNAL_ID)
            .args(moto.scan_args(&out_dir))
            .args(&flags);
        if let Some(filter) = log {
            cmd.env("IAM_AUDIT_LOG", filter);
        }
        let out = cmd.output().unwrap();
        std::fs::create_dir_all(&out_dir).unwrap();
        let label = format!("web identity {flags:?} IAM_AUDIT_LOG={log:?}");
        found.extend(leaks(&label, &out, &out_dir));
    }
    assert!(found.is_empty(), "{}", found.join("\n\n"));
}

#[test]
fn the_base64_cores_are_found_in_any_alignment() {
    let secret = "SecretKeyCanary/7q3Zx+wJalrXUtnFEMIK7MDENG";
    let cores = base64_cores(secret);
    for prefix in ["", "a", "ab", "abc", "user:"] {
        let text = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{secret}!"));
        assert!(
            cores.iter().any(|c| text.contains(c)),
            "{prefix}: {text} {cores:?}"
        );
    }
}
