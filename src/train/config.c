/* config.c — the training config: a table of keys (path, type, where it lives in xc_config),
 * a strict walk of the JSON against it, --set overrides, and the resolved config as JSON.
 *
 * Not here: what the values mean to training (train.c). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/config.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/opt.h"

/* K_AUTOBOOL: true, false or "auto", into an xc_tristate (ON, OFF, AUTO). */
typedef enum { K_NUM, K_INT, K_U64, K_STR, K_ENUM, K_BETAS, K_LIST, K_CLASS_WEIGHTS, K_BOOL, K_AUTOBOOL } key_type;

typedef struct {
    const char *path;
    key_type type;
    size_t off;
    size_t size;              /* K_STR: buffer size */
    const char *const *names; /* K_ENUM: NULL-terminated, index = enum value */
    double lo, hi;            /* K_NUM / K_INT: allowed range */
    size_t count_off;         /* K_LIST: where the element count lives */
} key_def;

static const char *const sampler_names[] = {"weighted", "shuffle", NULL};
static const char *const loss_names[] = {"ce", "focal", "bce", NULL};
static const char *const sched_names[] = {"step", "cosine", "none", NULL};
static const char *const best_names[] = {"val_accuracy", "val_loss", "val_balanced_accuracy", "val_auroc", "val_macro_f1", NULL};
static const char *const precision_names[] = {"auto", "fp32", "bf16", "fp16", NULL};
static const char *const nonfinite_names[] = {"stop", "skip", NULL};
static const char *const tristate_names[] = {"auto", "on", "off", NULL};
static const char *const backend_names[] = {"auto", "gloo", "nccl", NULL};
static const char *const figures_names[] = {"png", "svg", "pdf", "none", NULL}; /* xc_plot_format's order */

#define OFF(f) offsetof(xc_config, f)
#define SZ(f) sizeof(((xc_config *)0)->f)
#define BIG 1e300

