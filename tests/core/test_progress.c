/* test_progress.c — the progress line's contents (count, percentage, rate, ETA, elapsed, extra
 * text), duration formatting, and concurrent counting from worker threads. */
#include <pthread.h>

#include "check.h"
#include "xraycls/progress.h"

static xc_progress *shared_bar;

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < 10000; i++) xc_progress_add(shared_bar, 1);
    return NULL;
}

int main(void) {
    char buf[256], t[32];
    const char *b = buf;
    CHECK(!strcmp(xc_format_duration(t, sizeof t, 0), "0:00"));
    CHECK(!strcmp(xc_format_duration(t, sizeof t, 59.6), "1:00"));
    CHECK(!strcmp(xc_format_duration(t, sizeof t, 754), "12:34"));
    CHECK(!strcmp(xc_format_duration(t, sizeof t, 3723), "1:02:03"));
    CHECK(!strcmp(xc_format_duration(t, sizeof t, -1), "?"));

    /* 250 of 1000 in 10 s: 25/s, 30 s left. */
    xc_progress_format(buf, sizeof buf, "train", 250, 1000, 10.0, "loss 0.53");
    CHECK_CONTAINS(b, "train  [#####...............]  250/1000");
    CHECK_CONTAINS(b, "25.0%");
    CHECK_CONTAINS(b, "25.0/s");
    CHECK_CONTAINS(b, "elapsed 0:10");
    CHECK_CONTAINS(b, "ETA 0:30");
    CHECK_CONTAINS(b, "loss 0.53");
    /* Unknown total: a count and a rate only. */
    xc_progress_format(buf, sizeof buf, "scan", 5000, 0, 2.0, NULL);
    CHECK_CONTAINS(b, "scan  5000  2500/s");
    CHECK(strstr(b, "ETA") == NULL && strstr(b, "%") == NULL);
    /* Slow items read as seconds per item; done → no ETA. */
    xc_progress_format(buf, sizeof buf, "eval", 2, 2, 8.0, NULL);
    CHECK_CONTAINS(b, "4.0 s/item");
    CHECK(strstr(b, "ETA") == NULL);
    /* Truncation keeps a terminated string. */
    xc_progress_format(buf, 12, "a long label here", 1, 2, 1.0, NULL);
    CHECK(strlen(b) == 11);

    /* Four threads × 10000 adds: the count is exact, drawn or not (drawing goes to stderr). */
    for (int enabled = 0; enabled < 2; enabled++) {
        shared_bar = xc_progress_start(40000, "threads", enabled);
        CHECK(shared_bar != NULL);
        pthread_t th[4];
        for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, NULL);
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
        CHECK(xc_progress_done(shared_bar) == 40000);
        xc_progress_finish(shared_bar);
    }

    xc_progress *p = xc_progress_start(10, "x", 0);
    for (int i = 0; i < 4; i++) xc_progress_add(p, 1);
    CHECK(xc_progress_done(p) == 4);
    xc_progress_update(p, 9, "nearly");
    CHECK(xc_progress_done(p) == 9);
    xc_progress_finish(p);
    /* An enabled bar draws to stderr; it must not crash and ends its line. */
    p = xc_progress_start(3, "drawn", 1);
    xc_progress_update(p, 3, "done");
    xc_progress_finish(p);
    xc_progress_finish(NULL);
    xc_progress_add(NULL, 1);
    CHECK(xc_progress_done(NULL) == 0);
    return check_done("test_progress");
}
