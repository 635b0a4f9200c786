/* xraycls/shim.h — the C ABI over libtorch: the only door from the C code to libtorch.
 *
 * What it is: opaque tensor handles, the ops that ResNet/DenseNet, the losses, metrics and batch
 * augmentation need, autograd, seeding, devices and an Adam optimizer. What it is not: models,
 * losses or training logic — those are C, built on these ops. Everything here has the prefix
 * `xt_`; implemented in src/shim/ (C++17), the only C++ in the tree.
 *
 * Failure: functions returning a pointer return NULL, functions returning int return -1; the
 * message (libtorch's, without its backtrace) is in xc_error() (xraycls/error.h). No C++
 * exception ever leaves this API. A NULL tensor argument is a failure, never a crash.
 *
 * Ownership: every tensor an op returns belongs to the calling thread's current arena
 * (xt_arena_push) and is released by xt_arena_clear/xt_arena_free. With no arena current, the
 * caller owns the result and releases it with xt_free. Parameters and other long-lived tensors
 * are made with xt_keep (or created with no arena current). Tensor handles share storage like
 * torch tensors do: a handle is a reference, not a copy.
 *
 * Shapes are given as (ndim, int64_t *shape). Tensors are NCHW unless a function says otherwise.
 */
#ifndef XRAYCLS_SHIM_H
#define XRAYCLS_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xt_tensor xt_tensor;
typedef struct xt_arena xt_arena;
typedef struct xt_adam xt_adam;

typedef enum {
    XT_U8 = 0,
    XT_I8,
    XT_I16,
    XT_I32,
    XT_I64,
    XT_F16,
    XT_BF16,
    XT_F32,
    XT_F64,
    XT_BOOL,
} xt_dtype;

/* Size in bytes of one element (0 for an unknown dtype). */
size_t xt_dtype_size(xt_dtype dt);
/* "uint8", "float32", … */
const char *xt_dtype_name(xt_dtype dt);

/* A device: XT_CPU, or a CUDA device index >= 0. */
typedef int xt_device;
#define XT_CPU (-1)
/* What xt_device_of returns on failure. */
#define XT_DEVICE_INVALID (-2)

/* ---- library, devices ------------------------------------------------------------------- */

/* libtorch's version, e.g. "1.13.0". Static string. */
const char *xt_torch_version(void);
/* 1 if libtorch was built with CUDA and a device is usable, else 0. */
int xt_cuda_available(void);
int xt_cuda_device_count(void);
/* Writes the name of CUDA device `index` ("NVIDIA H100 80GB HBM3") into buf. -1 if none. */
int xt_cuda_device_name(int index, char *buf, size_t cap);
/* Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU). Asking for CUDA on
 * a machine without it fails with a message that says so. */
int xt_device_parse(const char *spec, xt_device *out);
/* Writes "cpu" or "cuda:N". */
void xt_device_string(xt_device dev, char *buf, size_t cap);
/* Threads used by CPU ops (intra-op); <= 0 leaves libtorch's default. */
void xt_set_num_threads(int n);
int xt_get_num_threads(void);
/* Waits for all work queued on `dev` (no-op on CPU). */
int xt_synchronize(xt_device dev);

/* ---- arena and lifetime ------------------------------------------------------------------ */

xt_arena *xt_arena_new(void);
/* Releases every tensor the arena owns; handles from it become invalid. */
void xt_arena_clear(xt_arena *a);
/* Clears and frees the arena; accepts NULL. */
void xt_arena_free(xt_arena *a);
/* Number of tensors the arena owns now. */
size_t xt_arena_count(const xt_arena *a);
/* Makes `a` this thread's current arena (NULL: none) and returns the previous one, to be given
 * back to xt_arena_push when done: `xt_arena *prev = xt_arena_push(a); … xt_arena_push(prev);` */
xt_arena *xt_arena_push(xt_arena *a);
/* This thread's current arena (NULL: none). */
xt_arena *xt_arena_current(void);

