/* cmd_figures.c — `xraycls figures DIR`: draws again, in PNG, SVG or PDF, every figure whose
 * data a run folder or an eval folder holds (xraycls/plot.h). Reads only the CSV files train
 * and eval wrote, so it runs without libtorch and re-runs nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "xraycls/fs.h"
#include "xraycls/plot.h"
#include "xraycls/strbuf.h"

static const char usage[] =
    "usage: xraycls figures DIR [--format png|svg|pdf] [-o DIR] [--overwrite]\n"
    "\n"
    "Draws again every figure whose data DIR holds, re-running nothing (the vector formats are for\n"
    "papers). DIR is a run folder (xraycls train) or an eval folder (xraycls eval):\n"
    "  metrics.csv            accuracy and loss per epoch, train and validation, the best epoch\n"
    "                         marked (train.best_metric of the run's config.json); the loss axis\n"
    "                         is logarithmic when the losses span a decade or more\n"
    "  confusion_matrix.csv   the confusion matrix: counts, shaded by the true class's share\n"
    "  roc.csv                ROC curves per class (one-vs-rest) and macro, AUROC in the legend\n"
    "  pr.csv                 precision-recall curves, AP in the legend, prevalence baselines\n"
    "  calibration.csv        the reliability diagram (equal-width bins), ECE in the legend\n"
    "Each figure is drawn from exactly that file and named after it (accuracy and loss after\n"
    "metrics.csv's two curves): roc.svg beside roc.csv. 3.5 in wide, the run's name in every\n"
    "title. Definitions: docs/METRICS.md.\n"
    "\n"
    "  --format F       png (300 dpi, the default), svg or pdf\n"
    "  -o, --output DIR where the figures go (created when missing; default: DIR, beside their\n"
    "                   data)\n"
    "  --overwrite      replace figures that exist (else they are refused and nothing is drawn)\n"
    "  -h, --help       this help\n";

static const xc_opt opts[] = {{"format", 0, XC_OPT_VALUE}, {"output", 'o', XC_OPT_VALUE}, {"overwrite", 0, 0}, {0}};
enum { O_FORMAT, O_OUTPUT, O_OVERWRITE };

int cmd_figures(int argc, char **argv) {
    const char *dir = NULL, *out = NULL;
    int overwrite = 0;
    xc_plot_format fmt = XC_PLOT_PNG;
    xc_opt_parser op;
    xc_opt_init(&op, opts, argc, argv);
    for (int k; (k = xc_opt_next(&op)) != XC_OPT_END;) {
        if (k == XC_OPT_ARG) {
            if (dir) return cli_usage_error("figures", usage, "one folder at a time ('%s' and '%s' given)", dir, op.value);
            dir = op.value;
        } else if (k == O_FORMAT) {
            if (xc_plot_format_parse(op.value, 0, &fmt) < 0)
                return cli_usage_error("figures", usage, "--format: %s", xc_error());
        } else if (k == O_OUTPUT) out = op.value;
        else if (k == O_OVERWRITE) overwrite = 1;
        else return k == XC_OPT_HELP ? cli_help(usage) : cli_opt_error("figures", usage);
    }
    if (!dir) return cli_usage_error("figures", usage, "a run or eval folder is needed (DIR)");
    if (!xc_plot_available()) return cli_fail("cannot draw figures: %s", XC_PLOT_NO_CAIRO);
    if (!xc_is_dir(dir))
        return cli_fail("'%s' is not a folder: figures reads a run folder (xraycls train) or an eval folder "
                        "(xraycls eval)", dir);
    xc_strbuf w = {0};
    int n = xc_plot_dir(dir, out ? out : dir, dir, fmt, overwrite, &w);
    if (n < 0) {
        xc_strbuf_free(&w);
        return cli_fail(NULL);
    }
    if (n == 0) {
        xc_strbuf_free(&w);
        return cli_fail("'%s': its files hold nothing to draw (no curve, no bin, no finite value)", dir);
    }
    printf("wrote %s/{%s}\n", out ? out : dir, w.s ? w.s : "");
    xc_strbuf_free(&w);
    return XC_EXIT_OK;
}
