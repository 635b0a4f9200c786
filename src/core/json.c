/* json.c — strict getters over cJSON that name the key path in their messages, and atomic JSON
 * writing (see xraycls/json.h). */
#include "xraycls/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"

/* Integers beyond this are not exact in the double that cJSON stores. */
#define EXACT_INT_LIMIT 9007199254740992.0 /* 2^53 */

const char *xc_json_type_name(const cJSON *item) {
    if (!item) return "nothing";
    if (cJSON_IsObject(item)) return "object";
    if (cJSON_IsArray(item)) return "array";
    if (cJSON_IsString(item)) return "string";
    if (cJSON_IsNumber(item)) return "number";
    if (cJSON_IsBool(item)) return "boolean";
    if (cJSON_IsNull(item)) return "null";
    return "invalid value";
}

char *xc_json_key_path(char *buf, size_t cap, const char *path, const char *key) {
    if (path && *path) snprintf(buf, cap, "%s.%s", path, key);
    else snprintf(buf, cap, "%s", key);
    return buf;
}

/* ---- duplicate keys ------------------------------------------------------------------------- */

/* cJSON keeps a repeated key as a second member that every lookup skips, so `"lr": 0.001,
 * "lr": 10` would silently mean whichever the reader happens to find. The tree is checked
 * (each object's names sorted, so the check is n log n); only when a duplicate is found is the
 * text scanned again for the lines of both, pairing the k-th '{' of the text with the k-th
 * object of a pre-order walk of the tree and the j-th key with the j-th member. */

typedef struct {
    const cJSON *obj; /* the object holding the duplicate */
    int ordinal;      /* its place among the objects, in document order */
    int first, second; /* member indices */
    char path[512];
} dup_found;

static int cmp_member(const void *a, const void *b) {
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    int c = strcmp(x->string, y->string);
    if (c) return c;
    return x < y ? -1 : x > y; /* same name: keep a stable pair */
}

static int member_index(const cJSON *obj, const cJSON *m) {
    int i = 0;
    for (const cJSON *c = obj->child; c; c = c->next, i++)
        if (c == m) return i;
    return -1;
}

/* 1 when a duplicate was found (d filled), 0 when none, -1 when out of memory. */
static int find_dup(const cJSON *item, const char *path, int *ordinal, dup_found *d) {
    if (cJSON_IsObject(item)) {
        int me = (*ordinal)++;
        int n = 0;
        for (const cJSON *c = item->child; c; c = c->next) n++;
        if (n > 1) {
            const cJSON **v = malloc((size_t)n * sizeof *v);
            if (!v) return -1;
            int k = 0;
            for (const cJSON *c = item->child; c; c = c->next) v[k++] = c;
            qsort(v, (size_t)n, sizeof *v, cmp_member);
            for (int i = 1; i < n; i++) {
                if (strcmp(v[i - 1]->string, v[i]->string)) continue;
                int a = member_index(item, v[i - 1]), b = member_index(item, v[i]);
                d->obj = item;
                d->ordinal = me;
                d->first = a < b ? a : b;
                d->second = a < b ? b : a;
                xc_json_key_path(d->path, sizeof d->path, path, v[i]->string);
                free(v);
                return 1;
            }
            free(v);
        }
    }
    if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
        int i = 0;
        for (const cJSON *c = item->child; c; c = c->next, i++) {
            char sub[512];
            if (cJSON_IsObject(item)) xc_json_key_path(sub, sizeof sub, path, c->string);
            else snprintf(sub, sizeof sub, "%s[%d]", path ? path : "", i);
            int r = find_dup(c, sub, ordinal, d);
            if (r) return r;
        }
    }
    return 0;
}

