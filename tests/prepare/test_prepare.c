/* test_prepare.c — `prepare` end to end through the library (prepare.h): the synthetic
 * CoronaHack and its CSV quirks, the coronahack source on it (and on reordered / respelled /
 * CRLF copies of its CSV), the audit against the tensors written, the stratified validation
 * split, missing and undecodable images (an error with nothing written, or skipped and
 * recorded), duplicates, the folder and csv sources, and the strict config. Small images. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/prepare.h"
#include "xraycls/safetensors.h"

static char tmp[1024];

static char *pathf(const char *fmt, const char *a) {
    static char buf[8][2048];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, sizeof buf[0], "%s/", tmp);
    snprintf(b + strlen(b), sizeof buf[0] - strlen(b), fmt, a);
    return b;
}

static int sh(const char *cmd) { return system(cmd); }

static void write_text(const char *path, const char *text) { CHECK(xc_write_file_atomic(path, text, strlen(text)) == 0); }

/* opts for the coronahack source on the synthetic raw folder, into `out`. */
static void coronahack_opts(xc_prepare_opts *o, const char *out) {
    xc_prepare_opts_init(o);
    xc_prepare_set_str(&o->root, pathf("raw", ""));
    xc_prepare_set_str(&o->out, pathf("%s", out));
    o->size = 32;
    o->threads = 2;
}

static int64_t total(const xc_prep_audit *a) {
    int64_t t = 0;
    for (int s = 0; s < XC_NSPLITS; s++) t += xc_prep_audit_split_total(a, (xc_split)s);
    return t;
}

/* Checks a written split against the audit: shapes, labels per class, metadata. */
static void check_split(const char *dir, xc_split s, const xc_prep_audit *a, int size) {
    char p[2048];
    snprintf(p, sizeof p, "%s/%s.safetensors", dir, xc_split_name(s));
    int64_t n = xc_prep_audit_split_total(a, s);
    if (n == 0) {
        CHECK(!xc_is_file(p));
        return;
    }
    xc_st_file *f = xc_st_open(p);
    CHECK_MSG(f != NULL, "%s", xc_error());
    if (!f) return;
    const xc_st_tensor *im = xc_st_require(f, "images", XC_U8, 4), *lb = xc_st_require(f, "labels", XC_I64, 1);
    CHECK(im && lb);
    if (im && lb) {
        CHECK(im->shape[0] == n && im->shape[1] == 1 && im->shape[2] == size && im->shape[3] == size);
        CHECK(lb->shape[0] == n);
        int64_t cnt[16] = {0};
        const int64_t *l = lb->data;
        for (int64_t i = 0; i < n; i++)
            if (l[i] >= 0 && l[i] < a->nclasses) cnt[l[i]]++;
        for (int k = 0; k < a->nclasses; k++) CHECK(cnt[k] == a->counts[s * a->nclasses + k]);
        /* images are not blank */
        const uint8_t *px = im->data;
        int64_t sum = 0;
        for (size_t i = 0; i < im->nbytes; i++) sum += px[i];
        CHECK(sum > (int64_t)im->nbytes * 10);
    }
    CHECK(xc_st_meta(f, "xraycls.kind") && !strcmp(xc_st_meta(f, "xraycls.kind"), "dataset"));
    CHECK(xc_st_meta(f, "xraycls.split") && !strcmp(xc_st_meta(f, "xraycls.split"), xc_split_name(s)));
    CHECK(xc_st_meta(f, "xraycls.format") && !strcmp(xc_st_meta(f, "xraycls.format"), "1"));
    const char *files = xc_st_meta(f, "xraycls.files");
    CHECK(files && files[0] == '[');
    if (files) { /* N entries: count the string openings */
        int64_t q = 0;
        for (const char *c = files; *c; c++) q += *c == '"';
        CHECK(q == 2 * n);
    }
    CHECK(xc_st_meta(f, "xraycls.classes") != NULL);
    CHECK(xc_st_meta(f, "xraycls.source") != NULL);
    xc_st_close(f);
}

