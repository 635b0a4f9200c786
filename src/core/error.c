/* error.c — the per-thread last-error buffer (see xraycls/error.h). */
#include "xraycls/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define XC_ERROR_CAP 2048

static _Thread_local char err_buf[XC_ERROR_CAP];

static void set_v(const char *suffix, const char *fmt, va_list ap) {
    char tmp[XC_ERROR_CAP]; /* the format may quote err_buf itself */
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    if (n < 0) n = 0;
    if (suffix && (size_t)n < sizeof tmp) snprintf(tmp + n, sizeof tmp - (size_t)n, ": %s", suffix);
    memcpy(err_buf, tmp, sizeof tmp);
    err_buf[XC_ERROR_CAP - 1] = '\0';
}

int xc_errorf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    set_v(NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int xc_errorf_errno(const char *fmt, ...) {
    int e = errno;
    va_list ap;
    va_start(ap, fmt);
    set_v(strerror(e), fmt, ap);
    va_end(ap);
    errno = e;
    return -1;
}

const char *xc_error(void) { return err_buf; }

void xc_error_clear(void) { err_buf[0] = '\0'; }
