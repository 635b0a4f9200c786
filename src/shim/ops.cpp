/* ops.cpp — the tensor ops of the C ABI: shape, elementwise, in-place updates, reductions,
 * sorting and indexing, the neural-network layers and the image ops of batch augmentation.
 * Each is one libtorch call inside a guard (internal.h); results go to the current arena. */
#include "internal.h"

#include <ATen/core/grad_mode.h>

using namespace xtshim;

/* The tensors of a C array of handles. */
static std::vector<at::Tensor> tensor_list(xt_tensor *const *ts, int n) {
    if (n <= 0) throw std::invalid_argument("needs at least one tensor");
    if (!ts) throw std::invalid_argument("tensor array is NULL");
    std::vector<at::Tensor> v;
    v.reserve((size_t)n);
    for (int i = 0; i < n; i++) {
        std::string name = "ts[" + std::to_string(i) + "]";
        v.push_back(arg(ts[i], name.c_str()));
    }
    return v;
}

/* Hands out a (values, indices) pair; either output may be NULL when not wanted. Both are
 * wrapped before either is stored, so a failure leaves both outputs NULL. */
static void pair_out(std::tuple<at::Tensor, at::Tensor> r, xt_tensor **values, xt_tensor **indices) {
    xt_tensor *v = values ? wrap(std::get<0>(r)) : nullptr;
    xt_tensor *i = nullptr;
    try {
        if (indices) i = wrap(std::get<1>(r));
    } catch (...) {
        if (v && !v->arena) delete v;
        throw;
    }
    if (values) *values = v;
    if (indices) *indices = i;
}

static void clear_outs(xt_tensor **a, xt_tensor **b) {
    if (a) *a = nullptr;
    if (b) *b = nullptr;
}

static void check_positive(int64_t v, const char *what) {
    if (v <= 0) throw std::invalid_argument(std::string(what) + " must be positive, got " + std::to_string(v));
}

