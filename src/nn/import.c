/* import.c — pretrained weights (torch.save files or torchvision-named safetensors) mapped onto
 * an architecture and written as an xraycls model file (format in xraycls/import.h).
 *
 * Not here: parsing the sources (src/weights/, src/core/safetensors.c) or the strict copy into
 * the model (xc_model_load_named in model.c). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/import.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xraycls/checkpoint.h"
#include "xraycls/fs.h"
#include "xraycls/nn.h"
#include "xraycls/safetensors.h"
#include "xraycls/weights.h"

void xc_import_result_free(xc_import_result *r) {
    if (!r) return;
    for (int i = 0; i < r->n_unused; i++) free(r->unused[i]);
    free(r->unused);
    memset(r, 0, sizeof *r);
}

/* ---- the source: tensors under normalized names ------------------------------------------ */

typedef struct {
    xc_torchfile *tf;
    xc_st_file *st;
    xc_st_tensor *t; /* own array: names point into `names` or the reader */
    int n;
    char **names;    /* normalized names owned here (safetensors sources), n entries or NULL */
    char format[16];
} source;

static void source_close(source *s) {
    if (s->names)
        for (int i = 0; i < s->n; i++) free(s->names[i]);
    free(s->names);
    free(s->t);
    xc_torchfile_close(s->tf);
    xc_st_close(s->st);
    memset(s, 0, sizeof *s);
}

/* 1 when the file starts like a safetensors file (8-byte header length, then '{'). */
static int looks_like_safetensors(const char *path) {
    int fd = xc_open_regular(path, NULL);
    if (fd < 0) return -1;
    unsigned char head[9];
    ssize_t got = pread(fd, head, sizeof head, 0);
    close(fd);
    return got == (ssize_t)sizeof head && head[8] == '{';
}

static int source_open(source *s, const char *path) {
    memset(s, 0, sizeof *s);
    int is_st = looks_like_safetensors(path);
    if (is_st < 0) return -1;
    const xc_st_tensor *arr = NULL;
    if (is_st) {
        s->st = xc_st_open(path);
        if (!s->st) return -1;
        s->n = xc_st_count(s->st);
        snprintf(s->format, sizeof s->format, "safetensors");
    } else {
        s->tf = xc_torchfile_open(path);
        if (!s->tf) return -1;
        if (xc_torchfile_st_tensors(s->tf, 1, &arr, &s->n) < 0) goto fail;
        snprintf(s->format, sizeof s->format, "%s",
                 xc_torchfile_format_of(s->tf) == XC_TORCHFILE_ZIP ? "zip" : "legacy");
    }
    s->t = calloc((size_t)(s->n > 0 ? s->n : 1), sizeof *s->t);
    if (is_st) s->names = calloc((size_t)(s->n > 0 ? s->n : 1), sizeof *s->names);
    if (!s->t || (is_st && !s->names)) {
        xc_errorf("'%s': out of memory", path);
        goto fail;
    }
    for (int i = 0; i < s->n; i++) {
        if (!is_st) {
            s->t[i] = arr[i];
            continue;
        }
        s->t[i] = *xc_st_at(s->st, i);
        char buf[XC_WEIGHTS_NAME_MAX + 1];
        if (xc_weights_normalize_name(s->t[i].name, buf, sizeof buf) < 0) {
            xc_errorf("'%s': %s", path, xc_error());
            goto fail;
        }
        s->names[i] = strdup(buf);
        if (!s->names[i]) {
            xc_errorf("'%s': out of memory", path);
            goto fail;
        }
        s->t[i].name = s->names[i];
    }
    for (int i = 0; i < s->n; i++)
        for (int j = 0; is_st && j < i; j++)
            if (!strcmp(s->t[i].name, s->t[j].name)) {
                xc_errorf("'%s': two tensors are both named '%s' once normalized", path, s->t[i].name);
                goto fail;
            }
    return 0;
fail:
    source_close(s);
    return -1;
}

static xc_st_tensor *source_find(source *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name)) return &s->t[i];
    return NULL;
}

