/* check.h — the test harness: CHECK records a failure with file:line and goes on; a test's main
 * ends with `return check_done("name");`, which prints "N passed, N failed" and returns non-zero
 * when anything failed or when nothing was checked at all. A test that cannot run here (a CUDA
 * test on a CPU machine) returns check_skip("name", "why"): exit code 77, which ctest shows as
 * skipped (SKIP_RETURN_CODE), not passed. Tests find inputs below XRAYCLS_SOURCE_DIR and write
 * below XRAYCLS_TMP. */
#ifndef XRAYCLS_TESTS_CHECK_H
#define XRAYCLS_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (cond) check_pass_++;                                                             \
        else { check_fail_++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                 \
    do {                                                                                     \
        if (cond) check_pass_++;                                                             \
        else {                                                                               \
            check_fail_++;                                                                   \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);         \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fputc('\n', stderr);                                                             \
        }                                                                                    \
    } while (0)

/* |a - b| <= atol + rtol * |b| */
#define CHECK_CLOSE(a, b, atol, rtol)                                                        \
    do {                                                                                     \
        double ca_ = (double)(a), cb_ = (double)(b);                                         \
        CHECK_MSG(fabs(ca_ - cb_) <= (atol) + (rtol) * fabs(cb_), "%.9g vs %.9g", ca_, cb_); \
    } while (0)

/* A message contains a substring. */
#define CHECK_CONTAINS(msg, sub)                                                             \
    CHECK_MSG((msg) && strstr((msg), (sub)) != NULL, "'%s' lacks '%s'", (msg) ? (msg) : "(null)", (sub))

#define CHECK_SKIP_CODE 77

static inline int check_done(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_pass_, check_fail_);
    if (check_pass_ + check_fail_ == 0) {
        fprintf(stderr, "%s: no check ran: a test that checks nothing cannot fail\n", name);
        return 1;
    }
    return check_fail_ ? 1 : 0;
}

/* Ends a test that cannot run on this machine; ctest reports it as skipped with the reason. */
static inline int check_skip(const char *name, const char *why) {
    printf("%s: skipped: %s\n", name, why);
    return CHECK_SKIP_CODE;
}

/* The scratch folder of this test (created): $XRAYCLS_TMP under ctest, else a fresh folder
 * under /tmp, so a test run by hand never writes into the working directory. */
static inline const char *check_tmpdir(void) {
    const char *d = getenv("XRAYCLS_TMP");
    if (!d || !*d) {
        static char fresh[64];
        if (!fresh[0]) {
            snprintf(fresh, sizeof fresh, "/tmp/xraycls-test-XXXXXX");
            if (!mkdtemp(fresh)) { perror("mkdtemp"); exit(2); }
            fprintf(stderr, "scratch folder: %s\n", fresh);
        }
        return fresh;
    }
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", d);
    if (system(cmd) != 0) { fprintf(stderr, "cannot create %s\n", d); exit(2); }
    return d;
}

static inline const char *check_srcdir(void) {
    const char *d = getenv("XRAYCLS_SOURCE_DIR");
    return (d && *d) ? d : ".";
}

#endif
