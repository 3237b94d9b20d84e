#!/usr/bin/env python3
"""Smoke test of the moto harness (no pytest): starts tests/moto/server.py, seeds a small
Organization, and checks with boto3 what the Rust scan tests rely on. Exits non-zero on the
first failure.

    $(bash scripts/moto.sh) tests/moto/smoke_test.py
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

for _var in [v for v in os.environ if v.startswith("AWS_")]:
    del os.environ[_var]
os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
MGMT, PROD, DEV, NOROLE = "123456789012", "111111111111", "222222222222", "333333333333"
ROLE = "OrganizationAccountAccessRole"

SEED: dict[str, Any] = {
    "rng_seed": 42,
    "management": {
        "id": MGMT,
        "name": "management",
        "users": [{"name": "admin", "password": {"last_used": "2024-05-01T10:00:00Z"}, "mfa": "virtual"}],
    },
    "accounts": [
        {
            "id": PROD,
            "name": "prod",
            "ou": "/Workloads/Prod",
            "tags": {"env": "prod"},
            "users": [
                {
                    "name": "alice",
                    "tags": {"team": "payments"},
                    "created": "2023-01-02T03:04:05Z",
                    "password": {"last_used": "2024-04-01T08:00:00Z", "last_changed": "2023-01-05T00:00:00Z"},
                    "mfa": {"type": "hardware", "enabled": "2023-02-01T00:00:00Z"},
                    "keys": [
                        {
                            "created": "2023-01-03T00:00:00Z",
                            "last_used": {"date": "2024-04-30T12:00:00Z", "service": "s3", "region": "eu-west-1"},
                        },
                        {"status": "Inactive", "created": "2023-06-01T00:00:00Z", "last_used": None},
                    ],
                },
                {"name": "bob", "created": "2022-07-07T07:07:07Z", "keys": [{"created": "2022-07-08T00:00:00Z"}]},
                {"name": "carol", "mfa": "virtual"},
            ],
            "root": {"mfa": "virtual", "password_last_used": "2024-01-01T00:00:00Z"},
            "events": [
                {"name": "CreateAccessKey", "time": f"2024-03-{day:02d}T12:00:00Z", "user": "bob", "key": 0}
                for day in range(1, 8)
            ]
            + [{"name": "DeleteAccessKey", "time": "2024-03-10T00:00:00Z", "user": "bob", "key": 0}],
        },
        {"id": DEV, "name": "dev", "ou": "/Workloads/Dev", "tags": {"env": "dev"},
         "users": [{"name": "dave", "keys": [{}]}]},
        {"id": NOROLE, "name": "sandbox", "audit_role": "missing", "users": [{"name": "eve"}]},
    ],
}


class Harness:
    """The server as a child process, and its control endpoints."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), f"server said {line!r}"
        self.port = int(line.split()[1])
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + path, data=data, method=method)
        try:
            with self.opener.open(request, timeout=120) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = self.call(method, path, body)
        assert status == 200, f"{method} {path}: {status} {answer}"
        return answer

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # EOF on stdin: the server shuts down
        self.proc.wait(timeout=10)


def client(h: Harness, service: str, creds: dict[str, Any] | None = None, attempts: int = 1) -> Any:
    creds = creds or {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "secret", "SessionToken": None}
    return boto3.client(
        service,
        endpoint_url=h.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}, proxies={}),
    )


def error_code(call: Any) -> tuple[str, int]:
    try:
        call()
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected an error")


def check(name: str) -> Any:
    def wrap(fn: Any) -> Any:
        CHECKS.append((name, fn))
        return fn

    return wrap


CHECKS: list[tuple[str, Any]] = []


