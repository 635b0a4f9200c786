#!/usr/bin/env bash
# test_compare.sh — `xraycls compare A B` against independent implementations: two eval folders
# (eval.json + predictions.csv as eval writes them) of correlated synthetic scores; McNemar from
# statsmodels (exact and chi-squared), DeLong's paired test from the O(m·n) structural components
# written here, the Wald interval of the paired accuracy difference, and the paired bootstrap of
# macro F1 / balanced accuracy / macro AUROC replayed here draw for draw (xoshiro256** seeded by
# splitmix64, stratified by class) with scikit-learn's metrics and numpy's percentiles. Refusals:
# other images, other labels, other classes, a model file without --data, an existing folder; run
# folders; a multi-label pair; a class absent from the split; identical models. Model files
# (random resnet18s written by PyTorch): scored on a prepared split, their comparison equals that
# of their eval folders (every number and p-value), alone or beside an eval folder; other classes
# refused before scoring; --tta recorded per side.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/compare
rm -rf "$T" && mkdir -p "$T"
. "${XRAYCLS_SOURCE_DIR:?}/tests/cli/lib.sh"
PY=/usr/bin/python3

# make DIR SEED N NOISE [classes...]: an eval folder; the same seed gives the same images and
# labels, NOISE how far the scores are from the labels.
cat >"$T/make.py" <<'PY'
import csv, json, sys
import numpy as np
d, seed, n, noise, variant = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
classes = sys.argv[6:] or ["Normal", "Bacteria", "Virus"]
K = len(classes)
rs = np.random.RandomState(seed)
y = rs.randint(0, K, n)
if K > 3: y[y == K - 1] = 0           # the last class absent from the split
base = rs.randn(n, K)
rv = np.random.RandomState(1000 + variant)
Z = base * noise + 2.0 * np.eye(K)[y] + rv.randn(n, K) * 0.7
Z = np.round(Z, 1)                     # ties
P = np.exp(Z - Z.max(1, keepdims=True)); P /= P.sum(1, keepdims=True)
import os; os.makedirs(d, exist_ok=True)
json.dump({"format": 1, "model": d + "/m.safetensors", "data": "data", "split": "test", "classes": classes,
           "n": n, "multilabel": False}, open(d + "/eval.json", "w"))
with open(d + "/predictions.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["index", "path", "label", "predicted"] + ["prob:" + c for c in classes])
    for i in range(n):
        w.writerow([i, "img/%04d.png" % i, classes[y[i]], classes[int(np.argmax(P[i]))]] + ["%.9g" % p for p in P[i]])
PY
$PY "$T/make.py" "$T/runA/eval-data-test" 7 300 1.0 1
$PY "$T/make.py" "$T/runB/eval-data-test" 7 300 1.2 2

"$B" compare "$T/runA" "$T/runB" -o "$T/cmp" --bootstrap 300 --seed 11 >"$T/out.md" 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ]' "compare of two run folders failed: $(cat "$T/err")"
for f in compare.json compare.csv compare.md; do check '[ -s "$T/cmp/$f" ]' "compare lacks $f"; done
check 'grep -q "| accuracy |" "$T/out.md"' "the Markdown table is printed"

check '$PY - "$T/runA/eval-data-test" "$T/runB/eval-data-test" "$T/cmp" 300 11 <<PY
import csv, json, sys
import numpy as np
from scipy.stats import norm
from sklearn.metrics import f1_score, balanced_accuracy_score, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar
A, Bd, C, NB, SEED = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
cmp = json.load(open(C + "/compare.json"))
classes = json.load(open(A + "/eval.json"))["classes"]; K = len(classes)
def load(d):
    rows = list(csv.DictReader(open(d + "/predictions.csv")))
    P = np.array([[float(r["prob:" + c]) for c in classes] for r in rows])
    return np.array([classes.index(r["label"]) for r in rows]), np.array([classes.index(r["predicted"]) for r in rows]), P
