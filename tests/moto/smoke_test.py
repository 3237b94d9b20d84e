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
import re
import socket
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


def report_rows(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {r["user"]: r for r in csv.DictReader(io.StringIO(report["Content"].decode()))}


@check("iam: the credential report is cached 4 hours; changes after it show live, not in it")
def _report_cache(h: Harness, ctx: dict[str, Any]) -> None:
    iam = client(h, "iam", ctx["dev"])
    assert h.ok("POST", "/iam-audit/report", {"account": DEV, "action": "status"}) == {
        "account": DEV, "generated": None, "age_hours": 0.0, "rows": 0}
    assert error_code(iam.get_credential_report) == ("ReportNotPresent", 410)
    assert iam.generate_credential_report()["State"] == "STARTED"
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    before = iam.get_credential_report()
    assert list(report_rows(before)) == ["<root_account>", "dave"]
    # Changes after the report: a key, a password and an MFA device for dave, a new user.
    made = h.ok("POST", "/iam-audit/change", {
        "account": DEV, "user": "dave", "create_access_key": {"status": "Active", "created": "2024-07-01T00:00:00Z"},
        "create_login_profile": True, "enable_mfa": {"type": "virtual", "enabled": "2024-07-02T00:00:00Z"}})
    assert made["applied"] == ["create_login_profile", "create_access_key", "enable_mfa"], made
    new_key, serial = made["access_key_id"], made["mfa_serial"]
    assert new_key.startswith("AKIA") and serial == f"arn:aws:iam::{DEV}:mfa/dave", made
    frank = h.ok("POST", "/iam-audit/change", {"account": DEV, "user": "frank", "create_user": {
        "created": "2024-07-03T00:00:00Z"}, "create_access_key": {"status": "Inactive"}})
    assert frank["user_id"].startswith("AIDA") and frank["access_key_id"].startswith("AKIA"), frank
    # A back-date without report_generated does not touch the cached report either.
    h.ok("POST", "/iam-audit/backdate", {"account": DEV, "users": [{"name": "dave", "created": "2021-01-01T00:00:00Z"}]})
    # The cached report is unchanged (GenerateCredentialReport: COMPLETE, no regeneration) ...
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    cached = iam.get_credential_report()
    assert (cached["Content"], cached["GeneratedTime"]) == (before["Content"], before["GeneratedTime"])
    # ... while the live APIs show the changes.
    keys = iam.list_access_keys(UserName="dave")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"] == new_key, k["CreateDate"].isoformat()) for k in keys][1] == (
        True, "2024-07-01T00:00:00+00:00"), keys
    assert "LastUsedDate" not in iam.get_access_key_last_used(AccessKeyId=new_key)["AccessKeyLastUsed"]
    mfa = iam.list_mfa_devices(UserName="dave")["MFADevices"]
    assert [(d["SerialNumber"], d["EnableDate"].isoformat()) for d in mfa] == [(serial, "2024-07-02T00:00:00+00:00")]
    assert serial in [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]]
    assert iam.get_login_profile(UserName="dave")["LoginProfile"]["UserName"] == "dave"
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["dave", "frank"]
    details = iam.get_account_authorization_details(Filter=["User"])["UserDetailList"]
    assert [(u["UserName"], u["UserId"]) for u in details][1] == ("frank", frank["user_id"]), details
    frank_keys = iam.list_access_keys(UserName="frank")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in frank_keys] == [(frank["access_key_id"], "Inactive")]
    # 5 hours later the next GenerateCredentialReport regenerates it, as of now.
    aged = h.ok("POST", "/iam-audit/report", {"account": DEV, "action": "age", "hours": 5})
    assert aged["age_hours"] >= 5 and aged["rows"] == 2, aged
    assert iam.generate_credential_report()["State"] == "STARTED"
    after = iam.get_credential_report()
    assert after["GeneratedTime"] >= before["GeneratedTime"]
    rows = report_rows(after)
    assert list(rows) == ["<root_account>", "dave", "frank"], list(rows)
    dave = rows["dave"]
    assert (dave["user_creation_time"], dave["password_enabled"], dave["password_last_used"], dave["mfa_active"]) == (
        "2021-01-01T00:00:00+00:00", "true", "no_information", "true"), dave
    assert (dave["access_key_2_active"], dave["access_key_2_last_rotated"]) == ("true", "2024-07-01T00:00:00+00:00")
    assert (rows["frank"]["user_creation_time"], rows["frank"]["access_key_1_active"]) == (
        "2024-07-03T00:00:00+00:00", "false")
    # Under 4 hours in all: COMPLETE; at 4 hours: a new report.
    h.ok("POST", "/iam-audit/report", {"account": DEV, "action": "age", "hours": 3.5})
    assert iam.generate_credential_report()["State"] == "COMPLETE"
    h.ok("POST", "/iam-audit/report", {"account": DEV, "action": "age", "hours": 0.5})
    assert iam.generate_credential_report()["State"] == "STARTED"
    # Deleting a user and a password: live at once, in the report once generated (here by the
    # control endpoint, with a pinned GeneratedTime).
    h.ok("POST", "/iam-audit/change", {"account": DEV, "user": "frank", "delete_user": True})
    h.ok("POST", "/iam-audit/change", {"account": DEV, "user": "dave", "delete_login_profile": True})
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["dave"]
    assert error_code(lambda: iam.get_login_profile(UserName="dave")) == ("NoSuchEntity", 404)
    assert "frank" in report_rows(iam.get_credential_report())
    now = h.ok("POST", "/iam-audit/report", {"account": DEV, "action": "generate", "generated": "2024-08-01T00:00:00Z"})
    assert (now["generated"], now["rows"]) == ("2024-08-01T00:00:00Z", 2) and now["age_hours"] < 0.01, now
    report = iam.get_credential_report()
    assert report["GeneratedTime"].isoformat() == "2024-08-01T00:00:00+00:00"
    assert list(report_rows(report)) == ["<root_account>", "dave"]
    assert report_rows(report)["dave"]["password_enabled"] == "false"
    # No report at all: ReportNotPresent, then a new one.
    assert h.ok("POST", "/iam-audit/report", {"account": DEV, "action": "drop"})["generated"] is None
    assert error_code(iam.get_credential_report) == ("ReportNotPresent", 410)
    assert iam.generate_credential_report()["State"] == "STARTED"
    # What moto refuses, and bad requests, are 400s that say why.
    status, answer = h.call("POST", "/iam-audit/change", {"account": DEV, "user": "dave", "create_access_key": {}})
    assert status == 400 and "AccessKeysPerUser" in answer["error"], answer
    status, answer = h.call("POST", "/iam-audit/change", {"account": DEV, "user": "nobody", "create_login_profile": True})
    assert status == 400 and "nobody" in answer["error"], answer
    status, answer = h.call("POST", "/iam-audit/report", {"account": NOROLE, "action": "age", "hours": 1})
    assert status == 400 and "no credential report" in answer["error"], answer


