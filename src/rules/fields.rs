//! Record fields a condition reads, declared once per record type: name, type, documentation,
//! the Rhai getter, the prefilter's reader (when Rust can read it before Rhai runs) and the
//! input data it needs ([`Field`], which some sources cannot provide).
//!
//! From these tables come the Rhai getters ([`register_records`]), the field tables of the
//! rule docs, the "unknown field" check of conditions, and the fields a prefilter can test.
//!
//! A getter whose `needs` the input lacks raises the marked "not evaluable" error before it
//! runs; a getter can also raise it for one record (a last use the source could not tell).

use std::any::TypeId;

use chrono::{DateTime, Utc};
use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, Position};

use crate::analysis::lifecycle::Lifecycle;
use crate::inventory::time::{age_days, format_stock};
use crate::inventory::{
    AccessKey, CollectionStatus, Event, Field, KeyStatus, Password, RootAccessFeatures,
    RootCredentials, User,
};
use crate::rules::record::{AccountRec, EvalCtx, EventRec, KeyRec, UserRec, UNAVAILABLE};

/// A value as Rhai would see it.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Unit,
    Bool(bool),
    Num(f64),
    Str(&'a str),
}

/// What a getter returns.
pub type RhaiResult<T> = Result<T, Box<EvalAltResult>>;

/// A record type a condition sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// An access key (`key`).
    Key,
    /// An IAM user (`user`, `key.user`, items of `users`).
    User,
    /// An account (`account`).
    Account,
    /// A CloudTrail event (`event`).
    Event,
}

/// The value type of a field, as a condition sees it (`Opt*`: or `()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    /// `true`, `false` or `()`.
    OptBool,
    Int,
    Float,
    /// A number or `()`.
    OptFloat,
    Text,
    /// Text or `()`.
    OptText,
    /// A time as text, `YYYY-MM-DD HH:MM:SS` UTC.
    Time,
    /// A time as text, or `()`.
    OptTime,
    /// An array of text.
    Texts,
    /// A map of text to text.
    Tags,
    /// One record.
    Record(RecordKind),
    /// An array of records.
    Records(RecordKind),
}

impl Ty {
    /// The Rhai type of the value (`|`-separated when it may be `()`).
    pub fn as_str(self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::OptBool => "bool | ()",
            Ty::Int => "int",
            Ty::Float => "float",
            Ty::OptFloat => "float | ()",
            Ty::Text | Ty::Time => "string",
            Ty::OptText | Ty::OptTime => "string | ()",
            Ty::Texts => "array of string",
            Ty::Tags => "map",
            Ty::Record(k) => k.type_name(),
            Ty::Records(_) => "array",
        }
    }
}

/// How the prefilter reads a field straight from the inventory (no Rhai value built): the
/// value, or `None` when it is unknown for this record (where the getter raises "not
/// evaluable"). Only fields every source provides have one.
#[derive(Clone, Copy)]
pub enum Reader {
    /// A field of the key.
    Key(for<'a> fn(&'a AccessKey, &DateTime<Utc>) -> Option<Val<'a>>),
    /// A field of the user.
    User(for<'a> fn(&'a User, &DateTime<Utc>) -> Option<Val<'a>>),
}

/// One field of record type `R`.
pub struct FieldDef<R: 'static> {
    pub name: &'static str,
    pub ty: Ty,
    /// One line of documentation (Markdown), shown in the rule docs.
    pub doc: &'static str,
    /// Input data the field is built on, which some sources lack: without it the field is
    /// not evaluable, checked before `get` runs.
    pub needs: Option<Field>,
    /// The Rhai getter.
    pub get: fn(&R) -> RhaiResult<Dynamic>,
    /// The prefilter's reader, if Rust can test the field.
    pub prefilter: Option<Reader>,
}

/// A field without its getter: what docs, checks and the prefilter need.
#[derive(Clone, Copy)]
pub struct FieldInfo {
    pub name: &'static str,
    pub ty: Ty,
    pub doc: &'static str,
    pub needs: Option<Field>,
    pub prefilter: Option<Reader>,
}

const fn field<R>(
    name: &'static str,
    ty: Ty,
    doc: &'static str,
    get: fn(&R) -> RhaiResult<Dynamic>,
) -> FieldDef<R> {
    FieldDef {
        name,
        ty,
        doc,
        needs: None,
        get,
        prefilter: None,
    }
}

const fn key_field(
    name: &'static str,
    ty: Ty,
    doc: &'static str,
    get: fn(&KeyRec) -> RhaiResult<Dynamic>,
) -> FieldDef<KeyRec> {
    field(name, ty, doc, get)
}

const fn user_field(
    name: &'static str,
    ty: Ty,
    doc: &'static str,
    get: fn(&UserRec) -> RhaiResult<Dynamic>,
) -> FieldDef<UserRec> {
    field(name, ty, doc, get)
}

const fn account_field(
    name: &'static str,
    ty: Ty,
    doc: &'static str,
    get: fn(&AccountRec) -> RhaiResult<Dynamic>,
) -> FieldDef<AccountRec> {
    field(name, ty, doc, get)
}

const fn event_field(
    name: &'static str,
    ty: Ty,
    doc: &'static str,
    get: fn(&EventRec) -> RhaiResult<Dynamic>,
) -> FieldDef<EventRec> {
    field(name, ty, doc, get)
}

impl<R: Record> FieldDef<R> {
    const fn needs(mut self, field: Field) -> Self {
        self.needs = Some(field);
        self
    }

    const fn prefilter(mut self, reader: Reader) -> Self {
        self.prefilter = Some(reader);
        self
    }

    /// The getter with its `needs` checked first.
    fn read(&self, r: &R) -> RhaiResult<Dynamic> {
        if let Some(field) = self.needs {
            need(r.ctx(), field)?;
        }
        (self.get)(r)
    }

