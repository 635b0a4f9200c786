/* pool.c — the thread pool (xraycls/pool.h): workers sleep on a condition variable until a job
 * is started, then take indices under the lock; the last call of a job wakes the owner. The
 * lock is taken once per item, which costs well under a microsecond against items (an image
 * decode, a batch sample) of tens of microseconds or more. */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct xc_pool {
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job started, or quit */
    pthread_cond_t done; /* the job's last call returned */
    xc_pool_fn fn;
    void *ctx;
    int64_t n, next, finished;
    int quit, nthreads;
    pthread_t *th;
};

typedef struct {
    xc_pool *p;
    int index;
} worker_arg;

static void *worker(void *arg) {
    worker_arg *a = arg;
    xc_pool *p = a->p;
    int index = a->index;
    free(a);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->next >= p->n) pthread_cond_wait(&p->work, &p->mu);
        if (p->quit) break;
        int64_t i = p->next++;
        xc_pool_fn fn = p->fn;
        void *ctx = p->ctx;
        pthread_mutex_unlock(&p->mu);
        fn(ctx, i, index);
        pthread_mutex_lock(&p->mu);
        if (++p->finished == p->n) pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

xc_pool *xc_pool_new(int threads) {
    if (threads <= 0) threads = xc_cpu_count();
    if (threads > 256) threads = 256;
    xc_pool *p = calloc(1, sizeof *p);
    if (p) p->th = calloc((size_t)threads, sizeof *p->th);
    if (!p || !p->th) {
        free(p);
        xc_errorf("thread pool: out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int t = 0; t < threads; t++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) break;
        a->p = p;
        a->index = t;
        if (pthread_create(&p->th[t], NULL, worker, a) != 0) {
            free(a);
            break;
        }
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        xc_pool_free(p);
        xc_errorf("thread pool: cannot start a thread");
        return NULL;
    }
    return p;
}

int xc_pool_threads(const xc_pool *p) { return p->nthreads; }

void xc_pool_wait(xc_pool *p) {
    pthread_mutex_lock(&p->mu);
    while (p->finished < p->n) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void xc_pool_start(xc_pool *p, int64_t n, xc_pool_fn fn, void *ctx) {
    xc_pool_wait(p);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n > 0 ? n : 0;
    p->next = 0;
    p->finished = 0;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

int64_t xc_pool_wait_for(xc_pool *p, int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&p->mu);
    int timed_out = 0;
    while (p->finished < p->n && !timed_out) timed_out = pthread_cond_timedwait(&p->done, &p->mu, &ts) != 0;
    int64_t finished = p->finished;
    pthread_mutex_unlock(&p->mu);
    return finished;
}

void xc_pool_free(xc_pool *p) {
    if (!p) return;
    xc_pool_wait(p);
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int t = 0; t < p->nthreads; t++) pthread_join(p->th[t], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->th);
    free(p);
}

void xc_parallel_for(int threads, int64_t n, xc_pool_fn fn, void *ctx) {
    if (threads <= 0) threads = xc_cpu_count();
    if (threads > n) threads = (int)(n > 0 ? n : 1);
    xc_pool *p = threads > 1 ? xc_pool_new(threads) : NULL;
    if (!p) {
        for (int64_t i = 0; i < n; i++) fn(ctx, i, 0);
        return;
    }
    xc_pool_start(p, n, fn, ctx);
    xc_pool_free(p);
}
