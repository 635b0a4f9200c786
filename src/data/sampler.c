/* sampler.c — which samples form an epoch (xraycls/dataset.h).
 *
 * The order of epoch e is a pure function of (kind, labels, seed, e): each epoch seeds its own
 * generator from splitmix64(seed, e), so resuming at (epoch, position) needs no saved stream.
 * Weighted sampling gives every sample the weight 1 / (number of samples of its class) and
 * draws N times with replacement (inverse-CDF over the cumulative weights, binary search), as
 * torch's WeightedRandomSampler with those weights. */
#include <stdlib.h>
#include <string.h>

#include "xraycls/dataset.h"
#include "xraycls/rng.h"

struct xc_sampler {
    xc_sampler_kind kind;
    int64_t n;
    uint64_t seed;
    double *cdf;    /* weighted: cumulative weights, cdf[n-1] = total */
    int64_t *order; /* this epoch's indices */
    int64_t epoch, pos;
};

/* Epoch e's generator: xoshiro256** seeded from seed ^ e·0xD1B54A32D192ED03. */
static void rng_seed(xc_rng *r, uint64_t seed, uint64_t epoch) {
    xc_rng_seed(r, seed ^ (epoch * 0xD1B54A32D192ED03ull));
}

int xc_sampler_kind_parse(const char *s, xc_sampler_kind *out) {
    static const char *names[] = {"sequential", "shuffle", "weighted"};
    for (int k = 0; k < 3; k++)
        if (!strcmp(s, names[k])) { *out = (xc_sampler_kind)k; return 0; }
    return xc_errorf("unknown sampler '%s' (known: weighted, shuffle, sequential)", s);
}

xc_sampler *xc_sampler_new(xc_sampler_kind kind, const int64_t *labels, int64_t n, int num_classes,
                           uint64_t seed) {
    if (n <= 0) return xc_errorf("sampler over an empty split"), NULL;
    if (num_classes <= 0 || num_classes > XC_MAX_CLASSES)
        return xc_errorf("sampler: %d classes is out of range", num_classes), NULL;
    xc_sampler *s = calloc(1, sizeof *s);
    if (!s || !(s->order = malloc((size_t)n * sizeof *s->order))) goto oom;
    s->kind = kind;
    s->n = n;
    s->seed = seed;
    if (kind == XC_SAMPLER_WEIGHTED) {
        int64_t *count = calloc((size_t)num_classes, sizeof *count);
        if (!count || !(s->cdf = malloc((size_t)n * sizeof *s->cdf))) { free(count); goto oom; }
        for (int64_t i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= num_classes) {
                free(count);
                xc_sampler_free(s);
                return xc_errorf("sampler: label %lld of sample %lld outside [0, %d)",
                                 (long long)labels[i], (long long)i, num_classes), NULL;
            }
            count[labels[i]]++;
        }
        double acc = 0;
        for (int64_t i = 0; i < n; i++) {
            acc += 1.0 / (double)count[labels[i]];
            s->cdf[i] = acc;
        }
        free(count);
    }
    if (xc_sampler_seek(s, 0, 0) < 0) { xc_sampler_free(s); return NULL; }
    return s;
oom:
    xc_sampler_free(s);
    return xc_errorf("out of memory for a sampler over %lld samples", (long long)n), NULL;
}

void xc_sampler_free(xc_sampler *s) {
    if (!s) return;
    free(s->cdf);
    free(s->order);
    free(s);
}

static void build_epoch(xc_sampler *s, int64_t epoch) {
    xc_rng r;
    rng_seed(&r, s->seed, (uint64_t)epoch);
    switch (s->kind) {
    case XC_SAMPLER_SEQUENTIAL:
        for (int64_t i = 0; i < s->n; i++) s->order[i] = i;
        break;
    case XC_SAMPLER_SHUFFLE: /* Fisher–Yates */
        for (int64_t i = 0; i < s->n; i++) s->order[i] = i;
        for (int64_t i = s->n - 1; i > 0; i--) {
            int64_t j = (int64_t)xc_rng_below(&r, (uint64_t)i + 1), t = s->order[i];
            s->order[i] = s->order[j];
            s->order[j] = t;
        }
        break;
    case XC_SAMPLER_WEIGHTED: {
        double total = s->cdf[s->n - 1];
        for (int64_t k = 0; k < s->n; k++) {
            double u = xc_rng_unit(&r) * total;
            int64_t lo = 0, hi = s->n - 1; /* first i with cdf[i] > u */
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (s->cdf[mid] > u) hi = mid;
                else lo = mid + 1;
            }
            s->order[k] = lo;
        }
        break;
    }
    }
}

int xc_sampler_seek(xc_sampler *s, int64_t epoch, int64_t position) {
    if (epoch < 0 || position < 0 || position > s->n)
        return xc_errorf("sampler position (epoch %lld, position %lld) is outside an epoch of %lld",
                         (long long)epoch, (long long)position, (long long)s->n);
    build_epoch(s, epoch);
    s->epoch = epoch;
    s->pos = position;
    return 0;
}

int64_t xc_sampler_next(xc_sampler *s, int64_t *out, int64_t max) {
    int64_t k = s->n - s->pos < max ? s->n - s->pos : max;
    if (k > 0) memcpy(out, s->order + s->pos, (size_t)k * sizeof *out);
    s->pos += k;
    return k;
}

int64_t xc_sampler_position(const xc_sampler *s) { return s->pos; }
int64_t xc_sampler_epoch_len(const xc_sampler *s) { return s->n; }
