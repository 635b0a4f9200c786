/* adam.cpp — the Adam / AdamW optimizer of the C ABI, with torch.optim.Adam's arithmetic:
 *
 *   g  = grad + wd * param                (L2; AdamW instead scales param by 1 - lr * wd)
 *   m  = beta1 * m + (1 - beta1) * g
 *   v  = beta2 * v + (1 - beta2) * g²
 *   param -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * Three ways to run it, chosen by xt_adam_params.fused: libtorch's fused kernel
 * (at::_fused_adam_: CUDA, and the CPU from torch 2.4), its multi-tensor _foreach kernels, or
 * one tensor at a time. They agree to float rounding. State is made at a parameter's first step
 * with a gradient, like torch's. */
#include "internal.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <map>

using namespace xtshim;

namespace {

struct adam_state {
    int64_t step = 0;
    xt_tensor *exp_avg = nullptr;    /* like the parameter; NULL until the first step */
    xt_tensor *exp_avg_sq = nullptr;
    at::Tensor step_t;               /* float32 0-dim copy of step for the fused kernel */
};

/* Whether this libtorch has a fused Adam kernel for tensors on `d`. */
bool has_fused(const at::Device &d) {
#if XRAYCLS_HAVE_CUDA
    if (d.is_cuda()) return true;
#endif
#if XT_TORCH_AT_LEAST(2, 4)
    if (d.is_cpu()) return true;
#endif
    (void)d;
    return false;
}

void require_fused(const at::Device &d) {
    if (!has_fused(d))
        throw std::invalid_argument("fused Adam requested but libtorch " TORCH_VERSION " has no fused kernel for " +
                                    d.str() + " (use fused -1 or 0)");
}

} // namespace

struct xt_adam {
    std::vector<xt_tensor *> params; /* borrowed */
    std::vector<adam_state> state;
    xt_adam_params p;

    ~xt_adam() {
        for (adam_state &s : state) {
            delete s.exp_avg;
            delete s.exp_avg_sq;
        }
    }
};

/* One tensor at a time: torch's single-tensor Adam. */
static void step_single(const xt_adam_params &p, const at::Tensor &param, const at::Tensor &grad_in,
                        adam_state &s) {
    at::Tensor &m = s.exp_avg->t, &v = s.exp_avg_sq->t;
    at::Tensor grad = grad_in;
    if (p.weight_decay != 0) {
        if (p.decoupled) param.mul_(1.0 - p.lr * p.weight_decay);
        else grad = grad.add(param, p.weight_decay);
    }
    m.mul_(p.beta1).add_(grad, 1.0 - p.beta1);
    v.mul_(p.beta2).addcmul_(grad, grad, 1.0 - p.beta2);
    double bc1 = 1.0 - std::pow(p.beta1, (double)s.step);
    double bc2 = 1.0 - std::pow(p.beta2, (double)s.step);
    at::Tensor denom = (v.sqrt() / std::sqrt(bc2)).add_(p.eps);
    param.addcdiv_(m, denom, -p.lr / bc1);
}

/* One group of parameters on one device with one dtype, through the _foreach kernels. */
static void step_foreach(const xt_adam_params &p, std::vector<at::Tensor> &P, std::vector<at::Tensor> &G,
                         std::vector<at::Tensor> &M, std::vector<at::Tensor> &V,
                         const std::vector<adam_state *> &S) {
    std::vector<at::Tensor> grads = G;
    if (p.weight_decay != 0) {
        if (p.decoupled) at::_foreach_mul_(P, 1.0 - p.lr * p.weight_decay);
        else grads = at::_foreach_add(G, P, p.weight_decay);
    }
    at::_foreach_mul_(M, p.beta1);
    at::_foreach_add_(M, grads, 1.0 - p.beta1);
    at::_foreach_mul_(V, p.beta2);
    at::_foreach_addcmul_(V, grads, grads, 1.0 - p.beta2);
    std::vector<at::Scalar> bc2_sqrt, neg_step_size;
    for (adam_state *s : S) {
        bc2_sqrt.emplace_back(std::sqrt(1.0 - std::pow(p.beta2, (double)s->step)));
        neg_step_size.emplace_back(-p.lr / (1.0 - std::pow(p.beta1, (double)s->step)));
    }
    std::vector<at::Tensor> denom = at::_foreach_sqrt(V);
    at::_foreach_div_(denom, bc2_sqrt);
    at::_foreach_add_(denom, p.eps);
    at::_foreach_addcdiv_(P, M, denom, neg_step_size);
}

