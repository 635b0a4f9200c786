/* export_onnx.c — the eval-mode network as an ONNX model (xraycls/export.h), encoded with
 * protobuf-c from proto/onnx.proto (the subset of ONNX's schema used here).
 *
 * The graph is rebuilt from the architecture and torchvision's state-dict names — the same
 * structure nn/resnet.c and nn/densenet.c run:
 *   ResNet    Conv(conv1) BN Relu MaxPool, per block Conv BN Relu … BN (+ downsample Conv BN)
 *             Add Relu, GlobalAveragePool Flatten Gemm(fc)
 *   DenseNet  Conv(conv0) BN Relu MaxPool, per dense layer Concat BN Relu Conv(1×1) BN Relu
 *             Conv(3×3), per block Concat, per transition BN Relu Conv AveragePool(2), BN(norm5)
 *             Relu GlobalAveragePool Flatten Gemm(classifier)
 * then Softmax (or Sigmoid for a multi-label head) → "probs"; the logits are a second output.
 * BatchNormalization that follows a Conv is folded into it (W·γ/√(σ²+ε), β − μγ/√(σ²+ε), in
 * double: xc_bn_fold, the fold eval and predict run) unless fold_bn is 0; DenseNet's BNs that open a layer stay BatchNormalization nodes.
 * IR version 8, opset 13..17 (17 by default), batch dimension "N". */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_internal.h"
#include "xraycls/fs.h"

xc_onnx_opts xc_onnx_default(void) {
    xc_onnx_opts o = {17, 1};
    return o;
}

#ifndef XRAYCLS_HAVE_PROTOBUF_C
#define XRAYCLS_HAVE_PROTOBUF_C 0
#endif

#if !XRAYCLS_HAVE_PROTOBUF_C

int xc_export_onnx_available(void) { return 0; }

int xc_export_onnx(const xc_model *m, const xc_model_info *info, const char *path, const xc_onnx_opts *o) {
    (void)m, (void)info, (void)o;
    return xc_errorf("cannot write '%s': xraycls was built without protobuf-c (ONNX export)", path);
}

#else

#include "onnx.pb-c.h"

int xc_export_onnx_available(void) { return 1; }

#define BN_EPS 1e-5 /* torchvision's BatchNorm2d */

/* Everything the graph allocates, freed at once. */
typedef struct {
    void **v;
    size_t n, cap;
    int oom;

    Onnx__NodeProto **nodes;
    size_t nn, ncap;
    Onnx__TensorProto **inits;
    size_t ni, icap;
    int next; /* for fresh value names */

    const xc_st_tensor *state;
    int nstate;
    int fold;
} g_ctx;

static void *gnew(g_ctx *g, size_t size) {
    if (g->oom) return NULL;
    void *p = calloc(1, size ? size : 1);
    if (!p || (g->n == g->cap && !(g->cap = g->cap ? 2 * g->cap : 1024, g->v = realloc(g->v, g->cap * sizeof *g->v)))) {
        free(p);
        g->oom = 1;
        return NULL;
    }
    g->v[g->n++] = p;
    return p;
}

static char *gstr(g_ctx *g, const char *s) {
    char *p = gnew(g, strlen(s) + 1);
    if (p) strcpy(p, s);
    return p;
}

static char *fresh(g_ctx *g, const char *hint) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s_%d", hint, g->next++);
    return gstr(g, buf);
}

static const xc_st_tensor *find(g_ctx *g, const char *name) {
    for (int i = 0; i < g->nstate; i++)
        if (!strcmp(g->state[i].name, name)) return &g->state[i];
    return NULL;
}

static const float *fdata(const xc_st_tensor *t) { return (const float *)t->data; }

/* An initializer `name` of float32 values (copied). */
static const char *init_f32(g_ctx *g, const char *name, int ndim, const int64_t *dims, const float *v, size_t n) {
    Onnx__TensorProto *t = gnew(g, sizeof *t);
    int64_t *d = gnew(g, (size_t)ndim * sizeof *d);
    void *raw = gnew(g, n * sizeof(float));
    if (!t || !d || !raw) return NULL;
    onnx__tensor_proto__init(t);
    memcpy(d, dims, (size_t)ndim * sizeof *d);
    memcpy(raw, v, n * sizeof(float)); /* raw_data is little-endian, as the host (x86, arm64) */
    t->n_dims = (size_t)ndim, t->dims = d;
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->name = gstr(g, name);
    t->has_raw_data = 1, t->raw_data.len = n * sizeof(float), t->raw_data.data = raw;
    if (g->ni == g->icap) {
        g->icap = g->icap ? 2 * g->icap : 256;
        Onnx__TensorProto **v2 = realloc(g->inits, g->icap * sizeof *v2);
        if (!v2) return g->oom = 1, NULL;
        g->inits = v2;
    }
    g->inits[g->ni++] = t;
    return t->name;
}

