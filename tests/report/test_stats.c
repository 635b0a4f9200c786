/* test_stats.c — xraycls/stats.h against tests/golden/report/stats.json (scikit-learn,
 * statsmodels, scipy and a direct O(m·n) DeLong; scripts/make_report_golden.py), plus the edge
 * cases: a single image, no positives, all tied, all right, all wrong. */
#include <stdint.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "xraycls/json.h"
#include "xraycls/stats.h"

static cJSON *G;

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double num(const cJSON *o, const char *k) { return cJSON_GetNumberValue(get(o, k)); }

/* A JSON array of numbers as malloc'd doubles (null → NaN); *len its length. */
static double *darr(const cJSON *a, int *len) {
    int n = cJSON_GetArraySize(a);
    double *v = malloc(((size_t)n + 1) * sizeof *v);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(a, i);
        v[i] = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    }
    *len = n;
    return v;
}

static void test_distributions(void) {
    const cJSON *nm = get(G, "normal");
    int np, nq, nz, nc;
    double *p = darr(get(nm, "p"), &np), *q = darr(get(nm, "quantile"), &nq);
    double *z = darr(get(nm, "z"), &nz), *c = darr(get(nm, "cdf"), &nc);
    CHECK(np == nq && np > 5 && nz == nc);
    for (int i = 0; i < np; i++) CHECK_CLOSE(xc_normal_quantile(p[i]), q[i], 1e-13, 1e-13);
    for (int i = 0; i < nz; i++) CHECK_CLOSE(xc_normal_cdf(z[i]), c[i], 1e-300, 1e-12);
    free(p), free(q), free(z), free(c);
    const cJSON *b;
    int count = 0;
    cJSON_ArrayForEach(b, get(G, "beta")) {
        double a = num(b, "a"), bb = num(b, "b"), x = num(b, "x");
        CHECK_CLOSE(xc_beta_inc(a, bb, x), num(b, "inc"), 1e-14, 1e-11);
        CHECK_CLOSE(xc_beta_quantile(num(b, "p"), a, bb), num(b, "q"), 1e-13, 1e-9);
        count++;
    }
    CHECK(count >= 5);
}

static void test_proportions(void) {
    const cJSON *e;
    int count = 0;
    cJSON_ArrayForEach(e, get(G, "proportions")) {
        int64_t x = (int64_t)num(e, "x"), n = (int64_t)num(e, "n");
        double level = num(e, "level"), lo, hi;
        const cJSON *w = get(e, "wilson"), *b = get(e, "clopper_pearson");
        CHECK(xc_proportion_ci(x, n, level, XC_CI_WILSON, &lo, &hi) == 0);
        CHECK_CLOSE(lo, cJSON_GetArrayItem(w, 0)->valuedouble, 1e-12, 1e-10);
        CHECK_CLOSE(hi, cJSON_GetArrayItem(w, 1)->valuedouble, 1e-12, 1e-10);
        CHECK(lo >= 0 && hi <= 1 && lo <= (double)x / n && hi >= (double)x / n);
        CHECK(xc_proportion_ci(x, n, level, XC_CI_CLOPPER_PEARSON, &lo, &hi) == 0);
        CHECK_CLOSE(lo, cJSON_GetArrayItem(b, 0)->valuedouble, 1e-11, 1e-8);
        CHECK_CLOSE(hi, cJSON_GetArrayItem(b, 1)->valuedouble, 1e-11, 1e-8);
        /* the edges: an interval never collapses to a point at 0 or 1 */
        if (x == 0) CHECK(lo == 0 && hi > 0);
        if (x == n) CHECK(hi == 1 && lo < 1);
        count++;
    }
    CHECK(count >= 20);
    double lo, hi;
    CHECK(xc_proportion_ci(0, 0, 0.95, XC_CI_WILSON, &lo, &hi) == 1);
    CHECK(xc_proportion_ci(3, 2, 0.95, XC_CI_WILSON, &lo, &hi) == -1);
    CHECK(xc_proportion_ci(1, 2, 1.5, XC_CI_WILSON, &lo, &hi) == -1);
    CHECK(xc_proportion_ci(1, 2, 0.95, XC_CI_DELONG, &lo, &hi) == -1);
}

