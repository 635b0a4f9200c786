/* xraycls/nn.h — the classifiers: torchvision's ResNet and DenseNet written in C over the shim,
 * and the losses that train them.
 *
 * What it is: a model object (xc_model) that owns every parameter and buffer under torchvision
 * 0.14's exact state_dict names and order ("conv1.weight", "layer1.0.downsample.1.running_mean",
 * "features.denseblock1.denselayer1.norm1.weight", "fc.bias", "*.num_batches_tracked"), built
 * with torchvision's default initialisation; a forward pass to logits; loading from named host
 * tensors or a safetensors file; and cross-entropy, focal and BCE-with-logits losses built from
 * shim ops (so autograd differentiates them). What it is not: the optimizer (xt_adam in shim.h),
 * checkpoints or training loops (xraycls/train.h), or .pth readers (xraycls/weights.h).
 *
 * Architectures: resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, densenet161,
 * densenet169, densenet201. Pooling before the head is adaptive, so any input of at least
 * 32×32 pixels works.
 *
 * Ownership: the model owns its parameters and buffers (kept shim handles, freed by
 * xc_model_free). Tensors returned by xc_model_forward and the losses belong to the calling
 * thread's current arena (xt_arena_push), like any shim op result. Handles returned by the
 * accessors are borrowed: valid until xc_model_free, xc_model_replace_head (head tensors) or
 * xc_model_set_channels_last (4-d tensors), whichever comes first.
 *
 * Failure: NULL / -1 with a message in xc_error() that names the architecture, tensor or file.
 */
#ifndef XRAYCLS_NN_H
#define XRAYCLS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/safetensors.h"
#include "xraycls/dist.h"
#include "xraycls/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_model xc_model;

/* ---- architectures ----------------------------------------------------------------------- */

/* The supported architecture names, in a fixed order; *n receives the count. Static strings. */
const char *const *xc_arch_names(int *n);
/* 0 if `arch` is supported; else -1 with "unknown arch 'resnet49' (known: resnet18, …)". */
int xc_arch_check(const char *arch);

/* ---- building and freeing ---------------------------------------------------------------- */

/* A new model of architecture `arch` with a head of num_classes (>= 1) outputs on `dev`,
 * initialised as torchvision 0.14 does (ResNet convs: kaiming_normal_ fan_out/relu; DenseNet
 * convs: kaiming_normal_ fan_in; BatchNorm weight 1, bias 0; Linear weight kaiming_uniform
 * a=sqrt(5); Linear bias uniform ±1/sqrt(fan_in) for ResNet, 0 for DenseNet) from the global
 * generator (xt_manual_seed). Starts in training mode, every parameter requiring grad, NCHW.
 * Returns NULL on an unknown arch, num_classes < 1 or a device/allocation failure. */
xc_model *xc_model_new(const char *arch, int num_classes, xt_device dev);
void xc_model_free(xc_model *m); /* accepts NULL */

const char *xc_model_arch(const xc_model *m);     /* "resnet50" */
int xc_model_num_classes(const xc_model *m);
xt_device xc_model_device(const xc_model *m);
/* The head's module name: "fc" for ResNet, "classifier" for DenseNet. */
const char *xc_model_head_name(const xc_model *m);

/* ---- running ----------------------------------------------------------------------------- */

/* Training mode (1: BatchNorm uses batch statistics, updates running_mean / running_var with
 * momentum 0.1 and increments num_batches_tracked) or eval mode (0: running statistics). */
void xc_model_set_training(xc_model *m, int on);
int xc_model_is_training(const xc_model *m);

/* x: (N, 3, H, W) float32 on the model's device, H, W >= 32 → logits (N, num_classes) float32,
 * in the current arena, as are all intermediates. Records autograd when gradients are enabled
 * (xt_grad_enabled_set); for inference disable them around the call. When channels_last is on
 * the input is converted to channels_last memory first. */
xt_tensor *xc_model_forward(xc_model *m, const xt_tensor *x);

/* ---- a forward pass that keeps one layer's output (Grad-CAM) ----------------------------- */

/* The layer Grad-CAM explains by default: the last convolutional block, "layer4" for ResNet,
 * "features.norm5" (the final feature map, before the last ReLU) for DenseNet. Static. */
