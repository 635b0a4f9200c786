#!/usr/bin/env bash
# test_eval_outputs.sh — what `xraycls eval` writes beyond the summary, checked against
# independent implementations: prepare's splits.csv; predictions.csv / .jsonl (every image of the
# split, softmax of the logits = the probabilities, predict gives the same probabilities to 1e-6);
# roc.csv, pr.csv, AUROC and AP (scikit-learn), the Wilson / Clopper-Pearson intervals
# (statsmodels), DeLong's interval (the O(m·n) structural components written here), Brier score
# and reliability bins (scikit-learn), operating points chosen on val and applied to test; the
# folder eval-<dataset>-<split>, refused when it exists, replaced only with --overwrite.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/evalout
rm -rf "$T" && mkdir -p "$T"
. "${XRAYCLS_SOURCE_DIR:?}/tests/cli/lib.sh"
PY=/usr/bin/python3

"$B" prepare synthetic -o "$T/data" --n 40 --size 32 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
# splits.csv: every prepared image once, with its class and split, in the split files' order.
check '$PY - "$T/data" <<PY
import csv, json, struct, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(d + "/splits.csv")))
assert rows and list(rows[0]) == ["path", "label", "split"], rows[:1]
ds = json.load(open(d + "/dataset.json"))
for s in ("train", "val", "test"):
    b = open(f"{d}/{s}.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); meta = h["__metadata__"]
    files = json.loads(meta["xraycls.files"]); classes = json.loads(meta["xraycls.classes"])
    o = h["labels"]["data_offsets"]; lab = struct.unpack("<%dq" % len(files), b[8 + n + o[0]:8 + n + o[1]])
    mine = [(r["path"], r["label"]) for r in rows if r["split"] == s]
    assert mine == [(f, classes[l]) for f, l in zip(files, lab)], (s, mine[:2], files[:2])
    assert len(mine) == ds["splits"][s]["count"]
PY' "splits.csv"

cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4, "sampler": "shuffle"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 1, "seed": 3, "device": "cpu", "precision": "fp32"},
 "output": {"runs_dir": "$T/runs", "name": "tiny"}}
JSON
"$B" train --config "$T/tiny.json" >"$T/train.out" 2>&1 || { tail -5 "$T/train.out"; echo "FAIL: train"; exit 1; }
M=$T/runs/tiny/best.safetensors

"$B" eval --model "$M" --data "$T/data" --device cpu --bootstrap 50 >"$T/eval.out" 2>"$T/eval.err"; rc=$?
check '[ $rc -eq 0 ]' "eval failed: $(tail -3 "$T/eval.err")"
E=$T/runs/tiny/eval-data-test
for f in eval.json eval.csv eval.md predictions.csv predictions.jsonl roc.csv pr.csv calibration.csv; do
  check '[ -s "$E/$f" ]' "eval-data-test lacks $f"
done
"$B" eval --model "$M" --data "$T/data" --split val --device cpu --bootstrap 0 -o "$T/ev-val" >/dev/null 2>&1
check '[ -s "$T/ev-val/predictions.csv" ]' "eval -o of the val split"

check '$PY - "$E" "$T/ev-val" "$T/data" <<PY
import csv, json, math, struct, sys
import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve, average_precision_score, precision_recall_curve, brier_score_loss
from sklearn.calibration import calibration_curve
from statsmodels.stats.proportion import proportion_confint
from scipy.stats import norm
E, V, D = sys.argv[1:4]
ev = json.load(open(E + "/eval.json"))
classes = ev["classes"]; K = len(classes)
def load(d):
    rows = list(csv.DictReader(open(d + "/predictions.csv")))
    P = np.array([[float(r["prob:" + c]) for c in classes] for r in rows])
    Z = np.array([[float(r["logit:" + c]) for c in classes] for r in rows])
    y = np.array([classes.index(r["label"]) for r in rows])
    return rows, P, Z, y
