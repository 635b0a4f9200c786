/* test_metrics.c — the metrics of xraycls/metrics.h against cases computed by hand, AUROC against
 * a brute-force pair count, absent classes, multi-label data, the closed-form intervals (values
 * from statsmodels proportion_confint, quoted in place) and the bootstrap intervals. */
#include <stdint.h>

#include "check.h"
#include "xraycls/metrics.h"

/* Eight samples, three classes. Predictions (argmax) and the confusion matrix:
 *   i  label  scores            pred
 *   0  0      .7 .2 .1          0
 *   1  0      .6 .3 .1          0
 *   2  0      .2 .5 .3          1
 *   3  1      .1 .8 .1          1
 *   4  1      .3 .4 .3          1
 *   5  1      .5 .2 .3          0
 *   6  2      .1 .2 .7          2
 *   7  2      .2 .5 .3          1
 *   C = [[2 1 0] [1 2 0] [0 1 1]]           accuracy = 5/8
 *   class 0: TP 2 FP 1 FN 1 TN 4 → P 2/3, R 2/3, F1 4/6 = 2/3, specificity 4/5
 *   class 1: TP 2 FP 2 FN 1 TN 3 → P 1/2, R 2/3, F1 4/7,        specificity 3/5
 *   class 2: TP 1 FP 0 FN 1 TN 6 → P 1,   R 1/2, F1 2/3,        specificity 1
 *   balanced accuracy = (2/3 + 2/3 + 1/2) / 3 = 11/18
 *   macro F1 = (2/3 + 4/7 + 2/3) / 3 = 40/63; weighted F1 = (3·2/3 + 3·4/7 + 2·2/3) / 8 = 53/84
 *   AUROC, counting (positive, negative) pairs won + ½ tied:
 *     class 0: positives .7 .6 .2 vs negatives .1 .3 .5 .1 .2 → 5 + 5 + 2.5 = 12.5 / 15 = 5/6
 *     class 1: positives .8 .4 .2 vs negatives .2 .3 .5 .2 .5 → 5 + 3 + 1   = 9 / 15   = 3/5
 *     class 2: positives .7 .3    vs negatives .1 .1 .3 .1 .3 .3 → 6 + 4.5 = 10.5 / 12 = 7/8
 *   macro AUROC = (5/6 + 3/5 + 7/8) / 3 = 277/360 */
static const float S3[8 * 3] = {.7f, .2f, .1f, .6f, .3f, .1f, .2f, .5f, .3f, .1f, .8f, .1f,
                                .3f, .4f, .3f, .5f, .2f, .3f, .1f, .2f, .7f, .2f, .5f, .3f};
static const int64_t L3[8] = {0, 0, 0, 1, 1, 1, 2, 2};

