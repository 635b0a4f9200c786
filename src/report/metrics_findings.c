/* metrics_findings.c — per-finding evaluation of multi-label models (xraycls/metrics_findings.h):
 * each finding's known entries gathered into one column, then the statistics of stats.h on it;
 * the pooled (micro) column of all known entries; the documents eval writes. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/metrics_findings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"
#include "xraycls/report.h"
#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"

static xc_metric absent(void) { return (xc_metric){0}; }

static xc_metric value(double v) {
    xc_metric m = {0};
    m.present = 1;
    m.value = v;
    return m;
}

/* The known entries of column c (c < 0: every column pooled) into scores / pos; returns their
 * number. */
static int64_t gather(const float *probs, const uint8_t *y, const uint8_t *mask, int64_t n, int k, int c,
                      float *scores, uint8_t *pos) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        for (int j = c < 0 ? 0 : c; j < (c < 0 ? k : c + 1); j++) {
            size_t q = (size_t)i * (size_t)k + (size_t)j;
            if (mask && !mask[q]) continue;
            scores[m] = probs[q];
            pos[m] = y[q] != 0;
            m++;
        }
    return m;
}

static int check_args(const float *probs, const uint8_t *y, int64_t n, int k) {
    if (!probs || !y || n < 1 || k < 1) return xc_errorf("findings metrics: need n >= 1 images and k >= 1 findings");
    for (int64_t i = 0; i < n * k; i++)
        if (isnan(probs[i])) return xc_errorf("findings metrics: NaN score at image %lld", (long long)(i / k));
    return 0;
}

int xc_findings_thresholds(const float *probs, const uint8_t *targets, const uint8_t *mask, int64_t n, int k,
                           xc_op_rule rule, double target, double *thr, int *chosen) {
    if (check_args(probs, targets, n, k) < 0) return -1;
    float *s = malloc((size_t)n * sizeof *s);
    uint8_t *p = malloc((size_t)n);
    if (!s || !p) {
        free(s);
        free(p);
        return xc_errorf("out of memory");
    }
    int rc = 0;
    for (int c = 0; c < k && rc == 0; c++) {
        int64_t m = gather(probs, targets, mask, n, k, c, s, p);
        xc_curve cv = {0};
        thr[c] = 0.5;
        if (chosen) chosen[c] = 0;
        if (xc_curve_compute(s, 1, p, m, &cv) < 0) {
            rc = -1;
            break;
        }
        double t;
        int e = xc_operating_point(&cv, rule, target, &t);
        xc_curve_free(&cv);
        if (e < 0) rc = -1;
        else if (e == 0 && isfinite(t)) {
            thr[c] = t;
            if (chosen) chosen[c] = 1;
        }
    }
    free(s);
    free(p);
    return rc;
}

/* AUROC with DeLong's interval, and AP, of one gathered column. */
static int auroc_ap(const float *s, const uint8_t *p, int64_t m, double level, xc_metric *auroc, double *se,
                    xc_metric *ap) {
    *auroc = absent();
    *ap = absent();
    *se = NAN;
    if (m == 0) return 0;
    double a, lo, hi;
    int e = xc_delong_ci(s, 1, p, m, level, &a, se, &lo, &hi);
    if (e < 0) return -1;
    if (e == 0) {
        *auroc = value(a);
        auroc->has_ci = 1;
        auroc->ci_low = lo;
        auroc->ci_high = hi;
        auroc->method = XC_CI_DELONG;
    }
    xc_curve cv = {0};
    if (xc_curve_compute(s, 1, p, m, &cv) < 0) return -1;
    double v;
    e = xc_curve_average_precision(&cv, &v);
    xc_curve_free(&cv);
    if (e == 0) *ap = value(v);
    return 0;
}

/* x / n with its Wilson interval, or absent when n = 0. */
static xc_metric rate(int64_t x, int64_t n, double level) {
    if (n <= 0) return absent();
    xc_metric m = value((double)x / (double)n);
    if (xc_proportion_ci(x, n, level, XC_CI_WILSON, &m.ci_low, &m.ci_high) == 0) {
        m.has_ci = 1;
        m.method = XC_CI_WILSON;
    }
    return m;
}

