/* xraycls/cam.h — why the model said so: Grad-CAM and Grad-CAM++ heat maps of ResNet and
 * DenseNet models, and writing them next to the radiograph the model saw.
 *
 * What it is: for a batch of normalised images, the class-activation map of one class on one
 * layer's output A (N, C, h, w) — by default the last convolutional block, xc_model_cam_layer_
 * default() — from the gradient G of that class's logit with respect to A:
 *   Grad-CAM    w_k = mean_ij G_kij
 *   Grad-CAM++  w_k = Σ_ij relu(G_kij) a_kij,  a_kij = G² / (2 G² + (Σ_ij A_kij) G³ + 1e-6),
 *               0 where G = 0 (the closed form of Chattopadhyay et al. with exp(score), as
 *               pytorch-grad-cam computes it)
 *   map = relu(Σ_k w_k A_k)  (h, w), and map_input: map resized to the input side bilinearly
 *   (torch's interpolate, align_corners=False). Maps are not normalised; the overlay scales its
 *   copy by the map's maximum. The cost is the forward pass plus one backward pass from the
 *   logits to the layer (nothing before it records gradients: xc_model_forward_tap).
 * What it is not: choosing files or classes (the commands) or the forward pass (xraycls/nn.h).
 *
 * Failure: -1 with xc_error() naming the layer, class or file.
 */
#ifndef XRAYCLS_CAM_H
#define XRAYCLS_CAM_H

#include <stdint.h>

#include "xraycls/dataset.h"
#include "xraycls/error.h"
#include "xraycls/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_model xc_model;

typedef enum { XC_CAM_GRADCAM = 0, XC_CAM_GRADCAM_PP = 1 } xc_cam_method;

typedef struct {
    const char *layer;    /* torchvision module name; NULL: xc_model_cam_layer_default */
    xc_cam_method method; /* XC_CAM_GRADCAM */
    int class_index;      /* the class explained; -1: each image's most probable class */
} xc_cam_opts;

xc_cam_opts xc_cam_default(void);
/* "gradcam" or "gradcam++"; -1 with a message otherwise. */
int xc_cam_method_parse(const char *s, xc_cam_method *out);
/* "gradcam" / "gradcam++". Static. */
const char *xc_cam_method_name(xc_cam_method m);

/* The maps of a batch. Arrays malloc'd, owned by the batch (xc_cam_batch_free). */
typedef struct {
    int n, k;          /* images, classes */
    int h, w;          /* the layer's spatial size */
    int size_h, size_w;/* the input's */
    int *class_index;  /* (n) the class each map explains */
    float *probs;      /* (n, k) the head's output (softmax or sigmoid) */
    float *map;        /* (n, h, w) */
    float *map_input;  /* (n, size_h, size_w) */
} xc_cam_batch;

/* x: (n, 3, H, W) float32 normalised, on the model's device. sigmoid: 1 for a sigmoid head
 * (probs are then sigmoids; the map explains the class's logit either way). Puts the model in
 * eval mode. Fills *out (zeroed first; free it with xc_cam_batch_free, also after a failure).
 * Runs in its own arena. */
int xc_cam_compute(xc_model *m, const xt_tensor *x, const xc_cam_opts *o, int sigmoid,
                   xc_cam_batch *out);
void xc_cam_batch_free(xc_cam_batch *b); /* accepts NULL and a zeroed batch */

/* Pearson correlation of two float arrays of n values (NaN when either is constant). For the
 * golden tests and the benchmark's check. */
double xc_cam_pearson(const float *a, const double *b, int64_t n);

/* Writes map i of b as two files (atomically), `base` being a path without extension:
 *   <base>.cam.safetensors  map (h, w) and map_input (H, W) float32; metadata xraycls.cam.class,
 *                           .class_index, .layer, .method, .prob
 *   <base>.png              the overlay: the image as the model saw it (image: (channels, H, W)
 *                           uint8 after resizing, before normalisation; 3 channels are averaged)
 *                           blended half and half with a jet colour map of map_input / its max.
 * class_name names the class explained; layer the layer (NULL: "default"). */
int xc_cam_write(const char *base, const xc_cam_batch *b, int i, const uint8_t *image, int channels,
                 const char *class_name, const char *layer, xc_cam_method method);

/* `eval --cam-worst K`: for each true class c, the K samples of class c that the model got
 * wrong with the highest probability for the (wrong) class it chose, explained for that class
 * (o->class_index is ignored; o->layer and o->method apply). Writes, with xc_cam_write,
 *   <dir>/<true class>/<rank>-sample<i>-as-<predicted class>{.png,.cam.safetensors}
 * rank 1 the most confident error. probs (N, K) are the split's scores (xc_predict_dataset_tta);
 * norm: the model's input normalisation (xc_predict_normalize). sigmoid as in xc_cam_compute (the label is then the argmax too). *written (may be NULL)
 * receives the number of samples explained. Class folders are made only when they get a file. */
int xc_cam_worst(xc_model *m, xc_dataset *d, const float *probs, const char *const *class_names,
                 const xc_normalize *norm, int k_worst, const char *dir, const xc_cam_opts *o, int sigmoid,
                 int64_t *written);

#ifdef __cplusplus
}
#endif
#endif
