/* prepare.c — the prepare pipeline (prepare.h): options, the image list common to every source
 * (extra folders, files listed twice, missing files, classes left without image), decoding on
 * the core thread pool into one uint8 array, identical files, and the whole run; the prepared
 * folder is written by prepare_write.c. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/pool.h"

/* How many names an error message lists before "…". */
#define NAMES_IN_ERRORS 3

static const char *const split_names[XC_NSPLITS] = {"train", "val", "test"};

const char *xc_split_name(xc_split s) { return (s >= 0 && s < XC_NSPLITS) ? split_names[s] : "?"; }

int xc_split_parse(const char *s, xc_split *out) {
    if (!strcasecmp(s, "train")) *out = XC_SPLIT_TRAIN;
    else if (!strcasecmp(s, "val") || !strcasecmp(s, "validation")) *out = XC_SPLIT_VAL;
    else if (!strcasecmp(s, "test")) *out = XC_SPLIT_TEST;
    else return xc_errorf("unknown split '%s' (train, val, test)", s);
    return 0;
}

static const char *const source_names[] = {"coronahack", "folder", "csv"};


int xc_source_parse(const char *s, xc_source_kind *out) {
    for (int i = 0; i <= XC_SOURCE_CSV; i++)
        if (!strcmp(s, source_names[i])) {
            *out = (xc_source_kind)i;
            return 0;
        }
    return xc_errorf("unknown source '%s' (coronahack, folder, csv)", s);
}

int xc_policy_parse(const char *s, xc_policy *out) {
    if (!strcmp(s, "error")) *out = XC_POLICY_ERROR;
    else if (!strcmp(s, "skip")) *out = XC_POLICY_SKIP;
    else return xc_errorf("unknown policy '%s' (error, skip)", s);
    return 0;
}

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t lane(uint64_t h, uint64_t w) { return rotl64(h ^ w, 31) * 0x9E3779B97F4A7C15ULL; }

uint64_t xc_hash64(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h[4] = {0x243F6A8885A308D3ULL, 0x13198A2E03707344ULL, 0xA4093822299F31D0ULL,
                     0x082EFA98EC4E6C89ULL};
    size_t i = 0;
    for (; i + 32 <= len; i += 32)
        for (int l = 0; l < 4; l++) {
            uint64_t w;
            memcpy(&w, p + i + 8 * l, 8);
            h[l] = lane(h[l], w);
        }
    uint64_t tail = 0;
    int l = 0;
    for (; i + 8 <= len; i += 8, l++) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h[l] = lane(h[l], w);
    }
    for (int s = 0; i < len; i++, s += 8) tail |= (uint64_t)p[i] << s;
    uint64_t x = lane(lane(lane(lane(h[0], h[1]), h[2]), h[3]), tail) ^ (uint64_t)len;
    /* splitmix64's finaliser */
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* ---- options ------------------------------------------------------------------------------ */

void xc_prepare_opts_init(xc_prepare_opts *o) {
    memset(o, 0, sizeof *o);
    o->source = XC_SOURCE_CORONAHACK;
    o->add_split = XC_SPLIT_TRAIN;
    o->val_fraction = 0.1;
    o->size = 224;
    o->channels = 1;
    o->near_distance = XC_NEAR_DISTANCE_DEFAULT;
}

void xc_prepare_opts_clear(xc_prepare_opts *o) {
    if (!o) return;
    free(o->root);
    free(o->csv);
    free(o->train_dir);
    free(o->test_dir);
    free(o->task_name);
    xc_task_free(o->task);
    prep_free_strv(o->classes, o->nclasses);
    for (int i = 0; i < o->nextras; i++) {
        free(o->extras[i].cls);
        free(o->extras[i].dir);
    }
    free(o->extras);
    free(o->out);
    free(o->patient_column);
    free(o->patient_regex);
    prep_free_strv(o->findings, o->nfindings);
    free(o->findings_column);
    free(o->path_column);
    free(o->no_finding);
    xc_prepare_opts_init(o);
}

