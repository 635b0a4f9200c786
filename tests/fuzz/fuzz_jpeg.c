/* fuzz_jpeg.c — libFuzzer target for JPEG decoding (xc_image_decode_mem, src/image/image_jpeg.c
 * over libjpeg-turbo): any bytes give an image or -1 with a message, never a crash; see
 * fuzz_image.h for what is checked. Inputs that do not start like a JPEG are skipped. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return fuzz_image_one(data, size, XC_IMAGE_JPEG);
}