static int has_excluded(const xc_prep_audit *a, const char *reason, int64_t count) {
    for (int i = 0; i < a->nexcluded; i++)
        if (!strcmp(a->excluded[i].key, reason)) return a->excluded[i].count == count;
    return count == 0;
}

/* ---- the synthetic download ---------------------------------------------------------------- */

static int synth_counts[XC_SYNTH_KINDS][2];

static void test_synthetic(void) {
    int c600[XC_SYNTH_KINDS][2];
    xc_synthetic_counts(600, c600);
    int t = 0;
    for (int k = 0; k < XC_SYNTH_KINDS; k++) t += c600[k][0] + c600[k][1];
    CHECK(t == 600);
    CHECK(c600[3][1] == 0);           /* no COVID-19 in TEST, as the real file */
    CHECK(c600[3][0] >= 24);          /* raised to n/25 */
    CHECK(c600[1][0] > c600[0][0]);   /* bacteria the largest, as the real file */
    CHECK(c600[6][0] >= 1);           /* Stress-Smoking/ARDS rows exist */

    xc_synthetic_opts so = xc_synthetic_default();
    so.n = 60;
    so.min_side = 64;
    so.max_side = 96;
    CHECK_MSG(xc_synthetic_write(pathf("raw", ""), &so, 2) == 0, "%s", xc_error());
    xc_synthetic_counts(60, synth_counts);
    size_t len;
    char *text = xc_read_file(pathf("raw/Chest_xray_Corona_Metadata.csv", ""), &len, 1 << 20);
    CHECK(text != NULL);
    if (!text) return;
    const char *header = ",X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,Label_1_Virus_category\n";
    CHECK(!strncmp(text, header, strlen(header)));
    CHECK(strstr(text, "Pnemonia") != NULL && strstr(text, "Pneumonia") == NULL);
    CHECK(strstr(text, ",Pnemonia,TRAIN,ARDS,Stress-Smoking\n") != NULL);
    CHECK(strstr(text, ",Normal,TEST,,\n") != NULL); /* empty fields */
    CHECK(text[len - 1] == '\n' && strchr(text, '\r') == NULL);
    free(text);
    xc_csv *c = xc_csv_read(pathf("raw/Chest_xray_Corona_Metadata.csv", ""), 1);
    CHECK(c != NULL);
    if (!c) return;
    CHECK(xc_csv_rows(c) == 60);
    int last = atoi(xc_csv_get(c, 59, 0));
    CHECK(last > 59); /* the index has gaps */
    int covid_test = 0, ards = 0, normal = 0;
    for (int r = 0; r < 60; r++) {
        const char *l2 = xc_csv_get(c, r, 4), *type = xc_csv_get(c, r, 3);
        if (!strcmp(l2, "COVID-19") && !strcmp(type, "TEST")) covid_test++;
        if (!strcmp(l2, "ARDS")) ards++;
        if (!strcmp(xc_csv_get(c, r, 2), "Normal")) normal++;
        char *img = pathf("raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/%s", "");
        char p[2048];
        snprintf(p, sizeof p, "%s%s/%s", img, !strcmp(type, "TEST") ? "test" : "train", xc_csv_get(c, r, 1));
        CHECK_MSG(xc_is_file(p), "%s", p);
    }
    CHECK(covid_test == 0);
    CHECK(ards == synth_counts[6][0]);
    CHECK(normal == synth_counts[0][0] + synth_counts[0][1]);
    xc_csv_free(c);
}

/* ---- the coronahack source ----------------------------------------------------------------- */

