/* torchsave.c — writing a state dict as torch.save does (the zip format of torch >= 1.6), so
 * that `torch.load(path)` gives an OrderedDict of tensors and
 * `model.load_state_dict(torch.load(path), strict=True)` works.
 *
 * Hand-written because no C library writes this format: it is a pickle (protocol 2, only the
 * opcodes torch.save itself emits for a state dict: GLOBAL, BINUNICODE, BININT, BINPERSID,
 * TUPLE, REDUCE, SETITEMS, NEWFALSE) inside an uncompressed zip archive
 *   archive/data.pkl, archive/data/<k> (one storage per tensor, raw little-endian bytes,
 *   64-byte aligned as torch aligns them), archive/version ("3\n")
 * with CRC-32s from xc_crc32. The reader of src/weights/ (and torch) reads it back;
 * tests/export/test_export_cli.sh loads the result with torch.load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/checksum.h"
#include "xraycls/fs.h"
#include "xraycls/weights.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
    int oom;
} buf;

static void put(buf *b, const void *s, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put1(buf *b, uint8_t v) { put(b, &v, 1); }
static void put_le(buf *b, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) put1(b, (uint8_t)(v >> (8 * i)));
}
static void put_str(buf *b, const char *s) { put(b, s, strlen(s)); }

/* BINUNICODE */
static void p_unicode(buf *b, const char *s) {
    put1(b, 'X');
    put_le(b, strlen(s), 4);
    put_str(b, s);
}
/* BININT (signed 32-bit) or, for larger values, LONG1 */
static void p_int(buf *b, int64_t v) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
        put1(b, 'J');
        put_le(b, (uint64_t)(uint32_t)(int32_t)v, 4);
    } else {
        put1(b, 0x8a);
        put1(b, 8);
        put_le(b, (uint64_t)v, 8);
    }
}
static void p_global(buf *b, const char *module, const char *name) {
    put1(b, 'c');
    put_str(b, module);
    put1(b, '\n');
    put_str(b, name);
    put1(b, '\n');
}

static const char *storage_type(xc_dtype dt) {
    switch (dt) {
    case XC_F32: return "FloatStorage";
    case XC_F64: return "DoubleStorage";
    case XC_F16: return "HalfStorage";
    case XC_BF16: return "BFloat16Storage";
    case XC_I64: return "LongStorage";
    case XC_I32: return "IntStorage";
    case XC_I16: return "ShortStorage";
    case XC_I8: return "CharStorage";
    case XC_U8: return "ByteStorage";
    case XC_BOOL: return "BoolStorage";
    default: return NULL;
    }
}

/* The pickle of OrderedDict(name → _rebuild_tensor_v2(storage k, 0, shape, strides, False,
 * OrderedDict())). */
static int pickle(buf *b, const xc_st_tensor *t, int n) {
    put1(b, 0x80), put1(b, 2); /* PROTO 2 */
    p_global(b, "collections", "OrderedDict");
    put1(b, ')'), put1(b, 'R');
    put1(b, '(');
    for (int i = 0; i < n; i++) {
        const char *st = storage_type(t[i].dtype);
        if (!st) return xc_errorf("tensor '%s': no torch storage for dtype %s", t[i].name, xc_dtype_st_name(t[i].dtype));
        int64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= t[i].shape[d];
        char key[32];
        snprintf(key, sizeof key, "%d", i);
        p_unicode(b, t[i].name);
        p_global(b, "torch._utils", "_rebuild_tensor_v2");
        put1(b, '(');
        put1(b, '('); /* the persistent id: ('storage', type, key, location, numel) */
        p_unicode(b, "storage");
        p_global(b, "torch", st);
        p_unicode(b, key);
        p_unicode(b, "cpu");
        p_int(b, numel);
        put1(b, 't'), put1(b, 'Q');
        p_int(b, 0);
        put1(b, '(');
        for (int d = 0; d < t[i].ndim; d++) p_int(b, t[i].shape[d]);
        put1(b, 't');
        put1(b, '(');
        int64_t stride = 1, strides[XC_ST_MAX_DIMS];
        for (int d = t[i].ndim - 1; d >= 0; d--) strides[d] = stride, stride *= t[i].shape[d];
        for (int d = 0; d < t[i].ndim; d++) p_int(b, strides[d]);
        put1(b, 't');
        put1(b, 0x89); /* requires_grad False */
        p_global(b, "collections", "OrderedDict");
        put1(b, ')'), put1(b, 'R');
        put1(b, 't'), put1(b, 'R');
    }
    put1(b, 'u'), put1(b, '.');
    return b->oom ? xc_errorf("out of memory") : 0;
}

