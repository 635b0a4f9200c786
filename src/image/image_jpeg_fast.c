/* image_jpeg_fast.c — a downscaling JPEG decoder for the common case: 8-bit Huffman-coded
 * baseline or progressive files, decoded to gray at 1/2, 1/4 or 1/8 scale.
 *
 * Why: prepare spends nearly all its time here, and at those scales libjpeg-turbo still builds
 * every coefficient of every block, then runs an IDCT per block and a colour pass. This decoder
 *   - removes a scan's byte stuffing in one pass first, so that its bit reader refills without
 *     a branch;
 *   - resolves up to two coefficients (codes and extra bits together) per table look-up, with
 *     no branch on which kind of entry came;
 *   - never stores a sequential file's coefficients: each one, as it is read, is turned into
 *     its share of the block's n x n output pixels (n = 8 / scale);
 *   - keeps a progressive file's coefficients (refinement scans need them) with a bit mask of
 *     the non-zero ones per block, so that refinement passes over zero runs and hands out
 *     correction bits with bit operations (pdep where the CPU has a fast one), and reduces
 *     them once at the end.
 * On radiographs it runs about 1.5x (baseline) to 1.8x (progressive) as fast as libjpeg-turbo's
 * scaled decoding (docs/BENCHMARKS.md).
 *
 * What the output is: each output pixel is the exact mean of the d x d pixels (d = the scale
 * denominator) that a full-size IDCT would give at that place, before rounding and clamping.
 * That is an area average, the anti-aliased reduction; libjpeg's reduced IDCTs approximate the
 * same quantity, and the two agree within a level or two (tests/image/test_image_jpeg_fast.c).
 *
 * Scope, and the rule that keeps it honest: anything this decoder does not handle, and anything
 * that is not exactly well-formed — a bad Huffman code, data running into a marker, extraneous
 * bytes, a restart marker out of sequence, a bogus progression, a JFIF version libjpeg would
 * warn about — makes it return 0 without output, and the caller decodes the file with libjpeg,
 * which then produces the pixels or the error message. So every file is accepted or refused
 * exactly as before; the path only decides how fast. The colour transform of a 3-component
 * file must be known to be YCbCr (then gray is the Y component, as libjpeg gives it).
 *
 * This file: markers and tables, the frame, the reduction weights and the driver; the
 * entropy-coded data is image_jpeg_fast_scan.c's, the shared types image_jpeg_fast.h's. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_jpeg_fast.h"
#include "xraycls/dicom.h" /* xc_jpeg_scan_limit */

#define MAX_BLOCKS_IN_MCU 10
#define MAX_FILE ((size_t)128 << 20)

/* Position k of the zigzag order → its index row * 8 + column in the block. */
static const uint8_t zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

/* ---- Huffman tables ----------------------------------------------------------------------- */

/* The fast[] entry for the LOOK bits `at` of an AC table whose look[] is complete. */
static uint32_t fast_entry(const huff *h, uint32_t at) {
    unsigned e1 = h->look[at];
    if (!e1) return 0;
    int l1 = (int)(e1 & 31), sym1 = (int)(e1 >> 8), r1 = sym1 >> 4, s1 = sym1 & 15;
    if (sym1 == 0) return VALID | EOBF | (uint32_t)l1;
    if (!s1 || s1 > 7 || l1 + s1 > LOOK) return 0; /* ZRL, a large value, or bits beyond */
    int used = l1 + s1, v1 = extend((at >> (LOOK - used)) & ((1u << s1) - 1), s1);
    uint32_t one = (uint32_t)(uint8_t)(int8_t)v1 << 16 | (uint32_t)r1 << 8 | VALID | (uint32_t)used;
    /* A second symbol entirely within the remaining bits? */
    unsigned e2 = h->look[(at << used) & ((1u << LOOK) - 1)];
    int l2 = (int)(e2 & 31), sym2 = (int)(e2 >> 8), r2 = sym2 >> 4, s2 = sym2 & 15;
    if (!e2 || used + l2 > LOOK) return one;
    if (sym2 == 0) return (one & ~31u) | EOBF | (uint32_t)(used + l2);
    if (!s2 || s2 > 7 || used + l2 + s2 > LOOK) return one;
    int all = used + l2 + s2;
    int v2 = extend((at >> (LOOK - all)) & ((1u << s2) - 1), s2);
    return (one & ~31u) | TWO | (uint32_t)(uint8_t)(int8_t)v2 << 24 | (uint32_t)r2 << 12 |
           (uint32_t)all;
}

