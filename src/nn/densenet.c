/* densenet.c — torchvision 0.14's DenseNet (121/161/169/201) in C over the shim: dense layer
 * (BN-ReLU-1×1 conv-BN-ReLU-3×3 conv on the concatenation of every earlier feature map) →
 * dense block → transition (BN-ReLU-1×1 conv-2×2 average pool) → features.norm5 → ReLU →
 * adaptive average pooling → classifier. bn_size 4, drop_rate 0, as torchvision's defaults.
 *
 * Names follow torchvision's state_dict: features.conv0, features.norm0,
 * features.denseblockB.denselayerL.{norm1,conv1,norm2,conv2}, features.transitionB.{norm,conv},
 * features.norm5, classifier. Convs have no bias; init is kaiming_normal_ (fan_in). */
#include <stdio.h>
#include <stdlib.h>

#include "nn_internal.h"

#define BN_SIZE 4

int nn_dense_layer_add(xc_model *m, const char *prefix, int64_t in_features, int64_t growth,
                       int64_t bn_size, nn_dense_layer *l) {
    int64_t mid = bn_size * growth;
    if (nn_batchnorm(m, prefix, "norm1", in_features, &l->norm1) < 0) return -1;
    if ((l->conv1 = nn_conv(m, prefix, "conv1.weight", mid, in_features, 1, 0)) < 0) return -1;
    if (nn_batchnorm(m, prefix, "norm2", mid, &l->norm2) < 0) return -1;
    if ((l->conv2 = nn_conv(m, prefix, "conv2.weight", growth, mid, 3, 0)) < 0) return -1;
    return 0;
}

/* BN → ReLU (in place) → conv */
static xt_tensor *bn_relu_conv(xc_model *m, const xt_tensor *x, const nn_bn *bn, int conv,
                               int padding) {
    xt_tensor *y = nn_bn_forward(m, bn, x);
    if (y) y = xt_relu_(y);
    if (y) y = xt_conv2d(y, nn_t(m, conv), NULL, 1, padding, 1, 1);
    return y;
}

xt_tensor *nn_dense_layer_forward(xc_model *m, const nn_dense_layer *l, xt_tensor *const *feats,
                                  int n) {
    // feats[i]: (N, C_i, H, W) float32 → concatenated (N, ΣC_i, H, W)
    /* Inference: the concatenation and the bottleneck are freed once the output exists. */
    nn_live live;
    nn_live_begin(&live);
    const xt_tensor *x = n == 1 ? feats[0] : xt_cat(feats, n, 1);
    if (!x) return NULL;
    xt_tensor *y = nn_bn_forward(m, &l->norm1, x);
    if (y) y = xt_relu_(y);
    /* conv1 → norm2: one convolution when the model is folded (fold.c) */
    if (y) y = nn_conv_bn(m, y, l->conv1, &l->norm2, 1, 0);
    // y: (N, bn_size × growth, H, W)
    if (y) y = xt_relu_(y);
    if (y) y = xt_conv2d(y, nn_t(m, l->conv2), NULL, 1, 1, 1, 1);
    // y: (N, growth, H, W)
    return nn_live_keep1(&live, y);
}

int nn_transition_add(xc_model *m, const char *prefix, int64_t in_features, int64_t out_features,
                      nn_transition *t) {
    if (nn_batchnorm(m, prefix, "norm", in_features, &t->norm) < 0) return -1;
    t->conv = nn_conv(m, prefix, "conv.weight", out_features, in_features, 1, 0);
    return t->conv < 0 ? -1 : 0;
}

xt_tensor *nn_transition_forward(xc_model *m, const nn_transition *t, const xt_tensor *x) {
    // x: (N, in, H, W) → (N, out, H / 2, W / 2)
    nn_live live;
    nn_live_begin(&live);
    xt_tensor *y = bn_relu_conv(m, x, &t->norm, t->conv, 0);
    return y ? nn_live_keep1(&live, xt_avg_pool2d(y, 2, 2, 0)) : NULL;
}

