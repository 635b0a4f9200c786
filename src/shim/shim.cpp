/* shim.cpp — the core of the C ABI over libtorch: handles and arenas, dtypes and devices,
 * creation and host transfer, properties and conversion, autograd, randomness and performance
 * settings. The ops live in ops.cpp and the optimizer in adam.cpp; internal.h holds what they
 * share. Every entry point runs inside a guard (internal.h), so no exception leaves this file. */
#include "internal.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <ATen/Parallel.h>

#if XRAYCLS_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

/* ---- internals (internal.h) --------------------------------------------------------------- */

namespace xtshim {

static thread_local xt_arena *g_current_arena = nullptr;

xt_arena *current_arena() { return g_current_arena; }

xt_tensor *wrap_owned(at::Tensor t) {
    if (!t.defined()) throw std::runtime_error("the operation produced no tensor");
    return new xt_tensor{std::move(t), nullptr};
}

xt_tensor *wrap(at::Tensor t) {
    xt_arena *a = g_current_arena;
    if (!a) return wrap_owned(std::move(t));
    a->items.reserve(a->items.size() + 1); /* may throw before anything is allocated */
    xt_tensor *h = wrap_owned(std::move(t));
    h->arena = a;
    a->items.push_back(h);
    return h;
}

at::ScalarType scalar_type(xt_dtype dt) {
    switch (dt) {
    case XT_U8: return at::kByte;
    case XT_I8: return at::kChar;
    case XT_I16: return at::kShort;
    case XT_I32: return at::kInt;
    case XT_I64: return at::kLong;
    case XT_F16: return at::kHalf;
    case XT_BF16: return at::kBFloat16;
    case XT_F32: return at::kFloat;
    case XT_F64: return at::kDouble;
    case XT_BOOL: return at::kBool;
    }
    throw std::invalid_argument("unknown dtype code " + std::to_string((int)dt));
}

xt_dtype from_scalar_type(at::ScalarType st) {
    switch (st) {
    case at::kByte: return XT_U8;
    case at::kChar: return XT_I8;
    case at::kShort: return XT_I16;
    case at::kInt: return XT_I32;
    case at::kLong: return XT_I64;
    case at::kHalf: return XT_F16;
    case at::kBFloat16: return XT_BF16;
    case at::kFloat: return XT_F32;
    case at::kDouble: return XT_F64;
    case at::kBool: return XT_BOOL;
    default: break;
    }
    throw std::invalid_argument(std::string("torch dtype ") + c10::toString(st) + " has no xt_dtype");
}

/* Number of CUDA devices this process can use (0 on CPU-only builds). */
static int cuda_count() {
#if XRAYCLS_HAVE_CUDA
    return (int)c10::cuda::device_count();
#else
    return 0;
#endif
}

static void check_cuda_index(int index) {
#if XRAYCLS_HAVE_CUDA
    int n = cuda_count();
    if (n <= 0) throw std::runtime_error("no CUDA device found");
    if (index >= n)
        throw std::runtime_error("CUDA device " + std::to_string(index) + " requested but " +
                                 std::to_string(n) + " present");
#else
    (void)index;
    throw std::runtime_error("CUDA requested but not available: this libtorch has no CUDA");
#endif
}

at::Device device(xt_device dev) {
    if (dev == XT_CPU) return at::Device(at::kCPU);
    if (dev < 0) throw std::invalid_argument("invalid device code " + std::to_string(dev));
    check_cuda_index(dev);
    return at::Device(at::kCUDA, (c10::DeviceIndex)dev);
}

xt_device from_device(const at::Device &d) {
    if (d.is_cpu()) return XT_CPU;
    if (d.is_cuda()) return d.has_index() ? (xt_device)d.index() : 0;
    throw std::invalid_argument("tensor on unsupported device " + d.str());
}

at::TensorOptions options(xt_dtype dt, xt_device dev) {
    return at::TensorOptions().dtype(scalar_type(dt)).device(device(dev));
}

at::IntArrayRef shape_arg(int ndim, const int64_t *shape, const char *name) {
    if (ndim < 0) throw std::invalid_argument(std::string(name) + ": negative number of dims");
    if (ndim > 0 && !shape) throw std::invalid_argument(std::string(name) + " is NULL");
    for (int i = 0; i < ndim; i++)
        if (shape[i] < -1)
            throw std::invalid_argument(std::string(name) + ": size " + std::to_string(shape[i]) +
                                        " at dim " + std::to_string(i));
    return at::IntArrayRef(shape, (size_t)ndim);
}

/* The message of this thread's last shim failure (empty: none yet). A NULL handle reaching a
 * later call is most likely that failure's result, so its message leads what the user reads. */
static thread_local std::string t_first;

void report_null(const char *fn, const char *what) {
    if (t_first.empty()) {
        xc_errorf("%s: %s", fn, what);
        return;
    }
    xc_errorf("%s (and then %s: %s)", t_first.c_str(), fn, what);
}

void report(const char *fn, const char *what) {
    /* libtorch messages may span lines; the project's messages are one line. */
    std::string s(what ? what : "");
    for (char &c : s)
        if (c == '\n' || c == '\r') c = ' ';
    while (!s.empty() && s.back() == ' ') s.pop_back();
    xc_errorf("%s: %s", fn, s.c_str());
    t_first = xc_error();
}

} // namespace xtshim

