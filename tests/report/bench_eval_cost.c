/* bench_eval_cost.c — what `eval` costs beyond the forward pass, printed per phase (a benchmark,
 * not a test): N images × K classes of synthetic scores (default 5,000 × 4, CoronaHack's
 * classes, imbalanced like its test split), every metric with its interval (Wilson, DeLong, the
 * bootstrap with B resamples), the operating points chosen on a validation split of the same
 * size and applied, the per-image scores, ROC, PR and reliability files, and the report files
 * with the confusion-matrix figure. Run on one core: `taskset -c 0 build/tests/bench_eval_cost`.
 *
 *   bench_eval_cost [N] [K] [B] [DIR]     (DIR: keep the files written there)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xraycls/fs.h"
#include "xraycls/metrics.h"
#include "xraycls/plot.h"
#include "xraycls/report.h"
#include "xraycls/rng.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double normal(xc_rng *r) { /* Box–Muller */
    double u = xc_rng_unit(r), v = xc_rng_unit(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(6.283185307179586 * v);
}

/* Softmax scores where the true class gets a bump: AUROCs near 0.85, many distinct scores. */
static void make_scores(xc_rng *r, int64_t n, int k, float *probs, float *logits, int64_t *labels) {
    static const double share[4] = {0.40, 0.35, 0.22, 0.03};
    for (int64_t i = 0; i < n; i++) {
        double u = xc_rng_unit(r), acc = 0;
        int y = k - 1;
        for (int c = 0; c < k - 1; c++) {
            acc += k == 4 ? share[c] : 1.0 / k;
            if (u < acc) {
                y = c;
                break;
            }
        }
        labels[i] = y;
        double mx = -INFINITY, sum = 0;
        for (int c = 0; c < k; c++) {
            logits[i * k + c] = (float)(normal(r) + (c == y ? 1.5 : 0.0));
            mx = fmax(mx, logits[i * k + c]);
        }
        for (int c = 0; c < k; c++) sum += exp(logits[i * k + c] - mx);
        for (int c = 0; c < k; c++) probs[i * k + c] = (float)(exp(logits[i * k + c] - mx) / sum);
    }
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : 5000;
    int k = argc > 2 ? atoi(argv[2]) : 4, boot = argc > 3 ? atoi(argv[3]) : 1000;
    if (n < 2 || k < 2 || k > 64 || boot < 0) {
        fprintf(stderr, "usage: bench_eval_cost [N >= 2] [2 <= K <= 64] [B >= 0]\n");
        return 2;
    }
    static const char *four[4] = {"Normal", "Bacteria", "Virus", "COVID-19"};
    const char *names[64];
    char buf[64][16];
    for (int c = 0; c < k; c++) {
        snprintf(buf[c], sizeof buf[c], "class%d", c);
        names[c] = k == 4 ? four[c] : buf[c];
    }
    float *probs = malloc((size_t)n * k * sizeof *probs), *logits = malloc((size_t)n * k * sizeof *logits);
    float *vprobs = malloc((size_t)n * k * sizeof *vprobs), *vlogits = malloc((size_t)n * k * sizeof *vlogits);
    int64_t *labels = malloc((size_t)n * sizeof *labels), *vlabels = malloc((size_t)n * sizeof *vlabels);
    char **files = malloc((size_t)n * sizeof *files);
    xc_op_point *ops = malloc((size_t)k * XC_OP_RULES * sizeof *ops);
    if (!probs || !logits || !vprobs || !vlogits || !labels || !vlabels || !files || !ops) return 1;
    xc_rng r;
    xc_rng_seed(&r, 7);
    make_scores(&r, n, k, probs, logits, labels);
    make_scores(&r, n, k, vprobs, vlogits, vlabels);
    for (int64_t i = 0; i < n; i++) {
        files[i] = malloc(48);
        snprintf(files[i], 48, "test/%s/person%lld_image.jpeg", names[labels[i]], (long long)i);
    }
    char tmpl[] = "/tmp/xraycls-bench-eval-XXXXXX";
    const char *keep = argc > 4 ? argv[4] : NULL, *dir = keep;
    if (keep && xc_mkdir_p(keep) < 0) return fprintf(stderr, "bench_eval_cost: %s\n", xc_error()), 1;
    if (!keep && !(dir = mkdtemp(tmpl))) return 1;

    double t0 = now_s();
    xc_metrics_params p = xc_metrics_default();
    p.bootstrap = boot;
    p.probabilities = 1;
    xc_metrics *m = xc_metrics_compute(probs, labels, n, k, &p);
    double t1 = now_s();
    int rc = m ? xc_op_points_compute(vprobs, vlabels, n, probs, labels, n, k, 0.95, 0.95, 0.95, XC_CI_WILSON, ops)
               : -1;
    double t2 = now_s();
    xc_scores sc = {n, k, names, (const char *const *)files, probs, logits, labels, NULL, NULL, NULL, NULL};
    if (rc == 0) rc = xc_scores_write(dir, &sc, 15);
    double t3 = now_s();
    xc_report_info info = {"m.safetensors", "data", "test", "4class", "resnet50", "softmax", names, NULL, ops, "val", 0};
    if (rc == 0) rc = xc_report_write(dir, m, &info);
    double t4 = now_s();
    int figures = 0;
    if (rc == 0 && xc_plot_available()) rc = (figures = xc_plot_dir(dir, dir, dir, XC_PLOT_PNG, 0, NULL)) < 0 ? -1 : 0;
    double t5 = now_s();
    if (rc != 0) {
        fprintf(stderr, "bench_eval_cost: %s\n", xc_error());
        return 1;
    }
    printf("eval beyond the forward pass: %lld images x %d classes, bootstrap %d\n", (long long)n, k, boot);
    printf("  metrics and intervals (Wilson, DeLong, bootstrap)  %8.3f s\n", t1 - t0);
    printf("  operating points (chosen on val, applied)          %8.3f s\n", t2 - t1);
    printf("  predictions, roc, pr, calibration files            %8.3f s\n", t3 - t2);
    printf("  eval.json/.csv/.md                                 %8.3f s\n", t4 - t3);
    if (xc_plot_available()) printf("  %d PNG figures (cairo)                             %8.3f s\n", figures, t5 - t4);
    else printf("  figures: not drawn (built without cairo)\n");
    printf("  total                                              %8.3f s\n", t5 - t0);
    xc_metrics_free(m);
    if (!keep) xc_remove_tree(dir);
    for (int64_t i = 0; i < n; i++) free(files[i]);
    free(files);
    free(probs);
    free(logits);
    free(vprobs);
    free(vlogits);
    free(labels);
    free(vlabels);
    free(ops);
    return 0;
}
