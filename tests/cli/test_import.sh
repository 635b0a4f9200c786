#!/usr/bin/env bash
# test_import.sh — `xraycls import` end to end: a resnet18 state_dict (zip), the same as a
# torchvision-named safetensors, and a CheXNet-style densenet121 legacy .pth.tar
# ({'state_dict': {'module.densenet121.<old dotted names>'}, 'epoch'}, head classifier.0 of 14)
# are generated with torch, imported, inspected with `info --json`, compared tensor by tensor
# with the source, and applied with `predict` (CheXNet: 14 sigmoid outputs equal to torch's on a
# constant image). Refusals: a hostile pickle, a missing tensor, a shape mismatch (exit 1, the
# tensor named, no output written or an existing one left as it was); usage errors exit 2.
set -u
B=${XRAYCLS_BINARY:?}
T=${XRAYCLS_TMP:?}/import
rm -rf "$T" && mkdir -p "$T"
fail=0
# Exit statuses are captured in rc first: a $(…) in check's message would reset $?.
check() { if eval "$1"; then :; else echo "FAIL: $2" >&2; fail=1; fi; }
PY=/usr/bin/python3

# ---- sources ----------------------------------------------------------------------------------
$PY - "$T" <<'PY' || { echo "FAIL: generating the sources"; exit 1; }
import collections, json, re, struct, sys
import numpy as np, torch, torchvision
from PIL import Image
T = sys.argv[1]
torch.manual_seed(1)
r18 = torchvision.models.resnet18().state_dict()
torch.save(r18, f"{T}/r18.pth")
extra = collections.OrderedDict(r18); extra["aux.weight"] = torch.ones(3)
torch.save(extra, f"{T}/r18_extra.pth")
missing = collections.OrderedDict((k, v) for k, v in r18.items() if k != "layer2.0.conv1.weight")
torch.save(missing, f"{T}/r18_missing.pth")
bad = collections.OrderedDict(r18); bad["layer3.1.bn2.bias"] = torch.zeros(7)
torch.save(bad, f"{T}/r18_badshape.pth")
# A torchvision-named safetensors with a 3-class head (F32, little-endian).
hdr, blobs, off = {}, [], 0
for k, v in r18.items():
    if k.startswith("fc."): v = v[:3].contiguous()
    a = v.numpy(); b = a.tobytes()
    hdr[k] = {"dtype": {"float32": "F32", "int64": "I64"}[str(a.dtype)], "shape": list(a.shape),
              "data_offsets": [off, off + len(b)]}
    blobs.append(b); off += len(b)
h = json.dumps(hdr).encode()
with open(f"{T}/r18_3.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(h))); f.write(h); f.write(b"".join(blobs))
# CheXNet-style: DataParallel + densenet121 wrapper, pre-0.4 dotted layer names, Linear+Sigmoid.
dn = torchvision.models.densenet121().state_dict()
sd = collections.OrderedDict()
for k, v in dn.items():
    if k.startswith("classifier.") or k.endswith("num_batches_tracked"): continue
    sd["module.densenet121." + re.sub(r"(denselayer\d+)\.(norm|relu|conv)([12])\.", r"\1.\2.\3.", k)] = v
sd["module.densenet121.classifier.0.weight"] = torch.randn(14, 1024) * 0.05
sd["module.densenet121.classifier.0.bias"] = torch.randn(14) * 0.1
torch.save({"state_dict": sd, "epoch": 1, "best_loss": 0.2}, f"{T}/chexnet.pth.tar",
           _use_new_zipfile_serialization=False)
# A pickle that would run os.system('touch …') if executed.
with open(f"{T}/hostile.pth", "wb") as f:
    cmd = f"touch {T}/pwned".encode()
    f.write(b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(cmd)) + cmd + b"\x85q\x01Rq\x02.")
Image.fromarray(np.full((70, 90), 100, np.uint8)).save(f"{T}/gray.png")
PY

