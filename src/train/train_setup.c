/* train_setup.c — the setup of a training run (see train_internal.h): its folder, the model
 * and its pretrained weights, the optimiser, the loss with its class weights, the precision,
 * the datasets and the sampler. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/findings.h"
#include "xraycls/fs.h"
#include "xraycls/weights.h"

static const char *const run_files[] = {"config.json",      "metrics.jsonl",    "metrics.csv",  "train.log",
                                        "last.safetensors", "best.safetensors", "accuracy.png", "loss.png",
                                        "accuracy.svg",     "loss.svg",         "accuracy.pdf", "loss.pdf"};

int tr_prepare_dir_name(run *r) {
    const xc_config *c = r->c;
    if (r->o->run_dir && *r->o->run_dir) snprintf(r->dir, sizeof r->dir, "%s", r->o->run_dir);
    else snprintf(r->dir, sizeof r->dir, "%s/%s", c->output.runs_dir, c->output.name);
    return 0;
}

/* Takes the run folder's lock (RUN/.lock, held until the run ends) so that a second train on
 * the same folder is refused instead of mixing two runs' files; then removes the temporaries a
 * killed run left there. */
static int lock_dir(run *r) {
    if (r->lock_fd >= 0) return 0;
    char *p = xc_path_join(r->dir, ".lock");
    if (!p) return xc_errorf("out of memory");
    long holder = 0;
    r->lock_fd = xc_lock_acquire(p, r->dir, &holder);
    free(p);
    if (r->lock_fd < 0) {
        r->lock_fd = -1;
        return holder > 0 ? xc_errorf("run folder %s: wait for it to end, or choose another output.name", xc_error())
                          : -1;
    }
    int live = 0;
    return xc_remove_stale_temporaries(r->dir, &live, NULL) < 0 ? -1 : 0;
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
        return lock_dir(r);
    }
    if ((xc_is_dir(r->dir) || xc_is_file(r->dir)) && !r->o->overwrite)
        return xc_errorf("run folder '%s' exists: continue it with --resume '%s', replace it "
                         "with --overwrite, or set output.name", r->dir, r->dir);
    return 0;
}

/* Makes the run folder; with overwrite, removes the files an earlier run left (only those). */
/* The folders an earlier run's commands wrote into its folder and --overwrite removes with it,
 * so that no evaluation or event file of the old checkpoints is left beside the new ones:
 * tb (TensorBoard), and the eval-... and compare-... folders holding an eval.json / compare.json. */
static int old_run_folder(const char *dir, const char *name) {
    if (!strcmp(name, "tb")) return 1;
    const char *marker = !strncmp(name, "eval-", 5) ? "eval.json" : !strncmp(name, "compare-", 8) ? "compare.json" : NULL;
    if (!marker) return 0;
    char *sub = xc_path_join(dir, name), *m = sub ? xc_path_join(sub, marker) : NULL;
    int yes = m && xc_is_file(m);
    free(m);
    free(sub);
    return yes;
}

/* Makes the run folder and takes its lock; with overwrite, removes what an earlier run left
 * (its files, and the folders of old_run_folder — nothing else). */
int tr_make_dir(run *r) {
    if (xc_mkdir_p(r->dir) < 0 || lock_dir(r) < 0) return -1;
    if (!r->o->overwrite) return 0;
    for (size_t i = 0; i < sizeof run_files / sizeof run_files[0]; i++) {
        char *p = xc_path_join(r->dir, run_files[i]);
        if (p && xc_is_file(p) && remove(p) != 0) {
            int rc = xc_errorf_errno("cannot remove '%s'", p);
            free(p);
            return rc;
        }
        free(p);
    }
    char **subs = NULL;
    int64_t n = 0;
    if (xc_walk(r->dir, XC_WALK_DIRS, NULL, &subs, &n) < 0) return -1;
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        if (!old_run_folder(r->dir, subs[i])) continue;
        char *p = xc_path_join(r->dir, subs[i]);
        rc = p ? xc_remove_tree(p) : xc_errorf("out of memory");
        if (rc == 0) tr_log(r, "--overwrite: removed the earlier run's %s/", subs[i]);
        free(p);
    }
    xc_strv_free(subs, n);
    return rc;
}

/* CheXNet's head onto a multi-label dataset's findings, by name: row k of the new head is
 * CheXNet's row of the finding named like the dataset's finding k (xc_finding_same), or the
 * model's fresh initialisation for a finding CheXNet lacks. The whole head is kept as it is
 * when the findings are CheXNet's 14 in its order. w, b: the file's head tensors, replaced in
 * place by the mapped (K, F) / (K) float32 copies in *wbuf / *bbuf (malloc'd, caller frees). */
