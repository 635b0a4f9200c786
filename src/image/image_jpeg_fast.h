/* image_jpeg_fast.h — what the two files of the fast JPEG path share, and nothing else
 * includes (see image_jpeg_fast.c for what the path is and when it declines):
 *   image_jpeg_fast.c       markers and tables, the frame, the reduction weights, the driver;
 *   image_jpeg_fast_scan.c  the entropy-coded data: sequential and progressive scans, the
 *                           refinement decoders, and turning coefficients into pixels.
 * The bit reader and the Huffman look-up are here, inline: the scan loops run on them. */
#ifndef XRAYCLS_IMAGE_JPEG_FAST_H
#define XRAYCLS_IMAGE_JPEG_FAST_H

#include <stdint.h>
#include <string.h>

#include "image_internal.h"

#define LOOK 12 /* bits resolved by one table look-up */

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

/* A scan's entropy-coded data is first copied without its byte stuffing (FF 00 → FF) into a
 * buffer followed by PAD zero bytes, noting where each restart marker was (xc_jf_unstuff). The
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

/* Position k of a block's zigzag order as a bit of a 64-bit mask (bit 63 - k): positions in
 * stream order are bits from the top down. */
#define BIT(k) (0x8000000000000000ull >> (k))

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

/* ---- image_jpeg_fast_scan.c --------------------------------------------------------------- */

/* Copies the scan's entropy-coded data at src into d->ubuf without stuffing, up to the first
 * marker that is not RSTn, noting each RSTn. Returns where that marker starts, or NULL when the
 * file ends first or a buffer cannot be had. */
const uint8_t *xc_jf_unstuff(dec *d, const uint8_t *src);
/* Decodes the current scan (d->sc_*) from b: sequential (N = n * n output pixels a block) into
 * d->pix, or progressive into the components' coefficients. 0, or -1 for anything not exactly
 * well-formed. */
int xc_jf_decode_sequential(dec *d, bits *b, int N);
int xc_jf_decode_progressive(dec *d, bits *b);
/* 0 when all of the last interval was read, up to fewer than 8 padding bits. */
int xc_jf_bits_finish(const bits *b);
/* After the last scan of a progressive file: component 0's coefficients to d->pix. */
void xc_jf_progressive_output(dec *d);
/* The refinement decoder: 1 pdep, 0 the portable loop, -1 pdep where it is fast. Returns 1 when
 * the choice took effect. Not thread-safe: called once (and by tests). */
int xc_jf_use_pdep(int on);

#endif
