/* scores.c — the per-image files of an evaluation and the curves drawn from them
 * (xraycls/report.h, "Per-image scores"): predictions.csv / predictions.jsonl, roc.csv, pr.csv
 * and calibration.csv. Pure C over the score matrix; the statistics are xraycls/stats.h's. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/csv.h"
#include "xraycls/report.h"
#include "xraycls/stats.h"
#include "xraycls/strbuf.h"
#include "report_internal.h"

/* One class's one-vs-rest column over the entries that count (multi-label: the known ones),
 * copied contiguous. *m receives their number (0 is possible). */
static int ovr_column(const xc_scores *s, int c, float **col, uint8_t **pos, int64_t *m) {
    *col = malloc((size_t)(s->n ? s->n : 1) * sizeof **col);
    *pos = malloc((size_t)(s->n ? s->n : 1));
    if (!*col || !*pos) {
        free(*col);
        free(*pos);
        *col = NULL;
        *pos = NULL;
        return xc_errorf("scores: out of memory for %lld samples", (long long)s->n);
    }
    int64_t j = 0;
    for (int64_t i = 0; i < s->n; i++) {
        size_t q = (size_t)i * (size_t)s->k + (size_t)c;
        if (s->labels) (*pos)[j] = s->labels[i] == c;
        else if (s->mask && !s->mask[q]) continue;
        else (*pos)[j] = s->targets[q] != 0;
        (*col)[j++] = s->probs[q];
    }
    *m = j;
    return 0;
}

static int check_scores(const xc_scores *s) {
    if (!s || s->n < 0 || s->k < 1 || !s->probs || !s->classes) return xc_errorf("scores: bad arguments");
    if (!s->labels && !s->targets) return xc_errorf("scores: neither labels nor targets");
    return 0;
}

/* ---- predictions ---------------------------------------------------------------------------- */

static int predicted_positive(const xc_scores *s, int64_t i, int c) {
    double t = s->thresholds ? s->thresholds[c] : 0.5;
    return (double)s->probs[(size_t)i * (size_t)s->k + (size_t)c] >= t;
}

/* A test-time augmentation is named in a last column "tta" (a field in JSON lines); none adds
 * nothing, so the files of an evaluation without one keep their columns. */
static int tta_column(const xc_scores *s) { return s->tta && strcmp(s->tta, "none") != 0; }

char *xc_predictions_csv(const xc_scores *s) {
    if (check_scores(s) < 0) return NULL;
    xc_csv_writer w = {0};
    int k = s->k;
    char col[300];
    xc_csv_field(&w, "index");
    xc_csv_field(&w, "path");
    if (s->labels) {
        xc_csv_field(&w, "label");
        xc_csv_field(&w, "predicted");
        for (int c = 0; c < k; c++) snprintf(col, sizeof col, "prob:%s", s->classes[c]), xc_csv_field(&w, col);
        for (int c = 0; s->logits && c < k; c++)
            snprintf(col, sizeof col, "logit:%s", s->classes[c]), xc_csv_field(&w, col);
    } else {
        for (int c = 0; c < k; c++) {
            snprintf(col, sizeof col, "prob:%s", s->classes[c]);
            xc_csv_field(&w, col);
            if (s->logits) snprintf(col, sizeof col, "logit:%s", s->classes[c]), xc_csv_field(&w, col);
            snprintf(col, sizeof col, "label:%s", s->classes[c]);
            xc_csv_field(&w, col);
            snprintf(col, sizeof col, "predicted:%s", s->classes[c]);
            xc_csv_field(&w, col);
        }
    }
    if (tta_column(s)) xc_csv_field(&w, "tta");
    xc_csv_end_row(&w);
    for (int64_t i = 0; i < s->n; i++) {
        const float *p = s->probs + (size_t)i * k, *l = s->logits ? s->logits + (size_t)i * k : NULL;
        xc_csv_int(&w, (long long)i);
        xc_csv_field(&w, s->files ? s->files[i] : "");
        if (s->labels) {
            xc_csv_field(&w, s->classes[s->labels[i]]);
            xc_csv_field(&w, s->classes[xc_argmax(p, k)]);
            for (int c = 0; c < k; c++) xc_csv_num(&w, "%.9g", p[c]);
            for (int c = 0; l && c < k; c++) xc_csv_num(&w, "%.9g", l[c]);
        } else {
            for (int c = 0; c < k; c++) {
                size_t q = (size_t)i * k + c;
                xc_csv_num(&w, "%.9g", p[c]);
                if (l) xc_csv_num(&w, "%.9g", l[c]);
                if (s->mask && !s->mask[q]) xc_csv_empty(&w);
                else xc_csv_int(&w, s->targets[q] != 0);
                xc_csv_int(&w, predicted_positive(s, i, c));
            }
        }
        if (tta_column(s)) xc_csv_field(&w, s->tta);
        xc_csv_end_row(&w);
    }
    return xc_csv_take(&w, "predictions.csv");
}