rows, P, Z, y = load(E)
# the split, in order, as prepared
b = open(D + "/test.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n]); files = json.loads(h["__metadata__"]["xraycls.files"])
o = h["labels"]["data_offsets"]; lab = struct.unpack("<%dq" % len(files), b[8 + n + o[0]:8 + n + o[1]])
assert [r["path"] for r in rows] == files and list(y) == list(lab) and ev["n"] == len(rows)
assert all(r["predicted"] == classes[int(np.argmax(p))] for r, p in zip(rows, P))
S = np.exp(Z - Z.max(1, keepdims=True)); S /= S.sum(1, keepdims=True)
assert np.abs(S - P).max() < 1e-6, np.abs(S - P).max()
js = [json.loads(l) for l in open(E + "/predictions.jsonl")]
assert len(js) == len(rows) and all(j["path"] == r["path"] and j["label"] == r["label"] and
    all(j["probs"][c] == float(r["prob:" + c]) and j["logits"][c] == float(r["logit:" + c]) for c in classes)
    for j, r in zip(js, rows))
# curves and areas
roc = list(csv.DictReader(open(E + "/roc.csv"))); pr = list(csv.DictReader(open(E + "/pr.csv")))
z = norm.ppf(0.975)
for c, name in enumerate(classes):
    pos = (y == c).astype(int); pc = ev["per_class"][name]
    mine = [(float(r["threshold"]), float(r["fpr"]), float(r["tpr"])) for r in roc if r["class"] == name]
    if pos.sum() == 0 or pos.sum() == len(y):
        assert not mine and pc["auroc"]["value"] is None, (name, mine)
        assert pos.sum() > 0 or pc["ap"]["value"] is None
        continue
    fpr, tpr, thr = roc_curve(pos, P[:, c], drop_intermediate=False)
    assert len(mine) == len(fpr), (name, len(mine), len(fpr))
    for (t, f, r), (t2, f2, r2) in zip(mine, zip(thr, fpr, tpr)):
        assert abs(f - f2) < 1e-9 and abs(r - r2) < 1e-9 and (math.isinf(t) and t2 > 1 or abs(t - t2) < 1e-6), (t, t2)
    auc = roc_auc_score(pos, P[:, c]); assert abs(pc["auroc"]["value"] - auc) < 1e-9, (name, auc, pc["auroc"])
    ap = average_precision_score(pos, P[:, c]); assert abs(pc["ap"]["value"] - ap) < 1e-9, (name, ap, pc["ap"])
    # (scikit-learn before 1.1 stops its curve where the recall first reaches 1)
    pp, rr, _ = precision_recall_curve(pos, P[:, c])
    mp = [(float(r["recall"]), float(r["precision"])) for r in pr if r["class"] == name]
    if len(mp) != len(rr): mp = mp[:[r for r, _ in mp].index(1.0) + 1]
    assert np.allclose(sorted(zip(rr, pp)), sorted(mp), atol=1e-9), (name, mp, rr, pp)
    # DeLong: structural components, O(m n)
    X, Y = P[pos == 1, c], P[pos == 0, c]
    psi = lambda a, b: 1.0 if a > b else 0.5 if a == b else 0.0
    V10 = np.array([np.mean([psi(a, b) for b in Y]) for a in X]); V01 = np.array([np.mean([psi(a, b) for a in X]) for b in Y])
    var = (V10.var(ddof=1) / len(X) if len(X) > 1 else 0) + (V01.var(ddof=1) / len(Y) if len(Y) > 1 else 0)
    lo, hi = max(0, auc - z * math.sqrt(var)), min(1, auc + z * math.sqrt(var))
    assert pc["auroc"]["method"] == "delong" and abs(pc["auroc"]["ci_low"] - lo) < 1e-9 and abs(pc["auroc"]["ci_high"] - hi) < 1e-9, (name, lo, hi, pc["auroc"])
    # Wilson intervals of recall and specificity
    tp = int(((np.argmax(P, 1) == c) & (pos == 1)).sum())
    wl, wh = proportion_confint(tp, int(pos.sum()), alpha=0.05, method="wilson")
    assert pc["recall"]["method"] == "wilson" and abs(pc["recall"]["ci_low"] - wl) < 1e-9 and abs(pc["recall"]["ci_high"] - wh) < 1e-9, (name, wl, wh, pc["recall"])
    assert abs(pc["brier"] - brier_score_loss(pos, P[:, c])) < 1e-9, (name, pc["brier"])
# macro curves: their areas are the macro AUROC and the macro AP
mr = [(float(r["fpr"]), float(r["tpr"])) for r in roc if r["class"] == "macro"]
area = sum((f1 - f0) * (t0 + t1) / 2 for (f0, t0), (f1, t1) in zip(mr, mr[1:]))
aucs = [ev["per_class"][c]["auroc"]["value"] for c in classes if ev["per_class"][c]["auroc"]["value"] is not None]
assert abs(area - np.mean(aucs)) < 1e-7 and abs(ev["macro_auroc"]["value"] - np.mean(aucs)) < 1e-12, (area, aucs)
mp = [(float(r["recall"]), float(r["precision"])) for r in pr if r["class"] == "macro"]
aps = [ev["per_class"][c]["ap"]["value"] for c in classes if ev["per_class"][c]["ap"]["value"] is not None]
s = sum((r1 - r0) * p1 for (r0, p0), (r1, p1) in zip(mp, mp[1:]))
assert abs(s - np.mean(aps)) < 1e-7 and abs(ev["macro_ap"]["value"] - np.mean(aps)) < 1e-12, (s, aps)
# accuracy interval, Brier, top-label reliability and ECE
ok = int((np.argmax(P, 1) == y).sum()); wl, wh = proportion_confint(ok, len(y), alpha=0.05, method="wilson")
assert abs(ev["accuracy"]["ci_low"] - wl) < 1e-9 and abs(ev["accuracy"]["ci_high"] - wh) < 1e-9
cal = ev["calibration"]; onehot = np.eye(K)[y]
assert abs(cal["brier"] - ((P - onehot) ** 2).sum(1).mean()) < 1e-7, cal
conf = P.max(1); right = (np.argmax(P, 1) == y).astype(int); nb = cal["bins"]
rel = list(csv.DictReader(open(E + "/calibration.csv")))
for scheme, strategy in (("equal-width", "uniform"), ("equal-mass", "quantile")):
    fp, mp2 = calibration_curve(right, conf, n_bins=nb, strategy=strategy)
    mine = [(float(r["frac_pos"]), float(r["mean_prob"])) for r in rel if r["class"] == "top-label" and r["scheme"] == scheme and r["count"] != "0"]
    assert np.allclose(mine, list(zip(fp, mp2)), atol=1e-6), (scheme, mine, fp, mp2)
edges = np.linspace(0, 1, nb + 1); idx = np.searchsorted(edges[1:-1], conf)
ece = sum(abs(right[idx == b].mean() - conf[idx == b].mean()) * (idx == b).sum() for b in range(nb) if (idx == b).any()) / len(y)
assert abs(cal["top_label"]["ece_equal_width"] - ece) < 1e-6, (cal, ece)
# operating points: chosen on val (the other eval), applied here
_, Pv, _, yv = load(V)
op = ev["operating_points"]; assert op["chosen_on"] == "val", op.get("chosen_on")
for c, name in enumerate(classes):
    pv = (yv == c).astype(int); pt = (y == c).astype(int)
    entries = {e["rule"]: e for e in op["per_class"][name]}
    if pv.sum() == 0 or pv.sum() == len(yv):
        assert not any(e["defined"] for e in entries.values()); continue
    fpr, tpr, thr = roc_curve(pv, Pv[:, c], drop_intermediate=False)
    want = {"youden": thr[int(np.argmax(tpr - fpr))], "sensitivity": thr[int(np.argmax(tpr >= 0.95 - 1e-12))],
            "specificity": thr[int(np.nonzero(1 - fpr >= 0.95 - 1e-12)[0].max())]}
    for rule, t in want.items():
        e = entries[rule]; assert e["defined"], (name, rule)
        et = float("inf") if e["threshold"] == "inf" else e["threshold"]
        assert (math.isinf(et) and t > 1) or abs(et - t) < 1e-6, (name, rule, et, t)
        called = P[:, c] >= et
        tp, fn = int((called & (pt == 1)).sum()), int((~called & (pt == 1)).sum())
        tn, fp_ = int((~called & (pt == 0)).sum()), int((called & (pt == 0)).sum())
        assert (e["tp"], e["fn"], e["tn"], e["fp"]) == (tp, fn, tn, fp_), (name, rule, e)
        if tp + fn:
            wl, wh = proportion_confint(tp, tp + fn, alpha=0.05, method="wilson")
            assert abs(e["sensitivity"]["ci_low"] - wl) < 1e-9 and abs(e["sensitivity"]["ci_high"] - wh) < 1e-9
        else:
            assert e["sensitivity"]["value"] is None
pv = ev["provenance"]
assert pv["epoch"] == 1 and pv["model"].startswith("/") and pv["data"].startswith("/") and pv["utc"].endswith("Z") and pv["version"]
PY' "eval outputs against scikit-learn / statsmodels"

# predict gives the probabilities eval gave, for the same images (the prepared sources).
cut -d, -f2 "$E/predictions.csv" | tail -n +2 | sed "s|^|$T/data/raw/|" >"$T/files.txt"
"$B" predict --model "$M" --device cpu --batch 3 -o "$T/pred.csv" $(cat "$T/files.txt") >/dev/null 2>"$T/pred.err"; rc=$?
check '[ $rc -eq 0 ]' "predict failed: $(tail -3 "$T/pred.err")"
check '$PY - "$T/pred.csv" "$E/predictions.csv" "$T/data/raw/" <<PY
import csv, sys
pred = {r["path"][len(sys.argv[3]):]: r for r in csv.DictReader(open(sys.argv[1]))}
ev = list(csv.DictReader(open(sys.argv[2])))
cls = [k[5:] for k in ev[0] if k.startswith("prob:")]
assert len(pred) == len(ev)
worst = max(abs(float(pred[r["path"]][c]) - float(r["prob:" + c])) for r in ev for c in cls)
assert worst <= 1e-6, worst
print("predict vs eval: largest difference", worst)
PY' "predict and eval probabilities differ by more than 1e-6"

# Clopper-Pearson on request, written beside each interval.
"$B" eval --model "$M" --data "$T/data" --device cpu --bootstrap 0 --ci clopper-pearson -o "$T/ev-cp" >/dev/null 2>&1
check '$PY - "$T/ev-cp" <<PY
import csv, json, sys
import numpy as np
from statsmodels.stats.proportion import proportion_confint
ev = json.load(open(sys.argv[1] + "/eval.json"))
cm = np.array(ev["confusion_matrix"]); ok, n = int(np.trace(cm)), int(cm.sum())
lo, hi = proportion_confint(ok, n, alpha=0.05, method="beta")
a = ev["accuracy"]; assert a["method"] == "clopper-pearson" and abs(a["ci_low"] - lo) < 1e-9 and abs(a["ci_high"] - hi) < 1e-9, (a, lo, hi)
assert ev["balanced_accuracy"]["ci_low"] is None  # bootstrap off: no interval for it
rows = {r["name"]: r for r in csv.DictReader(open(sys.argv[1] + "/eval.csv"))}
assert rows["micro"]["recall_ci_method"] == "clopper-pearson", rows["micro"]
assert "clopper-pearson" in open(sys.argv[1] + "/eval.md").read()
PY' "eval --ci clopper-pearson"
"$B" eval --model "$M" --data "$T/data" --device cpu --ci nosuch -o "$T/ev-bad" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ] && [ ! -e "$T/ev-bad" ]' "--ci nosuch should be a usage error"

