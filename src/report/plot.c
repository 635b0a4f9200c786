/* plot.c — the figures of xraycls/plot.h, drawn with cairo: one small figure model (a page in
 * points, panels with "nice" ticks, series, a legend placed where it hides the fewest points)
 * and the six figures over it. The same drawing goes to PNG (an image surface at 300 dpi),
 * SVG and PDF (cairo's vector surfaces); the bytes are collected in memory and written
 * atomically. The data comes from plot_data.c.
 *
 * Built without cairo (XRAYCLS_HAVE_CAIRO 0), every function here fails with
 * XC_PLOT_NO_CAIRO. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/strbuf.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#if XRAYCLS_HAVE_CAIRO
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

int xc_plot_available(void) { return 1; }

/* ---- the page ------------------------------------------------------------------------------ */

#define FONT "DejaVu Sans"
/* Text sizes in points: legible printed at a paper's column width (3.5 in). */
#define PT_TICK 7.0
#define PT_LABEL 8.0
#define PT_TITLE 8.5
#define PT_LEGEND 7.0
#define CAP 0.73 /* DejaVu Sans's cap height, in ems: centres text on a point */
#define COLUMN_W 252.0 /* 3.5 in */

/* Okabe & Ito's colours (distinguishable with the common colour-vision deficiencies); their
 * yellow is left out, too pale on white. */
static const uint32_t PALETTE[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7, 0xE69F00, 0x56B4E9};
#define NPAL (int)(sizeof PALETTE / sizeof *PALETTE)
#define INK 0x1A1A1A
#define GRID 0xE6E6E6
#define MUTED 0x808080

enum { SOLID = 0, DASHED, DOTTED, DASHDOT };

typedef struct {
    xc_plot_format fmt;
    double w, h; /* points */
    cairo_surface_t *s;
    cairo_t *cr;
    xc_strbuf out;   /* the encoded file */
    xc_strbuf texts; /* every text drawn, one per line: the SVG's <desc> */
    char title[512];
} fig;

