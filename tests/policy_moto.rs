#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "aws")]
//! The deploy/ policies are exactly what `iam-audit scan` needs, proven against the emulator
//! (tests/moto/) with moto's authorization enforced: the audit role of each member account is
//! made by deploy/iam-audit-role.yaml itself (moto's CloudFormation), the scan runs as an IAM
//! user of the management account that has nothing but deploy/iam-audit-caller-policy.json,
//! and the real binary must collect every account without one AccessDenied, using every
//! action of the policies and no other. Then the same with an action taken out must fail the
//! account and name the call. The harness checks `LookupEvents` (which it answers itself) and
//! the role's trust policy (external id) in this mode too. Loopback only; no AWS config read.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Output};

use chrono::{Duration, SecondsFormat, Utc};
use common::{account, actions, ago, deploy, hermetic, policy, read, Moto};
use serde_json::{json, Value};

const MGMT: &str = "123456789012";
const PROD: &str = "111111111111";
const DEV: &str = "222222222222";
const ROLE: &str = "IamAuditRole";
const EXTERNAL_ID: &str = "iam-audit-policy-test";

/// The role template with one action taken out of its inline policy (a whole statement when
/// the action is the statement's only one).
fn without(template: &str, action: &str) -> String {
    let lines: Vec<&str> = template.lines().collect();
    let mut out: Vec<&str> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if t == format!("- {action}") {
            i += 1;
            continue;
        }
        if t.starts_with("- Sid: ")
            && lines.get(i + 2).map(|l| l.trim()) == Some(&format!("Action: {action}"))
        {
            i += 4; // Sid, Effect, Action, Resource
            continue;
        }
        out.push(lines[i]);
        i += 1;
    }
    let text = out.join("\n") + "\n";
    assert!(!text.contains(action), "{action} still in the template");
    let removed = lines.len() - text.lines().count();
    assert!(
        removed == 1 || removed == 4,
        "one action or one statement removed"
    );
    text
}

/// Keys of the scanning principal (never printed).
struct Keys {
    id: String,
    secret: String,
}

impl Moto {
    /// Seeds the Organization, deploys the role template (as given per member) in each member,
    /// makes the scanning user with only the caller policy, then turns moto's authorization on.
    fn least_privilege_org(member_templates: &[(&str, String)]) -> (Moto, Keys) {
        Moto::least_privilege_org_with(member_templates, |_| {})
    }

    /// The same, with `more` set up before authorization is turned on.
    fn least_privilege_org_with(
        member_templates: &[(&str, String)],
        more: impl FnOnce(&Moto),
    ) -> (Moto, Keys) {
        let moto = Moto::start();
        moto.call("POST", "/iam-audit/seed", Some(&seed_spec()));
        more(&moto);
        for (account, template) in member_templates {
            let stack = moto.call(
                "POST",
                "/iam-audit/stack",
                Some(&json!({
                    "account": account,
                    "name": "iam-audit-role",
                    "template": template,
                    "parameters": {"ManagementAccountId": MGMT, "ExternalId": EXTERNAL_ID},
                })),
            );
            assert_eq!(
                stack["outputs"]["RoleArn"],
                format!("arn:aws:iam::{account}:role/{ROLE}")
            );
        }
        let caller = moto.call(
            "POST",
            "/iam-audit/principal",
            Some(&json!({
                "account": MGMT,
                "name": "iam-audit-scanner",
                "policy": policy("iam-audit-caller-policy.json"),
            })),
        );
        let creds = &caller["credentials"];
        let keys = Keys {
            id: creds["access_key_id"].as_str().unwrap().to_string(),
            secret: creds["secret_access_key"].as_str().unwrap().to_string(),
        };
        // moto's own switch: signatures and IAM policies checked from the next request on.
        let (head, _) = moto.raw("POST", "/moto-api/reset-auth", "text/plain", "0");
        assert!(head.contains(" 200 "), "{head}");
        assert_eq!(
            moto.call("GET", "/iam-audit/auth", None),
            json!({"enabled": true})
        );
        (moto, keys)
    }