# Never silently replaced: refused (exit 1, naming the folder), kept as it was; --overwrite
# replaces it and leaves no temporary behind.
cp "$E/eval.json" "$T/before.json"
"$B" eval --model "$M" --data "$T/data" --device cpu --bootstrap 10 >/dev/null 2>"$T/again.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "eval-data-test" "$T/again.err" && grep -q -- "--overwrite" "$T/again.err"' "existing eval folder: $(cat "$T/again.err")"
check 'cmp -s "$T/before.json" "$E/eval.json"' "a refused eval changed the old one"
"$B" eval --model "$M" --data "$T/data" --device cpu --bootstrap 10 --overwrite >/dev/null 2>"$T/ow.err"; rc=$?
check '[ $rc -eq 0 ] && [ -s "$E/eval.json" ] && $PY -c "import json,sys; assert json.load(open(sys.argv[1]))[\"bootstrap\"][\"resamples\"] == 10" "$E/eval.json"' "eval --overwrite: $(cat "$T/ow.err")"
check '[ -z "$(ls -A "$T/runs/tiny" | grep "^\.")" ]' "temporaries left in the run folder: $(ls -A "$T/runs/tiny")"

# training's validation macro F1 (metrics.jsonl, the one epoch = best.safetensors) is
# scikit-learn's macro F1 of eval's predictions of the val split
check '$PY - "$T/runs/tiny/metrics.jsonl" "$T/ev-val" <<PY
import csv, json, sys
from sklearn.metrics import f1_score
h = [json.loads(l) for l in open(sys.argv[1])]; assert len(h) == 1, h
rows = list(csv.DictReader(open(sys.argv[2] + "/predictions.csv")))
y = [r["label"] for r in rows]; p = [r["predicted"] for r in rows]
f1 = f1_score(y, p, labels=sorted(set(y)), average="macro", zero_division=0)
assert abs(h[0]["val_macro_f1"] - f1) < 1e-9, (h[0], f1)
assert open(sys.argv[1].replace("metrics.jsonl", "metrics.csv")).readline().strip().endswith(",val_auroc,val_macro_f1")
PY' "val_macro_f1 in metrics.jsonl/csv against scikit-learn"

