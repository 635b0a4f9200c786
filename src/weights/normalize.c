/* normalize.c — state-dict names of older or wrapped checkpoints rewritten into torchvision's
 * current spelling (see xc_weights_normalize_name in xraycls/weights.h). */
#include <string.h>

#include "xraycls/weights.h"

static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

/* If "denselayer<k>.<norm|relu|conv>.<1|2>.<param>" starts at s and runs to the end of the
 * name, the offset of the dot after norm/relu/conv; else 0. */
static size_t dense_dot(const char *s) {
    static const char *const layers[] = {"norm.", "relu.", "conv."};
    static const char *const params[] = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"};
    const char *p = s + strlen("denselayer");
    if (*p < '0' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    if (*p++ != '.') return 0;
    int layer = 0;
    for (int i = 0; i < 3; i++) layer |= starts(p, layers[i]);
    if (!layer) return 0;
    size_t dot = (size_t)(p + 4 - s);
    p += 5;
    if ((*p != '1' && *p != '2') || p[1] != '.') return 0;
    p += 2;
    for (int i = 0; i < 5; i++)
        if (strcmp(p, params[i]) == 0) return dot;
    return 0;
}

int xc_weights_normalize_name(const char *in, char *out, size_t cap) {
    static const char *const wrappers[] = {"densenet121.", "densenet161.", "densenet169.",
                                           "densenet201.", "resnet18.",    "resnet34.",
                                           "resnet50.",    "resnet101.",   "resnet152."};
    const char *s = in;
    while (starts(s, "module.")) s += strlen("module.");
    for (size_t i = 0; i < sizeof wrappers / sizeof wrappers[0]; i++)
        if (starts(s, wrappers[i])) {
            s += strlen(wrappers[i]);
            break;
        }
    /* Drop the inner dot of an old DenseNet layer name (at most one: the pattern ends the name). */
    size_t skip = (size_t)-1;
    for (const char *p = strstr(s, "denselayer"); p; p = strstr(p + 1, "denselayer")) {
        size_t dot = dense_dot(p);
        if (dot) {
            skip = (size_t)(p - s) + dot;
            break;
        }
    }
    size_t n = strlen(s), k = 0;
    if (n - (skip != (size_t)-1) + 1 > cap)
        return xc_errorf("tensor name '%.200s' does not fit in %zu bytes", in, cap);
    for (size_t i = 0; i < n; i++)
        if (i != skip) out[k++] = s[i];
    out[k] = '\0';
    return (int)k;
}
