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
 * same quantity, and the two agree within a level or two (tests/data/test_image_jpeg_fast.c).
 *
 * Scope, and the rule that keeps it honest: anything this decoder does not handle, and anything
 * that is not exactly well-formed — a bad Huffman code, data running into a marker, extraneous
 * bytes, a restart marker out of sequence, a bogus progression, a JFIF version libjpeg would
 * warn about — makes it return 0 without output, and the caller decodes the file with libjpeg,
 * which then produces the pixels or the error message. So every file is accepted or refused
 * exactly as before; this file only decides how fast. The colour transform of a 3-component
 * file must be known to be YCbCr (then gray is the Y component, as libjpeg gives it). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_internal.h"

#define LOOK 12            /* bits resolved by one table look-up */
#define MAX_SCANS 500      /* as the libjpeg path (image_jpeg.c) */
#define MAX_BLOCKS_IN_MCU 10
#define MAX_FILE ((size_t)128 << 20)

/* Position k of the zigzag order → its index row * 8 + column in the block. */
static const uint8_t zigzag[64] = {
    0,  1,  8,  16, 9,  2,  3,  10, 17, 24, 32, 25, 18, 11, 4,  5,  12, 19, 26, 33, 40, 48,
    41, 34, 27, 20, 13, 6,  7,  14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23,
    30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

/* ---- Huffman tables ----------------------------------------------------------------------- */

/* Tables indexed by the next LOOK bits of the data.
 *   look[]: a symbol — bits 0-4 its code length, 8-15 the symbol; 0: a longer code (maxcode).
 *   fast[] (AC tables only): up to two whole coefficients, or one and the end of block, in one
 *   look-up — bits 0-4 the bits used; VALID; TWO: a second coefficient follows the first; EOBF:
 *   the block ends after the first (or, with a zero value and run, right away); bits 8-11 and
 *   12-15 the zero runs before the first and second, 16-23 and 24-31 their values (int8).
 *   Without VALID: decode through look[]. Most coefficients of a radiograph take a few bits, so
 *   most look-ups yield two of them, and the loop has no branch on which case it got. */
#define VALID 0x20u
#define TWO 0x40u
#define EOBF 0x80u

typedef struct {
    int defined;
    uint8_t counts[17]; /* codes of each length 1..16 */
    uint8_t vals[256];
    int nvals;
    uint16_t look[1 << LOOK];
    uint32_t fast[1 << LOOK];
    int32_t maxcode[17]; /* largest code of each length, -1 when none */
    int32_t valoff[17];  /* vals index of a code of length l: code + valoff[l] */
} huff;

/* The value of the s extra bits v of a coefficient (JPEG's EXTEND: the low half is negative). */
static inline int extend(unsigned v, int s) { return v < (1u << (s - 1)) ? (int)v - (1 << s) + 1 : (int)v; }

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

/* ---- bits --------------------------------------------------------------------------------- */

/* A scan's entropy-coded data is first copied without its byte stuffing (FF 00 → FF) into a
 * buffer followed by PAD zero bytes, noting where each restart marker was (see unstuff). The
 * reader then refills without a branch: eight bytes at a time, however many fit. Reading past
 * the data of the current interval (limit) only ever reads that padding or the next interval,
 * and is caught by OVERRUN after each block or MCU — less than PAD bytes later. */
#define PAD 4096

typedef struct {
    const uint8_t *p, *base; /* next byte to load; the unstuffed data */
    uint64_t acc;            /* nb valid bits, most significant first; the rest zero */
    int nb;
    long limit;              /* bits of data up to the end of the current interval */
} bits;

static inline uint64_t load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return v;
#else
    return __builtin_bswap64(v);
#endif
}

static inline long bits_used(const bits *b) { return 8 * (long)(b->p - b->base) - b->nb; }

#define OVERRUN(b) (bits_used(b) > (b)->limit)