static const key_def keys[] = {
    {"data.path", K_STR, OFF(data.path), SZ(data.path), NULL, 0, 0, 0},
    {"data.batch_size", K_INT, OFF(data.batch_size), 0, NULL, 1, 1 << 20, 0},
    {"data.sampler", K_ENUM, OFF(data.sampler), 0, sampler_names, 0, 0, 0},
    {"data.augment.hflip", K_NUM, OFF(data.hflip), 0, NULL, 0, 1, 0},
    {"data.augment.vflip", K_NUM, OFF(data.vflip), 0, NULL, 0, 1, 0},
    {"data.augment.rotate", K_NUM, OFF(data.rotate), 0, NULL, 0, 1, 0},
    {"data.augment.rotate_deg", K_NUM, OFF(data.rotate_deg), 0, NULL, 0, 180, 0},
    {"data.val_split", K_STR, OFF(data.val_split), SZ(data.val_split), NULL, 0, 0, 0},
    {"model.arch", K_STR, OFF(model.arch), SZ(model.arch), NULL, 0, 0, 0},
    {"model.weights", K_STR, OFF(model.weights), SZ(model.weights), NULL, 0, 0, 0},
    {"model.weights_dir", K_STR, OFF(model.weights_dir), SZ(model.weights_dir), NULL, 0, 0, 0},
    {"model.freeze_backbone_epochs", K_INT, OFF(model.freeze_backbone_epochs), 0, NULL, 0, 1e6, 0},
    {"model.channels_last", K_ENUM, OFF(model.channels_last), 0, tristate_names, 0, 0, 0},
    {"loss.type", K_ENUM, OFF(loss.type), 0, loss_names, 0, 0, 0},
    {"loss.gamma", K_NUM, OFF(loss.gamma), 0, NULL, 0, 100, 0},
    {"loss.alpha", K_LIST, OFF(loss.alpha), 0, NULL, 0, BIG, OFF(loss.n_alpha)},
    {"loss.class_weights", K_CLASS_WEIGHTS, OFF(loss.class_weight), 0, NULL, 0, BIG, OFF(loss.n_class_weights)},
    {"loss.pos_weight", K_CLASS_WEIGHTS, OFF(loss.pos_weight), 0, NULL, 0, BIG, OFF(loss.n_pos_weight)},
    {"optim.lr", K_NUM, OFF(optim.lr), 0, NULL, 0, BIG, 0},
    {"optim.betas", K_BETAS, OFF(optim.beta1), 0, NULL, 0, 0, 0},
    {"optim.eps", K_NUM, OFF(optim.eps), 0, NULL, 0, 1, 0},
    {"optim.weight_decay", K_NUM, OFF(optim.weight_decay), 0, NULL, 0, BIG, 0},
    {"schedule.type", K_ENUM, OFF(schedule.type), 0, sched_names, 0, 0, 0},
    {"schedule.step_size", K_INT, OFF(schedule.step_size), 0, NULL, 1, 1e6, 0},
    {"schedule.gamma", K_NUM, OFF(schedule.gamma), 0, NULL, 0, BIG, 0},
    {"schedule.min_lr", K_NUM, OFF(schedule.min_lr), 0, NULL, 0, BIG, 0},
    {"train.epochs", K_INT, OFF(train.epochs), 0, NULL, 1, 1e6, 0},
    {"train.seed", K_U64, OFF(train.seed), 0, NULL, 0, 0, 0},
    {"train.device", K_STR, OFF(train.device), SZ(train.device), NULL, 0, 0, 0},
    {"train.best_metric", K_ENUM, OFF(train.best_metric), 0, best_names, 0, 0, 0},
    {"train.precision", K_ENUM, OFF(train.precision), 0, precision_names, 0, 0, 0},
    {"train.on_nonfinite", K_ENUM, OFF(train.on_nonfinite), 0, nonfinite_names, 0, 0, 0},
    {"train.log_every", K_INT, OFF(train.log_every), 0, NULL, 1, 1e9, 0},
    {"train.max_steps_per_epoch", K_INT, OFF(train.max_steps_per_epoch), 0, NULL, 0, INT_MAX, 0},
    {"train.threads", K_INT, OFF(train.threads), 0, NULL, 0, 1024, 0},
    {"train.tensorboard", K_AUTOBOOL, OFF(train.tensorboard), 0, NULL, 0, 0, 0},
    {"train.distributed.backend", K_ENUM, OFF(train.distributed.backend), 0, backend_names, 0, 0, 0},
    {"train.distributed.sync_bn", K_BOOL, OFF(train.distributed.sync_bn), 0, NULL, 0, 0, 0},
    {"train.distributed.overlap", K_BOOL, OFF(train.distributed.overlap), 0, NULL, 0, 0, 0},
    {"train.distributed.bucket_mb", K_NUM, OFF(train.distributed.bucket_mb), 0, NULL, 0.01, 4096, 0},
    {"train.distributed.timeout_s", K_NUM, OFF(train.distributed.timeout_s), 0, NULL, 1, 86400, 0},
    {"output.runs_dir", K_STR, OFF(output.runs_dir), SZ(output.runs_dir), NULL, 0, 0, 0},
    {"output.name", K_STR, OFF(output.name), SZ(output.name), NULL, 0, 0, 0},
    {"output.figures", K_ENUM, OFF(output.figures), 0, figures_names, 0, 0, 0},
};
#define NKEYS (int)(sizeof keys / sizeof keys[0])

static const char *const archs[] = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                                    "densenet121", "densenet161", "densenet169", "densenet201", NULL};

