/* test_rng.c — splitmix64 and xoshiro256** (xraycls/rng.h) against a Python implementation of
 * the published algorithms (scripts/make_rng_golden.py → tests/golden/core/rng_golden.h): every
 * seeded output of the program depends on these streams staying bit-identical. */
#include <stdint.h>

#include "check.h"
#include "golden/core/rng_golden.h"
#include "xraycls/rng.h"

int main(void) {
    uint64_t st = 0;
    for (int i = 0; i < 4; i++) CHECK(xc_splitmix64(&st) == SPLITMIX_REF[i]);
    CHECK(st == 4 * 0x9E3779B97F4A7C15ULL);
    st = UINT64_MAX;
    for (int i = 4; i < 6; i++) CHECK(xc_splitmix64(&st) == SPLITMIX_REF[i]);

    xc_rng r;
    xc_rng_seed(&r, 0);
    for (int i = 0; i < 8; i++) CHECK_MSG(xc_rng_next(&r) == XOSHIRO_REF_0[i], "draw %d", i);
    xc_rng_seed(&r, 42);
    for (int i = 0; i < 8; i++) CHECK_MSG(xc_rng_next(&r) == XOSHIRO_REF_42[i], "draw %d", i);

    const uint64_t bounds[8] = {1, 2, 3, 10, 1000, (1ULL << 63) + 5, 6, 7};
    xc_rng_seed(&r, 7);
    for (int i = 0; i < 8; i++) CHECK_MSG(xc_rng_below(&r, bounds[i]) == BELOW_REF_7[i], "below %d", i);

    /* unit: the top 53 bits of the draw, in [0, 1) */
    CHECK(xc_u64_unit(0) == 0.0);
    CHECK(xc_u64_unit(UINT64_MAX) < 1.0 && xc_u64_unit(UINT64_MAX) == 1.0 - 0x1.0p-53);
    xc_rng_seed(&r, 42);
    CHECK(xc_rng_unit(&r) == (double)(XOSHIRO_REF_42[0] >> 11) / 9007199254740992.0);
    /* below(n) spreads over [0, n): each of 6 values drawn about 1/6 of 60000 times */
    int count[6] = {0};
    for (int i = 0; i < 60000; i++) count[xc_rng_below(&r, 6)]++;
    for (int k = 0; k < 6; k++) CHECK_MSG(count[k] > 9500 && count[k] < 10500, "value %d: %d", k, count[k]);
    return check_done("rng");
}
