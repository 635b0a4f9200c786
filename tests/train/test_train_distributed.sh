#!/usr/bin/env bash
# test_train_distributed.sh — data-parallel `xraycls train` on Gloo, CPU, ranks launched with the
# variables torchrun sets (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR,
# MASTER_PORT, TORCHELASTIC_RUN_ID), by Slurm's (a stand-in srun runs scripts/slurm_train.sbatch),
# and by hand:
#   1. 2 ranks × 8 (global batch 16) for 2 epochs end with the weights of 1 process × 16, with
#      SyncBatchNorm (same arithmetic in both), overlapped and plain gradient averaging;
#   2. a 2-rank run resumed by 1 process, and a 1-process run resumed by 2 ranks, end as the
#      uninterrupted run; rank 0 alone wrote the run folder (and the one TensorBoard file);
#   3. SIGTERM to one rank stops both after the same step with one checkpoint, which resumes;
#   4. SIGKILL of one rank mid-epoch: the other exits non-zero within the timeout naming it,
#      and the last checkpoint is whole;
#   5. launch refusals (RANK without WORLD_SIZE, a rank outside the world) exit 1 naming the
#      variable.
# Checkpoints are compared tensor by tensor — weights, batch-norm statistics and Adam's moment
# estimates (which follow the gradients' values, so a gradient scaled or sliced wrongly shows
# at once) — to 1e-3 of each tensor's largest magnitude: the ranks sum in another order than one
# process, and at lr 1e-5 the float32 rounding stays near 1e-4 (measured); Adam's first steps
# are lr × sign(gradient), so a larger lr lets rounding flip tiny gradients' signs.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/dist
S=${XRAYCLS_SOURCE_DIR:?}
rm -rf "$T" && mkdir -p "$T"
. "$S/tests/cli/lib.sh"
export OMP_NUM_THREADS=1
# A port of our own per run (several test runs may share the machine).
port=$(( 20000 + ($$ * 7) % 20000 ))

if ! "$B" --version 2>/dev/null | grep -q "distributed: gloo"; then
  echo "SKIP: this build has no torch.distributed (Gloo)"; exit 77
fi

"$B" prepare synthetic -o "$T/data" --n 48 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/cfg.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 16, "sampler": "weighted"},
 "model": {"arch": "resnet18", "weights": "none"},
 "optim": {"lr": 1e-5},
 "train": {"epochs": 2, "seed": 5, "device": "cpu", "precision": "fp32", "log_every": 1,
           "distributed": {"sync_bn": true, "timeout_s": 20}},
 "output": {"runs_dir": "$T/runs"}}
JSON

# ranks N NAME ARGS…: N ranks as torchrun starts them; waits for all; rc of each in $T/NAME.rcK
ranks() {
  local n=$1 name=$2; shift 2
  local pids=() r
  port=$((port + 1))
  for ((r = 0; r < n; r++)); do
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
    TORCHELASTIC_RUN_ID=test "$B" train "$@" >"$T/$name.out$r" 2>"$T/$name.err$r" &
    pids+=($!)
  done
  for ((r = 0; r < n; r++)); do wait "${pids[$r]}"; echo $? >"$T/$name.rc$r"; done
}

# 1. 1 × 16 against 2 × 8, overlapped and plain averaging.
"$B" train --config "$T/cfg.json" --set output.name=one >"$T/one.out" 2>"$T/one.err"
rc=$?; check '[ $rc -eq 0 ]' "1 process: exit $rc: $(tail -2 "$T/one.err")"
ranks 2 two --config "$T/cfg.json" --set output.name=two
check '[ "$(cat "$T/two.rc0") $(cat "$T/two.rc1")" = "0 0" ]' "2 ranks: exit $(cat "$T/two.rc0") $(cat "$T/two.rc1"): $(tail -n 2 "$T/two.err0" "$T/two.err1")"
check 'grep -q "rank 0 of 2 (torchrun launch" "$T/runs/two/train.log"' "the log does not say the launch"
check 'grep -q "global batch 16, 8 to 8 per rank, SyncBatchNorm" "$T/runs/two/train.log"' "the log does not state the per-rank batch"
check 'grep -q "waiting on collectives" "$T/runs/two/train.log"' "the log lacks the collective wait share"
if "$B" --version 2>/dev/null | grep -q "TensorBoard event files: yes"; then
  check '[ "$(ls "$T/runs/two/tb" | grep -c tfevents)" -eq 1 ]' "2 ranks: not one events file (rank 0's): $(ls "$T/runs/two/tb")"