static cairo_status_t to_strbuf(void *ud, const unsigned char *data, unsigned int len) {
    xc_strbuf *b = ud;
    xc_strbuf_add(b, data, len);
    return b->oom ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

static void rgb(fig *f, uint32_t c) {
    cairo_set_source_rgb(f->cr, ((c >> 16) & 255) / 255.0, ((c >> 8) & 255) / 255.0, (c & 255) / 255.0);
}

static void font(cairo_t *cr, double size, int bold) {
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

/* Unhinted metrics everywhere, so that text measures the same on every surface. */
static void font_options(cairo_t *cr) {
    cairo_font_options_t *o = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(o, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(o, CAIRO_HINT_STYLE_NONE);
    cairo_set_font_options(cr, o);
    cairo_font_options_destroy(o);
}

static double text_w_cr(cairo_t *cr, const char *s, double size, int bold) {
    font(cr, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* The width of s before a page exists (a figure sized by its legend). */
static double measure(const char *s, double size, int bold) {
    cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cr = cairo_create(sf);
    font_options(cr);
    double w = text_w_cr(cr, s, size, bold);
    cairo_destroy(cr);
    cairo_surface_destroy(sf);
    return w;
}

static double text_w(fig *f, const char *s, double size, int bold) { return text_w_cr(f->cr, s, size, bold); }

/* Draws s with its vertical middle (of capitals and digits) at y; ax 0, 0.5, 1: x is its left
 * end, middle or right end; angle in radians (-π/2: reading upwards). */
static void text(fig *f, double x, double y, const char *s, double size, int bold, double ax, double angle,
                 uint32_t c) {
    font(f->cr, size, bold);
    cairo_text_extents_t e;
    cairo_text_extents(f->cr, s, &e);
    cairo_save(f->cr);
    cairo_translate(f->cr, x, y);
    cairo_rotate(f->cr, angle);
    cairo_move_to(f->cr, -e.x_advance * ax, size * CAP / 2);
    rgb(f, c);
    cairo_show_text(f->cr, s);
    cairo_new_path(f->cr);
    cairo_restore(f->cr);
    xc_strbuf_puts(&f->texts, s);
    xc_strbuf_putc(&f->texts, '\n');
}

static void dash(fig *f, int style, double lw) {
    static const double dashed[] = {3.6, 2.0}, dotted[] = {0.1, 1.9}, dashdot[] = {3.6, 1.6, 0.1, 1.6};
    cairo_set_line_width(f->cr, lw);
    cairo_set_line_cap(f->cr, style == DOTTED || style == DASHDOT ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT);
    cairo_set_line_join(f->cr, CAIRO_LINE_JOIN_ROUND);
    switch (style) {
    case DASHED: cairo_set_dash(f->cr, dashed, 2, 0); break;
    case DOTTED: cairo_set_dash(f->cr, dotted, 2, 0); break;
    case DASHDOT: cairo_set_dash(f->cr, dashdot, 4, 0); break;
    default: cairo_set_dash(f->cr, NULL, 0, 0);
    }
}

static void segment(fig *f, double x0, double y0, double x1, double y1, uint32_t c, int style, double lw) {
    dash(f, style, lw);
    rgb(f, c);
    cairo_move_to(f->cr, x0, y0);
    cairo_line_to(f->cr, x1, y1);
    cairo_stroke(f->cr);
}

/* A page of w × h points in format fmt (PNG at dpi), white. */
static int fig_open(fig *f, xc_plot_format fmt, double w, double h, double dpi, const char *title) {
    memset(f, 0, sizeof *f);
    f->fmt = fmt;
    f->w = w;
    f->h = h;
    snprintf(f->title, sizeof f->title, "%s", title);
    if (fmt == XC_PLOT_PNG) {
        f->s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)ceil(w * dpi / 72), (int)ceil(h * dpi / 72));
    } else if (fmt == XC_PLOT_SVG) {
        f->s = cairo_svg_surface_create_for_stream(to_strbuf, &f->out, w, h);
        cairo_svg_surface_restrict_to_version(f->s, CAIRO_SVG_VERSION_1_1);
        cairo_svg_surface_set_document_unit(f->s, CAIRO_SVG_UNIT_PT);
    } else if (fmt == XC_PLOT_PDF) {
        f->s = cairo_pdf_surface_create_for_stream(to_strbuf, &f->out, w, h);
        cairo_pdf_surface_set_metadata(f->s, CAIRO_PDF_METADATA_TITLE, title);
        cairo_pdf_surface_set_metadata(f->s, CAIRO_PDF_METADATA_CREATOR, "xraycls " XRAYCLS_VERSION);
    } else {
        return xc_errorf("figure: no format to draw in");
    }
    if (cairo_surface_status(f->s) != CAIRO_STATUS_SUCCESS) {
        int rc = xc_errorf("figure: cairo: %s", cairo_status_to_string(cairo_surface_status(f->s)));
        cairo_surface_destroy(f->s);
        f->s = NULL;
        return rc;
    }
    f->cr = cairo_create(f->s);
    if (fmt == XC_PLOT_PNG) cairo_scale(f->cr, dpi / 72, dpi / 72);
    font_options(f->cr);
    cairo_set_source_rgb(f->cr, 1, 1, 1);
    cairo_paint(f->cr);
    return 0;
}

static void fig_discard(fig *f) {
    if (f->cr) cairo_destroy(f->cr);
    if (f->s) cairo_surface_destroy(f->s);
    xc_strbuf_free(&f->out);
    xc_strbuf_free(&f->texts);
    f->cr = NULL;
    f->s = NULL;
}

static void xml_escaped(xc_strbuf *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) switch (s[i]) {
        case '&': xc_strbuf_puts(b, "&amp;"); break;
        case '<': xc_strbuf_puts(b, "&lt;"); break;
        case '>': xc_strbuf_puts(b, "&gt;"); break;
        case '"': xc_strbuf_puts(b, "&quot;"); break;
        default: xc_strbuf_putc(b, s[i]);
        }
}

/* The SVG with <title> and <desc> (the texts drawn) right after its opening <svg …> tag. */
static int svg_with_text(fig *f, xc_strbuf *dst) {
    const char *svg = f->out.s ? strstr(f->out.s, "<svg") : NULL;
    const char *gt = svg ? strchr(svg, '>') : NULL;
    if (!gt) return xc_errorf("figure: cairo wrote no <svg> element");
    size_t head = (size_t)(gt + 1 - f->out.s);
    xc_strbuf_add(dst, f->out.s, head);
    xc_strbuf_puts(dst, "\n<title>");
    xml_escaped(dst, f->title, strlen(f->title));
    xc_strbuf_puts(dst, "</title>\n<desc>");
    if (f->texts.s) xml_escaped(dst, f->texts.s, f->texts.len);
    xc_strbuf_puts(dst, "</desc>");
    xc_strbuf_add(dst, f->out.s + head, f->out.len - head);
    return xc_strbuf_ok(dst, "figure");
}

/* Finishes the page into memory: *out receives the file's bytes. Frees the page either way. */
static int fig_finish(fig *f, xc_strbuf *out) {
    int rc = 0;
    if (cairo_status(f->cr) != CAIRO_STATUS_SUCCESS)
        rc = xc_errorf("cairo: %s", cairo_status_to_string(cairo_status(f->cr)));
    cairo_destroy(f->cr);
    f->cr = NULL;
    if (rc == 0 && f->fmt == XC_PLOT_PNG) {
        cairo_surface_flush(f->s);
        cairo_status_t st = cairo_surface_write_to_png_stream(f->s, to_strbuf, &f->out);
        if (st != CAIRO_STATUS_SUCCESS) rc = xc_errorf("cairo: %s", cairo_status_to_string(st));
    }
    cairo_surface_finish(f->s); /* the vector surfaces write now */
    if (rc == 0 && cairo_surface_status(f->s) != CAIRO_STATUS_SUCCESS)
        rc = xc_errorf("cairo: %s", cairo_status_to_string(cairo_surface_status(f->s)));
    cairo_surface_destroy(f->s);
    f->s = NULL;
    if (rc == 0 && xc_strbuf_ok(&f->out, "figure") < 0) rc = -1;
    if (rc == 0) {
        if (f->fmt == XC_PLOT_SVG) rc = svg_with_text(f, out);
        else *out = f->out, memset(&f->out, 0, sizeof f->out);
    }
    fig_discard(f);
    return rc;
}

/* Finishes the page and writes it to path atomically. */
static int fig_write(fig *f, const char *path) {
    xc_strbuf b = {0};
    int rc = fig_finish(f, &b);
    if (rc < 0) rc = xc_errorf("cannot draw '%s': %s", path, xc_error());
    else rc = xc_write_file_atomic(path, b.s ? b.s : "", b.len);
    xc_strbuf_free(&b);
    return rc;
}

/* The title, bold, centred at the top, made smaller (down to 5.5 pt) to fit the page; returns
 * the y below it. */
static double title_draw(fig *f, const char *s) {
    double size = PT_TITLE, w = text_w(f, s, size, 1), avail = f->w - 8;
    if (w > avail) size = fmax(5.5, size * avail / w);
    text(f, f->w / 2, 4 + size * 0.7, s, size, 1, 0.5, 0, INK);
    return 4 + size * 1.4 + 4;
}

/* "Receiver operating characteristic — tiny/best, eval-data-test" into buf. */
static void make_title(char *buf, size_t cap, const char *what, const char *name) {
    snprintf(buf, cap, "%s%s%s", what, name && *name ? " \xE2\x80\x94 " : "", name ? name : "");
}

/* ---- axes ------------------------------------------------------------------------------------ */

enum { MAXTICKS = 40 };

typedef struct {
    double lo, hi;
    int log;
    int n;
    double v[MAXTICKS];
    char lab[MAXTICKS][24];
} axis;

/* A "nice" step (1, 2 or 5 × 10^k) giving about `target` intervals over span. */
static double nice_step(double span, int target) {
    double raw = span / target, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
}

/* A linear axis over [lo, hi], widened to multiples of a nice step unless fixed. integer: steps
 * of at least 1 (epochs). */
static void axis_linear(axis *a, double lo, double hi, int target, int integer, int fixed) {
    memset(a, 0, sizeof *a);
    if (hi - lo < 1e-12) {
        double pad = integer ? 1 : fabs(lo) > 1e-12 ? fabs(lo) * 0.1 : 1;
        lo -= pad, hi += pad;
    }
    double step = nice_step(hi - lo, target);
    if (integer && step < 1) step = 1;
    a->lo = fixed ? lo : floor(lo / step + 1e-9) * step;
    a->hi = fixed ? hi : ceil(hi / step - 1e-9) * step;
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    for (double v = ceil(a->lo / step - 1e-9) * step; v <= a->hi + step * 1e-6 && a->n < MAXTICKS; v += step) {
        if (fabs(v) < step * 1e-6) v = 0; /* no "-0.0" */
        a->v[a->n] = v;
        snprintf(a->lab[a->n], sizeof a->lab[0], "%.*f", dec, v);
        a->n++;
    }
}

/* A log axis over [lo, hi] (both > 0), padded a little; ticks at the decades, and at 2 and 5
 * times them when fewer than three decades fall inside. */
static void axis_log(axis *a, double lo, double hi) {
    memset(a, 0, sizeof *a);
    a->log = 1;
    a->lo = lo / 1.15;
    a->hi = hi * 1.15;
    int e0 = (int)floor(log10(a->lo)), e1 = (int)ceil(log10(a->hi));
    static const double all[] = {1, 2, 5}, one[] = {1};
    int decades = 0;
    for (int e = e0; e <= e1; e++) decades += pow(10, e) >= a->lo * 0.9999 && pow(10, e) <= a->hi * 1.0001;
    int fine = decades < 3; /* too few labels at the decades alone */
    const double *m = fine ? all : one;
    for (int e = e0; e <= e1; e++)
        for (int j = 0; j < (fine ? 3 : 1); j++) {
            double v = m[j] * pow(10, e);
            if (v < a->lo * 0.9999 || v > a->hi * 1.0001 || a->n == MAXTICKS) continue;
            a->v[a->n] = v;
            snprintf(a->lab[a->n], sizeof a->lab[0], "%g", v);
            a->n++;
        }
}

static double axis_t(const axis *a, double v) { return a->log ? log10(v) : v; }

typedef struct {
    axis x, y;
    double x0, x1, y0, y1; /* the plot area: x0 left, x1 right, y0 top, y1 bottom */
} panel;

static double px(const panel *p, double v) {
    return p->x0 + (axis_t(&p->x, v) - axis_t(&p->x, p->x.lo)) / (axis_t(&p->x, p->x.hi) - axis_t(&p->x, p->x.lo)) *
                       (p->x1 - p->x0);
}
static double py(const panel *p, double v) {
    return p->y1 - (axis_t(&p->y, v) - axis_t(&p->y, p->y.lo)) / (axis_t(&p->y, p->y.hi) - axis_t(&p->y, p->y.lo)) *
                       (p->y1 - p->y0);
}

/* The plot area inside the box (bx0, by0)–(bx1, by1) once room is left for the y tick labels and
 * label (left) and the x tick labels and label (below; x_ticks 0: a panel above another). */
static void panel_place(fig *f, panel *p, double bx0, double by0, double bx1, double by1, int x_ticks, int xlabel,
                        int ylabel) {
    double wmax = 0;
    for (int i = 0; i < p->y.n; i++) wmax = fmax(wmax, text_w(f, p->y.lab[i], PT_TICK, 0));
    p->x0 = bx0 + (ylabel ? PT_LABEL + 5 : 0) + wmax + 5;
    p->x1 = bx1;
    p->y0 = by0;
    p->y1 = by1 - (x_ticks ? PT_TICK + 6 : 0) - (xlabel ? PT_LABEL + 4 : 0);
}

/* Grid, frame, ticks, tick labels and axis labels of a panel. */
static void panel_frame(fig *f, const panel *p, const char *xlabel, const char *ylabel, int x_ticks) {
    cairo_t *cr = f->cr;
    for (int i = 0; i < p->y.n; i++) segment(f, p->x0, py(p, p->y.v[i]), p->x1, py(p, p->y.v[i]), GRID, SOLID, 0.4);
    for (int i = 0; i < p->x.n; i++) segment(f, px(p, p->x.v[i]), p->y0, px(p, p->x.v[i]), p->y1, GRID, SOLID, 0.4);
    dash(f, SOLID, 0.6);
    rgb(f, INK);
    cairo_rectangle(cr, p->x0, p->y0, p->x1 - p->x0, p->y1 - p->y0);
    cairo_stroke(cr);
    double wmax = 0;
    for (int i = 0; i < p->y.n; i++) {
        double y = py(p, p->y.v[i]);
        segment(f, p->x0 - 2.5, y, p->x0, y, INK, SOLID, 0.6);
        text(f, p->x0 - 4, y, p->y.lab[i], PT_TICK, 0, 1, 0, INK);
        wmax = fmax(wmax, text_w(f, p->y.lab[i], PT_TICK, 0));
    }
    for (int i = 0; i < p->x.n; i++) {
        double x = px(p, p->x.v[i]);
        segment(f, x, p->y1, x, p->y1 + 2.5, INK, SOLID, 0.6);
        if (x_ticks) text(f, x, p->y1 + 4 + PT_TICK / 2, p->x.lab[i], PT_TICK, 0, 0.5, 0, INK);
    }
    if (xlabel) text(f, (p->x0 + p->x1) / 2, p->y1 + (x_ticks ? PT_TICK + 6 : 2) + PT_LABEL / 2 + 1, xlabel, PT_LABEL, 0, 0.5, 0, INK);
    if (ylabel) text(f, p->x0 - 5 - wmax - 4 - PT_LABEL * 0.35, (p->y0 + p->y1) / 2, ylabel, PT_LABEL, 0, 0.5, -M_PI / 2, INK);
}

/* ---- series and legend ----------------------------------------------------------------------- */

typedef struct {
    const double *x, *y;
    int n;
    uint32_t color;
    int style;
    double lw;
    int markers; /* dots on the points */
    int steps;   /* the step function of a PR curve: up at x[i-1], then across to x[i] */
    const char *label;
} series;

static void series_draw(fig *f, const panel *p, const series *s) {
    cairo_t *cr = f->cr;
    cairo_save(cr);
    cairo_rectangle(cr, p->x0 - 1.5, p->y0 - 1.5, p->x1 - p->x0 + 3, p->y1 - p->y0 + 3);
    cairo_clip(cr);
    dash(f, s->style, s->lw);
    rgb(f, s->color);
    int have = 0;
    for (int i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
            have = 0;
            continue;
        }
        double x = px(p, s->x[i]), y = py(p, s->y[i]);
        if (!have) cairo_move_to(cr, x, y);
        else if (s->steps) cairo_line_to(cr, px(p, s->x[i - 1]), y), cairo_line_to(cr, x, y);
        else cairo_line_to(cr, x, y);
        have = 1;
    }
    cairo_stroke(cr);
    if (s->markers)
        for (int i = 0; i < s->n; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->y[i])) continue;
            cairo_new_sub_path(cr);
            cairo_arc(cr, px(p, s->x[i]), py(p, s->y[i]), 1.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
    cairo_restore(cr);
}

typedef struct {
    const char *label;
    uint32_t color;
    int style;
    double lw;
    int markers;
} entry;

static const double LEG_ROW = PT_LEGEND * 1.45, LEG_SAMPLE = 14, LEG_PAD = 3;

static void legend_size(const entry *e, int n, double *w, double *h) {
    double lw = 0;
    for (int i = 0; i < n; i++) lw = fmax(lw, measure(e[i].label, PT_LEGEND, 0));
    *w = LEG_PAD * 2 + LEG_SAMPLE + 4 + lw;
    *h = LEG_PAD * 2 + n * LEG_ROW - (LEG_ROW - PT_LEGEND) / 2;
}

static void legend_draw(fig *f, const entry *e, int n, double x, double y) {
    double w, h;
    legend_size(e, n, &w, &h);
    cairo_t *cr = f->cr;
    cairo_rectangle(cr, x, y, w, h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
    cairo_fill_preserve(cr);
    dash(f, SOLID, 0.4);
    rgb(f, 0xB0B0B0);
    cairo_stroke(cr);
    for (int i = 0; i < n; i++) {
        double cy = y + LEG_PAD + PT_LEGEND / 2 + i * LEG_ROW;
        segment(f, x + LEG_PAD, cy, x + LEG_PAD + LEG_SAMPLE, cy, e[i].color, e[i].style, e[i].lw);
        if (e[i].markers) {
            rgb(f, e[i].color);
            cairo_new_sub_path(cr);
            cairo_arc(cr, x + LEG_PAD + LEG_SAMPLE / 2, cy, 1.5, 0, 2 * M_PI);
            cairo_fill(cr);
        }
        text(f, x + LEG_PAD + LEG_SAMPLE + 4, cy, e[i].label, PT_LEGEND, 0, 0, 0, INK);
    }
}

typedef struct {
    double x0, y0, x1, y1;
} box;

/* Of the four inner corners of the panel (in the order of prefs: 0 upper left, 1 upper right,
 * 2 lower left, 3 lower right), the one where the legend covers the fewest points of the series
 * (each segment sampled) and no box of avoid; its top-left corner in *x, *y. */
static void legend_place(const panel *p, const series *s, int ns, const box *avoid, int navoid, double w, double h,
                         const int prefs[4], double *x, double *y) {
    long best = -1;
    for (int q = 0; q < 4; q++) {
        int c = prefs[q];
        double bx = c & 1 ? p->x1 - 4 - w : p->x0 + 4, by = c & 2 ? p->y1 - 4 - h : p->y0 + 4;
        long cost = 0;
        for (int a = 0; a < navoid; a++)
            if (bx < avoid[a].x1 && bx + w > avoid[a].x0 && by < avoid[a].y1 && by + h > avoid[a].y0) cost += 100000;
        for (int i = 0; i < ns; i++)
            for (int j = 0; j < s[i].n; j++) {
                if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j])) continue;
                int prev = j > 0 && isfinite(s[i].x[j - 1]) && isfinite(s[i].y[j - 1]);
                for (int t = prev ? 0 : 8; t <= 8; t++) {
                    double u = t / 8.0;
                    double vx = prev ? px(p, s[i].x[j - 1]) * (1 - u) + px(p, s[i].x[j]) * u : px(p, s[i].x[j]);
                    double vy = prev ? py(p, s[i].y[j - 1]) * (1 - u) + py(p, s[i].y[j]) * u : py(p, s[i].y[j]);
                    cost += vx >= bx - 2 && vx <= bx + w + 2 && vy >= by - 2 && vy <= by + h + 2;
                }
            }
        if (best < 0 || cost < best) best = cost, *x = bx, *y = by;
    }
}

