"""Seeding an Organization from a JSON spec, and back-dating (see tests/moto/README.md for the
format).

The seed goes through moto's own APIs, over HTTP to this very server (boto3, marked internal
so it is neither counted nor faulted): Organizations create_organization / create_account /
create_organizational_unit / move_account / tag_resource / close_account, STS assume_role of
the audit role into each member, and IAM calls with those member-scoped credentials. What no
API can set (creation and last-used times, MFA enable dates, the root user) is then written
into moto's backend objects in-process (`backdate`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import settings
from moto.iam import models as iam_models
from moto.iam.models import AccessKeyLastUsed, iam_backends
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.models import moto_api_backend
from moto.organizations.models import organizations_backends

from . import cloudtrail, report
from .patches import IAM_SERVICE_PRINCIPAL, clear_queued_account_ids, queue_account_id
from .report import RootSpec
from .state import STATE
from .util import SpecError, iso_z, optional_time, parse_time, stable_hex, stable_key_id

DEFAULT_MANAGEMENT_ID = "123456789012"  # moto's default account: any unknown key maps to it
DEFAULT_ROLE = "OrganizationAccountAccessRole"
# Credentials for the management account when it is moto's default account: moto maps any
# access key it did not issue to 123456789012. (20 characters: moto's key regex needs them.)
STATIC_KEY = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
INTERNAL_HEADER = "X-Iam-Audit-Internal"
BASE_JOINED = datetime(2020, 1, 1)

SEED_FIELDS = {
    "rng_seed", "audit_role_name", "management", "accounts", "report_generated", "delegated_admin", "root_features",
}
ROOT_FEATURES = ("RootCredentialsManagement", "RootSessions")
ACCOUNT_FIELDS = {
    "id", "name", "email", "ou", "tags", "status", "audit_role", "joined", "users", "root",
    "events", "report_generated",
}
USER_FIELDS = {"name", "path", "tags", "created", "password", "mfa", "keys"}
KEY_FIELDS = {"id", "status", "created", "last_used"}
ROOT_FIELDS = {"created", "password", "password_last_used", "mfa", "keys"}


def _check(obj: Any, allowed: set[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise SpecError(f"{what}: expected a JSON object")
    unknown = set(obj) - allowed
    if unknown:
        raise SpecError(f"{what}: unknown field(s) {sorted(unknown)} (allowed: {sorted(allowed)})")
    return obj


def _account_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) != 12 or not value.isdigit():
        raise SpecError(f"{what}: expected a 12-digit account id string, got {value!r}")
    return value


def _tags(value: Any, what: str) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise SpecError(f"{what}: expected an object of tag key -> value")
    return [{"Key": str(k), "Value": str(v)} for k, v in value.items()]


def _mfa(value: Any, what: str) -> tuple[str, datetime | None]:
    """("none"|"virtual"|"hardware", enable date) from "virtual" or {"type", "enabled"}."""
    if value is None:
        return "none", None
    if isinstance(value, str):
        kind, enabled = value, None
    elif isinstance(value, dict):
        _check(value, {"type", "enabled"}, what)
        kind, enabled = value.get("type", "virtual"), optional_time(value.get("enabled"), f"{what}.enabled")
    else:
        raise SpecError(f"{what}: expected none|virtual|hardware or an object")
    if kind not in ("none", "virtual", "hardware"):
        raise SpecError(f"{what}: expected none, virtual or hardware, got {kind!r}")
    return kind, enabled


# --- talking to this server -------------------------------------------------------------


class Clients:
    """boto3 clients to this server, marked internal; one set per account."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.session = boto3.session.Session()
        self.config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, proxies={})

    def client(self, service: str, creds: tuple[str, str, str | None], account: str | None = None) -> Any:
        client = self.session.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=creds[0],
            aws_secret_access_key=creds[1],
            aws_session_token=creds[2],
            config=self.config,
        )

        def mark(request: Any, **_: Any) -> None:
            request.headers[INTERNAL_HEADER] = "1"
            if account is not None:
                request.headers["x-moto-account-id"] = account  # moto: act as this account

        client.meta.events.register("before-sign.*.*", mark)
        return client


