/* xraycls/report.h — what `xraycls eval` writes, and the results table of `xraycls table`.
 *
 * What it is: the metrics of xraycls/metrics.h as eval.json, eval.csv and eval.md, the
 * confusion-matrix picture, a text summary for the terminal, and the table that gathers the
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
 * confusion_matrix.png   xc_plot_confusion (single-label only).
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

/* Where the numbers come from. Borrowed strings; task may be NULL (unknown). */
typedef struct {
    const char *model;  /* model file or checkpoint path */
    const char *data;   /* prepared dataset folder */
    const char *split;  /* "test" */
    const char *task;   /* "4class", … or NULL */
    const char *arch;   /* "resnet50" */
    const char *head;   /* "softmax" */
    const char *const *classes; /* m->num_classes names */
} xc_report_info;

/* "0.912 [0.890, 0.931]", "0.912" (no interval) or "absent". Returns buf. */
char *xc_metric_format(const xc_metric *m, char *buf, size_t cap);

/* The documents, malloc'd (caller frees). */
char *xc_report_json(const xc_metrics *m, const xc_report_info *info);
char *xc_report_csv(const xc_metrics *m, const xc_report_info *info);
char *xc_report_markdown(const xc_metrics *m, const xc_report_info *info);
/* A few lines for the terminal: accuracy, balanced accuracy, macro F1 / AUROC, per-class recall. */
char *xc_report_summary(const xc_metrics *m, const xc_report_info *info);

/* Creates dir (mkdir -p) and writes eval.csv, eval.md, confusion_matrix.png and eval.json. */
int xc_report_write(const char *dir, const xc_metrics *m, const xc_report_info *info);

/* ---- the results table -------------------------------------------------------------------- */

/* For each run folder: its resolved config (RUN/config.json: output.name, model.arch,
 * model.weights, loss.type + loss.class_weights, data.sampler) and RUN/eval-<split>/eval.json
 * (task, accuracy, balanced accuracy, macro F1, COVID-19 recall, macro AUROC). The COVID-19
 * column is the recall of the class whose name contains "covid" (any case): "absent" when the
 * task has no such class or the split holds none of its images. Each metric is written as
 * xc_metric_format does. *md and *csv receive malloc'd documents (Markdown table; CSV with
 * value, ci_low, ci_high columns per metric, "absent" in the value column). A missing or
 * malformed file is an error naming it. */
int xc_results_table(const char *const *run_dirs, int n, const char *split, char **md, char **csv);

#ifdef __cplusplus
}
#endif
#endif
