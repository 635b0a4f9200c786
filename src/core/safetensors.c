/* safetensors.c — the strict safetensors reader (memory-mapped) and the streaming atomic writer
 * (see xraycls/safetensors.h).
 *
 * Reading parses the JSON header with cJSON and validates every entry before any tensor is
 * handed out; offsets are checked in the double precision cJSON stores them in, so values above
 * 2^53 are refused rather than rounded. Writing builds only the header in memory and streams
 * each tensor's bytes with fwrite, so multi-gigabyte files cost no extra memory. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xraycls/fs.h"
#include "xraycls/strbuf.h"

/* Integers above this cannot be told apart in a double: offsets and dims must stay below. */
#define EXACT_DOUBLE_MAX 9007199254740992.0 /* 2^53 */

static const struct {
    const char *name;
    size_t size;
} dtype_info[XC_DTYPE_COUNT] = {
    [XC_U8] = {"U8", 1},     [XC_I8] = {"I8", 1},   [XC_I16] = {"I16", 2}, [XC_I32] = {"I32", 4},
    [XC_I64] = {"I64", 8},   [XC_F16] = {"F16", 2}, [XC_BF16] = {"BF16", 2}, [XC_F32] = {"F32", 4},
    [XC_F64] = {"F64", 8},   [XC_BOOL] = {"BOOL", 1},
};

size_t xc_dtype_size(xc_dtype dt) {
    return (unsigned)dt < XC_DTYPE_COUNT ? dtype_info[dt].size : 0;
}

const char *xc_dtype_st_name(xc_dtype dt) {
    return (unsigned)dt < XC_DTYPE_COUNT ? dtype_info[dt].name : "?";
}

int xc_dtype_from_st_name(const char *s, xc_dtype *out) {
    for (int i = 0; i < XC_DTYPE_COUNT; i++) {
        if (!strcmp(s, dtype_info[i].name)) {
            *out = (xc_dtype)i;
            return 0;
        }
    }
    return -1;
}

/* numel × element size with overflow detection; -1 on overflow. */
static int tensor_nbytes(xc_dtype dt, int ndim, const int64_t *shape, size_t *out) {
    size_t n = xc_dtype_size(dt);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        size_t s = (size_t)shape[d];
        if (s != 0 && n > SIZE_MAX / s) return -1;
        n *= s;
    }
    *out = n;
    return 0;
}

/* ---- reading ------------------------------------------------------------------------------ */

struct xc_st_file {
    char *path;        /* what messages call it */
    void *map;         /* mmap'd file (xc_st_open) or NULL (xc_st_parse borrows) */
    size_t map_len;
    cJSON *header;     /* owns the names and metadata strings */
    xc_st_tensor *tensors; /* ascending data offset */
    int count;
    int *by_name;      /* indices into tensors, sorted by name */
    const char **meta_keys, **meta_values;
    int meta_count;
};

/* A JSON value's kind for messages. */
static const char *json_kind(const cJSON *j) {
    if (cJSON_IsObject(j)) return "object";
    if (cJSON_IsArray(j)) return "array";
    if (cJSON_IsString(j)) return "string";
    if (cJSON_IsNumber(j)) return "number";
    if (cJSON_IsBool(j)) return "boolean";
    if (cJSON_IsNull(j)) return "null";
    return "invalid";
}

/* A non-negative integer below 2^53 held in a JSON number. */
static int json_uint(const cJSON *j, double *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double v = j->valuedouble;
    if (!(v >= 0.0) || v >= EXACT_DOUBLE_MAX || v != (double)(int64_t)v) return -1;
    *out = v;
    return 0;
}

/* Header bytes must be UTF-8 without control characters other than JSON whitespace (raw
 * control characters are never valid JSON, and a NUL would cut names short in C). With
 * allow_ctl, only the UTF-8 check is made (for writer strings, whose controls get escaped). */
