/* test_resnet.c — ResNet against torchvision (resnet50 at 64 px, batch 2: state names, logits in
 * eval and train mode, running stats, losses, gradients; tests/golden/nn/resnet50.safetensors)
 * and the model object's behaviour on resnet18: 32 px inputs, frozen backbone, head
 * replacement, channels_last, and strict loading (round trip, missing tensor, shape mismatch,
 * head of another class count, unused names). */
#include "nn/nn_golden.h"

/* Writes m's state to path as safetensors; drop (may be NULL) names an entry to leave out and
 * extra adds one unused tensor. */
static int save_state(xc_model *m, const char *path, const char *drop, const char *extra) {
    xc_st_writer *w = xc_st_writer_new();
    for (int i = 0; i < xc_model_state_count(m); i++) {
        const xc_model_entry *e = xc_model_state_at(m, i);
        if (drop && !strcmp(e->name, drop)) continue;
        int64_t shape[8];
        int nd = xt_shape(e->tensor, shape, 8);
        xt_dtype dt = xt_dtype_of(e->tensor);
        size_t nbytes = (size_t)xt_numel(e->tensor) * xt_dtype_size(dt);
        void *buf = malloc(nbytes ? nbytes : 1);
        xt_tensor *c = xt_contiguous(e->tensor);
        if (!c || xt_to_host(c, buf, nbytes) < 0 ||
            xc_st_writer_add_copy(w, e->name, (xc_dtype)dt, nd, shape, buf, nbytes) < 0) {
            free(buf);
            xc_st_writer_free(w);
            return -1;
        }
        free(buf);
    }
    float v = 1;
    int64_t one[1] = {1};
    if (extra && xc_st_writer_add_copy(w, extra, XC_F32, 1, one, &v, sizeof v) < 0) return -1;
    int rc = xc_st_writer_write(w, path);
    xc_st_writer_free(w);
    return rc;
}

static int64_t grad_count_backbone(xc_model *m, int *head_grads) {
    int64_t with = 0;
    *head_grads = 0;
    for (int i = 0; i < xc_model_state_count(m); i++) {
        const xc_model_entry *e = xc_model_state_at(m, i);
        if (!e->is_param) continue;
        xt_tensor *g = NULL;
        xt_grad(e->tensor, &g);
        if (g && e->is_head) (*head_grads)++;
        if (g && !e->is_head) with++;
    }
    return with;
}

