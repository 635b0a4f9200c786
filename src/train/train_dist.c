/* train_dist.c — data-parallel training (see train_internal.h and docs/DISTRIBUTED.md): joining
 * the process group the launcher set up, making every rank start from rank 0's weights, the
 * share of a global batch each rank trains on, and agreeing on failures and stops so that no
 * rank waits on a collective that another rank will never join.
 *
 * The model: every rank draws the same epoch from the same seeded sampler and takes a slice of
 * each global batch (data.batch_size); the loss of a slice is weighted by its share so that the
 * averaged gradient equals the gradient of the whole batch's mean loss; gradients are averaged
 * in buckets (overlapped with backward); every rank then takes the same Adam step. State is
 * therefore global and identical on every rank: a checkpoint written by rank 0 resumes at any
 * world size. */
#define _POSIX_C_SOURCE 200809L
#include "train_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *getenv_c(const char *name) { return getenv(name); }

int tr_dist_open(run *r) {
    xc_dist_env env;
    if (xc_dist_env_read(&env, getenv_c) < 0) return xc_errorf("distributed launch: %s", xc_error());
    r->rank = env.rank;
    r->world = env.world;
    r->local_world = env.local_world;
    if (env.world <= 1) return 0;
    const xc_config *c = r->c;
    if (xt_device_parse(c->train.device, &r->dev) < 0) return xc_errorf("train.device: %s", xc_error());
    if (r->dev >= 0) {
        /* One GPU per process: the local rank picks it. */
        int n = xt_cuda_device_count();
        if (env.local_rank >= n)
            return xc_errorf("rank %d: LOCAL_RANK %d but this node has %d CUDA device%s", env.rank,
                             env.local_rank, n, n == 1 ? "" : "s");
        r->dev = env.local_rank;
    }
    r->dev_fixed = 1;
    static const char *const backends[] = {"auto", "gloo", "nccl"};
    xt_dist_opts o = {env.rank, env.world, env.addr, env.port,
                      backends[c->train.distributed.backend], c->train.distributed.timeout_s, r->dev};
    r->dist = xt_dist_init(&o);
    if (!r->dist) return xc_errorf("rank %d of %d (%s launch): %s", env.rank, env.world,
                                   xc_launch_name(env.launch), xc_error());
    int bs = c->data.batch_size;
    tr_log(r, "distributed: rank %d of %d (%s launch, rendezvous %s:%d), backend %s; global batch "
              "%d, %d to %d per rank%s%s", env.rank, env.world, xc_launch_name(env.launch), env.addr,
           env.port, xt_dist_backend(r->dist), bs, bs / env.world, (bs + env.world - 1) / env.world,
           c->train.distributed.sync_bn ? ", SyncBatchNorm" : ", batch norm per rank",
           c->train.distributed.overlap ? ", gradients overlapped with backward" : "");
    if (bs < env.world)
        return xc_errorf("data.batch_size %d is smaller than the %d ranks: every rank needs a "
                         "sample of each batch", bs, env.world);
    return 0;
}

int tr_dist_agree(run *r, int ok) {
    if (!r->dist) return ok ? 0 : -1;
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", ok ? "" : xc_error());
    double v[2] = {ok ? 0.0 : 1.0, ok || r->rank != 0 ? 0.0 : 1.0};
    if (xt_dist_sum_host(r->dist, v, 2) < 0) return -1;
    if (!ok) return xc_errorf("%s", mine);
    if (v[0] > 0)
        return xc_errorf("%s failed to start (its message says why); rank %d stops too",
                         v[1] > 0 ? "rank 0" : "another rank", r->rank);
    return 0;
}

int tr_dist_attach(run *r) {
    const xc_config *c = r->c;
    if (c->train.distributed.sync_bn) {
        if (!xt_dist_available())
            return xc_errorf("train.distributed.sync_bn: this build of xraycls has no "
                             "torch.distributed (configure with c10d's and Gloo's headers; on "
                             "Debian: libgloo-dev)");
        xc_model_set_sync_bn(r->model, r->dist, 1);
    }
    if (!r->dist) return 0;
    /* Every rank starts from rank 0's parameters and buffers (the same seed makes them equal
     * already; a broadcast makes it so whatever a rank's libtorch did). */
    int n = xc_model_state_count(r->model);
    xt_tensor **all = malloc((size_t)(n ? n : 1) * sizeof *all);
    if (!all) return xc_errorf("out of memory");
    for (int i = 0; i < n; i++) all[i] = xc_model_state_at(r->model, i)->tensor;
    int rc = xt_dist_broadcast(r->dist, all, n, 0);
    free(all);
    if (rc < 0) return -1;
    if (c->train.distributed.overlap) {
        xt_tensor *const *params;
        int np;
        if (xc_model_params(r->model, &params, &np) < 0) return -1;
        size_t bucket = (size_t)(c->train.distributed.bucket_mb * 1048576.0);
        if (xt_dist_grads_attach(r->dist, params, np, bucket) < 0) return -1;
        r->dist_hooks = 1;
    }
    return 0;
}

int tr_dist_average_grads(run *r) {
    if (!r->dist) return 0;
    if (r->dist_hooks) return xt_dist_grads_finish(r->dist);
    /* Without hooks: every gradient that exists (the same set on every rank), summed in
     * buckets after backward, then divided by the world size. */
    int n = xc_model_state_count(r->model), m = 0;
    xt_tensor **g = malloc((size_t)(n ? n : 1) * sizeof *g);
    if (!g) return xc_errorf("out of memory");
    for (int i = 0; i < n; i++) {
        const xc_model_entry *e = xc_model_state_at(r->model, i);
        xt_tensor *gi = NULL;
        if (e->is_param && xt_grad(e->tensor, &gi) == 0 && gi) g[m++] = gi;
    }
    size_t bucket = (size_t)(r->c->train.distributed.bucket_mb * 1048576.0);
    int rc = xt_dist_allreduce_sum(r->dist, g, m, bucket);
    for (int i = 0; rc == 0 && i < m; i++) rc = xt_mul_scalar_(g[i], 1.0 / r->world);
    free(g);
    return rc;
}

void tr_dist_slice(const run *r, int64_t got, int64_t *lo, int64_t *hi) {
    *lo = got * r->rank / r->world;
    *hi = got * (r->rank + 1) / r->world;
}

int tr_dist_stop(run *r, int local_stop, int *any) {
    *any = local_stop;
    if (!r->dist) return 0;
    double v = local_stop ? 1 : 0;
    if (xt_dist_sum_host(r->dist, &v, 1) < 0) return -1;
    *any = v > 0;
    return 0;
}

void tr_dist_close(run *r) {
    if (r->dist) {
        xt_dist_free(r->dist);
        r->dist = NULL;
    }
}
