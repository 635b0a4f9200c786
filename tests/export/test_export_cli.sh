#!/usr/bin/env bash
# test_export_cli.sh — `xraycls export` end to end, for resnet18 and densenet121 (64 px, 3
# classes) imported from torchvision models with random weights and batch-norm statistics:
#   torchvision  .pth and .safetensors load into torchvision.models.<arch>(num_classes=3) with
#                strict=True and give the source model's logits; the docs' 5-line example runs;
#   onnx         onnx.checker (full check) accepts the file; IR 8, opset 17 (and 13); metadata
#                holds the preprocessing contract; ONNX Runtime (npm onnxruntime-node) runs it
#                on a batch of 2 and of 1, and its probabilities equal `xraycls predict`'s on the
#                same PNGs to 1e-4 (folded and unfolded batch norm). Skipped, visibly, where
#                onnxruntime-node is not installed (scripts/setup.sh installs it in .cache/ort).
# Also refusals: unknown format, missing -o, a model file that does not exist.
set -u
B=${XRAYCLS_BINARY:?}
S=${XRAYCLS_SOURCE_DIR:?}
T=${XRAYCLS_TMP:?}/export
rm -rf "$T" && mkdir -p "$T/img"
source "$S/tests/cli/lib.sh"
PY=/usr/bin/python3
ORT=${XRAYCLS_ORT_DIR:-$S/.cache/ort}/node_modules/onnxruntime-node
have_ort=0
if [ -d "$ORT" ] && command -v node >/dev/null && node -e "require('$ORT')" 2>/dev/null; then have_ort=1; fi

$PY - "$T" <<'PY'
import sys, numpy as np, torch, torchvision
from PIL import Image
t = sys.argv[1]
torch.manual_seed(1)
for arch in ("resnet18", "densenet121"):
    m = getattr(torchvision.models, arch)(num_classes=3)
    with torch.no_grad():  # BN statistics that are not the identity, so folding matters
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.2, 0.2); mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5); mod.bias.uniform_(-0.2, 0.2)
    torch.save(m.state_dict(), f"{t}/{arch}.src.pth")
rng = np.random.default_rng(3)
for i in range(2):
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8), "L").save(f"{t}/img/{i}.png")
PY

for arch in resnet18 densenet121; do
  "$B" import --arch $arch --from "$T/$arch.src.pth" --classes Normal,Bacteria,Virus --size 64 -o "$T/$arch.safetensors" >/dev/null 2>"$T/imp.err" \
    || { cat "$T/imp.err"; echo "FAIL: import $arch"; exit 1; }
  M=$T/$arch.safetensors
  "$B" predict --model "$M" --device cpu -o "$T/$arch.pred.csv" "$T/img" 2>/dev/null || { echo "FAIL: predict $arch"; exit 1; }

  # ---- torchvision ----------------------------------------------------------------------
  for ext in pth safetensors; do
    "$B" export --format torchvision "$M" -o "$T/$arch.tv.$ext" 2>"$T/e.err"; rc=$?
    check '[ $rc -eq 0 ] && [ -s "$T/$arch.tv.$ext" ]' "export torchvision $arch .$ext: $(cat "$T/e.err")"
  done
  check '$PY - "$T" $arch <<PY
import json, struct, sys, numpy as np, torch, torchvision
t, arch = sys.argv[1:3]
src = getattr(torchvision.models, arch)(num_classes=3); src.load_state_dict(torch.load(f"{t}/{arch}.src.pth")); src.eval()
a = getattr(torchvision.models, arch)(num_classes=3); a.load_state_dict(torch.load(f"{t}/{arch}.tv.pth"), strict=True); a.eval()
b = open(f"{t}/{arch}.tv.safetensors", "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
meta = h.pop("__metadata__"); assert meta["format"] == "pt" and meta["xraycls.arch"] == arch, meta
dt = {"F32": np.float32, "I64": np.int64}
sd = {k: torch.from_numpy(np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype=dt[v["dtype"]]).reshape(v["shape"]).copy()) for k, v in h.items()}
assert list(sd) == list(src.state_dict()), "order of the state dict"
c = getattr(torchvision.models, arch)(num_classes=3); c.load_state_dict(sd, strict=True); c.eval()
x = torch.randn(2, 3, 64, 64)
with torch.no_grad():
    want = src(x)
    assert torch.equal(a(x), want) and torch.equal(c(x), want)
PY' "torchvision load of $arch differs from the source model"

  # ---- ONNX -------------------------------------------------------------------------------
  for v in fold:17: nofold:17:--no-fold-bn fold:13:; do
    IFS=: read -r tag opset flag <<<"$v"
    O=$T/$arch.$tag.$opset.onnx
    "$B" export --format onnx "$M" -o "$O" --opset $opset $flag 2>"$T/e.err"; rc=$?
    check '[ $rc -eq 0 ] && [ -s "$O" ]' "export onnx $arch $tag $opset: $(cat "$T/e.err")"
    check '$PY - "$O" $opset $tag <<PY
