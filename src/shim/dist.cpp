/* dist.cpp — xraycls/dist.h over torch.distributed's c10d: a TCPStore rendezvous, a Gloo (CPU)
 * or NCCL (CUDA) process group, bucketed all-reduce of gradients (synchronous, or overlapped
 * with the backward pass through tensor hooks, as DDP's reducer), broadcast, host sums, a
 * barrier and a differentiable all-reduce for SyncBatchNorm.
 *
 * Not here: the launch environment (src/train/dist_env.c) and how training uses the group
 * (src/train). Compiled with c10d only when CMake found its headers and Gloo's
 * (XRAYCLS_HAVE_DIST); otherwise every entry point fails with a message saying so.
 *
 * API differences: libtorch 2.x derives the process groups from c10d::Backend, 1.13 from
 * c10d::ProcessGroup; both have the collectives used here with the same signatures. */
#include "internal.h"

#include "xraycls/dist.h"

#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <signal.h>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#ifndef XRAYCLS_HAVE_DIST
#define XRAYCLS_HAVE_DIST 0
#endif
#ifndef XRAYCLS_HAVE_NCCL
#define XRAYCLS_HAVE_NCCL 0
#endif

#if XRAYCLS_HAVE_DIST
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if XRAYCLS_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#if XT_TORCH_AT_LEAST(2, 0)
using xt_pg = c10d::Backend;
#else
using xt_pg = c10d::ProcessGroup;
#endif

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/* A peer as it announced itself at rendezvous, to name it when it is gone. */
struct peer {
    std::string host;
    long pid = 0;
};

/* One bucket of the overlapped gradient reducer: parameters [first, first+count) of `order`,
 * packed into `flat`. */
struct bucket {
    std::vector<int> params; /* indices into xt_dist::grad_params */
    std::vector<int64_t> offset;
    at::Tensor flat;
    int ready = 0;
    c10::intrusive_ptr<c10d::Work> work;
};

} // namespace

struct xt_dist {
    int rank = 0, world = 1;
    std::string backend;
    std::chrono::milliseconds timeout{300000};
    at::Device dev{at::kCPU};
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<xt_pg> pg;
    std::vector<peer> peers;
    std::string my_host;
    double wait_s = 0;

    /* the overlapped reducer */
    std::mutex mu;
    std::vector<at::Tensor> grad_params;
    std::vector<int> param_bucket;
    std::vector<char> param_ready;
    std::vector<bucket> buckets;
    size_t next_launch = 0;
    std::string hook_error;
};

namespace {

std::string hostname() {
    char h[256] = {0};
    if (gethostname(h, sizeof h - 1) != 0) return "?";
    return h;
}

/* Alive: the process exists and is not a zombie (a killed rank stays a zombie until its
 * launcher reaps it). */
bool pid_alive(long pid) {
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return false;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(f, stat)) return true; /* no /proc: assume alive */
    size_t close = stat.rfind(')');
    return !(close != std::string::npos && close + 2 < stat.size() && stat[close + 2] == 'Z');
}

/* The reason a collective failed, with the ranks known to be gone. */
/* Ranks on this host whose process is gone, as "rank 1 (pid 42)". */
std::string gone_peers(const xt_dist *d) {
    std::string gone;
    for (int r = 0; r < (int)d->peers.size(); r++) {
        if (r == d->rank || d->peers[(size_t)r].host != d->my_host) continue;
        if (!pid_alive(d->peers[(size_t)r].pid)) {
            gone += gone.empty() ? "" : ", ";
            gone += "rank " + std::to_string(r) + " (pid " + std::to_string(d->peers[(size_t)r].pid) + ")";
        }
    }
    return gone;
}

/* The reason a collective failed, with the ranks known to be gone. A peer's sockets close while
 * its process is still exiting, so the check is repeated for up to a second. */
[[noreturn]] void fail_collective(xt_dist *d, const char *what, const std::string &why) {
    std::ostringstream os;
    os << what << " failed on rank " << d->rank << " of " << d->world;
    std::string gone;
    for (int i = 0; i < 20 && (gone = gone_peers(d)).empty(); i++) usleep(50000);
    if (!gone.empty()) os << ": " << gone << " exited";
    else os << ": a peer did not answer (it may have exited, or hung past the "
            << d->timeout.count() / 1000 << " s timeout)";
    os << " — " << why;
    throw std::runtime_error(os.str());
}

