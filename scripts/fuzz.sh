#!/usr/bin/env bash
# scripts/fuzz.sh — builds the libFuzzer targets of tests/fuzz/ with clang into build-fuzz/ and
# runs each for a bounded time over a scratch copy of its committed corpus (the committed
# corpus never grows here). Before fuzzing, every input under tests/fuzz/regressions/<target>/
# is replayed once. Prints one summary line per target and exits non-zero when any target
# crashed (the crashing input is kept under build-fuzz/artifacts/<target>/).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]     default: 30 s, all targets
#
# Environment: CC/CXX (default clang/clang++), FUZZ_BUILD (default build-fuzz),
# FUZZ_KEEP_CORPUS=1 keeps the grown corpus in $FUZZ_BUILD/corpus/<target>/ for inspection.
set -u -o pipefail
cd "$(dirname "$0")/.."

secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors json torchfile csv config jpeg png jpeg_fast dicom plot)
build=${FUZZ_BUILD:-build-fuzz}

case "$secs" in
    ''|*[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]" >&2; exit 2 ;;
esac

start=$(date +%s)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="${CC:-clang}" -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
    -DXRAYCLS_FUZZ=ON -DBUILD_TESTING=OFF >"$build.configure.log" 2>&1 \
    || { cat "$build.configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
mv "$build.configure.log" "$build/configure.log"
bins=()
for t in "${targets[@]}"; do bins+=("fuzz_$t"); done
cmake --build "$build" --target "${bins[@]}" || { echo "fuzz: build failed" >&2; exit 1; }
echo "fuzz: built ${#bins[@]} targets in $(( $(date +%s) - start )) s"

failed=0
summary=()
for t in "${targets[@]}"; do
    bin="$build/fuzz_$t"
    art="$build/artifacts/$t"
    work="$build/corpus/$t"
    log="$build/logs/$t.log"
    rm -rf "$work" "$art"
    mkdir -p "$work" "$art" "$build/logs"
    cp tests/fuzz/corpus/"$t"/* "$work"/

    # Regression inputs: run once each (libFuzzer executes file arguments and exits).
    reg=tests/fuzz/regressions/$t
    nreg=0
    if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
        nreg=$(ls -A "$reg" | wc -l)
        if ! "$bin" -rss_limit_mb=2048 -timeout=20 "$reg"/* >"$build/logs/$t.regressions.log" 2>&1; then
            summary+=("$(printf '%-12s FAILED: a regression input crashes (see %s)' "$t" "$build/logs/$t.regressions.log")")
            failed=1
            continue
        fi
    fi

    # The fuzzing run. -timeout: one input taking longer is a finding (a hang);
    # -rss_limit_mb: so is a parser that allocates far beyond its input.
    dict=()
    [ -f tests/fuzz/"$t".dict ] && dict=(-dict=tests/fuzz/"$t".dict)
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 "${dict[@]}" \
        -print_final_stats=1 -artifact_prefix="$art/" "$work" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
    crash=$(ls "$art" 2>/dev/null | head -1)
    if [ $rc -ne 0 ] || [ -n "$crash" ]; then
        failed=1
        why=$(grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error|fuzz assertion' "$log")
        summary+=("$(printf '%-12s CRASHED after %s execs: %s; input %s; log %s' "$t" "${execs:-?}" "${why:-exit $rc}" "$art/${crash:-?}" "$log")")
    else
        summary+=("$(printf '%-12s ok: %s execs in %s s, cov %s, ft %s, corpus %s -> %s, %s regression inputs' \
            "$t" "${execs:-?}" "$secs" "${cov:-?}" "${ft:-?}" "$(ls tests/fuzz/corpus/"$t" | wc -l)" "${corp:-?}" "$nreg")")
    fi
    [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$work"
done

echo "fuzz summary ($secs s per target, $(( $(date +%s) - start )) s in all):"
printf '  %s\n' "${summary[@]}"
exit $failed