y, pa, Pa = load(A); _, pb, Pb = load(Bd); n = len(y)
# McNemar
ra, rb = pa == y, pb == y
b, c = int(np.sum(ra & ~rb)), int(np.sum(~ra & rb))
ac = cmp["accuracy"]
assert (ac["a_right_b_wrong"], ac["a_wrong_b_right"]) == (b, c), (ac, b, c)
exact = b + c < 25
r = mcnemar([[0, b], [c, 0]], exact=exact, correction=True)
assert ac["test"] == ("mcnemar-exact" if exact else "mcnemar-chi2")
assert abs(ac["p_value"] - r.pvalue) < 1e-9 and abs(ac["statistic"] - r.statistic) < 1e-9, (ac, r)
d = (b - c) / n; se = np.sqrt(b + c - (b - c) ** 2 / n) / n; z = norm.ppf(0.975)
assert abs(ac["diff"] - d) < 1e-12 and abs(ac["ci_low"] - (d - z * se)) < 1e-9 and abs(ac["ci_high"] - (d + z * se)) < 1e-9
assert abs(ac["a"] - ra.mean()) < 1e-12 and abs(ac["b"] - rb.mean()) < 1e-12
# DeLong paired, O(m n) structural components (DeLong et al. 1988)
def psi(x, w): return (x > w) + 0.5 * (x == w)
def comps(s, pos):
    X, Y = s[pos], s[~pos]; M = psi(X[:, None], Y[None, :])
    return M.mean(), M.mean(1), M.mean(0)
for k, cl in enumerate(classes):
    e = cmp["auroc"]["per_class"][cl]; pos = y == k
    if pos.all() or not pos.any():
        assert e.get("absent") is True, e; continue
    aa, va, wa = comps(Pa[:, k], pos); ab, vb, wb = comps(Pb[:, k], pos)
    m, nn = pos.sum(), (~pos).sum()
    S10 = np.cov(np.vstack([va, vb])); S01 = np.cov(np.vstack([wa, wb])); S = S10 / m + S01 / nn
    se = np.sqrt(S[0, 0] + S[1, 1] - 2 * S[0, 1]); diff = aa - ab
    assert abs(aa - roc_auc_score(pos, Pa[:, k])) < 1e-12
    assert abs(e["a"] - aa) < 1e-9 and abs(e["b"] - ab) < 1e-9 and abs(e["diff"] - diff) < 1e-9, (cl, e, aa, ab)
    assert abs(e["se"] - se) < 1e-9, (e["se"], se)
    p = 2 * norm.sf(abs(diff / se))
    assert abs(e["p_value"] - p) < 1e-9 and abs(e["ci_low"] - (diff - z * se)) < 1e-9, (e, p)
# the paired bootstrap, replayed: xoshiro256** seeded through splitmix64 (xraycls/rng.h)
M64 = (1 << 64) - 1
def splitmix(st):
    st = (st + 0x9E3779B97F4A7C15) & M64; z = st
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64; z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return st, z ^ (z >> 31)
class Rng:
    def __init__(self, seed):
        self.s = []; st = seed
        for _ in range(4): st, v = splitmix(st); self.s.append(v)
    def next(self):
        s = self.s; rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        out = (rotl((s[1] * 5) & M64, 7) * 9) & M64; t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 45)
        return out
    def below(self, m):
        th = ((1 << 64) - m) % m
        while True:
            x = self.next()
            if x >= th: return x % m
groups = [np.flatnonzero(y == k) for k in range(K)]
def draws():
    g = Rng(SEED)
    for _ in range(NB):
        yield np.concatenate([grp[[g.below(len(grp)) for _ in range(len(grp))]] for grp in groups if len(grp)])
present = [k for k in range(K) if 0 < (y == k).sum() < n]
def macro_f1(idx, p): return f1_score(y[idx], p[idx], labels=sorted(set(y[idx])), average="macro", zero_division=0)
def bacc(idx, p): return balanced_accuracy_score(y[idx], p[idx])
def mauc(idx, P): return np.mean([roc_auc_score(y[idx] == k, P[idx, k]) for k in present])
stats = {"macro_f1": (macro_f1, pa, pb), "balanced_accuracy": (bacc, pa, pb)}
full = np.arange(n)
D = {k: [] for k in stats}; D["macro_auroc"] = []
for idx in draws():
    for k, (f, qa, qb) in stats.items(): D[k].append(f(idx, qa) - f(idx, qb))
    D["macro_auroc"].append(mauc(idx, Pa) - mauc(idx, Pb))
for key in D:
    got = cmp["auroc"]["macro"] if key == "macro_auroc" else cmp[key]
    d = np.array(D[key])
    fa = mauc(full, Pa) if key == "macro_auroc" else stats[key][0](full, pa)
    fb = mauc(full, Pb) if key == "macro_auroc" else stats[key][0](full, pb)
    lo, hi = np.percentile(d, [2.5, 97.5])
    p = min(1.0, 2 * min((d <= 0).mean(), (d >= 0).mean()))
    assert got["resamples"] == NB and got["method"] == "bootstrap-paired", got
    assert abs(got["a"] - fa) < 1e-9 and abs(got["b"] - fb) < 1e-9, (key, got, fa, fb)
    assert abs(got["ci_low"] - lo) < 1e-9 and abs(got["ci_high"] - hi) < 1e-9, (key, got, lo, hi)
    assert abs(got["p_value"] - p) < 1e-12, (key, got["p_value"], p)
