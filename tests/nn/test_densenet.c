/* test_densenet.c — DenseNet against torchvision (densenet121 at 64 px, batch 2: state names,
 * logits in eval and train mode, running stats, losses, gradients;
 * tests/golden/nn/densenet121.safetensors), plus a 32 px input, the head name, and loading
 * old-style DenseNet names ("denselayer1.norm.1.weight", as torchvision's own loader accepts). */
#include "nn/nn_golden.h"

static void test_legacy_names(void) {
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    xc_model *m = xc_model_new("densenet121", 2, XT_CPU);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(!strcmp(xc_model_head_name(m), "classifier"));
    CHECK(golden_fill(m) == 0);

    /* 32 px works. */
    int64_t s32[4] = {2, 3, 32, 32};
    xt_tensor *x = golden_gen(4, s32, 7);
    xt_tensor *y = xc_model_forward(m, x);
    CHECK(y && xt_size(y, 0) == 2 && xt_size(y, 1) == 2);

    /* The state as host tensors, with the old names for dense layers' norm/conv. */
    int n = xc_model_state_count(m);
    xc_st_tensor *ts = calloc((size_t)n, sizeof *ts);
    char **names = calloc((size_t)n, sizeof *names);
    int renamed = 0;
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(m, i);
        xt_dtype dt = xt_dtype_of(e->tensor);
        ts[i].ndim = xt_shape(e->tensor, ts[i].shape, XC_ST_MAX_DIMS);
        ts[i].dtype = (xc_dtype)dt;
        ts[i].nbytes = (size_t)xt_numel(e->tensor) * xt_dtype_size(dt);
        void *buf = malloc(ts[i].nbytes ? ts[i].nbytes : 1);
        CHECK(xt_to_host(xt_contiguous(e->tensor), buf, ts[i].nbytes) == 0);
        ts[i].data = buf;
        names[i] = strdup(e->name);
        char *p = strstr(names[i], ".norm1.");
        if (!p) p = strstr(names[i], ".conv2.");
        if (p && strstr(names[i], "denselayer") && !strstr(names[i], "num_batches_tracked")) {
            /* "….norm1.weight" → "….norm.1.weight" */
            char old[512];
            snprintf(old, sizeof old, "%.*s.%.4s.%c%s", (int)(p - names[i]), names[i], p + 1, p[5], p + 6);
            free(names[i]);
            names[i] = strdup(old);
            renamed++;
        }
        ts[i].name = names[i];
    }
    CHECK(renamed > 100);
    CHECK(!strcmp(ts[6].name, "features.denseblock1.denselayer1.norm.1.weight"));

    xt_manual_seed(3);
    xc_model *m2 = xc_model_new("densenet121", 2, XT_CPU);
    xc_load_report rep;
    CHECK_MSG(xc_model_load_named(m2, ts, n, "legacy", &rep) == 0, "%s", xc_error());
    CHECK(rep.n_unused == 0 && rep.loaded == n && !rep.head_reinit);
    xc_load_report_free(&rep);
    xc_model_set_training(m, 0);
    xc_model_set_training(m2, 0);
    int g = xt_grad_enabled_set(0);
    xt_tensor *a = xc_model_forward(m, x), *b = xc_model_forward(m2, x), *mx = NULL;
    double d = 1;
    if (a && b && xt_max_dim(xt_flatten(xt_abs(xt_sub(a, b)), 0, -1), 0, 0, &mx, NULL) == 0)
        xt_item(mx, &d);
    CHECK_MSG(d == 0, "legacy-named load differs by %g", d);

    /* A float64 source converts; an int64 running_var is refused, naming it. */
    int last = n - 1; /* classifier.bias (2) */
    CHECK(!strcmp(ts[last].name, "classifier.bias"));
    double b64[2] = {0.25, -4.5};
    const void *keep = ts[last].data;
    ts[last].data = b64;
    ts[last].dtype = XC_F64;
    ts[last].nbytes = sizeof b64;
    CHECK_MSG(xc_model_load_named(m2, ts, n, "f64", NULL) == 0, "%s", xc_error());
    float bias[2] = {0};
    CHECK(xt_to_host(xc_model_find(m2, "classifier.bias"), bias, sizeof bias) == 0);
    CHECK(bias[0] == 0.25f && bias[1] == -4.5f);
    ts[last].data = keep;
    ts[last].dtype = XC_F32;
    ts[last].nbytes = 2 * sizeof(float);
    int rv = last - 3; /* features.norm5.running_var */
    CHECK(!strcmp(ts[rv].name, "features.norm5.running_var"));
    ts[rv].dtype = XC_I32;
    CHECK(xc_model_load_named(m2, ts, n, "ints.pth", NULL) == -1);
    CHECK_CONTAINS(xc_error(), "loading 'ints.pth' into densenet121: tensor 'features.norm5.running_var' has dtype I32");
    ts[rv].dtype = XC_F32;
    xt_grad_enabled_set(g);
    for (int i = 0; i < n; i++) {
        free((void *)ts[i].data);
        free(names[i]);
    }
    free(ts);
    free(names);
    xc_model_free(m);
    xc_model_free(m2);
    xt_arena_push(prev);
    xt_arena_free(arena);
}

int main(void) {
    xt_set_num_threads(2);
    static const char *const bns[] = {"features.norm0", "features.denseblock2.denselayer3.norm2",
                                      "features.norm5"};
    golden_full_model("densenet121", "classifier", "features.conv0.weight", bns, 3);
    test_legacy_names();
    return check_done("nn_test_densenet");
}
