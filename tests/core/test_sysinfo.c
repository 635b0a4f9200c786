/* test_sysinfo.c — the CPU quota read from cgroup files (v2 cpu.max, v1 cfs quota/period,
 * the tightest along the path, "max" and -1 as no quota) on file trees made here, the CPU count
 * against the affinity mask, and the peak RSS: it grows by a touched allocation and a reset
 * brings it back down; the thread count's order of precedence (option, OMP_NUM_THREADS,
 * config, usable CPUs) and its malformed variables. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

#include "check.h"
#include "xraycls/fs.h"
#include "xraycls/sysinfo.h"

static char root[1024];

static void put(const char *rel, const char *text) {
    char path[4096], dir[4096];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    CHECK(xc_mkdir_p(dir) == 0);
    CHECK(xc_write_file_atomic(path, text, strlen(text)) == 0);
}

int main(void) {
    const char *tmp = getenv("XRAYCLS_TMP");
    snprintf(root, sizeof root, "%s/cg", tmp ? tmp : "/tmp");

    /* v2: 1.5 CPUs at the process's cgroup, 4 above it → 2 (rounded up) */
    put("v2/cpu.max", "max 100000\n");
    put("v2/a/cpu.max", "400000 100000\n");
    put("v2/a/b/cpu.max", "150000 100000\n");
    char r2[4096];
    snprintf(r2, sizeof r2, "%s/v2", root);
    CHECK(xc_cgroup_cpu_limit("0::/a/b\n", r2) == 2);
    CHECK(xc_cgroup_cpu_limit("0::/a\n", r2) == 4);
    CHECK(xc_cgroup_cpu_limit("0::/\n", r2) == 0);       /* "max": none */
    CHECK(xc_cgroup_cpu_limit("0::/missing\n", r2) == 0); /* nothing readable up to a "max" root */
    /* a parent tighter than the child wins */
    put("v2/p/cpu.max", "100000 100000\n");
    put("v2/p/c/cpu.max", "800000 100000\n");
    CHECK(xc_cgroup_cpu_limit("0::/p/c", r2) == 1);

    /* v1: a "cpu,cpuacct" hierarchy, quota 250000 per 100000 → 3; -1 → none */
    put("v1/cpu,cpuacct/job/cpu.cfs_quota_us", "250000\n");
    put("v1/cpu,cpuacct/job/cpu.cfs_period_us", "100000\n");
    put("v1/cpu,cpuacct/free/cpu.cfs_quota_us", "-1\n");
    put("v1/cpu,cpuacct/free/cpu.cfs_period_us", "100000\n");
    char r1[4096];
    snprintf(r1, sizeof r1, "%s/v1", root);
    CHECK(xc_cgroup_cpu_limit("4:memory:/x\n3:cpu,cpuacct:/job\n0::/\n", r1) == 3);
    CHECK(xc_cgroup_cpu_limit("3:cpu,cpuacct:/free\n", r1) == 0);
    CHECK(xc_cgroup_cpu_limit("3:cpuacct,cpuset:/job\n", r1) == 0); /* no cpu controller */
    CHECK(xc_cgroup_cpu_limit("garbage", r1) == 0);
    CHECK(xc_cgroup_cpu_limit("", r1) == 0);

    /* affinity: never more than the mask */
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof set, &set) == 0);
    int n = xc_cpu_count();
    CHECK(n >= 1 && n <= CPU_COUNT(&set));

    /* threads: --threads, then OMP_NUM_THREADS, then the config key, then the usable CPUs */
    const char *src = NULL;
    unsetenv("OMP_NUM_THREADS");
    CHECK(xc_threads_resolve(0, 0, &src) == n && !strcmp(src, "usable CPUs"));
    CHECK(xc_threads_resolve(0, 3, &src) == 3 && !strcmp(src, "train.threads"));
    CHECK(xc_threads_resolve(5, 3, &src) == 5 && !strcmp(src, "--threads"));
    CHECK(xc_threads_resolve(5000, 0, &src) == 1024);
    setenv("OMP_NUM_THREADS", "7", 1);
    CHECK(xc_threads_resolve(0, 3, &src) == 7 && !strcmp(src, "OMP_NUM_THREADS"));
    CHECK(xc_threads_resolve(2, 3, &src) == 2 && !strcmp(src, "--threads"));
    setenv("OMP_NUM_THREADS", " 4,2 ", 1); /* OpenMP's nested list: the outer level */
    CHECK(xc_threads_resolve(0, 0, &src) == 4);
    const char *bad[] = {"", "0", "-2", "two", "3x", "99999999999999999999", ",4"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("OMP_NUM_THREADS", bad[i], 1);
        CHECK_MSG(xc_threads_resolve(0, 3, &src) == -1 && strstr(xc_error(), "OMP_NUM_THREADS"),
                  "'%s' accepted", bad[i]);
    }
    unsetenv("OMP_NUM_THREADS");
    /* the default follows the affinity mask: one CPU allowed, one thread */
    cpu_set_t one;
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) {
            CPU_SET(c, &one);
            break;
        }
    CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK(xc_threads_resolve(0, 0, &src) == 1 && !strcmp(src, "usable CPUs"));
    CHECK(sched_setaffinity(0, sizeof set, &set) == 0);
    CHECK(xc_threads_resolve(0, 0, &src) == n);

    /* peak RSS: +64 MB touched shows; a reset after unmapping it drops the peak (mmap, not
     * malloc: under AddressSanitizer a freed block stays resident in its quarantine) */
    int64_t p0 = xc_peak_rss();
    CHECK(p0 > 0);
    size_t big = (size_t)64 << 20;
    char *buf = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) buf = NULL;
    CHECK(buf != NULL);
    if (buf) memset(buf, 1, big);
    int64_t p1 = xc_peak_rss();
    CHECK_MSG(p1 >= p0 + (int64_t)(big * 9 / 10), "%lld vs %lld", (long long)p1, (long long)p0);
    if (buf) munmap(buf, big);
    CHECK(xc_peak_rss_reset() == 0);
    int64_t p2 = xc_peak_rss();
    CHECK_MSG(p2 < p1 - (int64_t)(big / 2), "%lld after reset vs %lld", (long long)p2, (long long)p1);
    return check_done("core_test_sysinfo");
}