def _assume(sts: Any, account: str, role: str, session: str) -> tuple[str, str, str]:
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session)["Credentials"]
    return creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]


# --- the seed ---------------------------------------------------------------------------


def reset_everything() -> None:
    """moto's state and the harness's (faults, calls, events) back to empty, and moto's
    request authentication off again (as /moto-api/reset-auth with "inf")."""
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    moto_api_backend.reset()
    clear_queued_account_ids()
    STATE.reset_seeded()
    STATE.reset_faults_and_calls()


def seed(spec: Any, endpoint: str) -> dict[str, Any]:
    """Build the Organization a spec describes on an emptied moto; returns what was made."""
    try:
        return _seed(spec, endpoint)
    except ClientError as err:  # e.g. two users of the same name: a bad spec, said as such
        op = err.operation_name
        raise SpecError(f"seed: moto refused {op}: {err.response['Error'].get('Message', err)}") from err


def _seed(spec: Any, endpoint: str) -> dict[str, Any]:
    _check(spec, SEED_FIELDS, "seed")
    management = spec.get("management", DEFAULT_MANAGEMENT_ID)
    if isinstance(management, str):
        management = {"id": management}
    _check(management, ACCOUNT_FIELDS - {"ou", "status"}, "management")
    mgmt_id = _account_id(management.get("id", DEFAULT_MANAGEMENT_ID), "management.id")
    if management.get("audit_role", "missing") not in ("ok", "missing", "denied"):
        raise SpecError("management.audit_role: expected ok, missing (the default) or denied")
    members = spec.get("accounts", [])
    if not isinstance(members, list):
        raise SpecError("accounts: expected a list")
    for i, acct in enumerate(members):
        _check(acct, ACCOUNT_FIELDS, f"accounts[{i}]")
        _account_id(acct.get("id"), f"accounts[{i}].id")
        if acct.get("audit_role", "ok") not in ("ok", "missing", "denied"):
            raise SpecError(f"accounts[{i}].audit_role: expected ok, missing or denied")
        if acct.get("status", "ACTIVE") not in ("ACTIVE", "SUSPENDED"):
            raise SpecError(f"accounts[{i}].status: expected ACTIVE or SUSPENDED")
    ids = [mgmt_id] + [a["id"] for a in members]
    if len(set(ids)) != len(ids):
        raise SpecError("account ids must be distinct (management included)")
    joined = [
        parse_time(a["joined"], f"{a['id']}.joined") if a.get("joined") else BASE_JOINED + timedelta(days=i)
        for i, a in enumerate([management] + members)
    ]
    if len(set(joined)) != len(joined):
        # moto pages ListAccounts by JoinedTimestamp: equal ones would repeat or skip accounts.
        raise SpecError("joined times must be distinct")
    role = spec.get("audit_role_name", DEFAULT_ROLE)
    optional_time(spec.get("report_generated"), "report_generated")  # validate it early
    delegated_admin = spec.get("delegated_admin")
    if delegated_admin is not None:
        _account_id(delegated_admin, "delegated_admin")
        if delegated_admin not in ids[1:]:
            raise SpecError("delegated_admin: expected the id of a member account of the seed")
    root_features = spec.get("root_features", [])
    if root_features is not None and (
        not isinstance(root_features, list) or any(f not in ROOT_FEATURES for f in root_features)
    ):
        raise SpecError(f"root_features: expected null or a list of {', '.join(ROOT_FEATURES)}")

    reset_everything()
    mock_random.seed(int(spec.get("rng_seed", 42)))  # what POST /moto-api/seed?a=N does
    clients = Clients(endpoint)
    mgmt_creds: tuple[str, str, str | None] = (*STATIC_KEY, None)
    org = clients.client("organizations", mgmt_creds, mgmt_id)
    sts = clients.client("sts", mgmt_creds, mgmt_id)

    org_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    with STATE.lock:
        STATE.org_id, STATE.management, STATE.org_accounts = org_id, mgmt_id, set(ids)
        STATE.root_features = None if root_features is None else list(dict.fromkeys(root_features))
    org_backend = organizations_backends[mgmt_id]["aws"]
    summary: dict[str, Any] = {
        "organization_id": org_id,
        "root_id": root_id,
        "management_account_id": mgmt_id,
        "audit_role_name": role,
        "ous": {},
        "accounts": {},
    }
    ou_ids: dict[str, str] = {"/": root_id}

    def ou_for(path: str) -> str:
        """The id of an OU path ("/Prod/Web"), creating what is missing."""
        parts = [p for p in path.split("/") if p]
        parent, current = root_id, ""
        for part in parts:
            current += "/" + part
            if current not in ou_ids:
                ou = org.create_organizational_unit(ParentId=parent, Name=part)["OrganizationalUnit"]
                ou_ids[current] = ou["Id"]
            parent = ou_ids[current]
        return parent

    # The management account: moto made it with create_organization (named "master").
    mgmt_account = org_backend.get_account_by_id(mgmt_id)
    mgmt_account.name = management.get("name", "management")
    mgmt_account.email = management.get("email", f"aws+{mgmt_id}@example.com")
    mgmt_account.create_time = joined[0]
    if management.get("tags"):
        org.tag_resource(ResourceId=mgmt_id, Tags=_tags(management["tags"], "management.tags"))
    if mgmt_id != DEFAULT_MANAGEMENT_ID:
        # Credentials moto maps to the management account: a session of a caller role there.
        iam = clients.client("iam", mgmt_creds, mgmt_id)
        iam.create_role(RoleName="IamAuditCaller", AssumeRolePolicyDocument="{}")
        scan_creds = _assume(sts, mgmt_id, "IamAuditCaller", "iam-audit")
    else:
        scan_creds = (*STATIC_KEY, None)
    summary["credentials"] = {
        "access_key_id": scan_creds[0],
        "secret_access_key": scan_creds[1],
        "session_token": scan_creds[2],
    }

    accounts = [(management, mgmt_id, None)]
    for i, acct in enumerate(members):
        acct_id = acct["id"]
        queue_account_id(acct_id)  # moto's create_account takes it instead of a random id
        org.create_account(
            AccountName=acct.get("name", f"account-{acct_id}"),
            Email=acct.get("email", f"aws+{acct_id}@example.com"),
            RoleName=role,  # moto creates this role, trusting the management account
        )
        org_backend.get_account_by_id(acct_id).create_time = joined[i + 1]
        parent = ou_for(acct.get("ou", "/"))
        if parent != root_id:
            org.move_account(AccountId=acct_id, SourceParentId=root_id, DestinationParentId=parent)
        if acct.get("tags"):
            org.tag_resource(ResourceId=acct_id, Tags=_tags(acct["tags"], f"{acct_id}.tags"))
        accounts.append((acct, acct_id, parent))

    for acct, acct_id, parent in accounts:
        if acct_id == mgmt_id:
            iam = clients.client("iam", mgmt_creds, mgmt_id)
        else:
            # Member-scoped credentials, as the scan gets them: moto maps the ASIA key of the
            # assumed-role session to the member account.
            iam = clients.client("iam", _assume(sts, acct_id, role, "iam-audit-seed"))
        users = _create_users(iam, acct_id, acct.get("users", []))
        account_joined = org_backend.get_account_by_id(acct_id).create_time
        backdate(
            {
                "account": acct_id,
                "users": [_default_times(u, account_joined) for u in acct.get("users", [])],
                "root": acct.get("root", {}),
                "report_generated": acct.get("report_generated", spec.get("report_generated")),
            },
            default_root_created=account_joined,
        )
        key_ids = {name: info["keys"] for name, info in users.items()}
        cloudtrail.add_events(acct_id, acct.get("events", []), key_ids)
        audit_role = acct.get("audit_role", "ok")
        if acct_id != mgmt_id:
            if audit_role == "missing":
                iam.delete_role(RoleName=role)
            elif audit_role == "denied":
                with STATE.lock:
                    STATE.denied_roles.add((acct_id, role))
            if acct.get("status", "ACTIVE") == "SUSPENDED":
                org.close_account(AccountId=acct_id)
        summary["accounts"][acct_id] = {
            "name": org_backend.get_account_by_id(acct_id).name,
            "parent_id": parent or root_id,
            "status": org_backend.get_account_by_id(acct_id).status,
            "audit_role": audit_role if acct_id != mgmt_id or "audit_role" in acct else "management",
            "users": users,
            "events": len(STATE.events.get(acct_id, [])),
        }
    # Last, so that what an older spec makes keeps its ids: the Organization's delegated
    # administrator, trusted access for IAM, the management account's audit role.
    if delegated_admin is not None:
        org.register_delegated_administrator(AccountId=delegated_admin, ServicePrincipal=IAM_SERVICE_PRINCIPAL)
    if delegated_admin is not None or "root_features" in spec and root_features is not None:
        org.enable_aws_service_access(ServicePrincipal=IAM_SERVICE_PRINCIPAL)
    mgmt_role = management.get("audit_role", "missing")
    if mgmt_role != "missing":
        _management_audit_role(clients.client("iam", mgmt_creds, mgmt_id), role, org_id, delegated_admin)
        if mgmt_role == "denied":
            with STATE.lock:
                STATE.denied_roles.add((mgmt_id, role))
    summary["ous"] = {path: ou for path, ou in sorted(ou_ids.items()) if path != "/"}
    summary["delegated_admin"] = delegated_admin
    summary["root_features"] = STATE.root_features
    with STATE.lock:
        STATE.seeded = summary
    return summary


