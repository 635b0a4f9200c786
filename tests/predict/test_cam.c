/* test_cam.c — Grad-CAM and Grad-CAM++ of resnet18 and densenet121 against the maps PyTorch
 * computes on the same weights and input (scripts/make_cam_golden.py →
 * tests/golden/predict/cam.safetensors): the explained class, the map at the layer's resolution
 * element-wise (atol 1e-4 of the map's maximum, rtol 1e-3), and at the input's resolution a
 * Pearson correlation >= 0.99 and the same argmax location. Also: bad layer names, the default
 * layers, a class chosen by the caller, and that a tapped forward gives the plain forward's
 * logits and leaves the parameters' gradients alone. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../nn/nn_golden.h"
#include "check.h"
#include "xraycls/cam.h"
#include "xraycls/nn.h"

static xc_st_file *golden;

static int argmax_f(const float *v, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (int)b;
}

static int argmax_d(const double *v, int64_t n) {
    int64_t b = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (int)b;
}

static void one_case(xc_model *m, const xt_tensor *x, const char *arch, const char *layer, xc_cam_method method) {
    char key[256];
    xc_cam_opts o = xc_cam_default();
    o.layer = layer;
    o.method = method;
    xc_cam_batch b;
    int rc = xc_cam_compute(m, x, &o, 0, &b);
    CHECK_MSG(rc == 0, "%s %s: %s", arch, layer, xc_error());
    if (rc != 0) {
        xc_cam_batch_free(&b);
        return;
    }
    const char *mname = xc_cam_method_name(method);
    snprintf(key, sizeof key, "%s/%s/%s/class", arch, layer, mname);
    const xc_st_tensor *cls = golden_ref(golden, key);
    for (int i = 0; i < b.n; i++) {
        int64_t c;
        memcpy(&c, (const char *)cls->data + i * 8, 8);
        CHECK_MSG(b.class_index[i] == c, "%s: image %d explains class %d, PyTorch %lld", key, i, b.class_index[i],
                  (long long)c);
    }
    /* The map at the layer's resolution, element by element. */
    snprintf(key, sizeof key, "%s/%s/%s/map", arch, layer, mname);
    const xc_st_tensor *ref = golden_ref(golden, key);
    int64_t n;
    double *rv = golden_ref_values(ref, &n);
    CHECK_MSG(n == (int64_t)b.n * b.h * b.w && ref->shape[1] == b.h && ref->shape[2] == b.w, "%s: shape", key);
    if (n == (int64_t)b.n * b.h * b.w) {
        double peak = 0, worst = 0;
        for (int64_t i = 0; i < n; i++) peak = rv[i] > peak ? rv[i] : peak;
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            double err = fabs(b.map[i] - rv[i]), tol = 1e-4 * peak + 1e-3 * fabs(rv[i]);
            if (!(err <= tol)) bad++;
            if (err / tol > worst) worst = err / tol;
        }
        CHECK_MSG(peak > 0 && bad == 0, "%s: %d of %lld elements off (worst error/tolerance %.3g, peak %g)", key, bad,
                  (long long)n, worst, peak);
    }
    free(rv);
    /* At the input's resolution: Pearson and argmax per image. */
    snprintf(key, sizeof key, "%s/%s/%s/map_input", arch, layer, mname);
    ref = golden_ref(golden, key);
    rv = golden_ref_values(ref, &n);
    int64_t per = (int64_t)b.size_h * b.size_w;
    CHECK_MSG(n == b.n * per, "%s: shape", key);
    for (int i = 0; n == b.n * per && i < b.n; i++) {
        const float *got = b.map_input + i * per;
        const double *want = rv + i * per;
        double r = xc_cam_pearson(got, want, per);
        CHECK_MSG(r >= 0.99, "%s image %d: Pearson %.6f", key, i, r);
        int ga = argmax_f(got, per), wa = argmax_d(want, per);
        /* Equal maxima (a flat top) may pick another pixel of the same value. */
        CHECK_MSG(ga == wa || fabs(want[ga] - want[wa]) <= 1e-5 * fabs(want[wa]), "%s image %d: argmax %d vs %d", key,
                  i, ga, wa);
    }
    free(rv);
    xc_cam_batch_free(&b);
}

