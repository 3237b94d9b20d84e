#!/usr/bin/env bash
# Benchmark of `iam-audit scan` against the moto harness (tests/moto/), run by hand; its final
# block is what README.md quotes.
#
#   bash benches/scan_org.sh                       # A=100 member accounts x U=50 users
#   A=5 U=10 bash benches/scan_org.sh              # quick
#   bash benches/scan_org.sh --accounts 20 --users 30 --concurrency 16 --keep
#
# Options (environment variable in brackets):
#   -a, --accounts N     member accounts of the timed scan [A, default 100]
#   -u, --users N        IAM users per member account [U, default 50]
#   -c, --concurrency N  --concurrency of the timed scan [C, default: the binary's own default]
#   -s, --small N        member accounts of the call-count copy (Run A) [SMALL, default 5]
#   -l, --latency-ms N   latency injected on every AWS call of the timed scan [LATENCY_MS, default 50]
#   -f, --factor X       PASS when wall <= X x lower bound [FACTOR, default 1.5]
#       --no-build       use the existing release binary (no cargo build)
#       --keep           keep the temporary directory (scan outputs, logs, call counts)
#
# What it does:
#   1. cargo build --release --locked; starts the harness (loopback only) and seeds an
#      Organization with a deterministic mix of users, passwords, MFA, keys and CloudTrail events
#      (benches/scan_org.py spec); seeding costs ~7 ms per API call the seed makes.
#   2. Run A (SMALL accounts x U users, no latency): the harness's call counts of a normal scan
#      (credential report) and of a scan forced onto per-user calls (report never ready,
#      --report-deadline 1), per operation, per account and per user, next to a fully naive
#      per-user approach computed from the seed.
#   3. Run B (A x U, LATENCY_MS on every call): wall time and peak RSS, a lower bound from the
#      call counts and a PASS/FAIL on wall <= FACTOR x bound; exit 0/1 and every account
#      "complete" in the inventory are required. On FAIL, the harness's call log says where the
#      time went.
#   4. A Markdown summary to paste into README.md.
#
# Exit: 0 PASS, 1 FAIL (or any error: the message says what failed). Hermetic: no ~/.aws, no
# AWS_* from the environment, no proxy; only 127.0.0.1 is contacted (PyPI only the first time
# scripts/moto.sh creates the harness's venv).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

die() {
    echo "benches/scan_org.sh: error: $*" >&2
    exit 1
}
say() { printf '\n== %s\n' "$*"; }

ACCOUNTS=${A:-100}
USERS=${U:-50}
CONC=${C:-}
SMALL=${SMALL:-5}
LATENCY_MS=${LATENCY_MS:-50}
FACTOR=${FACTOR:-1.5}
BUILD=1
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
    -a | --accounts) ACCOUNTS=${2:?}; shift 2 ;;
    -u | --users) USERS=${2:?}; shift 2 ;;
    -c | --concurrency) CONC=${2:?}; shift 2 ;;
    -s | --small) SMALL=${2:?}; shift 2 ;;
    -l | --latency-ms) LATENCY_MS=${2:?}; shift 2 ;;
    -f | --factor) FACTOR=${2:?}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for v in ACCOUNTS USERS SMALL LATENCY_MS; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v (see --help) must be a non-negative integer, got '${!v}'"
