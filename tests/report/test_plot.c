/* test_plot.c — the charts of xraycls/plot.h decode as PNGs of the expected size, hold what was
 * drawn (series colours, shaded cells, text) and fail cleanly on bad input. */
#include <png.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/plot.h"

typedef struct {
    int w, h;
    uint8_t *rgb; /* (h, w, 3) */
} picture;

/* Decodes with libpng's simplified API; 0 on success. */
static int load_png(const char *path, picture *p) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return -1;
    img.format = PNG_FORMAT_RGB;
    p->w = (int)img.width;
    p->h = (int)img.height;
    p->rgb = malloc(PNG_IMAGE_SIZE(img));
    if (!p->rgb || !png_image_finish_read(&img, NULL, p->rgb, 0, NULL)) {
        png_image_free(&img);
        free(p->rgb);
        return -1;
    }
    return 0;
}

static long count_color(const picture *p, uint32_t rgb) {
    long n = 0;
    for (long i = 0; i < (long)p->w * p->h; i++) {
        const uint8_t *q = p->rgb + i * 3;
        n += ((uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2]) == rgb;
    }
    return n;
}

/* Pixels that are neither white nor of a light gray (the grid). */
static long count_ink(const picture *p) {
    long n = 0;
    for (long i = 0; i < (long)p->w * p->h; i++) {
        const uint8_t *q = p->rgb + i * 3;
        n += q[0] < 200 || q[1] < 200 || q[2] < 200;
    }
    return n;
}

/* Ink inside the box [x0, x1) × [y0, y1). */
static long ink_in(const picture *p, int x0, int y0, int x1, int y1) {
    long n = 0;
    for (int y = y0; y < y1 && y < p->h; y++)
        for (int x = x0; x < x1 && x < p->w; x++) {
            const uint8_t *q = p->rgb + ((long)y * p->w + x) * 3;
            n += q[0] < 128 && q[1] < 128 && q[2] < 128;
        }
    return n;
}

static char *join(const char *dir, const char *name) {
    char *s = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(s, "%s/%s", dir, name);
    return s;
}

