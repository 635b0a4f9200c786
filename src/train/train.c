/* train.c — the training loop of `xraycls train` (contract in xraycls/train.h): the epochs with
 * Adam's per-epoch schedule, the run folder's log and metrics files, its TensorBoard events
 * (through xraycls/tensorboard.h), checkpoints and exact resumption, and xc_train_run itself.
 *
 * Not here: the setup — folder, model, weights, optimiser, loss (train_setup.c); one step and
 * one validation pass (train_step.c); the config (config.c); the checkpoint format
 * (checkpoint.c); printing and signals (src/cli/cmd_train.c). */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/plot.h"
#include "xraycls/progress.h"
#include "xraycls/strbuf.h"
#include "xraycls/sysinfo.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Adds a line to train.log; `echo`: also hand it to opts->on_log. */
static void log_line(run *r, int echo, const char *line) {
    /* In data-parallel training rank 0 speaks for the run; the others keep quiet (their errors
     * still reach the command). */
    if (echo && r->o->on_log && r->rank == 0) r->o->on_log(r->o->ud, line);
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
    size_t add = strlen(stamp) + strlen(line) + 3;
    char *nl = realloc(r->log, r->log_len + add + 1);
    if (!nl) return; /* the log is best effort; training goes on */
    r->log = nl;
    r->log_len += (size_t)snprintf(r->log + r->log_len, add + 1, "%s  %s\n", stamp, line);
}

void tr_log(run *r, const char *fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_line(r, 1, line);
}

/* train.log is rewritten whole (atomically) rather than appended, so it is never torn. */
static int flush_log(run *r) {
    if (r->rank != 0) return 0; /* rank 0 alone writes the run folder */
    char *p = xc_path_join(r->dir, "train.log");
    if (!p) return -1;
    int rc = xc_write_file_atomic(p, r->log ? r->log : "", r->log_len);
    free(p);
    return rc;
}

/* ---- metrics files ----------------------------------------------------------------------- */

static void json_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* metrics.jsonl (one object per epoch) and metrics.csv (the same numbers; a missing value is an
 * empty field), both rewritten whole and atomically after every epoch. */
static int write_metrics(run *r) {
    if (r->rank != 0) return 0;
    static const char *const head[] = {"epoch", "train_loss", "train_acc", "val_loss", "val_acc",
                                       "val_balanced_acc", "lr", "seconds", "images_per_s", "val_auroc", "val_macro_f1"};
    xc_strbuf jl = {0};
    xc_csv_writer csv = {0};
    for (size_t j = 0; j < sizeof head / sizeof *head; j++) xc_csv_field(&csv, head[j]);
    xc_csv_end_row(&csv);
    for (int i = 0; i < r->nhist; i++) {
        const xc_epoch_result *e = &r->hist[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "epoch", e->epoch);
        json_num_or_null(o, "train_loss", e->train_loss);
        json_num_or_null(o, "train_acc", e->train_acc);
        json_num_or_null(o, "val_loss", e->val_loss);
        json_num_or_null(o, "val_acc", e->val_acc);
        json_num_or_null(o, "val_balanced_acc", e->val_balanced_acc);
        json_num_or_null(o, "val_auroc", e->val_auroc);
        json_num_or_null(o, "val_macro_f1", e->val_macro_f1);
        cJSON_AddNumberToObject(o, "lr", e->lr);
        cJSON_AddNumberToObject(o, "seconds", e->seconds);
        cJSON_AddNumberToObject(o, "images_per_s", e->images_per_s);
        cJSON_AddNumberToObject(o, "skipped_steps", (double)e->skipped_steps);
        char *s = o ? cJSON_PrintUnformatted(o) : NULL;
        cJSON_Delete(o);
        if (!s) jl.oom = 1;
        else xc_strbuf_printf(&jl, "%s\n", s);
        free(s);
        xc_csv_int(&csv, e->epoch);
        xc_csv_num(&csv, "%.6f", e->train_loss);
        xc_csv_num(&csv, "%.6f", e->train_acc);
        xc_csv_num(&csv, "%.6f", e->val_loss);
        xc_csv_num(&csv, "%.6f", e->val_acc);
        xc_csv_num(&csv, "%.6f", e->val_balanced_acc);
        xc_csv_num(&csv, "%.9g", e->lr);
        xc_csv_num(&csv, "%.3f", e->seconds);
        xc_csv_num(&csv, "%.1f", e->images_per_s);
        xc_csv_num(&csv, "%.6f", e->val_auroc);
        xc_csv_num(&csv, "%.6f", e->val_macro_f1);
        xc_csv_end_row(&csv);
    }
    char *pj = xc_path_join(r->dir, "metrics.jsonl"), *pc = xc_path_join(r->dir, "metrics.csv");
    int rc = pj && pc && xc_strbuf_ok(&jl, "metrics.jsonl") == 0 &&
                     xc_write_file_atomic(pj, jl.s ? jl.s : "", jl.len) == 0 && xc_csv_write_atomic(&csv, pc) == 0
                 ? 0
                 : -1;
    free(pj);
    free(pc);
    xc_strbuf_free(&jl);
    xc_csv_writer_free(&csv);
    return rc;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(e) ? e->valuedouble : NAN;
}

