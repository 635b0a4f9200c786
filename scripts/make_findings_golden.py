#!/usr/bin/python3
"""make_findings_golden.py — reference values for tests/report/test_metrics_findings.c, the
per-finding evaluation of multi-label models, from scikit-learn and statsmodels.

Writes tests/golden/report/findings.json: a "val" and a "test" split of float32 probabilities
(n, 4) with 0/1 labels and a mask of known entries (finding 3 has no known positive in val, so
its threshold falls back to 0.5; finding 2 has many unknowns), and for the test split, with the
thresholds chosen on val by Youden's J (argmax of tpr − fpr over roc_curve(drop_intermediate=False),
the first — highest — threshold on ties):
  per finding  positives, negatives, unknown; roc_auc_score and average_precision_score of the
               known entries; DeLong's standard error (the direct O(m·n) formula of
               make_report_golden.py); tp/fp/tn/fn at the threshold (score >= t);
               sensitivity and specificity with statsmodels' Wilson intervals (95 %)
  macro        the mean over findings where defined; micro: roc_auc_score and
               average_precision_score of all known entries pooled, and the pooled counts
  full_mask    a split with every entry known: sklearn's average="micro" and "macro" AUROC/AP,
               which must equal the pooled / mean values

Run: /usr/bin/python3 scripts/make_findings_golden.py
"""
import json
import os
import sys

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from statsmodels.stats.proportion import proportion_confint

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_report_golden import delong_direct  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "report")
rng = np.random.default_rng(15)
K = 4


def split(n, known_p):
    y = (rng.random((n, K)) < 0.4).astype(np.uint8)
    logit = rng.normal(size=(n, K)) + 1.6 * (2.0 * y - 1.0) * np.array([1.0, 0.6, 0.3, 1.2])
    p = (1 / (1 + np.exp(-logit))).astype(np.float32)
    p = np.round(p * 50) / 50  # ties
    p = p.astype(np.float32)
    mask = (rng.random((n, K)) < known_p).astype(np.uint8)
    y = y * mask
    return p, y, mask


def youden(s, y):
    if y.sum() == 0 or y.sum() == len(y):
        return None
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    return float(thr[int(np.argmax(tpr - fpr))])


def main():
    pv, yv, mv = split(60, np.array([1.0, 0.9, 0.5, 1.0]))
    yv[:, 3] = 0  # no known positive of finding 3 in val
    pt, yt, mt = split(80, np.array([1.0, 0.9, 0.5, 1.0]))
    thr, chosen = [], []
    for k in range(K):
        m = mv[:, k] == 1
        t = youden(pv[m, k].astype(np.float64), yv[m, k])
        thr.append(0.5 if t is None else t)
        chosen.append(t is not None)
    per = []
    tot = np.zeros(4, np.int64)
    for k in range(K):
        m = mt[:, k] == 1
        s, y = pt[m, k].astype(np.float64), yt[m, k]
        auc, cov = delong_direct([s], y)
        pred = s >= thr[k]
        tp, fp = int((pred & (y == 1)).sum()), int((pred & (y == 0)).sum())
        tn, fn = int((~pred & (y == 0)).sum()), int((~pred & (y == 1)).sum())
        tot += [tp, fp, tn, fn]
        per.append({
            "positives": int(y.sum()), "negatives": int((y == 0).sum()), "unknown": int((~m).sum()),
            "auroc": float(roc_auc_score(y, s)), "auroc_se": float(np.sqrt(cov[0, 0])),
            "ap": float(average_precision_score(y, s)), "tp": tp, "fp": fp, "tn": tn, "fn": fn,
            "sensitivity": [tp / (tp + fn), *proportion_confint(tp, tp + fn, 0.05, "wilson")],
            "specificity": [tn / (tn + fp), *proportion_confint(tn, tn + fp, 0.05, "wilson")],
        })
    known = mt == 1
    out = {
        "k": K,
        "val": {"probs": pv.ravel().tolist(), "targets": yv.ravel().tolist(), "mask": mv.ravel().tolist(), "n": 60},
        "test": {"probs": pt.ravel().tolist(), "targets": yt.ravel().tolist(), "mask": mt.ravel().tolist(), "n": 80},
        "thresholds": thr, "chosen": chosen, "per_finding": per,
        "macro_auroc": float(np.mean([p["auroc"] for p in per])),
        "macro_ap": float(np.mean([p["ap"] for p in per])),
        "micro_auroc": float(roc_auc_score(yt[known], pt[known].astype(np.float64))),
        "micro_ap": float(average_precision_score(yt[known], pt[known].astype(np.float64))),
        "micro_sensitivity": float(tot[0] / (tot[0] + tot[3])),
        "micro_specificity": float(tot[2] / (tot[2] + tot[1])),
    }
    pf, yf, _ = split(50, np.ones(K))
    out["full_mask"] = {
        "probs": pf.ravel().tolist(), "targets": yf.ravel().tolist(), "n": 50,
        "micro_auroc": float(roc_auc_score(yf, pf.astype(np.float64), average="micro")),
        "macro_auroc": float(roc_auc_score(yf, pf.astype(np.float64), average="macro")),
        "micro_ap": float(average_precision_score(yf, pf.astype(np.float64), average="micro")),
        "macro_ap": float(average_precision_score(yf, pf.astype(np.float64), average="macro")),
    }
    os.makedirs(OUT, exist_ok=True)
    tmp = os.path.join(OUT, "findings.json.tmp")
    with open(tmp, "w") as f:
        json.dump(out, f)
    os.replace(tmp, os.path.join(OUT, "findings.json"))


if __name__ == "__main__":
    main()
