/* xraycls/checksum.h — CRC-32 (zip's and PNG's: reflected polynomial 0xedb88320), for zip
 * entries of torch files and for the parts of a prepared dataset (dataset.json); and CRC-32C
 * (Castagnoli's: reflected polynomial 0x82f63b78), for the TFRecord framing of TensorBoard
 * event files.
 *
 * Not a cryptographic hash: it catches corruption and mixed-up files, not forgery. */
#ifndef XRAYCLS_CHECKSUM_H
#define XRAYCLS_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The CRC-32 of p[0..n) continuing from `crc` (0 to start): crc32(crc32(0, a), b) = crc32(0, ab).
 * Never fails; thread-safe. zlib's crc32_z underneath (any length, no 4 GB limit). */
uint32_t xc_crc32(uint32_t crc, const void *p, size_t n);

/* The CRC-32C of p[0..n), chained the same way: crc32c(0, "123456789") = 0xe3069283. Never
 * fails; thread-safe. */
uint32_t xc_crc32c(uint32_t crc, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
