/* xraycls/prepare.h — `xraycls prepare`: every image decoded once into a prepared dataset.
 *
 * What it is: the sources (the CoronaHack download as is, a folder per class, a CSV list), the
 * tasks (label mappings), the seeded stratified validation split, the audit, the decoding pool
 * and the writer of the prepared folder; and the synthetic CoronaHack-like generator used by the
 * demo and the tests. What it is not: reading a prepared dataset for training (xraycls/dataset.h)
 * or decoding one image (xraycls/image.h).
 *
 * ---- The prepared dataset (format 1) ------------------------------------------------------
 * A folder holding
 *   train.safetensors, val.safetensors, test.safetensors
 *       one per split that has at least one image (a split without images has no file; the
 *       splits written are listed in dataset.json). Tensors:
 *         images   (N, C, S, S) uint8   C = 1 (gray, default) or 3 (RGB, planes R, G, B);
 *                                       each image resized to S x S without keeping the aspect
 *                                       ratio (xc_image_load_resized), 0 = black
 *         labels   (N) int64            class index in [0, number of classes)
 *       or, for a multi-label dataset (below):
 *         labels   (N, K) uint8         1 = finding k present, 0 = absent (0 where unknown)
 *         mask     (N, K) uint8         1 = labels[i][k] is known, 0 = unknown (not mentioned
 *                                       with blank=unknown, or uncertain with uncertain=ignore)
 *       Metadata (strings; JSON where noted):
 *         xraycls.kind          "dataset"
 *         xraycls.dataset_id    16 hex digits, the same in every split and in dataset.json: a
 *                               hash of the pixels, the splits, the labels and the class names
 *         xraycls.format        "1" (XC_PREPARE_FORMAT)
 *         xraycls.split         "train" | "val" | "test"
 *         xraycls.classes       JSON array of class names; labels index it (multi-label:
 *                               the K finding names, the columns of labels)
 *         xraycls.multilabel    "1" for a multi-label dataset (absent otherwise)
 *         xraycls.uncertain     multi-label: the uncertain policy applied ("ignore"|"zeros"|"ones")
 *         xraycls.files         JSON array of N source paths, sample i's file; relative to the
 *                               source root (images of --add-folder: the folder as given + name)
 *         xraycls.source        JSON {"kind": "coronahack"|"folder"|"csv", "root", "csv",
 *                               "train_dir", "test_dir", "task": {"name", "classes", "rules"},
 *                               "extra_folders": [{"class", "dir", "split"}]}
 *         xraycls.size          S, decimal
 *         xraycls.channels      C, decimal
 *         xraycls.seed          the validation split's seed, decimal
 *         xraycls.val_fraction  decimal ("0.1")
 *       Samples are in source order (CSV rows, or sorted file names), never shuffled: the
 *       training sampler shuffles. The file is meant to be memory-mapped (xc_st_open) and
 *       batches gathered by index from `images`.
 *   audit.json    what was found: see "Audit" below.
 *   dataset.json  {"format": 1, "id": "<xraycls.dataset_id>", "classes": [...], "splits": {"train": {"count": n,
 *                 "per_class": {"Normal": n, ...}}, ...}, "size", "channels", "seed",
 *                 "val_fraction", "val": "carved"|"given"|"none", "jpeg_decoder":
 *                 "xraycls-fast"|"libjpeg" (xc_image_jpeg_decoder), "source": {...}}
 *                 (multi-label: "multilabel": true, "uncertain", "blank", and per split
 *                 "per_finding": {name: {"positive", "negative", "unknown", "uncertain"}}
 *                 instead of "per_class")
 *                 — written last: its presence marks a complete dataset. Readers
 *                 (xc_dataset_open) refuse a split whose id, class names (in order) or count
 *                 differ from dataset.json's, and a folder without dataset.json.
 * Every file is written atomically; a failure leaves nothing new in the folder. An existing
 * non-empty folder is refused unless overwrite is set; overwriting replaces the files above
 * (and removes a split file the new dataset does not have) and touches nothing else.
 *
 * ---- Splits ---------------------------------------------------------------------------------
 * TRAIN/TEST come from the source. Unless the source names a validation split itself, VAL is
 * carved out of TRAIN per class: k = round(val_fraction × n_class), at least 1 when the class
 * has ≥ 2 training images, at most n_class − 1; which images, is a seeded shuffle of the class's
 * images in source order (splitmix64 seeded by seed and the class index). The same source,
 * seed and fraction give the same split on any machine and with any number of threads.
 *
 * ---- Patients -------------------------------------------------------------------------------
 * Each image may carry a patient key: the CSV's --patient-column, else the DICOM PatientID, else
 * what --patient-regex extracts from the file's base name (the coronahack source uses the
 * CoronaHack preset, xc_prepare_coronahack_key, unless told otherwise). Images without a key are
 * patients of their own. The carved validation split is grouped: a patient's training images
 * all go to val or all stay; per class, the patients whose most frequent training class it is
 * are shuffled (the seeded shuffle above) and taken while the class's validation images stay
 * within k = round(val_fraction × n_class) (so with no keys the split is exactly the per-image
 * one). Given splits (the source's own, e.g. CoronaHack's TRAIN/TEST, or a CSV split column)
 * that share patients are reported in audit.json ("patients.shared"); for the csv and folder
 * sources that is an error unless allow_leak, for CoronaHack (whose split is the dataset's own)
 * a warning.
 *
 * ---- Near duplicates ------------------------------------------------------------------------
 * Every decoded image gets a 64-bit perceptual hash (xc_image_phash of the S x S image); pairs
 * within near_distance bits, in any splits, are listed in audit.json with both files, their
 * splits and the distance, and a warning names those that cross splits.
 * ---- Multi-label datasets ---------------------------------------------------------------------
 * A csv source with findings (xc_prepare_opts.findings or .findings_column) gives every image K
 * independent 0/1 labels, the chest X-ray datasets' layouts:
 *   one column per finding (CheXpert): findings names the columns; a value is 1 (positive),
 *     0 (negative), blank (not mentioned: negative, or unknown with blank_unknown), -1
 *     (uncertain: the uncertain policy decides); "1.0", "0.0", "-1.0" are accepted too.
 *   one column of '|'-separated findings (NIH ChestX-ray14's `Finding Labels`):
 *     findings_column names it; "No Finding" (no_finding) alone means every finding negative;
 *     every named finding is positive, every other negative. findings, when given, is the
 *     list of findings (in label order); a name outside it is an unknown label value
 *     (on_unknown_label); without it, the sorted names found.
 * Uncertain policy (the CheXpert paper's): ignore (U-Ignore: unknown, masked out of the loss
 * and the metrics), zeros (U-Zeros: negative), ones (U-Ones: positive). The validation split is
 * carved at random over the training images (no single class to stratify by). The audit counts,
 * per finding and split, positives, negatives, unknowns and the uncertain values read.
 *
 * ---- Audit ---------------------------------------------------------------------------------
 * audit.json: {"splits": {split: {class: count}}, "excluded": {reason: count},
 * "missing": {"count": n, "files": [...]}, "unreadable": {"count": n, "files": {file: reason}},
 * "duplicates": [{"kind": "listed twice"|"identical bytes", "files": [...]}],
 * "patients": {"key", "keyless", "per_split": {split: {"patients", "per_class": {class: n}}},
 * "shared": {"count", "list": [{"patient", "splits", "files"}]}},
 * "near_duplicates": {"distance", "count", "pairs": [{"files": [a, b], "splits": [s, t],
 * "distance": d}]}, "display": {file: {"mapping", "window": [c, w] | null, "source":
 * "file"|"robust range"|"none", "inverted", "patient_id", "transfer_syntax"}},
 * "warnings": [...]}. The split counts equal the images written. A missing image (after the
 * lookup) or an undecodable one is an error by default, naming the first files and the count;
 * with XC_POLICY_SKIP it is left out and recorded. A file listed twice keeps its first row;
 * identical image bytes (xc_hash64 of the file and its length) are reported, not removed.
 *
 * Failure everywhere: -1 / NULL with xc_error() naming the file, row or key.
 */
