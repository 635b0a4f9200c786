/* test_plot.c — the figures of xraycls/plot.h: the CSV readers give back exactly what eval's
 * writers put in (AUROC, AP and ECE recomputed from the rows equal the metrics'), the best epoch
 * follows train's rule, the log-scale decision; the figures are valid PNG (signature, IHDR
 * size), SVG (title and desc naming the run, the classes, the best epoch, the log scale) and PDF
 * (header, trailer), written atomically; a folder without data or with a malformed file, and an
 * existing figure, are refused with nothing written. A build without cairo checks that drawing
 * says so. */
#include <dirent.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/metrics.h"
#include "xraycls/plot.h"
#include "xraycls/report.h"

static char *join(const char *dir, const char *name) {
    char *s = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(s, "%s/%s", dir, name);
    return s;
}

static void put(const char *dir, const char *name, const char *text) {
    char *p = join(dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(p);
}

static char *slurp(const char *dir, const char *name, size_t *len) {
    char *p = join(dir, name);
    char *t = xc_is_file(p) ? xc_read_file(p, len, 64u << 20) : NULL;
    free(p);
    return t;
}

/* Entries of dir (hidden ones too: a temporary left behind would show). */
static int entries(const char *dir, int hidden_only) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (!hidden_only || e->d_name[0] == '.') n++;
    }
    closedir(d);
    return n;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }

/* A PNG of w × h: signature, then the IHDR chunk first. */
static int png_ok(const unsigned char *b, size_t len, uint32_t w, uint32_t h) {
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    return len > 33 && !memcmp(b, sig, 8) && !memcmp(b + 12, "IHDR", 4) && be32(b + 16) == w && be32(b + 20) == h;
}

/* ---- readers ----------------------------------------------------------------------------- */

static void test_formats(void) {
    xc_plot_format f;
    CHECK(xc_plot_format_parse("svg", 0, &f) == 0 && f == XC_PLOT_SVG);
    CHECK(xc_plot_format_parse("pdf", 0, &f) == 0 && f == XC_PLOT_PDF);
    CHECK(xc_plot_format_parse("png", 0, &f) == 0 && f == XC_PLOT_PNG);
    CHECK(xc_plot_format_parse("none", 0, &f) == -1 && strstr(xc_error(), "'none' is not png, svg or pdf"));
    CHECK(xc_plot_format_parse("none", 1, &f) == 0 && f == XC_PLOT_NONE);
    CHECK(xc_plot_format_parse("gif", 1, &f) == -1 && strstr(xc_error(), "'gif'"));
    CHECK(!strcmp(xc_plot_format_name(XC_PLOT_PDF), "pdf"));
}

static const char HEAD[] = "epoch,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,lr,seconds,images_per_s,"
                           "val_auroc,val_macro_f1\n";

static void test_history(const char *tmp) {
    char *run = join(tmp, "run-a");
    xc_mkdir_p(run);
    char text[2048];
    /* val_acc peaks at epoch 3 and again (equal) at 5: the first stays, as in train.c. */
    snprintf(text, sizeof text,
             "%s1,2.0,0.4,2.2,0.50,,0.001,1,1,0.6,\n2,1.0,0.6,1.2,0.60,,0.001,1,1,0.7,\n3,0.5,0.7,0.9,0.75,,0.001,1,1,"
             "0.8,\n4,0.3,0.8,,,,0.001,1,1,,\n5,0.15,0.9,0.8,0.75,,0.001,1,1,0.9,\n",
             HEAD);
    put(run, "metrics.csv", text);
    xc_plot_history_data h;
    CHECK(xc_plot_read_history(run, &h) == 0);
    CHECK(h.n == 5 && h.best_epoch == 0 && !h.best_metric[0]); /* no config.json: no marker */
    CHECK(h.n == 5 && isnan(h.val_acc[3]) && h.val_loss[4] == 0.8 && h.train_acc[0] == 0.4);
    CHECK(xc_plot_loss_log_scale(&h) == 1); /* 0.15 .. 2.2 */
    xc_plot_history_free(&h);
    put(run, "config.json", "{\"train\": {\"best_metric\": \"val_accuracy\", \"epochs\": 5}}");
    CHECK(xc_plot_read_history(run, &h) == 0 && h.best_epoch == 3 && !strcmp(h.best_metric, "val_accuracy"));
    xc_plot_history_free(&h);
    put(run, "config.json", "{\"train\": {\"best_metric\": \"val_loss\"}}");
    CHECK(xc_plot_read_history(run, &h) == 0 && h.best_epoch == 5);
    xc_plot_history_free(&h);
    put(run, "config.json", "{\"train\": {\"best_metric\": \"val_auroc\"}}");
    CHECK(xc_plot_read_history(run, &h) == 0 && h.best_epoch == 5);
    xc_plot_history_free(&h);
    put(run, "config.json", "{\"train\": {\"best_metric\": 3}}");
    CHECK(xc_plot_read_history(run, &h) == -1 && strstr(xc_error(), "config.json"));

    /* The log axis: a decade exactly is enough; less is not; a loss of 0 cannot be drawn on one. */
    double ep[2] = {1, 2}, tl[2] = {1.0, 0.1}, vl[2] = {NAN, NAN}, acc[2] = {NAN, NAN};
    xc_plot_history_data g = {2, ep, acc, acc, tl, vl, 0, ""};
    CHECK(xc_plot_loss_log_scale(&g) == 1);
    tl[1] = 0.101;
    CHECK(xc_plot_loss_log_scale(&g) == 0);
    tl[1] = 0.01, vl[0] = 0;
    CHECK(xc_plot_loss_log_scale(&g) == 0);

    put(run, "config.json", "{}");
    snprintf(text, sizeof text, "%s1,abc,0.4,,,,0.001,1,1,,\n", HEAD);
    put(run, "metrics.csv", text);
    CHECK(xc_plot_read_history(run, &h) == -1 && strstr(xc_error(), "metrics.csv' line 2: train_loss"));
    put(run, "metrics.csv", HEAD);
    CHECK(xc_plot_read_history(run, &h) == -1 && strstr(xc_error(), "no epoch"));
    free(run);
}

