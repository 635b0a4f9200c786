/* plot.c — the charts of xraycls/plot.h: a tiny RGB rasteriser (rectangles, thick and dashed
 * lines, a 5×7 bitmap font drawn at integer scales, horizontal or rotated a quarter turn),
 * nice axis ticks; the PNG bytes come from xc_image_encode_png and are written atomically.
 * Self-contained: no plotting or font library. */
#include "xraycls/plot.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/json.h"

/* ---- the font: printable ASCII 32..126, 7 rows of 5 pixels, bit 4 = leftmost column -------- */

enum { GLYPH_W = 5, GLYPH_H = 7, GLYPH_FIRST = 32, GLYPH_LAST = 126 };

static const uint8_t FONT[GLYPH_LAST - GLYPH_FIRST + 1][GLYPH_H] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, /* space */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04}, /* ! */
    {0x0A, 0x0A, 0x00, 0x00, 0x00, 0x00, 0x00}, /* " */
    {0x0A, 0x0A, 0x1F, 0x0A, 0x1F, 0x0A, 0x0A}, /* # */
    {0x04, 0x0F, 0x14, 0x0E, 0x05, 0x1E, 0x04}, /* $ */
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}, /* % */
    {0x0C, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0D}, /* & */
    {0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00}, /* ' */
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02}, /* ( */
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08}, /* ) */
    {0x00, 0x04, 0x15, 0x0E, 0x15, 0x04, 0x00}, /* * */
    {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}, /* + */
    {0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08}, /* , */
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}, /* - */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}, /* . */
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00}, /* / */
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, /* 0 */
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* 1 */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, /* 2 */
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}, /* 3 */
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, /* 4 */
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}, /* 5 */
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, /* 6 */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, /* 8 */
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}, /* 9 */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00}, /* : */
    {0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x04, 0x08}, /* ; */
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02}, /* < */
    {0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00}, /* = */
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08}, /* > */
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04}, /* ? */
    {0x0E, 0x11, 0x01, 0x0D, 0x15, 0x15, 0x0E}, /* @ */
    {0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11}, /* A */
    {0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E}, /* B */
    {0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E}, /* C */
    {0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C}, /* D */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F}, /* E */
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, /* F */
    {0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F}, /* G */
    {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, /* H */
    {0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* I */
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C}, /* J */
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11}, /* K */
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, /* L */
    {0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11}, /* M */
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11}, /* N */
    {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* O */
    {0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10}, /* P */
    {0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D}, /* Q */
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, /* R */
    {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E}, /* S */
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* T */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E}, /* U */
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* V */
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A}, /* W */
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}, /* X */
    {0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04}, /* Y */
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F}, /* Z */
    {0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E}, /* [ */
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00}, /* backslash */
    {0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E}, /* ] */
    {0x04, 0x0A, 0x11, 0x00, 0x00, 0x00, 0x00}, /* ^ */
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F}, /* _ */
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00}, /* ` */
    {0x00, 0x00, 0x0E, 0x01, 0x0F, 0x11, 0x0F}, /* a */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1E}, /* b */
    {0x00, 0x00, 0x0E, 0x10, 0x10, 0x11, 0x0E}, /* c */
    {0x01, 0x01, 0x0D, 0x13, 0x11, 0x11, 0x0F}, /* d */
    {0x00, 0x00, 0x0E, 0x11, 0x1F, 0x10, 0x0E}, /* e */
    {0x06, 0x09, 0x08, 0x1C, 0x08, 0x08, 0x08}, /* f */
    {0x00, 0x0F, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* g */
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}, /* h */
    {0x04, 0x00, 0x0C, 0x04, 0x04, 0x04, 0x0E}, /* i */
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0C}, /* j */
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}, /* k */
    {0x0C, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E}, /* l */
    {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}, /* m */
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}, /* n */
    {0x00, 0x00, 0x0E, 0x11, 0x11, 0x11, 0x0E}, /* o */
    {0x00, 0x00, 0x1E, 0x11, 0x1E, 0x10, 0x10}, /* p */
    {0x00, 0x00, 0x0D, 0x13, 0x0F, 0x01, 0x01}, /* q */
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}, /* r */
    {0x00, 0x00, 0x0E, 0x10, 0x0E, 0x01, 0x1E}, /* s */
    {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}, /* t */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}, /* u */
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0A, 0x04}, /* v */
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}, /* w */
    {0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11}, /* x */
    {0x00, 0x00, 0x11, 0x11, 0x0F, 0x01, 0x0E}, /* y */
    {0x00, 0x00, 0x1F, 0x02, 0x04, 0x08, 0x1F}, /* z */
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02}, /* { */
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, /* | */
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08}, /* } */
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00}, /* ~ */
};

