/* cli_util.c — messages and exit codes shared by the commands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_fail(const char *fmt, ...) {
    fputs("xraycls: ", stderr);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    } else {
        fputs(*xc_error() ? xc_error() : "unknown error", stderr);
    }
    fputc('\n', stderr);
    return XC_EXIT_FAIL;
}

/* The synopsis: the usage text up to its first blank line. */
static void print_synopsis(const char *usage) {
    const char *end = strstr(usage, "\n\n");
    fprintf(stderr, "%.*s\n", end ? (int)(end - usage) : (int)strcspn(usage, "\n"), usage);
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, ...) {
    fprintf(stderr, "xraycls %s: ", cmd);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_synopsis(usage);
    fprintf(stderr, "Try 'xraycls %s --help'.\n", cmd);
    return XC_EXIT_USAGE;
}

int cli_opt_error(const char *cmd, const char *usage) { return cli_usage_error(cmd, usage, "%s", xc_error()); }

int cli_help(const char *usage) {
    fputs(usage, stdout);
    return fflush(stdout) == 0 ? XC_EXIT_OK : cli_fail("cannot write the help: %s", strerror(errno));
}

int cli_is_tty(void) { return isatty(STDERR_FILENO); }
