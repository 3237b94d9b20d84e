//! The normalized credential inventory: the one model that collectors and readers produce and
//! the engine reads. It is also the versioned wire format of `inventory_<stamp>.json`
//! (`schema_version` 1, schema in `schemas/inventory.schema.json`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the inventory JSON format written by this build.
pub const INVENTORY_SCHEMA_VERSION: u32 = 1;

/// Everything known about the credentials of a set of accounts at one instant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Format version; readers refuse versions they do not know.
    pub schema_version: u32,
    /// Where the data came from.
    pub source: Source,
    /// When the data was collected (the scan's start), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_at: Option<DateTime<Utc>>,
    /// AWS Organization id, when collected from an Organization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<String>,
    /// The Organization's management account, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub management_account_id: Option<String>,
    /// Who ran the scan (STS GetCallerIdentity), when collected live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Caller>,
    /// The Organization's centralized root access features (IAM ListOrganizationsFeatures);
    /// absent when unknown (`notes` says why when a scan could not read them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_access: Option<RootAccessFeatures>,
    /// Remarks on the whole run (what could not be read outside any one account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Fields the source cannot provide. A rule that needs one of them is reported as not
    /// evaluable instead of silently passing.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub unavailable: BTreeSet<Field>,
    /// Accounts of the Organization deliberately not audited (suspended or closed), sorted
    /// by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedAccount>,
    /// Accounts, sorted by id.
    #[serde(default)]
    pub accounts: Vec<Account>,
    /// CloudTrail events of every account, sorted by time.
    #[serde(default)]
    pub events: Vec<Event>,
}

/// The identity that ran a scan, from STS GetCallerIdentity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Caller {
    /// The caller's own account: read with the caller's credentials, every other account
    /// through the audit role.
    pub account_id: String,
    /// The caller's ARN (user, assumed-role session or root).
    pub arn: String,
    /// The partition of the caller's ARN (`aws`, `aws-us-gov`, `aws-cn`), used for every ARN
    /// the scan builds.
    pub partition: String,
}

/// Centralized root access features enabled in the Organization (IAM
/// `ListOrganizationsFeatures`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootAccessFeatures {
    /// `RootCredentialsManagement`: the management account (or the IAM delegated
    /// administrator) can delete and audit member accounts' root credentials.
    pub root_credentials_management: bool,
    /// `RootSessions`: privileged root tasks on member accounts through short-term sessions.
    pub root_sessions: bool,
}

/// An account that was not audited on purpose.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SkippedAccount {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Why, e.g. `SUSPENDED`.
    pub reason: String,
}

/// Origin of an inventory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub kind: SourceKind,
    /// Input files (file names only, never directories), for the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// Collected live from AWS by `iam-audit scan`.
    Scan,
    /// Read from the stock CSV reports.
    StockCsv,
    /// Read from an inventory JSON file.
    #[default]
    InventoryJson,
    /// Read from AWS IAM credential reports (CSV or `aws iam get-credential-report` JSON).
    CredentialReport,
    /// Several inputs of different kinds evaluated together.
    Combined,
}

/// A field that some sources cannot provide.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Field {
    #[serde(rename = "user.id")]
    UserId,
    #[serde(rename = "user.arn")]
    UserArn,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.tags")]
    UserTags,
    #[serde(rename = "user.password_last_changed")]
    PasswordLastChanged,
    #[serde(rename = "user.mfa_devices")]
    MfaDevices,
    /// The region of a key's last use (the stock report has only its service).
    #[serde(rename = "key.last_used_region")]
    KeyLastUsedRegion,
    #[serde(rename = "account.tags")]
    AccountTags,
    #[serde(rename = "account.ou_path")]
    AccountOuPath,
    #[serde(rename = "account.collection")]
    AccountCollection,
    #[serde(rename = "account.root")]
    Root,
    /// When the root user's access keys were last used: in the credential report, not in the
    /// stock root CSV.
    #[serde(rename = "account.root_access_key_last_used")]
    RootKeyLastUsed,
    #[serde(rename = "events")]
    Events,
    /// What CloudTrail records beside the event name (error code, source IP, user agent,
    /// region, the actor's type and ARN, a console login's outcome and MFA use): not in the
    /// stock events CSV.
    #[serde(rename = "event.details")]
    EventDetails,
    /// The Organization's management account and centralized root access features: known to
    /// a scan, not to a stock CSV.
    #[serde(rename = "organization.root_access")]
    OrgRootAccess,
    /// Access key ids: a credential report has two key slots per user, not the keys' ids;
    /// such a key is named by its slot (`access_key_1`, `access_key_2`).
    #[serde(rename = "key.id")]
    KeyId,
}

