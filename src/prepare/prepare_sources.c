/* prepare_sources.c — the three sources of `xraycls prepare`, each turning its input into the
 * list of images with classes and splits (prepare.h):
 *   coronahack  the Kaggle download as is: Chest_xray_Corona_Metadata.csv read by column name,
 *               images found under the root (default layout, a search, or given folders);
 *   folder      root/<class>/ with .png/.jpg/.jpeg files, optionally under root/{train,val,test}/;
 *   csv         `path,label[,split]` rows, with or without that header.
 * Whether the files exist is checked afterwards, once for every source (prepare.c). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "prepare_internal.h"
#include "xraycls/csv.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"

#define CORONAHACK_CSV "Chest_xray_Corona_Metadata.csv"
#define CORONAHACK_IMAGES "Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset"

/* The file name recorded for path: relative to root when path lies under it. */
static const char *relative_to(const char *path, const char *root) {
    if (!root || !*root) return path;
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') n--;
    if (n == 1 && root[0] == '.') return path[0] == '.' && path[1] == '/' ? path + 2 : path;
    if (!strncmp(path, root, n) && path[n] == '/') return path + n + 1;
    return path;
}

/* The folder of a path ("." when it has none), malloc'd. */
char *prep_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return prep_strdupf("%.*s", (int)(slash - path), path);
}

/* Applies the unknown-value policy: an error naming the row, or an exclusion counted under the
 * message. */
int prep_unknown_row(const xc_prepare_opts *o, xc_prep_list *l, const xc_csv *c, int row,
                     const char *index, const char *msg) {
    if (o->on_unknown_label == XC_POLICY_SKIP) return prep_audit_exclude(&l->audit, msg);
    if (index && *index)
        return xc_errorf("'%s' line %d (index %s): %s (--on-unknown-label skip leaves such rows out)",
                         xc_csv_what(c), xc_csv_line(c, row), index, msg);
    return xc_errorf("'%s' line %d: %s (--on-unknown-label skip leaves such rows out)", xc_csv_what(c),
                     xc_csv_line(c, row), msg);
}

/* ---- coronahack ----------------------------------------------------------------------------- */

/* Finds a folder named `name` (any case) below root, at most `depth` levels down, that holds the
 * file `probe`. Folders are visited in sorted order, breadth first. NULL when none. */
static char *search_split_dir(const char *root, const char *name, const char *probe, int depth) {
    char **level = malloc(sizeof *level);
    int nlevel = 1;
    char *found = NULL;
    if (!level || !(level[0] = strdup(root))) {
        free(level);
        return NULL;
    }
    for (int d = 0; d < depth && nlevel > 0 && !found; d++) {
        char **next = NULL;
        int nnext = 0, capnext = 0;
        for (int i = 0; i < nlevel && !found; i++) {
            char **subs;
            int nsubs;
            if (prep_list_dir(level[i], 1, &subs, &nsubs) < 0) continue;
            for (int j = 0; j < nsubs && !found; j++) {
                char *p = xc_path_join(level[i], subs[j]);
                if (!p) continue;
                if (!strcasecmp(subs[j], name)) {
                    char *f = xc_path_join(p, probe);
                    if (f && xc_is_file(f)) found = strdup(p);
                    free(f);
                }
                if (nnext == capnext) {
                    capnext = capnext ? capnext * 2 : 16;
                    char **q = realloc(next, (size_t)capnext * sizeof *q);
                    if (!q) { free(p); continue; }
                    next = q;
                }
                next[nnext++] = p;
            }
            prep_free_strv(subs, nsubs);
        }
        prep_free_strv(level, nlevel);
        level = next;
        nlevel = nnext;
    }
    prep_free_strv(level, nlevel);
    xc_error_clear();
    return found;
}

/* An explicit image folder: absolute as is; relative, tried under root first. */
static char *resolve_given_dir(const char *root, const char *dir, const char *what) {
    if (dir[0] != '/' && root) {
        char *p = xc_path_join(root, dir);
        if (p && xc_is_dir(p)) return p;
        free(p);
    }
    if (xc_is_dir(dir)) return strdup(dir);
    if (dir[0] != '/' && root)
        xc_errorf("%s folder '%s' not found (looked in '%s/%s' and '%s')", what, dir, root, dir, dir);
    else
        xc_errorf("%s folder '%s' not found", what, dir);
    return NULL;
}