/* At least 56 bits in acc (the branch-free refill of a 64-bit reader). */
static inline void refill(bits *b) {
    b->acc |= load_be64(b->p) >> b->nb;
    b->p += (63 - b->nb) >> 3;
    b->nb |= 56;
}

static inline unsigned get_bits(bits *b, int n) { /* n in 1..16, nb >= n */
    unsigned v = (unsigned)(b->acc >> (64 - n));
    b->acc <<= n;
    b->nb -= n;
    return v;
}

/* Next symbol (nb >= 16), or -1 for a bad code. */
static inline int huff_symbol(bits *b, const huff *h) {
    unsigned e = h->look[b->acc >> (64 - LOOK)];
    if (e) {
        b->acc <<= e & 31;
        b->nb -= (int)(e & 31);
        return (int)(e >> 8);
    }
    for (int l = LOOK + 1; l <= 16; l++) {
        int32_t code = (int32_t)(b->acc >> (64 - l));
        if (code <= h->maxcode[l]) {
            b->acc <<= l;
            b->nb -= l;
            return h->vals[code + h->valoff[l]];
        }
    }
    return -1;
}

/* ---- frame and scan state ----------------------------------------------------------------- */

typedef struct {
    int id, h, v, tq;
    int bw, bh;         /* blocks of the component's own extent */
    int stride, rows;   /* blocks allocated: the MCU-padded grid */
    int latched;        /* quantisation table copied (first scan of the component) */
    uint16_t q[64];     /* zigzag order */
    int16_t *coef;      /* progressive: 64 per block, zigzag order */
    uint64_t *nz;       /* progressive: per block, BIT(k) set when coef[k] != 0 (k >= 1) */
    int dc_pred;
    int coef_bits[64];  /* progressive: successive-approximation state, -1 = never sent */
} comp;

typedef struct {
    const uint8_t *buf, *end;
    int width, height, ncomp, progressive, restart;
    int hmax, vmax, mcus_x, mcus_y;
    comp c[3];
    uint16_t qt[4][64];
    int qt_defined[4];
    huff dc[4], ac[4];
    int jfif, adobe, adobe_transform;
    int n;                 /* output pixels a block side: 8 / denom */
    float w[65][16] __attribute__((aligned(16))); /* component 0: output weights of each
                                                     zigzag coefficient; row 64 and the columns
                                                     past n * n are zero */
    uint8_t need[64];      /* the zigzag positions with a non-zero weight */
    int nneed;
    uint64_t needmask;     /* the same as a mask, position k at bit 63 - k */
    uint8_t *pix;          /* MCU-padded output, stride pw */
    int pw;
    int scans;
    /* the current scan */
    int sc_n, sc_comp[3], sc_dc[3], sc_ac[3], ss, se, ah, al;
    int eobrun;
    /* the current scan's data without stuffing, and its restart markers */
    uint8_t *ubuf;
    long ulen;
    long *rst_off;  /* where interval i + 1 starts in ubuf */
    uint8_t *rst_num; /* the marker's number, 0..7 */
    int nrst, rst_done, rst_cap;
} dec;

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

static inline uint8_t to_pixel(float v) {
    v += 128.5f;
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)(int)v;
}

/* Writes an n x n block of sums (without the +128 level shift) at block (bx, by). */
static inline void put_block(dec *d, int bx, int by, const float *acc) {
    int n = d->n;
    uint8_t *o = d->pix + (size_t)by * n * d->pw + (size_t)bx * n;
    for (int y = 0; y < n; y++, o += d->pw)
        for (int x = 0; x < n; x++) o[x] = to_pixel(acc[y * n + x]);
}

/* ---- sequential scans --------------------------------------------------------------------- */

typedef float v4f __attribute__((vector_size(16)));

/* acc[0 .. 4 * NV) += v * w[k] for the block's output pixels, in registers: a0..a3, or with
 * ACCUMULATE2 a second set b0..b3 (two chains of additions instead of one long one). */
