/* prepare_findings.c — the multi-label csv source of `xraycls prepare` (prepare.h, "Multi-label
 * datasets"): several independent findings per image, in either of the two layouts the large
 * chest X-ray datasets use — one column per finding with CheXpert's 1 / 0 / blank / -1, or one
 * column of '|'-separated findings with NIH ChestX-ray14's `No Finding` — turned into the image
 * list with one XC_FINDING_* value per finding. Whether the files exist, duplicates and the
 * validation split are handled afterwards for every source (prepare.c). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/csv.h"
#include "xraycls/findings.h"
#include "xraycls/fs.h"

static const char *const uncertain_names[] = {"ignore", "zeros", "ones"};

const char *xc_uncertain_name(xc_uncertain u) {
    return (u >= XC_UNCERTAIN_IGNORE && u <= XC_UNCERTAIN_ONES) ? uncertain_names[u] : "?";
}

int xc_uncertain_parse(const char *s, xc_uncertain *out) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, uncertain_names[i])) {
            *out = (xc_uncertain)i;
            return 0;
        }
    return xc_errorf("unknown uncertain policy '%s' (ignore, zeros, ones)", s);
}

int xc_prepare_is_multilabel(const xc_prepare_opts *o) { return o->nfindings > 0 || o->findings_column != NULL; }

int xc_prepare_set_findings(xc_prepare_opts *o, const char *list) {
    if (!strcmp(list, "chexnet")) {
        char **v = calloc(XC_CHEXNET_NUM_CLASSES, sizeof *v);
        if (!v) return xc_errorf("out of memory");
        for (int k = 0; k < XC_CHEXNET_NUM_CLASSES; k++)
            if (!(v[k] = strdup(xc_chexnet_classes[k]))) {
                prep_free_strv(v, k);
                return xc_errorf("out of memory");
            }
        prep_free_strv(o->findings, o->nfindings);
        o->findings = v;
        o->nfindings = XC_CHEXNET_NUM_CLASSES;
        return 0;
    }
    /* The class-list parser does the trimming and the checks; its result is moved over. */
    char **keep = o->classes;
    int nkeep = o->nclasses;
    o->classes = NULL;
    o->nclasses = 0;
    int rc = xc_prepare_set_classes(o, list);
    if (rc == 0) {
        prep_free_strv(o->findings, o->nfindings);
        o->findings = o->classes;
        o->nfindings = o->nclasses;
    } else {
        xc_errorf("findings '%s': %s", list, xc_error());
    }
    o->classes = keep;
    o->nclasses = nkeep;
    return rc;
}

/* s without the spaces around it, into buf. */
static const char *trimmed(const char *s, char *buf, size_t cap) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(buf, s, n);
    buf[n] = 0;
    return buf;
}

/* A CheXpert value: 1, 0, -1 (also written 1.0, 0.0, -1.0) or blank. Returns the XC_FINDING_*
 * value, or -1 when the value is none of these. */
static int column_value(const char *raw, const xc_prepare_opts *o) {
    char buf[64];
    const char *v = trimmed(raw, buf, sizeof buf);
    if (!*v) return o->blank_unknown ? XC_FINDING_UNKNOWN : XC_FINDING_NEG;
    char *end;
    double d = strtod(v, &end);
    if (*end) return -1;
    if (d == 1.0) return XC_FINDING_POS;
    if (d == 0.0) return XC_FINDING_NEG;
    if (d == -1.0) {
        switch (o->uncertain) {
        case XC_UNCERTAIN_ZEROS: return XC_FINDING_UNCERTAIN_NEG;
        case XC_UNCERTAIN_ONES: return XC_FINDING_UNCERTAIN_POS;
        default: return XC_FINDING_UNCERTAIN_UNKNOWN;
        }
    }
    return -1;
}

/* The index of name among v (exact), or -1. */
static int index_of(char *const *v, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i], name)) return i;
    return -1;
}

/* Calls fn for every '|'-separated, trimmed, non-empty name of field; stops at fn's first
 * non-zero return and returns it. */
