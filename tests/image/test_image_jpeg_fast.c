/* test_image_jpeg_fast.c — the fast JPEG path (src/image/image_jpeg_fast.c) against libjpeg.
 *
 * Files are encoded here with libjpeg in every coding the fast path claims (baseline and
 * progressive; gray and YCbCr with 4:4:4, 4:2:2, 4:2:0 sampling; restart intervals; odd sizes)
 * and decoded both ways at 1/2, 1/4 and 1/8 scale: same geometry, pixels within a level or two.
 * Codings it must leave to libjpeg (RGB without a transform, CMYK, arithmetic coding, full
 * size) must come back as "not mine". Then the rule that keeps it safe: over many damaged
 * files, whenever the fast path accepts one, libjpeg (warnings as errors) accepts it too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "../../src/image/image_internal.h"
#include "check.h"
#include "test_image_util.h"

typedef struct {
    int w, h, comps;         /* comps 1 (gray), 3 (YCbCr from RGB), 4 (CMYK) */
    int hs, vs;              /* luma sampling factors (chroma 1x1) */
    int progressive, restart, quality, arith, rgb_no_transform;
} enc_opts;

static uint32_t lcg_state = 12345;
static uint32_t lcg(void) {
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

/* Chest-film-like content: smooth shading, an ellipse edge, stripes and grain. */
static uint8_t *make_pixels(int w, int h, int c) {
    uint8_t *p = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double u = (double)x / w - 0.5, v = (double)y / h - 0.5;
            int base = 60 + (int)(100 * (u * u + v * v < 0.12)) + (int)(40 * (y % 23 < 3)) +
                       (int)(lcg() % 25);
            for (int k = 0; k < c; k++) {
                int val = base + k * 20 - (int)(30 * u * k);
                p[((size_t)y * w + x) * c + k] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
            }
        }
    return p;
}

static unsigned char *encode(const enc_opts *o, unsigned long *len) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr err;
    ci.err = jpeg_std_error(&err);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    *len = 0;
    jpeg_mem_dest(&ci, &out, len);
    int in_c = o->comps == 1 ? 1 : o->comps == 4 ? 4 : 3;
    ci.image_width = (JDIMENSION)o->w;
    ci.image_height = (JDIMENSION)o->h;
    ci.input_components = in_c;
    ci.in_color_space = in_c == 1 ? JCS_GRAYSCALE : in_c == 4 ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&ci);
    if (o->rgb_no_transform) jpeg_set_colorspace(&ci, JCS_RGB);
    jpeg_set_quality(&ci, o->quality ? o->quality : 90, TRUE);
    if (o->comps == 3 && !o->rgb_no_transform) {
        ci.comp_info[0].h_samp_factor = o->hs;
        ci.comp_info[0].v_samp_factor = o->vs;
        ci.comp_info[1].h_samp_factor = ci.comp_info[1].v_samp_factor = 1;
        ci.comp_info[2].h_samp_factor = ci.comp_info[2].v_samp_factor = 1;
    }
    ci.restart_interval = (unsigned)o->restart;
    ci.arith_code = o->arith ? TRUE : FALSE;
    if (o->progressive) jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    uint8_t *px = make_pixels(o->w, o->h, in_c);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = px + (size_t)ci.next_scanline * o->w * in_c;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(px);
    return out;
}

/* Decodes buf both ways; 1 when the fast path took it (and then compares), 0 when it declined. */
static int compare(const char *name, const unsigned char *buf, unsigned long len, int hint,
                   double max_mean, int max_diff) {
    xc_image_limits lim = xc_image_limits_default();
    xc_image f, l;
    int took = xc_image_decode_jpeg_fast(buf, len, hint, &lim, &f);
    if (!took) {
        CHECK_MSG(f.pixels == NULL, "%s: declined but left pixels", name);
        return 0;
    }
    int rc = xc_image_decode_libjpeg(buf, len, name, 1, hint, &lim, &l);
    CHECK_MSG(rc == 0, "%s: fast path accepted what libjpeg refuses: %s", name, xc_error());
    if (rc == 0) {
        CHECK_MSG(f.width == l.width && f.height == l.height && f.channels == 1 &&
                      f.scale_denom == l.scale_denom && f.file_width == l.file_width &&
                      f.file_height == l.file_height,
                  "%s: %dx%d/%d vs libjpeg %dx%d/%d", name, f.width, f.height, f.scale_denom,
                  l.width, l.height, l.scale_denom);
        if (f.width == l.width && f.height == l.height) {
            int maxd;
            double md = tu_mean_absdiff(f.pixels, l.pixels, (size_t)f.width * f.height, &maxd);
            CHECK_MSG(md <= max_mean && maxd <= max_diff, "%s: mean diff %.3f, max %d", name, md, maxd);
        }
        xc_image_free(&l);
    }
    xc_image_free(&f);
    return 1;
}

