/* train.c — the training loop of `xraycls train` (contract in xraycls/train.h): model and
 * weights per the config, Adam with the per-epoch schedule, the loss, validation, the run
 * folder's files and exact resumption.
 *
 * Not here: the config (config.c), the checkpoint format (checkpoint.c), printing and signals
 * (src/cli/cmd_train.c). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/train.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/fs.h"
#include "xraycls/metrics.h"
#include "xraycls/nn.h"
#include "xraycls/plot.h"
#include "xraycls/progress.h"
#include "xraycls/shim.h"
#include "xraycls/weights.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the run's state -------------------------------------------------------------------- */

typedef struct {
    const xc_config *c;
    const xc_train_opts *o;
    char dir[1400];
    char *config_json;
    xt_device dev;
    xc_dataset *train, *val;
    xc_model *model;
    xt_adam *adam;
    xc_sampler *sampler;
    xc_model_info info;
    xc_normalize norm;
    xc_augment aug;
    xt_tensor *class_weight; /* (K) float32 on dev, caller-owned, or NULL */
    xt_tensor *alpha;        /* (K) float32 on dev, caller-owned, or NULL */
    int autocast;            /* 1: forward under autocast in amp_dtype */
    xt_dtype amp_dtype;
    double loss_scale;       /* fp16 only: dynamic loss scale; 1 otherwise */
    int good_steps;          /* fp16: finite steps since the scale last changed */
    xc_epoch_result *hist;   /* finished epochs */
    int nhist;
    char *log;               /* train.log so far */
    size_t log_len;
    double t0;
} run;

/* Adds a line to train.log; `echo`: also hand it to opts->on_log. */
static void log_line(run *r, int echo, const char *line) {
    if (echo && r->o->on_log) r->o->on_log(r->o->ud, line);
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    size_t add = strlen(stamp) + strlen(line) + 3;
    char *nl = realloc(r->log, r->log_len + add + 1);
    if (!nl) return; /* the log is best effort; training goes on */
    r->log = nl;
    r->log_len += (size_t)snprintf(r->log + r->log_len, add + 1, "%s  %s\n", stamp, line);
}

static void run_log(run *r, const char *fmt, ...) XC_PRINTF(2, 3);
static void run_log(run *r, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_line(r, 1, line);
}

/* train.log is rewritten whole (atomically) rather than appended, so it is never torn. */
static int flush_log(run *r) {
    char *p = xc_path_join(r->dir, "train.log");
    if (!p) return -1;
    int rc = xc_write_file_atomic(p, r->log ? r->log : "", r->log_len);
    free(p);
    return rc;
}

/* ---- metrics files ----------------------------------------------------------------------- */

