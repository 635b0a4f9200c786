/* xraycls/metrics_findings.h — the evaluation of a multi-label model, finding by finding.
 *
 * What it is: from the probabilities a sigmoid head gave N images for K findings, their 0/1
 * labels and the mask of known labels (xraycls/dataset.h), every number `xraycls eval` reports
 * for a multi-label dataset — per finding AUROC with its DeLong interval, average precision,
 * sensitivity and specificity (Wilson intervals) at a decision threshold chosen on another split
 * (validation), and their macro and micro means — plus the choice of the thresholds and the
 * eval.json / eval.csv / eval.md documents. Built on xraycls/stats.h (xc_delong_ci,
 * xc_curve_compute, xc_curve_average_precision, xc_operating_point, xc_counts_at,
 * xc_proportion_ci). No libtorch.
 *
 * Definitions (only the known entries of a finding count; an unknown one is left out)
 *   AUROC k       Mann–Whitney AUROC of column k, DeLong's interval (Sun & Xu's algorithm),
 *                 absent without positives or negatives.
 *   AP k          scikit-learn's average_precision_score of column k; absent without positives.
 *   at threshold  an entry is called positive when its probability >= t_k; sensitivity
 *                 TP / (TP + FN), specificity TN / (TN + FP), precision TP / (TP + FP).
 *   macro         the mean over the findings where the per-finding value is defined.
 *   micro         the same measure over all known entries pooled (scikit-learn's
 *                 average="micro" when nothing is masked): micro AUROC / AP of the flattened
 *                 scores, micro sensitivity / specificity from the summed counts.
 * Thresholds: t_k is the rule's threshold (xc_operating_point, Youden's J by default) on the
 * scores of another split, usually validation; a finding whose rule is undefined there (no
 * positive or no negative known) gets 0.5, and is marked so.
 *
 * Failure: NULL / -1 with the message in xc_error() (bad sizes, NaN scores, out of memory).
 */
#ifndef XRAYCLS_METRICS_FINDINGS_H
#define XRAYCLS_METRICS_FINDINGS_H

#include <stdint.h>

#include "xraycls/metrics.h"
#include "xraycls/report.h"
#include "xraycls/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int64_t positives, negatives, unknown; /* known positives / negatives, masked entries */
    xc_metric auroc;       /* DeLong interval */
    double auroc_se;       /* DeLong standard error (NaN when absent) */
    xc_metric ap;          /* no interval */
    double threshold;      /* t_k used below */
    int threshold_chosen;  /* 1: by the rule on the threshold split; 0: the 0.5 fallback / given */
    xc_counts counts;      /* at t_k */
    xc_metric sensitivity, specificity, precision; /* Wilson intervals (precision: none) */
} xc_finding_metrics;

typedef struct {
    int k;
    int64_t n;
    double level;
    xc_finding_metrics *per; /* k entries */
    xc_metric macro_auroc, micro_auroc, macro_ap, micro_ap;
    xc_metric macro_sensitivity, macro_specificity, micro_sensitivity, micro_specificity;
} xc_findings_metrics;

/* Thresholds from the scores of a split (usually validation): probs, targets, mask (n, k)
 * row-major (mask NULL: all known). thr (k) receives t_k, chosen (k, may be NULL) 1 where the
 * rule decided and 0 where 0.5 was used. Returns 0 or -1. */
int xc_findings_thresholds(const float *probs, const uint8_t *targets, const uint8_t *mask, int64_t n, int k,
                           xc_op_rule rule, double target, double *thr, int *chosen);

/* The metrics of one split. thr (k): the thresholds (NULL: 0.5 for every finding); chosen (k,
 * may be NULL) is copied into threshold_chosen. level: interval coverage in (0, 1). Returns a
 * new object (xc_findings_metrics_free) or NULL. */
xc_findings_metrics *xc_findings_metrics_compute(const float *probs, const uint8_t *targets, const uint8_t *mask,
                                                 int64_t n, int k, const double *thr, const int *chosen,
                                                 double level);
void xc_findings_metrics_free(xc_findings_metrics *m); /* accepts NULL */

/* Where the numbers come from (borrowed strings). */
typedef struct {
    const char *model, *data, *split, *arch, *head;
    const char *threshold_split; /* the split the thresholds were chosen on, or NULL (0.5) */
    const char *threshold_rule;  /* "youden", … */
    const char *const *findings; /* k names */
    const xc_provenance *provenance; /* eval.json "provenance" (xraycls/report.h), or NULL */
} xc_findings_info;

/* eval.json of a multi-label evaluation:
 *   {"format": 1, "model", "data", "split", "arch", "head", "multilabel": true, "n": N,
 *    "classes": [...], "level": 0.95, "interval": "delong" (AUROC), "wilson" (rates),
 *    "thresholds": {"split": "val"|null, "rule": "youden", "values": {finding: t}},
 *    "macro_auroc": M, "micro_auroc": M, "macro_ap": M, "micro_ap": M, "macro_sensitivity": M,
 *    "macro_specificity": M, "micro_sensitivity": M, "micro_specificity": M,
 *    "per_finding": {finding: {"positives", "negatives", "unknown", "auroc": M, "auroc_se",
 *                              "ap": M, "threshold", "threshold_chosen", "tp", "fp", "tn",
 *                              "fn", "sensitivity": M, "specificity": M, "precision": M}}}
 * with M as in xraycls/report.h ({"value", "ci_low", "ci_high"}, or absent). eval.csv: one row
 * per finding then macro and micro: name,positives,negatives,unknown,auroc,auroc_ci_low,
 * auroc_ci_high,ap,threshold,sensitivity,…_ci_low,…_ci_high,specificity,…,precision. eval.md:
 * the same as a Markdown table. All malloc'd. */
char *xc_findings_json(const xc_findings_metrics *m, const xc_findings_info *info);
char *xc_findings_csv(const xc_findings_metrics *m, const xc_findings_info *info);
char *xc_findings_markdown(const xc_findings_metrics *m, const xc_findings_info *info);
/* Creates dir and writes eval.csv, eval.md, then eval.json (atomically, eval.json last). */
int xc_findings_write(const char *dir, const xc_findings_metrics *m, const xc_findings_info *info);

/* Reads the thresholds of an eval.json written above for the given findings (in that order;
 * every one must be there): thr (k). -1 naming the file and the finding otherwise. */
int xc_findings_read_thresholds(const char *eval_json, const char *const *findings, int k, double *thr);

#ifdef __cplusplus
}
#endif
#endif
