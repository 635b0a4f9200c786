/* test_safetensors.c — the safetensors reader and writer: round trips of every dtype (0-dim,
 * empty, metadata), the writer's tensor order and header padding, a file laid out by hand from
 * the format's description, every malformed input the reader must refuse (with the message
 * checked), atomic writes that fail part-way, and offsets past 4 GiB (sparse file). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/safetensors.h"

static char tmpdir[2048];

static char *tpath(const char *name) {
    static char buf[4][4096];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmpdir, name);
    return b;
}

/* Bytes of a safetensors file: 8-byte little-endian length, header, data. malloc'd. */
static unsigned char *make_file(const char *header, const void *data, size_t data_len, size_t *len) {
    size_t n = strlen(header);
    *len = 8 + n + data_len;
    unsigned char *b = malloc(*len + 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(b + 8, header, n);
    if (data_len) memcpy(b + 8 + n, data, data_len);
    return b;
}

/* Parses a hand-made file that must be refused with a message containing `want` (and the
 * file's name). */
static void expect_bad(const char *header, size_t data_len, const char *want) {
    unsigned char data[256] = {0};
    size_t len;
    unsigned char *b = make_file(header, data, data_len, &len);
    xc_error_clear();
    xc_st_file *f = xc_st_parse(b, len, "bad.safetensors");
    CHECK_MSG(f == NULL, "accepted: %s", header);
    CHECK_CONTAINS(xc_error(), want);
    CHECK_CONTAINS(xc_error(), "bad.safetensors");
    xc_st_close(f);
    free(b);
}

/* Folder holds a leftover temporary (".<name>.<pid>.<n>.tmp")? */
static int has_tmp(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) found = 1;
    closedir(d);
    return found;
}

static int file_equals(const char *path, const char *want) {
    size_t n;
    char *s = xc_read_file(path, &n, 1 << 20);
    int eq = s && n == strlen(want) && !memcmp(s, want, n);
    free(s);
    return eq;
}

static void test_dtypes(void) {
    CHECK(xc_dtype_size(XC_U8) == 1 && xc_dtype_size(XC_BOOL) == 1 && xc_dtype_size(XC_I16) == 2);
    CHECK(xc_dtype_size(XC_F16) == 2 && xc_dtype_size(XC_BF16) == 2 && xc_dtype_size(XC_I32) == 4);
    CHECK(xc_dtype_size(XC_F32) == 4 && xc_dtype_size(XC_I64) == 8 && xc_dtype_size(XC_F64) == 8);
    CHECK(xc_dtype_size(XC_I8) == 1);
    for (int i = 0; i < XC_DTYPE_COUNT; i++) {
        xc_dtype back;
        CHECK(xc_dtype_from_st_name(xc_dtype_st_name((xc_dtype)i), &back) == 0 && back == (xc_dtype)i);
    }
    xc_dtype d;
    CHECK(xc_dtype_from_st_name("f32", &d) < 0); /* case matters in the format */
    CHECK(xc_dtype_from_st_name("U16", &d) < 0);
}

