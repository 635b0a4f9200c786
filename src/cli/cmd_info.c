/* cmd_info.c — `xraycls info FILE [--json]`: what a safetensors file holds (model, checkpoint or
 * prepared dataset): its size, its metadata and a table of its tensors with totals.
 *
 * Text output shortens long metadata values (JSON configurations) to one line ending in "…";
 * --json prints everything in full as one JSON object. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "xraycls/safetensors.h"

static const char usage[] =
    "usage: xraycls info FILE [--json]\n"
    "\n"
    "Shows the tensors (name, dtype, shape, bytes) and metadata of a safetensors file.\n"
    "\n"
    "  --json     print one JSON object with the full metadata instead of a table\n"
    "  -h, --help this help\n";

/* Longest metadata value shown in text mode, in characters. */
#define META_SHOWN 96

/* "[64, 3, 7, 7]" into buf; "[]" for a 0-dim tensor. */
static void shape_text(const xc_st_tensor *t, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < t->ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

enum { XC_SHOWN_NAME = 1024 };

/* A name from the file as it may be printed on a terminal: control bytes (an ANSI escape, a line
 * break) become \xNN, so a hostile file cannot move the cursor or forge lines; cut to fit buf. */
static const char *shown(const char *s, char *buf, size_t cap) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < cap; p++) {
        if (*p < 0x20 || *p == 0x7f) o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", *p);
        else buf[o++] = (char)*p;
    }
    buf[o] = 0;
    return buf;
}

/* Prints v on one line: whitespace runs and control characters become one space, and past
 * META_SHOWN characters (UTF-8 aware) the rest becomes "…". */
static void print_short(const char *v) {
    int chars = 0, space = 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            space = 1;
            continue;
        }
        if ((*p & 0xC0) != 0x80) { /* a character starts here */
            if (space && chars > 0) {
                if (chars + 1 >= META_SHOWN) {
                    fputs("…", stdout);
                    return;
                }
                putchar(' ');
                chars++;
            }
            if (chars >= META_SHOWN) {
                fputs("…", stdout);
                return;
            }
            chars++;
        }
        space = 0;
        putchar(*p);
    }
}

/* "1.5 MiB" style size, or "" below 1 KiB. */
static void human_size(double bytes, char *buf, size_t cap) {
    static const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (bytes < 1024) {
        buf[0] = '\0';
        return;
    }
    int u = -1;
    while (bytes >= 1024 && u < 3) bytes /= 1024, u++;
    snprintf(buf, cap, " (%.1f %s)", bytes, units[u]);
}

static long long numel(const xc_st_tensor *t) {
    long long n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

static int print_text(const xc_st_file *f, const char *path, long long file_size) {
    char hs[32];
    human_size((double)file_size, hs, sizeof hs);
    printf("file: %s\nsize: %lld bytes%s\n", path, file_size, hs);
    int nm = xc_st_meta_count(f);
    printf("\nmetadata (%d)%s\n", nm, nm ? ":" : "");
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        xc_st_meta_at(f, i, &k, &v);
        char key[XC_SHOWN_NAME];
        printf("  %s = ", shown(k, key, sizeof key));
        print_short(v);
        putchar('\n');
    }
    int n = xc_st_count(f);
    /* Column widths from the content, so long names line up. */
    int wname = 4, wshape = 5;
    char shape[256], name[XC_SHOWN_NAME];
    for (int i = 0; i < n; i++) {
        const xc_st_tensor *t = xc_st_at(f, i);
        int l = (int)strlen(shown(t->name, name, sizeof name));
        if (l > wname) wname = l;
        shape_text(t, shape, sizeof shape);
        l = (int)strlen(shape);
        if (l > wshape) wshape = l;
    }
    if (wname > 60) wname = 60;
    printf("\ntensors (%d)%s\n", n, n ? ":" : "");
    if (n) printf("  %-*s  %-5s  %-*s  %14s\n", wname, "name", "dtype", wshape, "shape", "bytes");
    long long total_bytes = 0, total_elems = 0;
    for (int i = 0; i < n; i++) {
        const xc_st_tensor *t = xc_st_at(f, i);
        shape_text(t, shape, sizeof shape);
        printf("  %-*s  %-5s  %-*s  %14zu\n", wname, shown(t->name, name, sizeof name), xc_dtype_st_name(t->dtype),
               wshape, shape, t->nbytes);
        total_bytes += (long long)t->nbytes;
        total_elems += numel(t);
    }
    human_size((double)total_bytes, hs, sizeof hs);
    printf("\ntotal: %d tensor%s, %lld elements, %lld bytes%s\n", n, n == 1 ? "" : "s", total_elems, total_bytes, hs);
    return XC_EXIT_OK;
}

