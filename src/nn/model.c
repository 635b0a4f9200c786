/* model.c — the model object: the architecture registry, named parameters and buffers under
 * torchvision's state_dict names, initialisation, modes (train/eval, frozen backbone,
 * channels_last), head replacement and strict loading from named host tensors.
 *
 * The networks themselves are in resnet.c and densenet.c; the losses in loss.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"
#include "xraycls/weights.h"

/* ---- registry ---------------------------------------------------------------------------- */

static const struct {
    const char *name;
    enum nn_family family;
    int depth;
} archs[] = {
    {"resnet18", NN_RESNET, 18},       {"resnet34", NN_RESNET, 34},
    {"resnet50", NN_RESNET, 50},       {"resnet101", NN_RESNET, 101},
    {"resnet152", NN_RESNET, 152},     {"densenet121", NN_DENSENET, 121},
    {"densenet161", NN_DENSENET, 161}, {"densenet169", NN_DENSENET, 169},
    {"densenet201", NN_DENSENET, 201},
};
#define NARCHS (int)(sizeof archs / sizeof archs[0])

const char *const *xc_arch_names(int *n) {
    static const char *names[NARCHS];
    for (int i = 0; i < NARCHS; i++) names[i] = archs[i].name;
    if (n) *n = NARCHS;
    return names;
}

static int arch_index(const char *arch) {
    for (int i = 0; arch && i < NARCHS; i++)
        if (!strcmp(arch, archs[i].name)) return i;
    return -1;
}

int xc_arch_check(const char *arch) {
    if (arch_index(arch) >= 0) return 0;
    char known[256] = "";
    for (int i = 0; i < NARCHS; i++) {
        size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", archs[i].name);
    }
    return xc_errorf("unknown arch '%s' (known: %s)", arch ? arch : "(null)", known);
}

/* ---- entries ----------------------------------------------------------------------------- */

xc_model *nn_model_alloc(const char *arch, xt_device dev) {
    xc_model *m = calloc(1, sizeof *m);
    if (!m) {
        xc_errorf("%s: out of memory", arch);
        return NULL;
    }
    snprintf(m->arch, sizeof m->arch, "%s", arch);
    m->dev = dev;
    m->training = 1;
    m->head_w = m->head_b = -1;
    m->tap = NN_TAP_NONE;
    xt_arena *prev = xt_arena_push(NULL);
    m->one = xt_scalar(1, XT_I64, dev);
    xt_arena_push(prev);
    if (!m->one) {
        xc_errorf("%s: %s", arch, xc_error());
        free(m);
        return NULL;
    }
    return m;
}

int nn_add(xc_model *m, const char *prefix, const char *name, xt_tensor *t, int is_param) {
    if (!t) return -1;
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 256;
        xc_model_entry *e = realloc(m->entries, (size_t)cap * sizeof *e);
        if (!e) {
            xt_free(t);
            return xc_errorf("%s: out of memory", m->arch);
        }
        m->entries = e;
        m->cap = cap;
    }
    size_t len = strlen(prefix) + strlen(name) + 1;
    char *full = malloc(len);
    if (!full) {
        xt_free(t);
        return xc_errorf("%s: out of memory", m->arch);
    }
    snprintf(full, len, "%s%s", prefix, name);
    if (is_param && xt_set_requires_grad(t, 1) < 0) {
        free(full);
        xt_free(t);
        return -1;
    }
    m->entries[m->n] = (xc_model_entry){full, t, is_param, 0};
    return m->n++;
}

int nn_conv(xc_model *m, const char *prefix, const char *name, int64_t cout, int64_t cin, int k,
            int mode_fan_out) {
    int64_t shape[4] = {cout, cin, k, k};
    xt_tensor *w = xt_empty(4, shape, XT_F32, m->dev);
    double fan = (double)(mode_fan_out ? cout : cin) * k * k;
    if (!w || xt_normal_(w, 0.0, sqrt(2.0) / sqrt(fan)) < 0) {
        xt_free(w);
        return -1;
    }
    return nn_add(m, prefix, name, w, 1);
}

