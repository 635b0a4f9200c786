/* torchfile.c — the torch.save containers (zip and legacy) around the pickle machine, the
 * search for the state dict, and the public API of xraycls/weights.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "xraycls/fs.h"

struct xc_torchfile {
    char *what;
    void *map; /* owned mapping (xc_torchfile_open), else NULL */
    size_t map_len;
    size_t len; /* bytes parsed */
    xc_torchfile_format format;
    const char *sd_key;
    pk_machine m;
    xc_torch_tensor *tensors;
    int n;
    xc_st_tensor *st[2]; /* xc_torchfile_st_tensors' arrays: stored names, normalized names */
};

/* ---- containers ---------------------------------------------------------------------------- */

/* Points every storage at its bytes, views at their root's. */
static void attach_views(pk_machine *m) {
    for (int i = 0; i < m->n_storages; i++) {
        wt_storage *s = &m->storages[i];
        if (s->root >= 0)
            s->data = m->storages[s->root].data + (size_t)s->view_offset * wt_dtype_size(s->dtype);
    }
}

/* torch.save stores its entries; a compressed one cannot be pointed into. */
static int stored(const xc_torchfile *f, const wt_zip_entry *e) {
    if (e->method == 0) return 0;
    return xc_errorf("cannot read '%s': zip entry '%s' is compressed (method %u); torch.save writes stored entries, so save the file again with torch.save",
                     f->what, e->name, e->method);
}

static int read_zip(xc_torchfile *f, const uint8_t *buf, size_t len, pv **top) {
    pk_machine *m = &f->m;
    wt_zip_entry *ents;
    int n;
    if (wt_zip_read(&m->arena, buf, len, f->what, &ents, &n) < 0) return -1;
    /* The one top folder is the one holding data.pkl. */
    const wt_zip_entry *pkl = NULL;
    for (int i = 0; i < n; i++) {
        const char *slash = strchr(ents[i].name, '/');
        if (slash && slash != ents[i].name && strcmp(slash, "/data.pkl") == 0) {
            if (pkl) return xc_errorf("cannot read '%s': the archive holds two data.pkl entries", f->what);
            pkl = &ents[i];
        }
    }
    if (!pkl) return xc_errorf("cannot read '%s': a zip archive without <name>/data.pkl is not a torch.save file", f->what);
    size_t toplen = (size_t)(strchr(pkl->name, '/') - pkl->name);
    char entry[XC_WEIGHTS_NAME_MAX + 64];
    if (toplen > XC_WEIGHTS_NAME_MAX) return xc_errorf("cannot read '%s': archive folder name too long", f->what);

    snprintf(entry, sizeof entry, "%.*s/byteorder", (int)toplen, pkl->name);
    const wt_zip_entry *bo = wt_zip_find(ents, n, entry);
    if (bo && stored(f, bo) < 0) return -1;
    if (bo && !(bo->size == 6 && memcmp(bo->data, "little", 6) == 0))
        return xc_errorf("cannot read '%s': only little-endian files are supported (byteorder is not 'little')", f->what);

    size_t end;
    if (stored(f, pkl) < 0) return -1;
    if (pk_run(m, pkl->data, (size_t)pkl->size, 0, "data.pkl", PK_PERSID_ZIP, top, &end) < 0) return -1;
    if (end != pkl->size) return xc_errorf("cannot read '%s': data.pkl: %llu bytes after STOP", f->what, (unsigned long long)(pkl->size - end));

    for (int i = 0; i < m->n_storages; i++) {
        wt_storage *s = &m->storages[i];
        if (s->root >= 0) continue; /* zip files have no views */
        if (strlen(s->key) > XC_WEIGHTS_NAME_MAX) return xc_errorf("cannot read '%s': storage key too long", f->what);
        snprintf(entry, sizeof entry, "%.*s/data/%s", (int)toplen, pkl->name, s->key);
        const wt_zip_entry *d = wt_zip_find(ents, n, entry);
        if (!d) return xc_errorf("cannot read '%s': storage '%s' has no entry '%s'", f->what, s->key, entry);
        if (stored(f, d) < 0) return -1;
        uint64_t want = (uint64_t)s->numel * wt_dtype_size(s->dtype);
        if (d->size != want)
            return xc_errorf("cannot read '%s': storage '%s' holds %llu bytes, its %lld elements need %llu", f->what,
                             s->key, (unsigned long long)d->size, (long long)s->numel, (unsigned long long)want);
        s->data = d->data;
    }
    attach_views(m);
    return 0;
}

