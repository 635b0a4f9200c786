/* test_image_png.c — PNG decoding of every variant libpng can write (bit depths 1/2/4/8/16;
 * gray, gray+alpha, RGB, RGBA, palette with and without tRNS; interlaced or not) to 8-bit gray
 * and RGB, checked exactly; our PNG writer round trip; and damaged files: every cut point,
 * every flipped byte, a bomb header. */
#include <png.h>

#include "check.h"
#include "test_image_util.h"

static void on_write(png_structp png, png_bytep p, size_t n) { tu_buf_put(png_get_io_ptr(png), p, n); }
static void on_flush(png_structp png) { (void)png; }

/* The sample of channel c of pixel (x, y) in a variant with maxval m: a deterministic pattern
 * that visits the whole range. */
static unsigned sample(int x, int y, int c, unsigned m) {
    return (unsigned)(x * 7 + y * 13 + c * 101 + x * y * 3) % (m + 1);
}

/* Encodes a w x h PNG of the given depth/color/interlace whose samples are sample(); palette
 * images use a palette of 2^depth entries, palette[i] = (i*37, 255-i*11, i*5) mod 256, with
 * tRNS when trns is set. */
static tu_buf make_png(int w, int h, int depth, int color, int interlace, int trns) {
    tu_buf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &b, on_write, on_flush);
    png_set_IHDR(png, info, w, h, depth, color, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    int npal = 1 << depth;
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[256];
        png_byte alpha[256];
        for (int i = 0; i < npal; i++) {
            pal[i].red = (png_byte)(i * 37), pal[i].green = (png_byte)(255 - i * 11), pal[i].blue = (png_byte)(i * 5);
            alpha[i] = (png_byte)(255 - i);
        }
        png_set_PLTE(png, info, pal, npal);
        if (trns) png_set_tRNS(png, info, alpha, npal, NULL);
    }
    png_write_info(png, info);
    int spp = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_PALETTE ? 1
              : color == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : color == PNG_COLOR_TYPE_RGB ? 3 : 4;
    unsigned m = (1u << depth) - 1;
    size_t rowbytes = ((size_t)w * spp * depth + 7) / 8;
    uint8_t *img = calloc((size_t)h, rowbytes);
    png_bytep *rows = malloc(sizeof(png_bytep) * h);
    for (int y = 0; y < h; y++) {
        uint8_t *r = img + (size_t)y * rowbytes;
        rows[y] = r;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < spp; c++) {
                unsigned v = sample(x, y, c, m);
                size_t bit = ((size_t)x * spp + c) * depth;
                if (depth == 16) r[bit / 8] = (uint8_t)(v >> 8), r[bit / 8 + 1] = (uint8_t)v;
                else if (depth == 8) r[bit / 8] = (uint8_t)v;
                else r[bit / 8] |= (uint8_t)(v << (8 - depth - bit % 8));
            }
    }
    png_write_image(png, rows); /* handles the interlace passes */
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    free(img);
    return b;
}

/* 16-bit files without sBIT are reduced by the bits their colour samples use (at least 8). */
static int used16;

static uint8_t to8(unsigned v, int depth) {
    if (depth == 16) {
        unsigned m = (1u << used16) - 1;
        return (uint8_t)((v * 255u + m / 2) / m);
    }
    return (uint8_t)(v * 255u / ((1u << depth) - 1));
}