/* The lines of keys `first` and `second` of the ordinal-th object of valid JSON text. */
static void dup_lines(const char *t, size_t len, const dup_found *d, int *l1, int *l2) {
    *l1 = *l2 = 0;
    int line = 1, objects = 0;
    /* Per open container: its ordinal (-1 for arrays), the next member's index, and whether the
     * next string in it is a key. */
    enum { DEPTH = 1024 };
    static _Thread_local int ord[DEPTH], member[DEPTH];
    static _Thread_local char want_key[DEPTH];
    int depth = 0;
    for (size_t i = 0; i < len; i++) {
        char c = t[i];
        if (c == '\n') line++;
        else if (c == '{' || c == '[') {
            if (depth < DEPTH) {
                ord[depth] = c == '{' ? objects : -1;
                member[depth] = 0;
                want_key[depth] = c == '{';
            }
            if (c == '{') objects++;
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (c == ',') {
            if (depth > 0 && depth <= DEPTH && ord[depth - 1] >= 0) want_key[depth - 1] = 1;
        } else if (c == '"') {
            int is_key = depth > 0 && depth <= DEPTH && ord[depth - 1] >= 0 && want_key[depth - 1];
            if (is_key) {
                want_key[depth - 1] = 0;
                if (ord[depth - 1] == d->ordinal) {
                    if (member[depth - 1] == d->first) *l1 = line;
                    if (member[depth - 1] == d->second) *l2 = line;
                }
                member[depth - 1]++;
            }
            for (i++; i < len && t[i] != '"'; i++)
                if (t[i] == '\\') i++; /* strings hold no raw newline in valid JSON */
        }
    }
}

cJSON *xc_json_parse(const char *text, size_t len, const char *what) {
    /* cJSON refuses trailing garbage only when a NUL follows the text, so copy it. */
    char *copy = malloc(len + 1);
    if (!copy) {
        xc_errorf("cannot parse '%s': out of memory", what);
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (memchr(copy, '\0', len)) {
        free(copy);
        xc_errorf("invalid JSON in '%s': contains a NUL byte", what);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(copy, len + 1, &end, 1);
    if (!root) {
        size_t at = (end && end >= copy && end <= copy + len) ? (size_t)(end - copy) : len;
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
            if (copy[i] == '\n') line++, col = 1;
            else col++;
        }
        xc_errorf("invalid JSON in '%s' at line %d, column %d", what, line, col);
    } else {
        dup_found d;
        int ordinal = 0;
        int r = find_dup(root, "", &ordinal, &d);
        if (r != 0) {
            if (r < 0) {
                xc_errorf("cannot parse '%s': out of memory", what);
            } else {
                int l1, l2;
                dup_lines(copy, len, &d, &l1, &l2);
                xc_errorf("invalid JSON in '%s': key '%s' appears twice, at line %d and line %d (a repeated key "
                          "would silently override the first)", what, d.path, l1, l2);
            }
            cJSON_Delete(root);
            root = NULL;
        }
    }
    free(copy);
    return root;
}

cJSON *xc_json_read_file(const char *path, size_t max) {
    size_t len;
    char *text = xc_read_file(path, &len, max);
    if (!text) return NULL;
    cJSON *root = xc_json_parse(text, len, path);
    free(text);
    return root;
}

/* ---- values in hand ------------------------------------------------------------------------ */

static int expected(const cJSON *item, const char *path, const char *what) {
    return xc_errorf("%s: expected %s, got %s", path, what, xc_json_type_name(item));
}

int xc_json_item_int(const cJSON *item, const char *path, long long min, long long max, long long *out) {
    if (!cJSON_IsNumber(item)) return expected(item, path, "an integer");
    double v = item->valuedouble;
    if (!isfinite(v) || fabs(v) >= EXACT_INT_LIMIT) return xc_errorf("%s: %g is too large", path, v);
    if (v != floor(v)) return xc_errorf("%s: expected an integer, got %g", path, v);
    long long i = (long long)v;
    if (i < min || i > max) return xc_errorf("%s: %lld is out of range [%lld, %lld]", path, i, min, max);
    *out = i;
    return 0;
}

int xc_json_item_double(const cJSON *item, const char *path, double min, double max, double *out) {
    if (!cJSON_IsNumber(item)) return expected(item, path, "a number");
    double v = item->valuedouble;
    if (!isfinite(v)) return xc_errorf("%s: %g is not a finite number", path, v);
    if (v < min || v > max) return xc_errorf("%s: %g is out of range [%g, %g]", path, v, min, max);
    *out = v;
    return 0;
}

int xc_json_item_bool(const cJSON *item, const char *path, int *out) {
    if (!cJSON_IsBool(item)) return expected(item, path, "true or false");
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return 0;
}

int xc_json_item_string(const cJSON *item, const char *path, const char **out) {
    if (!cJSON_IsString(item) || !item->valuestring) return expected(item, path, "a string");
    *out = item->valuestring;
    return 0;
}

/* ---- members ------------------------------------------------------------------------------- */

/* Finds obj[key] (case-sensitive). Returns 1 found, 0 absent and optional, -1 error; kp gets the
 * joined key path. */
static int member(const cJSON *obj, const char *path, const char *key, int required, const cJSON **item,
                  char *kp, size_t kcap) {
    xc_json_key_path(kp, kcap, path, key);
    if (!cJSON_IsObject(obj))
        return xc_errorf("%s: expected an object, got %s", (path && *path) ? path : "(top level)",
                         xc_json_type_name(obj));
    *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (*item) return 1;
    if (required) return xc_errorf("%s: missing", kp);
    return 0;
}

#define KP_CAP 512

int xc_json_get_int_in(const cJSON *obj, const char *path, const char *key, int required, long long min,
                       long long max, long long *out) {
    char kp[KP_CAP];
    const cJSON *it;
    int r = member(obj, path, key, required, &it, kp, sizeof kp);
    if (r <= 0) return r;
    return xc_json_item_int(it, kp, min, max, out) < 0 ? -1 : 1;
}

int xc_json_get_int(const cJSON *obj, const char *path, const char *key, int required, long long *out) {
    return xc_json_get_int_in(obj, path, key, required, -(long long)EXACT_INT_LIMIT + 1,
                              (long long)EXACT_INT_LIMIT - 1, out);
}

int xc_json_get_double_in(const cJSON *obj, const char *path, const char *key, int required, double min,
                          double max, double *out) {
    char kp[KP_CAP];
    const cJSON *it;
    int r = member(obj, path, key, required, &it, kp, sizeof kp);
    if (r <= 0) return r;
    return xc_json_item_double(it, kp, min, max, out) < 0 ? -1 : 1;
}

int xc_json_get_double(const cJSON *obj, const char *path, const char *key, int required, double *out) {
    return xc_json_get_double_in(obj, path, key, required, -HUGE_VAL, HUGE_VAL, out);
}

int xc_json_get_bool(const cJSON *obj, const char *path, const char *key, int required, int *out) {
    char kp[KP_CAP];
    const cJSON *it;
    int r = member(obj, path, key, required, &it, kp, sizeof kp);
    if (r <= 0) return r;
    return xc_json_item_bool(it, kp, out) < 0 ? -1 : 1;
}

int xc_json_get_string(const cJSON *obj, const char *path, const char *key, int required, const char **out) {
    char kp[KP_CAP];
    const cJSON *it;
    int r = member(obj, path, key, required, &it, kp, sizeof kp);
    if (r <= 0) return r;
    return xc_json_item_string(it, kp, out) < 0 ? -1 : 1;
}

/* "a, b, c" into buf (truncated with "…" when it does not fit). */
static void join_names(char *buf, size_t cap, const char *const *names, int n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= cap - used) {
            if (cap >= 8) snprintf(buf + cap - 8, 8, ", …");
            return;
        }
        used += (size_t)w;
    }
}