@check("seed: deterministic ids, the role missing where asked")
def _seed(h: Harness, ctx: dict[str, Any]) -> None:
    seeded = ctx["seeded"]
    assert seeded["management_account_id"] == MGMT
    assert set(seeded["accounts"]) == {MGMT, PROD, DEV, NOROLE}
    assert seeded["accounts"][NOROLE]["audit_role"] == "missing"
    alice = seeded["accounts"][PROD]["users"]["alice"]
    assert alice["id"].startswith("AIDA") and len(alice["id"]) == 21, alice
    assert len(alice["keys"]) == 2 and all(k.startswith("AKIA") for k in alice["keys"])
    # The same seed again gives the same ids.
    again = h.ok("POST", "/iam-audit/seed", SEED)
    assert again == seeded, "a reseed with the same spec must give the same ids"


@check("organizations: list_accounts paginates; OUs and tags")
def _org(h: Harness, ctx: dict[str, Any]) -> None:
    org = client(h, "organizations")
    pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 2, [len(p["Accounts"]) for p in pages]
    assert "NextToken" in pages[0]
    ids = [a["Id"] for p in pages for a in p["Accounts"]]
    assert ids == [MGMT, PROD, DEV, NOROLE], ids
    assert org.describe_organization()["Organization"]["MasterAccountId"] == MGMT
    prod_ou = ctx["seeded"]["ous"]["/Workloads/Prod"]
    assert org.list_parents(ChildId=PROD)["Parents"] == [{"Id": prod_ou, "Type": "ORGANIZATIONAL_UNIT"}]
    assert org.list_tags_for_resource(ResourceId=PROD)["Tags"] == [{"Key": "env", "Value": "prod"}]


@check("sts: assume_role into a member; IAM there sees only that member's users")
def _assume(h: Harness, ctx: dict[str, Any]) -> None:
    sts = client(h, "sts")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{PROD}:role/{ROLE}", RoleSessionName="iam-audit")["Credentials"]
    ctx["prod"] = creds
    assert client(h, "sts", creds).get_caller_identity()["Account"] == PROD
    iam = client(h, "iam", creds)
    assert sorted(u["UserName"] for u in iam.list_users()["Users"]) == ["alice", "bob", "carol"]
    dev = sts.assume_role(RoleArn=f"arn:aws:iam::{DEV}:role/{ROLE}", RoleSessionName="iam-audit")["Credentials"]
    ctx["dev"] = dev
    assert [u["UserName"] for u in client(h, "iam", dev).list_users()["Users"]] == ["dave"]
    # The management account, with the caller's own credentials.
    assert [u["UserName"] for u in client(h, "iam").list_users()["Users"]] == ["admin"]
    # The role missing in the sandbox: AccessDenied, as AWS answers.
    code, status = error_code(
        lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{NOROLE}:role/{ROLE}", RoleSessionName="iam-audit")
    )
    assert (code, status) == ("AccessDenied", 403), (code, status)


@check("iam: MaxItems pagination, back-dated users/keys/MFA")
def _iam(h: Harness, ctx: dict[str, Any]) -> None:
    iam = client(h, "iam", ctx["prod"])
    pages = list(iam.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 2}))
    assert [len(p["Users"]) for p in pages] == [2, 1]
    alice = iam.get_user(UserName="alice")["User"]
    assert alice["CreateDate"].isoformat() == "2023-01-02T03:04:05+00:00", alice
    assert alice["PasswordLastUsed"].isoformat() == "2024-04-01T08:00:00+00:00"
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert [(k["Status"], k["CreateDate"].isoformat()) for k in keys] == [
        ("Active", "2023-01-03T00:00:00+00:00"),
        ("Inactive", "2023-06-01T00:00:00+00:00"),
    ]
    last = iam.get_access_key_last_used(AccessKeyId=keys[0]["AccessKeyId"])["AccessKeyLastUsed"]
    assert (last["ServiceName"], last["Region"]) == ("s3", "eu-west-1"), last
    mfa = iam.list_mfa_devices(UserName="alice")["MFADevices"]
    assert len(mfa) == 1 and mfa[0]["SerialNumber"].startswith("GAHT"), mfa
    assert mfa[0]["EnableDate"].isoformat() == "2023-02-01T00:00:00+00:00"
    virtual = iam.list_virtual_mfa_devices()["VirtualMFADevices"]
    arns = sorted(d["User"]["Arn"] for d in virtual)
    assert arns == [f"arn:aws:iam::{PROD}:root", f"arn:aws:iam::{PROD}:user/carol"], arns
    h.ok("POST", "/iam-audit/faults", {"empty_page": {"match": "iam:GetAccountAuthorizationDetails", "count": 1}})
    details = list(iam.get_paginator("get_account_authorization_details").paginate(
        Filter=["User"], PaginationConfig={"PageSize": 1}))
    assert [len(p["UserDetailList"]) for p in details] == [0, 1, 1, 1]
    assert [u["UserName"] for p in details for u in p["UserDetailList"]] == ["alice", "bob", "carol"]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["AccountMFAEnabled"] == 1 and summary["AccountAccessKeysPresent"] == 0


