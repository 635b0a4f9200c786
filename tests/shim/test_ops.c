/* test_ops.c — shim ops against hand-computed values, failures as messages, arenas, host
 * transfer and conversions. */
#include <math.h>

#include "check.h"
#include "xraycls/shim.h"

/* t's values as float32 into out (n elements); returns the element count or -1. */
static int64_t get_f32(const xt_tensor *t, float *out, int64_t n) {
    xt_tensor *f = xt_to_dtype(t, XT_F32);
    if (!f) return -1;
    int64_t k = xt_numel(f);
    if (k != n || xt_to_host(f, out, (size_t)n * sizeof(float)) < 0) return -1;
    return k;
}

static xt_tensor *from_f32(const float *v, int ndim, const int64_t *shape) {
    return xt_from_host(v, ndim, shape, XT_F32);
}

static void check_values(const xt_tensor *t, const float *want, int64_t n, double tol, const char *what) {
    float got[256];
    CHECK_MSG(n <= 256 && get_f32(t, got, n) == n, "%s: cannot read %lld values: %s", what, (long long)n, xc_error());
    if (n > 256) return;
    for (int64_t i = 0; i < n; i++)
        CHECK_MSG(fabs(got[i] - want[i]) <= tol, "%s[%lld]: %.7g vs %.7g", what, (long long)i, got[i], want[i]);
}

static void test_conv_pool_linear(void) {
    float x9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w4[4] = {1, 2, 3, 4}, bias = 0.5f;
    int64_t xs[4] = {1, 1, 3, 3}, ws[4] = {1, 1, 2, 2}, bs[1] = {1};
    xt_tensor *x = from_f32(x9, 4, xs), *w = from_f32(w4, 4, ws), *b = from_f32(&bias, 1, bs);
    xt_tensor *y = xt_conv2d(x, w, b, 1, 0, 1, 1);
    float want1[4] = {37.5f, 47.5f, 67.5f, 77.5f};
    CHECK(y && xt_ndim(y) == 4 && xt_size(y, 2) == 2 && xt_size(y, 3) == 2);
    check_values(y, want1, 4, 1e-5, "conv2d");
    y = xt_conv2d(x, w, b, 2, 1, 1, 1); /* stride 2, padding 1 */
    float want2[4] = {4.5f, 18.5f, 36.5f, 77.5f};
    check_values(y, want2, 4, 1e-5, "conv2d stride/pad");
    y = xt_conv2d(x, w, NULL, 1, 0, 1, 1);
    float want3[4] = {37, 47, 67, 77};
    check_values(y, want3, 4, 1e-5, "conv2d no bias");

    float img[16];
    for (int i = 0; i < 16; i++) img[i] = (float)(i + 1);
    int64_t is[4] = {1, 1, 4, 4};
    xt_tensor *im = from_f32(img, 4, is);
    float mx[4] = {6, 8, 14, 16}, av[4] = {3.5f, 5.5f, 11.5f, 13.5f}, ad = 8.5f;
    check_values(xt_max_pool2d(im, 2, 2, 0), mx, 4, 0, "max_pool2d");
    check_values(xt_avg_pool2d(im, 2, 2, 0), av, 4, 1e-6, "avg_pool2d");
    check_values(xt_adaptive_avg_pool2d(im, 1, 1), &ad, 1, 1e-6, "adaptive_avg_pool2d");
    /* 3x3 max pool, stride 2, padding 1 (ResNet's stem) on 4x4 → 2x2 */
    float mp[4] = {6, 8, 14, 16};
    check_values(xt_max_pool2d(im, 3, 2, 1), mp, 4, 0, "max_pool2d pad");

    float lx[6] = {1, 2, 3, 4, 5, 6}, lw[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}, lb[2] = {1, -1};
    int64_t s23[2] = {2, 3}, s2[1] = {2};
    xt_tensor *lin = xt_linear(from_f32(lx, 2, s23), from_f32(lw, 2, s23), from_f32(lb, 1, s2));
    float lwant[4] = {-1, 2, -1, 6.5f};
    check_values(lin, lwant, 4, 1e-6, "linear");
}