@check("iam: the root row in each style; GetAccountSummary and ListVirtualMFADevices agree")
def _root_styles(h: Harness, ctx: dict[str, Any]) -> None:
    iam = client(h, "iam", ctx["dev"])

    def root_row() -> dict[str, str]:
        return report_rows(iam.get_credential_report())["<root_account>"]

    def password_columns(row: dict[str, str]) -> tuple[str, ...]:
        return tuple(row[c] for c in ("password_enabled", "password_last_used", "password_last_changed",
                                      "password_next_rotation", "mfa_active"))

    # The default (old reports): not_supported; no AccountPasswordPresent, as moto answers.
    assert password_columns(root_row()) == ("not_supported", "no_information", "not_supported", "not_supported", "true")
    assert "AccountPasswordPresent" not in iam.get_account_summary()["SummaryMap"]
    # A root password (newer reports).
    h.ok("POST", "/iam-audit/backdate", {"account": DEV, "root": {"password": True, "password_last_used": "2024-05-05T05:05:05Z"},
                                         "report_generated": "2024-08-02T00:00:00Z"})
    assert password_columns(root_row()) == (
        "true", "2024-05-05T05:05:05+00:00", "not_supported", "not_supported", "true"), root_row()
    assert iam.get_account_summary()["SummaryMap"]["AccountPasswordPresent"] == 1
    # No root credentials at all (centralized root access deleted them): no password, no MFA,
    # no keys; the last sign-in is kept when there was one.
    answer = h.ok("POST", "/iam-audit/backdate", {"account": DEV, "root": {"password": False, "mfa": "none", "keys": []},
                                                  "report_generated": "2024-08-03T00:00:00Z"})
    assert answer["report_retaken"] is True, answer
    assert password_columns(root_row()) == ("false", "2024-05-05T05:05:05+00:00", "N/A", "not_supported", "false")
    h.ok("POST", "/iam-audit/backdate", {"account": DEV, "root": {"password_last_used": None},
                                         "report_generated": "2024-08-04T00:00:00Z"})
    row = root_row()
    assert password_columns(row) == ("false", "N/A", "N/A", "not_supported", "false"), row
    assert (row["access_key_1_active"], row["access_key_2_active"]) == ("false", "false")
    summary = iam.get_account_summary()["SummaryMap"]
    assert (summary["AccountPasswordPresent"], summary["AccountMFAEnabled"], summary["AccountAccessKeysPresent"]) == (0, 0, 0)
    assert [d for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"] if d["User"]["Arn"].endswith(":root")] == []
    status, answer = h.call("POST", "/iam-audit/backdate", {"account": DEV, "root": {"password": "yes"}})
    assert status == 400 and "root.password" in answer["error"], answer


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


@check("cloudtrail: failed calls and console sign-ins as CloudTrail records them")
def _cloudtrail_failures(h: Harness, ctx: dict[str, Any]) -> None:
    added = h.ok("POST", "/iam-audit/events", {"account": PROD, "events": [
        {"name": "DeactivateMFADevice", "time": "2024-04-02T10:00:00Z", "user": "alice", "actor": "mallory",
         "error_code": "AccessDenied", "source_ip": "198.51.100.7"},
        {"name": "CreateAccessKey", "time": "2024-04-02T10:01:00Z", "user": "bob", "key": 0,
         "error_code": "LimitExceeded", "user_agent": "Boto3/1.34.0"},
        {"name": "ConsoleLogin", "time": "2024-04-02T11:00:00Z", "actor": {"type": "Root"}, "mfa_used": True},
        {"name": "ConsoleLogin", "time": "2024-04-02T12:00:00Z", "actor": {"type": "Root"}, "outcome": "Failure",
         "source_ip": "198.51.100.23", "region": "us-east-1"},
        {"name": "ConsoleLogin", "time": "2024-04-02T13:00:00Z", "user": "alice", "outcome": "Failure"},
        {"name": "ConsoleLogin", "time": "2024-04-02T14:00:00Z", "user": "alice", "mfa_used": True,
         "region": "eu-west-1"},
    ]})
    assert added["events"] == 14, added
    ct = client(h, "cloudtrail", ctx["prod"])
    mallory = ct.lookup_events(LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "mallory"}])["Events"]
    assert len(mallory) == 1
    denied = json.loads(mallory[0]["CloudTrailEvent"])
    assert (denied["errorCode"], denied["errorMessage"]) == ("AccessDenied", (
        f"User: arn:aws:iam::{PROD}:user/mallory is not authorized to perform: iam:DeactivateMFADevice on resource: "
        "user alice because no identity-based policy allows the iam:DeactivateMFADevice action")), denied
    assert denied["responseElements"] is None and denied["sourceIPAddress"] == "198.51.100.7"
    assert denied["awsRegion"] == "us-east-1" and denied["userAgent"].startswith("aws-cli/")
    # A failed CreateAccessKey made no key: none in the response, none among the resources.
    failed = [e for e in ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName",
                                                             "AttributeValue": "CreateAccessKey"}])["Events"]
              if "errorCode" in json.loads(e["CloudTrailEvent"])]
    assert len(failed) == 1
    detail = json.loads(failed[0]["CloudTrailEvent"])
    assert (detail["errorCode"], detail["errorMessage"], detail["responseElements"], detail["userAgent"]) == (
        "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", None, "Boto3/1.34.0"), detail
    assert failed[0]["Resources"] == [{"ResourceType": "AWS::IAM::User", "ResourceName": "bob"}]
    # Console sign-ins (us-east-1 here; the one in eu-west-1 answers only there).
    logins = ct.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ConsoleLogin"}])["Events"]
    assert [(e["Username"], e["EventSource"]) for e in logins] == [
        ("alice", "signin.amazonaws.com"), ("root", "signin.amazonaws.com"), ("root", "signin.amazonaws.com")]
    assert all("AccessKeyId" not in e and e["Resources"] == [] for e in logins), logins
    alice_failed, root_failed, root_ok = (json.loads(e["CloudTrailEvent"]) for e in logins)
    assert root_ok["userIdentity"] == {"type": "Root", "principalId": PROD, "arn": f"arn:aws:iam::{PROD}:root",
                                       "accountId": PROD, "accessKeyId": ""}, root_ok
    assert root_ok["responseElements"] == {"ConsoleLogin": "Success"} and "errorMessage" not in root_ok
    assert root_ok["additionalEventData"]["MFAUsed"] == "Yes" and root_ok["eventType"] == "AwsConsoleSignIn"
    assert root_ok["additionalEventData"]["MobileVersion"] == "No" and "LoginTo" in root_ok["additionalEventData"]
    assert root_ok["userAgent"].startswith("Mozilla/") and root_ok["requestParameters"] is None
    assert (root_failed["responseElements"], root_failed["errorMessage"], root_failed["sourceIPAddress"]) == (
        {"ConsoleLogin": "Failure"}, "Failed authentication", "198.51.100.23")
    assert "errorCode" not in root_failed and root_failed["additionalEventData"]["MFAUsed"] == "No"
    alice_id = ctx["seeded"]["accounts"][PROD]["users"]["alice"]["id"]
    assert alice_failed["userIdentity"] == {"type": "IAMUser", "principalId": alice_id, "accountId": PROD,
                                            "accessKeyId": "", "userName": "alice"}, alice_failed
    eu = boto3.client("cloudtrail", endpoint_url=h.endpoint, region_name="eu-west-1",
                      aws_access_key_id=ctx["prod"]["AccessKeyId"], aws_secret_access_key="x",
                      aws_session_token=ctx["prod"]["SessionToken"])
    alice_ok = json.loads(eu.lookup_events()["Events"][0]["CloudTrailEvent"])
    assert (alice_ok["awsRegion"], alice_ok["userIdentity"]["arn"], alice_ok["responseElements"]) == (
        "eu-west-1", f"arn:aws:iam::{PROD}:user/alice", {"ConsoleLogin": "Success"}), alice_ok
    status, answer = h.call("POST", "/iam-audit/events", {"account": PROD, "events": [
        {"name": "ListUsers", "time": "2024-04-02T00:00:00Z", "outcome": "Failure"}]})
    assert status == 400 and "ConsoleLogin" in answer["error"], answer
    status, answer = h.call("POST", "/iam-audit/events", {"account": PROD, "events": [
        {"name": "ConsoleLogin", "time": "2024-04-02T00:00:00Z"}]})
    assert status == 400 and "ConsoleLogin" in answer["error"], answer