/* A finite float as a JSON number at %.9g (null otherwise: JSON has no inf or NaN). */
static void json_num9(xc_strbuf *b, double v) {
    if (isfinite(v)) xc_strbuf_printf(b, "%.9g", v);
    else xc_strbuf_puts(b, "null");
}

char *xc_predictions_jsonl(const xc_scores *s) {
    if (check_scores(s) < 0) return NULL;
    xc_strbuf b = {0};
    int k = s->k;
    for (int64_t i = 0; i < s->n; i++) {
        const float *p = s->probs + (size_t)i * k, *l = s->logits ? s->logits + (size_t)i * k : NULL;
        xc_strbuf_printf(&b, "{\"index\": %lld, \"path\": ", (long long)i);
        xc_strbuf_json_str(&b, s->files ? s->files[i] : "");
        if (s->labels) {
            xc_strbuf_puts(&b, ", \"label\": ");
            xc_strbuf_json_str(&b, s->classes[s->labels[i]]);
            xc_strbuf_puts(&b, ", \"predicted\": ");
            xc_strbuf_json_str(&b, s->classes[xc_argmax(p, k)]);
            xc_strbuf_puts(&b, ", \"probs\": {");
            for (int c = 0; c < k; c++) {
                if (c) xc_strbuf_puts(&b, ", ");
                xc_strbuf_json_str(&b, s->classes[c]);
                xc_strbuf_puts(&b, ": ");
                json_num9(&b, p[c]);
            }
            xc_strbuf_puts(&b, "}");
            if (l) {
                xc_strbuf_puts(&b, ", \"logits\": {");
                for (int c = 0; c < k; c++) {
                    if (c) xc_strbuf_puts(&b, ", ");
                    xc_strbuf_json_str(&b, s->classes[c]);
                    xc_strbuf_puts(&b, ": ");
                    json_num9(&b, l[c]);
                }
                xc_strbuf_puts(&b, "}");
            }
        } else {
            xc_strbuf_puts(&b, ", \"findings\": {");
            for (int c = 0; c < k; c++) {
                size_t q = (size_t)i * k + c;
                if (c) xc_strbuf_puts(&b, ", ");
                xc_strbuf_json_str(&b, s->classes[c]);
                xc_strbuf_puts(&b, ": {\"prob\": ");
                json_num9(&b, p[c]);
                if (l) xc_strbuf_puts(&b, ", \"logit\": "), json_num9(&b, l[c]);
                if (s->mask && !s->mask[q]) xc_strbuf_puts(&b, ", \"label\": null");
                else xc_strbuf_printf(&b, ", \"label\": %d", s->targets[q] != 0);
                xc_strbuf_printf(&b, ", \"predicted\": %d}", predicted_positive(s, i, c));
            }
            xc_strbuf_puts(&b, "}");
        }
        if (tta_column(s)) xc_strbuf_puts(&b, ", \"tta\": "), xc_strbuf_json_str(&b, s->tta);
        xc_strbuf_puts(&b, "}\n");
    }
    return xc_strbuf_take(&b, "predictions.jsonl");
}

/* ---- curves -------------------------------------------------------------------------------- */

typedef struct {
    xc_curve cv;
    int defined; /* ROC: positives and negatives; PR: positives */
} class_curve;

static void curves_free(class_curve *cc, int k) {
    if (!cc) return;
    for (int c = 0; c < k; c++) xc_curve_free(&cc[c].cv);
    free(cc);
}

