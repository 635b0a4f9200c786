/* xraycls/metrics.h — classification metrics with bootstrap confidence intervals (pure C).
 *
 * What it is: from the scores a model gave N samples over K classes and their true labels,
 * every number `xraycls eval` reports — accuracy (the paper's metric), balanced accuracy,
 * per-class precision / recall / F1 / specificity / support, macro and weighted F1, the
 * confusion matrix, per-class one-vs-rest AUROC and macro AUROC — each with a percentile
 * bootstrap confidence interval. What it is not: inference (xraycls/train.h, cmd_eval.c) or
 * writing files (xraycls/report.h). No libtorch here.
 *
 * Definitions (single-label data: one true class per sample)
 *   prediction      argmax of the scores (the first maximum on ties).
 *   confusion       C[t][p] = samples of true class t predicted as p (rows true, cols predicted).
 *   per class k     TP, FP, FN, TN one-vs-rest from C; precision TP/(TP+FP) (0 when the class is
 *                   present but never predicted, as scikit-learn's zero_division=0), recall
 *                   TP/(TP+FN), F1 2TP/(2TP+FP+FN), specificity TN/(TN+FP), NPV TN/(TN+FN),
 *                   support TP+FN.
 *   absent class    support 0 in the split: precision, recall, F1, specificity and AUROC are
 *                   absent (never 0/0, never 0). A class with no negatives (all samples of one
 *                   class) has an absent specificity and AUROC.
 *   AUROC           one-vs-rest, exact: the Mann–Whitney statistic with midranks for ties,
 *                   P(score of a positive > score of a negative) + ½ P(equal). Absent when the
 *                   class has no positives or no negatives.
 *   accuracy        trace(C) / N.
 *   balanced acc.   mean recall over the PRESENT classes.
 *   macro F1        mean F1 over the present classes; weighted F1: mean F1 weighted by support.
 *   macro AUROC     mean AUROC over the classes whose AUROC is defined.
 *
 * Multi-label data (independent sigmoid outputs, targets N×K in {0,1}): only per-class AUROC and
 * macro AUROC are computed; every other metric is absent and the confusion matrix is empty.
 *
 * Confidence intervals (docs/METRICS.md). params.ci chooses:
 *   XC_CI_WILSON (default) or XC_CI_CLOPPER_PEARSON: the proportions — accuracy, per-class
 *       recall, specificity, precision and NPV — get that closed-form binomial interval of their
 *       counts (it never collapses at 0 or 1); each AUROC gets DeLong's interval (xraycls/stats.h);
 *       the statistics without a closed form (balanced accuracy, F1, macro/weighted F1, macro
 *       AUROC) get the bootstrap below. A proportion whose denominator is 0 (precision of a class
 *       never predicted) has no interval.
 *   XC_CI_BOOTSTRAP: every metric gets the bootstrap interval.
 * Every xc_metric records the method of its interval (method) and, for a bootstrap interval of
 * zero width (every resample gave the same value: a class of one sample, a metric at 0 or 1),
 * sets degenerate = 1 — that interval says nothing about the uncertainty.
 * The bootstrap: B resamples (default 1000) STRATIFIED by true class — each
 * resample draws, for every class, as many samples with replacement from that class as it has
 * — so every present class keeps its support in every resample and a rare class (COVID-19)
 * never drops out of one. (Multi-label data has no single class: plain resampling of N.) The
 * interval is the percentile interval: the (1-level)/2 and (1+level)/2 quantiles of the
 * resampled values, linearly interpolated between order statistics (numpy's default). A
 * resample in which a metric is undefined (with stratification this happens only in
 * multi-label data, where a resample can lose every positive or negative of a class) is left
 * out of that metric's interval; with no defined resample the interval is absent. The generator is xoshiro256**
 * seeded through splitmix64 from `seed`: the same (data, B, seed) give the same interval on
 * every machine. B = 0 skips the bootstrap (those intervals absent).
 *
 * Failure: NULL with the message in xc_error() (bad sizes, labels out of range, NaN scores).
 */
#ifndef XRAYCLS_METRICS_H
#define XRAYCLS_METRICS_H

#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One number with its interval. present = 0: the metric is absent (value and interval are
 * meaningless, written as null). has_ci = 0: no interval (bootstrap off or never defined).
 * method: how the interval was made (XC_CI_NONE without one); degenerate: a bootstrap interval
 * of zero width. */
typedef struct {
    int present;
    double value;
    int has_ci;
    double ci_low, ci_high;
    xc_ci_method method;
    int degenerate;
} xc_metric;

typedef struct {
    int64_t support; /* true samples of the class (multi-label: positives) */
    xc_metric precision, recall, f1, specificity, auroc;
    xc_metric npv; /* TN / (TN + FN); absent like the others (single-label only) */
    xc_metric ap;  /* average precision of the one-vs-rest column (no interval); absent
                      without positives */
    double brier;  /* one-vs-rest Brier score mean (p_c - [label = c])² (NaN unless
                      params.probabilities) */
} xc_class_metrics;

