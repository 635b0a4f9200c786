/* image_internal.h — what the image_*.c files share and nothing else includes: the per-format
 * decoders behind xc_image_decode_mem, the header-limit check and the gray conversion. */
#ifndef XRAYCLS_IMAGE_INTERNAL_H
#define XRAYCLS_IMAGE_INTERNAL_H

#include <stdint.h>

#include "xraycls/image.h"

/* Decoders for one format; the caller has sniffed the magic bytes and validated channels and
 * limits (non-NULL). Same contract as xc_image_decode_mem. */
int xc_image_decode_jpeg(const uint8_t *buf, size_t len, const char *what, int channels,
                         int min_side_hint, const xc_image_limits *limits, xc_image *out);
/* The largest DCT reduction 1/d (d in 8, 4, 2) keeping both sides of a w x h JPEG >= hint, as
 * Pillow's draft() chooses it; 1 when none does (or hint <= 0). Both JPEG paths use it. */
unsigned xc_image_jpeg_denom(unsigned w, unsigned h, int hint);
/* xc_image_decode_jpeg without the fast path: libjpeg decodes every file. */
int xc_image_decode_libjpeg(const uint8_t *buf, size_t len, const char *what, int channels,
                            int min_side_hint, const xc_image_limits *limits, xc_image *out);
/* The fast path of xc_image_decode_jpeg (image_jpeg_fast.c): gray at 1/2, 1/4 or 1/8 scale
 * (the scale chosen as libjpeg's path chooses it from min_side_hint). 1 with out filled, or 0
 * with nothing allocated when the file is outside what it handles or not exactly well-formed:
 * the caller then decodes it with libjpeg. */
int xc_image_decode_jpeg_fast(const uint8_t *buf, size_t len, int min_side_hint,
                              const xc_image_limits *limits, xc_image *out);
/* Tests only: 1 selects the fast path's pdep refinement decoder (when this build and CPU have
 * one), 0 its portable loop. Returns 1 when the choice took effect. Not thread-safe. */
int xc_image_jpeg_fast_use_pdep(int on);
int xc_image_decode_png(const uint8_t *buf, size_t len, const char *what, int channels,
                        const xc_image_limits *limits, xc_image *out, xc_image_info *info);
/* DICOM through xc_dicom_decode and the display pipeline of xraycls/image.h (image_dicom.c). */
int xc_image_decode_dicom(const uint8_t *buf, size_t len, const char *what, int channels, int min_side_hint,
                          const xc_image_limits *limits, xc_image *out, xc_image_info *info);

/* xc_image_resize into a caller's buffer of out_h * out_w * src->channels bytes. */
int xc_image_resize_into(const xc_image *src, int out_w, int out_h, uint8_t *dst);

/* 0 when a width x height header is within limits, else -1 with
 * "cannot decode 'what': image is WxH, over the limit of ..." */
/* Reserves `bytes` in the process's decoding budget (xraycls/image.h) for the decode this
 * thread is running, replacing any reservation it holds; waits while other threads' decodes
 * use the budget; -1 ("decoding it needs N MB, over the decoding memory budget …") when bytes
 * exceed the whole budget. The reservation ends when xc_image_decode_mem_info returns. */
int xc_image_budget_take(const char *what, int64_t bytes);
int xc_image_check_limits(const char *what, long long width, long long height,
                          const xc_image_limits *limits);

/* ITU-R 601 luma in 16-bit fixed point, rounded, as Pillow's convert('L'). */
static inline uint8_t xc_image_luma(unsigned r, unsigned g, unsigned b) {
    return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
}

#endif
