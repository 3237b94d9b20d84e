//! Collection from AWS (`iam-audit scan`). For now: the pure parts that need no AWS call —
//! the credential report parser and the matching of its key slots to key ids. The SDK clients
//! (Organizations, STS, IAM, CloudTrail) come with the scan command.

pub mod credential_report;
