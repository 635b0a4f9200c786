/* prepare_internal.h — what the prepare_*.c files share and nothing outside src/prepare uses:
 * growing the audit, growing the image list, small string helpers. All return 0 / -1 (out of
 * memory, with a message) like the rest. */
#ifndef XRAYCLS_PREPARE_INTERNAL_H
#define XRAYCLS_PREPARE_INTERNAL_H

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

/* Whether a file name ends in .png, .jpg or .jpeg (any case). */
int prep_is_image_name(const char *name);
/* The sorted entries of a folder (without "." ".." and hidden names) that are folders
 * (want_dirs = 1) or regular files (0). *out: malloc'd array of malloc'd names. */
int prep_list_dir(const char *dir, int want_dirs, char ***out, int *n);
void prep_free_strv(char **v, int n);
/* A string formatted into new memory, or NULL (message set). */
char *prep_strdupf(const char *fmt, ...) XC_PRINTF(1, 2);

/* The sources, filling l (classes, items, excluded, source_json). */
int prep_source_coronahack(const xc_prepare_opts *o, xc_prep_list *l);
int prep_source_folder(const xc_prepare_opts *o, xc_prep_list *l);
int prep_source_csv(const xc_prepare_opts *o, xc_prep_list *l);

#endif