done
[ "$ACCOUNTS" -ge 1 ] || die "at least one member account is needed"
[[ -z $CONC || $CONC =~ ^[1-9][0-9]*$ ]] || die "concurrency must be a positive integer, got '$CONC'"
[[ $FACTOR =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "factor must be a number, got '$FACTOR'"
[ "$SMALL" -ge 1 ] || SMALL=1
[ "$SMALL" -le "$ACCOUNTS" ] || SMALL=$ACCOUNTS

# Hermetic: no AWS configuration, credentials or endpoint from this machine; no proxy.
for v in $(env | sed -n 's/^\(AWS_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
unset IAM_AUDIT_LOG http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iam-audit-bench.XXXXXX")
server_pid=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$server_pid" ]; then
        { exec 7>&-; } 2>/dev/null || true # the harness exits when its stdin closes
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$KEEP" = 1 ]; then
        echo "kept $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "benches/scan_org.sh: interrupted" >&2; exit 130' INT
trap 'echo "benches/scan_org.sh: terminated" >&2; exit 143' TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- 1. build, harness, seed ------------------------------------------------------------
bin="${CARGO_TARGET_DIR:-$root/target}/release/iam-audit"
if [ "$BUILD" = 1 ]; then
    say "cargo build --release --locked (waits if another build holds the target dir's lock)"
    t0=$(now)
    cargo build --release --locked 2>"$tmp/build.log" || {
        tail -n 30 "$tmp/build.log" >&2
        die "cargo build --release --locked failed"
    }
    echo "built in $(elapsed "$t0") s: $bin"
    if grep -q 'Blocking waiting for file lock' "$tmp/build.log"; then
        echo "(part of it waiting for the target directory's lock: another cargo was running)"
    fi
fi
[ -x "$bin" ] || die "no release binary at $bin (run without --no-build)"

PY=$(bash scripts/moto.sh) || die "scripts/moto.sh could not provide the harness's python"
helper() { "$PY" "$root/benches/scan_org.py" "$@"; }

help_text=$("$bin" scan --help) || die "$bin scan --help failed"
default_conc=$(printf '%s\n' "$help_text" | grep -A4 -- '--concurrency' | grep -o 'default: [0-9]*' | head -n1 | grep -o '[0-9]*$' || true)
[ -n "$default_conc" ] || die "cannot read the default of --concurrency from 'iam-audit scan --help'"
CONC=${CONC:-$default_conc}

say "starting the moto harness"
mkfifo "$tmp/server.stdin"
"$PY" tests/moto/server.py <"$tmp/server.stdin" >"$tmp/server.out" 2>"$tmp/server.err" &
server_pid=$!
exec 7>"$tmp/server.stdin" # held open until exit: the harness serves while its stdin is open
port=
for _ in $(seq 1 600); do
    port=$(sed -n 's/^PORT \([0-9][0-9]*\)$/\1/p' "$tmp/server.out")
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.err" >&2; die "the harness exited before announcing its port"; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/server.err" >&2; die "the harness did not announce its port within 60 s"; }
echo "harness on 127.0.0.1:$port (pid $server_pid)"

seed() { # seed N_ACCOUNTS NAME: spec + one seed request; sets seed_time
    helper spec --accounts "$1" --users "$USERS" --out "$tmp/$2.spec.json"
    local said
    said=$(helper seed --port "$port" --spec "$tmp/$2.spec.json" --out "$tmp/$2.seeded.json") ||
        { tail -n 20 "$tmp/server.err" >&2; die "seeding $1 accounts x $USERS users failed"; }
    echo "$said"
    seed_time=$(printf '%s\n' "$said" | sed -n 's/.* in \([0-9.]*\) s$/\1/p')
}

wrap=() # a command the scan runs under (/usr/bin/time -v in Run B)
scan() { # scan OUT_DIR LOG [flags...]: the release binary against the harness; sets scan_rc
    local out=$1 log=$2
    shift 2
    mkdir -p "$out"
    local creds
    creds=$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1]))["credentials"]; print(c["access_key_id"], c["secret_access_key"])' "$seeded")
    scan_rc=0
    env AWS_ACCESS_KEY_ID="${creds% *}" AWS_SECRET_ACCESS_KEY="${creds#* }" \
        ${wrap[@]+"${wrap[@]}"} "$bin" scan --endpoint-url "http://127.0.0.1:$port" --out "$out" "$@" >"$log" 2>&1 || scan_rc=$?
    if [ "$scan_rc" != 0 ] && [ "$scan_rc" != 1 ]; then
        tail -n 30 "$log" >&2
        die "the scan exited $scan_rc (0 or 1 expected: 2 = error, 3 = incomplete inventory); log above"
    fi
}

ctl() { helper ctl --port "$port" "$@"; }

# --- 2. Run A: call counts --------------------------------------------------------------
say "Run A: call counts on $SMALL member accounts x $USERS users (no latency)"
seed "$SMALL" small
seed_small_time=$seed_time
seeded="$tmp/small.seeded.json"

ctl POST /iam-audit/reset >/dev/null
t0=$(now)
scan "$tmp/a-report" "$tmp/a-report.log" --concurrency "$CONC"
echo "credential-report path: exit $scan_rc in $(elapsed "$t0") s"
ctl GET /iam-audit/calls --out "$tmp/a-report.calls.json"
helper check-out --dir "$tmp/a-report" --accounts $((SMALL + 1)) --users $((SMALL * USERS))

