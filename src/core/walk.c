/* walk.c — the folder walk (xc_walk and xc_walk_report in xraycls/fs.h): prepare's class folders
 * and their images, and predict's folders of images; what it passes over is reported, not
 * dropped in silence. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
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

/* Why an entry that is not listed was passed over; NULL when it is simply not asked for. */
static const char *skip_reason(const char *path, const char *name, const struct stat *st, int stat_errno, int flags,
                               char *buf, size_t cap) {
    if (stat_errno) {
        struct stat lst;
        int link = lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode);
        if (link && stat_errno == ENOENT) return "a dangling symbolic link";
        if (stat_errno == ELOOP) return "a symbolic link loop";
        snprintf(buf, cap, "cannot be read: %s", strerror(stat_errno));
        return buf;
    }
    int is_dir = S_ISDIR(st->st_mode);
    if (name[0] == '.') {
        if (is_dir) return (flags & XC_WALK_RECURSIVE) ? "a hidden folder, not searched" : NULL;
        return (flags & XC_WALK_FILES) && S_ISREG(st->st_mode) ? "hidden (its name starts with '.')" : NULL;
    }
    if (!is_dir && !S_ISREG(st->st_mode) && (flags & XC_WALK_FILES)) {
        snprintf(buf, cap, "a %s, not a regular file", xc_file_kind((unsigned)st->st_mode));
        return buf;
    }
    return NULL;
}

/* rel: dir's path relative to the walk's root ("" for the root). */
static int walk(const char *root, const char *rel, int flags, int (*keep)(const char *), strv *out, strv *skipped,
                int depth) {
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
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *path = xc_path_join(dir, e->d_name), *sub = *rel ? xc_path_join(rel, e->d_name) : strdup(e->d_name);
        struct stat st, lst;
        if (!path || !sub) {
            rc = xc_errorf("cannot list '%s': out of memory", dir);
            free(path);
            free(sub);
            break;
        }
        int se = stat(path, &st) == 0 ? 0 : errno;
        char buf[160];
        const char *why = skip_reason(path, e->d_name, &st, se, flags, buf, sizeof buf);
        if (why || e->d_name[0] == '.') { /* hidden entries are never listed nor descended into */
            if (why && skipped && (!keep || keep(e->d_name))) {
                size_t len = strlen(sub) + strlen(why) + 3;
                char *line = malloc(len);
                if (line) snprintf(line, len, "%s: %s", sub, why);
                if (push(skipped, line) < 0) rc = xc_errorf("cannot list '%s': out of memory", dir);
            }
        } else if (se == 0) {
            int is_dir = S_ISDIR(st.st_mode), is_file = S_ISREG(st.st_mode);
            int wanted = ((flags & XC_WALK_FILES) && is_file) || ((flags & XC_WALK_DIRS) && is_dir);
            if (wanted && (!keep || keep(e->d_name))) {
                if (push(out, sub) < 0) rc = xc_errorf("cannot list '%s': out of memory", dir);
                sub = NULL;
            }
            if (rc == 0 && is_dir && (flags & XC_WALK_RECURSIVE) && lstat(path, &lst) == 0 && S_ISDIR(lst.st_mode)) {
                const char *r = sub ? sub : out->v[out->n - 1];
                rc = walk(root, r, flags, keep, out, skipped, depth + 1);
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

int xc_walk_report(const char *dir, int flags, int (*keep)(const char *name), char ***out, int64_t *n,
                   char ***skipped, int64_t *nskipped) {
    *out = NULL;
    *n = 0;
    if (skipped) *skipped = NULL, *nskipped = 0;
    strv v = {0}, sk = {0};
    if (walk(dir, "", flags, keep, &v, skipped ? &sk : NULL, 0) < 0) {
        xc_strv_free(v.v, v.n);
        xc_strv_free(sk.v, sk.n);
        return -1;
    }
    if (v.n > 1) qsort(v.v, (size_t)v.n, sizeof *v.v, cmp_str);
    if (sk.n > 1) qsort(sk.v, (size_t)sk.n, sizeof *sk.v, cmp_str);
    *out = v.v;
    *n = v.n;
    if (skipped) *skipped = sk.v, *nskipped = sk.n;
    return 0;
}

int xc_walk(const char *dir, int flags, int (*keep)(const char *name), char ***out, int64_t *n) {
    return xc_walk_report(dir, flags, keep, out, n, NULL, NULL);
}

void xc_strv_free(char **v, int64_t n) {
    if (!v) return;
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}