rows = list(csv.DictReader(open(C + "/compare.csv")))
assert [r["metric"] for r in rows] == ["accuracy"] + ["auroc"] * K + ["macro_auroc", "macro_f1", "balanced_accuracy"]
assert abs(float(rows[0]["p_value"]) - cmp["accuracy"]["p_value"]) < 1e-8
PY' "compare.json against statsmodels / DeLong / the replayed bootstrap"

# an existing folder is refused, --overwrite replaces it
"$B" compare "$T/runA" "$T/runB" -o "$T/cmp" --bootstrap 10 >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "never replaced silently" "$T/err"' "an existing output is refused: $(cat "$T/err")"
"$B" compare "$T/runA" "$T/runB" -o "$T/cmp" --bootstrap 10 --overwrite >/dev/null 2>"$T/err"
check '$PY -c "import json,sys; assert json.load(open(sys.argv[1]))[\"bootstrap\"][\"resamples\"] == 10" "$T/cmp/compare.json"' \
  "--overwrite replaces the comparison"
# the default folder is named by the runs
(cd "$T" && "$B" compare runA runB --bootstrap 5 >/dev/null 2>&1)
check '[ -s "$T/compare-runA-runB/compare.json" ]' "default folder compare-runA-runB"

# a model against itself: no difference, p = 1
"$B" compare "$T/runA/eval-data-test" "$T/runA/eval-data-test" -o "$T/self" --bootstrap 20 >/dev/null 2>&1
check '$PY - "$T/self/compare.json" <<PY
import json, sys
c = json.load(open(sys.argv[1]))
assert c["accuracy"]["diff"] == 0 and c["accuracy"]["p_value"] == 1, c["accuracy"]
assert all(v["diff"] == 0 and v["p_value"] == 1 for v in c["auroc"]["per_class"].values()), c["auroc"]
assert c["macro_f1"]["degenerate"] is True and c["macro_f1"]["p_value"] == 1
PY' "a model against itself"

# refusals: other images, other labels, other classes, a model file
$PY "$T/make.py" "$T/other" 8 300 1.0 1
"$B" compare "$T/runA" "$T/other" -o "$T/x1" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "disagree on the label of image" "$T/err" && [ ! -e "$T/x1" ]' "other labels refused: $(cat "$T/err")"
$PY "$T/make.py" "$T/short" 7 299 1.0 1
"$B" compare "$T/runA" "$T/short" -o "$T/x2" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "not of the same images: 300 images and 299" "$T/err"' "another count refused: $(cat "$T/err")"
mkdir -p "$T/renamed" && cp "$T/runB/eval-data-test/eval.json" "$T/renamed/" &&
  sed '3s#img/0001.png#img/x.png#' "$T/runB/eval-data-test/predictions.csv" >"$T/renamed/predictions.csv"
"$B" compare "$T/runA" "$T/renamed" -o "$T/x3" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "image 1 is .img/0001.png. in the first and .img/x.png. in the second" "$T/err"' \
  "other paths refused: $(cat "$T/err")"
$PY "$T/make.py" "$T/four" 7 300 1.0 1 Normal Bacteria Virus COVID-19
"$B" compare "$T/runA" "$T/four" -o "$T/x4" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "their classes differ" "$T/err"' "other classes refused: $(cat "$T/err")"
: >"$T/m.safetensors"
"$B" compare "$T/m.safetensors" "$T/runA" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "give --data DIR" "$T/err"' "a model file without --data is a usage error: $(cat "$T/err")"
"$B" compare "$T/runA" "$T/runB" --data "$T" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "score model files" "$T/err"' "--data with two evaluations is a usage error: $(cat "$T/err")"
"$B" compare "$T/runA" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ]' "one evaluation is a usage error"
cp "$T/runB/eval-data-test/predictions.csv" "$T/renamed/predictions.csv" && sed -i '7s/\(,[^,]*\)$/,1.5/' "$T/renamed/predictions.csv"
"$B" compare "$T/runA" "$T/renamed" -o "$T/x5" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "line 7: prob:Virus .1.5. is not a probability" "$T/err"' "a bad probability is refused: $(cat "$T/err")"

