/* compare.c — the paired comparison of two evaluations (xraycls/compare.h): reading eval.json and
 * predictions.csv back, the pairing check, DeLong's paired test per class, McNemar's test of the
 * accuracies, the paired bootstrap of macro F1, balanced accuracy and macro AUROC, and the
 * documents. The statistics are xraycls/stats.h's; nothing here touches libtorch. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/compare.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/metrics.h"
#include "xraycls/strbuf.h"
#include "report_internal.h"

/* McNemar's exact test below this many discordant pairs, the χ² approximation from it on (the
 * usual rule: the binomial is exact, the χ² needs b + c large enough). */
#define MCNEMAR_EXACT_BELOW 25

/* ---- reading an evaluation back ----------------------------------------------------------- */

void xc_eval_scores_free(xc_eval_scores *e) {
    if (!e) return;
    for (int c = 0; e->classes && c < e->k; c++) free(e->classes[c]);
    for (int64_t i = 0; e->paths && i < e->n; i++) free(e->paths[i]);
    free(e->classes);
    free(e->paths);
    free(e->dir);
    free(e->model);
    free(e->data);
    free(e->split);
    free(e->tta);
    free(e->labels);
    free(e->predicted);
    free(e->targets);
    free(e->known);
    free(e->probs);
    memset(e, 0, sizeof *e);
}

static char *dup_string(const cJSON *o, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(s) ? strdup(s->valuestring) : NULL;
}

/* eval.json: classes, multilabel, n and the sources. */
static int read_eval_json(const char *path, xc_eval_scores *e, int64_t *n) {
    cJSON *j = xc_json_read_file(path, 256u << 20);
    if (!j) return -1;
    int rc = -1;
    const cJSON *cl = NULL;
    long long nn = 0;
    int ml = 0;
    if (xc_json_get_array(j, path, "classes", 1, &cl) < 0 || xc_json_get_int_in(j, path, "n", 1, 1, INT64_MAX / 2, &nn) < 0 ||
        xc_json_get_bool(j, path, "multilabel", 1, &ml) < 0)
        goto done;
    int k = cJSON_GetArraySize(cl);
    if (k < 1 || k > 4096) {
        xc_errorf("'%s': \"classes\" holds %d names", path, k);
        goto done;
    }
    e->classes = calloc((size_t)k, sizeof *e->classes);
    if (!e->classes) {
        xc_errorf("out of memory");
        goto done;
    }
    e->k = k;
    for (int c = 0; c < k; c++) {
        const cJSON *s = cJSON_GetArrayItem(cl, c);
        if (!cJSON_IsString(s) || !*s->valuestring) {
            xc_errorf("'%s': classes[%d] is not a class name", path, c);
            goto done;
        }
        if (!(e->classes[c] = strdup(s->valuestring))) {
            xc_errorf("out of memory");
            goto done;
        }
    }
    e->multilabel = ml;
    e->model = dup_string(j, "model");
    e->data = dup_string(j, "data");
    e->split = dup_string(j, "split");
    e->tta = dup_string(cJSON_GetObjectItemCaseSensitive(j, "tta"), "mode");
    *n = nn;
    rc = 0;
done:
    cJSON_Delete(j);
    return rc;
}

static int class_index(const xc_eval_scores *e, const char *name) {
    for (int c = 0; c < e->k; c++)
        if (!strcmp(e->classes[c], name)) return c;
    return -1;
}

/* A probability field: a number in [0, 1]. */
static int parse_prob(const xc_csv *t, int row, int col, float *out) {
    const char *s = xc_csv_get(t, row, col);
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= 0 && v <= 1))
        return xc_errorf("'%s' line %d: %s '%s' is not a probability in [0, 1]", xc_csv_what(t), xc_csv_line(t, row),
                         xc_csv_header(t, col), s);
    *out = (float)v;
    return 0;
}

