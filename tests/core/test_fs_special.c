/* test_fs_special.c — files that are not regular files, and temporaries of writers that died.
 * Reading a FIFO, a device or a folder is refused at once, naming the file (a FIFO used to
 * hang the reader for ever); an atomic write refuses a device, FIFO or folder as its target
 * (rename() would replace /dev/null) and follows a symbolic link to a regular file, keeping the
 * link; a temporary left by a killed writer is recognised by its free lock and removed, while
 * one held by a live writer is counted and kept. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/safetensors.h"

static char base[1024];

static char *at(const char *name) {
    static char p[4][2048];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", base, name);
    return p[k];
}

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

int main(void) {
    /* A hang is the failure being tested: never wait for ever. */
    alarm(60);
    snprintf(base, sizeof base, "%s/special", check_tmpdir());
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
    CHECK(xc_mkdir_p(base) == 0);

    /* 1. Readers refuse a FIFO without opening it for a writer. */
    const char *fifo = at("x.jpg");
    CHECK(mkfifo(fifo, 0600) == 0);
    size_t n;
    CHECK(xc_read_file(fifo, &n, 1 << 20) == NULL);
    CHECK_CONTAINS(xc_error(), "cannot read '");
    CHECK_CONTAINS(xc_error(), "x.jpg': is a FIFO, not a regular file");
    CHECK(xc_st_open(fifo) == NULL);
    CHECK_CONTAINS(xc_error(), "is a FIFO");
    CHECK(xc_json_read_file(fifo, 1 << 20) == NULL);
    CHECK_CONTAINS(xc_error(), "is a FIFO");
    CHECK(xc_open_regular(fifo, NULL) < 0);
    CHECK(xc_read_file("/dev/zero", &n, 1 << 20) == NULL);
    CHECK_CONTAINS(xc_error(), "'/dev/zero': is a character device, not a regular file");
    CHECK(xc_read_file(base, &n, 1 << 20) == NULL);
    CHECK_CONTAINS(xc_error(), "is a folder");
    /* /proc files are regular, of size 0: still read to the end. */
    char *self = xc_read_file("/proc/self/stat", &n, 1 << 20);
    CHECK(self && n > 0);
    free(self);

    /* 6. Atomic writes into something that is not a regular file. */
    CHECK(xc_write_file_atomic(fifo, "x", 1) < 0);
    CHECK_CONTAINS(xc_error(), "exists and is a FIFO, not a regular file");
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode)); /* still the FIFO */
    CHECK(xc_write_file_atomic("/dev/null", "x", 1) < 0);
    CHECK_CONTAINS(xc_error(), "'/dev/null': exists and is a character device");
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(xc_write_file_atomic(at("sub"), "x", 1) == 0);
    /* A link to a regular file: the file is replaced, the link stays. */
    CHECK(xc_write_file_atomic(at("target.json"), "old", 3) == 0);
    CHECK(symlink("target.json", at("link.json")) == 0);
    CHECK(xc_write_file_atomic(at("link.json"), "new!", 4) == 0);
    CHECK(lstat(at("link.json"), &st) == 0 && S_ISLNK(st.st_mode));
    char *t = xc_read_file(at("target.json"), &n, 100);
    CHECK(t && n == 4 && !memcmp(t, "new!", 4));
    free(t);
    /* A dangling link and a link to a device are refused. */
    CHECK(symlink("nowhere.json", at("dangling.json")) == 0);
    CHECK(xc_write_file_atomic(at("dangling.json"), "x", 1) < 0);
    CHECK_CONTAINS(xc_error(), "is a symbolic link to a missing file");
    CHECK(symlink("/dev/null", at("null.json")) == 0);
    CHECK(xc_write_file_atomic(at("null.json"), "x", 1) < 0);
    CHECK_CONTAINS(xc_error(), "is a symbolic link to a character device");
    CHECK(lstat(at("null.json"), &st) == 0 && S_ISLNK(st.st_mode));

    /* 7. Temporaries: a killed writer's is removed, a live writer's kept and counted. */
    const char *dir = at("out");
    CHECK(xc_mkdir_p(dir) == 0);
    int pipefd[2];
    CHECK(pipe(pipefd) == 0);
    pid_t child = fork();
    if (child == 0) { /* a writer that is killed half-way */
        xc_atomic a;
        char target[2100];
        snprintf(target, sizeof target, "%s/train.safetensors", dir);
        if (xc_atomic_open(&a, target) < 0) _exit(1);
        fputs("half", a.fp);
        fflush(a.fp);
        int tmpdir_lock;
        char *td = xc_temp_dir_create(dir, "prepare", &tmpdir_lock);
        if (!td) _exit(1);
        if (write(pipefd[1], "k", 1) != 1) _exit(1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(pipefd[0], &c, 1) == 1);
    CHECK(count_entries(dir) == 2); /* the file and the folder temporaries */
    int live = -1;
    long live_pid = 0;
    CHECK(xc_remove_stale_temporaries(dir, &live, &live_pid) == 0); /* the writer is alive */
    CHECK(live == 2 && live_pid == (long)child);
    CHECK(count_entries(dir) == 2);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CHECK(xc_remove_stale_temporaries(dir, &live, &live_pid) == 2);
    CHECK(live == 0);
    CHECK(count_entries(dir) == 0);
    /* A leftover with a free lock and a name that is not a temporary's is never touched. */
    CHECK(xc_write_file_atomic(at("out/.keep.tmp"), "k", 1) == 0);
    CHECK(xc_write_file_atomic(at("out/.a.b.tmp"), "k", 1) == 0);
    CHECK(xc_remove_stale_temporaries(dir, NULL, NULL) == 0);
    CHECK(count_entries(dir) == 2);
    /* A temporary of this very process is left alone. */
    xc_atomic mine;
    CHECK(xc_atomic_open(&mine, at("out/m.json")) == 0);
    CHECK(xc_remove_stale_temporaries(dir, &live, NULL) == 0 && live == 1);
    CHECK(xc_atomic_commit(&mine) == 0);
    CHECK(count_entries(dir) == 3);
    close(pipefd[0]);
    close(pipefd[1]);
    return check_done("test_fs_special");
}