    fn info(&self) -> FieldInfo {
        FieldInfo {
            name: self.name,
            ty: self.ty,
            doc: self.doc,
            needs: self.needs,
            prefilter: self.prefilter,
        }
    }
}

/// A record handle registered as a Rhai type with the getters of its table.
pub trait Record: Clone + Send + Sync + 'static {
    const KIND: RecordKind;
    fn ctx(&self) -> &EvalCtx;
    fn fields() -> &'static [FieldDef<Self>];
}

impl Record for KeyRec {
    const KIND: RecordKind = RecordKind::Key;
    fn ctx(&self) -> &EvalCtx {
        &self.ctx
    }
    fn fields() -> &'static [FieldDef<Self>] {
        KEY
    }
}

impl Record for UserRec {
    const KIND: RecordKind = RecordKind::User;
    fn ctx(&self) -> &EvalCtx {
        &self.ctx
    }
    fn fields() -> &'static [FieldDef<Self>] {
        USER
    }
}

impl Record for AccountRec {
    const KIND: RecordKind = RecordKind::Account;
    fn ctx(&self) -> &EvalCtx {
        &self.ctx
    }
    fn fields() -> &'static [FieldDef<Self>] {
        ACCOUNT
    }
}

impl Record for EventRec {
    const KIND: RecordKind = RecordKind::Event;
    fn ctx(&self) -> &EvalCtx {
        &self.ctx
    }
    fn fields() -> &'static [FieldDef<Self>] {
        EVENT
    }
}

impl RecordKind {
    pub const ALL: [RecordKind; 4] = [
        RecordKind::Key,
        RecordKind::User,
        RecordKind::Account,
        RecordKind::Event,
    ];

    /// The Rhai type name (`type_of(key)`).
    pub fn type_name(self) -> &'static str {
        match self {
            RecordKind::Key => "Key",
            RecordKind::User => "User",
            RecordKind::Account => "Account",
            RecordKind::Event => "Event",
        }
    }

    /// The Rust type of the handle registered with Rhai.
    pub fn type_id(self) -> TypeId {
        match self {
            RecordKind::Key => TypeId::of::<KeyRec>(),
            RecordKind::User => TypeId::of::<UserRec>(),
            RecordKind::Account => TypeId::of::<AccountRec>(),
            RecordKind::Event => TypeId::of::<EventRec>(),
        }
    }

    /// Every field, in documentation order.
    pub fn fields(self) -> Vec<FieldInfo> {
        fn infos<R: Record>() -> Vec<FieldInfo> {
            R::fields().iter().map(FieldDef::info).collect()
        }
        match self {
            RecordKind::Key => infos::<KeyRec>(),
            RecordKind::User => infos::<UserRec>(),
            RecordKind::Account => infos::<AccountRec>(),
            RecordKind::Event => infos::<EventRec>(),
        }
    }

    /// The field of that name.
    pub fn field(self, name: &str) -> Option<FieldInfo> {
        self.fields().into_iter().find(|f| f.name == name)
    }
}

/// Registers the record types with their getters (from the tables) and methods.
pub fn register_records(engine: &mut Engine) {
    register::<KeyRec>(engine);
    register::<UserRec>(engine);
    register::<AccountRec>(engine);
    register::<EventRec>(engine);

    // Methods (documented with the fields).
    engine.register_fn("has_tag", |r: &mut UserRec, k: &str| -> RhaiResult<bool> {
        need(&r.ctx, Field::UserTags)?;
        Ok(r.user().tags.contains_key(k))
    });
    engine.register_fn("tag", |r: &mut UserRec, k: &str| -> RhaiResult<Dynamic> {
        need(&r.ctx, Field::UserTags)?;
        Ok(opt_str(r.user().tags.get(k)))
    });
    engine.register_fn(
        "has_tag",
        |r: &mut AccountRec, k: &str| -> RhaiResult<bool> {
            need(&r.ctx, Field::AccountTags)?;
            Ok(r.account().tags.contains_key(k))
        },
    );
    engine.register_fn(
        "tag",
        |r: &mut AccountRec, k: &str| -> RhaiResult<Dynamic> {
            need(&r.ctx, Field::AccountTags)?;
            Ok(opt_str(r.account().tags.get(k)))
        },
    );
}

fn register<R: Record>(engine: &mut Engine) {
    engine.register_type_with_name::<R>(R::KIND.type_name());
    for def in R::fields() {
        engine.register_get(def.name, move |r: &mut R| def.read(r));
    }
}

fn unavailable(field: &str) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(format!("{UNAVAILABLE}{field}").into(), Position::NONE).into()
}

fn need(ctx: &EvalCtx, field: Field) -> RhaiResult<()> {
    if ctx.inv.has(field) {
        Ok(())
    } else {
        Err(unavailable(field.as_str()))
    }
}

/// The account's root credentials, or "unavailable" when the input has none for this account
/// (an account missing from the root report); fields reading it need [`Field::Root`].
fn root(r: &AccountRec) -> RhaiResult<RootCredentials> {
    r.account()
        .root
        .clone()
        .ok_or_else(|| unavailable(Field::Root.as_str()))
}

/// The key, or "not evaluable" (as `key.last_used`) when the source could not tell whether or
/// when it was last used: unknown is not never.
fn known_use(r: &KeyRec) -> RhaiResult<&AccessKey> {
    let key = r.key();
    if key.last_used_unknown {
        Err(unavailable("key.last_used"))
    } else {
        Ok(key)
    }
}

/// The user's password, or "not evaluable" (as `user.password_last_used`) when the source
/// could not tell whether or when it was last used.
fn known_password_use(r: &UserRec) -> RhaiResult<&Password> {
    let password = &r.user().password;
    if password.last_used_unknown {
        Err(unavailable("user.password_last_used"))
    } else {
        Ok(password)
    }
}

/// The Organization's centralized root access features, or "not evaluable" when unknown;
/// fields reading them need [`Field::OrgRootAccess`].
fn org_root_access(r: &AccountRec) -> RhaiResult<RootAccessFeatures> {
    r.ctx
        .inv
        .root_access
        .ok_or_else(|| unavailable(Field::OrgRootAccess.as_str()))
}

