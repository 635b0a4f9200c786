/* test_loss_multilabel.c — the masked multi-label losses against PyTorch
 * (tests/golden/nn/multilabel_losses.safetensors, scripts/make_multilabel_golden.py): BCE with
 * logits averaged over the known entries of a mask, with and without pos_weight, unmasked; the
 * sigmoid focal loss (torchvision's sigmoid_focal_loss) masked, with no α, a scalar α and a
 * per-finding α, and with γ 0; a batch whose entries are all unknown gives 0 — each value and
 * its gradient with respect to the logits (atol 1e-6, rtol 1e-5). Also: an unknown entry's
 * target does not change the loss, and argument errors name the problem. */
#include "nn/nn_golden.h"

static xt_tensor *ref_tensor(xc_st_file *f, const char *name) {
    const xc_st_tensor *r = golden_ref(f, name);
    return xt_from_host(r->data, r->ndim, r->shape, (xt_dtype)r->dtype);
}

int main(void) {
    xt_set_num_threads(2);
    xc_st_file *f = golden_open("multilabel_losses.safetensors");
    xt_arena *arena = xt_arena_new();
    xt_arena_push(arena);
    xt_tensor *target = ref_tensor(f, "target"), *mask = ref_tensor(f, "mask");
    xt_tensor *pos_weight = ref_tensor(f, "pos_weight"), *alpha = ref_tensor(f, "alpha");
    int64_t five[1] = {5};
    xt_tensor *a025 = xt_full(1, five, 0.25, XT_F32, XT_CPU);
    int64_t shape[2] = {8, 5};
    xt_tensor *none = xt_zeros(2, shape, XT_F32, XT_CPU);
    static const char *const cases[] = {"bce_masked",          "bce_masked_pos_weight",  "bce_unmasked",
                                        "focal_masked_g2",     "focal_masked_g2_a025",   "focal_masked_g05_alpha",
                                        "focal_unmasked_g0",   "bce_all_unknown"};
    int64_t one[1] = {1};
    for (int c = 0; c < 8; c++) {
        xt_tensor *logits = ref_tensor(f, "logits");
        CHECK(xt_set_requires_grad(logits, 1) == 0);
        xt_tensor *v = NULL;
        switch (c) {
        case 0: v = xc_loss_bce_masked(logits, target, mask, NULL); break;
        case 1: v = xc_loss_bce_masked(logits, target, mask, pos_weight); break;
        case 2: v = xc_loss_bce_masked(logits, target, NULL, NULL); break;
        case 3: v = xc_loss_focal_sigmoid(logits, target, mask, 2.0, NULL); break;
        case 4: v = xc_loss_focal_sigmoid(logits, target, mask, 2.0, a025); break;
        case 5: v = xc_loss_focal_sigmoid(logits, target, mask, 0.5, alpha); break;
        case 6: v = xc_loss_focal_sigmoid(logits, target, NULL, 0.0, NULL); break;
        case 7: v = xc_loss_bce_masked(logits, target, none, NULL); break;
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

    /* An unknown entry's target is ignored: flipping every target where the mask is 0 leaves
     * the masked losses unchanged (and changes the unmasked one). */
    xt_tensor *logits = ref_tensor(f, "logits");
    xt_tensor *unknown = xt_rsub_scalar(mask, 1.0);
    xt_tensor *flipped = xt_add(xt_mul(target, mask), xt_mul(xt_rsub_scalar(target, 1.0), unknown));
    double a = -1, b = -2, u1 = -3, u2 = -4;
    xt_item(xc_loss_bce_masked(logits, target, mask, pos_weight), &a);
    xt_item(xc_loss_bce_masked(logits, flipped, mask, pos_weight), &b);
    CHECK_CLOSE(a, b, 1e-7, 1e-7);
    xt_item(xc_loss_focal_sigmoid(logits, target, mask, 2.0, alpha), &a);
    xt_item(xc_loss_focal_sigmoid(logits, flipped, mask, 2.0, alpha), &b);
    CHECK_CLOSE(a, b, 1e-7, 1e-7);
    xt_item(xc_loss_bce_masked(logits, target, NULL, NULL), &u1);
    xt_item(xc_loss_bce_masked(logits, flipped, NULL, NULL), &u2);
    CHECK(fabs(u1 - u2) > 1e-3);

    /* Argument errors. */
    int64_t s4[2] = {8, 4};
    CHECK(xc_loss_bce_masked(logits, target, xt_ones(2, s4, XT_F32, XT_CPU), NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "mask must be (N, C)");
    CHECK(xc_loss_focal_sigmoid(logits, target, mask, -1.0, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "gamma must be >= 0");
    CHECK(xc_loss_focal_sigmoid(logits, target, mask, 2.0, pos_weight) != NULL);
    CHECK(xc_loss_focal_sigmoid(logits, target, mask, 2.0, xt_ones(1, one, XT_F32, XT_CPU)) == NULL);
    CHECK_CONTAINS(xc_error(), "alpha must be (C) with C = 5");

    xt_arena_free(arena);
    xc_st_close(f);
    return check_done("nn_test_loss_multilabel");
}
