"""Fault rules (throttling, 5xx, AccessDenied, arbitrary errors, a credential report in
progress, connections reset mid-answer, empty pages, repeated page tokens, latency) and the
AWS error wire formats, per protocol, that the AWS SDKs parse.

A rule matches a request by `service:Operation` (fnmatch pattern, case-sensitive: "iam:List*",
"*") and optionally by the account of the calling credentials and by the call log's `detail`
(fnmatch: an S3 call's "key=..." or "prefix=...", a LookupEvents' "EventName=..."). Rules with a count fire that many
times, then are spent; rules without a count fire until /iam-audit/reset. A rule with `every: n`
fires on every n-th request it matches (deterministic: a rate without randomness).
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import asdict, dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from .util import SpecError, stable_uuid

# Kinds of rules, in the order they are tried for one request (the first that fires wins).
KINDS = ("deny", "throttle", "error5xx", "error", "report_pending", "reset", "empty_page", "repeat_token")
# Kinds whose request is still answered by moto (or the harness), then altered: the answer is
# cut mid-body (reset), served as an empty page (empty_page), or as an empty page whose token
# is one the client was given before (repeat_token).
ANSWERED_KINDS = ("reset", "empty_page", "repeat_token")

# JSON list operations that can serve an injected empty page: operation -> result list
JSON_PAGED = {
    "organizations:ListAccounts": "Accounts",
    "organizations:ListAccountsForParent": "Accounts",
    "organizations:ListChildren": "Children",
    "organizations:ListOrganizationalUnitsForParent": "OrganizationalUnits",
    "organizations:ListParents": "Parents",
    "organizations:ListRoots": "Roots",
    "organizations:ListTagsForResource": "Tags",
}
# IAM list operations paged by the harness (patches.py), which can serve an empty page too.
IAM_PAGED = {
    "iam:ListUsers",
    "iam:ListAccessKeys",
    "iam:ListMFADevices",
    "iam:ListUserTags",
    "iam:GetAccountAuthorizationDetails",
}
# empty_page and repeat_token rules fire only for these operations.
EMPTY_PAGE_OPS = set(JSON_PAGED) | IAM_PAGED | {"cloudtrail:LookupEvents"}

# awsQuery protocol services (form body, XML answers) and the XML namespace of their errors.
QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}

# The throttling error code each service really answers with. All are in the AWS SDK for
# Rust's THROTTLING_ERRORS (aws-runtime retries classifier), so they are retried as throttling.
THROTTLE_CODES = {
    "iam": "Throttling",
    "sts": "Throttling",
    "organizations": "TooManyRequestsException",
    "cloudtrail": "ThrottlingException",
    "s3": "SlowDown",
}
THROTTLE_MESSAGES = {
    "organizations": "You have sent too many requests in too short a period of time. The quota "
    "helps protect against denial-of-service attacks. Try again later.",
}

# The code of an AccessDenied per protocol (query: AccessDenied; JSON: AccessDeniedException).
DENY_CODES = {"iam": "AccessDenied", "sts": "AccessDenied", "s3": "AccessDenied"}
# restXml services (S3): <Error><Code>..</Code><Message>..</Message></Error>, 403 when denied.
REST_XML = {"s3"}

# The code of a 5xx per status.
SERVER_ERROR_CODES = {500: "InternalFailure", 503: "ServiceUnavailable"}


@dataclass
class Rule:
    """One fault rule (see the module docstring)."""

    kind: str
    match: str = "*"
    account: str | None = None
    count: int | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    detail: str | None = None
    every: int | None = None  # fires on every n-th matching request
    cycle: int | None = None  # repeat_token: 1 (the token sent) or 2 (the one before it)
    scp: bool | None = None  # deny: the message of an explicit deny in an SCP
    fired: int = field(default=0)
    seen: int = field(default=0)  # matching requests (with `every`)
    # repeat_token: per listing (account, operation, parameters), the tokens it answered.
    history: dict[str, list[str]] = field(default_factory=dict)

    def matches(self, op: str, account: str | None, detail: str | None = None) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if self.account is not None and self.account != account:
            return False
        if self.detail is not None and not fnmatch.fnmatchcase(detail or "", self.detail):
            return False
        if self.kind in ("empty_page", "repeat_token") and op not in EMPTY_PAGE_OPS:
            return False
        return fnmatch.fnmatchcase(op, self.match)

    def due(self) -> bool:
        """Counts a matching request; whether the rule fires on it (`every`: the n-th only)."""
        if self.every is None:
            return True
        self.seen += 1
        return self.seen % self.every == 0

    def repeat(self, listing: str, sent: str | None, answered: str) -> str | None:
        """repeat_token (under the state lock): the token to answer instead of `answered`, one
        this listing was answered before (`cycle` 1: the token just sent; 2: the one before
        it), or None for a lead-in page (its token is remembered). A request without a token
        starts the listing afresh."""
        tokens = self.history.setdefault(listing, [])
        if not sent:
            tokens.clear()
        cycle = self.cycle or 1
        if sent and len(tokens) >= cycle:
            self.fired += 1
            return tokens[-cycle]
        tokens.append(answered)
        return None

    def describe(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None and k not in ("history", "seen")}
        if self.every is not None:
            out["seen"] = self.seen
        if self.count is not None:
            out["remaining"] = max(self.count - self.fired, 0)
        return out


@dataclass
class Latency:
    """An added delay before matching requests are answered."""

    ms: float
    match: str = "*"
    account: str | None = None

    def matches(self, op: str, account: str | None) -> bool:
        if self.account is not None and self.account != account:
            return False
        return fnmatch.fnmatchcase(op, self.match)


def parse_faults(body: Any) -> tuple[list[Rule], list[Latency]]:
    """Rules from a POST /iam-audit/faults body: {kind: rule | [rule, ...], "latency_ms": n,
    "latency": {"ms": n, "match": ..., "account": ...} | [...]}."""
    if not isinstance(body, dict):
        raise SpecError("faults: expected a JSON object")
    rules: list[Rule] = []
    latencies: list[Latency] = []
    for key, value in body.items():
        items = value if isinstance(value, list) else [value]
        if key == "latency_ms":
            latencies.append(Latency(ms=_number(value, "latency_ms")))
        elif key == "latency":
            for item in items:
                _only(item, {"ms", "match", "account"}, "latency")
                latencies.append(
                    Latency(
                        ms=_number(item.get("ms"), "latency.ms"),
                        match=str(item.get("match", "*")),
                        account=item.get("account"),
                    )
                )
        elif key in KINDS:
            for item in items:
                rules.append(_parse_rule(key, item))
        else:
            raise SpecError(f"faults: unknown kind {key!r} (known: {', '.join(KINDS)}, latency_ms, latency)")
    return rules, latencies


def _parse_rule(kind: str, item: Any) -> Rule:
    if kind == "report_pending":
        # The credential report stays in progress: GenerateCredentialReport answers INPROGRESS,
        # GetCredentialReport ReportInProgress (404); forever unless a count is given.
        _only(item, {"account", "count"}, kind)
        item = {**item, "match": "iam:*CredentialReport"}
    allowed = {"match", "account", "count", "status", "code", "message", "detail", "every"}
    if kind == "repeat_token":
        allowed = {"match", "account", "count", "detail", "cycle"}
    elif kind == "reset":
        allowed = {"match", "account", "count", "detail", "every"}
    elif kind == "deny":
        allowed = allowed | {"scp"}
    _only(item, allowed, kind)
    every = item.get("every")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise SpecError(f"{kind}.every: expected a positive integer")
    cycle = item.get("cycle")
    if kind == "repeat_token" and cycle not in (None, 1, 2):
        raise SpecError("repeat_token.cycle: expected 1 (the token sent) or 2 (the one before it)")
    scp = item.get("scp")
    if scp is not None and not isinstance(scp, bool):
        raise SpecError("deny.scp: expected true or false")
    count = item.get("count")
    if count is None and every is None and kind in ("throttle", "error5xx", "empty_page", "reset", "repeat_token"):
        count = 1  # a transient fault is once unless told otherwise (a rate: until reset)
    if count is not None and (not isinstance(count, int) or count < 0):
        raise SpecError(f"{kind}.count: expected a non-negative integer")
    status = item.get("status")
    if kind == "error5xx":
        status = status or 500
        if status not in (500, 502, 503, 504):
            raise SpecError("error5xx.status: expected 500, 502, 503 or 504")
    if kind == "error" and (not item.get("code") or not status):
        raise SpecError("error: needs code and status")
    return Rule(
        kind=kind,
        match=str(item.get("match", "*")),
        account=item.get("account"),
        count=count,
        status=status,
        code=item.get("code"),
        message=item.get("message"),
        detail=item.get("detail"),
        every=every,
        cycle=cycle if kind == "repeat_token" else None,
        scp=scp or None,
    )


def _only(item: Any, allowed: set[str], what: str) -> None:
    if not isinstance(item, dict):
        raise SpecError(f"{what}: expected a JSON object")
    unknown = set(item) - allowed
    if unknown:
        raise SpecError(f"{what}: unknown field(s) {sorted(unknown)} (allowed: {sorted(allowed)})")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise SpecError(f"{what}: expected a non-negative number")
    return float(value)


# --- wire formats -------------------------------------------------------------------------


@dataclass
class Reply:
    """A complete HTTP answer: status, headers, body."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_reply(service: str, status: int, code: str, message: str, request_key: str) -> Reply:
    """An error in the wire format of the service's protocol.

    awsQuery (IAM, STS):  text/xml
        <ErrorResponse xmlns="..."><Error><Type>Sender|Receiver</Type><Code>..</Code>
        <Message>..</Message></Error><RequestId>..</RequestId></ErrorResponse>
    awsJson1_1 (Organizations, CloudTrail): application/x-amz-json-1.1,
        header x-amzn-ErrorType: <code>, body {"__type": "<code>", "message": ".."}
    """
    request_id = stable_uuid("error", request_key)
    if service in REST_XML:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    elif service in QUERY_NAMESPACES:
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{QUERY_NAMESPACES[service]}">'
            f"<Error><Type>{fault}</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    else:
        # Organizations models its errors' text as "Message", the others as "message".
        payload = {"__type": code, ("Message" if service == "organizations" else "message"): message}
        body = json.dumps(payload).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", code),
        ]
    headers.append(("Content-Length", str(len(body))))
    return Reply(status, headers, body)


