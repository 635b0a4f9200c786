/* image_jpeg_fast.c — a downscaling JPEG decoder for the common case: 8-bit Huffman-coded
 * baseline or progressive files, decoded to gray at 1/2, 1/4 or 1/8 scale.
 *
 * Why: prepare spends nearly all its time here, and at those scales libjpeg-turbo still builds
 * every coefficient of every block, then runs an IDCT per block and a colour pass. This decoder
 * reads the entropy-coded data with one table look-up per coefficient in the usual case (the
 * code and its extra bits together), never stores a sequential file's coefficients, and turns
 * each one, as it is read, into its share of the block's n x n output pixels (n = 8 / scale).
 * Progressive files keep their coefficients (refinement scans need them) and are reduced once
 * at the end.
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

#define LOOK 10            /* bits resolved by one table look-up */
#define MAX_SCANS 500      /* as the libjpeg path (image_jpeg.c) */
#define MAX_BLOCKS_IN_MCU 10

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

static int extend_bits(int extra, int s) { return extra < (1 << (s - 1)) ? extra - (1 << s) + 1 : extra; }

/* The fast[] entry for the LOOK bits `at` of an AC table whose look[] is complete. */
static uint32_t fast_entry(const huff *h, uint32_t at) {
    unsigned e1 = h->look[at];
    if (!e1) return 0;
    int l1 = (int)(e1 & 31), sym1 = (int)(e1 >> 8), r1 = sym1 >> 4, s1 = sym1 & 15;
    if (sym1 == 0) return VALID | EOBF | (uint32_t)l1;
    if (!s1 || s1 > 7 || l1 + s1 > LOOK) return 0; /* ZRL, a large value, or bits beyond */
    int used = l1 + s1, v1 = extend_bits((int)(at >> (LOOK - used)) & ((1 << s1) - 1), s1);
    uint32_t one = (uint32_t)(uint8_t)(int8_t)v1 << 16 | (uint32_t)r1 << 8 | VALID | (uint32_t)used;
    /* A second symbol entirely within the remaining bits? */
    unsigned e2 = h->look[(at << used) & ((1u << LOOK) - 1)];
    int l2 = (int)(e2 & 31), sym2 = (int)(e2 >> 8), r2 = sym2 >> 4, s2 = sym2 & 15;
    if (!e2 || used + l2 > LOOK) return one;
    if (sym2 == 0) return (one & ~31u) | EOBF | (uint32_t)(used + l2);
    if (!s2 || s2 > 7 || used + l2 + s2 > LOOK) return one;
    int all = used + l2 + s2;
    int v2 = extend_bits((int)(at >> (LOOK - all)) & ((1 << s2) - 1), s2);
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

typedef struct {
    const uint8_t *p, *end; /* next byte of entropy-coded data; stops at a marker */
    uint64_t acc;           /* nb valid bits, most significant first */
    int nb;
    int phantom; /* zero bits appended after a marker or the end: reading them is corrupt data */
} bits;

static void bits_start(bits *b, const uint8_t *p, const uint8_t *end) {
    b->p = p;
    b->end = end;
    b->acc = 0;
    b->nb = 0;
    b->phantom = 0;
}

static inline uint64_t load_be64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return __builtin_bswap64(v);
}

/* At least 57 bits in acc. Eight plain bytes at once when none of them is 0xFF; otherwise one
 * byte at a time, unstuffing FF 00 and stopping at a marker (zero bits are counted in phantom). */
static void refill_slow(bits *b) {
    while (b->nb <= 56) {
        unsigned byte = 0;
        if (b->phantom == 0 && b->p < b->end) {
            byte = b->p[0];
            if (byte != 0xFF) {
                b->p++;
            } else if (b->p + 1 < b->end && b->p[1] == 0x00) {
                b->p += 2;
            } else {
                byte = 0;
                b->phantom += 8; /* a marker (or FF at the very end): data ends here */
            }
        } else {
            b->phantom += 8;
        }
        b->acc |= (uint64_t)byte << (56 - b->nb);
        b->nb += 8;
    }
}

