/* test_opt.c — the option parser and the "did you mean" helper (xraycls/opt.h): both spellings
 * of a value, short options, "--", repeats, help anywhere, and the wording of every refusal. */
#include <string.h>

#include "check.h"
#include "xraycls/opt.h"

static const xc_opt opts[] = {{"model", 0, XC_OPT_VALUE},
                              {"output", 'o', XC_OPT_VALUE},
                              {"rgb", 0, 0},
                              {"set", 0, XC_OPT_VALUE | XC_OPT_REPEAT},
                              {"batch", 0, XC_OPT_VALUE},
                              {0}};

/* Reads argv (NULL-terminated, argv[0] the command) to the first error or the end; the results
 * (option index, or ARG/HELP/ERROR) into out, the values into vals; returns how many. */
static int run(char **argv, int *out, const char **vals, int cap) {
    int argc = 0;
    while (argv[argc]) argc++;
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    int n = 0;
    for (int k; n < cap && (k = xc_opt_next(&p)) != XC_OPT_END;) {
        out[n] = k;
        vals[n++] = p.value;
        if (k == XC_OPT_ERROR) break;
    }
    return n;
}

#define ARGV(...) ((char *[]){"cmd", __VA_ARGS__, NULL})

int main(void) {
    int k[16];
    const char *v[16];

    /* --opt value, --opt=value, -o value, -ovalue, switches, positionals, "-" */
    int n = run(ARGV("--model", "m.st", "--output=o.csv", "in1", "-o", "x", "-oy", "--rgb", "-", "--set", "a=1",
                     "--set=b=2"),
                k, v, 16);
    CHECK(n == 4);
    CHECK(k[0] == 0 && !strcmp(v[0], "m.st"));
    CHECK(k[1] == 1 && !strcmp(v[1], "o.csv"));
    CHECK(k[2] == XC_OPT_ARG && !strcmp(v[2], "in1"));
    /* -o twice is refused (output is not repeatable): the third result is the refusal */
    CHECK(k[3] == XC_OPT_ERROR);
    CHECK_CONTAINS(xc_error(), "option '-o' given twice");

    n = run(ARGV("-oy", "--rgb", "-", "--set", "a=1", "--set=b=2", "--batch", "-1"), k, v, 16);
    CHECK(n == 6);
    CHECK(k[0] == 1 && !strcmp(v[0], "y"));
    CHECK(k[1] == 2 && v[1] == NULL);
    CHECK(k[2] == XC_OPT_ARG && !strcmp(v[2], "-"));
    CHECK(k[3] == 3 && !strcmp(v[3], "a=1"));
    CHECK(k[4] == 3 && !strcmp(v[4], "b=2")); /* only the first '=' splits */
    CHECK(k[5] == 4 && !strcmp(v[5], "-1"));  /* a value may start with '-' */

    /* "--" ends the options; help before it wherever it stands, not after */
    n = run(ARGV("--rgb", "--", "--model", "-h", "--help"), k, v, 16);
    CHECK(n == 4 && k[1] == XC_OPT_ARG && !strcmp(v[1], "--model") && k[2] == XC_OPT_ARG && k[3] == XC_OPT_ARG);
    n = run(ARGV("in", "--help"), k, v, 16);
    CHECK(n == 2 && k[1] == XC_OPT_HELP);
    n = run(ARGV("-h"), k, v, 16);
    CHECK(n == 1 && k[0] == XC_OPT_HELP);
    /* an option before --help is still checked */
    n = run(ARGV("--modle", "x", "--help"), k, v, 16);
    CHECK(n == 1 && k[0] == XC_OPT_ERROR);

    /* the refusals */
    struct {
        char **argv;
        const char *msg;
    } bad[] = {
        {ARGV("--modle", "m"), "unknown option '--modle' (did you mean '--model'?)"},
        {ARGV("--outptu=x"), "unknown option '--outptu' (did you mean '--output'?)"},
        {ARGV("--zzzzzz"), "unknown option '--zzzzzz'"},
        {ARGV("-x"), "unknown option '-x'"},
        {ARGV("--model"), "option '--model' needs a value"},
        {ARGV("-o"), "option '-o' needs a value"},
        {ARGV("--rgb=1"), "option '--rgb' takes no value"},
        {ARGV("--help=1"), "option '--help' takes no value"},
        {ARGV("--model", "a", "--model=b"), "option '--model' given twice"},
        {ARGV("--mod", "a"), "unknown option '--mod' (did you mean '--model'?)"}, /* no abbreviations */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        n = run(bad[i].argv, k, v, 16);
        CHECK_MSG(n >= 1 && k[n - 1] == XC_OPT_ERROR, "case %zu not refused", i);
        CHECK_MSG(!strcmp(xc_error(), bad[i].msg), "case %zu: got '%s', want '%s'", i, xc_error(), bad[i].msg);
    }
    n = run(ARGV("--zzzzzz"), k, v, 16);
    CHECK(!strstr(xc_error(), "did you mean"));

    /* numbers with the option's name */
    {
        xc_opt_parser p;
        char **a = ARGV("--batch", "0", "--batch=12x", "--batch=7");
        xc_opt_init(&p, (const xc_opt[]){{"batch", 0, XC_OPT_VALUE | XC_OPT_REPEAT}, {0}}, 5, a);
        long long b = -1;
        CHECK(xc_opt_next(&p) == 0 && xc_opt_ll(&p, 1, 4096, &b) < 0 && b == -1);
        CHECK(!strcmp(xc_error(), "'--batch 0': not in [1, 4096]"));
        CHECK(xc_opt_next(&p) == 0 && xc_opt_ll(&p, 1, 4096, &b) < 0);
        CHECK(!strcmp(xc_error(), "'--batch 12x': not a whole number"));
        CHECK(xc_opt_next(&p) == 0 && xc_opt_ll(&p, 1, 4096, &b) == 0 && b == 7);
        CHECK(xc_opt_count(&p, 0) == 3);
        CHECK(xc_opt_next(&p) == XC_OPT_END);
        double d;
        a = ARGV("--f", "1.5", "--f", "x");
        xc_opt_init(&p, (const xc_opt[]){{"f", 0, XC_OPT_VALUE | XC_OPT_REPEAT}, {0}}, 5, a);
        CHECK(xc_opt_next(&p) == 0 && xc_opt_double(&p, 0, 1, &d) < 0);
        CHECK(!strcmp(xc_error(), "'--f 1.5': not in [0, 1]"));
        CHECK(xc_opt_next(&p) == 0 && xc_opt_double(&p, 0, 1, &d) < 0);
        CHECK(!strcmp(xc_error(), "'--f x': not a number"));
    }

    /* the edit distance: optimal string alignment (a swap of neighbours is one edit) */
    CHECK(xc_edit_distance("train", "train") == 0);
    CHECK(xc_edit_distance("trian", "train") == 1);
    CHECK(xc_edit_distance("confg", "config") == 1);
    CHECK(xc_edit_distance("", "abc") == 3);
    CHECK(xc_edit_distance("kitten", "sitting") == 3);
    CHECK(xc_edit_distance("ca", "abc") == 3); /* OSA, not unrestricted Damerau (2) */
    xc_suggest s;
    xc_suggest_init(&s, "prdict");
    const char *cands[] = {"info", "prepare", "predict", "train"};
    for (int i = 0; i < 4; i++) xc_suggest_add(&s, cands[i]);
    CHECK(xc_suggest_best(&s) && !strcmp(xc_suggest_best(&s), "predict"));
    xc_suggest_init(&s, "xyzzy");
    for (int i = 0; i < 4; i++) xc_suggest_add(&s, cands[i]);
    CHECK(xc_suggest_best(&s) == NULL);
    return check_done("opt");
}
