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
        else if (copy_str(c->split, sizeof c->split, j, "split") < 0 || copy_str(c->data, sizeof c->data, j, "data") < 0)
            rc = xc_errorf("%s: \"split\" or \"data\" too long", what);
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

int xc_calibration_write_model(const char *src, const char *dst, const xc_calibration *c, const char *utc,
                               const char *version, int overwrite) {
    if (!c || !c->present || !(c->temperature > 0)) return xc_errorf("calibration: no temperature to write");
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

char *xc_calibration_note(const xc_calibration *c, char *buf, size_t cap) {
    snprintf(buf, cap, "temperature %.6g (fitted on split %s%s%s, %lld images; xraycls calibrate)", c->temperature,
             c->split[0] ? c->split : "?", c->data[0] ? " of " : "", c->data, c->n);
    return buf;
}
