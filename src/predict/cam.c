/* cam.c — Grad-CAM and Grad-CAM++ (xraycls/cam.h): one tapped forward pass, one backward pass
 * from the explained logits to the layer, the weighting on the host (the layer's output of one
 * batch is small: 2048 × 7 × 7 floats an image for ResNet-50 at 224 px), the bilinear resize
 * to the input, and the files: maps as safetensors, an overlay PNG. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/cam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/dataset.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/nn.h"
#include "xraycls/safetensors.h"

xc_cam_opts xc_cam_default(void) {
    xc_cam_opts o = {NULL, XC_CAM_GRADCAM, -1};
    return o;
}

int xc_cam_method_parse(const char *s, xc_cam_method *out) {
    if (!strcmp(s, "gradcam")) *out = XC_CAM_GRADCAM;
    else if (!strcmp(s, "gradcam++")) *out = XC_CAM_GRADCAM_PP;
    else return xc_errorf("CAM method '%s' is neither gradcam nor gradcam++", s);
    return 0;
}

const char *xc_cam_method_name(xc_cam_method m) { return m == XC_CAM_GRADCAM_PP ? "gradcam++" : "gradcam"; }

void xc_cam_batch_free(xc_cam_batch *b) {
    if (!b) return;
    free(b->class_index);
    free(b->probs);
    free(b->map);
    free(b->map_input);
    memset(b, 0, sizeof *b);
}

/* torch's upsample_bilinear2d with align_corners=False: src (h, w) → dst (H, W). */
static void resize_bilinear(const float *src, int h, int w, float *dst, int H, int W) {
    double sy = (double)h / H, sx = (double)w / W;
    for (int y = 0; y < H; y++) {
        double ry = sy * (y + 0.5) - 0.5;
        if (ry < 0) ry = 0;
        int y0 = (int)ry, y1 = y0 + (y0 < h - 1);
        double ly = ry - y0;
        for (int x = 0; x < W; x++) {
            double rx = sx * (x + 0.5) - 0.5;
            if (rx < 0) rx = 0;
            int x0 = (int)rx, x1 = x0 + (x0 < w - 1);
            double lx = rx - x0;
            double top = (1 - lx) * src[y0 * w + x0] + lx * src[y0 * w + x1];
            double bot = (1 - lx) * src[y1 * w + x0] + lx * src[y1 * w + x1];
            dst[(size_t)y * W + x] = (float)((1 - ly) * top + ly * bot);
        }
    }
}

/* A: (C, h, w), G: (C, h, w) of one image → map (h, w). */
static void weigh(const float *A, const float *G, int C, int hw, xc_cam_method method, float *map) {
    for (int q = 0; q < hw; q++) map[q] = 0;
    for (int c = 0; c < C; c++) {
        const float *a = A + (size_t)c * hw, *g = G + (size_t)c * hw;
        double wk = 0;
        if (method == XC_CAM_GRADCAM) {
            for (int q = 0; q < hw; q++) wk += g[q];
            wk /= hw;
        } else {
            double suma = 0;
            for (int q = 0; q < hw; q++) suma += a[q];
            for (int q = 0; q < hw; q++) {
                double g1 = g[q], g2 = g1 * g1, g3 = g2 * g1;
                if (g1 == 0) continue;
                double aij = g2 / (2 * g2 + suma * g3 + 1e-6);
                wk += (g1 > 0 ? g1 : 0) * aij;
            }
        }
        for (int q = 0; q < hw; q++) map[q] += (float)(wk * a[q]);
    }
    for (int q = 0; q < hw; q++)
        if (!(map[q] > 0)) map[q] = 0;
}

