/* test_adam.c — xt_adam against torch.optim.Adam / AdamW trajectories
 * (tests/golden/shim/adam_golden.h, made by scripts/make_shim_golden.py), in every kernel
 * choice, and state save / restore continuing a run exactly. */
#include <math.h>

#include "check.h"
#include "golden/shim/adam_golden.h"
#include "xraycls/shim.h"

static xt_tensor *W, *B, *X, *Y;

/* Fresh parameters, owned here (not by the arena), like a model's. */
static void reset_problem(void) {
    xt_arena *prev = xt_arena_push(NULL);
    xt_free(W);
    xt_free(B);
    W = xt_from_host(gold_w0, 2, (int64_t[]){3, 4}, XT_F32);
    B = xt_from_host(gold_b0, 1, (int64_t[]){3}, XT_F32);
    xt_set_requires_grad(W, 1);
    xt_set_requires_grad(B, 1);
    xt_arena_push(prev);
}

/* One step: zero grads, loss = mean((x W^T + b - y)^2), backward, Adam. */
static double train_step(xt_adam *opt) {
    double loss = NAN;
    xt_zero_grad(W);
    xt_zero_grad(B);
    xt_tensor *l = xt_mean(xt_pow_scalar(xt_sub(xt_linear(X, W, B), Y), 2));
    if (!l || xt_item(l, &loss) < 0 || xt_backward(l) < 0 || xt_adam_step(opt) < 0)
        fprintf(stderr, "step failed: %s\n", xc_error());
    return loss;
}

static void compare_params(const float *want, const char *what, int step) {
    float w[12], b[3];
    CHECK(xt_to_host(W, w, sizeof w) == 0 && xt_to_host(B, b, sizeof b) == 0);
    for (int i = 0; i < 12; i++)
        CHECK_MSG(fabsf(w[i] - want[i]) <= 2e-6f + 2e-6f * fabsf(want[i]), "%s step %d W[%d]: %.9g vs %.9g", what, step,
                  i, w[i], want[i]);
    for (int i = 0; i < 3; i++)
        CHECK_MSG(fabsf(b[i] - want[12 + i]) <= 2e-6f + 2e-6f * fabsf(want[12 + i]), "%s step %d b[%d]: %.9g vs %.9g",
                  what, step, i, b[i], want[12 + i]);
}

static xt_adam_params params_for(double wd, int decoupled, int fused) {
    xt_adam_params p = xt_adam_default();
    p.lr = GOLD_LR;
    p.beta1 = GOLD_BETA1;
    p.beta2 = GOLD_BETA2;
    p.eps = GOLD_EPS;
    p.weight_decay = wd;
    p.decoupled = decoupled;
    p.fused = fused;
    return p;
}

static void run_config(const char *name, double wd, int decoupled, int fused, const float *gold, const float *gold_loss,
                       const float *gold_m, const float *gold_v) {
    reset_problem();
    xt_tensor *ps[2] = {W, B};
    xt_adam *opt = xt_adam_new(ps, 2, params_for(wd, decoupled, fused));
    if (!opt && fused == 1) { /* no fused kernel in this libtorch for the CPU: a clear refusal */
        CHECK_CONTAINS(xc_error(), "fused");
        return;
    }
    CHECK_MSG(opt != NULL, "%s: %s", name, xc_error());
    if (!opt) return;
    int64_t step = -1;
    xt_tensor *m = (xt_tensor *)1, *v = (xt_tensor *)1;
    CHECK(xt_adam_state(opt, 0, &step, &m, &v) == 0 && step == 0 && m == NULL && v == NULL);
    for (int s = 0; s < GOLD_STEPS; s++) {
        double loss = train_step(opt);
        CHECK_MSG(fabs(loss - gold_loss[s]) <= 1e-6 + 1e-5 * fabs(gold_loss[s]), "%s loss %d: %.9g vs %.9g", name, s,
                  loss, gold_loss[s]);
        compare_params(gold + 15 * s, name, s);
    }
    CHECK(xt_adam_state(opt, 0, &step, &m, &v) == 0 && step == GOLD_STEPS && m && v);
    float mv[12], vv[12];
    CHECK(xt_to_host(m, mv, sizeof mv) == 0 && xt_to_host(v, vv, sizeof vv) == 0);
    for (int i = 0; i < 12; i++) {
        CHECK_CLOSE(mv[i], gold_m[i], 1e-7, 1e-5);
        CHECK_CLOSE(vv[i], gold_v[i], 1e-9, 1e-5);
    }
    xt_adam_free(opt);
}

/* Three steps, save the state, a fresh optimizer restores it and runs the other three: the
 * parameters end where the uninterrupted run ends. */
