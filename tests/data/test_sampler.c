/* test_sampler.c — epochs are deterministic for (seed, epoch), resumable at any position, and
 * the weighted sampler balances classes (inverse class frequency, with replacement). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "xraycls/dataset.h"

#define N 2000

static int64_t labels[N];

static void drain(xc_sampler *s, int64_t *out) {
    int64_t got = 0, k;
    while ((k = xc_sampler_next(s, out + got, 37)) > 0) got += k;
    CHECK(got == N);
}

int main(void) {
    /* imbalanced: class 0 70%, class 1 25%, class 2 5% */
    for (int i = 0; i < N; i++) labels[i] = i < 1400 ? 0 : i < 1900 ? 1 : 2;
    static int64_t a[N], b[N], c[N];

    /* shuffle: a permutation, same for the same seed and epoch, different across epochs */
    xc_sampler *s = xc_sampler_new(XC_SAMPLER_SHUFFLE, labels, N, 3, 42);
    CHECK(s != NULL);
    drain(s, a);
    static int seen[N];
    int perm = 1;
    for (int i = 0; i < N; i++) seen[a[i]]++;
    for (int i = 0; i < N; i++) perm &= seen[i] == 1;
    CHECK(perm);
    CHECK(xc_sampler_seek(s, 0, 0) == 0);
    drain(s, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(xc_sampler_seek(s, 1, 0) == 0);
    drain(s, c);
    CHECK(memcmp(a, c, sizeof a) != 0);
    /* resume mid-epoch: positions 700.. of epoch 1 equal the tail of a full epoch 1 */
    CHECK(xc_sampler_seek(s, 1, 700) == 0);
    int64_t tail[N];
    int64_t got = 0, k;
    while ((k = xc_sampler_next(s, tail + got, 64)) > 0) got += k;
    CHECK(got == N - 700);
    CHECK(memcmp(tail, c + 700, (size_t)(N - 700) * sizeof(int64_t)) == 0);
    CHECK(xc_sampler_seek(s, 0, N + 1) < 0);
    CHECK_CONTAINS(xc_error(), "outside an epoch");
    xc_sampler_free(s);

    /* weighted: each class drawn about 1/3 of the time over several epochs */
    s = xc_sampler_new(XC_SAMPLER_WEIGHTED, labels, N, 3, 7);
    CHECK(s != NULL);
    int64_t counts[3] = {0, 0, 0};
    for (int e = 0; e < 10; e++) {
        CHECK(xc_sampler_seek(s, e, 0) == 0);
        drain(s, a);
        for (int i = 0; i < N; i++) {
            CHECK(a[i] >= 0 && a[i] < N);
            counts[labels[a[i]]]++;
        }
    }
    for (int k2 = 0; k2 < 3; k2++) {
        double f = counts[k2] / (10.0 * N);
        CHECK_MSG(f > 0.31 && f < 0.356, "class %d drawn with frequency %.3f", k2, f);
    }
    /* with replacement: some of the 100 class-2 samples come more than once in an epoch */
    CHECK(xc_sampler_seek(s, 3, 0) == 0);
    drain(s, a);
    memset(seen, 0, sizeof seen);
    int repeats = 0;
    for (int i = 0; i < N; i++) repeats += ++seen[a[i]] == 2;
    CHECK(repeats > 0);
    /* reproducible for a seed */
    xc_sampler *s2 = xc_sampler_new(XC_SAMPLER_WEIGHTED, labels, N, 3, 7);
    CHECK(xc_sampler_seek(s2, 3, 0) == 0);
    drain(s2, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    xc_sampler_free(s2);
    xc_sampler_free(s);

    /* sequential */
    s = xc_sampler_new(XC_SAMPLER_SEQUENTIAL, labels, N, 3, 0);
    drain(s, a);
    int ok = 1;
    for (int i = 0; i < N; i++) ok &= a[i] == i;
    CHECK(ok);
    xc_sampler_free(s);

    /* bad input */
    labels[5] = 9;
    CHECK(xc_sampler_new(XC_SAMPLER_WEIGHTED, labels, N, 3, 0) == NULL);
    CHECK_CONTAINS(xc_error(), "label 9 of sample 5");
    xc_sampler_kind kind;
    CHECK(xc_sampler_kind_parse("weighted", &kind) == 0 && kind == XC_SAMPLER_WEIGHTED);
    CHECK(xc_sampler_kind_parse("random", &kind) < 0);
    CHECK_CONTAINS(xc_error(), "unknown sampler 'random'");
    return check_done("test_sampler");
}