static int read_predictions(const char *path, xc_eval_scores *e, int64_t n_json) {
    xc_csv *t = xc_csv_read(path, 1);
    if (!t) return -1;
    int rc = -1, k = e->k;
    int64_t n = xc_csv_rows(t);
    int *prob = malloc((size_t)k * sizeof *prob), *lab = malloc((size_t)k * sizeof *lab);
    char col[300];
    if (!prob || !lab) {
        xc_errorf("out of memory");
        goto done;
    }
    if (n != n_json) {
        xc_errorf("'%s' holds %lld images, its eval.json says %lld", path, (long long)n, (long long)n_json);
        goto done;
    }
    int pcol = xc_csv_require_col(t, "path"), lcol = -1, qcol = -1;
    if (pcol < 0) goto done;
    if (!e->multilabel && ((lcol = xc_csv_require_col(t, "label")) < 0 || (qcol = xc_csv_require_col(t, "predicted")) < 0))
        goto done;
    for (int c = 0; c < k; c++) {
        snprintf(col, sizeof col, "prob:%s", e->classes[c]);
        if ((prob[c] = xc_csv_require_col(t, col)) < 0) goto done;
        snprintf(col, sizeof col, "label:%s", e->classes[c]);
        if (e->multilabel && (lab[c] = xc_csv_require_col(t, col)) < 0) goto done;
    }
    size_t cells = (size_t)n * (size_t)k;
    e->n = n;
    e->paths = calloc((size_t)n, sizeof *e->paths);
    e->probs = malloc(cells * sizeof *e->probs);
    if (e->multilabel) {
        e->targets = calloc(cells, 1);
        e->known = calloc(cells, 1);
    } else {
        e->labels = malloc((size_t)n * sizeof *e->labels);
        e->predicted = malloc((size_t)n * sizeof *e->predicted);
    }
    if (!e->paths || !e->probs || (e->multilabel ? !e->targets || !e->known : !e->labels || !e->predicted)) {
        e->n = e->paths ? n : 0;
        xc_errorf("out of memory for %lld images", (long long)n);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        int r = (int)i;
        if (!(e->paths[i] = strdup(xc_csv_get(t, r, pcol)))) {
            xc_errorf("out of memory");
            goto done;
        }
        for (int c = 0; c < k; c++)
            if (parse_prob(t, r, prob[c], &e->probs[(size_t)i * k + c]) < 0) goto done;
        if (!e->multilabel) {
            const char *l = xc_csv_get(t, r, lcol), *q = xc_csv_get(t, r, qcol);
            int li = class_index(e, l), qi = class_index(e, q);
            if (li < 0 || qi < 0) {
                xc_errorf("'%s' line %d: %s '%s' is not one of the classes of eval.json", path, xc_csv_line(t, r),
                          li < 0 ? "label" : "predicted", li < 0 ? l : q);
                goto done;
            }
            e->labels[i] = li;
            e->predicted[i] = qi;
            continue;
        }
        for (int c = 0; c < k; c++) {
            const char *v = xc_csv_get(t, r, lab[c]);
            size_t q = (size_t)i * k + c;
            if (!*v) continue;
            if (strcmp(v, "0") && strcmp(v, "1")) {
                xc_errorf("'%s' line %d: label:%s '%s' is not 0, 1 or empty", path, xc_csv_line(t, r), e->classes[c], v);
                goto done;
            }
            e->known[q] = 1;
            e->targets[q] = v[0] == '1';
        }
    }
    rc = 0;
done:
    free(prob);
    free(lab);
    xc_csv_free(t);
    return rc;
}