/* ---- writing ----------------------------------------------------------------------------- */

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* The model file's metadata (xc_model_info_write, as checkpoints) and where it came from. */
static int write_metadata(xc_st_writer *w, const xc_import_opts *o, const char *const *classes,
                          int k, int multilabel) {
    static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
    static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};
    xc_model_info *info = calloc(1, sizeof *info);
    if (!info) return xc_errorf("out of memory");
    snprintf(info->arch, sizeof info->arch, "%s", o->arch);
    info->num_classes = k;
    for (int i = 0; i < k && i < XC_INFO_MAX_CLASSES; i++)
        snprintf(info->classes[i], XC_CLASS_NAME_MAX, "%s", classes[i]);
    snprintf(info->head, sizeof info->head, "%s", multilabel ? "sigmoid" : "softmax");
    info->image_size = o->image_size > 0 ? o->image_size : 224;
    info->channels = 3;
    memcpy(info->mean, o->has_norm ? o->mean : imagenet_mean, sizeof info->mean);
    memcpy(info->std, o->has_norm ? o->std : imagenet_std, sizeof info->std);
    info->expand_gray_to_rgb = 1;
    info->tta = (xc_tta)o->tta;
    int rc = xc_model_info_write(w, info, "model");
    free(info);
    if (rc < 0) return -1;
    return xc_st_writer_meta(w, "xraycls.source", base_name(o->from));
}

/* Every model entry as `model.<name>`, copied to host buffers kept in bufs[] until written. */
static int write_tensors(xc_st_writer *w, const xc_model *m, void **bufs) {
    int n = xc_model_state_count(m);
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(m, i);
        if (!e) return -1;
        int64_t shape[XC_ST_MAX_DIMS];
        int nd = xt_shape(e->tensor, shape, XC_ST_MAX_DIMS);
        if (nd < 0) return xc_errorf("import: tensor '%s': %s", e->name, xc_error());
        xt_dtype dt = xt_dtype_of(e->tensor);
        size_t nbytes = (size_t)xt_numel(e->tensor) * xt_dtype_size(dt);
        bufs[i] = malloc(nbytes ? nbytes : 1);
        if (!bufs[i]) return xc_errorf("import: out of memory for tensor '%s'", e->name);
        if (xt_to_host(e->tensor, bufs[i], nbytes) < 0)
            return xc_errorf("import: tensor '%s': %s", e->name, xc_error());
        char name[XC_WEIGHTS_NAME_MAX + 8];
        snprintf(name, sizeof name, "model.%s", e->name);
        /* xt_dtype and xc_dtype share their numeric values (safetensors.h). */
        if (xc_st_writer_add(w, name, (xc_dtype)dt, nd, shape, bufs[i], nbytes) < 0) return -1;
    }
    return 0;
}

/* ---- the import -------------------------------------------------------------------------- */

static int check_opts(const xc_import_opts *o) {
    if (!o->arch || !o->from) return xc_errorf("import: arch and source are required");
    if (xc_arch_check(o->arch) < 0) return -1;
    if (o->classes && o->num_classes < 1) return xc_errorf("import: the class list is empty");
    if (o->image_size < 0) return xc_errorf("import: image size %d is negative", o->image_size);
    for (int c = 0; o->has_norm && c < 3; c++)
        if (!(o->std[c] > 0)) return xc_errorf("import: std[%d] = %g is not positive", c, o->std[c]);
    for (int i = 0; o->classes && i < o->num_classes; i++) {
        if (!o->classes[i][0]) return xc_errorf("import: class %d has an empty name", i);
        for (int j = 0; j < i; j++)
            if (!strcmp(o->classes[i], o->classes[j]))
                return xc_errorf("import: class '%s' is listed twice", o->classes[i]);
    }
    return 0;
}