int nn_batchnorm(xc_model *m, const char *prefix, const char *name, int64_t c, nn_bn *out) {
    char full[256];
    int64_t shape[1] = {c};
    snprintf(full, sizeof full, "%s.weight", name);
    if ((out->w = nn_add(m, prefix, full, xt_ones(1, shape, XT_F32, m->dev), 1)) < 0) return -1;
    snprintf(full, sizeof full, "%s.bias", name);
    if ((out->b = nn_add(m, prefix, full, xt_zeros(1, shape, XT_F32, m->dev), 1)) < 0) return -1;
    snprintf(full, sizeof full, "%s.running_mean", name);
    if ((out->rm = nn_add(m, prefix, full, xt_zeros(1, shape, XT_F32, m->dev), 0)) < 0) return -1;
    snprintf(full, sizeof full, "%s.running_var", name);
    if ((out->rv = nn_add(m, prefix, full, xt_ones(1, shape, XT_F32, m->dev), 0)) < 0) return -1;
    snprintf(full, sizeof full, "%s.num_batches_tracked", name);
    out->nbt = nn_add(m, prefix, full, xt_zeros(0, NULL, XT_I64, m->dev), 0);
    return out->nbt < 0 ? -1 : 0;
}

int nn_head_init(xc_model *m) {
    /* torch.nn.Linear: kaiming_uniform_(a=sqrt(5)) gives a bound of 1/sqrt(fan_in) for the
     * weight; the bias is uniform in the same bound (ResNet) or zero (DenseNet's init loop). */
    double bound = 1.0 / sqrt((double)m->head_in);
    int prev = xt_grad_enabled_set(0);
    int rc = xt_uniform_(nn_t(m, m->head_w), -bound, bound);
    if (rc == 0)
        rc = m->family == NN_DENSENET ? xt_fill_(nn_t(m, m->head_b), 0.0)
                                      : xt_uniform_(nn_t(m, m->head_b), -bound, bound);
    xt_grad_enabled_set(prev);
    return rc;
}

int nn_linear_head(xc_model *m, const char *name, int64_t out, int64_t in) {
    char full[64];
    int64_t wshape[2] = {out, in}, bshape[1] = {out};
    snprintf(full, sizeof full, "%s.weight", name);
    if ((m->head_w = nn_add(m, "", full, xt_empty(2, wshape, XT_F32, m->dev), 1)) < 0) return -1;
    snprintf(full, sizeof full, "%s.bias", name);
    if ((m->head_b = nn_add(m, "", full, xt_empty(1, bshape, XT_F32, m->dev), 1)) < 0) return -1;
    m->entries[m->head_w].is_head = m->entries[m->head_b].is_head = 1;
    m->head_in = in;
    m->num_classes = (int)out;
    return nn_head_init(m);
}

xt_tensor *nn_bn_forward(xc_model *m, const nn_bn *bn, const xt_tensor *x) {
    if (m->training) {
        /* torch increments num_batches_tracked on every training-mode forward; it only matters
         * with momentum None, but checkpoints carry it. */
        int prev = xt_grad_enabled_set(0);
        xt_tensor *next = xt_add(nn_t(m, bn->nbt), m->one); /* int64 stays int64 */
        int rc = next ? xt_copy_(nn_t(m, bn->nbt), next) : -1;
        xt_grad_enabled_set(prev);
        if (rc < 0) return NULL;
    }
    if (m->training && m->sync_bn)
        return xt_sync_batch_norm(m->sync, x, nn_t(m, bn->w), nn_t(m, bn->b), nn_t(m, bn->rm),
                                  nn_t(m, bn->rv), 0.1, 1e-5);
    return xt_batch_norm(x, nn_t(m, bn->w), nn_t(m, bn->b), nn_t(m, bn->rm), nn_t(m, bn->rv),
                         m->training, 0.1, 1e-5);
}

void nn_scope_begin(nn_scope *sc) {
    sc->cur = xt_arena_push(NULL);
    sc->tmp = sc->cur ? NULL : xt_arena_new();
    xt_arena_push(sc->cur ? sc->cur : sc->tmp);
}

xt_tensor *nn_scope_end(nn_scope *sc, xt_tensor *y) {
    xt_arena_push(sc->cur);
    if (!sc->tmp) return y;
    xt_tensor *kept = y ? xt_keep(y) : NULL;
    xt_arena_free(sc->tmp);
    return kept;
}

void nn_live_begin(nn_live *l) {
    l->arena = xt_grad_enabled() ? NULL : xt_arena_current();
    l->mark = xt_arena_mark(l->arena);
}

