/* train_step.c — one training step (forward, loss, backward, the finite-gradient check, Adam)
 * and one validation pass, for the loop in train.c (see train_internal.h). */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/metrics.h"

static xt_tensor *compute_loss(run *r, const xt_tensor *logits, const xt_tensor *y, const xt_tensor *mask,
                               int train) {
    // logits: (N, K) float32, y: (N) int64 — multi-label: y (N, K) float32 0/1, mask (N, K) float32
    if (r->multilabel) {
        if (!train) return xc_loss_bce_masked(logits, y, mask, NULL);
        if (r->c->loss.type == XC_LOSS_FOCAL) return xc_loss_focal_sigmoid(logits, y, mask, r->c->loss.gamma, r->alpha);
        return xc_loss_bce_masked(logits, y, mask, r->pos_weight);
    }
    if (!train) return xc_loss_cross_entropy(logits, y, NULL);
    if (r->c->loss.type == XC_LOSS_FOCAL) return xc_loss_focal(logits, y, r->c->loss.gamma, r->alpha);
    return xc_loss_cross_entropy(logits, y, r->class_weight);
}

static xt_tensor *forward(run *r, const xt_tensor *x) {
    // x: (N, 3, S, S) float32 → (N, K) float32
    if (r->autocast) xt_autocast_set(r->dev, 1, r->amp_dtype);
    xt_tensor *logits = xc_model_forward(r->model, x);
    if (r->autocast) xt_autocast_set(r->dev, 0, r->amp_dtype);
    if (logits && xt_dtype_of(logits) != XT_F32) logits = xt_to_dtype(logits, XT_F32);
    return logits;
}

/* 1 when every gradient is finite, 0 if not, -1 on error: one sum, one synchronisation. */
static int grads_finite(run *r, double unscale) {
    int n = xc_model_state_count(r->model);
    xt_tensor *total = NULL;
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(r->model, i);
        if (!e->is_param) continue;
        xt_tensor *g;
        if (xt_grad(e->tensor, &g) < 0) return -1;
        if (!g) continue;
        if (unscale != 1.0 && xt_mul_scalar_(g, unscale) < 0) return -1;
        xt_tensor *s = xt_sum(xt_to_dtype(g, XT_F32));
        total = total ? xt_add(total, s) : s;
        if (!total) return -1;
    }
    if (!total) return 1;
    return xt_all_finite(total);
}

static void zero_grads(run *r) {
    int n = xc_model_state_count(r->model);
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(r->model, i);
        if (e->is_param) xt_zero_grad(e->tensor);
    }
}

