//! Security of what the binary leaves behind: the outputs (the whole credential inventory)
//! are private to their owner, and the AWS SDK's own logs, which can print bearer tokens,
//! never reach stderr below warn.

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

mod common;

use common::{bin, root, EXAMPLE_CONFIG, EXAMPLE_JSON};

/// The permission bits of `path` (not following a symlink).
fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// The binary run through `sh` with umask 022 in effect: what a default shell gives.
fn bin_with_umask_022() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new("sh");
    c.current_dir(root())
        .env_remove("IAM_AUDIT_LOG")
        .arg("-c")
        .arg(r#"umask 022; exec "$0" "$@""#)
        .arg(assert_cmd::cargo::cargo_bin("iam-audit"));
    c
}

/// `evaluate` of the example into `out`: exits 1 on its two critical findings.
fn evaluate_example(mut cmd: assert_cmd::Command, out: &Path) -> String {
    let assert = cmd
        .args([
            "evaluate",
            EXAMPLE_JSON,
            "--config",
            EXAMPLE_CONFIG,
            "--out",
        ])
        .arg(out)
        .assert()
        .code(1);
    String::from_utf8_lossy(&assert.get_output().stderr).to_string()
}

/// Every entry of `dir`, sorted.
fn entries(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

/// Every entry of `dir` is a regular 0600 file with a final name (no temporary left).
fn assert_private_outputs(dir: &Path) {
    let files = entries(dir);
    assert_eq!(files.len(), 9, "all nine outputs: {files:?}");
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            !name.starts_with('.') && !name.ends_with(".tmp"),
            "a temporary file was left behind: {name}"
        );
        assert!(
            std::fs::symlink_metadata(f).unwrap().file_type().is_file(),
            "{name}"
        );
        assert_eq!(mode(f), 0o600, "{name} is {:o}", mode(f));
    }
}

#[test]
fn outputs_are_0600_in_a_0700_folder_created_with_every_component() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("a").join("b").join("out");
    evaluate_example(bin_with_umask_022(), &out);
    for dir in [
        tmp.path().join("a"),
        tmp.path().join("a/b"),
        tmp.path().join("a/b/out"),
    ] {
        assert_eq!(mode(&dir), 0o700, "{} is {:o}", dir.display(), mode(&dir));
    }
    assert_private_outputs(&out);
}

#[test]
fn an_existing_folder_is_left_alone_but_the_files_are_0600() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("shared");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A readable output of an earlier run is replaced by a private one.
    let earlier = out.join("findings_20260306_120000.json");
    std::fs::write(&earlier, "{}").unwrap();
    std::fs::set_permissions(&earlier, std::fs::Permissions::from_mode(0o644)).unwrap();
    evaluate_example(bin_with_umask_022(), &out);
    assert_eq!(mode(&out), 0o755, "the folder's own permissions are kept");
    assert_private_outputs(&out);
}

/// The SDK's trace logs print request bodies: `-vv` and `IAM_AUDIT_LOG=trace` still log
/// everything of iam-audit's own, and the run is unchanged.
#[test]
fn verbose_and_trace_logging_keep_stderr_working() {
    for (flag, filter) in [
        (Some("-vv"), None),
        (None, Some("trace")),
        (None, Some("aws_smithy_runtime=trace,aws_config=trace,info")),
    ] {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = bin();
        if let Some(flag) = flag {
            cmd.arg(flag);
        }
        if let Some(filter) = filter {
            cmd.env("IAM_AUDIT_LOG", filter);
        }
        let stderr = evaluate_example(cmd, out.path());
        assert!(
            stderr.contains("Gate: 2 finding(s) at or above critical"),
            "{flag:?} {filter:?}: {stderr}"
        );
        assert_eq!(entries(out.path()).len(), 9, "{flag:?} {filter:?}");
    }
}

/// A port nothing listens on.
#[cfg(feature = "aws")]
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `scan` against an endpoint that refuses connections, with every log asked for: the SDK
/// runs its whole stack (credentials, signing, retries, the connector), and none of its
/// debug or trace lines may reach stderr.
#[cfg(feature = "aws")]
#[test]
fn sdk_trace_logs_never_reach_stderr() {
    for filter in [
        "trace",
        "aws_smithy_runtime=trace,aws_sigv4=trace,hyper=trace",
    ] {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("iam-audit"));
        common::hermetic(
            &mut cmd,
            "AKIAEXAMPLEMARKER0001",
            "secret-marker-do-not-log",
        );
        cmd.current_dir(root())
            .env("IAM_AUDIT_LOG", filter)
            .env("AWS_SESSION_TOKEN", "session-token-marker-do-not-log")
            .args([
                "scan",
                "--call-timeout",
                "1",
                "--account-deadline",
                "10",
                "--endpoint-url",
            ])
            .arg(format!("http://127.0.0.1:{}", closed_port()))
            .arg("--out")
            .arg(out.path());
        let output = assert_cmd::Command::from_std(cmd)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        for marker in [
            "secret-marker-do-not-log",
            "session-token-marker-do-not-log",
        ] {
            assert!(!stderr.contains(marker), "{filter}: {marker} in {stderr}");
        }
        // What the SDK says at debug and trace (targets are not printed): its operation
        // spans, its config lookups, its client setup, and the canonical request it signs,
        // headers included.
        for sdk in [
            "rpc.service=",
            "sdk_invocation_id",
            "no value set for",
            "runtime plugins",
            "credentials provider",
            "hyper",
            "x-amz-",
            "orchestrator",
        ] {
            assert!(
                !stderr.contains(sdk),
                "{filter}: the SDK logged below warn ({sdk}):\n{}",
                stderr.chars().take(3000).collect::<String>()
            );
        }
    }
}

#[test]
fn sdk_body_logging_variables_are_warned_about_without_their_value() {
    for var in ["LOG_SENSITIVE_BODIES", "LOG_SIGNABLE_BODY"] {
        let out = tempfile::tempdir().unwrap();
        let mut cmd = bin();
        cmd.env_remove("LOG_SENSITIVE_BODIES")
            .env_remove("LOG_SIGNABLE_BODY")
            .env(var, "value-marker-1234");
        let stderr = evaluate_example(cmd, out.path());
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains(var)).collect();
        assert_eq!(warnings.len(), 1, "one warning naming {var}: {stderr}");
        assert!(
            warnings[0].to_lowercase().contains("warn"),
            "{}",
            warnings[0]
        );
        assert!(!stderr.contains("value-marker-1234"), "{stderr}");
    }
    // Neither set: no such warning.
    let out = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.env_remove("LOG_SENSITIVE_BODIES")
        .env_remove("LOG_SIGNABLE_BODY");
    let stderr = evaluate_example(cmd, out.path());
    assert!(!stderr.contains("LOG_SENSITIVE_BODIES"), "{stderr}");
    assert!(!stderr.contains("LOG_SIGNABLE_BODY"), "{stderr}");
}
