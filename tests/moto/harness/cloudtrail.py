"""CloudTrail for the harness: events seeded per account, and LookupEvents answered from them
(moto 5.2.5 answers LookupEvents with HTTP 500).

An event spec (seed "events", POST /iam-audit/events):
  {"name": "CreateAccessKey",          # EventName (required)
   "time": "2024-05-01T12:00:00Z",     # EventTime (required)
   "user": "alice",                    # the IAM user the event is about (optional)
   "key": 0 | "AKIA...",               # that user's access key: index in the seed, or id
   "actor": "admin" | {"type": "IAMUser"|"AssumedRole"|"Root", "name": "...",
                       "session": "...", "access_key_id": "..."},   # who called (default admin)
   "region": "us-east-1", "source": "iam.amazonaws.com", "id": "<EventId>",
   "read_only": false,
   "error_code": "AccessDenied", "error_message": "...",   # a failed call (message defaulted)
   "source_ip": "203.0.113.10", "user_agent": "aws-cli/2.15.0 ...",
   "outcome": "Success" | "Failure", "mfa_used": false,    # ConsoleLogin only
   "request_parameters": {...}, "response_elements": {...}}  # override the generated ones

A failed call is recorded as CloudTrail records it: `errorCode`, `errorMessage` and
`responseElements` null. `ConsoleLogin` (an IAM user's: `user` or an IAMUser `actor`; the root
user's: `actor: {"type": "Root"}`) is recorded as AWS sign-in records it: `eventSource`
signin.amazonaws.com, `eventType` AwsConsoleSignIn, `accessKeyId` "", no `requestID`,
`requestParameters` null, `responseElements {"ConsoleLogin": outcome}`, `additionalEventData
{"LoginTo", "MobileVersion": "No", "MFAUsed": "Yes"|"No"}`, a failure with `errorMessage`
"Failed authentication" and no `errorCode` (and an IAM user's `userIdentity` without `arn`).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from .state import STATE
from .util import (
    SpecError, decode_token, encode_token, epoch, iso_z, nonce, parse_time, stable_key_id, stable_uuid,
)

LOOKUP_KEYS = {
    "EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId",
}
EVENT_FIELDS = {
    "name", "time", "user", "key", "actor", "region", "source", "id", "read_only",
    "error_code", "error_message", "source_ip", "user_agent", "outcome", "mfa_used",
    "request_parameters", "response_elements",
}
LOGIN_FIELDS = {"outcome", "mfa_used"}  # ConsoleLogin only
DEFAULT_SOURCE_IP = "203.0.113.10"
DEFAULT_USER_AGENT = "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22 prompt/off command/iam"
DEFAULT_BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
LOGIN_TO = "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true"
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation"}


class LookupError_(Exception):
    """A LookupEvents validation error: the modeled CloudTrail exception name and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _java_date(dt: datetime) -> str:
    """IAM writes createDate in responseElements like "May 1, 2024 12:00:00 PM"."""
    hour = dt.hour % 12 or 12
    return f"{dt.strftime('%b')} {dt.day}, {dt.year} {hour}:{dt.strftime('%M:%S')} {'AM' if dt.hour < 12 else 'PM'}"


