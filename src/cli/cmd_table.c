/* cmd_table.c — `xraycls table`: the results table (Markdown and CSV) of several evaluated runs
 * (xraycls/report.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xraycls/fs.h"
#include "xraycls/report.h"

static const char usage[] =
    "usage: xraycls table RUN_DIR... [-o PREFIX] [--split test] [--dataset NAME]\n"
    "\n"
    "Gathers RUN_DIR/config.json and RUN_DIR/eval-<dataset>-<split>/eval.json (written by xraycls\n"
    "eval; an older RUN_DIR/eval-<split>/ is read too)\n"
    "of each run into one table: run, arch, weights, loss, sampler, task, accuracy, balanced\n"
    "accuracy, macro-F1, COVID-19 recall and macro AUROC, each as \"value [95% CI]\". COVID-19\n"
    "recall is \"absent\" when the task has no COVID-19 class or the split has no such image.\n"
    "Prints the Markdown table.\n"
    "\n"
    "  -o, --output PREFIX  also write PREFIX.md and PREFIX.csv\n"
    "  --split NAME         the evaluated split (test)\n"
    "  --dataset NAME       the evaluated dataset (the name of its folder), needed when a run\n"
    "                       has been evaluated on several\n"
    "  -h, --help           this help\n";

static int write_with_suffix(const char *prefix, const char *suffix, const char *text) {
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *path = malloc(n);
    if (!path) return xc_errorf("out of memory");
    snprintf(path, n, "%s%s", prefix, suffix);
    int rc = xc_write_file_atomic(path, text, strlen(text));
    free(path);
    return rc;
}

static const xc_opt opts[] = {{"output", 'o', XC_OPT_VALUE}, {"split", 0, XC_OPT_VALUE}, {"dataset", 0, XC_OPT_VALUE}, {0}};
enum { O_OUTPUT, O_SPLIT, O_DATASET };

int cmd_table(int argc, char **argv) {
    const char *prefix = NULL, *split = "test", *dataset = NULL;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    int ndirs = 0;
    if (!dirs) return cli_fail("out of memory");
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        if (k == XC_OPT_ARG) dirs[ndirs++] = p.value;
        else if (k == O_OUTPUT) prefix = p.value;
        else if (k == O_SPLIT) split = p.value;
        else if (k == O_DATASET) dataset = p.value;
        else {
            free(dirs);
            return k == XC_OPT_HELP ? cli_help(usage) : cli_opt_error("table", usage);
        }
    }
    if (ndirs == 0) {
        free(dirs);
        return cli_usage_error("table", usage, "no run folder given");
    }
    if (!*split || strchr(split, '/')) {
        free(dirs);
        return cli_usage_error("table", usage, "--split '%s' is not a split name", split);
    }
    char *md = NULL, *csv = NULL;
    int rc = XC_EXIT_OK;
    if (xc_results_table(dirs, ndirs, split, dataset, &md, &csv) < 0) rc = cli_fail(NULL);
    else if (prefix && (write_with_suffix(prefix, ".md", md) < 0 || write_with_suffix(prefix, ".csv", csv) < 0))
        rc = cli_fail(NULL);
    else {
        fputs(md, stdout);
        if (prefix) fprintf(stderr, "wrote %s.md and %s.csv\n", prefix, prefix);
    }
    free(md);
    free(csv);
    free(dirs);
    return rc;
}
