/* internal.h — what the files of src/weights share: an arena, the restricted pickle machine
 * (pickle.c), the zip directory reader (zip.c). Not a public header. */
#ifndef XRAYCLS_WEIGHTS_INTERNAL_H
#define XRAYCLS_WEIGHTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/weights.h"

/* ---- arena: every value of a parse lives here and goes in one free -------------------------- */

typedef struct wt_chunk wt_chunk;
typedef struct {
    wt_chunk *head;
    /* One budget for everything a file's parse allocates here (pickle values, dict copies,
     * copies of strided views): 0 = none. A few kilobytes of pickle can otherwise build
     * gigabytes (a memoised list handed to OrderedDict again and again, thousands of broadcast
     * views each copied out). Set by torchfile.c from the file's size (WT_BUDGET). */
    size_t limit, total;
    const char *what; /* the file, for the budget's message */
} wt_arena;

/* The memory a torch file's parse may take: 16 bytes per byte of file, plus 64 MiB. Real files
 * use a small fraction (their pickles are a few bytes per value, and the tensor data is never
 * copied unless strided). */
#define WT_BUDGET(file_len) ((size_t)16 * (file_len) + ((size_t)64 << 20))

/* Zeroed, 16-byte aligned; NULL with a message on exhaustion or when the arena's budget would be
 * passed ("cannot read 'x.pth': it needs more than N MiB to unpickle, …"). */
void *wt_alloc(wt_arena *a, size_t n);
char *wt_strndup(wt_arena *a, const char *s, size_t n); /* NUL-terminated copy */
void wt_arena_free(wt_arena *a);

/* ---- pickle values ------------------------------------------------------------------------ */

typedef enum {
    PV_NONE,
    PV_BOOL,
    PV_INT,    /* fits int64 */
    PV_BIGINT, /* LONG1/LONG4 wider than 8 bytes: little-endian two's complement bytes */
    PV_FLOAT,
    PV_STR,    /* unicode, py2 str and bytes alike */
    PV_TUPLE,
    PV_LIST,
    PV_DICT,   /* items holds key, value, key, value, … */
    PV_GLOBAL,
    PV_STORAGE,
    PV_TENSOR
} pv_type;

/* The globals a weights file may name. */
typedef enum {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR,
    G_REBUILD_TENSOR_V2,
    G_REBUILD_PARAMETER,
    G_REBUILD_PARAMETER_WITH_STATE,
    G_STORAGE_TYPE /* with a dtype */
} pv_global;

typedef struct pv pv;
struct pv {
    pv_type type;
    union {
        int64_t i;                     /* BOOL, INT */
        double f;                      /* FLOAT */
        struct { const char *s; size_t n; } str; /* STR (NUL-terminated copy), BIGINT bytes */
        struct { pv **items; size_t n, cap; } seq; /* TUPLE, LIST, DICT */
        struct { pv_global g; xc_dtype dtype; } global;
        int index;                     /* STORAGE, TENSOR: into the machine's tables */
    } u;
};

/* A storage named by a persistent id. Roots hold data; views (legacy view_metadata) are a
 * window on a root. */
typedef struct {
    const char *key;
    xc_dtype dtype;
    int64_t numel;
    int root;            /* -1 for a root; else the index of the root this is a view of */
    int64_t view_offset; /* elements into the root */
    const uint8_t *data; /* resolved after the pickle: root data, or root data + offset */
} wt_storage;

typedef struct {
    int storage;
    int64_t offset;
    int ndim;
    int64_t shape[XC_ST_MAX_DIMS];
    int64_t stride[XC_ST_MAX_DIMS];
} wt_tensor;

typedef enum { PK_PERSID_NONE, PK_PERSID_ZIP, PK_PERSID_LEGACY } pk_persid;

typedef struct {
    wt_arena arena;
    const char *what; /* the file, for messages */
    wt_storage *storages;
    int n_storages, cap_storages;
    wt_tensor *tensors;
    int n_tensors, cap_tensors;
    int *hash; /* storage keys → indices */
    int hash_cap;
} pk_machine;

/* The storage with this key, or -1. */
int pk_find_storage(const pk_machine *m, const char *key);

/* Frees everything a machine holds (values, storages, tensors); the machine is zeroed. */
void pk_machine_free(pk_machine *m);

/* Runs one pickle starting at buf[pos] (buf holds len bytes; `where` names the pickle in
 * messages: "data.pkl", "the object pickle"). On success *out is the value at STOP and *end
 * the offset just past STOP. Persistent ids are accepted in the given form only. */
int pk_run(pk_machine *m, const uint8_t *buf, size_t len, size_t pos, const char *where,
           pk_persid persid, pv **out, size_t *end);

size_t wt_dtype_size(xc_dtype dt);

/* ---- zip -------------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* arena copy */
    const uint8_t *data;
    uint64_t size;   /* bytes at data (compressed size when method != 0) */
    unsigned method; /* 0 stored; anything else is compressed and unusable here */
} wt_zip_entry;

/* Reads the central directory of a zip held in buf, locates every entry's data and checks
 * the CRC-32 of the stored ones. Entries are sorted by name for wt_zip_find. */
int wt_zip_read(wt_arena *a, const uint8_t *buf, size_t len, const char *what,
                wt_zip_entry **entries, int *n);
const wt_zip_entry *wt_zip_find(const wt_zip_entry *e, int n, const char *name);

#endif
