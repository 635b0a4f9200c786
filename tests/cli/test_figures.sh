#!/usr/bin/env bash
# test_figures.sh — the figures of a tiny synthetic pipeline (prepare → train → eval) and
# `xraycls figures` redrawing them: train draws the curves in the format of output.figures, eval
# draws the confusion matrix, ROC, PR and reliability figures beside their CSVs (--figures none:
# none); `figures` redraws a run folder and an eval folder as PNG, SVG and PDF (valid files: PNG
# signature and size, SVG that parses as XML naming the run, the classes and the best epoch, PDF
# header and trailer), the AUROC and AP in the legends are eval.json's; a folder without data, a
# file, an existing figure, an unknown format and a missing folder are refused with nothing
# written. A build without cairo: figures says so (exit 1) and the test is skipped.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/figures
rm -rf "$T" && mkdir -p "$T/empty"
. "${XRAYCLS_SOURCE_DIR:?}/tests/cli/lib.sh"
PY=/usr/bin/python3

"$B" figures "$T/empty" >/dev/null 2>"$T/nocairo.err"; rc=$?
if grep -q "built without cairo" "$T/nocairo.err"; then
  check '[ $rc -eq 1 ] && grep -q "install libcairo2-dev and reconfigure" "$T/nocairo.err"' "figures without cairo"
  [ $fail -eq 0 ] || exit 1
  echo "test_figures: skipped (built without cairo)"
  exit 77
fi

"$B" prepare synthetic -o "$T/data" --n 40 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4, "sampler": "shuffle"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 2, "seed": 3, "device": "cpu", "precision": "fp32", "best_metric": "val_loss"},
 "output": {"runs_dir": "$T/runs", "name": "tiny", "figures": "svg"}}
JSON
"$B" train --config "$T/tiny.json" >"$T/train.out" 2>&1 || { tail -5 "$T/train.out"; echo "FAIL: train"; exit 1; }
R=$T/runs/tiny
check '[ -s "$R/accuracy.svg" ] && [ -s "$R/loss.svg" ] && [ ! -e "$R/accuracy.png" ]' \
  "train draws its curves as output.figures says (svg): $(ls "$R")"
check '! grep -q "curves not drawn\|figures skipped" "$R/train.log"' "train.log: $(grep -i figure "$R/train.log")"

"$B" eval --model "$R/best.safetensors" --data "$T/data" --device cpu --bootstrap 0 >"$T/eval.out" 2>"$T/eval.err"; rc=$?
check '[ $rc -eq 0 ]' "eval failed: $(tail -3 "$T/eval.err")"
E=$R/eval-data-test
for f in confusion_matrix roc pr calibration; do
  check '[ -s "$E/$f.png" ] && [ -s "$E/$f.csv" ]' "eval lacks $f.png or $f.csv"
done
check 'grep -q "eval: figures: confusion_matrix.png, roc.png, pr.png, calibration.png" "$T/eval.err"' "eval's figures line"
"$B" eval --model "$R/best.safetensors" --data "$T/data" --device cpu --bootstrap 0 --figures none -o "$T/ev-none" \
  >/dev/null 2>&1
check '[ -s "$T/ev-none/roc.csv" ] && [ -z "$(ls "$T/ev-none" | grep -E "\.(png|svg|pdf)$")" ]' "--figures none draws nothing"
"$B" eval --model "$R/best.safetensors" --data "$T/data" --figures gif >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "figures: .gif. is not png, svg, pdf or none" "$T/err"' "eval --figures gif: $(cat "$T/err")"

# figures: a run folder in PDF, beside its data.
"$B" figures "$R" --format pdf >"$T/fig.out" 2>"$T/fig.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "accuracy.pdf, loss.pdf" "$T/fig.out"' "figures RUN --format pdf: $(cat "$T/fig.err")"
# an eval folder, as SVG into another folder, then PNG there too
"$B" figures "$E" --format svg -o "$T/out" >"$T/fig.out" 2>"$T/fig.err"; rc=$?
check '[ $rc -eq 0 ]' "figures EVAL --format svg -o: $(cat "$T/fig.err")"
"$B" figures "$E" -o "$T/out" >/dev/null 2>&1
check '$PY - "$R" "$E" "$T/out" <<PY
import csv, json, struct, sys, xml.etree.ElementTree as ET
R, E, O = sys.argv[1:4]
ev = json.load(open(E + "/eval.json")); classes = ev["classes"]
curved = [c for c in classes if ev["per_class"][c]["auroc"]["value"] is not None]
assert curved, ev["per_class"]
NS = "{http://www.w3.org/2000/svg}"
def svg(p):
    root = ET.parse(p).getroot()  # well-formed XML, or this raises
    assert root.tag == NS + "svg", root.tag
    return root.find(NS + "title").text, root.find(NS + "desc").text.split("\n")