static void test_coronahack(void) {
    xc_prepare_opts o;
    coronahack_opts(&o, "out4");
    xc_prep_audit a;
    int rc = xc_prepare_run(&o, NULL, NULL, &a);
    CHECK_MSG(rc == 0, "%s", xc_error());
    if (rc == 0) {
        CHECK(a.nclasses == 4);
        /* every row but the Stress-Smoking/ARDS ones */
        CHECK(total(&a) == 60 - synth_counts[6][0]);
        CHECK(has_excluded(&a, "Stress-Smoking/ARDS not in task 4class", synth_counts[6][0]));
        CHECK(a.counts[XC_SPLIT_TEST * 4 + 3] == 0);
        CHECK(a.counts[XC_SPLIT_VAL * 4 + 3] >= 1); /* COVID-19 carved into val */
        int warned = 0;
        for (int i = 0; i < a.nwarnings; i++)
            if (strstr(a.warnings[i], "split 'test' has no 'COVID-19' image: evaluate COVID-19 recall on 'val'")) warned = 1;
        CHECK(warned);
        for (int s = 0; s < XC_NSPLITS; s++) check_split(o.out, (xc_split)s, &a, 32);
        CHECK(xc_is_file(pathf("out4/audit.json", "")) && xc_is_file(pathf("out4/dataset.json", "")));
        char *dj = xc_read_file(pathf("out4/dataset.json", ""), NULL, 1 << 20);
        CHECK(dj && strstr(dj, "\"val\":\t\"carved\""));
        free(dj);
        char *aj = xc_read_file(pathf("out4/audit.json", ""), NULL, 1 << 20);
        CHECK(aj && strstr(aj, "Stress-Smoking/ARDS not in task 4class"));
        free(aj);
    }
    xc_prep_audit_clear(&a);
    /* a second run into the same folder is refused, and allowed with overwrite */
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "is not empty");
    xc_prep_audit_clear(&a);
    o.overwrite = 1;
    xc_prepare_set_str(&o.task_name, "bacteria-vs-virus");
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(a.nclasses == 2);
    CHECK(has_excluded(&a, "Normal not in task bacteria-vs-virus", synth_counts[0][0] + synth_counts[0][1]));
    for (int s = 0; s < XC_NSPLITS; s++) check_split(o.out, (xc_split)s, &a, 32);
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);
}

/* The same rows with the columns reordered, an extra column, the spelling fixed, CRLF; and
 * images found by searching the root (moved folders). */
static void test_csv_variants(void) {
    xc_csv *c = xc_csv_read(pathf("raw/Chest_xray_Corona_Metadata.csv", ""), 1);
    if (!c) return;
    char *text = malloc(1 << 20);
    size_t n = (size_t)sprintf(text, "Dataset_type,Label_1_Virus_category,X_ray_image_name,Notes,Label,Label_2_Virus_category\r\n");
    for (int r = 0; r < xc_csv_rows(c); r++) {
        const char *label = xc_csv_get(c, r, 2);
        n += (size_t)sprintf(text + n, "%s,%s,%s,\"a, note\",%s,%s\r\n", xc_csv_get(c, r, 3), xc_csv_get(c, r, 5), xc_csv_get(c, r, 1),
                             strcmp(label, "Pnemonia") ? label : "Pneumonia", xc_csv_get(c, r, 4));
    }
    /* move the images: raw2/images/{train,test} */
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/raw2' && mkdir -p '%s/raw2/images' && cp -r '%s/raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train' '%s/raw/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/test' '%s/raw2/images/'", tmp, tmp, tmp, tmp, tmp);
    CHECK(sh(cmd) == 0);
    CHECK(xc_write_file_atomic(pathf("raw2/meta-fixed.csv", ""), text, n) == 0);
    xc_prepare_opts o;
    coronahack_opts(&o, "outv");
    xc_prepare_set_str(&o.root, pathf("raw2", ""));
    xc_prepare_set_str(&o.csv, pathf("raw2/meta-fixed.csv", ""));
    xc_prep_audit a;
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(total(&a) == 60 - synth_counts[6][0]);
    xc_prep_audit_clear(&a);

    /* an unknown label value: an error naming the line and value; skipped on request */
    char *bad = strstr(text, "Virus,");
    memcpy(bad, "Viral", 5);
    int line = 1;
    for (char *p = text; p < bad; p++) line += *p == '\n';
    CHECK(xc_write_file_atomic(pathf("raw2/meta-bad.csv", ""), text, n) == 0);
    xc_prepare_set_str(&o.csv, pathf("raw2/meta-bad.csv", ""));
    xc_prepare_set_str(&o.out, pathf("outbad", ""));
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    char want[128];
    snprintf(want, sizeof want, "line %d: unknown Label_1_Virus_category value 'Viral'", line);
    CHECK_CONTAINS(xc_error(), want);
    CHECK(!xc_is_dir(pathf("outbad", "")));
    xc_prep_audit_clear(&a);
    o.on_unknown_label = XC_POLICY_SKIP;
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(has_excluded(&a, "unknown Label_1_Virus_category value 'Viral'", 1));
    CHECK(total(&a) == 60 - synth_counts[6][0] - 1);
    xc_prep_audit_clear(&a);

    /* a needed column missing: named */
    write_text(pathf("raw2/meta-nocol.csv", ""), "X_ray_image_name,Label,Dataset_type,Label_1_Virus_category\na.jpeg,Normal,TRAIN,\n");
    xc_prepare_set_str(&o.csv, pathf("raw2/meta-nocol.csv", ""));
    xc_prepare_set_str(&o.out, pathf("outnocol", ""));
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "no column 'Label_2_Virus_category'");
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);
    free(text);
    xc_csv_free(c);
}

