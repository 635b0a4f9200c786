/* tensorboard.c — TensorBoard event files (xraycls/tensorboard.h): Events encoded with
 * protobuf-c from the .proto files of proto/tensorboard/, framed as TFRecords and appended to
 * one file.
 *
 * The TFRecord framing (length, masked CRC-32C of the length, payload, masked CRC-32C of the
 * payload) is a dozen lines and is always compiled; the Events need protobuf-c. CRC-32C is
 * xc_crc32c (src/core/checksum.c says why it is hand-written). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/tensorboard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xraycls/checksum.h"
#include "xraycls/fs.h"

#ifndef XRAYCLS_HAVE_PROTOBUF_C
#define XRAYCLS_HAVE_PROTOBUF_C 0
#endif

uint32_t xc_tfrecord_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

static void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

void xc_tfrecord_frame(const void *payload, size_t n, uint8_t header[12], uint8_t footer[4]) {
    put_le64(header, (uint64_t)n);
    put_le32(header + 8, xc_tfrecord_mask(xc_crc32c(0, header, 8)));
    put_le32(footer, xc_tfrecord_mask(xc_crc32c(0, payload, n)));
}

#if !XRAYCLS_HAVE_PROTOBUF_C

int xc_tb_available(void) { return 0; }

xc_tb *xc_tb_open(const char *dir) {
    xc_errorf("cannot write TensorBoard events into '%s': xraycls was built without protobuf-c", dir);
    return NULL;
}

const char *xc_tb_path(const xc_tb *w) { return (void)w, ""; }

int xc_tb_add_scalar(xc_tb *w, const char *tag, int64_t step, double value) {
    (void)w, (void)tag, (void)step, (void)value;
    return xc_errorf("xraycls was built without protobuf-c (TensorBoard)");
}

int xc_tb_add_image(xc_tb *w, const char *tag, int64_t step, const uint8_t *png, size_t len,
                    int width, int height, int channels) {
    (void)w, (void)tag, (void)step, (void)png, (void)len, (void)width, (void)height, (void)channels;
    return xc_errorf("xraycls was built without protobuf-c (TensorBoard)");
}

int xc_tb_add_text(xc_tb *w, const char *tag, int64_t step, const char *text) {
    (void)w, (void)tag, (void)step, (void)text;
    return xc_errorf("xraycls was built without protobuf-c (TensorBoard)");
}

int xc_tb_flush(xc_tb *w) { return (void)w, 0; }

int xc_tb_close(xc_tb *w) { return (void)w, 0; }

#else

#include "tensorboard/event.pb-c.h"

#define AUTO_FLUSH_BYTES ((size_t)4 << 20)

struct xc_tb {
    int fd;
    char *path;
    uint8_t *buf; /* whole framed records not yet written */
    size_t len, cap;
};

int xc_tb_available(void) { return 1; }

const char *xc_tb_path(const xc_tb *w) { return w->path; }

static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Frames the packed event into the pending buffer. */
static int add_event(xc_tb *w, Tensorboard__Event *ev) {
    size_t n = tensorboard__event__get_packed_size(ev);
    size_t need = 12 + n + 4;
    if (need > w->cap - w->len) {
        size_t cap = w->cap ? w->cap : 65536;
        while (cap - w->len < need) cap *= 2;
        uint8_t *p = realloc(w->buf, cap);
        if (!p) return xc_errorf("cannot write '%s': out of memory", w->path);
        w->buf = p;
        w->cap = cap;
    }
    uint8_t *rec = w->buf + w->len;
    tensorboard__event__pack(ev, rec + 12);
    xc_tfrecord_frame(rec + 12, n, rec, rec + 12 + n);
    w->len += need;
    return w->len >= AUTO_FLUSH_BYTES ? xc_tb_flush(w) : 0;
}

int xc_tb_flush(xc_tb *w) {
    if (!w) return 0;
    size_t off = 0;
    while (off < w->len) {
        ssize_t k = write(w->fd, w->buf + off, w->len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = k < 0 ? errno : EIO;
            /* What was written stays; the rest is dropped, so a retry never repeats records. */
            w->len = 0;
            return xc_errorf("cannot write '%s': %s", w->path, strerror(e));
        }
        off += (size_t)k;
    }
    w->len = 0;
    if (fsync(w->fd) < 0 && errno != EINVAL) return xc_errorf("cannot write '%s': %s", w->path, strerror(errno));
    return 0;
}

