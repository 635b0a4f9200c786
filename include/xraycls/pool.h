/* xraycls/pool.h — the program's one thread pool: a fixed set of worker threads that run one
 * job at a time, a job being "call fn(ctx, i, worker) for every i in [0, n)".
 *
 * Used by prepare (decoding every image), the synthetic data set (drawing images), predict
 * (decoding batch k+1 while the device runs batch k) and batch assembly (data.workers). A job
 * is started with xc_pool_start and runs in the background until xc_pool_wait; the indices are
 * handed out one at a time in increasing order, so a slow item never holds up the others.
 * `worker` is the index (0 .. threads-1) of the thread running the call, for per-thread
 * scratch memory. fn must be safe to run on several threads at once; it cannot fail as far as
 * the pool is concerned (record failures per item, as prepare and predict do).
 *
 * Only one thread (the owner) may call the functions below, one job at a time. */
#ifndef XRAYCLS_POOL_H
#define XRAYCLS_POOL_H

#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/sysinfo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xc_pool xc_pool;
typedef void (*xc_pool_fn)(void *ctx, int64_t i, int worker);

/* xc_cpu_count(): the CPUs this process may use (xraycls/sysinfo.h). */

/* Starts `threads` workers (<= 0: xc_cpu_count(); at most 256). Runs with fewer when the
 * system refuses some; NULL with a message when it refuses all or memory runs out.
 * Free with xc_pool_free. */
xc_pool *xc_pool_new(int threads);
/* The number of workers that started. */
int xc_pool_threads(const xc_pool *p);
/* Starts the job fn(ctx, i, worker), i in [0, n), and returns at once. A job still running is
 * waited for first. n <= 0 is an empty job. */
void xc_pool_start(xc_pool *p, int64_t n, xc_pool_fn fn, void *ctx);
/* Waits until every call of the current job has returned (at once when none is running). */
void xc_pool_wait(xc_pool *p);
/* Waits at most timeout_ms for the job to finish; returns the number of calls finished so far
 * (n when the job is done). For progress reports while a long job runs. */
int64_t xc_pool_wait_for(xc_pool *p, int timeout_ms);
/* Waits for the current job, stops and joins the workers, frees. Accepts NULL. */
void xc_pool_free(xc_pool *p);

/* One call: a pool of `threads`, the job, waited for, freed. Runs the job on the calling
 * thread when no thread can be started (so it cannot fail), or when threads == 1 or n == 1. */
void xc_parallel_for(int threads, int64_t n, xc_pool_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