static void test_hand_example(void) {
    xc_metrics_params p = xc_metrics_default();
    p.bootstrap = 0;
    xc_metrics *m = xc_metrics_compute(S3, L3, 8, 3, &p);
    CHECK(m != NULL);
    if (!m) return;
    const int64_t want_cm[9] = {2, 1, 0, 1, 2, 0, 0, 1, 1};
    for (int j = 0; j < 9; j++) CHECK_MSG(m->confusion[j] == want_cm[j], "cell %d: %lld", j, (long long)m->confusion[j]);
    CHECK_CLOSE(m->accuracy.value, 5.0 / 8, 1e-12, 0);
    CHECK_CLOSE(m->balanced_accuracy.value, 11.0 / 18, 1e-12, 0);
    CHECK_CLOSE(m->macro_f1.value, 40.0 / 63, 1e-12, 0);
    CHECK_CLOSE(m->weighted_f1.value, 53.0 / 84, 1e-12, 0);
    CHECK_CLOSE(m->macro_auroc.value, 277.0 / 360, 1e-12, 0);
    const double prec[3] = {2.0 / 3, 0.5, 1}, rec[3] = {2.0 / 3, 2.0 / 3, 0.5},
                 f1[3] = {2.0 / 3, 4.0 / 7, 2.0 / 3}, spec[3] = {0.8, 0.6, 1},
                 auc[3] = {5.0 / 6, 0.6, 0.875};
    const int64_t support[3] = {3, 3, 2};
    for (int c = 0; c < 3; c++) {
        const xc_class_metrics *o = &m->per_class[c];
        CHECK(o->support == support[c]);
        CHECK(o->precision.present && o->recall.present && o->f1.present && o->specificity.present && o->auroc.present);
        CHECK_CLOSE(o->precision.value, prec[c], 1e-12, 0);
        CHECK_CLOSE(o->recall.value, rec[c], 1e-12, 0);
        CHECK_CLOSE(o->f1.value, f1[c], 1e-12, 0);
        CHECK_CLOSE(o->specificity.value, spec[c], 1e-12, 0);
        CHECK_CLOSE(o->auroc.value, auc[c], 1e-12, 0);
        /* no bootstrap asked: the proportions and AUROC still have their closed-form intervals,
         * the F1 has none */
        CHECK(o->recall.has_ci && o->recall.method == XC_CI_WILSON);
        CHECK(o->auroc.has_ci && o->auroc.method == XC_CI_DELONG);
        CHECK(!o->f1.has_ci && o->f1.method == XC_CI_NONE);
    }
    /* NPV = TN / (TN + FN): class 0 4/5, class 1 3/4, class 2 6/7 */
    CHECK_CLOSE(m->per_class[0].npv.value, 0.8, 1e-12, 0);
    CHECK_CLOSE(m->per_class[1].npv.value, 0.75, 1e-12, 0);
    CHECK_CLOSE(m->per_class[2].npv.value, 6.0 / 7, 1e-12, 0);
    /* accuracy 5/8 with its Wilson interval (statsmodels proportion_confint(5, 8, method="wilson")) */
    CHECK(m->accuracy.has_ci && m->accuracy.method == XC_CI_WILSON);
    CHECK_CLOSE(m->accuracy.ci_low, 0.3057423946, 1e-9, 0);
    CHECK_CLOSE(m->accuracy.ci_high, 0.8631557142, 1e-9, 0);
    CHECK(!m->balanced_accuracy.has_ci);
    xc_metrics_free(m);
    /* recall of class 2 (1/2) by Clopper–Pearson: proportion_confint(1, 2, method="beta") */
    p.ci = XC_CI_CLOPPER_PEARSON;
    m = xc_metrics_compute(S3, L3, 8, 3, &p);
    CHECK(m && m->per_class[2].recall.method == XC_CI_CLOPPER_PEARSON);
    if (m) {
        CHECK_CLOSE(m->per_class[2].recall.ci_low, 0.0125791171, 1e-9, 0);
        CHECK_CLOSE(m->per_class[2].recall.ci_high, 0.9874208829, 1e-9, 0);
    }
    xc_metrics_free(m);
}

static void test_auroc(void) {
    /* Ties: positives .5 .7, negative .5 → (½ + 1) / 2. */
    const float s1[3] = {0.5f, 0.5f, 0.7f};
    const uint8_t y1[3] = {0, 1, 1};
    double a = -1;
    CHECK(xc_auroc(s1, y1, 3, &a) == 0);
    CHECK_CLOSE(a, 0.75, 1e-12, 0);

    const float s2[6] = {0.1f, 0.2f, 0.3f, 0.6f, 0.8f, 0.9f};
    const uint8_t y2[6] = {0, 0, 0, 1, 1, 1}, y2r[6] = {1, 1, 1, 0, 0, 0};
    CHECK(xc_auroc(s2, y2, 6, &a) == 0);
    CHECK_CLOSE(a, 1.0, 0, 0);
    CHECK(xc_auroc(s2, y2r, 6, &a) == 0);
    CHECK_CLOSE(a, 0.0, 0, 0);
    /* All scores equal: every pair tied. */
    const float s3[4] = {0.3f, 0.3f, 0.3f, 0.3f};
    const uint8_t y3[4] = {0, 1, 0, 1};
    CHECK(xc_auroc(s3, y3, 4, &a) == 0);
    CHECK_CLOSE(a, 0.5, 0, 0);
    /* Undefined without negatives / positives. */
    const uint8_t all1[3] = {1, 1, 1}, all0[3] = {0, 0, 0};
    CHECK(xc_auroc(s1, all1, 3, &a) == 1);
    CHECK(xc_auroc(s1, all0, 3, &a) == 1);
    const float bad[2] = {0.1f, NAN};
    const uint8_t y4[2] = {0, 1};
    CHECK(xc_auroc(bad, y4, 2, &a) == -1);
    CHECK_CONTAINS(xc_error(), "NaN");

    /* Against the pair count on 300 quantised scores (many ties). */
    enum { N = 300 };
    float s[N];
    uint8_t y[N];
    uint64_t x = 12345;
    for (int i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        y[i] = (uint8_t)((x >> 40) % 3 == 0);
        s[i] = (float)((x >> 20) % 11) / 10.0f + (y[i] ? 0.1f : 0.0f);
    }
    double won = 0, pairs = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (y[i] && !y[j]) {
                pairs++;
                won += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
            }
    CHECK(xc_auroc(s, y, N, &a) == 0);
    CHECK_CLOSE(a, won / pairs, 1e-12, 0);
}

