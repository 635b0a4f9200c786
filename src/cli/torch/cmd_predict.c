/* cmd_predict.c — `xraycls predict`: class probabilities of image files and folders, one row per
 * image (CSV or JSON lines), with unreadable files listed and skipped (xraycls/predict.h). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "xraycls/calibration.h"
#include "xraycls/dist.h"
#include "xraycls/checkpoint.h"
#include "xraycls/fs.h"
#include "xraycls/nn.h"
#include "xraycls/metrics_findings.h"
#include "xraycls/predict.h"
#include "xraycls/progress.h"
#include "xraycls/shim.h"

static const char *getenv_c(const char *name) { return getenv(name); }

static const char usage[] =
    "usage: xraycls predict --model FILE [--format csv|jsonl] [-o OUT] [--shard K/N] [--batch N]\n"
    "                       [--threads T] [--device auto|cpu|cuda[:N]] [--thresholds EVAL_JSON]\n"
    "                       [--layout auto|nchw|channels_last] [--tta none|flip|tencrop]\n"
    "                       [--cam DIR [--cam-class NAME] [--cam-layer L] [--cam-method M]] PATH...\n"
    "\n"
    "Scores images with a checkpoint or model file. PATH is an image file (taken whatever its\n"
    "name) or a folder, searched recursively for JPEG, PNG and DICOM files (by content), sorted\n"
    "by path; what the search passes over (hidden images, FIFOs, broken or looping links) is\n"
    "listed on standard error. Preprocessing (size, channels, mean/std) comes from the model file.\n"
    "\n"
    "  --model FILE     a checkpoint (runs/<name>/best.safetensors) or an imported model file\n"
    "  --format F       csv: header path,label,<class>,... ; jsonl: {\"path\",\"label\",\"probs\"}\n"
    "                   (csv)\n"
    "  -o, --output OUT write to OUT (atomically) instead of standard output\n"
    "  --shard K/N      score only the files whose index i (0-based, in the order above)\n"
    "                   has i mod N == K-1; K is 1-based: --shard 1/4 ... --shard 4/4;\n"
    "                   `xraycls merge -o OUT s1 ... sN` joins the outputs in input order\n"
    "  --shard auto     K/N from the launch: RANK/WORLD_SIZE (torchrun), SLURM_PROCID/\n"
    "                   SLURM_NTASKS (srun) or SLURM_ARRAY_TASK_ID/COUNT (a Slurm array)\n"
    "  --batch N        images per forward pass (16 on the CPU: as fast as 32 there and 200 MB\n"
    "                   less memory for ResNet-50; 64 on CUDA)\n"
    "  --threads T      libtorch's CPU threads and decoding threads (default: OMP_NUM_THREADS,\n"
    "                   else every usable CPU; decoding at most 16): batch k+1 is decoded while\n"
    "                   the model runs batch k\n"
    "  --layout L       memory layout of the model: auto (channels_last on the CPU, NCHW on\n"
    "                   CUDA), nchw or channels_last; batch norm is always folded into the\n"
    "                   convolutions before it (same outputs up to float rounding)\n"
    "  --device D       auto (CUDA when available), cpu, cuda or cuda:N (auto)\n"
    "  --cam DIR        also explain each prediction with Grad-CAM: writes DIR/<name>.png (the\n"
    "                   heat map over the image as the model saw it: resized, before\n"
    "                   normalisation) and DIR/<name>.cam.safetensors (map: the layer's\n"
    "                   resolution, map_input: the input's, float32, not normalised), <name>\n"
    "                   being the file's name without extension (-2, -3, ... when repeated)\n"
    "  --cam-class NAME the class explained (the most probable one of each image)\n"
    "  --cam-layer L    the layer, in torchvision's module names: layer4 (default), layer3,\n"
    "                   layer4.1, ... for ResNet; features.norm5 (default), features.denseblock3,\n"
    "                   features.transition3, ... for DenseNet\n"
    "  --cam-method M   gradcam (default) or gradcam++\n"
    "  --tta T          test-time augmentation: none, flip (the mean probability of the image\n"
    "                   and its mirror) or tencrop (CheXNet's: each file resized to 256/224 of\n"
    "                   the model's size, the four corner and centre crops and their mirrors,\n"
    "                   the mean of the ten); default: the model file's (import --tta), else\n"
    "                   none. Said on standard error; a last column tta (jsonl: \"tta\") names\n"
    "                   it. Not with --cam\n"
    "\n"
    "  --thresholds F   multi-label: the decision thresholds of an evaluation (its eval.json, see\n"
    "                   xraycls eval): label lists the findings at or above their threshold, and\n"
    "                   the columns positive:<finding> (jsonl: \"positive\") hold 0/1\n"
    "\n"
    "  -h, --help       this help\n"
    "\n"
    "On a terminal a progress bar (count, rate, ETA) is drawn on standard error; otherwise a\n"
    "progress line is written there every 10 s.\n"
    "\n"
    "Probabilities are written with 9 significant digits (%.9g: the float exactly). A model\n"
    "file written by xraycls calibrate gives softmax(logits / T), its temperature (said on\n"
    "standard error).\n"
    "label is the most probable class (for a two-class model calibrated with operating points,\n"
    "the second class when its probability reaches the stored threshold; said on standard\n"
    "error); for a sigmoid (multi-label) head it lists every class above 0.5 (or at or above\n"
    "its --thresholds value), separated by ';' (empty when none). A file that cannot be decoded\n"
    "is reported on standard error with its reason and skipped. Exit status: 0 when at least\n"
    "one image was scored (skipped files are counted in a warning), 1 when none could be\n"
    "(nothing is written).\n";

typedef struct {
    FILE *fp;
    int jsonl, sigmoid, k;
    const xc_model_info *info;
    const double *thr; /* sigmoid head with --thresholds: (k) per-class thresholds, else NULL */
    char **skipped;   /* "path: reason" lines for the summary */
    int64_t nskipped, cap;
    /* --cam */
    const char *cam_dir;
    char **names;     /* the base names used so far, to make repeated ones unique */
    int64_t nnames, names_cap;
    const xc_cam_opts *cam;
    int64_t cams_written;
    /* progress: a bar on a terminal, else a line every PROGRESS_LINE_S seconds */
    xc_progress *bar;
    int64_t done, total;
    double t0, last_line;
    double temperature; /* the model file's calibration (xraycls calibrate), 0: none */
    double op_threshold; /* a two-class model's stored operating point on class 1, NaN: argmax */
    const char *tta;    /* the test-time augmentation's name when one is applied, else NULL */
} sink;