/* Nested scopes inside one arena, to free intermediates before the step's clear (inference:
 * memory then follows the largest live set instead of the sum of every activation; training:
 * releasing every handle but the loss's before xt_backward lets backward free each saved
 * activation once its node has run):
 *   size_t mark = xt_arena_mark(a);  … ops …  xt_arena_release(a, mark, &y, 1);
 * xt_arena_mark is the number of tensors the arena owns now. xt_arena_release deletes every
 * handle the arena received after `mark` except the n handles of keep, which stay valid and
 * owned by the arena (keep entries that are NULL, from before the mark or from another arena
 * are ignored). Handles deleted become invalid; the memory of a tensor goes once no handle
 * and no autograd graph refers to it, so with gradients recorded a release frees only the
 * handles. A mark larger than the count releases nothing. */
size_t xt_arena_mark(const xt_arena *a);
void xt_arena_release(xt_arena *a, size_t mark, xt_tensor *const *keep, int n);

/* A new handle to the same tensor, owned by the caller regardless of any arena. */
xt_tensor *xt_keep(const xt_tensor *t);
/* Releases a caller-owned handle; accepts NULL. Never call it on an arena's tensor (such a
 * handle is left to its arena: the call does nothing). */
void xt_free(xt_tensor *t);

/* ---- creation and host transfer ---------------------------------------------------------- */

xt_tensor *xt_empty(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev);
xt_tensor *xt_zeros(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev);
xt_tensor *xt_ones(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev);
xt_tensor *xt_full(int ndim, const int64_t *shape, double value, xt_dtype dt, xt_device dev);
/* Uniform [0, 1) and standard normal, from the global generator of the device. */
xt_tensor *xt_rand(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev);
xt_tensor *xt_randn(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev);
/* Integers uniform in [lo, hi). */
xt_tensor *xt_randint(int64_t lo, int64_t hi, int ndim, const int64_t *shape, xt_device dev);
/* A 0-dim tensor. */
xt_tensor *xt_scalar(double value, xt_dtype dt, xt_device dev);

/* A CPU tensor holding a copy of `data` (contiguous, shape × dtype bytes). */
xt_tensor *xt_from_host(const void *data, int ndim, const int64_t *shape, xt_dtype dt);
/* A CPU tensor viewing `data` without copying: `data` must outlive every use of it (e.g. a
 * memory-mapped prepared dataset). Writing through it is undefined when data is read-only. */
xt_tensor *xt_from_blob(void *data, int ndim, const int64_t *shape, xt_dtype dt);
/* Copies the tensor into `dst` (moving it to the CPU and making it contiguous as needed; no
 * dtype conversion). Fails unless cap == numel × dtype size. */
int xt_to_host(const xt_tensor *t, void *dst, size_t cap);
/* The value of a one-element tensor as double. */
int xt_item(const xt_tensor *t, double *out);

/* ---- properties -------------------------------------------------------------------------- */

int xt_ndim(const xt_tensor *t);                         /* -1 on NULL */
int64_t xt_size(const xt_tensor *t, int dim);            /* negative dim counts from the end; -1 on error */
/* Writes up to cap sizes; returns ndim, or -1. */
int xt_shape(const xt_tensor *t, int64_t *shape, int cap);
int64_t xt_numel(const xt_tensor *t);                    /* -1 on error */
xt_dtype xt_dtype_of(const xt_tensor *t);                /* (xt_dtype)-1 on error */
xt_device xt_device_of(const xt_tensor *t);              /* XT_DEVICE_INVALID on error */
int xt_is_contiguous(const xt_tensor *t);
int xt_is_channels_last(const xt_tensor *t);
/* 1 if every element is finite, 0 if not, -1 on error. */
int xt_all_finite(const xt_tensor *t);

/* ---- conversion -------------------------------------------------------------------------- */

xt_tensor *xt_to_dtype(const xt_tensor *t, xt_dtype dt);
/* Moves to a device; non_blocking applies to pinned CPU memory going to CUDA. */
xt_tensor *xt_to_device(const xt_tensor *t, xt_device dev, int non_blocking);
xt_tensor *xt_contiguous(const xt_tensor *t);
/* NCHW logical shape, NHWC memory (channels_last). 4-d only. */
xt_tensor *xt_channels_last(const xt_tensor *t);
/* A host tensor on dev through page-locked memory, copied asynchronously on the current stream
 * (CUDA); the tensor itself (or a plain copy) when dev is the CPU or the build has no CUDA. For
 * the batches uploaded step after step (datasets, predict). */
