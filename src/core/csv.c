/* csv.c — the strict CSV reader of csv.h: one pass over the text, fields unescaped into a single
 * buffer, records indexing into it. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/csv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xraycls/fs.h"

struct record {
    size_t first; /* index of the first field in fields[] */
    int nfields;
    int line;
};

struct xc_csv {
    char *what;
    char *buf;       /* every field, NUL-terminated, one after the other */
    size_t *fields;  /* offsets into buf */
    size_t nfields, capfields;
    struct record *recs; /* recs[0] is the header when has_header */
    int nrecs, caprecs;
    int has_header;
    int cols;
};

static int push_field(xc_csv *c, size_t off) {
    if (c->nfields == c->capfields) {
        size_t cap = c->capfields ? c->capfields * 2 : 256;
        size_t *p = realloc(c->fields, cap * sizeof *p);
        if (!p) return xc_errorf("'%s': out of memory", c->what);
        c->fields = p;
        c->capfields = cap;
    }
    c->fields[c->nfields++] = off;
    return 0;
}

static int push_record(xc_csv *c, size_t first, int nfields, int line) {
    if (c->nrecs == c->caprecs) {
        int cap = c->caprecs ? c->caprecs * 2 : 64;
        struct record *p = realloc(c->recs, (size_t)cap * sizeof *p);
        if (!p) return xc_errorf("'%s': out of memory", c->what);
        c->recs = p;
        c->caprecs = cap;
    }
    c->recs[c->nrecs++] = (struct record){first, nfields, line};
    return 0;
}

void xc_csv_free(xc_csv *c) {
    if (!c) return;
    free(c->what);
    free(c->buf);
    free(c->fields);
    free(c->recs);
    free(c);
}

/* The parser is a loop over records; within a record, over fields. `o` writes the unescaped
 * field into buf. A field is never longer than its input bytes, and its NUL takes the place of
 * the comma or newline that ends it — except for the last field of the text, hence len + 2. */