static void test_column(const cJSON *cs) {
    const char *name = cJSON_GetStringValue(get(cs, "name"));
    int n, nl;
    double *sd = darr(get(cs, "scores"), &n), *ld = darr(get(cs, "labels"), &nl);
    float *s = malloc((size_t)n * sizeof *s);
    uint8_t *y = malloc((size_t)n);
    for (int i = 0; i < n; i++) s[i] = (float)sd[i], y[i] = ld[i] != 0;
    xc_curve c;
    CHECK(xc_curve_compute(s, 1, y, n, &c) == 0);
    double auc, ap;
    if (get(cs, "auroc")) {
        CHECK(xc_curve_auroc(&c, &auc) == 0);
        CHECK_MSG(fabs(auc - num(cs, "auroc")) < 1e-12, "%s: auroc %.12g vs %.12g", name, auc, num(cs, "auroc"));
        CHECK(xc_curve_average_precision(&c, &ap) == 0);
        CHECK_MSG(fabs(ap - num(cs, "average_precision")) < 1e-12, "%s: AP %.12g vs %.12g", name, ap,
                  num(cs, "average_precision"));
        /* ROC points = roc_curve(drop_intermediate=False): same count and order */
        const cJSON *roc = get(cs, "roc");
        int nf, nt, nth;
        double *fpr = darr(get(roc, "fpr"), &nf), *tpr = darr(get(roc, "tpr"), &nt), *thr = darr(get(roc, "threshold"), &nth);
        CHECK_MSG(nf == c.n, "%s: %d ROC points vs %lld", name, nf, (long long)c.n);
        for (int i = 0; i < nf && i < c.n; i++) {
            CHECK_CLOSE((double)c.fp[i] / c.nneg, fpr[i], 1e-15, 0);
            CHECK_CLOSE((double)c.tp[i] / c.npos, tpr[i], 1e-15, 0);
            if (i > 0) CHECK(c.threshold[i] == thr[i]);
        }
        CHECK(isinf(c.threshold[0]));
        free(fpr), free(tpr), free(thr);
        /* PR points: precision_recall_curve lists thresholds ascending and ends with (P 1, R 0);
         * ours run descending from the +inf point. */
        const cJSON *pr = get(cs, "pr");
        int npp, nr, npt;
        double *prec = darr(get(pr, "precision"), &npp), *rec = darr(get(pr, "recall"), &nr),
               *pth = darr(get(pr, "threshold"), &npt);
        CHECK_MSG(npt == c.n - 1, "%s: %d PR thresholds vs %lld", name, npt, (long long)c.n - 1);
        for (int j = 0; j < npt && j + 1 < c.n; j++) {
            int64_t i = c.n - 1 - j; /* our point of sklearn's j-th threshold */
            CHECK(c.threshold[i] == pth[j]);
            CHECK_CLOSE((double)c.tp[i] / (c.tp[i] + c.fp[i]), prec[j], 1e-15, 0);
            CHECK_CLOSE((double)c.tp[i] / c.npos, rec[j], 1e-15, 0);
        }
        free(prec), free(rec), free(pth);

        /* DeLong: the midrank algorithm against the direct pair kernel */
        int na;
        double *dauc = darr(get(cs, "delong_auc"), &na);
        const cJSON *dcov = get(cs, "delong_cov");
        double a1, cov1, lo, hi, se;
        const float *col = s;
        CHECK(xc_delong(&col, 1, 1, y, n, &a1, &cov1) == 0);
        CHECK_CLOSE(a1, dauc[0], 1e-12, 0);
        CHECK_MSG(fabs(cov1 - cJSON_GetArrayItem(cJSON_GetArrayItem(dcov, 0), 0)->valuedouble) < 1e-14,
                  "%s: var %.12g", name, cov1);
        CHECK(xc_delong_ci(s, 1, y, n, 0.95, &a1, &se, &lo, &hi) == 0);
        CHECK_CLOSE(se, sqrt(cov1), 1e-14, 1e-12);
        CHECK(lo >= 0 && hi <= 1 && lo <= a1 && a1 <= hi);
        if (get(cs, "scores_b")) {
            int nb;
            double *bd = darr(get(cs, "scores_b"), &nb);
            float *sb = malloc((size_t)n * sizeof *sb);
            for (int i = 0; i < n; i++) sb[i] = (float)bd[i];
            const float *cols[2] = {s, sb};
            double a2[2], cov2[4];
            CHECK(xc_delong(cols, 2, 1, y, n, a2, cov2) == 0);
            for (int r = 0; r < 2; r++) {
                CHECK_CLOSE(a2[r], dauc[r], 1e-12, 0);
                for (int q = 0; q < 2; q++)
                    CHECK_CLOSE(cov2[r * 2 + q],
                                cJSON_GetArrayItem(cJSON_GetArrayItem(dcov, r), q)->valuedouble, 1e-14, 1e-10);
            }
            xc_delong_test t;
            CHECK(xc_delong_paired(s, 1, sb, 1, y, n, 0.95, &t) == 0);
            CHECK_CLOSE(t.diff, dauc[0] - dauc[1], 1e-12, 0);
            if (get(cs, "delong_z")) {
                CHECK_CLOSE(t.z, num(cs, "delong_z"), 1e-9, 1e-9);
                CHECK_CLOSE(t.p_value, num(cs, "delong_p"), 1e-12, 1e-9);
            }
            CHECK(t.ci_low <= t.diff && t.diff <= t.ci_high);
            free(sb);
            free(bd);
        }
        free(dauc);
    } else {
        CHECK(xc_curve_auroc(&c, &auc) == 1);
        const float *col = s;
        double a1;
        CHECK(xc_delong(&col, 1, 1, y, n, &a1, NULL) == 1);
    }

    if (get(cs, "brier")) {
        CHECK_CLOSE(xc_brier(s, 1, y, n), num(cs, "brier"), 1e-14, 1e-12);
        const cJSON *cal = get(cs, "calibration"), *e;
        cJSON_ArrayForEach(e, cal) {
            xc_bin_scheme sch = !strncmp(e->string, "equal-mass", 10) ? XC_BINS_EQUAL_MASS : XC_BINS_EQUAL_WIDTH;
            int nb = atoi(strrchr(e->string, '-') + 1);
            xc_reliability r;
            CHECK(xc_reliability_compute(s, 1, y, n, nb, sch, &r) == 0);
            int nfp, nmp, ncnt;
            double *fp = darr(get(e, "frac_pos"), &nfp), *mp = darr(get(e, "mean_prob"), &nmp),
                   *cnt = darr(get(e, "count"), &ncnt);
            int j = 0; /* sklearn lists the non-empty bins only */
            for (int b = 0; b < r.nbins; b++) {
                if (r.count[b] == 0) continue;
                CHECK_MSG(j < nfp, "%s %s: more non-empty bins than calibration_curve", name, e->string);
                if (j >= nfp) break;
                CHECK_MSG((double)r.count[b] == cnt[j], "%s %s bin %d: %lld vs %g", name, e->string, b,
                          (long long)r.count[b], cnt[j]);
                CHECK_CLOSE(r.frac_pos[b], fp[j], 1e-14, 1e-12);
                CHECK_CLOSE(r.mean_prob[b], mp[j], 1e-12, 1e-9);
                j++;
            }
            CHECK_MSG(j == nfp, "%s %s: %d bins vs %d", name, e->string, j, nfp);
            CHECK_CLOSE(r.ece, num(e, "ece"), 1e-12, 1e-9);
            free(fp), free(mp), free(cnt);
            xc_reliability_free(&r);
        }
    }
    xc_curve_free(&c);
    free(s), free(y), free(sd), free(ld);
}

