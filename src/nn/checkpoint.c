/* checkpoint.c — writing and reading checkpoints (format in xraycls/checkpoint.h): model weights
 * and buffers, Adam state, generator states and the run's metadata in one safetensors file.
 *
 * Not here: when checkpoints are taken (train.c). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/checkpoint.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/safetensors.h"

/* ---- metadata: model info ---------------------------------------------------------------- */

static const char *const tta_names[] = {"none", "flip", "tencrop"};

int xc_tta_parse(const char *s, xc_tta *out) {
    for (int t = 0; t < 3; t++)
        if (s && !strcmp(s, tta_names[t])) {
            *out = (xc_tta)t;
            return 0;
        }
    return xc_errorf("'%s' is not none, flip or tencrop", s ? s : "");
}

const char *xc_tta_name(xc_tta t) { return t >= XC_TTA_NONE && t <= XC_TTA_TENCROP ? tta_names[t] : "?"; }

int xc_tta_views(xc_tta t) { return t == XC_TTA_TENCROP ? 10 : t == XC_TTA_FLIP ? 2 : 1; }

int xc_tta_resize(int s) { return (int)lround((double)s * 256.0 / 224.0); }

int xc_model_info_write(xc_st_writer *w, const xc_model_info *info, const char *kind) {
    char buf[64];
    if (xc_st_writer_meta(w, "xraycls.kind", kind) < 0) return -1;
    snprintf(buf, sizeof buf, "%d", XC_CHECKPOINT_FORMAT);
    if (xc_st_writer_meta(w, "xraycls.format", buf) < 0) return -1;
    if (xc_st_writer_meta(w, "xraycls.arch", info->arch) < 0) return -1;
    cJSON *classes = cJSON_CreateArray();
    for (int k = 0; classes && k < info->num_classes; k++)
        cJSON_AddItemToArray(classes, cJSON_CreateString(info->classes[k]));
    if (xc_st_writer_meta_json(w, "xraycls.classes", classes) < 0) return -1;
    snprintf(buf, sizeof buf, "%d", info->num_classes);
    if (xc_st_writer_meta(w, "xraycls.num_classes", buf) < 0) return -1;
    if (xc_st_writer_meta(w, "xraycls.head", info->head[0] ? info->head : "softmax") < 0) return -1;
    cJSON *pre = cJSON_CreateObject();
    if (pre) {
        cJSON_AddNumberToObject(pre, "size", info->image_size);
        cJSON_AddNumberToObject(pre, "channels", info->channels);
        cJSON *mean = cJSON_AddArrayToObject(pre, "mean"), *std = cJSON_AddArrayToObject(pre, "std");
        for (int c = 0; mean && std && c < 3; c++) {
            /* Through the float's shortest decimal spelling, so 0.485f is written as 0.485. */
            snprintf(buf, sizeof buf, "%.7g", info->mean[c]);
            cJSON_AddItemToArray(mean, cJSON_CreateNumber(strtod(buf, NULL)));
            snprintf(buf, sizeof buf, "%.7g", info->std[c]);
            cJSON_AddItemToArray(std, cJSON_CreateNumber(strtod(buf, NULL)));
        }
        cJSON_AddBoolToObject(pre, "expand_gray_to_rgb", info->expand_gray_to_rgb);
        if (info->tta != XC_TTA_NONE) cJSON_AddStringToObject(pre, "tta", xc_tta_name(info->tta));
    }
    return xc_st_writer_meta_json(w, "xraycls.preprocessing", pre);
}

static int info_error(const char *path, const char *key, const char *what) {
    return xc_errorf("'%s': metadata %s: %s", path, key, what);
}

