#!/usr/bin/env bash
# Validates the SARIF that iam-audit writes with Microsoft's SARIF Multitool and GitHub's rule
# kinds (what GitHub code scanning checks on upload), beyond the OASIS schema that `cargo test`
# already checks (tests/sarif.rs).
#
# - Installs the pinned @microsoft/sarif-multitool (tools/sarif-multitool/package.json and
#   package-lock.json) with `npm ci` into .tools/sarif/ (gitignored); re-runs reuse it while
#   the lockfile is unchanged.
# - Writes SARIF for the bundled examples (inventory JSON; stock CSVs; info and waived
#   included with the example waivers) and for a generated organization with more results
#   than GitHub keeps per run, with $IAM_AUDIT_BIN or the debug binary (built if missing).
# - Runs `Sarif.Multitool validate` on each with tools/sarif-multitool/validate-config.json
#   (GH1001-GH1007 enabled, except GH1004: its array-size defaults are stale) and fails on any
#   error or warning result. The multitool exits 0 even then, so its output is read with jq
#   (python3 when jq is missing).
#
# Usage: bash scripts/sarif-multitool.sh [-v]   (-v prints every result of the validator)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
verbose=${1:-}

version=5.7.0
tool_dir=$root/.tools/sarif
spec_dir=$root/tools/sarif-multitool
multitool=$tool_dir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
config=$spec_dir/validate-config.json

say() { printf 'sarif-multitool: %s\n' "$*" >&2; }

# --- install (idempotent) ---------------------------------------------------------------
stamp=$(cat "$spec_dir/package.json" "$spec_dir/package-lock.json" | sha256sum | cut -d' ' -f1)
if [[ ! -x $multitool || "$(cat "$tool_dir/.stamp" 2>/dev/null)" != "$stamp" ]]; then
    command -v npm >/dev/null || { say "npm is required (Debian: apt-get install npm)"; exit 1; }
    say "installing @microsoft/sarif-multitool@$version into .tools/sarif/"
    mkdir -p "$tool_dir"
    cp "$spec_dir/package.json" "$spec_dir/package-lock.json" "$tool_dir/"
    # --ignore-scripts: the package's only script is a chmod, done below.
    (cd "$tool_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
    chmod u+x "$multitool"
    printf '%s\n' "$stamp" >"$tool_dir/.stamp"
fi
installed=$("$multitool" --version 2>&1 | head -n1 || true)
[[ $installed == *"$version"* ]] || { say "expected Multitool $version, got: $installed"; exit 1; }

# --- SARIF to validate ------------------------------------------------------------------
bin=${IAM_AUDIT_BIN:-${CARGO_TARGET_DIR:-target}/debug/iam-audit}
if [[ -z ${IAM_AUDIT_BIN:-} ]]; then
    cargo build --locked --quiet --bin iam-audit
fi
[[ -x $bin ]] || { say "no iam-audit binary at $bin"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# evaluate exits 1 on gating findings and 3 on an incomplete inventory: both still write
# every output. 2 is an error.
run() {
    local out=$1
    shift
    local rc=0
    "$bin" evaluate "$@" --format sarif --out "$work/$out" --quiet 2>"$work/$out.log" || rc=$?
    if [[ $rc -ne 0 && $rc -ne 1 && $rc -ne 3 ]]; then
        say "iam-audit evaluate $* exited $rc:"
        cat "$work/$out.log" >&2
        exit 1
    fi
}
ex=examples
run inventory "$ex/inventory_20260306_120000.json" --config "$ex/iam-audit.yaml"
run csv "$ex/iam_audit_report_20260306_120000.csv" --config "$ex/iam-audit.yaml" \
    --events "$ex/cloudtrail_events_20260306_120000.csv" --root "$ex/root_audit_report_20260306_120000.csv"
run included "$ex/inventory_20260306_120000.json" --config "$ex/iam-audit.yaml" \
    --waivers "$ex/waivers.yaml" --sarif-include info,waived
# More results than GitHub keeps per run (5,000): 5,100 never-used active keys.
python3 - "$work/big_inventory_20260306_120000.json" <<'EOF'
import json, sys
users = [{
    "name": f"user-{i:05d}",
    "password": {"enabled": False},
    "access_keys": [{"id": f"AKIABIG{i:013d}", "status": "Active",
                     "created": "2025-01-01T00:00:00Z"}],
} for i in range(5100)]
inv = {"schema_version": 1, "source": {"kind": "scan"}, "accounts": [{
    "id": "100000000001", "name": "Big", "collection": {"status": "complete"}, "users": users}]}
json.dump(inv, open(sys.argv[1], "w"))
EOF
run big "$work/big_inventory_20260306_120000.json"

# --- validate ---------------------------------------------------------------------------
# Tolerated while Cargo.toml names no homepage or repository: SARIF2005's request for
# tool.driver.informationUri (iam-audit takes it from there and invents none).
tolerate=""
if ! grep -Eq '^(homepage|repository)[[:space:]]*=' Cargo.toml; then
    tolerate="SARIF2005/Warning_ProvideToolnformationUri"
fi

problems() { # FILE: one line per error or warning result: ruleId/messageId<TAB>arguments
    if command -v jq >/dev/null; then
        jq -r '.runs[].results[]? | select((.level // "warning") == "error" or (.level // "warning") == "warning")
               | "\(.ruleId)/\(.message.id // "")\t\((.message.arguments // []) | join(" | "))\(.message.text // "")"' "$1"
    else
        python3 - "$1" <<'EOF'
import json, sys
for run in json.load(open(sys.argv[1], encoding="utf-8-sig"))["runs"]:
    for r in run.get("results") or []:
        if r.get("level", "warning") in ("error", "warning"):
            m = r.get("message", {})
            print(f'{r.get("ruleId")}/{m.get("id", "")}\t{" | ".join(m.get("arguments", []))}{m.get("text", "")}')
EOF
    fi
}

# Each validation takes a few seconds (the 5,000-result file ~20 s): run them side by side.
files=("$work"/*/findings_*.sarif)
pids=()
for f in "${files[@]}"; do
    # Called directly, not through npx: the shell would split "Sarif;Ghas" at the `;`.
    "$multitool" validate "$f" --config "$config" --rule-kind "Sarif;Ghas" --quiet true \
        --output "$f.validation" --log ForceOverwrite &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

failed=0
count=0
for f in "${files[@]}"; do
    count=$((count + 1))
    v=$f.validation
    [[ -s $v ]] || { say "no validator output for $f"; exit 1; }
    if [[ $verbose == -v ]]; then
        problems "$v" >&2 || true
    fi
    bad=$(problems "$v" | { if [[ -n $tolerate ]]; then grep -v "^$tolerate"$'\t' || true; else cat; fi })
    name=${f#"$work"/}
    if [[ -n $bad ]]; then
        say "FAIL $name:"
        printf '%s\n' "$bad" >&2
        failed=1
    else
        say "ok   $name ($(grep -c '"ruleId"' "$f") results)"
    fi
done
[[ $count -eq 4 ]] || { say "expected 4 SARIF files, validated $count"; exit 1; }
if [[ $failed -ne 0 ]]; then
    say "the SARIF above does not pass the Multitool's SARIF and GitHub (Ghas) rules"
    exit 1
fi
say "$count SARIF files pass (rule kinds Sarif;Ghas, GH1001-GH1007 but GH1004)"
