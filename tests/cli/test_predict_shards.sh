#!/usr/bin/env bash
# test_predict_shards.sh — `predict --shard auto` takes its share from the launch environment
# (RANK/WORLD_SIZE as torchrun sets them, SLURM_PROCID/SLURM_NTASKS, a Slurm array's
# SLURM_ARRAY_TASK_ID/COUNT), and `xraycls merge` joins the shards, CSV and JSON lines, into
# exactly the bytes of one unsharded predict; shards out of order, of two formats or of two
# headers are refused (exit 1, nothing written).
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/shards
S=${XRAYCLS_SOURCE_DIR:?}
rm -rf "$T" && mkdir -p "$T"
. "$S/tests/cli/lib.sh"

"$B" prepare synthetic -o "$T/data" --n 40 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/cfg.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 1, "seed": 1, "device": "cpu", "precision": "fp32", "max_steps_per_epoch": 1},
 "output": {"runs_dir": "$T/runs", "name": "m"}}
JSON
"$B" train --config "$T/cfg.json" >"$T/train.out" 2>&1 || { tail -3 "$T/train.out"; echo "FAIL: train"; exit 1; }
M="$T/runs/m/last.safetensors"
imgs="$T/data/raw/Coronahack-Chest-XRay-Dataset"
# --batch 1: every image is scored alone in every run, so the probabilities (written with %.9g,
# the float exactly) do not depend on which images share its batch, and shards merge to the bytes
P=(predict --model "$M" --device cpu --batch 1)

for fmt in csv jsonl; do
  "$B" "${P[@]}" --format $fmt -o "$T/all.$fmt" "$imgs" 2>/dev/null
  parts=()
  w=3; [ $fmt = jsonl ] && w=2
  for ((r = 0; r < w; r++)); do
    RANK=$r WORLD_SIZE=$w "$B" "${P[@]}" --format $fmt --shard auto -o "$T/s$r.$fmt" "$imgs" 2>"$T/s$r.err"
    rc=$?; check '[ $rc -eq 0 ]' "$fmt: shard auto, rank $r: exit $rc: $(cat "$T/s$r.err")"
    parts+=("$T/s$r.$fmt")
  done
  "$B" merge -o "$T/merged.$fmt" "${parts[@]}" 2>"$T/merge.err"
  rc=$?; check '[ $rc -eq 0 ]' "$fmt: merge: exit $rc: $(cat "$T/merge.err")"
  check 'cmp -s "$T/all.$fmt" "$T/merged.$fmt"' "$fmt: merged shards differ from one unsharded predict"
  check '[ $(wc -l <"$T/s0.$fmt") -lt $(wc -l <"$T/all.$fmt") ]' "$fmt: rank 0 scored everything"
done

# Slurm's variables, an array's first.
SLURM_PROCID=1 SLURM_NTASKS=3 SLURM_JOB_NODELIST=n1 "$B" "${P[@]}" --shard auto -o "$T/p1.csv" "$imgs" 2>/dev/null
check 'cmp -s "$T/p1.csv" "$T/s1.csv"' "SLURM_PROCID=1 of 3 is not shard 2/3"
SLURM_ARRAY_TASK_ID=5 SLURM_ARRAY_TASK_MIN=3 SLURM_ARRAY_TASK_COUNT=3 "$B" "${P[@]}" --shard auto -o "$T/a.csv" "$imgs" 2>/dev/null
check 'cmp -s "$T/a.csv" "$T/s2.csv"' "array task 5 of 3..5 is not shard 3/3"
RANK=1 "$B" "${P[@]}" --shard auto "$imgs" >/dev/null 2>"$T/bad.err"
rc=$?; check '[ $rc -eq 2 ] && grep -q "WORLD_SIZE" "$T/bad.err"' "--shard auto with RANK alone: exit $rc: $(cat "$T/bad.err")"

# Refusals leave nothing.
"$B" merge -o "$T/x.csv" "$T/s1.csv" "$T/s0.csv" "$T/s2.csv" 2>"$T/m1.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "holds .* rows, but shard 1 of 3" "$T/m1.err" && [ ! -e "$T/x.csv" ]' "shards out of order: exit $rc: $(cat "$T/m1.err")"
"$B" merge -o "$T/x.csv" "$T/s0.csv" "$T/s1.jsonl" "$T/s2.csv" 2>"$T/m2.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "one format" "$T/m2.err" && [ ! -e "$T/x.csv" ]' "mixed formats: exit $rc: $(cat "$T/m2.err")"
sed '1s/path/file/' "$T/s1.csv" >"$T/other.csv"
"$B" merge -o "$T/x.csv" "$T/s0.csv" "$T/other.csv" "$T/s2.csv" 2>"$T/m3.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "another header" "$T/m3.err" && [ ! -e "$T/x.csv" ]' "two headers: exit $rc: $(cat "$T/m3.err")"
"$B" merge "$T/s0.csv" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "merge without -o should be a usage error, got $rc"

[ $fail -eq 0 ] && echo "test_predict_shards: passed" || echo "test_predict_shards: FAILED"
exit $fail
