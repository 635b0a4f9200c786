/* plot_data.c — what the figures of xraycls/plot.h are drawn from: the CSV files of a run
 * folder and of an eval folder read back (through the one CSV reader, xraycls/csv.h), and the
 * folder-level driver that reads everything before drawing anything. No cairo here: the
 * readers work in every build. */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/parse.h"
#include "xraycls/plot.h"

int xc_plot_format_parse(const char *s, int allow_none, xc_plot_format *f) {
    static const char *const names[] = {"png", "svg", "pdf", "none"};
    for (int i = 0; i < (allow_none ? 4 : 3); i++)
        if (!strcmp(s, names[i])) {
            *f = (xc_plot_format)i;
            return 0;
        }
    return xc_errorf("'%s' is not png, svg%s pdf%s", s, allow_none ? "," : " or", allow_none ? " or none" : "");
}

const char *xc_plot_format_name(xc_plot_format f) {
    return f == XC_PLOT_PNG ? "png" : f == XC_PLOT_SVG ? "svg" : f == XC_PLOT_PDF ? "pdf" : "none";
}

/* ---- cells -------------------------------------------------------------------------------- */

/* A number cell: empty → NaN when empty_ok; "inf" is only accepted where the writer puts it
 * (roc/pr thresholds, which are not read). */
static int cell_num(const xc_csv *c, int row, int col, int empty_ok, double lo, double hi, double *out) {
    const char *s = xc_csv_get(c, row, col);
    if (!*s && empty_ok) {
        *out = NAN;
        return 0;
    }
    if (xc_parse_double(s, lo, hi, out) < 0)
        return xc_errorf("'%s' line %d: %s: %s", xc_csv_what(c), xc_csv_line(c, row), xc_csv_header(c, col), xc_error());
    return 0;
}

static int oom(const char *what) { return xc_errorf("%s: out of memory", what); }

/* ---- metrics.csv -------------------------------------------------------------------------- */

void xc_plot_history_free(xc_plot_history_data *h) {
    if (!h) return;
    free(h->epoch);
    free(h->train_acc);
    free(h->val_acc);
    free(h->train_loss);
    free(h->val_loss);
    memset(h, 0, sizeof *h);
}

/* The metrics.csv column of a train.best_metric, and whether lower is better. */
static const char *best_column(const char *metric, int *lower) {
    static const struct {
        const char *metric, *col;
    } map[] = {{"val_accuracy", "val_acc"},
               {"val_loss", "val_loss"},
               {"val_balanced_accuracy", "val_balanced_acc"},
               {"val_auroc", "val_auroc"},
               {"val_macro_f1", "val_macro_f1"}};
    *lower = !strcmp(metric, "val_loss");
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(metric, map[i].metric)) return map[i].col;
    return NULL;
}

/* train.best_metric of run_dir/config.json into buf ("" when there is no config.json). */
static int read_best_metric(const char *run_dir, char *buf, size_t cap) {
    buf[0] = 0;
    char *p = xc_path_join(run_dir, "config.json");
    if (!p) return oom("config.json");
    if (!xc_is_file(p)) {
        free(p);
        return 0;
    }
    cJSON *j = xc_json_read_file(p, 16u << 20);
    int rc = -1;
    const cJSON *train = NULL;
    const char *m = NULL;
    /* The getters: 1 present, 0 absent, -1 wrong type. */
    int t = j ? xc_json_get_object(j, "", "train", 0, &train) : -1;
    if (t == 0 || (t == 1 && xc_json_get_string(train, "train", "best_metric", 0, &m) >= 0)) {
        if (m) snprintf(buf, cap, "%s", m);
        rc = 0;
    }
    if (rc < 0 && j) xc_errorf("'%s': %s", p, xc_error());
    cJSON_Delete(j);
    free(p);
    return rc;
}