static int print_json(const xc_st_file *f, const char *path, long long file_size) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_CreateObject(), *tensors = cJSON_CreateArray();
    int ok = root && meta && tensors;
    if (ok) {
        cJSON_AddItemToObject(root, "path", cJSON_CreateString(path));
        cJSON_AddItemToObject(root, "size", cJSON_CreateNumber((double)file_size));
        cJSON_AddItemToObject(root, "metadata", meta);
        cJSON_AddItemToObject(root, "tensors", tensors);
    } else {
        cJSON_Delete(meta);
        cJSON_Delete(tensors);
    }
    long long total_bytes = 0, total_elems = 0;
    for (int i = 0; ok && i < xc_st_meta_count(f); i++) {
        const char *k, *v;
        xc_st_meta_at(f, i, &k, &v);
        ok = cJSON_AddItemToObject(meta, k, cJSON_CreateString(v));
    }
    for (int i = 0; ok && i < xc_st_count(f); i++) {
        const xc_st_tensor *t = xc_st_at(f, i);
        cJSON *o = cJSON_CreateObject(), *shape = cJSON_CreateArray();
        ok = o && shape;
        for (int d = 0; ok && d < t->ndim; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        if (!ok) {
            cJSON_Delete(o);
            cJSON_Delete(shape);
            break;
        }
        cJSON_AddItemToObject(o, "name", cJSON_CreateString(t->name));
        cJSON_AddItemToObject(o, "dtype", cJSON_CreateString(xc_dtype_st_name(t->dtype)));
        cJSON_AddItemToObject(o, "shape", shape);
        cJSON_AddItemToObject(o, "bytes", cJSON_CreateNumber((double)t->nbytes));
        cJSON_AddItemToArray(tensors, o);
        total_bytes += (long long)t->nbytes;
        total_elems += numel(t);
    }
    char *text = NULL;
    if (ok) {
        cJSON_AddItemToObject(root, "total_bytes", cJSON_CreateNumber((double)total_bytes));
        cJSON_AddItemToObject(root, "total_elements", cJSON_CreateNumber((double)total_elems));
        text = cJSON_Print(root);
    }
    cJSON_Delete(root);
    if (!text) return cli_fail("out of memory formatting '%s' as JSON", path);
    puts(text);
    cJSON_free(text);
    return XC_EXIT_OK;
}

static const xc_opt opts[] = {{"json", 0, 0}, {0}};

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        if (k == XC_OPT_HELP) return cli_help(usage);
        if (k == XC_OPT_ERROR) return cli_opt_error("info", usage);
        if (k == 0) json = 1;
        else if (path) return cli_usage_error("info", usage, "one FILE expected, got '%s' and '%s'", path, p.value);
        else path = p.value;
    }
    if (!path) return cli_usage_error("info", usage, "missing FILE");

    xc_st_file *f = xc_st_open(path);
    if (!f) return cli_fail_model(path);
    struct stat st;
    long long file_size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    int rc = json ? print_json(f, path, file_size) : print_text(f, path, file_size);
    xc_st_close(f);
    return rc;
}
