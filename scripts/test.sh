#!/usr/bin/env bash
# The whole test suite, on a fresh machine: builds and runs every test of the crate.
# Hermetic: no AWS config or credentials from the environment are read, no network but
# loopback is used. Installs what it needs itself: Rust crates through cargo, the pinned
# moto AWS emulator (tests/moto/requirements.txt) in .venv-moto/ through scripts/moto.sh, and
# the pinned cfn-lint (deploy/requirements-lint.txt) in .venv-cfn-lint/ through
# scripts/cfn-lint.sh, which lints deploy/*.yaml and fails on any finding, and the pinned
# action-validator (npm, tools/action-validator/) for examples/github-actions/*.yml, and
# Debian's Chromium (scripts/chromium.sh) in which tests/html_report.rs renders the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."

# Never let a developer's or CI machine's AWS setup leak into the tests.
for v in $(env | sed -n 's/^\(AWS_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true

bash scripts/moto.sh >/dev/null
bash scripts/cfn-lint.sh
bash scripts/action-validator.sh
bash scripts/chromium.sh >/dev/null
# Every test target (benches are left to `cargo bench`).
cargo test --locked "$@"
# The SARIF files, through Microsoft's SARIF Multitool with GitHub's rule kinds (pinned npm
# package in .tools/sarif/; see the script).
bash scripts/sarif-multitool.sh