/* Where a square [0, 1] × [0, 1] plot area of at most `tall` points ends on the right, on a
 * page a column wide (panel_place with the ticks 0.0 … 1.0): a legend beside it starts there,
 * and the page ends after the legend. */
static double square_right(double tall) {
    double x0 = 4 + PT_LABEL + 5 + measure("0.0", PT_TICK, 0) + 5;
    return x0 + fmin(COLUMN_W - 8 - x0, tall);
}

/* The title's height at full size (title_draw). */
static const double TITLE_ROOM = 4 + PT_TITLE * 1.4 + 4;

static entry entry_of(const series *s) { return (entry){s->label, s->color, s->style, s->lw, s->markers}; }

/* A class's colour and line style: the palette, then dashed, then dash-dotted. */
static void class_style(int i, uint32_t *color, int *style) {
    *color = PALETTE[i % NPAL];
    *style = (i / NPAL) % 3 == 0 ? SOLID : (i / NPAL) % 3 == 1 ? DASHED : DASHDOT;
}

/* ---- training curves ------------------------------------------------------------------------- */

static int draw_history(const xc_plot_history_data *h, int loss, const char *path, const char *name,
                        xc_plot_format fmt) {
    const double *tr = loss ? h->train_loss : h->train_acc, *va = loss ? h->val_loss : h->val_acc;
    double ylo = INFINITY, yhi = -INFINITY, xlo = INFINITY, xhi = -INFINITY;
    for (int i = 0; i < h->n; i++) {
        xlo = fmin(xlo, h->epoch[i]), xhi = fmax(xhi, h->epoch[i]);
        if (isfinite(tr[i])) ylo = fmin(ylo, tr[i]), yhi = fmax(yhi, tr[i]);
        if (isfinite(va[i])) ylo = fmin(ylo, va[i]), yhi = fmax(yhi, va[i]);
    }
    if (!(ylo <= yhi))
        return xc_errorf("cannot draw '%s': metrics.csv has no finite %s", path, loss ? "loss" : "accuracy");
    int logy = loss && xc_plot_loss_log_scale(h);
    char title[512];
    make_title(title, sizeof title, loss ? "Loss" : "Accuracy", name);
    fig f;
    if (fig_open(&f, fmt, COLUMN_W, 185, 300, title) < 0) return xc_errorf("cannot draw '%s': %s", path, xc_error());
    double top = title_draw(&f, title);
    panel p;
    axis_linear(&p.x, xlo, xhi, 6, 1, 0);
    if (p.x.lo < 0 && xlo >= 0) axis_linear(&p.x, fmax(0, xlo), xhi + (xhi - xlo < 1), 6, 1, 0);
    if (logy) {
        axis_log(&p.y, ylo, yhi);
    } else if (!loss) {
        double pad = fmax(0.02, (yhi - ylo) * 0.08);
        axis_linear(&p.y, fmax(0, ylo - pad), fmin(1, yhi + pad), 5, 0, 0);
        if (p.y.lo < 0 || p.y.hi > 1) axis_linear(&p.y, fmax(0, p.y.lo), fmin(1, p.y.hi), 5, 0, 1);
    } else {
        axis_linear(&p.y, fmax(0, ylo - (yhi - ylo) * 0.08), yhi + (yhi - ylo) * 0.08, 5, 0, 0);
    }
    const char *ylabel = loss ? (logy ? "loss (log scale)" : "loss") : "accuracy";
    panel_place(&f, &p, 4, top, f.w - 6, f.h - 3, 1, 1, 1);
    panel_frame(&f, &p, "epoch", ylabel, 1);
    series s[2];
    int ns = 0;
    int any_tr = 0, any_va = 0;
    for (int i = 0; i < h->n; i++) any_tr |= isfinite(tr[i]), any_va |= isfinite(va[i]);
    int mk = h->n <= 60;
    if (any_tr) s[ns++] = (series){h->epoch, tr, h->n, PALETTE[0], SOLID, 1.2, mk, 0, "train"};
    if (any_va) s[ns++] = (series){h->epoch, va, h->n, PALETTE[1], DASHED, 1.2, mk, 0, "validation"};
    box avoid[1];
    int navoid = 0;
    if (h->best_epoch > 0 && h->best_epoch >= p.x.lo && h->best_epoch <= p.x.hi) {
        /* The best epoch: a vertical line through the plot, labelled at its top. */
        double x = px(&p, h->best_epoch);
        segment(&f, x, p.y0, x, p.y1, 0x444444, DOTTED, 1.0);
        char lab[64];
        snprintf(lab, sizeof lab, "best: epoch %d", h->best_epoch);
        double w = text_w(&f, lab, PT_LEGEND, 0), lx = x + 3 + w <= p.x1 - 2 ? x + 3 : x - 3 - w, ly = p.y0 + 3;
        cairo_rectangle(f.cr, lx - 1, ly, w + 2, PT_LEGEND + 2);
        cairo_set_source_rgba(f.cr, 1, 1, 1, 0.85);
        cairo_fill(f.cr);
        text(&f, lx, ly + 1 + PT_LEGEND / 2, lab, PT_LEGEND, 0, 0, 0, 0x444444);
        avoid[navoid++] = (box){lx - 2, ly - 1, lx + w + 2, ly + PT_LEGEND + 3};
    }
    for (int i = 0; i < ns; i++) series_draw(&f, &p, &s[i]);
    entry e[2];
    for (int i = 0; i < ns; i++) e[i] = entry_of(&s[i]);
    double lw, lh, lx = 0, ly = 0;
    legend_size(e, ns, &lw, &lh);
    static const int acc_pref[4] = {3, 2, 1, 0}, loss_pref[4] = {1, 0, 3, 2};
    legend_place(&p, s, ns, avoid, navoid, lw, lh, loss ? loss_pref : acc_pref, &lx, &ly);
    legend_draw(&f, e, ns, lx, ly);
    return fig_write(&f, path);
}