    /// The real binary, as the scanning user, against the emulator; nothing else from the
    /// environment.
    fn scan(&self, keys: &Keys, out: &Path, extra: &[&str]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iam-audit"));
        hermetic(&mut cmd, &keys.id, &keys.secret);
        cmd.args([
            "scan",
            "--endpoint-url",
            &format!("http://127.0.0.1:{}", self.port),
            "--role-name",
            ROLE,
            "--quiet",
            "--fail-on",
            "none",
            "--out",
        ])
        .arg(out)
        .args(extra);
        cmd.output().unwrap()
    }

    fn scan_expect(&self, keys: &Keys, extra: &[&str], code: i32) -> Value {
        let out = tempfile::tempdir().unwrap();
        let run = self.scan(keys, out.path(), extra);
        if run.status.code() != Some(code) {
            // What each account's collection says, when the inventory was written.
            let collections: Vec<String> = std::fs::read_dir(out.path())
                .map(|_| read(out.path(), "inventory_"))
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .map(|inv| {
                    inv["accounts"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| format!("{}: {}", a["id"], a["collection"]))
                        .collect()
                })
                .unwrap_or_default();
            panic!(
                "exit {:?}, expected {code}\n{}\n{}",
                run.status.code(),
                String::from_utf8_lossy(&run.stderr),
                collections.join("\n")
            );
        }
        serde_json::from_str(&read(out.path(), "inventory_")).unwrap()
    }

    /// The call log since the last reset, then a reset of the counts and faults.
    fn take_calls(&self) -> Vec<Value> {
        let calls = self.call("GET", "/iam-audit/calls?log=1", None);
        self.call("POST", "/iam-audit/reset", None);
        calls["log"].as_array().unwrap().clone()
    }
}

/// Users with and without passwords, keys and MFA devices (so that every call of both the
/// credential report path and the per-user fallback is made), OUs (DescribeOrganizationalUnit)
/// and tags.
fn seed_spec() -> Value {
    json!({
        "report_generated": (Utc::now() - Duration::minutes(10)).to_rfc3339_opts(SecondsFormat::Secs, true),
        "management": {"id": MGMT, "name": "management", "users": [
            {"name": "mgmt-admin", "password": {"last_used": ago(2)}, "mfa": "virtual",
             "keys": [{"created": ago(30), "last_used": {"date": ago(1), "service": "iam", "region": "us-east-1"}}]}
        ]},
        "accounts": [
            {"id": PROD, "name": "Prod", "ou": "/Workloads/Prod", "tags": {"Environment": "production"},
             "users": [
                {"name": "alice", "created": ago(200), "password": {"last_used": ago(2)}, "mfa": "hardware",
                 "keys": [{"created": ago(95), "last_used": {"date": ago(1), "service": "s3", "region": "us-east-1"}},
                          {"status": "Inactive", "created": ago(20), "last_used": null}]},
                {"name": "bob", "created": ago(900), "keys": [{"created": ago(800), "last_used": null}]},
                {"name": "carol", "created": ago(10)}
             ],
             "events": [{"name": "CreateAccessKey", "time": ago(3), "user": "bob", "key": 0}]},
            {"id": DEV, "name": "Dev", "ou": "/Workloads/Dev",
             "users": [
                {"name": "dave", "created": ago(400), "password": true, "mfa": "virtual",
                 "keys": [{"created": ago(300), "last_used": {"date": ago(1), "service": "ec2", "region": "us-east-1"}}]}
             ],
             "events": [{"name": "DeactivateMFADevice", "time": ago(1), "user": "dave"}]}
        ]
    })
}

/// Whether a logged call was refused for lack of authorization (or authentication).
fn refused(entry: &Value) -> bool {
    let error = entry["error"].as_str().unwrap_or("");
    entry["status"] == 401
        || entry["status"] == 403
        || [
            "AccessDenied",
            "Unrecognized",
            "InvalidClientTokenId",
            "Signature",
        ]
        .iter()
        .any(|e| error.contains(e))
}

/// Operations called, per account.
fn operations(log: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for e in log {
        // GetCallerIdentity needs no permission: no policy names it.
        if e["op"] == "sts:GetCallerIdentity" {
            continue;
        }
        out.entry(e["account"].as_str().unwrap().to_string())
            .or_default()
            .insert(e["op"].as_str().unwrap().to_string());
    }
    out
}

