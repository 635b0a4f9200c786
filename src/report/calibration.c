/* calibration.c — the temperature of a model file (xraycls/calibration.h): its metadata entry,
 * a new model file holding it, and softmax(z / T). */
#define _XOPEN_SOURCE 700
#include "xraycls/calibration.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xraycls/json.h"
#include "xraycls/safetensors.h"

static int copy_str(char *dst, size_t cap, const cJSON *o, const char *key) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(s)) return dst[0] = 0, 0;
    if (strlen(s->valuestring) >= cap) return -1;
    memcpy(dst, s->valuestring, strlen(s->valuestring) + 1);
    return 0;
}

static double num_or_nan(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* One row of k rule values: numbers, or null where undefined (NaN). */
static int ops_row(const cJSON *rows, int c, const char *what, const char *key, double v[XC_OP_RULES]) {
    const cJSON *row = cJSON_GetArrayItem(rows, c);
    if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != XC_OP_RULES)
        return xc_errorf("%s: operating_points.%s[%d] must hold %d numbers or nulls", what, key, c, XC_OP_RULES);
    for (int r = 0; r < XC_OP_RULES; r++) {
        const cJSON *x = cJSON_GetArrayItem(row, r);
        if (cJSON_IsNull(x)) v[r] = NAN;
        else if (cJSON_IsString(x) && !strcmp(x->valuestring, "inf")) v[r] = INFINITY; /* calls nothing positive */
        else if (cJSON_IsNumber(x) && isfinite(x->valuedouble)) v[r] = x->valuedouble;
        else return xc_errorf("%s: operating_points.%s[%d][%d] is not a number, \"inf\" or null", what, key, c, r);
    }
    return 0;
}

static int read_ops(const cJSON *o, const char *what, xc_calibration *c) {
    if (!o) return 0;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(o, "thresholds");
    const cJSON *se = cJSON_GetObjectItemCaseSensitive(o, "sensitivity");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "specificity");
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(o, "applied");
    int k = cJSON_GetArraySize(th);
    if (!cJSON_IsArray(th) || k < 2 || k > XC_CAL_MAX_CLASSES || !cJSON_IsArray(se) || !cJSON_IsArray(sp) ||
        cJSON_GetArraySize(se) != k || cJSON_GetArraySize(sp) != k)
        return xc_errorf("%s: operating_points needs thresholds, sensitivity and specificity for 2 to %d classes",
                         what, XC_CAL_MAX_CLASSES);
    int applied = -1;
    for (int r = 0; r < XC_OP_RULES; r++)
        if (cJSON_IsString(ap) && !strcmp(ap->valuestring, xc_op_rule_name((xc_op_rule)r))) applied = r;
    if (applied < 0) return xc_errorf("%s: operating_points.applied must be youden, sensitivity or specificity", what);
    double ts = num_or_nan(o, "target_sensitivity"), tp = num_or_nan(o, "target_specificity");
    for (int cl = 0; cl < k; cl++) {
        double t[XC_OP_RULES], s[XC_OP_RULES], p[XC_OP_RULES];
        if (ops_row(th, cl, what, "thresholds", t) < 0 || ops_row(se, cl, what, "sensitivity", s) < 0 ||
            ops_row(sp, cl, what, "specificity", p) < 0)
            return -1;
        for (int r = 0; r < XC_OP_RULES; r++) {
            xc_op_point *x = &c->ops[cl * XC_OP_RULES + r];
            memset(x, 0, sizeof *x);
            x->rule = (xc_op_rule)r;
            x->target = r == XC_OP_YOUDEN ? NAN : r == XC_OP_SENSITIVITY ? ts : tp;
            x->defined = !isnan(t[r]);
            x->threshold = t[r];
            x->source_sensitivity = s[r];
            x->source_specificity = p[r];
        }
    }
    c->nops = k;
    c->applied = (xc_op_rule)applied;
    return 0;
}

