/* test_checkpoint.c — checkpoints: a round trip of model weights and buffers, Adam state and the
 * generator state; the run state and metadata; xc_checkpoint_load_model from a checkpoint and
 * from a model file ("model" kind, plain names); and refusals (wrong arch, not a checkpoint). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xraycls/checkpoint.h"
#include "xraycls/fs.h"
#include "xraycls/nn.h"
#include "xraycls/safetensors.h"
#include "xraycls/shim.h"

/* Every state entry of two models is bit-identical. */
static int same_weights(const xc_model *a, const xc_model *b) {
    int n = xc_model_state_count(a);
    if (n != xc_model_state_count(b)) return 0;
    for (int i = 0; i < n; i++) {
        const xc_model_entry *ea = xc_model_state_at(a, i), *eb = xc_model_state_at(b, i);
        if (strcmp(ea->name, eb->name)) return 0;
        size_t bytes = (size_t)xt_numel(ea->tensor) * xt_dtype_size(xt_dtype_of(ea->tensor));
        if (bytes != (size_t)xt_numel(eb->tensor) * xt_dtype_size(xt_dtype_of(eb->tensor))) return 0;
        void *ha = malloc(bytes ? bytes : 1), *hb = malloc(bytes ? bytes : 1);
        int ok = ha && hb && xt_to_host(ea->tensor, ha, bytes) == 0 && xt_to_host(eb->tensor, hb, bytes) == 0 &&
                 memcmp(ha, hb, bytes) == 0;
        free(ha);
        free(hb);
        if (!ok) {
            fprintf(stderr, "differs: %s\n", ea->name);
            return 0;
        }
    }
    return 1;
}

/* One training step of a model on random data: changes weights, BN buffers and Adam state. */
static int one_step(xc_model *m, xt_adam *adam) {
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    int64_t sx[4] = {2, 3, 32, 32}, sy[1] = {2};
    xt_tensor *x = xt_randn(4, sx, XT_F32, XT_CPU);
    xt_tensor *y = xt_randint(0, 3, 1, sy, XT_CPU);
    xt_tensor *loss = xc_loss_cross_entropy(xc_model_forward(m, x), y, NULL);
    int rc = loss && xt_backward(loss) == 0 && xt_adam_step(adam) == 0 ? 0 : -1;
    int n = xc_model_state_count(m);
    for (int i = 0; i < n; i++)
        if (xc_model_state_at(m, i)->is_param) xt_zero_grad(xc_model_state_at(m, i)->tensor);
    xt_arena_push(prev);
    xt_arena_free(arena);
    return rc;
}

static xt_adam *adam_for(xc_model *m) {
    xt_tensor *const *p;
    int n;
    if (xc_model_params(m, &p, &n) < 0) return NULL;
    return xt_adam_new(p, n, xt_adam_default());
}

/* m as a model file (kind "model", torchvision names) at path, with preprocessing JSON `pre`
 * (NULL: none) and, when `poison` names a tensor, its element 3 (or 0) set to `value`. */
static int write_model(const xc_model *m, const char *path, const char *pre, const char *poison, float value) {
    xc_st_writer *w = xc_st_writer_new();
    xc_st_writer_meta(w, "xraycls.kind", "model");
    xc_st_writer_meta(w, "xraycls.arch", "resnet18");
    xc_st_writer_meta(w, "xraycls.classes", "[\"a\",\"b\",\"c\"]");
    if (pre) xc_st_writer_meta(w, "xraycls.preprocessing", pre);
    int n = xc_model_state_count(m);
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(m, i);
        int64_t shape[8];
        int nd = xt_shape(e->tensor, shape, 8);
        int64_t numel = xt_numel(e->tensor);
        size_t bytes = (size_t)numel * xt_dtype_size(xt_dtype_of(e->tensor));
        void *h = malloc(bytes ? bytes : 1);
        xt_to_host(e->tensor, h, bytes);
        if (poison && !strcmp(e->name, poison)) ((float *)h)[numel > 3 ? 3 : 0] = value;
        xc_st_writer_add_copy(w, e->name, (xc_dtype)xt_dtype_of(e->tensor), nd, shape, h, bytes);
        free(h);
    }
    int rc = xc_st_writer_write(w, path);
    xc_st_writer_free(w);
    return rc;
}