int tr_train_step(run *r, const int64_t *idx, int64_t n, step_out *out) {
    /* Data-parallel: this rank's slice of the global batch, augmented with the draws the
     * whole batch would get in one process. */
    int64_t lo = 0, hi = n;
    if (r->dist) tr_dist_slice(r, n, &lo, &hi);
    xt_arena *arena = xt_arena_current();
    size_t mark = xt_arena_mark(arena);
    xc_augment aug = r->aug;
    if (r->dist) {
        aug.draw_total = n;
        aug.draw_offset = lo;
    }
    xt_tensor *y = NULL;
    xt_tensor *x = xc_dataset_batch(r->train, idx + lo, hi - lo, r->dev, &aug, &r->norm, &y);
    if (!x) return -1;
    if (r->tb_grid_pending) tr_tb_batch_grid(r, x);
    xt_tensor *mask = r->multilabel ? xc_dataset_batch_mask(r->train, idx + lo, hi - lo, r->dev) : NULL;
    if (r->multilabel && !mask) return -1;
    xt_tensor *logits = forward(r, x);
    if (!logits) return -1;
    xt_tensor *loss = compute_loss(r, logits, y, mask, 1);
    if (!loss) return -1;
    xt_tensor *corr, *seen = NULL;
    if (r->multilabel) {
        /* known entries whose logit has the target's sign (probability on the right side of 0.5) */
        xt_tensor *pred = xt_to_dtype(xt_gt_scalar(logits, 0.0), XT_F32);
        xt_tensor *right = pred ? xt_to_dtype(xt_eq(pred, y), XT_F32) : NULL;
        corr = right ? xt_sum(xt_mul(right, mask)) : NULL;
        seen = xt_sum(mask);
        if (!seen) return -1;
    } else {
        xt_tensor *pred = xt_argmax(logits, 1, 0);
        corr = pred ? xt_sum(xt_to_dtype(xt_eq(pred, y), XT_I64)) : NULL;
    }
    double lv, cv, sv = (double)(hi - lo);
    if (!corr || xt_item(loss, &lv) < 0 || xt_item(corr, &cv) < 0 || (seen && xt_item(seen, &sv) < 0)) return -1;
    if (r->dist) {
        /* The whole batch's mean loss and correct count; every rank decides alike. The slice's
         * loss is weighted by its share: averaging the ranks' gradients then gives the gradient
         * of the whole batch's mean (multi-label: of the mean of the slices' masked means,
         * weighted by their images). */
        double st[3] = {lv * (double)(hi - lo), cv, sv};
        if (xt_dist_sum_host(r->dist, st, 3) < 0) return -1;
        lv = st[0] / (double)n;
        cv = st[1];
        sv = st[2];
        loss = xt_mul_scalar(loss, (double)(hi - lo) * r->world / (double)n);
        if (!loss) return -1;
    }
    out->loss = lv;
    out->correct = r->multilabel ? (sv > 0 ? (int64_t)llround((double)n * cv / sv) : 0) : (int64_t)llround(cv);
    out->finite = isfinite(lv);
    if (!out->finite) return 0;
    if (r->loss_scale != 1.0) loss = xt_mul_scalar(loss, r->loss_scale);
    if (!loss) return -1;
    /* Only the loss stays: the step's other handles (batch, logits, every layer's output) go
     * now, so backward frees each activation once its node has run (as in PyTorch) instead of
     * all of them at the step's clear. */
    xt_arena_release(arena, mark, &loss, 1);
    if (xt_backward(loss) < 0) return -1;
    if (tr_dist_average_grads(r) < 0) return -1;
    int ok = grads_finite(r, 1.0 / r->loss_scale);
    if (ok < 0) return -1;
    if (r->loss_scale != 1.0) {
        /* fp16: dynamic loss scaling as torch's GradScaler (halve on overflow, double after
         * 2000 good steps); an overflowed step is skipped, not an error. */
        if (!ok) {
            r->loss_scale /= 2.0;
            r->good_steps = 0;
            zero_grads(r);
            out->finite = 1;
            return 0;
        }
        if (++r->good_steps == 2000) {
            r->loss_scale *= 2.0;
            r->good_steps = 0;
        }
    }
    if (!ok) {
        out->finite = 0;
        zero_grads(r);
        return 0;
    }
    if (xt_adam_step(r->adam) < 0) return -1;
    zero_grads(r);
    return 0;
}

/* The multi-label validation numbers from logits (n, k) (see val_out). */
static int multilabel_summary(const float *logits, const uint8_t *y, const uint8_t *mask, int64_t n, int k,
                              val_out *v) {
    float *col = malloc((size_t)(n ? n : 1) * sizeof *col);
    uint8_t *pos = malloc((size_t)(n ? n : 1));
    if (!col || !pos) {
        free(col);
        free(pos);
        return xc_errorf("out of memory");
    }
    int64_t right = 0, known = 0;
    double bacc_sum = 0, auc_sum = 0, f1_sum = 0;
    int nbacc = 0, nauc = 0, nf1 = 0, rc = 0;
    for (int c = 0; c < k && rc == 0; c++) {
        int64_t m = 0, tp = 0, tn = 0, np = 0, nn = 0;
        for (int64_t i = 0; i < n; i++) {
            size_t q = (size_t)i * (size_t)k + (size_t)c;
            if (!mask[q]) continue;
            int p = logits[q] > 0.0f;
            col[m] = logits[q];
            pos[m] = y[q];
            m++;
            if (y[q]) np++, tp += p;
            else nn++, tn += !p;
        }
        right += tp + tn;
        known += m;
        if (np > 0 && nn > 0) {
            bacc_sum += 0.5 * ((double)tp / (double)np + (double)tn / (double)nn);
            nbacc++;
        }
        if (np > 0) { /* F1 = 2TP / (2TP + FP + FN) at the 0.5 decision */
            f1_sum += 2.0 * (double)tp / (double)(2 * tp + (nn - tn) + (np - tp));
            nf1++;
        }
        double auc;
        int e = m > 0 ? xc_auroc(col, pos, m, &auc) : 1;
        if (e < 0) rc = -1;
        else if (e == 0) auc_sum += auc, nauc++;
    }
    free(col);
    free(pos);
    if (rc < 0) return xc_errorf("validation metrics: %s", xc_error());
    v->acc = known ? (double)right / (double)known : NAN;
    v->bacc = nbacc ? bacc_sum / nbacc : NAN;
    v->auroc = nauc ? auc_sum / nauc : NAN;
    v->macro_f1 = nf1 ? f1_sum / nf1 : NAN;
    return 0;
}

