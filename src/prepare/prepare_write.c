/* prepare_write.c — the prepared folder (prepare.h "Output"): each split's safetensors, audit.json,
 * splits.csv and dataset.json (the commit marker, moved into place last), all written into a
 * locked temporary folder first; the dataset id every part carries; the check of the output
 * folder before a run (a killed run's temporaries removed, a live one refused). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/safetensors.h"
#include "xraycls/strbuf.h"

/* A JSON array of strings from items[from..to).field `file`. */
static char *files_json(const xc_prep_item *items, int64_t from, int64_t to) {
    cJSON *arr = cJSON_CreateArray();
    for (int64_t i = from; arr && i < to; i++) {
        cJSON *s = cJSON_CreateString(items[i].file);
        if (!s) { cJSON_Delete(arr); arr = NULL; break; }
        cJSON_AddItemToArray(arr, s);
    }
    char *out = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!out) xc_errorf("out of memory");
    return out;
}

static char *classes_json(const xc_prep_audit *a) {
    cJSON *arr = cJSON_CreateArray();
    for (int k = 0; arr && k < a->nclasses; k++) cJSON_AddItemToArray(arr, cJSON_CreateString(a->classes[k]));
    char *out = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (!out) xc_errorf("out of memory");
    return out;
}

static int write_split(const char *path, const xc_prepare_opts *o, const xc_prep_list *l, xc_split s,
                       const uint8_t *images, int64_t from, int64_t to, const char *id) {
    int64_t n = to - from;
    size_t img_bytes = (size_t)o->channels * (size_t)o->size * (size_t)o->size;
    int64_t *labels = malloc((size_t)(n ? n : 1) * sizeof *labels);
    char *files = files_json(l->items, from, to), *classes = classes_json(&l->audit);
    xc_st_writer *w = xc_st_writer_new();
    uint8_t *y = NULL, *mask = NULL;
    int rc = -1;
    if (!labels || !files || !classes || !w) {
        xc_errorf("cannot write '%s': out of memory", path);
        goto done;
    }
    for (int64_t i = 0; i < n; i++) labels[i] = l->items[from + i].label;
    char num[64];
    // images: (N, C, S, S) uint8; labels: (N) int64, or multi-label (N, K) uint8 with mask (N, K) uint8
    int64_t ishape[4] = {n, o->channels, o->size, o->size}, lshape[1] = {n};
    if (xc_st_writer_add(w, "images", XC_U8, 4, ishape, images + (size_t)from * img_bytes, (size_t)n * img_bytes) < 0)
        goto done;
    if (l->audit.multilabel) {
        int k = l->audit.nclasses;
        size_t nk = (size_t)n * (size_t)k;
        /* the writer borrows the data until it writes: freed at the end */
        y = malloc(nk ? nk : 1);
        mask = malloc(nk ? nk : 1);
        if (!y || !mask) {
            xc_errorf("cannot write '%s': out of memory", path);
            goto done;
        }
        for (int64_t i = 0; i < n; i++)
            for (int j = 0; j < k; j++) {
                uint8_t v = l->items[from + i].findings[j];
                size_t q = (size_t)i * (size_t)k + (size_t)j;
                y[q] = v == XC_FINDING_POS || v == XC_FINDING_UNCERTAIN_POS;
                mask[q] = v != XC_FINDING_UNKNOWN && v != XC_FINDING_UNCERTAIN_UNKNOWN;
            }
        int64_t mshape[2] = {n, k};
        int e = xc_st_writer_add(w, "labels", XC_U8, 2, mshape, y, nk) < 0 ||
                xc_st_writer_add(w, "mask", XC_U8, 2, mshape, mask, nk) < 0 ||
                xc_st_writer_meta(w, "xraycls.multilabel", "1") < 0 ||
                xc_st_writer_meta(w, "xraycls.uncertain", xc_uncertain_name(o->uncertain)) < 0;
        if (e) goto done;
    } else if (xc_st_writer_add(w, "labels", XC_I64, 1, lshape, labels, (size_t)n * sizeof *labels) < 0) {
        goto done;
    }
    if (xc_st_writer_meta(w, "xraycls.kind", "dataset") < 0 || xc_st_writer_meta(w, "xraycls.dataset_id", id) < 0)
        goto done;
    snprintf(num, sizeof num, "%d", XC_PREPARE_FORMAT);
    if (xc_st_writer_meta(w, "xraycls.format", num) < 0 || xc_st_writer_meta(w, "xraycls.split", xc_split_name(s)) < 0 ||
        xc_st_writer_meta(w, "xraycls.classes", classes) < 0 || xc_st_writer_meta(w, "xraycls.files", files) < 0 ||
        xc_st_writer_meta(w, "xraycls.source", l->source_json) < 0)
        goto done;
    snprintf(num, sizeof num, "%d", o->size);
    if (xc_st_writer_meta(w, "xraycls.size", num) < 0) goto done;
    snprintf(num, sizeof num, "%d", o->channels);
    if (xc_st_writer_meta(w, "xraycls.channels", num) < 0) goto done;
    snprintf(num, sizeof num, "%llu", (unsigned long long)o->seed);
    if (xc_st_writer_meta(w, "xraycls.seed", num) < 0) goto done;
    snprintf(num, sizeof num, "%g", o->val_fraction);
    if (xc_st_writer_meta(w, "xraycls.val_fraction", num) < 0) goto done;
    rc = xc_st_writer_write(w, path);
done:
    xc_st_writer_free(w);
    free(y);
    free(mask);
    free(labels);
    free(files);
    free(classes);
    return rc;
}

