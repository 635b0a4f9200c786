/* bench_jpeg_fast.c — decode-only benchmark: the fast JPEG path against libjpeg-turbo's scaled
 * decoding, one thread, on the same files, grouped by coding.
 *
 *   build/tests/bench_jpeg_fast [--size S] FILE...   (S: the target side, default 224)
 *
 * For each group (baseline / progressive, 1 / 3 components, as the headers say) it prints the
 * files, the milliseconds a file each way (thread CPU time, best of 3 passes over the group) and
 * the ratio, and checks the two outputs agree (largest pixel difference). Files the fast path
 * declines are counted and left out. Not a test: numbers only (docs/BENCHMARKS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../src/image/image_internal.h"
#include "xraycls/fs.h"

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    const char *name;
    int n, declined, maxdiff;
    double fast, lib; /* seconds, best pass */
} group;

/* The coding of a JPEG from its SOF marker: 0/1 baseline/progressive, components in *comps. */
static int coding(const uint8_t *b, size_t len, int *comps) {
    for (size_t i = 2; i + 9 < len;) {
        if (b[i] != 0xFF) return -1;
        int m = b[i + 1], seglen = b[i + 2] << 8 | b[i + 3];
        if (m == 0xC0 || m == 0xC1 || m == 0xC2) {
            *comps = b[i + 9];
            return m == 0xC2;
        }
        i += 2 + (size_t)seglen;
    }
    return -1;
}

int main(int argc, char **argv) {
    int size = 224, first = 1;
    if (argc > 2 && !strcmp(argv[1], "--size")) size = atoi(argv[2]), first = 3;
    if (first >= argc || size <= 0) {
        fprintf(stderr, "usage: %s [--size S] FILE...\n", argv[0]);
        return 2;
    }
    group g[4] = {{"baseline, 1 component", 0, 0, 0, 0, 0}, {"progressive, 1 component", 0, 0, 0, 0, 0},
                  {"baseline, 3 components", 0, 0, 0, 0, 0}, {"progressive, 3 components", 0, 0, 0, 0, 0}};
    xc_image_limits lim = xc_image_limits_default();
    for (int gi = 0; gi < 4; gi++) {
        for (int pass = 0; pass < 3; pass++) {
            double tf = 0, tl = 0;
            for (int i = first; i < argc; i++) {
                size_t len;
                uint8_t *buf = (uint8_t *)xc_read_file(argv[i], &len, (size_t)1 << 30);
                int comps = 0, prog = buf ? coding(buf, len, &comps) : -1;
                if (prog < 0 || (comps != 1 && comps != 3) || prog + (comps == 3 ? 2 : 0) != gi) {
                    free(buf);
                    continue;
                }
                xc_image f, l;
                double t0 = cpu_now();
                int took = xc_image_decode_jpeg_fast(buf, len, size, &lim, &f);
                double t1 = cpu_now();
                int rc = xc_image_decode_libjpeg(buf, len, argv[i], 1, size, &lim, &l);
                double t2 = cpu_now();
                if (pass == 0) {
                    if (!took) g[gi].declined++;
                    else g[gi].n++;
                }
                if (took && rc == 0) {
                    tf += t1 - t0;
                    tl += t2 - t1;
                    for (size_t q = 0; pass == 0 && q < (size_t)f.width * f.height; q++) {
                        int d = abs(f.pixels[q] - l.pixels[q]);
                        if (d > g[gi].maxdiff) g[gi].maxdiff = d;
                    }
                }
                xc_image_free(&f);
                xc_image_free(&l);
                free(buf);
            }
            if (pass == 0 || tf < g[gi].fast) g[gi].fast = tf;
            if (pass == 0 || tl < g[gi].lib) g[gi].lib = tl;
        }
    }
    printf("%-28s %6s %9s %12s %12s %7s %8s\n", "coding", "files", "declined", "fast ms", "libjpeg ms",
           "ratio", "max diff");
    for (int gi = 0; gi < 4; gi++) {
        if (!g[gi].n && !g[gi].declined) continue;
        double f = g[gi].n ? g[gi].fast * 1e3 / g[gi].n : 0, l = g[gi].n ? g[gi].lib * 1e3 / g[gi].n : 0;
        printf("%-28s %6d %9d %12.2f %12.2f %7.2f %8d\n", g[gi].name, g[gi].n, g[gi].declined, f, l,
               f > 0 ? l / f : 0.0, g[gi].maxdiff);
    }
    return 0;
}