/* Every class's curve over its counted entries. pr = 1: defined needs positives only. */
static class_curve *curves_compute(const xc_scores *s, int pr) {
    class_curve *cc = calloc((size_t)s->k, sizeof *cc);
    if (!cc) return xc_errorf("curves: out of memory"), NULL;
    for (int c = 0; c < s->k; c++) {
        float *col;
        uint8_t *pos;
        int64_t m;
        if (ovr_column(s, c, &col, &pos, &m) < 0) {
            curves_free(cc, s->k);
            return NULL;
        }
        int rc = m > 0 ? xc_curve_compute(col, 1, pos, m, &cc[c].cv) : 0;
        free(col);
        free(pos);
        if (rc < 0) {
            curves_free(cc, s->k);
            return NULL;
        }
        cc[c].defined = m > 0 && cc[c].cv.npos > 0 && (pr || cc[c].cv.nneg > 0);
    }
    return cc;
}

static void threshold_field(xc_csv_writer *w, double t) {
    if (isinf(t)) xc_csv_field(w, t > 0 ? "inf" : "-inf");
    else xc_csv_num(w, "%.9g", t);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sorted distinct values of v[0..n) in place; returns their count. */
static int64_t unique_sorted(double *v, int64_t n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (u == 0 || v[i] != v[u - 1]) v[u++] = v[i];
    return u;
}

/* The x-coordinates of the defined classes' curves — false-positive rates (recall = 0) or
 * recalls (recall = 1) — sorted, each once; total bounds their count. NULL when out of memory. */
static double *curve_grid(const class_curve *cc, int k, int64_t total, int recall, int64_t *n) {
    double *grid = malloc((size_t)total * sizeof *grid);
    if (!grid) return NULL;
    int64_t g = 0;
    for (int c = 0; c < k; c++)
        for (int64_t i = 0; cc[c].defined && i < cc[c].cv.n; i++)
            grid[g++] = recall ? (double)cc[c].cv.tp[i] / (double)cc[c].cv.npos : (double)cc[c].cv.fp[i] / (double)cc[c].cv.nneg;
    *n = unique_sorted(grid, g);
    return grid;
}

/* The ROC curve of one class at false-positive rate x, piecewise linear between its points:
 * *below is the left limit, *above the right one (they differ where the curve rises
 * vertically at x). */
static void roc_at(const xc_curve *cv, double x, double *below, double *above) {
    double nn = (double)cv->nneg, np = (double)cv->npos;
    /* fp is non-decreasing: binary searches for the first point at or past x and the first past
     * it (the grid holds every class's points, so its values are reached: the last fpr is 1) */
    int64_t lo = 0, hi = cv->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cv->fp[mid] / nn < x) lo = mid + 1;
        else hi = mid;
    }
    int64_t first = lo < cv->n ? lo : cv->n - 1;
    if (cv->fp[first] / nn != x) {
        /* strictly between points first-1 and first (first >= 1: point 0 has fpr 0 <= x) */
        double f = cv->fp[first] / nn, f0 = cv->fp[first - 1] / nn;
        double t0 = cv->tp[first - 1] / np, t1 = cv->tp[first] / np;
        *below = *above = t0 + (t1 - t0) * (x - f0) / (f - f0);
        return;
    }
    hi = cv->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (cv->fp[mid] / nn <= x) lo = mid + 1;
        else hi = mid;
    }
    *below = cv->tp[first] / np;
    *above = cv->tp[lo - 1] / np;
}

