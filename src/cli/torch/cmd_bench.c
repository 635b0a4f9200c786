/* cmd_bench.c — `xraycls bench`: images per second of a training step (forward, cross-entropy,
 * backward, Adam step) and of inference (eval mode, no gradients) for one architecture on
 * synthetic input. scripts/bench_torch.py measures the same with PyTorch for comparison.
 *
 * Each step is timed on its own (after a device synchronisation); the table gives the median
 * and the mean step time, and images/s from the median, which shrugs off a busy neighbour on a
 * shared machine better than the mean. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "xraycls/nn.h"
#include "xraycls/shim.h"
#include "xraycls/sysinfo.h"

static const char usage[] =
    "usage: xraycls bench --arch ARCH [--batch N] [--size PX] [--device cpu|cuda|auto]\n"
    "                     [--steps K] [--warmup W] [--mode train|infer|both] [--threads T]\n"
    "                     [--classes C] [--channels-last] [--layout auto|nchw|channels_last]\n"
    "                     [--no-fold] [--precision fp32|bf16] [--json]\n"
    "\n"
    "Measures images/s of a training step (forward, cross-entropy, backward, Adam step) and of\n"
    "inference (eval mode, no gradients) on random input, and the peak resident memory of each\n"
    "mode (VmHWM, reset at the start of the mode).\n"
    "\n"
    "  --arch ARCH      resnet18|34|50|101|152, densenet121|161|169|201 (required)\n"
    "  --batch N        images per step (8)\n"
    "  --size PX        image side in pixels, >= 32 (224)\n"
    "  --device D       cpu, cuda, cuda:N or auto (auto)\n"
    "  --steps K        timed steps per mode (10)\n"
    "  --warmup W       untimed steps before them (2)\n"
    "  --mode M         train, infer or both (both)\n"
    "  --threads T      CPU threads for libtorch (0: OMP_NUM_THREADS, else every usable CPU)\n"
    "  --classes C      outputs of the head (3)\n"
    "  --channels-last  run the model in channels_last memory format (both modes)\n"
    "  --layout L       inference's layout: auto (channels_last on the CPU, NCHW on CUDA: what\n"
    "                   eval and predict use), nchw or channels_last (auto; channels_last with\n"
    "                   --channels-last)\n"
    "  --no-fold        inference without batch norm folded into the convolutions (eval and\n"
    "                   predict always fold)\n"
    "  --precision P    fp32, or bf16: the forward passes under bfloat16 autocast, as\n"
    "                   train.precision \"bf16\" trains (fp32)\n"
    "  --json           print one JSON object instead of a table\n"
    "  -h, --help       this help\n";

typedef struct {
    const char *arch, *device, *mode;
    long batch, size, steps, warmup, threads, classes;
    int channels_last, json, layout, no_fold; /* layout -1: from channels_last */
    int bf16; /* --precision bf16 */
} bench_opts;

typedef struct {
    int ran;
    double median_ms, mean_ms, images_s;
    int64_t peak_rss; /* bytes, over the mode's steps (VmHWM after a reset); -1 unknown */
    int64_t peak_device; /* CUDA: bytes allocated at most during the mode's steps; -1 on the CPU */
    int channels_last, folded; /* the model's form in this mode */
} bench_result;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void summarise(const double *ms, long steps, long batch, bench_result *r) {
    double *sorted = malloc((size_t)steps * sizeof *sorted), sum = 0;
    for (long i = 0; i < steps; i++) sum += (sorted[i] = ms[i]);
    qsort(sorted, (size_t)steps, sizeof *sorted, cmp_double);
    r->median_ms = steps % 2 ? sorted[steps / 2] : 0.5 * (sorted[steps / 2 - 1] + sorted[steps / 2]);
    r->mean_ms = sum / (double)steps;
    r->images_s = 1000.0 * (double)batch / r->median_ms;
    r->ran = 1;
    r->peak_rss = xc_peak_rss();
    free(sorted);
}

