#!/usr/bin/env bash
# bench_dist.sh — data-parallel scaling of `xraycls train` on this machine (a benchmark: it prints
# numbers and asserts nothing). Runs, alternating, REPEAT times each:
#   1 process  × T threads           (OMP_NUM_THREADS=T, T = the CPUs given, default nproc)
#   R ranks    × T/R threads each    (Gloo, launched with torchrun's variables)
# on the same synthetic dataset, model, global batch and seed, and prints the training images/s
# of each (from metrics.jsonl: the epochs after the first, which includes start-up), their
# ratio, and the share of rank 0's time spent waiting on collectives. On a GPU machine pass
# --device cuda and R = the number of GPUs (then each rank takes one GPU).
#
#   scripts/bench_dist.sh [--ranks R] [--threads T] [--arch resnet18] [--size 64] [--batch 32]
#                         [--n 400] [--epochs 3] [--repeat 3] [--device cpu] [--xraycls PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
ranks=2 threads=$(nproc) arch=resnet18 size=64 batch=32 n=400 epochs=3 repeat=3 device=cpu
X=build/xraycls
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) ranks=$2; shift 2;; --threads) threads=$2; shift 2;; --arch) arch=$2; shift 2;;
    --size) size=$2; shift 2;; --batch) batch=$2; shift 2;; --n) n=$2; shift 2;;
    --epochs) epochs=$2; shift 2;; --repeat) repeat=$2; shift 2;; --device) device=$2; shift 2;;
    --xraycls) X=$2; shift 2;;
    -h|--help) sed -n '2,14p' "$0"; exit 0;;
    *) echo "bench_dist.sh: unknown option '$1'" >&2; exit 2;;
  esac
done
W=$(mktemp -d /tmp/xraycls-bench-dist-XXXXXX)
trap 'rm -rf "$W"' EXIT
"$X" prepare synthetic -o "$W/data" --n "$n" --size "$size" >/dev/null 2>&1
cat >"$W/cfg.json" <<JSON
{"data": {"path": "$W/data", "batch_size": $batch, "sampler": "shuffle", "val_split": ""},
 "model": {"arch": "$arch", "weights": "none"},
 "train": {"epochs": $epochs, "seed": 1, "device": "$device", "precision": "fp32", "log_every": 1000},
 "output": {"runs_dir": "$W/runs"}}
JSON
# images/s over epochs 2.. of a run folder, and rank 0's collective-wait share
rate() {
  /usr/bin/python3 - "$1" <<'PY'
import json, re, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
r = [x["images_per_s"] for x in rows[1:]] or [rows[0]["images_per_s"]]
wait = ""
for line in open(sys.argv[1] + "/train.log"):
    m = re.search(r"waiting on collectives \(([0-9.]+)%\)", line)
    if m: wait = m.group(1)
print(f"{statistics.median(r):.1f} {wait or '-'}")
PY
}
per=$(( threads / ranks )); [ $per -ge 1 ] || per=1
port=$(( 21000 + $$ % 20000 ))
echo "xraycls data-parallel scaling: $arch, ${size} px, global batch $batch, $n images, $(nproc) CPUs, $device"
printf "%-6s %-28s %10s %14s\n" run config "images/s" "collective %"
one=() many=()
for i in $(seq 1 "$repeat"); do
  OMP_NUM_THREADS=$threads "$X" train --config "$W/cfg.json" --set output.name=one$i >/dev/null 2>&1
  read -r a _ < <(rate "$W/runs/one$i"); one+=("$a")
  printf "%-6s %-28s %10s %14s\n" "$i" "1 process x $threads threads" "$a" "-"
  port=$((port + 1)); pids=()
  for ((r = 0; r < ranks; r++)); do
    OMP_NUM_THREADS=$per RANK=$r WORLD_SIZE=$ranks LOCAL_RANK=$r LOCAL_WORLD_SIZE=$ranks \
      MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$X" train --config "$W/cfg.json" \
      --set output.name=many$i >/dev/null 2>&1 & pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  read -r b w < <(rate "$W/runs/many$i"); many+=("$b")
  printf "%-6s %-28s %10s %14s\n" "$i" "$ranks ranks x $per thread(s)" "$b" "$w"
done
/usr/bin/python3 - "${one[*]}" "${many[*]}" "$ranks" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
ma, mb = statistics.median(a), statistics.median(b)
print(f"median: 1 process {ma:.1f} images/s, {sys.argv[3]} ranks {mb:.1f} images/s, ratio {mb / ma:.2f}")
PY
