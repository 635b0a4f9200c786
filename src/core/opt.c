/* opt.c — the option parser and the "did you mean" helper (xraycls/opt.h). */
#include "xraycls/opt.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "xraycls/parse.h"

int xc_edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            /* a swap of neighbours ("trian" for "train") is one edit, not two */
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

void xc_suggest_init(xc_suggest *s, const char *typed) {
    s->typed = typed;
    s->dist = 1 << 30;
    s->best[0] = 0;
}

void xc_suggest_add(xc_suggest *s, const char *candidate) {
    int d = xc_edit_distance(s->typed, candidate);
    if (d < s->dist) {
        s->dist = d;
        snprintf(s->best, sizeof s->best, "%s", candidate);
    }
}

const char *xc_suggest_best(const xc_suggest *s) {
    int limit = (int)strlen(s->typed) / 3 + 1;
    if (limit < 2) limit = 2;
    return s->best[0] && s->dist <= limit ? s->best : NULL;
}

void xc_opt_init(xc_opt_parser *p, const xc_opt *opts, int argc, char **argv) {
    memset(p, 0, sizeof *p);
    p->opts = opts;
    while (opts[p->nopts].name && p->nopts < XC_OPT_MAX) p->nopts++;
    p->argc = argc;
    p->argv = argv;
    p->i = 1;
}

int xc_opt_count(const xc_opt_parser *p, int k) { return k >= 0 && k < p->nopts ? p->count[k] : 0; }

/* "unknown option 'X'", with the closest long option when one is close. */
static int unknown(const xc_opt_parser *p, const char *written, size_t len) {
    char typed[64];
    snprintf(typed, sizeof typed, "%.*s", (int)(len < 63 ? len : 63), written);
    const char *bare = typed;
    while (*bare == '-') bare++;
    xc_suggest s;
    xc_suggest_init(&s, bare);
    for (int k = 0; k < p->nopts; k++) xc_suggest_add(&s, p->opts[k].name);
    xc_suggest_add(&s, "help");
    const char *best = typed[1] == '-' ? xc_suggest_best(&s) : NULL; /* not for a single-letter -x */
    if (best) return xc_errorf("unknown option '%.*s' (did you mean '--%s'?)", (int)len, written, best), XC_OPT_ERROR;
    return xc_errorf("unknown option '%.*s'", (int)len, written), XC_OPT_ERROR;
}

/* Takes opts[k], written as p->name, with `inline_value` (after '=' or a short option's letter)
 * or the next argument as its value. */
static int take(xc_opt_parser *p, int k, const char *inline_value) {
    const xc_opt *o = &p->opts[k];
    if (!(o->flags & XC_OPT_VALUE)) {
        if (inline_value) return xc_errorf("option '%s' takes no value", p->name), XC_OPT_ERROR;
        p->value = NULL;
    } else if (inline_value) {
        p->value = inline_value;
    } else if (p->i < p->argc) {
        p->value = p->argv[p->i++];
    } else {
        return xc_errorf("option '%s' needs a value", p->name), XC_OPT_ERROR;
    }
    if (p->count[k] && !(o->flags & XC_OPT_REPEAT)) return xc_errorf("option '%s' given twice", p->name), XC_OPT_ERROR;
    p->count[k]++;
    return k;
}

int xc_opt_next(xc_opt_parser *p) {
    static _Thread_local char written[80];
    if (p->i >= p->argc) return XC_OPT_END;
    const char *a = p->argv[p->i++];
    p->value = NULL;
    p->name = a;
    if (p->only_args || a[0] != '-' || !a[1]) {
        p->value = a;
        return XC_OPT_ARG;
    }
    if (!strcmp(a, "--")) {
        p->only_args = 1;
        return xc_opt_next(p);
    }
    if (a[1] == '-') {
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        snprintf(written, sizeof written, "%.*s", (int)(len < 79 ? len : 79), a);
        p->name = written;
        if (!strcmp(written, "--help")) return eq ? (xc_errorf("option '--help' takes no value"), XC_OPT_ERROR) : XC_OPT_HELP;
        for (int k = 0; k < p->nopts; k++)
            if (strlen(p->opts[k].name) == len - 2 && !strncmp(p->opts[k].name, a + 2, len - 2))
                return take(p, k, eq ? eq + 1 : NULL);
        return unknown(p, a, len);
    }
    snprintf(written, sizeof written, "-%c", a[1]);
    p->name = written;
    if (a[1] == 'h' && !a[2]) return XC_OPT_HELP;
    for (int k = 0; k < p->nopts; k++)
        if (p->opts[k].short_name && p->opts[k].short_name == a[1]) {
            /* -ovalue: the rest is the value; a switch takes no glued letters */
            if (a[2] && !(p->opts[k].flags & XC_OPT_VALUE))
                return xc_errorf("option '%s' takes no value", written), XC_OPT_ERROR;
            return take(p, k, a[2] ? a + 2 : NULL);
        }
    return unknown(p, a, strlen(a));
}

int xc_opt_ll(const xc_opt_parser *p, long long lo, long long hi, long long *out) {
    if (xc_parse_ll(p->value, lo, hi, out) == 0) return 0;
    long long dummy;
    /* xc_parse_ll's message quotes the value; say it again with the option's name */
    if (xc_parse_ll(p->value, LLONG_MIN, LLONG_MAX, &dummy) < 0)
        return xc_errorf("'%s %s': not a whole number", p->name, p->value ? p->value : "");
    return xc_errorf("'%s %s': not in [%lld, %lld]", p->name, p->value, lo, hi);
}

int xc_opt_double(const xc_opt_parser *p, double lo, double hi, double *out) {
    if (xc_parse_double(p->value, lo, hi, out) == 0) return 0;
    double dummy;
    if (xc_parse_double(p->value, -1e308, 1e308, &dummy) < 0)
        return xc_errorf("'%s %s': not a number", p->name, p->value ? p->value : "");
    return xc_errorf("'%s %s': not in [%g, %g]", p->name, p->value, lo, hi);
}