static int read_info(const xc_st_file *f, xc_model_info *info) {
    const char *path = xc_st_path(f);
    memset(info, 0, sizeof *info);
    const char *kind = xc_st_meta(f, "xraycls.kind");
    if (!kind)
        return xc_errorf("'%s': not an xraycls model file or checkpoint (no xraycls.kind metadata)",
                         path);
    if (strcmp(kind, "checkpoint") != 0 && strcmp(kind, "model") != 0)
        return xc_errorf("'%s': xraycls.kind is '%s', not a model file or checkpoint", path, kind);
    snprintf(info->kind, sizeof info->kind, "%s", kind);
    const char *arch = xc_st_meta(f, "xraycls.arch");
    if (!arch || strlen(arch) >= sizeof info->arch) return info_error(path, "xraycls.arch", "missing");
    snprintf(info->arch, sizeof info->arch, "%s", arch);
    const char *head = xc_st_meta(f, "xraycls.head");
    if (head && strcmp(head, "softmax") && strcmp(head, "sigmoid")) {
        char what[96];
        snprintf(what, sizeof what, "'%.40s' is neither \"softmax\" nor \"sigmoid\"", head);
        return info_error(path, "xraycls.head", what);
    }
    snprintf(info->head, sizeof info->head, "%s", head ? head : "softmax");

    const char *cls = xc_st_meta(f, "xraycls.classes");
    if (!cls) return info_error(path, "xraycls.classes", "missing");
    cJSON *j = cJSON_Parse(cls);
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) < 1 || cJSON_GetArraySize(j) > XC_INFO_MAX_CLASSES) {
        cJSON_Delete(j);
        return info_error(path, "xraycls.classes", "expected a JSON array of 1 to 64 names");
    }
    info->num_classes = cJSON_GetArraySize(j);
    for (int k = 0; k < info->num_classes; k++) {
        const cJSON *e = cJSON_GetArrayItem(j, k);
        if (!cJSON_IsString(e) || strlen(e->valuestring) >= XC_CLASS_NAME_MAX) {
            cJSON_Delete(j);
            return info_error(path, "xraycls.classes", "names must be strings under 64 characters");
        }
        snprintf(info->classes[k], XC_CLASS_NAME_MAX, "%s", e->valuestring);
        for (const unsigned char *c = (const unsigned char *)e->valuestring; *c; c++)
            if (*c < 0x20 || *c == 0x7f) {
                cJSON_Delete(j);
                return info_error(path, "xraycls.classes", "a name holds a control character");
            }
        for (int q = 0; q < k; q++)
            if (!strcmp(info->classes[q], info->classes[k])) {
                char what[160];
                snprintf(what, sizeof what, "class '%s' is named twice (outputs %d and %d)", info->classes[k], q, k);
                cJSON_Delete(j);
                return info_error(path, "xraycls.classes", what);
            }
    }
    cJSON_Delete(j);
    const char *nc = xc_st_meta(f, "xraycls.num_classes");
    if (nc && atoi(nc) != info->num_classes)
        return info_error(path, "xraycls.num_classes", "differs from the length of xraycls.classes");

    /* Defaults for model files that carry no preprocessing: 224 px ImageNet normalisation. */
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    info->image_size = 224;
    info->channels = 1;
    info->expand_gray_to_rgb = 1;
    memcpy(info->mean, imagenet_mean, sizeof info->mean);
    memcpy(info->std, imagenet_std, sizeof info->std);
    const char *pre = xc_st_meta(f, "xraycls.preprocessing");
    if (pre) {
        cJSON *p = cJSON_Parse(pre);
        if (!cJSON_IsObject(p)) {
            cJSON_Delete(p);
            return info_error(path, "xraycls.preprocessing", "expected a JSON object");
        }
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(p, "size");
        const cJSON *ch = cJSON_GetObjectItemCaseSensitive(p, "channels");
        const cJSON *mean = cJSON_GetObjectItemCaseSensitive(p, "mean");
        const cJSON *std = cJSON_GetObjectItemCaseSensitive(p, "std");
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(p, "expand_gray_to_rgb");
        const cJSON *tta = cJSON_GetObjectItemCaseSensitive(p, "tta");
        if (tta && (!cJSON_IsString(tta) || xc_tta_parse(tta->valuestring, &info->tta) < 0)) {
            cJSON_Delete(p);
            return info_error(path, "xraycls.preprocessing", "\"tta\" is not \"none\", \"flip\" or \"tencrop\"");
        }
        int bad = !cJSON_IsNumber(size) || !(size->valuedouble >= 1 && size->valuedouble <= 65536) || !cJSON_IsNumber(ch) ||
                  (ch->valueint != 1 && ch->valueint != 3) || !cJSON_IsArray(mean) ||
                  cJSON_GetArraySize(mean) != 3 || !cJSON_IsArray(std) ||
                  cJSON_GetArraySize(std) != 3 || (ex && !cJSON_IsBool(ex));
        for (int c = 0; !bad && c < 3; c++) {
            const cJSON *m = cJSON_GetArrayItem(mean, c), *s = cJSON_GetArrayItem(std, c);
            /* on [0, 1] pixel values: a mean beyond ±100 or a std outside [1e-4, 100] (a denormal,
             * 0, a huge value) would turn every input into NaN, infinities or saturation */
            bad = !cJSON_IsNumber(m) || !cJSON_IsNumber(s) || !(fabs(m->valuedouble) <= 100) ||
                  !(s->valuedouble >= 1e-4 && s->valuedouble <= 100);
            if (!bad) {
                info->mean[c] = (float)m->valuedouble;
                info->std[c] = (float)s->valuedouble;
            }
        }
        if (!bad) {
            info->image_size = size->valueint;
            info->channels = ch->valueint;
            info->expand_gray_to_rgb = ex ? cJSON_IsTrue(ex) : info->channels == 1;
        }
        cJSON_Delete(p);
        if (bad)
            return info_error(path, "xraycls.preprocessing",
                              "expected {\"size\", \"channels\" 1|3, \"mean\" [3] within ±100, \"std\" [3] in "
                              "[1e-4, 100], "
                              "\"expand_gray_to_rgb\"}");
    }
    const char *state = xc_st_meta(f, "xraycls.state");
    if (state) {
        cJSON *s = cJSON_Parse(state);
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(s, "epoch");
        if (cJSON_IsNumber(e)) info->epoch = e->valueint;
        cJSON_Delete(s);
    }
    return 0;
}

