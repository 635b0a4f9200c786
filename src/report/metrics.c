/* metrics.c — classification metrics and their stratified percentile bootstrap intervals
 * (definitions in xraycls/metrics.h). Pure C: no libtorch.
 *
 * Every metric is computed from per-sample weights w[i] (how often sample i is in the sample):
 * all ones for the point estimate, bootstrap counts for a resample. AUROC then needs no
 * re-sorting per resample: each class's scores are sorted once into tie groups, and a resample
 * only re-weights the groups, which makes each resample O(N·K). */
#include "xraycls/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/rng.h"

/* ---- shared helpers ----------------------------------------------------------------------- */

xc_metrics_params xc_metrics_default(void) {
    xc_metrics_params p = {1000, 0, 0.95, XC_CI_WILSON, 0, 15};
    return p;
}

int xc_argmax(const float *row, int k) {
    int best = 0;
    for (int j = 1; j < k; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

/* One class's scores in ascending order, cut into groups of equal score. */
typedef struct {
    int64_t *order;      /* (n) sample indices, ascending score */
    int64_t *group_end;  /* (ngroups) one past the last position of each tie group */
    int64_t ngroups;
} sorted_column;

typedef struct {
    float score;
    int64_t index;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index); /* a total order: by index on ties */
}

/* column: (n) scores (contiguous), no NaN. */
static int sorted_column_init(sorted_column *c, const float *column, int64_t n) {
    keyed *tmp = malloc((size_t)n * sizeof *tmp);
    c->order = malloc((size_t)n * sizeof *c->order);
    c->group_end = malloc((size_t)n * sizeof *c->group_end);
    if (!tmp || !c->order || !c->group_end) {
        free(tmp);
        return xc_errorf("metrics: out of memory for %lld samples", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) tmp[i] = (keyed){column[i], i};
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_keyed);
    c->ngroups = 0;
    for (int64_t i = 0; i < n; i++) {
        c->order[i] = tmp[i].index;
        if (i + 1 == n || tmp[i + 1].score != tmp[i].score) c->group_end[c->ngroups++] = i + 1;
    }
    free(tmp);
    return 0;
}

static void sorted_column_free(sorted_column *c) {
    free(c->order);
    free(c->group_end);
}

/* Weighted Mann–Whitney AUROC: pos(i) says whether sample i is a positive, w(i) its weight.
 * NAN when the weighted positives or negatives are 0. */
static double auroc_weighted(const sorted_column *c, const uint8_t *pos, const double *w) {
    double neg_below = 0, pos_total = 0, sum = 0;
    int64_t start = 0;
    for (int64_t g = 0; g < c->ngroups; g++) {
        double pg = 0, ng = 0;
        for (int64_t q = start; q < c->group_end[g]; q++) {
            int64_t i = c->order[q];
            if (pos[i]) pg += w[i];
            else ng += w[i];
        }
        sum += pg * (neg_below + 0.5 * ng);
        neg_below += ng;
        pos_total += pg;
        start = c->group_end[g];
    }
    if (pos_total <= 0 || neg_below <= 0) return NAN;
    return sum / (pos_total * neg_below);
}

static int check_scores(const float *scores, int64_t count) {
    for (int64_t i = 0; i < count; i++)
        if (isnan(scores[i])) return xc_errorf("metrics: score %lld is NaN", (long long)i);
    return 0;
}

int xc_auroc(const float *scores, const uint8_t *positive, int64_t n, double *auroc) {
    if (!scores || !positive || n < 1) return xc_errorf("auroc: no samples");
    if (check_scores(scores, n) < 0) return -1;
    sorted_column c = {0};
    double *w = malloc((size_t)n * sizeof *w);
    if (!w || sorted_column_init(&c, scores, n) < 0) {
        free(w);
        sorted_column_free(&c);
        return xc_errorf("auroc: out of memory for %lld samples", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) w[i] = 1;
    double a = auroc_weighted(&c, positive, w);
    sorted_column_free(&c);
    free(w);
    if (isnan(a)) return 1;
    *auroc = a;
    return 0;
}

/* ---- the computation ---------------------------------------------------------------------- */

/* Flat layout of the metric values of one (re)sample: the five summaries, then five per class. */
enum { M_ACC, M_BAL, M_MACRO_F1, M_WEIGHTED_F1, M_MACRO_AUROC, M_SUMMARY };
enum { C_PREC, C_REC, C_F1, C_SPEC, C_AUROC, C_NPV, C_PER_CLASS };

typedef struct {
    int64_t n;
    int k;
    int multilabel;
    const float *scores;   /* (n, k) */
    const int64_t *labels; /* single-label: (n) */
    int *pred;             /* single-label: (n) argmax */
    uint8_t *pos;          /* (k, n): pos[c*n + i] = sample i is a positive of class c */
    sorted_column *cols;   /* (k) */
    double *conf;          /* (k, k) weighted confusion, scratch */
} context;

static int nvalues(int k) { return M_SUMMARY + C_PER_CLASS * k; }

/* Fills v (nvalues) from the weights; NAN marks an undefined value. */
static void evaluate(const context *cx, const double *w, double *v) {
    int k = cx->k;
    int64_t n = cx->n;
    for (int j = 0; j < nvalues(k); j++) v[j] = NAN;
    double *pc = v + M_SUMMARY;

    double auroc_sum = 0;
    int auroc_count = 0;
    for (int c = 0; c < k; c++) {
        double a = auroc_weighted(&cx->cols[c], cx->pos + (size_t)c * n, w);
        pc[c * C_PER_CLASS + C_AUROC] = a;
        if (!isnan(a)) auroc_sum += a, auroc_count++;
    }
    if (auroc_count) v[M_MACRO_AUROC] = auroc_sum / auroc_count;
    if (cx->multilabel) return;

    double *cm = cx->conf;
    memset(cm, 0, (size_t)k * k * sizeof *cm);
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (w[i] == 0) continue;
        cm[cx->labels[i] * k + cx->pred[i]] += w[i];
        total += w[i];
    }
    double correct = 0, rec_sum = 0, f1_sum = 0, f1_weighted = 0;
    int present = 0;
    for (int c = 0; c < k; c++) {
        double tp = cm[c * k + c], support = 0, predicted = 0;
        for (int j = 0; j < k; j++) support += cm[c * k + j], predicted += cm[j * k + c];
        correct += tp;
        if (support <= 0) continue; /* absent: every value stays NAN */
        double fp = predicted - tp, fn = support - tp, tn = total - tp - fp - fn;
        double *o = pc + c * C_PER_CLASS;
        o[C_PREC] = predicted > 0 ? tp / predicted : 0.0;
        o[C_REC] = tp / support;
        o[C_F1] = 2 * tp / (2 * tp + fp + fn);
        o[C_SPEC] = (tn + fp) > 0 ? tn / (tn + fp) : NAN;
        o[C_NPV] = (tn + fn) > 0 ? tn / (tn + fn) : NAN;
        present++;
        rec_sum += o[C_REC];
        f1_sum += o[C_F1];
        f1_weighted += o[C_F1] * support;
    }
    v[M_ACC] = correct / total;
    v[M_BAL] = rec_sum / present;
    v[M_MACRO_F1] = f1_sum / present;
    v[M_WEIGHTED_F1] = f1_weighted / total;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void set_metric(xc_metric *out, double point, double *boot, int stride, int b, double level,
                       double *scratch) {
    memset(out, 0, sizeof *out);
    if (isnan(point)) return;
    out->present = 1;
    out->value = point;
    int m = 0;
    for (int r = 0; r < b; r++) {
        double x = boot[(size_t)r * stride];
        if (!isnan(x)) scratch[m++] = x;
    }
    if (m == 0) return;
    qsort(scratch, (size_t)m, sizeof *scratch, cmp_double);
    out->has_ci = 1;
    out->method = XC_CI_BOOTSTRAP;
    out->ci_low = xc_quantile_sorted(scratch, m, (1 - level) / 2);
    out->ci_high = xc_quantile_sorted(scratch, m, (1 + level) / 2);
    out->degenerate = out->ci_low == out->ci_high;
}

/* Replaces a present metric's interval by the closed-form interval of x / n (none when n = 0). */
static void set_proportion(xc_metric *out, int64_t x, int64_t n, double level, xc_ci_method method) {
    if (!out->present) return;
    double lo, hi;
    out->has_ci = 0;
    out->degenerate = 0;
    out->method = XC_CI_NONE;
    if (xc_proportion_ci(x, n, level, method, &lo, &hi) != 0) return;
    out->has_ci = 1;
    out->ci_low = lo;
    out->ci_high = hi;
    out->method = method;
}

/* Replaces a present AUROC's interval by DeLong's (column c of the scores). */
static void set_delong(xc_metric *out, const context *cx, int c, double level) {
    if (!out->present) return;
    double auc, lo, hi;
    out->has_ci = 0;
    out->degenerate = 0;
    out->method = XC_CI_NONE;
    if (xc_delong_ci(cx->scores + c, cx->k, cx->pos + (size_t)c * cx->n, cx->n, level, &auc, NULL, &lo, &hi) != 0) {
        xc_error_clear(); /* cannot fail on checked input; leave the metric without an interval */
        return;
    }
    out->has_ci = 1;
    out->ci_low = lo;
    out->ci_high = hi;
    out->method = XC_CI_DELONG;
}

void xc_metrics_free(xc_metrics *m) {
    if (!m) return;
    free(m->per_class);
    free(m->confusion);
    free(m);
}

static void context_free(context *cx) {
    if (cx->cols)
        for (int c = 0; c < cx->k; c++) sorted_column_free(&cx->cols[c]);
    free(cx->cols);
    free(cx->pred);
    free(cx->pos);
    free(cx->conf);
}

/* Sorts each class's score column (scores (n, k) row-major). */
static int context_sort(context *cx, const float *scores) {
    int64_t n = cx->n;
    int k = cx->k;
    cx->cols = calloc((size_t)k, sizeof *cx->cols);
    float *column = malloc((size_t)n * sizeof *column);
    if (!cx->cols || !column) {
        free(column);
        return xc_errorf("metrics: out of memory for %lld samples", (long long)n);
    }
    for (int c = 0; c < k; c++) {
        for (int64_t i = 0; i < n; i++) column[i] = scores[i * k + c];
        if (sorted_column_init(&cx->cols[c], column, n) < 0) {
            free(column);
            return -1;
        }
    }
    free(column);
    return 0;
}

/* Average precision per class and its macro mean; with probabilities, Brier scores and the
 * top-label ECE (single-label). */
static int add_ap_calibration(xc_metrics *m, const context *cx, const xc_metrics_params *p) {
    int64_t n = cx->n;
    int k = cx->k, with_ap = 0;
    double ap_sum = 0;
    m->probabilities = p->probabilities;
    m->bins = p->bins;
    m->brier = m->ece_equal_width = m->ece_equal_mass = m->mce_equal_width = m->mce_equal_mass = NAN;
    for (int c = 0; c < k; c++) {
        xc_class_metrics *o = &m->per_class[c];
        const uint8_t *pos = cx->pos + (size_t)c * n;
        xc_curve cv = {0};
        double ap;
        memset(&o->ap, 0, sizeof o->ap);
        if (xc_curve_compute(cx->scores + c, k, pos, n, &cv) < 0) return -1;
        if (xc_curve_average_precision(&cv, &ap) == 0) {
            o->ap.present = 1;
            o->ap.value = ap;
            ap_sum += ap;
            with_ap++;
        }
        xc_curve_free(&cv);
        o->brier = p->probabilities ? xc_brier(cx->scores + c, k, pos, n) : NAN;
    }
    memset(&m->macro_ap, 0, sizeof m->macro_ap);
    if (with_ap) m->macro_ap.present = 1, m->macro_ap.value = ap_sum / with_ap;
    if (!p->probabilities || cx->multilabel) return 0;
    m->brier = xc_brier_multiclass(cx->scores, cx->labels, n, k);
    float *conf = malloc((size_t)n * sizeof *conf);
    uint8_t *right = malloc((size_t)n);
    if (!conf || !right) {
        free(conf);
        free(right);
        return xc_errorf("metrics: out of memory for %lld samples", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) {
        float c = cx->scores[i * k + cx->pred[i]];
        conf[i] = c < 0 ? 0 : c > 1 ? 1 : c; /* softmax outputs: within rounding of [0, 1] */
        right[i] = cx->pred[i] == cx->labels[i];
    }
    xc_reliability rw = {0}, rm = {0};
    int rc = xc_reliability_compute(conf, 1, right, n, p->bins, XC_BINS_EQUAL_WIDTH, &rw);
    if (rc == 0) rc = xc_reliability_compute(conf, 1, right, n, p->bins, XC_BINS_EQUAL_MASS, &rm);
    if (rc == 0) {
        m->ece_equal_width = rw.ece;
        m->mce_equal_width = rw.mce;
        m->ece_equal_mass = rm.ece;
        m->mce_equal_mass = rm.mce;
    }
    xc_reliability_free(&rw);
    xc_reliability_free(&rm);
    free(conf);
    free(right);
    return rc;
}

static xc_metrics *compute(context *cx, const xc_metrics_params *p) {
    int64_t n = cx->n;
    int k = cx->k, nv = nvalues(k), b = p->bootstrap;
    xc_metrics *m = calloc(1, sizeof *m);
    double *w = calloc((size_t)n, sizeof *w);
    double *point = malloc((size_t)nv * sizeof *point);
    double *boot = malloc(((size_t)b * nv + 1) * sizeof *boot);
    double *scratch = malloc(((size_t)b + 1) * sizeof *scratch);
    int64_t *members = malloc((size_t)n * sizeof *members);
    int64_t *class_start = calloc((size_t)k + 1, sizeof *class_start);
    if (m) m->per_class = calloc((size_t)k, sizeof *m->per_class);
    if (!m || !m->per_class || !w || !point || !boot || !scratch || !members || !class_start) {
        xc_errorf("metrics: out of memory for %lld samples", (long long)n);
        xc_metrics_free(m);
        m = NULL;
        goto done;
    }
    m->num_classes = k;
    m->n = n;
    m->multilabel = cx->multilabel;
    m->bootstrap = b;
    m->seed = p->seed;
    m->level = p->level;
    m->ci = p->ci;

    for (int64_t i = 0; i < n; i++) w[i] = 1;
    evaluate(cx, w, point);
    if (!cx->multilabel) {
        m->confusion = malloc((size_t)k * k * sizeof *m->confusion);
        if (!m->confusion) {
            xc_errorf("metrics: out of memory");
            xc_metrics_free(m);
            m = NULL;
            goto done;
        }
        for (int j = 0; j < k * k; j++) m->confusion[j] = (int64_t)cx->conf[j];
    }

    /* Strata: the samples of each true class, contiguous in `members` (one stratum of all n
     * samples for multi-label data). */
    if (cx->multilabel) {
        for (int64_t i = 0; i < n; i++) members[i] = i;
        class_start[1] = n;
        for (int c = 2; c <= k; c++) class_start[c] = n;
    } else {
        for (int64_t i = 0; i < n; i++) class_start[cx->labels[i] + 1]++;
        for (int c = 0; c < k; c++) class_start[c + 1] += class_start[c];
        int64_t *fill = malloc((size_t)k * sizeof *fill);
        if (!fill) {
            xc_errorf("metrics: out of memory");
            xc_metrics_free(m);
            m = NULL;
            goto done;
        }
        memcpy(fill, class_start, (size_t)k * sizeof *fill);
        for (int64_t i = 0; i < n; i++) members[fill[cx->labels[i]]++] = i;
        free(fill);
    }
    xc_rng r;
    xc_rng_seed(&r, p->seed);
    for (int rep = 0; rep < b; rep++) {
        memset(w, 0, (size_t)n * sizeof *w);
        for (int c = 0; c < k; c++) {
            int64_t lo = class_start[c], cnt = class_start[c + 1] - lo;
            for (int64_t d = 0; d < cnt; d++) w[members[lo + (int64_t)xc_rng_below(&r, (uint64_t)cnt)]] += 1;
        }
        evaluate(cx, w, boot + (size_t)rep * nv);
    }

    xc_metric *summary[M_SUMMARY] = {&m->accuracy, &m->balanced_accuracy, &m->macro_f1,
                                     &m->weighted_f1, &m->macro_auroc};
    for (int j = 0; j < M_SUMMARY; j++) set_metric(summary[j], point[j], boot + j, nv, b, p->level, scratch);
    for (int c = 0; c < k; c++) {
        xc_class_metrics *o = &m->per_class[c];
        xc_metric *dst[C_PER_CLASS] = {&o->precision, &o->recall, &o->f1, &o->specificity, &o->auroc, &o->npv};
        int base = M_SUMMARY + c * C_PER_CLASS;
        for (int j = 0; j < C_PER_CLASS; j++)
            set_metric(dst[j], point[base + j], boot + base + j, nv, b, p->level, scratch);
        int64_t support = 0;
        for (int64_t i = 0; i < n; i++) support += cx->pos[(size_t)c * n + i];
        o->support = support;
    }
    if (p->ci != XC_CI_BOOTSTRAP) {
        for (int c = 0; c < k; c++) set_delong(&m->per_class[c].auroc, cx, c, p->level);
        if (!cx->multilabel) {
            const int64_t *cm = m->confusion;
            int64_t correct = 0;
            for (int c = 0; c < k; c++) {
                int64_t tp = cm[c * k + c], support = 0, predicted = 0;
                for (int j = 0; j < k; j++) support += cm[c * k + j], predicted += cm[j * k + c];
                int64_t fp = predicted - tp, fn = support - tp, tn = n - tp - fp - fn;
                xc_class_metrics *o = &m->per_class[c];
                correct += tp;
                set_proportion(&o->recall, tp, support, p->level, p->ci);
                set_proportion(&o->precision, tp, predicted, p->level, p->ci);
                set_proportion(&o->specificity, tn, tn + fp, p->level, p->ci);
                set_proportion(&o->npv, tn, tn + fn, p->level, p->ci);
            }
            set_proportion(&m->accuracy, correct, n, p->level, p->ci);
        }
    }
    if (add_ap_calibration(m, cx, p) < 0) {
        xc_metrics_free(m);
        m = NULL;
    }

done:
    free(w);
    free(point);
    free(boot);
    free(scratch);
    free(members);
    free(class_start);
    return m;
}

static int check_params(const xc_metrics_params *p, int64_t n, int k) {
    if (n < 1) return xc_errorf("metrics: no samples");
    if (k < 2) return xc_errorf("metrics: %d class(es); at least 2 are needed", k);
    if (p->ci != XC_CI_WILSON && p->ci != XC_CI_CLOPPER_PEARSON && p->ci != XC_CI_BOOTSTRAP)
        return xc_errorf("metrics: '%s' is not an interval choice (wilson, clopper-pearson, bootstrap)",
                         xc_ci_method_name(p->ci));
    if (p->bins < 1 || p->bins > 1000) return xc_errorf("metrics: %d reliability bins is not in 1..1000", p->bins);
    if (p->bootstrap < 0) return xc_errorf("metrics: bootstrap resamples must be >= 0, not %d", p->bootstrap);
    if (!(p->level > 0 && p->level < 1)) return xc_errorf("metrics: interval level %g is not in (0, 1)", p->level);
    return 0;
}

xc_metrics *xc_metrics_compute(const float *scores, const int64_t *labels, int64_t n, int k,
                               const xc_metrics_params *p) {
    xc_metrics_params def = xc_metrics_default();
    if (!p) p = &def;
    if (!scores || !labels) return xc_errorf("metrics: no scores or labels"), NULL;
    if (check_params(p, n, k) < 0 || check_scores(scores, n * k) < 0) return NULL;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= k)
            return xc_errorf("metrics: label %lld of sample %lld is outside [0, %d)", (long long)labels[i],
                             (long long)i, k),
                   NULL;
    context cx = {.n = n, .k = k, .scores = scores, .labels = labels};
    cx.pred = malloc((size_t)n * sizeof *cx.pred);
    cx.pos = calloc((size_t)n * k, 1);
    cx.conf = malloc((size_t)k * k * sizeof *cx.conf);
    xc_metrics *m = NULL;
    if (!cx.pred || !cx.pos || !cx.conf) {
        xc_errorf("metrics: out of memory for %lld samples", (long long)n);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) {
        cx.pred[i] = xc_argmax(scores + i * k, k);
        cx.pos[(size_t)labels[i] * n + i] = 1;
    }
    if (context_sort(&cx, scores) < 0) goto done;
    m = compute(&cx, p);
done:
    context_free(&cx);
    return m;
}

xc_metrics *xc_metrics_compute_multilabel(const float *scores, const uint8_t *targets, int64_t n,
                                          int k, const xc_metrics_params *p) {
    xc_metrics_params def = xc_metrics_default();
    if (!p) p = &def;
    if (!scores || !targets) return xc_errorf("metrics: no scores or targets"), NULL;
    if (check_params(p, n, k) < 0 || check_scores(scores, n * k) < 0) return NULL;
    context cx = {.n = n, .k = k, .scores = scores, .multilabel = 1};
    cx.pos = malloc((size_t)n * k);
    cx.conf = malloc((size_t)k * k * sizeof *cx.conf);
    xc_metrics *m = NULL;
    if (!cx.pos || !cx.conf) {
        xc_errorf("metrics: out of memory for %lld samples", (long long)n);
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            uint8_t t = targets[i * k + c];
            if (t > 1) {
                xc_errorf("metrics: target (%lld, %d) is %d, not 0 or 1", (long long)i, c, t);
                goto done;
            }
            cx.pos[(size_t)c * n + i] = t;
        }
    if (context_sort(&cx, scores) < 0) goto done;
    m = compute(&cx, p);
done:
    context_free(&cx);
    return m;
}

/* ---- operating points ------------------------------------------------------------------------ */

/* pos (n) = labels == c. */
static void one_vs_rest(const int64_t *labels, int64_t n, int c, uint8_t *pos) {
    for (int64_t i = 0; i < n; i++) pos[i] = labels[i] == c;
}

static void set_rate(xc_metric *out, int64_t x, int64_t total, double level, xc_ci_method ci) {
    memset(out, 0, sizeof *out);
    if (total <= 0) return;
    out->present = 1;
    out->value = (double)x / (double)total;
    set_proportion(out, x, total, level, ci);
}

int xc_op_points_compute(const float *src, const int64_t *src_labels, int64_t n_src, const float *scores,
                         const int64_t *labels, int64_t n, int k, double target_sensitivity,
                         double target_specificity, double level, xc_ci_method ci, xc_op_point *out) {
    if (!src || !src_labels || !scores || !labels || !out || n_src < 1 || n < 1 || k < 2)
        return xc_errorf("operating points: bad arguments");
    if (!(target_sensitivity >= 0 && target_sensitivity <= 1) || !(target_specificity >= 0 && target_specificity <= 1))
        return xc_errorf("operating points: targets %g, %g are not in [0, 1]", target_sensitivity, target_specificity);
    if (check_scores(src, n_src * k) < 0) return -1;
    uint8_t *spos = malloc((size_t)n_src);
    if (!spos) return xc_errorf("operating points: out of memory");
    int rc = 0;
    static const xc_op_rule rules[XC_OP_RULES] = {XC_OP_YOUDEN, XC_OP_SENSITIVITY, XC_OP_SPECIFICITY};
    for (int c = 0; c < k && rc == 0; c++) {
        one_vs_rest(src_labels, n_src, c, spos);
        xc_curve cv = {0};
        if ((rc = xc_curve_compute(src + c, k, spos, n_src, &cv)) < 0) break;
        for (int r = 0; r < XC_OP_RULES; r++) {
            xc_op_point *o = &out[c * XC_OP_RULES + r];
            memset(o, 0, sizeof *o);
            o->rule = rules[r];
            o->target = r == 0 ? NAN : r == 1 ? target_sensitivity : target_specificity;
            double t;
            if (xc_operating_point(&cv, o->rule, o->target, &t) != 0) continue;
            o->defined = 1;
            o->threshold = t;
            xc_counts sc = xc_counts_at(src + c, k, spos, n_src, t);
            o->source_sensitivity = (double)sc.tp / (double)(sc.tp + sc.fn);
            o->source_specificity = (double)sc.tn / (double)(sc.tn + sc.fp);
        }
        xc_curve_free(&cv);
    }
    free(spos);
    return rc < 0 ? rc : xc_op_points_apply(out, scores, labels, n, k, level, ci);
}

int xc_op_points_apply(xc_op_point *ops, const float *scores, const int64_t *labels, int64_t n, int k, double level,
                       xc_ci_method ci) {
    if (!ops || !scores || !labels || n < 1 || k < 2) return xc_errorf("operating points: bad arguments");
    if (check_scores(scores, n * k) < 0) return -1;
    if (ci == XC_CI_BOOTSTRAP || ci == XC_CI_NONE) ci = XC_CI_WILSON;
    uint8_t *pos = malloc((size_t)n);
    if (!pos) return xc_errorf("operating points: out of memory");
    for (int c = 0; c < k; c++) {
        one_vs_rest(labels, n, c, pos);
        for (int r = 0; r < XC_OP_RULES; r++) {
            xc_op_point *o = &ops[c * XC_OP_RULES + r];
            if (!o->defined) continue;
            o->counts = xc_counts_at(scores + c, k, pos, n, o->threshold);
            set_rate(&o->sensitivity, o->counts.tp, o->counts.tp + o->counts.fn, level, ci);
            set_rate(&o->specificity, o->counts.tn, o->counts.tn + o->counts.fp, level, ci);
        }
    }
    free(pos);
    return 0;
}