/* Scores of 3 classes for 24 images, deterministic and not separable. */
enum { N = 24, K = 3 };
static const char *const CLS[K] = {"COVID-19", "Normal", "Pneumonia"};

static void make_scores(float *p, int64_t *y) {
    for (int i = 0; i < N; i++) {
        y[i] = i % K;
        double z[K], s = 0;
        for (int c = 0; c < K; c++) z[c] = ((i * 7 + c * 13) % 11) / 5.0 + (c == y[i] ? 1.0 : 0);
        for (int c = 0; c < K; c++) s += exp(z[c]);
        for (int c = 0; c < K; c++) p[i * K + c] = (float)(exp(z[c]) / s);
    }
}

/* Rows of the CSV document whose first field is name. */
static int rows_of(const char *doc, const char *name) {
    int n = 0;
    size_t l = strlen(name);
    for (const char *s = doc; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL)
        n += !strncmp(s, name, l) && s[l] == ',';
    return n;
}

static void test_curves(const char *tmp, xc_metrics **metrics_out) {
    float p[N * K];
    int64_t y[N];
    make_scores(p, y);
    xc_scores sc = {N, K, CLS, NULL, p, NULL, y, NULL, NULL, NULL, NULL};
    char *dir = join(tmp, "ev");
    xc_mkdir_p(dir);
    char *roc = xc_roc_csv(&sc), *pr = xc_pr_csv(&sc), *cal = xc_calibration_csv(&sc, 10);
    CHECK(roc && pr && cal);
    if (!roc || !pr || !cal) return;
    put(dir, "roc.csv", roc);
    put(dir, "pr.csv", pr);
    put(dir, "calibration.csv", cal);
    xc_metrics_params mp = xc_metrics_default();
    mp.bootstrap = 0;
    mp.probabilities = 1;
    mp.bins = 10;
    xc_metrics *m = xc_metrics_compute(p, y, N, K, &mp);
    CHECK(m != NULL);
    if (!m) return;
    *metrics_out = m;

    char *path = join(dir, "roc.csv");
    xc_plot_curves c;
    CHECK(xc_plot_read_roc(path, &c) == 0);
    CHECK(c.n == K + 1 && !strcmp(c.c[K].name, "macro"));
    for (int i = 0; i < c.n && c.n == K + 1; i++) {
        /* Every row is a point; the area of the rows is the metric eval reports. */
        CHECK_MSG(c.c[i].n == rows_of(roc, c.c[i].name), "%s: %d points", c.c[i].name, c.c[i].n);
        double want = i < K ? m->per_class[i].auroc.value : m->macro_auroc.value;
        CHECK_CLOSE(c.c[i].area, want, 1e-6, 0);
        CHECK(c.c[i].x[0] == 0 && c.c[i].y[0] == 0 && c.c[i].x[c.c[i].n - 1] == 1 && c.c[i].y[c.c[i].n - 1] == 1);
    }
    xc_plot_curves_free(&c);
    free(path);

    path = join(dir, "pr.csv");
    CHECK(xc_plot_read_pr(path, &c) == 0);
    CHECK(c.n == K + 1);
    for (int i = 0; i < c.n && c.n == K + 1; i++) {
        CHECK(c.c[i].n == rows_of(pr, c.c[i].name));
        double want = i < K ? m->per_class[i].ap.value : m->macro_ap.value;
        CHECK_CLOSE(c.c[i].area, want, 1e-6, 0);
        if (i < K) CHECK_CLOSE(c.c[i].base, 1.0 / K, 1e-9, 0); /* 8 of 24 images per class */
    }
    xc_plot_curves_free(&c);
    free(path);

    path = join(dir, "calibration.csv");
    xc_plot_calibration cb;
    CHECK(xc_plot_read_calibration(path, "equal-width", &cb) == 0);
    CHECK(cb.n == K + 1 && !strcmp(cb.r[0].name, "top-label") && cb.r[0].nbins == 10);
    if (cb.n > 0) CHECK_CLOSE(cb.r[0].ece, m->ece_equal_width, 1e-6, 0);
    int64_t total = 0;
    for (int b = 0; cb.n > 0 && b < cb.r[0].nbins; b++) total += cb.r[0].count[b];
    CHECK(total == N);
    xc_plot_calibration_free(&cb);
    CHECK(xc_plot_read_calibration(path, "equal-mass", &cb) == 0 && cb.n == K + 1);
    if (cb.n > 0) CHECK_CLOSE(cb.r[0].ece, m->ece_equal_mass, 1e-6, 0);
    xc_plot_calibration_free(&cb);
    CHECK(xc_plot_read_calibration(path, "quantile", &cb) == 0 && cb.n == 0);
    xc_plot_calibration_free(&cb);
    free(path);

    /* Malformed: a class whose rows are split, a value out of range, a missing column. */
    char *bad = join(tmp, "bad.csv");
    put(tmp, "bad.csv", "class,threshold,fpr,tpr\nA,inf,0,0\nB,inf,0,0\nA,0.5,1,1\n");
    CHECK(xc_plot_read_roc(bad, &c) == -1 && strstr(xc_error(), "not consecutive"));
    put(tmp, "bad.csv", "class,threshold,fpr,tpr\nA,inf,0,1.5\n");
    CHECK(xc_plot_read_roc(bad, &c) == -1 && strstr(xc_error(), "line 2: tpr"));
    CHECK(xc_plot_read_pr(bad, &c) == -1 && strstr(xc_error(), "no column 'recall'"));
    /* No row (no class with positives and negatives): no curve, and no figure, not an error. */
    put(tmp, "bad.csv", "class,threshold,fpr,tpr\n");
    CHECK(xc_plot_read_roc(bad, &c) == 0 && c.n == 0);
    xc_plot_curves_free(&c);
    free(bad);
    free(roc);
    free(pr);
    free(cal);
    free(dir);
}

