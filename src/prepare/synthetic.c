/* synthetic.c — a CoronaHack-like download made from nothing (prepare.h, xc_synthetic_write):
 * chest-radiograph-like pictures with class-dependent findings, written as the file formats the
 * real data holds, and a metadata CSV with the real file's quirks. It stands in for the real
 * dataset, which these machines do not have, in the demo and the tests.
 *
 * A picture: a dark background, the soft-tissue thorax, two darker lungs, the spine and the
 * heart, ribs across the lungs; then the finding of the class, restricted to the lungs; then a
 * random gain/offset and noise. The findings are large enough to be seen at 64 px:
 *   Normal        none;
 *   bacteria      one dense lobar consolidation (a bright blob filling part of one lung);
 *   Virus         bilateral perihilar haze with interstitial streaks radiating from the hila;
 *   COVID-19      bilateral ground-glass patches at the periphery of the lower zones;
 *   ARDS          a diffuse whitening of both lungs. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prepare_internal.h"
#include "xraycls/fs.h"
#include "xraycls/image.h"
#include "xraycls/pool.h"
#include "xraycls/rng.h"

enum { K_NORMAL, K_BACTERIA, K_VIRUS, K_COVID, K_SARS, K_STREP, K_ARDS };

/* The real file's counts table: [kind][TRAIN, TEST] (shared/coronahack.md). */
static const int real_counts[XC_SYNTH_KINDS][2] = {
    {1342, 234}, {2530, 242}, {1345, 148}, {58, 0}, {4, 0}, {5, 0}, {2, 0},
};
#define REAL_TOTAL 5910

/* The CSV fields of a kind: Label, Label_1_Virus_category, Label_2_Virus_category. */
static const char *const kind_labels[XC_SYNTH_KINDS][3] = {
    {"Normal", "", ""},
    {"Pnemonia", "bacteria", ""},
    {"Pnemonia", "Virus", ""},
    {"Pnemonia", "Virus", "COVID-19"},
    {"Pnemonia", "Virus", "SARS"},
    {"Pnemonia", "bacteria", "Streptococcus"},
    {"Pnemonia", "Stress-Smoking", "ARDS"},
};

xc_synthetic_opts xc_synthetic_default(void) {
    xc_synthetic_opts o = {600, 0, 200, 400};
    return o;
}

void xc_synthetic_counts(int n, int counts[XC_SYNTH_KINDS][2]) {
    int total = 0;
    for (int k = 0; k < XC_SYNTH_KINDS; k++)
        for (int s = 0; s < 2; s++) {
            counts[k][s] = (int)lround((double)real_counts[k][s] * n / REAL_TOTAL);
            if (s == 0 && k >= K_SARS && counts[k][s] < 1) counts[k][s] = 1;
        }
    if (counts[K_COVID][0] < n / 25) counts[K_COVID][0] = n / 25;
    if (counts[K_COVID][0] < 2) counts[K_COVID][0] = 2;
    for (int k = 0; k < XC_SYNTH_KINDS; k++) total += counts[k][0] + counts[k][1];
    counts[K_BACTERIA][0] += n - total; /* the largest group absorbs the rounding */
}

/* ---- random numbers ------------------------------------------------------------------------- */

/* One splitmix64 stream per image (xraycls/rng.h): the state is the generator. */
typedef uint64_t rng;

static double uni(rng *r, double lo, double hi) { return lo + (hi - lo) * (double)(xc_splitmix64(r) >> 11) * 0x1.0p-53; }

