/* pendulum.c - N Pendulum-v1 environments, stepped in a loop with elem.h's
 * dynamics, as kernels/pendulum.cu steps them one per thread: the true next
 * observation, then on truncation a record in the episode log and an
 * auto-reset whose observation goes to next_obs. */
#include <string.h>

#include "cpu_common.h"
#include "ddpg/elem.h"

static void env_reset_one(VecEnv *e, int i, float *obs) {
    Philox4 r = philox4x32(e->seed, (uint32_t)i, RNG_RESET, (uint64_t)e->resets[i]);
    e->resets[i] += 1;
    pendulum_reset_elem(&e->th[i], &e->thdot[i], rng_u01d(r.v[0], r.v[1]),
                        rng_u01d(r.v[2], r.v[3]));
    e->t[i] = 0;
    e->ep_return[i] = 0.0f;
    pendulum_obs_elem(e->th[i], e->thdot[i], obs + (size_t)i * PENDULUM_OBS_DIM);
}

void cpu_env_reset(Backend *be, VecEnv *e, float *obs) {
    (void)be;
    for (int i = 0; i < e->n; i++) env_reset_one(e, i, obs);
}

void cpu_env_step(Backend *be, VecEnv *e, const float *act, float *real_next_obs, float *rew,
                  float *term, float *trunc, float *next_obs) {
    (void)be;
    for (int i = 0; i < e->n; i++) {
        float r = (float)pendulum_step_elem(&e->th[i], &e->thdot[i], act[i]);
        float *no = real_next_obs + (size_t)i * PENDULUM_OBS_DIM;
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
            env_reset_one(e, i, next_obs);
        } else if (next_obs != real_next_obs) {
            memcpy(next_obs + (size_t)i * PENDULUM_OBS_DIM, no, sizeof(float) * PENDULUM_OBS_DIM);
        }
    }
    *e->vstep += 1;
}
