#!/usr/bin/env bash
# test_tensorboard.sh — TensorBoard event files of `xraycls train` (docs/TENSORBOARD.md), read
# back with Google's protobuf from message classes built out of proto/tensorboard/ by tb_check.py
# (which says what it checks: framing and CRC-32C of every record, scalars equal to
# metrics.jsonl's and train.log's, PNGs that decode, the config as text), on a tiny synthetic
# run (resnet18, 32 px, batch 4, 2 epochs of 3 steps, CPU):
#   1. a whole run writes one events file in runs/<name>/tb/;
#   2. a run stopped by SIGTERM mid-epoch and resumed has two files that together hold every
#      epoch and logged step once (the stopped start flushed its records);
#   3. train.tensorboard false writes no tb/ folder; a value that is not true/false/"auto" is
#      refused naming the key.
set -u
B=${XRAYCLS_BINARY:?}
S=${XRAYCLS_SOURCE_DIR:?}
T=${XRAYCLS_TMP:?}/tensorboard
rm -rf "$T" && mkdir -p "$T"
. "$S/tests/cli/lib.sh"
PY=/usr/bin/python3

"$B" prepare synthetic -o "$T/data" --n 40 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4, "sampler": "shuffle"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 2, "seed": 3, "device": "cpu", "precision": "fp32", "log_every": 1,
           "max_steps_per_epoch": 3},
 "output": {"runs_dir": "$T/runs"}}
JSON

# 3b. a bad value is refused before anything is made
"$B" train --config "$T/tiny.json" --set output.name=bad --set train.tensorboard=maybe >/dev/null 2>"$T/bad.err"
rc=$?; check '[ $rc -eq 1 ]' "train.tensorboard=maybe: exit $rc"
check 'grep -q "train.tensorboard: expected true, false or \"auto\"" "$T/bad.err"' "message: $(cat "$T/bad.err")"
check '[ ! -e "$T/runs/bad" ]' "a refused config left a run folder"

"$B" train --config "$T/tiny.json" --set output.name=off --set train.tensorboard=false >/dev/null 2>"$T/off.err"
rc=$?; check '[ $rc -eq 0 ]' "run without tensorboard failed: $(tail -3 "$T/off.err")"
check '[ -s "$T/runs/off/metrics.jsonl" ] && [ ! -e "$T/runs/off/tb" ]' "train.tensorboard=false: a tb/ folder was written"
drop "$T/runs/off"

if grep -q "not written (this build of xraycls has no protobuf-c" "$T/runs/off/train.log" 2>/dev/null; then
  check false "train.tensorboard=false still logs that tensorboard is unavailable"
fi

"$B" train --config "$T/tiny.json" --set output.name=full >/dev/null 2>"$T/full.err"
rc=$?; check '[ $rc -eq 0 ]' "full run failed: $(tail -3 "$T/full.err")"
if grep -q "tensorboard: not written" "$T/runs/full/train.log"; then
  # A build without protobuf-c: the default says so once and writes nothing; true is refused.
  check '[ ! -e "$T/runs/full/tb" ]' "a build without protobuf-c wrote tb/"
  check '[ $(grep -c "tensorboard: not written" "$T/runs/full/train.log") -eq 1 ]' "the unavailable line is not said once"
  "$B" train --config "$T/tiny.json" --set output.name=on --set train.tensorboard=true >/dev/null 2>"$T/on.err"
  rc=$?; check '[ $rc -eq 1 ]' "train.tensorboard=true without protobuf-c: exit $rc"
  check 'grep -q "train.tensorboard is true, but this build of xraycls has no protobuf-c" "$T/on.err"' "message: $(cat "$T/on.err")"
  echo "note: this build has no protobuf-c; event files not checked"
  [ $fail -eq 0 ] && echo "train_test_tensorboard: ok"
  exit $fail
fi
drop "$T/runs/full"

# The message classes come from our .proto files, compiled by protoc when there is one, else by
# protoc-c (both are libprotoc's front end and write the same descriptor set).
PROTOC=$(command -v protoc || command -v protoc-c)
check '[ -n "$PROTOC" ]' "neither protoc nor protoc-c: cannot read the events back"
"$PROTOC" -I"$S/proto" --include_imports -o "$T/tb.desc" "$S/proto/tensorboard/event.proto" 2>"$T/protoc.err"
check '[ -s "$T/tb.desc" ]' "descriptor set not made: $(cat "$T/protoc.err")"

# A build without cairo leaves the confusion-matrix image out (xraycls --version says which).
FIG=1; "$B" --version | grep -q "^figures: no" && FIG=0
# 1. one file, everything in it
out=$("$PY" "$S/tests/train/tb_check.py" "$T/runs/full" "$T/tb.desc" 1 $FIG 2>&1)
check '[ $? -eq 0 ]' "full run's events: $out"
echo "full: $out"
check 'grep -q "tensorboard: events in .*/runs/full/tb/events.out.tfevents\." "$T/runs/full/train.log"' "train.log does not name the events file"

# 2. SIGTERM mid-epoch 1, then --resume: two files
"$B" train --config "$T/tiny.json" --set output.name=sig >/dev/null 2>"$T/sig.err" &
pid=$!
for _ in $(seq 1 600); do grep -q "epoch 1 step 1 " "$T/sig.err" 2>/dev/null && break; sleep 0.05; done
kill -TERM "$pid" 2>/dev/null
wait "$pid"; rc=$?
check '[ $rc -eq 143 ]' "SIGTERM run should exit 143, got $rc: $(tail -2 "$T/sig.err")"
sleep 1 # the resumed start's file then has another Unix time in its name
"$B" train --resume "$T/runs/sig" >/dev/null 2>"$T/sig2.err"
rc=$?; check '[ $rc -eq 0 ]' "resume failed: $(tail -3 "$T/sig2.err")"
out=$("$PY" "$S/tests/train/tb_check.py" "$T/runs/sig" "$T/tb.desc" 2 $FIG 2>&1)
check '[ $? -eq 0 ]' "stopped and resumed run's events: $out"
echo "stopped + resumed: $out"
drop "$T/runs/sig"

[ $fail -eq 0 ] && echo "train_test_tensorboard: ok"
exit $fail