/* On resume: the history of the epochs the checkpoint has completed. */
static int read_metrics(run *r, int upto) {
    char *p = xc_path_join(r->dir, "metrics.jsonl");
    if (!p) return -1;
    size_t len;
    char *text = xc_is_file(p) ? xc_read_file(p, &len, 64u << 20) : NULL;
    free(p);
    if (!text) return 0; /* no history (stopped during the first epoch) */
    r->hist = calloc((size_t)upto + 1, sizeof *r->hist);
    if (!r->hist) {
        free(text);
        return xc_errorf("out of memory");
    }
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        double ep = json_num(o, "epoch");
        if (isfinite(ep) && ep >= 1 && ep <= upto && (int)ep == r->nhist + 1) {
            xc_epoch_result *e = &r->hist[r->nhist++];
            e->epoch = (int)ep;
            e->epochs = r->c->train.epochs;
            e->train_loss = json_num(o, "train_loss");
            e->train_acc = json_num(o, "train_acc");
            e->val_loss = json_num(o, "val_loss");
            e->val_acc = json_num(o, "val_acc");
            e->val_balanced_acc = json_num(o, "val_balanced_acc");
            e->val_auroc = json_num(o, "val_auroc");
            e->val_macro_f1 = json_num(o, "val_macro_f1");
            e->lr = json_num(o, "lr");
            e->seconds = json_num(o, "seconds");
            e->images_per_s = json_num(o, "images_per_s");
            double sk = json_num(o, "skipped_steps");
            e->skipped_steps = isfinite(sk) ? (int64_t)sk : 0;
        }
        cJSON_Delete(o);
    }
    free(text);
    return 0;
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static int save(run *r, const char *name, const xc_run_state *st) {
    if (r->rank != 0) return 0;
    char *p = xc_path_join(r->dir, name);
    if (!p) return -1;
    xc_checkpoint ck = {r->model, r->adam, &r->info, r->config_json, st, r->dev};
    int rc = xc_checkpoint_save(p, &ck);
    free(p);
    return rc;
}

static double best_value_of(const xc_config *c, const xc_epoch_result *e) {
    switch (c->train.best_metric) {
    case XC_BEST_VAL_LOSS: return isfinite(e->val_loss) ? e->val_loss : e->train_loss;
    case XC_BEST_VAL_BALANCED_ACCURACY:
        return isfinite(e->val_balanced_acc) ? e->val_balanced_acc
               : isfinite(e->val_acc)        ? e->val_acc
                                             : e->train_acc;
    case XC_BEST_VAL_AUROC: /* without a defined AUROC (no validation, or no positive there) */
        return isfinite(e->val_auroc) ? e->val_auroc : isfinite(e->val_acc) ? e->val_acc : e->train_acc;
    case XC_BEST_VAL_MACRO_F1:
        return isfinite(e->val_macro_f1) ? e->val_macro_f1 : isfinite(e->val_acc) ? e->val_acc : e->train_acc;
    case XC_BEST_VAL_ACCURACY:
    default: return isfinite(e->val_acc) ? e->val_acc : e->train_acc;
    }
}

/* ---- resume: the config must be the run's -------------------------------------------------- */

