/* test_fold.c — the inference form (batch norm folded into the convolutions, nn/fold.c).
 *
 * resnet50 and densenet121 with the golden state of scripts/make_nn_golden.py (64 px, batch 2):
 * the folded model's eval logits must match torchvision's eval-mode logits (the committed
 * reference, same tolerance as the unfolded model's golden test) and the unfolded model's
 * within float rounding, also in channels_last, where every block's output stays channels_last
 * (no layout copy between blocks); switching to training drops the fold; loading
 * new weights folds them again; xc_bn_fold refuses a non-positive variance. */
#include "../../src/nn/nn_internal.h"
#include "nn/nn_golden.h"

/* max |a - b| over n, and max |b| */
static double maxdiff(const float *a, const float *b, int n, double *scale) {
    double d = 0, s = 0;
    for (int i = 0; i < n; i++) {
        if (fabs((double)a[i] - b[i]) > d) d = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > s) s = fabs((double)b[i]);
    }
    if (scale) *scale = s;
    return d;
}

static int logits(xc_model *m, const xt_tensor *x, float *out, size_t cap) {
    xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
    int g = xt_grad_enabled_set(0);
    xt_tensor *y = xc_model_forward(m, x);
    int rc = y ? xt_to_host(y, out, cap) : -1;
    if (!y) fprintf(stderr, "%s: %s\n", xc_model_arch(m), xc_error());
    xt_grad_enabled_set(g);
    xt_arena_push(prev);
    xt_arena_free(a);
    return rc;
}

/* In channels_last every tap point — the stem, the pool and each block's (ResNet) or dense
 * block's and transition's (DenseNet) output — must come out channels_last: an op that fell
 * back to NCHW would make the next convolution convert its input, a copy between blocks. */
static void check_layout_through(xc_model *m, const xt_tensor *x) {
    char names[64][32];
    int n = 0;
    if (m->family == NN_RESNET) {
        snprintf(names[n++], sizeof names[0], "relu");
        snprintf(names[n++], sizeof names[0], "maxpool");
        for (int l = 0; l < 4; l++)
            for (int b = 0; b < m->resnet.layer_len[l] && n < 64; b++)
                snprintf(names[n++], sizeof names[0], "layer%d.%d", l + 1, b);
    } else {
        snprintf(names[n++], sizeof names[0], "features.relu0");
        snprintf(names[n++], sizeof names[0], "features.pool0");
        for (int b = 1; b <= 4; b++) {
            snprintf(names[n++], sizeof names[0], "features.denseblock%d", b);
            if (b < 4) snprintf(names[n++], sizeof names[0], "features.transition%d", b);
        }
        snprintf(names[n++], sizeof names[0], "features.norm5");
    }
    for (int i = 0; i < n; i++) {
        xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
        int g = xt_grad_enabled_set(0);
        xt_tensor *act = NULL;
        xt_tensor *y = xc_model_forward_tap(m, x, names[i], &act);
        CHECK_MSG(y && act, "%s: tapped forward at %s: %s", xc_model_arch(m), names[i], xc_error());
        int64_t sh[4] = {0};
        if (act) xt_shape(act, sh, 4);
        /* (N, C, h, w) with h·w > 1, where the two layouts differ */
        if (act && sh[2] * sh[3] > 1)
            CHECK_MSG(xt_is_channels_last(act) == 1, "%s: the output of %s is not channels_last", xc_model_arch(m), names[i]);
        xt_grad_enabled_set(g);
        xt_arena_push(prev);
        xt_arena_free(a);
    }
}

