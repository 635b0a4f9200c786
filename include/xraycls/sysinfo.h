/* xraycls/sysinfo.h — what this process may use of the machine and what it has used: the CPUs
 * it may run on (affinity mask and cgroup CPU quota) and its peak resident memory. Linux reads
 * /proc and /sys/fs/cgroup; elsewhere the fallbacks below apply. */
#ifndef XRAYCLS_SYSINFO_H
#define XRAYCLS_SYSINFO_H

#include <stdint.h>

#include "xraycls/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The CPUs this process may keep busy, at least 1: the CPUs of its affinity mask
 * (sched_getaffinity; taskset, cpuset cgroups), cut to the cgroup CPU quota rounded up
 * (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us, the tightest along the process's
 * cgroup and its parents). The online CPU count where the affinity mask is unavailable. */
int xc_cpu_count(void);

/* The quota part alone, from a given file tree: proc_cgroup is the text of /proc/self/cgroup,
 * cgroup_root the mount folder of the cgroup file systems ("/sys/fs/cgroup"). Returns the
 * quota in CPUs rounded up (>= 1), or 0 when no quota applies or nothing can be read. */
int xc_cgroup_cpu_limit(const char *proc_cgroup, const char *cgroup_root);

/* The number of compute threads a command uses (libtorch's intra-op pool, decoding pools), and
 * what decided it, in this order: `option` when > 0 (a --threads flag), else OMP_NUM_THREADS
 * when set (its first comma-separated number, as OpenMP reads it), else `config` when > 0
 * (train.threads), else xc_cpu_count() — every CPU the process may use. *source (may be NULL)
 * receives a static phrase for the log: "--threads", "OMP_NUM_THREADS", "train.threads" or
 * "usable CPUs". Values above 1024 are cut to 1024. -1 with a message naming the variable and
 * its value when OMP_NUM_THREADS is set but not a whole number >= 1. */
int xc_threads_resolve(int option, int config, const char **source);

/* Peak resident set size of this process in bytes (VmHWM of /proc/self/status), or -1 with a
 * message when it cannot be read. */
int64_t xc_peak_rss(void);
/* Resets the peak to the current resident size (writes 5 to /proc/self/clear_refs), so that
 * xc_peak_rss measures from here; -1 with a message when the kernel refuses. */
int xc_peak_rss_reset(void);

#ifdef __cplusplus
}
#endif
#endif