static void test_round_trip(void) {
    xc_st_writer *w = xc_st_writer_new();
    unsigned char pattern[XC_DTYPE_COUNT][6 * 8];
    char names[XC_DTYPE_COUNT][32];
    int64_t shape23[2] = {2, 3};
    for (int i = 0; i < XC_DTYPE_COUNT; i++) {
        size_t nb = 6 * xc_dtype_size((xc_dtype)i);
        for (size_t k = 0; k < nb; k++) pattern[i][k] = (unsigned char)(k * 7 + (size_t)i * 31 + 1);
        if (i == XC_BOOL)
            for (size_t k = 0; k < nb; k++) pattern[i][k] &= 1;
        snprintf(names[i], sizeof names[i], "t.%s", xc_dtype_st_name((xc_dtype)i));
        CHECK(xc_st_writer_add(w, names[i], (xc_dtype)i, 2, shape23, pattern[i], nb) == 0);
    }
    float scalar = 3.25f;
    CHECK(xc_st_writer_add(w, "scalar", XC_F32, 0, NULL, &scalar, sizeof scalar) == 0);
    int64_t e1[2] = {0, 4}, e2[3] = {3, 0, 2};
    CHECK(xc_st_writer_add(w, "empty.a", XC_F32, 2, e1, NULL, 0) == 0);
    CHECK(xc_st_writer_add(w, "empty.b", XC_I64, 3, e2, NULL, 0) == 0);
    int64_t big[1] = {1000};
    double *copy = malloc(1000 * sizeof *copy);
    for (int i = 0; i < 1000; i++) copy[i] = i * 0.5;
    CHECK(xc_st_writer_add_copy(w, "copied", XC_F64, 1, big, copy, 1000 * sizeof *copy) == 0);
    memset(copy, 0, 1000 * sizeof *copy); /* the writer must hold its own copy */
    free(copy);
    CHECK(xc_st_writer_meta(w, "format", "xraycls-test") == 0);
    CHECK(xc_st_writer_meta(w, "config", "{\"a\": 1,\n\t\"b\": \"q\\\"\"}") == 0);
    CHECK(xc_st_writer_meta(w, "unicode", "Lunge \xc3\xa9 \xe2\x80\xa6 \xf0\x9f\xa9\xbb") == 0);
    CHECK(xc_st_writer_meta(w, "format", "xraycls-test-2") == 0); /* replaces */
    const char *path = tpath("round trip \xc3\xa9.safetensors");
    CHECK(xc_st_writer_write(w, path) == 0);
    xc_st_writer_free(w);

    xc_st_file *f = xc_st_open(path);
    CHECK_MSG(f != NULL, "%s", xc_error());
    if (!f) return;
    CHECK(!strcmp(xc_st_path(f), path));
    CHECK(xc_st_count(f) == XC_DTYPE_COUNT + 4);
    for (int i = 0; i < XC_DTYPE_COUNT; i++) {
        const xc_st_tensor *t = xc_st_find(f, names[i]);
        CHECK_MSG(t != NULL, "%s", names[i]);
        if (!t) continue;
        CHECK(t->dtype == (xc_dtype)i && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3);
        CHECK(t->nbytes == 6 * xc_dtype_size((xc_dtype)i));
        CHECK(!memcmp(t->data, pattern[i], t->nbytes));
        CHECK(xc_st_require(f, names[i], (xc_dtype)i, 2) == t);
    }
    const xc_st_tensor *s = xc_st_find(f, "scalar");
    CHECK(s && s->ndim == 0 && s->nbytes == 4);
    if (s) {
        float v;
        memcpy(&v, s->data, 4);
        CHECK(v == 3.25f);
    }
    const xc_st_tensor *ea = xc_st_find(f, "empty.a"), *eb = xc_st_find(f, "empty.b");
    CHECK(ea && ea->nbytes == 0 && ea->ndim == 2 && ea->shape[0] == 0 && ea->shape[1] == 4);
    CHECK(eb && eb->nbytes == 0 && eb->ndim == 3 && eb->shape[1] == 0 && eb->dtype == XC_I64);
    const xc_st_tensor *c = xc_st_find(f, "copied");
    CHECK(c && c->nbytes == 8000);
    if (c) {
        double v;
        memcpy(&v, (const char *)c->data + 8 * 999, 8);
        CHECK(v == 499.5);
    }
    CHECK(xc_st_find(f, "nope") == NULL);
    CHECK(xc_st_meta_count(f) == 3);
    CHECK(xc_st_meta(f, "format") && !strcmp(xc_st_meta(f, "format"), "xraycls-test-2"));
    CHECK(xc_st_meta(f, "config") && !strcmp(xc_st_meta(f, "config"), "{\"a\": 1,\n\t\"b\": \"q\\\"\"}"));
    CHECK(xc_st_meta(f, "unicode") && !strcmp(xc_st_meta(f, "unicode"), "Lunge \xc3\xa9 \xe2\x80\xa6 \xf0\x9f\xa9\xbb"));
    CHECK(xc_st_meta(f, "absent") == NULL);
    const char *k, *v;
    CHECK(xc_st_meta_at(f, 0, &k, &v) == 0 && !strcmp(k, "format"));
    CHECK(xc_st_meta_at(f, 3, &k, &v) < 0);
    /* File order is ascending offsets: consecutive data. */
    for (int i = 1; i < xc_st_count(f); i++) {
        const xc_st_tensor *a = xc_st_at(f, i - 1), *b = xc_st_at(f, i);
        CHECK((const char *)a->data + a->nbytes == (const char *)b->data);
    }
    CHECK(xc_st_at(f, -1) == NULL && xc_st_at(f, xc_st_count(f)) == NULL);

    /* xc_st_require names the file and the tensor. */
    CHECK(xc_st_require(f, "missing.w", XC_F32, -1) == NULL);
    CHECK_CONTAINS(xc_error(), "missing.w");
    CHECK_CONTAINS(xc_error(), path);
    CHECK(xc_st_require(f, "t.F32", XC_F64, -1) == NULL);
    CHECK_CONTAINS(xc_error(), "'t.F32' is F32, expected F64");
    CHECK(xc_st_require(f, "t.F32", XC_F32, 3) == NULL);
    CHECK_CONTAINS(xc_error(), "has 2 dims, expected 3");
    CHECK(xc_st_require(f, "t.F32", XC_F32, -1) != NULL);
    xc_st_close(f);
    xc_st_close(NULL);
    CHECK(!has_tmp(tmpdir));
}