# A tensor of a safetensors file as float64 numpy (no safetensors package needed).
cat >"$T/st.py" <<'PY'
import json, struct
import numpy as np
def read(path):
    with open(path, "rb") as f: buf = f.read()
    n = struct.unpack("<Q", buf[:8])[0]; hdr = json.loads(buf[8:8 + n]); base = 8 + n
    dt = {"F32": np.float32, "I64": np.int64}
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__": continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(buf[base + a:base + b], dt[v["dtype"]]).reshape(v["shape"])
    return out, hdr.get("__metadata__", {})
PY

# ---- usage ----------------------------------------------------------------------------------
"$B" import --help >"$T/help.out" 2>&1; rc=$?
check '[ $rc -eq 0 ] && grep -q -- "--classes-file" "$T/help.out"' "import --help: rc $rc"
"$B" --help | grep -q "import" || { echo "FAIL: import is not in the command list" >&2; fail=1; }
"$B" import >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "import without arguments: rc $rc, want 2"
"$B" import --arch resnet49 --from "$T/r18.pth" -o "$T/x.safetensors" 2>"$T/u1.err"; rc=$?
check '[ $rc -eq 2 ] && grep -q "resnet49" "$T/u1.err"' "unknown arch: rc $rc, want 2 naming it"
"$B" import --arch resnet18 --from "$T/r18.pth" -o "$T/x.safetensors" --mean 0.5,0.5,0.5 2>/dev/null; rc=$?
check '[ $rc -eq 2 ]' "--mean without --std: rc $rc, want 2"
"$B" import --arch resnet18 --from "$T/r18.pth" -o "$T/x.safetensors" --classes a,,b 2>/dev/null; rc=$?
check '[ $rc -eq 2 ]' "--classes with an empty name: rc $rc, want 2"
"$B" import --arch resnet18 --from "$T/r18.pth" --bogus 1 -o "$T/x.safetensors" 2>/dev/null; rc=$?
check '[ $rc -eq 2 ] && [ ! -e "$T/x.safetensors" ]' "unknown option: rc $rc, want 2 and no output"

# ---- resnet18 (zip), 1000-class ImageNet head kept ---------------------------------------------
"$B" import --arch resnet18 --from "$T/r18_extra.pth" -o "$T/r18.safetensors" >"$T/r18.out" 2>"$T/r18.err"; rc=$?
check '[ $rc -eq 0 ]' "import resnet18: rc $rc: $(cat "$T/r18.err")"
check 'grep -q "aux.weight" "$T/r18.err"' "the unused source tensor is not listed"
check 'grep -q "class0..class999" "$T/r18.err"' "the default class names are not announced"
"$B" info "$T/r18.safetensors" --json >"$T/r18.json" 2>&1; rc=$?
check '[ $rc -eq 0 ]' "info on the imported resnet18: rc $rc"

# ---- resnet18 with 2 classes: the head is re-initialised, deterministically ---------------------
for s in a b; do
    "$B" import --arch resnet18 --from "$T/r18.pth" -o "$T/r18_2$s.safetensors" --classes " Normal,Pneumonia" \
        --size 64 --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 --seed 7 >/dev/null 2>"$T/r18_2.err"; rc=$?
    check '[ $rc -eq 0 ]' "import resnet18 --classes: rc $rc: $(cat "$T/r18_2.err")"
done
check 'grep -q "RE-INITIALISED" "$T/r18_2.err"' "head re-initialisation is not reported"
check 'cmp -s "$T/r18_2a.safetensors" "$T/r18_2b.safetensors"' "the same seed gives different files"
printf 'Normal\r\n\nPneumonia\n' >"$T/classes.txt"
"$B" import --arch resnet18 --from "$T/r18.pth" -o "$T/r18_2c.safetensors" --classes-file "$T/classes.txt" \
    --size 64 --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 --seed 7 >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/r18_2a.safetensors" "$T/r18_2c.safetensors"' "--classes-file differs from --classes"
