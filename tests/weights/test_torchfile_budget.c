/* test_torchfile_budget.c — torch.save files built to cost far more than their size: zip
 * directories whose entries overlap, come out of order or repeat a name (refused before any
 * checksum, so each byte is checksummed once), a pickle that calls OrderedDict on one memoised
 * list thousands of times, and thousands of broadcast (stride-0) views each under the
 * per-tensor cap. One memory budget per file (16 bytes per byte + 64 MiB) refuses the last two
 * naming the file; the peak memory of the process proves nothing large was built. The files are
 * generated here. */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <sys/resource.h>

#include "check.h"
#include "xraycls/checksum.h"
#include "xraycls/weights.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_le(buf *b, uint64_t x, int n) {
    for (int i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(x >> (8 * i));
        put(b, &c, 1);
    }
}
static void put_s(buf *b, const char *s) { put(b, s, strlen(s)); }
/* A string literal, NUL bytes included. */
#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

/* A local record (header + stored data) at b->n; returns its offset. */
static size_t local_record(buf *b, const char *name, const void *data, size_t n) {
    size_t at = b->n;
    put_le(b, 0x04034b50u, 4);
    put_le(b, 20, 2);
    put_le(b, 0, 2); /* flags */
    put_le(b, 0, 2); /* stored */
    put_le(b, 0, 4); /* time, date */
    put_le(b, xc_crc32(0, data, n), 4);
    put_le(b, n, 4);
    put_le(b, n, 4);
    put_le(b, strlen(name), 2);
    put_le(b, 0, 2);
    put_s(b, name);
    put(b, data, n);
    return at;
}

typedef struct {
    const char *name;
    size_t offset, size;
    uint32_t crc;
} dir_entry;

/* The central directory of entries e[0..n), then the end record. */
static void finish(buf *b, const dir_entry *e, int n) {
    size_t cd = b->n;
    for (int i = 0; i < n; i++) {
        put_le(b, 0x02014b50u, 4);
        put_le(b, 20, 2);
        put_le(b, 20, 2);
        put_le(b, 0, 2);
        put_le(b, 0, 2);
        put_le(b, 0, 4);
        put_le(b, e[i].crc, 4);
        put_le(b, e[i].size, 4);
        put_le(b, e[i].size, 4);
        put_le(b, strlen(e[i].name), 2);
        put_le(b, 0, 2);
        put_le(b, 0, 2);
        put_le(b, 0, 2);
        put_le(b, 0, 2);
        put_le(b, 0, 4);
        put_le(b, e[i].offset, 4);
        put_s(b, e[i].name);
    }
    size_t cd_size = b->n - cd;
    put_le(b, 0x06054b50u, 4);
    put_le(b, 0, 2);
    put_le(b, 0, 2);
    put_le(b, (uint64_t)n, 2);
    put_le(b, (uint64_t)n, 2);
    put_le(b, cd_size, 4);
    put_le(b, cd, 4);
    put_le(b, 0, 2);
}

static const char empty_pkl[] = "\x80\x02}q\x00.";

static long peak_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

static void zip_order_checks(void) {
    /* 1. A record hidden inside another's data: two entries over one byte range. */
    buf b = {0};
    buf inner = {0};
    local_record(&inner, "a/x", "hello", 5);
    size_t pkl = local_record(&b, "a/data.pkl", empty_pkl, sizeof empty_pkl - 1);
    size_t big = local_record(&b, "a/big", inner.p, inner.n);
    size_t x_at = big + 30 + strlen("a/big"); /* a/x's header is a/big's data */
    dir_entry e1[] = {{"a/data.pkl", pkl, sizeof empty_pkl - 1, xc_crc32(0, empty_pkl, sizeof empty_pkl - 1)},
                      {"a/big", big, inner.n, xc_crc32(0, inner.p, inner.n)},
                      {"a/x", x_at, 5, xc_crc32(0, "hello", 5)}};
    finish(&b, e1, 3);
    xc_torchfile *f = xc_torchfile_parse(b.p, b.n, "overlap.pth");
    CHECK(f == NULL);
    CHECK_CONTAINS(xc_error(), "overlap.pth");
    CHECK_CONTAINS(xc_error(), "zip entry 'a/x' overlaps or precedes entry 'a/big'");
    xc_torchfile_close(f);
    free(b.p);
    free(inner.p);

    /* 2. The directory lists the records in another order than the file holds them. */
    memset(&b, 0, sizeof b);
    size_t r0 = local_record(&b, "a/data.pkl", empty_pkl, sizeof empty_pkl - 1);
    size_t r1 = local_record(&b, "a/y", "abc", 3);
    dir_entry e2[] = {{"a/y", r1, 3, xc_crc32(0, "abc", 3)},
                      {"a/data.pkl", r0, sizeof empty_pkl - 1, xc_crc32(0, empty_pkl, sizeof empty_pkl - 1)}};
    finish(&b, e2, 2);
    f = xc_torchfile_parse(b.p, b.n, "order.pth");
    CHECK(f == NULL);
    CHECK_CONTAINS(xc_error(), "zip entry 'a/data.pkl' overlaps or precedes entry 'a/y'");
    free(b.p);

    /* 3. A name twice (and a bad CRC): the duplicate is reported, found before any checksum. */
    memset(&b, 0, sizeof b);
    r0 = local_record(&b, "a/data.pkl", empty_pkl, sizeof empty_pkl - 1);
    r1 = local_record(&b, "a/data.pkl", empty_pkl, sizeof empty_pkl - 1);
    dir_entry e3[] = {{"a/data.pkl", r0, sizeof empty_pkl - 1, 12345}, {"a/data.pkl", r1, sizeof empty_pkl - 1, 12345}};
    finish(&b, e3, 2);
    f = xc_torchfile_parse(b.p, b.n, "twice.pth");
    CHECK(f == NULL);
    CHECK_CONTAINS(xc_error(), "zip entry 'a/data.pkl' appears twice");
    free(b.p);

    /* 4. Two thousand entries aimed at one 1 MiB record (2 GiB of checksums before): refused at
     * the second. */
    memset(&b, 0, sizeof b);
    size_t mib = (size_t)1 << 20;
    uint8_t *zeros = calloc(1, mib);
    r0 = local_record(&b, "a/data.pkl", zeros, mib);
    enum { MANY = 2000 };
    static dir_entry many[MANY];
    uint32_t crc = xc_crc32(0, zeros, mib);
    for (int i = 0; i < MANY; i++) many[i] = (dir_entry){"a/data.pkl", r0, mib, crc};
    finish(&b, many, MANY);
    f = xc_torchfile_parse(b.p, b.n, "many.pth");
    CHECK(f == NULL);
    CHECK_CONTAINS(xc_error(), "overlaps or precedes");
    free(b.p);
    free(zeros);
}