#define ACCUMULATE_INTO(v, k, x0, x1, x2, x3)                                                      \
    do {                                                                                           \
        v4f vv_ = {(float)(v), (float)(v), (float)(v), (float)(v)};                                \
        const v4f *wk_ = (const v4f *)w[k];                                                        \
        x0 += vv_ * wk_[0];                                                                        \
        if (NV > 1) x1 += vv_ * wk_[1], x2 += vv_ * wk_[2], x3 += vv_ * wk_[3];                   \
    } while (0)
#define ACCUMULATE(v, k) ACCUMULATE_INTO(v, k, a0, a1, a2, a3)
#define ACCUMULATE2(v, k) ACCUMULATE_INTO(v, k, b0, b1, b2, b3)

/* One block of a sequential scan; its n x n output sums go to acc (NULL: parse only). 0, or -1
 * when the data is not exactly well-formed. NV (1 or 4) is the number of 4-float vectors that
 * hold the output, a constant in each caller. */
static inline __attribute__((always_inline)) int seq_block(bits *b, const huff *dc, const huff *ac,
                                                           int *pred, const float (*w)[16],
                                                           float *acc, const int NV) {
    refill(b);
    int s = huff_symbol(b, dc);
    if (s < 0) return -1;
    int diff = s ? extend(get_bits(b, s), s) : 0;
    int dcv = *pred + diff;
    if (dcv < -32768 || dcv > 32767) return -1;
    *pred = dcv;
    v4f a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    if (acc) ACCUMULATE(dcv, 0);
    for (int k = 1; k < 64;) {
        refill(b);
        uint32_t e = ac->fast[b->acc >> (64 - LOOK)];
        int v, r1 = (int)(e >> 8) & 15;
        /* (A coefficient at position 63 ends the block: what follows it is the next block's.) */
        /* (Bitwise, not &&: which kind of entry came is as good as random.) */
        if ((int)((e & VALID) != 0) & !((int)((e & (TWO | EOBF)) != 0) & (k + r1 >= 63))) {
            b->acc <<= e & 31;
            b->nb -= (int)(e & 31);
            k += r1;
            if (k > 63) return -1;
            if (acc) ACCUMULATE((int8_t)(e >> 16), k);
            k++;
            if (e & EOBF) break;
            /* The second coefficient, or (no TWO) a zero added at k, which w's padding allows. */
            int two = (int)(e >> 6) & 1, k2 = k + ((int)(e >> 12) & 15);
            if (k2 + two > 64) return -1;
            if (acc) ACCUMULATE2((int8_t)(e >> 24), k2);
            k = k2 + two;
            continue;
        } else {
            int rs = huff_symbol(b, ac);
            if (rs < 0) return -1;
            int r = rs >> 4;
            s = rs & 15;
            if (!s) {
                if (r != 15) break; /* end of block */
                k += 16;
                continue;
            }
            k += r;
            v = extend(get_bits(b, s), s);
        }
        if (k > 63) return -1;
        if (acc) ACCUMULATE(v, k);
        k++;
    }
    if (acc) {
        a0 += b0, a1 += b1, a2 += b2, a3 += b3;
        memcpy(acc, &a0, sizeof a0);
        if (NV > 1) memcpy(acc + 4, &a1, sizeof a1), memcpy(acc + 8, &a2, sizeof a2), memcpy(acc + 12, &a3, sizeof a3);
    }
    return 0;
}

/* Ends an interval of entropy-coded data (scan end or restart): all of it read, up to fewer
 * than 8 padding bits. */
static int bits_finish(const bits *b) {
    long used = bits_used(b);
    return used <= b->limit && used > b->limit - 8 ? 0 : -1;
}