void xc_config_default(xc_config *c) {
    memset(c, 0, sizeof *c);
    c->data.batch_size = 32;
    c->data.sampler = XC_CFG_SAMPLER_WEIGHTED;
    c->data.hflip = 0.5;
    c->data.vflip = 0.5;
    c->data.rotate = 0.3;
    c->data.rotate_deg = 15;
    snprintf(c->data.val_split, sizeof c->data.val_split, "val");
    snprintf(c->model.arch, sizeof c->model.arch, "resnet50");
    snprintf(c->model.weights, sizeof c->model.weights, "imagenet");
    const char *wd = getenv("XRAYCLS_WEIGHTS");
    snprintf(c->model.weights_dir, sizeof c->model.weights_dir, "%s", wd && *wd ? wd : "data/weights");
    c->loss.type = XC_LOSS_CE;
    c->loss.gamma = 2.0;
    c->optim.lr = 1e-3;
    c->optim.beta1 = 0.9;
    c->optim.beta2 = 0.999;
    c->optim.eps = 1e-8;
    c->schedule.type = XC_SCHED_STEP;
    c->schedule.step_size = 10;
    c->schedule.gamma = 0.5;
    c->train.epochs = 20;
    snprintf(c->train.device, sizeof c->train.device, "auto");
    c->train.best_metric = XC_BEST_VAL_ACCURACY;
    c->train.precision = XC_PREC_AUTO;
    c->train.on_nonfinite = XC_NONFINITE_STOP;
    c->train.log_every = 50;
    c->train.distributed.backend = XC_DIST_AUTO;
    c->train.distributed.overlap = 1;
    c->train.distributed.bucket_mb = 25;
    c->train.distributed.timeout_s = 300;
    snprintf(c->output.runs_dir, sizeof c->output.runs_dir, "runs");
    snprintf(c->output.name, sizeof c->output.name, "run");
}

const char *xc_best_metric_name(xc_best_kind k) {
    return (k >= 0 && k <= XC_BEST_VAL_MACRO_F1) ? best_names[k] : "?";
}

/* ---- the walk ---------------------------------------------------------------------------- */

static const char *json_type_name(const cJSON *j) {
    if (cJSON_IsString(j)) return "a string";
    if (cJSON_IsNumber(j)) return "a number";
    if (cJSON_IsBool(j)) return "a boolean";
    if (cJSON_IsNull(j)) return "null";
    if (cJSON_IsArray(j)) return "an array";
    if (cJSON_IsObject(j)) return "an object";
    return "something else";
}

/* The name of the child of `prefix` ("" for the top) that a key path continues with, into buf;
 * 0 when `path` is not below prefix. */
static int child_name(const char *path, const char *prefix, char *buf, size_t cap) {
    size_t lp = strlen(prefix);
    if (lp) {
        if (strncmp(path, prefix, lp) != 0 || path[lp] != '.') return 0;
        path += lp + 1;
    }
    size_t n = strcspn(path, ".");
    if (n >= cap) return 0;
    memcpy(buf, path, n);
    buf[n] = 0;
    return 1;
}

/* The known child of prefix closest to `name`, or NULL. */
static const char *suggest(const char *prefix, const char *name) {
    static _Thread_local xc_suggest s;
    xc_suggest_init(&s, name);
    for (int i = 0; i < NKEYS; i++) {
        char child[64];
        if (child_name(keys[i].path, prefix, child, sizeof child)) xc_suggest_add(&s, child);
    }
    return xc_suggest_best(&s);
}

static const key_def *find_key(const char *path) {
    for (int i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].path, path)) return &keys[i];
    return NULL;
}

/* Keys that once existed, with what to do instead: refused with that advice rather than with
 * a bare "unknown key", so an old config says why it no longer loads. */
static const struct {
    const char *path, *why;
} removed[] = {
    {"data.workers", "batches are gathered from the prepared dataset in memory and augmented on "
                     "the device, so there is no loading for workers to do; delete the key"},
};

static const char *removed_key(const char *path) {
    for (size_t i = 0; i < sizeof removed / sizeof removed[0]; i++)
        if (!strcmp(removed[i].path, path)) return removed[i].why;
    return NULL;
}

static int is_section(const char *path) {
    size_t n = strlen(path);
    for (int i = 0; i < NKEYS; i++)
        if (!strncmp(keys[i].path, path, n) && keys[i].path[n] == '.') return 1;
    return 0;
}

static int read_number_list(const cJSON *j, const char *what, const char *path, double *out,
                            int *count, double lo) {
    int n = cJSON_GetArraySize(j);
    if (n < 1 || n > XC_CONFIG_MAX_CLASSES)
        return xc_errorf("config '%s': %s: expected 1 to %d numbers, got %d", what, path,
                         XC_CONFIG_MAX_CLASSES, n);
    for (int i = 0; i < n; i++) {
        const cJSON *e = cJSON_GetArrayItem(j, i);
        if (!cJSON_IsNumber(e))
            return xc_errorf("config '%s': %s[%d]: expected a number, got %s", what, path, i,
                             json_type_name(e));
        if (!isfinite(e->valuedouble) || e->valuedouble < lo)
            return xc_errorf("config '%s': %s[%d]: %g is out of range (>= %g)", what, path, i,
                             e->valuedouble, lo);
        out[i] = e->valuedouble;
    }
    *count = n;
    return 0;
}