xt_tensor *nn_live_keep(const nn_live *l, xt_tensor *const *keep, int n) {
    /* A NULL keep[0] is a failure on the way: the message is set, the arena's step clear frees
     * the rest. Gradients switched on since the mark (a tap) keep everything. */
    if (l->arena && keep[0] && !xt_grad_enabled()) xt_arena_release(l->arena, l->mark, keep, n);
    return keep[0];
}

/* ---- building and freeing ---------------------------------------------------------------- */

void xc_model_free(xc_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n; i++) {
        free((char *)m->entries[i].name);
        xt_free(m->entries[i].tensor);
    }
    free(m->entries);
    free(m->params);
    xt_free(m->one);
    nn_fold_drop(m);
    nn_resnet_release(m);
    nn_densenet_release(m);
    free(m);
}

xc_model *xc_model_new(const char *arch, int num_classes, xt_device dev) {
    if (xc_arch_check(arch) < 0) return NULL;
    if (num_classes < 1) {
        xc_errorf("%s: num_classes must be >= 1, got %d", arch, num_classes);
        return NULL;
    }
    int a = arch_index(arch);
    xc_model *m = nn_model_alloc(arch, dev);
    if (!m) return NULL;
    m->family = archs[a].family;
    /* Parameters are long-lived: made with no arena current (caller-owned handles) and
     * initialised outside autograd. */
    xt_arena *prev = xt_arena_push(NULL);
    int grad = xt_grad_enabled_set(0);
    int rc = m->family == NN_RESNET ? nn_resnet_build(m, archs[a].depth, num_classes)
                                    : nn_densenet_build(m, archs[a].depth, num_classes);
    xt_grad_enabled_set(grad);
    xt_arena_push(prev);
    if (rc < 0) {
        xc_errorf("building %s: %s", arch, xc_error());
        xc_model_free(m);
        return NULL;
    }
    return m;
}

const char *xc_model_arch(const xc_model *m) { return m->arch; }
int xc_model_num_classes(const xc_model *m) { return m->num_classes; }
xt_device xc_model_device(const xc_model *m) { return m->dev; }
const char *xc_model_head_name(const xc_model *m) {
    return m->family == NN_DENSENET ? "classifier" : "fc";
}

/* ---- running ----------------------------------------------------------------------------- */

void xc_model_set_training(xc_model *m, int on) {
    /* Training changes the weights the folded form was made from. */
    if (on) nn_fold_drop(m);
    m->training = on != 0;
}

void xc_model_set_sync_bn(xc_model *m, xt_dist *d, int on) {
    m->sync_bn = on != 0;
    m->sync = d;
}
int xc_model_is_training(const xc_model *m) { return m->training; }

xt_tensor *xc_model_forward(xc_model *m, const xt_tensor *x) {
    if (!m || !x) {
        xc_errorf("xc_model_forward: NULL %s", m ? "input" : "model");
        return NULL;
    }
    int64_t s[4];
    if (xt_ndim(x) != 4 || xt_shape(x, s, 4) != 4 || s[1] != 3 || s[2] < 32 || s[3] < 32) {
        xc_errorf("%s: input must be (N, 3, H, W) with H, W >= 32, got %d dims (%lld, %lld, %lld, "
                  "%lld)", m->arch, xt_ndim(x), xt_ndim(x) > 0 ? (long long)s[0] : 0LL,
                  xt_ndim(x) > 1 ? (long long)s[1] : 0LL, xt_ndim(x) > 2 ? (long long)s[2] : 0LL,
                  xt_ndim(x) > 3 ? (long long)s[3] : 0LL);
        return NULL;
    }
    nn_scope sc;
    nn_scope_begin(&sc);
    const xt_tensor *in = x;
    xt_tensor *y = NULL;
    if (m->channels_last) in = xt_channels_last(x);
    if (in) y = m->family == NN_RESNET ? nn_resnet_forward(m, in) : nn_densenet_forward(m, in);
    if (!y) xc_errorf("%s forward: %s", m->arch, xc_error());
    return nn_scope_end(&sc, y);
}

/* ---- tapped forward (Grad-CAM) ------------------------------------------------------------ */

const char *xc_model_cam_layer_default(const xc_model *m) {
    return m->family == NN_RESNET ? "layer4" : "features.norm5";
}