/// The successful `CreateAccessKey` event of the key (in its account), if the events have it;
/// fields reading it need [`Field::Events`].
fn creation(r: &KeyRec) -> Option<&Event> {
    r.ctx
        .lifecycle()
        .key_created(&r.ctx.inv, &r.account().id, &r.key().id)
}

/// The key's user created it: an IAM user (or, where the record does not say the type, as on
/// the stock events CSV, any caller) of the user's own name.
fn created_by_self(e: &Event, user: &str) -> bool {
    e.actor == user && matches!(e.actor_type.as_deref(), None | Some("IAMUser"))
}

/// Who created the key and from where, as a message says it.
fn creation_text(r: &KeyRec) -> String {
    if !r.ctx.inv.has(Field::Events) {
        return "by an unknown caller (no CloudTrail events were read)".to_string();
    }
    let Some(e) = creation(r) else {
        return "by an unknown caller (no CreateAccessKey event for it in the events read)"
            .to_string();
    };
    let mut out = format!("by {}", e.actor);
    match e.actor_type.as_deref() {
        _ if created_by_self(e, &r.user().name) => out.push_str(" (the user itself)"),
        Some(t) => {
            out.push_str(" (");
            out.push_str(t);
            out.push(')');
        }
        None => {}
    }
    if let Some(ip) = &e.source_ip {
        out.push_str(" from ");
        out.push_str(ip);
    }
    if let Some(agent) = &e.user_agent {
        out.push_str(" with ");
        out.push_str(agent);
    }
    out
}

/// The user's last successful `DeleteLoginProfile` at or before `as_of` that no later
/// `CreateLoginProfile` (at or before `as_of`) undid; fields reading it need [`Field::Events`].
fn console_removed(r: &UserRec) -> Option<&Event> {
    let ctx = &r.ctx;
    Lifecycle::last(
        &ctx.inv,
        ctx.lifecycle().user(&r.account().id, &r.user().name),
        &["DeleteLoginProfile", "CreateLoginProfile"],
        ctx.as_of,
    )
    .filter(|e| e.name == "DeleteLoginProfile")
}

/// The user's keys the inventory lists Active that no successful call at or before `as_of`
/// deleted or deactivated: the last `DeleteAccessKey` or `UpdateAccessKey` of each key decides
/// (a reactivation counts as active). Not evaluable (as `event.details`) when that call is an
/// `UpdateAccessKey` whose new status the events do not record (the stock events CSV).
fn keys_left_active(r: &UserRec) -> RhaiResult<usize> {
    let ctx = &r.ctx;
    let account = &r.account().id;
    let mut n = 0;
    for key in &r.user().access_keys {
        if key.status != KeyStatus::Active {
            continue;
        }
        let last = Lifecycle::last(
            &ctx.inv,
            ctx.lifecycle().key(account, &key.id),
            &["DeleteAccessKey", "UpdateAccessKey"],
            ctx.as_of,
        );
        let active = match last {
            None => true,
            Some(e) if e.name == "DeleteAccessKey" => false,
            Some(e) => match e.key_status.as_deref().and_then(KeyStatus::parse) {
                Some(status) => status == KeyStatus::Active,
                None => return Err(unavailable(Field::EventDetails.as_str())),
            },
        };
        n += usize::from(active);
    }
    Ok(n)
}

fn text(s: &str) -> Dynamic {
    Dynamic::from(s.to_string())
}

fn int(n: usize) -> Dynamic {
    Dynamic::from_int(n as i64)
}

fn opt_bool(b: Option<bool>) -> Dynamic {
    b.map_or(Dynamic::UNIT, Dynamic::from_bool)
}

fn opt_time(t: Option<&DateTime<Utc>>) -> Dynamic {
    t.map_or(Dynamic::UNIT, |t| Dynamic::from(format_stock(t)))
}

fn opt_days(ctx: &EvalCtx, t: Option<&DateTime<Utc>>) -> Dynamic {
    t.map_or(Dynamic::UNIT, |t| Dynamic::from_float(ctx.days(t)))
}

fn opt_str(s: Option<&String>) -> Dynamic {
    s.map_or(Dynamic::UNIT, |s| Dynamic::from(s.clone()))
}

fn tags_map(tags: &std::collections::BTreeMap<String, String>) -> Dynamic {
    Dynamic::from_map(
        tags.iter()
            .map(|(k, v)| (k.as_str().into(), Dynamic::from(v.clone())))
            .collect::<Map>(),
    )
}

fn texts(items: &[String]) -> Dynamic {
    Dynamic::from_array(items.iter().map(|s| Dynamic::from(s.clone())).collect())
}

/// Days from `t` to `as_of`, as the prefilter sees them.
fn days_val<'a>(as_of: &DateTime<Utc>, t: &DateTime<Utc>) -> Val<'a> {
    Val::Num(age_days(as_of, t))
}

fn active_count(user: &User) -> usize {
    user.access_keys
        .iter()
        .filter(|k| k.status == KeyStatus::Active)
        .count()
}