static void json_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static int write_metrics(run *r) {
    size_t cap = 256 + (size_t)r->nhist * 512;
    char *jl = malloc(cap), *csv = malloc(cap);
    if (!jl || !csv) {
        free(jl);
        free(csv);
        return xc_errorf("out of memory");
    }
    size_t lj = 0, lc = 0;
    lc += (size_t)snprintf(csv + lc, cap - lc,
                           "epoch,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,lr,"
                           "seconds,images_per_s\n");
    for (int i = 0; i < r->nhist; i++) {
        const xc_epoch_result *e = &r->hist[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", e->epoch);
        json_num_or_null(o, "train_loss", e->train_loss);
        json_num_or_null(o, "train_acc", e->train_acc);
        json_num_or_null(o, "val_loss", e->val_loss);
        json_num_or_null(o, "val_acc", e->val_acc);
        json_num_or_null(o, "val_balanced_acc", e->val_balanced_acc);
        cJSON_AddNumberToObject(o, "lr", e->lr);
        cJSON_AddNumberToObject(o, "seconds", e->seconds);
        cJSON_AddNumberToObject(o, "images_per_s", e->images_per_s);
        cJSON_AddNumberToObject(o, "skipped_steps", (double)e->skipped_steps);
        char *s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (!s || strlen(s) + 2 > cap - lj) {
            free(s);
            free(jl);
            free(csv);
            return xc_errorf("out of memory");
        }
        lj += (size_t)snprintf(jl + lj, cap - lj, "%s\n", s);
        free(s);
        char v[3][32];
        const double vv[3] = {e->val_loss, e->val_acc, e->val_balanced_acc};
        for (int k = 0; k < 3; k++) {
            if (isfinite(vv[k])) snprintf(v[k], sizeof v[k], "%.6f", vv[k]);
            else v[k][0] = 0;
        }
        lc += (size_t)snprintf(csv + lc, cap - lc, "%d,%.6f,%.6f,%s,%s,%s,%.9g,%.3f,%.1f\n",
                               e->epoch, e->train_loss, e->train_acc, v[0], v[1], v[2], e->lr,
                               e->seconds, e->images_per_s);
    }
    char *pj = xc_path_join(r->dir, "metrics.jsonl"), *pc = xc_path_join(r->dir, "metrics.csv");
    int rc = (pj && pc && xc_write_file_atomic(pj, jl, lj) == 0 &&
              xc_write_file_atomic(pc, csv, lc) == 0) ? 0 : -1;
    free(pj);
    free(pc);
    free(jl);
    free(csv);
    return rc;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(e) ? e->valuedouble : NAN;
}

/* On resume: the history of the epochs the checkpoint has completed. */
static int read_metrics(run *r, int upto) {
    char *p = xc_path_join(r->dir, "metrics.jsonl");
    if (!p) return -1;
    size_t len;
    char *text = xc_is_file(p) ? xc_read_file(p, &len, 64u << 20) : NULL;
    free(p);
    if (!text) return 0; /* no history (stopped during the first epoch) */
    r->hist = calloc((size_t)upto + 1, sizeof *r->hist);
    if (!r->hist) {
        free(text);
        return xc_errorf("out of memory");
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        double ep = json_num(o, "epoch");
        if (isfinite(ep) && ep >= 1 && ep <= upto && (int)ep == r->nhist + 1) {
            xc_epoch_result *e = &r->hist[r->nhist++];
            e->epoch = (int)ep;
            e->epochs = r->c->train.epochs;
            e->train_loss = json_num(o, "train_loss");
            e->train_acc = json_num(o, "train_acc");
            e->val_loss = json_num(o, "val_loss");
            e->val_acc = json_num(o, "val_acc");
            e->val_balanced_acc = json_num(o, "val_balanced_acc");
            e->lr = json_num(o, "lr");
            e->seconds = json_num(o, "seconds");
            e->images_per_s = json_num(o, "images_per_s");
            double sk = json_num(o, "skipped_steps");
            e->skipped_steps = isfinite(sk) ? (int64_t)sk : 0;
        }
        cJSON_Delete(o);
    }
    free(text);
    return 0;
}

/* ---- setup -------------------------------------------------------------------------------- */

static const char *const run_files[] = {"config.json", "metrics.jsonl", "metrics.csv", "train.log",
                                        "last.safetensors", "best.safetensors", "accuracy.png",
                                        "loss.png"};

static int prepare_dir(run *r) {
    const xc_config *c = r->c;
    if (r->o->run_dir && *r->o->run_dir) snprintf(r->dir, sizeof r->dir, "%s", r->o->run_dir);
    else snprintf(r->dir, sizeof r->dir, "%s/%s", c->output.runs_dir, c->output.name);
    if (r->o->resume) {
        char *last = xc_path_join(r->dir, "last.safetensors");
        int ok = last && xc_is_file(last);
        free(last);
        if (!ok)
            return xc_errorf("cannot resume '%s': it holds no last.safetensors (was the run "
                             "stopped before its first checkpoint?)", r->dir);
        return 0;
    }
    if ((xc_is_dir(r->dir) || xc_is_file(r->dir)) && !r->o->overwrite)
        return xc_errorf("run folder '%s' exists: continue it with --resume '%s', replace it "
                         "with --overwrite, or set output.name", r->dir, r->dir);
    return 0;
}

/* Makes the run folder; with overwrite, removes the files an earlier run left (only those). */
static int make_dir(run *r) {
    if (r->o->overwrite)
        for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
            char *p = xc_path_join(r->dir, run_files[i]);
            if (p && xc_is_file(p) && remove(p) != 0) {
                int rc = xc_errorf_errno("cannot remove '%s'", p);
                free(p);
                return rc;
            }
            free(p);
        }
    return xc_mkdir_p(r->dir);
}

/* Loads pretrained weights into a freshly built model: a safetensors file, or a torch.save
 * file read by xraycls/weights.h with torchvision names. A head of another class count is
 * re-initialised (reported). */
static int load_pretrained(run *r, const char *file) {
    size_t n = strlen(file);
    int is_st = n >= 12 && !strcmp(file + n - 12, ".safetensors");
    xc_load_report rep;
    memset(&rep, 0, sizeof rep);
    int rc;
    if (is_st) {
        rc = xc_model_load_file(r->model, file, &rep);
    } else {
        xc_torchfile *tf = xc_torchfile_open(file);
        if (!tf) return -1;
        const xc_st_tensor *src;
        int ns;
        rc = xc_torchfile_st_tensors(tf, 1, &src, &ns);
        xc_st_tensor *t = rc == 0 ? malloc((size_t)(ns ? ns : 1) * sizeof *t) : NULL;
        char (*names)[256] = rc == 0 ? malloc((size_t)(ns ? ns : 1) * sizeof *names) : NULL;
        if (rc == 0 && (!t || !names)) rc = xc_errorf("out of memory");
        if (rc == 0) {
            /* A Linear+Sigmoid head stored as "<head>.0.weight" (CheXNet's) is the head. */
            const char *head = xc_model_head_name(r->model);
            size_t lh = strlen(head);
            for (int i = 0; i < ns; i++) {
                t[i] = src[i];
                if (!strncmp(src[i].name, head, lh) && !strncmp(src[i].name + lh, ".0.", 3)) {
                    snprintf(names[i], sizeof names[i], "%s.%s", head, src[i].name + lh + 3);
                    t[i].name = names[i];
                }
            }
            rc = xc_model_load_named(r->model, t, ns, file, &rep);
        }
        free(t);
        free(names);
        xc_torchfile_close(tf);
    }
    if (rc == 0) {
        run_log(r, "weights: %d tensors from '%s'%s", rep.loaded, file,
                rep.head_reinit ? "" : " (head included)");
        if (rep.head_reinit)
            run_log(r, "head: the file's %" PRId64 "-output head replaced by a new %d-class %s",
                    rep.source_head_classes, xc_model_num_classes(r->model),
                    xc_model_head_name(r->model));
        if (rep.n_unused) run_log(r, "weights: %d tensors of the file unused (first: %s)",
                                  rep.n_unused, rep.unused[0]);
    }
    xc_load_report_free(&rep);
    return rc;
}