/* Builds h's tables from counts/vals; -1 for a table libjpeg would refuse. */
static int huff_build(huff *h, int ac) {
    uint32_t code = 0;
    int idx = 0, last = 0;
    memset(h->look, 0, sizeof h->look);
    for (int l = 1; l <= 16; l++)
        if (h->counts[l]) last = l;
    for (int l = 1; l <= 16; l++) {
        int n = h->counts[l];
        h->valoff[l] = idx - (int)code;
        h->maxcode[l] = n ? (int32_t)(code + n - 1) : -1;
        for (int i = 0; i < n; i++, idx++, code++) {
            if (l > LOOK) continue;
            int shift = LOOK - l;
            for (uint32_t fill = 0; fill < (1u << shift) && code < (1u << l); fill++)
                h->look[(code << shift) | fill] = (uint16_t)(h->vals[idx] << 8 | l);
        }
        /* libjpeg refuses a table whose codes overflow their length (the all-ones code too). */
        if (l <= last && code >= (1u << l)) return -1;
        code <<= 1;
    }
    if (!ac) {
        for (int i = 0; i < idx; i++)
            if (h->vals[i] > 15) return -1;
        return 0;
    }
    for (uint32_t at = 0; at < (1u << LOOK); at++) h->fast[at] = fast_entry(h, at);
    return 0;
}

/* ---- reduction weights -------------------------------------------------------------------- */

/* The mean over output pixel g (d of the 8 pixels of a block side) of the 1-D IDCT basis u,
 * with its normalisation C(u) / 2. */
static double basis_mean(int g, int d, int u) {
    double cu = u == 0 ? sqrt(0.5) : 1.0, sum = 0.0;
    for (int x = g * d; x < g * d + d; x++) sum += cos((2 * x + 1) * u * M_PI / 16.0);
    return cu / 2.0 * sum / d;
}

/* basis[s][g][u] = basis_mean(g, 2^s, u) for the scales 1/2, 1/4, 1/8 (s = 1, 2, 3); exact
 * zeros where the mean vanishes. Filled once (choose_paths). */
static double basis[4][8][8];

static void make_basis(void) {
    for (int s = 1; s <= 3; s++)
        for (int g = 0; g < 8 >> s; g++)
            for (int u = 0; u < 8; u++) {
                double m = basis_mean(g, 1 << s, u);
                basis[s][g][u] = fabs(m) < 1e-12 ? 0.0 : m;
            }
}

static void make_weights(dec *d) {
    int n = d->n, sc = n == 4 ? 1 : n == 2 ? 2 : 3;
    const uint16_t *q = d->c[0].q;
    d->needmask = 0;
    d->nneed = 0;
    for (int k = 0; k < 64; k++) {
        int v = zigzag[k] / 8, u = zigzag[k] % 8, any = 0;
        for (int gy = 0; gy < n; gy++)
            for (int gx = 0; gx < n; gx++) {
                double wt = q[k] * basis[sc][gy][v] * basis[sc][gx][u];
                d->w[k][gy * n + gx] = (float)wt;
                any |= wt != 0.0;
            }
        if (any) {
            d->need[d->nneed++] = (uint8_t)k;
            d->needmask |= 0x8000000000000000ull >> k;
        }
    }
}

/* ---- markers ------------------------------------------------------------------------------ */

static int rd16(const uint8_t *p) { return p[0] << 8 | p[1]; }

static int read_dqt(dec *d, const uint8_t *p, int len) {
    while (len > 0) {
        int pq = p[0] >> 4, tq = p[0] & 15, size = 1 + 64 * (pq ? 2 : 1);
        if (pq > 1 || tq > 3 || len < size) return -1;
        for (int k = 0; k < 64; k++) d->qt[tq][k] = (uint16_t)(pq ? rd16(p + 1 + 2 * k) : p[1 + k]);
        d->qt_defined[tq] = 1;
        p += size;
        len -= size;
    }
    return 0;
}

static int read_dht(dec *d, const uint8_t *p, int len) {
    while (len > 0) {
        if (len < 17) return -1;
        int tc = p[0] >> 4, th = p[0] & 15;
        if (tc > 1 || th > 3) return -1;
        huff *h = tc ? &d->ac[th] : &d->dc[th];
        int total = 0;
        for (int l = 1; l <= 16; l++) total += h->counts[l] = p[l];
        if (total > 256 || len < 17 + total) return -1;
        memcpy(h->vals, p + 17, (size_t)total);
        h->nvals = total;
        if (huff_build(h, tc) < 0) return -1;
        h->defined = 1;
        p += 17 + total;
        len -= 17 + total;
    }
    return 0;
}

