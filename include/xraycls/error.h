/* xraycls/error.h — the one failure convention of the whole program.
 *
 * Every library function (C and shim) reports failure by returning -1 (functions returning int)
 * or NULL (functions returning a pointer), after leaving a one-line message in a per-thread
 * buffer. Only the CLI layer prints it and chooses the exit code. Messages say what failed first
 * and quote the subject: "cannot read 'x.png': truncated PNG data".
 *
 * Callers that add context wrap the message already there:
 *   if (xc_st_open(&f, path) < 0) return xc_errorf("loading model: %s", xc_error());
 */
#ifndef XRAYCLS_ERROR_H
#define XRAYCLS_ERROR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define XC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define XC_PRINTF(a, b)
#endif

/* Sets this thread's message (printf format; may quote the previous message, which is copied
 * first). Returns -1 so that `return xc_errorf(...)` reads naturally. */
int xc_errorf(const char *fmt, ...) XC_PRINTF(1, 2);

/* Sets this thread's message to errno's text with a prefix: "cannot open 'f': No such file". */
int xc_errorf_errno(const char *fmt, ...) XC_PRINTF(1, 2);

/* This thread's last message ("" when none). The pointer stays valid until the next xc_errorf
 * on this thread. */
const char *xc_error(void);

/* Clears this thread's message. */
void xc_error_clear(void);

#ifdef __cplusplus
}
#endif
#endif