/* 0x1950a86a20f9469cfc6c as LONG1 stores it. */
static const uint8_t legacy_magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

static const pv *dict_get(const pv *d, const char *key) {
    for (size_t i = 0; i + 1 < d->u.seq.n; i += 2) {
        const pv *k = d->u.seq.items[i];
        if (k->type == PV_STR && strcmp(k->u.str.s, key) == 0 && strlen(key) == k->u.str.n) return d->u.seq.items[i + 1];
    }
    return NULL;
}

static int read_legacy(xc_torchfile *f, const uint8_t *buf, size_t len, pv **top) {
    pk_machine *m = &f->m;
    pv *x;
    size_t pos = 0;
    if (pk_run(m, buf, len, pos, "the magic number pickle", PK_PERSID_NONE, &x, &pos) < 0) return -1;
    if (x->type != PV_BIGINT || x->u.str.n != sizeof legacy_magic || memcmp(x->u.str.s, legacy_magic, sizeof legacy_magic) != 0)
        return xc_errorf("cannot read '%s': not a torch.save file (wrong magic number)", f->what);
    if (pk_run(m, buf, len, pos, "the protocol version pickle", PK_PERSID_NONE, &x, &pos) < 0) return -1;
    if (x->type != PV_INT || x->u.i != 1001)
        return xc_errorf("cannot read '%s': unsupported legacy protocol version (want 1001)", f->what);
    if (pk_run(m, buf, len, pos, "the sys_info pickle", PK_PERSID_NONE, &x, &pos) < 0) return -1;
    const pv *le = x->type == PV_DICT ? dict_get(x, "little_endian") : NULL;
    if (!le || le->type != PV_BOOL) return xc_errorf("cannot read '%s': sys_info lacks little_endian", f->what);
    if (!le->u.i) return xc_errorf("cannot read '%s': only little-endian files are supported", f->what);
    if (pk_run(m, buf, len, pos, "the object pickle", PK_PERSID_LEGACY, top, &pos) < 0) return -1;
    if (pk_run(m, buf, len, pos, "the storage key pickle", PK_PERSID_NONE, &x, &pos) < 0) return -1;
    if (x->type != PV_LIST) return xc_errorf("cannot read '%s': the storage key list is a not a list", f->what);

    /* Per key: an 8-byte little-endian element count, then the raw bytes. */
    for (size_t i = 0; i < x->u.seq.n; i++) {
        const pv *k = x->u.seq.items[i];
        int idx = k->type == PV_STR ? pk_find_storage(m, k->u.str.s) : -1;
        if (idx < 0 || m->storages[idx].root >= 0) return xc_errorf("cannot read '%s': storage key %zu names no storage of the object", f->what, i);
        wt_storage *s = &m->storages[idx];
        if (s->data) return xc_errorf("cannot read '%s': storage '%s' is listed twice", f->what, s->key);
        if (len - pos < 8) return xc_errorf("cannot read '%s': truncated file (storage '%s')", f->what, s->key);
        uint64_t count = 0;
        for (int b = 7; b >= 0; b--) count = (count << 8) | buf[pos + (size_t)b];
        pos += 8;
        if (count != (uint64_t)s->numel)
            return xc_errorf("cannot read '%s': storage '%s' holds %llu elements, the object says %lld", f->what, s->key,
                             (unsigned long long)count, (long long)s->numel);
        size_t es = wt_dtype_size(s->dtype);
        if (count > (len - pos) / es) return xc_errorf("cannot read '%s': truncated file (storage '%s')", f->what, s->key);
        s->data = buf + pos;
        pos += (size_t)count * es;
    }
    for (int j = 0; j < m->n_storages; j++)
        if (m->storages[j].root < 0 && !m->storages[j].data)
            return xc_errorf("cannot read '%s': storage '%s' has no data", f->what, m->storages[j].key);
    if (pos != len) return xc_errorf("cannot read '%s': %zu unexpected bytes after the last storage", f->what, len - pos);
    attach_views(m);
    return 0;
}