static char *dataset_json(const xc_prepare_opts *o, const xc_prep_list *l, const int64_t *split_n, const char *val_mode,
                          const char *id) {
    cJSON *d = cJSON_CreateObject();
    if (!d) return NULL;
    cJSON_AddNumberToObject(d, "format", XC_PREPARE_FORMAT);
    cJSON_AddStringToObject(d, "id", id);
    if (l->audit.multilabel) {
        cJSON_AddBoolToObject(d, "multilabel", 1);
        cJSON_AddStringToObject(d, "uncertain", xc_uncertain_name(o->uncertain));
        cJSON_AddStringToObject(d, "blank", o->blank_unknown ? "unknown" : "negative");
    }
    cJSON *cl = cJSON_AddArrayToObject(d, "classes");
    for (int k = 0; cl && k < l->audit.nclasses; k++) cJSON_AddItemToArray(cl, cJSON_CreateString(l->audit.classes[k]));
    cJSON *sp = cJSON_AddObjectToObject(d, "splits");
    for (int s = 0; sp && s < XC_NSPLITS; s++) {
        if (split_n[s] == 0) continue;
        cJSON *so = cJSON_AddObjectToObject(sp, xc_split_name((xc_split)s));
        if (!so) continue;
        cJSON_AddNumberToObject(so, "count", (double)split_n[s]);
        if (l->audit.multilabel) {
            cJSON *pf = cJSON_AddObjectToObject(so, "per_finding");
            for (int k = 0; pf && k < l->audit.nclasses; k++) {
                const int64_t *f = &l->audit.findings[((size_t)s * (size_t)l->audit.nclasses + (size_t)k) * 4];
                cJSON *one = cJSON_AddObjectToObject(pf, l->audit.classes[k]);
                if (!one) break;
                cJSON_AddNumberToObject(one, "positive", (double)f[XC_FC_POS]);
                cJSON_AddNumberToObject(one, "negative", (double)f[XC_FC_NEG]);
                cJSON_AddNumberToObject(one, "unknown", (double)f[XC_FC_UNKNOWN]);
                cJSON_AddNumberToObject(one, "uncertain", (double)f[XC_FC_UNCERTAIN]);
            }
            continue;
        }
        cJSON *pc = cJSON_AddObjectToObject(so, "per_class");
        for (int k = 0; pc && k < l->audit.nclasses; k++)
            cJSON_AddNumberToObject(pc, l->audit.classes[k], (double)l->audit.counts[s * l->audit.nclasses + k]);
    }
    cJSON_AddNumberToObject(d, "size", o->size);
    cJSON_AddNumberToObject(d, "channels", o->channels);
    cJSON_AddNumberToObject(d, "seed", (double)o->seed);
    cJSON_AddNumberToObject(d, "val_fraction", o->val_fraction);
    cJSON_AddStringToObject(d, "val", val_mode);
    cJSON_AddStringToObject(d, "jpeg_decoder", xc_image_jpeg_decoder());
    if (l->audit.patient_source) cJSON_AddStringToObject(d, "patient_key", l->audit.patient_source);
    else cJSON_AddNullToObject(d, "patient_key");
    cJSON *disp = prep_display_json(&l->audit);
    if (disp) cJSON_AddItemToObject(d, "display", disp);
    cJSON_AddItemToObject(d, "source", cJSON_Parse(l->source_json));
    char *s = cJSON_Print(d);
    cJSON_Delete(d);
    return s;
}

