/* test_live.c — inference frees intermediates as they are consumed (nn_live, over the arena's
 * mark/release), and that changes no output bit.
 *
 * For resnet18 and densenet121 (32 px, batch 2, deterministic weights in eval mode) the logits
 * of a forward with gradients off, which releases every consumed map, must equal bit for bit
 * those of the same forward with gradients on, which releases nothing and runs the code as it
 * was before the release existed (xt_add instead of the in-place add). The arena must hold only
 * a handful of tensors after the gradient-free forward (the head's few), and the hundreds of
 * the recording one; each block alone must leave exactly its output. The shim's mark/release
 * is checked on its own first. */
#include "../../src/nn/nn_internal.h"
#include "nn/nn_golden.h"

static void test_arena_release(void) {
    xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
    int64_t s[1] = {4};
    xt_tensor *before = xt_ones(1, s, XT_F32, XT_CPU);
    size_t mark = xt_arena_mark(a);
    CHECK(mark == 1);
    xt_tensor *t1 = xt_add_scalar(before, 1), *t2 = xt_mul_scalar(t1, 3), *t3 = xt_add_scalar(t2, 1);
    CHECK(xt_arena_count(a) == 4);
    xt_tensor *keep[3] = {t2, before, NULL}; /* before: from before the mark, ignored */
    xt_arena_release(a, mark, keep, 3);
    CHECK(xt_arena_count(a) == 2);
    float v[4] = {0};
    CHECK(xt_to_host(t2, v, sizeof v) == 0 && v[0] == 6.0f && v[3] == 6.0f);
    CHECK(xt_to_host(before, v, sizeof v) == 0 && v[0] == 1.0f);
    (void)t3;
    xt_arena_release(a, 99, NULL, 0); /* a mark past the end releases nothing */
    CHECK(xt_arena_count(a) == 2);
    xt_arena_release(a, 0, NULL, 0);
    CHECK(xt_arena_count(a) == 0);
    xt_arena_push(prev);
    xt_arena_free(a);
}

/* logits of m on x; *count: the arena's tensors after the forward. */
static int forward(xc_model *m, const xt_tensor *x, int grad, float *out, size_t cap, size_t *count) {
    xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
    int g = xt_grad_enabled_set(grad);
    xt_tensor *y = xc_model_forward(m, x);
    xt_grad_enabled_set(g);
    *count = xt_arena_count(a);
    int rc = y ? xt_to_host(y, out, cap) : -1;
    if (!y) fprintf(stderr, "%s: %s\n", xc_model_arch(m), xc_error());
    xt_arena_push(prev);
    xt_arena_free(a);
    return rc;
}

static void test_model(const char *arch) {
    xt_manual_seed(0);
    xc_model *m = xc_model_new(arch, 3, XT_CPU);
    CHECK_MSG(m != NULL, "%s: %s", arch, xc_error());
    if (!m) return;
    CHECK(golden_fill(m) == 0);
    xc_model_set_training(m, 0);
    int64_t xs[4] = {2, 3, 32, 32};
    xt_tensor *x = golden_gen(4, xs, 7);
    float on[6], off[6];
    size_t n_on = 0, n_off = 0;
    CHECK(forward(m, x, 1, on, sizeof on, &n_on) == 0);
    CHECK(forward(m, x, 0, off, sizeof off, &n_off) == 0);
    CHECK_MSG(!memcmp(on, off, sizeof on), "%s: logits differ: %.9g vs %.9g", arch, on[0], off[0]);
    CHECK_MSG(n_off <= 8, "%s: %zu tensors left in the arena by a gradient-free forward", arch, n_off);
    CHECK_MSG(n_on > 50, "%s: only %zu tensors kept by a recording forward", arch, n_on);
    xt_free(x);
    xc_model_free(m);
}

/* A block alone, gradients off: exactly its output is left. */
static void test_blocks(void) {
    xc_model *m = nn_model_alloc("blocks", XT_CPU);
    nn_res_block rb, bb;
    nn_dense_layer dl;
    nn_transition tr;
    int g = xt_grad_enabled_set(0);
    CHECK(nn_res_block_add(m, "a.", 1, 32, 16, 2, &rb) == 0);
    CHECK(nn_res_block_add(m, "b.", 0, 16, 16, 1, &bb) == 0);
    CHECK(nn_dense_layer_add(m, "c.", 24, 8, 4, &dl) == 0);
    CHECK(nn_transition_add(m, "d.", 24, 12, &tr) == 0);
    CHECK(golden_fill(m) == 0);
    xc_model_set_training(m, 0);
    xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
    int64_t s32[4] = {2, 32, 8, 8}, s16[4] = {2, 16, 8, 8}, s8[4] = {2, 8, 6, 6}, s24[4] = {2, 24, 6, 6};
    xt_tensor *x32 = golden_gen(4, s32, 1), *x16 = golden_gen(4, s16, 2);
    int64_t s16b[4] = {2, 16, 6, 6};
    xt_tensor *feats[2] = {golden_gen(4, s8, 3), golden_gen(4, s16b, 4)};
    xt_tensor *x24 = golden_gen(4, s24, 5);
    size_t c0 = xt_arena_count(a);
    CHECK(nn_res_block_forward(m, &rb, x32) != NULL && xt_arena_count(a) == c0 + 1);
    CHECK(nn_res_block_forward(m, &bb, x16) != NULL && xt_arena_count(a) == c0 + 2);
    CHECK(nn_dense_layer_forward(m, &dl, feats, 2) != NULL && xt_arena_count(a) == c0 + 3);
    CHECK(nn_transition_forward(m, &tr, x24) != NULL && xt_arena_count(a) == c0 + 4);
    xt_arena_push(prev);
    xt_arena_free(a);
    xt_grad_enabled_set(g);
    xc_model_free(m); /* the inputs were the arena's */
}

int main(void) {
    xt_set_num_threads(2);
    test_arena_release();
    test_blocks();
    test_model("resnet18");
    test_model("densenet121");
    return check_done("nn_test_live");
}
