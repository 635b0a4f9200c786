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
    "  -o PREFIX      also write PREFIX.md and PREFIX.csv\n"
    "  --split NAME   the evaluated split (test)\n"
    "  --dataset NAME the evaluated dataset (the name of its folder), needed when a run has been\n"
    "                 evaluated on several\n";

static int write_with_suffix(const char *prefix, const char *suffix, const char *text) {
    size_t n = strlen(prefix) + strlen(suffix) + 1;
    char *path = malloc(n);
    if (!path) return xc_errorf("out of memory");
    snprintf(path, n, "%s%s", prefix, suffix);
    int rc = xc_write_file_atomic(path, text, strlen(text));
    free(path);
    return rc;
}

int cmd_table(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return XC_EXIT_OK;
    }
    const char *prefix = NULL, *split = "test", *dataset = NULL;
    const char **dirs = calloc((size_t)argc, sizeof *dirs);
    int ndirs = 0;
    if (!dirs) return cli_fail("out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-') {
            dirs[ndirs++] = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!v) bad = cli_usage_error("table", usage, "%s needs a value", a);
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) prefix = v;
        else if (!strcmp(a, "--split")) split = v;
        else if (!strcmp(a, "--dataset")) dataset = v;
        else bad = cli_usage_error("table", usage, "unknown option '%s'", a);
        if (bad) {
            free(dirs);
            return bad;
        }
        i++;
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
