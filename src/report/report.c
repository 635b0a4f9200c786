/* report.c — eval.json / eval.csv / eval.md / the terminal summary of an evaluation, and the
 * results table over run folders (formats in xraycls/report.h). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/report.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/json.h"
#include "xraycls/strbuf.h"
#include "report_internal.h"

/* ---- formatting -------------------------------------------------------------------------- */

/* The interval's method as written beside it: "wilson", "delong", "bootstrap", … */
static const char *method_tag(const xc_metric *m) {
    return m->method == XC_CI_BOOTSTRAP ? "bootstrap" : xc_ci_method_name(m->method);
}

char *xc_metric_format(const xc_metric *m, char *buf, size_t cap) {
    if (!m->present) snprintf(buf, cap, "absent");
    else if (!m->has_ci) snprintf(buf, cap, "%.3f", m->value);
    else if (m->method == XC_CI_NONE) snprintf(buf, cap, "%.3f [%.3f, %.3f]", m->value, m->ci_low, m->ci_high);
    else
        snprintf(buf, cap, "%.3f [%.3f, %.3f] %s%s", m->value, m->ci_low, m->ci_high, method_tag(m),
                 m->degenerate ? " (degenerate)" : "");
    return buf;
}

/* A Markdown table cell: '|' escaped, line breaks as spaces. */
static void md_cell(xc_strbuf *b, const char *s) {
    for (const char *p = s; *p; p++) {
        if (*p == '|') xc_strbuf_printf(b, "\\|");
        else if (*p == '\n' || *p == '\r') xc_strbuf_printf(b, " ");
        else xc_strbuf_printf(b, "%c", *p);
    }
}

/* ---- eval.json --------------------------------------------------------------------------- */

cJSON *xc_report_metric_json(const xc_metric *m) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (m->present) cJSON_AddNumberToObject(o, "value", m->value);
    else cJSON_AddNullToObject(o, "value");
    if (m->present && m->has_ci) {
        cJSON_AddNumberToObject(o, "ci_low", m->ci_low);
        cJSON_AddNumberToObject(o, "ci_high", m->ci_high);
    } else {
        cJSON_AddNullToObject(o, "ci_low");
        cJSON_AddNullToObject(o, "ci_high");
    }
    if (m->present && m->has_ci) cJSON_AddStringToObject(o, "method", xc_ci_method_name(m->method));
    else cJSON_AddNullToObject(o, "method");
    if (m->present && m->has_ci && m->degenerate) cJSON_AddTrueToObject(o, "degenerate");
    if (!m->present) cJSON_AddTrueToObject(o, "absent");
    return o;
}

static void add_string_or_null(cJSON *o, const char *key, const char *s) {
    if (s) cJSON_AddStringToObject(o, key, s);
    else cJSON_AddNullToObject(o, key);
}

static void add_num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* A threshold: a number, or "inf" (nothing called positive). */
static void add_threshold(cJSON *o, const char *key, double t) {
    if (isfinite(t)) cJSON_AddNumberToObject(o, key, t);
    else cJSON_AddStringToObject(o, key, t > 0 ? "inf" : "-inf");
}

cJSON *xc_report_provenance_json(const xc_provenance *p) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    add_string_or_null(o, "version", p->version);
    add_string_or_null(o, "model", p->model_abs);
    add_string_or_null(o, "data", p->data_abs);
    add_string_or_null(o, "utc", p->utc);
    if (p->epoch >= 0) cJSON_AddNumberToObject(o, "epoch", (double)p->epoch);
    else cJSON_AddNullToObject(o, "epoch");
    add_string_or_null(o, "temperature", p->temperature_note);
    return o;
}
#define provenance_json xc_report_provenance_json

void xc_report_tta_json(cJSON *root, const xc_provenance *p) {
    if (!p || !p->tta) return;
    cJSON *t = cJSON_AddObjectToObject(root, "tta");
    if (!t) return;
    cJSON_AddStringToObject(t, "mode", p->tta);
    cJSON_AddNumberToObject(t, "views", p->tta_views);
    add_string_or_null(t, "source", p->tta_source);
    if (p->tta_resize > 0) {
        cJSON_AddNumberToObject(t, "resize", p->tta_resize);
        cJSON_AddNumberToObject(t, "crop", p->tta_crop);
    }
}

const char *xc_report_tta_line(const xc_provenance *p, char *buf, size_t cap) {
    buf[0] = 0;
    if (!p || !p->tta) return buf;
    const char *src = p->tta_source ? p->tta_source : "?";
    if (!strcmp(p->tta, "tencrop"))
        snprintf(buf, cap, "- test-time augmentation: tencrop, the mean probability of 10 views (upsampled to %dx%d, "
                 "four corner and the centre %dx%d crops, and the same of the mirror; %s)\n", p->tta_resize,
                 p->tta_resize, p->tta_crop, p->tta_crop, src);
    else if (!strcmp(p->tta, "flip"))
        snprintf(buf, cap, "- test-time augmentation: flip, the mean probability of the image and its horizontal "
                 "mirror (%s)\n", src);
    else snprintf(buf, cap, "- test-time augmentation: none (%s)\n", src);
    return buf;
}

static const char *op_rule_label(const xc_op_point *o, char *buf, size_t cap) {
    if (o->rule == XC_OP_YOUDEN) snprintf(buf, cap, "Youden's J");
    else snprintf(buf, cap, "%s >= %g", o->rule == XC_OP_SENSITIVITY ? "sensitivity" : "specificity", o->target);
    return buf;
}

