/* predict.c — inference over image files and prepared splits (xraycls/predict.h): file
 * collection and sharding, decoding on the core thread pool (xraycls/pool.h) that fills batch
 * k+1 while the model runs batch k, and the gradient-free forward pass with the head's
 * activation. The decoding threads and libtorch's intra-op threads are both sized from the
 * usable CPUs: the decoders fill the cores while libtorch waits on memory or between layers,
 * and batch k+1 is ready when batch k's forward ends (docs/BENCHMARKS.md measures it). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/predict.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/nn.h"
#include "xraycls/pool.h"
#include "xraycls/sysinfo.h"

/* ---- files ---------------------------------------------------------------------------------- */

typedef struct {
    char **v;
    int64_t n, cap;
} strvec;

static int strvec_push(strvec *s, char *str) {
    if (!str) return xc_errorf("out of memory listing files");
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 256;
        char **v = realloc(s->v, (size_t)cap * sizeof *v);
        if (!v) {
            free(str);
            return xc_errorf("out of memory listing files");
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

/* The walk's name filter: every visible entry; a hidden one only when named like an image,
 * so that a skipped "._x.jpg" or ".scan.dcm" is reported and ".DS_Store" is not. */
static int keep_name(const char *name) {
    if (name[0] != '.') return 1;
    const char *ext = strrchr(name, '.');
    return ext && ext != name && (!strcasecmp(ext, ".png") || !strcasecmp(ext, ".jpg") || !strcasecmp(ext, ".jpeg") ||
                                  !strcasecmp(ext, ".dcm"));
}

/* Every image file below dir, sorted, appended to out; what the walk passed over to skipped
 * as "dir/rel: why". */
static int walk(const char *dir, strvec *out, strvec *skipped) {
    char **rel = NULL, **sk = NULL;
    int64_t n = 0, nsk = 0;
    if (xc_walk_report(dir, XC_WALK_FILES | XC_WALK_RECURSIVE, keep_name, &rel, &n, &sk, &nsk) < 0) return -1;
    int rc = 0;
    for (int64_t i = 0; i < n && rc == 0; i++) {
        char *p = xc_path_join(dir, rel[i]);
        if (p && xc_image_is_candidate(p)) rc = strvec_push(out, p);
        else if (!p) rc = xc_errorf("out of memory listing '%s'", dir);
        else free(p);
    }
    for (int64_t i = 0; i < nsk && rc == 0; i++) rc = strvec_push(skipped, xc_path_join(dir, sk[i]));
    xc_strv_free(rel, n);
    xc_strv_free(sk, nsk);
    return rc;
}

void xc_predict_files_free(char **files, int64_t count) {
    if (!files) return;
    for (int64_t i = 0; i < count; i++) free(files[i]);
    free(files);
}

int xc_predict_collect(const char *const *paths, int n, char ***files, int64_t *count, char ***skipped,
                       int64_t *nskipped) {
    strvec out = {0}, sk = {0};
    *files = NULL;
    *count = 0;
    *skipped = NULL;
    *nskipped = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            xc_errorf_errno("cannot read '%s'", paths[i]);
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            if (walk(paths[i], &out, &sk) < 0) goto fail;
        } else if (strvec_push(&out, strdup(paths[i])) < 0) {
            goto fail;
        }
    }
    *files = out.v;
    *count = out.n;
    *skipped = sk.v;
    *nskipped = sk.n;
    return 0;
fail:
    xc_predict_files_free(out.v, out.n);
    xc_predict_files_free(sk.v, sk.n);
    return -1;
}

int64_t xc_predict_shard(char **files, int64_t count, int shard, int shards) {
    int64_t k = 0;
    for (int64_t i = 0; i < count; i++) {
        if (i % shards == shard - 1) files[k++] = files[i];
        else free(files[i]);
    }
    return k;
}

int xc_predict_parse_shard(const char *s, int *shard, int *shards) {
    char *end;
    errno = 0;
    long k = strtol(s, &end, 10);
    if (end == s || *end != '/' || errno) return xc_errorf("shard '%s' is not K/N", s);
    const char *rest = end + 1;
    long n = strtol(rest, &end, 10);
    if (end == rest || *end || errno) return xc_errorf("shard '%s' is not K/N", s);
    if (n < 1 || n > 1000000 || k < 1 || k > n) return xc_errorf("shard '%s': K must be in 1..N", s);
    *shard = (int)k;
    *shards = (int)n;
    return 0;
}

