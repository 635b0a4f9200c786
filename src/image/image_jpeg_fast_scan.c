/* image_jpeg_fast_scan.c — the entropy-coded data of the fast JPEG path (image_jpeg_fast.h):
 * sequential scans turned straight into reduced pixels, progressive scans into coefficients
 * (with the refinement decoders: pdep where fast, a portable loop elsewhere) and those into
 * pixels at the end; restart intervals and the unstuffed copy of a scan's data. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image_jpeg_fast.h"

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
int xc_jf_bits_finish(const bits *b) {
    long used = bits_used(b);
    return used <= b->limit && used > b->limit - 8 ? 0 : -1;
}

/* At a restart boundary: the expected RSTn, then fresh predictions. */
static int do_restart(dec *d, bits *b, int *next_rst) {
    if (xc_jf_bits_finish(b) < 0 || d->rst_done >= d->nrst || d->rst_num[d->rst_done] != *next_rst) return -1;
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
const uint8_t *xc_jf_unstuff(dec *d, const uint8_t *src) {
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

int xc_jf_decode_sequential(dec *d, bits *b, int N) {
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

/* The next symbol of an AC refinement scan: 1 with the zero run *r and the new coefficient *val
 * (+-p1, or 0 for a run of 16 zeros), 0 at an end-of-band run (d->eobrun set), -1 for bad data. */
static inline int refine_symbol(dec *d, bits *b, const huff *h, int p1, int *r, int *val) {
    refill(b);
    int rs = huff_symbol(b, h);
    if (rs < 0) return -1;
    int s = rs & 15;
    *r = rs >> 4;
    *val = 0;
    if (s) {
        if (s != 1) return -1; /* libjpeg warns: bad Huffman code */
        *val = get_bits(b, 1) ? p1 : -p1;
    } else if (*r != 15) {
        d->eobrun = 1 << *r;
        if (*r) d->eobrun += (int)get_bits(b, *r);
        return 0;
    }
    return 1;
}

/* zrem and nzrem are the zero and non-zero positions of the band not passed yet; each symbol
 * passes r zeros (and the non-zero positions among them, which take correction bits) and stops
 * at the next zero, which takes the new coefficient or ends a run of 16. */
static int ac_refine(dec *d, bits *b, const huff *h, int16_t *blk, uint64_t *nzp) {
    int p1 = 1 << d->al;
    uint64_t nz = *nzp, band = band_mask(d->ss, d->se);
    uint64_t nzrem = nz & band, zrem = ~nz & band;
    if (d->eobrun == 0) {
        while (zrem | nzrem) {
            int r, val, got = refine_symbol(d, b, h, p1, &r, &val);
            if (got < 0) return -1;
            if (!got) break;
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
            int r, val, got = refine_symbol(d, b, h, p1, &r, &val);
            if (got < 0) return -1;
            if (!got) break;
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

int xc_jf_decode_progressive(dec *d, bits *b) {
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
void xc_jf_progressive_output(dec *d) {
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

int xc_jf_use_pdep(int on) {
#ifdef HAVE_PDEP_PATH
    if (on < 0) on = pdep_is_fast();
    if (on && !(__builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt"))) return 0;
    ac_refine_fn = on ? ac_refine_pdep : ac_refine;
    return 1;
#else
    return on <= 0;
#endif
}
