/* xraycls/weights.h — reading the tensors of `torch.save` files (.pth, .pt, .pth.tar) in C,
 * without Python and without executing anything.
 *
 * Two containers are understood (torch/serialization.py is the reference):
 *   zip     torch >= 1.6: an uncompressed zip archive, entries under one top folder:
 *           `<top>/data.pkl` (the pickle), `<top>/data/<key>` (raw storage bytes),
 *           `<top>/version`, optionally `<top>/byteorder` ("little" only). Zip64 records and
 *           zip64 extra fields are read; encrypted entries are refused, and compressed ones
 *           when they are needed (other entries, a TorchScript archive's code, are ignored).
 *           The CRC-32 of every stored entry is verified.
 *   legacy  torch < 1.6 and `_use_new_zipfile_serialization=False`: pickled magic number,
 *           protocol version 1001, sys_info (little-endian only), the object pickle, the sorted
 *           storage key list, then per key an 8-byte little-endian element count and the raw
 *           bytes. Storage views (`view_metadata`) are resolved. Nothing may follow the data.
 *
 * The pickles are run by a restricted virtual machine that only builds data: dicts, lists,
 * tuples, strings, numbers, storages and tensors. It accepts the binary opcodes of protocols
 * 2..5 that torch.save emits and exactly these globals:
 *   collections.OrderedDict                       (called with () or with a list of pairs)
 *   torch._utils._rebuild_tensor                  (storage, offset, size, stride): old files
 *   torch._utils._rebuild_tensor_v2               (storage, offset, size, stride, requires_grad,
 *                                                  backward_hooks[, metadata])
 *   torch._utils._rebuild_parameter               (tensor, requires_grad, backward_hooks)
 *   torch._utils._rebuild_parameter_with_state    (tensor, requires_grad, backward_hooks, state)
 *   torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage, the same under
 *   torch.cuda (0.x-era GPU checkpoints), and torch.UntypedStorage (bytes): storage type tags
 *   inside persistent ids only, never called.
 * Any other global (os.system, builtins.eval, posix.system, a pickled nn.Module class, …) makes
 * the open fail with "refusing to load 'x.pth': it calls os.system, which a weights file never
 * needs"; nothing is ever called. Protocol-0 text opcodes, INST/OBJ, extensions and
 * NEWOBJ_EX are refused likewise ("unsupported pickle opcode").
 *
 * Everything is bounds-checked against the buffer: string and storage lengths, the memo, the
 * stack (at most XC_TORCHFILE_MAX_STACK values), ranks (at most XC_ST_MAX_DIMS), and every
 * tensor view: storage_offset + sum((shape[i] - 1) * stride[i]) must lie inside its storage,
 * computed without overflow. Malformed input gives -1 / NULL with a message, never a crash
 * (tests/fuzz/fuzz_torchfile.c is the libFuzzer target).
 *
 * Which tensors are returned: those of the state dict, in its order. The state dict is
 *   1. the top-level object when it is a dict whose values are all tensors (string keys), else
 *   2. the value of the first of "state_dict", "model_state_dict", "model", "net" in a top-level
 *      dict, when it is such a dict (other keys — epoch, optimizer, best_loss, … — ignored), else
 *   3. the only value of the top-level dict that is such a dict.
 * Otherwise the open fails naming what the top level holds. Tensors elsewhere (optimizer
 * moments) are parsed and checked but not returned.
 *
 * Failure: NULL / -1 with the message in xc_error(), naming the file and what is wrong:
 * "cannot read 'x.pth': data.pkl: truncated pickle at byte 812".
 */
#ifndef XRAYCLS_WEIGHTS_H
#define XRAYCLS_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/safetensors.h" /* xc_dtype, XC_ST_MAX_DIMS, xc_st_tensor */

