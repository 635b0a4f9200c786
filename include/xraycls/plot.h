/* xraycls/plot.h — the figures of a run and of an evaluation, drawn with cairo from the CSV
 * files beside them.
 *
 * What it is: readers of the files train and eval write (metrics.csv with the run's
 * config.json; confusion_matrix.csv, roc.csv, pr.csv, calibration.csv — xraycls/report.h) and
 * figures drawn from exactly what they read, as PNG (300 dpi), SVG or PDF, sized for a paper's
 * column (3.5 in wide; text 7–8.5 pt DejaVu Sans, colours of the Okabe–Ito palette, safe for
 * colour-blind readers). What it is not: a plotting library — there are exactly these figures:
 *
 *   figure                 data            what it shows
 *   accuracy.EXT           metrics.csv     train and validation accuracy per epoch
 *   loss.EXT               metrics.csv     train and validation loss per epoch; a log axis
 *                                          when the losses drawn span at least a decade
 *                                          (the axis label says so)
 *       both mark the best epoch (the rule of the run's train.best_metric, from config.json
 *       beside metrics.csv) with a vertical line labelled "best: epoch E"
 *   confusion_matrix.EXT   confusion_matrix.csv   counts in the cells, shaded by the row's
 *                                          share (white → dark blue), colour bar, class names
 *   roc.EXT                roc.csv         per class one-vs-rest and macro, chance diagonal,
 *                                          AUROC (trapezoidal area of the rows) in the legend
 *   pr.EXT                 pr.csv          per class and macro, drawn as the step function
 *                                          whose area is the AP given in the legend; each
 *                                          class's prevalence as a dotted baseline
 *   calibration.EXT        calibration.csv the reliability diagram of the equal-width bins
 *                                          (top label; multi-label: each finding): mean
 *                                          confidence against accuracy, the diagonal, ECE
 *                                          in the legend, the bins' counts as a histogram below
 * The data of each figure is the CSV named beside it: the two curves of a run share
 * metrics.csv, every other figure has its CSV under the same stem. Every title ends with the
 * name of the run (the run folder's name) or of the evaluation (the model's run and file,
 * then the eval folder's name).
 *
 * cairo is optional at configure time (XRAYCLS_HAVE_CAIRO): without it the readers work, and
 * every drawing function fails with XC_PLOT_NO_CAIRO. cairo's SVG surface writes text as
 * glyph outlines, so each SVG also carries a <title> and a <desc> that lists the figure's
 * texts in the order drawn (searchable, read by screen readers); PDFs carry the title in their
 * metadata and their text stays extractable.
 *
 * Every file is written atomically (xraycls/fs.h). Failure: -1 with xc_error() naming the
 * file read or written and the problem.
 */
#ifndef XRAYCLS_PLOT_H
#define XRAYCLS_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/strbuf.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XC_PLOT_NO_CAIRO "xraycls was built without cairo: install libcairo2-dev and reconfigure"

typedef enum { XC_PLOT_PNG = 0, XC_PLOT_SVG, XC_PLOT_PDF, XC_PLOT_NONE } xc_plot_format;

/* "png", "svg", "pdf" (and "none" when allow_none): 0 with *f set, else -1 with
 * "'gif' is not png, svg or pdf". */
int xc_plot_format_parse(const char *s, int allow_none, xc_plot_format *f);
/* "png", "svg", "pdf", "none": the file extension. */
const char *xc_plot_format_name(xc_plot_format f);
/* 1 when this build draws figures (cairo found at configure time), else 0. */
int xc_plot_available(void);

/* ---- the data, read back --------------------------------------------------------------------- */

/* A run's history (metrics.csv): n epochs; a missing value is NaN. best_epoch 0: none (no
 * config.json, or no finite value of the best metric). */
typedef struct {
    int n;
    double *epoch, *train_acc, *val_acc, *train_loss, *val_loss;
    int best_epoch;
    char best_metric[32]; /* train.best_metric of config.json ("val_accuracy"), or "" */
} xc_plot_history_data;

/* Reads run_dir/metrics.csv (columns epoch, train_acc, val_acc, train_loss, val_loss; absent
 * columns are all NaN) and run_dir/config.json's train.best_metric when the file exists, and
 * picks the best epoch as training does: the first epoch whose value of that metric (its
 * metrics.csv column) is finite and strictly better than every earlier one (lower for
 * val_loss, higher for the others). */
int xc_plot_read_history(const char *run_dir, xc_plot_history_data *h);
void xc_plot_history_free(xc_plot_history_data *h);
/* 1 when the loss figure uses a log axis: every loss drawn is positive and the largest is at
 * least 10 times the smallest; else 0. */
int xc_plot_loss_log_scale(const xc_plot_history_data *h);

