/* dataset.c — a prepared split, memory-mapped, and its batches on the device (xraycls/dataset.h).
 *
 * Gathering: the sampled images are copied from the map into one staging buffer (the only host
 * work of a step: n × C × S × S bytes of memcpy), which is uploaded in one transfer. When the
 * split is resident in device memory, the gather is an index_select there instead. */
#include "xraycls/dataset.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/safetensors.h"

struct xc_dataset {
    xc_st_file *file;
    const uint8_t *images; /* (n, c, s, s) into the map */
    const int64_t *labels; /* (n) */
    int64_t *labels_copy;  /* when the map's labels are unaligned */
    int multilabel;
    const uint8_t *targets, *mask; /* multi-label: (n, num_classes) into the map */
    int64_t *negatives;    /* multi-label: known negatives per finding */
    int64_t n;
    int c, s;
    int num_classes;
    char **classes;
    int64_t *class_count;
    cJSON *files; /* array of strings, or NULL */
    xt_tensor *resident; /* (n, c, s, s) uint8 on a device, or NULL */
    xt_device resident_dev;
    uint8_t *staging;
    int64_t staging_cap;
};

static int parse_classes(xc_dataset *d, const char *path) {
    const char *js = xc_st_meta(d->file, "xraycls.classes");
    if (!js) return xc_errorf("'%s': metadata lacks 'xraycls.classes' (not a prepared dataset?)", path);
    cJSON *arr = cJSON_Parse(js);
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) < 1 || cJSON_GetArraySize(arr) > XC_MAX_CLASSES) {
        cJSON_Delete(arr);
        return xc_errorf("'%s': metadata 'xraycls.classes' must be a JSON array of 1 to %d names", path,
                         XC_MAX_CLASSES);
    }
    d->num_classes = cJSON_GetArraySize(arr);
    d->classes = calloc((size_t)d->num_classes, sizeof *d->classes);
    if (!d->classes) { cJSON_Delete(arr); return xc_errorf("out of memory"); }
    for (int k = 0; k < d->num_classes; k++) {
        const cJSON *it = cJSON_GetArrayItem(arr, k);
        if (!cJSON_IsString(it) || !it->valuestring[0]) {
            cJSON_Delete(arr);
            return xc_errorf("'%s': metadata 'xraycls.classes'[%d] is not a non-empty string", path, k);
        }
        d->classes[k] = strdup(it->valuestring);
        if (!d->classes[k]) { cJSON_Delete(arr); return xc_errorf("out of memory"); }
    }
    cJSON_Delete(arr);
    return 0;
}

/* The parts of one prepared dataset belong together: dataset.json (written last by prepare, so
 * its presence marks a complete dataset) must exist, and the split's id, class names (in
 * order) and sample count must be the ones it lists. A folder whose train.safetensors was
 * replaced by another prepare's, or copied half-way, is refused instead of used silently.
 * Datasets of an earlier format carry no id: only names and counts are compared then. */
static int check_belongs(const xc_dataset *d, const char *dir, const char *split, const char *path) {
    char *dj_path = xc_path_join(dir, "dataset.json");
    if (!dj_path) return xc_errorf("out of memory");
    if (!xc_is_file(dj_path)) {
        xc_errorf("'%s' has no dataset.json, which prepare writes last: the dataset is incomplete (an interrupted "
                  "prepare or a partial copy?) — prepare it again", dir);
        free(dj_path);
        return -1;
    }
    int rc = 0;
    cJSON *dj = xc_json_read_file(dj_path, 64u << 20);
    if (!dj) rc = -1;
    else if (!cJSON_IsObject(dj)) rc = xc_errorf("'%s': not a JSON object", dj_path);
    if (rc < 0) goto done;
    const char *file_id = xc_st_meta(d->file, "xraycls.dataset_id");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(dj, "id");
    if ((id || file_id) && !(cJSON_IsString(id) && file_id && !strcmp(id->valuestring, file_id))) {
        rc = xc_errorf("'%s' is not part of the dataset '%s' describes (dataset id %s there, %s in the file): the "
                       "folder mixes files of different prepare runs — prepare it again", path, dj_path,
                       cJSON_IsString(id) ? id->valuestring : "none", file_id ? file_id : "none");
        goto done;
    }
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(dj, "classes");
    int same = cJSON_IsArray(cl) && cJSON_GetArraySize(cl) == d->num_classes;
    for (int k = 0; same && k < d->num_classes; k++) {
        const cJSON *c = cJSON_GetArrayItem(cl, k);
        same = cJSON_IsString(c) && !strcmp(c->valuestring, d->classes[k]);
    }
    if (!same) {
        rc = xc_errorf("'%s': its classes (or their order) differ from those of '%s': the folder mixes files of "
                       "different prepare runs — prepare it again", path, dj_path);
        goto done;
    }
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(dj, "splits"), split);
    const cJSON *cnt = cJSON_GetObjectItemCaseSensitive(sp, "count");
    if (sp && cJSON_IsNumber(cnt) && cnt->valuedouble != (double)d->n)
        rc = xc_errorf("'%s' holds %lld images, '%s' says %.0f: the folder mixes files of different prepare runs — "
                       "prepare it again", path, (long long)d->n, dj_path, cnt->valuedouble);
