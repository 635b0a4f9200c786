/* prepare_neardup.c — near duplicates (prepare.h, "Near duplicates") and the per-file display
 * records of the audit. Pairs are found by comparing every two perceptual hashes: n²/2 XOR +
 * popcount, about 20 ms for CoronaHack's 5,910 images and a second for 50,000, so no index is
 * worth its code here. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/image.h"

const double prep_near_crops[XC_NEAR_VARIANTS] = {0.0, 0.025, 0.05};

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The least distance between i and j over (whole, whole), (crop of i, whole j), (whole i, crop of j). */
static int pair_distance(const uint64_t (*h)[XC_NEAR_VARIANTS], int64_t i, int64_t j) {
    int d = xc_image_hamming(h[i][0], h[j][0]);
    for (int v = 1; v < XC_NEAR_VARIANTS; v++) {
        int e = xc_image_hamming(h[i][v], h[j][0]), f = xc_image_hamming(h[i][0], h[j][v]);
        if (e < d) d = e;
        if (f < d) d = f;
    }
    return d;
}

int prep_near_duplicates(const xc_prep_item *items, int64_t n, const float (*coef)[XC_NEAR_VARIANTS][64],
                         const uint64_t *bytes_hash, const unsigned char *ok, int distance, xc_prep_audit *a) {
    a->near_distance = distance;
    if (distance < 0 || n < 2) return 0;
    /* The dataset's median of each coefficient, over the whole images decoded. */
    float med[64], *col = malloc((size_t)n * sizeof *col);
    uint64_t (*h)[XC_NEAR_VARIANTS] = malloc((size_t)n * sizeof *h);
    if (!col || !h) {
        free(col);
        free(h);
        return xc_errorf("out of memory");
    }
    for (int k = 0; k < 64; k++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (ok[i]) col[m++] = coef[i][0][k];
        qsort(col, (size_t)m, sizeof *col, cmp_float);
        med[k] = m ? col[m / 2] : 0.0f;
    }
    free(col);
    for (int64_t i = 0; i < n; i++)
        for (int v = 0; v < XC_NEAR_VARIANTS; v++) h[i][v] = ok[i] ? xc_image_hash_bits(coef[i][v], med) : 0;
    int rc = 0;
    int64_t cross = 0, ex_i = -1, ex_j = -1;
    int ex_d = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!ok[i]) continue;
        for (int64_t j = i + 1; j < n; j++) {
            if (!ok[j]) continue;
            int d = pair_distance((const uint64_t (*)[XC_NEAR_VARIANTS])h, i, j);
            if (d > distance) continue;
            if (bytes_hash[i] == bytes_hash[j]) continue; /* identical files: already under "duplicates" */
            a->npairs++;
            if (items[i].split != items[j].split) {
                if (cross++ == 0) ex_i = i, ex_j = j, ex_d = d;
            }
            if (a->npairs_listed >= XC_NEAR_PAIRS_LISTED) continue;
            if ((a->npairs_listed & (a->npairs_listed - 1)) == 0) { /* grow at powers of two */
                xc_prep_pair *q = realloc(a->pairs, (size_t)(a->npairs_listed ? 2 * a->npairs_listed : 1) * sizeof *q);
                if (!q) { rc = xc_errorf("out of memory"); goto done; }
                a->pairs = q;
            }
            xc_prep_pair *p = &a->pairs[a->npairs_listed];
            p->files[0] = strdup(items[i].file);
            p->files[1] = strdup(items[j].file);
            p->splits[0] = items[i].split;
            p->splits[1] = items[j].split;
            p->distance = d;
            if (!p->files[0] || !p->files[1]) {
                free(p->files[0]);
                free(p->files[1]);
                rc = xc_errorf("out of memory");
                goto done;
            }
            a->npairs_listed++;
        }
    }
    if (cross > 0)
        rc = prep_audit_warn(a, "%lld near-duplicate pair%s cross splits (e.g. '%s' in %s and '%s' in %s, %d bits apart): "
                               "the splits may leak (audit.json: near_duplicates)",
                               (long long)cross, cross == 1 ? "" : "s", items[ex_i].file, xc_split_name(items[ex_i].split),
                               items[ex_j].file, xc_split_name(items[ex_j].split), ex_d);
done:
    free(h);
    return rc;
}

