#!/usr/bin/python3
"""bench_infer.py — xraycls inference against PyTorch's CPU paths, and `predict` end to end
against a PyTorch peer, in one run on one machine, alternating. Run with Debian's interpreter
(torch 1.13, torchvision 0.14, Pillow):

    /usr/bin/python3 scripts/bench_infer.py --xraycls build/xraycls [--arch resnet50]
        [--batches 16,32] [--rounds 3] [--steps 5] [--warmup 2] [--images 200] [--threads 2]
        [--skip-model] [--skip-predict] [--prepacked] [--work DIR]

Model alone (random weights, synthetic input, 224 px): `xraycls bench --mode infer --json`
(its default inference form: batch norm folded, the layout --layout auto picks) against
PyTorch in eval mode under no_grad, each in its own process — eager NCHW, eager channels_last,
and TorchScript freeze + optimize_for_inference (batch norm folded into the convolutions,
oneDNN), and with --prepacked (ResNets) batch norm folded by hand into oneDNN's prepacked
convolutions with ReLU fused, channels_last — images/s from the median step and the peak RSS of the timed steps (VmHWM reset when
they start, so the libraries and weights resident then count and earlier start-up garbage does
not), the same measure xraycls bench reports.

End to end: a folder of synthetic radiograph-like JPEGs (1–2 megapixels, gray, made here once),
scored by `xraycls predict` with no flag and no environment variable, against a peer that
decodes with Pillow in draft mode (reduce at decode, then resize to 224), in a DataLoader with
as many workers as usable CPUs, batch 16, torch threads = usable CPUs, the model frozen and
optimised (PyTorch's fastest of the three on this machine). Both load the same weights (a
torchvision state dict imported with `xraycls import`). Reported: wall seconds of the whole
command (start-up and model loading included), images/s, and the peak memory of the process
tree — the sum of PSS (proportional set size: a page shared by a worker and its parent counts
once) over the process and its children, sampled every 0.1 s.

Every configuration runs once per round, the order rotated each round so that a busy
neighbour on a shared machine hits each alike; the tables give the median and the range
(min–max) over the rounds, and ratios xraycls / PyTorch of the medians.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.abspath(__file__)


def usable_cpus():
    return len(os.sched_getaffinity(0))


def reset_peak():
    """Restarts VmHWM at the current resident size (Linux's clear_refs 5); False when refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return -1.0


# ---- workers (run in their own process) -------------------------------------------------------

def prepacked_resnet(model, x):
    """model's eval forward with batch norm folded and every convolution run through oneDNN's
    prepacked convolution, ReLU fused into it where one follows (mkldnn_prepacked::conv2d_run,
    the ops PyTorch's own graph fusion uses) — the input in channels_last."""
    import torch
    import torch.nn.functional as F
    shapes, hooks = {}, []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(
                lambda _m, inp, _o, name=name: shapes.__setitem__(name, list(inp[0].shape))))
    ref = model(x)
    for h in hooks:
        h.remove()
    P = torch.ops.mkldnn_prepacked

    def pack(conv, bn, name, relu):
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        w = (conv.weight * s[:, None, None, None]).contiguous()
        return P.conv2d_prepack(w, bn.bias - bn.running_mean * s, list(conv.stride), list(conv.padding),
                                list(conv.dilation), conv.groups, shapes[name], "relu" if relu else "none")

    stem = pack(model.conv1, model.bn1, "conv1", True)
    blocks = []
    for li in range(1, 5):
        for bi, blk in enumerate(getattr(model, "layer%d" % li)):
            p = "layer%d.%d." % (li, bi)
            convs = [(blk.conv1, blk.bn1), (blk.conv2, blk.bn2)] + ([(blk.conv3, blk.bn3)] if hasattr(blk, "conv3") else [])
            chain = [pack(c, b, p + "conv%d" % (k + 1), k < len(convs) - 1) for k, (c, b) in enumerate(convs)]
            ds = blk.downsample
            blocks.append((chain, pack(ds[0], ds[1], p + "downsample.0", False) if ds is not None else None))

    def forward(inp):
        y = F.max_pool2d(P.conv2d_run(inp, stem), 3, 2, 1)
        for chain, down in blocks:
            o = y
            for c in chain:
                o = P.conv2d_run(o, c)
            o += P.conv2d_run(y, down) if down is not None else y
            y = o.relu_()
        return model.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))
    d = (forward(x) - ref).abs().max().item()
    if not d <= 1e-4 * max(1.0, ref.abs().max().item()):
        sys.exit("bench_infer.py: the prepacked forward's logits differ from eager's by %g" % d)
    return forward