#define PROGRESS_LINE_S 10.0

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One more file scored or skipped. */
static void progress_step(sink *s) {
    s->done++;
    if (s->bar) {
        xc_progress_add(s->bar, 1);
        return;
    }
    double t = now_s();
    if (t - s->last_line < PROGRESS_LINE_S || s->done == s->total) return;
    s->last_line = t;
    char line[256];
    fprintf(stderr, "xraycls predict: %s\n", xc_progress_format(line, sizeof line, "scored", s->done, s->total, t - s->t0, NULL));
}

/* DIR/<file name without extension>, with -2, -3, ... when that name was used before. */
static char *cam_base(sink *s, const char *path) {
    const char *slash = strrchr(path, '/'), *name = slash ? slash + 1 : path;
    const char *dot = strrchr(name, '.');
    size_t len = dot && dot > name ? (size_t)(dot - name) : strlen(name);
    char stem[512];
    snprintf(stem, sizeof stem, "%.*s", (int)(len < 400 ? len : 400), name);
    char cand[600];
    snprintf(cand, sizeof cand, "%s", stem);
    for (int k = 2;; k++) {
        int used = 0;
        for (int64_t i = 0; i < s->nnames && !used; i++) used = !strcmp(s->names[i], cand);
        if (!used) break;
        snprintf(cand, sizeof cand, "%s-%d", stem, k);
    }
    if (s->nnames == s->names_cap) {
        int64_t cap = s->names_cap ? s->names_cap * 2 : 64;
        char **v = realloc(s->names, (size_t)cap * sizeof *v);
        if (!v) return NULL;
        s->names = v;
        s->names_cap = cap;
    }
    if (!(s->names[s->nnames] = strdup(cand))) return NULL;
    s->nnames++;
    return xc_path_join(s->cam_dir, cand);
}

static int on_cam(void *ud, const char *path, const xc_cam_batch *b, int i, const uint8_t *image, int channels) {
    sink *s = ud;
    char *base = cam_base(s, path);
    if (!base) return xc_errorf("out of memory"), 1;
    int rc = xc_cam_write(base, b, i, image, channels, s->info->classes[b->class_index[i]], s->cam->layer,
                          s->cam->method);
    free(base);
    if (rc < 0) return xc_errorf("explaining '%s': %s", path, xc_error()), 1;
    s->cams_written++;
    return 0;
}