/* ---- missing and undecodable images -------------------------------------------------------- */

static void test_missing_corrupt(void) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/raw3' && cp -r '%s/raw' '%s/raw3'", tmp, tmp, tmp);
    CHECK(sh(cmd) == 0);
    xc_csv *c = xc_csv_read(pathf("raw3/Chest_xray_Corona_Metadata.csv", ""), 1);
    if (!c) return;
    /* the first Normal TRAIN row loses its image; the first bacteria row gets a truncated one */
    const char *gone = NULL, *broken = NULL;
    for (int r = 0; r < xc_csv_rows(c); r++) {
        if (!gone && !strcmp(xc_csv_get(c, r, 2), "Normal") && !strcmp(xc_csv_get(c, r, 3), "TRAIN")) gone = xc_csv_get(c, r, 1);
        if (!broken && !strcmp(xc_csv_get(c, r, 5), "bacteria") && !strcmp(xc_csv_get(c, r, 3), "TRAIN")) broken = xc_csv_get(c, r, 1);
    }
    const char *img = "raw3/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train";
    char p[2048];
    snprintf(p, sizeof p, "%s/%s/%s", tmp, img, gone);
    CHECK(unlink(p) == 0);
    xc_prepare_opts o;
    coronahack_opts(&o, "outm");
    xc_prepare_set_str(&o.root, pathf("raw3", ""));
    xc_prep_audit a;
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "1 image is missing");
    CHECK_CONTAINS(xc_error(), gone);
    CHECK(!xc_is_dir(pathf("outm", "")));
    xc_prep_audit_clear(&a);

    snprintf(p, sizeof p, "%s/%s/%s", tmp, img, broken);
    size_t len;
    char *bytes = xc_read_file(p, &len, 1 << 24);
    CHECK(bytes && len > 200);
    if (bytes) CHECK(xc_write_file_atomic(p, bytes, len / 2) == 0);
    free(bytes);
    o.on_missing = XC_POLICY_SKIP;
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "1 image cannot be decoded");
    CHECK_CONTAINS(xc_error(), broken);
    CHECK(!xc_is_file(pathf("outm/dataset.json", "")) && !xc_is_file(pathf("outm/train.safetensors", "")));
    xc_prep_audit_clear(&a);

    o.on_corrupt = XC_POLICY_SKIP;
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(a.nmissing == 1 && a.nunreadable == 1);
    CHECK(total(&a) == 60 - synth_counts[6][0] - 2);
    for (int s = 0; s < XC_NSPLITS; s++) check_split(o.out, (xc_split)s, &a, 32);
    char *aj = xc_read_file(pathf("outm/audit.json", ""), NULL, 1 << 20);
    CHECK(aj && strstr(aj, gone) && strstr(aj, broken));
    free(aj);
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);
    xc_csv_free(c);
}

/* ---- the validation split ------------------------------------------------------------------ */

