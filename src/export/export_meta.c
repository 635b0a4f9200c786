/* export_meta.c — the preprocessing contract written into exported files, so that a model
 * shipped without xraycls still says how its input is made. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "export_internal.h"

static int put_json(xc_export_meta_fn put, void *ud, const char *key, cJSON *j) {
    char *s = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!s) return xc_errorf("out of memory");
    int rc = put(ud, key, s);
    free(s);
    return rc;
}

int xc_export_meta(const xc_model_info *info, xc_export_meta_fn put, void *ud) {
    char num[32];
    if (put(ud, "xraycls.arch", info->arch) < 0) return -1;
    cJSON *cl = cJSON_CreateArray();
    for (int c = 0; cl && c < info->num_classes; c++) cJSON_AddItemToArray(cl, cJSON_CreateString(info->classes[c]));
    if (put_json(put, ud, "xraycls.classes", cl) < 0) return -1;
    snprintf(num, sizeof num, "%d", info->num_classes);
    if (put(ud, "xraycls.num_classes", num) < 0 || put(ud, "xraycls.head", info->head) < 0) return -1;
    cJSON *p = cJSON_CreateObject();
    if (p) {
        cJSON_AddNumberToObject(p, "size", info->image_size);
        cJSON_AddNumberToObject(p, "channels", info->channels);
        double mean[3] = {info->mean[0], info->mean[1], info->mean[2]}, std[3] = {info->std[0], info->std[1], info->std[2]};
        cJSON_AddItemToObject(p, "mean", cJSON_CreateDoubleArray(mean, 3));
        cJSON_AddItemToObject(p, "std", cJSON_CreateDoubleArray(std, 3));
        cJSON_AddBoolToObject(p, "expand_gray_to_rgb", info->expand_gray_to_rgb);
        if (info->tta != XC_TTA_NONE) cJSON_AddStringToObject(p, "tta", xc_tta_name(info->tta));
        cJSON_AddStringToObject(p, "input",
                                "decode as gray (channels 1) or RGB, resize to size x size (bilinear, "
                                "antialiased, aspect ratio not kept), scale to [0,1], repeat gray to 3 "
                                "channels when expand_gray_to_rgb, subtract mean and divide by std per "
                                "channel: a (N, 3, size, size) float32 tensor, NCHW");
    }
    return put_json(put, ud, "xraycls.preprocessing", p);
}