using namespace xtshim;

/* Creation shapes must be fully known (no -1). */
static at::IntArrayRef new_shape(int ndim, const int64_t *shape) {
    at::IntArrayRef s = shape_arg(ndim, shape, "shape");
    for (int64_t v : s)
        if (v < 0) throw std::invalid_argument("shape: size -1 is not allowed here");
    return s;
}

extern "C" {

/* ---- dtypes --------------------------------------------------------------------------------- */

size_t xt_dtype_size(xt_dtype dt) {
    switch (dt) {
    case XT_U8: case XT_I8: case XT_BOOL: return 1;
    case XT_I16: case XT_F16: case XT_BF16: return 2;
    case XT_I32: case XT_F32: return 4;
    case XT_I64: case XT_F64: return 8;
    }
    return 0;
}

const char *xt_dtype_name(xt_dtype dt) {
    switch (dt) {
    case XT_U8: return "uint8";
    case XT_I8: return "int8";
    case XT_I16: return "int16";
    case XT_I32: return "int32";
    case XT_I64: return "int64";
    case XT_F16: return "float16";
    case XT_BF16: return "bfloat16";
    case XT_F32: return "float32";
    case XT_F64: return "float64";
    case XT_BOOL: return "bool";
    }
    return "unknown";
}

/* ---- library, devices ------------------------------------------------------------------- */

const char *xt_torch_version(void) { return TORCH_VERSION; }

int xt_cuda_available(void) {
    return guard<int>(__func__, 0, [] { return cuda_count() > 0 ? 1 : 0; });
}

int xt_cuda_device_count(void) {
    return guard<int>(__func__, 0, [] { return cuda_count(); });
}

int xt_cuda_device_name(int index, char *buf, size_t cap) {
    return guard_int(__func__, [&] {
        if (!buf || cap == 0) throw std::invalid_argument("no buffer");
        if (index < 0) throw std::invalid_argument("negative CUDA device index");
        check_cuda_index(index);
#if XRAYCLS_HAVE_CUDA
        snprintf(buf, cap, "%s", at::cuda::getDeviceProperties(index)->name);
#endif
    });
}

int xt_device_parse(const char *spec, xt_device *out) {
    if (!spec || !out) return xc_errorf("xt_device_parse: NULL argument");
    try {
        if (!strcmp(spec, "cpu")) {
            *out = XT_CPU;
        } else if (!strcmp(spec, "auto")) {
            *out = cuda_count() > 0 ? 0 : XT_CPU;
        } else if (!strcmp(spec, "cuda")) {
            check_cuda_index(0);
            *out = 0;
        } else if (!strncmp(spec, "cuda:", 5)) {
            const char *num = spec + 5;
            char *end = nullptr;
            long idx = strtol(num, &end, 10);
            if (!*num || *end || idx < 0 || idx > 1024)
                return xc_errorf("invalid device '%s': expected cpu, cuda, cuda:N or auto", spec);
            check_cuda_index((int)idx);
            *out = (xt_device)idx;
        } else {
            return xc_errorf("invalid device '%s': expected cpu, cuda, cuda:N or auto", spec);
        }
        return 0;
    } catch (const c10::Error &e) {
        return xc_errorf("cannot use device '%s': %s", spec, e.what_without_backtrace());
    } catch (const std::exception &e) {
        return xc_errorf("cannot use device '%s': %s", spec, e.what());
    } catch (...) {
        return xc_errorf("cannot use device '%s': unknown error", spec);
    }
}

void xt_device_string(xt_device dev, char *buf, size_t cap) {
    if (!buf || cap == 0) return;
    if (dev == XT_CPU) snprintf(buf, cap, "cpu");
    else if (dev >= 0) snprintf(buf, cap, "cuda:%d", dev);
    else snprintf(buf, cap, "invalid(%d)", dev);
}

void xt_set_num_threads(int n) {
    if (n <= 0) return;
    guard_int(__func__, [&] { at::set_num_threads(n); });
}

int xt_get_num_threads(void) {
    return guard<int>(__func__, -1, [] { return (int)at::get_num_threads(); });
}

int xt_synchronize(xt_device dev) {
    return guard_int(__func__, [&] {
        at::Device d = device(dev);
#if XRAYCLS_HAVE_CUDA
        if (d.is_cuda()) {
            c10::cuda::CUDAGuard g(d.index());
            c10::cuda::device_synchronize();
        }
#else
        (void)d;
#endif
    });
}

/* ---- arena and lifetime ------------------------------------------------------------------ */

xt_arena *xt_arena_new(void) {
    return guard<xt_arena *>(__func__, nullptr, [] { return new xt_arena(); });
}

void xt_arena_clear(xt_arena *a) {
    if (!a) return;
    for (xt_tensor *h : a->items) delete h;
    a->items.clear();
}

void xt_arena_free(xt_arena *a) {
    if (!a) return;
    xt_arena_clear(a);
    if (g_current_arena == a) g_current_arena = nullptr;
    delete a;
}

size_t xt_arena_count(const xt_arena *a) { return a ? a->items.size() : 0; }

xt_arena *xt_arena_push(xt_arena *a) {
    xt_arena *prev = g_current_arena;
    g_current_arena = a;
    return prev;
}

xt_arena *xt_arena_current(void) { return g_current_arena; }

size_t xt_arena_mark(const xt_arena *a) { return a ? a->items.size() : 0; }

void xt_arena_release(xt_arena *a, size_t mark, xt_tensor *const *keep, int n) {
    if (!a || mark >= a->items.size()) return;
    size_t w = mark;
    for (size_t i = mark; i < a->items.size(); i++) {
        xt_tensor *h = a->items[i];
        bool kept = false;
        for (int k = 0; k < n && !kept; k++) kept = keep && keep[k] == h;
        if (kept) a->items[w++] = h;
        else delete h;
    }
    a->items.resize(w);
}

xt_tensor *xt_keep(const xt_tensor *t) {
    return guard<xt_tensor *>(__func__, nullptr, [&] { return wrap_owned(arg(t, "t")); });
}

void xt_free(xt_tensor *t) {
    if (!t || t->arena) return; /* an arena's handle is released by its arena only */
    delete t;
}

/* ---- creation and host transfer ---------------------------------------------------------- */

xt_tensor *xt_empty(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::empty(new_shape(ndim, shape), options(dt, dev)));
}