int xc_eval_scores_read(const char *dir, const char *split, const char *dataset, xc_eval_scores *e) {
    memset(e, 0, sizeof *e);
    char *json = xc_path_join(dir, "eval.json");
    if (!json) return xc_errorf("out of memory");
    if (!xc_is_file(json)) { /* a run folder: its evaluation of the split */
        free(json);
        if (!xc_is_dir(dir)) return xc_errorf("'%s' is neither an eval folder nor a run folder", dir);
        json = xc_report_find_eval(dir, split ? split : "test", dataset);
        if (!json) return -1;
    }
    char *slash = strrchr(json, '/');
    e->dir = slash ? strndup(json, (size_t)(slash - json)) : strdup(".");
    int64_t n = 0;
    char *csv = e->dir ? xc_path_join(e->dir, "predictions.csv") : NULL;
    int rc = -1;
    if (!csv) xc_errorf("out of memory");
    else if (read_eval_json(json, e, &n) < 0) {
    } else if (!xc_is_file(csv)) {
        xc_errorf("'%s' has no predictions.csv (written by xraycls eval since it writes per-image scores: evaluate "
                  "again)", e->dir);
    } else if (read_predictions(csv, e, n) == 0) {
        rc = 0;
    }
    if (rc < 0) xc_eval_scores_free(e);
    free(json);
    free(csv);
    return rc;
}

/* ---- pairing ------------------------------------------------------------------------------ */

/* What names an evaluation in messages: its folder, or the model file scored in memory. */
static const char *src_name(const xc_eval_scores *e) { return e->dir ? e->dir : e->model ? e->model : "?"; }

static void class_list(xc_strbuf *b, const xc_eval_scores *e) {
    for (int c = 0; c < e->k; c++) xc_strbuf_printf(b, "%s%s", c ? ", " : "", e->classes[c]);
}

int xc_eval_scores_paired(const xc_eval_scores *a, const xc_eval_scores *b) {
    if (a->multilabel != b->multilabel)
        return xc_errorf("'%s' and '%s' cannot be compared: one is a multi-label evaluation, the other not", src_name(a),
                         src_name(b));
    int same = a->k == b->k;
    for (int c = 0; same && c < a->k; c++) same = !strcmp(a->classes[c], b->classes[c]);
    if (!same) {
        xc_strbuf x = {0}, y = {0};
        class_list(&x, a);
        class_list(&y, b);
        xc_errorf("'%s' and '%s' cannot be compared: their classes differ ([%s] and [%s])", src_name(a), src_name(b),
                  x.s ? x.s : "", y.s ? y.s : "");
        xc_strbuf_free(&x);
        xc_strbuf_free(&y);
        return -1;
    }
    if (a->n != b->n)
        return xc_errorf("'%s' and '%s' are not of the same images: %lld images and %lld", src_name(a), src_name(b),
                         (long long)a->n, (long long)b->n);
    for (int64_t i = 0; i < a->n; i++) {
        if (strcmp(a->paths[i], b->paths[i]))
            return xc_errorf("'%s' and '%s' are not of the same images: image %lld is '%s' in the first and '%s' in "
                             "the second", src_name(a), src_name(b), (long long)i, a->paths[i], b->paths[i]);
        if (!a->multilabel && a->labels[i] != b->labels[i])
            return xc_errorf("'%s' and '%s' disagree on the label of image %lld '%s': '%s' and '%s'", src_name(a), src_name(b),
                             (long long)i, a->paths[i], a->classes[a->labels[i]], b->classes[b->labels[i]]);
        for (int c = 0; a->multilabel && c < a->k; c++) {
            size_t q = (size_t)i * a->k + c;
            if (a->known[q] != b->known[q] || a->targets[q] != b->targets[q])
                return xc_errorf("'%s' and '%s' disagree on the label of finding '%s' of image %lld '%s'", src_name(a),
                                 src_name(b), a->classes[c], (long long)i, a->paths[i]);
        }
    }
    return 0;
}

/* ---- statistics --------------------------------------------------------------------------- */

xc_compare_params xc_compare_default(void) {
    return (xc_compare_params){.level = 0.95, .bootstrap = 2000, .seed = 0};
}

void xc_comparison_free(xc_comparison *c) {
    if (!c) return;
    free(c->auroc_defined);
    free(c->auroc);
    memset(c, 0, sizeof *c);
}