/* An initializer holding the state tensor `name` as it is. */
static const char *init_state(g_ctx *g, const char *name) {
    const xc_st_tensor *t = find(g, name);
    if (!t) {
        xc_errorf("the model has no tensor '%s'", name);
        g->oom = 1;
        return NULL;
    }
    size_t n = t->nbytes / sizeof(float);
    return init_f32(g, name, t->ndim, t->shape, fdata(t), n);
}

typedef struct {
    const char *name;
    int kind; /* 'i' int, 'f' float, 'I' ints */
    int64_t i;
    float f;
    int64_t ints[4];
    int nints;
} attr;

/* A node op(inputs) → one fresh output named after hint; returns the output name. */
static const char *node(g_ctx *g, const char *op, const char *hint, const char *const *in, int nin, const attr *at,
                        int nat, const char *out_name) {
    Onnx__NodeProto *nd = gnew(g, sizeof *nd);
    char **ins = gnew(g, (size_t)nin * sizeof *ins), **outs = gnew(g, sizeof *outs);
    Onnx__AttributeProto **ats = gnew(g, (size_t)(nat ? nat : 1) * sizeof *ats);
    if (!nd || !ins || !outs || !ats) return NULL;
    onnx__node_proto__init(nd);
    for (int k = 0; k < nin; k++)
        if (!in[k] || !(ins[k] = gstr(g, in[k]))) return g->oom = 1, NULL;
    outs[0] = out_name ? gstr(g, out_name) : fresh(g, hint);
    for (int k = 0; k < nat; k++) {
        Onnx__AttributeProto *a = gnew(g, sizeof *a);
        if (!a) return NULL;
        onnx__attribute_proto__init(a);
        a->name = gstr(g, at[k].name);
        a->has_type = 1;
        if (at[k].kind == 'i') {
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i = 1, a->i = at[k].i;
        } else if (at[k].kind == 'f') {
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f = 1, a->f = at[k].f;
        } else {
            a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
            a->ints = gnew(g, (size_t)at[k].nints * sizeof *a->ints);
            if (!a->ints) return NULL;
            memcpy(a->ints, at[k].ints, (size_t)at[k].nints * sizeof *a->ints);
            a->n_ints = (size_t)at[k].nints;
        }
        ats[k] = a;
    }
    nd->n_input = (size_t)nin, nd->input = ins;
    nd->n_output = 1, nd->output = outs;
    nd->op_type = gstr(g, op);
    nd->name = fresh(g, op);
    nd->n_attribute = (size_t)nat, nd->attribute = ats;
    if (g->nn == g->ncap) {
        g->ncap = g->ncap ? 2 * g->ncap : 256;
        Onnx__NodeProto **v = realloc(g->nodes, g->ncap * sizeof *v);
        if (!v) return g->oom = 1, NULL;
        g->nodes = v;
    }
    g->nodes[g->nn++] = nd;
    return g->oom ? NULL : outs[0];
}

static const char *relu(g_ctx *g, const char *x) { return x ? node(g, "Relu", "relu", &x, 1, NULL, 0, NULL) : NULL; }

/* BatchNormalization `bn` (prefix of its tensors, e.g. "layer1.0.bn1") on x. */
static const char *batchnorm(g_ctx *g, const char *x, const char *bn) {
    char nm[4][256];
    const char *suf[4] = {"weight", "bias", "running_mean", "running_var"};
    const char *in[5] = {x};
    for (int k = 0; k < 4; k++) {
        snprintf(nm[k], sizeof nm[k], "%s.%s", bn, suf[k]);
        in[k + 1] = init_state(g, nm[k]);
    }
    attr a = {"epsilon", 'f', 0, (float)BN_EPS, {0}, 0};
    return x ? node(g, "BatchNormalization", "bn", in, 5, &a, 1, NULL) : NULL;
}

/* Conv with the weight `w` (name of a state tensor), then the BN `bn` when bn is not NULL:
 * folded into the Conv's weight and bias, or as a node. */
