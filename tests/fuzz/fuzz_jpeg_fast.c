/* fuzz_jpeg_fast.c — libFuzzer target for the fast JPEG path (src/image/image_jpeg_fast.c),
 * differential: whatever it accepts, libjpeg (with warnings as errors) must accept too, with the
 * same geometry; and it never crashes. The scale hint comes from the input's length, so small
 * files reach the 1/2, 1/4 and 1/8 reductions. */
#include <string.h>

#include "../../src/image/image_internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (xc_image_sniff(data, size) != XC_IMAGE_JPEG) return 0;
    static const int hints[4] = {1, 2, 4, 8};
    int hint = hints[size & 3];
    xc_image_limits lim = {2048, 1 << 20};
    xc_image f, l;
    if (xc_image_decode_jpeg_fast(data, size, hint, &lim, &f) != 1) {
        FUZZ_ASSERT(f.pixels == NULL);
        return 0;
    }
    FUZZ_ASSERT(f.pixels && f.channels == 1);
    fuzz_touch(f.pixels, (size_t)f.width * f.height);
    FUZZ_ASSERT(xc_image_decode_libjpeg(data, size, "fuzz.jpg", 1, hint, &lim, &l) == 0);
    FUZZ_ASSERT(f.width == l.width && f.height == l.height && f.scale_denom == l.scale_denom);
    FUZZ_ASSERT(f.file_width == l.file_width && f.file_height == l.file_height);
    xc_image_free(&l);
    xc_image_free(&f);
    return 0;
}
