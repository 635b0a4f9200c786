/* test_json_dup.c — repeated keys are refused by xc_json_parse (so by every config, dataset.json
 * and eval.json reader), naming the key path and both lines: cJSON keeps the second member and
 * every lookup finds the first, so `"lr": 0.001, "lr": 10` would mean one of them silently. */
#include "check.h"
#include "xraycls/json.h"

static void refused(const char *text, const char *want) {
    cJSON *j = xc_json_parse(text, strlen(text), "cfg.json");
    CHECK_MSG(j == NULL, "accepted: %s", text);
    CHECK_CONTAINS(xc_error(), want);
    cJSON_Delete(j);
}

int main(void) {
    refused("{\n \"optim\": {\n  \"lr\": 0.001,\n  \"lr\": 10\n }\n}",
            "invalid JSON in 'cfg.json': key 'optim.lr' appears twice, at line 3 and line 4");
    /* Two whole sections. */
    refused("{\"train\": {\"epochs\": 1},\n\"model\": {},\n\"train\": {\"seed\": 2}}",
            "key 'train' appears twice, at line 1 and line 3");
    /* The same name spelled with an escape. */
    refused("{\"a\": 1,\n\"\\u0061\": 2}", "key 'a' appears twice, at line 1 and line 2");
    /* Inside an array, after objects and strings holding braces and quotes. */
    refused("{\"x\": [{\"k\": \"{\\\"\"}, {\"k\": 1,\n\n\"j\": 2, \"k\": 3}]}", "key 'x[1].k' appears twice, at line 1 and line 3");
    /* Keys that only look alike are fine; so are equal keys in different objects. */
    const char *fine = "{\"a\": {\"b\": 1}, \"b\": {\"a\": 1}, \"A\": 2, \"a \": 3}";
    cJSON *ok = xc_json_parse(fine, strlen(fine), "ok.json");
    CHECK_MSG(ok != NULL, "%s", xc_error());
    cJSON_Delete(ok);
    return check_done("test_json_dup");
}
