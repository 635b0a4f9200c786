/* xraycls/fs.h — files: atomic writes (temporary file, fsync, rename), whole-file reads, folders
 * and the one folder walk.
 *
 * Nothing the program writes is ever half-written under its final name: every output goes
 * through xc_atomic_* or xc_write_file_atomic. Failure: -1 / NULL with xc_error() naming the
 * path and the reason ("cannot write 'runs/a/last.safetensors': No space left on device"). */
#ifndef XRAYCLS_FS_H
#define XRAYCLS_FS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    FILE *fp;   /* write here */
    char *path; /* final name */
    char *tmp;  /* temporary name beside it */
} xc_atomic;

/* Creates the temporary file beside `path` (same folder, so rename is atomic), named
 * ".<name>.<pid>.<n>.tmp" and distinct across threads; mode 0666 less the umask. On failure
 * (missing folder, no permission, …) *a is zeroed and nothing is created. */
int xc_atomic_open(xc_atomic *a, const char *path);
/* Flushes, fsyncs, closes, renames over `path`, fsyncs the folder. On failure the temporary is
 * removed and `path` untouched. Frees a's strings either way. */
int xc_atomic_commit(xc_atomic *a);
/* Closes and removes the temporary; accepts an unopened (zeroed) or committed xc_atomic. */
void xc_atomic_abort(xc_atomic *a);
/* One call: the whole of data to path, atomically. */
int xc_write_file_atomic(const char *path, const void *data, size_t len);

/* Reads a whole file (NUL-terminated, *len excludes the NUL; len may be NULL). Refuses files over
 * max bytes and folders; files whose size stat cannot tell (pipes, /proc) are read to the end.
 * malloc'd, caller frees. */
char *xc_read_file(const char *path, size_t *len, size_t max);

/* mkdir -p (mode 0777 less the umask); existing folders are fine, an existing non-folder on the
 * way is an error naming it. */
int xc_mkdir_p(const char *path);
/* 1 if path is a folder / a regular file (links followed), else 0. Never fails. */
int xc_is_dir(const char *path);
int xc_is_file(const char *path);
/* "a" + "b" → "a/b"; "a/" + "b" → "a/b"; "" + "b" → "b". b is appended as is, even when
 * absolute. malloc'd, caller frees; NULL only when out of memory. */
char *xc_path_join(const char *a, const char *b);

/* ---- folder walks ---------------------------------------------------------------------------- */

/* What xc_walk lists. */
enum {
    XC_WALK_FILES = 1,     /* regular files (links to files included) */
    XC_WALK_DIRS = 2,      /* folders (links to folders included) */
    XC_WALK_RECURSIVE = 4, /* descend into sub-folders (never through a link, so no loop) */
};

/* The entries of folder `dir` that `flags` asks for and `keep` (NULL: all) accepts, keep being
 * called with the entry's name (its last component). Entries whose name starts with '.' are
 * skipped, and not descended into: hidden files, and the "._x.jpg" copies macOS leaves.
 * Results are paths relative to dir ("a.png", "sub/b.png"), sorted bytewise (strcmp); entries
 * that vanish or cannot be stat'ed while listed are skipped (a dangling link). Descends at most
 * 64 levels. *out (free with xc_strv_free(*out, *n)) and *n are set on success; on failure they
 * are NULL/0 and xc_error() says which folder could not be listed: "cannot list 'x': Permission
 * denied". */
int xc_walk(const char *dir, int flags, int (*keep)(const char *name), char ***out, int64_t *n);
/* Frees n strings and the array (accepts NULL). */
void xc_strv_free(char **v, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
