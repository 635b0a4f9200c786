/* xraycls/report.h — what `xraycls eval` writes, and the results table of `xraycls table`.
 *
 * What it is: the metrics of xraycls/metrics.h as eval.json, eval.csv and eval.md, the
 * confusion matrix as CSV, a text summary for the terminal, and the table that gathers the
 * eval.json of many run folders. What it is not: computing metrics (metrics.h) or inference.
 *
 * eval.json
 *   {"format": 1, "model": PATH, "data": DIR, "split": "test", "task": NAME|null,
 *    "arch": "resnet50", "head": "softmax", "classes": [...], "n": N, "multilabel": false,
 *    "bootstrap": {"resamples": B, "seed": S, "level": 0.95,
 *                  "method": "percentile, stratified by true class"},
 *    "accuracy": M, "balanced_accuracy": M, "macro_f1": M, "weighted_f1": M, "macro_auroc": M,
 *    "per_class": {CLASS: {"support": n, "precision": M, "recall": M, "f1": M,
 *                          "specificity": M, "auroc": M}, ...},
 *    "confusion_matrix": [[...], ...]            rows true, columns predicted, class order
 *    "macro_ap": M, per class also "ap": M and "brier": b (no interval),
 *    "calibration": {"brier": b, "bins": 15, "top_label": {"ece_equal_width", "ece_equal_mass",
 *                    "mce_equal_width", "mce_equal_mass"}}  (null when not probabilities),
 *    "operating_points": {"chosen_on": SPLIT, "rules": [...], "per_class": {CLASS: [
 *        {"rule", "target", "threshold", "source": {"sensitivity", "specificity"},
 *         "tp", "fp", "tn", "fn", "sensitivity": M, "specificity": M}, ...]}} (or null),
 *    "provenance": {"version", "model", "data" (absolute), "utc", "epoch", "temperature"},
 *    "tta": {"mode": "none"|"flip"|"tencrop", "views": 1|2|10, "source": "option"|"model file"|
 *            "default", "resize": R, "crop": S (tencrop only)}
 *   }
 *   where each metric M is {"value": v, "ci_low": lo, "ci_high": hi} (ci_* null when there is no
 *   interval) or, when absent, {"value": null, "ci_low": null, "ci_high": null, "absent": true}.
 *   A class absent from the split also carries "absent": true in its per_class entry.
 *   Multi-label: confusion_matrix is null.
 * eval.csv   header `name,support,precision,precision_ci_low,precision_ci_high,recall,…,f1,…,
 *            specificity,…,auroc,auroc_ci_low,auroc_ci_high`; one row per class, then
 *              macro     recall = balanced accuracy, f1 = macro F1, auroc = macro AUROC
 *              weighted  f1 = weighted F1
 *              micro     precision = recall = f1 = accuracy (single-label data)
 *            support of the last three rows = N; absent or not-applicable cells are empty.
 * eval.md    the same as Markdown tables, with the confusion matrix and notes on absent classes.
 * confusion_matrix.csv   header true,predicted:<class>…, one row per true class (its name, then
 *            the counts), in class order (single-label only): the data of the figure
 *            confusion_matrix.png|svg|pdf (xraycls/plot.h), drawn by eval after these files.
 * Every file is written atomically; eval.json is written last, so its presence marks a
 * complete evaluation.
 *
 * Failure: -1 / NULL with xc_error() naming the file or key.
 */
#ifndef XRAYCLS_REPORT_H
#define XRAYCLS_REPORT_H

#include <stddef.h>

#include "xraycls/error.h"
#include "xraycls/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where an evaluation comes from (eval.json "provenance"; every field may be NULL / -1). */
typedef struct {
    const char *version;    /* xraycls version */
    const char *model_abs;  /* absolute path of the model file */
    const char *data_abs;   /* absolute path of the prepared dataset */
    const char *utc;        /* "2026-12-02T08:00:00Z", when the evaluation ran */
    long long epoch;        /* the checkpoint's epoch (-1: a model file without one) */
    const char *temperature_note; /* NULL, or how the probabilities were calibrated */
    /* the test-time augmentation (eval.json "tta", written when tta is not NULL) */
    const char *tta;        /* "none", "flip" or "tencrop" */
    const char *tta_source; /* "option" (--tta), "model file" (its preprocessing "tta") or "default" */
    int tta_views;          /* 1, 2, 10 */
    int tta_resize, tta_crop; /* tencrop: the side resized to and the crops' side (else 0) */
} xc_provenance;

/* Where the numbers come from. Borrowed strings; task may be NULL (unknown). The fields after
 * classes are optional (zero: left out). */
typedef struct {
    const char *model;  /* model file or checkpoint path */
    const char *data;   /* prepared dataset folder */
    const char *split;  /* "test" */
    const char *task;   /* "4class", … or NULL */
    const char *arch;   /* "resnet50" */
    const char *head;   /* "softmax" */
    const char *const *classes; /* m->num_classes names */
    const xc_provenance *provenance;
    /* operating points (xraycls/metrics.h): num_classes × XC_OP_RULES entries chosen on
     * ops_split, or NULL; ops_stored: they are the model file's (xraycls calibrate), not chosen
     * by this evaluation */
    const xc_op_point *ops;
    const char *ops_split;
    int ops_stored;
} xc_report_info;

/* "0.912 [0.890, 0.931]", "0.912" (no interval) or "absent". Returns buf. */
char *xc_metric_format(const xc_metric *m, char *buf, size_t cap);

