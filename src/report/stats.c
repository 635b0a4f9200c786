/* stats.c — intervals, DeLong, curves, operating points, calibration and paired tests
 * (definitions in xraycls/stats.h and docs/METRICS.md). Pure C, no libtorch.
 *
 * Hand-written rather than taken from a library: the few special functions needed (normal
 * quantile, incomplete beta) are short, published algorithms, and GSL/Rmath would be a new
 * run-time dependency of the executable for some 100 lines. Each is checked against scipy /
 * statsmodels / scikit-learn values in tests/report/test_stats.c. */
#include "xraycls/stats.h"

#include "xraycls/rng.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- distributions ------------------------------------------------------------------------ */

double xc_normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

/* Wichura, M. J. (1988) Algorithm AS 241: The percentage points of the normal distribution.
 * Applied Statistics 37, 477–484 (PPND16). */
double xc_normal_quantile(double p) {
    if (!(p > 0)) return -INFINITY;
    if (!(p < 1)) return INFINITY;
    double q = p - 0.5, r, val;
    if (fabs(q) <= 0.425) {
        r = 0.180625 - q * q;
        return q *
               (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r + 6.7265770927008700853e4) * r +
                    4.5921953931549871457e4) * r + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r +
                 1.3314166789178437745e2) * r + 3.3871328727963666080e0) /
               (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r + 3.9307895800092710610e4) * r +
                    2.1213794301586595867e4) * r + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r +
                 4.2313330701600911252e1) * r + 1.0);
    }
    r = q < 0 ? p : 1 - p;
    r = sqrt(-log(r));
    if (r <= 5) {
        r -= 1.6;
        val = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r + 2.41780725177450611770e-1) * r +
                   1.27045825245236838258e0) * r + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r +
                4.63033784615654529590e0) * r + 1.42343711074968357734e0) /
              (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r + 1.51986665636164571966e-2) * r +
                   1.48103976427480074590e-1) * r + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r +
                2.05319162663775882187e0) * r + 1.0);
    } else {
        r -= 5;
        val = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 1.24266094738807843860e-3) * r +
                   2.65321895265761230930e-2) * r + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r +
                5.46378491116411436990e0) * r + 6.65790464350110377720e0) /
              (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r + 1.84631831751005468180e-5) * r +
                   7.86869131145613259100e-4) * r + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r +
                5.99832206555887937690e-1) * r + 1.0);
    }
    return q < 0 ? -val : val;
}

/* The continued fraction of I_x(a, b) (modified Lentz; Press et al., Numerical Recipes §6.4). */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300;
    double qab = a + b, qap = a + 1, qam = a - 1, c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15) break;
    }
    return h;
}

double xc_beta_inc(double a, double b, double x) {
    if (!(x > 0)) return 0;
    if (!(x < 1)) return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2)) return bt * beta_cf(a, b, x) / a;
    return 1 - bt * beta_cf(b, a, 1 - x) / b;
}

