/* test_image.c — the format-independent part of xraycls/image.h: the resampler against values
 * worked out by hand, sniffing by content (not by name), files that are not images, argument
 * errors, and decoding from many threads at once. */
#include <pthread.h>

#include "check.h"
#include "test_image_util.h"

static char tmpdir[4096];

static char *tpath(const char *name) {
    static _Thread_local char p[8192];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

static xc_image row_image(const uint8_t *v, int w) {
    xc_image img;
    xc_image_alloc(&img, w, 1, 1);
    memcpy(img.pixels, v, (size_t)w);
    return img;
}

static void test_resize_by_hand(void) {
    /* Constant images stay exactly constant, whatever the sizes. */
    static const int sizes[][2] = {{5, 7}, {100, 3}, {1, 1}, {37, 23}, {200, 150}};
    for (int ch = 1; ch <= 3; ch += 2) {
        xc_image c;
        xc_image_alloc(&c, 37, 23, ch);
        for (size_t i = 0; i < (size_t)37 * 23 * ch; i++) c.pixels[i] = (uint8_t)(ch == 1 ? 201 : 10 + 100 * (i % 3));
        for (int s = 0; s < 5; s++) {
            xc_image r;
            CHECK(xc_image_resize(&c, sizes[s][0], sizes[s][1], &r) == 0);
            int bad = 0;
            for (size_t i = 0; r.pixels && i < (size_t)r.width * r.height * ch; i++)
                bad += r.pixels[i] != (ch == 1 ? 201 : 10 + 100 * (i % 3));
            CHECK_MSG(bad == 0 && r.width == sizes[s][0] && r.height == sizes[s][1], "constant %dx%dx%d: %d off",
                      sizes[s][0], sizes[s][1], ch, bad);
            xc_image_free(&r);
        }
        xc_image_free(&c);
    }
    /* [0 0 255 255] → 2: scale 2, the tent spans ±2 source pixels around centres 1 and 3:
     * out[0] = (3/7, 3/7, 1/7)·(0, 0, 255) = 36.4 → 36; out[1] = (1/7, 3/7, 3/7)·(0, 255, 255)
     * = 218.6 → 219. */
    static const uint8_t step[4] = {0, 0, 255, 255};
    xc_image s = row_image(step, 4), r;
    CHECK(xc_image_resize(&s, 2, 1, &r) == 0);
    CHECK(r.pixels && r.pixels[0] == 36 && r.pixels[1] == 219);
    xc_image_free(&r);
    xc_image_free(&s);
    /* Upscale [0 255] → 4: centres 0.25, 0.75, 1.25, 1.75 → 0, 0.25·255 = 63.75 → 64,
     * 0.75·255 = 191.25 → 191, 255 (edge taps clipped to the image). */
    static const uint8_t two[2] = {0, 255};
    s = row_image(two, 2);
    CHECK(xc_image_resize(&s, 4, 1, &r) == 0);
    CHECK(r.pixels && r.pixels[0] == 0 && r.pixels[1] == 64 && r.pixels[2] == 191 && r.pixels[3] == 255);
    xc_image_free(&r);
    xc_image_free(&s);
    /* A 1-pixel checkerboard 8x8 → 4x4 averages: inside, taps (1/8, 3/8, 3/8, 1/8) in each
     * direction see half 0 and half 255: 127.5 → 128. At the corner the horizontal pass gives
     * 109 (3/7·255) and 146 (4/7·255) on alternating rows, and the vertical pass
     * 3/7·109 + 3/7·146 + 1/7·109 = 124.9 → 125. */
    xc_image cb;
    xc_image_alloc(&cb, 8, 8, 1);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) cb.pixels[y * 8 + x] = (uint8_t)(((x + y) & 1) * 255);
    CHECK(xc_image_resize(&cb, 4, 4, &r) == 0);
    CHECK(r.pixels && r.pixels[0] == 125);
    int inner_bad = 0;
    for (int y = 1; r.pixels && y < 3; y++)
        for (int x = 1; x < 3; x++) inner_bad += r.pixels[y * 4 + x] != 128;
    CHECK(inner_bad == 0);
    /* Mirror symmetry: corners agree with each other. */
    CHECK(r.pixels && r.pixels[3] == r.pixels[12] && r.pixels[15] == r.pixels[0]);
    xc_image_free(&r);
    xc_image_free(&cb);

    /* RGB resizes each channel as a gray image would. */
    xc_image rgb, g[3];
    tu_synth(&rgb, 91, 67, 3, 7);
    for (int c = 0; c < 3; c++) {
        xc_image_alloc(&g[c], 91, 67, 1);
        for (int i = 0; i < 91 * 67; i++) g[c].pixels[i] = rgb.pixels[3 * i + c];
    }
    CHECK(xc_image_resize(&rgb, 30, 41, &r) == 0);
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        xc_image rg;
        CHECK(xc_image_resize(&g[c], 30, 41, &rg) == 0);
        for (int i = 0; r.pixels && rg.pixels && i < 30 * 41; i++) bad += rg.pixels[i] != r.pixels[3 * i + c];
        xc_image_free(&rg);
        xc_image_free(&g[c]);
    }
    CHECK(bad == 0);
    xc_image_free(&r);
    /* Same size copies; bad sizes fail. */
    CHECK(xc_image_resize(&rgb, 91, 67, &r) == 0);
    CHECK(r.pixels && memcmp(r.pixels, rgb.pixels, (size_t)91 * 67 * 3) == 0);
    xc_image_free(&r);
    CHECK(xc_image_resize(&rgb, 0, 10, &r) == -1);
    CHECK_CONTAINS(xc_error(), "cannot resize to 0x10");
    CHECK(r.pixels == NULL);
    xc_image_free(&rgb);
}

