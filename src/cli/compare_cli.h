/* compare_cli.h — what the two halves of `xraycls compare` share (compare_common.c, linked into
 * the executable and into libxraycls_torch.so): the options and the comparison from two sets of
 * scores onwards. cmd_compare.c (the executable) compares two evaluations without libtorch and
 * hands a command line naming a model file to the library, whose cmd_compare_torch
 * (src/cli/torch/cmd_compare_torch.c) scores the model files on --data's split with eval's
 * forward path. Not a public header. */
#ifndef XRAYCLS_COMPARE_CLI_H
#define XRAYCLS_COMPARE_CLI_H

#include "xraycls/compare.h"

extern const char cli_compare_usage[];

typedef struct {
    const char *pos[2];       /* A, B: eval folders, run folders or model files */
    int is_model[2];          /* 1: pos[j] is a file (a model file or checkpoint) */
    const char *out, *split, *dataset;
    int overwrite;
    long long bootstrap, seed;
    /* scoring model files (the torch half): NULL / 0 when not given */
    const char *data, *tta, *device, *layout;
    long long batch, threads;
    int scoring_given;        /* 1: one of --data, --tta, --batch, --device, --threads, --layout */
} cli_compare_args;

/* Parses compare's command line (argv[0] "compare") and checks what needs no libtorch: two
 * positions, the split's name, --data when a model file is named (else a usage error). Returns
 * -1 when the command may go on, else the exit code to return (help printed, or a usage error
 * printed: 2). */
int cli_compare_parse(int argc, char **argv, cli_compare_args *a);

/* The comparison of two scored sets (checked to be of the same images), written into the output
 * folder (-o, else compare-<A>-<B>) renamed into place when complete, and the Markdown table
 * printed. Returns the exit code. */
int cli_compare_finish(const cli_compare_args *a, const xc_eval_scores *ea, const xc_eval_scores *eb);

#endif