/* ---- canvas --------------------------------------------------------------------------------- */

typedef struct {
    int w, h;
    uint8_t *px; /* (h, w, 3) RGB */
} canvas;

#define WHITE 0xFFFFFFu
#define BLACK 0x000000u
#define GRID 0xE6E6E6u
#define AXIS 0x404040u

static int canvas_new(canvas *c, int w, int h) {
    c->w = w;
    c->h = h;
    c->px = malloc((size_t)w * h * 3);
    if (!c->px) return xc_errorf("plot: out of memory for a %dx%d picture", w, h);
    memset(c->px, 0xFF, (size_t)w * h * 3);
    return 0;
}

static void put(canvas *c, int x, int y, uint32_t rgb) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
    p[0] = (uint8_t)(rgb >> 16);
    p[1] = (uint8_t)(rgb >> 8);
    p[2] = (uint8_t)rgb;
}

/* Fills [x0, x1) × [y0, y1), clipped. */
static void fill_rect(canvas *c, int x0, int y0, int x1, int y1, uint32_t rgb) {
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) put(c, x, y, rgb);
}

/* A line of the given thickness (a square brush along Bresenham's path). dash > 0: drawn in
 * runs of dash pixels, gaps of dash pixels, counted along the major axis. */
static void line(canvas *c, int x0, int y0, int x1, int y1, int thick, int dash, uint32_t rgb) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0);
    int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
    int lo = -(thick - 1) / 2, hi = thick / 2;
    for (int step = 0;; step++) {
        if (dash <= 0 || (step / dash) % 2 == 0)
            fill_rect(c, x0 + lo, y0 + lo, x0 + hi + 1, y0 + hi + 1, rgb);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) err += dy, x0 += sx;
        if (e2 <= dx) err += dx, y0 += sy;
    }
}

static int text_width(const char *s, int scale) {
    int n = (int)strlen(s);
    return n ? (n * (GLYPH_W + 1) - 1) * scale : 0;
}

static int text_height(int scale) { return GLYPH_H * scale; }

static const uint8_t *glyph(unsigned char ch) {
    if (ch < GLYPH_FIRST || ch > GLYPH_LAST) ch = '?';
    return FONT[ch - GLYPH_FIRST];
}

/* Draws s with its top-left corner at (x, y). */
static void text(canvas *c, int x, int y, const char *s, int scale, uint32_t rgb) {
    for (; *s; s++, x += (GLYPH_W + 1) * scale) {
        const uint8_t *g = glyph((unsigned char)*s);
        for (int r = 0; r < GLYPH_H; r++)
            for (int col = 0; col < GLYPH_W; col++)
                if (g[r] & (0x10 >> col))
                    fill_rect(c, x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, rgb);
    }
}

/* Draws s rotated a quarter turn counter-clockwise (reading bottom to top), its bounding box's
 * top-left corner at (x, y): the box is text_height wide and text_width tall. */
static void text_up(canvas *c, int x, int y, const char *s, int scale, uint32_t rgb) {
    int bottom = y + text_width(s, scale);
    for (; *s; s++, bottom -= (GLYPH_W + 1) * scale) {
        const uint8_t *g = glyph((unsigned char)*s);
        for (int r = 0; r < GLYPH_H; r++)
            for (int col = 0; col < GLYPH_W; col++)
                if (g[r] & (0x10 >> col)) {
                    int px = x + r * scale, py = bottom - (col + 1) * scale;
                    fill_rect(c, px, py, px + scale, py + scale, rgb);
                }
    }
}

static void text_centered(canvas *c, int cx, int y, const char *s, int scale, uint32_t rgb) {
    text(c, cx - text_width(s, scale) / 2, y, s, scale, rgb);
}

/* ---- PNG -------------------------------------------------------------------------------- */