xt_tensor *xt_upload_pinned(const xt_tensor *t, xt_device dev);
xt_tensor *xt_clone(const xt_tensor *t);
/* The same data, cut from the autograd graph. */
xt_tensor *xt_detach(const xt_tensor *t);

/* ---- shape ------------------------------------------------------------------------------- */

xt_tensor *xt_reshape(const xt_tensor *t, int ndim, const int64_t *shape); /* one size may be -1 */
xt_tensor *xt_transpose(const xt_tensor *t, int d0, int d1);
xt_tensor *xt_flatten(const xt_tensor *t, int start_dim, int end_dim);
xt_tensor *xt_unsqueeze(const xt_tensor *t, int dim);
xt_tensor *xt_squeeze(const xt_tensor *t, int dim);
xt_tensor *xt_expand(const xt_tensor *t, int ndim, const int64_t *shape);
/* Elements [start, start+length) along dim (a view). */
xt_tensor *xt_narrow(const xt_tensor *t, int dim, int64_t start, int64_t length);
xt_tensor *xt_cat(xt_tensor *const *ts, int n, int dim);
xt_tensor *xt_stack(xt_tensor *const *ts, int n, int dim);

/* ---- elementwise ------------------------------------------------------------------------- */

xt_tensor *xt_add(const xt_tensor *a, const xt_tensor *b);
xt_tensor *xt_sub(const xt_tensor *a, const xt_tensor *b);
xt_tensor *xt_mul(const xt_tensor *a, const xt_tensor *b);
xt_tensor *xt_div(const xt_tensor *a, const xt_tensor *b);
xt_tensor *xt_add_scalar(const xt_tensor *a, double s);
xt_tensor *xt_mul_scalar(const xt_tensor *a, double s);
xt_tensor *xt_pow_scalar(const xt_tensor *a, double e);
/* s - a */
xt_tensor *xt_rsub_scalar(const xt_tensor *a, double s);
xt_tensor *xt_neg(const xt_tensor *a);
xt_tensor *xt_exp(const xt_tensor *a);
xt_tensor *xt_log(const xt_tensor *a);
xt_tensor *xt_abs(const xt_tensor *a);
xt_tensor *xt_sigmoid(const xt_tensor *a);
xt_tensor *xt_clamp(const xt_tensor *a, double lo, double hi);
/* cond ? a : b (cond bool). */
xt_tensor *xt_where(const xt_tensor *cond, const xt_tensor *a, const xt_tensor *b);
/* Comparisons give bool tensors. */
xt_tensor *xt_eq(const xt_tensor *a, const xt_tensor *b);
xt_tensor *xt_lt_scalar(const xt_tensor *a, double s);
xt_tensor *xt_gt_scalar(const xt_tensor *a, double s);

/* ---- in place (parameters, buffers, optimizer state; not recorded by autograd) ------------ */

int xt_copy_(xt_tensor *dst, const xt_tensor *src);       /* shapes must match; converts dtype/device */
int xt_fill_(xt_tensor *t, double v);
int xt_add_(xt_tensor *t, const xt_tensor *other, double alpha); /* t += alpha * other */
int xt_mul_scalar_(xt_tensor *t, double s);
int xt_uniform_(xt_tensor *t, double lo, double hi);
int xt_normal_(xt_tensor *t, double mean, double std);

/* ---- reductions, sorting, indexing ------------------------------------------------------- */

