/* resnet.c — torchvision 0.14's ResNet (18/34/50/101/152) in C over the shim: BasicBlock and
 * Bottleneck (v1.5, stride on the 3×3 conv) → layer1..4 → adaptive average pooling → fc.
 *
 * Names follow torchvision's state_dict: conv1, bn1, layerL.B.{conv1,bn1,conv2,bn2,conv3,bn3,
 * downsample.0,downsample.1}, fc. Convs have no bias; init is kaiming_normal_(fan_out, relu). */
#include <stdio.h>
#include <stdlib.h>

#include "nn_internal.h"

int nn_res_block_add(xc_model *m, const char *prefix, int bottleneck, int64_t inplanes,
                     int64_t planes, int stride, nn_res_block *b) {
    int64_t expansion = bottleneck ? 4 : 1, width = planes;
    b->bottleneck = bottleneck;
    b->stride = stride;
    b->conv3 = b->down_conv = -1;
    if (bottleneck) {
        if ((b->conv1 = nn_conv(m, prefix, "conv1.weight", width, inplanes, 1, 1)) < 0) return -1;
        if (nn_batchnorm(m, prefix, "bn1", width, &b->bn1) < 0) return -1;
        if ((b->conv2 = nn_conv(m, prefix, "conv2.weight", width, width, 3, 1)) < 0) return -1;
        if (nn_batchnorm(m, prefix, "bn2", width, &b->bn2) < 0) return -1;
        if ((b->conv3 = nn_conv(m, prefix, "conv3.weight", planes * 4, width, 1, 1)) < 0) return -1;
        if (nn_batchnorm(m, prefix, "bn3", planes * 4, &b->bn3) < 0) return -1;
    } else {
        if ((b->conv1 = nn_conv(m, prefix, "conv1.weight", planes, inplanes, 3, 1)) < 0) return -1;
        if (nn_batchnorm(m, prefix, "bn1", planes, &b->bn1) < 0) return -1;
        if ((b->conv2 = nn_conv(m, prefix, "conv2.weight", planes, planes, 3, 1)) < 0) return -1;
        if (nn_batchnorm(m, prefix, "bn2", planes, &b->bn2) < 0) return -1;
    }
    if (stride != 1 || inplanes != planes * expansion) {
        b->down_conv = nn_conv(m, prefix, "downsample.0.weight", planes * expansion, inplanes, 1, 1);
        if (b->down_conv < 0) return -1;
        if (nn_batchnorm(m, prefix, "downsample.1", planes * expansion, &b->down_bn) < 0) return -1;
    }
    return 0;
}

/* conv → BN (folded into the conv when the model is, fold.c) (→ ReLU in place); in inference only the result stays in the arena. */
static xt_tensor *conv_bn(xc_model *m, const xt_tensor *x, int conv, const nn_bn *bn, int stride,
                          int padding, int relu) {
    nn_live l;
    nn_live_begin(&l);
    xt_tensor *y = nn_conv_bn(m, x, conv, bn, stride, padding);
    if (y && relu) y = xt_relu_(y);
    return nn_live_keep1(&l, y);
}

xt_tensor *nn_res_block_forward(xc_model *m, const nn_res_block *b, const xt_tensor *x) {
    // x: (N, inplanes, H, W) float32
    /* Inference: each conv's output is freed once the next has consumed it, so the block
     * holds x and at most two of its feature maps at a time. */
    nn_live l;
    nn_live_begin(&l);
    xt_tensor *out;
    if (b->bottleneck) {
        out = conv_bn(m, x, b->conv1, &b->bn1, 1, 0, 1);
        if (out) out = nn_live_keep1(&l, conv_bn(m, out, b->conv2, &b->bn2, b->stride, 1, 1));
        if (out) out = nn_live_keep1(&l, conv_bn(m, out, b->conv3, &b->bn3, 1, 0, 0));
    } else {
        out = conv_bn(m, x, b->conv1, &b->bn1, b->stride, 1, 1);
        if (out) out = nn_live_keep1(&l, conv_bn(m, out, b->conv2, &b->bn2, 1, 1, 0));
    }
    if (!out) return NULL;
    const xt_tensor *identity = x;
    if (b->down_conv >= 0) {
        identity = conv_bn(m, x, b->down_conv, &b->down_bn, b->stride, 0, 0);
        if (!identity) return NULL;
    }
    /* out += identity, in place as torchvision's `out += identity`: no new map, and autograd
     * allows it (batch norm saves its input, not its output; the add saves nothing). */
    out = xt_add_inplace(out, identity);
    if (out) out = xt_relu_(out);
    // out: (N, planes × expansion, H / stride, W / stride)
    return out ? nn_live_keep1(&l, out) : NULL;
}