extern "C" {

/* ---- shape ------------------------------------------------------------------------------- */

xt_tensor *xt_reshape(const xt_tensor *t, int ndim, const int64_t *shape) {
    return XT_TENSOR_OP(arg(t, "t").reshape(shape_arg(ndim, shape, "shape")));
}

xt_tensor *xt_transpose(const xt_tensor *t, int d0, int d1) {
    return XT_TENSOR_OP(arg(t, "t").transpose(d0, d1));
}

xt_tensor *xt_flatten(const xt_tensor *t, int start_dim, int end_dim) {
    return XT_TENSOR_OP(arg(t, "t").flatten(start_dim, end_dim));
}

xt_tensor *xt_unsqueeze(const xt_tensor *t, int dim) { return XT_TENSOR_OP(arg(t, "t").unsqueeze(dim)); }

xt_tensor *xt_squeeze(const xt_tensor *t, int dim) { return XT_TENSOR_OP(arg(t, "t").squeeze(dim)); }

xt_tensor *xt_expand(const xt_tensor *t, int ndim, const int64_t *shape) {
    return XT_TENSOR_OP(arg(t, "t").expand(shape_arg(ndim, shape, "shape")));
}

xt_tensor *xt_narrow(const xt_tensor *t, int dim, int64_t start, int64_t length) {
    return XT_TENSOR_OP(arg(t, "t").narrow(dim, start, length));
}

xt_tensor *xt_cat(xt_tensor *const *ts, int n, int dim) { return XT_TENSOR_OP(at::cat(tensor_list(ts, n), dim)); }

xt_tensor *xt_stack(xt_tensor *const *ts, int n, int dim) {
    return XT_TENSOR_OP(at::stack(tensor_list(ts, n), dim));
}

/* ---- elementwise ------------------------------------------------------------------------- */

xt_tensor *xt_add(const xt_tensor *a, const xt_tensor *b) { return XT_TENSOR_OP(at::add(arg(a, "a"), arg(b, "b"))); }
xt_tensor *xt_sub(const xt_tensor *a, const xt_tensor *b) { return XT_TENSOR_OP(at::sub(arg(a, "a"), arg(b, "b"))); }
xt_tensor *xt_mul(const xt_tensor *a, const xt_tensor *b) { return XT_TENSOR_OP(at::mul(arg(a, "a"), arg(b, "b"))); }
xt_tensor *xt_div(const xt_tensor *a, const xt_tensor *b) { return XT_TENSOR_OP(at::div(arg(a, "a"), arg(b, "b"))); }
xt_tensor *xt_add_scalar(const xt_tensor *a, double s) { return XT_TENSOR_OP(at::add(arg(a, "a"), s)); }
xt_tensor *xt_mul_scalar(const xt_tensor *a, double s) { return XT_TENSOR_OP(at::mul(arg(a, "a"), s)); }
xt_tensor *xt_pow_scalar(const xt_tensor *a, double e) { return XT_TENSOR_OP(at::pow(arg(a, "a"), e)); }
xt_tensor *xt_rsub_scalar(const xt_tensor *a, double s) { return XT_TENSOR_OP(at::rsub(arg(a, "a"), s)); }
xt_tensor *xt_neg(const xt_tensor *a) { return XT_TENSOR_OP(at::neg(arg(a, "a"))); }
xt_tensor *xt_exp(const xt_tensor *a) { return XT_TENSOR_OP(at::exp(arg(a, "a"))); }
xt_tensor *xt_log(const xt_tensor *a) { return XT_TENSOR_OP(at::log(arg(a, "a"))); }
xt_tensor *xt_abs(const xt_tensor *a) { return XT_TENSOR_OP(at::abs(arg(a, "a"))); }
xt_tensor *xt_sigmoid(const xt_tensor *a) { return XT_TENSOR_OP(at::sigmoid(arg(a, "a"))); }

xt_tensor *xt_clamp(const xt_tensor *a, double lo, double hi) {
    return XT_TENSOR_OP(at::clamp(arg(a, "a"), at::Scalar(lo), at::Scalar(hi)));
}

xt_tensor *xt_where(const xt_tensor *cond, const xt_tensor *a, const xt_tensor *b) {
    return XT_TENSOR_OP(at::where(arg(cond, "cond"), arg(a, "a"), arg(b, "b")));
}

xt_tensor *xt_eq(const xt_tensor *a, const xt_tensor *b) { return XT_TENSOR_OP(at::eq(arg(a, "a"), arg(b, "b"))); }
xt_tensor *xt_lt_scalar(const xt_tensor *a, double s) { return XT_TENSOR_OP(at::lt(arg(a, "a"), s)); }
xt_tensor *xt_gt_scalar(const xt_tensor *a, double s) { return XT_TENSOR_OP(at::gt(arg(a, "a"), s)); }

/* ---- in place (not recorded by autograd) -------------------------------------------------- */

int xt_copy_(xt_tensor *dst, const xt_tensor *src) {
    return guard_int(__func__, [&] {
        const at::Tensor &d = arg(dst, "dst");
        const at::Tensor &s = arg(src, "src");
        if (d.sizes() != s.sizes())
            throw std::invalid_argument("shape mismatch: dst " + c10::str(d.sizes()) + ", src " +
                                        c10::str(s.sizes()));
        at::NoGradGuard no_grad;
        d.copy_(s);
    });
}

int xt_fill_(xt_tensor *t, double v) {
    return guard_int(__func__, [&] {
        at::NoGradGuard no_grad;
        arg(t, "t").fill_(v);
    });
}

int xt_add_(xt_tensor *t, const xt_tensor *other, double alpha) {
    return guard_int(__func__, [&] {
        at::NoGradGuard no_grad;
        arg(t, "t").add_(arg(other, "other"), alpha);
    });
}

int xt_mul_scalar_(xt_tensor *t, double s) {
    return guard_int(__func__, [&] {
        at::NoGradGuard no_grad;
        arg(t, "t").mul_(s);
    });
}

int xt_uniform_(xt_tensor *t, double lo, double hi) {
    return guard_int(__func__, [&] {
        at::NoGradGuard no_grad;
        arg(t, "t").uniform_(lo, hi);
    });
}

int xt_normal_(xt_tensor *t, double mean, double std) {
    return guard_int(__func__, [&] {
        at::NoGradGuard no_grad;
        arg(t, "t").normal_(mean, std);
    });
}

/* ---- reductions, sorting, indexing ------------------------------------------------------- */

xt_tensor *xt_sum(const xt_tensor *t) { return XT_TENSOR_OP(at::sum(arg(t, "t"))); }
xt_tensor *xt_mean(const xt_tensor *t) { return XT_TENSOR_OP(at::mean(arg(t, "t"))); }

xt_tensor *xt_sum_dim(const xt_tensor *t, int dim, int keepdim) {
    return guard_tensor(__func__, [&] {
        int64_t d = dim;
        return at::sum(arg(t, "t"), at::IntArrayRef(&d, 1), keepdim != 0);
    });
}

xt_tensor *xt_mean_dim(const xt_tensor *t, int dim, int keepdim) {
    return guard_tensor(__func__, [&] {
        int64_t d = dim;
        return at::mean(arg(t, "t"), at::IntArrayRef(&d, 1), keepdim != 0);
    });
}

int xt_max_dim(const xt_tensor *t, int dim, int keepdim, xt_tensor **values, xt_tensor **indices) {
    clear_outs(values, indices);
    return guard_int(__func__, [&] { pair_out(at::max(arg(t, "t"), dim, keepdim != 0), values, indices); });
}

xt_tensor *xt_argmax(const xt_tensor *t, int dim, int keepdim) {
    return XT_TENSOR_OP(at::argmax(arg(t, "t"), (int64_t)dim, keepdim != 0));
}

xt_tensor *xt_gather(const xt_tensor *t, int dim, const xt_tensor *index) {
    return XT_TENSOR_OP(at::gather(arg(t, "t"), dim, arg(index, "index")));
}

xt_tensor *xt_index_select(const xt_tensor *t, int dim, const xt_tensor *index) {
    return XT_TENSOR_OP(at::index_select(arg(t, "t"), dim, arg(index, "index")));
}

/* ---- neural-network ops ------------------------------------------------------------------ */

xt_tensor *xt_conv2d(const xt_tensor *x, const xt_tensor *w, const xt_tensor *b, int stride,
                     int padding, int dilation, int groups) {
    return guard_tensor(__func__, [&] {
        check_positive(stride, "stride");
        check_positive(dilation, "dilation");
        check_positive(groups, "groups");
        if (padding < 0) throw std::invalid_argument("padding must be >= 0");
        const int64_t s[2] = {stride, stride}, p[2] = {padding, padding}, d[2] = {dilation, dilation};
        return at::conv2d(arg(x, "x"), arg(w, "w"), opt_arg(b), at::IntArrayRef(s, 2), at::IntArrayRef(p, 2),
                          at::IntArrayRef(d, 2), groups);
    });
}

xt_tensor *xt_batch_norm(const xt_tensor *x, const xt_tensor *weight, const xt_tensor *bias,
                         xt_tensor *running_mean, xt_tensor *running_var, int training,
                         double momentum, double eps) {
    return guard_tensor(__func__, [&] {
        const at::Tensor &in = arg(x, "x");
        if (!training && (!running_mean || !running_var))
            throw std::invalid_argument("evaluation needs running_mean and running_var");
        if ((running_mean == nullptr) != (running_var == nullptr))
            throw std::invalid_argument("give both running_mean and running_var, or neither");
        return at::batch_norm(in, opt_arg(weight), opt_arg(bias), opt_arg(running_mean), opt_arg(running_var),
                              training != 0, momentum, eps, /*cudnn_enabled=*/true);
    });
}

xt_tensor *xt_relu(const xt_tensor *x) { return XT_TENSOR_OP(at::relu(arg(x, "x"))); }

xt_tensor *xt_relu_(xt_tensor *x) {
    return guard_tensor(__func__, [&] {
        at::Tensor t = arg(x, "x");
        at::relu_(t);
        return t;
    });
}

xt_tensor *xt_add_inplace(xt_tensor *x, const xt_tensor *y) {
    return guard_tensor(__func__, [&] {
        at::Tensor t = arg(x, "x");
        t.add_(arg(y, "y"));
        return t;
    });
}

xt_tensor *xt_max_pool2d(const xt_tensor *x, int kernel, int stride, int padding) {
    return guard_tensor(__func__, [&] {
        const int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride}, p[2] = {padding, padding};
        return at::max_pool2d(arg(x, "x"), at::IntArrayRef(k, 2), at::IntArrayRef(s, 2), at::IntArrayRef(p, 2));
    });
}