static int map_chexnet_head(run *r, xc_st_tensor *w, xc_st_tensor *b, float **wbuf, float **bbuf) {
    int k = xc_model_num_classes(r->model);
    if (w->dtype != XC_F32 || b->dtype != XC_F32 || w->ndim != 2 || b->ndim != 1 ||
        w->shape[0] != XC_CHEXNET_NUM_CLASSES || b->shape[0] != XC_CHEXNET_NUM_CLASSES)
        return xc_errorf("weights: the CheXNet head is not float32 (14, F) and (14): cannot map it onto the findings");
    int64_t f = w->shape[1];
    int src[XC_INFO_MAX_CLASSES], mapped = 0, in_order = k == XC_CHEXNET_NUM_CLASSES;
    for (int i = 0; i < k; i++) {
        src[i] = xc_finding_index(xc_chexnet_classes, XC_CHEXNET_NUM_CLASSES, xc_dataset_class(r->train, i));
        mapped += src[i] >= 0;
        in_order &= src[i] == i;
    }
    if (in_order) {
        tr_log(r, "head: CheXNet's 14-finding head kept (the dataset's findings are CheXNet's)");
        return 0;
    }
    /* the fresh head, then CheXNet's rows over it */
    const xc_model_entry *hw = NULL, *hb = NULL;
    char wname[300], bname[300];
    snprintf(wname, sizeof wname, "%s.weight", xc_model_head_name(r->model));
    snprintf(bname, sizeof bname, "%s.bias", xc_model_head_name(r->model));
    for (int i = 0; i < xc_model_state_count(r->model); i++) {
        const xc_model_entry *e = xc_model_state_at(r->model, i);
        if (!strcmp(e->name, wname)) hw = e;
        if (!strcmp(e->name, bname)) hb = e;
    }
    if (!hw || !hb || xt_size(hw->tensor, 1) != f) return xc_errorf("weights: the model's head does not take %lld features", (long long)f);
    *wbuf = malloc((size_t)k * (size_t)f * sizeof **wbuf);
    *bbuf = malloc((size_t)k * sizeof **bbuf);
    if (!*wbuf || !*bbuf) return xc_errorf("out of memory");
    xt_tensor *cw = xt_to_device(hw->tensor, XT_CPU, 0), *cb = xt_to_device(hb->tensor, XT_CPU, 0);
    if (!cw || !cb || xt_to_host(cw, *wbuf, (size_t)k * (size_t)f * sizeof **wbuf) < 0 ||
        xt_to_host(cb, *bbuf, (size_t)k * sizeof **bbuf) < 0)
        return -1;
    char kept[1024] = "", fresh[1024] = "";
    for (int i = 0; i < k; i++) {
        char *list = src[i] >= 0 ? kept : fresh;
        size_t used = strlen(list);
        if (used < 900) snprintf(list + used, 1024 - used, "%s%s", used ? ", " : "", xc_dataset_class(r->train, i));
        if (src[i] < 0) continue;
        /* the map may be unaligned for float: copy bytes */
        memcpy(*wbuf + (size_t)i * (size_t)f, (const char *)w->data + (size_t)src[i] * (size_t)f * sizeof(float),
               (size_t)f * sizeof(float));
        memcpy(*bbuf + i, (const char *)b->data + (size_t)src[i] * sizeof(float), sizeof(float));
    }
    w->shape[0] = k;
    b->shape[0] = k;
    w->data = *wbuf;
    b->data = *bbuf;
    w->nbytes = (size_t)k * (size_t)f * sizeof(float);
    b->nbytes = (size_t)k * sizeof(float);
    tr_log(r, "head: CheXNet's rows for %d of %d findings by name (%s)%s%s%s", mapped, k, mapped ? kept : "none",
           mapped < k ? "; new rows for " : "", mapped < k ? fresh : "", "");
    return 0;
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
        float *wbuf = NULL, *bbuf = NULL;
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
            /* a multi-label dataset fine-tuning CheXNet: its head, mapped by finding name */
            if (r->multilabel && !strcmp(r->c->model.weights, "chexnet")) {
                xc_st_tensor *hw = NULL, *hb = NULL;
                char wname[300], bname[300];
                snprintf(wname, sizeof wname, "%s.weight", head);
                snprintf(bname, sizeof bname, "%s.bias", head);
                for (int i = 0; i < ns; i++) {
                    if (!strcmp(t[i].name, wname)) hw = &t[i];
                    if (!strcmp(t[i].name, bname)) hb = &t[i];
                }
                if (!hw || !hb) rc = xc_errorf("weights '%s': no CheXNet head (%s, %s)", file, wname, bname);
                else rc = map_chexnet_head(r, hw, hb, &wbuf, &bbuf);
            }
            if (rc == 0) rc = xc_model_load_named(r->model, t, ns, file, &rep);
        }
        free(t);
        free(names);
        free(wbuf);
        free(bbuf);
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

