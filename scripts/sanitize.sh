#!/usr/bin/env bash
# scripts/sanitize.sh — builds the C code with AddressSanitizer + UBSan (XRAYCLS_SANITIZE=ON,
# the default compiler; libtorch itself is not instrumented, but the runtimes see its mallocs)
# into build-asan/, and runs the unit and end-to-end tests under them with every report fatal:
# the first ASan or UBSan report, or a leak at exit, aborts its test and ctest fails.
#
#   scripts/sanitize.sh [LABEL_REGEX [EXCLUDE_REGEX]]
#
# LABEL_REGEX (default '.', every area) picks the areas by ctest label; tests labelled slow are
# always skipped. The fuzz replays (fuzz_replay_*, tests/fuzz/) carry their area's label.
# EXCLUDE_REGEX (default none) drops tests by name. For a quicker run over the C-heavy parsers
# only: scripts/sanitize.sh 'core|weights|data'. Environment: SAN_BUILD (default build-asan),
# SAN_JOBS (ctest -j, default 2).
#
# Leak checking is on (detect_leaks=1): libtorch's process-lifetime allocations give no leak
# reports in these tests; fontconfig's (the fonts of the figures, resolved once through cairo and
# cached until exit) are suppressed by scripts/lsan.supp, which names nothing of xraycls's own.
# intercept_tls_get_addr=0: the CLI
# loads libtorch with dlopen (libxraycls_torch.so), so libtorch's thread-locals are dynamic TLS,
# and the runtime's __tls_get_addr hook (GCC 12) mistakes some of glibc's blocks for an old
# layout and hands the leak checker a bogus range ("Tracer caught signal 11" at exit). Without
# the hook the blocks are still scanned, as the heap blocks glibc allocates them in.
set -u -o pipefail
cd "$(dirname "$0")/.."

labels=${1:-.}
exclude=${2-}
build=${SAN_BUILD:-build-asan}
sel=(-L "$labels" -LE slow)
[ -z "$exclude" ] || sel+=(-E "$exclude")
start=$(date +%s)

cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXRAYCLS_SANITIZE=ON \
    >/dev/null || { echo "sanitize: configure failed" >&2; exit 1; }

# Build only what the selected tests run: their executables (tests/<area>/test_x.c is the
# target <area>_test_x; the test fuzz_replay_x runs replay_x) and the CLI for shell tests.
targets=$(ctest --test-dir "$build" -N "${sel[@]}" --show-only=json-v1 | python3 -c '
import json, os, sys
names = set()
for t in json.load(sys.stdin)["tests"]:
    n = t["name"]
    area, _, base = n.partition("_")
    if n.startswith("fuzz_replay_"):
        names.add("replay_" + n[len("fuzz_replay_"):])
    elif os.path.exists(os.path.join("tests", area, base + ".sh")):
        names.add("xraycls")
    else:
        names.add(n)
print(" ".join(sorted(names)))')
[ -n "$targets" ] || { echo "sanitize: no tests match '$labels'" >&2; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build" --target $targets || { echo "sanitize: build failed" >&2; exit 1; }
built=$(date +%s)
echo "sanitize: built in $(( built - start )) s"

export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:intercept_tls_get_addr=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"

ctest --test-dir "$build" "${sel[@]}" -j "${SAN_JOBS:-2}" --output-on-failure
rc=$?
end=$(date +%s)
echo "sanitize: tests ($labels; not slow; not ${exclude:--}) $( [ $rc -eq 0 ] && echo passed || echo FAILED ) in $(( end - built )) s; $(( end - start )) s in all"
exit $rc