/* DIR/splits.csv: path,label,split — every image as recorded (its path below the source), its
 * class (multi-label: its positive findings, ';'-separated) and its split, in the order of the
 * split files. */
static int write_splits_csv(const char *dir, const xc_prep_list *l) {
    xc_csv_writer w = {0};
    xc_csv_field(&w, "path");
    xc_csv_field(&w, "label");
    xc_csv_field(&w, "split");
    xc_csv_end_row(&w);
    xc_strbuf lab = {0};
    for (int64_t i = 0; i < l->n; i++) {
        const xc_prep_item *it = &l->items[i];
        xc_csv_field(&w, it->file);
        if (l->audit.multilabel) {
            xc_strbuf_reset(&lab);
            for (int j = 0; j < l->audit.nclasses; j++) {
                uint8_t v = it->findings[j];
                if (v != XC_FINDING_POS && v != XC_FINDING_UNCERTAIN_POS) continue;
                if (lab.len) xc_strbuf_putc(&lab, ';');
                xc_strbuf_puts(&lab, l->audit.classes[j]);
            }
            xc_csv_field(&w, lab.s ? lab.s : "");
        } else {
            xc_csv_field(&w, l->audit.classes[it->label]);
        }
        xc_csv_field(&w, xc_split_name(it->split));
        xc_csv_end_row(&w);
    }
    int bad = xc_strbuf_ok(&lab, "splits.csv");
    xc_strbuf_free(&lab);
    char *p = xc_path_join(dir, "splits.csv");
    int rc = bad < 0 || !p ? -1 : xc_csv_write_atomic(&w, p);
    if (!p) xc_errorf("out of memory");
    xc_csv_writer_free(&w);
    free(p);
    return rc;
}

