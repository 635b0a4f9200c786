/* xraycls/dataset.h — from a prepared dataset to augmented, normalised batches on the device.
 *
 * A prepared dataset (written by `xraycls prepare`, see prepare.h) is a folder holding one
 * safetensors file per split: `images` (N, C, S, S) uint8 and `labels` (N) int64, with the class
 * names in the metadata — or, multi-label (xraycls.multilabel = "1"), `labels` (N, K) uint8 0/1
 * and `mask` (N, K) uint8 (1 = known), the K finding names as the classes. A split is
 * memory-mapped: the training step never waits on decoding.
 *
 * Three pieces, used in this order every step:
 *   xc_dataset  — one split, memory-mapped (optionally copied once into device memory);
 *   xc_sampler  — which indices form the epoch: weighted (1/class-count, with replacement, as
 *                 many draws as samples), shuffled, or sequential; a pure function of
 *                 (seed, epoch) so a run resumes at (epoch, position) exactly;
 *   xc_dataset_batch — gathers the indices, uploads, augments on the device (the paper's
 *                 horizontal flip p=0.5, vertical flip p=0.5, rotation p=0.3 within ±deg), then
 *                 scales to [0,1], expands 1→3 channels and normalises (ImageNet mean/std).
 *
 * Augmentation draws from libtorch's generator of the device (xt_manual_seed, saved in
 * checkpoints with xt_rng_state_get), so a batch is deterministic for a seed.
 * Failure: NULL / -1 with xc_error() naming the file and the problem.
 */
#ifndef XRAYCLS_DATASET_H
#define XRAYCLS_DATASET_H

#include <stdint.h>

#include "xraycls/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XC_MAX_CLASSES 1024

typedef struct xc_dataset xc_dataset;

/* Opens DIR/<split>.safetensors. Checks that images is (N, C, S, S) uint8 with C 1 or 3 and
 * labels (N) int64 within [0, number of classes). */
xc_dataset *xc_dataset_open(const char *dir, const char *split);
void xc_dataset_close(xc_dataset *d); /* accepts NULL */

int64_t xc_dataset_len(const xc_dataset *d);
int xc_dataset_channels(const xc_dataset *d);
int xc_dataset_size(const xc_dataset *d);
int xc_dataset_num_classes(const xc_dataset *d);
/* Class name k (borrowed). */
const char *xc_dataset_class(const xc_dataset *d, int k);
/* labels (N) (borrowed, into the map); NULL for a multi-label dataset. */
const int64_t *xc_dataset_labels(const xc_dataset *d);
/* Number of samples of class k (multi-label: known positives of finding k). */
int64_t xc_dataset_class_count(const xc_dataset *d, int k);

/* 1 for a multi-label dataset, else 0. */
int xc_dataset_multilabel(const xc_dataset *d);
/* Multi-label: targets (N, K) 0/1 and mask (N, K) 1 = known (borrowed, into the map; NULL for a
 * single-label dataset). A masked entry's target is 0. */
const uint8_t *xc_dataset_targets(const xc_dataset *d);
const uint8_t *xc_dataset_mask(const xc_dataset *d);
/* Multi-label: the known negatives of finding k (0 for a single-label dataset). */
int64_t xc_dataset_negative_count(const xc_dataset *d, int k);
/* Multi-label: the multi-label sampler's group of each sample (N values in [0, K]): the rarest
 * (fewest known positives in this split) finding the image is positive for, K for an image with
 * no known positive. The weighted sampler draws these groups equally often. malloc'd. */
int64_t *xc_dataset_rarest_groups(const xc_dataset *d);
/* The source file of sample i, as recorded by prepare ("" when not recorded). Borrowed. */
const char *xc_dataset_file(const xc_dataset *d, int64_t i);
/* The pixels of sample i: (C, S, S) uint8, borrowed (into the map); NULL when i is out of range. */
const uint8_t *xc_dataset_image(const xc_dataset *d, int64_t i);
/* The path of the split file (borrowed). */
const char *xc_dataset_path(const xc_dataset *d);

/* Copies every image into the memory of `dev` once, so batches are gathered there (a no-op on
 * CPU). Fails with a message when it does not fit. */
