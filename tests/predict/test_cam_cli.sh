#!/usr/bin/env bash
# test_cam_cli.sh — `xraycls predict --cam` end to end: a resnet18 trained one epoch on tiny
# synthetic data (64 px, CPU) explains two PNG radiographs; the heat maps are compared with a
# Grad-CAM computed in PyTorch (torchvision's resnet18 with the checkpoint's weights, the same
# image and preprocessing): Pearson >= 0.99 at the input's resolution, same argmax. Also the
# files and names written, --cam-class, --cam-layer, --cam-method gradcam++, and refusals (an
# unknown layer or class, --cam-class without --cam) that write nothing.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/campredict
rm -rf "$T" && mkdir -p "$T/img/a" "$T/img/b"
source "${XRAYCLS_SOURCE_DIR:?}/tests/cli/lib.sh"
PY=/usr/bin/python3

"$B" prepare synthetic -o "$T/data" --n 40 --size 64 >"$T/prep.out" 2>&1 || { cat "$T/prep.out"; echo "FAIL: prepare"; exit 1; }
cat >"$T/tiny.json" <<JSON
{"data": {"path": "$T/data", "batch_size": 4, "sampler": "shuffle"},
 "model": {"arch": "resnet18", "weights": "none"},
 "train": {"epochs": 1, "seed": 3, "device": "cpu", "precision": "fp32"},
 "output": {"runs_dir": "$T/runs", "name": "tiny"}}
JSON
"$B" train --config "$T/tiny.json" >"$T/train.out" 2>&1 || { tail -5 "$T/train.out"; echo "FAIL: train"; exit 1; }
M=$T/runs/tiny/best.safetensors

# Two 64x64 gray images (the model's size: no resampling), the same name in two folders.
$PY - "$T/img" <<'PY'
import sys, numpy as np
from PIL import Image
rng = np.random.default_rng(7)
for i, sub in enumerate(("a", "b")):
    y, x = np.mgrid[0:64, 0:64]
    v = 120 + 60 * np.sin(x / (5 + 3 * i)) * np.cos(y / 7) + rng.normal(0, 20, (64, 64))
    Image.fromarray(np.clip(v, 0, 255).astype(np.uint8), "L").save(f"{sys.argv[1]}/{sub}/scan.png")
PY

"$B" predict --model "$M" --device cpu --cam "$T/cam" -o "$T/pred.csv" "$T/img" >"$T/p.out" 2>"$T/p.err"; rc=$?
check '[ $rc -eq 0 ]' "predict --cam failed: $(cat "$T/p.err")"
for f in scan.png scan.cam.safetensors scan-2.png scan-2.cam.safetensors; do check '[ -s "$T/cam/$f" ]' "no $f"; done
check 'grep -q "wrote 2 heat maps (gradcam of layer4)" "$T/p.err"' "summary line: $(cat "$T/p.err")"
"$B" predict --model "$M" --device cpu -o "$T/plain.csv" "$T/img" 2>/dev/null
check 'cmp -s "$T/pred.csv" "$T/plain.csv"' "predict --cam changed the predictions"

# The PyTorch reference on the checkpoint's weights and the same preprocessing.
ref() { # $1 safetensors of xraycls, $2 image, $3 layer, $4 method, $5 class name or ""
  $PY - "$M" "$@" <<'PY'
import json, struct, sys
import numpy as np, torch, torch.nn.functional as F, torchvision
from PIL import Image
ck, camf, img, layer, method, cname = sys.argv[1:7]
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); meta = h.pop("__metadata__", {})
    dt = {"F32": np.float32, "I64": np.int64}
    t = {k: torch.from_numpy(np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]],
         dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()) for k, v in h.items() if v["dtype"] in dt}
    return t, meta
w, meta = load(ck)
classes = json.loads(meta["xraycls.classes"]); pre = json.loads(meta["xraycls.preprocessing"])
model = torchvision.models.resnet18(num_classes=len(classes))
model.load_state_dict({k[6:]: v for k, v in w.items() if k.startswith("model.")}, strict=True)
model.eval()
x = torch.from_numpy(np.asarray(Image.open(img).convert("L"), dtype=np.float32) / 255)[None, None].repeat(1, 3, 1, 1)
x = (x - torch.tensor(pre["mean"])[:, None, None]) / torch.tensor(pre["std"])[:, None, None]
kept = {}
mod = model
for part in layer.split("."):
    mod = mod[int(part)] if part.isdigit() else getattr(mod, part)
h = mod.register_forward_hook(lambda m, i, o: kept.__setitem__("a", o))
logits = model(x); h.remove()
c = classes.index(cname) if cname else int(logits.argmax(1))
(g,) = torch.autograd.grad(logits[0, c], kept["a"])
a, g = kept["a"].detach().double(), g.double()
if method == "gradcam":
    wk = g.mean((2, 3))
else:
    g2, g3 = g ** 2, g ** 3
    aij = g2 / (2 * g2 + a.sum((2, 3))[:, :, None, None] * g3 + 1e-6)
    wk = (g.clamp(min=0) * torch.where(g != 0, aij, torch.zeros_like(aij))).sum((2, 3))
