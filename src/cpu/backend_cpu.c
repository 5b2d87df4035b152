/* backend_cpu.c - the reference backend: OpenBLAS GEMMs, loops over elem.h.
 * "Device" memory is host memory; every op runs to completion when called. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/elem.h"
#include "ddpg/errcheck.h"

/* ---- memory ---- */

static void *cpu_alloc(Backend *be, size_t bytes) {
    (void)be;
    /* 64-byte alignment for the SIMD kernels of OpenBLAS. */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) memset(p, 0, rounded ? rounded : 64);
    return p;
}
static void cpu_free(Backend *be, void *p) { (void)be; free(p); }
static void cpu_memcpy(Backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_sync(Backend *be) { (void)be; }
static void *cpu_host_alloc(Backend *be, size_t bytes) { return cpu_alloc(be, bytes); }

static void cpu_destroy(Backend *be) { free(be); }

/* ---- dense math ---- */

static void cpu_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc) {
    (void)be;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m,
                n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void cpu_bias_act(Backend *be, float *y, const float *b, int rows, int cols,
                         Activation act, const ActionBounds *ab) {
    (void)be;
    for (int i = 0; i < rows; i++) {
        float *row = y + (size_t)i * cols;
        switch (act) {
        case ACT_RELU:
            for (int j = 0; j < cols; j++) row[j] = relu_elem(row[j] + b[j]);
            break;
        case ACT_TANH_SCALE:
            for (int j = 0; j < cols; j++) {
                float lo = ab->low[j], hi = ab->high[j];
                row[j] = tanh_scale_elem(row[j] + b[j], 0.5f * (hi - lo), 0.5f * (hi + lo));
            }
            break;
        default:
            for (int j = 0; j < cols; j++) row[j] += b[j];
        }
    }
}

static void cpu_act_grad(Backend *be, float *dy, const float *y, int rows, int cols,
                         Activation act, const ActionBounds *ab) {
    (void)be;
    size_t n = (size_t)rows * cols;
    if (act == ACT_RELU) {
        for (size_t i = 0; i < n; i++) dy[i] *= relu_grad_elem(y[i]);
    } else if (act == ACT_TANH_SCALE) {
        for (size_t i = 0; i < n; i++) {
            int j = (int)(i % (size_t)cols);
            float lo = ab->low[j], hi = ab->high[j];
            dy[i] *= tanh_scale_grad_elem(y[i], 0.5f * (hi - lo), 0.5f * (hi + lo));
        }
    }
}

static void cpu_col_sum(Backend *be, float *db, const float *dy, int rows, int cols) {
    (void)be;
    for (int j = 0; j < cols; j++) db[j] = 0.0f;
    for (int i = 0; i < rows; i++) {
        const float *row = dy + (size_t)i * cols;
        for (int j = 0; j < cols; j++) db[j] += row[j];
    }
}

static void cpu_concat_cols(Backend *be, float *out, const float *a, int ca, const float *b,
                            int cb, int rows) {
    (void)be;
    for (int i = 0; i < rows; i++) {
        memcpy(out + (size_t)i * (ca + cb), a + (size_t)i * ca, sizeof(float) * ca);
        memcpy(out + (size_t)i * (ca + cb) + ca, b + (size_t)i * cb, sizeof(float) * cb);
    }
}

static void cpu_slice_cols(Backend *be, float *out, const float *in, int rows, int cin, int c0,
                           int cout) {
    (void)be;
    for (int i = 0; i < rows; i++)
        memcpy(out + (size_t)i * cout, in + (size_t)i * cin + c0, sizeof(float) * cout);
}

static void cpu_fill(Backend *be, float *x, float v, size_t n) {
    (void)be;
    for (size_t i = 0; i < n; i++) x[i] = v;
}

/* ---- DDPG pieces ---- */

static void cpu_td_target(Backend *be, float *y, const float *r, const float *term,
                          const float *q_next, int n, float gamma) {
    (void)be;
    for (int i = 0; i < n; i++) y[i] = td_target_elem(r[i], term[i], q_next[i], gamma);
}

static void cpu_mse_grad(Backend *be, float *dq, const float *q, const float *y, int n) {
    (void)be;
    float inv_n = 1.0f / (float)n;
    for (int i = 0; i < n; i++) dq[i] = mse_grad_elem(q[i], y[i], inv_n);
}

static void cpu_mse_acc(Backend *be, float *acc, const float *q, const float *y, int n) {
    (void)be;
    double s = 0.0;
    for (int i = 0; i < n; i++) {
        double d = (double)q[i] - (double)y[i];
        s += d * d;
    }
    *acc += (float)(s / n);
}

static void cpu_mean_acc(Backend *be, float *acc, const float *x, int n, float scale) {
    (void)be;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += x[i];
    *acc += scale * (float)(s / n);
}

static void cpu_clip_grad_norm(Backend *be, float *g, size_t n, float max_norm,
                               float *norm_acc) {
    (void)be;
    /* 16 float lanes in a fixed order (vectorizes), combined in double */
    float lane[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 16; k++) lane[k] += g[i + k] * g[i + k];
    double s = 0.0;
    for (; i < n; i++) s += (double)g[i] * g[i];
    for (int k = 0; k < 16; k++) s += lane[k];
    float norm = (float)sqrt(s);
    if (max_norm > 0.0f) {
        float c = clip_coef_elem(norm, max_norm);
        if (c < 1.0f)
            for (size_t j = 0; j < n; j++) g[j] *= c;
    }
    if (norm_acc) *norm_acc += norm;
}

static void cpu_adam(Backend *be, float *restrict p, const float *restrict g, float *restrict m,
                     float *restrict v, size_t n, AdamHyper h, int64_t *step) {
    (void)be;
    *step += 1;
    float bc1 = (float)(1.0 - pow(h.beta1, (double)*step));
    float bc2 = (float)(1.0 - pow(h.beta2, (double)*step));
    for (size_t i = 0; i < n; i++)
        adam_elem(&p[i], g[i], &m[i], &v[i], h.lr, h.beta1, h.beta2, h.eps, bc1, bc2);
}

static void cpu_polyak(Backend *be, float *restrict targ, const float *restrict src, size_t n,
                       float tau) {
    (void)be;
    for (size_t i = 0; i < n; i++) targ[i] = polyak_elem(targ[i], src[i], tau);
}

/* ---- randomness ---- */

static void cpu_uniform_actions(Backend *be, float *a, int n, ActionBounds ab, uint64_t seed,
                                uint64_t *ctr) {
    (void)be;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < ab.dim; d++) {
            Philox4 r = philox4x32(seed, (uint32_t)(i * ab.dim + d), RNG_WARMUP, *ctr);
            a[(size_t)i * ab.dim + d] = ab.low[d] + (ab.high[d] - ab.low[d]) * rng_u01f(r.v[0]);
        }
    *ctr += 1;
}