static int same_config(const xc_config *now, const char *stored_json, const char *path) {
    xc_config old;
    if (xc_config_parse(&old, stored_json, path, NULL, 0, NULL) < 0) return -1;
    /* What may change on resume: the epoch count, the device, logging and output naming. */
    xc_config cmp = *now;
    cmp.train.epochs = old.train.epochs;
    snprintf(cmp.train.device, sizeof cmp.train.device, "%s", old.train.device);
    cmp.train.log_every = old.train.log_every;
    cmp.train.tensorboard = old.train.tensorboard;
    cmp.train.threads = old.train.threads;
    cmp.train.distributed.backend = old.train.distributed.backend;
    cmp.train.distributed.overlap = old.train.distributed.overlap;
    cmp.train.distributed.bucket_mb = old.train.distributed.bucket_mb;
    cmp.train.distributed.timeout_s = old.train.distributed.timeout_s;
    cmp.output = old.output;
    snprintf(cmp.model.weights_dir, sizeof cmp.model.weights_dir, "%s", old.model.weights_dir);
    char *a = xc_config_to_json(&cmp), *b = xc_config_to_json(&old);
    int rc = 0;
    if (!a || !b) {
        rc = -1;
    } else if (strcmp(a, b) != 0) {
        /* Name the first differing line of the two resolved configs. */
        const char *pa = a, *pb = b;
        while (*pa && *pa == *pb) pa++, pb++;
        while (pa > a && pa[-1] != '\n') pa--;
        size_t n = strcspn(pa, "\n");
        rc = xc_errorf("cannot resume: the config differs from the run's ('%s' holds another "
                       "value than %.*s); only train.epochs, train.device, train.log_every, "
                       "train.tensorboard, train.threads, train.distributed (but sync_bn) and output may change", path, (int)n, pa);
    }
    free(a);
    free(b);
    return rc;
}

/* ---- TensorBoard (docs/TENSORBOARD.md) ------------------------------------------------------ */

/* Event files are a view of the run, not the run: a failure to write one is logged, the file
 * closed, and training goes on (train.log, metrics.jsonl and the checkpoints are what count). */
static void tb_fail(run *r) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", xc_error());
    xc_tb_close(r->tb);
    r->tb = NULL;
    r->tb_grid_pending = 0;
    tr_log(r, "tensorboard: %s; no more events are written", msg);
}

static void tb_scalar(run *r, const char *tag, int64_t step, double v) {
    /* A NaN is what metrics.jsonl writes as null: left out here as there. */
    if (r->tb && isfinite(v) && xc_tb_add_scalar(r->tb, tag, step, v) < 0) tb_fail(r);
}

static void tb_flush(run *r) {
    if (r->tb && xc_tb_flush(r->tb) < 0) tb_fail(r);
}

/* Opens this start's events file in <run>/tb/ (a resumed run adds one) and writes the resolved
 * config as text. Rank 0 only. */
static void tb_open(run *r, const xc_run_state *st) {
    const xc_config *c = r->c;
    if (r->rank != 0 || c->train.tensorboard == XC_TRISTATE_OFF) return;
    if (!xc_tb_available()) {
        tr_log(r, "tensorboard: not written (this build of xraycls has no protobuf-c; "
                  "train.tensorboard false silences this line)");
        return;
    }
    char *dir = xc_path_join(r->dir, "tb");
    r->tb = dir ? xc_tb_open(dir) : NULL;
    free(dir);
    if (!r->tb) {
        tr_log(r, "tensorboard: %s; no events are written", xc_error());
        return;
    }
    tr_log(r, "tensorboard: events in '%s'", xc_tb_path(r->tb));
    /* Markdown (TensorBoard's text plugin): the JSON as a fenced code block. */
    size_t n = strlen(r->config_json);
    char *md = malloc(n + 16);
    if (!md) {
        xc_errorf("out of memory");
        tb_fail(r);
        return;
    }
    snprintf(md, n + 16, "```json\n%s\n```", r->config_json);
    if (xc_tb_add_text(r->tb, "config", st->epoch, md) < 0 || xc_tb_flush(r->tb) < 0) tb_fail(r);
    free(md);
    r->tb_grid_pending = r->tb != NULL;
    r->tb_grid_step = st->global_step + 1;
}

/* The epoch's numbers under metrics.jsonl's names, at step = the epoch, and the validation
 * confusion matrix; then everything pending is flushed. */
