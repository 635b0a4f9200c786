/* xraycls/train.h — the training loop of `xraycls train`, and its learning-rate schedule.
 *
 * What it is: from a resolved config (xraycls/config.h) to a run folder
 *   runs/<name>/config.json        the resolved config
 *   runs/<name>/metrics.jsonl      one JSON object per epoch
 *   runs/<name>/metrics.csv        epoch,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,
 *                                  lr,seconds,images_per_s
 *   runs/<name>/train.log          what happened, with times
 *   runs/<name>/last.safetensors   checkpoint after every epoch (and on a stop request)
 *   runs/<name>/best.safetensors   checkpoint of the best epoch by train.best_metric
 *   runs/<name>/tb/                TensorBoard event files, one per start of the run
 *                                  (train.tensorboard; docs/TENSORBOARD.md), flushed after
 *                                  every epoch and on a stop
 * with exact resumption: a run continued from last.safetensors (xc_train_opts.resume) ends with
 * the same weights, bit for bit on the CPU, as a run that was never interrupted — the model,
 * Adam state, generator states, sampler (seed, epoch, position), schedule and the running sums
 * of a partial epoch are all in the checkpoint (xraycls/checkpoint.h).
 * What it is not: printing (the callbacks hand lines to the command) or signal handling (the
 * command sets *stop; the loop finishes the step in progress, checkpoints and returns).
 *
 * Failure: -1 with xc_error() naming the file, key, epoch and step.
 */
#ifndef XRAYCLS_TRAIN_H
#define XRAYCLS_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "xraycls/config.h"
#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The learning rate of 0-based `epoch` under the config's schedule, as torch's schedulers
 * stepped once per epoch give it: "step" is StepLR (lr × gamma every step_size epochs, applied
 * by repeated multiplication as torch does), "cosine" is CosineAnnealingLR's closed form with
 * T_max = train.epochs and eta_min = min_lr, "none" is constant. */
double xc_schedule_lr(const xc_config *c, int epoch);

/* The numbers of one epoch. Validation fields are NaN when there is no validation split. */
typedef struct {
    int epoch; /* 1-based, as printed */
    int epochs;
    double train_loss, train_acc;
    double val_loss, val_acc, val_balanced_acc;
    double val_auroc; /* macro AUROC over the classes (findings) where defined */
    double val_macro_f1; /* mean F1 over the classes present (findings with a positive, at 0.5) */
    double lr;
    double seconds, images_per_s;
    int improved; /* 1 when best.safetensors was written for this epoch */
    int64_t skipped_steps; /* steps skipped for a non-finite loss (on_nonfinite "skip") */
} xc_epoch_result;

/* How the run ended. */
typedef enum {
    XC_TRAIN_DONE = 0,   /* all epochs trained */
    XC_TRAIN_STOPPED,    /* *stop was set: a consistent checkpoint was written */
} xc_train_outcome;

typedef struct {
    int resume;               /* 1: continue the run in run_dir from last.safetensors */
    int overwrite;            /* 1: replace an existing run folder's files */
    const char *run_dir;      /* the folder (resume: required; else NULL: runs_dir/name) */
    volatile sig_atomic_t *stop; /* non-NULL: polled after every step */
    int progress;             /* 1: draw a progress bar on stderr (a terminal) */
    int threads;              /* > 0: libtorch's CPU threads (--threads), before OMP_NUM_THREADS
                               * and train.threads (xc_threads_resolve); 0: not given */
    /* Called with each finished epoch, and with each train.log line (both may be NULL). */
    void (*on_epoch)(void *ud, const xc_epoch_result *r);
    void (*on_log)(void *ud, const char *line);
    void *ud;
} xc_train_opts;

typedef struct {
    xc_train_outcome outcome;
    char run_dir[1400];
    int epochs_done;
    int64_t global_step;
    int has_best;
    double best_value;
    int best_epoch;
    int rank, world; /* data-parallel training: this process's rank and the world size */
} xc_train_result;

/* Trains per the config (already validated by xc_config_parse). With opts->resume the config
 * must equal the one the run started with (its config.json) except train.epochs (raise it to
 * extend a finished run), train.device, train.log_every and output.*: anything else is refused
 * naming the first differing key. Returns 0 (result filled, outcome DONE or STOPPED) or -1: a
 * bad dataset, missing weights, an existing run folder without overwrite, or a non-finite
 * loss/gradient with on_nonfinite "stop" (message with epoch and step; the last good checkpoint
 * is kept). */
int xc_train_run(const xc_config *c, const xc_train_opts *opts, xc_train_result *res);

#ifdef __cplusplus
}
#endif
#endif
