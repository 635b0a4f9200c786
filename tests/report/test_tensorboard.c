/* test_tensorboard.c — the event-file writer (xraycls/tensorboard.h): the TFRecord framing of
 * every record (length, masked CRC-32C of the length, masked CRC-32C of the payload, recomputed
 * here with a bit-at-a-time CRC-32C independent of src/core's tables), the file name, the first
 * record's file version, the records' count and order, whole records after each flush, and a
 * second writer in the same folder getting its own file. The Events' contents are checked
 * against Google's protobuf by tests/train/test_tensorboard.sh. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/tensorboard.h"

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

static uint32_t masked(uint32_t c) { return (uint32_t)(((c >> 15) | (c << 17)) + 0xa282ead8u); }

static uint64_t le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Walks the records of a file: their count (-1 when a frame or CRC is wrong), and the first
 * payload in *first / *first_len (pointing into buf). */
static int records(const uint8_t *buf, size_t len, const uint8_t **first, size_t *first_len) {
    size_t off = 0;
    int n = 0;
    while (off < len) {
        if (len - off < 12) return -1;
        uint64_t m = le(buf + off, 8);
        if (le(buf + off + 8, 4) != masked(crc32c_bitwise(buf + off, 8))) return -1;
        if (m > len - off - 16) return -1;
        const uint8_t *pl = buf + off + 12;
        if (le(pl + m, 4) != masked(crc32c_bitwise(pl, (size_t)m))) return -1;
        if (n == 0 && first) *first = pl, *first_len = (size_t)m;
        off += 16 + (size_t)m;
        n++;
    }
    return n;
}

static int count_event_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "events.out.tfevents.", 20) == 0;
    closedir(d);
    return n;
}

int main(void) {
    /* The mask and the frame on their own. */
    CHECK(xc_tfrecord_mask(0) == 0xa282ead8u);
    CHECK(xc_tfrecord_mask(0x12345678u) == masked(0x12345678u));
    uint8_t h[12], f[4];
    const uint8_t pl[3] = {1, 2, 3};
    xc_tfrecord_frame(pl, 3, h, f);
    CHECK(le(h, 8) == 3);
    CHECK(le(h + 8, 4) == masked(crc32c_bitwise(h, 8)));
    CHECK(le(f, 4) == masked(crc32c_bitwise(pl, 3)));

    if (!xc_tb_available()) {
        CHECK(xc_tb_open(check_tmpdir()) == NULL);
        CHECK_CONTAINS(xc_error(), "built without protobuf-c");
        return check_done("test_tensorboard");
    }

    char *dir = xc_path_join(check_tmpdir(), "tb/nested");
    xc_tb *w = xc_tb_open(dir);
    CHECK_MSG(w != NULL, "%s", xc_error());
    if (!w) return check_done("test_tensorboard");
    char path[1400];
    snprintf(path, sizeof path, "%s", xc_tb_path(w));
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    char want[300];
    snprintf(want, sizeof want, ".%s", host);
    const char *base = strrchr(path, '/') + 1;
    CHECK_MSG(strncmp(base, "events.out.tfevents.", 20) == 0, "%s", base);
    CHECK_MSG(strstr(base, want) != NULL, "%s lacks the host name %s", base, host);
    long t = strtol(base + 20, NULL, 10);
    CHECK_MSG(labs(t - (long)time(NULL)) < 60, "unix time %ld", t);

    /* The first record is on disk at once: Event{wall_time (field 1, fixed64), file_version
     * (field 3, "brain.Event:2")} — wire bytes 0x09 <8 bytes> 0x1a 0x0d "brain.Event:2". */
    size_t len;
    char *bytes = xc_read_file(path, &len, 1 << 20);
    const uint8_t *first = NULL;
    size_t flen = 0;
    CHECK(bytes && records((const uint8_t *)bytes, len, &first, &flen) == 1);
    CHECK(first && flen == 9 + 2 + 13 && first[0] == 0x09 && first[9] == 0x1a && first[10] == 13 &&
          memcmp(first + 11, "brain.Event:2", 13) == 0);
    free(bytes);

    /* Pending records are not on disk until the flush, then all of them are, whole. */
    CHECK(xc_tb_add_scalar(w, "loss", 1, 0.5) == 0);
    CHECK(xc_tb_add_text(w, "config", 0, "{\"a\": 1}") == 0);
    uint8_t png[100];
    memset(png, 7, sizeof png);
    CHECK(xc_tb_add_image(w, "pic", 2, png, sizeof png, 4, 5, 3) == 0);
    CHECK(xc_tb_add_image(w, "bad", 2, png, sizeof png, 4, 5, 2) < 0);
    CHECK_CONTAINS(xc_error(), "2 channels");
    bytes = xc_read_file(path, &len, 1 << 20);
    CHECK(bytes && records((const uint8_t *)bytes, len, NULL, NULL) == 1);
    free(bytes);
    CHECK(xc_tb_flush(w) == 0);
    bytes = xc_read_file(path, &len, 1 << 20);
    CHECK(bytes && records((const uint8_t *)bytes, len, NULL, NULL) == 4);
    /* The scalar's Event holds the float 0.5 (simple_value, field 2, fixed32 0x3f000000). */
    const uint8_t f05[5] = {0x15, 0x00, 0x00, 0x00, 0x3f};
    CHECK(bytes && memmem(bytes, len, f05, 5) != NULL);
    free(bytes);

    /* Many records: the automatic flush at 4 MiB keeps records whole. */
    static uint8_t big[300000];
    for (int i = 0; i < 20; i++) CHECK(xc_tb_add_image(w, "big", i, big, sizeof big, 10, 10, 1) == 0);
    bytes = xc_read_file(path, &len, 64 << 20);
    int mid = bytes ? records((const uint8_t *)bytes, len, NULL, NULL) : -1;
    CHECK_MSG(mid > 4 && mid < 24, "%d records after the automatic flush", mid);
    free(bytes);
    CHECK(xc_tb_close(w) == 0);
    bytes = xc_read_file(path, &len, 64 << 20);
    CHECK(bytes && records((const uint8_t *)bytes, len, NULL, NULL) == 24);
    free(bytes);
    CHECK(xc_tb_close(NULL) == 0);

    /* A second writer (a resumed run) in the same second gets a new file; the first stays. */
    xc_tb *w2 = xc_tb_open(dir);
    CHECK(w2 && strcmp(xc_tb_path(w2), path) != 0);
    CHECK(xc_tb_close(w2) == 0);
    CHECK(count_event_files(dir) == 2);

    /* A folder that cannot be made is named. */
    CHECK(xc_tb_open("/proc/xraycls-tb") == NULL);
    CHECK_CONTAINS(xc_error(), "/proc/xraycls-tb");
    free(dir);
    return check_done("test_tensorboard");
}