static void test_softmax_index(void) {
    float v[3] = {1, 2, 3};
    int64_t s3[1] = {3};
    xt_tensor *t = from_f32(v, 1, s3);
    double z = exp(1) + exp(2) + exp(3);
    float sm[3] = {(float)(exp(1) / z), (float)(exp(2) / z), (float)(exp(3) / z)};
    float lsm[3] = {(float)(1 - log(z)), (float)(2 - log(z)), (float)(3 - log(z))};
    check_values(xt_softmax(t, 0), sm, 3, 1e-6, "softmax");
    check_values(xt_log_softmax(t, 0), lsm, 3, 1e-5, "log_softmax");

    float m[6] = {1, 2, 3, 4, 5, 6};
    int64_t s23[2] = {2, 3}, s22[2] = {2, 2}, s3i[1] = {3};
    xt_tensor *a = from_f32(m, 2, s23);
    int64_t gi[4] = {2, 0, 1, 1}, si[3] = {1, 0, 1};
    xt_tensor *g = xt_gather(a, 1, xt_from_host(gi, 2, s22, XT_I64));
    float gw[4] = {3, 1, 5, 5};
    check_values(g, gw, 4, 0, "gather");
    float iw[9] = {4, 5, 6, 1, 2, 3, 4, 5, 6};
    check_values(xt_index_select(a, 0, xt_from_host(si, 1, s3i, XT_I64)), iw, 9, 0, "index_select");
    int64_t fd[1] = {1};
    float fw[6] = {3, 2, 1, 6, 5, 4};
    check_values(xt_flip(a, 1, fd), fw, 6, 0, "flip");


    /* reductions */
    float all = 21, mean = 3.5f, s0[3] = {5, 7, 9}, m1[2] = {2, 5};
    check_values(xt_sum(a), &all, 1, 0, "sum");
    check_values(xt_mean(a), &mean, 1, 1e-6, "mean");
    check_values(xt_sum_dim(a, 0, 0), s0, 3, 0, "sum_dim");
    xt_tensor *md = xt_mean_dim(a, 1, 1);
    CHECK(xt_ndim(md) == 2 && xt_size(md, 1) == 1);
    check_values(md, m1, 2, 1e-6, "mean_dim keepdim");
    float mxv[2] = {3, 6}, mxi[2] = {2, 2};
    xt_tensor *vals = NULL, *idx = NULL;
    CHECK(xt_max_dim(a, 1, 0, &vals, &idx) == 0);
    check_values(vals, mxv, 2, 0, "max_dim values");
    check_values(idx, mxi, 2, 0, "max_dim indices");
    check_values(xt_argmax(a, 1, 0), mxi, 2, 0, "argmax");
    double item = 0;
    CHECK(xt_item(xt_sum(a), &item) == 0 && item == 21);

    /* cat / stack */
    xt_tensor *two[2] = {a, a};
    xt_tensor *c = xt_cat(two, 2, 1), *st = xt_stack(two, 2, 0);
    CHECK(xt_ndim(c) == 2 && xt_size(c, 0) == 2 && xt_size(c, 1) == 6);
    float cw[12] = {1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6};
    check_values(c, cw, 12, 0, "cat");
    int64_t shp[4] = {0};
    CHECK(xt_shape(st, shp, 4) == 3 && shp[0] == 2 && shp[1] == 2 && shp[2] == 3);
    check_values(xt_narrow(st, 0, 1, 1), m, 6, 0, "stack/narrow");

    /* elementwise odds and ends */
    float cl[6] = {2, 2, 3, 4, 4, 4};
    check_values(xt_clamp(a, 2, 4), cl, 6, 0, "clamp");
    float wh[6] = {-1, -2, -3, 4, 5, 6};
    check_values(xt_where(xt_gt_scalar(a, 3.5), a, xt_neg(a)), wh, 6, 0, "where/gt");
    float rs[6] = {9, 8, 7, 6, 5, 4};
    check_values(xt_rsub_scalar(a, 10), rs, 6, 0, "rsub_scalar");
}

