/* predict.c — inference over image files and prepared splits (xraycls/predict.h): file
 * collection and sharding, decoding on the core thread pool (xraycls/pool.h) that fills batch
 * k+1 while the model runs batch k, and the gradient-free forward pass with the head's
 * activation. The decoding threads and libtorch's intra-op threads are both sized from the
 * usable CPUs: the decoders fill the cores while libtorch waits on memory or between layers,
 * and batch k+1 is ready when batch k's forward ends (docs/BENCHMARKS.md measures it). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/predict.h"

#include <errno.h>
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
    xc_predict_opts o = {32, 0, NULL, NULL, NULL};
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
    int B = o->batch > 0 ? o->batch : 32, K = xc_model_num_classes(m), S = info->image_size, C = info->channels;
    int T = o->threads;
    if (T <= 0) T = xc_cpu_count() < 16 ? xc_cpu_count() : 16;
    if (T > n && n > 0) T = (int)n;
    if (T < 1) T = 1;
    xc_normalize norm = xc_predict_normalize(info);
    xt_device dev = xc_model_device(m);
    size_t img = (size_t)C * S * S;

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
        jobs[k] = (decode_job){files, S, C, hwc, &slots[k]};
    }
    int scratch_ok = hwc != NULL;
    for (int k = 0; scratch_ok && C == 3 && k < T; k++) scratch_ok = (hwc[k] = malloc((size_t)S * S * 3)) != NULL;
    if (!pool) goto done;
    if (!probs || !scratch_ok || !slots[0].pixels || !slots[1].pixels || !slots[0].reason || !slots[1].reason) {
        xc_errorf("predict: out of memory for batches of %d images of %dx%d", B, S, S);
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
            int64_t shape[4] = {ok, C, S, S};
            xt_tensor *x = xt_from_host(cur->pixels, 4, shape, XT_U8); // (ok, C, S, S) uint8
            if (x && dev != XT_CPU) x = xt_upload_pinned(x, dev);
            xt_tensor *xn = x ? xc_normalize_apply(x, &norm) : NULL; // (ok, 3, S, S) float32
            if (!xn) failed = 1;
            else if (o->cam) {
                if (xc_cam_compute(m, xn, o->cam, sigmoid, &cams) < 0) failed = 1;
                else memcpy(probs, cams.probs, (size_t)ok * K * sizeof *probs);
            } else if (forward_probs(m, sigmoid, xn, probs, NULL, ok) < 0) {
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

int xc_predict_dataset(xc_model *m, const xc_model_info *info, xc_dataset *d, int batch, float *probs,
                       void (*progress)(void *ud, int64_t done), void *ud) {
    return xc_predict_dataset_logits(m, info, d, batch, probs, NULL, progress, ud);
}

int xc_predict_dataset_logits(xc_model *m, const xc_model_info *info, xc_dataset *d, int batch, float *probs,
                              float *logits, void (*progress)(void *ud, int64_t done), void *ud) {
    int sigmoid = head_kind(info);
    if (sigmoid < 0) return -1;
    if (xc_dataset_size(d) != info->image_size)
        return xc_errorf("'%s' holds %dx%d images but the model takes %dx%d (prepare the data at --size %d)",
                         xc_dataset_path(d), xc_dataset_size(d), xc_dataset_size(d), info->image_size,
                         info->image_size, info->image_size);
    if (xc_dataset_channels(d) != info->channels)
        return xc_errorf("'%s' holds %d-channel images but the model was trained on %d-channel ones",
                         xc_dataset_path(d), xc_dataset_channels(d), info->channels);
    int B = batch > 0 ? batch : 32, K = xc_model_num_classes(m);
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
        if (!x || forward_probs(m, sigmoid, x, probs + (size_t)start * K, logits ? logits + (size_t)start * K : NULL, cnt) < 0) {
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
