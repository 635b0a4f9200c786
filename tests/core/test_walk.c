/* test_walk.c — the folder walk (xc_walk in xraycls/fs.h): files or folders, one level or
 * recursive, the name filter, hidden entries, links to files and folders (listed, never
 * descended), sorted relative paths, and the message for a folder that cannot be listed. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"

static void touch(const char *root, const char *rel) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    if (f) fclose(f);
}

static int is_png(const char *name) {
    size_t n = strlen(name);
    return n > 4 && !strcmp(name + n - 4, ".png");
}

static char *joined(char **v, int64_t n) {
    static char s[4096];
    s[0] = 0;
    for (int64_t i = 0; i < n; i++) {
        strcat(s, v[i]);
        if (i + 1 < n) strcat(s, " ");
    }
    return s;
}

int main(void) {
    char root[1024], p[4096];
    snprintf(root, sizeof root, "%s/walk", check_tmpdir());
    snprintf(p, sizeof p, "rm -rf '%s'", root);
    CHECK(system(p) == 0);
    const char *dirs[] = {"", "b", "a", "a/deep", ".hidden", "c"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        CHECK(xc_mkdir_p(p) == 0);
    }
    touch(root, "z.png");
    touch(root, "notes.txt");
    touch(root, "._z.png");
    touch(root, "a/2.png");
    touch(root, "a/10.png");
    touch(root, "a/deep/x.png");
    touch(root, "b/y.png");
    touch(root, ".hidden/h.png");
    /* a link to a file is a file; a link to a folder is listed as a folder, never descended */
    snprintf(p, sizeof p, "%s/z.png", root);
    char l[2048];
    snprintf(l, sizeof l, "%s/c/link.png", root);
    CHECK(symlink(p, l) == 0);
    snprintf(p, sizeof p, "%s/a", root);
    snprintf(l, sizeof l, "%s/c/loop", root);
    CHECK(symlink(p, l) == 0);
    snprintf(l, sizeof l, "%s/c/dangling.png", root);
    CHECK(symlink("/nonexistent/x.png", l) == 0);

    char **v;
    int64_t n;
    CHECK(xc_walk(root, XC_WALK_DIRS, NULL, &v, &n) == 0);
    CHECK_MSG(!strcmp(joined(v, n), "a b c"), "%s", joined(v, n));
    xc_strv_free(v, n);
    CHECK(xc_walk(root, XC_WALK_FILES, NULL, &v, &n) == 0);
    CHECK_MSG(!strcmp(joined(v, n), "notes.txt z.png"), "%s", joined(v, n));
    xc_strv_free(v, n);
    CHECK(xc_walk(root, XC_WALK_FILES | XC_WALK_RECURSIVE, is_png, &v, &n) == 0);
    CHECK_MSG(!strcmp(joined(v, n), "a/10.png a/2.png a/deep/x.png b/y.png c/link.png z.png"), "%s", joined(v, n));
    xc_strv_free(v, n);
    CHECK(xc_walk(root, XC_WALK_DIRS | XC_WALK_RECURSIVE, NULL, &v, &n) == 0);
    CHECK_MSG(!strcmp(joined(v, n), "a a/deep b c c/loop"), "%s", joined(v, n));
    xc_strv_free(v, n);
    snprintf(p, sizeof p, "%s/b", root);
    CHECK(xc_walk(p, XC_WALK_DIRS, NULL, &v, &n) == 0 && n == 0 && v == NULL);

    snprintf(p, sizeof p, "%s/missing", root);
    CHECK(xc_walk(p, XC_WALK_FILES, NULL, &v, &n) < 0 && v == NULL && n == 0);
    CHECK_CONTAINS(xc_error(), "cannot list '");
    CHECK_CONTAINS(xc_error(), "missing': No such file or directory");
    xc_strv_free(NULL, 0);
    return check_done("walk");
}
