#!/usr/bin/env bash
# test_train_resume.sh — `xraycls train` end to end on a tiny synthetic dataset (resnet18, 32 px,
# batch 4, CPU): a run of 2 epochs equals, bit for bit, 1 epoch + --resume to 2 epochs, and a run
# stopped by SIGTERM mid-epoch and resumed; an existing run folder is refused; a non-finite loss
# stops with the epoch and step; the run folder holds its files.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/resume
rm -rf "$T" && mkdir -p "$T"
. "$(dirname "$0")/lib.sh"

"$B" prepare synthetic -o "$T/data" --n 40 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }

cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4, "sampler": "shuffle"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 2, "seed": 3, "device": "cpu", "precision": "fp32", "log_every": 1,
           "max_steps_per_epoch": 3},
 "output": {"runs_dir": "$T/runs"}}
JSON

# 0a. A dataset folder whose train split was replaced by another prepare's (another seed, so
# another validation split) is refused, naming both ids; so is one without dataset.json.
"$B" prepare synthetic -o "$T/data2" --n 40 --size 32 --seed 9 >/dev/null 2>&1
mkdir -p "$T/mixed" && cp "$T/data/"*.safetensors "$T/data/dataset.json" "$T/mixed/" && cp "$T/data2/train.safetensors" "$T/mixed/"
"$B" train --config "$T/tiny.json" --set data.path="$T/mixed" --set output.name=mixed >/dev/null 2>"$T/mixed.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "mixes files of different prepare runs" "$T/mixed.err"' "a mixed dataset folder was not refused: $(cat "$T/mixed.err")"
check '[ ! -e "$T/runs/mixed" ]' "a refused run left a run folder"
rm "$T/mixed/dataset.json" && cp "$T/data/train.safetensors" "$T/mixed/"
"$B" train --config "$T/tiny.json" --set data.path="$T/mixed" --set output.name=mixed >/dev/null 2>"$T/mixed2.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "has no dataset.json" "$T/mixed2.err"' "a dataset without dataset.json was not refused: $(cat "$T/mixed2.err")"
rm -rf "$T/mixed" "$T/data2"

# 0. A runs folder that cannot be created: exit 1, the folder named, nothing trained.
"$B" train --config "$T/tiny.json" --set output.runs_dir=/proc/xraycls-runs >/dev/null 2>"$T/ro.err"
rc=$?; check '[ $rc -eq 1 ]' "unwritable runs folder: exit $rc"
check 'grep -q "cannot create folder .*/proc/xraycls-runs" "$T/ro.err"' "unwritable runs folder: not named"

# 1. Uninterrupted 2 epochs.
"$B" train --config "$T/tiny.json" --set output.name=full >"$T/full.out" 2>"$T/full.err"
rc=$?; check '[ $rc -eq 0 ]' "full run failed: $(tail -3 "$T/full.err")"
for f in config.json metrics.jsonl metrics.csv train.log last.safetensors best.safetensors; do
  check '[ -s "$T/runs/full/$f" ]' "full run lacks $f"
done
check '[ $(wc -l <"$T/runs/full/metrics.jsonl") -eq 2 ]' "metrics.jsonl should have 2 lines"
check 'head -1 "$T/runs/full/metrics.csv" | grep -q "^epoch,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,lr,seconds,images_per_s,val_auroc,val_macro_f1$"' "metrics.csv header"

# 2. 1 epoch, then --resume to 2.
"$B" train --config "$T/tiny.json" --set output.name=part --set train.epochs=1 >"$T/part.out" 2>"$T/part.err"
rc=$?; check '[ $rc -eq 0 ]' "part run failed: $(tail -3 "$T/part.err")"
"$B" train --resume "$T/runs/part" --set train.epochs=2 >"$T/res.out" 2>"$T/res.err"
rc=$?; check '[ $rc -eq 0 ]' "resume failed: $(tail -3 "$T/res.err")"
check 'same "$T/runs/full/last.safetensors" "$T/runs/part/last.safetensors"' "1+1 epochs differ from 2 epochs"
check '[ $(wc -l <"$T/runs/part/metrics.jsonl") -eq 2 ]' "resumed metrics.jsonl should have 2 lines"
check 'cmp -s <(cut -d, -f1-6 "$T/runs/full/metrics.csv") <(cut -d, -f1-6 "$T/runs/part/metrics.csv")' "resumed metrics differ"
drop "$T/runs/part"

# 3. SIGTERM mid-epoch, then --resume.
"$B" train --config "$T/tiny.json" --set output.name=sig >"$T/sig.out" 2>"$T/sig.err" &
pid=$!
for _ in $(seq 1 600); do grep -q "epoch 1 step 1 " "$T/sig.err" 2>/dev/null && break; sleep 0.05; done
kill -TERM "$pid" 2>/dev/null
wait "$pid"; rc=$?
check '[ $rc -eq 143 ]' "SIGTERM run should exit 143, got $rc: $(tail -2 "$T/sig.err")"
check 'grep -q "continue with: xraycls train --resume" "$T/sig.err"' "no resume hint after SIGTERM"
check '[ -s "$T/runs/sig/last.safetensors" ]' "no checkpoint after SIGTERM"
"$B" train --resume "$T/runs/sig" >"$T/sig2.out" 2>"$T/sig2.err"
rc=$?; check '[ $rc -eq 0 ]' "resume after SIGTERM failed: $(tail -3 "$T/sig2.err")"
check 'same "$T/runs/full/last.safetensors" "$T/runs/sig/last.safetensors"' "SIGTERM + resume differs from the uninterrupted run"