int xc_checkpoint_read_info(const char *path, xc_model_info *info) {
    xc_st_file *f = xc_st_open(path);
    if (!f) return -1;
    int rc = read_info(f, info);
    xc_st_close(f);
    return rc;
}

/* ---- tensors ----------------------------------------------------------------------------- */

/* Host copies of device tensors, alive until the writer has written. */
typedef struct {
    void **bufs;
    int n, cap;
} host_bufs;

static void host_bufs_free(host_bufs *h) {
    for (int i = 0; i < h->n; i++) free(h->bufs[i]);
    free(h->bufs);
    memset(h, 0, sizeof *h);
}

static int add_tensor(xc_st_writer *w, host_bufs *h, const char *name, const xt_tensor *t) {
    int64_t shape[XC_ST_MAX_DIMS];
    int nd = xt_shape(t, shape, XC_ST_MAX_DIMS);
    if (nd < 0) return xc_errorf("checkpoint: tensor '%s': %s", name, xc_error());
    xt_dtype dt = xt_dtype_of(t);
    size_t nbytes = (size_t)xt_numel(t) * xt_dtype_size(dt);
    void *buf = malloc(nbytes ? nbytes : 1);
    if (!buf) return xc_errorf("checkpoint: out of memory for tensor '%s'", name);
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 256;
        void **nb = realloc(h->bufs, (size_t)cap * sizeof *nb);
        if (!nb) {
            free(buf);
            return xc_errorf("checkpoint: out of memory");
        }
        h->bufs = nb;
        h->cap = cap;
    }
    h->bufs[h->n++] = buf;
    if (xt_to_host(t, buf, nbytes) < 0) return xc_errorf("checkpoint: tensor '%s': %s", name, xc_error());
    /* xt_dtype and xc_dtype share their numeric values (safetensors.h). */
    return xc_st_writer_add(w, name, (xc_dtype)dt, nd, shape, buf, nbytes);
}