xt_tensor *xt_zeros(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::zeros(new_shape(ndim, shape), options(dt, dev)));
}

xt_tensor *xt_ones(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::ones(new_shape(ndim, shape), options(dt, dev)));
}

xt_tensor *xt_full(int ndim, const int64_t *shape, double value, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::full(new_shape(ndim, shape), value, options(dt, dev)));
}

xt_tensor *xt_rand(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::rand(new_shape(ndim, shape), options(dt, dev)));
}

xt_tensor *xt_randn(int ndim, const int64_t *shape, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::randn(new_shape(ndim, shape), options(dt, dev)));
}

xt_tensor *xt_randint(int64_t lo, int64_t hi, int ndim, const int64_t *shape, xt_device dev) {
    return XT_TENSOR_OP(at::randint(lo, hi, new_shape(ndim, shape), options(XT_I64, dev)));
}

xt_tensor *xt_scalar(double value, xt_dtype dt, xt_device dev) {
    return XT_TENSOR_OP(at::full({}, value, options(dt, dev)));
}

xt_tensor *xt_from_host(const void *data, int ndim, const int64_t *shape, xt_dtype dt) {
    return guard_tensor(__func__, [&] {
        at::Tensor t = at::empty(new_shape(ndim, shape), options(dt, XT_CPU));
        size_t bytes = (size_t)t.numel() * xt_dtype_size(dt);
        if (bytes > 0 && !data) throw std::invalid_argument("data is NULL");
        if (bytes > 0) memcpy(t.data_ptr(), data, bytes);
        return t;
    });
}

