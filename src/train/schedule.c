/* schedule.c — the learning rate of each epoch, as torch's schedulers stepped once per epoch. */
#include <math.h>

#include "xraycls/train.h"

double xc_schedule_lr(const xc_config *c, int epoch) {
    double lr = c->optim.lr;
    if (epoch <= 0) return lr;
    switch (c->schedule.type) {
    case XC_SCHED_STEP:
        /* StepLR multiplies the group's lr by gamma at every multiple of step_size: repeated
         * multiplication, not pow(), so the values match torch's to the last bit. */
        for (int k = 0; k < epoch / c->schedule.step_size; k++) lr *= c->schedule.gamma;
        return lr;
    case XC_SCHED_COSINE: {
        double t = (double)epoch, tmax = (double)c->train.epochs;
        if (t > tmax) t = tmax;
        return c->schedule.min_lr + (lr - c->schedule.min_lr) * (1.0 + cos(3.14159265358979323846 * t / tmax)) / 2.0;
    }
    case XC_SCHED_NONE:
        return lr;
    }
    return lr;
}