static inline void refill(bits *b) {
    if (b->nb > 56) return;
    if (b->phantom == 0 && b->end - b->p >= 8) {
        uint64_t w = load_be64(b->p);
        uint64_t nw = ~w;
        if (!((nw - 0x0101010101010101ull) & ~nw & 0x8080808080808080ull)) { /* no 0xFF byte */
            int k = (64 - b->nb) >> 3;
            b->acc |= (k == 8 ? w : (w >> (64 - 8 * k))) << (64 - b->nb - 8 * k);
            b->p += k;
            b->nb += 8 * k;
            return;
        }
    }
    refill_slow(b);
}

static inline unsigned get_bits(bits *b, int n) { /* n in 1..16, nb >= n */
    unsigned v = (unsigned)(b->acc >> (64 - n));
    b->acc <<= n;
    b->nb -= n;
    return v;
}

static inline int extend(unsigned v, int s) { return v < (1u << (s - 1)) ? (int)v - (1 << s) + 1 : (int)v; }

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
    uint64_t *nz;       /* progressive: per block, bit k set when coef[k] != 0 (k >= 1) */
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
    uint8_t *pix;          /* MCU-padded output, stride pw */
    int pw;
    int scans;
    /* the current scan */
    int sc_n, sc_comp[3], sc_dc[3], sc_ac[3], ss, se, ah, al;
    int eobrun;
} dec;

/* The mean over output pixel g (d of the 8 pixels of a block side) of the 1-D IDCT basis u,
 * with its normalisation C(u) / 2. */
static double basis_mean(int g, int d, int u) {
    double cu = u == 0 ? sqrt(0.5) : 1.0, sum = 0.0;
    for (int x = g * d; x < g * d + d; x++) sum += cos((2 * x + 1) * u * M_PI / 16.0);
    return cu / 2.0 * sum / d;
}