/* The tap point of `layer` in torchvision's module names, or -1 with a message listing them. */
static int tap_resolve(const xc_model *m, const char *layer) {
    int a = 0, b = 0, n = 0;
    if (m->family == NN_RESNET) {
        const nn_resnet *r = &m->resnet;
        if (!strcmp(layer, "relu")) return 0;
        if (!strcmp(layer, "maxpool")) return 1;
        if (sscanf(layer, "layer%d%n", &a, &n) == 1 && a >= 1 && a <= 4) {
            int first = 0;
            for (int l = 0; l < a - 1; l++) first += r->layer_len[l];
            if (!layer[n]) return 2 + first + r->layer_len[a - 1] - 1;
            int n2 = 0;
            if (sscanf(layer + n, ".%d%n", &b, &n2) == 1 && !layer[n + n2] && b >= 0 &&
                b < r->layer_len[a - 1] && layer[n + 1] >= '0' && layer[n + 1] <= '9')
                return 2 + first + b;
        }
        return xc_errorf("%s has no layer '%s' to explain (relu, maxpool, layer1..layer4, "
                         "layerL.B for a block)", m->arch, layer);
    }
    if (m->family == NN_DENSENET) {
        if (!strcmp(layer, "features.relu0")) return 0;
        if (!strcmp(layer, "features.pool0")) return 1;
        if (!strcmp(layer, "features.norm5") || !strcmp(layer, "features")) return NN_TAP_NORM5;
        if (sscanf(layer, "features.denseblock%d%n", &a, &n) == 1 && !layer[n] && a >= 1 && a <= 4)
            return 2 + 2 * (a - 1);
        if (sscanf(layer, "features.transition%d%n", &a, &n) == 1 && !layer[n] && a >= 1 && a <= 3)
            return 3 + 2 * (a - 1);
        return xc_errorf("%s has no layer '%s' to explain (features.relu0, features.pool0, "
                         "features.denseblock1..4, features.transition1..3, features.norm5)",
                         m->arch, layer);
    }
    return xc_errorf("%s: no layer to explain in this model", m->arch);
}

int xc_model_layer_check(const xc_model *m, const char *layer) {
    return tap_resolve(m, layer) < 0 ? -1 : 0;
}

xt_tensor *nn_tap(xc_model *m, int id, xt_tensor *y) {
    if (m->tap != id) return y;
    xt_tensor *leaf = xt_detach(y);
    if (!leaf || xt_set_requires_grad(leaf, 1) < 0) return NULL;
    xt_grad_enabled_set(1);
    m->tap_out = leaf;
    return leaf;
}

xt_tensor *xc_model_forward_tap(xc_model *m, const xt_tensor *x, const char *layer, xt_tensor **act) {
    if (act) *act = NULL;
    if (!m || !act) {
        xc_errorf("xc_model_forward_tap: NULL %s", m ? "act" : "model");
        return NULL;
    }
    if (!layer) layer = xc_model_cam_layer_default(m);
    int id = tap_resolve(m, layer);
    if (id < 0) return NULL;
    xt_arena *cur = xt_arena_push(NULL);
    xt_arena_push(cur);
    if (!cur) { /* the kept layer output must outlive the forward's own scope */
        xc_errorf("xc_model_forward_tap: no arena is current");
        return NULL;
    }
    int prev = xt_grad_enabled_set(0);
    m->tap = id;
    m->tap_out = NULL;
    xt_tensor *y = xc_model_forward(m, x);
    xt_grad_enabled_set(prev);
    m->tap = NN_TAP_NONE;
    if (y && !m->tap_out) {
        xc_errorf("%s forward: layer '%s' was not reached", m->arch, layer);
        y = NULL;
    }
    if (y) *act = m->tap_out;
    m->tap_out = NULL;
    return y;
}

static void drop_params_cache(xc_model *m) {
    free(m->params);
    m->params = NULL;
    m->nparams = 0;
}

int xc_model_freeze_backbone(xc_model *m, int on) {
    drop_params_cache(m);
    for (int i = 0; i < m->n; i++) {
        xc_model_entry *e = &m->entries[i];
        if (!e->is_param || e->is_head) continue;
        if (xt_set_requires_grad(e->tensor, !on) < 0) return xc_errorf("freezing '%s': %s", e->name, xc_error());
        if (on && xt_zero_grad(e->tensor) < 0) return -1;
    }
    m->frozen = on != 0;
    return 0;
}


