/* test_cuda.c — the shim on a CUDA device: transfers both ways (pinned and not), a convolution
 * and a reduction that agree with the CPU's, peak-memory accounting. Skipped (ctest shows it as
 * skipped) on a machine or build without CUDA. */
#include <math.h>

#include "check.h"
#include "xraycls/shim.h"

int main(void) {
    if (!xt_cuda_available()) return check_skip("test_cuda", "no CUDA device in this build or machine");
    xt_device gpu;
    CHECK(xt_device_parse("cuda:0", &gpu) == 0);
    char name[256] = "";
    CHECK(xt_cuda_device_name(0, name, sizeof name) == 0 && name[0]);
    printf("device: %s\n", name);
    xt_cuda_reset_peak_memory(gpu);

    int64_t xs[4] = {2, 3, 17, 19}, ws[4] = {8, 3, 3, 3};
    xt_tensor *x = xt_randn(4, xs, XT_F32, XT_CPU), *w = xt_randn(4, ws, XT_F32, XT_CPU);
    xt_tensor *xg = xt_upload_pinned(x, gpu), *wg = xt_to_device(w, gpu, 0);
    CHECK(xg && wg && xt_device_of(xg) == gpu);
    xt_tensor *yc = xt_conv2d(x, w, NULL, 2, 1, 1, 1), *yg = xt_conv2d(xg, wg, NULL, 2, 1, 1, 1);
    CHECK(yc && yg);
    xt_tensor *back = xt_to_device(yg, XT_CPU, 0);
    CHECK(xt_synchronize(gpu) == 0);
    int64_t n = xt_numel(yc);
    CHECK(n == xt_numel(back) && n > 0);
    float *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    CHECK(xt_to_host(yc, a, (size_t)n * sizeof *a) == 0 && xt_to_host(back, b, (size_t)n * sizeof *b) == 0);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs((double)a[i] - b[i]));
    CHECK_MSG(worst < 1e-2, "conv2d on CUDA differs from CPU by %g (TF32 allows ~1e-3)", worst);
    double sc = 0, sg = 0;
    CHECK(xt_item(xt_sum(yc), &sc) == 0 && xt_item(xt_sum(yg), &sg) == 0);
    CHECK_CLOSE(sg, sc, 1e-2, 1e-3);
    CHECK_MSG(xt_cuda_peak_memory(gpu) > 0, "peak device memory %lld", (long long)xt_cuda_peak_memory(gpu));
    free(a);
    free(b);
    return check_done("test_cuda");
}