# a class absent from the split: its AUROC is absent, the rest computed
$PY "$T/make.py" "$T/fourB" 7 300 1.3 2 Normal Bacteria Virus COVID-19
"$B" compare "$T/four" "$T/fourB" -o "$T/abs" --bootstrap 20 >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ] && $PY -c "
import json,sys; c=json.load(open(sys.argv[1])); a=c[\"auroc\"][\"per_class\"]
assert a[\"COVID-19\"] == {\"absent\": True} and a[\"Normal\"][\"method\"] == \"delong-paired\", a" "$T/abs/compare.json"' \
  "an absent class: $(cat "$T/err")"

# multi-label: per finding over the known labels
cat >"$T/ml.py" <<'PY'
import csv, json, sys, os
import numpy as np
d, variant = sys.argv[1], int(sys.argv[2]); F = ["Atelectasis", "Effusion"]; n = 120
rs = np.random.RandomState(3); Y = rs.randint(0, 2, (n, 2)); known = rs.rand(n, 2) > 0.2
rv = np.random.RandomState(50 + variant); Z = 1.5 * Y + rv.randn(n, 2); P = 1 / (1 + np.exp(-Z))
os.makedirs(d, exist_ok=True)
json.dump({"format": 1, "split": "test", "classes": F, "n": n, "multilabel": True}, open(d + "/eval.json", "w"))
with open(d + "/predictions.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["index", "path"] + [x for c in F for x in ("prob:" + c, "logit:" + c, "label:" + c, "predicted:" + c)])
    for i in range(n):
        w.writerow([i, "p%d.png" % i] + [x for k in range(2) for x in ("%.9g" % P[i, k], "%.9g" % Z[i, k], Y[i, k] if known[i, k] else "", int(P[i, k] >= 0.5))])
PY
$PY "$T/ml.py" "$T/mlA" 1 && $PY "$T/ml.py" "$T/mlB" 2
"$B" compare "$T/mlA" "$T/mlB" -o "$T/ml" --bootstrap 20 >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ] && $PY - "$T/mlA" "$T/mlB" "$T/ml/compare.json" <<PY
import csv, json, sys
import numpy as np
from sklearn.metrics import roc_auc_score
c = json.load(open(sys.argv[3])); assert c["accuracy"] is None and c["macro_f1"] is None
ra, rb = (list(csv.DictReader(open(d + "/predictions.csv"))) for d in sys.argv[1:3])
for f in ["Atelectasis", "Effusion"]:
    keep = [i for i, r in enumerate(ra) if r["label:" + f] != ""]
    y = [int(ra[i]["label:" + f]) for i in keep]
    for key, rows in (("a", ra), ("b", rb)):
        auc = roc_auc_score(y, [float(rows[i]["prob:" + f]) for i in keep])
        assert abs(c["auroc"]["per_class"][f][key] - auc) < 1e-9, (f, key, auc)
PY' "multi-label comparison: $(cat "$T/err")"


# ---- model files: scored on a split as eval scores them, then the same comparison ---------------
# Two resnet18 with random weights (32 px, gray, 3 classes) written by PyTorch as model files, a
# third with other class names, and a prepared dataset of PNGs.
$PY - "$T/mf" <<'PY' || { echo "FAIL: generating the model files"; exit 1; }
import json, os, struct, sys
import numpy as np, torch, torchvision
from PIL import Image
T = sys.argv[1]; os.makedirs(T, exist_ok=True)
def write_st(path, tensors, meta):
    hdr, blobs, off = {"__metadata__": meta}, [], 0
    for k, v in tensors.items():
        a = v.contiguous().numpy(); b = a.tobytes()
        hdr[k] = {"dtype": {"float32": "F32", "int64": "I64"}[str(a.dtype)], "shape": list(a.shape),
                  "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    h = json.dumps(hdr).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
pre = json.dumps({"size": 32, "channels": 1, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                  "expand_gray_to_rgb": True})
for name, seed, classes in (("mA", 1, "abc"), ("mB", 2, "abc"), ("mC", 1, "xyz")):
    torch.manual_seed(seed)
    net = torchvision.models.resnet18(num_classes=3)
    with torch.no_grad():
        for mod in net.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
        net.fc.weight.mul_(4)
    write_st(f"{T}/{name}.safetensors", {"model." + k: v for k, v in net.state_dict().items()},
             {"xraycls.kind": "model", "xraycls.format": "1", "xraycls.arch": "resnet18",
              "xraycls.classes": json.dumps(list(classes)), "xraycls.num_classes": "3", "xraycls.head": "softmax",
              "xraycls.preprocessing": pre})
rng = np.random.default_rng(5)
for split, n in (("train", 2), ("test", 14)):
    for k, c in enumerate("abc"):
        os.makedirs(f"{T}/root/{split}/{c}", exist_ok=True)
        for i in range(n):
            y, x = np.mgrid[0:32, 0:32]
            f = 100 + 40 * k + 50 * np.sin(x / rng.uniform(2, 6)) + rng.normal(0, 30, (32, 32))
            Image.fromarray(np.clip(f, 0, 255).astype(np.uint8), "L").save(f"{T}/root/{split}/{c}/{c}{i}.png")
PY
M=$T/mf
"$B" prepare folder --root "$M/root" -o "$M/data" --size 32 >"$M/prep.out" 2>&1 || { cat "$M/prep.out"; echo "FAIL: prepare"; exit 1; }
for m in mA mB; do
  "$B" eval --model "$M/$m.safetensors" --data "$M/data" --device cpu --bootstrap 0 --thresholds-from none -o "$M/ev$m" \
    >/dev/null 2>"$M/ev$m.err" || { cat "$M/ev$m.err"; echo "FAIL: eval $m"; exit 1; }
done
"$B" compare "$M/evmA" "$M/evmB" -o "$M/folders" --bootstrap 300 --seed 4 >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ]' "compare of the eval folders: $(cat "$T/err")"
"$B" compare "$M/mA.safetensors" "$M/mB.safetensors" --data "$M/data" --split test --device cpu --batch 7 \
  -o "$M/models" --bootstrap 300 --seed 4 >"$M/models.out" 2>"$M/models.err"; rc=$?
check '[ $rc -eq 0 ]' "compare of the model files: $(tail -3 "$M/models.err")"
check 'grep -q "compare: A: test-time augmentation: none" "$M/models.err" && grep -q "| accuracy" "$M/models.out"' \
  "compare of model files says neither the TTA nor the table: $(cat "$M/models.err")"
"$B" compare "$M/evmA" "$M/mB.safetensors" --data "$M/data" --device cpu -o "$M/mixed" --bootstrap 300 --seed 4 \
  >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ]' "compare of an eval folder and a model file: $(cat "$T/err")"
# the same numbers, p-values included, as from the eval folders; only the sources differ
check '$PY - "$M" <<PY
import json, sys
M = sys.argv[1]
def load(d):
    j = json.load(open(f"{M}/{d}/compare.json"))
    src = (j.pop("a"), j.pop("b")); j.pop("provenance")
    return j, src
ref, (a, b) = load("folders")
assert a["eval"].endswith("evmA") and a["tta"] == "none", a
for d in ("models", "mixed"):
    got, (ga, gb) = load(d)
    assert got == ref, (d, [k for k in ref if ref[k] != got.get(k)])
    assert gb["eval"] is None and gb["model"].endswith("mB.safetensors") and gb["split"] == "test" and gb["tta"] == "none", gb
p = ref["accuracy"]["p_value"], ref["auroc"]["per_class"]["a"]["p_value"], ref["macro_f1"]["p_value"]
print("p-values (McNemar, DeLong of class a, bootstrap macro F1):", p)
PY' "compare of model files differs from compare of their eval folders"
check 'cmp -s "$M/folders/compare.csv" "$M/models/compare.csv"' "compare.csv of model files differs from the eval folders'"
"$B" compare "$M/mA.safetensors" "$M/mC.safetensors" --data "$M/data" --device cpu -o "$M/x6" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "mA.safetensors. and .*mC.safetensors. cannot be compared: their classes differ (\[a, b, c\] and \[x, y, z\])" "$T/err" && [ ! -e "$M/x6" ]' \
  "model files with other classes refused: $(cat "$T/err")"
"$B" compare "$M/evmA" "$M/mC.safetensors" --data "$M/data" --device cpu -o "$M/x7" >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "their classes differ" "$T/err" && [ ! -e "$M/x7" ]' "a model file whose classes are not the data's: $(cat "$T/err")"
"$B" compare "$M/mA.safetensors" "$M/mB.safetensors" --split test >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "give --data DIR" "$T/err"' "model files without --data: $(cat "$T/err")"
"$B" compare "$M/mA.safetensors" "$M/mB.safetensors" --data "$M/data" --tta twice >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "none, flip or tencrop" "$T/err"' "compare --tta twice: $(cat "$T/err")"
"$B" compare "$M/mA.safetensors" "$M/mB.safetensors" --data "$M/data" --device cpu --tta flip -o "$M/flip" --bootstrap 50 \
  >/dev/null 2>"$T/err"; rc=$?
check '[ $rc -eq 0 ] && $PY -c "
import json,sys; c=json.load(open(sys.argv[1])); assert c[\"a\"][\"tta\"] == c[\"b\"][\"tta\"] == \"flip\", c[\"a\"]" "$M/flip/compare.json"' \
  "compare --tta flip: $(cat "$T/err")"

exit $fail
