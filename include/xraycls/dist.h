/* xraycls/dist.h — data-parallel training across processes: the part of the shim over
 * torch.distributed's c10d (src/shim/dist.cpp), and the launch environment (src/train/dist_env.c).
 *
 * What it is: a process group (Gloo on CPU, NCCL on CUDA builds) joined through a TCPStore
 * rendezvous, and the few collectives training needs — bucketed gradient averaging (optionally
 * overlapped with the backward pass through gradient hooks), broadcast of parameters and
 * buffers, sums of small host vectors, a barrier, and a differentiable all-reduce for
 * SyncBatchNorm. What it is not: a transport of its own (c10d does the communication) or a
 * launcher (torchrun, Slurm's srun, or a shell start the processes; xc_dist_env reads what they
 * set).
 *
 * Failure: as the rest of the shim — NULL or -1 with the message in xc_error(). A collective
 * that fails because a peer died or did not answer within the group's timeout fails with a
 * message naming the peers known to be gone (same host: by pid) and libtorch's reason; it never
 * blocks longer than the timeout.
 *
 * Builds without c10d (a libtorch without its distributed headers, or no Gloo headers) have
 * every xt_dist_ function fail with a message saying so; xt_dist_available() tells before. */
#ifndef XRAYCLS_DIST_H
#define XRAYCLS_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "xraycls/error.h"
#include "xraycls/shim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the launch environment (torch-free: src/train/dist_env.c) ---------------------------- */

typedef enum {
    XC_LAUNCH_NONE = 0, /* one process */
    XC_LAUNCH_TORCHRUN, /* RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (and TORCHELASTIC_*) */
    XC_LAUNCH_SLURM,    /* SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_JOB_NODELIST */
    XC_LAUNCH_ENV,      /* RANK and WORLD_SIZE set by hand (MASTER_ADDR/PORT default below) */
} xc_launch;

typedef struct {
    xc_launch launch;
    int rank, world, local_rank;
    int local_world; /* ranks on this node: LOCAL_WORLD_SIZE (torchrun), SLURM_NTASKS_PER_NODE,
                        else the world (a launch by hand is taken as one node) */
    char addr[256]; /* the rendezvous host (rank 0's TCPStore) */
    int port;
} xc_dist_env;

/* Reads the launch environment of this process from `getenv_fn` (getenv in the program; a
 * table in tests). torchrun's and hand-set variables win over Slurm's, so that torchrun inside
 * an allocation works. Defaults: MASTER_ADDR 127.0.0.1 (Slurm: the first host of
 * SLURM_JOB_NODELIST), MASTER_PORT 29500 (Slurm: 29500 + SLURM_JOB_ID % 1000, so two jobs on
 * one node do not collide). 0, or -1 with a message naming the variable that is wrong
 * (RANK outside [0, WORLD_SIZE), a port outside 1..65535, an unparsable node list, …). */
int xc_dist_env_read(xc_dist_env *env, const char *(*getenv_fn)(const char *name));
/* "torchrun", "slurm", "environment" or "none". */
const char *xc_launch_name(xc_launch l);
/* The first host of a Slurm node list ("node[03-05,9],gpu1" → "node03"). 0, or -1. */
int xc_slurm_first_host(const char *nodelist, char *out, size_t cap);

/* ---- the process group (src/shim/dist.cpp) ------------------------------------------------ */

typedef struct xt_dist xt_dist;

typedef struct {
    int rank, world;
    const char *addr; /* rendezvous host */
    int port;
    const char *backend; /* "auto" (NCCL when dev is CUDA, else Gloo), "gloo", "nccl" */
    double timeout_s;    /* rendezvous and every collective */
    xt_device dev;       /* this rank's device */
} xt_dist_opts;

/* 1 when this build has c10d (Gloo), else 0. */
int xt_dist_available(void);
/* The backends of this build: "gloo", "gloo, nccl" or "none". Static string. */
const char *xt_dist_backends(void);
/* Joins the group (rank 0 serves the store); returns when all `world` ranks have joined or
 * fails after timeout_s. The caller owns the result (xt_dist_free). */
xt_dist *xt_dist_init(const xt_dist_opts *o);
void xt_dist_free(xt_dist *d); /* accepts NULL */
int xt_dist_rank(const xt_dist *d);
int xt_dist_world(const xt_dist *d);
/* "gloo" or "nccl". */
const char *xt_dist_backend(const xt_dist *d);

/* Sums tensors in place across ranks, packed into buckets of about bucket_bytes so that many
 * small tensors cost few collectives. All ranks pass the same tensors in the same order. */
int xt_dist_allreduce_sum(xt_dist *d, xt_tensor *const *ts, int n, size_t bucket_bytes);
/* Replaces the tensors with rank `root`'s, in place. */
int xt_dist_broadcast(xt_dist *d, xt_tensor *const *ts, int n, int root);
/* Sums a host vector of doubles across ranks, in place (step statistics, stop flags). */
int xt_dist_sum_host(xt_dist *d, double *v, int n);
int xt_dist_barrier(xt_dist *d);
/* Seconds this rank has spent waiting on collectives since the group was made. */
double xt_dist_wait_seconds(const xt_dist *d);

/* Gradient averaging overlapped with the backward pass. xt_dist_grads_attach registers a hook
 * on each of the n parameters (borrowed; they must outlive d), packed in reverse order (the
 * order backward produces them) into buckets of about bucket_bytes; a bucket's all-reduce
 * starts as soon as its gradients and those of every earlier bucket are ready.
 * xt_dist_grads_finish, after xt_backward, starts what is left, waits for everything and
 * writes each parameter's gradient averaged over the ranks (parameters that got no gradient
 * this step, e.g. frozen ones, keep none). Once attached, every backward pass must be followed
 * by xt_dist_grads_finish on every rank. */
int xt_dist_grads_attach(xt_dist *d, xt_tensor *const *params, int n, size_t bucket_bytes);
int xt_dist_grads_finish(xt_dist *d);

/* Batch normalisation over the union of all ranks' batches (SyncBatchNorm), training mode:
 * x (N, C, H, W); weight, bias, running_mean, running_var (C). The statistics are summed across
 * ranks by a differentiable all-reduce, so gradients flow as in one process with the whole
 * batch; the running statistics are updated in place with the global mean and unbiased
 * variance. d may be NULL (one process): the same arithmetic without communication, so that one
 * process and several compute alike. Result in the current arena. */
xt_tensor *xt_sync_batch_norm(xt_dist *d, const xt_tensor *x, const xt_tensor *weight,
                              const xt_tensor *bias, xt_tensor *running_mean,
                              xt_tensor *running_var, double momentum, double eps);

#ifdef __cplusplus
}
#endif
#endif
