/* train_setup.c — the setup of a training run (see train_internal.h): its folder, the model
 * and its pretrained weights, the optimiser, the loss with its class weights, the precision,
 * the datasets and the sampler. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/weights.h"

static const char *const run_files[] = {"config.json", "metrics.jsonl", "metrics.csv", "train.log",
                                        "last.safetensors", "best.safetensors", "accuracy.png",
                                        "loss.png"};

int tr_prepare_dir_name(run *r) {
    const xc_config *c = r->c;
    if (r->o->run_dir && *r->o->run_dir) snprintf(r->dir, sizeof r->dir, "%s", r->o->run_dir);
    else snprintf(r->dir, sizeof r->dir, "%s/%s", c->output.runs_dir, c->output.name);
    return 0;
}

int tr_prepare_dir(run *r) {
    tr_prepare_dir_name(r);
    if (r->o->resume) {
        char *last = xc_path_join(r->dir, "last.safetensors");
        int ok = last && xc_is_file(last);
        free(last);
        if (!ok)
            return xc_errorf("cannot resume '%s': it holds no last.safetensors (was the run "
                             "stopped before its first checkpoint?)", r->dir);
        return 0;
    }
    if ((xc_is_dir(r->dir) || xc_is_file(r->dir)) && !r->o->overwrite)
        return xc_errorf("run folder '%s' exists: continue it with --resume '%s', replace it "
                         "with --overwrite, or set output.name", r->dir, r->dir);
    return 0;
}

/* Makes the run folder; with overwrite, removes the files an earlier run left (only those). */
int tr_make_dir(run *r) {
    if (r->o->overwrite)
        for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
            char *p = xc_path_join(r->dir, run_files[i]);
            if (p && xc_is_file(p) && remove(p) != 0) {
                int rc = xc_errorf_errno("cannot remove '%s'", p);
                free(p);
                return rc;
            }
            free(p);
        }
    return xc_mkdir_p(r->dir);
}

/* Loads pretrained weights into a freshly built model: a safetensors file, or a torch.save
 * file read by xraycls/weights.h with torchvision names. A head of another class count is
 * re-initialised (reported). */
static int load_pretrained(run *r, const char *file) {
    size_t n = strlen(file);
    int is_st = n >= 12 && !strcmp(file + n - 12, ".safetensors");
    xc_load_report rep;
    memset(&rep, 0, sizeof rep);
    int rc;
    if (is_st) {
        rc = xc_model_load_file(r->model, file, &rep);
    } else {
        xc_torchfile *tf = xc_torchfile_open(file);
        if (!tf) return -1;
        const xc_st_tensor *src;
        int ns;
        rc = xc_torchfile_st_tensors(tf, 1, &src, &ns);
        xc_st_tensor *t = rc == 0 ? malloc((size_t)(ns ? ns : 1) * sizeof *t) : NULL;
        char (*names)[256] = rc == 0 ? malloc((size_t)(ns ? ns : 1) * sizeof *names) : NULL;
        if (rc == 0 && (!t || !names)) rc = xc_errorf("out of memory");
        if (rc == 0) {
            /* A Linear+Sigmoid head stored as "<head>.0.weight" (CheXNet's) is the head. */
            const char *head = xc_model_head_name(r->model);
            size_t lh = strlen(head);
            for (int i = 0; i < ns; i++) {
                t[i] = src[i];
                if (!strncmp(src[i].name, head, lh) && !strncmp(src[i].name + lh, ".0.", 3)) {
                    snprintf(names[i], sizeof names[i], "%s.%s", head, src[i].name + lh + 3);
                    t[i].name = names[i];
                }
            }
            rc = xc_model_load_named(r->model, t, ns, file, &rep);
        }
        free(t);
        free(names);
        xc_torchfile_close(tf);
    }
    if (rc == 0) {
        tr_log(r, "weights: %d tensors from '%s'%s", rep.loaded, file,
                rep.head_reinit ? "" : " (head included)");
        if (rep.head_reinit)
            tr_log(r, "head: the file's %" PRId64 "-output head replaced by a new %d-class %s",
                    rep.source_head_classes, xc_model_num_classes(r->model),
                    xc_model_head_name(r->model));
        if (rep.n_unused) tr_log(r, "weights: %d tensors of the file unused (first: %s)",
                                  rep.n_unused, rep.unused[0]);
    }
    xc_load_report_free(&rep);
    return rc;
}