static void test_confusion_data(const char *tmp, const xc_metrics *m) {
    char *dir = join(tmp, "ev");
    char *doc = xc_confusion_csv(m->confusion, K, CLS);
    CHECK(doc && !strncmp(doc, "true,predicted:COVID-19,predicted:Normal,predicted:Pneumonia\nCOVID-19,", 70));
    put(dir, "confusion_matrix.csv", doc ? doc : "");
    free(doc);
    char *path = join(dir, "confusion_matrix.csv");
    xc_plot_confusion_data cd;
    CHECK(xc_plot_read_confusion(path, &cd) == 0 && cd.k == K);
    for (int i = 0; i < K * K && cd.k == K; i++) CHECK(cd.cm[i] == m->confusion[i]);
    xc_plot_confusion_free(&cd);
    put(tmp, "cm.csv", "true,predicted:A,predicted:B\nB,1,2\nA,3,4\n");
    char *bad = join(tmp, "cm.csv");
    CHECK(xc_plot_read_confusion(bad, &cd) == -1 && strstr(xc_error(), "expected 'A'"));
    put(tmp, "cm.csv", "true,predicted:A,predicted:B\nA,1,2.5\nB,3,4\n");
    CHECK(xc_plot_read_confusion(bad, &cd) == -1 && strstr(xc_error(), "not a count"));
    free(bad);
    free(path);
    free(dir);
}

/* ---- figures ----------------------------------------------------------------------------- */

