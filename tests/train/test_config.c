/* test_config.c — the training config: defaults, strictness (unknown keys with suggestions,
 * wrong types, bad enum values, out-of-range numbers — each naming the key path), --set
 * overrides, the resolved JSON round trip, and the weight-file lookup message. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "xraycls/config.h"
#include "xraycls/fs.h"
#include "xraycls/plot.h"

static int parse(xc_config *c, const char *text) { return xc_config_parse(c, text, "a.json", NULL, 0, "a"); }

/* Expects a failure whose message holds `want`. */
static void expect_error(const char *text, const char *want) {
    xc_config c;
    xc_error_clear();
    int rc = parse(&c, text);
    CHECK_MSG(rc == -1, "accepted: %s", text);
    CHECK_CONTAINS(xc_error(), want);
}

int main(void) {
    xc_config c;
    /* Defaults: the paper's. */
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}}") == 0);
    CHECK(!strcmp(c.data.path, "d"));
    CHECK(c.data.batch_size == 32);
    CHECK(c.data.sampler == XC_CFG_SAMPLER_WEIGHTED);
    CHECK(c.data.hflip == 0.5 && c.data.vflip == 0.5 && c.data.rotate == 0.3 && c.data.rotate_deg == 15);
    CHECK(!strcmp(c.model.arch, "resnet50") && !strcmp(c.model.weights, "imagenet"));
    CHECK(c.loss.type == XC_LOSS_CE && c.loss.gamma == 2.0 && c.loss.n_alpha == 0);
    CHECK(c.loss.class_weights == XC_CW_NONE);
    CHECK(c.optim.lr == 1e-3 && c.optim.beta1 == 0.9 && c.optim.beta2 == 0.999 && c.optim.eps == 1e-8);
    CHECK(c.schedule.type == XC_SCHED_STEP && c.schedule.step_size == 10 && c.schedule.gamma == 0.5);
    CHECK(c.train.epochs == 20 && c.train.seed == 0 && !strcmp(c.train.device, "auto"));
    CHECK(c.train.best_metric == XC_BEST_VAL_ACCURACY && c.train.on_nonfinite == XC_NONFINITE_STOP);
    CHECK(!strcmp(c.output.runs_dir, "runs") && !strcmp(c.output.name, "a"));
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"best_metric\": \"val_macro_f1\"}}") == 0);
    CHECK(c.train.best_metric == XC_BEST_VAL_MACRO_F1 && !strcmp(xc_best_metric_name(c.train.best_metric), "val_macro_f1"));
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"best_metric\": \"val_f1\"}}") == -1);
    /* output.figures: png by default, in xc_plot_format's order. */
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}}") == 0 && c.output.figures == XC_PLOT_PNG);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"output\": {\"figures\": \"pdf\"}}") == 0 && c.output.figures == XC_PLOT_PDF);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"output\": {\"figures\": \"none\"}}") == 0 && c.output.figures == XC_PLOT_NONE);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"output\": {\"figures\": \"gif\"}}") == -1);

    /* Values of every kind. */
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\", \"sampler\": \"shuffle\", \"augment\": {\"rotate_deg\": 10}},"
                    " \"loss\": {\"type\": \"focal\", \"alpha\": [0.25, 0.75]},"
                    " \"optim\": {\"betas\": [0.8, 0.99]}, \"train\": {\"seed\": 7}}") == 0);
    CHECK(c.data.sampler == XC_CFG_SAMPLER_SHUFFLE && c.data.rotate_deg == 10);
    CHECK(c.loss.type == XC_LOSS_FOCAL && c.loss.n_alpha == 2 && c.loss.alpha[1] == 0.75);
    CHECK(c.optim.beta1 == 0.8 && c.optim.beta2 == 0.99 && c.train.seed == 7);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"loss\": {\"class_weights\": \"inverse_frequency\"}}") == 0);
    CHECK(c.loss.class_weights == XC_CW_INVERSE_FREQUENCY);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"loss\": {\"class_weights\": [1, 2, 3]}}") == 0);
    CHECK(c.loss.class_weights == XC_CW_LIST && c.loss.n_class_weights == 3 && c.loss.class_weight[2] == 3);
    /* multi-label: bce with pos_weight, in the same three forms, independent of class_weights */
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"loss\": {\"type\": \"bce\", \"pos_weight\": \"inverse_frequency\"}}") == 0);
    CHECK(c.loss.type == XC_LOSS_BCE && c.loss.pos_weights == XC_CW_INVERSE_FREQUENCY && c.loss.class_weights == XC_CW_NONE);
    char *pj = xc_config_to_json(&c);
    CHECK(pj && strstr(pj, "\"pos_weight\":\t\"inverse_frequency\"") && strstr(pj, "\"class_weights\":\tnull"));
    free(pj);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"loss\": {\"type\": \"bce\", \"pos_weight\": [1, 4]}}") == 0);
    CHECK(c.loss.pos_weights == XC_CW_LIST && c.loss.n_pos_weight == 2 && c.loss.pos_weight[1] == 4);
    expect_error("{\"data\": {\"path\": \"d\"}, \"loss\": {\"pos_weight\": \"balanced\"}}",
                 "loss.pos_weight: 'balanced' is not null, \"inverse_frequency\" or an array of numbers");
    /* train.tensorboard: "auto" (default), true, false; written back as given */
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}}") == 0 && c.train.tensorboard == XC_TRISTATE_AUTO);
    pj = xc_config_to_json(&c);
    CHECK(pj && strstr(pj, "\"tensorboard\":\t\"auto\""));
    free(pj);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"tensorboard\": false}}") == 0 &&
          c.train.tensorboard == XC_TRISTATE_OFF);
    pj = xc_config_to_json(&c);
    CHECK(pj && strstr(pj, "\"tensorboard\":\tfalse"));
    free(pj);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"tensorboard\": true}}") == 0 &&
          c.train.tensorboard == XC_TRISTATE_ON);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"tensorboard\": \"auto\"}}") == 0 &&
          c.train.tensorboard == XC_TRISTATE_AUTO);
    expect_error("{\"data\": {\"path\": \"d\"}, \"train\": {\"tensorboard\": \"yes\"}}",
                 "train.tensorboard: expected true, false or \"auto\", got 'yes'");
    expect_error("{\"data\": {\"path\": \"d\"}, \"train\": {\"tensorboard\": 1}}",
                 "train.tensorboard: expected true, false or \"auto\", got a number");

    /* Strictness: every message names the file and the key path. */
    expect_error("{\"data\": {\"path\": \"d\"}, \"optim\": {\"lr\": \"fast\"}}",
                 "config 'a.json': optim.lr: expected a number, got a string");
    expect_error("{\"data\": {\"path\": \"d\"}, \"train\": {\"epoch\": 3}}",
                 "unknown key 'train.epoch' (did you mean 'epochs'?)");
    expect_error("{\"data\": {\"path\": \"d\"}, \"trian\": {}}", "unknown key 'trian' (did you mean 'train'?)");
    expect_error("{\"data\": {\"path\": \"d\"}, \"zebra\": 1}", "unknown key 'zebra'");
    expect_error("{\"data\": {\"path\": \"d\", \"workers\": 4}}",
                 "config 'a.json': key 'data.workers' was removed: batches are gathered");
    expect_error("{\"data\": {\"path\": \"d\", \"augment\": {\"hflp\": 0.5}}}",
                 "unknown key 'data.augment.hflp' (did you mean 'hflip'?)");
    expect_error("{\"data\": {\"path\": \"d\", \"sampler\": \"random\"}}",
                 "data.sampler: 'random' is not one of \"weighted\" or \"shuffle\"");
    expect_error("{\"data\": {\"path\": \"d\"}, \"loss\": {\"type\": 3}}", "loss.type: expected \"ce\", \"focal\" or \"bce\", got a number");
    expect_error("{\"data\": {\"path\": \"d\", \"batch_size\": 2.5}}", "data.batch_size: expected a whole number");
    expect_error("{\"data\": {\"path\": \"d\", \"batch_size\": 0}}", "data.batch_size: 0 is out of range");
    expect_error("{\"data\": {\"path\": \"d\", \"augment\": {\"hflip\": 1.5}}}", "data.augment.hflip: 1.5 is out of range");
    expect_error("{\"data\": {\"path\": \"d\", \"augment\": 1}}", "data.augment: expected an object, got a number");
    expect_error("{\"data\": {\"path\": \"d\"}, \"optim\": {\"betas\": [0.9]}}", "optim.betas: expected an array of two numbers");
    expect_error("{\"data\": {\"path\": \"d\"}, \"loss\": {\"alpha\": [1, \"x\"]}}", "loss.alpha[1]: expected a number, got a string");
    expect_error("{\"data\": {\"path\": \"d\"}, \"loss\": {\"class_weights\": \"inverse\"}}", "loss.class_weights: 'inverse' is not null");
    expect_error("{\"data\": {\"path\": \"d\"}, \"model\": {\"arch\": \"resnet49\"}}", "model.arch: 'resnet49' is not one of");
    expect_error("{\"data\": {\"path\": \"d\"}, \"model\": {\"weights\": \"chexnet\"}}", "'chexnet' exists for densenet121 only");
    expect_error("{\"model\": {\"arch\": \"resnet18\"}}", "data.path is required");
    expect_error("[1, 2]", "expected a JSON object at the top, got an array");
    expect_error("{\"data\": {\"path\": \"d\"},\n \"optim\": {\"lr\": }}", "not valid JSON (line 2)");
    expect_error("{\"data\": {\"path\": \"d\"}, \"train\": {\"seed\": -1}}", "train.seed: expected a whole number >= 0");

    /* --set: JSON values, strings as fallback, new sections, and the same strictness. */
    const char *sets[] = {"train.epochs=3", "model.arch=resnet18", "optim.betas=[0.5,0.6]", "output.name=x"};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"epochs\": 9}}", "a.json", sets, 4, "a") == 0);
    CHECK(c.train.epochs == 3 && !strcmp(c.model.arch, "resnet18") && c.optim.beta1 == 0.5);
    CHECK(!strcmp(c.output.name, "x"));
    const char *bad_set[] = {"train.epochs=three"};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "a.json", bad_set, 1, "a") == -1);
    CHECK_CONTAINS(xc_error(), "train.epochs: expected a number, got a string");
    const char *typo_set[] = {"train.epoch=3"};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "a.json", typo_set, 1, "a") == -1);
    CHECK_CONTAINS(xc_error(), "unknown key 'train.epoch' (did you mean 'epochs'?)");
    const char *noeq_set[] = {"train.epochs"};
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}}", "a.json", noeq_set, 1, "a") == -1);
    CHECK_CONTAINS(xc_error(), "expected key.path=value");

    /* The resolved config parses back to the same config, and to the same text. */
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"loss\": {\"type\": \"focal\", \"alpha\": [0.1, 0.9]},"
                    " \"schedule\": {\"type\": \"cosine\"}, \"train\": {\"seed\": 12345}}") == 0);
    char *j1 = xc_config_to_json(&c);
    CHECK(j1 != NULL);
    xc_config c2;
    CHECK(xc_config_parse(&c2, j1, "resolved", NULL, 0, NULL) == 0);
    char *j2 = xc_config_to_json(&c2);
    CHECK(j1 && j2 && !strcmp(j1, j2));
    CHECK(c2.loss.n_alpha == 2 && c2.loss.alpha[0] == 0.1 && c2.schedule.type == XC_SCHED_COSINE);
    CHECK(c2.train.seed == 12345 && c2.optim.eps == 1e-8);
    CHECK_CONTAINS(j1, "\"weights_dir\"");
    free(j1);
    free(j2);

    /* Named weights: published file names, and a message saying what to put where. torchvision's
     * cache of this machine must not answer for the test's folders. */
    const char *tmp = check_tmpdir();
    char *torch_home = xc_path_join(tmp, "torch-home");
    CHECK(setenv("TORCH_HOME", torch_home, 1) == 0);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"model\": {\"weights_dir\": \"/nonexistent/w\"}}") == 0);
    const char *names[4];
    CHECK(xc_config_weights_candidates(&c, names, 4) == 2);
    CHECK(!strcmp(names[0], "resnet50-0676ba61.pth") && !strcmp(names[1], "resnet50-19c8e357.pth"));
    char *file = NULL;
    CHECK(xc_config_weights_file(&c, &file) == -1);
    CHECK_CONTAINS(xc_error(), "model.weights 'imagenet' for resnet50 needs 'resnet50-0676ba61.pth'");
    CHECK_CONTAINS(xc_error(), "in '/nonexistent/w' (set model.weights_dir or XRAYCLS_WEIGHTS); nothing is downloaded");
    char searched[2048];
    snprintf(searched, sizeof searched, "also searched: '%s/hub/checkpoints' (torchvision's cache", torch_home);
    CHECK_CONTAINS(xc_error(), searched);
    CHECK_CONTAINS(xc_error(), "published at https://download.pytorch.org/models/resnet50-0676ba61.pth");
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"model\": {\"arch\": \"densenet121\", \"weights\": \"chexnet\"}}") == 0);
    CHECK(xc_config_weights_candidates(&c, names, 4) == 1 && !strcmp(names[0], "model.pth.tar"));
    CHECK(xc_config_weights_file(&c, &file) == -1);
    CHECK_CONTAINS(xc_error(), "github.com/arnoweng/CheXNet");
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"model\": {\"weights\": \"none\"}}") == 0);
    CHECK(xc_config_weights_file(&c, &file) == 0 && file && !*file);
    free(file);
    /* A named file found in weights_dir. */
    char *wdir = xc_path_join(tmp, "weights");
    CHECK(xc_mkdir_p(wdir) == 0);
    char *wfile = xc_path_join(wdir, "resnet50-19c8e357.pth");
    CHECK(xc_write_file_atomic(wfile, "x", 1) == 0);
    char text[2048];
    snprintf(text, sizeof text, "{\"data\": {\"path\": \"d\"}, \"model\": {\"weights_dir\": \"%s\"}}", wdir);
    CHECK(parse(&c, text) == 0);
    file = NULL;
    CHECK(xc_config_weights_file(&c, &file) == 0 && file && !strcmp(file, wfile));
    free(file);
    free(wfile);
    free(wdir);
    /* ... and in torchvision's cache, $TORCH_HOME/hub/checkpoints, when weights_dir lacks it */
    char *hub = xc_path_join(torch_home, "hub/checkpoints");
    CHECK(xc_mkdir_p(hub) == 0);
    wfile = xc_path_join(hub, "resnet50-0676ba61.pth");
    CHECK(xc_write_file_atomic(wfile, "x", 1) == 0);
    CHECK(parse(&c, "{\"data\": {\"path\": \"d\"}, \"model\": {\"weights_dir\": \"/nonexistent/w\"}}") == 0);
    file = NULL;
    CHECK(xc_config_weights_file(&c, &file) == 0 && file && !strcmp(file, wfile));
    free(file);
    /* without TORCH_HOME: ~/.cache/torch (XDG_CACHE_HOME unset) */
    CHECK(unsetenv("TORCH_HOME") == 0 && unsetenv("XDG_CACHE_HOME") == 0 && setenv("HOME", tmp, 1) == 0);
    CHECK(xc_config_weights_file(&c, &file) == -1);
    snprintf(searched, sizeof searched, "also searched: '%s/.cache/torch/hub/checkpoints'", tmp);
    CHECK_CONTAINS(xc_error(), searched);
    free(wfile);
    free(hub);
    free(torch_home);

    /* A file: output.name defaults to the stem. */
    char *cfg = xc_path_join(tmp, "my-run.json");
    CHECK(xc_write_file_atomic(cfg, "{\"data\": {\"path\": \"d\"}}", 23) == 0);
    CHECK(xc_config_load(&c, cfg, NULL, 0) == 0 && !strcmp(c.output.name, "my-run"));
    free(cfg);
    return check_done("train_test_config");
}
