/* image_jpeg.c — JPEG decoding and encoding over libjpeg-turbo (see xraycls/image.h).
 *
 * libjpeg reports errors through a callback that must not return; ours longjmps back to the
 * call with libjpeg's own message text. Warnings (truncated data, corrupt entropy-coded data,
 * extraneous bytes) are treated as errors too, and nothing is ever printed. A progress monitor
 * refuses progressive files with an absurd number of scans (a known CPU-exhaustion trick).
 * All state lives on the caller's stack: safe to call from many threads at once. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image_internal.h"
#include "xraycls/dicom.h" /* xc_jpeg_scan_limit */
#include "xraycls/fs.h"

typedef struct {
    struct jpeg_error_mgr pub; /* first: libjpeg sees a jpeg_error_mgr */
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    int max_scans;
    char msg[JMSG_LENGTH_MAX + 64];
} jpeg_ctx;

static void on_error_exit(j_common_ptr c) {
    jpeg_ctx *x = (jpeg_ctx *)c->err;
    c->err->format_message(c, x->msg);
    longjmp(x->jump, 1);
}

/* msg_level -1 is a warning (corrupt or truncated data): fail. Levels >= 0 are traces. */
static void on_emit_message(j_common_ptr c, int msg_level) {
    if (msg_level < 0) on_error_exit(c);
}

static void on_output_message(j_common_ptr c) { (void)c; }

static void on_progress(j_common_ptr c) {
    if (!c->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)c;
    jpeg_ctx *x = (jpeg_ctx *)c->err;
    if (d->input_scan_number > x->max_scans) {
        snprintf(x->msg, sizeof x->msg, "progressive JPEG with over %d scans (the most decoded for a %ux%u image)",
                 x->max_scans, d->image_width, d->image_height);
        longjmp(x->jump, 1);
    }
}

static void ctx_init(jpeg_ctx *x) {
    memset(x, 0, sizeof *x);
    jpeg_std_error(&x->pub);
    x->pub.error_exit = on_error_exit;
    x->pub.emit_message = on_emit_message;
    x->pub.output_message = on_output_message;
    x->progress.progress_monitor = on_progress;
    x->max_scans = xc_jpeg_scan_limit(0);
}

/* CMYK (as stored, 4 bytes a pixel) to RGB or gray. Adobe-marked files (Photoshop, nearly all
 * CMYK JPEGs) store inverted ink: R = C * K / 255. Without the marker the ink is plain:
 * R = (255 - C) * (255 - K) / 255. */
static void cmyk_row(const uint8_t *src, uint8_t *dst, int width, int channels, int inverted) {
    for (int x = 0; x < width; x++, src += 4) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];
        if (!inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
        unsigned r = (c * k + 127) / 255, g = (m * k + 127) / 255, b = (y * k + 127) / 255;
        if (channels == 1) {
            *dst++ = xc_image_luma(r, g, b);
        } else {
            *dst++ = (uint8_t)r;
            *dst++ = (uint8_t)g;
            *dst++ = (uint8_t)b;
        }
    }
}

unsigned xc_image_jpeg_denom(unsigned w, unsigned h, int hint) {
    if (hint <= 0) return 1;
    for (unsigned d = 8; d > 1; d /= 2)
        if (w >= d * (unsigned)hint && h >= d * (unsigned)hint) return d;
    return 1;
}

/* XRAYCLS_JPEG_DECODER=libjpeg turns the fast path off (every file through libjpeg). */
static int fast_path_enabled(void) {
    static atomic_int state; /* 0 unknown, 1 on, 2 off */
    int s = atomic_load(&state);
    if (!s) {
        const char *e = getenv("XRAYCLS_JPEG_DECODER");
        s = (e && !strcmp(e, "libjpeg")) ? 2 : 1;
        atomic_store(&state, s);
    }
    return s == 1;
}

const char *xc_image_jpeg_decoder(void) { return fast_path_enabled() ? "xraycls-fast" : "libjpeg"; }

int xc_image_decode_jpeg(const uint8_t *buf, size_t len, const char *what, int channels,
                         int min_side_hint, const xc_image_limits *limits, xc_image *out) {
    if (channels == 1 && fast_path_enabled() &&
        xc_image_decode_jpeg_fast(buf, len, min_side_hint, limits, out) == 1)
        return 0;
    return xc_image_decode_libjpeg(buf, len, what, channels, min_side_hint, limits, out);
}