@check("iam: the credential report shows back-dated times, services, regions, the root row")
def _report(h: Harness, ctx: dict[str, Any]) -> None:
    iam = client(h, "iam", ctx["prod"])
    assert error_code(iam.get_credential_report) == ("ReportNotPresent", 410)
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    report = iam.get_credential_report()
    assert report["GeneratedTime"].year >= 2024, report["GeneratedTime"]  # moto: fixed 2015
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(report["Content"].decode()))}
    assert list(rows) == ["<root_account>", "alice", "bob", "carol"], list(rows)
    root = rows["<root_account>"]
    assert root["arn"] == f"arn:aws:iam::{PROD}:root"
    assert root["password_last_used"] == "2024-01-01T00:00:00+00:00" and root["mfa_active"] == "true"
    assert root["access_key_1_active"] == "false"
    alice = rows["alice"]
    expected = {
        "user_creation_time": "2023-01-02T03:04:05+00:00",
        "password_enabled": "true",
        "password_last_used": "2024-04-01T08:00:00+00:00",
        "password_last_changed": "2023-01-05T00:00:00+00:00",
        "mfa_active": "true",
        "access_key_1_active": "true",
        "access_key_1_last_rotated": "2023-01-03T00:00:00+00:00",
        "access_key_1_last_used_date": "2024-04-30T12:00:00+00:00",
        "access_key_1_last_used_region": "eu-west-1",
        "access_key_1_last_used_service": "s3",
        "access_key_2_active": "false",
        "access_key_2_last_rotated": "2023-06-01T00:00:00+00:00",
        "access_key_2_last_used_date": "N/A",
        "access_key_2_last_used_service": "N/A",
    }
    got = {k: alice[k] for k in expected}
    assert got == expected, got
    bob = rows["bob"]
    assert (bob["password_enabled"], bob["password_last_used"], bob["mfa_active"]) == ("false", "N/A", "false")
    # Back-dating over HTTP after the seed shows in the next report.
    h.ok("POST", "/iam-audit/backdate", {
        "account": PROD,
        "users": [{"name": "bob", "keys": [{"last_used": {"date": "2024-02-02T02:02:02Z", "service": "iam",
                                                          "region": "us-east-1"}}]}],
        "report_generated": "2024-06-01T00:00:00Z",
    })
    report = iam.get_credential_report()
    assert report["GeneratedTime"].isoformat() == "2024-06-01T00:00:00+00:00"
    rows = {r["user"]: r for r in csv.DictReader(io.StringIO(report["Content"].decode()))}
    assert rows["bob"]["access_key_1_last_used_date"] == "2024-02-02T02:02:02+00:00"
    assert rows["bob"]["access_key_1_last_used_service"] == "iam"


