#!/usr/bin/env bash
# tests/scratch.sh CMD [ARG…] — runs one test in a fresh, empty $XRAYCLS_TMP and removes that
# folder when the test passes or skips (exit 0 or 77); a failed test keeps it for reading. The
# suite's disk use is then that of the tests running at once, not the sum over all of them
# (whole-network tests write checkpoints of 45-135 MB each).
rm -rf -- "${XRAYCLS_TMP:?}"
mkdir -p -- "$XRAYCLS_TMP"
"$@"
rc=$?
if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then rm -rf -- "$XRAYCLS_TMP"; fi
exit "$rc"