static void cpu_add_noise(Backend *be, float *a, int n, ActionBounds ab, NoiseSpec ns,
                          uint64_t seed, uint64_t *ctr) {
    (void)be;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < ab.dim; d++) {
            size_t k = (size_t)i * ab.dim + d;
            Philox4 r = philox4x32(seed, (uint32_t)k, RNG_NOISE, *ctr);
            float z = rng_normal(r.v[0], r.v[1]);
            if (ns.kind == NOISE_OU) {
                ns.ou_state[k] = ou_step_elem(ns.ou_state[k], ns.ou_theta, 0.0f, ns.sigma,
                                              ns.ou_dt, z);
                a[k] = noisy_action_elem(a[k], 1.0f, ns.ou_state[k], ab.low[d], ab.high[d]);
            } else {
                a[k] = noisy_action_elem(a[k], ns.sigma, z, ab.low[d], ab.high[d]);
            }
        }
    *ctr += 1;
}

/* ---- environments ---- */

static void env_reset_one(VecEnv *e, int i, float *obs) {
    Philox4 r = philox4x32(e->seed, (uint32_t)i, RNG_RESET, (uint64_t)e->resets[i]);
    e->resets[i] += 1;
    pendulum_reset_elem(&e->th[i], &e->thdot[i], rng_u01d(r.v[0], r.v[1]),
                        rng_u01d(r.v[2], r.v[3]));
    e->t[i] = 0;
    e->ep_return[i] = 0.0f;
    pendulum_obs_elem(e->th[i], e->thdot[i], obs + (size_t)i * PENDULUM_OBS_DIM);
}

static void cpu_env_reset(Backend *be, VecEnv *e, float *obs) {
    (void)be;
    for (int i = 0; i < e->n; i++) env_reset_one(e, i, obs);
}