static xt_tensor *class_vector(const double *v, int k, xt_device dev) {
    float f[XC_CONFIG_MAX_CLASSES];
    for (int i = 0; i < k; i++) f[i] = (float)v[i];
    int64_t shape[1] = {k};
    xt_arena *prev = xt_arena_push(NULL);
    xt_tensor *h = xt_from_host(f, 1, shape, XT_F32);
    xt_tensor *d = h ? xt_to_device(h, dev, 0) : NULL;
    xt_free(h);
    xt_arena_push(prev);
    return d;
}

static int setup_loss(run *r) {
    const xc_config *c = r->c;
    int k = xc_dataset_num_classes(r->train);
    if (c->loss.n_alpha && c->loss.n_alpha != k)
        return xc_errorf("loss.alpha has %d values, the dataset has %d classes", c->loss.n_alpha, k);
    if (c->loss.class_weights == XC_CW_LIST && c->loss.n_class_weights != k)
        return xc_errorf("loss.class_weights has %d values, the dataset has %d classes",
                         c->loss.n_class_weights, k);
    if (c->loss.class_weights != XC_CW_NONE && c->loss.type != XC_LOSS_CE)
        return xc_errorf("loss.class_weights applies to loss.type \"ce\"; focal loss is weighted "
                         "by loss.alpha");
    if (c->loss.n_alpha && c->loss.type != XC_LOSS_FOCAL)
        return xc_errorf("loss.alpha applies to loss.type \"focal\"; cross-entropy is weighted by "
                         "loss.class_weights");
    if (c->loss.n_alpha && !(r->alpha = class_vector(c->loss.alpha, k, r->dev))) return -1;
    if (c->loss.class_weights == XC_CW_LIST &&
        !(r->class_weight = class_vector(c->loss.class_weight, k, r->dev)))
        return -1;
    if (c->loss.class_weights == XC_CW_INVERSE_FREQUENCY) {
        /* n / (k × n_class), as scikit-learn's "balanced"; an absent class weighs 0. */
        double w[XC_CONFIG_MAX_CLASSES];
        int64_t n = xc_dataset_len(r->train);
        for (int i = 0; i < k; i++) {
            int64_t cnt = xc_dataset_class_count(r->train, i);
            w[i] = cnt ? (double)n / ((double)k * (double)cnt) : 0.0;
        }
        if (!(r->class_weight = class_vector(w, k, r->dev))) return -1;
        char buf[512];
        size_t used = 0;
        for (int i = 0; i < k && used < sizeof buf; i++)
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %.4g", i ? ", " : "",
                                     xc_dataset_class(r->train, i), w[i]);
        tr_log(r, "class weights (inverse frequency): %s", buf);
    }
    return 0;
}

static int setup_precision(run *r) {
    xc_precision p = r->c->train.precision;
    if (p == XC_PREC_AUTO) p = r->dev >= 0 ? XC_PREC_BF16 : XC_PREC_FP32;
    r->loss_scale = 1.0;
    if (p == XC_PREC_FP32) return 0;
    if (p == XC_PREC_FP16 && r->dev < 0)
        return xc_errorf("train.precision \"fp16\" needs a CUDA device (use \"bf16\" or \"fp32\" on the CPU)");
    r->autocast = 1;
    r->amp_dtype = p == XC_PREC_BF16 ? XT_BF16 : XT_F16;
    if (p == XC_PREC_FP16) r->loss_scale = 65536.0;
    /* Probe once so an unsupported combination fails here, not at the first step. */
    if (xt_autocast_set(r->dev, 1, r->amp_dtype) < 0)
        return xc_errorf("train.precision: %s", xc_error());
    xt_autocast_set(r->dev, 0, r->amp_dtype);
    return 0;
}