/* The bootstrap's view of both models: scratch columns for AUROCs on a resample. */
typedef struct {
    const xc_eval_scores *e[2];
    const int *use; /* (k) the classes whose AUROC is defined on all images */
    float *col;
    uint8_t *pos;
    int64_t *cm; /* (k, k) */
} boot_ctx;

static double macro_auroc_of(const int64_t *idx, int64_t n, int which, void *vctx) {
    boot_ctx *x = vctx;
    const xc_eval_scores *e = x->e[which];
    int k = e->k, used = 0;
    double sum = 0;
    for (int c = 0; c < k; c++) {
        if (!x->use[c]) continue;
        int64_t m = 0;
        for (int64_t j = 0; j < n; j++) {
            size_t q = (size_t)idx[j] * k + c;
            if (e->multilabel && !e->known[q]) continue;
            x->col[m] = e->probs[q];
            x->pos[m++] = e->multilabel ? e->targets[q] : e->labels[idx[j]] == c;
        }
        double auc;
        if (m == 0 || xc_auroc(x->col, x->pos, m, &auc) != 0) return NAN; /* undefined on this resample */
        sum += auc;
        used++;
    }
    return used ? sum / used : NAN;
}

/* Macro F1 (mean over the classes present in the resample) and balanced accuracy (mean recall
 * over them): eval's definitions (xraycls/metrics.h). */
static void confusion_of(boot_ctx *x, const int64_t *idx, int64_t n, int which) {
    const xc_eval_scores *e = x->e[which];
    int k = e->k;
    memset(x->cm, 0, (size_t)k * k * sizeof *x->cm);
    for (int64_t j = 0; j < n; j++) x->cm[e->labels[idx[j]] * k + e->predicted[idx[j]]]++;
}

static double macro_f1_of(const int64_t *idx, int64_t n, int which, void *vctx) {
    boot_ctx *x = vctx;
    int k = x->e[which]->k, present = 0;
    confusion_of(x, idx, n, which);
    double sum = 0;
    for (int c = 0; c < k; c++) {
        int64_t tp = x->cm[c * k + c], row = 0, colsum = 0;
        for (int d = 0; d < k; d++) row += x->cm[c * k + d], colsum += x->cm[d * k + c];
        if (row == 0) continue;
        present++;
        sum += 2.0 * tp / (double)(row + colsum); /* 2TP / (2TP + FP + FN) */
    }
    return present ? sum / present : NAN;
}

static double balanced_accuracy_of(const int64_t *idx, int64_t n, int which, void *vctx) {
    boot_ctx *x = vctx;
    int k = x->e[which]->k, present = 0;
    confusion_of(x, idx, n, which);
    double sum = 0;
    for (int c = 0; c < k; c++) {
        int64_t row = 0;
        for (int d = 0; d < k; d++) row += x->cm[c * k + d];
        if (row == 0) continue;
        present++;
        sum += (double)x->cm[c * k + c] / (double)row;
    }
    return present ? sum / present : NAN;
}

