/* test_grad.c — autograd through a small conv + batch-norm + linear network against central
 * finite differences (float64), batch-norm running statistics, no-grad mode, gradient handles,
 * and seeding / generator state save and restore. */
#include <math.h>

#include "check.h"
#include "xraycls/shim.h"

/* the net: x (2, 2, 5, 5) → conv 3x3 pad 1 (3 ch) → batch norm (training), plus the conv's
 * output added in place → sigmoid →
 * adaptive avg pool 1x1 → flatten (2, 3) → linear (2, 3) → loss = sum(out²) */
static xt_tensor *P[5]; /* conv_w (3,2,3,3), conv_b (3), bn_w (3), lin_w (2,3), lin_b (2) */
static xt_tensor *bn_b, *rmean, *rvar, *X;

static xt_tensor *forward(void) {
    xt_tensor *c = xt_conv2d(X, P[0], P[1], 1, 1, 1, 1);
    xt_tensor *h = xt_batch_norm(c, P[2], bn_b, rmean, rvar, 1, 0.1, 1e-5);
    h = xt_add_inplace(h, c); /* a residual add in place: its gradient reaches the conv twice */
    h = xt_sigmoid(h);
    h = xt_flatten(xt_adaptive_avg_pool2d(h, 1, 1), 1, -1);
    h = xt_linear(h, P[3], P[4]);
    return xt_sum(xt_pow_scalar(h, 2));
}

static double loss_value(void) {
    double v = NAN;
    xt_tensor *l = forward();
    if (!l || xt_item(l, &v) < 0) fprintf(stderr, "forward failed: %s\n", xc_error());
    return v;
}

static void set_elem(xt_tensor *p, int64_t i, double v) {
    xt_tensor *flat = xt_reshape(p, 1, (int64_t[]){-1});
    xt_fill_(xt_narrow(flat, 0, i, 1), v);
}

static void test_finite_differences(void) {
    xt_manual_seed(1);
    int64_t xs[4] = {2, 2, 5, 5}, cw[4] = {3, 2, 3, 3}, c3[1] = {3}, lw[2] = {2, 3}, c2[1] = {2};
    X = xt_randn(4, xs, XT_F64, XT_CPU);
    P[0] = xt_mul_scalar(xt_randn(4, cw, XT_F64, XT_CPU), 0.5);
    P[1] = xt_randn(1, c3, XT_F64, XT_CPU);
    P[2] = xt_add_scalar(xt_rand(1, c3, XT_F64, XT_CPU), 0.5);
    P[3] = xt_randn(2, lw, XT_F64, XT_CPU);
    P[4] = xt_randn(1, c2, XT_F64, XT_CPU);
    bn_b = xt_randn(1, c3, XT_F64, XT_CPU);
    rmean = xt_zeros(1, c3, XT_F64, XT_CPU);
    rvar = xt_ones(1, c3, XT_F64, XT_CPU);
    for (int i = 0; i < 5; i++) {
        xt_tensor *k = xt_keep(P[i]);
        P[i] = k; /* leaves: kept handles, as a model's parameters are */
        CHECK(xt_set_requires_grad(P[i], 1) == 0 && xt_requires_grad(P[i]) == 1);
    }
    xt_tensor *g = (xt_tensor *)1;
    CHECK(xt_grad(P[0], &g) == 0 && g == NULL); /* none before backward */

    xt_tensor *loss = forward();
    CHECK(xt_requires_grad(loss) == 1);
    CHECK(xt_backward(loss) == 0);
    const double h = 1e-6;
    for (int i = 0; i < 5; i++) {
        xt_tensor *grad = NULL;
        CHECK(xt_grad(P[i], &grad) == 0 && grad != NULL);
        int64_t n = xt_numel(P[i]);
        double an[64], pv[64];
        CHECK(n <= 64 && xt_to_host(grad, an, (size_t)n * 8) == 0 && xt_to_host(P[i], pv, (size_t)n * 8) == 0);
        int prev = xt_grad_enabled_set(0);
        for (int64_t j = 0; j < n; j++) {
            set_elem(P[i], j, pv[j] + h);
            double lp = loss_value();
            set_elem(P[i], j, pv[j] - h);
            double lm = loss_value();
            set_elem(P[i], j, pv[j]);
            double fd = (lp - lm) / (2 * h);
            CHECK_MSG(fabs(fd - an[j]) <= 1e-6 + 1e-5 * fabs(fd), "param %d[%lld]: autograd %.10g, finite diff %.10g",
                      i, (long long)j, an[j], fd);
        }
        xt_grad_enabled_set(prev);
    }
    /* backward again accumulates: the gradient doubles */
    xt_tensor *g0 = NULL, *g1 = NULL;
    double a0[3], a1[3];
    xt_grad(P[4], &g0);
    CHECK(xt_to_host(xt_clone(g0), a0, 16) == 0);
    CHECK(xt_backward(forward()) == 0);
    xt_grad(P[4], &g1);
    CHECK(xt_to_host(g1, a1, 16) == 0 && fabs(a1[0] - 2 * a0[0]) < 1e-9 && fabs(a1[1] - 2 * a0[1]) < 1e-9);
    CHECK(xt_zero_grad(P[4]) == 0 && xt_grad(P[4], &g) == 0 && g == NULL);
    CHECK(xt_backward(xt_sum(P[4])) == 0 && xt_grad(P[4], &g) == 0 && g != NULL);
    CHECK(xt_backward(P[3]) == -1); /* not a scalar */
    CHECK_CONTAINS(xc_error(), "one-element");
    for (int i = 0; i < 5; i++) xt_free(P[i]);
}