/* The canvas as 8-bit RGB PNG bytes (xc_image_encode_png; *png malloc'd). */
static int canvas_encode_png(const canvas *c, uint8_t **png, size_t *len) {
    xc_image img;
    memset(&img, 0, sizeof img);
    img.width = c->w;
    img.height = c->h;
    img.channels = 3;
    img.pixels = c->px;
    return xc_image_encode_png(&img, png, len);
}

/* Encodes the canvas as an 8-bit RGB PNG and writes it atomically to path. */
static int canvas_write_png(const canvas *c, const char *path) {
    uint8_t *png;
    size_t len;
    if (canvas_encode_png(c, &png, &len) < 0) return xc_errorf("cannot write '%s': %s", path, xc_error());
    int rc = xc_write_file_atomic(path, png, len);
    free(png);
    return rc;
}

/* ---- line charts -------------------------------------------------------------------------- */

xc_plot_opts xc_plot_default(void) {
    xc_plot_opts o = {NULL, NULL, NULL, 800, 500, 0, 0};
    return o;
}

/* A "nice" tick step (1, 2 or 5 × 10^k) giving about `target` intervals over span. */
static double nice_step(double span, int target) {
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

/* A tick label: the value with as many decimals as the step needs. */
static void tick_label(char *buf, size_t cap, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0; /* no "-0.0" */
    snprintf(buf, cap, "%.*f", dec, v);
}

typedef struct {
    double lo, hi, step;
} axis;

/* Expands [lo, hi] to multiples of a nice step; a flat range is widened around its value. */
static axis make_axis(double lo, double hi, int target) {
    if (hi - lo < 1e-12) {
        double pad = fabs(lo) > 1e-12 ? fabs(lo) * 0.1 : 1;
        lo -= pad, hi += pad;
    }
    axis a;
    a.step = nice_step(hi - lo, target);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    return a;
}

static int is_num(double v) { return isfinite(v); }

int xc_plot_lines(const char *path, const xc_plot_series *s, int ns, const xc_plot_opts *o) {
    xc_plot_opts def = xc_plot_default();
    if (!o) o = &def;
    if (o->width < 200 || o->width > 4000 || o->height < 200 || o->height > 4000)
        return xc_errorf("cannot plot '%s': size %dx%d is outside 200..4000", path, o->width, o->height);
    double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s[i].n; j++) {
            if (!is_num(s[i].x[j]) || !is_num(s[i].y[j])) continue;
            xmin = fmin(xmin, s[i].x[j]), xmax = fmax(xmax, s[i].x[j]);
            ymin = fmin(ymin, s[i].y[j]), ymax = fmax(ymax, s[i].y[j]);
        }
    if (!(xmin <= xmax)) return xc_errorf("cannot plot '%s': no finite point to draw", path);
    if (o->y_lo < o->y_hi) {
        /* Leave room around the data, but not beyond the clamp (an accuracy above 1). */
        double pad = (ymax - ymin) * 0.05;
        ymin = fmax(o->y_lo, ymin - pad), ymax = fmin(o->y_hi, ymax + pad);
        if (ymin >= ymax) ymin = o->y_lo, ymax = o->y_hi;
    }
    axis ax = make_axis(xmin, xmax, 8), ay = make_axis(ymin, ymax, 6);
    if (xmax - xmin >= 1 && ax.step < 1) ax = (axis){floor(xmin), ceil(xmax), 1}; /* epochs: integers */
    if (o->y_lo < o->y_hi) ay.lo = fmax(ay.lo, o->y_lo), ay.hi = fmin(ay.hi, o->y_hi);

    canvas c;
    if (canvas_new(&c, o->width, o->height) < 0) return xc_errorf("cannot plot '%s': %s", path, xc_error());
    const int sc = 2, th = text_height(sc);
    /* Plot area: left margin for tick labels and the y label, bottom for ticks and x label. */
    char buf[64];
    int label_w = 0;
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
        tick_label(buf, sizeof buf, v, ay.step);
        int w = text_width(buf, sc);
        if (w > label_w) label_w = w;
    }
    int left = 16 + (o->ylabel ? th + 12 : 0) + label_w + 10, right = o->width - 24;
    int top = o->title ? 20 + text_height(3) + 16 : 24, bottom = o->height - (16 + th + 12 + (o->xlabel ? th + 12 : 0));
    if (right - left < 50 || bottom - top < 50) {
        free(c.px);
        return xc_errorf("cannot plot '%s': %dx%d is too small for the labels", path, o->width, o->height);
    }