xt_tensor *xt_avg_pool2d(const xt_tensor *x, int kernel, int stride, int padding) {
    return guard_tensor(__func__, [&] {
        const int64_t k[2] = {kernel, kernel}, s[2] = {stride, stride}, p[2] = {padding, padding};
        return at::avg_pool2d(arg(x, "x"), at::IntArrayRef(k, 2), at::IntArrayRef(s, 2), at::IntArrayRef(p, 2));
    });
}

xt_tensor *xt_adaptive_avg_pool2d(const xt_tensor *x, int64_t out_h, int64_t out_w) {
    return guard_tensor(__func__, [&] {
        const int64_t o[2] = {out_h, out_w};
        return at::adaptive_avg_pool2d(arg(x, "x"), at::IntArrayRef(o, 2));
    });
}

xt_tensor *xt_linear(const xt_tensor *x, const xt_tensor *w, const xt_tensor *b) {
    return XT_TENSOR_OP(at::linear(arg(x, "x"), arg(w, "w"), opt_arg(b)));
}

xt_tensor *xt_softmax(const xt_tensor *x, int dim) { return XT_TENSOR_OP(at::softmax(arg(x, "x"), (int64_t)dim)); }

xt_tensor *xt_log_softmax(const xt_tensor *x, int dim) {
    return XT_TENSOR_OP(at::log_softmax(arg(x, "x"), (int64_t)dim));
}

