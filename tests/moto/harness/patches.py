"""Monkeypatches of moto 5.2.5, applied once at import of the harness app (install()).

1. Organizations account ids: moto draws member account ids at random; the seed must choose
   them. `moto.organizations.utils.make_random_account_id` hands out queued ids first.
2. The IAM credential report (moto builds it from its backend objects at GetCredentialReport):
   - `access_key_N_last_used_region/_service` were always "not_supported": now the region and
     service of the key's AccessKeyLastUsed, "N/A" when never used (as AWS writes it);
   - `password_last_used` "no_information" and `password_last_changed` real, "N/A" (not
     moto's "not_supported") for users without a password, `password_next_rotation` "N/A";
   - a `<root_account>` row first (moto had none), from the root spec stored on the backend;
   - `GeneratedTime` is the time the report was generated (moto: fixed 2015-02-02).
3. IAM pagination: ListUsers, ListAccessKeys, ListMFADevices, ListUserTags and
   GetAccountAuthorizationDetails ignored MaxItems/Marker and never truncated; they now page
   like AWS (MaxItems default 100, opaque Marker, IsTruncated), and can serve an injected
   empty page (the empty_page fault).
4. ListVirtualMFADevices lists the root user's virtual MFA device (User.Arn ":root"), and
   no longer answers a marker to an empty page when the last page is exactly full.
5. Inline policies of roles, users and groups are stored as JSON text: moto's CloudFormation
   stored an `AWS::IAM::Role`'s `Policies` as objects, which moto's own policy evaluation
   (authentication mode) cannot read (KeyError, HTTP 500) and GetRolePolicy answered badly.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.iam import models as iam_models
from moto.iam.exceptions import ValidationError
from moto.iam.responses import IamResponse
from moto.organizations import utils as org_utils

from .state import STATE
from .util import decode_token, encode_token, nonce

REPORT_DATE = "%Y-%m-%dT%H:%M:%S+00:00"  # the credential report's time format
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
)

_installed = False


def install() -> None:
    """Apply every patch (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    _patch_account_ids()
    _patch_credential_report()
    _patch_iam_pagination()
    _patch_virtual_mfa_listing()
    _patch_inline_policy_storage()


# --- 1. account ids ---------------------------------------------------------------------

_queued_ids: list[str] = []
_queued_lock = threading.Lock()


def queue_account_id(account_id: str) -> None:
    """The next account moto's Organizations creates gets this id."""
    with _queued_lock:
        _queued_ids.append(account_id)


def clear_queued_account_ids() -> None:
    with _queued_lock:
        _queued_ids.clear()


def _patch_account_ids() -> None:
    original = org_utils.make_random_account_id

    def make_account_id() -> str:
        with _queued_lock:
            if _queued_ids:
                return _queued_ids.pop(0)
        return original()

    org_utils.make_random_account_id = make_account_id


# --- 2. credential report -----------------------------------------------------------------


class RootSpec:
    """What the report (and ListVirtualMFADevices) says of an account's root user. Stored as
    `iam_audit_root` on the account's IAM backend by the seed / back-dating."""

    def __init__(self, account_id: str, created: datetime) -> None:
        self.account_id = account_id
        self.created = created
        self.password_last_used: datetime | None = None
        self.mfa = "none"  # none | virtual | hardware
        self.mfa_enabled: datetime | None = None
        # Root access keys: moto AccessKey objects (never in any user's list).
        self.keys: list[Any] = []

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:root"


def _fmt(dt: datetime | None, none: str = "N/A") -> str:
    return dt.strftime(REPORT_DATE) if dt is not None else none


def _key_columns(key: Any | None) -> list[str]:
    """active, last_rotated, last_used_date, last_used_region, last_used_service of a slot."""
    if key is None:
        return ["false", "N/A", "N/A", "N/A", "N/A"]
    used = key.last_used
    if used is None:
        date = region = service = "N/A"
    elif isinstance(used, datetime):  # moto tolerates a bare datetime here
        date, region, service = used.strftime(REPORT_DATE), "N/A", "N/A"
    else:
        date = used.strftime(REPORT_DATE)
        region = used.region or "N/A"
        service = used.service or "N/A"
    return ["true" if key.status == "Active" else "false", _fmt(key.create_date), date, region, service]


def _cert_columns(user: Any) -> list[str]:
    certs = list(user.signing_certificates.values())[:2] if user is not None else []
    out: list[str] = []
    for i in range(2):
        if i < len(certs):
            out += ["true" if certs[i].status == "Active" else "false", _fmt(getattr(certs[i], "upload_date", None))]
        else:
            out += ["false", "N/A"]
    return out


def user_report_row(user: Any) -> str:
    """One user's row, as AWS writes it."""
    if user.password:
        password = [
            "true",
            _fmt(user.password_last_used, "no_information"),
            _fmt(getattr(user, "iam_audit_password_last_changed", None) or user.create_date),
            "N/A",
        ]
    else:
        password = ["false", "N/A", "N/A", "N/A"]
    keys = list(user.access_keys)[:2]
    fields = [user.name, user.arn, _fmt(user.create_date), *password]
    fields.append("true" if user.mfa_devices else "false")
    fields += _key_columns(keys[0] if len(keys) > 0 else None)
    fields += _key_columns(keys[1] if len(keys) > 1 else None)
    fields += _cert_columns(user)
    return ",".join(fields) + "\n"


def root_report_row(root: RootSpec) -> str:
    """The `<root_account>` row: password columns other than last used are not_supported."""
    fields = [
        "<root_account>",
        root.arn,
        _fmt(root.created),
        "not_supported",
        _fmt(root.password_last_used, "no_information"),
        "not_supported",
        "not_supported",
        "true" if root.mfa != "none" else "false",
    ]
    fields += _key_columns(root.keys[0] if len(root.keys) > 0 else None)
    fields += _key_columns(root.keys[1] if len(root.keys) > 1 else None)
    fields += ["false", "N/A", "false", "N/A"]
    return ",".join(fields) + "\n"


def _patch_credential_report() -> None:
    backend_cls = iam_models.IAMBackend

    def generate_report(self: Any) -> None:
        # Record the generation time once, like AWS keeps a report for 4 hours.
        if not getattr(self, "credential_report", None):
            if getattr(self, "iam_audit_report_time", None) is None:
                self.iam_audit_report_time = utcnow().replace(microsecond=0)
        self.credential_report = True

    def get_credential_report(self: Any) -> str:
        if not self.credential_report:
            raise iam_models.ReportNotPresentException("Credential report not present")
        report = REPORT_HEADER
        root = getattr(self, "iam_audit_root", None)
        if root is None:
            root = RootSpec(self.account_id, datetime(2020, 1, 1))
        report += root_report_row(root)
        for name in self.users:
            report += user_report_row(self.users[name])
        return report

    backend_cls.generate_report = generate_report
    backend_cls.get_credential_report = get_credential_report

    def response_get_credential_report(self: Any) -> ActionResult:
        report = self.backend.get_credential_report()
        generated = getattr(self.backend, "iam_audit_report_time", None) or utcnow()
        return ActionResult({"Content": report, "ReportFormat": "text/csv", "GeneratedTime": generated})

    IamResponse.get_credential_report = response_get_credential_report


# --- 3. IAM pagination --------------------------------------------------------------------

# operation method -> the result lists it pages over, in AWS's order
_PAGED: dict[str, tuple[str, ...]] = {
    "list_users": ("Users",),
    "list_access_keys": ("AccessKeyMetadata",),
    "list_mfa_devices": ("MFADevices",),
    "list_user_tags": ("Tags",),
    "get_account_authorization_details": ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"),
}


def _paged(
    name: str, keys: tuple[str, ...], original: Callable[[Any], ActionResult]
) -> Callable[[Any], ActionResult]:
    """`original` answering one page of its lists (in `keys` order) per MaxItems/Marker."""

    def method(self: Any) -> ActionResult:
        # moto's handler answers everything (list_users is handed the Marker and ignores it);
        # the page is cut from that.
        marker = self._get_param("Marker")
        max_items = int(self._get_param("MaxItems") or 100)
        if max_items < 1 or max_items > 1000:
            raise ValidationError("MaxItems must be between 1 and 1000")
        start = 0
        if marker:
            token = decode_token(marker)
            if not token or token.get("op") != name or not isinstance(token.get("o"), int):
                raise ValidationError("Invalid Marker.")
            start = token["o"]
        result = original(self).result
        assert isinstance(result, dict)
        items = [(k, v) for k in keys for v in list(result.get(k) or [])]
        empty = bool(getattr(STATE.request, "empty_page", False))
        if empty:
            page, following = [], start  # an injected empty page: same place next time
        else:
            page = items[start : start + max_items]
            following = start + len(page)
        truncated = following < len(items) or empty
        for k in keys:
            result[k] = [v for kk, v in page if kk == k]
        result["IsTruncated"] = truncated
        if truncated:
            payload: dict[str, Any] = {"op": name, "o": following}
            if empty:
                payload["e"] = nonce()  # never the token that was sent (see util.nonce)
            result["Marker"] = encode_token(payload)
        else:
            result.pop("Marker", None)
        return ActionResult(result)

    method.__name__ = name
    return method


def _patch_iam_pagination() -> None:
    for name, keys in _PAGED.items():
        setattr(IamResponse, name, _paged(name, keys, getattr(IamResponse, name)))


# --- 4. the root user's virtual MFA device ------------------------------------------------


class _RootVirtualMfa:
    """Quacks like moto's VirtualMfaDevice for ListVirtualMFADevices."""

    def __init__(self, root: RootSpec) -> None:
        self.serial_number = f"arn:aws:iam::{root.account_id}:mfa/root-account-mfa-device"
        self.base32_string_seed = None  # AWS gives the seed and QR code only at creation
        self.qr_code_png = None
        self.enable_date = root.mfa_enabled or root.created
        # AWS answers User with Arn ".../root" and the account id as UserId, no UserName.
        self.user = {"Path": "/", "UserId": root.account_id, "Arn": root.arn, "CreateDate": root.created}
        self.user_attribute = self.user


def _patch_virtual_mfa_listing() -> None:
    backend_cls = iam_models.IAMBackend

    def list_virtual_mfa_devices(self: Any, assignment_status: str, marker: Any, max_items: Any) -> Any:
        # moto's own logic (5.2.5) with the root device listed first, and no marker when the
        # last page is exactly full (moto then pointed to an empty page). The backend's dict
        # of devices is left alone (requests run in parallel threads).
        root = getattr(self, "iam_audit_root", None)
        devices = list(self.virtual_mfa_devices.values())
        if root is not None and root.mfa == "virtual":
            devices.insert(0, _RootVirtualMfa(root))
        if assignment_status == "Assigned":
            devices = [d for d in devices if d.enable_date]
        elif assignment_status == "Unassigned":
            devices = [d for d in devices if not d.enable_date]
        max_items = int(max_items)
        try:
            start = int(marker) if marker else 0
        except ValueError:
            raise ValidationError("Invalid Marker.") from None
        if start > len(devices):
            raise ValidationError("Invalid Marker.")
        page = devices[start : start + max_items]
        following = str(start + max_items) if start + max_items < len(devices) else None
        return page, following

    backend_cls.list_virtual_mfa_devices = list_virtual_mfa_devices


# --- 5. inline policies as JSON text --------------------------------------------------------


def _patch_inline_policy_storage() -> None:
    for cls in (iam_models.Role, iam_models.User, iam_models.Group):
        original = cls.put_policy

        def put_policy(self: Any, policy_name: str, policy_json: Any, _original: Any = original) -> None:
            if not isinstance(policy_json, str):
                policy_json = json.dumps(policy_json)
            _original(self, policy_name, policy_json)

        cls.put_policy = put_policy  # type: ignore[method-assign]
