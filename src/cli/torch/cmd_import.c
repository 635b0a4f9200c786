/* cmd_import.c — `xraycls import`: pretrained weights (.pth/.pt/.pth.tar, or a safetensors with
 * torchvision names) written as an xraycls model file for predict and eval (xraycls/import.h). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xraycls/checkpoint.h"
#include "xraycls/fs.h"
#include "xraycls/import.h"
#include "xraycls/nn.h"

static const char usage[] =
    "usage: xraycls import --arch NAME --from FILE -o OUT.safetensors\n"
    "                      [--classes a,b,... | --classes-file F] [--multilabel]\n"
    "                      [--size 224] [--mean r,g,b --std r,g,b] [--seed N]\n"
    "                      [--tta none|flip|tencrop]\n"
    "\n"
    "Reads FILE (torch.save zip or legacy format, or safetensors with torchvision names; no\n"
    "code in it is ever run), maps its state dict strictly onto NAME (every tensor present with\n"
    "its shape; CheXNet's classifier.0 head becomes classifier) and writes OUT atomically as a\n"
    "model file that `xraycls predict --model OUT` and `xraycls eval` load. Source tensors the\n"
    "architecture lacks are listed. Without classes, the source head's outputs are named:\n"
    "CheXNet's 14 findings (multi-label) for a 14-output CheXNet head, else class0, class1, ...\n"
    "\n"
    "  --arch NAME        resnet18|34|50|101|152, densenet121|161|169|201\n"
    "  --from FILE        the pretrained weights\n"
    "  -o, --output OUT   the model file to write\n"
    "  --classes LIST     comma-separated class names, in output order; a count other than the\n"
    "                     source head's re-initialises the head (it must then be trained)\n"
    "  --classes-file F   the class names, one per line\n"
    "  --multilabel       independent sigmoid outputs (default: softmax over the classes)\n"
    "  --size N           input side in pixels (224)\n"
    "  --mean r,g,b       input normalisation on [0,1] values (ImageNet's: 0.485,0.456,0.406)\n"
    "  --std r,g,b        (ImageNet's: 0.229,0.224,0.225)\n"
    "  --seed N           seed of a re-initialised head (0)\n"
    "  --tta T            the test-time augmentation eval, predict and calibrate apply when\n"
    "                     not told (--tta): none (default), flip, or tencrop (CheXNet's ten\n"
    "                     crops); written into the preprocessing contract (\"tta\")\n"
    "  -h, --help         this help\n";

#define MAX_CLASSES 4096

/* Splits a comma- or newline-separated list in place into names[] (trimmed; empty lines are
 * skipped for newline lists). Returns the count, or -1 with a message. */
static int split_names(char *s, char sep, char **names, int cap, const char *what) {
    int n = 0;
    char *p = s;
    for (;;) {
        char *end = strchr(p, sep);
        if (end) *end = '\0';
        char *a = p, *b = p + strlen(p);
        while (*a == ' ' || *a == '\t') a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) *--b = '\0';
        if (*a) {
            if (n == cap) return xc_errorf("%s: more than %d class names", what, cap);
            names[n++] = a;
        } else if (sep == ',') {
            return xc_errorf("%s: empty class name at position %d", what, n + 1);
        }
        if (!end) break;
        p = end + 1;
    }
    if (n == 0) return xc_errorf("%s: no class names", what);
    return n;
}

static int parse_triple(const char *s, float out[3]) {
    char *end;
    const char *p = s;
    for (int c = 0; c < 3; c++) {
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno) return -1;
        out[c] = (float)v;
        if (c < 2) {
            if (*end != ',') return -1;
            p = end + 1;
        }
    }
    return *end == '\0' ? 0 : -1;
}

static void report(const xc_import_opts *o, const xc_import_result *r, const char *out) {
    if (r->n_unused > 0) {
        fprintf(stderr, "xraycls import: %d tensor%s of '%s' unused by %s:\n", r->n_unused,
                r->n_unused == 1 ? "" : "s", o->from, o->arch);
        for (int i = 0; i < r->n_unused; i++) fprintf(stderr, "  %s\n", r->unused[i]);
    }
    if (r->chexnet_head)
        fprintf(stderr, "xraycls import: CheXNet head classifier.0.{weight,bias} mapped to "
                        "classifier.{weight,bias}\n");
    if (r->head_reinit)
        fprintf(stderr,
                "xraycls import: WARNING: the head of '%s' has %lld outputs but %d classes were "
                "given: the head was RE-INITIALISED at random (seed %llu); it must be trained "
                "before its outputs mean anything\n",
                o->from, (long long)r->source_head_classes, r->num_classes,
                (unsigned long long)o->seed);
    if (r->class_source == XC_IMPORT_CLASSES_CHEXNET)
        fprintf(stderr, "xraycls import: no classes given: using CheXNet's 14 findings "
                        "(multi-label, sigmoid head)\n");
    else if (r->class_source == XC_IMPORT_CLASSES_GENERIC)
        fprintf(stderr, "xraycls import: no classes given: the %d outputs are named class0..class%d\n",
                r->num_classes, r->num_classes - 1);
    if (r->num_classes > XC_INFO_MAX_CLASSES)
        fprintf(stderr, "xraycls import: WARNING: %d classes: predict and eval load model files of "
                        "at most %d classes; pass --classes to re-initialise the head\n",
                r->num_classes, XC_INFO_MAX_CLASSES);
    if (r->nbt_defaulted > 0)
        fprintf(stderr, "xraycls import: %d num_batches_tracked buffers absent from the source, set "
                        "to 0\n", r->nbt_defaulted);
    printf("imported %s (%s) as %s: %d tensors, %d classes, %s head -> %s\n", o->from, r->format,
           o->arch, r->loaded, r->num_classes, r->multilabel ? "sigmoid" : "softmax", out);
    if (o->tta) printf("default test-time augmentation: %s\n", xc_tta_name((xc_tta)o->tta));
}

