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

static int parse_int(const char *s, long long lo, long long hi, long long *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* The value of option argv[*i] ("--x v" or "--x=v"); NULL with a usage error printed. */
static const char *value_of(int argc, char **argv, int *i, const char *eq) {
    if (eq) return eq + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

#define USAGE(...) return cli_usage_error("prepare", usage, __VA_ARGS__)

int cmd_prepare(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return XC_EXIT_OK;
    }
    xc_prepare_opts o;
    xc_prepare_opts_init(&o);
    xc_synthetic_opts so = xc_synthetic_default();
    int synthetic = 0, first = 1, rc = XC_EXIT_FAIL;
    xc_prep_audit audit = {0};

    /* The config first, so that every flag overrides it whatever the order. */
    for (int i = 1; i < argc; i++) {
        const char *eq = strncmp(argv[i], "--config", 8) == 0 && argv[i][8] == '=' ? argv[i] + 8 : NULL;
        if (strcmp(argv[i], "--config") != 0 && !eq) continue;
        const char *v = value_of(argc, argv, &i, eq);
        if (!v) {
            xc_prepare_opts_clear(&o);
            USAGE("--config needs a file");
        }
        if (xc_prepare_config_load(&o, v) < 0) {
            rc = cli_fail(NULL);
            goto done;
        }
    }
    if (argc > 1 && argv[1][0] != '-') {
        first = 2;
        if (!strcmp(argv[1], "synthetic")) {
            synthetic = 1;
            o.source = XC_SOURCE_CORONAHACK;
        } else if (xc_source_parse(argv[1], &o.source) < 0) {
            xc_prepare_opts_clear(&o);
            USAGE("unknown source '%s' (coronahack, folder, csv, synthetic)", argv[1]);
        }
    }
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 && strcmp(a, "-o") != 0) {
            xc_prepare_opts_clear(&o);
            USAGE("unexpected argument '%s'", a);
        }
        char name[64];
        const char *eq = strchr(a, '=');
        snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
        /* switches */
        if (!strcmp(name, "--exclude-covid") || !strcmp(name, "--rgb") || !strcmp(name, "--overwrite") ||
            !strcmp(name, "--allow-leak") || (synthetic && !strcmp(name, "--multilabel"))) {
            if (eq) {
                xc_prepare_opts_clear(&o);
                USAGE("%s takes no value", name);
            }
            if (!strcmp(name, "--exclude-covid")) o.exclude_covid = 1;
            else if (!strcmp(name, "--rgb")) o.channels = 3;
            else if (!strcmp(name, "--allow-leak")) o.allow_leak = 1;
            else if (!strcmp(name, "--multilabel")) synthetic = 2;
            else o.overwrite = 1;
            continue;
        }
        const char *v = value_of(argc, argv, &i, eq);
        if (!v) {
            xc_prepare_opts_clear(&o);
            USAGE("%s needs a value", name);
        }
        long long n;
        int bad = 0;
        xc_error_clear();
        if (!strcmp(name, "--config")) continue; /* read above */
        else if (!strcmp(name, "-o") || !strcmp(name, "--output")) bad = xc_prepare_set_str(&o.out, v);
        else if (!strcmp(name, "--root")) bad = xc_prepare_set_str(&o.root, v);
        else if (!strcmp(name, "--csv")) bad = xc_prepare_set_str(&o.csv, v);
        else if (!strcmp(name, "--train-dir")) bad = xc_prepare_set_str(&o.train_dir, v);
        else if (!strcmp(name, "--test-dir")) bad = xc_prepare_set_str(&o.test_dir, v);
        else if (!strcmp(name, "--task")) {
            bad = xc_prepare_set_str(&o.task_name, v);
            xc_task_free(o.task); /* a preset named on the command line replaces a config mapping */
            o.task = NULL;
        } else if (!strcmp(name, "--classes")) bad = xc_prepare_set_classes(&o, v);
        else if (!strcmp(name, "--add-folder")) bad = xc_prepare_add_extra(&o, v);
        else if (!strcmp(name, "--add-split")) bad = xc_split_parse(v, &o.add_split);
        else if (!strcmp(name, "--val-fraction")) {
            char *end;
            o.val_fraction = strtod(v, &end);
            if (!*v || *end || !(o.val_fraction >= 0 && o.val_fraction < 1)) bad = xc_errorf("--val-fraction '%s': expected a number in [0, 1)", v);
        } else if (!strcmp(name, "--seed")) {
            bad = parse_int(v, 0, (1LL << 53) - 1, &n) < 0 ? xc_errorf("--seed '%s': expected a non-negative integer", v) : 0;
            o.seed = (uint64_t)n;
            so.seed = (uint64_t)n;
        } else if (!strcmp(name, "--size")) {
            bad = parse_int(v, 8, 4096, &n) < 0 ? xc_errorf("--size '%s': expected an integer in [8, 4096]", v) : 0;
            o.size = (int)n;
        } else if (!strcmp(name, "--threads")) {
            bad = parse_int(v, 0, 1024, &n) < 0 ? xc_errorf("--threads '%s': expected an integer in [0, 1024]", v) : 0;
            o.threads = (int)n;
        } else if (!strcmp(name, "--patient-column")) bad = xc_prepare_set_str(&o.patient_column, v);
        else if (!strcmp(name, "--patient-regex")) bad = xc_prepare_set_str(&o.patient_regex, v);
        else if (!strcmp(name, "--near-distance")) {
            bad = parse_int(v, -1, 64, &n) < 0 ? xc_errorf("--near-distance '%s': expected an integer in [-1, 64]", v) : 0;
            o.near_distance = (int)n;
        } else if (!strcmp(name, "--on-missing")) bad = xc_policy_parse(v, &o.on_missing);
        else if (!strcmp(name, "--on-corrupt")) bad = xc_policy_parse(v, &o.on_corrupt);
        else if (!strcmp(name, "--on-unknown-label")) bad = xc_policy_parse(v, &o.on_unknown_label);
        else if (!strcmp(name, "--findings")) bad = xc_prepare_set_findings(&o, v);
        else if (!strcmp(name, "--findings-column")) bad = xc_prepare_set_str(&o.findings_column, v);
        else if (!strcmp(name, "--no-finding")) bad = xc_prepare_set_str(&o.no_finding, v);
        else if (!strcmp(name, "--path-column")) bad = xc_prepare_set_str(&o.path_column, v);
        else if (!strcmp(name, "--uncertain")) bad = xc_uncertain_parse(v, &o.uncertain);
        else if (!strcmp(name, "--blank")) {
            if (!strcmp(v, "negative")) o.blank_unknown = 0;
            else if (!strcmp(v, "unknown")) o.blank_unknown = 1;
            else bad = xc_errorf("--blank '%s': expected negative or unknown", v);
        }
        else if (synthetic && !strcmp(name, "--n")) {
            bad = parse_int(v, 40, 1000000, &n) < 0 ? xc_errorf("--n '%s': expected an integer in [40, 1000000]", v) : 0;
            so.n = (int)n;
        } else if (synthetic && (!strcmp(name, "--min-side") || !strcmp(name, "--max-side"))) {
            bad = parse_int(v, 16, 4096, &n) < 0 ? xc_errorf("%s '%s': expected an integer in [16, 4096]", name, v) : 0;
            if (name[2] == 'm' && name[3] == 'i') so.min_side = (int)n;
            else so.max_side = (int)n;
        } else {
            xc_prepare_opts_clear(&o);
            USAGE("unknown option '%s'", name);
        }
        if (bad) {
            xc_prepare_opts_clear(&o);
            USAGE("%s", xc_error());
        }
    }
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