double xc_beta_quantile(double p, double a, double b) {
    if (!(p > 0)) return 0;
    if (!(p < 1)) return 1;
    double lo = 0, hi = 1;
    for (int it = 0; it < 200 && hi - lo > 1e-16; it++) {
        double mid = 0.5 * (lo + hi);
        if (xc_beta_inc(a, b, mid) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* ---- intervals ---------------------------------------------------------------------------- */

const char *xc_ci_method_name(xc_ci_method m) {
    switch (m) {
    case XC_CI_WILSON: return "wilson";
    case XC_CI_CLOPPER_PEARSON: return "clopper-pearson";
    case XC_CI_DELONG: return "delong";
    case XC_CI_BOOTSTRAP: return "bootstrap-percentile";
    case XC_CI_WALD_PAIRED: return "wald-paired";
    default: return "none";
    }
}

static int check_level(double level) {
    if (!(level > 0 && level < 1)) return xc_errorf("interval level %g is not in (0, 1)", level);
    return 0;
}

int xc_proportion_ci(int64_t x, int64_t n, double level, xc_ci_method method, double *lo, double *hi) {
    if (check_level(level) < 0) return -1;
    if (n == 0) return 1;
    if (n < 0 || x < 0 || x > n) return xc_errorf("proportion %lld/%lld is not a proportion", (long long)x, (long long)n);
    double alpha = 1 - level;
    if (method == XC_CI_WILSON) {
        double z = xc_normal_quantile(1 - alpha / 2), nn = (double)n, p = x / nn;
        double denom = 1 + z * z / nn;
        double center = (p + z * z / (2 * nn)) / denom;
        double half = z * sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / denom;
        *lo = x == 0 ? 0 : center - half;
        *hi = x == n ? 1 : center + half;
        return 0;
    }
    if (method == XC_CI_CLOPPER_PEARSON) {
        *lo = x == 0 ? 0 : xc_beta_quantile(alpha / 2, (double)x, (double)(n - x + 1));
        *hi = x == n ? 1 : xc_beta_quantile(1 - alpha / 2, (double)(x + 1), (double)(n - x));
        return 0;
    }
    return xc_errorf("'%s' is not an interval for proportions", xc_ci_method_name(method));
}

/* ---- DeLong (Sun & Xu 2014) ---------------------------------------------------------------- */

typedef struct {
    double v;
    int64_t i;
} keyed;

static int cmp_keyed_asc(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Midranks (1-based, ties get the mean of their ranks) of v[0..len): out[j] is v[j]'s rank.
 * tmp: len scratch entries. */
static void midranks(const double *v, int64_t len, double *out, keyed *tmp) {
    for (int64_t j = 0; j < len; j++) tmp[j] = (keyed){v[j], j};
    qsort(tmp, (size_t)len, sizeof *tmp, cmp_keyed_asc);
    for (int64_t a = 0; a < len;) {
        int64_t b = a;
        while (b < len && tmp[b].v == tmp[a].v) b++;
        double r = 0.5 * (double)(a + 1 + b); /* mean of ranks a+1 .. b */
        for (int64_t j = a; j < b; j++) out[tmp[j].i] = r;
        a = b;
    }
}

static int check_column(const float *s, int64_t stride, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++)
        if (isnan(s[i * stride])) return xc_errorf("%s: score %lld is NaN", what, (long long)i);
    return 0;
}

/* cols[r] with strides[r]. */
static int delong_impl(const float *const *cols, const int64_t *strides, int k, const uint8_t *positive, int64_t n,
                       double *auc, double *cov) {
    if (k < 1 || n < 1 || !positive) return xc_errorf("delong: no samples");
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) m += positive[i] != 0;
    int64_t nn = n - m;
    for (int r = 0; r < k; r++)
        if (check_column(cols[r], strides[r], n, "delong") < 0) return -1;
    if (m == 0 || nn == 0) return 1;
    double *z = malloc((size_t)n * sizeof *z), *tz = malloc((size_t)n * sizeof *tz);
    double *tx = malloc((size_t)m * sizeof *tx), *ty = malloc((size_t)nn * sizeof *ty);
    double *v10 = malloc((size_t)k * m * sizeof *v10), *v01 = malloc((size_t)k * nn * sizeof *v01);
    keyed *tmp = malloc((size_t)n * sizeof *tmp);
    int rc = 0;
    if (!z || !tz || !tx || !ty || !v10 || !v01 || !tmp) {
        rc = xc_errorf("delong: out of memory for %lld samples", (long long)n);
        goto done;
    }
    for (int r = 0; r < k; r++) {
        /* z: the positives first (in sample order), then the negatives. */
        int64_t a = 0, b = m;
        for (int64_t i = 0; i < n; i++) {
            double s = cols[r][i * strides[r]];
            if (positive[i]) z[a++] = s;
            else z[b++] = s;
        }
        midranks(z, m, tx, tmp);
        midranks(z + m, nn, ty, tmp);
        midranks(z, n, tz, tmp);
        double sum = 0;
        for (int64_t i = 0; i < m; i++) {
            v10[(size_t)r * m + i] = (tz[i] - tx[i]) / (double)nn;
            sum += tz[i];
        }
        for (int64_t j = 0; j < nn; j++) v01[(size_t)r * nn + j] = 1 - (tz[m + j] - ty[j]) / (double)m;
        auc[r] = (sum - (double)m * (m + 1) / 2) / ((double)m * nn);
    }
    if (cov) {
        for (int r = 0; r < k; r++)
            for (int s = r; s < k; s++) {
                double c10 = 0, c01 = 0;
                if (m > 1) {
                    for (int64_t i = 0; i < m; i++)
                        c10 += (v10[(size_t)r * m + i] - auc[r]) * (v10[(size_t)s * m + i] - auc[s]);
                    c10 /= (double)(m - 1);
                }
                if (nn > 1) {
                    for (int64_t j = 0; j < nn; j++)
                        c01 += (v01[(size_t)r * nn + j] - auc[r]) * (v01[(size_t)s * nn + j] - auc[s]);
                    c01 /= (double)(nn - 1);
                }
                cov[r * k + s] = cov[s * k + r] = c10 / (double)m + c01 / (double)nn;
            }
    }
done:
    free(z);
    free(tz);
    free(tx);
    free(ty);
    free(v10);
    free(v01);
    free(tmp);
    return rc;
}

int xc_delong(const float *const *cols, int k, int64_t stride, const uint8_t *positive, int64_t n, double *auc,
              double *cov) {
    if (!cols || k < 1 || k > 4096) return xc_errorf("delong: %d score columns", k);
    int64_t *strides = malloc((size_t)k * sizeof *strides);
    if (!strides) return xc_errorf("delong: out of memory");
    for (int r = 0; r < k; r++) strides[r] = stride;
    int rc = delong_impl(cols, strides, k, positive, n, auc, cov);
    free(strides);
    return rc;
}

int xc_delong_ci(const float *scores, int64_t stride, const uint8_t *positive, int64_t n, double level, double *auc,
                 double *se, double *lo, double *hi) {
    if (check_level(level) < 0) return -1;
    double var;
    int rc = delong_impl(&scores, &stride, 1, positive, n, auc, &var);
    if (rc != 0) return rc;
    double s = sqrt(var > 0 ? var : 0), z = xc_normal_quantile(1 - (1 - level) / 2);
    if (se) *se = s;
    *lo = fmax(0, *auc - z * s);
    *hi = fmin(1, *auc + z * s);
    return 0;
}

int xc_delong_paired(const float *a, int64_t stride_a, const float *b, int64_t stride_b, const uint8_t *positive,
                     int64_t n, double level, xc_delong_test *out) {
    if (check_level(level) < 0) return -1;
    const float *cols[2] = {a, b};
    int64_t strides[2] = {stride_a, stride_b};
    double auc[2], cov[4];
    int rc = delong_impl(cols, strides, 2, positive, n, auc, cov);
    if (rc != 0) return rc;
    memset(out, 0, sizeof *out);
    out->auc_a = auc[0];
    out->auc_b = auc[1];
    out->diff = auc[0] - auc[1];
    double var = cov[0] + cov[3] - 2 * cov[1];
    out->se = sqrt(var > 0 ? var : 0);
    double zq = xc_normal_quantile(1 - (1 - level) / 2);
    if (out->se > 0) {
        out->z = out->diff / out->se;
        out->p_value = erfc(fabs(out->z) / sqrt(2.0));
    } else {
        /* identical rankings (or no spread): no evidence either way unless the AUCs differ */
        out->z = out->diff == 0 ? 0 : copysign(INFINITY, out->diff);
        out->p_value = out->diff == 0 ? 1 : 0;
    }
    out->ci_low = out->diff - zq * out->se;
    out->ci_high = out->diff + zq * out->se;
    return 0;
}

/* ---- curves ------------------------------------------------------------------------------- */

void xc_curve_free(xc_curve *c) {
    if (!c) return;
    free(c->threshold);
    free(c->tp);
    free(c->fp);
    memset(c, 0, sizeof *c);
}

static int cmp_keyed_desc(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int xc_curve_compute(const float *scores, int64_t stride, const uint8_t *positive, int64_t n, xc_curve *c) {
    memset(c, 0, sizeof *c);
    if (!scores || !positive || n < 1) return xc_errorf("curve: no samples");
    if (check_column(scores, stride, n, "curve") < 0) return -1;
    keyed *tmp = malloc((size_t)n * sizeof *tmp);
    c->threshold = malloc(((size_t)n + 1) * sizeof *c->threshold);
    c->tp = malloc(((size_t)n + 1) * sizeof *c->tp);
    c->fp = malloc(((size_t)n + 1) * sizeof *c->fp);
    if (!tmp || !c->threshold || !c->tp || !c->fp) {
        free(tmp);
        xc_curve_free(c);
        return xc_errorf("curve: out of memory for %lld samples", (long long)n);
    }
    for (int64_t i = 0; i < n; i++) tmp[i] = (keyed){scores[i * stride], i};
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_keyed_desc);
    int64_t tp = 0, fp = 0, np = 0;
    c->threshold[0] = INFINITY;
    c->tp[0] = c->fp[0] = 0;
    np = 1;
    for (int64_t a = 0; a < n;) {
        int64_t b = a;
        while (b < n && tmp[b].v == tmp[a].v) {
            if (positive[tmp[b].i]) tp++;
            else fp++;
            b++;
        }
        c->threshold[np] = tmp[a].v;
        c->tp[np] = tp;
        c->fp[np] = fp;
        np++;
        a = b;
    }
    free(tmp);
    c->n = np;
    c->npos = tp;
    c->nneg = fp;
    return 0;
}

int xc_curve_auroc(const xc_curve *c, double *auroc) {
    if (c->npos == 0 || c->nneg == 0) return 1;
    double area = 0;
    for (int64_t i = 1; i < c->n; i++)
        area += (double)(c->fp[i] - c->fp[i - 1]) * (double)(c->tp[i] + c->tp[i - 1]) * 0.5;
    *auroc = area / ((double)c->npos * (double)c->nneg);
    return 0;
}

int xc_curve_average_precision(const xc_curve *c, double *ap) {
    if (c->npos == 0) return 1;
    double s = 0;
    for (int64_t i = 1; i < c->n; i++) {
        int64_t dtp = c->tp[i] - c->tp[i - 1];
        if (dtp) s += (double)dtp / (double)c->npos * ((double)c->tp[i] / (double)(c->tp[i] + c->fp[i]));
    }
    *ap = s;
    return 0;
}

/* ---- operating points --------------------------------------------------------------------- */

const char *xc_op_rule_name(xc_op_rule r) {
    switch (r) {
    case XC_OP_YOUDEN: return "youden";
    case XC_OP_SENSITIVITY: return "sensitivity";
    default: return "specificity";
    }
}

int xc_operating_point(const xc_curve *c, xc_op_rule rule, double target, double *threshold) {
    if (c->npos == 0 || c->nneg == 0 || c->n < 1) return 1;
    double P = (double)c->npos, N = (double)c->nneg;
    /* a count meets a rate target when count >= target·total, up to rounding of the product */
    const double eps = 1e-9;
    if (rule == XC_OP_YOUDEN) {
        int64_t best = 0;
        double bj = -INFINITY;
        for (int64_t i = 0; i < c->n; i++) {
            double j = c->tp[i] / P - c->fp[i] / N;
            if (j > bj + 1e-15) bj = j, best = i;
        }
        *threshold = c->threshold[best];
        return 0;
    }
    if (rule == XC_OP_SENSITIVITY) {
        for (int64_t i = 0; i < c->n; i++)
            if (c->tp[i] >= target * P - eps) {
                *threshold = c->threshold[i];
                return 0;
            }
        return 1;
    }
    for (int64_t i = c->n - 1; i >= 0; i--)
        if ((double)(c->nneg - c->fp[i]) >= target * N - eps) {
            *threshold = c->threshold[i];
            return 0;
        }
    return 1;
}

xc_counts xc_counts_at(const float *scores, int64_t stride, const uint8_t *positive, int64_t n, double threshold) {
    xc_counts k = {0, 0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        int called = (double)scores[i * stride] >= threshold;
        if (positive[i]) {
            if (called) k.tp++;
            else k.fn++;
        } else {
            if (called) k.fp++;
            else k.tn++;
        }
    }
    return k;
}

/* ---- calibration -------------------------------------------------------------------------- */

const char *xc_bin_scheme_name(xc_bin_scheme s) { return s == XC_BINS_EQUAL_MASS ? "equal-mass" : "equal-width"; }

void xc_reliability_free(xc_reliability *r) {
    if (!r) return;
    free(r->edge);
    free(r->count);
    free(r->mean_prob);
    free(r->frac_pos);
    memset(r, 0, sizeof *r);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int xc_reliability_compute(const float *prob, int64_t stride, const uint8_t *outcome, int64_t n, int nbins,
                           xc_bin_scheme scheme, xc_reliability *r) {
    memset(r, 0, sizeof *r);
    if (!prob || !outcome || n < 1) return xc_errorf("reliability: no samples");
    if (nbins < 1 || nbins > 1000) return xc_errorf("reliability: %d bins is not in 1..1000", nbins);
    for (int64_t i = 0; i < n; i++) {
        float p = prob[i * stride];
        if (!(p >= 0 && p <= 1)) return xc_errorf("reliability: probability %lld is %g, not in [0, 1]", (long long)i, p);
    }
    r->nbins = nbins;
    r->edge = malloc(((size_t)nbins + 1) * sizeof *r->edge);
    r->count = calloc((size_t)nbins, sizeof *r->count);
    r->mean_prob = calloc((size_t)nbins, sizeof *r->mean_prob);
    r->frac_pos = calloc((size_t)nbins, sizeof *r->frac_pos);
    double *sorted = scheme == XC_BINS_EQUAL_MASS ? malloc((size_t)n * sizeof *sorted) : NULL;
    if (!r->edge || !r->count || !r->mean_prob || !r->frac_pos || (scheme == XC_BINS_EQUAL_MASS && !sorted)) {
        free(sorted);
        xc_reliability_free(r);
        return xc_errorf("reliability: out of memory");
    }
    if (scheme == XC_BINS_EQUAL_MASS) {
        for (int64_t i = 0; i < n; i++) sorted[i] = prob[i * stride];
        qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
        for (int b = 0; b <= nbins; b++) {
            double pos = (double)b / nbins * (double)(n - 1);
            int64_t lo = (int64_t)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
            double t = pos - (double)lo;
            r->edge[b] = t == 0 ? sorted[lo] : sorted[lo] + (sorted[hi] - sorted[lo]) * t;
        }
        free(sorted);
    } else {
        for (int b = 0; b <= nbins; b++) r->edge[b] = (double)b / nbins;
    }
    double *sum_true = calloc((size_t)nbins, sizeof *sum_true);
    if (!sum_true) {
        xc_reliability_free(r);
        return xc_errorf("reliability: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        double p = prob[i * stride];
        /* the number of inner edges strictly below p (numpy's searchsorted, side "left") */
        int lo = 0, hi = nbins - 1; /* inner edges are edge[1..nbins-1] */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (r->edge[mid + 1] < p) lo = mid + 1;
            else hi = mid;
        }
        r->count[lo]++;
        r->mean_prob[lo] += p;
        sum_true[lo] += outcome[i] != 0;
    }
    r->ece = 0;
    r->mce = 0;
    for (int b = 0; b < nbins; b++) {
        if (r->count[b] == 0) {
            r->mean_prob[b] = r->frac_pos[b] = NAN;
            continue;
        }
        r->mean_prob[b] /= (double)r->count[b];
        r->frac_pos[b] = sum_true[b] / (double)r->count[b];
        double gap = fabs(r->frac_pos[b] - r->mean_prob[b]);
        r->ece += (double)r->count[b] / (double)n * gap;
        if (gap > r->mce) r->mce = gap;
    }
    free(sum_true);
    return 0;
}

double xc_brier(const float *prob, int64_t stride, const uint8_t *outcome, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = prob[i * stride] - (outcome[i] ? 1.0 : 0.0);
        s += d * d;
    }
    return n > 0 ? s / (double)n : NAN;
}

double xc_brier_multiclass(const float *probs, const int64_t *labels, int64_t n, int k) {
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            double d = probs[i * k + c] - (labels[i] == c ? 1.0 : 0.0);
            s += d * d;
        }
    return n > 0 ? s / (double)n : NAN;
}

double xc_softmax_nll(const float *logits, const int64_t *labels, int64_t n, int k, double temperature) {
    double s = 0, beta = 1 / temperature;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        double mx = -INFINITY;
        for (int c = 0; c < k; c++) mx = fmax(mx, beta * z[c]);
        double e = 0;
        for (int c = 0; c < k; c++) e += exp(beta * z[c] - mx);
        s += mx + log(e) - beta * z[labels[i]];
    }
    return s / (double)n;
}