fi
check '[ -z "$(cat "$T/two.out1")" ]' "rank 1 printed epochs: $(head -2 "$T/two.out1")"
close_ckpt 1e-3 "$T/runs/one/last.safetensors" "$T/runs/two/last.safetensors" >"$T/close1" 2>&1
rc=$?; check '[ $rc -eq 0 ]' "2 × 8 differs from 1 × 16: $(cat "$T/close1")"
echo "2 x 8 (overlapped) vs 1 x 16: $(cat "$T/close1")"
ranks 2 plain --config "$T/cfg.json" --set output.name=plain --set train.distributed.overlap=false
check '[ "$(cat "$T/plain.rc0") $(cat "$T/plain.rc1")" = "0 0" ]' "2 ranks without overlap: $(tail -2 "$T/plain.err0")"
close_ckpt 1e-3 "$T/runs/one/last.safetensors" "$T/runs/plain/last.safetensors" >"$T/close2" 2>&1
rc=$?; check '[ $rc -eq 0 ]' "2 × 8 (plain) differs from 1 × 16: $(cat "$T/close2")"
drop "$T/runs/two" "$T/runs/plain"

# 2. Resume at another world size, both ways.
ranks 2 r21 --config "$T/cfg.json" --set output.name=r21 --set train.epochs=1
"$B" train --resume "$T/runs/r21" --set train.epochs=2 >"$T/r21b.out" 2>"$T/r21b.err"
rc=$?; check '[ $rc -eq 0 ]' "resume of a 2-rank run by 1 process: exit $rc: $(tail -2 "$T/r21b.err")"
close_ckpt 1e-3 "$T/runs/one/last.safetensors" "$T/runs/r21/last.safetensors" >"$T/close3" 2>&1
rc=$?; check '[ $rc -eq 0 ]' "2 ranks + 1 process differ: $(cat "$T/close3")"
drop "$T/runs/r21"
"$B" train --config "$T/cfg.json" --set output.name=r12 --set train.epochs=1 >/dev/null 2>&1
ranks 2 r12b --resume "$T/runs/r12" --set train.epochs=2
check '[ "$(cat "$T/r12b.rc0") $(cat "$T/r12b.rc1")" = "0 0" ]' "resume by 2 ranks: $(tail -n 2 "$T/r12b.err0" "$T/r12b.err1")"
close_ckpt 1e-3 "$T/runs/one/last.safetensors" "$T/runs/r12/last.safetensors" >"$T/close4" 2>&1
rc=$?; check '[ $rc -eq 0 ]' "1 process + 2 ranks differ: $(cat "$T/close4")"
check '[ $(wc -l <"$T/runs/r12/metrics.jsonl") -eq 2 ]' "resumed 2-rank run: metrics.jsonl should hold 2 epochs"
drop "$T/runs/one" "$T/runs/r12"

# start2 NAME: 2 ranks of a 3-epoch run in the background (pids in pid0, pid1); returns once
# rank 0 is into epoch 2, so the epoch-1 checkpoint exists
start2() {
  port=$((port + 1))
  for r in 0 1; do
    RANK=$r WORLD_SIZE=2 MASTER_PORT=$port "$B" train --config "$T/cfg.json" --set output.name=$1 \
      --set train.epochs=3 >"$T/$1.out$r" 2>"$T/$1.err$r" &
    eval "pid$r=$!"
  done
  for _ in $(seq 1 1200); do grep -q "epoch 2 step 1 " "$T/$1.err0" 2>/dev/null && break; sleep 0.05; done
}

