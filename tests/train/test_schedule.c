/* test_schedule.c — the learning-rate schedule against torch's StepLR / CosineAnnealingLR, and
 * Adam (xt_adam) stepped per xc_schedule_lr against PyTorch's trajectory on a tiny
 * least-squares problem (tests/golden/train/adam_steplr.json, scripts/make_train_golden.py). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xraycls/config.h"
#include "xraycls/fs.h"
#include "xraycls/shim.h"
#include "xraycls/train.h"

static double num(const cJSON *a, int i) { return cJSON_GetArrayItem(a, i)->valuedouble; }

int main(void) {
    char *path = xc_path_join(check_srcdir(), "tests/golden/train/adam_steplr.json");
    size_t len;
    char *text = path ? xc_read_file(path, &len, 1 << 20) : NULL;
    CHECK_MSG(text != NULL, "%s", xc_error());
    if (!text) return check_done("train_test_schedule");
    cJSON *g = cJSON_Parse(text);
    CHECK(g != NULL);

    /* The paper's schedule: 1e-3 halved every 10 epochs, bit-exact with torch's StepLR. */
    xc_config c;
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "t", NULL, 0, NULL) == 0);
    const cJSON *paper = cJSON_GetObjectItem(g, "paper_step_lr");
    for (int e = 0; e < cJSON_GetArraySize(paper); e++)
        CHECK_MSG(xc_schedule_lr(&c, e) == num(paper, e), "epoch %d: %.17g vs %.17g", e,
                  xc_schedule_lr(&c, e), num(paper, e));
    CHECK(xc_schedule_lr(&c, 9) == 1e-3 && xc_schedule_lr(&c, 10) == 5e-4 && xc_schedule_lr(&c, 25) == 2.5e-4);

    const char *cos_sets[] = {"schedule.type=cosine", "schedule.min_lr=1e-5", "train.epochs=20"};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "t", cos_sets, 3, NULL) == 0);
    const cJSON *cosv = cJSON_GetObjectItem(g, "cosine_lr");
    for (int e = 0; e < cJSON_GetArraySize(cosv); e++) CHECK_CLOSE(xc_schedule_lr(&c, e), num(cosv, e), 1e-15, 1e-9);
    const char *none_sets[] = {"schedule.type=none"};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "t", none_sets, 1, NULL) == 0);
    CHECK(xc_schedule_lr(&c, 0) == 1e-3 && xc_schedule_lr(&c, 17) == 1e-3);

    /* Adam + StepLR on the tiny problem. */
    char sets[4][64];
    const double lr = cJSON_GetObjectItem(g, "lr")->valuedouble;
    snprintf(sets[0], sizeof sets[0], "optim.lr=%.17g", lr);
    snprintf(sets[1], sizeof sets[1], "schedule.step_size=%d", cJSON_GetObjectItem(g, "step_size")->valueint);
    snprintf(sets[2], sizeof sets[2], "schedule.gamma=%.17g", cJSON_GetObjectItem(g, "gamma")->valuedouble);
    snprintf(sets[3], sizeof sets[3], "optim.weight_decay=%.17g", cJSON_GetObjectItem(g, "weight_decay")->valuedouble);
    const char *sp[] = {sets[0], sets[1], sets[2], sets[3]};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "t", sp, 4, NULL) == 0);

    const cJSON *X = cJSON_GetObjectItem(g, "X"), *Y = cJSON_GetObjectItem(g, "y");
    const cJSON *W0 = cJSON_GetObjectItem(g, "w0"), *B0 = cJSON_GetObjectItem(g, "b0");
    float xh[12], yh[4], w0[3], b0[1];
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 3; j++) xh[i * 3 + j] = (float)num(cJSON_GetArrayItem(X, i), j);
        yh[i] = (float)num(Y, i);
    }
    for (int j = 0; j < 3; j++) w0[j] = (float)num(W0, j);
    b0[0] = (float)num(B0, 0);
    int64_t sx[2] = {4, 3}, sy[1] = {4}, sw[2] = {1, 3}, sb[1] = {1};
    xt_tensor *x = xt_from_host(xh, 2, sx, XT_F32), *y = xt_from_host(yh, 1, sy, XT_F32);
    xt_tensor *w = xt_from_host(w0, 2, sw, XT_F32), *b = xt_from_host(b0, 1, sb, XT_F32);
    CHECK(x && y && w && b);
    xt_set_requires_grad(w, 1);
    xt_set_requires_grad(b, 1);
    xt_tensor *params[2] = {w, b};
    xt_adam_params ap = xt_adam_default();
    ap.lr = c.optim.lr;
    ap.weight_decay = c.optim.weight_decay;
    xt_adam *adam = xt_adam_new(params, 2, ap);
    CHECK(adam != NULL);
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    const cJSON *elr = cJSON_GetObjectItem(g, "epoch_lr"), *gl = cJSON_GetObjectItem(g, "loss");
    const cJSON *gw = cJSON_GetObjectItem(g, "w"), *gb = cJSON_GetObjectItem(g, "b");
    int epochs = cJSON_GetObjectItem(g, "epochs")->valueint;
    int spe = cJSON_GetObjectItem(g, "steps_per_epoch")->valueint;
    int step = 0;
    for (int e = 0; e < epochs; e++) {
        double l = xc_schedule_lr(&c, e);
        CHECK(l == num(elr, e));
        xt_adam_set_lr(adam, l);
        for (int s = 0; s < spe; s++, step++) {
            xt_arena_clear(arena);
            // pred: (4, 1) → (4)
            int64_t s4[1] = {4};
            xt_tensor *pred = xt_reshape(xt_linear(x, w, b), 1, s4);
            xt_tensor *loss = xt_mean(xt_pow_scalar(xt_sub(pred, y), 2.0));
            double lv = 0;
            CHECK(loss && xt_item(loss, &lv) == 0);
            CHECK_CLOSE(lv, num(gl, step), 1e-6, 1e-5);
            CHECK(xt_backward(loss) == 0);
            CHECK(xt_adam_step(adam) == 0);
            xt_zero_grad(w);
            xt_zero_grad(b);
            float wh[3], bh[1];
            CHECK(xt_to_host(w, wh, sizeof wh) == 0 && xt_to_host(b, bh, sizeof bh) == 0);
            for (int j = 0; j < 3; j++) CHECK_CLOSE(wh[j], num(cJSON_GetArrayItem(gw, step), j), 1e-6, 1e-5);
            CHECK_CLOSE(bh[0], num(cJSON_GetArrayItem(gb, step), 0), 1e-6, 1e-5);
        }
    }
    int64_t st;
    xt_tensor *m, *v;
    CHECK(xt_adam_state(adam, 0, &st, &m, &v) == 0 && st == epochs * spe);
    xt_arena_push(prev);
    xt_arena_free(arena);
    xt_adam_free(adam);
    xt_free(x);
    xt_free(y);
    xt_free(w);
    xt_free(b);
    cJSON_Delete(g);
    free(text);
    free(path);
    return check_done("train_test_schedule");
}