/* At a restart boundary: the expected RSTn, then fresh predictions. */
static int do_restart(dec *d, bits *b, int *next_rst) {
    if (bits_finish(b) < 0 || d->rst_done >= d->nrst || d->rst_num[d->rst_done] != *next_rst) return -1;
    int i = d->rst_done++;
    b->p = b->base + d->rst_off[i];
    b->acc = 0;
    b->nb = 0;
    b->limit = 8 * (long)(i + 1 < d->nrst ? d->rst_off[i + 1] : d->ulen);
    *next_rst = (*next_rst + 1) & 7;
    for (int c = 0; c < d->ncomp; c++) d->c[c].dc_pred = 0;
    d->eobrun = 0;
    return 0;
}

/* Copies the scan's entropy-coded data at src into d->ubuf without stuffing, up to the first
 * marker that is not RSTn, noting each RSTn (its number, and where the next interval starts).
 * Returns where that marker starts, or NULL when the file ends first or holds more restart
 * markers than the scan can have. */
static const uint8_t *unstuff(dec *d, const uint8_t *src) {
    uint8_t *o = d->ubuf;
    d->nrst = d->rst_done = 0;
    for (;;) {
        const uint8_t *ff = memchr(src, 0xFF, (size_t)(d->end - src));
        if (!ff || ff + 1 >= d->end) return NULL;
        memcpy(o, src, (size_t)(ff - src));
        o += ff - src;
        if (ff[1] == 0x00) {
            *o++ = 0xFF;
            src = ff + 2;
        } else if (ff[1] >= 0xD0 && ff[1] <= 0xD7) {
            if (!d->rst_off) { /* each marker takes two bytes of the file */
                d->rst_cap = (int)((d->end - d->buf) / 2 + 1);
                d->rst_off = malloc(sizeof(long) * (size_t)d->rst_cap);
                d->rst_num = malloc((size_t)d->rst_cap);
                if (!d->rst_off || !d->rst_num) return NULL;
            }
            if (d->nrst >= d->rst_cap) return NULL;
            d->rst_off[d->nrst] = (long)(o - d->ubuf);
            d->rst_num[d->nrst++] = ff[1] - 0xD0;
            src = ff + 2;
        } else {
            d->ulen = (long)(o - d->ubuf);
            memset(o, 0, PAD);
            return ff;
        }
    }
}

/* One block, with its pixels computed (Y) or only parsed (chroma); each combination is its own
 * inlined copy of seq_block, with no test of `acc` left inside the coefficient loop. */
#define SEQ_BLOCK(out)                                                                             \
    (out ? (N <= 4 ? seq_block(b, dc, ac, &c->dc_pred, d->w, acc, 1)                              \
                   : seq_block(b, dc, ac, &c->dc_pred, d->w, acc, 4))                             \
         : seq_block(b, dc, ac, &c->dc_pred, d->w, NULL, 1))

static int decode_sequential(dec *d, bits *b, int N) {
    float acc[16];
    int next_rst = 0, count = 0;
    if (d->sc_n == 1) { /* one component (a gray file): its own blocks, one per MCU */
        comp *c = &d->c[d->sc_comp[0]];
        const huff *dc = &d->dc[d->sc_dc[0]], *ac = &d->ac[d->sc_ac[0]];
        int y_out = d->sc_comp[0] == 0;
        for (int by = 0; by < c->bh; by++)
            for (int bx = 0; bx < c->bw; bx++) {
                if (d->restart && count++ == d->restart) {
                    if (do_restart(d, b, &next_rst) < 0) return -1;
                    count = 1;
                }
                if (SEQ_BLOCK(y_out) < 0 || OVERRUN(b)) return -1;
                if (y_out) put_block(d, bx, by, acc);
            }
        return 0;
    }
    for (int my = 0; my < d->mcus_y; my++)
        for (int mx = 0; mx < d->mcus_x; mx++) {
            if (d->restart && count++ == d->restart) {
                if (do_restart(d, b, &next_rst) < 0) return -1;
                count = 1;
            }
            for (int i = 0; i < d->sc_n; i++) {
                comp *c = &d->c[d->sc_comp[i]];
                const huff *dc = &d->dc[d->sc_dc[i]], *ac = &d->ac[d->sc_ac[i]];
                int y_out = d->sc_comp[i] == 0;
                for (int v = 0; v < c->v; v++)
                    for (int h = 0; h < c->h; h++) {
                        if (SEQ_BLOCK(y_out) < 0) return -1;
                        if (y_out) put_block(d, mx * c->h + h, my * c->v + v, acc);
                    }
            }
            if (OVERRUN(b)) return -1;
        }
    return 0;
}

