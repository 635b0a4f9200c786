/* test_augment.c — batches from a prepared split: its parts checked against dataset.json,
 * gathering, normalisation, 1→3 expansion, and the paper's augmentation (flips exact, rotation
 * about the centre, deterministic per seed). */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/dataset.h"
#include "xraycls/fs.h"
#include "xraycls/safetensors.h"

#define S 16
#define NIMG 6

static char dir[1024];

static void write_split(void) {
    static uint8_t img[NIMG][1][S][S];
    int64_t lab[NIMG];
    for (int n = 0; n < NIMG; n++) {
        lab[n] = n % 2;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) img[n][0][y][x] = (uint8_t)(n * 20 + y * 2 + (x < S / 2 ? 0 : 100));
    }
    xc_st_writer *w = xc_st_writer_new();
    CHECK(xc_st_writer_add(w, "images", XC_U8, 4, (int64_t[]){NIMG, 1, S, S}, img, sizeof img) == 0);
    CHECK(xc_st_writer_add(w, "labels", XC_I64, 1, (int64_t[]){NIMG}, lab, sizeof lab) == 0);
    CHECK(xc_st_writer_meta(w, "xraycls.classes", "[\"Normal\",\"Pneumonia\"]") == 0);
    char path[1100];
    snprintf(path, sizeof path, "%s/train.safetensors", dir);
    CHECK(xc_st_writer_write(w, path) == 0);
    xc_st_writer_free(w);
}

static void write_dataset_json(const char *text) {
    char path[1100];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    CHECK(xc_write_file_atomic(path, text, strlen(text)) == 0);
}

/* A split is used only with the dataset.json of its own prepare run: without one, or with one
 * that lists another id, other class names or order, or another count, it is refused. */
static void test_belongs(void) {
    char path[1100];
    snprintf(path, sizeof path, "%s/dataset.json", dir);
    unlink(path);
    CHECK(xc_dataset_open(dir, "train") == NULL);
    CHECK_CONTAINS(xc_error(), "has no dataset.json");
    write_dataset_json("{\"format\": 1, \"id\": \"00000000000000aa\", \"classes\": [\"Normal\", \"Pneumonia\"]}");
    CHECK(xc_dataset_open(dir, "train") == NULL);
    CHECK_CONTAINS(xc_error(), "dataset id 00000000000000aa there, none in the file");
    write_dataset_json("{\"format\": 1, \"classes\": [\"Pneumonia\", \"Normal\"]}");
    CHECK(xc_dataset_open(dir, "train") == NULL);
    CHECK_CONTAINS(xc_error(), "classes (or their order) differ");
    write_dataset_json("{\"format\": 1, \"classes\": [\"Normal\", \"Pneumonia\"], \"splits\": {\"train\": {\"count\": 7}}}");
    CHECK(xc_dataset_open(dir, "train") == NULL);
    CHECK_CONTAINS(xc_error(), "holds 6 images");
    write_dataset_json("{\"format\": 1, \"classes\": [\"Normal\", \"Pneumonia\"], \"splits\": {\"train\": {\"count\": 6}}}");
    xc_dataset *d = xc_dataset_open(dir, "train");
    CHECK_MSG(d != NULL, "%s", xc_error());
    xc_dataset_close(d);
}

static void to_host(const xt_tensor *t, float *out, size_t n) { CHECK(xt_to_host(t, out, n * sizeof(float)) == 0); }