int nn_resnet_build(xc_model *m, int depth, int num_classes) {
    static const struct {
        int depth, bottleneck, blocks[4];
    } cfgs[] = {
        {18, 0, {2, 2, 2, 2}},  {34, 0, {3, 4, 6, 3}},  {50, 1, {3, 4, 6, 3}},
        {101, 1, {3, 4, 23, 3}}, {152, 1, {3, 8, 36, 3}},
    };
    int c = -1;
    for (int i = 0; i < (int)(sizeof cfgs / sizeof cfgs[0]); i++)
        if (cfgs[i].depth == depth) c = i;
    if (c < 0) return xc_errorf("no ResNet of depth %d", depth);
    nn_resnet *r = &m->resnet;
    m->family = NN_RESNET;
    int bottleneck = cfgs[c].bottleneck, expansion = bottleneck ? 4 : 1;
    r->nblocks = 0;
    for (int l = 0; l < 4; l++) r->nblocks += r->layer_len[l] = cfgs[c].blocks[l];
    r->blocks = calloc((size_t)r->nblocks, sizeof *r->blocks);
    if (!r->blocks) return xc_errorf("out of memory");

    if ((r->conv1 = nn_conv(m, "", "conv1.weight", 64, 3, 7, 1)) < 0) return -1;
    if (nn_batchnorm(m, "", "bn1", 64, &r->bn1) < 0) return -1;
    int64_t inplanes = 64;
    int k = 0;
    for (int l = 0; l < 4; l++) {
        int64_t planes = 64 << l;
        for (int i = 0; i < cfgs[c].blocks[l]; i++) {
            char prefix[32];
            snprintf(prefix, sizeof prefix, "layer%d.%d.", l + 1, i);
            int stride = (l > 0 && i == 0) ? 2 : 1;
            if (nn_res_block_add(m, prefix, bottleneck, inplanes, planes, stride, &r->blocks[k++]) < 0)
                return -1;
            inplanes = planes * expansion;
        }
    }
    return nn_linear_head(m, "fc", num_classes, 512 * expansion);
}

xt_tensor *nn_resnet_forward(xc_model *m, const xt_tensor *x) {
    // x: (N, 3, H, W) float32
    const nn_resnet *r = &m->resnet;
    /* Inference: a rolling scope, each stage keeps its output and frees its input's. */
    nn_live l;
    nn_live_begin(&l);
    xt_tensor *y = conv_bn(m, x, r->conv1, &r->bn1, 2, 3, 1);
    if (y) y = nn_tap(m, 0, y);
    if (y) y = nn_live_keep1(&l, xt_max_pool2d(y, 3, 2, 1));
    if (y) y = nn_tap(m, 1, y);
    for (int i = 0; y && i < r->nblocks; i++) {
        y = nn_live_keep1(&l, nn_res_block_forward(m, &r->blocks[i], y));
        if (y) y = nn_tap(m, 2 + i, y);
    }
    // y: (N, 512 × expansion, H / 32, W / 32)
    if (y) y = xt_adaptive_avg_pool2d(y, 1, 1);
    if (y) y = xt_flatten(y, 1, -1);
    if (y) y = xt_linear(y, nn_t(m, m->head_w), nn_t(m, m->head_b));
    // y: (N, num_classes)
    return y;
}

void nn_resnet_release(xc_model *m) {
    free(m->resnet.blocks);
    m->resnet.blocks = NULL;
    m->resnet.nblocks = 0;
}