/* Training steps: zero grads, forward, loss, backward, Adam. */
static int bench_train(xc_model *m, const bench_opts *o, const xt_tensor *x, const xt_tensor *y,
                       xt_arena *arena, bench_result *r) {
    xt_tensor *const *params;
    int np;
    if (xc_model_params(m, &params, &np) < 0) return -1;
    xt_adam *adam = xt_adam_new(params, np, xt_adam_default());
    if (!adam) return -1;
    xc_model_set_training(m, 1);
    xt_grad_enabled_set(1);
    double *ms = malloc((size_t)o->steps * sizeof *ms);
    int rc = ms ? 0 : xc_errorf("out of memory");
    for (long i = 0; rc == 0 && i < o->warmup + o->steps; i++) {
        double t0 = now_s();
        for (int p = 0; p < np && rc == 0; p++) rc = xt_zero_grad(params[p]);
        size_t mark = xt_arena_mark(arena);
        if (o->bf16) xt_autocast_set(xc_model_device(m), 1, XT_BF16);
        xt_tensor *logits = rc == 0 ? xc_model_forward(m, x) : NULL;
        if (o->bf16) xt_autocast_set(xc_model_device(m), 0, XT_BF16);
        xt_tensor *loss = logits ? xc_loss_cross_entropy(logits, y, NULL) : NULL;
        /* Only the loss stays, as in train: backward frees each activation after its node. */
        if (loss) xt_arena_release(arena, mark, &loss, 1);
        if (!loss || xt_backward(loss) < 0 || xt_adam_step(adam) < 0 ||
            xt_synchronize(xc_model_device(m)) < 0)
            rc = -1;
        xt_arena_clear(arena);
        if (i >= o->warmup) ms[i - o->warmup] = 1000.0 * (now_s() - t0);
    }
    if (rc == 0) summarise(ms, o->steps, o->batch, r);
    /* Gradients go with the optimizer: inference after this measures its own memory. */
    for (int p = 0; p < np; p++) xt_zero_grad(params[p]);
    free(ms);
    xt_adam_free(adam);
    return rc;
}

/* Inference steps: eval mode, no gradients. */
static int bench_infer(xc_model *m, const bench_opts *o, const xt_tensor *x, xt_arena *arena,
                       bench_result *r) {
    xc_model_set_training(m, 0);
    int prev = xt_grad_enabled_set(0);
    double *ms = malloc((size_t)o->steps * sizeof *ms);
    int rc = ms ? 0 : xc_errorf("out of memory");
    for (long i = 0; rc == 0 && i < o->warmup + o->steps; i++) {
        double t0 = now_s();
        if (o->bf16) xt_autocast_set(xc_model_device(m), 1, XT_BF16);
        if (!xc_model_forward(m, x)) rc = -1;
        if (o->bf16) xt_autocast_set(xc_model_device(m), 0, XT_BF16);
        if (rc == 0 && xt_synchronize(xc_model_device(m)) < 0) rc = -1;
        xt_arena_clear(arena);
        if (i >= o->warmup) ms[i - o->warmup] = 1000.0 * (now_s() - t0);
    }
    xt_grad_enabled_set(prev);
    if (rc == 0) summarise(ms, o->steps, o->batch, r);
    free(ms);
    return rc;
}

static void print_json(const bench_opts *o, const char *dev, int threads, const bench_result *tr,
                       const bench_result *inf) {
    printf("{\"arch\": \"%s\", \"batch\": %ld, \"size\": %ld, \"device\": \"%s\", \"threads\": %d, "
           "\"steps\": %ld, \"warmup\": %ld, \"channels_last\": %s, \"precision\": \"%s\", \"libtorch\": \"%s\"",
           o->arch, o->batch, o->size, dev, threads, o->steps, o->warmup,
           o->channels_last ? "true" : "false", o->bf16 ? "bf16" : "fp32", xt_torch_version());
    const bench_result *rs[2] = {tr, inf};
    const char *names[2] = {"train", "infer"};
    for (int i = 0; i < 2; i++)
        if (rs[i]->ran) {
            char dmem[32] = "null"; /* no device memory on the CPU */
            if (rs[i]->peak_device >= 0) snprintf(dmem, sizeof dmem, "%.1f", (double)rs[i]->peak_device / 1048576.0);
            printf(", \"%s\": {\"median_ms\": %.3f, \"mean_ms\": %.3f, \"images_per_s\": %.3f, "
                   "\"peak_rss_mb\": %.1f, \"peak_device_mb\": %s, \"layout\": \"%s\", \"bn_folded\": %s}",
                   names[i], rs[i]->median_ms, rs[i]->mean_ms, rs[i]->images_s,
                   rs[i]->peak_rss < 0 ? -1.0 : (double)rs[i]->peak_rss / 1048576.0, dmem,
                   rs[i]->channels_last ? "channels_last" : "nchw", rs[i]->folded ? "true" : "false");
        }
    printf("}\n");
}