typedef struct {
    char *name;
    uint32_t crc;
    uint64_t size, offset;
} zentry;

/* One stored entry: local header (padded through an extra field so the data starts on a
 * 64-byte boundary), then the data. */
static void zip_add(buf *z, zentry *e, const char *name, const void *data, size_t size) {
    size_t nl = strlen(name), head = 30 + nl;
    size_t pad = (64 - (z->n + head + 4) % 64) % 64;
    e->name = strdup(name);
    e->crc = xc_crc32(0, data, size); /* the one CRC-32 of the tree (xraycls/checksum.h) */
    e->size = size;
    e->offset = z->n;
    put_le(z, 0x04034b50, 4);
    put_le(z, 20, 2), put_le(z, 0, 2), put_le(z, 0, 2); /* version, flags, stored */
    put_le(z, 0, 2), put_le(z, 0x21, 2);                /* 1980-01-01 00:00 */
    put_le(z, e->crc, 4), put_le(z, size, 4), put_le(z, size, 4);
    put_le(z, nl, 2), put_le(z, pad + 4, 2);
    put(z, name, nl);
    put_le(z, 0x4246, 2), put_le(z, pad, 2); /* "FB" padding, as torch's writer */
    for (size_t i = 0; i < pad; i++) put1(z, 'Z');
    put(z, data, size);
}

int xc_torchsave_write(const char *path, const xc_st_tensor *tensors, int n) {
    buf pk = {0}, z = {0};
    zentry *e = calloc((size_t)n + 2, sizeof *e);
    int rc = -1, ne = 0;
    if (!e) return xc_errorf("out of memory");
    if (pickle(&pk, tensors, n) < 0) {
        xc_errorf("cannot write '%s': %s", path, xc_error());
        goto done;
    }
    zip_add(&z, &e[ne++], "archive/data.pkl", pk.p, pk.n);
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "archive/data/%d", i);
        zip_add(&z, &e[ne++], name, tensors[i].data, tensors[i].nbytes);
    }
    zip_add(&z, &e[ne++], "archive/version", "3\n", 2);
    if (z.n > 0xFFFFFFFFu) {
        xc_errorf("cannot write '%s': over 4 GiB (zip64 is not written)", path);
        goto done;
    }
    uint64_t cd = z.n;
    for (int i = 0; i < ne; i++) {
        size_t nl = strlen(e[i].name);
        put_le(&z, 0x02014b50, 4);
        put_le(&z, 20, 2), put_le(&z, 20, 2), put_le(&z, 0, 2), put_le(&z, 0, 2);
        put_le(&z, 0, 2), put_le(&z, 0x21, 2);
        put_le(&z, e[i].crc, 4), put_le(&z, e[i].size, 4), put_le(&z, e[i].size, 4);
        put_le(&z, nl, 2), put_le(&z, 0, 2), put_le(&z, 0, 2); /* name, extra, comment */
        put_le(&z, 0, 2), put_le(&z, 0, 2), put_le(&z, 0, 4);  /* disk, attributes */
        put_le(&z, e[i].offset, 4);
        put(&z, e[i].name, nl);
    }
    uint64_t cdsize = z.n - cd;
    put_le(&z, 0x06054b50, 4);
    put_le(&z, 0, 2), put_le(&z, 0, 2), put_le(&z, (uint64_t)ne, 2), put_le(&z, (uint64_t)ne, 2);
    put_le(&z, cdsize, 4), put_le(&z, cd, 4), put_le(&z, 0, 2);
    if (z.oom || pk.oom) {
        xc_errorf("cannot write '%s': out of memory", path);
        goto done;
    }
    rc = xc_write_file_atomic(path, z.p, z.n);
done:
    for (int i = 0; i < ne; i++) free(e[i].name);
    free(e);
    free(pk.p);
    free(z.p);
    return rc;
}