int xc_plot_read_history(const char *run_dir, xc_plot_history_data *h) {
    memset(h, 0, sizeof *h);
    char *path = xc_path_join(run_dir, "metrics.csv");
    if (!path) return oom("metrics.csv");
    xc_csv *c = xc_csv_read(path, 1);
    free(path);
    if (!c) return -1;
    int rc = -1, n = xc_csv_rows(c), ecol = xc_csv_require_col(c, "epoch");
    static const char *const names[4] = {"train_acc", "val_acc", "train_loss", "val_loss"};
    double **cols[4] = {&h->train_acc, &h->val_acc, &h->train_loss, &h->val_loss};
    if (ecol < 0) goto done;
    if (n < 1) {
        xc_errorf("'%s': no epoch (only the header)", xc_csv_what(c));
        goto done;
    }
    size_t bytes = (size_t)n * sizeof(double);
    if (!(h->epoch = malloc(bytes))) goto nomem;
    for (int f = 0; f < 4; f++)
        if (!(*cols[f] = malloc(bytes))) goto nomem;
    h->n = n;
    for (int i = 0; i < n; i++) {
        if (cell_num(c, i, ecol, 0, 0, 1e9, &h->epoch[i]) < 0) goto done;
        for (int f = 0; f < 4; f++) {
            int col = xc_csv_col(c, names[f]);
            (*cols[f])[i] = NAN;
            if (col >= 0 && cell_num(c, i, col, 1, -1e300, 1e300, &(*cols[f])[i]) < 0) goto done;
        }
    }
    if (read_best_metric(run_dir, h->best_metric, sizeof h->best_metric) < 0) goto done;
    int lower = 0;
    const char *bc = h->best_metric[0] ? best_column(h->best_metric, &lower) : NULL;
    int bcol = bc ? xc_csv_col(c, bc) : -1;
    double best = NAN;
    for (int i = 0; bcol >= 0 && i < n; i++) {
        double v;
        if (cell_num(c, i, bcol, 1, -1e300, 1e300, &v) < 0) goto done;
        /* train.c's rule: finite and strictly better; the first of equals stays. */
        if (isfinite(v) && (!isfinite(best) || (lower ? v < best : v > best))) {
            best = v;
            h->best_epoch = (int)h->epoch[i];
        }
    }
    rc = 0;
    goto done;
nomem:
    oom("metrics.csv");
done:
    xc_csv_free(c);
    if (rc < 0) xc_plot_history_free(h);
    return rc;
}

int xc_plot_loss_log_scale(const xc_plot_history_data *h) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < h->n; i++) {
        const double v[2] = {h->train_loss[i], h->val_loss[i]};
        for (int j = 0; j < 2; j++) {
            if (!isfinite(v[j])) continue;
            if (v[j] <= 0) return 0; /* a log axis cannot show it */
            lo = fmin(lo, v[j]), hi = fmax(hi, v[j]);
        }
    }
    return lo <= hi && hi >= 10 * lo;
}

/* ---- roc.csv, pr.csv ---------------------------------------------------------------------- */

void xc_plot_curves_free(xc_plot_curves *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        free(c->c[i].name);
        free(c->c[i].x);
        free(c->c[i].y);
    }
    free(c->c);
    memset(c, 0, sizeof *c);
}