/* ---- progressive scans -------------------------------------------------------------------- */

static int dc_first(dec *d, bits *b, comp *c, const huff *h, int16_t *blk) {
    refill(b);
    int s = huff_symbol(b, h);
    if (s < 0) return -1;
    int diff = s ? extend(get_bits(b, s), s) : 0;
    int v = c->dc_pred + diff;
    if (v < -32768 || v > 32767) return -1;
    c->dc_pred = v;
    long shifted = (long)v * (1L << d->al);
    if (shifted < -32768 || shifted > 32767) return -1;
    blk[0] = (int16_t)shifted;
    return 0;
}

static int dc_refine(dec *d, bits *b, int16_t *blk) {
    refill(b);
    if (get_bits(b, 1)) blk[0] = (int16_t)(blk[0] | (1 << d->al));
    return 0;
}

/* AC scans keep, per block, a mask of its non-zero coefficients, so that refinement scans find
 * their positions with bit operations instead of a walk. Position k is bit 63 - k (BIT(k)):
 * positions in stream order are bits from the top down, which lets pdep (below) hand a run of
 * correction bits to their coefficients in one instruction. */
#define BIT(k) (0x8000000000000000ull >> (k))

static int ac_first(dec *d, bits *b, const huff *h, int16_t *blk, uint64_t *nz) {
    if (d->eobrun > 0) {
        d->eobrun--;
        return 0;
    }
    int al = d->al, se = d->se;
    for (int k = d->ss; k <= se; k++) {
        refill(b);
        uint32_t e = h->fast[b->acc >> (64 - LOOK)];
        int r1 = (int)(e >> 8) & 15;
        /* The two-coefficient table as in seq_block; the values here are scaled by 2^al (and
         * land on zeros: the band has not been sent before, so |= is =). */
        if ((int)((e & VALID) != 0) & (al <= 8) & !((int)((e & (TWO | EOBF)) != 0) & (k + r1 >= se))) {
            b->acc <<= e & 31;
            b->nb -= (int)(e & 31);
            k += r1;
            if (k > se) return -1;
            int v1 = (int8_t)(e >> 16) * (1 << al);
            blk[k] = (int16_t)v1;
            *nz |= BIT(k) & -(uint64_t)(v1 != 0);
            if (e & EOBF) break; /* (a zero value and run: end of block at once) */
            int two = (int)(e >> 6) & 1, k2 = k + 1 + ((int)(e >> 12) & 15);
            if (k2 + two > se + 1) return -1;
            blk[k2 & 63] |= (int16_t)((int8_t)(e >> 24) * (1 << al)); /* no TWO: value 0 */
            *nz |= BIT(k2 & 63) & -(uint64_t)two;
            k = k2 + two - 1;
            continue;
        }
        int rs = huff_symbol(b, h);
        if (rs < 0) return -1;
        int r = rs >> 4, s = rs & 15;
        if (s) {
            k += r;
            if (k > se) return -1;
            long v = (long)extend(get_bits(b, s), s) * (1L << d->al);
            if (v < -32768 || v > 32767) return -1;
            blk[k] = (int16_t)v;
            *nz |= BIT(k);
        } else if (r == 15) {
            k += 15;
        } else {
            d->eobrun = (1 << r) - 1;
            if (r) d->eobrun += (int)get_bits(b, r);
            break;
        }
    }
    return 0;
}

/* Applies a correction bit to a non-zero coefficient (JPEG G.1.2.3: a set bit adds p1 away from
 * zero). Branch-free: the bits are as good as random. x is non-zero: sign is -1 or 1. */