static void test_columns(void) {
    const cJSON *cs;
    int count = 0;
    cJSON_ArrayForEach(cs, get(G, "columns")) {
        test_column(cs);
        count++;
    }
    CHECK(count >= 8);
}

static void test_operating_points(void) {
    /* 6 negatives 0.1..0.6, 4 positives 0.5..0.8 (ties at 0.5 and 0.6 across the classes):
     *   thr   tp fp  tpr   spec   J
     *   inf   0  0   0     1      0
     *   .8    1  0   .25   1      .25
     *   .7    2  0   .5    1      .5
     *   .6    3  1   .75   5/6    .5833  ← Youden
     *   .5    4  2   1     4/6    .6667  ← Youden (max)
     *   .4    4  3   1     .5
     *   ...                                                                        */
    const float s[10] = {.1f, .2f, .3f, .4f, .5f, .6f, .5f, .6f, .7f, .8f};
    const uint8_t y[10] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1};
    xc_curve c;
    CHECK(xc_curve_compute(s, 1, y, 10, &c) == 0);
    double t;
    CHECK(xc_operating_point(&c, XC_OP_YOUDEN, 0, &t) == 0);
    CHECK(t == .5f);
    CHECK(xc_operating_point(&c, XC_OP_SENSITIVITY, 0.75, &t) == 0);
    CHECK(t == .6f);
    CHECK(xc_operating_point(&c, XC_OP_SENSITIVITY, 0.5, &t) == 0);
    CHECK(t == .7f);
    CHECK(xc_operating_point(&c, XC_OP_SPECIFICITY, 1.0, &t) == 0);
    CHECK(t == .7f);
    CHECK(xc_operating_point(&c, XC_OP_SPECIFICITY, 0.8, &t) == 0);
    CHECK(t == .6f);
    xc_counts k = xc_counts_at(s, 1, y, 10, .6f);
    CHECK(k.tp == 3 && k.fp == 1 && k.tn == 5 && k.fn == 1);
    k = xc_counts_at(s, 1, y, 10, INFINITY);
    CHECK(k.tp == 0 && k.fp == 0 && k.tn == 6 && k.fn == 4);
    xc_curve_free(&c);
    /* no negatives: undefined, not an error */
    const uint8_t all[3] = {1, 1, 1};
    CHECK(xc_curve_compute(s, 1, all, 3, &c) == 0);
    CHECK(xc_operating_point(&c, XC_OP_YOUDEN, 0, &t) == 1);
    xc_curve_free(&c);
}