done:
    cJSON_Delete(dj);
    free(dj_path);
    return rc;
}

xc_dataset *xc_dataset_open(const char *dir, const char *split) {
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s.safetensors", dir, split) >= sizeof path) {
        xc_errorf("dataset path too long: '%s'", dir);
        return NULL;
    }
    xc_dataset *d = calloc(1, sizeof *d);
    if (!d) { xc_errorf("out of memory"); return NULL; }
    d->resident_dev = XT_CPU;
    d->file = xc_st_open(path);
    if (!d->file) goto fail;
    const xc_st_tensor *im = xc_st_require(d->file, "images", XC_U8, 4);
    if (!im) goto fail;
    const char *ml = xc_st_meta(d->file, "xraycls.multilabel");
    d->multilabel = ml && !strcmp(ml, "1");
    const xc_st_tensor *lb = d->multilabel ? xc_st_require(d->file, "labels", XC_U8, 2)
                                           : xc_st_require(d->file, "labels", XC_I64, 1);
    if (!lb) goto fail;
    if (parse_classes(d, path) < 0) goto fail;
    if (d->multilabel) {
        const xc_st_tensor *mk = xc_st_require(d->file, "mask", XC_U8, 2);
        if (!mk) goto fail;
        if (lb->shape[1] != d->num_classes || mk->shape[0] != lb->shape[0] || mk->shape[1] != lb->shape[1]) {
            xc_errorf("'%s': labels (%lld, %lld) and mask (%lld, %lld) must both be (N, %d), one column per finding",
                      path, (long long)lb->shape[0], (long long)lb->shape[1], (long long)mk->shape[0],
                      (long long)mk->shape[1], d->num_classes);
            goto fail;
        }
        d->targets = lb->data;
        d->mask = mk->data;
    }
    d->n = im->shape[0];
    d->c = (int)im->shape[1];
    d->s = (int)im->shape[2];
    if ((d->c != 1 && d->c != 3) || im->shape[2] != im->shape[3] || im->shape[2] < 1 || im->shape[2] > 65536) {
        xc_errorf("'%s': images must be (N, 1 or 3, S, S), got (%lld, %lld, %lld, %lld)", path,
                  (long long)im->shape[0], (long long)im->shape[1], (long long)im->shape[2],
                  (long long)im->shape[3]);
        goto fail;
    }
    if (lb->shape[0] != d->n) {
        xc_errorf("'%s': %lld labels for %lld images", path, (long long)lb->shape[0], (long long)d->n);
        goto fail;
    }
    d->images = im->data;
    if (d->multilabel) {
        d->class_count = calloc((size_t)d->num_classes, sizeof *d->class_count);
        d->negatives = calloc((size_t)d->num_classes, sizeof *d->negatives);
        if (!d->class_count || !d->negatives) { xc_errorf("out of memory"); goto fail; }
        for (int64_t i = 0; i < d->n; i++)
            for (int k = 0; k < d->num_classes; k++) {
                size_t q = (size_t)i * (size_t)d->num_classes + (size_t)k;
                if (d->targets[q] > 1 || d->mask[q] > 1) {
                    xc_errorf("'%s': sample %lld, finding %d: labels and mask must be 0 or 1", path, (long long)i, k);
                    goto fail;
                }
                if (!d->mask[q]) continue;
                if (d->targets[q]) d->class_count[k]++;
                else d->negatives[k]++;
            }
        goto files;
    }
    if (((uintptr_t)lb->data % sizeof(int64_t)) != 0) {
        d->labels_copy = malloc(lb->nbytes ? lb->nbytes : 1);
        if (!d->labels_copy) { xc_errorf("out of memory"); goto fail; }
        memcpy(d->labels_copy, lb->data, lb->nbytes);
        d->labels = d->labels_copy;
    } else {
        d->labels = lb->data;
    }
    d->class_count = calloc((size_t)d->num_classes, sizeof *d->class_count);
    if (!d->class_count) { xc_errorf("out of memory"); goto fail; }
    for (int64_t i = 0; i < d->n; i++) {
        int64_t y = d->labels[i];
        if (y < 0 || y >= d->num_classes) {
            xc_errorf("'%s': label %lld of sample %lld is outside [0, %d)", path, (long long)y,
                      (long long)i, d->num_classes);
            goto fail;
        }
        d->class_count[y]++;
    }
