#!/usr/bin/env bash
# test_first_run.sh — the mistakes of a first run get messages that say what to do: a folder of
# images where a prepared dataset is expected (eval --data, train's data.path), a split that does
# not exist (eval --split lists those that do), a PyTorch .pth where an xraycls model file is
# expected (predict, eval, export, info: run `xraycls import`), and `prepare folder` on a folder
# without images (exit 1, the layout expected). Exits non-zero on the first failure.
set -euo pipefail

. "$(dirname "$0")/cmd_lib.sh"

D="$TMP/data"
run 0 prepare synthetic -o "$D" --n 40 --size 32 --min-side 64 --max-side 96
RAW="$D/raw"
IMG=$(find "$RAW" -name '*.jpeg' -print -quit)
[ -n "$IMG" ] || fail "no synthetic image"

# A split that does not exist: the ones that do are listed.
run 1 eval --model "$TMP/none.safetensors" --data "$D" --split tset
has "$TMP/err" "xraycls eval: '$D' has no split 'tset'; its splits: test, train, val"
# A split that does exist gets no such line (the failure is then the model's).
run 1 eval --model "$TMP/none.safetensors" --data "$D" --split val
lacks "$TMP/err" "has no split"

# A folder of images where a prepared dataset is expected.
run 1 eval --model "$TMP/none.safetensors" --data "$RAW"
has "$TMP/err" "xraycls eval: '$RAW' is a folder of images, not a prepared dataset: run \`xraycls prepare folder --root $RAW"
cat >"$TMP/images.json" <<JSON
{"data": {"path": "$RAW"}, "model": {"arch": "resnet18", "weights": "none"}, "output": {"runs_dir": "$TMP/runs"}}
JSON
run 1 train --config "$TMP/images.json"
has "$TMP/err" "xraycls train: '$RAW' is a folder of images, not a prepared dataset"
# an empty folder is no folder of images: no such hint
mkdir -p "$TMP/empty"
run 1 eval --model "$TMP/none.safetensors" --data "$TMP/empty"
lacks "$TMP/err" "folder of images"

# A PyTorch file where a model file is expected, in both torch.save formats.
/usr/bin/python3 - "$TMP" <<'PY'
import sys, torch
sd = {"fc.weight": torch.zeros(2, 3)}
torch.save(sd, sys.argv[1] + "/zip.pth")
torch.save(sd, sys.argv[1] + "/legacy.pth.tar", _use_new_zipfile_serialization=False)
PY
for f in zip.pth legacy.pth.tar; do
    run 1 predict --model "$TMP/$f" "$IMG"
    has "$TMP/err" "'$TMP/$f' is a PyTorch file (torch.save), not an xraycls model file: make one with \`xraycls import --arch ARCH --from $TMP/$f -o model.safetensors\`"
    run 1 info "$TMP/$f"
    has "$TMP/err" "is a PyTorch file"
done
run 1 eval --model "$TMP/zip.pth" --data "$D" --split val
has "$TMP/err" "is a PyTorch file"
run 1 export --format torchvision "$TMP/zip.pth" -o "$TMP/x.safetensors"
has "$TMP/err" "is a PyTorch file"
# a broken safetensors file keeps its own message
printf 'not a model' >"$TMP/bad.safetensors"
run 1 info "$TMP/bad.safetensors"
lacks "$TMP/err" "PyTorch file"

# prepare folder without images: exit 1, what was searched and the layout expected.
mkdir -p "$TMP/noimg/cats" "$TMP/noimg/dogs" "$TMP/noclass"
echo "not an image" >"$TMP/noimg/cats/notes.txt"
run 1 prepare folder --root "$TMP/noimg" -o "$TMP/p1"
has "$TMP/err" "folder: no image found under '$TMP/noimg' (class folders searched: 'cats', 'dogs')"
has "$TMP/err" "Expected layout: $TMP/noimg/<class>/<image>, or $TMP/noimg/{train,val,test}/<class>/<image>"
[ ! -e "$TMP/p1/dataset.json" ] || fail "a dataset was written from no image"
run 1 prepare folder --root "$TMP/noclass" -o "$TMP/p2"
has "$TMP/err" "no class folders in '$TMP/noclass' (expected $TMP/noclass/<class>/<image> or $TMP/noclass/{train,val,test}/<class>/<image>"

rm -rf "$TMP"
echo "test_first_run: all checks passed"