static int enum_list(const char *const *names, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; names[i]; i++)
        used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s\"%s\"",
                                 i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
    return 0;
}

static int set_leaf(xc_config *c, const key_def *k, const cJSON *j, const char *what) {
    char *base = (char *)c;
    switch (k->type) {
    case K_NUM:
    case K_INT: {
        if (!cJSON_IsNumber(j))
            return xc_errorf("config '%s': %s: expected a number, got %s", what, k->path,
                             json_type_name(j));
        double v = j->valuedouble;
        if (k->type == K_INT && (v != floor(v)))
            return xc_errorf("config '%s': %s: expected a whole number, got %g", what, k->path, v);
        /* A K_INT lands in a C int: the range is the table's within the type's, whatever the
         * table says (3000000000 would otherwise wrap to -2147483648 and the run's own
         * resolved config would then fail its check on --resume). */
        double lo = k->lo, hi = k->hi;
        if (k->type == K_INT) {
            if (lo < (double)INT_MIN) lo = (double)INT_MIN;
            if (hi > (double)INT_MAX) hi = (double)INT_MAX;
        }
        if (!isfinite(v) || v < lo || v > hi)
            return xc_errorf("config '%s': %s: %.17g is out of range [%.17g, %.17g]", what, k->path, v, lo, hi);
        if (k->type == K_NUM) *(double *)(base + k->off) = v;
        else *(int *)(base + k->off) = (int)v;
        return 0;
    }
    case K_U64: {
        if (!cJSON_IsNumber(j) || j->valuedouble != floor(j->valuedouble) || j->valuedouble < 0 ||
            j->valuedouble > 9007199254740992.0)
            return xc_errorf("config '%s': %s: expected a whole number >= 0, got %s", what,
                             k->path, cJSON_IsNumber(j) ? "another number" : json_type_name(j));
        *(unsigned long long *)(base + k->off) = (unsigned long long)j->valuedouble;
        return 0;
    }
    case K_STR: {
        if (!cJSON_IsString(j))
            return xc_errorf("config '%s': %s: expected a string, got %s", what, k->path,
                             json_type_name(j));
        if (strlen(j->valuestring) >= k->size)
            return xc_errorf("config '%s': %s: longer than %zu characters", what, k->path,
                             k->size - 1);
        snprintf(base + k->off, k->size, "%s", j->valuestring);
        return 0;
    }
    case K_ENUM: {
        char list[256];
        enum_list(k->names, list, sizeof list);
        if (!cJSON_IsString(j))
            return xc_errorf("config '%s': %s: expected %s, got %s", what, k->path, list,
                             json_type_name(j));
        for (int i = 0; k->names[i]; i++)
            if (!strcmp(k->names[i], j->valuestring)) {
                *(int *)(base + k->off) = i;
                return 0;
            }
        return xc_errorf("config '%s': %s: '%s' is not one of %s", what, k->path, j->valuestring,
                         list);
    }
    case K_BOOL: {
        if (!cJSON_IsBool(j))
            return xc_errorf("config '%s': %s: expected true or false, got %s", what, k->path,
                             json_type_name(j));
        *(int *)(base + k->off) = cJSON_IsTrue(j) ? 1 : 0;
        return 0;
    }
    case K_AUTOBOOL: {
        if (cJSON_IsBool(j)) {
            *(int *)(base + k->off) = cJSON_IsTrue(j) ? XC_TRISTATE_ON : XC_TRISTATE_OFF;
            return 0;
        }
        if (cJSON_IsString(j) && !strcmp(j->valuestring, "auto")) {
            *(int *)(base + k->off) = XC_TRISTATE_AUTO;
            return 0;
        }
        if (cJSON_IsString(j))
            return xc_errorf("config '%s': %s: expected true, false or \"auto\", got '%s'", what,
                             k->path, j->valuestring);
        return xc_errorf("config '%s': %s: expected true, false or \"auto\", got %s", what,
                         k->path, json_type_name(j));
    }
    case K_BETAS: {
        if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 2)
            return xc_errorf("config '%s': %s: expected an array of two numbers, got %s", what,
                             k->path, json_type_name(j));
        double b[2];
        for (int i = 0; i < 2; i++) {
            const cJSON *e = cJSON_GetArrayItem(j, i);
            if (!cJSON_IsNumber(e))
                return xc_errorf("config '%s': %s[%d]: expected a number, got %s", what, k->path,
                                 i, json_type_name(e));
            if (!(e->valuedouble >= 0 && e->valuedouble < 1))
                return xc_errorf("config '%s': %s[%d]: %g is out of range [0, 1)", what, k->path,
                                 i, e->valuedouble);
            b[i] = e->valuedouble;
        }
        c->optim.beta1 = b[0];
        c->optim.beta2 = b[1];
        return 0;
    }
    case K_LIST:
    case K_CLASS_WEIGHTS: {
        int *count = (int *)(base + k->count_off);
        /* loss.class_weights and loss.pos_weight share the form: null, "inverse_frequency", a list */
        xc_class_weight_kind *wk = k->off == OFF(loss.pos_weight) ? &c->loss.pos_weights : &c->loss.class_weights;
        if (cJSON_IsNull(j)) {
            *count = 0;
            if (k->type == K_CLASS_WEIGHTS) *wk = XC_CW_NONE;
            return 0;
        }
        if (k->type == K_CLASS_WEIGHTS && cJSON_IsString(j)) {
            if (strcmp(j->valuestring, "inverse_frequency") != 0)
                return xc_errorf("config '%s': %s: '%s' is not null, \"inverse_frequency\" or an "
                                 "array of numbers", what, k->path, j->valuestring);
            *count = 0;
            *wk = XC_CW_INVERSE_FREQUENCY;
            return 0;
        }
        if (!cJSON_IsArray(j))
            return xc_errorf("config '%s': %s: expected null%s or an array of numbers, got %s",
                             what, k->path, k->type == K_CLASS_WEIGHTS ? ", \"inverse_frequency\"" : "",
                             json_type_name(j));
        if (read_number_list(j, what, k->path, (double *)(base + k->off), count, k->lo) < 0)
            return -1;
        if (k->type == K_CLASS_WEIGHTS) *wk = XC_CW_LIST;
        return 0;
    }
    }
    return xc_errorf("config '%s': %s: internal: unknown key type", what, k->path);
}