static cJSON *op_points_json(const xc_metrics *m, const xc_report_info *info) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    add_string_or_null(root, "chosen_on", info->ops_split);
    cJSON_AddStringToObject(root, "thresholds_from", info->ops_stored ? "model file" : "this evaluation");
    cJSON_AddStringToObject(root, "applied_to", info->split ? info->split : "");
    cJSON_AddStringToObject(root, "decision", "one-vs-rest: positive when the class probability >= threshold");
    cJSON *pc = cJSON_AddObjectToObject(root, "per_class");
    for (int c = 0; c < m->num_classes; c++) {
        cJSON *arr = cJSON_CreateArray();
        for (int r = 0; r < XC_OP_RULES; r++) {
            const xc_op_point *o = &info->ops[c * XC_OP_RULES + r];
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "rule", xc_op_rule_name(o->rule));
            add_num_or_null(e, "target", o->target);
            cJSON_AddBoolToObject(e, "defined", o->defined);
            if (o->defined) {
                add_threshold(e, "threshold", o->threshold);
                cJSON *src = cJSON_AddObjectToObject(e, "source");
                add_num_or_null(src, "sensitivity", o->source_sensitivity);
                add_num_or_null(src, "specificity", o->source_specificity);
                cJSON_AddNumberToObject(e, "tp", (double)o->counts.tp);
                cJSON_AddNumberToObject(e, "fp", (double)o->counts.fp);
                cJSON_AddNumberToObject(e, "tn", (double)o->counts.tn);
                cJSON_AddNumberToObject(e, "fn", (double)o->counts.fn);
                cJSON_AddItemToObject(e, "sensitivity", xc_report_metric_json(&o->sensitivity));
                cJSON_AddItemToObject(e, "specificity", xc_report_metric_json(&o->specificity));
            }
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_AddItemToObject(pc, info->classes[c], arr);
    }
    return root;
}

static const char *bootstrap_method(const xc_metrics *m) {
    return m->multilabel ? "percentile, plain resampling" : "percentile, stratified by true class";
}

char *xc_report_json(const xc_metrics *m, const xc_report_info *info) {
    int k = m->num_classes;
    cJSON *root = cJSON_CreateObject();
    if (!root) return xc_errorf("eval.json: out of memory"), NULL;
    cJSON_AddNumberToObject(root, "format", 1);
    add_string_or_null(root, "model", info->model);
    add_string_or_null(root, "data", info->data);
    add_string_or_null(root, "split", info->split);
    add_string_or_null(root, "task", info->task);
    add_string_or_null(root, "arch", info->arch);
    add_string_or_null(root, "head", info->head);
    cJSON *classes = cJSON_AddArrayToObject(root, "classes");
    for (int c = 0; c < k; c++) cJSON_AddItemToArray(classes, cJSON_CreateString(info->classes[c]));
    cJSON_AddNumberToObject(root, "n", (double)m->n);
    cJSON_AddBoolToObject(root, "multilabel", m->multilabel);
    cJSON *boot = cJSON_AddObjectToObject(root, "bootstrap");
    cJSON_AddNumberToObject(boot, "resamples", m->bootstrap);
    cJSON_AddNumberToObject(boot, "seed", (double)m->seed);
    cJSON_AddNumberToObject(boot, "level", m->level);
    cJSON_AddStringToObject(boot, "method", bootstrap_method(m));
    cJSON *iv = cJSON_AddObjectToObject(root, "intervals");
    cJSON_AddNumberToObject(iv, "level", m->level);
    int closed = m->ci != XC_CI_BOOTSTRAP;
    cJSON_AddStringToObject(iv, "proportions", closed ? xc_ci_method_name(m->ci) : "bootstrap-percentile");
    cJSON_AddStringToObject(iv, "auroc", closed ? "delong" : "bootstrap-percentile");
    cJSON_AddStringToObject(iv, "other", m->bootstrap > 0 ? "bootstrap-percentile" : "none");
    cJSON_AddItemToObject(root, "accuracy", xc_report_metric_json(&m->accuracy));
    cJSON_AddItemToObject(root, "balanced_accuracy", xc_report_metric_json(&m->balanced_accuracy));
    cJSON_AddItemToObject(root, "macro_f1", xc_report_metric_json(&m->macro_f1));
    cJSON_AddItemToObject(root, "weighted_f1", xc_report_metric_json(&m->weighted_f1));
    cJSON_AddItemToObject(root, "macro_auroc", xc_report_metric_json(&m->macro_auroc));
    cJSON *pc = cJSON_AddObjectToObject(root, "per_class");
    for (int c = 0; c < k; c++) {
        const xc_class_metrics *o = &m->per_class[c];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "support", (double)o->support);
        if (o->support == 0) cJSON_AddTrueToObject(e, "absent");
        cJSON_AddItemToObject(e, "precision", xc_report_metric_json(&o->precision));
        cJSON_AddItemToObject(e, "recall", xc_report_metric_json(&o->recall));
        cJSON_AddItemToObject(e, "f1", xc_report_metric_json(&o->f1));
        cJSON_AddItemToObject(e, "specificity", xc_report_metric_json(&o->specificity));
        cJSON_AddItemToObject(e, "auroc", xc_report_metric_json(&o->auroc));
        cJSON_AddItemToObject(e, "npv", xc_report_metric_json(&o->npv));
        cJSON_AddItemToObject(e, "ap", xc_report_metric_json(&o->ap));
        add_num_or_null(e, "brier", o->brier);
        cJSON_AddItemToObject(pc, info->classes[c], e);
    }
    cJSON_AddItemToObject(root, "macro_ap", xc_report_metric_json(&m->macro_ap));
    if (m->probabilities && !m->multilabel) {
        cJSON *cal = cJSON_AddObjectToObject(root, "calibration");
        add_num_or_null(cal, "brier", m->brier);
        cJSON_AddStringToObject(cal, "brier_definition", "mean over images of sum over classes (p_c - [label = c])^2");
        cJSON_AddNumberToObject(cal, "bins", m->bins);
        cJSON *tl = cJSON_AddObjectToObject(cal, "top_label");
        add_num_or_null(tl, "ece_equal_width", m->ece_equal_width);
        add_num_or_null(tl, "ece_equal_mass", m->ece_equal_mass);
        add_num_or_null(tl, "mce_equal_width", m->mce_equal_width);
        add_num_or_null(tl, "mce_equal_mass", m->mce_equal_mass);
    } else {
        cJSON_AddNullToObject(root, "calibration");
    }
    if (info->ops) cJSON_AddItemToObject(root, "operating_points", op_points_json(m, info));
    else cJSON_AddNullToObject(root, "operating_points");
    if (info->provenance) cJSON_AddItemToObject(root, "provenance", provenance_json(info->provenance));
    xc_report_tta_json(root, info->provenance);
    if (m->confusion) {
        cJSON *cm = cJSON_AddArrayToObject(root, "confusion_matrix");
        for (int t = 0; t < k; t++) {
            cJSON *row = cJSON_CreateArray();
            for (int p = 0; p < k; p++) cJSON_AddItemToArray(row, cJSON_CreateNumber((double)m->confusion[t * k + p]));
            cJSON_AddItemToArray(cm, row);
        }
    } else {
        cJSON_AddNullToObject(root, "confusion_matrix");
    }
    char *text = xc_json_to_string(root, 1);
    cJSON_Delete(root);
    if (!text) xc_errorf("eval.json: out of memory");
    return text;
}

