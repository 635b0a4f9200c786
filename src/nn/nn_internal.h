/* nn_internal.h — what the files of src/nn/ share: the xc_model struct, the registration of
 * named parameters/buffers, and the building blocks of each family (a ResNet BasicBlock or
 * Bottleneck, a DenseNet layer and transition) with their forward functions. Not a public
 * header: src/nn/ and the block tests in tests/nn/ include it.
 *
 * Blocks refer to their tensors by index into the model's entries (the array may grow while a
 * network is built), and register them under torchvision's names with a prefix
 * ("layer1.0." inside a ResNet, "" for a block built on its own for a test). */
#ifndef XRAYCLS_NN_INTERNAL_H
#define XRAYCLS_NN_INTERNAL_H

#include "xraycls/nn.h"

enum nn_family { NN_NONE = 0, NN_RESNET, NN_DENSENET };

/* A BatchNorm2d's entries: weight, bias (parameters), running_mean, running_var,
 * num_batches_tracked (buffers). */
typedef struct {
    int w, b, rm, rv, nbt;
} nn_bn;

/* A ResNet BasicBlock (bottleneck 0) or Bottleneck (v1.5: the stride sits on the 3×3 conv). */
typedef struct {
    int bottleneck, stride;
    int conv1, conv2, conv3; /* conv3 = -1 in a BasicBlock */
    nn_bn bn1, bn2, bn3;
    int down_conv; /* -1 when the block has no downsample */
    nn_bn down_bn;
} nn_res_block;

typedef struct {
    int conv1;
    nn_bn bn1;
    nn_res_block *blocks;
    int nblocks;
    int layer_len[4]; /* blocks in layer1..layer4 */
} nn_resnet;

/* torchvision's _DenseLayer (bn_size × growth bottleneck, drop_rate 0). */
typedef struct {
    nn_bn norm1;
    int conv1;
    nn_bn norm2;
    int conv2;
} nn_dense_layer;

/* torchvision's _Transition: norm, relu, 1×1 conv, 2×2 average pooling. */
typedef struct {
    nn_bn norm;
    int conv;
} nn_transition;

typedef struct {
    int conv0;
    nn_bn norm0;
    nn_dense_layer *layers;
    int block_len[4];
    nn_transition trans[3];
    nn_bn norm5;
} nn_densenet;

struct xc_model {
    char arch[32];
    enum nn_family family;
    int num_classes;
    xt_device dev;
    int training, frozen, channels_last;
    int sync_bn;          /* 1: training-mode batch norm over every rank (sync) */
    xt_dist *sync;        /* borrowed; NULL: one process */

    xc_model_entry *entries; /* names malloc'd; tensors kept handles */
    int n, cap;

    int head_w, head_b;   /* entry indices of the head, -1 before it exists */
    int64_t head_in;      /* input features of the head */

    xt_tensor **params;   /* xc_model_params' array */
    int nparams;

    xt_tensor *one;       /* int64 scalar 1 on dev: the num_batches_tracked increment */

    /* A tapped forward (xc_model_forward_tap): the point whose output is wanted (NN_TAP_NONE
     * in a plain forward) and, once passed, that output (a leaf requiring grad). */
    int tap;
    xt_tensor *tap_out;

    nn_resnet resnet;
    nn_densenet densenet;

    /* The inference form (fold.c, xc_model_fold_bn): per entry index of a convolution whose
     * batch norm folds, the folded weight and bias (kept handles); NULL arrays when not folded. */
    xt_tensor **fold_w, **fold_b;
    int fold_n;
};

/* An empty model on dev (no entries, no head), labelled `arch` — the base of every network
 * and of the block tests. NULL on failure. */
xc_model *nn_model_alloc(const char *arch, xt_device dev);

/* Registers a kept tensor (ownership passes to the model, also on failure) under
 * prefix+name; returns its entry index or -1. */
int nn_add(xc_model *m, const char *prefix, const char *name, xt_tensor *t, int is_param);

/* Creation of initialised entries; every one returns the entry index or -1. Must run with no
 * arena current (nn_model_alloc's callers arrange this) so the tensors are caller-owned.
 * mode_fan_out 1: kaiming_normal_(mode="fan_out", relu) as ResNet; 0: fan_in as DenseNet. */
int nn_conv(xc_model *m, const char *prefix, const char *name, int64_t cout, int64_t cin, int k,
            int mode_fan_out);
int nn_batchnorm(xc_model *m, const char *prefix, const char *name, int64_t c, nn_bn *out);
/* The classification head `name`.weight / .bias, initialised by nn_head_init. Sets
 * m->head_w/head_b, head_in and num_classes. */
int nn_linear_head(xc_model *m, const char *name, int64_t out, int64_t in);
/* Re-initialises the head's tensors in place (keeping their handles): torch.nn.Linear's default
 * init, with the bias zeroed for DenseNet as its init loop does. */