ctl POST /iam-audit/reset >/dev/null
ctl POST /iam-audit/faults --body '{"report_pending": {}}' >/dev/null # every account, forever
t0=$(now)
scan "$tmp/a-per-user" "$tmp/a-per-user.log" --concurrency "$CONC" --report-deadline 1
echo "per-user path (report never ready, --report-deadline 1): exit $scan_rc in $(elapsed "$t0") s"
ctl GET /iam-audit/calls --out "$tmp/a-per-user.calls.json"
helper check-out --dir "$tmp/a-per-user" --accounts $((SMALL + 1)) --users $((SMALL * USERS))
grep -q "per-user calls" "$tmp"/a-per-user/inventory_*.json ||
    die "the forced run did not say it used per-user calls (inventory notes)"
echo
helper calls --spec "$tmp/small.spec.json" --report "$tmp/a-report.calls.json" \
    --per-user "$tmp/a-per-user.calls.json" --json-out "$tmp/run-a.json"

# --- 3. Run B: the timed scan -----------------------------------------------------------
say "Run B: timed scan of $ACCOUNTS member accounts x $USERS users, ${LATENCY_MS} ms per call, --concurrency $CONC"
# Always a fresh seed: moto keeps a generated credential report, which would spare the
# timed scan the first GenerateCredentialReport (STARTED) and the scanner's wait after it.
echo "seeding (one request; ~7 ms per API call the seed makes, minutes for 100 x 50)..."
seed "$ACCOUNTS" big
seeded="$tmp/big.seeded.json"

ctl POST /iam-audit/reset >/dev/null
ctl POST /iam-audit/faults --body "{\"latency_ms\": $LATENCY_MS}" >/dev/null
rss="n/a"
if [ -x /usr/bin/time ]; then
    wrap=(/usr/bin/time -v -o "$tmp/b.time")
fi
t0=$(now)
scan "$tmp/b" "$tmp/b.log" --concurrency "$CONC"
wall=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
wrap=()
if [ -s "$tmp/b.time" ]; then
    # "Elapsed (wall clock) time (h:mm:ss or m:ss): 1:23.45" and "Maximum resident set size (kbytes): 12345"
    wall=$(sed -n 's/.*Elapsed (wall clock) time[^:]*: *//p' "$tmp/b.time" |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): *//p' "$tmp/b.time")
    [ -n "$kb" ] && rss="$((kb / 1024)) MiB"
fi
echo "scan exit $scan_rc, wall $wall s, peak RSS $rss (wall from $([ -s "$tmp/b.time" ] && echo '/usr/bin/time -v' || echo 'date +%s.%N'))"
ctl GET '/iam-audit/calls?log=1' --out "$tmp/b.calls.json" --timeout 600
helper check-out --dir "$tmp/b" --accounts $((ACCOUNTS + 1)) --users $((ACCOUNTS * USERS))
echo
verdict=0
helper model --calls "$tmp/b.calls.json" --latency-ms "$LATENCY_MS" --concurrency "$CONC" \
    --wall "$wall" --factor "$FACTOR" --json-out "$tmp/run-b.json"
grep -q '"verdict": "PASS"' "$tmp/run-b.json" || verdict=1
echo
helper diagnose --calls "$tmp/b.calls.json" --latency-ms "$LATENCY_MS" --concurrency "$CONC" --wall "$wall"

# --- 4. summary -------------------------------------------------------------------------
machine="$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') at the end"
extra=$("$PY" -c 'import json,sys; a=sys.argv; print(json.dumps({"accounts": int(a[1]), "users_per_account": int(a[2]), "users": int(a[1]) * int(a[2]), "rss": a[3], "seed_time": a[4] + " s (one request, " + a[1] + " x " + a[2] + ")", "machine": a[5]}))' \
    "$ACCOUNTS" "$USERS" "$rss" "$seed_time" "$machine")
say "Summary (Markdown, for README.md)"
echo
helper summary --run-a "$tmp/run-a.json" --run-b "$tmp/run-b.json" --extra "$extra"
echo
if [ "$verdict" = 0 ]; then
    echo "PASS: wall $wall s <= $FACTOR x lower bound"
else
    echo "FAIL: wall $wall s > $FACTOR x lower bound (see 'Where the time goes' above)"
fi
exit "$verdict"
