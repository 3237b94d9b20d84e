"""An organization trail's bucket in moto's S3 (`iam-audit scan --cloudtrail-s3`): CloudTrail
log files written where CloudTrail writes them, gzip-compressed JSON `{"Records": [...]}`:

  <prefix>/AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/
      <account>_CloudTrail_<region>_YYYYMMDDTHHmmZ_<unique>.json.gz

(a plain, non-organization trail omits `<org-id>/`). Objects are written in-process into moto's
S3 backend (never counted, never faulted), optionally SSE-KMS as CloudTrail writes them with a
KMS key. Records are built as LookupEvents' `CloudTrailEvent` is (cloudtrail.build_event), so
the same event specs give the same events through LookupEvents and through the bucket.

POST /iam-audit/trail:
  {"bucket": "org-trail",               # created if missing
   "bucket_account": "123456789012",    # the bucket's owner (default: the management account)
   "bucket_region": "us-east-1",        # the bucket's region (default us-east-1)
   "prefix": "logs",                    # the trail's S3 key prefix ("" or absent: none)
   "org_id": "o-...",                   # default: the seeded Organization's id; null: plain layout
   "kms_key_id": "arn:aws:kms:...",     # SSE-KMS (aws:kms) with this key; default SSE-S3 (none)
   "from_events": false,                # also every event stored (seed "events", /iam-audit/events),
                                        # one file per account, region and hour
   "files": [{"account": "111111111111",
              "region": "us-east-1",    # the folder's region (default: of the first record, else us-east-1)
              "delivered": "2024-05-01T12:05:00Z",  # folder day and file name time (default: the
                                        # latest record's time + 5 minutes)
              "events": [event spec, ...],   # as /iam-audit/events takes them (cloudtrail.py)
              "records": [{...}],       # literal records, appended after the events' records
              "body": "text",           # instead: this exact content (not a log file)
              "gzip": true}]}           # default true
Answer: {"bucket", "objects": [{"key", "size", "records"}], "org_id"}.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from moto.iam.models import iam_backends
from moto.s3.models import s3_backends
from moto.s3.exceptions import MissingBucket

from . import cloudtrail
from .state import STATE
from .util import SpecError, parse_time, stable_hex

FIELDS = {"bucket", "bucket_account", "bucket_region", "prefix", "org_id", "kms_key_id", "from_events", "files"}
FILE_FIELDS = {"account", "region", "delivered", "events", "records", "body", "gzip"}


def _key_ids(account: str) -> dict[str, list[str]]:
    try:
        users = iam_backends[account]["global"].users
    except KeyError:
        return {}
    return {name: [k.access_key_id for k in user.access_keys] for name, user in users.items()}


def _folder(prefix: str, org_id: str | None, account: str, region: str, day: datetime) -> str:
    base = f"{prefix}/" if prefix else ""
    org = f"{org_id}/" if org_id else ""
    return f"{base}AWSLogs/{org}{account}/CloudTrail/{region}/{day:%Y/%m/%d}/"


def _name(account: str, region: str, delivered: datetime, unique: str) -> str:
    return f"{account}_CloudTrail_{region}_{delivered:%Y%m%dT%H%MZ}_{unique}.json.gz"


def write(spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise SpecError("trail: expected a JSON object")
    unknown = set(spec) - FIELDS
    if unknown:
        raise SpecError(f"trail: unknown field(s) {sorted(unknown)}")
    bucket = spec.get("bucket")
    if not isinstance(bucket, str) or not bucket:
        raise SpecError("trail.bucket is required")
    with STATE.lock:
        owner = spec.get("bucket_account") or STATE.management or "123456789012"
        org_id = spec["org_id"] if "org_id" in spec else STATE.org_id
    region = spec.get("bucket_region") or "us-east-1"
    prefix = str(spec.get("prefix") or "").strip("/")
    kms = spec.get("kms_key_id")
    backend = s3_backends[owner]["aws"]
    try:
        backend.get_bucket(bucket)
    except MissingBucket:
        backend.create_bucket(bucket, region)

    files = list(spec.get("files") or [])
    if spec.get("from_events"):
        files.extend(_files_of_stored_events())
    objects = []
    for n, f in enumerate(files):
        if not isinstance(f, dict) or set(f) - FILE_FIELDS:
            raise SpecError(f"trail.files[{n}]: expected an object with {sorted(FILE_FIELDS)}")
        account = f.get("account")
        if not isinstance(account, str) or len(account) != 12:
            raise SpecError(f"trail.files[{n}].account: a 12-digit account id is required")
        records: list[Any] = []
        keys = _key_ids(account)
        for i, event in enumerate(f.get("events") or []):
            built = cloudtrail.build_event(account, 10_000 * (n + 1) + i, event, keys)
            records.append(json.loads(built["CloudTrailEvent"]))
        records.extend(f.get("records") or [])
        times = [parse_time(r["eventTime"], "record.eventTime") for r in records if isinstance(r, dict) and "eventTime" in r]
        if f.get("delivered"):
            delivered = parse_time(f["delivered"], f"trail.files[{n}].delivered")
        elif times:
            delivered = max(times) + timedelta(minutes=5)
        else:
            raise SpecError(f"trail.files[{n}]: `delivered` is required without records")
        folder_region = f.get("region") or next(
            (r.get("awsRegion") for r in records if isinstance(r, dict) and r.get("awsRegion")), "us-east-1")
        unique = stable_hex("trail", bucket, account, n, delivered.isoformat(), length=16)
        key = _folder(prefix, org_id, account, folder_region, delivered) + _name(account, folder_region, delivered, unique)
        if "body" in f:
            data = str(f["body"]).encode()
        else:
            data = json.dumps({"Records": records}, separators=(",", ":")).encode()
        if f.get("gzip", True) and "body" not in f:
            data = gzip.compress(data, mtime=0)
        backend.put_object(bucket, key, data, encryption="aws:kms" if kms else None, kms_key_id=kms,
                           disable_notification=True)
        objects.append({"key": key, "size": len(data), "records": len(records)})
    return {"bucket": bucket, "org_id": org_id, "objects": objects}


def _files_of_stored_events() -> list[dict[str, Any]]:
    """Every stored event as log files: one per account, region and hour (delivered 5 minutes
    after the hour's last event)."""
    with STATE.lock:
        stored = {account: list(events) for account, events in STATE.events.items()}
    groups: dict[tuple[str, str, datetime], list[dict[str, Any]]] = defaultdict(list)
    for account, events in stored.items():
        for event in events:
            hour = event["_time"].replace(minute=0, second=0)
            groups[(account, event["_region"], hour)].append(json.loads(event["CloudTrailEvent"]))
    files = []
    for (account, region, _hour), records in sorted(groups.items()):
        records.sort(key=lambda r: r["eventTime"])
        last = parse_time(records[-1]["eventTime"], "eventTime")
        files.append({"account": account, "region": region, "records": records,
                      "delivered": (last + timedelta(minutes=5)).isoformat()})
    return files
