/* fs.c — atomic writes (temporary beside the target, fsync, rename, fsync of the folder),
 * bounded whole-file reads, mkdir -p and path helpers (see xraycls/fs.h).
 *
 * Paths are byte strings: spaces and non-ASCII names need nothing special. */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "xraycls/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* The folder of `path` ("." when it has none), malloc'd. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return dup_str(".");
    if (slash == path) return dup_str("/");
    size_t n = (size_t)(slash - path);
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, path, n);
    d[n] = '\0';
    return d;
}

const char *xc_file_kind(unsigned mode) {
    if (S_ISREG(mode)) return "regular file";
    if (S_ISDIR(mode)) return "folder";
    if (S_ISFIFO(mode)) return "FIFO";
    if (S_ISCHR(mode)) return "character device";
    if (S_ISBLK(mode)) return "block device";
    if (S_ISSOCK(mode)) return "socket";
    if (S_ISLNK(mode)) return "symbolic link";
    return "special file";
}

int xc_open_regular(const char *path, struct stat *st_out) {
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever; the
     * type is known only once it is open, so the open itself must not block. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return xc_errorf_errno("cannot read '%s'", path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        xc_errorf_errno("cannot read '%s'", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        xc_errorf("cannot read '%s': is a %s, not a regular file", path, xc_file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    /* Reads of a regular file never block anyway; clear the flag so that nothing downstream
     * (stdio, mmap) sees EAGAIN semantics. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (st_out) *st_out = st;
    return fd;
}

/* Makes every temporary name of this process distinct, across threads. */
static atomic_uint tmp_counter;

/* What an existing `path` lets an atomic write do. A regular file is replaced; a symbolic link
 * is followed (the file it names is replaced and the link kept, *resolved = its target); a
 * dangling link, a folder, a device, a FIFO or a socket is refused: rename() would put a
 * regular file in place of /dev/null or of a link the user made on purpose. */
static int check_target(const char *path, char **resolved) {
    *resolved = NULL;
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return 0;
        return xc_errorf_errno("cannot write '%s'", path);
    }
    if (S_ISLNK(st.st_mode)) {
        struct stat tst;
        if (stat(path, &tst) != 0)
            return xc_errorf("cannot write '%s': is a symbolic link to a missing file (remove the link or "
                             "create its target)", path);
        if (!S_ISREG(tst.st_mode))
            return xc_errorf("cannot write '%s': is a symbolic link to a %s, not to a regular file", path,
                             xc_file_kind(tst.st_mode));
        char *r = realpath(path, NULL);
        if (!r) return xc_errorf_errno("cannot write '%s': cannot resolve the link", path);
        *resolved = r;
        return 0;
    }
    if (!S_ISREG(st.st_mode))
        return xc_errorf("cannot write '%s': exists and is a %s, not a regular file", path, xc_file_kind(st.st_mode));
    return 0;
}

int xc_atomic_open(xc_atomic *a, const char *path_in) {
    memset(a, 0, sizeof *a);
    if (!path_in || !*path_in) return xc_errorf("cannot write '': empty path");
    size_t len = strlen(path_in);
    if (path_in[len - 1] == '/') return xc_errorf("cannot write '%s': is a folder name", path_in);
    char *resolved;
    if (check_target(path_in, &resolved) < 0) return -1;
    const char *path = resolved ? resolved : path_in;
    len = strlen(path);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0; /* keeps the slash */
    size_t cap = len + 64;
    char *tmp = malloc(cap);
    char *final = dup_str(path);
    free(resolved); /* final holds it now */
    path = final;
    if (!tmp || !final) {
        free(tmp);
        free(final);
        return xc_errorf("cannot write '%s': out of memory", path_in);
    }
    /* ".<name>.<pid>.<n>.tmp" in the target's folder: hidden, and never a name we write. */
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        unsigned n = atomic_fetch_add(&tmp_counter, 1u);
        snprintf(tmp, cap, "%.*s.%s.%ld.%u.tmp", (int)dir_len, path, path + dir_len, (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        xc_errorf_errno("cannot write '%s'", path);
        free(tmp);
        free(final);
        return -1;
    }
    /* Held until the rename: a later run that finds the temporary unlocked knows its writer
     * died (the kernel drops the lock with the process) and removes it
     * (xc_remove_stale_temporaries); a locked one belongs to a live writer. */
    (void)flock(fd, LOCK_EX | LOCK_NB);
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        xc_errorf_errno("cannot write '%s'", path);
        close(fd);
        unlink(tmp);
        free(tmp);
        free(final);
        return -1;
    }
    a->fp = fp;
    a->path = final;
    a->tmp = tmp;
    return 0;
}

static void atomic_release(xc_atomic *a) {
    free(a->path);
    free(a->tmp);
    a->path = a->tmp = NULL;
    a->fp = NULL;
}

void xc_atomic_abort(xc_atomic *a) {
    if (!a) return;
    if (a->fp) fclose(a->fp);
    if (a->tmp) unlink(a->tmp);
    atomic_release(a);
}

/* fsyncs the folder holding `path` so that the rename itself is durable. */
static int sync_dir_of(const char *path) {
    char *dir = dir_of(path);
    if (!dir) return xc_errorf("cannot sync the folder of '%s': out of memory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        rc = xc_errorf_errno("cannot sync the folder of '%s'", path);
    } else {
        /* Some file systems cannot fsync folders (EINVAL); the rename stands regardless. */
        if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
            rc = xc_errorf_errno("cannot sync the folder of '%s'", path);
        close(fd);
    }
    free(dir);
    return rc;
}

int xc_atomic_commit(xc_atomic *a) {
    if (!a->fp) {
        xc_atomic_abort(a);
        return xc_errorf("cannot write: the file was not opened");
    }
    FILE *fp = a->fp;
    a->fp = NULL;
    int failed = 0;
    if (ferror(fp)) {
        /* An fwrite failed earlier and the caller did not report it; errno may be stale. */
        xc_errorf("cannot write '%s': write error", a->path);
        failed = 1;
    } else if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        xc_errorf_errno("cannot write '%s'", a->path);
        failed = 1;
    }
    /* Renamed while still open, so that the temporary's lock covers its whole life. */
    if (!failed && rename(a->tmp, a->path) != 0) {
        xc_errorf_errno("cannot write '%s': rename failed", a->path);
        failed = 1;
    }
    if (fclose(fp) != 0 && !failed) {
        /* Flushed and synced above, so the content is in place; report it all the same. */
        xc_errorf_errno("cannot write '%s'", a->path);
        failed = 2;
    }
    if (failed == 2) {
        atomic_release(a);
        return -1;
    }
    if (failed) {
        unlink(a->tmp);
        atomic_release(a);
        return -1;
    }
    int rc = sync_dir_of(a->path);
    atomic_release(a);
    return rc;
}

int xc_write_file_atomic(const char *path, const void *data, size_t len) {
    xc_atomic a;
    if (xc_atomic_open(&a, path) < 0) return -1;
    if (len > 0 && fwrite(data, 1, len, a.fp) != len) {
        xc_errorf_errno("cannot write '%s'", path);
        xc_atomic_abort(&a);
        return -1;
    }
    return xc_atomic_commit(&a);
}

char *xc_read_file(const char *path, size_t *len, size_t max) {
    if (len) *len = 0;
    struct stat st;
    int fd = xc_open_regular(path, &st);
    if (fd < 0) return NULL;
    if ((uintmax_t)st.st_size > (uintmax_t)max) {
        xc_errorf("cannot read '%s': %jd bytes, more than the limit of %zu", path, (intmax_t)st.st_size, max);
        close(fd);
        return NULL;
    }
    /* Regular files are read in one go; /proc files (size 0) grow the buffer. */
    size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
    size_t n = 0;
    char *buf = malloc(cap);
    if (!buf) {
        xc_errorf("cannot read '%s': out of memory", path);
        close(fd);
        return NULL;
    }
    for (;;) {
        if (n + 1 >= cap) {
            if (cap > max) break; /* checked below */
            size_t ncap = cap * 2 > max + 2 ? max + 2 : cap * 2;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                xc_errorf("cannot read '%s': out of memory", path);
                free(buf);
                close(fd);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0) {
            if (errno == EINTR) continue;
            xc_errorf_errno("cannot read '%s'", path);
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > max) break;
    }
    close(fd);
    if (n > max) {
        xc_errorf("cannot read '%s': more than the limit of %zu bytes", path, max);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

int xc_mkdir_p(const char *path) {
    if (!path || !*path) return xc_errorf("cannot create folder '': empty path");
    char *p = dup_str(path);
    if (!p) return xc_errorf("cannot create folder '%s': out of memory", path);
    /* Create each prefix ending before a '/', then the whole path. */
    for (char *s = p + 1;; s++) {
        int last = (*s == '\0');
        if (*s != '/' && !last) continue;
        char saved = *s;
        *s = '\0';
        if (s > p && s[-1] != '/' && mkdir(p, 0777) != 0 && errno != EEXIST) {
            xc_errorf_errno("cannot create folder '%s'", p);
            free(p);
            return -1;
        }
        /* A prefix that exists must be a folder (or a link to one). */
        if (s > p && s[-1] != '/' && !xc_is_dir(p)) {
            xc_errorf("cannot create folder '%s': '%s' exists and is not a folder", path, p);
            free(p);
            return -1;
        }
        *s = saved;
        if (last) break;
    }
    free(p);
    return 0;
}

int xc_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int xc_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *xc_path_join(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    int sep = na > 0 && a[na - 1] != '/';
    char *r = malloc(na + (size_t)sep + nb + 1);
    if (!r) {
        xc_errorf("cannot join paths '%s' and '%s': out of memory", a, b);
        return NULL;
    }
    memcpy(r, a, na);
    if (sep) r[na] = '/';
    memcpy(r + na + (size_t)sep, b, nb + 1);
    return r;
}

/* ---- temporaries of writers that died ------------------------------------------------------- */

/* The pid in a temporary's name ".<name>.<pid>.<n>.tmp", or 0 when the name is not ours. */
static long temp_name_pid(const char *name) {
    size_t n = strlen(name);
    if (n < 9 || name[0] != '.' || strcmp(name + n - 4, ".tmp") != 0) return 0;
    const char *end = name + n - 4; /* at ".tmp" */
    const char *p = end;
    while (p > name && p[-1] >= '0' && p[-1] <= '9') p--;
    if (p == end || p <= name + 1 || p[-1] != '.') return 0; /* <n> */
    const char *q = p - 1;
    const char *d = q;
    while (d > name && d[-1] >= '0' && d[-1] <= '9') d--;
    if (d == q || d <= name + 1 || d[-1] != '.') return 0; /* <pid> */
    long pid = 0;
    for (const char *c = d; c < q; c++) {
        if (pid > (long)INT_MAX / 10) return 0;
        pid = pid * 10 + (*c - '0');
    }
    return pid;
}

/* Removes folder `name` of dirfd with everything below it (never following a link: a link is
 * removed, not what it names), at most 64 levels deep. */
static int remove_temp_tree_depth(int dirfd, const char *name, int depth) {
    if (depth > 64) return -1;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        struct stat st;
        if (fstatat(fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            (void)remove_temp_tree_depth(fd, e->d_name, depth + 1);
        else (void)unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
    return unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int remove_temp_tree(int dirfd, const char *name) { return remove_temp_tree_depth(dirfd, name, 0); }

int xc_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : xc_errorf_errno("cannot remove '%s'", path);
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : xc_errorf_errno("cannot remove '%s'", path);
    if (remove_temp_tree_depth(AT_FDCWD, path, 0) != 0) return xc_errorf_errno("cannot remove '%s'", path);
    return 0;
}

int xc_remove_stale_temporaries(const char *dir, int *live, long *live_pid) {
    if (live) *live = 0;
    if (live_pid) *live_pid = 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return xc_errorf_errno("cannot list '%s'", dir);
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return xc_errorf_errno("cannot list '%s'", dir);
    }
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = temp_name_pid(e->d_name);
        if (pid <= 0) continue;
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
        if (!is_dir && !S_ISREG(st.st_mode)) {
            close(fd);
            continue;
        }
        /* The writer holds LOCK_EX for the temporary's whole life and the kernel drops it when the
         * process ends, however it ends: a lock we can take means nobody is writing it. A
         * temporary of this very process is never touched (its lock may not be taken yet). */
        int free_lock = pid != (long)getpid() && flock(fd, LOCK_EX | LOCK_NB) == 0;
        if (!free_lock) {
            if (live) (*live)++;
            if (live_pid && !*live_pid) *live_pid = pid;
            close(fd);
            continue;
        }
        int r = is_dir ? remove_temp_tree(dfd, e->d_name) : unlinkat(dfd, e->d_name, 0);
        close(fd);
        if (r == 0) removed++;
    }
    closedir(d);
    return removed;
}

char *xc_temp_dir_create(const char *parent, const char *stem, int *lock_fd) {
    *lock_fd = -1;
    static atomic_uint dir_counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&dir_counter, 1u);
        size_t cap = strlen(parent) + strlen(stem) + 64;
        char *p = malloc(cap);
        if (!p) {
            xc_errorf("cannot create a folder in '%s': out of memory", parent);
            return NULL;
        }
        snprintf(p, cap, "%s/.%s.%ld.%u.tmp", parent, stem, (long)getpid(), n);
        if (mkdir(p, 0777) != 0) {
            int e = errno;
            if (e == EEXIST) { /* a leftover of an earlier process with our pid */
                free(p);
                continue;
            }
            xc_errorf_errno("cannot create '%s'", p);
            free(p);
            return NULL;
        }
        int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
            xc_errorf_errno("cannot lock '%s'", p);
            if (fd >= 0) close(fd);
            rmdir(p);
            free(p);
            return NULL;
        }
        *lock_fd = fd;
        return p;
    }
    xc_errorf("cannot create a temporary folder in '%s': too many leftovers", parent);
    return NULL;
}

int xc_lock_acquire(const char *path, const char *what, long *holder) {
    if (holder) *holder = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0) return xc_errorf_errno("cannot open the lock '%s'", path);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return xc_errorf("cannot lock '%s': not a regular file", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        close(fd);
        if (e != EWOULDBLOCK) return errno = e, xc_errorf_errno("cannot lock '%s'", path);
        long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
        if (holder) *holder = pid;
        if (pid > 0) return xc_errorf("'%s' is in use by process %ld (lock '%s')", what, pid, path);
        return xc_errorf("'%s' is in use by another process (lock '%s')", what, path);
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        int rc = xc_errorf_errno("cannot write the lock '%s'", path);
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- output folders ------------------------------------------------------------------------- */

/* The folder of a path ("a/b" → "a", "b" → ".", "/b" → "/") and its last component. malloc'd. */
static char *outdir_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int xc_outdir_open(xc_outdir *o, const char *path, int overwrite, const char *what) {
    memset(o, 0, sizeof *o);
    o->lock_fd = -1;
    if (!path || !*path) return xc_errorf("no output folder given");
    o->final = strdup(path);
    if (!o->final) return xc_errorf("out of memory");
    size_t len = strlen(o->final);
    while (len > 1 && o->final[len - 1] == '/') o->final[--len] = 0;
    struct stat st;
    if (lstat(o->final, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return xc_errorf("output '%s' exists and is not a folder", o->final);
        if (!overwrite)
            return xc_errorf("output folder '%s' exists: %s is never replaced silently (--overwrite replaces it, "
                             "-o names another)", o->final, what);
    }
    char *parent = outdir_parent(o->final);
    const char *slash = strrchr(o->final, '/');
    const char *name = slash ? slash + 1 : o->final;
    int rc = -1;
    if (!parent) xc_errorf("out of memory");
    else if (xc_mkdir_p(parent) == 0) {
        o->tmp = xc_temp_dir_create(parent, name, &o->lock_fd);
        rc = o->tmp ? 0 : -1;
    }
    free(parent);
    return rc;
}

int xc_outdir_commit(xc_outdir *o) {
    struct stat st;
    char *old = NULL;
    if (lstat(o->final, &st) == 0) {
        size_t cap = strlen(o->tmp) + 8;
        old = malloc(cap);
        if (!old) return xc_errorf("out of memory");
        snprintf(old, cap, "%s.old", o->tmp);
        if (rename(o->final, old) != 0) {
            int rc = xc_errorf_errno("cannot move '%s' aside", o->final);
            free(old);
            return rc;
        }
    }
    if (rename(o->tmp, o->final) != 0) {
        int rc = xc_errorf_errno("cannot move '%s' to '%s'", o->tmp, o->final);
        if (old && rename(old, o->final) != 0)
            xc_errorf("cannot move '%s' to '%s', and the old folder is left in '%s'", o->tmp, o->final, old);
        free(old);
        return rc;
    }
    free(o->tmp);
    o->tmp = NULL;
    if (old && xc_remove_tree(old) < 0) fprintf(stderr, "warning: %s\n", xc_error());
    free(old);
    return 0;
}

void xc_outdir_close(xc_outdir *o) {
    if (o->tmp && xc_remove_tree(o->tmp) < 0) fprintf(stderr, "warning: %s\n", xc_error());
    if (o->final && o->lock_fd >= 0) close(o->lock_fd); /* final set: opened, lock_fd meaningful */
    free(o->tmp);
    free(o->final);
    memset(o, 0, sizeof *o);
    o->lock_fd = -1;
}