int prep_source_coronahack(const xc_prepare_opts *o, xc_prep_list *l) {
    int rc = -1;
    char *root = NULL, *csvpath = NULL, *dirs[2] = {NULL, NULL};
    xc_csv *c = NULL;
    xc_task *preset = NULL;
    cJSON *src = NULL;

    if (!o->root && !o->csv) return xc_errorf("coronahack: give the dataset folder (--root) or its metadata (--csv)");
    if (o->root) {
        if (!xc_is_dir(o->root)) return xc_errorf("coronahack: root '%s' is not a folder", o->root);
        root = strdup(o->root);
    } else {
        root = prep_dirname(o->csv);
    }
    csvpath = o->csv ? strdup(o->csv) : xc_path_join(root, CORONAHACK_CSV);
    if (!root || !csvpath) { xc_errorf("out of memory"); goto done; }
    if (!xc_is_file(csvpath)) {
        xc_errorf("coronahack: no metadata file '%s'%s", csvpath, o->csv ? "" : " (give it with --csv)");
        goto done;
    }
    const xc_task *task = o->task;
    if (!task) {
        if (!(preset = xc_task_preset(o->task_name ? o->task_name : "4class", o->exclude_covid))) goto done;
        task = preset;
    }
    const char *names[64];
    for (int k = 0; k < xc_task_num_classes(task) && k < 64; k++) names[k] = xc_task_class(task, k);
    if (prep_audit_set_classes(&l->audit, names, xc_task_num_classes(task)) < 0) goto done;

    if (!(c = xc_csv_read(csvpath, 1))) goto done;
    int c_name = xc_csv_require_col(c, "X_ray_image_name");
    int c_label = c_name < 0 ? -1 : xc_csv_require_col(c, "Label");
    int c_type = c_label < 0 ? -1 : xc_csv_require_col(c, "Dataset_type");
    int c_l1 = c_type < 0 ? -1 : xc_csv_require_col(c, "Label_1_Virus_category");
    int c_l2 = c_l1 < 0 ? -1 : xc_csv_require_col(c, "Label_2_Virus_category");
    if (c_l2 < 0) goto done;
    int c_index = xc_csv_col(c, ""); /* the unnamed index column of the real file */

    /* The image folders: given, the download's layout, or found by name. */
    static const char *const split_dirs[2] = {"train", "test"};
    const char *given[2] = {o->train_dir, o->test_dir};
    for (int s = 0; s < 2; s++) {
        if (given[s]) {
            if (!(dirs[s] = resolve_given_dir(root, given[s], s ? "test" : "train"))) goto done;
            continue;
        }
        char *p = prep_strdupf("%s/%s/%s", root, CORONAHACK_IMAGES, split_dirs[s]);
        if (!p) goto done;
        if (xc_is_dir(p)) { dirs[s] = p; continue; }
        free(p);
        const char *probe = NULL;
        for (int r = 0; r < xc_csv_rows(c) && !probe; r++)
            if (!strcasecmp(xc_csv_get(c, r, c_type), s ? "TEST" : "TRAIN") && *xc_csv_get(c, r, c_name))
                probe = xc_csv_get(c, r, c_name);
        if (!probe) continue; /* no row of this split: no folder needed */
        dirs[s] = search_split_dir(root, split_dirs[s], probe, 4);
        if (!dirs[s]) {
            if (o->on_missing != XC_POLICY_SKIP) {
                xc_errorf("coronahack: no folder of %s images under '%s': looked for '%s/%s' and for a "
                          "folder named '%s' holding '%s' (give it with --%s-dir)",
                          s ? "TEST" : "TRAIN", root, CORONAHACK_IMAGES, split_dirs[s], split_dirs[s], probe,
                          split_dirs[s]);
                goto done;
            }
            if (prep_audit_warn(&l->audit, "no folder of %s images found under '%s': all of them are missing",
                                s ? "TEST" : "TRAIN", root) < 0)
                goto done;
            if (!(dirs[s] = prep_strdupf("%s/%s/%s", root, CORONAHACK_IMAGES, split_dirs[s]))) goto done;
        }
    }

    for (int r = 0; r < xc_csv_rows(c); r++) {
        const char *index = c_index >= 0 ? xc_csv_get(c, r, c_index) : NULL;
        const char *name = xc_csv_get(c, r, c_name);
        const char *type = xc_csv_get(c, r, c_type);
        char why[512];
        int s;
        if (!strcasecmp(type, "TRAIN")) s = 0;
        else if (!strcasecmp(type, "TEST")) s = 1;
        else {
            snprintf(why, sizeof why, "unknown Dataset_type value '%s'", type);
            if (prep_unknown_row(o, l, c, r, index, why) < 0) goto done;
            continue;
        }
        int k = xc_task_map(task, xc_csv_get(c, r, c_label), xc_csv_get(c, r, c_l1), xc_csv_get(c, r, c_l2),
                            why, sizeof why);
        if (k == XC_TASK_UNKNOWN) {
            if (prep_unknown_row(o, l, c, r, index, why) < 0) goto done;
            continue;
        }
        if (k == XC_TASK_EXCLUDED) {
            if (prep_audit_exclude(&l->audit, why) < 0) goto done;
            continue;
        }
        if (!*name || strchr(name, '/') || !strcmp(name, "..")) {
            snprintf(why, sizeof why, "bad X_ray_image_name '%s'", name);
            if (prep_unknown_row(o, l, c, r, index, why) < 0) goto done;
            continue;
        }
        char *path = xc_path_join(dirs[s], name);
        if (!path) goto done;
        int e = prep_list_add(l, path, relative_to(path, root), k, s ? XC_SPLIT_TEST : XC_SPLIT_TRAIN,
                              xc_csv_line(c, r));
        free(path);
        if (e < 0) goto done;
    }

    char *tj = xc_task_json(task);
    src = cJSON_CreateObject();
    if (!tj || !src) { free(tj); xc_errorf("out of memory"); goto done; }
    cJSON_AddStringToObject(src, "kind", "coronahack");
    cJSON_AddStringToObject(src, "root", root);
    cJSON_AddStringToObject(src, "csv", csvpath);
    for (int s = 0; s < 2; s++) {
        const char *key = s ? "test_dir" : "train_dir";
        if (dirs[s]) cJSON_AddStringToObject(src, key, dirs[s]);
        else cJSON_AddNullToObject(src, key);
    }
    cJSON_AddItemToObject(src, "task", cJSON_Parse(tj));
    free(tj);
    if (!(l->source_json = cJSON_PrintUnformatted(src))) { xc_errorf("out of memory"); goto done; }
    rc = 0;
done:
    cJSON_Delete(src);
    xc_csv_free(c);
    xc_task_free(preset);
    free(root);
    free(csvpath);
    free(dirs[0]);
    free(dirs[1]);
    return rc;
}