impl Field {
    /// The dotted name used in rule conditions, the JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::UserId => "user.id",
            Field::UserArn => "user.arn",
            Field::UserCreated => "user.created",
            Field::UserTags => "user.tags",
            Field::PasswordLastChanged => "user.password_last_changed",
            Field::MfaDevices => "user.mfa_devices",
            Field::KeyLastUsedRegion => "key.last_used_region",
            Field::AccountTags => "account.tags",
            Field::AccountOuPath => "account.ou_path",
            Field::AccountCollection => "account.collection",
            Field::Root => "account.root",
            Field::RootKeyLastUsed => "account.root_access_key_last_used",
            Field::Events => "events",
            Field::EventDetails => "event.details",
            Field::OrgRootAccess => "organization.root_access",
            Field::KeyId => "key.id",
        }
    }

    /// Parses the dotted name.
    pub fn parse(s: &str) -> Option<Field> {
        ALL_FIELDS.iter().copied().find(|f| f.as_str() == s)
    }
}

/// Every [`Field`], in order.
pub const ALL_FIELDS: [Field; 16] = [
    Field::UserId,
    Field::UserArn,
    Field::UserCreated,
    Field::UserTags,
    Field::PasswordLastChanged,
    Field::MfaDevices,
    Field::KeyLastUsedRegion,
    Field::AccountTags,
    Field::AccountOuPath,
    Field::AccountCollection,
    Field::Root,
    Field::RootKeyLastUsed,
    Field::Events,
    Field::EventDetails,
    Field::OrgRootAccess,
    Field::KeyId,
];

/// One AWS account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Twelve-digit account id.
    pub id: String,
    /// Account name from Organizations.
    #[serde(default)]
    pub name: String,
    /// Organizational unit names from the root down.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ou_path: Vec<String>,
    /// Organizations tags of the account.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// What could and could not be collected.
    #[serde(default)]
    pub collection: Collection,
    /// IAM users, sorted by name.
    #[serde(default)]
    pub users: Vec<User>,
    /// Root user credentials, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<RootCredentials>,
}

/// Collection status and data freshness of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    pub status: CollectionStatus,
    /// One entry per data source that failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<CollectionError>,
    /// How the account was read: with the caller's own credentials or through the audit
    /// role (absent for offline inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccountAccess>,
    /// When AWS generated the credential report the data comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_report_generated_at: Option<DateTime<Utc>>,
    /// Remarks on how the data was obtained (fallbacks, ambiguities).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How a scan read an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AccountAccess {
    /// The caller's own account, read with the caller's credentials.
    Caller,
    /// Read through the audit role (STS AssumeRole).
    AssumeRole,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CollectionStatus {
    /// Every data source was collected.
    #[default]
    Complete,
    /// Some data sources failed; what was collected is present.
    Partial,
    /// Nothing could be collected for the account.
    Failed,
}

/// A data source of one account that could not be collected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectionError {
    pub source: DataSource,
    /// What went wrong, as AWS said it (never a secret).
    pub message: String,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// Role assumption into the account.
    AssumeRole,
    /// IAM users, keys and MFA devices.
    Iam,
    /// The IAM credential report.
    CredentialReport,
    /// CloudTrail events (LookupEvents, or the organization trail's files).
    Cloudtrail,
    /// Organizations discovery: the account list, OU paths, tags.
    Organizations,

    /// The account's deadline expired.
    Deadline,
}

impl DataSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DataSource::AssumeRole => "assume-role",
            DataSource::Iam => "iam",
            DataSource::CredentialReport => "credential-report",
            DataSource::Cloudtrail => "cloudtrail",
            DataSource::Organizations => "organizations",
            DataSource::Deadline => "deadline",
        }
    }
}

/// One IAM user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    pub name: String,
    /// Stable IAM user id (AIDA...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// When the user was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Console password.
    #[serde(default)]
    pub password: Password,
    /// MFA devices, sorted by serial.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mfa_devices: Vec<MfaDevice>,
    /// Access keys, sorted by creation time then id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_keys: Vec<AccessKey>,
}

/// Console password state of a user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Password {
    /// The user has a console password (a login profile).
    pub enabled: bool,
    /// Last console sign-in; absent when never used (or unknown, see `last_used_unknown`).
    /// AWS keeps it after the password is removed, so a user without a password may have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<DateTime<Utc>>,
    /// The source cannot tell whether or when the password was last used (the credential
    /// report's `no_information` for a user created before IAM tracked sign-ins): rules that
    /// need it list the user as not evaluable instead of treating it as never used.
    #[serde(default, skip_serializing_if = "is_false")]
    pub last_used_unknown: bool,
    /// Last password change (or creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_changed: Option<DateTime<Utc>>,
}

