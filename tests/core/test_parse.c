/* test_parse.c — the integer parser (xraycls/parse.h): what strtoll would accept and a strict
 * parser must refuse, the bounds, and the messages. */
#include "check.h"
#include "xraycls/parse.h"

int main(void) {
    long long v = -7;
    CHECK(xc_parse_ll("42", 0, 100, &v) == 0 && v == 42);
    CHECK(xc_parse_ll("-3", -5, 5, &v) == 0 && v == -3);
    CHECK(xc_parse_ll("+8", 0, 10, &v) == 0 && v == 8);
    CHECK(xc_parse_ll("9223372036854775807", 0, 9223372036854775807LL, &v) == 0 && v == 9223372036854775807LL);
    v = 5;
    const char *bad[] = {"", " 4", "4 ", "12abc", "1e3", "0x10", "-", "+", "3.0", "--1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_MSG(xc_parse_ll(bad[i], -100, 100, &v) < 0, "'%s' accepted", bad[i]);
        CHECK_CONTAINS(xc_error(), "is not a whole number");
    }
    CHECK(v == 5); /* untouched on failure */
    CHECK(xc_parse_ll("70000", 1, 65536, &v) < 0);
    CHECK_CONTAINS(xc_error(), "'70000' is not in [1, 65536]");
    CHECK(xc_parse_ll("0", 1, 10, &v) < 0);
    CHECK(xc_parse_ll("99999999999999999999", 0, 9223372036854775807LL, &v) < 0); /* overflow */
    CHECK_CONTAINS(xc_error(), "is not in");
    CHECK(xc_parse_ll(NULL, 0, 1, &v) < 0);
    return check_done("parse");
}