@check("s3: an organization trail's gzip log files in CloudTrail's layout; S3 calls logged, denied, paged")
def _trail(h: Harness, ctx: dict[str, Any]) -> None:
    import gzip

    written = h.ok("POST", "/iam-audit/trail", {"bucket": "smoke-trail", "prefix": "logs", "bucket_region": "eu-west-1",
                                               "files": [{"account": PROD, "events": [
                                                   {"name": "CreateUser", "time": "2024-03-01T12:00:00Z", "user": "x"},
                                                   {"name": "GetUser", "time": "2024-03-01T12:01:00Z"}]},
                                                   {"account": PROD, "delivered": "2024-03-01T13:00:00Z",
                                                    "body": "not a log file"}]})
    org_id = ctx["seeded"]["organization_id"]
    key = written["objects"][0]["key"]
    prefix = f"logs/AWSLogs/{org_id}/{PROD}/CloudTrail/us-east-1/2024/03/01/{PROD}_CloudTrail_us-east-1_20240301T1206Z_"
    assert key.startswith(prefix) and key.endswith(".json.gz"), key
    s3 = boto3.client("s3", endpoint_url=h.endpoint, region_name="eu-west-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                      aws_secret_access_key="secret",
                      config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}, proxies={}))
    assert s3.head_bucket(Bucket="smoke-trail")["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    body = s3.get_object(Bucket="smoke-trail", Key=key)["Body"].read()
    records = json.loads(gzip.decompress(body))["Records"]
    assert [r["eventName"] for r in records] == ["CreateUser", "GetUser"], records
    assert records[0]["recipientAccountId"] == PROD and records[0]["requestParameters"] == {"userName": "x"}
    top = s3.list_objects_v2(Bucket="smoke-trail", Prefix="logs/AWSLogs/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == [f"logs/AWSLogs/{org_id}/"], top
    # Pages of one key; a denied key; the call log names operations and what they name.
    h.ok("POST", "/iam-audit/s3", {"max_keys": 1})
    page = s3.list_objects_v2(Bucket="smoke-trail", Prefix=f"logs/AWSLogs/{org_id}/")
    assert page["IsTruncated"] and len(page["Contents"]) == 1, page
    h.ok("POST", "/iam-audit/faults", {"deny": {"match": "s3:GetObject", "detail": f"key=*{PROD}*"}})
    assert error_code(lambda: s3.get_object(Bucket="smoke-trail", Key=key)) == ("AccessDenied", 403)
    log = h.ok("GET", "/iam-audit/calls?log=1")["log"]
    ops = [(e["op"], e.get("detail", "")) for e in log if e["op"].startswith("s3:")]
    assert ("s3:GetObject", f"key={key}") in ops, ops
    assert ("s3:ListObjectsV2", "prefix=logs/AWSLogs/,delimiter=/") in ops, ops
    assert any(op == "s3:HeadBucket" for op, _ in ops), ops
    h.ok("POST", "/iam-audit/reset")


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


@check("faults: throttling at a rate, connection reset mid-answer, repeated page tokens, an SCP's deny")
def _faults_more(h: Harness, ctx: dict[str, Any]) -> None:
    h.ok("POST", "/iam-audit/reset")
    iam = client(h, "iam", ctx["prod"])
    # every: the 3rd, 6th, ... matching request (deterministic), until reset.
    h.ok("POST", "/iam-audit/faults", {"throttle": {"match": "iam:*", "every": 3}})
    outcomes = []
    for _ in range(7):
        try:
            iam.list_users()
            outcomes.append("ok")
        except ClientError as err:
            outcomes.append(err.response["Error"]["Code"])
    assert outcomes == ["ok", "ok", "Throttling"] * 2 + ["ok"], outcomes
    rule = h.ok("GET", "/iam-audit/faults")["rules"][0]
    assert rule["every"] == 3 and rule["seen"] == 7 and rule["fired"] == 2 and "remaining" not in rule, rule
    h.ok("POST", "/iam-audit/reset")
    # reset: the status line, the headers and half the body, then the connection is closed.
    h.ok("POST", "/iam-audit/faults", {"reset": {"match": "iam:ListUsers"}})
    sock = socket.create_connection(("127.0.0.1", h.port))
    body = "Action=ListUsers&Version=2010-05-08"
    sock.sendall((
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/iam/aws4_request, "
        f"SignedHeaders=host, Signature=0\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode())
    sock.settimeout(10)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    sock.close()
    head, _, partial = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    assert 0 < len(partial) < length, (len(partial), length)
    # botocore sees the broken answer (and retries it: the rule fired once).
    assert client(h, "iam", ctx["prod"], attempts=3).list_users()["Users"]
    calls = h.ok("GET", "/iam-audit/calls?log=1")
    assert calls["log"][0]["fault"] == "reset", calls["log"][0]
    h.ok("POST", "/iam-audit/reset")
    # repeat_token: the listing's second page answers the token sent (cycle 1), or the one
    # answered before it (cycle 2); botocore's paginator refuses both.
    ct = client(h, "cloudtrail", ctx["prod"])
    for cycle in (1, 2):
        h.ok("POST", "/iam-audit/faults", {"repeat_token": {"match": "cloudtrail:LookupEvents", "cycle": cycle}})
        first = ct.lookup_events()
        tokens = [first["NextToken"]]
        for _ in range(cycle):
            tokens.append(ct.lookup_events(NextToken=tokens[-1]).get("NextToken"))
        assert tokens[-1] == tokens[-1 - cycle] and len(set(tokens)) == cycle, (cycle, tokens)
        assert ct.lookup_events(NextToken=tokens[-1])["Events"] is not None  # spent: the real listing
        h.ok("POST", "/iam-audit/reset")
    h.ok("POST", "/iam-audit/faults", {"repeat_token": {"match": "iam:ListUsers"}})
    marker = iam.list_users()["Marker"]
    assert iam.list_users(Marker=marker)["Marker"] == marker
    assert "Marker" not in iam.list_users(Marker=marker)
    h.ok("POST", "/iam-audit/reset")
    # deny with scp: AWS's wording for an explicit deny in a service control policy.
    h.ok("POST", "/iam-audit/faults", {"deny": {"match": "cloudtrail:LookupEvents", "account": DEV, "scp": True}})
    try:
        client(h, "cloudtrail", ctx["dev"]).lookup_events()
        raise AssertionError("expected AccessDeniedException")
    except ClientError as err:
        assert err.response["Error"]["Code"] == "AccessDeniedException", err.response
        assert err.response["Error"]["Message"].endswith(
            "is not authorized to perform: cloudtrail:LookupEvents with an explicit deny in a service control policy"
        ), err.response["Error"]["Message"]
    h.ok("POST", "/iam-audit/reset")


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


DELEGATED_SEED: dict[str, Any] = {
    **SEED,
    "report_generated": "2024-06-01T00:00:00Z",
    "delegated_admin": DEV,
    "root_features": ["RootCredentialsManagement", "RootSessions"],
    "management": {**SEED["management"], "audit_role": "ok"},
}
READER_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "organizations:Describe*", "organizations:List*", "iam:List*", "iam:Get*", "iam:GenerateCredentialReport",
    "sts:AssumeRole", "cloudtrail:LookupEvents"]}]}