static void test_temperature(void) {
    const cJSON *tc = get(G, "temperature");
    int n = (int)num(tc, "n"), k = (int)num(tc, "k"), nl, nlab;
    double *ld = darr(get(tc, "logits"), &nl), *lab = darr(get(tc, "labels"), &nlab);
    CHECK(nl == n * k && nlab == n);
    float *z = malloc((size_t)nl * sizeof *z);
    int64_t *y = malloc((size_t)n * sizeof *y);
    for (int i = 0; i < nl; i++) z[i] = (float)ld[i];
    for (int i = 0; i < n; i++) y[i] = (int64_t)lab[i];
    double t;
    CHECK(xc_fit_temperature(z, y, n, k, &t) == 0);
    CHECK_CLOSE(t, num(tc, "temperature"), 1e-6, 1e-6);
    CHECK_CLOSE(xc_softmax_nll(z, y, n, k, t), num(tc, "nll_at_t"), 1e-10, 1e-9);
    CHECK_CLOSE(xc_softmax_nll(z, y, n, k, 1), num(tc, "nll_at_1"), 1e-10, 1e-10);
    CHECK(t > 1); /* the logits were made over-confident */
    /* separable data: the NLL falls all the way; T at its lower bound, not a failure */
    const float sep[4] = {5, -5, -5, 5};
    const int64_t sl[2] = {0, 1};
    CHECK(xc_fit_temperature(sep, sl, 2, 2, &t) == 0);
    CHECK_CLOSE(t, 0.01, 1e-12, 0);
    const int64_t bad[2] = {0, 2};
    CHECK(xc_fit_temperature(sep, bad, 2, 2, &t) == -1);
    free(z), free(y), free(ld), free(lab);
}

