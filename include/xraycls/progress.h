/* xraycls/progress.h — a one-line progress bar for long work (prepare, training epochs, eval).
 *
 * Draws to stderr, only when enabled (callers pass cli_is_tty()), at most about 10 times a
 * second: "label  [#####.....]  412/1000  41.2%  38.5/s  elapsed 0:10  ETA 0:15  loss 0.53".
 * Updates are thread-safe: worker threads may call xc_progress_add / xc_progress_update
 * concurrently; the count is atomic and drawing is serialised by a mutex.
 * A disabled bar still counts (xc_progress_done) but prints nothing. Nothing here fails: a bar
 * that cannot be allocated is NULL, and every function accepts NULL and then does nothing.
 */
#ifndef XRAYCLS_PROGRESS_H
#define XRAYCLS_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_progress xc_progress;

/* Starts a bar over `total` items (total <= 0: unknown, no percentage or ETA). label is copied.
 * Owned by the caller until xc_progress_finish. */
xc_progress *xc_progress_start(int64_t total, const char *label, int enabled);
/* Sets the count to `done` (absolute) and, when extra is not NULL, the trailing text (copied,
 * e.g. "loss 0.53"). Redraws if the last draw was ≥ 0.1 s ago. */
void xc_progress_update(xc_progress *p, int64_t done, const char *extra);
/* Adds n to the count (for workers that each finish items); same redraw rule. */
void xc_progress_add(xc_progress *p, int64_t n);
/* The current count. */
int64_t xc_progress_done(const xc_progress *p);
/* Draws the final state, ends the line, frees p. Accepts NULL. */
void xc_progress_finish(xc_progress *p);

/* Formats one bar line into buf (cap bytes, truncated) and returns buf; used by the bar and by
 * tests. elapsed_s: seconds since start; extra may be NULL. */
char *xc_progress_format(char *buf, size_t cap, const char *label, int64_t done, int64_t total, double elapsed_s,
                         const char *extra);
/* "h:mm:ss" or "m:ss" (negative or non-finite: "?"). */
char *xc_format_duration(char *buf, size_t cap, double seconds);

#ifdef __cplusplus
}
#endif
#endif