fn assert_complete(inv: &Value) {
    let accounts = inv["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3, "{inv}");
    for a in accounts {
        assert_eq!(
            a["collection"]["status"], "complete",
            "{}: {}",
            a["id"], a["collection"]
        );
        assert!(a["collection"]["errors"].is_null(), "{}", a["collection"]);
    }
    // Not vacuously: the members' users and keys are there.
    let alice = account(inv, PROD)["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "alice")
        .unwrap();
    assert_eq!(alice["access_keys"].as_array().unwrap().len(), 2, "{alice}");
    assert_eq!(alice["mfa_devices"].as_array().unwrap().len(), 1, "{alice}");
    assert_eq!(account(inv, DEV)["users"].as_array().unwrap().len(), 1);
}

#[test]
fn the_deploy_policies_are_sufficient_and_every_action_is_used() {
    let role = deploy("iam-audit-role.yaml");
    let (moto, keys) = Moto::least_privilege_org(&[(PROD, role.clone()), (DEV, role)]);
    let caller = actions(&policy("iam-audit-caller-policy.json"));
    let member = actions(&policy("iam-audit-member-policy.json"));
    let external = ["--external-id", EXTERNAL_ID];

    // 1. Credential report path: every account complete, no call refused, nothing called that
    //    the policies do not name (management: the caller policy; members: the role's).
    let inv = moto.scan_expect(&keys, &external, 0);
    assert_complete(&inv);
    for a in [PROD, DEV, MGMT] {
        assert!(
            account(&inv, a)["collection"]["credential_report_generated_at"].is_string(),
            "{a}"
        );
    }
    let report_run = moto.take_calls();
    let denied: Vec<&Value> = report_run.iter().filter(|e| refused(e)).collect();
    assert!(denied.is_empty(), "refused calls: {denied:?}");
    assert!(
        report_run.iter().all(|e| e["status"] == 200),
        "{report_run:?}"
    );

    // 2. Per-user fallback (the credential report never completes): the other calls.
    moto.call(
        "POST",
        "/iam-audit/faults",
        Some(&json!({"report_pending": {}})),
    );
    let mut args = external.to_vec();
    args.extend(["--report-deadline", "1"]);
    let inv = moto.scan_expect(&keys, &args, 0);
    assert_complete(&inv);
    for a in [PROD, DEV, MGMT] {
        let notes = account(&inv, a)["collection"]["notes"].to_string();
        assert!(notes.contains("per-user calls"), "{a}: {notes}");
    }
    let fallback_run = moto.take_calls();
    let denied: Vec<&Value> = fallback_run.iter().filter(|e| refused(e)).collect();
    assert!(denied.is_empty(), "refused calls: {denied:?}");

    // Exactly the calls the policies allow: each call is in its account's policy, and every
    // action of each policy is called at least once across both runs.
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for run in [&report_run, &fallback_run] {
        for (acct, ops) in operations(run) {
            used.entry(acct).or_default().extend(ops);
        }
    }
    assert_eq!(
        used.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from([MGMT, PROD, DEV])
    );
    assert_eq!(
        used[MGMT], caller,
        "management account: calls vs caller policy"
    );
    assert_eq!(used[PROD], member, "member account: calls vs role policy");
    assert_eq!(used[DEV], member, "member account: calls vs role policy");
    // And exactly what the collectors declare (`required_actions`, which tests/deploy_policy.rs
    // holds the policies to): the audit role's actions in a member, every action as the caller.
    let mut declared_member = BTreeSet::new();
    let mut declared_caller = BTreeSet::new();
    for (principal, action) in iam_audit::collect::required_actions() {
        match principal {
            iam_audit::collect::Principal::AuditRole => {
                declared_member.insert(action.to_string());
                declared_caller.insert(action.to_string());
            }
            iam_audit::collect::Principal::Caller => {
                declared_caller.insert(action.to_string());
            }
            // Only with --cloudtrail-s3 (the test below).
            iam_audit::collect::Principal::TrailReader => {}
        }
    }
    assert_eq!(used[PROD], declared_member, "member calls vs declared");
    assert_eq!(used[MGMT], declared_caller, "caller calls vs declared");

    // 3. The role's trust policy wants the external id: without it the members are not
    //    audited (and the management account still is).
    let inv = moto.scan_expect(&keys, &[], 3);
    assert_eq!(account(&inv, MGMT)["collection"]["status"], "complete");
    for a in [PROD, DEV] {
        let c = &account(&inv, a)["collection"];
        assert_eq!(c["status"], "failed", "{c}");
        assert_eq!(c["errors"][0]["source"], "assume-role", "{c}");
        assert!(
            c["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("AccessDenied"),
            "{c}"
        );
    }
    let log = moto.take_calls();
    let trust: Vec<&Value> = log.iter().filter(|e| e["op"] == "sts:AssumeRole").collect();
    assert_eq!(trust.len(), 2, "{trust:?}");
    assert!(
        trust.iter().all(|e| e["denied"]
            .as_str()
            .unwrap_or("")
            .contains("sts:ExternalId")),
        "{trust:?}"
    );
}

#[test]
fn a_policy_without_an_action_the_scan_needs_fails_the_account_naming_the_call() {
    let role = deploy("iam-audit-role.yaml");
    let (moto, keys) = Moto::least_privilege_org(&[
        (PROD, without(&role, "iam:ListAccessKeys")),
        (DEV, without(&role, "cloudtrail:LookupEvents")),
    ]);
    let inv = moto.scan_expect(&keys, &["--external-id", EXTERNAL_ID], 3);
    assert_eq!(account(&inv, MGMT)["collection"]["status"], "complete");

    // No iam:ListAccessKeys: the account's IAM data cannot be had.
    let prod = &account(&inv, PROD)["collection"];
    assert_eq!(prod["status"], "failed", "{prod}");
    assert_eq!(prod["errors"][0]["source"], "iam", "{prod}");
    let message = prod["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("ListAccessKeys ")
            && message.contains("AccessDenied")
            && message.contains("not authorized to perform: iam:ListAccessKeys"),
        "{message}"
    );

    // No cloudtrail:LookupEvents (checked by the harness, which answers it): partial, the IAM
    // data kept.
    let dev = &account(&inv, DEV)["collection"];
    assert_eq!(dev["status"], "partial", "{dev}");
    assert_eq!(dev["errors"][0]["source"], "cloudtrail", "{dev}");
    let message = dev["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("LookupEvents ")
            && message.contains("AccessDenied")
            && message.contains("not authorized to perform: cloudtrail:LookupEvents"),
        "{message}"
    );
    assert_eq!(account(&inv, DEV)["users"].as_array().unwrap().len(), 1);

    // The call log shows the refusals, in those accounts and nowhere else.
    let log = moto.take_calls();
    let denied: BTreeSet<(String, String)> = log
        .iter()
        .filter(|e| refused(e))
        .map(|e| {
            (
                e["account"].as_str().unwrap().to_string(),
                e["op"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        denied,
        BTreeSet::from([
            (PROD.to_string(), "iam:ListAccessKeys".to_string()),
            (DEV.to_string(), "cloudtrail:LookupEvents".to_string()),
        ])
    );
}

/// The IAM action S3 authorizes an operation with (the harness logs operations).
fn s3_action(op: &str) -> String {
    match op {
        "s3:HeadBucket" | "s3:ListObjectsV2" => "s3:ListBucket".into(),
        other => other.to_string(),
    }
}

#[test]
fn the_trail_reader_role_reads_the_organization_trail_with_its_policy_only() {
    const TRAIL_ROLE: &str = "IamAuditTrailReader";
    let role = deploy("iam-audit-role.yaml");
    // DEV plays the log archive account: it owns the bucket and the trail reader role.
    let (moto, keys) = Moto::least_privilege_org_with(&[(PROD, role.clone()), (DEV, role)], |m| {
        let stack = m.call(
            "POST",
            "/iam-audit/stack",
            Some(&json!({
                "account": DEV,
                "name": "iam-audit-trail-reader",
                "template": deploy("iam-audit-trail-reader.yaml"),
                "parameters": {"ScanAccountId": MGMT, "ExternalId": EXTERNAL_ID,
                               "TrailBucket": "org-trail", "TrailPrefix": "logs/"},
            })),
        );
        assert_eq!(
            stack["outputs"]["RoleArn"],
            format!("arn:aws:iam::{DEV}:role/{TRAIL_ROLE}")
        );
        // The seeded events (PROD's CreateAccessKey, DEV's DeactivateMFADevice) as log files.
        let written = m.call(
            "POST",
            "/iam-audit/trail",
            Some(&json!({"bucket": "org-trail", "bucket_account": DEV, "prefix": "logs",
                         "from_events": true,
                         // The management account's folder, with an event not kept.
                         "files": [{"account": MGMT, "events": [{"name": "ListUsers", "time": ago(2)}]}]})),
        );
        assert_eq!(written["objects"].as_array().unwrap().len(), 3, "{written}");
    });
    let trail_role = format!("arn:aws:iam::{DEV}:role/{TRAIL_ROLE}");
    let args = [
        "--external-id",
        EXTERNAL_ID,
        "--cloudtrail-s3",
        "s3://org-trail/logs",
        "--cloudtrail-role",
        &trail_role,
        "--cloudtrail-days",
        "30",
    ];
    let inv = moto.scan_expect(&keys, &args, 0);
    assert_complete(&inv);
    let events: BTreeSet<(String, String)> = inv["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["account_id"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        BTreeSet::from([
            (PROD.to_string(), "CreateAccessKey".to_string()),
            (DEV.to_string(), "DeactivateMFADevice".to_string()),
        ])
    );
    let log = moto.take_calls();
    let denied: Vec<&Value> = log.iter().filter(|e| refused(e)).collect();
    assert!(denied.is_empty(), "refused calls: {denied:?}");
    // No LookupEvents; S3 only as the trail reader (in DEV), with exactly its policy's S3
    // actions (kms:Decrypt is S3's to ask, for SSE-KMS objects); the role assumed once.
    assert!(!log.iter().any(|e| e["op"] == "cloudtrail:LookupEvents"));
    let s3: BTreeSet<(String, String)> = log
        .iter()
        .filter(|e| e["op"].as_str().unwrap().starts_with("s3:"))
        .map(|e| {
            (
                e["account"].as_str().unwrap().to_string(),
                s3_action(e["op"].as_str().unwrap()),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = actions(&policy("iam-audit-trail-policy.json"))
        .into_iter()
        .filter(|a| a.starts_with("s3:"))
        .map(|a| (DEV.to_string(), a))
        .collect();
    assert_eq!(s3, want, "S3 calls vs deploy/iam-audit-trail-policy.json");
    let assumed: Vec<&Value> = log
        .iter()
        .filter(|e| {
            e["op"] == "sts:AssumeRole" && e["detail"].as_str().unwrap_or("").contains(TRAIL_ROLE)
        })
        .collect();
    assert_eq!(assumed.len(), 1, "{assumed:?}");

    // With the caller's own credentials (no --cloudtrail-role), which no policy lets read the
    // bucket: the IAM data is collected and every account is partial, naming the refused call.
    let inv = moto.scan_expect(&keys, &args[..4], 3);
    for a in [MGMT, PROD, DEV] {
        let c = &account(&inv, a)["collection"];
        assert_eq!(c["status"], "partial", "{a}: {c}");
        assert_eq!(c["errors"][0]["source"], "cloudtrail", "{c}");
        let message = c["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with("ListObjectsV2 s3://org-trail/logs/AWSLogs/")
                && message.contains("AccessDenied"),
            "{message}"
        );
    }
    let log = moto.take_calls();
    let refused_s3: BTreeSet<String> = log
        .iter()
        .filter(|e| refused(e))
        .map(|e| {
            format!(
                "{} {}",
                e["account"].as_str().unwrap(),
                e["op"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        refused_s3,
        BTreeSet::from([
            format!("{MGMT} s3:HeadBucket"),
            format!("{MGMT} s3:ListObjectsV2")
        ])
    );
}