xc_findings_metrics *xc_findings_metrics_compute(const float *probs, const uint8_t *targets, const uint8_t *mask,
                                                 int64_t n, int k, const double *thr, const int *chosen,
                                                 double level) {
    if (check_args(probs, targets, n, k) < 0) return NULL;
    if (!(level > 0 && level < 1)) return xc_errorf("findings metrics: level %g not in (0, 1)", level), NULL;
    xc_findings_metrics *m = calloc(1, sizeof *m);
    float *s = malloc((size_t)n * (size_t)k * sizeof *s);
    uint8_t *p = malloc((size_t)n * (size_t)k);
    if (!m || !s || !p || !(m->per = calloc((size_t)k, sizeof *m->per))) {
        free(s);
        free(p);
        xc_findings_metrics_free(m);
        return xc_errorf("out of memory"), NULL;
    }
    m->k = k;
    m->n = n;
    m->level = level;
    double sum[4] = {0};
    int cnt[4] = {0};
    xc_counts tot = {0};
    for (int c = 0; c < k; c++) {
        xc_finding_metrics *f = &m->per[c];
        int64_t cnt_k = gather(probs, targets, mask, n, k, c, s, p);
        for (int64_t i = 0; i < cnt_k; i++) p[i] ? f->positives++ : f->negatives++;
        f->unknown = n - cnt_k;
        if (auroc_ap(s, p, cnt_k, level, &f->auroc, &f->auroc_se, &f->ap) < 0) goto fail;
        f->threshold = thr ? thr[c] : 0.5;
        f->threshold_chosen = chosen ? chosen[c] : 0;
        f->counts = xc_counts_at(s, 1, p, cnt_k, f->threshold);
        f->sensitivity = rate(f->counts.tp, f->counts.tp + f->counts.fn, level);
        f->specificity = rate(f->counts.tn, f->counts.tn + f->counts.fp, level);
        f->precision = f->counts.tp + f->counts.fp > 0
                           ? value((double)f->counts.tp / (double)(f->counts.tp + f->counts.fp))
                           : absent();
        const xc_metric *each[4] = {&f->auroc, &f->ap, &f->sensitivity, &f->specificity};
        for (int j = 0; j < 4; j++)
            if (each[j]->present) sum[j] += each[j]->value, cnt[j]++;
        tot.tp += f->counts.tp;
        tot.fp += f->counts.fp;
        tot.tn += f->counts.tn;
        tot.fn += f->counts.fn;
    }
    xc_metric *macro[4] = {&m->macro_auroc, &m->macro_ap, &m->macro_sensitivity, &m->macro_specificity};
    for (int j = 0; j < 4; j++) *macro[j] = cnt[j] ? value(sum[j] / cnt[j]) : absent();
    int64_t all = gather(probs, targets, mask, n, k, -1, s, p);
    double se;
    if (auroc_ap(s, p, all, level, &m->micro_auroc, &se, &m->micro_ap) < 0) goto fail;
    m->micro_sensitivity = rate(tot.tp, tot.tp + tot.fn, level);
    m->micro_specificity = rate(tot.tn, tot.tn + tot.fp, level);
    free(s);
    free(p);
    return m;
fail:
    free(s);
    free(p);
    xc_findings_metrics_free(m);
    return NULL;
}

void xc_findings_metrics_free(xc_findings_metrics *m) {
    if (!m) return;
    free(m->per);
    free(m);
}

/* ---- documents ------------------------------------------------------------------------- */

