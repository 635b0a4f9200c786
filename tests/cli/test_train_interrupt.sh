#!/usr/bin/env bash
# test_train_interrupt.sh — a training run killed at several points resumes to the same weights
# as an uninterrupted one: SIGKILL (no chance to save: resume from the last epoch checkpoint),
# SIGINT mid-epoch (a consistent mid-epoch checkpoint), and a second signal that exits at once
# without harming the last checkpoint. Everything lives under a path with a space and non-ASCII
# characters.
set -u
B=${XRAYCLS_BINARY:?}
T="${XRAYCLS_TMP:?}/intr dir é"
rm -rf "$T" && mkdir -p "$T"
. "$(dirname "$0")/lib.sh"

"$B" prepare synthetic -o "$T/data set" --n 40 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data set", "batch_size": 4, "sampler": "weighted"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 3, "seed": 5, "device": "cpu", "precision": "fp32", "log_every": 1,
           "max_steps_per_epoch": 4},
 "output": {"runs_dir": "$T/runs"}}
JSON

# Starts a run in the background and waits until its log shows `pattern`.
start_until() { # name pattern
  "$B" train --config "$T/tiny.json" --set "output.name=$1" >"$T/$1.out" 2>"$T/$1.err" &
  pid=$!
  for _ in $(seq 1 1200); do grep -q "$2" "$T/$1.err" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

"$B" train --config "$T/tiny.json" --set output.name=full >"$T/full.out" 2>"$T/full.err"
rc=$?; check '[ $rc -eq 0 ]' "uninterrupted run failed: $(tail -3 "$T/full.err")"

# SIGKILL during epoch 2 and during epoch 3: resume from the last epoch checkpoint.
for at in "epoch 2 step 2 " "epoch 3 step 1 "; do
  name="kill-${at// /}"
  start_until "$name" "$at"; rc=$?; check '[ $rc -eq 0 ]' "$name never reached '$at'"
  kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  check '[ -s "$T/runs/$name/last.safetensors" ]' "$name: no checkpoint left after SIGKILL"
  check '[ -z "$(find "$T/runs/$name" -name "*.tmp")" ]' "$name: temporary files left: $(find "$T/runs/$name" -name '*.tmp')"
  "$B" train --resume "$T/runs/$name" >"$T/$name.res.out" 2>"$T/$name.res.err"
  rc=$?; check '[ $rc -eq 0 ]' "$name: resume failed: $(tail -3 "$T/$name.res.err")"
  check 'same "$T/runs/full/last.safetensors" "$T/runs/$name/last.safetensors"' "$name: resumed weights differ"
  check '[ $(wc -l <"$T/runs/$name/metrics.jsonl") -eq 3 ]' "$name: metrics.jsonl should have 3 lines"
  drop "$T/runs/$name"
done

# SIGINT mid-epoch: a consistent mid-epoch checkpoint, exit 130, exact resume.
start_until int "epoch 2 step 1 "; rc=$?; check '[ $rc -eq 0 ]' "int run never reached epoch 2"
kill -INT "$pid" 2>/dev/null; wait "$pid"; rc=$?
check '[ $rc -eq 130 ]' "SIGINT run should exit 130, got $rc: $(tail -2 "$T/int.err")"
check 'grep -q "resume" "$T/int.err"' "no resume hint after SIGINT"
"$B" train --resume "$T/runs/int" >"$T/int.res.out" 2>"$T/int.res.err"
rc=$?; check '[ $rc -eq 0 ]' "resume after SIGINT failed: $(tail -3 "$T/int.res.err")"
check 'same "$T/runs/full/last.safetensors" "$T/runs/int/last.safetensors"' "SIGINT + resume differs"
drop "$T/runs/int"

# Two signals in a row: the run exits without a new checkpoint, the previous one intact.
start_until twice "epoch 2 step 2 "; rc=$?; check '[ $rc -eq 0 ]' "twice run never reached epoch 2"
before=$(md5sum <"$T/runs/twice/last.safetensors")
kill -TERM "$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; wait "$pid"; rc=$?
check '[ $rc -ne 0 ]' "a signalled run exited 0"
/usr/bin/python3 -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; json.loads(b[8:8+n])' "$T/runs/twice/last.safetensors"
rc=$?; check '[ $rc -eq 0 ]' "checkpoint unreadable after two signals"
check '[ -z "$(find "$T/runs/twice" -name "*.tmp")" ]' "temporary files left after two signals"
"$B" train --resume "$T/runs/twice" >"$T/twice.res.out" 2>"$T/twice.res.err"
rc=$?; check '[ $rc -eq 0 ]' "resume after two signals failed: $(tail -3 "$T/twice.res.err")"
check 'same "$T/runs/full/last.safetensors" "$T/runs/twice/last.safetensors"' "two signals + resume differs"
: "$before"

if [ $fail -eq 0 ]; then echo "test_train_interrupt: 1 passed, 0 failed"; else echo "test_train_interrupt: 0 passed, 1 failed"; fi
exit $fail