static void test_resume(void) {
    reset_problem();
    xt_tensor *ps[2] = {W, B};
    xt_adam_params p = params_for(GOLD_L2_WD, 0, 0);
    xt_adam *opt = xt_adam_new(ps, 2, p);
    for (int s = 0; s < 3; s++) train_step(opt);
    xt_tensor *saved_m[2], *saved_v[2];
    int64_t steps[2];
    for (int i = 0; i < 2; i++) {
        xt_tensor *m, *v;
        CHECK(xt_adam_state(opt, i, &steps[i], &m, &v) == 0);
        saved_m[i] = xt_clone(m);
        saved_v[i] = xt_clone(v);
    }
    xt_adam_free(opt);
    xt_adam *again = xt_adam_new(ps, 2, p);
    CHECK(again && xt_adam_count(again) == 2 && xt_adam_get_lr(again) == GOLD_LR);
    for (int i = 0; i < 2; i++) CHECK(xt_adam_set_state(again, i, steps[i], saved_m[i], saved_v[i]) == 0);
    CHECK(xt_adam_set_state(again, 0, 3, saved_m[1], saved_v[1]) == -1); /* (3) state for a (3, 4) parameter */
    CHECK_CONTAINS(xc_error(), "parameter 0");
    CHECK(xt_adam_set_state(again, 2, 3, saved_m[1], saved_v[1]) == -1);
    for (int s = 3; s < GOLD_STEPS; s++) train_step(again);
    compare_params(gold_l2_params + 15 * (GOLD_STEPS - 1), "resumed", GOLD_STEPS - 1);
    /* a learning rate change applies to the next step */
    xt_adam_set_lr(again, 0);
    float before[12], after[12];
    xt_to_host(W, before, sizeof before);
    train_step(again);
    xt_to_host(W, after, sizeof after);
    CHECK(!memcmp(before, after, sizeof before));
    xt_adam_free(again);
    for (int i = 0; i < 2; i++) {
        xt_free(saved_m[i]);
        xt_free(saved_v[i]);
    }
}

static void test_lazy_and_errors(void) {
    reset_problem();
    xt_tensor *ps[2] = {W, B};
    xt_adam *opt = xt_adam_new(ps, 2, params_for(0, 0, -1));
    /* only W gets a gradient: B keeps no state and does not move */
    xt_zero_grad(W);
    xt_zero_grad(B);
    CHECK(xt_backward(xt_sum(xt_mul(W, W))) == 0);
    CHECK(xt_adam_step(opt) == 0);
    int64_t step = -1;
    xt_tensor *m = NULL;
    CHECK(xt_adam_state(opt, 1, &step, &m, NULL) == 0 && step == 0 && m == NULL);
    CHECK(xt_adam_state(opt, 0, &step, &m, NULL) == 0 && step == 1 && m != NULL);
    float b[3];
    CHECK(xt_to_host(B, b, sizeof b) == 0 && b[0] == gold_b0[0] && b[2] == gold_b0[2]);
    xt_adam_free(opt);
    xt_adam_free(NULL);

    CHECK(xt_adam_new(ps, 0, xt_adam_default()) == NULL);
    xt_tensor *bad[2] = {W, NULL};
    CHECK(xt_adam_new(bad, 2, xt_adam_default()) == NULL);
    CHECK_CONTAINS(xc_error(), "params[1]");
    xt_adam_params p = xt_adam_default();
    p.beta1 = 1.0;
    CHECK(xt_adam_new(ps, 2, p) == NULL);
    CHECK_CONTAINS(xc_error(), "betas");
    xt_tensor *ints[1] = {xt_zeros(1, (int64_t[]){2}, XT_I64, XT_CPU)};
    CHECK(xt_adam_new(ints, 1, xt_adam_default()) == NULL);
    CHECK_CONTAINS(xc_error(), "floating point");
    CHECK(xt_adam_step(NULL) == -1);
}

int main(void) {
    X = xt_from_host(gold_x, 2, (int64_t[]){5, 4}, XT_F32);
    Y = xt_from_host(gold_y, 2, (int64_t[]){5, 3}, XT_F32);
    xt_arena *a = xt_arena_new();
    xt_arena *prev = xt_arena_push(a);
    static const int kernels[3] = {0, -1, 1};
    static const char *names[3] = {"single", "auto", "fused"};
    for (int k = 0; k < 3; k++) {
        char name[64];
        snprintf(name, sizeof name, "plain/%s", names[k]);
        run_config(name, 0, 0, kernels[k], gold_plain_params, gold_plain_loss, gold_plain_w_exp_avg,
                   gold_plain_w_exp_avg_sq);
        snprintf(name, sizeof name, "l2/%s", names[k]);
        run_config(name, GOLD_L2_WD, 0, kernels[k], gold_l2_params, gold_l2_loss, gold_l2_w_exp_avg,
                   gold_l2_w_exp_avg_sq);
        snprintf(name, sizeof name, "adamw/%s", names[k]);
        run_config(name, GOLD_ADAMW_WD, 1, kernels[k], gold_adamw_params, gold_adamw_loss, gold_adamw_w_exp_avg,
                   gold_adamw_w_exp_avg_sq);
        xt_arena_clear(a);
    }
    test_resume();
    test_lazy_and_errors();
    xt_arena_push(prev);
    xt_arena_free(a);
    xt_free(W);
    xt_free(B);
    xt_free(X);
    xt_free(Y);
    return check_done("shim_test_adam");
}
