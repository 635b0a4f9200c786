#!/usr/bin/env bash
# test_tta.sh — test-time augmentation (`--tta none|flip|tencrop`) of predict, eval and calibrate
# against an independent reference: a resnet18 with random weights (64 px, 3 classes, gray input)
# is written by PyTorch as a model file, and torchvision computes, for synthetic PNGs (square and
# not), the mean softmax / sigmoid of the image and its mirror (flip) and of
# Resize(73) + TenCrop(64) (tencrop: 73 = round(64 * 256 / 224), CheXNet's 256/224 scaled; the
# centre crop's offset 4.5 rounds to 4 as Python's round does) with Pillow's BILINEAR resize.
# Then: the logits written are the logit of the mean probability; eval of a prepared split
# agrees with predict of the same files; `import --tta tencrop` makes it the model file's
# default (said on stderr, overridden by --tta none); a bad value is a usage error naming the
# allowed ones.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/tta
rm -rf "$T" && mkdir -p "$T"
fail=0
# Exit statuses are captured in rc first: a $(…) in check's message would reset $?.
check() { if eval "$1"; then :; else echo "FAIL: $2" >&2; fail=1; fi; }
PY=/usr/bin/python3

# ---- the model files, the images and the reference ------------------------------------------
$PY - "$T" <<'PY' || { echo "FAIL: generating the model and the reference"; exit 1; }
import glob, json, os, struct, sys
import numpy as np, torch, torchvision
import torchvision.transforms as TT
import torchvision.transforms.functional as TF
from PIL import Image
T = sys.argv[1]
S, R = 64, round(64 * 256 / 224)
assert R == 73
torch.manual_seed(7)
net = torchvision.models.resnet18(num_classes=3)
with torch.no_grad():  # running statistics and a head that make the views differ visibly
    for mod in net.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
    net.fc.weight.mul_(4); net.fc.bias.uniform_(-1, 1)
net.eval()
sd = net.state_dict()

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

mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
for name, head in (("m", "softmax"), ("ml", "sigmoid")):
    write_st(f"{T}/{name}.safetensors", {"model." + k: v for k, v in sd.items()},
             {"xraycls.kind": "model", "xraycls.format": "1", "xraycls.arch": "resnet18",
              "xraycls.classes": json.dumps(["a", "b", "c"]), "xraycls.num_classes": "3", "xraycls.head": head,
              "xraycls.preprocessing": json.dumps({"size": S, "channels": 1, "mean": mean, "std": std,
                                                   "expand_gray_to_rgb": True})})
write_st(f"{T}/src.safetensors", dict(sd), {})  # torchvision names, for import

# Images: a prepared-folder layout of 64 x 64 PNGs (eval and predict see the same pixels), and
# larger ones, square and not, for predict only.
rng = np.random.default_rng(3)
def picture(h, w):
    y, x = np.mgrid[0:h, 0:w]
    f = 128 + 60 * np.sin(x / rng.uniform(3, 9) + rng.uniform(0, 6)) * np.cos(y / rng.uniform(3, 9))
    f += rng.normal(0, 25, (h, w)) + 40 * (x > rng.uniform(0.2, 0.8) * w)
    return Image.fromarray(np.clip(f, 0, 255).astype(np.uint8), "L")
for split, n in (("train", 3), ("test", 4)):
    for c in "abc":
        os.makedirs(f"{T}/root/{split}/{c}", exist_ok=True)
        for i in range(n): picture(S, S).save(f"{T}/root/{split}/{c}/{c}{i}.png")
os.makedirs(f"{T}/big", exist_ok=True)
picture(300, 300).save(f"{T}/big/square.png")
picture(150, 210).save(f"{T}/big/wide.png")
picture(100, 100).save(f"{T}/big/small.png")

norm = TT.Normalize(mean, std)
def tensor(img):  # a gray PIL image → (3, h, w) normalised, as the model file says
    return norm(TF.to_tensor(img).repeat(3, 1, 1))
def probs(views, head):
    with torch.no_grad():
        z = net(torch.stack([tensor(v) for v in views]))
        p = torch.softmax(z, 1) if head == "softmax" else torch.sigmoid(z)
    return p.mean(0).tolist()