#define PX(v) (left + (int)lround(((v) - ax.lo) / (ax.hi - ax.lo) * (right - left)))
#define PY(v) (bottom - (int)lround(((v) - ay.lo) / (ay.hi - ay.lo) * (bottom - top)))
    /* Grid and ticks. */
    for (double v = ay.lo; v <= ay.hi + ay.step * 1e-6; v += ay.step) {
        int y = PY(v);
        line(&c, left, y, right, y, 1, 0, GRID);
        line(&c, left - 6, y, left, y, 1, 0, AXIS);
        tick_label(buf, sizeof buf, v, ay.step);
        text(&c, left - 10 - text_width(buf, sc), y - th / 2, buf, sc, AXIS);
    }
    for (double v = ax.lo; v <= ax.hi + ax.step * 1e-6; v += ax.step) {
        int x = PX(v);
        line(&c, x, top, x, bottom, 1, 0, GRID);
        line(&c, x, bottom, x, bottom + 6, 1, 0, AXIS);
        tick_label(buf, sizeof buf, v, ax.step);
        text_centered(&c, x, bottom + 10, buf, sc, AXIS);
    }
    line(&c, left, top, left, bottom, 2, 0, AXIS);
    line(&c, left, bottom, right, bottom, 2, 0, AXIS);
    if (o->title) text_centered(&c, (left + right) / 2, 20, o->title, 3, BLACK);
    if (o->xlabel) text_centered(&c, (left + right) / 2, o->height - 16 - th, o->xlabel, sc, BLACK);
    if (o->ylabel) text_up(&c, 16, (top + bottom) / 2 - text_width(o->ylabel, sc) / 2, o->ylabel, sc, BLACK);

    /* Series: segments between consecutive finite points, a dot on each point. */
    for (int i = 0; i < ns; i++) {
        int have = 0, px = 0, py = 0;
        for (int j = 0; j < s[i].n; j++) {
            if (!is_num(s[i].x[j]) || !is_num(s[i].y[j])) {
                have = 0;
                continue;
            }
            int x = PX(s[i].x[j]), y = PY(s[i].y[j]);
            if (have) line(&c, px, py, x, y, 3, s[i].dashed ? 8 : 0, s[i].color);
            fill_rect(&c, x - 3, y - 3, x + 4, y + 4, s[i].color);
            have = 1, px = x, py = y;
        }
    }
#undef PX
#undef PY
    /* Legend, top right inside the plot area, on a white box. */
    int lw = 0;
    for (int i = 0; i < ns; i++) {
        int w = text_width(s[i].name ? s[i].name : "", sc);
        if (w > lw) lw = w;
    }
    if (ns > 0) {
        int row = th + 10, bw = 40 + 10 + lw + 16, bh = ns * row + 10;
        int bx = right - bw - 10, by = top + 10;
        fill_rect(&c, bx, by, bx + bw, by + bh, WHITE);
        line(&c, bx, by, bx + bw, by, 1, 0, AXIS);
        line(&c, bx, by + bh, bx + bw, by + bh, 1, 0, AXIS);
        line(&c, bx, by, bx, by + bh, 1, 0, AXIS);
        line(&c, bx + bw, by, bx + bw, by + bh, 1, 0, AXIS);
        for (int i = 0; i < ns; i++) {
            int y = by + 8 + i * row + th / 2;
            line(&c, bx + 8, y, bx + 48, y, 3, s[i].dashed ? 8 : 0, s[i].color);
            text(&c, bx + 58, y - th / 2, s[i].name ? s[i].name : "", sc, BLACK);
        }
    }
    int rc = canvas_write_png(&c, path);
    free(c.px);
    return rc;
}

/* ---- confusion matrix ----------------------------------------------------------------------- */

/* White (share 0) to dark blue (share 1). */
static uint32_t shade(double share) {
    const double lo[3] = {255, 255, 255}, hi[3] = {8, 48, 107};
    uint32_t rgb = 0;
    for (int i = 0; i < 3; i++) rgb = (rgb << 8) | (uint32_t)lround(lo[i] + (hi[i] - lo[i]) * share);
    return rgb;
}