int xc_prepare_set_str(char **field, const char *value) {
    char *v = NULL;
    if (value && !(v = strdup(value))) return xc_errorf("out of memory");
    free(*field);
    *field = v;
    return 0;
}

int xc_prepare_add_extra(xc_prepare_opts *o, const char *spec) {
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) return xc_errorf("extra folder '%s': expected CLASS=DIR", spec);
    xc_prep_extra *e = realloc(o->extras, (size_t)(o->nextras + 1) * sizeof *e);
    if (!e) return xc_errorf("out of memory");
    o->extras = e;
    e[o->nextras].cls = prep_strdupf("%.*s", (int)(eq - spec), spec);
    e[o->nextras].dir = strdup(eq + 1);
    if (!e[o->nextras].cls || !e[o->nextras].dir) {
        free(e[o->nextras].cls);
        free(e[o->nextras].dir);
        return xc_errorf("out of memory");
    }
    o->nextras++;
    return 0;
}

int xc_prepare_set_classes(xc_prepare_opts *o, const char *list) {
    char **v = NULL;
    int n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) { p++; len--; }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
        if (!len) {
            prep_free_strv(v, n);
            return xc_errorf("classes '%s': an empty class name", list);
        }
        char **q = realloc(v, (size_t)(n + 1) * sizeof *q);
        if (!q || !(q[n] = prep_strdupf("%.*s", (int)len, p))) {
            prep_free_strv(q ? q : v, n);
            return xc_errorf("out of memory");
        }
        v = q;
        for (int i = 0; i < n; i++)
            if (!strcmp(v[i], v[n])) {
                int rc = xc_errorf("classes '%s': '%s' named twice", list, v[n]);
                prep_free_strv(v, n + 1);
                return rc;
            }
        n++;
        if (!end) break;
        p = end + 1;
    }
    prep_free_strv(o->classes, o->nclasses);
    o->classes = v;
    o->nclasses = n;
    return 0;
}

/* ---- the list ----------------------------------------------------------------------------- */

void xc_prep_list_free(xc_prep_list *l) {
    if (!l) return;
    for (int64_t i = 0; i < l->n; i++) {
        free(l->items[i].path);
        free(l->items[i].file);
        free(l->items[i].patient);
        free(l->items[i].findings);
    }
    free(l->items);
    xc_prep_audit_clear(&l->audit);
    free(l->source_json);
    free(l);
}

