/* checksum.c — CRC-32 and CRC-32C (see xraycls/checksum.h).
 *
 * CRC-32 is zlib's crc32_z (zlib is linked for libpng anyway). CRC-32C (Castagnoli), which
 * TFRecord framing needs for TensorBoard's event files (src/report/tensorboard.c), is
 * hand-written: no library in the build provides it. Eight bytes a step ("slicing-by-8"). */
#include "xraycls/checksum.h"

#include <pthread.h>
#include <zlib.h>

/* t[k][b] is the CRC-32C of byte b followed by k zero bytes. */
static uint32_t crc32c_t[8][256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1; /* reflected */
        crc32c_t[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++)
            crc32c_t[k][i] = (crc32c_t[k - 1][i] >> 8) ^ crc32c_t[0][crc32c_t[k - 1][i] & 0xff];
}

uint32_t xc_crc32(uint32_t crc, const void *data, size_t n) {
    return (uint32_t)crc32_z((uLong)crc, (const Bytef *)data, n);
}

uint32_t xc_crc32c(uint32_t crc, const void *data, size_t n) {
    pthread_once(&tables_once, make_tables);
    const uint32_t(*t)[256] = (const uint32_t(*)[256])crc32c_t;
    const uint8_t *p = data;
    uint32_t c = crc ^ 0xffffffffu;
    for (; n >= 8; n -= 8, p += 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
            t[3][p[4]] ^ t[2][p[5]] ^ t[1][p[6]] ^ t[0][p[7]];
    }
    for (; n; n--, p++) c = t[0][(c ^ *p) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}
