/* checksum.c — CRC-32 and CRC-32C, eight bytes a step ("slicing-by-8"; see xraycls/checksum.h).
 *
 * Hand-written, both: zlib (which the project links) has CRC-32 only, and no library in the
 * build provides CRC-32C (Castagnoli), which TFRecord framing needs for TensorBoard's event
 * files (src/report/tensorboard.c). The two differ only in the polynomial, so they share the
 * table construction and the loop. */
#include "xraycls/checksum.h"

#include <pthread.h>

/* t[k][b] is the CRC of byte b followed by k zero bytes. */
typedef uint32_t crc_tables[8][256];

static crc_tables crc32_t, crc32c_t;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_table(crc_tables t, uint32_t poly) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? poly ^ (c >> 1) : c >> 1;
        t[0][i] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int i = 0; i < 256; i++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
}

static void make_tables(void) {
    make_table(crc32_t, 0xedb88320u);  /* CRC-32 (zip, PNG), reflected */
    make_table(crc32c_t, 0x82f63b78u); /* CRC-32C (Castagnoli), reflected */
}

static uint32_t crc_run(const crc_tables t, uint32_t crc, const void *data, size_t n) {
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

uint32_t xc_crc32(uint32_t crc, const void *data, size_t n) {
    pthread_once(&tables_once, make_tables);
    return crc_run((const uint32_t(*)[256])crc32_t, crc, data, n);
}

uint32_t xc_crc32c(uint32_t crc, const void *data, size_t n) {
    pthread_once(&tables_once, make_tables);
    return crc_run((const uint32_t(*)[256])crc32c_t, crc, data, n);
}