int xc_plot_accuracy(const xc_plot_history_data *h, const char *path, const char *name, xc_plot_format fmt) {
    return draw_history(h, 0, path, name, fmt);
}

int xc_plot_loss(const xc_plot_history_data *h, const char *path, const char *name, xc_plot_format fmt) {
    return draw_history(h, 1, path, name, fmt);
}

/* ---- ROC and precision–recall -------------------------------------------------------------- */

enum { MAXCURVES = 130 };

static int draw_curves(const xc_plot_curves *c, int pr, const char *path, const char *name, xc_plot_format fmt) {
    if (c->n < 1) return xc_errorf("cannot draw '%s': no curve", path);
    if (c->n > MAXCURVES - 2) return xc_errorf("cannot draw '%s': %d curves (at most %d)", path, c->n, MAXCURVES - 2);
    series s[MAXCURVES];
    entry e[MAXCURVES];
    char labels[MAXCURVES][160];
    int ns = 0, nc = 0;
    static const double diag[2] = {0, 1};
    /* Classes first (palette order), macro last (black, dashed, on top). */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < c->n; i++) {
            const xc_plot_curve *cv = &c->c[i];
            int macro = !strcmp(cv->name, "macro");
            if (macro != pass) continue;
            uint32_t col = INK;
            int style = DASHED;
            if (!macro) class_style(nc++, &col, &style);
            snprintf(labels[ns], sizeof labels[0], "%s (%s %.3f)", cv->name, pr ? "AP" : "AUROC", cv->area);
            s[ns] = (series){cv->x, cv->y, cv->n, col, style, macro ? 1.5 : 1.1, 0, pr, labels[ns]};
            ns++;
        }
    int nseries = ns;
    for (int i = 0; i < nseries; i++) e[i] = entry_of(&s[i]);
    int ne = nseries;
    e[ne++] = (entry){pr ? "prevalence (dotted)" : "chance (AUROC 0.5)", MUTED, DOTTED, 1.0, 0};
    /* Many entries go beside the plot, widening the page. */
    double lw, lh;
    legend_size(e, ne, &lw, &lh);
    int outside = ne > 8;
    double H = 236, W = outside ? square_right(H - 3 - (PT_TICK + 6) - (PT_LABEL + 4) - TITLE_ROOM) + 10 + lw + 6 : COLUMN_W;
    char title[512];
    make_title(title, sizeof title, pr ? "Precision\xE2\x80\x93recall" : "ROC curves", name);
    fig f;
    if (fig_open(&f, fmt, W, H, 300, title) < 0) return xc_errorf("cannot draw '%s': %s", path, xc_error());
    double top = title_draw(&f, title);
    panel p;
    axis_linear(&p.x, 0, 1, 5, 0, 1);
    axis_linear(&p.y, 0, 1, 5, 0, 1);
    panel_place(&f, &p, 4, top, COLUMN_W - 8, H - 3, 1, 1, 1);
    /* A square plot area, as the two axes are the same kind of rate. */
    double side = fmin(p.x1 - p.x0, p.y1 - p.y0);
    p.x1 = p.x0 + side;
    p.y0 = p.y1 - side;
    panel_frame(&f, &p, pr ? "recall (sensitivity)" : "false positive rate (1 \xE2\x88\x92 specificity)",
                pr ? "precision (positive predictive value)" : "true positive rate (sensitivity)", 1);
    if (pr) {
        for (int i = 0; i < c->n; i++) {
            if (!strcmp(c->c[i].name, "macro") || !isfinite(c->c[i].base)) continue;
            int k = 0;
            for (int j = 0; j < nseries; j++)
                if (s[j].x == c->c[i].x) k = j;
            segment(&f, p.x0, py(&p, c->c[i].base), p.x1, py(&p, c->c[i].base), s[k].color, DOTTED, 0.9);
        }
    } else {
        series d = {diag, diag, 2, MUTED, DOTTED, 1.0, 0, 0, NULL};
        series_draw(&f, &p, &d);
    }
    for (int i = 0; i < nseries; i++) series_draw(&f, &p, &s[i]);
    double lx, ly;
    if (outside) {
        lx = p.x1 + 10, ly = p.y0;
    } else {
        static const int roc_pref[4] = {3, 1, 2, 0}, pr_pref[4] = {2, 0, 3, 1};
        legend_place(&p, s, nseries, NULL, 0, lw, lh, pr ? pr_pref : roc_pref, &lx, &ly);
    }
    legend_draw(&f, e, ne, lx, ly);
    return fig_write(&f, path);
}

