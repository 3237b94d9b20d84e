#!/usr/bin/env bash
# The Python environment of the moto test harness (tests/moto/): `.venv-moto/` with the pinned
# tests/moto/requirements.txt (see scripts/venv.sh). Prints the path of the venv's python on
# stdout — nothing else.
#
#   PY=$(bash scripts/moto.sh) && "$PY" tests/moto/server.py
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/venv.sh" moto tests/moto/requirements.txt \
    -c 'import moto, boto3, flask, werkzeug'
