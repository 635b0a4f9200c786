/* test_pool.c — the thread pool (xraycls/pool.h): every index runs exactly once, on a worker
 * index in range, jobs run one after another on the same pool, several workers really run at
 * once, progress while waiting, and the serial fallback of xc_parallel_for. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "check.h"
#include "xraycls/pool.h"

typedef struct {
    atomic_int *hits;
    int threads;
    atomic_int bad_worker;
    atomic_int running, max_running;
    int sleep_us;
} job;

static void sleep_us(int us) {
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

static void fn(void *ctx, int64_t i, int worker) {
    job *j = ctx;
    if (worker < 0 || worker >= j->threads) atomic_fetch_add(&j->bad_worker, 1);
    int now = atomic_fetch_add(&j->running, 1) + 1;
    int m = atomic_load(&j->max_running);
    while (now > m && !atomic_compare_exchange_weak(&j->max_running, &m, now)) {
    }
    if (j->sleep_us) sleep_us(j->sleep_us);
    atomic_fetch_add(&j->hits[i], 1);
    atomic_fetch_sub(&j->running, 1);
}

int main(void) {
    CHECK(xc_cpu_count() >= 1);
    enum { N = 5000 };
    static atomic_int hits[N];
    xc_pool *p = xc_pool_new(4);
    CHECK(p != NULL);
    if (!p) return check_done("pool");
    CHECK(xc_pool_threads(p) == 4);
    for (int round = 0; round < 3; round++) { /* the same pool, job after job */
        for (int i = 0; i < N; i++) atomic_store(&hits[i], 0);
        job j = {hits, 4, 0, 0, 0, 0};
        xc_pool_start(p, N, fn, &j);
        xc_pool_wait(p);
        int once = 1;
        for (int i = 0; i < N; i++) once &= atomic_load(&hits[i]) == 1;
        CHECK_MSG(once, "round %d: an index ran zero or several times", round);
        CHECK(atomic_load(&j.bad_worker) == 0);
    }
    /* several at once: 4 workers on items that sleep 2 ms overlap */
    for (int i = 0; i < 40; i++) atomic_store(&hits[i], 0);
    job j = {hits, 4, 0, 0, 0, 2000};
    xc_pool_start(p, 40, fn, &j);
    int64_t seen = xc_pool_wait_for(p, 1); /* returns before the ~20 ms job ends */
    CHECK_MSG(seen < 40, "%lld finished after 1 ms", (long long)seen);
    while (xc_pool_wait_for(p, 50) < 40) {
    }
    CHECK(xc_pool_wait_for(p, 0) == 40);
    CHECK_MSG(atomic_load(&j.max_running) >= 2, "at most %d ran at once", atomic_load(&j.max_running));
    /* an empty job, and freeing a pool with a job in flight waits for it */
    xc_pool_start(p, 0, fn, &j);
    xc_pool_wait(p);
    for (int i = 0; i < 100; i++) atomic_store(&hits[i], 0);
    job k = {hits, 4, 0, 0, 0, 100};
    xc_pool_start(p, 100, fn, &k);
    xc_pool_free(p);
    int all = 1;
    for (int i = 0; i < 100; i++) all &= atomic_load(&hits[i]) == 1;
    CHECK(all);
    xc_pool_free(NULL);

    /* xc_parallel_for: pooled and serial */
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < 777; i++) atomic_store(&hits[i], 0);
        job q = {hits, t, 0, 0, 0, 0};
        xc_parallel_for(t, 777, fn, &q);
        int ok = 1;
        for (int i = 0; i < 777; i++) ok &= atomic_load(&hits[i]) == 1;
        CHECK_MSG(ok, "parallel_for with %d threads", t);
        CHECK(atomic_load(&q.bad_worker) == 0);
        if (t == 1) CHECK(atomic_load(&q.max_running) == 1);
    }
    return check_done("pool");
}