static void print_table(const bench_opts *o, const char *dev, int threads, const bench_result *tr,
                        const bench_result *inf) {
    printf("xraycls bench: %s, batch %ld, %ldx%ld px, %s", o->arch, o->batch, o->size, o->size, dev);
    if (!strncmp(dev, "cpu", 3)) printf(" (%d thread%s)", threads, threads == 1 ? "" : "s");
    printf(", %ld steps after %ld warm-up, libtorch %s%s\n\n", o->steps, o->warmup,
           xt_torch_version(), o->channels_last ? ", channels_last" : "");
    printf("%-6s %12s %12s %12s %14s  %s\n", "mode", "median ms", "mean ms", "images/s", "peak RSS MB", "form");
    const bench_result *rs[2] = {tr, inf};
    const char *names[2] = {"train", "infer"};
    for (int i = 0; i < 2; i++)
        if (rs[i]->ran)
            printf("%-6s %12.1f %12.1f %12.2f %14.1f  %s%s\n", names[i], rs[i]->median_ms, rs[i]->mean_ms,
                   rs[i]->images_s, rs[i]->peak_rss < 0 ? -1.0 : (double)rs[i]->peak_rss / 1048576.0,
                   rs[i]->channels_last ? "channels_last" : "nchw", rs[i]->folded ? ", bn folded" : "");
}

static const xc_opt opts[] = {
    {"arch", 0, XC_OPT_VALUE},  {"device", 0, XC_OPT_VALUE}, {"mode", 0, XC_OPT_VALUE},   {"batch", 0, XC_OPT_VALUE},
    {"size", 0, XC_OPT_VALUE},  {"steps", 0, XC_OPT_VALUE},  {"warmup", 0, XC_OPT_VALUE}, {"threads", 0, XC_OPT_VALUE},
    {"classes", 0, XC_OPT_VALUE}, {"json", 0, 0},            {"channels-last", 0, 0},
    {"layout", 0, XC_OPT_VALUE}, {"no-fold", 0, 0}, {"precision", 0, XC_OPT_VALUE}, {0}};
enum { O_ARCH, O_DEVICE, O_MODE, O_BATCH, O_SIZE, O_STEPS, O_WARMUP, O_THREADS, O_CLASSES, O_JSON, O_CHANNELS_LAST, O_LAYOUT,
       O_NO_FOLD, O_PRECISION };

