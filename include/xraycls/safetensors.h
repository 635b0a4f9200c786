/* xraycls/safetensors.h — the project's one file format: model files, training checkpoints and
 * prepared datasets are all safetensors.
 *
 * Layout (the public safetensors format): an 8-byte little-endian header length N, N bytes of
 * JSON `{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …,
 * "__metadata__": {"key": "string", …}}`, then the data. Offsets are relative to the start of
 * the data. Reading is strict: header length bounds, known dtypes, shape × dtype size equal to
 * the byte range, ranges inside the file, no overlaps, and the ranges covering the data exactly.
 * Beyond that: the header is UTF-8 without raw control characters; tensor entries hold exactly
 * the three keys; dims and offsets are integers below 2^53; names and metadata keys are unique;
 * metadata values are strings ("__metadata__": null counts as none). Empty tensors may share an
 * offset. Files are memory-mapped; tensor data points into the map and lives until xc_st_close.
 *
 * Writing lays the header out as the reference implementation does ("__metadata__" first,
 * compact JSON, spaces padding it to a multiple of 8 bytes) and streams the data with fwrite,
 * so files of many GB need no extra memory.
 *
 * Writing is atomic: a temporary file beside the target, fsync, rename, fsync of the folder; on
 * any failure the target is untouched and the temporary removed.
 *
 * Failure: NULL / -1 with the message in xc_error(), naming the file and what is wrong.
 */
#ifndef XRAYCLS_SAFETENSORS_H
#define XRAYCLS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types. The numeric values equal xt_dtype's (xraycls/shim.h). */
typedef enum {
    XC_U8 = 0,
    XC_I8,
    XC_I16,
    XC_I32,
    XC_I64,
    XC_F16,
    XC_BF16,
    XC_F32,
    XC_F64,
    XC_BOOL,
    XC_DTYPE_COUNT
} xc_dtype;

#define XC_ST_MAX_DIMS 8
/* Upper bound on the JSON header (100 MB, as the reference implementation). */
#define XC_ST_MAX_HEADER (100u * 1000u * 1000u)

size_t xc_dtype_size(xc_dtype dt);
/* The safetensors spelling: "U8", "F32", … */
const char *xc_dtype_st_name(xc_dtype dt);
/* Parses a safetensors dtype string; -1 if unknown. */
int xc_dtype_from_st_name(const char *s, xc_dtype *out);

typedef struct {
    const char *name;
    xc_dtype dtype;
    int ndim;
    int64_t shape[XC_ST_MAX_DIMS];
    const void *data; /* into the map (or buffer); nbytes long; may be unaligned for > 1 byte types */
    size_t nbytes;
} xc_st_tensor;

typedef struct xc_st_file xc_st_file;

/* Opens and validates a file (memory-mapped). */
xc_st_file *xc_st_open(const char *path);
/* Validates a file already in memory (borrowed: buf must outlive the result); `what` names it
 * in messages. Used by fuzzing and by tests. */
xc_st_file *xc_st_parse(const void *buf, size_t len, const char *what);
void xc_st_close(xc_st_file *f); /* accepts NULL */

const char *xc_st_path(const xc_st_file *f);
/* Tensors in file order (ascending data offset; empty tensors at one offset in header order). */
int xc_st_count(const xc_st_file *f);
const xc_st_tensor *xc_st_at(const xc_st_file *f, int i);
/* NULL (no message) when absent. */
const xc_st_tensor *xc_st_find(const xc_st_file *f, const char *name);
/* Metadata in header order; strings live until xc_st_close. xc_st_meta: NULL when the key is
 * absent; xc_st_meta_at: -1 when i is out of range. */
const char *xc_st_meta(const xc_st_file *f, const char *key);
int xc_st_meta_count(const xc_st_file *f);
int xc_st_meta_at(const xc_st_file *f, int i, const char **key, const char **value);

/* A tensor that must exist with a given dtype and rank (ndim < 0: any rank); the error names
 * the file and tensor. */
const xc_st_tensor *xc_st_require(const xc_st_file *f, const char *name, xc_dtype dt, int ndim);

typedef struct xc_st_writer xc_st_writer;

xc_st_writer *xc_st_writer_new(void);
void xc_st_writer_free(xc_st_writer *w); /* accepts NULL */
/* Adds a tensor; `data` (nbytes = numel × dtype size) is borrowed until xc_st_writer_write
 * returns. Names must be unique, valid UTF-8 and not "__metadata__"; 0 ≤ ndim ≤ XC_ST_MAX_DIMS
 * (shape may be NULL when ndim is 0). A failed add leaves the writer as it was. */
int xc_st_writer_add(xc_st_writer *w, const char *name, xc_dtype dt, int ndim,
                     const int64_t *shape, const void *data, size_t nbytes);
/* The same, copying the data now (for data about to be freed). */
int xc_st_writer_add_copy(xc_st_writer *w, const char *name, xc_dtype dt, int ndim,
                          const int64_t *shape, const void *data, size_t nbytes);
/* Sets a metadata entry (copied; a later call with the same key replaces it, keeping its
 * place). Key and value must be valid UTF-8. */
int xc_st_writer_meta(xc_st_writer *w, const char *key, const char *value);
/* Sets a metadata entry to a JSON tree printed on one line. Takes ownership of `json` (freed
 * whatever happens; NULL, e.g. from a failed cJSON allocation, is an out-of-memory error). */
struct cJSON;
int xc_st_writer_meta_json(xc_st_writer *w, const char *key, struct cJSON *json);
/* Writes the file atomically. Tensors keep the order they were added in. May be called again
 * (e.g. after a failure). */
int xc_st_writer_write(xc_st_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
