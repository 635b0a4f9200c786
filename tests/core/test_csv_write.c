/* test_csv_write.c — the CSV writer (xraycls/csv.h, "Writing"): quoting, empty and numeric
 * fields, a line ending after every row, streaming with flush, the atomic file; and the file it
 * writes read back by Python's csv module (/usr/bin/python3), one row per row written. */
#include <math.h>

#include "check.h"
#include "xraycls/csv.h"
#include "xraycls/fs.h"

int main(void) {
    xc_csv_writer w = {0};
    xc_csv_field(&w, "plain");
    xc_csv_field(&w, "a,b");
    xc_csv_field(&w, "say \"hi\"");
    xc_csv_field(&w, "two\nlines");
    xc_csv_field(&w, " edge");
    xc_csv_field(&w, NULL);
    xc_csv_end_row(&w);
    xc_csv_num(&w, "%.6f", 0.5);
    xc_csv_num(&w, "%.6f", NAN);
    xc_csv_int(&w, -12);
    xc_csv_empty(&w);
    xc_csv_fieldf(&w, "%s,%d", "x", 3);
    xc_csv_num(&w, "%.17g", INFINITY);
    xc_csv_end_row(&w);
    char *s = xc_csv_take(&w, "t.csv");
    CHECK_MSG(s && !strcmp(s, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" edge\",\n"
                             "0.500000,,-12,,\"x,3\",\n"),
              "%s", s ? s : "(null)");
    free(s);
    CHECK(w.fields == 0 && w.text.s == NULL);

    /* round trip through our reader */
    xc_csv_field(&w, "k");
    xc_csv_field(&w, "v");
    xc_csv_end_row(&w);
    xc_csv_field(&w, "q\"\"q");
    xc_csv_field(&w, "\r\n");
    xc_csv_end_row(&w);
    s = xc_csv_take(&w, "t.csv");
    xc_csv *c = s ? xc_csv_parse(s, strlen(s), "t.csv", 1) : NULL;
    CHECK(c && xc_csv_rows(c) == 1);
    if (c) {
        CHECK(!strcmp(xc_csv_get(c, 0, 0), "q\"\"q"));
        CHECK(!strcmp(xc_csv_get(c, 0, 1), "\r\n"));
    }
    xc_csv_free(c);
    free(s);

    /* streaming: rows flushed one by one, then the same file read by Python's csv module */
    char path[4096];
    snprintf(path, sizeof path, "%s/stream.csv", check_tmpdir());
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    if (fp) {
        xc_csv_field(&w, "name");
        xc_csv_field(&w, "score");
        xc_csv_field(&w, "note");
        xc_csv_end_row(&w);
        CHECK(xc_csv_flush(&w, fp, path) == 0);
        for (int i = 0; i < 3; i++) {
            xc_csv_fieldf(&w, "run %d, \"b\"", i);
            if (i == 1) xc_csv_empty(&w);
            else xc_csv_num(&w, "%.6f", i / 4.0);
            xc_csv_field(&w, i == 2 ? "multi\nline" : "");
            xc_csv_end_row(&w);
            CHECK(xc_csv_flush(&w, fp, path) == 0);
        }
        CHECK(w.text.len == 0);
        fclose(fp);
        char cmd[8192];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import csv,sys\n"
                 "rows = list(csv.reader(open(sys.argv[1], newline=\"\")))\n"
                 "want = [[\"name\",\"score\",\"note\"], [\"run 0, \\\"b\\\"\",\"0.000000\",\"\"],"
                 " [\"run 1, \\\"b\\\"\",\"\",\"\"], [\"run 2, \\\"b\\\"\",\"0.500000\",\"multi\\nline\"]]\n"
                 "sys.exit(0 if rows == want else (print(rows) or 1))' '%s'",
                 path);
        CHECK_MSG(system(cmd) == 0, "Python's csv module reads other rows");
    }
    /* the atomic whole-file write */
    snprintf(path, sizeof path, "%s/doc.csv", check_tmpdir());
    xc_csv_field(&w, "a");
    xc_csv_end_row(&w);
    CHECK(xc_csv_write_atomic(&w, path) == 0);
    size_t len;
    s = xc_read_file(path, &len, 1 << 20);
    CHECK(s && !strcmp(s, "a\n"));
    free(s);
    xc_csv_field(&w, "a");
    CHECK(xc_csv_write_atomic(&w, "/nonexistent-dir/x.csv") < 0);
    CHECK_CONTAINS(xc_error(), "/nonexistent-dir/x.csv");
    /* a failed append is reported at the flush */
    w.text.oom = 1;
    CHECK(xc_csv_flush(&w, stdout, "out.csv") < 0);
    CHECK_CONTAINS(xc_error(), "cannot write 'out.csv': out of memory");
    xc_csv_writer_free(&w);
    return check_done("csv_write");
}