int xc_cam_compute(xc_model *m, const xt_tensor *x, const xc_cam_opts *o, int sigmoid, xc_cam_batch *out) {
    memset(out, 0, sizeof *out);
    xc_cam_opts def = xc_cam_default();
    if (!o) o = &def;
    int64_t xs[4];
    if (xt_shape(x, xs, 4) != 4) return xc_errorf("CAM: the input must be (N, 3, H, W)");
    int n = (int)xs[0], K = xc_model_num_classes(m);
    if (o->class_index >= K) return xc_errorf("CAM: class %d is out of range (%d classes)", o->class_index, K);
    xt_arena *arena = xt_arena_new();
    if (!arena) return -1;
    xt_arena *prev = xt_arena_push(arena);
    xc_model_set_training(m, 0);
    int rc = -1;
    float *A = NULL, *G = NULL;
    xt_tensor *act = NULL, *logits = xc_model_forward_tap(m, x, o->layer, &act); // (n, K), (n, C, h, w)
    if (!logits) goto done;
    int64_t as[4];
    if (xt_shape(act, as, 4) != 4) {
        xc_errorf("CAM: layer '%s' has no spatial output", o->layer ? o->layer : xc_model_cam_layer_default(m));
        goto done;
    }
    int C = (int)as[1], h = (int)as[2], w = (int)as[3];
    out->n = n, out->k = K, out->h = h, out->w = w, out->size_h = (int)xs[2], out->size_w = (int)xs[3];
    out->class_index = malloc((size_t)n * sizeof *out->class_index);
    out->probs = malloc((size_t)n * K * sizeof *out->probs);
    out->map = malloc((size_t)n * h * w * sizeof *out->map);
    out->map_input = malloc((size_t)n * xs[2] * xs[3] * sizeof *out->map_input);
    A = malloc((size_t)n * C * h * w * sizeof *A);
    G = malloc((size_t)n * C * h * w * sizeof *G);
    if (!out->class_index || !out->probs || !out->map || !out->map_input || !A || !G) {
        xc_errorf("CAM: out of memory");
        goto done;
    }
    /* The probabilities and the classes, outside the graph. */
    int grad = xt_grad_enabled_set(0);
    xt_tensor *lg = xt_detach(logits), *p = lg ? (sigmoid ? xt_sigmoid(lg) : xt_softmax(lg, 1)) : NULL;
    if (p && xt_dtype_of(p) != XT_F32) p = xt_to_dtype(p, XT_F32);
    int ok = p && xt_to_host(p, out->probs, (size_t)n * K * sizeof(float)) == 0;
    xt_grad_enabled_set(grad);
    if (!ok) goto done;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    if (!idx) {
        xc_errorf("CAM: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        int c = o->class_index;
        if (c < 0) {
            c = 0;
            for (int j = 1; j < K; j++)
                if (out->probs[(size_t)i * K + j] > out->probs[(size_t)i * K + c]) c = j;
        }
        out->class_index[i] = c;
        idx[i] = c;
    }
    /* Σ_i logits[i, c_i]: images do not interact in eval mode, so one backward gives each
     * image's gradient of its own class score. */
    int64_t ishape[2] = {n, 1};
    xt_tensor *it = xt_from_host(idx, 2, ishape, XT_I64);
    free(idx);
    if (it && xc_model_device(m) != XT_CPU) it = xt_to_device(it, xc_model_device(m), 0);
    grad = xt_grad_enabled_set(1);
    xt_tensor *score = it ? xt_gather(logits, 1, it) : NULL;
    if (score) score = xt_sum(score);
    xt_tensor *g = NULL;
    ok = score && xt_grad_of(score, act, &g) == 0;
    xt_grad_enabled_set(grad);
    if (!ok) {
        xc_errorf("CAM backward: %s", xc_error());
        goto done;
    }
    xt_tensor *ac = xt_to_dtype(xt_contiguous(act), XT_F32), *gc = xt_to_dtype(xt_contiguous(g), XT_F32);
    size_t nb = (size_t)n * C * h * w * sizeof(float);
    if (!ac || !gc || xt_to_host(ac, A, nb) < 0 || xt_to_host(gc, G, nb) < 0) goto done;
    for (int i = 0; i < n; i++) {
        size_t off = (size_t)i * C * h * w;
        float *map = out->map + (size_t)i * h * w;
        weigh(A + off, G + off, C, h * w, o->method, map);
        resize_bilinear(map, h, w, out->map_input + (size_t)i * xs[2] * xs[3], (int)xs[2], (int)xs[3]);
    }
    rc = 0;
done:
    free(A);
    free(G);
    xt_arena_push(prev);
    xt_arena_free(arena);
    return rc;
}

double xc_cam_pearson(const float *a, const double *b, int64_t n) {
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= (double)n, mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < n; i++) {
        double da = a[i] - ma, db = b[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    return sab / sqrt(saa * sbb);
}

/* The jet colour map at v in [0, 1]. */
static void jet(double v, uint8_t rgb[3]) {
    double c[3] = {1.5 - fabs(4 * v - 3), 1.5 - fabs(4 * v - 2), 1.5 - fabs(4 * v - 1)};
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lrint(255 * (c[k] < 0 ? 0 : c[k] > 1 ? 1 : c[k]));
}

int xc_cam_write(const char *base, const xc_cam_batch *b, int i, const uint8_t *image, int channels,
                 const char *class_name, const char *layer, xc_cam_method method) {
    int H = b->size_h, W = b->size_w, hw = b->h * b->w;
    const float *map = b->map + (size_t)i * hw, *mi = b->map_input + (size_t)i * H * W;
    size_t len = strlen(base);
    char *path = malloc(len + 32);
    if (!path) return xc_errorf("out of memory");
    int rc = -1;
    xc_image img = {0};
    xc_st_writer *st = xc_st_writer_new();
    char num[64];
    int64_t s1[2] = {b->h, b->w}, s2[2] = {H, W};
    if (!st || xc_st_writer_add(st, "map", XC_F32, 2, s1, map, (size_t)hw * sizeof(float)) < 0 ||
        xc_st_writer_add(st, "map_input", XC_F32, 2, s2, mi, (size_t)H * W * sizeof(float)) < 0 ||
        xc_st_writer_meta(st, "xraycls.cam.class", class_name) < 0 ||
        xc_st_writer_meta(st, "xraycls.cam.layer", layer ? layer : "default") < 0 ||
        xc_st_writer_meta(st, "xraycls.cam.method", xc_cam_method_name(method)) < 0)
        goto done;
    snprintf(num, sizeof num, "%d", b->class_index[i]);
    if (xc_st_writer_meta(st, "xraycls.cam.class_index", num) < 0) goto done;
    snprintf(num, sizeof num, "%.6f", b->probs[(size_t)i * b->k + b->class_index[i]]);
    if (xc_st_writer_meta(st, "xraycls.cam.prob", num) < 0) goto done;
    snprintf(path, len + 32, "%s.cam.safetensors", base);
    if (xc_st_writer_write(st, path) < 0) goto done;

    if (xc_image_alloc(&img, W, H, 3) < 0) goto done;
    float peak = 0;
    for (int q = 0; q < H * W; q++) peak = mi[q] > peak ? mi[q] : peak;
    for (int q = 0; q < H * W; q++) {
        int gray = 0;
        for (int c = 0; c < channels; c++) gray += image[(size_t)c * H * W + q];
        gray /= channels;
        uint8_t rgb[3];
        jet(peak > 0 ? mi[q] / peak : 0, rgb);
        for (int c = 0; c < 3; c++) img.pixels[(size_t)q * 3 + c] = (uint8_t)((gray + rgb[c] + 1) / 2);
    }
    snprintf(path, len + 32, "%s.png", base);
    if (xc_image_write_png(path, &img) < 0) goto done;
    rc = 0;
done:
    if (rc < 0 && !*xc_error()) xc_errorf("cannot write '%s'", path);
    xc_image_free(&img);
    xc_st_writer_free(st);
    free(path);
    return rc;
}

/* ---- eval --cam-worst ------------------------------------------------------------------------ */

#define XC_CLASS_NAME_MAX_CAM 128

typedef struct {
    int64_t i;
    float p;
} err_item;

static int err_cmp(const void *a, const void *b) {
    const err_item *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* A class name safe as one path component. */
static void safe_name(const char *s, char *out, size_t cap) {
    size_t k = 0;
    for (; *s && k + 1 < cap; s++, k++) out[k] = (*s == '/' || (*s == '.' && k == 0)) ? '_' : *s;
    out[k] = 0;
}

int xc_cam_worst(xc_model *m, xc_dataset *d, const float *probs, const char *const *class_names,
                 const xc_normalize *norm, int k_worst, const char *dir, const xc_cam_opts *o, int sigmoid,
                 int64_t *written) {
    int64_t n = xc_dataset_len(d), done = 0;
    int K = xc_model_num_classes(m), C = xc_dataset_channels(d), S = xc_dataset_size(d);
    const int64_t *labels = xc_dataset_labels(d);
    if (written) *written = 0;
    err_item *errs = malloc((size_t)(n ? n : 1) * sizeof *errs);
    if (!errs) return xc_errorf("out of memory");
    int rc = 0;
    for (int c = 0; c < K && rc == 0; c++) {
        int64_t ne = 0;
        for (int64_t i = 0; i < n; i++) {
            if (labels[i] != c) continue;
            const float *p = probs + (size_t)i * K;
            int best = 0;
            for (int j = 1; j < K; j++)
                if (p[j] > p[best]) best = j;
            if (best != c) errs[ne].i = i, errs[ne++].p = p[best];
        }
        qsort(errs, (size_t)ne, sizeof *errs, err_cmp);
        if (ne > k_worst) ne = k_worst;
        char cdir_name[XC_CLASS_NAME_MAX_CAM];
        safe_name(class_names[c], cdir_name, sizeof cdir_name);
        char *cdir = ne ? xc_path_join(dir, cdir_name) : NULL;
        if (ne && (!cdir || xc_mkdir_p(cdir) < 0)) rc = -1;
        for (int64_t r = 0; r < ne && rc == 0; r++) {
            int64_t i = errs[r].i;
            xt_arena *a = xt_arena_new(), *prev = xt_arena_push(a);
            int64_t shape[4] = {1, C, S, S};
            xt_tensor *x = xt_from_host(xc_dataset_image(d, i), 4, shape, XT_U8);
            if (x && xc_model_device(m) != XT_CPU) x = xt_to_device(x, xc_model_device(m), 0);
            xt_tensor *xn = x ? xc_normalize_apply(x, norm) : NULL; // (1, 3, S, S) float32
            xc_cam_batch b = {0};
            xc_cam_opts oo = *o;
            oo.class_index = -1; /* the wrong class the model chose */
            if (!xn || xc_cam_compute(m, xn, &oo, sigmoid, &b) < 0) {
                rc = xc_errorf("explaining sample %lld of '%s': %s", (long long)i, xc_dataset_path(d), xc_error());
            } else {
                char stem[256], pred[XC_CLASS_NAME_MAX_CAM];
                safe_name(class_names[b.class_index[0]], pred, sizeof pred);
                snprintf(stem, sizeof stem, "%lld-sample%lld-as-%s", (long long)(r + 1), (long long)i, pred);
                char *base = xc_path_join(cdir, stem);
                if (!base || xc_cam_write(base, &b, 0, xc_dataset_image(d, i), C, class_names[b.class_index[0]],
                                          o->layer ? o->layer : xc_model_cam_layer_default(m), o->method) < 0)
                    rc = -1;
                free(base);
                done++;
            }
            xc_cam_batch_free(&b);
            xt_arena_push(prev);
            xt_arena_free(a);
        }
        free(cdir);
    }
    free(errs);
    if (written) *written = done;
    return rc;
}
