#!/usr/bin/env bash
# Installs Debian's Chromium (package `chromium`) when it is not on the machine: the HTML report
# is checked in a real headless browser by tests/html_report.rs. Prints the browser's path.
# Set IAM_AUDIT_CHROMIUM to use another Chromium binary instead.
set -euo pipefail

if [ -n "${IAM_AUDIT_CHROMIUM:-}" ]; then
  echo "$IAM_AUDIT_CHROMIUM"
  exit 0
fi
if ! command -v chromium >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  # The package lists may be missing or stale on a fresh machine: update once and retry.
  if ! $sudo apt-get install -y -q --no-install-recommends chromium >&2; then
    $sudo apt-get update -q >&2
    $sudo apt-get install -y -q --no-install-recommends chromium >&2
  fi
fi
command -v chromium
