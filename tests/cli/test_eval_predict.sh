#!/usr/bin/env bash
# test_eval_predict.sh — `xraycls eval`, `predict` and `table` end to end: a resnet18 trained for
# one epoch on a tiny synthetic dataset (64 px, CPU) is evaluated (eval.json names, the absent
# COVID-19 class, reproducible intervals, class-list mismatch), applied to a folder holding a
# corrupt file (listed with its reason, the rest scored; probabilities equal eval's inputs'),
# sharded, and gathered into the results table.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/evalpredict
rm -rf "$T" && mkdir -p "$T"
fail=0
# Exit statuses are captured in rc first: a $(…) in check's message would reset $?.
check() { if eval "$1"; then :; else echo "FAIL: $2" >&2; fail=1; fi; }
PY=/usr/bin/python3

"$B" prepare synthetic -o "$T/data" --n 60 --size 64 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4, "sampler": "shuffle"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 1, "seed": 3, "device": "cpu", "precision": "fp32"},
 "output": {"runs_dir": "$T/runs", "name": "tiny"}}
JSON
"$B" train --config "$T/tiny.json" >"$T/train.out" 2>&1 || { tail -5 "$T/train.out"; echo "FAIL: train"; exit 1; }
M=$T/runs/tiny/best.safetensors

# ---- eval -----------------------------------------------------------------------------------
"$B" eval --model "$M" --data "$T/data" --device cpu --bootstrap 200 --seed 5 >"$T/eval.out" 2>"$T/eval.err"; rc=$?
check '[ $rc -eq 0 ]' "eval failed: $(tail -3 "$T/eval.err")"
E=$T/runs/tiny/eval-data-test
for f in eval.json eval.csv eval.md confusion_matrix.csv; do check '[ -s "$E/$f" ]' "eval lacks $f"; done
# the figures need cairo (xraycls --version says whether this build has it)
if "$B" --version | grep -q "^figures: png"; then check '[ -s "$E/confusion_matrix.png" ]' "eval lacks confusion_matrix.png"
else check '[ ! -e "$E/confusion_matrix.png" ] && grep -q "figures skipped" "$T/eval.err"' "figures skipped"; fi
check 'grep -q "accuracy" "$T/eval.out"' "eval prints no summary"
check '$PY - "$E/eval.json" <<PY
import json, sys
j = json.load(open(sys.argv[1]))
for k in ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "macro_auroc"):
    m = j[k]; assert set(m) >= {"value", "ci_low", "ci_high"}, k
    assert m["ci_low"] <= m["value"] <= m["ci_high"], (k, m)
pc = j["per_class"]; assert list(pc) == ["Normal", "Bacteria", "Virus", "COVID-19"], list(pc)
for c in ("Normal", "Bacteria", "Virus"):
    assert set(pc[c]) >= {"precision", "recall", "f1", "specificity", "support", "auroc"}
    assert pc[c]["support"] > 0, pc[c]
cv = pc["COVID-19"]
assert cv["support"] == 0 and cv["absent"] is True and cv["recall"]["value"] is None and cv["recall"]["absent"]
cm = j["confusion_matrix"]; assert len(cm) == 4 and sum(map(sum, cm)) == j["n"] == 6
acc = sum(cm[i][i] for i in range(4)) / 6
assert abs(acc - j["accuracy"]["value"]) < 1e-12
assert j["task"] == "4class" and j["split"] == "test" and j["bootstrap"]["resamples"] == 200
PY' "eval.json content"
cp "$E/eval.json" "$T/first.json"
"$B" eval --model "$M" --data "$T/data" --device cpu --bootstrap 200 --seed 5 -o "$T/again" >/dev/null 2>&1
check '$PY - "$T/first.json" "$T/again/eval.json" <<PY
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for j in (a, b): j.pop("provenance"); j.pop("model")
assert a == b
PY' "eval is not reproducible for a seed"