@check("cloudtrail: LookupEvents answers seeded events, paginated, per account, us-east-1 only")
def _cloudtrail(h: Harness, ctx: dict[str, Any]) -> None:
    ct = client(h, "cloudtrail", ctx["prod"])
    by_name = [{"AttributeKey": "EventName", "AttributeValue": "CreateAccessKey"}]
    pages = list(ct.get_paginator("lookup_events").paginate(
        LookupAttributes=by_name, PaginationConfig={"PageSize": 3}))
    assert [len(p["Events"]) for p in pages] == [3, 3, 1], [len(p["Events"]) for p in pages]
    events = [e for p in pages for e in p["Events"]]
    times = [e["EventTime"] for e in events]
    assert times == sorted(times, reverse=True), "newest first"
    first = events[0]
    assert first["EventName"] == "CreateAccessKey" and first["Username"] == "admin"
    bob_key = ctx["seeded"]["accounts"][PROD]["users"]["bob"]["keys"][0]
    assert {"ResourceType": "AWS::IAM::AccessKey", "ResourceName": bob_key} in first["Resources"]
    detail = json.loads(first["CloudTrailEvent"])
    assert detail["userIdentity"]["type"] == "IAMUser" and detail["eventID"] == first["EventId"]
    assert detail["requestParameters"] == {"userName": "bob"}
    assert detail["responseElements"]["accessKey"]["accessKeyId"] == bob_key
    # A time window, and the other event name.
    window = ct.lookup_events(LookupAttributes=by_name, StartTime=datetime(2024, 3, 2, tzinfo=timezone.utc),
                              EndTime=datetime(2024, 3, 4, tzinfo=timezone.utc))["Events"]
    assert len(window) == 2, len(window)
    deleted = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeleteAccessKey"}])
    assert json.loads(deleted["Events"][0]["CloudTrailEvent"])["requestParameters"] == {
        "userName": "bob", "accessKeyId": bob_key}
    # Another account sees its own (none); another region sees none.
    assert client(h, "cloudtrail", ctx["dev"]).lookup_events(LookupAttributes=by_name)["Events"] == []
    other = boto3.client("cloudtrail", endpoint_url=h.endpoint, region_name="eu-west-1",
                         aws_access_key_id=ctx["prod"]["AccessKeyId"], aws_secret_access_key="x",
                         aws_session_token=ctx["prod"]["SessionToken"])
    assert other.lookup_events(LookupAttributes=by_name)["Events"] == []
    # An injected empty page carries a token; the next page continues where it was.
    h.ok("POST", "/iam-audit/faults", {"empty_page": {"match": "cloudtrail:LookupEvents", "count": 2}})
    empty = ct.lookup_events(LookupAttributes=by_name, MaxResults=5)
    assert empty["Events"] == [] and empty["NextToken"]
    again = ct.lookup_events(LookupAttributes=by_name, MaxResults=5, NextToken=empty["NextToken"])
    assert again["Events"] == [] and again["NextToken"] not in (None, empty["NextToken"])
    rest = ct.lookup_events(LookupAttributes=by_name, MaxResults=5, NextToken=again["NextToken"])
    assert len(rest["Events"]) == 5 and rest["NextToken"]
    # A token is bound to its query, as in AWS.
    reused = error_code(lambda: ct.lookup_events(MaxResults=5, NextToken=rest["NextToken"]))
    assert reused[0] == "InvalidNextTokenException", reused
    assert error_code(lambda: ct.lookup_events(MaxResults=51))[0] == "InvalidMaxResultsException"