xt_tensor *xt_from_blob(void *data, int ndim, const int64_t *shape, xt_dtype dt) {
    return guard_tensor(__func__, [&] {
        if (!data) throw std::invalid_argument("data is NULL");
        return at::from_blob(data, new_shape(ndim, shape), options(dt, XT_CPU));
    });
}

int xt_to_host(const xt_tensor *t, void *dst, size_t cap) {
    return guard_int(__func__, [&] {
        at::Tensor c = arg(t, "t").detach().to(at::kCPU).contiguous();
        size_t bytes = (size_t)c.numel() * c.element_size();
        if (cap != bytes)
            throw std::invalid_argument("buffer of " + std::to_string(cap) + " bytes for a tensor of " +
                                        std::to_string(bytes) + " bytes");
        if (bytes > 0 && !dst) throw std::invalid_argument("dst is NULL");
        if (bytes > 0) memcpy(dst, c.data_ptr(), bytes);
    });
}

int xt_item(const xt_tensor *t, double *out) {
    return guard_int(__func__, [&] {
        if (!out) throw std::invalid_argument("out is NULL");
        *out = arg(t, "t").item<double>();
    });
}

/* ---- properties -------------------------------------------------------------------------- */

int xt_ndim(const xt_tensor *t) {
    return guard<int>(__func__, -1, [&] { return (int)arg(t, "t").dim(); });
}

int64_t xt_size(const xt_tensor *t, int dim) {
    return guard<int64_t>(__func__, -1, [&] { return arg(t, "t").size(dim); });
}

int xt_shape(const xt_tensor *t, int64_t *shape, int cap) {
    return guard<int>(__func__, -1, [&] {
        const at::Tensor &x = arg(t, "t");
        int nd = (int)x.dim();
        if (cap > 0 && !shape) throw std::invalid_argument("shape is NULL");
        for (int i = 0; i < nd && i < cap; i++) shape[i] = x.size(i);
        return nd;
    });
}

int64_t xt_numel(const xt_tensor *t) {
    return guard<int64_t>(__func__, -1, [&] { return (int64_t)arg(t, "t").numel(); });
}

xt_dtype xt_dtype_of(const xt_tensor *t) {
    return guard<xt_dtype>(__func__, (xt_dtype)-1,
                           [&] { return from_scalar_type(arg(t, "t").scalar_type()); });
}

xt_device xt_device_of(const xt_tensor *t) {
    return guard<xt_device>(__func__, XT_DEVICE_INVALID,
                            [&] { return from_device(arg(t, "t").device()); });
}

int xt_is_contiguous(const xt_tensor *t) {
    return guard<int>(__func__, -1, [&] { return arg(t, "t").is_contiguous() ? 1 : 0; });
}

