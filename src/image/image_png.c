/* image_png.c — PNG decoding and encoding over libpng (see xraycls/image.h).
 *
 * Every PNG variant up to 8 bits is brought to 8-bit samples by libpng (palette → RGB, low-bit
 * gray → 8 bits); 16-bit files are read as 16 bits and reduced here by their significant bits
 * (sBIT, else the bits used: xraycls/image.h), because radiograph exports often store 12-bit
 * values unscaled and a plain 16 → 8 reduction makes them black. Alpha is then dropped and
 * gray/RGB converted here. libpng's errors
 * (bad CRC of a critical chunk, broken zlib stream, truncation) longjmp back with libpng's
 * message; its warnings (odd ancillary chunks such as a wrong sRGB profile) are ignored — they
 * do not touch the pixels. All state lives on the caller's stack: safe from many threads. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "image_internal.h"
#include "xraycls/fs.h"

typedef struct {
    const uint8_t *buf; /* the whole file (reading only) */
    size_t len, pos;
    char msg[256]; /* libpng's error text */
} png_ctx;

static void on_png_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void on_png_read(png_structp png, png_bytep dst, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) png_error(png, "truncated PNG data");
    memcpy(dst, c->buf + c->pos, n);
    c->pos += n;
}

/* One row of pc samples a pixel (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to channels (1 or 3). */
static void convert_row(const uint8_t *src, int pc, uint8_t *dst, int channels, int width) {
    for (int x = 0; x < width; x++, src += pc) {
        if (pc <= 2) {
            if (channels == 1) *dst++ = src[0];
            else dst[0] = dst[1] = dst[2] = src[0], dst += 3;
        } else if (channels == 1) {
            *dst++ = xc_image_luma(src[0], src[1], src[2]);
        } else {
            dst[0] = src[0], dst[1] = src[1], dst[2] = src[2], dst += 3;
        }
    }
}

/* 16-bit rows (big-endian samples, pc a pixel) to 8 bits, as xraycls/image.h states. */
static void reduce_16(png_structp png, png_infop info, uint8_t *img, size_t nsamples, int pc, xc_image_info *inf) {
    int colour = pc >= 3 ? 3 : 1; /* colour samples of a pixel; the rest is alpha */
    unsigned vmax = 0, vmin = 65535;
    for (size_t i = 0; i < nsamples; i++) {
        if ((int)(i % (size_t)pc) >= colour) continue;
        unsigned v = ((unsigned)img[2 * i] << 8) | img[2 * i + 1];
        if (v > vmax) vmax = v;
        if (v < vmin) vmin = v;
    }
    int used = 0;
    while (used < 16 && (vmax >> used)) used++;
    png_color_8p sbit = NULL;
    int sig = 0;
    if (png_get_sBIT(png, info, &sbit) && sbit) {
        sig = colour == 1 ? sbit->gray : sbit->red > sbit->green ? (sbit->red > sbit->blue ? sbit->red : sbit->blue)
                                                                 : (sbit->green > sbit->blue ? sbit->green : sbit->blue);
        if (sig < 1 || sig > 16) sig = 0;
    }
    int bits;
    if (sig && sig < 16 && used <= sig) {
        bits = sig;
        snprintf(inf->mapping, sizeof inf->mapping, "sBIT: %d significant bits, samples stored unscaled (0..%u)", sig,
                 (1u << sig) - 1);
    } else if (sig) {
        bits = 16;
        snprintf(inf->mapping, sizeof inf->mapping, "sBIT: %d significant bits, samples scaled to 16 bits", sig);
    } else {
        bits = used < 8 ? 8 : used;
        if (bits < 16)
            snprintf(inf->mapping, sizeof inf->mapping, "%d bits used of 16 (no sBIT): 0..%u mapped to 0..255", bits,
                     (1u << bits) - 1);
    }
    inf->stored_min = vmin;
    inf->stored_max = vmax;
    inf->low_range = vmax >= vmin && (vmax - vmin) < (1u << 12);
    uint32_t m = (1u << bits) - 1;
    for (size_t i = 0; i < nsamples; i++) {
        uint32_t v = ((uint32_t)img[2 * i] << 8) | img[2 * i + 1];
        if (v > m) v = m;
        img[i] = (uint8_t)((v * 255u + m / 2) / m); /* in place: sample i is read before written */
    }
}