/* One curve per run of consecutive rows of the same class: x from column xname, y from yname. */
static int read_curves(const char *path, const char *xname, const char *yname, int pr, xc_plot_curves *out) {
    memset(out, 0, sizeof *out);
    xc_csv *c = xc_csv_read(path, 1);
    if (!c) return -1;
    int rc = -1, n = xc_csv_rows(c);
    int cc = xc_csv_require_col(c, "class"), cx = cc < 0 ? -1 : xc_csv_require_col(c, xname),
        cy = cx < 0 ? -1 : xc_csv_require_col(c, yname);
    if (cy < 0) goto done;
    /* At most n curves: allocate for the worst case once. No row (no class with both positives
     * and negatives in the split) is no curve, not an error. */
    if (!(out->c = calloc((size_t)(n ? n : 1), sizeof *out->c))) goto nomem;
    for (int i = 0; i < n;) {
        const char *name = xc_csv_get(c, i, cc);
        int j = i;
        while (j < n && !strcmp(xc_csv_get(c, j, cc), name)) j++;
        for (int q = 0; q < out->n; q++)
            if (!strcmp(out->c[q].name, name)) {
                xc_errorf("'%s' line %d: the rows of '%s' are not consecutive", path, xc_csv_line(c, i), name);
                goto done;
            }
        xc_plot_curve *cv = &out->c[out->n++];
        cv->n = j - i;
        cv->name = strdup(name);
        cv->x = malloc((size_t)cv->n * sizeof(double));
        cv->y = malloc((size_t)cv->n * sizeof(double));
        if (!cv->name || !cv->x || !cv->y) goto nomem;
        for (int r = i; r < j; r++)
            if (cell_num(c, r, cx, 0, 0, 1, &cv->x[r - i]) < 0 || cell_num(c, r, cy, 0, 0, 1, &cv->y[r - i]) < 0)
                goto done;
        cv->area = 0;
        for (int r = 1; r < cv->n; r++)
            cv->area += pr ? (cv->x[r] - cv->x[r - 1]) * cv->y[r]
                           : (cv->x[r] - cv->x[r - 1]) * (cv->y[r] + cv->y[r - 1]) / 2;
        cv->base = pr ? cv->y[cv->n - 1] : NAN;
        i = j;
    }
    rc = 0;
    goto done;
nomem:
    oom(path);
done:
    xc_csv_free(c);
    if (rc < 0) xc_plot_curves_free(out);
    return rc;
}

int xc_plot_read_roc(const char *path, xc_plot_curves *out) { return read_curves(path, "fpr", "tpr", 0, out); }
int xc_plot_read_pr(const char *path, xc_plot_curves *out) { return read_curves(path, "recall", "precision", 1, out); }

/* ---- calibration.csv ---------------------------------------------------------------------- */

void xc_plot_calibration_free(xc_plot_calibration *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) {
        xc_plot_bins *r = &c->r[i];
        free(r->name);
        free(r->lower);
        free(r->upper);
        free(r->mean_prob);
        free(r->frac_pos);
        free(r->count);
    }
    free(c->r);
    memset(c, 0, sizeof *c);
}

int xc_plot_read_calibration(const char *path, const char *scheme, xc_plot_calibration *out) {
    memset(out, 0, sizeof *out);
    xc_csv *c = xc_csv_read(path, 1);
    if (!c) return -1;
    int rc = -1, n = xc_csv_rows(c), col[8];
    static const char *const names[8] = {"class", "scheme", "bin", "lower", "upper", "count", "mean_prob", "frac_pos"};
    for (int i = 0; i < 8; i++)
        if ((col[i] = xc_csv_require_col(c, names[i])) < 0) goto done;
    if (!(out->r = calloc((size_t)(n ? n : 1), sizeof *out->r))) goto nomem;
    for (int i = 0; i < n;) {
        if (strcmp(xc_csv_get(c, i, col[1]), scheme) != 0) {
            i++;
            continue;
        }
        const char *name = xc_csv_get(c, i, col[0]);
        int j = i;
        while (j < n && !strcmp(xc_csv_get(c, j, col[0]), name) && !strcmp(xc_csv_get(c, j, col[1]), scheme)) j++;
        for (int q = 0; q < out->n; q++)
            if (!strcmp(out->r[q].name, name)) {
                xc_errorf("'%s' line %d: the %s rows of '%s' are not consecutive", path, xc_csv_line(c, i), scheme, name);
                goto done;
            }
        xc_plot_bins *r = &out->r[out->n++];
        r->nbins = j - i;
        size_t bytes = (size_t)r->nbins * sizeof(double);
        r->name = strdup(name);
        r->lower = malloc(bytes), r->upper = malloc(bytes), r->mean_prob = malloc(bytes), r->frac_pos = malloc(bytes);
        r->count = malloc((size_t)r->nbins * sizeof *r->count);
        if (!r->name || !r->lower || !r->upper || !r->mean_prob || !r->frac_pos || !r->count) goto nomem;
        int64_t total = 0;
        for (int q = i; q < j; q++) {
            int b = q - i;
            double bin, cnt;
            if (cell_num(c, q, col[2], 0, 0, 1e9, &bin) < 0 || cell_num(c, q, col[3], 0, 0, 1, &r->lower[b]) < 0 ||
                cell_num(c, q, col[4], 0, 0, 1, &r->upper[b]) < 0 || cell_num(c, q, col[5], 0, 0, 1e15, &cnt) < 0 ||
                cell_num(c, q, col[6], 1, 0, 1, &r->mean_prob[b]) < 0 || cell_num(c, q, col[7], 1, 0, 1, &r->frac_pos[b]) < 0)
                goto done;
            if (bin != b || cnt != floor(cnt) || r->upper[b] < r->lower[b]) {
                xc_errorf("'%s' line %d: bin %g of '%s' is not bin %d of its %s bins, or its count or edges are "
                          "wrong", path, xc_csv_line(c, q), bin, name, b, scheme);
                goto done;
            }
            r->count[b] = (int64_t)cnt;
            total += r->count[b];
        }
        r->ece = 0;
        for (int b = 0; b < r->nbins; b++)
            if (r->count[b] > 0 && isfinite(r->mean_prob[b]) && isfinite(r->frac_pos[b]))
                r->ece += (double)r->count[b] / (double)total * fabs(r->frac_pos[b] - r->mean_prob[b]);
        i = j;
    }
    rc = 0; /* out->n 0: no diagram of that scheme (no known label) */
    goto done;
nomem:
    oom(path);
done:
    xc_csv_free(c);
    if (rc < 0) xc_plot_calibration_free(out);
    return rc;
}