int xt_is_channels_last(const xt_tensor *t) {
    return guard<int>(__func__, -1, [&] {
        const at::Tensor &x = arg(t, "t");
        return x.dim() == 4 && x.is_contiguous(at::MemoryFormat::ChannelsLast) ? 1 : 0;
    });
}

int xt_all_finite(const xt_tensor *t) {
    return guard<int>(__func__, -1, [&] {
        const at::Tensor &x = arg(t, "t");
        if (!x.is_floating_point()) return 1;
        return at::isfinite(x.detach()).all().item<bool>() ? 1 : 0;
    });
}

/* ---- conversion -------------------------------------------------------------------------- */

xt_tensor *xt_to_dtype(const xt_tensor *t, xt_dtype dt) {
    return XT_TENSOR_OP(arg(t, "t").to(scalar_type(dt)));
}

xt_tensor *xt_to_device(const xt_tensor *t, xt_device dev, int non_blocking) {
    return XT_TENSOR_OP(arg(t, "t").to(device(dev), arg(t, "t").scalar_type(), non_blocking != 0));
}

xt_tensor *xt_contiguous(const xt_tensor *t) { return XT_TENSOR_OP(arg(t, "t").contiguous()); }

xt_tensor *xt_channels_last(const xt_tensor *t) {
    return guard_tensor(__func__, [&] {
        const at::Tensor &x = arg(t, "t");
        if (x.dim() != 4)
            throw std::invalid_argument("channels_last needs a 4-d tensor, got " +
                                        std::to_string(x.dim()) + " dims");
        return x.contiguous(at::MemoryFormat::ChannelsLast);
    });
}

xt_tensor *xt_upload_pinned(const xt_tensor *t, xt_device dev) {
    return guard_tensor(__func__, [&] {
        const at::Tensor &x = arg(t, "t");
        at::Device d = device(dev);
#if XRAYCLS_HAVE_CUDA
        /* page-locked staging (libtorch's caching host allocator reuses it batch after batch), so
         * the copy is a DMA the host need not wait for; it stays alive with the returned tensor */
        if (x.is_cpu() && d.is_cuda()) return x.pin_memory().to(d, x.scalar_type(), /*non_blocking=*/true);
#endif
        return x.to(d, x.scalar_type());
    });
}

xt_tensor *xt_clone(const xt_tensor *t) { return XT_TENSOR_OP(arg(t, "t").clone()); }

xt_tensor *xt_detach(const xt_tensor *t) { return XT_TENSOR_OP(arg(t, "t").detach()); }

/* ---- autograd ---------------------------------------------------------------------------- */

int xt_set_requires_grad(xt_tensor *t, int on) {
    return guard_int(__func__, [&] {
        arg(t, "t");
        t->t.set_requires_grad(on != 0);
    });
}

int xt_requires_grad(const xt_tensor *t) {
    return guard<int>(__func__, -1, [&] { return arg(t, "t").requires_grad() ? 1 : 0; });
}

int xt_backward(const xt_tensor *loss) {
    return guard_int(__func__, [&] {
        const at::Tensor &l = arg(loss, "loss");
        if (l.numel() != 1)
            throw std::invalid_argument("backward needs a one-element loss, got " +
                                        std::to_string(l.numel()) + " elements");
        l.backward();
    });
}

int xt_grad(const xt_tensor *t, xt_tensor **out) {
    if (out) *out = nullptr;
    return guard_int(__func__, [&] {
        if (!out) throw std::invalid_argument("out is NULL");
        const at::Tensor &g = arg(t, "t").grad();
        if (g.defined()) *out = wrap(g);
    });
}

int xt_grad_of(const xt_tensor *y, const xt_tensor *x, xt_tensor **out) {
    if (out) *out = nullptr;
    return guard_int(__func__, [&] {
        if (!out) throw std::invalid_argument("out is NULL");
        const at::Tensor &yt = arg(y, "y");
        if (yt.numel() != 1)
            throw std::invalid_argument("grad_of needs a one-element y, got " +
                                        std::to_string(yt.numel()) + " elements");
        // Only x's gradient is computed: parameters' .grad are left alone.
        auto g = torch::autograd::grad({yt}, {arg(x, "x")}, /*grad_outputs=*/{},
                                       /*retain_graph=*/false, /*create_graph=*/false,
                                       /*allow_unused=*/false);
        *out = wrap(g.at(0));
    });
}

