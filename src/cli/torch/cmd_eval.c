/* cmd_eval.c — `xraycls eval`: scores a split of a prepared dataset with a checkpoint or model
 * file and writes, into a new folder renamed into place when complete, eval.json / eval.csv /
 * eval.md / confusion_matrix.csv, the per-image scores, the curves and the reliability data
 * (xraycls/report.h) and the figures drawn from them (xraycls/plot.h), with operating points
 * chosen on another split (xraycls/metrics.h). */
#define _XOPEN_SOURCE 700
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "xraycls/calibration.h"
#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/metrics.h"
#include "xraycls/metrics_findings.h"
#include "xraycls/nn.h"
#include "xraycls/parse.h"
#include "xraycls/predict.h"
#include "xraycls/progress.h"
#include "xraycls/report.h"
#include "xraycls/shim.h"

static const char usage[] =
    "usage: xraycls eval --model FILE --data DIR [--split test] [-o DIR] [--overwrite] [--batch N]\n"
    "                    [--device auto|cpu|cuda[:N]] [--ci wilson|clopper-pearson|bootstrap]\n"
    "                    [--bootstrap N] [--seed S] [--bins B] [--thresholds-from val|none]\n"
    "                    [--target-sensitivity X] [--target-specificity X]\n"
    "                    [--cam-worst K [--cam-layer L] [--cam-method gradcam|gradcam++]]\n"
    "                    [--threads T] [--layout auto|nchw|channels_last] [--tta none|flip|tencrop]\n"
    "                    [--figures png|svg|pdf|none]\n"
    "\n"
    "Scores every image of a split of a prepared dataset (no augmentation, eval mode) and writes,\n"
    "into a new folder: eval.json, eval.csv, eval.md and confusion_matrix.csv (accuracy, balanced\n"
    "accuracy, per-class precision / recall / F1 / specificity / NPV / AUROC / average precision,\n"
    "macro and weighted F1, macro AUROC and AP, the confusion matrix, Brier score and ECE, each\n"
    "interval with its method; operating points), predictions.csv and predictions.jsonl (every\n"
    "image: path as prepared, true and predicted label, each class's probability and logit at\n"
    "%.9g), roc.csv, pr.csv and calibration.csv. Definitions: docs/METRICS.md.\n"
    "\n"
    "  --model FILE     a checkpoint (runs/<name>/best.safetensors) or an imported model file\n"
    "  --data DIR       a prepared dataset (xraycls prepare); its classes must be the model's\n"
    "  --split NAME     the split to score (test)\n"
    "  -o DIR           output folder (default: the model file's folder/eval-<dataset>-<split>,\n"
    "                   <dataset> the name of the --data folder)\n"
    "  --overwrite      replace an existing output folder (else it is refused, exit 1); the new\n"
    "                   one is written beside it and renamed into place when complete\n"
    "  --batch N        images per forward pass (64)\n"
    "  --device D       auto (CUDA when available), cpu, cuda or cuda:N (auto)\n"
    "  --ci M           intervals of the proportions (accuracy, per-class recall, specificity,\n"
    "                   precision, NPV): wilson (default) or clopper-pearson; AUROC then gets\n"
    "                   DeLong's interval and the bootstrap covers only F1, balanced accuracy\n"
    "                   and macro means; bootstrap: every interval by the bootstrap\n"
    "  --bootstrap N    bootstrap resamples (percentile, stratified by class), 0 for none (1000)\n"
    "  --seed S         seed of the bootstrap (0)\n"
    "  --bins B         reliability bins of the ECE and calibration.csv (15)\n"
    "  --thresholds-from S  the split whose scores choose the operating points (one-vs-rest\n"
    "                   thresholds at Youden's J, --target-sensitivity and --target-specificity,\n"
    "                   applied to --split; multi-label: each finding's Youden threshold), or\n"
    "                   none (val; skipped with a note when the dataset has no such split;\n"
    "                   --threshold-split is the same option). A model file written by\n"
    "                   xraycls calibrate carries its own: they are used unless this is given\n"
    "  --target-sensitivity X, --target-specificity X   the targets in [0, 1] (0.95 each)\n"
    "  --cam-worst K    Grad-CAM overlays of the K most confident errors of each true class, for\n"
    "                   the class chosen: <out>/cam-worst/<class>/<rank>-sample<i>-as-<class>.png\n"
    "                   and .cam.safetensors (see xraycls predict --help, --cam)\n"
    "  --cam-layer L    the layer explained (layer4 for ResNet, features.norm5 for DenseNet)\n"
    "  --cam-method M   gradcam (default) or gradcam++\n"
    "  --threads T      libtorch's CPU threads (default: OMP_NUM_THREADS, else every usable CPU)\n"
    "  --layout L       memory layout of the model: auto (channels_last on the CPU, NCHW on\n"
    "                   CUDA), nchw or channels_last; batch norm is always folded into the\n"
    "                   convolutions before it (same outputs up to float rounding)\n"
    "  --tta T          test-time augmentation: none, flip (the mean probability of the image\n"
    "                   and its mirror) or tencrop (CheXNet's: upsampled to 256/224 of the\n"
    "                   model's size, the four corner and centre crops and their mirrors, the\n"
    "                   mean of the ten); default: the model file's (import --tta), else none.\n"
    "                   Recorded in eval.json (\"tta\") and eval.md; predictions.* gain a column\n"
    "                   tta, and their logits are the logit of the mean probability\n"
    "  --figures F      the figures drawn from those CSVs, beside them: confusion_matrix, roc,\n"
    "                   pr and calibration (reliability) as png (default), svg or pdf, or none;\n"
    "                   xraycls figures DIR redraws them later in any format\n"
    "\n"
    "A class with no image in the split is reported as absent (null), never as 0. eval.json\n"
    "records the xraycls version, the checkpoint's epoch, absolute paths and the UTC time.\n"
    "\n"
    "A multi-label dataset (prepare --findings) is evaluated finding by finding over its known\n"
    "labels: AUROC with a 95% DeLong interval, average precision, sensitivity and specificity\n"
    "(Wilson intervals) at the thresholds chosen on --thresholds-from, and their macro and micro\n"
    "means (eval.json, eval.csv, eval.md; docs/MULTILABEL.md). predict --thresholds eval.json\n"
    "applies those thresholds.\n";