def reply_for_rule(rule: Rule, service: str, op: str, account: str, principal: str, key: str) -> Reply:
    """The answer of a fired rule (ANSWERED_KINDS are answered elsewhere)."""
    if rule.kind == "report_pending":
        if op == "iam:GenerateCredentialReport":
            request_id = stable_uuid("report", key)
            body = (
                f'<GenerateCredentialReportResponse xmlns="{QUERY_NAMESPACES["iam"]}">'
                "<GenerateCredentialReportResult><State>INPROGRESS</State>"
                "<Description>Report generation in progress.</Description>"
                "</GenerateCredentialReportResult>"
                f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
                "</GenerateCredentialReportResponse>"
            ).encode()
            headers = [
                ("Content-Type", "text/xml"),
                ("x-amzn-RequestId", request_id),
                ("Content-Length", str(len(body))),
            ]
            return Reply(200, headers, body)
        return error_reply(service, 404, "ReportInProgress", "Report generation in progress.", key)
    if rule.kind == "throttle":
        code = rule.code or THROTTLE_CODES.get(service, "ThrottlingException")
        message = rule.message or THROTTLE_MESSAGES.get(service, "Rate exceeded")
        return error_reply(service, rule.status or (503 if service in REST_XML else 400), code, message, key)
    if rule.kind == "error5xx":
        status = rule.status or 500
        code = rule.code or SERVER_ERROR_CODES.get(status, "InternalFailure")
        message = rule.message or "We encountered an internal error. Please try again."
        return error_reply(service, status, code, message, key)
    if rule.kind == "deny":
        code = rule.code or DENY_CODES.get(service, "AccessDeniedException")
        status = rule.status or (403 if service in QUERY_NAMESPACES or service in REST_XML else 400)
        action = f"{service}:{op.split(':', 1)[-1]}"
        # AWS's two wordings: no Allow in the caller's policies, or a Deny in an SCP.
        why = (
            "with an explicit deny in a service control policy"
            if rule.scp
            else f"because no identity-based policy allows the {action} action"
        )
        message = rule.message or f"User: {principal} is not authorized to perform: {action} {why}"
        return error_reply(service, status, code, message, key)
    # kind == "error": exactly what the rule says
    return error_reply(service, int(rule.status or 400), str(rule.code), rule.message or str(rule.code), key)