static inline void correct(int16_t *blk, int k, int bit, int p1) {
    int x = blk[k], add = bit & ((x & p1) == 0), sign = (x >> 15) | 1;
    blk[k] = (int16_t)(x + ((sign * p1) & -add));
}

/* Reads one correction bit for each non-zero coefficient in m, in position order. */
static inline void refine_mask(bits *b, int16_t *blk, uint64_t m, int p1) {
    while (m) {
        if (b->nb == 0) refill(b);
        int k = __builtin_clzll(m);
        m ^= BIT(k);
        correct(blk, k, (int)(b->acc >> 63), p1);
        b->acc <<= 1;
        b->nb--;
    }
}

/* The positions of the band [ss, se]. */
static inline uint64_t band_mask(int ss, int se) { return (~0ull >> ss) & (~0ull << (63 - se)); }

/* zrem and nzrem are the zero and non-zero positions of the band not passed yet; each symbol
 * passes r zeros (and the non-zero positions among them, which take correction bits) and stops
 * at the next zero, which takes the new coefficient or ends a run of 16. */
static int ac_refine(dec *d, bits *b, const huff *h, int16_t *blk, uint64_t *nzp) {
    int p1 = 1 << d->al;
    uint64_t nz = *nzp, band = band_mask(d->ss, d->se);
    uint64_t nzrem = nz & band, zrem = ~nz & band;
    if (d->eobrun == 0) {
        while (zrem | nzrem) {
            refill(b);
            int rs = huff_symbol(b, h);
            if (rs < 0) return -1;
            int r = rs >> 4, s = rs & 15, val = 0;
            if (s) {
                if (s != 1) return -1; /* libjpeg warns: bad Huffman code */
                val = get_bits(b, 1) ? p1 : -p1;
            } else if (r != 15) {
                d->eobrun = 1 << r;
                if (r) d->eobrun += (int)get_bits(b, r);
                break;
            }
            for (; r > 0 && zrem; r--) zrem ^= BIT(__builtin_clzll(zrem));
            if (!zrem) { /* the band ends before the stop */
                if (val) return -1;
                refine_mask(b, blk, nzrem, p1);
                nzrem = 0;
                break;
            }
            uint64_t stop = BIT(__builtin_clzll(zrem)), upto = -stop; /* positions <= the stop */
            refine_mask(b, blk, nzrem & upto, p1);
            nzrem &= ~upto;
            zrem &= ~upto;
            if (val) {
                blk[__builtin_clzll(stop)] = (int16_t)val;
                nz |= stop;
            }
        }
    }
    if (d->eobrun > 0) {
        refine_mask(b, blk, nzrem, p1);
        d->eobrun--;
    }
    *nzp = nz;
    return 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_PDEP_PATH 1

/* Whether pdep is a fast instruction here: Intel since Haswell and AMD since Zen 3; earlier AMD
 * cores run it in microcode, slower than the plain loop. */
static int pdep_is_fast(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("bmi2") || !__builtin_cpu_supports("popcnt")) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    if (b == 0x756E6547u) return 1; /* "GenuineIntel" */
    if (b != 0x68747541u) return 0; /* not "AuthenticAMD": unknown, keep the loop */
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    unsigned family = (a >> 8) & 0xF;
    if (family == 0xF) family += (a >> 20) & 0xFF;
    return family >= 0x19;
}

/* Takes the correction bits of the non-zero positions m from the stream and lays them onto
 * their positions (the first bit read goes to the first position: the highest bit of m). */