int xc_import_model(const xc_import_opts *o, const char *out, xc_import_result *res) {
    xc_import_result local;
    xc_import_result *r = res ? res : &local;
    memset(r, 0, sizeof *r);
    if (check_opts(o) < 0) return -1;
    source src;
    if (source_open(&src, o->from) < 0) return -1;
    snprintf(r->format, sizeof r->format, "%s", src.format);

    int rc = -1;
    xc_model *m = NULL;
    xc_st_writer *w = NULL;
    void **bufs = NULL;
    char **generic = NULL;
    xc_load_report rep;
    memset(&rep, 0, sizeof rep);

    int resnet = !strncmp(o->arch, "resnet", 6);
    const char *head = resnet ? "fc" : "classifier";
    char wname[32], bname[32];
    snprintf(wname, sizeof wname, "%s.weight", head);
    snprintf(bname, sizeof bname, "%s.bias", head);
    if (!resnet && !source_find(&src, wname)) {
        xc_st_tensor *w0 = source_find(&src, "classifier.0.weight");
        xc_st_tensor *b0 = source_find(&src, "classifier.0.bias");
        if (w0 && b0 && !source_find(&src, bname)) {
            w0->name = "classifier.weight";
            b0->name = "classifier.bias";
            r->chexnet_head = 1;
        }
    }
    const xc_st_tensor *hw = source_find(&src, wname);
    if (!hw || hw->ndim != 2) {
        xc_errorf("'%s': %s tensor '%s' (the head of %s)", o->from, hw ? "malformed" : "no",
                  wname, o->arch);
        goto done;
    }
    r->source_head_classes = hw->shape[0];

    const char *const *classes = o->classes;
    int k = o->num_classes;
    r->multilabel = o->multilabel;
    if (!classes) {
        if (r->chexnet_head && hw->shape[0] == XC_CHEXNET_NUM_CLASSES) {
            classes = xc_chexnet_classes;
            k = XC_CHEXNET_NUM_CLASSES;
            r->class_source = XC_IMPORT_CLASSES_CHEXNET;
            r->multilabel = 1;
        } else {
            if (hw->shape[0] < 1 || hw->shape[0] > 100000) {
                xc_errorf("'%s': head '%s' has %" PRId64 " outputs", o->from, wname, hw->shape[0]);
                goto done;
            }
            k = (int)hw->shape[0];
            generic = calloc((size_t)k, sizeof *generic);
            if (!generic) {
                xc_errorf("import: out of memory");
                goto done;
            }
            for (int i = 0; i < k; i++) {
                char nm[32];
                snprintf(nm, sizeof nm, "class%d", i);
                if (!(generic[i] = strdup(nm))) {
                    xc_errorf("import: out of memory");
                    goto done;
                }
            }
            classes = (const char *const *)generic;
            r->class_source = XC_IMPORT_CLASSES_GENERIC;
        }
    }
    r->num_classes = k;

    xt_manual_seed(o->seed);
    m = xc_model_new(o->arch, k, XT_CPU);
    if (!m) goto done;
    if (xc_model_load_named(m, src.t, src.n, o->from, &rep) < 0) goto done;
    r->loaded = rep.loaded;
    r->head_reinit = rep.head_reinit;
    /* CheXNet's head is Linear+Sigmoid: kept as loaded, its outputs are independent sigmoids. */
    if (r->chexnet_head && !rep.head_reinit) r->multilabel = 1;
    r->nbt_defaulted = rep.nbt_defaulted;

    w = xc_st_writer_new();
    bufs = calloc((size_t)xc_model_state_count(m), sizeof *bufs);
    if (!w || !bufs) {
        if (!bufs) xc_errorf("import: out of memory");
        goto done;
    }
    if (write_metadata(w, o, classes, k, r->multilabel) < 0) goto done;
    if (write_tensors(w, m, bufs) < 0) goto done;
    if (xc_st_writer_write(w, out) < 0) goto done;
    r->unused = rep.unused;
    r->n_unused = rep.n_unused;
    rep.unused = NULL;
    rep.n_unused = 0;
    rc = 0;
done:
    if (bufs)
        for (int i = 0; i < xc_model_state_count(m); i++) free(bufs[i]);
    free(bufs);
    if (generic)
        for (int i = 0; i < k; i++) free(generic[i]);
    free(generic);
    xc_st_writer_free(w);
    xc_load_report_free(&rep);
    xc_model_free(m);
    source_close(&src);
    if (rc < 0) {
        char fmt[sizeof r->format];
        memcpy(fmt, r->format, sizeof fmt);
        memset(r, 0, sizeof *r);
        memcpy(r->format, fmt, sizeof fmt);
    }
    return rc;
}