int xc_plot_roc(const xc_plot_curves *c, const char *path, const char *name, xc_plot_format fmt) {
    return draw_curves(c, 0, path, name, fmt);
}

int xc_plot_pr(const xc_plot_curves *c, const char *path, const char *name, xc_plot_format fmt) {
    return draw_curves(c, 1, path, name, fmt);
}

/* ---- the reliability diagram --------------------------------------------------------------- */

int xc_plot_reliability(const xc_plot_calibration *c, const char *path, const char *name, xc_plot_format fmt) {
    if (c->n < 1) return xc_errorf("cannot draw '%s': no reliability bins", path);
    if (c->n > MAXCURVES - 2) return xc_errorf("cannot draw '%s': %d diagrams (at most %d)", path, c->n, MAXCURVES - 2);
    /* Single-label files hold the top label's bins and each class's: the figure is the top
     * label's; multi-label ones only the findings', each drawn. */
    int top_only = -1;
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->r[i].name, "top-label")) top_only = i;
    int first = top_only >= 0 ? top_only : 0, last = top_only >= 0 ? top_only : c->n - 1;
    series s[MAXCURVES];
    entry e[MAXCURVES];
    char labels[MAXCURVES][160];
    int ns = 0;
    for (int i = first; i <= last; i++) {
        const xc_plot_bins *r = &c->r[i];
        uint32_t col;
        int style;
        class_style(ns, &col, &style);
        snprintf(labels[ns], sizeof labels[0], "%s (ECE %.3f)", top_only >= 0 ? "top label" : r->name, r->ece);
        s[ns] = (series){r->mean_prob, r->frac_pos, r->nbins, col, style, 1.2, 1, 0, labels[ns]};
        ns++;
    }
    for (int i = 0; i < ns; i++) e[i] = entry_of(&s[i]);
    int ne = ns;
    e[ne++] = (entry){"perfectly calibrated", MUTED, DOTTED, 1.0, 0};
    double lw, lh;
    legend_size(e, ne, &lw, &lh);
    int outside = ne > 8;
    double H = 262, W = outside ? square_right((H - TITLE_ROOM) * 0.70 - 5) + 10 + lw + 6 : COLUMN_W;
    char title[512];
    make_title(title, sizeof title, "Reliability", name);
    fig f;
    if (fig_open(&f, fmt, W, H, 300, title) < 0) return xc_errorf("cannot draw '%s': %s", path, xc_error());
    double top = title_draw(&f, title);
    /* The histogram: the bins' counts (summed over the findings when there are several). */
    const xc_plot_bins *r0 = &c->r[first];
    int nb = r0->nbins;
    double *cnt = calloc((size_t)(nb ? nb : 1), sizeof *cnt);
    if (!cnt) {
        fig_discard(&f);
        return xc_errorf("cannot draw '%s': out of memory", path);
    }
    double cmax = 0;
    for (int i = first; i <= last; i++)
        for (int b = 0; b < nb && b < c->r[i].nbins; b++) cnt[b] += (double)c->r[i].count[b];
    for (int b = 0; b < nb; b++) cmax = fmax(cmax, cnt[b]);
    double split = top + (H - top) * 0.70;
    panel p, q;
    axis_linear(&p.x, 0, 1, 5, 0, 1);
    axis_linear(&p.y, 0, 1, 5, 0, 1);
    q.x = p.x;
    axis_linear(&q.y, 0, cmax > 0 ? cmax : 1, 2, 1, 0);
    /* Both panels share the left edge: place each, then align on the wider margin. */
    panel_place(&f, &p, 4, top, COLUMN_W - 8, split - 5, 0, 0, 1);
    panel_place(&f, &q, 4, split + 5, COLUMN_W - 8, H - 3, 1, 1, 1);
    double x0 = fmax(p.x0, q.x0);
    p.x0 = q.x0 = x0;
    double side = fmin(p.x1 - p.x0, p.y1 - p.y0);
    p.x1 = q.x1 = p.x0 + side;
    int single = top_only >= 0;
    panel_frame(&f, &p, NULL, single ? "accuracy" : "fraction of positives", 0);
    /* Several findings: the histogram counts one (image, finding) label per entry. */
    panel_frame(&f, &q, single ? "confidence (top-label probability)" : "predicted probability",
                single ? "images" : "labels", 1);
    static const double diag[2] = {0, 1};
    series d = {diag, diag, 2, MUTED, DOTTED, 1.0, 0, 0, NULL};
    series_draw(&f, &p, &d);
    for (int i = 0; i < ns; i++) series_draw(&f, &p, &s[i]);
    for (int b = 0; b < nb; b++) {
        if (cnt[b] <= 0) continue;
        double bx0 = px(&q, r0->lower[b]), bx1 = px(&q, r0->upper[b]), by = py(&q, cnt[b]);
        cairo_rectangle(f.cr, bx0 + 0.3, by, bx1 - bx0 - 0.6, q.y1 - by);
        rgb(&f, ns == 1 ? 0x9ECAE1 : 0xBDBDBD);
        cairo_fill_preserve(f.cr);
        dash(&f, SOLID, 0.4);
        rgb(&f, ns == 1 ? PALETTE[0] : MUTED);
        cairo_stroke(f.cr);
    }
    free(cnt);
    double lx, ly;
    if (outside) {
        lx = p.x1 + 10, ly = p.y0;
    } else {
        static const int pref[4] = {0, 3, 2, 1};
        legend_place(&p, s, ns, NULL, 0, lw, lh, pref, &lx, &ly);
    }
    legend_draw(&f, e, ne, lx, ly);
    return fig_write(&f, path);
}

