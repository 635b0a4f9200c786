/* image_resize.c — separable anti-aliased resampling of 8-bit images (see xc_image_resize in
 * xraycls/image.h).
 *
 * The algorithm is Pillow's resample with its BILINEAR filter, so that images prepared here
 * match images prepared in Python within rounding:
 *   - per output pixel x, the source centre is (x + 0.5) * scale, scale = extent / out, where
 *     the extent is the input size, or for a DCT-downscaled decode the part of it the file
 *     covers (file_width / scale_denom: the last pixel may stand for a partial block);
 *   - the triangle filter max(0, 1 - |d|) is stretched by max(scale, 1): on a downscale every
 *     source pixel within `scale` of the centre contributes, weighted by distance (area-like);
 *   - weights are normalised to sum 1, then held in fixed point with 22 fraction bits; each sum
 *     starts at one half and is shifted back, i.e. rounded to nearest, then clamped to 0..255;
 *   - the horizontal pass runs first into an 8-bit intermediate, then the vertical pass; a pass
 *     whose size does not change is skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define PRECISION_BITS (32 - 8 - 2)
#define MAX_OUT_SIDE 65536

/* The filter taps of one axis: output i reads n[i] inputs from first[i] on, with weights
 * w[i * ksize .. + n[i]] (fixed point). */
typedef struct {
    int ksize;
    int *first, *n;
    int32_t *w;
} taps;

static void taps_free(taps *t) {
    free(t->first);
    free(t->n);
    free(t->w);
    t->first = t->n = NULL;
    t->w = NULL;
}

static double triangle(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* in_size pixels, of which [0, extent) are resampled onto out_size. */
static int taps_make(taps *t, int in_size, double extent, int out_size) {
    double scale = extent / out_size;
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = filterscale; /* the triangle's support is 1 */
    t->ksize = (int)ceil(support) * 2 + 1;
    t->first = malloc(sizeof(int) * out_size);
    t->n = malloc(sizeof(int) * out_size);
    t->w = calloc((size_t)out_size * t->ksize, sizeof(int32_t));
    double *k = malloc(sizeof(double) * t->ksize);
    if (!t->first || !t->n || !t->w || !k) {
        free(k);
        taps_free(t);
        return xc_errorf("cannot resize: out of memory");
    }
    for (int i = 0; i < out_size; i++) {
        double centre = (i + 0.5) * scale;
        int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in_size) hi = in_size;
        double sum = 0.0;
        for (int j = lo; j < hi; j++) sum += k[j - lo] = triangle((j - centre + 0.5) / filterscale);
        for (int j = lo; j < hi; j++) {
            double v = sum != 0.0 ? k[j - lo] / sum : 0.0;
            t->w[(size_t)i * t->ksize + (j - lo)] = (int32_t)(v * (1 << PRECISION_BITS) + 0.5);
        }
        t->first[i] = lo;
        t->n[i] = hi - lo;
    }
    free(k);
    return 0;
}

static inline uint8_t clip8(int32_t acc) {
    acc >>= PRECISION_BITS;
    return acc < 0 ? 0 : acc > 255 ? 255 : (uint8_t)acc;
}

/* src: (h, in_w, c) → dst: (h, out_w, c) */
static void pass_horizontal(const uint8_t *src, int in_w, int h, int c, const taps *t, int out_w,
                            uint8_t *dst) {
    for (int y = 0; y < h; y++) {
        const uint8_t *row = src + (size_t)y * in_w * c;
        uint8_t *o = dst + (size_t)y * out_w * c;
        for (int x = 0; x < out_w; x++) {
            const int32_t *w = t->w + (size_t)x * t->ksize;
            const uint8_t *s = row + (size_t)t->first[x] * c;
            int n = t->n[x];
            if (c == 1) {
                int32_t a = 1 << (PRECISION_BITS - 1);
                for (int j = 0; j < n; j++) a += s[j] * w[j];
                o[x] = clip8(a);
            } else {
                int32_t a0 = 1 << (PRECISION_BITS - 1), a1 = a0, a2 = a0;
                for (int j = 0; j < n; j++, s += 3) a0 += s[0] * w[j], a1 += s[1] * w[j], a2 += s[2] * w[j];
                o[3 * x] = clip8(a0), o[3 * x + 1] = clip8(a1), o[3 * x + 2] = clip8(a2);
            }
        }
    }
}