int prep_display_add(xc_prep_audit *a, const char *file, const xc_image_info *info) {
    if ((a->ndisplay & (a->ndisplay - 1)) == 0) {
        xc_prep_display *q = realloc(a->display, (size_t)(a->ndisplay ? 2 * a->ndisplay : 1) * sizeof *q);
        if (!q) return xc_errorf("out of memory");
        a->display = q;
    }
    xc_prep_display *d = &a->display[a->ndisplay];
    memset(d, 0, sizeof *d);
    d->file = strdup(file);
    d->mapping = strdup(info->mapping[0] ? info->mapping : "8 bits as stored");
    d->windowed = info->windowed;
    d->window_center = info->window_center;
    d->window_width = info->window_width;
    d->inverted = info->inverted;
    if (info->patient_id[0]) d->patient_id = strdup(info->patient_id);
    if (info->transfer_syntax[0]) d->transfer_syntax = strdup(info->transfer_syntax);
    a->ndisplay++;
    if (!d->file || !d->mapping || (info->patient_id[0] && !d->patient_id) || (info->transfer_syntax[0] && !d->transfer_syntax))
        return xc_errorf("out of memory");
    return 0;
}

void prep_neardup_clear(xc_prep_audit *a) {
    for (int64_t i = 0; i < a->npairs_listed; i++) {
        free(a->pairs[i].files[0]);
        free(a->pairs[i].files[1]);
    }
    free(a->pairs);
    for (int64_t i = 0; i < a->ndisplay; i++) {
        free(a->display[i].file);
        free(a->display[i].mapping);
        free(a->display[i].patient_id);
        free(a->display[i].transfer_syntax);
    }
    free(a->display);
}

cJSON *prep_display_json(const xc_prep_audit *a) {
    cJSON *o = cJSON_CreateObject();
    for (int64_t i = 0; o && i < a->ndisplay; i++) {
        const xc_prep_display *d = &a->display[i];
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddStringToObject(e, "mapping", d->mapping);
        if (d->windowed) {
            cJSON *w = cJSON_AddArrayToObject(e, "window");
            cJSON_AddItemToArray(w, cJSON_CreateNumber(d->window_center));
            cJSON_AddItemToArray(w, cJSON_CreateNumber(d->window_width));
        } else {
            cJSON_AddNullToObject(e, "window");
        }
        cJSON_AddStringToObject(e, "source", d->windowed == 1 ? "file" : d->windowed == 2 ? "robust range" : "none");
        cJSON_AddBoolToObject(e, "inverted", d->inverted);
        if (d->patient_id) cJSON_AddStringToObject(e, "patient_id", d->patient_id);
        else cJSON_AddNullToObject(e, "patient_id");
        if (d->transfer_syntax) cJSON_AddStringToObject(e, "transfer_syntax", d->transfer_syntax);
        cJSON_AddItemToObject(o, d->file, e);
    }
    return o;
}

void prep_neardup_json(const xc_prep_audit *a, cJSON *o) {
    cJSON *nd = cJSON_AddObjectToObject(o, "near_duplicates");
    if (nd) {
        if (a->near_distance >= 0) cJSON_AddNumberToObject(nd, "distance", a->near_distance);
        else cJSON_AddNullToObject(nd, "distance");
        cJSON_AddNumberToObject(nd, "count", (double)a->npairs);
        cJSON *pairs = cJSON_AddArrayToObject(nd, "pairs");
        for (int64_t i = 0; pairs && i < a->npairs_listed; i++) {
            const xc_prep_pair *p = &a->pairs[i];
            cJSON *e = cJSON_CreateObject();
            if (!e) break;
            cJSON *f = cJSON_AddArrayToObject(e, "files");
            cJSON_AddItemToArray(f, cJSON_CreateString(p->files[0]));
            cJSON_AddItemToArray(f, cJSON_CreateString(p->files[1]));
            cJSON *s = cJSON_AddArrayToObject(e, "splits");
            cJSON_AddItemToArray(s, cJSON_CreateString(xc_split_name(p->splits[0])));
            cJSON_AddItemToArray(s, cJSON_CreateString(xc_split_name(p->splits[1])));
            cJSON_AddNumberToObject(e, "distance", p->distance);
            cJSON_AddItemToArray(pairs, e);
        }
    }
    cJSON *d = prep_display_json(a);
    if (d) cJSON_AddItemToObject(o, "display", d);
}