int xc_compare(const xc_eval_scores *a, const xc_eval_scores *b, const xc_compare_params *p, xc_comparison *out) {
    memset(out, 0, sizeof *out);
    if (xc_eval_scores_paired(a, b) < 0) return -1;
    if (!p || p->bootstrap < 1 || !(p->level > 0 && p->level < 1)) return xc_errorf("compare: bad parameters");
    int k = a->k, rc = -1;
    int64_t n = a->n;
    out->k = k;
    out->n = n;
    out->multilabel = a->multilabel;
    out->auroc_defined = calloc((size_t)k, sizeof *out->auroc_defined);
    out->auroc = calloc((size_t)k, sizeof *out->auroc);
    boot_ctx x = {{a, b}, out->auroc_defined, malloc((size_t)n * sizeof(float)), malloc((size_t)n),
                  calloc((size_t)k * k, sizeof(int64_t))};
    float *ca = malloc((size_t)n * sizeof *ca), *cb = malloc((size_t)n * sizeof *cb);
    uint8_t *pos = malloc((size_t)n);
    if (!out->auroc_defined || !out->auroc || !x.col || !x.pos || !x.cm || !ca || !cb || !pos) {
        xc_errorf("compare: out of memory for %lld images", (long long)n);
        goto done;
    }
    /* per class: DeLong's paired test over the images whose label is known */
    int any = 0;
    for (int c = 0; c < k; c++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            size_t q = (size_t)i * k + c;
            if (a->multilabel && !a->known[q]) continue;
            ca[m] = a->probs[q];
            cb[m] = b->probs[q];
            pos[m++] = a->multilabel ? a->targets[q] : a->labels[i] == c;
        }
        int r = m ? xc_delong_paired(ca, 1, cb, 1, pos, m, p->level, &out->auroc[c]) : 1;
        if (r < 0) goto done;
        out->auroc_defined[c] = r == 0;
        any |= r == 0;
    }
    const int64_t *strata = a->multilabel ? NULL : a->labels;
    if (any) {
        if (xc_paired_bootstrap(n, strata, k, p->bootstrap, p->seed, p->level, macro_auroc_of, &x, &out->macro_auroc) < 0)
            goto done;
    } else {
        out->macro_auroc.a = out->macro_auroc.b = out->macro_auroc.diff = NAN;
        out->macro_auroc.ci_low = out->macro_auroc.ci_high = out->macro_auroc.p_value = NAN;
    }
    if (!a->multilabel) {
        int64_t right_a = 0, right_b = 0;
        for (int64_t i = 0; i < n; i++) {
            int ra = a->predicted[i] == a->labels[i], rb = b->predicted[i] == b->labels[i];
            right_a += ra;
            right_b += rb;
            out->a_right_b_wrong += ra && !rb;
            out->a_wrong_b_right += !ra && rb;
        }
        out->acc_a = (double)right_a / n;
        out->acc_b = (double)right_b / n;
        out->mcnemar_exact = out->a_right_b_wrong + out->a_wrong_b_right < MCNEMAR_EXACT_BELOW;
        if (xc_mcnemar(out->a_right_b_wrong, out->a_wrong_b_right, out->mcnemar_exact, &out->mcnemar_stat,
                       &out->mcnemar_p) < 0 ||
            xc_paired_difference_ci(out->a_right_b_wrong, out->a_wrong_b_right, n, p->level, &out->acc_diff,
                                    &out->acc_lo, &out->acc_hi) < 0)
            goto done;
        if (xc_paired_bootstrap(n, strata, k, p->bootstrap, p->seed, p->level, macro_f1_of, &x, &out->macro_f1) < 0 ||
            xc_paired_bootstrap(n, strata, k, p->bootstrap, p->seed, p->level, balanced_accuracy_of, &x,
                                &out->balanced_accuracy) < 0)
            goto done;
    }
    rc = 0;
done:
    free(x.col);
    free(x.pos);
    free(x.cm);
    free(ca);
    free(cb);
    free(pos);
    if (rc < 0) xc_comparison_free(out);
    return rc;
}

/* ---- documents ---------------------------------------------------------------------------- */

