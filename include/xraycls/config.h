/* xraycls/config.h — the training configuration: strict JSON, defaults from the paper.
 *
 * A config file is a JSON object with the sections below; every key is optional except
 * data.path. Unknown keys, wrong types and bad enum values are errors naming the file and the
 * key path: "config 'a.json': optim.lr: expected a number, got a string",
 * "config 'a.json': unknown key 'train.epoch' (did you mean 'epochs'?)".
 *
 *   data     path (prepared dataset folder, required), batch_size 32, sampler "weighted"|"shuffle"
 *            ("weighted"), augment {hflip 0.5, vflip 0.5, rotate 0.3, rotate_deg 15},
 *            val_split "val" (the split validated on each epoch; "" for none)
 *   model    arch "resnet50" (resnet18/34/50/101/152, densenet121/161/169/201),
 *            weights "imagenet"|"chexnet"|"none"|PATH ("imagenet"), weights_dir
 *            ($XRAYCLS_WEIGHTS, else "data/weights"), freeze_backbone_epochs 0,
 *            channels_last "auto"|"on"|"off"
 *   loss     type "ce"|"focal"|"bce" ("ce"), gamma 2.0, alpha null|[per class],
 *            class_weights null|"inverse_frequency"|[per class],
 *            pos_weight null|"inverse_frequency"|[per finding]
 *            A multi-label dataset (prepare.h) trains with "bce" (BCE with logits) or "focal"
 *            (the sigmoid focal loss; alpha then [per finding] in [0, 1], the weight of the
 *            positives, 1 − alpha that of the negatives), both over the known entries only;
 *            pos_weight ("bce" only) multiplies the positives' term, "inverse_frequency" =
 *            negatives / positives of each finding in the training split (PyTorch's recipe).
 *            "ce" and class_weights are single-label and refused there.
 *   optim    lr 1e-3, betas [0.9, 0.999], eps 1e-8, weight_decay 0
 *   schedule type "step"|"cosine"|"none" ("step"), step_size 10, gamma 0.5, min_lr 0
 *   train    epochs 20, seed 0, device "auto", best_metric "val_accuracy"|"val_loss"|
 *            "val_balanced_accuracy"|"val_auroc" (macro AUROC over the classes, or the findings
 *            of a multi-label dataset, where defined)|"val_macro_f1" (mean F1 over the classes
 *            present in the split; multi-label: over the findings with a positive, at 0.5), precision "auto"|"fp32"|"bf16"|"fp16", on_nonfinite
 *            "stop"|"skip", log_every 50 (steps between train.log lines), max_steps_per_epoch 0
 *            (0: whole epoch; a positive number cuts epochs short, for smoke tests),
 *            threads 0 (libtorch's CPU threads; 0: every CPU the process may use; --threads
 *            and OMP_NUM_THREADS take precedence, xc_threads_resolve),
 *            distributed {backend "auto"|"gloo"|"nccl", sync_bn false, overlap true,
 *            bucket_mb 25, timeout_s 300} (used only when launched as several processes),
 *            tensorboard "auto"|true|false ("auto": TensorBoard event files in the run's tb/
 *            folder when this build has protobuf-c, else one log line says they are not
 *            written; true: required, refused by a build without protobuf-c; false: none;
 *            docs/TENSORBOARD.md)
 *   output   runs_dir "runs", name (the config file's stem), figures "png"|"svg"|"pdf"|"none"
 *            ("png": the accuracy and loss curves drawn at the end of the run, xraycls/plot.h)
 *
 * "imagenet" weights exist for every arch, "chexnet" for densenet121 only; the file each needs
 * is looked up under its published name in weights_dir, then in torchvision's cache
 * ($TORCH_HOME/hub/checkpoints, default ~/.cache/torch) (xc_config_weights_file).
 */
#ifndef XRAYCLS_CONFIG_H
#define XRAYCLS_CONFIG_H

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XC_CONFIG_MAX_CLASSES 64

typedef enum { XC_CFG_SAMPLER_WEIGHTED = 0, XC_CFG_SAMPLER_SHUFFLE } xc_cfg_sampler;
typedef enum { XC_LOSS_CE = 0, XC_LOSS_FOCAL, XC_LOSS_BCE } xc_loss_kind;
typedef enum { XC_CW_NONE = 0, XC_CW_INVERSE_FREQUENCY, XC_CW_LIST } xc_class_weight_kind;
typedef enum { XC_SCHED_STEP = 0, XC_SCHED_COSINE, XC_SCHED_NONE } xc_sched_kind;
typedef enum { XC_BEST_VAL_ACCURACY = 0, XC_BEST_VAL_LOSS, XC_BEST_VAL_BALANCED_ACCURACY, XC_BEST_VAL_AUROC, XC_BEST_VAL_MACRO_F1 } xc_best_kind;
typedef enum { XC_PREC_AUTO = 0, XC_PREC_FP32, XC_PREC_BF16, XC_PREC_FP16 } xc_precision;
typedef enum { XC_NONFINITE_STOP = 0, XC_NONFINITE_SKIP } xc_nonfinite;
typedef enum { XC_TRISTATE_AUTO = 0, XC_TRISTATE_ON, XC_TRISTATE_OFF } xc_tristate;
typedef enum { XC_DIST_AUTO = 0, XC_DIST_GLOO, XC_DIST_NCCL } xc_dist_backend;