static double gauss(rng *r) {
    double u = uni(r, 1e-12, 1.0), v = uni(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- drawing on a float canvas ------------------------------------------------------------- */

typedef struct {
    int w, h;
    float *px;   /* w * h intensities, 0 black .. 1 white */
    float *lung; /* w * h lung membership, 0..1 */
} canvas;

/* Soft membership of an ellipse: 1 inside, 0 outside, a smooth edge of relative width `soft`. */
static double ellipse(double x, double y, double cx, double cy, double ax, double ay, double soft) {
    double d = sqrt((x - cx) * (x - cx) / (ax * ax) + (y - cy) * (y - cy) / (ay * ay));
    double t = (1.0 - d) / soft + 0.5;
    return t <= 0 ? 0 : t >= 1 ? 1 : t * t * (3 - 2 * t);
}

static void add_gauss(canvas *c, double cx, double cy, double sx, double sy, double amp, int in_lung) {
    int x0 = (int)fmax(0, cx - 3 * sx), x1 = (int)fmin(c->w - 1, cx + 3 * sx);
    int y0 = (int)fmax(0, cy - 3 * sy), y1 = (int)fmin(c->h - 1, cy + 3 * sy);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) {
            double dx = (x - cx) / sx, dy = (y - cy) / sy;
            double v = amp * exp(-0.5 * (dx * dx + dy * dy));
            size_t i = (size_t)y * (size_t)c->w + (size_t)x;
            c->px[i] += (float)(in_lung ? v * c->lung[i] : v);
        }
}

/* A straight streak from (x0,y0) to (x1,y1) of half-width hw, in the lungs only: a tent profile
 * across the segment. */
static void add_streak(canvas *c, double x0, double y0, double x1, double y1, double hw, double amp) {
    double dx = x1 - x0, dy = y1 - y0, l2 = dx * dx + dy * dy;
    if (l2 < 1) return;
    int xa = (int)fmax(0, fmin(x0, x1) - hw - 1), xb = (int)fmin(c->w - 1, fmax(x0, x1) + hw + 1);
    int ya = (int)fmax(0, fmin(y0, y1) - hw - 1), yb = (int)fmin(c->h - 1, fmax(y0, y1) + hw + 1);
    for (int y = ya; y <= yb; y++)
        for (int x = xa; x <= xb; x++) {
            double t = ((x - x0) * dx + (y - y0) * dy) / l2;
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            double d = hypot(x - (x0 + t * dx), y - (y0 + t * dy));
            if (d >= hw) continue;
            size_t i = (size_t)y * (size_t)c->w + (size_t)x;
            c->px[i] += (float)(amp * (1 - d / hw) * c->lung[i]);
        }
}

/* Findings of the multi-label generator, drawn over a picture (bit k of `mask` = finding k). */
static void render_findings(canvas *c, unsigned mask, rng *r, const double *lcx, double lcy, double lax,
                            double lay);

/* kind < 0: the multi-label picture with findings -kind - 1 (a bit mask). */
static void render(canvas *c, int kind, rng *r) {
    int w = c->w, h = c->h;
    double ox = uni(r, -0.03, 0.03) * w, oy = uni(r, -0.03, 0.03) * h;
    double lcx[2] = {0.30 * w + ox, 0.70 * w + ox}, lcy = 0.48 * h + oy;
    double lax = uni(r, 0.15, 0.18) * w, lay = uni(r, 0.28, 0.32) * h;
    double bg = uni(r, 0.03, 0.10), body = uni(r, 0.42, 0.52), lungv = uni(r, 0.14, 0.22);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * (size_t)w + (size_t)x;
            double b = ellipse(x, y, 0.5 * w + ox, 0.58 * h + oy, 0.47 * w, 0.56 * h, 0.08);
            double l = fmax(ellipse(x, y, lcx[0], lcy, lax, lay, 0.15), ellipse(x, y, lcx[1], lcy, lax, lay, 0.15));
            double spine = fabs(x - (0.5 * w + ox)) < 0.055 * w ? 1.0 : 0.0;
            double heart = ellipse(x, y, 0.56 * w + ox, 0.63 * h + oy, 0.14 * w, 0.12 * h, 0.3);
            double v = bg + b * (body - bg);
            l *= (1 - spine) * (1 - heart);
            v = v * (1 - l) + lungv * l;
            v += 0.18 * spine * b + 0.12 * heart;
            c->px[i] = (float)v;
            c->lung[i] = (float)l;
        }
    /* ribs: arcs across each lung */
    for (int side = 0; side < 2; side++)
        for (int k = 0; k < 8; k++) {
            double y0 = lcy - lay * 0.9 + k * lay * 0.24;
            for (int x = (int)(lcx[side] - lax * 1.1); x <= (int)(lcx[side] + lax * 1.1); x++) {
                if (x < 0 || x >= w) continue;
                double u = (x - lcx[side]) / lax * (side ? -1 : 1);
                double yc = y0 + 0.06 * h * u * u - 0.03 * h * u;
                for (int y = (int)(yc - 0.007 * h); y <= (int)(yc + 0.007 * h); y++) {
                    if (y < 0 || y >= h) continue;
                    size_t i = (size_t)y * (size_t)w + (size_t)x;
                    c->px[i] += (float)(0.07 * c->lung[i]);
                }
            }
        }
    double amp = uni(r, 0.8, 1.2);
    if (kind < 0) render_findings(c, (unsigned)(-kind - 1), r, lcx, lcy, lax, lay);
    switch (kind) {
    case K_BACTERIA:
    case K_STREP: { /* one lobar consolidation */
        int side = (int)(xc_splitmix64(r) & 1);
        double cy = lcy + uni(r, -0.45, 0.45) * lay;
        add_gauss(c, lcx[side] + uni(r, -0.3, 0.3) * lax, cy, uni(r, 0.45, 0.6) * lax, uni(r, 0.3, 0.4) * lay, 0.55 * amp, 1);
        break;
    }
    case K_VIRUS:
    case K_SARS: /* perihilar haze and interstitial streaks, both sides */
        for (int side = 0; side < 2; side++) {
            double hx = lcx[side] + (side ? -0.45 : 0.45) * lax, hy = lcy + 0.05 * lay;
            add_gauss(c, hx, hy, 0.55 * lax, 0.45 * lay, 0.22 * amp, 1);
            for (int s = 0; s < 14; s++) {
                double a = uni(r, 0, 6.283185307179586), len = uni(r, 0.5, 1.0) * lax;
                add_streak(c, hx, hy, hx + cos(a) * len, hy + sin(a) * len * 1.5, fmax(1.0, 0.012 * w), 0.25 * amp);
            }
        }
        break;
    case K_COVID: /* peripheral ground glass, lower zones, both sides */
        for (int side = 0; side < 2; side++) {
            int np = 2 + (int)(xc_splitmix64(r) % 2);
            for (int p = 0; p < np; p++) {
                double px = lcx[side] + (side ? 1 : -1) * uni(r, 0.55, 0.8) * lax;
                double py = lcy + uni(r, 0.1, 0.65) * lay;
                add_gauss(c, px, py, uni(r, 0.22, 0.32) * lax, uni(r, 0.12, 0.18) * lay, 0.3 * amp, 1);
            }
        }
        break;
    case K_ARDS: /* diffuse whitening */
        for (size_t i = 0; i < (size_t)w * (size_t)h; i++) c->px[i] += 0.3f * c->lung[i];
        break;
    default: break;
    }
    double gain = uni(r, 0.85, 1.15), off = uni(r, -0.05, 0.05), noise = uni(r, 0.015, 0.04);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) c->px[i] = (float)(c->px[i] * gain + off + noise * gauss(r));
}

