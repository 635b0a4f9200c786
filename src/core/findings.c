/* findings.c — shared finding names (xraycls/findings.h). */
#include "xraycls/findings.h"

#include <ctype.h>
#include <stddef.h>

const char *const xc_chexnet_classes[XC_CHEXNET_NUM_CLASSES] = {
    "Atelectasis", "Cardiomegaly", "Effusion",  "Infiltration",  "Mass",
    "Nodule",      "Pneumonia",    "Pneumothorax", "Consolidation", "Edema",
    "Emphysema",   "Fibrosis",     "Pleural_Thickening", "Hernia"};

static int fold(unsigned char c) { return (c == '_' || c == '-') ? ' ' : tolower(c); }

int xc_finding_same(const char *a, const char *b) {
    if (!a || !b) return 0;
    for (; *a && *b; a++, b++)
        if (fold((unsigned char)*a) != fold((unsigned char)*b)) return 0;
    return *a == *b;
}

int xc_finding_index(const char *const *names, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (xc_finding_same(names[i], name)) return i;
    return -1;
}