static void test_arch(const char *arch) {
    char file[64];
    snprintf(file, sizeof file, "%s.safetensors", arch);
    xc_st_file *f = golden_open(file);
    xc_model *m = xc_model_new(arch, 3, XT_CPU);
    CHECK_MSG(m != NULL, "%s: %s", arch, xc_error());
    if (!m) return;
    CHECK(golden_fill(m) == 0);
    xc_model_set_training(m, 0);
    int64_t xs[4] = {2, 3, 64, 64};
    xt_tensor *x = golden_gen(4, xs, 1000);
    float plain[6], folded[6], cl[6];
    CHECK(logits(m, x, plain, sizeof plain) == 0);
    CHECK(!xc_model_is_folded(m));
    CHECK_MSG(xc_model_fold_bn(m, 1) == 0, "%s", xc_error());
    CHECK(xc_model_is_folded(m) && !xc_model_is_training(m));
    CHECK(logits(m, x, folded, sizeof folded) == 0);

    /* torchvision eval mode (the reference file), as the unfolded model is held to */
    xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
    int g = xt_grad_enabled_set(0);
    golden_compare("folded eval logits", xc_model_forward(m, x), golden_ref(f, "eval/logits"), 1e-5, 1e-4);
    xt_grad_enabled_set(g);
    xt_arena_push(prev);
    xt_arena_free(a);

    double scale, d = maxdiff(folded, plain, 6, &scale);
    CHECK_MSG(d <= 1e-5 * (scale > 1 ? scale : 1), "%s: folded logits differ from unfolded by %g", arch, d);

    /* the folded weights follow the layout */
    CHECK(xc_model_set_channels_last(m, 1) == 0 && xc_model_is_folded(m));
    CHECK(logits(m, x, cl, sizeof cl) == 0);
    d = maxdiff(cl, plain, 6, &scale);
    CHECK_MSG(d <= 1e-5 * (scale > 1 ? scale : 1), "%s: channels_last folded logits differ by %g", arch, d);
    check_layout_through(m, x);
    CHECK(xc_model_set_channels_last(m, 0) == 0);

    /* new weights are folded again: scale one batch norm's gamma after the stem */
    const char *gname = m->family == NN_RESNET ? "bn1.weight" : "features.norm0.weight";
    xt_tensor *gt = xc_model_find(m, gname);
    int64_t gn = xt_numel(gt);
    float *gv = malloc((size_t)gn * sizeof *gv);
    CHECK(gv && xt_to_host(gt, gv, (size_t)gn * sizeof *gv) == 0);
    for (int64_t i = 0; gv && i < gn; i++) gv[i] *= 0.5f;
    xc_st_tensor t = {0};
    t.name = gname;
    t.dtype = XC_F32;
    t.ndim = 1;
    t.shape[0] = gn;
    t.data = gv;
    t.nbytes = (size_t)gn * sizeof *gv;
    xc_load_report rep;
    CHECK_MSG(xc_model_load_named(m, &t, 1, "test", &rep) < 0, "a partial state loaded");
    /* a whole state: the model's own entries with the changed gamma */
    int n = xc_model_state_count(m);
    xc_st_tensor *all = calloc((size_t)n, sizeof *all);
    void **bufs = calloc((size_t)n, sizeof *bufs);
    for (int k = 0; k < n; k++) {
        const xc_model_entry *e = xc_model_state_at(m, k);
        all[k].name = e->name;
        int is64 = xt_dtype_of(e->tensor) == XT_I64;
        all[k].dtype = is64 ? XC_I64 : XC_F32;
        all[k].ndim = xt_shape(e->tensor, all[k].shape, XC_ST_MAX_DIMS);
        all[k].nbytes = (size_t)xt_numel(e->tensor) * (is64 ? 8 : 4);
        bufs[k] = malloc(all[k].nbytes ? all[k].nbytes : 1);
        CHECK(xt_to_host(e->tensor, bufs[k], all[k].nbytes) == 0);
        if (!strcmp(e->name, gname)) memcpy(bufs[k], gv, all[k].nbytes);
        all[k].data = bufs[k];
    }
    CHECK_MSG(xc_model_load_named(m, all, n, "test", &rep) == 0, "%s", xc_error());
    xc_load_report_free(&rep);
    CHECK(xc_model_is_folded(m));
    float refolded[6], unfolded[6];
    CHECK(logits(m, x, refolded, sizeof refolded) == 0);
    CHECK(xc_model_fold_bn(m, 0) == 0 && !xc_model_is_folded(m));
    CHECK(logits(m, x, unfolded, sizeof unfolded) == 0);
    d = maxdiff(refolded, unfolded, 6, &scale);
    CHECK_MSG(d <= 1e-5 * (scale > 1 ? scale : 1), "%s: refolded logits differ by %g", arch, d);
    CHECK_MSG(maxdiff(unfolded, plain, 6, NULL) > 1e-3, "%s: the changed weight had no effect", arch);
    for (int k = 0; k < n; k++) free(bufs[k]);
    free(bufs);
    free(all);
    free(gv);

    /* training never runs folded */
    CHECK(xc_model_fold_bn(m, 1) == 0);
    xc_model_set_training(m, 1);
    CHECK(!xc_model_is_folded(m));

    xt_free(x);
    xc_model_free(m);
    xc_st_close(f);
}

static void test_arith(void) {
    float w[4] = {1, 2, 3, 4}, gm[2] = {1, 1}, bt[2] = {0, 0}, mu[2] = {0, 0}, var[2] = {1, -1};
    float ow[4], ob[2];
    CHECK(xc_bn_fold(w, 2, 2, gm, bt, mu, var, 1e-5, ow, ob) == -1);
    CHECK_CONTAINS(xc_error(), "channel 1");
}

int main(void) {
    xt_set_num_threads(2);
    test_arith();
    test_arch("resnet50");
    test_arch("densenet121");
    return check_done("nn_test_fold");
}
