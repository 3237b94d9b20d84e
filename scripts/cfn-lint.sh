#!/usr/bin/env bash
# Lints the CloudFormation templates of deploy/ with the pinned cfn-lint of
# deploy/requirements-lint.txt, installed once into `.venv-cfn-lint/` at the repository root
# (reinstalled only when that file or the Python version changed).
#
#   bash scripts/cfn-lint.sh              # every deploy/*.yaml
#   bash scripts/cfn-lint.sh FILE...      # these templates
#
# Fails (exit 1) when cfn-lint reports anything: errors, warnings and informational findings
# alike. A clean result is remembered for the exact templates, requirements and interpreter,
# so a re-run with nothing changed takes a few milliseconds. Safe to run concurrently (a lock
# serialises installs). pip's output goes to .venv-cfn-lint/pip.log. Needs python3 (>= 3.9)
# with the venv module, and PyPI on the first run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv-cfn-lint"
req="$root/deploy/requirements-lint.txt"
py="$venv/bin/python"
stamp="$venv/.requirements-stamp"
passed="$venv/.lint-passed"
log="$venv/pip.log"

die() {
    echo "scripts/cfn-lint.sh: $*" >&2
    exit 1
}

[ -f "$req" ] || die "missing $req"
command -v python3 >/dev/null 2>&1 || die "python3 not found on PATH"

if [ "$#" -gt 0 ]; then
    templates=("$@")
else
    shopt -s nullglob
    templates=("$root"/deploy/*.yaml)
    shopt -u nullglob
    [ "${#templates[@]}" -gt 0 ] || die "no templates in $root/deploy/"
fi
for t in "${templates[@]}"; do
    [ -f "$t" ] || die "no such template: $t"
done

# What the installed venv must match: the requirements and the interpreter that built it.
want="$(python3 -c 'import sys; print(sys.version)' | head -n 1) $(sha256sum "$req" | cut -d' ' -f1)"

up_to_date() {
    [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$py" -c '' 2>/dev/null
}

if ! up_to_date; then
    # Serialise concurrent callers; the lock lives next to (not inside) the venv so that
    # recreating the venv never pulls the lock file away from under another caller.
    exec 9>"$root/.venv-cfn-lint.lock"
    if command -v flock >/dev/null 2>&1; then
        flock 9
    fi
    if ! up_to_date; then
        if [ -d "$venv" ] && ! "$py" -c '' 2>/dev/null; then
            rm -rf "$venv" # a broken venv (e.g. its python was removed): start over
        fi
        if [ ! -x "$py" ]; then
            python3 -m venv "$venv" >/dev/null 2>&1 ||
                die "'python3 -m venv $venv' failed (Debian/Ubuntu: apt-get install python3-venv)"
        fi
        rm -f "$stamp" "$passed"
        echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) pip install -r $req" >>"$log"
        if ! "$py" -m pip install --disable-pip-version-check --no-input -r "$req" >>"$log" 2>&1; then
            echo "scripts/cfn-lint.sh: pip install of $req failed; the end of $log:" >&2
            tail -n 25 "$log" | cut -c1-300 >&2
            exit 1
        fi
        "$venv/bin/cfn-lint" --version >>"$log" 2>&1 ||
            die "cfn-lint does not run after install; see $log"
        echo "$want" >"$stamp"
    fi
fi

# Every rule class counts: informational findings are shown and fail the run too.
args=(--include-checks I --non-zero-exit-code informational)

# The templates' content (not their times), the arguments and the installed linter.
key=$({
    echo "$want ${args[*]}"
    for t in "${templates[@]}"; do
        printf '%s ' "$t"
        sha256sum <"$t"
    done
} | sha256sum | cut -d' ' -f1)
names=$(for t in "${templates[@]}"; do printf ' %s' "${t#"$root"/}"; done)

if [ -f "$passed" ] && grep -qxF "$key" "$passed"; then
    echo "cfn-lint:$names: clean (unchanged since the last clean run)"
    exit 0
fi
if ! out=$("$venv/bin/cfn-lint" "${args[@]}" -- "${templates[@]}" 2>&1) || [ -n "$out" ]; then
    echo "scripts/cfn-lint.sh: cfn-lint found problems:" >&2
    printf '%s\n' "$out" >&2
    exit 1
fi
# Remember this clean result (and the last few others: a subset linted alone, say).
{ tail -n 19 "$passed" 2>/dev/null || true; echo "$key"; } >"$passed.$$" && mv "$passed.$$" "$passed"
echo "cfn-lint:$names: clean"
