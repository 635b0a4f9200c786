/* xraycls/opt.h — the one command-line option parser of every command, and the one "did you
 * mean" of the program (options, commands, config keys).
 *
 * A command describes its options in a table and reads them in order, as with getopt_long:
 *
 *   static const xc_opt opts[] = {{"model", 0, XC_OPT_VALUE}, {"output", 'o', XC_OPT_VALUE},
 *                                 {"rgb", 0, 0}, {"set", 0, XC_OPT_VALUE | XC_OPT_REPEAT}, {0}};
 *   xc_opt_parser p;
 *   xc_opt_init(&p, opts, argc, argv);    // argv[0] is the command name
 *   for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
 *       if (k == XC_OPT_ERROR) ... print xc_error() as a usage error ...
 *       if (k == XC_OPT_HELP) ... print the help ...
 *       if (k == XC_OPT_ARG) ... p.value is a positional argument ...
 *       if (k == 0) model = p.value; ...   // k indexes opts
 *   }
 *
 * Accepted: `--name value`, `--name=value`, `-o value`, `-ovalue`; `--` ends the options (every
 * later argument is positional); `-` alone is positional (standard input/output); `-h`/`--help`
 * before `--` is XC_OPT_HELP wherever it stands, so `CMD [options] --help` checks the options
 * before it. Long names must be written whole (no abbreviations: a later option cannot change
 * what an old command line means).
 *
 * Refusals (in xc_error(), worded the same for every command):
 *   unknown option '--confg' (did you mean '--config'?)
 *   option '--batch' needs a value
 *   option '--rgb' takes no value
 *   option '--model' given twice
 * and, from xc_opt_ll / xc_opt_double, "'--batch 0': not in [1, 4096]". */
#ifndef XRAYCLS_OPT_H
#define XRAYCLS_OPT_H

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    XC_OPT_VALUE = 1,  /* takes a value */
    XC_OPT_REPEAT = 2, /* may be given several times (else a second one is refused) */
};

/* One option; a table ends with {0}. */
typedef struct {
    const char *name; /* long name without "--" ("output"); NULL ends the table */
    char short_name;  /* 'o' for -o, 0 for none */
    int flags;        /* XC_OPT_VALUE | XC_OPT_REPEAT */
} xc_opt;

/* xc_opt_next's results other than a table index. */
enum { XC_OPT_END = -1, XC_OPT_ARG = -2, XC_OPT_HELP = -3, XC_OPT_ERROR = -4 };

#define XC_OPT_MAX 64 /* options in one table */

typedef struct {
    const xc_opt *opts;
    int nopts, argc, i, only_args;
    char **argv;
    const char *value;  /* the value of the option (or the positional argument) just read */
    const char *name;   /* how it was written, without the value: "--batch", "-o" */
    int count[XC_OPT_MAX];
} xc_opt_parser;

/* Starts reading argv[1..argc-1] against opts (at most XC_OPT_MAX entries). */
void xc_opt_init(xc_opt_parser *p, const xc_opt *opts, int argc, char **argv);

/* The next argument: the index in opts of an option (p->value its value, NULL for a switch),
 * XC_OPT_ARG (p->value the argument), XC_OPT_HELP, XC_OPT_END, or XC_OPT_ERROR with the message
 * in xc_error(). */
int xc_opt_next(xc_opt_parser *p);

/* How many times opts[k] has been read so far. */
int xc_opt_count(const xc_opt_parser *p, int k);

/* The value just read as a whole number in [lo, hi] / a decimal number in [lo, hi]: 0, or -1
 * with "'--batch 0': not in [1, 4096]" (or "... not a whole number") in xc_error(). */
int xc_opt_ll(const xc_opt_parser *p, long long lo, long long hi, long long *out);
int xc_opt_double(const xc_opt_parser *p, double lo, double hi, double *out);

/* The restricted Damerau-Levenshtein (optimal string alignment) distance of a and b: inserted,
 * deleted, replaced and swapped neighbouring characters count 1 each. Names longer than 63
 * characters count as far from everything (99). */
int xc_edit_distance(const char *a, const char *b);

/* Finding the closest of several names to a mistyped one:
 *   xc_suggest s; xc_suggest_init(&s, typed);
 *   for each candidate: xc_suggest_add(&s, candidate);
 *   const char *best = xc_suggest_best(&s);   // NULL when none is close enough
 * Close enough: at most max(2, strlen(typed)/3 + 1) edits. The candidate is copied (at most 63
 * characters), so it may be a temporary buffer; best points into s. */
typedef struct {
    const char *typed;
    int dist;
    char best[64];
} xc_suggest;
void xc_suggest_init(xc_suggest *s, const char *typed);
void xc_suggest_add(xc_suggest *s, const char *candidate);
const char *xc_suggest_best(const xc_suggest *s);

#ifdef __cplusplus
}
#endif
#endif
