/* cli.h — what the commands share: one `cmd_<name>(argc, argv)` per file (src/cli/cmd_*.c),
 * listed once in commands.h. Only commands print to the user and pick the exit code:
 * 0 success, 1 runtime error, 2 usage error. argv[0] is the command name.
 *
 * The commands that use libtorch (train, eval, predict, import, bench) live in
 * libxraycls_torch.so, which main.c loads with dlopen only when one of them runs; the rest are
 * linked into the executable, which does not link libtorch. */
#ifndef XRAYCLS_CLI_H
#define XRAYCLS_CLI_H

#include "xraycls/calibration.h"
#include "xraycls/error.h"
#include "xraycls/opt.h"
#include "xraycls/plot.h"

enum { XC_EXIT_OK = 0, XC_EXIT_FAIL = 1, XC_EXIT_USAGE = 2 };

/* In the executable. */
int cmd_info(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_table(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_figures(int argc, char **argv);
/* main.c: runs `name` in libxraycls_torch.so (loaded on first use: xraycls_torch_cmd), for the
 * torch commands and the parts of local ones (commands.h XC_TORCH_PARTS). The exit code; 1 when
 * the library cannot be loaded (said on stderr). */
int cli_torch_run(const char *name, int argc, char **argv);

/* In libxraycls_torch.so. */
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_calibrate(int argc, char **argv);
int cmd_compare_torch(int argc, char **argv); /* compare of model files (commands.h) */

/* In libxraycls_torch.so (torch_util.c): libtorch's CPU threads from `option` (> 0: --threads),
 * else OMP_NUM_THREADS, else every usable CPU (xc_threads_resolve), printed as
 * "<cmd>: threads: N (why)" on stderr unless quiet. Returns N, or -1 with a message. */
int cli_torch_threads(const char *cmd, int option, int quiet);
/* --layout: nchw, channels_last, or auto (channels_last on the CPU, NCHW on CUDA). */
enum { CLI_LAYOUT_AUTO = 0, CLI_LAYOUT_NCHW, CLI_LAYOUT_CHANNELS_LAST };
int cli_layout_parse(const char *s, int *out);
/* A loaded model's inference form: the layout, then batch norm folded (fold 1) or not. */
typedef struct xc_model xc_model;
int cli_inference_form(xc_model *m, int layout, int fold);
/* The test-time augmentation (xc_tta, xraycls/checkpoint.h) a command applies: `option` when
 * --tta was given (>= 0), else the model file's default (xraycls.preprocessing "tta"), else
 * none; said on stderr with where it came from ("eval: test-time augmentation: tencrop, ...
 * (the model file's default; --tta none turns it off)"). *source (may be NULL): "option",
 * "model file" or "default", as eval.json records it. */
int cli_tta_choose(const char *cmd, int option, int model_default, const char **source);
/* The calibration of model file `path` (xraycls/calibration.h) into *c, for a command scoring
 * it under test-time augmentation tta ("none", "flip", "tencrop"): a temperature on a head
 * other than softmax is refused, one fitted under another TTA warned about, and an applied one
 * said on stderr ("<cmd>: probabilities calibrated by the model file's …"; the note also into
 * note, when not NULL). 0 (c->present says whether there is one) or -1 with a message. */
int cli_calibration_load(const char *cmd, const char *path, const char *head, const char *tta, xc_calibration *c,
                         char *note, size_t cap);

/* The library's exports (src/cli/torch_entry.c), looked up by main.c with dlsym under these
 * names. CLI_TORCH_CMD runs the command `name` (argv[0] is the command name) and returns its exit
 * code; CLI_TORCH_VERSION prints the libtorch and CUDA lines of --version. */
#define CLI_TORCH_LIB "libxraycls_torch.so"
#define CLI_TORCH_CMD "xraycls_torch_cmd"
#define CLI_TORCH_VERSION "xraycls_torch_version"
typedef int cli_torch_cmd_fn(const char *name, int argc, char **argv);
typedef int cli_torch_version_fn(void);

/* Prints "xraycls: <message>" for a runtime failure and returns 1; without a format it prints
 * xc_error(). */
int cli_fail(const char *fmt, ...) XC_PRINTF(1, 2);
/* A usage error: prints "xraycls <cmd>: <message>", the synopsis (the usage text up to its first
 * blank line) and "Try 'xraycls <cmd> --help'." to stderr; returns 2. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) XC_PRINTF(3, 4);
/* cli_usage_error with xc_error() as the message (an xc_opt_next refusal). */
int cli_opt_error(const char *cmd, const char *usage);
/* Prints the whole help (usage) to stdout; returns 0 (1 if it cannot be written). */
int cli_help(const char *usage);
/* After a prepared dataset at `path` (split `split`, or NULL) could not be opened: when `path` is
 * a folder of images without dataset.json, prints a line saying to run `xraycls prepare folder`
 * first; when it is a prepared dataset without that split, prints the splits it has. Prints
 * nothing otherwise. */
void cli_dataset_hint(const char *cmd, const char *path, const char *split);
/* 1 when `path` is a torch.save file (zip or legacy pickle) rather than safetensors. */
int cli_is_pytorch_file(const char *path);
/* After a model file failed to load: for a PyTorch file, "xraycls: '<path>' is a PyTorch file
 * ... make one with `xraycls import ...`"; otherwise cli_fail(NULL). Returns 1. */
int cli_fail_model(const char *path);
/* The figures of the folder dir (known as final once renamed into place) in format fmt, drawn
 * beside their CSV files (xc_plot_dir) and listed on stderr as "<cmd>: figures: roc.png, …";
 * XC_PLOT_NONE draws nothing, and a build without cairo says once that they were skipped.
 * 0, or -1 with a message. */
int cli_figures(const char *cmd, const char *dir, const char *final, xc_plot_format fmt);
/* 1 if stderr is a terminal (progress bars are drawn only then). */
int cli_is_tty(void);

#endif