static int add_extras(const xc_prepare_opts *o, xc_prep_list *l) {
    if (o->nextras == 0) return 0;
    cJSON *src = cJSON_Parse(l->source_json);
    cJSON *arr = src ? cJSON_AddArrayToObject(src, "extra_folders") : NULL;
    if (!arr) {
        cJSON_Delete(src);
        return xc_errorf("out of memory");
    }
    int rc = -1;
    for (int e = 0; e < o->nextras; e++) {
        const xc_prep_extra *x = &o->extras[e];
        int k = -1;
        for (int j = 0; j < l->audit.nclasses; j++)
            if (!strcmp(l->audit.classes[j], x->cls)) k = j;
        if (k < 0) {
            char names[512] = "";
            for (int j = 0; j < l->audit.nclasses; j++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", j ? ", " : "", l->audit.classes[j]);
            xc_errorf("extra folder '%s': class '%s' is not a class of the dataset (%s)", x->dir, x->cls, names);
            goto done;
        }
        if (!xc_is_dir(x->dir)) {
            xc_errorf("extra folder '%s' (class %s): not a folder", x->dir, x->cls);
            goto done;
        }
        char **files;
        int nfiles, added = 0, failed = 0;
        if (prep_list_dir(x->dir, 0, &files, &nfiles) < 0) goto done;
        for (int i = 0; i < nfiles && !failed; i++) {
            char *p = xc_path_join(x->dir, files[i]);
            if (p && !xc_image_is_candidate(p)) {
                free(p);
                failed = prep_audit_exclude(&l->audit, "not an image (neither JPEG, PNG nor DICOM by content)") < 0;
                continue;
            }
            failed = !p || prep_list_add(l, p, p, k, o->add_split, 0) < 0;
            free(p);
            added += !failed;
        }
        prep_free_strv(files, nfiles);
        if (failed) goto done;
        if (added == 0 && prep_audit_warn(&l->audit, "extra folder '%s' holds no image", x->dir) < 0) goto done;
        cJSON *ej = cJSON_CreateObject();
        if (!ej) goto done;
        cJSON_AddStringToObject(ej, "class", x->cls);
        cJSON_AddStringToObject(ej, "dir", x->dir);
        cJSON_AddStringToObject(ej, "split", xc_split_name(o->add_split));
        cJSON_AddNumberToObject(ej, "images", added);
        cJSON_AddItemToArray(arr, ej);
    }
    char *s = cJSON_PrintUnformatted(src);
    if (!s) {
        xc_errorf("out of memory");
        goto done;
    }
    free(l->source_json);
    l->source_json = s;
    rc = 0;
done:
    cJSON_Delete(src);
    return rc;
}

static const xc_prep_list *sort_list; /* qsort has no context argument */

static int cmp_path(const void *a, const void *b) {
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    int c = strcmp(sort_list->items[i].path, sort_list->items[j].path);
    return c ? c : (i < j ? -1 : i > j);
}

/* Keeps the first of items with the same path; the others are excluded and the group is
 * reported. keep[i] is cleared for the dropped ones. */
static int find_listed_twice(xc_prep_list *l, unsigned char *keep) {
    int64_t *idx = malloc((size_t)(l->n ? l->n : 1) * sizeof *idx);
    if (!idx) return xc_errorf("out of memory");
    for (int64_t i = 0; i < l->n; i++) idx[i] = i;
    static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&sort_lock);
    sort_list = l;
    qsort(idx, (size_t)l->n, sizeof *idx, cmp_path);
    pthread_mutex_unlock(&sort_lock);
    int rc = 0;
    for (int64_t a = 0; a < l->n && rc == 0;) {
        int64_t b = a + 1;
        while (b < l->n && !strcmp(l->items[idx[a]].path, l->items[idx[b]].path)) b++;
        if (b - a > 1) {
            int64_t n = b - a;
            char **names = calloc((size_t)n, sizeof *names);
            if (!names) { rc = xc_errorf("out of memory"); break; }
            for (int64_t j = 0; j < n && rc == 0; j++) {
                const xc_prep_item *it = &l->items[idx[a + j]];
                names[j] = it->line ? prep_strdupf("%s (line %d)", it->file, it->line) : strdup(it->file);
                if (!names[j]) rc = xc_errorf("out of memory");
                if (j > 0) {
                    keep[idx[a + j]] = 0;
                    if (rc == 0) rc = prep_audit_exclude(&l->audit, "same file listed twice");
                }
            }
            if (rc == 0) rc = prep_audit_dup(&l->audit, "listed twice", (const char *const *)names, (int)n);
            prep_free_strv(names, (int)n);
        }
        a = b;
    }
    free(idx);
    return rc;
}

/* Drops the items whose keep[i] is 0, keeping the order. */
static void compact(xc_prep_list *l, const unsigned char *keep) {
    int64_t j = 0;
    for (int64_t i = 0; i < l->n; i++) {
        if (keep[i]) {
            l->items[j++] = l->items[i];
        } else {
            free(l->items[i].path);
            free(l->items[i].file);
            free(l->items[i].patient);
            free(l->items[i].findings);
        }
    }
    l->n = j;
}

/* "'a', 'b', 'c' and 4 more" from the first names. */
static void name_list(char *buf, size_t cap, char *const *names, int64_t n) {
    size_t o = 0;
    buf[0] = '\0';
    for (int64_t i = 0; i < n && i < NAMES_IN_ERRORS && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s'%s'", i ? ", " : "", names[i]);
        if (w < 0) return;
        o += (size_t)w;
    }
    if (n > NAMES_IN_ERRORS && o < cap) snprintf(buf + o, cap - o, " and %lld more", (long long)(n - NAMES_IN_ERRORS));
}

