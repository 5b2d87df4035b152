/* loss.c - the critic's TD target and MSE loss, and the metric means. The
 * mirror of kernels/loss.cu. Sums run in index order in double. */
#include "cpu_common.h"
#include "ddpg/elem.h"

void cpu_td_target(Backend *be, float *y, const float *r, const float *term,
                   const float *q_next, const float *q_next2, int n, float gamma) {
    (void)be;
    for (int i = 0; i < n; i++) {
        float q = q_next2 ? min_q_elem(q_next[i], q_next2[i]) : q_next[i];
        y[i] = td_target_elem(r[i], term[i], q, gamma);
    }
}

void cpu_axpy(Backend *be, float *y, const float *x, float alpha, int n) {
    (void)be;
    for (int i = 0; i < n; i++) y[i] += alpha * x[i];
}

void cpu_mse_grad(Backend *be, float *dq, const float *q, const float *y, int n) {
    (void)be;
    float inv_n = 1.0f / (float)n;
    for (int i = 0; i < n; i++) dq[i] = mse_grad_elem(q[i], y[i], inv_n);
}

void cpu_mse_acc(Backend *be, float *acc, const float *q, const float *y, int n) {
    (void)be;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double d = (double)q[i] - (double)y[i];
        s += d * d;
    }
    *acc += (float)(s / n);
}

void cpu_mean_acc(Backend *be, float *acc, const float *x, int n, float scale) {
    (void)be;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    *acc += scale * (float)(s / n);
}
