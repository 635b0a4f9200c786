#!/usr/bin/python3
"""make_multilabel_golden.py — reference values of the multi-label losses, for
tests/nn/test_loss_multilabel.c. Run with Debian's interpreter (torch 1.13, torchvision 0.14):

    /usr/bin/python3 scripts/make_multilabel_golden.py [out_dir]     # default tests/golden/nn

Writes multilabel_losses.safetensors: logits (8, 5), targets (8, 5) 0/1, a mask (8, 5) with
unknown entries (one row entirely unknown), pos_weight (5), alpha (5), and for each case its
value and its gradient with respect to the logits, computed by PyTorch itself:
  bce_masked*     (F.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction='none')
                   * mask).sum() / mask.sum()   — PyTorch's BCEWithLogitsLoss, masked mean
  focal_masked*   torchvision.ops.sigmoid_focal_loss(x, y, alpha, gamma, reduction='none'),
                  masked and averaged the same way (per-finding alpha: the α term written out
                  as torchvision does, with a vector)
  bce_all_unknown the loss of a batch with no known entry: 0 (denominator max(Σ mask, 1))
"""
import os
import sys

import torch
import torch.nn.functional as F
from torchvision.ops import sigmoid_focal_loss

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nn_golden import gen, write_st  # noqa: E402  (the same deterministic inputs and writer)


def masked_mean(l, mask):
    return (l * mask).sum() / mask.sum().clamp(min=1)


def focal_vec_alpha(x, y, gamma, alpha):
    # torchvision's sigmoid_focal_loss with the scalar alpha replaced by a per-column vector
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    alpha_t = alpha * y + (1 - alpha) * (1 - y)
    return alpha_t * loss


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "nn")
    os.makedirs(out, exist_ok=True)
    logits = (4 * gen((8, 5), 4000)).requires_grad_(True)
    target = (gen((8, 5), 4001) > 0).to(torch.float32)
    mask = (gen((8, 5), 4002) > -0.5).to(torch.float32)
    mask[3] = 0  # an image with every finding unknown
    pos_weight = torch.tensor([1.0, 2.5, 0.5, 4.0, 1.5])
    alpha = torch.tensor([0.25, 0.5, 0.75, 0.1, 0.9])
    ones = torch.ones_like(mask)
    r = {"logits": logits, "target": target, "mask": mask, "pos_weight": pos_weight, "alpha": alpha}
    cases = {
        "bce_masked": lambda x: masked_mean(
            F.binary_cross_entropy_with_logits(x, target, reduction="none"), mask),
        "bce_masked_pos_weight": lambda x: masked_mean(
            torch.nn.BCEWithLogitsLoss(reduction="none", pos_weight=pos_weight)(x, target), mask),
        "bce_unmasked": lambda x: torch.nn.BCEWithLogitsLoss()(x, target),
        "focal_masked_g2": lambda x: masked_mean(
            sigmoid_focal_loss(x, target, alpha=-1, gamma=2.0, reduction="none"), mask),
        "focal_masked_g2_a025": lambda x: masked_mean(
            sigmoid_focal_loss(x, target, alpha=0.25, gamma=2.0, reduction="none"), mask),
        "focal_masked_g05_alpha": lambda x: masked_mean(focal_vec_alpha(x, target, 0.5, alpha), mask),
        "focal_unmasked_g0": lambda x: masked_mean(
            sigmoid_focal_loss(x, target, alpha=-1, gamma=0.0, reduction="none"), ones),
        "bce_all_unknown": lambda x: masked_mean(
            F.binary_cross_entropy_with_logits(x, target, reduction="none"), torch.zeros_like(mask)),
    }
    for name, fn in cases.items():
        logits.grad = None
        v = fn(logits)
        v.backward()
        r[f"{name}/value"] = v.detach().reshape(1)
        r[f"{name}/grad"] = logits.grad.clone()
    write_st(os.path.join(out, "multilabel_losses.safetensors"), r, {"what": "masked multi-label losses"})


if __name__ == "__main__":
    main()
