//! The deploy/ artifacts agree with each other: the member role template's inline policy is
//! exactly deploy/iam-audit-member-policy.json, the caller template's managed policy is exactly
//! deploy/iam-audit-caller-policy.json (its role names and partition being parameters), the
//! trail reader template's inline policy is exactly deploy/iam-audit-trail-policy.json (its
//! bucket and prefix being parameters), the caller may assume exactly the roles the templates
//! make, and each policy grants exactly the actions the collectors declare
//! (`iam_audit::collect::required_actions`: the audit role's in the member policy; those and
//! the caller's own in the caller policy; the trail reader's in the trail policy), so no data
//! source can need an action the deploy policies lack. That the declared actions are the calls the
//! scan makes, no more and no less, is proven against the emulator in tests/policy_moto.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{actions, deploy, policy};
use serde_json::{json, Value};
#[cfg(feature = "aws")]
use std::collections::BTreeSet;

/// A CloudFormation template as plain data: short-form intrinsics (`!Ref X`, `!Sub "..."`)
/// lose their tag and keep their value, which is all these checks look at.
fn template(name: &str) -> Value {
    serde_saphyr::from_str(&deploy(name)).unwrap_or_else(|e| panic!("deploy/{name}: {e}"))
}

#[test]
fn the_role_template_inlines_exactly_the_member_policy() {
    let member = policy("iam-audit-member-policy.json");
    let role = template("iam-audit-role.yaml");
    let policies = role["Resources"]["AuditRole"]["Properties"]["Policies"]
        .as_array()
        .unwrap();
    assert_eq!(policies.len(), 1, "the role carries one inline policy");
    let inline = &policies[0]["PolicyDocument"];
    assert_eq!(
        actions(inline),
        actions(&member),
        "deploy/iam-audit-role.yaml and deploy/iam-audit-member-policy.json name different actions"
    );
    assert_eq!(
        inline, &member,
        "deploy/iam-audit-role.yaml's inline policy differs from deploy/iam-audit-member-policy.json"
    );
    // Read-only but for the credential report; nothing but IAM and CloudTrail in a member.
    for a in actions(&member) {
        let (service, op) = a.split_once(':').unwrap();
        assert!(service == "iam" || service == "cloudtrail", "{a}");
        assert!(
            ["Get", "List", "Lookup"].iter().any(|p| op.starts_with(p))
                || a == "iam:GenerateCredentialReport",
            "{a} is not a read"
        );
    }
}

#[test]
fn the_caller_template_is_exactly_the_caller_policy() {
    let caller = policy("iam-audit-caller-policy.json");
    let tpl = template("iam-audit-caller.yaml");
    let role_name = tpl["Parameters"]["AuditRoleName"]["Default"].clone();
    assert_eq!(role_name, "IamAuditRole");
    let trail_role = tpl["Parameters"]["TrailReaderRoleName"]["Default"].clone();
    assert_eq!(trail_role, "IamAuditTrailReader");
    let mut doc = tpl["Resources"]["ScanPolicy"]["Properties"]["PolicyDocument"].clone();
    let sub = |r: &str| {
        json!(r
            .replace("${AWS::Partition}", "aws")
            .replace("${AuditRoleName}", role_name.as_str().unwrap())
            .replace("${TrailReaderRoleName}", trail_role.as_str().unwrap()))
    };
    for statement in doc["Statement"].as_array_mut().unwrap() {
        match &mut statement["Resource"] {
            Value::String(r) => statement["Resource"] = sub(r),
            Value::Array(list) => {
                for r in list {
                    *r = sub(r.as_str().unwrap());
                }
            }
            _ => {}
        }
    }
    assert_eq!(
        doc, caller,
        "deploy/iam-audit-caller.yaml's policy differs from deploy/iam-audit-caller-policy.json"
    );
}

/// The actions the collectors declare, by policy: the member policy needs the audit role's;
/// the caller policy those too (the caller reads its own account) and the caller's own; the
/// trail policy the trail reader's (`--cloudtrail-s3`).
#[cfg(feature = "aws")]
fn declared() -> (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>) {
    use iam_audit::collect::{required_actions, Principal};
    let mut member = BTreeSet::new();
    let mut caller = BTreeSet::new();
    let mut trail = BTreeSet::new();
    for (principal, action) in required_actions() {
        match principal {
            Principal::AuditRole => {
                member.insert(action.to_string());
                caller.insert(action.to_string());
            }
            Principal::Caller => {
                caller.insert(action.to_string());
            }
            Principal::TrailReader => {
                trail.insert(action.to_string());
            }
        }
    }
    (member, caller, trail)
}

/// `want` minus `have`, as a list for a failure message.
#[cfg(feature = "aws")]
fn missing(want: &BTreeSet<String>, have: &BTreeSet<String>) -> Vec<String> {
    want.difference(have).cloned().collect()
}