# calibrate: the temperature fitted on val matches a Newton fit written here on eval's val logits;
# the input is not changed, the new file holds the same tensors; eval and predict apply it.
sha_before=$(sha256sum "$M" | cut -d' ' -f1)
"$B" calibrate --model "$M" --data "$T/data" --device cpu -o "$T/cal.safetensors" >"$T/cal.out" 2>"$T/cal.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "^temperature " "$T/cal.out"' "calibrate failed: $(cat "$T/cal.err")"
check '[ "$(sha256sum "$M" | cut -d" " -f1)" = "$sha_before" ]' "calibrate changed its input"
check 'same "$M" "$T/cal.safetensors" >/dev/null' "the calibrated file holds other tensors"
"$B" eval --model "$T/cal.safetensors" --data "$T/data" --device cpu --bootstrap 0 -o "$T/ev-cal" >/dev/null 2>"$T/evcal.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "calibrated by the model file" "$T/evcal.err"' "eval of the calibrated model: $(cat "$T/evcal.err")"
"$B" predict --model "$T/cal.safetensors" --device cpu -o "$T/pred-cal.csv" $(cat "$T/files.txt") >/dev/null 2>"$T/predcal.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "calibrated by the model file" "$T/predcal.err"' "predict of the calibrated model: $(cat "$T/predcal.err")"
check '$PY - "$T/cal.safetensors" "$T/ev-val" "$E" "$T/ev-cal" "$T/pred-cal.csv" "$T/data/raw/" <<PY
import csv, json, struct, sys
import numpy as np
calf, V, E, C, PC, RAW = sys.argv[1:7]
b = open(calf, "rb").read(); h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
cal = json.loads(h["__metadata__"]["xraycls.calibration"])
def load(d):
    ev = json.load(open(d + "/eval.json")); cl = ev["classes"]
    rows = list(csv.DictReader(open(d + "/predictions.csv")))
    Z = np.array([[float(r["logit:" + c]) for c in cl] for r in rows], dtype=np.float64)
    P = np.array([[float(r["prob:" + c]) for c in cl] for r in rows])
    return cl, rows, Z, P, np.array([cl.index(r["label"]) for r in rows])