/// The fields of `key`.
pub static KEY: &[FieldDef<KeyRec>] = &[
    key_field(
        "id",
        Ty::Text,
        "access key id; from a credential report, which names no ids, the key's slot \
         (`access_key_1`, `access_key_2`)",
        |r| Ok(text(&r.key().id)),
    ),
    key_field(
        "status",
        Ty::Text,
        "`Active`, `Inactive` or `Expired`",
        |r| Ok(text(r.key().status.as_str())),
    )
    .prefilter(Reader::Key(|k, _| Some(Val::Str(k.status.as_str())))),
    key_field("is_active", Ty::Bool, "status is `Active`", |r| {
        Ok(Dynamic::from_bool(r.key().status == KeyStatus::Active))
    })
    .prefilter(Reader::Key(|k, _| {
        Some(Val::Bool(k.status == KeyStatus::Active))
    })),
    key_field(
        "created",
        Ty::Time,
        "creation time, `YYYY-MM-DD HH:MM:SS` UTC",
        |r| Ok(Dynamic::from(format_stock(&r.key().created))),
    ),
    key_field(
        "created_date",
        Ty::Text,
        "creation date, `YYYY-MM-DD` UTC",
        |r| {
            let mut s = format_stock(&r.key().created);
            s.truncate(10);
            Ok(Dynamic::from(s))
        },
    ),
    key_field(
        "age_days",
        Ty::Float,
        "days since creation (fractional)",
        |r| Ok(Dynamic::from_float(r.ctx.days(&r.key().created))),
    )
    .prefilter(Reader::Key(|k, as_of| Some(days_val(as_of, &k.created)))),
    key_field(
        "age_hours",
        Ty::Float,
        "hours since creation (fractional)",
        |r| Ok(Dynamic::from_float(r.ctx.days(&r.key().created) * 24.0)),
    )
    .prefilter(Reader::Key(|k, as_of| {
        Some(Val::Num(age_days(as_of, &k.created) * 24.0))
    })),
    key_field(
        "last_used",
        Ty::OptTime,
        "time of last use, `()` when never used (every last-use field: not evaluable for a key whose last use the source could not tell)",
        |r| Ok(opt_time(known_use(r)?.last_used.as_ref())),
    ),
    key_field(
        "days_since_used",
        Ty::OptFloat,
        "days since last use, `()` when never used",
        |r| Ok(opt_days(&r.ctx, known_use(r)?.last_used.as_ref())),
    )
    .prefilter(Reader::Key(|k, as_of| {
        if k.last_used_unknown {
            return None;
        }
        Some(
            k.last_used
                .as_ref()
                .map_or(Val::Unit, |t| days_val(as_of, t)),
        )
    })),
    key_field("never_used", Ty::Bool, "the key was never used", |r| {
        Ok(Dynamic::from_bool(known_use(r)?.last_used.is_none()))
    })
    .prefilter(Reader::Key(|k, _| {
        if k.last_used_unknown {
            return None;
        }
        Some(Val::Bool(k.last_used.is_none()))
    })),
    key_field(
        "service",
        Ty::OptText,
        "service of last use (e.g. `s3`), `()` when unknown",
        |r| Ok(opt_str(known_use(r)?.last_used_service.as_ref())),
    )
    .prefilter(Reader::Key(|k, _| {
        if k.last_used_unknown {
            return None;
        }
        Some(k.last_used_service.as_deref().map_or(Val::Unit, Val::Str))
    })),
    key_field(
        "region",
        Ty::OptText,
        "region of last use, `()` when unknown",
        |r| Ok(opt_str(known_use(r)?.last_used_region.as_ref())),
    )
    .needs(Field::KeyLastUsedRegion),
    key_field(
        "created_by",
        Ty::OptText,
        "who created the key: the actor of the successful `CreateAccessKey` event for this key id in its account (user name, role or `root`), `()` when the events have none (a key created before them) (every `created_by*` and `creation_*` field: not evaluable without events)",
        |r| Ok(creation(r).map_or(Dynamic::UNIT, |e| text(&e.actor))),
    )
    .needs(Field::Events),
    key_field(
        "created_by_type",
        Ty::OptText,
        "the creator's `userIdentity.type` (`IAMUser`, `AssumedRole`, `Root`, ...), `()` when unknown (no `CreateAccessKey` event, or the stock events CSV, which does not record it; likewise below)",
        |r| Ok(opt_str(creation(r).and_then(|e| e.actor_type.as_ref()))),
    )
    .needs(Field::Events),
    key_field(
        "created_by_arn",
        Ty::OptText,
        "the creator's `userIdentity.arn`, `()` when unknown",
        |r| Ok(opt_str(creation(r).and_then(|e| e.actor_arn.as_ref()))),
    )
    .needs(Field::Events),
    key_field(
        "created_by_self",
        Ty::OptBool,
        "the key's own user created it (an `IAMUser` caller of the user's name; on the stock events CSV, which records no type, a caller of that name), `()` when there is no `CreateAccessKey` event",
        |r| {
            Ok(opt_bool(
                creation(r).map(|e| created_by_self(e, &r.user().name)),
            ))
        },
    )
    .needs(Field::Events),
    key_field(
        "creation_source_ip",
        Ty::OptText,
        "the `CreateAccessKey` call's `sourceIPAddress`, `()` when unknown",
        |r| Ok(opt_str(creation(r).and_then(|e| e.source_ip.as_ref()))),
    )
    .needs(Field::Events),
    key_field(
        "creation_user_agent",
        Ty::OptText,
        "the `CreateAccessKey` call's `userAgent`, `()` when unknown",
        |r| Ok(opt_str(creation(r).and_then(|e| e.user_agent.as_ref()))),
    )
    .needs(Field::Events),
    key_field(
        "creation_event_time",
        Ty::OptTime,
        "when CloudTrail recorded the `CreateAccessKey` call, `()` when there is none",
        |r| Ok(opt_time(creation(r).map(|e| &e.time))),
    )
    .needs(Field::Events),
    key_field(
        "creation",
        Ty::Text,
        "who created the key and from where, as text for messages: `by alice (the user itself) from 203.0.113.7 with aws-cli/2.15.0`, `by admin (IAMUser) ...`, or `by an unknown caller (...)` saying why (no events read, or none for this key); never not evaluable",
        |r| Ok(Dynamic::from(creation_text(r))),
    ),
    key_field(
        "user",
        Ty::Record(RecordKind::User),
        "the key's user",
        |r| Ok(Dynamic::from(r.user_rec())),
    ),
    key_field(
        "account",
        Ty::Record(RecordKind::Account),
        "the key's account",
        |r| {
            Ok(Dynamic::from(AccountRec {
                ctx: r.ctx.clone(),
                a: r.a,
            }))
        },
    ),
];