@check("faults: throttling (per protocol) then success; 5xx; deny; empty ListAccounts page; calls")
def _faults(h: Harness, ctx: dict[str, Any]) -> None:
    h.ok("POST", "/iam-audit/reset")
    iam = client(h, "iam", ctx["prod"])
    h.ok("POST", "/iam-audit/faults", {"throttle": {"match": "iam:ListAccessKeys"}})  # once
    assert error_code(lambda: iam.list_access_keys(UserName="alice")) == ("Throttling", 400)
    assert len(iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]) == 2
    # With retries, the SDK classifies each wire format as throttling and retries it.
    h.ok("POST", "/iam-audit/faults", {"throttle": [
        {"match": "iam:ListAccessKeys", "count": 2},
        {"match": "organizations:ListAccounts", "count": 2},
        {"match": "cloudtrail:LookupEvents", "count": 2},
        {"match": "sts:GetCallerIdentity", "count": 2},
    ]})
    retried = client(h, "iam", ctx["prod"], attempts=5).list_access_keys(UserName="alice")
    assert retried["ResponseMetadata"]["RetryAttempts"] == 2
    org = client(h, "organizations", attempts=5)
    assert org.list_accounts()["ResponseMetadata"]["RetryAttempts"] == 2
    ct = client(h, "cloudtrail", ctx["prod"], attempts=5)
    assert ct.lookup_events()["ResponseMetadata"]["RetryAttempts"] == 2
    assert client(h, "sts", ctx["prod"], attempts=5).get_caller_identity()["ResponseMetadata"]["RetryAttempts"] == 2
    h.ok("POST", "/iam-audit/faults", {"throttle": {"match": "organizations:ListAccounts"}})
    assert error_code(client(h, "organizations").list_accounts) == ("TooManyRequestsException", 400)
    h.ok("POST", "/iam-audit/faults", {"throttle": {"match": "cloudtrail:LookupEvents"}})
    assert error_code(client(h, "cloudtrail", ctx["prod"]).lookup_events) == ("ThrottlingException", 400)
    # 5xx, and AccessDenied for one account only.
    h.ok("POST", "/iam-audit/faults", {"error5xx": {"match": "iam:GetCredentialReport", "status": 503}})
    assert error_code(iam.get_credential_report) == ("ServiceUnavailable", 503)
    # A credential report that stays in progress (twice here; forever without a count).
    h.ok("POST", "/iam-audit/faults", {"report_pending": {"account": PROD, "count": 2}})
    assert iam.generate_credential_report()["State"] == "INPROGRESS"
    assert error_code(iam.get_credential_report) == ("ReportInProgress", 404)
    assert iam.get_credential_report()["Content"].startswith(b"user,arn,")
    h.ok("POST", "/iam-audit/faults", {"deny": {"match": "cloudtrail:LookupEvents", "account": DEV}})
    assert error_code(client(h, "cloudtrail", ctx["dev"]).lookup_events) == ("AccessDeniedException", 400)
    client(h, "cloudtrail", ctx["prod"]).lookup_events()  # other accounts unaffected
    h.ok("POST", "/iam-audit/faults", {"deny": {"match": "iam:GetCredentialReport", "account": DEV}})
    assert error_code(client(h, "iam", ctx["dev"]).get_credential_report) == ("AccessDenied", 403)
    # Two empty pages in ListAccounts, each with a new token that resumes where it was (SDK
    # paginators give up on a repeated token).
    h.ok("POST", "/iam-audit/faults", {"empty_page": {"match": "organizations:ListAccounts", "count": 2}})
    pages = list(client(h, "organizations").get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["Accounts"]) for p in pages] == [0, 0, 3, 1], [len(p["Accounts"]) for p in pages]
    # Latency.
    h.ok("POST", "/iam-audit/faults", {"latency_ms": 200})
    started = time.monotonic()
    iam.list_users()
    assert time.monotonic() - started >= 0.2
    # Call counts by operation and by account (faulted calls count too).
    calls = h.ok("GET", "/iam-audit/calls?log=1")
    assert calls["by_operation"]["iam:ListAccessKeys"] == 5, calls["by_operation"]
    assert calls["by_account"][PROD]["iam:ListAccessKeys"] == 5
    assert calls["by_account"][MGMT]["organizations:ListAccounts"] == 3 + 1 + 4
    assert calls["by_account"][DEV]["cloudtrail:LookupEvents"] == 1
    assert calls["faults_fired"]["throttle:iam:ListAccessKeys"] == 3
    assert calls["log"][0]["op"] == "iam:ListAccessKeys" and calls["log"][0]["status"] == 400
    h.ok("POST", "/iam-audit/reset")
    assert h.ok("GET", "/iam-audit/calls")["total"] == 0
    assert h.ok("GET", "/iam-audit/faults")["rules"] == []


