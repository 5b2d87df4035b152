/* policy.h - a trained actor in your own program: load it from a checkpoint,
 * act on a batch of observations, free it.
 *
 * Plain C on the CPU: link build/libddpg_policy.a and -lm (no CUDA, OpenBLAS
 * or Check). examples/embed_policy.c shows the whole use.
 *
 *     char err[256];
 *     DdpgPolicy *p = ddpg_policy_load("runs/pendulum/checkpoint.bin", err, sizeof err);
 *     if (!p) { fprintf(stderr, "%s\n", err); exit(2); }
 *     float obs[3] = {1.0f, 0.0f, 0.0f}, act[1];
 *     ddpg_policy_act(p, obs, 1, act);
 *     ddpg_policy_free(p);
 */
#ifndef DDPG_POLICY_H
#define DDPG_POLICY_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct DdpgPolicy DdpgPolicy;

/* The actor of the checkpoint at path (every check of a checkpoint file is
 * made first), or NULL with the reason in err (unless err is NULL). */
DdpgPolicy *ddpg_policy_load(const char *path, char *err, size_t errlen);

/* Its environment's Gymnasium id, and the sizes of an observation and an action. */
const char *ddpg_policy_env(const DdpgPolicy *p);
int ddpg_policy_obs_dim(const DdpgPolicy *p);
int ddpg_policy_act_dim(const DdpgPolicy *p);

/* act(n, act_dim) = mu(obs(n, obs_dim)): the deterministic action, within
 * the environment's action bounds, row by row. */
void ddpg_policy_act(const DdpgPolicy *p, const float *obs, int n, float *act);

void ddpg_policy_free(DdpgPolicy *p);

#ifdef __cplusplus
}
#endif

#endif
