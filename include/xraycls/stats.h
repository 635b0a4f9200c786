/* xraycls/stats.h — the statistics of an evaluation a paper can report: intervals for
 * proportions, DeLong's AUROC variance and paired test, ROC and precision–recall curves,
 * operating points, calibration (reliability bins, ECE, Brier, temperature) and McNemar's test.
 *
 * What it is: small, exact, torch-free functions over score columns and 0/1 outcomes; the
 * definitions and references are in docs/METRICS.md. What it is not: the per-split metric set of
 * `eval` (xraycls/metrics.h builds on these) or writing files (xraycls/report.h).
 *
 * Conventions
 *   score column  element i of a column is scores[i * stride] (stride 1 for a plain array, K for
 *                 column c of an (N, K) row-major matrix passed as scores + c). No NaN.
 *   positive      (n) bytes, 1 = the sample belongs to the class (one-vs-rest), 0 = it does not.
 *   decision      a sample is called positive at threshold t when its score is >= t.
 *   level         two-sided interval coverage in (0, 1), e.g. 0.95.
 * Failure: -1 with the message in xc_error() (bad sizes, NaN, out of memory). A quantity that is
 * undefined for the data (no positives, no negatives, n = 0) is not a failure where said: those
 * functions return 1 without a message.
 */
#ifndef XRAYCLS_STATS_H
#define XRAYCLS_STATS_H

#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- distributions ------------------------------------------------------------------------ */

/* The standard normal CDF Φ(z) and its quantile Φ⁻¹(p) (Wichura's AS 241, |error| < 1e-15);
 * p outside (0, 1) gives ∓inf. */
double xc_normal_cdf(double z);
double xc_normal_quantile(double p);

/* The regularized incomplete beta function I_x(a, b) (a, b > 0, x in [0, 1]; continued fraction,
 * relative error ~1e-14) and its inverse in x (bisection to 1e-15). */
double xc_beta_inc(double a, double b, double x);
double xc_beta_quantile(double p, double a, double b);

/* ---- intervals ---------------------------------------------------------------------------- */

typedef enum {
    XC_CI_NONE = 0,
    XC_CI_WILSON,          /* Wilson score interval (proportions) */
    XC_CI_CLOPPER_PEARSON, /* exact binomial interval (proportions) */
    XC_CI_DELONG,          /* AUROC ± z·SE with DeLong's variance, clipped to [0, 1] */
    XC_CI_BOOTSTRAP,       /* stratified percentile bootstrap (xraycls/metrics.h) */
    XC_CI_WALD_PAIRED      /* difference of paired proportions ± z·SE (compare) */
} xc_ci_method;

/* "wilson", "clopper-pearson", "delong", "bootstrap-percentile", "wald-paired", "none". */
const char *xc_ci_method_name(xc_ci_method m);

/* The interval of the proportion x/n (0 <= x <= n, n >= 1) by Wilson or Clopper–Pearson (at x = 0
 * the lower end is exactly 0, at x = n the upper end is exactly 1). Returns 0, or 1 when n = 0
 * (undefined, no message), -1 on bad arguments. */
int xc_proportion_ci(int64_t x, int64_t n, double level, xc_ci_method method, double *lo, double *hi);

/* ---- DeLong ------------------------------------------------------------------------------- */

/* AUROC of k score columns of the same n samples and the covariance of their estimates by
 * DeLong, DeLong & Clarke-Pearson (1988), computed with the O(k·n log n) algorithm of Sun & Xu
 * (2014): midranks of the positives, of the negatives and of all samples give the placement
 * values V10 (per positive) and V01 (per negative); AUC_r = mean(V10_r),
 * S = S10 / m + S01 / n with S10, S01 the sample covariance matrices (divisor m-1, n-1).
 * cols[r] is column r (stride as above); auc (k) and cov (k×k, may be NULL) are filled.
 * Returns 0; 1 (no message) when the data has no positive or no negative; -1 on bad input.
 * With a single positive or negative the corresponding term of the variance is 0. */
int xc_delong(const float *const *cols, int k, int64_t stride, const uint8_t *positive, int64_t n,
              double *auc, double *cov);

/* One AUROC with its DeLong interval. Returns as xc_delong. */
int xc_delong_ci(const float *scores, int64_t stride, const uint8_t *positive, int64_t n, double level,
                 double *auc, double *se, double *lo, double *hi);

