/* csv_write.c — the CSV writer (xraycls/csv.h, "Writing"). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/csv.h"
#include "xraycls/fs.h"

static void sep(xc_csv_writer *w) {
    if (w->fields++) xc_strbuf_putc(&w->text, ',');
}

static int needs_quotes(const char *s, size_t n) {
    if (n && (s[0] == ' ' || s[n - 1] == ' ')) return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') return 1;
    return 0;
}

void xc_csv_field(xc_csv_writer *w, const char *s) {
    sep(w);
    if (!s) return;
    size_t n = strlen(s);
    if (!needs_quotes(s, n)) {
        xc_strbuf_add(&w->text, s, n);
        return;
    }
    xc_strbuf_putc(&w->text, '"');
    for (const char *p = s, *q; *p; p = q) {
        q = strchr(p, '"');
        if (!q) {
            xc_strbuf_puts(&w->text, p);
            break;
        }
        q++;
        xc_strbuf_add(&w->text, p, (size_t)(q - p));
        xc_strbuf_putc(&w->text, '"'); /* "" inside quotes */
    }
    xc_strbuf_putc(&w->text, '"');
}

void xc_csv_fieldf(xc_csv_writer *w, const char *fmt, ...) {
    xc_strbuf f = {0};
    va_list ap;
    va_start(ap, fmt);
    xc_strbuf_vprintf(&f, fmt, ap);
    va_end(ap);
    if (f.oom) w->text.oom = 1;
    xc_csv_field(w, f.s ? f.s : "");
    xc_strbuf_free(&f);
}

void xc_csv_num(xc_csv_writer *w, const char *fmt, double v) {
    if (!isfinite(v)) {
        xc_csv_empty(w);
        return;
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, fmt, v);
    xc_csv_field(w, tmp);
}

void xc_csv_int(xc_csv_writer *w, long long v) {
    sep(w);
    xc_strbuf_printf(&w->text, "%lld", v);
}

void xc_csv_empty(xc_csv_writer *w) { sep(w); }

void xc_csv_end_row(xc_csv_writer *w) {
    xc_strbuf_putc(&w->text, '\n');
    w->fields = 0;
}

int xc_csv_flush(xc_csv_writer *w, FILE *fp, const char *what) {
    if (w->text.oom) {
        xc_strbuf_reset(&w->text);
        return xc_errorf("cannot write '%s': out of memory", what);
    }
    int ok = w->text.len == 0 || fwrite(w->text.s, 1, w->text.len, fp) == w->text.len;
    xc_strbuf_reset(&w->text);
    return ok ? 0 : xc_errorf_errno("cannot write '%s'", what);
}

char *xc_csv_take(xc_csv_writer *w, const char *what) {
    w->fields = 0;
    return xc_strbuf_take(&w->text, what);
}

int xc_csv_write_atomic(xc_csv_writer *w, const char *path) {
    char *text = xc_csv_take(w, path);
    if (!text) return xc_errorf("cannot write '%s': out of memory", path);
    int rc = xc_write_file_atomic(path, text, strlen(text));
    free(text);
    return rc;
}

void xc_csv_writer_free(xc_csv_writer *w) {
    xc_strbuf_free(&w->text);
    w->fields = 0;
}