static xt_tensor *class_vector(const double *v, int k, xt_device dev) {
    float f[XC_CONFIG_MAX_CLASSES];
    for (int i = 0; i < k; i++) f[i] = (float)v[i];
    int64_t shape[1] = {k};
    xt_arena *prev = xt_arena_push(NULL);
    xt_tensor *h = xt_from_host(f, 1, shape, XT_F32);
    xt_tensor *d = h ? xt_to_device(h, dev, 0) : NULL;
    xt_free(h);
    xt_arena_push(prev);
    return d;
}

static int setup_loss(run *r) {
    const xc_config *c = r->c;
    int k = xc_dataset_num_classes(r->train);
    if (c->loss.n_alpha && c->loss.n_alpha != k)
        return xc_errorf("loss.alpha has %d values, the dataset has %d classes", c->loss.n_alpha, k);
    if (c->loss.class_weights == XC_CW_LIST && c->loss.n_class_weights != k)
        return xc_errorf("loss.class_weights has %d values, the dataset has %d classes",
                         c->loss.n_class_weights, k);
    if (c->loss.class_weights != XC_CW_NONE && c->loss.type != XC_LOSS_CE)
        return xc_errorf("loss.class_weights applies to loss.type \"ce\"; focal loss is weighted "
                         "by loss.alpha");
    if (c->loss.n_alpha && c->loss.type != XC_LOSS_FOCAL)
        return xc_errorf("loss.alpha applies to loss.type \"focal\"; cross-entropy is weighted by "
                         "loss.class_weights");
    if (c->loss.n_alpha && !(r->alpha = class_vector(c->loss.alpha, k, r->dev))) return -1;
    if (c->loss.class_weights == XC_CW_LIST &&
        !(r->class_weight = class_vector(c->loss.class_weight, k, r->dev)))
        return -1;
    if (c->loss.class_weights == XC_CW_INVERSE_FREQUENCY) {
        /* n / (k × n_class), as scikit-learn's "balanced"; an absent class weighs 0. */
        double w[XC_CONFIG_MAX_CLASSES];
        int64_t n = xc_dataset_len(r->train);
        for (int i = 0; i < k; i++) {
            int64_t cnt = xc_dataset_class_count(r->train, i);
            w[i] = cnt ? (double)n / ((double)k * (double)cnt) : 0.0;
        }
        if (!(r->class_weight = class_vector(w, k, r->dev))) return -1;
        char buf[512];
        size_t used = 0;
        for (int i = 0; i < k && used < sizeof buf; i++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %.4g", i ? ", " : "",
                                     xc_dataset_class(r->train, i), w[i]);
        run_log(r, "class weights (inverse frequency): %s", buf);
    }
    return 0;
}

static int setup_precision(run *r) {
    xc_precision p = r->c->train.precision;
    if (p == XC_PREC_AUTO) p = r->dev >= 0 ? XC_PREC_BF16 : XC_PREC_FP32;
    r->loss_scale = 1.0;
    if (p == XC_PREC_FP32) return 0;
    if (p == XC_PREC_FP16 && r->dev < 0)
        return xc_errorf("train.precision \"fp16\" needs a CUDA device (use \"bf16\" or \"fp32\" on the CPU)");
    r->autocast = 1;
    r->amp_dtype = p == XC_PREC_BF16 ? XT_BF16 : XT_F16;
    if (p == XC_PREC_FP16) r->loss_scale = 65536.0;
    /* Probe once so an unsupported combination fails here, not at the first step. */
    if (xt_autocast_set(r->dev, 1, r->amp_dtype) < 0)
        return xc_errorf("train.precision: %s", xc_error());
    xt_autocast_set(r->dev, 0, r->amp_dtype);
    return 0;
}