def _identity(account: str, actor: Any, when: datetime) -> tuple[dict[str, Any], str, str]:
    """userIdentity, the LookupEvents Username, and the caller's access key id."""
    if actor is None:
        actor = "admin"
    if isinstance(actor, str):
        actor = {"type": "IAMUser", "name": actor}
    if not isinstance(actor, dict):
        raise SpecError("event.actor: expected a user name or an object")
    kind = actor.get("type", "IAMUser")
    name = actor.get("name", "admin")
    if kind == "IAMUser":
        key = actor.get("access_key_id") or stable_key_id("AKIA", account, "actor", name)
        ident = {
            "type": "IAMUser",
            "principalId": stable_key_id("AIDA", account, "user", name, length=21),
            "arn": f"arn:aws:iam::{account}:user/{name}",
            "accountId": account,
            "accessKeyId": key,
            "userName": name,
        }
        return ident, name, key
    if kind == "AssumedRole":
        session = actor.get("session", "session")
        role_id = stable_key_id("AROA", account, "role", name, length=21)
        key = actor.get("access_key_id") or stable_key_id("ASIA", account, "session", name, session)
        ident = {
            "type": "AssumedRole",
            "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
            "accountId": account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": role_id,
                    "arn": f"arn:aws:iam::{account}:role/{name}",
                    "accountId": account,
                    "userName": name,
                },
                "attributes": {"creationDate": iso_z(when), "mfaAuthenticated": "false"},
            },
        }
        return ident, session, key
    if kind == "Root":
        key = actor.get("access_key_id") or stable_key_id("ASIA", account, "root")
        ident = {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
            "accessKeyId": key,
        }
        return ident, "root", key
    raise SpecError(f"event.actor.type: expected IAMUser, AssumedRole or Root, got {kind!r}")


def _login_identity(account: str, actor: Any, user: str | None, success: bool) -> tuple[dict[str, Any], str]:
    """userIdentity and Username of a ConsoleLogin: the root user, or the IAM user signing in."""
    if isinstance(actor, str):
        actor = {"type": "IAMUser", "name": actor}
    if actor is None:
        if not user:
            raise SpecError("event ConsoleLogin: needs a user (an IAM user's sign-in) or actor {\"type\": \"Root\"}")
        actor = {"type": "IAMUser", "name": user}
    if not isinstance(actor, dict):
        raise SpecError("event.actor: expected a user name or an object")
    kind = actor.get("type", "IAMUser")
    if kind == "Root":
        return {
            "type": "Root",
            "principalId": account,
            "arn": f"arn:aws:iam::{account}:root",
            "accountId": account,
            "accessKeyId": "",
        }, "root"
    if kind != "IAMUser":
        raise SpecError(f"event ConsoleLogin: actor.type must be IAMUser or Root, got {kind!r}")
    name = actor.get("name") or user
    if not name:
        raise SpecError("event ConsoleLogin: the IAM user signing in needs a name (user or actor.name)")
    ident: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": stable_key_id("AIDA", account, "user", name, length=21),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "",
        "userName": name,
    }
    if not success:
        del ident["arn"]  # a failed sign-in names the user, not its ARN
    return ident, name


def default_error_message(code: str, identity: dict[str, Any], source: str, name: str, user: str | None) -> str:
    """An errorMessage as AWS writes it for a few common codes."""
    if code in DENIED_CODES:
        action = f"{source.split('.', 1)[0]}:{name}"
        caller = identity.get("arn") or f"arn:aws:iam::{identity.get('accountId')}:root"
        on = f" on resource: user {user}" if user else ""
        return (f"User: {caller} is not authorized to perform: {action}{on} "
                f"because no identity-based policy allows the {action} action")
    if code in ("NoSuchEntity", "NoSuchEntityException"):
        return f"The user with name {user} cannot be found." if user else "The specified entity cannot be found."
    if code in ("LimitExceeded", "LimitExceededException") and name == "CreateAccessKey":
        return "Cannot exceed quota for AccessKeysPerUser: 2"
    if code in ("EntityAlreadyExists", "EntityAlreadyExistsException") and user:
        return f"User with name {user} already exists."
    return code