# 3. SIGTERM to rank 1 alone: both stop after the same step, one checkpoint, resumable.
start2 term
kill -TERM "$pid1"
wait "$pid0"; rc0=$?; wait "$pid1"; rc1=$?
check '[ $rc1 -eq 143 ]' "the signalled rank should exit 143, got $rc1: $(tail -2 "$T/term.err1")"
check '[ $rc0 -ne 0 ] || grep -q "stopped" "$T/term.err0"' "rank 0 did not stop: rc $rc0"
check 'grep -q "stopped at epoch 2" "$T/runs/term/train.log"' "no mid-epoch stop in the log: $(tail -3 "$T/runs/term/train.log")"
"$B" train --resume "$T/runs/term" >"$T/term2.out" 2>"$T/term2.err"
rc=$?; check '[ $rc -eq 0 ]' "resume after SIGTERM: exit $rc: $(tail -2 "$T/term2.err")"
drop "$T/runs/term"

# 4. SIGKILL of rank 1 in epoch 2: rank 0 fails within the timeout naming rank 1; the epoch-1
#    checkpoint is whole.
start2 kill
kpid1=$pid1
kill -KILL "$pid1"
t0=$(date +%s)
wait "$pid0"; rc0=$?
dt=$(( $(date +%s) - t0 ))
wait "$kpid1" 2>/dev/null
check '[ $rc0 -eq 1 ]' "rank 0 after its peer died: exit $rc0"
check '[ $dt -le 30 ]' "rank 0 took $dt s to notice (timeout 20 s)"
check 'grep -q "rank 1 (pid $kpid1) exited" "$T/kill.err0"' "the message does not name rank 1: $(tail -1 "$T/kill.err0")"
"$B" info "$T/runs/kill/last.safetensors" >"$T/kill.info" 2>&1
check '[ $? -eq 0 ] && grep -q "model.fc.weight" "$T/kill.info"' "the last checkpoint is not whole"
drop "$T/runs/kill"

# 5. Launch refusals.
RANK=0 "$B" train --config "$T/cfg.json" --set output.name=bad >/dev/null 2>"$T/bad1.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "RANK is set but WORLD_SIZE is not" "$T/bad1.err"' "RANK alone: exit $rc: $(cat "$T/bad1.err")"
RANK=2 WORLD_SIZE=2 "$B" train --config "$T/cfg.json" --set output.name=bad >/dev/null 2>"$T/bad2.err"
rc=$?; check '[ $rc -eq 1 ] && grep -q "RANK=.2." "$T/bad2.err"' "RANK outside the world: exit $rc: $(cat "$T/bad2.err")"
check '[ ! -e "$T/runs/bad" ]' "a refused launch left a run folder"

# 6. Slurm: the example batch script under a stand-in srun that starts its tasks as srun does.
mkdir -p "$T/bin"
cat >"$T/bin/srun" <<'SH'
#!/usr/bin/env bash
# a stand-in for srun: SLURM_NTASKS tasks on this node with SLURM_PROCID/LOCALID set
pids=()
for ((i = 0; i < SLURM_NTASKS; i++)); do SLURM_PROCID=$i SLURM_LOCALID=$i "$@" & pids+=($!); done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=$?; done; exit $rc
SH
chmod +x "$T/bin/srun"
job=$(( ($$ + 500) % 1000 )); port=$((29500 + job))
# (without OMP_NUM_THREADS: the two ranks share the node's CPUs instead of each taking all)
PATH="$T/bin:$PATH" SLURM_NTASKS=2 SLURM_JOB_NODELIST=localhost SLURM_JOB_ID=$job \
  XRAYCLS=$B env -u OMP_NUM_THREADS bash "$S/scripts/slurm_train.sbatch" "$T/cfg.json" --set output.name=slurm \
  --set train.epochs=1 >"$T/slurm.out" 2>"$T/slurm.err"
rc=$?; check '[ $rc -eq 0 ]' "the Slurm example failed: exit $rc: $(tail -3 "$T/slurm.err")"
check 'grep -q "rank 0 of 2 (slurm launch, rendezvous localhost:$port)" "$T/runs/slurm/train.log"' "the Slurm run did not say its launch: $(grep distributed "$T/runs/slurm/train.log")"
share=$(( $(nproc) / 2 )); [ $share -ge 1 ] || share=1
check 'grep -q "threads: $share (usable CPUs shared by the 2 ranks on this node)" "$T/runs/slurm/train.log"' "the ranks did not share the CPUs: $(grep threads "$T/runs/slurm/train.log")"

[ $fail -eq 0 ] && echo "test_train_distributed: passed" || echo "test_train_distributed: FAILED"
exit $fail
