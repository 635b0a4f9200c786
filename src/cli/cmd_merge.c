/* cmd_merge.c — `xraycls merge`: the outputs of `predict --shard 1/N … N/N` (CSV or JSON lines)
 * as one file in the order one unsharded `predict` would have written. Shard K holds the files
 * whose input index i has i mod N == K-1, in input order, so row j of shard K is input row
 * j·N + K-1: the rows are interleaved back, byte for byte. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xraycls/fs.h"

static const char usage[] =
    "usage: xraycls merge -o OUT SHARD_1 SHARD_2 ... SHARD_N\n"
    "\n"
    "Joins the outputs of `xraycls predict --shard K/N` (K = 1..N, given in that order; all CSV\n"
    "or all JSON lines) into OUT, in the order of one unsharded predict over the same inputs.\n"
    "The CSV header must be the same in every shard and is written once. Row counts must fit\n"
    "the sharding (shard K holds inputs K-1, K-1+N, …): a shard with a file that could not be\n"
    "scored breaks the interleave and is refused — score those files again, or merge by path.\n"
    "\n"
    "  -o, --output OUT  the merged file (written atomically; an existing OUT is replaced)\n"
    "  -h, --help        this help\n";

typedef struct {
    char *text;
    size_t len;
    size_t *start; /* record offsets; record r is [start[r], start[r+1]) */
    int64_t n;
} shard;

/* Splits text into records ending in '\n'; in CSV a newline inside a quoted field does not end
 * a record. */
static int split(shard *s, int csv, const char *path) {
    size_t cap = 64;
    s->start = malloc(cap * sizeof *s->start);
    if (!s->start) return xc_errorf("out of memory");
    s->n = 0;
    int quoted = 0;
    size_t rec = 0;
    for (size_t i = 0; i < s->len; i++) {
        char c = s->text[i];
        if (csv && c == '"') quoted = !quoted;
        if (c == '\n' && !quoted) {
            if ((size_t)s->n + 2 > cap) {
                size_t *p = realloc(s->start, (cap *= 2) * sizeof *p);
                if (!p) return xc_errorf("out of memory");
                s->start = p;
            }
            s->start[s->n++] = rec;
            rec = i + 1;
        }
    }
    if (rec != s->len)
        return xc_errorf("'%s': the last line has no line end (a truncated predict output?)", path);
    s->start[s->n] = s->len;
    return 0;
}

static const xc_opt opts[] = {{"output", 'o', XC_OPT_VALUE}, {0}};

int cmd_merge(int argc, char **argv) {
    const char *out = NULL;
    int n = 0;
    const char **in = calloc((size_t)argc, sizeof *in);
    if (!in) return cli_fail("out of memory");
    xc_opt_parser p;
    xc_opt_init(&p, opts, argc, argv);
    for (int k; (k = xc_opt_next(&p)) != XC_OPT_END;) {
        if (k == 0) out = p.value;
        else if (k == XC_OPT_ARG) in[n++] = p.value;
        else {
            free(in);
            return k == XC_OPT_HELP ? cli_help(usage) : cli_opt_error("merge", usage);
        }
    }
    if (!out || n < 1) {
        free(in);
        return cli_usage_error("merge", usage, "%s", !out ? "-o OUT is required" : "no shard given");
    }
    shard *s = calloc((size_t)n, sizeof *s);
    int rc = XC_EXIT_FAIL, csv = -1;
    xc_atomic at = {0};
    if (!s) {
        cli_fail("out of memory");
        goto done;
    }
    for (int k = 0; k < n; k++) {
        s[k].text = xc_read_file(in[k], &s[k].len, (size_t)1 << 34);
        if (!s[k].text) {
            cli_fail(NULL);
            goto done;
        }
        /* JSON lines start with '{'; predict's CSV starts with its header "path,". */
        int is_csv = !(s[k].len && s[k].text[0] == '{');
        if (csv >= 0 && is_csv != csv) {
            cli_fail("'%s' is %s but '%s' is %s: merge shards of one format", in[k],
                     is_csv ? "CSV" : "JSON lines", in[0], csv ? "CSV" : "JSON lines");
            goto done;
        }
        csv = is_csv;
        if (split(&s[k], csv, in[k]) < 0) {
            cli_fail(NULL);
            goto done;
        }
        if (csv) {
            if (s[k].n < 1) {
                cli_fail("'%s' is empty: not a predict output", in[k]);
                goto done;
            }
            size_t h0 = s[0].start[1], hk = s[k].start[1];
            if (h0 != hk || memcmp(s[0].text, s[k].text, h0) != 0) {
                cli_fail("'%s' has another header than '%s' (another model or format?)", in[k], in[0]);
                goto done;
            }
        }
    }
    /* Shard K of a list of M inputs holds ceil((M - K + 1) / N) rows. */
    int64_t head = csv ? 1 : 0, total = 0;
    for (int k = 0; k < n; k++) total += s[k].n - head;
    for (int k = 0; k < n; k++) {
        int64_t want = (total - k + n - 1) / n;
        if (s[k].n - head != want) {
            cli_fail("'%s' holds %lld rows, but shard %d of %d of %lld rows holds %lld: give the "
                     "shards in order 1..%d, each from `predict --shard K/%d` with every file scored",
                     in[k], (long long)(s[k].n - head), k + 1, n, (long long)total, (long long)want, n, n);
            goto done;
        }
    }
    if (xc_atomic_open(&at, out) < 0) {
        cli_fail(NULL);
        goto done;
    }
    if (csv) fwrite(s[0].text, 1, s[0].start[1], at.fp);
    for (int64_t j = 0; j < total; j++) {
        const shard *sh = &s[j % n];
        int64_t r = head + j / n;
        fwrite(sh->text + sh->start[r], 1, sh->start[r + 1] - sh->start[r], at.fp);
    }
    if (xc_atomic_commit(&at) < 0) {
        cli_fail(NULL);
        goto done;
    }
    fprintf(stderr, "merged %lld rows of %d shards into %s\n", (long long)total, n, out);
    rc = XC_EXIT_OK;
done:
    xc_atomic_abort(&at);
    for (int k = 0; s && k < n; k++) {
        free(s[k].text);
        free(s[k].start);
    }
    free(s);
    free(in);
    return rc;
}
