"""The IAM credential report, cached as AWS caches it.

AWS keeps one report per account: `GenerateCredentialReport` answers `COMPLETE` without
regenerating while the last report is less than 4 hours old, and `GetCredentialReport` returns
that stored report (the account as it was at its `GeneratedTime`), whatever changed since.
With no report, or one 4 hours old or more, `GenerateCredentialReport` starts a new one
(`STARTED`).

Here a report is a snapshot of the CSV taken when it is generated, stored as
`iam_audit_report` on the account's IAM backend. Its age for the 4-hour rule is real elapsed
time (monotonic) since the snapshot was taken plus an adjustable offset
(`POST /iam-audit/report` `{"action": "age"}`), never its `GeneratedTime`: tests pin
`GeneratedTime` (`report_generated`) to fixed dates for determinism, and that pinned time is
only what `GetCredentialReport` answers. A pinned time (`iam_audit_report_time`) is used by the
next snapshot taken, then forgotten: a report regenerated later is generated "now".

The CSV rows are built as AWS writes them (user rows, the `<root_account>` row in one of three
styles: see `root_report_row`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moto.core.utils import utcnow
from moto.iam.models import iam_backends

from .util import SpecError, iso_z, optional_time

LIFETIME_HOURS = 4.0  # AWS regenerates a report only when the last one is this old
REPORT_DATE = "%Y-%m-%dT%H:%M:%S+00:00"  # the credential report's time format
REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
)

# One lock for every account's report (taking a snapshot is fast).
_lock = threading.RLock()


# --- the rows -------------------------------------------------------------------------------


class RootSpec:
    """What the report (and ListVirtualMFADevices, GetAccountSummary) says of an account's
    root user. Stored as `iam_audit_root` on the account's IAM backend by the seed /
    back-dating."""

    def __init__(self, account_id: str, created: datetime) -> None:
        self.account_id = account_id
        self.created = created
        # "not_supported": the report's old root row (password columns not_supported);
        # True: a root password (newer reports); False: no root password (deleted, e.g. by
        # centralized root access, or a member account created without one).
        self.password: Any = "not_supported"
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


def root_password_columns(root: RootSpec) -> list[str]:
    """password_enabled, password_last_used, password_last_changed, password_next_rotation of
    the `<root_account>` row, per style:
      "not_supported" (older reports): not_supported, <last used | no_information>,
                                       not_supported, not_supported
      True  (a root password):         true, <last used | no_information>, not_supported,
                                       not_supported
      False (no root password):        false, <last used | N/A>, N/A, not_supported
    (AWS keeps the last sign-in of a deleted root password.)"""
    if root.password is False:
        return ["false", _fmt(root.password_last_used, "N/A"), "N/A", "not_supported"]
    enabled = "true" if root.password is True else "not_supported"
    return [enabled, _fmt(root.password_last_used, "no_information"), "not_supported", "not_supported"]


def root_report_row(root: RootSpec) -> str:
    """The `<root_account>` row."""
    fields = ["<root_account>", root.arn, _fmt(root.created), *root_password_columns(root)]
    fields.append("true" if root.mfa != "none" else "false")
    fields += _key_columns(root.keys[0] if len(root.keys) > 0 else None)
    fields += _key_columns(root.keys[1] if len(root.keys) > 1 else None)
    fields += ["false", "N/A", "false", "N/A"]
    return ",".join(fields) + "\n"


def build_csv(backend: Any) -> str:
    """The report of an account as it is now: the root row first, then users."""
    report = REPORT_HEADER
    root = getattr(backend, "iam_audit_root", None)
    if root is None:
        root = RootSpec(backend.account_id, datetime(2020, 1, 1))
    report += root_report_row(root)
    for user in list(backend.users.values()):
        report += user_report_row(user)
    return report


# --- the cached report ------------------------------------------------------------------


@dataclass
class Snapshot:
    """One generated report: its content, the GeneratedTime it answers, and its age."""

    content: str
    generated: datetime
    taken: float  # time.monotonic() when it was taken
    offset_hours: float = 0.0  # added by {"action": "age"}

    def age_hours(self) -> float:
        return (time.monotonic() - self.taken) / 3600.0 + self.offset_hours

    @property
    def rows(self) -> int:
        """Data rows (the root row included)."""
        return self.content.count("\n") - 1

    def describe(self) -> dict[str, Any]:
        return {"generated": iso_z(self.generated), "age_hours": round(self.age_hours(), 6), "rows": self.rows}


def current(backend: Any) -> Snapshot | None:
    return getattr(backend, "iam_audit_report", None)


def take(backend: Any, generated: datetime | None = None) -> Snapshot:
    """A new report of the account as it is now. GeneratedTime: `generated`, else the pinned
    time (then forgotten), else now."""
    with _lock:
        if generated is None:
            generated = getattr(backend, "iam_audit_report_time", None)
            backend.iam_audit_report_time = None
        if generated is None:
            generated = utcnow().replace(microsecond=0)
        snapshot = Snapshot(build_csv(backend), generated, time.monotonic())
        backend.iam_audit_report = snapshot
        return snapshot


def generate(backend: Any) -> dict[str, str]:
    """GenerateCredentialReport: COMPLETE while the report is under 4 hours old, else a new
    one (STARTED)."""
    with _lock:
        snapshot = current(backend)
        if snapshot is not None and snapshot.age_hours() < LIFETIME_HOURS:
            return {"State": "COMPLETE"}
        take(backend)
        return {"State": "STARTED", "Description": "No report exists. Starting a new report generation task"}


def pin(backend: Any, generated: datetime) -> bool:
    """`report_generated` of the seed or a back-date: with a report, it is retaken now (after
    the back-date's changes) with that GeneratedTime; without one, the next report generated
    gets it. True when a report was retaken."""
    with _lock:
        if current(backend) is not None:
            take(backend, generated)
            return True
        backend.iam_audit_report_time = generated
        return False


REPORT_ACTIONS = ("generate", "age", "drop", "status")


def control(spec: Any) -> dict[str, Any]:
    """POST /iam-audit/report:
    {"account", "action": "generate", "generated": time}  a report now (GeneratedTime optional)
    {"account", "action": "age", "hours": 5}               the report that many hours older
    {"account", "action": "drop"}                          no report
    {"account", "action": "status"}                        nothing changed
    Answer: {"account", "generated": iso time | null, "age_hours": float, "rows": n}."""
    if not isinstance(spec, dict):
        raise SpecError("report: expected a JSON object")
    action = spec.get("action")
    allowed = {"account", "action"} | ({"generated"} if action == "generate" else set()) | (
        {"hours"} if action == "age" else set())
    unknown = set(spec) - allowed
    if unknown:
        raise SpecError(f"report: unknown field(s) {sorted(unknown)} for action {action!r} (allowed: {sorted(allowed)})")
    account = spec.get("account")
    if not isinstance(account, str) or len(account) != 12 or not account.isdigit():
        raise SpecError(f"report.account: expected a 12-digit account id string, got {account!r}")
    if action not in REPORT_ACTIONS:
        raise SpecError(f"report.action: expected one of {', '.join(REPORT_ACTIONS)}, got {action!r}")
    backend = iam_backends[account]["global"]
    with _lock:
        if action == "generate":
            take(backend, optional_time(spec.get("generated"), "report.generated"))
        elif action == "age":
            hours = spec.get("hours")
            if isinstance(hours, bool) or not isinstance(hours, (int, float)) or hours < 0:
                raise SpecError("report.hours: expected a non-negative number of hours")
            snapshot = current(backend)
            if snapshot is None:
                raise SpecError(f"report: {account} has no credential report to age")
            snapshot.offset_hours += float(hours)
        elif action == "drop":
            backend.iam_audit_report = None
        snapshot = current(backend)
        if snapshot is None:
            return {"account": account, "generated": None, "age_hours": 0.0, "rows": 0}
        return {"account": account, **snapshot.describe()}