#ifdef __cplusplus
extern "C" {
#endif

/* Caps on a pickle's stack, marks and memo, and on a file's storages, tensors and zip entries. */
#define XC_TORCHFILE_MAX_STACK (1 << 20)
#define XC_WEIGHTS_NAME_MAX 1024         /* longest tensor name accepted, in bytes */

typedef enum { XC_TORCHFILE_ZIP = 1, XC_TORCHFILE_LEGACY = 2 } xc_torchfile_format;

/* One tensor of the state dict: a strided view of a storage, exactly as torch keeps it. */
typedef struct {
    const char *name;      /* the key as stored ("module.densenet121.features.conv0.weight") */
    const char *norm_name; /* xc_weights_normalize_name(name): torchvision's spelling */
    xc_dtype dtype;
    int ndim;                          /* 0 for a scalar (num_batches_tracked) */
    int64_t shape[XC_ST_MAX_DIMS];
    int64_t strides[XC_ST_MAX_DIMS];   /* in elements, >= 0 */
    int64_t numel;                     /* product of shape (1 when ndim == 0) */
    int contiguous;                    /* 1 when row-major dense (size-1 dims' strides ignored) */
    /* Element (0, …, 0): storage base + storage_offset. Points into the file's map (or the
     * caller's buffer); may be unaligned; valid until xc_torchfile_close. For a contiguous
     * tensor the numel × element-size bytes from here are its values in row-major order. */
    const void *data;
    const char *storage_key; /* tensors with equal keys share memory (views, transposes) */
} xc_torch_tensor;

typedef struct xc_torchfile xc_torchfile;

/* Opens a torch.save file (memory-mapped, read-only) and finds its state dict. The result
 * owns the map; free with xc_torchfile_close. */
xc_torchfile *xc_torchfile_open(const char *path);
/* The same from bytes already in memory (borrowed: buf must outlive the result); `what` names
 * it in messages. The entry point for fuzzing and tests. */
xc_torchfile *xc_torchfile_parse(const void *buf, size_t len, const char *what);
void xc_torchfile_close(xc_torchfile *f); /* accepts NULL */

/* The path (or `what`) given at open. */
const char *xc_torchfile_path(const xc_torchfile *f);
xc_torchfile_format xc_torchfile_format_of(const xc_torchfile *f);
/* The top-level key the state dict was found under ("state_dict", …), "" when the top level is
 * the state dict itself. */
const char *xc_torchfile_state_dict_key(const xc_torchfile *f);

/* State-dict tensors in the dict's order. Borrowed, valid until close. */
int xc_torchfile_count(const xc_torchfile *f);
const xc_torch_tensor *xc_torchfile_at(const xc_torchfile *f, int i); /* NULL if out of range */
/* By stored name / by normalized name; NULL (no message) when absent. Normalized names are
 * unique: a file where two names normalize alike fails to open. */
const xc_torch_tensor *xc_torchfile_find(const xc_torchfile *f, const char *name);
const xc_torch_tensor *xc_torchfile_find_norm(const xc_torchfile *f, const char *norm_name);

/* Copies t into out as contiguous row-major float32 (n must equal t->numel): F16, BF16, F64
 * and the integer and bool types convert as torch's .float() does. -1 naming the tensor when
 * n differs. */
// out: (numel) float32
int xc_torchfile_copy_f32(const xc_torch_tensor *t, float *out, size_t n);
/* Copies t into out as contiguous row-major values of its own dtype (nbytes must equal
 * numel × element size). */
int xc_torchfile_copy(const xc_torch_tensor *t, void *out, size_t nbytes);

/* All state-dict tensors as contiguous xc_st_tensor, ready for xc_model_load_named
 * (xraycls/nn.h): names are the normalized ones when `normalized` is 1, else the stored ones;
 * data points into the map where the tensor is already contiguous, else into a copy owned by
 * f. The array is owned by f and valid until close (a second call may return the same
 * array). -1 when a broadcast (stride-0) view would copy out to more than 64 times the file's
 * size. */
int xc_torchfile_st_tensors(xc_torchfile *f, int normalized, const xc_st_tensor **out, int *n);

/* Rewrites a stored state-dict name into torchvision 0.14's current spelling, into out (cap
 * bytes, NUL-terminated). Returns the length written, or -1 (message names the input) when
 * out is too small. Rules, in order:
 *   1. every leading "module." (DataParallel, possibly nested) is removed;
 *   2. one leading wrapper named after a torchvision architecture is removed: "densenet121.",
 *      "densenet161.", "densenet169.", "densenet201.", "resnet18.", "resnet34.", "resnet50.",
 *      "resnet101.", "resnet152." (CheXNet's "module.densenet121." wrapper);
 *   3. old DenseNet layer names lose their inner dot, as torchvision's own loader does:
 *      "denselayer<k>.norm.1." → "denselayer<k>.norm1.", likewise relu.1, conv.1, norm.2,
 *      relu.2, conv.2, when followed by weight, bias, running_mean, running_var or
 *      num_batches_tracked.
 * Anything else is left alone: CheXNet's head stays "classifier.0.weight" (torchvision's is
 * "classifier.weight") so that an importer can tell a Linear+Sigmoid head apart. */
int xc_weights_normalize_name(const char *in, char *out, size_t cap);

/* ---- writing ------------------------------------------------------------------------------ */

/* Writes tensors[0..n) (contiguous little-endian data; names as given, in order) as torch.save
 * writes a state dict — the zip format of torch >= 1.6, an OrderedDict of CPU tensors that do
 * not require grad — atomically to `path` (built in memory first: about the tensors' size).
 * Every xc_dtype but U16-like ones has a torch storage. -1 naming the path on failure, or when
 * the file would exceed 4 GiB (no zip64 records are written). */
int xc_torchsave_write(const char *path, const xc_st_tensor *tensors, int n);

#ifdef __cplusplus
}
#endif
#endif