#ifndef XRAYCLS_PREPARE_H
#define XRAYCLS_PREPARE_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XC_PREPARE_FORMAT 1

typedef enum { XC_SPLIT_TRAIN = 0, XC_SPLIT_VAL, XC_SPLIT_TEST, XC_NSPLITS } xc_split;

/* "train", "val", "test". */
const char *xc_split_name(xc_split s);
/* Parses a split name, any case: train, val (or validation), test. -1 (with a message) if not. */
int xc_split_parse(const char *s, xc_split *out);

/* ---- tasks: from CoronaHack labels (Label, Label_1, Label_2) to a class -------------------
 * Values are compared ignoring case, and `Pnemonia` (the real file's spelling) equals
 * `Pneumonia`. The vocabulary known is the real file's — Label: Normal, Pneumonia;
 * Label_1_Virus_category: bacteria, Virus, Stress-Smoking, empty; Label_2_Virus_category:
 * COVID-19, Streptococcus, SARS, ARDS, empty — plus every value a rule of the task names. A value
 * outside it is "unknown": reported, never guessed. Rules are tried in order; the first that
 * matches decides (a class, or an exclusion); a row no rule matches is excluded with the reason
 * "<labels> not in task <name>", e.g. "Stress-Smoking/ARDS not in task 4class".
 *
 * Presets:
 *   4class               Normal, Bacteria, Virus, COVID-19 (Streptococcus → Bacteria, SARS →
 *                        Virus, Virus + COVID-19 → COVID-19; Stress-Smoking/ARDS excluded)
 *   bacteria-vs-virus    Bacteria, Virus among pneumonia cases; COVID-19 counts as Virus, or is
 *                        excluded with exclude_covid
 *   normal-vs-pneumonia  Normal, Pneumonia (every pneumonia row)
 *   covid-vs-rest        Other, COVID-19 */