/* ---- eval.csv ---------------------------------------------------------------------------- */

/* value, ci_low, ci_high, ci_method: four fields, empty where absent. */
static void csv_metric(xc_csv_writer *w, const xc_metric *m) {
    if (!m || !m->present) {
        for (int k = 0; k < 4; k++) xc_csv_empty(w);
        return;
    }
    xc_csv_num(w, "%.17g", m->value);
    if (m->has_ci) {
        xc_csv_num(w, "%.17g", m->ci_low);
        xc_csv_num(w, "%.17g", m->ci_high);
        xc_csv_fieldf(w, "%s%s", xc_ci_method_name(m->method), m->degenerate ? " (degenerate)" : "");
    } else {
        for (int k = 0; k < 3; k++) xc_csv_empty(w);
    }
}

static void csv_row(xc_csv_writer *w, const char *name, long long support, const xc_metric *prec,
                    const xc_metric *rec, const xc_metric *f1, const xc_metric *spec, const xc_metric *auroc,
                    const xc_metric *npv, const xc_metric *ap) {
    xc_csv_field(w, name);
    xc_csv_int(w, support);
    const xc_metric *cols[7] = {prec, rec, f1, spec, auroc, npv, ap};
    for (int j = 0; j < 7; j++) csv_metric(w, cols[j]);
    xc_csv_end_row(w);
}

char *xc_report_csv(const xc_metrics *m, const xc_report_info *info) {
    xc_csv_writer w = {0};
    xc_csv_field(&w, "name");
    xc_csv_field(&w, "support");
    const char *cols[7] = {"precision", "recall", "f1", "specificity", "auroc", "npv", "ap"};
    for (int j = 0; j < 7; j++) {
        xc_csv_field(&w, cols[j]);
        xc_csv_fieldf(&w, "%s_ci_low", cols[j]);
        xc_csv_fieldf(&w, "%s_ci_high", cols[j]);
        xc_csv_fieldf(&w, "%s_ci_method", cols[j]);
    }
    xc_csv_end_row(&w);
    for (int c = 0; c < m->num_classes; c++) {
        const xc_class_metrics *o = &m->per_class[c];
        csv_row(&w, info->classes[c], (long long)o->support, &o->precision, &o->recall, &o->f1, &o->specificity,
                &o->auroc, &o->npv, &o->ap);
    }
    long long n = (long long)m->n;
    csv_row(&w, "macro", n, NULL, &m->balanced_accuracy, &m->macro_f1, NULL, &m->macro_auroc, NULL, &m->macro_ap);
    csv_row(&w, "weighted", n, NULL, NULL, &m->weighted_f1, NULL, NULL, NULL, NULL);
    if (!m->multilabel) csv_row(&w, "micro", n, &m->accuracy, &m->accuracy, &m->accuracy, NULL, NULL, NULL, NULL);
    return xc_csv_take(&w, "eval.csv");
}

/* ---- eval.md and the summary --------------------------------------------------------------- */

static int count_absent(const xc_metrics *m) {
    int a = 0;
    for (int c = 0; c < m->num_classes; c++) a += m->per_class[c].support == 0;
    return a;
}