files:;
    if (check_belongs(d, dir, split, path) < 0) goto fail;
    const char *files = xc_st_meta(d->file, "xraycls.files");
    if (files) {
        d->files = cJSON_Parse(files);
        if (!cJSON_IsArray(d->files) || cJSON_GetArraySize(d->files) != d->n) {
            cJSON_Delete(d->files);
            d->files = NULL; /* informational only: a mismatch just hides the names */
        }
    }
    return d;
fail:
    xc_dataset_close(d);
    return NULL;
}

void xc_dataset_close(xc_dataset *d) {
    if (!d) return;
    for (int k = 0; k < d->num_classes && d->classes; k++) free(d->classes[k]);
    free(d->classes);
    free(d->class_count);
    free(d->labels_copy);
    free(d->negatives);
    free(d->staging);
    cJSON_Delete(d->files);
    xt_free(d->resident);
    xc_st_close(d->file);
    free(d);
}

int64_t xc_dataset_len(const xc_dataset *d) { return d->n; }
int xc_dataset_channels(const xc_dataset *d) { return d->c; }
int xc_dataset_size(const xc_dataset *d) { return d->s; }
int xc_dataset_num_classes(const xc_dataset *d) { return d->num_classes; }
const char *xc_dataset_class(const xc_dataset *d, int k) {
    return (k >= 0 && k < d->num_classes) ? d->classes[k] : NULL;
}
const int64_t *xc_dataset_labels(const xc_dataset *d) { return d->labels; }
int xc_dataset_multilabel(const xc_dataset *d) { return d->multilabel; }
const uint8_t *xc_dataset_targets(const xc_dataset *d) { return d->targets; }
const uint8_t *xc_dataset_mask(const xc_dataset *d) { return d->mask; }
int64_t xc_dataset_negative_count(const xc_dataset *d, int k) {
    return (d->multilabel && k >= 0 && k < d->num_classes) ? d->negatives[k] : 0;
}

int64_t *xc_dataset_rarest_groups(const xc_dataset *d) {
    if (!d->multilabel) return xc_errorf("'%s' is not a multi-label dataset", xc_st_path(d->file)), NULL;
    int64_t *g = malloc((size_t)(d->n ? d->n : 1) * sizeof *g);
    if (!g) return xc_errorf("out of memory"), NULL;
    int k = d->num_classes;
    for (int64_t i = 0; i < d->n; i++) {
        int64_t best = k, fewest = INT64_MAX;
        for (int j = 0; j < k; j++) {
            size_t q = (size_t)i * (size_t)k + (size_t)j;
            if (d->mask[q] && d->targets[q] && d->class_count[j] < fewest) {
                fewest = d->class_count[j];
                best = j;
            }
        }
        g[i] = best;
    }
    return g;
}