def _management_audit_role(iam: Any, role: str, org_id: str, delegated_admin: str | None) -> None:
    """The audit role in the management account (AWS makes none there: the management account
    has no OrganizationAccountAccessRole), trusting the delegated administrator's account, or
    every account of the Organization (aws:PrincipalOrgID) without one."""
    if delegated_admin is not None:
        statement: dict[str, Any] = {"Principal": {"AWS": f"arn:aws:iam::{delegated_admin}:root"}}
    else:
        statement = {"Principal": {"AWS": "*"}, "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}}}
    trust = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", **statement}]}
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))


def _default_times(user: dict[str, Any], joined: datetime) -> dict[str, Any]:
    """A user spec with every time moto would take from the clock filled in: the user is
    created when the account joined, keys and MFA and password when the user was created."""
    user = dict(user)
    created = user.setdefault("created", iso_z(joined))
    if user.get("password") not in (None, False):
        password = dict(user["password"]) if isinstance(user["password"], dict) else {}
        password.setdefault("last_changed", created)
        user["password"] = password
    mfa = user.get("mfa")
    if isinstance(mfa, str) and mfa != "none":
        user["mfa"] = {"type": mfa, "enabled": created}
    elif isinstance(mfa, dict):
        user["mfa"] = {"enabled": created, **mfa}
    if isinstance(user.get("keys"), list):
        user["keys"] = [{"created": created, **k} if isinstance(k, dict) else k for k in user["keys"]]
    return user