/* A CSV field, quoted when it holds a separator, quote or line break. */
static void csv_field(FILE *fp, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

/* The label of a row into buf: argmax, or the classes above 0.5 for a sigmoid head. */
static void row_label(const sink *s, const float *p, char *buf, size_t cap) {
    buf[0] = 0;
    if (!s->sigmoid && s->k == 2 && !isnan(s->op_threshold)) {
        snprintf(buf, cap, "%s", s->info->classes[(double)p[1] >= s->op_threshold]);
        return;
    }
    if (!s->sigmoid) {
        int best = 0;
        for (int c = 1; c < s->k; c++)
            if (p[c] > p[best]) best = c;
        snprintf(buf, cap, "%s", s->info->classes[best]);
        return;
    }
    size_t len = 0;
    for (int c = 0; c < s->k && len + 1 < cap; c++)
        if (s->thr ? (double)p[c] >= s->thr[c] : p[c] > 0.5f) len += (size_t)snprintf(buf + len, cap - len, "%s%s", len ? ";" : "", s->info->classes[c]);
}

static int on_row(void *ud, const char *path, const float *p, const char *reason) {
    sink *s = ud;
    progress_step(s);
    if (reason) {
        fprintf(stderr, "%sxraycls predict: skipped: %s\n", s->bar ? "\r\033[K" : "", reason);
        if (s->nskipped == s->cap) {
            int64_t cap = s->cap ? s->cap * 2 : 64;
            char **v = realloc(s->skipped, (size_t)cap * sizeof *v);
            if (!v) return xc_errorf("out of memory"), 1;
            s->skipped = v;
            s->cap = cap;
        }
        s->skipped[s->nskipped++] = strdup(reason);
        return 0;
    }
    float cal[XC_INFO_MAX_CLASSES];
    if (s->temperature > 0) { /* softmax(z / T) from the softmax outputs */
        memcpy(cal, p, (size_t)s->k * sizeof *cal);
        xc_probs_temperature(cal, s->k, s->temperature);
        p = cal;
    }
    char label[XC_INFO_MAX_CLASSES * (XC_CLASS_NAME_MAX + 1)];
    row_label(s, p, label, sizeof label);
    if (s->jsonl) {
        cJSON *o = cJSON_CreateObject(), *probs;
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddStringToObject(o, "label", label);
        probs = cJSON_AddObjectToObject(o, "probs");
        for (int c = 0; c < s->k; c++)
        { /* %.9g: enough digits to give back the float exactly */
            char num[32];
            snprintf(num, sizeof num, "%.9g", (double)p[c]);
            cJSON_AddRawToObject(probs, s->info->classes[c], num);
        }
        if (s->thr) {
            cJSON *pos = cJSON_AddObjectToObject(o, "positive");
            for (int c = 0; pos && c < s->k; c++)
                cJSON_AddBoolToObject(pos, s->info->classes[c], (double)p[c] >= s->thr[c]);
        }
        if (s->tta) cJSON_AddStringToObject(o, "tta", s->tta);
        char *text = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!text) return xc_errorf("out of memory"), 1;
        fprintf(s->fp, "%s\n", text);
        free(text);
    } else {
        csv_field(s->fp, path);
        fputc(',', s->fp);
        csv_field(s->fp, label);
        for (int c = 0; c < s->k; c++) fprintf(s->fp, ",%.9g", p[c]);
        for (int c = 0; s->thr && c < s->k; c++) fprintf(s->fp, ",%d", (double)p[c] >= s->thr[c]);
        if (s->tta) fprintf(s->fp, ",%s", s->tta);
        fputc('\n', s->fp);
    }
    if (ferror(s->fp)) return xc_errorf_errno("cannot write the predictions"), 1;
    return 0;
}

