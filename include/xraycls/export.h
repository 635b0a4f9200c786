/* xraycls/export.h — shipping a model: its weights as torchvision loads them, and the whole
 * network as an ONNX graph.
 *
 * What it is: xc_export_torchvision writes the state dict (every parameter and buffer, plain
 * torchvision 0.14 names and order: "conv1.weight", …, "fc.bias", "*.num_batches_tracked") as
 * safetensors or as a torch.save zip (.pth), so that
 *     m = torchvision.models.resnet50(num_classes=K); m.load_state_dict(sd, strict=True)
 * works. xc_export_onnx writes the eval-mode network as an ONNX model (see export_onnx.c for
 * the graph, opset and metadata). What it is not: loading models (xraycls/checkpoint.h) or
 * reading ONNX.
 *
 * Failure: -1 with xc_error() naming the path; nothing is left under the path (atomic writes).
 */
#ifndef XRAYCLS_EXPORT_H
#define XRAYCLS_EXPORT_H

#include "xraycls/checkpoint.h"
#include "xraycls/error.h"
#include "xraycls/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes the model's state to `path`: a torch.save zip when the name ends in .pth or .pt, else
 * safetensors (metadata "format": "pt", and the model file's xraycls.arch / classes / head /
 * preprocessing). Tensors are copied to the host in their dtype. */
int xc_export_torchvision(const xc_model *m, const xc_model_info *info, const char *path);

/* 1 when this build can write ONNX (built with protobuf-c, XRAYCLS_HAVE_PROTOBUF_C). */
int xc_export_onnx_available(void);

typedef struct {
    int opset;      /* ONNX opset of the default domain: 13..17 (17) */
    int fold_bn;    /* 1: BatchNormalization folded into the preceding Conv where one precedes
                     *    it (ResNet); 0: BatchNormalization nodes everywhere (1) */
} xc_onnx_opts;

xc_onnx_opts xc_onnx_default(void);

/* Writes the eval-mode network as an ONNX model: input "input" (N, 3, S, S) float32 with a
 * symbolic batch "N", output "probs" (N, K) (Softmax or Sigmoid over the head's logits, as the
 * model file's head says) and "logits"; metadata_props hold the preprocessing contract
 * (xraycls.preprocessing JSON, xraycls.classes JSON, xraycls.head, xraycls.arch). */
int xc_export_onnx(const xc_model *m, const xc_model_info *info, const char *path, const xc_onnx_opts *o);

#ifdef __cplusplus
}
#endif
#endif
