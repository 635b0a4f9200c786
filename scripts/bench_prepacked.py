#!/usr/bin/python3
"""bench_prepacked.py — is there a faster CPU inference path in libtorch than the one xraycls
takes? ResNet-50 eval forward with batch norm folded and every convolution run through oneDNN's
prepacked convolution with ReLU fused into it (torch.ops.mkldnn_prepacked.conv2d_prepack /
conv2d_run, the ops PyTorch's own graph fusion uses), against TorchScript freeze +
optimize_for_inference and, with --xraycls, `xraycls bench --mode infer` in alternation:

    /usr/bin/python3 scripts/bench_prepacked.py --batch 16 --rounds 2 --xraycls build/xraycls

Random weights (the arithmetic does not depend on them), 224 px, 2 threads unless --threads.
Prints images/s per round and the ratios to the frozen path.
"""
import argparse
import json
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F
import torchvision


def folded(conv, bn):
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w = (conv.weight * s[:, None, None, None]).contiguous()
    return w.detach(), (bn.bias - bn.running_mean * s).detach()


def prepacked_forward(m, x):
    """A forward function over prepacked, ReLU-fused convolutions, and the conv input shapes."""
    shapes = {}
    hooks = []
    for name, mod in m.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(
                lambda _m, inp, _o, name=name: shapes.__setitem__(name, list(inp[0].shape))))
    with torch.no_grad():
        m(x)
    for h in hooks:
        h.remove()
    P = torch.ops.mkldnn_prepacked

    def pack(conv, bn, name, relu):
        w, b = folded(conv, bn)
        return P.conv2d_prepack(w, b, list(conv.stride), list(conv.padding), list(conv.dilation),
                                conv.groups, shapes[name], "relu" if relu else "none")

    stem = pack(m.conv1, m.bn1, "conv1", True)
    blocks = []
    for li in range(1, 5):
        for bi, blk in enumerate(getattr(m, f"layer{li}")):
            p = f"layer{li}.{bi}"
            ds = blk.downsample
            blocks.append((pack(blk.conv1, blk.bn1, p + ".conv1", True),
                           pack(blk.conv2, blk.bn2, p + ".conv2", True),
                           pack(blk.conv3, blk.bn3, p + ".conv3", False),
                           pack(ds[0], ds[1], p + ".downsample.0", False) if ds is not None else None))

    def fwd(inp):
        y = F.max_pool2d(P.conv2d_run(inp, stem), 3, 2, 1)
        for c1, c2, c3, d in blocks:
            o = P.conv2d_run(P.conv2d_run(P.conv2d_run(y, c1), c2), c3)
            o += P.conv2d_run(y, d) if d is not None else y
            y = o.relu_()
        return m.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))
    return fwd


def images_per_s(f, x, batch, steps):
    f(x)
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        f(x)
        ts.append(time.perf_counter() - t0)
    return batch / statistics.median(ts)


def xraycls_images_per_s(binary, batch, steps, threads):
    cmd = [binary, "bench", "--arch", "resnet50", "--mode", "infer", "--batch", str(batch),
           "--steps", str(steps), "--warmup", "1", "--threads", str(threads), "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout)["infer"]["images_per_s"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--xraycls", help="path of the xraycls binary: measure it in the same run")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = torchvision.models.resnet50().eval()
    x = torch.randn(a.batch, 3, 224, 224)
    xcl = x.contiguous(memory_format=torch.channels_last)
    fwd = prepacked_forward(m, x)
    frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(m)))
    with torch.no_grad():
        diff = (fwd(xcl) - m(x)).abs().max().item()
        print(f"resnet50, batch {a.batch}, 224 px, {a.threads} threads, torch {torch.__version__}; "
              f"prepacked logits within {diff:.2g} of eager\n")
        print(f"{'round':<6} {'frozen':>8} {'prepacked+relu':>15} {'ratio':>6} {'xraycls':>8} {'ratio':>6}")
        for r in range(a.rounds):
            fz = images_per_s(frozen, x, a.batch, a.steps)
            pp = images_per_s(fwd, xcl, a.batch, a.steps)
            xr = xraycls_images_per_s(a.xraycls, a.batch, a.steps, a.threads) if a.xraycls else None
            xs = f"{xr:>8.2f} {xr / fz:>6.3f}" if xr else f"{'-':>8} {'-':>6}"
            print(f"{r + 1:<6} {fz:>8.2f} {pp:>15.2f} {pp / fz:>6.3f} {xs}")
    print("\nimages/s; ratios are to the frozen path's (above 1: faster)")


if __name__ == "__main__":
    main()