/// An MFA device assigned to a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaDevice {
    /// Serial number or ARN of the device, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(rename = "type")]
    pub kind: MfaType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_at: Option<DateTime<Utc>>,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum MfaType {
    /// A virtual (TOTP app) device.
    Virtual,
    /// A hardware TOTP token.
    Hardware,
    /// A FIDO security key or passkey.
    Fido,
    /// A device whose kind could not be told.
    Unknown,
}

impl MfaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MfaType::Virtual => "virtual",
            MfaType::Hardware => "hardware",
            MfaType::Fido => "fido",
            MfaType::Unknown => "unknown",
        }
    }
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` passes a reference
fn is_false(b: &bool) -> bool {
    !*b
}

/// One access key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    /// Access key id (AKIA...). Never the secret.
    pub id: String,
    pub status: KeyStatus,
    pub created: DateTime<Utc>,
    /// Last use; absent when never used (or unknown, see `last_used_unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<DateTime<Utc>>,
    /// The source cannot tell whether or when the key was last used (no matching credential
    /// report slot and no GetAccessKeyLastUsed answer, or a report's `N/A` for a key older
    /// than AWS's tracking): rules that need it list the key as not evaluable instead of
    /// treating it as never used.
    #[serde(default, skip_serializing_if = "is_false")]
    pub last_used_unknown: bool,
    /// AWS service id of the last use (e.g. `s3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_service: Option<String>,
    /// Region of the last use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_region: Option<String>,
}

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum KeyStatus {
    #[default]
    Active,
    Inactive,
    /// Kept when AWS reports it.
    Expired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
            KeyStatus::Expired => "Expired",
        }
    }

    pub fn parse(s: &str) -> Option<KeyStatus> {
        match s {
            "Active" => Some(KeyStatus::Active),
            "Inactive" => Some(KeyStatus::Inactive),
            "Expired" => Some(KeyStatus::Expired),
            _ => None,
        }
    }
}

/// Root user credentials of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootCredentials {
    /// Whether the root user has a console password: `true` / `false` as newer credential
    /// reports say; absent when unknown (older reports say `not_supported`, the stock root
    /// CSV has no such column). With centralized root access a member account may have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_enabled: Option<bool>,
    pub mfa_enabled: bool,
    /// Whether the MFA is a hardware device; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_mfa: Option<bool>,
    /// Whether the root user has an access key, Active or Inactive.
    pub access_key_present: bool,
    /// Last root console sign-in; absent when never (or unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_console_login: Option<DateTime<Utc>>,
    /// Last use of any root access key; absent when never (unknown when the inventory lists
    /// `account.root_access_key_last_used` as unavailable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_last_used: Option<DateTime<Utc>>,
}

/// One CloudTrail management event, successful or failed, as CloudTrail records it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub time: DateTime<Utc>,
    /// CloudTrail `eventName`, e.g. `DeleteAccessKey`.
    pub name: String,
    /// Who acted (user name, role session or `root`).
    pub actor: String,
    pub account_id: String,
    #[serde(default)]
    pub account_name: String,
    /// Affected user names and key ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// CloudTrail `errorCode`: the call failed (e.g. `AccessDenied`). A failed call is kept
    /// in the inventory but never counted as a lifecycle event or a sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// CloudTrail `errorMessage`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// `sourceIPAddress` (an IP address or an AWS service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// `userAgent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// `awsRegion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `userIdentity.type`: `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `AWSService`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_type: Option<String>,
    /// `userIdentity.arn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_arn: Option<String>,
    /// A `ConsoleLogin`'s outcome: `Success` or `Failure` (`responseElements.ConsoleLogin`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_outcome: Option<String>,
    /// A `ConsoleLogin`'s `additionalEventData.MFAUsed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_used: Option<bool>,
    /// The IAM user the call acted on (`requestParameters.userName`, the created key's user,
    /// or the caller for the calls that default to it); `None` when the record does not say
    /// (the stock events CSV: see [`Event::target_user`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The access key the call acted on (`requestParameters.accessKeyId`, or the created key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// An `UpdateAccessKey`'s new status (`requestParameters.status`): `Active` or `Inactive`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_status: Option<String>,
}

