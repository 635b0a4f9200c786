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
    "  -o, --output OUT      the file to write (atomically)\n"
    "  --opset N             ONNX opset, 13..17 (17)\n"
    "  --no-fold-bn          keep BatchNormalization nodes (default: folded into the Conv\n"
    "                        before them, where there is one)\n"
    "  -h, --help            this help\n";

static const xc_opt opts[] = {{"format", 0, XC_OPT_VALUE}, {"output", 'o', XC_OPT_VALUE}, {"opset", 0, XC_OPT_VALUE},
                              {"no-fold-bn", 0, 0},         {0}};
enum { O_FORMAT, O_OUTPUT, O_OPSET, O_NO_FOLD_BN };

int cmd_export(int argc, char **argv) {
    const char *format = NULL, *model = NULL, *out = NULL;
    xc_onnx_opts oo = xc_onnx_default();
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        long long n;
        switch (k) {
        case XC_OPT_HELP: return cli_help(usage);
        case XC_OPT_ERROR: return cli_opt_error("export", usage);
        case XC_OPT_ARG:
            if (model) return cli_usage_error("export", usage, "one MODEL only ('%s' and '%s' given)", model, p.value);
            model = p.value;
            break;
        case O_FORMAT: format = p.value; break;
        case O_OUTPUT: out = p.value; break;
        case O_OPSET:
            if (xc_opt_ll(&p, 13, 17, &n) < 0) return cli_opt_error("export", usage);
            oo.opset = (int)n;
            break;
        case O_NO_FOLD_BN: oo.fold_bn = 0; break;
        }
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
    if (!m) return cli_fail_model(model);
    int rc = !strcmp(format, "onnx") ? xc_export_onnx(m, &info, out, &oo) : xc_export_torchvision(m, &info, out);
    xc_model_free(m);
    if (rc < 0) return cli_fail(NULL);
    fprintf(stderr, "wrote %s (%s, %s, %d classes)\n", out, format, info.arch, info.num_classes);
    return XC_EXIT_OK;
}
