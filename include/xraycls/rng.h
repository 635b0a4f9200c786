/* xraycls/rng.h — the program's one pseudo-random generator, so that every seeded result
 * (splits, synthetic images, sampler orders, bootstrap resamples) is a function of its seed
 * on every platform and in every release.
 *
 * Two pieces, as in Vigna's reference code (prng.di.unimi.it):
 *   - splitmix64: a 64-bit state advanced by a constant and mixed; used directly where one
 *     cheap stream per item is wanted (synthetic images, the validation split), and to seed
 *   - xoshiro256**: 256 bits of state, the generator of long streams (sampler, bootstrap).
 * The outputs are fixed: changing any line here changes every seeded dataset, sampler order
 * and interval the program has ever produced (tests/core/test_rng.c pins them). Nothing here
 * allocates or fails. Not for cryptography. */
#ifndef XRAYCLS_RNG_H
#define XRAYCLS_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Advances *state by 0x9E3779B97F4A7C15 and returns the mix of the new state. */
uint64_t xc_splitmix64(uint64_t *state);

/* [0, 1) from the top 53 bits of x: every double of that grid equally likely. */
static inline double xc_u64_unit(uint64_t x) { return (double)(x >> 11) * 0x1.0p-53; }

typedef struct {
    uint64_t s[4];
} xc_rng;

/* The state from four successive splitmix64 outputs starting at `seed` (any value, 0 too). */
void xc_rng_seed(xc_rng *r, uint64_t seed);
/* The next 64 random bits (xoshiro256**). */
uint64_t xc_rng_next(xc_rng *r);
/* Uniform in [0, n) for n >= 1, without modulo bias (draws below 2^64 mod n are rejected). */
uint64_t xc_rng_below(xc_rng *r, uint64_t n);
/* Uniform in [0, 1): xc_u64_unit of the next draw. */
double xc_rng_unit(xc_rng *r);

#ifdef __cplusplus
}
#endif
#endif