cl, _, Z, P, y = load(V)
def nll(Z, y, T):
    S = Z / T; S = S - S.max(1, keepdims=True)
    return float(np.mean(np.log(np.exp(S).sum(1)) - S[np.arange(len(y)), y]))
# Newton on b = 1/T with numerical derivatives of the exact NLL, from b = 1, clamped to [0.01, 100]
bb = 1.0
for _ in range(100):
    e = 1e-5; f0, fp, fm = nll(Z, y, 1 / bb), nll(Z, y, 1 / (bb + e)), nll(Z, y, 1 / (bb - e))
    g, H = (fp - fm) / (2 * e), (fp - 2 * f0 + fm) / (e * e)
    step = g / H if H > 0 else np.sign(g) * 0.5
    bb = min(100.0, max(0.01, bb - step))
    if abs(step) < 1e-10: break
T = 1 / bb
assert abs(cal["temperature"] - T) <= 1e-4 * T, (cal, T)
assert cal["split"] == "val" and cal["n"] == len(y) and cal["data"].startswith("/")
assert abs(cal["nll_before"] - nll(Z, y, 1.0)) < 1e-5 and abs(cal["nll_after"] - nll(Z, y, T)) < 1e-5, cal
def ece(P, y, B=15):
    conf, right = P.max(1), P.argmax(1) == y
    bins = np.searchsorted(np.linspace(0, 1, B + 1)[1:-1], conf, side="left")
    return sum(abs(right[bins == k].mean() - conf[bins == k].mean()) * (bins == k).sum() for k in range(B) if (bins == k).any()) / len(y)