static int walk(xc_config *c, const cJSON *obj, const char *prefix, const char *what) {
    for (const cJSON *it = obj->child; it; it = it->next) {
        char path[256];
        size_t lp = strlen(prefix), lk = strlen(it->string);
        if (lp + lk + 2 > sizeof path) return xc_errorf("config '%s': key path too long", what);
        memcpy(path, prefix, lp);
        if (lp) path[lp++] = '.';
        memcpy(path + lp, it->string, lk + 1);
        const key_def *k = find_key(path);
        if (k) {
            if (set_leaf(c, k, it, what) < 0) return -1;
        } else if (is_section(path)) {
            if (!cJSON_IsObject(it))
                return xc_errorf("config '%s': %s: expected an object, got %s", what, path,
                                 json_type_name(it));
            if (walk(c, it, path, what) < 0) return -1;
        } else if (removed_key(path)) {
            return xc_errorf("config '%s': key '%s' was removed: %s", what, path, removed_key(path));
        } else {
            const char *s = suggest(prefix, it->string);
            if (s)
                return xc_errorf("config '%s': unknown key '%s' (did you mean '%s'?)", what, path, s);
            return xc_errorf("config '%s': unknown key '%s'", what, path);
        }
    }
    return 0;
}

/* Applies "a.b.c=value" to the JSON tree, making objects on the way. */
static int apply_set(cJSON *root, const char *set, const char *what) {
    const char *eq = strchr(set, '=');
    if (!eq || eq == set) return xc_errorf("--set '%s': expected key.path=value", set);
    char path[256];
    size_t lp = (size_t)(eq - set);
    if (lp >= sizeof path) return xc_errorf("--set '%s': key path too long", set);
    memcpy(path, set, lp);
    path[lp] = 0;
    cJSON *val = cJSON_Parse(eq + 1);
    if (!val) val = cJSON_CreateString(eq + 1);
    if (!val) return xc_errorf("--set '%s': out of memory", set);
    cJSON *node = root;
    char *save = NULL;
    char *tok = strtok_r(path, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            if (cJSON_GetObjectItemCaseSensitive(node, tok))
                cJSON_ReplaceItemInObjectCaseSensitive(node, tok, val);
            else
                cJSON_AddItemToObject(node, tok, val);
            return 0;
        }
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, tok);
        if (!child) {
            child = cJSON_AddObjectToObject(node, tok);
        } else if (!cJSON_IsObject(child)) {
            cJSON_Delete(val);
            return xc_errorf("config '%s': --set '%s': '%s' is %s, not an object", what, set, tok,
                             json_type_name(child));
        }
        node = child;
        tok = next;
    }
    cJSON_Delete(val);
    return xc_errorf("--set '%s': empty key path", set);
}