typedef int (*name_fn)(void *ctx, const char *name);
static int each_name(const char *field, name_fn fn, void *ctx) {
    const char *p = field;
    for (;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        char buf[512], raw[512];
        if (len >= sizeof raw) len = sizeof raw - 1;
        memcpy(raw, p, len);
        raw[len] = 0;
        const char *name = trimmed(raw, buf, sizeof buf);
        if (*name) {
            int r = fn(ctx, name);
            if (r) return r;
        }
        if (!bar) return 0;
        p = bar + 1;
    }
}

struct collect {
    char ***v;
    int *n;
    const char *no_finding;
};

static int collect_name(void *ctx, const char *name) {
    struct collect *c = ctx;
    if (!strcmp(name, c->no_finding)) return 0;
    return prep_add_sorted_unique(c->v, c->n, name) < 0 ? -1 : 0;
}

struct row_names {
    char *const *findings;
    int k;
    uint8_t *vals;
    const char *no_finding;
    int saw_no_finding, saw_other;
    char bad[600]; /* the first problem */
};

static int row_name(void *ctx, const char *name) {
    struct row_names *r = ctx;
    if (!strcmp(name, r->no_finding)) {
        r->saw_no_finding = 1;
        return 0;
    }
    r->saw_other = 1;
    int k = index_of(r->findings, r->k, name);
    if (k < 0) {
        char list[400] = "";
        for (int i = 0; i < r->k && strlen(list) < sizeof list - 40; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", r->findings[i]);
        snprintf(r->bad, sizeof r->bad, "unknown finding '%s' (findings: %s%s)", name, list,
                 strlen(list) >= sizeof list - 40 ? ", …" : "");
        return 1;
    }
    r->vals[k] = XC_FINDING_POS;
    return 0;
}

int prep_source_csv_findings(const xc_prepare_opts *o, xc_prep_list *l) {
    if (!o->csv) return xc_errorf("csv: give the list of images (--csv)");
    int rc = -1;
    char *root = o->root ? strdup(o->root) : prep_dirname(o->csv);
    char **found = NULL;
    int nfound = 0, *cols = NULL;
    uint8_t *vals = NULL;
    xc_csv *c = NULL;
    const char *no_finding = o->no_finding ? o->no_finding : "No Finding";
    if (!root) { xc_errorf("out of memory"); goto done; }
    if (!(c = xc_csv_read(o->csv, 1))) goto done;

    /* The image column: named, or the first header path / file / image (any case). */
    int c_path = -1, c_split = -1, c_labels = -1;
    if (o->path_column) {
        if ((c_path = xc_csv_require_col(c, o->path_column)) < 0) goto done;
    } else {
        static const char *const path_names[] = {"path", "file", "image"};
        for (int i = 0; i < 3 && c_path < 0; i++)
            for (int k = 0; k < xc_csv_cols(c) && c_path < 0; k++)
                if (!strcasecmp(xc_csv_header(c, k), path_names[i])) c_path = k;
        if (c_path < 0) {
            xc_errorf("'%s': no image column in the header (path, file or image; name another with "
                      "--path-column)", o->csv);
            goto done;
        }
    }
    for (int k = 0; k < xc_csv_cols(c) && c_split < 0; k++)
        if (!strcasecmp(xc_csv_header(c, k), "split")) c_split = k;

    /* The findings, and for the per-column layout each one's column. */
    char *const *findings = o->findings;
    int nf = o->nfindings;
    if (o->findings_column) {
        if ((c_labels = xc_csv_require_col(c, o->findings_column)) < 0) goto done;
        if (nf == 0) {
            struct collect cc = {&found, &nfound, no_finding};
            for (int r = 0; r < xc_csv_rows(c); r++)
                if (each_name(xc_csv_get(c, r, c_labels), collect_name, &cc) < 0) goto done;
            if (nfound == 0) {
                xc_errorf("'%s': column '%s' names no finding (every row is '%s' or empty)", o->csv,
                          o->findings_column, no_finding);
                goto done;
            }
            findings = found;
            nf = nfound;
        }
    } else {
        if (nf == 0) {
            xc_errorf("'%s': a multi-label csv needs --findings (the finding columns) or --findings-column", o->csv);
            goto done;
        }
        if (!(cols = malloc((size_t)nf * sizeof *cols))) { xc_errorf("out of memory"); goto done; }
        for (int k = 0; k < nf; k++) {
            cols[k] = xc_csv_col(c, findings[k]);
            if (cols[k] < 0) {
                xc_errorf("'%s': no column '%s' in the header (the findings name the columns)", o->csv, findings[k]);
                goto done;
            }
        }
    }
    if (nf > 1024) {
        xc_errorf("'%s': %d findings (at most 1024)", o->csv, nf);
        goto done;
    }
    if (prep_audit_set_classes(&l->audit, (const char *const *)findings, nf) < 0) goto done;
    l->audit.multilabel = 1;
    free(l->audit.findings);
    l->audit.findings = calloc((size_t)XC_NSPLITS * (size_t)nf * 4, sizeof *l->audit.findings);
    if (!l->audit.findings || !(vals = malloc((size_t)nf))) { xc_errorf("out of memory"); goto done; }

    for (int r = 0; r < xc_csv_rows(c); r++) {
        const char *path = xc_csv_get(c, r, c_path);
        const char *sp = c_split >= 0 ? xc_csv_get(c, r, c_split) : "";
        char why[800];
        xc_split s = XC_SPLIT_TRAIN;
        if (*sp && xc_split_parse(sp, &s) < 0) {
            snprintf(why, sizeof why, "unknown split value '%s'", sp);
            if (prep_unknown_row(o, l, c, r, NULL, why) < 0) goto done;
            continue;
        }
        if (!*path) {
            if (prep_unknown_row(o, l, c, r, NULL, "empty path") < 0) goto done;
            continue;
        }
        int bad = 0;
        if (c_labels >= 0) {
            const char *field = xc_csv_get(c, r, c_labels);
            struct row_names rn = {findings, nf, vals, no_finding, 0, 0, ""};
            memset(vals, XC_FINDING_NEG, (size_t)nf);
            char buf[8];
            if (!*trimmed(field, buf, sizeof buf)) {
                snprintf(why, sizeof why, "empty '%s' (write '%s' for an image without findings)", o->findings_column,
                         no_finding);
                bad = 1;
            } else if (each_name(field, row_name, &rn) != 0) {
                snprintf(why, sizeof why, "%s", rn.bad);
                bad = 1;
            } else if (rn.saw_no_finding && rn.saw_other) {
                snprintf(why, sizeof why, "'%s' together with findings in '%s'", no_finding, field);
                bad = 1;
            }
        } else {
            for (int k = 0; k < nf && !bad; k++) {
                const char *v = xc_csv_get(c, r, cols[k]);
                int x = column_value(v, o);
                if (x < 0) {
                    snprintf(why, sizeof why, "finding '%s': value '%s' is not 1, 0, -1 or blank", findings[k], v);
                    bad = 1;
                } else {
                    vals[k] = (uint8_t)x;
                }
            }
        }
        if (bad) {
            if (prep_unknown_row(o, l, c, r, NULL, why) < 0) goto done;
            continue;
        }
        char *full = path[0] == '/' ? strdup(path) : xc_path_join(root, path);
        if (!full) goto done;
        int e = prep_list_add_findings(l, full, path, vals, nf, s, xc_csv_line(c, r));
        free(full);
        if (e < 0) goto done;
        if (s == XC_SPLIT_VAL) l->val_given = 1;
    }
    cJSON *src = cJSON_CreateObject();
    if (src) {
        cJSON_AddStringToObject(src, "kind", "csv");
        cJSON_AddStringToObject(src, "root", root);
        cJSON_AddStringToObject(src, "csv", o->csv);
        cJSON_AddStringToObject(src, "layout", c_labels >= 0 ? "findings_column" : "finding_columns");
        if (c_labels >= 0) {
            cJSON_AddStringToObject(src, "findings_column", o->findings_column);
            cJSON_AddStringToObject(src, "no_finding", no_finding);
        }
        cJSON_AddStringToObject(src, "path_column", xc_csv_header(c, c_path));
        cJSON_AddStringToObject(src, "uncertain", xc_uncertain_name(o->uncertain));
        cJSON_AddStringToObject(src, "blank", o->blank_unknown ? "unknown" : "negative");
        l->source_json = cJSON_PrintUnformatted(src);
        cJSON_Delete(src);
    }
    if (!l->source_json) { xc_errorf("out of memory"); goto done; }
    rc = 0;
done:
    xc_csv_free(c);
    free(root);
    free(cols);
    free(vals);
    prep_free_strv(found, nfound);
    return rc;
}