/* Class 2 has no sample: it is absent, not 0, and the averages run over classes 0 and 1. */
static void test_absent_class(void) {
    const float s[4 * 3] = {.8f, .1f, .1f, .4f, .5f, .1f, .2f, .7f, .1f, .3f, .3f, .4f};
    const int64_t l[4] = {0, 0, 1, 1};
    xc_metrics_params p = xc_metrics_default();
    p.bootstrap = 200;
    xc_metrics *m = xc_metrics_compute(s, l, 4, 3, &p);
    CHECK(m != NULL);
    if (!m) return;
    /* preds 0 1 1 2: class 0 R 1/2 P 1, class 1 R 1/2 P 1/2, class 2 predicted once (FP). */
    const xc_class_metrics *c2 = &m->per_class[2];
    CHECK(c2->support == 0);
    CHECK(!c2->precision.present && !c2->recall.present && !c2->f1.present);
    CHECK(!c2->specificity.present && !c2->auroc.present);
    CHECK(!c2->recall.has_ci);
    CHECK(m->confusion[1 * 3 + 2] == 1);
    CHECK_CLOSE(m->accuracy.value, 0.5, 1e-12, 0);
    CHECK_CLOSE(m->balanced_accuracy.value, 0.5, 1e-12, 0);
    /* F1: class 0 2/(2+0+1) = 2/3, class 1 2/(2+1+1) = 1/2 → macro 7/12 (not divided by 3). */
    CHECK_CLOSE(m->macro_f1.value, 7.0 / 12, 1e-12, 0);
    CHECK_CLOSE(m->weighted_f1.value, 7.0 / 12, 1e-12, 0);
    /* AUROC class 0: positives .8 .4 vs negatives .2 .3 → 1; class 1: positives .7 .3 vs
     * negatives .1 .5 → 3/4. Macro over the two = 7/8. */
    CHECK_CLOSE(m->per_class[0].auroc.value, 1.0, 0, 0);
    CHECK_CLOSE(m->per_class[1].auroc.value, 0.75, 1e-12, 0);
    CHECK_CLOSE(m->macro_auroc.value, 0.875, 1e-12, 0);
    xc_metrics_free(m);
}

/* A class that is never predicted has precision 0 (present), not absent. */
static void test_never_predicted(void) {
    const float s[3 * 2] = {.9f, .1f, .8f, .2f, .6f, .4f};
    const int64_t l[3] = {0, 0, 1};
    xc_metrics_params p = xc_metrics_default();
    p.bootstrap = 0;
    xc_metrics *m = xc_metrics_compute(s, l, 3, 2, &p);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->per_class[1].precision.present);
    CHECK_CLOSE(m->per_class[1].precision.value, 0, 0, 0);
    CHECK_CLOSE(m->per_class[1].f1.value, 0, 0, 0);
    CHECK_CLOSE(m->per_class[1].specificity.value, 1, 0, 0);
    CHECK_CLOSE(m->per_class[1].auroc.value, 1, 0, 0); /* .4 beats .1 and .2 */
    xc_metrics_free(m);
}

/* 400 noisy samples: intervals contain the point estimate, are reproducible for a seed and move
 * with the seed; stratification keeps a one-sample class's recall at 0 or 1. */
