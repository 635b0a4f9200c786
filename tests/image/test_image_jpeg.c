/* test_image_jpeg.c — JPEG decoding: baseline and progressive gray/RGB written by our encoder,
 * CMYK (Adobe-inverted and plain), YCCK and RGB-coded files written with libjpeg directly,
 * gray/RGB requests, DCT-domain downscaling (sizes and closeness to a full decode + resize),
 * and damaged files: every cut point, flipped bytes, a bomb header. */
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>

#include "check.h"
#include "test_image_util.h"

static char tmpdir[4096];

static char *tpath(const char *name) {
    static char p[8192];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

/* Encoder round trips: decoded pixels close to the source. */
static void test_roundtrip(void) {
    for (int ch = 1; ch <= 3; ch += 2)
        for (int prog = 0; prog <= 1; prog++) {
            xc_image src, got, gray, luma;
            tu_synth(&src, 160, 120, ch, 1);
            char *path = tpath(prog ? "p.jpeg" : "b.jpeg");
            CHECK(xc_image_write_jpeg(path, &src, 95, prog) == 0);
            CHECK(xc_image_decode_file(path, ch, 0, &got) == 0);
            CHECK(got.width == 160 && got.height == 120 && got.channels == ch);
            int maxd;
            double md = tu_mean_absdiff(got.pixels, src.pixels, (size_t)160 * 120 * ch, &maxd);
            CHECK_MSG(md < 1.5 && maxd < 40, "ch %d prog %d: mean %.2f max %d", ch, prog, md, maxd);
            /* The other channel count from the same file. */
            CHECK(xc_image_decode_file(path, 4 - ch, 0, &gray) == 0);
            CHECK(gray.channels == 4 - ch);
            if (ch == 1) { /* gray file as RGB: three equal channels, equal to the gray decode */
                int bad = 0;
                for (size_t i = 0; i < (size_t)160 * 120; i++)
                    bad += gray.pixels[3 * i] != got.pixels[i] || gray.pixels[3 * i + 1] != got.pixels[i] ||
                           gray.pixels[3 * i + 2] != got.pixels[i];
                CHECK_MSG(bad == 0, "%d gray-as-RGB pixels differ", bad);
            } else { /* RGB file as gray: the luma of the source */
                tu_luma(&src, &luma);
                md = tu_mean_absdiff(gray.pixels, luma.pixels, (size_t)160 * 120, &maxd);
                CHECK_MSG(md < 1.5 && maxd < 30, "RGB as gray: mean %.2f max %d", md, maxd);
                xc_image_free(&luma);
            }
            xc_image_free(&gray);
            xc_image_free(&got);
            xc_image_free(&src);
        }
    xc_image src;
    tu_synth(&src, 8, 8, 1, 0);
    CHECK(xc_image_write_jpeg(tpath("q.jpeg"), &src, 0, 0) == -1);
    CHECK_CONTAINS(xc_error(), "quality 0");
    CHECK(!xc_is_file(tpath("q.jpeg")));
    CHECK(xc_image_write_jpeg(tpath("none/q.jpeg"), &src, 90, 0) == -1);
    CHECK_CONTAINS(xc_error(), "q.jpeg");
    xc_image_free(&src);
}

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
} test_jerr;

static void test_error_exit(j_common_ptr c) { longjmp(((test_jerr *)c->err)->jump, 1); }

/* A 4-component JPEG from the CMYK samples `cmyk` (w*h*4), stored as `space` (JCS_CMYK or
 * JCS_YCCK), with or without the Adobe marker. */
