/* test_torchfile.c — the torch.save readers against the fixtures of
 * scripts/make_weights_fixtures.py (tests/fixtures/weights/expected.json): names, normalized
 * names, dtypes, shapes, strides, storage sharing and values of every state-dict tensor; the
 * hostile pickles refused naming their global, with nothing run; every truncation and every
 * single-byte flip of every fixture giving an error or an in-bounds result, never a crash;
 * hand-made malformed pickles; the name normalizer. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/weights.h"

static char fixdir[4096];

static const char *dtype_name(xc_dtype dt) {
    static const char *n[] = {"U8", "I8", "I16", "I32", "I64", "F16", "BF16", "F32", "F64", "BOOL"};
    return (unsigned)dt < sizeof n / sizeof n[0] ? n[dt] : "?";
}

static size_t dsize(xc_dtype dt) {
    static const size_t s[] = {1, 1, 2, 4, 8, 2, 2, 4, 8, 1};
    return s[dt];
}

static char *fixture(const char *name, size_t *len) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", fixdir, name);
    char *buf = xc_read_file(p, len, 16u << 20);
    CHECK_MSG(buf != NULL, "cannot read fixture %s: %s", name, xc_error());
    return buf;
}

/* ---- the expected tensors ------------------------------------------------------------------ */

static void check_tensor(const char *file, const xc_torchfile *f, const xc_torch_tensor *t, const cJSON *e) {
    const char *name = cJSON_GetObjectItem(e, "name")->valuestring;
    CHECK_MSG(strcmp(t->name, name) == 0, "%s: '%s' vs '%s'", file, t->name, name);
    CHECK_MSG(strcmp(t->norm_name, cJSON_GetObjectItem(e, "norm_name")->valuestring) == 0, "%s: norm '%s'", file, t->norm_name);
    CHECK_MSG(strcmp(dtype_name(t->dtype), cJSON_GetObjectItem(e, "dtype")->valuestring) == 0, "%s: %s dtype %s", file, name, dtype_name(t->dtype));
    const cJSON *shape = cJSON_GetObjectItem(e, "shape"), *strides = cJSON_GetObjectItem(e, "strides");
    CHECK_MSG(t->ndim == cJSON_GetArraySize(shape), "%s: %s ndim %d", file, name, t->ndim);
    int64_t numel = 1;
    for (int d = 0; d < t->ndim && d < cJSON_GetArraySize(shape); d++) {
        CHECK_MSG(t->shape[d] == (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble, "%s: %s shape[%d]", file, name, d);
        CHECK_MSG(t->strides[d] == (int64_t)cJSON_GetArrayItem(strides, d)->valuedouble, "%s: %s strides[%d]", file, name, d);
        numel *= t->shape[d];
    }
    CHECK(t->numel == numel);
    CHECK_MSG(t->contiguous == cJSON_IsTrue(cJSON_GetObjectItem(e, "contiguous")), "%s: %s contiguous", file, name);
    CHECK(xc_torchfile_find(f, name) == t);
    CHECK(xc_torchfile_find_norm(f, t->norm_name) == t);

    /* Values as float32, all or the first 64, and the sum of all. */
    float *v = malloc((size_t)(numel ? numel : 1) * sizeof *v);
    CHECK(xc_torchfile_copy_f32(t, v, (size_t)numel) == 0);
    CHECK(xc_torchfile_copy_f32(t, v, (size_t)numel + 1) < 0);
    const cJSON *vals = cJSON_GetObjectItem(e, "values");
    int nv = cJSON_GetArraySize(vals);
    CHECK(nv == (numel < 64 ? numel : 64));
    int bad = 0;
    for (int i = 0; i < nv && i < numel; i++) bad += v[i] != (float)cJSON_GetArrayItem(vals, i)->valuedouble;
    CHECK_MSG(bad == 0, "%s: %s: %d values differ", file, name, bad);
    double sum = 0;
    for (int64_t i = 0; i < numel; i++) sum += v[i];
    CHECK_CLOSE(sum, cJSON_GetObjectItem(e, "sum")->valuedouble, 1e-9, 1e-9);

    /* Native copies: exact for the 8-byte types, equal to the float32 path for all. */
    size_t es = dsize(t->dtype);
    unsigned char *raw = malloc((size_t)(numel ? numel : 1) * es);
    CHECK(xc_torchfile_copy(t, raw, (size_t)numel * es) == 0);
    CHECK(xc_torchfile_copy(t, raw, (size_t)numel * es + 1) < 0);
    bad = 0;
    for (int i = 0; i < nv && i < numel; i++) {
        double want = cJSON_GetArrayItem(vals, i)->valuedouble, got;
        if (t->dtype == XC_F64) memcpy(&got, raw + (size_t)i * 8, 8);
        else if (t->dtype == XC_I64) { int64_t x; memcpy(&x, raw + (size_t)i * 8, 8); got = (double)x; }
        else if (t->dtype == XC_F32) { float x; memcpy(&x, raw + (size_t)i * 4, 4); got = x; }
        else continue;
        bad += got != want;
    }
    CHECK_MSG(bad == 0, "%s: %s: %d native values differ", file, name, bad);
    free(raw);
    free(v);
}

static void check_file(const char *name, const cJSON *exp) {
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", fixdir, name);
    xc_torchfile *f = xc_torchfile_open(p);
    CHECK_MSG(f != NULL, "%s: %s", name, xc_error());
    if (!f) return;
    const char *fmt = cJSON_GetObjectItem(exp, "format")->valuestring;
    CHECK(xc_torchfile_format_of(f) == (strcmp(fmt, "zip") == 0 ? XC_TORCHFILE_ZIP : XC_TORCHFILE_LEGACY));
    CHECK_MSG(strcmp(xc_torchfile_state_dict_key(f), cJSON_GetObjectItem(exp, "state_dict_key")->valuestring) == 0,
              "%s: key '%s'", name, xc_torchfile_state_dict_key(f));
    CHECK(strcmp(xc_torchfile_path(f), p) == 0);
    const cJSON *ts = cJSON_GetObjectItem(exp, "tensors");
    int n = cJSON_GetArraySize(ts);
    CHECK_MSG(xc_torchfile_count(f) == n, "%s: %d tensors, want %d", name, xc_torchfile_count(f), n);
    CHECK(xc_torchfile_at(f, -1) == NULL && xc_torchfile_at(f, n) == NULL);
    for (int i = 0; i < n && i < xc_torchfile_count(f); i++)
        check_tensor(name, f, xc_torchfile_at(f, i), cJSON_GetArrayItem(ts, i));
    /* Storage sharing: equal keys exactly when the writer's tensors shared memory. */
    for (int i = 0; i < n && i < xc_torchfile_count(f); i++)
        for (int j = 0; j < n && j < xc_torchfile_count(f); j++) {
            const xc_torch_tensor *a = xc_torchfile_at(f, i), *b = xc_torchfile_at(f, j);
            if (!a->numel || !b->numel) continue;
            const char *sa = cJSON_GetObjectItem(cJSON_GetArrayItem(ts, i), "shares")->valuestring;
            const char *sb = cJSON_GetObjectItem(cJSON_GetArrayItem(ts, j), "shares")->valuestring;
            CHECK_MSG((strcmp(a->storage_key, b->storage_key) == 0) == (strcmp(sa, sb) == 0), "%s: sharing of %s, %s", name, a->name, b->name);
        }
    /* The contiguous view for the model loader, both spellings. */
    for (int w = 0; w < 2; w++) {
        const xc_st_tensor *st;
        int sn;
        CHECK(xc_torchfile_st_tensors(f, w, &st, &sn) == 0 && sn == n);
        for (int i = 0; i < sn && i < xc_torchfile_count(f); i++) {
            const xc_torch_tensor *t = xc_torchfile_at(f, i);
            CHECK(strcmp(st[i].name, w ? t->norm_name : t->name) == 0);
            CHECK(st[i].dtype == t->dtype && st[i].ndim == t->ndim && st[i].nbytes == (size_t)t->numel * dsize(t->dtype));
            unsigned char *raw = malloc(st[i].nbytes + 1);
            CHECK(xc_torchfile_copy(t, raw, st[i].nbytes) == 0);
            CHECK_MSG(st[i].nbytes == 0 || memcmp(raw, st[i].data, st[i].nbytes) == 0, "%s: st data of %s", name, t->name);
            free(raw);
        }
    }
    xc_torchfile_close(f);

    /* The same bytes through the buffer entry point. */
    size_t len;
    char *buf = fixture(name, &len);
    xc_torchfile *g = buf ? xc_torchfile_parse(buf, len, name) : NULL;
    CHECK_MSG(g && xc_torchfile_count(g) == n, "%s from memory: %s", name, xc_error());
    xc_torchfile_close(g);
    free(buf);
}

/* ---- robustness ---------------------------------------------------------------------------- */

/* A successful parse must only point inside the buffer; reading every value checks it under
 * the sanitizers. */
static int in_bounds(const xc_torchfile *f, const unsigned char *buf, size_t len) {
    for (int i = 0; i < xc_torchfile_count(f); i++) {
        const xc_torch_tensor *t = xc_torchfile_at(f, i);
        if (!t->numel) continue;
        int64_t last = 0;
        for (int d = 0; d < t->ndim; d++) last += (t->shape[d] - 1) * t->strides[d];
        const unsigned char *lo = t->data, *hi = lo + (last + 1) * (int64_t)dsize(t->dtype);
        if (lo < buf || hi > buf + len) return 0;
        float *v = malloc((size_t)t->numel * sizeof *v);
        int rc = xc_torchfile_copy_f32(t, v, (size_t)t->numel);
        free(v);
        if (rc < 0) return 0;
    }
    return 1;
}

/* Parses a private copy (so the sanitizers see any read past its end). */
static xc_torchfile *parse_copy(const char *src, size_t len, unsigned char **copy) {
    *copy = malloc(len ? len : 1);
    memcpy(*copy, src, len);
    return xc_torchfile_parse(*copy, len, "mutant");
}

/* Same names and bytes as the original parse. */
static int same_tensors(const xc_torchfile *a, const xc_torchfile *b) {
    if (xc_torchfile_count(a) != xc_torchfile_count(b)) return 0;
    for (int i = 0; i < xc_torchfile_count(a); i++) {
        const xc_torch_tensor *x = xc_torchfile_at(a, i), *y = xc_torchfile_at(b, i);
        if (strcmp(x->name, y->name) || x->dtype != y->dtype || x->numel != y->numel) return 0;
        size_t nb = (size_t)x->numel * dsize(x->dtype);
        unsigned char *p = malloc(nb + 1), *q = malloc(nb + 1);
        xc_torchfile_copy(x, p, nb);
        xc_torchfile_copy(y, q, nb);
        int eq = memcmp(p, q, nb) == 0;
        free(p);
        free(q);
        if (!eq) return 0;
    }
    return 1;
}

static void mutate_file(const char *name, int must_parse) {
    size_t len;
    char *buf = fixture(name, &len);
    if (!buf) return;
    xc_torchfile *orig = xc_torchfile_parse(buf, len, name);
    CHECK(!!orig == must_parse);
    int zip = len >= 2 && buf[0] == 'P' && buf[1] == 'K';

    int trunc_ok = 0, flip_bad = 0, flip_changed = 0;
    unsigned char *copy;
    for (size_t cut = 0; cut < len; cut++) {
        xc_torchfile *f = parse_copy(buf, cut, &copy);
        trunc_ok += f != NULL;
        xc_torchfile_close(f);
        free(copy);
    }
    CHECK_MSG(trunc_ok == 0, "%s: %d truncations parsed", name, trunc_ok);
    for (size_t pos = 0; pos < len; pos++) {
        for (int k = 0; k < 2; k++) {
            char saved = buf[pos];
            buf[pos] = (char)(k ? saved ^ 0xff : saved + 1);
            xc_torchfile *f = parse_copy(buf, len, &copy);
            if (f) {
                flip_bad += !in_bounds(f, copy, len);
                /* The CRCs protect a zip's pickle and data: what still parses is unchanged. */
                if (zip && orig) flip_changed += !same_tensors(orig, f);
            } else {
                CHECK(xc_error()[0] != '\0');
            }
            xc_torchfile_close(f);
            free(copy);
            buf[pos] = saved;
        }
    }
    CHECK_MSG(flip_bad == 0, "%s: %d flips gave out-of-bounds tensors", name, flip_bad);
    CHECK_MSG(flip_changed == 0, "%s: %d flips changed a zip's tensors unnoticed", name, flip_changed);
    /* Random multi-byte damage. */
    uint32_t seed = 12345;
    for (int it = 0; it < 3000; it++) {
        char *m = malloc(len);
        memcpy(m, buf, len);
        int k = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 6;
        for (int j = 0; j < k; j++) {
            seed = seed * 1103515245u + 12345u;
            m[(seed >> 8) % len] = (char)(seed >> 24);
        }
        xc_torchfile *f = parse_copy(m, len, &copy);
        if (f) CHECK_MSG(in_bounds(f, copy, len), "%s: random damage %d out of bounds", name, it);
        xc_torchfile_close(f);
        free(copy);
        free(m);
    }
    xc_torchfile_close(orig);
    free(buf);
}

/* Malformed pickles written by hand, in a legacy container where a file needs one. */
static void check_malformed(void) {
#define CASE(bytes, msg) {bytes, sizeof(bytes) - 1, msg}
    static const struct {
        const char *bytes;
        size_t len;
        const char *msg;
    } cases[] = {
        CASE("", "not a torch.save file"),
        CASE("hello", "not a torch.save file"),
        CASE("\x80\x02", "truncated pickle"),
        CASE("\x80\x02X\xff\xff\xff\x7f", "truncated pickle"),
        CASE("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff", "truncated pickle"),
        CASE("\x80\x02h\x05.", "never set"),
        CASE("\x80\x02]r\xff\xff\xff\x00.", "memo index"),
        CASE("\x80\x02" "0.", "POP needs"),
        CASE("\x80\x02(u.", "nothing to add to"),
        CASE("\x80\x02]]]].", "STOP with 4 values"),
        CASE("\x80\x02I1\n.", "unsupported pickle opcode 0x49 ('I')"),
        CASE("\x80\x02i__main__\nX\n.", "unsupported pickle opcode"),
        CASE("\x80\x02]q\x00h\x00" "a.", "wrong magic number"), /* a list holding itself */
        CASE("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.\x80\x02}.", "lacks little_endian"),
        CASE("\x80\x09.", "unsupported pickle protocol 9"),
        CASE("\x80\x02" "ctorch\nComplexFloatStorage\n.", "not supported"),
        CASE("\x80\x02" "cposix\nsystem\n.", "it calls posix.system"),
        CASE("\x80\x02" "c__main__\nNet\n.", "whole pickled model"),
        CASE("\x80\x02" "ccollections\nOrderedDict\nK\x01\x85R.", "unexpected arguments"),
        CASE("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n)R.", "with 0 arguments"),
        CASE("PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", "without <name>/data.pkl"),
    };
#undef CASE
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        xc_error_clear();
        xc_torchfile *f = xc_torchfile_parse(cases[i].bytes, cases[i].len, "case.pth");
        CHECK_MSG(f == NULL, "case %zu parsed", i);
        CHECK_CONTAINS(xc_error(), cases[i].msg);
        CHECK_CONTAINS(xc_error(), "case.pth");
        xc_torchfile_close(f);
    }
    /* A stack bomb: a million empty lists, then a million marks. */
    size_t n = (size_t)XC_TORCHFILE_MAX_STACK + 10;
    char *bomb = malloc(n + 3);
    memcpy(bomb, "\x80\x02", 2);
    for (int op = 0; op < 2; op++) {
        memset(bomb + 2, op ? '(' : ']', n);
        bomb[n + 2] = '.';
        xc_torchfile *f = xc_torchfile_parse(bomb, n + 3, "bomb.pth");
        CHECK(f == NULL);
        CHECK_CONTAINS(xc_error(), op ? "too many marks" : "stack deeper");
    }
    free(bomb);
    /* Opening what is not there, or not a file. */
    CHECK(xc_torchfile_open("/nonexistent/x.pth") == NULL);
    CHECK_CONTAINS(xc_error(), "/nonexistent/x.pth");
    CHECK(xc_torchfile_open(fixdir) == NULL);
    CHECK_CONTAINS(xc_error(), "not a regular file");
    xc_torchfile_close(NULL);
}