const char *const xc_synthetic_findings[XC_SYNTH_NFINDINGS] = {"Consolidation", "Effusion", "Infiltration"};

static void render_findings(canvas *c, unsigned mask, rng *r, const double *lcx, double lcy, double lax,
                            double lay) {
    double amp = uni(r, 0.8, 1.2);
    if (mask & 1u) { /* Consolidation: a dense lobar blob in the upper or middle zone of one lung */
        int side = (int)(xc_splitmix64(r) & 1);
        add_gauss(c, lcx[side] + uni(r, -0.25, 0.25) * lax, lcy + uni(r, -0.5, 0.0) * lay, uni(r, 0.4, 0.55) * lax,
                  uni(r, 0.25, 0.35) * lay, 0.55 * amp, 1);
    }
    if (mask & 2u) { /* Effusion: a bright meniscus at the base of one lung, lateral angle filled */
        int side = (int)(xc_splitmix64(r) & 1);
        add_gauss(c, lcx[side] + (side ? 0.3 : -0.3) * lax, lcy + uni(r, 0.8, 0.95) * lay, 0.9 * lax, 0.25 * lay,
                  0.6 * amp, 0);
    }
    if (mask & 4u) /* Infiltration: interstitial streaks from both hila */
        for (int side = 0; side < 2; side++) {
            double hx = lcx[side] + (side ? -0.45 : 0.45) * lax, hy = lcy;
            for (int s = 0; s < 14; s++) {
                double a = uni(r, 0, 6.283185307179586), len = uni(r, 0.5, 1.0) * lax;
                add_streak(c, hx, hy, hx + cos(a) * len, hy + sin(a) * len * 1.5, fmax(1.0, 0.012 * c->w), 0.3 * amp);
            }
        }
}

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct {
    int kind;
    int test;
    int index;     /* the CSV's index column */
    char name[64]; /* X_ray_image_name */
} row;