/* The writer keeps the order of addition and pads the header with spaces to 8 bytes. */
static void test_writer_layout(void) {
    xc_st_writer *w = xc_st_writer_new();
    uint8_t a[3] = {1, 2, 3};
    float b[2] = {1.0f, -2.0f};
    int64_t s3[1] = {3}, s2[1] = {2};
    CHECK(xc_st_writer_add(w, "zeta", XC_U8, 1, s3, a, 3) == 0);
    CHECK(xc_st_writer_add(w, "alpha", XC_F32, 1, s2, b, 8) == 0);
    CHECK(xc_st_writer_meta(w, "k", "v") == 0);
    const char *path = tpath("layout.safetensors");
    CHECK(xc_st_writer_write(w, path) == 0);
    xc_st_writer_free(w);

    size_t len;
    char *raw = xc_read_file(path, &len, 1 << 20);
    CHECK(raw != NULL);
    if (!raw) return;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)raw[i];
    const char *want = "{\"__metadata__\":{\"k\":\"v\"},"
                       "\"zeta\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                       "\"alpha\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[3,11]}}";
    size_t wl = strlen(want);
    CHECK(n % 8 == 0 && n >= wl && n < wl + 8);
    CHECK(len == 8 + n + 11);
    CHECK(!memcmp(raw + 8, want, wl));
    for (size_t i = wl; i < n; i++) CHECK(raw[8 + i] == ' ');
    CHECK(!memcmp(raw + 8 + n, a, 3) && !memcmp(raw + 8 + n + 3, b, 8));
    free(raw);

    xc_st_file *f = xc_st_open(path);
    CHECK(f && xc_st_count(f) == 2);
    if (f) CHECK(!strcmp(xc_st_at(f, 0)->name, "zeta") && !strcmp(xc_st_at(f, 1)->name, "alpha"));
    xc_st_close(f);

    /* No tensors, no metadata: "{}" padded to 8, empty data section. */
    w = xc_st_writer_new();
    path = tpath("empty.safetensors");
    CHECK(xc_st_writer_write(w, path) == 0);
    xc_st_writer_free(w);
    raw = xc_read_file(path, &len, 1 << 10);
    CHECK(raw && len == 16 && raw[0] == 8 && !memcmp(raw + 8, "{}      ", 8));
    free(raw);
    f = xc_st_open(path);
    CHECK_MSG(f && xc_st_count(f) == 0 && xc_st_meta_count(f) == 0, "%s", xc_error());
    xc_st_close(f);
}

/* A file laid out by hand as another program may write it: whitespace in the header, entries
 * not in offset order, metadata last, a 0-dim tensor, an empty tensor. */
