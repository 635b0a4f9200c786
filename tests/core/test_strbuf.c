/* test_strbuf.c — the growable string (xraycls/strbuf.h): appends of every kind, growth past
 * the internal printf buffer, binary bytes, JSON string escapes, take / reset / free. */
#include "check.h"
#include "xraycls/strbuf.h"

int main(void) {
    xc_strbuf b = {0};
    char *s = xc_strbuf_take(&b, "empty");
    CHECK(s && !strcmp(s, "")); /* an empty builder gives "", not NULL */
    free(s);

    xc_strbuf_puts(&b, "ab");
    xc_strbuf_putc(&b, 'c');
    xc_strbuf_printf(&b, "%d-%s", 42, "x");
    CHECK(b.len == 7 && !strcmp(b.s, "abc42-x"));
    CHECK(xc_strbuf_ok(&b, "t") == 0);

    /* longer than the 256-byte stack buffer and the first allocation */
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = 0;
    xc_strbuf_printf(&b, "[%s]", big);
    CHECK(b.len == 7 + 5001);
    CHECK(b.s[7] == '[' && b.s[b.len - 1] == ']' && b.s[b.len] == 0);
    CHECK(strspn(b.s + 8, "z") == 4999);

    xc_strbuf_reset(&b);
    CHECK(b.len == 0 && b.s && b.s[0] == 0);
    xc_strbuf_add(&b, "a\0b", 3); /* binary: the NUL is kept */
    CHECK(b.len == 3 && b.s[1] == 0 && b.s[2] == 'b');
    xc_strbuf_free(&b);
    CHECK(b.s == NULL && b.len == 0);

    xc_strbuf_json_str(&b, "q\"b\\n\n\t\r\x01é");
    CHECK_MSG(!strcmp(b.s, "\"q\\\"b\\\\n\\n\\t\\r\\u0001é\""), "%s", b.s);
    s = xc_strbuf_take(&b, "json");
    CHECK(s && b.s == NULL && b.len == 0);
    free(s);

    /* a failed append is reported once, at the end */
    b.oom = 1;
    xc_strbuf_puts(&b, "lost");
    CHECK(b.len == 0);
    CHECK(xc_strbuf_ok(&b, "table") < 0);
    CHECK_CONTAINS(xc_error(), "table: out of memory");
    CHECK(xc_strbuf_take(&b, "table") == NULL);
    CHECK(b.oom == 0 && b.s == NULL);
    return check_done("strbuf");
}
