/* xraycls/checkpoint.h — training checkpoints and loading a model from a file in one call.
 *
 * What it is: the format of `runs/<name>/last.safetensors` and `best.safetensors`, writing it
 * atomically, restoring a run from it exactly, and xc_checkpoint_load_model(), which builds a
 * ready-to-use model from a checkpoint OR from a model file written by `xraycls import`. What it
 * is not: the training loop (xraycls/train.h) or the config (xraycls/config.h).
 *
 * A checkpoint is a self-describing safetensors file (xraycls/safetensors.h):
 *   tensors
 *     model.<torchvision state_dict name>   every parameter and buffer (running_mean, …,
 *                                           num_batches_tracked), in the model's dtype
 *     optim.<i>.exp_avg, optim.<i>.exp_avg_sq   Adam state of parameter i (the model's parameter
 *                                           order); absent for parameters with no state yet
 *     optim.<i>.step                        int64 [1]
 *     rng.cpu, rng.cuda                     uint8: the global generator states (cuda only when
 *                                           the run is on a CUDA device)
 *   metadata (all strings; JSON where noted)
 *     xraycls.kind            "checkpoint" (an imported model file says "model")
 *     xraycls.format          format version, "1"
 *     xraycls.arch            "resnet50", "densenet121", …
 *     xraycls.classes         JSON array of class names, in output order
 *     xraycls.num_classes     decimal
 *     xraycls.head            "softmax" (the outputs are logits of one softmax over classes)
 *     xraycls.preprocessing   JSON {"size":224,"channels":1,"mean":[…3],"std":[…3],
 *                             "expand_gray_to_rgb":true}: the model takes (N, 3, size, size)
 *                             float images scaled to [0,1], normalised by mean/std per channel;
 *                             optional "tta": "none"|"flip"|"tencrop", the test-time
 *                             augmentation eval and predict apply when --tta is not given
 *                             (absent: none; xc_tta below, docs/METRICS.md)
 *     xraycls.config          the resolved training config (JSON)
 *     xraycls.state           JSON: {"epoch": completed epochs, "global_step": optimizer steps,
 *                             "sampler": {"seed","epoch","position"}, "lr": current lr,
 *                             "best": {"metric","value","epoch"} or null, "complete": bool}
 *     xraycls.calibration     optional JSON: the temperature written by `xraycls calibrate`
 *                             (xraycls/calibration.h), applied by eval and predict
 *
 * A model file from `xraycls import` carries the same xraycls.arch / classes / num_classes /
 * head / preprocessing metadata with xraycls.kind "model"; its tensors are named `model.<name>`
 * like a checkpoint's (plain torchvision names, without the prefix, are accepted too).
 *
 * Failure: -1 / NULL with the message in xc_error(), naming the file and the key or tensor.
 */
#ifndef XRAYCLS_CHECKPOINT_H
#define XRAYCLS_CHECKPOINT_H

#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/nn.h"
#include "xraycls/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XC_CHECKPOINT_FORMAT 1
#define XC_INFO_MAX_CLASSES 1000 /* ImageNet heads load too */
#define XC_CLASS_NAME_MAX 64

/* Test-time augmentation: the probabilities of an image are the mean over views of it.
 *   XC_TTA_NONE     the image (one view)
 *   XC_TTA_FLIP     the image and its horizontal mirror (two views)
 *   XC_TTA_TENCROP  CheXNet's: resized to R = xc_tta_resize(S) a side, its four corner and centre
 *                   S x S crops, and the same five of its mirror (torchvision's TenCrop; ten views) */
typedef enum { XC_TTA_NONE = 0, XC_TTA_FLIP, XC_TTA_TENCROP } xc_tta;

/* "none", "flip", "tencrop" → *out; -1 with "'x' is not none, flip or tencrop" otherwise. */
int xc_tta_parse(const char *s, xc_tta *out);
const char *xc_tta_name(xc_tta t); /* "none", "flip", "tencrop" */
int xc_tta_views(xc_tta t);        /* 1, 2, 10 */
/* The side tencrop resizes to for crops of side S: round(S * 256 / 224) (256 for 224; never a
 * tie, 8S/7 is never k + 1/2). */
