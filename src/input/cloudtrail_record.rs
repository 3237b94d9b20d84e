//! A CloudTrail record (the `CloudTrailEvent` JSON string of LookupEvents, or one element of
//! a log file's `Records`) turned into an [`Event`]: what CloudTrail says beside the event
//! name — whether the call failed (`errorCode`, `errorMessage`; a failed console sign-in
//! also has `responseElements.ConsoleLogin = "Failure"`), the source IP, user agent and
//! region, who acted (`userIdentity` type and ARN) and, for `ConsoleLogin`, the outcome and
//! whether MFA was used. Pure: no AWS calls.
//!
//! Field names and shapes follow the CloudTrail record contents reference
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::inventory::time::parse_time;

use crate::inventory::Event;

/// The events collected by default: the seed's five, plus the two the red flags and the root
/// report need. `scan` looks them up; `evaluate` keeps them from CloudTrail files.
pub const DEFAULT_EVENTS: [&str; 7] = [
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "DeleteLoginProfile",
    "DeactivateMFADevice",
    "ConsoleLogin",
];

/// The details of one record, as far as it has them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordDetails {
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub region: Option<String>,
    pub actor_type: Option<String>,
    pub actor_arn: Option<String>,
    /// Who acted, as a name: the user name, the role session's role name, or `root`.
    pub actor: Option<String>,
    pub login_outcome: Option<String>,
    pub mfa_used: Option<bool>,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn some(s: Option<Cow<'_, str>>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(Cow::into_owned)
}

/// The parts of a CloudTrail record that iam-audit reads; the rest is skipped unparsed.
/// Nested objects are kept raw and parsed only for the records that are kept.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow)]
    pub event_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub event_time: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "eventID")]
    pub event_id: Option<Cow<'a, str>>,
    /// The account the event happened in; absent from records of AWS's older format.
    #[serde(borrow)]
    pub recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub error_code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub error_message: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip_address: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_agent: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub aws_region: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub user_identity: Option<&'a RawValue>,
    #[serde(borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow)]
    pub additional_event_data: Option<&'a RawValue>,
}

fn value(raw: Option<&RawValue>) -> Value {
    raw.and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or(Value::Null)
}

/// Reads the details of a record. Never fails: a record that is not the expected shape gives
/// what it has (an unparsable record gives nothing, and the caller keeps the event as the
/// LookupEvents fields describe it).
pub fn details(record: &Value) -> RecordDetails {
    let text = record.to_string();
    serde_json::from_str::<Record<'_>>(&text)
        .map(|r| r.details())
        .unwrap_or_default()
}

/// Parses the `CloudTrailEvent` JSON string of a LookupEvents event.
pub fn details_of_json(json: &str) -> Option<RecordDetails> {
    serde_json::from_str::<Value>(json)
        .ok()
        .filter(Value::is_object)?;
    Some(
        serde_json::from_str::<Record<'_>>(json)
            .map(|r| r.details())
            .unwrap_or_default(),
    )
}

impl Record<'_> {
    /// What CloudTrail recorded beside the event name.
    pub fn details(&self) -> RecordDetails {
        let identity = value(self.user_identity);
        let identity = identity.is_object().then_some(&identity);
        let actor_type = text(identity.and_then(|i| i.get("type")));
        let actor_arn = text(identity.and_then(|i| i.get("arn")));
        let actor = match actor_type.as_deref() {
            Some("Root") => Some("root".to_string()),
            _ => text(identity.and_then(|i| i.get("userName"))).or_else(|| {
                // An assumed role: the session issuer's name (the role), as CloudTrail's
                // console shows it.
                text(
                    identity
                        .and_then(|i| i.get("sessionContext"))
                        .and_then(|c| c.get("sessionIssuer"))
                        .and_then(|s| s.get("userName")),
                )
            }),
        };
        let response = value(self.response_elements);
        let login_outcome = text(response.get("ConsoleLogin"));
        let mfa_used = value(self.additional_event_data)
            .get("MFAUsed")
            .and_then(Value::as_str)
            .and_then(|s| match s {
                "Yes" => Some(true),
                "No" => Some(false),
                _ => None,
            });
        RecordDetails {
            error_code: some(self.error_code.clone()),
            error_message: some(self.error_message.clone()),
            source_ip: some(self.source_ip_address.clone()),
            user_agent: some(self.user_agent.clone()),
            region: some(self.aws_region.clone()),
            actor_type,
            actor_arn,
            actor,
            login_outcome,
            mfa_used,
        }
    }

    /// The event this record describes, as `LookupEvents` would give it: the user name of
    /// the caller (`root` for the root user, the session name of an assumed role), the
    /// affected access key, user and MFA device as resources, and the details. The account
    /// is `recipientAccountId`, else `fallback_account` (the account of the log file, for
    /// AWS's older records without it), else the caller's account.
    ///
    /// # Errors
    ///
    /// A record without an event name or with an event time that is not a time.
    pub fn to_event(&self, fallback_account: Option<&str>) -> Result<Event, String> {
        let name = some(self.event_name.clone()).ok_or("no eventName")?;
        let time = match self.event_time.as_deref() {
            None => return Err("no eventTime".into()),
            Some(t) => parse_time(t).ok_or_else(|| format!("eventTime `{t}` is not a time"))?,
        };
        let identity = value(self.user_identity);
        let request = value(self.request_parameters);
        let response = value(self.response_elements);
        let account_id = some(self.recipient_account_id.clone())
            .or_else(|| fallback_account.map(str::to_string))
            .or_else(|| text(identity.get("accountId")))
            .ok_or("no recipientAccountId, and the file does not say its account")?;
        let user_name = text(request.get("userName"))
            .or_else(|| text(response.get("accessKey").and_then(|k| k.get("userName"))))
            .or_else(|| text(response.get("user").and_then(|u| u.get("userName"))));
        let key_id = text(request.get("accessKeyId"))
            .or_else(|| text(response.get("accessKey").and_then(|k| k.get("accessKeyId"))));
        let resources = [key_id, user_name, text(request.get("serialNumber"))]
            .into_iter()
            .flatten()
            .collect();
        let details = self.details();
        let actor = match details.actor_type.as_deref() {
            Some("Root") => Some("root".to_string()),
            Some("AssumedRole") => details
                .actor_arn
                .as_deref()
                .and_then(|arn| arn.rsplit('/').next())
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            _ => None,
        }
        .or_else(|| text(identity.get("userName")))
        .or_else(|| details.actor.clone())
        .unwrap_or_else(|| "N/A".to_string());
        let mut event = Event {
            time,
            name,
            actor,
            account_id,
            resources,
            ..Event::default()
        };
        details.apply(&mut event);
        Ok(event)
    }
}