def hardware_serial(account: str, user: str) -> str:
    """A deterministic hardware MFA serial ("GAHT" and 8 digits)."""
    return "GAHT" + str(int(stable_hex(account, user, length=12), 16))[-8:].zfill(8)


def _create_users(iam: Any, account: str, users: Any) -> dict[str, Any]:
    """Users, login profiles, MFA devices and access keys through IAM's API."""
    if not isinstance(users, list):
        raise SpecError(f"{account}.users: expected a list")
    made: dict[str, Any] = {}
    for i, user in enumerate(users):
        what = f"{account}.users[{i}]"
        _check(user, USER_FIELDS, what)
        name = user.get("name")
        if not name:
            raise SpecError(f"{what}.name is required")
        tags = _tags(user.get("tags"), f"{what}.tags")
        created = iam.create_user(UserName=name, Path=user.get("path", "/"), Tags=tags)
        # moto's user ids are 20 random lowercase characters; AWS's are "AIDA" + 17 more.
        user_id = stable_key_id("AIDA", account, "user", name, length=21)
        iam_backends[account]["global"].users[name].id = user_id
        info: dict[str, Any] = {"id": user_id, "arn": created["User"]["Arn"], "keys": []}
        if user.get("password") not in (None, False):
            iam.create_login_profile(UserName=name, Password="Seeded-Passw0rd!")
        kind, _ = _mfa(user.get("mfa"), f"{what}.mfa")
        if kind == "virtual":
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]["SerialNumber"]
        elif kind == "hardware":
            serial = hardware_serial(account, name)
        if kind != "none":
            iam.enable_mfa_device(
                UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
            )
            info["mfa_serial"] = serial
        keys = user.get("keys", [])
        if not isinstance(keys, list) or len(keys) > 2:
            raise SpecError(f"{what}.keys: expected a list of at most 2 keys (AWS's limit)")
        for j, key in enumerate(keys):
            _check(key, KEY_FIELDS - {"id"}, f"{what}.keys[{j}]")
            key_id = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
            status = key.get("status", "Active")
            if status not in ("Active", "Inactive"):
                raise SpecError(f"{what}.keys[{j}].status: expected Active or Inactive")
            if status == "Inactive":
                iam.update_access_key(UserName=name, AccessKeyId=key_id, Status="Inactive")
            info["keys"].append(key_id)
        made[name] = info
    return made


