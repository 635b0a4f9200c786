/* walk.c — the folder walk (xc_walk in xraycls/fs.h): prepare's class folders and their images,
 * and predict's folders of images. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xraycls/fs.h"

typedef struct {
    char **v;
    int64_t n, cap;
} strv;

static int push(strv *s, char *str) {
    if (!str) return -1;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(str);
            return -1;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

/* rel: dir's path relative to the walk's root ("" for the root). */
static int walk(const char *root, const char *rel, int flags, int (*keep)(const char *), strv *out, int depth) {
    char *dir = *rel ? xc_path_join(root, rel) : strdup(root);
    if (!dir) return xc_errorf("cannot list '%s': out of memory", root);
    if (depth > 64) {
        xc_errorf("cannot list '%s': folders nested more than 64 deep", dir);
        free(dir);
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) {
        xc_errorf_errno("cannot list '%s'", dir);
        free(dir);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* ".", "..", hidden */
        char *path = xc_path_join(dir, e->d_name), *sub = *rel ? xc_path_join(rel, e->d_name) : strdup(e->d_name);
        struct stat st, lst;
        if (!path || !sub) {
            rc = xc_errorf("cannot list '%s': out of memory", dir);
        } else if (stat(path, &st) == 0) {
            int is_dir = S_ISDIR(st.st_mode), is_file = S_ISREG(st.st_mode);
            int wanted = ((flags & XC_WALK_FILES) && is_file) || ((flags & XC_WALK_DIRS) && is_dir);
            if (wanted && (!keep || keep(e->d_name))) {
                if (push(out, sub) < 0) rc = xc_errorf("cannot list '%s': out of memory", dir);
                sub = NULL;
            }
            if (rc == 0 && is_dir && (flags & XC_WALK_RECURSIVE) && lstat(path, &lst) == 0 && S_ISDIR(lst.st_mode)) {
                const char *r = sub ? sub : out->v[out->n - 1];
                rc = walk(root, r, flags, keep, out, depth + 1);
            }
        }
        free(path);
        free(sub);
        errno = 0;
    }
    if (rc == 0 && errno != 0) rc = xc_errorf_errno("cannot list '%s'", dir);
    closedir(d);
    free(dir);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int xc_walk(const char *dir, int flags, int (*keep)(const char *name), char ***out, int64_t *n) {
    *out = NULL;
    *n = 0;
    strv v = {0};
    if (walk(dir, "", flags, keep, &v, 0) < 0) {
        xc_strv_free(v.v, v.n);
        return -1;
    }
    if (v.n > 1) qsort(v.v, (size_t)v.n, sizeof *v.v, cmp_str);
    *out = v.v;
    *n = v.n;
    return 0;
}

void xc_strv_free(char **v, int64_t n) {
    if (!v) return;
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