static void test_image_ops(void) {
    xt_manual_seed(7);
    int64_t xs[4] = {1, 2, 4, 5};
    xt_tensor *x = xt_rand(4, xs, XT_F32, XT_CPU);
    float theta[6] = {1, 0, 0, 0, 1, 0};
    int64_t ts[3] = {1, 2, 3};
    xt_tensor *grid = xt_affine_grid(xt_from_host(theta, 3, ts, XT_F32), 1, 2, 4, 5, 0);
    int64_t gs[4] = {0};
    CHECK(xt_shape(grid, gs, 4) == 4 && gs[1] == 4 && gs[2] == 5 && gs[3] == 2);
    xt_tensor *y = xt_grid_sample(x, grid, XT_INTERP_BILINEAR, XT_PAD_ZEROS, 0);
    float xv[40];
    CHECK(get_f32(x, xv, 40) == 40);
    check_values(y, xv, 40, 1e-6, "grid_sample identity");
    /* a horizontal mirror through the grid equals flip on the width */
    theta[0] = -1;
    grid = xt_affine_grid(xt_from_host(theta, 3, ts, XT_F32), 1, 2, 4, 5, 0);
    int64_t wd[1] = {3};
    float fv[40];
    CHECK(get_f32(xt_flip(x, 1, wd), fv, 40) == 40);
    check_values(xt_grid_sample(x, grid, XT_INTERP_NEAREST, XT_PAD_BORDER, 0), fv, 40, 1e-6, "grid_sample mirror");

    float s[4] = {0, 1, 2, 3};
    int64_t ss[4] = {1, 1, 2, 2};
    xt_tensor *small = xt_from_host(s, 4, ss, XT_F32);
    float nn[16] = {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3};
    check_values(xt_interpolate(small, 4, 4, XT_INTERP_NEAREST, 0, 0), nn, 16, 0, "interpolate nearest");
    float bl[9] = {0, 0.5f, 1, 1, 1.5f, 2, 2, 2.5f, 3};
    check_values(xt_interpolate(small, 3, 3, XT_INTERP_BILINEAR, 1, 0), bl, 9, 1e-6, "interpolate bilinear");
    int64_t cs[4] = {1, 1, 8, 8};
    float four[4] = {0.25f, 0.25f, 0.25f, 0.25f};
    check_values(xt_interpolate(xt_full(4, cs, 0.25, XT_F32, XT_CPU), 2, 2, XT_INTERP_BILINEAR, 0, 1), four, 4, 1e-6,
                 "interpolate antialias constant");
    CHECK(xt_interpolate(small, 3, 3, XT_INTERP_NEAREST, 1, 0) == NULL);
    CHECK_CONTAINS(xc_error(), "bilinear only");
}

