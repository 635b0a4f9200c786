/* xraycls/predict.h — inference: the probabilities a model gives images on disk (`predict`) or a
 * split of a prepared dataset (`eval`).
 *
 * What it is: collecting image files (folders walked recursively, sorted), sharding, decoding on
 * the core thread pool (xraycls/pool.h) while the model runs the previous batch, and the batched, gradient-free,
 * eval-mode forward pass with the head's activation (softmax, or independent sigmoids for a
 * "sigmoid" head). Preprocessing comes from the model file's metadata only (xc_model_info:
 * size, channels, mean/std, gray→RGB expansion) and goes through the same path as `prepare` and
 * training: xc_image_load_resized, then xc_normalize_apply. What it is not: loading the model
 * (xraycls/checkpoint.h), metrics (metrics.h) or output formats (the commands).
 *
 * Failure: -1 with xc_error() naming the file. An image that cannot be decoded is not a failure
 * of xc_predict_files: it is handed to on_error and skipped.
 */
#ifndef XRAYCLS_PREDICT_H
#define XRAYCLS_PREDICT_H

#include <stdint.h>

#include "xraycls/cam.h"
#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/error.h"
#include "xraycls/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_model xc_model;

/* The image files named by paths[0..n): a file is taken as given (whatever its extension); a
 * folder contributes every image file below it (xc_image_is_candidate: JPEG, PNG or DICOM by
 * content, or a damaged file with an image extension; symbolic links followed only when they
 * name files), in sorted path order (byte order). The arguments keep their order. A path that
 * does not exist is an error naming it. What a folder walk passes over goes to *skipped as
 * "path: why" lines (xc_walk_report: hidden images, FIFOs and other non-regular files, dangling
 * links, link loops, unreadable entries), so that no input is dropped unmentioned.
 * *files and *skipped: malloc'd arrays of malloc'd strings (xc_predict_files_free); *count and
 * *nskipped their lengths. */
int xc_predict_collect(const char *const *paths, int n, char ***files, int64_t *count, char ***skipped,
                       int64_t *nskipped);
void xc_predict_files_free(char **files, int64_t count); /* accepts NULL */

/* Keeps the files whose 0-based index i satisfies i mod shards == shard - 1 (shard is 1-based,
 * 1 <= shard <= shards), in place; returns the new count. Files dropped are freed. */
int64_t xc_predict_shard(char **files, int64_t count, int shard, int shards);

/* Parses "K/N" (1 <= K <= N): "--shard 2/4". */
int xc_predict_parse_shard(const char *s, int *shard, int *shards);

/* Called for each scored image when CAMs are asked for, right after its row: map i of b
 * (xraycls/cam.h) and the image as the model saw it, (channels, S, S) uint8 after resizing,
 * before normalisation (borrowed for the call). Non-zero stops the run, as row's. */
typedef int (*xc_predict_cam_fn)(void *ud, const char *path, const xc_cam_batch *b, int i,
                                 const uint8_t *image, int channels);

typedef struct {
    int batch;     /* images per forward pass (32) */
    int threads;   /* decoding threads on the core pool (0: the usable CPUs, xc_cpu_count, at
                    * most 16); libtorch's own threads are set by the caller (xt_set_num_threads) */
    const xc_cam_opts *cam; /* NULL; else each batch also goes through xc_cam_compute (its
                             * probabilities are then the ones reported) and on_cam is called */
    xc_predict_cam_fn on_cam;
    void *cam_ud;
    xc_tta tta;    /* XC_TTA_NONE; else the mean probability over the views (xc_tta in
                    * xraycls/checkpoint.h): tencrop decodes each file at xc_tta_resize(S) a side
                    * (the same plain resize to a square) and crops it. Not with cam. */
} xc_predict_opts;

xc_predict_opts xc_predict_default(void);

/* Called once per image, in file order: probs (num_classes) is the head's output (softmax
 * probabilities, or sigmoids). reason is NULL for a scored image, else why it was skipped
 * ("cannot decode 'x.png': …"), probs then NULL. Returning non-zero stops the run: the
 * callback leaves its message in xc_error() and xc_predict_files returns -1. */
typedef int (*xc_predict_row_fn)(void *ud, const char *path, const float *probs, const char *reason);

/* Scores files[0..n) with the model (on its device), calling row for each. *scored and
 * *skipped (may be NULL) receive the counts. -1 on a device / model failure or when row asks
 * to stop. */
int xc_predict_files(xc_model *m, const xc_model_info *info, const char *const *files, int64_t n,
                     const xc_predict_opts *o, xc_predict_row_fn row, void *ud, int64_t *scored,
                     int64_t *skipped);

/* Scores every sample of a prepared split in order, batch at a time, without training-time
 * augmentation: probs (N, num_classes) float and, when logits is not NULL, the logits (N,
 * num_classes), provided by the caller. The dataset's images must have the model's size and
 * channel count (checked, naming both). progress (may be NULL) is called after each batch with
 * the samples done. XC_TTA_NONE: the model's outputs. Else the probabilities are the mean over
 * the views of the test-time augmentation, the logits that mean's logit — log p̄ for a softmax
 * head (so softmax(logits) = p̄), log(p̄ / (1 − p̄)) for a sigmoid head. tencrop upsamples the
 * prepared S x S images to R = xc_tta_resize(S) on the device (bilinear, antialiased: Pillow's
 * filter, without its rounding to 8 bits) and crops them; the images were resampled once
 * already by prepare (docs/METRICS.md, "Test-time augmentation"). */
int xc_predict_dataset_tta(xc_model *m, const xc_model_info *info, xc_dataset *d, int batch, xc_tta tta,
                           float *probs, float *logits, void (*progress)(void *ud, int64_t done), void *ud);

/* The input normalisation of a model file: (expand or 3 stored channels: 3 channels), mean/std. */
xc_normalize xc_predict_normalize(const xc_model_info *info);

#ifdef __cplusplus
}
#endif
#endif