int nn_head_init(xc_model *m);

/* Runs op results into the caller's current arena, or — when none is current — into a
 * temporary one whose only survivor is the result, handed to the caller (xt_free):
 *   nn_scope sc; nn_scope_begin(&sc); … y = ops …; return nn_scope_end(&sc, y); */
typedef struct {
    xt_arena *cur, *tmp;
} nn_scope;
void nn_scope_begin(nn_scope *sc);
xt_tensor *nn_scope_end(nn_scope *sc, xt_tensor *y);

/* Inference keeps only the live set: with gradients off, nn_live_keep(&l, keep, n) releases
 * every tensor the ops put into the current arena since nn_live_begin except the n kept ones
 * (xt_arena_release), and may be called again with the same mark (a rolling scope: each stage
 * of a network keeps its output and frees the previous one). With gradients on (training, or
 * once a Grad-CAM tap has switched them on) it does nothing: autograd holds what it needs and
 * training runs exactly as without it. Returns keep[0]. */
typedef struct {
    xt_arena *arena; /* NULL: nothing is released */
    size_t mark;
} nn_live;
void nn_live_begin(nn_live *l);
xt_tensor *nn_live_keep(const nn_live *l, xt_tensor *const *keep, int n);
static inline xt_tensor *nn_live_keep1(const nn_live *l, xt_tensor *y) { return nn_live_keep(l, &y, 1); }

/* The tensor of entry i (no checks). */
static inline xt_tensor *nn_t(const xc_model *m, int i) { return m->entries[i].tensor; }

/* Tap points, numbered in forward order (a layer name resolves to one in model.c).
 *   ResNet:   0 relu (stem), 1 maxpool, 2 + i the output of block i (layerL.B)
 *   DenseNet: 0 features.relu0, 1 features.pool0, 2 + 2b features.denseblock<b+1>,
 *             3 + 2b features.transition<b+1> (b < 3), 9 features.norm5 */
#define NN_TAP_NONE (-1)
#define NN_TAP_NORM5 9
/* Where the forward passes tap point `id`: in a tapped forward, the output y of that point is
 * replaced by a detached copy that requires grad, and gradient recording is switched on from
 * there (it was off before it): the backward of a score then stops at the tap. Returns y or
 * the copy (NULL on failure). */
xt_tensor *nn_tap(xc_model *m, int id, xt_tensor *y);

/* Convolution `conv` (no bias, square kernel) followed by batch norm `bn`: in eval mode with the
 * model folded, one convolution with the folded weight and bias; else conv then nn_bn_forward. */
xt_tensor *nn_conv_bn(xc_model *m, const xt_tensor *x, int conv, const nn_bn *bn, int stride, int padding);
/* Frees the folded weights (back to the plain form). */
void nn_fold_drop(xc_model *m);

/* BatchNorm in the model's mode (and the num_batches_tracked increment in training). */
xt_tensor *nn_bn_forward(xc_model *m, const nn_bn *bn, const xt_tensor *x);

/* ---- ResNet ------------------------------------------------------------------------------ */

int nn_res_block_add(xc_model *m, const char *prefix, int bottleneck, int64_t inplanes,
                     int64_t planes, int stride, nn_res_block *out);
/* x: (N, inplanes, H, W) → (N, planes × expansion, H/stride, W/stride) */
xt_tensor *nn_res_block_forward(xc_model *m, const nn_res_block *b, const xt_tensor *x);
/* Builds the network of arch (resnet18…152) into an empty model with its fc head. */
int nn_resnet_build(xc_model *m, int depth, int num_classes);
/* x: (N, 3, H, W) → logits (N, classes) */
xt_tensor *nn_resnet_forward(xc_model *m, const xt_tensor *x);
void nn_resnet_release(xc_model *m);

/* ---- DenseNet ---------------------------------------------------------------------------- */

int nn_dense_layer_add(xc_model *m, const char *prefix, int64_t in_features, int64_t growth,
                       int64_t bn_size, nn_dense_layer *out);
/* feats: n tensors (N, C_i, H, W), concatenated (ΣC_i = in_features) → (N, growth, H, W) */
xt_tensor *nn_dense_layer_forward(xc_model *m, const nn_dense_layer *l, xt_tensor *const *feats,
                                  int n);
int nn_transition_add(xc_model *m, const char *prefix, int64_t in_features, int64_t out_features,
                      nn_transition *out);
/* x: (N, in, H, W) → (N, out, H/2, W/2) */
xt_tensor *nn_transition_forward(xc_model *m, const nn_transition *t, const xt_tensor *x);
int nn_densenet_build(xc_model *m, int depth, int num_classes);
xt_tensor *nn_densenet_forward(xc_model *m, const xt_tensor *x);
void nn_densenet_release(xc_model *m);

#endif