/* Decodes one variant as gray and RGB and compares every pixel with the expected values. */
static void check_variant(int depth, int color, int interlace, int trns) {
    const int w = 37, h = 23;
    tu_buf b = make_png(w, h, depth, color, interlace, trns);
    unsigned m = (1u << depth) - 1;
    int bad1 = 0, bad3 = 0;
    unsigned vmax = 0;
    int ncol = color == PNG_COLOR_TYPE_RGB || color == PNG_COLOR_TYPE_RGB_ALPHA ? 3 : 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ncol; c++)
                if (sample(x, y, c, m) > vmax) vmax = sample(x, y, c, m);
    for (used16 = 8; used16 < 16 && (vmax >> used16); used16++) {}
    for (int want = 1; want <= 3; want += 2) {
        xc_image img;
        int rc = xc_image_decode_mem(b.data, b.len, "v.png", want, 0, NULL, &img);
        CHECK_MSG(rc == 0, "depth %d color %d interlace %d: %s", depth, color, interlace, xc_error());
        if (rc) continue;
        CHECK(img.width == w && img.height == h && img.channels == want);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                unsigned r, g, bl;
                if (color == PNG_COLOR_TYPE_PALETTE) {
                    unsigned i = sample(x, y, 0, m);
                    r = (i * 37) & 255, g = (255 - i * 11) & 255, bl = (i * 5) & 255;
                } else if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
                    r = g = bl = to8(sample(x, y, 0, m), depth);
                } else {
                    r = to8(sample(x, y, 0, m), depth), g = to8(sample(x, y, 1, m), depth),
                    bl = to8(sample(x, y, 2, m), depth);
                }
                const uint8_t *p = img.pixels + ((size_t)y * w + x) * want;
                if (want == 1) {
                    unsigned l = (r * 19595u + g * 38470u + bl * 7471u + 0x8000u) >> 16;
                    if (p[0] != l) bad1++;
                } else if (p[0] != r || p[1] != g || p[2] != bl) {
                    bad3++;
                }
            }
        xc_image_free(&img);
    }
    CHECK_MSG(bad1 == 0 && bad3 == 0, "depth %d color %d interlace %d trns %d: %d gray, %d RGB pixels differ",
              depth, color, interlace, trns, bad1, bad3);
    free(b.data);
}

static void test_variants(void) {
    static const int gray_depths[] = {1, 2, 4, 8, 16};
    for (int il = 0; il <= 1; il++) {
        for (int i = 0; i < 5; i++) check_variant(gray_depths[i], PNG_COLOR_TYPE_GRAY, il, 0);
        for (int d = 8; d <= 16; d += 8) {
            check_variant(d, PNG_COLOR_TYPE_GRAY_ALPHA, il, 0);
            check_variant(d, PNG_COLOR_TYPE_RGB, il, 0);
            check_variant(d, PNG_COLOR_TYPE_RGB_ALPHA, il, 0);
        }
        for (int d = 1; d <= 8; d *= 2) {
            check_variant(d, PNG_COLOR_TYPE_PALETTE, il, 0);
            check_variant(d, PNG_COLOR_TYPE_PALETTE, il, 1);
        }
    }
}

/* A w x h 16-bit gray PNG of the given samples, with an sBIT chunk when sbit > 0. */
static tu_buf make_png16(int w, int h, const uint16_t *v, int sbit) {
    tu_buf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &b, on_write, on_flush);
    png_set_IHDR(png, info, w, h, 16, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    if (sbit) {
        png_color_8 s = {0};
        s.gray = (png_byte)sbit;
        png_set_sBIT(png, info, &s);
    }
    png_write_info(png, info);
    uint8_t *row = malloc((size_t)w * 2);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) row[2 * x] = (uint8_t)(v[y * w + x] >> 8), row[2 * x + 1] = (uint8_t)v[y * w + x];
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    return b;
}

/* 12-bit data in 16-bit PNGs (how CR/DX exports look): by sBIT when present (unscaled or scaled
 * samples), else by the bits used; the mapping is stated and the low range flagged. */
