/* cmd_train.c — `xraycls train`: reads the config, installs the stop signals and runs the
 * training loop (xraycls/train.h); prints the epochs and says how to resume. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "xraycls/config.h"
#include "xraycls/fs.h"
#include "xraycls/train.h"

static const char usage[] =
    "usage: xraycls train --config FILE [--set key=value]... [--overwrite] [--threads T]\n"
    "       xraycls train --resume RUN_DIR [--config FILE] [--set train.epochs=N]...\n"
    "\n"
    "Trains a classifier on a prepared dataset and writes runs/<name>/: config.json,\n"
    "metrics.jsonl, metrics.csv, train.log, last.safetensors (every epoch), best.safetensors\n"
    "(best epoch by train.best_metric), accuracy.png / loss.png and tb/ (TensorBoard event\n"
    "files: scalars, confusion matrices, a batch of augmented images, the config; view with\n"
    "`tensorboard --logdir runs/`; set train.tensorboard false for none).\n"
    "\n"
    "  --config FILE      the training config (JSON; see configs/ and include/xraycls/config.h)\n"
    "  --set KEY=VALUE    override one key, e.g. --set train.epochs=3 --set optim.lr=1e-4\n"
    "                     (VALUE is JSON, else taken as a string); repeatable\n"
    "  --resume RUN_DIR   continue a stopped run exactly from RUN_DIR/last.safetensors, with\n"
    "                     RUN_DIR/config.json unless --config is given; raise train.epochs to\n"
    "                     extend a finished run\n"
    "  --overwrite        replace an existing run: its files, tb/ and evaluation folders\n"
    "  --threads T        libtorch's CPU threads (default: OMP_NUM_THREADS, else train.threads,\n"
    "                     else every usable CPU); train.log records the number and its source\n"
    "  -h, --help         this help\n"
    "\n"
    "Ctrl-C (SIGINT) or SIGTERM finishes the current step, writes last.safetensors and exits\n"
    "(130 / 143); a second signal exits at once, leaving the last checkpoint intact.\n"
    "Example (the demo): xraycls prepare synthetic -o data/demo && xraycls train --config "
    "configs/demo.json\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
    if (stop_flag) {
        static const char msg[] = "\nxraycls: second signal: exiting now (the last checkpoint is intact)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    stop_flag = sig;
    static const char msg[] = "\nxraycls: stopping after this step (signal again to exit at once)\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
}

static void print_log(void *ud, const char *line) {
    int tty = *(const int *)ud;
    /* On a terminal, clear the progress bar's line first; the bar redraws itself. */
    fprintf(stderr, "%s%s\n", tty ? "\r\033[K" : "", line);
}

static void print_epoch(void *ud, const xc_epoch_result *e) {
    (void)ud;
    printf("epoch %d/%d  train loss %.4f acc %.4f", e->epoch, e->epochs, e->train_loss, e->train_acc);
    if (e->val_acc == e->val_acc) {
        printf("  val loss %.4f acc %.4f bal %.4f", e->val_loss, e->val_acc, e->val_balanced_acc);
        if (isfinite(e->val_auroc)) printf(" auroc %.4f", e->val_auroc);
        if (isfinite(e->val_macro_f1)) printf(" f1 %.4f", e->val_macro_f1);
    }
    printf("  lr %.3g  %.1fs%s\n", e->lr, e->seconds, e->improved ? "  *best" : "");
    fflush(stdout);
}

static const xc_opt opts[] = {{"config", 0, XC_OPT_VALUE},
                              {"set", 0, XC_OPT_VALUE | XC_OPT_REPEAT},
                              {"resume", 0, XC_OPT_VALUE},
                              {"overwrite", 0, 0},
                              {"threads", 0, XC_OPT_VALUE},
                              {0}};
enum { O_CONFIG, O_SET, O_RESUME, O_OVERWRITE, O_THREADS };

int cmd_train(int argc, char **argv) {
    const char *config = NULL, *resume = NULL;
    int overwrite = 0, nsets = 0;
    long long threads = 0;
    const char **sets = calloc((size_t)argc, sizeof *sets);
    if (!sets) return cli_fail("out of memory");
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        int rc = -1;
        switch (k) {
        case O_CONFIG: config = p.value; break;
        case O_SET: sets[nsets++] = p.value; break;
        case O_RESUME: resume = p.value; break;
        case O_OVERWRITE: overwrite = 1; break;
        case O_THREADS:
            if (xc_opt_ll(&p, 1, 1024, &threads) < 0) rc = cli_opt_error("train", usage);
            break;
        case XC_OPT_HELP: rc = cli_help(usage); break;
        case XC_OPT_ARG: rc = cli_usage_error("train", usage, "unexpected argument '%s'", p.value); break;
        default: rc = cli_opt_error("train", usage);
        }
        if (rc >= 0) {
            free(sets);
            return rc;
        }
    }
    if (!config && !resume) {
        free(sets);
        return cli_usage_error("train", usage, "--config FILE is required");
    }
    if (resume && overwrite) {
        free(sets);
        return cli_usage_error("train", usage, "--resume and --overwrite exclude each other");
    }
    char *stored = NULL;
    if (!config) {
        stored = xc_path_join(resume, "config.json");
        if (!stored) {
            free(sets);
            return cli_fail(NULL);
        }
        if (!xc_is_file(stored)) {
            int rc = cli_fail("cannot resume '%s': it holds no config.json (not a run folder?)", resume);
            free(stored);
            free(sets);
            return rc;
        }
        config = stored;
    }
    xc_config c;
    int rc = xc_config_load(&c, config, sets, nsets);
    free(sets);
    if (rc < 0) {
        free(stored);
        return cli_fail(NULL);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    int tty = cli_is_tty();
    xc_train_opts o = {0};
    o.resume = resume != NULL;
    o.overwrite = overwrite;
    o.threads = (int)threads;
    o.run_dir = resume;
    o.stop = &stop_flag;
    o.progress = tty;
    o.on_epoch = print_epoch;
    o.on_log = print_log;
    o.ud = &tty;
    xc_train_result res;
    rc = xc_train_run(&c, &o, &res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(stored);
    if (rc < 0) {
        cli_fail(NULL);
        cli_dataset_hint("train", c.data.path, "train");
        return XC_EXIT_FAIL;
    }
    if (res.outcome == XC_TRAIN_STOPPED) {
        if (res.rank == 0)
            fprintf(stderr, "xraycls: stopped after %d epochs and %lld steps; continue with: "
                            "xraycls train --resume '%s'\n", res.epochs_done,
                    (long long)res.global_step, res.run_dir);
        /* In data-parallel training a rank that got no signal stopped because another did. */
        if (!stop_flag) {
            fprintf(stderr, "xraycls: rank %d stopped because another rank was signalled\n", res.rank);
            return XC_EXIT_FAIL;
        }
        return 128 + (int)stop_flag;
    }
    if (res.rank != 0) return XC_EXIT_OK; /* rank 0 reports for the run */
    printf("trained %d epochs: %s/last.safetensors", res.epochs_done, res.run_dir);
    if (res.has_best) printf(", best epoch %d (%s %.4f): %s/best.safetensors", res.best_epoch,
                             xc_best_metric_name(c.train.best_metric), res.best_value, res.run_dir);
    printf("\n");
    return XC_EXIT_OK;
}