impl RecordDetails {
    /// Copies the details into `event` (the actor only when the event has none).
    pub fn apply(self, event: &mut Event) {
        event.error_code = self.error_code;
        event.error_message = self.error_message;
        event.source_ip = self.source_ip;
        event.user_agent = self.user_agent;
        event.region = self.region;
        event.actor_type = self.actor_type;
        event.actor_arn = self.actor_arn;
        event.login_outcome = self.login_outcome;
        event.mfa_used = self.mfa_used;
        if event.actor.is_empty() || event.actor == "N/A" {
            if let Some(a) = self.actor {
                event.actor = a;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written from the CloudTrail documentation's examples of each record.
    const DENIED_DEACTIVATE: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEMALLORY01","arn":"arn:aws:iam::111111111111:user/mallory","accountId":"111111111111","accessKeyId":"AKIAEXAMPLEMALLORY01","userName":"mallory"},"eventTime":"2026-03-05T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":"DeactivateMFADevice","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22","errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111111111111:user/mallory is not authorized to perform: iam:DeactivateMFADevice on resource: user alice because no identity-based policy allows the iam:DeactivateMFADevice action","requestParameters":null,"responseElements":null,"requestID":"5b1f0f7e-0000-4000-8000-000000000001","eventID":"0c0a0e9d-0000-4000-8000-000000000001","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111111111111","eventCategory":"Management"}"#;

    const FAILED_ROOT_LOGIN: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"Root","principalId":"111111111111","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111","accessKeyId":""},"eventTime":"2026-03-05T11:00:00Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.23","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","errorMessage":"Failed authentication","requestParameters":null,"responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"LoginTo":"https://console.aws.amazon.com/console/home","MobileVersion":"No","MFAUsed":"No"},"eventID":"0c0a0e9d-0000-4000-8000-000000000002","readOnly":false,"eventType":"AwsConsoleSignIn","managementEvent":true,"recipientAccountId":"111111111111","eventCategory":"Management"}"#;

    const ROLE_CREATE_KEY: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLEROLE00001:deployer","arn":"arn:aws:sts::111111111111:assumed-role/Deployer/deployer","accountId":"111111111111","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEROLE00001","arn":"arn:aws:iam::111111111111:role/Deployer","accountId":"111111111111","userName":"Deployer"}}},"eventTime":"2026-03-05T12:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.10","userAgent":"Boto3/1.34.0","requestParameters":{"userName":"bob"},"responseElements":{"accessKey":{"accessKeyId":"AKIAEXAMPLEBOBKEY001","status":"Active","userName":"bob","createDate":"Mar 5, 2026 12:00:00 PM"}}}"#;

    #[test]
    fn a_denied_call_keeps_its_error_and_origin() {
        let d = details_of_json(DENIED_DEACTIVATE).unwrap();
        assert_eq!(d.error_code.as_deref(), Some("AccessDenied"));
        assert!(d.error_message.unwrap().contains("not authorized"));
        assert_eq!(d.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(d.region.as_deref(), Some("us-east-1"));
        assert_eq!(d.actor_type.as_deref(), Some("IAMUser"));
        assert_eq!(d.actor.as_deref(), Some("mallory"));
        assert!(d.user_agent.unwrap().starts_with("aws-cli/"));
        assert_eq!(d.login_outcome, None);
    }

    #[test]
    fn a_failed_root_sign_in_is_a_failure_without_an_error_code() {
        let d = details_of_json(FAILED_ROOT_LOGIN).unwrap();
        assert_eq!(d.error_code, None);
        assert_eq!(d.login_outcome.as_deref(), Some("Failure"));
        assert_eq!(d.mfa_used, Some(false));
        assert_eq!(d.actor.as_deref(), Some("root"));
        assert_eq!(
            d.actor_arn.as_deref(),
            Some("arn:aws:iam::111111111111:root")
        );
        let mut e = Event {
            name: "ConsoleLogin".into(),
            ..Event::default()
        };
        d.apply(&mut e);
        assert!(e.failed());
        assert_eq!(e.actor, "root");
    }

    #[test]
    fn an_assumed_role_is_named_by_its_role_and_success_is_not_failure() {
        let d = details_of_json(ROLE_CREATE_KEY).unwrap();
        assert_eq!(d.actor.as_deref(), Some("Deployer"));
        assert_eq!(d.actor_type.as_deref(), Some("AssumedRole"));
        let mut e = Event::default();
        d.apply(&mut e);
        assert!(!e.failed());
    }

    #[test]
    fn garbage_gives_nothing() {
        assert_eq!(details_of_json("not json"), None);
        assert_eq!(details_of_json("[1]"), None);
        assert_eq!(details_of_json("{}"), Some(RecordDetails::default()));
    }
}