char *xc_report_markdown(const xc_metrics *m, const xc_report_info *info) {
    xc_strbuf b = {0};
    char f[96];
    int k = m->num_classes;
    xc_strbuf_printf(&b, "# Evaluation of `%s`\n\n", info->model ? info->model : "model");
    xc_strbuf_printf(&b, "- data: `%s`, split **%s**, %lld images%s%s\n", info->data ? info->data : "?",
              info->split ? info->split : "?", (long long)m->n, info->task ? ", task " : "", info->task ? info->task : "");
    xc_strbuf_printf(&b, "- model: %s, %s head, %d classes\n", info->arch ? info->arch : "?", info->head ? info->head : "?", k);
    if (m->ci != XC_CI_BOOTSTRAP)
        xc_strbuf_printf(&b, "- intervals: %.0f%%; proportions (accuracy, precision, recall, specificity, NPV): %s; "
                      "AUROC: DeLong; the others: %s\n",
                  100 * m->level, m->ci == XC_CI_WILSON ? "Wilson score" : "Clopper–Pearson exact",
                  m->bootstrap > 0 ? "bootstrap (below)" : "none (bootstrap off)");
    if (m->bootstrap > 0)
        xc_strbuf_printf(&b, "- bootstrap: %.0f%%, %s, %d resamples, seed %llu; \"degenerate\" marks an interval of zero "
                      "width (every resample gave the same value)\n",
                  100 * m->level, bootstrap_method(m), m->bootstrap, (unsigned long long)m->seed);
    else if (m->ci == XC_CI_BOOTSTRAP) xc_strbuf_printf(&b, "- intervals: none (bootstrap off)\n");

    xc_strbuf_printf(&b, "\n| metric | value [%.0f%% CI] |\n|---|---|\n", 100 * m->level);
    const char *names[6] = {"accuracy", "balanced accuracy", "macro F1", "weighted F1", "macro AUROC", "macro AP"};
    const xc_metric *sm[6] = {&m->accuracy, &m->balanced_accuracy, &m->macro_f1, &m->weighted_f1, &m->macro_auroc,
                              &m->macro_ap};
    for (int j = 0; j < 6; j++) xc_strbuf_printf(&b, "| %s | %s |\n", names[j], xc_metric_format(sm[j], f, sizeof f));

    xc_strbuf_printf(&b, "\n## Per class\n\n| class | support | precision | recall | F1 | specificity | AUROC | NPV | AP |\n"
                  "|---|---:|---|---|---|---|---|---|---|\n");
    for (int c = 0; c < k; c++) {
        const xc_class_metrics *o = &m->per_class[c];
        xc_strbuf_printf(&b, "| ");
        md_cell(&b, info->classes[c]);
        xc_strbuf_printf(&b, " | %lld", (long long)o->support);
        const xc_metric *cm[7] = {&o->precision, &o->recall, &o->f1, &o->specificity, &o->auroc, &o->npv, &o->ap};
        for (int j = 0; j < 7; j++) xc_strbuf_printf(&b, " | %s", xc_metric_format(cm[j], f, sizeof f));
        xc_strbuf_printf(&b, " |\n");
    }

    if (m->confusion) {
        xc_strbuf_printf(&b, "\n## Confusion matrix (rows: true, columns: predicted)\n\n| true \\ predicted |");
        for (int c = 0; c < k; c++) {
            xc_strbuf_printf(&b, " ");
            md_cell(&b, info->classes[c]);
            xc_strbuf_printf(&b, " |");
        }
        xc_strbuf_printf(&b, "\n|---|");
        for (int c = 0; c < k; c++) xc_strbuf_printf(&b, "---:|");
        xc_strbuf_printf(&b, "\n");
        for (int t = 0; t < k; t++) {
            xc_strbuf_printf(&b, "| ");
            md_cell(&b, info->classes[t]);
            xc_strbuf_printf(&b, " |");
            for (int p = 0; p < k; p++) xc_strbuf_printf(&b, " %lld |", (long long)m->confusion[t * k + p]);
            xc_strbuf_printf(&b, "\n");
        }
    }

    if (m->probabilities && !m->multilabel) {
        xc_strbuf_printf(&b, "\n## Calibration\n\n- Brier score (multi-class: mean over images of the sum over classes of "
                      "(p - [true class])²): %.4f\n", m->brier);
        xc_strbuf_printf(&b, "- top-label ECE (confidence = the highest probability, against being right), %d bins: %.4f "
                      "with bins of equal width, %.4f with bins of equal mass (MCE %.4f / %.4f); reliability "
                      "diagrams in calibration.csv\n",
                  m->bins, m->ece_equal_width, m->ece_equal_mass, m->mce_equal_width, m->mce_equal_mass);
    }
    if (info->ops) {
        xc_strbuf_printf(&b, "\n## Operating points (one-vs-rest; thresholds chosen on %s%s, applied to %s)\n\n"
                      "| class | rule | threshold | %s sens. / spec. | sensitivity | specificity |\n"
                      "|---|---|---:|---|---|---|\n",
                  info->ops_split ? info->ops_split : "?",
                  info->ops_stored ? " and stored in the model file by xraycls calibrate" : "",
                  info->split ? info->split : "?",
                  info->ops_split ? info->ops_split : "source");
        for (int c = 0; c < k; c++)
            for (int r = 0; r < XC_OP_RULES; r++) {
                const xc_op_point *o = &info->ops[c * XC_OP_RULES + r];
                char rule[64], f2[96];
                xc_strbuf_printf(&b, "| ");
                md_cell(&b, info->classes[c]);
                xc_strbuf_printf(&b, " | %s", op_rule_label(o, rule, sizeof rule));
                if (!o->defined) {
                    xc_strbuf_printf(&b, " | — | undefined on %s | | |\n", info->ops_split ? info->ops_split : "?");
                    continue;
                }
                xc_strbuf_printf(&b, " | %.6g | %.3f / %.3f | %s | %s |\n", o->threshold, o->source_sensitivity,
                          o->source_specificity, xc_metric_format(&o->sensitivity, f, sizeof f),
                          xc_metric_format(&o->specificity, f2, sizeof f2));
            }
    }
    if (info->provenance) {
        const xc_provenance *p = info->provenance;
        xc_strbuf_printf(&b, "\n## Provenance\n\n- xraycls %s, %s UTC\n- model `%s`", p->version ? p->version : "?",
                  p->utc ? p->utc : "?", p->model_abs ? p->model_abs : "?");
        if (p->epoch >= 0) xc_strbuf_printf(&b, " (epoch %lld)", p->epoch);
        xc_strbuf_printf(&b, "\n- data `%s`\n", p->data_abs ? p->data_abs : "?");
        if (p->temperature_note) xc_strbuf_printf(&b, "- probabilities: %s\n", p->temperature_note);
        char tl[300];
        xc_strbuf_printf(&b, "%s", xc_report_tta_line(p, tl, sizeof tl));
    }

    int absent = count_absent(m);
    if (absent || m->multilabel) xc_strbuf_printf(&b, "\n## Notes\n\n");
    for (int c = 0; c < k; c++)
        if (m->per_class[c].support == 0) {
            xc_strbuf_printf(&b, "- %s: absent from the %s split (no image): its metrics are not reported, and the "
                          "macro averages run over the other %d classes.\n",
                      info->classes[c], info->split ? info->split : "evaluated", k - absent);
        }
    if (m->multilabel)
        xc_strbuf_printf(&b, "- multi-label outputs: only per-class and macro AUROC are computed.\n");
    return xc_strbuf_take(&b, "eval.md");
}