# --- back-dating ----------------------------------------------------------------------


def backdate(spec: Any, default_root_created: datetime | None = None) -> dict[str, Any]:
    """Set the times no API can set, on moto's objects (POST /iam-audit/backdate):
    {"account": id, "users": [user spec, ...], "root": root spec, "report_generated": time}.
    User specs are those of the seed; only their times are applied (created, password
    last_used / last_changed, mfa enabled, keys' created and last_used), keys matched by "id"
    or else by position. Fields left out are left alone."""
    _check(spec, {"account", "users", "root", "report_generated"}, "backdate")
    account = _account_id(spec.get("account"), "backdate.account")
    backend = iam_backends[account]["global"]
    changed: dict[str, Any] = {"users": [], "root": False}
    for i, user_spec in enumerate(spec.get("users") or []):
        what = f"backdate {account}.users[{i}]"
        _check(user_spec, USER_FIELDS, what)
        user = backend.users.get(user_spec.get("name"))
        if user is None:
            raise SpecError(f"{what}: no user {user_spec.get('name')!r} in {account}")
        _backdate_user(user, user_spec, what)
        changed["users"].append(user.name)
    if "root" in spec and spec["root"] is not None:
        _backdate_root(backend, account, spec["root"], default_root_created)
        changed["root"] = True
    elif getattr(backend, "iam_audit_root", None) is None and default_root_created is not None:
        _backdate_root(backend, account, {}, default_root_created)
    generated = spec.get("report_generated")
    if generated is not None:
        # After the changes above: a cached report is retaken with them (and this time);
        # without one, the next report generated reports this time.
        retaken = report.pin(backend, parse_time(generated, f"{account}.report_generated"))
        changed["report_generated"] = True
        changed["report_retaken"] = retaken
    return changed


