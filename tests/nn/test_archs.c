/* test_archs.c — every supported architecture builds with torchvision's number of state entries,
 * parameter elements and head input features (tests/golden/nn/archs.txt, from
 * scripts/make_nn_golden.py), is initialised as torchvision (BN weight 1, bias 0, running_var 1,
 * conv weight std from kaiming_normal_, head bound 1/sqrt(fan_in)), and unknown names fail
 * with the list of known ones. */
#include "nn/nn_golden.h"

/* Standard deviation of a tensor's elements. */
static double std_of(const xt_tensor *t) {
    int64_t n = xt_numel(t);
    float *v = malloc((size_t)n * sizeof *v);
    double s = 0, sq = 0;
    if (xt_to_host(xt_contiguous(t), v, (size_t)n * sizeof *v) == 0)
        for (int64_t i = 0; i < n; i++) {
            s += v[i];
            sq += (double)v[i] * v[i];
        }
    free(v);
    double mean = s / (double)n;
    return sqrt(sq / (double)n - mean * mean);
}

static double max_abs(const xt_tensor *t) {
    xt_tensor *mx = NULL;
    double d = -1;
    if (xt_max_dim(xt_flatten(xt_abs(t), 0, -1), 0, 0, &mx, NULL) == 0) xt_item(mx, &d);
    return d;
}

int main(void) {
    xt_set_num_threads(2);
    xt_manual_seed(0);
    xt_arena *arena = xt_arena_new();
    xt_arena_push(arena);

    int na;
    const char *const *names = xc_arch_names(&na);
    CHECK(na == 9);
    CHECK(xc_arch_check("densenet201") == 0);
    CHECK(xc_arch_check("resnet49") == -1);
    CHECK_CONTAINS(xc_error(), "unknown arch 'resnet49' (known: resnet18, resnet34, resnet50, "
                               "resnet101, resnet152, densenet121, densenet161, densenet169, densenet201)");
    CHECK(xc_arch_check(NULL) == -1);

    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/nn/archs.txt", check_srcdir());
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char arch[64];
    int entries, in_features, seen = 0;
    long long numel;
    while (f && fscanf(f, "%63s %d %lld %d", arch, &entries, &numel, &in_features) == 4) {
        CHECK(!strcmp(arch, names[seen]));
        seen++;
        xc_model *m = xc_model_new(arch, 1000, XT_CPU);
        CHECK_MSG(m != NULL, "%s: %s", arch, xc_error());
        if (!m) continue;
        CHECK_MSG(xc_model_state_count(m) == entries, "%s: %d entries, torchvision %d", arch,
                  xc_model_state_count(m), entries);
        CHECK_MSG(xc_model_param_numel(m) == numel, "%s: %lld parameter elements, torchvision %lld",
                  arch, (long long)xc_model_param_numel(m), numel);
        char hw[64];
        snprintf(hw, sizeof hw, "%s.weight", xc_model_head_name(m));
        CHECK(xt_size(xc_model_find(m, hw), 1) == in_features);
        xt_tensor *const *ps;
        int np, nparam = 0;
        for (int i = 0; i < xc_model_state_count(m); i++) nparam += xc_model_state_at(m, i)->is_param;
        CHECK(xc_model_params(m, &ps, &np) == 0 && np == nparam);

        /* Initialisation. */
        int resnet = !strncmp(arch, "resnet", 6);
        xt_tensor *stem = xc_model_find(m, resnet ? "conv1.weight" : "features.conv0.weight");
        double want = sqrt(2.0 / (resnet ? 64 * 49 : 3 * 49)); /* fan_out vs fan_in */
        CHECK_CLOSE(std_of(stem), want, 0, 0.05);
        xt_tensor *bnw = xc_model_find(m, resnet ? "bn1.weight" : "features.norm0.weight");
        xt_tensor *bnb = xc_model_find(m, resnet ? "bn1.bias" : "features.norm0.bias");
        xt_tensor *bnv = xc_model_find(m, resnet ? "bn1.running_var" : "features.norm0.running_var");
        CHECK(max_abs(xt_add_scalar(bnw, -1)) == 0 && max_abs(bnb) == 0 && max_abs(xt_add_scalar(bnv, -1)) == 0);
        snprintf(hw, sizeof hw, "%s.weight", xc_model_head_name(m));
        double bound = 1 / sqrt((double)in_features);
        double hmax = max_abs(xc_model_find(m, hw));
        CHECK(hmax <= bound && hmax > 0.9 * bound);
        snprintf(hw, sizeof hw, "%s.bias", xc_model_head_name(m));
        double bmax = max_abs(xc_model_find(m, hw));
        CHECK(resnet ? (bmax <= bound && bmax > 0.9 * bound) : bmax == 0);
        CHECK(xt_dtype_of(xc_model_find(m, resnet ? "bn1.num_batches_tracked"
                                                  : "features.norm0.num_batches_tracked")) == XT_I64);
        xc_model_free(m);
        xt_arena_clear(arena);
    }
    CHECK(seen == 9);
    if (f) fclose(f);
    xt_arena_push(NULL);
    xt_arena_free(arena);
    return check_done("nn_test_archs");
}