/// The fields of `user`.
pub static USER: &[FieldDef<UserRec>] = &[
    user_field("name", Ty::Text, "user name", |r| Ok(text(&r.user().name)))
        .prefilter(Reader::User(|u, _| Some(Val::Str(&u.name)))),
    user_field("id", Ty::OptText, "IAM user id", |r| {
        Ok(opt_str(r.user().id.as_ref()))
    })
    .needs(Field::UserId),
    user_field("arn", Ty::OptText, "user ARN", |r| {
        Ok(opt_str(r.user().arn.as_ref()))
    })
    .needs(Field::UserArn),
    user_field("created", Ty::OptTime, "creation time", |r| {
        Ok(opt_time(r.user().created.as_ref()))
    })
    .needs(Field::UserCreated),
    user_field(
        "age_days",
        Ty::OptFloat,
        "days since the user was created",
        |r| Ok(opt_days(&r.ctx, r.user().created.as_ref())),
    )
    .needs(Field::UserCreated),
    user_field("tags", Ty::Tags, "tags as a map", |r| {
        Ok(tags_map(&r.user().tags))
    })
    .needs(Field::UserTags),
    user_field(
        "password_enabled",
        Ty::Bool,
        "the user has a console password",
        |r| Ok(Dynamic::from_bool(r.user().password.enabled)),
    )
    .prefilter(Reader::User(|u, _| Some(Val::Bool(u.password.enabled)))),
    user_field(
        "password_last_used",
        Ty::OptTime,
        "last console sign-in, `()` when never (not evaluable when the source could not tell, e.g. the credential report's `no_information`)",
        |r| Ok(opt_time(known_password_use(r)?.last_used.as_ref())),
    ),
    user_field(
        "days_since_password_used",
        Ty::OptFloat,
        "days since last console sign-in, `()` when never; not evaluable when unknown",
        |r| Ok(opt_days(&r.ctx, known_password_use(r)?.last_used.as_ref())),
    )
    .prefilter(Reader::User(|u, as_of| {
        if u.password.last_used_unknown {
            return None;
        }
        Some(
            u.password
                .last_used
                .as_ref()
                .map_or(Val::Unit, |t| days_val(as_of, t)),
        )
    })),
    user_field(
        "password_never_used",
        Ty::Bool,
        "a password that was never used; not evaluable when its last use is unknown",
        |r| {
            // No password: decided whatever its last use.
            if !r.user().password.enabled {
                return Ok(Dynamic::FALSE);
            }
            Ok(Dynamic::from_bool(
                known_password_use(r)?.last_used.is_none(),
            ))
        },
    )
    .prefilter(Reader::User(|u, _| {
        // Without a password, `password_never_used` is false whatever its last use.
        if u.password.enabled && u.password.last_used_unknown {
            return None;
        }
        Some(Val::Bool(
            u.password.enabled && u.password.last_used.is_none(),
        ))
    })),
    user_field(
        "password_last_changed",
        Ty::OptTime,
        "last password change, `()` when unknown",
        |r| Ok(opt_time(r.user().password.last_changed.as_ref())),
    )
    .needs(Field::PasswordLastChanged),
    user_field(
        "password_age_days",
        Ty::OptFloat,
        "days since the password was last changed",
        |r| Ok(opt_days(&r.ctx, r.user().password.last_changed.as_ref())),
    )
    .needs(Field::PasswordLastChanged),
    user_field("has_mfa", Ty::Bool, "at least one MFA device", |r| {
        Ok(Dynamic::from_bool(!r.user().mfa_devices.is_empty()))
    })
    .prefilter(Reader::User(|u, _| {
        Some(Val::Bool(!u.mfa_devices.is_empty()))
    })),
    user_field(
        "mfa_type",
        Ty::Text,
        "strongest MFA type: `fido`, `hardware`, `virtual`, `unknown` or `none`",
        |r| {
            Ok(text(
                r.user()
                    .strongest_mfa()
                    .map_or("none", super::super::inventory::model::MfaType::as_str),
            ))
        },
    ),
    user_field("mfa_count", Ty::Int, "number of MFA devices", |r| {
        Ok(int(r.user().mfa_devices.len()))
    })
    .prefilter(Reader::User(|u, _| {
        Some(Val::Num(u.mfa_devices.len() as f64))
    })),
    user_field(
        "keys",
        Ty::Records(RecordKind::Key),
        "access keys (array)",
        |r| Ok(Dynamic::from_array(r.keys())),
    ),
    user_field("key_count", Ty::Int, "number of access keys", |r| {
        Ok(int(r.user().access_keys.len()))
    })
    .prefilter(Reader::User(|u, _| {
        Some(Val::Num(u.access_keys.len() as f64))
    })),
    user_field("active_keys", Ty::Int, "number of Active keys", |r| {
        Ok(int(active_count(r.user())))
    })
    .prefilter(Reader::User(|u, _| Some(Val::Num(active_count(u) as f64)))),
    user_field(
        "console_removed",
        Ty::OptTime,
        "when the user's console password was removed: the last successful `DeleteLoginProfile` at or before `as_of`, `()` when there is none or a later `CreateLoginProfile` gave it back (every `console_removed*` field and `keys_left_active`: not evaluable without events; events after `as_of` are ignored)",
        |r| Ok(opt_time(console_removed(r).map(|e| &e.time))),
    )
    .needs(Field::Events),
    user_field(
        "console_removed_hours",
        Ty::OptFloat,
        "hours since `console_removed` (fractional), `()` when the console password was not removed",
        |r| {
            Ok(console_removed(r).map_or(Dynamic::UNIT, |e| {
                Dynamic::from_float(r.ctx.days(&e.time) * 24.0)
            }))
        },
    )
    .needs(Field::Events),
    user_field(
        "keys_left_active",
        Ty::Int,
        "the user's keys the inventory lists Active that no successful `DeleteAccessKey` or `UpdateAccessKey` to `Inactive` at or before `as_of`, before or after the console removal, deleted or deactivated (the last such call of each key decides); not evaluable when that call is an `UpdateAccessKey` of unrecorded status (the stock events CSV)",
        |r| Ok(int(keys_left_active(r)?)),
    )
    .needs(Field::Events),
    user_field(
        "account",
        Ty::Record(RecordKind::Account),
        "the user's account",
        |r| Ok(Dynamic::from(r.account_rec())),
    ),
    user_field("account_id", Ty::Text, "the user's account id", |r| {
        Ok(text(&r.account().id))
    }),
    user_field("account_name", Ty::Text, "the user's account name", |r| {
        Ok(text(&r.account().name))
    }),
];

