/* embed_policy.c - a trained actor in a program of your own (include/ddpg/policy.h).
 *
 *   make examples
 *   build/examples/embed_policy runs/pendulum/checkpoint.bin
 *
 * Loads the checkpoint's actor and drives one episode of its environment with
 * it: the environment's own header (include/ddpg/envs/, all host code one
 * needs: no library), found by the Gymnasium id the checkpoint records, from
 * a start state of its reset stream, to the goal or the time limit. Prints the
 * action at a few steps and the return. Links libddpg_policy.a and libm only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/envs/registry.h"
#include "ddpg/policy.h"

/* The built-in environment whose Gymnasium id is id, or NULL. */
static const EnvSpec *find_env(const char *id) {
#define TRY(NAME) \
    if (strcmp(NAME##_spec()->id, id) == 0) return NAME##_spec();
    DDPG_ENVS(TRY)
#undef TRY
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CHECKPOINT\n", argv[0]);
        return 2;
    }
    char err[512];
    DdpgPolicy *p = ddpg_policy_load(argv[1], err, sizeof err);
    if (!p) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    const EnvSpec *env = find_env(ddpg_policy_env(p));
    printf("%s: observations of %d, actions of %d\n", ddpg_policy_env(p), ddpg_policy_obs_dim(p),
           ddpg_policy_act_dim(p));
    if (!env || env->obs_dim != ddpg_policy_obs_dim(p) || env->act_dim != ddpg_policy_act_dim(p)) {
        fprintf(stderr, "error: no environment of this build matches %s\n", ddpg_policy_env(p));
        ddpg_policy_free(p);
        return 2;
    }
    void *state = malloc((size_t)env->fns.state_bytes);
    float *obs = malloc(sizeof(float) * env->obs_dim), *act = malloc(sizeof(float) * env->act_dim);
    if (!state || !obs || !act) {
        fprintf(stderr, "error: out of memory\n");
        return 2;
    }
    EnvRng rng = env_rng(1, 0, RNG_RESET, 0);
    env->fns.reset(state, &rng);
    double ret = 0.0;
    int t = 0, terminated = 0;
    while (t < env->max_steps && !terminated) {
        env->fns.observe(state, obs);
        ddpg_policy_act(p, obs, 1, act);
        ret += env->fns.step(state, act, &terminated);
        if (t % 50 == 0) printf("step %3d: action %+.3f\n", t, act[0]);
        t++;
    }
    printf("return over %d steps%s: %.1f\n", t, terminated ? " (terminated)" : "", ret);
    free(state), free(obs), free(act);
    ddpg_policy_free(p);
    return 0;
}
