"""The WSGI middleware in front of moto: identifies each AWS request (service, operation,
account, region), counts it, injects faults, answers what moto cannot (LookupEvents, AssumeRole
of a missing or denied role, empty pages, GetCallerIdentity of the static key,
ListOrganizationsFeatures, a member's Organizations calls: org.py), completes moto's authorization mode (access.py:
LookupEvents and trust policies checked, auth errors in each protocol's shape), and serves the
/iam-audit/* control endpoints.

How a request's account is known (as moto does it, core/responses.py get_current_account):
the `x-moto-account-id` header if present; else the access key id in the SigV4 Authorization
header ("Credential=<key>/<date>/<region>/<service>/aws4_request") looked up in every account's
IAM backend (`moto.iam.models.get_account_id_from`): STS AssumeRole stores the temporary
("ASIA...") key of the session in the IAM backend of the role's account, so assumed-role
credentials map to the member account; a key moto never issued maps to 123456789012.
"""

from __future__ import annotations

import io
import json
import re
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote

import moto
from moto.core.responses import BaseResponse
from moto.iam.models import get_account_id_from, iam_backends
from moto.sts.models import sts_backends

from . import access, changes, cloudtrail, org, patches, report, seed, trail
from .faults import ANSWERED_KINDS, JSON_PAGED, Reply, Rule, error_reply, parse_faults, reply_for_rule
from .state import STATE
from .util import SpecError, decode_token, encode_token, nonce

patches.install()

StartResponse = Callable[..., Any]

SCOPE_RE = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)$")
# JSON-protocol target prefixes -> service (for a request without a SigV4 scope)
TARGET_SERVICES = {
    "AWSOrganizationsV20161128": "organizations",
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101": "cloudtrail",
}
EMPTY_TOKEN_PREFIX = "iam-audit-empty:"
MARKER_RE = re.compile(rb"<Marker>([^<]*)</Marker>")  # an IAM page's next marker
ERROR_CODE_RES = (
    re.compile(rb"<Code>([^<]+)</Code>"),  # query protocol (IAM, STS) and moto's XML errors
    re.compile(rb'"__type"\s*:\s*"(?:[^"#]*#)?([^"]+)"'),  # JSON protocol
)


class NoSuchEndpoint(Exception):
    """An /iam-audit/ path or method that does not exist (HTTP 404)."""


@dataclass
class AwsRequest:
    """What the middleware knows of one AWS API request."""

    service: str
    operation: str
    account: str
    region: str | None
    access_key: str | None
    body: bytes
    form: dict[str, str] = field(default_factory=dict)
    json: dict[str, Any] | None = None
    detail: str | None = None  # S3: the key, or a listing's prefix (the call log's "detail")

    @property
    def op(self) -> str:
        return f"{self.service}:{self.operation}"


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back as a fresh stream for moto to read again."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    _set_body(environ, body)
    return body


def _set_body(environ: dict[str, Any], body: bytes) -> None:
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))


def identify(environ: dict[str, Any], body: bytes) -> AwsRequest:
    """Service, operation, account and region of a request (see the module docstring)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    scope = SCOPE_RE.search(auth)
    region = scope.group(3) if scope else None
    service = scope.group(4) if scope else ""
    access_key = scope.group(1) if scope else None

    target = environ.get("HTTP_X_AMZ_TARGET")
    form: dict[str, str] = {}
    payload: dict[str, Any] | None = None
    if target:
        # JSON protocol (Organizations, CloudTrail): X-Amz-Target: <prefix>.<Operation>
        prefix, _, operation = target.rpartition(".")
        service = service or TARGET_SERVICES.get(prefix, prefix)
        try:
            loaded = json.loads(body or b"{}")
            payload = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            payload = {}
    else:
        # Query protocol (IAM, STS): Action=<Operation> in the form body (or query string)
        raw = body.decode("utf-8", "replace") + "&" + environ.get("QUERY_STRING", "")
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        operation = form.get("Action", "")
        if not operation:
            # rpcv2Cbor would say /service/<Service>/operation/<Operation>
            parts = environ.get("PATH_INFO", "").strip("/").split("/")
            operation = parts[3] if len(parts) == 4 and parts[2] == "operation" else "Unknown"

    detail = None
    if service == "s3":
        operation, detail = _s3_operation(environ)
    if environ.get("HTTP_X_MOTO_ACCOUNT_ID"):
        account = environ["HTTP_X_MOTO_ACCOUNT_ID"]
    else:
        match = BaseResponse.access_key_regex.search(auth)
        account = get_account_id_from(match.group(1) if match else "AKIAEXAMPLE")
    return AwsRequest(
        service=service or "unknown",
        operation=operation,
        account=account,
        region=region,
        access_key=access_key,
        body=body,
        form=form,
        json=payload,
        detail=detail,
    )


def _s3_operation(environ: dict[str, Any]) -> tuple[str, str | None]:
    """The S3 (REST) operation of a path-style request, and what it names: `key=<key>` or a
    listing's `prefix=<prefix>` (with `,delimiter=/`, `,start-after=...`)."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = unquote(environ.get("PATH_INFO", "")).lstrip("/")
    bucket, _, key = path.partition("/")
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
    if not bucket:
        return ("ListBuckets" if method == "GET" else "Unknown"), None
    if key:
        ops = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
        return ops.get(method, "Unknown"), f"key={key}"
    if method == "HEAD":
        return "HeadBucket", None
    if method == "PUT":
        return "CreateBucket", None
    if method == "GET":
        if "location" in query:
            return "GetBucketLocation", None
        listing = [f"prefix={query.get('prefix', '')}"]
        listing += [f"{k}={query[k]}" for k in ("delimiter", "start-after", "continuation-token") if k in query]
        return ("ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"), ",".join(listing)
    return "Unknown", None