/* ---- the state dict ------------------------------------------------------------------------ */

static int is_tensor_dict(const pv *d) {
    if (d->type != PV_DICT || d->u.seq.n == 0) return 0;
    for (size_t i = 0; i < d->u.seq.n; i += 2)
        if (d->u.seq.items[i]->type != PV_STR || d->u.seq.items[i + 1]->type != PV_TENSOR) return 0;
    return 1;
}

static int find_state_dict(xc_torchfile *f, const pv *top, const pv **sd) {
    static const char *const keys[] = {"state_dict", "model_state_dict", "model", "net"};
    f->sd_key = "";
    if (is_tensor_dict(top)) {
        *sd = top;
        return 0;
    }
    if (top->type != PV_DICT)
        return xc_errorf("cannot read '%s': it holds a %s, not a state dict", f->what,
                         top->type == PV_TENSOR ? "single tensor" : top->type == PV_LIST ? "list" : top->type == PV_TUPLE ? "tuple" : "value");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const pv *v = dict_get(top, keys[i]);
        if (v && is_tensor_dict(v)) {
            f->sd_key = keys[i];
            *sd = v;
            return 0;
        }
    }
    const pv *only = NULL;
    int found = 0;
    for (size_t i = 0; i < top->u.seq.n; i += 2)
        if (top->u.seq.items[i]->type == PV_STR && is_tensor_dict(top->u.seq.items[i + 1])) {
            only = top->u.seq.items[i + 1];
            f->sd_key = top->u.seq.items[i]->u.str.s;
            found++;
        }
    if (found == 1) {
        *sd = only;
        return 0;
    }
    char list[256] = "";
    size_t k = 0;
    for (size_t i = 0; i < top->u.seq.n && k < sizeof list - 40; i += 2) {
        const pv *key = top->u.seq.items[i];
        int w = key->type == PV_STR ? snprintf(list + k, sizeof list - k, "%s'%.30s'", k ? ", " : "", key->u.str.s)
                                     : snprintf(list + k, sizeof list - k, "%s(non-string)", k ? ", " : "");
        k += (size_t)w < sizeof list - k ? (size_t)w : sizeof list - k - 1;
    }
    f->sd_key = "";
    if (found > 1) return xc_errorf("cannot read '%s': several dicts of tensors at the top level (%s): which is the state dict?", f->what, list);
    return xc_errorf("cannot read '%s': no state dict found: the top level is a dict with keys %s, none of them a dict of tensors",
                     f->what, top->u.seq.n ? list : "(none)");
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const xc_torch_tensor *const *)a)->name, (*(const xc_torch_tensor *const *)b)->name);
}
static int by_norm(const void *a, const void *b) {
    return strcmp((*(const xc_torch_tensor *const *)a)->norm_name, (*(const xc_torch_tensor *const *)b)->norm_name);
}

/* Both spellings must be unique. */
static int check_unique(xc_torchfile *f) {
    const xc_torch_tensor **v = malloc((size_t)f->n * sizeof *v);
    if (!v) return xc_errorf("out of memory");
    int rc = 0;
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        for (int i = 0; i < f->n; i++) v[i] = &f->tensors[i];
        qsort(v, (size_t)f->n, sizeof *v, pass ? by_norm : by_name);
        for (int i = 1; i < f->n && rc == 0; i++) {
            if (pass == 0 && strcmp(v[i - 1]->name, v[i]->name) == 0)
                rc = xc_errorf("cannot read '%s': tensor '%s' appears twice", f->what, v[i]->name);
            if (pass == 1 && strcmp(v[i - 1]->norm_name, v[i]->norm_name) == 0)
                rc = xc_errorf("cannot read '%s': tensors '%s' and '%s' both normalize to '%s'", f->what,
                               v[i - 1]->name, v[i]->name, v[i]->norm_name);
        }
    }
    free(v);
    return rc;
}

