/* test_checksum.c — CRC-32 and CRC-32C (xraycls/checksum.h): the published check values of
 * both ("123456789" gives 0xcbf43926 and 0xe3069283), chaining, and agreement with a bit-at-a-
 * time reference written here (independent of the tables) over every length 0..300 at every
 * alignment 0..7, which walks the eight-byte loop and its tail. */
#include <stdint.h>

#include "check.h"
#include "xraycls/checksum.h"

/* One bit at a time, straight from the reflected polynomial. */
static uint32_t bitwise(uint32_t poly, const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (poly & (0u - (c & 1)));
    }
    return c ^ 0xffffffffu;
}

int main(void) {
    const char *v = "123456789";
    CHECK_MSG(xc_crc32(0, v, 9) == 0xcbf43926u, "crc32 %08x", xc_crc32(0, v, 9));
    CHECK_MSG(xc_crc32c(0, v, 9) == 0xe3069283u, "crc32c %08x", xc_crc32c(0, v, 9));
    CHECK(xc_crc32c(0, "", 0) == 0);
    /* 32 zero bytes: 0x8a9136aa (RFC 3720, B.4); 32 bytes 0xff: 0x62a8ab43 */
    uint8_t z[32], f[32];
    memset(z, 0, sizeof z);
    memset(f, 0xff, sizeof f);
    CHECK_MSG(xc_crc32c(0, z, 32) == 0x8a9136aau, "%08x", xc_crc32c(0, z, 32));
    CHECK_MSG(xc_crc32c(0, f, 32) == 0x62a8ab43u, "%08x", xc_crc32c(0, f, 32));
    CHECK(xc_crc32c(xc_crc32c(0, v, 4), v + 4, 5) == xc_crc32c(0, v, 9));
    CHECK(xc_crc32(xc_crc32(0, v, 4), v + 4, 5) == xc_crc32(0, v, 9));

    uint8_t buf[320];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        s = s * 1103515245u + 12345u;
        buf[i] = (uint8_t)(s >> 16);
    }
    int bad32 = 0, bad32c = 0;
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; n <= 300; n++) {
            bad32 += xc_crc32(0, buf + off, n) != bitwise(0xedb88320u, buf + off, n);
            bad32c += xc_crc32c(0, buf + off, n) != bitwise(0x82f63b78u, buf + off, n);
        }
    CHECK_MSG(bad32 == 0, "%d CRC-32 mismatches", bad32);
    CHECK_MSG(bad32c == 0, "%d CRC-32C mismatches", bad32c);
    return check_done("test_checksum");
}
