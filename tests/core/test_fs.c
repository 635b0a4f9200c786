/* test_fs.c — files: atomic writes (replace, failure leaves the old file, no temporaries),
 * bounded reads, mkdir -p, is_dir/is_file, path_join; paths with spaces and non-ASCII names. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"

static char base[2048];

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int file_is(const char *path, const char *want) {
    size_t n;
    char *s = xc_read_file(path, &n, 1 << 20);
    int eq = s && n == strlen(want) && !memcmp(s, want, n) && s[n] == '\0';
    free(s);
    return eq;
}

/* Many threads writing distinct files into one folder at once: temporaries never collide. */
static void *writer_thread(void *arg) {
    char *dir = arg;
    static _Atomic int next;
    int id = next++;
    char name[64], text[64];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "t%d.txt", id);
        snprintf(text, sizeof text, "thread %d round %d", id, i);
        char *p = xc_path_join(dir, name);
        if (xc_write_file_atomic(p, text, strlen(text)) < 0) {
            free(p);
            return (void *)1;
        }
        free(p);
    }
    return NULL;
}

int main(void) {
    snprintf(base, sizeof base, "%s/fs test \xc3\xa9\xe6\xbc\xa2", check_tmpdir());
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base); /* a fresh start on every run */
    CHECK(system(cmd) == 0);

    /* mkdir -p: nested, existing, trailing slash, over a file. */
    char nested[4096];
    snprintf(nested, sizeof nested, "%s/a b/c/d", base);
    CHECK(xc_mkdir_p(nested) == 0);
    CHECK(xc_is_dir(nested));
    CHECK(xc_mkdir_p(nested) == 0);
    char slash[4200];
    snprintf(slash, sizeof slash, "%s/", nested);
    CHECK(xc_mkdir_p(slash) == 0);
    CHECK(xc_mkdir_p("") < 0);

    /* Atomic writes: create, replace, empty file. */
    char *f1 = xc_path_join(base, "r\xc3\xa9sultats 1.json");
    CHECK(f1 && strstr(f1, "/r\xc3\xa9sultats 1.json") != NULL);
    CHECK(xc_write_file_atomic(f1, "first", 5) == 0);
    CHECK(file_is(f1, "first"));
    CHECK(xc_is_file(f1) && !xc_is_dir(f1));
    CHECK(xc_write_file_atomic(f1, "second, longer", 14) == 0);
    CHECK(file_is(f1, "second, longer"));
    CHECK(xc_write_file_atomic(f1, "", 0) == 0);
    CHECK(file_is(f1, ""));
    CHECK(count_entries(base) == 2); /* "a b" and the file: no temporaries */

    /* mkdir -p through a file fails and names it. */
    char *through = xc_path_join(f1, "sub");
    CHECK(xc_mkdir_p(through) < 0);
    CHECK_CONTAINS(xc_error(), "r\xc3\xa9sultats 1.json");
    free(through);

    /* xc_atomic by hand: abort leaves nothing and the old file intact. */
    xc_atomic a;
    CHECK(xc_atomic_open(&a, f1) == 0);
    CHECK(a.tmp && strstr(a.tmp, base) == a.tmp); /* beside the target */
    fputs("never", a.fp);
    CHECK(count_entries(base) == 3);
    xc_atomic_abort(&a);
    CHECK(count_entries(base) == 2);
    CHECK(file_is(f1, ""));
    xc_atomic_abort(&a); /* twice is fine */
    xc_atomic zero = {0};
    xc_atomic_abort(&zero);

    /* A failing write (file-size limit → EFBIG; as root, folder modes do not block writes). */
    CHECK(xc_write_file_atomic(f1, "keep me", 7) == 0);
    static char big[200000];
    memset(big, 'x', sizeof big);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0);
    int rc = xc_write_file_atomic(f1, big, sizeof big);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    CHECK(rc < 0);
    CHECK_CONTAINS(xc_error(), "cannot write '");
    CHECK_CONTAINS(xc_error(), "sultats 1.json': File too large");
    CHECK(file_is(f1, "keep me"));
    CHECK(count_entries(base) == 2);

    /* Missing folder, empty path, folder-looking path. */
    char *missing = xc_path_join(base, "nope/x.txt");
    CHECK(xc_write_file_atomic(missing, "x", 1) < 0);
    CHECK_CONTAINS(xc_error(), "nope/x.txt");
    free(missing);
    CHECK(xc_write_file_atomic("", "x", 1) < 0);
    CHECK(xc_write_file_atomic("dir/", "x", 1) < 0);

    /* Reads: limit, missing file, folder, exact limit. */
    CHECK(xc_write_file_atomic(f1, "0123456789", 10) == 0);
    size_t n = 99;
    char *s = xc_read_file(f1, &n, 9);
    CHECK(s == NULL && n == 0);
    CHECK_CONTAINS(xc_error(), "more than the limit of 9");
    s = xc_read_file(f1, &n, 10);
    CHECK(s && n == 10 && !strcmp(s, "0123456789"));
    free(s);
    char *absent = xc_path_join(base, "absent file");
    CHECK(xc_read_file(absent, &n, 100) == NULL);
    CHECK_CONTAINS(xc_error(), "cannot read '");
    CHECK_CONTAINS(xc_error(), "absent file': No such file or directory");
    CHECK(!xc_is_file(absent) && !xc_is_dir(absent));
    free(absent);
    CHECK(xc_read_file(base, &n, 100) == NULL);
    CHECK_CONTAINS(xc_error(), "is a folder");
    /* A file whose size stat cannot tell (procfs): read until EOF, limit still applies. */
    s = xc_read_file("/proc/self/status", &n, 1 << 20);
    CHECK(s && n > 0 && strstr(s, "Name:") == s);
    free(s);
    CHECK(xc_read_file("/proc/self/status", &n, 16) == NULL);
    CHECK_CONTAINS(xc_error(), "limit");

    /* path_join. */
    char *j = xc_path_join("a", "b");
    CHECK(j && !strcmp(j, "a/b"));
    free(j);
    j = xc_path_join("a/", "b c");
    CHECK(j && !strcmp(j, "a/b c"));
    free(j);
    j = xc_path_join("", "b");
    CHECK(j && !strcmp(j, "b"));
    free(j);
    j = xc_path_join("/", "b");
    CHECK(j && !strcmp(j, "/b"));
    free(j);

    /* Concurrent atomic writes into one folder. */
    char *tdir = xc_path_join(base, "threads");
    CHECK(xc_mkdir_p(tdir) == 0);
    pthread_t th[8];
    for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, writer_thread, tdir);
    int failures = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        failures += r != NULL;
    }
    CHECK(failures == 0);
    CHECK(count_entries(tdir) == 8);
    free(tdir);

    /* A relative path (no folder part) works too. */
    CHECK(chdir(base) == 0);
    CHECK(xc_write_file_atomic("plain.txt", "p", 1) == 0);
    CHECK(file_is("plain.txt", "p"));
    free(f1);
    return check_done("test_fs");
}