static void cpu_env_step(Backend *be, VecEnv *e, const float *act, float *next_obs, float *rew,
                         float *term, float *trunc, float *obs_out) {
    (void)be;
    for (int i = 0; i < e->n; i++) {
        float r = (float)pendulum_step_elem(&e->th[i], &e->thdot[i], act[i]);
        float *no = next_obs + (size_t)i * PENDULUM_OBS_DIM;
        pendulum_obs_elem(e->th[i], e->thdot[i], no);
        e->t[i] += 1;
        e->ep_return[i] += r;
        rew[i] = r;
        term[i] = 0.0f; /* Pendulum-v1 never terminates */
        int done = e->t[i] >= e->max_steps;
        trunc[i] = done ? 1.0f : 0.0f;
        if (done) {
            EpisodeLog *L = &e->log;
            int64_t slot = *L->count % L->capacity;
            L->ret[slot] = e->ep_return[i];
            L->len[slot] = e->t[i];
            L->env[slot] = i;
            L->step[slot] = *e->vstep;
            *L->count += 1;
            env_reset_one(e, i, obs_out);
        } else if (obs_out != next_obs) {
            memcpy(obs_out + (size_t)i * PENDULUM_OBS_DIM, no, sizeof(float) * PENDULUM_OBS_DIM);
        }
    }
    *e->vstep += 1;
}

/* ---- replay ---- */

static void cpu_replay_insert(Backend *be, Replay *r, const float *obs, const float *act,
                              const float *rew, const float *next_obs, const float *term, int n) {
    (void)be;
    int od = r->obs_dim, ad = r->act_dim;
    int64_t slot = r->meta[0];
    for (int i = 0; i < n; i++) {
        memcpy(r->obs + slot * od, obs + (size_t)i * od, sizeof(float) * od);
        memcpy(r->act + slot * ad, act + (size_t)i * ad, sizeof(float) * ad);
        memcpy(r->next_obs + slot * od, next_obs + (size_t)i * od, sizeof(float) * od);
        r->rew[slot] = rew[i];
        r->term[slot] = term[i];
        slot = (slot + 1) % r->capacity;
    }
    r->meta[0] = slot;
    r->meta[1] = r->meta[1] + n < r->capacity ? r->meta[1] + n : r->capacity;
}

static void cpu_replay_sample(Backend *be, const Replay *r, Batch *b, uint64_t seed,
                              uint64_t *ctr) {
    (void)be;
    int od = r->obs_dim, ad = r->act_dim;
    uint64_t filled = (uint64_t)r->meta[1];
    for (int i = 0; i < b->size; i++) {
        Philox4 x = philox4x32(seed, (uint32_t)i, RNG_SAMPLE, *ctr);
        /* 64 random bits modulo the fill: bias below 2^-30 for any real capacity */
        uint64_t w = ((uint64_t)x.v[0] << 32) | x.v[1];
        int64_t k = filled ? (int64_t)(w % filled) : 0;
        b->idx[i] = k;
        memcpy(b->obs + (size_t)i * od, r->obs + k * od, sizeof(float) * od);
        memcpy(b->act + (size_t)i * ad, r->act + k * ad, sizeof(float) * ad);
        memcpy(b->next_obs + (size_t)i * od, r->next_obs + k * od, sizeof(float) * od);
        b->rew[i] = r->rew[k];
        b->term[i] = r->term[k];
    }
    *ctr += 1;
}

/* ---- creation ---- */

static void cpu_device_name(char *buf, size_t len) {
    snprintf(buf, len, "CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

Backend *backend_cpu_create(int threads) {
    Backend *be = calloc(1, sizeof *be);
    mallocCheck(be);
    be->name = "cpu";
    cpu_device_name(be->device_name, sizeof be->device_name);
    if (threads > 0) openblas_set_num_threads(threads);
    be->destroy = cpu_destroy;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->to_device = cpu_memcpy;
    be->to_host = cpu_memcpy;
    be->copy = cpu_memcpy;
    be->sync = cpu_sync;
    be->host_alloc = cpu_host_alloc;
    be->host_free = cpu_free;
    be->to_host_async = cpu_memcpy;
    be->gemm = cpu_gemm;
    be->bias_act = cpu_bias_act;
    be->act_grad = cpu_act_grad;
    be->col_sum = cpu_col_sum;
    be->concat_cols = cpu_concat_cols;
    be->slice_cols = cpu_slice_cols;
    be->fill = cpu_fill;
    be->td_target = cpu_td_target;
    be->mse_grad = cpu_mse_grad;
    be->mse_acc = cpu_mse_acc;
    be->mean_acc = cpu_mean_acc;
    be->clip_grad_norm = cpu_clip_grad_norm;
    be->adam = cpu_adam;
    be->polyak = cpu_polyak;
    be->uniform_actions = cpu_uniform_actions;
    be->add_noise = cpu_add_noise;
    be->env_reset = cpu_env_reset;
    be->env_step = cpu_env_step;
    be->replay_insert = cpu_replay_insert;
    be->replay_sample = cpu_replay_sample;
    return be;
}