static const xc_opt opts[] = {
    {"arch", 0, XC_OPT_VALUE},         {"from", 0, XC_OPT_VALUE}, {"output", 'o', XC_OPT_VALUE},
    {"classes", 0, XC_OPT_VALUE},      {"classes-file", 0, XC_OPT_VALUE}, {"size", 0, XC_OPT_VALUE},
    {"mean", 0, XC_OPT_VALUE},         {"std", 0, XC_OPT_VALUE},  {"seed", 0, XC_OPT_VALUE},
    {"multilabel", 0, 0},              {"tta", 0, XC_OPT_VALUE},  {0}};
enum { O_ARCH, O_FROM, O_OUTPUT, O_CLASSES, O_CLASSES_FILE, O_SIZE, O_MEAN, O_STD, O_SEED, O_MULTILABEL, O_TTA };

int cmd_import(int argc, char **argv) {
    xc_import_opts o;
    memset(&o, 0, sizeof o);
    const char *out = NULL, *classes_arg = NULL, *classes_file = NULL;
    int has_mean = 0, has_std = 0;
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        const char *v = p.value;
        long long n;
        switch (k) {
        case XC_OPT_HELP: return cli_help(usage);
        case XC_OPT_ERROR: return cli_opt_error("import", usage);
        case XC_OPT_ARG: return cli_usage_error("import", usage, "unexpected argument '%s'", v);
        case O_ARCH: o.arch = v; break;
        case O_FROM: o.from = v; break;
        case O_OUTPUT: out = v; break;
        case O_CLASSES: classes_arg = v; break;
        case O_CLASSES_FILE: classes_file = v; break;
        case O_MULTILABEL: o.multilabel = 1; break;
        case O_SIZE:
            if (xc_opt_ll(&p, 32, 4096, &n) < 0) return cli_opt_error("import", usage);
            o.image_size = (int)n;
            break;
        case O_SEED:
            if (xc_opt_ll(&p, 0, 2147483647L, &n) < 0) return cli_opt_error("import", usage);
            o.seed = (uint64_t)n;
            break;
        case O_MEAN:
            if (parse_triple(v, o.mean) < 0) return cli_usage_error("import", usage, "'--mean %s': expected r,g,b", v);
            has_mean = 1;
            break;
        case O_STD:
            if (parse_triple(v, o.std) < 0) return cli_usage_error("import", usage, "'--std %s': expected r,g,b", v);
            for (int c = 0; c < 3; c++)
                if (!(o.std[c] > 0)) return cli_usage_error("import", usage, "'--std %s': must be > 0", v);
            has_std = 1;
            break;
        case O_TTA: {
            xc_tta t;
            if (xc_tta_parse(v, &t) < 0) return cli_usage_error("import", usage, "--tta: %s", xc_error());
            o.tta = (int)t;
            break;
        }
        }
    }
    if (!o.arch) return cli_usage_error("import", usage, "--arch is required");
    if (!o.from) return cli_usage_error("import", usage, "--from is required");
    if (!out) return cli_usage_error("import", usage, "-o OUT is required");
    if (classes_arg && classes_file)
        return cli_usage_error("import", usage, "--classes and --classes-file exclude each other");
    if (has_mean != has_std) return cli_usage_error("import", usage, "--mean and --std go together");
    o.has_norm = has_mean;
    if (xc_arch_check(o.arch) < 0) return cli_usage_error("import", usage, "%s", xc_error());

    char *text = NULL;
    char **names = NULL;
    if (classes_arg || classes_file) {
        names = calloc(MAX_CLASSES, sizeof *names);
        if (!names) return cli_fail("out of memory");
        int n;
        if (classes_arg) {
            text = strdup(classes_arg);
            n = text ? split_names(text, ',', names, MAX_CLASSES, "--classes")
                     : xc_errorf("out of memory");
        } else {
            size_t len;
            text = xc_read_file(classes_file, &len, 1u << 20);
            n = text ? split_names(text, '\n', names, MAX_CLASSES, classes_file) : -1;
        }
        if (n < 0) {
            free(text);
            free(names);
            return classes_arg ? cli_usage_error("import", usage, "%s", xc_error()) : cli_fail(NULL);
        }
        o.classes = (const char *const *)names;
        o.num_classes = n;
    }
    xc_import_result r;
    int rc = xc_import_model(&o, out, &r);
    if (rc == 0) report(&o, &r, out);
    xc_import_result_free(&r);
    free(text);
    free(names);
    return rc == 0 ? XC_EXIT_OK : cli_fail(NULL);
}