static void test_codings(void) {
    static const int sizes[][2] = {{1001, 757}, {640, 480}, {452, 1203}, {97, 61}};
    static const int samp[][3] = {{1, 1, 1}, {3, 1, 1}, {3, 2, 1}, {3, 2, 2}, {3, 1, 2}};
    int cases = 0;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t ss = 0; ss < sizeof samp / sizeof samp[0]; ss++)
            for (int prog = 0; prog <= 1; prog++)
                for (int rst = 0; rst <= 7; rst += 7) {
                    enc_opts o = {sizes[si][0], sizes[si][1], samp[ss][0], samp[ss][1], samp[ss][2],
                                  prog, rst, 85, 0, 0};
                    unsigned long len;
                    unsigned char *buf = encode(&o, &len);
                    int side = o.w < o.h ? o.w : o.h;
                    for (int den = 2; den <= 8; den *= 2) {
                        char name[128];
                        snprintf(name, sizeof name, "%dx%d c%d %dx%d prog %d rst %d 1/%d", o.w, o.h,
                                 o.comps, o.hs, o.vs, prog, rst, den);
                        int hint = side / den; /* the largest hint that still allows 1/den */
                        if (hint < 1) continue;
                        int took = compare(name, buf, len, hint, 0.25, 3);
                        CHECK_MSG(took, "%s: fast path declined", name);
                        cases += took;
                    }
                    /* Full size is libjpeg's. */
                    xc_image_limits lim = xc_image_limits_default();
                    xc_image f;
                    CHECK(xc_image_decode_jpeg_fast(buf, len, side, &lim, &f) == 0);
                    free(buf);
                }
    CHECK(cases > 100);
}

static void test_declined(void) {
    xc_image_limits lim = xc_image_limits_default();
    const enc_opts variants[] = {
        {320, 240, 3, 1, 1, 0, 0, 90, 0, 1}, /* RGB stored without a colour transform */
        {320, 240, 4, 1, 1, 0, 0, 90, 0, 0}, /* CMYK */
        {320, 240, 1, 1, 1, 0, 0, 90, 1, 0}, /* arithmetic coding */
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        unsigned long len;
        unsigned char *buf = encode(&variants[i], &len);
        xc_image f;
        CHECK_MSG(xc_image_decode_jpeg_fast(buf, len, 40, &lim, &f) == 0, "variant %zu taken", i);
        free(buf);
    }
    /* Over the limits: declined, so that libjpeg's path reports it. */
    enc_opts o = {640, 480, 1, 1, 1, 0, 0, 90, 0, 0};
    unsigned long len;
    unsigned char *buf = encode(&o, &len);
    xc_image_limits small = {600, 1 << 30};
    xc_image f;
    CHECK(xc_image_decode_jpeg_fast(buf, len, 100, &small, &f) == 0);
    CHECK(xc_image_decode_jpeg_fast(buf, len, 100, &lim, &f) == 1);
    xc_image_free(&f);
    /* A byte of extra data before EOI: whether libjpeg notices depends on how far it had read
     * ahead; the fast path declines it either way. */
    unsigned char *extra = malloc(len + 1);
    memcpy(extra, buf, len - 2);
    extra[len - 2] = 0x5A;
    memcpy(extra + len - 1, buf + len - 2, 2);
    CHECK(xc_image_decode_jpeg_fast(extra, len + 1, 100, &lim, &f) == 0);
    /* Truncated anywhere: declined. */
    for (unsigned long cut = 2; cut < len; cut += len / 37 + 1)
        CHECK_MSG(xc_image_decode_jpeg_fast(buf, cut, 100, &lim, &f) == 0, "cut at %lu taken", cut);
    free(extra);
    free(buf);
}