/* A class is an output of the model, so one with no image left (all its rows dropped as
 * duplicates, missing, unreadable, or of an unknown split) would be a phantom output trained on
 * nothing. Classes that come from the data (folder and csv sources without --classes) must
 * each keep an image; classes the user listed may stay empty. `when` says at which stage. */
static int check_empty_classes(const xc_prepare_opts *o, const xc_prep_list *l, const char *when) {
    if (l->audit.multilabel || o->nclasses > 0 || (o->source != XC_SOURCE_CSV && o->source != XC_SOURCE_FOLDER))
        return 0;
    for (int k = 0; k < l->audit.nclasses; k++) {
        int64_t n = 0;
        for (int64_t i = 0; i < l->n && !n; i++) n += l->items[i].label == k;
        if (!n)
            return xc_errorf("class '%s' has no image %s: every row or file naming it was left out (see the audit); "
                             "list the classes with --classes to keep an empty one",
                             l->audit.classes[k], when);
    }
    return 0;
}

xc_prep_list *xc_prepare_list(const xc_prepare_opts *o) {
    xc_prep_list *l = calloc(1, sizeof *l);
    unsigned char *keep = NULL;
    if (!l) {
        xc_errorf("out of memory");
        return NULL;
    }
    xc_error_clear();
    int rc;
    if (xc_prepare_is_multilabel(o) && (o->source != XC_SOURCE_CSV || o->nextras > 0)) {
        xc_errorf("findings (a multi-label dataset) come from the csv source only%s",
                  o->nextras > 0 ? ", without extra folders" : "");
        goto fail;
    }
    switch (o->source) {
    case XC_SOURCE_CORONAHACK: rc = prep_source_coronahack(o, l); break;
    case XC_SOURCE_FOLDER: rc = prep_source_folder(o, l); break;
    case XC_SOURCE_CSV: rc = xc_prepare_is_multilabel(o) ? prep_source_csv_findings(o, l) : prep_source_csv(o, l); break;
    default: rc = xc_errorf("unknown source %d", (int)o->source);
    }
    if (rc < 0 || add_extras(o, l) < 0) goto fail;
    keep = malloc((size_t)(l->n ? l->n : 1));
    if (!keep) {
        xc_errorf("out of memory");
        goto fail;
    }
    memset(keep, 1, (size_t)(l->n ? l->n : 1));
    if (find_listed_twice(l, keep) < 0) goto fail;
    for (int64_t i = 0; i < l->n; i++) {
        if (!keep[i] || xc_is_file(l->items[i].path)) continue;
        keep[i] = 0;
        if (prep_audit_missing(&l->audit, l->items[i].file) < 0) goto fail;
    }
    if (l->audit.nmissing > 0 && o->on_missing != XC_POLICY_SKIP) {
        char names[1024];
        name_list(names, sizeof names, l->audit.missing, l->audit.nmissing);
        xc_errorf("%lld image%s missing: %s (--on-missing skip leaves them out)", (long long)l->audit.nmissing,
                  l->audit.nmissing == 1 ? " is" : "s are", names);
        goto fail;
    }
    compact(l, keep);
    free(keep);
    keep = NULL;
    if (check_empty_classes(o, l, "once duplicates and missing files are left out") < 0) goto fail;
    return l;
fail:
    free(keep);
    xc_prep_list_free(l);
    return NULL;
}

/* ---- decoding ----------------------------------------------------------------------------- */

struct pool {
    const xc_prep_item *items;
    int64_t n;
    int size, channels;
    uint8_t *images;   /* images: (n, C, S, S) uint8 */
    char **err;        /* [n]: NULL, or why item i could not be read */
    uint64_t *hash;    /* [n]: xc_hash64 of the file */
    uint64_t *bytes;   /* [n]: file length */
    float (*coef)[XC_NEAR_VARIANTS][64]; /* [n]: DCT coefficients of the image and of two crops */
    xc_image_info *info; /* [n]: what the decoder did */
};

