#!/usr/bin/env bash
# gpu_check.sh — everything a CUDA machine is needed for, in one command of under 10 minutes:
# configure and build xraycls against the machine's CUDA libtorch (the Python torch's
# cmake_prefix_path; cJSON staged in .gpu-deps/ by ../shared/gpu/stage-deps.sh), run the test
# suite (the CUDA tests run there and skip on CPU), time xraycls and PyTorch in the same run
# (training and inference of ResNet50 and DenseNet121, fp32 and bf16, channels_last; PyTorch
# eager and torch.compile), then one epoch of training on a prepared dataset, data-parallel
# training launched by torchrun (NCCL), an epoch against the study's PyTorch recipe
# (scripts/bench_epoch.py), and write $OUT/gpu_report.json and $OUT/gpu_report.md.
#
#   OUT=/some/dir bash scripts/gpu_check.sh          # on the GPU machine, from the project root
#   GPU_CHECK_CPU=1 OUT=/tmp/g bash scripts/gpu_check.sh   # rehearsal on a CPU machine: the same
#                                                    # phases at toy sizes, Debian's libtorch
#
# Each phase runs under its own time limit (timeout), so a slow one cannot eat the rest, and none
# runs past GPU_CHECK_DEADLINE (560 s from the start), so the report is written inside the
# device's 10-minute command limit; a failed phase is recorded and the phases that need it are
# skipped. Logs of every phase are kept
# under $OUT/logs/. Nothing outside the checkout and $OUT is written.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-$ROOT/gpu-out}
CPU=${GPU_CHECK_CPU:-0}
BUILD=${GPU_CHECK_BUILD:-$ROOT/build-gpu}
JOBS=$(nproc)
mkdir -p "$OUT/logs" "$OUT/bench"
: >"$OUT/phases.tsv"
T0=$(date +%s)
DEADLINE=${GPU_CHECK_DEADLINE:-560} # seconds from the start for all phases (the device's command limit is 600)

# phase NAME LIMIT_S CMD...: runs CMD with its output in logs/NAME.log, records name, status,
# seconds; returns CMD's status (124: over its limit).
phase() {
  local name=$1 limit=$2 start rc left
  shift 2
  start=$(date +%s)
  # every phase also ends by the run's deadline, so the report below is always written
  left=$(( DEADLINE - (start - T0) ))
  if [ $left -lt 15 ]; then
    printf '%s\tno time\t0\n' "$name" >>"$OUT/phases.tsv"
    echo "gpu_check: $name skipped (the run's ${DEADLINE}s deadline is near)"
    return 124
  fi
  [ $limit -le $left ] || limit=$left
  echo "gpu_check: $name (limit ${limit}s)…"
  if declare -F "$1" >/dev/null; then # a function of this script: run in a child bash, which sees it
    export -f "$1"
    timeout --kill-after=10 "$limit" bash -c '"$@"' _ "$@" >"$OUT/logs/$name.log" 2>&1
  else
    timeout --kill-after=10 "$limit" "$@" >"$OUT/logs/$name.log" 2>&1
  fi
  rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - start ))" >>"$OUT/phases.tsv"
  [ $rc -eq 0 ] || echo "gpu_check: $name failed ($rc): $(tail -3 "$OUT/logs/$name.log" | tr '\n' ' ')"
  return $rc
}
skip() { printf '%s\tskipped\t0\n' "$1" >>"$OUT/phases.tsv"; echo "gpu_check: $1 skipped ($2)"; }

if [ "$CPU" = 1 ]; then
  DEV=cpu; BATCH=2; SIZE=64; STEPS=2; WARM=1; ARCHES="resnet18"; EPOCH_N=80; EPOCH_SIZE=64
  TORCH_CMAKE=""
else
  DEV=cuda; BATCH=128; SIZE=224; STEPS=20; WARM=8; ARCHES="resnet50 densenet121"; EPOCH_N=5286; EPOCH_SIZE=224
  TORCH_CMAKE=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
fi
PY=python3
[ "$CPU" = 1 ] && PY=/usr/bin/python3
export ROOT OUT CPU BUILD JOBS DEV BATCH SIZE STEPS WARM ARCHES EPOCH_N EPOCH_SIZE PY

