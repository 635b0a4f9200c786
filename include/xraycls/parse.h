/* xraycls/parse.h — numbers from text (command-line values, "K/N" shards, config strings): the
 * one integer and one decimal parser, strict where strtoll / strtod are lenient. */
#ifndef XRAYCLS_PARSE_H
#define XRAYCLS_PARSE_H

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A whole decimal number in [lo, hi]: an optional sign and digits, nothing else (no spaces, no
 * "12abc", no "1e3", no empty string). 0 with *out set; -1 with *out untouched and
 * "'12abc' is not a whole number" or "'70000' is not in [1, 65536]" in xc_error(), which a
 * caller usually words again with the option's name. */
int xc_parse_ll(const char *s, long long lo, long long hi, long long *out);
/* A decimal number ("0.95", "1e-3") in [lo, hi], nothing after it (no "inf", no "nan": the
 * first character after an optional sign is a digit or a '.' and a digit). As above. */
int xc_parse_double(const char *s, double lo, double hi, double *out);

#ifdef __cplusplus
}
#endif
#endif