int xc_tta_resize(int s);

/* What a model file says about the model: enough for eval/predict to prepare inputs and name
 * the outputs. Plain data, no ownership. */
typedef struct {
    char arch[32];                                   /* "resnet50" */
    int num_classes;
    char classes[XC_INFO_MAX_CLASSES][XC_CLASS_NAME_MAX]; /* output order */
    char head[16];                                   /* "softmax" */
    int image_size;                                  /* input side in pixels */
    int channels;                                    /* channels stored in the dataset (1) */
    float mean[3], std[3];                           /* per input channel, on [0,1] values */
    int expand_gray_to_rgb;                          /* 1: gray is repeated to 3 channels */
    char kind[16];                                   /* "checkpoint" or "model" */
    int epoch;                                       /* completed epochs (checkpoints; else 0) */
    xc_tta tta;                                      /* the default TTA of the model file
                                                      * (preprocessing "tta"; NONE when absent) */
} xc_model_info;

/* Loads the model of a checkpoint or of an `xraycls import` model file onto `dev`, in eval mode,
 * with the weights of the file. `info` (may be NULL) receives what the file says about it.
 * Returns a model owned by the caller (xc_model_free), or NULL. */
xc_model *xc_checkpoint_load_model(const char *path, xt_device dev, xc_model_info *info);

/* Reads only the metadata of a model file or checkpoint (no tensors are loaded). */
int xc_checkpoint_read_info(const char *path, xc_model_info *info);
/* Writes info as a model file's metadata (xraycls.kind = kind: "checkpoint" or "model",
 * format, arch, classes, num_classes, head, preprocessing) into w: the one writer of what
 * xc_checkpoint_read_info reads, used by checkpoints and by `import`. */
int xc_model_info_write(xc_st_writer *w, const xc_model_info *info, const char *kind);

/* Sampler position, schedule and best-so-far: the non-tensor part of a run's state. */
typedef struct {
    int epoch;               /* completed epochs */
    int64_t global_step;     /* optimizer steps taken */
    uint64_t sampler_seed;
    int sampler_epoch;       /* the sampler epoch in progress (== epoch unless mid-epoch) */
    int64_t sampler_position;/* samples of sampler_epoch already consumed (0 at a boundary) */
    double lr;               /* the learning rate in effect */
    int has_best;
    char best_metric[32];    /* "val_accuracy", … */
    double best_value;
    int best_epoch;
    int complete;            /* 1 when training ended normally */
    /* Running sums of the epoch in progress, so a mid-epoch resume reports the same epoch
     * train_loss/train_acc as an uninterrupted run. */
    double epoch_loss_sum;
    int64_t epoch_correct, epoch_seen;
    double epoch_seconds;
} xc_run_state;

/* Everything a checkpoint holds. Borrowed pointers; `adam` and `rng_dev` may be NULL/XT_CPU. */
typedef struct {
    const xc_model *model;
    const xt_adam *adam;          /* NULL: no optimizer state saved */
    const xc_model_info *info;    /* arch, classes, preprocessing, head (kind is set here) */
    const char *config_json;      /* resolved config, NULL: "{}" */
    const xc_run_state *state;
    xt_device rng_dev;            /* also save this CUDA device's generator when >= 0 */
} xc_checkpoint;

/* Writes a checkpoint atomically to `path`: on failure `path` is left as it was. */
int xc_checkpoint_save(const char *path, const xc_checkpoint *ck);

/* Restores a run from a checkpoint into an already built model (same arch and classes) and
 * optimizer (over the same parameters): weights, buffers, Adam state, generator states (CPU and,
 * when rng_dev >= 0 and saved, CUDA). Fills `state` and, when config_json is not NULL, sets
 * *config_json to a malloc'd copy of the resolved config. */
int xc_checkpoint_resume(const char *path, xc_model *model, xt_adam *adam, xt_device rng_dev,
                         xc_run_state *state, char **config_json);

#ifdef __cplusplus
}
#endif
#endif
