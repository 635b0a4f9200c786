/* fuzz_plot.c — libFuzzer target for the readers of the figures' data (xraycls/plot.h): the
 * first byte picks the file (roc.csv, pr.csv, calibration.csv, confusion_matrix.csv or a run's
 * metrics.csv), the rest is its text, written to a scratch folder because the readers take
 * paths. Any text must be read or give -1 with a message; what is accepted holds only what a
 * figure can draw: rates in [0, 1], areas in [0, 1], an ECE in [0, 1], a square matrix of
 * counts, a best epoch that is one of the epochs. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "xraycls/fs.h"
#include "xraycls/plot.h"

static char dir[256];

static void scratch_remove(void) { xc_remove_tree(dir); }

/* One scratch folder per process, removed at exit. */
static const char *scratch(void) {
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/xraycls-fuzz-plot.%ld", t && *t ? t : "/tmp", (long)getpid());
        FUZZ_ASSERT(xc_mkdir_p(dir) == 0);
        atexit(scratch_remove);
    }
    return dir;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    static const char *const names[5] = {"roc.csv", "pr.csv", "calibration.csv", "confusion_matrix.csv", "metrics.csv"};
    int which = data[0] % 5;
    char *path = xc_path_join(scratch(), names[which]);
    FUZZ_ASSERT(path && xc_write_file_atomic(path, data + 1, size - 1) == 0);
    if (which <= 1) {
        xc_plot_curves c;
        int rc = which == 0 ? xc_plot_read_roc(path, &c) : xc_plot_read_pr(path, &c);
        if (rc < 0) FUZZ_ASSERT(xc_error()[0] != '\0');
        for (int i = 0; rc == 0 && i < c.n; i++) {
            FUZZ_ASSERT(c.c[i].n >= 1 && c.c[i].name);
            fuzz_touch(c.c[i].name, strlen(c.c[i].name) + 1);
            for (int j = 0; j < c.c[i].n; j++)
                FUZZ_ASSERT(c.c[i].x[j] >= 0 && c.c[i].x[j] <= 1 && c.c[i].y[j] >= 0 && c.c[i].y[j] <= 1);
            FUZZ_ASSERT(isfinite(c.c[i].area) && fabs(c.c[i].area) <= 1 + 1e-9);
        }
        if (rc == 0) xc_plot_curves_free(&c);
    } else if (which == 2) {
        for (int s = 0; s < 2; s++) {
            xc_plot_calibration c;
            int rc = xc_plot_read_calibration(path, s ? "equal-mass" : "equal-width", &c);
            if (rc < 0) FUZZ_ASSERT(xc_error()[0] != '\0');
            for (int i = 0; rc == 0 && i < c.n; i++) {
                FUZZ_ASSERT(c.r[i].nbins >= 1 && c.r[i].ece >= 0 && c.r[i].ece <= 1 + 1e-9);
                for (int b = 0; b < c.r[i].nbins; b++) FUZZ_ASSERT(c.r[i].count[b] >= 0 && c.r[i].lower[b] <= c.r[i].upper[b]);
            }
            if (rc == 0) xc_plot_calibration_free(&c);
        }
    } else if (which == 3) {
        xc_plot_confusion_data c;
        int rc = xc_plot_read_confusion(path, &c);
        if (rc < 0) FUZZ_ASSERT(xc_error()[0] != '\0');
        if (rc == 0) {
            FUZZ_ASSERT(c.k >= 1 && c.k <= 64);
            for (int i = 0; i < c.k * c.k; i++) FUZZ_ASSERT(c.cm[i] >= 0);
            for (int i = 0; i < c.k; i++) fuzz_touch(c.names[i], strlen(c.names[i]) + 1);
            xc_plot_confusion_free(&c);
        }
    } else {
        xc_plot_history_data h;
        int rc = xc_plot_read_history(scratch(), &h);
        if (rc < 0) FUZZ_ASSERT(xc_error()[0] != '\0');
        if (rc == 0) {
            FUZZ_ASSERT(h.n >= 1 && h.best_epoch == 0); /* no config.json: no best epoch */
            (void)xc_plot_loss_log_scale(&h);
            xc_plot_history_free(&h);
        }
    }
    unlink(path);
    free(path);
    return 0;
}