@check("auth: least-privilege principals, stacks, trust policies and LookupEvents checked")
def _auth(h: Harness, ctx: dict[str, Any]) -> None:
    h.ok("POST", "/iam-audit/seed", SEED)  # a fresh seed (authentication off)
    caller_policy = json.loads((ROOT / "deploy" / "iam-audit-caller-policy.json").read_text())
    template = (ROOT / "deploy" / "iam-audit-role.yaml").read_text()
    # The deploy template in a member, as a StackSet instance would make it.
    stack = h.ok("POST", "/iam-audit/stack", {
        "account": PROD, "template": template, "name": "iam-audit-role",
        "parameters": {"ManagementAccountId": MGMT, "ExternalId": "smoke-external-id"}})
    assert stack["outputs"]["RoleArn"] == f"arn:aws:iam::{PROD}:role/IamAuditRole", stack
    # In dev, the template less iam:ListUsers and with cloudtrail:GetTrail for LookupEvents;
    # a principal with the caller policy, and one with nothing but cloudtrail:LookupEvents.
    no_ct = "\n".join(line for line in template.splitlines() if line.strip() != "- iam:ListUsers")
    no_ct = no_ct.replace("Action: cloudtrail:LookupEvents", "Action: cloudtrail:GetTrail")
    h.ok("POST", "/iam-audit/stack", {"account": DEV, "template": no_ct,
                                      "parameters": {"ManagementAccountId": MGMT, "ExternalId": "x-dev"}})
    caller = h.ok("POST", "/iam-audit/principal", {"name": "scanner", "policy": caller_policy})
    assert caller["arn"] == f"arn:aws:iam::{MGMT}:user/scanner", caller
    only_ct = h.ok("POST", "/iam-audit/principal", {"name": "ct-only", "policy": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}]}})
    assert h.ok("GET", "/iam-audit/auth") == {"enabled": False}
    request = urllib.request.Request(h.endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    with h.opener.open(request, timeout=10) as response:
        assert response.status == 200
    assert h.ok("GET", "/iam-audit/auth") == {"enabled": True}
    status, answer = h.call("POST", "/iam-audit/principal", {"name": "late", "policy": caller_policy})
    assert status == 400 and "reset-auth" in answer["error"], answer

    def creds(p: dict[str, Any]) -> dict[str, Any]:
        c = p["credentials"]
        return {"AccessKeyId": c["access_key_id"], "SecretAccessKey": c["secret_access_key"], "SessionToken": None}

    scanner, ct_only = creds(caller), creds(only_ct)
    assert client(h, "organizations", scanner).describe_organization()["Organization"]["MasterAccountId"] == MGMT
    # Organizations refusing a call, in its own (JSON) protocol, not moto's XML.
    assert error_code(client(h, "organizations", ct_only).list_accounts) == ("AccessDeniedException", 400)
    assert error_code(client(h, "organizations").list_accounts) == ("UnrecognizedClientException", 400)
    # LookupEvents: allowed by the policy, refused without it, refused for unknown keys.
    client(h, "cloudtrail", ct_only).lookup_events(MaxResults=1)
    iam_ct_only, bodies = client(h, "iam", ct_only), []
    iam_ct_only.meta.events.register("after-call.iam.ListUsers",
                                     lambda http_response, **_: bodies.append(http_response.content))
    assert error_code(iam_ct_only.list_users) == ("AccessDenied", 403)
    # In IAM's own error shape (moto's <Errors> wrapper is one the AWS SDK for Rust cannot read).
    assert b"<ErrorResponse" in bodies[0] and b"<Errors>" not in bodies[0], bodies
    assert b"<Error><Type>Sender</Type><Code>AccessDenied</Code>" in bodies[0], bodies
    assert error_code(client(h, "cloudtrail").lookup_events) == ("UnrecognizedClientException", 400)
    # AssumeRole: the caller's policy (the role name) and the role's trust (the external id).
    sts = client(h, "sts", scanner)
    arn = f"arn:aws:iam::{PROD}:role/IamAuditRole"
    assert error_code(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="smoke")) == ("AccessDenied", 403)
    assert error_code(lambda: sts.assume_role(RoleArn=arn, RoleSessionName="smoke", ExternalId="wrong")) == (
        "AccessDenied", 403)
    assert error_code(lambda: sts.assume_role(RoleArn=f"arn:aws:iam::{PROD}:role/{ROLE}", RoleSessionName="smoke")) == (
        "AccessDenied", 403), "the caller policy allows the audit role only"
    assert error_code(lambda: client(h, "sts", ct_only).assume_role(
        RoleArn=arn, RoleSessionName="smoke", ExternalId="smoke-external-id")) == ("AccessDenied", 403)
    role = sts.assume_role(RoleArn=arn, RoleSessionName="smoke", ExternalId="smoke-external-id")["Credentials"]
    # The role's inline policy (from the template) is what moto checks in the member.
    iam = client(h, "iam", role)
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice", "bob", "carol"]
    assert error_code(lambda: iam.list_roles()) == ("AccessDenied", 403)
    client(h, "cloudtrail", role).lookup_events(MaxResults=1)
    dev = sts.assume_role(RoleArn=f"arn:aws:iam::{DEV}:role/IamAuditRole", RoleSessionName="smoke",
                          ExternalId="x-dev")["Credentials"]
    assert error_code(client(h, "iam", dev).list_users) == ("AccessDenied", 403)
    assert error_code(client(h, "cloudtrail", dev).lookup_events) == ("AccessDeniedException", 400)
    calls = h.ok("GET", "/iam-audit/calls?log=1")
    denied = [e for e in calls["log"] if e.get("error") in ("AccessDenied", "AccessDeniedException")]
    assert len(denied) == 9, denied
    assert any("sts:ExternalId" in e.get("denied", "") for e in calls["log"]), calls["log"]
    h.ok("POST", "/iam-audit/seed", SEED)  # authentication off again
    assert h.ok("GET", "/iam-audit/auth") == {"enabled": False}


@check("control: a bad spec is a 400 that says what is wrong")
def _errors(h: Harness, ctx: dict[str, Any]) -> None:
    status, answer = h.call("POST", "/iam-audit/faults", {"throttel": {}})
    assert status == 400 and "throttel" in answer["error"], answer
    status, answer = h.call("POST", "/iam-audit/backdate", {"account": PROD, "users": [{"name": "nobody"}]})
    assert status == 400 and "nobody" in answer["error"], answer


def main() -> int:
    started = time.monotonic()
    h = Harness()
    failed = 0
    try:
        ctx: dict[str, Any] = {"seeded": h.ok("POST", "/iam-audit/seed", SEED)}
        print(f"seeded in {time.monotonic() - started:.2f}s (port {h.port})")
        for name, fn in CHECKS:
            try:
                fn(h, ctx)
                print(f"ok    {name}")
            except Exception as err:  # report every check, fail at the end
                failed += 1
                print(f"FAIL  {name}: {type(err).__name__}: {err}")
                import traceback

                traceback.print_exc()
    finally:
        h.stop()
    assert h.proc.returncode == 0, f"server exit status {h.proc.returncode}"
    print(f"{len(CHECKS) - failed}/{len(CHECKS)} checks passed in {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