char *xc_roc_csv(const xc_scores *s) {
    if (check_scores(s) < 0) return NULL;
    class_curve *cc = curves_compute(s, 0);
    if (!cc) return NULL;
    xc_csv_writer w = {0};
    xc_csv_field(&w, "class");
    xc_csv_field(&w, "threshold");
    xc_csv_field(&w, "fpr");
    xc_csv_field(&w, "tpr");
    xc_csv_end_row(&w);
    int64_t total = 0;
    int ndef = 0;
    for (int c = 0; c < s->k; c++) {
        if (!cc[c].defined) continue; /* no positive or no negative: no curve */
        const xc_curve *cv = &cc[c].cv;
        ndef++;
        total += cv->n;
        for (int64_t i = 0; i < cv->n; i++) {
            xc_csv_field(&w, s->classes[c]);
            threshold_field(&w, cv->threshold[i]);
            xc_csv_num(&w, "%.9g", (double)cv->fp[i] / (double)cv->nneg);
            xc_csv_num(&w, "%.9g", (double)cv->tp[i] / (double)cv->npos);
            xc_csv_end_row(&w);
        }
    }
    /* macro: the mean of the classes' piecewise-linear curves at every false-positive rate one
     * of them has; its trapezoidal area is the macro AUROC (the mean of the areas). */
    int64_t g = 0;
    double *grid = ndef ? curve_grid(cc, s->k, total, 0, &g) : NULL;
    if (ndef && !grid) {
        curves_free(cc, s->k);
        xc_csv_writer_free(&w);
        return xc_errorf("roc.csv: out of memory"), NULL;
    }
    for (int64_t j = 0; j < g; j++) {
        double lo = 0, hi = 0;
        for (int c = 0; c < s->k; c++) {
            if (!cc[c].defined) continue;
            double b, a;
            roc_at(&cc[c].cv, grid[j], &b, &a);
            lo += b / ndef;
            hi += a / ndef;
        }
        for (int r = 0; r < (lo == hi ? 1 : 2); r++) {
            xc_csv_field(&w, "macro");
            xc_csv_empty(&w);
            xc_csv_num(&w, "%.9g", grid[j]);
            xc_csv_num(&w, "%.9g", r ? hi : lo);
            xc_csv_end_row(&w);
        }
    }
    free(grid);
    curves_free(cc, s->k);
    return xc_csv_take(&w, "roc.csv");
}

/* The precision of one class at recall r > 0: that of its first point (highest threshold)
 * whose recall reaches r — the value average precision weighs the step up to r with. */
static double pr_at(const xc_curve *cv, double r) {
    int64_t lo = 1, hi = cv->n; /* tp is non-decreasing: the first point from 1 whose recall >= r */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if ((double)cv->tp[mid] / (double)cv->npos < r) lo = mid + 1;
        else hi = mid;
    }
    if (lo >= cv->n) return NAN; /* unreachable for r <= 1 */
    return (double)cv->tp[lo] / (double)(cv->tp[lo] + cv->fp[lo]);
}

char *xc_pr_csv(const xc_scores *s) {
    if (check_scores(s) < 0) return NULL;
    class_curve *cc = curves_compute(s, 1);
    if (!cc) return NULL;
    xc_csv_writer w = {0};
    xc_csv_field(&w, "class");
    xc_csv_field(&w, "threshold");
    xc_csv_field(&w, "precision");
    xc_csv_field(&w, "recall");
    xc_csv_end_row(&w);
    int64_t total = 0;
    int ndef = 0;
    for (int c = 0; c < s->k; c++) {
        if (!cc[c].defined) continue;
        const xc_curve *cv = &cc[c].cv;
        ndef++;
        total += cv->n;
        for (int64_t i = 0; i < cv->n; i++) {
            int64_t called = cv->tp[i] + cv->fp[i];
            xc_csv_field(&w, s->classes[c]);
            threshold_field(&w, cv->threshold[i]);
            xc_csv_num(&w, "%.9g", called ? (double)cv->tp[i] / (double)called : 1.0);
            xc_csv_num(&w, "%.9g", (double)cv->tp[i] / (double)cv->npos);
            xc_csv_end_row(&w);
        }
    }
    /* macro: at every recall a class reaches, the mean of the classes' step precisions; the sum
     * of (recall - previous recall) × precision over its rows is the macro AP. */
    int64_t g = 0;
    double *grid = ndef ? curve_grid(cc, s->k, total, 1, &g) : NULL;
    if (ndef && !grid) {
        curves_free(cc, s->k);
        xc_csv_writer_free(&w);
        return xc_errorf("pr.csv: out of memory"), NULL;
    }
    for (int64_t j = 0; j < g; j++) {
        double p = 0;
        for (int c = 0; c < s->k; c++)
            if (cc[c].defined) p += (grid[j] > 0 ? pr_at(&cc[c].cv, grid[j]) : 1.0) / ndef;
        xc_csv_field(&w, "macro");
        xc_csv_empty(&w);
        xc_csv_num(&w, "%.9g", p);
        xc_csv_num(&w, "%.9g", grid[j]);
        xc_csv_end_row(&w);
    }
    free(grid);
    curves_free(cc, s->k);
    return xc_csv_take(&w, "pr.csv");
}

