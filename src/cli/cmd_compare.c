/* cmd_compare.c — `xraycls compare A B`: the paired comparison of two evaluations of the same
 * images (xraycls/compare.h), written into a new folder renamed into place when complete. Reads
 * what `eval` wrote, so it runs without libtorch. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "xraycls/compare.h"
#include "xraycls/fs.h"

static const char usage[] =
    "usage: xraycls compare A B [-o DIR] [--overwrite] [--split test] [--dataset NAME]\n"
    "                       [--bootstrap N] [--seed S]\n"
    "\n"
    "Compares two models scored on the same images. A and B are eval folders (written by xraycls\n"
    "eval) or run folders (their eval-<dataset>-<split>/ is used). The images, their order and\n"
    "their labels must be the same in both (checked; a difference is refused, naming the first).\n"
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
    "                   <B> the names of the run folders)\n"
    "  --overwrite      replace an existing output folder (else it is refused, exit 1)\n"
    "  --split NAME     the evaluated split, for run folders (test)\n"
    "  --dataset NAME   the evaluated dataset (the name of its folder), for run folders evaluated\n"
    "                   on several\n"
    "  --bootstrap N    paired bootstrap resamples, at least 1 (2000)\n"
    "  --seed S         seed of the bootstrap (0)\n"
    "  -h, --help       this help\n"
    "\n"
    "To compare two model files, evaluate each first:\n"
    "  xraycls eval --model A.safetensors --data D --split test -o evA   (and the same for B)\n"
    "  xraycls compare evA evB\n";

/* The name that stands for an evaluation in the default folder name: the run folder holding an
 * eval-… folder, else the folder's own name. Into buf. */
static void short_name(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/') s--;
    if (!strncmp(dir + s, "eval-", 5) && s > 1) { /* RUN/eval-x-test → RUN's name */
        size_t e = s - 1, b = e;
        while (b > 0 && dir[b - 1] != '/') b--;
        if (e > b) {
            snprintf(buf, cap, "%.*s", (int)(e - b), dir + b);
            return;
        }
    }
    snprintf(buf, cap, "%.*s", (int)(n - s), dir + s);
}

static const xc_opt opts[] = {{"output", 'o', XC_OPT_VALUE}, {"overwrite", 0, 0},        {"split", 0, XC_OPT_VALUE},
                              {"dataset", 0, XC_OPT_VALUE},  {"bootstrap", 0, XC_OPT_VALUE}, {"seed", 0, XC_OPT_VALUE},
                              {0}};
enum { O_OUTPUT, O_OVERWRITE, O_SPLIT, O_DATASET, O_BOOTSTRAP, O_SEED };

int cmd_compare(int argc, char **argv) {
    const char *pos[2] = {NULL, NULL}, *out = NULL, *split = "test", *dataset = NULL;
    int npos = 0, overwrite = 0;
    long long bootstrap = 2000, seed = 0;
    xc_opt_parser op;
    xc_opt_init(&op, opts, argc, argv);
    for (int k; (k = xc_opt_next(&op)) != XC_OPT_END;) {
        if (k == XC_OPT_ARG) {
            if (npos == 2) return cli_usage_error("compare", usage, "more than two evaluations given ('%s')", op.value);
            pos[npos++] = op.value;
        } else if (k == O_OUTPUT) out = op.value;
        else if (k == O_OVERWRITE) overwrite = 1;
        else if (k == O_SPLIT) split = op.value;
        else if (k == O_DATASET) dataset = op.value;
        else if (k == O_BOOTSTRAP) {
            if (xc_opt_ll(&op, 1, 1000000, &bootstrap) < 0) return cli_opt_error("compare", usage);
        } else if (k == O_SEED) {
            if (xc_opt_ll(&op, 0, INT64_MAX, &seed) < 0) return cli_opt_error("compare", usage);
        } else return k == XC_OPT_HELP ? cli_help(usage) : cli_opt_error("compare", usage);
    }
    if (npos < 2) return cli_usage_error("compare", usage, "two evaluations are needed (A B), %d given", npos);
    if (!*split || strchr(split, '/')) return cli_usage_error("compare", usage, "--split '%s' is not a split name", split);
    for (int j = 0; j < 2; j++)
        if (xc_is_file(pos[j]))
            return cli_fail("'%s' is a file: compare reads evaluations — run xraycls eval --model %s --data DIR "
                            "--split %s -o DIR first and compare its folder", pos[j], pos[j], split);

    xc_eval_scores ea = {0}, eb = {0};
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
    p.bootstrap = (int)bootstrap;
    p.seed = (uint64_t)seed;
    p.version = XRAYCLS_VERSION;
    p.utc = utc;
    if (xc_eval_scores_read(pos[0], split, dataset, &ea) < 0 || xc_eval_scores_read(pos[1], split, dataset, &eb) < 0 ||
        xc_eval_scores_paired(&ea, &eb) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    if (!out) {
        short_name(ea.dir, na, sizeof na);
        short_name(eb.dir, nb, sizeof nb);
        snprintf(def, sizeof def, "compare-%s-%s", na, nb);
        out = def;
    }
    if (xc_outdir_open(&od, out, overwrite, "a comparison") < 0 || xc_compare(&ea, &eb, &p, &cmp) < 0 ||
        xc_compare_write(od.tmp, &ea, &eb, &cmp, &p) < 0 || xc_outdir_commit(&od) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    char *md = xc_compare_markdown(&ea, &eb, &cmp, &p);
    if (md) fputs(md, stdout);
    free(md);
    fprintf(stderr, "wrote %s/{compare.json,compare.csv,compare.md}\n", od.final);
    rc = XC_EXIT_OK;
done:
    xc_outdir_close(&od);
    xc_comparison_free(&cmp);
    xc_eval_scores_free(&ea);
    xc_eval_scores_free(&eb);
    return rc;
}