struct job {
    const char *dirs[2];
    const row *rows;
    int n;
    uint64_t seed;
    int min_side, max_side;
    atomic_int failed;
    char err[1024];
    pthread_mutex_t lock;
};

static int write_one(struct job *j, int i) {
    const row *rw = &j->rows[i];
    rng r = {j->seed * 0x9E3779B97F4A7C15ULL + (uint64_t)i * 0xD1B54A32D192ED03ULL + 1};
    int w = (int)uni(&r, j->min_side, j->max_side + 1);
    int h = (int)(w * uni(&r, 0.9, 1.2));
    if (h > j->max_side) h = j->max_side;
    canvas c = {w, h, malloc((size_t)w * (size_t)h * sizeof(float)), malloc((size_t)w * (size_t)h * sizeof(float))};
    /* the file format follows the file name; RGB for one image in five */
    const char *ext = strrchr(rw->name, '.');
    int png = ext && !strcmp(ext, ".png"), rgb = (i % 5) == 3, progressive = (i % 7) == 2;
    xc_image img = {0};
    int rc = -1;
    if (!c.px || !c.lung || xc_image_alloc(&img, w, h, rgb ? 3 : 1) < 0) {
        xc_errorf("synthetic image %d: out of memory", i);
        goto done;
    }
    render(&c, rw->kind, &r);
    for (size_t p = 0; p < (size_t)w * (size_t)h; p++) {
        double v = c.px[p] * 255.0;
        if (rgb) {
            static const double tint[3] = {1.0, 0.97, 0.93};
            for (int ch = 0; ch < 3; ch++) {
                double t = v * tint[ch] + 0.5;
                img.pixels[p * 3 + (size_t)ch] = (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t);
            }
        } else {
            double t = v + 0.5;
            img.pixels[p] = (uint8_t)(t < 0 ? 0 : t > 255 ? 255 : t);
        }
    }
    char *path = xc_path_join(j->dirs[rw->test], rw->name);
    if (!path) goto done;
    rc = png ? xc_image_write_png(path, &img) : xc_image_write_jpeg(path, &img, 90, progressive);
    free(path);
done:
    xc_image_free(&img);
    free(c.px);
    free(c.lung);
    return rc;
}

/* One image of the pool's job; after a failure the rest are skipped, and the first message kept. */
static void synth_one(void *ctx, int64_t i, int worker) {
    (void)worker;
    struct job *j = ctx;
    if (atomic_load(&j->failed)) return;
    if (write_one(j, (int)i) < 0) {
        pthread_mutex_lock(&j->lock);
        if (!atomic_load(&j->failed)) snprintf(j->err, sizeof j->err, "%s", xc_error());
        atomic_store(&j->failed, 1);
        pthread_mutex_unlock(&j->lock);
    }
}

/* The rows of the CSV: kinds and splits in the real proportions, TRAIN rows first (as the real
 * file), shuffled within each split, with real-looking names and an index with gaps. */