static void num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void str_or_null(cJSON *o, const char *key, const char *s) {
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *source_json(const xc_eval_scores *e) {
    cJSON *o = cJSON_CreateObject();
    str_or_null(o, "eval", e->dir);
    str_or_null(o, "model", e->model);
    str_or_null(o, "data", e->data);
    str_or_null(o, "split", e->split);
    str_or_null(o, "tta", e->tta);
    return o;
}

static cJSON *boot_json(const xc_paired_boot *t) {
    cJSON *o = cJSON_CreateObject();
    num_or_null(o, "a", t->a);
    num_or_null(o, "b", t->b);
    num_or_null(o, "diff", t->diff);
    num_or_null(o, "ci_low", t->ci_low);
    num_or_null(o, "ci_high", t->ci_high);
    num_or_null(o, "p_value", t->p_value);
    cJSON_AddStringToObject(o, "method", "bootstrap-paired");
    cJSON_AddNumberToObject(o, "resamples", t->resamples);
    cJSON_AddBoolToObject(o, "degenerate", t->degenerate);
    return o;
}

static const char *mcnemar_name(const xc_comparison *c) { return c->mcnemar_exact ? "mcnemar-exact" : "mcnemar-chi2"; }

char *xc_compare_json(const xc_eval_scores *a, const xc_eval_scores *b, const xc_comparison *c,
                      const xc_compare_params *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "format", 1);
    cJSON_AddItemToObject(o, "a", source_json(a));
    cJSON_AddItemToObject(o, "b", source_json(b));
    cJSON_AddNumberToObject(o, "n", (double)c->n);
    cJSON *cl = cJSON_AddArrayToObject(o, "classes");
    for (int i = 0; i < c->k; i++) cJSON_AddItemToArray(cl, cJSON_CreateString(a->classes[i]));
    cJSON_AddBoolToObject(o, "multilabel", c->multilabel);
    cJSON_AddNumberToObject(o, "level", p->level);
    cJSON *bs = cJSON_AddObjectToObject(o, "bootstrap");
    cJSON_AddNumberToObject(bs, "resamples", p->bootstrap);
    cJSON_AddNumberToObject(bs, "seed", (double)p->seed);
    cJSON_AddStringToObject(bs, "method", c->multilabel ? "paired percentile, the same images drawn for both models"
                                                        : "paired percentile, stratified by true class, the same "
                                                          "images drawn for both models");
    if (!c->multilabel) {
        cJSON *ac = cJSON_AddObjectToObject(o, "accuracy");
        cJSON_AddNumberToObject(ac, "a", c->acc_a);
        cJSON_AddNumberToObject(ac, "b", c->acc_b);
        cJSON_AddNumberToObject(ac, "diff", c->acc_diff);
        num_or_null(ac, "ci_low", c->acc_lo);
        num_or_null(ac, "ci_high", c->acc_hi);
        cJSON_AddStringToObject(ac, "ci_method", xc_ci_method_name(XC_CI_WALD_PAIRED));
        cJSON_AddNumberToObject(ac, "a_right_b_wrong", (double)c->a_right_b_wrong);
        cJSON_AddNumberToObject(ac, "a_wrong_b_right", (double)c->a_wrong_b_right);
        cJSON_AddStringToObject(ac, "test", mcnemar_name(c));
        cJSON_AddNumberToObject(ac, "statistic", c->mcnemar_stat);
        cJSON_AddNumberToObject(ac, "p_value", c->mcnemar_p);
    } else {
        cJSON_AddNullToObject(o, "accuracy");
    }
    cJSON *au = cJSON_AddObjectToObject(o, "auroc");
    cJSON *pc = cJSON_AddObjectToObject(au, "per_class");
    for (int i = 0; i < c->k; i++) {
        cJSON *e = cJSON_AddObjectToObject(pc, a->classes[i]);
        if (!c->auroc_defined[i]) {
            cJSON_AddTrueToObject(e, "absent");
            continue;
        }
        const xc_delong_test *t = &c->auroc[i];
        num_or_null(e, "a", t->auc_a);
        num_or_null(e, "b", t->auc_b);
        num_or_null(e, "diff", t->diff);
        num_or_null(e, "se", t->se);
        num_or_null(e, "z", t->z);
        num_or_null(e, "ci_low", t->ci_low);
        num_or_null(e, "ci_high", t->ci_high);
        num_or_null(e, "p_value", t->p_value);
        cJSON_AddStringToObject(e, "method", "delong-paired");
    }
    cJSON_AddItemToObject(au, "macro", boot_json(&c->macro_auroc));
    if (!c->multilabel) {
        cJSON_AddItemToObject(o, "macro_f1", boot_json(&c->macro_f1));
        cJSON_AddItemToObject(o, "balanced_accuracy", boot_json(&c->balanced_accuracy));
    } else {
        cJSON_AddNullToObject(o, "macro_f1");
        cJSON_AddNullToObject(o, "balanced_accuracy");
    }
    cJSON *pv = cJSON_AddObjectToObject(o, "provenance");
    str_or_null(pv, "version", p->version);
    str_or_null(pv, "utc", p->utc);
    char *s = xc_json_to_string(o, 1);
    cJSON_Delete(o);
    if (!s) xc_errorf("compare.json: out of memory");
    return s;
}

