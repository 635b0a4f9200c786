/* fold.c — batch norm folded into the convolution before it: the inference form of a model
 * (xc_model_fold_bn, used by eval, predict and bench) and the arithmetic the ONNX export shares
 * (xc_bn_fold), so that both fold the same way.
 *
 * In eval mode a BatchNorm2d after a bias-free convolution is an affine map per output
 * channel, y = γ (W∗x − μ) / √(σ² + ε) + β, the same as one convolution with weight
 * W·γ/√(σ²+ε) and bias β − μγ/√(σ²+ε). Folding saves one pass over each feature map (the
 * normalisation reads and writes all of it) and the map itself. The folded pairs: ResNet's
 * every conv with its BN (stem, blocks, downsample); DenseNet's stem (conv0, norm0) and each
 * dense layer's 1×1 conv with norm2. DenseNet's norm1, transition norms and norm5 come before
 * their convolution (on a concatenation) and stay batch norms. Training mode never uses the
 * folded weights, and xc_model_set_training(m, 1) drops them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_internal.h"

int xc_bn_fold(const float *w, int64_t cout, int64_t per, const float *gamma, const float *beta,
               const float *mean, const float *var, double eps, float *w_out, float *b_out) {
    for (int64_t c = 0; c < cout; c++) {
        double v = (double)var[c] + eps;
        if (!(v > 0)) return xc_errorf("batch norm channel %lld: variance + eps is %g, not positive", (long long)c, v);
        /* In double, then rounded once: the folded weights are the exact fold rounded. */
        double s = (double)gamma[c] / sqrt(v);
        for (int64_t j = 0; j < per; j++) w_out[c * per + j] = (float)((double)w[c * per + j] * s);
        b_out[c] = (float)((double)beta[c] - (double)mean[c] * s);
    }
    return 0;
}

/* Calls fn for every (conv, bn) pair of the model that folds. */
static int each_pair(xc_model *m, int (*fn)(xc_model *m, int conv, const nn_bn *bn)) {
    if (m->family == NN_RESNET) {
        const nn_resnet *r = &m->resnet;
        if (fn(m, r->conv1, &r->bn1) < 0) return -1;
        for (int i = 0; i < r->nblocks; i++) {
            const nn_res_block *b = &r->blocks[i];
            if (fn(m, b->conv1, &b->bn1) < 0 || fn(m, b->conv2, &b->bn2) < 0) return -1;
            if (b->conv3 >= 0 && fn(m, b->conv3, &b->bn3) < 0) return -1;
            if (b->down_conv >= 0 && fn(m, b->down_conv, &b->down_bn) < 0) return -1;
        }
        return 0;
    }
    if (m->family == NN_DENSENET) {
        const nn_densenet *d = &m->densenet;
        if (fn(m, d->conv0, &d->norm0) < 0) return -1;
        int total = d->block_len[0] + d->block_len[1] + d->block_len[2] + d->block_len[3];
        for (int i = 0; i < total; i++)
            if (fn(m, d->layers[i].conv1, &d->layers[i].norm2) < 0) return -1;
        return 0;
    }
    return 0;
}

/* A float32 host copy of entry i (NCHW order whatever the layout), or NULL. */
static float *host_f32(const xc_model *m, int i, int64_t *numel) {
    const xt_tensor *t = nn_t(m, i);
    int64_t n = xt_numel(t);
    if (xt_dtype_of(t) != XT_F32) {
        xc_errorf("folding '%s': float32 expected", m->entries[i].name);
        return NULL;
    }
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    if (!p) {
        xc_errorf("folding '%s': out of memory", m->entries[i].name);
        return NULL;
    }
    if (xt_to_host(t, p, (size_t)n * sizeof *p) < 0) {
        free(p);
        return NULL;
    }
    if (numel) *numel = n;
    return p;
}