/// Whether `s` has the shape of an access key id: `AKIA` (long-term) or `ASIA` (temporary)
/// and 16 more upper-case letters and digits.
pub fn looks_like_key_id(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Event {
    /// The access key the call acted on: [`Event::access_key_id`], else (events read from
    /// the stock CSV, which has only `resources`) the resource shaped like a key id.
    pub fn target_key(&self) -> Option<&str> {
        self.access_key_id.as_deref().or_else(|| {
            self.resources
                .iter()
                .map(String::as_str)
                .find(|r| looks_like_key_id(r))
        })
    }

    /// The IAM user the call acted on: [`Event::user_name`], else (the stock CSV) the first
    /// resource that is neither a key id nor an ARN (an MFA device's serial number).
    pub fn target_user(&self) -> Option<&str> {
        self.user_name.as_deref().or_else(|| {
            self.resources
                .iter()
                .map(String::as_str)
                .find(|r| !r.is_empty() && !looks_like_key_id(r) && !r.starts_with("arn:"))
        })
    }

    /// The call failed: CloudTrail recorded an `errorCode`, or a console sign-in failed.
    pub fn failed(&self) -> bool {
        self.error_code.is_some() || self.login_outcome.as_deref() == Some("Failure")
    }
}

impl Inventory {
    /// An empty inventory of the given source.
    pub fn new(kind: SourceKind) -> Inventory {
        Inventory {
            schema_version: INVENTORY_SCHEMA_VERSION,
            source: Source {
                kind,
                files: Vec::new(),
            },
            collected_at: None,
            organization_id: None,
            management_account_id: None,
            caller: None,
            root_access: None,
            notes: Vec::new(),
            unavailable: BTreeSet::new(),
            accounts: Vec::new(),
            skipped: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Sorts every collection into the one canonical order, so that every emitter is
    /// deterministic whatever order the data arrived in.
    pub fn normalize(&mut self) {
        self.accounts.sort_by(|a, b| a.id.cmp(&b.id));
        self.skipped.sort_by(|a, b| a.id.cmp(&b.id));
        for account in &mut self.accounts {
            account.users.sort_by(|a, b| a.name.cmp(&b.name));
            account
                .collection
                .errors
                .sort_by(|a, b| (a.source, &a.message).cmp(&(b.source, &b.message)));
            for user in &mut account.users {
                user.access_keys
                    .sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
                user.mfa_devices
                    .sort_by(|a, b| (&a.serial, a.kind).cmp(&(&b.serial, b.kind)));
            }
        }
        self.events.sort_by(|a, b| {
            (a.time, &a.account_id, &a.name, &a.actor, &a.resources)
                .cmp(&(b.time, &b.account_id, &b.name, &b.actor, &b.resources))
                .then_with(|| {
                    (&a.error_code, &a.source_ip, &a.actor_arn, &a.login_outcome).cmp(&(
                        &b.error_code,
                        &b.source_ip,
                        &b.actor_arn,
                        &b.login_outcome,
                    ))
                })
        });
    }

    /// Whether the source can provide `field`.
    pub fn has(&self, field: Field) -> bool {
        !self.unavailable.contains(&field)
    }

    /// Number of access keys in the inventory.
    pub fn key_count(&self) -> usize {
        self.accounts
            .iter()
            .flat_map(|a| &a.users)
            .map(|u| u.access_keys.len())
            .sum()
    }

    /// Number of users in the inventory.
    pub fn user_count(&self) -> usize {
        self.accounts.iter().map(|a| a.users.len()).sum()
    }
}

impl User {
    /// A user with only a name: no password, no MFA, no keys.
    pub fn named(name: impl Into<String>) -> User {
        User {
            name: name.into(),
            id: None,
            arn: None,
            created: None,
            tags: BTreeMap::new(),
            password: Password::default(),
            mfa_devices: Vec::new(),
            access_keys: Vec::new(),
        }
    }

    /// The strongest MFA type the user has, if any (hardware and FIDO over virtual).
    pub fn strongest_mfa(&self) -> Option<MfaType> {
        self.mfa_devices
            .iter()
            .map(|d| d.kind)
            .min_by_key(|k| match k {
                MfaType::Fido => 0,
                MfaType::Hardware => 1,
                MfaType::Virtual => 2,
                MfaType::Unknown => 3,
            })
    }
}

impl Account {
    /// An account with no users that was collected completely.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Account {
        Account {
            id: id.into(),
            name: name.into(),
            ou_path: Vec::new(),
            tags: BTreeMap::new(),
            collection: Collection::default(),
            users: Vec::new(),
            root: None,
        }
    }
}
