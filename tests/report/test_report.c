/* test_report.c — eval.json / eval.csv / eval.md as xraycls/report.h describes them (names,
 * absent classes as null + "absent": true), and the results table over run folders. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <unistd.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/plot.h"
#include "xraycls/report.h"

/* Four classes, the last (COVID-19) with no sample. Predictions: 0 0 1 | 1 1 0 | 2 1. */
static const float S[8 * 4] = {.7f, .2f, .1f, 0, .6f, .3f, .1f, 0, .2f, .5f, .3f, 0, .1f, .8f, .1f, 0,
                               .3f, .4f, .3f, 0, .5f, .2f, .3f, 0, .1f, .2f, .6f, .1f, .2f, .5f, .2f, .1f};
static const int64_t L[8] = {0, 0, 0, 1, 1, 1, 2, 2};
static const char *CLASSES[4] = {"Normal", "Bacteria", "Virus", "COVID-19"};

static char *join(const char *dir, const char *name) {
    char *s = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(s, "%s/%s", dir, name);
    return s;
}

static cJSON *read_json(const char *path) {
    size_t len;
    char *t = xc_read_file(path, &len, 1 << 24);
    if (!t) return NULL;
    cJSON *j = cJSON_Parse(t);
    free(t);
    return j;
}

static double num(const cJSON *o, const char *k1, const char *k2) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k1);
    const cJSON *b = k2 ? cJSON_GetObjectItemCaseSensitive(a, k2) : a;
    return cJSON_IsNumber(b) ? b->valuedouble : NAN;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_eval_files(const char *dir, xc_metrics *m) {
    xc_report_info info = {"runs/a/best.safetensors", "data/prep", "test", "4class", "resnet18", "softmax", CLASSES, NULL, NULL, NULL, 0};
    char *out = join(dir, "eval-test");
    CHECK(xc_report_write(out, m, &info) == 0);
    char *jp = join(out, "eval.json"), *cp = join(out, "eval.csv"), *mp = join(out, "eval.md"),
         *pp = join(out, "confusion_matrix.csv");
    CHECK(xc_is_file(pp));
    /* The figure's data: the matrix read back as the figure reads it. */
    xc_plot_confusion_data cd;
    CHECK(xc_plot_read_confusion(pp, &cd) == 0);
    CHECK(cd.k == m->num_classes);
    for (int i = 0; i < cd.k && i < m->num_classes; i++) CHECK(!strcmp(cd.names[i], CLASSES[i]));
    for (int i = 0; i < cd.k * cd.k && cd.k == m->num_classes; i++) CHECK(cd.cm[i] == m->confusion[i]);
    xc_plot_confusion_free(&cd);
    cJSON *j = read_json(jp);
    CHECK(j != NULL);
    if (j) {
        CHECK_CLOSE(num(j, "accuracy", "value"), 5.0 / 8, 1e-12, 0);
        CHECK(num(j, "accuracy", "ci_low") <= 5.0 / 8 && num(j, "accuracy", "ci_high") >= 5.0 / 8);
        const char *keys[] = {"balanced_accuracy", "macro_f1", "weighted_f1", "macro_auroc"};
        for (int i = 0; i < 4; i++) CHECK_MSG(!isnan(num(j, keys[i], "value")), "%s", keys[i]);
        CHECK(num(j, "n", NULL) == 8);
        CHECK(num(j, "bootstrap", "resamples") == 200);
        const cJSON *pc = cJSON_GetObjectItemCaseSensitive(j, "per_class");
        const cJSON *normal = cJSON_GetObjectItemCaseSensitive(pc, "Normal");
        CHECK(num(normal, "support", NULL) == 3);
        CHECK_CLOSE(num(normal, "precision", "value"), 2.0 / 3, 1e-12, 0);
        CHECK_CLOSE(num(normal, "specificity", "value"), 0.8, 1e-12, 0);
        CHECK(!isnan(num(normal, "f1", "ci_high")) && !isnan(num(normal, "auroc", "value")));
        const cJSON *covid = cJSON_GetObjectItemCaseSensitive(pc, "COVID-19");
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(covid, "absent")));
        CHECK(num(covid, "support", NULL) == 0);
        const char *mk[5] = {"precision", "recall", "f1", "specificity", "auroc"};
        for (int i = 0; i < 5; i++) {
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(covid, mk[i]);
            CHECK_MSG(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "value")) &&
                          cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "ci_low")) &&
                          cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "absent")),
                      "COVID-19 %s", mk[i]);
        }
        const cJSON *cm = cJSON_GetObjectItemCaseSensitive(j, "confusion_matrix");
        CHECK(cJSON_GetArraySize(cm) == 4);
        CHECK(cJSON_IsArray(cJSON_GetArrayItem(cm, 1)) && cJSON_GetArraySize(cJSON_GetArrayItem(cm, 1)) == 4);
        CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(cm, 0), 0)->valuedouble == 2);
        CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(cm, 2), 1)->valuedouble == 1);
        CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j, "task")->valuestring, "4class") == 0);
        cJSON_Delete(j);
    }
    size_t len;
    char *csv = xc_read_file(cp, &len, 1 << 20);
    CHECK(csv != NULL);
    if (csv) {
        CHECK_CONTAINS(csv, "name,support,precision,precision_ci_low,precision_ci_high,precision_ci_method,recall,");
        CHECK_CONTAINS(csv, ",npv,npv_ci_low,npv_ci_high,npv_ci_method,ap,ap_ci_low,ap_ci_high,ap_ci_method\n");
        int lines = 0;
        for (char *p = csv; *p; p++) lines += *p == '\n';
        CHECK(lines == 1 + 4 + 3);
        CHECK_CONTAINS(csv, "\nCOVID-19,0,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n");
        CHECK_CONTAINS(csv, "\nmicro,8,0.625,");
        CHECK_CONTAINS(csv, "\nweighted,8,,,,,,,");
        free(csv);
    }
    char *md = xc_read_file(mp, &len, 1 << 20);
    CHECK(md != NULL);
    if (md) {
        CHECK_CONTAINS(md, "| accuracy | 0.625 [");
        CHECK_CONTAINS(md, "| COVID-19 | 0 | absent | absent |");
        CHECK_CONTAINS(md, "COVID-19: absent from the test split");
        CHECK_CONTAINS(md, "| Normal | 2 | 1 | 0 | 0 |");
        free(md);
    }
    char *sum = xc_report_summary(m, &info);
    CHECK_CONTAINS(sum, "accuracy           0.625 [");
    CHECK_CONTAINS(sum, "COVID-19             absent");
    free(sum);
    free(jp), free(cp), free(mp), free(pp), free(out);
}