/* ---- the forward pass ------------------------------------------------------------------------ */

xc_predict_opts xc_predict_default(void) {
    xc_predict_opts o = {32, 0, NULL, NULL, NULL, XC_TTA_NONE};
    return o;
}

xc_normalize xc_predict_normalize(const xc_model_info *info) {
    xc_normalize n;
    n.channels = (info->channels == 3 || info->expand_gray_to_rgb) ? 3 : 1;
    for (int k = 0; k < 3; k++) n.mean[k] = info->mean[k], n.std[k] = info->std[k];
    return n;
}

static int head_kind(const xc_model_info *info) {
    if (!strcmp(info->head, "softmax")) return 0;
    if (!strcmp(info->head, "sigmoid")) return 1;
    return xc_errorf("model head '%s' is neither softmax nor sigmoid", info->head);
}

/* x: (n, C, S, S) normalised float on the model's device → probs (n, K) on the host, and the
 * logits (n, K) when out_logits is not NULL. Runs in the current arena; gradients must be off. */
static int forward_probs(xc_model *m, int sigmoid, const xt_tensor *x, float *probs, float *out_logits, int64_t n) {
    xt_tensor *logits = xc_model_forward(m, x); // (n, K) float32
    if (!logits) return -1;
    size_t bytes = (size_t)n * xc_model_num_classes(m) * sizeof(float);
    if (out_logits) {
        xt_tensor *l = xt_dtype_of(logits) == XT_F32 ? logits : xt_to_dtype(logits, XT_F32);
        if (!l || xt_to_host(l, out_logits, bytes) < 0) return -1;
    }
    xt_tensor *p = sigmoid ? xt_sigmoid(logits) : xt_softmax(logits, 1);
    if (!p) return -1;
    if (xt_dtype_of(p) != XT_F32 && !(p = xt_to_dtype(p, XT_F32))) return -1;
    return xt_to_host(p, probs, bytes);
}

/* ---- test-time augmentation ------------------------------------------------------------------ */

/* torchvision's centre crop offset, int(round(d / 2)) with Python's round (half to even). */
static int centre_offset(int d) {
    int h = d / 2;
    return d % 2 && h % 2 ? h + 1 : h;
}

/* log(exp(a) + exp(b)) without overflow; a may be -inf (an empty sum). */
static double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    double hi = a > b ? a : b, lo = a > b ? b : a;
    return hi + log1p(exp(lo - hi));
}

/* log sigmoid(z) = -softplus(-z). */
static double log_sigmoid(double z) { return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z)); }

/* x: (n, 3, H, H) normalised float on the model's device, H = S for none and flip, the resized
 * side R for tencrop → probs (n, K): the mean over the views of their probabilities, and
 * (when out_logits is not NULL) the logit of that mean: log p̄ for a softmax head (softmax of
 * the row gives p̄ back), log(p̄ / (1 − p̄)) for a sigmoid head. The mean is taken in double
 * on the host from each view's logits, as log-sum-exp of the log-probabilities, so that a
 * probability that underflows in one view still has a finite logit. One view: the plain
 * forward pass. Each view's tensors are released before the next. */