/* One row of compare.csv / compare.md. */
typedef struct {
    const char *metric, *cls;
    double a, b, diff, lo, hi, p;
    const char *method;
} row;

/* Every row, in order; *n receives their count. malloc'd. */
static row *rows_of(const xc_eval_scores *e, const xc_comparison *c, int *n) {
    row *r = calloc((size_t)c->k + 4, sizeof *r);
    if (!r) return xc_errorf("compare: out of memory"), NULL;
    int m = 0;
    if (!c->multilabel)
        r[m++] = (row){"accuracy", NULL, c->acc_a, c->acc_b, c->acc_diff, c->acc_lo, c->acc_hi, c->mcnemar_p,
                       c->mcnemar_exact ? "mcnemar-exact; interval wald-paired" : "mcnemar-chi2; interval wald-paired"};
    for (int i = 0; i < c->k; i++) {
        const xc_delong_test *t = &c->auroc[i];
        if (c->auroc_defined[i])
            r[m++] = (row){"auroc", e->classes[i], t->auc_a, t->auc_b, t->diff, t->ci_low, t->ci_high, t->p_value,
                           "delong-paired"};
        else
            r[m++] = (row){"auroc", e->classes[i], NAN, NAN, NAN, NAN, NAN, NAN, "absent"};
    }
    const xc_paired_boot *bt[3] = {&c->macro_auroc, &c->macro_f1, &c->balanced_accuracy};
    const char *names[3] = {"macro_auroc", "macro_f1", "balanced_accuracy"};
    for (int j = 0; j < (c->multilabel ? 1 : 3); j++)
        r[m++] = (row){names[j], NULL, bt[j]->a, bt[j]->b, bt[j]->diff, bt[j]->ci_low, bt[j]->ci_high, bt[j]->p_value,
                       bt[j]->degenerate ? "bootstrap-paired (degenerate)" : "bootstrap-paired"};
    *n = m;
    return r;
}

char *xc_compare_csv(const xc_eval_scores *a, const xc_comparison *c) {
    int n;
    row *r = rows_of(a, c, &n);
    if (!r) return NULL;
    xc_csv_writer w = {0};
    const char *head[] = {"metric", "class", "a", "b", "diff", "ci_low", "ci_high", "p_value", "method"};
    for (int j = 0; j < 9; j++) xc_csv_field(&w, head[j]);
    xc_csv_end_row(&w);
    for (int i = 0; i < n; i++) {
        xc_csv_field(&w, r[i].metric);
        xc_csv_field(&w, r[i].cls);
        double v[6] = {r[i].a, r[i].b, r[i].diff, r[i].lo, r[i].hi, r[i].p};
        for (int j = 0; j < 6; j++) xc_csv_num(&w, "%.9g", v[j]);
        xc_csv_field(&w, r[i].method);
        xc_csv_end_row(&w);
    }
    free(r);
    return xc_csv_take(&w, "compare.csv");
}

static void md_num(xc_strbuf *b, double v, const char *fmt) {
    if (isfinite(v)) xc_strbuf_printf(b, fmt, v);
    else xc_strbuf_puts(b, "–");
}