/* ---- confusion_matrix.csv ----------------------------------------------------------------- */

void xc_plot_confusion_free(xc_plot_confusion_data *c) {
    if (!c) return;
    for (int i = 0; i < c->k; i++) free(c->names[i]);
    free(c->names);
    free(c->cm);
    memset(c, 0, sizeof *c);
}

int xc_plot_read_confusion(const char *path, xc_plot_confusion_data *out) {
    memset(out, 0, sizeof *out);
    xc_csv *c = xc_csv_read(path, 1);
    if (!c) return -1;
    int rc = -1, k = xc_csv_cols(c) - 1, tcol = xc_csv_require_col(c, "true");
    if (tcol < 0) goto done;
    if (tcol != 0 || k < 1 || k > 64 || xc_csv_rows(c) != k) {
        xc_errorf("'%s': expected the column 'true', then one 'predicted:<class>' column per class and one row per "
                  "class (1..64 classes)", path);
        goto done;
    }
    out->names = calloc((size_t)k, sizeof *out->names);
    out->cm = malloc((size_t)k * (size_t)k * sizeof *out->cm);
    if (!out->names || !out->cm) goto nomem;
    out->k = k;
    for (int i = 0; i < k; i++) {
        const char *h = xc_csv_header(c, i + 1);
        if (strncmp(h, "predicted:", 10) != 0) {
            xc_errorf("'%s': column %d is '%s', not 'predicted:<class>'", path, i + 2, h);
            goto done;
        }
        if (!(out->names[i] = strdup(h + 10))) goto nomem;
    }
    for (int t = 0; t < k; t++) {
        if (strcmp(xc_csv_get(c, t, 0), out->names[t]) != 0) {
            xc_errorf("'%s' line %d: the true class is '%s', expected '%s' (the columns' order)", path,
                      xc_csv_line(c, t), xc_csv_get(c, t, 0), out->names[t]);
            goto done;
        }
        for (int p = 0; p < k; p++) {
            double v;
            if (cell_num(c, t, p + 1, 0, 0, 1e15, &v) < 0) goto done;
            if (v != floor(v)) {
                xc_errorf("'%s' line %d: %s: %g is not a count", path, xc_csv_line(c, t), xc_csv_header(c, p + 1), v);
                goto done;
            }
            out->cm[t * k + p] = (int64_t)v;
        }
    }
    rc = 0;
    goto done;
nomem:
    oom(path);
done:
    xc_csv_free(c);
    if (rc < 0) xc_plot_confusion_free(out);
    return rc;
}