/* DeLong's test of AUC_a - AUC_b on the same samples. */
typedef struct {
    double auc_a, auc_b, diff; /* diff = auc_a - auc_b */
    double se;                 /* sqrt(var_a + var_b - 2 cov) */
    double z, p_value;         /* two-sided; z = 0, p = 1 when se = 0 and diff = 0 */
    double ci_low, ci_high;    /* diff ± z_{level}·se */
} xc_delong_test;

int xc_delong_paired(const float *a, int64_t stride_a, const float *b, int64_t stride_b,
                     const uint8_t *positive, int64_t n, double level, xc_delong_test *out);

/* ---- curves ------------------------------------------------------------------------------- */

/* The ROC / precision–recall points of one score column: point 0 is threshold +inf (nothing called
 * positive), then one point per distinct score in descending order, holding the counts of
 * positives (tp) and negatives (fp) with score >= threshold. From them: tpr = recall = tp/npos,
 * fpr = fp/nneg, precision = tp/(tp+fp) (point 0: 1 by convention, as scikit-learn's last PR point).
 * Owned by the caller: xc_curve_free. */
typedef struct {
    int64_t n;            /* points (distinct scores + 1) */
    double *threshold;    /* (n) */
    int64_t *tp, *fp;     /* (n) cumulative counts */
    int64_t npos, nneg;
} xc_curve;

/* Fills c. Returns 0 or -1 (NaN score, out of memory). Works without positives or negatives
 * (the rates that divide by 0 are then undefined: the writers leave them empty). */
int xc_curve_compute(const float *scores, int64_t stride, const uint8_t *positive, int64_t n, xc_curve *c);
void xc_curve_free(xc_curve *c); /* accepts a zeroed or freed curve */

/* The trapezoidal area under the ROC points (equal to the Mann–Whitney AUROC with midranks).
 * Returns 0, or 1 when npos or nneg is 0. */
int xc_curve_auroc(const xc_curve *c, double *auroc);

/* Average precision: Σ (R_i - R_{i-1}) P_i over the points (scikit-learn's
 * average_precision_score, no interpolation). Returns 0, or 1 when npos is 0. */
int xc_curve_average_precision(const xc_curve *c, double *ap);

/* ---- operating points --------------------------------------------------------------------- */

typedef enum {
    XC_OP_YOUDEN,      /* max tpr - fpr; ties: the highest threshold */
    XC_OP_SENSITIVITY, /* the highest threshold with tpr >= target (best specificity there) */
    XC_OP_SPECIFICITY  /* the lowest threshold with 1 - fpr >= target (best sensitivity there) */
} xc_op_rule;

/* "youden", "sensitivity", "specificity". */
const char *xc_op_rule_name(xc_op_rule r);

/* The threshold the rule picks on the curve (target in [0, 1], ignored by Youden). Returns 0;
 * 1 (no message) when npos or nneg is 0 or no point meets the target. */
int xc_operating_point(const xc_curve *c, xc_op_rule rule, double target, double *threshold);

/* The one-vs-rest counts of the decision score >= threshold. */
typedef struct {
    int64_t tp, fp, tn, fn;
} xc_counts;

xc_counts xc_counts_at(const float *scores, int64_t stride, const uint8_t *positive, int64_t n,
                       double threshold);

/* ---- calibration -------------------------------------------------------------------------- */

typedef enum {
    XC_BINS_EQUAL_WIDTH, /* edges 0, 1/B, …, 1 */
    XC_BINS_EQUAL_MASS   /* edges at the 0, 1/B, …, 1 quantiles of the probabilities (linear
                            interpolation, numpy's percentile) */
} xc_bin_scheme;

/* "equal-width", "equal-mass". */
const char *xc_bin_scheme_name(xc_bin_scheme s);

/* A reliability diagram: bin b holds the samples with edge[b] < p <= edge[b+1] (the first bin also
 * holds p = edge[0]) — scikit-learn's calibration_curve rule (searchsorted on the inner edges). */
typedef struct {
    int nbins;
    double *edge;         /* (nbins + 1) */
    int64_t *count;       /* (nbins) */
    double *mean_prob;    /* (nbins) mean predicted probability; NaN in an empty bin */
    double *frac_pos;     /* (nbins) fraction of outcomes = 1; NaN in an empty bin */
    double ece;           /* Σ_b count_b / n · |frac_pos_b - mean_prob_b| */
    double mce;           /* max over non-empty bins of |frac_pos_b - mean_prob_b| */
} xc_reliability;

