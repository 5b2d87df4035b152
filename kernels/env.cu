/* env.cu - N environments, one thread per env, each running env.h's
 * env_step_one exactly as the CPU backend's loop does (src/backend/cpu/env.c). One
 * pair of kernels per environment of envs/registry.h, made from its
 * NAME_fns(): the calls to its functions are inlined. */
#include "cuda_common.h"
#include "ddpg/envs/registry.h"

/* ------------------------------------------------------------------------ */
/* kernels, one instance per environment                                    */

template <EnvFns (*FNS)(void)>
__global__ void env_reset_kernel(VecEnv e, float *obs) {
    const EnvFns f = FNS();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < e.n; i += gridDim.x * blockDim.x)
        env_reset_one(f, &e, i, obs);
}

/* The log slot comes from an integer atomic on the record count (the host
 * sorts records by step and env); every env reads the same *vstep, which a
 * separate kernel advances afterwards. */
template <EnvFns (*FNS)(void)>
__global__ void env_step_kernel(VecEnv e, const float *act, float *real_next_obs, float *rew,
                                float *term, float *trunc, float *next_obs) {
    const EnvFns f = FNS();
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < e.n; i += gridDim.x * blockDim.x)
        env_step_one(f, &e, i, act, real_next_obs, rew, term, trunc, next_obs);
}

typedef struct {
    const char *name;
    void (*reset)(VecEnv, float *);
    void (*step)(VecEnv, const float *, float *, float *, float *, float *, float *);
} EnvKernels;

#define ENV_KERNELS(NAME) \
    {#NAME, env_reset_kernel<NAME##_fns>, env_step_kernel<NAME##_fns>},

/* The kernels of e's environment, or NULL (one that is not in the registry). */
static const EnvKernels *kernels_of(const EnvSpec *spec) {
    static const EnvKernels table[] = {DDPG_ENVS(ENV_KERNELS)};
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++)
        if (strcmp(table[k].name, spec->name) == 0) return &table[k];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* launchers                                                                */

int cuda_env_supported(Backend *be, const EnvSpec *spec) {
    (void)be;
    return kernels_of(spec) != NULL;
}

static const EnvKernels *kernels_or_die(const VecEnv *e) {
    const EnvKernels *k = kernels_of(e->spec);
    if (!k) { /* the trainer asks cuda_env_supported first */
        fprintf(stderr, "fatal: no CUDA kernels for environment %s\n", e->spec->id);
        exit(1);
    }
    return k;
}

void cuda_env_reset(Backend *be, VecEnv *e, float *obs) {
    if (e->n <= 0) return;
    kernels_or_die(e)->reset<<<grid_for(be, (size_t)e->n), BLOCK, 0, cuda_stream(be)>>>(*e, obs);
    cudaCheck(cudaGetLastError());
}

/* Two kernels: the step of every env, then *vstep += 1. */
void cuda_env_step(Backend *be, VecEnv *e, const float *act, float *real_next_obs, float *rew,
                   float *term, float *trunc, float *next_obs) {
    if (e->n > 0) {
        kernels_or_die(e)->step<<<grid_for(be, (size_t)e->n), BLOCK, 0, cuda_stream(be)>>>(
            *e, act, real_next_obs, rew, term, trunc, next_obs);
        cudaCheck(cudaGetLastError());
    }
    cuda_counter_increment(be, (uint64_t *)e->vstep);
}
