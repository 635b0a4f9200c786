/* task.c — label mappings from the CoronaHack label columns to the classes of a task, and the
 * paper's presets (prepare.h, "tasks"). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "xraycls/prepare.h"

#define MAX_RULES 64
#define MAX_TASK_CLASSES 64

struct rule {
    char *pat[3]; /* NULL: any; "": empty; else a value */
    int cls;      /* class, or -1: exclude */
    char *reason; /* for exclusions (NULL: default) */
};

struct xc_task {
    char *name;
    char *classes[MAX_TASK_CLASSES];
    int nclasses;
    struct rule rules[MAX_RULES];
    int nrules;
};

static const char *const column_names[3] = {"Label", "Label_1_Virus_category", "Label_2_Virus_category"};

/* The real file's vocabulary, in canonical spelling; "" stands for an empty field. */
static const char *const vocab[3][6] = {
    {"Normal", "Pneumonia", NULL},
    {"bacteria", "Virus", "Stress-Smoking", "", NULL},
    {"COVID-19", "Streptococcus", "SARS", "ARDS", "", NULL},
};

/* `Pnemonia` is the real file's spelling of `Pneumonia`. */
static const char *canon(const char *v) {
    if (!strcasecmp(v, "Pnemonia")) return "Pneumonia";
    return v;
}

static int value_eq(const char *a, const char *b) { return strcasecmp(canon(a), canon(b)) == 0; }

/* A value with surrounding spaces trimmed into buf. */
static const char *trim(const char *v, char *buf, size_t n) {
    if (!v) v = "";
    while (*v == ' ' || *v == '\t') v++;
    size_t l = strlen(v);
    while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t')) l--;
    if (l >= n) l = n - 1;
    memcpy(buf, v, l);
    buf[l] = '\0';
    return buf;
}

void xc_task_free(xc_task *t) {
    if (!t) return;
    free(t->name);
    for (int k = 0; k < t->nclasses; k++) free(t->classes[k]);
    for (int r = 0; r < t->nrules; r++) {
        for (int j = 0; j < 3; j++) free(t->rules[r].pat[j]);
        free(t->rules[r].reason);
    }
    free(t);
}

xc_task *xc_task_new(const char *name, const char *const *classes, int nclasses) {
    if (!name || !*name) {
        xc_errorf("task: empty name");
        return NULL;
    }
    if (nclasses < 1 || nclasses > MAX_TASK_CLASSES) {
        xc_errorf("task '%s': %d classes (1 to %d allowed)", name, nclasses, MAX_TASK_CLASSES);
        return NULL;
    }
    xc_task *t = calloc(1, sizeof *t);
    if (!t || !(t->name = strdup(name))) {
        free(t);
        xc_errorf("task '%s': out of memory", name);
        return NULL;
    }
    for (int k = 0; k < nclasses; k++) {
        if (!classes[k] || !*classes[k]) {
            xc_errorf("task '%s': class %d has an empty name", name, k);
            goto fail;
        }
        for (int j = 0; j < k; j++)
            if (!strcmp(classes[j], classes[k])) {
                xc_errorf("task '%s': class '%s' named twice", name, classes[k]);
                goto fail;
            }
        if (!(t->classes[k] = strdup(classes[k]))) {
            xc_errorf("task '%s': out of memory", name);
            goto fail;
        }
        t->nclasses = k + 1;
    }
    return t;
fail:
    xc_task_free(t);
    return NULL;
}

