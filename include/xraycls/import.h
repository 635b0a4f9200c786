/* xraycls/import.h — turning pretrained weights from elsewhere into an xraycls model file.
 *
 * What it is: xc_import_model(), which reads a torch.save file (.pth, .pt, .pth.tar; zip or
 * legacy, via xraycls/weights.h) or a safetensors file with torchvision names, maps it onto one
 * of the architectures of xraycls/nn.h strictly, and writes a model file that
 * xc_checkpoint_load_model (xraycls/checkpoint.h) accepts: tensors `model.<torchvision name>`,
 * metadata xraycls.kind "model", xraycls.format, xraycls.arch, xraycls.classes (JSON array),
 * xraycls.num_classes, xraycls.head ("softmax" or "sigmoid"), xraycls.preprocessing
 * ({"size", "channels": 3, "mean", "std", "expand_gray_to_rgb": true}) and xraycls.source (the
 * source file's name). What it is not: the command line (src/cli/cmd_import.c) or the readers.
 *
 * Mapping: source names are normalized as xc_weights_normalize_name does ("module.",
 * "module.densenet121." stripped; old dotted DenseNet layer names rewritten). A DenseNet source
 * whose head is CheXNet's Linear+Sigmoid ("classifier.0.weight/bias") has it renamed to
 * "classifier.weight/bias" and, when it is kept (not re-initialised), the written head is
 * "sigmoid" whatever opts.multilabel says. Every model entry must then be present with its shape (else -1
 * naming the tensor); source tensors the model lacks are reported, not an error.
 *
 * Classes: opts.classes when given; else the source head's output count with default names:
 * CheXNet's 14 findings (and a sigmoid head) for a 14-output CheXNet head, else "class0",
 * "class1", …. When the given class count differs from the source head's, the head is
 * re-initialised from the global generator seeded with opts.seed and the result says so.
 *
 * Failure: -1 with the message in xc_error() naming the file and tensor; the output is written
 * atomically, so on failure it is left as it was.
 */
#ifndef XRAYCLS_IMPORT_H
#define XRAYCLS_IMPORT_H

#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/findings.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The 14 ChestX-ray14 findings in CheXNet's output order. */
/* CheXNet's findings: xraycls/findings.h (xc_chexnet_classes). */

typedef struct {
    const char *arch;            /* "densenet121", … (xc_arch_check) */
    const char *from;            /* source path */
    const char *const *classes;  /* class names in output order, borrowed; NULL: defaults */
    int num_classes;             /* entries of classes (0 when classes is NULL) */
    int multilabel;              /* 1: sigmoid head (implied for CheXNet's default classes) */
    int image_size;              /* input side in pixels; 0: 224 */
    int has_norm;                /* 1: mean/std below; 0: ImageNet's */
    float mean[3], std[3];       /* per RGB channel, on [0,1] values; std > 0 */
    uint64_t seed;               /* seeds a re-initialised head */
    int tta;                     /* the default test-time augmentation written (xc_tta of
                                  * xraycls/checkpoint.h; 0: none, no key) */
} xc_import_opts;

/* How the class names were chosen. */
typedef enum {
    XC_IMPORT_CLASSES_GIVEN = 0, /* opts.classes */
    XC_IMPORT_CLASSES_CHEXNET,   /* CheXNet's 14 findings */
    XC_IMPORT_CLASSES_GENERIC    /* "class0", "class1", … */
} xc_import_class_source;

/* What an import did. Owns the unused names; free with xc_import_result_free. */
typedef struct {
    char format[16];             /* "zip", "legacy" or "safetensors" */
    int num_classes;             /* classes written */
    int multilabel;              /* 1 when the written head is "sigmoid" */
    int chexnet_head;            /* 1 when the source head was classifier.0.* (renamed) */
    xc_import_class_source class_source;
    int64_t source_head_classes; /* outputs of the source head */
    int head_reinit;             /* 1 when the head was re-initialised (seed opts.seed) */
    int loaded;                  /* model entries copied from the source */
    int nbt_defaulted;           /* num_batches_tracked entries absent from the source (0) */
    char **unused;               /* source names the model has no entry for (normalized) */
    int n_unused;
} xc_import_result;

void xc_import_result_free(xc_import_result *r); /* frees the names, zeroes *r; accepts NULL */

/* Imports opts->from onto opts->arch and writes the model file `out` atomically. res (may be
 * NULL) receives what was done; on failure it holds nothing to free. Runs on the CPU. */
int xc_import_model(const xc_import_opts *opts, const char *out, xc_import_result *res);

#ifdef __cplusplus
}
#endif
#endif
