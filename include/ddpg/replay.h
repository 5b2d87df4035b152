/* replay.h - ring replay buffer with uniform sampling, resident on a backend. */
#ifndef DDPG_REPLAY_H
#define DDPG_REPLAY_H

#include <stdint.h>

typedef struct Backend Backend;

typedef struct {
    int64_t capacity;
    int obs_dim, act_dim;
    float *obs;      /* (capacity, obs_dim) device */
    float *act;      /* (capacity, act_dim) device */
    float *rew;      /* (capacity) device */
    float *next_obs; /* (capacity, obs_dim) device: the true next obs, before any reset */
    float *term;     /* (capacity) device: 1 if terminated (not truncated) */
    int64_t *meta;   /* (2) device: [0] next write slot, [1] filled slots */
} Replay;

/* A sampled minibatch. */
typedef struct {
    int size;
    float *obs;      /* (size, obs_dim) device */
    float *act;      /* (size, act_dim) device */
    float *rew;      /* (size) device */
    float *next_obs; /* (size, obs_dim) device */
    float *term;     /* (size) device */
    int64_t *idx;    /* (size) device: the sampled slots */
} Batch;

int replay_create(Replay *r, Backend *be, int64_t capacity, int obs_dim, int act_dim);
void replay_destroy(Replay *r, Backend *be);
int batch_create(Batch *b, Backend *be, int size, int obs_dim, int act_dim);
void batch_destroy(Batch *b, Backend *be);

#endif