# ---- 1. the machine -----------------------------------------------------------------------------
env_probe() {
  echo "date: $(date -u +%FT%TZ)"
  echo "host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  command -v nvcc >/dev/null && nvcc --version | tail -1
  $PY - <<'PY'
import torch
print("torch:", torch.__version__)
print("cuda:", torch.version.cuda, "available:", torch.cuda.is_available())
print("cudnn:", torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None)
if torch.cuda.is_available():
    print("gpu:", torch.cuda.get_device_name(0))
PY
  ls /usr/lib/x86_64-linux-gnu/libnvjpeg* /usr/local/cuda/lib64/libnvjpeg* 2>/dev/null | head -2
  command -v ninja cmake
}
phase env 30 env_probe

# ---- 2. configure and build ---------------------------------------------------------------------
GEN="Unix Makefiles"
command -v ninja >/dev/null && GEN=Ninja
PREFIX="$ROOT/.gpu-deps/usr"
[ -n "$TORCH_CMAKE" ] && PREFIX="$TORCH_CMAKE;$PREFIX"
export GEN PREFIX
export LD_LIBRARY_PATH="$ROOT/.gpu-deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
configure() {
  local extra=()
  [ "$CPU" = 1 ] || extra+=(-DCMAKE_CUDA_ARCHITECTURES=90)
  cmake -S "$ROOT" -B "$BUILD" -G "$GEN" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" "${extra[@]}" |
    tee "$OUT/logs/cmake.out"
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  [ "$CPU" = 1 ] || grep -q 'CUDA code: 1' "$OUT/logs/cmake.out" ||
    { echo "configure: the libtorch found has no CUDA (\"CUDA code: 0\"): the build would be CPU-only"; return 1; }
}
built=0
if phase configure 120 configure && phase build 240 cmake --build "$BUILD" -j "$JOBS"; then built=1; fi
export B="$BUILD/xraycls"

# ---- 3. the test suite --------------------------------------------------------------------------
if [ $built = 1 ]; then
  phase tests 150 ctest --test-dir "$BUILD" -LE slow -j "$JOBS" --timeout 120 --output-on-failure
else
  skip tests "no build"
fi

# ---- 4. benchmarks: xraycls and PyTorch in the same run, alternating ----------------------------
bench_all() {
  local prec_ok=0
  # the help read whole first: under pipefail, grep -q leaving early could fail the pipeline (SIGPIPE)
  case "$("$B" bench --help 2>&1)" in *--precision*) prec_ok=1 ;; esac
  for arch in $ARCHES; do
    for prec in fp32 bf16; do
      [ "$DEV" = cpu ] && [ "$prec" = bf16 ] && continue
      local tag="$arch-$prec-cl" xprec=()
      [ $prec_ok = 1 ] && xprec=(--precision "$prec")
      [ $prec_ok = 0 ] && [ "$prec" != fp32 ] && echo "xraycls bench has no --precision: $tag measured by PyTorch only"
      if [ $prec_ok = 1 ] || [ "$prec" = fp32 ]; then
        "$B" bench --arch "$arch" --device "$DEV" --batch "$BATCH" --size "$SIZE" --steps "$STEPS" --warmup "$WARM" \
          --channels-last "${xprec[@]}" --json >"$OUT/bench/xraycls-$tag.json" || echo "xraycls bench $tag failed"
      fi
      $PY scripts/bench_torch.py --arch "$arch" --device "$DEV" --batch "$BATCH" --size "$SIZE" --steps "$STEPS" \
        --warmup "$WARM" --channels-last --precision "$prec" --json >"$OUT/bench/torch-$tag.json" ||
        echo "torch bench $tag failed"
      if $PY -c 'import sys, torch; sys.exit(0 if hasattr(torch, "compile") else 1)'; then
        $PY scripts/bench_torch.py --arch "$arch" --device "$DEV" --batch "$BATCH" --size "$SIZE" --steps "$STEPS" \
          --warmup "$((WARM + 4))" --channels-last --precision "$prec" --compile --json \
          >"$OUT/bench/torch-compile-$tag.json" || echo "torch.compile bench $tag failed"
      fi
    done
  done
}
if [ $built = 1 ]; then phase bench 240 bench_all; else skip bench "no build"; fi

