/* test_image_util.h — helpers shared by the tests/image/test_image*.c tests: deterministic
 * synthetic images (smooth, X-ray-like: gradients, a disc, a few edges), pixel comparison,
 * and an in-memory byte buffer for encoders. Not a test itself (tests are test_*.c). */
#ifndef XRAYCLS_TESTS_IMAGE_UTIL_H
#define XRAYCLS_TESTS_IMAGE_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/image.h"

/* A smooth w x h image with structure; channel c is shifted so RGB channels differ. */
static inline void tu_synth(xc_image *img, int w, int h, int channels, unsigned seed) {
    if (xc_image_alloc(img, w, h, channels) < 0) abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                double u = (double)x / w, v = (double)y / h;
                double val = 60 + 120 * u * (1 - v) + 40 * sin(6.0 * u + 3.0 * v + c + seed);
                double dx = u - 0.5, dy = v - 0.45;
                if (dx * dx + dy * dy < 0.06) val += 50 - 25 * c; /* a disc */
                if (x > w * 3 / 4 && y < h / 3) val = 20 + 30 * c;  /* a flat dark block */
                if (val < 0) val = 0;
                if (val > 255) val = 255;
                img->pixels[((size_t)y * w + x) * channels + c] = (uint8_t)val;
            }
}

/* Mean and max absolute difference over n bytes. */
static inline double tu_mean_absdiff(const uint8_t *a, const uint8_t *b, size_t n, int *maxd) {
    double s = 0;
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        s += d;
        if (d > m) m = d;
    }
    if (maxd) *maxd = m;
    return n ? s / n : 0;
}

/* The 601 luma of an RGB image (Pillow's convert('L') rounding). */
static inline void tu_luma(const xc_image *rgb, xc_image *gray) {
    if (xc_image_alloc(gray, rgb->width, rgb->height, 1) < 0) abort();
    for (size_t i = 0; i < (size_t)rgb->width * rgb->height; i++) {
        const uint8_t *p = rgb->pixels + 3 * i;
        gray->pixels[i] = (uint8_t)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
    }
}

typedef struct {
    uint8_t *data;
    size_t len, cap;
} tu_buf;

static inline void tu_buf_put(tu_buf *b, const void *p, size_t n) {
    if (n == 0) return;
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Writes n bytes to path (plain, for the tests' own inputs). */
static inline int tu_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

#endif