/* ---- the confusion matrix ------------------------------------------------------------------ */

/* ColorBrewer's sequential Blues (white → dark blue), readable with colour-vision deficiencies
 * and in gray: three stops, linear between. */
static const double BLUES[3][3] = {{0xF7, 0xFB, 0xFF}, {0x6B, 0xAE, 0xD6}, {0x08, 0x30, 0x6B}};

static uint32_t shade(double t) {
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    int a = t < 0.5 ? 0 : 1;
    double u = (t - 0.5 * a) / 0.5;
    uint32_t c = 0;
    for (int i = 0; i < 3; i++) c = c << 8 | (uint32_t)lround(BLUES[a][i] + (BLUES[a + 1][i] - BLUES[a][i]) * u);
    return c;
}

static int draw_confusion(fig *f, const int64_t *cm, int k, const char *const *names, const char *title) {
    double top = title_draw(f, title);
    double name_w = 0;
    for (int i = 0; i < k; i++) name_w = fmax(name_w, text_w(f, names[i], PT_TICK, 0));
    const double bar_room = 6 + 7 + 3 + text_w(f, "100%", PT_TICK, 0) + 4 + PT_LABEL + 4;
    double left = 4 + PT_LABEL + 5 + name_w + 5;
    /* Column names across when they fit their cells, else upwards. */
    double cell = fmin((f->w - left - bar_room) / k, (f->h - top - 3 - (PT_TICK + 6) - (PT_LABEL + 4)) / k);
    int across = name_w <= cell - 2;
    double bottom = (across ? PT_TICK + 6 : name_w + 6) + PT_LABEL + 4;
    cell = fmin((f->w - left - bar_room) / k, (f->h - top - 3 - bottom) / k);
    if (cell < 4) return xc_errorf("%d classes do not fit the page", k);
    double grid = cell * k, x0 = left + (f->w - left - bar_room - grid) / 2, y0 = top;
    double count_pt = fmin(PT_TICK, cell * 0.30), pct_pt = fmin(PT_TICK - 1, cell * 0.24);
    char buf[64];
    for (int t = 0; t < k; t++) {
        int64_t row = 0;
        for (int p = 0; p < k; p++) row += cm[t * k + p];
        for (int p = 0; p < k; p++) {
            int64_t v = cm[t * k + p];
            double share = row > 0 ? (double)v / (double)row : 0, cx = x0 + p * cell, cy = y0 + t * cell;
            cairo_rectangle(f->cr, cx, cy, cell, cell);
            rgb(f, shade(share));
            cairo_fill(f->cr);
            uint32_t ink = share > 0.55 ? 0xFFFFFF : INK;
            snprintf(buf, sizeof buf, "%lld", (long long)v);
            int pct = row > 0 && cell >= 3.2 * count_pt && pct_pt >= 4;
            if (text_w(f, buf, count_pt, 1) <= cell - 2)
                text(f, cx + cell / 2, cy + cell / 2 - (pct ? count_pt * 0.55 : 0), buf, count_pt, 1, 0.5, 0, ink);
            if (pct) {
                snprintf(buf, sizeof buf, "%.0f%%", 100 * share);
                text(f, cx + cell / 2, cy + cell / 2 + pct_pt * 0.95, buf, pct_pt, 0, 0.5, 0, ink);
            }
        }
    }
    dash(f, SOLID, 0.4);
    rgb(f, 0xFFFFFF);
    for (int i = 1; i < k; i++) {
        cairo_move_to(f->cr, x0, y0 + i * cell), cairo_line_to(f->cr, x0 + grid, y0 + i * cell);
        cairo_move_to(f->cr, x0 + i * cell, y0), cairo_line_to(f->cr, x0 + i * cell, y0 + grid);
    }
    cairo_stroke(f->cr);
    dash(f, SOLID, 0.6);
    rgb(f, INK);
    cairo_rectangle(f->cr, x0, y0, grid, grid);
    cairo_stroke(f->cr);
    for (int i = 0; i < k; i++) {
        text(f, x0 - 4, y0 + (i + 0.5) * cell, names[i], PT_TICK, 0, 1, 0, INK);
        if (across) text(f, x0 + (i + 0.5) * cell, y0 + grid + 4 + PT_TICK / 2, names[i], PT_TICK, 0, 0.5, 0, INK);
        else text(f, x0 + (i + 0.5) * cell, y0 + grid + 4, names[i], PT_TICK, 0, 1, -M_PI / 2, INK);
    }
    text(f, x0 + grid / 2, y0 + grid + bottom - PT_LABEL / 2 - 3, "predicted class", PT_LABEL, 0, 0.5, 0, INK);
    text(f, x0 - 4 - name_w - 5 - PT_LABEL * 0.35, y0 + grid / 2, "true class", PT_LABEL, 0, 0.5, -M_PI / 2, INK);
    /* The colour bar: the share of the row, 0 at the bottom. */
    double bx = x0 + grid + 6, bw = 7;
    cairo_pattern_t *g = cairo_pattern_create_linear(0, y0 + grid, 0, y0);
    for (int i = 0; i < 3; i++)
        cairo_pattern_add_color_stop_rgb(g, i / 2.0, BLUES[i][0] / 255, BLUES[i][1] / 255, BLUES[i][2] / 255);
    cairo_rectangle(f->cr, bx, y0, bw, grid);
    cairo_set_source(f->cr, g);
    cairo_fill_preserve(f->cr);
    cairo_pattern_destroy(g);
    dash(f, SOLID, 0.4);
    rgb(f, INK);
    cairo_stroke(f->cr);
    for (int i = 0; i <= 4; i++) {
        double y = y0 + grid - grid * i / 4.0;
        segment(f, bx + bw, y, bx + bw + 2, y, INK, SOLID, 0.5);
        snprintf(buf, sizeof buf, "%d%%", 25 * i);
        text(f, bx + bw + 3, y, buf, PT_TICK, 0, 0, 0, INK);
    }
    text(f, bx + bw + 3 + text_w(f, "100%", PT_TICK, 0) + 4 + PT_LABEL * 0.4, y0 + grid / 2, "share of the true class",
         PT_LABEL, 0, 0.5, -M_PI / 2, INK);
    return 0;
}

