/* xraycls/tensorboard.h — TensorBoard event files: scalars, PNG images and text, appended to
 * one events.out.tfevents.<unix-time>.<hostname> file in a folder (`tensorboard --logdir`
 * reads every such file under it; docs/TENSORBOARD.md lists what `train` writes).
 *
 * What it is: a writer of TFRecord-framed `tensorboard.Event` protocol buffers (the .proto
 * files of proto/tensorboard/, pruned from TensorBoard's published schema; protobuf-c).
 * Each record is: uint64 length, masked CRC-32C of the length, the Event, masked CRC-32C of the
 * Event (little-endian; mask(c) = ((c >> 15) | (c << 17)) + 0xa282ead8). The first record is
 * the file version "brain.Event:2". What it is not: a reader, or a writer of histograms, audio
 * or graphs.
 *
 * Durability: records are kept whole in memory and written by xc_tb_flush (and automatically
 * once 4 MiB are pending), then fsync'ed; a run that dies leaves a file of complete records up
 * to the last flush, which TensorBoard reads. The file is appended to, not replaced (a
 * TensorBoard that is watching keeps reading the same file).
 *
 * Built without protobuf-c (XRAYCLS_HAVE_PROTOBUF_C 0), xc_tb_available() is 0 and xc_tb_open
 * fails saying so. Not thread-safe: one writer per thread.
 * Failure: -1 / NULL with xc_error() naming the file. */
#ifndef XRAYCLS_TENSORBOARD_H
#define XRAYCLS_TENSORBOARD_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_tb xc_tb;

/* 1 when this build writes event files (protobuf-c was found at configure time), else 0. */
int xc_tb_available(void);

/* Creates `dir` (mkdir -p) and in it a new events.out.tfevents.<unix-time>.<hostname> file
 * (".<pid>" and then ".<n>" appended when that name is taken: an existing file is never
 * touched), writes the file-version record and flushes it. Caller closes with xc_tb_close. */
xc_tb *xc_tb_open(const char *dir);

/* The file's path (owned by the writer). */
const char *xc_tb_path(const xc_tb *w);

/* A scalar of series `tag` at `step`, as TensorBoard stores them: a float32 simple_value (the
 * double is rounded to the nearest float). Non-finite values are written as they are. */
int xc_tb_add_scalar(xc_tb *w, const char *tag, int64_t step, double value);

/* An image: `png` (len bytes, borrowed) is a PNG of width x height pixels with `channels` 1
 * (gray), 3 (RGB) or 4 (RGBA). */
int xc_tb_add_image(xc_tb *w, const char *tag, int64_t step, const uint8_t *png, size_t len,
                    int width, int height, int channels);

/* Text for TensorBoard's text plugin (rendered as Markdown): a rank-0 DT_STRING tensor with
 * metadata plugin_name "text". `text` is UTF-8, NUL-terminated. */
int xc_tb_add_text(xc_tb *w, const char *tag, int64_t step, const char *text);

/* Writes the pending records and fsyncs the file. */
int xc_tb_flush(xc_tb *w);

/* Flushes, closes and frees; accepts NULL (returns 0). The return value is the flush's. */
int xc_tb_close(xc_tb *w);

/* The TFRecord frame of a payload of n bytes: header = length (8 bytes) + masked CRC-32C of
 * those 8 bytes, footer = masked CRC-32C of the payload. */
void xc_tfrecord_frame(const void *payload, size_t n, uint8_t header[12], uint8_t footer[4]);

/* TFRecord's CRC mask: ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32). */
uint32_t xc_tfrecord_mask(uint32_t crc);

#ifdef __cplusplus
}
#endif
#endif