char *xc_report_summary(const xc_metrics *m, const xc_report_info *info) {
    xc_strbuf b = {0};
    char f[96];
    xc_strbuf_printf(&b, "%s: %lld images, %d classes", info->split ? info->split : "split", (long long)m->n, m->num_classes);
    xc_strbuf_printf(&b, " (%.0f%% intervals", 100 * m->level);
    if (m->ci != XC_CI_BOOTSTRAP) xc_strbuf_printf(&b, "; %s for proportions, DeLong for AUROC", xc_ci_method_name(m->ci));
    if (m->bootstrap > 0) xc_strbuf_printf(&b, "; bootstrap, %d resamples, for the others", m->bootstrap);
    xc_strbuf_printf(&b, ")");
    xc_strbuf_printf(&b, "\n");
    xc_strbuf_printf(&b, "  accuracy           %s\n", xc_metric_format(&m->accuracy, f, sizeof f));
    xc_strbuf_printf(&b, "  balanced accuracy  %s\n", xc_metric_format(&m->balanced_accuracy, f, sizeof f));
    xc_strbuf_printf(&b, "  macro F1           %s\n", xc_metric_format(&m->macro_f1, f, sizeof f));
    xc_strbuf_printf(&b, "  macro AUROC        %s\n", xc_metric_format(&m->macro_auroc, f, sizeof f));
    xc_strbuf_printf(&b, "  %s per class:\n", m->multilabel ? "AUROC" : "recall");
    for (int c = 0; c < m->num_classes; c++) {
        const xc_class_metrics *o = &m->per_class[c];
        const xc_metric *v = m->multilabel ? &o->auroc : &o->recall;
        xc_strbuf_printf(&b, "    %-20s %s  (n=%lld)\n", info->classes[c], xc_metric_format(v, f, sizeof f), (long long)o->support);
    }
    return xc_strbuf_take(&b, "summary");
}

/* ---- writing ------------------------------------------------------------------------------- */

int xc_report_write_doc(const char *dir, const char *name, char *text) {
    if (!text) return -1;
    char *path = xc_path_join(dir, name);
    int rc = path ? xc_write_file_atomic(path, text, strlen(text)) : xc_errorf("%s: out of memory", name);
    free(path);
    free(text);
    return rc;
}

char *xc_confusion_csv(const int64_t *cm, int k, const char *const *classes) {
    xc_csv_writer w = {0};
    xc_csv_field(&w, "true");
    for (int p = 0; p < k; p++) xc_csv_fieldf(&w, "predicted:%s", classes[p]);
    xc_csv_end_row(&w);
    for (int t = 0; t < k; t++) {
        xc_csv_field(&w, classes[t]);
        for (int p = 0; p < k; p++) xc_csv_int(&w, (long long)cm[(size_t)t * k + p]);
        xc_csv_end_row(&w);
    }
    return xc_csv_take(&w, "confusion_matrix.csv");
}

int xc_report_write(const char *dir, const xc_metrics *m, const xc_report_info *info) {
    if (xc_mkdir_p(dir) < 0) return -1;
    if (xc_report_write_doc(dir, "eval.csv", xc_report_csv(m, info)) < 0) return -1;
    if (xc_report_write_doc(dir, "eval.md", xc_report_markdown(m, info)) < 0) return -1;
    if (m->confusion && xc_report_write_doc(dir, "confusion_matrix.csv",
                                            xc_confusion_csv(m->confusion, m->num_classes, info->classes)) < 0)
        return -1;
    return xc_report_write_doc(dir, "eval.json", xc_report_json(m, info));
}

