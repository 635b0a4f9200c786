/* test_dist_env.c — the launch environment of data-parallel training (xc_dist_env_read,
 * xc_slurm_first_host): torchrun's variables, Slurm's, hand-set ones, their defaults and the
 * refusals, from tables of variables rather than the process environment. */
#include <string.h>

#include "check.h"
#include "xraycls/dist.h"

static const char *const *vars; /* NULL-terminated "NAME=value" list */

static const char *get(const char *name) {
    size_t n = strlen(name);
    for (const char *const *v = vars; v && *v; v++)
        if (!strncmp(*v, name, n) && (*v)[n] == '=') return *v + n + 1;
    return NULL;
}

static int read_env(xc_dist_env *e, const char *const *list) {
    vars = list;
    return xc_dist_env_read(e, get);
}

int main(void) {
    xc_dist_env e;

    /* No variables: one process. */
    CHECK(read_env(&e, (const char *const[]){NULL}) == 0);
    CHECK(e.launch == XC_LAUNCH_NONE && e.world == 1 && e.rank == 0 && e.local_world == 1);

    /* torchrun */
    CHECK(read_env(&e, (const char *const[]){"RANK=3", "WORLD_SIZE=4", "LOCAL_RANK=1", "LOCAL_WORLD_SIZE=2",
                                             "MASTER_ADDR=node7", "MASTER_PORT=29400",
                                             "TORCHELASTIC_RUN_ID=abc", NULL}) == 0);
    CHECK(e.launch == XC_LAUNCH_TORCHRUN && e.rank == 3 && e.world == 4 && e.local_rank == 1 && e.local_world == 2);
    CHECK(!strcmp(e.addr, "node7") && e.port == 29400);
    CHECK(!strcmp(xc_launch_name(e.launch), "torchrun"));

    /* by hand: defaults 127.0.0.1:29500, local rank = rank */
    CHECK(read_env(&e, (const char *const[]){"RANK=1", "WORLD_SIZE=2", NULL}) == 0);
    CHECK(e.launch == XC_LAUNCH_ENV && e.rank == 1 && e.local_rank == 1 && e.local_world == 2);
    CHECK(!strcmp(e.addr, "127.0.0.1") && e.port == 29500);

    /* Slurm: first host of the node list, port from the job id */
    CHECK(read_env(&e, (const char *const[]){"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_LOCALID=1",
                                             "SLURM_JOB_NODELIST=gpu[003-004,9],cpu1",
                                             "SLURM_JOB_ID=123456", NULL}) == 0);
    CHECK(e.launch == XC_LAUNCH_SLURM && e.rank == 5 && e.world == 8 && e.local_rank == 1 && e.local_world == 8);
    CHECK_MSG(!strcmp(e.addr, "gpu003"), "addr %s", e.addr);
    CHECK(e.port == 29500 + 456);
    /* the ranks on a node from Slurm's tasks per node ("4(x2)": 4 on each of 2 nodes) */
    CHECK(read_env(&e, (const char *const[]){"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_NTASKS_PER_NODE=4(x2)",
                                             "SLURM_JOB_NODELIST=n[1-2]", NULL}) == 0);
    CHECK(e.local_world == 4);
    /* MASTER_ADDR/PORT win over Slurm's, and torchrun's RANK over SLURM_PROCID */
    CHECK(read_env(&e, (const char *const[]){"SLURM_PROCID=5", "SLURM_NTASKS=8", "SLURM_JOB_NODELIST=n1",
                                             "MASTER_ADDR=head", "MASTER_PORT=1234", NULL}) == 0);
    CHECK(!strcmp(e.addr, "head") && e.port == 1234);
    CHECK(read_env(&e, (const char *const[]){"SLURM_PROCID=5", "SLURM_NTASKS=8", "RANK=0",
                                             "WORLD_SIZE=2", NULL}) == 0);
    CHECK(e.launch == XC_LAUNCH_ENV && e.world == 2 && e.rank == 0);

    /* refusals name the variable */
    CHECK(read_env(&e, (const char *const[]){"RANK=0", NULL}) < 0);
    CHECK_CONTAINS(xc_error(), "WORLD_SIZE is not");
    CHECK(read_env(&e, (const char *const[]){"RANK=2", "WORLD_SIZE=2", NULL}) < 0);
    CHECK_CONTAINS(xc_error(), "RANK='2'");
    CHECK(read_env(&e, (const char *const[]){"RANK=x", "WORLD_SIZE=2", NULL}) < 0);
    CHECK_CONTAINS(xc_error(), "RANK='x' is not a whole number");
    CHECK(read_env(&e, (const char *const[]){"RANK=0", "WORLD_SIZE=2", "MASTER_PORT=70000", NULL}) < 0);
    CHECK_CONTAINS(xc_error(), "MASTER_PORT='70000'");
    CHECK(read_env(&e, (const char *const[]){"SLURM_PROCID=0", "SLURM_NTASKS=2", NULL}) < 0);
    CHECK_CONTAINS(xc_error(), "SLURM_JOB_NODELIST");

    /* node lists */
    char h[64];
    CHECK(xc_slurm_first_host("a1", h, sizeof h) == 0 && !strcmp(h, "a1"));
    CHECK(xc_slurm_first_host("a1,b2", h, sizeof h) == 0 && !strcmp(h, "a1"));
    CHECK(xc_slurm_first_host("node[007-9]", h, sizeof h) == 0 && !strcmp(h, "node007"));
    CHECK(xc_slurm_first_host("x[", h, sizeof h) < 0);
    CHECK(xc_slurm_first_host("x[1-2", h, sizeof h) < 0);
    CHECK(xc_slurm_first_host("", h, sizeof h) < 0);
    CHECK(xc_slurm_first_host("averyveryverylonghostname", h, 8) < 0);
    return check_done("test_dist_env");
}