/* (n, K) float32 on dev from the rows idx of an (N, K) uint8 matrix. */
static xt_tensor *gather_rows_f32(const xc_dataset *d, const uint8_t *m, const int64_t *idx, int64_t n, xt_device dev) {
    int k = d->num_classes;
    float *f = malloc((size_t)n * (size_t)k * sizeof *f);
    if (!f) return xc_errorf("out of memory"), NULL;
    for (int64_t j = 0; j < n; j++)
        for (int c = 0; c < k; c++) f[(size_t)j * (size_t)k + (size_t)c] = m[(size_t)idx[j] * (size_t)k + (size_t)c];
    xt_tensor *t = xt_from_host(f, 2, (int64_t[]){n, k}, XT_F32);
    free(f);
    if (t && dev != XT_CPU) t = xt_to_device(t, dev, 0);
    return t;
}

xt_tensor *xc_dataset_batch_mask(const xc_dataset *d, const int64_t *idx, int64_t n, xt_device dev) {
    if (!d->multilabel) return xc_errorf("'%s' has no mask: not a multi-label dataset", xc_st_path(d->file)), NULL;
    for (int64_t j = 0; j < n; j++)
        if (idx[j] < 0 || idx[j] >= d->n)
            return xc_errorf("sample index %lld outside '%s' (%lld samples)", (long long)idx[j], xc_st_path(d->file),
                             (long long)d->n), NULL;
    return gather_rows_f32(d, d->mask, idx, n, dev);
}
int64_t xc_dataset_class_count(const xc_dataset *d, int k) {
    return (k >= 0 && k < d->num_classes) ? d->class_count[k] : 0;
}
const char *xc_dataset_file(const xc_dataset *d, int64_t i) {
    if (!d->files || i < 0 || i >= d->n) return "";
    const cJSON *it = cJSON_GetArrayItem(d->files, (int)i);
    return cJSON_IsString(it) ? it->valuestring : "";
}
const uint8_t *xc_dataset_image(const xc_dataset *d, int64_t i) {
    if (i < 0 || i >= d->n) return NULL;
    return d->images + (size_t)i * d->c * d->s * d->s;
}

const char *xc_dataset_path(const xc_dataset *d) { return xc_st_path(d->file); }

int xc_dataset_make_resident(xc_dataset *d, xt_device dev) {
    if (dev == XT_CPU || (d->resident && d->resident_dev == dev)) return 0;
    int64_t shape[4] = {d->n, d->c, d->s, d->s};
    xt_arena *prev = xt_arena_push(NULL); /* the resident copy is owned by the dataset */
    xt_tensor *host = xt_from_blob((void *)d->images, 4, shape, XT_U8);
    xt_tensor *dev_t = host ? xt_to_device(host, dev, 0) : NULL;
    xt_free(host);
    xt_arena_push(prev);
    if (!dev_t) return xc_errorf("cannot keep '%s' in device memory: %s", xc_st_path(d->file), xc_error());
    xt_free(d->resident);
    d->resident = dev_t;
    d->resident_dev = dev;
    return 0;
}

/* ---- batches --------------------------------------------------------------------------- */

xc_augment xc_augment_default(void) { return (xc_augment){0.5, 0.5, 0.3, 15.0, 0, 0}; }