int xc_task_add_rule(xc_task *t, const char *label, const char *label_1, const char *label_2,
                     const char *cls, const char *reason) {
    if (t->nrules == MAX_RULES) return xc_errorf("task '%s': more than %d rules", t->name, MAX_RULES);
    struct rule *r = &t->rules[t->nrules];
    memset(r, 0, sizeof *r);
    const char *pats[3] = {label, label_1, label_2};
    char buf[256];
    for (int j = 0; j < 3; j++) {
        if (!pats[j] || !strcmp(pats[j], "*")) continue;
        if (!(r->pat[j] = strdup(trim(pats[j], buf, sizeof buf)))) goto oom;
    }
    r->cls = -1;
    if (cls) {
        r->cls = xc_task_class_index(t, cls);
        if (r->cls < 0) {
            for (int j = 0; j < 3; j++) free(r->pat[j]);
            return xc_errorf("task '%s': rule %d names class '%s', which is not one of its classes",
                             t->name, t->nrules + 1, cls);
        }
    } else if (reason && !(r->reason = strdup(reason))) {
        goto oom;
    }
    t->nrules++;
    return 0;
oom:
    for (int j = 0; j < 3; j++) free(r->pat[j]);
    return xc_errorf("task '%s': out of memory", t->name);
}

static xc_task *build(const char *name, const char *const *classes, int n) {
    return xc_task_new(name, classes, n);
}

xc_task *xc_task_preset(const char *name, int exclude_covid) {
    xc_task *t = NULL;
    int rc = 0;
    if (exclude_covid && (!name || strcmp(name, "bacteria-vs-virus") != 0)) {
        xc_errorf("task '%s': exclude_covid applies only to task bacteria-vs-virus", name ? name : "");
        return NULL;
    }
    if (name && !strcmp(name, "4class")) {
        static const char *const c[] = {"Normal", "Bacteria", "Virus", "COVID-19"};
        if (!(t = build(name, c, 4))) return NULL;
        rc |= xc_task_add_rule(t, "Normal", NULL, NULL, "Normal", NULL);
        rc |= xc_task_add_rule(t, "Pneumonia", NULL, "COVID-19", "COVID-19", NULL);
        rc |= xc_task_add_rule(t, "Pneumonia", "bacteria", NULL, "Bacteria", NULL);
        rc |= xc_task_add_rule(t, "Pneumonia", "Virus", NULL, "Virus", NULL);
    } else if (name && !strcmp(name, "bacteria-vs-virus")) {
        static const char *const c[] = {"Bacteria", "Virus"};
        if (!(t = build(name, c, 2))) return NULL;
        if (exclude_covid)
            rc |= xc_task_add_rule(t, "Pneumonia", NULL, "COVID-19", NULL,
                                   "COVID-19 excluded from task bacteria-vs-virus (exclude_covid)");
        else
            rc |= xc_task_add_rule(t, "Pneumonia", NULL, "COVID-19", "Virus", NULL);
        rc |= xc_task_add_rule(t, "Pneumonia", "bacteria", NULL, "Bacteria", NULL);
        rc |= xc_task_add_rule(t, "Pneumonia", "Virus", NULL, "Virus", NULL);
    } else if (name && !strcmp(name, "normal-vs-pneumonia")) {
        static const char *const c[] = {"Normal", "Pneumonia"};
        if (!(t = build(name, c, 2))) return NULL;
        rc |= xc_task_add_rule(t, "Normal", NULL, NULL, "Normal", NULL);
        rc |= xc_task_add_rule(t, "Pneumonia", NULL, NULL, "Pneumonia", NULL);
    } else if (name && !strcmp(name, "covid-vs-rest")) {
        static const char *const c[] = {"Other", "COVID-19"};
        if (!(t = build(name, c, 2))) return NULL;
        rc |= xc_task_add_rule(t, NULL, NULL, "COVID-19", "COVID-19", NULL);
        rc |= xc_task_add_rule(t, NULL, NULL, NULL, "Other", NULL);
    } else {
        xc_errorf("unknown task '%s' (presets: 4class, bacteria-vs-virus, normal-vs-pneumonia, "
                  "covid-vs-rest; or a mapping in the config)", name ? name : "");
        return NULL;
    }
    if (rc) {
        xc_task_free(t);
        return NULL;
    }
    return t;
}

int xc_task_num_classes(const xc_task *t) { return t->nclasses; }
const char *xc_task_class(const xc_task *t, int k) { return (k >= 0 && k < t->nclasses) ? t->classes[k] : ""; }

