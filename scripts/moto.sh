#!/usr/bin/env bash
# The Python environment of the moto test harness (tests/moto/): creates `.venv-moto/` at the
# repository root once, (re)installs tests/moto/requirements.txt only when that file or the
# Python version changed, and prints the path of the venv's python on stdout — nothing else.
#
#   PY=$(bash scripts/moto.sh) && "$PY" tests/moto/server.py
#
# Idempotent and safe to run concurrently (parallel tests): a lock serialises installs.
# Quiet on success; pip's output goes to .venv-moto/pip.log. On failure: a message on stderr
# naming the log, exit status 1. Needs python3 (>= 3.9) with the venv module, and PyPI.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv-moto"
req="$root/tests/moto/requirements.txt"
py="$venv/bin/python"
stamp="$venv/.requirements-stamp"
log="$venv/pip.log"

die() {
    echo "scripts/moto.sh: $*" >&2
    exit 1
}

[ -f "$req" ] || die "missing $req"
command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH"

# What the installed venv must match: the requirements and the interpreter that built it.
want="$(python3 -c 'import sys; print(sys.version)' | head -n 1) $(sha256sum "$req" | cut -d' ' -f1)"

up_to_date() {
    [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$py" -c '' 2>/dev/null
}

if ! up_to_date; then
    # Serialise concurrent callers; the lock lives next to (not inside) the venv so that
    # recreating the venv never pulls the lock file away from under another caller.
    exec 9>"$root/.venv-moto.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
    # Another caller may have finished the install while we waited.
    if ! up_to_date; then
        if [ -d "$venv" ] && ! "$py" -c '' 2>/dev/null; then
            rm -rf "$venv" # a broken venv (e.g. its python was removed): start over
        fi
        if [ ! -x "$py" ]; then
            python3 -m venv "$venv" >/dev/null 2>&1 ||
                die "'python3 -m venv $venv' failed (Debian/Ubuntu: apt-get install python3-venv)"
        fi
        rm -f "$stamp"
        {
            echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) pip install -r $req"
        } >>"$log"
        if ! "$py" -m pip install --disable-pip-version-check --no-input -r "$req" >>"$log" 2>&1; then
            echo "scripts/moto.sh: pip install of $req failed; the end of $log:" >&2
            tail -n 25 "$log" | cut -c1-300 >&2
            exit 1
        fi
        "$py" -c 'import moto, boto3, flask, werkzeug' >>"$log" 2>&1 ||
            die "the harness's packages do not import after install; see $log"
        echo "$want" >"$stamp"
    fi
fi

echo "$py"
