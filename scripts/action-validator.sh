#!/usr/bin/env bash
# Checks the example GitHub Actions workflows against GitHub's workflow schema with the pinned
# action-validator (npm, tools/action-validator/package-lock.json), installed into
# tools/action-validator/node_modules on first use. Fails on any error.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tools/action-validator
bin=$dir/node_modules/.bin/action-validator
if [ ! -x "$bin" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.installed" ]; then
  command -v npm >/dev/null || { echo "action-validator.sh: npm is needed (Node.js)" >&2; exit 1; }
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >&2
  touch "$dir/node_modules/.installed"
fi
status=0
for f in examples/github-actions/*.yml; do
  if "$bin" "$f" >/dev/null 2>"$dir/last-error.txt" && [ ! -s "$dir/last-error.txt" ]; then
    echo "action-validator: $f ok"
  else
    "$bin" "$f" || true
    echo "action-validator: $f has errors" >&2
    status=1
  fi
done
exit $status
