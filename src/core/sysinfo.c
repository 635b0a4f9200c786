/* sysinfo.c — CPUs this process may use and its peak memory (xraycls/sysinfo.h).
 *
 * The CPU count sizes libtorch's intra-op pool and the decoding pools: a container limited to
 * 2 CPUs by a quota on a 64-core host must not start 64 threads (they would take turns at the
 * quota), and `taskset -c 0` must give 1. */
#define _GNU_SOURCE
#include "xraycls/sysinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* A small text file (/proc, /sys: up to 64 KiB), or NULL. Not xc_read_file: a missing cgroup
 * file is the normal case and must not replace a message the caller has pending. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char *buf = malloc(65536);
    size_t n = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* Quota of one cgroup folder in CPUs (0 when unlimited or unreadable). v2 "max 100000" /
 * "200000 100000"; v1 quota -1 / a quota and a period in microseconds. */
static double quota_at(const char *dir, int v2) {
    char path[4096];
    double q = 0, per = 0;
    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        char *t = slurp(path);
        if (!t) return 0;
        char max[32] = "";
        if (sscanf(t, "%31s %lf", max, &per) == 2 && strcmp(max, "max")) q = strtod(max, NULL);
        free(t);
    } else {
        snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
        char *t = slurp(path);
        if (!t) return 0;
        q = strtod(t, NULL);
        free(t);
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (!(t = slurp(path))) return 0;
        per = strtod(t, NULL);
        free(t);
    }
    return q > 0 && per > 0 ? q / per : 0;
}

/* The tightest quota from dir up to root (dir is root + a cgroup path). */
static double quota_up(const char *root, const char *cg, int v2) {
    char dir[4096];
    double best = 0;
    snprintf(dir, sizeof dir, "%s%s", root, cg);
    size_t rootlen = strlen(root);
    for (;;) {
        size_t len = strlen(dir);
        while (len > rootlen && dir[len - 1] == '/') dir[--len] = 0;
        double q = quota_at(dir, v2);
        if (q > 0 && (best == 0 || q < best)) best = q;
        char *slash = strrchr(dir, '/');
        if (len <= rootlen || !slash || (size_t)(slash - dir) < rootlen) break;
        *slash = 0;
    }
    return best;
}

int xc_cgroup_cpu_limit(const char *proc_cgroup, const char *cgroup_root) {
    if (!proc_cgroup || !cgroup_root) return 0;
    double best = 0;
    const char *line = proc_cgroup;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[4096];
        if (len < sizeof buf) {
            memcpy(buf, line, len);
            buf[len] = 0;
            /* "hierarchy-id:controllers:path"; v2 is "0::path" */
            char *c1 = strchr(buf, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c1 && c2) {
                *c2 = 0;
                const char *ctrls = c1 + 1, *path = c2 + 1;
                double q = 0;
                if (!*ctrls) {
                    char root[4096];
                    /* v2 sits at the root, or at unified/ next to v1 hierarchies */
                    q = quota_up(cgroup_root, path, 1);
                    snprintf(root, sizeof root, "%s/unified", cgroup_root);
                    double u = quota_up(root, path, 1);
                    if (u > 0 && (q == 0 || u < q)) q = u;
                } else {
                    char tmp[256];
                    snprintf(tmp, sizeof tmp, "%s", ctrls);
                    int has_cpu = 0;
                    for (char *tok = strtok(tmp, ","); tok; tok = strtok(NULL, ","))
                        has_cpu |= !strcmp(tok, "cpu");
                    if (has_cpu) {
                        char root[4096];
                        snprintf(root, sizeof root, "%s/%s", cgroup_root, ctrls);
                        q = quota_up(root, path, 0);
                    }
                }
                if (q > 0 && (best == 0 || q < best)) best = q;
            }
        }
        if (!end) break;
        line = end + 1;
    }
    if (best <= 0) return 0;
    int n = (int)ceil(best - 1e-9);
    return n < 1 ? 1 : n;
}

int xc_cpu_count(void) {
    int n = 0;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    if (n <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        n = online > 0 ? (int)online : 1;
    }
    char *cg = slurp("/proc/self/cgroup");
    int q = cg ? xc_cgroup_cpu_limit(cg, "/sys/fs/cgroup") : 0;
    free(cg);
    if (q > 0 && q < n) n = q;
    return n;
}

#define XC_THREADS_MAX 1024

int xc_threads_resolve(int option, int config, const char **source) {
    const char *src = "usable CPUs";
    int n;
    const char *env = getenv("OMP_NUM_THREADS");
    if (option > 0) {
        n = option, src = "--threads";
    } else if (env) {
        /* OpenMP's list form "4,2" gives the outer level first; leading and trailing blanks
         * are allowed, anything else is refused rather than silently replaced. */
        const char *p = env;
        while (*p == ' ' || *p == '\t') p++;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        while (*end == ' ' || *end == '\t') end++;
        if (p[0] < '0' || p[0] > '9' || errno || v < 1 || (*end && *end != ','))
            return xc_errorf("OMP_NUM_THREADS='%s' is not a number of threads (a whole number >= 1)", env);
        n = v > XC_THREADS_MAX ? XC_THREADS_MAX : (int)v, src = "OMP_NUM_THREADS";
    } else if (config > 0) {
        n = config, src = "train.threads";
    } else {
        n = xc_cpu_count();
    }
    if (n > XC_THREADS_MAX) n = XC_THREADS_MAX;
    if (source) *source = src;
    return n;
}

int64_t xc_peak_rss(void) {
    char *t = slurp("/proc/self/status");
    if (!t) return xc_errorf_errno("cannot read the peak memory: '/proc/self/status'"), -1;
    const char *p = strstr(t, "VmHWM:");
    long long kb = -1;
    if (p) sscanf(p + 6, "%lld", &kb);
    free(t);
    if (kb < 0) return xc_errorf("cannot read the peak memory: no VmHWM in '/proc/self/status'"), -1;
    return (int64_t)kb * 1024;
}

int xc_peak_rss_reset(void) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd < 0) return xc_errorf_errno("cannot reset the peak memory: '/proc/self/clear_refs'");
    ssize_t w = write(fd, "5", 1);
    int err = errno;
    close(fd);
    errno = err;
    if (w != 1) return xc_errorf_errno("cannot reset the peak memory: '/proc/self/clear_refs'");
    return 0;
}
