#!/usr/bin/env bash
# Lints the CloudFormation templates of deploy/ with the pinned cfn-lint of
# deploy/requirements-lint.txt, installed once into `.venv-cfn-lint/` at the repository root
# by scripts/venv.sh (reinstalled only when that file or the Python version changed).
#
#   bash scripts/cfn-lint.sh              # every deploy/*.yaml
#   bash scripts/cfn-lint.sh FILE...      # these templates
#
# Fails (exit 1) when cfn-lint reports anything: errors, warnings and informational findings
# alike. A clean result is remembered for the exact templates, requirements and interpreter,
# so a re-run with nothing changed takes a few milliseconds. Safe to run concurrently (a lock
# serialises installs). Needs python3 (>= 3.9) with the venv module, and PyPI on the first run.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv-cfn-lint"
passed="$venv/.lint-passed"

die() {
    echo "scripts/cfn-lint.sh: $*" >&2
    exit 1
}

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

# The pinned cfn-lint in .venv-cfn-lint/ (see scripts/venv.sh).
bash "$root/scripts/venv.sh" cfn-lint deploy/requirements-lint.txt -c "import cfnlint" >/dev/null
want="$(cat "$venv/.requirements-stamp")"

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
