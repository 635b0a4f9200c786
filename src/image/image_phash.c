/* image_phash.c — the perceptual hash of xraycls/image.h (imagehash's pHash): a 32 x 32 gray
 * thumbnail, its 2-D DCT-II, and the signs of the 8 x 8 lowest frequencies against their median.
 * Written here rather than taken from a library: it is twenty lines over our own resampler, and
 * no maintained C library for it is packaged for Debian. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define PH_N 32
#define PH_K 8

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int xc_image_phash(const xc_image *img, uint64_t *hash) {
    uint8_t thumb[PH_N * PH_N * 3];
    if (xc_image_resize_into(img, PH_N, PH_N, thumb) < 0) return -1;
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
    double d[PH_K * PH_K], sorted[PH_K * PH_K];
    for (int u = 0; u < PH_K; u++)
        for (int v = 0; v < PH_K; v++) {
            double s = 0;
            for (int y = 0; y < PH_N; y++) s += rows[y][v] * c[u][y];
            d[u * PH_K + v] = s;
        }
    memcpy(sorted, d, sizeof d);
    qsort(sorted, PH_K * PH_K, sizeof sorted[0], cmp_double);
    double med = (sorted[PH_K * PH_K / 2 - 1] + sorted[PH_K * PH_K / 2]) / 2;
    uint64_t h = 0;
    for (int i = 0; i < PH_K * PH_K; i++)
        if (d[i] > med) h |= (uint64_t)1 << i;
    *hash = h;
    return 0;
}

int xc_image_hamming(uint64_t a, uint64_t b) { return __builtin_popcountll(a ^ b); }
