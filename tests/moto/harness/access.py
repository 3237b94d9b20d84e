"""Least-privilege testing: principals with a given policy, CloudFormation stacks in any
account, and what moto's authentication mode (POST /moto-api/reset-auth) leaves out.

With moto's authentication on, moto checks every request it answers itself: the signature,
then the caller's identity policies (an IAM user's inline, attached and group policies, or an
assumed role's). The harness completes it:
- `LookupEvents`, which the harness answers itself, is checked the same way (moto's own
  `IAMRequest`: signature and the caller's policies for `cloudtrail:LookupEvents`);
- `sts:AssumeRole` into another account: moto evaluates the trust policy only for a role in the
  caller's own account; the harness evaluates the target role's trust policy (principal:
  `*`, an account id, `arn:aws:iam::<id>:root`, the caller's ARN; conditions `StringEquals`,
  `StringLike`, `ArnEquals`, `ArnLike` with or without `IfExists` on `sts:ExternalId`,
  `aws:PrincipalAccount`, `aws:PrincipalArn`, `aws:PrincipalOrgID`; anything else fails
  closed);
- moto's answer to an authentication or authorization failure is rewritten in the service's
  own wire format: moto writes `<ErrorResponse><Errors><Error>` for every service, in which
  the AWS SDK for Rust finds no error code ("unhandled error") and which no JSON-protocol
  client can read. IAM and STS: `<ErrorResponse><Error>` (`AccessDenied`,
  `InvalidClientTokenId`, `SignatureDoesNotMatch`, HTTP 403); Organizations (JSON):
  `AccessDeniedException`, `UnrecognizedClientException`, `InvalidSignatureException`, 400.

Principals and stacks are made through moto's APIs over HTTP to this server (marked internal,
like the seed's calls), so they must be made before authentication is turned on: with it on,
the harness's own unsigned calls would be refused too (the endpoints say so with a 400).
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from botocore.exceptions import ClientError
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMRequest
from moto.iam.models import iam_backends
from moto.sts.models import sts_backends
from werkzeug.datastructures import EnvironHeaders
from werkzeug.exceptions import HTTPException

from .faults import Reply, error_reply
from .seed import STATIC_KEY, Clients, _account_id, _check
from .state import STATE
from .util import SpecError, stable_key_id

# moto's XML auth errors -> the code (HTTP 400) a JSON-protocol service answers instead.
JSON_AUTH_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
    "AuthFailure": "UnrecognizedClientException",
}
XML_CODE_RE = re.compile(rb"<Code>([^<]+)</Code>")
XML_MESSAGE_RE = re.compile(rb"<Message>([^<]*)</Message>")
STACK_FIELDS = {"account", "template", "parameters", "name"}
PRINCIPAL_FIELDS = {"account", "name", "policy", "policy_name"}
CONDITION_KEYS = {"sts:externalid", "aws:principalaccount", "aws:principalarn", "aws:principalorgid"}


def enabled() -> bool:
    """Whether moto's authentication is on now (as moto decides it)."""
    return ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT


def _refuse_when_enabled(what: str) -> None:
    if enabled():
        raise SpecError(
            f"{what}: moto's authentication is on; make principals and stacks before "
            "POST /moto-api/reset-auth (a new seed turns it off)"
        )


# --- checks of the requests the harness answers itself -----------------------------------


def authorize(environ: dict[str, Any], service: str, operation: str, account: str, body: bytes,
              resource: str = "*", key: str = "auth") -> Reply | None:
    """moto's own check (signature, then the caller's identity policies) of a request the
    harness answers itself; None when allowed (or authentication is off), else the error."""
    if not enabled():
        ActionAuthenticatorMixin.request_count += 1  # as moto counts requests before auth
        return None
    headers = EnvironHeaders(environ)
    if "Authorization" not in headers:
        return auth_error(service, 403, "MissingAuthenticationToken", "Missing Authentication Token", key)
    path = environ.get("RAW_URI") or environ.get("PATH_INFO", "/")
    try:
        request = IAMRequest(
            account_id=account,
            method=environ.get("REQUEST_METHOD", "POST"),
            path=path,
            data={},
            body=body,
            headers=headers,  # type: ignore[arg-type]
            action=operation,
        )
        request.check_signature()
        request.check_action_permitted(resource)
    except HTTPException as err:
        code = getattr(err, "error_type", "AccessDenied")
        message = getattr(err, "message", str(err))
        return auth_error(service, int(err.code or 403), code, message, key)
    return None


def auth_error(service: str, status: int, code: str, message: str, key: str) -> Reply:
    """An authentication / authorization failure in the service's own protocol."""
    if service in ("iam", "sts"):
        return error_reply(service, status, code, message, key)
    return error_reply(service, 400, JSON_AUTH_CODES.get(code, code), message, key)


def translate_moto_error(service: str, status: int, body: bytes, key: str = "auth") -> Reply | None:
    """moto's answer to an authentication / authorization failure, in the service's own wire
    format (else None). moto writes `<ErrorResponse><Errors><Error>` for every service: JSON
    services answer JSON, and query services (IAM, STS) `<ErrorResponse><Error>`; the AWS SDK
    for Rust finds no error code in moto's shape ("unhandled error")."""
    if status not in (401, 403) or b"<ErrorResponse" not in body[:200] or b"<Errors>" not in body:
        return None
    code = XML_CODE_RE.search(body)
    if code is None or code.group(1).decode() not in JSON_AUTH_CODES:
        return None
    message = XML_MESSAGE_RE.search(body)
    text = message.group(1).decode() if message else code.group(1).decode()
    return auth_error(service, status, code.group(1).decode(), text, key)


# --- trust policies ------------------------------------------------------------------------


def caller_arns(account: str, access_key: str | None) -> list[str]:
    """The ARNs a caller is known by: an IAM user's ARN, or an assumed role's session and
    role ARNs; the account's root ARN for a key moto did not issue."""
    if access_key:
        assumed = sts_backends[account]["aws"].get_assumed_role_from_access_key(access_key)
        if assumed is not None:
            return [assumed.arn, assumed.role_arn]
        for user in list(iam_backends[account]["global"].users.values()):
            if any(k.access_key_id == access_key for k in user.access_keys):
                return [user.arn]
    return [f"arn:aws:iam::{account}:root"]


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any, account: str, arns: list[str]) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for p in _listed(principal.get("AWS")):
        if p == "*" or p == account or p in arns:
            return True
        if re.fullmatch(rf"arn:aws[a-z-]*:iam::{account}:root", str(p)):
            return True
    return False


def _conditions_hold(conditions: Any, context: dict[str, str | None]) -> tuple[bool, str]:
    """Whether every condition of a statement holds; the reason when not."""
    if not conditions:
        return True, ""
    if not isinstance(conditions, dict):
        return False, "a Condition that is not an object"
    for operator, tests in conditions.items():
        base, if_exists = (operator[:-8], True) if operator.endswith("IfExists") else (operator, False)
        if base not in ("StringEquals", "StringLike", "ArnEquals", "ArnLike") or not isinstance(tests, dict):
            return False, f"unsupported condition operator {operator} (the harness fails closed)"
        for key, expected in tests.items():
            if key.lower() not in CONDITION_KEYS:
                return False, f"unsupported condition key {key} (the harness fails closed)"
            actual = context.get(key.lower())
            if actual is None:
                if if_exists:
                    continue
                return False, f"{key} is not in the request"
            wanted = [str(v) for v in _listed(expected)]
            if base in ("StringEquals", "ArnEquals"):
                ok = actual in wanted
            else:
                ok = any(fnmatch.fnmatchcase(actual, w) for w in wanted)
            if not ok:
                return False, f"{key} does not match"
    return True, ""