/* Damaged files: whatever the fast path accepts, libjpeg accepts too. */
static void test_damage(void) {
    const enc_opts bases[] = {
        {200, 150, 1, 1, 1, 0, 0, 80, 0, 0}, {200, 150, 1, 1, 1, 1, 0, 80, 0, 0},
        {200, 150, 3, 2, 2, 1, 0, 80, 0, 0}, {200, 150, 3, 2, 1, 0, 3, 80, 0, 0},
        {200, 150, 1, 1, 1, 1, 5, 80, 0, 0},
    };
    int taken = 0, tried = 0;
    for (size_t bi = 0; bi < sizeof bases / sizeof bases[0]; bi++) {
        unsigned long len;
        unsigned char *buf = encode(&bases[bi], &len);
        unsigned char *m = malloc(len);
        for (int t = 0; t < 300; t++) {
            memcpy(m, buf, len);
            int flips = 1 + (int)(lcg() % 3);
            for (int i = 0; i < flips; i++) {
                unsigned long at = 2 + lcg() % (len - 2);
                if (lcg() & 1) m[at] ^= (uint8_t)(1u << (lcg() % 8));
                else m[at] = (uint8_t)lcg();
            }
            char name[64];
            snprintf(name, sizeof name, "base %zu damage %d", bi, t);
            /* Damaged but accepted data may decode to large coefficients: only geometry and
             * libjpeg's acceptance are the contract here, pixels agree loosely. */
            taken += compare(name, m, len, 40, 2.0, 255);
            tried++;
        }
        free(m);
        free(buf);
    }
    printf("damaged files: %d of %d taken by the fast path\n", taken, tried);
    CHECK(taken > 0 && taken < tried);
}

/* The two refinement decoders (pdep where the CPU has it, the portable loop) give the same
 * pixels, bit for bit. */
static void test_refine_paths(void) {
    if (!xc_image_jpeg_fast_use_pdep(1)) {
        printf("no pdep path in this build or on this CPU: skipped\n");
        return;
    }
    const enc_opts progs[] = {
        {777, 555, 1, 1, 1, 1, 0, 92, 0, 0}, {640, 480, 3, 2, 2, 1, 0, 75, 0, 0},
        {500, 700, 1, 1, 1, 1, 3, 60, 0, 0}, {400, 300, 3, 1, 1, 1, 5, 95, 0, 0},
    };
    xc_image_limits lim = xc_image_limits_default();
    for (size_t i = 0; i < sizeof progs / sizeof progs[0]; i++) {
        unsigned long len;
        unsigned char *buf = encode(&progs[i], &len);
        for (int hint = 30; hint <= 150; hint *= 2) {
            xc_image a, b;
            CHECK(xc_image_jpeg_fast_use_pdep(1) == 1);
            int ra = xc_image_decode_jpeg_fast(buf, len, hint, &lim, &a);
            CHECK(xc_image_jpeg_fast_use_pdep(0) == 1);
            int rb = xc_image_decode_jpeg_fast(buf, len, hint, &lim, &b);
            CHECK_MSG(ra == 1 && rb == 1, "case %zu hint %d: %d %d", i, hint, ra, rb);
            if (ra == 1 && rb == 1)
                CHECK_MSG(a.width == b.width && a.height == b.height &&
                              !memcmp(a.pixels, b.pixels, (size_t)a.width * a.height),
                          "case %zu hint %d: the two refinement decoders differ", i, hint);
            xc_image_free(&a);
            xc_image_free(&b);
        }
        free(buf);
    }
    xc_image_jpeg_fast_use_pdep(1);
}

int main(void) {
    test_refine_paths();
    test_codings();
    test_declined();
    test_damage();
    if (xc_image_jpeg_fast_use_pdep(0)) test_damage(); /* the portable refinement loop too */
    xc_image_jpeg_fast_use_pdep(1);
    return check_done("test_image_jpeg_fast");
}
