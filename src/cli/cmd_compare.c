/* cmd_compare.c — `xraycls compare A B`: the paired comparison of two models on the same images
 * (xraycls/compare.h), written into a new folder renamed into place when complete.
 *
 * Two evaluations (eval or run folders) are read back and compared here, without libtorch. A
 * command line naming a model file is checked here (--data is required) and handed whole to
 * libxraycls_torch.so (cli_torch_run: its cmd_compare_torch scores the model files as eval does
 * and joins the same comparison, compare_common.c). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compare_cli.h"
#include "xraycls/compare.h"

int cmd_compare(int argc, char **argv) {
    cli_compare_args a;
    int rc = cli_compare_parse(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.is_model[0] || a.is_model[1]) return cli_torch_run("compare", argc, argv);
    xc_eval_scores ea = {0}, eb = {0};
    if (xc_eval_scores_read(a.pos[0], a.split, a.dataset, &ea) < 0 || xc_eval_scores_read(a.pos[1], a.split, a.dataset, &eb) < 0)
        rc = cli_fail(NULL);
    else
        rc = cli_compare_finish(&a, &ea, &eb);
    xc_eval_scores_free(&ea);
    xc_eval_scores_free(&eb);
    return rc;
}
