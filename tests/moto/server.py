#!/usr/bin/env python3
"""moto (in-process) behind the iam-audit harness middleware, on a loopback port.

    PY=$(bash scripts/moto.sh)
    "$PY" tests/moto/server.py [--seed SPEC.json] [--port N] [--verbose] [--no-stdin]

Binds 127.0.0.1 on a port the OS picks (or --port), prints exactly one line `PORT <n>` on
stdout once it answers requests (after seeding, with --seed), then serves until its stdin
closes (the parent exited or dropped the pipe) or SIGTERM/SIGINT. Everything else goes to
stderr. Point the AWS SDK at http://127.0.0.1:<n> (AWS_ENDPOINT_URL) in region us-east-1.
See tests/moto/README.md for the /iam-audit/* endpoints and the seed format.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

# Hermetic: never read a developer's AWS config, never reach for instance metadata, never
# send loopback traffic (the seed's calls to this server) through a proxy.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in [v for v in os.environ if v.startswith("AWS_") and v not in (
        "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED")]:
    del os.environ[_var]
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ.pop("MOTO_ACCOUNT_ID", None)  # it would pin every request to one account

sys.path.insert(0, str(Path(__file__).resolve().parent))

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

from harness.app import HarnessApp  # noqa: E402


class QuietHandler(MotoRequestHandler):
    """moto's request handler without the per-request access log (stderr stays readable)."""

    verbose = False

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if self.verbose:
            super().log_request(code, size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free one)")
    parser.add_argument("--seed", type=Path, help="a seed spec (JSON) to load before announcing the port")
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    parser.add_argument("--no-stdin", action="store_true", help="ignore stdin; serve until a signal")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    QuietHandler.verbose = args.verbose

    app = HarnessApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=QuietHandler)
    server.daemon_threads = True
    port = server.server_port
    app.endpoint = f"http://127.0.0.1:{port}"
    thread = threading.Thread(target=server.serve_forever, name="moto-server", daemon=True)
    thread.start()

    if args.seed:
        if not seed_from_file(app.endpoint, args.seed):
            server.shutdown()
            return 1

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    print(f"PORT {port}", flush=True)

    if not args.no_stdin:
        # A daemon thread waits for EOF on stdin: the parent closed the pipe or exited.
        def watch_stdin() -> None:
            try:
                while sys.stdin.buffer.read(65536):
                    pass
            except (OSError, ValueError):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    stop.wait()
    server.shutdown()
    return 0


def seed_from_file(endpoint: str, path: Path) -> bool:
    """POST a seed spec file to our own /iam-audit/seed; print the outcome on stderr."""
    try:
        body = path.read_bytes()
        json.loads(body)
    except (OSError, ValueError) as err:
        print(f"server.py: cannot read seed {path}: {err}", file=sys.stderr)
        return False
    request = urllib.request.Request(
        f"{endpoint}/iam-audit/seed", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=300) as response:
            response.read()
        return True
    except urllib.error.HTTPError as err:
        print(f"server.py: seeding from {path} failed: {err.read().decode(errors='replace')}", file=sys.stderr)
        return False


if __name__ == "__main__":
    sys.exit(main())