static void test_figures(const char *tmp) {
    char *ev = join(tmp, "ev"), *run = join(tmp, "run-b");
    xc_mkdir_p(run);
    char text[2048];
    snprintf(text, sizeof text, "%s1,2.0,0.4,2.2,0.50,,0.001,1,1,,\n2,1.0,0.6,1.2,0.60,,0.001,1,1,,\n"
             "3,0.5,0.7,0.9,0.75,,0.001,1,1,,\n4,0.15,0.8,1.0,0.70,,0.001,1,1,,\n", HEAD);
    put(run, "metrics.csv", text);
    put(run, "config.json", "{\"train\": {\"best_metric\": \"val_accuracy\"}}");
    put(ev, "eval.json", "{\"model\": \"runs/tiny/best.safetensors\"}");

    char *name = xc_plot_name(ev, NULL);
    CHECK(name && !strcmp(name, "tiny/best, ev"));
    free(name);
    name = xc_plot_name(ev, "runs/tiny/eval-data-test/");
    CHECK(name && !strcmp(name, "tiny/best, eval-data-test"));
    free(name);
    name = xc_plot_name(run, NULL);
    CHECK(name && !strcmp(name, "run-b"));
    free(name);

    if (!xc_plot_available()) {
        char *p = join(run, "accuracy.png");
        xc_plot_history_data h;
        CHECK(xc_plot_read_history(run, &h) == 0);
        CHECK(xc_plot_accuracy(&h, p, "x", XC_PLOT_PNG) == -1 && strstr(xc_error(), "built without cairo"));
        CHECK(xc_plot_dir(run, run, NULL, XC_PLOT_SVG, 0, NULL) == -1 && strstr(xc_error(), "libcairo2-dev"));
        CHECK(!xc_is_file(p));
        xc_plot_history_free(&h);
        free(p);
        free(ev);
        free(run);
        return;
    }

    /* Every format of every figure. */
    const xc_plot_format fmts[3] = {XC_PLOT_PNG, XC_PLOT_SVG, XC_PLOT_PDF};
    for (int f = 0; f < 3; f++) {
        xc_strbuf w = {0};
        CHECK_MSG(xc_plot_dir(ev, ev, "runs/tiny/eval-data-test", fmts[f], 0, &w) == 4, "%s", xc_error());
        CHECK(xc_plot_dir(run, run, NULL, fmts[f], 0, NULL) == 2);
        const char *ext = xc_plot_format_name(fmts[f]);
        char want[256];
        snprintf(want, sizeof want, "confusion_matrix.%s, roc.%s, pr.%s, calibration.%s", ext, ext, ext, ext);
        CHECK_MSG(w.s && !strcmp(w.s, want), "%s", w.s ? w.s : "(none)");
        xc_strbuf_free(&w);
    }
    CHECK(entries(ev, 1) == 0 && entries(run, 1) == 0); /* no temporary left */

    size_t len;
    unsigned char *b = (unsigned char *)slurp(run, "accuracy.png", &len);
    /* 3.5 in × 185 pt at 300 dpi. */
    CHECK(b && png_ok(b, len, 1050, 771));
    free(b);
    b = (unsigned char *)slurp(ev, "roc.png", &len);
    CHECK(b && png_ok(b, len, 1050, (uint32_t)ceil(236 * 300 / 72.0)));
    free(b);

    char *svg = slurp(run, "accuracy.svg", &len);
    CHECK(svg && !strncmp(svg, "<?xml", 5) && strstr(svg, "</svg>"));
    CHECK(svg && strstr(svg, "<title>Accuracy \xE2\x80\x94 run-b</title>"));
    CHECK(svg && strstr(svg, "best: epoch 3\n"));
    CHECK(svg && strstr(svg, "validation\n") && strstr(svg, "train\n") && strstr(svg, "epoch\n"));
    free(svg);
    svg = slurp(run, "loss.svg", &len);
    CHECK(svg && strstr(svg, "loss (log scale)\n") && strstr(svg, "best: epoch 3\n")); /* 0.15 .. 2.2 */
    free(svg);
    svg = slurp(ev, "roc.svg", &len);
    CHECK(svg && strstr(svg, "<title>ROC curves \xE2\x80\x94 tiny/best, eval-data-test</title>"));
    CHECK(svg && strstr(svg, "COVID-19 (AUROC ") && strstr(svg, "Pneumonia (AUROC ") && strstr(svg, "macro (AUROC "));
    free(svg);
    svg = slurp(ev, "pr.svg", &len);
    CHECK(svg && strstr(svg, "Normal (AP ") && strstr(svg, "prevalence"));
    free(svg);
    svg = slurp(ev, "calibration.svg", &len);
    CHECK(svg && strstr(svg, "top label (ECE ") && strstr(svg, "perfectly calibrated\n") && strstr(svg, "images\n"));
    free(svg);
    svg = slurp(ev, "confusion_matrix.svg", &len);
    CHECK(svg && strstr(svg, "COVID-19\n") && strstr(svg, "Pneumonia\n") && strstr(svg, "predicted class\n") &&
          strstr(svg, "100%\n"));
    free(svg);
    char *pdf = slurp(ev, "pr.pdf", &len);
    CHECK(pdf && len > 100 && !strncmp(pdf, "%PDF-", 5));
    /* The trailer: startxref then %%EOF at the end. */
    CHECK(pdf && strstr(pdf + len - 64, "startxref") && strstr(pdf + len - 16, "%%EOF"));
    free(pdf);

    /* Linear loss axis when the losses span less than a decade. */
    snprintf(text, sizeof text, "%s1,1.0,0.4,1.1,0.5,,0.001,1,1,,\n2,0.5,0.6,0.6,0.6,,0.001,1,1,,\n", HEAD);
    put(run, "metrics.csv", text);
    CHECK(xc_plot_dir(run, run, NULL, XC_PLOT_SVG, 1, NULL) == 2);
    svg = slurp(run, "loss.svg", &len);
    CHECK(svg && strstr(svg, "\nloss\n") && !strstr(svg, "log scale"));
    free(svg);

    /* An existing figure is refused, and nothing else is drawn; --overwrite replaces. */
    char *acc = join(run, "accuracy.pdf");
    unlink(acc);
    CHECK(xc_plot_dir(run, run, NULL, XC_PLOT_PDF, 0, NULL) == -1 && strstr(xc_error(), "loss.pdf' exists"));
    CHECK(!xc_is_file(acc));
    CHECK(xc_plot_dir(run, run, NULL, XC_PLOT_PDF, 1, NULL) == 2 && xc_is_file(acc));
    free(acc);

    /* A folder without data: an error, and the output folder is not even made. */
    char *empty = join(tmp, "empty"), *out = join(tmp, "empty-out");
    xc_mkdir_p(empty);
    put(empty, "notes.txt", "x");
    CHECK(xc_plot_dir(empty, out, NULL, XC_PLOT_PNG, 0, NULL) == -1 && strstr(xc_error(), "holds no figure data"));
    CHECK(!xc_is_dir(out) && entries(empty, 0) == 1);
    /* A malformed file among good ones: nothing is drawn. */
    char *mixed = join(tmp, "mixed");
    xc_mkdir_p(mixed);
    put(mixed, "roc.csv", "class,threshold,fpr,tpr\nA,inf,0,0\nA,0.5,1,1\n");
    put(mixed, "pr.csv", "class,threshold,precision,recall\nA,inf,x,0\n");
    CHECK(xc_plot_dir(mixed, mixed, NULL, XC_PLOT_PNG, 0, NULL) == -1 && strstr(xc_error(), "pr.csv' line 2"));
    CHECK(entries(mixed, 0) == 2);
    CHECK(xc_plot_dir("no/such/folder", tmp, NULL, XC_PLOT_PNG, 0, NULL) == -1 && strstr(xc_error(), "no/such/folder"));

    /* TensorBoard's picture, in memory. */
    const int64_t cm[4] = {5, 1, 2, 7};
    const char *names[2] = {"A", "B"};
    uint8_t *png = NULL;
    size_t plen = 0;
    int pw = 0, ph = 0;
    CHECK(xc_plot_confusion_png(cm, 2, names, "Confusion matrix, validation, epoch 1", &png, &plen, &pw, &ph) == 0);
    CHECK(png && pw == 525 && ph > 100 && png_ok(png, plen, (uint32_t)pw, (uint32_t)ph));
    free(png);
    CHECK(xc_plot_confusion_png(cm, 0, names, NULL, &png, &plen, &pw, &ph) == -1 && !png);
    free(empty);
    free(out);
    free(mixed);
    free(ev);
    free(run);
}

int main(void) {
    const char *tmp = getenv("XRAYCLS_TMP");
    if (!tmp) tmp = "/tmp";
    char *dir = join(tmp, "plot");
    xc_remove_tree(dir);
    xc_mkdir_p(dir);
    test_formats();
    test_history(dir);
    xc_metrics *m = NULL;
    test_curves(dir, &m);
    if (m) test_confusion_data(dir, m);
    test_figures(dir);
    xc_metrics_free(m);
    free(dir);
    return check_done("plot");
}