def worker_model(a):
    import torch
    import torchvision
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)(num_classes=3).eval()
    x = torch.randn(a.batch, 3, 224, 224)
    with torch.no_grad():
        if a.worker == "channels_last":
            model = model.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        elif a.worker == "frozen":
            model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
        elif a.worker == "prepacked":
            x = x.contiguous(memory_format=torch.channels_last)
            model = prepacked_resnet(model, x)
        ms = []
        for i in range(a.warmup + a.steps):
            if i == a.warmup:
                reset_peak()
            t0 = time.perf_counter()
            model(x)
            if i >= a.warmup:
                ms.append(1000.0 * (time.perf_counter() - t0))
    med = statistics.median(ms)
    print(json.dumps({"images_per_s": 1000.0 * a.batch / med, "median_ms": med, "peak_rss_mb": peak_rss_mb(),
                      "threads": torch.get_num_threads()}))


class Folder:
    """The peer's data set: Pillow draft-mode decoding to gray, then resize to 224."""

    def __init__(self, files, size):
        self.files, self.size = files, size

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        import numpy as np
        import torch
        from PIL import Image
        im = Image.open(self.files[i])
        im.draft("L", (self.size, self.size))
        im = im.convert("L").resize((self.size, self.size), Image.BILINEAR)
        x = torch.from_numpy(np.asarray(im, dtype=np.uint8).copy()).float().div_(255)
        return x.unsqueeze(0).expand(3, -1, -1)


def worker_peer(a):
    import torch
    import torchvision
    torch.set_num_threads(a.threads)
    files = sorted(os.path.join(a.folder, f) for f in os.listdir(a.folder) if f.endswith(".jpg"))
    model = torchvision.models.resnet50(num_classes=3)
    model.load_state_dict(torch.load(a.weights))
    model.eval()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
        loader = torch.utils.data.DataLoader(Folder(files, 224), batch_size=16, num_workers=a.threads)
        out = open(os.devnull, "w")
        for i, x in enumerate(loader):
            p = torch.softmax(model((x - mean) / std), 1)
            for j, row in enumerate(p.tolist()):
                out.write("%s,%s\n" % (files[i * 16 + j], ",".join("%.9g" % v for v in row)))


# ---- the driver --------------------------------------------------------------------------------

def tree_pss_kb(pid):
    """PSS of pid and its descendants, in kB (0 for processes that are gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def run_sampled(cmd, env=None):
    """Runs cmd (output discarded); returns (wall seconds, peak tree PSS MB, rc)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], tree_pss_kb(p.pid))
            done.wait(0.1)

    th = threading.Thread(target=sample)
    th.start()
    err = p.stderr.read()
    p.wait()
    wall = time.perf_counter() - t0
    done.set()
    th.join()
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd), p.returncode, err.decode(errors="replace")[-2000:]))
    return wall, peak[0] / 1024.0


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def spread(v):
    return "%.2f (%.2f–%.2f)" % (statistics.median(v), min(v), max(v))