import json, sys, onnx
m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True)
assert m.ir_version == 8 and [(o.domain, o.version) for o in m.opset_import] == [("", int(sys.argv[2]))]
ops = {n.op_type for n in m.graph.node}
assert ("BatchNormalization" in ops) == (sys.argv[3] == "nofold" or "densenet" in sys.argv[1]), ops
meta = {p.key: p.value for p in m.metadata_props}
pre = json.loads(meta["xraycls.preprocessing"]); assert pre["size"] == 64 and len(pre["mean"]) == 3, pre
assert json.loads(meta["xraycls.classes"]) == ["Normal", "Bacteria", "Virus"]
i = m.graph.input[0].type.tensor_type.shape.dim; assert i[0].dim_param == "N" and [d.dim_value for d in i[1:]] == [3, 64, 64]
assert [o.name for o in m.graph.output] == ["probs", "logits"]
PY' "onnx checker / contents of $arch $tag $opset"
    if [ $have_ort -eq 1 ]; then
      $PY - "$O" "$T/img" "$T/in.f32" <<'PY'
import json, sys, numpy as np, onnx
from PIL import Image
meta = {p.key: p.value for p in onnx.load(sys.argv[1]).metadata_props}
pre = json.loads(meta["xraycls.preprocessing"])
x = np.stack([np.asarray(Image.open(f"{sys.argv[2]}/{i}.png").convert("L"), np.float32) / 255 for i in range(2)])[:, None].repeat(3, 1)
x = (x - np.array(pre["mean"], np.float32)[:, None, None]) / np.array(pre["std"], np.float32)[:, None, None]
x.astype("<f4").tofile(sys.argv[3])
PY
      node - "$ORT" "$O" "$T/in.f32" >"$T/ort.json" 2>"$T/ort.err" <<'JS'
const [ortPath, model, input] = process.argv.slice(2);
const ort = require(ortPath), fs = require('fs');
(async () => {
  const s = await ort.InferenceSession.create(model);
  const buf = fs.readFileSync(input);
  const x = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
  const two = await s.run({input: new ort.Tensor('float32', x, [2, 3, 64, 64])});
  const one = await s.run({input: new ort.Tensor('float32', x.slice(0, 3 * 64 * 64), [1, 3, 64, 64])});
  console.log(JSON.stringify({two: Array.from(two.probs.data), dims: two.probs.dims, one: Array.from(one.probs.data)}));
})().catch(e => { console.error(e); process.exit(1); });
JS
      rc=$?
      check '[ $rc -eq 0 ]' "onnxruntime $arch $tag $opset: $(cat "$T/ort.err")"
      check '$PY - "$T/ort.json" "$T/$arch.pred.csv" <<PY
import csv, json, sys
r = json.load(open(sys.argv[1])); rows = list(csv.DictReader(open(sys.argv[2])))
assert r["dims"] == [2, 3], r["dims"]
want = [float(row[c]) for row in rows for c in ("Normal", "Bacteria", "Virus")]
assert max(abs(a - b) for a, b in zip(r["two"], want)) <= 1e-4, (r["two"], want)
assert max(abs(a - b) for a, b in zip(r["one"], want[:3])) <= 1e-4, (r["one"], want[:3])
PY' "ONNX Runtime probabilities of $arch $tag $opset differ from xraycls predict's"
    fi
  done
done
[ $have_ort -eq 1 ] || echo "SKIP: ONNX Runtime checks (onnxruntime-node not found at $ORT; scripts/setup.sh installs it)"

# The docs' example, as written there (a resnet18 with 4 classes, weights.pth in the current folder).
$PY - "$T" <<'PY'
import sys, torch, torchvision
torch.manual_seed(2); torch.save(torchvision.models.resnet18(num_classes=4).state_dict(), f"{sys.argv[1]}/r4.pth")
PY
"$B" import --arch resnet18 --from "$T/r4.pth" --classes a,b,c,d -o "$T/r4.safetensors" >/dev/null 2>&1
mkdir -p "$T/doc" && "$B" export --format torchvision "$T/r4.safetensors" -o "$T/doc/weights.pth" 2>/dev/null
sed -n '/<!-- example: torchvision -->/,/^```$/p' "$S/docs/EXPLAIN.md" | sed '1,2d;$d' >"$T/doc/example.py"
check '[ $(wc -l <"$T/doc/example.py") -eq 5 ]' "the docs example is not 5 lines: $(cat "$T/doc/example.py")"
(cd "$T/doc" && $PY example.py >out.txt 2>err.txt); rc=$?
check '[ $rc -eq 0 ] && grep -q "tensor" "$T/doc/out.txt"' "the docs example fails: $(cat "$T/doc/err.txt")"

# Refusals.
"$B" export --format tflite "$T/resnet18.safetensors" -o "$T/x" 2>"$T/r1"; rc=$?
check '[ $rc -eq 2 ] && grep -q "neither torchvision nor onnx" "$T/r1" && [ ! -e "$T/x" ]' "bad format: rc $rc $(cat "$T/r1")"
"$B" export --format onnx "$T/resnet18.safetensors" 2>"$T/r2"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "-o OUT is required" "$T/r2"' "no -o: rc $rc $(cat "$T/r2")"
"$B" export --format onnx "$T/nosuch.safetensors" -o "$T/x" 2>"$T/r3"; rc=$?
check '[ $rc -eq 1 ] && grep -q "nosuch.safetensors" "$T/r3" && [ ! -e "$T/x" ]' "missing model: rc $rc $(cat "$T/r3")"
"$B" export --format onnx "$T/resnet18.safetensors" -o "$T/x" --opset 12 2>"$T/r4"; rc=$?
check '[ $rc -eq 2 ] && grep -q -- "--opset 12.: not in \[13, 17\]" "$T/r4"' "opset 12: rc $rc $(cat "$T/r4")"

[ $fail -eq 0 ] && echo "test_export_cli: ok"
exit $fail