/// The fields of `account`.
pub static ACCOUNT: &[FieldDef<AccountRec>] = &[
    account_field("id", Ty::Text, "account id", |r| Ok(text(&r.account().id))),
    account_field("name", Ty::Text, "account name", |r| {
        Ok(text(&r.account().name))
    }),
    account_field(
        "production",
        Ty::Bool,
        "a production account (name or Environment tag)",
        |r| Ok(Dynamic::from_bool(r.ctx.production[r.a as usize])),
    ),
    account_field("ou_path", Ty::Texts, "OU names from the root (array)", |r| {
        Ok(texts(&r.account().ou_path))
    })
    .needs(Field::AccountOuPath),
    account_field("tags", Ty::Tags, "Organizations tags as a map", |r| {
        Ok(tags_map(&r.account().tags))
    })
    .needs(Field::AccountTags),
    account_field(
        "users",
        Ty::Records(RecordKind::User),
        "IAM users (array)",
        |r| Ok(Dynamic::from_array(r.users())),
    ),
    account_field(
        "keys",
        Ty::Records(RecordKind::Key),
        "access keys of every user (array)",
        |r| {
            let mut out = Array::new();
            for u in r.users() {
                if let Some(u) = u.try_cast::<UserRec>() {
                    out.extend(u.keys());
                }
            }
            Ok(Dynamic::from_array(out))
        },
    ),
    account_field("user_count", Ty::Int, "number of users", |r| {
        Ok(int(r.account().users.len()))
    }),
    account_field(
        "console_users",
        Ty::Int,
        "users with a console password",
        |r| Ok(Dynamic::from_int(r.metrics().console_users as i64)),
    ),
    account_field("mfa_users", Ty::Int, "console users with MFA", |r| {
        Ok(Dynamic::from_int(r.metrics().mfa_users as i64))
    }),
    account_field(
        "mfa_coverage",
        Ty::OptFloat,
        "MFA coverage of console users in percent, `()` when none",
        |r| {
            Ok(r.metrics()
                .mfa_coverage_pct
                .map_or(Dynamic::UNIT, Dynamic::from_float))
        },
    ),
    account_field("active_keys", Ty::Int, "number of Active keys", |r| {
        Ok(Dynamic::from_int(r.metrics().active_keys as i64))
    }),
    account_field(
        "collection_complete",
        Ty::Bool,
        "every data source was collected",
        |r| {
            Ok(Dynamic::from_bool(
                r.account().collection.status == CollectionStatus::Complete,
            ))
        },
    )
    .needs(Field::AccountCollection),
    account_field(
        "collection_status",
        Ty::Text,
        "`complete`, `partial` or `failed`",
        |r| {
            Ok(text(match r.account().collection.status {
                CollectionStatus::Complete => "complete",
                CollectionStatus::Partial => "partial",
                CollectionStatus::Failed => "failed",
            }))
        },
    )
    .needs(Field::AccountCollection),
    account_field(
        "collection_errors",
        Ty::Text,
        "what could not be collected, as text",
        |r| {
            Ok(Dynamic::from(
                r.account()
                    .collection
                    .errors
                    .iter()
                    .map(|e| format!("{}: {}", e.source.as_str(), e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ))
        },
    )
    .needs(Field::AccountCollection),
    account_field(
        "root_mfa_enabled",
        Ty::Bool,
        "the root user has MFA (every `root_*` field: not evaluable without root data for the account)",
        |r| Ok(Dynamic::from(root(r)?.mfa_enabled)),
    )
    .needs(Field::Root),
    account_field(
        "root_password_enabled",
        Ty::OptBool,
        "the root user has a console password: `true`, `false` (e.g. a member account of centralized root access), `()` when unknown (older credential reports, the stock root CSV)",
        |r| Ok(opt_bool(root(r)?.password_enabled)),
    )
    .needs(Field::Root),
    account_field(
        "root_credentials_present",
        Ty::Bool,
        "the root user has a password, an access key or an MFA device; `false` when it has none; not evaluable when the password is unknown and there is no key or MFA device",
        |r| {
            let root = root(r)?;
            match root.password_enabled {
                Some(true) => Ok(Dynamic::TRUE),
                _ if root.access_key_present || root.mfa_enabled => Ok(Dynamic::TRUE),
                Some(false) => Ok(Dynamic::FALSE),
                // No key, no MFA, and the password unknown (an older credential report).
                None => Err(unavailable("account.root_password_enabled")),
            }
        },
    )
    .needs(Field::Root),
    account_field(
        "root_hardware_mfa",
        Ty::Bool,
        "the root user has MFA and it is a hardware or FIDO device (not a virtual one); not evaluable when MFA is on and its kind unknown",
        |r| {
            let root = root(r)?;
            match (root.mfa_enabled, root.hardware_mfa) {
                (false, _) => Ok(Dynamic::from(false)),
                (true, Some(hw)) => Ok(Dynamic::from(hw)),
                // MFA on, kind unknown (the stock root report does not say it).
                (true, None) => Err(unavailable("account.root_hardware_mfa")),
            }
        },
    )
    .needs(Field::Root),
    account_field(
        "root_access_key_present",
        Ty::Bool,
        "the root user has an access key, Active or Inactive",
        |r| Ok(Dynamic::from(root(r)?.access_key_present)),
    )
    .needs(Field::Root),
    account_field(
        "root_key_last_used",
        Ty::OptTime,
        "last use of a root access key, `()` when never; not evaluable on the stock root CSV, which lacks it",
        |r| {
            // After the account's root data: an account without any reports `account.root`.
            let last = root(r)?.access_key_last_used;
            need(&r.ctx, Field::RootKeyLastUsed)?;
            Ok(opt_time(last.as_ref()))
        },
    )
    .needs(Field::Root),
    account_field(
        "root_key_days_since_use",
        Ty::OptFloat,
        "days since a root access key was last used, `()` when never; not evaluable on the stock root CSV",
        |r| {
            let last = root(r)?.access_key_last_used;
            need(&r.ctx, Field::RootKeyLastUsed)?;
            Ok(opt_days(&r.ctx, last.as_ref()))
        },
    )
    .needs(Field::Root),
    account_field(
        "root_last_login",
        Ty::OptTime,
        "last root console sign-in, `()` when never",
        |r| Ok(opt_time(root(r)?.last_console_login.as_ref())),
    )
    .needs(Field::Root),
    account_field(
        "root_days_since_login",
        Ty::OptFloat,
        "days since the last root console sign-in, `()` when never",
        |r| {
            let last = root(r)?.last_console_login;
            Ok(opt_days(&r.ctx, last.as_ref()))
        },
    )
    .needs(Field::Root),
    account_field(
        "management",
        Ty::Bool,
        "the account is the Organization's management account; not evaluable when the management account is unknown (a stock CSV)",
        |r| match &r.ctx.inv.management_account_id {
            Some(id) => Ok(Dynamic::from_bool(*id == r.account().id)),
            None => Err(unavailable("organization.management_account_id")),
        },
    )
    .needs(Field::OrgRootAccess),
    account_field(
        "org_root_credentials_management",
        Ty::Bool,
        "the Organization has centralized root access (IAM `RootCredentialsManagement`) enabled; not evaluable when unknown (a stock CSV, or a scan that could not call ListOrganizationsFeatures)",
        |r| {
            Ok(Dynamic::from_bool(
                org_root_access(r)?.root_credentials_management,
            ))
        },
    )
    .needs(Field::OrgRootAccess),
    account_field(
        "org_root_sessions",
        Ty::Bool,
        "the Organization has privileged root sessions (IAM `RootSessions`, `sts:AssumeRoot`) enabled; not evaluable when unknown",
        |r| Ok(Dynamic::from_bool(org_root_access(r)?.root_sessions)),
    )
    .needs(Field::OrgRootAccess),
];

/// The fields of `event`.
pub static EVENT: &[FieldDef<EventRec>] = &[
    event_field(
        "time",
        Ty::Time,
        "event time, `YYYY-MM-DD HH:MM:SS` UTC",
        |r| Ok(Dynamic::from(format_stock(&r.event().time))),
    ),
    event_field("name", Ty::Text, "CloudTrail eventName", |r| {
        Ok(text(&r.event().name))
    }),
    event_field("actor", Ty::Text, "who acted", |r| Ok(text(&r.event().actor))),
    event_field("account_id", Ty::Text, "account id", |r| {
        Ok(text(&r.event().account_id))
    }),
    event_field("account_name", Ty::Text, "account name", |r| {
        Ok(text(&r.event().account_name))
    }),
    event_field(
        "resources",
        Ty::Texts,
        "affected user names and key ids (array)",
        |r| Ok(texts(&r.event().resources)),
    ),
    event_field("age_days", Ty::Float, "days since the event", |r| {
        Ok(Dynamic::from_float(r.ctx.days(&r.event().time)))
    }),
    event_field(
        "failed",
        Ty::Bool,
        "the call failed (CloudTrail `errorCode`, or a failed console sign-in); an event rule sees failed calls only with `include_failed: true` (every field below: not evaluable on the stock events CSV, which lacks them)",
        |r| Ok(Dynamic::from_bool(r.event().failed())),
    )
    .needs(Field::EventDetails),
    event_field(
        "error_code",
        Ty::OptText,
        "CloudTrail `errorCode` (e.g. `AccessDenied`), `()` when the call succeeded",
        |r| Ok(opt_str(r.event().error_code.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "error_message",
        Ty::OptText,
        "CloudTrail `errorMessage`, `()` when the call succeeded",
        |r| Ok(opt_str(r.event().error_message.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "source_ip",
        Ty::OptText,
        "`sourceIPAddress` (an IP address or an AWS service name), `()` when not recorded",
        |r| Ok(opt_str(r.event().source_ip.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "user_agent",
        Ty::OptText,
        "`userAgent`, `()` when not recorded",
        |r| Ok(opt_str(r.event().user_agent.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "region",
        Ty::OptText,
        "`awsRegion`, `()` when not recorded",
        |r| Ok(opt_str(r.event().region.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "actor_type",
        Ty::OptText,
        "`userIdentity.type` (`Root`, `IAMUser`, `AssumedRole`, ...), `()` when not recorded",
        |r| Ok(opt_str(r.event().actor_type.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "actor_arn",
        Ty::OptText,
        "`userIdentity.arn`, `()` when not recorded",
        |r| Ok(opt_str(r.event().actor_arn.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "login_outcome",
        Ty::OptText,
        "a `ConsoleLogin`'s outcome, `Success` or `Failure`; `()` for other events",
        |r| Ok(opt_str(r.event().login_outcome.as_ref())),
    )
    .needs(Field::EventDetails),
    event_field(
        "mfa_used",
        Ty::OptBool,
        "whether a `ConsoleLogin` used MFA (`additionalEventData.MFAUsed`), `()` when not recorded",
        |r| Ok(opt_bool(r.event().mfa_used)),
    )
    .needs(Field::EventDetails),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The getters Rhai resolves on each record type, by name.
    fn registered(kind: RecordKind) -> BTreeSet<String> {
        let engine = crate::rules::script::build_engine();
        engine
            .collect_fn_metadata(
                None,
                |f| {
                    let name = f.metadata.name.strip_prefix("get$")?;
                    (f.metadata.param_types.first() == Some(&kind.type_id()))
                        .then(|| name.to_string())
                },
                true,
            )
            .into_iter()
            .collect()
    }

    #[test]
    fn every_declared_field_is_registered_and_nothing_else() {
        for kind in RecordKind::ALL {
            let declared: BTreeSet<String> =
                kind.fields().iter().map(|f| f.name.to_string()).collect();
            assert_eq!(declared.len(), kind.fields().len(), "{kind:?}: duplicate");
            assert_eq!(registered(kind), declared, "{kind:?}");
        }
    }

    /// The error of every field of one record of each type, as `(record.field, error)`.
    fn errors(inv: crate::inventory::Inventory) -> Vec<(String, Option<String>)> {
        use std::sync::Arc;
        let as_of = chrono::DateTime::parse_from_rfc3339("2026-03-06T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let classifier = crate::analysis::metrics::Classifier::default();
        let ctx = Arc::new(EvalCtx::new(Arc::new(inv), as_of, &classifier));
        fn each<R: Record>(rec: &R, out: &mut Vec<(String, Option<String>)>) {
            for def in R::fields() {
                let error = def.read(rec).err().map(|e| match *e {
                    EvalAltResult::ErrorRuntime(v, _) => v.to_string(),
                    other => other.to_string(),
                });
                out.push((format!("{:?}.{}", R::KIND, def.name), error));
            }
        }
        let mut out = Vec::new();
        each(
            &KeyRec {
                ctx: ctx.clone(),
                a: 0,
                u: 0,
                k: 0,
            },
            &mut out,
        );
        each(
            &UserRec {
                ctx: ctx.clone(),
                a: 0,
                u: 0,
            },
            &mut out,
        );
        each(
            &AccountRec {
                ctx: ctx.clone(),
                a: 0,
            },
            &mut out,
        );
        each(&EventRec { ctx, e: 0 }, &mut out);
        out
    }

    fn one_of_each(unavailable: &[Field]) -> crate::inventory::Inventory {
        use crate::inventory::{Account, Inventory, SourceKind};
        let mut inv = Inventory::new(SourceKind::StockCsv);
        inv.unavailable = unavailable.iter().copied().collect();
        let mut account = Account::new("123456789012", "prod");
        let mut user = User::named("alice");
        user.access_keys.push(AccessKey {
            id: "AKIA".into(),
            ..AccessKey::default()
        });
        account.users.push(user);
        inv.accounts.push(account);
        inv.events.push(crate::inventory::Event {
            time: chrono::DateTime::UNIX_EPOCH,
            name: "ConsoleLogin".into(),
            actor: "alice".into(),
            account_id: "123456789012".into(),
            account_name: "prod".into(),
            resources: Vec::new(),
            error_code: None,
            error_message: None,
            source_ip: None,
            user_agent: None,
            region: None,
            actor_type: None,
            actor_arn: None,
            login_outcome: None,
            mfa_used: None,
            user_name: None,
            access_key_id: None,
            key_status: None,
        });
        inv
    }

    /// A field built on data the input lacks is not evaluable, named by that data; the
    /// others are evaluable. Without root data for the account, every `root_*` field names
    /// `account.root` first, even when the root key's last use is lacking too.
    #[test]
    fn needs_decide_what_is_not_evaluable() {
        let none = errors(one_of_each(&crate::inventory::ALL_FIELDS));
        let all = errors(one_of_each(&[]));
        let mut needing = 0;
        for kind in RecordKind::ALL {
            for f in kind.fields() {
                let name = format!("{kind:?}.{}", f.name);
                let lacking = &none.iter().find(|(n, _)| *n == name).unwrap().1;
                let present = &all.iter().find(|(n, _)| *n == name).unwrap().1;
                match f.needs {
                    Some(need) => {
                        needing += 1;
                        assert_eq!(
                            lacking.as_deref(),
                            Some(format!("{UNAVAILABLE}{}", need.as_str()).as_str()),
                            "{name}"
                        );
                    }
                    None => assert_eq!(lacking, &None, "{name}"),
                }
                let expected = match (kind, f.name) {
                    (RecordKind::Account, n) if n.starts_with("root_") => {
                        Some(format!("{UNAVAILABLE}account.root"))
                    }
                    (RecordKind::Account, "management") => {
                        Some(format!("{UNAVAILABLE}organization.management_account_id"))
                    }
                    (RecordKind::Account, n) if n.starts_with("org_root_") => {
                        Some(format!("{UNAVAILABLE}organization.root_access"))
                    }
                    _ => None,
                };
                assert_eq!(present, &expected, "{name}");
            }
        }
        assert!(needing > 20);
        let root_key_only = errors(one_of_each(&[Field::RootKeyLastUsed]));
        for (name, error) in root_key_only {
            if name.starts_with("Account.root_") {
                assert_eq!(error, Some(format!("{UNAVAILABLE}account.root")), "{name}");
            }
        }
    }

    #[test]
    fn prefilter_reads_only_fields_every_source_has() {
        for kind in RecordKind::ALL {
            for f in kind.fields() {
                if let Some(reader) = f.prefilter {
                    assert_eq!(f.needs, None, "{kind:?}.{}", f.name);
                    let expected = match reader {
                        Reader::Key(_) => RecordKind::Key,
                        Reader::User(_) => RecordKind::User,
                    };
                    assert_eq!(kind, expected, "{}", f.name);
                    assert!(
                        !matches!(f.ty, Ty::Record(_) | Ty::Records(_) | Ty::Tags | Ty::Texts),
                        "{}",
                        f.name
                    );
                }
            }
        }
    }
}