/* src: (in_h, w, c) → dst: (out_h, w, c); acc: w * c accumulators */
static void pass_vertical(const uint8_t *src, int w, int c, const taps *t, int out_h, uint8_t *dst,
                          int32_t *acc) {
    size_t stride = (size_t)w * c;
    for (int y = 0; y < out_h; y++) {
        for (size_t i = 0; i < stride; i++) acc[i] = 1 << (PRECISION_BITS - 1);
        const int32_t *wt = t->w + (size_t)y * t->ksize;
        for (int j = 0; j < t->n[y]; j++) {
            const uint8_t *row = src + (size_t)(t->first[y] + j) * stride;
            int32_t k = wt[j];
            for (size_t i = 0; i < stride; i++) acc[i] += row[i] * k;
        }
        uint8_t *o = dst + (size_t)y * stride;
        for (size_t i = 0; i < stride; i++) o[i] = clip8(acc[i]);
    }
}

int xc_image_resize_into(const xc_image *src, int out_w, int out_h, uint8_t *dst) {
    if (!src || !src->pixels || src->width <= 0 || src->height <= 0 ||
        (src->channels != 1 && src->channels != 3))
        return xc_errorf("cannot resize: not a valid 8-bit gray or RGB image");
    if (out_w <= 0 || out_h <= 0 || out_w > MAX_OUT_SIDE || out_h > MAX_OUT_SIDE)
        return xc_errorf("cannot resize to %dx%d: sides must be 1..%d", out_w, out_h, MAX_OUT_SIDE);
    int c = src->channels, in_w = src->width, in_h = src->height;
    double ext_w = in_w, ext_h = in_h;
    if (src->scale_denom > 1 && src->file_width > 0 && src->file_height > 0) {
        ext_w = (double)src->file_width / src->scale_denom;
        ext_h = (double)src->file_height / src->scale_denom;
        if (ext_w > in_w || ext_w <= in_w - 1) ext_w = in_w; /* inconsistent fields: whole image */
        if (ext_h > in_h || ext_h <= in_h - 1) ext_h = in_h;
    }
    int do_h = out_w != in_w || ext_w != in_w, do_v = out_h != in_h || ext_h != in_h;
    if (!do_h && !do_v) {
        memcpy(dst, src->pixels, (size_t)in_w * in_h * c);
        return 0;
    }
    taps th = {0}, tv = {0};
    uint8_t *mid = NULL;
    int32_t *acc = NULL;
    int rc = -1;
    if (do_h && taps_make(&th, in_w, ext_w, out_w) < 0) goto done;
    if (do_v && taps_make(&tv, in_h, ext_h, out_h) < 0) goto done;
    if (do_h && do_v) {
        mid = malloc((size_t)in_h * out_w * c);
        if (!mid) {
            xc_errorf("cannot resize: out of memory");
            goto done;
        }
    }
    if (do_v) {
        acc = malloc(sizeof(int32_t) * out_w * c);
        if (!acc) {
            xc_errorf("cannot resize: out of memory");
            goto done;
        }
    }
    if (do_h) pass_horizontal(src->pixels, in_w, in_h, c, &th, out_w, do_v ? mid : dst);
    if (do_v) pass_vertical(do_h ? mid : src->pixels, out_w, c, &tv, out_h, dst, acc);
    rc = 0;
done:
    taps_free(&th);
    taps_free(&tv);
    free(mid);
    free(acc);
    return rc;
}

int xc_image_resize(const xc_image *src, int out_w, int out_h, xc_image *dst) {
    memset(dst, 0, sizeof *dst);
    if (!src || (src->channels != 1 && src->channels != 3))
        return xc_errorf("cannot resize: not a valid 8-bit gray or RGB image");
    if (out_w <= 0 || out_h <= 0 || out_w > MAX_OUT_SIDE || out_h > MAX_OUT_SIDE)
        return xc_errorf("cannot resize to %dx%d: sides must be 1..%d", out_w, out_h, MAX_OUT_SIDE);
    if (xc_image_alloc(dst, out_w, out_h, src->channels) < 0) return -1;
    if (xc_image_resize_into(src, out_w, out_h, dst->pixels) < 0) {
        xc_image_free(dst);
        return -1;
    }
    return 0;
}