static void test_foreign_file(void) {
    const char *header = "{\n  \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [4, 12]},\n"
                         "  \"a\": {\"dtype\": \"I32\", \"shape\": [], \"data_offsets\": [0, 4]},\n"
                         "  \"e\": {\"dtype\": \"BF16\", \"shape\": [0, 3], \"data_offsets\": [12, 12]},\n"
                         "  \"__metadata__\": {\"format\": \"pt\", \"note\": \"caf\\u00e9\"}\n}";
    unsigned char data[12];
    int32_t av = -7;
    float bv[2] = {0.5f, 1e-3f};
    memcpy(data, &av, 4); /* the test machine is little-endian, like the format */
    memcpy(data + 4, bv, 8);
    size_t len;
    unsigned char *b = make_file(header, data, 12, &len);
    const char *path = tpath("foreign.safetensors");
    CHECK(xc_write_file_atomic(path, b, len) == 0);
    free(b);
    xc_st_file *f = xc_st_open(path);
    CHECK_MSG(f != NULL, "%s", xc_error());
    if (!f) return;
    CHECK(xc_st_count(f) == 3);
    CHECK(!strcmp(xc_st_at(f, 0)->name, "a") && !strcmp(xc_st_at(f, 1)->name, "b"));
    CHECK(!strcmp(xc_st_at(f, 2)->name, "e"));
    const xc_st_tensor *a = xc_st_find(f, "a"), *bt = xc_st_find(f, "b");
    int32_t ar;
    float br[2];
    memcpy(&ar, a->data, 4);
    memcpy(br, bt->data, 8);
    CHECK(ar == -7 && br[0] == 0.5f && br[1] == 1e-3f);
    CHECK(a->ndim == 0 && bt->ndim == 1 && bt->shape[0] == 2);
    CHECK(xc_st_meta(f, "note") && !strcmp(xc_st_meta(f, "note"), "caf\xc3\xa9"));
    CHECK(xc_st_meta(f, "format") && !strcmp(xc_st_meta(f, "format"), "pt"));
    xc_st_close(f);
}

