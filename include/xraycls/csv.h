/* xraycls/csv.h — a strict reader of comma-separated files (the CoronaHack metadata, image lists).
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

#ifdef __cplusplus
}
#endif
#endif
