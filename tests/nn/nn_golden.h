/* nn_golden.h — what the nn golden tests share: the deterministic state fill and inputs of
 * scripts/make_nn_golden.py (the docstring there defines them), opening the reference files of
 * tests/golden/nn/, and element-wise comparison of a tensor with a reference. */
#ifndef XRAYCLS_TESTS_NN_GOLDEN_H
#define XRAYCLS_TESTS_NN_GOLDEN_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xraycls/nn.h"
#include "xraycls/safetensors.h"
#include "xraycls/shim.h"

/* u_j in [-1, 1): the script's hash_u, a 32-bit integer hash of (j, k). */
static inline double golden_u(int64_t j, int k) {
    const uint64_t m = 0xFFFFFFFFu;
    uint64_t h = ((uint64_t)j * 2654435761u + (uint64_t)k * 40503u + 12345u) & m;
    for (int r = 0; r < 2; r++) {
        h ^= h >> 16;
        h = (h * 0x45D9F3Bu) & m;
    }
    h ^= h >> 16;
    return (double)h / 2147483648.0 - 1.0;
}

/* The value of element j of state entry k named `name` with shape (ndim, shape). */
static inline float golden_value(const char *name, int ndim, const int64_t *shape, int64_t n,
                                 int64_t j, int k) {
    size_t len = strlen(name);
#define ENDS(s) (len >= strlen(s) && !strcmp(name + len - strlen(s), s))
    double b = golden_u(j, k);
    if (ENDS("running_var")) return (float)(0.5 + 0.25 * (1 + b));
    if (ENDS("running_mean")) return (float)(0.1 * b);
    if (ENDS("bias")) return (float)(0.1 * b);
    if (ndim == 1) return (float)(1 + 0.2 * b);
    return (float)(sqrt(6.0 / ((double)n / (double)shape[0])) * b);
#undef ENDS
}

/* Fills every state entry of m (num_batches_tracked to 0). Returns 0 or -1. */
static inline int golden_fill(xc_model *m) {
    int rc = 0;
    xt_arena *prev = xt_arena_push(NULL);
    for (int k = 0; k < xc_model_state_count(m) && rc == 0; k++) {
        const xc_model_entry *e = xc_model_state_at(m, k);
        int64_t shape[8];
        int nd = xt_shape(e->tensor, shape, 8);
        int64_t n = xt_numel(e->tensor);
        if (strstr(e->name, "num_batches_tracked")) {
            rc = xt_fill_(e->tensor, 0);
            continue;
        }
        float *v = malloc((size_t)n * sizeof *v);
        if (!v) {
            rc = -1;
            break;
        }
        for (int64_t j = 0; j < n; j++) v[j] = golden_value(e->name, nd, shape, n, j, k);
        xt_tensor *h = xt_from_host(v, nd, shape, XT_F32);
        free(v);
        rc = h ? xt_copy_(e->tensor, h) : -1;
        xt_free(h);
    }
    xt_arena_push(prev);
    return rc;
}

/* A float32 tensor of the given shape with u(j, k) values (the script's gen()), in the
 * current arena. */
static inline xt_tensor *golden_gen(int ndim, const int64_t *shape, int k) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    float *v = malloc((size_t)n * sizeof *v);
    if (!v) return NULL;
    for (int64_t j = 0; j < n; j++) v[j] = (float)golden_u(j, k);
    xt_tensor *t = xt_from_host(v, ndim, shape, XT_F32);
    free(v);
    return t;
}

/* Opens tests/golden/nn/<file>; exits the test (status 2) when it cannot. */
static inline xc_st_file *golden_open(const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/golden/nn/%s", check_srcdir(), file);
    xc_st_file *f = xc_st_open(path);
    if (!f) {
        fprintf(stderr, "cannot open golden file: %s\n", xc_error());
        exit(2);
    }
    return f;
}

/* The reference tensor `name`; exits the test when absent (the golden file is broken). */
static inline const xc_st_tensor *golden_ref(xc_st_file *f, const char *name) {
    const xc_st_tensor *r = xc_st_find(f, name);
    if (!r) {
        fprintf(stderr, "golden file lacks '%s'\n", name);
        exit(2);
    }
    return r;
}

/* Host copy of a reference as doubles (F32 or F64); caller frees. */
static inline double *golden_ref_values(const xc_st_tensor *r, int64_t *n) {
    size_t es = r->dtype == XC_F64 ? 8 : 4;
    *n = (int64_t)(r->nbytes / es);
    double *v = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    for (int64_t i = 0; i < *n; i++) {
        if (es == 8) {
            double d;
            memcpy(&d, (const char *)r->data + i * 8, 8);
            v[i] = d;
        } else {
            float f;
            memcpy(&f, (const char *)r->data + i * 4, 4);
            v[i] = f;
        }
    }
    return v;
}

/* One CHECK: t (any device, float32) has the reference's shape and every element satisfies
 * |t - ref| <= atol + rtol |ref|. A negative atol means -atol times the reference's largest
 * magnitude: gradients that flow back through dozens of float32 layers differ between CPU
 * kernels (AVX2 against AVX-512 BLAS) by about 1e-6 of the tensor's largest element, so their small
 * elements are compared against that scale. Prints the worst element on failure. */
