/* fuzz_config.c — libFuzzer target for the training config reader (xc_config_parse). The
 * input is split at NUL bytes: the first piece is the JSON text, the next (up to 8) are
 * "key.path=value" overrides. Any input must give a config or -1 with a message; an accepted
 * config must survive the round trip through xc_config_to_json unchanged. */
#include <string.h>

#include "fuzz.h"
#include "xraycls/config.h"

#define FUZZ_MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    FUZZ_ASSERT(buf);
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *sets[FUZZ_MAX_SETS];
    int nsets = 0;
    for (size_t i = 0; i < size && nsets < FUZZ_MAX_SETS; i++)
        if (buf[i] == '\0') sets[nsets++] = buf + i + 1;

    xc_config *c = malloc(sizeof *c), *again = malloc(sizeof *again);
    FUZZ_ASSERT(c && again);
    if (xc_config_parse(c, buf, "fuzz.json", sets, nsets, "fuzz") < 0) {
        FUZZ_ASSERT(xc_error()[0] != '\0');
    } else {
        char *json = xc_config_to_json(c);
        FUZZ_ASSERT(json);
        if (xc_config_parse(again, json, "resolved.json", NULL, 0, NULL) < 0) {
            fprintf(stderr, "resolved config refused: %s\n%s\n", xc_error(), json);
            FUZZ_ASSERT(!"the resolved config parses again");
        }
        char *json2 = xc_config_to_json(again);
        FUZZ_ASSERT(json2);
        if (strcmp(json, json2) != 0) {
            fprintf(stderr, "round trip differs:\n%s\n---\n%s\n", json, json2);
            FUZZ_ASSERT(!"the resolved config round-trips");
        }
        const char *names[4];
        int k = xc_config_weights_candidates(c, names, 4);
        FUZZ_ASSERT(k >= -1 && k <= 4);
        for (int i = 0; i < k; i++) fuzz_touch(names[i], strlen(names[i]));
        free(json);
        free(json2);
    }
    free(c);
    free(again);
    free(buf);
    return 0;
}