#[cfg(feature = "aws")]
#[test]
fn each_policy_grants_exactly_the_actions_the_collectors_declare() {
    let caller = actions(&policy("iam-audit-caller-policy.json"));
    let member = actions(&policy("iam-audit-member-policy.json"));
    let trail = actions(&policy("iam-audit-trail-policy.json"));
    let (need_member, need_caller, need_trail) = declared();
    assert_eq!(
        trail, need_trail,
        "deploy/iam-audit-trail-policy.json vs the trail reader's declared actions"
    );
    assert!(!need_member.is_empty() && need_member.is_subset(&need_caller));
    assert!(
        missing(&need_member, &member).is_empty(),
        "declared by a per-account data source but missing from deploy/iam-audit-member-policy.json \
         (and the role template): {:?}",
        missing(&need_member, &member)
    );
    assert!(
        missing(&need_caller, &caller).is_empty(),
        "declared by the collectors but missing from deploy/iam-audit-caller-policy.json \
         (and the caller template): {:?}",
        missing(&need_caller, &caller)
    );
    // No more than that either: least privilege.
    assert!(
        missing(&member, &need_member).is_empty(),
        "in deploy/iam-audit-member-policy.json but declared by no data source: {:?}",
        missing(&member, &need_member)
    );
    assert!(
        missing(&caller, &need_caller).is_empty(),
        "in deploy/iam-audit-caller-policy.json but declared by no collector: {:?}",
        missing(&caller, &need_caller)
    );
}

#[test]
fn the_caller_may_assume_only_the_audit_and_trail_reader_roles() {
    let caller = policy("iam-audit-caller-policy.json");
    // AssumeRole on the audit role and the trail reader only, in any account; everything
    // else on "*".
    for statement in caller["Statement"].as_array().unwrap() {
        if statement["Action"] == "sts:AssumeRole" {
            assert_eq!(
                statement["Resource"],
                json!([
                    "arn:aws:iam::*:role/IamAuditRole",
                    "arn:aws:iam::*:role/IamAuditTrailReader"
                ])
            );
        } else {
            assert_eq!(statement["Resource"], "*", "{statement}");
        }
    }
}

#[test]
fn the_trail_reader_template_inlines_exactly_the_trail_policy() {
    let trail = policy("iam-audit-trail-policy.json");
    let tpl = template("iam-audit-trail-reader.yaml");
    assert_eq!(
        tpl["Parameters"]["RoleName"]["Default"],
        "IamAuditTrailReader"
    );
    let props = &tpl["Resources"]["TrailReaderRole"]["Properties"];
    let policies = props["Policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "the role carries one inline policy");
    // The template's `!Sub` strings in the partition the JSON is written for.
    let text = policies[0]["PolicyDocument"]
        .to_string()
        .replace("${AWS::Partition}", "aws");
    let inline: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        inline, trail,
        "deploy/iam-audit-trail-reader.yaml's inline policy differs from deploy/iam-audit-trail-policy.json"
    );
    // Least privilege: listing only under PREFIX/AWSLogs/, reading only there, decrypting only
    // through S3.
    let statements = trail["Statement"].as_array().unwrap();
    let by_action = |a: &str| {
        statements
            .iter()
            .find(|s| s["Action"] == a)
            .unwrap_or_else(|| panic!("no {a} statement"))
    };
    let list = by_action("s3:ListBucket");
    assert_eq!(list["Resource"], "arn:aws:s3:::${TrailBucket}");
    assert_eq!(
        list["Condition"]["StringLike"]["s3:prefix"],
        "${TrailPrefix}AWSLogs/*"
    );
    assert_eq!(
        by_action("s3:GetObject")["Resource"],
        "arn:aws:s3:::${TrailBucket}/${TrailPrefix}AWSLogs/*"
    );
    assert_eq!(
        by_action("kms:Decrypt")["Condition"]["StringLike"]["kms:ViaService"],
        "s3.*.amazonaws.com"
    );
    // Trusted by the scanning account with the external id.
    let trust = props["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust[0]["Principal"]["AWS"],
        "arn:${AWS::Partition}:iam::${ScanAccountId}:root"
    );
    assert_eq!(
        trust[0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "ExternalId"
    );
    assert!(tpl["Parameters"]["ExternalId"]["Default"].is_null());
}

#[test]
fn the_role_template_trusts_the_management_account_with_an_external_id() {
    let role = template("iam-audit-role.yaml");
    let params = &role["Parameters"];
    // The role name the caller policy allows, and what `--role-name` must be given.
    assert_eq!(params["RoleName"]["Default"], "IamAuditRole");
    assert!(params["ManagementAccountId"]["Default"].is_null());
    assert!(
        params["ExternalId"]["Default"].is_null(),
        "the external id is required"
    );
    let props = &role["Resources"]["AuditRole"]["Properties"];
    let trust = props["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(trust.len(), 1);
    assert_eq!(trust[0]["Action"], "sts:AssumeRole");
    assert_eq!(
        trust[0]["Principal"]["AWS"],
        "arn:${AWS::Partition}:iam::${ManagementAccountId}:root"
    );
    assert_eq!(
        trust[0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "ExternalId"
    );
    // StackSet-ready: no account id written anywhere in the templates.
    let digits = regex::Regex::new(r"\b[0-9]{12}\b").unwrap();
    for name in [
        "iam-audit-role.yaml",
        "iam-audit-caller.yaml",
        "iam-audit-trail-reader.yaml",
    ] {
        assert!(!digits.is_match(&deploy(name)), "an account id in {name}");
    }
}