static void test_malformed(void) {
    /* Header length itself. */
    unsigned char tiny[5] = {1, 0, 0, 0, 0};
    CHECK(xc_st_parse(tiny, 5, "bad.safetensors") == NULL);
    CHECK_CONTAINS(xc_error(), "too short");
    unsigned char hb[16] = {0};
    uint64_t huge = (uint64_t)XC_ST_MAX_HEADER + 1;
    for (int i = 0; i < 8; i++) hb[i] = (unsigned char)(huge >> (8 * i));
    CHECK(xc_st_parse(hb, 16, "bad.safetensors") == NULL);
    CHECK_CONTAINS(xc_error(), "exceeds the limit");
    memset(hb, 0, 8);
    hb[0] = 9; /* 9 bytes of header, 8 present */
    CHECK(xc_st_parse(hb, 16, "bad.safetensors") == NULL);
    CHECK_CONTAINS(xc_error(), "header length 9 exceeds the 8 bytes");
    memset(hb, 0xff, 8); /* 2^64 - 1 */
    CHECK(xc_st_parse(hb, 16, "bad.safetensors") == NULL);
    CHECK_CONTAINS(xc_error(), "exceeds the limit");

    /* The JSON. */
    expect_bad("{\"a\": ", 0, "not valid JSON");
    expect_bad("{} x", 0, "not valid JSON");
    expect_bad("[1, 2]", 0, "not an object");
    expect_bad("\"str\"", 0, "not an object");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}\x01", 1, "control character");
    expect_bad("{\"\xff\":{}}", 0, "UTF-8");
    size_t len;
    unsigned char *nul = make_file("{}      ", NULL, 0, &len);
    nul[9] = '\0';
    CHECK(xc_st_parse(nul, len, "nul.st") == NULL);
    CHECK_CONTAINS(xc_error(), "control character");
    free(nul);

    /* Entries. */
    expect_bad("{\"w\": [1]}", 0, "tensor 'w': expected an object, got array");
    expect_bad("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'w': missing 'dtype'");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, "tensor 'w': missing 'shape'");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "tensor 'w': missing 'data_offsets'");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"x\":1}}", 1, "unknown key 'x'");
    expect_bad("{\"w\":{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,16]}}", 16, "tensor 'w': unknown dtype 'F128'");
    expect_bad("{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype: expected a string, got number");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]}}", 3, "shape: expected an array");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "dim 0 is not a non-negative integer");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[2,1.5],\"data_offsets\":[0,3]}}", 3, "dim 1 is not a non-negative integer");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[\"2\"],\"data_offsets\":[0,2]}}", 2, "dim 0 is not");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "9 dims");
    expect_bad("{\"w\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, "overflows");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}", 12,
               "tensor 'w': shape and dtype give 16 bytes but data_offsets span 12");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0]}}", 2, "expected [begin, end]");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":\"0,2\"}}", 2, "data_offsets: expected an array");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[-2,0]}}", 2, "not non-negative integers");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,1]}}", 2, "end 1 before begin 2");

    /* Ranges against the data section and each other. */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "tensor 'w': data_offsets [0, 8] outside the 4-byte");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[4,12]}}", 12, "tensor 'b': data_offsets [4, 12] overlap");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8, "overlap");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
               "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[8,12]}}", 12, "tensor 'b': gap of 4 bytes");
    expect_bad("{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8, "tensor 'b': gap of 4 bytes");
    expect_bad("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]}}", 8, "4 trailing bytes");
    expect_bad("{}", 3, "3 trailing bytes");

    /* Metadata and names. */
    expect_bad("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ 'k': expected a string, got number");
    expect_bad("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "__metadata__ 'k': expected a string, got object");
    expect_bad("{\"__metadata__\":[\"k\"]}", 0, "__metadata__: expected an object");
    expect_bad("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "duplicate __metadata__ key 'k'");
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate '__metadata__'");
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
               "\"w\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, "duplicate tensor name 'w'");

    /* A well-formed control case through the same helper: it must be accepted. */
    unsigned char d4[4] = {1, 2, 3, 4};
    unsigned char *ok = make_file("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},\"__metadata__\":null}", d4, 4, &len);
    xc_st_file *f = xc_st_parse(ok, len, "ok.st");
    CHECK_MSG(f && xc_st_count(f) == 1 && xc_st_meta_count(f) == 0, "%s", xc_error());
    xc_st_close(f);
    free(ok);

    /* Files that are not files. */
    CHECK(xc_st_open(tpath("does not exist.safetensors")) == NULL);
    CHECK_CONTAINS(xc_error(), "does not exist.safetensors");
    CHECK_CONTAINS(xc_error(), "No such file");
    CHECK(xc_st_open(tmpdir) == NULL);
    CHECK_CONTAINS(xc_error(), "not a regular file");
    const char *empty = tpath("zero bytes.safetensors");
    CHECK(xc_write_file_atomic(empty, "", 0) == 0);
    CHECK(xc_st_open(empty) == NULL);
    CHECK_CONTAINS(xc_error(), "zero bytes.safetensors");
    CHECK_CONTAINS(xc_error(), "too short");
}

static void test_writer_errors(void) {
    xc_st_writer *w = xc_st_writer_new();
    uint8_t d[8] = {0};
    int64_t s4[1] = {4}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, neg[1] = {-1};
    CHECK(xc_st_writer_add(w, "a", XC_U8, 1, s4, d, 4) == 0);
    CHECK(xc_st_writer_add(w, "a", XC_U8, 1, s4, d, 4) < 0);
    CHECK_CONTAINS(xc_error(), "duplicate tensor name 'a'");
    CHECK(xc_st_writer_add(w, "b", XC_F32, 1, s4, d, 8) < 0);
    CHECK_CONTAINS(xc_error(), "tensor 'b': 8 bytes given, shape and dtype need 16");
    CHECK(xc_st_writer_add(w, "c", XC_U8, 9, s9, d, 1) < 0);
    CHECK_CONTAINS(xc_error(), "tensor 'c': 9 dims");
    CHECK(xc_st_writer_add(w, "n", XC_U8, 1, neg, d, 0) < 0);
    CHECK_CONTAINS(xc_error(), "tensor 'n'");
    CHECK(xc_st_writer_add(w, "__metadata__", XC_U8, 1, s4, d, 4) < 0);
    CHECK(xc_st_writer_add(w, "bad\xff", XC_U8, 1, s4, d, 4) < 0);
    CHECK_CONTAINS(xc_error(), "UTF-8");
    CHECK(xc_st_writer_meta(w, "k", "\xc3") < 0);
    CHECK(xc_st_writer_add(w, "nodata", XC_U8, 1, s4, NULL, 4) < 0);
    /* Failed adds leave the writer usable. */
    const char *path = tpath("after errors.safetensors");
    CHECK(xc_st_writer_write(w, path) == 0);
    xc_st_writer_free(w);
    xc_st_file *f = xc_st_open(path);
    CHECK(f && xc_st_count(f) == 1);
    xc_st_close(f);
    xc_st_writer_free(NULL);
}

/* Writes that fail part-way leave the target as it was and no temporary behind. Tests run as
 * root, where a read-only folder mode does not stop writes, so failures are made otherwise:
 * a missing folder (open fails), RLIMIT_FSIZE (a write fails mid-file with EFBIG, like a full
 * disk would with ENOSPC), a target that is a folder (the rename fails), and /proc. */
static void test_atomic_failures(void) {
    const char *target = tpath("keep.safetensors");
    CHECK(xc_write_file_atomic(target, "old contents", 12) == 0);
    CHECK(file_equals(target, "old contents"));

    xc_st_writer *w = xc_st_writer_new();
    static uint8_t big[256 * 1024];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)i;
    int64_t s[1] = {(int64_t)sizeof big};
    CHECK(xc_st_writer_add(w, "big", XC_U8, 1, s, big, sizeof big) == 0);

    /* 1: folder missing. */
    const char *nodir = tpath("no such folder/x.safetensors");
    CHECK(xc_st_writer_write(w, nodir) < 0);
    CHECK_CONTAINS(xc_error(), "no such folder/x.safetensors");
    CHECK_CONTAINS(xc_error(), "No such file or directory");

    /* 2: the file-size limit stops the write after 64 KiB (SIGXFSZ ignored → EFBIG). */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int rc = xc_st_writer_write(w, target);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc < 0);
    CHECK_CONTAINS(xc_error(), "cannot write '");
    CHECK_CONTAINS(xc_error(), "keep.safetensors': File too large");
    CHECK(file_equals(target, "old contents"));
    CHECK(!has_tmp(tmpdir));

    /* 3: the target is a folder: everything is written, then the rename fails. */
    const char *dirtarget = tpath("a folder.safetensors");
    CHECK(xc_mkdir_p(dirtarget) == 0);
    CHECK(xc_st_writer_write(w, dirtarget) < 0);
    CHECK_CONTAINS(xc_error(), "a folder.safetensors");
    CHECK(xc_is_dir(dirtarget));
    CHECK(!has_tmp(tmpdir));

    /* 4: /proc refuses new files. */
    CHECK(xc_st_writer_write(w, "/proc/xraycls-test.safetensors") < 0);
    CHECK_CONTAINS(xc_error(), "/proc/xraycls-test.safetensors");
    CHECK(!xc_is_file("/proc/xraycls-test.safetensors"));

    /* And the same writer still succeeds once the cause is gone. */
    CHECK(xc_st_writer_write(w, target) == 0);
    xc_st_file *f = xc_st_open(target);
    CHECK(f && xc_st_count(f) == 1 && !memcmp(xc_st_at(f, 0)->data, big, sizeof big));
    xc_st_close(f);
    xc_st_writer_free(w);
    CHECK(!has_tmp(tmpdir));
}