static int build(run *r, const xc_config *c) {
    if (xt_device_parse(c->train.device, &r->dev) < 0) return xc_errorf("train.device: %s", xc_error());
    r->train = xc_dataset_open(c->data.path, "train");
    if (!r->train) return xc_errorf("data.path: %s", xc_error());
    if (c->data.val_split[0]) {
        char file[1200];
        snprintf(file, sizeof file, "%s/%s.safetensors", c->data.path, c->data.val_split);
        if (xc_is_file(file)) {
            r->val = xc_dataset_open(c->data.path, c->data.val_split);
            if (!r->val) return xc_errorf("data.val_split: %s", xc_error());
            if (xc_dataset_num_classes(r->val) != xc_dataset_num_classes(r->train))
                return xc_errorf("'%s' has %d classes, the training split %d", file,
                                 xc_dataset_num_classes(r->val), xc_dataset_num_classes(r->train));
        } else {
            run_log(r, "no validation split ('%s' absent): the best checkpoint follows the "
                       "training numbers", file);
        }
    }
    int k = xc_dataset_num_classes(r->train);
    if (k < 2 || k > XC_INFO_MAX_CLASSES)
        return xc_errorf("'%s': %d classes; training needs 2 to %d", xc_dataset_path(r->train), k,
                         XC_INFO_MAX_CLASSES);

    /* What the checkpoint says about the model. */
    memset(&r->info, 0, sizeof r->info);
    snprintf(r->info.arch, sizeof r->info.arch, "%s", c->model.arch);
    r->info.num_classes = k;
    for (int i = 0; i < k; i++) {
        const char *name = xc_dataset_class(r->train, i);
        if (strlen(name) >= XC_CLASS_NAME_MAX)
            return xc_errorf("'%s': class name '%s' is too long", xc_dataset_path(r->train), name);
        snprintf(r->info.classes[i], XC_CLASS_NAME_MAX, "%s", name);
    }
    snprintf(r->info.head, sizeof r->info.head, "softmax");
    r->norm = xc_normalize_imagenet();
    r->info.image_size = xc_dataset_size(r->train);
    r->info.channels = xc_dataset_channels(r->train);
    memcpy(r->info.mean, r->norm.mean, sizeof r->info.mean);
    memcpy(r->info.std, r->norm.std, sizeof r->info.std);
    r->info.expand_gray_to_rgb = r->info.channels == 1;
    r->aug = (xc_augment){c->data.hflip, c->data.vflip, c->data.rotate, c->data.rotate_deg};

    char devname[32];
    xt_device_string(r->dev, devname, sizeof devname);
    run_log(r, "run '%s' on %s, %s, %d classes, %" PRId64 " training images%s", r->dir, devname,
            c->model.arch, k, xc_dataset_len(r->train), r->val ? "" : ", no validation");

    /* The model: seeded initialisation, then weights. */
    xt_manual_seed(c->train.seed);
    char *wfile = NULL;
    if (xc_config_weights_file(c, &wfile) < 0) return -1;
    r->model = xc_model_new(c->model.arch, k, r->dev);
    if (!r->model) {
        free(wfile);
        return -1;
    }
    int rc = 0;
    if (*wfile && !r->o->resume) rc = load_pretrained(r, wfile);
    else if (!*wfile) run_log(r, "weights: none (random initialisation, seed %llu)", c->train.seed);
    free(wfile);
    if (rc < 0) return -1;
    int cl = c->model.channels_last == XC_TRISTATE_ON ||
             (c->model.channels_last == XC_TRISTATE_AUTO && r->dev >= 0);
    if (cl && xc_model_set_channels_last(r->model, 1) < 0) return -1;

    /* Adam over every parameter: frozen ones get no gradient and so no update, as in torch. */
    xt_tensor *const *params;
    int np;
    if (xc_model_params(r->model, &params, &np) < 0) return -1;
    xt_adam_params ap = xt_adam_default();
    ap.lr = c->optim.lr;
    ap.beta1 = c->optim.beta1;
    ap.beta2 = c->optim.beta2;
    ap.eps = c->optim.eps;
    ap.weight_decay = c->optim.weight_decay;
    r->adam = xt_adam_new(params, np, ap);
    if (!r->adam) return -1;
    run_log(r, "model: %" PRId64 " parameters in %d tensors", xc_model_param_numel(r->model), np);

    xc_sampler_kind sk = c->data.sampler == XC_CFG_SAMPLER_SHUFFLE ? XC_SAMPLER_SHUFFLE : XC_SAMPLER_WEIGHTED;
    r->sampler = xc_sampler_new(sk, xc_dataset_labels(r->train), xc_dataset_len(r->train), k,
                                c->train.seed);
    if (!r->sampler) return -1;
    if (setup_loss(r) < 0 || setup_precision(r) < 0) return -1;
    if (r->dev >= 0 && xc_dataset_make_resident(r->train, r->dev) < 0)
        run_log(r, "dataset stays in host memory: %s", xc_error());
    return 0;
}

/* ---- one step, one validation ------------------------------------------------------------ */

static xt_tensor *compute_loss(run *r, const xt_tensor *logits, const xt_tensor *y, int train) {
    // logits: (N, K) float32, y: (N) int64
    if (!train) return xc_loss_cross_entropy(logits, y, NULL);
    if (r->c->loss.type == XC_LOSS_FOCAL) return xc_loss_focal(logits, y, r->c->loss.gamma, r->alpha);
    return xc_loss_cross_entropy(logits, y, r->class_weight);
}

