/* prepare_patient.c — patient-level splits (prepare.h, "Patients"): the keys (a CSV column, the
 * DICOM PatientID, a regular expression or the CoronaHack preset over file names), the grouped
 * stratified validation split, the check of the given splits, and the patient part of the
 * audit. Keys never leave this file other than in items[i].patient and the audit. */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/dicom.h"
#include "xraycls/image.h"
#include "xraycls/rng.h"

/* How many shared patients audit.json lists, and files of each. */
#define LEAKS_LISTED 100
#define LEAK_FILES 4

/* ---- keys ---------------------------------------------------------------------------------- */

static int ends_with_ci(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && !strncasecmp(s + n - k, suffix, k);
}

int xc_prepare_coronahack_key(const char *base, char *key, size_t cap) {
    key[0] = '\0';
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base);
    /* Kermany: person<N>_bacteria_<M>, person<N>_virus_<M> */
    unsigned long a;
    int used = 0;
    if (sscanf(base, "person%lu_%n", &a, &used) == 1 && used > 0 &&
        (!strncasecmp(base + used, "bacteria_", 9) || !strncasecmp(base + used, "virus_", 6))) {
        snprintf(key, cap, "person%lu", a);
        return 1;
    }
    /* Kermany: NORMAL2-IM-<N>-<M>, IM-<N>-<M> */
    const char *im = !strncasecmp(base, "NORMAL2-IM-", 11) ? base + 11 : !strncasecmp(base, "IM-", 3) ? base + 3 : NULL;
    if (im && isdigit((unsigned char)im[0])) {
        const char *q = im;
        while (isdigit((unsigned char)*q)) q++;
        if (*q == '-' && isdigit((unsigned char)q[1])) {
            snprintf(key, cap, "%.*s", (int)(q - base), base);
            return 1;
        }
    }
    /* Case figures: strip view, day and panel suffixes until none is left. */
    for (int changed = 1; changed && n > 0;) {
        changed = 0;
        static const char *const views[] = {"-PA", "-AP", "-L", "-lateral", "-lat", "_PA", "_AP", "-frontal"};
        for (size_t v = 0; v < sizeof views / sizeof views[0]; v++)
            if (ends_with_ci(base, n, views[v]) && n > strlen(views[v])) {
                n -= strlen(views[v]);
                changed = 1;
            }
        size_t d = n;
        while (d > 0 && isdigit((unsigned char)base[d - 1])) d--;
        if (d < n && d >= 4 && (ends_with_ci(base, d, "-day") || ends_with_ci(base, d, "_day"))) {
            n = d - 4;
            changed = 1;
        }
        if (n >= 3 && (base[n - 2] == '-' || base[n - 2] == '_') && strchr("abcdABCD", base[n - 1])) {
            n -= 2; /* -a .. -d: panels of one figure */
            changed = 1;
        } else if (n >= 3 && strchr("abcdefgh", base[n - 1]) && isdigit((unsigned char)base[n - 2])) {
            n -= 1; /* Fig8a, gr2b: a panel letter after the figure number */
            changed = 1;
        }
    }
    if (n == 0) return 0;
    snprintf(key, cap, "%.*s", (int)n, base);
    return 2;
}

/* The DICOM PatientID of path into id (""), when the file is DICOM by content. 1 when it is
 * DICOM (whatever the ID), 0 when not, -1 when it could not be read (left to the decoder). */
static int dicom_patient(const char *path, char *id, size_t cap) {
    id[0] = '\0';
    unsigned char head[132];
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (xc_image_sniff(head, n) != XC_IMAGE_DICOM) return 0;
    if (xc_dicom_patient_id(path, id, cap) < 0) {
        xc_error_clear(); /* the decoder reports the file properly later */
        return -1;
    }
    return 1;
}

static int add_source(char **src, const char *what) {
    if (*src && strstr(*src, what)) return 0;
    char *s = *src ? prep_strdupf("%s + %s", *src, what) : strdup(what);
    if (!s) return xc_errorf("out of memory");
    free(*src);
    *src = s;
    return 0;
}

