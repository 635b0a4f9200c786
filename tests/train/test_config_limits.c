/* test_config_limits.c — integer settings are range-checked against their C type (a value
 * inside the table's range but past INT_MAX used to wrap, e.g. max_steps_per_epoch 3000000000
 * → -2147483648, which the run's own resolved config then failed on --resume), and repeated
 * keys are refused naming both lines (the last one used to win silently). */
#include <limits.h>

#include "check.h"
#include "xraycls/config.h"

static int parse_set(xc_config *c, const char *set) {
    const char *sets[] = {set};
    return xc_config_parse(c, "{\"data\": {\"path\": \"d\"}}", "a.json", sets, 1, "a");
}

int main(void) {
    xc_config c;
    CHECK(parse_set(&c, "train.max_steps_per_epoch=3000000000") < 0);
    CHECK_CONTAINS(xc_error(), "train.max_steps_per_epoch: 3000000000 is out of range [0, 2147483647]");
    CHECK(parse_set(&c, "train.max_steps_per_epoch=2147483648") < 0);
    CHECK(parse_set(&c, "train.max_steps_per_epoch=2147483647") == 0 && c.train.max_steps_per_epoch == INT_MAX);
    /* The resolved config of an accepted value parses back to the same value. */
    char *js = xc_config_to_json(&c);
    xc_config back;
    CHECK(js && xc_config_parse(&back, js, "resolved.json", NULL, 0, "a") == 0);
    CHECK(back.train.max_steps_per_epoch == INT_MAX);
    free(js);
    CHECK(parse_set(&c, "train.log_every=1000000000") == 0 && c.train.log_every == 1000000000);

    /* Repeated keys. */
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"},\n \"optim\": {\"lr\": 0.001,\n \"lr\": 10}}", "a.json",
                          NULL, 0, "a") < 0);
    CHECK_CONTAINS(xc_error(), "config 'a.json'");
    CHECK_CONTAINS(xc_error(), "key 'optim.lr' appears twice, at line 2 and line 3");
    CHECK(xc_config_parse(&c, "{\"data\": {\"path\": \"d\"}, \"train\": {\"epochs\": 1},\n\"train\": {\"seed\": 3}}",
                          "a.json", NULL, 0, "a") < 0);
    CHECK_CONTAINS(xc_error(), "key 'train' appears twice, at line 1 and line 2");
    return check_done("test_config_limits");
}
