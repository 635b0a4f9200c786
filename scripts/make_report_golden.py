#!/usr/bin/python3
"""make_report_golden.py — reference values for tests/report/test_stats.c, from scikit-learn,
statsmodels, scipy and an independent DeLong.

Writes tests/golden/report/stats.json:
  normal      Φ and Φ⁻¹ (scipy.stats.norm)
  beta        I_x(a, b) and its inverse (scipy.special.betainc / betaincinv)
  proportions Wilson and Clopper–Pearson intervals (statsmodels proportion_confint "wilson",
              "beta") at 95% and 90%, including x = 0, x = n and n = 1
  columns     binary cases (scores as float32, labels): continuous scores, scores with ties, a
              single positive, all scores tied, perfect separation, perfectly wrong, two samples.
              For each: roc_auc_score, roc_curve(drop_intermediate=False), precision_recall_curve,
              average_precision_score, brier_score_loss, calibration_curve (uniform and quantile,
              10 and 5 bins; the ECE from those bins), and DeLong's AUC variance computed here
              straight from DeLong, DeLong & Clarke-Pearson (1988) — the O(m·n) kernel ψ(x, y) =
              1, ½, 0 over every (positive, negative) pair — not from midranks (the C code uses
              Sun & Xu's midrank algorithm); a second score column for the paired test.
  temperature logits (300×4) and labels: the T minimising the softmax NLL
              (scipy.optimize.minimize_scalar, bounded), the NLL at T and at 1
  mcnemar     statsmodels.stats.contingency_tables.mcnemar, exact and χ² with correction
  brier_mc    the multi-class Brier score (numpy)

Run: /usr/bin/python3 scripts/make_report_golden.py
"""
import json
import os

import numpy as np
from scipy import optimize, special, stats
from sklearn.calibration import calibration_curve
from sklearn.metrics import (average_precision_score, brier_score_loss, precision_recall_curve,
                             roc_auc_score, roc_curve)
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden", "report")
rng = np.random.default_rng(20140601)


def f32(a):
    """float32 values as the exact doubles the C side reads (it stores float)."""
    return [float(v) for v in np.asarray(a, dtype=np.float32)]


def delong_direct(cols, y):
    """DeLong et al. (1988) eqs. for k score columns: V10_i = mean_j ψ(X_i, Y_j),
    V01_j = mean_i ψ(X_i, Y_j); S10, S01 sample covariances; S = S10/m + S01/n."""
    y = np.asarray(y, bool)
    k = len(cols)
    v10, v01, auc = [], [], []
    for s in cols:
        s = np.asarray(s, np.float64)
        x, z = s[y], s[~y]
        psi = (x[:, None] > z[None, :]).astype(float) + 0.5 * (x[:, None] == z[None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
        auc.append(psi.mean())
    m, n = int(y.sum()), int((~y).sum())
    cov = np.zeros((k, k))
    for r in range(k):
        for q in range(k):
            s10 = np.sum((v10[r] - auc[r]) * (v10[q] - auc[q])) / (m - 1) if m > 1 else 0.0
            s01 = np.sum((v01[r] - auc[r]) * (v01[q] - auc[q])) / (n - 1) if n > 1 else 0.0
            cov[r, q] = s10 / m + s01 / n
    return auc, cov


def ece_from_bins(y, p, n_bins, strategy):
    """ECE = Σ_b n_b/N |frac_pos_b - mean_prob_b| over calibration_curve's bins; the bin counts
    are recomputed with calibration_curve's own rule (searchsorted on the inner edges)."""
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy=strategy)
    if strategy == "quantile":
        bins = np.percentile(p, np.linspace(0, 1, n_bins + 1) * 100)
    else:
        bins = np.linspace(0.0, 1.0, n_bins + 1)
    ids = np.searchsorted(bins[1:-1], p)
    counts = np.bincount(ids, minlength=n_bins)
    counts = counts[counts != 0]
    ece = float(np.sum(counts / len(p) * np.abs(prob_true - prob_pred)))
    return [float(v) for v in prob_true], [float(v) for v in prob_pred], [int(c) for c in counts], ece


def column_case(name, scores, labels, scores_b=None):
    s = np.asarray(f32(scores))
    y = np.asarray(labels, int)
    case = {"name": name, "scores": [float(v) for v in s], "labels": [int(v) for v in y]}
    both = 0 < y.sum() < len(y)
    if both:
        case["auroc"] = float(roc_auc_score(y, s))
        fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
        case["roc"] = {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr],
                       "threshold": [float(v) if np.isfinite(v) else None for v in thr]}
        prec, rec, pthr = precision_recall_curve(y, s)
        case["pr"] = {"precision": [float(v) for v in prec], "recall": [float(v) for v in rec],
                      "threshold": [float(v) for v in pthr]}
        case["average_precision"] = float(average_precision_score(y, s))
        cols = [s] if scores_b is None else [s, np.asarray(f32(scores_b))]
        auc, cov = delong_direct(cols, y)
        case["delong_auc"] = [float(a) for a in auc]
        case["delong_cov"] = [[float(c) for c in row] for row in cov]
        if scores_b is not None:
            case["scores_b"] = f32(scores_b)
            var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
            if var > 0:
                z = (auc[0] - auc[1]) / np.sqrt(var)
                case["delong_z"] = float(z)
                case["delong_p"] = float(2 * stats.norm.sf(abs(z)))
    if s.min() >= 0 and s.max() <= 1:
        case["brier"] = float(brier_score_loss(y, s))
        cal = {}
        for strategy, label in (("uniform", "equal-width"), ("quantile", "equal-mass")):
            for nb in (10, 5):
                pt, pp, cnt, ece = ece_from_bins(y, s, nb, strategy)
                cal[f"{label}-{nb}"] = {"frac_pos": pt, "mean_prob": pp, "count": cnt, "ece": ece}
        case["calibration"] = cal
    return case


