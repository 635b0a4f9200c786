/* cmd_eval.c — `xraycls eval`: scores a split of a prepared dataset with a checkpoint or model
 * file and writes eval.json / eval.csv / eval.md / confusion_matrix.png (xraycls/report.h). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/metrics.h"
#include "xraycls/metrics_findings.h"
#include "xraycls/nn.h"
#include "xraycls/predict.h"
#include "xraycls/progress.h"
#include "xraycls/report.h"
#include "xraycls/shim.h"

static const char usage[] =
    "usage: xraycls eval --model FILE --data DIR [--split test] [-o DIR] [--batch N]\n"
    "                    [--device auto|cpu|cuda[:N]] [--bootstrap N] [--seed S]\n"
    "                    [--threshold-split val|none]\n"
    "                    [--cam-worst K [--cam-layer L] [--cam-method gradcam|gradcam++]]\n"
    "\n"
    "Scores every image of a split of a prepared dataset (no augmentation, eval mode) and writes\n"
    "eval.json, eval.csv, eval.md and confusion_matrix.png: accuracy, balanced accuracy, per-class\n"
    "precision / recall / F1 / specificity / AUROC, macro and weighted F1, macro AUROC and the\n"
    "confusion matrix, each with a 95% bootstrap interval (percentile, stratified by class).\n"
    "\n"
    "  --model FILE     a checkpoint (runs/<name>/best.safetensors) or an imported model file\n"
    "  --data DIR       a prepared dataset (xraycls prepare); its classes must be the model's\n"
    "  --split NAME     the split to score (test)\n"
    "  -o DIR           output folder (default: the model file's folder/eval-<split>)\n"
    "  --batch N        images per forward pass (64)\n"
    "  --device D       auto (CUDA when available), cpu, cuda or cuda:N (auto)\n"
    "  --bootstrap N    bootstrap resamples for the intervals, 0 for none (1000)\n"
    "  --seed S         seed of the bootstrap (0)\n"
    "  --cam-worst K    Grad-CAM overlays of the K most confident errors of each true class, for\n"
    "                   the class chosen: <out>/cam-worst/<class>/<rank>-sample<i>-as-<class>.png\n"
    "                   and .cam.safetensors (see xraycls predict --help, --cam)\n"
    "  --cam-layer L    the layer explained (layer4 for ResNet, features.norm5 for DenseNet)\n"
    "  --cam-method M   gradcam (default) or gradcam++\n"
    "\n"
    "  --threshold-split S  multi-label: the split whose scores choose each finding's decision\n"
    "                   threshold (Youden's J), or none for 0.5 (val; 0.5 when it is absent)\n"
    "\n"
    "A class with no image in the split is reported as absent (null), never as 0.\n"
    "\n"
    "A multi-label dataset (prepare --findings) is evaluated finding by finding over its known\n"
    "labels: AUROC with a 95% DeLong interval, average precision, sensitivity and specificity\n"
    "(Wilson intervals) at the thresholds chosen on --threshold-split, and their macro and micro\n"
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

/* Scores a split into a new (n, k) array (caller frees), with a progress bar. */
static float *score_split(xc_model *m, const xc_model_info *info, xc_dataset *d, int batch, const char *what) {
    int64_t n = xc_dataset_len(d);
    float *probs = malloc((size_t)(n ? n : 1) * (size_t)info->num_classes * sizeof *probs);
    if (!probs) return xc_errorf("out of memory for %lld x %d scores", (long long)n, info->num_classes), NULL;
    xc_progress *bar = xc_progress_start(n, what, cli_is_tty());
    int prc = xc_predict_dataset(m, info, d, batch, probs, on_progress, bar);
    xc_progress_finish(bar);
    if (prc < 0) {
        free(probs);
        return NULL;
    }
    return probs;
}


/* eval of a multi-label dataset (xraycls/metrics_findings.h): thresholds on thr_split, metrics
 * on split. Returns the exit code. */