def build_event(account: str, index: int, spec: Any, key_ids: dict[str, list[str]]) -> dict[str, Any]:
    """One stored event from its spec. key_ids: user name -> its access key ids (seed order)."""
    if not isinstance(spec, dict):
        raise SpecError("event: expected a JSON object")
    unknown = set(spec) - EVENT_FIELDS
    if unknown:
        raise SpecError(f"event: unknown field(s) {sorted(unknown)}")
    if not spec.get("name"):
        raise SpecError("event.name is required")
    name = str(spec["name"])
    when = parse_time(spec.get("time"), f"event {name}.time").replace(microsecond=0)
    login = name == "ConsoleLogin"
    if not login and LOGIN_FIELDS & set(spec):
        raise SpecError(f"event {name}: {sorted(LOGIN_FIELDS & set(spec))} are for ConsoleLogin events only")
    region = spec.get("region", "us-east-1")
    source = spec.get("source", "signin.amazonaws.com" if login else "iam.amazonaws.com")
    user = spec.get("user")
    key_id = spec.get("key")
    if isinstance(key_id, int) and not isinstance(key_id, bool):
        keys = key_ids.get(user or "", [])
        if key_id < 0 or key_id >= len(keys):
            raise SpecError(f"event {name}: user {user!r} has no access key #{key_id}")
        key_id = keys[key_id]
    event_id = spec.get("id") or stable_uuid("event", account, index, name, iso_z(when), user, key_id)
    error_code = spec.get("error_code") or None

    if login:
        outcome = spec.get("outcome", "Success")
        if outcome not in ("Success", "Failure"):
            raise SpecError(f"event ConsoleLogin.outcome: expected Success or Failure, got {outcome!r}")
        mfa_used = spec.get("mfa_used", False)
        if not isinstance(mfa_used, bool):
            raise SpecError("event ConsoleLogin.mfa_used: expected true or false")
        identity, username = _login_identity(account, spec.get("actor"), user, outcome == "Success")
        caller_key = None
        request: dict[str, Any] | None = None
        response: dict[str, Any] | None = {"ConsoleLogin": outcome}
        key_id = None  # a sign-in names no key
        error_message = spec.get("error_message") or ("Failed authentication" if outcome == "Failure" else None)
        read_only = bool(spec.get("read_only", False))
    else:
        identity, username, caller_key = _identity(account, spec.get("actor"), when)
        # requestParameters / responseElements as IAM writes them.
        request = {}
        response = None
        if user:
            request["userName"] = user
        if key_id and name == "CreateAccessKey":
            # The new key's id is in the response, not the request; a failed call made none.
            if error_code:
                key_id = None
            else:
                response = {
                    "accessKey": {
                        "accessKeyId": key_id,
                        "status": "Active",
                        "userName": user,
                        "createDate": _java_date(when),
                    }
                }
        elif key_id:
            request["accessKeyId"] = key_id
        error_message = spec.get("error_message") or (
            default_error_message(error_code, identity, source, name, user) if error_code else None)
        read_only = bool(spec.get("read_only", name.startswith(("Get", "List", "Describe", "Lookup"))))
    if "request_parameters" in spec:
        request = spec["request_parameters"]
    if "response_elements" in spec:
        response = spec["response_elements"]
    elif error_code and not login:
        response = None  # a failed call has no response

    resources = []
    if key_id:
        resources.append({"ResourceType": "AWS::IAM::AccessKey", "ResourceName": key_id})
    if user and not login:
        resources.append({"ResourceType": "AWS::IAM::User", "ResourceName": user})

    detail: dict[str, Any] = {
        "eventVersion": "1.09" if not login else "1.08",
        "userIdentity": identity,
        "eventTime": iso_z(when),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": spec.get("source_ip", DEFAULT_SOURCE_IP),
        "userAgent": spec.get("user_agent", DEFAULT_BROWSER if login else DEFAULT_USER_AGENT),
    }
    if error_code:
        detail["errorCode"] = error_code
    if error_message:
        detail["errorMessage"] = error_message
    detail["requestParameters"] = request or None
    detail["responseElements"] = response
    if login:
        detail["additionalEventData"] = {
            "LoginTo": LOGIN_TO,
            "MobileVersion": "No",
            "MFAUsed": "Yes" if spec.get("mfa_used", False) else "No",
        }
    else:
        detail["requestID"] = stable_uuid("request", event_id)
    detail.update({
        "eventID": event_id,
        "readOnly": read_only,
        "eventType": "AwsConsoleSignIn" if login else "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    })
    event: dict[str, Any] = {
        "EventId": event_id,
        "EventName": name,
        "ReadOnly": "true" if read_only else "false",
    }
    if caller_key:
        event["AccessKeyId"] = caller_key
    event.update({
        "EventTime": epoch(when),
        "EventSource": source,
        "Username": username,
        "Resources": resources,
        "CloudTrailEvent": json.dumps(detail, separators=(",", ":")),
        # harness-only fields, never answered
        "_region": region,
        "_time": when,
    })
    return event


def add_events(account: str, specs: Any, key_ids: dict[str, list[str]]) -> int:
    """Store events for an account; returns how many it now has."""
    if not isinstance(specs, list):
        raise SpecError("events: expected a list")
    with STATE.lock:
        stored = STATE.events[account]
        built = [build_event(account, len(stored) + i, spec, key_ids) for i, spec in enumerate(specs)]
        stored.extend(built)
        return len(stored)


def _attribute_value(event: dict[str, Any], key: str) -> list[str]:
    if key == "ResourceType":
        return [r["ResourceType"] for r in event["Resources"]]
    if key == "ResourceName":
        return [r["ResourceName"] for r in event["Resources"]]
    return [str(event.get(key, ""))]


def lookup_events(account: str, region: str | None, params: dict[str, Any], empty_page: bool) -> dict[str, Any]:
    """The LookupEvents answer (awsJson1_1 body) for an account, as AWS pages it: newest first,
    MaxResults 1..50 (default 50), an opaque NextToken bound to the query."""
    attrs = params.get("LookupAttributes") or []
    if not isinstance(attrs, list) or len(attrs) > 1:
        raise LookupError_("InvalidLookupAttributesException", "You can specify only one lookup attribute.")
    for attr in attrs:
        if attr.get("AttributeKey") not in LOOKUP_KEYS:
            raise LookupError_(
                "InvalidLookupAttributesException",
                f"Invalid attribute key: {attr.get('AttributeKey')!r}.",
            )
    max_results = params.get("MaxResults", 50)
    if not isinstance(max_results, int) or not 1 <= max_results <= 50:
        raise LookupError_("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    start = params.get("StartTime")
    end = params.get("EndTime")
    if start is not None and end is not None and float(start) > float(end):
        raise LookupError_("InvalidTimeRangeException", "StartTime must be before EndTime.")
    category = params.get("EventCategory")

    # The query a NextToken is bound to (AWS rejects a token with other parameters).
    query = json.dumps([attrs, start, end, max_results, category, region], sort_keys=True, default=str)
    query_hash = hashlib.sha256(query.encode()).hexdigest()[:16]
    offset = 0
    token = params.get("NextToken")
    if token:
        payload = decode_token(token)
        if not payload or payload.get("q") != query_hash or not isinstance(payload.get("o"), int):
            raise LookupError_("InvalidNextTokenException", "Invalid NextToken.")
        offset = payload["o"]

    with STATE.lock:
        events = list(STATE.events.get(account, []))
    selected = []
    for event in events:
        if region and event["_region"] != region:
            continue  # IAM events live in us-east-1 only
        if start is not None and event["EventTime"] < float(start):
            continue
        if end is not None and event["EventTime"] > float(end):
            continue
        if category == "insight":
            continue  # only management events are seeded
        if attrs and attrs[0].get("AttributeValue") not in _attribute_value(event, attrs[0]["AttributeKey"]):
            continue
        selected.append(event)
    selected.sort(key=lambda e: (-e["EventTime"], e["EventId"]))

    if empty_page:
        page, following = [], offset
    else:
        page = selected[offset : offset + max_results]
        following = offset + len(page)
    answer: dict[str, Any] = {"Events": [{k: v for k, v in e.items() if not k.startswith("_")} for e in page]}
    if following < len(selected) or empty_page:  # an injected empty page always has a token
        token_payload: dict[str, Any] = {"q": query_hash, "o": following}
        if empty_page:
            token_payload["e"] = nonce()
        answer["NextToken"] = encode_token(token_payload)
    return answer
