#!/usr/bin/python3
"""make_cam_golden.py — reference Grad-CAM and Grad-CAM++ maps computed in PyTorch on
torchvision's models, for tests/predict/test_cam.c. Run with Debian's interpreter:

    /usr/bin/python3 scripts/make_cam_golden.py [out_dir]      # default tests/golden/predict

The weights are the deterministic fill of make_nn_golden.py (fill_state: the C test computes
the same values, tests/nn/nn_golden.h), 3 classes; the input is gen((2, 3, 64, 64), 1000).
The layer's output A is taken with a forward hook on the torchvision module, its gradient with
torch.autograd.grad of the explained logit (the most probable class of each image):

    Grad-CAM    w_k = mean_ij dS/dA_kij
    Grad-CAM++  w_k = sum_ij relu(G) a,  a = G^2 / (2 G^2 + sum_ij(A_k) G^3 + 1e-6), 0 where G == 0
    map = relu(sum_k w_k A_k),   map_input = F.interpolate(map, 64, bilinear, align_corners=False)

(the Grad-CAM++ weights are those of the pytorch-grad-cam package). DenseNet's features.norm5
is hooked with torchvision's forward, whose final ReLU is applied in place: the hook keeps a
clone, and the gradient is taken on the pre-ReLU output, as xraycls does.

Written: cam.safetensors with, per case <arch>/<layer>/<method>: class (int64, (2)), map
(2, h, w), map_input (2, 64, 64) float32; metadata "cases": one "arch layer method" a line.
"""
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nn_golden import fill_state, gen, write_st  # noqa: E402

torch.set_num_threads(2)


def module(model, name):
    m = model
    for part in name.split("."):
        m = getattr(m, part) if not part.isdigit() else m[int(part)]
    return m


def cam_of(model, x, layer, method):
    kept = {}

    def hook(_m, _i, out):
        kept["a"] = out
        # torchvision's DenseNet applies its last ReLU in place on this output: hand on a copy
        return out.clone() if layer == "features.norm5" else out

    h = module(model, layer).register_forward_hook(hook)
    logits = model(x)
    h.remove()
    a = kept["a"]
    cls = logits.argmax(1)
    score = logits.gather(1, cls[:, None]).sum()
    (g,) = torch.autograd.grad(score, a)
    a, g = a.detach().double(), g.double()
    if method == "gradcam":
        w = g.mean((2, 3))
    else:
        g2, g3 = g ** 2, g ** 3
        suma = a.sum((2, 3))
        aij = g2 / (2 * g2 + suma[:, :, None, None] * g3 + 1e-6)
        aij = torch.where(g != 0, aij, torch.zeros_like(aij))
        w = (g.clamp(min=0) * aij).sum((2, 3))
    cam = torch.relu((w[:, :, None, None] * a).sum(1))
    up = F.interpolate(cam[:, None], size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    return cls, cam.float(), up.float()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "predict")
    os.makedirs(out, exist_ok=True)
    x = gen((2, 3, 64, 64), 1000)
    cases = {"resnet18": ["layer4", "layer3", "layer2.1"],
             "densenet121": ["features.norm5", "features.denseblock3", "features.transition2"]}
    r, lines = {}, []
    for arch, layers in cases.items():
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)(num_classes=3)
        fill_state(model)
        model.eval()
        for layer in layers:
            for method in ("gradcam", "gradcam++"):
                cls, cam, up = cam_of(model, x, layer, method)
                key = f"{arch}/{layer}/{method}"
                r[key + "/class"] = cls
                r[key + "/map"] = cam
                r[key + "/map_input"] = up
                lines.append(f"{arch} {layer} {method}")
    write_st(os.path.join(out, "cam.safetensors"), r, {"cases": "\n".join(lines)})


if __name__ == "__main__":
    main()