typedef struct xc_task xc_task;

enum { XC_TASK_EXCLUDED = -1, XC_TASK_UNKNOWN = -2 };

/* A preset by name (above); exclude_covid applies to bacteria-vs-virus (elsewhere an error
 * unless 0). NULL with a message naming the presets for an unknown name. */
xc_task *xc_task_preset(const char *name, int exclude_covid);
/* An empty custom task with these classes (copied; names unique and non-empty). */
xc_task *xc_task_new(const char *name, const char *const *classes, int nclasses);
/* Appends a rule. A pattern NULL or "*" matches anything; "" matches an empty field; otherwise
 * the value (any case). cls: a class of the task, or NULL to exclude matching rows, with
 * `reason` (NULL: "<labels> excluded by task <name>"). */
int xc_task_add_rule(xc_task *t, const char *label, const char *label_1, const char *label_2,
                     const char *cls, const char *reason);
void xc_task_free(xc_task *t); /* accepts NULL */

int xc_task_num_classes(const xc_task *t);
const char *xc_task_class(const xc_task *t, int k);
/* Index of a class name (exact), or -1. */
int xc_task_class_index(const xc_task *t, const char *name);

/* Maps one row's labels. Returns the class index (≥ 0); XC_TASK_EXCLUDED with the reason in
 * `why`; or XC_TASK_UNKNOWN with "unknown Label_1_Virus_category value 'Fungus'" in `why`. */
int xc_task_map(const xc_task *t, const char *label, const char *label_1, const char *label_2,
                char *why, size_t whylen);
/* The task as JSON {"name", "classes": [...], "rules": [{"label", "label_1", "label_2",
 * "class" | "exclude"}]} (malloc'd, caller frees). */
char *xc_task_json(const xc_task *t);

/* ---- options ----------------------------------------------------------------------------- */