static const char *conv_bn(g_ctx *g, const char *x, const char *w, int stride, const char *bn) {
    const xc_st_tensor *wt = find(g, w);
    if (!x || !wt || wt->ndim != 4) {
        if (x && !wt) xc_errorf("the model has no tensor '%s'", w);
        g->oom = 1;
        return NULL;
    }
    int64_t k = wt->shape[2], pad = k / 2;
    attr at[4] = {{"kernel_shape", 'I', 0, 0, {k, wt->shape[3]}, 2},
                  {"strides", 'I', 0, 0, {stride, stride}, 2},
                  {"pads", 'I', 0, 0, {pad, pad, pad, pad}, 4},
                  {"group", 'i', 1, 0, {0}, 0}};
    if (!bn || !g->fold) {
        const char *in[2] = {x, init_state(g, w)};
        const char *y = node(g, "Conv", "conv", in, 2, at, 4, NULL);
        return bn ? batchnorm(g, y, bn) : y;
    }
    char nm[4][256];
    const char *suf[4] = {"weight", "bias", "running_mean", "running_var"};
    const xc_st_tensor *p[4];
    for (int q = 0; q < 4; q++) {
        snprintf(nm[q], sizeof nm[q], "%s.%s", bn, suf[q]);
        if (!(p[q] = find(g, nm[q]))) {
            xc_errorf("the model has no tensor '%s'", nm[q]);
            g->oom = 1;
            return NULL;
        }
    }
    int64_t cout = wt->shape[0], per = (int64_t)(wt->nbytes / sizeof(float)) / cout;
    float *fw = malloc(wt->nbytes), *fb = malloc((size_t)cout * sizeof *fb);
    if (!fw || !fb) {
        free(fw), free(fb);
        g->oom = 1;
        return NULL;
    }
    /* The arithmetic eval and predict fold with (nn/fold.c). */
    if (xc_bn_fold(fdata(wt), cout, per, fdata(p[0]), fdata(p[1]), fdata(p[2]), fdata(p[3]), BN_EPS, fw, fb) < 0) {
        xc_errorf("folding '%s' into '%s': %s", bn, w, xc_error());
        free(fw), free(fb);
        g->oom = 1;
        return NULL;
    }
    char wn[300], bnm[300];
    snprintf(wn, sizeof wn, "%s+%s", w, bn);
    snprintf(bnm, sizeof bnm, "%s+%s.bias", w, bn);
    int64_t bd[1] = {cout};
    const char *in[3] = {x, init_f32(g, wn, 4, wt->shape, fw, (size_t)(cout * per)), init_f32(g, bnm, 1, bd, fb, (size_t)cout)};
    free(fw), free(fb);
    return node(g, "Conv", "conv", in, 3, at, 4, NULL);
}

static const char *maxpool(g_ctx *g, const char *x) {
    attr at[3] = {{"kernel_shape", 'I', 0, 0, {3, 3}, 2}, {"strides", 'I', 0, 0, {2, 2}, 2}, {"pads", 'I', 0, 0, {1, 1, 1, 1}, 4}};
    return x ? node(g, "MaxPool", "maxpool", &x, 1, at, 3, NULL) : NULL;
}

static int has(g_ctx *g, const char *fmt, int a, int b) {
    char nm[256];
    snprintf(nm, sizeof nm, fmt, a, b);
    return find(g, nm) != NULL;
}

static const char *resnet(g_ctx *g, const char *x) {
    int bottleneck = has(g, "layer1.0.conv3.weight", 0, 0);
    const char *y = relu(g, conv_bn(g, x, "conv1.weight", 2, "bn1"));
    y = maxpool(g, y);
    for (int l = 1; l <= 4; l++)
        for (int b = 0; has(g, "layer%d.%d.conv1.weight", l, b); b++) {
            char p[64], w[96], bn[96];
            snprintf(p, sizeof p, "layer%d.%d.", l, b);
            int stride = (l > 1 && b == 0) ? 2 : 1;
            const char *o = y;
            int nconv = bottleneck ? 3 : 2;
            for (int c = 1; c <= nconv; c++) {
                snprintf(w, sizeof w, "%sconv%d.weight", p, c);
                snprintf(bn, sizeof bn, "%sbn%d", p, c);
                /* v1.5: the stride sits on the 3×3 conv (conv2 of a Bottleneck, conv1 of a BasicBlock) */
                int s = (bottleneck ? c == 2 : c == 1) ? stride : 1;
                o = conv_bn(g, o, w, s, bn);
                if (c < nconv) o = relu(g, o);
            }
            const char *id = y;
            if (has(g, "layer%d.%d.downsample.0.weight", l, b)) {
                snprintf(w, sizeof w, "%sdownsample.0.weight", p);
                snprintf(bn, sizeof bn, "%sdownsample.1", p);
                id = conv_bn(g, y, w, stride, bn);
            }
            const char *in[2] = {o, id};
            y = relu(g, o && id ? node(g, "Add", "add", in, 2, NULL, 0, NULL) : NULL);
        }
    return y;
}

