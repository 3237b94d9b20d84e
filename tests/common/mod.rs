//! What the tests that run `iam-audit scan` against the moto harness (`tests/moto/`) and the
//! `deploy/` tests share: starting the emulator, calling its control endpoints, a hermetic
//! environment for the binary, reading its outputs, reading the deploy policies. Each test
//! binary uses part of it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{Duration, SecondsFormat, Utc};
use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example organization of `examples/` (paths relative to the crate root) and its stamp.
pub const EXAMPLE_JSON: &str = "examples/inventory_20260306_120000.json";
pub const EXAMPLE_CSV: &str = "examples/iam_audit_report_20260306_120000.csv";
pub const EXAMPLE_EVENTS: &str = "examples/cloudtrail_events_20260306_120000.csv";
pub const EXAMPLE_ROOT: &str = "examples/root_audit_report_20260306_120000.csv";
pub const EXAMPLE_CONFIG: &str = "examples/iam-audit.yaml";
pub const EXAMPLE_WAIVERS: &str = "examples/waivers.yaml";
pub const STAMP: &str = "20260306_120000";
/// The example as stock CSVs, as `evaluate` takes them: the report with its events and root
/// reports.
pub const EXAMPLE_CSV_INPUT: [&str; 5] = [
    EXAMPLE_CSV,
    "--events",
    EXAMPLE_EVENTS,
    "--root",
    EXAMPLE_ROOT,
];

/// The binary, run from the crate root, without a log filter from the environment.
pub fn bin() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("iam-audit").expect("binary");
    c.current_dir(root()).env_remove("IAM_AUDIT_LOG");
    c
}

pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// Runs an installer script of `scripts/` and returns the path it prints.
pub fn installed(script: &str) -> String {
    let out = Command::new("bash")
        .arg(format!("scripts/{script}"))
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The harness's python, installing the pinned moto on first use.
pub fn python() -> String {
    installed("moto.sh")
}

/// One emulator per test; it exits when dropped (its stdin closes).
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub fn start() -> Moto {
        let mut child = Command::new(python())
            .arg("tests/moto/server.py")
            .current_dir(root())
            .env_remove("MOTO_ACCOUNT_ID")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the moto harness");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("harness said {line:?}"));
        Moto { child, port }
    }

    /// One HTTP request to the harness: (status line and headers, body).
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> (String, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let (head, text) = answer.split_once("\r\n\r\n").unwrap();
        (head.to_string(), text.to_string())
    }

    /// A control endpoint with a JSON body; it must answer 200.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body
            .map(std::string::ToString::to_string)
            .unwrap_or_default();
        let (head, text) = self.raw(method, path, "application/json", &body);
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{path}: {head}\n{}",
            text.chars().take(2000).collect::<String>()
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The `scan` arguments that point the binary at this emulator, through the role the seed
    /// makes in each member (`audit_role_name`: by default the role AWS Organizations creates
    /// in the accounts it creates; the scan's own default is the `IamAuditRole` of `deploy/`).
    pub fn scan_args(&self, out: &Path) -> Vec<String> {
        vec![
            "scan".into(),
            "--endpoint-url".into(),
            format!("http://127.0.0.1:{}", self.port),
            "--role-name".into(),
            "OrganizationAccountAccessRole".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    }
}

/// The binary's environment: these keys and nothing of the host's AWS configuration.
pub fn hermetic(cmd: &mut Command, key_id: &str, secret: &str) {
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

/// `days` ago, RFC 3339 to the second.
pub fn ago(days: i64) -> String {
    (Utc::now() - Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The output file whose name starts with `prefix` (the `.sarif` twin of `findings_` aside).
pub fn read(dir: &Path, prefix: &str) -> String {
    let entry = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "sarif"))
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}* in {}", dir.display()));
    std::fs::read_to_string(entry).unwrap()
}

/// A file of `deploy/`.
pub fn deploy(name: &str) -> String {
    let path = root().join("deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A policy document of `deploy/`.
pub fn policy(name: &str) -> Value {
    serde_json::from_str(&deploy(name)).unwrap_or_else(|e| panic!("deploy/{name}: {e}"))
}

/// Every action of a policy document (`Action` as a string or a list); every statement allows.
pub fn actions(policy: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for statement in policy["Statement"].as_array().expect("Statement list") {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        match &statement["Action"] {
            Value::String(a) => {
                out.insert(a.clone());
            }
            Value::Array(list) => {
                out.extend(list.iter().map(|a| a.as_str().unwrap().to_string()));
            }
            other => panic!("Action {other}"),
        }
    }
    out
}

/// The account `id` of an inventory JSON.
pub fn account<'a>(inv: &'a Value, id: &str) -> &'a Value {
    inv["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap_or_else(|| panic!("no account {id} in the inventory"))
}