def columns():
    cases = []
    n = 300
    y = (rng.random(n) < 0.3).astype(int)
    s = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.2 * y)))
    s2 = 1 / (1 + np.exp(-(rng.normal(size=n) + 0.8 * y + 0.3 * (s - 0.5))))
    cases.append(column_case("continuous", s, y, s2))
    yt = (rng.random(120) < 0.5).astype(int)
    st = np.round(np.clip(0.5 + 0.25 * (yt - 0.5) + rng.normal(scale=0.2, size=120), 0, 1), 1)
    st2 = np.round(np.clip(0.5 + 0.1 * (yt - 0.5) + rng.normal(scale=0.2, size=120), 0, 1), 1)
    cases.append(column_case("ties", st, yt, st2))
    y1 = np.zeros(40, int)
    y1[7] = 1
    cases.append(column_case("single_positive", rng.random(40), y1, rng.random(40)))
    cases.append(column_case("all_tied", np.full(20, 0.25), (np.arange(20) % 3 == 0).astype(int)))
    yp = (np.arange(30) % 2).astype(int)
    cases.append(column_case("perfect", 0.1 + 0.8 * yp + 0.01 * rng.random(30), yp))
    cases.append(column_case("all_wrong", 0.9 - 0.8 * yp + 0.01 * rng.random(30), yp))
    cases.append(column_case("two", [0.3, 0.7], [0, 1], [0.6, 0.4]))
    cases.append(column_case("no_positive", rng.random(10), np.zeros(10, int)))
    cases.append(column_case("single_image", [0.8], [1]))
    return cases


def proportions():
    out = []
    for x, n in ((0, 10), (10, 10), (1, 1), (0, 1), (3, 17), (28, 28), (0, 28), (50, 100), (997, 1000),
                 (1, 5000), (4321, 5000)):
        for level in (0.95, 0.90):
            w = proportion_confint(x, n, alpha=1 - level, method="wilson")
            b = proportion_confint(x, n, alpha=1 - level, method="beta")
            out.append({"x": x, "n": n, "level": level, "wilson": [float(w[0]), float(w[1])],
                        "clopper_pearson": [float(b[0]), float(b[1])]})
    return out


def temperature():
    n, k = 300, 4
    labels = rng.integers(0, k, size=n)
    logits = rng.normal(size=(n, k)) * 1.5
    logits[np.arange(n), labels] += 2.5  # confident and often right: over-confident after ×3
    logits = np.asarray(f32((logits * 3).ravel())).reshape(n, k)

    def nll(t):
        z = logits / t
        z = z - z.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(n), labels]))

    res = optimize.minimize_scalar(nll, bounds=(0.01, 100), method="bounded", options={"xatol": 1e-10})
    return {"n": n, "k": k, "logits": [float(v) for v in logits.ravel()], "labels": [int(v) for v in labels],
            "temperature": float(res.x), "nll_at_t": nll(res.x), "nll_at_1": nll(1.0)}


def mcnemar_cases():
    out = []
    for b, c in ((0, 0), (5, 0), (3, 4), (12, 2), (40, 25), (1, 1), (200, 150)):
        table = [[100, b], [c, 100]]
        e = mcnemar(table, exact=True)
        a = mcnemar(table, exact=False, correction=True)
        out.append({"b": b, "c": c, "exact_stat": float(e.statistic), "exact_p": float(e.pvalue),
                    "chi2_stat": float(a.statistic) if b + c else 0.0, "chi2_p": float(a.pvalue) if b + c else 1.0})
    return out


def brier_mc():
    n, k = 50, 4
    p = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    labels = rng.integers(0, k, size=n)
    pd = p.astype(np.float64)
    onehot = np.eye(k)[labels]
    return {"n": n, "k": k, "probs": [float(v) for v in pd.ravel()], "labels": [int(v) for v in labels],
            "brier": float(np.mean(np.sum((pd - onehot) ** 2, axis=1)))}


def main():
    ps = [1e-12, 1e-6, 0.001, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.95, 0.975, 0.999, 1 - 1e-9]
    zs = [-8, -3, -1.959963984540054, -1, 0, 0.5, 1.644853626951472, 3, 6]
    normal = {"p": ps, "quantile": [float(stats.norm.ppf(p)) for p in ps],
              "z": zs, "cdf": [float(stats.norm.cdf(z)) for z in zs]}
    beta = []
    for a, b, x in ((0.5, 0.5, 0.2), (1, 1, 0.3), (2, 5, 0.1), (2, 5, 0.9), (10, 3, 0.75), (50, 60, 0.45),
                    (1, 4999, 0.0002), (4321, 680, 0.86), (3, 15, 0.05)):
        beta.append({"a": a, "b": b, "x": x, "inc": float(special.betainc(a, b, x)),
                     "q": float(special.betaincinv(a, b, 0.025)), "p": 0.025})
    golden = {"normal": normal, "beta": beta, "proportions": proportions(), "columns": columns(),
              "temperature": temperature(), "mcnemar": mcnemar_cases(), "brier_multiclass": brier_mc()}
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "stats.json")
    with open(path, "w") as f:
        json.dump(golden, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