def creds_of(answer: dict[str, Any]) -> dict[str, Any]:
    c = answer["credentials"]
    return {"AccessKeyId": c["access_key_id"], "SecretAccessKey": c["secret_access_key"], "SessionToken": c["session_token"]}


@check("sts: GetCallerIdentity of the static key, a member's user, an assumed role")
def _caller_identity(h: Harness, ctx: dict[str, Any]) -> None:
    seeded = h.ok("POST", "/iam-audit/seed", DELEGATED_SEED)
    ctx["delegated"] = seeded
    me = client(h, "sts").get_caller_identity()
    assert (me["Account"], me["Arn"]) == (MGMT, f"arn:aws:iam::{MGMT}:user/iam-audit"), me
    assert me["UserId"].startswith("AIDA") and len(me["UserId"]) == 21, me
    scanner = h.ok("POST", "/iam-audit/principal", {"account": DEV, "name": "scanner", "policy": READER_POLICY})
    assert scanner["user_id"].startswith("AIDA"), scanner
    ctx["scanner"] = creds_of(scanner)
    me = client(h, "sts", ctx["scanner"]).get_caller_identity()
    assert (me["Account"], me["Arn"], me["UserId"]) == (DEV, f"arn:aws:iam::{DEV}:user/scanner", scanner["user_id"]), me
    session = client(h, "sts").assume_role(RoleArn=f"arn:aws:iam::{PROD}:role/{ROLE}", RoleSessionName="audit")
    me = client(h, "sts", session["Credentials"]).get_caller_identity()
    assert (me["Account"], me["Arn"]) == (PROD, f"arn:aws:sts::{PROD}:assumed-role/{ROLE}/audit"), me
    assert me["UserId"] == session["AssumedRoleUser"]["AssumedRoleId"] and me["UserId"].startswith("AROA"), me
    assert me["UserId"].endswith(":audit")
    ctx["prod_session"] = session["Credentials"]


