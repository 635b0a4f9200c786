/* compare_common.c — the options of `xraycls compare` and the comparison from two sets of scores
 * onwards (compare_cli.h), shared by the executable's half (cmd_compare.c: evaluations, without
 * libtorch) and the library's (torch/cmd_compare_torch.c: model files scored on a split). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "compare_cli.h"
#include "xraycls/fs.h"

const char cli_compare_usage[] =
    "usage: xraycls compare A B [-o DIR] [--overwrite] [--split test] [--dataset NAME]\n"
    "                       [--bootstrap N] [--seed S]\n"
    "       xraycls compare MODEL_A MODEL_B --data DIR [--split test] [--tta none|flip|tencrop]\n"
    "                       [--batch N] [--device auto|cpu|cuda[:N]] [--threads T]\n"
    "                       [--layout auto|nchw|channels_last] [-o DIR] [--overwrite] ...\n"
    "\n"
    "Compares two models scored on the same images. A and B are eval folders (written by xraycls\n"
    "eval), run folders (their eval-<dataset>-<split>/ is used) or model files (checkpoints or\n"
    "imported model files), which are first scored on split --split of --data exactly as eval\n"
    "scores them (same forward pass, the model file's temperature, --tta); one of each works too.\n"
    "The images, their order and their labels must be the same in both (checked; a difference is\n"
    "refused, naming the first), and so must the classes.\n"
    "Every difference is A - B, with its 95% interval and a two-sided p-value:\n"
    "  accuracy           McNemar's test of the discordant images (exact binomial under 25\n"
    "                     discordant pairs, else chi-squared with continuity correction), Wald\n"
    "                     interval of the paired difference\n"
    "  AUROC per class    DeLong's paired test (one-vs-rest; multi-label: per finding over the\n"
    "                     known labels)\n"
    "  macro AUROC, macro F1, balanced accuracy   the paired bootstrap (the same resampled\n"
    "                     images for both models, stratified by true class)\n"
    "Writes compare.json, compare.csv and compare.md, and prints the Markdown table.\n"
    "Definitions: docs/METRICS.md.\n"
    "\n"
    "  -o, --output DIR output folder (default: compare-<A>-<B> in the current folder, <A> and\n"
    "                   <B> the names of the run folders or model files)\n"
    "  --overwrite      replace an existing output folder (else it is refused, exit 1)\n"
    "  --split NAME     the split: evaluated (run folders) or to score (model files) (test)\n"
    "  --dataset NAME   the evaluated dataset (the name of its folder), for run folders evaluated\n"
    "                   on several\n"
    "  --bootstrap N    paired bootstrap resamples, at least 1 (2000)\n"
    "  --seed S         seed of the bootstrap (0)\n"
    "  -h, --help       this help\n"
    "\n"
    "Scoring model files (as xraycls eval; see its --help):\n"
    "  --data DIR       the prepared dataset (required with a model file)\n"
    "  --tta T          test-time augmentation: none, flip or tencrop (default: each model\n"
    "                   file's own, else none)\n"
    "  --batch N        images per forward pass (64)\n"
    "  --device D       auto (CUDA when available), cpu, cuda or cuda:N (auto)\n"
    "  --threads T      libtorch's CPU threads (default: OMP_NUM_THREADS, else every usable CPU)\n"
    "  --layout L       memory layout of the models: auto, nchw or channels_last\n";

static const xc_opt opts[] = {{"output", 'o', XC_OPT_VALUE}, {"overwrite", 0, 0},        {"split", 0, XC_OPT_VALUE},
                              {"dataset", 0, XC_OPT_VALUE},  {"bootstrap", 0, XC_OPT_VALUE}, {"seed", 0, XC_OPT_VALUE},
                              {"data", 0, XC_OPT_VALUE},     {"tta", 0, XC_OPT_VALUE},    {"batch", 0, XC_OPT_VALUE},
                              {"device", 0, XC_OPT_VALUE},   {"threads", 0, XC_OPT_VALUE}, {"layout", 0, XC_OPT_VALUE},
                              {0}};
enum { O_OUTPUT, O_OVERWRITE, O_SPLIT, O_DATASET, O_BOOTSTRAP, O_SEED, O_DATA, O_TTA, O_BATCH, O_DEVICE, O_THREADS,
       O_LAYOUT };

int cli_compare_parse(int argc, char **argv, cli_compare_args *a) {
    memset(a, 0, sizeof *a);
    a->split = "test";
    a->bootstrap = 2000;
    a->batch = 64;
    int npos = 0;
    xc_opt_parser op;
    xc_opt_init(&op, opts, argc, argv);
    for (int k; (k = xc_opt_next(&op)) != XC_OPT_END;) {
        int bad = 0;
        switch (k) {
        case XC_OPT_HELP: return cli_help(cli_compare_usage);
        case XC_OPT_ARG:
            if (npos == 2)
                return cli_usage_error("compare", cli_compare_usage, "more than two evaluations given ('%s')", op.value);
            a->pos[npos++] = op.value;
            break;
        case O_OUTPUT: a->out = op.value; break;
        case O_OVERWRITE: a->overwrite = 1; break;
        case O_SPLIT: a->split = op.value; break;
        case O_DATASET: a->dataset = op.value; break;
        case O_BOOTSTRAP: bad = xc_opt_ll(&op, 1, 1000000, &a->bootstrap); break;
        case O_SEED: bad = xc_opt_ll(&op, 0, INT64_MAX, &a->seed); break;
        case O_DATA: a->data = op.value, a->scoring_given = 1; break;
        case O_TTA: a->tta = op.value, a->scoring_given = 1; break;
        case O_BATCH: bad = xc_opt_ll(&op, 1, 65536, &a->batch), a->scoring_given = 1; break;
        case O_DEVICE: a->device = op.value, a->scoring_given = 1; break;
        case O_THREADS: bad = xc_opt_ll(&op, 1, 1024, &a->threads), a->scoring_given = 1; break;
        case O_LAYOUT: a->layout = op.value, a->scoring_given = 1; break;
        default: bad = -1; /* XC_OPT_ERROR */
        }
        if (bad) return cli_opt_error("compare", cli_compare_usage);
    }
    if (npos < 2)
        return cli_usage_error("compare", cli_compare_usage, "two evaluations or model files are needed (A B), %d given",
                               npos);
    if (!*a->split || strchr(a->split, '/'))
        return cli_usage_error("compare", cli_compare_usage, "--split '%s' is not a split name", a->split);
    for (int j = 0; j < 2; j++) a->is_model[j] = xc_is_file(a->pos[j]);
    if ((a->is_model[0] || a->is_model[1]) && !a->data)
        return cli_usage_error("compare", cli_compare_usage,
                               "'%s' is a file: a model file is scored on a prepared dataset, give --data DIR (and "
                               "--split, test by default)", a->pos[a->is_model[0] ? 0 : 1]);
    if (!a->is_model[0] && !a->is_model[1] && a->scoring_given)
        return cli_usage_error("compare", cli_compare_usage,
                               "--data, --tta, --batch, --device, --threads and --layout score model files; '%s' and "
                               "'%s' are evaluations (their scores are read back)", a->pos[0], a->pos[1]);
    return -1;
}