static void make_weights(dec *d) {
    int n = d->n, den = 8 / n;
    const uint16_t *q = d->c[0].q;
    for (int k = 0; k < 64; k++) {
        int v = zigzag[k] / 8, u = zigzag[k] % 8;
        for (int gy = 0; gy < n; gy++)
            for (int gx = 0; gx < n; gx++) {
                double wt = q[k] * basis_mean(gy, den, v) * basis_mean(gx, den, u);
                d->w[k][gy * n + gx] = fabs(wt) < 1e-9 ? 0.0f : (float)wt;
            }
    }
    d->nneed = 0;
    for (int k = 0; k < 64; k++) {
        int any = 0;
        for (int i = 0; i < n * n; i++) any |= d->w[k][i] != 0.0f;
        if (any) d->need[d->nneed++] = (uint8_t)k;
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
        if (b->nb < 32) refill(b);
        uint32_t e = ac->fast[b->acc >> (64 - LOOK)];
        int v, r1 = (int)(e >> 8) & 15;
        /* (A coefficient at position 63 ends the block: what follows it is the next block's.) */
        if ((e & VALID) && !((e & (TWO | EOBF)) && k + r1 >= 63)) {
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

/* Ends a stretch of entropy-coded data (scan end or restart): only padding may be left. */
static int bits_finish(bits *b) {
    if (b->phantom > b->nb) return -1;     /* read past the data */
    if (b->nb - b->phantom >= 8) return -1; /* a whole unused byte: extraneous data */
    if (b->phantom == 0 && (b->p >= b->end || b->p[0] != 0xFF)) return -1;
    return 0;
}

/* At a restart boundary: the expected RSTn, then fresh predictions. */
static int do_restart(dec *d, bits *b, int *next_rst) {
    if (bits_finish(b) < 0) return -1;
    const uint8_t *p = b->p;
    if (p + 1 >= d->end || p[0] != 0xFF || p[1] != 0xD0 + *next_rst) return -1;
    bits_start(b, p + 2, d->end);
    *next_rst = (*next_rst + 1) & 7;
    for (int i = 0; i < d->ncomp; i++) d->c[i].dc_pred = 0;
    d->eobrun = 0;
    return 0;
}

static int decode_sequential(dec *d, bits *b, int N) {
    float acc[16];
    int next_rst = 0, count = 0;
    if (d->sc_n == 1) { /* one component: its own blocks, one per MCU */
        comp *c = &d->c[d->sc_comp[0]];
        const huff *dc = &d->dc[d->sc_dc[0]], *ac = &d->ac[d->sc_ac[0]];
        int y_out = d->sc_comp[0] == 0;
        for (int by = 0; by < c->bh; by++)
            for (int bx = 0; bx < c->bw; bx++) {
                if (d->restart && count++ == d->restart) {
                    if (do_restart(d, b, &next_rst) < 0) return -1;
                    count = 1;
                }
                int rc;
                if (N <= 4) rc = seq_block(b, dc, ac, &c->dc_pred, d->w, y_out ? acc : NULL, 1);
                else rc = seq_block(b, dc, ac, &c->dc_pred, d->w, y_out ? acc : NULL, 4);
                if (rc < 0 || b->phantom > b->nb) return -1;
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
                        int rc;
                        float *a = y_out ? acc : NULL;
                        if (N <= 4) rc = seq_block(b, dc, ac, &c->dc_pred, d->w, a, 1);
                        else rc = seq_block(b, dc, ac, &c->dc_pred, d->w, a, 4);
                        if (rc < 0) return -1;
                        if (y_out) put_block(d, mx * c->h + h, my * c->v + v, acc);
                    }
            }
            if (b->phantom > b->nb) return -1;
        }
    return 0;
}

/* ---- progressive scans -------------------------------------------------------------------- */

static int dc_first(dec *d, bits *b, comp *c, const huff *h, int16_t *blk) {
    (void)d;
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

/* AC scans keep, per block, a mask of its non-zero coefficients (bit k: zigzag position k), so
 * that refinement scans find their positions with bit operations instead of a walk. */
static int ac_first(dec *d, bits *b, const huff *h, int16_t *blk, uint64_t *nz) {
    if (d->eobrun > 0) {
        d->eobrun--;
        return 0;
    }
    for (int k = d->ss; k <= d->se; k++) {
        refill(b);
        int rs = huff_symbol(b, h);
        if (rs < 0) return -1;
        int r = rs >> 4, s = rs & 15;
        if (s) {
            k += r;
            if (k > d->se) return -1;
            long v = (long)extend(get_bits(b, s), s) * (1L << d->al);
            if (v < -32768 || v > 32767) return -1;
            blk[k] = (int16_t)v;
            *nz |= 1ull << k;
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

/* Reads one correction bit for each non-zero coefficient in mask m (ascending positions) and
 * applies it (JPEG G.1.2.3: a set bit adds p1 away from zero). */
static inline void refine_mask(bits *b, int16_t *blk, uint64_t m, int p1) {
    while (m) {
        if (b->nb == 0) refill(b);
        int k = __builtin_ctzll(m), bit = (int)(b->acc >> 63);
        m &= m - 1;
        b->acc <<= 1;
        b->nb--;
        /* Branch-free: the bits are as good as random. x is non-zero: sign is -1 or 1. */
        int x = blk[k], add = bit & ((x & p1) == 0), sign = (x >> 15) | 1;
        blk[k] = (int16_t)(x + ((sign * p1) & -add));
    }
}

/* select_in_byte[r << 8 | b]: the position of the r-th (from 0) set bit of byte b. */
static uint8_t select_in_byte[8 << 8];

static void select_init(void) {
    for (int r = 0; r < 8; r++)
        for (int b = 0; b < 256; b++) {
            int seen = 0, pos = 0;
            for (int i = 0; i < 8; i++)
                if (b >> i & 1) {
                    if (seen++ == r) {
                        pos = i;
                        break;
                    }
                }
            select_in_byte[r << 8 | b] = (uint8_t)pos;
        }
}

/* The position of the r-th (from 0) set bit of x, or -1 when x has r set bits or fewer. No
 * popcount instruction (not in baseline x86-64) and one predictable branch: a broadword select,
 * byte prefix counts by multiplication, then a table for the byte. */
static inline int select64(uint64_t x, int r) {
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t c = x - ((x >> 1) & 0x5555555555555555ull);
    c = (c & 0x3333333333333333ull) + ((c >> 2) & 0x3333333333333333ull);
    c = ((c + (c >> 4)) & 0x0F0F0F0F0F0F0F0Full) * ones; /* byte i: set bits in bytes 0..i */
    if ((int)(c >> 56) <= r) return -1;
    uint64_t le = ((((uint64_t)r * ones) | highs) - c) & highs; /* bytes whose count <= r */
    int place = (int)((((le >> 7) * ones) >> 56) * 8);
    int rank = r - (int)(((c << 8) >> place) & 0xFF);
    return place + select_in_byte[rank << 8 | (int)((x >> place) & 0xFF)];
}

/* The mask of positions >= k (k in 0..64). */
static inline uint64_t from_pos(int k) { return k >= 64 ? 0 : ~0ull << k; }

/* zrem and nzrem are the zero and non-zero positions of the band not passed yet; each symbol
 * passes r zeros (and the non-zero positions among them, which take correction bits) and stops
 * at the next zero, which takes the new coefficient or ends a run of 16. */
static int ac_refine(dec *d, bits *b, const huff *h, int16_t *blk, uint64_t *nzp) {
    int p1 = 1 << d->al;
    uint64_t nz = *nzp, band = from_pos(d->ss) & ~from_pos(d->se + 1);
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
            for (; r > 0 && zrem; r--) zrem &= zrem - 1;
            if (!zrem) { /* the band ends before the stop */
                if (val) return -1;
                refine_mask(b, blk, nzrem, p1);
                nzrem = 0;
                break;
            }
            uint64_t upto = zrem ^ (zrem - 1); /* positions up to the stop, inclusive */
            refine_mask(b, blk, nzrem & upto, p1);
            nzrem &= ~upto;
            if (val) {
                int t = __builtin_ctzll(zrem);
                blk[t] = (int16_t)val;
                nz |= 1ull << t;
            }
            zrem &= ~upto;
        }
    }
    if (d->eobrun > 0) {
        refine_mask(b, blk, nzrem, p1);
        d->eobrun--;
    }
    *nzp = nz;
    return 0;
}

static int prog_block(dec *d, bits *b, int ci, int hi, size_t at) {
    comp *c = &d->c[ci];
    int16_t *blk = c->coef + at * 64;
    if (d->ss == 0) return d->ah == 0 ? dc_first(d, b, c, &d->dc[d->sc_dc[hi]], blk) : dc_refine(d, b, blk);
    const huff *h = &d->ac[d->sc_ac[hi]];
    return d->ah == 0 ? ac_first(d, b, h, blk, &c->nz[at]) : ac_refine(d, b, h, blk, &c->nz[at]);
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
                if (b->phantom > b->nb) return -1;
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
            if (b->phantom > b->nb) return -1;
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
            if (d->n < 4) {
                const int NV = 1;
                for (int i = 0; i < d->nneed; i++) ACCUMULATE(blk[d->need[i]], d->need[i]);
            } else {
                const int NV = 4;
                for (int i = 0; i < d->nneed; i++) ACCUMULATE(blk[d->need[i]], d->need[i]);
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
            bits b;
            bits_start(&b, p, d->end);
            int rc = d->progressive ? decode_progressive(d, &b)
                                    : decode_sequential(d, &b, d->n * d->n);
            if (rc < 0 || bits_finish(&b) < 0) return -1;
            p = b.p;
            if (b.phantom == 0) { /* the scan's last byte was read: p is at its marker */
                if (p >= d->end || p[0] != 0xFF) return -1;
            }
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

int xc_image_decode_jpeg_fast(const uint8_t *buf, size_t len, int min_side_hint,
                              const xc_image_limits *limits, xc_image *out) {
    memset(out, 0, sizeof *out);
    if (len < 4 || buf[0] != 0xFF || buf[1] != 0xD8 || min_side_hint <= 0) return 0;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, select_init);
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
