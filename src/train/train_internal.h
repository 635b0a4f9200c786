/* train_internal.h — what the three files of the training loop share, and nothing else
 * includes: the run's state and the functions one file calls in another.
 *   train.c        the run's log and metrics files, checkpoints, resumption, the epoch loop
 *                  and xc_train_run;
 *   train_setup.c  the run folder, the model and its weights, the optimiser, loss and
 *                  precision (tr_prepare_dir, tr_make_dir, tr_build);
 *   train_step.c   one training step and one validation pass (tr_train_step, tr_validate);
 *   train_dist.c   data-parallel training: the process group, the ranks' shares of a batch,
 *                  agreement on failures and stops (tr_dist_*). */
#ifndef XRAYCLS_TRAIN_INTERNAL_H
#define XRAYCLS_TRAIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/dist.h"
#include "xraycls/error.h"
#include "xraycls/nn.h"
#include "xraycls/shim.h"
#include "xraycls/tensorboard.h"
#include "xraycls/train.h"

/* The run's state: one per xc_train_run, owned by it. */
typedef struct {
    const xc_config *c;
    const xc_train_opts *o;
    char dir[1400];
    char *config_json;
    xt_device dev;
    xc_dataset *train, *val;
    xc_model *model;
    xt_adam *adam;
    xc_sampler *sampler;
    xc_model_info info;
    xc_normalize norm;
    xc_augment aug;
    xt_tensor *class_weight; /* (K) float32 on dev, caller-owned, or NULL */
    xt_tensor *alpha;        /* (K) float32 on dev, caller-owned, or NULL */
    xt_tensor *pos_weight;   /* multi-label "bce": (K) float32 on dev, caller-owned, or NULL */
    int multilabel;          /* the dataset has K independent findings (sigmoid head) */
    int autocast;            /* 1: forward under autocast in amp_dtype */
    xt_dtype amp_dtype;
    double loss_scale;       /* fp16 only: dynamic loss scale; 1 otherwise */
    int good_steps;          /* fp16: finite steps since the scale last changed */
    xc_epoch_result *hist;   /* finished epochs */
    int nhist;
    char *log;               /* train.log so far */
    size_t log_len;
    double t0;
    /* data-parallel training (train_dist.c); one process: dist NULL, rank 0, world 1 */
    xt_dist *dist;
    int rank, world;
    int local_world; /* ranks on this node (xc_dist_env.local_world); 1 alone */
    int dist_hooks; /* gradients averaged by backward hooks (train.distributed.overlap) */
    int dev_fixed;  /* dev chosen by tr_dist_open (the local rank's GPU) */
    /* TensorBoard (rank 0 only; NULL when off, unavailable or failed): the events file of this
     * start, and whether the grid of the first augmented batch is still to be written, at
     * which step. */
    xc_tb *tb;
    int tb_grid_pending;
    int64_t tb_grid_step;
    /* rank 0: the descriptor holding the run folder's lock (RUN/.lock) for the run's life, or -1 */
    int lock_fd;
} run;


/* Adds a printf-style line to train.log (and hands it to opts->on_log). Best effort. */
void tr_log(run *r, const char *fmt, ...) XC_PRINTF(2, 3);

/* TensorBoard (train.c): the grid of the augmented batch x (N, C, S, S), normalised float, up
 * to its first 64 images, as image "train/augmented_batch" at r->tb_grid_step; clears
 * r->tb_grid_pending. Best effort: a failure is logged and closes the events file. */
void tr_tb_batch_grid(run *r, const xt_tensor *x);

/* Setup (train_setup.c). 0, or -1 with a message. */
int tr_prepare_dir(run *r);               /* r->dir from the options or the config, checked */
int tr_prepare_dir_name(run *r);          /* r->dir only (the ranks other than 0) */
int tr_make_dir(run *r);                  /* creates r->dir; an existing run is refused */
int tr_build(run *r, const xc_config *c); /* datasets, model, weights, optimiser, loss, sampler */

/* Data-parallel training (train_dist.c); each is a no-op returning 0 in one process. */
int tr_dist_open(run *r);            /* reads the launch environment, joins the group */
int tr_dist_attach(run *r);          /* after the model: rank 0's weights, hooks, SyncBatchNorm */
/* Every rank says whether its set-up succeeded; -1 on every rank when one failed (with this
 * rank's message, or one naming the failure elsewhere), so no rank is left waiting. */
int tr_dist_agree(run *r, int ok);
int tr_dist_average_grads(run *r);   /* after backward: gradients averaged over the ranks */
/* This rank's slice [lo, hi) of a global batch of `got` samples. */
void tr_dist_slice(const run *r, int64_t got, int64_t *lo, int64_t *hi);
/* *any = 1 when any rank was asked to stop. */
int tr_dist_stop(run *r, int local_stop, int *any);
void tr_dist_close(run *r);

/* One step, one validation (train_step.c). */
typedef struct {
    double loss;
    int64_t correct; /* right predictions; multi-label: the batch's images times the share of
                        its known entries right at 0.5 (rounded), so that correct / images
                        is that share */
    int finite; /* 0: the loss or a gradient was not finite, nothing was updated */
} step_out;

/* One training step on the n samples idx of the training set (in data-parallel training: the
 * global batch, of which this rank trains its slice; out holds the whole batch's loss and
 * correct count). 0, or -1 with a message. */
int tr_train_step(run *r, const int64_t *idx, int64_t n, step_out *out);

typedef struct {
    double loss, acc, bacc;
    double auroc; /* macro AUROC over the classes/findings where it is defined (NaN if none) */
    double macro_f1; /* mean F1 over the classes present / the findings with a positive */
    int64_t *confusion; /* single-label: (K, K) rows true, cols predicted, malloc'd (the caller
                           frees); NULL without validation or for a multi-label model */
    int k;
} val_out;

/* Loss, accuracy, balanced accuracy and macro AUROC over the validation set (NaN without one).
 * Multi-label: the unweighted masked BCE, the accuracy of the known entries at 0.5, the mean
 * over findings of (sensitivity + specificity) / 2 at 0.5, and the macro AUROC over the
 * findings, each finding's on its known entries. */
int tr_validate(run *r, xt_arena *arena, val_out *v);

#endif
