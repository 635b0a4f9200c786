#!/usr/bin/python3
"""make_train_golden.py — reference numbers for tests/train/test_schedule.c, from PyTorch.

Writes tests/golden/train/adam_steplr.json: a tiny least-squares problem (fixed X, y, w0),
trained with torch.optim.Adam under torch.optim.lr_scheduler.StepLR stepped once per epoch,
with the learning rate of every epoch and the weights after every step; and the StepLR and
CosineAnnealingLR learning rates of the paper's schedule over 30 epochs.

Run with Debian's torch: /usr/bin/python3 scripts/make_train_golden.py
"""
import json
import os

import torch

torch.set_default_dtype(torch.float32)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "train")

# The problem: 4 samples, 3 features, weights w (3) and a bias b (1).
X = [[1.0, 2.0, -1.0], [0.5, -1.5, 2.0], [-2.0, 0.25, 1.0], [1.5, 1.0, 0.5]]
Y = [1.0, -2.0, 0.5, 3.0]
W0 = [0.1, -0.2, 0.3]
B0 = [0.05]
LR, BETAS, EPS, WD = 0.1, (0.9, 0.999), 1e-8, 0.01
STEP_SIZE, GAMMA, EPOCHS, STEPS_PER_EPOCH = 2, 0.5, 5, 3


def trajectory():
    x = torch.tensor(X)
    y = torch.tensor(Y)
    w = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=STEP_SIZE, gamma=GAMMA)
    lrs, losses, ws, bs = [], [], [], []
    for _ in range(EPOCHS):
        lrs.append(opt.param_groups[0]["lr"])
        for _ in range(STEPS_PER_EPOCH):
            opt.zero_grad(set_to_none=True)
            loss = ((x @ w + b - y) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            ws.append(w.detach().tolist())
            bs.append(b.detach().tolist())
        sched.step()
    return lrs, losses, ws, bs


def schedule_values(kind, epochs, lr=1e-3, **kw):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr)
    if kind == "step":
        s = torch.optim.lr_scheduler.StepLR(opt, step_size=kw["step_size"], gamma=kw["gamma"])
    else:
        s = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=kw["t_max"], eta_min=kw["eta_min"])
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        s.step()
    return out


def main():
    lrs, losses, ws, bs = trajectory()
    doc = {
        "torch": torch.__version__,
        "X": X, "y": Y, "w0": W0, "b0": B0,
        "lr": LR, "betas": list(BETAS), "eps": EPS, "weight_decay": WD,
        "step_size": STEP_SIZE, "gamma": GAMMA, "epochs": EPOCHS,
        "steps_per_epoch": STEPS_PER_EPOCH,
        "epoch_lr": lrs, "loss": losses, "w": ws, "b": bs,
        "paper_step_lr": schedule_values("step", 30, step_size=10, gamma=0.5),
        "cosine_lr": schedule_values("cosine", 20, t_max=20, eta_min=1e-5),
    }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "adam_steplr.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