int xc_model_set_channels_last(xc_model *m, int on) {
    drop_params_cache(m);
    xt_arena *prev = xt_arena_push(NULL);
    int grad = xt_grad_enabled_set(0);
    int rc = 0;
    for (int i = 0; i < m->n && rc == 0; i++) {
        xc_model_entry *e = &m->entries[i];
        if (xt_ndim(e->tensor) != 4) continue;
        /* A fresh leaf in the wanted layout: the conversion under no_grad, then a clone so the
         * new handle never aliases the old tensor's autograd metadata. */
        xt_tensor *conv = on ? xt_channels_last(e->tensor) : xt_contiguous(e->tensor);
        xt_tensor *fresh = conv ? xt_clone(conv) : NULL;
        xt_free(conv);
        if (!fresh || (e->is_param && xt_set_requires_grad(fresh, xt_requires_grad(e->tensor)) < 0)) {
            xt_free(fresh);
            rc = xc_errorf("channels_last '%s': %s", e->name, xc_error());
            break;
        }
        xt_free(e->tensor);
        e->tensor = fresh;
    }
    xt_grad_enabled_set(grad);
    xt_arena_push(prev);
    if (rc == 0) m->channels_last = on != 0;
    /* The folded weights follow the layout. */
    if (rc == 0 && m->fold_w) rc = xc_model_fold_bn(m, 1);
    return rc;
}

int xc_model_is_channels_last(const xc_model *m) { return m->channels_last; }

int xc_model_replace_head(xc_model *m, int num_classes) {
    if (num_classes < 1) return xc_errorf("%s: num_classes must be >= 1, got %d", m->arch, num_classes);
    drop_params_cache(m);
    int64_t wshape[2] = {num_classes, m->head_in}, bshape[1] = {num_classes};
    xt_arena *prev = xt_arena_push(NULL);
    xt_tensor *w = xt_empty(2, wshape, XT_F32, m->dev);
    xt_tensor *b = xt_empty(1, bshape, XT_F32, m->dev);
    xt_arena_push(prev);
    if (!w || !b || xt_set_requires_grad(w, 1) < 0 || xt_set_requires_grad(b, 1) < 0) {
        xt_free(w);
        xt_free(b);
        return xc_errorf("%s: new head: %s", m->arch, xc_error());
    }
    xt_free(m->entries[m->head_w].tensor);
    xt_free(m->entries[m->head_b].tensor);
    m->entries[m->head_w].tensor = w;
    m->entries[m->head_b].tensor = b;
    m->num_classes = num_classes;
    return nn_head_init(m);
}

/* ---- parameters and buffers -------------------------------------------------------------- */

int xc_model_state_count(const xc_model *m) { return m->n; }

const xc_model_entry *xc_model_state_at(const xc_model *m, int i) {
    if (i < 0 || i >= m->n) {
        xc_errorf("%s: state index %d out of range [0, %d)", m->arch, i, m->n);
        return NULL;
    }
    return &m->entries[i];
}

static int find_index(const xc_model *m, const char *name) {
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->entries[i].name, name)) return i;
    return -1;
}

xt_tensor *xc_model_find(const xc_model *m, const char *name) {
    int i = find_index(m, name);
    if (i < 0) {
        xc_errorf("%s has no tensor '%s'", m->arch, name);
        return NULL;
    }
    return m->entries[i].tensor;
}

int xc_model_params(xc_model *m, xt_tensor *const **tensors, int *n) {
    if (!m->params) {
        m->params = malloc((size_t)(m->n ? m->n : 1) * sizeof *m->params);
        if (!m->params) return xc_errorf("%s: out of memory", m->arch);
        m->nparams = 0;
        for (int i = 0; i < m->n; i++) {
            const xc_model_entry *e = &m->entries[i];
            if (e->is_param && (!m->frozen || e->is_head)) m->params[m->nparams++] = e->tensor;
        }
    }
    *tensors = m->params;
    *n = m->nparams;
    return 0;
}

int64_t xc_model_param_numel(const xc_model *m) {
    int64_t total = 0;
    for (int i = 0; i < m->n; i++)
        if (m->entries[i].is_param) total += xt_numel(m->entries[i].tensor);
    return total;
}

/* ---- loading ----------------------------------------------------------------------------- */

void xc_load_report_free(xc_load_report *r) {
    if (!r) return;
    for (int i = 0; i < r->n_unused; i++) free(r->unused[i]);
    free(r->unused);
    memset(r, 0, sizeof *r);
}