static cJSON *state_to_json(const xc_run_state *s) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epoch", s->epoch);
    cJSON_AddNumberToObject(j, "global_step", (double)s->global_step);
    cJSON *smp = cJSON_AddObjectToObject(j, "sampler");
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, s->sampler_seed);
    cJSON_AddStringToObject(smp, "seed", seed);
    cJSON_AddNumberToObject(smp, "epoch", s->sampler_epoch);
    cJSON_AddNumberToObject(smp, "position", (double)s->sampler_position);
    cJSON_AddNumberToObject(j, "lr", s->lr);
    if (s->has_best) {
        cJSON *b = cJSON_AddObjectToObject(j, "best");
        cJSON_AddStringToObject(b, "metric", s->best_metric);
        cJSON_AddNumberToObject(b, "value", s->best_value);
        cJSON_AddNumberToObject(b, "epoch", s->best_epoch);
    } else {
        cJSON_AddNullToObject(j, "best");
    }
    cJSON_AddBoolToObject(j, "complete", s->complete);
    cJSON *p = cJSON_AddObjectToObject(j, "partial_epoch");
    cJSON_AddNumberToObject(p, "loss_sum", s->epoch_loss_sum);
    cJSON_AddNumberToObject(p, "correct", (double)s->epoch_correct);
    cJSON_AddNumberToObject(p, "seen", (double)s->epoch_seen);
    cJSON_AddNumberToObject(p, "seconds", s->epoch_seconds);
    return j;
}

static int num_field(const cJSON *o, const char *key, double *out) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(e)) return -1;
    *out = e->valuedouble;
    return 0;
}

static int state_from_json(const char *text, const char *path, xc_run_state *s) {
    memset(s, 0, sizeof *s);
    cJSON *j = cJSON_Parse(text);
    const cJSON *smp = cJSON_GetObjectItemCaseSensitive(j, "sampler");
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(j, "best");
    const cJSON *part = cJSON_GetObjectItemCaseSensitive(j, "partial_epoch");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(smp, "seed");
    double epoch, step, sepoch, pos, lr, ls, corr, seen, secs;
    int bad = !cJSON_IsObject(j) || num_field(j, "epoch", &epoch) || num_field(j, "global_step", &step) ||
              !cJSON_IsString(seed) || num_field(smp, "epoch", &sepoch) ||
              num_field(smp, "position", &pos) || num_field(j, "lr", &lr) ||
              num_field(part, "loss_sum", &ls) || num_field(part, "correct", &corr) ||
              num_field(part, "seen", &seen) || num_field(part, "seconds", &secs) ||
              !(cJSON_IsNull(best) || cJSON_IsObject(best));
    if (!bad) {
        s->epoch = (int)epoch;
        s->global_step = (int64_t)step;
        s->sampler_seed = strtoull(seed->valuestring, NULL, 10);
        s->sampler_epoch = (int)sepoch;
        s->sampler_position = (int64_t)pos;
        s->lr = lr;
        s->epoch_loss_sum = ls;
        s->epoch_correct = (int64_t)corr;
        s->epoch_seen = (int64_t)seen;
        s->epoch_seconds = secs;
        s->complete = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "complete"));
        if (cJSON_IsObject(best)) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(best, "metric");
            double v, e;
            if (!cJSON_IsString(m) || num_field(best, "value", &v) || num_field(best, "epoch", &e)) {
                bad = 1;
            } else {
                s->has_best = 1;
                snprintf(s->best_metric, sizeof s->best_metric, "%s", m->valuestring);
                s->best_value = v;
                s->best_epoch = (int)e;
            }
        }
    }
    cJSON_Delete(j);
    if (bad) return xc_errorf("'%s': metadata xraycls.state: malformed", path);
    return 0;
}

