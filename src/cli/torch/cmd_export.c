/* cmd_export.c — `xraycls export`: a model file or checkpoint as torchvision weights
 * (safetensors or .pth) or as an ONNX model (xraycls/export.h). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "xraycls/checkpoint.h"
#include "xraycls/export.h"
#include "xraycls/nn.h"

static const char usage[] =
    "usage: xraycls export --format torchvision|onnx MODEL -o OUT [--opset N] [--no-fold-bn]\n"
    "\n"
    "Writes MODEL (a checkpoint or an imported model file) for use without xraycls:\n"
    "\n"
    "  --format torchvision  the state dict under torchvision's names, as safetensors (OUT ends\n"
    "                        in .safetensors) or a torch.save zip (OUT ends in .pth or .pt):\n"
    "                          m = torchvision.models.resnet50(num_classes=K)\n"
    "                          m.load_state_dict(torch.load(OUT), strict=True)\n"
    "  --format onnx         the eval-mode network as ONNX: input \"input\" (N, 3, S, S) float32\n"
    "                        normalised as the model file says, outputs \"probs\" (softmax or\n"
    "                        sigmoid) and \"logits\"; dynamic batch; the preprocessing contract\n"
    "                        in metadata_props (xraycls.preprocessing, xraycls.classes, ...)\n"
    "  -o OUT                the file to write (atomically)\n"
    "  --opset N             ONNX opset, 13..17 (17)\n"
    "  --no-fold-bn          keep BatchNormalization nodes (default: folded into the Conv\n"
    "                        before them, where there is one)\n";

int cmd_export(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return XC_EXIT_OK;
    }
    const char *format = NULL, *model = NULL, *out = NULL;
    xc_onnx_opts oo = xc_onnx_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-fold-bn")) {
            oo.fold_bn = 0;
            continue;
        }
        if (a[0] != '-') {
            if (model) return cli_usage_error("export", usage, "one MODEL only ('%s' and '%s' given)", model, a);
            model = a;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) return cli_usage_error("export", usage, "%s needs a value", a);
        if (!strcmp(a, "--format")) format = v;
        else if (!strcmp(a, "-o") || !strcmp(a, "--output")) out = v;
        else if (!strcmp(a, "--opset")) {
            long long n;
            if (cli_parse_ll(v, 13, 17, &n) < 0) return cli_usage_error("export", usage, "--opset '%s' is not in 13..17", v);
            oo.opset = (int)n;
        } else return cli_usage_error("export", usage, "unknown option '%s'", a);
    }
    if (!format) return cli_usage_error("export", usage, "--format is required");
    if (strcmp(format, "torchvision") && strcmp(format, "onnx"))
        return cli_usage_error("export", usage, "--format '%s' is neither torchvision nor onnx", format);
    if (!model) return cli_usage_error("export", usage, "no MODEL given");
    if (!out) return cli_usage_error("export", usage, "-o OUT is required");
    if (!strcmp(format, "onnx") && !xc_export_onnx_available())
        return cli_fail("xraycls was built without protobuf-c: ONNX export is unavailable (install "
                        "libprotobuf-c-dev and protobuf-c-compiler, then configure again)");
    xc_model_info info;
    xc_model *m = xc_checkpoint_load_model(model, XT_CPU, &info);
    if (!m) return cli_fail(NULL);
    int rc = !strcmp(format, "onnx") ? xc_export_onnx(m, &info, out, &oo) : xc_export_torchvision(m, &info, out);
    xc_model_free(m);
    if (rc < 0) return cli_fail(NULL);
    fprintf(stderr, "wrote %s (%s, %s, %d classes)\n", out, format, info.arch, info.num_classes);
    return XC_EXIT_OK;
}
