/* convert.c — strided torch tensors copied out as contiguous row-major values, in their own
 * dtype or as float32 (xc_torchfile_copy, xc_torchfile_copy_f32). */
#include <math.h>
#include <string.h>

#include "internal.h"

static float half_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    if (exp == 0) {
        float f = ldexpf((float)mant, -24); /* zero or subnormal */
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (mant << 13);
    else bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float to_f32(xc_dtype dt, const uint8_t *p) {
    switch (dt) {
    case XC_U8: return (float)p[0];
    case XC_I8: return (float)(int8_t)p[0];
    case XC_BOOL: return p[0] ? 1.0f : 0.0f;
    case XC_I16: { int16_t x; memcpy(&x, p, 2); return (float)x; }
    case XC_I32: { int32_t x; memcpy(&x, p, 4); return (float)x; }
    case XC_I64: { int64_t x; memcpy(&x, p, 8); return (float)x; }
    case XC_F16: { uint16_t x; memcpy(&x, p, 2); return half_to_f32(x); }
    case XC_BF16: {
        uint16_t x;
        memcpy(&x, p, 2);
        uint32_t bits = (uint32_t)x << 16;
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    case XC_F32: { float x; memcpy(&x, p, 4); return x; }
    case XC_F64: { double x; memcpy(&x, p, 8); return (float)x; }
    default: return 0.0f;
    }
}

/* Visits the elements of t in row-major order: fn(element bytes, i, ctx). */
static void walk(const xc_torch_tensor *t, size_t es, void (*fn)(const uint8_t *, size_t, void *), void *ctx) {
    const uint8_t *base = t->data;
    if (t->contiguous) {
        for (size_t i = 0; i < (size_t)t->numel; i++) fn(base + i * es, i, ctx);
        return;
    }
    int64_t idx[XC_ST_MAX_DIMS] = {0};
    int64_t off = 0; /* elements from data */
    for (size_t i = 0; i < (size_t)t->numel; i++) {
        fn(base + (size_t)off * es, i, ctx);
        for (int d = t->ndim - 1; d >= 0; d--) {
            off += t->strides[d];
            if (++idx[d] < t->shape[d]) break;
            off -= t->strides[d] * t->shape[d];
            idx[d] = 0;
        }
    }
}

typedef struct {
    xc_dtype dt;
    size_t es;
    void *out;
} sink;

static void put_f32(const uint8_t *p, size_t i, void *ctx) {
    sink *s = ctx;
    ((float *)s->out)[i] = to_f32(s->dt, p);
}

static void put_raw(const uint8_t *p, size_t i, void *ctx) {
    sink *s = ctx;
    memcpy((uint8_t *)s->out + i * s->es, p, s->es);
}

int xc_torchfile_copy_f32(const xc_torch_tensor *t, float *out, size_t n) {
    if (n != (size_t)t->numel)
        return xc_errorf("cannot copy tensor '%s': it has %lld elements, not %zu", t->name, (long long)t->numel, n);
    sink s = {t->dtype, wt_dtype_size(t->dtype), out};
    if (t->dtype == XC_F32 && t->contiguous) {
        if (n) memcpy(out, t->data, n * sizeof *out);
        return 0;
    }
    walk(t, s.es, put_f32, &s);
    return 0;
}

int xc_torchfile_copy(const xc_torch_tensor *t, void *out, size_t nbytes) {
    size_t es = wt_dtype_size(t->dtype);
    if (nbytes != (size_t)t->numel * es)
        return xc_errorf("cannot copy tensor '%s': it has %lld bytes, not %zu", t->name, (long long)t->numel * (long long)es, nbytes);
    if (t->contiguous) {
        if (nbytes) memcpy(out, t->data, nbytes);
        return 0;
    }
    sink s = {t->dtype, es, out};
    walk(t, es, put_raw, &s);
    return 0;
}