# A dataset whose classes differ: the error names both lists, nothing is written.
"$B" prepare synthetic -o "$T/data2" --n 40 --size 64 --task normal-vs-pneumonia >"$T/prep2.out" 2>&1 || { cat "$T/prep2.out"; echo "FAIL: prepare 2"; exit 1; }
"$B" eval --model "$M" --data "$T/data2" --device cpu -o "$T/mismatch" >/dev/null 2>"$T/mm.err"; rc=$?
check '[ $rc -eq 1 ]' "eval with other classes should exit 1"
check 'grep -q "Normal, Bacteria, Virus, COVID-19" "$T/mm.err" && grep -q "\[Normal, Pneumonia\]" "$T/mm.err"' "mismatch message: $(cat "$T/mm.err")"
check '[ ! -e "$T/mismatch/eval.json" ]' "eval wrote output after a mismatch"
"$B" eval --model "$M" --data "$T/data" --split nosuch >/dev/null 2>"$T/ns.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "nosuch.safetensors" "$T/ns.err"' "missing split message: $(cat "$T/ns.err")"
"$B" eval --data "$T/data" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "eval without --model should be a usage error"

# ---- predict --------------------------------------------------------------------------------
RAW=$T/data/raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/test
mkdir -p "$T/imgs/sub"
cp "$RAW"/*.jpeg "$T/imgs/"
first=$(ls "$T/imgs" | grep jpeg | head -1)
mv "$T/imgs/$first" "$T/imgs/sub/UPPER.JPEG"
second=$(ls "$T/imgs" | grep jpeg | head -1)
head -c 300 "$T/imgs/$second" >"$T/imgs/broken.jpg"
echo "not an image" >"$T/imgs/notes.txt"
"$B" predict --model "$M" --device cpu --threads 3 --batch 2 -o "$T/pred.csv" "$T/imgs" >"$T/pred.out" 2>"$T/pred.err"; rc=$?
check '[ $rc -eq 0 ]' "predict with one corrupt file should exit 0: $(tail -3 "$T/pred.err")"
check 'head -1 "$T/pred.csv" | grep -qx "path,label,Normal,Bacteria,Virus,COVID-19"' "predict csv header"
check '[ $(wc -l <"$T/pred.csv") -eq 7 ]' "predict should score 6 images (+ header)"
check 'grep -q "broken.jpg.*Premature end of JPEG" "$T/pred.err"' "corrupt file not listed with its reason: $(cat "$T/pred.err")"
check 'grep -q "1 of 7 files" "$T/pred.err"' "no final summary of skipped files"
check '! grep -q "notes.txt\|broken.jpg" "$T/pred.csv"' "skipped or non-image files in the output"
check 'grep -q "sub/UPPER.JPEG" "$T/pred.csv"' "upper-case extension in a subfolder not found"
# Rows are sorted by path and their probabilities sum to 1.
check '$PY - "$T/pred.csv" <<PY
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
paths = [r["path"] for r in rows]; assert paths == sorted(paths), paths
for r in rows:
    p = [float(r[c]) for c in ("Normal", "Bacteria", "Virus", "COVID-19")]
    assert abs(sum(p) - 1) < 1e-4, r
    assert r["label"] == ("Normal", "Bacteria", "Virus", "COVID-19")[p.index(max(p))]
PY' "predict rows"
# The same model and images give the same numbers through eval's path: per-class AUROC from
# predict's probabilities and the true classes of the test files equal eval.json's.
check '$PY - "$T/pred.csv" "$E/eval.json" "$T/data/raw/Chest_xray_Corona_Metadata.csv" <<PY
import csv, json, sys, os
rows = list(csv.DictReader(open(sys.argv[1])))
ev = json.load(open(sys.argv[2]))
meta = {r["X_ray_image_name"]: r for r in csv.DictReader(open(sys.argv[3]))}
def cls(name):
    r = meta[name]
    if r["Label"] == "Normal": return "Normal"
    return "Bacteria" if r["Label_1_Virus_category"] == "bacteria" else "Virus"
names = {os.path.basename(r["path"]): r for r in rows}
truth = {}
for f in os.listdir(os.path.dirname(sys.argv[1]) + "/data/raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/test"):
    truth[f] = cls(f)
first = [f for f in truth if f not in names]; assert len(first) == 1
names[first[0]] = names.pop("UPPER.JPEG")
for c in ("Normal", "Bacteria", "Virus"):
    pos = [float(names[f][c]) for f in truth if truth[f] == c]
    neg = [float(names[f][c]) for f in truth if truth[f] != c]
    a = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg) / (len(pos) * len(neg))
    assert abs(a - ev["per_class"][c]["auroc"]["value"]) < 1e-3, (c, a, ev["per_class"][c]["auroc"])
PY' "predict and eval disagree"

"$B" predict --model "$M" --device cpu --format jsonl "$T/imgs/sub" >"$T/pred.jsonl" 2>/dev/null; rc=$?
check '[ $rc -eq 0 ] && $PY -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert len(r)==1 and set(r[0])=={\"path\",\"label\",\"probs\"} and len(r[0][\"probs\"])==4" "$T/pred.jsonl"' "predict jsonl"
# Shards partition the files (1-based K).
for k in 1 2 3; do "$B" predict --model "$M" --device cpu --shard $k/3 "$T/imgs" 2>/dev/null | tail -n +2 >"$T/shard$k"; done
# (the same probabilities to 1e-6: %.9g shows the last float bits, which the batch size moves)
check '$PY - "$T/pred.csv" "$T"/shard1 "$T"/shard2 "$T"/shard3 <<PY
import csv, sys
full = {r[0]: r[1:] for r in list(csv.reader(open(sys.argv[1])))[1:]}
parts = [r for f in sys.argv[2:] for r in csv.reader(open(f))]
assert sorted(r[0] for r in parts) == sorted(full), "not a partition"
for r in parts:
    assert r[1] == full[r[0]][0] and all(abs(float(x) - float(y)) <= 1e-6 for x, y in zip(r[2:], full[r[0]][1:])), r
PY' "shards do not partition the scored files"
check '[ $(wc -l <"$T/shard1") -eq 3 ]' "shard 1/3 of 7 files holds indexes 0, 3, 6"
# Nothing decodable: exit 1, nothing written.
# A folder walk names what it passes over instead of dropping it: a FIFO named like an image
# (which used to hang a reader), a dangling link, a link loop, a hidden image; ".DS_Store" is
# not an input and is not mentioned.
mkdir -p "$T/odd" && cp "$T/imgs/sub/UPPER.JPEG" "$T/odd/ok.jpeg" && cp "$T/odd/ok.jpeg" "$T/odd/._ok.jpeg"
mkfifo "$T/odd/pipe.jpg" && ln -s "$T/odd/gone.jpg" "$T/odd/dangling.jpg" && ln -s loop2.jpg "$T/odd/loop1.jpg" &&
  ln -s loop1.jpg "$T/odd/loop2.jpg" && echo x >"$T/odd/.DS_Store"
timeout 120 "$B" predict --model "$M" --device cpu -o "$T/odd.csv" "$T/odd" >/dev/null 2>"$T/odd.err"; rc=$?
check '[ $rc -eq 0 ] && [ $(wc -l <"$T/odd.csv") -eq 2 ]' "predict over a folder with odd entries: rc $rc, $(cat "$T/odd.err")"
check 'grep -q "5 entries in the folders given not scored" "$T/odd.err"' "odd entries not counted: $(cat "$T/odd.err")"
check 'grep -q "odd/pipe.jpg: a FIFO, not a regular file" "$T/odd.err" && grep -q "odd/dangling.jpg: a dangling symbolic link" "$T/odd.err" &&
       grep -q "odd/loop1.jpg: a symbolic link loop" "$T/odd.err" && grep -q "odd/._ok.jpeg: hidden" "$T/odd.err"' "odd entries not named: $(cat "$T/odd.err")"
check '! grep -q "DS_Store" "$T/odd.err"' ".DS_Store reported as an input"
rm -rf "$T/odd"
"$B" predict --model "$M" --device cpu -o "$T/none.csv" "$T/imgs/broken.jpg" >/dev/null 2>"$T/none.err"; rc=$?
check '[ $rc -eq 1 ] && [ ! -e "$T/none.csv" ]' "predict with no decodable image should exit 1 and write nothing"
"$B" predict --model "$M" "$T/no/such" >/dev/null 2>"$T/nf.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "no/such" "$T/nf.err"' "missing path message"
"$B" predict --model "$M" --shard 4/3 "$T/imgs" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "bad shard should be a usage error"

# ---- table ----------------------------------------------------------------------------------
"$B" table "$T/runs/tiny" -o "$T/results" >"$T/table.out" 2>"$T/table.err"; rc=$?
check '[ $rc -eq 0 ]' "table failed: $(cat "$T/table.err")"
check 'grep -q "^| tiny | resnet18 | none | ce | shuffle | 4class | 0\.[0-9]* \[" "$T/table.out"' "table row: $(cat "$T/table.out")"
check 'grep -q "| absent |" "$T/table.out"' "COVID-19 recall should be absent on the test split"
check '[ -s "$T/results.md" ] && [ -s "$T/results.csv" ]' "table files"
"$B" table "$T/runs/tiny" --split val >/dev/null 2>"$T/tv.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "eval-<dataset>-val" "$T/tv.err"' "table without eval of the split: $(cat "$T/tv.err")"

# ---- predict on DICOM -------------------------------------------------------------------------
# Recognised by content (no extension); scored as the PNG of its expected display image is; a
# multi-frame file is listed with its reason and skipped.
if [ -d "${XRAYCLS_SOURCE_DIR:?}/tests/fixtures/dicom" ]; then
  FX=$XRAYCLS_SOURCE_DIR/tests/fixtures/dicom
  mkdir -p "$T/dcm" "$T/dcmpng"
  cp "$FX/mono1_window_implicit_le.dcm" "$T/dcm/scan1"
  cp "$FX/multiframe.dcm" "$T/dcm/multi.dcm"
  $PY -c "from PIL import Image; Image.open('$FX/mono1_window_implicit_le.dcm.pgm').save('$T/dcmpng/scan1.png')"
  "$B" predict --model "$M" --device cpu -o "$T/dcm.csv" "$T/dcm" >/dev/null 2>"$T/dcm.err"; rc=$?
  if grep -q "built without DCMTK" "$T/dcm.err"; then
    check '[ $rc -eq 1 ]' "predict on DICOM without DCMTK should exit 1"
  else
    check '[ $rc -eq 0 ] && [ $(wc -l <"$T/dcm.csv") -eq 2 ]' "predict should score the DICOM file: $(cat "$T/dcm.err")"
    check 'grep -q "multi.dcm" "$T/dcm.err" && grep -q "multi-frame" "$T/dcm.err"' "predict names the multi-frame file: $(cat "$T/dcm.err")"
    "$B" predict --model "$M" --device cpu -o "$T/dcmpng.csv" "$T/dcmpng" >/dev/null 2>&1
    check '[ "$(tail -1 "$T/dcm.csv" | cut -d, -f2-)" = "$(tail -1 "$T/dcmpng.csv" | cut -d, -f2-)" ]' \
      "DICOM and its display image as PNG score differently: $(tail -1 "$T/dcm.csv") / $(tail -1 "$T/dcmpng.csv")"
  fi
fi

[ $fail -eq 0 ] && echo "test_eval_predict: ok"
exit $fail