static void model_cases(const char *arch, const char *const *layers, int nlayers, const char *def) {
    xc_model *m = xc_model_new(arch, 3, XT_CPU);
    CHECK_MSG(m != NULL, "%s: %s", arch, xc_error());
    if (!m) return;
    CHECK(golden_fill(m) == 0);
    xc_model_set_training(m, 0);
    CHECK(!strcmp(xc_model_cam_layer_default(m), def));
    xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
    int64_t shape[4] = {2, 3, 64, 64};
    xt_tensor *x = golden_gen(4, shape, 1000);
    for (int l = 0; l < nlayers; l++) {
        one_case(m, x, arch, layers[l], XC_CAM_GRADCAM);
        one_case(m, x, arch, layers[l], XC_CAM_GRADCAM_PP);
    }

    /* NULL layer = the default; the map equals the one named explicitly. */
    xc_cam_opts o = xc_cam_default();
    xc_cam_batch b1, b2;
    CHECK(xc_cam_compute(m, x, &o, 0, &b1) == 0);
    o.layer = def;
    CHECK(xc_cam_compute(m, x, &o, 0, &b2) == 0);
    CHECK(b1.h == b2.h && b1.map && b2.map && !memcmp(b1.map, b2.map, (size_t)b1.n * b1.h * b1.w * sizeof(float)));
    xc_cam_batch_free(&b2);
    /* A chosen class: every image explains it. */
    o.class_index = 1;
    CHECK(xc_cam_compute(m, x, &o, 0, &b2) == 0);
    CHECK(b2.class_index && b2.class_index[0] == 1 && b2.class_index[1] == 1);
    xc_cam_batch_free(&b2);
    o.class_index = 3;
    CHECK(xc_cam_compute(m, x, &o, 0, &b2) < 0);
    CHECK_CONTAINS(xc_error(), "class 3 is out of range");
    xc_cam_batch_free(&b2);

    /* The tapped forward's logits are the plain forward's; parameters get no gradient. */
    int g = xt_grad_enabled_set(0);
    xt_tensor *plain = xc_model_forward(m, x), *act = NULL;
    xt_grad_enabled_set(g);
    xt_tensor *tapped = xc_model_forward_tap(m, x, NULL, &act);
    CHECK(plain && tapped && act && xt_requires_grad(act) == 1);
    if (plain && tapped) {
        float p[6], t[6];
        CHECK(xt_to_host(plain, p, sizeof p) == 0 && xt_to_host(xt_detach(tapped), t, sizeof t) == 0);
        CHECK(!memcmp(p, t, sizeof p));
    }
    xt_tensor *grad = NULL;
    CHECK(xt_grad(xc_model_state_at(m, 0)->tensor, &grad) == 0 && grad == NULL);
    for (int k = 0; k < b1.n * b1.h * b1.w; k++) CHECK(b1.map[k] >= 0);
    xc_cam_batch_free(&b1);

    /* Bad layer names are refused with the list of good ones. */
    o = xc_cam_default();
    const char *bad[] = {"layer5", "layer4.2", "layer1.x", "fc", "features.denseblock5", "features.norm0", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(xc_model_layer_check(m, bad[i]) < 0, "%s accepted '%s'", arch, bad[i]);
        o.layer = bad[i];
        CHECK(xc_cam_compute(m, x, &o, 0, &b1) < 0);
        CHECK_CONTAINS(xc_error(), "to explain");
        xc_cam_batch_free(&b1);
    }
    xt_arena_push(prev);
    xt_arena_free(a);
    xc_model_free(m);
}

int main(void) {
    xt_set_num_threads(2);
    golden = golden_open("../predict/cam.safetensors");
    const char *rl[] = {"layer4", "layer3", "layer2.1"};
    model_cases("resnet18", rl, 3, "layer4");
    const char *dl[] = {"features.norm5", "features.denseblock3", "features.transition2"};
    model_cases("densenet121", dl, 3, "features.norm5");

    /* Pearson: the helper itself on a known pair. */
    float a[4] = {1, 2, 3, 4};
    double b[4] = {2, 4, 6, 8.5};
    CHECK_CLOSE(xc_cam_pearson(a, b, 4), 0.998381, 1e-5, 0);
    xc_st_close(golden);
    return check_done("test_cam");
}