int nn_densenet_build(xc_model *m, int depth, int num_classes) {
    static const struct {
        int depth, growth, init, blocks[4];
    } cfgs[] = {
        {121, 32, 64, {6, 12, 24, 16}},
        {161, 48, 96, {6, 12, 36, 24}},
        {169, 32, 64, {6, 12, 32, 32}},
        {201, 32, 64, {6, 12, 48, 32}},
    };
    int c = -1;
    for (int i = 0; i < (int)(sizeof cfgs / sizeof cfgs[0]); i++)
        if (cfgs[i].depth == depth) c = i;
    if (c < 0) return xc_errorf("no DenseNet of depth %d", depth);
    nn_densenet *d = &m->densenet;
    m->family = NN_DENSENET;
    int total = 0;
    for (int b = 0; b < 4; b++) total += d->block_len[b] = cfgs[c].blocks[b];
    d->layers = calloc((size_t)total, sizeof *d->layers);
    if (!d->layers) return xc_errorf("out of memory");

    int64_t features = cfgs[c].init, growth = cfgs[c].growth;
    if ((d->conv0 = nn_conv(m, "features.", "conv0.weight", features, 3, 7, 0)) < 0) return -1;
    if (nn_batchnorm(m, "features.", "norm0", features, &d->norm0) < 0) return -1;
    int k = 0;
    for (int b = 0; b < 4; b++) {
        for (int i = 0; i < d->block_len[b]; i++) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "features.denseblock%d.denselayer%d.", b + 1, i + 1);
            if (nn_dense_layer_add(m, prefix, features + i * growth, growth, BN_SIZE, &d->layers[k++]) < 0)
                return -1;
        }
        features += d->block_len[b] * growth;
        if (b < 3) {
            char prefix[64];
            snprintf(prefix, sizeof prefix, "features.transition%d.", b + 1);
            if (nn_transition_add(m, prefix, features, features / 2, &d->trans[b]) < 0) return -1;
            features /= 2;
        }
    }
    if (nn_batchnorm(m, "features.", "norm5", features, &d->norm5) < 0) return -1;
    return nn_linear_head(m, "classifier", num_classes, features);
}

xt_tensor *nn_densenet_forward(xc_model *m, const xt_tensor *x) {
    // x: (N, 3, H, W) float32
    const nn_densenet *d = &m->densenet;
    /* Inference: a rolling scope, each stage (stem, dense block with its transition) keeps its
     * output and frees the rest, the previous stage's output included. */
    nn_live live;
    nn_live_begin(&live);
    xt_tensor *y = nn_conv_bn(m, x, d->conv0, &d->norm0, 2, 3);
    if (y) y = xt_relu_(y);
    if (y) y = nn_tap(m, 0, y);
    if (y) y = nn_live_keep1(&live, xt_max_pool2d(y, 3, 2, 1));
    if (y) y = nn_tap(m, 1, y);
    xt_tensor *feats[64];
    int k = 0;
    for (int b = 0; y && b < 4; b++) {
        int n = 0;
        feats[n++] = y;
        for (int i = 0; i < d->block_len[b] && y; i++) {
            y = nn_dense_layer_forward(m, &d->layers[k++], feats, n);
            if (y) feats[n++] = y;
        }
        if (y) y = xt_cat(feats, n, 1);
        // y: (N, features after block b, H', W')
        if (y) y = nn_tap(m, 2 + 2 * b, y);
        if (y && b < 3) y = nn_transition_forward(m, &d->trans[b], y);
        if (y) y = nn_live_keep1(&live, y); /* feats[] are released here */
        if (y && b < 3) y = nn_tap(m, 3 + 2 * b, y);
    }
    if (y) y = nn_bn_forward(m, &d->norm5, y);
    if (y) y = nn_tap(m, NN_TAP_NORM5, y);
    /* Not in place when norm5 is tapped: the tap is a leaf that autograd must keep intact. */
    if (y) y = m->tap == NN_TAP_NORM5 ? xt_relu(y) : xt_relu_(y);
    if (y) y = xt_adaptive_avg_pool2d(y, 1, 1);
    if (y) y = xt_flatten(y, 1, -1);
    if (y) y = xt_linear(y, nn_t(m, m->head_w), nn_t(m, m->head_b));
    // y: (N, num_classes)
    return y;
}

void nn_densenet_release(xc_model *m) {
    free(m->densenet.layers);
    m->densenet.layers = NULL;
}