/* ---- the results table --------------------------------------------------------------------- */

/* A metric object of eval.json: {"value": v|null, "ci_low": .., "ci_high": ..}. */
static int read_metric(const cJSON *obj, const char *path, const char *key, xc_metric *out) {
    memset(out, 0, sizeof *out);
    const cJSON *o;
    if (xc_json_get_object(obj, path, key, 1, &o) < 0) return -1;
    char kp[256];
    xc_json_key_path(kp, sizeof kp, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "value");
    if (!v || cJSON_IsNull(v)) return 0;
    if (xc_json_item_double(v, kp, -1e308, 1e308, &out->value) < 0) return -1;
    out->present = 1;
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(o, "ci_low"), *hi = cJSON_GetObjectItemCaseSensitive(o, "ci_high");
    if (lo && hi && !cJSON_IsNull(lo) && !cJSON_IsNull(hi)) {
        char p2[300];
        snprintf(p2, sizeof p2, "%s.ci", kp);
        if (xc_json_item_double(lo, p2, -1e308, 1e308, &out->ci_low) < 0 ||
            xc_json_item_double(hi, p2, -1e308, 1e308, &out->ci_high) < 0)
            return -1;
        out->has_ci = 1;
        const char *meth = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "method"));
        static const xc_ci_method all[] = {XC_CI_WILSON, XC_CI_CLOPPER_PEARSON, XC_CI_DELONG, XC_CI_BOOTSTRAP,
                                           XC_CI_WALD_PAIRED};
        for (size_t j = 0; meth && j < sizeof all / sizeof *all; j++)
            if (!strcmp(meth, xc_ci_method_name(all[j]))) out->method = all[j];
        out->degenerate = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "degenerate"));
    }
    return 0;
}

static int contains_covid(const char *s) {
    for (; *s; s++) {
        const char *w = "covid";
        int i = 0;
        while (w[i] && s[i] && tolower((unsigned char)s[i]) == w[i]) i++;
        if (!w[i]) return 1;
    }
    return 0;
}

enum { T_ACC, T_BAL, T_F1, T_COVID, T_AUROC, T_METRICS };
static const char *const T_HEAD[T_METRICS] = {"accuracy", "balanced_accuracy", "macro_f1", "covid19_recall",
                                              "macro_auroc"};

void xc_report_csv_cells(xc_csv_writer *w, const xc_metric *x, int with_ci) {
    if (x->present) xc_csv_num(w, "%.6f", x->value);
    else xc_csv_empty(w);
    if (!with_ci) return;
    if (x->present && x->has_ci) {
        xc_csv_num(w, "%.6f", x->ci_low);
        xc_csv_num(w, "%.6f", x->ci_high);
    } else {
        xc_csv_empty(w);
        xc_csv_empty(w);
    }
}

static const char *const T_MD_HEAD[T_METRICS] = {"accuracy", "balanced acc.", "macro-F1", "COVID-19 recall",
                                                 "macro AUROC"};

/* Per-finding AUROC columns of multi-label runs (the union of their findings, in order). */
#define T_MAX_FINDINGS 64

typedef struct {
    char name[256], arch[32], weights[1024], loss[64], sampler[32], task[64];
    xc_metric m[T_METRICS];
    int nfindings; /* multi-label: the findings of its eval.json (0: single-label) */
    char findings[T_MAX_FINDINGS][64];
    xc_metric finding_auroc[T_MAX_FINDINGS];
} table_row;

/* A multi-label eval.json (xraycls/metrics_findings.h): macro AUROC and each finding's AUROC;
 * the single-label columns are absent. */
static int read_findings(const cJSON *ev, table_row *r) {
    const cJSON *classes, *pf;
    if (xc_json_get_array(ev, "", "classes", 1, &classes) < 0 || xc_json_get_object(ev, "", "per_finding", 1, &pf) < 0 ||
        read_metric(ev, "", "macro_auroc", &r->m[T_AUROC]) < 0)
        return -1;
    int n = cJSON_GetArraySize(classes);
    if (n > T_MAX_FINDINGS) return xc_errorf("%d findings: the table shows at most %d", n, T_MAX_FINDINGS);
    snprintf(r->task, sizeof r->task, "%d findings", n);
    for (int j = 0; j < n; j++) {
        const cJSON *c = cJSON_GetArrayItem(classes, j);
        const cJSON *e;
        if (!cJSON_IsString(c)) return xc_errorf("classes[%d]: not a string", j);
        if (xc_json_get_object(pf, "per_finding", c->valuestring, 1, &e) < 0 ||
            read_metric(e, c->valuestring, "auroc", &r->finding_auroc[j]) < 0)
            return -1;
        snprintf(r->findings[j], sizeof r->findings[j], "%s", c->valuestring);
    }
    r->nfindings = n;
    return 0;
}

/* The last component of a path ("runs/a/" → "a") into buf. */
static void base_name(const char *p, char *buf, size_t cap) {
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') n--;
    size_t s = n;
    while (s > 0 && p[s - 1] != '/') s--;
    snprintf(buf, cap, "%.*s", (int)(n - s), p + s);
}