static void check_normalizer(void) {
    static const char *cases[][2] = {
        {"conv1.weight", "conv1.weight"},
        {"module.conv1.weight", "conv1.weight"},
        {"module.module.layer1.0.bn1.running_mean", "layer1.0.bn1.running_mean"},
        {"module.densenet121.features.conv0.weight", "features.conv0.weight"},
        {"module.densenet121.features.denseblock1.denselayer1.norm.1.weight", "features.denseblock1.denselayer1.norm1.weight"},
        {"features.denseblock4.denselayer16.conv.2.weight", "features.denseblock4.denselayer16.conv2.weight"},
        {"features.denseblock2.denselayer12.norm.2.running_var", "features.denseblock2.denselayer12.norm2.running_var"},
        {"features.denseblock2.denselayer3.relu.1.weight", "features.denseblock2.denselayer3.relu1.weight"},
        {"features.denseblock1.denselayer1.norm.1.num_batches_tracked", "features.denseblock1.denselayer1.norm1.num_batches_tracked"},
        {"features.denseblock1.denselayer1.norm1.weight", "features.denseblock1.denselayer1.norm1.weight"},
        {"features.denseblock1.denselayer1.norm.3.weight", "features.denseblock1.denselayer1.norm.3.weight"},
        {"features.denseblock1.denselayer.norm.1.weight", "features.denseblock1.denselayer.norm.1.weight"},
        {"features.denseblock1.denselayer1.norm.1.weight.extra", "features.denseblock1.denselayer1.norm.1.weight.extra"},
        {"features.transition1.norm.weight", "features.transition1.norm.weight"},
        {"module.densenet121.classifier.0.weight", "classifier.0.weight"},
        {"resnet50.fc.bias", "fc.bias"},
        {"model.fc.bias", "model.fc.bias"},
        {"densenet121", "densenet121"},
        {"", ""},
    };
    char out[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = xc_weights_normalize_name(cases[i][0], out, sizeof out);
        CHECK_MSG(n == (int)strlen(cases[i][1]) && strcmp(out, cases[i][1]) == 0, "'%s' → '%s'", cases[i][0], out);
    }
    /* cap: exactly enough, one short. */
    const char *in = "module.densenet121.features.denseblock1.denselayer1.conv.1.weight";
    size_t want = strlen("features.denseblock1.denselayer1.conv1.weight");
    CHECK(xc_weights_normalize_name(in, out, want + 1) == (int)want);
    CHECK(xc_weights_normalize_name(in, out, want) < 0);
    CHECK_CONTAINS(xc_error(), "does not fit");
}