ref = {}
files = sorted(glob.glob(f"{T}/root/test/*/*.png")) + sorted(glob.glob(f"{T}/big/*.png"))
for f in files:
    img = Image.open(f).convert("L")
    plain = img.resize((S, S), Image.BILINEAR)  # the model file's contract: S x S, aspect not kept
    # CheXNet's transform literally for square images; Resize((R, R)) (xraycls's square resize)
    # for the others
    big = TT.Resize(R)(img) if img.width == img.height else img.resize((R, R), Image.BILINEAR)
    assert big.size == (R, R)
    crops = TT.TenCrop(S)(big)
    ref[f] = {h: {"none": probs([plain], h), "flip": probs([plain, TF.hflip(plain)], h),
                  "tencrop": probs(list(crops), h)} for h in ("softmax", "sigmoid")}
    if img.size == (S, S):  # what eval does with a prepared image: upsampled in floats
        x = torch.nn.functional.interpolate(TF.to_tensor(img)[None], size=(R, R), mode="bilinear",
                                            align_corners=False, antialias=True)[0]
        with torch.no_grad():
            views = torch.stack([norm(v.repeat(3, 1, 1)) for v in TF.ten_crop(x, [S, S])])
            z = net(views)
        for h in ("softmax", "sigmoid"):
            ref[f][h]["tencrop_float"] = (torch.softmax(z, 1) if h == "softmax" else torch.sigmoid(z)).mean(0).tolist()
json.dump(ref, open(f"{T}/ref.json", "w"))
PY

# compare_pred CSV HEAD TTA TOL: predict's CSV against the reference (worst difference printed)
compare_pred() {
  $PY - "$T/ref.json" "$@" <<'PY'
import csv, json, sys
ref, path, head, tta, tol = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
rows = list(csv.DictReader(open(path)))
assert len(rows) == len(ref), (len(rows), len(ref))
worst = 0.0
for r in rows:
    want = ref[r["path"]][head][tta]
    got = [float(r[c]) for c in "abc"]
    worst = max(worst, max(abs(g - w) for g, w in zip(got, want)))
    if tta == "none": assert "tta" not in r, "a tta column without TTA"
    else: assert r["tta"] == tta, r
print(f"{head} {tta}: worst |difference| {worst:.3g} (tolerance {tol:g})")
sys.exit(0 if worst <= tol else 1)
PY
}

FILES=("$T/root/test" "$T/big")
for head in softmax sigmoid; do
  m=$T/m.safetensors; [ $head = sigmoid ] && m=$T/ml.safetensors
  for tta in none flip tencrop; do
    "$B" predict --model "$m" --device cpu --threads 2 --batch 5 --tta $tta -o "$T/p-$head-$tta.csv" "${FILES[@]}" \
      >/dev/null 2>"$T/p-$head-$tta.err"; rc=$?
    check '[ $rc -eq 0 ]' "predict --tta $tta ($head) failed: $(tail -3 "$T/p-$head-$tta.err")"
    check 'grep -q "predict: test-time augmentation: $tta.*(--tta)" "$T/p-$head-$tta.err"' \
      "predict does not say the TTA and where it came from: $(cat "$T/p-$head-$tta.err")"
    # none and flip see the same pixels as torchvision (Pillow's resize to 64): float rounding
    # only. tencrop: also a Pillow resize to 73, so the same bound.
    check 'compare_pred "$T/p-$head-$tta.csv" $head $tta 2e-6' "predict --tta $tta ($head) differs from torchvision"
  done
done
check '[ "$(head -1 "$T/p-softmax-flip.csv")" = "path,label,a,b,c,tta" ]' "predict's CSV header under TTA: $(head -1 "$T/p-softmax-flip.csv")"
check '[ "$(head -1 "$T/p-softmax-none.csv")" = "path,label,a,b,c" ]' "predict's CSV header without TTA changed"
"$B" predict --model "$T/m.safetensors" --device cpu --format jsonl --tta tencrop "$T/big" >"$T/p.jsonl" 2>/dev/null
check '$PY - "$T/p.jsonl" <<PY
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3 and all(r["tta"] == "tencrop" for r in rows), rows
PY' "predict's JSON lines lack \"tta\""

# ---- bad values, and what does not combine --------------------------------------------------
"$B" predict --model "$T/m.safetensors" --tta tencrops "$T/big" >/dev/null 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "tencrops.*none, flip or tencrop" "$T/bad.err"' "predict --tta tencrops: rc $rc, $(cat "$T/bad.err")"
"$B" eval --model "$T/m.safetensors" --data "$T/nodata" --tta 10crop >/dev/null 2>"$T/bad2.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "10crop.*none, flip or tencrop" "$T/bad2.err"' "eval --tta 10crop: rc $rc, $(cat "$T/bad2.err")"
"$B" calibrate --model "$T/m.safetensors" --data "$T/nodata" -o "$T/x.safetensors" --tta x >/dev/null 2>"$T/bad3.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "none, flip or tencrop" "$T/bad3.err"' "calibrate --tta x: rc $rc, $(cat "$T/bad3.err")"
"$B" predict --model "$T/m.safetensors" --tta flip --cam "$T/cams" "$T/big" >/dev/null 2>"$T/cam.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "cam" "$T/cam.err"' "predict --cam --tta flip should be a usage error: $(cat "$T/cam.err")"