# ---- 5. one epoch from a prepared dataset (CoronaHack-sized) ------------------------------------
epoch_run() {
  local d="$OUT/epoch"
  rm -rf "$d" && mkdir -p "$d"
  "$B" prepare synthetic -o "$d/data" --n "$EPOCH_N" --size "$EPOCH_SIZE" --min-side 300 --max-side 400 || return 1
  cat >"$d/cfg.json" <<JSON
{"data": {"path": "$d/data", "batch_size": 32},
 "model": {"arch": "resnet50", "weights": "none"},
 "train": {"epochs": 2, "device": "$DEV", "log_every": 50},
 "output": {"runs_dir": "$d/runs", "name": "epoch"}}
JSON
  "$B" train --config "$d/cfg.json" || return 1
  cp "$d/runs/epoch/metrics.jsonl" "$OUT/bench/epoch-metrics.jsonl"
  rm -rf "$d/runs" "$d/data"
}
if [ $built = 1 ]; then phase epoch 150 epoch_run; else skip epoch "no build"; fi

# ---- 6. data-parallel training launched by torchrun (NCCL on CUDA) -------------------------------
# One rank per GPU through torch 2.x's torchrun (--no_python: xraycls itself is the worker); on
# the CPU rehearsal two Gloo ranks started by hand with the variables torchrun sets (Debian's
# torchrun fails under Python 3.11). The log of each rank is in logs/dist.log.
dist_run() {
  local d="$OUT/dist" n
  rm -rf "$d" && mkdir -p "$d"
  "$B" prepare synthetic -o "$d/data" --n 160 --size 64 --min-side 96 --max-side 128 || return 1
  cat >"$d/cfg.json" <<JSON
{"data": {"path": "$d/data", "batch_size": 16},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 1, "device": "$DEV", "distributed": {"timeout_s": 60}},
 "output": {"runs_dir": "$d/runs", "name": "dist"}}
JSON
  if [ "$CPU" = 1 ]; then
    n=2
    for r in 0 1; do
      RANK=$r LOCAL_RANK=$r WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 MASTER_PORT=29517 OMP_NUM_THREADS=1 \
        "$B" train --config "$d/cfg.json" &
    done
    wait -n && wait -n || return 1
  else
    n=$($PY -c 'import torch; print(torch.cuda.device_count())')
    $PY -m torch.distributed.run --no_python --standalone --nproc_per_node "$n" "$B" train --config "$d/cfg.json" ||
      return 1
  fi
  grep -q "distributed: rank 0 of $n " "$d/runs/dist/train.log" || { tail -5 "$d/runs/dist/train.log"; return 1; }
  [ -f "$d/runs/dist/last.safetensors" ] || return 1
  rm -rf "$d"
}
if [ $built = 1 ]; then phase dist 120 dist_run; else skip dist "no build"; fi

# ---- 7. two epochs against the study's PyTorch recipe (Pillow every epoch, DataLoader workers) ----
recipe_run() {
  local n=600 size=224 batch=128 arch=resnet50
  [ "$CPU" = 1 ] && { n=24; size=32; batch=8; arch=resnet18; }
  $PY scripts/bench_epoch.py --xraycls "$B" --device "$DEV" --arch $arch --size $size --batch $batch \
    --images $n --epochs 2 --rounds 1 --work "$OUT/recipe" --json "$OUT/bench/recipe.json" || return 1
  rm -rf "$OUT/recipe"
}
if [ $built = 1 ]; then phase recipe 150 recipe_run; else skip recipe "no build"; fi

# ---- 8. the report ------------------------------------------------------------------------------
$PY - "$OUT" "$(( $(date +%s) - T0 ))" <<'PY'
import glob, json, os, sys
out, total = sys.argv[1], int(sys.argv[2])
phases = [l.rstrip("\n").split("\t") for l in open(os.path.join(out, "phases.tsv"))]
env = open(os.path.join(out, "logs", "env.log")).read() if os.path.exists(os.path.join(out, "logs", "env.log")) else ""

def load(p):
    try:
        j = json.load(open(p))
        return j["rounds"][0]["torch"] if "rounds" in j else j
    except Exception:
        return None

rows = []
for x in sorted(glob.glob(os.path.join(out, "bench", "torch-*.json"))):
    tag = os.path.basename(x)[len("torch-"):-5]
    if tag.startswith("compile-"):
        continue
    t, c = load(x), load(os.path.join(out, "bench", f"torch-compile-{tag}.json"))
    xr = load(os.path.join(out, "bench", f"xraycls-{tag}.json"))
    for mode in ("train", "infer"):
        def ips(r):
            return r[mode]["images_per_s"] if r and mode in r else None
        def mem(r):
            v = r[mode].get("peak_device_mb") if r and mode in r else None
            return v
        rows.append({"config": tag, "mode": mode, "xraycls": ips(xr), "torch_eager": ips(t), "torch_compile": ips(c),
                     "ratio_eager": ips(xr) / ips(t) if ips(xr) and ips(t) else None,
                     "ratio_compile": ips(xr) / ips(c) if ips(xr) and ips(c) else None,
                     "xraycls_peak_mb": (xr[mode].get("peak_device_mb") or xr[mode].get("peak_rss_mb")) if xr and mode in xr else None,
                     "torch_peak_mb": mem(t)})