static xc_prep_list *fake_list(const int *per_class, size_t nclasses) {
    xc_prep_list *l = calloc(1, sizeof *l);
    int n = 0;
    for (size_t k = 0; k < nclasses; k++) n += per_class[k];
    l->items = calloc((size_t)n + 1, sizeof *l->items);
    l->audit.classes = calloc((size_t)nclasses, sizeof *l->audit.classes);
    l->audit.nclasses = (int)nclasses;
    for (size_t k = 0; k < nclasses; k++) l->audit.classes[k] = strdup("c");
    for (int k = 0, i = 0; k < (int)nclasses; k++)
        for (int j = 0; j < per_class[k]; j++, i++) {
            char name[32];
            snprintf(name, sizeof name, "%d_%d.png", k, j);
            l->items[i].path = strdup(name);
            l->items[i].file = strdup(name);
            l->items[i].label = k;
            l->items[i].split = (i % 9 == 8) ? XC_SPLIT_TEST : XC_SPLIT_TRAIN;
        }
    l->n = n;
    return l;
}

static void test_carve(void) {
    int per[4] = {200, 17, 1, 2};
    xc_prep_list *a = fake_list(per, 4), *b = fake_list(per, 4), *c = fake_list(per, 4);
    int train[4] = {0};
    for (int64_t i = 0; i < a->n; i++)
        if (a->items[i].split == XC_SPLIT_TRAIN) train[a->items[i].label]++;
    CHECK(xc_prepare_carve_val(a, 0.1, 7) == 0 && xc_prepare_carve_val(b, 0.1, 7) == 0 && xc_prepare_carve_val(c, 0.1, 8) == 0);
    int same = 1, differ = 0, val[4] = {0}, test_moved = 0;
    for (int64_t i = 0; i < a->n; i++) {
        same &= a->items[i].split == b->items[i].split;
        differ |= a->items[i].split != c->items[i].split;
        if (a->items[i].split == XC_SPLIT_VAL) val[a->items[i].label]++;
        if ((i % 9 == 8) != (a->items[i].split == XC_SPLIT_TEST)) test_moved = 1;
    }
    CHECK(same);   /* deterministic for a seed */
    CHECK(differ); /* and the seed matters */
    CHECK(!test_moved);
    for (int k = 0; k < 4; k++) {
        int want = (int)lround(0.1 * train[k]);
        if (train[k] >= 2 && want < 1) want = 1;
        if (want > train[k] - 1) want = train[k] - 1;
        if (want < 0) want = 0;
        CHECK_MSG(val[k] == want, "class %d: %d of %d in val, want %d", k, val[k], train[k], want);
    }
    CHECK(val[2] == 0 || train[2] >= 2); /* a single example stays in train */
    CHECK(xc_prepare_carve_val(a, 1.0, 0) < 0);
    xc_prep_list_free(a);
    xc_prep_list_free(b);
    xc_prep_list_free(c);
}

/* ---- folder and csv sources, duplicates ----------------------------------------------------- */

static void write_png(const char *path, int v) {
    xc_image img = {0};
    CHECK(xc_image_alloc(&img, 20, 16, 1) == 0);
    for (int i = 0; i < 20 * 16; i++) img.pixels[i] = (uint8_t)(v + i % 7);
    CHECK_MSG(xc_image_write_png(path, &img) == 0, "%s", xc_error());
    xc_image_free(&img);
}

