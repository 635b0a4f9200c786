/* cmd_compare_torch.c — the libtorch part of `xraycls compare` (commands.h XC_TORCH_PARTS): a
 * model file named as A or B is scored on a split of a prepared dataset exactly as eval scores it
 * (xc_predict_dataset_tta, the model file's temperature, the test-time augmentation) into the
 * xc_eval_scores that reading its eval folder back would give — the probabilities as the floats
 * eval writes at %.9g, eval's predicted class (the first maximum) — and the comparison goes on
 * in compare_common.c as for two eval folders. The other side may be an eval folder. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare_cli.h"
#include "xraycls/calibration.h"
#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/metrics.h"
#include "xraycls/nn.h"
#include "xraycls/predict.h"
#include "xraycls/progress.h"
#include "xraycls/shim.h"
#include "xraycls/strbuf.h"

static void on_progress(void *ud, int64_t done) { xc_progress_update(ud, done, NULL); }

/* "[a, b, c]" of a model's classes into b. */
static void class_list(xc_strbuf *b, const xc_model_info *info) {
    xc_strbuf_puts(b, "[");
    for (int c = 0; c < info->num_classes; c++) xc_strbuf_printf(b, "%s%s", c ? ", " : "", info->classes[c]);
    xc_strbuf_puts(b, "]");
}

/* The first class difference between a model and a dataset, or between two models, as an
 * error; 0 when they hold the same classes in the same order. */
static int classes_differ(const char *what_a, const xc_model_info *a, const char *what_b, const xc_model_info *b) {
    int same = a->num_classes == b->num_classes;
    for (int c = 0; same && c < a->num_classes; c++) same = !strcmp(a->classes[c], b->classes[c]);
    if (same) return 0;
    xc_strbuf x = {0}, y = {0};
    class_list(&x, a);
    class_list(&y, b);
    xc_errorf("%s and %s cannot be compared: their classes differ (%s and %s)", what_a, what_b,
              x.s ? x.s : "?", y.s ? y.s : "?");
    xc_strbuf_free(&x);
    xc_strbuf_free(&y);
    return -1;
}

/* The classes of a dataset as an xc_model_info's (names only), for classes_differ. */
static void dataset_classes(const xc_dataset *d, xc_model_info *out) {
    memset(out, 0, sizeof *out);
    out->num_classes = xc_dataset_num_classes(d) < XC_INFO_MAX_CLASSES ? xc_dataset_num_classes(d) : XC_INFO_MAX_CLASSES;
    for (int c = 0; c < out->num_classes; c++) snprintf(out->classes[c], XC_CLASS_NAME_MAX, "%s", xc_dataset_class(d, c));
}

static char *dup_or_fail(const char *s, int *bad) {
    char *r = s ? strdup(s) : NULL;
    if (s && !r) *bad = 1;
    return r;
}

/* Scores model file `path` (side "A" or "B") on d into *e (zeroed first; xc_eval_scores_free).
 * 0 or -1. */
