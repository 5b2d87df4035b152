/* checkpoint.h - a whole run saved to and loaded from a checkpoint file
 * (ckpt_file.h), through the state tensors of its lists (tensor.h). */
#ifndef DDPG_CHECKPOINT_H
#define DDPG_CHECKPOINT_H

#include "ddpg/ckpt_file.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/status.h"
#include "ddpg/train.h"

/* The state a checkpoint holds, in file order: the agent's (networks, Adam,
 * sampling counter, metric sums), the trainer's (envs, the observation to
 * act on, OU noise, RNG counters; the replay ring when with_replay), the
 * probes', and the loop's counters (train.*). */
void checkpoint_tensors(Trainer *t, int with_replay, TensorList *l);

/* Writes t's state to path atomically (ckpt_file.h), the replay too with
 * --save-replay. STATUS_OK; STATUS_DIVERGED when a tensor is not finite
 * (nothing is written, the last good checkpoint stays; t is marked
 * diverged); STATUS_IO when it cannot be written. */
Status checkpoint_save(Trainer *t, const char *path, Error *e);

/* Loads path into t, created from the checkpoint's configuration: every
 * tensor name, type and count must be the run's. Without a saved replay the
 * ring stays empty and fills again. STATUS_OK, or STATUS_BAD_INPUT. */
Status checkpoint_load(Trainer *t, const char *path, Error *e);

/* The configuration a checkpoint was written with. STATUS_OK, or
 * STATUS_BAD_INPUT. */
Status checkpoint_read_config(const char *path, Config *c, Error *e);

/* Loads only the actor's parameters of path into d. STATUS_OK, or
 * STATUS_BAD_INPUT. */
Status checkpoint_load_actor(Ddpg *d, const char *path, Error *e);

#endif