static int validate(const xc_config *c, const char *what) {
    if (!c->data.path[0])
        return xc_errorf("config '%s': data.path is required (a prepared dataset folder)", what);
    int ok = 0;
    for (int i = 0; archs[i]; i++) ok |= !strcmp(archs[i], c->model.arch);
    if (!ok)
        return xc_errorf("config '%s': model.arch: '%s' is not one of resnet18, resnet34, "
                         "resnet50, resnet101, resnet152, densenet121, densenet161, densenet169, "
                         "densenet201", what, c->model.arch);
    if (!c->model.weights[0])
        return xc_errorf("config '%s': model.weights: empty (use \"none\" for random weights)", what);
    if (!strcmp(c->model.weights, "chexnet") && strcmp(c->model.arch, "densenet121") != 0)
        return xc_errorf("config '%s': model.weights: 'chexnet' exists for densenet121 only, not "
                         "for %s", what, c->model.arch);
    if (!(c->optim.lr > 0)) return xc_errorf("config '%s': optim.lr: must be > 0", what);
    if (!(c->optim.eps > 0)) return xc_errorf("config '%s': optim.eps: must be > 0", what);
    if (!c->output.name[0] || strchr(c->output.name, '/'))
        return xc_errorf("config '%s': output.name: '%s' must be a plain folder name", what,
                         c->output.name);
    if (!c->output.runs_dir[0]) return xc_errorf("config '%s': output.runs_dir: empty", what);
    return 0;
}

int xc_config_parse(xc_config *c, const char *text, const char *what, const char *const *sets,
                    int nsets, const char *stem) {
    xc_config_default(c);
    if (stem && *stem) snprintf(c->output.name, sizeof c->output.name, "%s", stem);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        size_t off = end ? (size_t)(end - text) : 0;
        int line = 1;
        for (size_t i = 0; i < off && text[i]; i++) line += text[i] == '\n';
        return xc_errorf("config '%s': not valid JSON (line %d)", what, line);
    }
    /* Valid JSON: now the strict reader, which refuses repeated keys ("lr" twice, two "train"
     * sections) naming both lines. */
    cJSON_Delete(root);
    root = xc_json_parse(text, strlen(text), what);
    if (!root) return xc_errorf("config '%s': %s", what, xc_error());
    int rc = -1;
    if (!cJSON_IsObject(root)) {
        xc_errorf("config '%s': expected a JSON object at the top, got %s", what, json_type_name(root));
        goto done;
    }
    for (int i = 0; i < nsets; i++)
        if (apply_set(root, sets[i], what) < 0) goto done;
    if (walk(c, root, "", what) < 0) goto done;
    rc = validate(c, what);
done:
    cJSON_Delete(root);
    return rc;
}

