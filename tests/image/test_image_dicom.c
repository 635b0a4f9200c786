/* test_image_dicom.c — DICOM decoding against tests/fixtures/dicom (scripts/make_dicom_fixtures.py:
 * files written by pydicom and transcoded by GDCM, expected display images computed in numpy):
 * every transfer syntax there, MONOCHROME1/2, windows (LINEAR, LINEAR_EXACT, SIGMOID), VOI and
 * Modality LUT sequences, the robust range, 12-in-16, HighBit 15, signed, RGB, no preamble; what
 * xc_image_info records; hostile and unsupported files refused with their reason; cut points and
 * flipped bytes of every file decoded or refused without a crash. Built without DCMTK, every
 * file must be refused with the message that says so. */
#include <cjson/cJSON.h>

#include "check.h"
#include "test_image_util.h"
#include "xraycls/dicom.h"
#include "xraycls/fs.h"

static char dir[4096];

static char *fixture(const char *name) {
    static char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

/* An 8-bit binary PGM (P5) as the generator writes it. */
static uint8_t *read_pgm(const char *path, int *w, int *h) {
    size_t len;
    char *b = xc_read_file(path, &len, 1 << 24);
    if (!b) return NULL;
    int off = 0;
    if (sscanf(b, "P5 %d %d 255%n", w, h, &off) != 2 || off <= 0 || (size_t)off + 1 + (size_t)*w * *h > len) {
        free(b);
        return NULL;
    }
    uint8_t *px = malloc((size_t)*w * *h);
    memcpy(px, b + off + 1, (size_t)*w * *h);
    free(b);
    return px;
}

static void test_cases(cJSON *cases) {
    int n = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
        const char *kind = cJSON_GetObjectItem(c, "kind")->valuestring;
        int tol = cJSON_GetObjectItem(c, "tolerance")->valueint;
        int inverted = cJSON_IsTrue(cJSON_GetObjectItem(c, "inverted"));
        const char *patient = cJSON_GetObjectItem(c, "patient")->valuestring;
        int w = 0, h = 0;
        char *pp = strdup(fixture(cJSON_GetObjectItem(c, "expect")->valuestring));
        uint8_t *want = read_pgm(pp, &w, &h);
        free(pp);
        CHECK_MSG(want != NULL, "%s: expected image missing", file);
        if (!want) continue;
        size_t len;
        char *buf = xc_read_file(fixture(file), &len, 1 << 24);
        CHECK(buf != NULL);
        CHECK_MSG(xc_image_sniff(buf, len) == XC_IMAGE_DICOM, "%s not sniffed as DICOM", file);
        for (int ch = 1; ch <= 3; ch += 2) {
            xc_image img;
            xc_image_info info;
            int rc = xc_image_decode_mem_info(buf, len, file, ch, 0, NULL, &img, &info);
            CHECK_MSG(rc == 0, "%s: %s", file, xc_error());
            if (rc) continue;
            CHECK_MSG(img.width == w && img.height == h && img.channels == ch, "%s: %dx%d", file, img.width, img.height);
            int maxd = 0, bad = 0;
            for (int i = 0; i < w * h && img.width == w && img.height == h; i++) {
                const uint8_t *p = img.pixels + (size_t)i * ch;
                int got = p[0];
                if (ch == 3 && !strcmp(kind, "rgb")) /* the expected image is the luma */
                    got = (int)((p[0] * 19595u + p[1] * 38470u + p[2] * 7471u + 0x8000u) >> 16);
                else if (ch == 3 && (p[1] != p[0] || p[2] != p[0]))
                    bad++;
                int d = abs(got - want[i]);
                if (d > maxd) maxd = d;
                if (d > tol) bad++;
            }
            CHECK_MSG(bad == 0, "%s (%d ch): %d pixels off by more than %d (max %d)", file, ch, bad, tol, maxd);
            if (!strcmp(kind, "rgb")) {
                CHECK_CONTAINS(info.mapping, "rendered to RGB");
            } else {
                CHECK(info.format == XC_IMAGE_DICOM);
                CHECK_MSG(info.inverted == inverted, "%s: inverted %d", file, info.inverted);
                if (!strcmp(kind, "window")) CHECK_MSG(info.windowed == 1 && strstr(info.mapping, "window"), "%s: %s", file, info.mapping);
                if (!strcmp(kind, "VOI LUT")) CHECK_MSG(info.windowed == 1 && strstr(info.mapping, "VOI LUT"), "%s: %s", file, info.mapping);
                if (!strcmp(kind, "robust range")) CHECK_MSG(info.windowed == 2 && strstr(info.mapping, "robust range"), "%s: %s", file, info.mapping);
            }
            CHECK_MSG(!strcmp(info.patient_id, patient), "%s: patient '%s'", file, info.patient_id);
            xc_image_free(&img);
        }
        free(buf);
        free(want);
        n++;
    }
    CHECK(n >= 20);
}

