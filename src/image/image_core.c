/* image_core.c — the format-independent part of xraycls/image.h: allocation, magic-byte
 * sniffing, limits, file reading and the decode + resize convenience. The codecs live in
 * image_jpeg.c and image_png.c, the resampler in image_resize.c. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "image_internal.h"
#include "xraycls/parse.h"
#include "xraycls/dicom.h"
#include "xraycls/fs.h"

xc_image_limits xc_image_limits_default(void) {
    xc_image_limits l = {XC_IMAGE_MAX_SIDE_DEFAULT, XC_IMAGE_MAX_PIXELS_DEFAULT};
    return l;
}

xc_image_format xc_image_sniff(const void *buf, size_t len) {
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    const uint8_t *b = buf;
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return XC_IMAGE_JPEG;
    if (len >= 8 && memcmp(b, png_magic, 8) == 0) return XC_IMAGE_PNG;
    if (xc_dicom_sniff(buf, len)) return XC_IMAGE_DICOM;
    return XC_IMAGE_UNKNOWN;
}

int xc_image_is_candidate(const char *path) {
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (!strcasecmp(base, "DICOMDIR")) return 0;
    const char *dot = strrchr(base, '.');
    int named = dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
                        !strcasecmp(dot, ".dcm") || !strcasecmp(dot, ".dicom"));
    if (named) return 1;
    unsigned char head[132];
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return xc_image_sniff(head, n) != XC_IMAGE_UNKNOWN;
}

int xc_image_alloc(xc_image *img, int width, int height, int channels) {
    memset(img, 0, sizeof *img);
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
        return xc_errorf("cannot allocate a %dx%dx%d image: invalid shape", width, height, channels);
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    uint8_t *p = malloc(n);
    if (!p) return xc_errorf("cannot allocate a %dx%dx%d image: out of memory", width, height, channels);
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->pixels = p;
    img->file_width = width;
    img->file_height = height;
    img->scale_denom = 1;
    return 0;
}

void xc_image_free(xc_image *img) {
    if (!img) return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

int xc_image_check_limits(const char *what, long long width, long long height,
                          const xc_image_limits *limits) {
    if (width <= 0 || height <= 0)
        return xc_errorf("cannot decode '%s': image is %lldx%lld", what, width, height);
    if (width > limits->max_side || height > limits->max_side)
        return xc_errorf("cannot decode '%s': image is %lldx%lld, over the limit of %d a side", what,
                         width, height, limits->max_side);
    if (width * height > limits->max_pixels)
        return xc_errorf("cannot decode '%s': image is %lldx%lld, over the limit of %lld pixels",
                         what, width, height, (long long)limits->max_pixels);
    return 0;
}

/* ---- the decoding memory budget ------------------------------------------------------------
 * One budget for the whole process, shared by every decoding thread: a decoder reserves what
 * it is about to allocate (xc_image_budget_take, from the header) and the reservation ends when
 * xc_image_decode_mem_info returns. A thread holds at most one reservation (a new one replaces
 * it), so no thread waits while holding memory and the threads cannot deadlock. */

static pthread_mutex_t budget_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t budget_cv = PTHREAD_COND_INITIALIZER;
static int64_t budget_total, budget_used, budget_peak;
static _Thread_local int64_t budget_mine;

/* min(physical memory / 4, 4 GiB), at least 256 MiB; XRAYCLS_DECODE_MEMORY_MB overrides. */
static int64_t budget_default(void) {
    const char *e = getenv("XRAYCLS_DECODE_MEMORY_MB");
    long long mb;
    if (e && *e && xc_parse_ll(e, 16, 1LL << 30, &mb) == 0) return (int64_t)mb << 20;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int64_t quarter = pages > 0 && page > 0 ? (int64_t)pages * page / 4 : (int64_t)1 << 30;
    if (quarter > ((int64_t)4 << 30)) quarter = (int64_t)4 << 30;
    if (quarter < ((int64_t)256 << 20)) quarter = (int64_t)256 << 20;
    return quarter;
}

static void budget_release_locked(void) {
    if (budget_mine > 0) {
        budget_used -= budget_mine;
        budget_mine = 0;
        pthread_cond_broadcast(&budget_cv);
    }
}

void xc_image_decode_budget_set(int64_t bytes) {
    pthread_mutex_lock(&budget_mu);
    budget_total = bytes > 0 ? bytes : budget_default();
    budget_peak = budget_used;
    pthread_cond_broadcast(&budget_cv);
    pthread_mutex_unlock(&budget_mu);
}

