"""Who a caller is, and what the Organization lets it read: answers the harness gives itself.

- `sts:GetCallerIdentity` with a key moto never issued (the static management key): moto
  answered `arn:aws:sts::<account>:user/moto`, an ARN AWS never writes (an IAM user's ARN is
  `arn:aws:iam::...:user/...`); the harness answers the IAM user `iam-audit` of that account
  (the caller its AccessDenied messages name). Keys moto issued (IAM users', assumed-role
  sessions') are answered by moto, which gets them right.
- Organizations called with a member account's credentials: moto answered
  `DescribeOrganization` and `ListRoots` from the Organization but every other read from the
  member's own empty Organizations backend (`ListAccounts`: an empty list, `ListParents`:
  AccountNotFoundException). As AWS: `DescribeOrganization` is open to every member; the
  other reads (`Describe*`, `List*`) to a delegated administrator (a member registered for
  any service, e.g. the seed's `delegated_admin`) and are answered from the Organization's
  data; anything else, and any read of a member that is not a delegated administrator,
  answers `AccessDeniedException` ("You don't have permissions to access this resource.").
- `iam:ListOrganizationsFeatures` (moto 5.2.5 has no such operation): the centralized root
  access features of the seed's `root_features`, for the management account and the IAM
  delegated administrator (registered for `iam.amazonaws.com`).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from moto.iam.models import iam_backends
from moto.organizations.models import organizations_backends
from moto.sts.models import sts_backends

from .faults import QUERY_NAMESPACES, Reply, error_reply
from .patches import IAM_SERVICE_PRINCIPAL
from .state import STATE
from .util import stable_key_id, stable_uuid

# Organizations operations a member answers for itself (moto's member backend is right).
MEMBER_OWN_OPERATIONS = {
    "AcceptHandshake", "DeclineHandshake", "DescribeHandshake", "ListHandshakesForAccount", "LeaveOrganization",
}
MEMBER_DENIED_MESSAGE = "You don't have permissions to access this resource."
HARNESS_CALLER = "iam-audit"  # the IAM user a key moto never issued stands for


def delegated_services(account: str) -> set[str]:
    """The services an account is a delegated administrator for, in the seeded Organization."""
    with STATE.lock:
        management = STATE.management
    if management is None or account == management:
        return set()
    backend = organizations_backends[management]["aws"]
    for admin in list(backend.admins):
        if admin.account.id == account:
            return set(admin.services)
    return set()


def organizations_route(account: str, operation: str) -> str:
    """How an Organizations request is answered: "pass" (moto, as the caller's account),
    "management" (moto, as the management account: the Organization's data), "deny"."""
    with STATE.lock:
        management, members = STATE.management, set(STATE.org_accounts)
    if management is None or account == management or account not in members:
        return "pass"
    if operation in MEMBER_OWN_OPERATIONS:
        return "pass"
    if operation == "DescribeOrganization":
        return "management"
    if operation.startswith(("Describe", "List")) and delegated_services(account):
        return "management"
    return "deny"


def member_denied(key: str) -> Reply:
    return error_reply("organizations", 400, "AccessDeniedException", MEMBER_DENIED_MESSAGE, key)


def issued_by_moto(account: str, access_key: str) -> bool:
    """Whether moto issued this key (an assumed-role session's or an IAM user's)."""
    if sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key) is not None:
        return True
    return access_key in iam_backends[account]["global"].access_keys


def caller_identity(account: str, access_key: str | None, key: str) -> Reply | None:
    """GetCallerIdentity of a key moto never issued; None to let moto answer."""
    if access_key is None or issued_by_moto(account, access_key):
        return None
    user_id = stable_key_id("AIDA", account, "user", HARNESS_CALLER, length=21)
    arn = f"arn:aws:iam::{account}:user/{HARNESS_CALLER}"
    return _query_reply(
        "sts", "GetCallerIdentity", key,
        f"<Arn>{arn}</Arn><UserId>{user_id}</UserId><Account>{account}</Account>",
    )


def list_organizations_features(account: str, key: str) -> Reply:
    """IAM ListOrganizationsFeatures, as AWS answers it (errors HTTP 400, IAM's XML)."""
    with STATE.lock:
        management, members, org_id = STATE.management, set(STATE.org_accounts), STATE.org_id
        features = None if STATE.root_features is None else list(STATE.root_features)
    if management is None or (account != management and account not in members):
        return error_reply("iam", 400, "OrganizationNotFoundException",
                           "The request was rejected because no organization is associated with your account.", key)
    if account != management and IAM_SERVICE_PRINCIPAL not in delegated_services(account):
        return error_reply(
            "iam", 400, "AccountNotManagementOrDelegatedAdministratorException",
            "The request was rejected because the account making the request is not the management "
            "account or delegated administrator account for centralized root access.", key)
    if features is None:
        return error_reply(
            "iam", 400, "ServiceAccessNotEnabledException",
            "The request was rejected because trusted access is not enabled for IAM in AWS Organizations. "
            "For details, see IAM and AWS Organizations in the AWS Organizations User Guide.", key)
    members_xml = "".join(f"<member>{escape(f)}</member>" for f in features)
    return _query_reply(
        "iam", "ListOrganizationsFeatures", key,
        f"<OrganizationId>{escape(org_id or '')}</OrganizationId><EnabledFeatures>{members_xml}</EnabledFeatures>",
    )


def _query_reply(service: str, operation: str, key: str, result_xml: str) -> Reply:
    """A successful awsQuery answer: <OpResponse><OpResult>...</OpResult><ResponseMetadata>."""
    request_id = stable_uuid("answer", service, operation, key)
    body = (
        f'<{operation}Response xmlns="{QUERY_NAMESPACES[service]}">'
        f"<{operation}Result>{result_xml}</{operation}Result>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{operation}Response>"
    ).encode()
    headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
    return Reply(200, headers, body)


def org_summary() -> dict[str, Any]:
    """The Organization facts the seed's answer repeats."""
    with STATE.lock:
        features = None if STATE.root_features is None else list(STATE.root_features)
        management = STATE.management
    admins: dict[str, list[str]] = {}
    if management is not None:
        for admin in list(organizations_backends[management]["aws"].admins):
            admins[admin.account.id] = sorted(admin.services)
    return {"delegated_admins": admins, "root_features": features}