static void test_refused(cJSON *refused) {
    cJSON *c;
    cJSON_ArrayForEach(c, refused) {
        const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
        const char *reason = cJSON_GetObjectItem(c, "reason")->valuestring;
        xc_image img;
        CHECK_MSG(xc_image_decode_file(fixture(file), 1, 0, &img) == -1, "%s decoded", file);
        CHECK(img.pixels == NULL);
        CHECK_CONTAINS(xc_error(), file);
        CHECK_CONTAINS(xc_error(), reason);
    }
}

/* Every cut point of a few files and flipped bytes everywhere: decoded or refused, never a crash
 * (under the sanitizers: never a memory error). */
static void test_damage(void) {
    static const char *const files[] = {"mono1_window_implicit_le.dcm", "j2k_lossless_12in16.dcm", "rle_12in16.dcm",
                                        "jpegls_lossless_12in16.dcm", "jpeg_baseline_u8_mono1.dcm", "highbit_junk_deflated.dcm",
                                        "voi_lut_sequence.dcm"};
    int refused = 0, tried = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *buf = xc_read_file(fixture(files[f]), &len, 1 << 24);
        CHECK(buf != NULL);
        if (!buf) continue;
        for (size_t cut = 0; cut < len; cut += (cut < 400 ? 7 : 97)) {
            xc_image img;
            if (xc_image_decode_mem(buf, cut, files[f], 1, 0, NULL, &img) < 0) refused++;
            xc_image_free(&img);
            tried++;
        }
        uint64_t s = 14 + f;
        for (int k = 0; k < 150; k++) {
            char *cp = malloc(len);
            memcpy(cp, buf, len);
            for (int j = 0; j < 4; j++) {
                s = s * 6364136223846793005ULL + 1442695040888963407ULL;
                cp[(s >> 33) % len] ^= (char)(1 + ((s >> 20) & 0x7F));
            }
            xc_image img;
            if (xc_image_decode_mem(cp, len, files[f], 1, 0, NULL, &img) < 0) refused++;
            xc_image_free(&img);
            free(cp);
            tried++;
        }
        free(buf);
    }
    CHECK(refused > tried / 4); /* most cuts are refused: the damage is seen */
}

/* JPEG 2000 frames are decoded at a reduced wavelet resolution when the caller needs fewer
 * pixels (min_side_hint), as JPEGs are with a scaled IDCT: the sizes say so, and the pixels stay
 * close to the full decode reduced to the same size; other syntaxes keep their full size. */