/* ---- a folder ----------------------------------------------------------------------------- */

/* The last component of path, trailing slashes ignored, into buf. */
static void base_name(const char *path, char *buf, size_t cap) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    snprintf(buf, cap, "%.*s", (int)(n - s), path + s);
}

char *xc_plot_name(const char *dir, const char *name_dir) {
    char folder[256], model[512] = "";
    base_name(name_dir ? name_dir : dir, folder, sizeof folder);
    if (!strcmp(folder, ".") || !folder[0]) {
        char *abs = realpath(name_dir ? name_dir : dir, NULL);
        if (abs) base_name(abs, folder, sizeof folder);
        free(abs);
    }
    char *p = xc_path_join(dir, "eval.json");
    cJSON *j = p && xc_is_file(p) ? xc_json_read_file(p, 64u << 20) : NULL;
    free(p);
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "model"));
    if (m && *m) {
        /* "runs/tiny/best.safetensors" → "tiny/best"; "m.safetensors" → "m". */
        char stem[256], parent[256] = "";
        base_name(m, stem, sizeof stem);
        char *dot = strrchr(stem, '.');
        if (dot && dot != stem) *dot = 0;
        const char *slash = strrchr(m, '/');
        if (slash && slash > m) {
            char *up = strndup(m, (size_t)(slash - m));
            if (up) base_name(up, parent, sizeof parent);
            free(up);
        }
        if (!strcmp(parent, ".") || !strcmp(parent, "..")) parent[0] = 0;
        snprintf(model, sizeof model, "%s%s%s, ", parent, parent[0] ? "/" : "", stem);
    }
    cJSON_Delete(j);
    xc_error_clear();
    size_t cap = strlen(model) + strlen(folder) + 1;
    char *out = malloc(cap);
    if (out) snprintf(out, cap, "%s%s", model, folder);
    return out;
}

/* What one folder can draw, all read before anything is drawn. */
typedef struct {
    int have_hist, have_cm, have_roc, have_pr, have_cal;
    xc_plot_history_data hist;
    xc_plot_confusion_data cm;
    xc_plot_curves roc, pr;
    xc_plot_calibration cal;
} folder_data;

static void folder_free(folder_data *d) {
    xc_plot_history_free(&d->hist);
    xc_plot_confusion_free(&d->cm);
    xc_plot_curves_free(&d->roc);
    xc_plot_curves_free(&d->pr);
    xc_plot_calibration_free(&d->cal);
}

/* 1 when dir/name is a file. */
static int has(const char *dir, const char *name) {
    char *p = xc_path_join(dir, name);
    int there = p && xc_is_file(p);
    free(p);
    return there;
}

static int read_in(const char *dir, const char *name, void *out, int (*rd)(const char *, void *)) {
    char *p = xc_path_join(dir, name);
    if (!p) return oom(name);
    int rc = rd(p, out);
    free(p);
    return rc;
}

/* 1 when the history has a finite accuracy (loss 0) or loss (loss 1) to draw. */
static int any_finite(const xc_plot_history_data *h, int loss) {
    for (int i = 0; i < h->n; i++)
        if (loss ? isfinite(h->train_loss[i]) || isfinite(h->val_loss[i]) : isfinite(h->train_acc[i]) || isfinite(h->val_acc[i]))
            return 1;
    return 0;
}

static int rd_confusion(const char *p, void *o) { return xc_plot_read_confusion(p, o); }
static int rd_roc(const char *p, void *o) { return xc_plot_read_roc(p, o); }
static int rd_pr(const char *p, void *o) { return xc_plot_read_pr(p, o); }
static int rd_cal(const char *p, void *o) { return xc_plot_read_calibration(p, "equal-width", o); }