def trust_denial(role: Any, account: str, arns: list[str], external_id: str | None) -> str | None:
    """Why the role's trust policy does not let this caller assume it; None when it does."""
    document = role.assume_role_policy_document
    try:
        policy = json.loads(document) if isinstance(document, str) else document
        statements = _listed(policy.get("Statement"))
    except (ValueError, AttributeError):
        return "its trust policy is not a JSON policy"
    with STATE.lock:
        org_id = STATE.org_id if account in STATE.org_accounts else None
    context: dict[str, str | None] = {
        "sts:externalid": external_id,
        "aws:principalaccount": account,
        "aws:principalarn": arns[-1] if arns else None,
        "aws:principalorgid": org_id,
    }
    allowed, reasons = False, []
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = _listed(statement.get("Action"))
        if not any(fnmatch.fnmatchcase("sts:AssumeRole", str(a)) for a in actions):
            continue
        if not _principal_matches(statement.get("Principal"), account, arns):
            reasons.append("the principal is not trusted")
            continue
        holds, why = _conditions_hold(statement.get("Condition"), context)
        if not holds:
            reasons.append(why)
            continue
        if statement.get("Effect") == "Deny":
            return "the trust policy denies it explicitly"
        allowed = True
    if allowed:
        return None
    return "; ".join(reasons) or "no statement of the trust policy allows sts:AssumeRole"


# --- principals and stacks (control endpoints, before authentication is turned on) --------


def create_principal(spec: Any, endpoint: str) -> dict[str, Any]:
    """POST /iam-audit/principal: an IAM user with an access key and exactly one policy, a
    customer managed policy made from the given document:
    {"account": id (default the seeded management account), "name": "scanner",
     "policy": {policy document}, "policy_name": "<name>-policy"}."""
    _check(spec, PRINCIPAL_FIELDS, "principal")
    _refuse_when_enabled("principal")
    seeded = STATE.seeded or {}
    account = _account_id(spec.get("account", seeded.get("management_account_id", "123456789012")),
                          "principal.account")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise SpecError("principal.name is required")
    policy = spec.get("policy")
    if not isinstance(policy, dict) or "Statement" not in policy:
        raise SpecError("principal.policy: expected an IAM policy document (an object with Statement)")
    iam = Clients(endpoint).client("iam", (*STATIC_KEY, None), account)
    try:
        user = iam.create_user(UserName=name)["User"]
        arn = iam.create_policy(
            PolicyName=spec.get("policy_name", f"{name}-policy"), PolicyDocument=json.dumps(policy)
        )["Policy"]["Arn"]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        # AWS-shaped ids, as the seed makes them (GetCallerIdentity answers it as UserId)
        iam_backends[account]["global"].users[name].id = stable_key_id("AIDA", account, "user", name, length=21)
    except ClientError as err:
        raise SpecError(f"principal: moto refused {err.operation_name}: {err.response['Error'].get('Message')}") from err
    return {
        "account": account,
        "arn": user["Arn"],
        "user_id": iam_backends[account]["global"].users[name].id,
        "policy_arn": arn,
        "credentials": {
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
            "session_token": None,
        },
    }


def deploy_stack(spec: Any, endpoint: str) -> dict[str, Any]:
    """POST /iam-audit/stack: a CloudFormation stack (moto's CloudFormation, us-east-1) in an
    account: {"account": id, "template": "<YAML or JSON>", "parameters": {"Key": "value"},
    "name": "iam-audit"}. Answers the stack's status and outputs; a stack that does not
    reach CREATE_COMPLETE is a 400 with its reason."""
    _check(spec, STACK_FIELDS, "stack")
    _refuse_when_enabled("stack")
    account = _account_id(spec.get("account"), "stack.account")
    template = spec.get("template")
    if not isinstance(template, str) or not template.strip():
        raise SpecError("stack.template: expected the template's text")
    parameters = spec.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise SpecError("stack.parameters: expected an object of parameter name -> value")
    name = spec.get("name", "iam-audit")
    cloudformation = Clients(endpoint).client("cloudformation", (*STATIC_KEY, None), account)
    try:
        cloudformation.create_stack(
            StackName=name,
            TemplateBody=template,
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as err:
        raise SpecError(f"stack: moto refused {err.operation_name}: {err.response['Error'].get('Message')}") from err
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise SpecError(f"stack {name} in {account}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    return {
        "account": account,
        "stack_name": name,
        "stack_id": stack["StackId"],
        "status": stack["StackStatus"],
        "outputs": {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
    }