static void test_errors(void) {
    int64_t xs[4] = {1, 2, 5, 5}, ws[4] = {4, 3, 3, 3};
    xt_tensor *x = xt_zeros(4, xs, XT_F32, XT_CPU), *w = xt_zeros(4, ws, XT_F32, XT_CPU);
    xc_error_clear();
    CHECK(xt_conv2d(x, w, NULL, 1, 1, 1, 1) == NULL);
    CHECK_CONTAINS(xc_error(), "xt_conv2d");
    CHECK_CONTAINS(xc_error(), "channels");
    CHECK(strchr(xc_error(), '\n') == NULL);
    CHECK(xt_conv2d(NULL, w, NULL, 1, 1, 1, 1) == NULL);
    CHECK_CONTAINS(xc_error(), "'x' is NULL");
    CHECK(xt_add(x, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "'b' is NULL");
    CHECK(xt_ndim(NULL) == -1);
    CHECK(xt_device_of(NULL) == XT_DEVICE_INVALID);
    float buf[3];
    CHECK(xt_to_host(x, buf, sizeof buf) == -1);
    CHECK_CONTAINS(xc_error(), "bytes");
    CHECK(xt_reshape(x, 2, (int64_t[]){7, -1}) == NULL); /* 50 elements do not split by 7 */
    CHECK_CONTAINS(xc_error(), "xt_reshape");
    CHECK(xt_size(x, 9) == -1);
    CHECK(xt_cat(NULL, 0, 0) == NULL);
    CHECK(xt_batch_norm(x, NULL, NULL, NULL, NULL, 0, 0.1, 1e-5) == NULL);
    CHECK_CONTAINS(xc_error(), "running_mean");
    CHECK(xt_item(x, &(double){0}) == -1);
    CHECK(xt_channels_last(xt_zeros(1, (int64_t[]){3}, XT_F32, XT_CPU)) == NULL);
    CHECK_CONTAINS(xc_error(), "4-d");
    CHECK(xt_copy_(x, w) == -1);
    CHECK_CONTAINS(xc_error(), "shape mismatch");
}

static void test_arena(void) {
    xt_arena *a = xt_arena_new();
    CHECK(a && xt_arena_count(a) == 0);
    xt_arena *prev = xt_arena_push(a);
    int64_t s[1] = {4};
    xt_tensor *t = xt_ones(1, s, XT_F32, XT_CPU);
    xt_tensor *u = xt_mul_scalar(t, 3);
    xt_tensor *kept = xt_keep(u);
    CHECK(xt_arena_count(a) == 2);
    xt_tensor *bad = xt_add(t, NULL); /* a failure adds nothing */
    CHECK(bad == NULL && xt_arena_count(a) == 2);
    xt_free(u); /* an arena's handle: left alone */
    CHECK(xt_arena_count(a) == 2);
    xt_arena_clear(a);
    CHECK(xt_arena_count(a) == 0);
    float want[4] = {3, 3, 3, 3};
    check_values(kept, want, 4, 0, "kept after clear"); /* goes to the arena again */
    CHECK(xt_arena_count(a) == 1);
    CHECK(xt_arena_push(prev) == a);
    xt_tensor *own = xt_ones(1, s, XT_F32, XT_CPU); /* no arena: caller owns */
    CHECK(xt_arena_count(a) == 1);
    xt_free(own);
    xt_free(kept);
    xt_free(NULL);
    xt_arena_free(a);
    xt_arena_free(NULL);
}

static void test_host_and_conversions(void) {
    uint8_t u8[6] = {0, 1, 127, 128, 254, 255}, u8b[6] = {0};
    float f32[6] = {-1.5f, 0, 1e-7f, 3.25f, 1e30f, -0.0f}, f32b[6];
    int64_t i64[6] = {-(1LL << 40), -1, 0, 1, 1LL << 50, 7}, i64b[6];
    int64_t s[2] = {2, 3};
    xt_tensor *t = xt_from_host(u8, 2, s, XT_U8);
    CHECK(xt_dtype_of(t) == XT_U8 && xt_numel(t) == 6 && xt_device_of(t) == XT_CPU);
    CHECK(xt_to_host(t, u8b, sizeof u8b) == 0 && !memcmp(u8, u8b, 6));
    t = xt_from_host(f32, 2, s, XT_F32);
    CHECK(xt_to_host(t, f32b, sizeof f32b) == 0 && !memcmp(f32, f32b, sizeof f32));
    t = xt_from_host(i64, 2, s, XT_I64);
    CHECK(xt_to_host(t, i64b, sizeof i64b) == 0 && !memcmp(i64, i64b, sizeof i64));
    /* a transposed (non-contiguous) tensor comes back in logical order */
    xt_tensor *tt = xt_transpose(t, 0, 1);
    CHECK(xt_is_contiguous(tt) == 0);
    CHECK(xt_to_host(tt, i64b, sizeof i64b) == 0 && i64b[1] == i64[3] && i64b[2] == i64[1]);
    /* from_blob views the caller's memory */
    float blob[4] = {1, 2, 3, 4};
    xt_tensor *bt = xt_from_blob(blob, 1, (int64_t[]){4}, XT_F32);
    CHECK(xt_fill_(bt, 9) == 0 && blob[2] == 9);

    xt_tensor *d = xt_to_dtype(xt_from_host(u8, 2, s, XT_U8), XT_F64);
    CHECK(xt_dtype_of(d) == XT_F64 && xt_dtype_size(XT_F64) == 8 && !strcmp(xt_dtype_name(XT_BF16), "bfloat16"));
    float fw[6] = {0, 1, 127, 128, 254, 255};
    check_values(d, fw, 6, 0, "u8 to f64");

    int64_t is[4] = {2, 3, 4, 5};
    xt_tensor *x = xt_randn(4, is, XT_F32, XT_CPU);
    xt_tensor *cl = xt_channels_last(x);
    CHECK(xt_is_channels_last(cl) == 1 && xt_is_contiguous(cl) == 0 && xt_is_channels_last(x) == 0);
    xt_tensor *back = xt_contiguous(cl);
    CHECK(xt_is_contiguous(back) == 1);
    float a[120], b[120];
    CHECK(get_f32(x, a, 120) == 120 && get_f32(cl, b, 120) == 120 && !memcmp(a, b, sizeof a));
    xt_tensor *pinned = xt_upload_pinned(x, XT_CPU);
    CHECK(pinned && pinned != x && get_f32(pinned, b, 120) == 120 && !memcmp(a, b, sizeof a));
    CHECK(xt_to_device(x, XT_CPU, 0) != NULL);
    CHECK(xt_all_finite(x) == 1);
    CHECK(xt_all_finite(xt_log(xt_neg(xt_abs(x)))) == 0); /* log of negatives: NaN */

    xt_device dev = 99;
    char buf[32];
    CHECK(xt_device_parse("cpu", &dev) == 0 && dev == XT_CPU);
    CHECK(xt_device_parse("auto", &dev) == 0);
    xt_device_string(dev, buf, sizeof buf);
    CHECK(!strcmp(buf, xt_cuda_available() ? "cuda:0" : "cpu"));
    CHECK(xt_device_parse("gpu", &dev) == -1);
    CHECK_CONTAINS(xc_error(), "'gpu'");
    if (!xt_cuda_available()) {
        CHECK(xt_device_parse("cuda", &dev) == -1);
        CHECK_CONTAINS(xc_error(), "CUDA");
        CHECK(xt_device_parse("cuda:1", &dev) == -1);
        CHECK(xt_zeros(1, is, XT_F32, 0) == NULL); /* creating on a missing device */
        CHECK_CONTAINS(xc_error(), "CUDA");
        CHECK(xt_cuda_device_name(0, buf, sizeof buf) == -1);
    }
    CHECK(strlen(xt_torch_version()) >= 3);
    xt_set_num_threads(2);
    CHECK(xt_get_num_threads() == 2);
    CHECK(xt_synchronize(XT_CPU) == 0);
    CHECK(xt_cuda_peak_memory(XT_CPU) == 0);

    /* autocast on the CPU: a linear layer runs in bfloat16 while it is on */
    int64_t ls[2] = {4, 8}, lw[2] = {3, 8};
    xt_tensor *in = xt_randn(2, ls, XT_F32, XT_CPU), *w = xt_randn(2, lw, XT_F32, XT_CPU);
    CHECK(xt_autocast_set(XT_CPU, 1, XT_BF16) == 0);
    xt_tensor *o = xt_linear(in, w, NULL);
    CHECK(o && xt_dtype_of(o) == XT_BF16);
    CHECK(xt_autocast_set(XT_CPU, 0, XT_BF16) == 0);
    o = xt_linear(in, w, NULL);
    CHECK(o && xt_dtype_of(o) == XT_F32);
    CHECK(xt_autocast_set(XT_CPU, 1, XT_F16) == -1);
    CHECK_CONTAINS(xc_error(), "bfloat16");
    CHECK(xt_autocast_set(XT_CPU, 1, XT_F32) == -1);
    o = xt_linear(in, w, NULL);
    CHECK(o && xt_dtype_of(o) == XT_F32); /* a refused setting changed nothing */
}

int main(void) {
    xt_arena *a = xt_arena_new();
    xt_arena_push(a);
    test_conv_pool_linear();
    test_softmax_index();
    test_image_ops();
    test_errors();
    test_host_and_conversions();
    xt_arena_push(NULL);
    xt_arena_free(a);
    test_arena();
    return check_done("shim_test_ops");
}
