/* prepare_config.c — the JSON config of `xraycls prepare` (prepare.h, xc_prepare_config_load):
 * every setting of the command, read strictly (unknown keys and wrong types are errors naming
 * the key path), including a custom task given as rules. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prepare_internal.h"
#include "xraycls/json.h"

/* A string member into an owned field: 1 set, 0 absent, -1 error. */
static int get_str(const cJSON *obj, const char *key, char **field) {
    const char *s;
    int r = xc_json_get_string(obj, "", key, 0, &s);
    if (r == 1 && xc_prepare_set_str(field, s) < 0) return -1;
    return r;
}

static int get_policy(const cJSON *obj, const char *key, xc_policy *out) {
    static const char *const choices[] = {"error", "skip"};
    int v;
    int r = xc_json_get_choice(obj, "", key, 0, choices, 2, &v);
    if (r == 1) *out = (xc_policy)v;
    return r;
}

/* A custom task: {"name", "classes": [...], "rules": [{"label", "label_1", "label_2",
 * "class" | "exclude": true, "reason"}]}. */
static xc_task *parse_task(const cJSON *t) {
    static const char *const keys[] = {"name", "classes", "rules"};
    static const char *const rule_keys[] = {"label", "label_1", "label_2", "class", "exclude", "reason"};
    const char *name = "custom";
    const cJSON *classes, *rules;
    if (xc_json_check_keys(t, "task", keys, 3) < 0 || xc_json_get_string(t, "task", "name", 0, &name) < 0 ||
        xc_json_get_array(t, "task", "classes", 1, &classes) < 0 || xc_json_get_array(t, "task", "rules", 1, &rules) < 0)
        return NULL;
    int n = cJSON_GetArraySize(classes);
    if (n < 1 || n > 64) {
        xc_errorf("task.classes: %d classes (1 to 64 allowed)", n);
        return NULL;
    }
    const char *names[64];
    for (int k = 0; k < n; k++) {
        char path[64];
        snprintf(path, sizeof path, "task.classes[%d]", k);
        if (xc_json_item_string(cJSON_GetArrayItem(classes, k), path, &names[k]) < 0) return NULL;
    }
    xc_task *task = xc_task_new(name, names, n);
    if (!task) return NULL;
    int nr = cJSON_GetArraySize(rules);
    if (nr == 0) {
        xc_errorf("task.rules: no rule (each maps label, label_1, label_2 to a class)");
        goto fail;
    }
    for (int r = 0; r < nr; r++) {
        const cJSON *ru = cJSON_GetArrayItem(rules, r);
        char path[64];
        snprintf(path, sizeof path, "task.rules[%d]", r);
        const char *pat[3] = {NULL, NULL, NULL}, *cls = NULL, *reason = NULL;
        int exclude = 0;
        if (xc_json_check_keys(ru, path, rule_keys, 6) < 0 || xc_json_get_string(ru, path, "label", 0, &pat[0]) < 0 ||
            xc_json_get_string(ru, path, "label_1", 0, &pat[1]) < 0 ||
            xc_json_get_string(ru, path, "label_2", 0, &pat[2]) < 0 ||
            xc_json_get_string(ru, path, "class", 0, &cls) < 0 || xc_json_get_bool(ru, path, "exclude", 0, &exclude) < 0 ||
            xc_json_get_string(ru, path, "reason", 0, &reason) < 0)
            goto fail;
        if ((cls != NULL) == (exclude != 0)) {
            xc_errorf("%s: give either \"class\" or \"exclude\": true", path);
            goto fail;
        }
        if (xc_task_add_rule(task, pat[0], pat[1], pat[2], cls, reason) < 0) {
            xc_errorf("%s: %s", path, xc_error());
            goto fail;
        }
    }
    return task;
fail:
    xc_task_free(task);
    return NULL;
}