/* The documents, malloc'd (caller frees). */
char *xc_report_json(const xc_metrics *m, const xc_report_info *info);
char *xc_report_csv(const xc_metrics *m, const xc_report_info *info);
char *xc_report_markdown(const xc_metrics *m, const xc_report_info *info);
/* A few lines for the terminal: accuracy, balanced accuracy, macro F1 / AUROC, per-class recall. */
char *xc_report_summary(const xc_metrics *m, const xc_report_info *info);

/* confusion_matrix.csv of a (k, k) matrix, malloc'd; NULL when out of memory. */
char *xc_confusion_csv(const int64_t *cm, int k, const char *const *classes);
/* Creates dir (mkdir -p) and writes eval.csv, eval.md, confusion_matrix.csv (single-label) and
 * eval.json. */
int xc_report_write(const char *dir, const xc_metrics *m, const xc_report_info *info);

/* ---- per-image scores, curves and calibration ----------------------------------------------
 *
 * predictions.csv   index,path,label,predicted,prob:<class>…,logit:<class>… — one row per image
 *                   of the split in its order, path as recorded by prepare, numbers at %.9g.
 *                   Multi-label: index,path, then per finding prob:<f>,logit:<f>,label:<f> (0, 1
 *                   or empty when unknown),predicted:<f> (prob >= its threshold). Under a
 *                   test-time augmentation (flip, tencrop) a last column tta names it; the
 *                   probabilities are the mean over the views and the logits that mean's
 *                   logit (log p̄ for softmax, log(p̄ / (1 − p̄)) for sigmoid).
 * predictions.jsonl the same, one object per line: {"index", "path", "label", "predicted",
 *                   "probs": {class: p}, "logits": {class: z}}; multi-label {"index", "path",
 *                   "findings": {f: {"prob", "logit", "label": 0|1|null, "predicted"}}}.
 * roc.csv           class,threshold,fpr,tpr: per class one-vs-rest (multi-label: over the known
 *                   labels) the points of xc_curve_compute, threshold "inf" first then every
 *                   distinct score descending (scikit-learn's roc_curve with
 *                   drop_intermediate=False); a class without positives or negatives has no
 *                   rows. Then "macro" (threshold empty): the mean of the classes' linearly
 *                   interpolated curves at every false-positive rate any of them has (two rows
 *                   where it rises vertically), whose trapezoidal area is the macro AUROC.
 * pr.csv            class,threshold,precision,recall: the same points (precision 1 at "inf");
 *                   "macro": at every recall any class reaches, the mean of the classes' step
 *                   precisions (the precision where each first reaches it); Σ Δrecall ·
 *                   precision over its rows is the macro average precision.
 * calibration.csv   class,scheme,bin,lower,upper,count,mean_prob,frac_pos: reliability
 *                   diagrams (xc_reliability_compute) with equal-width and equal-mass bins, for
 *                   the top label (single-label: confidence against correctness) and each class
 *                   one-vs-rest; empty bins have empty means. */
typedef struct {
    int64_t n;
    int k;
    const char *const *classes;    /* (k) */
    const char *const *files;      /* (n) the paths as prepared, or NULL */
    const float *probs;            /* (n, k) */
    const float *logits;           /* (n, k), or NULL (no logit columns) */
    const int64_t *labels;         /* single-label (n); NULL for multi-label */
    const uint8_t *targets, *mask; /* multi-label (n, k) 0/1 and 1 = known (mask may be NULL) */
    const double *thresholds;      /* multi-label (k) decision thresholds, NULL: 0.5 */
    const char *tta;               /* NULL or "none"; else ("flip", "tencrop") a last column "tta"
                                    * (jsonl: "tta") names the test-time augmentation */
} xc_scores;

/* The documents above, malloc'd; NULL with a message on bad input or out of memory. */
char *xc_predictions_csv(const xc_scores *s);
char *xc_predictions_jsonl(const xc_scores *s);
char *xc_roc_csv(const xc_scores *s);
char *xc_pr_csv(const xc_scores *s);
char *xc_calibration_csv(const xc_scores *s, int nbins);
/* All five into dir (predictions.csv, predictions.jsonl, roc.csv, pr.csv, calibration.csv),
 * each written atomically. 0, or -1 with a message. */
int xc_scores_write(const char *dir, const xc_scores *s, int nbins);

/* ---- the results table -------------------------------------------------------------------- */

/* For each run folder: its resolved config (RUN/config.json: output.name, model.arch,
 * model.weights, loss.type + loss.class_weights, data.sampler) and the eval.json of its
 * evaluation of the split — RUN/eval-<dataset>-<split>/ with the dataset given, or the only
 * such folder (several: an error naming them), else the older RUN/eval-<split>/ — 
 * (task, accuracy, balanced accuracy, macro F1, COVID-19 recall, macro AUROC). The COVID-19
 * column is the recall of the class whose name contains "covid" (any case): "absent" when the
 * task has no such class or the split holds none of its images. Each metric is written as
 * xc_metric_format does. *md and *csv receive malloc'd documents (Markdown table; CSV with
 * value, ci_low, ci_high columns per metric, "absent" in the value column). A missing or
 * malformed file is an error naming it. */
int xc_results_table(const char *const *run_dirs, int n, const char *split, const char *dataset, char **md,
                     char **csv);

#ifdef __cplusplus
}
#endif
#endif
