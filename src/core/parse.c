/* parse.c — the integer parser (xraycls/parse.h). */
#include "xraycls/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int xc_parse_ll(const char *s, long long lo, long long hi, long long *out) {
    if (!s) return xc_errorf("no number given");
    const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!isdigit((unsigned char)*d)) return xc_errorf("'%s' is not a whole number", s);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end) return xc_errorf("'%s' is not a whole number", s);
    if (errno == ERANGE || v < lo || v > hi) return xc_errorf("'%s' is not in [%lld, %lld]", s, lo, hi);
    *out = v;
    return 0;
}

int xc_parse_double(const char *s, double lo, double hi, double *out) {
    if (!s) return xc_errorf("no number given");
    const char *d = (*s == '+' || *s == '-') ? s + 1 : s;
    if (!isdigit((unsigned char)*d) && !(*d == '.' && isdigit((unsigned char)d[1])))
        return xc_errorf("'%s' is not a number", s);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end) return xc_errorf("'%s' is not a number", s);
    if (errno == ERANGE || !(v >= lo && v <= hi)) return xc_errorf("'%s' is not in [%g, %g]", s, lo, hi);
    *out = v;
    return 0;
}