"$B" predict --model "$T/r18_2a.safetensors" --device cpu "$T/gray.png" >"$T/r18_2.csv" 2>"$T/r18_2p.err"; rc=$?
check '[ $rc -eq 0 ] && head -1 "$T/r18_2.csv" | grep -q "^path,label,Normal,Pneumonia$"' \
    "predict with the 2-class import: rc $rc: $(cat "$T/r18_2p.err")"

# ---- safetensors source with torchvision names ------------------------------------------------
"$B" import --arch resnet18 --from "$T/r18_3.safetensors" -o "$T/r18_3m.safetensors" --classes x,y,z 2>"$T/st.err" >/dev/null; rc=$?
check '[ $rc -eq 0 ] && ! grep -q "RE-INITIALISED" "$T/st.err"' "import from safetensors: rc $rc: $(cat "$T/st.err")"

# ---- CheXNet-style densenet121 (legacy) ---------------------------------------------------------
"$B" import --arch densenet121 --from "$T/chexnet.pth.tar" -o "$T/chex.safetensors" --size 64 >"$T/chex.out" 2>"$T/chex.err"; rc=$?
check '[ $rc -eq 0 ]' "import CheXNet: rc $rc: $(cat "$T/chex.err")"
check 'grep -q "CheXNet" "$T/chex.err"' "the CheXNet defaults are not announced"
"$B" info "$T/chex.safetensors" --json >"$T/chex.json" 2>&1; rc=$?
"$B" import --arch densenet121 --from "$T/chexnet.pth.tar" -o "$T/chex14.safetensors" \
    --classes f1,f2,f3,f4,f5,f6,f7,f8,f9,f10,f11,f12,f13,f14 >/dev/null 2>&1; rc=$?
check '[ $rc -eq 0 ] && "$B" info "$T/chex14.safetensors" | grep -q "xraycls.head = sigmoid"' \
    "CheXNet with 14 given classes: rc $rc, or its head is not sigmoid"
check '[ $rc -eq 0 ]' "info on the CheXNet import: rc $rc"
"$B" predict --model "$T/chex.safetensors" --device cpu "$T/gray.png" >"$T/chex.csv" 2>"$T/chexp.err"; rc=$?
check '[ $rc -eq 0 ]' "predict with the CheXNet import: rc $rc: $(cat "$T/chexp.err")"

# ---- the imported files against their sources (one Python run: torch starts slowly) ---------
$PY - "$T" <<PY || fail=1
import csv, json, sys, traceback, torch, torchvision
sys.path.insert(0, "$T"); import st
T = "$T"
bad = 0
def check0():
    j = json.load(open(T + "/r18.json")); m = j["metadata"]
    assert m["xraycls.kind"] == "model" and m["xraycls.arch"] == "resnet18", m
    c = json.loads(m["xraycls.classes"]); assert len(c) == 1000 and c[0] == "class0" and c[999] == "class999"
    assert m["xraycls.head"] == "softmax" and m["xraycls.source"] == "r18_extra.pth", m
    p = json.loads(m["xraycls.preprocessing"])
    assert p["size"] == 224 and p["channels"] == 3 and p["mean"] == [0.485, 0.456, 0.406] and p["std"] == [0.229, 0.224, 0.225], p
    src = torch.load(T + "/r18_extra.pth")
    got, _ = st.read(T + "/r18.safetensors")
    assert "model.aux.weight" not in got
    for k, v in src.items():
        if k == "aux.weight": continue
        assert (got["model." + k] == v.numpy()).all(), k
def check1():
    a, _ = st.read("$T/r18_3.safetensors"); b, m = st.read("$T/r18_3m.safetensors")
    for k in a: assert (b["model." + k] == a[k]).all(), k
    assert m["xraycls.classes"] == "[\"x\",\"y\",\"z\"]", m