static void test_16bit_significant(void) {
    enum { W = 64, H = 16 };
    static uint16_t raw[W * H], scaled[W * H];
    for (int i = 0; i < W * H; i++) {
        raw[i] = (uint16_t)((i * 4) % 4096);                     /* 0..4092: 12 bits, unscaled */
        scaled[i] = (uint16_t)((raw[i] << 4) | (raw[i] >> 8)); /* the PNG standard's scaling */
    }
    struct { const uint16_t *v; int sbit; unsigned m; int shift; const char *says; int low; } cases[] = {
        {raw, 12, 4095, 0, "sBIT: 12 significant bits, samples stored unscaled", 1},
        {raw, 0, 4095, 0, "12 bits used of 16 (no sBIT)", 1},
        {scaled, 12, 65535, 0, "samples scaled to 16 bits", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tu_buf b = make_png16(W, H, cases[k].v, cases[k].sbit);
        xc_image img;
        xc_image_info info;
        CHECK(xc_image_decode_mem_info(b.data, b.len, "12.png", 1, 0, NULL, &img, &info) == 0);
        int bad = 0;
        for (int i = 0; i < W * H; i++)
            bad += img.pixels[i] != (uint8_t)((cases[k].v[i] * 255u + cases[k].m / 2) / cases[k].m);
        CHECK_MSG(bad == 0, "case %zu: %d pixels differ", k, bad);
        CHECK_CONTAINS(info.mapping, cases[k].says);
        CHECK_MSG(info.low_range == cases[k].low, "case %zu: low_range %d", k, info.low_range);
        CHECK(info.bit_depth == 16 && info.stored_max == cases[k].v[1023]);
        /* The old reduction made 12-bit data nearly black; it must span the range now. */
        int top = 0;
        for (int i = 0; i < W * H; i++) top = img.pixels[i] > top ? img.pixels[i] : top;
        CHECK(top >= 254);
        xc_image_free(&img);
        free(b.data);
    }
}

/* All 65536 16-bit values: reduced to 8 bits by rounding. */
static void test_16bit_exhaustive(void) {
    tu_buf b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) abort();
    png_set_write_fn(png, &b, on_write, on_flush);
    png_set_IHDR(png, info, 256, 256, 16, PNG_COLOR_TYPE_GRAY, 0, 0, 0);
    png_write_info(png, info);
    uint8_t row[512];
    for (int y = 0; y < 256; y++) {
        for (int x = 0; x < 256; x++) row[2 * x] = (uint8_t)y, row[2 * x + 1] = (uint8_t)x;
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    xc_image img;
    CHECK(xc_image_decode_mem(b.data, b.len, "16.png", 1, 0, NULL, &img) == 0);
    int bad = 0;
    for (unsigned v = 0; v < 65536 && img.pixels; v++)
        if (img.pixels[v] != (v * 255u + 32767u) / 65535u) bad++;
    CHECK_MSG(bad == 0, "%d of 65536 16-bit values rounded differently", bad);
    xc_image_free(&img);
    free(b.data);
}

/* Our writer: gray and RGB round trip exactly, through a file; a bad target fails cleanly. */
static void test_writer(const char *tmp) {
    char path[4096];
    for (int ch = 1; ch <= 3; ch += 2) {
        xc_image src, got;
        tu_synth(&src, 61, 45, ch, 3);
        snprintf(path, sizeof path, "%s/w%d.png", tmp, ch);
        CHECK(xc_image_write_png(path, &src) == 0);
        CHECK(xc_image_decode_file(path, ch, 0, &got) == 0);
        CHECK(got.width == 61 && got.height == 45 && got.channels == ch);
        CHECK(got.pixels && memcmp(got.pixels, src.pixels, (size_t)61 * 45 * ch) == 0);
        xc_image_free(&got);
        xc_image_free(&src);
    }
    xc_image src;
    tu_synth(&src, 8, 8, 1, 0);
    snprintf(path, sizeof path, "%s/no/such/folder/x.png", tmp);
    CHECK(xc_image_write_png(path, &src) == -1);
    CHECK_CONTAINS(xc_error(), "x.png");
    snprintf(path, sizeof path, "%s/bad.png", tmp);
    src.channels = 2;
    CHECK(xc_image_write_png(path, &src) == -1);
    CHECK(!xc_is_file(path));
    src.channels = 1;
    xc_image_free(&src);
}

/* Every prefix of a file fails with a message (the last chunk, IEND, included); every single
 * flipped byte fails too (CRCs cover each chunk; the signature is checked). */
static void test_damage(void) {
    tu_buf b = make_png(19, 11, 8, PNG_COLOR_TYPE_RGB, 1, 0);
    int ok_cut = 0, quiet = 0, dirty = 0;
    for (size_t n = 0; n < b.len; n++) {
        xc_image img;
        xc_error_clear();
        if (xc_image_decode_mem(b.data, n, "cut.png", 3, 0, NULL, &img) == 0) {
            ok_cut++;
            xc_image_free(&img);
            continue;
        }
        if (!strstr(xc_error(), "cannot decode 'cut.png': ")) quiet++;
        if (img.pixels) dirty++;
    }
    CHECK_MSG(ok_cut == 0 && quiet == 0 && dirty == 0, "%d cuts decoded, %d without a message, %d left pixels",
              ok_cut, quiet, dirty);
    xc_image img;
    CHECK(xc_image_decode_mem(b.data, b.len / 2, "half.png", 3, 0, NULL, &img) == -1);
    CHECK_CONTAINS(xc_error(), "truncated PNG data");

    int ok_flip = 0;
    for (size_t i = 0; i < b.len; i++) {
        b.data[i] ^= 0x5A;
        if (xc_image_decode_mem(b.data, b.len, "flip.png", 1, 0, NULL, &img) == 0) {
            ok_flip++;
            xc_image_free(&img);
        }
        b.data[i] ^= 0x5A;
    }
    CHECK_MSG(ok_flip == 0, "%d flipped bytes went unnoticed", ok_flip);
    free(b.data);
}

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

static void put_chunk(tu_buf *b, const char *type, const uint8_t *data, uint32_t n) {
    uint8_t hdr[8] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    memcpy(hdr + 4, type, 4);
    tu_buf_put(b, hdr, 8);
    tu_buf_put(b, data, n);
    uint8_t *tc = malloc(n + 4);
    memcpy(tc, type, 4);
    if (n) memcpy(tc + 4, data, n);
    uint32_t c = crc32_of(tc, n + 4);
    free(tc);
    uint8_t cb[4] = {(uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c};
    tu_buf_put(b, cb, 4);
}

/* A valid header claiming 100000 x 100000 (10 Gpx) is refused from the header, and so are
 * images over custom limits. */
static void test_bomb(void) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    tu_buf b = {0};
    tu_buf_put(&b, sig, 8);
    uint32_t side = 100000;
    uint8_t ihdr[13] = {(uint8_t)(side >> 24), (uint8_t)(side >> 16), (uint8_t)(side >> 8), (uint8_t)side,
                        (uint8_t)(side >> 24), (uint8_t)(side >> 16), (uint8_t)(side >> 8), (uint8_t)side,
                        8, 0, 0, 0, 0};
    put_chunk(&b, "IHDR", ihdr, 13);
    static const uint8_t idat[] = {0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01};
    put_chunk(&b, "IDAT", idat, sizeof idat);
    put_chunk(&b, "IEND", NULL, 0);
    xc_image img;
    CHECK(xc_image_decode_mem(b.data, b.len, "bomb.png", 1, 0, NULL, &img) == -1);
    CHECK_CONTAINS(xc_error(), "cannot decode 'bomb.png': image is 100000x100000, over the limit");
    CHECK(img.pixels == NULL);
    free(b.data);

    b = make_png(200, 50, 8, PNG_COLOR_TYPE_GRAY, 0, 0);
    xc_image_limits lim = {100, 1000000};
    CHECK(xc_image_decode_mem(b.data, b.len, "wide.png", 1, 0, &lim, &img) == -1);
    CHECK_CONTAINS(xc_error(), "over the limit of 100 a side");
    lim.max_side = 1000, lim.max_pixels = 9999;
    CHECK(xc_image_decode_mem(b.data, b.len, "many.png", 1, 0, &lim, &img) == -1);
    CHECK_CONTAINS(xc_error(), "over the limit of 9999 pixels");
    lim.max_pixels = 10000;
    CHECK(xc_image_decode_mem(b.data, b.len, "many.png", 1, 0, &lim, &img) == 0);
    xc_image_free(&img);
    free(b.data);
}

int main(void) {
    const char *tmp = check_tmpdir();
    test_variants();
    test_16bit_exhaustive();
    test_16bit_significant();
    test_writer(tmp);
    test_damage();
    test_bomb();
    return check_done("test_image_png");
}