__attribute__((target("bmi2,popcnt"))) static inline uint64_t take_corrections(bits *b, uint64_t m) {
    int c = __builtin_popcountll(m);
    if (c > b->nb) refill(b); /* nb >= 57 after it; c <= 63 */
    uint64_t got;
    if (c <= b->nb) { /* no branch on c == 0: then m is 0 and so is got */
        got = _pdep_u64((b->acc >> 1) >> (63 - c), m);
        b->acc <<= c;
        b->nb -= c;
    } else { /* more than 57: the first 32, then the rest */
        uint64_t first = m;
        for (int i = 0; i < c - 32; i++) first &= first - 1; /* the top 32 set bits */
        got = _pdep_u64(b->acc >> 32, first);
        b->acc <<= 32;
        b->nb -= 32;
        refill(b);
        int rest = c - 32;
        got |= _pdep_u64(b->acc >> (64 - rest), m & ~first);
        b->acc <<= rest;
        b->nb -= rest;
    }
    return got;
}

/* ac_refine without walks over positions: pdep finds the stop (the r-th zero from the top) and
 * lays the passed coefficients' correction bits onto their positions; the set ones are applied
 * at the end of the block. Same stream, same results as ac_refine. */
__attribute__((target("bmi2,popcnt,lzcnt"))) static int ac_refine_pdep(dec *d, bits *b, const huff *h,
                                                                       int16_t *blk, uint64_t *nzp) {
    int p1 = 1 << d->al;
    uint64_t nz = *nzp, band = band_mask(d->ss, d->se);
    uint64_t nzrem = nz & band, zrem = ~nz & band, add = 0;
    if (d->eobrun == 0) {
        while (zrem | nzrem) {
            refill(b);
            int rs = huff_symbol(b, h);
            if (rs < 0) return -1;
            int r = rs >> 4, s = rs & 15, val = 0;
            if (s) {
                if (s != 1) return -1; /* libjpeg warns: bad Huffman code */
                val = get_bits(b, 1) ? p1 : -p1;
            } else if (r != 15) {
                d->eobrun = 1 << r;
                if (r) d->eobrun += (int)get_bits(b, r);
                break;
            }
            int zeros = __builtin_popcountll(zrem);
            if (zeros <= r) { /* the band ends before the stop */
                if (val) return -1;
                add |= take_corrections(b, nzrem);
                nzrem = 0;
                break;
            }
            uint64_t stop = _pdep_u64(1ull << (zeros - 1 - r), zrem), upto = -stop;
            add |= take_corrections(b, nzrem & upto);
            nzrem &= ~upto;
            zrem &= ~upto;
            blk[__builtin_clzll(stop)] = (int16_t)val; /* 0 after a run of 16: stays zero */
            nz |= stop & -(uint64_t)(val != 0);
        }
    }
    if (d->eobrun > 0) {
        add |= take_corrections(b, nzrem);
        d->eobrun--;
    }
    while (add) {
        int k = __builtin_clzll(add);
        add ^= BIT(k);
        correct(blk, k, 1, p1);
    }
    *nzp = nz;
    return 0;
}
#endif

static int (*ac_refine_fn)(dec *, bits *, const huff *, int16_t *, uint64_t *) = ac_refine;

static int prog_block(dec *d, bits *b, int ci, int hi, size_t at) {
    comp *c = &d->c[ci];
    int16_t *blk = c->coef + at * 64;
    if (d->ss == 0) return d->ah == 0 ? dc_first(d, b, c, &d->dc[d->sc_dc[hi]], blk) : dc_refine(d, b, blk);
    const huff *h = &d->ac[d->sc_ac[hi]];
    return d->ah == 0 ? ac_first(d, b, h, blk, &c->nz[at]) : ac_refine_fn(d, b, h, blk, &c->nz[at]);
}