static tu_buf make_cmyk(const uint8_t *cmyk, int w, int h, J_COLOR_SPACE space, int adobe) {
    struct jpeg_compress_struct c;
    test_jerr e;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = test_error_exit;
    unsigned char *mem = NULL;
    unsigned long size = 0;
    if (setjmp(e.jump)) abort();
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &size);
    c.image_width = w, c.image_height = h, c.input_components = 4, c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, space);
    c.write_Adobe_marker = adobe ? TRUE : FALSE;
    jpeg_set_quality(&c, 98, TRUE);
    for (int i = 0; i < c.num_components; i++) c.comp_info[i].h_samp_factor = c.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)(cmyk + (size_t)c.next_scanline * w * 4);
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    tu_buf b = {0};
    tu_buf_put(&b, mem, size);
    free(mem);
    return b;
}

/* An RGB file coded as RGB (no YCbCr transform, Adobe transform 0). */
static tu_buf make_rgb_coded(const xc_image *src) {
    struct jpeg_compress_struct c;
    test_jerr e;
    c.err = jpeg_std_error(&e.pub);
    e.pub.error_exit = test_error_exit;
    unsigned char *mem = NULL;
    unsigned long size = 0;
    if (setjmp(e.jump)) abort();
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &size);
    c.image_width = src->width, c.image_height = src->height, c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, JCS_RGB);
    jpeg_set_quality(&c, 98, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = src->pixels + (size_t)c.next_scanline * src->width * 3;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    tu_buf b = {0};
    tu_buf_put(&b, mem, size);
    free(mem);
    return b;
}

static void test_colour_spaces(void) {
    const int w = 64, h = 48;
    xc_image rgb, luma;
    tu_synth(&rgb, w, h, 3, 5);
    tu_luma(&rgb, &luma);
    /* CMYK with K varying; Adobe convention: R = C * K / 255 on the stored values. */
    uint8_t *inv = malloc((size_t)w * h * 4), *plain = malloc((size_t)w * h * 4);
    xc_image want;
    xc_image_alloc(&want, w, h, 3);
    for (int i = 0; i < w * h; i++) {
        unsigned k = 160 + (i % w) * 95 / w;
        for (int c = 0; c < 3; c++) {
            unsigned s = rgb.pixels[3 * i + c];
            inv[4 * i + c] = (uint8_t)s;
            plain[4 * i + c] = (uint8_t)(255 - s);
            want.pixels[3 * i + c] = (uint8_t)((s * k + 127) / 255);
        }
        inv[4 * i + 3] = (uint8_t)k;
        plain[4 * i + 3] = (uint8_t)(255 - k);
    }
    xc_image want_luma;
    tu_luma(&want, &want_luma);
    struct { const uint8_t *src; J_COLOR_SPACE space; int adobe; const char *name; } cases[] = {
        {inv, JCS_CMYK, 1, "cmyk-adobe"}, {inv, JCS_YCCK, 1, "ycck-adobe"}, {plain, JCS_CMYK, 0, "cmyk-plain"}};
    for (int t = 0; t < 3; t++) {
        tu_buf b = make_cmyk(cases[t].src, w, h, cases[t].space, cases[t].adobe);
        xc_image got;
        int rc = xc_image_decode_mem(b.data, b.len, cases[t].name, 3, 0, NULL, &got);
        CHECK_MSG(rc == 0, "%s: %s", cases[t].name, xc_error());
        int maxd = 0;
        double md = rc ? 99 : tu_mean_absdiff(got.pixels, want.pixels, (size_t)w * h * 3, &maxd);
        CHECK_MSG(md < 2.0, "%s as RGB: mean %.2f max %d", cases[t].name, md, maxd);
        xc_image_free(&got);
        rc = xc_image_decode_mem(b.data, b.len, cases[t].name, 1, 0, NULL, &got);
        CHECK(rc == 0 && got.channels == 1);
        md = rc ? 99 : tu_mean_absdiff(got.pixels, want_luma.pixels, (size_t)w * h, &maxd);
        CHECK_MSG(md < 2.0, "%s as gray: mean %.2f max %d", cases[t].name, md, maxd);
        xc_image_free(&got);
        free(b.data);
    }
    /* RGB coded without the YCbCr transform. */
    tu_buf b = make_rgb_coded(&rgb);
    xc_image got;
    CHECK(xc_image_decode_mem(b.data, b.len, "rgb", 3, 0, NULL, &got) == 0);
    int maxd = 0;
    double md = got.pixels ? tu_mean_absdiff(got.pixels, rgb.pixels, (size_t)w * h * 3, &maxd) : 99;
    CHECK_MSG(md < 1.5, "RGB-coded: mean %.2f max %d", md, maxd);
    xc_image_free(&got);
    CHECK(xc_image_decode_mem(b.data, b.len, "rgb", 1, 0, NULL, &got) == 0);
    md = got.pixels ? tu_mean_absdiff(got.pixels, luma.pixels, (size_t)w * h, &maxd) : 99;
    CHECK_MSG(md < 1.5, "RGB-coded as gray: mean %.2f max %d", md, maxd);
    xc_image_free(&got);
    free(b.data);
    free(inv);
    free(plain);
    xc_image_free(&want);
    xc_image_free(&want_luma);
    xc_image_free(&rgb);
    xc_image_free(&luma);
}