/* Offsets beyond 4 GiB, read through the map of a sparse file (no disk space used). */
static void test_large_offsets(void) {
    const uint64_t n1 = 4ull << 30, n2 = 8; /* a: 4 GiB of U8, b: 2 × F32 */
    char header[256];
    snprintf(header, sizeof header,
             "{\"a\":{\"dtype\":\"U8\",\"shape\":[%llu],\"data_offsets\":[0,%llu]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[%llu,%llu]}}",
             (unsigned long long)n1, (unsigned long long)n1, (unsigned long long)n1, (unsigned long long)(n1 + n2));
    size_t hl = strlen(header);
    while (hl % 8) header[hl++] = ' ';
    header[hl] = '\0';
    const char *path = tpath("sparse.safetensors");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    if (fd < 0) return;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    float bv[2] = {1.5f, -4.0f};
    int ok = write(fd, len8, 8) == 8 && write(fd, header, hl) == (ssize_t)hl &&
             pwrite(fd, "Z", 1, (off_t)(8 + hl + n1 - 1)) == 1 && pwrite(fd, bv, 8, (off_t)(8 + hl + n1)) == 8;
    close(fd);
    CHECK(ok);
    xc_st_file *f = xc_st_open(path);
    CHECK_MSG(f != NULL, "%s", xc_error());
    if (f) {
        const xc_st_tensor *a = xc_st_find(f, "a"), *b = xc_st_find(f, "b");
        CHECK(a && a->nbytes == n1 && ((const char *)a->data)[n1 - 1] == 'Z' && ((const char *)a->data)[0] == 0);
        float r[2] = {0, 0};
        if (b) memcpy(r, b->data, 8);
        CHECK(b && r[0] == 1.5f && r[1] == -4.0f);
    }
    xc_st_close(f);
    unlink(path);
}

