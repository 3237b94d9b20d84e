"""Changes to an account's IAM after its credential report (POST /iam-audit/change).

Applied in-process to moto's backend objects (so they work with moto's authentication on as
well), never to the cached credential report: every live API (ListUsers, GetUser,
ListAccessKeys, GetAccessKeyLastUsed, ListMFADevices, ListVirtualMFADevices, GetLoginProfile,
GetAccountAuthorizationDetails, GetAccountSummary) shows the change at once, the report only
once it is regenerated (4 hours later, or POST /iam-audit/report).

    {"account": "111111111111", "user": "bob",
     "create_user": true | {"path": "/", "created": time, "tags": {"k": "v"}},
     "create_login_profile": true | {"created": time},
     "create_access_key": {"status": "Active" | "Inactive", "created": time,
                           "last_used": {"date", "service", "region"} | null},
     "enable_mfa": "virtual" | "hardware" | {"type": ..., "enabled": time},
     "delete_login_profile": true,
     "delete_user": true}

Applied in that order (create_user first, delete_user last). Times are back-dated when given;
without one, moto's clock (now). Answer: {"account", "user", "applied": [...], "user_id",
"access_key_id", "secret_access_key", "mfa_serial"} (the ids of what was made).
"""

from __future__ import annotations

from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow
from moto.iam.models import iam_backends

from .seed import KEY_FIELDS, _account_id, _backdate_key, _check, _mfa, _tags, hardware_serial
from .util import SpecError, parse_time, stable_key_id

CHANGE_FIELDS = {
    "account", "user", "create_user", "create_login_profile", "create_access_key", "enable_mfa",
    "delete_login_profile", "delete_user",
}
ACTIONS = ("create_user", "create_login_profile", "create_access_key", "enable_mfa",
           "delete_login_profile", "delete_user")


def apply(spec: Any) -> dict[str, Any]:
    _check(spec, CHANGE_FIELDS, "change")
    account = _account_id(spec.get("account"), "change.account")
    name = spec.get("user")
    if not isinstance(name, str) or not name:
        raise SpecError("change.user is required")
    wanted = [a for a in ACTIONS if spec.get(a) not in (None, False)]
    if not wanted:
        raise SpecError(f"change: nothing to do (one or more of {', '.join(ACTIONS)})")
    backend = iam_backends[account]["global"]
    if "create_user" not in wanted and name not in backend.users:
        raise SpecError(f"change: no user {name!r} in {account}")
    answer: dict[str, Any] = {"account": account, "user": name, "applied": []}
    try:
        for action in wanted:
            _APPLY[action](backend, account, name, spec[action], answer)
            answer["applied"].append(action)
    except ServiceException as err:  # moto refused (e.g. a third access key, an existing user)
        raise SpecError(f"change {name}: {wanted[len(answer['applied'])]}: {err.code}: {err.message} "
                        f"(applied before it: {answer['applied']})") from err
    return answer


def _create_user(backend: Any, account: str, name: str, value: Any, answer: dict[str, Any]) -> None:
    options = _check({} if value is True else value, {"path", "created", "tags"}, "change.create_user")
    user = backend.create_user("us-east-1", name, options.get("path", "/"), _tags(options.get("tags"), "change.create_user.tags"))
    # AWS-shaped ids, as the seed makes them (moto: 20 random lowercase characters)
    user.id = stable_key_id("AIDA", account, "user", name, length=21)
    if "created" in options:
        user.create_date = parse_time(options["created"], "change.create_user.created")
    answer["user_id"] = user.id


def _create_login_profile(backend: Any, account: str, name: str, value: Any, answer: dict[str, Any]) -> None:
    options = _check({} if value is True else value, {"created"}, "change.create_login_profile")
    user = backend.create_login_profile(name, "Changed-Passw0rd!")
    user.password_last_used = None
    if "created" in options:
        user.iam_audit_password_last_changed = parse_time(options["created"], "change.create_login_profile.created")
    else:
        user.iam_audit_password_last_changed = utcnow().replace(microsecond=0)


def _create_access_key(backend: Any, account: str, name: str, value: Any, answer: dict[str, Any]) -> None:
    options = _check({} if value is True else value, KEY_FIELDS - {"id"}, "change.create_access_key")
    status = options.get("status", "Active")
    if status not in ("Active", "Inactive"):
        raise SpecError("change.create_access_key.status: expected Active or Inactive")
    key = backend.create_access_key(name, prefix="AKIA", status=status)
    _backdate_key(key, options, "change.create_access_key")
    answer["access_key_id"] = key.access_key_id
    answer["secret_access_key"] = key.secret_access_key


def _enable_mfa(backend: Any, account: str, name: str, value: Any, answer: dict[str, Any]) -> None:
    kind, enabled = _mfa(value, "change.enable_mfa")
    if kind == "none":
        raise SpecError("change.enable_mfa: expected virtual or hardware")
    if kind == "virtual":
        serial = backend.create_virtual_mfa_device(name, "/").serial_number
    else:
        serial = hardware_serial(account, name)
    backend.enable_mfa_device(name, serial, "123456", "654321")
    if enabled is not None:
        backend.users[name].mfa_devices[serial].enable_date = enabled
        if serial in backend.virtual_mfa_devices:
            backend.virtual_mfa_devices[serial].enable_date = enabled
    answer["mfa_serial"] = serial


def _delete_login_profile(backend: Any, account: str, name: str, value: Any, answer: dict[str, Any]) -> None:
    backend.delete_login_profile(name)


def _delete_user(backend: Any, account: str, name: str, value: Any, answer: dict[str, Any]) -> None:
    """What deleting a user in the console does: its keys, password, MFA devices, policies and
    group memberships first (DeleteUser refuses while they exist), then the user."""
    user = backend.get_user(name)
    for key in list(user.access_keys):
        backend.delete_access_key_by_name(key.access_key_id)
    user.password = None
    for serial in list(user.mfa_devices):
        backend.deactivate_mfa_device(name, serial)
        backend.virtual_mfa_devices.pop(serial, None)
    for arn in list(user.managed_policies):
        backend.detach_user_policy(arn, name)
    for policy in list(user.policies):
        backend.delete_user_policy(name, policy)
    for group in list(backend.groups.values()):
        if user in group.users:
            group.users.remove(user)
    backend.delete_user(name)


_APPLY = {
    "create_user": _create_user,
    "create_login_profile": _create_login_profile,
    "create_access_key": _create_access_key,
    "enable_mfa": _enable_mfa,
    "delete_login_profile": _delete_login_profile,
    "delete_user": _delete_user,
}