/* The first and second derivatives of the mean NLL in beta = 1/T: mean(E_p[z] - z_y) and
 * mean(Var_p[z]), p = softmax(beta·z). */
static void nll_derivs(const float *logits, const int64_t *labels, int64_t n, int k, double beta, double *d1,
                       double *d2) {
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *z = logits + i * k;
        double mx = -INFINITY;
        for (int c = 0; c < k; c++) mx = fmax(mx, beta * z[c]);
        double e = 0, ez = 0, ez2 = 0;
        for (int c = 0; c < k; c++) {
            double w = exp(beta * z[c] - mx);
            e += w;
            ez += w * z[c];
            ez2 += w * (double)z[c] * z[c];
        }
        double mean = ez / e;
        s1 += mean - z[labels[i]];
        s2 += fmax(0, ez2 / e - mean * mean);
    }
    *d1 = s1 / (double)n;
    *d2 = s2 / (double)n;
}

int xc_fit_temperature(const float *logits, const int64_t *labels, int64_t n, int k, double *temperature) {
    if (!logits || !labels || n < 1 || k < 2) return xc_errorf("temperature: no samples or fewer than 2 classes");
    for (int64_t i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return xc_errorf("temperature: label %lld of sample %lld is outside [0, %d)", (long long)labels[i],
                             (long long)i, k);
        for (int c = 0; c < k; c++)
            if (!isfinite(logits[i * k + c]))
                return xc_errorf("temperature: logit (%lld, %d) is not finite", (long long)i, c);
    }
    double lo = 0.01, hi = 100, d1, d2;
    nll_derivs(logits, labels, n, k, lo, &d1, &d2);
    if (d1 >= 0) { /* the NLL rises from the smallest 1/T on: T at its upper bound */
        *temperature = 1 / lo;
        return 0;
    }
    nll_derivs(logits, labels, n, k, hi, &d1, &d2);
    if (d1 <= 0) { /* still falling at the largest 1/T: separable data, T at its lower bound */
        *temperature = 1 / hi;
        return 0;
    }
    double beta = 1;
    for (int it = 0; it < 500; it++) {
        nll_derivs(logits, labels, n, k, beta, &d1, &d2);
        if (d1 > 0) hi = beta;
        else lo = beta;
        double next = d2 > 0 ? beta - d1 / d2 : NAN;
        if (!(next > lo && next < hi)) next = 0.5 * (lo + hi); /* Newton left the bracket: bisect */
        double step = fabs(next - beta);
        beta = next;
        if (step < 1e-10 * fmax(1, beta) || hi - lo < 1e-12 * fmax(1, beta)) break;
    }
    *temperature = 1 / beta;
    return 0;
}

