#!/usr/bin/python3
"""make_nn_golden.py — reference outputs of torchvision's ResNet/DenseNet and of the losses, for
the golden tests in tests/nn/. Run with Debian's interpreter (torch 1.13, torchvision 0.14):

    /usr/bin/python3 scripts/make_nn_golden.py [out_dir]     # default tests/golden/nn

No weight file is committed: every state entry is filled with values that the C tests compute
identically (tests/nn/nn_golden.h). For the k-th entry of the state_dict (0-based, parameters
and buffers in state_dict order) with n elements, u_j (j = 0..n-1) is an integer hash of (j, k)
mapped to [-1, 1) (see hash_u: exact in int64 arithmetic, so C and torch agree bit for bit),
and

    num_batches_tracked      0
    running_var              0.5 + 0.25 (1 + u)
    running_mean             0.1 u
    weight of rank 1 (BN)    1 + 0.2 u
    bias                     0.1 u
    weight of rank >= 2      sqrt(6 / fan_in) u             (fan_in = numel / shape[0])

computed in float64 and rounded to float32. Inputs are u with k = 1000 (+1 for a second input), the gradient probe
of the block tests k = 2000.

Files written (safetensors, written here with struct + json):
  resnet50.safetensors, densenet121.safetensors  3 classes, input (2, 3, 64, 64):
      eval/logits, train/logits, train/<bn>.running_mean|running_var (a few BNs), loss/ce and
      loss/focal (gamma 2) of train/logits for targets (0, 2), grad/<head>.weight, grad/<stem
      conv>.weight, and per parameter of named_parameters() order: gradstat/sum, gradstat/abs_sum,
      gradstat/norm (float64). Metadata "state": one line per state_dict entry,
      "name dtype d0,d1,…"; "params": the parameter names, one a line.
  blocks.safetensors  a Bottleneck, a BasicBlock, a _DenseLayer and a _Transition alone:
      <block>/eval, <block>/train, <block>/grad/<param>, <block>/grad/input[0|1], and the first
      BN's running stats after the training pass; the backward is of sum(train_out * probe).
  archs.txt  per architecture (1000 classes): "arch state_entries parameter_elements
      head_in_features".
  losses.safetensors  logits (8, 4), target (8), weight/alpha/pos_weight (4), multi-hot (8, 4),
      and the values and logit gradients of CE, weighted CE, focal (gamma 2, 0.5, with alpha),
      BCE with logits (plain and with pos_weight).
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.densenet import _DenseLayer, _Transition
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

torch.set_num_threads(2)
DT = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def hash_u(n, k):
    """u_j in [-1, 1): a 32-bit integer hash of (j, k), every step exact in int64."""
    m = 0xFFFFFFFF
    h = (torch.arange(n, dtype=torch.int64) * 2654435761 + k * 40503 + 12345) & m
    for _ in range(2):
        h = h ^ (h >> 16)
        h = (h * 0x45D9F3B) & m
    h = h ^ (h >> 16)
    return h.to(torch.float64) / 2147483648.0 - 1.0


def fill_state(module):
    """Fills every state_dict entry as described above (the C tests do the same)."""
    sd = module.state_dict()
    with torch.no_grad():
        for k, (name, t) in enumerate(sd.items()):
            n = t.numel()
            if name.endswith("num_batches_tracked"):
                t.zero_()
                continue
            b = hash_u(n, k)
            if name.endswith("running_var"):
                v = 0.5 + 0.25 * (1 + b)
            elif name.endswith("running_mean"):
                v = 0.1 * b
            elif name.endswith("bias"):
                v = 0.1 * b
            elif t.dim() == 1:
                v = 1 + 0.2 * b
            else:
                v = math.sqrt(6.0 / (n / t.shape[0])) * b
            t.copy_(v.reshape(t.shape).to(t.dtype))


def gen(shape, k):
    n = 1
    for s in shape:
        n *= s
    return hash_u(n, k).reshape(shape).to(torch.float32)


def write_st(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def focal(logits, target, gamma, alpha=None):
    lp = F.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
    l = (1 - lp.exp()) ** gamma * lp
    if alpha is not None:
        l = alpha[target] * l
    return -l.mean()


def full_model(arch, head, stem, bns, out):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=3)
    fill_state(model)
    sd = model.state_dict()
    state = "\n".join(f"{n} {DT[t.dtype]} {','.join(str(s) for s in t.shape)}" for n, t in sd.items())
    params = [n for n, _ in model.named_parameters()]
    x = gen((2, 3, 64, 64), 1000)
    target = torch.tensor([0, 2])
    r = {}
    model.eval()
    with torch.no_grad():
        r["eval/logits"] = model(x)
    model.train()
    logits = model(x)
    r["train/logits"] = logits
    for bn in bns:
        r[f"train/{bn}.running_mean"] = sd[f"{bn}.running_mean"].clone()
        r[f"train/{bn}.running_var"] = sd[f"{bn}.running_var"].clone()
    ce = F.cross_entropy(logits, target)
    r["loss/ce"] = ce.detach().reshape(1)
    r["loss/focal"] = focal(logits.detach(), target, 2.0).reshape(1)
    ce.backward()
    named = dict(model.named_parameters())
    r[f"grad/{head}.weight"] = named[f"{head}.weight"].grad
    r[f"grad/{stem}"] = named[stem].grad
    g = [named[n].grad.double() for n in params]
    r["gradstat/sum"] = torch.stack([t.sum() for t in g])
    r["gradstat/abs_sum"] = torch.stack([t.abs().sum() for t in g])
    r["gradstat/norm"] = torch.stack([t.norm() for t in g])
    write_st(os.path.join(out, f"{arch}.safetensors"), r,
             {"arch": arch, "state": state, "params": "\n".join(params)})


def block(name, module, inputs, r):
    fill_state(module)
    bn = next(n for n, m in module.named_modules() if isinstance(m, torch.nn.BatchNorm2d))
    xs = [gen(s, 1000 + i) for i, s in enumerate(inputs)]
    arg = xs if len(xs) > 1 else xs[0]
    module.eval()
    with torch.no_grad():
        r[f"{name}/eval"] = module(arg)
    module.train()
    for x in xs:
        x.requires_grad_(True)
    y = module(arg)
    r[f"{name}/train"] = y
    sd = module.state_dict()
    r[f"{name}/{bn}.running_mean"] = sd[f"{bn}.running_mean"].clone()
    r[f"{name}/{bn}.running_var"] = sd[f"{bn}.running_var"].clone()
    (y * gen(tuple(y.shape), 2000)).sum().backward()
    for n, p in module.named_parameters():
        r[f"{name}/grad/{n}"] = p.grad
    for i, x in enumerate(xs):
        r[f"{name}/grad/input{i}"] = x.grad


def blocks(out):
    r = {}
    down = torch.nn.Sequential(conv1x1(32, 64, 2), torch.nn.BatchNorm2d(64))
    block("bottleneck", Bottleneck(32, 16, 2, down), [(2, 32, 8, 8)], r)
    down = torch.nn.Sequential(conv1x1(16, 32, 2), torch.nn.BatchNorm2d(32))
    block("basic", BasicBlock(16, 32, 2, down), [(2, 16, 8, 8)], r)
    block("denselayer", _DenseLayer(24, 8, 4, 0.0), [(2, 8, 6, 6), (2, 16, 6, 6)], r)
    block("transition", _Transition(24, 12), [(2, 24, 6, 6)], r)
    write_st(os.path.join(out, "blocks.safetensors"), r, {"what": "single blocks"})


def losses(out):
    logits = (3 * gen((8, 4), 3000)).requires_grad_(True)
    target = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    weight = torch.tensor([0.5, 1.0, 2.0, 3.0])
    alpha = torch.tensor([0.25, 0.5, 0.75, 1.0])
    pos_weight = torch.tensor([1.0, 2.0, 0.5, 3.0])
    multi = (gen((8, 4), 3001) > 0).to(torch.float32)
    r = {"logits": logits, "target": target, "weight": weight, "alpha": alpha,
         "pos_weight": pos_weight, "multi": multi}
    cases = {
        "ce": lambda x: F.cross_entropy(x, target),
        "ce_weighted": lambda x: F.cross_entropy(x, target, weight=weight),
        "focal_g2": lambda x: focal(x, target, 2.0),
        "focal_g05_alpha": lambda x: focal(x, target, 0.5, alpha),
        "focal_g2_alpha": lambda x: focal(x, target, 2.0, alpha),
        "bce": lambda x: F.binary_cross_entropy_with_logits(x, multi),
        "bce_pos_weight": lambda x: F.binary_cross_entropy_with_logits(x, multi, pos_weight=pos_weight),
    }
    for name, fn in cases.items():
        logits.grad = None
        v = fn(logits)
        v.backward()
        r[f"{name}/value"] = v.detach().reshape(1)
        r[f"{name}/grad"] = logits.grad.clone()
    write_st(os.path.join(out, "losses.safetensors"), r, {"what": "losses"})


def archs(out):
    lines = []
    for arch in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                 "densenet121", "densenet161", "densenet169", "densenet201"]:
        m = getattr(torchvision.models, arch)()
        head = m.fc if arch.startswith("resnet") else m.classifier
        numel = sum(p.numel() for p in m.parameters())
        lines.append(f"{arch} {len(m.state_dict())} {numel} {head.in_features}\n")
    with open(os.path.join(out, "archs.txt.tmp"), "w") as f:
        f.writelines(lines)
    os.replace(os.path.join(out, "archs.txt.tmp"), os.path.join(out, "archs.txt"))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "nn")
    os.makedirs(out, exist_ok=True)
    archs(out)
    losses(out)
    blocks(out)
    full_model("resnet50", "fc", "conv1.weight", ["bn1", "layer1.0.bn1", "layer4.2.bn3"], out)
    full_model("densenet121", "classifier", "features.conv0.weight",
               ["features.norm0", "features.denseblock2.denselayer3.norm2", "features.norm5"], out)


if __name__ == "__main__":
    main()