/* ---- folder ---------------------------------------------------------------------------------- */

/* The classes of l: o->classes, or the sorted union of the names found. */
static int set_classes(const xc_prepare_opts *o, xc_prep_list *l, char **found, int nfound) {
    if (o->nclasses > 0) return prep_audit_set_classes(&l->audit, (const char *const *)o->classes, o->nclasses);
    return prep_audit_set_classes(&l->audit, (const char *const *)found, nfound);
}

static int class_index(const xc_prep_list *l, const char *name) {
    for (int k = 0; k < l->audit.nclasses; k++)
        if (!strcmp(l->audit.classes[k], name)) return k;
    return -1;
}

/* Adds name to the sorted unique list *v of *n names (prepare_internal.h). */
int prep_add_sorted_unique(char ***v, int *n, const char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp((*v)[i], name)) return 0;
    char **q = realloc(*v, (size_t)(*n + 1) * sizeof *q);
    if (!q) return xc_errorf("out of memory");
    *v = q;
    if (!(q[*n] = strdup(name))) return xc_errorf("out of memory");
    (*n)++;
    for (int i = *n - 1; i > 0 && strcmp(q[i - 1], q[i]) > 0; i--) {
        char *t = q[i];
        q[i] = q[i - 1];
        q[i - 1] = t;
    }
    return 0;
}