const char *xc_model_cam_layer_default(const xc_model *m);
/* 0 when `layer` names a module whose output xc_model_forward_tap can keep, in torchvision's
 * names — ResNet: relu, maxpool, layer1..layer4, layerL.B (a block); DenseNet: features.relu0,
 * features.pool0, features.denseblock1..4, features.transition1..3, features.norm5 (also
 * "features") — else -1 with a message listing them. */
int xc_model_layer_check(const xc_model *m, const char *layer);
/* The forward pass of xc_model_forward (logits (N, K) float32, current arena) that also hands
 * back *act, the output of `layer` (NULL: the default above): (N, C, h, w) float32, in the
 * current arena, a leaf that requires grad. Gradients are recorded from that layer on only
 * (whatever xt_grad_enabled_set says), so xt_grad_of(score, *act) costs a backward through
 * the layers after it; everything before it runs as in inference. An arena must be current.
 * NULL on a bad layer name
 * (message as xc_model_layer_check) or a forward failure. */
xt_tensor *xc_model_forward_tap(xc_model *m, const xt_tensor *x, const char *layer, xt_tensor **act);

/* 1: every parameter except the head's stops requiring grad (its gradient is dropped); 0: all
 * require grad again. BatchNorm statistics are still updated in training mode (as torch does). */
int xc_model_freeze_backbone(xc_model *m, int on);

/* Stores 4-d parameters in channels_last memory (1) or back in contiguous NCHW (0), and makes
 * forward convert its input likewise. Replaces the parameter handles: create optimizers after
 * this call. Values and requires_grad are kept; gradients are dropped. */
int xc_model_set_channels_last(xc_model *m, int on);
/* The inference form: 1 folds every batch norm that follows a convolution into that
 * convolution's weight and bias (W·γ/√(σ²+ε), β − μγ/√(σ²+ε), computed in double from the
 * current weights: xc_bn_fold), so an eval-mode forward runs one convolution instead of a
 * convolution and a normalisation; 0 goes back to the plain form. Outputs equal the plain
 * form's up to float rounding. Puts the model in eval mode; the folded weights follow
 * xc_model_set_channels_last and loading, and xc_model_set_training(m, 1) drops them
 * (training never uses them). ResNet folds every batch norm; DenseNet the stem's and each
 * dense layer's norm2 (the others come before their convolution). -1 with a message naming
 * the tensors on failure (the model is then unfolded). */
int xc_model_fold_bn(xc_model *m, int on);
int xc_model_is_folded(const xc_model *m);
/* The fold's arithmetic on host arrays, shared with the ONNX export: w (cout, per) float32 →
 * w_out (cout, per) = w·s and b_out (cout) = beta − mean·s with s = gamma / √(var + eps),
 * in double. -1 with a message when var + eps is not positive. */
int xc_bn_fold(const float *w, int64_t cout, int64_t per, const float *gamma, const float *beta,
               const float *mean, const float *var, double eps, float *w_out, float *b_out);

/* on: batch norm in training mode normalises over the batches of every rank of d
 * (SyncBatchNorm, xt_sync_batch_norm); d may be NULL for one process, which then computes the
 * same arithmetic alone. d is borrowed and must outlive the model's forward passes. */
void xc_model_set_sync_bn(xc_model *m, xt_dist *d, int on);
int xc_model_is_channels_last(const xc_model *m);

/* A new head of num_classes outputs, initialised as xc_model_new does; the old head's handles
 * become invalid (create optimizers after this call). Keeps the frozen setting. */
int xc_model_replace_head(xc_model *m, int num_classes);

/* ---- parameters and buffers -------------------------------------------------------------- */

/* One entry of the state: name as in torchvision's state_dict, the tensor (borrowed), whether
 * it is a parameter (else a buffer: running_mean, running_var, num_batches_tracked int64) and
 * whether it belongs to the head. */
typedef struct {
    const char *name;
    xt_tensor *tensor;
    int is_param;
    int is_head;
} xc_model_entry;

/* Number of state entries (parameters and buffers), in torchvision's state_dict order. */
int xc_model_state_count(const xc_model *m);
/* Entry i (0 <= i < count), or NULL with a message. Borrowed. */
const xc_model_entry *xc_model_state_at(const xc_model *m, int i);
/* The tensor named `name`, or NULL (with a message naming it) when the model has none. */
xt_tensor *xc_model_find(const xc_model *m, const char *name);

/* The parameters that currently require grad, in state order (the head only when frozen).
 * *tensors is a model-owned array valid until the next call of this function, freeze,
 * replace_head, set_channels_last or free. For xt_adam_new. */