static void tb_epoch(run *r, const xc_epoch_result *e, const val_out *v) {
    if (!r->tb) return;
    const struct {
        const char *tag;
        double v;
    } sc[] = {{"train_loss", e->train_loss}, {"train_acc", e->train_acc}, {"val_loss", e->val_loss},
              {"val_acc", e->val_acc},       {"val_balanced_acc", e->val_balanced_acc},
              {"val_auroc", e->val_auroc},   {"val_macro_f1", e->val_macro_f1}, {"lr", e->lr}};
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) tb_scalar(r, sc[i].tag, e->epoch, sc[i].v);
    /* A build without cairo leaves the image out (the scalars above are all there). */
    if (r->tb && v->confusion && v->k >= 1 && v->k <= 64 && xc_plot_available()) {
        const char *names[64];
        for (int i = 0; i < v->k; i++) names[i] = xc_dataset_class(r->val, i);
        char *run_name = xc_plot_name(r->dir, NULL);
        char title[2048];
        snprintf(title, sizeof title, "Confusion matrix, validation, epoch %d \xE2\x80\x94 %s", e->epoch,
                 run_name ? run_name : r->dir);
        free(run_name);
        uint8_t *png = NULL;
        size_t len = 0;
        int w = 0, h = 0;
        if (xc_plot_confusion_png(v->confusion, v->k, names, title, &png, &len, &w, &h) < 0 ||
            xc_tb_add_image(r->tb, "val/confusion_matrix", e->epoch, png, len, w, h, 3) < 0)
            tb_fail(r);
        free(png);
    }
    tb_flush(r);
}

