/* xraycls/strbuf.h — the growable byte string every text (or small binary) output is built in:
 * JSON headers, CSV and Markdown documents, tables, encoded PNGs in memory.
 *
 * Appending never fails visibly: an allocation failure sets `oom`, later appends do nothing,
 * and xc_strbuf_take / xc_strbuf_ok report it once, at the end. So a builder is written as a
 * run of appends and one check:
 *   xc_strbuf b = {0};
 *   xc_strbuf_printf(&b, "%d images\n", n);
 *   char *text = xc_strbuf_take(&b, "summary");   // NULL + "summary: out of memory"
 * A zeroed xc_strbuf is empty and valid; s is NUL-terminated whenever it is not NULL, and may
 * hold NUL bytes of its own (len counts them). */
#ifndef XRAYCLS_STRBUF_H
#define XRAYCLS_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    char *s;    /* the bytes so far, NUL-terminated (NULL while empty) */
    size_t len; /* bytes, the NUL excluded */
    size_t cap; /* allocated bytes */
    int oom;    /* 1 once an append failed for memory; the content is then incomplete */
} xc_strbuf;

/* Appends n bytes of p (any bytes, NUL included). */
void xc_strbuf_add(xc_strbuf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
void xc_strbuf_puts(xc_strbuf *b, const char *s);
/* Appends one byte. */
void xc_strbuf_putc(xc_strbuf *b, char c);
/* Appends printf-formatted text, of any length. */
void xc_strbuf_printf(xc_strbuf *b, const char *fmt, ...) XC_PRINTF(2, 3);
void xc_strbuf_vprintf(xc_strbuf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included: '"', '\\' and control characters
 * escaped; bytes >= 0x80 pass through (the text is UTF-8). */
void xc_strbuf_json_str(xc_strbuf *b, const char *s);

/* 0 when every append so far succeeded, else -1 with "WHAT: out of memory". */
int xc_strbuf_ok(const xc_strbuf *b, const char *what);
/* Ends the builder and hands its text to the caller (free() it): never NULL for an empty
 * builder (""), NULL with "WHAT: out of memory" when an append failed. *b is zeroed either way. */
char *xc_strbuf_take(xc_strbuf *b, const char *what);
/* Frees the text and zeroes *b (accepts a zeroed builder). */
void xc_strbuf_free(xc_strbuf *b);
/* Empties the text, keeping its memory (and clearing oom). */
void xc_strbuf_reset(xc_strbuf *b);

#ifdef __cplusplus
}
#endif
#endif