/* The name that stands for a side in the default folder name: a model file's name without its
 * extension; the run folder holding an eval-… folder; else the folder's own name. Into buf. */
static void short_name(const xc_eval_scores *e, char *buf, size_t cap) {
    const char *dir = e->dir ? e->dir : e->model ? e->model : "?";
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/') s--;
    if (!e->dir) { /* runs/x/best.safetensors → best; m.safetensors → m */
        const char *dot = memchr(dir + s, '.', n - s);
        if (dot && dot > dir + s) n = (size_t)(dot - dir);
    } else if (!strncmp(dir + s, "eval-", 5) && s > 1) { /* RUN/eval-x-test → RUN's name */
        size_t e2 = s - 1, b = e2;
        while (b > 0 && dir[b - 1] != '/') b--;
        if (e2 > b) {
            snprintf(buf, cap, "%.*s", (int)(e2 - b), dir + b);
            return;
        }
    }
    snprintf(buf, cap, "%.*s", (int)(n - s), dir + s);
}

int cli_compare_finish(const cli_compare_args *a, const xc_eval_scores *ea, const xc_eval_scores *eb) {
    xc_comparison cmp = {0};
    xc_outdir od = {0};
    od.lock_fd = -1;
    int rc = XC_EXIT_FAIL;
    char utc[32], na[256], nb[256], def[600];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    xc_compare_params p = xc_compare_default();
    p.bootstrap = (int)a->bootstrap;
    p.seed = (uint64_t)a->seed;
    p.version = XRAYCLS_VERSION;
    p.utc = utc;
    const char *out = a->out;
    if (xc_eval_scores_paired(ea, eb) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    if (!out) {
        short_name(ea, na, sizeof na);
        short_name(eb, nb, sizeof nb);
        snprintf(def, sizeof def, "compare-%s-%s", na, nb);
        out = def;
    }
    if (xc_outdir_open(&od, out, a->overwrite, "a comparison") < 0 || xc_compare(ea, eb, &p, &cmp) < 0 ||
        xc_compare_write(od.tmp, ea, eb, &cmp, &p) < 0 || xc_outdir_commit(&od) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    char *md = xc_compare_markdown(ea, eb, &cmp, &p);
    if (md) fputs(md, stdout);
    free(md);
    fprintf(stderr, "wrote %s/{compare.json,compare.csv,compare.md}\n", od.final);
    rc = XC_EXIT_OK;
done:
    xc_outdir_close(&od);
    xc_comparison_free(&cmp);
    return rc;
}