void tr_tb_batch_grid(run *r, const xt_tensor *x) {
    // x: (N, C, S, S) float (normalised) → an RGB grid of up to 8 × 8 images, 2 px apart
    r->tb_grid_pending = 0;
    if (!r->tb) return;
    int64_t sh[4];
    if (xt_ndim(x) != 4 || xt_shape(x, sh, 4) != 4) return;
    int64_t n = sh[0] < 64 ? sh[0] : 64, ch = sh[1], side = sh[2];
    if (n < 1 || (ch != 1 && ch != 3) || sh[3] != side) return;
    xt_tensor *xf = xt_narrow(x, 0, 0, n);
    if (xf && xt_dtype_of(xf) != XT_F32) xf = xt_to_dtype(xf, XT_F32);
    size_t per = (size_t)(ch * side * side);
    float *px = malloc((size_t)n * per * sizeof *px);
    int cols = 1;
    while ((int64_t)cols * cols < n) cols++;
    int rows = (int)((n + cols - 1) / cols), pad = 2;
    xc_image img;
    memset(&img, 0, sizeof img);
    img.width = pad + cols * (int)(side + pad);
    img.height = pad + rows * (int)(side + pad);
    img.channels = 3;
    img.pixels = calloc((size_t)img.width * (size_t)img.height, 3); /* black between images */
    uint8_t *png = NULL;
    size_t len = 0;
    int ok = xf && px && img.pixels && xt_to_host(xf, px, (size_t)n * per * sizeof *px) == 0;
    if (ok) {
        for (int64_t i = 0; i < n; i++) {
            int x0 = pad + (int)(i % cols) * (int)(side + pad), y0 = pad + (int)(i / cols) * (int)(side + pad);
            for (int c3 = 0; c3 < 3; c3++) {
                int c = ch == 3 ? c3 : 0; /* a one-channel model: gray */
                const float *src = px + (size_t)i * per + (size_t)c * (size_t)(side * side);
                double mean = r->norm.mean[c], sd = r->norm.std[c];
                for (int64_t y = 0; y < side; y++)
                    for (int64_t xx = 0; xx < side; xx++) {
                        double v = (src[y * side + xx] * sd + mean) * 255.0;
                        v = v < 0 ? 0 : v > 255 ? 255 : v;
                        img.pixels[((size_t)(y0 + y) * (size_t)img.width + (size_t)(x0 + xx)) * 3 + (size_t)c3] =
                            (uint8_t)lround(v);
                    }
            }
        }
        ok = xc_image_encode_png(&img, &png, &len) == 0 &&
             xc_tb_add_image(r->tb, "train/augmented_batch", r->tb_grid_step, png, len, img.width,
                             img.height, 3) == 0;
    } else if (!px || !img.pixels) {
        xc_errorf("out of memory for the batch grid");
    }
    if (!ok) tb_fail(r);
    free(png);
    free(img.pixels);
    free(px);
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void run_free(run *r) {
    if (r->lock_fd >= 0) { /* removed while still held: the folder is left as a finished run's */
        char *lp = xc_path_join(r->dir, ".lock");
        if (lp) unlink(lp);
        free(lp);
        close(r->lock_fd);
    }
    xc_tb_close(r->tb);
    xt_free(r->class_weight);
    xt_free(r->alpha);
    xc_sampler_free(r->sampler);
    xt_adam_free(r->adam);
    xc_model_free(r->model);
    xc_dataset_close(r->train);
    xc_dataset_close(r->val);
    free(r->config_json);
    free(r->hist);
    free(r->log);
}

static int train_loop(run *r, xc_run_state *st, xc_train_result *res) {
    const xc_config *c = r->c;
    int bs = c->data.batch_size;
    int64_t *idx = malloc((size_t)bs * sizeof *idx);
    xc_epoch_result *nh = realloc(r->hist, (size_t)(c->train.epochs + 1) * sizeof *nh);
    if (!idx || !nh) {
        free(idx);
        if (nh) r->hist = nh;
        return xc_errorf("out of memory");
    }
    r->hist = nh;
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    int rc = 0;
    int64_t epoch_len = xc_sampler_epoch_len(r->sampler);
    int64_t limit = c->train.max_steps_per_epoch > 0
                        ? (int64_t)c->train.max_steps_per_epoch * bs < epoch_len
                              ? (int64_t)c->train.max_steps_per_epoch * bs : epoch_len
                        : epoch_len;
    res->outcome = XC_TRAIN_DONE;

    for (int epoch = st->epoch; epoch < c->train.epochs && rc == 0; epoch++) {
        double lr = xc_schedule_lr(c, epoch);
        xt_adam_set_lr(r->adam, lr);
        st->lr = lr;
        if (xc_model_freeze_backbone(r->model, epoch < c->model.freeze_backbone_epochs) < 0) {
            rc = -1;
            break;
        }
        if (epoch == c->model.freeze_backbone_epochs && epoch > 0)
            tr_log(r, "epoch %d: backbone unfrozen", epoch + 1);
        xc_model_set_training(r->model, 1);
        int mid = st->sampler_epoch == epoch && st->sampler_position > 0;
        if (!mid) {
            st->sampler_epoch = epoch;
            st->sampler_position = 0;
            st->epoch_loss_sum = 0;
            st->epoch_correct = st->epoch_seen = 0;
            st->epoch_seconds = 0;
        }
        if (xc_sampler_seek(r->sampler, epoch, st->sampler_position) < 0) {
            rc = -1;
            break;
        }
        char label[64];
        snprintf(label, sizeof label, "epoch %d/%d", epoch + 1, c->train.epochs);
        xc_progress *bar = xc_progress_start(limit, label, r->o->progress && r->rank == 0);
        xc_progress_update(bar, st->sampler_position, NULL);
        double t_start = now_s() - st->epoch_seconds;
        int64_t skipped = 0, steps_in_epoch = st->sampler_position / bs;
        int stopped = 0;
        for (;;) {
            int64_t want = limit - xc_sampler_position(r->sampler);
            if (want > bs) want = bs;
            if (want <= 0) break;
            int64_t got = xc_sampler_next(r->sampler, idx, want);
            if (got <= 0) break;
            if (r->dist && got < r->world) {
                /* Every rank needs a sample: a last batch smaller than the world is dropped. */
                tr_log(r, "epoch %d: the last %" PRId64 " sample%s (fewer than the %d ranks) "
                          "skipped", epoch + 1, got, got == 1 ? "" : "s", r->world);
                break;
            }
            xt_arena_clear(arena);
            step_out so;
            if (tr_train_step(r, idx, got, &so) < 0) {
                rc = xc_errorf("epoch %d step %" PRId64 ": %s", epoch + 1, steps_in_epoch + 1, xc_error());
                break;
            }
            steps_in_epoch++;
            if (!so.finite) {
                if (c->train.on_nonfinite == XC_NONFINITE_STOP) {
                    rc = xc_errorf("non-finite %s at epoch %d step %" PRId64 " (global step %" PRId64
                                   "): training stopped; the last good checkpoint is kept "
                                   "(lower optim.lr, or set train.on_nonfinite \"skip\")",
                                   isfinite(so.loss) ? "gradient" : "loss", epoch + 1,
                                   steps_in_epoch, st->global_step + 1);
                    break;
                }
                skipped++;
                tr_log(r, "epoch %d step %" PRId64 ": non-finite %s, step skipped", epoch + 1,
                        steps_in_epoch, isfinite(so.loss) ? "gradient" : "loss");
            } else {
                st->global_step++;
                st->epoch_loss_sum += so.loss * (double)got;
                st->epoch_correct += so.correct;
                st->epoch_seen += got;
            }
            st->sampler_position = xc_sampler_position(r->sampler);
            char extra[96];
            double el = now_s() - t_start;
            snprintf(extra, sizeof extra, "loss %.4f  acc %.3f  lr %.3g",
                     st->epoch_seen ? st->epoch_loss_sum / (double)st->epoch_seen : NAN,
                     st->epoch_seen ? (double)st->epoch_correct / (double)st->epoch_seen : NAN, lr);
            xc_progress_update(bar, st->sampler_position, extra);
            if (steps_in_epoch % c->train.log_every == 0) {
                /* step/total and the epoch's ETA at this epoch's rate, for logs read off a terminal */
                double rate = el > 0 ? (double)st->epoch_seen / el : 0.0;
                char eta[32];
                xc_format_duration(eta, sizeof eta, rate > 0 ? (double)(limit - st->sampler_position) / rate : -1);
                tr_log(r, "epoch %d step %" PRId64 " of %" PRId64 "  %s  %.1f img/s  ETA %s", epoch + 1, steps_in_epoch,
                       (limit + bs - 1) / bs, extra, rate, eta);
                /* What the line says, at the global step: the epoch's running means so far. */
                if (st->epoch_seen) {
                    tb_scalar(r, "step/train_loss", st->global_step, st->epoch_loss_sum / (double)st->epoch_seen);
                    tb_scalar(r, "step/train_acc", st->global_step, (double)st->epoch_correct / (double)st->epoch_seen);
                }
            }
            int any;
            if (tr_dist_stop(r, r->o->stop && *r->o->stop, &any) < 0) {
                rc = xc_errorf("epoch %d step %" PRId64 ": %s", epoch + 1, steps_in_epoch, xc_error());
                break;
            }
            if (any) {
                stopped = 1;
                break;
            }
        }
        xc_progress_finish(bar);
        st->epoch_seconds = now_s() - t_start;
        if (rc < 0) break;
        if (stopped) {
            /* A consistent mid-epoch checkpoint: resume continues from the next step. */
            st->epoch = epoch;
            st->complete = 0;
            if (save(r, "last.safetensors", st) < 0) {
                rc = -1;
                break;
            }
            tr_log(r, "stopped at epoch %d, %" PRId64 " of %" PRId64 " samples: checkpoint '%s/last.safetensors'",
                    epoch + 1, st->sampler_position, limit, r->dir);
            res->outcome = XC_TRAIN_STOPPED;
            tb_flush(r);
            break;
        }

        xc_epoch_result e;
        memset(&e, 0, sizeof e);
        e.epoch = epoch + 1;
        e.epochs = c->train.epochs;
        e.train_loss = st->epoch_seen ? st->epoch_loss_sum / (double)st->epoch_seen : NAN;
        e.train_acc = st->epoch_seen ? (double)st->epoch_correct / (double)st->epoch_seen : NAN;
        e.lr = lr;
        e.seconds = st->epoch_seconds;
        e.images_per_s = e.seconds > 0 ? (double)st->epoch_seen / e.seconds : 0;
        e.skipped_steps = skipped;
        val_out v;
        if (tr_validate(r, arena, &v) < 0) {
            rc = xc_errorf("epoch %d: %s", epoch + 1, xc_error());
            break;
        }
        e.val_loss = v.loss;
        e.val_acc = v.acc;
        e.val_balanced_acc = v.bacc;
        e.val_auroc = v.auroc;
        e.val_macro_f1 = v.macro_f1;
        double bv = best_value_of(c, &e);
        int lower = c->train.best_metric == XC_BEST_VAL_LOSS;
        e.improved = isfinite(bv) && (!st->has_best || (lower ? bv < st->best_value : bv > st->best_value));
        st->epoch = epoch + 1;
        st->sampler_epoch = epoch + 1;
        st->sampler_position = 0;
        st->epoch_loss_sum = 0;
        st->epoch_correct = st->epoch_seen = 0;
        st->epoch_seconds = 0;
        st->complete = st->epoch == c->train.epochs;
        if (e.improved) {
            st->has_best = 1;
            st->best_value = bv;
            st->best_epoch = e.epoch;
            snprintf(st->best_metric, sizeof st->best_metric, "%s", xc_best_metric_name(c->train.best_metric));
        }
        r->hist[r->nhist++] = e;
        if ((e.improved && save(r, "best.safetensors", st) < 0) || save(r, "last.safetensors", st) < 0 ||
            write_metrics(r) < 0) {
            free(v.confusion);
            rc = -1;
            break;
        }
        tb_epoch(r, &e, &v);
        free(v.confusion);
        char line[512];
        snprintf(line, sizeof line, "epoch %d/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f "
                 "bal %.4f auroc %.4f f1 %.4f  lr %.3g  %.1fs  %.1f img/s%s", e.epoch, e.epochs, e.train_loss,
                 e.train_acc, e.val_loss, e.val_acc, e.val_balanced_acc, e.val_auroc, e.val_macro_f1, e.lr, e.seconds,
                 e.images_per_s, e.improved ? "  (best)" : "");
        /* The epoch goes to on_epoch when there is one, else to on_log like any line. */
        log_line(r, r->o->on_epoch == NULL, line);
        if (r->o->on_epoch && r->rank == 0) r->o->on_epoch(r->o->ud, &e);
        if (flush_log(r) < 0) {
            rc = -1;
            break;
        }
        int any;
        if (tr_dist_stop(r, r->o->stop && *r->o->stop, &any) < 0) {
            rc = -1;
            break;
        }
        if (any) {
            tr_log(r, "stopped after epoch %d: checkpoint '%s/last.safetensors'", e.epoch, r->dir);
            res->outcome = e.epoch == c->train.epochs ? XC_TRAIN_DONE : XC_TRAIN_STOPPED;
            break;
        }
    }
    if (r->dist)
        tr_log(r, "distributed: rank %d spent %.2f s of %.2f s waiting on collectives (%.1f%%)",
               r->rank, xt_dist_wait_seconds(r->dist), now_s() - r->t0,
               100.0 * xt_dist_wait_seconds(r->dist) / (now_s() - r->t0));
    xt_arena_push(prev);
    xt_arena_free(arena);
    free(idx);
    return rc;
}

int xc_train_run(const xc_config *c, const xc_train_opts *o, xc_train_result *res) {
    run r;
    memset(&r, 0, sizeof r);
    r.lock_fd = -1;
    memset(res, 0, sizeof *res);
    r.c = c;
    r.o = o;
    r.t0 = now_s();
    xc_run_state st;
    memset(&st, 0, sizeof st);
    st.sampler_seed = c->train.seed;
    if (c->train.tensorboard == XC_TRISTATE_ON && !xc_tb_available())
        return xc_errorf("train.tensorboard is true, but this build of xraycls has no protobuf-c "
                         "(install libprotobuf-c-dev and protobuf-c-compiler and configure again, "
                         "or set train.tensorboard false)");
    int rc = -1;
    const char *threads_from = NULL;
    int threads = xc_threads_resolve(o->threads, c->train.threads, &threads_from);
    if (threads < 0) return -1;
    if (tr_dist_open(&r) < 0) goto done;
    /* Ranks on one node share its CPUs: by default each takes its part, not all of them (two
     * ranks of two threads each on two cores run slower than one thread each). */
    int share = !strcmp(threads_from, "usable CPUs") && r.local_world > 1 ? r.local_world : 1;
    if (share > 1) threads = threads / share > 0 ? threads / share : 1;
    xt_set_num_threads(threads);
    if (share > 1) tr_log(&r, "threads: %d (usable CPUs shared by the %d ranks on this node)", threads, share);
    else tr_log(&r, "threads: %d (%s)", threads, threads_from);
    /* Rank 0 decides about the run folder; every rank agrees before going on, so that a
     * failure on one rank never leaves the others waiting in a collective. */
    if (tr_dist_agree(&r, r.rank != 0 || tr_prepare_dir(&r) == 0) < 0) goto done;
    if (r.rank != 0 && tr_prepare_dir_name(&r) < 0) goto done;
    if (o->resume) {
        /* The run's log so far, then the lines this start has logged already (the
         * distributed launch). */
        char *p = xc_path_join(r.dir, "train.log");
        size_t len = 0;
        char *old = p && xc_is_file(p) ? xc_read_file(p, &len, 64u << 20) : NULL;
        free(p);
        if (old) {
            char *both = realloc(old, len + r.log_len + 1);
            if (both) {
                if (r.log_len) memcpy(both + len, r.log, r.log_len);
                both[len + r.log_len] = '\0';
                free(r.log);
                r.log = both;
                r.log_len += len;
            } else {
                free(old);
            }
        }
    }
    r.config_json = xc_config_to_json(c);
    if (tr_dist_agree(&r, r.config_json && tr_build(&r, c) == 0) < 0) goto done;
    if (o->resume) {
        char *last = xc_path_join(r.dir, "last.safetensors");
        char *stored = NULL;
        int ok = last && xc_checkpoint_resume(last, r.model, r.adam, r.dev, &st, &stored) == 0 &&
                 same_config(c, stored, last) == 0;
        free(stored);
        if (ok && st.sampler_seed != c->train.seed) {
            xc_errorf("'%s': its sampler seed differs from train.seed", last);
            ok = 0;
        }
        if (tr_dist_agree(&r, ok) < 0) {
            free(last);
            goto done;
        }
        free(last);
        if (read_metrics(&r, st.epoch) < 0) goto done;
        tr_log(&r, "resumed from '%s/last.safetensors' at epoch %d, %" PRId64 " samples in, step %" PRId64,
                r.dir, st.epoch + 1, st.sampler_position, st.global_step);
        if (st.epoch >= c->train.epochs)
            tr_log(&r, "the run already has %d epochs (train.epochs %d): nothing to train",
                    st.epoch, c->train.epochs);
    }
    /* The folder is made only once everything is known to work, so a failed start leaves none. */
    int made = 1;
    if (r.rank == 0) {
        made = (o->resume || tr_make_dir(&r) == 0);
        char *cfgp = made ? xc_path_join(r.dir, "config.json") : NULL;
        made = cfgp && xc_write_file_atomic(cfgp, r.config_json, strlen(r.config_json)) == 0 &&
               flush_log(&r) == 0;
        free(cfgp);
    }
    if (tr_dist_agree(&r, made) < 0) goto done;
    tb_open(&r, &st);

    rc = train_loop(&r, &st, res);
    /* Whatever the outcome, the events so far are flushed and the file closed. */
    if (r.tb && xc_tb_close(r.tb) < 0) tr_log(&r, "tensorboard: %s", xc_error());
    r.tb = NULL;
    if (rc == 0 && res->outcome == XC_TRAIN_DONE && r.nhist > 0 && r.rank == 0) {
        /* The curves, from metrics.csv as `xraycls figures` draws them; replaced when a resumed
         * run ends again. Not drawing them never fails the run: the CSV is what counts. */
        xc_plot_format ff = (xc_plot_format)c->output.figures;
        if (ff != XC_PLOT_NONE && !xc_plot_available())
            tr_log(&r, "figures skipped: %s (metrics.csv has their data)", XC_PLOT_NO_CAIRO);
        else if (ff != XC_PLOT_NONE && xc_plot_dir(r.dir, r.dir, NULL, ff, 1, NULL) < 0)
            tr_log(&r, "curves not drawn: %s", xc_error());
        tr_log(&r, "done: %d epochs in %.1fs%s", st.epoch, now_s() - r.t0,
                st.has_best ? "" : " (no best checkpoint: no finite metric)");
    }
    /* The log keeps what happened, errors included. */
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", xc_error());
        tr_log(&r, "error: %s", msg);
        flush_log(&r);
        xc_errorf("%s", msg);
    } else if (flush_log(&r) < 0) {
        rc = -1;
    }
    snprintf(res->run_dir, sizeof res->run_dir, "%s", r.dir);
    res->epochs_done = st.epoch;
    res->global_step = st.global_step;
    res->has_best = st.has_best;
    res->best_value = st.best_value;
    res->best_epoch = st.best_epoch;
done:
    if (rc < 0 && !res->run_dir[0]) snprintf(res->run_dir, sizeof res->run_dir, "%s", r.dir);
    if (r.dist && rc == 0) {
        /* The others wait until rank 0 has written everything, then all leave together. */
        if (xt_dist_barrier(r.dist) < 0) rc = -1;
    }
    if (rc < 0 && r.dist) {
        char msg[1024];
        snprintf(msg, sizeof msg, "rank %d: %s", r.rank, xc_error());
        xc_errorf("%s", msg);
    }
    res->rank = r.rank;
    res->world = r.world;
    tr_dist_close(&r);
    run_free(&r);
    return rc;
}
