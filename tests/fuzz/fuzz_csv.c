/* fuzz_csv.c — libFuzzer target for the CSV reader (xc_csv_parse). The first byte picks
 * has_header, the rest is the text. Any text must parse or give -1 with a message; an accepted
 * table must answer every (row, col) query within its bounds, with header-checked widths. */
#include <string.h>

#include "fuzz.h"
#include "xraycls/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int has_header = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    xc_csv *c = xc_csv_parse(text, len, "fuzz.csv", has_header);
    if (!c) {
        FUZZ_ASSERT(xc_error()[0] != '\0');
        return 0;
    }
    int rows = xc_csv_rows(c), cols = xc_csv_cols(c);
    FUZZ_ASSERT(rows >= 0 && cols >= 0);
    for (int col = 0; col < cols; col++) {
        const char *h = xc_csv_header(c, col);
        FUZZ_ASSERT(h);
        fuzz_touch(h, strlen(h) + 1);
        if (has_header) { /* a header name, trimmed as lookups trim it, finds a column */
            char name[256];
            while (*h == ' ' || *h == '\t') h++;
            size_t n = strlen(h);
            while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
            if (n < sizeof name) {
                memcpy(name, h, n);
                name[n] = '\0';
                int found = xc_csv_col(c, name);
                FUZZ_ASSERT(found >= 0 && found <= col);
            }
        }
    }
    int prev_line = 0;
    for (int r = 0; r < rows; r++) {
        int nf = xc_csv_row_fields(c, r);
        FUZZ_ASSERT(nf >= 1 && nf <= cols);
        if (has_header) FUZZ_ASSERT(nf == cols);
        int line = xc_csv_line(c, r);
        FUZZ_ASSERT(line > prev_line);
        prev_line = line;
        for (int col = 0; col < cols; col++) {
            const char *v = xc_csv_get(c, r, col);
            FUZZ_ASSERT(v);
            fuzz_touch(v, strlen(v) + 1);
        }
    }
    if (!has_header) FUZZ_ASSERT(xc_csv_col(c, "label") == -1);
    if (xc_csv_require_col(c, "no such column") < 0) FUZZ_ASSERT(xc_error()[0] != '\0');
    xc_csv_free(c);
    return 0;
}
