/* fuzz_torchfile.c — libFuzzer target for the torch.save reader (xc_torchfile_parse): zip
 * archives, legacy pickles and the restricted pickle machine behind both. Any bytes must give
 * a state dict or -1 with a message, never a crash and never a call. For an accepted file:
 * every tensor view lies inside the buffer, names normalize uniquely, and the copies and the
 * contiguous export work (bounded, since a stride-0 view may be far larger than its storage). */
#include <string.h>

#include "fuzz.h"
#include "xraycls/weights.h"

/* Views larger than this (in bytes) are only checked, not copied, to keep runs fast. */
#define FUZZ_COPY_MAX ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xc_torchfile *f = xc_torchfile_parse(data, size, "fuzz.pth");
    if (!f) {
        FUZZ_ASSERT(xc_error()[0] != '\0');
        return 0;
    }
    int n = xc_torchfile_count(f);
    FUZZ_ASSERT(n >= 0);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        const xc_torch_tensor *t = xc_torchfile_at(f, i);
        FUZZ_ASSERT(t && t->name && t->norm_name && t->storage_key);
        FUZZ_ASSERT(t->dtype >= 0 && t->dtype < XC_DTYPE_COUNT);
        FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= XC_ST_MAX_DIMS);
        size_t es = xc_dtype_size(t->dtype);
        int64_t numel = 1, last = 0; /* last: offset in elements of the view's last element */
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_ASSERT(t->shape[d] >= 0 && t->strides[d] >= 0);
            numel = t->shape[d] == 0 || numel == 0 ? 0 : numel * t->shape[d];
        }
        FUZZ_ASSERT(numel == t->numel);
        if (numel > 0) {
            for (int d = 0; d < t->ndim; d++) last += (t->shape[d] - 1) * t->strides[d];
            /* The header promises the view lies inside its storage, hence inside the buffer. */
            FUZZ_ASSERT(fuzz_inside(t->data, ((size_t)last + 1) * es, data, size));
            fuzz_touch(t->data, es);
            fuzz_touch((const uint8_t *)t->data + (size_t)last * es, es);
        }
        FUZZ_ASSERT(xc_torchfile_find(f, t->name) != NULL);
        FUZZ_ASSERT(xc_torchfile_find_norm(f, t->norm_name) == t);
        size_t bytes = (size_t)numel * es;
        if (bytes <= FUZZ_COPY_MAX) {
            total += bytes;
            uint8_t *raw = malloc(bytes ? bytes : 1);
            float *vals = malloc(numel ? (size_t)numel * sizeof(float) : 1);
            FUZZ_ASSERT(raw && vals);
            FUZZ_ASSERT(xc_torchfile_copy(t, raw, bytes) == 0);
            FUZZ_ASSERT(xc_torchfile_copy_f32(t, vals, (size_t)numel) == 0);
            if (t->contiguous) FUZZ_ASSERT(bytes == 0 || memcmp(raw, t->data, bytes) == 0);
            FUZZ_ASSERT(xc_torchfile_copy(t, raw, bytes + 1) == -1);
            free(raw);
            free(vals);
        } else {
            total = FUZZ_COPY_MAX + 1;
        }
    }
    if (total <= FUZZ_COPY_MAX) {
        const xc_st_tensor *st = NULL;
        int m = -1;
        FUZZ_ASSERT(xc_torchfile_st_tensors(f, 1, &st, &m) == 0 && m == n);
        for (int i = 0; i < m; i++) fuzz_touch(st[i].data, st[i].nbytes);
    }
    FUZZ_ASSERT(xc_torchfile_at(f, n) == NULL);
    xc_torchfile_close(f);
    return 0;
}
