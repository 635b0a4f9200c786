/* rng.c — splitmix64 and xoshiro256** (xraycls/rng.h), after Vigna's public-domain reference
 * implementations. */
#include "xraycls/rng.h"

uint64_t xc_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void xc_rng_seed(xc_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = xc_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t xc_rng_next(xc_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t xc_rng_below(xc_rng *r, uint64_t n) {
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t x = xc_rng_next(r);
        if (x >= threshold) return x % n;
    }
}

double xc_rng_unit(xc_rng *r) { return xc_u64_unit(xc_rng_next(r)); }
