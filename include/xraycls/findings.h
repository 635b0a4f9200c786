/* xraycls/findings.h — the names of chest X-ray findings that several layers share: CheXNet's
 * (ChestX-ray14's) 14 findings in its output order, and the rule by which two finding names are
 * the same. Pure data, no libtorch: `prepare` (--findings chexnet), `import` (the classes of a
 * CheXNet head) and `train` (mapping CheXNet's head onto a dataset's findings) use it. */
#ifndef XRAYCLS_FINDINGS_H
#define XRAYCLS_FINDINGS_H

#ifdef __cplusplus
extern "C" {
#endif

#define XC_CHEXNET_NUM_CLASSES 14
/* Atelectasis, Cardiomegaly, Effusion, Infiltration, Mass, Nodule, Pneumonia, Pneumothorax,
 * Consolidation, Edema, Emphysema, Fibrosis, Pleural_Thickening, Hernia. */
extern const char *const xc_chexnet_classes[XC_CHEXNET_NUM_CLASSES];

/* 1 when a and b name the same finding: equal ignoring case, with '_', '-' and ' ' alike
 * ("Pleural_Thickening" = "pleural thickening"); else 0. No synonyms ("Effusion" is not
 * CheXpert's "Pleural Effusion"). */
int xc_finding_same(const char *a, const char *b);

/* The index of name among names[0..n) by xc_finding_same, or -1. */
int xc_finding_index(const char *const *names, int n, const char *name);

#ifdef __cplusplus
}
#endif
#endif