typedef enum { XC_SOURCE_CORONAHACK = 0, XC_SOURCE_FOLDER, XC_SOURCE_CSV } xc_source_kind;
typedef enum { XC_POLICY_ERROR = 0, XC_POLICY_SKIP } xc_policy;
/* What an uncertain (-1) finding becomes: unknown (masked), negative, positive. */
typedef enum { XC_UNCERTAIN_IGNORE = 0, XC_UNCERTAIN_ZEROS, XC_UNCERTAIN_ONES } xc_uncertain;


/* Extra labelled images (--add-folder CLASS=DIR): every image in dir (xc_image_is_candidate). */
typedef struct {
    char *cls;
    char *dir;
} xc_prep_extra;

/* Every setting of `xraycls prepare`. Strings are owned (malloc'd) by the struct. */
typedef struct {
    xc_source_kind source;
    char *root;      /* image root (coronahack, folder; csv: relative paths resolve here) */
    char *csv;       /* coronahack: the metadata (default root/Chest_xray_Corona_Metadata.csv);
                        csv source: the list */
    char *train_dir; /* coronahack: explicit image folders; relative ones are tried under root */
    char *test_dir;  /*   first, then as given */
    char *task_name; /* coronahack: a preset (default "4class") when task is NULL */
    xc_task *task;   /* coronahack: a custom task (owned), overrides task_name */
    int exclude_covid;
    char **classes;  /* folder/csv: the classes, in label order (NULL: sorted names found) */
    int nclasses;
    xc_prep_extra *extras;
    int nextras;
    xc_split add_split;     /* split of the extras (train) */
    double val_fraction;    /* 0.1 */
    uint64_t seed;          /* 0 */
    int size;               /* 224 */
    int channels;           /* 1, or 3 */
    xc_policy on_missing, on_corrupt, on_unknown_label; /* error */
    int threads;            /* 0: the number of cores */
    char *out;              /* the prepared folder */
    int overwrite;
    /* Patient-level splits (see "Patients"). */
    char *patient_column;   /* csv: the column holding the patient key (NULL: none) */
    char *patient_regex;    /* an extended regular expression over the file's base name (key:
                               its first group, else the whole match), or "coronahack"; NULL:
                               "coronahack" for the coronahack source, none otherwise; "none"
                               turns keys from names off */
    int allow_leak;         /* given splits sharing patients: a warning instead of an error */
    int near_distance;      /* near duplicates: pairs whose perceptual hashes differ in at most
                               this many bits (XC_NEAR_DISTANCE_DEFAULT; -1 turns it off) */
    /* multi-label csv (see "Multi-label datasets"); findings set or findings_column set
     * makes the dataset multi-label */
    char **findings;        /* the findings, in label order (column names, or the list) */
    int nfindings;
    char *findings_column;  /* the '|'-separated column (NIH layout), or NULL */
    char *path_column;      /* the image column (NULL: path, file, image or Path, any case) */
    char *no_finding;       /* "No Finding" */
    xc_uncertain uncertain; /* ignore */
    int blank_unknown;      /* 1: a blank finding is unknown; 0 (default): negative */
} xc_prepare_opts;

/* The default Hamming distance of near duplicates (docs/DATA.md: its false-positive rate). */
#define XC_NEAR_DISTANCE_DEFAULT 6

/* Whether the options describe a multi-label dataset. */
int xc_prepare_is_multilabel(const xc_prepare_opts *o);
/* Sets the findings from "A,B,C" (as xc_prepare_set_classes) or "chexnet" (the 14). */
int xc_prepare_set_findings(xc_prepare_opts *o, const char *comma_list);
/* Parses "ignore", "zeros", "ones". */
int xc_uncertain_parse(const char *s, xc_uncertain *out);
const char *xc_uncertain_name(xc_uncertain u);

