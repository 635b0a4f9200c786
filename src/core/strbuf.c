/* strbuf.c — the growable byte string (xraycls/strbuf.h). */
#include "xraycls/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; 0, or sets oom. */
static int reserve(xc_strbuf *b, size_t n) {
    if (b->oom) return -1;
    if (n > (size_t)-1 / 2 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->s = p;
    b->cap = cap;
    return 0;
}

void xc_strbuf_add(xc_strbuf *b, const void *p, size_t n) {
    if (reserve(b, n) < 0) return;
    if (n) memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void xc_strbuf_puts(xc_strbuf *b, const char *s) { xc_strbuf_add(b, s, strlen(s)); }

void xc_strbuf_putc(xc_strbuf *b, char c) { xc_strbuf_add(b, &c, 1); }

void xc_strbuf_vprintf(xc_strbuf *b, const char *fmt, va_list ap) {
    if (b->oom) return;
    va_list aq;
    va_copy(aq, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, aq);
    va_end(aq);
    if (n < 0) {
        b->oom = 1; /* an encoding error: the text would be incomplete */
        return;
    }
    if ((size_t)n < sizeof tmp) {
        xc_strbuf_add(b, tmp, (size_t)n);
        return;
    }
    if (reserve(b, (size_t)n) < 0) return;
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void xc_strbuf_printf(xc_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    xc_strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void xc_strbuf_json_str(xc_strbuf *b, const char *s) {
    xc_strbuf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"') xc_strbuf_add(b, "\\\"", 2);
        else if (*p == '\\') xc_strbuf_add(b, "\\\\", 2);
        else if (*p == '\n') xc_strbuf_add(b, "\\n", 2);
        else if (*p == '\t') xc_strbuf_add(b, "\\t", 2);
        else if (*p == '\r') xc_strbuf_add(b, "\\r", 2);
        else if (*p < 0x20) xc_strbuf_printf(b, "\\u%04x", *p);
        else xc_strbuf_add(b, p, 1);
    }
    xc_strbuf_putc(b, '"');
}

int xc_strbuf_ok(const xc_strbuf *b, const char *what) {
    return b->oom ? xc_errorf("%s: out of memory", what) : 0;
}

char *xc_strbuf_take(xc_strbuf *b, const char *what) {
    if (!b->oom && !b->s) xc_strbuf_add(b, "", 0);
    if (b->oom) {
        xc_strbuf_free(b);
        xc_errorf("%s: out of memory", what);
        return NULL;
    }
    char *s = b->s;
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void xc_strbuf_free(xc_strbuf *b) {
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

void xc_strbuf_reset(xc_strbuf *b) {
    b->len = 0;
    b->oom = 0;
    if (b->s) b->s[0] = '\0';
}