# ---- logits: the logit of the mean probability ------------------------------------------------
"$B" prepare folder --root "$T/root" -o "$T/data" --size 64 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
for head in softmax sigmoid; do
  m=$T/m.safetensors; [ $head = sigmoid ] && m=$T/ml.safetensors
  for tta in none flip tencrop; do
    "$B" eval --model "$m" --data "$T/data" --device cpu --bootstrap 20 --thresholds-from none --tta $tta \
      -o "$T/e-$head-$tta" >/dev/null 2>"$T/e-$head-$tta.err"; rc=$?
    check '[ $rc -eq 0 ]' "eval --tta $tta ($head) failed: $(tail -3 "$T/e-$head-$tta.err")"
  done
done
check '$PY - "$T" <<PY
import csv, json, math, sys
T = sys.argv[1]
for head in ("softmax", "sigmoid"):
    for tta in ("none", "flip", "tencrop"):
        d = f"{T}/e-{head}-{tta}"
        j = json.load(open(f"{d}/eval.json"))
        t = j["tta"]
        assert t["mode"] == tta and t["source"] == "option" and t["views"] == {"none": 1, "flip": 2, "tencrop": 10}[tta], t
        if tta == "tencrop": assert t["resize"] == 73 and t["crop"] == 64, t
        md = open(f"{d}/eval.md").read()
        assert f"test-time augmentation: {tta}" in md, md
        rows = list(csv.DictReader(open(f"{d}/predictions.csv")))
        assert ("tta" in rows[0]) == (tta != "none"), rows[0].keys()
        for r in rows:
            if tta != "none": assert r["tta"] == tta
            p = [float(r[f"prob:{c}"]) for c in "abc"]
            z = [float(r[f"logit:{c}"]) for c in "abc"]
            if head == "softmax":
                e = [math.exp(v - max(z)) for v in z]
                q = [v / sum(e) for v in e]
            else:
                q = [1 / (1 + math.exp(-v)) for v in z]
            assert max(abs(a - b) for a, b in zip(p, q)) < 1e-6, (head, tta, p, q)
PY' "eval.json / eval.md / predictions.csv under TTA, or the logits are not the logit of the mean probability"

# ---- eval and predict agree on the same images ---------------------------------------------------
# none and flip: the same 64 x 64 pixels, float rounding only. tencrop: predict resizes the file
# 64 → 73 with Pillow's filter into 8 bits; eval upsamples the prepared 64 x 64 images on the
# device with the same filter but keeps floats: within half a level per pixel, which this
# model (a random resnet18 whose head is scaled up) turns into up to ~1e-3 of a probability.
# eval's tencrop itself is checked against torch's antialiased bilinear upsampling in floats
# followed by TenCrop (float rounding only).
check '$PY - "$T" <<PY
import csv, json, sys
T = sys.argv[1]
ref = json.load(open(f"{T}/ref.json"))
for head in ("softmax", "sigmoid"):
    for tta, tol in (("none", 2e-6), ("flip", 2e-6), ("tencrop", 2e-3)):
        pred = {r["path"]: r for r in csv.DictReader(open(f"{T}/p-{head}-{tta}.csv"))}
        worst, wref, n = 0.0, 0.0, 0
        for r in csv.DictReader(open(f"{T}/e-{head}-{tta}/predictions.csv")):
            path = f"{T}/root/" + r["path"] if f"{T}/root/" + r["path"] in pred else r["path"]
            got = [float(r[f"prob:{c}"]) for c in "abc"]
            worst = max(worst, max(abs(g - float(pred[path][c])) for g, c in zip(got, "abc"))); n += 1
            want = ref[path][head]["tencrop_float" if tta == "tencrop" else tta]
            wref = max(wref, max(abs(g - w) for g, w in zip(got, want)))
        print(f"eval, {head} {tta}: {n} images, worst |difference| to predict {worst:.3g}, to the reference {wref:.3g}")
        assert n == 12 and worst <= tol and wref <= 2e-6, (head, tta, worst, wref)
PY' "eval and predict disagree under TTA, or eval differs from its reference"

# ---- the model file's default: import --tta -----------------------------------------------------
"$B" import --arch resnet18 --from "$T/src.safetensors" --classes a,b,c --size 64 --tta tencrop -o "$T/imp.safetensors" \
  >"$T/imp.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "import --tta tencrop failed: $(cat "$T/imp.out")"