/* ---- image ops --------------------------------------------------------------------------- */

xt_tensor *xt_flip(const xt_tensor *x, int ndims, const int64_t *dims) {
    return XT_TENSOR_OP(at::flip(arg(x, "x"), shape_arg(ndims, dims, "dims")));
}

xt_tensor *xt_affine_grid(const xt_tensor *theta, int64_t n, int64_t c, int64_t h, int64_t w,
                          int align_corners) {
    return guard_tensor(__func__, [&] {
        const at::Tensor &th = arg(theta, "theta");
        if (th.dim() != 3 || th.size(0) != n || th.size(1) != 2 || th.size(2) != 3)
            throw std::invalid_argument("theta must be (" + std::to_string(n) + ", 2, 3), got " +
                                        c10::str(th.sizes()));
        const int64_t size[4] = {n, c, h, w};
        return at::affine_grid_generator(th, at::IntArrayRef(size, 4), align_corners != 0);
    });
}

xt_tensor *xt_grid_sample(const xt_tensor *x, const xt_tensor *grid, xt_interp mode,
                          xt_padding padding, int align_corners) {
    return guard_tensor(__func__, [&] {
        if (mode != XT_INTERP_BILINEAR && mode != XT_INTERP_NEAREST)
            throw std::invalid_argument("unknown interpolation mode " + std::to_string((int)mode));
        if (padding != XT_PAD_ZEROS && padding != XT_PAD_BORDER && padding != XT_PAD_REFLECTION)
            throw std::invalid_argument("unknown padding mode " + std::to_string((int)padding));
        /* ATen's codes: interpolation bilinear 0, nearest 1; padding zeros 0, border 1,
         * reflection 2 — the same numbers as the xt_ enums. */
        return at::grid_sampler(arg(x, "x"), arg(grid, "grid"), (int64_t)mode, (int64_t)padding,
                                align_corners != 0);
    });
}

xt_tensor *xt_interpolate(const xt_tensor *x, int64_t out_h, int64_t out_w, xt_interp mode,
                          int align_corners, int antialias) {
    return guard_tensor(__func__, [&] {
        const at::Tensor &in = arg(x, "x");
        if (in.dim() != 4) throw std::invalid_argument("interpolate needs (N, C, H, W), got " + c10::str(in.sizes()));
        check_positive(out_h, "out_h");
        check_positive(out_w, "out_w");
        const int64_t o[2] = {out_h, out_w};
        const at::IntArrayRef size(o, 2);
        const c10::optional<double> none;
        if (mode == XT_INTERP_NEAREST) {
            if (align_corners || antialias)
                throw std::invalid_argument("align_corners and antialias apply to bilinear only");
            return at::upsample_nearest2d(in, size, none, none);
        }
        if (mode != XT_INTERP_BILINEAR)
            throw std::invalid_argument("unknown interpolation mode " + std::to_string((int)mode));
        if (antialias) return at::_upsample_bilinear2d_aa(in, size, align_corners != 0, none, none);
        return at::upsample_bilinear2d(in, size, align_corners != 0, none, none);
    });
}

} /* extern "C" */