int xc_calibration_read(const char *path, xc_calibration *c) {
    memset(c, 0, sizeof *c);
    xc_st_file *f = xc_st_open(path);
    if (!f) return -1;
    const char *s = xc_st_meta(f, XC_CALIBRATION_KEY);
    int rc = 0;
    if (s) {
        char what[1200];
        snprintf(what, sizeof what, "'%s' metadata %s", path, XC_CALIBRATION_KEY);
        cJSON *j = xc_json_parse(s, strlen(s), what);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "method");
        double t = 0;
        long long n = 0;
        if (!j) rc = -1;
        else if (!cJSON_IsString(m) || strcmp(m->valuestring, "temperature"))
            rc = xc_errorf("%s: \"method\" must be \"temperature\"", what);
        else if (xc_json_get_double_in(j, what, "temperature", 1, 1e-3, 1e3, &t) < 0 ||
                 xc_json_get_int_in(j, what, "n", 0, 0, INT64_MAX / 2, &n) < 0)
            rc = -1;
        else if (copy_str(c->split, sizeof c->split, j, "split") < 0 || copy_str(c->data, sizeof c->data, j, "data") < 0 ||
                 copy_str(c->tta, sizeof c->tta, j, "tta") < 0)
            rc = xc_errorf("%s: \"split\", \"data\" or \"tta\" too long", what);
        else {
            c->present = 1;
            c->temperature = t;
            c->n = n;
            c->nll_before = num_or_nan(j, "nll_before");
            c->nll_after = num_or_nan(j, "nll_after");
            c->ece_before = num_or_nan(j, "ece_before");
            c->ece_after = num_or_nan(j, "ece_after");
            double b = num_or_nan(j, "bins");
            c->bins = isfinite(b) ? (int)b : 0;
            rc = read_ops(cJSON_GetObjectItemCaseSensitive(j, "operating_points"), what, c);
        }
        cJSON_Delete(j);
    }
    xc_st_close(f);
    if (rc < 0) memset(c, 0, sizeof *c);
    return rc;
}