/* Draws the confusion matrix picture into a new canvas *out (what: the subject of messages). */
static int draw_confusion(canvas *out, const int64_t *cm, int k, const char *const *names,
                          const char *title, const char *what) {
    if (k < 1 || k > 64) return xc_errorf("cannot plot '%s': %d classes (1..64 can be drawn)", what, k);
    const int sc = 2, th = text_height(sc);
    int cell = 480 / k;
    if (cell > 140) cell = 140;
    if (cell < 24) cell = 24;
    int name_w = 0;
    for (int i = 0; i < k; i++) {
        int w = text_width(names[i], sc);
        if (w > name_w) name_w = w;
    }
    int grid = cell * k;
    int left = 16 + th + 16 + name_w + 12;                  /* "true" label, row names */
    int top = title ? 20 + text_height(3) + 20 : 24;
    int bottom_room = 12 + name_w + 16 + th + 16;           /* column names (vertical), "predicted" */
    int width = left + grid + 32, height = top + grid + bottom_room;
    if (width < 200) width = 200;
    canvas c;
    if (canvas_new(&c, width, height) < 0) return xc_errorf("cannot plot '%s': %s", what, xc_error());
    if (title) text_centered(&c, width / 2, 20, title, 3, BLACK);
    char buf[64];
    /* Text inside a cell: scale 2 when it fits, else 1; percentages only when there is room. */
    for (int t = 0; t < k; t++) {
        int64_t row_total = 0;
        for (int p = 0; p < k; p++) row_total += cm[t * k + p];
        for (int p = 0; p < k; p++) {
            int64_t v = cm[t * k + p];
            double share = row_total > 0 ? (double)v / (double)row_total : 0;
            int x0 = left + p * cell, y0 = top + t * cell;
            fill_rect(&c, x0, y0, x0 + cell, y0 + cell, shade(share));
            uint32_t ink = share > 0.5 ? WHITE : BLACK;
            snprintf(buf, sizeof buf, "%lld", (long long)v);
            int s2 = text_width(buf, 2) <= cell - 8 ? 2 : 1;
            int show_pct = row_total > 0 && cell >= 2 * text_height(s2) + 3 * 8;
            int cy = y0 + cell / 2 - (show_pct ? text_height(s2) + 2 : text_height(s2) / 2);
            if (text_width(buf, s2) <= cell - 4) text_centered(&c, x0 + cell / 2, cy, buf, s2, ink);
            if (show_pct) {
                snprintf(buf, sizeof buf, "%.0f%%", 100 * share);
                text_centered(&c, x0 + cell / 2, cy + text_height(s2) + 6, buf, s2 == 2 && cell >= 60 ? 2 : 1, ink);
            }
        }
    }
    for (int i = 0; i <= k; i++) {
        line(&c, left, top + i * cell, left + grid, top + i * cell, 1, 0, AXIS);
        line(&c, left + i * cell, top, left + i * cell, top + grid, 1, 0, AXIS);
    }
    for (int i = 0; i < k; i++) {
        text(&c, left - 12 - text_width(names[i], sc), top + i * cell + cell / 2 - th / 2, names[i], sc, BLACK);
        text_up(&c, left + i * cell + cell / 2 - th / 2, top + grid + 12, names[i], sc, BLACK);
    }
    text_up(&c, 16, top + grid / 2 - text_width("true", sc) / 2, "true", sc, BLACK);
    text_centered(&c, left + grid / 2, top + grid + 12 + name_w + 16, "predicted", sc, BLACK);
    *out = c;
    return 0;
}

int xc_plot_confusion(const char *path, const int64_t *cm, int k, const char *const *names,
                      const char *title) {
    canvas c;
    if (draw_confusion(&c, cm, k, names, title, path) < 0) return -1;
    int rc = canvas_write_png(&c, path);
    free(c.px);
    return rc;
}

int xc_plot_confusion_png(const int64_t *cm, int k, const char *const *names, const char *title,
                          uint8_t **png, size_t *len, int *width, int *height) {
    *png = NULL;
    *len = 0;
    canvas c;
    if (draw_confusion(&c, cm, k, names, title, "confusion matrix") < 0) return -1;
    int rc = canvas_encode_png(&c, png, len);
    if (rc == 0) *width = c.w, *height = c.h;
    free(c.px);
    return rc;
}

/* ---- training curves ------------------------------------------------------------------------ */