static int read_sof(dec *d, const uint8_t *p, int len, const xc_image_limits *limits) {
    if (d->ncomp || len < 6 || p[0] != 8) return -1;
    d->height = rd16(p + 1);
    d->width = rd16(p + 3);
    d->ncomp = p[5];
    if ((d->ncomp != 1 && d->ncomp != 3) || len != 6 + 3 * d->ncomp) return -1;
    if (d->width <= 0 || d->height <= 0) return -1; /* height 0: a DNL marker follows */
    if (xc_image_check_limits("", d->width, d->height, limits) < 0) return -1;
    d->hmax = d->vmax = 1;
    for (int i = 0; i < d->ncomp; i++) {
        comp *c = &d->c[i];
        c->id = p[6 + 3 * i];
        c->h = p[7 + 3 * i] >> 4;
        c->v = p[7 + 3 * i] & 15;
        c->tq = p[8 + 3 * i];
        if (c->h < 1 || c->h > 4 || c->v < 1 || c->v > 4 || c->tq > 3) return -1;
        for (int j = 0; j < i; j++)
            if (d->c[j].id == c->id) return -1;
        if (c->h > d->hmax) d->hmax = c->h;
        if (c->v > d->vmax) d->vmax = c->v;
    }
    if (d->ncomp == 1) d->c[0].h = d->c[0].v = d->hmax = d->vmax = 1; /* one block an MCU */
    if (d->c[0].h != d->hmax || d->c[0].v != d->vmax) return -1; /* gray would need upsampling */
    d->mcus_x = (d->width + 8 * d->hmax - 1) / (8 * d->hmax);
    d->mcus_y = (d->height + 8 * d->vmax - 1) / (8 * d->vmax);
    for (int i = 0; i < d->ncomp; i++) {
        comp *c = &d->c[i];
        long cw = ((long)d->width * c->h + d->hmax - 1) / d->hmax;
        long ch = ((long)d->height * c->v + d->vmax - 1) / d->vmax;
        c->bw = (int)((cw + 7) / 8);
        c->bh = (int)((ch + 7) / 8);
        c->stride = d->ncomp == 1 ? c->bw : d->mcus_x * c->h;
        c->rows = d->ncomp == 1 ? c->bh : d->mcus_y * c->v;
        for (int k = 0; k < 64; k++) c->coef_bits[k] = -1;
    }
    return 0;
}

/* The colour transform of a 3-component file as libjpeg decides it; 0 unless it is YCbCr. */
static int is_ycbcr(const dec *d) {
    if (d->jfif) return 1;
    if (d->adobe) return d->adobe_transform == 1;
    return d->c[0].id == 1 && d->c[1].id == 2 && d->c[2].id == 3;
}