xc_csv *xc_csv_parse(const char *text, size_t len, const char *what, int has_header) {
    xc_csv *c = calloc(1, sizeof *c);
    if (!c) {
        xc_errorf("'%s': out of memory", what);
        return NULL;
    }
    c->what = strdup(what ? what : "csv");
    c->buf = malloc(len + 2);
    c->has_header = has_header;
    if (!c->what || !c->buf) {
        xc_errorf("'%s': out of memory", what);
        xc_csv_free(c);
        return NULL;
    }
    size_t i = 0, o = 0;
    int line = 1;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        i = 3;
    while (i < len) {
        /* A blank line (LF or CRLF alone) is not a record. */
        if (text[i] == '\n') { i++; line++; continue; }
        if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') { i += 2; line++; continue; }
        int rec_line = line;
        size_t first = c->nfields;
        int nf = 0;
        for (;;) { /* one field */
            if (push_field(c, o) < 0) goto fail;
            nf++;
            if (i < len && text[i] == '"') {
                int qline = line;
                i++;
                for (;;) {
                    if (i >= len) {
                        xc_errorf("'%s' line %d: unterminated quoted field", c->what, qline);
                        goto fail;
                    }
                    char ch = text[i];
                    if (ch == '"') {
                        if (i + 1 < len && text[i + 1] == '"') { c->buf[o++] = '"'; i += 2; continue; }
                        i++;
                        break;
                    }
                    if (ch == '\0') {
                        xc_errorf("'%s' line %d: NUL byte in the file", c->what, line);
                        goto fail;
                    }
                    if (ch == '\n') line++;
                    c->buf[o++] = ch;
                    i++;
                }
                if (i < len && text[i] != ',' && text[i] != '\n' &&
                    !(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n') && !(text[i] == '\r' && i + 1 == len)) {
                    xc_errorf("'%s' line %d: unexpected character after a closing quote", c->what, line);
                    goto fail;
                }
            } else {
                while (i < len && text[i] != ',' && text[i] != '\n') {
                    char ch = text[i];
                    if (ch == '\r' && (i + 1 == len || text[i + 1] == '\n')) break;
                    if (ch == '"') {
                        xc_errorf("'%s' line %d: quote inside an unquoted field (field %d)", c->what, line, nf);
                        goto fail;
                    }
                    if (ch == '\0') {
                        xc_errorf("'%s' line %d: NUL byte in the file", c->what, line);
                        goto fail;
                    }
                    c->buf[o++] = ch;
                    i++;
                }
            }
            c->buf[o++] = '\0';
            if (i < len && text[i] == ',') { i++; continue; }
            /* end of record: newline, CRLF, lone CR at the very end, or end of text */
            if (i < len && text[i] == '\r') i++;
            if (i < len && text[i] == '\n') { i++; line++; }
            break;
        }
        if (push_record(c, first, nf, rec_line) < 0) goto fail;
    }
    if (has_header) {
        if (c->nrecs == 0) {
            xc_errorf("'%s': empty file, expected a header line", c->what);
            goto fail;
        }
        c->cols = c->recs[0].nfields;
        for (int r = 1; r < c->nrecs; r++)
            if (c->recs[r].nfields != c->cols) {
                xc_errorf("'%s' line %d: %d field%s, the header has %d", c->what, c->recs[r].line,
                          c->recs[r].nfields, c->recs[r].nfields == 1 ? "" : "s", c->cols);
                goto fail;
            }
    } else {
        for (int r = 0; r < c->nrecs; r++)
            if (c->recs[r].nfields > c->cols) c->cols = c->recs[r].nfields;
    }
    return c;
fail:
    xc_csv_free(c);
    return NULL;
}

xc_csv *xc_csv_read(const char *path, int has_header) {
    size_t len = 0;
    char *text = xc_read_file(path, &len, (size_t)1 << 30);
    if (!text) return NULL;
    xc_csv *c = xc_csv_parse(text, len, path, has_header);
    free(text);
    return c;
}

const char *xc_csv_what(const xc_csv *c) { return c->what; }
int xc_csv_rows(const xc_csv *c) { return c->nrecs - (c->has_header ? 1 : 0); }
int xc_csv_cols(const xc_csv *c) { return c->cols; }

static const char *field(const xc_csv *c, int rec, int col) {
    const struct record *r = &c->recs[rec];
    if (col < 0 || col >= r->nfields) return "";
    return c->buf + c->fields[r->first + (size_t)col];
}

const char *xc_csv_header(const xc_csv *c, int col) {
    if (!c->has_header) return "";
    return field(c, 0, col);
}

int xc_csv_header_is(const char *h, const char *name) {
    while (*h == ' ' || *h == '\t') h++;
    size_t n = strlen(name), hl = strlen(h);
    while (hl > 0 && (h[hl - 1] == ' ' || h[hl - 1] == '\t')) hl--;
    return hl == n && strncasecmp(h, name, n) == 0;
}

int xc_csv_col(const xc_csv *c, const char *name) {
    if (!c->has_header) return -1;
    for (int k = 0; k < c->cols; k++)
        if (xc_csv_header_is(field(c, 0, k), name)) return k;
    return -1;
}

int xc_csv_require_col(const xc_csv *c, const char *name) {
    int k = xc_csv_col(c, name);
    if (k >= 0) return k;
    char cols[512];
    size_t n = 0;
    cols[0] = '\0';
    for (int j = 0; j < c->cols && n + 4 < sizeof cols; j++) {
        const char *h = c->has_header ? field(c, 0, j) : "";
        int w = snprintf(cols + n, sizeof cols - n, "%s'%s'", j ? ", " : "", h);
        if (w < 0) break;
        n += (size_t)w;
        if (n >= sizeof cols) { n = sizeof cols - 1; break; }
    }
    return xc_errorf("'%s': no column '%s' in the header (columns: %s)", c->what, name, cols);
}

const char *xc_csv_get(const xc_csv *c, int row, int col) {
    int rec = row + (c->has_header ? 1 : 0);
    if (row < 0 || rec >= c->nrecs) return "";
    return field(c, rec, col);
}

int xc_csv_row_fields(const xc_csv *c, int row) {
    int rec = row + (c->has_header ? 1 : 0);
    if (row < 0 || rec >= c->nrecs) return 0;
    return c->recs[rec].nfields;
}

int xc_csv_line(const xc_csv *c, int row) {
    int rec = row + (c->has_header ? 1 : 0);
    if (row < 0 || rec >= c->nrecs) return 0;
    return c->recs[rec].line;
}