static int decode_progressive(dec *d, bits *b) {
    int next_rst = 0, count = 0;
    if (d->sc_n == 1) {
        int ci = d->sc_comp[0];
        comp *c = &d->c[ci];
        for (int by = 0; by < c->bh; by++)
            for (int bx = 0; bx < c->bw; bx++) {
                if (d->restart && count++ == d->restart) {
                    if (do_restart(d, b, &next_rst) < 0) return -1;
                    count = 1;
                }
                if (prog_block(d, b, ci, 0, (size_t)by * c->stride + bx) < 0) return -1;
                if (OVERRUN(b)) return -1;
            }
        return 0;
    }
    for (int my = 0; my < d->mcus_y; my++)
        for (int mx = 0; mx < d->mcus_x; mx++) {
            if (d->restart && count++ == d->restart) {
                if (do_restart(d, b, &next_rst) < 0) return -1;
                count = 1;
            }
            for (int i = 0; i < d->sc_n; i++) {
                int ci = d->sc_comp[i];
                comp *c = &d->c[ci];
                for (int v = 0; v < c->v; v++)
                    for (int h = 0; h < c->h; h++) {
                        size_t at = (size_t)(my * c->v + v) * c->stride + (size_t)(mx * c->h + h);
                        if (prog_block(d, b, ci, i, at) < 0) return -1;
                    }
            }
            if (OVERRUN(b)) return -1;
        }
    return 0;
}

/* After the last scan: component 0's coefficients to pixels (only those that reach the output). */
static void progressive_output(dec *d) {
    comp *c = &d->c[0];
    const float(*w)[16] = d->w;
    float acc[16];
    for (int by = 0; by < c->rows; by++)
        for (int bx = 0; bx < c->stride; bx++) {
            const int16_t *blk = c->coef + ((size_t)by * c->stride + bx) * 64;
            v4f a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
            /* The DC and the non-zero coefficients that reach the output. */
            uint64_t m = (c->nz[(size_t)by * c->stride + bx] | BIT(0)) & d->needmask;
            if (d->n < 4) {
                const int NV = 1;
                for (; m; m ^= BIT(__builtin_clzll(m))) ACCUMULATE(blk[__builtin_clzll(m)], __builtin_clzll(m));
            } else {
                const int NV = 4;
                for (; m; m ^= BIT(__builtin_clzll(m))) ACCUMULATE(blk[__builtin_clzll(m)], __builtin_clzll(m));
            }
            memcpy(acc, &a0, sizeof a0);
            memcpy(acc + 4, &a1, sizeof a1), memcpy(acc + 8, &a2, sizeof a2), memcpy(acc + 12, &a3, sizeof a3);
            put_block(d, bx, by, acc);
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
            unsigned den = 1;
            if (min_side_hint > 0)
                for (unsigned t = 8; t > 1; t /= 2)
                    if ((unsigned)d->width >= t * (unsigned)min_side_hint &&
                        (unsigned)d->height >= t * (unsigned)min_side_hint) {
                        den = t;
                        break;
                    }
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
            if (!frame_ready || ++d->scans > MAX_SCANS || read_sos(d, s, len) < 0) return -1;
            const uint8_t *next = unstuff(d, p);
            if (!next) return -1;
            bits b = {d->ubuf, d->ubuf, 0, 0, 8 * (d->nrst ? d->rst_off[0] : d->ulen)};
            int rc = d->progressive ? decode_progressive(d, &b)
                                    : decode_sequential(d, &b, d->n * d->n);
            if (rc < 0 || bits_finish(&b) < 0 || d->rst_done != d->nrst) return -1;
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
        progressive_output(d);
    }
    return 0;
}

static pthread_once_t paths_once = PTHREAD_ONCE_INIT;

/* Once per process: the refinement decoder for this CPU (XRAYCLS_JPEG_PDEP=0 keeps the loop). */
static void choose_paths(void) {
    make_basis();
#ifdef HAVE_PDEP_PATH
    const char *e = getenv("XRAYCLS_JPEG_PDEP");
    if (e ? strcmp(e, "0") != 0 : pdep_is_fast()) ac_refine_fn = ac_refine_pdep;
#endif
}

int xc_image_jpeg_fast_use_pdep(int on) {
    pthread_once(&paths_once, choose_paths);
#ifdef HAVE_PDEP_PATH
    if (on && !(__builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))) return 0;
    ac_refine_fn = on ? ac_refine_pdep : ac_refine;
    return 1;
#else
    return !on;
#endif
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