template <typename F>
void collective(xt_dist *d, const char *what, F &&start) {
    double t0 = now_s();
    try {
        c10::intrusive_ptr<c10d::Work> w = start();
        w->wait(d->timeout);
    } catch (const c10::Error &e) {
        fail_collective(d, what, e.what_without_backtrace());
    } catch (const std::exception &e) {
        fail_collective(d, what, e.what());
    }
    d->wait_s += now_s() - t0;
}

void allreduce_(xt_dist *d, at::Tensor &t, const char *what) {
    std::vector<at::Tensor> v{t};
    collective(d, what, [&] { return d->pg->allreduce(v); });
}

/* Sums across ranks in the forward pass and in the backward pass (the gradient of a sum
 * broadcast to every rank is the sum of the ranks' gradients). */
struct allreduce_sum_fn : public torch::autograd::Function<allreduce_sum_fn> {
    static at::Tensor forward(torch::autograd::AutogradContext *ctx, at::Tensor x, int64_t handle) {
        ctx->saved_data["d"] = handle;
        xt_dist *d = reinterpret_cast<xt_dist *>(handle);
        at::Tensor y = x.clone();
        if (d && d->world > 1) allreduce_(d, y, "SyncBatchNorm statistics all-reduce");
        return y;
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                   torch::autograd::variable_list g) {
        xt_dist *d = reinterpret_cast<xt_dist *>(ctx->saved_data["d"].toInt());
        at::Tensor gx = g[0].clone();
        if (d && d->world > 1) allreduce_(d, gx, "SyncBatchNorm gradient all-reduce");
        return {gx, at::Tensor()};
    }
};

void launch_ready(xt_dist *d) {
    while (d->next_launch < d->buckets.size()) {
        bucket &b = d->buckets[d->next_launch];
        if (b.ready < (int)b.params.size()) return;
        std::vector<at::Tensor> v{b.flat};
        b.work = d->pg->allreduce(v);
        d->next_launch++;
    }
}

} // namespace