static xt_tensor *forward(run *r, const xt_tensor *x) {
    // x: (N, 3, S, S) float32 → (N, K) float32
    if (r->autocast) xt_autocast_set(r->dev, 1, r->amp_dtype);
    xt_tensor *logits = xc_model_forward(r->model, x);
    if (r->autocast) xt_autocast_set(r->dev, 0, r->amp_dtype);
    if (logits && xt_dtype_of(logits) != XT_F32) logits = xt_to_dtype(logits, XT_F32);
    return logits;
}

/* 1 when every gradient is finite, 0 if not, -1 on error: one sum, one synchronisation. */
static int grads_finite(run *r, double unscale) {
    int n = xc_model_state_count(r->model);
    xt_tensor *total = NULL;
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(r->model, i);
        if (!e->is_param) continue;
        xt_tensor *g;
        if (xt_grad(e->tensor, &g) < 0) return -1;
        if (!g) continue;
        if (unscale != 1.0 && xt_mul_scalar_(g, unscale) < 0) return -1;
        xt_tensor *s = xt_sum(xt_to_dtype(g, XT_F32));
        total = total ? xt_add(total, s) : s;
        if (!total) return -1;
    }
    if (!total) return 1;
    return xt_all_finite(total);
}

static void zero_grads(run *r) {
    int n = xc_model_state_count(r->model);
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(r->model, i);
        if (e->is_param) xt_zero_grad(e->tensor);
    }
}

typedef struct {
    double loss;
    int64_t correct;
    int finite; /* 0: the loss or a gradient was not finite, nothing was updated */
} step_out;

static int train_step(run *r, const int64_t *idx, int64_t n, step_out *out) {
    xt_tensor *y = NULL;
    xt_tensor *x = xc_dataset_batch(r->train, idx, n, r->dev, &r->aug, &r->norm, &y);
    if (!x) return -1;
    xt_tensor *logits = forward(r, x);
    if (!logits) return -1;
    xt_tensor *loss = compute_loss(r, logits, y, 1);
    if (!loss) return -1;
    xt_tensor *pred = xt_argmax(logits, 1, 0);
    xt_tensor *corr = pred ? xt_sum(xt_to_dtype(xt_eq(pred, y), XT_I64)) : NULL;
    double lv, cv;
    if (!corr || xt_item(loss, &lv) < 0 || xt_item(corr, &cv) < 0) return -1;
    out->loss = lv;
    out->correct = (int64_t)cv;
    out->finite = isfinite(lv);
    if (!out->finite) return 0;
    if (r->loss_scale != 1.0) loss = xt_mul_scalar(loss, r->loss_scale);
    if (!loss || xt_backward(loss) < 0) return -1;
    int ok = grads_finite(r, 1.0 / r->loss_scale);
    if (ok < 0) return -1;
    if (r->loss_scale != 1.0) {
        /* fp16: dynamic loss scaling as torch's GradScaler (halve on overflow, double after
         * 2000 good steps); an overflowed step is skipped, not an error. */
        if (!ok) {
            r->loss_scale /= 2.0;
            r->good_steps = 0;
            zero_grads(r);
            out->finite = 1;
            return 0;
        }
        if (++r->good_steps == 2000) {
            r->loss_scale *= 2.0;
            r->good_steps = 0;
        }
    }
    if (!ok) {
        out->finite = 0;
        zero_grads(r);
        return 0;
    }
    if (xt_adam_step(r->adam) < 0) return -1;
    zero_grads(r);
    return 0;
}

typedef struct {
    double loss, acc, bacc;
} val_out;

static int validate(run *r, xt_arena *arena, val_out *v) {
    v->loss = v->acc = v->bacc = NAN;
    if (!r->val) return 0;
    int64_t n = xc_dataset_len(r->val);
    int k = xc_dataset_num_classes(r->val);
    int bs = r->c->data.batch_size;
    float *scores = malloc((size_t)n * (size_t)k * sizeof *scores);
    int64_t *idx = malloc((size_t)bs * sizeof *idx);
    if (!scores || !idx) {
        free(scores);
        free(idx);
        return xc_errorf("out of memory");
    }
    xc_model_set_training(r->model, 0);
    int grad = xt_grad_enabled_set(0);
    double loss_sum = 0;
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i += bs) {
        int64_t m = n - i < bs ? n - i : bs;
        for (int64_t j = 0; j < m; j++) idx[j] = i + j;
        xt_arena_clear(arena);
        xt_tensor *y = NULL;
        xt_tensor *x = xc_dataset_batch(r->val, idx, m, r->dev, NULL, &r->norm, &y);
        xt_tensor *logits = x ? forward(r, x) : NULL;
        xt_tensor *loss = logits ? compute_loss(r, logits, y, 0) : NULL;
        double lv;
        if (!loss || xt_item(loss, &lv) < 0 ||
            xt_to_host(logits, scores + i * k, (size_t)(m * k) * sizeof *scores) < 0) {
            rc = xc_errorf("validation: %s", xc_error());
            break;
        }
        if (xt_all_finite(logits) != 1) {
            rc = xc_errorf("validation: non-finite model outputs (the weights diverged; lower "
                           "optim.lr)");
            break;
        }
        loss_sum += lv * (double)m;
    }
    xt_arena_clear(arena);
    xt_grad_enabled_set(grad);
    xc_model_set_training(r->model, 1);
    if (rc == 0) {
        v->loss = loss_sum / (double)n;
        xc_metrics_params mp = xc_metrics_default();
        mp.bootstrap = 0;
        xc_metrics *m = xc_metrics_compute(scores, xc_dataset_labels(r->val), n, k, &mp);
        if (!m) {
            rc = xc_errorf("validation metrics: %s", xc_error());
        } else {
            v->acc = m->accuracy.value;
            v->bacc = m->balanced_accuracy.present ? m->balanced_accuracy.value : NAN;
            xc_metrics_free(m);
        }
    }
    free(scores);
    free(idx);
    return rc;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static int save(run *r, const char *name, const xc_run_state *st) {
    char *p = xc_path_join(r->dir, name);
    if (!p) return -1;
    xc_checkpoint ck = {r->model, r->adam, &r->info, r->config_json, st, r->dev};
    int rc = xc_checkpoint_save(p, &ck);
    free(p);
    return rc;
}