/* Deterministic byte flips and truncations of a valid file: the reader never crashes, and what
 * it accepts points inside the buffer and covers the data exactly. */
static void test_mutations(void) {
    xc_st_writer *w = xc_st_writer_new();
    float a[6] = {1, 2, 3, 4, 5, 6};
    int64_t sa[2] = {2, 3}, sb[1] = {4};
    uint8_t bb[4] = {9, 8, 7, 6};
    xc_st_writer_add(w, "a", XC_F32, 2, sa, a, sizeof a);
    xc_st_writer_add(w, "b", XC_U8, 1, sb, bb, 4);
    xc_st_writer_meta(w, "k", "value");
    const char *path = tpath("mutate.safetensors");
    CHECK(xc_st_writer_write(w, path) == 0);
    xc_st_writer_free(w);
    size_t len;
    unsigned char *orig = (unsigned char *)xc_read_file(path, &len, 1 << 16);
    CHECK(orig != NULL);
    if (!orig) return;
    unsigned char *buf = malloc(len);
    uint32_t rng = 12345;
    int accepted = 0, bad_accept = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(buf, orig, len);
        size_t n = len;
        int flips = 1 + (int)((rng = rng * 1103515245u + 12345u) >> 16) % 3;
        for (int k = 0; k < flips; k++) {
            rng = rng * 1103515245u + 12345u;
            size_t at = (rng >> 8) % len;
            rng = rng * 1103515245u + 12345u;
            buf[at] = (unsigned char)(rng >> 16);
        }
        rng = rng * 1103515245u + 12345u;
        if ((rng >> 16) % 8 == 0) n = (rng >> 4) % len;
        xc_st_file *f = xc_st_parse(buf, n, "m");
        if (f) {
            accepted++;
            size_t sum = 0;
            for (int i = 0; i < xc_st_count(f); i++) {
                const xc_st_tensor *t = xc_st_at(f, i);
                sum += t->nbytes;
                if ((const unsigned char *)t->data < buf || (const unsigned char *)t->data + t->nbytes > buf + n)
                    bad_accept++;
            }
            if (xc_st_count(f) > 0 && (const unsigned char *)xc_st_at(f, 0)->data + sum != buf + n) bad_accept++;
            xc_st_close(f);
        } else if (!*xc_error()) {
            bad_accept++; /* refused without a message */
        }
        xc_error_clear();
    }
    CHECK(bad_accept == 0);
    CHECK(accepted > 0); /* flips inside data bytes or padding are legal */
    free(buf);
    free(orig);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s/st", check_tmpdir());
    CHECK(xc_mkdir_p(tmpdir) == 0);
    test_dtypes();
    test_round_trip();
    test_writer_layout();
    test_foreign_file();
    test_malformed();
    test_writer_errors();
    test_atomic_failures();
    test_large_offsets();
    test_mutations();
    return check_done("test_safetensors");
}
