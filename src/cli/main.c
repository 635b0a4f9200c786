/* main.c — `xraycls <command> [options]`: dispatch over the command list (commands.h), --help
 * and --version.
 *
 * One function per command, each in src/cli/cmd_<name>.c; this file only dispatches. The
 * commands that use libtorch are in libxraycls_torch.so (torch_entry.c), loaded here on first
 * use: the executable itself does not link libtorch, whose loading alone takes most of a second,
 * so prepare, info, table, --help and usage errors start at once. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "xraycls/opt.h"
#include "xraycls/plot.h"
#include "xraycls/tensorboard.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv); /* NULL: a command of libxraycls_torch.so */
    const char *summary;
};

#define LOCAL(name, summary) {#name, cmd_##name, summary},
#define TORCH(name, summary) {#name, NULL, summary},
static const struct command commands[] = {XC_COMMANDS(LOCAL, TORCH)};
#undef LOCAL
#undef TORCH

#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static void print_usage(FILE *out) {
    fprintf(out, "usage: xraycls <command> [options]\n"
                 "       xraycls --help | --version\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'xraycls <command> --help' describes a command's options.\n");
}

/* The folder of the running executable, so that the library is found wherever the pair is
 * (the build folder, an install prefix) whatever the current directory or PATH. */
static int exe_dir(char *dir, size_t cap) {
    ssize_t n = readlink("/proc/self/exe", dir, cap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "xraycls: cannot find the executable's folder (/proc/self/exe): %s\n",
                n < 0 ? strerror(errno) : "path too long");
        return -1;
    }
    dir[n] = '\0';
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0'; /* "/xraycls" leaves "", and "" + "/lib…" is still right */
    return 0;
}

/* libxraycls_torch.so, loaded once: beside the executable (the build folder), else in
 * ../lib/xraycls/ (the install layout of CMakeLists.txt). Never unloaded: libtorch does not
 * unload cleanly, and the process ends soon after the command anyway. NULL after printing why. */
static void *torch_lib(void) {
    static void *lib;
    if (lib) return lib;
    char dir[PATH_MAX], beside[PATH_MAX + 64], installed[PATH_MAX + 64];
    if (exe_dir(dir, sizeof dir) < 0) return NULL;
    snprintf(beside, sizeof beside, "%s/%s", dir, CLI_TORCH_LIB);
    snprintf(installed, sizeof installed, "%s/../lib/xraycls/%s", dir, CLI_TORCH_LIB);
    int use_beside = access(beside, F_OK) == 0;
    lib = dlopen(use_beside ? beside : installed, RTLD_NOW | RTLD_LOCAL);
    if (!lib && use_beside)
        fprintf(stderr, "xraycls: cannot load the libtorch commands from '%s': %s\n", beside, dlerror());
    else if (!lib)
        fprintf(stderr, "xraycls: cannot load the libtorch commands from '%s' or '%s': %s\n", beside,
                installed, dlerror());
    return lib;
}

/* An export of the library (cli.h), or NULL after printing why. */
static void *torch_symbol(const char *name) {
    void *lib = torch_lib();
    if (!lib) return NULL;
    void *sym = dlsym(lib, name);
    if (!sym) fprintf(stderr, "xraycls: %s lacks %s: %s\n", CLI_TORCH_LIB, name, dlerror());
    return sym;
}

int cli_torch_run(const char *name, int argc, char **argv) {
    cli_torch_cmd_fn *fn = (cli_torch_cmd_fn *)torch_symbol(CLI_TORCH_CMD);
    return fn ? fn(name, argc, argv) : XC_EXIT_FAIL;
}

/* Our version first, so that it shows even when the library cannot be loaded. */
static int print_version(void) {
    printf("xraycls %s\n", XRAYCLS_VERSION);
    printf("TensorBoard event files: %s\n", xc_tb_available() ? "yes" : "no (built without protobuf-c)");
    printf("figures: %s\n", xc_plot_available() ? "png, svg, pdf (cairo)" : "no (built without cairo)");
    fflush(stdout);
    cli_torch_version_fn *fn = (cli_torch_version_fn *)torch_symbol(CLI_TORCH_VERSION);
    return fn ? fn() : XC_EXIT_FAIL;
}

/* A training step allocates and frees the same large activation and gradient buffers every
 * step. glibc's defaults serve blocks above a (slowly adapting) threshold with fresh mmaps and
 * return freed heap tops to the kernel, so each step pays page faults to zero the same memory
 * again (measured: ResNet-50 training on 2 CPU threads about 15% slower). Keep such blocks in the
 * heap and keep the heap: the process holds its peak memory until it exits. */
static void tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024); /* glibc's maximum on 64-bit */
    mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
}

int main(int argc, char **argv) {
    tune_malloc();
    if (argc < 2) {
        print_usage(stderr);
        return XC_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        print_usage(stdout);
        return XC_EXIT_OK;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) return print_version();
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(cmd, commands[i].name)) continue;
        if (!commands[i].fn) return cli_torch_run(cmd, argc - 1, argv + 1);
        return commands[i].fn(argc - 1, argv + 1);
    }
    xc_suggest s;
    xc_suggest_init(&s, cmd);
    for (int i = 0; i < NCOMMANDS; i++) xc_suggest_add(&s, commands[i].name);
    if (xc_suggest_best(&s)) fprintf(stderr, "xraycls: unknown command '%s' (did you mean '%s'?)\n", cmd, xc_suggest_best(&s));
    else fprintf(stderr, "xraycls: unknown command '%s'\n", cmd);
    fprintf(stderr, "usage: xraycls <command> [options]\nTry 'xraycls --help'.\n");
    return XC_EXIT_USAGE;
}
