#!/usr/bin/env bash
# Builds (via setup.sh) and runs the test suite, leaving out tests labelled `slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/build.ninja ] || bash scripts/setup.sh
cmake --build build
ctest --test-dir build --output-on-failure -LE slow -j "$(nproc)"