/* DCT scaling picks the largest 1/d keeping both sides >= the hint (as Pillow's draft), and
 * the result, resized, is close to the full decode resized. */
static void test_dct_scaling(void) {
    for (int ch = 1; ch <= 3; ch += 2) {
        xc_image src;
        tu_synth(&src, 803, 641, ch, 2);
        char *path = tpath("big.jpeg");
        CHECK(xc_image_write_jpeg(path, &src, 90, ch == 3) == 0);
        static const int hint[] = {0, 80, 81, 160, 161, 320, 321, 400, 5000};
        static const int ew[] = {803, 101, 201, 201, 402, 402, 803, 803, 803};
        static const int eh[] = {641, 81, 161, 161, 321, 321, 641, 641, 641};
        for (int i = 0; i < 9; i++) {
            xc_image got;
            CHECK(xc_image_decode_file(path, ch, hint[i], &got) == 0);
            CHECK_MSG(got.width == ew[i] && got.height == eh[i], "hint %d: %dx%d, want %dx%d", hint[i],
                      got.width, got.height, ew[i], eh[i]);
            xc_image_free(&got);
        }
        for (int size = 64; size <= 224; size += 160) {
            xc_image full, part, a, b;
            CHECK(xc_image_decode_file(path, ch, 0, &full) == 0);
            CHECK(xc_image_decode_file(path, ch, size, &part) == 0);
            CHECK(part.width < full.width);
            CHECK(xc_image_resize(&full, size, size, &a) == 0);
            CHECK(xc_image_resize(&part, size, size, &b) == 0);
            int maxd;
            double md = tu_mean_absdiff(a.pixels, b.pixels, (size_t)size * size * ch, &maxd);
            /* fast IDCT + plain upsampling when scaled (image_jpeg.c): a little further from a full decode */
            CHECK_MSG(md < 1.0 && maxd < 20, "ch %d size %d: DCT-scaled vs full: mean %.2f max %d", ch,
                      size, md, maxd);
            /* load_resized is exactly decode(hint = size) + resize. */
            uint8_t *lr = malloc((size_t)size * size * ch);
            CHECK(xc_image_load_resized(path, size, ch, lr) == 0);
            CHECK(memcmp(lr, b.pixels, (size_t)size * size * ch) == 0);
            free(lr);
            xc_image_free(&full), xc_image_free(&part), xc_image_free(&a), xc_image_free(&b);
        }
        xc_image_free(&src);
    }
}

/* Every prefix of a small baseline and progressive file fails with a message; a file cut in
 * half says libjpeg's "Premature end of JPEG file"; flipped bytes never crash. */
