/* test_csv.c — the strict CSV reader (xraycls/csv.h): columns by name, the CoronaHack header
 * with its unnamed first column, CRLF, quoted fields, empty fields, BOM, and each refusal with
 * its message. */
#include "check.h"
#include "xraycls/csv.h"

static xc_csv *parse(const char *text, int has_header) { return xc_csv_parse(text, strlen(text), "t.csv", has_header); }

int main(void) {
    /* The real header: unnamed index column, Label_2 before Label_1, empty fields. */
    const char *real = ",X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,Label_1_Virus_category\n"
                       "0,IM-0128-0001.jpeg,Normal,TRAIN,,\n"
                       "7,person1_virus_6.jpeg,Pnemonia,TRAIN,,Virus\n"
                       "9,x.jpeg,Pnemonia,TEST,COVID-19,Virus\n";
    xc_csv *c = parse(real, 1);
    CHECK(c != NULL);
    if (c) {
        CHECK(xc_csv_rows(c) == 3);
        CHECK(xc_csv_cols(c) == 6);
        CHECK(xc_csv_col(c, "") == 0);
        CHECK(xc_csv_col(c, "label_1_virus_category") == 5); /* any case */
        CHECK(xc_csv_col(c, "Label_2_Virus_category") == 4);
        CHECK(xc_csv_col(c, "nope") == -1);
        CHECK(!strcmp(xc_csv_get(c, 1, xc_csv_col(c, "Label_1_Virus_category")), "Virus"));
        CHECK(!strcmp(xc_csv_get(c, 0, 4), ""));
        CHECK(!strcmp(xc_csv_get(c, 2, 0), "9"));
        CHECK(xc_csv_line(c, 0) == 2 && xc_csv_line(c, 2) == 4);
        CHECK(xc_csv_require_col(c, "Label_3") < 0);
        CHECK_CONTAINS(xc_error(), "no column 'Label_3'");
        CHECK_CONTAINS(xc_error(), "'X_ray_image_name'");
        xc_csv_free(c);
    }
    /* CRLF, BOM, spaces around header names, no final newline, blank lines skipped. */
    c = parse("\xEF\xBB\xBF path , label\r\na.png,Normal\r\n\r\nb.png,Virus", 1);
    CHECK(c != NULL);
    if (c) {
        CHECK(xc_csv_rows(c) == 2);
        CHECK(xc_csv_col(c, "path") == 0 && xc_csv_col(c, "label") == 1);
        CHECK(!strcmp(xc_csv_get(c, 0, 1), "Normal")); /* no \r left */
        CHECK(!strcmp(xc_csv_get(c, 1, 1), "Virus"));
        CHECK(xc_csv_line(c, 1) == 4);
        xc_csv_free(c);
    }
    /* Quoted fields: commas, doubled quotes, a line break, CRLF after the quote. */
    c = parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",\"\"\r\nlast,\"q\"", 1);
    CHECK(c != NULL);
    if (c) {
        CHECK(xc_csv_rows(c) == 3);
        CHECK(!strcmp(xc_csv_get(c, 0, 0), "x, y"));
        CHECK(!strcmp(xc_csv_get(c, 0, 1), "say \"hi\""));
        CHECK(!strcmp(xc_csv_get(c, 1, 0), "two\nlines"));
        CHECK(!strcmp(xc_csv_get(c, 1, 1), ""));
        CHECK(xc_csv_line(c, 2) == 5);
        CHECK(!strcmp(xc_csv_get(c, 2, 1), "q"));
        xc_csv_free(c);
    }
    /* Without a header: ragged records allowed, missing fields read as "". */
    c = parse("a.png,Normal\nb.png,Virus,test\n", 0);
    CHECK(c != NULL);
    if (c) {
        CHECK(xc_csv_rows(c) == 2 && xc_csv_cols(c) == 3);
        CHECK(!strcmp(xc_csv_get(c, 0, 2), ""));
        CHECK(!strcmp(xc_csv_get(c, 1, 2), "test"));
        CHECK(xc_csv_row_fields(c, 0) == 2);
        CHECK(xc_csv_col(c, "a.png") == -1);
        xc_csv_free(c);
    }
    /* Refusals, each naming the file and the line. */
    CHECK(parse("a,b\n1,2,3\n", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "'t.csv' line 2: 3 fields, the header has 2");
    CHECK(parse("a,b\n1\n", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "line 2: 1 field,");
    CHECK(parse("a,b\n\"open,2\n", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "line 2: unterminated quoted field");
    CHECK(parse("a,b\nx\"y,2\n", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "line 2: quote inside an unquoted field");
    CHECK(parse("a,b\n\"x\"y,2\n", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "after a closing quote");
    CHECK(xc_csv_parse("a,b\n1,\0\n", 8, "t.csv", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "NUL byte");
    CHECK(parse("", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "empty file");
    /* The file reader names the path. */
    CHECK(xc_csv_read("/nonexistent/meta.csv", 1) == NULL);
    CHECK_CONTAINS(xc_error(), "/nonexistent/meta.csv");
    return check_done("csv");
}