epochs = []
mp = os.path.join(out, "bench", "epoch-metrics.jsonl")
if os.path.exists(mp):
    epochs = [json.loads(l) for l in open(mp) if l.strip()]
tests = {}
tl = os.path.join(out, "logs", "tests.log")
if os.path.exists(tl):
    text = open(tl).read()
    import re
    m = re.search(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text)
    tests = {"passed": len(re.findall(r"\bPassed\b", text)), "failed": re.findall(r"\*\*\*Failed.*|\*\*\*Timeout.*", text),
             "skipped": len(re.findall(r"\*\*\*Skipped", text)), "complete": bool(m),
             "total": int(m.group(3)) if m else None}
recipe = None
rp = os.path.join(out, "bench", "recipe.json")
if os.path.exists(rp):
    recipe = json.load(open(rp))
report = {"seconds": total, "tests": tests, "phases": [{"name": p[0], "status": p[1], "seconds": int(p[2])} for p in phases],
          "environment": env, "bench": rows, "epochs": epochs, "recipe": recipe}
json.dump(report, open(os.path.join(out, "gpu_report.json"), "w"), indent=1)

def f(v, d=1):
    return "–" if v is None else f"{v:.{d}f}"
md = ["# GPU check", "", f"Total {total} s.", "", "## Machine", "", "```", env.strip(), "```", "", "## Phases", "",
      "| phase | status | s |", "|---|---|---|"]
md += [f"| {p[0]} | {'ok' if p[1] == '0' else ('over its limit' if p[1] == '124' else p[1])} | {p[2]} |" for p in phases]
if tests:
    md += ["", "## Tests", "", f"{tests['passed']} passed, {len(tests['failed'])} failed, {tests['skipped']} skipped"
           + ("" if tests["complete"] else " (the phase ended before the suite finished)") + "."]
    md += [f"- {t}" for t in tests["failed"]]
md += ["", "## Images/s (same run; ratio > 1: xraycls faster; peak memory: device, or resident on a CPU)", "",
       "| config | mode | xraycls | torch eager | torch.compile | ×eager | ×compile | peak MB xraycls | peak MB torch |",
       "|---|---|---|---|---|---|---|---|---|"]
md += [f"| {r['config']} | {r['mode']} | {f(r['xraycls'])} | {f(r['torch_eager'])} | {f(r['torch_compile'])} | "
       f"{f(r['ratio_eager'], 2)} | {f(r['ratio_compile'], 2)} | {f(r['xraycls_peak_mb'], 0)} | {f(r['torch_peak_mb'], 0)} |"
       for r in rows]
if epochs:
    md += ["", "## Training epochs (resnet50, prepared synthetic dataset)", "", "| epoch | seconds | images/s |", "|---|---|---|"]
    md += [f"| {e.get('epoch')} | {f(e.get('seconds'))} | {f(e.get('images_per_s'))} |" for e in epochs]
if recipe:
    md += ["", f"## An epoch against the PyTorch recipe ({recipe['arch']}, {recipe['size']} px, batch {recipe['batch']}, "
           f"{recipe['images']} JPEGs of 1–2 MP, {recipe['workers']} DataLoader workers; xraycls prepared them once in "
           f"{f(recipe['prepare_seconds'])} s)", "", "| side | epoch seconds | images/s of the last epoch | peak tree PSS MB |", "|---|---|---|---|"]
    for side in ("xraycls", "recipe"):
        for r in recipe["results"][side]:
            md += [f"| {side} | {' '.join(f(e['seconds']) for e in r['epochs'])} | {f(r['epochs'][-1]['images_per_s'])} | {f(r['pss_mb'], 0)} |"]
    md += ["", f"xraycls ÷ recipe: {f(recipe['ratio_images_per_s'], 2)}× the images/s, {f(recipe['ratio_memory'], 2)}× the host memory."]
open(os.path.join(out, "gpu_report.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
echo "gpu_check: done in $(( $(date +%s) - T0 )) s; report in $OUT/gpu_report.md"
