/* measure_neardup.c — how well the near-duplicate hash separates distinct radiographs from
 * altered copies (docs/DATA.md, "Near duplicates"). Not a test: prints numbers.
 *
 * Writes a synthetic CoronaHack (xc_synthetic_write: N images of 200-400 px, four classes, all
 * drawn from one chest template, so distinct images are more alike than real patients are),
 * decodes each, and makes four copies: resized to 60%, re-encoded as JPEG quality 60, cropped by
 * 2% and by 4% on every side. For each Hamming distance d it prints the share of distinct pairs
 * within d (false positives) and the share of copies within d of their original (found) for
 *   pHash     each image's coefficients against their own median (imagehash's pHash)
 *   centred   against the dataset's median of each coefficient
 *   prepare   centred, and a pair's distance the least over the whole images and 2.5% / 5%
 *             crops of either (what prepare does, src/prepare/prepare_neardup.c)
 *
 *   measure_neardup [N]     default N = 400 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/prepare.h"

enum { ORIG, RESIZED, JPEG60, CROP2, CROP4, NCOPY };
static const double crops[3] = {0.0, 0.025, 0.05};

static int cmpf(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int cropped(const xc_image *img, int pct, xc_image *out) {
    int cx = img->width * pct / 100, cy = img->height * pct / 100;
    if (xc_image_alloc(out, img->width - 2 * cx, img->height - 2 * cy, 1) < 0) return -1;
    for (int y = 0; y < out->height; y++)
        memcpy(out->pixels + (size_t)y * out->width, img->pixels + (size_t)(y + cy) * img->width + cx, (size_t)out->width);
    return 0;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 400;
    char dir[] = "/tmp/xraycls-neardup-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    xc_synthetic_opts so = xc_synthetic_default();
    so.n = n;
    if (xc_synthetic_write(dir, &so, 0) < 0) { fprintf(stderr, "%s\n", xc_error()); return 1; }
    char sub[4200], cmd[4400], line[1024], jp[4300];
    snprintf(sub, sizeof sub, "%s/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train", dir);
    snprintf(cmd, sizeof cmd, "ls %s", sub);
    snprintf(jp, sizeof jp, "%s/re.jpeg", dir);
    float (*c)[NCOPY][64] = malloc(sizeof *c * (size_t)n), (*cv)[2][64] = malloc(sizeof *cv * (size_t)n);
    FILE *ls = popen(cmd, "r");
    int m = 0;
    while (m < n && fgets(line, sizeof line, ls)) {
        line[strcspn(line, "\n")] = 0;
        char path[5300];
        snprintf(path, sizeof path, "%s/%s", sub, line);
        xc_image img, v;
        if (xc_image_decode_file(path, 1, 0, &img) < 0) continue;
        int ok = xc_image_dct8(&img, 0, c[m][ORIG]) == 0;
        for (int q = 1; q < 3 && ok; q++) ok = xc_image_dct8(&img, crops[q], cv[m][q - 1]) == 0;
        ok = ok && xc_image_resize(&img, img.width * 6 / 10, img.height * 6 / 10, &v) == 0 && xc_image_dct8(&v, 0, c[m][RESIZED]) == 0;
        xc_image_free(&v);
        ok = ok && xc_image_write_jpeg(jp, &img, 60, 0) == 0 && xc_image_decode_file(jp, 1, 0, &v) == 0 &&
             xc_image_dct8(&v, 0, c[m][JPEG60]) == 0;
        xc_image_free(&v);
        ok = ok && cropped(&img, 2, &v) == 0 && xc_image_dct8(&v, 0, c[m][CROP2]) == 0;
        xc_image_free(&v);
        ok = ok && cropped(&img, 4, &v) == 0 && xc_image_dct8(&v, 0, c[m][CROP4]) == 0;
        xc_image_free(&v);
        xc_image_free(&img);
        m += ok;
    }
    pclose(ls);
    float med[64], *col = malloc(sizeof *col * (size_t)m);
    for (int k = 0; k < 64; k++) {
        for (int i = 0; i < m; i++) col[i] = c[i][ORIG][k];
        qsort(col, (size_t)m, sizeof *col, cmpf);
        med[k] = col[m / 2];
    }
    /* h[method][i][copy], and the crops of the original for the third method */
    uint64_t (*h)[NCOPY] = malloc(sizeof *h * (size_t)m * 2), (*hv)[2] = malloc(sizeof *hv * (size_t)m);
    for (int i = 0; i < m; i++) {
        for (int k = 0; k < NCOPY; k++) {
            float own[64], s[64];
            memcpy(s, c[i][k], sizeof s);
            qsort(s, 64, sizeof *s, cmpf);
            for (int j = 0; j < 64; j++) own[j] = (s[31] + s[32]) / 2;
            h[i][k] = xc_image_hash_bits(c[i][k], own);
            h[m + i][k] = xc_image_hash_bits(c[i][k], med);
        }
        for (int q = 0; q < 2; q++) hv[i][q] = xc_image_hash_bits(cv[i][q], med);
    }
    double pairs = (double)m * (m - 1) / 2;
    printf("%d distinct synthetic radiographs (%.0f pairs); found = copies within d of their original\n", m, pairs);
    printf("%-3s %-9s %-9s %-9s | found by prepare: %-7s %-7s %-7s %-7s\n", "d", "FP pHash", "FP centr", "FP prep", "resized",
           "jpeg60", "crop2%", "crop4%");
    for (int d = 0; d <= 10; d++) {
        long long fp[3] = {0, 0, 0};
        int found[NCOPY] = {0};
        for (int i = 0; i < m; i++) {
            for (int j = i + 1; j < m; j++) {
                fp[0] += xc_image_hamming(h[i][ORIG], h[j][ORIG]) <= d;
                int b = xc_image_hamming(h[m + i][ORIG], h[m + j][ORIG]);
                fp[1] += b <= d;
                for (int q = 0; q < 2; q++) {
                    int e = xc_image_hamming(hv[i][q], h[m + j][ORIG]), f = xc_image_hamming(h[m + i][ORIG], hv[j][q]);
                    b = e < b ? e : b;
                    b = f < b ? f : b;
                }
                fp[2] += b <= d;
            }
            for (int k = 1; k < NCOPY; k++) {
                int b = xc_image_hamming(h[m + i][ORIG], h[m + i][k]);
                for (int q = 0; q < 2; q++) {
                    int e = xc_image_hamming(hv[i][q], h[m + i][k]);
                    b = e < b ? e : b;
                }
                found[k] += b <= d;
            }
        }
        printf("%-3d %9.2e %9.2e %9.2e |                   %6.1f%% %6.1f%% %6.1f%% %6.1f%%\n", d, fp[0] / pairs, fp[1] / pairs,
               fp[2] / pairs, 100.0 * found[RESIZED] / m, 100.0 * found[JPEG60] / m, 100.0 * found[CROP2] / m,
               100.0 * found[CROP4] / m);
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) != 0;
}