/* One group through the fused kernel (which advances step_t itself). */
static void step_fused(const xt_adam_params &p, std::vector<at::Tensor> &P, std::vector<at::Tensor> &G,
                       std::vector<at::Tensor> &M, std::vector<at::Tensor> &V,
                       const std::vector<adam_state *> &S) {
    std::vector<at::Tensor> steps;
    for (adam_state *s : S) {
        /* The kernel adds 1 before using it; ours was advanced already. */
        if (!s->step_t.defined())
            s->step_t = at::full({}, (double)(s->step - 1), P[0].options().dtype(at::kFloat));
        steps.push_back(s->step_t);
    }
    double wd = p.weight_decay;
    if (p.decoupled && wd != 0) {
        at::_foreach_mul_(P, 1.0 - p.lr * wd); /* AdamW's decay, then plain Adam */
        wd = 0;
    }
    at::_fused_adam_(P, G, M, V, at::TensorList(), steps, p.lr, p.beta1, p.beta2, wd, p.eps,
                     /*amsgrad=*/false, /*maximize=*/false);
}

static void adam_step(xt_adam *a) {
    at::NoGradGuard no_grad;
    const xt_adam_params &p = a->p;
    /* Groups of (device, dtype), in parameter order within each. */
    struct group {
        std::vector<at::Tensor> P, G, M, V;
        std::vector<adam_state *> S;
    };
    std::map<std::pair<std::string, int>, group> groups;
    for (size_t i = 0; i < a->params.size(); i++) {
        const at::Tensor &param = a->params[i]->t;
        const at::Tensor &grad = param.grad();
        if (!grad.defined()) continue;
        if (grad.sizes() != param.sizes())
            throw std::invalid_argument("parameter " + std::to_string(i) + ": gradient " + c10::str(grad.sizes()) +
                                        " for a parameter " + c10::str(param.sizes()));
        if (grad.is_sparse()) throw std::invalid_argument("sparse gradients are not supported");
        adam_state &s = a->state[i];
        if (!s.exp_avg) {
            s.exp_avg = wrap_owned(at::zeros_like(param, at::MemoryFormat::Preserve));
            s.exp_avg_sq = wrap_owned(at::zeros_like(param, at::MemoryFormat::Preserve));
        }
        s.step += 1;
        /* CPU without a fused kernel: the per-tensor loop, as torch.optim.Adam's CPU default
         * (the _foreach kernels only loop over the same ops there, with extra temporaries). */
        if (p.fused == 0 || (p.fused == -1 && param.device().is_cpu() && !has_fused(param.device()))) {
            step_single(p, param, grad, s);
            continue;
        }
        group &g = groups[{param.device().str(), (int)param.scalar_type()}];
        g.P.push_back(param);
        g.G.push_back(grad);
        g.M.push_back(s.exp_avg->t);
        g.V.push_back(s.exp_avg_sq->t);
        g.S.push_back(&s);
    }
    for (auto &kv : groups) {
        group &g = kv.second;
        at::Device d = g.P[0].device();
        if (p.fused == 1) require_fused(d);
        if (has_fused(d)) {
            step_fused(p, g.P, g.G, g.M, g.V, g.S);
        } else {
            step_foreach(p, g.P, g.G, g.M, g.V, g.S);
            for (adam_state *s : g.S) s->step_t = at::Tensor(); /* rebuilt from step if needed */
        }
    }
}

