/* progress.c — the stderr progress bar (see xraycls/progress.h): an atomic count, a mutex
 * around the trailing text and drawing, and a clock that keeps redraws to ~10 per second. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/progress.h"

#include "xraycls/error.h" /* XC_PRINTF */

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDRAW_INTERVAL_S 0.1
#define BAR_WIDTH 20

struct xc_progress {
    int64_t total;
    int enabled;
    char *label;
    atomic_llong done;
    pthread_mutex_t mu; /* guards extra, last_draw and the stream */
    char extra[128];
    double start, last_draw;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

char *xc_format_duration(char *buf, size_t cap, double seconds) {
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e9) {
        snprintf(buf, cap, "?");
        return buf;
    }
    long long s = (long long)(seconds + 0.5);
    if (s >= 3600) snprintf(buf, cap, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else snprintf(buf, cap, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

/* Appends to buf[0..cap) at *n, truncating. */
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) XC_PRINTF(4, 5);
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
    if (*n + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0) *n += (size_t)w < cap - *n ? (size_t)w : cap - *n - 1;
}

char *xc_progress_format(char *buf, size_t cap, const char *label, int64_t done, int64_t total, double elapsed_s,
                         const char *extra) {
    size_t n = 0;
    buf[0] = '\0';
#define PUT(...) put(buf, cap, &n, __VA_ARGS__)
    if (label && *label) PUT("%s  ", label);
    if (total > 0) {
        double frac = (double)done / (double)total;
        if (frac < 0) frac = 0;
        if (frac > 1) frac = 1;
        int fill = (int)(frac * BAR_WIDTH);
        char bar[BAR_WIDTH + 1];
        for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        PUT("[%s]  %lld/%lld  %5.1f%%", bar, (long long)done, (long long)total, 100.0 * frac);
    } else {
        PUT("%lld", (long long)done);
    }
    double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
    if (rate >= 100) PUT("  %.0f/s", rate);
    else if (rate >= 1) PUT("  %.1f/s", rate);
    else if (rate > 0) PUT("  %.1f s/item", 1.0 / rate);
    char t[32];
    PUT("  elapsed %s", xc_format_duration(t, sizeof t, elapsed_s));
    if (total > 0 && done < total) PUT("  ETA %s", xc_format_duration(t, sizeof t, rate > 0 ? (double)(total - done) / rate : -1));
    if (extra && *extra) PUT("  %s", extra);
#undef PUT
    return buf;
}

/* Draws under p->mu. final: also ends the line. */
static void draw_locked(xc_progress *p, double t, int final) {
    char line[512];
    xc_progress_format(line, sizeof line, p->label, (int64_t)atomic_load(&p->done), p->total, t - p->start,
                       p->extra);
    /* \r returns to the line start, \033[K clears what a longer previous line left. */
    fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
    fflush(stderr);
    p->last_draw = t;
}

static void maybe_draw(xc_progress *p, const char *extra) {
    if (!extra && !p->enabled) return;
    double t = p->enabled ? now_s() : 0;
    pthread_mutex_lock(&p->mu);
    if (extra) snprintf(p->extra, sizeof p->extra, "%s", extra);
    if (p->enabled && t - p->last_draw >= REDRAW_INTERVAL_S) draw_locked(p, t, 0);
    pthread_mutex_unlock(&p->mu);
}

xc_progress *xc_progress_start(int64_t total, const char *label, int enabled) {
    xc_progress *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    const char *l = label ? label : "";
    p->label = malloc(strlen(l) + 1);
    if (!p->label) {
        free(p);
        return NULL;
    }
    strcpy(p->label, l);
    p->total = total;
    p->enabled = enabled;
    atomic_init(&p->done, 0);
    pthread_mutex_init(&p->mu, NULL);
    p->start = now_s();
    p->last_draw = -1e9;
    maybe_draw(p, NULL);
    return p;
}

void xc_progress_update(xc_progress *p, int64_t done, const char *extra) {
    if (!p) return;
    atomic_store(&p->done, (long long)done);
    maybe_draw(p, extra);
}

void xc_progress_add(xc_progress *p, int64_t n) {
    if (!p) return;
    atomic_fetch_add(&p->done, (long long)n);
    maybe_draw(p, NULL);
}

int64_t xc_progress_done(const xc_progress *p) {
    return p ? (int64_t)atomic_load(&((xc_progress *)p)->done) : 0;
}

void xc_progress_finish(xc_progress *p) {
    if (!p) return;
    if (p->enabled) {
        pthread_mutex_lock(&p->mu);
        draw_locked(p, now_s(), 1);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_destroy(&p->mu);
    free(p->label);
    free(p);
}