static int forward_tta(xc_model *m, int sigmoid, const xt_tensor *x, int S, xc_tta tta, float *probs,
                       float *out_logits, int64_t n) {
    if (tta == XC_TTA_NONE) return forward_probs(m, sigmoid, x, probs, out_logits, n);
    int K = xc_model_num_classes(m), V = xc_tta_views(tta);
    int64_t shape[4];
    if (xt_shape(x, shape, 4) != 4) return xc_errorf("TTA: the batch is not (n, C, H, W)");
    int H = (int)shape[2], W = (int)shape[3];
    if (H < S || W < S) return xc_errorf("TTA: %dx%d images are smaller than the %dx%d crops", W, H, S, S);
    size_t cells = (size_t)n * K;
    float *z = malloc(cells * sizeof *z), *pv = malloc(cells * sizeof *pv);
    double *pos = malloc(cells * sizeof *pos), *neg = malloc(cells * sizeof *neg);
    int rc = 0;
    if (!z || !pv || !pos || !neg) rc = xc_errorf("TTA: out of memory");
    for (size_t q = 0; q < cells && rc == 0; q++) pos[q] = neg[q] = -INFINITY;
    xt_arena *arena = xt_arena_current();
    /* the five crops' offsets (top, left): corners tl, tr, bl, br, then the centre */
    const int top[5] = {0, 0, H - S, H - S, centre_offset(H - S)};
    const int left[5] = {0, W - S, 0, W - S, centre_offset(W - S)};
    for (int v = 0; v < V && rc == 0; v++) {
        size_t mark = xt_arena_mark(arena);
        int64_t dim3 = 3;
        /* the second half of the views is of the mirrored image */
        const xt_tensor *img = v >= V / 2 ? xt_flip(x, 1, &dim3) : x;
        const xt_tensor *view = img;
        if (img && tta == XC_TTA_TENCROP) {
            int c = v % 5;
            xt_tensor *r = xt_narrow(img, 2, top[c], S);
            r = r ? xt_narrow(r, 3, left[c], S) : NULL;
            view = r ? xt_contiguous(r) : NULL; // (n, 3, S, S) float32
        }
        if (!view || forward_probs(m, sigmoid, view, pv, z, n) < 0) rc = -1;
        for (int64_t i = 0; i < n && rc == 0; i++) {
            const float *zi = z + (size_t)i * K;
            double *pi = pos + (size_t)i * K, *ni = neg + (size_t)i * K;
            if (sigmoid) {
                for (int c = 0; c < K; c++) {
                    pi[c] = log_add(pi[c], log_sigmoid(zi[c]));
                    ni[c] = log_add(ni[c], log_sigmoid(-(double)zi[c]));
                }
                continue;
            }
            double mx = zi[0], sum = 0; /* this view's log-softmax of the row, in double */
            for (int c = 1; c < K; c++) mx = zi[c] > mx ? zi[c] : mx;
            for (int c = 0; c < K; c++) sum += exp((double)zi[c] - mx);
            double lse = mx + log(sum);
            for (int c = 0; c < K; c++) pi[c] = log_add(pi[c], (double)zi[c] - lse);
        }
        xt_arena_release(arena, mark, NULL, 0);
    }
    double logv = log((double)V);
    for (size_t q = 0; q < cells && rc == 0; q++) {
        double lp = pos[q] - logv; /* log p̄ */
        probs[q] = (float)exp(lp);
        if (out_logits) out_logits[q] = (float)(sigmoid ? lp - (neg[q] - logv) : lp);
    }
    free(z);
    free(pv);
    free(pos);
    free(neg);
    return rc;
}

/* ---- decoding ------------------------------------------------------------------------------ */

typedef struct {
    uint8_t *pixels; /* (batch, C, S, S) */
    char **reason;   /* (batch): NULL when decoded, else the message (malloc'd) */
    int64_t start, count;
} slot;

/* One batch's decoding job on the core pool (xraycls/pool.h): item i is files[s->start + i]. */
typedef struct {
    const char *const *files;
    int size, channels;
    uint8_t **hwc; /* per pool worker: an (S, S, 3) scratch image for RGB models */
    slot *s;
} decode_job;

/* Decodes files[s->start + i] into slot position i as CHW. */
static void decode_one(void *ctx, int64_t i, int worker) {
    const decode_job *j = ctx;
    slot *s = j->s;
    int S = j->size, C = j->channels;
    uint8_t *dst = s->pixels + (size_t)i * C * S * S, *hwc = j->hwc[worker];
    const char *path = j->files[s->start + i];
    if (xc_image_load_resized(path, S, C, C == 1 ? dst : hwc) < 0) {
        const char *msg = xc_error();
        s->reason[i] = strdup(*msg ? msg : "cannot decode");
        if (!s->reason[i]) s->reason[i] = strdup("out of memory");
        return;
    }
    if (C == 3) /* HWC → CHW */
        for (int c = 0; c < 3; c++)
            for (int q = 0; q < S * S; q++) dst[(size_t)c * S * S + q] = hwc[(size_t)q * 3 + c];
}

static void slot_clear(slot *s) {
    for (int64_t i = 0; i < s->count; i++) {
        free(s->reason[i]);
        s->reason[i] = NULL;
    }
}

