/* pickle.c — the restricted pickle machine of the torch.save readers.
 *
 * It interprets the binary opcodes torch.save emits and builds plain data (pv values) in an
 * arena; it never calls anything. The few globals a weights file needs are recognised by name
 * and turned into tags (OrderedDict, tensor rebuilders, storage types); any other global ends
 * the run with a refusal naming it. Persistent ids become storages and _rebuild_tensor* calls
 * become tensor records whose view is checked against the storage size at once; the storage
 * bytes themselves are attached later by the container reader (torchfile.c). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- arena --------------------------------------------------------------------------------- */

struct wt_chunk {
    wt_chunk *next;
    size_t used, cap;
};
#define CHUNK_HDR ((sizeof(wt_chunk) + 15) & ~(size_t)15)
#define CHUNK_MIN ((size_t)64 << 10)

void *wt_alloc(wt_arena *a, size_t n) {
    if (n > SIZE_MAX - 16) {
        xc_errorf("out of memory");
        return NULL;
    }
    n = (n + 15) & ~(size_t)15;
    if (n == 0) n = 16;
    if (a->limit && (n > a->limit || a->total > a->limit - n)) {
        xc_errorf("cannot read '%s': unpickling it needs more than %zu MiB of memory, the limit for a file of "
                  "its size (16 bytes per byte + 64 MiB): a pickle that multiplies its values (repeated "
                  "OrderedDict calls, broadcast views) is refused", a->what ? a->what : "(buffer)", a->limit >> 20);
        return NULL;
    }
    a->total += n;
    wt_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
        if (cap > SIZE_MAX - CHUNK_HDR) {
            xc_errorf("out of memory");
            return NULL;
        }
        c = malloc(CHUNK_HDR + cap);
        if (!c) {
            xc_errorf("out of memory");
            return NULL;
        }
        c->used = 0;
        c->cap = cap;
        /* A big block goes behind the head so the head's free space stays usable. */
        if (a->head && n > CHUNK_MIN) {
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = (unsigned char *)c + CHUNK_HDR + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *wt_strndup(wt_arena *a, const char *s, size_t n) {
    if (n == SIZE_MAX) {
        xc_errorf("out of memory");
        return NULL;
    }
    char *p = wt_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void wt_arena_free(wt_arena *a) {
    wt_chunk *c = a->head;
    while (c) {
        wt_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

size_t wt_dtype_size(xc_dtype dt) {
    switch (dt) {
    case XC_U8: case XC_I8: case XC_BOOL: return 1;
    case XC_I16: case XC_F16: case XC_BF16: return 2;
    case XC_I32: case XC_F32: return 4;
    case XC_I64: case XC_F64: return 8;
    default: return 0;
    }
}

/* ---- the machine --------------------------------------------------------------------------- */

typedef struct {
    pk_machine *m;
    const uint8_t *buf;
    size_t len, start, pos;
    const char *where;
    pk_persid persid;
    pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pv **memo;
    size_t memo_size;  /* slots allocated */
    size_t memo_count; /* slots filled (MEMOIZE's next index) */
} vm;

/* "cannot read 'f': data.pkl: <message> at byte N"; returns -1. */
static int bad(const vm *v, size_t at, const char *fmt, ...) XC_PRINTF(3, 4);
static int bad(const vm *v, size_t at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xc_errorf("cannot read '%s': %s: %s at byte %zu", v->m->what, v->where, msg, at);
}

static const char *type_name(const pv *x) {
    static const char *names[] = {"None",  "bool", "int",  "int",    "float",   "str",
                                  "tuple", "list", "dict", "global", "storage", "tensor"};
    return names[x->type];
}

static pv *new_value(vm *v, pv_type t) {
    pv *x = wt_alloc(&v->m->arena, sizeof *x);
    if (x) x->type = t;
    return x;
}

static int push(vm *v, pv *x) {
    if (!x) return -1;
    if (v->sp == v->scap) {
        if (v->scap >= XC_TORCHFILE_MAX_STACK) return bad(v, v->pos, "pickle stack deeper than %d", XC_TORCHFILE_MAX_STACK);
        size_t cap = v->scap ? v->scap * 2 : 64;
        pv **s = realloc(v->stack, cap * sizeof *s);
        if (!s) return xc_errorf("out of memory");
        v->stack = s;
        v->scap = cap;
    }
    v->stack[v->sp++] = x;
    return 0;
}

/* The first stack slot above the innermost mark. */
static size_t fence(const vm *v) { return v->nmarks ? v->marks[v->nmarks - 1] : 0; }

static int need_items(const vm *v, size_t at, size_t k, const char *op) {
    if (v->sp - fence(v) < k) return bad(v, at, "%s needs %zu value(s) on the stack", op, k);
    return 0;
}

static int pop_mark(vm *v, size_t at, const char *op, size_t *base) {
    if (v->nmarks == 0) return bad(v, at, "%s without MARK", op);
    *base = v->marks[--v->nmarks];
    return 0;
}

static int need_bytes(const vm *v, size_t at, uint64_t n) {
    if (n > v->len - v->pos) return bad(v, at, "truncated pickle");
    return 0;
}

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

/* Appends to a list or dict's item array (doubling). */
static int seq_push(vm *v, pv *c, pv *x) {
    if (c->u.seq.n == c->u.seq.cap) {
        size_t cap = c->u.seq.cap ? c->u.seq.cap * 2 : 8;
        if (cap > SIZE_MAX / sizeof(pv *)) return xc_errorf("out of memory");
        pv **items = wt_alloc(&v->m->arena, cap * sizeof *items);
        if (!items) return -1;
        if (c->u.seq.n) memcpy(items, c->u.seq.items, c->u.seq.n * sizeof *items);
        c->u.seq.items = items;
        c->u.seq.cap = cap;
    }
    c->u.seq.items[c->u.seq.n++] = x;
    return 0;
}

/* A tuple, list or dict holding stack[from, sp), which are popped. */
static pv *collect(vm *v, pv_type t, size_t from) {
    pv *c = new_value(v, t);
    if (!c) return NULL;
    size_t n = v->sp - from;
    if (n) {
        c->u.seq.items = wt_alloc(&v->m->arena, n * sizeof(pv *));
        if (!c->u.seq.items) return NULL;
        memcpy(c->u.seq.items, v->stack + from, n * sizeof(pv *));
    }
    c->u.seq.n = c->u.seq.cap = n;
    v->sp = from;
    return c;
}

static pv *make_str(vm *v, const uint8_t *p, size_t n) {
    pv *x = new_value(v, PV_STR);
    if (!x) return NULL;
    x->u.str.s = wt_strndup(&v->m->arena, (const char *)p, n);
    x->u.str.n = n;
    return x->u.str.s ? x : NULL;
}

static int is_str(const pv *x, const char *s) {
    return x->type == PV_STR && x->u.str.n == strlen(s) && memcmp(x->u.str.s, s, x->u.str.n) == 0;
}

static int memo_put(vm *v, size_t at, uint64_t idx) {
    if (v->sp == fence(v)) return bad(v, at, "memo put with an empty stack");
    /* Writers number the memo sequentially, so an index beyond the bytes read is corrupt;
     * this also bounds the memo's memory by the pickle's size. */
    if (idx > at - v->start || idx >= XC_TORCHFILE_MAX_STACK) return bad(v, at, "memo index %llu out of range", (unsigned long long)idx);
    if (idx >= v->memo_size) {
        size_t size = v->memo_size ? v->memo_size : 64;
        while (size <= idx) size *= 2;
        pv **memo = realloc(v->memo, size * sizeof *memo);
        if (!memo) return xc_errorf("out of memory");
        memset(memo + v->memo_size, 0, (size - v->memo_size) * sizeof *memo);
        v->memo = memo;
        v->memo_size = size;
    }
    if (!v->memo[idx]) v->memo_count++;
    v->memo[idx] = v->stack[v->sp - 1];
    return 0;
}

static int memo_get(vm *v, size_t at, uint64_t idx) {
    if (idx >= v->memo_size || !v->memo[idx]) return bad(v, at, "memo index %llu was never set", (unsigned long long)idx);
    return push(v, v->memo[idx]);
}

/* ---- globals ------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    xc_dtype dtype;
} storage_types[] = {
    {"FloatStorage", XC_F32}, {"DoubleStorage", XC_F64}, {"HalfStorage", XC_F16},
    {"BFloat16Storage", XC_BF16}, {"LongStorage", XC_I64}, {"IntStorage", XC_I32},
    {"ShortStorage", XC_I16}, {"CharStorage", XC_I8}, {"ByteStorage", XC_U8},
    {"BoolStorage", XC_BOOL},
};

static int span_is(const char *s, size_t n, const char *lit) {
    return n == strlen(lit) && memcmp(s, lit, n) == 0;
}

/* Copies a name for a message, replacing unprintable bytes and cutting it at 80. */
static void printable(char *out, size_t cap, const char *s, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        if (k >= 80) {
            memcpy(out + k, "...", 3);
            k += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    out[k] = '\0';
}

static int find_global(vm *v, size_t at, const char *mod, size_t mn, const char *name, size_t nn) {
    pv *g = new_value(v, PV_GLOBAL);
    if (!g) return -1;
    if (span_is(mod, mn, "collections") && span_is(name, nn, "OrderedDict")) {
        g->u.global.g = G_ORDERED_DICT;
        return push(v, g);
    }
    if (span_is(mod, mn, "torch._utils")) {
        static const struct { const char *name; pv_global g; } rebuild[] = {
            {"_rebuild_tensor", G_REBUILD_TENSOR},
            {"_rebuild_tensor_v2", G_REBUILD_TENSOR_V2},
            {"_rebuild_parameter", G_REBUILD_PARAMETER},
            {"_rebuild_parameter_with_state", G_REBUILD_PARAMETER_WITH_STATE},
        };
        for (size_t i = 0; i < sizeof rebuild / sizeof rebuild[0]; i++)
            if (span_is(name, nn, rebuild[i].name)) {
                g->u.global.g = rebuild[i].g;
                return push(v, g);
            }
    }
    char pm[96], pn[96];
    printable(pm, sizeof pm, mod, mn);
    printable(pn, sizeof pn, name, nn);
    if (span_is(mod, mn, "torch") || span_is(mod, mn, "torch.cuda")) {
        for (size_t i = 0; i < sizeof storage_types / sizeof storage_types[0]; i++)
            if (span_is(name, nn, storage_types[i].name)) {
                g->u.global.g = G_STORAGE_TYPE;
                g->u.global.dtype = storage_types[i].dtype;
                return push(v, g);
            }
        if (span_is(mod, mn, "torch") && span_is(name, nn, "UntypedStorage")) {
            g->u.global.g = G_STORAGE_TYPE;
            g->u.global.dtype = XC_U8;
            return push(v, g);
        }
        if (nn > 7 && memcmp(name + nn - 7, "Storage", 7) == 0)
            return bad(v, at, "storage type %s.%s is not supported (only float, integer and bool storages are)", pm, pn);
    }
    const char *hint = "";
    if (span_is(mod, mn, "__main__") || (mn >= 8 && memcmp(mod, "torch.nn", 8) == 0))
        hint = " (this looks like a whole pickled model: save its state_dict() instead)";
    else if (mn >= 9 && memcmp(mod, "__torch__", 9) == 0)
        hint = " (this looks like a TorchScript archive: save the model's state_dict() instead)";
    return xc_errorf("refusing to load '%s': it calls %s.%s, which a weights file never needs%s",
                     v->m->what, pm, pn, hint);
}

/* ---- storages and tensors ------------------------------------------------------------------ */

/* Storages by key: open addressing over indices into m->storages (-1 empty). */
static size_t key_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

int pk_find_storage(const pk_machine *m, const char *key) {
    if (!m->hash_cap) return -1;
    size_t mask = (size_t)m->hash_cap - 1;
    for (size_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
        int k = m->hash[i];
        if (k < 0 || strcmp(m->storages[k].key, key) == 0) return k;
    }
}

static int hash_insert(pk_machine *m, int idx) {
    if (2 * (m->n_storages + 1) > m->hash_cap) {
        int cap = m->hash_cap ? m->hash_cap * 2 : 64;
        int *h = malloc((size_t)cap * sizeof *h);
        if (!h) return xc_errorf("out of memory");
        memset(h, 0xff, (size_t)cap * sizeof *h);
        free(m->hash);
        m->hash = h;
        m->hash_cap = cap;
        for (int k = 0; k < m->n_storages; k++)
            if (hash_insert(m, k) < 0) return -1;
    }
    size_t mask = (size_t)m->hash_cap - 1;
    size_t i = key_hash(m->storages[idx].key) & mask;
    while (m->hash[i] >= 0) i = (i + 1) & mask;
    m->hash[i] = idx;
    return 0;
}

void pk_machine_free(pk_machine *m) {
    wt_arena_free(&m->arena);
    free(m->storages);
    free(m->tensors);
    free(m->hash);
    memset(m, 0, sizeof *m);
}

static int add_storage(vm *v, size_t at, const char *key, xc_dtype dt, int64_t numel, int root,
                       int64_t view_offset) {
    pk_machine *m = v->m;
    if (m->n_storages == m->cap_storages) {
        if (m->cap_storages >= XC_TORCHFILE_MAX_STACK) return bad(v, at, "more than %d storages", XC_TORCHFILE_MAX_STACK);
        int cap = m->cap_storages ? m->cap_storages * 2 : 32;
        wt_storage *s = realloc(m->storages, (size_t)cap * sizeof *s);
        if (!s) return xc_errorf("out of memory");
        m->storages = s;
        m->cap_storages = cap;
    }
    wt_storage *s = &m->storages[m->n_storages];
    memset(s, 0, sizeof *s);
    s->key = key;
    s->dtype = dt;
    s->numel = numel;
    s->root = root;
    s->view_offset = view_offset;
    if (hash_insert(m, m->n_storages) < 0) return -1;
    return m->n_storages++;
}

static int get_int(const pv *x, int64_t *out) {
    if (x->type != PV_INT) return -1;
    *out = x->u.i;
    return 0;
}

/* A string usable as a key: no NUL inside. */
static int key_str(const pv *x) { return x->type == PV_STR && strlen(x->u.str.s) == x->u.str.n; }

/* BINPERSID: ('storage', storage_type, key, location, numel[, view_metadata]) → a storage. */
static int persistent_load(vm *v, size_t at) {
    if (need_items(v, at, 1, "BINPERSID") < 0) return -1;
    pv *pid = v->stack[--v->sp];
    if (v->persid == PK_PERSID_NONE) return bad(v, at, "unexpected persistent id");
    size_t want = v->persid == PK_PERSID_ZIP ? 5 : 6;
    if (pid->type != PV_TUPLE || pid->u.seq.n < 1) return bad(v, at, "persistent id is a %s, not a tuple", type_name(pid));
    pv **it = pid->u.seq.items;
    if (!is_str(it[0], "storage")) {
        if (is_str(it[0], "module")) return bad(v, at, "the file holds pickled module source, not a state dict");
        return bad(v, at, "unknown persistent id kind (want 'storage')");
    }
    if (pid->u.seq.n != want) return bad(v, at, "storage persistent id has %zu fields, want %zu", pid->u.seq.n, want);
    int64_t numel;
    if (it[1]->type != PV_GLOBAL || it[1]->u.global.g != G_STORAGE_TYPE) return bad(v, at, "persistent id names a %s, not a storage type", type_name(it[1]));
    if (!key_str(it[2]) || it[2]->u.str.n == 0) return bad(v, at, "storage key is not a string");
    if (it[3]->type != PV_STR) return bad(v, at, "storage location is not a string");
    if (get_int(it[4], &numel) < 0 || numel < 0) return bad(v, at, "storage size is not a count");
    xc_dtype dt = it[1]->u.global.dtype;
    if ((uint64_t)numel > (uint64_t)INT64_MAX / wt_dtype_size(dt)) return bad(v, at, "storage '%s' too large", it[2]->u.str.s);
    const char *key = it[2]->u.str.s;
    int idx = pk_find_storage(v->m, key);
    if (idx >= 0) {
        const wt_storage *s = &v->m->storages[idx];
        if (s->root >= 0 || s->dtype != dt || s->numel != numel)
            return bad(v, at, "storage '%s' is named twice with different types or sizes", key);
    } else {
        idx = add_storage(v, at, key, dt, numel, -1, 0);
        if (idx < 0) return -1;
    }
    if (want == 6 && it[5]->type != PV_NONE) {
        /* view_metadata = (view_key, offset, view_size), in elements of the root. */
        pv *vm_ = it[5];
        int64_t off, size;
        if (vm_->type != PV_TUPLE || vm_->u.seq.n != 3 || !key_str(vm_->u.seq.items[0]) ||
            get_int(vm_->u.seq.items[1], &off) < 0 || get_int(vm_->u.seq.items[2], &size) < 0)
            return bad(v, at, "bad view_metadata of storage '%s'", key);
        if (off < 0 || size < 0 || off > numel || size > numel - off)
            return bad(v, at, "storage view [%lld, +%lld) lies outside storage '%s' of %lld elements",
                       (long long)off, (long long)size, key, (long long)numel);
        const char *vkey = vm_->u.seq.items[0]->u.str.s;
        int vidx = pk_find_storage(v->m, vkey);
        if (vidx >= 0) {
            const wt_storage *s = &v->m->storages[vidx];
            if (s->root != idx || s->view_offset != off || s->numel != size)
                return bad(v, at, "storage view '%s' is named twice differently", vkey);
        } else {
            vidx = add_storage(v, at, vkey, dt, size, idx, off);
            if (vidx < 0) return -1;
        }
        idx = vidx;
    }
    pv *s = new_value(v, PV_STORAGE);
    if (!s) return -1;
    s->u.index = idx;
    return push(v, s);
}

static int read_dims(const pv *x, int64_t *out, int *n) {
    if (x->type != PV_TUPLE && x->type != PV_LIST) return -1;
    if (x->u.seq.n > XC_ST_MAX_DIMS) return -2;
    for (size_t i = 0; i < x->u.seq.n; i++)
        if (get_int(x->u.seq.items[i], &out[i]) < 0 || out[i] < 0) return -1;
    *n = (int)x->u.seq.n;
    return 0;
}

/* (storage, storage_offset, size, stride) → a tensor record, its view checked. */
static pv *make_tensor(vm *v, size_t at, pv **args) {
    pk_machine *m = v->m;
    wt_tensor t;
    memset(&t, 0, sizeof t);
    if (args[0]->type != PV_STORAGE) {
        bad(v, at, "tensor rebuilt from a %s, not a storage", type_name(args[0]));
        return NULL;
    }
    t.storage = args[0]->u.index;
    if (get_int(args[1], &t.offset) < 0 || t.offset < 0) {
        bad(v, at, "bad tensor storage offset");
        return NULL;
    }
    int nd_stride, r1 = read_dims(args[2], t.shape, &t.ndim), r2 = read_dims(args[3], t.stride, &nd_stride);
    if (r1 == -2 || r2 == -2) {
        bad(v, at, "tensor of more than %d dimensions", XC_ST_MAX_DIMS);
        return NULL;
    }
    if (r1 < 0 || r2 < 0 || t.ndim != nd_stride) {
        bad(v, at, "bad tensor size or stride");
        return NULL;
    }
    const wt_storage *s = &m->storages[t.storage];
    /* The last element the view touches must lie inside the storage. */
    int empty = 0;
    for (int i = 0; i < t.ndim; i++) empty |= t.shape[i] == 0;
    if (empty) {
        if (t.offset > s->numel) {
            bad(v, at, "tensor offset %lld beyond storage '%s' of %lld elements", (long long)t.offset, s->key, (long long)s->numel);
            return NULL;
        }
    } else {
        int64_t last = t.offset, term;
        int over = 0;
        for (int i = 0; i < t.ndim; i++) {
            over |= __builtin_mul_overflow(t.shape[i] - 1, t.stride[i], &term);
            over |= __builtin_add_overflow(last, term, &last);
        }
        if (over || last >= s->numel) {
            bad(v, at, "tensor view lies outside storage '%s' of %lld elements", s->key, (long long)s->numel);
            return NULL;
        }
    }
    /* Products of the sizes (and so every suffix product) fit in int64, also beside a 0 size. */
    int64_t prod = 1;
    int over = 0;
    for (int i = 0; i < t.ndim; i++) over |= __builtin_mul_overflow(prod, t.shape[i] ? t.shape[i] : 1, &prod);
    if (over) {
        bad(v, at, "tensor element count overflows");
        return NULL;
    }
    if (m->n_tensors == m->cap_tensors) {
        if (m->cap_tensors >= XC_TORCHFILE_MAX_STACK) {
            bad(v, at, "more than %d tensors", XC_TORCHFILE_MAX_STACK);
            return NULL;
        }
        int cap = m->cap_tensors ? m->cap_tensors * 2 : 32;
        wt_tensor *ts = realloc(m->tensors, (size_t)cap * sizeof *ts);
        if (!ts) {
            xc_errorf("out of memory");
            return NULL;
        }
        m->tensors = ts;
        m->cap_tensors = cap;
    }
    m->tensors[m->n_tensors] = t;
    pv *x = new_value(v, PV_TENSOR);
    if (!x) return NULL;
    x->u.index = m->n_tensors++;
    return x;
}

/* OrderedDict() or OrderedDict([[k, v], …]) (Python 2's reduction). */
static pv *make_dict(vm *v, size_t at, const pv *args) {
    pv *d = new_value(v, PV_DICT);
    if (!d) return NULL;
    if (args->u.seq.n == 0) return d;
    const pv *items = args->u.seq.items[0];
    if (args->u.seq.n != 1 || (items->type != PV_LIST && items->type != PV_TUPLE)) {
        bad(v, at, "OrderedDict called with unexpected arguments");
        return NULL;
    }
    for (size_t i = 0; i < items->u.seq.n; i++) {
        const pv *kv = items->u.seq.items[i];
        if ((kv->type != PV_LIST && kv->type != PV_TUPLE) || kv->u.seq.n != 2) {
            bad(v, at, "OrderedDict item is not a pair");
            return NULL;
        }
        if (seq_push(v, d, kv->u.seq.items[0]) < 0 || seq_push(v, d, kv->u.seq.items[1]) < 0) return NULL;
    }
    return d;
}

/* REDUCE / NEWOBJ: callable(*args) for the allowed globals only. */
static pv *call(vm *v, size_t at, const pv *fn, const pv *args, int newobj) {
    if (fn->type != PV_GLOBAL) {
        bad(v, at, "cannot call a %s", type_name(fn));
        return NULL;
    }
    if (args->type != PV_TUPLE) {
        bad(v, at, "call arguments are a %s, not a tuple", type_name(args));
        return NULL;
    }
    size_t n = args->u.seq.n;
    pv **a = args->u.seq.items;
    if (newobj && fn->u.global.g != G_ORDERED_DICT) {
        bad(v, at, "NEWOBJ of something other than OrderedDict");
        return NULL;
    }
    switch (fn->u.global.g) {
    case G_ORDERED_DICT:
        return make_dict(v, at, args);
    case G_REBUILD_TENSOR:
        if (n != 4) break;
        return make_tensor(v, at, a);
    case G_REBUILD_TENSOR_V2:
        if (n != 6 && n != 7) break;
        return make_tensor(v, at, a);
    case G_REBUILD_PARAMETER:
    case G_REBUILD_PARAMETER_WITH_STATE:
        if (n != (fn->u.global.g == G_REBUILD_PARAMETER ? 3u : 4u)) break;
        if (a[0]->type != PV_TENSOR) {
            bad(v, at, "parameter rebuilt from a %s, not a tensor", type_name(a[0]));
            return NULL;
        }
        return a[0];
    case G_STORAGE_TYPE:
        bad(v, at, "a storage type is called");
        return NULL;
    }
    bad(v, at, "tensor rebuild call with %zu arguments", n);
    return NULL;
}

/* ---- the loop ------------------------------------------------------------------------------ */

static int step(vm *v, int *stop) {
    size_t at = v->pos;
    if (at >= v->len) return bad(v, at, "truncated pickle (no STOP)");
    uint8_t op = v->buf[v->pos++];
    const uint8_t *p = v->buf + v->pos;
    uint64_t n;
    size_t base = 0;
    pv *x;
    switch (op) {
    case 0x80: /* PROTO */
        if (need_bytes(v, at, 1) < 0) return -1;
        if (p[0] < 2 || p[0] > 5) return bad(v, at, "unsupported pickle protocol %d", p[0]);
        v->pos++;
        return 0;
    case 0x95: /* FRAME: a length hint; the opcodes inside are read as usual */
        if (need_bytes(v, at, 8) < 0) return -1;
        n = rd_le(p, 8);
        v->pos += 8;
        return need_bytes(v, at, n);
    case '.': /* STOP */
        if (v->nmarks || v->sp != 1) return bad(v, at, "STOP with %zu values and %zu marks on the stack", v->sp, v->nmarks);
        *stop = 1;
        return 0;
    case '(': /* MARK */
        if (v->nmarks == v->mcap) {
            if (v->mcap >= XC_TORCHFILE_MAX_STACK) return bad(v, at, "too many marks");
            size_t cap = v->mcap ? v->mcap * 2 : 16;
            size_t *mk = realloc(v->marks, cap * sizeof *mk);
            if (!mk) return xc_errorf("out of memory");
            v->marks = mk;
            v->mcap = cap;
        }
        v->marks[v->nmarks++] = v->sp;
        return 0;
    case '0': /* POP */
        if (need_items(v, at, 1, "POP") < 0) return -1;
        v->sp--;
        return 0;
    case '1': /* POP_MARK */
        if (pop_mark(v, at, "POP_MARK", &base) < 0) return -1;
        v->sp = base;
        return 0;
    case '2': /* DUP */
        if (need_items(v, at, 1, "DUP") < 0) return -1;
        return push(v, v->stack[v->sp - 1]);
    case '}': return push(v, new_value(v, PV_DICT));
    case ']': return push(v, new_value(v, PV_LIST));
    case ')': return push(v, new_value(v, PV_TUPLE));
    case 'N': return push(v, new_value(v, PV_NONE));
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
        x = new_value(v, PV_BOOL);
        if (x) x->u.i = op == 0x88;
        return push(v, x);
    case 'K': case 'M': case 'J': { /* BININT1, BININT2, BININT (signed 32) */
        int w = op == 'K' ? 1 : op == 'M' ? 2 : 4;
        if (need_bytes(v, at, (uint64_t)w) < 0) return -1;
        x = new_value(v, PV_INT);
        if (x) x->u.i = op == 'J' ? (int64_t)(int32_t)(uint32_t)rd_le(p, 4) : (int64_t)rd_le(p, w);
        v->pos += (size_t)w;
        return push(v, x);
    }
    case 0x8a: case 0x8b: { /* LONG1, LONG4: little-endian two's complement */
        int w = op == 0x8a ? 1 : 4;
        if (need_bytes(v, at, (uint64_t)w) < 0) return -1;
        n = rd_le(p, w);
        if (op == 0x8b && n > INT32_MAX) return bad(v, at, "negative LONG4 length");
        v->pos += (size_t)w;
        if (need_bytes(v, at, n) < 0) return -1;
        const uint8_t *b = v->buf + v->pos;
        v->pos += (size_t)n;
        if (n > 8) {
            x = make_str(v, b, (size_t)n);
            if (x) x->type = PV_BIGINT;
            return push(v, x);
        }
        x = new_value(v, PV_INT);
        if (!x) return -1;
        uint64_t u = rd_le(b, (int)n);
        if (n > 0 && n < 8 && (b[n - 1] & 0x80)) u |= ~(uint64_t)0 << (8 * n);
        x->u.i = (int64_t)u;
        return push(v, x);
    }
    case 'G': { /* BINFLOAT: big-endian double */
        if (need_bytes(v, at, 8) < 0) return -1;
        uint64_t u = 0;
        for (int i = 0; i < 8; i++) u = (u << 8) | p[i];
        x = new_value(v, PV_FLOAT);
        if (x) memcpy(&x->u.f, &u, sizeof u);
        v->pos += 8;
        return push(v, x);
    }
    case 'X': case 0x8c: case 0x8d: /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 */
    case 'T': case 'U':             /* BINSTRING, SHORT_BINSTRING (Python 2 str) */
    case 'B': case 'C': case 0x8e: { /* BINBYTES, SHORT_BINBYTES, BINBYTES8 */
        int w = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        if (need_bytes(v, at, (uint64_t)w) < 0) return -1;
        n = rd_le(p, w);
        if (op == 'T' && n > INT32_MAX) return bad(v, at, "negative string length");
        v->pos += (size_t)w;
        if (need_bytes(v, at, n) < 0) return -1;
        x = make_str(v, v->buf + v->pos, (size_t)n);
        v->pos += (size_t)n;
        return push(v, x);
    }
    case 't': case 'l': case 'd': /* TUPLE, LIST, DICT from the mark */
        if (pop_mark(v, at, "TUPLE/LIST/DICT", &base) < 0) return -1;
        if (op == 'd' && (v->sp - base) % 2) return bad(v, at, "DICT with an odd number of values");
        return push(v, collect(v, op == 't' ? PV_TUPLE : op == 'l' ? PV_LIST : PV_DICT, base));
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t k = (size_t)(op - 0x84);
        if (need_items(v, at, k, "TUPLEn") < 0) return -1;
        return push(v, collect(v, PV_TUPLE, v->sp - k));
    }
    case 'a': /* APPEND */
        if (need_items(v, at, 2, "APPEND") < 0) return -1;
        x = v->stack[v->sp - 2];
        if (x->type != PV_LIST) return bad(v, at, "APPEND to a %s", type_name(x));
        v->sp--;
        return seq_push(v, x, v->stack[v->sp]);
    case 'e': /* APPENDS */
    case 'u': /* SETITEMS */
        if (pop_mark(v, at, op == 'e' ? "APPENDS" : "SETITEMS", &base) < 0) return -1;
        if (base <= fence(v)) return bad(v, at, "%s with nothing to add to", op == 'e' ? "APPENDS" : "SETITEMS");
        x = v->stack[base - 1];
        if (x->type != (op == 'e' ? PV_LIST : PV_DICT)) return bad(v, at, "%s to a %s", op == 'e' ? "APPENDS" : "SETITEMS", type_name(x));
        if (op == 'u' && (v->sp - base) % 2) return bad(v, at, "SETITEMS with an odd number of values");
        for (size_t i = base; i < v->sp; i++)
            if (seq_push(v, x, v->stack[i]) < 0) return -1;
        v->sp = base;
        return 0;
    case 's': /* SETITEM */
        if (need_items(v, at, 3, "SETITEM") < 0) return -1;
        x = v->stack[v->sp - 3];
        if (x->type != PV_DICT) return bad(v, at, "SETITEM on a %s", type_name(x));
        if (seq_push(v, x, v->stack[v->sp - 2]) < 0 || seq_push(v, x, v->stack[v->sp - 1]) < 0) return -1;
        v->sp -= 2;
        return 0;
    case 'q': case 'r': /* BINPUT, LONG_BINPUT */
        if (need_bytes(v, at, op == 'q' ? 1 : 4) < 0) return -1;
        n = rd_le(p, op == 'q' ? 1 : 4);
        v->pos += op == 'q' ? 1 : 4;
        return memo_put(v, at, n);
    case 0x94: /* MEMOIZE */
        return memo_put(v, at, v->memo_count);
    case 'h': case 'j': /* BINGET, LONG_BINGET */
        if (need_bytes(v, at, op == 'h' ? 1 : 4) < 0) return -1;
        n = rd_le(p, op == 'h' ? 1 : 4);
        v->pos += op == 'h' ? 1 : 4;
        return memo_get(v, at, n);
    case 'c': { /* GLOBAL "module\nname\n" */
        const uint8_t *lines[2];
        size_t lens[2];
        for (int k = 0; k < 2; k++) {
            const uint8_t *s = v->buf + v->pos;
            size_t avail = v->len - v->pos, lim = avail < 256 ? avail : 256;
            const uint8_t *nl = memchr(s, '\n', lim);
            if (!nl) return bad(v, at, "GLOBAL name unterminated or longer than 255 bytes");
            lines[k] = s;
            lens[k] = (size_t)(nl - s);
            v->pos += lens[k] + 1;
        }
        return find_global(v, at, (const char *)lines[0], lens[0], (const char *)lines[1], lens[1]);
    }
    case 0x93: { /* STACK_GLOBAL: module, name */
        if (need_items(v, at, 2, "STACK_GLOBAL") < 0) return -1;
        pv *mod = v->stack[v->sp - 2], *name = v->stack[v->sp - 1];
        if (mod->type != PV_STR || name->type != PV_STR) return bad(v, at, "STACK_GLOBAL of non-strings");
        v->sp -= 2;
        return find_global(v, at, mod->u.str.s, mod->u.str.n, name->u.str.s, name->u.str.n);
    }
    case 'R': case 0x81: { /* REDUCE, NEWOBJ */
        if (need_items(v, at, 2, op == 'R' ? "REDUCE" : "NEWOBJ") < 0) return -1;
        pv *fn = v->stack[v->sp - 2], *args = v->stack[v->sp - 1];
        x = call(v, at, fn, args, op == 0x81);
        if (!x) return -1;
        v->sp -= 2;
        return push(v, x);
    }
    case 'b': /* BUILD: only a dict's attributes (a state dict's _metadata), ignored */
        if (need_items(v, at, 2, "BUILD") < 0) return -1;
        x = v->stack[v->sp - 2];
        if (x->type != PV_DICT) return bad(v, at, "BUILD on a %s", type_name(x));
        v->sp--;
        return 0;
    case 'Q': /* BINPERSID */
        return persistent_load(v, at);
    default:
        if (op >= 0x20 && op < 0x7f) return bad(v, at, "unsupported pickle opcode 0x%02x ('%c')", op, op);
        return bad(v, at, "unsupported pickle opcode 0x%02x", op);
    }
}

int pk_run(pk_machine *m, const uint8_t *buf, size_t len, size_t pos, const char *where,
           pk_persid persid, pv **out, size_t *end) {
    vm v;
    memset(&v, 0, sizeof v);
    v.m = m;
    v.buf = buf;
    v.len = len;
    v.start = v.pos = pos;
    v.where = where;
    v.persid = persid;
    int stop = 0, rc = 0;
    while (!stop && rc == 0) rc = step(&v, &stop);
    if (rc == 0) {
        *out = v.stack[0];
        *end = v.pos;
    }
    free(v.stack);
    free(v.marks);
    free(v.memo);
    return rc;
}