extern "C" {

int xt_dist_available(void) { return 1; }
const char *xt_dist_backends(void) { return XRAYCLS_HAVE_NCCL ? "gloo, nccl" : "gloo"; }

xt_dist *xt_dist_init(const xt_dist_opts *o) {
    return xtshim::guard<xt_dist *>(__func__, nullptr, [&]() -> xt_dist * {
        if (!o || !o->addr) throw std::invalid_argument("no options");
        if (o->world < 1 || o->rank < 0 || o->rank >= o->world)
            throw std::invalid_argument("rank " + std::to_string(o->rank) + " outside a world of " +
                                        std::to_string(o->world));
        if (o->port < 1 || o->port > 65535)
            throw std::invalid_argument("port " + std::to_string(o->port) + " outside 1..65535");
        auto d = std::make_unique<xt_dist>();
        d->rank = o->rank;
        d->world = o->world;
        d->dev = xtshim::device(o->dev);
        d->timeout = std::chrono::milliseconds((int64_t)((o->timeout_s > 0 ? o->timeout_s : 300) * 1000));
        std::string want = o->backend && *o->backend ? o->backend : "auto";
        if (want == "auto") want = d->dev.is_cuda() ? "nccl" : "gloo";
        if (want != "gloo" && want != "nccl")
            throw std::invalid_argument("backend '" + want + "' is not one of auto, gloo, nccl");
        if (want == "nccl" && !d->dev.is_cuda())
            throw std::invalid_argument("backend nccl needs a CUDA device (train.device)");
#if !XRAYCLS_HAVE_NCCL
        if (want == "nccl")
            throw std::invalid_argument("this build of xraycls has no NCCL (a CUDA libtorch with "
                                        "ProcessGroupNCCL is needed); use backend gloo");
#endif
        d->backend = want;

        c10d::TCPStoreOptions so;
        so.port = (uint16_t)o->port;
        so.isServer = o->rank == 0;
        so.numWorkers = (size_t)o->world;
        so.waitWorkers = true;
        so.timeout = d->timeout;
        try {
            d->store = c10::make_intrusive<c10d::TCPStore>(std::string(o->addr), so);
        } catch (const std::exception &e) {
            throw std::runtime_error(std::string("rendezvous at ") + o->addr + ":" +
                                     std::to_string(o->port) + " (rank " + std::to_string(o->rank) +
                                     " of " + std::to_string(o->world) + ") failed: " + e.what());
        }
#if XRAYCLS_HAVE_NCCL
        if (want == "nccl") {
            auto opts = c10d::ProcessGroupNCCL::Options::create();
            opts->timeout = d->timeout;
            d->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(d->store, o->rank, o->world, opts);
        }
#endif
        if (want == "gloo") {
            auto opts = c10d::ProcessGroupGloo::Options::create(d->timeout);
            const char *ifname = getenv("GLOO_SOCKET_IFNAME");
            if (ifname && *ifname)
                opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
            else
                opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
            d->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(d->store, o->rank, o->world, opts);
        }
        /* Who is who, to name a rank that disappears. */
        d->my_host = hostname();
        std::string me = d->my_host + " " + std::to_string((long)getpid());
        d->store->set("xraycls/peer/" + std::to_string(o->rank), std::vector<uint8_t>(me.begin(), me.end()));
        d->peers.resize((size_t)o->world);
        for (int r = 0; r < o->world; r++) {
            std::vector<uint8_t> v = d->store->get("xraycls/peer/" + std::to_string(r));
            std::istringstream is(std::string(v.begin(), v.end()));
            is >> d->peers[(size_t)r].host >> d->peers[(size_t)r].pid;
        }
        return d.release();
    });
}

void xt_dist_free(xt_dist *d) {
    if (!d) return;
    try {
        delete d;
    } catch (...) {
    }
}

int xt_dist_rank(const xt_dist *d) { return d ? d->rank : 0; }
int xt_dist_world(const xt_dist *d) { return d ? d->world : 1; }
const char *xt_dist_backend(const xt_dist *d) { return d ? d->backend.c_str() : "none"; }
double xt_dist_wait_seconds(const xt_dist *d) { return d ? d->wait_s : 0; }

int xt_dist_allreduce_sum(xt_dist *d, xt_tensor *const *ts, int n, size_t bucket_bytes) {
    return xtshim::guard_int(__func__, [&] {
        if (!d) throw std::invalid_argument("no process group");
        if (n <= 0) return;
        size_t cap = bucket_bytes ? bucket_bytes : (25u << 20);
        /* Buckets of consecutive tensors of one dtype and device. */
        struct pack {
            std::vector<at::Tensor> parts;
            at::Tensor flat;
            c10::intrusive_ptr<c10d::Work> work;
        };
        std::vector<pack> packs;
        size_t bytes = 0;
        for (int i = 0; i < n; i++) {
            const at::Tensor &t = xtshim::arg(ts[i], "tensor");
            size_t b = (size_t)t.numel() * t.element_size();
            if (packs.empty() || bytes + b > cap || packs.back().parts[0].scalar_type() != t.scalar_type() ||
                packs.back().parts[0].device() != t.device()) {
                packs.emplace_back();
                bytes = 0;
            }
            packs.back().parts.push_back(t);
            bytes += b;
        }
        double t0 = now_s();
        try {
            for (pack &p : packs) {
                std::vector<at::Tensor> flat1;
                for (const at::Tensor &t : p.parts) flat1.push_back(t.reshape({-1}));
                p.flat = at::cat(flat1);
                std::vector<at::Tensor> v{p.flat};
                p.work = d->pg->allreduce(v);
            }
            for (pack &p : packs) p.work->wait(d->timeout);
        } catch (const c10::Error &e) {
            fail_collective(d, "gradient all-reduce", e.what_without_backtrace());
        } catch (const std::exception &e) {
            fail_collective(d, "gradient all-reduce", e.what());
        }
        d->wait_s += now_s() - t0;
        for (pack &p : packs) {
            int64_t off = 0;
            for (at::Tensor &t : p.parts) {
                t.copy_(p.flat.narrow(0, off, t.numel()).view_as(t));
                off += t.numel();
            }
        }
    });
}

int xt_dist_broadcast(xt_dist *d, xt_tensor *const *ts, int n, int root) {
    return xtshim::guard_int(__func__, [&] {
        if (!d) throw std::invalid_argument("no process group");
        at::NoGradGuard ng;
        for (int i = 0; i < n; i++) {
            at::Tensor t = xtshim::arg(ts[i], "tensor");
            /* Collectives need contiguous tensors; parameters in channels_last are not. */
            at::Tensor c = t.is_contiguous() ? t : t.contiguous();
            std::vector<at::Tensor> v{c};
            c10d::BroadcastOptions bo;
            bo.rootRank = root;
            collective(d, "parameter broadcast", [&] { return d->pg->broadcast(v, bo); });
            if (!c.is_same(t)) t.copy_(c);
        }
    });
}

int xt_dist_sum_host(xt_dist *d, double *v, int n) {
    return xtshim::guard_int(__func__, [&] {
        if (!d) throw std::invalid_argument("no process group");
        if (n <= 0) return;
        at::Tensor t = at::from_blob(v, {n}, at::kDouble).clone();
        if (d->backend == "nccl") t = t.to(d->dev);
        allreduce_(d, t, "step statistics all-reduce");
        at::Tensor h = t.cpu();
        std::memcpy(v, h.data_ptr<double>(), (size_t)n * sizeof(double));
    });
}

int xt_dist_barrier(xt_dist *d) {
    return xtshim::guard_int(__func__, [&] {
        if (!d) throw std::invalid_argument("no process group");
        /* A sum of one value rather than pg->barrier(): Gloo's barrier has no per-call timeout
         * in 1.13 and NCCL's needs a device; an all-reduce has both. */
        double one = 1;
        at::Tensor t = at::from_blob(&one, {1}, at::kDouble).clone();
        if (d->backend == "nccl") t = t.to(d->dev);
        allreduce_(d, t, "barrier");
    });
}

int xt_dist_grads_attach(xt_dist *d, xt_tensor *const *params, int n, size_t bucket_bytes) {
    return xtshim::guard_int(__func__, [&] {
        if (!d) throw std::invalid_argument("no process group");
        if (!d->grad_params.empty()) throw std::invalid_argument("gradients already attached");
        size_t cap = bucket_bytes ? bucket_bytes : (25u << 20);
        d->grad_params.reserve((size_t)n);
        for (int i = 0; i < n; i++) d->grad_params.push_back(xtshim::arg(params[i], "param"));
        d->param_bucket.assign((size_t)n, -1);
        d->param_ready.assign((size_t)n, 0);
        /* Reverse order: backward produces the head's gradients first. */
        size_t bytes = 0;
        for (int i = n - 1; i >= 0; i--) {
            const at::Tensor &p = d->grad_params[(size_t)i];
            size_t b = (size_t)p.numel() * p.element_size();
            if (d->buckets.empty() || bytes + b > cap ||
                d->grad_params[(size_t)d->buckets.back().params[0]].scalar_type() != p.scalar_type()) {
                d->buckets.emplace_back();
                bytes = 0;
            }
            bucket &bk = d->buckets.back();
            int64_t off = bk.offset.empty() ? 0
                          : bk.offset.back() + d->grad_params[(size_t)bk.params.back()].numel();
            bk.params.push_back(i);
            bk.offset.push_back(off);
            d->param_bucket[(size_t)i] = (int)d->buckets.size() - 1;
            bytes += b;
        }
        for (bucket &bk : d->buckets) {
            const at::Tensor &last = d->grad_params[(size_t)bk.params.back()];
            bk.flat = at::zeros({bk.offset.back() + last.numel()}, last.options().requires_grad(false));
        }
        for (int i = 0; i < n; i++) {
            at::Tensor &p = d->grad_params[(size_t)i];
            /* A hook can only be registered on a tensor that requires grad; a frozen one is
             * unfrozen for the registration (the hook stays when it is frozen again). */
            bool was = p.requires_grad();
            if (!was) p.set_requires_grad(true);
            /* The hook sees the gradient before it is accumulated into .grad; it copies it into
             * its bucket and starts the bucket's all-reduce once it and every earlier one are
             * complete (the same order on every rank, as Gloo and NCCL require). */
            p.register_hook([d, i](const at::Tensor &g) {
                std::lock_guard<std::mutex> lock(d->mu);
                try {
                    bucket &bk = d->buckets[(size_t)d->param_bucket[(size_t)i]];
                    size_t slot = 0;
                    while (bk.params[slot] != i) slot++;
                    if (!d->param_ready[(size_t)i]) {
                        bk.flat.narrow(0, bk.offset[slot], g.numel()).copy_(g.reshape({-1}));
                        d->param_ready[(size_t)i] = 1;
                        bk.ready++;
                    } else { /* a second gradient in one backward pass: accumulate */
                        bk.flat.narrow(0, bk.offset[slot], g.numel()).add_(g.reshape({-1}));
                    }
                    launch_ready(d);
                } catch (const c10::Error &e) {
                    d->hook_error = e.what_without_backtrace();
                } catch (const std::exception &e) {
                    d->hook_error = e.what();
                }
            });
            if (!was) p.set_requires_grad(false);
        }
    });
}

int xt_dist_grads_finish(xt_dist *d) {
    return xtshim::guard_int(__func__, [&] {
        if (!d) throw std::invalid_argument("no process group");
        std::lock_guard<std::mutex> lock(d->mu);
        double t0 = now_s();
        try {
            if (!d->hook_error.empty()) throw std::runtime_error(d->hook_error);
            /* Buckets left incomplete (frozen parameters) go now, in order. */
            for (; d->next_launch < d->buckets.size(); d->next_launch++) {
                bucket &b = d->buckets[d->next_launch];
                std::vector<at::Tensor> v{b.flat};
                b.work = d->pg->allreduce(v);
            }
            for (bucket &b : d->buckets) b.work->wait(d->timeout);
        } catch (const c10::Error &e) {
            d->hook_error.clear();
            fail_collective(d, "gradient all-reduce", e.what_without_backtrace());
        } catch (const std::exception &e) {
            d->hook_error.clear();
            fail_collective(d, "gradient all-reduce", e.what());
        }
        d->wait_s += now_s() - t0;
        at::NoGradGuard ng;
        const double inv = 1.0 / (double)d->world;
        for (bucket &b : d->buckets) {
            for (size_t s = 0; s < b.params.size(); s++) {
                int i = b.params[s];
                at::Tensor &p = d->grad_params[(size_t)i];
                if (!d->param_ready[(size_t)i]) continue;
                at::Tensor avg = b.flat.narrow(0, b.offset[s], p.numel()).view(p.sizes()).mul(inv);
                if (p.grad().defined()) p.mutable_grad().copy_(avg);
                else p.mutable_grad() = avg.clone(at::MemoryFormat::Preserve);
                d->param_ready[(size_t)i] = 0;
            }
            b.flat.zero_();
            b.ready = 0;
            b.work.reset();
        }
        d->next_launch = 0;
    });
}

xt_tensor *xt_sync_batch_norm(xt_dist *d, const xt_tensor *x_, const xt_tensor *w_,
                              const xt_tensor *b_, xt_tensor *rm_, xt_tensor *rv_,
                              double momentum, double eps) {
    return XT_TENSOR_OP(([&]() -> at::Tensor {
        const at::Tensor &x = xtshim::arg(x_, "x");
        if (x.dim() != 4) throw std::invalid_argument("SyncBatchNorm needs (N, C, H, W)");
        int64_t C = x.size(1);
        at::Tensor xf = x.scalar_type() == at::kFloat ? x : x.to(at::kFloat);
        /* Each rank's (count, mean, biased variance) in its row of a (world, 2C+1) matrix,
         * zero elsewhere; summing the matrices over the ranks (differentiably) gives every
         * row, and the rows are merged with the parallel-variance formula (Chan et al.), as
         * torch's SyncBatchNorm does. Never E[x^2] - E[x]^2, whose cancellation in float32
         * would make ranks and one process disagree by far more than rounding. */
        int world = d ? d->world : 1, rank = d ? d->rank : 0;
        auto vm = at::var_mean(xf, {0, 2, 3}, /*unbiased=*/false);
        at::Tensor cnt = at::full({1}, (double)(x.size(0) * x.size(2) * x.size(3)), xf.options());
        at::Tensor row = at::cat({cnt, std::get<1>(vm), std::get<0>(vm)});
        at::Tensor rows = at::cat({at::zeros({rank, 2 * C + 1}, xf.options()), row.unsqueeze(0),
                                   at::zeros({world - rank - 1, 2 * C + 1}, xf.options())});
        rows = allreduce_sum_fn::apply(rows, reinterpret_cast<int64_t>(d));
        at::Tensor n_r = rows.narrow(1, 0, 1);                 // (W, 1)
        at::Tensor m_r = rows.narrow(1, 1, C), v_r = rows.narrow(1, 1 + C, C);
        at::Tensor total = n_r.sum(0);                          // (1)
        at::Tensor mean = (n_r * m_r).sum(0) / total;            // (C)
        at::Tensor var = (n_r * (v_r + (m_r - mean).pow(2))).sum(0) / total;
        at::Tensor y = (xf - mean.view({1, C, 1, 1})) * at::rsqrt(var + eps).view({1, C, 1, 1});
        auto w = xtshim::opt_arg(w_), b = xtshim::opt_arg(b_);
        if (w) y = y * w->view({1, C, 1, 1});
        if (b) y = y + b->view({1, C, 1, 1});
        {
            at::NoGradGuard ng;
            double n = total.item<double>();
            auto rm = xtshim::opt_arg(rm_), rv = xtshim::opt_arg(rv_);
            if (rm) rm->mul_(1 - momentum).add_(mean.detach(), momentum);
            if (rv) rv->mul_(1 - momentum).add_(var.detach() * (n / (n > 1 ? n - 1 : 1)), momentum);
        }
        return y.scalar_type() == x.scalar_type() ? y : y.to(x.scalar_type());
    }()));
}

} // extern "C"

