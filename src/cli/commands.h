/* commands.h — every command of xraycls, listed once: its name, whether it needs libtorch, and
 * its one-line summary for `xraycls --help`.
 *
 * XC_COMMANDS(LOCAL, TORCH) expands LOCAL(name, summary) for a command linked into the
 * executable and TORCH(name, summary) for one of libxraycls_torch.so; main.c builds the dispatch
 * table from it and torch_entry.c the library's, so neither can miss a command. Each runs
 * cmd_<name>(argc, argv) of src/cli/cmd_<name>.c (src/cli/torch/ for the torch commands). */
#ifndef XRAYCLS_COMMANDS_H
#define XRAYCLS_COMMANDS_H

/* A local command that hands some of its work to libxraycls_torch.so is listed in XC_COMMANDS as
 * LOCAL and here as PART(name): the library then answers xraycls_torch_cmd("<name>", …) with
 * cmd_<name>_torch of src/cli/torch/cmd_<name>_torch.c, which the local command calls through
 * cli_torch_run only when it needs tensors. compare: two evaluations are compared without
 * libtorch; a model file is scored by the library (docs/ARCHITECTURE.md). */
#define XC_TORCH_PARTS(PART) PART(compare)

#define XC_COMMANDS(LOCAL, TORCH)                                                                    \
    LOCAL(info, "show the tensors and metadata of a safetensors file")                               \
    LOCAL(prepare, "decode images once into a prepared dataset (CoronaHack, folders, CSV)")          \
    TORCH(train, "train a classifier from a config (resumable)")                                     \
    TORCH(eval, "score a split of a prepared dataset: metrics with bootstrap intervals")             \
    TORCH(predict, "class probabilities of image files and folders (CSV or JSON lines)")             \
    LOCAL(table, "the results table (Markdown, CSV) of evaluated runs")                              \
    LOCAL(compare, "paired comparison of two models on the same images (DeLong, McNemar)")           \
    LOCAL(merge, "join the outputs of predict --shard 1/N … N/N in input order")                     \
    LOCAL(figures, "(re)draw a run's or an evaluation's figures from its CSVs (PNG, SVG, PDF)")      \
    TORCH(calibrate, "fit a model's temperature on validation data into a new model file")          \
    TORCH(import, "pretrained weights (.pth, safetensors) as a model file for predict/eval")         \
    TORCH(export, "a model as torchvision weights (safetensors, .pth) or as ONNX")                   \
    TORCH(bench, "images/s of training and inference steps of an architecture")

#endif