void xc_prepare_opts_init(xc_prepare_opts *o);
void xc_prepare_opts_clear(xc_prepare_opts *o); /* frees everything; accepts NULL */
/* Replaces an owned string field (value copied; NULL clears). */
int xc_prepare_set_str(char **field, const char *value);
/* Adds an extra folder from "CLASS=DIR". */
int xc_prepare_add_extra(xc_prepare_opts *o, const char *class_eq_dir);
/* Sets the classes from "a,b,c" (names trimmed, unique, non-empty). */
int xc_prepare_set_classes(xc_prepare_opts *o, const char *comma_list);
/* Parses "coronahack", "folder", "csv"; "error", "skip". */
int xc_source_parse(const char *s, xc_source_kind *out);
int xc_policy_parse(const char *s, xc_policy *out);

/* Loads a JSON config over o (keys present replace settings; absent keys keep them). Strict:
 * an unknown key or a wrong type is an error naming the key path ("'p.json': unknown key
 * 'task.rules[1].lable'"). Keys: source, root, csv, train_dir, test_dir, task (a preset name
 * or {"name", "classes": [...], "rules": [{"label", "label_1", "label_2", "class" |
 * "exclude": true, "reason"}]}), exclude_covid, classes, add_folders ([{"class", "dir"}]),
 * add_split, val_fraction, seed, size, channels, rgb, on_missing, on_corrupt,
 * on_unknown_label, threads, output, overwrite, patient_column, patient_regex, allow_leak,
 * near_distance, findings (a list or "chexnet"), findings_column, path_column, no_finding,
 * uncertain, blank ("negative"|"unknown"). */
int xc_prepare_config_load(xc_prepare_opts *o, const char *path);

/* ---- the audit ---------------------------------------------------------------------------- */

typedef struct {
    char *key;
    int64_t count;
} xc_prep_count;

typedef struct {
    char *kind;   /* "listed twice" or "identical bytes" */
    char **files;
    int nfiles;
} xc_prep_dup;

/* A pair of images whose perceptual hashes are within the near-duplicate distance. */
typedef struct {
    char *files[2];
    xc_split splits[2];
    int distance;
} xc_prep_pair;

/* A patient found in more than one given split. */
typedef struct {
    char *key;
    unsigned splits;   /* bit s set: the patient has images in split s */
    char **files;      /* its files (the first few) */
    int nfiles;
} xc_prep_leak;

/* What the decoder did to one file beyond plain 8 bits (DICOM, 16-bit PNG). */
typedef struct {
    char *file;
    char *mapping;     /* xc_image_info.mapping */
    double window_center, window_width;
    int windowed;      /* 1 the file's window or VOI LUT, 2 the robust range, 0 none */
    int inverted;
    char *patient_id;  /* DICOM PatientID, NULL when none */
    char *transfer_syntax; /* DICOM only */
} xc_prep_display;

typedef struct {
    char **classes;
    int nclasses;
    int64_t *counts;              /* [split * nclasses + class]: images written */
    /* Patients: where the keys came from ("csv column 'patient'", "DICOM PatientID", "regex
     * '…'", "coronahack file names", combined with '+'; NULL when no image has one), distinct
     * patients [split * nclasses + class] and per split (an image without a key counts as a
     * patient of its own; keyless counts them), and the patients of given splits that overlap. */
    char *patient_source;
    int64_t *patients;
    int64_t patients_split[XC_NSPLITS];
    int64_t keyless;
    xc_prep_leak *leaks;           /* the first shared patients (at most 100) */
    int nleaks;
    int64_t shared_patients;       /* patients in more than one given split */
    /* Near duplicates (pairs within near_distance bits; npairs counts them all, the first
     * XC_NEAR_PAIRS_LISTED are listed). */
    int near_distance;
    xc_prep_pair *pairs;
    int64_t npairs, npairs_listed;
    /* Per-file display records (DICOM and 16-bit files). */
    xc_prep_display *display;
    int64_t ndisplay;
    /* multi-label: counts above unused (zero) */
    int multilabel;
    int64_t split_images[XC_NSPLITS]; /* multi-label: images written per split */
    int64_t *findings;            /* multi-label: [(split * nclasses + k) * 4 + XC_FC_*] */
    xc_prep_count *excluded;      /* reason → rows left out */
    int nexcluded;
    char **missing;
    int64_t nmissing;
    char **unreadable, **unreadable_why;
    int64_t nunreadable;
    xc_prep_dup *dups;
    int ndups;
    char **warnings;
    int nwarnings;
} xc_prep_audit;