# 4. An existing run folder is refused, and nothing in it changes.
before=$(md5sum "$T/runs/full/last.safetensors")
"$B" train --config "$T/tiny.json" --set output.name=full >/dev/null 2>"$T/exists.err"
rc=$?; check '[ $rc -eq 1 ]' "existing run folder not refused"
check 'grep -q "run folder .* exists: continue it with --resume" "$T/exists.err"' "message for an existing folder: $(cat "$T/exists.err")"
check '[ "$(md5sum "$T/runs/full/last.safetensors")" = "$before" ]' "refused run changed the checkpoint"

# 4b. A run folder in use by another process (its lock held, as a running train holds it) is
# refused on --resume and on --overwrite, naming the holder's pid; nothing in it changes.
/usr/bin/python3 - "$T/runs/full" >"$T/holder.out" 2>&1 <<'PY' &
import fcntl, os, sys, time
fd = os.open(sys.argv[1] + "/.lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, b"%d\n" % os.getpid())
open(sys.argv[1] + "/.held", "w").close()
time.sleep(60)
PY
holder=$!
for _ in $(seq 100); do [ -e "$T/runs/full/.held" ] && break; sleep 0.1; done
"$B" train --resume "$T/runs/full" >/dev/null 2>"$T/locked.err"
rc=$?; check '[ $rc -eq 1 ]' "resume of a run folder in use not refused"
check 'grep -q "is in use by process $holder" "$T/locked.err"' "message for a folder in use: $(cat "$T/locked.err")"
"$B" train --config "$T/tiny.json" --set output.name=full --overwrite >/dev/null 2>"$T/locked2.err"
rc=$?; check '[ $rc -eq 1 ]' "--overwrite of a run folder in use not refused"
check 'grep -q "is in use by process $holder" "$T/locked2.err"' "--overwrite message for a folder in use: $(cat "$T/locked2.err")"
check '[ "$(md5sum "$T/runs/full/last.safetensors")" = "$before" ]' "a refused run changed the checkpoint of a folder in use"
kill $holder 2>/dev/null; wait $holder 2>/dev/null
rm -f "$T/runs/full/.held"

# 4c. --overwrite replaces the run: the old evaluation folders and event files go with it (they
# describe checkpoints that no longer exist); a folder it did not write stays.
mkdir -p "$T/runs/full/eval-data-test" "$T/runs/full/mine" && echo '{}' >"$T/runs/full/eval-data-test/eval.json" &&
  echo keep >"$T/runs/full/mine/notes.txt"
"$B" train --config "$T/tiny.json" --set output.name=full --set train.epochs=1 --overwrite >/dev/null 2>"$T/ow.err"
rc=$?; check '[ $rc -eq 0 ]' "train --overwrite failed: $(tail -3 "$T/ow.err")"
check '[ ! -e "$T/runs/full/eval-data-test" ] && [ -f "$T/runs/full/mine/notes.txt" ]' "--overwrite left the old eval folder or removed a foreign one: $(ls "$T/runs/full")"
check 'grep -q "removed the earlier run.s eval-data-test/" "$T/runs/full/train.log"' "--overwrite did not log what it removed"

# 5. A config that differs from the run's is refused on resume.
"$B" train --resume "$T/runs/full" --set optim.lr=0.5 >/dev/null 2>"$T/diff.err"
rc=$?; check '[ $rc -eq 1 ]' "resume with another lr not refused"
check 'grep -q "config differs" "$T/diff.err"' "message for a differing config: $(cat "$T/diff.err")"

# 6. A non-finite loss stops with epoch and step.
"$B" train --config "$T/tiny.json" --set output.name=nan --set optim.lr=1e30 >/dev/null 2>"$T/nan.err"
rc=$?; check '[ $rc -eq 1 ]' "non-finite run did not fail"
check 'grep -q "non-finite .* at epoch 1 step [0-9]" "$T/nan.err"' "message for a non-finite loss: $(tail -1 "$T/nan.err")"

# 6b. With on_nonfinite "skip", non-finite steps are skipped and said so, not trained on.
"$B" train --config "$T/tiny.json" --set output.name=skip --set optim.lr=1e30 --set train.on_nonfinite=skip >/dev/null 2>"$T/skip.err"
check 'grep -q "epoch 1 step [0-9]*: non-finite loss, step skipped" "$T/skip.err"' "no skipped step reported: $(tail -2 "$T/skip.err")"

# 7. Config errors name the key.
"$B" train --config "$T/tiny.json" --set train.epoch=3 >/dev/null 2>"$T/key.err"
rc=$?; check '[ $rc -eq 1 ]' "unknown key accepted"
check 'grep -q "unknown key .train.epoch. (did you mean .epochs.?)" "$T/key.err"' "unknown key message: $(cat "$T/key.err")"

[ $fail -eq 0 ] && echo "cli_test_train_resume: ok"
exit $fail
