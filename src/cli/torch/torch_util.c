/* torch_util.c — what the commands over libtorch share: sizing libtorch's CPU thread pool
 * (every usable CPU unless told otherwise, printed once) and putting a loaded model in its
 * inference form (layout, batch norm folded), which test-time augmentation a command
 * applies, and the model file's calibration it applies. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xraycls/checkpoint.h"
#include "xraycls/nn.h"
#include "xraycls/shim.h"
#include "xraycls/sysinfo.h"

int cli_torch_threads(const char *cmd, int option, int quiet) {
    const char *from = NULL;
    int n = xc_threads_resolve(option, 0, &from);
    if (n < 0) return -1;
    xt_set_num_threads(n);
    if (!quiet) fprintf(stderr, "%s: threads: %d (%s)\n", cmd, n, from);
    return n;
}

int cli_layout_parse(const char *s, int *out) {
    if (!strcmp(s, "auto")) *out = CLI_LAYOUT_AUTO;
    else if (!strcmp(s, "nchw")) *out = CLI_LAYOUT_NCHW;
    else if (!strcmp(s, "channels_last")) *out = CLI_LAYOUT_CHANNELS_LAST;
    else return xc_errorf("--layout must be nchw, channels_last or auto, got '%s'", s);
    return 0;
}

int cli_inference_form(xc_model *m, int layout, int fold) {
    /* auto: channels_last on the CPU, where oneDNN's convolutions run faster in it for every
     * architecture measured (docs/BENCHMARKS.md); NCHW on CUDA, where cuDNN's float32
     * convolutions gain nothing from it. */
    int cl = layout == CLI_LAYOUT_CHANNELS_LAST || (layout == CLI_LAYOUT_AUTO && xc_model_device(m) == XT_CPU);
    if (xc_model_set_channels_last(m, cl) < 0) return -1;
    return xc_model_fold_bn(m, fold);
}

int cli_tta_choose(const char *cmd, int option, int model_default, const char **source) {
    xc_tta t = option >= 0 ? (xc_tta)option : (xc_tta)model_default;
    const char *src = option >= 0 ? "option" : model_default != XC_TTA_NONE ? "model file" : "default";
    if (source) *source = src;
    const char *why = option >= 0 ? "--tta" : model_default != XC_TTA_NONE ? "the model file's default; --tta none turns it off"
                                                                             : "neither --tta nor the model file names one";
    if (t == XC_TTA_TENCROP)
        fprintf(stderr, "%s: test-time augmentation: tencrop, the mean of 10 views (%s)\n", cmd, why);
    else if (t == XC_TTA_FLIP)
        fprintf(stderr, "%s: test-time augmentation: flip, the mean of the image and its mirror (%s)\n", cmd, why);
    else fprintf(stderr, "%s: test-time augmentation: none (%s)\n", cmd, why);
    return (int)t;
}

int cli_calibration_load(const char *cmd, const char *path, const char *head, const char *tta, xc_calibration *c,
                         char *note, size_t cap) {
    if (xc_calibration_read(path, c) < 0) return -1;
    if (!c->present) return 0;
    if (strcmp(head, "softmax") != 0)
        return xc_errorf("'%s' has a %s head and a temperature: temperature scaling is for softmax heads", path, head);
    xc_calibration_check_tta(c, tta, cmd);
    char buf[1300];
    if (!note) note = buf, cap = sizeof buf;
    fprintf(stderr, "%s: probabilities calibrated by the model file's %s\n", cmd, xc_calibration_note(c, note, cap));
    return 0;
}