xt_tensor *xt_sum(const xt_tensor *t);                     /* all elements → 0-dim */
xt_tensor *xt_mean(const xt_tensor *t);
xt_tensor *xt_sum_dim(const xt_tensor *t, int dim, int keepdim);
xt_tensor *xt_mean_dim(const xt_tensor *t, int dim, int keepdim);
/* Max along dim; values and/or indices may be NULL when not wanted. */
int xt_max_dim(const xt_tensor *t, int dim, int keepdim, xt_tensor **values, xt_tensor **indices);
xt_tensor *xt_argmax(const xt_tensor *t, int dim, int keepdim);
xt_tensor *xt_gather(const xt_tensor *t, int dim, const xt_tensor *index);
xt_tensor *xt_index_select(const xt_tensor *t, int dim, const xt_tensor *index);

/* ---- neural-network ops ------------------------------------------------------------------ */

/* x: (N, Cin, H, W), w: (Cout, Cin/groups, kh, kw), b: (Cout) or NULL. */
xt_tensor *xt_conv2d(const xt_tensor *x, const xt_tensor *w, const xt_tensor *b, int stride,
                     int padding, int dilation, int groups);
/* x: (N, C, …); weight, bias, running_mean, running_var: (C), any may be NULL. In training the
 * batch statistics are used and the running ones updated in place (momentum 0.1 is torch's). */
xt_tensor *xt_batch_norm(const xt_tensor *x, const xt_tensor *weight, const xt_tensor *bias,
                         xt_tensor *running_mean, xt_tensor *running_var, int training,
                         double momentum, double eps);
xt_tensor *xt_relu(const xt_tensor *x);
/* Rectifies in place and returns a handle to x (saves memory in forward passes). */
xt_tensor *xt_relu_(xt_tensor *x);
/* x += y in place, recorded by autograd (unlike xt_add_), and returns a handle to x: a residual
 * connection without a new feature map, as torchvision's `out += identity`. x must not be a
 * tensor autograd saved (a batch norm's or convolution's output is not; a ReLU's is). */
xt_tensor *xt_add_inplace(xt_tensor *x, const xt_tensor *y);
xt_tensor *xt_max_pool2d(const xt_tensor *x, int kernel, int stride, int padding);
xt_tensor *xt_avg_pool2d(const xt_tensor *x, int kernel, int stride, int padding);
xt_tensor *xt_adaptive_avg_pool2d(const xt_tensor *x, int64_t out_h, int64_t out_w);
/* x: (N, in), w: (out, in), b: (out) or NULL → (N, out). */
xt_tensor *xt_linear(const xt_tensor *x, const xt_tensor *w, const xt_tensor *b);
xt_tensor *xt_softmax(const xt_tensor *x, int dim);
xt_tensor *xt_log_softmax(const xt_tensor *x, int dim);

/* ---- image ops (batch augmentation) ------------------------------------------------------ */

/* Reverses the given dims. */
xt_tensor *xt_flip(const xt_tensor *x, int ndims, const int64_t *dims);
/* theta: (N, 2, 3) → grid (N, H, W, 2) for an output of size (N, C, H, W). */
xt_tensor *xt_affine_grid(const xt_tensor *theta, int64_t n, int64_t c, int64_t h, int64_t w,
                          int align_corners);
typedef enum { XT_INTERP_BILINEAR = 0, XT_INTERP_NEAREST = 1 } xt_interp;
typedef enum { XT_PAD_ZEROS = 0, XT_PAD_BORDER = 1, XT_PAD_REFLECTION = 2 } xt_padding;
xt_tensor *xt_grid_sample(const xt_tensor *x, const xt_tensor *grid, xt_interp mode,
                          xt_padding padding, int align_corners);
/* Resizes (N, C, H, W) to (out_h, out_w); antialias applies to bilinear downscaling. */
xt_tensor *xt_interpolate(const xt_tensor *x, int64_t out_h, int64_t out_w, xt_interp mode,
                          int align_corners, int antialias);

/* ---- autograd ---------------------------------------------------------------------------- */

int xt_set_requires_grad(xt_tensor *t, int on);
int xt_requires_grad(const xt_tensor *t);
/* Backpropagates from a scalar tensor. */
int xt_backward(const xt_tensor *loss);
/* *out = the gradient of t (an arena/caller tensor as usual), or NULL when t has none yet. */
int xt_grad(const xt_tensor *t, xt_tensor **out);
/* *out = d y / d x (torch.autograd.grad(y, x)): y a one-element tensor computed from x with
 * gradients recorded. Accumulates into no .grad (parameters' gradients are left as they
 * are) and frees the graph. The result is in the current arena. Fails when y does not
 * depend on x. */
