/* fuzz.h — shared by the fuzz harnesses: an assertion that aborts (libFuzzer and the replay
 * both report an abort as a crash, with the input that caused it) and a byte toucher that
 * makes ASan check every byte a parser hands back. */
#ifndef XRAYCLS_FUZZ_H
#define XRAYCLS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_ASSERT(cond)                                                                  \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

/* Reads n bytes (ASan flags any that lie outside a live allocation) and folds them into a sum
 * the compiler cannot drop. */
static inline void fuzz_touch(const void *p, size_t n) {
    const volatile uint8_t *b = (const volatile uint8_t *)p;
    uint8_t s = 0;
    for (size_t i = 0; i < n; i++) s ^= b[i];
    __asm__ volatile("" : : "r"(s));
}

/* True when [p, p + n) lies inside [base, base + len). */
static inline int fuzz_inside(const void *p, size_t n, const void *base, size_t len) {
    const uint8_t *q = (const uint8_t *)p, *b = (const uint8_t *)base;
    return q >= b && q <= b + len && n <= (size_t)(b + len - q);
}

#endif