int xc_predict_files(xc_model *m, const xc_model_info *info, const char *const *files, int64_t n,
                     const xc_predict_opts *o, xc_predict_row_fn row, void *ud, int64_t *scored,
                     int64_t *skipped) {
    xc_predict_opts def = xc_predict_default();
    if (!o) o = &def;
    int64_t n_scored = 0, n_skipped = 0;
    if (scored) *scored = 0;
    if (skipped) *skipped = 0;
    int sigmoid = head_kind(info);
    if (sigmoid < 0) return -1;
    if (info->channels != 1 && info->channels != 3)
        return xc_errorf("model: %d input channels stored (1 or 3 expected)", info->channels);
    if (info->image_size < 1 || info->image_size > 8192)
        return xc_errorf("model: image size %d is out of range", info->image_size);
    if (o->cam && o->tta != XC_TTA_NONE)
        return xc_errorf("Grad-CAM explains one view of each image, not the mean of a test-time augmentation (%s)",
                         xc_tta_name(o->tta));
    /* S: the model's side; D: the side decoded (tencrop's crops are taken from a larger image) */
    int B = o->batch > 0 ? o->batch : 32, K = xc_model_num_classes(m), S = info->image_size, C = info->channels;
    int D = o->tta == XC_TTA_TENCROP ? xc_tta_resize(S) : S;
    int T = o->threads;
    if (T <= 0) T = xc_cpu_count() < 16 ? xc_cpu_count() : 16;
    if (T > n && n > 0) T = (int)n;
    if (T < 1) T = 1;
    xc_normalize norm = xc_predict_normalize(info);
    xt_device dev = xc_model_device(m);
    size_t img = (size_t)C * D * D;

    slot slots[2] = {{0}, {0}};
    float *probs = malloc((size_t)B * K * sizeof *probs);
    int rc = -1;
    xc_pool *pool = xc_pool_new(T);
    if (pool) T = xc_pool_threads(pool);
    uint8_t **hwc = calloc((size_t)T, sizeof *hwc);
    decode_job jobs[2];
    for (int k = 0; k < 2; k++) {
        slots[k].pixels = malloc((size_t)B * img);
        slots[k].reason = calloc((size_t)B, sizeof *slots[k].reason);
        jobs[k] = (decode_job){files, D, C, hwc, &slots[k]};
    }
    int scratch_ok = hwc != NULL;
    for (int k = 0; scratch_ok && C == 3 && k < T; k++) scratch_ok = (hwc[k] = malloc((size_t)D * D * 3)) != NULL;
    if (!pool) goto done;
    if (!probs || !scratch_ok || !slots[0].pixels || !slots[1].pixels || !slots[0].reason || !slots[1].reason) {
        xc_errorf("predict: out of memory for batches of %d images of %dx%d", B, D, D);
        goto done;
    }

    xt_arena *arena = xt_arena_new();
    if (!arena) goto done;
    xt_arena *prev = xt_arena_push(arena);
    int prev_grad = xt_grad_enabled_set(0);
    xc_model_set_training(m, 0);
    int64_t nb = (n + B - 1) / B;
    if (nb > 0) {
        slots[0].start = 0;
        slots[0].count = n < B ? n : B;
        xc_pool_start(pool, slots[0].count, decode_one, &jobs[0]);
        xc_pool_wait(pool);
    }
    int failed = 0;
    xc_cam_batch cams = {0};
    for (int64_t b = 0; b < nb && !failed; b++) {
        slot *cur = &slots[b % 2], *nxt = &slots[(b + 1) % 2];
        if (b + 1 < nb) { /* decode the next batch while this one runs */
            nxt->start = (b + 1) * B;
            nxt->count = n - nxt->start < B ? n - nxt->start : B;
            xc_pool_start(pool, nxt->count, decode_one, &jobs[(b + 1) % 2]);
        }
        /* Compact the decoded images to the front. */
        int64_t ok = 0;
        for (int64_t i = 0; i < cur->count; i++)
            if (!cur->reason[i]) {
                if (ok != i) memmove(cur->pixels + (size_t)ok * img, cur->pixels + (size_t)i * img, img);
                ok++;
            }
        if (ok > 0) {
            int64_t shape[4] = {ok, C, D, D};
            xt_tensor *x = xt_from_host(cur->pixels, 4, shape, XT_U8); // (ok, C, D, D) uint8
            if (x && dev != XT_CPU) x = xt_upload_pinned(x, dev);
            xt_tensor *xn = x ? xc_normalize_apply(x, &norm) : NULL; // (ok, 3, D, D) float32
            if (!xn) failed = 1;
            else if (o->cam) {
                if (xc_cam_compute(m, xn, o->cam, sigmoid, &cams) < 0) failed = 1;
                else memcpy(probs, cams.probs, (size_t)ok * K * sizeof *probs);
            } else if (forward_tta(m, sigmoid, xn, S, o->tta, probs, NULL, ok) < 0) {
                failed = 1;
            }
            xt_arena_clear(arena);
        }
        for (int64_t i = 0, j = 0; i < cur->count && !failed; i++) {
            const char *path = files[cur->start + i];
            int stop;
            if (cur->reason[i]) {
                n_skipped++;
                stop = row(ud, path, NULL, cur->reason[i]);
            } else {
                n_scored++;
                stop = row(ud, path, probs + (size_t)j * K, NULL);
                if (!stop && o->cam && o->on_cam)
                    stop = o->on_cam(o->cam_ud, path, &cams, (int)j, cur->pixels + (size_t)j * img, C);
                j++;
            }
            if (stop) failed = 1; /* row left its message */
        }
        slot_clear(cur);
        xc_cam_batch_free(&cams);
        if (b + 1 < nb) xc_pool_wait(pool);
    }
    xc_pool_wait(pool); /* a failure may leave the next batch decoding */
    xc_cam_batch_free(&cams);
    slot_clear(&slots[0]);
    slot_clear(&slots[1]);
    xt_grad_enabled_set(prev_grad);
    xt_arena_push(prev);
    xt_arena_free(arena);
    rc = failed ? -1 : 0;
done:
    xc_pool_free(pool);
    /* A failed run leaves reasons in the slot still decoding when it stopped. */
    for (int k = 0; k < 2; k++)
        if (slots[k].reason) slot_clear(&slots[k]);
    for (int k = 0; hwc && k < T; k++) free(hwc[k]);
    free(hwc);
    for (int k = 0; k < 2; k++) {
        free(slots[k].pixels);
        free(slots[k].reason);
    }
    free(probs);
    if (scored) *scored = n_scored;
    if (skipped) *skipped = n_skipped;
    return rc;
}

