/* internal.h — what every .cpp file of src/shim/ shares: the handle type behind xt_tensor, the
 * arena registration of op results, xt_dtype/xt_device conversions and the guard that turns
 * C++ exceptions into xc_errorf messages. Not a public header: only src/shim/ includes it.
 *
 * Writing an entry point (the pattern every shim file follows):
 *
 *   xt_tensor *xt_relu(const xt_tensor *x) {
 *       return XT_TENSOR_OP(at::relu(xtshim::arg(x, "x")));      // result goes to the arena
 *   }
 *   int xt_fill_(xt_tensor *t, double v) {
 *       return XT_INT_OP(xtshim::arg(t, "t").fill_(v));          // 0, or -1 with a message
 *   }
 *   int64_t xt_numel(const xt_tensor *t) {
 *       return xtshim::guard<int64_t>(__func__, -1, [&] { return xtshim::arg(t, "t").numel(); });
 *   }
 *
 * Inside the body anything may throw: c10::Error (reported with what_without_backtrace()),
 * std::exception, or anything else. The guard catches it, leaves "xt_relu: <why>" in
 * xc_error() and returns the failure value (NULL / -1). No exception leaves a guard.
 */
#ifndef XRAYCLS_SHIM_INTERNAL_H
#define XRAYCLS_SHIM_INTERNAL_H

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/version.h>

#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "xraycls/error.h"
#include "xraycls/shim.h"

#ifndef XRAYCLS_HAVE_CUDA
#define XRAYCLS_HAVE_CUDA 0 /* CMake defines it 0/1 from the libtorch found */
#endif

/* Version tests for API differences: XT_TORCH_AT_LEAST(2, 4). */
#define XT_TORCH_AT_LEAST(maj, min)                                                         \
    (TORCH_VERSION_MAJOR > (maj) || (TORCH_VERSION_MAJOR == (maj) && TORCH_VERSION_MINOR >= (min)))

/* A handle: one reference to a torch tensor. `arena` is the arena that owns the handle, or
 * NULL when the caller owns it (released with xt_free). */
struct xt_tensor {
    at::Tensor t;
    xt_arena *arena;
};

/* Owns handles until cleared. Handles are deleted in xt_arena_clear/xt_arena_free. */
struct xt_arena {
    std::vector<xt_tensor *> items;
};

namespace xtshim {

/* ---- handles ------------------------------------------------------------------------------ */

/* Wraps t into a new handle owned by this thread's current arena, or by the caller when no
 * arena is current. Throws on an undefined tensor (an op that produced nothing). */
xt_tensor *wrap(at::Tensor t);
/* Wraps t into a new handle owned by the caller, whatever arena is current. */
xt_tensor *wrap_owned(at::Tensor t);
/* This thread's current arena (NULL: none). */
xt_arena *current_arena();

/* Thrown for a NULL handle argument: almost always the result of an earlier call that failed,
 * whose message the guard then keeps (see report_null). */
struct null_argument : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

/* The tensor behind a handle argument; throws null_argument naming `name` when the handle is
 * NULL, std::invalid_argument when it holds no tensor. */
inline const at::Tensor &arg(const xt_tensor *h, const char *name) {
    if (!h) throw null_argument(std::string("tensor argument '") + name + "' is NULL");
    if (!h->t.defined())
        throw std::invalid_argument(std::string("tensor argument '") + name + "' is undefined");
    return h->t;
}
/* For optional tensor arguments (a bias, running stats): NULL gives "none". */
inline c10::optional<at::Tensor> opt_arg(const xt_tensor *h) {
    if (!h || !h->t.defined()) return c10::nullopt;
    return h->t;
}

/* ---- dtypes and devices ------------------------------------------------------------------- */

/* Throw std::invalid_argument for values outside the enums / an unsupported torch dtype. */
at::ScalarType scalar_type(xt_dtype dt);
xt_dtype from_scalar_type(at::ScalarType st);
/* XT_CPU → CPU; n >= 0 → cuda:n (throws when this build or machine has no CUDA device n). */
at::Device device(xt_device dev);
xt_device from_device(const at::Device &d);
/* Options with dtype and device. */
at::TensorOptions options(xt_dtype dt, xt_device dev);
/* A shape argument as an IntArrayRef view (checks ndim >= 0, shape != NULL when ndim > 0 and
 * every size >= -1; -1 is left to the op to accept or refuse). */
at::IntArrayRef shape_arg(int ndim, const int64_t *shape, const char *name);

/* ---- the guard ---------------------------------------------------------------------------- */

/* Leaves "<fn>: <what>" in xc_error(), folding a multi-line libtorch message into one line,
 * and records that a shim call failed on this thread. */
void report(const char *fn, const char *what);
/* A NULL handle argument: when an earlier shim call on this thread failed (its NULL result is
 * what arrives here), the message is that failure's, followed by "(and then <fn>: <what>)", so
 * the user reads libtorch's reason and not only "tensor argument is NULL" from the tenth call
 * of a chain; with no earlier failure, "<fn>: <what>". */
void report_null(const char *fn, const char *what);

/* Runs body(); on any exception reports it under `fn` and returns `fail`. */
template <typename R, typename F>
R guard(const char *fn, R fail, F &&body) noexcept {
    try {
        return body();
    } catch (const null_argument &e) {
        report_null(fn, e.what());
    } catch (const c10::Error &e) {
        report(fn, e.what_without_backtrace());
    } catch (const std::exception &e) {
        report(fn, e.what());
    } catch (...) {
        report(fn, "unknown C++ exception");
    }
    return fail;
}

/* body() returns an at::Tensor, wrapped into the current arena (or the caller's). */
template <typename F>
xt_tensor *guard_tensor(const char *fn, F &&body) noexcept {
    return guard<xt_tensor *>(fn, nullptr, [&] { return wrap(body()); });
}

/* body() returns nothing (or a value that is dropped); 0 on success, -1 on an exception. */
template <typename F>
int guard_int(const char *fn, F &&body) noexcept {
    return guard<int>(fn, -1, [&] {
        body();
        return 0;
    });
}

} // namespace xtshim

/* One-expression entry points; `expr` may use the arguments by reference. */
#define XT_TENSOR_OP(expr) ::xtshim::guard_tensor(__func__, [&]() -> at::Tensor { return (expr); })
#define XT_INT_OP(expr) ::xtshim::guard_int(__func__, [&]() { (void)(expr); })

#endif
