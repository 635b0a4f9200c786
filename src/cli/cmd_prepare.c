/* cmd_prepare.c — `xraycls prepare <source> [options]`: decodes every image once into a prepared
 * dataset folder (train/val/test.safetensors, audit.json, dataset.json; see xraycls/prepare.h).
 *
 * Sources: coronahack (the Kaggle download as is), folder (root/<class>/ images), csv
 * (path,label[,split] rows), synthetic (a generated CoronaHack-like download under OUT/raw,
 * then prepared into OUT). Settings come from --config (JSON) and are overridden by flags.
 * Prints the audit table and a summary line; a progress bar only on a terminal. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "xraycls/fs.h"
#include "xraycls/prepare.h"
#include "xraycls/progress.h"

static const char usage[] =
    "usage: xraycls prepare coronahack --root DIR [--csv FILE] [--train-dir D] [--test-dir D] -o OUT\n"
    "       xraycls prepare folder --root DIR -o OUT\n"
    "       xraycls prepare csv --csv FILE [--root DIR] -o OUT\n"
    "       xraycls prepare csv --csv FILE --findings A,B,...|chexnet [--uncertain P] -o OUT\n"
    "       xraycls prepare csv --csv FILE --findings-column COL [--path-column COL] -o OUT\n"
    "       xraycls prepare synthetic -o OUT [--n N] [--min-side PX] [--max-side PX] [--multilabel]\n"
    "       xraycls prepare --config FILE [options]\n"
    "\n"
    "Decodes every image once into OUT/{train,val,test}.safetensors ((N, C, S, S) uint8 images,\n"
    "int64 labels), OUT/audit.json and OUT/dataset.json.\n"
    "\n"
    "sources:\n"
    "  coronahack  Chest_xray_Corona_Metadata.csv and its images, as downloaded (images under\n"
    "              Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/{train,test}/,\n"
    "              or found by searching the root for folders named train/test)\n"
    "  folder      ROOT/<class>/ images, optionally under ROOT/{train,val,test}/\n"
    "  csv         rows path,label[,split] (a header naming them is optional); paths relative\n"
    "              to --root (default: the CSV's folder)\n"
    "  synthetic   writes a CoronaHack-like download with class-dependent findings to OUT/raw\n"
    "              and prepares it into OUT (--n images, default 600); --multilabel writes\n"
    "              NIH-style findings.csv with 3 independent findings per image instead\n"
    "\n"
    "multi-label csv (several findings per image; labels (N, K) uint8 with a mask of unknowns):\n"
    "  --findings A,B,...|chexnet  one column per finding (CheXpert: 1 positive, 0 negative,\n"
    "                          blank not mentioned, -1 uncertain); with --findings-column, the\n"
    "                          findings in label order (a name outside them: unknown label)\n"
    "  --findings-column COL   one column of '|'-separated findings (NIH 'Finding Labels');\n"
    "                          'No Finding' alone: every finding negative\n"
    "  --no-finding NAME       the no-finding value of --findings-column ('No Finding')\n"
    "  --path-column COL       the image column (default: path, file or image, any case)\n"
    "  --uncertain ignore|zeros|ones  a -1 finding: unknown (masked out of loss and metrics),\n"
    "                          negative or positive (CheXpert's U-Ignore/U-Zeros/U-Ones; ignore)\n"
    "  --blank negative|unknown       a blank finding (negative)\n"
    "\n"
    "options:\n"
    "  -o, --output DIR        the prepared folder (must be empty unless --overwrite)\n"
    "  --config FILE           JSON settings (keys as the options, with _ for -); flags win\n"
    "  --task NAME             coronahack: 4class (default), bacteria-vs-virus,\n"
    "                          normal-vs-pneumonia, covid-vs-rest (custom mappings: --config)\n"
    "  --exclude-covid         bacteria-vs-virus: leave COVID-19 out instead of counting it Virus\n"
    "  --classes A,B,...       folder/csv: the classes, in label order (default: sorted names)\n"
    "  --add-folder CLASS=DIR  add DIR's images as CLASS (repeatable)\n"
    "  --add-split SPLIT       split of the added images: train (default), val, test\n"
    "  --val-fraction F        validation share carved from train per class (default 0.1)\n"
    "  --seed K                seed of the validation split (and of synthetic images) (0)\n"
    "  --size S                images are resized to S x S (default 224)\n"
    "  --rgb                   keep 3 channels (default: grayscale, 1 channel)\n"
    "  --on-missing error|skip         a listed image that does not exist (default error)\n"
    "  --on-corrupt error|skip         an image that cannot be decoded (default error)\n"
    "  --on-unknown-label error|skip   a label value the task does not know (default error)\n"
    "  --patient-column NAME   csv: the column holding each image's patient key\n"
    "  --patient-regex RE      patient key from the file's base name: the first group of the\n"
    "                          extended regular expression RE (else its whole match), or\n"
    "                          'coronahack' (Kermany's names and the COVID-19 case figures; the\n"
    "                          default of the coronahack source), or 'none'. DICOM files use\n"
    "                          their PatientID. Splits carved are grouped by patient\n"
    "  --allow-leak            given splits that share patients: warn instead of refusing\n"
    "  --near-distance D       near duplicates: images whose hashes differ in at most D of 64\n"
    "                          bits are listed in audit.json (default 6; -1: off)\n"
    "  --threads N             decoding threads (default: the number of cores)\n"
    "  --overwrite             replace the dataset files in a non-empty output folder\n"
    "  -h, --help              this help\n"
    "\n"
    "Images are recognised by content: JPEG, PNG (16-bit by its significant bits) and DICOM\n"
    "(any name; the window or VOI LUT in the file, else a robust range; MONOCHROME1 inverted).\n"
    "\n"
    "environment:\n"
    "  XRAYCLS_JPEG_DECODER=libjpeg   decode every JPEG with libjpeg-turbo instead of xraycls's\n"
    "                          fast downscaling path (gray, 2x the size or more); pixels differ\n"
    "                          by a level or two at most; dataset.json records which one ran\n";

struct progress_ctx {
    xc_progress *bar;
    int tty;
};

static void on_progress(void *ctx, int64_t done, int64_t total) {
    struct progress_ctx *p = ctx;
    if (!p->bar) p->bar = xc_progress_start(total, "decoding", p->tty);
    xc_progress_update(p->bar, done, NULL);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const xc_opt opts[] = {
    {"output", 'o', XC_OPT_VALUE},       {"config", 0, XC_OPT_VALUE | XC_OPT_REPEAT},
    {"root", 0, XC_OPT_VALUE},           {"csv", 0, XC_OPT_VALUE},
    {"train-dir", 0, XC_OPT_VALUE},      {"test-dir", 0, XC_OPT_VALUE},
    {"task", 0, XC_OPT_VALUE},           {"classes", 0, XC_OPT_VALUE},
    {"add-folder", 0, XC_OPT_VALUE | XC_OPT_REPEAT}, {"add-split", 0, XC_OPT_VALUE},
    {"val-fraction", 0, XC_OPT_VALUE},   {"seed", 0, XC_OPT_VALUE},
    {"size", 0, XC_OPT_VALUE},           {"threads", 0, XC_OPT_VALUE},
    {"patient-column", 0, XC_OPT_VALUE}, {"patient-regex", 0, XC_OPT_VALUE},
    {"near-distance", 0, XC_OPT_VALUE},  {"on-missing", 0, XC_OPT_VALUE},
    {"on-corrupt", 0, XC_OPT_VALUE},     {"on-unknown-label", 0, XC_OPT_VALUE},
    {"findings", 0, XC_OPT_VALUE},       {"findings-column", 0, XC_OPT_VALUE},
    {"no-finding", 0, XC_OPT_VALUE},     {"path-column", 0, XC_OPT_VALUE},
    {"uncertain", 0, XC_OPT_VALUE},      {"blank", 0, XC_OPT_VALUE},
    {"exclude-covid", 0, 0},             {"rgb", 0, 0},
    {"overwrite", 0, 0},                 {"allow-leak", 0, 0},
    /* prepare synthetic only */
    {"multilabel", 0, 0},                {"n", 0, XC_OPT_VALUE},
    {"min-side", 0, XC_OPT_VALUE},       {"max-side", 0, XC_OPT_VALUE},
    {0}};