enum { H_EPOCH, H_TRAIN_ACC, H_VAL_ACC, H_TRAIN_LOSS, H_VAL_LOSS, H_FIELDS };
static const char *const HISTORY_KEYS[H_FIELDS] = {"epoch", "train_acc", "val_acc", "train_loss", "val_loss"};

/* One chart from columns a and b of the history; returns 1 when written, 0 when both are empty. */
static int history_chart(const char *out_dir, const char *file, double *const *col, int n, int a, int b,
                         const char *title, const char *ylabel, double y_lo, double y_hi) {
    int any = 0;
    for (int i = 0; i < n; i++) any |= is_num(col[a][i]) || is_num(col[b][i]);
    if (!any) return 0;
    xc_plot_series s[2] = {
        {"train", col[H_EPOCH], col[a], n, 0x1F77B4, 0},
        {"validation", col[H_EPOCH], col[b], n, 0xD62728, 1},
    };
    xc_plot_opts o = xc_plot_default();
    o.title = title;
    o.xlabel = "epoch";
    o.ylabel = ylabel;
    o.y_lo = y_lo;
    o.y_hi = y_hi;
    char *path = xc_path_join(out_dir, file);
    if (!path) return xc_errorf("plot: out of memory");
    int rc = xc_plot_lines(path, s, 2, &o);
    free(path);
    return rc < 0 ? -1 : 1;
}

int xc_plot_history(const char *run_dir, const char *out_dir) {
    char *path = xc_path_join(run_dir, "metrics.jsonl");
    if (!path) return xc_errorf("plot: out of memory");
    size_t len = 0;
    char *text_buf = xc_read_file(path, &len, (size_t)64 << 20);
    if (!text_buf) {
        free(path);
        return -1;
    }
    int cap = 64, n = 0, rc = -1, lineno = 0;
    double *col[H_FIELDS] = {0};
    for (int f = 0; f < H_FIELDS; f++)
        if (!(col[f] = malloc((size_t)cap * sizeof(double)))) {
            xc_errorf("plot: out of memory");
            goto done;
        }
    for (char *p = text_buf; *p;) {
        char *end = strchr(p, '\n');
        size_t l = end ? (size_t)(end - p) : strlen(p);
        lineno++;
        int blank = 1;
        for (size_t i = 0; i < l; i++) blank &= p[i] == ' ' || p[i] == '\t' || p[i] == '\r';
        if (!blank) {
            char what[1100];
            snprintf(what, sizeof what, "%s line %d", path, lineno);
            cJSON *obj = xc_json_parse(p, l, what);
            if (!obj) goto done;
            if (!cJSON_IsObject(obj)) {
                cJSON_Delete(obj);
                xc_errorf("'%s' line %d: expected a JSON object", path, lineno);
                goto done;
            }
            if (n == cap) {
                cap *= 2;
                for (int f = 0; f < H_FIELDS; f++) {
                    double *q = realloc(col[f], (size_t)cap * sizeof(double));
                    if (!q) {
                        cJSON_Delete(obj);
                        xc_errorf("plot: out of memory");
                        goto done;
                    }
                    col[f] = q;
                }
            }
            for (int f = 0; f < H_FIELDS; f++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, HISTORY_KEYS[f]);
                if (!v || cJSON_IsNull(v)) col[f][n] = NAN;
                else if (cJSON_IsNumber(v)) col[f][n] = v->valuedouble;
                else {
                    xc_errorf("'%s' line %d: %s: expected a number, got %s", path, lineno, HISTORY_KEYS[f],
                              xc_json_type_name(v));
                    cJSON_Delete(obj);
                    goto done;
                }
            }
            if (!is_num(col[H_EPOCH][n])) col[H_EPOCH][n] = n + 1;
            n++;
            cJSON_Delete(obj);
        }
        if (!end) break;
        p = end + 1;
    }
    if (n == 0) {
        rc = 0;
        goto done;
    }
    int a = history_chart(out_dir, "accuracy.png", col, n, H_TRAIN_ACC, H_VAL_ACC, "Accuracy", "accuracy", 0, 1);
    if (a < 0) goto done;
    int b = history_chart(out_dir, "loss.png", col, n, H_TRAIN_LOSS, H_VAL_LOSS, "Loss", "loss", 0, 0);
    if (b < 0) goto done;
    rc = a + b;
done:
    for (int f = 0; f < H_FIELDS; f++) free(col[f]);
    free(text_buf);
    free(path);
    return rc;
}