/* Adds the images of dir (one class folder) to l. Files in its sub-folders are not searched but
 * counted in the audit ("in a sub-folder of a class folder"), as are entries passed over (FIFOs,
 * broken links, hidden files): nothing that may be an input goes unmentioned. A class folder
 * with sub-folders of images and none of its own means --root names the wrong level. */
static int add_class_folder(const xc_prepare_opts *o, xc_prep_list *l, const char *dir, int k, xc_split s,
                            const char *cls) {
    char **files, **passed;
    int64_t nfiles, npassed;
    if (xc_walk_report(dir, XC_WALK_FILES | XC_WALK_RECURSIVE, NULL, &files, &nfiles, &passed, &npassed) < 0) return -1;
    int rc = 0;
    int64_t direct = 0, nested = 0;
    for (int64_t i = 0; i < nfiles && rc == 0; i++) {
        if (strchr(files[i], '/')) {
            nested++;
            rc = prep_audit_exclude(&l->audit, "in a sub-folder of a class folder (not searched: images go in ROOT/<class>/)");
            continue;
        }
        char *p = xc_path_join(dir, files[i]);
        if (!p) { rc = -1; break; }
        if (!xc_image_is_candidate(p)) {
            free(p);
            rc = prep_audit_exclude(&l->audit, "not an image (neither JPEG, PNG nor DICOM by content)");
            continue;
        }
        if (k < 0) {
            free(p);
            char why[300];
            snprintf(why, sizeof why, "folder '%s' not in the classes", cls);
            rc = prep_audit_exclude(&l->audit, why);
            continue;
        }
        direct++;
        rc = prep_list_add(l, p, relative_to(p, o->root), k, s, 0);
        free(p);
    }
    for (int64_t i = 0; i < npassed && rc == 0; i++) {
        const char *why = strstr(passed[i], ": ");
        rc = prep_audit_exclude(&l->audit, why ? why + 2 : passed[i]);
    }
    if (rc == 0 && k >= 0 && direct == 0 && nested > 0 && o->nclasses == 0)
        rc = xc_errorf("folder: class folder '%s' holds no image of its own but %lld file%s in its sub-folders: "
                       "prepare folder reads ROOT/<class>/<image> (or ROOT/<split>/<class>/<image>) — is --root "
                       "'%s' one level too high?", dir, (long long)nested, nested == 1 ? "" : "s", o->root);
    xc_strv_free(files, nfiles);
    xc_strv_free(passed, npassed);
    return rc;
}