int main(void) {
    snprintf(fixdir, sizeof fixdir, "%s/tests/fixtures/weights", check_srcdir());
    size_t len;
    char *text = fixture("expected.json", &len);
    if (!text) return check_done("weights_test_torchfile");
    cJSON *exp = cJSON_Parse(text);
    free(text);
    CHECK(exp != NULL);
    const char *marker = cJSON_GetObjectItem(exp, "marker")->valuestring;
    unlink(marker);

    const cJSON *files = cJSON_GetObjectItem(exp, "files"), *it;
    CHECK(cJSON_GetArraySize(files) >= 7);
    cJSON_ArrayForEach(it, files) check_file(it->string, it);

    cJSON_ArrayForEach(it, cJSON_GetObjectItem(exp, "refused")) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", fixdir, it->string);
        xc_torchfile *f = xc_torchfile_open(p);
        CHECK_MSG(f == NULL, "%s opened", it->string);
        CHECK_CONTAINS(xc_error(), "refusing to load");
        CHECK_CONTAINS(xc_error(), it->string);
        char want[256];
        snprintf(want, sizeof want, "it calls %s,", it->valuestring);
        CHECK_CONTAINS(xc_error(), want);
        xc_torchfile_close(f);
    }
    CHECK_MSG(access(marker, F_OK) != 0, "%s exists: a hostile pickle ran", marker);

    cJSON_ArrayForEach(it, cJSON_GetObjectItem(exp, "errors")) {
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", fixdir, it->string);
        xc_torchfile *f = xc_torchfile_open(p);
        CHECK_MSG(f == NULL, "%s opened", it->string);
        CHECK_CONTAINS(xc_error(), it->valuestring);
        CHECK_CONTAINS(xc_error(), it->string);
        xc_torchfile_close(f);
    }

    check_normalizer();
    check_malformed();

    cJSON_ArrayForEach(it, files) mutate_file(it->string, 1);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(exp, "refused")) mutate_file(it->string, 0);
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(exp, "errors")) mutate_file(it->string, 0);
    CHECK_MSG(access(marker, F_OK) != 0, "%s exists: a hostile pickle ran", marker);

    cJSON_Delete(exp);
    return check_done("weights_test_torchfile");
}