static int build_tensors(xc_torchfile *f, const pv *sd) {
    pk_machine *m = &f->m;
    f->n = (int)(sd->u.seq.n / 2);
    f->tensors = wt_alloc(&m->arena, (size_t)f->n * sizeof *f->tensors);
    if (!f->tensors) return -1;
    for (int i = 0; i < f->n; i++) {
        const pv *key = sd->u.seq.items[2 * (size_t)i];
        const wt_tensor *r = &m->tensors[sd->u.seq.items[2 * (size_t)i + 1]->u.index];
        const wt_storage *s = &m->storages[r->storage];
        xc_torch_tensor *t = &f->tensors[i];
        if (key->u.str.n > XC_WEIGHTS_NAME_MAX || strlen(key->u.str.s) != key->u.str.n || key->u.str.n == 0)
            return xc_errorf("cannot read '%s': state dict entry %d has an empty, overlong or binary name", f->what, i);
        t->name = key->u.str.s;
        char norm[XC_WEIGHTS_NAME_MAX + 1];
        int nl = xc_weights_normalize_name(t->name, norm, sizeof norm);
        if (nl < 0) return -1;
        if (!(t->norm_name = wt_strndup(&m->arena, norm, (size_t)nl))) return -1;
        t->dtype = s->dtype;
        t->ndim = r->ndim;
        t->numel = 1;
        t->contiguous = 1;
        int64_t expect = 1;
        for (int d = r->ndim - 1; d >= 0; d--) {
            t->shape[d] = r->shape[d];
            t->strides[d] = r->stride[d];
            if (r->shape[d] != 1 && r->stride[d] != expect) t->contiguous = 0;
            expect *= r->shape[d];
            t->numel *= r->shape[d];
        }
        if (t->numel == 0) t->contiguous = 1;
        int64_t nbytes;
        if (__builtin_mul_overflow(t->numel, (int64_t)wt_dtype_size(s->dtype), &nbytes))
            return xc_errorf("cannot read '%s': tensor '%s' has too many elements", f->what, t->name);
        t->data = s->data + (size_t)r->offset * wt_dtype_size(s->dtype);
        t->storage_key = s->root >= 0 ? m->storages[s->root].key : s->key;
    }
    return check_unique(f);
}

/* ---- API ----------------------------------------------------------------------------------- */

static xc_torchfile *parse(xc_torchfile *f, const uint8_t *buf, size_t len) {
    pv *top = NULL;
    f->len = len;
    f->m.arena.limit = WT_BUDGET(len);
    f->m.arena.what = f->what;
    int rc;
    if (len >= 4 && (memcmp(buf, "PK\x03\x04", 4) == 0 || memcmp(buf, "PK\x05\x06", 4) == 0)) {
        f->format = XC_TORCHFILE_ZIP;
        rc = read_zip(f, buf, len, &top);
    } else if (len >= 2 && buf[0] == 0x80) {
        f->format = XC_TORCHFILE_LEGACY;
        rc = read_legacy(f, buf, len, &top);
    } else if (len >= 262 && memcmp(buf + 257, "ustar", 5) == 0) {
        rc = xc_errorf("cannot read '%s': tar-format torch files (torch < 0.1.10) are not supported", f->what);
    } else {
        rc = xc_errorf("cannot read '%s': not a torch.save file (neither a zip archive nor a pickle)", f->what);
    }
    const pv *sd = NULL;
    if (rc == 0) rc = find_state_dict(f, top, &sd);
    if (rc == 0) rc = build_tensors(f, sd);
    if (rc < 0) {
        xc_torchfile_close(f);
        return NULL;
    }
    return f;
}

