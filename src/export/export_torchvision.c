/* export_torchvision.c — the state dict under torchvision's names, as safetensors or as a
 * torch.save zip (xraycls/export.h). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export_internal.h"
#include "xraycls/export.h"
#include "xraycls/safetensors.h"
#include "xraycls/weights.h"

void xc_export_state_free(xc_st_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free((void *)t[i].data);
    free(t);
}

xc_st_tensor *xc_export_state(const xc_model *m, int *n) {
    int count = xc_model_state_count(m);
    xc_st_tensor *t = calloc((size_t)(count ? count : 1), sizeof *t);
    if (!t) return xc_errorf("out of memory"), NULL;
    for (int i = 0; i < count; i++) {
        const xc_model_entry *e = xc_model_state_at(m, i);
        xt_tensor *c = xt_contiguous(e->tensor); /* caller-owned: no arena is current here */
        int nd = c ? xt_shape(c, t[i].shape, XC_ST_MAX_DIMS) : -1;
        xt_dtype dt = xt_dtype_of(c);
        size_t nbytes = nd >= 0 ? (size_t)xt_numel(c) * xt_dtype_size(dt) : 0;
        void *data = nd >= 0 ? malloc(nbytes ? nbytes : 1) : NULL;
        if (!data || xt_to_host(c, data, nbytes) < 0) {
            free(data);
            xt_free(c);
            xc_errorf("copying '%s' to the host: %s", e->name, xc_error());
            xc_export_state_free(t, i);
            return NULL;
        }
        xt_free(c);
        t[i].name = e->name;
        t[i].dtype = (xc_dtype)dt; /* the enums share their values */
        t[i].ndim = nd;
        t[i].data = data;
        t[i].nbytes = nbytes;
    }
    *n = count;
    return t;
}

static int st_meta(void *w, const char *key, const char *value) { return xc_st_writer_meta(w, key, value); }

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

int xc_export_torchvision(const xc_model *m, const xc_model_info *info, const char *path) {
    xt_arena *prev = xt_arena_push(NULL);
    int n = 0, rc = -1;
    xc_st_tensor *t = xc_export_state(m, &n);
    xt_arena_push(prev);
    if (!t) return xc_errorf("cannot write '%s': %s", path, xc_error());
    if (ends_with(path, ".pth") || ends_with(path, ".pt")) {
        rc = xc_torchsave_write(path, t, n);
    } else {
        xc_st_writer *w = xc_st_writer_new();
        rc = w ? 0 : -1;
        for (int i = 0; i < n && rc == 0; i++)
            rc = xc_st_writer_add(w, t[i].name, t[i].dtype, t[i].ndim, t[i].shape, t[i].data, t[i].nbytes);
        if (rc == 0) rc = xc_st_writer_meta(w, "format", "pt");
        if (rc == 0) rc = xc_export_meta(info, st_meta, w);
        if (rc == 0) rc = xc_st_writer_write(w, path);
        xc_st_writer_free(w);
    }
    xc_export_state_free(t, n);
    return rc;
}
