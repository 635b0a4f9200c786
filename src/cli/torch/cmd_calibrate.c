/* cmd_calibrate.c — `xraycls calibrate`: temperature scaling (Guo et al. 2017) fitted on a split
 * of a prepared dataset, written with the model into a new model file that eval and predict
 * apply (xraycls/calibration.h). The input model file is never changed. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "xraycls/calibration.h"
#include "xraycls/checkpoint.h"
#include "xraycls/dataset.h"
#include "xraycls/metrics.h"
#include "xraycls/nn.h"
#include "xraycls/predict.h"
#include "xraycls/shim.h"
#include "xraycls/stats.h"

static const char usage[] =
    "usage: xraycls calibrate --model FILE --data DIR -o OUT [--split val] [--overwrite]\n"
    "                         [--bins B] [--batch N] [--device auto|cpu|cuda[:N]]\n"
    "                         [--target-sensitivity X] [--target-specificity X]\n"
    "                         [--operating-point youden|sensitivity|specificity]\n"
    "                         [--tta none|flip|tencrop]\n"
    "\n"
    "Fits the temperature T of the model's softmax on a split of a prepared dataset (the T > 0\n"
    "minimising the negative log-likelihood of softmax(logits / T): temperature scaling, Guo et\n"
    "al. 2017) and writes OUT: the model file with T in its metadata (xraycls.calibration, with\n"
    "the split, the dataset, the log-likelihood and the top-label ECE before and after). eval\n"
    "and predict apply it and say so. The predicted class never changes; only the confidence.\n"
    "\n"
    "On the calibrated probabilities of the same split it also chooses the operating points —\n"
    "per class, one-vs-rest, the thresholds at Youden's J, at the target sensitivity and at the\n"
    "target specificity — and stores them in OUT: eval then reports the sensitivity and\n"
    "specificity at those thresholds (instead of choosing them again on --thresholds-from), and\n"
    "predict, for a two-class model, calls the second class when its probability reaches the\n"
    "threshold of --operating-point (its label column; the probabilities are unchanged).\n"
    "\n"
    "  --model FILE     a checkpoint or model file with a softmax head (not changed)\n"
    "  --data DIR       a prepared dataset whose classes are the model's\n"
    "  -o, --output OUT the calibrated model file (never the input; an existing one is refused\n"
    "                   unless --overwrite)\n"
    "  --split NAME     the split to fit on: validation data, never the test split (val)\n"
    "  --overwrite      replace an existing OUT\n"
    "  --bins B         equal-width bins of the ECE reported (15)\n"
    "  --batch N        images per forward pass (64)\n"
    "  --device D       auto (CUDA when available), cpu, cuda or cuda:N (auto)\n"
    "  --target-sensitivity X, --target-specificity X   the targets in [0, 1] (0.95 each)\n"
    "  --operating-point R  the rule predict applies to a two-class model: youden,\n"
    "                   sensitivity or specificity (youden)\n"
    "  --tta T          fit on the logits of a test-time augmentation (the logit of the mean\n"
    "                   probability, see xraycls eval --help): none, flip or tencrop; default:\n"
    "                   the model file's (import --tta), else none; recorded with T (eval and\n"
    "                   predict under another TTA warn)\n"
    "  -h, --help       this help\n";

static void on_progress(void *ud, int64_t done) { (void)ud, (void)done; }

/* The top-label ECE of (n, k) probabilities with equal-width bins. */
static double top_ece(const float *probs, const int64_t *labels, int64_t n, int k, int bins) {
    float *conf = malloc((size_t)n * sizeof *conf);
    uint8_t *right = malloc((size_t)n);
    double ece = NAN;
    xc_reliability r = {0};
    if (conf && right) {
        for (int64_t i = 0; i < n; i++) {
            int a = xc_argmax(probs + (size_t)i * k, k);
            conf[i] = probs[(size_t)i * k + a];
            right[i] = a == labels[i];
        }
        if (xc_reliability_compute(conf, 1, right, n, bins, XC_BINS_EQUAL_WIDTH, &r) == 0) ece = r.ece;
    }
    xc_reliability_free(&r);
    free(conf);
    free(right);
    return ece;
}

static const xc_opt opts[] = {{"model", 0, XC_OPT_VALUE},  {"data", 0, XC_OPT_VALUE},  {"output", 'o', XC_OPT_VALUE},
                              {"split", 0, XC_OPT_VALUE},  {"device", 0, XC_OPT_VALUE}, {"bins", 0, XC_OPT_VALUE},
                              {"batch", 0, XC_OPT_VALUE},  {"overwrite", 0, 0},
                              {"target-sensitivity", 0, XC_OPT_VALUE},  {"target-specificity", 0, XC_OPT_VALUE},
                              {"operating-point", 0, XC_OPT_VALUE},     {"tta", 0, XC_OPT_VALUE},
                              {0}};
