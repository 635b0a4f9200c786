#!/usr/bin/python3
"""bench_epoch.py — a training epoch of `xraycls train` from a prepared dataset against the
PyTorch recipe of the study (ImageFolder, Pillow decoding and torchvision transforms every epoch,
WeightedRandomSampler, DataLoader workers, Adam), same model, batch, size and augmentation, in
one run on one machine, alternating. Run with the interpreter that has torch and torchvision
(Debian's /usr/bin/python3 here; the GPU machine's python there):

    /usr/bin/python3 scripts/bench_epoch.py --xraycls build/xraycls [--arch resnet18]
        [--size 64] [--batch 32] [--images 1000] [--epochs 2] [--rounds 2] [--device cpu]
        [--workers N] [--draft] [--work DIR] [--json FILE]

Data: a folder of synthetic radiograph-like gray JPEGs of 1–2 megapixels (made here once, in
three imbalanced classes ROOT/<class>/, 60/30/10 %), the size CoronaHack's files have. xraycls
decodes them once (`xraycls prepare folder`, timed and reported apart: a one-off cost) and then
trains from the prepared dataset; the recipe decodes every image in every epoch, as the study's
code does, over the same images: the train split prepare lists in its splits.csv.

Both sides: `--arch` from random weights, `--classes 3`, batch `--batch`, `--epochs` epochs,
weighted sampling (each class drawn equally often), horizontal and vertical flips (p = 0.5
each), rotation (p = 0.3, up to 15 degrees), cross-entropy, Adam lr 1e-3. xraycls runs with no
flag and no environment variable (its thread count is its own default); the recipe with
torch's default threads and as many DataLoader workers as usable CPUs (`--workers`), pinned
memory on CUDA, the model in channels_last on CUDA. `--draft` gives the recipe Pillow's draft
mode (JPEG decoded at 1/2–1/8 scale before the resize): a stronger peer than the study's.

Reported per side: seconds of each epoch's training (the sampler's draws, decoding on the
recipe's side, forward, backward and the optimiser step; xraycls's from its metrics.jsonl, the
recipe's timed the same way), images/s, the whole command's wall seconds, and peak memory of the
process tree (the sum of PSS over the process and its children, sampled every 0.1 s). The
ratio is xraycls ÷ recipe in images/s of the epochs after the first (the first pays start-up
on both sides; with --epochs 1, the only epoch).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_infer as bi  # noqa: E402  (process-tree memory sampling, the synthetic JPEGs)

CLASSES = ("a_normal", "b_bacteria", "c_virus")
SHARES = (0.6, 0.3, 0.1)


def make_folder(root, n):
    """n JPEGs split over CLASSES by SHARES, made by bench_infer's radiograph generator."""
    done = os.path.join(root, ".complete-%d" % n)
    if os.path.exists(done):
        return
    counts = [int(round(n * s)) for s in SHARES]
    counts[0] += n - sum(counts)
    for seed, (cls, k) in enumerate(zip(CLASSES, counts)):
        bi.make_images(os.path.join(root, cls), k, seed=seed + 1)
    open(done, "w").close()


# ---- the recipe (its own process) -------------------------------------------------------------

def worker_recipe(a):
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms as T

    torch.manual_seed(0)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"

    def load(path):
        with open(path, "rb") as f:
            im = Image.open(f)
            if a.draft:
                im.draft("L", (a.size, a.size))
            return im.convert("RGB")

    tf = T.Compose([
        T.Resize((a.size, a.size)),
        T.RandomHorizontalFlip(0.5),
        T.RandomVerticalFlip(0.5),
        T.RandomApply([T.RandomRotation(15)], p=0.3),
        T.ToTensor(),
        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = torchvision.datasets.ImageFolder(a.root, transform=tf, loader=load)
    with open(a.splits) as f:  # the images xraycls trains on: the train split prepare wrote
        rows = list(csv.DictReader(f))
    train = {os.path.realpath(os.path.join(a.root, r["path"])) for r in rows if r["split"] == "train"}
    ds.samples = [s for s in ds.samples if os.path.realpath(s[0]) in train]
    ds.targets = [s[1] for s in ds.samples]
    if len(ds.samples) != len(train):
        sys.exit("recipe: %d of the %d train images of %s found under %s" % (len(ds.samples), len(train), a.splits, a.root))
    counts = torch.bincount(torch.tensor(ds.targets), minlength=len(ds.classes)).double()
    weights = (1.0 / counts)[torch.tensor(ds.targets)]
    sampler = torch.utils.data.WeightedRandomSampler(weights, num_samples=len(ds), replacement=True)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, sampler=sampler, num_workers=a.workers,
                                     pin_memory=cuda, persistent_workers=a.workers > 0, drop_last=False)
    model = getattr(torchvision.models, a.arch)(num_classes=len(ds.classes)).to(dev)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    epochs = []
    for e in range(a.epochs):
        model.train()
        t0 = time.perf_counter()
        seen = 0
        for x, y in dl:
            x = x.to(dev, non_blocking=True)
            y = y.to(dev, non_blocking=True)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            seen += x.shape[0]
        if cuda:
            torch.cuda.synchronize()
        s = time.perf_counter() - t0
        epochs.append({"epoch": e + 1, "seconds": s, "images_per_s": seen / s})
    print(json.dumps({"epochs": epochs, "torch": torch.__version__}))


# ---- xraycls ----------------------------------------------------------------------------------

def xraycls_config(a, prepared, runs, name):
    return {
        "data": {"path": prepared, "batch_size": a.batch, "sampler": "weighted",
                 "augment": {"hflip": 0.5, "vflip": 0.5, "rotate": 0.3, "rotate_deg": 15}},
        "model": {"arch": a.arch, "weights": "none"},
        "loss": {"type": "ce"},
        "optim": {"lr": 1e-3},
        "schedule": {"type": "none"},
        "train": {"epochs": a.epochs, "seed": 0, "device": a.device},
        "output": {"runs_dir": runs, "name": name, "figures": "none"},
    }


def run_xraycls(a, prepared, r):
    runs = os.path.join(a.work, "runs")
    name = "epoch-r%d" % r
    cfg = os.path.join(a.work, name + ".json")
    with open(cfg, "w") as f:
        json.dump(xraycls_config(a, prepared, runs, name), f, indent=1)
    subprocess.run(["rm", "-rf", os.path.join(runs, name)], check=True)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    wall, pss = bi.run_sampled([a.xraycls, "train", "--config", cfg], env=env)
    with open(os.path.join(runs, name, "metrics.jsonl")) as f:
        ep = [json.loads(l) for l in f if l.strip()]
    return {"wall": wall, "pss_mb": pss, "epochs": [{"epoch": e["epoch"], "seconds": e["seconds"],
                                                     "images_per_s": e["images_per_s"]} for e in ep]}


def run_recipe(a):
    out = os.path.join(a.work, "recipe.json")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--root", a.root, "--arch", a.arch,
           "--size", str(a.size), "--batch", str(a.batch), "--epochs", str(a.epochs), "--device", a.device,
           "--workers", str(a.workers), "--splits", a.splits, "--result", out] + (["--draft"] if a.draft else [])
    wall, pss = bi.run_sampled(cmd)
    with open(out) as f:
        j = json.load(f)
    return {"wall": wall, "pss_mb": pss, "epochs": j["epochs"]}