/* "a, b, c" into buf. */
static void join_names(char *buf, size_t cap, int n, const char *(*name)(const void *, int), const void *ctx) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len + 1 < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", name(ctx, i));
}

static const char *model_class(const void *ctx, int i) { return ((const xc_model_info *)ctx)->classes[i]; }
static const char *data_class(const void *ctx, int i) { return xc_dataset_class((const xc_dataset *)ctx, i); }

/* The task name recorded by prepare (DIR/dataset.json: source.task.name), or NULL. */
static char *read_task(const char *data_dir) {
    char *p = xc_path_join(data_dir, "dataset.json");
    cJSON *j = p && xc_is_file(p) ? xc_json_read_file(p, 16u << 20) : NULL;
    free(p);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "source");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(src, "task");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(task, "name");
    char *out = cJSON_IsString(name) ? strdup(name->valuestring) : NULL;
    cJSON_Delete(j);
    xc_error_clear();
    return out;
}

/* The folder of a file path ("runs/a/best.safetensors" → "runs/a", "m.safetensors" → "."). */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static void on_progress(void *ud, int64_t done) { xc_progress_update(ud, done, NULL); }

/* Scores a split into new (n, k) arrays (caller frees; logits may be NULL), with a progress bar. */
static float *score_split(xc_model *m, const xc_model_info *info, xc_dataset *d, int batch, xc_tta tta,
                          const char *what, float **logits) {
    int64_t n = xc_dataset_len(d);
    size_t cells = (size_t)(n ? n : 1) * (size_t)info->num_classes;
    float *probs = malloc(cells * sizeof *probs);
    if (logits) *logits = malloc(cells * sizeof **logits);
    if (!probs || (logits && !*logits)) {
        free(probs);
        if (logits) free(*logits), *logits = NULL;
        return xc_errorf("out of memory for %lld x %d scores", (long long)n, info->num_classes), NULL;
    }
    xc_progress *bar = xc_progress_start(n, what, cli_is_tty());
    int prc = xc_predict_dataset_tta(m, info, d, batch, tta, probs, logits ? *logits : NULL, on_progress, bar);
    xc_progress_finish(bar);
    if (prc < 0) {
        free(probs);
        if (logits) free(*logits), *logits = NULL;
        return NULL;
    }
    return probs;
}