static int eval_findings(xc_model *m, const xc_model_info *info, xc_dataset *d, const char *model_path,
                         const char *data, const char *split, const char *thr_split, const char *out, int batch) {
    int k = info->num_classes, rc = XC_EXIT_FAIL;
    if (strcmp(info->head, "sigmoid") != 0)
        return cli_fail("'%s' is multi-label, and model '%s' has a %s head: a multi-label model has independent "
                        "sigmoid outputs (train it with loss.type \"bce\" or \"focal\")", xc_dataset_path(d),
                        model_path, info->head);
    int same = xc_dataset_num_classes(d) == k;
    for (int c = 0; same && c < k; c++) same = !strcmp(info->classes[c], xc_dataset_class(d, c));
    if (!same) {
        char a[4096], b[4096];
        join_names(a, sizeof a, k, model_class, info);
        join_names(b, sizeof b, xc_dataset_num_classes(d), data_class, d);
        return cli_fail("the findings differ: model '%s' has [%s], dataset '%s' has [%s]", model_path, a,
                        xc_dataset_path(d), b);
    }
    double thr[XC_INFO_MAX_CLASSES];
    int chosen[XC_INFO_MAX_CLASSES] = {0};
    for (int c = 0; c < k; c++) thr[c] = 0.5;
    const char *used_split = NULL;
    float *probs = NULL;
    char *out_dir = NULL;
    xc_findings_metrics *met = NULL;
    xc_dataset *tv = NULL;
    if (strcmp(thr_split, "none") != 0) {
        char *f = NULL;
        char name[300];
        snprintf(name, sizeof name, "%s.safetensors", thr_split);
        f = xc_path_join(data, name);
        int there = f && xc_is_file(f);
        free(f);
        if (!there) {
            fprintf(stderr, "eval: no split '%s' in %s: every threshold is 0.5\n", thr_split, data);
        } else {
            if (!strcmp(thr_split, split))
                fprintf(stderr, "warning: the thresholds are chosen on the evaluated split '%s' itself: its "
                                "sensitivity and specificity are optimistic\n", split);
            if (!(tv = xc_dataset_open(data, thr_split))) goto done;
            float *tp = score_split(m, info, tv, batch, "thresholds");
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
    if (!(probs = score_split(m, info, d, batch, "eval"))) goto done;
    if (!(met = xc_findings_metrics_compute(probs, xc_dataset_targets(d), xc_dataset_mask(d), xc_dataset_len(d), k,
                                            thr, chosen, 0.95)))
        goto done;
    if (out) out_dir = strdup(out);
    else {
        char *md = dir_of(model_path);
        char sub[96];
        snprintf(sub, sizeof sub, "eval-%s", split);
        out_dir = md ? xc_path_join(md, sub) : NULL;
        free(md);
    }
    const char *names[XC_INFO_MAX_CLASSES];
    for (int c = 0; c < k; c++) names[c] = info->classes[c];
    xc_findings_info fi = {model_path, data, split, info->arch, info->head, used_split, "youden", names};
    if (!out_dir || xc_findings_write(out_dir, met, &fi) < 0) goto done;
    char a[96], b[96], c3[96];
    printf("macro AUROC %s  micro AUROC %s  macro AP %s\n", xc_metric_format(&met->macro_auroc, a, sizeof a),
           xc_metric_format(&met->micro_auroc, b, sizeof b), xc_metric_format(&met->macro_ap, c3, sizeof c3));
    for (int c = 0; c < k; c++)
        printf("  %-24s AUROC %s  AP %s  sens %s @ %.3g\n", names[c], xc_metric_format(&met->per[c].auroc, a, sizeof a),
               xc_metric_format(&met->per[c].ap, b, sizeof b), xc_metric_format(&met->per[c].sensitivity, c3, sizeof c3),
               met->per[c].threshold);
    printf("wrote %s/{eval.json, eval.csv, eval.md}\n", out_dir);
    rc = XC_EXIT_OK;
done:
    if (rc != XC_EXIT_OK) cli_fail(NULL);
    xc_findings_metrics_free(met);
    xc_dataset_close(tv);
    free(probs);
    free(out_dir);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return XC_EXIT_OK;
    }
    const char *model_path = NULL, *data = NULL, *split = "test", *out = NULL, *device = "auto", *thr_split = "val";
    long long batch = 64, bootstrap = 1000, seed = 0, cam_worst = 0;
    const char *cam_layer = NULL, *cam_method = "gradcam";
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v && a[0] == '-') return cli_usage_error("eval", usage, "%s needs a value", a);
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--threshold-split")) thr_split = v;
        else if (!strcmp(a, "--batch")) {
            if (cli_parse_ll(v, 1, 65536, &batch) < 0) return cli_usage_error("eval", usage, "--batch '%s' is not in 1..65536", v);
        } else if (!strcmp(a, "--bootstrap")) {
            if (cli_parse_ll(v, 0, 1000000, &bootstrap) < 0)
                return cli_usage_error("eval", usage, "--bootstrap '%s' is not in 0..1000000", v);
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_ll(v, 0, (1LL << 62), &seed) < 0) return cli_usage_error("eval", usage, "--seed '%s' is not a number >= 0", v);
        } else if (!strcmp(a, "--cam-worst")) {
            if (cli_parse_ll(v, 1, 100000, &cam_worst) < 0)
                return cli_usage_error("eval", usage, "--cam-worst '%s' is not in 1..100000", v);
        } else if (!strcmp(a, "--cam-layer")) cam_layer = v;
        else if (!strcmp(a, "--cam-method")) cam_method = v;
        else return cli_usage_error("eval", usage, "unknown argument '%s'", a);
    }
    if (!model_path) return cli_usage_error("eval", usage, "--model is required");
    if (!data) return cli_usage_error("eval", usage, "--data is required");
    if (!*split || strchr(split, '/')) return cli_usage_error("eval", usage, "--split '%s' is not a split name", split);
    xc_cam_opts cam = xc_cam_default();
    if (!cam_worst && (cam_layer || strcmp(cam_method, "gradcam")))
        return cli_usage_error("eval", usage, "--cam-layer and --cam-method need --cam-worst K");
    if (xc_cam_method_parse(cam_method, &cam.method) < 0) return cli_usage_error("eval", usage, "--cam-method: %s", xc_error());

    xt_device dev;
    if (xt_device_parse(device, &dev) < 0) return cli_fail(NULL);
    xc_model_info info;
    xc_dataset *d = xc_dataset_open(data, split);
    if (!d) return cli_fail(NULL);
    xc_model *m = xc_checkpoint_load_model(model_path, dev, &info);
    if (!m) {
        xc_dataset_close(d);
        return cli_fail(NULL);
    }
    int rc = XC_EXIT_FAIL, k = info.num_classes;
    if (cam_layer && xc_model_layer_check(m, cam_layer) < 0) {
        xc_model_free(m);
        xc_dataset_close(d);
        return cli_usage_error("eval", usage, "--cam-layer: %s", xc_error());
    }
    cam.layer = cam_layer;
    float *probs = NULL;
    char *task = NULL, *out_dir = NULL;
    xc_metrics *met = NULL;
    if (xc_dataset_multilabel(d)) {
        rc = eval_findings(m, &info, d, model_path, data, split, thr_split, out, (int)batch);
        goto done;
    }
    int same = xc_dataset_num_classes(d) == k;
    for (int c = 0; same && c < k; c++) same = !strcmp(info.classes[c], xc_dataset_class(d, c));
    if (!same) {
        char a[4096], b[4096];
        join_names(a, sizeof a, k, model_class, &info);
        join_names(b, sizeof b, xc_dataset_num_classes(d), data_class, d);
        cli_fail("the classes differ: model '%s' has [%s], dataset '%s' has [%s]", model_path, a,
                 xc_dataset_path(d), b);
        goto done;
    }
    int64_t n = xc_dataset_len(d);
    probs = malloc((size_t)n * k * sizeof *probs);
    if (!probs) {
        cli_fail("out of memory for %lld x %d scores", (long long)n, k);
        goto done;
    }
    char devname[32];
    xt_device_string(dev, devname, sizeof devname);
    fprintf(stderr, "eval: %s (%s, %d classes) on %s: %lld images of split '%s' on %s\n", model_path, info.arch, k,
            data, (long long)n, split, devname);
    xc_progress *bar = xc_progress_start(n, "eval", cli_is_tty());
    int prc = xc_predict_dataset(m, &info, d, (int)batch, probs, on_progress, bar);
    xc_progress_finish(bar);
    if (prc < 0) {
        cli_fail(NULL);
        goto done;
    }
    xc_metrics_params mp = xc_metrics_default();
    mp.bootstrap = (int)bootstrap;
    mp.seed = (uint64_t)seed;
    if (!(met = xc_metrics_compute(probs, xc_dataset_labels(d), n, k, &mp))) {
        cli_fail(NULL);
        goto done;
    }
    task = read_task(data);
    if (out) out_dir = strdup(out);
    else {
        char *md = dir_of(model_path);
        char sub[96];
        snprintf(sub, sizeof sub, "eval-%s", split);
        out_dir = md ? xc_path_join(md, sub) : NULL;
        free(md);
    }
    const char *names[XC_INFO_MAX_CLASSES];
    for (int c = 0; c < k; c++) names[c] = info.classes[c];
    xc_report_info ri = {model_path, data, split, task, info.arch, info.head, names};
    if (!out_dir || xc_report_write(out_dir, met, &ri) < 0) {
        cli_fail(out_dir ? NULL : "out of memory");
        goto done;
    }
    char *summary = xc_report_summary(met, &ri);
    if (summary) fputs(summary, stdout);
    free(summary);
    printf("wrote %s/{eval.json, eval.csv, eval.md, confusion_matrix.png}\n", out_dir);
    if (cam_worst) {
        char *cdir = xc_path_join(out_dir, "cam-worst");
        xc_normalize norm = xc_predict_normalize(&info);
        int64_t nw = 0;
        int crc = cdir ? xc_cam_worst(m, d, probs, names, &norm, (int)cam_worst, cdir, &cam,
                                      !strcmp(info.head, "sigmoid"), &nw)
                       : -1;
        if (crc == 0) printf("wrote %lld Grad-CAM overlays of errors to %s\n", (long long)nw, cdir);
        free(cdir);
        if (crc < 0) {
            cli_fail(NULL);
            goto done;
        }
    }
    rc = XC_EXIT_OK;
done:
    xc_metrics_free(met);
    free(probs);
    free(task);
    free(out_dir);
    xc_model_free(m);
    xc_dataset_close(d);
    return rc;
}
