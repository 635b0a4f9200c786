/* xraycls/image.h — decoding, resizing and writing 8-bit images (JPEG via libjpeg-turbo, PNG via
 * libpng, DICOM via src/dicom's DCMTK glue with the display pipeline here).
 *
 * An image is 8-bit, 1 (gray) or 3 (RGB) channels, row-major HWC: the sample of channel c at
 * (x, y) is pixels[(y * width + x) * channels + c]. Decoders always deliver the number of
 * channels asked for, whatever the file holds.
 *
 * Decoding:
 *   - The format is sniffed from the magic bytes, never from the file name (real files lie:
 *     PNGs named .jpeg exist). JPEG: FF D8 FF. PNG: 89 'P' 'N' 'G' 0D 0A 1A 0A. DICOM: "DICM"
 *     at offset 128, or a preamble-less data set (xc_dicom_sniff). Anything else is refused as
 *     "not a JPEG, PNG or DICOM image".
 *   - JPEG: baseline and progressive; gray, RGB, YCbCr, CMYK and YCCK. CMYK files with
 *     Adobe's marker (nearly all) store inverted ink: R = C*K/255 on the stored values;
 *     without it, R = (255-C)*(255-K)/255. Gray is produced by libjpeg itself (the luma of
 *     YCbCr) when 1 channel is asked for; RGB→gray elsewhere uses the ITU-R 601 weights
 *     (0.299, 0.587, 0.114), rounded as Pillow's convert('L').
 *     libjpeg warnings (truncated data — "Premature end of JPEG file" —, corrupt entropy data,
 *     …) are errors: a damaged X-ray must not enter a dataset silently gray at the bottom.
 *   - PNG: bit depths 1/2/4/8/16, gray, gray+alpha, RGB, RGBA, palette (with or without tRNS),
 *     interlaced. 16-bit samples are reduced to 8 bits by their significant bits: with an sBIT
 *     chunk of s < 16 bits whose samples all fit in s bits (the raw 12-bit values CR/DX exports
 *     write), v * 255 / (2^s - 1); with sBIT and samples scaled up to 16 bits as the PNG
 *     standard asks, by all 16 bits; without sBIT, by the bits actually used, b = the bit length
 *     of the largest colour sample (at least 8): v * 255 / (2^b - 1), rounded. The choice is
 *     stated in xc_image_info.mapping, and info.low_range is set when the samples use 4 or more
 *     bits fewer than the depth (prepare warns).
 *     Alpha (and tRNS transparency) is DROPPED, not composited: the colour samples are kept
 *     as stored. Gray from RGB uses the 601 weights above. CRC errors in critical chunks and
 *     truncated data are errors; warnings about ancillary chunks are ignored.
 *   - Downscaling in the decoder: when min_side_hint > 0 and the JPEG is much larger, libjpeg
 *     decodes at 1/2, 1/4 or 1/8 scale in the DCT domain (cheap, and an area-like filter),
 *     choosing the largest reduction that keeps BOTH sides >= min_side_hint. The image returned
 *     is then smaller than the file (see scale_denom); callers resize it to their exact size
 *     afterwards with xc_image_resize.
 *     min_side_hint = 0 decodes at full size. PNGs always decode at full size.
 *   - Limits against decompression bombs are checked from the header, before any pixel
 *     buffer is allocated.
 *   - Thread safety: every function may be called from many threads at once; there is no
 *     global state (errors go to the calling thread's xc_error()).
 *
 * Failure: -1 with xc_error() saying what failed and quoting the file:
 *   "cannot decode 'x.jpeg': Premature end of JPEG file"
 *   "cannot decode 'x.png': image is 100000x100000, over the limit of 16384 a side"
 * On failure *out is left zeroed (nothing to free, freeing is harmless).
 */
#ifndef XRAYCLS_IMAGE_H
#define XRAYCLS_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int width;       /* > 0 */
    int height;      /* > 0 */
    int channels;    /* 1 (gray) or 3 (RGB) */
    uint8_t *pixels; /* height * width * channels bytes, row-major HWC; malloc'd, owned by the
                        image: release with xc_image_free */
    /* Where the pixels came from. scale_denom is 1, or 2/4/8 when the JPEG decoder downscaled:
     * pixel (x, y) then covers file pixels [x*d, x*d+d) x [y*d, y*d+d), the last column and row
     * possibly only partly (width = ceil(file_width / d)). xc_image_alloc sets 1 and the
     * image's own size. */
    int file_width, file_height, scale_denom;
} xc_image;

/* Limits checked against the header of a file before its pixels are allocated. */
typedef struct {
    int max_side;       /* largest width or height accepted */
    int64_t max_pixels; /* largest width * height accepted */
} xc_image_limits;

#define XC_IMAGE_MAX_SIDE_DEFAULT 16384
#define XC_IMAGE_MAX_PIXELS_DEFAULT 100000000LL /* 100 Mpx */
/* Files larger than this are refused by xc_image_decode_file before being read. */
#define XC_IMAGE_MAX_FILE_BYTES ((size_t)512 << 20)