/* ---- paired tests ------------------------------------------------------------------------- */

int xc_mcnemar(int64_t b, int64_t c, int exact, double *statistic, double *p_value) {
    if (b < 0 || c < 0) return xc_errorf("mcnemar: negative counts %lld, %lld", (long long)b, (long long)c);
    int64_t n = b + c;
    if (n == 0) {
        *statistic = 0;
        *p_value = 1;
        return 0;
    }
    if (exact) {
        int64_t k = b < c ? b : c;
        /* P[X <= k] for X ~ Bin(n, 1/2) is I_{1/2}(n - k, k + 1) */
        double cdf = k >= n ? 1 : xc_beta_inc((double)(n - k), (double)(k + 1), 0.5);
        *statistic = (double)k;
        *p_value = fmin(1, 2 * cdf);
        return 0;
    }
    double d = fabs((double)(b - c)) - 1;
    *statistic = d * d / (double)n;
    *p_value = erfc(sqrt(*statistic / 2)); /* χ²(1) survival */
    return 0;
}

int xc_paired_difference_ci(int64_t b, int64_t c, int64_t n, double level, double *diff, double *lo, double *hi) {
    if (check_level(level) < 0) return -1;
    if (n == 0) return 1;
    if (b < 0 || c < 0 || b + c > n) return xc_errorf("paired difference: counts %lld, %lld of %lld", (long long)b,
                                                      (long long)c, (long long)n);
    double nn = (double)n, d = (double)(b - c);
    double se = sqrt(fmax(0, (double)(b + c) - d * d / nn)) / nn;
    double z = xc_normal_quantile(1 - (1 - level) / 2);
    *diff = d / nn;
    *lo = fmax(-1, *diff - z * se);
    *hi = fmin(1, *diff + z * se);
    return 0;
}

