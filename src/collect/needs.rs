//! Who makes each call of a scan and which IAM actions it needs: what the deploy policies
//! must grant (`tests/deploy_policy.rs` compares them).

/// Who makes a call, hence which deploy policy must allow it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// The principal that runs the scan, in the management account or a delegated
    /// administrator account (deploy/iam-audit-caller-policy.json). It also reads its own
    /// account, so its policy holds every [`Principal::AuditRole`] action too.
    Caller,
    /// The audit role in each member account (deploy/iam-audit-role.yaml, whose inline policy
    /// is deploy/iam-audit-member-policy.json): every per-account data source's calls.
    AuditRole,
    /// Who reads the organization trail's bucket (`scan --cloudtrail-s3`): the caller, or the
    /// role given as `--cloudtrail-role` (deploy/iam-audit-trail-reader.yaml in the log archive
    /// account, whose inline policy is deploy/iam-audit-trail-policy.json; attach that policy to
    /// the caller to read with its own credentials).
    TrailReader,
}

/// The IAM actions one part of the scan needs, and who needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Needs {
    pub principal: Principal,
    pub actions: &'static [&'static str],
}