/* One curve of roc.csv or pr.csv: its rows in file order. */
typedef struct {
    char *name; /* the class, or "macro" */
    int n;
    double *x, *y; /* roc: fpr, tpr; pr: recall, precision */
    double area;   /* roc: trapezoidal area (AUROC); pr: Σ Δrecall · precision (AP) */
    double base;   /* pr: the prevalence, the precision of the last row (recall 1, every image
                      called positive); roc: NaN */
} xc_plot_curve;

typedef struct {
    int n;
    xc_plot_curve *c;
} xc_plot_curves;

/* roc.csv (class,threshold,fpr,tpr) and pr.csv (class,threshold,precision,recall): one curve
 * per run of consecutive rows of one class, in file order (none for a file of only the
 * header: the split had no class with both positives and negatives). Values outside [0, 1]
 * and a class whose rows are not consecutive are errors. */
int xc_plot_read_roc(const char *path, xc_plot_curves *out);
int xc_plot_read_pr(const char *path, xc_plot_curves *out);
void xc_plot_curves_free(xc_plot_curves *c);

/* One reliability diagram of calibration.csv. */
typedef struct {
    char *name; /* "top-label" or a class */
    int nbins;
    double *lower, *upper, *mean_prob, *frac_pos; /* (nbins); means NaN for empty bins */
    int64_t *count;                               /* (nbins) */
    double ece;                                   /* Σ count / N · |frac_pos − mean_prob| */
} xc_plot_bins;

typedef struct {
    int n;
    xc_plot_bins *r;
} xc_plot_calibration;

/* The rows of scheme ("equal-width" or "equal-mass") of calibration.csv
 * (class,scheme,bin,lower,upper,count,mean_prob,frac_pos), one diagram per class (none when
 * the file has no row of that scheme). */
int xc_plot_read_calibration(const char *path, const char *scheme, xc_plot_calibration *out);
void xc_plot_calibration_free(xc_plot_calibration *c);

/* confusion_matrix.csv: header true,predicted:<class>…; one row per true class in the same
 * order, counts. */
typedef struct {
    int k;
    char **names;  /* (k) */
    int64_t *cm;   /* (k, k) row-major, rows true */
} xc_plot_confusion_data;

int xc_plot_read_confusion(const char *path, xc_plot_confusion_data *out);
void xc_plot_confusion_free(xc_plot_confusion_data *c);

/* ---- the figures ------------------------------------------------------------------------------ */

/* Each draws one figure into path in format fmt (not XC_PLOT_NONE); name ends the title (may
 * be NULL). A figure with nothing to draw (no finite accuracy, no curve) is an error. */
int xc_plot_accuracy(const xc_plot_history_data *h, const char *path, const char *name, xc_plot_format fmt);
int xc_plot_loss(const xc_plot_history_data *h, const char *path, const char *name, xc_plot_format fmt);
int xc_plot_roc(const xc_plot_curves *c, const char *path, const char *name, xc_plot_format fmt);
int xc_plot_pr(const xc_plot_curves *c, const char *path, const char *name, xc_plot_format fmt);
int xc_plot_reliability(const xc_plot_calibration *c, const char *path, const char *name, xc_plot_format fmt);
/* k in [1, 64]. */
int xc_plot_confusion(const xc_plot_confusion_data *c, const char *path, const char *name, xc_plot_format fmt);

/* The confusion-matrix figure as PNG bytes in memory at 150 dpi (TensorBoard's images): title
 * is the whole title; *png malloc'd (caller frees), *len its size, *width × *height pixels. */
int xc_plot_confusion_png(const int64_t *cm, int k, const char *const *names, const char *title,
                          uint8_t **png, size_t *len, int *width, int *height);

/* ---- a folder --------------------------------------------------------------------------------- */

/* The name that ends the titles of the figures of folder dir, known as name_dir (the folder's
 * final name when dir is still a temporary one; NULL: dir): for an evaluation (dir/eval.json
 * naming its model) "<model's folder>/<model's stem>, <folder>" ("tiny/best,
 * eval-data-test"), else the folder's name. malloc'd; NULL only when out of memory. */
char *xc_plot_name(const char *dir, const char *name_dir);

/* Every figure whose data dir holds (the table above), drawn into out_dir (created when
 * missing) in format fmt. All the data is read and checked first, so a malformed file leaves
 * nothing written. A figure file that exists is refused unless overwrite ("'X' exists: figures
 * are never replaced silently (--overwrite replaces them)"). A file with nothing to draw (no
 * curve, no bin, no finite accuracy) gives no figure. written (may be NULL) receives the file
 * names drawn, ", "-separated. Returns the number of figures drawn (0: nothing to draw); -1
 * when dir holds none of the data ("'D' holds no figure data: …") or on any error. */
int xc_plot_dir(const char *dir, const char *out_dir, const char *name_dir, xc_plot_format fmt, int overwrite,
                xc_strbuf *written);

#ifdef __cplusplus
}
#endif
#endif