def check2():
    names = ["Atelectasis", "Cardiomegaly", "Effusion", "Infiltration", "Mass", "Nodule", "Pneumonia",
             "Pneumothorax", "Consolidation", "Edema", "Emphysema", "Fibrosis", "Pleural_Thickening", "Hernia"]
    m = json.load(open(T + "/chex.json"))["metadata"]
    assert json.loads(m["xraycls.classes"]) == names and m["xraycls.head"] == "sigmoid", m
    assert m["xraycls.kind"] == "model" and m["xraycls.arch"] == "densenet121", m
    src = torch.load(T + "/chexnet.pth.tar")["state_dict"]
    got, _ = st.read(T + "/chex.safetensors")
    assert (got["model.classifier.weight"] == src["module.densenet121.classifier.0.weight"].numpy()).all()
    assert (got["model.features.denseblock2.denselayer3.norm2.weight"] ==
            src["module.densenet121.features.denseblock2.denselayer3.norm.2.weight"].numpy()).all()
    sd = {}
    for k, v in got.items():
        sd[k[len("model."):]] = torch.from_numpy(v.copy())
    net = torchvision.models.densenet121(num_classes=14); net.load_state_dict(sd); net.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1); std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (torch.full((1, 3, 64, 64), 100 / 255.0) - mean) / std
    with torch.no_grad(): want = torch.sigmoid(net(x))[0].tolist()
    rows = list(csv.reader(open(T + "/chex.csv")))
    assert rows[0] == ["path", "label"] + names, rows[0]
    assert len(rows) == 2 and len(rows[1]) == 16, rows
    p = [float(v) for v in rows[1][2:]]
    assert all(0 <= v <= 1 for v in p)
    assert max(abs(a - b) for a, b in zip(p, want)) < 2e-3, (p, want)
try: check0()
except Exception:
    traceback.print_exc(); print('FAIL: resnet18 import: metadata or tensors differ from the source', file=sys.stderr); bad = 1
try: check1()
except Exception:
    traceback.print_exc(); print('FAIL: the safetensors import differs from its source', file=sys.stderr); bad = 1
try: check2()
except Exception:
    traceback.print_exc(); print('FAIL: CheXNet import: metadata, tensors or predict probabilities differ from torch', file=sys.stderr); bad = 1
sys.exit(bad)
PY

# ---- refusals -----------------------------------------------------------------------------------
"$B" import --arch resnet18 --from "$T/hostile.pth" -o "$T/hostile.safetensors" 2>"$T/hostile.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "os.system" "$T/hostile.err"' "hostile pickle: rc $rc, want 1 naming os.system"
check '[ ! -e "$T/hostile.safetensors" ] && [ ! -e "$T/pwned" ]' "hostile pickle: output written or code run"
"$B" import --arch resnet18 --from "$T/r18_missing.pth" -o "$T/missing.safetensors" 2>"$T/missing.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "layer2.0.conv1.weight" "$T/missing.err"' "missing tensor: rc $rc, want 1 naming it: $(cat "$T/missing.err")"
check '[ ! -e "$T/missing.safetensors" ]' "missing tensor: output written"
echo keep >"$T/existing.safetensors"
"$B" import --arch resnet18 --from "$T/r18_badshape.pth" -o "$T/existing.safetensors" 2>"$T/bad.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "layer3.1.bn2.bias" "$T/bad.err"' "shape mismatch: rc $rc, want 1 naming it: $(cat "$T/bad.err")"
check '[ "$(cat "$T/existing.safetensors")" = keep ]' "a failed import changed the existing output"
"$B" import --arch densenet121 --from "$T/r18.pth" -o "$T/wrong.safetensors" 2>"$T/wrong.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "classifier.weight" "$T/wrong.err" && [ ! -e "$T/wrong.safetensors" ]' \
    "resnet weights onto densenet121: rc $rc, want 1 naming the head"
"$B" import --arch resnet18 --from "$T/nonexistent.pth" -o "$T/none.safetensors" 2>"$T/none.err"; rc=$?
check '[ $rc -eq 1 ] && grep -q "nonexistent.pth" "$T/none.err"' "missing source: rc $rc, want 1 naming it"
ls "$T"/.*tmp* >/dev/null 2>&1 && { echo "FAIL: temporary files left behind" >&2; fail=1; }

[ $fail -eq 0 ] && echo "test_import: ok"
exit $fail