#else /* no c10d in this build */

namespace {
int no_dist(const char *fn) {
    xc_errorf("%s: this build of xraycls has no torch.distributed (c10d with Gloo headers were "
              "not found at configure time; on Debian install libgloo-dev and reconfigure)", fn);
    return -1;
}
} // namespace

extern "C" {
int xt_dist_available(void) { return 0; }
const char *xt_dist_backends(void) { return "none"; }
xt_dist *xt_dist_init(const xt_dist_opts *) { return no_dist(__func__), nullptr; }
void xt_dist_free(xt_dist *) {}
int xt_dist_rank(const xt_dist *) { return 0; }
int xt_dist_world(const xt_dist *) { return 1; }
const char *xt_dist_backend(const xt_dist *) { return "none"; }
double xt_dist_wait_seconds(const xt_dist *) { return 0; }
int xt_dist_allreduce_sum(xt_dist *, xt_tensor *const *, int, size_t) { return no_dist(__func__); }
int xt_dist_broadcast(xt_dist *, xt_tensor *const *, int, int) { return no_dist(__func__); }
int xt_dist_sum_host(xt_dist *, double *, int) { return no_dist(__func__); }
int xt_dist_barrier(xt_dist *) { return no_dist(__func__); }
int xt_dist_grads_attach(xt_dist *, xt_tensor *const *, int, size_t) { return no_dist(__func__); }
int xt_dist_grads_finish(xt_dist *) { return no_dist(__func__); }
xt_tensor *xt_sync_batch_norm(xt_dist *d, const xt_tensor *x, const xt_tensor *w, const xt_tensor *b,
                              xt_tensor *rm, xt_tensor *rv, double momentum, double eps) {
    (void)d, (void)x, (void)w, (void)b, (void)rm, (void)rv, (void)momentum, (void)eps;
    return no_dist(__func__), nullptr;
}
} // extern "C"

#endif