static void test_batch_norm_stats(void) {
    xt_manual_seed(3);
    int64_t xs[4] = {4, 2, 3, 3}, c2[1] = {2};
    xt_tensor *x = xt_add_scalar(xt_mul_scalar(xt_randn(4, xs, XT_F32, XT_CPU), 2), 1);
    xt_tensor *rm = xt_zeros(1, c2, XT_F32, XT_CPU), *rv = xt_ones(1, c2, XT_F32, XT_CPU);
    xt_tensor *y = xt_batch_norm(x, NULL, NULL, rm, rv, 1, 0.1, 1e-5);
    CHECK(y != NULL);
    /* per-channel batch mean and unbiased variance */
    xt_tensor *perch = xt_flatten(xt_transpose(x, 0, 1), 1, -1); /* (2, 36) */
    xt_tensor *mean = xt_mean_dim(perch, 1, 0);
    xt_tensor *dev = xt_sub(perch, xt_unsqueeze(mean, 1));
    xt_tensor *var = xt_mul_scalar(xt_sum_dim(xt_mul(dev, dev), 1, 0), 1.0 / 35);
    float m[2], v[2], rmv[2], rvv[2], yv[72];
    CHECK(xt_to_host(mean, m, 8) == 0 && xt_to_host(var, v, 8) == 0);
    CHECK(xt_to_host(rm, rmv, 8) == 0 && xt_to_host(rv, rvv, 8) == 0);
    for (int c = 0; c < 2; c++) {
        CHECK_CLOSE(rmv[c], 0.1 * m[c], 1e-6, 1e-5);
        CHECK_CLOSE(rvv[c], 0.9 + 0.1 * v[c], 1e-6, 1e-5);
    }
    /* the output is normalized per channel */
    xt_tensor *ym = xt_mean_dim(xt_flatten(xt_transpose(y, 0, 1), 1, -1), 1, 0);
    CHECK(xt_to_host(ym, yv, 8) == 0 && fabs(yv[0]) < 1e-5 && fabs(yv[1]) < 1e-5);
    /* evaluation uses the running statistics and leaves them alone */
    xt_tensor *e = xt_batch_norm(x, NULL, NULL, rm, rv, 0, 0.1, 1e-5);
    float e0, x0, after[2];
    CHECK(xt_to_host(xt_narrow(xt_flatten(e, 0, -1), 0, 0, 1), &e0, 4) == 0);
    CHECK(xt_to_host(xt_narrow(xt_flatten(x, 0, -1), 0, 0, 1), &x0, 4) == 0);
    CHECK_CLOSE(e0, (x0 - rmv[0]) / sqrt(rvv[0] + 1e-5), 1e-5, 1e-5);
    CHECK(xt_to_host(rm, after, 8) == 0 && after[0] == rmv[0] && after[1] == rmv[1]);
}

