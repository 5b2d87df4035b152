/* checkpoint.h - a whole run saved to and loaded from a checkpoint file
 * (ckpt_file.h), through the state tensors of its lists (tensor.h). */
#ifndef DDPG_CHECKPOINT_H
#define DDPG_CHECKPOINT_H

#include <stdio.h>

#include "ddpg/ckpt_file.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/train.h"

/* The state a checkpoint holds, in file order: the agent's (networks, Adam,
 * sampling counter, metric sums), the trainer's (envs, the observation to
 * act on, OU noise, RNG counters; the replay ring when with_replay), the
 * probes', and the loop's counters (train.*). */
void checkpoint_tensors(Trainer *t, int with_replay, TensorList *l);

/* Writes t's state to path atomically (ckpt_file.h), the replay too with
 * --save-replay. Returns 0; 3 when a tensor is not finite (nothing is
 * written, the last good checkpoint stays; t is marked diverged); 4 on an
 * I/O error. Messages go to err. */
int checkpoint_save(Trainer *t, const char *path, FILE *err);

/* Loads path into t, created from the checkpoint's configuration: every
 * tensor name, type and count must be the run's. Without a saved replay the
 * ring stays empty and fills again. Returns 0, or 2 after a message. */
int checkpoint_load(Trainer *t, const char *path, FILE *err);

/* The configuration a checkpoint was written with. 0, or 2 after a message. */
int checkpoint_read_config(const char *path, Config *c, FILE *err);

/* Loads only the actor's parameters of path into d. 0, or 2 after a message. */
int checkpoint_load_actor(Ddpg *d, const char *path, FILE *err);

#endif
