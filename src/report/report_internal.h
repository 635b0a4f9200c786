/* report_internal.h — what the report_*.c / metrics_*.c files of src/report share and nothing
 * outside uses. */
#ifndef XRAYCLS_REPORT_INTERNAL_H
#define XRAYCLS_REPORT_INTERNAL_H

#include <cjson/cJSON.h>

#include "xraycls/csv.h"
#include "xraycls/metrics.h"
#include "xraycls/report.h"

/* A metric as eval.json writes it: {"value", "ci_low", "ci_high", "method"[, "degenerate"]
 * [, "absent": true]} (xraycls/report.h). NULL when out of memory. */
cJSON *xc_report_metric_json(const xc_metric *m);
/* A metric as CSV cells: its value (%.6f) and, with_ci, its interval's ends; empty fields where
 * absent or without interval (xraycls/csv.h: a missing value is an empty field). */
void xc_report_csv_cells(xc_csv_writer *w, const xc_metric *x, int with_ci);

/* eval.json's "provenance" object (xraycls/report.h). NULL when out of memory. */
cJSON *xc_report_provenance_json(const xc_provenance *p);
/* eval.json's "tta" object (xraycls/report.h), added to root when p->tta is set. */
void xc_report_tta_json(cJSON *root, const xc_provenance *p);
/* The Markdown line on the test-time augmentation ("" when p->tta is not set), into buf. */
const char *xc_report_tta_line(const xc_provenance *p, char *buf, size_t cap);

/* Writes text (malloc'd, freed here; NULL: a failure already reported) to dir/name
 * atomically. 0, or -1 with a message. */
int xc_report_write_doc(const char *dir, const char *name, char *text);

/* The evaluation folder of run folder `dir` for a split: RUN/eval-<dataset>-<split> (dataset
 * given, or the only such folder; several: an error naming them), else the older
 * RUN/eval-<split>. malloc'd path of its eval.json, or NULL with a message. */
char *xc_report_find_eval(const char *dir, const char *split, const char *dataset);

#endif
