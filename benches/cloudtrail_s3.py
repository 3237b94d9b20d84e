#!/usr/bin/env python3
"""Benchmark: `iam-audit scan` reading CloudTrail through LookupEvents vs from the organization
trail's bucket (`--cloudtrail-s3`), on the same events, against the moto harness (tests/moto/).
Run by hand with the harness's python; its final block is what README.md quotes.

    PY=$(bash scripts/moto.sh)
    cargo build --release --locked
    "$PY" benches/cloudtrail_s3.py --bin target/release/iam-audit      # 10 accounts x 30 days
    "$PY" benches/cloudtrail_s3.py --bin target/release/iam-audit --accounts 2 --events-per-day 400 --noise 1
    "$PY" benches/cloudtrail_s3.py --accounts 2 --days 3              # quick, debug binary

The emulator is one Python process: serving an S3 GetObject costs it ~4-5 ms of CPU (the
"emulator CPU" column), so with many small log files the S3 run measures moto more than the
scan. LookupEvents is bound by the scan's own limit of 2 requests/s per account.

What it does:
  1. Starts the harness (loopback only), seeds an Organization of A member accounts, and stores
     for each account E kept events per day (the seven event names the scan asks for) plus N
     times as many other events (GetUser, ListUsers, ...), at deterministic random times over the
     last D days, all in us-east-1.
  2. Writes the same events to the trail's bucket as CloudTrail does (gzip JSON, one file per
     account, region and hour, the organization layout: POST /iam-audit/trail from_events).
  3. Scans twice with --cloudtrail-days D, each with LATENCY ms added to every AWS call: with
     LookupEvents (its client-side limit of 2 requests/s per account), then with --cloudtrail-s3.
     Reports wall time, CloudTrail/S3 calls and their count per account, and checks that both
     inventories hold the same events.

Exit 0 when both scans succeed and agree; 1 otherwise. Hermetic: no ~/.aws, no AWS_* from the
environment; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KEPT = ["CreateUser", "DeleteUser", "CreateAccessKey", "DeleteAccessKey", "DeleteLoginProfile",
        "DeactivateMFADevice", "ConsoleLogin"]
NOISE = ["GetUser", "ListUsers", "ListAccessKeys", "GetAccountSummary", "ListRoles", "GetRole"]
MANAGEMENT = "123456789012"


class Harness:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tests/moto/server.py")], cwd=ROOT,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={k: v for k, v in os.environ.items() if k != "MOTO_ACCOUNT_ID"})
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            raise SystemExit(f"harness said {line!r}")
        self.port = int(line.split()[1])

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(req, timeout=600) as r:
            return json.loads(r.read() or b"null")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the harness has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def event_specs(rng: random.Random, now: datetime, days: int, per_day: int, noise: int) -> list[dict[str, Any]]:
    out = []
    span = days * 86400 - 2 * 3600  # not in the last two hours nor before the window
    for i in range(days * per_day * (1 + noise)):
        name = KEPT[i % len(KEPT)] if i % (1 + noise) == 0 else rng.choice(NOISE)
        when = now - timedelta(seconds=3600 + rng.randrange(span))
        spec: dict[str, Any] = {"name": name, "time": iso(when)}
        if name == "ConsoleLogin":
            spec["user"] = f"user{rng.randrange(50)}"
        elif name not in NOISE:
            spec["user"] = f"user{rng.randrange(50)}"
        out.append(spec)
    return out


def scan(bin_path: str, port: int, creds: dict[str, str], days: int,
         extra: list[str]) -> tuple[float, float, float, dict[str, Any], int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and "proxy" not in k.lower()}
    env.update({"AWS_ACCESS_KEY_ID": creds["access_key_id"], "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"],
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true"})
    with tempfile.TemporaryDirectory() as out:
        cmd = [bin_path, "scan", "--endpoint-url", f"http://127.0.0.1:{port}", "--out", out, "--quiet",
               "--fail-on", "none", "--format", "json", "--cloudtrail-days", str(days), *extra]
        with tempfile.TemporaryFile() as err:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time and peak RSS
            wall = time.monotonic() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            err.seek(0)
            stderr = err.read().decode("utf-8", "replace")
        cpu = usage.ru_utime + usage.ru_stime
        rss_mb = usage.ru_maxrss / 1024
        files = glob.glob(f"{out}/inventory_*.json")
        if not files:
            raise SystemExit(f"no inventory (exit {proc.returncode}): {stderr}")
        with open(files[0]) as f:
            inv = json.load(f)
    return wall, cpu, rss_mb, inv, proc.returncode


def event_keys(inv: dict[str, Any]) -> Counter[tuple[str, ...]]:
    return Counter((e["account_id"], e["name"], e["time"], e.get("actor", ""),
                    ",".join(e.get("resources", []))) for e in inv["events"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--accounts", type=int, default=10)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--events-per-day", type=int, default=40, help="kept events per account and day")
    ap.add_argument("--noise", type=int, default=3, help="other events per kept event")
    ap.add_argument("--latency-ms", type=float, default=20)
    ap.add_argument("--bin", default=str(ROOT / "target/debug/iam-audit"))
    args = ap.parse_args()

    rng = random.Random(42)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    members = [f"{200000000001 + i:012d}" for i in range(args.accounts)]
    h = Harness()
    try:
        t0 = time.monotonic()
        seeded = h.call("POST", "/iam-audit/seed", {
            "management": MANAGEMENT,
            "accounts": [{"id": a, "name": f"member-{i}"} for i, a in enumerate(members)],
        })
        for a in [MANAGEMENT, *members]:
            specs = event_specs(rng, now, args.days, args.events_per_day, args.noise)
            for i in range(0, len(specs), 5000):
                h.call("POST", "/iam-audit/events", {"account": a, "events": specs[i:i + 5000]})
        written = h.call("POST", "/iam-audit/trail", {"bucket": "org-trail", "prefix": "logs", "from_events": True})
        objects = written["objects"]
        setup = time.monotonic() - t0
        print(f"setup: {len(members) + 1} accounts, {sum(o['records'] for o in objects)} records in "
              f"{len(objects)} log files ({sum(o['size'] for o in objects) / 1e6:.1f} MB gzip), {setup:.0f} s",
              file=sys.stderr)

        results = {}
        for label, extra in [("LookupEvents", []), ("S3 trail", ["--cloudtrail-s3", "s3://org-trail/logs"])]:
            h.call("POST", "/iam-audit/reset")
            if args.latency_ms:
                h.call("POST", "/iam-audit/faults", {"latency": {"ms": args.latency_ms, "match": "*"}})
            harness_cpu = h.cpu_seconds()
            wall, cpu, rss, inv, code = scan(args.bin, h.port, seeded["credentials"], args.days, extra)
            harness_cpu = h.cpu_seconds() - harness_cpu
            calls = h.call("GET", "/iam-audit/calls")["by_operation"]
            ct = {k: v for k, v in calls.items() if k.startswith(("cloudtrail:", "s3:"))}
            statuses = Counter(a["collection"]["status"] for a in inv["accounts"])
            results[label] = {"wall": wall, "cpu": cpu, "rss": rss, "harness_cpu": harness_cpu, "calls": ct,
                              "total": sum(calls.values()), "inv": inv, "code": code, "statuses": statuses}
            print(f"{label}: exit {code}, {wall:.1f} s (scan CPU {cpu:.1f} s, peak RSS {rss:.0f} MB, "
                  f"harness CPU {harness_cpu:.1f} s), "
                  f"{ct}, accounts {dict(statuses)}", file=sys.stderr)
    finally:
        h.close()

    a, b = results["LookupEvents"], results["S3 trail"]
    ea, eb = event_keys(a["inv"]), event_keys(b["inv"])
    same = ea == eb
    n_accounts = len(members) + 1
    ok = same and all(r["statuses"] == Counter({"complete": n_accounts}) for r in (a, b))

    def row(label: str, r: dict[str, Any]) -> str:
        ct_calls = sum(r["calls"].values())
        detail = ", ".join(f"{k} {v}" for k, v in sorted(r["calls"].items()))
        return (f"| {label} | {r['wall']:.1f} s | {r['cpu']:.1f} s | {r['rss']:.0f} MB | {r['harness_cpu']:.1f} s "
                f"| {ct_calls} ({ct_calls / n_accounts:.0f} per account: {detail}) "
                f"| {r['total']} | {len(r['inv']['events'])} |")

    print(f"""
### CloudTrail: LookupEvents vs the organization trail in S3

`"$PY" benches/cloudtrail_s3.py --accounts {args.accounts} --days {args.days} --events-per-day \
{args.events_per_day} --noise {args.noise} --latency-ms {args.latency_ms:g}` against the moto harness
({n_accounts} accounts; per account {args.days * args.events_per_day} events the scan keeps and
{args.days * args.events_per_day * args.noise} others over {args.days} days, in
{len(objects) // n_accounts} gzip log files; {args.latency_ms:g} ms added to every AWS call;
`--concurrency 8`; binary `{os.path.relpath(args.bin, ROOT)}`):

| CloudTrail from | wall time | scan CPU | scan peak RSS | emulator CPU | CloudTrail / S3 calls | all AWS calls | events |
|---|---|---|---|---|---|---|---|
{row("LookupEvents (2 requests/s per account)", a)}
{row("`--cloudtrail-s3`", b)}

Same events in both inventories: {"yes" if same else f"NO ({sum((ea - eb).values())} only via LookupEvents, {sum((eb - ea).values())} only via S3)"}.
""")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