int xc_model_params(xc_model *m, xt_tensor *const **tensors, int *n);
/* Total number of parameter elements (all parameters, frozen or not). */
int64_t xc_model_param_numel(const xc_model *m);

/* ---- loading ----------------------------------------------------------------------------- */

/* What a load did beyond the strict checks. Free with xc_load_report_free. */
typedef struct {
    int loaded;           /* entries copied into the model */
    char **unused;        /* source names the model has no entry for (malloc'd strings) */
    int n_unused;
    int head_reinit;      /* 1 when the source head's shape differed: the head was re-initialised */
    int64_t source_head_classes; /* the source head's output count (rows of its weight), or 0 */
    int nbt_defaulted;    /* num_batches_tracked entries absent from the source, left at 0 */
} xc_load_report;

void xc_load_report_free(xc_load_report *r); /* frees the strings, zeroes *r; accepts NULL */

/* Copies named host tensors into the model. `what` names the source in messages (a path).
 * Names are torchvision's; DenseNet names of old checkpoints ("denselayer1.norm.1.weight") are
 * also accepted. Strict: every model entry must be present (except num_batches_tracked, which
 * older checkpoints lack: left at 0 and counted) with the same shape, else -1 naming the entry;
 * float sources (F16/BF16/F32/F64) convert to the parameter's dtype, num_batches_tracked must be
 * an integer type. A head whose shape differs (other class count) is not loaded: the head is
 * re-initialised and the report says so. Source names the model lacks are listed in the
 * report, not an error. Everything is checked before anything is copied: on failure the model
 * is unchanged. rep may be NULL. */
int xc_model_load_named(xc_model *m, const xc_st_tensor *tensors, int n, const char *what,
                        xc_load_report *rep);
/* The same from a safetensors file holding torchvision-named tensors (other tensors, e.g. a
 * checkpoint's optimizer state under other names, are reported as unused). */
int xc_model_load_file(xc_model *m, const char *path, xc_load_report *rep);

/* ---- losses ------------------------------------------------------------------------------ */

/* Cross-entropy as torch's F.cross_entropy(logits, target, weight=weight, reduction='mean'):
 * logits (N, C) float, target (N) int64 in [0, C), weight (C) float or NULL → 0-dim float.
 * With weights the mean divides by the sum of the weights of the targets. */
xt_tensor *xc_loss_cross_entropy(const xt_tensor *logits, const xt_tensor *target,
                                 const xt_tensor *weight);

/* Multi-class focal loss, mean over the batch: −α_t (1 − p_t)^γ log p_t, with p_t the softmax
 * probability of the target class and α_t = alpha[target] (alpha (C) float, or NULL for 1).
 * gamma >= 0 (0 with alpha NULL equals unweighted cross-entropy). → 0-dim float. */
xt_tensor *xc_loss_focal(const xt_tensor *logits, const xt_tensor *target, double gamma,
                         const xt_tensor *alpha);

/* Binary cross-entropy with logits for multi-label heads, mean over all N×C elements, as
 * torch's F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight):
 * logits (N, C) float, target (N, C) float in [0, 1], pos_weight (C) float or NULL. */
xt_tensor *xc_loss_bce_logits(const xt_tensor *logits, const xt_tensor *target,
                              const xt_tensor *pos_weight);

/* The same averaged over the known entries only, as
 * (F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction='none')
 *  * mask).sum() / mask.sum(): mask (N, C) float 1 = known, 0 = unknown (NULL: all known).
 * A batch with no known entry gives 0 (the denominator is max(Σ mask, 1)). → 0-dim float. */
xt_tensor *xc_loss_bce_masked(const xt_tensor *logits, const xt_tensor *target, const xt_tensor *mask,
                              const xt_tensor *pos_weight);

/* Multi-label focal loss over the known entries, as torchvision.ops.sigmoid_focal_loss
 * (reduction='none') masked and averaged like xc_loss_bce_masked: ce · (1 − p_t)^γ · α_t with
 * p = sigmoid(logits), p_t = p·y + (1 − p)(1 − y), α_t = α_k·y + (1 − α_k)(1 − y) per finding k
 * (alpha (C) float in [0, 1], NULL: no α term). gamma >= 0. → 0-dim float. */
xt_tensor *xc_loss_focal_sigmoid(const xt_tensor *logits, const xt_tensor *target, const xt_tensor *mask,
                                 double gamma, const xt_tensor *alpha);

#ifdef __cplusplus
}
#endif
#endif