int prep_source_folder(const xc_prepare_opts *o, xc_prep_list *l) {
    if (!o->root) return xc_errorf("folder: give the image folder (--root)");
    if (!xc_is_dir(o->root)) return xc_errorf("folder: root '%s' is not a folder", o->root);
    int rc = -1;
    char **subs = NULL, **found = NULL;
    int nsubs = 0, nfound = 0;
    /* split folders: root/{train,val,test} (any case; "validation" too) */
    char *split_dir[XC_NSPLITS] = {NULL, NULL, NULL};
    if (prep_list_dir(o->root, 1, &subs, &nsubs) < 0) goto done;
    int split_mode = 0;
    for (int i = 0; i < nsubs; i++) {
        xc_split s;
        if (xc_split_parse(subs[i], &s) == 0) {
            if (split_dir[s]) {
                xc_errorf("folder: '%s' has two folders for split %s", o->root, xc_split_name(s));
                goto done;
            }
            if (!(split_dir[s] = xc_path_join(o->root, subs[i]))) goto done;
            split_mode = 1;
        }
    }
    xc_error_clear();
    if (!split_mode) split_dir[XC_SPLIT_TRAIN] = strdup(o->root);
    /* the class names found */
    for (int s = 0; s < XC_NSPLITS; s++) {
        if (!split_dir[s]) continue;
        char **cls;
        int ncls;
        if (prep_list_dir(split_dir[s], 1, &cls, &ncls) < 0) goto done;
        for (int i = 0; i < ncls; i++)
            if (prep_add_sorted_unique(&found, &nfound, cls[i]) < 0) { prep_free_strv(cls, ncls); goto done; }
        prep_free_strv(cls, ncls);
    }
    if (o->nclasses == 0 && nfound == 0) {
        xc_errorf("folder: no class folders in '%s' (expected %s/<class>/<image> or %s/{train,val,test}/<class>/<image>; "
                  "images are JPEG, PNG or DICOM files, recognised by content)",
                  o->root, o->root, o->root);
        goto done;
    }
    if (set_classes(o, l, found, nfound) < 0) goto done;
    for (int s = 0; s < XC_NSPLITS; s++) {
        if (!split_dir[s]) continue;
        char **cls, **loose;
        int ncls, nloose;
        if (prep_list_dir(split_dir[s], 1, &cls, &ncls) < 0) goto done;
        for (int i = 0; i < ncls; i++) {
            char *d = xc_path_join(split_dir[s], cls[i]);
            int e = !d ? -1 : add_class_folder(o, l, d, class_index(l, cls[i]), (xc_split)s, cls[i]);
            free(d);
            if (e < 0) { prep_free_strv(cls, ncls); goto done; }
        }
        prep_free_strv(cls, ncls);
        if (prep_list_dir(split_dir[s], 0, &loose, &nloose) < 0) goto done;
        for (int i = 0; i < nloose; i++)
            if (prep_audit_exclude(&l->audit, "file outside a class folder") < 0) { prep_free_strv(loose, nloose); goto done; }
        prep_free_strv(loose, nloose);
    }
    /* Nothing found at all: say where and what was searched (extra folders may still add
     * images, and then the classes left empty are reported by name later). */
    if (l->n == 0 && o->nextras == 0) {
        char names[256] = "";
        size_t used = 0;
        for (int i = 0; i < nfound && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s'%s'", i ? ", " : "", found[i]);
        xc_errorf("folder: no image found under '%s' (class folders searched: %s). Expected layout: "
                  "%s/<class>/<image>, or %s/{train,val,test}/<class>/<image>; images are JPEG, PNG or "
                  "DICOM files (recognised by content, any name)",
                  o->root, nfound ? names : "none", o->root, o->root);
        goto done;
    }
    l->val_given = split_dir[XC_SPLIT_VAL] != NULL;
    cJSON *src = cJSON_CreateObject();
    if (src) {
        cJSON_AddStringToObject(src, "kind", "folder");
        cJSON_AddStringToObject(src, "root", o->root);
        cJSON_AddBoolToObject(src, "split_folders", split_mode);
        l->source_json = cJSON_PrintUnformatted(src);
        cJSON_Delete(src);
    }
    if (!l->source_json) { xc_errorf("out of memory"); goto done; }
    rc = 0;
done:
    for (int s = 0; s < XC_NSPLITS; s++) free(split_dir[s]);
    prep_free_strv(subs, nsubs);
    prep_free_strv(found, nfound);
    return rc;
}

/* ---- csv ------------------------------------------------------------------------------------- */

/* The first control character (a line break inside quotes, a tab, an escape) of s, or 0. */
static int control_char(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return *p;
    return 0;
}

int prep_source_csv(const xc_prepare_opts *o, xc_prep_list *l) {
    if (!o->csv) return xc_errorf("csv: give the list of images (--csv)");
    int rc = -1;
    char *root = o->root ? strdup(o->root) : prep_dirname(o->csv);
    char **found = NULL;
    int nfound = 0;
    xc_csv *c = NULL;
    if (!root) { xc_errorf("out of memory"); goto done; }
    /* A header names the columns (path/file/image, label/class, split); without one the columns
     * are path, label[, split] in that order. */
    if (!(c = xc_csv_read(o->csv, 0))) goto done;
    int c_path = -1, c_label = -1, c_split = -1, c_patient = -1;
    static const char *const path_names[] = {"path", "file", "image"};
    static const char *const label_names[] = {"label", "class"};
    for (int k = 0; k < xc_csv_row_fields(c, 0); k++) {
        const char *h = xc_csv_get(c, 0, k);
        for (int i = 0; i < 3; i++)
            if (xc_csv_header_is(h, path_names[i]) && c_path < 0) c_path = k;
        for (int i = 0; i < 2; i++)
            if (xc_csv_header_is(h, label_names[i]) && c_label < 0) c_label = k;
        if (xc_csv_header_is(h, "split") && c_split < 0) c_split = k;
        if (o->patient_column && xc_csv_header_is(h, o->patient_column) && c_patient < 0) c_patient = k;
    }
    if (o->patient_column && c_patient < 0) {
        xc_errorf("'%s': no column '%s' in the header (--patient-column)", o->csv, o->patient_column);
        goto done;
    }
    if (c_path >= 0 || c_label >= 0) {
        if (c_path < 0 || c_label < 0) {
            xc_errorf("'%s': the header needs a '%s' column (path,label[,split])", o->csv, c_path < 0 ? "path" : "label");
            goto done;
        }
        xc_csv_free(c);
        if (!(c = xc_csv_read(o->csv, 1))) goto done;
    } else {
        c_path = 0;
        c_label = 1;
        c_split = xc_csv_cols(c) >= 3 ? 2 : -1;
        for (int r = 0; r < xc_csv_rows(c); r++) {
            int nf = xc_csv_row_fields(c, r);
            if (nf < 2 || nf > 3) {
                xc_errorf("'%s' line %d: %d field%s, expected path,label[,split]", o->csv, xc_csv_line(c, r), nf, nf == 1 ? "" : "s");
                goto done;
            }
        }
    }
    for (int r = 0; r < xc_csv_rows(c); r++) {
        const char *label = xc_csv_get(c, r, c_label);
        int cc = control_char(label);
        if (cc) {
            xc_errorf("'%s' line %d: the label holds a control character (0x%02x%s): class names are one line of "
                      "text", o->csv, xc_csv_line(c, r), cc, cc == '\n' || cc == '\r' ? ", a line break inside quotes" : "");
            goto done;
        }
        if (*label && prep_add_sorted_unique(&found, &nfound, label) < 0) goto done;
    }
    if (o->nclasses == 0 && nfound == 0) {
        xc_errorf("'%s': no labelled rows", o->csv);
        goto done;
    }
    if (set_classes(o, l, found, nfound) < 0) goto done;
    for (int r = 0; r < xc_csv_rows(c); r++) {
        const char *path = xc_csv_get(c, r, c_path), *label = xc_csv_get(c, r, c_label);
        const char *sp = c_split >= 0 ? xc_csv_get(c, r, c_split) : "";
        char why[512];
        xc_split s = XC_SPLIT_TRAIN;
        if (*sp && xc_split_parse(sp, &s) < 0) {
            snprintf(why, sizeof why, "unknown split value '%s'", sp);
            if (prep_unknown_row(o, l, c, r, NULL, why) < 0) goto done;
            continue;
        }
        int k = class_index(l, label);
        if (k < 0) {
            snprintf(why, sizeof why, "unknown label value '%s'", label);
            if (prep_unknown_row(o, l, c, r, NULL, why) < 0) goto done;
            continue;
        }
        if (!*path) {
            snprintf(why, sizeof why, "empty path");
            if (prep_unknown_row(o, l, c, r, NULL, why) < 0) goto done;
            continue;
        }
        char *full = path[0] == '/' ? strdup(path) : xc_path_join(root, path);
        if (!full) goto done;
        int e = prep_list_add(l, full, path, k, s, xc_csv_line(c, r));
        free(full);
        if (e < 0) goto done;
        const char *pat = c_patient >= 0 ? xc_csv_get(c, r, c_patient) : "";
        if (*pat && !(l->items[l->n - 1].patient = strdup(pat))) { xc_errorf("out of memory"); goto done; }
        if (s == XC_SPLIT_VAL) l->val_given = 1;
    }
    cJSON *src = cJSON_CreateObject();
    if (src) {
        cJSON_AddStringToObject(src, "kind", "csv");
        cJSON_AddStringToObject(src, "root", root);
        cJSON_AddStringToObject(src, "csv", o->csv);
        l->source_json = cJSON_PrintUnformatted(src);
        cJSON_Delete(src);
    }
    if (!l->source_json) { xc_errorf("out of memory"); goto done; }
    rc = 0;
done:
    xc_csv_free(c);
    free(root);
    prep_free_strv(found, nfound);
    return rc;
}