def make_images(folder, n, seed=0):
    """n gray JPEGs of 1–2 megapixels that look roughly like chest radiographs: a dark
    background, two bright lung fields with rib-like bands, a spine, film grain (drawn from
    `seed`: folders made with different seeds share no image)."""
    import numpy as np
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        path = os.path.join(folder, "img%04d.jpg" % i)
        if os.path.exists(path):
            continue
        h = int(rng.integers(1000, 1400))
        w = int(rng.integers(1000, 1400))
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cy, cx = h * 0.5, w * 0.5
        img = 40 + 60 * np.exp(-(((xx - cx) / (0.45 * w)) ** 2 + ((yy - cy) / (0.5 * h)) ** 2))
        for side in (-1, 1):
            lx = cx + side * 0.2 * w
            lung = np.exp(-(((xx - lx) / (0.13 * w)) ** 2 + ((yy - cy) / (0.3 * h)) ** 2))
            img += 90 * lung * (0.8 + 0.2 * np.sin(yy / (h / 28.0) + side))
        img += 70 * np.exp(-((xx - cx) / (0.03 * w)) ** 2)
        img += rng.normal(0, 6, size=(h, w))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L").save(path, quality=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xraycls", default="build/xraycls")
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--batches", default="16,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=usable_cpus())
    ap.add_argument("--work", default="/tmp/xraycls_bench_infer")
    ap.add_argument("--skip-model", action="store_true")
    ap.add_argument("--skip-predict", action="store_true")
    ap.add_argument("--prepacked", action="store_true",
                    help="also time a fourth PyTorch path (ResNets): oneDNN's prepacked convolutions with ReLU fused")
    # internal: one PyTorch measurement in this process
    ap.add_argument("--worker", choices=["eager", "channels_last", "frozen", "prepacked", "peer"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--folder")
    ap.add_argument("--weights")
    a = ap.parse_args()
    if a.worker == "peer":
        return worker_peer(a)
    if a.worker:
        return worker_model(a)
    if a.prepacked and not a.arch.startswith("resnet"):
        sys.exit("bench_infer.py: --prepacked times ResNets only (got --arch %s)" % a.arch)

    import torch
    ver = subprocess.run([a.xraycls, "--version"], capture_output=True, text=True).stdout.split("\n")
    print("machine: %s, %d usable CPUs; %s; PyTorch %s; %s" % (
        os.uname().machine, usable_cpus(), " / ".join(v for v in ver[:2] if v), torch.__version__,
        open("/proc/cpuinfo").read().split("model name")[1].split("\n")[0].strip(": ")
        if "model name" in open("/proc/cpuinfo").read() else "?"))
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())

    if not a.skip_model:
        modes = ["xraycls", "eager", "channels_last", "frozen"] + (["prepacked"] if a.prepacked else [])
        for batch in [int(b) for b in a.batches.split(",")]:
            res = {m: [] for m in modes}
            for r in range(a.rounds):
                order = modes[r % len(modes):] + modes[:r % len(modes)]
                for m in order:
                    if m == "xraycls":
                        j = run_json([a.xraycls, "bench", "--arch", a.arch, "--mode", "infer", "--batch", str(batch),
                                      "--steps", str(a.steps), "--warmup", str(a.warmup), "--json"])
                        res[m].append((j["infer"]["images_per_s"], j["infer"]["peak_rss_mb"]))
                    else:
                        j = run_json([sys.executable, HERE, "--worker", m, "--arch", a.arch, "--batch", str(batch),
                                      "--steps", str(a.steps), "--warmup", str(a.warmup),
                                      "--threads", str(a.threads)])
                        res[m].append((j["images_per_s"], j["peak_rss_mb"]))
            print("\n%s inference, batch %d, 224 px, %d rounds of %d steps (median (min–max))" % (
                a.arch, batch, a.rounds, a.steps))
            print("%-20s %24s %24s %14s %14s" % ("", "images/s", "peak RSS MB", "xraycls ×", "RSS / xraycls"))
            xi = statistics.median(v[0] for v in res["xraycls"])
            xm = statistics.median(v[1] for v in res["xraycls"])
            for m in modes:
                ips, rss = [v[0] for v in res[m]], [v[1] for v in res[m]]
                print("%-20s %24s %24s %14s %14s" % (
                    "xraycls" if m == "xraycls" else "torch " + m, spread(ips), spread(rss),
                    "" if m == "xraycls" else "%.2f" % (xi / statistics.median(ips)),
                    "" if m == "xraycls" else "%.2f" % (statistics.median(rss) / xm)))

    if not a.skip_predict:
        import torchvision
        folder = os.path.join(a.work, "images")
        make_images(folder, a.images)
        pth = os.path.join(a.work, "resnet50.pth")
        model = os.path.join(a.work, "resnet50.safetensors")
        if not os.path.exists(model):
            torch.manual_seed(0)
            torch.save(torchvision.models.resnet50(num_classes=3).state_dict(), pth)
            subprocess.run([a.xraycls, "import", "--arch", "resnet50", "--from", pth, "-o", model,
                            "--classes", "a,b,c"], check=True, capture_output=True)
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        cmds = {
            "xraycls": [a.xraycls, "predict", "--model", model, "--format", "csv", "-o", os.path.join(a.work, "xraycls.csv"), folder],
            "peer": [sys.executable, HERE, "--worker", "peer", "--folder", folder, "--weights", pth,
                     "--threads", str(a.threads)],
        }
        res = {k: [] for k in cmds}
        for r in range(a.rounds):
            for k in (["xraycls", "peer"] if r % 2 == 0 else ["peer", "xraycls"]):
                res[k].append(run_sampled(cmds[k], env=env))
        print("\npredict end to end, %d JPEGs of 1–2 MP (%.0f MB), %d rounds (median (min–max))" % (
            a.images, sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) / 1e6, a.rounds))
        print("%-10s %22s %22s %24s" % ("", "seconds", "images/s", "peak tree PSS MB"))
        for k in cmds:
            print("%-10s %22s %22s %24s" % (k, spread([v[0] for v in res[k]]),
                                            spread([a.images / v[0] for v in res[k]]), spread([v[1] for v in res[k]])))
        sx = statistics.median(v[0] for v in res["xraycls"])
        sp = statistics.median(v[0] for v in res["peer"])
        mx = statistics.median(v[1] for v in res["xraycls"])
        mp = statistics.median(v[1] for v in res["peer"])
        print("xraycls / peer: %.2f× the images/s, %.2f× the memory" % (sp / sx, mx / mp))
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
