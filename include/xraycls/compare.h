/* xraycls/compare.h — the paired comparison of two models evaluated on the same images
 * (`xraycls compare`): from two eval folders, the differences of their AUROCs (DeLong's paired
 * test), of their accuracies (McNemar's test) and of macro F1, balanced accuracy and macro AUROC
 * (the paired bootstrap), each with its interval and p-value (xraycls/stats.h; definitions in
 * docs/METRICS.md, "Comparing two models").
 *
 * What it is: reading what `eval` wrote (eval.json and predictions.csv), checking that both are
 * scores of the same images with the same labels, computing, and writing compare.json,
 * compare.csv and compare.md. What it is not: inference — `compare` of model files scores them
 * in libxraycls_torch.so into the same xc_eval_scores (eval's forward path) and comes here. An
 * xc_eval_scores of a model file has dir NULL ("eval": null in compare.json).
 *
 * compare.json
 *   {"format": 1, "a": {"eval", "model", "data", "split", "tta"}, "b": {…}, "n", "classes",
 *    "multilabel", "level", "bootstrap": {"resamples", "seed", "method"},
 *    "accuracy": {"a", "b", "diff", "ci_low", "ci_high", "ci_method": "wald-paired",
 *                 "a_right_b_wrong", "a_wrong_b_right", "test": "mcnemar-exact" | "mcnemar-chi2",
 *                 "statistic", "p_value"}                          (single-label; else null)
 *    "auroc": {"per_class": {CLASS: {"a", "b", "diff", "se", "z", "ci_low", "ci_high",
 *                                    "p_value", "method": "delong-paired"} | {"absent": true}},
 *              "macro": B},
 *    "macro_f1": B, "balanced_accuracy": B                          (single-label; else null)
 *    "provenance": {"version", "utc"}}
 *   where B = {"a", "b", "diff", "ci_low", "ci_high", "p_value", "method": "bootstrap-paired",
 *   "resamples", "degenerate"}. diff is always A − B. A number that is undefined is null.
 * compare.csv  metric,class,a,b,diff,ci_low,ci_high,p_value,method — one row per quantity.
 * compare.md   the same as a Markdown table, with both sources and the notes.
 *
 * Failure: -1 / NULL with xc_error() naming the folder or file.
 */
#ifndef XRAYCLS_COMPARE_H
#define XRAYCLS_COMPARE_H

#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One evaluation as read back from its folder. Owned: xc_eval_scores_free. */
typedef struct {
    char *dir;                 /* the eval folder; NULL for a model file scored in memory
                                * (compare of model files: src/cli/torch/cmd_compare_torch.c) */
    char *model, *data, *split; /* from eval.json (NULL when it has none) */
    char *tta;                 /* the test-time augmentation (eval.json "tta" "mode"), or NULL */
    int k, multilabel;
    char **classes;            /* (k) */
    int64_t n;
    char **paths;              /* (n) as prepared */
    int64_t *labels;           /* single-label (n) class indices; NULL for multi-label */
    int64_t *predicted;        /* single-label (n) eval's predicted classes (its "predicted" column) */
    uint8_t *targets, *known;  /* multi-label (n, k): 0/1, and 1 = the label is known */
    float *probs;              /* (n, k) the probabilities of predictions.csv */
} xc_eval_scores;

/* Reads DIR/eval.json and DIR/predictions.csv. DIR may also be a run folder: its evaluation of
 * `split` (RUN/eval-<dataset>-<split>, `dataset` naming it when there are several; both may be
 * NULL when DIR is an eval folder). 0, or -1 naming the file and what is wrong. */
int xc_eval_scores_read(const char *dir, const char *split, const char *dataset, xc_eval_scores *e);
void xc_eval_scores_free(xc_eval_scores *e); /* accepts a zeroed one */

/* 0 when a and b score the same images in the same order with the same labels and classes;
 * else -1 with the first difference: "'A' and 'B' are not of the same images: row 3 is 'x.png'
 * in A and 'y.png' in B". */
int xc_eval_scores_paired(const xc_eval_scores *a, const xc_eval_scores *b);

typedef struct {
    double level;   /* interval coverage (0.95) */
    int bootstrap;  /* paired resamples, >= 1 (2000) */
    uint64_t seed;  /* (0) */
    const char *version, *utc; /* provenance (may be NULL) */
} xc_compare_params;

xc_compare_params xc_compare_default(void);

/* The comparison of two paired evaluations. */
typedef struct {
    int k, multilabel;
    int64_t n;
    /* accuracy (single-label): the discordant counts and McNemar's test — exact binomial when
     * b + c < 25, else χ² with continuity correction — and the paired difference's Wald interval */
    double acc_a, acc_b, acc_diff, acc_lo, acc_hi;
    int64_t a_right_b_wrong, a_wrong_b_right;
    int mcnemar_exact;
    double mcnemar_stat, mcnemar_p;
    /* per class (k): DeLong's paired test; auroc_defined[c] = 0 when the class has no positive
     * or no negative */
    int *auroc_defined;
    xc_delong_test *auroc;
    /* paired bootstrap (stratified by true class for single-label data) */
    xc_paired_boot macro_auroc, macro_f1, balanced_accuracy; /* the last two single-label only */
} xc_comparison;

/* Computes the comparison of a and b (which must be paired: xc_eval_scores_paired). Free with
 * xc_comparison_free. 0 or -1. */
int xc_compare(const xc_eval_scores *a, const xc_eval_scores *b, const xc_compare_params *p, xc_comparison *out);
void xc_comparison_free(xc_comparison *c); /* accepts a zeroed one */

/* The documents (malloc'd, caller frees). */
char *xc_compare_json(const xc_eval_scores *a, const xc_eval_scores *b, const xc_comparison *c,
                      const xc_compare_params *p);
char *xc_compare_csv(const xc_eval_scores *a, const xc_comparison *c);
char *xc_compare_markdown(const xc_eval_scores *a, const xc_eval_scores *b, const xc_comparison *c,
                          const xc_compare_params *p);

/* compare.csv, compare.md, then compare.json (last: its presence marks a complete comparison),
 * each atomically, into dir (which must exist). */
int xc_compare_write(const char *dir, const xc_eval_scores *a, const xc_eval_scores *b, const xc_comparison *c,
                     const xc_compare_params *p);

#ifdef __cplusplus
}
#endif
#endif