@check("organizations: a delegated administrator reads the Organization; other members are refused")
def _delegated_admin(h: Harness, ctx: dict[str, Any]) -> None:
    seeded = ctx["delegated"]
    assert (seeded["delegated_admin"], seeded["accounts"][MGMT]["audit_role"]) == (DEV, "ok"), seeded
    h.ok("POST", "/iam-audit/reset")
    org = client(h, "organizations", ctx["scanner"])
    assert org.describe_organization()["Organization"]["Id"] == seeded["organization_id"]
    pages = list(org.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 3}))
    assert [a["Id"] for p in pages for a in p["Accounts"]] == [MGMT, PROD, DEV, NOROLE]
    prod_ou = seeded["ous"]["/Workloads/Prod"]
    assert org.list_parents(ChildId=PROD)["Parents"] == [{"Id": prod_ou, "Type": "ORGANIZATIONAL_UNIT"}]
    assert org.describe_organizational_unit(OrganizationalUnitId=prod_ou)["OrganizationalUnit"]["Name"] == "Prod"
    assert org.list_tags_for_resource(ResourceId=PROD)["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert org.list_roots()["Roots"][0]["Id"] == seeded["root_id"]
    children = org.list_children(ParentId=seeded["root_id"], ChildType="ACCOUNT")["Children"]
    assert sorted(c["Id"] for c in children) == [MGMT, NOROLE]
    admins = org.list_delegated_administrators()["DelegatedAdministrators"]
    assert [a["Id"] for a in admins] == [DEV], admins
    # Writes are the management account's.
    code = error_code(lambda: org.create_organizational_unit(ParentId=seeded["root_id"], Name="X"))
    assert code == ("AccessDeniedException", 400), code
    # A member that is no delegated administrator: DescribeOrganization only (moto answered
    # ListAccounts with an empty list).
    member = client(h, "organizations", ctx["prod_session"])
    assert member.describe_organization()["Organization"]["MasterAccountId"] == MGMT
    try:
        member.list_accounts()
        raise AssertionError("a member's ListAccounts must be refused")
    except ClientError as err:
        assert err.response["Error"] == {"Code": "AccessDeniedException",
                                         "Message": "You don't have permissions to access this resource."}, err.response
    # The delegated administrator into the management account and a member, through the audit
    # role; itself with its own credentials.
    sts = client(h, "sts", ctx["scanner"])
    into_mgmt = sts.assume_role(RoleArn=f"arn:aws:iam::{MGMT}:role/{ROLE}", RoleSessionName="iam-audit")["Credentials"]
    assert [u["UserName"] for u in client(h, "iam", into_mgmt).list_users()["Users"]] == ["admin"]
    sts.assume_role(RoleArn=f"arn:aws:iam::{PROD}:role/{ROLE}", RoleSessionName="iam-audit")
    assert [u["UserName"] for u in client(h, "iam", ctx["scanner"]).list_users()["Users"]] == ["dave", "scanner"]
    calls = h.ok("GET", "/iam-audit/calls?log=1")
    assert calls["by_account"][DEV]["organizations:ListAccounts"] == 2, calls["by_account"]
    assert calls["by_account"][PROD]["organizations:ListAccounts"] == 1
    listed = [e for e in calls["log"] if e["op"] == "organizations:ListAccounts"]
    assert [(e["account"], e.get("answered_as"), e["status"]) for e in listed] == [
        (DEV, MGMT, 200), (DEV, MGMT, 200), (PROD, None, 400)], listed
    assumed = [e["detail"] for e in calls["log"] if e["op"] == "sts:AssumeRole"]
    assert assumed == [f"RoleArn=arn:aws:iam::{MGMT}:role/{ROLE},RoleSessionName=iam-audit",
                       f"RoleArn=arn:aws:iam::{PROD}:role/{ROLE},RoleSessionName=iam-audit"], assumed
    iam_calls = [(e["op"], e["account"]) for e in calls["log"] if e["op"] == "iam:ListUsers"]
    assert iam_calls == [("iam:ListUsers", MGMT), ("iam:ListUsers", DEV)], iam_calls
    # In moto's authentication mode the caller's own policies are checked (not the management
    # account's): the reader may list accounts, a principal without Organizations rights not.
    no_org = creds_of(h.ok("POST", "/iam-audit/principal", {"account": DEV, "name": "no-org", "policy": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}}))
    auth_on(h)
    assert len(client(h, "organizations", ctx["scanner"]).list_accounts()["Accounts"]) == 4
    code = error_code(client(h, "organizations", no_org).list_accounts)
    assert code == ("AccessDeniedException", 400), code
    assert error_code(client(h, "organizations", no_org).describe_organization) == ("AccessDeniedException", 400)