int xc_plot_dir(const char *dir, const char *out_dir, const char *name_dir, xc_plot_format fmt, int overwrite,
                xc_strbuf *written) {
    if (fmt == XC_PLOT_NONE) return 0;
    if (!xc_is_dir(dir)) return xc_errorf("cannot read '%s': not a folder", dir);
    if (!xc_plot_available()) return xc_errorf("cannot draw the figures of '%s': %s", dir, XC_PLOT_NO_CAIRO);
    folder_data d;
    memset(&d, 0, sizeof d);
    int rc = -1, drawn = 0;
    char *name = NULL;
    if ((d.have_hist = has(dir, "metrics.csv")) && xc_plot_read_history(dir, &d.hist) < 0) goto done;
    if ((d.have_cm = has(dir, "confusion_matrix.csv")) && read_in(dir, "confusion_matrix.csv", &d.cm, rd_confusion) < 0)
        goto done;
    if ((d.have_roc = has(dir, "roc.csv")) && read_in(dir, "roc.csv", &d.roc, rd_roc) < 0) goto done;
    if ((d.have_pr = has(dir, "pr.csv")) && read_in(dir, "pr.csv", &d.pr, rd_pr) < 0) goto done;
    if ((d.have_cal = has(dir, "calibration.csv")) && read_in(dir, "calibration.csv", &d.cal, rd_cal) < 0) goto done;
    if (!d.have_hist && !d.have_cm && !d.have_roc && !d.have_pr && !d.have_cal) {
        xc_errorf("'%s' holds no figure data: neither a run folder's metrics.csv nor an eval folder's "
                  "confusion_matrix.csv, roc.csv, pr.csv or calibration.csv", dir);
        goto done;
    }
    /* The figures, in order: which exist, and whether each may be replaced. */
    struct {
        int on;
        const char *stem;
    } figs[] = {{d.have_hist && any_finite(&d.hist, 0), "accuracy"},
                {d.have_hist && any_finite(&d.hist, 1), "loss"},
                {d.have_cm, "confusion_matrix"},
                {d.have_roc && d.roc.n > 0, "roc"}, /* no curve (one class in the split): no figure */
                {d.have_pr && d.pr.n > 0, "pr"},
                {d.have_cal && d.cal.n > 0, "calibration"}};
    enum { NFIG = sizeof figs / sizeof *figs };
    char *paths[NFIG] = {0};
    const char *ext = xc_plot_format_name(fmt);
    if (xc_mkdir_p(out_dir) < 0) goto done;
    for (int i = 0; i < NFIG; i++) {
        if (!figs[i].on) continue;
        char file[64];
        snprintf(file, sizeof file, "%s.%s", figs[i].stem, ext);
        if (!(paths[i] = xc_path_join(out_dir, file))) {
            oom(file);
            goto free_paths;
        }
        if (!overwrite && xc_is_file(paths[i])) {
            xc_errorf("'%s' exists: figures are never replaced silently (--overwrite replaces them, -o names "
                      "another folder)", paths[i]);
            goto free_paths;
        }
    }
    if (!(name = xc_plot_name(dir, name_dir))) {
        oom("figures");
        goto free_paths;
    }
    for (int i = 0; i < NFIG; i++) {
        if (!paths[i]) continue;
        int r = 0;
        switch (i) {
        case 0: r = xc_plot_accuracy(&d.hist, paths[i], name, fmt); break;
        case 1: r = xc_plot_loss(&d.hist, paths[i], name, fmt); break;
        case 2: r = xc_plot_confusion(&d.cm, paths[i], name, fmt); break;
        case 3: r = xc_plot_roc(&d.roc, paths[i], name, fmt); break;
        case 4: r = xc_plot_pr(&d.pr, paths[i], name, fmt); break;
        default: r = xc_plot_reliability(&d.cal, paths[i], name, fmt); break;
        }
        if (r < 0) goto free_paths;
        if (written) xc_strbuf_printf(written, "%s%s.%s", drawn ? ", " : "", figs[i].stem, ext);
        drawn++;
    }
    rc = drawn;
free_paths:
    for (int i = 0; i < NFIG; i++) free(paths[i]);
done:
    free(name);
    folder_free(&d);
    return rc;
}