static int is_float_dtype(xc_dtype dt) {
    return dt == XC_F16 || dt == XC_BF16 || dt == XC_F32 || dt == XC_F64;
}
static int is_int_dtype(xc_dtype dt) {
    return dt == XC_U8 || dt == XC_I8 || dt == XC_I16 || dt == XC_I32 || dt == XC_I64;
}

/* The largest magnitude a weight, bias or batch-norm statistic may have. Trained networks stay
 * far below it (torchvision's and CheXNet's largest is under 10^4); a value beyond it, or a NaN
 * or infinity, makes every output NaN or saturated, so the file is refused on load rather than
 * scored with "Normal, nan" and exit status 0. */
#define NN_MAX_WEIGHT 1e6

/* 0 when every value of float tensor s is finite and within ±NN_MAX_WEIGHT (running_var also
 * >= 0); else -1 naming the tensor, the first bad element and its value. */
static int check_values(const xc_st_tensor *s, const char *what, const char *arch) {
    int64_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= s->shape[d];
    int var = strstr(s->name, "running_var") != NULL;
    const unsigned char *p = s->data;
    for (int64_t i = 0; i < n; i++) {
        double v;
        if (s->dtype == XC_F64) {
            memcpy(&v, p + (size_t)i * 8, 8);
        } else if (s->dtype == XC_F32) {
            float f;
            memcpy(&f, p + (size_t)i * 4, 4);
            v = f;
        } else {
            uint16_t h;
            memcpy(&h, p + (size_t)i * 2, 2);
            if (s->dtype == XC_BF16) {
                uint32_t u = (uint32_t)h << 16;
                float f;
                memcpy(&f, &u, 4);
                v = f;
            } else {
                int e = (h >> 10) & 0x1f;
                v = e == 0x1f ? ((h & 0x3ff) ? NAN : INFINITY) : ldexp((double)((h & 0x3ff) | (e ? 0x400 : 0)), (e ? e : 1) - 25);
                if (h & 0x8000) v = -v;
            }
        }
        if (!isfinite(v) || fabs(v) > NN_MAX_WEIGHT || (var && v < 0))
            return xc_errorf("loading '%s' into %s: tensor '%s' holds %g at element %lld (%s): not a trained "
                             "network's weights (is the file damaged?)", what, arch, s->name, v, (long long)i,
                             !isfinite(v) ? "not a finite number" : var && v < 0 ? "a negative variance"
                                                                                 : "beyond ±1e6");
    }
    return 0;
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = 0;
    len += (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, ")");
}

/* Copies one host tensor into entry e (converting dtype, moving to the device). */
static int copy_in(xc_model *m, xc_model_entry *e, const xc_st_tensor *s) {
    /* Host data may be unaligned (inside a file map); a malloc'd copy is aligned. */
    void *buf = malloc(s->nbytes ? s->nbytes : 1);
    if (!buf) return xc_errorf("%s: out of memory", m->arch);
    memcpy(buf, s->data, s->nbytes);
    xt_tensor *h = xt_from_host(buf, s->ndim, s->shape, (xt_dtype)s->dtype);
    free(buf);
    if (!h) return -1;
    xt_dtype want = xt_dtype_of(e->tensor);
    xt_tensor *c = (xt_dtype)s->dtype == want ? h : xt_to_dtype(h, want);
    int rc = c ? xt_copy_(e->tensor, c) : -1;
    if (c != h) xt_free(c);
    xt_free(h);
    return rc;
}