int xc_checkpoint_save(const char *path, const xc_checkpoint *ck) {
    xc_st_writer *w = xc_st_writer_new();
    if (!w) return -1;
    host_bufs h = {0};
    int rc = -1;
    if (xc_model_info_write(w, ck->info, "checkpoint") < 0) goto done;
    if (xc_st_writer_meta(w, "xraycls.config", ck->config_json ? ck->config_json : "{}") < 0) goto done;
    if (xc_st_writer_meta_json(w, "xraycls.state", state_to_json(ck->state)) < 0) goto done;

    int n = xc_model_state_count(ck->model);
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(ck->model, i);
        if (!e) goto done;
        char name[512];
        snprintf(name, sizeof name, "model.%s", e->name);
        if (add_tensor(w, &h, name, e->tensor) < 0) goto done;
    }
    if (ck->adam) {
        int np = xt_adam_count(ck->adam);
        for (int i = 0; i < np; i++) {
            int64_t step;
            xt_tensor *m = NULL, *v = NULL;
            if (xt_adam_state(ck->adam, i, &step, &m, &v) < 0) goto done;
            if (!m || !v) continue;
            char name[64];
            snprintf(name, sizeof name, "optim.%d.exp_avg", i);
            if (add_tensor(w, &h, name, m) < 0) goto done;
            snprintf(name, sizeof name, "optim.%d.exp_avg_sq", i);
            if (add_tensor(w, &h, name, v) < 0) goto done;
            snprintf(name, sizeof name, "optim.%d.step", i);
            int64_t one = 1;
            if (xc_st_writer_add_copy(w, name, XC_I64, 1, &one, &step, sizeof step) < 0) goto done;
        }
    }
    xt_tensor *rng = xt_rng_state_get(XT_CPU);
    if (!rng) goto done;
    int r = add_tensor(w, &h, "rng.cpu", rng);
    xt_free(rng);
    if (r < 0) goto done;
    if (ck->rng_dev >= 0) {
        rng = xt_rng_state_get(ck->rng_dev);
        if (!rng) goto done;
        r = add_tensor(w, &h, "rng.cuda", rng);
        xt_free(rng);
        if (r < 0) goto done;
    }
    rc = xc_st_writer_write(w, path);
done:
    xc_st_writer_free(w);
    host_bufs_free(&h);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------------- */

/* The model's tensors of a file, renamed to torchvision names: "model.x" → "x"; in a model file
 * (kind "model") without any "model." tensor, every tensor is taken as is. The names point into
 * `store` (freed by the caller). */
static int model_tensors(const xc_st_file *f, int plain_ok, xc_st_tensor **out, int *n) {
    int count = xc_st_count(f), prefixed = 0;
    for (int i = 0; i < count; i++) prefixed += !strncmp(xc_st_at(f, i)->name, "model.", 6);
    xc_st_tensor *t = calloc((size_t)(count > 0 ? count : 1), sizeof *t);
    if (!t) return xc_errorf("out of memory");
    int m = 0;
    for (int i = 0; i < count; i++) {
        const xc_st_tensor *s = xc_st_at(f, i);
        if (prefixed || !plain_ok) {
            if (strncmp(s->name, "model.", 6) != 0) continue;
            t[m] = *s;
            t[m].name = s->name + 6;
        } else {
            t[m] = *s;
        }
        m++;
    }
    *out = t;
    *n = m;
    return 0;
}

static int load_weights(xc_model *m, const xc_st_file *f, int plain_ok) {
    xc_st_tensor *t = NULL;
    int n = 0;
    if (model_tensors(f, plain_ok, &t, &n) < 0) return -1;
    xc_load_report rep;
    memset(&rep, 0, sizeof rep);
    int rc = xc_model_load_named(m, t, n, xc_st_path(f), &rep);
    free(t);
    if (rc == 0 && rep.head_reinit)
        rc = xc_errorf("'%s': the head has %" PRId64 " outputs, the metadata says %d classes",
                       xc_st_path(f), rep.source_head_classes, xc_model_num_classes(m));
    xc_load_report_free(&rep);
    return rc;
}

xc_model *xc_checkpoint_load_model(const char *path, xt_device dev, xc_model_info *info) {
    xc_st_file *f = xc_st_open(path);
    if (!f) return NULL;
    xc_model_info local;
    xc_model_info *in = info ? info : &local;
    xc_model *m = NULL;
    if (read_info(f, in) < 0) goto fail;
    m = xc_model_new(in->arch, in->num_classes, dev);
    if (!m) {
        xc_errorf("'%s': %s", path, xc_error());
        goto fail;
    }
    if (load_weights(m, f, !strcmp(in->kind, "model")) < 0) goto fail;
    xc_model_set_training(m, 0);
    xc_st_close(f);
    return m;
fail:
    xc_model_free(m);
    xc_st_close(f);
    return NULL;
}

/* A host tensor of the file as a CPU xt tensor in the current arena (copied: file data may be
 * unaligned). */