static int read_sos(dec *d, const uint8_t *p, int len) {
    if (!d->ncomp || len < 1) return -1;
    int n = p[0];
    if (n < 1 || n > d->ncomp || len != 4 + 2 * n) return -1;
    int blocks = 0, slot_used[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        /* libjpeg's rule, quirk included: component ci must match the id and scan slot ci must
         * still be free (so a scan listing Cb before Y is refused). */
        int id = p[1 + 2 * i], ci = -1;
        for (int j = 0; j < d->ncomp && ci < 0; j++)
            if (d->c[j].id == id && !slot_used[j]) ci = j;
        if (ci < 0) return -1;
        for (int j = 0; j < i; j++)
            if (d->sc_comp[j] == ci) return -1;
        slot_used[i] = 1;
        d->sc_comp[i] = ci;
        d->sc_dc[i] = p[2 + 2 * i] >> 4;
        d->sc_ac[i] = p[2 + 2 * i] & 15;
        if (d->sc_dc[i] > 3 || d->sc_ac[i] > 3) return -1;
        blocks += d->c[ci].h * d->c[ci].v;
    }
    if (n > 1 && blocks > MAX_BLOCKS_IN_MCU) return -1;
    d->sc_n = n;
    d->ss = p[1 + 2 * n];
    d->se = p[2 + 2 * n];
    d->ah = p[3 + 2 * n] >> 4;
    d->al = p[3 + 2 * n] & 15;
    if (!d->progressive) {
        /* One scan with every component. */
        if (d->scans > 1 || n != d->ncomp || d->ss != 0 || d->se != 63 || d->ah || d->al) return -1;
    } else {
        if (d->ss == 0 ? d->se != 0 : (d->se < d->ss || d->se > 63 || n != 1)) return -1;
        if (d->ah && d->al != d->ah - 1) return -1;
        if (d->al > 13) return -1;
        for (int i = 0; i < n; i++) {
            int *cb = d->c[d->sc_comp[i]].coef_bits;
            if (d->ss > 0 && cb[0] < 0) return -1; /* AC before DC: libjpeg warns */
            for (int k = d->ss; k <= d->se; k++) {
                if (d->ah != (cb[k] < 0 ? 0 : cb[k])) return -1;
                cb[k] = d->al;
            }
        }
    }
    /* The tables this scan uses must exist (libjpeg would substitute standard ones). */
    for (int i = 0; i < n; i++) {
        int dc_used = !d->progressive || (d->ss == 0 && d->ah == 0);
        int ac_used = !d->progressive || d->ss > 0;
        if (dc_used && !d->dc[d->sc_dc[i]].defined) return -1;
        if (ac_used && (!d->ac[d->sc_ac[i]].defined || d->ac[d->sc_ac[i]].nvals == 0)) return -1;
    }
    /* Quantisation tables are fixed at a component's first scan, as libjpeg does. */
    for (int i = 0; i < n; i++) {
        comp *c = &d->c[d->sc_comp[i]];
        if (c->latched) continue;
        if (!d->qt_defined[c->tq]) return -1;
        memcpy(c->q, d->qt[c->tq], sizeof c->q);
        c->latched = 1;
        if (d->sc_comp[i] == 0) make_weights(d);
    }
    for (int i = 0; i < d->ncomp; i++) d->c[i].dc_pred = 0;
    d->eobrun = 0;
    return 0;
}

/* Examines an APPn segment the way libjpeg does for JFIF (APP0) and Adobe (APP14). */
static int read_app(dec *d, int marker, const uint8_t *p, int len) {
    if (marker == 0xE0 && len >= 14 && !memcmp(p, "JFIF", 5)) {
        if (p[5] != 1) return -1; /* libjpeg warns on an unknown major version */
        d->jfif = 1;
    } else if (marker == 0xEE && len >= 12 && !memcmp(p, "Adobe", 5)) {
        d->adobe = 1;
        d->adobe_transform = p[11];
        if (p[11] > 2) return -1; /* libjpeg warns */
    }
    return 0;
}

/* Allocates the pixels (MCU-padded) and, for progressive files, the coefficients. */
static int frame_alloc(dec *d) {
    /* Reserved in the process's decoding budget first (xc_image_budget_take); over it, the fast
     * path declines and libjpeg's path refuses the file with the message. */
    int64_t need = (int64_t)(d->end - d->buf) + PAD + (int64_t)d->c[0].stride * d->n * d->c[0].rows * d->n;
    for (int i = 0; d->progressive && i < d->ncomp; i++)
        need += (int64_t)d->c[i].stride * d->c[i].rows * (64 * (int64_t)sizeof(int16_t) + (int64_t)sizeof(uint64_t));
    if (xc_image_budget_take("", need) < 0) return -1;
    /* A scan's data is never longer than the file. */
    d->ubuf = malloc((size_t)(d->end - d->buf) + PAD);
    if (!d->ubuf) return -1;
    d->pw = d->c[0].stride * d->n;
    d->pix = malloc((size_t)d->pw * (size_t)(d->c[0].rows * d->n));
    if (!d->pix) return -1;
    if (!d->progressive) return 0;
    for (int i = 0; i < d->ncomp; i++) {
        comp *c = &d->c[i];
        c->coef = calloc((size_t)c->stride * (size_t)c->rows, 64 * sizeof(int16_t));
        c->nz = calloc((size_t)c->stride * (size_t)c->rows, sizeof(uint64_t));
        if (!c->coef || !c->nz) return -1;
    }
    return 0;
}

static void dec_free(dec *d) {
    free(d->pix);
    free(d->ubuf);
    free(d->rst_off);
    free(d->rst_num);
    for (int i = 0; i < 3; i++) free(d->c[i].coef), free(d->c[i].nz);
    free(d);
}