int xc_model_load_named(xc_model *m, const xc_st_tensor *tensors, int n, const char *what,
                        xc_load_report *rep) {
    xc_load_report r = {0};
    int *src_of = malloc((size_t)(m->n ? m->n : 1) * sizeof *src_of);
    int *used = calloc((size_t)(n > 0 ? n : 1), sizeof *used);
    int rc = -1;
    if (!src_of || !used) {
        xc_errorf("loading '%s': out of memory", what);
        goto done;
    }
    for (int i = 0; i < m->n; i++) src_of[i] = -1;

    /* Match source names to entries. */
    for (int j = 0; j < n; j++) {
        char alt[512];
        const char *name = tensors[j].name;
        int i = find_index(m, name);
        /* Old DenseNet names ("denselayer1.norm.1.weight"), "module." and wrapper prefixes:
         * torchvision's spelling by the one rule of xraycls/weights.h. */
        if (i < 0 && xc_weights_normalize_name(name, alt, sizeof alt) > 0 && strcmp(alt, name))
            i = find_index(m, alt);
        if (i < 0) continue;
        if (src_of[i] >= 0) {
            xc_errorf("loading '%s': tensor '%s' given twice (as '%s' and '%s')", what,
                      m->entries[i].name, tensors[src_of[i]].name, name);
            goto done;
        }
        src_of[i] = j;
        used[j] = 1;
    }

    /* Check every entry before touching the model. */
    int head_mismatch = 0;
    for (int i = 0; i < m->n; i++) {
        const xc_model_entry *e = &m->entries[i];
        int is_nbt = strstr(e->name, "num_batches_tracked") != NULL;
        if (src_of[i] < 0) {
            if (is_nbt) {
                r.nbt_defaulted++;
                continue;
            }
            xc_errorf("loading '%s' into %s: missing tensor '%s'", what, m->arch, e->name);
            goto done;
        }
        const xc_st_tensor *s = &tensors[src_of[i]];
        int64_t shape[8];
        int nd = xt_shape(e->tensor, shape, 8);
        int same = nd == s->ndim;
        for (int d = 0; same && d < nd; d++) same = shape[d] == s->shape[d];
        if (e->is_head && i == m->head_w && s->ndim >= 1) r.source_head_classes = s->shape[0];
        if (!same) {
            if (e->is_head) {
                head_mismatch = 1;
                continue;
            }
            char want[128], got[128];
            shape_str(want, sizeof want, nd, shape);
            shape_str(got, sizeof got, s->ndim, s->shape);
            xc_errorf("loading '%s' into %s: tensor '%s' has shape %s, expected %s", what,
                      m->arch, s->name, got, want);
            goto done;
        }
        if (is_nbt ? !is_int_dtype(s->dtype) : !is_float_dtype(s->dtype)) {
            xc_errorf("loading '%s' into %s: tensor '%s' has dtype %s, expected %s", what,
                      m->arch, s->name, xc_dtype_st_name(s->dtype), is_nbt ? "an integer type" : "a float type");
            goto done;
        }
        if (!is_nbt && check_values(s, what, m->arch) < 0) goto done;
    }

    /* Copy. */
    xt_arena *prev = xt_arena_push(NULL);
    int grad = xt_grad_enabled_set(0);
    int crc = 0;
    for (int i = 0; i < m->n && crc == 0; i++) {
        xc_model_entry *e = &m->entries[i];
        if (e->is_head && head_mismatch) continue;
        if (src_of[i] < 0) {
            crc = xt_fill_(e->tensor, 0); /* a num_batches_tracked the source lacks */
            continue;
        }
        crc = copy_in(m, e, &tensors[src_of[i]]);
        if (crc == 0) r.loaded++;
        else xc_errorf("loading '%s': tensor '%s': %s", what, tensors[src_of[i]].name, xc_error());
    }
    xt_grad_enabled_set(grad);
    xt_arena_push(prev);
    if (crc < 0) goto done;
    if (head_mismatch) {
        if (nn_head_init(m) < 0) goto done;
        r.head_reinit = 1;
    }
    /* New weights: a folded form is made again from them. */
    if (m->fold_w && xc_model_fold_bn(m, 1) < 0) goto done;

    /* Unused source names. */
    for (int j = 0; j < n; j++) {
        if (used[j]) continue;
        char **u = realloc(r.unused, (size_t)(r.n_unused + 1) * sizeof *u);
        if (!u) {
            xc_errorf("loading '%s': out of memory", what);
            goto done;
        }
        r.unused = u;
        if (!(r.unused[r.n_unused] = strdup(tensors[j].name))) {
            xc_errorf("loading '%s': out of memory", what);
            goto done;
        }
        r.n_unused++;
    }
    rc = 0;

done:
    free(src_of);
    free(used);
    if (rc == 0 && rep) *rep = r;
    else xc_load_report_free(&r);
    return rc;
}

int xc_model_load_file(xc_model *m, const char *path, xc_load_report *rep) {
    xc_st_file *f = xc_st_open(path);
    if (!f) return -1;
    int n = xc_st_count(f);
    xc_st_tensor *ts = malloc((size_t)(n ? n : 1) * sizeof *ts);
    if (!ts) {
        xc_st_close(f);
        return xc_errorf("loading '%s': out of memory", path);
    }
    for (int i = 0; i < n; i++) ts[i] = *xc_st_at(f, i);
    int rc = xc_model_load_named(m, ts, n, path, rep);
    free(ts);
    xc_st_close(f);
    return rc;
}