static xt_tensor *file_tensor(const xc_st_tensor *s) {
    return xt_from_host(s->data, s->ndim, s->shape, (xt_dtype)s->dtype);
}

static int restore_adam(const xc_st_file *f, xt_adam *adam) {
    const char *path = xc_st_path(f);
    int np = xt_adam_count(adam);
    for (int i = 0; i < np; i++) {
        char nm[64], nv[64], ns[64];
        snprintf(nm, sizeof nm, "optim.%d.exp_avg", i);
        snprintf(nv, sizeof nv, "optim.%d.exp_avg_sq", i);
        snprintf(ns, sizeof ns, "optim.%d.step", i);
        const xc_st_tensor *m = xc_st_find(f, nm);
        if (!m) continue; /* this parameter had no state yet */
        const xc_st_tensor *v = xc_st_find(f, nv);
        const xc_st_tensor *s = xc_st_require(f, ns, XC_I64, 1);
        if (!v) return xc_errorf("'%s': '%s' without '%s'", path, nm, nv);
        if (!s) return -1;
        int64_t step;
        memcpy(&step, s->data, sizeof step);
        xt_tensor *tm = file_tensor(m), *tv = file_tensor(v);
        if (!tm || !tv) return xc_errorf("'%s': %s", path, xc_error());
        if (xt_adam_set_state(adam, i, step, tm, tv) < 0)
            return xc_errorf("'%s': optimizer state %d: %s", path, i, xc_error());
    }
    char extra[64];
    snprintf(extra, sizeof extra, "optim.%d.exp_avg", np);
    if (xc_st_find(f, extra))
        return xc_errorf("'%s': the checkpoint has optimizer state for more than %d parameters",
                         path, np);
    return 0;
}

int xc_checkpoint_resume(const char *path, xc_model *model, xt_adam *adam, xt_device rng_dev,
                         xc_run_state *state, char **config_json) {
    if (config_json) *config_json = NULL;
    xc_st_file *f = xc_st_open(path);
    if (!f) return -1;
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    int grad = xt_grad_enabled_set(0);
    int rc = -1;
    xc_model_info info;
    if (read_info(f, &info) < 0) goto done;
    if (strcmp(info.kind, "checkpoint") != 0) {
        xc_errorf("'%s': a model file, not a training checkpoint: cannot resume from it", path);
        goto done;
    }
    if (strcmp(info.arch, xc_model_arch(model)) != 0 || info.num_classes != xc_model_num_classes(model)) {
        xc_errorf("'%s': holds %s with %d classes, the run builds %s with %d", path, info.arch,
                  info.num_classes, xc_model_arch(model), xc_model_num_classes(model));
        goto done;
    }
    const char *st = xc_st_meta(f, "xraycls.state");
    if (!st) {
        xc_errorf("'%s': metadata xraycls.state: missing", path);
        goto done;
    }
    if (state_from_json(st, path, state) < 0) goto done;
    if (load_weights(model, f, 0) < 0) goto done;
    if (adam && restore_adam(f, adam) < 0) goto done;
    const xc_st_tensor *r = xc_st_require(f, "rng.cpu", XC_U8, 1);
    if (!r) goto done;
    xt_tensor *t = file_tensor(r);
    if (!t || xt_rng_state_set(XT_CPU, t) < 0) {
        xc_errorf("'%s': rng.cpu: %s", path, xc_error());
        goto done;
    }
    if (rng_dev >= 0) {
        const xc_st_tensor *rc2 = xc_st_find(f, "rng.cuda");
        if (rc2) {
            t = file_tensor(rc2);
            if (!t || xt_rng_state_set(rng_dev, t) < 0) {
                xc_errorf("'%s': rng.cuda: %s", path, xc_error());
                goto done;
            }
        }
    }
    if (config_json) {
        const char *cfg = xc_st_meta(f, "xraycls.config");
        *config_json = strdup(cfg ? cfg : "{}");
        if (!*config_json) {
            xc_errorf("out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    xt_grad_enabled_set(grad);
    xt_arena_push(prev);
    xt_arena_free(arena);
    xc_st_close(f);
    return rc;
}