def _backdate_user(user: Any, spec: dict[str, Any], what: str) -> None:
    if "created" in spec:
        user.create_date = parse_time(spec["created"], f"{what}.created")
    password = spec.get("password")
    if isinstance(password, dict):
        _check(password, {"last_used", "last_changed"}, f"{what}.password")
        if "last_used" in password:
            user.password_last_used = optional_time(password["last_used"], f"{what}.password.last_used")
        if "last_changed" in password:
            user.iam_audit_password_last_changed = parse_time(password["last_changed"], f"{what}.password.last_changed")
    _, enabled = _mfa(spec.get("mfa"), f"{what}.mfa")
    if enabled is not None:
        for device in user.mfa_devices.values():
            device.enable_date = enabled
        for device in iam_backends[user.account_id]["global"].virtual_mfa_devices.values():
            if device.user is user:
                device.enable_date = enabled
    keys = spec.get("keys") or []
    for j, key_spec in enumerate(keys):
        kwhat = f"{what}.keys[{j}]"
        _check(key_spec, KEY_FIELDS, kwhat)
        if key_spec.get("id"):
            key = next((k for k in user.access_keys if k.access_key_id == key_spec["id"]), None)
        else:
            key = user.access_keys[j] if j < len(user.access_keys) else None
        if key is None:
            raise SpecError(f"{kwhat}: {user.name} has no such access key")
        _backdate_key(key, key_spec, kwhat)


def _backdate_key(key: Any, spec: dict[str, Any], what: str) -> None:
    if "created" in spec:
        key.create_date = parse_time(spec["created"], f"{what}.created")
    if "last_used" in spec:
        used = spec["last_used"]
        if used is None or used == "never":
            key.last_used = None
        else:
            _check(used, {"date", "service", "region"}, f"{what}.last_used")
            key.last_used = AccessKeyLastUsed(
                timestamp=parse_time(used.get("date"), f"{what}.last_used.date"),
                service=used.get("service", "N/A"),
                region=used.get("region", "N/A"),
            )


def _backdate_root(backend: Any, account: str, spec: Any, default_created: datetime | None) -> None:
    """The root user: created, password ("not_supported" (default) | true | false: the style
    of the report's root row), password_last_used, mfa (default hardware: a clean root),
    keys [{status, created, last_used}] (default none)."""
    _check(spec, ROOT_FIELDS, f"{account}.root")
    root = getattr(backend, "iam_audit_root", None)
    if root is None:
        root = RootSpec(account, default_created or BASE_JOINED)
        root.mfa = "hardware"
        backend.iam_audit_root = root
    if "created" in spec:
        root.created = parse_time(spec["created"], f"{account}.root.created")
    if "password" in spec:
        if not (spec["password"] == "not_supported" or isinstance(spec["password"], bool)):
            raise SpecError(f"{account}.root.password: expected \"not_supported\", true or false")
        root.password = spec["password"]
    if "password_last_used" in spec:
        root.password_last_used = optional_time(spec["password_last_used"], f"{account}.root.password_last_used")
    if "mfa" in spec:
        root.mfa, root.mfa_enabled = _mfa(spec["mfa"], f"{account}.root.mfa")
    if "keys" in spec:
        keys = spec["keys"] or []
        if not isinstance(keys, list) or len(keys) > 2:
            raise SpecError(f"{account}.root.keys: expected a list of at most 2 keys")
        root.keys = []
        for j, key_spec in enumerate(keys):
            _check(key_spec, KEY_FIELDS - {"id"}, f"{account}.root.keys[{j}]")
            key = iam_models.AccessKey(None, prefix="AKIA", account_id=account, status=key_spec.get("status", "Active"))
            _backdate_key(key, key_spec, f"{account}.root.keys[{j}]")
            root.keys.append(key)
    # GetAccountSummary's root flags follow.
    summary = backend.account_summary
    summary._account_mfa_enabled = 1 if root.mfa != "none" else 0
    summary._account_access_keys_present = 1 if root.keys else 0