/* The multi-label losses: "bce" with pos_weight, or the sigmoid focal loss with alpha. */
static int setup_loss_multilabel(run *r) {
    const xc_config *c = r->c;
    int k = xc_dataset_num_classes(r->train);
    const char *data = xc_dataset_path(r->train);
    if (c->loss.type == XC_LOSS_CE)
        return xc_errorf("loss.type \"ce\" is single-label, and '%s' is multi-label (%d findings): use \"bce\" "
                         "or \"focal\" (the sigmoid focal loss)", data, k);
    if (c->loss.class_weights != XC_CW_NONE)
        return xc_errorf("loss.class_weights weighs the classes of single-label cross-entropy; for the findings "
                         "of '%s' use loss.pos_weight (\"bce\") or loss.alpha (\"focal\")", data);
    if (c->loss.pos_weights != XC_CW_NONE && c->loss.type != XC_LOSS_BCE)
        return xc_errorf("loss.pos_weight applies to loss.type \"bce\"; the focal loss is weighted by loss.alpha");
    if (c->loss.n_alpha && c->loss.type != XC_LOSS_FOCAL)
        return xc_errorf("loss.alpha applies to loss.type \"focal\"; \"bce\" is weighted by loss.pos_weight");
    if (c->loss.n_alpha) {
        if (c->loss.n_alpha != k)
            return xc_errorf("loss.alpha has %d values, the dataset has %d findings", c->loss.n_alpha, k);
        for (int i = 0; i < k; i++)
            if (c->loss.alpha[i] > 1)
                return xc_errorf("loss.alpha[%d]: %g is not in [0, 1] (the weight of a finding's positives; its "
                                 "negatives weigh 1 - alpha)", i, c->loss.alpha[i]);
        if (!(r->alpha = class_vector(c->loss.alpha, k, r->dev))) return -1;
    }
    if (c->loss.pos_weights == XC_CW_LIST) {
        if (c->loss.n_pos_weight != k)
            return xc_errorf("loss.pos_weight has %d values, the dataset has %d findings", c->loss.n_pos_weight, k);
        if (!(r->pos_weight = class_vector(c->loss.pos_weight, k, r->dev))) return -1;
    }
    if (c->loss.pos_weights == XC_CW_INVERSE_FREQUENCY) {
        /* negatives / positives of each finding among the known entries (PyTorch's recipe for
         * pos_weight); a finding without positives gets 1 */
        double w[XC_CONFIG_MAX_CLASSES];
        char buf[512];
        size_t used = 0;
        for (int i = 0; i < k; i++) {
            int64_t p = xc_dataset_class_count(r->train, i), q = xc_dataset_negative_count(r->train, i);
            w[i] = p ? (double)q / (double)p : 1.0;
            if (used < sizeof buf)
                used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s %.4g", i ? ", " : "",
                                         xc_dataset_class(r->train, i), w[i]);
        }
        if (!(r->pos_weight = class_vector(w, k, r->dev))) return -1;
        tr_log(r, "pos_weight (negatives / positives): %s", buf);
    }
    return 0;
}