/* ---- the paired bootstrap ------------------------------------------------------------------- */

double xc_quantile_sorted(const double *a, int64_t m, double q) {
    double pos = q * (double)(m - 1);
    int64_t lo = (int64_t)floor(pos), hi = lo + 1 < m ? lo + 1 : lo;
    return a[lo] + (a[hi] - a[lo]) * (pos - (double)lo);
}

static int cmp_dbl(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int xc_paired_bootstrap(int64_t n, const int64_t *strata, int nstrata, int resamples, uint64_t seed, double level,
                        xc_paired_stat_fn *stat, void *ctx, xc_paired_boot *out) {
    if (!out || !stat || n < 1 || resamples < 1 || !(level > 0 && level < 1) || (strata && nstrata < 1))
        return xc_errorf("paired bootstrap: bad arguments");
    memset(out, 0, sizeof *out);
    out->ci_low = out->ci_high = out->p_value = NAN;
    int64_t *idx = malloc((size_t)n * sizeof *idx);
    int64_t *by = strata ? malloc((size_t)n * sizeof *by) : NULL; /* sample indices grouped by stratum */
    int64_t *start = strata ? calloc((size_t)nstrata + 1, sizeof *start) : NULL;
    double *d = malloc((size_t)resamples * sizeof *d);
    if (!idx || !d || (strata && (!by || !start))) {
        free(idx), free(by), free(start), free(d);
        return xc_errorf("paired bootstrap: out of memory for %lld samples", (long long)n);
    }
    if (strata) {
        for (int64_t i = 0; i < n; i++) {
            if (strata[i] < 0 || strata[i] >= nstrata) {
                free(idx), free(by), free(start), free(d);
                return xc_errorf("paired bootstrap: stratum %lld of sample %lld outside [0, %d)",
                                 (long long)strata[i], (long long)i, nstrata);
            }
            start[strata[i] + 1]++;
        }
        for (int s = 0; s < nstrata; s++) start[s + 1] += start[s];
        int64_t *fill = malloc((size_t)nstrata * sizeof *fill);
        if (!fill) {
            free(idx), free(by), free(start), free(d);
            return xc_errorf("paired bootstrap: out of memory");
        }
        memcpy(fill, start, (size_t)nstrata * sizeof *fill);
        for (int64_t i = 0; i < n; i++) by[fill[strata[i]]++] = i;
        free(fill);
    }
    for (int64_t i = 0; i < n; i++) idx[i] = i;
    out->a = stat(idx, n, 0, ctx);
    out->b = stat(idx, n, 1, ctx);
    out->diff = out->a - out->b;
    xc_rng rng;
    xc_rng_seed(&rng, seed);
    int m = 0;
    for (int r = 0; r < resamples; r++) {
        if (strata) {
            int64_t j = 0;
            for (int s = 0; s < nstrata; s++) {
                int64_t len = start[s + 1] - start[s];
                for (int64_t t = 0; t < len; t++) idx[j++] = by[start[s] + (int64_t)xc_rng_below(&rng, (uint64_t)len)];
            }
        } else {
            for (int64_t t = 0; t < n; t++) idx[t] = (int64_t)xc_rng_below(&rng, (uint64_t)n);
        }
        double x = stat(idx, n, 0, ctx) - stat(idx, n, 1, ctx);
        if (!isnan(x)) d[m++] = x;
    }
    out->resamples = m;
    if (m > 0) {
        qsort(d, (size_t)m, sizeof *d, cmp_dbl);
        out->ci_low = xc_quantile_sorted(d, m, (1 - level) / 2);
        out->ci_high = xc_quantile_sorted(d, m, (1 + level) / 2);
        out->degenerate = d[0] == d[m - 1];
        int64_t le = 0, ge = 0;
        for (int i = 0; i < m; i++) le += d[i] <= 0, ge += d[i] >= 0;
        double p = 2.0 * (double)(le < ge ? le : ge) / m;
        out->p_value = p < 1 ? p : 1;
    }
    free(idx), free(by), free(start), free(d);
    return 0;
}