/* ---- the output folder: written beside, renamed into place (xc_outdir) ------------------- */

/* The last component of a path, trailing slashes ignored ("data/prep/" → "prep"). malloc'd. */
static char *base_of(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && path[s - 1] != '/') s--;
    return strndup(path + s, n - s);
}

/* Opens the folder (-o, else MODEL_DIR/eval-<dataset>-<split>): an existing one is refused
 * without --overwrite. */
static int out_open(xc_outdir *o, const char *out, const char *model_path, const char *data, const char *split,
                    int overwrite) {
    memset(o, 0, sizeof *o);
    o->lock_fd = -1;
    if (out) return xc_outdir_open(o, out, overwrite, "an evaluation");
    char *md = dir_of(model_path), *ds = base_of(data);
    size_t cap = (ds ? strlen(ds) : 0) + strlen(split) + 16;
    char *sub = malloc(cap);
    if (sub && ds) snprintf(sub, cap, "eval-%s-%s", ds, split);
    char *path = md && sub && ds ? xc_path_join(md, sub) : NULL;
    free(md);
    free(ds);
    free(sub);
    if (!path) return xc_errorf("out of memory");
    int rc = xc_outdir_open(o, path, overwrite, "an evaluation");
    free(path);
    return rc;
}

/* The files of the split as prepared (borrowed strings), malloc'd array. */
static const char **split_files(const xc_dataset *d) {
    int64_t n = xc_dataset_len(d);
    const char **f = malloc((size_t)(n ? n : 1) * sizeof *f);
    for (int64_t i = 0; f && i < n; i++) f[i] = xc_dataset_file(d, i);
    if (!f) xc_errorf("out of memory");
    return f;
}

/* Provenance: version, absolute paths, UTC time, the checkpoint's epoch. Strings into bufs. */
typedef struct {
    xc_provenance p;
    char *model_abs, *data_abs;
    char utc[32];
} provenance;

