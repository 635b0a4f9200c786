/* fuzz_json.c — libFuzzer target for the strict JSON helpers (xc_json_parse and the getters of
 * xraycls/json.h) that the readers of report, plot and prepare configs use. Any bytes must parse
 * or give -1 with a message; an accepted tree is walked with every getter (wrong types must be
 * refused with a message naming the key path), and printed and parsed again. */
#include <string.h>

#include "fuzz.h"
#include "xraycls/json.h"

static void walk(const cJSON *obj, const char *path, int depth) {
    if (depth > 16) return;
    static const char *const allowed[] = {"data", "model", "train", "lr", "epochs"};
    int ck = xc_json_check_keys(obj, path, allowed, 5);
    FUZZ_ASSERT(ck == 0 || (ck == -1 && xc_error()[0]));
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, obj) {
        char sub[320];
        if (cJSON_IsObject(obj)) {
            if (!it->string) continue;
            xc_json_key_path(sub, sizeof sub, path, it->string);
            long long ll;
            double d;
            int b;
            const char *s;
            const cJSON *o;
            int r[8];
            r[0] = xc_json_get_int(obj, path, it->string, 1, &ll);
            r[1] = xc_json_get_int_in(obj, path, it->string, 0, -5, 5, &ll);
            r[2] = xc_json_get_double(obj, path, it->string, 1, &d);
            r[3] = xc_json_get_double_in(obj, path, it->string, 0, 0.0, 1.0, &d);
            r[4] = xc_json_get_bool(obj, path, it->string, 1, &b);
            r[5] = xc_json_get_string(obj, path, it->string, 1, &s);
            r[6] = xc_json_get_object(obj, path, it->string, 1, &o);
            r[7] = xc_json_get_array(obj, path, it->string, 1, &o);
            for (int k = 0; k < 8; k++) FUZZ_ASSERT(r[k] == 1 || r[k] == 0 || r[k] == -1);
            if (r[5] == 1) fuzz_touch(s, strlen(s));
            static const char *const choices[] = {"resnet18", "resnet50", "densenet121"};
            int c = -1;
            if (xc_json_get_choice(obj, path, it->string, 1, choices, 3, &c) == 1) FUZZ_ASSERT(c >= 0 && c < 3);
        } else {
            if (snprintf(sub, sizeof sub, "%s[%d]", path ? path : "", i) >= (int)sizeof sub)
                sub[sizeof sub - 1] = '\0'; /* a deep path, cut: only a label for messages */
            long long ll;
            double d;
            int b;
            const char *s;
            if (xc_json_item_int(it, sub, 0, 100, &ll) == 0) FUZZ_ASSERT(ll >= 0 && ll <= 100);
            if (xc_json_item_double(it, sub, -1.0, 1.0, &d) == 0) FUZZ_ASSERT(d >= -1.0 && d <= 1.0);
            (void)xc_json_item_bool(it, sub, &b);
            if (xc_json_item_string(it, sub, &s) == 0) fuzz_touch(s, strlen(s));
        }
        if (cJSON_IsObject(it) || cJSON_IsArray(it)) walk(it, sub, depth + 1);
        i++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cJSON *root = xc_json_parse((const char *)data, size, "fuzz.json");
    if (!root) {
        FUZZ_ASSERT(xc_error()[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT(xc_json_type_name(root) != NULL);
    if (cJSON_IsObject(root) || cJSON_IsArray(root)) walk(root, "", 0);
    for (int pretty = 0; pretty < 2; pretty++) {
        char *text = xc_json_to_string(root, pretty);
        FUZZ_ASSERT(text);
        cJSON *again = xc_json_parse(text, strlen(text), "printed.json");
        if (!again) {
            fprintf(stderr, "printed JSON refused: %s\n%s\n", xc_error(), text);
            FUZZ_ASSERT(!"printed JSON parses again");
        }
        cJSON_Delete(again);
        free(text);
    }
    cJSON_Delete(root);
    return 0;
}
