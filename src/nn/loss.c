/* loss.c — the training losses, composed of shim ops so that autograd differentiates them:
 * cross-entropy (optionally class-weighted, torch's weighted-mean semantics), multi-class focal
 * loss, and for multi-label heads binary cross-entropy with logits (numerically stable form,
 * optional pos_weight) and the sigmoid focal loss, both averaged over the known entries of a
 * mask. */
#include <math.h>

#include "nn_internal.h"

/* Checks logits (N, C), target (N) int64 and an optional per-class (C) tensor. */
static int check_class_args(const char *what, const xt_tensor *logits, const xt_tensor *target,
                            const xt_tensor *per_class, const char *per_class_name) {
    if (!logits || !target) return xc_errorf("%s: NULL %s", what, logits ? "target" : "logits");
    if (xt_ndim(logits) != 2) return xc_errorf("%s: logits must be (N, C), got %d dims", what, xt_ndim(logits));
    if (xt_ndim(target) != 1 || xt_size(target, 0) != xt_size(logits, 0))
        return xc_errorf("%s: target must be (N) with N = %lld", what, (long long)xt_size(logits, 0));
    if (xt_dtype_of(target) != XT_I64)
        return xc_errorf("%s: target must be int64 class indices, got %s", what,
                         xt_dtype_name(xt_dtype_of(target)));
    if (per_class && (xt_ndim(per_class) != 1 || xt_size(per_class, 0) != xt_size(logits, 1)))
        return xc_errorf("%s: %s must be (C) with C = %lld", what, per_class_name,
                         (long long)xt_size(logits, 1));
    return 0;
}

/* log p_t: (N) float, the log-softmax of each row at its target. */
static xt_tensor *log_p_target(const xt_tensor *logits, const xt_tensor *target) {
    xt_tensor *logp, *idx, *g;
    if (!(logp = xt_log_softmax(logits, 1)) || !(idx = xt_unsqueeze(target, 1))) return NULL;
    // logp: (N, C), idx: (N, 1)
    if (!(g = xt_gather(logp, 1, idx))) return NULL;
    return xt_squeeze(g, 1);
}

xt_tensor *xc_loss_cross_entropy(const xt_tensor *logits, const xt_tensor *target,
                                 const xt_tensor *weight) {
    if (check_class_args("cross_entropy", logits, target, weight, "weight") < 0) return NULL;
    nn_scope sc;
    nn_scope_begin(&sc);
    xt_tensor *lp, *wt, *num, *den, *loss = NULL;
    /* Each step runs only when the one before succeeded, so the first failure's message stays. */
    if (!(lp = log_p_target(logits, target))) goto out;
    if (!weight) {
        if ((loss = xt_mean(lp))) loss = xt_neg(loss);
        goto out;
    }
    /* −Σ w_t log p_t / Σ w_t */
    if (!(wt = xt_index_select(weight, 0, target))) goto out;
    if (!(num = xt_mul(wt, lp)) || !(num = xt_sum(num)) || !(den = xt_sum(wt))) goto out;
    if ((loss = xt_div(num, den))) loss = xt_neg(loss);
out:
    if (!loss) xc_errorf("cross_entropy: %s", xc_error());
    return nn_scope_end(&sc, loss);
}

xt_tensor *xc_loss_focal(const xt_tensor *logits, const xt_tensor *target, double gamma,
                         const xt_tensor *alpha) {
    if (check_class_args("focal", logits, target, alpha, "alpha") < 0) return NULL;
    if (!(gamma >= 0)) {
        xc_errorf("focal: gamma must be >= 0, got %g", gamma);
        return NULL;
    }
    nn_scope sc;
    nn_scope_begin(&sc);
    xt_tensor *l, *q, *a, *loss = NULL;
    if (!(l = log_p_target(logits, target))) goto out;
    if (gamma != 0) {
        /* (1 − p_t)^γ log p_t */
        if (!(q = xt_exp(l)) || !(q = xt_rsub_scalar(q, 1.0)) || !(q = xt_pow_scalar(q, gamma)))
            goto out;
        if (!(l = xt_mul(q, l))) goto out;
    }
    if (alpha && (!(a = xt_index_select(alpha, 0, target)) || !(l = xt_mul(a, l)))) goto out;
    if ((loss = xt_mean(l))) loss = xt_neg(loss);
out:
    if (!loss) xc_errorf("focal: %s", xc_error());
    return nn_scope_end(&sc, loss);
}

/* Checks logits (N, C), a same-shaped target and mask (mask may be NULL) and an optional (C)
 * per-finding vector. */
static int check_multi_args(const char *what, const xt_tensor *logits, const xt_tensor *target,
                            const xt_tensor *mask, const xt_tensor *per, const char *per_name) {
    if (!logits || !target) return xc_errorf("%s: NULL %s", what, logits ? "target" : "logits");
    int64_t ls[2], ts[2];
    if (xt_ndim(logits) != 2 || xt_ndim(target) != 2 || xt_shape(logits, ls, 2) != 2 ||
        xt_shape(target, ts, 2) != 2 || ls[0] != ts[0] || ls[1] != ts[1])
        return xc_errorf("%s: logits and target must both be (N, C) of the same shape", what);
    if (mask && (xt_ndim(mask) != 2 || xt_size(mask, 0) != ls[0] || xt_size(mask, 1) != ls[1]))
        return xc_errorf("%s: mask must be (N, C) as the logits", what);
    if (per && (xt_ndim(per) != 1 || xt_size(per, 0) != ls[1]))
        return xc_errorf("%s: %s must be (C) with C = %lld", what, per_name, (long long)ls[1]);
    return 0;
}