xc_tb *xc_tb_open(const char *dir) {
    if (xc_mkdir_p(dir) < 0) return NULL;
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) < 0 || !host[0]) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (char *p = host; *p; p++)
        if (*p == '/') *p = '_';
    xc_tb *w = calloc(1, sizeof *w);
    if (!w) return xc_errorf("out of memory"), NULL;
    w->fd = -1;
    long t = (long)time(NULL);
    int said = 0;
    for (int attempt = 0; attempt < 100 && w->fd < 0 && !said; attempt++) {
        char name[400];
        if (attempt == 0) snprintf(name, sizeof name, "events.out.tfevents.%ld.%s", t, host);
        else if (attempt == 1) snprintf(name, sizeof name, "events.out.tfevents.%ld.%s.%ld", t, host, (long)getpid());
        else snprintf(name, sizeof name, "events.out.tfevents.%ld.%s.%ld.%d", t, host, (long)getpid(), attempt);
        free(w->path);
        w->path = xc_path_join(dir, name);
        if (!w->path) {
            said = xc_errorf("out of memory");
            break;
        }
        w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (w->fd < 0 && errno != EEXIST) said = xc_errorf("cannot create '%s': %s", w->path, strerror(errno));
    }
    if (w->fd < 0) {
        if (!said) xc_errorf("cannot create an events file in '%s': 100 names taken", dir);
        free(w->path);
        free(w);
        return NULL;
    }
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall_time();
    ev.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION;
    ev.file_version = (char *)"brain.Event:2";
    if (add_event(w, &ev) < 0 || xc_tb_flush(w) < 0) {
        close(w->fd);
        unlink(w->path);
        free(w->path);
        free(w->buf);
        free(w);
        return NULL;
    }
    return w;
}

/* One Summary with one Value, as an Event at `step`. */
static int add_value(xc_tb *w, int64_t step, Tensorboard__Summary__Value *v) {
    Tensorboard__Summary sum = TENSORBOARD__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = &v;
    Tensorboard__Event ev = TENSORBOARD__EVENT__INIT;
    ev.wall_time = wall_time();
    ev.step = step;
    ev.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return add_event(w, &ev);
}

int xc_tb_add_scalar(xc_tb *w, const char *tag, int64_t step, double value) {
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE;
    v.simple_value = (float)value;
    return add_value(w, step, &v);
}

int xc_tb_add_image(xc_tb *w, const char *tag, int64_t step, const uint8_t *png, size_t len,
                    int width, int height, int channels) {
    if (channels < 1 || channels > 4 || channels == 2 || width <= 0 || height <= 0)
        return xc_errorf("cannot write '%s': image '%s' is %dx%d with %d channels", w->path, tag,
                         width, height, channels);
    Tensorboard__Summary__Image img = TENSORBOARD__SUMMARY__IMAGE__INIT;
    img.height = height;
    img.width = width;
    img.colorspace = channels;
    img.encoded_image_string.data = (uint8_t *)png;
    img.encoded_image_string.len = len;
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_IMAGE;
    v.image = &img;
    return add_value(w, step, &v);
}

int xc_tb_add_text(xc_tb *w, const char *tag, int64_t step, const char *text) {
    /* As TensorBoard's own text summaries: plugin "text" (content: its version 0, empty), data
     * class "tensor", a rank-0 string tensor. */
    Tensorboard__SummaryMetadata__PluginData pd = TENSORBOARD__SUMMARY_METADATA__PLUGIN_DATA__INIT;
    pd.plugin_name = (char *)"text";
    Tensorboard__SummaryMetadata md = TENSORBOARD__SUMMARY_METADATA__INIT;
    md.plugin_data = &pd;
    md.data_class = TENSORBOARD__DATA_CLASS__DATA_CLASS_TENSOR;
    Tensorboard__TensorShapeProto shape = TENSORBOARD__TENSOR_SHAPE_PROTO__INIT;
    ProtobufCBinaryData s = {strlen(text), (uint8_t *)text};
    Tensorboard__TensorProto t = TENSORBOARD__TENSOR_PROTO__INIT;
    t.dtype = TENSORBOARD__DATA_TYPE__DT_STRING;
    t.tensor_shape = &shape;
    t.n_string_val = 1;
    t.string_val = &s;
    Tensorboard__Summary__Value v = TENSORBOARD__SUMMARY__VALUE__INIT;
    v.tag = (char *)tag;
    v.metadata = &md;
    v.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR;
    v.tensor = &t;
    return add_value(w, step, &v);
}

int xc_tb_close(xc_tb *w) {
    if (!w) return 0;
    int rc = xc_tb_flush(w);
    if (close(w->fd) < 0 && rc == 0) rc = xc_errorf("cannot write '%s': %s", w->path, strerror(errno));
    free(w->path);
    free(w->buf);
    free(w);
    return rc;
}

#endif