extern "C" {

xt_adam_params xt_adam_default(void) {
    xt_adam_params p;
    p.lr = 1e-3;
    p.beta1 = 0.9;
    p.beta2 = 0.999;
    p.eps = 1e-8;
    p.weight_decay = 0;
    p.decoupled = 0;
    p.fused = -1;
    return p;
}

xt_adam *xt_adam_new(xt_tensor *const *params, int n, xt_adam_params p) {
    return guard<xt_adam *>(__func__, nullptr, [&] {
        if (n <= 0 || !params) throw std::invalid_argument("no parameters to optimize");
        if (!(p.lr >= 0)) throw std::invalid_argument("invalid learning rate " + std::to_string(p.lr));
        if (!(p.beta1 >= 0 && p.beta1 < 1) || !(p.beta2 >= 0 && p.beta2 < 1))
            throw std::invalid_argument("betas must lie in [0, 1)");
        if (!(p.eps >= 0)) throw std::invalid_argument("invalid eps " + std::to_string(p.eps));
        if (!(p.weight_decay >= 0))
            throw std::invalid_argument("invalid weight_decay " + std::to_string(p.weight_decay));
        if (p.fused < -1 || p.fused > 1) throw std::invalid_argument("fused must be -1, 0 or 1");
        std::unique_ptr<xt_adam> a(new xt_adam());
        a->p = p;
        for (int i = 0; i < n; i++) {
            std::string name = "params[" + std::to_string(i) + "]";
            const at::Tensor &t = arg(params[i], name.c_str());
            if (!t.is_floating_point()) throw std::invalid_argument(name + " is not floating point");
            if (p.fused == 1) require_fused(t.device());
            a->params.push_back(params[i]);
        }
        a->state.resize((size_t)n);
        return a.release();
    });
}

void xt_adam_free(xt_adam *a) { delete a; }

int xt_adam_step(xt_adam *a) {
    return guard_int(__func__, [&] {
        if (!a) throw std::invalid_argument("optimizer is NULL");
        adam_step(a);
    });
}

void xt_adam_set_lr(xt_adam *a, double lr) {
    if (a) a->p.lr = lr;
}

double xt_adam_get_lr(const xt_adam *a) { return a ? a->p.lr : 0.0; }

int xt_adam_count(const xt_adam *a) { return a ? (int)a->params.size() : 0; }

int xt_adam_state(const xt_adam *a, int i, int64_t *step, xt_tensor **exp_avg, xt_tensor **exp_avg_sq) {
    return guard_int(__func__, [&] {
        if (!a) throw std::invalid_argument("optimizer is NULL");
        if (i < 0 || (size_t)i >= a->params.size())
            throw std::invalid_argument("parameter index " + std::to_string(i) + " out of range");
        const adam_state &s = a->state[(size_t)i];
        if (step) *step = s.step;
        if (exp_avg) *exp_avg = s.exp_avg;
        if (exp_avg_sq) *exp_avg_sq = s.exp_avg_sq;
    });
}

int xt_adam_set_state(xt_adam *a, int i, int64_t step, const xt_tensor *exp_avg, const xt_tensor *exp_avg_sq) {
    return guard_int(__func__, [&] {
        if (!a) throw std::invalid_argument("optimizer is NULL");
        if (i < 0 || (size_t)i >= a->params.size())
            throw std::invalid_argument("parameter index " + std::to_string(i) + " out of range");
        if (step < 0) throw std::invalid_argument("negative step");
        const at::Tensor &param = a->params[(size_t)i]->t;
        const at::Tensor &m = arg(exp_avg, "exp_avg");
        const at::Tensor &v = arg(exp_avg_sq, "exp_avg_sq");
        if (m.sizes() != param.sizes() || v.sizes() != param.sizes())
            throw std::invalid_argument("parameter " + std::to_string(i) + " is " + c10::str(param.sizes()) +
                                        ", state is " + c10::str(m.sizes()) + " and " + c10::str(v.sizes()));
        at::NoGradGuard no_grad;
        /* Build both copies before touching the state, so a failure changes nothing. */
        at::Tensor nm = at::empty_like(param, at::MemoryFormat::Preserve).copy_(m);
        at::Tensor nv = at::empty_like(param, at::MemoryFormat::Preserve).copy_(v);
        adam_state &s = a->state[(size_t)i];
        if (!s.exp_avg) {
            std::unique_ptr<xt_tensor> hm(wrap_owned(nm));
            s.exp_avg_sq = wrap_owned(nv);
            s.exp_avg = hm.release();
        } else {
            s.exp_avg->t.copy_(nm);
            s.exp_avg_sq->t.copy_(nv);
        }
        s.step = step;
        s.step_t = at::Tensor();
    });
}

} /* extern "C" */