static row *make_rows(int n, uint64_t seed) {
    int counts[XC_SYNTH_KINDS][2];
    xc_synthetic_counts(n, counts);
    row *rows = calloc((size_t)n, sizeof *rows);
    if (!rows) return NULL;
    rng r = {seed ^ 0x5DEECE66DULL};
    int m = 0;
    for (int s = 0; s < 2; s++) {
        int first = m;
        for (int k = 0; k < XC_SYNTH_KINDS; k++)
            for (int c = 0; c < counts[k][s]; c++) rows[m++] = (row){k, s, 0, ""};
        for (int i = m - 1; i > first; i--) { /* Fisher–Yates within the split */
            int j = first + (int)(xc_splitmix64(&r) % (uint64_t)(i - first + 1));
            row t = rows[i];
            rows[i] = rows[j];
            rows[j] = t;
        }
    }
    int index = 0;
    for (int i = 0; i < n; i++) {
        row *rw = &rows[i];
        rw->index = index;
        /* gaps in the index, as in the real file (always one after the first row) */
        index += 1 + ((xc_splitmix64(&r) % 23) == 0 || i == 0 ? 1 + (int)(xc_splitmix64(&r) % 3) : 0);
        int person = 1 + i * 3 / 2;
        switch (rw->kind) {
        case K_NORMAL:
            snprintf(rw->name, sizeof rw->name, (i % 4) ? "IM-%04d-0001.jpeg" : "NORMAL2-IM-%04d-0001.jpeg", i);
            break;
        case K_BACTERIA: snprintf(rw->name, sizeof rw->name, "person%d_bacteria_%d.jpeg", person, i); break;
        case K_VIRUS: snprintf(rw->name, sizeof rw->name, "person%d_virus_%d.jpeg", person, i); break;
        case K_COVID:
            snprintf(rw->name, sizeof rw->name, (i % 3) == 0 ? "covid-%03d-pa.png" : "1-s2.0-S%07d-fx1_lrg.jpg", i);
            break;
        case K_SARS: snprintf(rw->name, sizeof rw->name, "SARS-10.1148rg.%d-g04mr34g0-Fig8a-day0.jpeg", i); break;
        case K_STREP: snprintf(rw->name, sizeof rw->name, "streptococcus-pneumoniae-%d.jpg", i); break;
        default: snprintf(rw->name, sizeof rw->name, "ARDSSevere-%d.png", i); break;
        }
    }
    return rows;
}

static char *csv_text(const row *rows, int n) {
    size_t cap = 128 + (size_t)n * 160, o = 0;
    char *t = malloc(cap);
    if (!t) return NULL;
    o += (size_t)snprintf(t, cap, ",X_ray_image_name,Label,Dataset_type,Label_2_Virus_category,Label_1_Virus_category\n");
    for (int i = 0; i < n; i++) {
        const row *rw = &rows[i];
        o += (size_t)snprintf(t + o, cap - o, "%d,%s,%s,%s,%s,%s\n", rw->index, rw->name, kind_labels[rw->kind][0],
                              rw->test ? "TEST" : "TRAIN", kind_labels[rw->kind][2], kind_labels[rw->kind][1]);
    }
    return t;
}

/* Draws every image of j on `threads` threads (<= 0: the usable CPUs). 0, or -1 with the first
 * failure's message. */
static int run_workers(struct job *j, int threads) {
    xc_parallel_for(threads, j->n, synth_one, j);
    if (atomic_load(&j->failed)) return xc_errorf("synthetic: %s", j->err);
    return 0;
}

