/* prepare_internal.h — what the prepare_*.c files share and nothing outside src/prepare uses:
 * growing the audit, growing the image list, small string helpers. All return 0 / -1 (out of
 * memory, with a message) like the rest. */
#ifndef XRAYCLS_PREPARE_INTERNAL_H
#define XRAYCLS_PREPARE_INTERNAL_H

#include <cjson/cJSON.h>

#include "xraycls/image.h"
#include "xraycls/csv.h"
#include "xraycls/prepare.h"

/* Copies the class names into the audit and allocates its zeroed counts. */
int prep_audit_set_classes(xc_prep_audit *a, const char *const *classes, int n);
/* Counts one row left out for `reason`. */
int prep_audit_exclude(xc_prep_audit *a, const char *reason);
int prep_audit_missing(xc_prep_audit *a, const char *file);
int prep_audit_unreadable(xc_prep_audit *a, const char *file, const char *why);
/* Adds a duplicate group (files copied). */
int prep_audit_dup(xc_prep_audit *a, const char *kind, const char *const *files, int n);
int prep_audit_warn(xc_prep_audit *a, const char *fmt, ...) XC_PRINTF(2, 3);

/* Appends an item (path and file copied). */
int prep_list_add(xc_prep_list *l, const char *path, const char *file, int label, xc_split split,
                  int line);
/* Appends a multi-label item: its K values XC_FINDING_* (copied), label 0. */
int prep_list_add_findings(xc_prep_list *l, const char *path, const char *file, const uint8_t *findings,
                           int k, xc_split split, int line);

/* The sorted entries of a folder (without "." ".." and hidden names) that are folders
 * (want_dirs = 1) or regular files (0). *out: malloc'd array of malloc'd names. */
int prep_list_dir(const char *dir, int want_dirs, char ***out, int *n);
void prep_free_strv(char **v, int n);
/* Adds a copy of name to the sorted list *v of *n unique names (nothing when it is there). */
int prep_add_sorted_unique(char ***v, int *n, const char *name);
/* A string formatted into new memory, or NULL (message set). */
char *prep_strdupf(const char *fmt, ...) XC_PRINTF(1, 2);

/* Writes the prepared folder o->out from the decoded list (prepare_write.c): images holds
 * l->n images in list order, grouped by split. */
int prep_write_all(const xc_prepare_opts *o, const xc_prep_list *l, const uint8_t *images, const char *val_mode);

/* The sources, filling l (classes, items, excluded, source_json). */
int prep_source_coronahack(const xc_prepare_opts *o, xc_prep_list *l);
int prep_source_folder(const xc_prepare_opts *o, xc_prep_list *l);
int prep_source_csv(const xc_prepare_opts *o, xc_prep_list *l);
/* The multi-label csv source (prepare_findings.c). */
int prep_source_csv_findings(const xc_prepare_opts *o, xc_prep_list *l);
/* The directory part of a path ("." without one), malloc'd. */
char *prep_dirname(const char *path);
/* Applies on_unknown_label to a bad row: an error naming the row, or an exclusion. */
int prep_unknown_row(const xc_prepare_opts *o, xc_prep_list *l, const xc_csv *c, int row,
                     const char *index, const char *msg);

/* Patients (prepare_patient.c): the given splits' shared patients (an error unless allowed, or
 * a warning, prepare.h "Patients"); the patient counts of the audit; its JSON and clearing. */
int prep_patient_check_given(const xc_prepare_opts *o, xc_prep_list *l);
int prep_patient_count(xc_prep_list *l);
void prep_patient_json(const xc_prep_audit *a, cJSON *o);
void prep_patient_clear(xc_prep_audit *a);

/* Near duplicates and display records (prepare_neardup.c). Each image is hashed whole and with
 * prep_near_crops[v] of each side cropped (xc_image_dct8), so that a slightly cropped copy meets
 * a crop of its original. coef[i][v]: item i's coefficients; ok[i]: item i decoded. The hashes
 * threshold each coefficient at its median over the decoded images; a pair's distance is the
 * least over (whole, whole) and (crop of one, whole other). Pairs of identical files (equal
 * bytes_hash) are left to the identical-bytes check. */
#define XC_NEAR_VARIANTS 3
extern const double prep_near_crops[XC_NEAR_VARIANTS];
int prep_near_duplicates(const xc_prep_item *items, int64_t n, const float (*coef)[XC_NEAR_VARIANTS][64],
                         const uint64_t *bytes_hash, const unsigned char *ok, int distance, xc_prep_audit *a);
int prep_display_add(xc_prep_audit *a, const char *file, const xc_image_info *info);
cJSON *prep_display_json(const xc_prep_audit *a); /* {file: {...}}, for dataset.json too */
void prep_neardup_json(const xc_prep_audit *a, cJSON *o); /* near_duplicates and display */
void prep_neardup_clear(xc_prep_audit *a);

#endif