int xc_predict_dataset_tta(xc_model *m, const xc_model_info *info, xc_dataset *d, int batch, xc_tta tta,
                           float *probs, float *logits, void (*progress)(void *ud, int64_t done), void *ud) {
    int sigmoid = head_kind(info);
    if (sigmoid < 0) return -1;
    if (xc_dataset_size(d) != info->image_size)
        return xc_errorf("'%s' holds %dx%d images but the model takes %dx%d (prepare the data at --size %d)",
                         xc_dataset_path(d), xc_dataset_size(d), xc_dataset_size(d), info->image_size,
                         info->image_size, info->image_size);
    if (xc_dataset_channels(d) != info->channels)
        return xc_errorf("'%s' holds %d-channel images but the model was trained on %d-channel ones",
                         xc_dataset_path(d), xc_dataset_channels(d), info->channels);
    int B = batch > 0 ? batch : 32, K = xc_model_num_classes(m), S = info->image_size, R = xc_tta_resize(S);
    int64_t n = xc_dataset_len(d);
    xc_normalize norm = xc_predict_normalize(info);
    xt_device dev = xc_model_device(m);
    int64_t *idx = malloc((size_t)B * sizeof *idx);
    xt_arena *arena = xt_arena_new();
    if (!idx || !arena) {
        free(idx);
        xt_arena_free(arena);
        return xc_errorf("predict: out of memory");
    }
    xt_arena *prev = xt_arena_push(arena);
    int prev_grad = xt_grad_enabled_set(0);
    xc_model_set_training(m, 0);
    int rc = 0;
    for (int64_t start = 0; start < n && rc == 0; start += B) {
        int64_t cnt = n - start < B ? n - start : B;
        for (int64_t i = 0; i < cnt; i++) idx[i] = start + i;
        xt_tensor *x = xc_dataset_batch(d, idx, cnt, dev, NULL, &norm, NULL); // (cnt, 3, S, S) float32
        /* tencrop: the prepared S x S images upsampled to R x R (bilinear, Pillow's filter) */
        if (x && tta == XC_TTA_TENCROP) x = xt_interpolate(x, R, R, XT_INTERP_BILINEAR, 0, 1); // (cnt, 3, R, R)
        if (!x || forward_tta(m, sigmoid, x, S, tta, probs + (size_t)start * K, logits ? logits + (size_t)start * K : NULL,
                              cnt) < 0) {
            rc = xc_errorf("scoring samples %lld..%lld of '%s': %s", (long long)start, (long long)(start + cnt - 1),
                           xc_dataset_path(d), xc_error());
        }
        xt_arena_clear(arena);
        if (progress && rc == 0) progress(ud, start + cnt);
    }
    xt_grad_enabled_set(prev_grad);
    xt_arena_push(prev);
    xt_arena_free(arena);
    free(idx);
    return rc;
}