def _principal(req: AwsRequest) -> str:
    """The ARN of the caller, for AccessDenied messages."""
    if req.access_key:
        assumed = sts_backends[req.account]["aws"].get_assumed_role_from_access_key(req.access_key)
        if assumed is not None:
            return assumed.arn
        arns = access.caller_arns(req.account, req.access_key)
        if ":user/" in arns[0]:
            return arns[0]
    return f"arn:aws:iam::{req.account}:user/iam-audit"


def _record_error(entry: dict[str, Any], status: int, body: bytes) -> None:
    """The error code of an error answer, in the call log entry ("error")."""
    if status < 400:
        return
    for pattern in ERROR_CODE_RES:
        match = pattern.search(body[:4096])
        if match:
            entry["error"] = match.group(1).decode("utf-8", "replace")
            return


def _json_reply(status: int, payload: Any, content_type: str = "application/json") -> Reply:
    body = json.dumps(payload, indent=None, separators=(",", ":"), default=str).encode()
    return Reply(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))], body)


class Fault:
    """A fired rule of ANSWERED_KINDS: the request is answered, then the answer altered."""

    def __init__(self, environ: dict[str, Any], rule: Rule, req: AwsRequest) -> None:
        self.environ = environ
        self.rule = rule
        # The listing a page belongs to (repeat_token): account, operation, parameters but
        # the token; and the token the request sent (before an empty page's is restored).
        if req.json is not None:
            params = {k: v for k, v in req.json.items() if k != "NextToken"}
            self.sent = req.json.get("NextToken")
        else:
            params = {k: v for k, v in req.form.items() if k != "Marker"}
            self.sent = req.form.get("Marker")
        self.listing = json.dumps([req.account, req.op, params], sort_keys=True, default=str)

    def repeat_token(self, reply: Reply, entry: dict[str, Any]) -> Reply:
        """repeat_token: the page's next token replaced by one answered before (Rule.repeat)."""
        if self.rule.kind != "repeat_token" or reply.status != 200:
            return reply
        answered = _next_token(reply.body)
        if answered is None:
            return reply
        with STATE.lock:
            token = self.rule.repeat(self.listing, self.sent, answered)
            entry["fault"] = "repeat_token" if token is not None else "repeat_token_lead_in"
            if token is None:
                return reply
            STATE.faults_fired[f"repeat_token:{entry['op']}"] += 1
        body = _with_next_token(reply.body, token)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in reply.headers]
        return Reply(reply.status, headers, body)

    def cut(self, body: bytes) -> Iterable[bytes]:
        """reset: the status line, the headers (with the whole Content-Length) and the first
        half of the body are sent, then the connection is closed under the client (shut down:
        it reads end of file mid-body; SO_LINGER 0: the close sends a TCP RST)."""
        sock = self.environ.get("werkzeug.socket")
        yield body[: len(body) // 2]
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        # werkzeug takes a ConnectionError as the client gone: no 500, no traceback.
        raise ConnectionResetError("reset fault: connection closed mid-answer")


def _next_token(body: bytes) -> str | None:
    """The next-page token of a paged answer: JSON `NextToken` or an IAM `<Marker>`."""
    if body.lstrip().startswith(b"{"):
        try:
            token = json.loads(body).get("NextToken")
        except (ValueError, AttributeError):
            return None
        return token if isinstance(token, str) and token else None
    match = MARKER_RE.search(body)
    return match.group(1).decode() if match and match.group(1) else None


def _with_next_token(body: bytes, token: str) -> bytes:
    if body.lstrip().startswith(b"{"):
        payload = json.loads(body)
        payload["NextToken"] = token
        return json.dumps(payload).encode()
    return MARKER_RE.sub(lambda _m: b"<Marker>" + token.encode() + b"</Marker>", body, count=1)


class HarnessApp:
    """WSGI app: the middleware around moto's DomainDispatcherApplication."""

    def __init__(self, moto_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.moto_app = moto_app
        self.endpoint = ""  # http://127.0.0.1:<port>, set once the server is bound
        self.seed_lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/iam-audit/"):
            return self._control(environ, start_response)
        if path.startswith("/moto-api"):
            return self.moto_app(environ, start_response)
        return self._aws(environ, start_response)

    # --- AWS requests ---------------------------------------------------------------------

    def _aws(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("HTTP_X_IAM_AUDIT_INTERNAL") == "1":
            return self.moto_app(environ, start_response)  # the seed's own calls: as is
        body = _read_body(environ)
        req = identify(environ, body)

        detail = None
        if req.op == "cloudtrail:LookupEvents" and req.json:
            attrs = req.json.get("LookupAttributes") or []
            detail = ",".join(f"{a.get('AttributeKey')}={a.get('AttributeValue')}" for a in attrs) or None
        elif req.op == "sts:AssumeRole":
            detail = f"RoleArn={req.form.get('RoleArn', '')},RoleSessionName={req.form.get('RoleSessionName', '')}"
        elif req.detail:
            detail = req.detail
        entry = STATE.record_call(req.op, req.account, req.region, detail)

        delay = STATE.latency_ms(req.op, req.account)
        if delay:
            time.sleep(delay / 1000.0)

        rule = STATE.fire(req.op, req.account, detail)
        if rule is not None and rule.kind not in ANSWERED_KINDS:
            entry["fault"] = rule.kind
            reply = reply_for_rule(rule, req.service, req.op, req.account, _principal(req), f"{entry['seq']}")
            return self._send(reply, start_response, entry)
        # Answered, then altered: cut mid-body (reset), an empty page (empty_page), an empty
        # page whose token was answered before (repeat_token).
        fault = Fault(environ, rule, req) if rule is not None else None
        empty_page = rule is not None and rule.kind in ("empty_page", "repeat_token")
        if rule is not None and rule.kind != "repeat_token":
            entry["fault"] = rule.kind

        route = "pass"
        if req.service == "organizations":
            # A member's Organizations call: the Organization's data (management account) for
            # a delegated administrator's reads, AccessDenied for what a member may not call.
            route = org.organizations_route(req.account, req.operation)
            if route == "deny":
                denied = access.authorize(environ, req.service, req.operation, req.account, req.body,
                                          key=str(entry["seq"]))
                return self._send(denied or org.member_denied(str(entry["seq"])), start_response, entry)

        if req.op == "s3:ListObjectsV2":
            with STATE.lock:
                max_keys = STATE.s3_max_keys
            if max_keys and "max-keys=" not in environ.get("QUERY_STRING", ""):
                # Not signed this way: only outside moto's authentication mode.
                environ["QUERY_STRING"] = f"{environ.get('QUERY_STRING', '')}&max-keys={max_keys}".lstrip("&")
        if req.json is not None:
            self._restore_empty_token(req, environ)
        special = self._special(environ, req, entry, empty_page)
        if special is not None:
            return self._send(special, start_response, entry, fault)

        if route == "management":
            with STATE.lock:
                environ["HTTP_X_MOTO_ACCOUNT_ID"] = STATE.management
            entry["answered_as"] = environ["HTTP_X_MOTO_ACCOUNT_ID"]
            STATE.request.auth_account = req.account  # moto's authorization: the caller's account

        answered: dict[str, Any] = {}

        def capturing_start_response(status: str, headers: Any, *args: Any) -> Any:
            answered["status"], answered["headers"], answered["args"] = status, headers, args
            return lambda _data: None  # moto's Flask apps never use write()

        STATE.request.empty_page = empty_page
        try:
            # moto's handlers run in this thread; materialise the body before unsetting.
            chunks = list(self.moto_app(environ, capturing_start_response))
        finally:
            STATE.request.empty_page = False
            STATE.request.auth_account = None
        status = int(str(answered["status"]).split(" ", 1)[0])
        body = b"".join(chunks)
        translated = access.translate_moto_error(req.service, status, body, str(entry["seq"]))
        if translated is not None:
            return self._send(translated, start_response, entry)
        if fault is not None:
            return self._send(Reply(status, list(answered["headers"]), body), start_response, entry, fault,
                              status_line=str(answered["status"]))
        entry["status"] = status
        _record_error(entry, status, body)
        start_response(answered["status"], answered["headers"], *answered["args"])
        return chunks

    def _special(self, environ: dict[str, Any], req: AwsRequest, entry: dict[str, Any],
                 empty_page: bool) -> Reply | None:
        """Answers the harness gives itself instead of moto; None to let moto answer."""
        if req.op == "sts:AssumeRole":
            return self._check_assume_role(environ, req, entry)
        if req.op == "sts:GetCallerIdentity" and not access.enabled():
            return org.caller_identity(req.account, req.access_key, str(entry["seq"]))
        if req.op == "iam:ListOrganizationsFeatures":
            # moto 5.2.5 has no such operation: answered here, checked here as moto would.
            denied = access.authorize(environ, req.service, req.operation, req.account, req.body,
                                      key=str(entry["seq"]))
            return denied or org.list_organizations_features(req.account, str(entry["seq"]))
        if req.op == "cloudtrail:LookupEvents":
            # Answered here, not by moto: checked here as moto would (authentication mode).
            denied = access.authorize(environ, req.service, req.operation, req.account, req.body,
                                      key=str(entry["seq"]))
            if denied is not None:
                return denied
            try:
                answer = cloudtrail.lookup_events(req.account, req.region, req.json or {}, empty_page)
            except cloudtrail.LookupError_ as err:
                return error_reply("cloudtrail", 400, err.code, err.message, str(entry["seq"]))
            return _json_reply(200, answer, "application/x-amz-json-1.1")
        if empty_page and req.op in JSON_PAGED:
            token = (req.json or {}).get("NextToken")
            wrapped = encode_token({"t": token, "e": nonce()})  # never the token sent (util.nonce)
            answer = {JSON_PAGED[req.op]: [], "NextToken": EMPTY_TOKEN_PREFIX + wrapped}
            return _json_reply(200, answer, "application/x-amz-json-1.1")
        return None

    def _check_assume_role(self, environ: dict[str, Any], req: AwsRequest, entry: dict[str, Any]) -> Reply | None:
        """moto lets anyone assume any role, existing or not; AWS answers AccessDenied when the
        role does not exist or its trust policy does not allow the caller. In moto's
        authentication mode the caller's own policies are checked first (as moto would), then
        the role's trust policy, which moto evaluates only for a role of the caller's account."""
        key = str(entry["seq"])
        role_arn = req.form.get("RoleArn", "")
        match = ROLE_ARN_RE.match(role_arn)
        if match is None:
            return None  # let moto validate
        auth = access.enabled()
        if auth:
            denied = access.authorize(environ, req.service, req.operation, req.account, req.body,
                                      resource=role_arn, key=key)
            if denied is not None:
                return denied
        account, name = match.group(1), match.group(2)
        role = next((r for r in list(iam_backends[account]["global"].roles.values()) if r.name == name), None)
        with STATE.lock:
            denied_role = (account, name) in STATE.denied_roles
        reason = None
        if role is None:
            reason = "the role does not exist"
        elif denied_role:
            reason = "the role is marked denied"
        elif auth and account != req.account:
            arns = access.caller_arns(req.account, req.access_key)
            reason = access.trust_denial(role, req.account, arns, req.form.get("ExternalId"))
        if reason is None:
            return None
        entry["denied"] = f"sts:AssumeRole {role_arn}: {reason}"
        message = f"User: {_principal(req)} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        return error_reply("sts", 403, "AccessDenied", message, key)

    @staticmethod
    def _restore_empty_token(req: AwsRequest, environ: dict[str, Any]) -> None:
        """A NextToken the harness gave with an injected empty page -> the original token."""
        token = (req.json or {}).get("NextToken")
        if not isinstance(token, str) or not token.startswith(EMPTY_TOKEN_PREFIX):
            return
        payload = decode_token(token[len(EMPTY_TOKEN_PREFIX) :]) or {}
        restored = dict(req.json or {})
        if payload.get("t"):
            restored["NextToken"] = payload["t"]
        else:
            restored.pop("NextToken", None)
        req.json = restored
        _set_body(environ, json.dumps(restored).encode())

    @staticmethod
    def _send(reply: Reply, start_response: StartResponse, entry: dict[str, Any] | None = None,
              fault: Fault | None = None, status_line: str | None = None) -> Iterable[bytes]:
        if fault is not None and entry is not None:
            reply = fault.repeat_token(reply, entry)
        if entry is not None:
            entry["status"] = reply.status
            _record_error(entry, reply.status, reply.body)
        if status_line is None:
            try:
                reason = HTTPStatus(reply.status).phrase
            except ValueError:
                reason = "Error"
            status_line = f"{reply.status} {reason}"
        start_response(status_line, reply.headers)
        if fault is not None and fault.rule.kind == "reset":
            return fault.cut(reply.body)
        return [reply.body]

    # --- /iam-audit/* ---------------------------------------------------------------------

    def _control(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "").rstrip("/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        body = _read_body(environ)
        try:
            data = json.loads(body) if body.strip() else {}
        except ValueError as err:
            return self._send(_json_reply(400, {"error": f"invalid JSON body: {err}"}), start_response)
        try:
            status, answer = self._route(method, path, query, data)
        except NoSuchEndpoint as err:
            status, answer = 404, {"error": str(err)}
        except SpecError as err:
            status, answer = 400, {"error": str(err)}
        except Exception as err:  # a harness bug or a moto error during seeding: say it all
            status, answer = 500, {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()}
        return self._send(_json_reply(status, answer), start_response)

    def _route(self, method: str, path: str, query: dict[str, list[str]], data: Any) -> tuple[int, Any]:
        route = (method, path)
        if route == ("GET", "/iam-audit/health"):
            return 200, {"ok": True, "moto": moto.__version__}
        if route == ("POST", "/iam-audit/seed"):
            with self.seed_lock:
                return 200, seed.seed(data, self.endpoint)
        if route == ("GET", "/iam-audit/seeded"):
            return 200, STATE.seeded
        if route == ("POST", "/iam-audit/principal"):
            with self.seed_lock:
                return 200, access.create_principal(data, self.endpoint)
        if route == ("POST", "/iam-audit/stack"):
            with self.seed_lock:
                return 200, access.deploy_stack(data, self.endpoint)
        if route == ("GET", "/iam-audit/auth"):
            return 200, {"enabled": access.enabled()}
        if route == ("POST", "/iam-audit/backdate"):
            return 200, seed.backdate(data)
        if route == ("POST", "/iam-audit/report"):
            return 200, report.control(data)
        if route == ("POST", "/iam-audit/change"):
            with self.seed_lock:
                return 200, changes.apply(data)
        if route == ("POST", "/iam-audit/events"):
            if not isinstance(data, dict) or "account" not in data:
                raise SpecError("events: expected {\"account\": id, \"events\": [...]}")
            account = data["account"]
            key_ids = {
                name: [k.access_key_id for k in user.access_keys]
                for name, user in iam_backends[account]["global"].users.items()
            }
            return 200, {"account": account, "events": cloudtrail.add_events(account, data.get("events", []), key_ids)}
        if route == ("POST", "/iam-audit/trail"):
            with self.seed_lock:
                return 200, trail.write(data)
        if route == ("POST", "/iam-audit/s3"):
            max_keys = data.get("max_keys") if isinstance(data, dict) else None
            if max_keys is not None and (not isinstance(max_keys, int) or max_keys < 1):
                raise SpecError("s3.max_keys: expected a positive integer or null")
            with STATE.lock:
                STATE.s3_max_keys = max_keys
            return 200, {"max_keys": max_keys}
        if route == ("POST", "/iam-audit/faults"):
            rules, latencies = parse_faults(data)
            with STATE.lock:
                STATE.rules.extend(rules)
                STATE.latencies.extend(latencies)
            return 200, self._faults()
        if route == ("GET", "/iam-audit/faults"):
            return 200, self._faults()
        if route == ("GET", "/iam-audit/calls"):
            with_log = query.get("log", ["0"])[0] not in ("0", "", "false")
            return 200, STATE.calls_report(with_log)
        if route == ("POST", "/iam-audit/reset"):
            if isinstance(data, dict) and data.get("state"):
                with self.seed_lock:
                    seed.reset_everything()
            else:
                STATE.reset_faults_and_calls()
            return 200, {"ok": True}
        raise NoSuchEndpoint(f"no such endpoint: {method} {path}")

    @staticmethod
    def _faults() -> dict[str, Any]:
        with STATE.lock:
            return {
                "rules": [rule.describe() for rule in STATE.rules],
                "latency": [vars(lat).copy() for lat in STATE.latencies],
            }