static void test_damage(void) {
    for (int prog = 0; prog <= 1; prog++) {
        xc_image src;
        tu_synth(&src, 40, 32, 3, 4);
        char *path = tpath("small.jpeg");
        CHECK(xc_image_write_jpeg(path, &src, 85, prog) == 0);
        xc_image_free(&src);
        size_t len;
        uint8_t *buf = (uint8_t *)xc_read_file(path, &len, 1 << 20);
        CHECK(buf != NULL);
        if (!buf) continue;
        int ok_cut = 0, quiet = 0, dirty = 0;
        for (size_t n = 0; n < len; n++) {
            xc_image img;
            xc_error_clear();
            if (xc_image_decode_mem(buf, n, "cut.jpeg", 3, 0, NULL, &img) == 0) {
                ok_cut++;
                xc_image_free(&img);
                continue;
            }
            if (!strstr(xc_error(), "cannot decode 'cut.jpeg': ")) quiet++;
            if (img.pixels) dirty++;
        }
        CHECK_MSG(ok_cut == 0 && quiet == 0 && dirty == 0,
                  "prog %d: %d cuts decoded, %d without a message, %d left pixels", prog, ok_cut, quiet, dirty);
        char *half = tpath("half.jpeg");
        CHECK(tu_write(half, buf, len / 2) == 0);
        xc_image img;
        CHECK(xc_image_decode_file(half, 1, 0, &img) == -1);
        char want[8400];
        snprintf(want, sizeof want, "cannot decode '%s': Premature end of JPEG file", half);
        CHECK_CONTAINS(xc_error(), want);

        /* Flip every byte in turn: a clean result or a message, never a crash. */
        int bad = 0;
        for (size_t i = 0; i < len; i++) {
            buf[i] ^= 0x33;
            xc_error_clear();
            int rc = xc_image_decode_mem(buf, len, "flip.jpeg", 1, 0, NULL, &img);
            if (rc == 0) {
                bad += img.width <= 0 || img.height <= 0 || img.pixels == NULL;
                xc_image_free(&img);
            } else {
                bad += strstr(xc_error(), "cannot decode 'flip.jpeg': ") == NULL;
            }
            buf[i] ^= 0x33;
        }
        CHECK_MSG(bad == 0, "prog %d: %d flips gave neither an image nor a message", prog, bad);
        free(buf);
    }
}

/* A header claiming 60000 x 60000 is refused before anything is allocated. */
static void test_bomb(void) {
    xc_image src;
    tu_synth(&src, 16, 16, 1, 0);
    char *path = tpath("bomb.jpeg");
    CHECK(xc_image_write_jpeg(path, &src, 90, 0) == 0);
    xc_image_free(&src);
    size_t len;
    uint8_t *buf = (uint8_t *)xc_read_file(path, &len, 1 << 20);
    size_t sof = 0;
    for (size_t i = 2; buf && i + 9 < len; i++)
        if (buf[i] == 0xFF && buf[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    CHECK(sof > 0);
    if (!sof) return;
    /* SOF0: FF C0, length (2), precision (1), height (2), width (2) */
    buf[sof + 5] = 0xEA, buf[sof + 6] = 0x60, buf[sof + 7] = 0xEA, buf[sof + 8] = 0x60;
    xc_image img;
    CHECK(xc_image_decode_mem(buf, len, "bomb.jpeg", 1, 0, NULL, &img) == -1);
    CHECK_CONTAINS(xc_error(), "cannot decode 'bomb.jpeg': image is 60000x60000, over the limit of 16384 a side");
    /* Within the side limit, over the pixel limit. */
    buf[sof + 5] = 0x3A, buf[sof + 6] = 0x98, buf[sof + 7] = 0x3A, buf[sof + 8] = 0x98; /* 15000 */
    CHECK(xc_image_decode_mem(buf, len, "bomb.jpeg", 1, 0, NULL, &img) == -1);
    CHECK_CONTAINS(xc_error(), "over the limit of 100000000 pixels");
    free(buf);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s", check_tmpdir());
    test_roundtrip();
    test_colour_spaces();
    test_dct_scaling();
    test_damage();
    test_bomb();
    return check_done("test_image_jpeg");
}
