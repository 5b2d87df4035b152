/* env.c - N environments stepped in a loop with env.h's env_step_one, as
 * kernels/env.cu steps them one per thread: the same code for every
 * environment, through its spec's functions. */
#include "cpu_common.h"
#include "ddpg/env.h"

/* Any environment: the loop calls its functions through the spec. */
int cpu_env_supported(Backend *be, const EnvSpec *spec) {
    (void)be, (void)spec;
    return 1;
}

void cpu_env_reset(Backend *be, VecEnv *e, float *obs) {
    (void)be;
    const EnvFns f = e->spec->fns;
    for (int i = 0; i < e->n; i++) env_reset_one(f, e, i, obs);
}

void cpu_env_step(Backend *be, VecEnv *e, const float *act, float *real_next_obs, float *rew,
                  float *term, float *trunc, float *next_obs) {
    (void)be;
    const EnvFns f = e->spec->fns;
    for (int i = 0; i < e->n; i++)
        env_step_one(f, e, i, act, real_next_obs, rew, term, trunc, next_obs);
    *e->vstep += 1;
}