/* ---- calibration --------------------------------------------------------------------------- */

static void reliability_rows(xc_csv_writer *w, const char *what, const xc_reliability *r, xc_bin_scheme scheme) {
    for (int b = 0; b < r->nbins; b++) {
        xc_csv_field(w, what);
        xc_csv_field(w, xc_bin_scheme_name(scheme));
        xc_csv_int(w, b);
        xc_csv_num(w, "%.9g", r->edge[b]);
        xc_csv_num(w, "%.9g", r->edge[b + 1]);
        xc_csv_int(w, (long long)r->count[b]);
        xc_csv_num(w, "%.9g", r->mean_prob[b]);
        xc_csv_num(w, "%.9g", r->frac_pos[b]);
        xc_csv_end_row(w);
    }
}

/* Both schemes' rows of one column. */
static int reliability_both(xc_csv_writer *w, const char *what, const float *p, const uint8_t *y, int64_t m, int nbins) {
    if (m < 1) return 0;
    static const xc_bin_scheme schemes[2] = {XC_BINS_EQUAL_WIDTH, XC_BINS_EQUAL_MASS};
    for (int q = 0; q < 2; q++) {
        xc_reliability r = {0};
        if (xc_reliability_compute(p, 1, y, m, nbins, schemes[q], &r) < 0) return -1;
        reliability_rows(w, what, &r, schemes[q]);
        xc_reliability_free(&r);
    }
    return 0;
}

char *xc_calibration_csv(const xc_scores *s, int nbins) {
    if (check_scores(s) < 0) return NULL;
    xc_csv_writer w = {0};
    static const char *const head[] = {"class", "scheme", "bin", "lower", "upper", "count", "mean_prob", "frac_pos"};
    for (size_t j = 0; j < sizeof head / sizeof *head; j++) xc_csv_field(&w, head[j]);
    xc_csv_end_row(&w);
    int k = s->k, rc = 0;
    int64_t n = s->n;
    float *p = malloc((size_t)(n ? n : 1) * sizeof *p);
    uint8_t *y = malloc((size_t)(n ? n : 1));
    if (!p || !y) rc = xc_errorf("calibration.csv: out of memory");
    if (rc == 0 && s->labels) { /* top label: confidence against correctness */
        for (int64_t i = 0; i < n; i++) {
            int a = xc_argmax(s->probs + (size_t)i * k, k);
            float v = s->probs[(size_t)i * k + a];
            p[i] = v < 0 ? 0 : v > 1 ? 1 : v;
            y[i] = a == s->labels[i];
        }
        rc = reliability_both(&w, "top-label", p, y, n, nbins);
    }
    for (int c = 0; rc == 0 && c < k; c++) {
        float *col;
        uint8_t *pos;
        int64_t m;
        if ((rc = ovr_column(s, c, &col, &pos, &m)) < 0) break;
        for (int64_t i = 0; i < m; i++) col[i] = col[i] < 0 ? 0 : col[i] > 1 ? 1 : col[i];
        rc = reliability_both(&w, s->classes[c], col, pos, m, nbins);
        free(col);
        free(pos);
    }
    free(p);
    free(y);
    if (rc < 0) {
        xc_csv_writer_free(&w);
        return NULL;
    }
    return xc_csv_take(&w, "calibration.csv");
}

int xc_scores_write(const char *dir, const xc_scores *s, int nbins) {
    if (xc_report_write_doc(dir, "predictions.csv", xc_predictions_csv(s)) < 0 ||
        xc_report_write_doc(dir, "predictions.jsonl", xc_predictions_jsonl(s)) < 0 ||
        xc_report_write_doc(dir, "roc.csv", xc_roc_csv(s)) < 0 || xc_report_write_doc(dir, "pr.csv", xc_pr_csv(s)) < 0 ||
        xc_report_write_doc(dir, "calibration.csv", xc_calibration_csv(s, nbins)) < 0)
        return -1;
    return 0;
}