static int load(xc_prepare_opts *o, const cJSON *c) {
    static const char *const keys[] = {"source",       "root",       "csv",        "train_dir",        "test_dir",
                                       "task",         "exclude_covid", "classes", "add_folders",      "add_split",
                                       "val_fraction", "seed",       "size",       "channels",         "rgb",
                                       "on_missing",   "on_corrupt", "on_unknown_label", "threads",    "output",
                                       "overwrite",    "patient_column", "patient_regex", "allow_leak",
                                       "near_distance", "findings",  "findings_column", "path_column", "no_finding",
                                       "uncertain",    "blank"};
    if (xc_json_check_keys(c, "", keys, (int)(sizeof keys / sizeof keys[0])) < 0) return -1;
    const char *s;
    int r;
    if ((r = xc_json_get_string(c, "", "source", 0, &s)) < 0) return -1;
    if (r == 1 && xc_source_parse(s, &o->source) < 0) return xc_errorf("source: %s", xc_error());
    if (get_str(c, "root", &o->root) < 0 || get_str(c, "csv", &o->csv) < 0 ||
        get_str(c, "train_dir", &o->train_dir) < 0 || get_str(c, "test_dir", &o->test_dir) < 0 ||
        get_str(c, "output", &o->out) < 0)
        return -1;
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(c, "task");
    if (task && cJSON_IsString(task)) {
        if (xc_prepare_set_str(&o->task_name, task->valuestring) < 0) return -1;
        xc_task_free(o->task);
        o->task = NULL;
    } else if (task && cJSON_IsObject(task)) {
        xc_task *t = parse_task(task);
        if (!t) return -1;
        xc_task_free(o->task);
        o->task = t;
    } else if (task) {
        return xc_errorf("task: expected a preset name or an object, got %s", xc_json_type_name(task));
    }
    if (xc_json_get_bool(c, "", "exclude_covid", 0, &o->exclude_covid) < 0) return -1;
    const cJSON *arr;
    if ((r = xc_json_get_array(c, "", "classes", 0, &arr)) < 0) return -1;
    if (r == 1) {
        int n = cJSON_GetArraySize(arr);
        char **v = calloc((size_t)(n ? n : 1), sizeof *v);
        if (!v) return xc_errorf("out of memory");
        for (int k = 0; k < n; k++) {
            char path[64];
            const char *name;
            snprintf(path, sizeof path, "classes[%d]", k);
            if (xc_json_item_string(cJSON_GetArrayItem(arr, k), path, &name) < 0 || !(v[k] = strdup(name))) {
                prep_free_strv(v, n);
                return -1;
            }
        }
        prep_free_strv(o->classes, o->nclasses);
        o->classes = v;
        o->nclasses = n;
    }
    if ((r = xc_json_get_array(c, "", "add_folders", 0, &arr)) < 0) return -1;
    for (int i = 0; r == 1 && i < cJSON_GetArraySize(arr); i++) {
        static const char *const ekeys[] = {"class", "dir"};
        const cJSON *e = cJSON_GetArrayItem(arr, i);
        char path[64];
        const char *cls, *dir;
        snprintf(path, sizeof path, "add_folders[%d]", i);
        if (xc_json_check_keys(e, path, ekeys, 2) < 0 || xc_json_get_string(e, path, "class", 1, &cls) < 0 ||
            xc_json_get_string(e, path, "dir", 1, &dir) < 0)
            return -1;
        char *spec = prep_strdupf("%s=%s", cls, dir);
        int bad = !spec || xc_prepare_add_extra(o, spec) < 0;
        free(spec);
        if (bad) return xc_errorf("%s: %s", path, xc_error());
    }
    static const char *const splits[] = {"train", "val", "test"};
    int v;
    if ((r = xc_json_get_choice(c, "", "add_split", 0, splits, 3, &v)) < 0) return -1;
    if (r == 1) o->add_split = (xc_split)v;
    if (xc_json_get_double_in(c, "", "val_fraction", 0, 0.0, 0.95, &o->val_fraction) < 0) return -1;
    long long n;
    if ((r = xc_json_get_int_in(c, "", "seed", 0, 0, (1LL << 53) - 1, &n)) < 0) return -1;
    if (r == 1) o->seed = (uint64_t)n;
    if ((r = xc_json_get_int_in(c, "", "size", 0, 8, 4096, &n)) < 0) return -1;
    if (r == 1) o->size = (int)n;
    if ((r = xc_json_get_int_in(c, "", "channels", 0, 1, 3, &n)) < 0) return -1;
    if (r == 1) {
        if (n == 2) return xc_errorf("channels: 2 is not 1 or 3");
        o->channels = (int)n;
    }
    int rgb;
    if ((r = xc_json_get_bool(c, "", "rgb", 0, &rgb)) < 0) return -1;
    if (r == 1) o->channels = rgb ? 3 : 1;
    if (get_policy(c, "on_missing", &o->on_missing) < 0 || get_policy(c, "on_corrupt", &o->on_corrupt) < 0 ||
        get_policy(c, "on_unknown_label", &o->on_unknown_label) < 0)
        return -1;
    if ((r = xc_json_get_int_in(c, "", "threads", 0, 0, 1024, &n)) < 0) return -1;
    if (r == 1) o->threads = (int)n;
    if (xc_json_get_bool(c, "", "overwrite", 0, &o->overwrite) < 0) return -1;
    if (get_str(c, "patient_column", &o->patient_column) < 0 || get_str(c, "patient_regex", &o->patient_regex) < 0 ||
        xc_json_get_bool(c, "", "allow_leak", 0, &o->allow_leak) < 0)
        return -1;
    if ((r = xc_json_get_int_in(c, "", "near_distance", 0, -1, 64, &n)) < 0) return -1;
    if (r == 1) o->near_distance = (int)n;
    if (get_str(c, "findings_column", &o->findings_column) < 0 || get_str(c, "path_column", &o->path_column) < 0 ||
        get_str(c, "no_finding", &o->no_finding) < 0)
        return -1;
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(c, "findings");
    if (fi && cJSON_IsString(fi)) {
        if (strcmp(fi->valuestring, "chexnet") != 0)
            return xc_errorf("findings: expected \"chexnet\" or an array of names, got \"%s\"", fi->valuestring);
        if (xc_prepare_set_findings(o, "chexnet") < 0) return -1;
    } else if (fi && cJSON_IsArray(fi)) {
        int nf = cJSON_GetArraySize(fi);
        if (nf < 1) return xc_errorf("findings: an empty list");
        char **v = calloc((size_t)nf, sizeof *v);
        if (!v) return xc_errorf("out of memory");
        for (int k = 0; k < nf; k++) {
            char path[64];
            const char *name;
            snprintf(path, sizeof path, "findings[%d]", k);
            int e = xc_json_item_string(cJSON_GetArrayItem(fi, k), path, &name);
            if (e == 0 && !*name) e = xc_errorf("%s: an empty name", path);
            if (e == 0 && !(v[k] = strdup(name))) e = xc_errorf("out of memory");
            if (e < 0) {
                prep_free_strv(v, nf);
                return -1;
            }
            for (int j = 0; j < k; j++)
                if (!strcmp(v[j], v[k])) {
                    int e = xc_errorf("findings: '%s' named twice", v[k]);
                    prep_free_strv(v, nf);
                    return e;
                }
        }
        prep_free_strv(o->findings, o->nfindings);
        o->findings = v;
        o->nfindings = nf;
    } else if (fi) {
        return xc_errorf("findings: expected \"chexnet\" or an array of names, got %s", xc_json_type_name(fi));
    }
    static const char *const unc[] = {"ignore", "zeros", "ones"}, *const blank[] = {"negative", "unknown"};
    if ((r = xc_json_get_choice(c, "", "uncertain", 0, unc, 3, &v)) < 0) return -1;
    if (r == 1) o->uncertain = (xc_uncertain)v;
    if ((r = xc_json_get_choice(c, "", "blank", 0, blank, 2, &v)) < 0) return -1;
    if (r == 1) o->blank_unknown = v;
    return 0;
}

int xc_prepare_config_load(xc_prepare_opts *o, const char *path) {
    cJSON *c = xc_json_read_file(path, (size_t)16 << 20);
    if (!c) return -1;
    int rc = 0;
    if (!cJSON_IsObject(c)) rc = xc_errorf("config '%s': expected an object, got %s", path, xc_json_type_name(c));
    else if (load(o, c) < 0) rc = xc_errorf("config '%s': %s", path, xc_error());
    cJSON_Delete(c);
    return rc;
}