int tr_validate(run *r, xt_arena *arena, val_out *v) {
    v->loss = v->acc = v->bacc = v->auroc = v->macro_f1 = NAN;
    v->confusion = NULL;
    v->k = 0;
    if (!r->val) return 0;
    int64_t n = xc_dataset_len(r->val);
    int k = xc_dataset_num_classes(r->val);
    int bs = r->c->data.batch_size;
    float *scores = malloc((size_t)n * (size_t)k * sizeof *scores);
    int64_t *idx = malloc((size_t)bs * sizeof *idx);
    if (!scores || !idx) {
        free(scores);
        free(idx);
        return xc_errorf("out of memory");
    }
    xc_model_set_training(r->model, 0);
    int grad = xt_grad_enabled_set(0);
    double loss_sum = 0;
    int rc = 0;
    /* Data-parallel: each rank scores its share [lo, hi) of the split; the scores are summed
     * over the ranks into the whole split's (zero outside each share). */
    int64_t lo = 0, hi = n;
    if (r->dist) {
        tr_dist_slice(r, n, &lo, &hi);
        memset(scores, 0, (size_t)n * (size_t)k * sizeof *scores);
    }
    for (int64_t i = lo; i < hi && rc == 0; i += bs) {
        int64_t m = hi - i < bs ? hi - i : bs;
        for (int64_t j = 0; j < m; j++) idx[j] = i + j;
        xt_arena_clear(arena);
        xt_tensor *y = NULL, *mask = NULL;
        xt_tensor *x = xc_dataset_batch(r->val, idx, m, r->dev, NULL, &r->norm, &y);
        if (x && r->multilabel && !(mask = xc_dataset_batch_mask(r->val, idx, m, r->dev))) x = NULL;
        xt_tensor *logits = x ? forward(r, x) : NULL;
        xt_tensor *loss = logits ? compute_loss(r, logits, y, mask, 0) : NULL;
        double lv;
        if (!loss || xt_item(loss, &lv) < 0 ||
            xt_to_host(logits, scores + i * k, (size_t)(m * k) * sizeof *scores) < 0) {
            rc = xc_errorf("validation: %s", xc_error());
            break;
        }
        if (xt_all_finite(logits) != 1) {
            rc = xc_errorf("validation: non-finite model outputs (the weights diverged; lower "
                           "optim.lr)");
            break;
        }
        loss_sum += lv * (double)m;
    }
    xt_arena_clear(arena);
    xt_grad_enabled_set(grad);
    xc_model_set_training(r->model, 1);
    if (r->dist) {
        /* A rank that failed still joins the sum (with its error flag), so none waits. */
        size_t nk = (size_t)n * (size_t)k;
        double *all = malloc((nk + 2) * sizeof *all);
        if (!all) return xc_errorf("out of memory"), free(scores), free(idx), -1;
        for (size_t j = 0; j < nk; j++) all[j] = scores[j];
        all[nk] = loss_sum;
        all[nk + 1] = rc < 0 ? 1 : 0;
        char mine[1024];
        snprintf(mine, sizeof mine, "%s", rc < 0 ? xc_error() : "");
        if (xt_dist_sum_host(r->dist, all, (int)(nk + 2)) < 0) {
            rc = -1;
        } else if (all[nk + 1] > 0) {
            rc = rc < 0 ? xc_errorf("%s", mine) : xc_errorf("validation failed on another rank");
        } else {
            for (size_t j = 0; j < nk; j++) scores[j] = (float)all[j];
            loss_sum = all[nk];
        }
        free(all);
    }
    if (rc == 0 && r->multilabel) {
        v->loss = loss_sum / (double)n; /* batch means weighted by images: close to the mean over entries */
        rc = multilabel_summary(scores, xc_dataset_targets(r->val), xc_dataset_mask(r->val), n, k, v);
    } else if (rc == 0) {
        v->loss = loss_sum / (double)n;
        xc_metrics_params mp = xc_metrics_default();
        mp.bootstrap = 0;
        xc_metrics *m = xc_metrics_compute(scores, xc_dataset_labels(r->val), n, k, &mp);
        if (!m) {
            rc = xc_errorf("validation metrics: %s", xc_error());
        } else {
            v->acc = m->accuracy.value;
            v->bacc = m->balanced_accuracy.present ? m->balanced_accuracy.value : NAN;
            v->auroc = m->macro_auroc.present ? m->macro_auroc.value : NAN;
            v->macro_f1 = m->macro_f1.present ? m->macro_f1.value : NAN;
            if (m->confusion && (v->confusion = malloc((size_t)k * (size_t)k * sizeof *v->confusion))) {
                memcpy(v->confusion, m->confusion, (size_t)k * (size_t)k * sizeof *v->confusion);
                v->k = k;
            }
            xc_metrics_free(m);
        }
    }
    free(scores);
    free(idx);
    return rc;
}
