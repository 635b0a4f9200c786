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
#include <sys/stat.h>

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
 * ".<name>.<pid>.<n>.tmp" and distinct across threads; mode 0666 less the umask. The temporary
 * is flock'ed until it is renamed or removed, so that a later run can tell a dead writer's
 * leftover (xc_remove_stale_temporaries). An existing target must be a regular file: a folder,
 * device (/dev/null), FIFO or socket is refused. A symbolic link to a regular file is followed:
 * the file it names is replaced (its temporary beside it) and the link stays; a dangling link or
 * one to a non-regular file is refused. On failure (missing folder, no permission, …) *a is
 * zeroed and nothing is created. */
int xc_atomic_open(xc_atomic *a, const char *path);
/* Flushes, fsyncs, closes, renames over `path`, fsyncs the folder. On failure the temporary is
 * removed and `path` untouched. Frees a's strings either way. */
int xc_atomic_commit(xc_atomic *a);
/* Closes and removes the temporary; accepts an unopened (zeroed) or committed xc_atomic. */
void xc_atomic_abort(xc_atomic *a);
/* One call: the whole of data to path, atomically. */
int xc_write_file_atomic(const char *path, const void *data, size_t len);

/* Opens `path` for reading, only if it is a regular file: the open never blocks (a FIFO would
 * wait for a writer for ever), and folders, FIFOs, devices and sockets are refused with
 * "cannot read 'x.jpg': is a FIFO, not a regular file". Every reader of an outside file goes
 * through it (xc_read_file, safetensors and torch.save maps, images, CSVs, configs). Returns the
 * descriptor (O_CLOEXEC, blocking, caller closes) and fills *st (may be NULL); -1 on failure. */
int xc_open_regular(const char *path, struct stat *st);
/* "regular file", "folder", "FIFO", "character device", … for a st_mode. Static string. */
const char *xc_file_kind(unsigned mode);

/* Reads a whole file (NUL-terminated, *len excludes the NUL; len may be NULL), through
 * xc_open_regular. Refuses files over max bytes; files whose size stat cannot tell (/proc) are
 * read to the end, up to max. malloc'd, caller frees. */
char *xc_read_file(const char *path, size_t *len, size_t max);

/* Temporaries left in folder `dir` by writers that died (kill -9, power cut): entries named
 * ".<name>.<pid>.<n>.tmp" (files of xc_atomic_open, folders of xc_temp_dir_create) whose lock
 * no process holds are removed. Returns how many were removed, -1 if `dir` cannot be listed.
 * *live (may be NULL) counts those still held by a running process, *live_pid (may be NULL) is
 * the pid in one of their names. This process's own temporaries are never touched. */
int xc_remove_stale_temporaries(const char *dir, int *live, long *live_pid);
/* Creates the folder "<parent>/.<stem>.<pid>.<n>.tmp" and holds an flock on it (descriptor in
 * *lock_fd: close it after the folder is emptied and removed, which releases the lock). The
 * files written into it are plain (not atomic: the folder is the temporary). malloc'd path,
 * caller frees; NULL on failure. */
char *xc_temp_dir_create(const char *parent, const char *stem, int *lock_fd);

/* An output folder written whole or not at all: everything goes into a temporary folder beside
 * it (xc_temp_dir_create), renamed into place by xc_outdir_commit. An existing folder is
 * refused unless `overwrite`: "output folder 'X' exists: WHAT is never replaced silently
 * (--overwrite replaces it, -o names another)"; with it, the old folder is moved aside at commit
 * and removed after. `what` names the contents ("an evaluation"). */
typedef struct {
    char *final; /* the folder asked for (trailing slashes removed) */
    char *tmp;   /* "<parent>/.<name>.<pid>.<n>.tmp", where the files are written */
    int lock_fd;
} xc_outdir;

/* Creates the parents of `path` and the temporary folder. 0, or -1 with *o safe to close. */
int xc_outdir_open(xc_outdir *o, const char *path, int overwrite, const char *what);
/* Moves the complete temporary folder into place. 0 or -1 (the old folder restored). */
int xc_outdir_commit(xc_outdir *o);
/* Removes the temporary folder when not committed, and frees; accepts a zeroed one. */
void xc_outdir_close(xc_outdir *o);

/* Holds an exclusive lock (flock) on file `path`, created when missing, for as long as the
 * returned descriptor stays open (the kernel drops it however the process ends), and writes this
 * process's pid into it. Used for a folder only one process may write at a time (a training
 * run). When another process holds it: -1 with "'WHAT' is in use by process PID" (the pid read
 * from the file) and *holder = that pid (0 when unknown); holder may be NULL. */
int xc_lock_acquire(const char *path, const char *what, long *holder);

/* rm -r: removes path, and when it is a folder everything below it; links are removed, never
 * followed. A missing path is fine (0); -1 naming what could not be removed. */
int xc_remove_tree(const char *path);

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
/* xc_walk, also saying what it passed over: *skipped (xc_strv_free; sorted) holds one
 * "relative/path: why" line per entry that `keep` accepts by name and that is not listed
 * because it is hidden ("hidden (its name starts with '.')", "a hidden folder, not searched"),
 * not a regular file ("a FIFO, not a regular file"), "a dangling symbolic link", "a symbolic
 * link loop", or "cannot be read: …". Entries simply not asked for (folders in a file walk,
 * files in a folder walk) are not lines. */
int xc_walk_report(const char *dir, int flags, int (*keep)(const char *name), char ***out, int64_t *n,
                   char ***skipped, int64_t *nskipped);
/* Frees n strings and the array (accepts NULL). */
void xc_strv_free(char **v, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
