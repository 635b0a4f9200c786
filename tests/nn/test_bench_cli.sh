#!/usr/bin/env bash
# test_bench_cli.sh — `xraycls bench` end to end on a tiny case (resnet18, batch 2, 32 px, one
# step): the table (with the model's form per mode) and the JSON object carry the measurements asked for, --mode picks them, and
# bad arguments exit 2 with a message naming the problem. Exits non-zero on the first failure.
set -euo pipefail

. "$(dirname "$0")/../cli/cmd_lib.sh"

tiny=(--batch 2 --size 32 --steps 1 --warmup 0 --device cpu --threads 1)

run 0 bench --arch resnet18 "${tiny[@]}"
has "$TMP/out" "xraycls bench: resnet18, batch 2, 32x32 px, cpu (1 thread)"
grep -qE '^train +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+  nchw$' "$TMP/out" || fail "no train row"
# inference runs the form eval and predict use: folded, channels_last on the CPU (auto)
grep -qE '^infer +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+  channels_last, bn folded$' "$TMP/out" || fail "no infer row"
has "$TMP/err" "bench: threads: 1 (--threads)"
has "$TMP/out" "peak RSS MB"

run 0 bench "${tiny[@]}" --mode infer --json --arch densenet121
/usr/bin/env python3 - "$TMP/out" <<'PY' || fail "bad JSON from bench --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["arch"] == "densenet121" and d["batch"] == 2 and d["size"] == 32, d
assert "train" not in d and d["infer"]["images_per_s"] > 0, d
assert d["infer"]["layout"] == "channels_last" and d["infer"]["bn_folded"] is True, d
assert 10 < d["infer"]["peak_rss_mb"] < 100000, d
PY

run 0 bench --arch resnet18 "${tiny[@]}" --mode train --channels-last
has "$TMP/out" "channels_last"
lacks "$TMP/out" "infer"

# forced forms: NCHW unfolded, and a refused layout
run 0 bench --arch resnet18 "${tiny[@]}" --mode infer --layout nchw --no-fold
grep -qE '^infer +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+  nchw$' "$TMP/out" || fail "no unfolded NCHW infer row"
run 2 bench --arch resnet18 "${tiny[@]}" --layout nhwc
has "$TMP/err" "--layout must be nchw, channels_last or auto, got 'nhwc'"
# without --threads: OMP_NUM_THREADS (set by the test runner), else every usable CPU
OMP_NUM_THREADS=1 run 0 bench --arch resnet18 --batch 2 --size 32 --steps 1 --warmup 0 --device cpu --mode infer
has "$TMP/err" "bench: threads: 1 (OMP_NUM_THREADS)"
( unset OMP_NUM_THREADS; taskset -c 0 "$BIN" bench --arch resnet18 --batch 2 --size 32 --steps 1 --warmup 0 \
    --device cpu --mode infer >"$TMP/out" 2>"$TMP/err" ) || fail "bench under taskset failed"
has "$TMP/err" "bench: threads: 1 (usable CPUs)"

run 2 bench --arch resnet49
has "$TMP/err" "unknown arch 'resnet49' (known: resnet18"
run 2 bench --batch 2
has "$TMP/err" "--arch is required"
run 2 bench --arch resnet18 --size 16
has "$TMP/err" "'--size 16': not in [32, 4096]"
run 2 bench --arch resnet18 --mode fast
has "$TMP/err" "--mode must be train, infer or both, got 'fast'"
run 2 bench --arch resnet18 --steps
has "$TMP/err" "option '--steps' needs a value"
run 2 bench --arch resnet18 --frob
has "$TMP/err" "unknown option '--frob'"
run 0 bench --help
has "$TMP/out" "usage: xraycls bench"
run 2 bench --arch resnet18 --precision fp16
has "$TMP/err" "--precision must be fp32 or bf16, got 'fp16'"
# bf16 autocast runs (on the CPU too) and says so; no device memory on the CPU
run 0 bench --arch resnet18 --mode infer --size 32 --batch 1 --steps 1 --warmup 0 --precision bf16 --json
has "$TMP/out" '"precision": "bf16"'
has "$TMP/out" '"peak_device_mb": null'

echo "test_bench_cli: 1 passed, 0 failed"