int xc_task_class_index(const xc_task *t, const char *name) {
    for (int k = 0; k < t->nclasses; k++)
        if (!strcmp(t->classes[k], name)) return k;
    return -1;
}

/* The canonical spelling of a known value, or NULL when unknown. */
static const char *known(const xc_task *t, int col, const char *v) {
    for (int i = 0; vocab[col][i]; i++)
        if (value_eq(vocab[col][i], v)) return vocab[col][i];
    for (int r = 0; r < t->nrules; r++)
        if (t->rules[r].pat[col] && value_eq(t->rules[r].pat[col], v)) return t->rules[r].pat[col];
    return NULL;
}

/* How a row is named in reasons: "Normal", "bacteria", "Virus/COVID-19", "Stress-Smoking/ARDS",
 * "Pneumonia" (no subtype); the Label is left out for pneumonia rows with a subtype. */
static void describe(const char *v[3], char *out, size_t n) {
    int first = !strcmp(v[0], "Pneumonia") && (*v[1] || *v[2]) ? 1 : 0;
    size_t o = 0;
    out[0] = '\0';
    for (int j = first; j < 3 && o < n; j++) {
        if (!*v[j]) continue;
        int w = snprintf(out + o, n - o, "%s%s", o ? "/" : "", v[j]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

static int pattern_matches(const char *pat, const char *v) {
    if (!pat) return 1;
    if (!*pat) return *v == '\0';
    return value_eq(pat, v);
}

int xc_task_map(const xc_task *t, const char *label, const char *label_1, const char *label_2,
                char *why, size_t whylen) {
    char b[3][256];
    const char *raw[3] = {label, label_1, label_2};
    const char *v[3];
    for (int j = 0; j < 3; j++) {
        const char *tv = trim(raw[j], b[j], sizeof b[j]);
        const char *k = known(t, j, tv);
        if (!k) {
            snprintf(why, whylen, "unknown %s value '%s'", column_names[j], tv);
            return XC_TASK_UNKNOWN;
        }
        v[j] = k;
    }
    char desc[160];
    describe(v, desc, sizeof desc);
    for (int r = 0; r < t->nrules; r++) {
        const struct rule *ru = &t->rules[r];
        if (!pattern_matches(ru->pat[0], v[0]) || !pattern_matches(ru->pat[1], v[1]) ||
            !pattern_matches(ru->pat[2], v[2]))
            continue;
        if (ru->cls >= 0) return ru->cls;
        if (ru->reason) snprintf(why, whylen, "%s", ru->reason);
        else snprintf(why, whylen, "%s excluded by task %s", desc, t->name);
        return XC_TASK_EXCLUDED;
    }
    snprintf(why, whylen, "%s not in task %s", desc, t->name);
    return XC_TASK_EXCLUDED;
}

char *xc_task_json(const xc_task *t) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON *cl = cJSON_AddArrayToObject(o, "classes");
    for (int k = 0; cl && k < t->nclasses; k++) cJSON_AddItemToArray(cl, cJSON_CreateString(t->classes[k]));
    cJSON *rs = cJSON_AddArrayToObject(o, "rules");
    static const char *const keys[3] = {"label", "label_1", "label_2"};
    for (int r = 0; rs && r < t->nrules; r++) {
        cJSON *ro = cJSON_CreateObject();
        if (!ro) break;
        for (int j = 0; j < 3; j++) cJSON_AddStringToObject(ro, keys[j], t->rules[r].pat[j] ? t->rules[r].pat[j] : "*");
        if (t->rules[r].cls >= 0) {
            cJSON_AddStringToObject(ro, "class", t->classes[t->rules[r].cls]);
        } else {
            cJSON_AddTrueToObject(ro, "exclude");
            if (t->rules[r].reason) cJSON_AddStringToObject(ro, "reason", t->rules[r].reason);
        }
        cJSON_AddItemToArray(rs, ro);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s) xc_errorf("task '%s': out of memory", t->name);
    return s;
}