int xc_json_get_choice(const cJSON *obj, const char *path, const char *key, int required,
                       const char *const *choices, int n, int *out) {
    char kp[KP_CAP];
    const char *s = NULL;
    int r = xc_json_get_string(obj, path, key, required, &s);
    if (r <= 0) return r;
    for (int i = 0; i < n; i++) {
        if (!strcmp(s, choices[i])) {
            *out = i;
            return 1;
        }
    }
    char list[1024];
    join_names(list, sizeof list, choices, n);
    return xc_errorf("%s: '%s' is not one of %s", xc_json_key_path(kp, sizeof kp, path, key), s, list);
}

int xc_json_get_object(const cJSON *obj, const char *path, const char *key, int required, const cJSON **out) {
    char kp[KP_CAP];
    const cJSON *it;
    int r = member(obj, path, key, required, &it, kp, sizeof kp);
    if (r <= 0) return r;
    if (!cJSON_IsObject(it)) return expected(it, kp, "an object");
    *out = it;
    return 1;
}

int xc_json_get_array(const cJSON *obj, const char *path, const char *key, int required, const cJSON **out) {
    char kp[KP_CAP];
    const cJSON *it;
    int r = member(obj, path, key, required, &it, kp, sizeof kp);
    if (r <= 0) return r;
    if (!cJSON_IsArray(it)) return expected(it, kp, "an array");
    *out = it;
    return 1;
}

int xc_json_check_keys(const cJSON *obj, const char *path, const char *const *allowed, int n) {
    if (!cJSON_IsObject(obj))
        return xc_errorf("%s: expected an object, got %s", (path && *path) ? path : "(top level)",
                         xc_json_type_name(obj));
    char kp[KP_CAP];
    for (const cJSON *it = obj->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(it->string, allowed[i]);
        if (!known) {
            char list[1024];
            join_names(list, sizeof list, allowed, n);
            return xc_errorf("unknown key '%s' (allowed: %s)", xc_json_key_path(kp, sizeof kp, path, it->string),
                             list);
        }
        /* cJSON keeps both members of {"a":1,"a":2}; a strict reader refuses them. */
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (!strcmp(prev->string, it->string))
                return xc_errorf("duplicate key '%s'", xc_json_key_path(kp, sizeof kp, path, it->string));
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------------------------- */

char *xc_json_to_string(const cJSON *root, int pretty) {
    char *s = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    if (!s) {
        xc_errorf("cannot format JSON: out of memory");
        return NULL;
    }
    /* Hand back plain malloc memory whatever allocator cJSON was set up with. */
    size_t n = strlen(s) + 1;
    char *r = malloc(n);
    if (r) memcpy(r, s, n);
    else xc_errorf("cannot format JSON: out of memory");
    cJSON_free(s);
    return r;
}

int xc_json_write_file(const char *path, const cJSON *root, int pretty) {
    char *s = xc_json_to_string(root, pretty);
    if (!s) return xc_errorf("cannot write '%s': %s", path, xc_error());
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return xc_errorf("cannot write '%s': out of memory", path);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    int rc = xc_write_file_atomic(path, t, n + 1);
    free(t);
    return rc;
}
