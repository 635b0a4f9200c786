/* export_internal.h — what the files of src/export/ share: the model's state on the host and
 * the metadata of the preprocessing contract. Not a public header. */
#ifndef XRAYCLS_EXPORT_INTERNAL_H
#define XRAYCLS_EXPORT_INTERNAL_H

#include "xraycls/checkpoint.h"
#include "xraycls/nn.h"
#include "xraycls/safetensors.h"

/* Every state entry of m, in order, copied to the host (contiguous, the entry's dtype; names
 * borrowed from the model). *n receives the count. Free with xc_export_state_free. NULL on
 * failure. */
xc_st_tensor *xc_export_state(const xc_model *m, int *n);
void xc_export_state_free(xc_st_tensor *t, int n);

/* Calls put(ud, key, value) for xraycls.arch, xraycls.classes (JSON), xraycls.num_classes,
 * xraycls.head and xraycls.preprocessing (JSON: size, channels, mean, std,
 * expand_gray_to_rgb, and "input": how the tensor fed to the model is made). 0 or the first
 * failure. */
typedef int (*xc_export_meta_fn)(void *ud, const char *key, const char *value);
int xc_export_meta(const xc_model_info *info, xc_export_meta_fn put, void *ud);

#endif