static void test_behaviour(void) {
    const char *tmp = check_tmpdir();
    char path[4096], bad[4096];
    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    xt_manual_seed(1);

    CHECK(xc_model_new("resnet49", 3, XT_CPU) == NULL);
    CHECK_CONTAINS(xc_error(), "unknown arch 'resnet49' (known: resnet18, resnet34");
    CHECK(xc_model_new("resnet18", 0, XT_CPU) == NULL);

    xc_model *m = xc_model_new("resnet18", 3, XT_CPU);
    CHECK(m != NULL);
    if (!m) return;
    CHECK(!strcmp(xc_model_head_name(m), "fc"));
    CHECK(!strcmp(xc_model_arch(m), "resnet18"));

    /* 32 px works, in both modes. */
    int64_t s32[4] = {2, 3, 32, 32}, s31[4] = {2, 3, 31, 32};
    xt_tensor *x = xt_randn(4, s32, XT_F32, XT_CPU);
    xt_tensor *y = xc_model_forward(m, x);
    CHECK(y && xt_size(y, 0) == 2 && xt_size(y, 1) == 3);
    CHECK(xc_model_forward(m, xt_randn(4, s31, XT_F32, XT_CPU)) == NULL);
    CHECK_CONTAINS(xc_error(), "H, W >= 32");

    /* Freezing: only the head gets gradients, and xc_model_params lists only it. */
    CHECK(xc_model_freeze_backbone(m, 1) == 0);
    xt_tensor *const *ps;
    int np;
    CHECK(xc_model_params(m, &ps, &np) == 0 && np == 2);
    int64_t tv[2] = {1, 2}, ts[1] = {2};
    xt_tensor *target = xt_from_host(tv, 1, ts, XT_I64);
    CHECK(xt_backward(xc_loss_cross_entropy(xc_model_forward(m, x), target, NULL)) == 0);
    int head_grads;
    CHECK(grad_count_backbone(m, &head_grads) == 0);
    CHECK(head_grads == 2);
    CHECK(xc_model_freeze_backbone(m, 0) == 0);
    CHECK(xc_model_params(m, &ps, &np) == 0 && np == 62);
    CHECK(xt_backward(xc_loss_cross_entropy(xc_model_forward(m, x), target, NULL)) == 0);
    CHECK(grad_count_backbone(m, &head_grads) == 60);

    /* Round trip through a file: same logits in eval mode. */
    xc_model_set_training(m, 0);
    xt_grad_enabled_set(0);
    xt_tensor *ref = xc_model_forward(m, x);
    snprintf(path, sizeof path, "%s/r18.safetensors", tmp);
    CHECK(save_state(m, path, NULL, "optimizer.step") == 0);
    xc_model *m2 = xc_model_new("resnet18", 3, XT_CPU);
    xc_load_report rep;
    CHECK_MSG(xc_model_load_file(m2, path, &rep) == 0, "%s", xc_error());
    CHECK(rep.loaded == 122 && rep.n_unused == 1 && !rep.head_reinit && rep.source_head_classes == 3);
    CHECK(rep.n_unused == 1 && !strcmp(rep.unused[0], "optimizer.step"));
    xc_load_report_free(&rep);
    xc_model_set_training(m2, 0);
    xt_tensor *got = xc_model_forward(m2, x);
    xt_tensor *diff = got && ref ? xt_abs(xt_sub(got, ref)) : NULL;
    double maxdiff = 1;
    xt_tensor *mx = NULL;
    if (diff && xt_max_dim(xt_flatten(diff, 0, -1), 0, 0, &mx, NULL) == 0) xt_item(mx, &maxdiff);
    CHECK_MSG(maxdiff == 0, "loaded model differs by %g", maxdiff);

    /* channels_last gives the same logits. */
    CHECK(xc_model_set_channels_last(m2, 1) == 0 && xc_model_is_channels_last(m2));
    CHECK(xt_is_channels_last(xc_model_find(m2, "layer1.0.conv1.weight")) == 1);
    got = xc_model_forward(m2, x);
    maxdiff = 1;
    if (got && xt_max_dim(xt_flatten(xt_abs(xt_sub(got, ref)), 0, -1), 0, 0, &mx, NULL) == 0)
        xt_item(mx, &maxdiff);
    CHECK_MSG(maxdiff < 1e-4, "channels_last logits differ by %g", maxdiff);
    CHECK(xt_requires_grad(xc_model_find(m2, "conv1.weight")) == 1);

    /* Missing tensor: an error naming it, and the model unchanged. */
    snprintf(bad, sizeof bad, "%s/missing.safetensors", tmp);
    CHECK(save_state(m, bad, "layer2.1.bn2.running_var", NULL) == 0);
    xc_model *m3 = xc_model_new("resnet18", 3, XT_CPU);
    xc_model_set_training(m3, 0);
    xt_tensor *before = xc_model_forward(m3, x);
    CHECK(xc_model_load_file(m3, bad, NULL) == -1);
    CHECK_CONTAINS(xc_error(), "missing tensor 'layer2.1.bn2.running_var'");
    CHECK_CONTAINS(xc_error(), "missing.safetensors");
    got = xc_model_forward(m3, x);
    maxdiff = 1;
    if (got && xt_max_dim(xt_flatten(xt_abs(xt_sub(got, before)), 0, -1), 0, 0, &mx, NULL) == 0)
        xt_item(mx, &maxdiff);
    CHECK_MSG(maxdiff == 0, "failed load changed the model by %g", maxdiff);

    /* num_batches_tracked may be absent (older checkpoints). */
    CHECK(save_state(m, bad, "bn1.num_batches_tracked", NULL) == 0);
    CHECK(xc_model_load_file(m3, bad, &rep) == 0 && rep.nbt_defaulted == 1);
    xc_load_report_free(&rep);

    /* Shape mismatch outside the head: an error naming the tensor and both shapes. */
    xc_st_file *sf = xc_st_open(path);
    CHECK(sf != NULL);
    int nt = sf ? xc_st_count(sf) : 0;
    xc_st_tensor *sts = calloc((size_t)nt + 1, sizeof *sts);
    for (int i = 0; i < nt; i++) {
        sts[i] = *xc_st_at(sf, i);
        if (!strcmp(sts[i].name, "layer1.0.conv1.weight")) sts[i].shape[2] = sts[i].shape[3] = 1;
    }
    CHECK(xc_model_load_named(m3, sts, nt, "odd.pth", NULL) == -1);
    CHECK_CONTAINS(xc_error(), "loading 'odd.pth' into resnet18: tensor 'layer1.0.conv1.weight' has shape (64, 64, 1, 1), expected (64, 64, 3, 3)");
    /* The same name twice (as a file of both spellings could): refused. */
    for (int i = 0; i < nt; i++)
        if (!strcmp(sts[i].name, "layer1.0.conv1.weight")) sts[i].shape[2] = sts[i].shape[3] = 3;
    sts[nt] = sts[0];
    CHECK(xc_model_load_named(m3, sts, nt + 1, "twice", NULL) == -1);
    CHECK_CONTAINS(xc_error(), "tensor 'conv1.weight' given twice");
    free(sts);
    xc_st_close(sf);

    /* A head of another class count: loaded backbone, re-initialised head, reported. */
    xc_model *m5 = xc_model_new("resnet18", 5, XT_CPU);
    CHECK(xc_model_load_file(m5, path, &rep) == 0);
    CHECK(rep.head_reinit == 1 && rep.source_head_classes == 3 && rep.loaded == 120);
    xc_load_report_free(&rep);
    CHECK(xt_size(xc_model_find(m5, "fc.weight"), 0) == 5);

    /* Head replacement. */
    CHECK(xc_model_replace_head(m5, 2) == 0 && xc_model_num_classes(m5) == 2);
    got = xc_model_forward(m5, x);
    CHECK(got && xt_size(got, 1) == 2);
    CHECK(xt_size(xc_model_find(m5, "fc.bias"), 0) == 2);
    CHECK(xc_model_find(m5, "fc.nothing") == NULL);
    CHECK_CONTAINS(xc_error(), "'fc.nothing'");

    xt_grad_enabled_set(1);
    xc_model_free(m);
    xc_model_free(m2);
    xc_model_free(m3);
    xc_model_free(m5);
    xt_arena_push(prev);
    xt_arena_free(arena);
}

int main(void) {
    xt_set_num_threads(2);
    static const char *const bns[] = {"bn1", "layer1.0.bn1", "layer4.2.bn3"};
    golden_full_model("resnet50", "fc", "conv1.weight", bns, 3);
    test_behaviour();
    return check_done("nn_test_resnet");
}
