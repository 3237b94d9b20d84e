#!/usr/bin/env bash
# A pinned Python tool environment of the test command: creates `.venv-NAME/` at the
# repository root once, (re)installs REQUIREMENTS only when that file or the Python version
# changed, checks it with `python CHECK...`, and prints the path of the venv's python on
# stdout — nothing else.
#
#   PY=$(bash scripts/venv.sh moto tests/moto/requirements.txt -c 'import moto')
#
# Idempotent and safe to run concurrently (parallel tests): a lock serialises installs.
# Quiet on success; pip's output goes to .venv-NAME/pip.log. On failure: a message on stderr
# naming the log, exit status 1. Needs python3 (>= 3.9) with the venv module, and PyPI.
set -euo pipefail

[ "$#" -ge 3 ] || { echo "usage: scripts/venv.sh NAME REQUIREMENTS CHECK..." >&2; exit 2; }
name=$1
shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
req="$root/$1"
shift
venv="$root/.venv-$name"
py="$venv/bin/python"
stamp="$venv/.requirements-stamp"
log="$venv/pip.log"

die() {
    echo "scripts/venv.sh ($name): $*" >&2
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
    exec 9>"$root/.venv-$name.lock"
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
        echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) pip install -r $req" >>"$log"
        if ! "$py" -m pip install --disable-pip-version-check --no-input -r "$req" >>"$log" 2>&1; then
            echo "scripts/venv.sh ($name): pip install of $req failed; the end of $log:" >&2
            tail -n 25 "$log" | cut -c1-300 >&2
            exit 1
        fi
        "$py" "$@" >>"$log" 2>&1 || die "the installed packages do not work (python $*); see $log"
        echo "$want" >"$stamp"
    fi
fi

echo "$py"