static xc_torchfile *new_file(const char *what) {
    xc_torchfile *f = calloc(1, sizeof *f);
    if (f) f->what = strdup(what ? what : "(buffer)");
    if (!f || !f->what) {
        free(f);
        xc_errorf("out of memory");
        return NULL;
    }
    f->m.what = f->what;
    return f;
}

xc_torchfile *xc_torchfile_parse(const void *buf, size_t len, const char *what) {
    xc_torchfile *f = new_file(what);
    if (!f) return NULL;
    return parse(f, buf, len);
}

xc_torchfile *xc_torchfile_open(const char *path) {
    struct stat st;
    int fd = xc_open_regular(path, &st);
    if (fd < 0) return NULL;
    if (st.st_size == 0) {
        xc_errorf("cannot read '%s': empty file", path);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        xc_errorf_errno("cannot map '%s'", path);
        return NULL;
    }
    xc_torchfile *f = new_file(path);
    if (!f) {
        munmap(map, (size_t)st.st_size);
        return NULL;
    }
    f->map = map;
    f->map_len = (size_t)st.st_size;
    return parse(f, map, (size_t)st.st_size);
}

void xc_torchfile_close(xc_torchfile *f) {
    if (!f) return;
    pk_machine_free(&f->m);
    if (f->map) munmap(f->map, f->map_len);
    free(f->st[0]);
    free(f->st[1]);
    free(f->what);
    free(f);
}

const char *xc_torchfile_path(const xc_torchfile *f) { return f->what; }
xc_torchfile_format xc_torchfile_format_of(const xc_torchfile *f) { return f->format; }
const char *xc_torchfile_state_dict_key(const xc_torchfile *f) { return f->sd_key; }
int xc_torchfile_count(const xc_torchfile *f) { return f->n; }

const xc_torch_tensor *xc_torchfile_at(const xc_torchfile *f, int i) {
    return (i >= 0 && i < f->n) ? &f->tensors[i] : NULL;
}

const xc_torch_tensor *xc_torchfile_find(const xc_torchfile *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const xc_torch_tensor *xc_torchfile_find_norm(const xc_torchfile *f, const char *norm_name) {
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].norm_name, norm_name) == 0) return &f->tensors[i];
    return NULL;
}

int xc_torchfile_st_tensors(xc_torchfile *f, int normalized, const xc_st_tensor **out, int *n) {
    int w = normalized ? 1 : 0;
    if (!f->st[w]) {
        xc_st_tensor *st = calloc((size_t)(f->n ? f->n : 1), sizeof *st);
        if (!st) return xc_errorf("out of memory");
        for (int i = 0; i < f->n; i++) {
            const xc_torch_tensor *t = &f->tensors[i];
            st[i].name = w ? t->norm_name : t->name;
            st[i].dtype = t->dtype;
            st[i].ndim = t->ndim;
            memcpy(st[i].shape, t->shape, sizeof st[i].shape);
            st[i].nbytes = (size_t)t->numel * wt_dtype_size(t->dtype);
            st[i].data = t->data;
            /* Only a broadcast (stride-0) view can be much larger than the file. */
            if (!t->contiguous && st[i].nbytes / 64 > f->len) {
                free(st);
                return xc_errorf("cannot read '%s': tensor '%s' is a broadcast view of %lld elements, too large to copy",
                                 f->what, t->name, (long long)t->numel);
            }
            if (!t->contiguous) {
                /* The other spelling's array may already hold a copy of this tensor. */
                const xc_st_tensor *other = f->st[1 - w];
                void *copy = other ? (void *)other[i].data : wt_alloc(&f->m.arena, st[i].nbytes);
                if (!copy || (!other && xc_torchfile_copy(t, copy, st[i].nbytes) < 0)) {
                    free(st);
                    return -1;
                }
                st[i].data = copy;
            }
        }
        f->st[w] = st;
    }
    *out = f->st[w];
    *n = f->n;
    return 0;
}
