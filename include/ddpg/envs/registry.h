/* registry.h - the environments built into the program: each one's header,
 * and its name in DDPG_ENVS. Adding an environment is its header and one
 * entry of each here (docs/environments.md): src/envs/registry.c lists
 * NAME_spec() for --env, kernels/env.cu makes NAME's kernels from NAME_fns(). */
#ifndef DDPG_ENVS_REGISTRY_H
#define DDPG_ENVS_REGISTRY_H

#include "ddpg/envs/mountain_car.h"
#include "ddpg/envs/pendulum.h"

#define DDPG_ENVS(X) X(pendulum) X(mountain_car)

#endif