/* prob: a column of probabilities in [0, 1] (stride as above); outcome (n) 0/1 (the sample is of
 * the class; for the top-label ECE: the prediction was right). nbins in [1, 1000], n >= 1.
 * Returns 0 or -1 (probability outside [0, 1], bad sizes). Free with xc_reliability_free. */
int xc_reliability_compute(const float *prob, int64_t stride, const uint8_t *outcome, int64_t n, int nbins,
                           xc_bin_scheme scheme, xc_reliability *r);
void xc_reliability_free(xc_reliability *r); /* accepts a zeroed or freed one */

/* Brier score of one column: mean (p_i - y_i)²  (scikit-learn's brier_score_loss). */
double xc_brier(const float *prob, int64_t stride, const uint8_t *outcome, int64_t n);

/* The multi-class Brier score (Brier 1950): mean over samples of Σ_c (p_ic - [label_i = c])².
 * probs (n, k) row-major, labels in [0, k). */
double xc_brier_multiclass(const float *probs, const int64_t *labels, int64_t n, int k);

/* Mean negative log-likelihood of softmax(logits / T): logits (n, k) row-major, labels (n). */
double xc_softmax_nll(const float *logits, const int64_t *labels, int64_t n, int k, double temperature);

/* Temperature scaling (Guo et al. 2017): the T > 0 minimising xc_softmax_nll, found by a
 * safeguarded Newton iteration on 1/T (the NLL is convex in 1/T) to |Δ(1/T)| < 1e-10, within
 * [0.01, 100] (a bound is returned when the optimum lies beyond it: separable data). k >= 2.
 * Returns 0 or -1 (bad input). */
int xc_fit_temperature(const float *logits, const int64_t *labels, int64_t n, int k, double *temperature);

/* ---- paired tests ------------------------------------------------------------------------- */

/* McNemar's test from the discordant counts: b = A right and B wrong, c = A wrong and B right.
 * exact = 1: the two-sided binomial test, statistic min(b, c), p = min(1, 2·P[X <= min(b, c)])
 * with X ~ Bin(b + c, ½); exact = 0: χ² with continuity correction (|b - c| - 1)² / (b + c), one
 * degree of freedom (statsmodels' mcnemar). b + c = 0: statistic 0, p = 1. */
int xc_mcnemar(int64_t b, int64_t c, int exact, double *statistic, double *p_value);

/* The difference of paired proportions (b - c) / n with its Wald interval
 * ± z·sqrt(b + c - (b - c)²/n) / n (n = all paired samples). Returns 0, or 1 when n = 0. */
int xc_paired_difference_ci(int64_t b, int64_t c, int64_t n, double level, double *diff, double *lo,
                            double *hi);

/* ---- the paired bootstrap ------------------------------------------------------------------- */

/* The q-quantile (q in [0, 1]) of sorted a[0..m), m >= 1, linearly interpolated between order
 * statistics (numpy's default). */
double xc_quantile_sorted(const double *a, int64_t m, double q);

/* A statistic of model `which` (0 = A, 1 = B) on the resample idx[0..n) (sample indices,
 * repeats allowed; the identity on the full data); NaN when undefined on that resample. */
typedef double xc_paired_stat_fn(const int64_t *idx, int64_t n, int which, void *ctx);

/* The difference of a statistic of two models scored on the same samples. */
typedef struct {
    double a, b, diff;      /* on all samples; diff = a - b (NaN when either is undefined) */
    int resamples;          /* resamples in which both were defined */
    double ci_low, ci_high; /* percentile interval of the resampled differences (NaN: none) */
    double p_value;         /* two-sided, min(1, 2·min(P*[Δ* <= 0], P*[Δ* >= 0])): the smallest
                               1 - level whose percentile interval excludes 0 (NaN: none) */
    int degenerate;         /* every resampled difference was the same */
} xc_paired_boot;

/* The paired bootstrap of stat(A) - stat(B): each resample draws the same sample indices for
 * both models — stratified when strata (n, values in [0, nstrata)) is given, each stratum
 * resampled to its own size (eval's rule), else n draws from all — with xoshiro256** seeded by
 * `seed` (xraycls/rng.h). resamples >= 1. Returns 0 or -1 (bad arguments, out of memory). */
int xc_paired_bootstrap(int64_t n, const int64_t *strata, int nstrata, int resamples, uint64_t seed, double level,
                        xc_paired_stat_fn *stat, void *ctx, xc_paired_boot *out);

#ifdef __cplusplus
}
#endif
#endif