/* "0.0123" or "< 0.0001" */
static void md_p(xc_strbuf *b, double p) {
    if (!isfinite(p)) xc_strbuf_puts(b, "–");
    else if (p < 1e-4) xc_strbuf_puts(b, "< 0.0001");
    else xc_strbuf_printf(b, "%.4f", p);
}

static void md_source(xc_strbuf *b, const char *tag, const xc_eval_scores *e) {
    if (e->dir)
        xc_strbuf_printf(b, "- %s: `%s` (model `%s`, data `%s`, split `%s`", tag, e->dir, e->model ? e->model : "?",
                         e->data ? e->data : "?", e->split ? e->split : "?");
    else
        xc_strbuf_printf(b, "- %s: model `%s` scored on data `%s`, split `%s` (", tag, e->model ? e->model : "?",
                         e->data ? e->data : "?", e->split ? e->split : "?");
    if (e->tta) xc_strbuf_printf(b, "%stest-time augmentation %s", e->dir ? ", " : "", e->tta);
    else if (!e->dir) xc_strbuf_puts(b, "no test-time augmentation recorded");
    xc_strbuf_puts(b, ")\n");
}

char *xc_compare_markdown(const xc_eval_scores *a, const xc_eval_scores *b, const xc_comparison *c,
                          const xc_compare_params *p) {
    int n;
    row *r = rows_of(a, c, &n);
    if (!r) return NULL;
    xc_strbuf s = {0};
    xc_strbuf_printf(&s, "# Paired comparison: A − B on the same %lld images\n\n", (long long)c->n);
    md_source(&s, "A", a);
    md_source(&s, "B", b);
    xc_strbuf_printf(&s, "\n| metric | class | A | B | A − B | %g%% CI | p | method |\n|---|---|---|---|---|---|---|---|\n",
                     100 * p->level);
    for (int i = 0; i < n; i++) {
        xc_strbuf_printf(&s, "| %s | %s | ", r[i].metric, r[i].cls ? r[i].cls : "");
        md_num(&s, r[i].a, "%.4f");
        xc_strbuf_puts(&s, " | ");
        md_num(&s, r[i].b, "%.4f");
        xc_strbuf_puts(&s, " | ");
        md_num(&s, r[i].diff, "%+.4f");
        xc_strbuf_puts(&s, " | ");
        if (isfinite(r[i].lo)) xc_strbuf_printf(&s, "[%+.4f, %+.4f]", r[i].lo, r[i].hi);
        else xc_strbuf_puts(&s, "–");
        xc_strbuf_puts(&s, " | ");
        md_p(&s, r[i].p);
        xc_strbuf_printf(&s, " | %s |\n", r[i].method);
    }
    if (!c->multilabel)
        xc_strbuf_printf(&s, "\nAccuracy: %lld images right by A only, %lld by B only (McNemar's test, %s).\n",
                         (long long)c->a_right_b_wrong, (long long)c->a_wrong_b_right,
                         c->mcnemar_exact ? "exact binomial" : "χ² with continuity correction");
    xc_strbuf_printf(&s, "Bootstrap: %d paired resamples, seed %llu%s. Definitions: docs/METRICS.md.\n", p->bootstrap,
                     (unsigned long long)p->seed, c->multilabel ? "" : ", stratified by true class");
    free(r);
    return xc_strbuf_take(&s, "compare.md");
}

int xc_compare_write(const char *dir, const xc_eval_scores *a, const xc_eval_scores *b, const xc_comparison *c,
                     const xc_compare_params *p) {
    if (xc_report_write_doc(dir, "compare.csv", xc_compare_csv(a, c)) < 0) return -1;
    if (xc_report_write_doc(dir, "compare.md", xc_compare_markdown(a, b, c, p)) < 0) return -1;
    return xc_report_write_doc(dir, "compare.json", xc_compare_json(a, b, c, p));
}