int xc_image_decode_libjpeg(const uint8_t *buf, size_t len, const char *what, int channels,
                            int min_side_hint, const xc_image_limits *limits, xc_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx x;
    uint8_t *volatile cmyk = NULL; /* set after setjmp: volatile */

    memset(out, 0, sizeof *out);
    ctx_init(&x);
    cinfo.err = &x.pub;
    if (setjmp(x.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(cmyk);
        xc_image_free(out);
        return xc_errorf("cannot decode '%s': %s", what, x.msg);
    }
    jpeg_create_decompress(&cinfo);
    cinfo.progress = &x.progress;
    jpeg_mem_src(&cinfo, buf, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);

    if (xc_image_check_limits(what, cinfo.image_width, cinfo.image_height, limits) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    int is_cmyk = 0;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        /* libjpeg converts these to gray (luma) or RGB itself. */
        cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        is_cmyk = 1;
        cinfo.out_color_space = JCS_CMYK;
        break;
    default:
        jpeg_destroy_decompress(&cinfo);
        return xc_errorf("cannot decode '%s': unsupported JPEG colour space (%d components)", what,
                         cinfo.num_components);
    }
    cinfo.scale_num = 1;
    cinfo.scale_denom = xc_image_jpeg_denom(cinfo.image_width, cinfo.image_height, min_side_hint);
    if (cinfo.scale_denom > 1) {
        /* The output is resampled further anyway: the fast integer IDCT and plain chroma
         * upsampling cost nothing visible at that point (Pillow's draft mode does the same). */
        cinfo.dct_method = JDCT_IFAST;
        cinfo.do_fancy_upsampling = FALSE;
    }
    /* The scan limit for this size, and the memory it needs reserved in the process's decoding
     * budget before libjpeg allocates it: the output, and for a progressive file the whole
     * image's coefficients (128 bytes per 8x8 block of each component). */
    double px = (double)cinfo.image_width * (double)cinfo.image_height;
    x.max_scans = xc_jpeg_scan_limit((int64_t)px);
    int64_t need = (int64_t)((cinfo.image_width + cinfo.scale_denom - 1) / cinfo.scale_denom) *
                   (int64_t)((cinfo.image_height + cinfo.scale_denom - 1) / cinfo.scale_denom) * (is_cmyk ? 5 : channels);
    if (cinfo.progressive_mode)
        for (int c = 0; c < cinfo.num_components; c++)
            need += (int64_t)cinfo.comp_info[c].width_in_blocks * cinfo.comp_info[c].height_in_blocks * 128;
    if (xc_image_budget_take(what, need) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    jpeg_start_decompress(&cinfo);

    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    if (cinfo.output_components != (is_cmyk ? 4 : channels)) {
        jpeg_destroy_decompress(&cinfo);
        return xc_errorf("cannot decode '%s': libjpeg gave %d components, %d expected", what,
                         cinfo.output_components, is_cmyk ? 4 : channels);
    }
    if (xc_image_alloc(out, w, h, channels) < 0) {
        jpeg_destroy_decompress(&cinfo);
        return xc_errorf("cannot decode '%s': %s", what, xc_error());
    }
    out->file_width = (int)cinfo.image_width;
    out->file_height = (int)cinfo.image_height;
    out->scale_denom = (int)cinfo.scale_denom;
    if (is_cmyk) {
        cmyk = malloc((size_t)w * 4);
        if (!cmyk) {
            jpeg_destroy_decompress(&cinfo);
            xc_image_free(out);
            return xc_errorf("cannot decode '%s': out of memory", what);
        }
        while (cinfo.output_scanline < cinfo.output_height) {
            JSAMPROW row = cmyk;
            uint8_t *dst = out->pixels + (size_t)cinfo.output_scanline * w * channels;
            if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
            cmyk_row(cmyk, dst, w, channels, cinfo.saw_Adobe_marker);
        }
    } else {
        enum { BATCH = 16 }; /* several rows a call: fewer calls into libjpeg */
        JSAMPROW rows[BATCH];
        while (cinfo.output_scanline < cinfo.output_height) {
            unsigned n = cinfo.output_height - cinfo.output_scanline;
            if (n > BATCH) n = BATCH;
            for (unsigned i = 0; i < n; i++)
                rows[i] = out->pixels + (size_t)(cinfo.output_scanline + i) * w * channels;
            if (jpeg_read_scanlines(&cinfo, rows, n) == 0) break;
        }
    }
    if (cinfo.output_scanline < cinfo.output_height) {
        /* Suspension cannot happen with a memory source; guard anyway. */
        jpeg_destroy_decompress(&cinfo);
        free(cmyk);
        xc_image_free(out);
        return xc_errorf("cannot decode '%s': truncated JPEG data", what);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(cmyk);
    return 0;
}

int xc_image_write_jpeg(const char *path, const xc_image *img, int quality, int progressive) {
    if (!img || !img->pixels || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3))
        return xc_errorf("cannot write '%s': not a valid 8-bit gray or RGB image", path);
    if (quality < 1 || quality > 100)
        return xc_errorf("cannot write '%s': JPEG quality %d is outside 1..100", path, quality);

    xc_atomic a;
    if (xc_atomic_open(&a, path) < 0) return -1;
    struct jpeg_compress_struct cinfo;
    jpeg_ctx x;
    ctx_init(&x);
    cinfo.err = &x.pub;
    if (setjmp(x.jump)) {
        jpeg_destroy_compress(&cinfo);
        xc_atomic_abort(&a);
        return xc_errorf("cannot write '%s': %s", path, x.msg);
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, a.fp);
    cinfo.image_width = (JDIMENSION)img->width;
    cinfo.image_height = (JDIMENSION)img->height;
    cinfo.input_components = img->channels;
    cinfo.in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo); /* RGB: YCbCr with 2x2 chroma subsampling */
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)img->width * img->channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(img->pixels + cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return xc_atomic_commit(&a);
}