static int score_model(const cli_compare_args *a, const char *side, const char *path, xt_device dev, int layout,
                       int tta_opt, xc_dataset *d, xc_eval_scores *e) {
    memset(e, 0, sizeof *e);
    xc_model_info info, dinfo;
    xc_model *m = xc_checkpoint_load_model(path, dev, &info);
    if (!m) return -1;
    int rc = -1, k = info.num_classes, ml = xc_dataset_multilabel(d);
    int64_t n = xc_dataset_len(d);
    float *logits = NULL;
    char what[600];
    snprintf(what, sizeof what, "model '%s'", path);
    xc_calibration calib;
    dataset_classes(d, &dinfo);
    char dwhat[600];
    snprintf(dwhat, sizeof dwhat, "dataset '%s'", xc_dataset_path(d));
    if (cli_inference_form(m, layout, 1) < 0 || classes_differ(what, &info, dwhat, &dinfo) < 0)
        goto done;
    if (ml && strcmp(info.head, "sigmoid") != 0) {
        xc_errorf("'%s' is multi-label, and model '%s' has a %s head: a multi-label model has independent sigmoid "
                  "outputs", xc_dataset_path(d), path, info.head);
        goto done;
    }
    char prefix[64];
    snprintf(prefix, sizeof prefix, "compare: %s", side);
    xc_tta tta = (xc_tta)cli_tta_choose(prefix, tta_opt, info.tta, NULL);
    if (cli_calibration_load(prefix, path, info.head, xc_tta_name(tta), &calib, NULL, 0) < 0) goto done;
    size_t cells = (size_t)(n ? n : 1) * (size_t)k;
    int bad = 0;
    e->model = dup_or_fail(path, &bad);
    e->data = dup_or_fail(a->data, &bad);
    e->split = dup_or_fail(a->split, &bad);
    e->tta = dup_or_fail(xc_tta_name(tta), &bad);
    e->classes = calloc((size_t)k, sizeof *e->classes);
    e->paths = calloc((size_t)(n ? n : 1), sizeof *e->paths);
    e->probs = malloc(cells * sizeof *e->probs);
    logits = malloc(cells * sizeof *logits);
    if (ml) {
        e->targets = malloc(cells);
        e->known = malloc(cells);
    } else {
        e->labels = malloc((size_t)(n ? n : 1) * sizeof *e->labels);
        e->predicted = malloc((size_t)(n ? n : 1) * sizeof *e->predicted);
    }
    e->k = e->classes ? k : 0;
    e->n = e->paths ? n : 0;
    e->multilabel = ml;
    for (int c = 0; e->classes && c < k; c++) e->classes[c] = dup_or_fail(info.classes[c], &bad);
    for (int64_t i = 0; e->paths && i < n; i++) e->paths[i] = dup_or_fail(xc_dataset_file(d, i), &bad);
    if (bad || !e->classes || !e->paths || !e->probs || !logits ||
        (ml ? !e->targets || !e->known : !e->labels || !e->predicted)) {
        xc_errorf("out of memory for %lld x %d scores", (long long)n, k);
        goto done;
    }
    fprintf(stderr, "%s: %s (%s, %d classes) on %s: %lld images of split '%s'\n", prefix, path, info.arch, k,
            a->data, (long long)n, a->split);
    xc_progress *bar = xc_progress_start(n, side, cli_is_tty());
    int prc = xc_predict_dataset_tta(m, &info, d, (int)a->batch, tta, e->probs, logits, on_progress, bar);
    xc_progress_finish(bar);
    if (prc < 0) goto done;
    if (calib.present) /* as eval: softmax(z / T) of the logits */
        for (int64_t i = 0; i < n; i++)
            xc_softmax_temperature(logits + (size_t)i * k, k, calib.temperature, e->probs + (size_t)i * k);
    if (ml) {
        const uint8_t *t = xc_dataset_targets(d), *mask = xc_dataset_mask(d);
        memcpy(e->targets, t, (size_t)n * k);
        if (mask) memcpy(e->known, mask, (size_t)n * k);
        else memset(e->known, 1, (size_t)n * k);
    } else {
        memcpy(e->labels, xc_dataset_labels(d), (size_t)n * sizeof *e->labels);
        for (int64_t i = 0; i < n; i++) e->predicted[i] = xc_argmax(e->probs + (size_t)i * k, k);
    }
    rc = 0;
done:
    if (rc < 0) xc_eval_scores_free(e);
    free(logits);
    xc_model_free(m);
    return rc;
}

int cmd_compare_torch(int argc, char **argv) {
    cli_compare_args a;
    int rc = cli_compare_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    int tta_opt = -1, layout = CLI_LAYOUT_AUTO;
    if (a.tta) {
        xc_tta t;
        if (xc_tta_parse(a.tta, &t) < 0) return cli_usage_error("compare", cli_compare_usage, "--tta: %s", xc_error());
        tta_opt = (int)t;
    }
    if (a.layout && cli_layout_parse(a.layout, &layout) < 0)
        return cli_usage_error("compare", cli_compare_usage, "%s", xc_error());
    /* Two model files must have the same classes: said before anything is scored. */
    xc_model_info ia, ib;
    if (a.is_model[0] && a.is_model[1]) {
        if (xc_checkpoint_read_info(a.pos[0], &ia) < 0 || xc_checkpoint_read_info(a.pos[1], &ib) < 0) return cli_fail(NULL);
        char wa[600], wb[600];
        snprintf(wa, sizeof wa, "'%s'", a.pos[0]);
        snprintf(wb, sizeof wb, "'%s'", a.pos[1]);
        if (classes_differ(wa, &ia, wb, &ib) < 0) return cli_fail(NULL);
    }
    xt_device dev;
    if (xt_device_parse(a.device ? a.device : "auto", &dev) < 0 || cli_torch_threads("compare", (int)a.threads, 0) < 0)
        return cli_fail(NULL);
    xc_dataset *d = xc_dataset_open(a.data, a.split);
    if (!d) {
        cli_fail(NULL);
        cli_dataset_hint("compare", a.data, a.split);
        return XC_EXIT_FAIL;
    }
    xc_eval_scores e[2] = {{0}, {0}};
    rc = XC_EXIT_OK;
    for (int j = 0; j < 2 && rc == XC_EXIT_OK; j++) {
        int r = a.is_model[j] ? score_model(&a, j ? "B" : "A", a.pos[j], dev, layout, tta_opt, d, &e[j])
                              : xc_eval_scores_read(a.pos[j], a.split, a.dataset, &e[j]);
        if (r < 0) rc = cli_fail(NULL);
    }
    xc_dataset_close(d);
    if (rc == XC_EXIT_OK) rc = cli_compare_finish(&a, &e[0], &e[1]);
    xc_eval_scores_free(&e[0]);
    xc_eval_scores_free(&e[1]);
    return rc;
}
