/* test_loss.c — the losses against torch (tests/golden/nn/losses.safetensors): cross-entropy
 * plain and class-weighted (weighted mean over the targets' weights), focal with γ 2 and 0.5,
 * with and without per-class α, and BCE with logits plain and with pos_weight — each value and
 * its gradient with respect to the logits (atol 1e-6, rtol 1e-5). Also: focal with γ 0 equals
 * cross-entropy, argument errors name the problem, and a loss computed with no arena current
 * is handed to the caller. */
#include "nn/nn_golden.h"

static xt_tensor *ref_tensor(xc_st_file *f, const char *name) {
    const xc_st_tensor *r = golden_ref(f, name);
    return xt_from_host(r->data, r->ndim, r->shape, (xt_dtype)r->dtype);
}

int main(void) {
    xt_set_num_threads(2);
    xc_st_file *f = golden_open("losses.safetensors");
    xt_arena *arena = xt_arena_new();
    xt_arena_push(arena);
    xt_tensor *target = ref_tensor(f, "target"), *weight = ref_tensor(f, "weight");
    xt_tensor *alpha = ref_tensor(f, "alpha"), *pos_weight = ref_tensor(f, "pos_weight");
    xt_tensor *multi = ref_tensor(f, "multi");
    static const char *const cases[] = {"ce", "ce_weighted", "focal_g2", "focal_g05_alpha",
                                        "focal_g2_alpha", "bce", "bce_pos_weight"};
    int64_t one[1] = {1};
    for (int c = 0; c < 7; c++) {
        xt_tensor *logits = ref_tensor(f, "logits");
        CHECK(xt_set_requires_grad(logits, 1) == 0);
        xt_tensor *v = NULL;
        switch (c) {
        case 0: v = xc_loss_cross_entropy(logits, target, NULL); break;
        case 1: v = xc_loss_cross_entropy(logits, target, weight); break;
        case 2: v = xc_loss_focal(logits, target, 2.0, NULL); break;
        case 3: v = xc_loss_focal(logits, target, 0.5, alpha); break;
        case 4: v = xc_loss_focal(logits, target, 2.0, alpha); break;
        case 5: v = xc_loss_bce_logits(logits, multi, NULL); break;
        case 6: v = xc_loss_bce_logits(logits, multi, pos_weight); break;
        }
        char name[64];
        snprintf(name, sizeof name, "%s/value", cases[c]);
        CHECK_MSG(v != NULL, "%s: %s", cases[c], xc_error());
        golden_compare(name, v ? xt_reshape(v, 1, one) : NULL, golden_ref(f, name), 1e-6, 1e-5);
        CHECK(v && xt_backward(v) == 0);
        xt_tensor *g = NULL;
        xt_grad(logits, &g);
        snprintf(name, sizeof name, "%s/grad", cases[c]);
        golden_compare(name, g, golden_ref(f, name), 1e-6, 1e-5);
    }

    /* focal with γ 0 and no α is cross-entropy. */
    xt_tensor *logits = ref_tensor(f, "logits");
    double a = -1, b = -2;
    xt_item(xc_loss_focal(logits, target, 0.0, NULL), &a);
    xt_item(xc_loss_cross_entropy(logits, target, NULL), &b);
    CHECK_CLOSE(a, b, 1e-6, 1e-6);

    /* Argument errors. */
    CHECK(xc_loss_cross_entropy(logits, xt_to_dtype(target, XT_F32), NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "target must be int64");
    CHECK(xc_loss_cross_entropy(logits, target, alpha) != NULL);
    int64_t s3[1] = {3};
    CHECK(xc_loss_cross_entropy(logits, target, xt_ones(1, s3, XT_F32, XT_CPU)) == NULL);
    CHECK_CONTAINS(xc_error(), "weight must be (C) with C = 4");
    CHECK(xc_loss_focal(logits, target, -1, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "gamma must be >= 0");
    CHECK(xc_loss_bce_logits(logits, target, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "same shape");
    CHECK(xc_loss_cross_entropy(NULL, target, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "NULL logits");

    /* With no arena current the caller owns the loss and nothing else is left behind. */
    xt_arena_push(NULL);
    xt_tensor *own = xc_loss_focal(logits, target, 2.0, alpha);
    double c = -1;
    CHECK(own && xt_item(own, &c) == 0 && c > 0);
    xt_free(own);

    xt_arena_free(arena);
    xc_st_close(f);
    return check_done("nn_test_loss");
}
