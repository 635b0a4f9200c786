/* replay_main.c — runs a fuzz target's LLVMFuzzerTestOneInput over saved inputs without
 * libFuzzer, so that ctest replays the committed corpus and the regression inputs with any
 * compiler (and, in a sanitizer build, under ASan + UBSan).
 *
 * Usage: replay_<name> PATH... — each PATH is a file or a folder whose regular files are all
 * replayed (not recursively). A missing folder is skipped (regressions/<name>/ may not exist
 * yet); finding no input at all is a failure, so a moved corpus cannot pass silently. An input
 * that trips the harness aborts the process: ctest sees the signal. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "replay: cannot open '%s'\n", path); return -1; }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) { fclose(fp); fprintf(stderr, "replay: out of memory\n"); return -1; }
        n += fread(buf + n, 1, cap - n, fp);
        if (n < cap) break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) { free(buf); fprintf(stderr, "replay: cannot read '%s'\n", path); return -1; }
    /* An exact-size copy, so that ASan sees a read past the end of the input. */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) { free(buf); return -1; }
    memcpy(exact, buf, n);
    free(buf);
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

int main(int argc, char **argv) {
    int count = 0, failed = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) continue;
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[a]) < 0) failed++;
            else count++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d) { fprintf(stderr, "replay: cannot list '%s'\n", argv[a]); failed++; continue; }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (replay_file(path) < 0) failed++;
            else count++;
        }
        closedir(d);
    }
    printf("replayed %d inputs, %d unreadable\n", count, failed);
    if (count == 0) { fprintf(stderr, "replay: no input found\n"); return 1; }
    return failed ? 1 : 0;
}
