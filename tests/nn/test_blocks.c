/* test_blocks.c — each building block alone against torchvision's module of the same
 * configuration (tests/golden/nn/blocks.safetensors): a Bottleneck (32 → 16×4, stride 2, with
 * downsample), a BasicBlock (16 → 32, stride 2, with downsample), a _DenseLayer (8 + 16 input
 * channels, growth 8, bn_size 4) and a _Transition (24 → 12). For each: the output in eval and
 * train mode, the first BatchNorm's running stats after the training pass, and the gradients
 * of every parameter and input for the loss sum(out × probe).
 * Tolerances: outputs and stats atol 1e-5 rtol 1e-4; gradients atol 1e-5 rtol 1e-3. */
#include "../../src/nn/nn_internal.h"
#include "nn/nn_golden.h"

enum kind { BOTTLENECK, BASIC, DENSE, TRANSITION };

static void run_block(xc_st_file *f, const char *label, enum kind kind, const char *first_bn,
                      const int64_t shapes[][4], int ninputs) {
    char name[256];
    xc_model *m = nn_model_alloc(label, XT_CPU);
    CHECK(m != NULL);
    if (!m) return;
    nn_res_block rb;
    nn_dense_layer dl;
    nn_transition tr;
    int g = xt_grad_enabled_set(0);
    int rc = -1;
    switch (kind) {
    case BOTTLENECK: rc = nn_res_block_add(m, "", 1, 32, 16, 2, &rb); break;
    case BASIC: rc = nn_res_block_add(m, "", 0, 16, 32, 2, &rb); break;
    case DENSE: rc = nn_dense_layer_add(m, "", 24, 8, 4, &dl); break;
    case TRANSITION: rc = nn_transition_add(m, "", 24, 12, &tr); break;
    }
    xt_grad_enabled_set(g);
    CHECK_MSG(rc == 0, "%s: %s", label, xc_error());
    CHECK(golden_fill(m) == 0);

    xt_arena *arena = xt_arena_new();
    xt_arena *prev = xt_arena_push(arena);
    xt_tensor *in[2];
    for (int i = 0; i < ninputs; i++) {
        in[i] = golden_gen(4, shapes[i], 1000 + i);
        CHECK(xt_set_requires_grad(in[i], 1) == 0);
    }
    for (int train = 0; train <= 1; train++) {
        xc_model_set_training(m, train);
        int was = xt_grad_enabled_set(train);
        xt_tensor *y = NULL;
        switch (kind) {
        case BOTTLENECK:
        case BASIC: y = nn_res_block_forward(m, &rb, in[0]); break;
        case DENSE: y = nn_dense_layer_forward(m, &dl, in, ninputs); break;
        case TRANSITION: y = nn_transition_forward(m, &tr, in[0]); break;
        }
        xt_grad_enabled_set(was);
        snprintf(name, sizeof name, "%s/%s", label, train ? "train" : "eval");
        golden_compare(name, y, golden_ref(f, name), 1e-5, 1e-4);
        if (!train || !y) continue;

        snprintf(name, sizeof name, "%s/%s.running_mean", label, first_bn);
        golden_compare(name, xc_model_find(m, name + strlen(label) + 1), golden_ref(f, name), 1e-5, 1e-4);
        snprintf(name, sizeof name, "%s/%s.running_var", label, first_bn);
        golden_compare(name, xc_model_find(m, name + strlen(label) + 1), golden_ref(f, name), 1e-5, 1e-4);

        int64_t ys[4];
        xt_shape(y, ys, 4);
        xt_tensor *loss = xt_sum(xt_mul(y, golden_gen(4, ys, 2000)));
        CHECK_MSG(loss && xt_backward(loss) == 0, "%s backward: %s", label, xc_error());
        int nparams = 0;
        for (int i = 0; i < xc_model_state_count(m); i++) {
            const xc_model_entry *e = xc_model_state_at(m, i);
            if (!e->is_param) continue;
            nparams++;
            xt_tensor *gr = NULL;
            xt_grad(e->tensor, &gr);
            snprintf(name, sizeof name, "%s/grad/%s", label, e->name);
            golden_compare(name, gr, golden_ref(f, name), 1e-5, 1e-3);
        }
        CHECK(nparams > 0);
        for (int i = 0; i < ninputs; i++) {
            xt_tensor *gr = NULL;
            xt_grad(in[i], &gr);
            snprintf(name, sizeof name, "%s/grad/input%d", label, i);
            golden_compare(name, gr, golden_ref(f, name), 1e-5, 1e-3);
        }
    }
    /* Exactly the reference's parameters: no grad entry left unmatched. */
    int refs = 0;
    size_t plen = strlen(label);
    for (int i = 0; i < xc_st_count(f); i++) {
        const char *n = xc_st_at(f, i)->name;
        if (!strncmp(n, label, plen) && !strncmp(n + plen, "/grad/", 6) && strncmp(n + plen + 6, "input", 5))
            refs++;
    }
    int mine = 0;
    for (int i = 0; i < xc_model_state_count(m); i++) mine += xc_model_state_at(m, i)->is_param;
    CHECK_MSG(refs == mine, "%s: %d parameters, torchvision %d", label, mine, refs);

    xt_arena_push(prev);
    xt_arena_free(arena);
    xc_model_free(m);
}

int main(void) {
    xt_set_num_threads(2);
    xc_st_file *f = golden_open("blocks.safetensors");
    static const int64_t bott[][4] = {{2, 32, 8, 8}}, basic[][4] = {{2, 16, 8, 8}},
                         dense[][4] = {{2, 8, 6, 6}, {2, 16, 6, 6}}, trans[][4] = {{2, 24, 6, 6}};
    run_block(f, "bottleneck", BOTTLENECK, "bn1", bott, 1);
    run_block(f, "basic", BASIC, "bn1", basic, 1);
    run_block(f, "denselayer", DENSE, "norm1", dense, 2);
    run_block(f, "transition", TRANSITION, "norm", trans, 1);
    xc_st_close(f);
    return check_done("nn_test_blocks");
}