/* The decoding memory budget: what all decoding threads of the process may hold at once for
 * pixels and coefficients (an interlaced RGBA PNG at the pixel limit needs 0.9 GB, a progressive
 * JPEG of 100 Mpx 25 MB per component per megapixel…). A decoder reserves its need from the
 * file's header before allocating; a decode that would exceed what is free waits for other
 * threads' decodes to end, and one that needs more than the whole budget is refused naming the
 * file. Default: a quarter of physical memory, at most 4 GiB, at least 256 MiB;
 * XRAYCLS_DECODE_MEMORY_MB (16 .. 2^30) sets it. DICOM frames are bounded by the DICOM reader's
 * own allocation cap instead. */
/* Sets the budget in bytes (<= 0: back to the default) and restarts the peak. */
void xc_image_decode_budget_set(int64_t bytes);
/* The budget in bytes. */
int64_t xc_image_decode_budget(void);
/* The most held at once since the budget was last set (tests, benchmarks). */
int64_t xc_image_decode_budget_peak(void);

/* { XC_IMAGE_MAX_SIDE_DEFAULT, XC_IMAGE_MAX_PIXELS_DEFAULT } */
xc_image_limits xc_image_limits_default(void);

typedef enum { XC_IMAGE_UNKNOWN = 0, XC_IMAGE_JPEG, XC_IMAGE_PNG, XC_IMAGE_DICOM } xc_image_format;

/* What a decoder did to reach 8 bits, for the audit. Filled by xc_image_decode_mem_info.
 *
 * DICOM display pipeline (as a radiology viewer shows the image; PS3.3 C.11): the modality
 * values (stored values with BitsStored/HighBit/PixelRepresentation honoured, then
 * RescaleSlope/Intercept or the Modality LUT Sequence) go through, in this order of preference,
 *   1. the first item of the VOI LUT Sequence: y = LUT[clamp(x - first, 0, n - 1)], scaled from
 *      its descriptor's bit depth to 0..255;
 *   2. the first WindowCenter/WindowWidth with the VOI LUT Function: LINEAR (the default,
 *      C.11.2.1.2.1), LINEAR_EXACT or SIGMOID (C.11.2.1.3);
 *   3. without either, a robust range of the values: lo and hi are the sorted values at ranks
 *      floor(0.005 (n - 1)) and n - 1 - that rank, mapped linearly to 0 and 255 (clamped).
 * The result is rounded to the nearest level, then inverted (255 - y) for MONOCHROME1 so that
 * bone is bright. Colour DICOMs (RGB, YBR, palette) are rendered to RGB by DCMTK. */
typedef struct {
    xc_image_format format;
    int bit_depth;          /* bits per sample in the file (PNG 1..16, JPEG 8, DICOM BitsStored) */
    char mapping[160];      /* how samples became 8 bits, "" for plain 8-bit files:
                               "window 40/400 LINEAR", "VOI LUT sequence (4096 entries)",
                               "robust range 12..3990 (no window in the file)",
                               "sBIT: 12 significant bits", "12 bits used of 16 (no sBIT)" */
    int windowed;           /* 1: the window or VOI LUT came from the file; 2: robust range */
    double window_center, window_width; /* the linear window applied (file's or robust range's) */
    int inverted;           /* MONOCHROME1: inverted to show bone bright */
    int low_range;          /* samples use 4 or more bits fewer than bit_depth: worth a warning */
    int64_t stored_min, stored_max; /* range of the samples (16-bit PNG, monochrome DICOM) */
    char photometric[20];   /* DICOM only */
    char transfer_syntax[72]; /* DICOM only: its name */
    char patient_id[72];    /* DICOM PatientID, "" when absent or not DICOM */
} xc_image_info;

/* The format named by the first bytes of buf (len may be anything, 0 included). */
xc_image_format xc_image_sniff(const void *buf, size_t len);

/* Whether a file found in a folder is an image to read: recognised by content (the first bytes
 * sniff as JPEG, PNG or DICOM — DICOM files often have no extension, or ".dcm"), or named
 * .png/.jpg/.jpeg/.dcm/.dicom (so that a damaged image is tried and reported, not silently
 * passed over). DICOMDIR (a DICOM media index, not an image) is not. 0 or 1; an unreadable file
 * is 1 when its name says image, so that reading it reports the error. */
int xc_image_is_candidate(const char *path);

/* Allocates an image of the given shape (pixels uninitialised). Returns 0, or -1 when the shape
 * is invalid (sides <= 0, channels not 1 or 3) or memory runs out. */
int xc_image_alloc(xc_image *img, int width, int height, int channels);

/* Frees img->pixels and zeroes *img. Accepts NULL and a zeroed image. */
void xc_image_free(xc_image *img);