typedef struct {
    struct {
        char path[1024];
        int batch_size;
        xc_cfg_sampler sampler;
        double hflip, vflip, rotate, rotate_deg;
        char val_split[64];
    } data;
    struct {
        char arch[32];
        char weights[1024]; /* "imagenet", "chexnet", "none" or a file path */
        char weights_dir[1024];
        int freeze_backbone_epochs;
        xc_tristate channels_last;
    } model;
    struct {
        xc_loss_kind type;
        double gamma;
        int n_alpha; /* 0: null */
        double alpha[XC_CONFIG_MAX_CLASSES];
        xc_class_weight_kind class_weights;
        int n_class_weights;
        double class_weight[XC_CONFIG_MAX_CLASSES];
        xc_class_weight_kind pos_weights; /* multi-label "bce" */
        int n_pos_weight;
        double pos_weight[XC_CONFIG_MAX_CLASSES];
    } loss;
    struct {
        double lr, beta1, beta2, eps, weight_decay;
    } optim;
    struct {
        xc_sched_kind type;
        int step_size;
        double gamma, min_lr;
    } schedule;
    struct {
        int epochs;
        unsigned long long seed;
        char device[32];
        xc_best_kind best_metric;
        xc_precision precision;
        xc_nonfinite on_nonfinite;
        int log_every;
        int max_steps_per_epoch;
        int threads; /* libtorch's CPU threads, 0: every usable CPU (xc_threads_resolve) */
        xc_tristate tensorboard; /* AUTO ("auto"), ON (true), OFF (false) */
        /* Data-parallel training when launched as several processes (docs/DISTRIBUTED.md):
         * backend auto (NCCL on CUDA, else Gloo); sync_bn: batch norm over all ranks' batches;
         * overlap: all-reduce gradients in buckets of bucket_mb during the backward pass;
         * timeout_s: rendezvous and every collective (a dead rank is reported after it). */
        struct {
            xc_dist_backend backend;
            int sync_bn, overlap;
            double bucket_mb, timeout_s;
        } distributed;
    } train;
    struct {
        char runs_dir[1024];
        char name[256];
        int figures; /* xc_plot_format (xraycls/plot.h): "png" 0, "svg", "pdf", "none" */
    } output;
} xc_config;

/* The defaults (data.path empty, output.name "run"). */
void xc_config_default(xc_config *c);

/* Parses config text. `what` names it in messages (usually the file path). `sets` are n
 * "key.path=value" overrides applied on top of the text before validation: the value is parsed
 * as JSON, and taken as a string when it is not valid JSON. `stem` (may be NULL) is the default
 * of output.name. */
int xc_config_parse(xc_config *c, const char *text, const char *what, const char *const *sets,
                    int nsets, const char *stem);

/* Reads and parses a config file; output.name defaults to the file's stem. */
int xc_config_load(xc_config *c, const char *path, const char *const *sets, int nsets);

/* The resolved config as JSON (every default filled in; malloc'd, the caller frees). Parsing it
 * again gives the same config. */
char *xc_config_to_json(const xc_config *c);

/* Names of enum values as they are written in JSON. */
const char *xc_best_metric_name(xc_best_kind k);

/* For named weights ("imagenet", "chexnet"): the file names that hold them for the configured
 * arch, preferred first (up to 4 written, count returned). For "none" returns 0; for a path
 * returns 1 with the path itself. -1 with a message when the name does not exist for the arch. */
int xc_config_weights_candidates(const xc_config *c, const char **names, int cap);

/* Finds the weight file of the config: "none" sets *out to "" and returns 0; a path must exist;
 * a name is looked up in model.weights_dir, then in $TORCH_HOME/hub/checkpoints (TORCH_HOME
 * defaulting to $XDG_CACHE_HOME/torch, else ~/.cache/torch), and when no candidate is found the
 * message names the folders searched, the file and where it is published. *out is malloc'd. */
int xc_config_weights_file(const xc_config *c, char **out);

#ifdef __cplusplus
}
#endif
#endif