static const char *densenet(g_ctx *g, const char *x) {
    const char *y = relu(g, conv_bn(g, x, "features.conv0.weight", 2, "features.norm0"));
    y = maxpool(g, y);
    for (int b = 1; b <= 4 && y; b++) {
        const char *feats[128];
        int n = 0;
        feats[n++] = y;
        for (int l = 1; has(g, "features.denseblock%d.denselayer%d.conv1.weight", b, l) && n < 128; l++) {
            char p[96], w[128], bn[128];
            snprintf(p, sizeof p, "features.denseblock%d.denselayer%d.", b, l);
            attr ax = {"axis", 'i', 1, 0, {0}, 0};
            const char *in = n == 1 ? feats[0] : node(g, "Concat", "concat", feats, n, &ax, 1, NULL);
            snprintf(bn, sizeof bn, "%snorm1", p);
            snprintf(w, sizeof w, "%sconv1.weight", p);
            const char *h = conv_bn(g, relu(g, batchnorm(g, in, bn)), w, 1, NULL);
            snprintf(bn, sizeof bn, "%snorm2", p);
            snprintf(w, sizeof w, "%sconv2.weight", p);
            h = conv_bn(g, relu(g, batchnorm(g, h, bn)), w, 1, NULL);
            if (!h) return NULL;
            feats[n++] = h;
        }
        attr ax = {"axis", 'i', 1, 0, {0}, 0};
        y = node(g, "Concat", "concat", feats, n, &ax, 1, NULL);
        if (b < 4) {
            char bn[64], w[64];
            snprintf(bn, sizeof bn, "features.transition%d.norm", b);
            snprintf(w, sizeof w, "features.transition%d.conv.weight", b);
            y = conv_bn(g, relu(g, batchnorm(g, y, bn)), w, 1, NULL);
            attr at[2] = {{"kernel_shape", 'I', 0, 0, {2, 2}, 2}, {"strides", 'I', 0, 0, {2, 2}, 2}};
            y = y ? node(g, "AveragePool", "avgpool", &y, 1, at, 2, NULL) : NULL;
        }
    }
    return relu(g, batchnorm(g, y, "features.norm5"));
}