def steady(res):
    """images/s of the epochs after the first (all when there is one)."""
    ep = res["epochs"][1:] or res["epochs"]
    return sum(e["images_per_s"] for e in ep) / len(ep)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--xraycls", default="build/xraycls")
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=bi.usable_cpus())
    ap.add_argument("--draft", action="store_true")
    ap.add_argument("--work", default="/tmp/xraycls_bench_epoch")
    ap.add_argument("--json", help="also write the results as JSON to this file")
    # internal: the recipe in this process
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--splits", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        sys.stdout = open(a.result, "w")
        return worker_recipe(a)

    import torch
    os.makedirs(a.work, exist_ok=True)
    a.root = os.path.join(a.work, "images-%d" % a.images)
    ver = subprocess.run([a.xraycls, "--version"], capture_output=True, text=True).stdout.split("\n")
    print("machine: %s, %d usable CPUs; %s; PyTorch %s; device %s" % (
        os.uname().machine, bi.usable_cpus(), " / ".join(v for v in ver[:2] if v), torch.__version__, a.device))
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    t = time.perf_counter()
    make_folder(a.root, a.images)
    print("images: %d JPEGs of 1–2 MP in %s (%.0f s to make)" % (a.images, a.root, time.perf_counter() - t))

    prepared = os.path.join(a.work, "prepared-%d-%d" % (a.images, a.size))
    t = time.perf_counter()
    subprocess.run(["rm", "-rf", prepared], check=True)
    subprocess.run([a.xraycls, "prepare", "folder", "--root", a.root, "--size", str(a.size), "-o", prepared],
                   check=True, stdout=subprocess.DEVNULL)
    prep_s = time.perf_counter() - t
    print("xraycls prepare (once): %.1f s, %.1f images/s" % (prep_s, a.images / prep_s))
    with open(os.path.join(prepared, "dataset.json")) as f:
        n_train = json.load(f)["splits"]["train"]["count"]
    a.splits = os.path.join(prepared, "splits.csv")

    res = {"xraycls": [], "recipe": []}
    for r in range(a.rounds):
        for side in (["xraycls", "recipe"] if r % 2 == 0 else ["recipe", "xraycls"]):
            res[side].append(run_xraycls(a, prepared, r) if side == "xraycls" else run_recipe(a))
            last = res[side][-1]
            print("round %d %-8s epochs %s s, wall %.1f s, peak tree PSS %.0f MB" % (
                r + 1, side, " ".join("%.1f" % e["seconds"] for e in last["epochs"]), last["wall"], last["pss_mb"]))

    print("\n%s, %d px, batch %d, %d epochs of %d images (%d rounds; median (min–max))" % (
        a.arch, a.size, a.batch, a.epochs, n_train, a.rounds))
    print("%-10s %24s %22s %22s" % ("", "steady images/s", "command seconds", "peak tree PSS MB"))
    for side in res:
        print("%-10s %24s %22s %22s" % (side, bi.spread([steady(x) for x in res[side]]),
                                        bi.spread([x["wall"] for x in res[side]]),
                                        bi.spread([x["pss_mb"] for x in res[side]])))
    sx = statistics.median(steady(x) for x in res["xraycls"])
    sr = statistics.median(steady(x) for x in res["recipe"])
    mx = statistics.median(x["pss_mb"] for x in res["xraycls"])
    mr = statistics.median(x["pss_mb"] for x in res["recipe"])
    print("xraycls / recipe%s: %.2f× the images/s of an epoch, %.2f× the memory" % (
        " (draft mode)" if a.draft else "", sx / sr, mx / mr))
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"arch": a.arch, "size": a.size, "batch": a.batch, "images": a.images, "epochs": a.epochs,
                       "device": a.device, "workers": a.workers, "draft": a.draft, "prepare_seconds": prep_s,
                       "results": res, "ratio_images_per_s": sx / sr, "ratio_memory": mx / mr}, f, indent=1)


if __name__ == "__main__":
    main()
