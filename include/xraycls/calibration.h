/* xraycls/calibration.h — the temperature a model file carries (`xraycls calibrate`), and
 * applying it.
 *
 * What it is: the metadata entry "xraycls.calibration" of a model file or checkpoint — JSON
 *   {"method": "temperature", "temperature": T, "data": ABS_DIR, "split": "val", "n": N,
 *    "nll_before", "nll_after", "ece_before", "ece_after", "bins": B, "tta", "utc", "version",
 *    "operating_points": {"applied": "youden", "target_sensitivity": s, "target_specificity": p,
 *        "classes": [C…], "thresholds": [[youden, sensitivity, specificity] per class: null
 *        where undefined, "inf" where nothing is called positive], "sensitivity": [[…]],
 *        "specificity": [[…]]}}
 * (ECE: top-label, equal-width bins; the operating points are one-vs-rest thresholds on the
 * calibrated probabilities of the same split, with the sensitivity and specificity they had
 * there) — reading it, writing a new model file that holds it, and the calibrated
 * probabilities softmax(z / T). What it is not: fitting T (xc_fit_temperature in
 * xraycls/stats.h) or running the model. Torch-free.
 *
 * Failure: -1 with xc_error() naming the file and key.
 */
#ifndef XRAYCLS_CALIBRATION_H
#define XRAYCLS_CALIBRATION_H

#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/metrics.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XC_CALIBRATION_KEY "xraycls.calibration"
#define XC_CAL_MAX_CLASSES 64 /* classes whose operating points a model file can hold */

typedef struct {
    int present;          /* 0: the file carries no calibration (the rest unset) */
    double temperature;   /* > 0 */
    char split[64];       /* the split it was fitted on */
    char data[1024];      /* that dataset (absolute path), "" when unknown */
    long long n;          /* images it was fitted on */
    double nll_before, nll_after, ece_before, ece_after; /* on that split (NaN: unknown) */
    int bins;
    char tta[16];         /* the test-time augmentation of the logits T was fitted on ("none",
                             "flip", "tencrop"), "" when not recorded */
    /* Operating points chosen on the same split (optional): nops classes (0: none; else the
     * model's class count) × XC_OP_RULES, class c's rule r at c * XC_OP_RULES + r (rule, target,
     * defined, threshold, source_sensitivity and source_specificity set), and the rule predict
     * applies to a two-class model. */
    int nops;
    xc_op_point ops[XC_CAL_MAX_CLASSES * XC_OP_RULES];
    xc_op_rule applied;
} xc_calibration;

/* Reads the calibration of model file `path` (only its header). 0 (c->present says whether it
 * has one), or -1 (unreadable file, malformed entry). */
int xc_calibration_read(const char *path, xc_calibration *c);

/* Writes `dst`, atomically: every tensor and metadata entry of model file `src` with
 * XC_CALIBRATION_KEY set to c (replacing an earlier one); classes (c->nops names, the model's
 * order) label the operating points; utc/version recorded when not NULL.
 * dst must not be src (the input is never changed in place); an existing dst is refused unless
 * overwrite. */
int xc_calibration_write_model(const char *src, const char *dst, const xc_calibration *c,
                               const char *const *classes, const char *utc, const char *version, int overwrite);

/* probs (k) = softmax(logits / T). */
void xc_softmax_temperature(const float *logits, int k, double temperature, float *probs);

/* In place, probabilities p (k, a softmax output) to softmax(z / T): p_c^(1/T) normalised —
 * the same up to float rounding, for callers that see only probabilities (predict). */
void xc_probs_temperature(float *p, int k, double temperature);

/* When the model file's temperature was fitted under another test-time augmentation than the
 * one in use (tta: "none", "flip", "tencrop"), a warning on stderr naming both (cmd: "eval"). */
void xc_calibration_check_tta(const xc_calibration *c, const char *tta, const char *cmd);

/* "temperature 1.83 (fitted on split val of /data/x, 412 images; xraycls calibrate)" into buf
 * ("temperature 1.83 and operating points (…)" when it holds them). */
char *xc_calibration_note(const xc_calibration *c, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
