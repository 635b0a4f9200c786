/* fuzz_safetensors.c — libFuzzer target for the safetensors reader (xc_st_parse): any bytes
 * must give a validated file or -1 with a message, never a crash; an accepted file's tensors
 * must lie inside the buffer with nbytes = numel × dtype size, and its lookups must agree. */
#include <string.h>

#include "fuzz.h"
#include "xraycls/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xc_st_file *f = xc_st_parse(data, size, "fuzz.safetensors");
    if (!f) {
        FUZZ_ASSERT(xc_error()[0] != '\0');
        return 0;
    }
    int n = xc_st_count(f);
    FUZZ_ASSERT(n >= 0);
    for (int i = 0; i < n; i++) {
        const xc_st_tensor *t = xc_st_at(f, i);
        FUZZ_ASSERT(t && t->name);
        FUZZ_ASSERT(t->dtype >= 0 && t->dtype < XC_DTYPE_COUNT);
        FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= XC_ST_MAX_DIMS);
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_ASSERT(t->shape[d] >= 0);
            numel *= (size_t)t->shape[d]; /* cannot overflow: the bytes are inside the buffer */
        }
        FUZZ_ASSERT(numel * xc_dtype_size(t->dtype) == t->nbytes);
        if (t->nbytes) FUZZ_ASSERT(fuzz_inside(t->data, t->nbytes, data, size));
        fuzz_touch(t->data, t->nbytes);
        fuzz_touch(t->name, strlen(t->name));
        FUZZ_ASSERT(xc_st_find(f, t->name) == t);
        FUZZ_ASSERT(xc_st_require(f, t->name, t->dtype, t->ndim) == t);
    }
    FUZZ_ASSERT(xc_st_at(f, n) == NULL);
    int m = xc_st_meta_count(f);
    for (int i = 0; i < m; i++) {
        const char *k = NULL, *v = NULL;
        FUZZ_ASSERT(xc_st_meta_at(f, i, &k, &v) == 0 && k && v);
        FUZZ_ASSERT(xc_st_meta(f, k) == v);
    }
    FUZZ_ASSERT(xc_st_meta_at(f, m, NULL, NULL) == -1);
    xc_st_close(f);
    return 0;
}