static void test_folder_csv(void) {
    CHECK(xc_mkdir_p(pathf("fold/Virus", "")) == 0 && xc_mkdir_p(pathf("fold/Normal", "")) == 0);
    write_png(pathf("fold/Normal/a.png", ""), 40);
    write_png(pathf("fold/Normal/b.PNG", ""), 40); /* identical bytes to a.png */
    write_png(pathf("fold/Normal/c.png", ""), 90);
    write_png(pathf("fold/Virus/d.png", ""), 140);
    write_png(pathf("fold/Virus/e.png", ""), 150);
    write_text(pathf("fold/Virus/notes.txt", ""), "not an image");
    xc_prepare_opts o;
    xc_prepare_opts_init(&o);
    o.source = XC_SOURCE_FOLDER;
    o.size = 16;
    o.val_fraction = 0;
    xc_prepare_set_str(&o.root, pathf("fold", ""));
    xc_prepare_set_str(&o.out, pathf("outf", ""));
    xc_prep_audit a;
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(a.nclasses == 2 && !strcmp(a.classes[0], "Normal") && !strcmp(a.classes[1], "Virus"));
    CHECK(a.counts[0] == 3 && a.counts[1] == 2);
    CHECK(has_excluded(&a, "not an image (neither JPEG, PNG nor DICOM by content)", 1));
    CHECK(a.ndups == 1 && a.ndups == 1 && !strcmp(a.dups[0].kind, "identical bytes") && a.dups[0].nfiles == 2);
    check_split(o.out, XC_SPLIT_TRAIN, &a, 16);
    CHECK(!xc_is_file(pathf("outf/val.safetensors", "")) && !xc_is_file(pathf("outf/test.safetensors", "")));
    xc_prep_audit_clear(&a);

    /* --classes reorders and an extra folder adds images into test */
    CHECK(xc_prepare_set_classes(&o, "Virus, Normal") == 0);
    CHECK(xc_mkdir_p(pathf("extra", "")) == 0);
    write_png(pathf("extra/x1.jpg.png", ""), 200);
    char spec[1200];
    snprintf(spec, sizeof spec, "Virus=%s/extra", tmp);
    CHECK(xc_prepare_add_extra(&o, spec) == 0);
    o.add_split = XC_SPLIT_TEST;
    o.overwrite = 1;
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(!strcmp(a.classes[0], "Virus") && a.counts[0] == 2 && a.counts[1] == 3);
    CHECK(a.counts[XC_SPLIT_TEST * 2 + 0] == 1);
    check_split(o.out, XC_SPLIT_TEST, &a, 16);
    xc_prep_audit_clear(&a);
    CHECK(xc_prepare_add_extra(&o, "COVID-19=/tmp") == 0);
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "class 'COVID-19' is not a class of the dataset");
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);

    /* csv source: a file listed twice, splits given, no header */
    write_text(pathf("fold/list.csv", ""), "Normal/a.png,Normal\nNormal/c.png,Normal,test\nVirus/d.png,Virus,val\n"
                                           "Virus/e.png,Virus\nNormal/c.png,Normal,train\n");
    xc_prepare_opts_init(&o);
    o.source = XC_SOURCE_CSV;
    o.size = 16;
    xc_prepare_set_str(&o.csv, pathf("fold/list.csv", ""));
    xc_prepare_set_str(&o.out, pathf("outc", ""));
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(total(&a) == 4);
    CHECK(has_excluded(&a, "same file listed twice", 1));
    CHECK(a.ndups == 1 && !strcmp(a.dups[0].kind, "listed twice"));
    CHECK(a.counts[XC_SPLIT_TEST * 2 + 0] == 1 && a.counts[XC_SPLIT_VAL * 2 + 1] == 1);
    for (int s = 0; s < XC_NSPLITS; s++) check_split(o.out, (xc_split)s, &a, 16);
    xc_prep_audit_clear(&a);
    /* an unknown label among explicit classes */
    CHECK(xc_prepare_set_classes(&o, "Normal") == 0);
    o.overwrite = 1;
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "line 3: unknown label value 'Virus'");
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);
}

/* CSV quirks that used to give wrong classes: a row listed twice with another label made a
 * class of no image (a phantom model output); a label with a line break inside quotes became a
 * class; headers with spaces or in capitals were not recognised. */