static const xc_opt opts[] = {
    {"model", 0, XC_OPT_VALUE},      {"format", 0, XC_OPT_VALUE},    {"output", 'o', XC_OPT_VALUE},
    {"device", 0, XC_OPT_VALUE},     {"shard", 0, XC_OPT_VALUE},     {"thresholds", 0, XC_OPT_VALUE},
    {"cam", 0, XC_OPT_VALUE},        {"cam-class", 0, XC_OPT_VALUE}, {"cam-layer", 0, XC_OPT_VALUE},
    {"cam-method", 0, XC_OPT_VALUE}, {"batch", 0, XC_OPT_VALUE},     {"threads", 0, XC_OPT_VALUE},
    {"layout", 0, XC_OPT_VALUE},     {"tta", 0, XC_OPT_VALUE},
    {0}};
enum { O_MODEL, O_FORMAT, O_OUTPUT, O_DEVICE, O_SHARD, O_THRESHOLDS, O_CAM, O_CAM_CLASS, O_CAM_LAYER, O_CAM_METHOD, O_BATCH, O_THREADS, O_LAYOUT, O_TTA };

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL, *format = "csv", *out = NULL, *device = "auto", *shard_s = NULL, *thr_file = NULL;
    double thr[XC_INFO_MAX_CLASSES];
    const char *cam_dir = NULL, *cam_class = NULL, *cam_layer = NULL, *cam_method = "gradcam";
    long long batch = 0, threads = 0; /* batch 0: the device's default */
    int layout = CLI_LAYOUT_AUTO, tta_opt = -1;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    int npaths = 0;
    if (!paths) return cli_fail("out of memory");
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        int bad = 0;
        switch (k) {
        case XC_OPT_ARG: paths[npaths++] = p.value; break;
        case XC_OPT_HELP: free(paths); return cli_help(usage);
        case O_MODEL: model_path = p.value; break;
        case O_FORMAT: format = p.value; break;
        case O_OUTPUT: out = p.value; break;
        case O_DEVICE: device = p.value; break;
        case O_SHARD: shard_s = p.value; break;
        case O_THRESHOLDS: thr_file = p.value; break;
        case O_CAM: cam_dir = p.value; break;
        case O_CAM_CLASS: cam_class = p.value; break;
        case O_CAM_LAYER: cam_layer = p.value; break;
        case O_CAM_METHOD: cam_method = p.value; break;
        case O_BATCH: bad = xc_opt_ll(&p, 1, 65536, &batch); break;
        case O_THREADS: bad = xc_opt_ll(&p, 1, 256, &threads); break;
        case O_LAYOUT:
            if (cli_layout_parse(p.value, &layout) < 0) {
                free(paths);
                return cli_usage_error("predict", usage, "%s", xc_error());
            }
            break;
        case O_TTA: {
            xc_tta t;
            if (xc_tta_parse(p.value, &t) < 0) {
                free(paths);
                return cli_usage_error("predict", usage, "--tta: %s", xc_error());
            }
            tta_opt = (int)t;
            break;
        }
        default: bad = -1; /* XC_OPT_ERROR */
        }
        if (bad) {
            free(paths);
            return cli_opt_error("predict", usage);
        }
    }
    int shard = 1, shards = 1, urc = 0;
    if (!model_path) urc = cli_usage_error("predict", usage, "--model is required");
    else if (npaths == 0) urc = cli_usage_error("predict", usage, "no image file or folder given");
    else if (strcmp(format, "csv") && strcmp(format, "jsonl"))
        urc = cli_usage_error("predict", usage, "--format '%s' is neither csv nor jsonl", format);
    else if (shard_s && !strcmp(shard_s, "auto")) {
        /* The launch environment of a data-parallel job or a Slurm array: each process scores
         * its share; `xraycls merge` joins the shards in input order. */
        xc_dist_env env;
        const char *aid = getenv("SLURM_ARRAY_TASK_ID"), *acount = getenv("SLURM_ARRAY_TASK_COUNT");
        const char *amin = getenv("SLURM_ARRAY_TASK_MIN");
        if (aid && acount) {
            long id = strtol(aid, NULL, 10) - (amin ? strtol(amin, NULL, 10) : 0), cnt = strtol(acount, NULL, 10);
            if (cnt < 1 || id < 0 || id >= cnt)
                urc = cli_usage_error("predict", usage, "--shard auto: SLURM_ARRAY_TASK_ID=%s outside "
                                      "the array of %s tasks", aid, acount);
            shard = (int)id + 1;
            shards = (int)cnt;
        } else if (xc_dist_env_read(&env, getenv_c) < 0) {
            urc = cli_usage_error("predict", usage, "--shard auto: %s", xc_error());
        } else {
            shard = env.rank + 1;
            shards = env.world;
        }
    } else if (shard_s && xc_predict_parse_shard(shard_s, &shard, &shards) < 0)
        urc = cli_usage_error("predict", usage, "%s", xc_error());
    else if (cam_dir && tta_opt > XC_TTA_NONE)
        urc = cli_usage_error("predict", usage, "--cam explains one view of each image, not the mean of a test-time "
                              "augmentation: leave out --tta");
    else if (!cam_dir && (cam_class || cam_layer || strcmp(cam_method, "gradcam")))
        urc = cli_usage_error("predict", usage, "--cam-class, --cam-layer and --cam-method need --cam DIR");
    xc_cam_opts cam = xc_cam_default();
    if (!urc && xc_cam_method_parse(cam_method, &cam.method) < 0)
        urc = cli_usage_error("predict", usage, "--cam-method: %s", xc_error());
    if (urc) {
        free(paths);
        return urc;
    }

    char **files = NULL;
    int64_t nfiles = 0;
    int rc = XC_EXIT_FAIL;
    xc_model *m = NULL;
    xc_atomic at = {0};
    sink s = {0};
    s.op_threshold = NAN;
    char **passed = NULL;
    int64_t npassed = 0;
    if (xc_predict_collect(paths, npaths, &files, &nfiles, &passed, &npassed) < 0) {
        cli_fail(NULL);
        goto done;
    }
    /* Nothing that looks like an input is dropped unmentioned. */
    if (npassed > 0) {
        fprintf(stderr, "xraycls predict: warning: %lld entr%s in the folders given not scored:\n", (long long)npassed,
                npassed == 1 ? "y" : "ies");
        for (int64_t i = 0; i < npassed; i++)
            if (i < 20 || npassed <= 25) fprintf(stderr, "  %s\n", passed[i]);
        if (npassed > 25) fprintf(stderr, "  … and %lld more\n", (long long)(npassed - 20));
    }
    xc_predict_files_free(passed, npassed);
    int64_t total = nfiles;
    nfiles = xc_predict_shard(files, nfiles, shard, shards);
    if (nfiles == 0) {
        if (total == 0) cli_fail("no .png/.jpg/.jpeg file found in the paths given");
        else cli_fail("shard %d/%d of %lld files is empty", shard, shards, (long long)total);
        goto done;
    }
    xt_device dev;
    xc_model_info info;
    if (xt_device_parse(device, &dev) < 0 || cli_torch_threads("predict", (int)threads, 0) < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (!(m = xc_checkpoint_load_model(model_path, dev, &info))) {
        cli_fail_model(model_path);
        goto done;
    }
    if (cli_inference_form(m, layout, 1) < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (cam_dir) {
        cam.layer = cam_layer ? cam_layer : xc_model_cam_layer_default(m);
        if (cam_layer && xc_model_layer_check(m, cam_layer) < 0) {
            rc = cli_usage_error("predict", usage, "--cam-layer: %s", xc_error());
            goto done;
        }
        if (cam_class) {
            for (int c = 0; c < info.num_classes && cam.class_index < 0; c++)
                if (!strcmp(info.classes[c], cam_class)) cam.class_index = c;
            if (cam.class_index < 0) {
                rc = cli_usage_error("predict", usage, "--cam-class '%s' is not a class of '%s'", cam_class, model_path);
                goto done;
            }
        }
        if (xc_mkdir_p(cam_dir) < 0) {
            cli_fail(NULL);
            goto done;
        }
        s.cam_dir = cam_dir;
        s.cam = &cam;
    }
    xc_tta tta = XC_TTA_NONE;
    if (cam_dir && tta_opt < 0 && info.tta != XC_TTA_NONE)
        fprintf(stderr, "predict: test-time augmentation: none (--cam explains one view; the model file's default, %s, "
                        "is not applied)\n", xc_tta_name(info.tta));
    else tta = (xc_tta)cli_tta_choose("predict", tta_opt, info.tta, NULL);
    if (tta != XC_TTA_NONE) s.tta = xc_tta_name(tta);
    s.jsonl = !strcmp(format, "jsonl");
    s.sigmoid = !strcmp(info.head, "sigmoid");
    s.k = info.num_classes;
    s.info = &info;
    xc_calibration calib;
    if (cli_calibration_load("predict", model_path, info.head, xc_tta_name(tta), &calib, NULL, 0) < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (calib.present) {
        s.temperature = calib.temperature;
        const xc_op_point *o = calib.nops == 2 ? &calib.ops[XC_OP_RULES + calib.applied] : NULL;
        if (o && o->defined) {
            s.op_threshold = o->threshold;
            fprintf(stderr, "predict: label '%s' at probability >= %.6g: the model file's %s operating point (on "
                            "split '%s': sensitivity %.3f, specificity %.3f)\n", info.classes[1], o->threshold,
                    xc_op_rule_name(o->rule), calib.split, o->source_sensitivity, o->source_specificity);
        }
    }
    if (thr_file) {
        if (!s.sigmoid) {
            cli_fail("--thresholds applies to a multi-label (sigmoid) model; '%s' has a %s head", model_path, info.head);
            goto done;
        }
        const char *names[XC_INFO_MAX_CLASSES];
        for (int c = 0; c < s.k; c++) names[c] = info.classes[c];
        if (xc_findings_read_thresholds(thr_file, names, s.k, thr) < 0) {
            cli_fail(NULL);
            goto done;
        }
        s.thr = thr;
    }
    if (out) {
        if (xc_atomic_open(&at, out) < 0) {
            cli_fail(NULL);
            goto done;
        }
        s.fp = at.fp;
    } else {
        s.fp = stdout;
    }
    if (!s.jsonl) {
        fputs("path,label", s.fp);
        for (int c = 0; c < s.k; c++) {
            fputc(',', s.fp);
            csv_field(s.fp, info.classes[c]);
        }
        /* with thresholds: one 0/1 column per finding, after the probabilities */
        for (int c = 0; s.thr && c < s.k; c++) {
            char col[XC_CLASS_NAME_MAX + 16];
            snprintf(col, sizeof col, "positive:%s", info.classes[c]);
            fputc(',', s.fp);
            csv_field(s.fp, col);
        }
        if (s.tta) fputs(",tta", s.fp); /* last: the class columns keep their places */
        fputc('\n', s.fp);
    }
    xc_predict_opts po = xc_predict_default();
    po.batch = batch ? (int)batch : dev != XT_CPU ? 64 : 16;
    po.threads = (int)threads;
    po.tta = tta;
    if (cam_dir) {
        po.cam = &cam;
        po.on_cam = on_cam;
        po.cam_ud = &s;
    }
    int64_t scored = 0, skipped = 0;
    s.total = nfiles;
    s.t0 = s.last_line = now_s();
    s.bar = cli_is_tty() ? xc_progress_start(nfiles, "scoring", 1) : NULL;
    int prc = xc_predict_files(m, &info, (const char *const *)files, nfiles, &po, on_row, &s, &scored, &skipped);
    xc_progress_finish(s.bar);
    s.bar = NULL;
    if (prc < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (skipped) {
        fprintf(stderr, "xraycls predict: %lld of %lld files could not be read and were skipped:\n", (long long)skipped,
                (long long)nfiles);
        for (int64_t i = 0; i < s.nskipped; i++) fprintf(stderr, "  %s\n", s.skipped[i] ? s.skipped[i] : "?");
    }
    if (scored == 0) {
        cli_fail("no image could be scored%s", out ? "; nothing written" : "");
        goto done;
    }
    if (out) {
        if (xc_atomic_commit(&at) < 0) {
            cli_fail(NULL);
            goto done;
        }
        fprintf(stderr, "wrote %lld predictions to %s\n", (long long)scored, out);
    } else if (fflush(stdout) != 0) {
        cli_fail("cannot write the predictions: %s", strerror(errno));
        goto done;
    }
    if (cam_dir)
        fprintf(stderr, "wrote %lld heat maps (%s of %s) to %s\n", (long long)s.cams_written,
                xc_cam_method_name(cam.method), cam.layer, cam_dir);
    if (skipped) fprintf(stderr, "warning: %lld file%s skipped\n", (long long)skipped, skipped == 1 ? "" : "s");
    rc = XC_EXIT_OK;
done:
    xc_atomic_abort(&at);
    for (int64_t i = 0; i < s.nskipped; i++) free(s.skipped[i]);
    for (int64_t i = 0; i < s.nnames; i++) free(s.names[i]);
    free(s.names);
    free(s.skipped);
    xc_model_free(m);
    xc_predict_files_free(files, nfiles);
    free(paths);
    return rc;
}