typedef struct {
    int num_classes;  /* K */
    int64_t n;        /* samples */
    int multilabel;   /* 1: computed from N×K targets (AUROC only) */
    int bootstrap;    /* resamples used (0: none) */
    uint64_t seed;
    double level;     /* 0.95 */
    xc_ci_method ci;  /* params.ci */
    xc_metric accuracy, balanced_accuracy, macro_f1, weighted_f1, macro_auroc;
    xc_metric macro_ap;          /* mean AP over the classes with positives (no interval) */
    /* Calibration (params.probabilities, single-label): the multi-class Brier score and the
     * top-label ECE / MCE — confidence max_c p_c against correctness — with params.bins bins
     * of equal width and of equal mass (xraycls/stats.h). NaN otherwise. */
    int probabilities, bins;
    double brier, ece_equal_width, ece_equal_mass, mce_equal_width, mce_equal_mass;
    xc_class_metrics *per_class; /* K entries */
    int64_t *confusion;          /* K×K, row-major, rows true, cols predicted; NULL if multilabel */
} xc_metrics;

typedef struct {
    int bootstrap;  /* resamples, >= 0 (1000) */
    uint64_t seed;  /* (0) */
    double level;   /* interval coverage in (0, 1) (0.95) */
    xc_ci_method ci; /* XC_CI_WILSON, XC_CI_CLOPPER_PEARSON or XC_CI_BOOTSTRAP (XC_CI_WILSON) */
    int probabilities; /* 1: the scores are probabilities (rows of softmax outputs): Brier and
                          ECE are computed (0) */
    int bins;          /* reliability bins of the ECE, 1..1000 (15, as Guo et al. 2017) */
} xc_metrics_params;

xc_metrics_params xc_metrics_default(void);

/* Single-label metrics. scores: (n, k) row-major (probabilities or logits: only their order
 * within a row and within a column matters); labels: (n) in [0, k). n >= 1, k >= 2.
 * p may be NULL for the defaults. Returns a new object (xc_metrics_free) or NULL. */
xc_metrics *xc_metrics_compute(const float *scores, const int64_t *labels, int64_t n, int k,
                               const xc_metrics_params *p);

/* Multi-label metrics. scores: (n, k); targets: (n, k) row-major, 0 or 1. */
xc_metrics *xc_metrics_compute_multilabel(const float *scores, const uint8_t *targets, int64_t n,
                                          int k, const xc_metrics_params *p);

void xc_metrics_free(xc_metrics *m); /* accepts NULL */

/* ---- operating points ------------------------------------------------------------------------
 * Per class, one-vs-rest (binary: each class against the other), three decision thresholds
 * chosen on the scores of one split (usually validation) by xc_operating_point — Youden's J,
 * the highest threshold with sensitivity >= a target, the lowest with specificity >= a
 * target — and applied to another: the sensitivity and specificity there, with the
 * proportion interval chosen (bootstrap falls back to Wilson: a count has a closed form). */
#define XC_OP_RULES 3 /* youden, sensitivity, specificity, in this order */

typedef struct {
    xc_op_rule rule;
    double target;      /* the rule's target (NaN for Youden) */
    int defined;        /* 0: no threshold on the source split (no positive or negative there,
                           or the target is never met); the rest is then unset */
    double threshold;   /* called positive at score >= threshold */
    double source_sensitivity, source_specificity; /* on the split it was chosen on */
    xc_counts counts;   /* on the evaluated split */
    xc_metric sensitivity, specificity; /* on the evaluated split */
} xc_op_point;

/* src (n_src, k) / src_labels: where the thresholds are chosen; scores (n, k) / labels: where
 * they are applied. out: k × XC_OP_RULES entries, class c's rule r at c * XC_OP_RULES + r.
 * Returns 0 or -1 (bad sizes, NaN). */
int xc_op_points_compute(const float *src, const int64_t *src_labels, int64_t n_src, const float *scores,
                         const int64_t *labels, int64_t n, int k, double target_sensitivity,
                         double target_specificity, double level, xc_ci_method ci, xc_op_point *out);

/* Applies thresholds chosen earlier (ops: k × XC_OP_RULES, rule, target, defined, threshold and
 * source_* set — by xc_op_points_compute on another split, or read from a model file by
 * xraycls/calibration.h) to scores (n, k) / labels: sets counts, sensitivity and specificity of
 * every defined point. Returns 0 or -1 (bad sizes, NaN). */
int xc_op_points_apply(xc_op_point *ops, const float *scores, const int64_t *labels, int64_t n, int k, double level,
                       xc_ci_method ci);

/* Exact one-vs-rest AUROC of one score column with midranks for ties: scores (n), positive (n)
 * 0/1. Returns 0 and sets *auroc, or 1 (no message) when there are no positives or no
 * negatives (AUROC undefined), or -1 on bad input (NaN score). */
int xc_auroc(const float *scores, const uint8_t *positive, int64_t n, double *auroc);

/* The index of the first maximum of row (k values). */
int xc_argmax(const float *row, int k);

#ifdef __cplusplus
}
#endif
#endif
