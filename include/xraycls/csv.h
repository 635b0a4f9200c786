/* xraycls/csv.h — the strict reader of comma-separated files (the CoronaHack metadata, image
 * lists), and the one writer of every CSV the program writes (below, "Writing").
 *
 * What it accepts (RFC 4180 and what spreadsheets write):
 *   - fields separated by ',', records ended by LF or CRLF; the last record may lack its newline;
 *   - quoted fields ("a,b", "say ""hi""", line breaks inside quotes);
 *   - a UTF-8 byte-order mark at the start (skipped);
 *   - empty fields, and blank lines (skipped: they are not records).
 * What it refuses, naming the file and line: a quote inside an unquoted field, characters after
 * a closing quote, an unterminated quote, a NUL byte, and a record whose field count differs
 * from the header's (when a header is used).
 *
 * The first record is the header unless parsed with has_header = 0. Columns are found by name
 * (case-insensitive, surrounding spaces ignored), never by position: real copies of a file
 * reorder and add columns.
 *
 * Failure: NULL / -1 with xc_error() naming the file:
 *   "'meta.csv' line 12: unterminated quoted field"
 */
#ifndef XRAYCLS_CSV_H
#define XRAYCLS_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "xraycls/strbuf.h"

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_csv xc_csv;

/* Parses text (len bytes, need not be NUL-terminated). `what` names the file in messages.
 * has_header: 1 when the first record names the columns. The result owns copies of all fields;
 * free with xc_csv_free. */
xc_csv *xc_csv_parse(const char *text, size_t len, const char *what, int has_header);

/* Reads and parses a file (at most 1 GiB). */
xc_csv *xc_csv_read(const char *path, int has_header);

void xc_csv_free(xc_csv *c); /* accepts NULL */

/* The name given in messages (the path, for xc_csv_read). */
const char *xc_csv_what(const xc_csv *c);

/* Data records (the header excluded). */
int xc_csv_rows(const xc_csv *c);
/* Columns: the header's field count; without a header, the widest record's. */
int xc_csv_cols(const xc_csv *c);
/* The header's name of column `col` ("" without a header or past its end). */
const char *xc_csv_header(const xc_csv *c, int col);
/* The column named `name` (case-insensitive, spaces around the header name ignored), or -1
 * (no message) when absent or when there is no header. */
int xc_csv_col(const xc_csv *c, const char *name);
/* 1 when header cell h names `name` in that sense (case-insensitive, surrounding spaces and
 * tabs ignored: " Path " and "PATH" name "path"), else 0. */
int xc_csv_header_is(const char *h, const char *name);
/* Like xc_csv_col, but absence is an error: "'meta.csv': no column 'Label' in the header
 * (columns: …)". */
int xc_csv_require_col(const xc_csv *c, const char *name);
/* The field at (row, col), rows counted from 0 after the header; "" for a field the record
 * lacks (only possible without a header). Valid until xc_csv_free. */
const char *xc_csv_get(const xc_csv *c, int row, int col);
/* The number of fields of a record. */
int xc_csv_row_fields(const xc_csv *c, int row);
/* The 1-based line of the file where record `row` starts, for messages. */
int xc_csv_line(const xc_csv *c, int row);

/* ---- Writing ----------------------------------------------------------------------------------
 * Every CSV the program writes (eval.csv, the results table, predict's output, metrics.csv, the
 * synthetic metadata) is built here, so that all follow RFC 4180 the same way: fields separated
 * by ',', a field quoted ("…", inner quotes doubled) when it holds ',', '"', a line break or
 * starts or ends with a space, and "\n" after every row, the last one included (RFC 4180 allows
 * LF; Python's csv module, R's read.csv and spreadsheets read it). A number is written as its
 * digits only; a missing value is an empty field, never a word.
 *
 *   xc_csv_writer w = {0};
 *   xc_csv_field(&w, "name"); xc_csv_field(&w, "value"); xc_csv_end_row(&w);
 *   xc_csv_field(&w, "a,b"); xc_csv_num(&w, "%.6f", 0.5); xc_csv_end_row(&w);
 *   xc_csv_write_atomic(&w, "out.csv");          // "name,value\n\"a,b\",0.500000\n"
 * A zeroed writer is empty and valid. Appends cannot fail visibly (memory failures surface at
 * the end, as in xraycls/strbuf.h). A writer streaming rows to a file calls xc_csv_flush after
 * each row. */
typedef struct {
    xc_strbuf text; /* the rows not yet flushed */
    int fields;     /* fields in the current row so far */
} xc_csv_writer;

/* Appends a text field (quoted when needed). NULL is an empty field. */
void xc_csv_field(xc_csv_writer *w, const char *s);
/* Appends a printf-formatted field (quoted when the result needs it). */
void xc_csv_fieldf(xc_csv_writer *w, const char *fmt, ...) XC_PRINTF(2, 3);
/* Appends a number with a printf format for one double ("%.6f", "%.17g"); a NaN or infinite
 * value is an empty field. */
void xc_csv_num(xc_csv_writer *w, const char *fmt, double v);
/* Appends an integer. */
void xc_csv_int(xc_csv_writer *w, long long v);
/* Appends an empty field. */
void xc_csv_empty(xc_csv_writer *w);
/* Ends the row: "\n" (a row of no field is written as an empty line). */
void xc_csv_end_row(xc_csv_writer *w);

/* Writes the rows so far to fp and empties the writer; -1 with "cannot write 'WHAT': …" when
 * the write fails or memory ran out while building them. */
int xc_csv_flush(xc_csv_writer *w, FILE *fp, const char *what);
/* The document (caller frees; "" when empty), or NULL with "WHAT: out of memory". Ends the
 * writer (zeroed either way). */
char *xc_csv_take(xc_csv_writer *w, const char *what);
/* Writes the document to path atomically (xraycls/fs.h) and ends the writer (zeroed either
 * way). 0, or -1 with a message naming path. */
int xc_csv_write_atomic(xc_csv_writer *w, const char *path);
/* Frees the writer's text (accepts a zeroed writer). */
void xc_csv_writer_free(xc_csv_writer *w);

#ifdef __cplusplus
}
#endif
#endif