int main(void) {
    const char *tmp = check_tmpdir();
    char *ck_path = xc_path_join(tmp, "ck.safetensors");
    xt_manual_seed(1);
    xc_model *m = xc_model_new("resnet18", 3, XT_CPU);
    CHECK_MSG(m != NULL, "%s", xc_error());
    if (!m) return check_done("train_test_checkpoint");
    xt_adam *adam = adam_for(m);
    CHECK(adam != NULL);
    CHECK(one_step(m, adam) == 0);

    xc_model_info info;
    memset(&info, 0, sizeof info);
    snprintf(info.arch, sizeof info.arch, "resnet18");
    info.num_classes = 3;
    snprintf(info.classes[0], XC_CLASS_NAME_MAX, "Normal");
    snprintf(info.classes[1], XC_CLASS_NAME_MAX, "Bacteria");
    snprintf(info.classes[2], XC_CLASS_NAME_MAX, "Virus");
    snprintf(info.head, sizeof info.head, "softmax");
    info.image_size = 32;
    info.channels = 1;
    info.expand_gray_to_rgb = 1;
    info.mean[0] = 0.485f, info.mean[1] = 0.456f, info.mean[2] = 0.406f;
    info.std[0] = 0.229f, info.std[1] = 0.224f, info.std[2] = 0.225f;
    xc_run_state st;
    memset(&st, 0, sizeof st);
    st.epoch = 3;
    st.global_step = 1234;
    st.sampler_seed = 42;
    st.sampler_epoch = 3;
    st.sampler_position = 16;
    st.lr = 0.1 * 0.5 * 0.5;
    st.has_best = 1;
    snprintf(st.best_metric, sizeof st.best_metric, "val_accuracy");
    st.best_value = 0.8125;
    st.best_epoch = 2;
    st.epoch_loss_sum = 1.0 / 3.0;
    st.epoch_correct = 11;
    st.epoch_seen = 16;
    st.epoch_seconds = 2.5;
    xt_manual_seed(99);
    xc_checkpoint ck = {m, adam, &info, "{\"train\": {\"epochs\": 5}}", &st, XT_CPU};
    CHECK_MSG(xc_checkpoint_save(ck_path, &ck) == 0, "%s", xc_error());
    /* The generator's next draws after the save. */
    int64_t s1[1] = {8};
    float after_save[8], after_resume[8];
    xt_tensor *r = xt_rand(1, s1, XT_F32, XT_CPU);
    CHECK(r && xt_to_host(r, after_save, sizeof after_save) == 0);
    xt_free(r);

    /* The file is self-describing. */
    xc_st_file *f = xc_st_open(ck_path);
    CHECK(f != NULL);
    if (f) {
        CHECK(!strcmp(xc_st_meta(f, "xraycls.kind"), "checkpoint"));
        CHECK(!strcmp(xc_st_meta(f, "xraycls.format"), "1"));
        CHECK(!strcmp(xc_st_meta(f, "xraycls.arch"), "resnet18"));
        CHECK(!strcmp(xc_st_meta(f, "xraycls.classes"), "[\"Normal\",\"Bacteria\",\"Virus\"]"));
        CHECK(!strcmp(xc_st_meta(f, "xraycls.num_classes"), "3"));
        CHECK(!strcmp(xc_st_meta(f, "xraycls.head"), "softmax"));
        CHECK_CONTAINS(xc_st_meta(f, "xraycls.preprocessing"), "\"expand_gray_to_rgb\":true");
        CHECK_CONTAINS(xc_st_meta(f, "xraycls.config"), "\"epochs\": 5");
        CHECK(xc_st_find(f, "model.conv1.weight") && xc_st_find(f, "model.fc.bias"));
        CHECK(xc_st_find(f, "model.bn1.num_batches_tracked") != NULL);
        CHECK(xc_st_find(f, "optim.0.exp_avg") && xc_st_find(f, "optim.0.exp_avg_sq") && xc_st_find(f, "optim.0.step"));
        CHECK(xc_st_find(f, "rng.cpu") != NULL && xc_st_find(f, "rng.cuda") == NULL);
        xc_st_close(f);
    }

    /* Resume into a fresh model + optimizer: everything equal, and the same next step. */
    xt_manual_seed(7);
    xc_model *m2 = xc_model_new("resnet18", 3, XT_CPU);
    xt_adam *adam2 = m2 ? adam_for(m2) : NULL;
    CHECK(m2 && adam2);
    xc_run_state st2;
    char *cfg = NULL;
    CHECK_MSG(xc_checkpoint_resume(ck_path, m2, adam2, XT_CPU, &st2, &cfg) == 0, "%s", xc_error());
    r = xt_rand(1, s1, XT_F32, XT_CPU);
    CHECK(r && xt_to_host(r, after_resume, sizeof after_resume) == 0);
    xt_free(r);
    CHECK(memcmp(after_save, after_resume, sizeof after_save) == 0);
    CHECK(same_weights(m, m2));
    CHECK(st2.epoch == 3 && st2.global_step == 1234 && st2.sampler_seed == 42 && st2.sampler_epoch == 3);
    CHECK(st2.sampler_position == 16 && st2.lr == st.lr && st2.has_best && st2.best_value == 0.8125);
    CHECK(st2.best_epoch == 2 && !strcmp(st2.best_metric, "val_accuracy"));
    CHECK(st2.epoch_loss_sum == st.epoch_loss_sum && st2.epoch_correct == 11 && st2.epoch_seen == 16);
    CHECK(cfg && !strcmp(cfg, "{\"train\": {\"epochs\": 5}}"));
    free(cfg);
    int64_t step_a, step_b;
    xt_tensor *ma, *va, *mb, *vb;
    CHECK(xt_adam_state(adam, 0, &step_a, &ma, &va) == 0 && xt_adam_state(adam2, 0, &step_b, &mb, &vb) == 0);
    CHECK(step_a == 1 && step_b == 1 && mb != NULL);
    /* The same seeded step on both gives the same weights: the Adam moments were restored. */
    xt_manual_seed(5);
    CHECK(one_step(m, adam) == 0);
    xt_manual_seed(5);
    CHECK(one_step(m2, adam2) == 0);
    CHECK(same_weights(m, m2));

    /* One call for eval/predict: the model in eval mode, and what the file says. */
    xc_model_info got;
    xc_model *m3 = xc_checkpoint_load_model(ck_path, XT_CPU, &got);
    CHECK_MSG(m3 != NULL, "%s", xc_error());
    CHECK(!strcmp(got.arch, "resnet18") && got.num_classes == 3 && !strcmp(got.classes[2], "Virus"));
    CHECK(!strcmp(got.kind, "checkpoint") && got.epoch == 3 && got.image_size == 32 && got.channels == 1);
    CHECK(got.expand_gray_to_rgb == 1 && got.std[2] == 0.225f && !strcmp(got.head, "softmax"));
    if (m3) CHECK(!xc_model_is_training(m3));
    xc_model_free(m3);

    /* A model file (kind "model", plain torchvision names) loads with the same call. */
    char *mf_path = xc_path_join(tmp, "model.safetensors");
    CHECK(write_model(m2, mf_path, NULL, NULL, 0) == 0);
    xc_model *m4 = xc_checkpoint_load_model(mf_path, XT_CPU, &got);
    CHECK_MSG(m4 != NULL, "%s", xc_error());
    CHECK(!strcmp(got.kind, "model") && got.image_size == 224 && !strcmp(got.classes[0], "a"));
    if (m4) CHECK(same_weights(m2, m4));
    xc_model_free(m4);
    /* A model file is not a training checkpoint. */
    CHECK(xc_checkpoint_resume(mf_path, m2, adam2, XT_CPU, &st2, NULL) == -1);
    CHECK_CONTAINS(xc_error(), "not a training checkpoint");

    /* Refusals name the file. */
    xc_model *other = xc_model_new("resnet34", 3, XT_CPU);
    CHECK(other && xc_checkpoint_resume(ck_path, other, NULL, XT_CPU, &st2, NULL) == -1);
    CHECK_CONTAINS(xc_error(), "holds resnet18 with 3 classes, the run builds resnet34 with 3");
    xc_model_free(other);
    char *bad = xc_path_join(tmp, "plain.safetensors");
    xc_st_writer *w = xc_st_writer_new();
    float one = 1;
    int64_t s11[1] = {1};
    xc_st_writer_add(w, "x", XC_F32, 1, s11, &one, sizeof one);
    CHECK(xc_st_writer_write(w, bad) == 0);
    xc_st_writer_free(w);
    CHECK(xc_checkpoint_load_model(bad, XT_CPU, NULL) == NULL);
    CHECK_CONTAINS(xc_error(), "not an xraycls model file or checkpoint");
    /* metadata that would mislabel outputs: a class named twice, an unknown head */
    static const struct {
        const char *key, *value, *want;
    } meta[] = {{"xraycls.classes", "[\"a\",\"b\",\"a\"]", "class 'a' is named twice (outputs 0 and 2)"},
                {"xraycls.classes", "[\"a\",\"b\\u001b[31m\",\"c\"]", "a name holds a control character"},
                {"xraycls.head", "relu", "metadata xraycls.head: 'relu' is neither \"softmax\" nor \"sigmoid\""}};
    for (size_t k = 0; k < sizeof meta / sizeof meta[0]; k++) {
        w = xc_st_writer_new();
        xc_st_writer_meta(w, "xraycls.kind", "model");
        xc_st_writer_meta(w, "xraycls.arch", "resnet18");
        xc_st_writer_meta(w, "xraycls.classes", "[\"a\",\"b\",\"c\"]");
        xc_st_writer_meta(w, meta[k].key, meta[k].value);
        xc_st_writer_add(w, "x", XC_F32, 1, s11, &one, sizeof one);
        CHECK(xc_st_writer_write(w, bad) == 0);
        xc_st_writer_free(w);
        xc_model_info mi;
        CHECK(xc_checkpoint_read_info(bad, &mi) < 0);
        CHECK_CONTAINS(xc_error(), meta[k].want);
        CHECK_CONTAINS(xc_error(), "plain.safetensors");
    }

    /* Values no trained network holds are refused on load, naming the tensor (they used to give
     * "nan" probabilities and exit 0); so are preprocessing constants that would. */
    static const struct {
        const char *tensor;
        float value;
        const char *want;
    } poison[] = {{"layer1.0.conv1.weight", NAN, "tensor 'layer1.0.conv1.weight' holds nan at element 3"},
                  {"fc.bias", INFINITY, "tensor 'fc.bias' holds inf"},
                  {"bn1.weight", -3e7f, "beyond ±1e6"},
                  {"layer2.0.bn1.running_var", -1.0f, "a negative variance"}};
    char *pz = xc_path_join(tmp, "poisoned.safetensors");
    for (size_t k = 0; k < sizeof poison / sizeof poison[0]; k++) {
        CHECK(write_model(m2, pz, NULL, poison[k].tensor, poison[k].value) == 0);
        CHECK(xc_checkpoint_load_model(pz, XT_CPU, NULL) == NULL);
        CHECK_CONTAINS(xc_error(), poison[k].want);
        CHECK_CONTAINS(xc_error(), "poisoned.safetensors");
    }
    static const char *const bad_pre[] = {
        "{\"size\":224,\"channels\":1,\"mean\":[0.5,0.5,0.5],\"std\":[1e-310,0.2,0.2]}",
        "{\"size\":224,\"channels\":1,\"mean\":[1e300,0.5,0.5],\"std\":[0.2,0.2,0.2]}",
        "{\"size\":224,\"channels\":1,\"mean\":[0.5,0.5,0.5],\"std\":[0.2,0.2,1e30]}",
        "{\"size\":3000000000,\"channels\":1,\"mean\":[0.5,0.5,0.5],\"std\":[0.2,0.2,0.2]}"};
    for (size_t k = 0; k < sizeof bad_pre / sizeof bad_pre[0]; k++) {
        CHECK(write_model(m2, pz, bad_pre[k], NULL, 0) == 0);
        CHECK(xc_checkpoint_load_model(pz, XT_CPU, NULL) == NULL);
        CHECK_CONTAINS(xc_error(), "xraycls.preprocessing");
    }
    CHECK(write_model(m2, pz, "{\"size\":64,\"channels\":1,\"mean\":[0.5,0.5,0.5],\"std\":[0.2,0.2,0.2]}", NULL, 0) == 0);
    xc_model *ok = xc_checkpoint_load_model(pz, XT_CPU, NULL);
    CHECK_MSG(ok != NULL, "%s", xc_error());
    xc_model_free(ok);
    free(pz);

    free(bad);
    free(mf_path);
    xt_adam_free(adam2);
    xc_model_free(m2);
    xt_adam_free(adam);
    xc_model_free(m);
    free(ck_path);
    return check_done("train_test_checkpoint");
}