/* OrderedDict(the same 10000-pair list) 4000 times: 50 kB of pickle, 1.3 GB of dicts unbounded. */
static void ordered_dict_bomb(void) {
    buf b = {0};
    PUT_LIT(&b, "\x80\x02" "ccollections\nOrderedDict\nq\x00" "](");
    for (int i = 0; i < 10000; i++) PUT_LIT(&b, "K\x01K\x02\x86");
    PUT_LIT(&b, "eq\x01");
    for (int i = 0; i < 4000; i++) PUT_LIT(&b, "h\x00h\x01\x85R0");
    PUT_LIT(&b, "}.");
    long before = peak_mib();
    xc_torchfile *f = xc_torchfile_parse(b.p, b.n, "bomb.pth");
    CHECK(f == NULL);
    CHECK_CONTAINS(xc_error(), "cannot read 'bomb.pth': unpickling it needs more than");
    long grew = peak_mib() - before;
    CHECK_MSG(grew < 200, "peak memory grew by %ld MiB", grew);
    xc_torchfile_close(f);
    free(b.p);
}

/* 1000 tensors, each a stride-0 view of 100000 float32 on one 1-element storage: each is under
 * the per-tensor cap (its bytes / 64 < the file's size), together 400 MB of copies. */
static void broadcast_views(void) {
    buf p = {0};
    PUT_LIT(&p, "\x80\x02}(");
    for (int i = 0; i < 1000; i++) {
        char key[16];
        int kn = snprintf(key, sizeof key, "w%d", i);
        PUT_LIT(&p, "X");
        put_le(&p, (uint64_t)kn, 4);
        put(&p, key, (size_t)kn);
        PUT_LIT(&p, "ctorch._utils\n_rebuild_tensor_v2\n(");
        PUT_LIT(&p, "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x01tQ");
        PUT_LIT(&p, "K\x00J");
        put_le(&p, 100000, 4);
        PUT_LIT(&p, "\x85K\x00\x85\x89" "ccollections\nOrderedDict\n)RtR");
    }
    PUT_LIT(&p, "u.");
    buf b = {0};
    float one = 1.0f;
    size_t r0 = local_record(&b, "a/data.pkl", p.p, p.n);
    size_t r1 = local_record(&b, "a/data/0", &one, 4);
    dir_entry e[] = {{"a/data.pkl", r0, p.n, xc_crc32(0, p.p, p.n)}, {"a/data/0", r1, 4, xc_crc32(0, &one, 4)}};
    finish(&b, e, 2);
    xc_torchfile *f = xc_torchfile_parse(b.p, b.n, "views.pth");
    CHECK_MSG(f != NULL, "%s", xc_error());
    if (f) {
        CHECK(xc_torchfile_count(f) == 1000);
        long before = peak_mib();
        const xc_st_tensor *t;
        int n;
        CHECK(xc_torchfile_st_tensors(f, 0, &t, &n) < 0);
        CHECK_CONTAINS(xc_error(), "cannot read 'views.pth': unpickling it needs more than");
        long grew = peak_mib() - before;
        CHECK_MSG(grew < 200, "peak memory grew by %ld MiB", grew);
    }
    xc_torchfile_close(f);
    free(p.p);
    free(b.p);
}

int main(void) {
    zip_order_checks();
    ordered_dict_bomb();
    broadcast_views();
    return check_done("test_torchfile_budget");
}
