/* xraycls/dicom.h — reading one DICOM image: parsing, decompression and the Modality LUT.
 *
 * What it is: the C entry point of src/dicom/, a small C++ library over DCMTK (dcmdata, its JPEG,
 * JPEG-LS and RLE codecs, dcmimgle) and OpenJPEG (JPEG 2000, which Debian's DCMTK 3.6.7 has no
 * codec for). It turns a file held in memory into the modality values of its single frame
 * (stored values with BitsStored / HighBit / PixelRepresentation honoured and the Modality LUT —
 * RescaleSlope/Intercept or the Modality LUT Sequence — applied by DCMTK) plus the attributes the
 * display pipeline needs (photometric interpretation, windows, VOI LUT, VOI LUT Function).
 * What it is not: the display pipeline itself (VOI, inversion, 8 bits): that is C, in
 * src/image/image_dicom.c, behind xc_image_decode_mem.
 *
 * Transfer syntaxes: implicit VR little endian, explicit VR little and big endian, deflated
 * explicit VR little endian, JPEG baseline (process 1), extended (2, 4), lossless (14, 14 SV1),
 * JPEG-LS lossless and near-lossless, JPEG 2000 lossless and lossy, RLE lossless. Anything else
 * is refused naming the syntax.
 *
 * Built without DCMTK (XRAYCLS_HAVE_DCMTK 0) every call fails with
 * "cannot decode 'x.dcm': xraycls was built without DCMTK (DICOM support): install libdcmtk-dev …".
 *
 * Thread safety: any number of threads may decode different files at once (the codecs are
 * registered once, the first time; DCMTK's own log output is switched off then).
 * Exceptions never cross this interface; DCMTK failures come back as -1 with a message.
 */
#ifndef XRAYCLS_DICOM_H
#define XRAYCLS_DICOM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build can decode DICOM (DCMTK was found at configure time), else 0. */
int xc_dicom_available(void);

/* Whether buf looks like a DICOM file: "DICM" at offset 128 (the Part 10 preamble), or — for
 * files written without preamble and meta header — a first element of group 0x0002 or 0x0008
 * whose encoding (explicit VR letters, or an implicit length) is plausible. */
int xc_dicom_sniff(const void *buf, size_t len);

/* One decoded frame. Everything is owned by the frame: release with xc_dicom_frame_free. */
typedef struct {
    int width, height;         /* as decoded: full_width / scale_denom (rounded up), … */
    int full_width, full_height; /* Columns and Rows of the file */
    int scale_denom;           /* 1, or 2/4/8 when a JPEG 2000 frame was decoded at a reduced
                                  resolution (min_side_hint) */
    int samples;               /* 1 (monochrome) or 3 (colour, delivered as 8-bit RGB) */
    int32_t *values;           /* samples == 1: height * width modality values, row-major */
    uint8_t *rgb;              /* samples == 3: height * width * 3 bytes, as DCMTK renders them */
    char photometric[20];      /* as stored: "MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", … */
    int bits_allocated, bits_stored, high_bit, pixel_representation; /* as stored */
    char transfer_syntax[72];  /* its name, e.g. "JPEG 2000 (Lossless only)" */
    int has_rescale;           /* RescaleSlope/Intercept present (not 1/0) */
    double rescale_slope, rescale_intercept;
    int has_modality_lut;      /* a Modality LUT Sequence was applied */
    /* VOI: the first WindowCenter/WindowWidth (nwindows counts them), the VOI LUT Function
     * ("LINEAR", "LINEAR_EXACT", "SIGMOID"; "" when absent), and the first VOI LUT Sequence
     * item: voi_lut_n entries (descriptor's first value, 0 meaning 65536), mapping input
     * voi_lut_first to voi_lut[0], output depth voi_lut_bits. */
    int nwindows;
    double window_center, window_width;
    char voi_function[16];
    int voi_lut_n, voi_lut_first, voi_lut_bits;
    uint16_t *voi_lut;
    char patient_id[72];       /* PatientID (0010,0020), "" when absent */
    int64_t stored_min, stored_max; /* range of the modality values (samples == 1) */
} xc_dicom_frame;

/* Decodes the single frame of a DICOM file held in memory. `what` names it in messages.
 * max_side / max_pixels: limits checked on Rows/Columns before any pixel is decompressed.
 * min_side_hint > 0: the smallest side the caller needs (the size it resizes to); a JPEG 2000
 * frame is then decoded at the lowest wavelet resolution 1/2, 1/4 or 1/8 that keeps both sides
 * at least twice that (the resampler does the rest: within a level of the full decode on
 * average), other syntaxes at full size. 0: always full size.
 * Refused (-1, message "cannot decode 'what': <reason>"): not DICOM or damaged, no Pixel Data,
 * more than one frame, a non-image SOP class, an unsupported transfer syntax, a size over the
 * limits, a photometric interpretation other than MONOCHROME1/2, RGB, YBR_* and PALETTE COLOR.
 * On failure *out is zeroed. */
int xc_dicom_decode(const void *buf, size_t len, const char *what, int max_side, int64_t max_pixels,
                    int min_side_hint, xc_dicom_frame *out);

/* The PatientID of the DICOM file at path into id (cap bytes; "" when absent), reading the
 * header only (parsing stops at the Pixel Data). 0, or -1 when the file cannot be parsed. */
int xc_dicom_patient_id(const char *path, char *id, size_t cap);

/* The most scans a JPEG frame of `pixels` pixels may have: 500, fewer for images over 20
 * megapixels (at most 1e10 scan-pixels), never under 32. Every JPEG decoder here applies it —
 * libjpeg's and the fast one in src/image, DCMTK's in a DICOM file — because each scan costs
 * the whole image's time and a small file can repeat one scan thousands of times. Available
 * without DCMTK. */
int xc_jpeg_scan_limit(int64_t pixels);

/* Frees what a frame owns and zeroes it. Accepts NULL and a zeroed frame. */
void xc_dicom_frame_free(xc_dicom_frame *f);

#ifdef __cplusplus
}
#endif
#endif
