#!/usr/bin/env bash
# Installs what is missing and builds (setup.sh, idempotent), then runs the test suite, leaving
# out tests labelled `slow`. Tests that need what this machine lacks (a GPU) show as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
ctest --test-dir build --output-on-failure -LE slow -j "$(nproc)"
