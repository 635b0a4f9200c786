#!/usr/bin/env bash
# Installs what is missing and builds (setup.sh, idempotent), then runs the test suite, leaving
# out tests labelled `slow`. Tests that need what this machine lacks (a GPU) show as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The suite holds about 1.2 GB of scratch at its peak (two whole-network tests at once, each
# removing its folder when it passes); say so up front rather than fail on ENOSPC mid-run.
free_mb=$(df -Pm build | awk 'NR == 2 {print $4}')
echo "test: ${free_mb} MB free under build/"
if [ "${free_mb:-0}" -lt 2048 ]; then
  echo "test: warning: under 2 GB free; whole-network tests may fail with 'No space left on device'" >&2
fi
ctest --test-dir build --output-on-failure -LE slow -j "$(nproc)"