/* Removes what a failed run left in its temporary folder, and the folder. */
int xc_prepare_check_output(const char *out, int overwrite) {
    if (!out || !*out) return xc_errorf("no output folder given (-o)");
    struct stat st;
    if (stat(out, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return xc_errorf("output '%s' exists and is not a folder", out);
    /* A run killed while writing left its locked temporary folder: the lock died with it. */
    int live = 0;
    long pid = 0;
    if (xc_remove_stale_temporaries(out, &live, &pid) < 0) return -1;
    if (live)
        return xc_errorf("output folder '%s' is being written by process %ld (another prepare still running?)",
                         out, pid);
    if (overwrite) return 0;
    DIR *d = opendir(out);
    if (!d) return xc_errorf_errno("cannot list '%s'", out);
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) empty = 0;
    closedir(d);
    if (!empty) return xc_errorf("output folder '%s' is not empty (--overwrite replaces the dataset in it)", out);
    return 0;
}

/* The dataset's id: 16 hex digits hashing the pixels, every sample's split and label (or
 * findings and mask) and the class names, so that every part of one prepared dataset carries
 * it and parts of two different ones cannot be taken for one (xc_dataset_open checks). */
static void dataset_id(const xc_prep_list *l, const uint8_t *images, size_t img_bytes, char id[17]) {
    uint64_t h = xc_hash64(images, (size_t)l->n * img_bytes);
    int k = l->audit.nclasses;
    for (int64_t i = 0; i < l->n; i++) {
        const xc_prep_item *it = &l->items[i];
        int32_t sl[2] = {(int32_t)it->split, (int32_t)it->label};
        uint64_t v = xc_hash64(sl, sizeof sl);
        if (it->findings) v ^= xc_hash64(it->findings, (size_t)k);
        h = (h ^ v) * 0x9E3779B97F4A7C15ULL + (uint64_t)i;
    }
    for (int c = 0; c < k; c++) h = (h ^ xc_hash64(l->audit.classes[c], strlen(l->audit.classes[c]) + 1)) * 0xD1B54A32D192ED03ULL;
    snprintf(id, 17, "%016llx", (unsigned long long)h);
}

int prep_write_all(const xc_prepare_opts *o, const xc_prep_list *l, const uint8_t *images, const char *val_mode) {
    int64_t split_n[XC_NSPLITS] = {0}, start[XC_NSPLITS] = {0};
    for (int64_t i = 0; i < l->n; i++) split_n[l->items[i].split]++;
    for (int s = 1; s < XC_NSPLITS; s++) start[s] = start[s - 1] + split_n[s - 1];
    char id[17];
    dataset_id(l, images, (size_t)o->channels * (size_t)o->size * (size_t)o->size, id);
    if (xc_mkdir_p(o->out) < 0) return -1;
    /* Everything is written into a locked temporary folder first (a killed run's is recognised
     * by its free lock and removed by the next one), then moved into place. */
    int lock_fd = -1;
    char *tmp = xc_temp_dir_create(o->out, "prepare", &lock_fd);
    if (!tmp) return -1;
    int rc = -1;
    char *audit = NULL, *dj = NULL;
    for (int s = 0; s < XC_NSPLITS; s++) {
        if (split_n[s] == 0) continue;
        char *p = prep_strdupf("%s/%s.safetensors", tmp, xc_split_name((xc_split)s));
        int e = p ? write_split(p, o, l, (xc_split)s, images, start[s], start[s] + split_n[s], id) : -1;
        free(p);
        if (e < 0) goto done;
    }
    if (!(audit = xc_prep_audit_json(&l->audit))) goto done;
    if (!(dj = dataset_json(o, l, split_n, val_mode, id))) { xc_errorf("out of memory"); goto done; }
    char *ap = xc_path_join(tmp, "audit.json"), *dp = xc_path_join(tmp, "dataset.json");
    int e = (!ap || !dp) ? -1 : xc_write_file_atomic(ap, audit, strlen(audit));
    if (e == 0) e = xc_write_file_atomic(dp, dj, strlen(dj));
    if (e == 0) e = write_splits_csv(tmp, l);
    free(ap);
    free(dp);
    if (e < 0) goto done;
    /* Into place: the old completion marker goes first, the new one comes last. */
    static const char *const order[] = {"train.safetensors", "val.safetensors", "test.safetensors", "audit.json",
                                        "splits.csv", "dataset.json"};
    char *old = xc_path_join(o->out, "dataset.json");
    if (old) unlink(old);
    free(old);
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        char *from = xc_path_join(tmp, order[i]), *to = xc_path_join(o->out, order[i]);
        if (!from || !to) {
            free(from);
            free(to);
            xc_errorf("out of memory");
            goto done;
        }
        int there = xc_is_file(from);
        int r = 0;
        if (there && rename(from, to) != 0) r = xc_errorf_errno("cannot move '%s' to '%s'", from, to);
        if (!there && i < XC_NSPLITS) unlink(to); /* a split of an older dataset that this one lacks */
        free(from);
        free(to);
        if (r < 0) goto done;
    }
    rc = 0;
done:
    if (tmp) (void)xc_remove_tree(tmp);
    close(lock_fd);
    free(tmp);
    free(audit);
    free(dj);
    return rc;
}