static double best_value_of(const xc_config *c, const xc_epoch_result *e) {
    switch (c->train.best_metric) {
    case XC_BEST_VAL_LOSS: return isfinite(e->val_loss) ? e->val_loss : e->train_loss;
    case XC_BEST_VAL_BALANCED_ACCURACY:
        return isfinite(e->val_balanced_acc) ? e->val_balanced_acc
               : isfinite(e->val_acc)        ? e->val_acc
                                             : e->train_acc;
    case XC_BEST_VAL_ACCURACY:
    default: return isfinite(e->val_acc) ? e->val_acc : e->train_acc;
    }
}

/* ---- resume: the config must be the run's -------------------------------------------------- */

static int same_config(const xc_config *now, const char *stored_json, const char *path) {
    xc_config old;
    if (xc_config_parse(&old, stored_json, path, NULL, 0, NULL) < 0) return -1;
    /* What may change on resume: the epoch count, the device, logging and output naming. */
    xc_config cmp = *now;
    cmp.train.epochs = old.train.epochs;
    snprintf(cmp.train.device, sizeof cmp.train.device, "%s", old.train.device);
    cmp.train.log_every = old.train.log_every;
    cmp.output = old.output;
    snprintf(cmp.model.weights_dir, sizeof cmp.model.weights_dir, "%s", old.model.weights_dir);
    char *a = xc_config_to_json(&cmp), *b = xc_config_to_json(&old);
    int rc = 0;
    if (!a || !b) {
        rc = -1;
    } else if (strcmp(a, b) != 0) {
        /* Name the first differing line of the two resolved configs. */
        const char *pa = a, *pb = b;
        while (*pa && *pa == *pb) pa++, pb++;
        while (pa > a && pa[-1] != '\n') pa--;
        size_t n = strcspn(pa, "\n");
        rc = xc_errorf("cannot resume: the config differs from the run's ('%s' holds another "
                       "value than %.*s); only train.epochs, train.device, train.log_every and "
                       "output may change", path, (int)n, pa);
    }
    free(a);
    free(b);
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void run_free(run *r) {
    xt_free(r->class_weight);
    xt_free(r->alpha);
    xc_sampler_free(r->sampler);
    xt_adam_free(r->adam);
    xc_model_free(r->model);
    xc_dataset_close(r->train);
    xc_dataset_close(r->val);
    free(r->config_json);
    free(r->hist);
    free(r->log);
}

static int train_loop(run *r, xc_run_state *st, xc_train_result *res) {
    const xc_config *c = r->c;
    int bs = c->data.batch_size;
    int64_t *idx = malloc((size_t)bs * sizeof *idx);
    xc_epoch_result *nh = realloc(r->hist, (size_t)(c->train.epochs + 1) * sizeof *nh);
    if (!idx || !nh) {
        free(idx);
        if (nh) r->hist = nh;
        return xc_errorf("out of memory");
    }
    r->hist = nh;
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    int rc = 0;
    int64_t epoch_len = xc_sampler_epoch_len(r->sampler);
    int64_t limit = c->train.max_steps_per_epoch > 0
                        ? (int64_t)c->train.max_steps_per_epoch * bs < epoch_len
                              ? (int64_t)c->train.max_steps_per_epoch * bs : epoch_len
                        : epoch_len;
    res->outcome = XC_TRAIN_DONE;

    for (int epoch = st->epoch; epoch < c->train.epochs && rc == 0; epoch++) {
        double lr = xc_schedule_lr(c, epoch);
        xt_adam_set_lr(r->adam, lr);
        st->lr = lr;
        if (xc_model_freeze_backbone(r->model, epoch < c->model.freeze_backbone_epochs) < 0) {
            rc = -1;
            break;
        }
        if (epoch == c->model.freeze_backbone_epochs && epoch > 0)
            run_log(r, "epoch %d: backbone unfrozen", epoch + 1);
        xc_model_set_training(r->model, 1);
        int mid = st->sampler_epoch == epoch && st->sampler_position > 0;
        if (!mid) {
            st->sampler_epoch = epoch;
            st->sampler_position = 0;
            st->epoch_loss_sum = 0;
            st->epoch_correct = st->epoch_seen = 0;
            st->epoch_seconds = 0;
        }
        if (xc_sampler_seek(r->sampler, epoch, st->sampler_position) < 0) {
            rc = -1;
            break;
        }
        char label[64];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, c->train.epochs);
        xc_progress *bar = xc_progress_start(limit, label, r->o->progress);
        xc_progress_update(bar, st->sampler_position, NULL);
        double t_start = now_s() - st->epoch_seconds;
        int64_t skipped = 0, steps_in_epoch = st->sampler_position / bs;
        int stopped = 0;
        for (;;) {
            int64_t want = limit - xc_sampler_position(r->sampler);
            if (want > bs) want = bs;
            if (want <= 0) break;
            int64_t got = xc_sampler_next(r->sampler, idx, want);
            if (got <= 0) break;
            xt_arena_clear(arena);
            step_out so;
            if (train_step(r, idx, got, &so) < 0) {
                rc = xc_errorf("epoch %d step %" PRId64 ": %s", epoch + 1, steps_in_epoch + 1, xc_error());
                break;
            }
            steps_in_epoch++;
            if (!so.finite) {
                if (c->train.on_nonfinite == XC_NONFINITE_STOP) {
                    rc = xc_errorf("non-finite %s at epoch %d step %" PRId64 " (global step %" PRId64
                                   "): training stopped; the last good checkpoint is kept "
                                   "(lower optim.lr, or set train.on_nonfinite \"skip\")",
                                   isfinite(so.loss) ? "gradient" : "loss", epoch + 1,
                                   steps_in_epoch, st->global_step + 1);
                    break;
                }
                skipped++;
                run_log(r, "epoch %d step %" PRId64 ": non-finite %s, step skipped", epoch + 1,
                        steps_in_epoch, isfinite(so.loss) ? "gradient" : "loss");
            } else {
                st->global_step++;
                st->epoch_loss_sum += so.loss * (double)got;
                st->epoch_correct += so.correct;
                st->epoch_seen += got;
            }
            st->sampler_position = xc_sampler_position(r->sampler);
            char extra[96];
            double el = now_s() - t_start;
            snprintf(extra, sizeof extra, "loss %.4f  acc %.3f  lr %.3g",
                     st->epoch_seen ? st->epoch_loss_sum / (double)st->epoch_seen : NAN,
                     st->epoch_seen ? (double)st->epoch_correct / (double)st->epoch_seen : NAN, lr);
            xc_progress_update(bar, st->sampler_position, extra);
            if (steps_in_epoch % c->train.log_every == 0)
                run_log(r, "epoch %d step %" PRId64 "  %s  %.1f img/s", epoch + 1, steps_in_epoch,
                        extra, el > 0 ? (double)st->epoch_seen / el : 0.0);
            if (r->o->stop && *r->o->stop) {
                stopped = 1;
                break;
            }
        }
        xc_progress_finish(bar);
        st->epoch_seconds = now_s() - t_start;
        if (rc < 0) break;
        if (stopped) {
            /* A consistent mid-epoch checkpoint: resume continues from the next step. */
            st->epoch = epoch;
            st->complete = 0;
            if (save(r, "last.safetensors", st) < 0) {
                rc = -1;
                break;
            }
            run_log(r, "stopped at epoch %d, %" PRId64 " of %" PRId64 " samples: checkpoint '%s/last.safetensors'",
                    epoch + 1, st->sampler_position, limit, r->dir);
            res->outcome = XC_TRAIN_STOPPED;
            break;
        }

        xc_epoch_result e;
        memset(&e, 0, sizeof e);
        e.epoch = epoch + 1;
        e.epochs = c->train.epochs;
        e.train_loss = st->epoch_seen ? st->epoch_loss_sum / (double)st->epoch_seen : NAN;
        e.train_acc = st->epoch_seen ? (double)st->epoch_correct / (double)st->epoch_seen : NAN;
        e.lr = lr;
        e.seconds = st->epoch_seconds;
        e.images_per_s = e.seconds > 0 ? (double)st->epoch_seen / e.seconds : 0;
        e.skipped_steps = skipped;
        val_out v;
        if (validate(r, arena, &v) < 0) {
            rc = xc_errorf("epoch %d: %s", epoch + 1, xc_error());
            break;
        }
        e.val_loss = v.loss;
        e.val_acc = v.acc;
        e.val_balanced_acc = v.bacc;
        double bv = best_value_of(c, &e);
        int lower = c->train.best_metric == XC_BEST_VAL_LOSS;
        e.improved = isfinite(bv) && (!st->has_best || (lower ? bv < st->best_value : bv > st->best_value));
        st->epoch = epoch + 1;
        st->sampler_epoch = epoch + 1;
        st->sampler_position = 0;
        st->epoch_loss_sum = 0;
        st->epoch_correct = st->epoch_seen = 0;
        st->epoch_seconds = 0;
        st->complete = st->epoch == c->train.epochs;
        if (e.improved) {
            st->has_best = 1;
            st->best_value = bv;
            st->best_epoch = e.epoch;
            snprintf(st->best_metric, sizeof st->best_metric, "%s", xc_best_metric_name(c->train.best_metric));
        }
        r->hist[r->nhist++] = e;
        if ((e.improved && save(r, "best.safetensors", st) < 0) || save(r, "last.safetensors", st) < 0 ||
            write_metrics(r) < 0) {
            rc = -1;
            break;
        }
        char line[512];
        snprintf(line, sizeof line, "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f "
                 "bal %.4f  lr %.3g  %.1fs  %.1f img/s%s", e.epoch, e.epochs, e.train_loss,
                 e.train_acc, e.val_loss, e.val_acc, e.val_balanced_acc, e.lr, e.seconds,
                 e.images_per_s, e.improved ? "  (best)" : "");
        /* The epoch goes to on_epoch when there is one, else to on_log like any line. */
        log_line(r, r->o->on_epoch == NULL, line);
        if (r->o->on_epoch) r->o->on_epoch(r->o->ud, &e);
        if (flush_log(r) < 0) {
            rc = -1;
            break;
        }
        if (r->o->stop && *r->o->stop) {
            run_log(r, "stopped after epoch %d: checkpoint '%s/last.safetensors'", e.epoch, r->dir);
            res->outcome = e.epoch == c->train.epochs ? XC_TRAIN_DONE : XC_TRAIN_STOPPED;
            break;
        }
    }
    xt_arena_push(prev);
    xt_arena_free(arena);
    free(idx);
    return rc;
}