for f in ("confusion_matrix", "roc", "pr", "calibration"):
    title, texts = svg(f"{O}/{f}.svg")
    assert title.endswith("tiny/best, eval-data-test"), title
    b = open(f"{O}/{f}.png", "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR", f
    w, h = struct.unpack(">II", b[16:24]); assert w == 1050 and 700 < h < 1200, (f, w, h)
    # every class labels the matrix; the curves are those of the classes present in the split
    for c in classes if f == "confusion_matrix" else (f != "calibration") * curved:
        assert any(t.startswith(c) for t in texts), (f, c, texts)
# the legends hold the metrics of eval.json: drawn from the same numbers
_, texts = svg(O + "/roc.svg")
for c in curved:
    v = ev["per_class"][c]["auroc"]["value"]
    assert "%s (AUROC %.3f)" % (c, v) in texts, (c, v, texts)
assert "macro (AUROC %.3f)" % ev["macro_auroc"]["value"] in texts, texts
_, texts = svg(O + "/pr.svg")
for c in curved:
    assert "%s (AP %.3f)" % (c, ev["per_class"][c]["ap"]["value"]) in texts, (c, texts)
_, texts = svg(O + "/calibration.svg")
ece = ev["calibration"]["top_label"]["ece_equal_width"]
assert "top label (ECE %.3f)" % ece in texts, (ece, texts)
# confusion matrix: its counts, from confusion_matrix.csv = eval.json
rows = list(csv.reader(open(E + "/confusion_matrix.csv")))
assert rows[0] == ["true"] + ["predicted:" + c for c in classes], rows[0]
assert [[int(x) for x in r[1:]] for r in rows[1:]] == ev["confusion_matrix"]
# the run: the best epoch of val_loss marked, as in metrics.csv
m = list(csv.DictReader(open(R + "/metrics.csv")))
best = min((float(r["val_loss"]), int(r["epoch"])) for r in m if r["val_loss"])[1]
for f in ("accuracy", "loss"):
    title, texts = svg(f"{R}/{f}.svg")
    assert title.endswith("tiny"), title
    assert "best: epoch %d" % best in texts, (best, texts)
for f in ("accuracy", "loss"):
    b = open(f"{R}/{f}.pdf", "rb").read()
    assert b[:5] == b"%PDF-" and b.rstrip().endswith(b"%%EOF"), f
PY' "the figures: valid files, the run in every title, the data of their CSVs"
check '[ -z "$(ls -A "$E" "$R" "$T/out" | grep "^\.")" ]' "temporaries left"

# refused, with nothing written
"$B" figures "$E" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "confusion_matrix.png. exists: figures are never replaced silently" "$T/err"' "existing: $(cat "$T/err")"
"$B" figures "$E" --overwrite >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ]' "--overwrite: $(cat "$T/err")"
: >"$T/empty/notes.txt"
"$B" figures "$T/empty" -o "$T/empty-out" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "holds no figure data" "$T/err" && [ ! -e "$T/empty-out" ] && [ "$(ls -A "$T/empty")" = notes.txt ]' \
  "a folder with no CSVs: $(cat "$T/err")"
"$B" figures "$E" --format gif >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "format: .gif. is not png, svg or pdf" "$T/err" && grep -q "Try .xraycls figures --help" "$T/err"' \
  "unknown format: $(cat "$T/err")"
"$B" figures >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ]' "no folder: a usage error"
"$B" figures "$E/roc.csv" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "is not a folder" "$T/err"' "a file: $(cat "$T/err")"
"$B" figures "$T/nowhere" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ]' "a missing folder"
mkdir -p "$T/broken" && cp "$E/roc.csv" "$T/broken/" && printf 'class,threshold,precision,recall\nA,inf,2,0\n' >"$T/broken/pr.csv"
"$B" figures "$T/broken" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "pr.csv. line 2: precision" "$T/err" && [ "$(ls "$T/broken" | wc -l)" -eq 2 ]' \
  "a malformed CSV: nothing drawn: $(cat "$T/err"; ls "$T/broken")"
"$B" figures --help | grep -q "usage: xraycls figures DIR"
check '[ $? -eq 0 ]' "figures --help"
"$B" --help 2>&1 | grep -q "figures"
check '[ $? -eq 0 ]' "figures in xraycls --help"

drop "$R"
[ $fail -eq 0 ] && echo "test_figures: ok"
exit $fail