/* The elementwise BCE with logits: (N, C), no reduction. */
static xt_tensor *bce_elements(const xt_tensor *logits, const xt_tensor *target, const xt_tensor *pos_weight) {
    /* (1 − y)·x + (1 + (pw − 1)·y) · (log(1 + e^−|x|) + max(−x, 0)), as torch computes it */
    xt_tensor *soft, *r, *lw, *lin;
    if (!(soft = xt_abs(logits)) || !(soft = xt_neg(soft)) || !(soft = xt_exp(soft)) ||
        !(soft = xt_add_scalar(soft, 1.0)) || !(soft = xt_log(soft)))
        return NULL;
    if (!(r = xt_neg(logits)) || !(r = xt_relu(r)) || !(soft = xt_add(soft, r))) return NULL;
    if (pos_weight) {
        if (!(lw = xt_add_scalar(pos_weight, -1.0)) || !(lw = xt_mul(lw, target)) ||
            !(lw = xt_add_scalar(lw, 1.0)) || !(soft = xt_mul(lw, soft)))
            return NULL;
    }
    if (!(lin = xt_rsub_scalar(target, 1.0)) || !(lin = xt_mul(lin, logits))) return NULL;
    return xt_add(lin, soft);
}

/* Σ mask·l / max(Σ mask, 1), or mean(l) without a mask: a batch whose entries are all unknown
 * gives 0 (and no gradient), not 0/0. */
static xt_tensor *masked_mean(const xt_tensor *l, const xt_tensor *mask) {
    if (!mask) return xt_mean(l);
    xt_tensor *num, *den;
    if (!(num = xt_mul(l, mask)) || !(num = xt_sum(num)) || !(den = xt_sum(mask)) ||
        !(den = xt_clamp(den, 1.0, INFINITY)))
        return NULL;
    return xt_div(num, den);
}

xt_tensor *xc_loss_bce_logits(const xt_tensor *logits, const xt_tensor *target,
                              const xt_tensor *pos_weight) {
    return xc_loss_bce_masked(logits, target, NULL, pos_weight);
}

xt_tensor *xc_loss_bce_masked(const xt_tensor *logits, const xt_tensor *target, const xt_tensor *mask,
                              const xt_tensor *pos_weight) {
    if (check_multi_args("bce_logits", logits, target, mask, pos_weight, "pos_weight") < 0) return NULL;
    nn_scope sc;
    nn_scope_begin(&sc);
    xt_tensor *l, *loss = NULL;
    if ((l = bce_elements(logits, target, pos_weight))) loss = masked_mean(l, mask);
    if (!loss) xc_errorf("bce_logits: %s", xc_error());
    return nn_scope_end(&sc, loss);
}

xt_tensor *xc_loss_focal_sigmoid(const xt_tensor *logits, const xt_tensor *target, const xt_tensor *mask,
                                 double gamma, const xt_tensor *alpha) {
    if (check_multi_args("sigmoid focal", logits, target, mask, alpha, "alpha") < 0) return NULL;
    if (!(gamma >= 0)) {
        xc_errorf("sigmoid focal: gamma must be >= 0, got %g", gamma);
        return NULL;
    }
    nn_scope sc;
    nn_scope_begin(&sc);
    /* torchvision.ops.sigmoid_focal_loss: ce · (1 − p_t)^γ · α_t with p_t = p·y + (1 − p)(1 − y)
     * and α_t = α·y + (1 − α)(1 − y) */
    xt_tensor *l, *p, *pt, *q, *a, *loss = NULL;
    if (!(l = bce_elements(logits, target, NULL))) goto out;
    if (gamma != 0) {
        /* p_t = 1 − y − p + 2·p·y */
        if (!(p = xt_sigmoid(logits)) || !(pt = xt_mul(p, target)) || !(pt = xt_mul_scalar(pt, 2.0)) ||
            !(pt = xt_sub(pt, p)) || !(pt = xt_sub(pt, target)) || !(pt = xt_add_scalar(pt, 1.0)))
            goto out;
        if (!(q = xt_rsub_scalar(pt, 1.0)) || !(q = xt_pow_scalar(q, gamma)) || !(l = xt_mul(l, q))) goto out;
    }
    if (alpha) {
        /* α_t = (1 − α) + (2α − 1)·y */
        xt_tensor *om;
        if (!(a = xt_mul_scalar(alpha, 2.0)) || !(a = xt_add_scalar(a, -1.0)) || !(a = xt_mul(a, target)) ||
            !(om = xt_rsub_scalar(alpha, 1.0)) || !(a = xt_add(a, om)) || !(l = xt_mul(l, a)))
            goto out;
    }
    loss = masked_mean(l, mask);
out:
    if (!loss) xc_errorf("sigmoid focal: %s", xc_error());
    return nn_scope_end(&sc, loss);
}
