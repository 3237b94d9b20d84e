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

/// The events collected by default: the seed's five, the two the red flags and the root report
/// need, and the changes that remediate a finding (a key deactivated, MFA enabled, console
/// access given or changed). `scan` looks them up; `evaluate` keeps them from CloudTrail files.
pub const DEFAULT_EVENTS: [&str; 11] = [
    "CreateUser",
    "DeleteUser",
    "CreateAccessKey",
    "DeleteAccessKey",
    "UpdateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "DeleteLoginProfile",
    "EnableMFADevice",
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
    /// The IAM user the call acted on (see [`Record::to_event`]).
    pub user_name: Option<String>,
    /// The access key the call acted on (`requestParameters.accessKeyId`, or the created key).
    pub access_key_id: Option<String>,
    /// An `UpdateAccessKey`'s `requestParameters.status`: `Active` or `Inactive`.
    pub key_status: Option<String>,
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
    /// As CloudTrail writes it (`2026-03-05T10:00:00Z`); a data lake's export may give epoch
    /// seconds or milliseconds instead, read as that time in RFC 3339.
    #[serde(borrow, default, deserialize_with = "event_time")]
    pub event_time: Option<Cow<'a, str>>,
    /// `AwsApiCall`, `AwsConsoleSignIn`, `AwsServiceEvent`, ... or `AwsCloudTrailInsight` for
    /// an Insights event (which has no `eventName` of its own).
    #[serde(borrow)]
    pub event_type: Option<Cow<'a, str>>,
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

/// `eventTime`: a string (borrowed when it can be), or epoch seconds or milliseconds.
fn event_time<'de: 'a, 'a, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Cow<'a, str>>, D::Error> {
    struct Time;
    impl<'de> serde::de::Visitor<'de> for Time {
        type Value = Option<Cow<'de, str>>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a time (text, or epoch seconds or milliseconds)")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v.to_string())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(v)))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_f64(v as f64)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            // Milliseconds past 1e11 (year 5138 in seconds, 1973 in milliseconds).
            let secs = if v.abs() >= 1e11 { v / 1000.0 } else { v };
            let whole = secs.floor();
            let nanos = ((secs - whole) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
            let time = chrono::DateTime::from_timestamp(whole as i64, nanos)
                .ok_or_else(|| E::custom(format!("eventTime {v} is not a time")))?;
            Ok(Some(Cow::Owned(
                time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            )))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Time)
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
        self.details_with(
            &value(self.user_identity),
            &value(self.request_parameters),
            &value(self.response_elements),
        )
    }

    /// [`Record::details`] with `userIdentity`, `requestParameters` and `responseElements`
    /// already parsed.
    fn details_with(&self, identity: &Value, request: &Value, response: &Value) -> RecordDetails {
        let name = self.event_name.as_deref().unwrap_or_default();
        let identity_object = identity;
        let identity = identity.is_object().then_some(identity);
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
        let login_outcome = text(response.get("ConsoleLogin"));
        let mfa_used = value(self.additional_event_data)
            .get("MFAUsed")
            .and_then(Value::as_str)
            .and_then(|s| match s {
                "Yes" => Some(true),
                "No" => Some(false),
                _ => None,
            });
        // The affected user is the request's `userName`, else the one in the response (a
        // `CreateAccessKey` without `userName` creates a key for the caller: the response's
        // `accessKey.userName` says whose), else, for the calls whose user defaults to the
        // caller (`DEFAULTS_TO_CALLER`), the caller itself when it is an IAM user or root.
        let user_name = text(request.get("userName"))
            .or_else(|| text(response.get("accessKey").and_then(|k| k.get("userName"))))
            .or_else(|| text(response.get("user").and_then(|u| u.get("userName"))))
            .or_else(|| {
                if !DEFAULTS_TO_CALLER.contains(&name) {
                    return None;
                }
                match actor_type.as_deref() {
                    Some("Root") => Some("root".to_string()),
                    Some("IAMUser") => text(identity_object.get("userName")),
                    _ => None,
                }
            });
        let access_key_id = text(request.get("accessKeyId"))
            .or_else(|| text(response.get("accessKey").and_then(|k| k.get("accessKeyId"))));
        let key_status = (name == "UpdateAccessKey")
            .then(|| text(request.get("status")))
            .flatten();
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
            user_name,
            access_key_id,
            key_status,
        }
    }

    /// Whether this is a CloudTrail Insights event (`eventType` `AwsCloudTrailInsight`): a
    /// note on unusual activity, not an API call, whatever names it carries.
    pub fn is_insight(&self) -> bool {
        self.event_type.as_deref() == Some("AwsCloudTrailInsight")
    }

    /// The event this record describes, as `LookupEvents` would give it: who acted (see
    /// [`actor_of`]), the affected access key, user and MFA device as resources, and the
    /// details. The account is `recipientAccountId`, else `fallback_account` (the account of
    /// the log file, for AWS's older records without it), else the caller's account.
    ///
    /// The affected user is the request's `userName`, else the one in the response (a
    /// `CreateAccessKey` without `userName` creates a key for the caller: the response's
    /// `accessKey.userName` says whose), else — for the calls whose user defaults to the caller
    /// (`DEFAULTS_TO_CALLER`) — the caller itself when it is an IAM user or root.
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
        let details = self.details_with(&identity, &request, &response);
        let actor = actor_of(&identity).unwrap_or_else(|| "N/A".to_string());
        let mut resources: Vec<String> = Vec::new();
        for r in [
            details.access_key_id.clone(),
            details.user_name.clone(),
            text(request.get("serialNumber")),
        ]
        .into_iter()
        .flatten()
        {
            if !resources.contains(&r) {
                resources.push(r);
            }
        }
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

/// The IAM calls whose target user, when the request names none, is the caller (IAM API
/// reference): for CreateAccessKey, DeleteAccessKey and UpdateAccessKey "IAM determines the user
/// name implicitly based on the access key ID signing the request"; for CreateLoginProfile,
/// DeleteLoginProfile and DeactivateMFADevice the user name "defaults to the principal making
/// the request" (root through an AssumeRoot session).
const DEFAULTS_TO_CALLER: [&str; 6] = [
    "CreateAccessKey",
    "DeleteAccessKey",
    "UpdateAccessKey",
    "CreateLoginProfile",
    "DeleteLoginProfile",
    "DeactivateMFADevice",
];

/// Who acted, named as CloudTrail's event history names it, from the record's `userIdentity`
/// (CloudTrail userIdentity element): `root` for the root user; the user name of an IAM user;
/// the session name of an assumed role (the last part of its `arn`,
/// `arn:aws:sts::…:assumed-role/ROLE/SESSION`); the federated user's name
/// (`arn:aws:sts::…:federated-user/NAME`); the service for `AWSService` (`invokedBy`); else the
/// first of `userName`, the session issuer's name, the name at the end of the ARN,
/// `invokedBy`, the Identity Center user id, `principalId`.
pub fn actor_of(identity: &Value) -> Option<String> {
    let get = |k: &str| text(identity.get(k));
    let arn_tail = || {
        get("arn")
            .and_then(|arn| arn.rsplit(['/', ':']).next().map(str::to_string))
            .filter(|s| !s.is_empty())
    };
    let by_type = match get("type").as_deref() {
        Some("Root") => Some("root".to_string()),
        Some("AssumedRole" | "FederatedUser") => arn_tail(),
        Some("AWSService") => get("invokedBy"),
        _ => None,
    };
    by_type
        .or_else(|| get("userName"))
        .or_else(|| {
            text(
                identity
                    .get("sessionContext")
                    .and_then(|c| c.get("sessionIssuer"))
                    .and_then(|s| s.get("userName")),
            )
        })
        .or_else(arn_tail)
        .or_else(|| get("invokedBy"))
        .or_else(|| text(identity.get("onBehalfOf").and_then(|o| o.get("userId"))))
        .or_else(|| get("principalId"))
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
        event.user_name = self.user_name;
        event.access_key_id = self.access_key_id;
        event.key_status = self.key_status;
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

    /// `userIdentity` of each type, as the CloudTrail userIdentity element documents them.
    #[test]
    fn the_actor_of_each_identity_type() {
        let actor = |json: &str| actor_of(&serde_json::from_str(json).unwrap());
        assert_eq!(
            actor(r#"{"type":"Root","principalId":"111111111111","arn":"arn:aws:iam::111111111111:root","accountId":"111111111111"}"#).as_deref(),
            Some("root")
        );
        assert_eq!(
            actor(r#"{"type":"IAMUser","principalId":"AIDAJ45Q7YFFAREXAMPLE","arn":"arn:aws:iam::123456789012:user/division/Alice","accountId":"123456789012","accessKeyId":"","userName":"Alice"}"#).as_deref(),
            Some("Alice")
        );
        assert_eq!(
            actor(r#"{"type":"AssumedRole","principalId":"AROAIDPPEZS35WEXAMPLE:MySessionName","arn":"arn:aws:sts::123456789012:assumed-role/RoleToBeAssumed/MySessionName","accountId":"123456789012","sessionContext":{"sessionIssuer":{"type":"Role","userName":"RoleToBeAssumed"}}}"#).as_deref(),
            Some("MySessionName")
        );
        assert_eq!(
            actor(r#"{"type":"FederatedUser","principalId":"123456789012:Bob","arn":"arn:aws:sts::123456789012:federated-user/Bob","accountId":"123456789012","sessionContext":{"sessionIssuer":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/Alice","userName":"Alice"}}}"#).as_deref(),
            Some("Bob")
        );
        assert_eq!(
            actor(r#"{"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"}"#).as_deref(),
            Some("cloudformation.amazonaws.com")
        );
        assert_eq!(
            actor(r#"{"type":"IdentityCenterUser","accountId":"123456789012","onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1","identityStoreArn":"arn:aws:identitystore::123456789012:identitystore/d-9067642ac7"},"credentialId":"EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE"}"#).as_deref(),
            Some("544894e8-80c1-707f-60e3-3ba6510dfac1")
        );
        assert_eq!(
            actor(
                r#"{"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"444455556666"}"#
            )
            .as_deref(),
            Some("AIDAEXAMPLE")
        );
        assert_eq!(actor("{}"), None);
    }

    #[test]
    fn an_event_time_may_be_epoch_seconds_or_milliseconds() {
        let time = |json: &str| {
            let r: Record<'_> = serde_json::from_str(json).unwrap();
            r.event_time.map(std::borrow::Cow::into_owned)
        };
        assert_eq!(
            time(r#"{"eventTime":"2026-03-05T10:00:00Z"}"#).as_deref(),
            Some("2026-03-05T10:00:00Z")
        );
        assert_eq!(
            time(r#"{"eventTime":1772704800}"#).as_deref(),
            Some("2026-03-05T10:00:00Z")
        );
        assert_eq!(
            time(r#"{"eventTime":1772704800500}"#).as_deref(),
            Some("2026-03-05T10:00:00.500Z")
        );
        assert_eq!(time(r#"{"eventTime":null}"#), None);
        assert_eq!(time("{}"), None);
        assert!(serde_json::from_str::<Record<'_>>(r#"{"eventTime":[1]}"#).is_err());
    }

    #[test]
    fn the_affected_user_defaults_to_the_caller_only_where_iam_says_so() {
        let event = |name: &str, identity: &str| {
            let json = format!(
                r#"{{"eventName":"{name}","eventTime":"2026-03-05T10:00:00Z","recipientAccountId":"111111111111","userIdentity":{identity},"requestParameters":{{"accessKeyId":"AKIAEXAMPLE00000001"}}}}"#
            );
            serde_json::from_str::<Record<'_>>(&json)
                .unwrap()
                .to_event(None)
                .unwrap()
                .resources
        };
        let user = r#"{"type":"IAMUser","userName":"carol"}"#;
        assert_eq!(
            event("DeleteAccessKey", user),
            ["AKIAEXAMPLE00000001", "carol"]
        );
        assert_eq!(
            event("DeleteAccessKey", r#"{"type":"Root"}"#),
            ["AKIAEXAMPLE00000001", "root"]
        );
        assert_eq!(event("GetAccessKeyLastUsed", user), ["AKIAEXAMPLE00000001"]);
        assert_eq!(
            event(
                "DeleteAccessKey",
                r#"{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s"}"#
            ),
            ["AKIAEXAMPLE00000001"]
        );
    }
}