static void add_str(cJSON *o, const char *key, const char *s) {
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

/* A number written with 17 significant digits, so that it reads back exactly (cJSON's own
 * printing stops at 15 when they compare equal within its epsilon): thresholds are compared
 * with scores, and a score equal to its threshold must stay on the same side. */
static void add_exact(cJSON *o, const char *key, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    cJSON_AddRawToObject(o, key, buf);
}

static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

char *xc_findings_json(const xc_findings_metrics *m, const xc_findings_info *info) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return xc_errorf("out of memory"), NULL;
    cJSON_AddNumberToObject(o, "format", 1);
    add_str(o, "model", info->model);
    add_str(o, "data", info->data);
    add_str(o, "split", info->split);
    add_str(o, "arch", info->arch);
    add_str(o, "head", info->head);
    cJSON_AddTrueToObject(o, "multilabel");
    cJSON_AddNumberToObject(o, "n", (double)m->n);
    cJSON *cl = cJSON_AddArrayToObject(o, "classes");
    for (int c = 0; cl && c < m->k; c++) cJSON_AddItemToArray(cl, cJSON_CreateString(info->findings[c]));
    cJSON_AddNumberToObject(o, "level", m->level);
    cJSON *th = cJSON_AddObjectToObject(o, "thresholds");
    if (th) {
        add_str(th, "split", info->threshold_split);
        add_str(th, "rule", info->threshold_split ? info->threshold_rule : NULL);
        cJSON *v = cJSON_AddObjectToObject(th, "values");
        for (int c = 0; v && c < m->k; c++) add_exact(v, info->findings[c], m->per[c].threshold);
    }
    const char *mk[8] = {"macro_auroc", "micro_auroc", "macro_ap", "micro_ap",
                         "macro_sensitivity", "macro_specificity", "micro_sensitivity", "micro_specificity"};
    const xc_metric *mv[8] = {&m->macro_auroc, &m->micro_auroc, &m->macro_ap, &m->micro_ap,
                              &m->macro_sensitivity, &m->macro_specificity, &m->micro_sensitivity,
                              &m->micro_specificity};
    for (int j = 0; j < 8; j++) cJSON_AddItemToObject(o, mk[j], xc_report_metric_json(mv[j]));
    cJSON *pf = cJSON_AddObjectToObject(o, "per_finding");
    for (int c = 0; pf && c < m->k; c++) {
        const xc_finding_metrics *f = &m->per[c];
        cJSON *e = cJSON_AddObjectToObject(pf, info->findings[c]);
        if (!e) break;
        cJSON_AddNumberToObject(e, "positives", (double)f->positives);
        cJSON_AddNumberToObject(e, "negatives", (double)f->negatives);
        cJSON_AddNumberToObject(e, "unknown", (double)f->unknown);
        cJSON_AddItemToObject(e, "auroc", xc_report_metric_json(&f->auroc));
        add_num(e, "auroc_se", f->auroc_se);
        cJSON_AddItemToObject(e, "ap", xc_report_metric_json(&f->ap));
        add_exact(e, "threshold", f->threshold);
        cJSON_AddBoolToObject(e, "threshold_chosen", f->threshold_chosen);
        cJSON_AddNumberToObject(e, "tp", (double)f->counts.tp);
        cJSON_AddNumberToObject(e, "fp", (double)f->counts.fp);
        cJSON_AddNumberToObject(e, "tn", (double)f->counts.tn);
        cJSON_AddNumberToObject(e, "fn", (double)f->counts.fn);
        cJSON_AddItemToObject(e, "sensitivity", xc_report_metric_json(&f->sensitivity));
        cJSON_AddItemToObject(e, "specificity", xc_report_metric_json(&f->specificity));
        cJSON_AddItemToObject(e, "precision", xc_report_metric_json(&f->precision));
    }
    if (info->provenance) cJSON_AddItemToObject(o, "provenance", xc_report_provenance_json(info->provenance));
    xc_report_tta_json(o, info->provenance);
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) xc_errorf("out of memory");
    return s;
}

/* The macro or micro row: no counts, no threshold, no precision. */
static void csv_mean_row(xc_csv_writer *w, const char *name, const xc_metric *auroc, const xc_metric *ap,
                         const xc_metric *sens, const xc_metric *spec) {
    xc_csv_field(w, name);
    for (int k = 0; k < 3; k++) xc_csv_empty(w);
    xc_report_csv_cells(w, auroc, 1);
    xc_report_csv_cells(w, ap, 0);
    xc_csv_empty(w);
    xc_report_csv_cells(w, sens, 1);
    xc_report_csv_cells(w, spec, 1);
    xc_csv_empty(w);
    xc_csv_end_row(w);
}

/* Closes an open_memstream stream: its buffer (set by fclose) or NULL. */
static char *close_text(FILE *fp, char **buf) {
    int bad = ferror(fp);
    if (fclose(fp) != 0 || bad || !*buf) {
        free(*buf);
        return xc_errorf("out of memory"), NULL;
    }
    return *buf;
}

char *xc_findings_csv(const xc_findings_metrics *m, const xc_findings_info *info) {
    static const char *const head[] = {"name", "positives", "negatives", "unknown", "auroc", "auroc_ci_low",
                                       "auroc_ci_high", "ap", "threshold", "sensitivity", "sensitivity_ci_low",
                                       "sensitivity_ci_high", "specificity", "specificity_ci_low",
                                       "specificity_ci_high", "precision"};
    xc_csv_writer w = {0};
    for (size_t j = 0; j < sizeof head / sizeof *head; j++) xc_csv_field(&w, head[j]);
    xc_csv_end_row(&w);
    for (int c = 0; c < m->k; c++) {
        const xc_finding_metrics *f = &m->per[c];
        xc_csv_field(&w, info->findings[c]);
        xc_csv_int(&w, (long long)f->positives);
        xc_csv_int(&w, (long long)f->negatives);
        xc_csv_int(&w, (long long)f->unknown);
        xc_report_csv_cells(&w, &f->auroc, 1);
        xc_report_csv_cells(&w, &f->ap, 0);
        xc_csv_num(&w, "%.6f", f->threshold);
        xc_report_csv_cells(&w, &f->sensitivity, 1);
        xc_report_csv_cells(&w, &f->specificity, 1);
        xc_report_csv_cells(&w, &f->precision, 0);
        xc_csv_end_row(&w);
    }
    csv_mean_row(&w, "macro", &m->macro_auroc, &m->macro_ap, &m->macro_sensitivity, &m->macro_specificity);
    csv_mean_row(&w, "micro", &m->micro_auroc, &m->micro_ap, &m->micro_sensitivity, &m->micro_specificity);
    return xc_csv_take(&w, "eval.csv");
}