static void test_bootstrap(void) {
    enum { N = 400, K = 3 };
    static float s[N * K];
    static int64_t l[N];
    uint64_t x = 99;
    for (int i = 0; i < N; i++) {
        l[i] = i == 0 ? 2 : 1 + (i % 2 == 0 ? -1 : 0); /* one sample of class 2 */
        for (int c = 0; c < K; c++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            s[i * K + c] = (float)((x >> 33) % 1000) / 1000.0f + (c == l[i] ? 0.4f : 0.0f);
        }
    }
    xc_metrics_params p = xc_metrics_default();
    p.ci = XC_CI_BOOTSTRAP; /* every interval by the bootstrap */
    p.seed = 7;
    xc_metrics *a = xc_metrics_compute(s, l, N, K, &p), *b = xc_metrics_compute(s, l, N, K, &p);
    p.seed = 8;
    xc_metrics *c = xc_metrics_compute(s, l, N, K, &p);
    CHECK(a && b && c);
    if (!a || !b || !c) goto done;
    CHECK(a->bootstrap == 1000);
    const xc_metric *ma[5] = {&a->accuracy, &a->balanced_accuracy, &a->macro_f1, &a->weighted_f1, &a->macro_auroc};
    const xc_metric *mb[5] = {&b->accuracy, &b->balanced_accuracy, &b->macro_f1, &b->weighted_f1, &b->macro_auroc};
    for (int j = 0; j < 5; j++) {
        CHECK(ma[j]->present && ma[j]->has_ci);
        CHECK_MSG(ma[j]->ci_low <= ma[j]->value && ma[j]->value <= ma[j]->ci_high, "metric %d: %g not in [%g, %g]",
                  j, ma[j]->value, ma[j]->ci_low, ma[j]->ci_high);
        CHECK(ma[j]->ci_low < ma[j]->ci_high);
        CHECK(ma[j]->ci_low == mb[j]->ci_low && ma[j]->ci_high == mb[j]->ci_high);
    }
    /* Another seed draws other resamples (accuracy takes few values, so the AUROC shows it). */
    CHECK(a->macro_auroc.ci_low != c->macro_auroc.ci_low || a->macro_auroc.ci_high != c->macro_auroc.ci_high);
    CHECK(a->accuracy.value == c->accuracy.value);
    /* 95 % interval of an accuracy near 0.8 on 400 samples: about ±0.04. */
    CHECK(a->accuracy.ci_high - a->accuracy.ci_low > 0.03 && a->accuracy.ci_high - a->accuracy.ci_low < 0.12);
    const xc_metric *r2 = &a->per_class[2].recall;
    CHECK(r2->present && r2->has_ci);
    CHECK((r2->ci_low == 0 || r2->ci_low == 1) && (r2->ci_high == 0 || r2->ci_high == 1));
    CHECK(r2->ci_low == r2->value && r2->ci_high == r2->value); /* the one sample is always drawn */
    CHECK(r2->degenerate && r2->method == XC_CI_BOOTSTRAP); /* and that is said */
    CHECK(!a->accuracy.degenerate);
    /* by default that recall gets a Wilson interval of its 1 sample instead: wide, not a point */
    p.ci = XC_CI_WILSON;
    xc_metrics *w = xc_metrics_compute(s, l, N, K, &p);
    CHECK(w != NULL);
    if (w) {
        const xc_metric *wr = &w->per_class[2].recall;
        CHECK(wr->method == XC_CI_WILSON && !wr->degenerate && wr->ci_high - wr->ci_low > 0.5);
    }
    xc_metrics_free(w);
done:
    xc_metrics_free(a);
    xc_metrics_free(b);
    xc_metrics_free(c);
}

/* Perfect predictions: every resample is perfect, so a bootstrap interval collapses to [1, 1]
 * (and says so); the default Wilson interval of 4/4 does not. */
static void test_perfect(void) {
    const float s[4 * 2] = {.9f, .1f, .7f, .3f, .2f, .8f, .4f, .6f};
    const int64_t l[4] = {0, 0, 1, 1};
    xc_metrics_params p = xc_metrics_default();
    p.ci = XC_CI_BOOTSTRAP;
    xc_metrics *m = xc_metrics_compute(s, l, 4, 2, &p);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->accuracy.value == 1 && m->accuracy.ci_low == 1 && m->accuracy.ci_high == 1);
    CHECK(m->accuracy.degenerate);
    CHECK(m->macro_auroc.value == 1 && m->macro_auroc.ci_low == 1 && m->macro_auroc.degenerate);
    xc_metrics_free(m);
    m = xc_metrics_compute(s, l, 4, 2, NULL);
    CHECK(m != NULL);
    if (!m) return;
    /* proportion_confint(4, 4, method="wilson") = (0.51010, 1) */
    CHECK(m->accuracy.method == XC_CI_WILSON && m->accuracy.ci_high == 1 && !m->accuracy.degenerate);
    CHECK_CLOSE(m->accuracy.ci_low, 0.5101091635, 1e-9, 0);
    xc_metrics_free(m);
}

