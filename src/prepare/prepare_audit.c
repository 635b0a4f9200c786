/* prepare_audit.c — the audit of a prepare run (prepare.h, "Audit"): growing it, audit.json and
 * the table printed to the user; plus the small helpers the prepare_*.c files share. */
#define _POSIX_C_SOURCE 200809L
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/strbuf.h"
#include "xraycls/fs.h"

/* ---- small helpers ------------------------------------------------------------------------ */

char *prep_strdupf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!s) {
        xc_errorf("out of memory");
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void prep_free_strv(char **v, int n) {
    if (!v) return;
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Grows a malloc'd array to hold at least n + 1 elements (capacity doubles). */
static int grow(void **p, int64_t n, size_t elem) {
    if (n & (n - 1) && n > 8) return 0; /* not a power of two: room is left */
    int64_t cap = n < 8 ? 8 : n * 2;
    void *q = realloc(*p, (size_t)cap * elem);
    if (!q) return xc_errorf("out of memory");
    *p = q;
    return 0;
}

int prep_list_dir(const char *dir, int want_dirs, char ***out, int *n) {
    int64_t cnt = 0;
    if (xc_walk(dir, want_dirs ? XC_WALK_DIRS : XC_WALK_FILES, NULL, out, &cnt) < 0) return -1;
    if (cnt > INT_MAX) {
        xc_strv_free(*out, cnt);
        *out = NULL;
        return xc_errorf("'%s' holds %lld entries: too many", dir, (long long)cnt);
    }
    *n = (int)cnt;
    return 0;
}

int prep_list_add(xc_prep_list *l, const char *path, const char *file, int label, xc_split split,
                  int line) {
    if (grow((void **)&l->items, l->n, sizeof *l->items) < 0) return -1;
    xc_prep_item *it = &l->items[l->n];
    it->path = strdup(path);
    it->file = strdup(file);
    if (!it->path || !it->file) {
        free(it->path);
        free(it->file);
        return xc_errorf("out of memory");
    }
    it->patient = NULL;
    it->label = label;
    it->split = split;
    it->line = line;
    it->findings = NULL;
    l->n++;
    return 0;
}

int prep_list_add_findings(xc_prep_list *l, const char *path, const char *file, const uint8_t *findings,
                           int k, xc_split split, int line) {
    uint8_t *f = malloc((size_t)(k > 0 ? k : 1));
    if (!f) return xc_errorf("out of memory");
    memcpy(f, findings, (size_t)k);
    if (prep_list_add(l, path, file, 0, split, line) < 0) {
        free(f);
        return -1;
    }
    l->items[l->n - 1].findings = f;
    return 0;
}

/* ---- the audit ----------------------------------------------------------------------------- */

void xc_prep_audit_clear(xc_prep_audit *a) {
    if (!a) return;
    prep_free_strv(a->classes, a->nclasses);
    free(a->counts);
    free(a->findings);
    for (int i = 0; i < a->nexcluded; i++) free(a->excluded[i].key);
    free(a->excluded);
    for (int64_t i = 0; i < a->nmissing; i++) free(a->missing[i]);
    free(a->missing);
    for (int64_t i = 0; i < a->nunreadable; i++) {
        free(a->unreadable[i]);
        free(a->unreadable_why[i]);
    }
    free(a->unreadable);
    free(a->unreadable_why);
    for (int i = 0; i < a->ndups; i++) {
        free(a->dups[i].kind);
        prep_free_strv(a->dups[i].files, a->dups[i].nfiles);
    }
    free(a->dups);
    prep_free_strv(a->warnings, a->nwarnings);
    prep_patient_clear(a);
    prep_neardup_clear(a);
    memset(a, 0, sizeof *a);
}

int prep_audit_set_classes(xc_prep_audit *a, const char *const *classes, int n) {
    prep_free_strv(a->classes, a->nclasses);
    free(a->counts);
    a->nclasses = 0;
    a->classes = calloc((size_t)(n > 0 ? n : 1), sizeof *a->classes);
    a->counts = calloc((size_t)(n > 0 ? n : 1) * XC_NSPLITS, sizeof *a->counts);
    if (!a->classes || !a->counts) return xc_errorf("out of memory");
    for (int k = 0; k < n; k++) {
        if (!(a->classes[k] = strdup(classes[k]))) return xc_errorf("out of memory");
        a->nclasses = k + 1;
    }
    return 0;
}

int prep_audit_exclude(xc_prep_audit *a, const char *reason) {
    for (int i = 0; i < a->nexcluded; i++)
        if (!strcmp(a->excluded[i].key, reason)) {
            a->excluded[i].count++;
            return 0;
        }
    if (grow((void **)&a->excluded, a->nexcluded, sizeof *a->excluded) < 0) return -1;
    if (!(a->excluded[a->nexcluded].key = strdup(reason))) return xc_errorf("out of memory");
    a->excluded[a->nexcluded++].count = 1;
    return 0;
}

int prep_audit_missing(xc_prep_audit *a, const char *file) {
    if (grow((void **)&a->missing, a->nmissing, sizeof *a->missing) < 0) return -1;
    if (!(a->missing[a->nmissing] = strdup(file))) return xc_errorf("out of memory");
    a->nmissing++;
    return 0;
}

int prep_audit_unreadable(xc_prep_audit *a, const char *file, const char *why) {
    if (grow((void **)&a->unreadable, a->nunreadable, sizeof *a->unreadable) < 0 ||
        grow((void **)&a->unreadable_why, a->nunreadable, sizeof *a->unreadable_why) < 0)
        return -1;
    a->unreadable[a->nunreadable] = strdup(file);
    a->unreadable_why[a->nunreadable] = strdup(why);
    a->nunreadable++;
    if (!a->unreadable[a->nunreadable - 1] || !a->unreadable_why[a->nunreadable - 1])
        return xc_errorf("out of memory");
    return 0;
}

int prep_audit_dup(xc_prep_audit *a, const char *kind, const char *const *files, int n) {
    if (grow((void **)&a->dups, a->ndups, sizeof *a->dups) < 0) return -1;
    xc_prep_dup *d = &a->dups[a->ndups++];
    memset(d, 0, sizeof *d);
    d->kind = strdup(kind);
    d->files = calloc((size_t)n, sizeof *d->files);
    if (!d->kind || !d->files) return xc_errorf("out of memory");
    for (int i = 0; i < n; i++) {
        if (!(d->files[i] = strdup(files[i]))) return xc_errorf("out of memory");
        d->nfiles = i + 1;
    }
    return 0;
}

int prep_audit_warn(xc_prep_audit *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (grow((void **)&a->warnings, a->nwarnings, sizeof *a->warnings) < 0) return -1;
    if (!(a->warnings[a->nwarnings] = strdup(buf))) return xc_errorf("out of memory");
    a->nwarnings++;
    return 0;
}

int64_t xc_prep_audit_split_total(const xc_prep_audit *a, xc_split s) {
    if (a->multilabel) return (s >= 0 && s < XC_NSPLITS) ? a->split_images[s] : 0;
    int64_t t = 0;
    for (int k = 0; k < a->nclasses; k++) t += a->counts[(int)s * a->nclasses + k];
    return t;
}

char *xc_prep_audit_json(const xc_prep_audit *a) {
    cJSON *o = cJSON_CreateObject();
    if (!o) goto oom;
    cJSON *sp = cJSON_AddObjectToObject(o, "splits");
    for (int s = 0; sp && s < XC_NSPLITS; s++) {
        cJSON *so = cJSON_AddObjectToObject(sp, xc_split_name((xc_split)s));
        for (int k = 0; so && k < a->nclasses && !a->multilabel; k++)
            cJSON_AddNumberToObject(so, a->classes[k], (double)a->counts[s * a->nclasses + k]);
        if (so && a->multilabel) {
            /* {"images": n, "findings": {name: {positive, negative, unknown, uncertain}}} */
            cJSON_AddNumberToObject(so, "images", (double)a->split_images[s]);
            cJSON *fo = cJSON_AddObjectToObject(so, "findings");
            for (int k = 0; fo && k < a->nclasses; k++) {
                const int64_t *f = &a->findings[((size_t)s * (size_t)a->nclasses + (size_t)k) * 4];
                cJSON *one = cJSON_AddObjectToObject(fo, a->classes[k]);
                if (!one) break;
                cJSON_AddNumberToObject(one, "positive", (double)f[XC_FC_POS]);
                cJSON_AddNumberToObject(one, "negative", (double)f[XC_FC_NEG]);
                cJSON_AddNumberToObject(one, "unknown", (double)f[XC_FC_UNKNOWN]);
                cJSON_AddNumberToObject(one, "uncertain", (double)f[XC_FC_UNCERTAIN]);
            }
        }
    }
    cJSON *ex = cJSON_AddObjectToObject(o, "excluded");
    for (int i = 0; ex && i < a->nexcluded; i++) cJSON_AddNumberToObject(ex, a->excluded[i].key, (double)a->excluded[i].count);
    cJSON *mi = cJSON_AddObjectToObject(o, "missing");
    if (mi) {
        cJSON_AddNumberToObject(mi, "count", (double)a->nmissing);
        cJSON *f = cJSON_AddArrayToObject(mi, "files");
        for (int64_t i = 0; f && i < a->nmissing; i++) cJSON_AddItemToArray(f, cJSON_CreateString(a->missing[i]));
    }
    cJSON *un = cJSON_AddObjectToObject(o, "unreadable");
    if (un) {
        cJSON_AddNumberToObject(un, "count", (double)a->nunreadable);
        cJSON *f = cJSON_AddObjectToObject(un, "files");
        for (int64_t i = 0; f && i < a->nunreadable; i++) cJSON_AddStringToObject(f, a->unreadable[i], a->unreadable_why[i]);
    }
    cJSON *du = cJSON_AddArrayToObject(o, "duplicates");
    for (int i = 0; du && i < a->ndups; i++) {
        cJSON *g = cJSON_CreateObject();
        if (!g) break;
        cJSON_AddStringToObject(g, "kind", a->dups[i].kind);
        cJSON *f = cJSON_AddArrayToObject(g, "files");
        for (int j = 0; f && j < a->dups[i].nfiles; j++) cJSON_AddItemToArray(f, cJSON_CreateString(a->dups[i].files[j]));
        cJSON_AddItemToArray(du, g);
    }
    prep_patient_json(a, o);
    prep_neardup_json(a, o);
    cJSON *w = cJSON_AddArrayToObject(o, "warnings");
    for (int i = 0; w && i < a->nwarnings; i++) cJSON_AddItemToArray(w, cJSON_CreateString(a->warnings[i]));
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    if (!s) goto oom;
    return s;
oom:
    xc_errorf("audit: out of memory");
    return NULL;
}

/* The multi-label table: per finding and split, positives/negatives/unknowns. */
static void findings_table(xc_strbuf *t, const xc_prep_audit *a, int w) {
    xc_strbuf_printf(t, "%-*s", w, "finding");
    for (int s = 0; s < XC_NSPLITS; s++) xc_strbuf_printf(t, " %20s", xc_split_name((xc_split)s));
    xc_strbuf_printf(t, "\n%-*s", w, "");
    for (int s = 0; s < XC_NSPLITS; s++) xc_strbuf_printf(t, " %20s", "pos/neg/unknown");
    xc_strbuf_printf(t, "\n");
    for (int k = 0; k < a->nclasses; k++) {
        xc_strbuf_printf(t, "%-*s", w, a->classes[k]);
        for (int s = 0; s < XC_NSPLITS; s++) {
            const int64_t *f = &a->findings[((size_t)s * (size_t)a->nclasses + (size_t)k) * 4];
            char cell[64];
            snprintf(cell, sizeof cell, "%lld/%lld/%lld", (long long)f[XC_FC_POS], (long long)f[XC_FC_NEG],
                     (long long)f[XC_FC_UNKNOWN]);
            xc_strbuf_printf(t, " %20s", cell);
        }
        xc_strbuf_printf(t, "\n");
    }
    xc_strbuf_printf(t, "%-*s", w, "images");
    for (int s = 0; s < XC_NSPLITS; s++) xc_strbuf_printf(t, " %20lld", (long long)a->split_images[s]);
    xc_strbuf_printf(t, "\n");
}

char *xc_prep_audit_table(const xc_prep_audit *a) {
    xc_strbuf t = {0};
    int w = 8;
    for (int k = 0; k < a->nclasses; k++)
        if ((int)strlen(a->classes[k]) > w) w = (int)strlen(a->classes[k]);
    if (a->multilabel && a->findings) {
        findings_table(&t, a, w);
        goto problems;
    }
    xc_strbuf_printf(&t, "%-*s", w, "class");
    for (int s = 0; s < XC_NSPLITS; s++) xc_strbuf_printf(&t, " %8s", xc_split_name((xc_split)s));
    xc_strbuf_printf(&t, " %8s\n", "total");
    int64_t col[XC_NSPLITS] = {0}, all = 0;
    for (int k = 0; k < a->nclasses; k++) {
        int64_t row = 0;
        xc_strbuf_printf(&t, "%-*s", w, a->classes[k]);
        for (int s = 0; s < XC_NSPLITS; s++) {
            int64_t c = a->counts[s * a->nclasses + k];
            xc_strbuf_printf(&t, " %8lld", (long long)c);
            row += c;
            col[s] += c;
        }
        all += row;
        xc_strbuf_printf(&t, " %8lld\n", (long long)row);
    }
    xc_strbuf_printf(&t, "%-*s", w, "total");
    for (int s = 0; s < XC_NSPLITS; s++) xc_strbuf_printf(&t, " %8lld", (long long)col[s]);
    xc_strbuf_printf(&t, " %8lld\n", (long long)all);
problems:
    for (int i = 0; i < a->nexcluded; i++)
        xc_strbuf_printf(&t, "excluded: %lld  %s\n", (long long)a->excluded[i].count, a->excluded[i].key);
    if (a->nmissing) xc_strbuf_printf(&t, "missing: %lld image%s skipped (first: %s)\n", (long long)a->nmissing, a->nmissing == 1 ? "" : "s", a->missing[0]);
    if (a->nunreadable)
        xc_strbuf_printf(&t, "unreadable: %lld image%s skipped (first: %s: %s)\n", (long long)a->nunreadable,
                a->nunreadable == 1 ? "" : "s", a->unreadable[0], a->unreadable_why[0]);
    for (int i = 0; i < a->ndups; i++) {
        xc_strbuf_printf(&t, "duplicate (%s):", a->dups[i].kind);
        for (int j = 0; j < a->dups[i].nfiles && j < 4; j++) xc_strbuf_printf(&t, " %s", a->dups[i].files[j]);
        if (a->dups[i].nfiles > 4) xc_strbuf_printf(&t, " … (%d files)", a->dups[i].nfiles);
        xc_strbuf_printf(&t, "\n");
    }
    if (a->patient_source) {
        xc_strbuf_printf(&t, "patients (%s):", a->patient_source);
        for (int s = 0; s < XC_NSPLITS; s++)
            if (a->patients_split[s]) xc_strbuf_printf(&t, " %s %lld", xc_split_name((xc_split)s), (long long)a->patients_split[s]);
        if (a->shared_patients) xc_strbuf_printf(&t, "; %lld in more than one given split", (long long)a->shared_patients);
        xc_strbuf_printf(&t, "\n");
    }
    if (a->npairs) xc_strbuf_printf(&t, "near duplicates: %lld pair%s within %d bits (audit.json)\n", (long long)a->npairs, a->npairs == 1 ? "" : "s", a->near_distance);
    return xc_strbuf_take(&t, "audit");
}
