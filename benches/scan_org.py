#!/usr/bin/env python3
"""Helper of benches/scan_org.sh (run with the moto harness's python, `bash scripts/moto.sh`).

Subcommands (each prints human-readable text on stdout, errors on stderr, exit 1 on error):

  spec       --accounts A --users U --out FILE          deterministic seed spec of A members x U users
  seed       --port P --spec FILE --out FILE             POST /iam-audit/seed (one request, long timeout)
  ctl        --port P METHOD PATH [--body JSON] [--out FILE]   any control endpoint (/iam-audit/...)
  check-out  --dir D --accounts N                        inventory_*.json: N accounts, all "complete"
  calls      --spec FILE --report R.json --per-user P.json --json-out F   Run A: calls table
  model      --calls F --latency-ms L --concurrency C --wall W --json-out F  Run B: lower bound
  diagnose   --calls F --latency-ms L --concurrency C [--wall W]          Run B: where time goes
  summary    --run-a F --run-b F [--extra JSON]          README block (Markdown)

Only loopback is used (no proxy), and only the standard library plus nothing else.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any

MANAGEMENT_ID = "123456789012"
FIRST_MEMBER = 200000000001
# The events the scanner asks for (src/collect/scan.rs DEFAULT_EVENTS); some of them are seeded.
SERVICES = ["s3", "ec2", "iam", "sts", "dynamodb", "lambda"]
REGIONS = ["us-east-1", "eu-west-1", "us-west-2"]
TEAMS = ["payments", "platform", "data", "web", "ops"]
KINDS = [("prod", "/Workloads/Prod"), ("dev", "/Workloads/Dev"), ("sandbox", "/Sandbox")]


def die(msg: str) -> None:
    print(f"scan_org.py: {msg}", file=sys.stderr)
    sys.exit(1)


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        die(f"cannot read {path}: {err}")


def dump(path: str, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
        f.write("\n")


# --- the seed ----------------------------------------------------------------------------


def make_spec(accounts: int, users: int, now: datetime) -> dict[str, Any]:
    """A members x U users; every choice comes from random.Random(a string key), so the mix is
    the same on every run and machine (dates are relative to `now`, truncated to the minute).
    Account i of a small copy is account i of the big one."""
    now = now.replace(second=0, microsecond=0)
    spec: dict[str, Any] = {
        "rng_seed": 42,
        "report_generated": iso(now - timedelta(minutes=10)),
        "management": {"id": MANAGEMENT_ID, "name": "management"},
        "accounts": [],
    }
    for a in range(accounts):
        acct_id = str(FIRST_MEMBER + a)
        kind, ou = KINDS[a % len(KINDS)]
        acct: dict[str, Any] = {
            "id": acct_id,
            "name": f"{kind}-{a + 1:03d}",
            "ou": ou,
            "tags": {"env": kind, "cost-center": f"cc-{a % 7}"},
            "users": [],
            "events": [],
        }
        for u in range(users):
            r = random.Random(f"user:{acct_id}:{u}")
            age = r.randint(30, 1500)  # days since creation
            created = now - timedelta(days=age, seconds=r.randint(0, 86399))
            user: dict[str, Any] = {"name": f"user-{u:04d}", "created": iso(created)}
            if r.random() < 0.3:
                user["tags"] = {"team": r.choice(TEAMS)}
            if r.random() < 0.70:  # console password
                changed = created + timedelta(days=r.randint(0, min(age - 1, 20)))
                if r.random() < 0.85:
                    used = now - timedelta(days=r.randint(1, min(age - 1, 120)), seconds=r.randint(0, 86399))
                    user["password"] = {"last_used": iso(max(used, changed)), "last_changed": iso(changed)}
                else:
                    user["password"] = {"last_changed": iso(changed)}  # never used
                m = r.random()
                if m < 0.50:
                    user["mfa"] = "virtual"
                elif m < 0.62:
                    user["mfa"] = "hardware"
            k = r.random()
            nkeys = 1 if k < 0.60 else 2 if k < 0.75 else 0
            keys = []
            key_created = created
            for _ in range(nkeys):
                key_created = key_created + timedelta(days=r.randint(0, max((now - key_created).days - 2, 0)) // 2 + 1)
                key: dict[str, Any] = {
                    "status": "Active" if r.random() < 0.85 else "Inactive",
                    "created": iso(key_created),
                    "last_used": None,
                }
                if r.random() < 0.80:
                    span = max((now - key_created).days - 1, 1)
                    used = now - timedelta(days=r.randint(1, span), seconds=r.randint(0, 3600))
                    key["last_used"] = {
                        "date": iso(max(used, key_created)),
                        "service": r.choice(SERVICES),
                        "region": r.choice(REGIONS),
                    }
                keys.append(key)
            if keys:
                user["keys"] = keys
            acct["users"].append(user)
        acct["events"] = make_events(acct_id, acct["users"], now)
        spec["accounts"].append(acct)
    return spec


def make_events(acct_id: str, users: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """A few CloudTrail events per account (2..6), within the last 60 days."""
    r = random.Random(f"events:{acct_id}")
    if not users:
        return []
    events = []
    for _ in range(r.randint(2, 6)):
        user = r.choice(users)
        when = iso(now - timedelta(days=r.randint(1, 60), seconds=r.randint(0, 86399)))
        if user.get("keys") and r.random() < 0.4:
            events.append({"name": "CreateAccessKey", "time": when, "user": user["name"], "key": 0})
        elif user.get("password") and r.random() < 0.5:
            events.append({"name": "ConsoleLogin", "time": when, "user": user["name"]})
        elif user.get("mfa") and r.random() < 0.5:
            events.append({"name": "DeactivateMFADevice", "time": when, "user": user["name"]})
        else:
            events.append({"name": "CreateUser", "time": when, "user": user["name"]})
    return events


def spec_stats(spec: dict[str, Any]) -> dict[str, Any]:
    """What the seed holds, per member account (for the naive formula and sanity checks)."""
    members = spec["accounts"]
    users = [u for a in members for u in a["users"]]
    return {
        "accounts": len(members),
        "users_per_account": len(members[0]["users"]) if members else 0,
        "users": len(users),
        "password": sum(1 for u in users if u.get("password")),
        "mfa_virtual": sum(1 for u in users if u.get("mfa") == "virtual"),
        "mfa_hardware": sum(1 for u in users if u.get("mfa") == "hardware"),
        "users_with_keys": sum(1 for u in users if u.get("keys")),
        "users_two_keys": sum(1 for u in users if len(u.get("keys", [])) == 2),
        "keys": sum(len(u.get("keys", [])) for u in users),
        "keys_active": sum(1 for u in users for k in u.get("keys", []) if k["status"] == "Active"),
        "keys_never_used": sum(1 for u in users for k in u.get("keys", []) if not k.get("last_used")),
        "events": sum(len(a.get("events", [])) for a in members),
        "list_users_pages": max((math.ceil(len(a["users"]) / 100) or 1) for a in members) if members else 1,
    }


def cmd_spec(args: argparse.Namespace) -> None:
    spec = make_spec(args.accounts, args.users, datetime.now(timezone.utc))
    dump(args.out, spec)
    s = spec_stats(spec)
    n = max(s["users"], 1)
    print(
        f"seed spec: {s['accounts']} member accounts x {s['users_per_account']} users = {s['users']} users; "
        f"password {100 * s['password'] / n:.0f}%, virtual MFA {100 * s['mfa_virtual'] / n:.0f}%, "
        f"hardware MFA {100 * s['mfa_hardware'] / n:.0f}%, one key {100 * (s['users_with_keys'] - s['users_two_keys']) / n:.0f}%, "
        f"two keys {100 * s['users_two_keys'] / n:.0f}%; {s['keys']} keys ({s['keys_active']} active, "
        f"{s['keys_never_used']} never used); {s['events']} CloudTrail events"
    )


# --- talking to the harness --------------------------------------------------------------

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy


def http(port: int, method: str, path: str, body: Any = None, timeout: float = 120) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            text = resp.read()
    except urllib.error.HTTPError as err:
        die(f"{method} {path}: HTTP {err.code}: {err.read().decode(errors='replace')[:2000]}")
    except (urllib.error.URLError, OSError) as err:
        die(f"{method} {path}: {err} (is the harness on port {port} still running?)")
    return json.loads(text) if text.strip() else None


def cmd_seed(args: argparse.Namespace) -> None:
    spec = load(args.spec)
    s = spec_stats(spec)
    t0 = time.monotonic()
    answer = http(args.port, "POST", "/iam-audit/seed", spec, timeout=args.timeout)
    took = time.monotonic() - t0
    dump(args.out, answer)
    made = answer.get("accounts", {})
    users = sum(len(a.get("users", {})) for a in made.values())
    if len(made) != s["accounts"] + 1 or users != s["users"]:
        die(f"seed answered {len(made)} accounts and {users} users; expected {s['accounts'] + 1} and {s['users']}")
    print(f"seeded {s['accounts']} member accounts + management, {users} users, {s['keys']} keys, "
          f"{s['events']} events in {took:.1f} s")


def cmd_ctl(args: argparse.Namespace) -> None:
    body = json.loads(args.body) if args.body is not None else None
    answer = http(args.port, args.method, args.path, body, timeout=args.timeout)
    if args.out:
        dump(args.out, answer)
    else:
        print(json.dumps(answer))


# --- scan outputs ------------------------------------------------------------------------


def cmd_check_out(args: argparse.Namespace) -> None:
    found = sorted(glob.glob(os.path.join(args.dir, "inventory_*.json")))
    if len(found) != 1:
        die(f"expected one inventory_*.json in {args.dir}, found {len(found)}: {found}")
    inv = load(found[0])
    accounts = inv.get("accounts", [])
    status = Counter(a.get("collection", {}).get("status", "?") for a in accounts)
    bad = [a for a in accounts if a.get("collection", {}).get("status") != "complete"]
    notes = Counter()
    for a in accounts:
        for n in a.get("collection", {}).get("notes", []):
            notes[n.split(" (")[0][:60]] += 1
    users = sum(len(a.get("users", [])) for a in accounts)
    print(f"inventory {os.path.basename(found[0])}: {len(accounts)} accounts "
          f"({', '.join(f'{k} {v}' for k, v in sorted(status.items()))}), {users} users, "
          f"{len(inv.get('events', []))} events")
    for n, c in notes.most_common(3):
        print(f"  note x{c}: {n}...")
    if len(accounts) != args.accounts:
        die(f"the inventory has {len(accounts)} accounts, expected {args.accounts}")
    if args.users is not None and users != args.users:
        die(f"the inventory has {users} users, expected {args.users}")
    if bad:
        for a in bad[:5]:
            print(f"  NOT COMPLETE {a.get('id')}: {a.get('collection')}", file=sys.stderr)
        die(f"{len(bad)} account(s) not complete")


# --- Run A: call counts ------------------------------------------------------------------


def per_member(calls: dict[str, Any], mgmt: str) -> dict[str, int]:
    """Calls by operation on behalf of member accounts: everything but the management
    account's own IAM/CloudTrail collection (its Organizations and STS calls are discovery and
    AssumeRole for the members, so they stay, amortised)."""
    own = calls.get("by_account", {}).get(mgmt, {})
    out = {}
    for op, n in calls.get("by_operation", {}).items():
        if op.startswith(("iam:", "cloudtrail:")):
            n -= own.get(op, 0)
        out[op] = n
    return out


def naive_iam(s: dict[str, Any]) -> dict[str, float]:
    """Per member account, IAM calls of the fully naive approach."""
    a = max(s["accounts"], 1)
    u = s["users_per_account"]
    return {
        "iam:ListUsers": s["list_users_pages"],
        "iam:GetLoginProfile": u,
        "iam:ListAccessKeys": u,
        "iam:GetAccessKeyLastUsed": s["keys"] / a,
        "iam:ListMFADevices": u,
        "iam:ListUserTags": u,
    }


def fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x - round(x)) < 1e-9:
        return f"{int(round(x))}"
    if abs(x) < 0.1:
        return f"{x:.3f}"
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.1f}"


def cmd_calls(args: argparse.Namespace) -> None:
    spec = load(args.spec)
    s = spec_stats(spec)
    rep, per = load(args.report), load(args.per_user)
    mgmt = spec["management"]["id"]
    a, nu = max(s["accounts"], 1), max(s["users"], 1)
    r_m, p_m = per_member(rep, mgmt), per_member(per, mgmt)
    naive = dict(naive_iam(s))
    # The fully naive approach shares discovery, AssumeRole and CloudTrail with the others.
    for op, n in r_m.items():
        if not op.startswith("iam:"):
            naive[op] = n / a
    ops = sorted(set(r_m) | set(p_m) | set(naive), key=lambda o: (o.split(":")[0] != "organizations",
                                                                  o.split(":")[0] != "sts", o))
    rows = []
    for op in ops:
        r, p, nv = r_m.get(op, 0), p_m.get(op, 0), naive.get(op, 0) * a
        rows.append((op, r, p, nv))
    tot = ("TOTAL", sum(r[1] for r in rows), sum(r[2] for r in rows), sum(r[3] for r in rows))
    w = max(len(r[0]) for r in rows + [tot])
    head = (f"{'operation':<{w}} | {'report path':>22} | {'per-user path (naive)':>22} | {'fully naive (computed)':>22}\n"
            f"{'':<{w}} | {'/acct':>10} {'/user':>11} | {'/acct':>10} {'/user':>11} | {'/acct':>10} {'/user':>11}")
    print(head)
    print("-" * len(head.splitlines()[0]))
    for op, r, p, nv in rows + [tot]:
        if op == "TOTAL":
            print("-" * len(head.splitlines()[0]))
        print(f"{op:<{w}} | {fmt(r / a):>10} {fmt(r / nu):>11} | {fmt(p / a):>10} {fmt(p / nu):>11} | "
              f"{fmt(nv / a):>10} {fmt(nv / nu):>11}")
    u = s["users_per_account"]
    k = s["keys"] / a
    naive_iam_total = s["list_users_pages"] + 4 * u + k
    rep_iam = sum(n for op, n in r_m.items() if op.startswith("iam:")) / a
    per_iam = sum(n for op, n in p_m.items() if op.startswith("iam:")) / a
    print()
    print(f"Per member account; {s['accounts']} member accounts x {u} users. Organizations and STS calls are made "
          f"from the management account for all members and are amortised over them; the management account's "
          f"own collection (no users) is left out: {sum(rep['by_operation'].values()) - sum(r_m.values())} calls "
          f"(report path), {sum(per['by_operation'].values()) - sum(p_m.values())} (per-user path).")
    print(f"Fully naive IAM calls per account = ListUsers ceil(U/100) + U x (GetLoginProfile + ListAccessKeys + "
          f"ListMFADevices + ListUserTags) + keys x GetAccessKeyLastUsed = {s['list_users_pages']} + 4 x {u} + "
          f"{fmt(k)} = {fmt(naive_iam_total)}  ({fmt(naive_iam_total / max(u, 1))} per user)")
    print(f"IAM calls per account: report path {fmt(rep_iam)}, per-user path {fmt(per_iam)}, fully naive "
          f"{fmt(naive_iam_total)}: the credential report saves {fmt(naive_iam_total - rep_iam)} IAM calls per account "
          f"({100 * (1 - rep_iam / naive_iam_total):.0f}%)" if naive_iam_total else "")
    # Sanity: the report path lists every user's keys (a key created after a cached report is
    # not in it), and MFA only for users a report generated for the scan says have MFA.
    want_lak, want_mfa = s["users"], s["mfa_virtual"] + s["mfa_hardware"]
    got_lak, got_mfa = r_m.get("iam:ListAccessKeys", 0), r_m.get("iam:ListMFADevices", 0)
    ok = got_lak == want_lak and got_mfa == want_mfa
    print(f"check (report path): ListAccessKeys {got_lak} = users {want_lak}, ListMFADevices {got_mfa} = "
          f"users with MFA {want_mfa}: {'ok' if ok else 'MISMATCH'}")
    dump(args.json_out, {
        "accounts": s["accounts"], "users_per_account": u,
        "report": {"per_account": tot[1] / a, "per_user": tot[1] / nu, "iam_per_account": rep_iam},
        "per_user_path": {"per_account": tot[2] / a, "per_user": tot[2] / nu, "iam_per_account": per_iam},
        "naive": {"per_account": tot[3] / a, "per_user": tot[3] / nu, "iam_per_account": naive_iam_total},
        "check_ok": ok,
    })


# --- Run B: lower bound ------------------------------------------------------------------


def lower_bound(calls: dict[str, Any], latency: float, conc: int) -> dict[str, Any]:
    by_op = calls.get("by_operation", {})
    n_other = sum(n for op, n in by_op.items() if op != "cloudtrail:LookupEvents")
    n_ct = {acct: ops.get("cloudtrail:LookupEvents", 0) for acct, ops in calls.get("by_account", {}).items()}
    n_ct = {acct: n for acct, n in n_ct.items() if n > 0}
    lb_other = n_other * latency / conc
    lb_ct = sum((n - 1) / 2 + latency for n in n_ct.values()) / conc
    return {"n_other": n_other, "n_ct_total": sum(n_ct.values()), "ct_accounts": len(n_ct),
            "lb_other": lb_other, "lb_ct": lb_ct, "lb": max(lb_other, lb_ct)}


def cmd_model(args: argparse.Namespace) -> None:
    calls = load(args.calls)
    L, C = args.latency_ms / 1000.0, args.concurrency
    m = lower_bound(calls, L, C)
    ratio = args.wall / m["lb"] if m["lb"] > 0 else float("inf")
    verdict = "PASS" if args.wall <= args.factor * m["lb"] else "FAIL"
    print(f"Model: L = {L:g} s latency per call, C = {C} accounts in flight; per account one lane for "
          f"Organizations/STS/IAM (one request at a time) and one lane for CloudTrail (<= 2 requests/s).")
    print("  LB = max( N_other x L / C ,  sum_a ((n_ct(a) - 1)/2 + L) / C )")
    print(f"  N_other  = {m['n_other']} calls (every call but LookupEvents, discovery included)")
    print(f"  n_ct     = {m['n_ct_total']} LookupEvents calls over {m['ct_accounts']} accounts")
    print(f"  IAM lane = {m['n_other']} x {L:g} / {C} = {m['lb_other']:.2f} s")
    print(f"  CT lane  = {m['lb_ct']:.2f} s")
    print(f"  LB       = {m['lb']:.2f} s")
    print(f"  wall     = {args.wall:.2f} s   ratio wall/LB = {ratio:.2f}   (PASS when <= {args.factor:g})")
    if m["ct_accounts"] < 2 * C:
        print(f"  note: {m['ct_accounts']} accounts for C = {C}: with fewer than ~2 x C accounts the bound ignores "
              f"that the slowest account cannot be split, so it is loose (use the full size for the verdict)")
    print(f"  RESULT: {verdict}")
    dump(args.json_out, {**m, "latency": L, "concurrency": C, "wall": args.wall, "ratio": ratio,
                         "factor": args.factor, "verdict": verdict, "total_calls": calls.get("total", 0),
                         "by_operation": calls.get("by_operation", {})})


def cmd_diagnose(args: argparse.Namespace) -> None:
    """Where the time goes, from the harness's per-request log (t = arrival, s since reset)."""
    calls = load(args.calls)
    log = calls.get("log") or []
    if not log:
        die("no call log (GET /iam-audit/calls?log=1)")
    L, C = args.latency_ms / 1000.0, args.concurrency
    mgmt = MANAGEMENT_ID
    t_first, t_last = log[0]["t"], max(e["t"] for e in log) + L
    org = [e for e in log if e["op"].startswith("organizations:")]
    sts = [e for e in log if e["op"] == "sts:AssumeRole"]
    first_assume = min((e["t"] for e in sts), default=None)
    before_all = [e for e in org if first_assume is None or e["t"] < first_assume]
    # Per account (members via their own credentials; AssumeRole is logged under the caller).
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for e in log:
        if e["op"].startswith(("iam:", "cloudtrail:")):
            per[e["account"]]["ct" if e["op"].startswith("cloudtrail:") else "iam"].append(e["t"])
            if e["op"] == "iam:GenerateCredentialReport":
                per[e["account"]]["gen"].append(e["t"])
    print(f"Where the time goes (harness log; t = request arrival, {len(log)} requests, "
          f"{t_last - t_first:.1f} s from first to last + L):")
    if org:
        start = first_assume if first_assume is not None else max(e["t"] for e in org) + L
        before = [e for e in org if e["t"] < start]
        if before:
            dur = before[-1]["t"] + L - before[0]["t"]
            inflight = len(before) * L / max(dur, 1e-9)
            print(f"- discovery: {len(before)} Organizations calls from t={before[0]['t']:.2f} to "
                  f"{before[-1]['t'] + L:.2f} s ({dur:.2f} s, {100 * (start - t_first) / (t_last - t_first):.0f}% of "
                  f"the run); requests in flight on average (calls x L / duration) {inflight:.1f} -> "
                  f"{'SERIAL' if inflight < 1.3 else 'concurrent'}; the first AssumeRole (start of collection) "
                  f"at t={start:.2f} s")
    seq = overl = 0
    spans, iam_d, ct_d, wait_d, gap_iam = [], [], [], [], []
    for acct, d in per.items():
        if not d["iam"]:
            continue
        i0, i1 = min(d["iam"]), max(d["iam"]) + L
        iam_d.append(i1 - i0)
        if d["ct"]:
            c0, c1 = min(d["ct"]), max(d["ct"]) + L
            ct_d.append(c1 - c0)
            if c0 >= i1 - L:
                seq += 1
            else:
                overl += 1
            spans.append((min(i0, c0), max(i1, c1)))
        else:
            spans.append((i0, i1))
        g = sorted(d["gen"])
        if len(g) >= 2:
            wait_d.append(g[-1] - g[0])
        ts = sorted(d["iam"])
        gap_iam.extend(b - a for a, b in zip(ts, ts[1:]))
    n = max(len(spans), 1)
    mean = lambda xs: sum(xs) / max(len(xs), 1)  # noqa: E731
    print(f"- per account ({len(spans)} accounts): IAM {mean(iam_d):.2f} s (of which {mean(wait_d):.2f} s between the "
          f"first and last GenerateCredentialReport), CloudTrail {mean(ct_d):.2f} s, whole account "
          f"{mean([b - a for a, b in spans]):.2f} s")
    print(f"- IAM then CloudTrail: in {seq} of {seq + overl} accounts the first LookupEvents comes after the last IAM "
          f"call -> {'SEQUENTIAL within an account' if overl == 0 else 'mostly sequential' if seq > overl else 'overlapping'}")
    if gap_iam:
        gs = sorted(gap_iam)
        print(f"- IAM calls of one account: median gap {gs[len(gs) // 2] * 1000:.0f} ms, p90 "
              f"{gs[int(len(gs) * 0.9)] * 1000:.0f} ms (L = {L * 1000:.0f} ms: the excess is client + harness time per call)")
    if spans:
        c0, c1 = min(a for a, _ in spans), max(b for _, b in spans)
        busy = sum(b - a for a, b in spans)
        print(f"- collection phase {c0:.2f}..{c1:.2f} s ({c1 - c0:.1f} s): mean accounts in flight "
              f"{busy / max(c1 - c0, 1e-9):.2f} of C = {C}; sum of account spans / C = {busy / C:.1f} s")
        if args.wall:
            disc = (first_assume or c0) - t_first
            print(f"- estimate with this shape: discovery {disc:.1f} s + sum(spans)/C {busy / C:.1f} s = "
                  f"{disc + busy / C:.1f} s (wall {args.wall:.1f} s; the rest is process start, credentials, "
                  f"the tail of the last accounts, evaluation and writing)")
            # The excess over the model's bound, term by term (estimates from the log).
            m = lower_bound(calls, L, C)
            n_iam = sum(1 for e in log if e["op"].startswith("iam:"))
            over = max(sorted(gap_iam)[len(gap_iam) // 2] - L, 0) if gap_iam else 0
            waits, per_call = sum(wait_d) / C, over * n_iam / C
            disc_x = max(disc - len(before_all) * L / C, 0)
            rest = args.wall - m["lb"] - waits - per_call - disc_x
            print(f"- wall - LB = {args.wall:.1f} - {m['lb']:.1f} = {args.wall - m['lb']:.1f} s, roughly: credential-report "
                  f"waits (first to last GenerateCredentialReport of each account, summed / C) {waits:.1f} s; time per "
                  f"IAM call above L ({over * 1000:.0f} ms x {n_iam} calls / C) {per_call:.1f} s; discovery not "
                  f"overlapped with collection {disc_x:.1f} s; the rest (process start, the last accounts' tail, "
                  f"evaluation and writing, other lanes) {rest:.1f} s")
    mg = calls.get("by_account", {}).get(mgmt, {})
    print(f"- management account's own collection: {sum(v for k, v in mg.items() if k.startswith(('iam:', 'cloudtrail:')))} "
          f"calls; AssumeRole {len(sts)} calls")


# --- summary -----------------------------------------------------------------------------


def cmd_summary(args: argparse.Namespace) -> None:
    a, b = load(args.run_a), load(args.run_b)
    x = json.loads(args.extra) if args.extra else {}
    print(f"API calls per account and per user ({a['accounts']} accounts x {a['users_per_account']} users, "
          f"harness call counts; discovery and AssumeRole amortised over the accounts):")
    print()
    print("| Approach | Calls / account | Calls / user | IAM calls / account |")
    print("|---|---:|---:|---:|")
    for label, key in [("Credential report (iam-audit default)", "report"),
                       ("Per-user fallback (report unavailable)", "per_user_path"),
                       ("Fully naive per-user (computed)", "naive")]:
        r = a[key]
        print(f"| {label} | {r['per_account']:.1f} | {r['per_user']:.2f} | {r['iam_per_account']:.1f} |")
    print()
    print(f"Timed scan ({x.get('accounts')} member accounts + management, {x.get('users')} users, "
          f"{b['latency'] * 1000:.0f} ms injected latency per call, moto harness on loopback):")
    print()
    print("| Metric | Value |")
    print("|---|---:|")
    rows = [
        ("Accounts x users", f"{x.get('accounts')} x {x.get('users_per_account')} (+ management)"),
        ("Concurrency (`--concurrency`)", f"{b['concurrency']}"),
        ("API calls (LookupEvents)", f"{b['total_calls']} ({b['n_ct_total']})"),
        ("Wall time", f"{b['wall']:.1f} s"),
        ("Lower bound (model)", f"{b['lb']:.1f} s"),
        ("Wall / lower bound", f"{b['ratio']:.2f} ({b['verdict']} at <= {b['factor']:g})"),
        ("Peak RSS", x.get("rss", "n/a")),
        ("Seeding the harness", x.get("seed_time", "n/a")),
        ("Machine", x.get("machine", "n/a")),
    ]
    for k, v in rows:
        print(f"| {k} | {v} |")
    print()
    print("Lower bound: LB = max(N_other x L / C, sum over accounts of ((n_ct(a) - 1)/2 + L) / C), with L the latency,")
    print("C the accounts in flight, N_other every call but LookupEvents, n_ct(a) the LookupEvents calls of account a")
    print("(one IAM/Organizations/STS request in flight per account, CloudTrail at <= 2 requests/s per account).")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("spec")
    s.add_argument("--accounts", type=int, required=True)
    s.add_argument("--users", type=int, required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--spec", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--timeout", type=float, default=7200)
    s = sub.add_parser("ctl")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("method")
    s.add_argument("path")
    s.add_argument("--body")
    s.add_argument("--out")
    s.add_argument("--timeout", type=float, default=120)
    s = sub.add_parser("check-out")
    s.add_argument("--dir", required=True)
    s.add_argument("--accounts", type=int, required=True)
    s.add_argument("--users", type=int)
    s = sub.add_parser("calls")
    s.add_argument("--spec", required=True)
    s.add_argument("--report", required=True)
    s.add_argument("--per-user", required=True)
    s.add_argument("--json-out", required=True)
    s = sub.add_parser("model")
    s.add_argument("--calls", required=True)
    s.add_argument("--latency-ms", type=float, required=True)
    s.add_argument("--concurrency", type=int, required=True)
    s.add_argument("--wall", type=float, required=True)
    s.add_argument("--factor", type=float, default=1.5)
    s.add_argument("--json-out", required=True)
    s = sub.add_parser("diagnose")
    s.add_argument("--calls", required=True)
    s.add_argument("--latency-ms", type=float, required=True)
    s.add_argument("--concurrency", type=int, required=True)
    s.add_argument("--wall", type=float)
    s = sub.add_parser("summary")
    s.add_argument("--run-a", required=True)
    s.add_argument("--run-b", required=True)
    s.add_argument("--extra")
    args = p.parse_args()
    {
        "spec": cmd_spec, "seed": cmd_seed, "ctl": cmd_ctl, "check-out": cmd_check_out, "calls": cmd_calls,
        "model": cmd_model, "diagnose": cmd_diagnose, "summary": cmd_summary,
    }[args.cmd](args)


if __name__ == "__main__":
    main()