int64_t xc_image_decode_budget(void) {
    pthread_mutex_lock(&budget_mu);
    if (!budget_total) budget_total = budget_default();
    int64_t t = budget_total;
    pthread_mutex_unlock(&budget_mu);
    return t;
}

int64_t xc_image_decode_budget_peak(void) {
    pthread_mutex_lock(&budget_mu);
    int64_t p = budget_peak;
    pthread_mutex_unlock(&budget_mu);
    return p;
}

int xc_image_budget_take(const char *what, int64_t bytes) {
    pthread_mutex_lock(&budget_mu);
    if (!budget_total) budget_total = budget_default();
    budget_release_locked();
    if (bytes > budget_total) {
        int64_t total = budget_total;
        pthread_mutex_unlock(&budget_mu);
        return xc_errorf("cannot decode '%s': decoding it needs %lld MB, over the decoding memory budget of %lld MB "
                         "(shared by all decoding threads; XRAYCLS_DECODE_MEMORY_MB raises it)", what,
                         (long long)((bytes + (1 << 20) - 1) >> 20), (long long)(total >> 20));
    }
    while (budget_used + bytes > budget_total) pthread_cond_wait(&budget_cv, &budget_mu);
    budget_used += bytes;
    budget_mine = bytes;
    if (budget_used > budget_peak) budget_peak = budget_used;
    pthread_mutex_unlock(&budget_mu);
    return 0;
}

static void budget_end(void) {
    if (budget_mine == 0) return;
    pthread_mutex_lock(&budget_mu);
    budget_release_locked();
    pthread_mutex_unlock(&budget_mu);
}

int xc_image_decode_mem(const void *buf, size_t len, const char *what, int channels,
                        int min_side_hint, const xc_image_limits *limits, xc_image *out) {
    return xc_image_decode_mem_info(buf, len, what, channels, min_side_hint, limits, out, NULL);
}

int xc_image_decode_mem_info(const void *buf, size_t len, const char *what, int channels,
                             int min_side_hint, const xc_image_limits *limits, xc_image *out,
                             xc_image_info *info) {
    xc_image_info scratch;
    if (!info) info = &scratch;
    memset(info, 0, sizeof *info);
    memset(out, 0, sizeof *out);
    if (!what) what = "(memory)";
    if (channels != 1 && channels != 3)
        return xc_errorf("cannot decode '%s': %d channels asked for (1 or 3)", what, channels);
    xc_image_limits def = xc_image_limits_default();
    if (!limits) limits = &def;
    if (len == 0) return xc_errorf("cannot decode '%s': empty file", what);
    info->format = xc_image_sniff(buf, len);
    int rc;
    switch (info->format) {
    case XC_IMAGE_JPEG:
        info->bit_depth = 8;
        rc = xc_image_decode_jpeg(buf, len, what, channels, min_side_hint, limits, out);
        break;
    case XC_IMAGE_PNG: rc = xc_image_decode_png(buf, len, what, channels, limits, out, info); break;
    case XC_IMAGE_DICOM: rc = xc_image_decode_dicom(buf, len, what, channels, min_side_hint, limits, out, info); break;
    default: return xc_errorf("cannot decode '%s': not a JPEG, PNG or DICOM image", what);
    }
    budget_end();
    return rc;
}

int xc_image_decode_file_limits(const char *path, int channels, int min_side_hint,
                                const xc_image_limits *limits, xc_image *out) {
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *buf = xc_read_file(path, &len, XC_IMAGE_MAX_FILE_BYTES);
    if (!buf) return -1;
    int rc = xc_image_decode_mem(buf, len, path, channels, min_side_hint, limits, out);
    free(buf);
    return rc;
}

int xc_image_decode_file(const char *path, int channels, int min_side_hint, xc_image *out) {
    return xc_image_decode_file_limits(path, channels, min_side_hint, NULL, out);
}

int xc_image_load_resized(const char *path, int size, int channels, uint8_t *out) {
    if (size <= 0) return xc_errorf("cannot load '%s': invalid size %d", path, size);
    xc_image full;
    if (xc_image_decode_file(path, channels, size, &full) < 0) return -1;
    int rc = xc_image_resize_into(&full, size, size, out);
    xc_image_free(&full);
    if (rc < 0) return xc_errorf("cannot load '%s': %s", path, xc_error());
    return 0;
}
