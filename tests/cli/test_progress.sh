#!/usr/bin/env bash
# test_progress.sh — progress a user sees: `train`'s log lines give the step out of the epoch's
# steps and the epoch's ETA (train.log and standard error off a terminal), and `predict` draws a
# bar with count, rate and ETA on a terminal (run under script(1) for a pseudo-terminal) and
# none off one. Tiny sizes: ResNet-18 on 40 synthetic 32 px images, one epoch.
set -euo pipefail

BIN=${XRAYCLS_BINARY:?XRAYCLS_BINARY must name the xraycls binary}
mkdir -p "${XRAYCLS_TMP:?XRAYCLS_TMP must name a scratch folder}"
TMP=$(mktemp -d "$XRAYCLS_TMP/run.XXXXXX")
. "$(dirname "$0")/lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" prepare synthetic -o "$TMP/d" --n 40 --size 32 --min-side 64 --max-side 96 >/dev/null 2>&1 || fail "prepare"
cat >"$TMP/tiny.json" <<JSON
{"data": {"path": "$TMP/d", "batch_size": 8}, "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 1, "log_every": 1, "tensorboard": false}, "output": {"runs_dir": "$TMP/runs"}}
JSON
OMP_NUM_THREADS=2 "$BIN" train --config "$TMP/tiny.json" >"$TMP/train.out" 2>"$TMP/train.err" || { cat "$TMP/train.err" >&2; fail "train"; }
RUN="$TMP/runs/tiny"
# the train split's size fixes the steps: ceil(n_train / 8)
NTRAIN=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["splits"]["train"]["count"])' "$TMP/d/dataset.json")
for f in "$RUN/train.log" "$TMP/train.err"; do
    grep -qE 'epoch 1 step 1 of [0-9]+  loss .* img/s  ETA [0-9]+:[0-9]{2}$' "$f" ||
        { cat "$f" >&2; fail "$f: no 'epoch 1 step 1 of N ... ETA m:ss' line"; }
done
STEPS=$(sed -nE 's/.*epoch 1 step 1 of ([0-9]+) .*/\1/p' "$RUN/train.log")
LAST=$(grep -cE 'epoch 1 step [0-9]+ of ' "$RUN/train.log")
[ "$LAST" -eq "$STEPS" ] || fail "train.log has $LAST step lines for an epoch of $STEPS steps"
[ "$STEPS" -eq $(((NTRAIN + 7) / 8)) ] || fail "$STEPS steps for $NTRAIN images of batch 8"
grep -qE "epoch 1 step $STEPS of $STEPS .* ETA 0:00$" "$RUN/train.log" || fail "the last step's ETA is not 0:00"

# predict off a terminal: no bar (no carriage return), the rows on stdout
"$BIN" predict --model "$RUN/last.safetensors" "$TMP/d/raw" >"$TMP/p.csv" 2>"$TMP/p.err" || { cat "$TMP/p.err" >&2; fail "predict"; }
! grep -q $'\r' "$TMP/p.err" || fail "predict drew a bar off a terminal"
[ "$(wc -l <"$TMP/p.csv")" -eq 41 ] || fail "predict wrote $(wc -l <"$TMP/p.csv") lines, want 41"
# on a terminal: the bar with its count, rate and ETA, ending at 40/40
script -qfec "'$BIN' predict --model '$RUN/last.safetensors' -o '$TMP/q.csv' '$TMP/d/raw'" /dev/null >"$TMP/tty.out" 2>&1 ||
    { cat "$TMP/tty.out" >&2; fail "predict on a terminal"; }
grep -q $'\r' "$TMP/tty.out" || { cat "$TMP/tty.out" >&2; fail "no bar on a terminal"; }
# (the ETA shows while the bar runs; the final draw gives the rate)
grep -qE 'scoring +\[[.#]+\] +[0-9]+/40 .*ETA' "$TMP/tty.out" || { cat -v "$TMP/tty.out" >&2; fail "the bar lacks its ETA"; }
grep -qE 'scoring +\[#+\] +40/40 +100\.0% +[0-9.]+/s' "$TMP/tty.out" || { cat -v "$TMP/tty.out" >&2; fail "the bar lacks count or rate"; }
cmp -s <(tail -n +2 "$TMP/p.csv") <(tail -n +2 "$TMP/q.csv") || fail "the rows differ with a bar"
drop "$RUN"

rm -rf "$TMP"
echo "test_progress: all checks passed"
