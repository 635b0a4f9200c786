#!/usr/bin/python3
"""bench_torch.py — the measurement of `xraycls bench` done with PyTorch/torchvision, and
optionally both side by side. Run with Debian's interpreter (torch 1.13, torchvision 0.14):

    /usr/bin/python3 scripts/bench_torch.py --arch resnet50 --batch 8 --size 224 --threads 2 \
        --steps 5 --warmup 1 [--mode train|infer|both] [--xraycls build/xraycls] [--rounds 2]

A training step is zero_grad(set_to_none) + forward + cross-entropy + backward + Adam step; an
inference step is a forward in eval mode under no_grad. --precision bf16|fp16 runs the forward
passes under autocast (fp16 training with a GradScaler); --compile wraps the model in
torch.compile (torch 2.x; its compile time is spent in the warm-up steps, so give enough of them).
On CUDA each mode also reports its peak device memory (torch.cuda.max_memory_allocated), on the
CPU its peak resident memory (VmHWM, reset at the start of the mode through /proc/self/clear_refs,
as `xraycls bench` measures its own). Each step is timed on its own; images/s
comes from the median step time, as in xraycls. With --xraycls the two are run in alternation
(--rounds times, the order swapped each round, so a busy neighbour on a shared machine hits both
alike) and the table shows each round and the ratio xraycls / PyTorch of images/s (above 1:
xraycls is faster). --json prints the results as one JSON object.
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_infer import peak_rss_mb, reset_peak  # noqa: E402  (VmHWM, as xraycls bench reads it)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def summarise(ms, batch):
    med = statistics.median(ms)
    return {"median_ms": med, "mean_ms": sum(ms) / len(ms), "images_per_s": 1000.0 * batch / med}


def bench_torch(a):
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if a.device == "auto" else a.device))
    torch.manual_seed(0)
    model = getattr(torchvision.models, a.arch)(num_classes=a.classes).to(dev)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    if a.channels_last:
        model = model.to(memory_format=fmt)
    amp = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[a.precision]
    run = model
    if a.compile:
        if not hasattr(torch, "compile"):
            sys.exit(f"bench_torch.py: --compile needs torch 2.x (this is {torch.__version__})")
        run = torch.compile(model)

    def autocast():
        return torch.autocast(dev.type, dtype=amp) if amp is not None else contextlib.nullcontext()

    rss_ok = [False]

    def peak_start():
        if dev.type == "cuda":
            sync(dev)
            torch.cuda.reset_peak_memory_stats(dev)
        rss_ok[0] = reset_peak()

    def peak_mb():
        return torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None

    def peak_rss():
        return peak_rss_mb() if rss_ok[0] else None
    x = torch.randn(a.batch, 3, a.size, a.size, device=dev)
    y = torch.randint(0, a.classes, (a.batch,), device=dev)
    out = {"arch": a.arch, "batch": a.batch, "size": a.size, "device": str(dev),
           "threads": torch.get_num_threads(), "steps": a.steps, "warmup": a.warmup,
           "channels_last": a.channels_last, "precision": a.precision, "compile": a.compile,
           "torch": torch.__version__}
    if a.mode in ("train", "both"):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        scaler = torch.cuda.amp.GradScaler() if amp is torch.float16 and dev.type == "cuda" else None
        model.train()
        ms = []
        peak_start()
        for i in range(a.warmup + a.steps):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            xin = x.contiguous(memory_format=fmt)
            with autocast():
                loss = F.cross_entropy(run(xin), y)
            if scaler:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            sync(dev)
            if i >= a.warmup:
                ms.append(1000.0 * (time.perf_counter() - t0))
        out["train"] = summarise(ms, a.batch)
        out["train"]["peak_device_mb"] = peak_mb()
        out["train"]["peak_rss_mb"] = peak_rss()
        # The optimizer and the gradients go before inference, as in xraycls bench.
        del opt
        model.zero_grad(set_to_none=True)
    if a.mode in ("infer", "both"):
        model.eval()
        ms = []
        peak_start()
        with torch.no_grad():
            for i in range(a.warmup + a.steps):
                t0 = time.perf_counter()
                with autocast():
                    run(x.contiguous(memory_format=fmt))
                sync(dev)
                if i >= a.warmup:
                    ms.append(1000.0 * (time.perf_counter() - t0))
        out["infer"] = summarise(ms, a.batch)
        out["infer"]["peak_device_mb"] = peak_mb()
        out["infer"]["peak_rss_mb"] = peak_rss()
    return out


def bench_xraycls(a):
    cmd = [a.xraycls, "bench", "--arch", a.arch, "--batch", str(a.batch), "--size", str(a.size),
           "--device", a.device, "--steps", str(a.steps), "--warmup", str(a.warmup),
           "--mode", a.mode, "--threads", str(a.threads), "--classes", str(a.classes), "--json"]
    if a.channels_last:
        cmd.append("--channels-last")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_torch.py: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", required=True)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--classes", type=int, default=3)
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                   help="autocast dtype of the forward passes (fp32: none)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (torch 2.x)")
    p.add_argument("--xraycls", help="path of the xraycls binary: run both and compare")
    p.add_argument("--rounds", type=int, default=1, help="alternating rounds with --xraycls")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    rounds = []
    for r in range(a.rounds if a.xraycls else 1):
        if not a.xraycls:
            rounds.append({"torch": bench_torch(a)})
        elif r % 2 == 0:
            t = bench_torch(a)
            rounds.append({"torch": t, "xraycls": bench_xraycls(a)})
        else:
            x = bench_xraycls(a)
            rounds.append({"torch": bench_torch(a), "xraycls": x})
    if a.json:
        print(json.dumps({"rounds": rounds}, indent=1))
        return

    t0 = rounds[0]["torch"]
    print(f"bench: {a.arch}, batch {a.batch}, {a.size}x{a.size} px, {t0['device']} "
          f"({t0['threads']} threads), {a.steps} steps after {a.warmup} warm-up, torch {t0['torch']}\n")
    def mb(v):
        return f"{v:.0f}" if isinstance(v, (int, float)) and v >= 0 else "-"

    print(f"{'round':<6} {'mode':<6} {'torch img/s':>12} {'xraycls img/s':>14} {'ratio':>7} "
          f"{'torch RSS MB':>13} {'xraycls RSS MB':>15} {'RSS ratio':>10}")
    for i, r in enumerate(rounds):
        for mode in ("train", "infer"):
            if mode not in r["torch"]:
                continue
            t = r["torch"][mode]
            ti, trss = t["images_per_s"], t.get("peak_rss_mb")
            if "xraycls" in r:
                x = r["xraycls"][mode]
                xi, xrss = x["images_per_s"], x.get("peak_rss_mb")
                rr = f"{xrss / trss:.3f}" if trss and trss > 0 and xrss and xrss > 0 else "-"
                print(f"{i + 1:<6} {mode:<6} {ti:>12.2f} {xi:>14.2f} {xi / ti:>7.3f} "
                      f"{mb(trss):>13} {mb(xrss):>15} {rr:>10}")
            else:
                print(f"{i + 1:<6} {mode:<6} {ti:>12.2f} {'-':>14} {'-':>7} {mb(trss):>13} {'-':>15} {'-':>10}")
    if any("xraycls" in r for r in rounds):
        print("\nratio: xraycls images/s / torch's (above 1: xraycls faster); RSS ratio: xraycls peak / "
              "torch's (below 1: xraycls smaller)")


if __name__ == "__main__":
    main()