void xc_prep_audit_clear(xc_prep_audit *a); /* frees and zeroes; accepts NULL */
/* The audit as JSON (the content of audit.json), malloc'd. */
char *xc_prep_audit_json(const xc_prep_audit *a);
/* A small text table for people: split × class counts, exclusions, problems. malloc'd. */
char *xc_prep_audit_table(const xc_prep_audit *a);
enum { XC_FC_POS = 0, XC_FC_NEG, XC_FC_UNKNOWN, XC_FC_UNCERTAIN };
/* Images written in a split (sum over classes; multi-label: split_images). */
int64_t xc_prep_audit_split_total(const xc_prep_audit *a, xc_split s);

#define XC_NEAR_PAIRS_LISTED 10000

/* ---- the image list ----------------------------------------------------------------------- */

typedef struct {
    char *path;   /* to open */
    char *file;   /* as recorded in xraycls.files */
    char *patient; /* the patient key, NULL when unknown (then the image is its own patient) */
    int label;
    xc_split split;
    int line;     /* 1-based line of the CSV row (0 for folder listings) */
    uint8_t *findings; /* multi-label: K values XC_FINDING_* (owned), else NULL */
} xc_prep_item;

/* A multi-label item's values: negative, positive, unknown; UNCERTAIN_* remember a -1 read
 * (for the audit) and what the policy made of it. */
enum { XC_FINDING_NEG = 0, XC_FINDING_POS = 1, XC_FINDING_UNKNOWN = 2, XC_FINDING_UNCERTAIN_NEG = 3,
       XC_FINDING_UNCERTAIN_POS = 4, XC_FINDING_UNCERTAIN_UNKNOWN = 5 };

typedef struct {
    xc_prep_item *items;
    int64_t n;
    xc_prep_audit audit; /* classes, excluded, missing, "listed twice" so far */
    int val_given;       /* the source named validation images itself */
    char *source_json;   /* the xraycls.source metadata */
} xc_prep_list;

/* Reads the source and the extra folders of o into a list of images that exist, with their
 * classes and splits (validation not yet carved). Missing files: an error (XC_POLICY_ERROR)
 * naming the first few and the count, or recorded in audit.missing. */
xc_prep_list *xc_prepare_list(const xc_prepare_opts *o);
void xc_prep_list_free(xc_prep_list *l); /* accepts NULL */
/* Carves the validation split out of TRAIN as described in "Splits" and "Patients" (a no-op when
 * frac is 0): grouped by items[i].patient, stratified by class. */
int xc_prepare_carve_val(xc_prep_list *l, double frac, uint64_t seed);

/* Gives every item without a patient key one (prepare_patient.c): the DICOM PatientID of DICOM
 * files, else the key o->patient_regex (or the coronahack preset) extracts from the base name.
 * Records the key source in l->audit.patient_source. -1 for an invalid regex. */
int xc_prepare_patient_keys(const xc_prepare_opts *o, xc_prep_list *l);

/* The key the CoronaHack preset gives a base name, into key (cap bytes): Kermany's
 * person<N>_(bacteria|virus)_<M> → "person<N>", NORMAL2-IM-<N>-<M> → "NORMAL2-IM-<N>",
 * IM-<N>-<M> → "IM-<N>"; any other name (the COVID-19/SARS/ARDS images, from published case
 * figures) → the name without extension, view (-PA, -AP, -L, -lateral), day (-day<N>) and panel
 * (a trailing letter after a figure number, or -a..-d) suffixes, so the figures of one case
 * share a key. Returns 1 (a Kermany name), 2 (a source name) or 0 (nothing left: no key). */
int xc_prepare_coronahack_key(const char *base, char *key, size_t cap);