int xc_train_run(const xc_config *c, const xc_train_opts *o, xc_train_result *res) {
    run r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    r.c = c;
    r.o = o;
    r.t0 = now_s();
    xc_run_state st;
    memset(&st, 0, sizeof st);
    st.sampler_seed = c->train.seed;
    int rc = -1;
    if (prepare_dir(&r) < 0) goto done;
    if (o->resume) {
        char *p = xc_path_join(r.dir, "train.log");
        size_t len = 0;
        r.log = p && xc_is_file(p) ? xc_read_file(p, &len, 64u << 20) : NULL;
        r.log_len = r.log ? len : 0;
        free(p);
    }
    r.config_json = xc_config_to_json(c);
    if (!r.config_json) goto done;
    if (build(&r, c) < 0) goto done;
    if (o->resume) {
        char *last = xc_path_join(r.dir, "last.safetensors");
        char *stored = NULL;
        int ok = last && xc_checkpoint_resume(last, r.model, r.adam, r.dev, &st, &stored) == 0 &&
                 same_config(c, stored, last) == 0;
        free(stored);
        if (ok && st.sampler_seed != c->train.seed) {
            xc_errorf("'%s': its sampler seed differs from train.seed", last);
            ok = 0;
        }
        if (!ok) {
            free(last);
            goto done;
        }
        free(last);
        if (read_metrics(&r, st.epoch) < 0) goto done;
        run_log(&r, "resumed from '%s/last.safetensors' at epoch %d, %" PRId64 " samples in, step %" PRId64,
                r.dir, st.epoch + 1, st.sampler_position, st.global_step);
        if (st.epoch >= c->train.epochs)
            run_log(&r, "the run already has %d epochs (train.epochs %d): nothing to train",
                    st.epoch, c->train.epochs);
    }
    /* The folder is made only once everything is known to work, so a failed start leaves none. */
    if (!o->resume && make_dir(&r) < 0) goto done;
    char *cfgp = xc_path_join(r.dir, "config.json");
    if (!cfgp) goto done;
    int w = xc_write_file_atomic(cfgp, r.config_json, strlen(r.config_json));
    free(cfgp);
    if (w < 0 || flush_log(&r) < 0) goto done;

    rc = train_loop(&r, &st, res);
    if (rc == 0 && res->outcome == XC_TRAIN_DONE && r.nhist > 0) {
        int n = xc_plot_history(r.dir, r.dir);
        if (n < 0) run_log(&r, "curves not drawn: %s", xc_error());
        run_log(&r, "done: %d epochs in %.1fs%s", st.epoch, now_s() - r.t0,
                st.has_best ? "" : " (no best checkpoint: no finite metric)");
    }
    /* The log keeps what happened, errors included. */
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", xc_error());
        run_log(&r, "error: %s", msg);
        flush_log(&r);
        xc_errorf("%s", msg);
    } else if (flush_log(&r) < 0) {
        rc = -1;
    }
    snprintf(res->run_dir, sizeof res->run_dir, "%s", r.dir);
    res->epochs_done = st.epoch;
    res->global_step = st.global_step;
    res->has_best = st.has_best;
    res->best_value = st.best_value;
    res->best_epoch = st.best_epoch;
done:
    if (rc < 0 && !res->run_dir[0]) snprintf(res->run_dir, sizeof res->run_dir, "%s", r.dir);
    run_free(&r);
    return rc;
}