int tr_build(run *r, const xc_config *c) {
    if (!r->dev_fixed && xt_device_parse(c->train.device, &r->dev) < 0)
        return xc_errorf("train.device: %s", xc_error());
    r->train = xc_dataset_open(c->data.path, "train");
    if (!r->train) return xc_errorf("data.path: %s", xc_error());
    if (c->data.val_split[0]) {
        char file[1200];
        snprintf(file, sizeof file, "%s/%s.safetensors", c->data.path, c->data.val_split);
        if (xc_is_file(file)) {
            r->val = xc_dataset_open(c->data.path, c->data.val_split);
            if (!r->val) return xc_errorf("data.val_split: %s", xc_error());
            if (xc_dataset_num_classes(r->val) != xc_dataset_num_classes(r->train))
                return xc_errorf("'%s' has %d classes, the training split %d", file,
                                 xc_dataset_num_classes(r->val), xc_dataset_num_classes(r->train));
        } else {
            tr_log(r, "no validation split ('%s' absent): the best checkpoint follows the "
                       "training numbers", file);
        }
    }
    int k = xc_dataset_num_classes(r->train);
    if (k < 2 || k > XC_INFO_MAX_CLASSES)
        return xc_errorf("'%s': %d classes; training needs 2 to %d", xc_dataset_path(r->train), k,
                         XC_INFO_MAX_CLASSES);

    /* What the checkpoint says about the model. */
    memset(&r->info, 0, sizeof r->info);
    snprintf(r->info.arch, sizeof r->info.arch, "%s", c->model.arch);
    r->info.num_classes = k;
    for (int i = 0; i < k; i++) {
        const char *name = xc_dataset_class(r->train, i);
        if (strlen(name) >= XC_CLASS_NAME_MAX)
            return xc_errorf("'%s': class name '%s' is too long", xc_dataset_path(r->train), name);
        snprintf(r->info.classes[i], XC_CLASS_NAME_MAX, "%s", name);
    }
    snprintf(r->info.head, sizeof r->info.head, "softmax");
    r->norm = xc_normalize_imagenet();
    r->info.image_size = xc_dataset_size(r->train);
    r->info.channels = xc_dataset_channels(r->train);
    memcpy(r->info.mean, r->norm.mean, sizeof r->info.mean);
    memcpy(r->info.std, r->norm.std, sizeof r->info.std);
    r->info.expand_gray_to_rgb = r->info.channels == 1;
    r->aug = (xc_augment){c->data.hflip, c->data.vflip, c->data.rotate, c->data.rotate_deg, 0, 0};

    char devname[32];
    xt_device_string(r->dev, devname, sizeof devname);
    tr_log(r, "run '%s' on %s, %s, %d classes, %" PRId64 " training images%s", r->dir, devname,
            c->model.arch, k, xc_dataset_len(r->train), r->val ? "" : ", no validation");

    /* The model: seeded initialisation, then weights. */
    xt_manual_seed(c->train.seed);
    char *wfile = NULL;
    if (xc_config_weights_file(c, &wfile) < 0) return -1;
    r->model = xc_model_new(c->model.arch, k, r->dev);
    if (!r->model) {
        free(wfile);
        return -1;
    }
    int rc = 0;
    if (*wfile && !r->o->resume) rc = load_pretrained(r, wfile);
    else if (!*wfile) tr_log(r, "weights: none (random initialisation, seed %llu)", c->train.seed);
    free(wfile);
    if (rc < 0) return -1;
    int cl = c->model.channels_last == XC_TRISTATE_ON ||
             (c->model.channels_last == XC_TRISTATE_AUTO && r->dev >= 0);
    if (cl && xc_model_set_channels_last(r->model, 1) < 0) return -1;

    /* Adam over every parameter: frozen ones get no gradient and so no update, as in torch. */
    xt_tensor *const *params;
    int np;
    if (xc_model_params(r->model, &params, &np) < 0) return -1;
    xt_adam_params ap = xt_adam_default();
    ap.lr = c->optim.lr;
    ap.beta1 = c->optim.beta1;
    ap.beta2 = c->optim.beta2;
    ap.eps = c->optim.eps;
    ap.weight_decay = c->optim.weight_decay;
    r->adam = xt_adam_new(params, np, ap);
    if (!r->adam) return -1;
    tr_log(r, "model: %" PRId64 " parameters in %d tensors", xc_model_param_numel(r->model), np);

    xc_sampler_kind sk = c->data.sampler == XC_CFG_SAMPLER_SHUFFLE ? XC_SAMPLER_SHUFFLE : XC_SAMPLER_WEIGHTED;
    r->sampler = xc_sampler_new(sk, xc_dataset_labels(r->train), xc_dataset_len(r->train), k,
                                c->train.seed);
    if (!r->sampler) return -1;
    if (setup_loss(r) < 0 || setup_precision(r) < 0 || tr_dist_attach(r) < 0) return -1;
    if (r->dev >= 0 && xc_dataset_make_resident(r->train, r->dev) < 0)
        tr_log(r, "dataset stays in host memory: %s", xc_error());
    return 0;
}