int xc_synthetic_write_findings(const char *dir, const xc_synthetic_opts *so, int threads) {
    if (so->n < 40 || so->n > 1000000) return xc_errorf("synthetic: %d images (40 to 1000000)", so->n);
    if (so->min_side < 16 || so->max_side < so->min_side || so->max_side > 4096)
        return xc_errorf("synthetic: image sides %d..%d (16 ≤ min ≤ max ≤ 4096)", so->min_side, so->max_side);
    int rc = -1;
    char *imgdir = xc_path_join(dir, "images"), *csvpath = xc_path_join(dir, "findings.csv"), *text = NULL;
    row *rows = calloc((size_t)so->n, sizeof *rows);
    struct job j;
    memset(&j, 0, sizeof j);
    pthread_mutex_init(&j.lock, NULL);
    size_t cap = 64 + (size_t)so->n * 96, o = 0;
    if (!imgdir || !csvpath || !rows || !(text = malloc(cap))) {
        xc_errorf("synthetic: out of memory");
        goto done;
    }
    if (xc_mkdir_p(imgdir) < 0) goto done;
    /* each finding independently with p = 0.4; about one image in five goes to test */
    rng r = {so->seed ^ 0xA0761D6478BD642FULL};
    o += (size_t)snprintf(text, cap, "Image Index,Finding Labels,split\n");
    for (int i = 0; i < so->n; i++) {
        unsigned mask = 0;
        for (int k = 0; k < XC_SYNTH_NFINDINGS; k++)
            if (uni(&r, 0, 1) < 0.4) mask |= 1u << k;
        int test = uni(&r, 0, 1) < 0.2;
        rows[i] = (row){-(int)mask - 1, 0, i, ""};
        snprintf(rows[i].name, sizeof rows[i].name, "%08d_000.%s", i, (i % 6) == 5 ? "png" : "jpg");
        char labels[128] = "";
        for (int k = 0; k < XC_SYNTH_NFINDINGS; k++)
            if (mask & (1u << k))
                snprintf(labels + strlen(labels), sizeof labels - strlen(labels), "%s%s", *labels ? "|" : "",
                         xc_synthetic_findings[k]);
        o += (size_t)snprintf(text + o, cap - o, "%s,%s,%s\n", rows[i].name, mask ? labels : "No Finding",
                              test ? "test" : "train");
    }
    j.dirs[0] = j.dirs[1] = imgdir;
    j.rows = rows;
    j.n = so->n;
    j.seed = so->seed;
    j.min_side = so->min_side;
    j.max_side = so->max_side;
    atomic_init(&j.failed, 0);
    if (run_workers(&j, threads) < 0) goto done;
    rc = xc_write_file_atomic(csvpath, text, strlen(text));
done:
    pthread_mutex_destroy(&j.lock);
    free(text);
    free(rows);
    free(csvpath);
    free(imgdir);
    return rc;
}

int xc_synthetic_write(const char *dir, const xc_synthetic_opts *so, int threads) {
    if (so->n < 40 || so->n > 1000000) return xc_errorf("synthetic: %d images (40 to 1000000)", so->n);
    if (so->min_side < 16 || so->max_side < so->min_side || so->max_side > 4096)
        return xc_errorf("synthetic: image sides %d..%d (16 ≤ min ≤ max ≤ 4096)", so->min_side, so->max_side);
    int rc = -1;
    char *dirs[2] = {prep_strdupf("%s/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/train", dir),
                     prep_strdupf("%s/Coronahack-Chest-XRay-Dataset/Coronahack-Chest-XRay-Dataset/test", dir)};
    char *csvpath = xc_path_join(dir, "Chest_xray_Corona_Metadata.csv"), *text = NULL;
    row *rows = make_rows(so->n, so->seed);
    struct job j;
    memset(&j, 0, sizeof j);
    pthread_mutex_init(&j.lock, NULL);
    if (!dirs[0] || !dirs[1] || !csvpath || !rows) {
        xc_errorf("synthetic: out of memory");
        goto done;
    }
    if (xc_mkdir_p(dirs[0]) < 0 || xc_mkdir_p(dirs[1]) < 0) goto done;
    j.dirs[0] = dirs[0];
    j.dirs[1] = dirs[1];
    j.rows = rows;
    j.n = so->n;
    j.seed = so->seed;
    j.min_side = so->min_side;
    j.max_side = so->max_side;
    atomic_init(&j.failed, 0);
    if (run_workers(&j, threads) < 0) goto done;
    if (!(text = csv_text(rows, so->n))) {
        xc_errorf("synthetic: out of memory");
        goto done;
    }
    rc = xc_write_file_atomic(csvpath, text, strlen(text));
done:
    pthread_mutex_destroy(&j.lock);
    free(text);
    free(rows);
    free(csvpath);
    free(dirs[0]);
    free(dirs[1]);
    return rc;
}
