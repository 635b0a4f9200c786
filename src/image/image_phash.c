/* image_phash.c — the perceptual hash of xraycls/image.h: a 32 x 32 gray thumbnail, its 2-D
 * DCT-II, and the 8 x 8 lowest frequencies each against a median (pHash; prepare uses the
 * dataset's medians, see xc_image_hash_bits). Written here rather than taken from a library: it
 * is thirty lines over our own resampler, and no maintained C library for it is packaged for
 * Debian. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define PH_N 32
#define PH_K 8

int xc_image_dct8(const xc_image *img, double crop, float coef[64]) {
    uint8_t thumb[PH_N * PH_N * 3];
    if (!(crop >= 0 && crop < 0.25)) return xc_errorf("hash: crop %g outside [0, 0.25)", crop);
    int cx = (int)(img->width * crop), cy = (int)(img->height * crop);
    if (cx == 0 && cy == 0) {
        if (xc_image_resize_into(img, PH_N, PH_N, thumb) < 0) return -1;
    } else {
        xc_image sub;
        if (xc_image_alloc(&sub, img->width - 2 * cx, img->height - 2 * cy, img->channels) < 0) return -1;
        size_t row = (size_t)sub.width * (size_t)img->channels;
        for (int y = 0; y < sub.height; y++)
            memcpy(sub.pixels + (size_t)y * row, img->pixels + ((size_t)(y + cy) * img->width + cx) * img->channels, row);
        int rc = xc_image_resize_into(&sub, PH_N, PH_N, thumb);
        xc_image_free(&sub);
        if (rc < 0) return -1;
    }
    double g[PH_N][PH_N];
    for (int y = 0; y < PH_N; y++)
        for (int x = 0; x < PH_N; x++) {
            const uint8_t *p = thumb + ((size_t)y * PH_N + x) * (size_t)img->channels;
            g[y][x] = img->channels == 1 ? p[0] : xc_image_luma(p[0], p[1], p[2]);
        }
    /* cosines of the first PH_K frequencies: c[u][x] = cos(pi (2x + 1) u / 2N) */
    double c[PH_K][PH_N];
    for (int u = 0; u < PH_K; u++)
        for (int x = 0; x < PH_N; x++) c[u][x] = cos(M_PI * (2 * x + 1) * u / (2.0 * PH_N));
    double rows[PH_N][PH_K]; /* the DCT along x, low frequencies only */
    for (int y = 0; y < PH_N; y++)
        for (int v = 0; v < PH_K; v++) {
            double s = 0;
            for (int x = 0; x < PH_N; x++) s += g[y][x] * c[v][x];
            rows[y][v] = s;
        }
    for (int u = 0; u < PH_K; u++)
        for (int v = 0; v < PH_K; v++) {
            double s = 0;
            for (int y = 0; y < PH_N; y++) s += rows[y][v] * c[u][y];
            coef[u * PH_K + v] = (float)s;
        }
    return 0;
}

uint64_t xc_image_hash_bits(const float coef[64], const float median[64]) {
    uint64_t h = 0;
    for (int i = 0; i < PH_K * PH_K; i++)
        if (coef[i] > median[i]) h |= (uint64_t)1 << i;
    return h;
}

int xc_image_hamming(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }
