/* cli_util.c — messages and exit codes shared by the commands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/plot.h"
#include "xraycls/strbuf.h"

int cli_fail(const char *fmt, ...) {
    fputs("xraycls: ", stderr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    } else {
        fputs(*xc_error() ? xc_error() : "unknown error", stderr);
    }
    fputc('\n', stderr);
    return XC_EXIT_FAIL;
}

/* The synopsis: the usage text up to its first blank line. */
static void print_synopsis(const char *usage) {
    const char *end = strstr(usage, "\n\n");
    fprintf(stderr, "%.*s\n", end ? (int)(end - usage) : (int)strcspn(usage, "\n"), usage);
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) {
    fprintf(stderr, "xraycls %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_synopsis(usage);
    fprintf(stderr, "Try 'xraycls %s --help'.\n", cmd);
    return XC_EXIT_USAGE;
}

int cli_opt_error(const char *cmd, const char *usage) { return cli_usage_error(cmd, usage, "%s", xc_error()); }

int cli_help(const char *usage) {
    fputs(usage, stdout);
    return fflush(stdout) == 0 ? XC_EXIT_OK : cli_fail("cannot write the help: %s", strerror(errno));
}

int cli_is_tty(void) { return isatty(STDERR_FILENO); }

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

void cli_dataset_hint(const char *cmd, const char *path, const char *split) {
    if (!path || !xc_is_dir(path)) return;
    char *meta = xc_path_join(path, "dataset.json");
    int prepared = meta && xc_is_file(meta);
    free(meta);
    char **files = NULL;
    int64_t n = 0;
    if (!prepared) {
        /* a folder of images (any depth) rather than what prepare writes */
        if (xc_walk(path, XC_WALK_FILES | XC_WALK_RECURSIVE, NULL, &files, &n) < 0) return;
        int images = 0;
        for (int64_t i = 0; i < n && i < 1000 && !images; i++) {
            char *p = xc_path_join(path, files[i]);
            images = p && !ends_with(p, ".safetensors") && xc_image_is_candidate(p);
            free(p);
        }
        xc_strv_free(files, n);
        if (images)
            fprintf(stderr,
                    "xraycls %s: '%s' is a folder of images, not a prepared dataset: run `xraycls prepare folder "
                    "--root %s -o data/prepared/NAME` first (see `xraycls prepare --help` for other layouts) "
                    "and use data/prepared/NAME\n",
                    cmd, path, path);
        return;
    }
    if (!split) return;
    char file[256];
    snprintf(file, sizeof file, "%s.safetensors", split);
    char *want = xc_path_join(path, file);
    int missing = want && !xc_is_file(want);
    free(want);
    if (!missing || xc_walk(path, XC_WALK_FILES, NULL, &files, &n) < 0) return;
    fprintf(stderr, "xraycls %s: '%s' has no split '%s'; its splits:", cmd, path, split);
    int shown = 0;
    for (int64_t i = 0; i < n; i++)
        if (ends_with(files[i], ".safetensors")) {
            fprintf(stderr, "%s %.*s", shown++ ? "," : "", (int)(strlen(files[i]) - strlen(".safetensors")), files[i]);
        }
    fprintf(stderr, "%s\n", shown ? "" : " none");
    xc_strv_free(files, n);
}

int cli_is_pytorch_file(const char *path) {
    if (!path) return 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    unsigned char b[8] = {0};
    size_t got = fread(b, 1, sizeof b, fp);
    fclose(fp);
    if (got < 2) return 0; /* safetensors starts with a little-endian header length */
    int zip = b[0] == 'P' && b[1] == 'K';             /* torch.save since 1.6 */
    int pickle = b[0] == 0x80 && b[1] >= 2 && b[1] <= 5; /* legacy torch.save */
    return zip || pickle;
}

int cli_fail_model(const char *path) {
    if (!cli_is_pytorch_file(path)) return cli_fail(NULL);
    return cli_fail("'%s' is a PyTorch file (torch.save), not an xraycls model file: make one with "
                    "`xraycls import --arch ARCH --from %s -o model.safetensors` (see `xraycls import --help`)",
                    path, path);
}

int cli_figures(const char *cmd, const char *dir, const char *final, xc_plot_format fmt) {
    if (fmt == XC_PLOT_NONE) return 0;
    if (!xc_plot_available()) {
        fprintf(stderr, "%s: figures skipped: %s (their data is in the CSV files)\n", cmd, XC_PLOT_NO_CAIRO);
        return 0;
    }
    xc_strbuf w = {0};
    int n = xc_plot_dir(dir, dir, final, fmt, 1, &w);
    if (n >= 0) fprintf(stderr, "%s: figures: %s\n", cmd, w.s ? w.s : "none");
    xc_strbuf_free(&w);
    return n < 0 ? -1 : 0;
}