/* Decodes item i into its slot: HWC from the decoder, stored CHW. */
static int decode_one(struct pool *p, int64_t i) {
    const char *path = p->items[i].path;
    size_t len = 0;
    char *buf = xc_read_file(path, &len, XC_IMAGE_MAX_FILE_BYTES);
    if (!buf) return -1;
    p->hash[i] = xc_hash64(buf, len);
    p->bytes[i] = len;
    xc_image img = {0}, small = {0};
    int rc = xc_image_decode_mem_info(buf, len, path, p->channels, p->size, NULL, &img, &p->info[i]);
    free(buf);
    if (rc < 0) return -1;
    /* The perceptual hash's coefficients, from the pixels already decoded (no second read). */
    for (int v = 0; v < XC_NEAR_VARIANTS && rc == 0; v++) rc = xc_image_dct8(&img, prep_near_crops[v], p->coef[i][v]);
    if (rc == 0) rc = xc_image_resize(&img, p->size, p->size, &small);
    xc_image_free(&img);
    if (rc < 0) return -1;
    size_t plane = (size_t)p->size * (size_t)p->size;
    uint8_t *dst = p->images + (size_t)i * plane * (size_t)p->channels;
    if (p->channels == 1) {
        memcpy(dst, small.pixels, plane);
    } else {
        for (size_t q = 0; q < plane; q++)
            for (int c = 0; c < p->channels; c++) dst[(size_t)c * plane + q] = small.pixels[q * (size_t)p->channels + (size_t)c];
    }
    xc_image_free(&small);
    return 0;
}

/* The message of an item whose own message could not be allocated. */
static char oom_message[] = "out of memory";

/* One item of the decoding job (xraycls/pool.h): a failure is recorded in p->err[i] and the
 * item's slots are zeroed. */
static void decode_item(void *ctx, int64_t i, int worker) {
    (void)worker;
    struct pool *p = ctx;
    if (decode_one(p, i) == 0) return;
    p->err[i] = strdup(*xc_error() ? xc_error() : "cannot decode");
    if (!p->err[i]) p->err[i] = oom_message;
    size_t bytes = (size_t)p->size * (size_t)p->size * (size_t)p->channels;
    memset(p->images + (size_t)i * bytes, 0, bytes);
    p->hash[i] = 0;
    p->bytes[i] = 0;
}

/* Decodes every item on `threads` threads (<= 0: the usable CPUs), reporting progress every
 * 100 ms; returns 0 once all were tried (failures in p->err). */
static int decode_all(struct pool *p, int threads, xc_prepare_progress_fn progress, void *ctx) {
    if (threads <= 0) threads = xc_cpu_count();
    if (threads > p->n) threads = (int)(p->n > 0 ? p->n : 1);
    xc_pool *pool = xc_pool_new(threads);
    if (!pool) return xc_errorf("cannot start the decoding threads: %s", xc_error());
    xc_pool_start(pool, p->n, decode_item, p);
    for (int64_t done = 0; done < p->n;) {
        if (progress) progress(ctx, done, p->n);
        done = xc_pool_wait_for(pool, 100);
    }
    xc_pool_free(pool);
    if (progress) progress(ctx, p->n, p->n);
    return 0;
}

/* ---- identical bytes ---------------------------------------------------------------------- */

static const struct pool *sort_pool;

