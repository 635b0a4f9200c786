#!/usr/bin/env python3
"""bench_eval_cost.py — what `eval` costs beyond the forward pass, xraycls against the same work
in scikit-learn / statsmodels / NumPy, in one command on one core:

    taskset -c 0 /usr/bin/python3 scripts/bench_eval_cost.py --xraycls-bench build/tests/bench_eval_cost

The Python side does what eval does on N images x K classes (default 5,000 x 4, CoronaHack-like
imbalance): accuracy, per-class precision / recall / specificity / NPV with Wilson intervals
(statsmodels), per-class one-vs-rest AUROC (roc_auc_score) with DeLong's interval (the fast
midrank algorithm of Sun & Xu in NumPy), average precision, the bootstrap (B resamples) of macro
F1 and balanced accuracy, ROC and PR points (roc_curve, precision_recall_curve), reliability
bins (calibration_curve, both schemes), the Brier score, Youden thresholds on a second split,
and predictions.csv / roc.csv / pr.csv written with the csv module. It prints its seconds, runs
the C benchmark (same sizes) and prints the ratio.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def scores(rng, n, k):
    share = np.array([0.40, 0.35, 0.22, 0.03]) if k == 4 else np.full(k, 1.0 / k)
    y = rng.choice(k, size=n, p=share / share.sum())
    z = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    p = np.exp(z - z.max(1, keepdims=True))
    return y, z, p / p.sum(1, keepdims=True)


def midrank(x):
    j = np.argsort(x, kind="mergesort")
    z = x[j]
    n = len(x)
    t = np.zeros(n)
    i = 0
    while i < n:
        e = i
        while e < n and z[e] == z[i]:
            e += 1
        t[i:e] = 0.5 * (i + e - 1) + 1
        i = e
    out = np.empty(n)
    out[j] = t
    return out


def delong_ci(score, pos):
    from scipy.stats import norm
    x, yv = score[pos], score[~pos]
    m, n = len(x), len(yv)
    tx, ty, tz = midrank(x), midrank(yv), midrank(np.concatenate([x, yv]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    v01, v10 = (tz[:m] - tx) / n, 1 - (tz[m:] - ty) / m
    se = np.sqrt(np.var(v01, ddof=1) / m + np.var(v10, ddof=1) / n)
    q = norm.ppf(0.975)
    return auc, max(0, auc - q * se), min(1, auc + q * se)


def python_eval(n, k, boot, out):
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import (average_precision_score, balanced_accuracy_score, brier_score_loss, f1_score,
                                 precision_recall_curve, roc_auc_score, roc_curve)
    from statsmodels.stats.proportion import proportion_confint
    rng = np.random.default_rng(7)
    y, z, p = scores(rng, n, k)
    vy, _, vp = scores(rng, n, k)
    t0 = time.perf_counter()
    pred = p.argmax(1)
    res = {"accuracy": (pred == y).mean(), "acc_ci": proportion_confint((pred == y).sum(), n, method="wilson")}
    for c in range(k):
        pos, hit = y == c, pred == c
        tp, fp, fn, tn = (pos & hit).sum(), (~pos & hit).sum(), (pos & ~hit).sum(), (~pos & ~hit).sum()
        for x, tot in ((tp, tp + fp), (tp, tp + fn), (tn, tn + fp), (tn, tn + fn)):
            if tot:
                proportion_confint(x, tot, method="wilson")
        if 0 < pos.sum() < n:
            roc_auc_score(pos, p[:, c])
            delong_ci(p[:, c], pos)
            average_precision_score(pos, p[:, c])
    res["brier"] = np.mean(((p - np.eye(k)[y]) ** 2).sum(1))
    brier_score_loss(y == 0, p[:, 0])
    idx = rng.integers(0, n, size=(boot, n))
    for b in range(boot):
        yy, pp = y[idx[b]], pred[idx[b]]
        f1_score(yy, pp, average="macro", labels=range(k), zero_division=0)
        balanced_accuracy_score(yy, pp)
    t1 = time.perf_counter()
    for c in range(k):
        vpos = vy == c
        fpr, tpr, thr = roc_curve(vpos, vp[:, c], drop_intermediate=False)
        t = thr[np.argmax(tpr - fpr)]
        ((p[:, c] >= t) & (y == c)).sum()
    t2 = time.perf_counter()
    with open(os.path.join(out, "predictions.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "path", "label", "predicted"] + ["prob:%d" % c for c in range(k)] +
                   ["logit:%d" % c for c in range(k)])
        for i in range(n):
            w.writerow([i, "test/c/person%d_image.jpeg" % i, y[i], pred[i]] + ["%.9g" % v for v in p[i]] +
                       ["%.9g" % v for v in z[i]])
    with open(os.path.join(out, "roc.csv"), "w", newline="") as f, open(os.path.join(out, "pr.csv"), "w",
                                                                        newline="") as g:
        wr, wp = csv.writer(f), csv.writer(g)
        for c in range(k):
            fpr, tpr, thr = roc_curve(y == c, p[:, c], drop_intermediate=False)
            wr.writerows(zip([c] * len(thr), thr, fpr, tpr))
            pr, rc, th = precision_recall_curve(y == c, p[:, c])
            wp.writerows(zip([c] * len(th), th, pr, rc))
    conf, right = p.max(1), pred == y
    for strategy in ("uniform", "quantile"):
        calibration_curve(right, conf, n_bins=15, strategy=strategy)
        for c in range(k):
            calibration_curve(y == c, p[:, c], n_bins=15, strategy=strategy)
    t3 = time.perf_counter()
    return t1 - t0, t2 - t1, t3 - t2, t3 - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--xraycls-bench", default="build/tests/bench_eval_cost")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        m, o, f, total = python_eval(a.n, a.k, a.bootstrap, out)
    print("python (scikit-learn, statsmodels, NumPy): %d images x %d classes, bootstrap %d" % (a.n, a.k, a.bootstrap))
    print("  metrics and intervals %8.3f s\n  operating points      %8.3f s\n  files and curves      %8.3f s\n"
          "  total                 %8.3f s" % (m, o, f, total))
    r = subprocess.run([a.xraycls_bench, str(a.n), str(a.k), str(a.bootstrap)], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench_eval_cost failed: " + r.stderr)
    print(r.stdout, end="")
    lines = r.stdout.splitlines()
    x = float([l for l in lines if l.strip().startswith("total")][0].split()[-2])
    fig = [float(l.split()[-2]) for l in lines if "figures (cairo)" in l]
    x -= fig[0] if fig else 0.0
    print("xraycls without its figures (the Python side draws none): %.3f s, %.1fx faster than the Python "
          "equivalent" % (x, total / x))


if __name__ == "__main__":
    main()