enum { O_MODEL, O_DATA, O_OUTPUT, O_SPLIT, O_DEVICE, O_BINS, O_BATCH, O_OVERWRITE, O_TSENS, O_TSPEC, O_RULE, O_TTA };

/* Prints the chosen thresholds, one line per class. */
static void print_ops(const xc_calibration *c, const xc_model_info *info) {
    printf("operating points on split '%s' (calibrated probabilities, one-vs-rest):\n", c->split);
    for (int cl = 0; cl < c->nops; cl++) {
        printf("  %-16s", info->classes[cl]);
        for (int r = 0; r < XC_OP_RULES; r++) {
            const xc_op_point *o = &c->ops[cl * XC_OP_RULES + r];
            char rule[48];
            if (r == XC_OP_YOUDEN) snprintf(rule, sizeof rule, "youden");
            else snprintf(rule, sizeof rule, "%s %.2f", xc_op_rule_name(o->rule), o->target);
            if (o->defined)
                printf("  %s: %.4f (sens %.3f spec %.3f)", rule, o->threshold, o->source_sensitivity,
                       o->source_specificity);
            else printf("  %s: undefined", rule);
        }
        printf("\n");
    }
    if (c->nops == 2)
        printf("predict calls '%s' at probability >= %.4f (%s)\n", info->classes[1],
               c->ops[XC_OP_RULES + c->applied].threshold, xc_op_rule_name(c->applied));
}