/* The evaluation folder of a run for a split: RUN/eval-<dataset>-<split> (dataset given, or the
 * only such folder), else the older RUN/eval-<split>. malloc'd path of its eval.json, or NULL. */
char *xc_report_find_eval(const char *dir, const char *split, const char *dataset) {
    char **names = NULL;
    int64_t n = 0;
    size_t ls = strlen(split);
    if (xc_walk(dir, XC_WALK_DIRS, NULL, &names, &n) < 0) return xc_errorf("run '%s': %s", dir, xc_error()), NULL;
    xc_strbuf found = {0};
    const char *pick = NULL;
    int count = 0;
    for (int64_t i = 0; i < n; i++) {
        const char *e = names[i];
        size_t le = strlen(e);
        if (strncmp(e, "eval-", 5) != 0 || le < 5 + ls + 2 || strcmp(e + le - ls, split) != 0 || e[le - ls - 1] != '-')
            continue;
        if (dataset && (le - ls - 6 != strlen(dataset) || strncmp(e + 5, dataset, le - ls - 6) != 0)) continue;
        xc_strbuf_printf(&found, "%s%s", count ? ", " : "", e);
        pick = e;
        count++;
    }
    char *out = NULL;
    char sub[300];
    if (count == 1) {
        snprintf(sub, sizeof sub, "%s/eval.json", pick);
        out = xc_path_join(dir, sub);
    } else if (count > 1) {
        xc_errorf("run '%s' has %d evaluations of split '%s' (%s): name the dataset (--dataset NAME)", dir, count,
                  split, found.s ? found.s : "");
    } else if (!dataset) {
        snprintf(sub, sizeof sub, "eval-%s/eval.json", split);
        out = xc_path_join(dir, sub);
        if (out && !xc_is_file(out)) {
            xc_errorf("run '%s' has no evaluation of split '%s': no folder eval-<dataset>-%s (run xraycls eval on it "
                      "first)", dir, split, split);
            free(out);
            out = NULL;
        }
    } else {
        xc_errorf("run '%s' has no evaluation of split '%s' of dataset '%s': no folder eval-%s-%s (run xraycls eval on "
                  "it first)", dir, split, dataset, dataset, split);
    }
    free(found.s);
    xc_strv_free(names, n);
    return out;
}

static int read_run(const char *dir, const char *split, const char *dataset, table_row *r) {
    memset(r, 0, sizeof *r);
    char *cfg_path = xc_path_join(dir, "config.json");
    char *ev_path = NULL;
    cJSON *cfg = NULL, *ev = NULL;
    int rc = -1;
    if (!cfg_path) {
        xc_errorf("table: out of memory");
        goto done;
    }
    if (!(cfg = xc_json_read_file(cfg_path, 16u << 20))) {
        xc_errorf("run '%s': %s", dir, xc_error());
        goto done;
    }
    if (!(ev_path = xc_report_find_eval(dir, split, dataset))) goto done;
    if (!xc_is_file(ev_path)) {
        xc_errorf("run '%s' has no evaluation of split '%s': '%s' is missing (run xraycls eval on it first)", dir,
                  split, ev_path);
        goto done;
    }
    if (!(ev = xc_json_read_file(ev_path, 64u << 20))) goto done;

    const cJSON *sec;
    const char *s;
    base_name(dir, r->name, sizeof r->name);
    if (xc_json_get_object(cfg, "", "output", 0, &sec) == 1 && xc_json_get_string(sec, "output", "name", 0, &s) == 1)
        snprintf(r->name, sizeof r->name, "%s", s);
    const char *arch = "?", *weights = "?", *loss = "?", *sampler = "?";
    int ok = xc_json_get_object(cfg, "", "model", 1, &sec) == 1 && xc_json_get_string(sec, "model", "arch", 1, &arch) == 1 &&
             xc_json_get_string(sec, "model", "weights", 1, &weights) == 1 &&
             xc_json_get_object(cfg, "", "loss", 1, &sec) == 1 && xc_json_get_string(sec, "loss", "type", 1, &loss) == 1;
    const cJSON *cw = ok ? cJSON_GetObjectItemCaseSensitive(sec, "class_weights") : NULL;
    ok = ok && xc_json_get_object(cfg, "", "data", 1, &sec) == 1 &&
         xc_json_get_string(sec, "data", "sampler", 1, &sampler) == 1;
    if (!ok) {
        xc_errorf("config '%s': %s", cfg_path, xc_error());
        goto done;
    }
    snprintf(r->arch, sizeof r->arch, "%s", arch);
    snprintf(r->weights, sizeof r->weights, "%s", weights);
    if (cJSON_IsString(cw)) snprintf(r->loss, sizeof r->loss, "%s+%s", loss, cw->valuestring);
    else if (cJSON_IsArray(cw)) snprintf(r->loss, sizeof r->loss, "%s+weights", loss);
    else snprintf(r->loss, sizeof r->loss, "%s", loss);
    snprintf(r->sampler, sizeof r->sampler, "%s", sampler);

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ev, "multilabel"))) {
        if (read_findings(ev, r) < 0) {
            xc_errorf("'%s': %s", ev_path, xc_error());
            goto done;
        }
        rc = 0;
        goto done;
    }
    const cJSON *classes, *pc;
    if (xc_json_get_array(ev, "", "classes", 1, &classes) < 0 || xc_json_get_object(ev, "", "per_class", 1, &pc) < 0) {
        xc_errorf("'%s': %s", ev_path, xc_error());
        goto done;
    }
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(ev, "task");
    if (cJSON_IsString(task)) snprintf(r->task, sizeof r->task, "%s", task->valuestring);
    else snprintf(r->task, sizeof r->task, "%d-class", cJSON_GetArraySize(classes));
    if (read_metric(ev, "", "accuracy", &r->m[T_ACC]) < 0 || read_metric(ev, "", "balanced_accuracy", &r->m[T_BAL]) < 0 ||
        read_metric(ev, "", "macro_f1", &r->m[T_F1]) < 0 || read_metric(ev, "", "macro_auroc", &r->m[T_AUROC]) < 0) {
        xc_errorf("'%s': %s", ev_path, xc_error());
        goto done;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, classes) {
        if (!cJSON_IsString(c) || !contains_covid(c->valuestring)) continue;
        const cJSON *e;
        if (xc_json_get_object(pc, "per_class", c->valuestring, 1, &e) < 0 ||
            read_metric(e, c->valuestring, "recall", &r->m[T_COVID]) < 0) {
            xc_errorf("'%s': %s", ev_path, xc_error());
            goto done;
        }
        break;
    }
    rc = 0;