static inline void golden_compare(const char *what, const xt_tensor *t, const xc_st_tensor *r,
                                  double atol, double rtol) {
    if (!t) {
        CHECK_MSG(0, "%s: no tensor (%s)", what, xc_error());
        return;
    }
    int64_t shape[8];
    int nd = xt_shape(t, shape, 8);
    int same = nd == r->ndim;
    for (int d = 0; same && d < nd; d++) same = shape[d] == r->shape[d];
    if (!same) {
        CHECK_MSG(0, "%s: shape differs from the reference", what);
        return;
    }
    int64_t n;
    double *ref = golden_ref_values(r, &n);
    if (atol < 0) {
        double amax = 0;
        for (int64_t i = 0; i < n; i++) amax = fabs(ref[i]) > amax ? fabs(ref[i]) : amax;
        atol = -atol * amax;
    }
    float *got = malloc((size_t)(n ? n : 1) * sizeof *got);
    xt_tensor *c = xt_contiguous(t);
    int ok = c && xt_to_host(c, got, (size_t)n * sizeof *got) == 0;
    double worst = 0;
    int64_t wi = -1, bad = 0;
    for (int64_t i = 0; ok && i < n; i++) {
        double err = fabs((double)got[i] - ref[i]), tol = atol + rtol * fabs(ref[i]);
        if (!(err <= tol)) bad++;
        if (!(err / tol <= worst)) {
            worst = err / tol;
            wi = i;
        }
    }
    if (getenv("XRAYCLS_GOLDEN_VERBOSE")) /* how close to the tolerance the worst element is */
        fprintf(stderr, "%s: worst error / tolerance %.3g\n", what, worst);
    CHECK_MSG(ok && bad == 0, "%s: %lld of %lld elements off; worst [%lld] %.9g vs %.9g (%s)", what,
              (long long)bad, (long long)n, (long long)wi, wi >= 0 ? got[wi] : 0.0,
              wi >= 0 ? ref[wi] : 0.0, ok ? "" : xc_error());
    free(ref);
    free(got);
}

/* Gradient of t as doubles on the host (NULL when t has none); *n receives the count. */
static inline double *golden_grad_values(const xt_tensor *t, int64_t *n) {
    xt_tensor *g = NULL;
    if (xt_grad(t, &g) < 0 || !g) return NULL;
    *n = xt_numel(g);
    float *f = malloc((size_t)(*n ? *n : 1) * sizeof *f);
    double *d = malloc((size_t)(*n ? *n : 1) * sizeof *d);
    xt_tensor *c = xt_contiguous(g);
    if (!c || xt_to_host(c, f, (size_t)*n * sizeof *f) < 0) {
        free(f);
        free(d);
        return NULL;
    }
    for (int64_t i = 0; i < *n; i++) d[i] = f[i];
    free(f);
    return d;
}

/* Compares a whole network with <arch>.safetensors (see scripts/make_nn_golden.py): state
 * names/dtypes/shapes, eval and train logits, running stats of the listed BNs and their
 * num_batches_tracked, CE and focal loss, the head and stem gradients and per-parameter
 * gradient sums and norms. Tolerances: logits and stats atol 1e-5 rtol 1e-4; losses rtol 1e-5;
 * whole gradients atol 1e-6 rtol 1e-3; gradient sums within 1e-4 of the sum of |g| and norms
 * rtol 1e-4. */