static void num_or_null(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *ops_json(const xc_calibration *c, const char *const *classes) {
    cJSON *o = cJSON_CreateObject(), *names = cJSON_AddArrayToObject(o, "classes");
    cJSON_AddStringToObject(o, "applied", xc_op_rule_name(c->applied));
    num_or_null(o, "target_sensitivity", c->ops[XC_OP_SENSITIVITY].target);
    num_or_null(o, "target_specificity", c->ops[XC_OP_SPECIFICITY].target);
    cJSON *th = cJSON_AddArrayToObject(o, "thresholds"), *se = cJSON_AddArrayToObject(o, "sensitivity"),
          *sp = cJSON_AddArrayToObject(o, "specificity");
    for (int cl = 0; cl < c->nops; cl++) {
        cJSON_AddItemToArray(names, cJSON_CreateString(classes ? classes[cl] : ""));
        cJSON *a = cJSON_CreateArray(), *b = cJSON_CreateArray(), *d = cJSON_CreateArray();
        for (int r = 0; r < XC_OP_RULES; r++) {
            const xc_op_point *x = &c->ops[cl * XC_OP_RULES + r];
            cJSON_AddItemToArray(a, !x->defined             ? cJSON_CreateNull()
                                    : isinf(x->threshold) ? cJSON_CreateString("inf")
                                                          : cJSON_CreateNumber(x->threshold));
            cJSON_AddItemToArray(b, x->defined ? cJSON_CreateNumber(x->source_sensitivity) : cJSON_CreateNull());
            cJSON_AddItemToArray(d, x->defined ? cJSON_CreateNumber(x->source_specificity) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(th, a);
        cJSON_AddItemToArray(se, b);
        cJSON_AddItemToArray(sp, d);
    }
    return o;
}

int xc_calibration_write_model(const char *src, const char *dst, const xc_calibration *c,
                               const char *const *classes, const char *utc, const char *version, int overwrite) {
    if (!c || !c->present || !(c->temperature > 0)) return xc_errorf("calibration: no temperature to write");
    if (c->nops < 0 || c->nops > XC_CAL_MAX_CLASSES) return xc_errorf("calibration: %d classes of operating points", c->nops);
    struct stat ss, ds;
    if (stat(dst, &ds) == 0) {
        if (stat(src, &ss) == 0 && ss.st_dev == ds.st_dev && ss.st_ino == ds.st_ino)
            return xc_errorf("'%s' is the input model itself: a calibrated model is written to a new file (-o)", dst);
        if (!overwrite) return xc_errorf("'%s' exists: it is never replaced silently (--overwrite replaces it)", dst);
    }
    xc_st_file *f = xc_st_open(src);
    if (!f) return -1;
    xc_st_writer *w = xc_st_writer_new();
    int rc = w ? 0 : xc_errorf("out of memory");
    for (int i = 0; rc == 0 && i < xc_st_count(f); i++) {
        const xc_st_tensor *t = xc_st_at(f, i);
        rc = xc_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, t->nbytes);
    }
    for (int i = 0; rc == 0 && i < xc_st_meta_count(f); i++) {
        const char *k, *v;
        xc_st_meta_at(f, i, &k, &v);
        rc = xc_st_writer_meta(w, k, v);
    }
    if (rc == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "method", "temperature");
        cJSON_AddNumberToObject(j, "temperature", c->temperature);
        cJSON_AddStringToObject(j, "data", c->data);
        cJSON_AddStringToObject(j, "split", c->split);
        cJSON_AddNumberToObject(j, "n", (double)c->n);
        num_or_null(j, "nll_before", c->nll_before);
        num_or_null(j, "nll_after", c->nll_after);
        num_or_null(j, "ece_before", c->ece_before);
        num_or_null(j, "ece_after", c->ece_after);
        cJSON_AddNumberToObject(j, "bins", c->bins);
        if (c->tta[0]) cJSON_AddStringToObject(j, "tta", c->tta);
        if (c->nops > 0) cJSON_AddItemToObject(j, "operating_points", ops_json(c, classes));
        if (utc) cJSON_AddStringToObject(j, "utc", utc);
        if (version) cJSON_AddStringToObject(j, "version", version);
        rc = xc_st_writer_meta_json(w, XC_CALIBRATION_KEY, j);
    }
    if (rc == 0) rc = xc_st_writer_write(w, dst);
    xc_st_writer_free(w);
    xc_st_close(f);
    return rc;
}

void xc_softmax_temperature(const float *logits, int k, double temperature, float *probs) {
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < k; c++) mx = fmax(mx, logits[c] / temperature);
    for (int c = 0; c < k; c++) sum += exp(logits[c] / temperature - mx);
    for (int c = 0; c < k; c++) probs[c] = (float)(exp(logits[c] / temperature - mx) / sum);
}

void xc_probs_temperature(float *p, int k, double temperature) {
    /* log p_c = z_c - logsumexp(z): dividing by T and normalising gives softmax(z / T) */
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < k; c++) mx = fmax(mx, log(p[c]) / temperature);
    if (!isfinite(mx)) return;
    for (int c = 0; c < k; c++) sum += exp(log(p[c]) / temperature - mx);
    for (int c = 0; c < k; c++) p[c] = (float)(exp(log(p[c]) / temperature - mx) / sum);
}

void xc_calibration_check_tta(const xc_calibration *c, const char *tta, const char *cmd) {
    const char *fitted = c->tta[0] ? c->tta : "none"; /* files written before it was recorded: none */
    if (c->present && strcmp(fitted, tta) != 0)
        fprintf(stderr, "warning: %s: the model file's temperature was fitted on the logits of test-time augmentation "
                        "'%s', this run uses '%s': its calibration does not carry over (calibrate again with --tta %s)\n",
                cmd, fitted, tta, tta);
}

char *xc_calibration_note(const xc_calibration *c, char *buf, size_t cap) {
    snprintf(buf, cap, "temperature %.6g%s (fitted on split %s%s%s, %lld images; xraycls calibrate)", c->temperature,
             c->nops ? " and operating points" : "", c->split[0] ? c->split : "?", c->data[0] ? " of " : "", c->data,
             c->n);
    return buf;
}