enum {
    O_OUTPUT, O_CONFIG, O_ROOT, O_CSV, O_TRAIN_DIR, O_TEST_DIR, O_TASK, O_CLASSES, O_ADD_FOLDER, O_ADD_SPLIT,
    O_VAL_FRACTION, O_SEED, O_SIZE, O_THREADS, O_PATIENT_COLUMN, O_PATIENT_REGEX, O_NEAR_DISTANCE, O_ON_MISSING,
    O_ON_CORRUPT, O_ON_UNKNOWN_LABEL, O_FINDINGS, O_FINDINGS_COLUMN, O_NO_FINDING, O_PATH_COLUMN, O_UNCERTAIN,
    O_BLANK, O_EXCLUDE_COVID, O_RGB, O_OVERWRITE, O_ALLOW_LEAK, O_MULTILABEL, O_N, O_MIN_SIDE, O_MAX_SIDE
};

#define USAGE(...) return cli_usage_error("prepare", usage, __VA_ARGS__)

int cmd_prepare(int argc, char **argv) {
    xc_prepare_opts o;
    xc_prepare_opts_init(&o);
    xc_synthetic_opts so = xc_synthetic_default();
    int synthetic = 0, rc = XC_EXIT_FAIL;
    xc_prep_audit audit = {0};
    xc_opt_parser p;

    /* The configs first, so that every flag overrides them whatever the order; a malformed
     * command line is reported by the second pass. */
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END && k != XC_OPT_ERROR && k != XC_OPT_HELP;) {
        if (k == O_CONFIG && xc_prepare_config_load(&o, p.value) < 0) {
            rc = cli_fail(NULL);
            goto done;
        }
    }
    const char *source = NULL;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        const char *v = p.value;
        long long n = 0;
        int bad = 0;
        if (k >= 0) xc_error_clear();
        switch (k) {
        case XC_OPT_HELP: xc_prepare_opts_clear(&o); return cli_help(usage);
        case XC_OPT_ERROR: xc_prepare_opts_clear(&o); return cli_opt_error("prepare", usage);
        case XC_OPT_ARG:
            if (source) {
                xc_prepare_opts_clear(&o);
                USAGE("unexpected argument '%s'", v);
            }
            source = v;
            if (!strcmp(v, "synthetic")) {
                synthetic = 1;
                o.source = XC_SOURCE_CORONAHACK;
            } else if (xc_source_parse(v, &o.source) < 0) {
                xc_prepare_opts_clear(&o);
                USAGE("unknown source '%s' (coronahack, folder, csv, synthetic)", v);
            }
            break;
        case O_CONFIG: break; /* read above */
        case O_OUTPUT: bad = xc_prepare_set_str(&o.out, v); break;
        case O_ROOT: bad = xc_prepare_set_str(&o.root, v); break;
        case O_CSV: bad = xc_prepare_set_str(&o.csv, v); break;
        case O_TRAIN_DIR: bad = xc_prepare_set_str(&o.train_dir, v); break;
        case O_TEST_DIR: bad = xc_prepare_set_str(&o.test_dir, v); break;
        case O_TASK:
            bad = xc_prepare_set_str(&o.task_name, v);
            xc_task_free(o.task); /* a preset named on the command line replaces a config mapping */
            o.task = NULL;
            break;
        case O_CLASSES: bad = xc_prepare_set_classes(&o, v); break;
        case O_ADD_FOLDER: bad = xc_prepare_add_extra(&o, v); break;
        case O_ADD_SPLIT: bad = xc_split_parse(v, &o.add_split); break;
        case O_VAL_FRACTION:
            bad = xc_opt_double(&p, 0, 1, &o.val_fraction);
            if (!bad && o.val_fraction >= 1) bad = xc_errorf("'%s %s': not in [0, 1)", p.name, v);
            break;
        case O_SEED:
            bad = xc_opt_ll(&p, 0, (1LL << 53) - 1, &n);
            o.seed = so.seed = (uint64_t)n;
            break;
        case O_SIZE:
            bad = xc_opt_ll(&p, 8, 4096, &n);
            o.size = (int)n;
            break;
        case O_THREADS:
            bad = xc_opt_ll(&p, 0, 1024, &n);
            o.threads = (int)n;
            break;
        case O_PATIENT_COLUMN: bad = xc_prepare_set_str(&o.patient_column, v); break;
        case O_PATIENT_REGEX: bad = xc_prepare_set_str(&o.patient_regex, v); break;
        case O_NEAR_DISTANCE:
            bad = xc_opt_ll(&p, -1, 64, &n);
            o.near_distance = (int)n;
            break;
        case O_ON_MISSING: bad = xc_policy_parse(v, &o.on_missing); break;
        case O_ON_CORRUPT: bad = xc_policy_parse(v, &o.on_corrupt); break;
        case O_ON_UNKNOWN_LABEL: bad = xc_policy_parse(v, &o.on_unknown_label); break;
        case O_FINDINGS: bad = xc_prepare_set_findings(&o, v); break;
        case O_FINDINGS_COLUMN: bad = xc_prepare_set_str(&o.findings_column, v); break;
        case O_NO_FINDING: bad = xc_prepare_set_str(&o.no_finding, v); break;
        case O_PATH_COLUMN: bad = xc_prepare_set_str(&o.path_column, v); break;
        case O_UNCERTAIN: bad = xc_uncertain_parse(v, &o.uncertain); break;
        case O_BLANK:
            if (!strcmp(v, "negative")) o.blank_unknown = 0;
            else if (!strcmp(v, "unknown")) o.blank_unknown = 1;
            else bad = xc_errorf("'--blank %s': expected negative or unknown", v);
            break;
        case O_EXCLUDE_COVID: o.exclude_covid = 1; break;
        case O_RGB: o.channels = 3; break;
        case O_OVERWRITE: o.overwrite = 1; break;
        case O_ALLOW_LEAK: o.allow_leak = 1; break;
        case O_MULTILABEL: break; /* below, once the source is known */
        case O_N:
            bad = xc_opt_ll(&p, 40, 1000000, &n);
            so.n = (int)n;
            break;
        case O_MIN_SIDE:
        case O_MAX_SIDE:
            bad = xc_opt_ll(&p, 16, 4096, &n);
            if (k == O_MIN_SIDE) so.min_side = (int)n;
            else so.max_side = (int)n;
            break;
        }
        if (bad) {
            xc_prepare_opts_clear(&o);
            USAGE("%s", xc_error());
        }
    }
    static const int synthetic_only[] = {O_MULTILABEL, O_N, O_MIN_SIDE, O_MAX_SIDE};
    for (int i = 0; i < 4 && !synthetic; i++)
        if (xc_opt_count(&p, synthetic_only[i])) {
            xc_prepare_opts_clear(&o);
            USAGE("option '--%s' applies to 'xraycls prepare synthetic' only", opts[synthetic_only[i]].name);
        }
    if (synthetic && xc_opt_count(&p, O_MULTILABEL)) synthetic = 2;
    if (!o.out) {
        xc_prepare_opts_clear(&o);
        USAGE("no output folder (-o OUT)");
    }

    if (synthetic) {
        /* The generated download lives in OUT/raw, the prepared files beside it in OUT. */
        if (xc_prepare_check_output(o.out, o.overwrite) < 0) {
            rc = cli_fail(NULL);
            goto done;
        }
        char *raw = xc_path_join(o.out, "raw");
        if (!raw || xc_prepare_set_str(&o.root, raw) < 0) {
            free(raw);
            rc = cli_fail(NULL);
            goto done;
        }
        double t0 = now_s();
        int r;
        if (synthetic == 2) {
            /* the NIH layout: findings.csv beside images/ */
            char *csv = xc_path_join(raw, "findings.csv"), *img = xc_path_join(raw, "images");
            r = (!csv || !img || xc_prepare_set_str(&o.csv, csv) < 0 || xc_prepare_set_str(&o.root, img) < 0 ||
                 xc_prepare_set_str(&o.findings_column, "Finding Labels") < 0 ||
                 xc_prepare_set_str(&o.path_column, "Image Index") < 0)
                    ? -1
                    : 0;
            free(csv);
            free(img);
            o.source = XC_SOURCE_CSV;
            if (r == 0) r = xc_synthetic_write_findings(raw, &so, o.threads);
        } else {
            r = xc_synthetic_write(raw, &so, o.threads);
        }
        if (r == 0)
            fprintf(stderr, "wrote %d synthetic images to %s in %.1f s\n", so.n, raw, now_s() - t0);
        free(raw);
        if (r < 0) {
            rc = cli_fail(NULL);
            goto done;
        }
        o.overwrite = 1; /* OUT now holds raw/ */
    }

    struct progress_ctx pc = {NULL, cli_is_tty()};
    double t0 = now_s();
    int r = xc_prepare_run(&o, on_progress, &pc, &audit);
    xc_progress_finish(pc.bar);
    double dt = now_s() - t0;
    if (r < 0) {
        rc = cli_fail(NULL);
        goto done;
    }
    char *table = xc_prep_audit_table(&audit);
    if (table) fputs(table, stdout);
    free(table);
    for (int i = 0; i < audit.nwarnings; i++) fprintf(stderr, "warning: %s\n", audit.warnings[i]);
    int64_t total = 0;
    for (int s = 0; s < XC_NSPLITS; s++) total += xc_prep_audit_split_total(&audit, (xc_split)s);
    printf("prepared %lld images (train %lld, val %lld, test %lld) in %.1f s, %.0f images/s -> %s\n", (long long)total,
           (long long)xc_prep_audit_split_total(&audit, XC_SPLIT_TRAIN),
           (long long)xc_prep_audit_split_total(&audit, XC_SPLIT_VAL),
           (long long)xc_prep_audit_split_total(&audit, XC_SPLIT_TEST), dt, dt > 0 ? (double)total / dt : 0.0, o.out);
    rc = XC_EXIT_OK;
done:
    xc_prep_audit_clear(&audit);
    xc_prepare_opts_clear(&o);
    return rc;
}
