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
#include "xraycls/nn.h"
#include "xraycls/predict.h"
#include "xraycls/progress.h"
#include "xraycls/report.h"
#include "xraycls/shim.h"

static const char usage[] =
    "usage: xraycls eval --model FILE --data DIR [--split test] [-o DIR] [--batch N]\n"
    "                    [--device auto|cpu|cuda[:N]] [--bootstrap N] [--seed S]\n"
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
    "\n"
    "A class with no image in the split is reported as absent (null), never as 0.\n";

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

int cmd_eval(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return XC_EXIT_OK;
    }
    const char *model_path = NULL, *data = NULL, *split = "test", *out = NULL, *device = "auto";
    long long batch = 64, bootstrap = 1000, seed = 0;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v && a[0] == '-') return cli_usage_error("eval", usage, "%s needs a value", a);
        if (!strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--device")) device = v;
        else if (!strcmp(a, "--batch")) {
            if (cli_parse_ll(v, 1, 65536, &batch) < 0) return cli_usage_error("eval", usage, "--batch '%s' is not in 1..65536", v);
        } else if (!strcmp(a, "--bootstrap")) {
            if (cli_parse_ll(v, 0, 1000000, &bootstrap) < 0)
                return cli_usage_error("eval", usage, "--bootstrap '%s' is not in 0..1000000", v);
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_ll(v, 0, (1LL << 62), &seed) < 0) return cli_usage_error("eval", usage, "--seed '%s' is not a number >= 0", v);
        } else return cli_usage_error("eval", usage, "unknown argument '%s'", a);
    }
    if (!model_path) return cli_usage_error("eval", usage, "--model is required");
    if (!data) return cli_usage_error("eval", usage, "--data is required");
    if (!*split || strchr(split, '/')) return cli_usage_error("eval", usage, "--split '%s' is not a split name", split);

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
    float *probs = NULL;
    char *task = NULL, *out_dir = NULL;
    xc_metrics *met = NULL;
    if (xc_dataset_multilabel(d)) {
        cli_fail("'%s' is a multi-label dataset: per-finding evaluation is not in this build yet", xc_dataset_path(d));
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
