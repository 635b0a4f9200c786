/* xraycls/plot.h — PNG charts of a run: training curves and the confusion matrix.
 *
 * What it is: a small self-contained rasteriser (lines, rectangles, a built-in 5×7 bitmap font
 * for ASCII) that writes 8-bit RGB PNGs through libpng, atomically (xraycls/fs.h). What it is
 * not: a general plotting library — there are exactly the three pictures eval needs.
 *
 * Text outside printable ASCII is drawn as '?'. Everything is drawn on a white background.
 * Failure: -1 with xc_error() naming the output (or input) file and the problem.
 */
#ifndef XRAYCLS_PLOT_H
#define XRAYCLS_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One line of a chart: n points (x[i], y[i]); a NaN y leaves a gap (no point, the line
 * breaks). Borrowed. */
typedef struct {
    const char *name;    /* legend entry */
    const double *x, *y;
    int n;
    uint32_t color;      /* 0xRRGGBB */
    int dashed;          /* 1: dashed line (validation series) */
} xc_plot_series;

typedef struct {
    const char *title, *xlabel, *ylabel; /* NULL: none */
    int width, height;                   /* pixels, each in [200, 4000] (800 × 500) */
    double y_lo, y_hi;                   /* clamp the data-driven y range to [y_lo, y_hi] when
                                            y_lo < y_hi (accuracy: 0, 1); else unclamped */
} xc_plot_opts;

xc_plot_opts xc_plot_default(void);

/* A line chart of ns series with axes, "nice" ticks (1, 2, 5 × 10^k), tick labels and a
 * legend, written to path. Series with no finite point are listed in the legend only; a chart
 * with no finite point at all is an error. */
int xc_plot_lines(const char *path, const xc_plot_series *s, int ns, const xc_plot_opts *o);

/* The confusion matrix picture: cm (k, k) row-major, rows true, columns predicted; each cell
 * shaded by its share of the row (white → dark blue) with the count and the row percentage
 * written in it; class names label the rows (left) and columns (bottom, vertical). title may
 * be NULL. k in [1, 64]. */
int xc_plot_confusion(const char *path, const int64_t *cm, int k, const char *const *names,
                      const char *title);

/* The same picture as PNG bytes in memory (for TensorBoard's image summaries): *png malloc'd
 * (the caller frees), *len its size, *width x *height its pixels. */
int xc_plot_confusion_png(const int64_t *cm, int k, const char *const *names, const char *title,
                          uint8_t **png, size_t *len, int *width, int *height);

/* Training curves of a run folder: reads run_dir/metrics.jsonl (one object per epoch with
 * "epoch" and any of "train_acc", "val_acc", "train_loss", "val_loss"; null or absent values
 * are gaps) and writes out_dir/accuracy.png and out_dir/loss.png. Returns the number of
 * pictures written (a chart without any value is skipped), or -1 (unreadable file, a line that
 * is not a JSON object, a non-numeric value). */
int xc_plot_history(const char *run_dir, const char *out_dir);

#ifdef __cplusplus
}
#endif
#endif
