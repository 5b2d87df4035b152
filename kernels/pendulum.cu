/* pendulum.cu - N Pendulum-v1 environments, one thread per env, stepping with
 * elem.h's dynamics exactly as the CPU backend's loop does (src/cpu/pendulum.c):
 * the true next observation, then on truncation a record in the episode log
 * and an auto-reset whose observation goes to next_obs. */
#include "cuda_rng.h"

/* ------------------------------------------------------------------------ */
/* kernels                                                                  */

/* Reset env i in registers: reset draw (i, RNG_RESET, resets[i]), as the CPU. */
__device__ __forceinline__ void env_reset_one(const VecEnv &e, int i, double *th, double *thdot,
                                              float *obs /* (3) */) {
    int64_t k = e.resets[i];
    uint4 r = philox_draw(e.seed, (uint32_t)i, RNG_RESET, (uint64_t)k);
    e.resets[i] = k + 1;
    pendulum_reset_elem(th, thdot, rng_u01d(r.x, r.y), rng_u01d(r.z, r.w));
    e.t[i] = 0;
    e.ep_return[i] = 0.0f;
    pendulum_obs_elem(*th, *thdot, obs);
}

/* Reset every env; obs(n, 3). */
__global__ void env_reset_kernel(VecEnv e, float *obs) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < e.n; i += gridDim.x * blockDim.x) {
        double th, thdot;
        env_reset_one(e, i, &th, &thdot, obs + (size_t)i * PENDULUM_OBS_DIM);
        e.th[i] = th;
        e.thdot[i] = thdot;
    }
}

/* Step every env with act(n, 1). The log slot comes from an integer atomic on
 * the record count (the host sorts records by step and env); every env reads
 * the same *vstep, which a separate kernel advances afterwards. */
__global__ void env_step_kernel(VecEnv e, const float *act, float *real_next_obs, float *rew,
                                float *term, float *trunc, float *next_obs) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < e.n; i += gridDim.x * blockDim.x) {
        double th = e.th[i], thdot = e.thdot[i];
        float r = (float)pendulum_step_elem(&th, &thdot, act[(size_t)i * PENDULUM_ACT_DIM]);
        float no[PENDULUM_OBS_DIM];
        pendulum_obs_elem(th, thdot, no);
        float *nrow = real_next_obs + (size_t)i * PENDULUM_OBS_DIM;
        for (int c = 0; c < PENDULUM_OBS_DIM; c++) nrow[c] = no[c];
        int32_t t = e.t[i] + 1;
        float ret = e.ep_return[i] + r;
        rew[i] = r;
        term[i] = 0.0f; /* Pendulum-v1 never terminates */
        int done = t >= e.max_steps;
        trunc[i] = done ? 1.0f : 0.0f;
        float *orow = next_obs + (size_t)i * PENDULUM_OBS_DIM;
        if (done) {
            const EpisodeLog &L = e.log;
            long long slot = (long long)atomicAdd((unsigned long long *)L.count, 1ULL);
            if (L.capacity > 0) {
                slot %= L.capacity;
                L.ret[slot] = ret;
                L.len[slot] = t;
                L.env[slot] = i;
                L.step[slot] = *e.vstep;
            }
            float o[PENDULUM_OBS_DIM];
            env_reset_one(e, i, &th, &thdot, o); /* also zeroes t[i], ep_return[i] */
            for (int c = 0; c < PENDULUM_OBS_DIM; c++) orow[c] = o[c];
        } else {
            e.t[i] = t;
            e.ep_return[i] = ret;
            if (orow != nrow)
                for (int c = 0; c < PENDULUM_OBS_DIM; c++) orow[c] = no[c];
        }
        e.th[i] = th;
        e.thdot[i] = thdot;
    }
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

void cuda_env_reset(Backend *be, VecEnv *e, float *obs) {
    if (e->n <= 0) return;
    env_reset_kernel<<<grid_for(be, (size_t)e->n), BLOCK, 0, cuda_stream(be)>>>(*e, obs);
    cudaCheck(cudaGetLastError());
}

/* Two kernels: the step of every env, then *vstep += 1. */
void cuda_env_step(Backend *be, VecEnv *e, const float *act, float *real_next_obs, float *rew,
                   float *term, float *trunc, float *next_obs) {
    if (e->n > 0) {
        env_step_kernel<<<grid_for(be, (size_t)e->n), BLOCK, 0, cuda_stream(be)>>>(
            *e, act, real_next_obs, rew, term, trunc, next_obs);
        cudaCheck(cudaGetLastError());
    }
    cuda_counter_increment(be, (uint64_t *)e->vstep);
}