cam = torch.relu((wk[:, :, None, None] * a).sum(1))
up = F.interpolate(cam[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0].numpy()
got, gm = load(camf)
gi = got["map_input"].double().numpy()
r = np.corrcoef(gi.ravel(), up.ravel())[0, 1]
assert gm["xraycls.cam.class"] == classes[c], (gm["xraycls.cam.class"], classes[c])
assert gm["xraycls.cam.layer"] == layer and gm["xraycls.cam.method"] == method, gm
assert got["map"].shape == cam.shape[1:], (got["map"].shape, cam.shape)
assert r >= 0.99, f"Pearson {r}"
ga, wa = int(gi.argmax()), int(up.argmax())
assert ga == wa or abs(up.ravel()[ga] - up.ravel()[wa]) <= 1e-5 * abs(up.ravel()[wa]), (ga, wa)
PY
}
check 'ref "$T/cam/scan.cam.safetensors" "$T/img/a/scan.png" layer4 gradcam ""' "default CAM differs from PyTorch's"
check 'ref "$T/cam/scan-2.cam.safetensors" "$T/img/b/scan.png" layer4 gradcam ""' "second CAM differs from PyTorch's"
check '$PY -c "
from PIL import Image; im = Image.open(\"$T/cam/scan.png\"); assert im.size == (64, 64) and im.mode == \"RGB\", (im.size, im.mode)"' "overlay is not a 64x64 RGB PNG"

"$B" predict --model "$M" --device cpu --cam "$T/cam2" --cam-class Virus --cam-layer layer3.1 --cam-method gradcam++ \
  -o "$T/pred2.csv" "$T/img/a/scan.png" >/dev/null 2>"$T/p2.err"; rc=$?
check '[ $rc -eq 0 ]' "predict --cam-class/--cam-layer failed: $(cat "$T/p2.err")"
check 'ref "$T/cam2/scan.cam.safetensors" "$T/img/a/scan.png" layer3.1 gradcam++ Virus' "Grad-CAM++ of Virus on layer3.1 differs from PyTorch's"

# Refusals: usage errors (status 2), no heat-map folder left behind.
"$B" predict --model "$M" --device cpu --cam "$T/cam3" --cam-layer layer9 "$T/img" >/dev/null 2>"$T/e1"; rc=$?
check '[ $rc -eq 2 ] && grep -q "no layer .layer9." "$T/e1" && [ ! -e "$T/cam3" ]' "bad layer: rc $rc $(cat "$T/e1")"
"$B" predict --model "$M" --device cpu --cam "$T/cam3" --cam-class Dog "$T/img" >/dev/null 2>"$T/e2"; rc=$?
check '[ $rc -eq 2 ] && grep -q "Dog. is not a class" "$T/e2" && [ ! -e "$T/cam3" ]' "bad class: rc $rc $(cat "$T/e2")"
"$B" predict --model "$M" --device cpu --cam-class Virus "$T/img" >/dev/null 2>"$T/e3"; rc=$?
check '[ $rc -eq 2 ] && grep -q "need --cam DIR" "$T/e3"' "--cam-class alone: rc $rc $(cat "$T/e3")"
"$B" predict --model "$M" --device cpu --cam "$T/cam3" --cam-method gradcam3 "$T/img" >/dev/null 2>"$T/e4"; rc=$?
check '[ $rc -eq 2 ] && grep -q "neither gradcam nor gradcam++" "$T/e4"' "bad method: rc $rc $(cat "$T/e4")"

# eval --cam-worst: per true class, min(K, its errors) overlays, each for the wrong class chosen.
"$B" eval --model "$M" --data "$T/data" --split val --device cpu --bootstrap 0 -o "$T/ev" --cam-worst 2 >"$T/ev.out" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "eval --cam-worst failed: $(tail -3 "$T/ev.out")"
check '$PY - "$T/ev" <<PY
import glob, json, os, struct, sys
d = sys.argv[1]; j = json.load(open(d + "/eval.json")); cm = j["confusion_matrix"]; names = list(j["per_class"])
total = 0
for t, row in enumerate(cm):
    errs = sum(row) - row[t]
    files = sorted(glob.glob(f"{d}/cam-worst/{names[t]}/*.png"))
    assert len(files) == min(2, errs), (names[t], len(files), errs)
    for r, f in enumerate(files):
        base = os.path.basename(f)[:-4]
        assert base.startswith(f"{r + 1}-sample"), base
        pred = base.split("-as-")[1]; assert pred != names[t] and pred in names, base
        b = open(f[:-4] + ".cam.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]
        meta = json.loads(b[8:8 + n])["__metadata__"]; assert meta["xraycls.cam.class"] == pred, meta
    total += len(files)
assert total > 0, "no error to explain: the test needs a model that errs"
PY' "eval --cam-worst files"
"$B" eval --model "$M" --data "$T/data" --device cpu --cam-layer layer4 >/dev/null 2>"$T/e5"; rc=$?
check '[ $rc -eq 2 ] && grep -q "need --cam-worst" "$T/e5"' "--cam-layer without --cam-worst: rc $rc $(cat "$T/e5")"

[ $fail -eq 0 ] && echo "test_cam_cli: ok"
exit $fail