/* Called from the calling thread about ten times a second while images decode. */
typedef void (*xc_prepare_progress_fn)(void *ctx, int64_t done, int64_t total);

/* The whole of `xraycls prepare`: list, carve, decode with o->threads workers, audit, write
 * o->out. On success *audit receives the audit (caller clears it). On failure -1; *audit holds
 * what was found before the failure (empty when the listing itself failed; cleared by the caller too). */
int xc_prepare_run(const xc_prepare_opts *o, xc_prepare_progress_fn progress, void *ctx,
                   xc_prep_audit *audit);

/* 0 when `out` may receive a prepared dataset: absent, an empty folder, or any folder when
 * overwrite is set; else -1 ("output folder 'x' is not empty (--overwrite …)"). */
int xc_prepare_check_output(const char *out, int overwrite);

/* A 64-bit hash of a byte range (the duplicate detector's): four independent multiply-rotate
 * lanes over 8-byte words, then the length and a final avalanche. Not cryptographic; about a
 * byte a cycle per lane, so hashing costs nothing next to decoding. */
uint64_t xc_hash64(const void *data, size_t len);

/* ---- the synthetic CoronaHack ------------------------------------------------------------ */

typedef struct {
    int n;          /* images in all (600); at least 40 */
    uint64_t seed;  /* 0 */
    int min_side;   /* image sides drawn in [min_side, max_side] (200, 400) */
    int max_side;
} xc_synthetic_opts;

xc_synthetic_opts xc_synthetic_default(void);

/* The number of rows of each kind xc_synthetic_write writes for n images: the real file's
 * counts table scaled to n (COVID-19 raised to at least n/25 so that a model can learn it; the
 * rare kinds — SARS, Streptococcus, Stress-Smoking/ARDS — at least 1), TEST without COVID-19.
 * kinds, in this order: Normal, bacteria, Virus, Virus/COVID-19, Virus/SARS,
 * bacteria/Streptococcus, Stress-Smoking/ARDS; counts[kind][0] TRAIN, [1] TEST. */
#define XC_SYNTH_KINDS 7
void xc_synthetic_counts(int n, int counts[XC_SYNTH_KINDS][2]);

/* Writes a CoronaHack-like download under dir (created if absent; files of the same names are
 * replaced):
 * dir/Chest_xray_Corona_Metadata.csv with the real file's quirks (unnamed index column with
 * gaps, Label_2 before Label_1, `Pnemonia`, empty fields, Stress-Smoking/ARDS rows) and the
 * images in dir/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/{train,test}/:
 * chest-radiograph-like pictures with class-dependent findings (Normal: clear lungs; bacteria:
 * a dense lobar consolidation in one lung; Virus: bilateral perihilar interstitial streaks and
 * haze; COVID-19: peripheral bilateral ground-glass patches in the lower zones), visible at
 * 64 px, with noise; as gray, RGB and progressive JPEG and gray/RGB PNG. Deterministic for a
 * seed. `threads` workers (0: the cores). */
int xc_synthetic_write(const char *dir, const xc_synthetic_opts *so, int threads);

/* The synthetic findings of the multi-label generator, in label order. */
#define XC_SYNTH_NFINDINGS 3
extern const char *const xc_synthetic_findings[XC_SYNTH_NFINDINGS];

/* Writes a multi-label download under dir: dir/findings.csv in NIH ChestX-ray14's layout
 * (`Image Index`, `Finding Labels` with '|'-separated findings or `No Finding`, and `split`
 * train/test, about 20 % test) and the images in dir/images/. Each image shows each of the
 * three findings independently with probability 0.4: Consolidation (a dense lobar blob in one
 * lung), Effusion (a bright basal opacity, the costophrenic angle blunted) and Infiltration
 * (bilateral perihilar streaks). The same picture as xc_synthetic_write otherwise;
 * deterministic for a seed. */
int xc_synthetic_write_findings(const char *dir, const xc_synthetic_opts *so, int threads);

#ifdef __cplusplus
}
#endif
#endif