static void test_lines(const char *dir) {
    double x[6] = {1, 2, 3, 4, 5, 6}, a[6] = {0.5, 0.6, 0.7, 0.75, 0.8, 0.82},
           b[6] = {0.45, 0.55, NAN, 0.7, 0.72, 0.74};
    xc_plot_series s[2] = {{"train", x, a, 6, 0x1F77B4, 0}, {"validation", x, b, 6, 0xD62728, 1}};
    xc_plot_opts o = xc_plot_default();
    o.title = "Accuracy";
    o.xlabel = "epoch";
    o.ylabel = "accuracy";
    o.width = 640;
    o.height = 400;
    char *path = join(dir, "lines.png");
    CHECK(xc_plot_lines(path, s, 2, &o) == 0);
    picture p = {0};
    CHECK(load_png(path, &p) == 0);
    if (p.rgb) {
        CHECK(p.w == 640 && p.h == 400);
        CHECK(count_color(&p, 0x1F77B4) > 500); /* a 3-px line across most of the width */
        CHECK(count_color(&p, 0xD62728) > 300);
        CHECK(count_color(&p, 0xFFFFFF) > 640 * 400 / 2);
        /* The title is written at the top centre. */
        CHECK(ink_in(&p, 200, 0, 440, 50) > 50);
        /* Nothing is drawn in the top-left corner. */
        CHECK(ink_in(&p, 0, 0, 10, 10) == 0);
    }
    free(p.rgb);
    free(path);

    /* Nothing finite to draw, a bad size, an output folder that does not exist. */
    double nan6[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    xc_plot_series e = {"empty", x, nan6, 6, 0, 0};
    path = join(dir, "empty.png");
    CHECK(xc_plot_lines(path, &e, 1, NULL) == -1);
    CHECK_CONTAINS(xc_error(), "no finite point");
    CHECK(access(path, F_OK) != 0);
    o.width = 50;
    CHECK(xc_plot_lines(path, s, 2, &o) == -1);
    CHECK_CONTAINS(xc_error(), "50x400");
    free(path);
    path = join(dir, "no/such/folder/x.png");
    CHECK(xc_plot_lines(path, s, 2, NULL) == -1);
    CHECK_CONTAINS(xc_error(), "no/such/folder");
    free(path);
}

static void test_confusion(const char *dir) {
    const int64_t cm[9] = {50, 3, 1, 4, 40, 6, 0, 0, 0};
    const char *names[3] = {"Normal", "Bacteria", "COVID-19"};
    char *path = join(dir, "cm.png");
    CHECK(xc_plot_confusion(path, cm, 3, names, "Confusion matrix") == 0);
    picture p = {0};
    CHECK(load_png(path, &p) == 0);
    if (p.rgb) {
        /* 3 cells of 140 px, plus margins for the names: at least 420 px each way. */
        CHECK(p.w >= 420 && p.h >= 420 && p.w < 1200 && p.h < 1200);
        /* The diagonal cells (50/54 and 40/50 of their rows) are dark blue. */
        long dark = 0;
        for (long i = 0; i < (long)p.w * p.h; i++) {
            const uint8_t *q = p.rgb + i * 3;
            dark += q[2] > q[0] + 60 && q[0] < 80;
        }
        CHECK(dark > 2 * 100 * 100);
        CHECK(count_ink(&p) > dark + 1000); /* names and counts */
    }
    free(p.rgb);
    free(path);
    CHECK(xc_plot_confusion("x.png", cm, 0, names, NULL) == -1);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_history(const char *dir) {
    char *run = join(dir, "run");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", run, run);
    CHECK(system(cmd) == 0);
    char *jsonl = join(run, "metrics.jsonl");
    write_text(jsonl, "{\"epoch\": 1, \"train_loss\": 1.2, \"train_acc\": 0.5, \"val_loss\": 1.1, \"val_acc\": 0.55}\n"
                      "{\"epoch\": 2, \"train_loss\": 0.9, \"train_acc\": 0.65, \"val_loss\": null, \"val_acc\": null}\n"
                      "\n"
                      "{\"epoch\": 3, \"train_loss\": 0.7, \"train_acc\": 0.72, \"val_loss\": 0.8, \"val_acc\": 0.7, \"lr\": 0.001}\n");
    CHECK(xc_plot_history(run, run) == 2);
    char *acc = join(run, "accuracy.png"), *loss = join(run, "loss.png");
    picture p = {0};
    CHECK(load_png(acc, &p) == 0);
    if (p.rgb) CHECK(p.w == 800 && p.h == 500 && count_color(&p, 0x1F77B4) > 300 && count_color(&p, 0xD62728) > 100);
    free(p.rgb);
    p.rgb = NULL;
    CHECK(load_png(loss, &p) == 0);
    free(p.rgb);

    /* Training without validation: the chart still shows the train series. */
    write_text(jsonl, "{\"epoch\": 1, \"train_loss\": 1.2, \"train_acc\": 0.5}\n{\"epoch\": 2, \"train_loss\": 1.0, \"train_acc\": 0.6}\n");
    CHECK(xc_plot_history(run, run) == 2);

    write_text(jsonl, "{\"epoch\": 1, \"train_loss\": 1.2}\n{\"epoch\": 2, \"train_loss\": \"x\"}\n");
    CHECK(xc_plot_history(run, run) == -1);
    CHECK_CONTAINS(xc_error(), "line 2: train_loss: expected a number");
    write_text(jsonl, "{\"epoch\": 1}\n[1]\n");
    CHECK(xc_plot_history(run, run) == -1);
    CHECK_CONTAINS(xc_error(), "line 2");
    write_text(jsonl, "{\"epoch\": 1, \n");
    CHECK(xc_plot_history(run, run) == -1);
    CHECK_CONTAINS(xc_error(), "metrics.jsonl");
    unlink(jsonl);
    CHECK(xc_plot_history(run, run) == -1);
    CHECK_CONTAINS(xc_error(), "metrics.jsonl");
    free(acc);
    free(loss);
    free(jsonl);
    free(run);
}

int main(void) {
    const char *dir = check_tmpdir();
    test_lines(dir);
    test_confusion(dir);
    test_history(dir);
    return check_done("test_plot");
}