static void test_csv_classes(void) {
    xc_prepare_opts o;
    xc_prepare_opts_init(&o);
    o.source = XC_SOURCE_CSV;
    o.size = 16;
    o.val_fraction = 0;
    xc_prepare_set_str(&o.out, pathf("outq", ""));
    xc_prep_audit a;
    /* the second listing of c.png, labelled Bacteria, is dropped: Bacteria has no image */
    write_text(pathf("fold/dup.csv", ""), "Normal/a.png,Normal\nNormal/c.png,Normal\nVirus/d.png,Virus\n"
                                          "Normal/c.png,Bacteria\n");
    xc_prepare_set_str(&o.csv, pathf("fold/dup.csv", ""));
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "class 'Bacteria' has no image once duplicates and missing files are left out");
    CHECK(!xc_is_dir(pathf("outq", "")));
    xc_prep_audit_clear(&a);
    /* listed with --classes, an empty class is kept (on request) */
    CHECK(xc_prepare_set_classes(&o, "Normal,Virus,Bacteria") == 0);
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(a.nclasses == 3 && total(&a) == 3);
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);

    xc_prepare_opts_init(&o);
    o.source = XC_SOURCE_CSV;
    o.size = 16;
    o.val_fraction = 0;
    o.overwrite = 1;
    xc_prepare_set_str(&o.out, pathf("outq", ""));
    /* a line break inside a quoted label */
    write_text(pathf("fold/nl.csv", ""), "path,label\nNormal/a.png,Normal\nVirus/d.png,\"Vir\nus\"\n");
    xc_prepare_set_str(&o.csv, pathf("fold/nl.csv", ""));
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "line 3: the label holds a control character (0x0a, a line break inside quotes)");
    xc_prep_audit_clear(&a);
    /* headers trimmed and in any case, the columns in another order */
    write_text(pathf("fold/hdr.csv", ""), " LABEL , Path ,Split\nNormal,Normal/a.png,train\nVirus,Virus/d.png,test\n"
                                          "Normal,Normal/c.png,train\nVirus,Virus/e.png,train\n");
    xc_prepare_set_str(&o.csv, pathf("fold/hdr.csv", ""));
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(a.nclasses == 2 && total(&a) == 4 && a.counts[XC_SPLIT_TEST * 2 + 1] == 1);
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);
}

/* The folder source says what it did not search: images in sub-folders of class folders and
 * entries it passed over are counted in the audit, and a root one level too high (class folders
 * holding only sub-folders of images) is refused with the reason. */
static void test_folder_nested(void) {
    CHECK(xc_mkdir_p(pathf("nest/chest_xray/NORMAL", "")) == 0 && xc_mkdir_p(pathf("nest/chest_xray/VIRUS", "")) == 0);
    write_png(pathf("nest/chest_xray/NORMAL/a.png", ""), 40);
    write_png(pathf("nest/chest_xray/VIRUS/b.png", ""), 140);
    xc_prepare_opts o;
    xc_prepare_opts_init(&o);
    o.source = XC_SOURCE_FOLDER;
    o.size = 16;
    o.val_fraction = 0;
    xc_prepare_set_str(&o.root, pathf("nest", ""));
    xc_prepare_set_str(&o.out, pathf("outn", ""));
    xc_prep_audit a;
    CHECK(xc_prepare_run(&o, NULL, NULL, &a) < 0);
    CHECK_CONTAINS(xc_error(), "holds no image of its own but 2 files in its sub-folders");
    CHECK_CONTAINS(xc_error(), "one level too high?");
    xc_prep_audit_clear(&a);
    /* one level down it works; a nested folder and a FIFO inside a class folder are counted */
    CHECK(xc_mkdir_p(pathf("nest/chest_xray/NORMAL/old", "")) == 0);
    write_png(pathf("nest/chest_xray/NORMAL/old/c.png", ""), 60);
    write_png(pathf("nest/chest_xray/NORMAL/d.png", ""), 70);
    write_png(pathf("nest/chest_xray/VIRUS/e.png", ""), 150);
    CHECK(mkfifo(pathf("nest/chest_xray/VIRUS/pipe.png", ""), 0600) == 0);
    xc_prepare_set_str(&o.root, pathf("nest/chest_xray", ""));
    CHECK_MSG(xc_prepare_run(&o, NULL, NULL, &a) == 0, "%s", xc_error());
    CHECK(total(&a) == 4);
    CHECK(has_excluded(&a, "in a sub-folder of a class folder (not searched: images go in ROOT/<class>/)", 1));
    CHECK(has_excluded(&a, "a FIFO, not a regular file", 1));
    xc_prep_audit_clear(&a);
    xc_prepare_opts_clear(&o);
}