static Onnx__ValueInfoProto *value_info(g_ctx *g, const char *name, int64_t c, int64_t h, int64_t w, int ndim) {
    Onnx__ValueInfoProto *v = gnew(g, sizeof *v);
    Onnx__TypeProto *t = gnew(g, sizeof *t);
    Onnx__TypeProto__Tensor *tt = gnew(g, sizeof *tt);
    Onnx__TensorShapeProto *s = gnew(g, sizeof *s);
    Onnx__TensorShapeProto__Dimension **d = gnew(g, 4 * sizeof *d);
    if (!v || !t || !tt || !s || !d) return NULL;
    onnx__value_info_proto__init(v), onnx__type_proto__init(t), onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(s);
    int64_t sizes[4] = {0, c, h, w};
    for (int k = 0; k < ndim; k++) {
        if (!(d[k] = gnew(g, sizeof *d[k]))) return NULL;
        onnx__tensor_shape_proto__dimension__init(d[k]);
        if (k == 0) {
            d[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d[k]->dim_param = gstr(g, "N");
        } else {
            d[k]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d[k]->dim_value = sizes[k];
        }
    }
    s->n_dim = (size_t)ndim, s->dim = d;
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, tt->shape = s;
    t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, t->tensor_type = tt;
    v->name = gstr(g, name), v->type = t;
    return v;
}

typedef struct {
    g_ctx *g;
    Onnx__StringStringEntryProto **props;
    size_t n;
} meta_sink;

static int meta_put(void *ud, const char *key, const char *value) {
    meta_sink *s = ud;
    Onnx__StringStringEntryProto *e = gnew(s->g, sizeof *e);
    if (!e || s->n >= 16) return xc_errorf("out of memory");
    onnx__string_string_entry_proto__init(e);
    e->key = gstr(s->g, key), e->value = gstr(s->g, value);
    s->props[s->n++] = e;
    return 0;
}

int xc_export_onnx(const xc_model *m, const xc_model_info *info, const char *path, const xc_onnx_opts *o) {
    xc_onnx_opts def = xc_onnx_default();
    if (!o) o = &def;
    if (o->opset < 13 || o->opset > 17) return xc_errorf("cannot write '%s': opset %d is not in 13..17", path, o->opset);
    xc_error_clear();
    g_ctx g = {0};
    g.fold = o->fold_bn;
    xt_arena *prev = xt_arena_push(NULL);
    g.state = xc_export_state(m, &g.nstate);
    xt_arena_push(prev);
    if (!g.state) return xc_errorf("cannot write '%s': %s", path, xc_error());
    for (int i = 0; i < g.nstate; i++)
        if (g.state[i].dtype != XC_F32 && !strstr(g.state[i].name, "num_batches_tracked")) {
            xc_export_state_free((xc_st_tensor *)g.state, g.nstate);
            return xc_errorf("cannot write '%s': tensor '%s' is %s (float32 only)", path, g.state[i].name,
                             xc_dtype_st_name(g.state[i].dtype));
        }
    int rc = -1, densenet_arch = !strncmp(info->arch, "densenet", 8);
    const char *head = densenet_arch ? "classifier" : "fc";
    char hw[32], hb[32];
    snprintf(hw, sizeof hw, "%s.weight", head);
    snprintf(hb, sizeof hb, "%s.bias", head);
    const char *y = densenet_arch ? densenet(&g, "input") : resnet(&g, "input");
    y = y ? node(&g, "GlobalAveragePool", "gap", &y, 1, NULL, 0, NULL) : NULL;
    attr ax1 = {"axis", 'i', 1, 0, {0}, 0};
    y = y ? node(&g, "Flatten", "flatten", &y, 1, &ax1, 1, NULL) : NULL;
    const char *gin[3] = {y, init_state(&g, hw), init_state(&g, hb)};
    attr tb = {"transB", 'i', 1, 0, {0}, 0};
    const char *logits = y ? node(&g, "Gemm", "gemm", gin, 3, &tb, 1, "logits") : NULL;
    int sigmoid = !strcmp(info->head, "sigmoid");
    const char *probs = logits ? node(&g, sigmoid ? "Sigmoid" : "Softmax", "probs", &logits, 1, &ax1, sigmoid ? 0 : 1,
                                      "probs")
                               : NULL;
    if (!probs) {
        xc_errorf("cannot write '%s': %s", path, *xc_error() ? xc_error() : "out of memory");
        goto done;
    }

    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__ValueInfoProto *gi[1] = {value_info(&g, "input", 3, info->image_size, info->image_size, 4)};
    Onnx__ValueInfoProto *go[2] = {value_info(&g, "probs", info->num_classes, 0, 0, 2),
                                   value_info(&g, "logits", info->num_classes, 0, 0, 2)};
    /* the class count of the outputs: the 2-d value_info's second dim */
    graph.n_node = g.nn, graph.node = g.nodes;
    graph.name = gstr(&g, info->arch);
    graph.n_initializer = g.ni, graph.initializer = g.inits;
    graph.n_input = 1, graph.input = gi;
    graph.n_output = 2, graph.output = go;
    Onnx__OperatorSetIdProto op = ONNX__OPERATOR_SET_ID_PROTO__INIT, *ops[1] = {&op};
    op.domain = gstr(&g, "");
    op.has_version = 1, op.version = o->opset;
    Onnx__StringStringEntryProto *props[16];
    meta_sink ms = {&g, props, 0};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    model.has_ir_version = 1, model.ir_version = 8;
    model.n_opset_import = 1, model.opset_import = ops;
    model.producer_name = gstr(&g, "xraycls");
    model.producer_version = gstr(&g, XRAYCLS_VERSION);
    model.graph = &graph;
    if (!gi[0] || !go[0] || !go[1] || g.oom || xc_export_meta(info, meta_put, &ms) < 0) {
        xc_errorf("cannot write '%s': %s", path, *xc_error() ? xc_error() : "out of memory");
        goto done;
    }
    model.n_metadata_props = ms.n, model.metadata_props = props;
    size_t len = onnx__model_proto__get_packed_size(&model);
    uint8_t *bytes = malloc(len ? len : 1);
    if (!bytes) {
        xc_errorf("cannot write '%s': out of memory for %zu bytes", path, len);
        goto done;
    }
    onnx__model_proto__pack(&model, bytes);
    rc = xc_write_file_atomic(path, bytes, len);
    free(bytes);
done:
    for (size_t i = 0; i < g.n; i++) free(g.v[i]);
    free(g.v);
    free(g.nodes);
    free(g.inits);
    xc_export_state_free((xc_st_tensor *)g.state, g.nstate);
    return rc;
}

#endif