/* All wrong, and a single image. */
static void test_all_wrong_and_single(void) {
    const float s[4 * 2] = {.1f, .9f, .3f, .7f, .8f, .2f, .6f, .4f};
    const int64_t l[4] = {0, 0, 1, 1};
    xc_metrics *m = xc_metrics_compute(s, l, 4, 2, NULL);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->accuracy.value == 0 && m->accuracy.ci_low == 0 && m->accuracy.ci_high > 0.4);
    CHECK(m->per_class[0].auroc.value == 0 && m->per_class[0].auroc.method == XC_CI_DELONG);
    xc_metrics_free(m);
    const float one[2] = {.3f, .7f};
    const int64_t l1[1] = {1};
    m = xc_metrics_compute(one, l1, 1, 2, NULL);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->accuracy.value == 1 && m->accuracy.ci_high == 1 && m->accuracy.ci_low < 0.25);
    CHECK(!m->per_class[0].recall.present);         /* class 0 absent */
    CHECK(!m->per_class[1].auroc.present);          /* no negative: AUROC undefined */
    CHECK(!m->per_class[1].specificity.present);
    xc_metrics_free(m);
}

static void test_multilabel(void) {
    /* Class 0: positives .9 .6 vs negatives .4 .1 → 1. Class 1: positives .3 vs .8 .2 .5 → 1/3.
     * Class 2: no positive → absent. */
    const float s[4 * 3] = {.9f, .8f, .1f, .6f, .3f, .2f, .4f, .2f, .3f, .1f, .5f, .4f};
    const uint8_t t[4 * 3] = {1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    xc_metrics *m = xc_metrics_compute_multilabel(s, t, 4, 3, NULL);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(m->multilabel && m->confusion == NULL);
    CHECK(!m->accuracy.present && !m->macro_f1.present && !m->per_class[0].recall.present);
    CHECK_CLOSE(m->per_class[0].auroc.value, 1, 0, 0);
    CHECK_CLOSE(m->per_class[1].auroc.value, 1.0 / 3, 1e-12, 0);
    CHECK(!m->per_class[2].auroc.present);
    CHECK(m->per_class[0].support == 2 && m->per_class[1].support == 1 && m->per_class[2].support == 0);
    CHECK_CLOSE(m->macro_auroc.value, 2.0 / 3, 1e-12, 0);
    /* Plain resampling of 4 samples loses class 1's positive in some resamples: those are left
     * out, the rest still give an interval. */
    CHECK(m->per_class[1].auroc.has_ci);
    xc_metrics_free(m);
    const uint8_t bad[4 * 3] = {2};
    CHECK(xc_metrics_compute_multilabel(s, bad, 4, 3, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "not 0 or 1");
}

static void test_bad_input(void) {
    const int64_t l[8] = {0, 0, 0, 1, 1, 1, 2, 3};
    CHECK(xc_metrics_compute(S3, l, 8, 3, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "label 3 of sample 7");
    CHECK(xc_metrics_compute(S3, L3, 8, 1, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "at least 2");
    CHECK(xc_metrics_compute(S3, L3, 0, 3, NULL) == NULL);
    xc_metrics_params p = xc_metrics_default();
    p.level = 1.5;
    CHECK(xc_metrics_compute(S3, L3, 8, 3, &p) == NULL);
    CHECK_CONTAINS(xc_error(), "level");
    float s[24];
    for (int i = 0; i < 24; i++) s[i] = S3[i];
    s[5] = NAN;
    CHECK(xc_metrics_compute(s, L3, 8, 3, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "score 5 is NaN");
    const float row[4] = {0.2f, 0.5f, 0.5f, 0.1f};
    CHECK(xc_argmax(row, 4) == 1);
}

int main(void) {
    test_hand_example();
    test_auroc();
    test_absent_class();
    test_never_predicted();
    test_bootstrap();
    test_perfect();
    test_all_wrong_and_single();
    test_multilabel();
    test_bad_input();
    return check_done("test_metrics");
}