/* ---- config ---------------------------------------------------------------------------------- */

static void test_config(void) {
    xc_prepare_opts o;
    xc_prepare_opts_init(&o);
    write_text(pathf("c1.json", ""), "{\"size\": 64, \"task\": {\"name\": \"mine\", \"classes\": [\"a\", \"b\"],"
                                     " \"rules\": [{\"label\": \"Normal\", \"class\": \"a\"}, {\"lable\": \"x\", \"class\": \"b\"}]}}");
    CHECK(xc_prepare_config_load(&o, pathf("c1.json", "")) < 0);
    CHECK_CONTAINS(xc_error(), "task.rules[1].lable");
    write_text(pathf("c2.json", ""), "{\"size\": \"big\"}");
    CHECK(xc_prepare_config_load(&o, pathf("c2.json", "")) < 0);
    CHECK_CONTAINS(xc_error(), "size");
    write_text(pathf("c3.json", ""), "{\"sizes\": 3}");
    CHECK(xc_prepare_config_load(&o, pathf("c3.json", "")) < 0);
    CHECK_CONTAINS(xc_error(), "'sizes'");
    write_text(pathf("c4.json", ""), "{\"source\": \"folder\", \"size\": 48, \"rgb\": true, \"val_fraction\": 0.2, \"seed\": 5,"
                                     " \"on_missing\": \"skip\", \"add_folders\": [{\"class\": \"COVID-19\", \"dir\": \"x\"}],"
                                     " \"task\": {\"classes\": [\"a\"], \"rules\": [{\"label_2\": \"ARDS\", \"exclude\": true}]}}");
    CHECK_MSG(xc_prepare_config_load(&o, pathf("c4.json", "")) == 0, "%s", xc_error());
    CHECK(o.source == XC_SOURCE_FOLDER && o.size == 48 && o.channels == 3 && o.seed == 5);
    CHECK(o.val_fraction == 0.2 && o.on_missing == XC_POLICY_SKIP && o.nextras == 1 && o.task != NULL);
    xc_prepare_opts_clear(&o);
}

/* A prepare killed while writing (kill -9) leaves its locked temporary folder in the output: the
 * next run removes it (its lock died with its writer) instead of failing on a folder that `ls`
 * shows empty; a temporary still held by a live process makes the next run refuse, naming it. */
static void test_killed_writer(void) {
    char *out = strdup(pathf("killed", ""));
    CHECK(xc_mkdir_p(out) == 0);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd;
        char *t = xc_temp_dir_create(out, "prepare", &fd);
        if (t) {
            char *f = xc_path_join(t, "train.safetensors");
            FILE *fp = f ? fopen(f, "w") : NULL;
            if (fp) fputs("partial", fp), fclose(fp);
        }
        (void)!write(fds[1], t ? "1" : "0", 1);
        pause(); /* until killed */
        _exit(0);
    }
    close(fds[1]);
    char c = 0;
    CHECK(read(fds[0], &c, 1) == 1 && c == '1');
    close(fds[0]);
    /* alive: refused, naming the writer */
    CHECK(xc_prepare_check_output(out, 0) < 0);
    char want[64];
    snprintf(want, sizeof want, "being written by process %ld", (long)pid);
    CHECK_CONTAINS(xc_error(), want);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    /* dead: its leftover is removed and the folder counts as empty */
    CHECK_MSG(xc_prepare_check_output(out, 0) == 0, "%s", xc_error());
    int64_t n = -1;
    char **names = NULL;
    CHECK(xc_walk(out, XC_WALK_FILES | XC_WALK_DIRS, NULL, &names, &n) == 0 && n == 0);
    xc_strv_free(names, n);
    free(out);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s/prepare", check_tmpdir());
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmp, tmp);
    if (sh(cmd) != 0) return 2;
    test_synthetic();
    test_coronahack();
    test_csv_variants();
    test_missing_corrupt();
    test_carve();
    test_folder_csv();
    test_csv_classes();
    test_folder_nested();
    test_config();
    test_killed_writer();
    return check_done("prepare");
}
