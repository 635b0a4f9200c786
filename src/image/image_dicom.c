/* image_dicom.c — the display pipeline of DICOM images (xraycls/image.h): VOI LUT, window or
 * robust range, MONOCHROME1 inversion, 8 bits. Parsing, decompression and the Modality LUT are
 * src/dicom's (DCMTK); this is C so that what reaches the dataset is one readable formula per
 * case, each from PS3.3 C.11.2, and recorded in xc_image_info. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "image_internal.h"
#include "xraycls/dicom.h"

static uint8_t round_level(double y) {
    if (!(y > 0.0)) return 0; /* also NaN */
    if (y >= 255.0) return 255;
    return (uint8_t)floor(y + 0.5);
}

/* PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT), C.11.2.1.3.1 (SIGMOID), onto 0..255. */
static double window(double x, double c, double w, int fn) {
    if (fn == 2) return 255.0 / (1.0 + exp(-4.0 * (x - c) / w));
    if (fn == 1) {
        if (x <= c - w / 2) return 0.0;
        if (x > c + w / 2) return 255.0;
        return ((x - c) / w + 0.5) * 255.0;
    }
    if (w < 1) w = 1;
    if (x <= c - 0.5 - (w - 1) / 2) return 0.0;
    if (x > c - 0.5 + (w - 1) / 2) return 255.0;
    return w == 1 ? 255.0 : ((x - (c - 0.5)) / (w - 1) + 0.5) * 255.0;
}