static int run(dec *d, int min_side_hint, const xc_image_limits *limits, int *denom) {
    const uint8_t *p = d->buf + 2;
    int frame_ready = 0;
    for (;;) {
        if (p + 1 >= d->end || p[0] != 0xFF) return -1; /* garbage or the end before EOI */
        while (p < d->end && p[0] == 0xFF) p++; /* fill bytes */
        if (p >= d->end) return -1;
        int m = *p++;
        if (m == 0xD9) break; /* EOI */
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) return -1;
        if (p + 2 > d->end) return -1;
        int len = rd16(p) - 2;
        if (len < 0 || p + 2 + len > d->end) return -1;
        const uint8_t *s = p + 2;
        p = s + len;
        if (m == 0xC0 || m == 0xC1 || m == 0xC2) {
            d->progressive = m == 0xC2;
            if (read_sof(d, s, len, limits) < 0) return -1;
            if (d->ncomp == 3 && !is_ycbcr(d)) return -1;
            unsigned den = xc_image_jpeg_denom((unsigned)d->width, (unsigned)d->height, min_side_hint);
            if (den == 1) return -1; /* full size: libjpeg's own IDCT */
            *denom = (int)den;
            d->n = 8 / (int)den;
            if (frame_alloc(d) < 0) return -1;
            frame_ready = 1;
        } else if (m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
            return -1; /* lossless, hierarchical or arithmetic coding */
        } else if (m == 0xC4) {
            if (read_dht(d, s, len) < 0) return -1;
        } else if (m == 0xDB) {
            if (read_dqt(d, s, len) < 0) return -1;
        } else if (m == 0xDD) {
            if (len != 2) return -1;
            d->restart = rd16(s);
        } else if (m == 0xDA) {
            if (!frame_ready || ++d->scans > xc_jpeg_scan_limit((int64_t)d->width * d->height) || read_sos(d, s, len) < 0) return -1;
            const uint8_t *next = xc_jf_unstuff(d, p);
            if (!next) return -1;
            bits b = {d->ubuf, d->ubuf, 0, 0, 8 * (d->nrst ? d->rst_off[0] : d->ulen)};
            int rc = d->progressive ? xc_jf_decode_progressive(d, &b)
                                    : xc_jf_decode_sequential(d, &b, d->n * d->n);
            if (rc < 0 || xc_jf_bits_finish(&b) < 0 || d->rst_done != d->nrst) return -1;
            p = next;
        } else if ((m >= 0xE0 && m <= 0xEF) || m == 0xFE) {
            if (read_app(d, m, s, len) < 0) return -1;
        } else {
            return -1; /* DNL, DHP, EXP, JPGn, reserved */
        }
    }
    if (!frame_ready || d->scans == 0) return -1;
    if (d->progressive) {
        if (d->c[0].coef_bits[0] < 0) return -1;
        xc_jf_progressive_output(d);
    }
    return 0;
}

static pthread_once_t paths_once = PTHREAD_ONCE_INIT;

/* Once per process: the refinement decoder for this CPU (XRAYCLS_JPEG_PDEP=0 keeps the loop). */
static void choose_paths(void) {
    make_basis();
    const char *e = getenv("XRAYCLS_JPEG_PDEP");
    xc_jf_use_pdep(e ? strcmp(e, "0") != 0 : -1);
}

int xc_image_jpeg_fast_use_pdep(int on) {
    pthread_once(&paths_once, choose_paths);
    return xc_jf_use_pdep(on);
}

int xc_image_decode_jpeg_fast(const uint8_t *buf, size_t len, int min_side_hint,
                              const xc_image_limits *limits, xc_image *out) {
    memset(out, 0, sizeof *out);
    /* (Files over MAX_FILE go to libjpeg: the unstuffed copy would double their memory.) */
    if (len < 4 || len > MAX_FILE || buf[0] != 0xFF || buf[1] != 0xD8 || min_side_hint <= 0) return 0;
    pthread_once(&paths_once, choose_paths);
    dec *d = calloc(1, sizeof *d);
    if (!d) return 0;
    d->buf = buf;
    d->end = buf + len;
    int denom = 1;
    if (run(d, min_side_hint, limits, &denom) < 0) {
        dec_free(d);
        return 0;
    }
    int w = (d->width + denom - 1) / denom, h = (d->height + denom - 1) / denom;
    /* Crop the MCU padding in place: each row moves to a lower address. */
    for (int y = 0; y < h; y++) memmove(d->pix + (size_t)y * w, d->pix + (size_t)y * d->pw, (size_t)w);
    out->pixels = d->pix;
    d->pix = NULL;
    out->width = w;
    out->height = h;
    out->channels = 1;
    out->file_width = d->width;
    out->file_height = d->height;
    out->scale_denom = denom;
    dec_free(d);
    return 1;
}