/* The page height of a k-class confusion matrix: room for the title, square cells of up to
 * 38 pt (as wide as the column allows), the column names and the axis label. */
static double confusion_height(int k, const char *const *names) {
    double name_w = 0;
    for (int i = 0; i < k; i++) name_w = fmax(name_w, measure(names[i], PT_TICK, 0));
    double bar_room = 6 + 7 + 3 + measure("100%", PT_TICK, 0) + 4 + PT_LABEL + 4;
    double cell = fmin(38, (COLUMN_W - (4 + PT_LABEL + 5 + name_w + 5) - bar_room) / k);
    double bottom = (name_w <= cell - 2 ? PT_TICK + 6 : name_w + 6) + PT_LABEL + 4;
    return 4 + PT_TITLE * 1.4 + 4 + cell * k + bottom + 3;
}

int xc_plot_confusion(const xc_plot_confusion_data *c, const char *path, const char *name, xc_plot_format fmt) {
    if (c->k < 1 || c->k > 64) return xc_errorf("cannot draw '%s': %d classes (1..64 can be drawn)", path, c->k);
    char title[512];
    make_title(title, sizeof title, "Confusion matrix", name);
    fig f;
    if (fig_open(&f, fmt, COLUMN_W, confusion_height(c->k, (const char *const *)c->names), 300, title) < 0)
        return xc_errorf("cannot draw '%s': %s", path, xc_error());
    if (draw_confusion(&f, c->cm, c->k, (const char *const *)c->names, title) < 0) {
        fig_discard(&f);
        return xc_errorf("cannot draw '%s': %s", path, xc_error());
    }
    return fig_write(&f, path);
}