/* Content decides the format: a PNG named .jpeg and a JPEG named .png both decode. Files that
 * are not images fail with a message naming them. */
static void test_sniffing(void) {
    xc_image src, got;
    tu_synth(&src, 33, 21, 1, 9);
    CHECK(xc_image_write_png(tpath("png-really.jpeg"), &src) == 0);
    CHECK(xc_image_write_jpeg(tpath("jpeg-really.png"), &src, 90, 0) == 0);
    CHECK(xc_image_decode_file(tpath("png-really.jpeg"), 1, 0, &got) == 0);
    CHECK(got.pixels && memcmp(got.pixels, src.pixels, (size_t)33 * 21) == 0);
    xc_image_free(&got);
    CHECK(xc_image_decode_file(tpath("jpeg-really.png"), 1, 0, &got) == 0);
    CHECK(got.width == 33 && got.height == 21);
    xc_image_free(&got);
    /* load_resized of a PNG: decode + resize, exactly. */
    xc_image r;
    uint8_t out[16 * 16];
    CHECK(xc_image_resize(&src, 16, 16, &r) == 0);
    CHECK(xc_image_load_resized(tpath("png-really.jpeg"), 16, 1, out) == 0);
    CHECK(r.pixels && memcmp(out, r.pixels, sizeof out) == 0);
    xc_image_free(&r);
    xc_image_free(&src);

    CHECK(xc_image_sniff("\xFF\xD8\xFF\xE0", 4) == XC_IMAGE_JPEG);
    CHECK(xc_image_sniff("\xFF\xD8\xFF", 2) == XC_IMAGE_UNKNOWN);
    CHECK(xc_image_sniff("\x89PNG\r\n\x1a\n", 8) == XC_IMAGE_PNG);
    CHECK(xc_image_sniff("\x89PNG\r\n\x1a", 7) == XC_IMAGE_UNKNOWN);
    CHECK(xc_image_sniff("", 0) == XC_IMAGE_UNKNOWN);

    static const struct { const char *name, *data; size_t len; const char *msg; } bad[] = {
        {"empty.jpeg", "", 0, "empty file"},
        {"notes.jpeg", "patient 12: normal\n", 19, "not a JPEG, PNG or DICOM image"},
        {"scan.png", "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n1 0 obj\n", 24, "not a JPEG, PNG or DICOM image"},
        {"soi.jpeg", "\xFF\xD8\xFF\xE0garbage!", 12, "cannot decode"},
        {"sig.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "cannot decode"},
        {"gif.jpeg", "GIF89a\x01\0\x01\0", 10, "not a JPEG, PNG or DICOM image"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = tpath(bad[i].name);
        CHECK(tu_write(p, bad[i].data, bad[i].len) == 0);
        CHECK(xc_image_decode_file(p, 3, 0, &got) == -1);
        CHECK(got.pixels == NULL);
        CHECK_CONTAINS(xc_error(), bad[i].name);
        CHECK_CONTAINS(xc_error(), bad[i].msg);
        uint8_t o[8 * 8 * 3];
        CHECK(xc_image_load_resized(p, 8, 3, o) == -1);
        CHECK_CONTAINS(xc_error(), bad[i].name);
    }
    CHECK(xc_image_decode_file(tpath("missing.jpeg"), 1, 0, &got) == -1);
    CHECK_CONTAINS(xc_error(), "missing.jpeg");
    CHECK(xc_image_decode_file(tmpdir, 1, 0, &got) == -1); /* a folder */
    CHECK(xc_image_decode_mem("\xFF\xD8\xFF", 3, "x", 2, 0, NULL, &got) == -1);
    CHECK_CONTAINS(xc_error(), "2 channels asked for");
    xc_image_free(NULL); /* accepted */
}

/* Many threads decode at once: each gets the same pixels as a lone decode, and its own error
 * message for the broken file. */
typedef struct {
    const uint8_t *ref_jpeg, *ref_png;
    int failures;
} thread_arg;

static void *worker(void *p) {
    thread_arg *a = p;
    for (int it = 0; it < 15; it++) {
        xc_image img;
        if (xc_image_decode_file(tpath("t.jpeg"), 3, 0, &img) < 0 ||
            memcmp(img.pixels, a->ref_jpeg, (size_t)120 * 90 * 3) != 0)
            a->failures++;
        xc_image_free(&img);
        if (xc_image_decode_file(tpath("t.png"), 1, 0, &img) < 0 || memcmp(img.pixels, a->ref_png, (size_t)120 * 90) != 0)
            a->failures++;
        xc_image_free(&img);
        if (xc_image_decode_file(tpath("t-cut.jpeg"), 1, 0, &img) == 0 ||
            !strstr(xc_error(), "t-cut.jpeg': Premature end of JPEG file"))
            a->failures++;
        xc_image_free(&img);
    }
    return NULL;
}

static void test_threads(void) {
    xc_image src, ref_j, ref_p;
    tu_synth(&src, 120, 90, 3, 11);
    CHECK(xc_image_write_jpeg(tpath("t.jpeg"), &src, 90, 1) == 0);
    xc_image_free(&src);
    tu_synth(&src, 120, 90, 1, 12);
    CHECK(xc_image_write_png(tpath("t.png"), &src) == 0);
    size_t len;
    char *buf = xc_read_file(tpath("t.jpeg"), &len, 1 << 20);
    CHECK(buf && tu_write(tpath("t-cut.jpeg"), buf, len * 2 / 3) == 0);
    free(buf);
    CHECK(xc_image_decode_file(tpath("t.jpeg"), 3, 0, &ref_j) == 0);
    CHECK(xc_image_decode_file(tpath("t.png"), 1, 0, &ref_p) == 0);
    if (!ref_j.pixels || !ref_p.pixels) return;
    enum { N = 6 };
    pthread_t th[N];
    thread_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (thread_arg){ref_j.pixels, ref_p.pixels, 0};
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
    }
    CHECK_MSG(failures == 0, "%d decodes went wrong in threads", failures);
    xc_image_free(&ref_j);
    xc_image_free(&ref_p);
    xc_image_free(&src);
}

/* The decoding memory budget is one for the process: a file needing more than all of it is
 * refused naming it; threads whose decodes together exceed it take turns (the peak held stays
 * within the budget) and all succeed; progressive JPEGs of PNG, JPEG and the fast path alike. */
static void *budget_worker(void *p) {
    int *failures = p;
    for (int it = 0; it < 6; it++) {
        static const char *const files[] = {"big.png", "big.jpeg"};
        for (int f = 0; f < 2; f++) {
            xc_image img;
            if (xc_image_decode_file(tpath(files[f]), 1, f ? 100 : 0, &img) < 0 || img.width < 100) ++*failures;
            xc_image_free(&img);
        }
    }
    return NULL;
}

static void test_budget(void) {
    xc_image src;
    tu_synth(&src, 1000, 1000, 3, 5);
    CHECK(xc_image_write_png(tpath("big.png"), &src) == 0);
    CHECK(xc_image_write_jpeg(tpath("big.jpeg"), &src, 90, 1) == 0);
    xc_image_free(&src);
    /* 1000x1000 RGB out of a PNG: 3 MB, over a 2 MB budget */
    xc_image_decode_budget_set((int64_t)2 << 20);
    CHECK(xc_image_decode_budget() == (int64_t)2 << 20);
    xc_image img;
    CHECK(xc_image_decode_file(tpath("big.png"), 3, 0, &img) < 0);
    CHECK_CONTAINS(xc_error(), "big.png': decoding it needs 3 MB, over the decoding memory budget of 2 MB");
    /* a progressive JPEG's coefficients count too: 1000x1000x3 blocks of 128 bytes / 64 px = 6 MB */
    CHECK(xc_image_decode_file(tpath("big.jpeg"), 3, 0, &img) < 0);
    CHECK_CONTAINS(xc_error(), "big.jpeg': decoding it needs");
    /* in gray one decode fits (1 MB PNG, ~6 MB JPEG coefficients) but not three at once */
    xc_image_decode_budget_set((int64_t)8 << 20);
    enum { N = 4 };
    pthread_t th[N];
    int failures[N] = {0};
    for (int i = 0; i < N; i++) CHECK(pthread_create(&th[i], NULL, budget_worker, &failures[i]) == 0);
    int bad = 0;
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL), bad += failures[i];
    CHECK_MSG(bad == 0, "%d decodes failed under the budget", bad);
    int64_t peak = xc_image_decode_budget_peak();
    CHECK_MSG(peak > 0 && peak <= (int64_t)8 << 20, "peak %lld", (long long)peak);
    xc_image_decode_budget_set(0);
    CHECK(xc_image_decode_budget() >= (int64_t)256 << 20);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "%s", check_tmpdir());
    test_resize_by_hand();
    test_sniffing();
    test_threads();
    test_budget();
    return check_done("test_image");
}
