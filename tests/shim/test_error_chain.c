/* test_error_chain.c — libtorch fails inside a chain of shim calls: every later call gets a
 * NULL argument, and the message left for the user is still the first failure's (libtorch's
 * reason, under the op that failed) followed by the call that got the NULL, never only
 * "tensor argument is NULL". */
#include <pthread.h>

#include "check.h"
#include "xraycls/error.h"
#include "xraycls/shim.h"

static void *null_on_fresh_thread(void *out) {
    xt_tensor *r = xt_relu(NULL);
    snprintf(out, 512, "%s", r ? "(no failure)" : xc_error());
    return NULL;
}

int main(void) {
    xt_arena *a = xt_arena_new();
    CHECK(a != NULL);
    xt_arena *prev = xt_arena_push(a);
    int64_t s23[2] = {2, 3}, s45[2] = {4, 5};
    xt_tensor *x = xt_ones(2, s23, XT_F32, XT_CPU), *w = xt_ones(2, s45, XT_F32, XT_CPU);
    CHECK(x && w);

    /* (2,3) x (4,5)ᵀ cannot be multiplied: libtorch throws inside xt_linear */
    xc_error_clear();
    xt_tensor *y = xt_linear(x, w, NULL);
    CHECK(y == NULL);
    char first[512];
    snprintf(first, sizeof first, "%s", xc_error());
    CHECK_MSG(strstr(first, "xt_linear") != NULL, "first message: %s", first);
    CHECK_MSG(strstr(first, "NULL") == NULL, "first message: %s", first);

    /* three more calls, each on the previous NULL result */
    xt_tensor *z = xt_relu(y);
    xt_tensor *m = xt_mean(xt_sigmoid(z));
    CHECK(z == NULL && m == NULL);
    CHECK_MSG(!strncmp(xc_error(), first, strlen(first)), "after the chain: '%s' (first: '%s')", xc_error(), first);
    CHECK_CONTAINS(xc_error(), "(and then xt_mean: tensor argument 't' is NULL)");
    double v = 0;
    CHECK(xt_item(m, &v) == -1);
    CHECK_MSG(!strncmp(xc_error(), first, strlen(first)), "after xt_item: '%s'", xc_error());
    CHECK_MSG(strstr(xc_error(), "(and then") == strrchr(xc_error(), '(') , "nested: '%s'", xc_error());

    /* A NULL argument with no failure before it on its thread still says what is NULL. */
    pthread_t th;
    char fresh[512] = "";
    CHECK(pthread_create(&th, NULL, null_on_fresh_thread, fresh) == 0);
    pthread_join(th, NULL);
    CHECK_MSG(strstr(fresh, "xt_relu") && strstr(fresh, "is NULL"), "fresh thread: '%s'", fresh);

    xt_arena_push(prev);
    xt_arena_free(a);
    return check_done("test_error_chain");
}