def auth_on(h: Harness) -> None:
    request = urllib.request.Request(h.endpoint + "/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
    with h.opener.open(request, timeout=10) as response:
        assert response.status == 200


@check("iam: ListOrganizationsFeatures for the management account and the IAM delegated administrator")
def _organizations_features(h: Harness, ctx: dict[str, Any]) -> None:
    seeded = h.ok("POST", "/iam-audit/seed", DELEGATED_SEED)
    assert seeded == ctx["delegated"], "a reseed with the same spec must give the same ids"
    scanner = creds_of(h.ok("POST", "/iam-audit/principal", {"account": DEV, "name": "scanner", "policy": READER_POLICY}))
    h.ok("POST", "/iam-audit/reset")
    expected = (seeded["organization_id"], ["RootCredentialsManagement", "RootSessions"])
    answer = client(h, "iam").list_organizations_features()
    assert (answer["OrganizationId"], answer["EnabledFeatures"]) == expected, answer
    answer = client(h, "iam", scanner).list_organizations_features()
    assert (answer["OrganizationId"], answer["EnabledFeatures"]) == expected, answer
    prod = client(h, "sts").assume_role(RoleArn=f"arn:aws:iam::{PROD}:role/{ROLE}", RoleSessionName="smoke")["Credentials"]
    code = error_code(client(h, "iam", prod).list_organizations_features)
    assert code == ("AccountNotManagementOrDelegatedAdministratorException", 400), code
    # The seed's report_generated is the GeneratedTime of the first report (taken by the first
    # GenerateCredentialReport); one regenerated later is generated now.
    prod_iam = client(h, "iam", prod)
    assert prod_iam.generate_credential_report()["State"] == "STARTED"
    assert prod_iam.generate_credential_report()["State"] == "COMPLETE"
    assert prod_iam.get_credential_report()["GeneratedTime"].isoformat() == "2024-06-01T00:00:00+00:00"
    h.ok("POST", "/iam-audit/report", {"account": PROD, "action": "age", "hours": 4})
    assert prod_iam.generate_credential_report()["State"] == "STARTED"
    assert prod_iam.get_credential_report()["GeneratedTime"].year >= 2025
    services = client(h, "organizations").list_aws_service_access_for_organization()["EnabledServicePrincipals"]
    assert [s["ServicePrincipal"] for s in services] == ["iam.amazonaws.com"], services
    # Faults apply to it as to any call; it counts as iam:ListOrganizationsFeatures.
    h.ok("POST", "/iam-audit/faults", {"throttle": {"match": "iam:ListOrganizationsFeatures"},
                                       "deny": {"match": "iam:ListOrganizationsFeatures", "account": DEV}})
    assert error_code(client(h, "iam").list_organizations_features) == ("Throttling", 400)
    assert error_code(client(h, "iam", scanner).list_organizations_features) == ("AccessDenied", 403)
    calls = h.ok("GET", "/iam-audit/calls")
    assert calls["by_operation"]["iam:ListOrganizationsFeatures"] == 5, calls
    assert calls["by_account"][DEV]["iam:ListOrganizationsFeatures"] == 2
    # Trusted access for IAM not enabled: ServiceAccessNotEnabledException; no root_features:
    # enabled, no feature.
    h.ok("POST", "/iam-audit/seed", {**SEED, "root_features": None})
    code = error_code(client(h, "iam").list_organizations_features)
    assert code == ("ServiceAccessNotEnabledException", 400), code
    h.ok("POST", "/iam-audit/seed", SEED)
    answer = client(h, "iam").list_organizations_features()
    assert answer["EnabledFeatures"] == [] and answer["OrganizationId"].startswith("o-"), answer
    # Checked as moto checks any call in its authentication mode.
    allowed = creds_of(h.ok("POST", "/iam-audit/principal", {"name": "features", "policy": {
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:ListOrganizationsFeatures",
                                                "Resource": "*"}]}}))
    other = creds_of(h.ok("POST", "/iam-audit/principal", {"name": "other", "policy": READER_POLICY | {
        "Statement": [{"Effect": "Allow", "Action": "iam:ListUsers", "Resource": "*"}]}}))
    auth_on(h)
    assert client(h, "iam", allowed).list_organizations_features()["EnabledFeatures"] == []
    assert error_code(client(h, "iam", other).list_organizations_features) == ("AccessDenied", 403)