static void test_mcnemar(void) {
    const cJSON *e;
    int count = 0;
    cJSON_ArrayForEach(e, get(G, "mcnemar")) {
        int64_t b = (int64_t)num(e, "b"), c = (int64_t)num(e, "c");
        double st, p;
        CHECK(xc_mcnemar(b, c, 1, &st, &p) == 0);
        CHECK_CLOSE(st, num(e, "exact_stat"), 1e-12, 0);
        CHECK_MSG(fabs(p - num(e, "exact_p")) <= 1e-12 + 1e-9 * num(e, "exact_p"), "b %lld c %lld: %.12g vs %.12g",
                  (long long)b, (long long)c, p, num(e, "exact_p"));
        if (b + c > 0) {
            CHECK(xc_mcnemar(b, c, 0, &st, &p) == 0);
            CHECK_CLOSE(st, num(e, "chi2_stat"), 1e-12, 1e-12);
            CHECK_CLOSE(p, num(e, "chi2_p"), 1e-14, 1e-10);
        }
        count++;
    }
    CHECK(count >= 5);
    double d, lo, hi;
    CHECK(xc_paired_difference_ci(10, 4, 100, 0.95, &d, &lo, &hi) == 0);
    CHECK_CLOSE(d, 0.06, 1e-15, 0);
    /* se = sqrt(14 - 36/100)/100 */
    CHECK_CLOSE(hi - d, 1.959963984540054 * sqrt(14 - 0.36) / 100, 1e-12, 0);
    CHECK(xc_paired_difference_ci(0, 0, 0, 0.95, &d, &lo, &hi) == 1);
}

static void test_brier_multiclass(void) {
    const cJSON *e = get(G, "brier_multiclass");
    int n = (int)num(e, "n"), k = (int)num(e, "k"), np, nl;
    double *pd = darr(get(e, "probs"), &np), *ld = darr(get(e, "labels"), &nl);
    float *p = malloc((size_t)np * sizeof *p);
    int64_t *y = malloc((size_t)n * sizeof *y);
    for (int i = 0; i < np; i++) p[i] = (float)pd[i];
    for (int i = 0; i < n; i++) y[i] = (int64_t)ld[i];
    CHECK_CLOSE(xc_brier_multiclass(p, y, n, k), num(e, "brier"), 1e-12, 1e-10);
    free(p), free(y), free(pd), free(ld);
}

static void test_bad_input(void) {
    const float s[3] = {0.1f, NAN, 0.3f};
    const uint8_t y[3] = {0, 1, 1};
    xc_curve c;
    CHECK(xc_curve_compute(s, 1, y, 3, &c) == -1);
    CHECK_CONTAINS(xc_error(), "NaN");
    xc_reliability r;
    const float big[2] = {0.5f, 1.5f};
    CHECK(xc_reliability_compute(big, 1, y, 2, 10, XC_BINS_EQUAL_WIDTH, &r) == -1);
    CHECK_CONTAINS(xc_error(), "not in [0, 1]");
}

int main(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/report/stats.json", check_srcdir());
    G = xc_json_read_file(path, 64u << 20);
    CHECK_MSG(G != NULL, "%s: %s", path, xc_error());
    if (!G) return check_done("test_stats");
    test_distributions();
    test_proportions();
    test_columns();
    test_operating_points();
    test_temperature();
    test_mcnemar();
    test_brier_multiclass();
    test_bad_input();
    cJSON_Delete(G);
    return check_done("test_stats");
}