int xc_prepare_patient_keys(const xc_prepare_opts *o, xc_prep_list *l) {
    const char *rx = o->patient_regex;
    if (!rx && o->source == XC_SOURCE_CORONAHACK) rx = "coronahack";
    if (rx && !strcmp(rx, "none")) rx = NULL;
    int preset = rx && !strcmp(rx, "coronahack");
    regex_t re;
    int have_re = 0;
    if (rx && !preset) {
        int e = regcomp(&re, rx, REG_EXTENDED);
        if (e != 0) {
            char msg[200];
            regerror(e, &re, msg, sizeof msg);
            return xc_errorf("--patient-regex '%s': %s", rx, msg);
        }
        have_re = 1;
    }
    xc_prep_audit *a = &l->audit;
    int rc = 0;
    if (o->patient_column) {
        for (int64_t i = 0; i < l->n; i++)
            if (l->items[i].patient) {
                char *w = prep_strdupf("csv column '%s'", o->patient_column);
                rc = w ? add_source(&a->patient_source, w) : -1;
                free(w);
                break;
            }
    }
    char key[256];
    for (int64_t i = 0; i < l->n && rc == 0; i++) {
        xc_prep_item *it = &l->items[i];
        if (it->patient) continue;
        if (dicom_patient(it->path, key, sizeof key) == 1 && key[0]) {
            if (!(it->patient = strdup(key))) rc = xc_errorf("out of memory");
            else rc = add_source(&a->patient_source, "DICOM PatientID");
            continue;
        }
        const char *slash = strrchr(it->path, '/'), *base = slash ? slash + 1 : it->path;
        if (preset) {
            if (xc_prepare_coronahack_key(base, key, sizeof key) > 0) {
                if (!(it->patient = strdup(key))) rc = xc_errorf("out of memory");
                else rc = add_source(&a->patient_source, "coronahack file names");
            }
        } else if (have_re) {
            regmatch_t m[2];
            if (regexec(&re, base, 2, m, 0) == 0) {
                int g = m[1].rm_so >= 0 ? 1 : 0;
                if (m[g].rm_eo > m[g].rm_so) {
                    it->patient = prep_strdupf("%.*s", (int)(m[g].rm_eo - m[g].rm_so), base + m[g].rm_so);
                    char *w = it->patient ? prep_strdupf("regex '%s'", rx) : NULL;
                    rc = w ? add_source(&a->patient_source, w) : -1;
                    free(w);
                }
            }
        }
    }
    if (have_re) regfree(&re);
    return rc;
}

/* ---- grouping ------------------------------------------------------------------------------ */

static const xc_prep_list *sort_list;

static int cmp_key(const void *x, const void *y) {
    int64_t i = *(const int64_t *)x, j = *(const int64_t *)y;
    const char *a = sort_list->items[i].patient, *b = sort_list->items[j].patient;
    int c = strcmp(a, b);
    return c ? c : (i < j ? -1 : i > j);
}

/* group[i]: the patient group of item i (items without a key get a group of their own); groups
 * are numbered in order of their first item. Returns the number of groups, or -1. */
static int64_t make_groups(const xc_prep_list *l, int64_t *group) {
    int64_t *idx = malloc((size_t)(l->n ? l->n : 1) * sizeof *idx);
    int64_t *first = malloc((size_t)(l->n ? l->n : 1) * sizeof *first);
    if (!idx || !first) {
        free(idx);
        free(first);
        return xc_errorf("out of memory");
    }
    int64_t nk = 0;
    for (int64_t i = 0; i < l->n; i++)
        if (l->items[i].patient) idx[nk++] = i;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    sort_list = l;
    qsort(idx, (size_t)nk, sizeof *idx, cmp_key);
    pthread_mutex_unlock(&lock);
    /* first[i]: the first item (in source order) of item i's key */
    for (int64_t i = 0; i < l->n; i++) first[i] = i;
    for (int64_t s = 0; s < nk;) {
        int64_t e = s + 1;
        while (e < nk && !strcmp(l->items[idx[e]].patient, l->items[idx[s]].patient)) e++;
        for (int64_t j = s; j < e; j++) first[idx[j]] = idx[s]; /* idx is sorted by item within a key */
        s = e;
    }
    int64_t ng = 0;
    for (int64_t i = 0; i < l->n; i++) group[i] = first[i] == i ? ng++ : group[first[i]];
    free(idx);
    free(first);
    return ng;
}