/* A kept tensor on the model's device (channels_last when the model is) holding data. */
static xt_tensor *to_model(const xc_model *m, const float *data, int ndim, const int64_t *shape) {
    xt_tensor *h = xt_from_host(data, ndim, shape, XT_F32);
    xt_tensor *t = h && m->dev != XT_CPU ? xt_to_device(h, m->dev, 0) : h;
    if (t != h) xt_free(h);
    if (t && ndim == 4 && m->channels_last) {
        xt_tensor *cl = xt_channels_last(t);
        xt_tensor *fresh = cl ? xt_clone(cl) : NULL;
        xt_free(cl);
        xt_free(t);
        t = fresh;
    }
    return t;
}

static int fold_pair(xc_model *m, int conv, const nn_bn *bn) {
    int64_t nw = 0, cout = 0;
    float *w = host_f32(m, conv, &nw), *g = host_f32(m, bn->w, &cout), *b = host_f32(m, bn->b, NULL),
          *mu = host_f32(m, bn->rm, NULL), *var = host_f32(m, bn->rv, NULL);
    float *fw = malloc((size_t)(nw > 0 ? nw : 1) * sizeof *fw), *fb = malloc((size_t)(cout > 0 ? cout : 1) * sizeof *fb);
    int rc = -1;
    if (w && g && b && mu && var && fw && fb && cout > 0) {
        int64_t shape[4];
        xt_shape(nn_t(m, conv), shape, 4);
        if (xc_bn_fold(w, cout, nw / cout, g, b, mu, var, 1e-5, fw, fb) == 0) {
            m->fold_w[conv] = to_model(m, fw, 4, shape);
            m->fold_b[conv] = to_model(m, fb, 1, &cout);
            rc = m->fold_w[conv] && m->fold_b[conv] ? 0 : -1;
        }
    } else if (!fw || !fb) {
        xc_errorf("out of memory");
    }
    if (rc < 0) xc_errorf("folding '%s' into '%s': %s", m->entries[bn->w].name, m->entries[conv].name, xc_error());
    free(w), free(g), free(b), free(mu), free(var), free(fw), free(fb);
    return rc;
}

void nn_fold_drop(xc_model *m) {
    if (!m->fold_w) return;
    for (int i = 0; i < m->fold_n; i++) {
        xt_free(m->fold_w[i]);
        xt_free(m->fold_b[i]);
    }
    free(m->fold_w);
    free(m->fold_b);
    m->fold_w = m->fold_b = NULL;
    m->fold_n = 0;
}

int xc_model_fold_bn(xc_model *m, int on) {
    nn_fold_drop(m);
    if (!on) return 0;
    m->fold_n = m->n;
    m->fold_w = calloc((size_t)m->n, sizeof *m->fold_w);
    m->fold_b = calloc((size_t)m->n, sizeof *m->fold_b);
    if (!m->fold_w || !m->fold_b) {
        nn_fold_drop(m);
        return xc_errorf("%s: out of memory folding batch norm", m->arch);
    }
    /* Kept handles, made outside autograd. */
    xt_arena *prev = xt_arena_push(NULL);
    int grad = xt_grad_enabled_set(0);
    int rc = each_pair(m, fold_pair);
    xt_grad_enabled_set(grad);
    xt_arena_push(prev);
    if (rc < 0) {
        nn_fold_drop(m);
        return xc_errorf("%s: %s", m->arch, xc_error());
    }
    m->training = 0;
    return 0;
}

int xc_model_is_folded(const xc_model *m) { return m->fold_w != NULL; }

xt_tensor *nn_conv_bn(xc_model *m, const xt_tensor *x, int conv, const nn_bn *bn, int stride, int padding) {
    if (m->fold_w && !m->training && m->fold_w[conv])
        return xt_conv2d(x, m->fold_w[conv], m->fold_b[conv], stride, padding, 1, 1);
    xt_tensor *y = xt_conv2d(x, nn_t(m, conv), NULL, stride, padding, 1, 1);
    return y ? nn_bn_forward(m, bn, y) : NULL;
}