char *xc_findings_markdown(const xc_findings_metrics *m, const xc_findings_info *info) {
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    if (!fp) return xc_errorf("out of memory"), NULL;
    char a[96], b[96], c3[96], d[96];
    fprintf(fp, "# Evaluation of `%s` on split `%s` of `%s`\n\n", info->model ? info->model : "?",
            info->split ? info->split : "?", info->data ? info->data : "?");
    fprintf(fp, "%s, %s head, %lld images, %d findings (multi-label). AUROC with %.0f%% DeLong intervals; "
                "sensitivity and specificity with Wilson intervals at ",
            info->arch ? info->arch : "?", info->head ? info->head : "?", (long long)m->n, m->k, 100 * m->level);
    if (info->threshold_split) fprintf(fp, "thresholds chosen on split `%s` (%s).\n\n", info->threshold_split,
                                       info->threshold_rule ? info->threshold_rule : "?");
    else fprintf(fp, "the threshold 0.5.\n\n");
    if (info->provenance && info->provenance->tta) {
        char tl[300];
        fprintf(fp, "%s\n", xc_report_tta_line(info->provenance, tl, sizeof tl) + 2); /* without the "- " */
    }
    fprintf(fp, "| finding | pos | neg | unknown | AUROC | AP | threshold | sensitivity | specificity |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < m->k; c++) {
        const xc_finding_metrics *f = &m->per[c];
        fprintf(fp, "| %s | %lld | %lld | %lld | %s | %s | %.4g%s | %s | %s |\n", info->findings[c],
                (long long)f->positives, (long long)f->negatives, (long long)f->unknown,
                xc_metric_format(&f->auroc, a, sizeof a), xc_metric_format(&f->ap, b, sizeof b), f->threshold,
                info->threshold_split && !f->threshold_chosen ? " (fallback)" : "",
                xc_metric_format(&f->sensitivity, c3, sizeof c3), xc_metric_format(&f->specificity, d, sizeof d));
    }
    fprintf(fp, "| **macro** | | | | %s | %s | | %s | %s |\n", xc_metric_format(&m->macro_auroc, a, sizeof a),
            xc_metric_format(&m->macro_ap, b, sizeof b), xc_metric_format(&m->macro_sensitivity, c3, sizeof c3),
            xc_metric_format(&m->macro_specificity, d, sizeof d));
    fprintf(fp, "| **micro** | | | | %s | %s | | %s | %s |\n", xc_metric_format(&m->micro_auroc, a, sizeof a),
            xc_metric_format(&m->micro_ap, b, sizeof b), xc_metric_format(&m->micro_sensitivity, c3, sizeof c3),
            xc_metric_format(&m->micro_specificity, d, sizeof d));
    fprintf(fp, "\nOnly known labels count: an unknown (masked) entry is left out of every number of its "
                "finding. Macro: the mean over the findings where the value is defined; micro: all known "
                "entries pooled.\n");
    return close_text(fp, &buf);
}

int xc_findings_write(const char *dir, const xc_findings_metrics *m, const xc_findings_info *info) {
    if (xc_mkdir_p(dir) < 0) return -1;
    static const char *const names[3] = {"eval.csv", "eval.md", "eval.json"};
    char *docs[3] = {xc_findings_csv(m, info), xc_findings_markdown(m, info), xc_findings_json(m, info)};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        char *p = docs[i] ? xc_path_join(dir, names[i]) : NULL;
        rc = p ? xc_write_file_atomic(p, docs[i], strlen(docs[i])) : -1;
        free(p);
    }
    for (int i = 0; i < 3; i++) free(docs[i]);
    return rc;
}

int xc_findings_read_thresholds(const char *path, const char *const *findings, int k, double *thr) {
    cJSON *j = xc_json_read_file(path, 64u << 20);
    if (!j) return -1;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(j, "thresholds");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(th, "values");
    int rc = 0;
    if (!cJSON_IsObject(v)) {
        rc = xc_errorf("'%s': no \"thresholds\": {\"values\": {...}} (not the eval.json of a multi-label "
                       "evaluation?)", path);
    }
    for (int c = 0; c < k && rc == 0; c++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(v, findings[c]);
        if (!cJSON_IsNumber(t) || !isfinite(t->valuedouble))
            rc = xc_errorf("'%s': no threshold for finding '%s'", path, findings[c]);
        else thr[c] = t->valuedouble;
    }
    cJSON_Delete(j);
    return rc;
}