int cmd_calibrate(int argc, char **argv) {
    const char *model_path = NULL, *data = NULL, *out = NULL, *split = "val", *device = "auto";
    long long bins = 15, batch = 64;
    double target_sens = 0.95, target_spec = 0.95;
    int overwrite = 0, rule = XC_OP_YOUDEN, tta_opt = -1;
    xc_opt_parser op;
    xc_opt_init(&op, opts, argc, argv);
    for (int k; (k = xc_opt_next(&op)) != XC_OPT_END;) {
        if (k == O_MODEL) model_path = op.value;
        else if (k == O_DATA) data = op.value;
        else if (k == O_OUTPUT) out = op.value;
        else if (k == O_SPLIT) split = op.value;
        else if (k == O_DEVICE) device = op.value;
        else if (k == O_OVERWRITE) overwrite = 1;
        else if (k == O_TTA) {
            xc_tta t;
            if (xc_tta_parse(op.value, &t) < 0) return cli_usage_error("calibrate", usage, "--tta: %s", xc_error());
            tta_opt = (int)t;
        } else if (k == O_BINS) {
            if (xc_opt_ll(&op, 1, 1000, &bins) < 0) return cli_opt_error("calibrate", usage);
        } else if (k == O_BATCH) {
            if (xc_opt_ll(&op, 1, 65536, &batch) < 0) return cli_opt_error("calibrate", usage);
        } else if (k == O_TSENS || k == O_TSPEC) {
            if (xc_opt_double(&op, 0, 1, k == O_TSENS ? &target_sens : &target_spec) < 0)
                return cli_opt_error("calibrate", usage);
        } else if (k == O_RULE) {
            for (rule = 0; rule < XC_OP_RULES && strcmp(op.value, xc_op_rule_name((xc_op_rule)rule)); rule++) {}
            if (rule == XC_OP_RULES)
                return cli_usage_error("calibrate", usage,
                                       "--operating-point '%s': expected youden, sensitivity or specificity", op.value);
        } else if (k == XC_OPT_ARG) return cli_usage_error("calibrate", usage, "unexpected argument '%s'", op.value);
        else return k == XC_OPT_HELP ? cli_help(usage) : cli_opt_error("calibrate", usage);
    }
    if (!model_path) return cli_usage_error("calibrate", usage, "--model is required");
    if (!data) return cli_usage_error("calibrate", usage, "--data is required");
    if (!out) return cli_usage_error("calibrate", usage, "-o is required (the input model file is never changed)");
    if (!*split || strchr(split, '/')) return cli_usage_error("calibrate", usage, "--split '%s' is not a split name", split);
    if (!strcmp(split, "test"))
        fprintf(stderr, "warning: fitting the temperature on the test split: an evaluation of that split is then "
                        "optimistic (fit on val)\n");

    xt_device dev;
    if (xt_device_parse(device, &dev) < 0) return cli_fail(NULL);
    xc_model_info info;
    if (xc_checkpoint_read_info(model_path, &info) < 0) return cli_fail(NULL);
    if (strcmp(info.head, "softmax") != 0)
        return cli_fail("model '%s' has a %s head: temperature scaling calibrates a softmax over classes (a "
                        "multi-label model's thresholds are chosen by eval --thresholds-from)", model_path, info.head);
    xc_dataset *d = xc_dataset_open(data, split);
    if (!d) return cli_fail(NULL);
    int k = info.num_classes, rc = XC_EXIT_FAIL;
    int same = !xc_dataset_multilabel(d) && xc_dataset_num_classes(d) == k;
    for (int c = 0; same && c < k; c++) same = !strcmp(info.classes[c], xc_dataset_class(d, c));
    if (!same) {
        xc_dataset_close(d);
        return cli_fail("the classes of model '%s' and of dataset '%s' differ: calibrate on a split of the dataset "
                        "the model was trained for", model_path, xc_dataset_path(d));
    }
    int64_t n = xc_dataset_len(d);
    if (n < 1) {
        xc_dataset_close(d);
        return cli_fail("split '%s' of '%s' has no image to fit on", split, data);
    }
    xc_model *m = xc_checkpoint_load_model(model_path, dev, &info);
    float *probs = malloc((size_t)n * k * sizeof *probs), *logits = malloc((size_t)n * k * sizeof *logits);
    const int64_t *labels = xc_dataset_labels(d);
    if (!m || !probs || !logits) {
        if (m) xc_errorf("out of memory");
        rc = cli_fail(NULL);
        goto done;
    }
    fprintf(stderr, "calibrate: scoring %lld images of split '%s' of %s\n", (long long)n, split, data);
    xc_tta tta = (xc_tta)cli_tta_choose("calibrate", tta_opt, info.tta, NULL);
    if (xc_predict_dataset_tta(m, &info, d, (int)batch, tta, probs, logits, on_progress, NULL) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    double t;
    if (xc_fit_temperature(logits, labels, n, k, &t) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    xc_calibration cal = {0};
    cal.present = 1;
    cal.temperature = t;
    cal.n = n;
    cal.bins = (int)bins;
    snprintf(cal.tta, sizeof cal.tta, "%s", xc_tta_name(tta));
    snprintf(cal.split, sizeof cal.split, "%s", split);
    char *abs = realpath(data, NULL);
    snprintf(cal.data, sizeof cal.data, "%s", abs ? abs : data);
    free(abs);
    cal.nll_before = xc_softmax_nll(logits, labels, n, k, 1.0);
    cal.nll_after = xc_softmax_nll(logits, labels, n, k, t);
    cal.ece_before = top_ece(probs, labels, n, k, (int)bins);
    for (int64_t i = 0; i < n; i++) xc_softmax_temperature(logits + (size_t)i * k, k, t, probs + (size_t)i * k);
    cal.ece_after = top_ece(probs, labels, n, k, (int)bins);
    if (k > XC_CAL_MAX_CLASSES) {
        fprintf(stderr, "calibrate: %d classes: operating points are stored for at most %d; none stored\n", k,
                XC_CAL_MAX_CLASSES);
    } else {
        if (xc_op_points_compute(probs, labels, n, probs, labels, n, k, target_sens, target_spec, 0.95, XC_CI_WILSON,
                                 cal.ops) < 0) {
            rc = cli_fail(NULL);
            goto done;
        }
        cal.nops = k;
        cal.applied = (xc_op_rule)rule;
        if (k == 2 && !cal.ops[XC_OP_RULES + rule].defined) {
            rc = cli_fail("the %s operating point of class '%s' is undefined on split '%s' (no positive or negative "
                          "image there, or the target is never met): choose another --operating-point or target",
                          xc_op_rule_name((xc_op_rule)rule), info.classes[1], split);
            goto done;
        }
    }
    char utc[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *names[XC_CAL_MAX_CLASSES];
    for (int c = 0; c < cal.nops; c++) names[c] = info.classes[c];
    if (xc_calibration_write_model(model_path, out, &cal, names, utc, XRAYCLS_VERSION, overwrite) < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    printf("temperature %.6g fitted on %lld images of split '%s': NLL %.4f -> %.4f, top-label ECE (%d bins) %.4f -> "
           "%.4f\nwrote %s\n", t, (long long)n, split, cal.nll_before, cal.nll_after, (int)bins, cal.ece_before,
           cal.ece_after, out);
    if (cal.nops) print_ops(&cal, &info);
    if (t <= 0.0100001 || t >= 99.99)
        fprintf(stderr, "warning: the temperature is at its bound (the split is separated by the model): it says "
                        "little about other data\n");
    rc = XC_EXIT_OK;
done:
    free(probs);
    free(logits);
    xc_model_free(m);
    xc_dataset_close(d);
    return rc;
}