static inline void golden_full_model(const char *arch, const char *head, const char *stem,
                                     const char *const *bns, int nbns) {
    char file[64], name[256];
    snprintf(file, sizeof file, "%s.safetensors", arch);
    xc_st_file *f = golden_open(file);
    xc_model *m = xc_model_new(arch, 3, XT_CPU);
    CHECK_MSG(m != NULL, "%s: %s", arch, xc_error());
    if (!m) return;

    /* The state: names, order, dtypes and shapes equal torchvision's. */
    const char *state = xc_st_meta(f, "state");
    CHECK(state != NULL);
    int k = 0, names_ok = 1;
    for (const char *line = state; line && *line; k++) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[512], want[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        const xc_model_entry *e = k < xc_model_state_count(m) ? xc_model_state_at(m, k) : NULL;
        if (e) {
            int64_t shape[8];
            int nd = xt_shape(e->tensor, shape, 8);
            size_t w = (size_t)snprintf(want, sizeof want, "%s %s ", e->name,
                                        xt_dtype_of(e->tensor) == XT_I64 ? "I64" : "F32");
            for (int d = 0; d < nd; d++)
                w += (size_t)snprintf(want + w, sizeof want - w, "%s%lld", d ? "," : "", (long long)shape[d]);
        }
        if (!e || strcmp(buf, want)) {
            if (names_ok) fprintf(stderr, "%s state entry %d: '%s' vs torchvision '%s'\n", arch, k, e ? want : "(none)", buf);
            names_ok = 0;
        }
        line = end ? end + 1 : NULL;
    }
    CHECK_MSG(names_ok, "%s: state entries differ from torchvision's", arch);
    CHECK_MSG(k == xc_model_state_count(m), "%s: %d entries vs torchvision's %d", arch,
              xc_model_state_count(m), k);
    CHECK(golden_fill(m) == 0);

    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    int64_t xs[4] = {2, 3, 64, 64};
    xt_tensor *x = golden_gen(4, xs, 1000);

    xc_model_set_training(m, 0);
    int grad = xt_grad_enabled_set(0);
    golden_compare("eval logits", xc_model_forward(m, x), golden_ref(f, "eval/logits"), 1e-5, 1e-4);
    xt_grad_enabled_set(grad);

    xc_model_set_training(m, 1);
    xt_tensor *logits = xc_model_forward(m, x);
    golden_compare("train logits", logits, golden_ref(f, "train/logits"), 1e-5, 1e-4);
    for (int i = 0; i < nbns; i++) {
        snprintf(name, sizeof name, "%s.running_mean", bns[i]);
        char ref[300];
        snprintf(ref, sizeof ref, "train/%s", name);
        golden_compare(name, xc_model_find(m, name), golden_ref(f, ref), 1e-5, 1e-4);
        snprintf(name, sizeof name, "%s.running_var", bns[i]);
        snprintf(ref, sizeof ref, "train/%s", name);
        golden_compare(name, xc_model_find(m, name), golden_ref(f, ref), 1e-5, 1e-4);
        snprintf(name, sizeof name, "%s.num_batches_tracked", bns[i]);
        double nbt = -1;
        CHECK(xt_item(xc_model_find(m, name), &nbt) == 0 && nbt == 1);
    }

    int64_t tv[2] = {0, 2}, ts[1] = {2};
    xt_tensor *target = xt_from_host(tv, 1, ts, XT_I64);
    xt_tensor *ce = xc_loss_cross_entropy(logits, target, NULL);
    xt_tensor *fl = xc_loss_focal(logits, target, 2.0, NULL);
    int64_t one[1] = {1};
    golden_compare("ce loss", ce ? xt_reshape(ce, 1, one) : NULL, golden_ref(f, "loss/ce"), 1e-6, 1e-5);
    golden_compare("focal loss", fl ? xt_reshape(fl, 1, one) : NULL, golden_ref(f, "loss/focal"), 1e-6, 1e-5);
    CHECK_MSG(ce && xt_backward(ce) == 0, "backward: %s", xc_error());

    xt_tensor *g = NULL;
    snprintf(name, sizeof name, "%s.weight", head);
    char ref[300];
    snprintf(ref, sizeof ref, "grad/%s", name);
    CHECK(xt_grad(xc_model_find(m, name), &g) == 0);
    golden_compare("head weight grad", g, golden_ref(f, ref), 1e-6, 1e-3);
    snprintf(ref, sizeof ref, "grad/%s", stem);
    CHECK(xt_grad(xc_model_find(m, stem), &g) == 0);
    golden_compare("stem conv grad", g, golden_ref(f, ref), -1e-5, 1e-3);

    /* Every parameter's gradient, summarised. */
    const char *params = xc_st_meta(f, "params");
    int64_t nref;
    double *rsum = golden_ref_values(golden_ref(f, "gradstat/sum"), &nref);
    double *rabs = golden_ref_values(golden_ref(f, "gradstat/abs_sum"), &nref);
    double *rnorm = golden_ref_values(golden_ref(f, "gradstat/norm"), &nref);
    int p = 0, bad = 0;
    for (const char *line = params; line && *line; p++) {
        const char *end = strchr(line, '\n');
        snprintf(name, sizeof name, "%.*s", (int)(end ? (size_t)(end - line) : strlen(line)), line);
        line = end ? end + 1 : NULL;
        if (p >= nref) break;
        int64_t n = 0;
        xt_tensor *t = xc_model_find(m, name);
        double *gv = t ? golden_grad_values(t, &n) : NULL;
        double sum = 0, sq = 0;
        for (int64_t i = 0; gv && i < n; i++) {
            sum += gv[i];
            sq += gv[i] * gv[i];
        }
        double norm = sqrt(sq);
        /* 1e-3: see golden_compare on float32 gradients across CPU kernels. */
        int ok = gv && fabs(sum - rsum[p]) <= 1e-3 * rabs[p] + 1e-9 &&
                 fabs(norm - rnorm[p]) <= 1e-3 * rnorm[p] + 1e-9;
        if (!ok && bad++ < 5)
            fprintf(stderr, "%s grad of '%s': sum %.9g vs %.9g, norm %.9g vs %.9g\n", arch, name,
                    sum, rsum[p], norm, rnorm[p]);
        free(gv);
    }
    CHECK_MSG(bad == 0, "%s: %d parameter gradients differ", arch, bad);
    CHECK_MSG(p == nref, "%s: %d parameters vs %lld gradient summaries", arch, p, (long long)nref);
    free(rsum);
    free(rabs);
    free(rnorm);

    xt_arena_push(prev);
    xt_arena_free(arena);
    xc_model_free(m);
    xc_st_close(f);
}

#endif