int xc_dataset_make_resident(xc_dataset *d, xt_device dev);

/* ---- sampler --------------------------------------------------------------------------- */

typedef enum {
    XC_SAMPLER_SEQUENTIAL = 0, /* 0, 1, …, N-1 (evaluation) */
    XC_SAMPLER_SHUFFLE,        /* a permutation per epoch */
    XC_SAMPLER_WEIGHTED,       /* N draws with replacement, P(i) ∝ 1 / count(label(i)) */
} xc_sampler_kind;

/* Parses "sequential", "shuffle", "weighted". */
int xc_sampler_kind_parse(const char *s, xc_sampler_kind *out);

typedef struct xc_sampler xc_sampler;

/* A sampler over n samples with the given labels (copied). */
xc_sampler *xc_sampler_new(xc_sampler_kind kind, const int64_t *labels, int64_t n,
                           int num_classes, uint64_t seed);
void xc_sampler_free(xc_sampler *s); /* accepts NULL */
/* Positions the sampler at `position` draws into epoch `epoch` (0-based). The order of an epoch
 * depends only on (kind, labels, seed, epoch). */
int xc_sampler_seek(xc_sampler *s, int64_t epoch, int64_t position);
/* Fills up to max indices of the current epoch; returns how many (0 at the end of the epoch). */
int64_t xc_sampler_next(xc_sampler *s, int64_t *out, int64_t max);
int64_t xc_sampler_position(const xc_sampler *s);
/* Draws per epoch (= n). */
int64_t xc_sampler_epoch_len(const xc_sampler *s);

/* ---- batches --------------------------------------------------------------------------- */

typedef struct {
    double hflip;      /* probability of a horizontal flip (0.5) */
    double vflip;      /* probability of a vertical flip (0.5) */
    double rotate;     /* probability of a rotation (0.3) */
    double rotate_deg; /* rotation angle uniform in [-deg, +deg] (15) */
    /* Data-parallel training: the random draws are made for a batch of draw_total samples
     * and this batch takes draws [draw_offset, draw_offset + n), so that the ranks' slices of
     * one global batch are augmented as the whole batch would be in one process (same seed).
     * 0, 0: the batch's own n draws. */
    int64_t draw_total, draw_offset;
} xc_augment;

/* The paper's augmentation. */
xc_augment xc_augment_default(void);

typedef struct {
    int channels;   /* channels the model takes: 3 (gray images are expanded) or 1 */
    float mean[3];  /* per model channel, on the [0,1] scale */
    float std[3];
} xc_normalize;

/* ImageNet's mean/std, 3 channels. */
xc_normalize xc_normalize_imagenet(void);

/* The batch of samples idx[0..n) on `dev`, augmented when aug is non-NULL:
 *   images: (n, norm->channels, S, S) float32, in the current arena;
 *   *labels (if non-NULL): (n) int64 on dev, in the current arena; for a multi-label dataset
 *   (n, K) float32 targets 0/1 instead. */
xt_tensor *xc_dataset_batch(xc_dataset *d, const int64_t *idx, int64_t n, xt_device dev,
                            const xc_augment *aug, const xc_normalize *norm,
                            xt_tensor **labels);

/* Multi-label: the mask of the samples idx[0..n): (n, K) float32 1 = known, 0 = unknown, on dev,
 * in the current arena. NULL with a message for a single-label dataset. */
xt_tensor *xc_dataset_batch_mask(const xc_dataset *d, const int64_t *idx, int64_t n, xt_device dev);

/* Augments a float batch x: (n, C, H, W) on its device with the given probabilities; returns
 * a new tensor in the current arena. Exposed for tests and for predict-time checks. */
xt_tensor *xc_augment_apply(const xt_tensor *x, const xc_augment *aug);

/* x: (n, C, S, S) uint8 (scaled by 1/255) or float already on [0,1]. Expands 1→3 channels when
 * norm->channels is 3 and C is 1, and normalises: (x - mean) / std → float32 (n, channels, S, S). */
xt_tensor *xc_normalize_apply(const xt_tensor *x_u8, const xc_normalize *norm);

#ifdef __cplusplus
}
#endif
#endif
