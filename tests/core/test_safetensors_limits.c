/* test_safetensors_limits.c — headers built to be expensive or misleading: a header near the
 * 100 MB limit holding a million metadata keys (the duplicate check compared every key with
 * every earlier one: 80,000 keys took 16 s, a million would take hours; it is now a sort), a
 * repeated key among them still found, and a UTF-8 byte-order mark before the header (which
 * cJSON would skip) refused. The headers are generated here. */
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/safetensors.h"

/* The 8-byte length, then the header. */
static unsigned char *file_of(const char *header, size_t hlen, size_t *len) {
    unsigned char *b = malloc(8 + hlen);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, header, hlen);
    *len = 8 + hlen;
    return b;
}

/* {"__metadata__": {"k0000000": "vvv…", …}} of n keys, each value `vlen` bytes; the key of
 * index `dup` (if >= 0) repeats key 0. */
static char *meta_header(int n, int vlen, int dup, size_t *hlen) {
    size_t cap = 64 + (size_t)n * (size_t)(vlen + 24);
    char *h = malloc(cap);
    size_t k = (size_t)snprintf(h, cap, "{\"__metadata__\":{");
    for (int i = 0; i < n; i++) {
        k += (size_t)snprintf(h + k, cap - k, "%s\"k%07d\":\"", i ? "," : "", i == dup ? 0 : i);
        memset(h + k, 'v', (size_t)vlen);
        k += (size_t)vlen;
        h[k++] = '"';
    }
    k += (size_t)snprintf(h + k, cap - k, "}}");
    *hlen = k;
    return h;
}

int main(void) {
    alarm(120); /* the quadratic check would run for hours: fail instead */
    size_t hlen, len;
    /* A million keys, about 93 MB of header: under the limit, and accepted. */
    char *h = meta_header(1000000, 80, -1, &hlen);
    CHECK(hlen < XC_ST_MAX_HEADER && hlen > XC_ST_MAX_HEADER * 9 / 10);
    unsigned char *b = file_of(h, hlen, &len);
    free(h);
    xc_st_file *f = xc_st_parse(b, len, "big.safetensors");
    CHECK_MSG(f != NULL, "%s", xc_error());
    if (f) {
        CHECK(xc_st_meta_count(f) == 1000000);
        const char *v = xc_st_meta(f, "k0999999");
        CHECK(v && strlen(v) == 80);
    }
    xc_st_close(f);
    free(b);
    /* The same with one key repeated near the end. */
    h = meta_header(1000000, 80, 999998, &hlen);
    b = file_of(h, hlen, &len);
    free(h);
    CHECK(xc_st_parse(b, len, "dup.safetensors") == NULL);
    CHECK_CONTAINS(xc_error(), "invalid safetensors file 'dup.safetensors': duplicate __metadata__ key 'k0000000'");
    free(b);

    /* A byte-order mark before the JSON. */
    const char bom[] = "\xEF\xBB\xBF{\"__metadata__\":{\"a\":\"b\"}}";
    b = file_of(bom, sizeof bom - 1, &len);
    CHECK(xc_st_parse(b, len, "bom.safetensors") == NULL);
    CHECK_CONTAINS(xc_error(), "'bom.safetensors': the header starts with a UTF-8 byte-order mark");
    free(b);
    const char plain[] = "{\"__metadata__\":{\"a\":\"b\"}}";
    b = file_of(plain, sizeof plain - 1, &len);
    f = xc_st_parse(b, len, "plain.safetensors");
    CHECK_MSG(f != NULL, "%s", xc_error());
    xc_st_close(f);
    free(b);
    return check_done("test_safetensors_limits");
}
