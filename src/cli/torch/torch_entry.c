/* torch_entry.c — the two exports of libxraycls_torch.so: the commands that use libtorch (and the
 * libtorch parts of local commands, XC_TORCH_PARTS), and the libtorch half of --version.
 *
 * main.c loads this library only when it needs it, so that prepare, info, table and --help do
 * not pay for loading libtorch (hundreds of shared libraries and their static initialisers,
 * most of a second). Everything else in the library is hidden (C_VISIBILITY_PRESET hidden,
 * --exclude-libs), so its copies of the static libraries never meet the executable's. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "xraycls/dist.h"
#include "xraycls/shim.h"

#define CLI_EXPORT __attribute__((visibility("default")))

/* Declared through cli.h's types, so that main.c's calls and these definitions cannot drift. */
CLI_EXPORT cli_torch_cmd_fn xraycls_torch_cmd;
CLI_EXPORT cli_torch_version_fn xraycls_torch_version;

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
#define LOCAL(name, summary)
#define TORCH(name, summary) {#name, cmd_##name},
#define PART(name) {#name, cmd_##name##_torch},
    XC_COMMANDS(LOCAL, TORCH) XC_TORCH_PARTS(PART)
#undef LOCAL
#undef TORCH
#undef PART
};

CLI_EXPORT int xraycls_torch_cmd(const char *name, int argc, char **argv) {
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].fn(argc, argv);
    /* Only a library from another build of xraycls gets here. */
    return cli_fail("%s has no command '%s'", CLI_TORCH_LIB, name);
}

CLI_EXPORT int xraycls_torch_version(void) {
    printf("libtorch %s\n", xt_torch_version());
    printf("distributed: %s\n", xt_dist_backends());
    int n = xt_cuda_available() ? xt_cuda_device_count() : 0;
    if (n <= 0) {
        printf("CUDA: not available\n");
    } else {
        printf("CUDA: available, %d device%s\n", n, n == 1 ? "" : "s");
        for (int i = 0; i < n; i++) {
            char name[256];
            if (xt_cuda_device_name(i, name, sizeof name) == 0) printf("  cuda:%d %s\n", i, name);
        }
    }
    return XC_EXIT_OK;
}