int cmd_bench(int argc, char **argv) {
    bench_opts o = {NULL, "auto", "both", 8, 224, 10, 2, 0, 3, 0, 0, -1, 0, 0};
    /* the numeric options, from O_BATCH on: their ranges and destinations */
    static const long long lo[] = {1, 32, 1, 0, 0, 1}, hi[] = {4096, 4096, 100000, 100000, 1024, 100000};
    long *dst[] = {&o.batch, &o.size, &o.steps, &o.warmup, &o.threads, &o.classes};
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        long long n;
        switch (k) {
        case XC_OPT_HELP: return cli_help(usage);
        case XC_OPT_ARG: return cli_usage_error("bench", usage, "unexpected argument '%s'", p.value);
        case XC_OPT_ERROR: return cli_opt_error("bench", usage);
        case O_ARCH: o.arch = p.value; break;
        case O_DEVICE: o.device = p.value; break;
        case O_MODE: o.mode = p.value; break;
        case O_JSON: o.json = 1; break;
        case O_CHANNELS_LAST: o.channels_last = 1; break;
        case O_NO_FOLD: o.no_fold = 1; break;
        case O_PRECISION:
            if (strcmp(p.value, "fp32") && strcmp(p.value, "bf16"))
                return cli_usage_error("bench", usage, "--precision must be fp32 or bf16, got '%s'", p.value);
            o.bf16 = !strcmp(p.value, "bf16");
            break;
        case O_LAYOUT:
            if (cli_layout_parse(p.value, &o.layout) < 0) return cli_usage_error("bench", usage, "%s", xc_error());
            break;
        default:
            if (xc_opt_ll(&p, lo[k - O_BATCH], hi[k - O_BATCH], &n) < 0) return cli_opt_error("bench", usage);
            *dst[k - O_BATCH] = (long)n;
        }
    }
    if (!o.arch) return cli_usage_error("bench", usage, "--arch is required");
    if (xc_arch_check(o.arch) < 0) return cli_usage_error("bench", usage, "%s", xc_error());
    int do_train = !strcmp(o.mode, "train") || !strcmp(o.mode, "both");
    int do_infer = !strcmp(o.mode, "infer") || !strcmp(o.mode, "both");
    if (!do_train && !do_infer)
        return cli_usage_error("bench", usage, "--mode must be train, infer or both, got '%s'", o.mode);
    xt_device dev;
    if (xt_device_parse(o.device, &dev) < 0) return cli_usage_error("bench", usage, "%s", xc_error());
    if (cli_torch_threads("bench", (int)o.threads, o.json) < 0) return cli_fail(NULL);
    char devname[32];
    xt_device_string(dev, devname, sizeof devname);
    if (dev != XT_CPU) { /* as train does on CUDA: fixed shapes */
        xt_set_cudnn_benchmark(1);
        xt_set_tf32(1);
    }
    if (o.bf16 && xt_autocast_set(dev, 1, XT_BF16) < 0) return cli_fail("bench: --precision bf16: %s", xc_error());
    xt_autocast_set(dev, 0, XT_BF16);

    xt_manual_seed(0);
    xc_model *m = xc_model_new(o.arch, (int)o.classes, dev);
    if (!m) return cli_fail(NULL);
    if (o.channels_last && xc_model_set_channels_last(m, 1) < 0) {
        xc_model_free(m);
        return cli_fail(NULL);
    }
    /* Input and targets live outside the per-step arena. */
    int64_t xs[4] = {o.batch, 3, o.size, o.size}, ys[1] = {o.batch};
    xt_tensor *x = xt_randn(4, xs, XT_F32, dev);
    xt_tensor *y = xt_randint(0, o.classes, 1, ys, dev);
    xt_arena *arena = xt_arena_new();
    bench_result tr = {0}, inf = {0};
    int rc = x && y && arena ? 0 : -1;
    if (rc == 0) {
        xt_arena *prev = xt_arena_push(arena);
        /* Each mode's peak RSS is measured from a reset at its start (the training mode's
         * gradients and optimizer state are gone by then, but pages malloc kept may count). */
        xc_peak_rss_reset();
        xt_cuda_reset_peak_memory(dev);
        if (do_train) rc = bench_train(m, &o, x, y, arena, &tr);
        tr.peak_device = dev == XT_CPU ? -1 : xt_cuda_peak_memory(dev);
        tr.channels_last = xc_model_is_channels_last(m);
        /* Inference runs the form eval and predict use: batch norm folded, the layout asked
         * for (auto without --channels-last). */
        if (rc == 0 && do_infer)
            rc = cli_inference_form(m, o.layout >= 0 ? o.layout : o.channels_last ? CLI_LAYOUT_CHANNELS_LAST : CLI_LAYOUT_AUTO,
                                    !o.no_fold);
        xc_peak_rss_reset();
        xt_cuda_reset_peak_memory(dev);
        if (rc == 0 && do_infer) rc = bench_infer(m, &o, x, arena, &inf);
        inf.peak_device = dev == XT_CPU ? -1 : xt_cuda_peak_memory(dev);
        inf.channels_last = xc_model_is_channels_last(m);
        inf.folded = xc_model_is_folded(m);
        xt_arena_push(prev);
    }
    if (rc < 0) {
        cli_fail("bench %s: %s", o.arch, xc_error());
    } else if (o.json) {
        print_json(&o, devname, xt_get_num_threads(), &tr, &inf);
    } else {
        print_table(&o, devname, xt_get_num_threads(), &tr, &inf);
    }
    xt_arena_free(arena);
    xt_free(x);
    xt_free(y);
    xc_model_free(m);
    return rc < 0 ? XC_EXIT_FAIL : XC_EXIT_OK;
}