int xt_grad_of(const xt_tensor *y, const xt_tensor *x, xt_tensor **out);
/* Drops t's gradient (set to none, as torch's zero_grad(set_to_none=True)). */
int xt_zero_grad(xt_tensor *t);
/* Enables or disables gradient recording on this thread; returns the previous setting. */
int xt_grad_enabled_set(int enabled);
/* 1 when gradients are recorded on this thread, else 0. */
int xt_grad_enabled(void);

/* ---- randomness -------------------------------------------------------------------------- */

/* Seeds every device's global generator (torch.manual_seed). */
void xt_manual_seed(uint64_t seed);
/* The global generator state of a device as a caller-owned uint8 tensor (for checkpoints). */
xt_tensor *xt_rng_state_get(xt_device dev);
int xt_rng_state_set(xt_device dev, const xt_tensor *state);

/* ---- performance settings ---------------------------------------------------------------- */

/* Mixed precision: while enabled, ops on `dev`'s device type run in `dt` (XT_BF16 or XT_F16)
 * where torch's autocast lists say so. The setting is per thread. Casts of parameters are not
 * cached (they would go stale after optimizer steps), so it may stay on across steps.
 * Returns 0 or -1 (e.g. F16 on CPU unsupported). */
int xt_autocast_set(xt_device dev, int enabled, xt_dtype dt);
/* cuDNN autotuning and TF32 matmul/convolution (no-ops without CUDA). */
void xt_set_cudnn_benchmark(int on);
void xt_set_tf32(int on);
/* Peak bytes allocated on a CUDA device since the last reset (0 on CPU). */
int64_t xt_cuda_peak_memory(xt_device dev);
void xt_cuda_reset_peak_memory(xt_device dev);

/* ---- Adam -------------------------------------------------------------------------------- */

typedef struct {
    double lr;           /* 1e-3 */
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0: L2 added to the gradient, as torch.optim.Adam */
    int decoupled;       /* 0; 1: AdamW-style decay */
    int fused;           /* -1 auto: the fused kernel where libtorch has one for the device, else
                          *    the multi-tensor (_foreach) kernels on CUDA and one tensor at a time on
                          *    the CPU (where _foreach only loops over the same ops);
                          *  0 off: one tensor at a time (torch's single-tensor Adam);
                          *  1 on: the fused kernel; xt_adam_new fails where libtorch has none
                          *    for the parameters' device (CPU before torch 2.4). */
} xt_adam_params;

xt_adam_params xt_adam_default(void);
/* An optimizer over n parameters (borrowed: they must outlive it). Each parameter's state
 * (step, exp_avg, exp_avg_sq) is created at its first step with a gradient, as in torch. */
xt_adam *xt_adam_new(xt_tensor *const *params, int n, xt_adam_params p);
void xt_adam_free(xt_adam *a); /* accepts NULL */
/* One update of every parameter that has a gradient. */
int xt_adam_step(xt_adam *a);
void xt_adam_set_lr(xt_adam *a, double lr);
double xt_adam_get_lr(const xt_adam *a);
int xt_adam_count(const xt_adam *a);
/* State of parameter i (borrowed handles, NULL while not created; *step 0). */
int xt_adam_state(const xt_adam *a, int i, int64_t *step, xt_tensor **exp_avg,
                  xt_tensor **exp_avg_sq);
/* Restores the state of parameter i (copied in; shapes must match the parameter). */
int xt_adam_set_state(xt_adam *a, int i, int64_t step, const xt_tensor *exp_avg,
                      const xt_tensor *exp_avg_sq);

/* ---- added for data (batch augmentation); implemented in src/shim/ops_data.cpp ------------ */

xt_tensor *xt_sin(const xt_tensor *a);
xt_tensor *xt_cos(const xt_tensor *a);

#ifdef __cplusplus
}
#endif
#endif
