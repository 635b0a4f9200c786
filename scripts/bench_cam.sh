#!/usr/bin/env bash
# bench_cam.sh — what Grad-CAM costs: `xraycls predict --cam` against plain `predict` on the same
# images and model, and the same two in PyTorch (torchvision forward; forward + Grad-CAM with a
# hook and torch.autograd.grad), in one run. Prints seconds per image and the ratios (the target
# is predict --cam <= 3x predict).
#
#   scripts/bench_cam.sh [--arch resnet50] [--n 32] [--size 224] [--batch 8] [--device cpu]
#                        [--xraycls build/xraycls]
set -eu
arch=resnet50 n=32 size=224 batch=8 device=cpu X=build/xraycls
while [ $# -gt 0 ]; do
  case $1 in
    --arch) arch=$2 ;; --n) n=$2 ;; --size) size=$2 ;; --batch) batch=$2 ;; --device) device=$2 ;;
    --xraycls) X=$2 ;; -h|--help) sed -n 2,8p "$0"; exit 0 ;; *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
PY=/usr/bin/python3
W=$(mktemp -d /tmp/bench_cam.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/img"
$PY - "$W" "$arch" "$n" "$size" <<'PY'
import sys, numpy as np, torch, torchvision
from PIL import Image
w, arch, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(0)
torch.save(getattr(torchvision.models, arch)(num_classes=4).state_dict(), f"{w}/w.pth")
rng = np.random.default_rng(0)
for i in range(n):
    Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8), "L").save(f"{w}/img/{i:04d}.png")
PY
"$X" import --arch "$arch" --from "$W/w.pth" -o "$W/m.safetensors" --classes a,b,c,d --size "$size" >/dev/null
now() { date +%s.%N; }
run() { "$X" predict --model "$W/m.safetensors" --device "$device" --batch "$batch" -o "$W/p.csv" "$@" "$W/img" 2>/dev/null; }
run # warm-up (page cache, libtorch load)
t0=$(now); run; t1=$(now); run --cam "$W/cam"; t2=$(now)
plain=$(echo "($t1 - $t0) / $n" | bc -l); cam=$(echo "($t2 - $t1) / $n" | bc -l)
$PY - "$W" "$arch" "$n" "$size" "$batch" "$plain" "$cam" "$device" <<'PY'
import glob, sys, time, numpy as np, torch, torchvision
from PIL import Image
w, arch, n, size, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
plain, cam, device = float(sys.argv[6]), float(sys.argv[7]), sys.argv[8]
model = getattr(torchvision.models, arch)(num_classes=4)
model.load_state_dict(torch.load(f"{w}/w.pth")); model.eval().to(device)
layer = model.layer4 if arch.startswith("resnet") else model.features.norm5
files = sorted(glob.glob(f"{w}/img/*.png"))
mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]; std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
def batches():
    for s in range(0, n, batch):
        x = torch.stack([torch.from_numpy(np.asarray(Image.open(f), dtype=np.float32) / 255)[None].repeat(3, 1, 1)
                         for f in files[s:s + batch]])
        yield ((x - mean) / std).to(device)
def t_plain():
    t = time.perf_counter()
    with torch.no_grad():
        for x in batches(): torch.softmax(model(x), 1).cpu()
    return (time.perf_counter() - t) / n
def t_cam():
    t = time.perf_counter()
    for x in batches():
        kept = {}
        h = layer.register_forward_hook(lambda m, i, o: kept.__setitem__("a", o))
        logits = model(x); h.remove()
        score = logits.gather(1, logits.argmax(1)[:, None]).sum()
        (g,) = torch.autograd.grad(score, kept["a"])
        c = torch.relu((g.mean((2, 3), keepdim=True) * kept["a"]).sum(1, keepdim=True))
        torch.nn.functional.interpolate(c, size=x.shape[2:], mode="bilinear", align_corners=False).cpu()
    return (time.perf_counter() - t) / n
t_plain()  # warm-up
tp, tc = t_plain(), t_cam()
print(f"{arch} {size}px, {n} images, batch {batch}, {device}, {torch.get_num_threads()} threads")
print(f"  xraycls predict         {plain * 1000:8.1f} ms/image")
print(f"  xraycls predict --cam   {cam * 1000:8.1f} ms/image   {cam / plain:.2f}x predict (target <= 3x)")
print(f"  PyTorch forward         {tp * 1000:8.1f} ms/image")
print(f"  PyTorch Grad-CAM        {tc * 1000:8.1f} ms/image   {tc / tp:.2f}x forward")
print(f"  xraycls / PyTorch: predict {plain / tp:.2f}x, with CAM {cam / tc:.2f}x")
PY