Pt = np.exp(Z / T - (Z / T).max(1, keepdims=True)); Pt /= Pt.sum(1, keepdims=True)
assert abs(cal["ece_before"] - ece(P, y)) < 1e-5 and abs(cal["ece_after"] - ece(Pt, y)) < 1e-5, (cal, ece(P, y), ece(Pt, y))
# eval of the test split: the probabilities are softmax(z / T) of the logits
cl, rows, Zt, Pc, yt = load(C)
Q = np.exp(Zt / cal["temperature"] - (Zt / cal["temperature"]).max(1, keepdims=True)); Q /= Q.sum(1, keepdims=True)
assert np.abs(Q - Pc).max() < 1e-6, np.abs(Q - Pc).max()
_, _, Z0, _, _ = load(E); assert np.abs(Z0 - Zt).max() == 0  # the logits: those of the uncalibrated model
ev = json.load(open(C + "/eval.json")); assert "temperature" in (ev["provenance"]["temperature"] or ""), ev["provenance"]
pred = {r["path"][len(RAW):]: r for r in csv.DictReader(open(PC))}
worst = max(abs(float(pred[r["path"]][c]) - float(r["prob:" + c])) for r in rows for c in cl)
assert worst <= 1e-6, worst
PY' "calibrate: the temperature, NLL and ECE against a Newton fit here; eval and predict apply it"
# The operating points calibrate stores: each class's thresholds equal a choice made here with
# scikit-learn's roc_curve on the calibrated val probabilities (softmax(z / T) of eval's val
# logits); eval of the calibrated file reports them (not chosen again) on test with the counts
# they give there.
check '$PY - "$T/cal.safetensors" "$T/ev-val" "$T/ev-cal" <<PY
import csv, json, struct, sys
import numpy as np
from sklearn.metrics import roc_curve
calf, V, C = sys.argv[1:4]
b = open(calf, "rb").read(); h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
cal = json.loads(h["__metadata__"]["xraycls.calibration"]); op = cal["operating_points"]
ev = json.load(open(V + "/eval.json")); cl = ev["classes"]
assert op["classes"] == cl and op["applied"] == "youden" and op["target_sensitivity"] == 0.95, op
def probs(d):
    rows = list(csv.DictReader(open(d + "/predictions.csv")))
    Z = np.array([[float(r["logit:" + c]) for c in cl] for r in rows]) / cal["temperature"]
    P = np.exp(Z - Z.max(1, keepdims=True)); P /= P.sum(1, keepdims=True)
    return P, np.array([cl.index(r["label"]) for r in rows])
P, y = probs(V)
for c in range(len(cl)):
    pos = y == c
    if pos.all() or not pos.any():
        assert op["thresholds"][c] == [None] * 3, op["thresholds"][c]; continue
    fpr, tpr, thr = roc_curve(pos, P[:, c], drop_intermediate=False)
    thr[0] = np.inf                                    # the point that calls nothing positive
    j = tpr - fpr; youden = thr[np.flatnonzero(j == j.max())[0]]   # ties: the highest threshold
    sens = thr[np.flatnonzero(tpr >= 0.95)[0]]                   # the highest with tpr >= target
    spec = thr[np.flatnonzero(1 - fpr >= 0.95)[-1]]              # the lowest with tnr >= target
    got = [np.inf if x == "inf" else x for x in op["thresholds"][c]]
    for g, want in zip(got, (youden, sens, spec)):  # float32 probabilities there, float64 here
        assert g == want if np.isinf(want) else abs(g - want) < 1e-5, (c, got, youden, sens, spec)
    t = got[0]; hit = P[:, c] >= t - 1e-5
    assert abs(op["sensitivity"][c][0] - (hit & pos).sum() / pos.sum()) < 1e-9, c
    assert abs(op["specificity"][c][0] - (~hit & ~pos).sum() / (~pos).sum()) < 1e-9, c
e = json.load(open(C + "/eval.json"))["operating_points"]
assert e["thresholds_from"] == "model file" and e["chosen_on"] == "val", e
Pt, yt = probs(C)
for c, name in enumerate(cl):
    for r, o in enumerate(e["per_class"][name]):
        t = op["thresholds"][c][r]
        assert o["defined"] == (t is not None), (name, o)
        if t is None: continue
        assert o["threshold"] == t if t == "inf" else abs(o["threshold"] - t) < 1e-12, (o["threshold"], t)
        t = np.inf if t == "inf" else t
        hit, pos = Pt[:, c] >= t - 1e-5, yt == c
        assert (o["tp"], o["fn"], o["tn"], o["fp"]) == ((hit & pos).sum(), (~hit & pos).sum(), (~hit & ~pos).sum(), (hit & ~pos).sum()), (name, o)