static void make_run(const char *dir, const char *name) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/%s/eval-test'", dir, name);
    CHECK(system(cmd) == 0);
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, name);
    write_text(path, "{\"data\": {\"path\": \"p\", \"sampler\": \"weighted\"}, \"model\": {\"arch\": \"densenet121\", "
                     "\"weights\": \"chexnet\"}, \"loss\": {\"type\": \"focal\", \"class_weights\": null}, "
                     "\"output\": {\"name\": \"dn-focal\"}}");
}

static void test_table(const char *dir, xc_metrics *m) {
    char *runs = join(dir, "runs");
    make_run(runs, "a");
    make_run(runs, "b");
    char *a = join(runs, "a"), *b = join(runs, "b");
    /* run a: the folder eval names (eval-<dataset>-<split>); run b: the older eval-<split> */
    char *aev = join(a, "eval-prep-test"), *bev = join(b, "eval-test");
    xc_report_info info = {"m", "d", "test", "4class", "densenet121", "softmax", CLASSES, NULL, NULL, NULL, 0};
    CHECK(xc_report_write(aev, m, &info) == 0);
    /* Run b: three classes, one named in another case: "covid" with two images. */
    const float s3[6 * 3] = {.8f, .1f, .1f, .7f, .2f, .1f, .1f, .8f, .1f, .2f, .6f, .2f, .1f, .1f, .8f, .5f, .1f, .4f};
    const int64_t l3[6] = {0, 0, 1, 1, 2, 2};
    const char *cls3[3] = {"normal", "pneumonia", "covid"};
    xc_metrics_params p = xc_metrics_default();
    p.bootstrap = 50;
    xc_metrics *m3 = xc_metrics_compute(s3, l3, 6, 3, &p);
    xc_report_info info3 = {"m", "d", "test", NULL, "densenet121", "softmax", cls3, NULL, NULL, NULL, 0};
    CHECK(m3 && xc_report_write(bev, m3, &info3) == 0);
    xc_metrics_free(m3);

    const char *dirs[2] = {a, b};
    char *md = NULL, *csv = NULL;
    CHECK(xc_results_table(dirs, 2, "test", NULL, &md, &csv) == 0);
    if (md && csv) {
        CHECK_CONTAINS(md, "| run | arch | weights | loss | sampler | task | accuracy |");
        CHECK_CONTAINS(md, "| dn-focal | densenet121 | chexnet | focal | weighted | 4class | 0.625 [");
        CHECK_CONTAINS(md, "| absent |"); /* run a: COVID-19 has no test image */
        CHECK_CONTAINS(md, "| 3-class | 0.833 [");
        CHECK_CONTAINS(md, "| 0.500 ["); /* run b: covid recall 1/2 */
        CHECK_CONTAINS(csv, "run,arch,weights,loss,sampler,task,accuracy,accuracy_ci_low,accuracy_ci_high,");
        CHECK(!strstr(csv, "absent")); /* an absent metric is three empty fields */
        CHECK_CONTAINS(csv, ",,,");
        CHECK_CONTAINS(csv, "dn-focal,densenet121,chexnet,focal,weighted,3-class,0.833333,");
    }
    free(md);
    free(csv);

    /* A run without evaluation of the split, and a config missing a key. */
    CHECK(xc_results_table(dirs, 2, "val", NULL, &md, &csv) == -1);
    CHECK_CONTAINS(xc_error(), "eval-<dataset>-val");
    /* Two evaluations of the split: named, and chosen by --dataset. */
    char *aev2 = join(a, "eval-other-data-test");
    CHECK(xc_report_write(aev2, m, &info) == 0);
    CHECK(xc_results_table(dirs, 1, "test", NULL, &md, &csv) == -1);
    CHECK_CONTAINS(xc_error(), "eval-other-data-test, eval-prep-test");
    CHECK(xc_results_table(dirs, 1, "test", "other-data", &md, &csv) == 0);
    free(md);
    free(csv);
    CHECK(xc_results_table(dirs, 2, "test", "prep", &md, &csv) == -1);
    CHECK_CONTAINS(xc_error(), "no folder eval-prep-test");
    CHECK(xc_remove_tree(aev2) == 0 && !xc_is_dir(aev2));
    free(aev2);
    char *cfg = join(b, "config.json");
    write_text(cfg, "{\"model\": {\"arch\": \"resnet18\"}}");
    CHECK(xc_results_table(dirs, 2, "test", NULL, &md, &csv) == -1);
    CHECK_CONTAINS(xc_error(), "model.weights");
    CHECK_CONTAINS(xc_error(), "config.json");
    free(cfg);
    free(a), free(b), free(aev), free(bev), free(runs);
}

int main(void) {
    const char *dir = check_tmpdir();
    xc_metrics_params p = xc_metrics_default();
    p.bootstrap = 200;
    p.seed = 3;
    xc_metrics *m = xc_metrics_compute(S, L, 8, 4, &p);
    CHECK(m != NULL);
    if (m) {
        test_eval_files(dir, m);
        test_table(dir, m);
    }
    xc_metrics_free(m);
    char buf[64];
    xc_metric x = {1, 0.91234, 1, 0.8901, 0.93149, XC_CI_WILSON, 0};
    CHECK(strcmp(xc_metric_format(&x, buf, sizeof buf), "0.912 [0.890, 0.931] wilson") == 0);
    x.method = XC_CI_BOOTSTRAP;
    x.degenerate = 1;
    CHECK(strcmp(xc_metric_format(&x, buf, sizeof buf), "0.912 [0.890, 0.931] bootstrap (degenerate)") == 0);
    x.has_ci = 0;
    CHECK(strcmp(xc_metric_format(&x, buf, sizeof buf), "0.912") == 0);
    x.present = 0;
    CHECK(strcmp(xc_metric_format(&x, buf, sizeof buf), "absent") == 0);
    return check_done("test_report");
}