int xc_image_decode_png(const uint8_t *buf, size_t len, const char *what, int channels,
                        const xc_image_limits *limits, xc_image *out, xc_image_info *inf) {
    png_ctx ctx = {buf, len, 0, ""};
    memset(out, 0, sizeof *out);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return xc_errorf("cannot decode '%s': out of memory", what);
    }
    uint8_t *volatile tmp = NULL; /* set after setjmp: volatile */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(tmp);
        xc_image_free(out);
        return xc_errorf("cannot decode '%s': %s", what, ctx.msg);
    }
    png_set_read_fn(png, &ctx, on_png_read);
    png_read_info(png, info);

    png_uint_32 w, h;
    int depth, color, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (xc_image_check_limits(what, w, h, limits) < 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png); /* + alpha if tRNS */
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    inf->bit_depth = depth;
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int pc = png_get_channels(png, info);
    /* What the paths below allocate, reserved in the process's decoding budget first: the
     * output, and the whole image at 16 bits, or (interlaced and converted) at 8 bits. */
    int64_t need = (int64_t)w * h * channels;
    if (depth == 16) need += (int64_t)w * h * pc * 2 + (int64_t)h * (int64_t)sizeof(png_bytep);
    else if (passes > 1 && pc != channels) need += (int64_t)w * h * pc;
    if (xc_image_budget_take(what, need) < 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (depth == 16) {
        /* The whole image at 16 bits, reduced in place to 8 bits, then converted. */
        if (pc < 1 || pc > 4 || png_get_rowbytes(png, info) != (size_t)w * pc * 2) {
            png_destroy_read_struct(&png, &info, NULL);
            return xc_errorf("cannot decode '%s': unexpected PNG layout after conversion", what);
        }
        if (xc_image_alloc(out, (int)w, (int)h, channels) < 0) {
            png_destroy_read_struct(&png, &info, NULL);
            return xc_errorf("cannot decode '%s': %s", what, xc_error());
        }
        size_t row16 = (size_t)w * pc * 2;
        /* One block: the row pointers, then the rows (freed on every path through tmp). */
        size_t head = ((size_t)h * sizeof(png_bytep) + 15) & ~(size_t)15;
        tmp = malloc(head + row16 * h);
        if (!tmp) png_error(png, "out of memory");
        png_bytep *rows = (png_bytep *)(void *)tmp;
        uint8_t *data = tmp + head;
        for (png_uint_32 y = 0; y < h; y++) rows[y] = data + y * row16;
        png_read_image(png, rows);
        png_read_end(png, NULL);
        reduce_16(png, info, data, (size_t)w * h * pc, pc, inf);
        for (png_uint_32 y = 0; y < h; y++)
            convert_row(data + (size_t)y * w * pc, pc, out->pixels + (size_t)y * w * channels, channels, (int)w);
        png_destroy_read_struct(&png, &info, NULL);
        free(tmp);
        return 0;
    }
    if (png_get_bit_depth(png, info) != 8 || pc < 1 || pc > 4 ||
        png_get_rowbytes(png, info) != (size_t)w * pc) {
        png_destroy_read_struct(&png, &info, NULL);
        return xc_errorf("cannot decode '%s': unexpected PNG layout after conversion", what);
    }
    if (xc_image_alloc(out, (int)w, (int)h, channels) < 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return xc_errorf("cannot decode '%s': %s", what, xc_error());
    }
    size_t stride = (size_t)w * channels;
    if (pc == channels) {
        /* Straight into the image; interlaced passes fill in the rows in place. */
        for (int p = 0; p < passes; p++)
            for (png_uint_32 y = 0; y < h; y++) png_read_row(png, out->pixels + y * stride, NULL);
    } else if (passes == 1) {
        tmp = malloc((size_t)w * pc);
        if (!tmp) png_error(png, "out of memory");
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, tmp, NULL);
            convert_row(tmp, pc, out->pixels + y * stride, channels, (int)w);
        }
    } else {
        /* Interlaced and converted: every pass touches every row, so keep the whole image. */
        tmp = malloc((size_t)w * h * pc);
        if (!tmp) png_error(png, "out of memory");
        for (int p = 0; p < passes; p++)
            for (png_uint_32 y = 0; y < h; y++) png_read_row(png, tmp + (size_t)y * w * pc, NULL);
        for (png_uint_32 y = 0; y < h; y++)
            convert_row(tmp + (size_t)y * w * pc, pc, out->pixels + y * stride, channels, (int)w);
    }
    png_read_end(png, NULL); /* reads up to IEND: a file cut after the pixels still fails */
    png_destroy_read_struct(&png, &info, NULL);
    free(tmp);
    return 0;
}

/* libpng's output into a growing buffer. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    int oom;
} png_membuf;

static void on_png_write(png_structp png, png_bytep data, size_t n) {
    png_membuf *b = png_get_io_ptr(png);
    if (b->oom) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap - b->len < n) cap *= 2;
        uint8_t *p = realloc(b->data, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void on_png_flush(png_structp png) { (void)png; }

int xc_image_encode_png(const xc_image *img, uint8_t **out, size_t *len) {
    *out = NULL;
    *len = 0;
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3))
        return xc_errorf("cannot encode a PNG: not a valid 8-bit gray or RGB image");
    png_ctx ctx = {NULL, 0, 0, ""};
    png_membuf b = {NULL, 0, 0, 0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error, on_png_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return xc_errorf("cannot encode a PNG: out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(b.data);
        return xc_errorf("cannot encode a PNG: %s", ctx.msg);
    }
    png_set_write_fn(png, &b, on_png_write, on_png_flush);
    png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)img->width * img->channels;
    for (int y = 0; y < img->height; y++) png_write_row(png, img->pixels + (size_t)y * stride);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (b.oom) {
        free(b.data);
        return xc_errorf("cannot encode a PNG: out of memory");
    }
    *out = b.data;
    *len = b.len;
    return 0;
}

int xc_image_write_png(const char *path, const xc_image *img) {
    uint8_t *data;
    size_t len;
    if (xc_image_encode_png(img, &data, &len) < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", xc_error());
        /* "cannot encode a PNG: why" -> "cannot write 'path': why" */
        const char *why = strstr(msg, ": ") ? strstr(msg, ": ") + 2 : msg;
        return xc_errorf("cannot write '%s': %s", path, why);
    }
    int rc = xc_write_file_atomic(path, data, len);
    free(data);
    return rc;
}