static void provenance_fill(provenance *pv, const char *model_path, const char *data, const xc_model_info *info) {
    memset(pv, 0, sizeof *pv);
    pv->model_abs = realpath(model_path, NULL);
    pv->data_abs = realpath(data, NULL);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(pv->utc, sizeof pv->utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    pv->p.version = XRAYCLS_VERSION;
    pv->p.model_abs = pv->model_abs;
    pv->p.data_abs = pv->data_abs;
    pv->p.utc = pv->utc;
    pv->p.epoch = !strcmp(info->kind, "checkpoint") ? info->epoch : -1;
}

static void provenance_free(provenance *pv) {
    free(pv->model_abs);
    free(pv->data_abs);
}

/* 1 when DIR/<split>.safetensors exists. */
static int has_split(const char *data, const char *split) {
    char name[300];
    snprintf(name, sizeof name, "%s.safetensors", split);
    char *f = xc_path_join(data, name);
    int there = f && xc_is_file(f);
    free(f);
    return there;
}

typedef struct {
    const char *model_path, *data, *split, *out, *device, *thr_split;
    long long batch, bootstrap, seed, cam_worst, bins;
    double target_sens, target_spec;
    xc_ci_method ci;
    int overwrite;
    double temperature; /* the model file's calibration (xraycls calibrate), 0: none */
    int thr_given;      /* --thresholds-from given: it wins over the model file's operating points */
    const xc_calibration *calib; /* the model file's calibration, NULL: none */
    xc_tta tta;         /* test-time augmentation */
    xc_plot_format figures;
} eval_args;

/* softmax(z / T) of every row: from the logits when there are, else from the probabilities. */
static void apply_temperature(double t, float *probs, const float *logits, int64_t n, int k) {
    if (!(t > 0)) return;
    for (int64_t i = 0; i < n; i++) {
        if (logits) xc_softmax_temperature(logits + (size_t)i * k, k, t, probs + (size_t)i * k);
        else xc_probs_temperature(probs + (size_t)i * k, k, t);
    }
}

/* eval of a multi-label dataset (xraycls/metrics_findings.h): thresholds on thr_split, metrics
 * on split. Returns the exit code. */
static int eval_findings(xc_model *m, const xc_model_info *info, xc_dataset *d, const eval_args *a,
                         const xc_provenance *prov) {
    int k = info->num_classes, rc = XC_EXIT_FAIL;
    const char *model_path = a->model_path, *data = a->data, *split = a->split, *thr_split = a->thr_split;
    if (strcmp(info->head, "sigmoid") != 0)
        return cli_fail("'%s' is multi-label, and model '%s' has a %s head: a multi-label model has independent "
                        "sigmoid outputs (train it with loss.type \"bce\" or \"focal\")", xc_dataset_path(d),
                        model_path, info->head);
    int same = xc_dataset_num_classes(d) == k;
    for (int c = 0; same && c < k; c++) same = !strcmp(info->classes[c], xc_dataset_class(d, c));
    if (!same) {
        char x[4096], y[4096];
        join_names(x, sizeof x, k, model_class, info);
        join_names(y, sizeof y, xc_dataset_num_classes(d), data_class, d);
        return cli_fail("the findings differ: model '%s' has [%s], dataset '%s' has [%s]", model_path, x,
                        xc_dataset_path(d), y);
    }
    double thr[XC_INFO_MAX_CLASSES];
    int chosen[XC_INFO_MAX_CLASSES] = {0};
    for (int c = 0; c < k; c++) thr[c] = 0.5;
    const char *used_split = NULL;
    float *probs = NULL, *logits = NULL;
    const char **files = NULL;
    xc_findings_metrics *met = NULL;
    xc_dataset *tv = NULL;
    xc_outdir of = {0};
    of.lock_fd = -1;
    if (out_open(&of, a->out, model_path, data, split, a->overwrite) < 0) goto done;
    if (strcmp(thr_split, "none") != 0) {
        if (!has_split(data, thr_split)) {
            fprintf(stderr, "eval: no split '%s' in %s: every threshold is 0.5\n", thr_split, data);
        } else {
            if (!strcmp(thr_split, split))
                fprintf(stderr, "warning: the thresholds are chosen on the evaluated split '%s' itself: its "
                                "sensitivity and specificity are optimistic\n", split);
            if (!(tv = xc_dataset_open(data, thr_split))) goto done;
            float *tp = score_split(m, info, tv, (int)a->batch, a->tta, "thresholds", NULL);
            if (!tp) goto done;
            int e = xc_findings_thresholds(tp, xc_dataset_targets(tv), xc_dataset_mask(tv), xc_dataset_len(tv), k,
                                           XC_OP_YOUDEN, 0, thr, chosen);
            free(tp);
            if (e < 0) goto done;
            used_split = thr_split;
        }
    }
    fprintf(stderr, "eval: %s (%s, %d findings) on %s: %lld images of split '%s'\n", model_path, info->arch, k, data,
            (long long)xc_dataset_len(d), split);
    if (!(probs = score_split(m, info, d, (int)a->batch, a->tta, "eval", &logits))) goto done;
    if (!(met = xc_findings_metrics_compute(probs, xc_dataset_targets(d), xc_dataset_mask(d), xc_dataset_len(d), k,
                                            thr, chosen, 0.95)))
        goto done;
    const char *names[XC_INFO_MAX_CLASSES];
    for (int c = 0; c < k; c++) names[c] = info->classes[c];
    xc_findings_info fi = {model_path, data, split, info->arch, info->head, used_split, "youden", names, prov};
    if (!(files = split_files(d))) goto done;
    xc_scores sc = {xc_dataset_len(d), k, names, files, probs, logits, NULL, xc_dataset_targets(d), xc_dataset_mask(d), thr,
                    xc_tta_name(a->tta)};
    if (xc_scores_write(of.tmp, &sc, (int)a->bins) < 0 || xc_findings_write(of.tmp, met, &fi) < 0 ||
        cli_figures("eval", of.tmp, of.final, a->figures) < 0 || xc_outdir_commit(&of) < 0)
        goto done;
    char b1[96], b2[96], b3[96];
    printf("macro AUROC %s  micro AUROC %s  macro AP %s\n", xc_metric_format(&met->macro_auroc, b1, sizeof b1),
           xc_metric_format(&met->micro_auroc, b2, sizeof b2), xc_metric_format(&met->macro_ap, b3, sizeof b3));
    for (int c = 0; c < k; c++)
        printf("  %-24s AUROC %s  AP %s  sens %s @ %.3g\n", names[c], xc_metric_format(&met->per[c].auroc, b1, sizeof b1),
               xc_metric_format(&met->per[c].ap, b2, sizeof b2), xc_metric_format(&met->per[c].sensitivity, b3, sizeof b3),
               met->per[c].threshold);
    printf("wrote %s/{eval.json, eval.csv, eval.md, predictions.csv, predictions.jsonl, roc.csv, pr.csv, "
           "calibration.csv}\n", of.final);
    rc = XC_EXIT_OK;
done:
    if (rc != XC_EXIT_OK) cli_fail(NULL);
    xc_outdir_close(&of);
    xc_findings_metrics_free(met);
    xc_dataset_close(tv);
    free(files);
    free(probs);
    free(logits);
    return rc;
}

/* Operating points of a single-label model: the model file's (xraycls calibrate) unless
 * --thresholds-from says otherwise, else thresholds chosen on a->thr_split; applied to the
 * evaluated scores. *ops NULL (with a note) when there is no such split; *from: where they were
 * chosen. Returns 0 or -1. */
static int eval_op_points(xc_model *m, const xc_model_info *info, const eval_args *a, const float *probs,
                          const xc_dataset *d, xc_op_point **ops, const char **from) {
    *ops = NULL;
    *from = a->thr_split;
    if (!a->thr_given && a->calib && a->calib->nops > 0) {
        int k = info->num_classes;
        if (a->calib->nops != k)
            return xc_errorf("'%s': its operating points are for %d classes, the model has %d", a->model_path,
                             a->calib->nops, k);
        xc_op_point *o = malloc((size_t)k * XC_OP_RULES * sizeof *o);
        if (!o) return xc_errorf("out of memory");
        memcpy(o, a->calib->ops, (size_t)k * XC_OP_RULES * sizeof *o);
        if (xc_op_points_apply(o, probs, xc_dataset_labels(d), xc_dataset_len(d), k, 0.95, a->ci) < 0) {
            free(o);
            return -1;
        }
        fprintf(stderr, "eval: operating points: the model file's thresholds (chosen on split '%s' by xraycls "
                        "calibrate; --thresholds-from chooses new ones)\n", a->calib->split);
        *from = a->calib->split;
        *ops = o;
        return 0;
    }
    if (!strcmp(a->thr_split, "none")) return 0;
    if (!has_split(a->data, a->thr_split)) {
        fprintf(stderr, "eval: no split '%s' in %s: no operating points\n", a->thr_split, a->data);
        return 0;
    }
    if (!strcmp(a->thr_split, a->split))
        fprintf(stderr, "warning: the operating points are chosen on the evaluated split '%s' itself: their "
                        "sensitivity and specificity are optimistic\n", a->split);
    int k = info->num_classes, rc = -1;
    xc_dataset *tv = xc_dataset_open(a->data, a->thr_split);
    float *tp = tv ? score_split(m, info, tv, (int)a->batch, a->tta, "thresholds", NULL) : NULL;
    if (tp) apply_temperature(a->temperature, tp, NULL, xc_dataset_len(tv), k);
    xc_op_point *o = tp ? calloc((size_t)k * XC_OP_RULES, sizeof *o) : NULL;
    if (tp && !o) xc_errorf("out of memory");
    if (o && xc_op_points_compute(tp, xc_dataset_labels(tv), xc_dataset_len(tv), probs, xc_dataset_labels(d),
                                  xc_dataset_len(d), k, a->target_sens, a->target_spec, 0.95, a->ci, o) == 0) {
        *ops = o;
        o = NULL;
        rc = 0;
    }
    free(o);
    free(tp);
    xc_dataset_close(tv);
    return rc;
}

static const xc_opt opts[] = {
    {"model", 0, XC_OPT_VALUE},           {"data", 0, XC_OPT_VALUE},      {"split", 0, XC_OPT_VALUE},
    {"output", 'o', XC_OPT_VALUE},        {"device", 0, XC_OPT_VALUE},    {"thresholds-from", 0, XC_OPT_VALUE},
    {"threshold-split", 0, XC_OPT_VALUE}, {"ci", 0, XC_OPT_VALUE},        {"target-sensitivity", 0, XC_OPT_VALUE},
    {"target-specificity", 0, XC_OPT_VALUE}, {"batch", 0, XC_OPT_VALUE},  {"bins", 0, XC_OPT_VALUE},
    {"bootstrap", 0, XC_OPT_VALUE},       {"seed", 0, XC_OPT_VALUE},      {"cam-worst", 0, XC_OPT_VALUE},
    {"cam-layer", 0, XC_OPT_VALUE},       {"cam-method", 0, XC_OPT_VALUE}, {"overwrite", 0, 0},
    {"threads", 0, XC_OPT_VALUE},         {"layout", 0, XC_OPT_VALUE},    {"tta", 0, XC_OPT_VALUE},
    {"figures", 0, XC_OPT_VALUE},         {0}};
enum { O_MODEL, O_DATA, O_SPLIT, O_OUTPUT, O_DEVICE, O_THR_FROM, O_THR_SPLIT, O_CI, O_TSENS, O_TSPEC, O_BATCH,
       O_BINS, O_BOOTSTRAP, O_SEED, O_CAM_WORST, O_CAM_LAYER, O_CAM_METHOD, O_OVERWRITE,
       O_THREADS, O_LAYOUT, O_TTA, O_FIGURES };

int cmd_eval(int argc, char **argv) {
    eval_args a = {NULL, NULL, "test", NULL, "auto", "val", 64, 1000, 0, 0, 15, 0.95, 0.95, XC_CI_WILSON, 0, 0, 0, NULL, XC_TTA_NONE,
                   XC_PLOT_PNG};
    const char *cam_layer = NULL, *cam_method = "gradcam";
    long long threads = 0;
    int layout = CLI_LAYOUT_AUTO, tta_opt = -1;
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        const char *v = p.value;
        int bad = 0;
        switch (k) {
        case XC_OPT_HELP: return cli_help(usage);
        case XC_OPT_ARG: return cli_usage_error("eval", usage, "unexpected argument '%s'", v);
        case O_MODEL: a.model_path = v; break;
        case O_DATA: a.data = v; break;
        case O_SPLIT: a.split = v; break;
        case O_OUTPUT: a.out = v; break;
        case O_DEVICE: a.device = v; break;
        case O_THR_FROM:
        case O_THR_SPLIT: a.thr_split = v, a.thr_given = 1; break;
        case O_CI:
            if (!strcmp(v, "wilson")) a.ci = XC_CI_WILSON;
            else if (!strcmp(v, "clopper-pearson")) a.ci = XC_CI_CLOPPER_PEARSON;
            else if (!strcmp(v, "bootstrap")) a.ci = XC_CI_BOOTSTRAP;
            else return cli_usage_error("eval", usage, "--ci '%s' is not wilson, clopper-pearson or bootstrap", v);
            break;
        case O_TSENS: bad = xc_opt_double(&p, 0, 1, &a.target_sens); break;
        case O_TSPEC: bad = xc_opt_double(&p, 0, 1, &a.target_spec); break;
        case O_BATCH: bad = xc_opt_ll(&p, 1, 65536, &a.batch); break;
        case O_BINS: bad = xc_opt_ll(&p, 1, 1000, &a.bins); break;
        case O_BOOTSTRAP: bad = xc_opt_ll(&p, 0, 1000000, &a.bootstrap); break;
        case O_SEED: bad = xc_opt_ll(&p, 0, (1LL << 62), &a.seed); break;
        case O_CAM_WORST: bad = xc_opt_ll(&p, 1, 100000, &a.cam_worst); break;
        case O_CAM_LAYER: cam_layer = v; break;
        case O_CAM_METHOD: cam_method = v; break;
        case O_OVERWRITE: a.overwrite = 1; break;
        case O_THREADS: bad = xc_opt_ll(&p, 1, 1024, &threads); break;
        case O_LAYOUT:
            if (cli_layout_parse(v, &layout) < 0) return cli_usage_error("eval", usage, "%s", xc_error());
            break;
        case O_FIGURES:
            if (xc_plot_format_parse(v, 1, &a.figures) < 0) return cli_usage_error("eval", usage, "--figures: %s", xc_error());
            break;
        case O_TTA: {
            xc_tta t;
            if (xc_tta_parse(v, &t) < 0) return cli_usage_error("eval", usage, "--tta: %s", xc_error());
            tta_opt = (int)t;
            break;
        }
        default: bad = -1; /* XC_OPT_ERROR */
        }
        if (bad) return cli_opt_error("eval", usage);
    }
    if (!a.model_path) return cli_usage_error("eval", usage, "--model is required");
    if (!a.data) return cli_usage_error("eval", usage, "--data is required");
    if (!*a.split || strchr(a.split, '/')) return cli_usage_error("eval", usage, "--split '%s' is not a split name", a.split);
    if (!*a.thr_split || strchr(a.thr_split, '/'))
        return cli_usage_error("eval", usage, "--thresholds-from '%s' is not a split name", a.thr_split);
    xc_cam_opts cam = xc_cam_default();
    if (!a.cam_worst && (cam_layer || strcmp(cam_method, "gradcam")))
        return cli_usage_error("eval", usage, "--cam-layer and --cam-method need --cam-worst K");
    if (xc_cam_method_parse(cam_method, &cam.method) < 0) return cli_usage_error("eval", usage, "--cam-method: %s", xc_error());

    xt_device dev;
    if (xt_device_parse(a.device, &dev) < 0) return cli_fail(NULL);
    xc_model_info info;
    xc_dataset *d = xc_dataset_open(a.data, a.split);
    if (!d) {
        cli_fail(NULL);
        cli_dataset_hint("eval", a.data, a.split);
        return XC_EXIT_FAIL;
    }
    if (cli_torch_threads("eval", (int)threads, 0) < 0) {
        xc_dataset_close(d);
        return cli_fail(NULL);
    }
    xc_model *m = xc_checkpoint_load_model(a.model_path, dev, &info);
    if (m && cli_inference_form(m, layout, 1) < 0) {
        xc_model_free(m);
        m = NULL;
    }
    if (!m) {
        xc_dataset_close(d);
        return cli_fail_model(a.model_path);
    }
    int rc = XC_EXIT_FAIL, k = info.num_classes;
    if (cam_layer && xc_model_layer_check(m, cam_layer) < 0) {
        xc_model_free(m);
        xc_dataset_close(d);
        return cli_usage_error("eval", usage, "--cam-layer: %s", xc_error());
    }
    cam.layer = cam_layer;
    const char *tta_source = NULL;
    a.tta = (xc_tta)cli_tta_choose("eval", tta_opt, info.tta, &tta_source);
    if (a.cam_worst && a.tta != XC_TTA_NONE) {
        xc_model_free(m);
        xc_dataset_close(d);
        return cli_usage_error("eval", usage, "--cam-worst explains one view of each image, not the mean of the %s "
                               "test-time augmentation (%s): add --tta none", xc_tta_name(a.tta),
                               tta_opt >= 0 ? "--tta" : "the model file's default");
    }
    float *probs = NULL, *logits = NULL;
    const char **files = NULL;
    char *task = NULL;
    xc_metrics *met = NULL;
    xc_op_point *ops = NULL;
    xc_outdir of = {0};
    of.lock_fd = -1;
    provenance pv;
    provenance_fill(&pv, a.model_path, a.data, &info);
    pv.p.tta = xc_tta_name(a.tta);
    pv.p.tta_source = tta_source;
    pv.p.tta_views = xc_tta_views(a.tta);
    if (a.tta == XC_TTA_TENCROP) pv.p.tta_resize = xc_tta_resize(info.image_size), pv.p.tta_crop = info.image_size;
    xc_calibration calib;
    char calib_note[1300];
    if (cli_calibration_load("eval", a.model_path, info.head, xc_tta_name(a.tta), &calib, calib_note,
                             sizeof calib_note) < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (calib.present) {
        a.temperature = calib.temperature;
        a.calib = &calib;
        pv.p.temperature_note = calib_note;
    }
    if (xc_dataset_multilabel(d)) {
        rc = eval_findings(m, &info, d, &a, &pv.p);
        goto done;
    }
    int same = xc_dataset_num_classes(d) == k;
    for (int c = 0; same && c < k; c++) same = !strcmp(info.classes[c], xc_dataset_class(d, c));
    if (!same) {
        char x[4096], y[4096];
        join_names(x, sizeof x, k, model_class, &info);
        join_names(y, sizeof y, xc_dataset_num_classes(d), data_class, d);
        cli_fail("the classes differ: model '%s' has [%s], dataset '%s' has [%s]", a.model_path, x,
                 xc_dataset_path(d), y);
        goto done;
    }
    if (out_open(&of, a.out, a.model_path, a.data, a.split, a.overwrite) < 0) {
        cli_fail(NULL);
        goto done;
    }
    int64_t n = xc_dataset_len(d);
    char devname[32];
    xt_device_string(dev, devname, sizeof devname);
    fprintf(stderr, "eval: %s (%s, %d classes) on %s: %lld images of split '%s' on %s\n", a.model_path, info.arch, k,
            a.data, (long long)n, a.split, devname);
    if (!(probs = score_split(m, &info, d, (int)a.batch, a.tta, "eval", &logits))) {
        cli_fail(NULL);
        goto done;
    }
    apply_temperature(a.temperature, probs, logits, n, k);
    xc_metrics_params mp = xc_metrics_default();
    mp.bootstrap = (int)a.bootstrap;
    mp.seed = (uint64_t)a.seed;
    mp.ci = a.ci;
    mp.probabilities = 1;
    mp.bins = (int)a.bins;
    if (!(met = xc_metrics_compute(probs, xc_dataset_labels(d), n, k, &mp))) {
        cli_fail("the scores of '%s' on '%s': %s", a.model_path, xc_dataset_path(d), xc_error());
        goto done;
    }
    const char *ops_from = NULL;
    if (eval_op_points(m, &info, &a, probs, d, &ops, &ops_from) < 0 || !(files = split_files(d))) {
        cli_fail(NULL);
        goto done;
    }
    task = read_task(a.data);
    const char *names[XC_INFO_MAX_CLASSES];
    for (int c = 0; c < k; c++) names[c] = info.classes[c];
    xc_report_info ri = {a.model_path, a.data, a.split, task, info.arch, info.head, names, &pv.p, ops,
                         ops ? ops_from : NULL, ops && ops_from != a.thr_split};
    xc_scores sc = {n, k, names, files, probs, logits, xc_dataset_labels(d), NULL, NULL, NULL, xc_tta_name(a.tta)};
    if (xc_scores_write(of.tmp, &sc, (int)a.bins) < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (a.cam_worst) {
        char *cdir = xc_path_join(of.tmp, "cam-worst");
        xc_normalize norm = xc_predict_normalize(&info);
        int64_t nw = 0;
        int crc = cdir ? xc_cam_worst(m, d, probs, names, &norm, (int)a.cam_worst, cdir, &cam,
                                      !strcmp(info.head, "sigmoid"), &nw)
                       : -1;
        if (crc == 0) printf("made %lld Grad-CAM overlays of errors (cam-worst/)\n", (long long)nw);
        free(cdir);
        if (crc < 0) {
            cli_fail(NULL);
            goto done;
        }
    }
    if (xc_report_write(of.tmp, met, &ri) < 0 || cli_figures("eval", of.tmp, of.final, a.figures) < 0 ||
        xc_outdir_commit(&of) < 0) {
        cli_fail(NULL);
        goto done;
    }
    char *summary = xc_report_summary(met, &ri);
    if (summary) fputs(summary, stdout);
    free(summary);
    printf("wrote %s/{eval.json, eval.csv, eval.md, confusion_matrix.csv, predictions.csv, predictions.jsonl, "
           "roc.csv, pr.csv, calibration.csv%s}\n", of.final, a.cam_worst ? ", cam-worst/" : "");
    rc = XC_EXIT_OK;
done:
    xc_outdir_close(&of);
    provenance_free(&pv);
    xc_metrics_free(met);
    free(ops);
    free(files);
    free(probs);
    free(logits);
    free(task);
    xc_model_free(m);
    xc_dataset_close(d);
    return rc;
}
