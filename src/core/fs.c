/* fs.c — atomic writes (temporary beside the target, fsync, rename, fsync of the folder),
 * bounded whole-file reads, mkdir -p and path helpers (see xraycls/fs.h).
 *
 * Paths are byte strings: spaces and non-ASCII names need nothing special. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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

/* Makes every temporary name of this process distinct, across threads. */
static atomic_uint tmp_counter;

int xc_atomic_open(xc_atomic *a, const char *path) {
    memset(a, 0, sizeof *a);
    if (!path || !*path) return xc_errorf("cannot write '': empty path");
    size_t len = strlen(path);
    if (path[len - 1] == '/') return xc_errorf("cannot write '%s': is a folder name", path);
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0; /* keeps the slash */
    size_t cap = len + 64;
    char *tmp = malloc(cap);
    char *final = dup_str(path);
    if (!tmp || !final) {
        free(tmp);
        free(final);
        return xc_errorf("cannot write '%s': out of memory", path);
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
    if (fclose(fp) != 0 && !failed) {
        xc_errorf_errno("cannot write '%s'", a->path);
        failed = 1;
    }
    if (!failed && rename(a->tmp, a->path) != 0) {
        xc_errorf_errno("cannot write '%s': rename failed", a->path);
        failed = 1;
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
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        xc_errorf_errno("cannot read '%s'", path);
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        xc_errorf_errno("cannot read '%s'", path);
        close(fd);
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        xc_errorf("cannot read '%s': is a folder", path);
        close(fd);
        return NULL;
    }
    if (S_ISREG(st.st_mode) && (uintmax_t)st.st_size > (uintmax_t)max) {
        xc_errorf("cannot read '%s': %jd bytes, more than the limit of %zu", path, (intmax_t)st.st_size, max);
        close(fd);
        return NULL;
    }
    /* Regular files are read in one go; pipes and /proc files (size 0) grow the buffer. */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 4096;
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