int xc_config_load(xc_config *c, const char *path, const char *const *sets, int nsets) {
    size_t len;
    char *text = xc_read_file(path, &len, 1 << 20);
    if (!text) return xc_errorf("config: %s", xc_error());
    const char *slash = strrchr(path, '/');
    char stem[256];
    snprintf(stem, sizeof stem, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(stem, '.');
    if (dot && dot != stem) *dot = 0;
    int rc = xc_config_parse(c, text, path, sets, nsets, stem);
    free(text);
    return rc;
}

/* ---- to JSON ----------------------------------------------------------------------------- */

static cJSON *section_of(cJSON *root, const char *path, char *leaf, size_t cap) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *node = root;
    char *p = buf;
    for (char *dot; (dot = strchr(p, '.')); p = dot + 1) {
        *dot = 0;
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, p);
        if (!child) child = cJSON_AddObjectToObject(node, p);
        node = child;
    }
    size_t n = strlen(p);
    if (n >= cap) n = cap - 1;
    memcpy(leaf, p, n);
    leaf[n] = 0;
    return node;
}

static cJSON *number_array(const double *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

char *xc_config_to_json(const xc_config *c) {
    cJSON *root = cJSON_CreateObject();
    if (!root) {
        xc_errorf("config: out of memory");
        return NULL;
    }
    const char *base = (const char *)c;
    for (int i = 0; i < NKEYS; i++) {
        const key_def *k = &keys[i];
        char leaf[64];
        cJSON *sec = section_of(root, k->path, leaf, sizeof leaf);
        cJSON *v = NULL;
        switch (k->type) {
        case K_NUM: v = cJSON_CreateNumber(*(const double *)(base + k->off)); break;
        case K_INT: v = cJSON_CreateNumber(*(const int *)(base + k->off)); break;
        case K_U64: v = cJSON_CreateNumber((double)*(const unsigned long long *)(base + k->off)); break;
        case K_STR: v = cJSON_CreateString(base + k->off); break;
        case K_ENUM: v = cJSON_CreateString(k->names[*(const int *)(base + k->off)]); break;
        case K_BOOL: v = cJSON_CreateBool(*(const int *)(base + k->off)); break;
        case K_AUTOBOOL: {
            int t = *(const int *)(base + k->off);
            v = t == XC_TRISTATE_AUTO ? cJSON_CreateString("auto") : cJSON_CreateBool(t == XC_TRISTATE_ON);
            break;
        }
        case K_BETAS: {
            double b[2] = {c->optim.beta1, c->optim.beta2};
            v = number_array(b, 2);
            break;
        }
        case K_LIST:
        case K_CLASS_WEIGHTS: {
            int n = *(const int *)(base + k->count_off);
            xc_class_weight_kind wk = k->off == OFF(loss.pos_weight) ? c->loss.pos_weights : c->loss.class_weights;
            if (k->type == K_CLASS_WEIGHTS && wk == XC_CW_INVERSE_FREQUENCY)
                v = cJSON_CreateString("inverse_frequency");
            else if (n == 0)
                v = cJSON_CreateNull();
            else
                v = number_array((const double *)(base + k->off), n);
            break;
        }
        }
        cJSON_AddItemToObject(sec, leaf, v);
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    if (!s) xc_errorf("config: out of memory");
    return s;
}

/* ---- weight files ------------------------------------------------------------------------ */

/* Published file names per arch (see /work/shared/weights.md), preferred first. */
static const struct {
    const char *arch, *weights;
    const char *files[3];
} published[] = {
    {"resnet18", "imagenet", {"resnet18-f37072fd.pth", "resnet18-5c106cde.pth", NULL}},
    {"resnet34", "imagenet", {"resnet34-b627a593.pth", "resnet34-333f7ec4.pth", NULL}},
    {"resnet50", "imagenet", {"resnet50-0676ba61.pth", "resnet50-19c8e357.pth", NULL}},
    {"resnet101", "imagenet", {"resnet101-63fe2227.pth", NULL, NULL}},
    {"resnet152", "imagenet", {"resnet152-394f9c45.pth", NULL, NULL}},
    {"densenet121", "imagenet", {"densenet121-a639ec97.pth", NULL, NULL}},
    {"densenet161", "imagenet", {"densenet161-8d451a50.pth", NULL, NULL}},
    {"densenet169", "imagenet", {"densenet169-b2777c0a.pth", NULL, NULL}},
    {"densenet201", "imagenet", {"densenet201-c1103571.pth", NULL, NULL}},
    {"densenet121", "chexnet", {"model.pth.tar", NULL, NULL}},
};

int xc_config_weights_candidates(const xc_config *c, const char **names, int cap) {
    const char *w = c->model.weights;
    if (!strcmp(w, "none")) return 0;
    if (strcmp(w, "imagenet") != 0 && strcmp(w, "chexnet") != 0) {
        if (cap > 0) names[0] = w;
        return 1;
    }
    for (size_t i = 0; i < sizeof published / sizeof published[0]; i++) {
        if (strcmp(published[i].arch, c->model.arch) || strcmp(published[i].weights, w)) continue;
        int n = 0;
        for (int j = 0; j < 3 && published[i].files[j]; j++)
            if (n < cap) names[n++] = published[i].files[j];
        return n;
    }
    return xc_errorf("model.weights '%s' does not exist for %s", w, c->model.arch);
}

/* torchvision's download folder: $TORCH_HOME/hub/checkpoints, TORCH_HOME defaulting to
 * $XDG_CACHE_HOME/torch, else ~/.cache/torch (torch.hub.get_dir). "" when neither HOME nor
 * TORCH_HOME is set. */
static void torch_hub_checkpoints(char *buf, size_t cap) {
    const char *th = getenv("TORCH_HOME"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (th && *th) snprintf(buf, cap, "%s/hub/checkpoints", th);
    else if (xdg && *xdg) snprintf(buf, cap, "%s/torch/hub/checkpoints", xdg);
    else if (home && *home) snprintf(buf, cap, "%s/.cache/torch/hub/checkpoints", home);
    else buf[0] = 0;
}

int xc_config_weights_file(const xc_config *c, char **out) {
    *out = NULL;
    const char *names[4];
    int n = xc_config_weights_candidates(c, names, 4);
    if (n < 0) return -1;
    if (n == 0) {
        *out = strdup("");
        return *out ? 0 : xc_errorf("out of memory");
    }
    int named = !strcmp(c->model.weights, "imagenet") || !strcmp(c->model.weights, "chexnet");
    if (!named) {
        if (!xc_is_file(names[0]))
            return xc_errorf("model.weights: cannot find the weight file '%s'", names[0]);
        *out = strdup(names[0]);
        return *out ? 0 : xc_errorf("out of memory");
    }
    /* weights_dir first, then torchvision's cache, where every torchvision user already has
     * the published files under the same names */
    char cache[1024];
    torch_hub_checkpoints(cache, sizeof cache);
    const char *dirs[2] = {c->model.weights_dir, cache};
    for (int d = 0; d < (cache[0] ? 2 : 1); d++)
        for (int i = 0; i < n; i++) {
            char *p = xc_path_join(dirs[d], names[i]);
            if (!p) return -1;
            if (xc_is_file(p)) {
                *out = p;
                return 0;
            }
            free(p);
        }
    char alt[512] = "";
    if (n > 1) {
        size_t used = (size_t)snprintf(alt, sizeof alt, " (or");
        for (int i = 1; i < n && used < sizeof alt; i++)
            used += (size_t)snprintf(alt + used, sizeof alt - used, " '%s'", names[i]);
        if (used < sizeof alt) snprintf(alt + used, sizeof alt - used, ")");
    }
    int chexnet = !strcmp(c->model.weights, "chexnet");
    return xc_errorf("model.weights '%s' for %s needs '%s'%s in '%s' (set model.weights_dir or "
                     "XRAYCLS_WEIGHTS); nothing is downloaded; also searched: '%s' (torchvision's cache: "
                     "$TORCH_HOME/hub/checkpoints, default ~/.cache/torch); %s%s",
                     c->model.weights, c->model.arch, names[0], alt, c->model.weights_dir, cache[0] ? cache : "(no $HOME)",
                     chexnet ? "CheXNet's weights are those of the CheXNet reimplementation "
                               "(github.com/arnoweng/CheXNet, model.pth.tar)"
                             : "published at https://download.pytorch.org/models/",
                     chexnet ? "" : names[0]);
}