int main(void) {
    snprintf(dir, sizeof dir, "%s", check_tmpdir());
    write_split();
    test_belongs();
    xc_dataset *d = xc_dataset_open(dir, "train");
    CHECK_MSG(d != NULL, "%s", xc_error());
    if (!d) return check_done("test_augment");
    CHECK(xc_dataset_len(d) == NIMG && xc_dataset_size(d) == S && xc_dataset_channels(d) == 1);
    CHECK(xc_dataset_num_classes(d) == 2 && !strcmp(xc_dataset_class(d, 1), "Pneumonia"));
    CHECK(xc_dataset_class_count(d, 0) == 3);
    CHECK(xc_dataset_open(dir, "test") == NULL);
    CHECK_CONTAINS(xc_error(), "test.safetensors");

    xt_arena *arena = xt_arena_new();
    xt_arena_push(arena);
    xc_normalize norm = xc_normalize_imagenet();
    int64_t idx[3] = {4, 1, 4};
    xt_tensor *labels = NULL;
    xt_tensor *x = xc_dataset_batch(d, idx, 3, XT_CPU, NULL, &norm, &labels);
    CHECK_MSG(x != NULL, "%s", xc_error());
    int64_t shape[4];
    CHECK(xt_shape(x, shape, 4) == 4 && shape[0] == 3 && shape[1] == 3 && shape[2] == S && shape[3] == S);
    static float v[3 * 3 * S * S];
    to_host(x, v, 3 * 3 * S * S);
    /* sample 4, channel 2, pixel (y=3, x=10): ((4*20 + 6 + 100)/255 - 0.406) / 0.225 */
    double want = ((4 * 20 + 6 + 100) / 255.0 - 0.406) / 0.225;
    CHECK_CLOSE(v[((0 * 3 + 2) * S + 3) * S + 10], want, 1e-5, 1e-5);
    int64_t lab[3];
    CHECK(xt_to_host(labels, lab, sizeof lab) == 0 && lab[0] == 0 && lab[1] == 1 && lab[2] == 0);

    /* flips with p=1 are exact mirror images */
    xc_augment hf = {.hflip = 1}, vf = {.vflip = 1};
    xt_tensor *raw = xc_dataset_batch(d, idx, 1, XT_CPU, NULL, &(xc_normalize){1, {0}, {1}}, NULL);
    static float r[S * S], f[S * S];
    to_host(raw, r, S * S);
    to_host(xc_augment_apply(raw, &hf), f, S * S);
    int ok = 1;
    for (int y = 0; y < S; y++)
        for (int x2 = 0; x2 < S; x2++) ok &= f[y * S + x2] == r[y * S + (S - 1 - x2)];
    CHECK(ok);
    to_host(xc_augment_apply(raw, &vf), f, S * S);
    ok = 1;
    for (int y = 0; y < S; y++)
        for (int x2 = 0; x2 < S; x2++) ok &= f[y * S + x2] == r[(S - 1 - y) * S + x2];
    CHECK(ok);
    /* rotation with p=0 (probability) leaves the image as it is, up to float rounding */
    xc_augment none_rot = {.rotate = 1e-12, .rotate_deg = 30};
    to_host(xc_augment_apply(raw, &none_rot), f, S * S);
    double maxd = 0;
    for (int i = 0; i < S * S; i++) maxd = fmax(maxd, fabs(f[i] - r[i]));
    CHECK_MSG(maxd < 1e-5, "max diff %g", maxd);
    /* rotation with p=1 changes the image but keeps the centre pixel's neighbourhood mass */
    xc_augment rot = {.rotate = 1, .rotate_deg = 30};
    xt_manual_seed(3);
    to_host(xc_augment_apply(raw, &rot), f, S * S);
    maxd = 0;
    for (int i = 0; i < S * S; i++) maxd = fmax(maxd, fabs(f[i] - r[i]));
    CHECK(maxd > 0.01);

    /* the paper's augmentation is deterministic for a seed, different for another */
    xc_augment paper = xc_augment_default();
    int64_t all[NIMG] = {0, 1, 2, 3, 4, 5};
    static float a1[NIMG * 3 * S * S], a2[NIMG * 3 * S * S], a3[NIMG * 3 * S * S];
    xt_manual_seed(11);
    to_host(xc_dataset_batch(d, all, NIMG, XT_CPU, &paper, &norm, NULL), a1, NIMG * 3 * S * S);
    xt_manual_seed(11);
    to_host(xc_dataset_batch(d, all, NIMG, XT_CPU, &paper, &norm, NULL), a2, NIMG * 3 * S * S);
    xt_manual_seed(12);
    to_host(xc_dataset_batch(d, all, NIMG, XT_CPU, &paper, &norm, NULL), a3, NIMG * 3 * S * S);
    CHECK(memcmp(a1, a2, sizeof a1) == 0);
    CHECK(memcmp(a1, a3, sizeof a1) != 0);

    /* flip frequencies over many draws are near 0.5 */
    int64_t many[64];
    for (int i = 0; i < 64; i++) many[i] = 0;
    xt_tensor *base = xc_dataset_batch(d, many, 64, XT_CPU, NULL, &(xc_normalize){1, {0}, {1}}, NULL);
    static float bb[64 * S * S], fb[64 * S * S];
    to_host(base, bb, 64 * S * S);
    int flipped = 0;
    for (int rep = 0; rep < 8; rep++) {
        to_host(xc_augment_apply(base, &(xc_augment){.hflip = 0.5}), fb, 64 * S * S);
        for (int n = 0; n < 64; n++) flipped += fb[n * S * S] != bb[n * S * S];
    }
    CHECK_MSG(flipped > 200 && flipped < 312, "flipped %d of 512", flipped);

    /* Data-parallel slices: a slice augmented with the whole batch's draws (draw_total,
     * draw_offset) equals that slice of the whole batch augmented at once, same seed. */
    {
        xc_augment full = xc_augment_default();
        static float whole[NIMG * 3 * S * S], part[NIMG * 3 * S * S];
        xt_manual_seed(21);
        to_host(xc_dataset_batch(d, all, NIMG, XT_CPU, &full, &norm, NULL), whole, NIMG * 3 * S * S);
        const int64_t lo = 2, n = 3; /* samples 2..4 of 6 */
        xc_augment slice = full;
        slice.draw_total = NIMG;
        slice.draw_offset = lo;
        xt_manual_seed(21);
        to_host(xc_dataset_batch(d, all + lo, n, XT_CPU, &slice, &norm, NULL), part, n * 3 * S * S);
        CHECK(memcmp(part, whole + lo * 3 * S * S, (size_t)n * 3 * S * S * sizeof *part) == 0);
        /* and without the draws of the whole batch the slice is augmented otherwise */
        xt_manual_seed(21);
        to_host(xc_dataset_batch(d, all + lo, n, XT_CPU, &full, &norm, NULL), part, n * 3 * S * S);
        CHECK(memcmp(part, whole + lo * 3 * S * S, (size_t)n * 3 * S * S * sizeof *part) != 0);
    }

    /* bad index */
    int64_t bad = NIMG;
    CHECK(xc_dataset_batch(d, &bad, 1, XT_CPU, NULL, &norm, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "sample index 6 outside");
    xt_arena_push(NULL);
    xt_arena_free(arena);
    xc_dataset_close(d);
    return check_done("test_augment");
}