@check("sts: the management account's audit role: none by default, trusting the Organization or the delegated admin")
def _management_role(h: Harness, ctx: dict[str, Any]) -> None:
    # None (AWS makes no OrganizationAccountAccessRole in the management account).
    h.ok("POST", "/iam-audit/seed", SEED)
    code = error_code(lambda: client(h, "sts").assume_role(RoleArn=f"arn:aws:iam::{MGMT}:role/{ROLE}",
                                                           RoleSessionName="smoke"))
    assert code == ("AccessDenied", 403), code
    denied = [e for e in h.ok("GET", "/iam-audit/calls?log=1")["log"] if e["op"] == "sts:AssumeRole"]
    assert "the role does not exist" in denied[-1]["denied"], denied
    # Trusting the Organization (aws:PrincipalOrgID) without a delegated administrator; in
    # moto's authentication mode a member's user may assume it, an outsider's not.
    seeded = h.ok("POST", "/iam-audit/seed", {**SEED, "management": {**SEED["management"], "audit_role": "ok"}})
    role = client(h, "iam").get_role(RoleName=ROLE)["Role"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": seeded["organization_id"]}}, statement
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    member = creds_of(h.ok("POST", "/iam-audit/principal", {"account": PROD, "name": "member", "policy": policy}))
    outsider = creds_of(h.ok("POST", "/iam-audit/principal", {"account": "999999999999", "name": "outsider",
                                                              "policy": policy}))
    auth_on(h)
    arn = f"arn:aws:iam::{MGMT}:role/{ROLE}"
    client(h, "sts", member).assume_role(RoleArn=arn, RoleSessionName="smoke")
    assert error_code(lambda: client(h, "sts", outsider).assume_role(RoleArn=arn, RoleSessionName="smoke")) == (
        "AccessDenied", 403)
    # Denied like a member's denied role.
    h.ok("POST", "/iam-audit/seed", {**SEED, "management": {**SEED["management"], "audit_role": "denied"}})
    assert error_code(lambda: client(h, "sts").assume_role(RoleArn=arn, RoleSessionName="smoke")) == ("AccessDenied", 403)
    status, answer = h.call("POST", "/iam-audit/seed", {**SEED, "delegated_admin": "999999999999"})
    assert status == 400 and "delegated_admin" in answer["error"], answer
    status, answer = h.call("POST", "/iam-audit/seed", {**SEED, "root_features": ["RootEverything"]})
    assert status == 400 and "root_features" in answer["error"], answer
    h.ok("POST", "/iam-audit/seed", SEED)


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