static const char *check_text(const unsigned char *s, size_t n, int allow_ctl) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (!allow_ctl && c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "control character in the header";
            i++;
            continue;
        }
        size_t len;
        unsigned min;
        if (c >= 0xC2 && c <= 0xDF) len = 2, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF) len = 3, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4) len = 4, min = 0x10000;
        else return "the header is not valid UTF-8";
        if (n - i < len) return "the header is not valid UTF-8";
        unsigned cp = c & (0xFFu >> (len + 1));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return "the header is not valid UTF-8";
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return "the header is not valid UTF-8";
        i += len;
    }
    return NULL;
}

typedef struct {
    double begin, end;
    int header_index; /* order in the JSON header: breaks ties between empty tensors */
    int slot;
} range_t;

static int cmp_range(const void *a, const void *b) {
    const range_t *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->header_index - y->header_index;
}

static int cmp_name_idx(const void *a, const void *b, void *ctx) {
    const xc_st_tensor *t = ctx;
    return strcmp(t[*(const int *)a].name, t[*(const int *)b].name);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A small merge sort with a context pointer (qsort_r is not C11); n is tensor count. */
static void sort_by_name(int *idx, int *tmp, int n, const xc_st_tensor *t) {
    if (n < 2) return;
    int h = n / 2;
    sort_by_name(idx, tmp, h, t);
    sort_by_name(idx + h, tmp, n - h, t);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = cmp_name_idx(&idx[j], &idx[i], (void *)t) < 0 ? idx[j++] : idx[i++];
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

void xc_st_close(xc_st_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    cJSON_Delete(f->header);
    free(f->tensors);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_values);
    free(f->path);
    free(f);
}

/* Sets the message "invalid safetensors file 'what': <detail>" and returns -1. */
static int bad(const char *what, const char *fmt, ...) XC_PRINTF(2, 3);
static int bad(const char *what, const char *fmt, ...) {
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return xc_errorf("invalid safetensors file '%s': %s", what, detail);
}

/* Validates one tensor entry into *t (name borrowed from the header tree). */
static int parse_entry(const char *what, const cJSON *e, xc_st_tensor *t, double *begin, double *end) {
    const char *name = e->string;
    if (!cJSON_IsObject(e)) return bad(what, "tensor '%s': expected an object, got %s", name, json_kind(e));
    const cJSON *jd = NULL, *js = NULL, *jo = NULL;
    for (const cJSON *k = e->child; k; k = k->next) {
        const cJSON **slot = !strcmp(k->string, "dtype")          ? &jd
                             : !strcmp(k->string, "shape")        ? &js
                             : !strcmp(k->string, "data_offsets") ? &jo
                                                                  : NULL;
        if (!slot) return bad(what, "tensor '%s': unknown key '%s'", name, k->string);
        if (*slot) return bad(what, "tensor '%s': duplicate key '%s'", name, k->string);
        *slot = k;
    }
    if (!jd) return bad(what, "tensor '%s': missing 'dtype'", name);
    if (!js) return bad(what, "tensor '%s': missing 'shape'", name);
    if (!jo) return bad(what, "tensor '%s': missing 'data_offsets'", name);

    if (!cJSON_IsString(jd)) return bad(what, "tensor '%s': dtype: expected a string, got %s", name, json_kind(jd));
    if (xc_dtype_from_st_name(jd->valuestring, &t->dtype) < 0)
        return bad(what, "tensor '%s': unknown dtype '%s'", name, jd->valuestring);

    if (!cJSON_IsArray(js)) return bad(what, "tensor '%s': shape: expected an array, got %s", name, json_kind(js));
    int nd = cJSON_GetArraySize(js);
    if (nd > XC_ST_MAX_DIMS) return bad(what, "tensor '%s': %d dims, more than the %d supported", name, nd, XC_ST_MAX_DIMS);
    t->ndim = 0;
    for (const cJSON *d = js->child; d; d = d->next) {
        double v;
        if (json_uint(d, &v) < 0)
            return bad(what, "tensor '%s': shape: dim %d is not a non-negative integer", name, t->ndim);
        t->shape[t->ndim++] = (int64_t)v;
    }
    if (!cJSON_IsArray(jo))
        return bad(what, "tensor '%s': data_offsets: expected an array, got %s", name, json_kind(jo));
    if (cJSON_GetArraySize(jo) != 2)
        return bad(what, "tensor '%s': data_offsets: expected [begin, end]", name);
    if (json_uint(jo->child, begin) < 0 || json_uint(jo->child->next, end) < 0)
        return bad(what, "tensor '%s': data_offsets: not non-negative integers", name);
    if (*end < *begin) return bad(what, "tensor '%s': data_offsets end %.0f before begin %.0f", name, *end, *begin);
    size_t nbytes;
    if (tensor_nbytes(t->dtype, t->ndim, t->shape, &nbytes) < 0)
        return bad(what, "tensor '%s': shape too large (size overflows)", name);
    if ((double)nbytes != *end - *begin || nbytes >= EXACT_DOUBLE_MAX)
        return bad(what, "tensor '%s': shape and dtype give %zu bytes but data_offsets span %.0f", name, nbytes,
                   *end - *begin);
    t->name = name;
    t->nbytes = nbytes;
    return 0;
}

/* Validates buf[0..len) into f (whose path is set). */
static int parse_into(xc_st_file *f, const unsigned char *buf, size_t len) {
    const char *what = f->path;
    if (len < 8) return bad(what, "%zu bytes, too short for the 8-byte header length", len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | buf[i];
    if (n > XC_ST_MAX_HEADER)
        return bad(what, "header length %llu exceeds the limit of %u", (unsigned long long)n, XC_ST_MAX_HEADER);
    if (n > len - 8)
        return bad(what, "header length %llu exceeds the %zu bytes after it (truncated file?)", (unsigned long long)n,
                   len - 8);
    /* cJSON would skip a UTF-8 byte-order mark; safetensors headers are bare JSON objects. */
    if (n >= 3 && buf[8] == 0xEF && buf[9] == 0xBB && buf[10] == 0xBF)
        return bad(what, "the header starts with a UTF-8 byte-order mark (a safetensors header is a bare JSON object)");
    const char *text_err = check_text(buf + 8, (size_t)n, 0);
    if (text_err) return bad(what, "%s", text_err);
    /* cJSON wants a NUL after the text to refuse trailing garbage; spaces (padding) are fine. */
    char *text = malloc((size_t)n + 1);
    if (!text) return bad(what, "out of memory for a %llu-byte header", (unsigned long long)n);
    memcpy(text, buf + 8, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(text, (size_t)n + 1, &end, 1);
    if (!f->header) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        free(text);
        return bad(what, "header is not valid JSON (near byte %zu of the header)", at);
    }
    free(text);
    if (!cJSON_IsObject(f->header)) return bad(what, "header is a JSON %s, not an object", json_kind(f->header));

    const unsigned char *data = buf + 8 + n;
    size_t data_len = len - 8 - (size_t)n;

    int entries = cJSON_GetArraySize(f->header);
    const cJSON *meta = NULL;
    for (const cJSON *e = f->header->child; e; e = e->next) {
        if (strcmp(e->string, "__metadata__")) continue;
        if (meta) return bad(what, "duplicate '__metadata__'");
        meta = e;
    }
    if (meta && !cJSON_IsNull(meta)) {
        if (!cJSON_IsObject(meta)) return bad(what, "__metadata__: expected an object, got %s", json_kind(meta));
        int nm = cJSON_GetArraySize(meta);
        f->meta_keys = calloc((size_t)nm + 1, sizeof *f->meta_keys);
        f->meta_values = calloc((size_t)nm + 1, sizeof *f->meta_values);
        if (!f->meta_keys || !f->meta_values) return bad(what, "out of memory");
        for (const cJSON *m = meta->child; m; m = m->next) {
            if (!cJSON_IsString(m))
                return bad(what, "__metadata__ '%s': expected a string, got %s", m->string, json_kind(m));
            f->meta_keys[f->meta_count] = m->string;
            f->meta_values[f->meta_count++] = m->valuestring;
        }
        /* Duplicates are neighbours once sorted: n log n, where comparing each key with every
         * earlier one took hours on a header near the size limit. */
        const char **sorted = malloc(((size_t)f->meta_count + 1) * sizeof *sorted);
        if (!sorted) return bad(what, "out of memory");
        memcpy(sorted, f->meta_keys, (size_t)f->meta_count * sizeof *sorted);
        qsort(sorted, (size_t)f->meta_count, sizeof *sorted, cmp_str_ptr);
        for (int i = 1; i < f->meta_count; i++)
            if (!strcmp(sorted[i - 1], sorted[i])) {
                int r = bad(what, "duplicate __metadata__ key '%s'", sorted[i]);
                free(sorted);
                return r;
            }
        free(sorted);
    }

    int nt = entries - (meta ? 1 : 0);
    xc_st_tensor *parsed = calloc((size_t)nt + 1, sizeof *parsed);
    range_t *ranges = calloc((size_t)nt + 1, sizeof *ranges);
    f->tensors = calloc((size_t)nt + 1, sizeof *f->tensors);
    f->by_name = calloc((size_t)nt + 1, sizeof *f->by_name);
    int *tmp = calloc((size_t)nt + 1, sizeof *tmp);
    int rc = -1;
    if (!parsed || !ranges || !f->tensors || !f->by_name || !tmp) {
        bad(what, "out of memory for %d tensors", nt);
        goto done;
    }
    int k = 0;
    for (const cJSON *e = f->header->child; e; e = e->next) {
        if (e == meta) continue;
        if (parse_entry(what, e, &parsed[k], &ranges[k].begin, &ranges[k].end) < 0) goto done;
        ranges[k].header_index = k;
        ranges[k].slot = k;
        k++;
    }
    /* File order: ascending offsets; each range must start where the previous one ended. */
    qsort(ranges, (size_t)nt, sizeof *ranges, cmp_range);
    double expect = 0;
    for (int i = 0; i < nt; i++) {
        const xc_st_tensor *t = &parsed[ranges[i].slot];
        if (ranges[i].end > (double)data_len) {
            bad(what, "tensor '%s': data_offsets [%.0f, %.0f] outside the %zu-byte data section", t->name,
                ranges[i].begin, ranges[i].end, data_len);
            goto done;
        }
        if (ranges[i].begin < expect) {
            bad(what, "tensor '%s': data_offsets [%.0f, %.0f] overlap the previous tensor (ending at %.0f)", t->name,
                ranges[i].begin, ranges[i].end, expect);
            goto done;
        }
        if (ranges[i].begin > expect) {
            bad(what, "tensor '%s': gap of %.0f bytes before its data at %.0f", t->name, ranges[i].begin - expect,
                ranges[i].begin);
            goto done;
        }
        expect = ranges[i].end;
        f->tensors[i] = *t;
        f->tensors[i].data = data + (size_t)ranges[i].begin;
    }
    if (expect != (double)data_len) {
        bad(what, "%.0f trailing bytes after the last tensor's data", (double)data_len - expect);
        goto done;
    }
    f->count = nt;
    for (int i = 0; i < nt; i++) f->by_name[i] = i;
    sort_by_name(f->by_name, tmp, nt, f->tensors);
    /* cJSON keeps duplicate keys as separate members: neighbours after sorting. */
    for (int i = 1; i < nt; i++) {
        const char *a = f->tensors[f->by_name[i - 1]].name, *b = f->tensors[f->by_name[i]].name;
        if (!strcmp(a, b)) {
            bad(what, "duplicate tensor name '%s'", a);
            goto done;
        }
    }
    rc = 0;
done:
    free(parsed);
    free(ranges);
    free(tmp);
    return rc;
}

static xc_st_file *file_new(const char *what) {
    xc_st_file *f = calloc(1, sizeof *f);
    size_t n = strlen(what) + 1;
    if (f) f->path = malloc(n);
    if (!f || !f->path) {
        free(f);
        xc_errorf("cannot read '%s': out of memory", what);
        return NULL;
    }
    memcpy(f->path, what, n);
    return f;
}

xc_st_file *xc_st_parse(const void *buf, size_t len, const char *what) {
    xc_st_file *f = file_new(what ? what : "(buffer)");
    if (!f) return NULL;
    if (parse_into(f, buf, len) < 0) {
        xc_st_close(f);
        return NULL;
    }
    return f;
}

xc_st_file *xc_st_open(const char *path) {
    struct stat st;
    int fd = xc_open_regular(path, &st);
    if (fd < 0) return NULL;
    xc_st_file *f = file_new(path);
    if (!f) {
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    if (len < 8) { /* nothing to map; parse_into reports it */
        static const unsigned char none[1];
        parse_into(f, none, len);
        close(fd);
        xc_st_close(f);
        return NULL;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        xc_errorf_errno("cannot map '%s'", path);
        xc_st_close(f);
        return NULL;
    }
    f->map = map;
    f->map_len = len;
    if (parse_into(f, map, len) < 0) {
        xc_st_close(f);
        return NULL;
    }
    return f;
}

const char *xc_st_path(const xc_st_file *f) { return f->path; }
int xc_st_count(const xc_st_file *f) { return f->count; }

const xc_st_tensor *xc_st_at(const xc_st_file *f, int i) {
    return i >= 0 && i < f->count ? &f->tensors[i] : NULL;
}

const xc_st_tensor *xc_st_find(const xc_st_file *f, const char *name) {
    int lo = 0, hi = f->count - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const xc_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(name, t->name);
        if (c == 0) return t;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return NULL;
}

const char *xc_st_meta(const xc_st_file *f, const char *key) {
    for (int i = 0; i < f->meta_count; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

int xc_st_meta_count(const xc_st_file *f) { return f->meta_count; }

int xc_st_meta_at(const xc_st_file *f, int i, const char **key, const char **value) {
    if (i < 0 || i >= f->meta_count) return xc_errorf("'%s': no metadata entry %d", f->path, i);
    *key = f->meta_keys[i];
    *value = f->meta_values[i];
    return 0;
}

const xc_st_tensor *xc_st_require(const xc_st_file *f, const char *name, xc_dtype dt, int ndim) {
    const xc_st_tensor *t = xc_st_find(f, name);
    if (!t) {
        xc_errorf("'%s': missing tensor '%s'", f->path, name);
        return NULL;
    }
    if (t->dtype != dt) {
        xc_errorf("'%s': tensor '%s' is %s, expected %s", f->path, name, xc_dtype_st_name(t->dtype),
                  xc_dtype_st_name(dt));
        return NULL;
    }
    if (ndim >= 0 && t->ndim != ndim) {
        xc_errorf("'%s': tensor '%s' has %d dims, expected %d", f->path, name, t->ndim, ndim);
        return NULL;
    }
    return t;
}

/* ---- writing ------------------------------------------------------------------------------ */

typedef struct {
    char *name;
    xc_dtype dtype;
    int ndim;
    int64_t shape[XC_ST_MAX_DIMS];
    const void *data;
    void *owned; /* the copy made by xc_st_writer_add_copy, or NULL */
    size_t nbytes;
} wentry;

struct xc_st_writer {
    wentry *e;
    int n, cap;
    char **mkeys, **mvals;
    int nm, mcap;
};

xc_st_writer *xc_st_writer_new(void) {
    xc_st_writer *w = calloc(1, sizeof *w);
    if (!w) xc_errorf("cannot create a safetensors writer: out of memory");
    return w;
}

void xc_st_writer_free(xc_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) {
        free(w->e[i].name);
        free(w->e[i].owned);
    }
    for (int i = 0; i < w->nm; i++) {
        free(w->mkeys[i]);
        free(w->mvals[i]);
    }
    free(w->e);
    free(w->mkeys);
    free(w->mvals);
    free(w);
}

static char *copy_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static int add_entry(xc_st_writer *w, const char *name, xc_dtype dt, int ndim, const int64_t *shape,
                     const void *data, size_t nbytes, int copy) {
    if (!name) return xc_errorf("safetensors writer: NULL tensor name");
    if (check_text((const unsigned char *)name, strlen(name), 1))
        return xc_errorf("safetensors writer: tensor name '%s' is not valid UTF-8", name);
    if (!strcmp(name, "__metadata__")) return xc_errorf("safetensors writer: '__metadata__' is reserved");
    if ((unsigned)dt >= XC_DTYPE_COUNT) return xc_errorf("safetensors writer: tensor '%s': bad dtype %d", name, (int)dt);
    if (ndim < 0 || ndim > XC_ST_MAX_DIMS)
        return xc_errorf("safetensors writer: tensor '%s': %d dims (0 to %d supported)", name, ndim, XC_ST_MAX_DIMS);
    size_t expect;
    if (tensor_nbytes(dt, ndim, shape, &expect) < 0 || expect >= EXACT_DOUBLE_MAX)
        return xc_errorf("safetensors writer: tensor '%s': negative or too large shape", name);
    if (expect != nbytes)
        return xc_errorf("safetensors writer: tensor '%s': %zu bytes given, shape and dtype need %zu", name, nbytes,
                         expect);
    if (nbytes > 0 && !data) return xc_errorf("safetensors writer: tensor '%s': NULL data", name);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->e[i].name, name)) return xc_errorf("safetensors writer: duplicate tensor name '%s'", name);
    if (w->n == w->cap) {
        int ncap = w->cap ? w->cap * 2 : 64;
        wentry *ne = realloc(w->e, (size_t)ncap * sizeof *ne);
        if (!ne) return xc_errorf("safetensors writer: out of memory");
        w->e = ne;
        w->cap = ncap;
    }
    wentry *e = &w->e[w->n];
    memset(e, 0, sizeof *e);
    e->name = copy_str(name);
    if (!e->name) return xc_errorf("safetensors writer: out of memory");
    if (copy && nbytes > 0) {
        e->owned = malloc(nbytes);
        if (!e->owned) {
            free(e->name);
            return xc_errorf("safetensors writer: tensor '%s': out of memory for %zu bytes", name, nbytes);
        }
        memcpy(e->owned, data, nbytes);
    }
    e->data = e->owned ? e->owned : data;
    e->dtype = dt;
    e->ndim = ndim;
    for (int d = 0; d < ndim; d++) e->shape[d] = shape[d];
    e->nbytes = nbytes;
    w->n++;
    return 0;
}

int xc_st_writer_add(xc_st_writer *w, const char *name, xc_dtype dt, int ndim, const int64_t *shape,
                     const void *data, size_t nbytes) {
    return add_entry(w, name, dt, ndim, shape, data, nbytes, 0);
}

int xc_st_writer_add_copy(xc_st_writer *w, const char *name, xc_dtype dt, int ndim, const int64_t *shape,
                          const void *data, size_t nbytes) {
    return add_entry(w, name, dt, ndim, shape, data, nbytes, 1);
}

int xc_st_writer_meta(xc_st_writer *w, const char *key, const char *value) {
    if (!key || !value) return xc_errorf("safetensors writer: NULL metadata key or value");
    if (check_text((const unsigned char *)key, strlen(key), 1))
        return xc_errorf("safetensors writer: metadata key '%s' is not valid UTF-8", key);
    if (check_text((const unsigned char *)value, strlen(value), 1))
        return xc_errorf("safetensors writer: metadata '%s': value is not valid UTF-8", key);
    for (int i = 0; i < w->nm; i++) {
        if (!strcmp(w->mkeys[i], key)) {
            char *v = copy_str(value);
            if (!v) return xc_errorf("safetensors writer: out of memory");
            free(w->mvals[i]);
            w->mvals[i] = v;
            return 0;
        }
    }
    if (w->nm == w->mcap) {
        int ncap = w->mcap ? w->mcap * 2 : 8;
        char **nk = realloc(w->mkeys, (size_t)ncap * sizeof *nk);
        if (!nk) return xc_errorf("safetensors writer: out of memory");
        w->mkeys = nk;
        char **nv = realloc(w->mvals, (size_t)ncap * sizeof *nv);
        if (!nv) return xc_errorf("safetensors writer: out of memory");
        w->mvals = nv;
        w->mcap = ncap;
    }
    char *k = copy_str(key), *v = copy_str(value);
    if (!k || !v) {
        free(k);
        free(v);
        return xc_errorf("safetensors writer: out of memory");
    }
    w->mkeys[w->nm] = k;
    w->mvals[w->nm++] = v;
    return 0;
}

/* {"__metadata__":{…},"name":{"dtype":"F32","shape":[..],"data_offsets":[b,e]},…} padded with
 * spaces to a multiple of 8 bytes, so that the data section starts 8-aligned. */
static int build_header(const xc_st_writer *w, xc_strbuf *b) {
    xc_strbuf_add(b, "{", 1);
    int first = 1;
    if (w->nm > 0) {
        xc_strbuf_puts(b, "\"__metadata__\":{");
        for (int i = 0; i < w->nm; i++) {
            if (i) xc_strbuf_add(b, ",", 1);
            xc_strbuf_json_str(b, w->mkeys[i]);
            xc_strbuf_add(b, ":", 1);
            xc_strbuf_json_str(b, w->mvals[i]);
        }
        xc_strbuf_add(b, "}", 1);
        first = 0;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const wentry *e = &w->e[i];
        if (!first) xc_strbuf_add(b, ",", 1);
        first = 0;
        xc_strbuf_json_str(b, e->name);
        xc_strbuf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", xc_dtype_st_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) xc_strbuf_printf(b, d ? ",%lld" : "%lld", (long long)e->shape[d]);
        xc_strbuf_printf(b, "],\"data_offsets\":[%llu,", (unsigned long long)off);
        off += e->nbytes;
        xc_strbuf_printf(b, "%llu]}", (unsigned long long)off);
    }
    xc_strbuf_add(b, "}", 1);
    while (b->len % 8) xc_strbuf_add(b, " ", 1);
    if (b->oom) return xc_errorf("safetensors writer: out of memory for the header");
    if (off >= (uint64_t)EXACT_DOUBLE_MAX) return xc_errorf("safetensors writer: %llu bytes of data is too large",
                                                            (unsigned long long)off);
    if (b->len > XC_ST_MAX_HEADER)
        return xc_errorf("safetensors writer: header of %zu bytes exceeds the limit of %u", b->len, XC_ST_MAX_HEADER);
    return 0;
}

int xc_st_writer_write(xc_st_writer *w, const char *path) {
    xc_strbuf hb = {0};
    if (build_header(w, &hb) < 0) {
        free(hb.s);
        return xc_errorf("cannot write '%s': %s", path, xc_error());
    }
    xc_atomic a;
    if (xc_atomic_open(&a, path) < 0) {
        free(hb.s);
        return -1;
    }
    unsigned char len8[8];
    uint64_t n = hb.len;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(n >> (8 * i));
    int ok = fwrite(len8, 1, 8, a.fp) == 8 && fwrite(hb.s, 1, hb.len, a.fp) == hb.len;
    free(hb.s);
    for (int i = 0; ok && i < w->n; i++) {
        /* In chunks, so a huge tensor cannot trip a platform's single-write limit. */
        const unsigned char *p = w->e[i].data;
        size_t left = w->e[i].nbytes;
        while (ok && left > 0) {
            size_t chunk = left < ((size_t)1 << 30) ? left : ((size_t)1 << 30);
            ok = fwrite(p, 1, chunk, a.fp) == chunk;
            p += chunk;
            left -= chunk;
        }
    }
    if (!ok) {
        xc_errorf_errno("cannot write '%s'", path);
        xc_atomic_abort(&a);
        return -1;
    }
    return xc_atomic_commit(&a);
}

int xc_st_writer_meta_json(xc_st_writer *w, const char *key, cJSON *json) {
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (!text) return xc_errorf("out of memory for metadata '%s'", key);
    int rc = xc_st_writer_meta(w, key, text);
    free(text);
    return rc;
}