static int setup_loss(run *r) {
    const xc_config *c = r->c;
    int k = xc_dataset_num_classes(r->train);
    if (r->multilabel) return setup_loss_multilabel(r);
    if (c->loss.type == XC_LOSS_BCE)
        return xc_errorf("loss.type \"bce\" trains independent findings: '%s' is a single-label dataset (use \"ce\" "
                         "or \"focal\"; prepare a multi-label one with --findings)", xc_dataset_path(r->train));
    if (c->loss.pos_weights != XC_CW_NONE)
        return xc_errorf("loss.pos_weight applies to multi-label \"bce\"; single-label cross-entropy is weighted "
                         "by loss.class_weights");
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
    if (r->dev != XT_CPU) {
        /* Every step has the same shapes: let cuDNN time its algorithms once and keep the
         * fastest, and let convolutions and matrix products use TF32 tensor cores (as PyTorch
         * does for cuDNN convolutions by default). */
        xt_set_cudnn_benchmark(1);
        xt_set_tf32(1);
        tr_log(r, "cuda:%d: cuDNN benchmark mode on, TF32 on", r->dev);
    }
    r->train = xc_dataset_open(c->data.path, "train");
    if (!r->train) return xc_errorf("data.path: %s", xc_error());
    r->multilabel = xc_dataset_multilabel(r->train);
    if (c->data.val_split[0]) {
        char file[1200];
        snprintf(file, sizeof file, "%s/%s.safetensors", c->data.path, c->data.val_split);
        if (xc_is_file(file)) {
            r->val = xc_dataset_open(c->data.path, c->data.val_split);
            if (!r->val) return xc_errorf("data.val_split: %s", xc_error());
            if (xc_dataset_num_classes(r->val) != xc_dataset_num_classes(r->train))
                return xc_errorf("'%s' has %d classes, the training split %d", file,
                                 xc_dataset_num_classes(r->val), xc_dataset_num_classes(r->train));
            if (xc_dataset_multilabel(r->val) != r->multilabel)
                return xc_errorf("'%s' is %s, the training split %s", file,
                                 r->multilabel ? "single-label" : "multi-label",
                                 r->multilabel ? "multi-label" : "single-label");
        } else {
            tr_log(r, "no validation split ('%s' absent): the best checkpoint follows the "
                       "training numbers", file);
        }
    }
    int k = xc_dataset_num_classes(r->train);
    if (k < (r->multilabel ? 1 : 2) || k > XC_INFO_MAX_CLASSES)
        return xc_errorf("'%s': %d %s; training needs %d to %d", xc_dataset_path(r->train), k,
                         r->multilabel ? "findings" : "classes", r->multilabel ? 1 : 2, XC_INFO_MAX_CLASSES);
    if (r->multilabel && k > XC_CONFIG_MAX_CLASSES)
        return xc_errorf("'%s': %d findings; training takes at most %d", xc_dataset_path(r->train), k,
                         XC_CONFIG_MAX_CLASSES);

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
    snprintf(r->info.head, sizeof r->info.head, r->multilabel ? "sigmoid" : "softmax");
    r->norm = xc_normalize_imagenet();
    r->info.image_size = xc_dataset_size(r->train);
    r->info.channels = xc_dataset_channels(r->train);
    memcpy(r->info.mean, r->norm.mean, sizeof r->info.mean);
    memcpy(r->info.std, r->norm.std, sizeof r->info.std);
    r->info.expand_gray_to_rgb = r->info.channels == 1;
    r->aug = (xc_augment){c->data.hflip, c->data.vflip, c->data.rotate, c->data.rotate_deg, 0, 0};

    char devname[32];
    xt_device_string(r->dev, devname, sizeof devname);
    tr_log(r, "run '%s' on %s, %s, %d %s, %" PRId64 " training images%s", r->dir, devname,
            c->model.arch, k, r->multilabel ? "findings (multi-label, sigmoid head)" : "classes",
            xc_dataset_len(r->train), r->val ? "" : ", no validation");

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
    if (r->multilabel) {
        /* Multi-label, "weighted" draws each image's rarest positive finding (or "no finding")
         * equally often: P(i) ∝ 1 / count(group(i)) over the K + 1 groups
         * (xc_dataset_rarest_groups). */
        int64_t *groups = xc_dataset_rarest_groups(r->train);
        if (!groups) return -1;
        r->sampler = xc_sampler_new(sk, groups, xc_dataset_len(r->train), k + 1, c->train.seed);
        free(groups);
        if (sk == XC_SAMPLER_WEIGHTED)
            tr_log(r, "sampler: weighted by the rarest positive finding of each image (and the images "
                      "without one), each group drawn equally often");
    } else {
        r->sampler = xc_sampler_new(sk, xc_dataset_labels(r->train), xc_dataset_len(r->train), k,
                                    c->train.seed);
    }
    if (!r->sampler) return -1;
    if (setup_loss(r) < 0 || setup_precision(r) < 0 || tr_dist_attach(r) < 0) return -1;
    if (r->multilabel && c->train.best_metric == XC_BEST_VAL_ACCURACY)
        tr_log(r, "note: train.best_metric \"val_accuracy\" on multi-label data is the accuracy of the known "
                  "entries at 0.5; \"val_auroc\" (macro AUROC over the findings) is the usual choice");
    if (r->dev >= 0 && xc_dataset_make_resident(r->train, r->dev) < 0)
        tr_log(r, "dataset stays in host memory: %s", xc_error());
    return 0;
}
