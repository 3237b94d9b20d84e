"""Monkeypatches of moto 5.2.5, applied once at import of the harness app (install()).

1. Organizations account ids: moto draws member account ids at random; the seed must choose
   them. `moto.organizations.utils.make_random_account_id` hands out queued ids first.
2. The IAM credential report (moto rebuilt it from its backend objects at every
   GetCredentialReport): a snapshot taken at generation, cached as AWS caches it (4 hours),
   with rows as AWS writes them (report.py):
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
6. GetAccountSummary: `AccountPasswordPresent` (moto never answers it) when the root spec
   says whether the root user has a password (`"password": true | false`).
7. Organizations: `iam.amazonaws.com` can have trusted access and a delegated administrator
   (centralized root access); moto's lists of services lacked it.
8. moto's authorization mode checks a request with the caller's own account even when the
   harness has moto answer it as another account (`x-moto-account-id`: a delegated
   administrator's Organizations reads answered from the management account).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.responses import ActionResult
from moto.iam import models as iam_models
from moto.iam.exceptions import ValidationError
from moto.iam.responses import IamResponse
from moto.organizations import models as org_models
from moto.organizations import utils as org_utils

from . import report
from .report import RootSpec
from .state import STATE
from .util import decode_token, encode_token, nonce

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
    _patch_account_summary()
    _patch_organizations_services()
    _patch_authorization_account()
    _patch_s3_head_bucket_action()


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


def _patch_credential_report() -> None:
    """GenerateCredentialReport / GetCredentialReport answer the cached report (report.py)."""
    backend_cls = iam_models.IAMBackend

    def report_generated(self: Any) -> bool:
        return report.current(self) is not None

    def generate_report(self: Any) -> None:
        report.generate(self)

    def get_credential_report(self: Any) -> str:
        snapshot = report.current(self)
        if snapshot is None:
            raise iam_models.ReportNotPresentException("Credential report not present")
        return snapshot.content

    backend_cls.report_generated = report_generated
    backend_cls.generate_report = generate_report
    backend_cls.get_credential_report = get_credential_report

    def response_generate_credential_report(self: Any) -> ActionResult:
        return ActionResult(report.generate(self.backend))

    def response_get_credential_report(self: Any) -> ActionResult:
        snapshot = report.current(self.backend)
        if snapshot is None:
            raise iam_models.ReportNotPresentException("Credential report not present")
        return ActionResult(
            {"Content": snapshot.content, "ReportFormat": "text/csv", "GeneratedTime": snapshot.generated}
        )

    IamResponse.generate_credential_report = response_generate_credential_report
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


# --- 6. GetAccountSummary AccountPasswordPresent -------------------------------------------


def _patch_account_summary() -> None:
    original = iam_models.AccountSummary.summary_map

    def summary_map(self: Any) -> dict[str, Any]:
        answer = original.fget(self)  # type: ignore[attr-defined]
        root = getattr(self._iam_backend, "iam_audit_root", None)
        if root is not None and root.password in (True, False):
            answer["AccountPasswordPresent"] = 1 if root.password else 0
        return answer

    iam_models.AccountSummary.summary_map = property(summary_map)  # type: ignore[method-assign,assignment]


# --- 7. iam.amazonaws.com in Organizations ---------------------------------------------------

IAM_SERVICE_PRINCIPAL = "iam.amazonaws.com"


def _patch_organizations_services() -> None:
    for services in (org_models.FakeServiceAccess.TRUSTED_SERVICES,
                     org_models.FakeDelegatedAdministrator.SUPPORTED_SERVICES):
        if IAM_SERVICE_PRINCIPAL not in services:
            services.append(IAM_SERVICE_PRINCIPAL)


# --- 8. authorization as the caller's account ------------------------------------------------


def _patch_authorization_account() -> None:
    def _authenticate_and_authorize_action(self: Any, iam_request_cls: type, resource: str = "*") -> None:
        # moto 5.2.5's own logic, with the account of the check overridable per request.
        if ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT:
            if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
                return
            parsed_url = urlparse(self.uri)
            path = self.raw_path
            if parsed_url.query:
                path += "?" + parsed_url.query
            account = getattr(STATE.request, "auth_account", None) or self.current_account
            iam_request = iam_request_cls(
                account_id=account,
                method=self.method,
                path=path,
                data=self.data,
                body=self.raw_body,
                headers=self.headers,
                action=self._get_action(),
            )
            iam_request.check_signature()
            iam_request.check_action_permitted(resource)
        else:
            ActionAuthenticatorMixin.request_count += 1

    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_and_authorize_action  # type: ignore[method-assign]


# --- S3 HeadBucket's action -----------------------------------------------------------------


def _patch_s3_head_bucket_action() -> None:
    """moto's authorization checks HeadBucket as `s3:HeadBucket`, which is no IAM action: AWS
    authorizes it as `s3:ListBucket`."""
    from moto.s3 import responses as s3_responses

    s3_responses.ACTION_MAP["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"