done:
    cJSON_Delete(cfg);
    cJSON_Delete(ev);
    free(cfg_path);
    free(ev_path);
    return rc;
}

int xc_results_table(const char *const *run_dirs, int n, const char *split, const char *dataset, char **md,
                     char **csv) {
    *md = *csv = NULL;
    if (n < 1) return xc_errorf("table: no run folder given");
    table_row *rows = calloc((size_t)n, sizeof *rows);
    if (!rows) return xc_errorf("table: out of memory");
    for (int i = 0; i < n; i++)
        if (read_run(run_dirs[i], split, dataset, &rows[i]) < 0) {
            free(rows);
            return -1;
        }
    /* the findings of the multi-label runs, in order of first appearance */
    char (*fnames)[64] = calloc(T_MAX_FINDINGS, sizeof *fnames);
    int nf = 0;
    if (!fnames) {
        free(rows);
        return xc_errorf("table: out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < rows[i].nfindings; j++) {
            int seen = 0;
            for (int q = 0; q < nf && !seen; q++) seen = !strcmp(fnames[q], rows[i].findings[j]);
            if (!seen && nf < T_MAX_FINDINGS) snprintf(fnames[nf++], sizeof fnames[0], "%s", rows[i].findings[j]);
        }
    xc_strbuf m = {0};
    xc_csv_writer c = {0};
    char f[96];
    xc_strbuf_printf(&m, "| run | arch | weights | loss | sampler | task |");
    for (int j = 0; j < T_METRICS; j++) xc_strbuf_printf(&m, " %s |", T_MD_HEAD[j]);
    for (int j = 0; j < nf; j++) xc_strbuf_printf(&m, " AUROC %s |", fnames[j]);
    xc_strbuf_printf(&m, "\n|---|---|---|---|---|---|");
    for (int j = 0; j < T_METRICS + nf; j++) xc_strbuf_printf(&m, "---|");
    xc_strbuf_printf(&m, "\n");
    static const char *const row_head[6] = {"run", "arch", "weights", "loss", "sampler", "task"};
    for (int j = 0; j < 6; j++) xc_csv_field(&c, row_head[j]);
    for (int j = 0; j < T_METRICS; j++) {
        xc_csv_field(&c, T_HEAD[j]);
        xc_csv_fieldf(&c, "%s_ci_low", T_HEAD[j]);
        xc_csv_fieldf(&c, "%s_ci_high", T_HEAD[j]);
    }
    for (int j = 0; j < nf; j++) {
        xc_csv_fieldf(&c, "auroc:%s", fnames[j]);
        xc_csv_fieldf(&c, "auroc:%s_ci_low", fnames[j]);
        xc_csv_fieldf(&c, "auroc:%s_ci_high", fnames[j]);
    }
    xc_csv_end_row(&c);
    for (int i = 0; i < n; i++) {
        table_row *r = &rows[i];
        const char *text[6] = {r->name, r->arch, r->weights, r->loss, r->sampler, r->task};
        xc_strbuf_printf(&m, "|");
        for (int j = 0; j < 6; j++) {
            xc_strbuf_printf(&m, " ");
            md_cell(&m, text[j]);
            xc_strbuf_printf(&m, " |");
            xc_csv_field(&c, text[j]);
        }
        for (int j = 0; j < T_METRICS; j++) {
            xc_strbuf_printf(&m, " %s |", xc_metric_format(&r->m[j], f, sizeof f));
            xc_report_csv_cells(&c, &r->m[j], 1);
        }
        for (int j = 0; j < nf; j++) {
            xc_metric none = {0};
            const xc_metric *x = &none;
            for (int q = 0; q < r->nfindings; q++)
                if (!strcmp(r->findings[q], fnames[j])) x = &r->finding_auroc[q];
            xc_strbuf_printf(&m, " %s |", xc_metric_format(x, f, sizeof f));
            xc_report_csv_cells(&c, x, 1);
        }
        xc_strbuf_printf(&m, "\n");
        xc_csv_end_row(&c);
    }
    free(fnames);
    free(rows);
    *md = xc_strbuf_take(&m, "table");
    *csv = xc_csv_take(&c, "table");
    if (!*md || !*csv) {
        free(*md);
        free(*csv);
        *md = *csv = NULL;
        return xc_errorf("table: out of memory");
    }
    return 0;
}
