/* test_metrics_findings.c — the per-finding evaluation of multi-label models
 * (xraycls/metrics_findings.h) against tests/golden/report/findings.json (scikit-learn's
 * roc_auc_score / average_precision_score / roc_curve, statsmodels' Wilson intervals, a direct
 * DeLong; scripts/make_findings_golden.py): thresholds chosen on a validation split by Youden's
 * J with the 0.5 fallback for a finding without known positives, per-finding AUROC with DeLong's
 * standard error, AP, counts, sensitivity and specificity at those thresholds, macro and micro
 * means with masked entries left out, sklearn's micro/macro averages when nothing is masked,
 * the documents, and reading the thresholds back. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "xraycls/json.h"
#include "xraycls/metrics_findings.h"

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double num(const cJSON *o, const char *k) { return cJSON_GetNumberValue(get(o, k)); }

static float *farr(const cJSON *a) {
    int n = cJSON_GetArraySize(a);
    float *v = malloc((size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = (float)cJSON_GetArrayItem(a, i)->valuedouble;
    return v;
}

static uint8_t *barr(const cJSON *a) {
    int n = cJSON_GetArraySize(a);
    uint8_t *v = malloc((size_t)n);
    for (int i = 0; i < n; i++) v[i] = (uint8_t)cJSON_GetArrayItem(a, i)->valueint;
    return v;
}

int main(void) {
    char gpath[1024];
    snprintf(gpath, sizeof gpath, "%s/tests/golden/report/findings.json", check_srcdir());
    cJSON *G = xc_json_read_file(gpath, 16u << 20);
    CHECK_MSG(G != NULL, "%s", xc_error());
    if (!G) return check_done("report_test_metrics_findings");
    int k = (int)num(G, "k");
    const cJSON *val = get(G, "val"), *test = get(G, "test");
    float *pv = farr(get(val, "probs")), *pt = farr(get(test, "probs"));
    uint8_t *yv = barr(get(val, "targets")), *mv = barr(get(val, "mask"));
    uint8_t *yt = barr(get(test, "targets")), *mt = barr(get(test, "mask"));
    int64_t nv = (int64_t)num(val, "n"), nt = (int64_t)num(test, "n");

    double thr[8];
    int chosen[8];
    CHECK(xc_findings_thresholds(pv, yv, mv, nv, k, XC_OP_YOUDEN, 0, thr, chosen) == 0);
    for (int c = 0; c < k; c++) {
        CHECK_CLOSE(thr[c], cJSON_GetArrayItem(get(G, "thresholds"), c)->valuedouble, 1e-12, 0);
        CHECK(chosen[c] == cJSON_IsTrue(cJSON_GetArrayItem(get(G, "chosen"), c)));
    }

    xc_findings_metrics *m = xc_findings_metrics_compute(pt, yt, mt, nt, k, thr, chosen, 0.95);
    CHECK_MSG(m != NULL, "%s", xc_error());
    if (!m) return check_done("report_test_metrics_findings");
    for (int c = 0; c < k; c++) {
        const cJSON *g = cJSON_GetArrayItem(get(G, "per_finding"), c);
        const xc_finding_metrics *f = &m->per[c];
        CHECK(f->positives == (int64_t)num(g, "positives") && f->negatives == (int64_t)num(g, "negatives") &&
              f->unknown == (int64_t)num(g, "unknown"));
        CHECK(f->auroc.present && f->auroc.has_ci && f->auroc.method == XC_CI_DELONG);
        CHECK_CLOSE(f->auroc.value, num(g, "auroc"), 1e-12, 1e-12);
        CHECK_CLOSE(f->auroc_se, num(g, "auroc_se"), 1e-12, 1e-9);
        CHECK(f->auroc.ci_low <= f->auroc.value && f->auroc.value <= f->auroc.ci_high);
        CHECK_CLOSE(f->ap.value, num(g, "ap"), 1e-12, 1e-12);
        CHECK(f->counts.tp == (int64_t)num(g, "tp") && f->counts.fp == (int64_t)num(g, "fp") &&
              f->counts.tn == (int64_t)num(g, "tn") && f->counts.fn == (int64_t)num(g, "fn"));
        const cJSON *se = get(g, "sensitivity"), *sp = get(g, "specificity");
        CHECK_CLOSE(f->sensitivity.value, cJSON_GetArrayItem(se, 0)->valuedouble, 1e-12, 1e-12);
        CHECK_CLOSE(f->sensitivity.ci_low, cJSON_GetArrayItem(se, 1)->valuedouble, 1e-12, 1e-10);
        CHECK_CLOSE(f->sensitivity.ci_high, cJSON_GetArrayItem(se, 2)->valuedouble, 1e-12, 1e-10);
        CHECK_CLOSE(f->specificity.value, cJSON_GetArrayItem(sp, 0)->valuedouble, 1e-12, 1e-12);
        CHECK_CLOSE(f->specificity.ci_low, cJSON_GetArrayItem(sp, 1)->valuedouble, 1e-12, 1e-10);
        CHECK_CLOSE(f->specificity.ci_high, cJSON_GetArrayItem(sp, 2)->valuedouble, 1e-12, 1e-10);
    }
    CHECK_CLOSE(m->macro_auroc.value, num(G, "macro_auroc"), 1e-12, 1e-12);
    CHECK_CLOSE(m->macro_ap.value, num(G, "macro_ap"), 1e-12, 1e-12);
    CHECK_CLOSE(m->micro_auroc.value, num(G, "micro_auroc"), 1e-12, 1e-12);
    CHECK_CLOSE(m->micro_ap.value, num(G, "micro_ap"), 1e-12, 1e-12);
    CHECK_CLOSE(m->micro_sensitivity.value, num(G, "micro_sensitivity"), 1e-12, 1e-12);
    CHECK_CLOSE(m->micro_specificity.value, num(G, "micro_specificity"), 1e-12, 1e-12);

    /* the documents, and the thresholds read back */
    const char *names[4] = {"A", "B", "C", "D"};
    xc_findings_info info = {"m.safetensors", "data", "test", "resnet18", "sigmoid", "val", "youden", names, NULL};
    char *js = xc_findings_json(m, &info), *csv = xc_findings_csv(m, &info), *md = xc_findings_markdown(m, &info);
    CHECK(js && strstr(js, "\"multilabel\":\ttrue") && strstr(js, "\"per_finding\""));
    CHECK_MSG(csv != NULL, "%s", xc_error());
    CHECK(csv && strncmp(csv, "name,positives,", 15) == 0 && strstr(csv, "\nmacro,") && strstr(csv, "\nmicro,"));
    CHECK(md && strstr(md, "| D |") && strstr(md, "(fallback)"));
    const char *dir = getenv("XRAYCLS_TMP") ? getenv("XRAYCLS_TMP") : "/tmp";
    char out[1024], ej[1100];
    snprintf(out, sizeof out, "%s/findings_eval", dir);
    CHECK(xc_findings_write(out, m, &info) == 0);
    snprintf(ej, sizeof ej, "%s/eval.json", out);
    double back[4];
    CHECK(xc_findings_read_thresholds(ej, names, 4, back) == 0);
    for (int c = 0; c < 4; c++) CHECK(back[c] == thr[c]);
    const char *other[1] = {"E"};
    CHECK(xc_findings_read_thresholds(ej, other, 1, back) < 0);
    CHECK_CONTAINS(xc_error(), "no threshold for finding 'E'");
    free(js), free(csv), free(md);
    xc_findings_metrics_free(m);

    /* nothing masked: the pooled and mean values are scikit-learn's micro and macro averages */
    const cJSON *fm = get(G, "full_mask");
    float *pf = farr(get(fm, "probs"));
    uint8_t *yf = barr(get(fm, "targets"));
    m = xc_findings_metrics_compute(pf, yf, NULL, (int64_t)num(fm, "n"), k, NULL, NULL, 0.95);
    CHECK(m != NULL);
    if (m) {
        CHECK_CLOSE(m->micro_auroc.value, num(fm, "micro_auroc"), 1e-12, 1e-12);
        CHECK_CLOSE(m->macro_auroc.value, num(fm, "macro_auroc"), 1e-12, 1e-12);
        CHECK_CLOSE(m->micro_ap.value, num(fm, "micro_ap"), 1e-12, 1e-12);
        CHECK_CLOSE(m->macro_ap.value, num(fm, "macro_ap"), 1e-12, 1e-12);
        CHECK(m->per[0].threshold == 0.5 && !m->per[0].threshold_chosen);
    }
    xc_findings_metrics_free(m);

    /* bad input */
    pt[5] = NAN;
    CHECK(xc_findings_metrics_compute(pt, yt, mt, nt, k, NULL, NULL, 0.95) == NULL);
    CHECK_CONTAINS(xc_error(), "NaN score at image 1");
    free(pv), free(pt), free(yv), free(mv), free(yt), free(mt), free(pf), free(yf);
    cJSON_Delete(G);
    return check_done("report_test_metrics_findings");
}
