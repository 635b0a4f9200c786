/* fuzz_png.c — libFuzzer target for PNG decoding (xc_image_decode_mem, src/image/image_png.c
 * over libpng): any bytes give an image or -1 with a message, never a crash; see fuzz_image.h
 * for what is checked. Inputs that do not start like a PNG are skipped.
 *
 * Every PNG chunk carries a CRC-32 that the decoder checks, so nearly every plain mutation dies
 * at the first CRC. Under libFuzzer a custom mutator therefore rewrites the CRCs after each
 * mutation (the committed corpus keeps its deliberately bad-CRC seed for the refusal path). */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_image_one(data, size, XC_IMAGE_PNG);
}

#ifdef XRAYCLS_LIBFUZZER
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

static uint32_t crc32_png(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
    size = LLVMFuzzerMutate(data, size, max_size);
    if (seed % 8 == 0) return size; /* now and then keep a broken CRC */
    size_t at = 8;                  /* chunks: length (4, big-endian), type (4), data, CRC (4) */
    while (at + 12 <= size) {
        uint32_t len = (uint32_t)data[at] << 24 | (uint32_t)data[at + 1] << 16 |
                       (uint32_t)data[at + 2] << 8 | data[at + 3];
        if (len > size - at - 12) break;
        uint32_t c = crc32_png(data + at + 4, (size_t)len + 4);
        uint8_t *q = data + at + 8 + len;
        q[0] = (uint8_t)(c >> 24), q[1] = (uint8_t)(c >> 16), q[2] = (uint8_t)(c >> 8), q[3] = (uint8_t)c;
        at += (size_t)len + 12;
    }
    return size;
}
#endif