static void test_reduced(void) {
    /* the 64x48 fixtures: sizes only (their pixels are noise, where any two low-pass filters
     * differ); a 256x307 film (scripts/bench_dicom.py make-images --side 256 --syntax j2k):
     * pixels too, as prepare uses them (resized to hint x hint), against the full decode */
    static const struct {
        const char *file;
        int hint, w, h, denom;
        double mean;
    } cases[] = {{"j2k_lossless_12in16.dcm", 10, 32, 24, 2, -1},
                 {"j2k_lossy_12in16.dcm", 10, 32, 24, 2, -1},
                 {"j2k_lossless_u8_mono1.dcm", 5, 16, 12, 4, -1},
                 {"j2k_lossless_film_256.dcm", 64, 128, 154, 2, 2.5},
                 {"j2k_lossless_film_256.dcm", 32, 64, 77, 4, 5.0}, /* 8x smaller than the film: grain */
                 {"j2k_lossless_film_256.dcm", 200, 256, 307, 1, 0.01}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *file = cases[k].file;
        size_t len;
        char *buf = xc_read_file(fixture(file), &len, 1 << 24);
        CHECK(buf != NULL);
        if (!buf) continue;
        xc_image full, part, ref;
        xc_image_info info;
        int ok = xc_image_decode_mem_info(buf, len, file, 1, 0, NULL, &full, &info) == 0 &&
                 xc_image_decode_mem_info(buf, len, file, 1, cases[k].hint, NULL, &part, &info) == 0;
        CHECK_MSG(ok, "%s: %s", file, xc_error());
        if (ok) {
            CHECK(full.scale_denom == 1 && full.width == full.file_width);
            CHECK_MSG(part.width == cases[k].w && part.height == cases[k].h && part.scale_denom == cases[k].denom &&
                          part.file_width == full.width && part.file_height == full.height,
                      "%s, hint %d: %dx%d /%d of %dx%d", file, cases[k].hint, part.width, part.height, part.scale_denom,
                      part.file_width, part.file_height);
            /* as prepare uses them: both resized to hint x hint */
            xc_image sq;
            int S = cases[k].hint;
            if (cases[k].mean > 0 && xc_image_resize(&full, S, S, &ref) == 0 && xc_image_resize(&part, S, S, &sq) == 0) {
                long sum = 0;
                for (size_t i = 0; i < (size_t)S * (size_t)S; i++) sum += abs((int)sq.pixels[i] - (int)ref.pixels[i]);
                double mean = (double)sum / ((double)S * S);
                xc_image_free(&sq);
                CHECK_MSG(mean < cases[k].mean, "%s, hint %d: the reduced decode differs by %.2f levels on average",
                          file, cases[k].hint, mean);
                xc_image_free(&ref);
            }
        }
        xc_image_free(&full);
        xc_image_free(&part);
        free(buf);
    }
    /* a native file keeps its size whatever the hint */
    size_t len;
    char *buf = xc_read_file(fixture("mono1_window_implicit_le.dcm"), &len, 1 << 24);
    xc_image img;
    if (buf && xc_image_decode_mem(buf, len, "native", 1, 20, NULL, &img) == 0) {
        CHECK(img.scale_denom == 1 && img.width == img.file_width);
        xc_image_free(&img);
    } else {
        CHECK_MSG(0, "%s", xc_error());
    }
    free(buf);
}

static void test_without_dcmtk(cJSON *cases) {
    cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *file = cJSON_GetObjectItem(c, "file")->valuestring;
        xc_image img;
        CHECK(xc_image_decode_file(fixture(file), 1, 0, &img) == -1);
        CHECK_CONTAINS(xc_error(), "xraycls was built without DCMTK");
        CHECK_CONTAINS(xc_error(), file);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "%s/tests/fixtures/dicom", getenv("XRAYCLS_SOURCE_DIR") ? getenv("XRAYCLS_SOURCE_DIR") : ".");
    size_t len;
    char *js = xc_read_file(fixture("expected.json"), &len, 1 << 20);
    CHECK_MSG(js != NULL, "%s", xc_error());
    if (!js) return check_done("test_image_dicom");
    cJSON *root = cJSON_Parse(js);
    cJSON *cases = cJSON_GetObjectItem(root, "cases"), *refused = cJSON_GetObjectItem(root, "refused");
    CHECK(cases && refused);
    /* Sniffing: by content, never by name. */
    CHECK(xc_dicom_sniff("\xFF\xD8\xFF\xE0", 4) == 0);
    CHECK(xc_image_sniff("\x08\x00\x05\x00" "CS\x0a\x00" "ISO_IR 100", 18) == XC_IMAGE_DICOM);
    CHECK(xc_image_sniff("\x08\x00\x16\x00" "\x04\x00\x00\x00" "1.2\0", 12) == XC_IMAGE_DICOM);
    CHECK(xc_image_sniff("\x08\x00\x16\x00" "\x04\x00\x00\x7f" "1.2\0", 12) == XC_IMAGE_UNKNOWN);
    if (xc_dicom_available()) {
        test_cases(cases);
        test_refused(refused);
        test_damage();
        test_reduced();
    } else {
        test_without_dcmtk(cases);
    }
    cJSON_Delete(root);
    free(js);
    return check_done("test_image_dicom");
}