PY' "calibrate: the stored operating points against scikit-learn's ROC on val; eval applies them to test"
check 'grep -q "the model file.s thresholds" "$T/evcal.err"' "eval does not say it uses the model file's thresholds: $(cat "$T/evcal.err")"
"$B" eval --model "$T/cal.safetensors" --data "$T/data" --device cpu --bootstrap 0 --thresholds-from val -o "$T/ev-cal2" >/dev/null 2>"$T/evcal2.err"; rc=$?
check '[ $rc -eq 0 ] && ! grep -q "the model file.s thresholds" "$T/evcal2.err" && grep -q "\"this evaluation\"" "$T/ev-cal2/eval.json"' \
  "eval --thresholds-from chooses again: $(cat "$T/evcal2.err")"
"$B" calibrate --model "$M" --data "$T/data" --device cpu -o "$T/x.safetensors" --operating-point best >/dev/null 2>"$T/cal4.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "expected youden, sensitivity or specificity" "$T/cal4.err" && [ ! -e "$T/x.safetensors" ]' \
  "an unknown --operating-point is a usage error: $(cat "$T/cal4.err")"
# A two-class model: predict labels by the stored threshold of the rule chosen at calibrate.
"$B" prepare coronahack --root "$T/data/raw" --task normal-vs-pneumonia --size 32 -o "$T/bin" >/dev/null 2>&1 ||
  check 'false' "prepare normal-vs-pneumonia"
sed -e "s|\"$T/data\"|\"$T/bin\"|" -e 's|"tiny"|"tinybin"|' "$T/tiny.json" >"$T/bin.json"
"$B" train --config "$T/bin.json" >"$T/trainb.out" 2>&1 || check 'false' "train of the two-class model: $(tail -3 "$T/trainb.out")"
"$B" calibrate --model "$T/runs/tinybin/best.safetensors" --data "$T/bin" --device cpu --operating-point sensitivity \
  --target-sensitivity 0.9 -o "$T/calb.safetensors" >"$T/calb.out" 2>"$T/calb.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "^predict calls " "$T/calb.out"' "calibrate of the two-class model: $(cat "$T/calb.err" "$T/calb.out")"
"$B" predict --model "$T/calb.safetensors" --device cpu -o "$T/predb.csv" "$T/data/raw" >/dev/null 2>"$T/predb.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "sensitivity operating point" "$T/predb.err"' "predict announces the threshold: $(cat "$T/predb.err")"
check '$PY - "$T/calb.safetensors" "$T/predb.csv" <<PY
import csv, json, struct, sys
b = open(sys.argv[1], "rb").read(); h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
op = json.loads(h["__metadata__"]["xraycls.calibration"])["operating_points"]
assert op["applied"] == "sensitivity" and op["target_sensitivity"] == 0.9, op
t = op["thresholds"][1][1]; a, b2 = op["classes"]
rows = list(csv.DictReader(open(sys.argv[2]))); assert rows
for r in rows: assert r["label"] == (b2 if float(r[b2]) >= t else a), (r, t)
PY' "predict labels a two-class model by its stored operating point"
"$B" calibrate --model "$M" --data "$T/data" --device cpu -o "$T/cal.safetensors" >/dev/null 2>"$T/cal2.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "never replaced silently" "$T/cal2.err"' "an existing calibrated file is refused: $(cat "$T/cal2.err")"
"$B" calibrate --model "$M" --data "$T/data" --device cpu -o "$M" --overwrite >/dev/null 2>"$T/cal3.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "the input model itself" "$T/cal3.err" && [ "$(sha256sum "$M" | cut -d" " -f1)" = "$sha_before" ]' \
  "calibrating into the input is refused: $(cat "$T/cal3.err")"
"$B" calibrate --model "$M" --data "$T/data" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "calibrate without -o is a usage error"
rm -f "$T/cal.safetensors"

drop "$T/runs/tiny"
drop "$T/runs/tinybin"
[ $fail -eq 0 ] && echo "test_eval_outputs: ok"
exit $fail