int xc_prepare_carve_val(xc_prep_list *l, double frac, uint64_t seed) {
    if (!(frac >= 0.0 && frac < 1.0)) return xc_errorf("validation fraction %g: must be in [0, 1)", frac);
    if (frac == 0.0 || l->n == 0) return 0;
    int nc = l->audit.nclasses;
    int64_t n = l->n, *group = malloc((size_t)n * sizeof *group);
    if (!group) return xc_errorf("out of memory");
    int64_t ng = make_groups(l, group);
    int64_t *cnt = ng > 0 ? calloc((size_t)ng * (size_t)nc, sizeof *cnt) : NULL; /* train images [g][k] */
    int *primary = ng > 0 ? malloc((size_t)ng * sizeof *primary) : NULL;
    unsigned char *to_val = ng > 0 ? calloc((size_t)ng, 1) : NULL;
    int64_t *gs = ng > 0 ? malloc((size_t)ng * sizeof *gs) : NULL;
    int rc = 0;
    if (ng < 0 || !cnt || !primary || !to_val || !gs) {
        rc = ng < 0 ? -1 : xc_errorf("out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        if (l->items[i].split == XC_SPLIT_TRAIN) cnt[group[i] * nc + l->items[i].label]++;
    for (int64_t g = 0; g < ng; g++) {
        int best = -1;
        for (int k = 0; k < nc; k++)
            if (cnt[g * nc + k] > 0 && (best < 0 || cnt[g * nc + k] > cnt[g * nc + best])) best = k;
        primary[g] = best; /* -1: no training image */
    }
    for (int k = 0; k < nc; k++) {
        int64_t nk = 0, m = 0, taken = 0;
        for (int64_t i = 0; i < n; i++) nk += l->items[i].split == XC_SPLIT_TRAIN && l->items[i].label == k;
        for (int64_t g = 0; g < ng; g++)
            if (primary[g] == k) gs[m++] = g;
        int64_t target = (int64_t)llround(frac * (double)nk);
        if (nk >= 2 && target < 1) target = 1;
        if (target > nk - 1) target = nk - 1;
        for (int64_t g = 0; g < ng; g++) /* images of class k already moved with other classes' patients */
            if (to_val[g]) taken += cnt[g * nc + k];
        uint64_t state = seed ^ (0xD1B54A32D192ED03ULL * (uint64_t)(k + 1));
        int64_t left = m; /* groups of the class still in train */
        /* The seeded Fisher–Yates shuffle of the class's groups, walked in order: with one image
         * per patient this takes exactly the first `target`, as the per-image split did. */
        for (int64_t i = 0; i < m && taken < target && left > 1; i++) {
            int64_t j = i + (int64_t)(xc_splitmix64(&state) % (uint64_t)(m - i));
            int64_t t = gs[i];
            gs[i] = gs[j];
            gs[j] = t;
            int64_t g = gs[i];
            if (taken + cnt[g * nc + k] > target) continue;
            to_val[g] = 1;
            taken += cnt[g * nc + k];
            left--;
        }
    }
    for (int64_t i = 0; i < n; i++)
        if (l->items[i].split == XC_SPLIT_TRAIN && to_val[group[i]]) l->items[i].split = XC_SPLIT_VAL;
done:
    free(group);
    free(cnt);
    free(primary);
    free(to_val);
    free(gs);
    return rc;
}

/* ---- the given splits ---------------------------------------------------------------------- */

int prep_patient_check_given(const xc_prepare_opts *o, xc_prep_list *l) {
    int64_t n = l->n, *group = malloc((size_t)(n ? n : 1) * sizeof *group);
    if (!group) return xc_errorf("out of memory");
    int64_t ng = make_groups(l, group);
    unsigned *mask = ng > 0 ? calloc((size_t)ng, sizeof *mask) : NULL;
    int64_t *firsti = ng > 0 ? malloc((size_t)ng * sizeof *firsti) : NULL;
    int rc = 0;
    if (ng <= 0 || !mask || !firsti) {
        rc = ng < 0 ? -1 : ng == 0 ? 0 : xc_errorf("out of memory");
        goto done;
    }
    for (int64_t i = n - 1; i >= 0; i--) firsti[group[i]] = i;
    for (int64_t i = 0; i < n; i++) mask[group[i]] |= 1u << l->items[i].split;
    xc_prep_audit *a = &l->audit;
    int64_t shared = 0;
    for (int64_t g = 0; g < ng; g++) {
        if (!(mask[g] & (mask[g] - 1))) continue;
        shared++;
        if (a->nleaks >= LEAKS_LISTED) continue;
        xc_prep_leak *q = realloc(a->leaks, (size_t)(a->nleaks + 1) * sizeof *q);
        if (!q) { rc = xc_errorf("out of memory"); goto done; }
        a->leaks = q;
        xc_prep_leak *lk = &a->leaks[a->nleaks++];
        memset(lk, 0, sizeof *lk);
        lk->key = strdup(l->items[firsti[g]].patient);
        lk->splits = mask[g];
        lk->files = calloc(LEAK_FILES, sizeof *lk->files);
        if (!lk->key || !lk->files) { rc = xc_errorf("out of memory"); goto done; }
        for (int64_t i = firsti[g]; i < n && lk->nfiles < LEAK_FILES; i++)
            if (group[i] == g && !(lk->files[lk->nfiles++] = strdup(l->items[i].file))) { rc = xc_errorf("out of memory"); goto done; }
    }
    a->shared_patients = shared;
    if (shared == 0) goto done;
    char ex[512];
    const xc_prep_leak *f = &a->leaks[0];
    snprintf(ex, sizeof ex, "'%s' (%s%s%s)", f->key, f->files[0], f->nfiles > 1 ? ", " : "", f->nfiles > 1 ? f->files[1] : "");
    if (o->source == XC_SOURCE_CORONAHACK) {
        rc = prep_audit_warn(a, "%lld patient%s of CoronaHack's own TRAIN/TEST split appear in both (e.g. %s): the split is "
                             "taken as given, so test results include patients seen in training",
                             (long long)shared, shared == 1 ? "" : "s", ex);
    } else if (o->allow_leak) {
        rc = prep_audit_warn(a, "the given splits share %lld patient%s (e.g. %s): kept (--allow-leak)", (long long)shared,
                             shared == 1 ? "" : "s", ex);
    } else {
        rc = xc_errorf("the given splits share %lld patient%s (e.g. %s, keys from %s): a model would be evaluated on patients "
                       "it trained on (--allow-leak keeps them with a warning)",
                       (long long)shared, shared == 1 ? "" : "s", ex, a->patient_source ? a->patient_source : "?");
    }
done:
    free(group);
    free(mask);
    free(firsti);
    return rc;
}

/* ---- the audit ----------------------------------------------------------------------------- */

int prep_patient_count(xc_prep_list *l) {
    xc_prep_audit *a = &l->audit;
    int nc = a->nclasses;
    free(a->patients);
    a->patients = calloc((size_t)XC_NSPLITS * (size_t)(nc ? nc : 1), sizeof *a->patients);
    int64_t n = l->n, *group = malloc((size_t)(n ? n : 1) * sizeof *group);
    if (!a->patients || !group) {
        free(group);
        return xc_errorf("out of memory");
    }
    int64_t ng = make_groups(l, group);
    unsigned char *seen = ng > 0 ? calloc((size_t)ng * XC_NSPLITS * (size_t)(nc + 1), 1) : NULL;
    if (ng < 0 || (ng > 0 && !seen)) {
        free(group);
        return ng < 0 ? -1 : xc_errorf("out of memory");
    }
    memset(a->patients_split, 0, sizeof a->patients_split);
    a->keyless = 0;
    for (int64_t i = 0; i < n; i++) {
        const xc_prep_item *it = &l->items[i];
        a->keyless += it->patient == NULL;
        unsigned char *s = seen + ((size_t)group[i] * XC_NSPLITS + it->split) * (size_t)(nc + 1);
        if (!s[nc]) s[nc] = 1, a->patients_split[it->split]++;
        if (!s[it->label]) s[it->label] = 1, a->patients[it->split * nc + it->label]++;
    }
    free(seen);
    free(group);
    return 0;
}

void prep_patient_clear(xc_prep_audit *a) {
    free(a->patient_source);
    free(a->patients);
    for (int i = 0; i < a->nleaks; i++) {
        free(a->leaks[i].key);
        prep_free_strv(a->leaks[i].files, a->leaks[i].nfiles);
    }
    free(a->leaks);
}

void prep_patient_json(const xc_prep_audit *a, cJSON *o) {
    cJSON *p = cJSON_AddObjectToObject(o, "patients");
    if (!p) return;
    if (a->patient_source) cJSON_AddStringToObject(p, "key", a->patient_source);
    else cJSON_AddNullToObject(p, "key");
    cJSON_AddNumberToObject(p, "keyless", (double)a->keyless);
    cJSON *ps = cJSON_AddObjectToObject(p, "per_split");
    for (int s = 0; ps && a->patients && s < XC_NSPLITS; s++) {
        if (a->patients_split[s] == 0) continue;
        cJSON *so = cJSON_AddObjectToObject(ps, xc_split_name((xc_split)s));
        if (!so) continue;
        cJSON_AddNumberToObject(so, "patients", (double)a->patients_split[s]);
        cJSON *pc = cJSON_AddObjectToObject(so, "per_class");
        for (int k = 0; pc && k < a->nclasses; k++)
            cJSON_AddNumberToObject(pc, a->classes[k], (double)a->patients[s * a->nclasses + k]);
    }
    cJSON *sh = cJSON_AddObjectToObject(p, "shared");
    if (!sh) return;
    cJSON_AddNumberToObject(sh, "count", (double)a->shared_patients);
    cJSON *list = cJSON_AddArrayToObject(sh, "list");
    for (int i = 0; list && i < a->nleaks; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        cJSON_AddStringToObject(e, "patient", a->leaks[i].key);
        cJSON *sp = cJSON_AddArrayToObject(e, "splits");
        for (int s = 0; sp && s < XC_NSPLITS; s++)
            if (a->leaks[i].splits & (1u << s)) cJSON_AddItemToArray(sp, cJSON_CreateString(xc_split_name((xc_split)s)));
        cJSON *fl = cJSON_AddArrayToObject(e, "files");
        for (int j = 0; fl && j < a->leaks[i].nfiles; j++) cJSON_AddItemToArray(fl, cJSON_CreateString(a->leaks[i].files[j]));
        cJSON_AddItemToArray(list, e);
    }
}