static int cmp_hash(const void *a, const void *b) {
    int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
    const struct pool *p = sort_pool;
    if (p->hash[i] != p->hash[j]) return p->hash[i] < p->hash[j] ? -1 : 1;
    if (p->bytes[i] != p->bytes[j]) return p->bytes[i] < p->bytes[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

static int find_identical(const struct pool *p, const xc_prep_item *items, xc_prep_audit *a) {
    if (p->n < 2) return 0;
    int64_t *idx = malloc((size_t)p->n * sizeof *idx);
    if (!idx) return xc_errorf("out of memory");
    for (int64_t i = 0; i < p->n; i++) idx[i] = i;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    sort_pool = p;
    qsort(idx, (size_t)p->n, sizeof *idx, cmp_hash);
    pthread_mutex_unlock(&lock);
    int rc = 0;
    for (int64_t s = 0; s < p->n && rc == 0;) {
        int64_t e = s + 1;
        while (e < p->n && p->hash[idx[e]] == p->hash[idx[s]] && p->bytes[idx[e]] == p->bytes[idx[s]]) e++;
        if (e - s > 1 && p->bytes[idx[s]] > 0) {
            int n = (int)(e - s);
            const char **names = malloc((size_t)n * sizeof *names);
            if (!names) { rc = xc_errorf("out of memory"); break; }
            int cross = 0;
            for (int j = 0; j < n; j++) {
                names[j] = items[idx[s + j]].file;
                if (items[idx[s + j]].split != items[idx[s]].split) cross = 1;
            }
            rc = prep_audit_dup(a, "identical bytes", names, n);
            if (rc == 0 && cross)
                rc = prep_audit_warn(a, "identical images in different splits (%s, %s, …): the splits leak", names[0], names[1]);
            free(names);
        }
        s = e;
    }
    free(idx);
    return rc;
}

/* Display records for DICOM and 16-bit files, and one warning for the files whose stored values
 * use far fewer bits than their depth. */
static int record_display(const struct pool *p, xc_prep_list *l, const unsigned char *keep) {
    int64_t low = 0, first = -1;
    for (int64_t i = 0; i < p->n; i++) {
        if (!keep[i]) continue;
        const xc_image_info *in = &p->info[i];
        if (in->format == XC_IMAGE_DICOM || in->bit_depth > 8) {
            if (prep_display_add(&l->audit, l->items[i].file, in) < 0) return -1;
        }
        if (in->low_range && low++ == 0) first = i;
    }
    if (low == 0) return 0;
    const xc_image_info *in = &p->info[first];
    return prep_audit_warn(&l->audit, "%lld file%s store%s values far below the bit depth (e.g. '%s': %lld..%lld of %d bits; %s)",
                           (long long)low, low == 1 ? "" : "s", low == 1 ? "s" : "", l->items[first].file,
                           (long long)in->stored_min, (long long)in->stored_max, in->bit_depth,
                           in->mapping[0] ? in->mapping : "mapped by the range used");
}

/* ---- the whole run ------------------------------------------------------------------------ */

/* The multi-label audit: images per split, and per finding and split the positives,
 * negatives, unknowns and uncertain values read. */
static int count_findings(xc_prep_list *l) {
    int k = l->audit.nclasses;
    memset(l->audit.split_images, 0, sizeof l->audit.split_images);
    for (int64_t i = 0; i < l->n; i++) {
        const xc_prep_item *it = &l->items[i];
        l->audit.split_images[it->split]++;
        for (int j = 0; j < k; j++) {
            int64_t *f = &l->audit.findings[((size_t)it->split * (size_t)k + (size_t)j) * 4];
            switch (it->findings[j]) {
            case XC_FINDING_POS: f[XC_FC_POS]++; break;
            case XC_FINDING_NEG: f[XC_FC_NEG]++; break;
            case XC_FINDING_UNKNOWN: f[XC_FC_UNKNOWN]++; break;
            case XC_FINDING_UNCERTAIN_NEG: f[XC_FC_NEG]++, f[XC_FC_UNCERTAIN]++; break;
            case XC_FINDING_UNCERTAIN_POS: f[XC_FC_POS]++, f[XC_FC_UNCERTAIN]++; break;
            case XC_FINDING_UNCERTAIN_UNKNOWN: f[XC_FC_UNKNOWN]++, f[XC_FC_UNCERTAIN]++; break;
            default: return xc_errorf("internal: finding value %d", it->findings[j]);
            }
        }
    }
    return 0;
}

int xc_prepare_run(const xc_prepare_opts *o, xc_prepare_progress_fn progress, void *ctx, xc_prep_audit *audit) {
    memset(audit, 0, sizeof *audit);
    if (o->size < 8 || o->size > 4096) return xc_errorf("image size %d: must be in [8, 4096]", o->size);
    if (o->channels != 1 && o->channels != 3) return xc_errorf("channels %d: must be 1 or 3", o->channels);
    if (!(o->val_fraction >= 0.0 && o->val_fraction < 1.0))
        return xc_errorf("validation fraction %g: must be in [0, 1)", o->val_fraction);
    if (xc_prepare_check_output(o->out, o->overwrite) < 0) return -1;
    xc_prep_list *l = xc_prepare_list(o);
    if (!l) return -1;
    int rc = -1;
    struct pool p;
    memset(&p, 0, sizeof p);
    const char *val_mode = l->val_given ? "given" : o->val_fraction > 0 ? "carved" : "none";
    if (xc_prepare_patient_keys(o, l) < 0 || prep_patient_check_given(o, l) < 0) goto done;
    if (!l->val_given && xc_prepare_carve_val(l, o->val_fraction, o->seed) < 0) goto done;

    /* Group the items by split (stable), so that each split is one slice of the array. */
    xc_prep_item *sorted = malloc((size_t)(l->n ? l->n : 1) * sizeof *sorted);
    if (!sorted) { xc_errorf("out of memory"); goto done; }
    int64_t j = 0;
    for (int s = 0; s < XC_NSPLITS; s++)
        for (int64_t i = 0; i < l->n; i++)
            if (l->items[i].split == (xc_split)s) sorted[j++] = l->items[i];
    free(l->items);
    l->items = sorted;

    size_t img_bytes = (size_t)o->channels * (size_t)o->size * (size_t)o->size;
    p.items = l->items;
    p.n = l->n;
    p.size = o->size;
    p.channels = o->channels;
    p.images = malloc((size_t)(l->n ? l->n : 1) * img_bytes);
    p.err = calloc((size_t)(l->n ? l->n : 1), sizeof *p.err);
    p.hash = calloc((size_t)(l->n ? l->n : 1), sizeof *p.hash);
    p.bytes = calloc((size_t)(l->n ? l->n : 1), sizeof *p.bytes);
    p.coef = calloc((size_t)(l->n ? l->n : 1), sizeof *p.coef);
    p.info = calloc((size_t)(l->n ? l->n : 1), sizeof *p.info);
    if (!p.images || !p.err || !p.hash || !p.bytes || !p.coef || !p.info) {
        xc_errorf("out of memory for %lld images of %zu bytes", (long long)l->n, img_bytes);
        goto done;
    }
    if (decode_all(&p, o->threads, progress, ctx) < 0) goto done;

    unsigned char *keep = malloc((size_t)(l->n ? l->n : 1));
    if (!keep) { xc_errorf("out of memory"); goto done; }
    for (int64_t i = 0; i < l->n; i++) {
        keep[i] = p.err[i] == NULL;
        if (p.err[i] && prep_audit_unreadable(&l->audit, l->items[i].file, p.err[i]) < 0) {
            free(keep);
            goto done;
        }
    }
    if (l->audit.nunreadable > 0 && o->on_corrupt != XC_POLICY_SKIP) {
        char names[2048] = "";
        size_t off = 0;
        for (int64_t i = 0; i < l->audit.nunreadable && i < NAMES_IN_ERRORS && off < sizeof names; i++) {
            int w = snprintf(names + off, sizeof names - off, "%s%s", i ? "; " : "", l->audit.unreadable_why[i]);
            if (w > 0) off += (size_t)w;
        }
        xc_errorf("%lld image%s cannot be decoded: %s%s (--on-corrupt skip leaves them out)", (long long)l->audit.nunreadable,
                  l->audit.nunreadable == 1 ? "" : "s", names, l->audit.nunreadable > NAMES_IN_ERRORS ? "; …" : "");
        free(keep);
        goto done;
    }
    if (find_identical(&p, l->items, &l->audit) < 0 ||
        prep_near_duplicates(l->items, l->n, (const float (*)[XC_NEAR_VARIANTS][64])p.coef, p.hash, keep, o->near_distance,
                             &l->audit) < 0 ||
        record_display(&p, l, keep) < 0) {
        free(keep);
        goto done;
    }
    /* Drop the unreadable ones: rows move down, so each split stays one slice. */
    int64_t w = 0;
    for (int64_t i = 0; i < l->n; i++) {
        if (!keep[i]) {
            free(l->items[i].path);
            free(l->items[i].file);
            free(l->items[i].patient);
            free(l->items[i].findings);
            continue;
        }
        if (w != i) {
            memmove(p.images + (size_t)w * img_bytes, p.images + (size_t)i * img_bytes, img_bytes);
            l->items[w] = l->items[i];
        }
        w++;
    }
    l->n = w;
    free(keep);
    if (check_empty_classes(o, l, "once the unreadable images are left out") < 0) goto done;

    if (l->audit.multilabel) {
        if (count_findings(l) < 0) goto done;
    } else {
        for (int64_t i = 0; i < l->n; i++) l->audit.counts[l->items[i].split * l->audit.nclasses + l->items[i].label]++;
    }
    if (prep_patient_count(l) < 0) goto done;
    for (int s = 0; s < XC_NSPLITS; s++) {
        int64_t tot = xc_prep_audit_split_total(&l->audit, (xc_split)s);
        if (tot == 0) {
            if ((s != XC_SPLIT_VAL || o->val_fraction > 0 || l->val_given) &&
                prep_audit_warn(&l->audit, "split '%s' has no image: no %s.safetensors is written", xc_split_name((xc_split)s),
                                xc_split_name((xc_split)s)) < 0)
                goto done;
            continue;
        }
        for (int k = 0; k < l->audit.nclasses && l->audit.multilabel; k++) {
            const int64_t *f = &l->audit.findings[((size_t)s * (size_t)l->audit.nclasses + (size_t)k) * 4];
            if ((f[XC_FC_POS] == 0 || f[XC_FC_NEG] == 0) &&
                prep_audit_warn(&l->audit, "split '%s' has no %s '%s' image: its AUROC there is undefined",
                                xc_split_name((xc_split)s), f[XC_FC_POS] == 0 ? "positive" : "negative",
                                l->audit.classes[k]) < 0)
                goto done;
        }
        for (int k = 0; k < l->audit.nclasses && !l->audit.multilabel; k++) {
            if (l->audit.counts[s * l->audit.nclasses + k] > 0) continue;
            const char *cls = l->audit.classes[k];
            int e;
            if (s == XC_SPLIT_TEST && l->audit.counts[XC_SPLIT_VAL * l->audit.nclasses + k] > 0)
                e = prep_audit_warn(&l->audit, "split 'test' has no '%s' image: evaluate %s recall on 'val' or add images (--add-folder %s=DIR --add-split test)", cls, cls, cls);
            else
                e = prep_audit_warn(&l->audit, "split '%s' has no '%s' image", xc_split_name((xc_split)s), cls);
            if (e < 0) goto done;
        }
    }
    if (prep_write_all(o, l, p.images, val_mode) < 0) goto done;
    rc = 0;
done:
    for (int64_t i = 0; i < p.n; i++)
        if (p.err && p.err[i] != oom_message) free(p.err[i]);
    free(p.err);
    free(p.images);
    free(p.hash);
    free(p.bytes);
    free(p.coef);
    free(p.info);
    /* The audit goes to the caller, success or not. */
    *audit = l->audit;
    memset(&l->audit, 0, sizeof l->audit);
    xc_prep_list_free(l);
    return rc;
}