"$B" info --json "$T/imp.safetensors" >"$T/imp.json" 2>&1
check 'grep -q "tta.*tencrop" "$T/imp.json"' "the imported model file does not name its TTA: $(grep -i preprocessing "$T/imp.json")"
"$B" predict --model "$T/imp.safetensors" --device cpu "$T/big" -o "$T/d-default.csv" >/dev/null 2>"$T/d-default.err"
"$B" predict --model "$T/imp.safetensors" --device cpu --tta tencrop "$T/big" -o "$T/d-tencrop.csv" >/dev/null 2>&1
"$B" predict --model "$T/imp.safetensors" --device cpu --tta none "$T/big" -o "$T/d-none.csv" >/dev/null 2>"$T/d-none.err"
check 'grep -q "tencrop.*model file" "$T/d-default.err"' "predict does not say the TTA came from the model file: $(cat "$T/d-default.err")"
check 'cmp -s "$T/d-default.csv" "$T/d-tencrop.csv"' "the model file's default TTA is not tencrop"
check '! cmp -s "$T/d-default.csv" "$T/d-none.csv" && head -1 "$T/d-none.csv" | grep -qx "path,label,a,b,c"' "--tta none does not override the model file's default"
# the imported model decodes RGB: eval it on an RGB preparation of the same images
"$B" prepare folder --root "$T/root" -o "$T/data_rgb" --size 64 --rgb >"$T/prep_rgb.out" 2>&1 || { cat "$T/prep_rgb.out"; echo "FAIL: prepare --rgb"; exit 1; }
"$B" eval --model "$T/imp.safetensors" --data "$T/data_rgb" --device cpu --bootstrap 0 --thresholds-from none -o "$T/e-imp" \
  >/dev/null 2>"$T/e-imp.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "eval: test-time augmentation: tencrop.*model file" "$T/e-imp.err"' "eval with the model file's default TTA: $(cat "$T/e-imp.err")"
check '$PY - "$T/e-imp/eval.json" <<PY
import json, sys
t = json.load(open(sys.argv[1]))["tta"]
assert t == {"mode": "tencrop", "views": 10, "source": "model file", "resize": 73, "crop": 64}, t
PY' "eval.json does not record the model file's TTA"
"$B" import --arch resnet18 --from "$T/src.safetensors" --classes a,b,c --tta sideways -o "$T/imp2.safetensors" >/dev/null 2>"$T/imp2.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "none, flip or tencrop" "$T/imp2.err" && [ ! -e "$T/imp2.safetensors" ]' "import --tta sideways: rc $rc, $(cat "$T/imp2.err")"

# ---- calibrate under TTA: fitted on the logits eval writes ------------------------------------
"$B" calibrate --model "$T/m.safetensors" --data "$T/data" --split test --device cpu --tta flip -o "$T/cal.safetensors" \
  >"$T/cal.out" 2>"$T/cal.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "calibrate: test-time augmentation: flip" "$T/cal.err"' "calibrate --tta flip: $(cat "$T/cal.err")"
check '$PY - "$T" <<PY
import csv, math, re, sys
T = sys.argv[1]
t = float(re.search(r"temperature ([0-9.e+-]+)", open(f"{T}/cal.out").read()).group(1))
rows = list(csv.DictReader(open(f"{T}/e-softmax-flip/predictions.csv")))
Z = [[float(r[f"logit:{c}"]) for c in "abc"] for r in rows]
y = ["abc".index(r["label"]) for r in rows]
def nll(T_):
    s = 0
    for z, k in zip(Z, y):
        m = max(v / T_ for v in z)
        s -= z[k] / T_ - m - math.log(sum(math.exp(v / T_ - m) for v in z))
    return s / len(Z)
# the NLL before and after that calibrate reports are those of the flip logits of eval at T = 1 and T
before, after = map(float, re.search(r"NLL ([0-9.]+) -> ([0-9.]+)", open(f"{T}/cal.out").read()).groups())
assert abs(nll(1) - before) < 1e-4 and abs(nll(t) - after) < 1e-4, (t, before, after, nll(1), nll(t))
PY' "calibrate --tta flip did not fit the flip logits"
# the TTA is recorded with the temperature; a run under another one is warned, the same is not
check '$PY - "$T/cal.safetensors" <<PY
import json, struct, sys
b = open(sys.argv[1], "rb").read(); h = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
assert json.loads(h["__metadata__"]["xraycls.calibration"])["tta"] == "flip"
PY' "the calibration does not record its TTA"
"$B" eval --model "$T/cal.safetensors" --data "$T/data" --device cpu --bootstrap 0 --tta none -o "$T/e-calnone" >/dev/null 2>"$T/calnone.err"; rc=$?
check '[ $rc -eq 0 ] && grep -q "fitted on the logits of test-time augmentation .flip., this run uses .none." "$T/calnone.err"' \
  "eval --tta none of a flip-calibrated model is not warned: $(cat "$T/calnone.err")"
"$B" eval --model "$T/cal.safetensors" --data "$T/data" --device cpu --bootstrap 0 --tta flip -o "$T/e-calflip" >/dev/null 2>"$T/calflip.err"; rc=$?
check '[ $rc -eq 0 ] && ! grep -q "does not carry over" "$T/calflip.err"' "eval --tta flip of a flip-calibrated model is warned: $(cat "$T/calflip.err")"

exit $fail