int xt_zero_grad(xt_tensor *t) {
    return guard_int(__func__, [&] {
        arg(t, "t");
        t->t.mutable_grad() = at::Tensor();
    });
}

int xt_grad_enabled_set(int enabled) {
    int prev = at::GradMode::is_enabled() ? 1 : 0;
    at::GradMode::set_enabled(enabled != 0);
    return prev;
}

int xt_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }

/* ---- randomness -------------------------------------------------------------------------- */

void xt_manual_seed(uint64_t seed) {
    guard_int(__func__, [&] { at::manual_seed(seed); });
}

xt_tensor *xt_rng_state_get(xt_device dev) {
    return guard<xt_tensor *>(__func__, nullptr, [&] {
        at::Generator gen = at::globalContext().defaultGenerator(device(dev));
        std::lock_guard<std::mutex> lock(gen.mutex());
        return wrap_owned(gen.get_state());
    });
}

int xt_rng_state_set(xt_device dev, const xt_tensor *state) {
    return guard_int(__func__, [&] {
        const at::Tensor &s = arg(state, "state");
        if (s.scalar_type() != at::kByte || !s.is_cpu())
            throw std::invalid_argument("a generator state is a CPU uint8 tensor");
        at::Generator gen = at::globalContext().defaultGenerator(device(dev));
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(s.contiguous());
    });
}

/* ---- performance settings ---------------------------------------------------------------- */

int xt_autocast_set(xt_device dev, int enabled, xt_dtype dt) {
    return guard_int(__func__, [&] {
        at::Device d = device(dev);
        at::ScalarType st = scalar_type(dt);
        if (st != at::kBFloat16 && st != at::kHalf)
            throw std::invalid_argument(std::string("autocast runs in bfloat16 or float16, not ") +
                                        xt_dtype_name(dt));
        if (d.is_cpu() && st == at::kHalf)
            throw std::invalid_argument("autocast on the CPU supports bfloat16 only");
        /* Casts of parameters are not cached: a cache would outlive the optimizer's in-place
         * updates when autocast stays on across steps. */
        at::autocast::set_autocast_cache_enabled(false);
        at::autocast::clear_cache();
#if XT_TORCH_AT_LEAST(2, 4)
        at::autocast::set_autocast_dtype(d.type(), st);
        at::autocast::set_autocast_enabled(d.type(), enabled != 0);
#else
        if (d.is_cpu()) {
            at::autocast::set_autocast_cpu_dtype(st);
            at::autocast::set_cpu_enabled(enabled != 0);
        } else {
            at::autocast::set_autocast_gpu_dtype(st);
            at::autocast::set_enabled(enabled != 0);
        }
#endif
    });
}

void xt_set_cudnn_benchmark(int on) {
    guard_int(__func__, [&] { at::globalContext().setBenchmarkCuDNN(on != 0); });
}

void xt_set_tf32(int on) {
    guard_int(__func__, [&] {
        at::globalContext().setAllowTF32CuBLAS(on != 0);
        at::globalContext().setAllowTF32CuDNN(on != 0);
    });
}

int64_t xt_cuda_peak_memory(xt_device dev) {
    return guard<int64_t>(__func__, 0, [&]() -> int64_t {
        at::Device d = device(dev);
#if XRAYCLS_HAVE_CUDA
        if (d.is_cuda()) {
            auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(d.index());
            return stats.allocated_bytes[0].peak; /* [0]: the aggregate over pool types */
        }
#else
        (void)d;
#endif
        return 0;
    });
}

void xt_cuda_reset_peak_memory(xt_device dev) {
    guard_int(__func__, [&] {
        at::Device d = device(dev);
#if XRAYCLS_HAVE_CUDA
        if (d.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(d.index());
#else
        (void)d;
#endif
    });
}

} /* extern "C" */