/* One modality value to its displayed level: VOI LUT (mode 0) or window (1, 2), then inversion. */
static uint8_t display(int64_t x, int mode, double c, double w, int fn, const xc_dicom_frame *f, double lut_max,
                       int invert) {
    uint8_t y;
    if (mode == 0) {
        int64_t j = x - f->voi_lut_first;
        if (j < 0) j = 0;
        if (j >= f->voi_lut_n) j = f->voi_lut_n - 1;
        y = round_level((double)f->voi_lut[j] * 255.0 / lut_max);
    } else {
        y = round_level(window((double)x, c, w, fn));
    }
    return invert ? (uint8_t)(255 - y) : y;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The values at ranks k and n-1-k of the sorted values (k = floor(0.005 (n-1))): a counting
 * pass when the range is small (always, for 16-bit data), else a sort of a copy. */
static int robust_range(const int32_t *v, size_t n, int64_t vmin, int64_t vmax, int64_t *lo, int64_t *hi) {
    size_t k = (size_t)floor(0.005 * (double)(n - 1)), kh = n - 1 - k;
    if (vmax - vmin < (1 << 24)) {
        size_t m = (size_t)(vmax - vmin + 1);
        uint32_t *h = calloc(m, sizeof *h);
        if (!h) return -1;
        for (size_t i = 0; i < n; i++) h[v[i] - vmin]++;
        size_t cum = 0;
        int have_lo = 0;
        for (size_t j = 0; j < m; j++) {
            cum += h[j];
            if (!have_lo && cum > k) *lo = vmin + (int64_t)j, have_lo = 1;
            if (cum > kh) {
                *hi = vmin + (int64_t)j;
                break;
            }
        }
        free(h);
        return 0;
    }
    int32_t *s = malloc(n * sizeof *s);
    if (!s) return -1;
    memcpy(s, v, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_i32);
    *lo = s[k];
    *hi = s[kh];
    free(s);
    return 0;
}

int xc_image_decode_dicom(const uint8_t *buf, size_t len, const char *what, int channels, int min_side_hint,
                          const xc_image_limits *limits, xc_image *out, xc_image_info *info) {
    xc_dicom_frame f;
    /* XRAYCLS_J2K_REDUCE=0: JPEG 2000 at full resolution whatever the hint (as XRAYCLS_JPEG_DECODER=libjpeg
     * for JPEG): for comparisons, at about 4x the decoding time. */
    const char *reduce = getenv("XRAYCLS_J2K_REDUCE");
    if (reduce && !strcmp(reduce, "0")) min_side_hint = 0;
    if (xc_dicom_decode(buf, len, what, limits->max_side, limits->max_pixels, min_side_hint, &f) < 0) return -1;
    info->bit_depth = f.bits_stored;
    snprintf(info->photometric, sizeof info->photometric, "%s", f.photometric);
    snprintf(info->transfer_syntax, sizeof info->transfer_syntax, "%s", f.transfer_syntax);
    snprintf(info->patient_id, sizeof info->patient_id, "%s", f.patient_id);
    if (xc_image_alloc(out, f.width, f.height, channels) < 0) {
        xc_dicom_frame_free(&f);
        return xc_errorf("cannot decode '%s': %s", what, xc_error());
    }
    out->file_width = f.full_width;
    out->file_height = f.full_height;
    out->scale_denom = f.scale_denom;
    size_t n = (size_t)f.width * (size_t)f.height;
    if (f.samples == 3) {
        for (size_t i = 0; i < n; i++) {
            const uint8_t *p = f.rgb + 3 * i;
            if (channels == 1) out->pixels[i] = xc_image_luma(p[0], p[1], p[2]);
            else memcpy(out->pixels + 3 * i, p, 3);
        }
        snprintf(info->mapping, sizeof info->mapping, "%s rendered to RGB", f.photometric);
        xc_dicom_frame_free(&f);
        return 0;
    }
    info->stored_min = f.stored_min;
    info->stored_max = f.stored_max;
    /* The stored range "far below the depth": 4 bits or more unused (a 16-bit file of 12-bit data,
     * or 12-bit data in a few hundred levels). Only meaningful on stored values. */
    if (!f.has_rescale && !f.has_modality_lut && f.bits_stored > 8 &&
        (f.stored_max - f.stored_min) < ((int64_t)1 << (f.bits_stored - 4)))
        info->low_range = 1;
    uint8_t *lut8 = NULL; /* 8-bit output per value, when the values span a small range */
    int64_t span = f.stored_max - f.stored_min + 1;
    double c = 0, w = 0;
    int fn = 0, mode; /* 0 VOI LUT, 1 window, 2 robust range */
    if (f.voi_lut_n > 0) {
        mode = 0;
        snprintf(info->mapping, sizeof info->mapping, "VOI LUT sequence (%d entries from %d, %d bits)", f.voi_lut_n,
                 f.voi_lut_first, f.voi_lut_bits);
        info->windowed = 1;
    } else if (f.nwindows > 0) {
        mode = 1;
        c = f.window_center;
        w = f.window_width;
        if (!strcasecmp(f.voi_function, "LINEAR_EXACT")) fn = 1;
        else if (!strcasecmp(f.voi_function, "SIGMOID")) fn = 2;
        snprintf(info->mapping, sizeof info->mapping, "window %g/%g %s", c, w,
                 fn == 1 ? "LINEAR_EXACT" : fn == 2 ? "SIGMOID" : "LINEAR");
        info->windowed = 1;
    } else {
        mode = 2;
        int64_t lo = f.stored_min, hi = f.stored_max;
        if (robust_range(f.values, n, f.stored_min, f.stored_max, &lo, &hi) < 0) {
            xc_dicom_frame_free(&f);
            xc_image_free(out);
            return xc_errorf("cannot decode '%s': out of memory", what);
        }
        if (hi <= lo) hi = lo + 1;
        /* As a LINEAR_EXACT window from lo to hi. */
        c = ((double)lo + (double)hi) / 2;
        w = (double)(hi - lo);
        fn = 1;
        snprintf(info->mapping, sizeof info->mapping, "robust range %lld..%lld (0.5th-99.5th percentile; no window in the file)",
                 (long long)lo, (long long)hi);
        info->windowed = 2;
    }
    info->window_center = c;
    info->window_width = w;
    info->inverted = !strcmp(f.photometric, "MONOCHROME1");
    /* One output level per value: a table over the values' range (at most 2^20 entries; 16-bit
     * data always fit), else per pixel. */
    if (span <= (1 << 20)) lut8 = malloc((size_t)span);
    double lut_max = f.voi_lut_bits > 0 ? (double)((1u << f.voi_lut_bits) - 1) : 1.0;
    int64_t nlev = lut8 ? span : 0;
    for (int64_t j = 0; j < nlev; j++)
        lut8[j] = display(f.stored_min + j, mode, c, w, fn, &f, lut_max, info->inverted);
    for (size_t i = 0; i < n; i++) {
        uint8_t y = lut8 ? lut8[f.values[i] - f.stored_min]
                         : display(f.values[i], mode, c, w, fn, &f, lut_max, info->inverted);
        if (channels == 1) out->pixels[i] = y;
        else out->pixels[3 * i] = out->pixels[3 * i + 1] = out->pixels[3 * i + 2] = y;
    }
    free(lut8);
    xc_dicom_frame_free(&f);
    return 0;
}