static void test_no_grad_and_seed(void) {
    int64_t s[1] = {5};
    xt_tensor *w = xt_keep(xt_ones(1, s, XT_F32, XT_CPU));
    xt_set_requires_grad(w, 1);
    int prev = xt_grad_enabled_set(0);
    CHECK(prev == 1);
    CHECK(xt_requires_grad(xt_mul_scalar(w, 2)) == 0);
    CHECK(xt_grad_enabled_set(prev) == 0);
    CHECK(xt_requires_grad(xt_mul_scalar(w, 2)) == 1);
    /* in-place updates of a leaf are allowed (not recorded) even with grad mode on */
    CHECK(xt_add_(w, xt_ones(1, s, XT_F32, XT_CPU), 0.5) == 0);
    CHECK(xt_mul_scalar_(w, 2) == 0);
    float wv[5];
    CHECK(xt_to_host(w, wv, sizeof wv) == 0 && wv[0] == 3.0f);
    xt_free(w);

    float a[8], b[8], c[8], d[8];
    int64_t n8[1] = {8};
    xt_manual_seed(1234);
    CHECK(xt_to_host(xt_randn(1, n8, XT_F32, XT_CPU), a, sizeof a) == 0);
    xt_manual_seed(1234);
    CHECK(xt_to_host(xt_randn(1, n8, XT_F32, XT_CPU), b, sizeof b) == 0);
    CHECK(!memcmp(a, b, sizeof a));
    xt_manual_seed(1235);
    CHECK(xt_to_host(xt_randn(1, n8, XT_F32, XT_CPU), b, sizeof b) == 0);
    CHECK(memcmp(a, b, sizeof a) != 0);

    xt_tensor *st = xt_rng_state_get(XT_CPU);
    CHECK(st && xt_dtype_of(st) == XT_U8 && xt_numel(st) > 0);
    int64_t r1[8], r2[8];
    CHECK(xt_to_host(xt_rand(1, n8, XT_F32, XT_CPU), c, sizeof c) == 0);
    CHECK(xt_to_host(xt_randint(0, 1000, 1, n8, XT_CPU), r1, sizeof r1) == 0);
    CHECK(xt_rng_state_set(XT_CPU, st) == 0);
    CHECK(xt_to_host(xt_rand(1, n8, XT_F32, XT_CPU), d, sizeof d) == 0);
    CHECK(xt_to_host(xt_randint(0, 1000, 1, n8, XT_CPU), r2, sizeof r2) == 0);
    CHECK(!memcmp(c, d, sizeof c) && !memcmp(r1, r2, sizeof r1));
    xt_free(st);
    CHECK(xt_rng_state_set(XT_CPU, xt_zeros(1, n8, XT_F32, XT_CPU)) == -1);
    CHECK_CONTAINS(xc_error(), "uint8");
    if (!xt_cuda_available()) CHECK(xt_rng_state_get(0) == NULL);

    int64_t ri[6];
    CHECK(xt_to_host(xt_randint(5, 7, 1, (int64_t[]){6}, XT_CPU), ri, sizeof ri) == 0);
    for (int i = 0; i < 6; i++) CHECK(ri[i] == 5 || ri[i] == 6);
}

int main(void) {
    xt_arena *a = xt_arena_new();
    xt_arena_push(a);
    test_finite_differences();
    xt_arena_clear(a);
    test_batch_norm_stats();
    test_no_grad_and_seed();
    xt_arena_push(NULL);
    xt_arena_free(a);
    return check_done("shim_test_grad");
}
