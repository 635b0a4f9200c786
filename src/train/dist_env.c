/* dist_env.c — which process of which data-parallel job this is (xraycls/dist.h): the
 * variables torchrun, Slurm's srun or a user set, read into rank, world size, local rank and the
 * rendezvous address. Pure C; the process group itself is the shim's (src/shim/dist.cpp). */
#define _POSIX_C_SOURCE 200809L
#include "xraycls/dist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xraycls/parse.h"

const char *xc_launch_name(xc_launch l) {
    switch (l) {
    case XC_LAUNCH_TORCHRUN: return "torchrun";
    case XC_LAUNCH_SLURM: return "slurm";
    case XC_LAUNCH_ENV: return "environment";
    default: return "none";
    }
}

/* A whole number in [lo, hi] from variable `name`; -1 with a message naming it. */
static int env_int(const char *(*get)(const char *), const char *name, long lo, long hi, int *out) {
    const char *s = get(name);
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || errno || *end || v < lo || v > hi)
        return xc_errorf("environment variable %s='%s' is not a whole number in [%ld, %ld]", name,
                         s ? s : "", lo, hi);
    *out = (int)v;
    return 0;
}

int xc_slurm_first_host(const char *list, char *out, size_t cap) {
    /* Slurm's compressed host lists: "a1,b[2-4,7],c" → "a1". Only the first entry matters: its
     * prefix, and the first number of its bracket (zero padding kept: "n[007-9]" → "n007"). */
    if (!list || !*list) return xc_errorf("SLURM_JOB_NODELIST is empty");
    size_t i = 0, o = 0;
    while (list[i] && list[i] != ',' && list[i] != '[') {
        if (o + 1 >= cap) return xc_errorf("SLURM_JOB_NODELIST: host name too long");
        out[o++] = list[i++];
    }
    if (list[i] == '[') {
        i++;
        if (!isdigit((unsigned char)list[i]))
            return xc_errorf("SLURM_JOB_NODELIST '%s': cannot read the range after '['", list);
        while (isdigit((unsigned char)list[i])) {
            if (o + 1 >= cap) return xc_errorf("SLURM_JOB_NODELIST: host name too long");
            out[o++] = list[i++];
        }
        if (!strchr(list + i, ']'))
            return xc_errorf("SLURM_JOB_NODELIST '%s': '[' without ']'", list);
    }
    if (o == 0) return xc_errorf("SLURM_JOB_NODELIST '%s' has no host name", list);
    out[o] = '\0';
    return 0;
}

/* The ranks on this node (xc_dist_env.local_world): LOCAL_WORLD_SIZE, else the leading number
 * of SLURM_NTASKS_PER_NODE ("2" or "2(x3)"), else the world. */
static int local_world(const char *(*get)(const char *), int world) {
    long long v;
    const char *l = get("LOCAL_WORLD_SIZE");
    if (l && xc_parse_ll(l, 1, world, &v) == 0) return (int)v;
    const char *s = get("SLURM_NTASKS_PER_NODE");
    if (s) {
        char num[16];
        size_t n = strspn(s, "0123456789");
        if (n > 0 && n < sizeof num) {
            memcpy(num, s, n);
            num[n] = '\0';
            if (xc_parse_ll(num, 1, world, &v) == 0) return (int)v;
        }
    }
    return world;
}

int xc_dist_env_read(xc_dist_env *e, const char *(*get)(const char *)) {
    memset(e, 0, sizeof *e);
    e->world = 1;
    e->port = 29500;
    snprintf(e->addr, sizeof e->addr, "127.0.0.1");
    const char *rank = get("RANK"), *world = get("WORLD_SIZE");
    if (rank || world) {
        if (!rank || !world)
            return xc_errorf("%s is set but %s is not: a data-parallel launch needs both",
                             rank ? "RANK" : "WORLD_SIZE", rank ? "WORLD_SIZE" : "RANK");
        e->launch = get("TORCHELASTIC_RUN_ID") || get("LOCAL_WORLD_SIZE") ? XC_LAUNCH_TORCHRUN
                                                                           : XC_LAUNCH_ENV;
        if (env_int(get, "WORLD_SIZE", 1, 1 << 20, &e->world) < 0 ||
            env_int(get, "RANK", 0, e->world - 1, &e->rank) < 0)
            return -1;
        e->local_rank = e->rank;
        if (get("LOCAL_RANK") && env_int(get, "LOCAL_RANK", 0, e->world - 1, &e->local_rank) < 0)
            return -1;
    } else if (get("SLURM_PROCID") && get("SLURM_NTASKS")) {
        e->launch = XC_LAUNCH_SLURM;
        if (env_int(get, "SLURM_NTASKS", 1, 1 << 20, &e->world) < 0 ||
            env_int(get, "SLURM_PROCID", 0, e->world - 1, &e->rank) < 0)
            return -1;
        e->local_rank = 0;
        if (get("SLURM_LOCALID") && env_int(get, "SLURM_LOCALID", 0, e->world - 1, &e->local_rank) < 0)
            return -1;
        const char *nodes = get("SLURM_JOB_NODELIST") ? get("SLURM_JOB_NODELIST") : get("SLURM_NODELIST");
        if (!get("MASTER_ADDR")) {
            if (!nodes) return xc_errorf("Slurm launch without SLURM_JOB_NODELIST or MASTER_ADDR");
            if (xc_slurm_first_host(nodes, e->addr, sizeof e->addr) < 0) return -1;
        }
        int job = 0;
        if (!get("MASTER_PORT") && get("SLURM_JOB_ID") &&
            env_int(get, "SLURM_JOB_ID", 0, 2147483647, &job) == 0)
            e->port = 29500 + job % 1000;
    } else {
        e->local_world = 1;
        return 0; /* one process */
    }
    e->local_world = local_world(get, e->world);
    const char *addr = get("MASTER_ADDR");
    if (addr) {
        if (!*addr || strlen(addr) >= sizeof e->addr)
            return xc_errorf("environment variable MASTER_ADDR='%s' is not a host name", addr);
        snprintf(e->addr, sizeof e->addr, "%s", addr);
    }
    if (get("MASTER_PORT") && env_int(get, "MASTER_PORT", 1, 65535, &e->port) < 0) return -1;
    return 0;
}
