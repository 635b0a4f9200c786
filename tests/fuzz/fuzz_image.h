/* fuzz_image.h — the body shared by fuzz_jpeg.c and fuzz_png.c: decode with small limits (so a
 * header claiming a huge image is refused before allocation and runs stay fast), check the
 * result, and resize it. The decode parameters come from the input's length so that one input
 * always replays the same way. */
#ifndef XRAYCLS_FUZZ_IMAGE_H
#define XRAYCLS_FUZZ_IMAGE_H

#include <string.h>

#include "fuzz.h"
#include "xraycls/image.h"

static int fuzz_image_one(const uint8_t *data, size_t size, xc_image_format want) {
    if (xc_image_sniff(data, size) != want) return 0;
    static const int hints[4] = {0, 1, 16, 64};
    int channels = (size & 1) ? 1 : 3;
    int hint = hints[(size >> 1) & 3];
    xc_image_limits lim = {2048, 1 << 20};
    xc_image img;
    if (xc_image_decode_mem(data, size, "fuzz.img", channels, hint, &lim, &img) < 0) {
        FUZZ_ASSERT(xc_error()[0] != '\0');
        FUZZ_ASSERT(img.pixels == NULL && img.width == 0);
        xc_image_free(&img);
        return 0;
    }
    FUZZ_ASSERT(img.width > 0 && img.height > 0 && img.channels == channels && img.pixels);
    FUZZ_ASSERT(img.scale_denom == 1 || img.scale_denom == 2 || img.scale_denom == 4 ||
                img.scale_denom == 8);
    FUZZ_ASSERT(img.file_width <= lim.max_side && img.file_height <= lim.max_side);
    FUZZ_ASSERT((int64_t)img.file_width * img.file_height <= lim.max_pixels);
    FUZZ_ASSERT(img.width == (img.file_width + img.scale_denom - 1) / img.scale_denom);
    FUZZ_ASSERT(img.height == (img.file_height + img.scale_denom - 1) / img.scale_denom);
    fuzz_touch(img.pixels, (size_t)img.width * img.height * img.channels);
    xc_image small;
    FUZZ_ASSERT(xc_image_resize(&img, 7, 5, &small) == 0);
    fuzz_touch(small.pixels, (size_t)7 * 5 * channels);
    xc_image_free(&small);
    xc_image_free(&img);
    FUZZ_ASSERT(img.pixels == NULL);
    return 0;
}

#endif
