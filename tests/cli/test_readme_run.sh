#!/usr/bin/env bash
# test_readme_run.sh — the README's first command block runs as written. Each of its lines is run
# by bash, word for word, in a fresh working folder that holds the project's configs/, with HOME
# a scratch folder whose ~/coronahack is a synthetic CoronaHack download (`prepare synthetic`'s
# raw/ folder, the same layout as Kaggle's) and whose torchvision cache holds ResNet50 weights
# under their published name (random values with the real names and shapes: what is checked is
# the run, not the accuracy), and scans/ a few of its images. Only options that make the run tiny
# are appended (image size 32, one epoch); nothing the README says is changed, so a renamed
# config, a data path or run name that differs between lines, or a removed option fails here.
# Then: every line exits 0, the eval folder, the scores of every scan and the table's row exist.
set -euo pipefail

. "$(dirname "$0")/cmd_lib.sh"
SRC=${XRAYCLS_SOURCE_DIR:?XRAYCLS_SOURCE_DIR must name the source tree}

export HOME="$TMP/home"
unset TORCH_HOME XDG_CACHE_HOME
mkdir -p "$HOME/.cache/torch/hub/checkpoints" "$TMP/work/scans"
run 0 prepare synthetic -o "$TMP/synth" --n 48 --size 32 --min-side 64 --max-side 96
ln -s "$TMP/synth/raw" "$HOME/coronahack"
# (sed, not head: under pipefail a head that exits early can fail the pipeline with SIGPIPE)
find "$TMP/synth/raw" -name '*.jpeg' | sort | sed -n 1,3p | while read -r f; do cp "$f" "$TMP/work/scans/"; done
ln -s "$SRC/configs" "$TMP/work/configs"
/usr/bin/python3 - "$HOME/.cache/torch/hub/checkpoints/resnet50-0676ba61.pth" <<'PY'
import sys, torch, torchvision
torch.manual_seed(0)
torch.save(torchvision.models.resnet50().state_dict(), sys.argv[1])
PY

# The block's lines, one per line (continuations joined), comments dropped.
/usr/bin/python3 - "$SRC/README.md" >"$TMP/block" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
block = re.search(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M).group(1)
for line in block.replace("\\\n", " ").splitlines():
    line = line.split(" #")[0].strip()
    if line and not line.startswith("#"):
        print(line)
PY
[ "$(grep -c '^xraycls ' "$TMP/block")" -ge 5 ] || { cat "$TMP/block" >&2; fail "README's first block has no run to check"; }

# What makes each command tiny (appended; the README's own words stay as they are).
tiny() {
    case "$1" in
    prepare) echo "--size 32" ;;
    train) echo "--set train.epochs=1 --set data.batch_size=8" ;;
    *) echo "" ;;
    esac
}
mkdir -p "$TMP/bin"
ln -s "$(readlink -f "$BIN")" "$TMP/bin/xraycls"
n=0
while IFS= read -r line; do
    cmd=$(echo "$line" | awk '{print $2}')
    n=$((n + 1))
    echo "readme: $line $(tiny "$cmd")"
    (cd "$TMP/work" && PATH="$TMP/bin:$PATH" bash -c "$line $(tiny "$cmd")") >"$TMP/out.$n" 2>"$TMP/err.$n" || {
        cat "$TMP/out.$n" "$TMP/err.$n" >&2
        fail "the README's line '$line' failed"
    }
done <"$TMP/block"

W="$TMP/work"
run_dir=$(find "$W/runs" -mindepth 1 -maxdepth 1 -type d | sed -n 1p)
[ -n "$run_dir" ] || fail "train made no run folder under runs/"
[ -f "$run_dir/best.safetensors" ] || fail "no best checkpoint in $run_dir"
ls -d "$run_dir"/eval-* >/dev/null 2>&1 || fail "eval wrote no eval folder in $run_dir"
[ -f "$W/scores.csv" ] || fail "predict wrote no scores.csv"
for f in "$W"/scans/*.jpeg; do has "$W/scores.csv" "$(basename "$f")"; done
last=$(ls "$TMP"/out.* | sort -t. -k2 -n | tail -1)
has "$last" "$(basename "$run_dir")"
echo "ok: the README's first block ran ($n lines)"