/* Which JPEG decoder this process uses: "xraycls-fast" (the default: gray at 1/2, 1/4 or 1/8
 * scale through the fast path, src/data/image_jpeg_fast.c, everything else through libjpeg)
 * or "libjpeg" (XRAYCLS_JPEG_DECODER=libjpeg in the environment: every file through libjpeg).
 * The two differ by at most a level or two on a few pixels; prepare records it in
 * dataset.json. */
const char *xc_image_jpeg_decoder(void);

/* Decodes a whole file held in memory. `what` names it in messages (a path, usually).
 * channels: 1 or 3, the number wanted. min_side_hint: see "Downscaling in the decoder" above
 * (0 = full size). limits: NULL for xc_image_limits_default(). On success *out holds a new
 * image that the caller frees with xc_image_free. */
int xc_image_decode_mem(const void *buf, size_t len, const char *what, int channels,
                        int min_side_hint, const xc_image_limits *limits, xc_image *out);

/* xc_image_decode_mem that also reports what was done to reach 8 bits (info may be NULL; it is
 * zeroed first and filled on success). */
int xc_image_decode_mem_info(const void *buf, size_t len, const char *what, int channels,
                             int min_side_hint, const xc_image_limits *limits, xc_image *out,
                             xc_image_info *info);

/* The perceptual hash (the near-duplicate detector's; docs/DATA.md measures it): the image, less
 * `crop` of its width and height on every side (0 <= crop < 0.25), in gray, resized to a 32 x 32
 * thumbnail (xc_image_resize), and the 8 x 8 lowest frequencies of its 2-D DCT-II, coef[8*u + v]
 * (u vertical, unnormalised). 0, or -1 (out of memory, crop out of range). */
int xc_image_dct8(const xc_image *img, double crop, float coef[64]);

/* The 64-bit hash of those coefficients: bit i set when coef[i] > median[i]. With each image's
 * own median of its 64 coefficients this is imagehash's pHash; prepare passes the median of each
 * coefficient over the dataset instead, which removes what all chest radiographs share and
 * separates distinct ones far better (docs/DATA.md). */
uint64_t xc_image_hash_bits(const float coef[64], const float median[64]);

/* Bits in which two hashes differ (0..64). */
int xc_image_hamming(uint64_t a, uint64_t b);

/* Reads `path` (at most XC_IMAGE_MAX_FILE_BYTES) and decodes it with the default limits, as
 * xc_image_decode_mem. An empty or missing file is an error naming the path. */
int xc_image_decode_file(const char *path, int channels, int min_side_hint, xc_image *out);

/* As xc_image_decode_file with explicit limits (NULL = defaults). */
int xc_image_decode_file_limits(const char *path, int channels, int min_side_hint,
                                const xc_image_limits *limits, xc_image *out);

/* Resizes src to out_w x out_h (same channels) into a new image *dst (caller frees).
 * The filter is Pillow's BILINEAR, i.e. a triangle (tent) filter applied separably, with its
 * support widened by the scale factor when downscaling so that every source pixel contributes
 * (area-like anti-aliasing; no aliasing of fine structure on a 10x reduction). Pixel centres
 * are aligned as in Pillow (source coordinate = (x + 0.5) * scale). Results are rounded to the
 * nearest integer and clamped to 0..255; a constant image stays exactly constant. Upscaling
 * uses the plain triangle filter (bilinear interpolation). Equal sizes copy.
 * A DCT-downscaled source (scale_denom > 1) is resampled over the area the file covers,
 * file_width / scale_denom x file_height / scale_denom (Pillow's `box`), not over its whole
 * last partial pixel: so decode(hint) + resize matches a full decode + resize closely. */
int xc_image_resize(const xc_image *src, int out_w, int out_h, xc_image *dst);

/* Decode + resize in one call: the image at `path` as channels (1 or 3), resized to exactly
 * size x size — a plain resize to a square that does not keep the aspect ratio, like
 * torchvision's Resize((size, size)), not a crop. Uses DCT downscaling with min_side_hint =
 * size, then xc_image_resize. out: size * size * channels bytes, HWC, provided by the caller.
 * Default limits. */
int xc_image_load_resized(const char *path, int size, int channels, uint8_t *out);

/* Encoders, for tests and synthetic data. Both write atomically (xc_atomic_*: nothing is left
 * under `path` on failure). PNG: 8-bit gray or RGB, not interlaced. JPEG: quality 1..100,
 * 4:2:0 chroma subsampling for RGB, baseline (progressive = 0) or progressive (1). */
int xc_image_write_png(const char *path, const xc_image *img);
/* The PNG bytes of an 8-bit gray or RGB image, in memory: *out is malloc'd (the caller frees),
 * *len its size. 0, or -1 (invalid image, out of memory) with *out NULL. */
int xc_image_encode_png(const xc_image *img, uint8_t **out, size_t *len);
int xc_image_write_jpeg(const char *path, const xc_image *img, int quality, int progressive);

#ifdef __cplusplus
}
#endif
#endif