int xc_plot_confusion_png(const int64_t *cm, int k, const char *const *names, const char *title, uint8_t **png,
                          size_t *len, int *width, int *height) {
    *png = NULL;
    *len = 0;
    if (k < 1 || k > 64) return xc_errorf("confusion matrix: %d classes (1..64 can be drawn)", k);
    fig f;
    if (fig_open(&f, XC_PLOT_PNG, COLUMN_W, confusion_height(k, names), 150, title ? title : "") < 0)
        return xc_errorf("confusion matrix: %s", xc_error());
    int w = cairo_image_surface_get_width(f.s), h = cairo_image_surface_get_height(f.s);
    if (draw_confusion(&f, cm, k, names, title ? title : "Confusion matrix") < 0) {
        fig_discard(&f);
        return xc_errorf("confusion matrix: %s", xc_error());
    }
    xc_strbuf b = {0};
    if (fig_finish(&f, &b) < 0) {
        xc_strbuf_free(&b);
        return xc_errorf("confusion matrix: %s", xc_error());
    }
    *png = (uint8_t *)b.s;
    *len = b.len;
    *width = w;
    *height = h;
    return 0;
}

#else /* without cairo: the readers of plot_data.c still work; drawing says why it cannot */

int xc_plot_available(void) { return 0; }

static int no_cairo(const char *path) { return xc_errorf("cannot draw '%s': %s", path, XC_PLOT_NO_CAIRO); }

int xc_plot_accuracy(const xc_plot_history_data *h, const char *path, const char *name, xc_plot_format fmt) {
    (void)h, (void)name, (void)fmt;
    return no_cairo(path);
}
int xc_plot_loss(const xc_plot_history_data *h, const char *path, const char *name, xc_plot_format fmt) {
    (void)h, (void)name, (void)fmt;
    return no_cairo(path);
}
int xc_plot_roc(const xc_plot_curves *c, const char *path, const char *name, xc_plot_format fmt) {
    (void)c, (void)name, (void)fmt;
    return no_cairo(path);
}
int xc_plot_pr(const xc_plot_curves *c, const char *path, const char *name, xc_plot_format fmt) {
    (void)c, (void)name, (void)fmt;
    return no_cairo(path);
}
int xc_plot_reliability(const xc_plot_calibration *c, const char *path, const char *name, xc_plot_format fmt) {
    (void)c, (void)name, (void)fmt;
    return no_cairo(path);
}
int xc_plot_confusion(const xc_plot_confusion_data *c, const char *path, const char *name, xc_plot_format fmt) {
    (void)c, (void)name, (void)fmt;
    return no_cairo(path);
}
int xc_plot_confusion_png(const int64_t *cm, int k, const char *const *names, const char *title, uint8_t **png,
                          size_t *len, int *width, int *height) {
    (void)cm, (void)k, (void)names, (void)title, (void)width, (void)height;
    *png = NULL;
    *len = 0;
    return xc_errorf("confusion matrix: %s", XC_PLOT_NO_CAIRO);
}

#endif