xc_normalize xc_normalize_imagenet(void) {
    return (xc_normalize){3, {0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
}

/* Per-sample Bernoulli(p) mask shaped (n, 1, 1, 1) as bool, from the device's generator. */
/* n uniform draws of the augmentation's generator, shaped (n, rest…): drawn for the whole
 * global batch when aug says so (xc_augment.draw_total) and cut to this batch's slice. */
static xt_tensor *draws(const xc_augment *aug, int64_t n, int ndim, const int64_t *rest, xt_device dev) {
    int64_t total = aug->draw_total > 0 ? aug->draw_total : n;
    int64_t shape[4] = {total, 1, 1, 1};
    for (int d = 1; d < ndim; d++) shape[d] = rest[d - 1];
    xt_tensor *u = xt_rand(ndim, shape, XT_F32, dev);
    if (u && total != n) u = xt_narrow(u, 0, aug->draw_offset, n);
    return u;
}

static xt_tensor *coin(const xc_augment *aug, int64_t n, double p, xt_device dev) {
    static const int64_t ones[3] = {1, 1, 1};
    xt_tensor *u = draws(aug, n, 4, ones, dev);
    return u ? xt_lt_scalar(u, p) : NULL;
}

xt_tensor *xc_augment_apply(const xt_tensor *x, const xc_augment *aug) {
    // x: (n, C, H, W) float32 on [0,1]
    int64_t n = xt_size(x, 0);
    xt_device dev = xt_device_of(x);
    const xt_tensor *cur = x;
    if (aug->hflip > 0) {
        int64_t dims[1] = {3};
        xt_tensor *m = coin(aug, n, aug->hflip, dev), *f = xt_flip(cur, 1, dims);
        if (!m || !f || !(cur = xt_where(m, f, cur))) return NULL;
    }
    if (aug->vflip > 0) {
        int64_t dims[1] = {2};
        xt_tensor *m = coin(aug, n, aug->vflip, dev), *f = xt_flip(cur, 1, dims);
        if (!m || !f || !(cur = xt_where(m, f, cur))) return NULL;
    }
    if (aug->rotate > 0 && aug->rotate_deg > 0) {
        /* One rotation matrix per sample; samples not chosen get angle 0 (identity). The angle
         * is uniform in [-deg, deg], as torchvision's RandomRotation; corners fill with 0. */
        xt_tensor *u = draws(aug, n, 1, NULL, dev);
        xt_tensor *m = draws(aug, n, 1, NULL, dev);
        if (!u || !m) return NULL;
        xt_tensor *on = xt_to_dtype(xt_lt_scalar(m, aug->rotate), XT_F32);
        double rad = aug->rotate_deg * 3.14159265358979323846 / 180.0;
        xt_tensor *ang = on ? xt_mul(xt_mul_scalar(xt_add_scalar(xt_mul_scalar(u, 2.0), -1.0), rad), on) : NULL;
        if (!ang) return NULL;
        xt_tensor *c = xt_unsqueeze(xt_cos(ang), 1), *s = xt_unsqueeze(xt_sin(ang), 1);
        xt_tensor *z = xt_zeros(2, (int64_t[]){n, 1}, XT_F32, dev);
        if (!c || !s || !z) return NULL;
        /* theta maps output coordinates to input coordinates: [[cos, -sin, 0], [sin, cos, 0]] */
        xt_tensor *row0[3] = {c, xt_neg(s), z}, *row1[3] = {s, c, z};
        if (!row0[1]) return NULL;
        xt_tensor *r0 = xt_cat(row0, 3, 1), *r1 = xt_cat(row1, 3, 1);
        xt_tensor *rows[2] = {r0, r1};
        xt_tensor *theta = (r0 && r1) ? xt_stack(rows, 2, 1) : NULL; // (n, 2, 3)
        if (!theta) return NULL;
        xt_tensor *grid = xt_affine_grid(theta, n, xt_size(cur, 1), xt_size(cur, 2), xt_size(cur, 3), 0);
        if (!grid) return NULL;
        cur = xt_grid_sample(cur, grid, XT_INTERP_BILINEAR, XT_PAD_ZEROS, 0);
        if (!cur) return NULL;
    }
    return cur == x ? xt_clone(x) : (xt_tensor *)cur;
}

xt_tensor *xc_normalize_apply(const xt_tensor *x, const xc_normalize *norm) {
    // x: (n, C, S, S) uint8 or float on [0,1] → (n, norm->channels, S, S) float32
    const xt_tensor *f = x;
    if (xt_dtype_of(x) == XT_U8) {
        xt_tensor *t = xt_to_dtype(x, XT_F32);
        if (!t || !(f = xt_mul_scalar(t, 1.0 / 255.0))) return NULL;
    } else if (xt_dtype_of(x) != XT_F32) {
        xt_tensor *t = xt_to_dtype(x, XT_F32);
        if (!(f = t)) return NULL;
    }
    int64_t n = xt_size(f, 0), c = xt_size(f, 1), h = xt_size(f, 2), w = xt_size(f, 3);
    if (norm->channels != 1 && norm->channels != 3)
        return xc_errorf("normalisation needs 1 or 3 channels, not %d", norm->channels), NULL;
    if (c != norm->channels) {
        if (c != 1) {
            xc_errorf("cannot feed %lld-channel images to a %d-channel model", (long long)c, norm->channels);
            return NULL;
        }
        f = xt_expand(f, 4, (int64_t[]){n, norm->channels, h, w});
        if (!f) return NULL;
    }
    int64_t cs[4] = {1, norm->channels, 1, 1};
    float inv[3];
    for (int k = 0; k < norm->channels; k++) inv[k] = 1.0f / norm->std[k];
    xt_tensor *mean = xt_from_host(norm->mean, 4, cs, XT_F32);
    xt_tensor *istd = xt_from_host(inv, 4, cs, XT_F32);
    if (!mean || !istd) return NULL;
    xt_device dev = xt_device_of(f);
    if (dev != XT_CPU) {
        mean = xt_to_device(mean, dev, 0);
        istd = xt_to_device(istd, dev, 0);
        if (!mean || !istd) return NULL;
    }
    xt_tensor *centered = xt_sub(f, mean);
    return centered ? xt_mul(centered, istd) : NULL;
}

xt_tensor *xc_dataset_batch(xc_dataset *d, const int64_t *idx, int64_t n, xt_device dev,
                            const xc_augment *aug, const xc_normalize *norm, xt_tensor **labels) {
    // images: (n, C, S, S) uint8 gathered → float32 on dev
    if (n <= 0) return xc_errorf("empty batch from '%s'", xc_st_path(d->file)), NULL;
    for (int64_t j = 0; j < n; j++)
        if (idx[j] < 0 || idx[j] >= d->n)
            return xc_errorf("sample index %lld outside '%s' (%lld samples)", (long long)idx[j],
                             xc_st_path(d->file), (long long)d->n), NULL;
    const size_t per = (size_t)d->c * (size_t)d->s * (size_t)d->s;
    int64_t shape[4] = {n, d->c, d->s, d->s};
    xt_tensor *u8;
    if (d->resident && d->resident_dev == dev) {
        xt_tensor *ix = xt_from_host(idx, 1, (int64_t[]){n}, XT_I64);
        xt_tensor *ixd = ix ? xt_to_device(ix, dev, 0) : NULL;
        u8 = ixd ? xt_index_select(d->resident, 0, ixd) : NULL;
    } else {
        if (n > d->staging_cap) {
            uint8_t *p = realloc(d->staging, (size_t)n * per);
            if (!p) return xc_errorf("out of memory for a batch of %lld images", (long long)n), NULL;
            d->staging = p;
            d->staging_cap = n;
        }
        for (int64_t j = 0; j < n; j++) memcpy(d->staging + (size_t)j * per, d->images + (size_t)idx[j] * per, per);
        /* from_host copies, so the staging buffer is free again once this returns */
        xt_tensor *host = xt_from_host(d->staging, 4, shape, XT_U8);
        u8 = host && dev != XT_CPU ? xt_upload_pinned(host, dev) : host;
    }
    if (!u8) return NULL;
    xt_tensor *x = xt_to_dtype(u8, XT_F32);
    if (!x || !(x = xt_mul_scalar(x, 1.0 / 255.0))) return NULL;
    if (aug && (aug->hflip > 0 || aug->vflip > 0 || aug->rotate > 0)) {
        if (!(x = xc_augment_apply(x, aug))) return NULL;
    }
    xt_tensor *out = xc_normalize_apply(x, norm);
    if (!out) return NULL;
    if (labels && d->multilabel) {
        // targets: (n, K) float32 0/1
        if (!(*labels = gather_rows_f32(d, d->targets, idx, n, dev))) return NULL;
    } else if (labels) {
        int64_t *lb = malloc((size_t)n * sizeof *lb);
        if (!lb) return xc_errorf("out of memory"), NULL;
        for (int64_t j = 0; j < n; j++) lb[j] = d->labels[idx[j]];
        xt_tensor *l = xt_from_host(lb, 1, (int64_t[]){n}, XT_I64);
        free(lb);
        if (l && dev != XT_CPU) l = xt_to_device(l, dev, 0);
        if (!l) return NULL;
        *labels = l;
    }
    return out;
}
