"""The harness's own mutable state, beside moto's backends. One lock guards all of it: the
server is threaded (one thread per request) and the Rust scan calls in parallel."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from typing import Any

from .faults import KINDS, Latency, Rule


class HarnessState:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        # Per-request context that moto patches read (set by the middleware, same thread).
        self.request = threading.local()
        self.reset_faults_and_calls()
        self.reset_seeded()

    # --- faults and call counts (POST /iam-audit/reset clears these) ----------------------

    def reset_faults_and_calls(self) -> None:
        with self.lock:
            self.rules: list[Rule] = []
            self.latencies: list[Latency] = []
            self.by_operation: Counter[str] = Counter()
            self.by_account: dict[str, Counter[str]] = defaultdict(Counter)
            self.faults_fired: Counter[str] = Counter()
            self.log: list[dict[str, Any]] = []
            self.clock_zero = time.monotonic()
            # S3 ListObjectsV2 pages of at most this many keys (None: moto's 1000), to make
            # listings paginate (POST /iam-audit/s3).
            self.s3_max_keys: int | None = None

    def record_call(self, op: str, account: str, region: str | None, detail: str | None) -> dict[str, Any]:
        """Count one AWS API call; returns its log entry (the middleware adds the status)."""
        with self.lock:
            self.by_operation[op] += 1
            self.by_account[account][op] += 1
            entry: dict[str, Any] = {
                "seq": len(self.log),
                "t": round(time.monotonic() - self.clock_zero, 6),
                "op": op,
                "account": account,
                "region": region,
            }
            if detail:
                entry["detail"] = detail
            self.log.append(entry)
            return entry

    def fire(self, op: str, account: str, detail: str | None = None) -> Rule | None:
        """The first fault rule matching this request, counted as fired; None if none."""
        with self.lock:
            for kind in KINDS:
                for rule in self.rules:
                    if rule.kind == kind and rule.matches(op, account, detail) and rule.due():
                        if kind != "repeat_token":  # counted when it repeats (Rule.repeat)
                            rule.fired += 1
                            self.faults_fired[f"{kind}:{op}"] += 1
                        return rule
            return None

    def latency_ms(self, op: str, account: str) -> float:
        with self.lock:
            return sum(lat.ms for lat in self.latencies if lat.matches(op, account))

    def calls_report(self, with_log: bool) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "total": sum(self.by_operation.values()),
                "by_operation": dict(sorted(self.by_operation.items())),
                "by_account": {
                    acct: dict(sorted(ops.items())) for acct, ops in sorted(self.by_account.items())
                },
                "faults_fired": dict(sorted(self.faults_fired.items())),
            }
            if with_log:
                out["log"] = [dict(e) for e in self.log]
            return out

    # --- seeded data (a new seed or a full reset clears these) ----------------------------

    def reset_seeded(self) -> None:
        with self.lock:
            # account id -> CloudTrail events (API shape plus "_region", "_time")
            self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
            # (account id, role name) pairs whose AssumeRole is denied though the role exists
            self.denied_roles: set[tuple[str, str]] = set()
            # the answer of the last seed (GET /iam-audit/seeded)
            self.seeded: dict[str, Any] | None = None
            # The seeded Organization as the harness's own answers need it (org.py): its id,
            # management account, accounts, and the centralized root access features
            # (IAM ListOrganizationsFeatures; None: trusted access for IAM not enabled).
            self.org_id: str | None = None
            self.management: str | None = None
            self.org_accounts: set[str] = set()
            self.root_features: list[str] | None = []


STATE = HarnessState()
