// ops_data.cpp — shim ops used by batch augmentation (src/data/dataset.c).
#include "internal.h"

extern "C" {

xt_tensor *xt_sin(const xt_tensor *a) { return XT_TENSOR_OP(at::sin(xtshim::arg(a, "a"))); }
xt_tensor *xt_cos(const xt_tensor *a) { return XT_TENSOR_OP(at::cos(xtshim::arg(a, "a"))); }

}
