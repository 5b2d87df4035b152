/* replay.h - ring replay buffer with uniform sampling, resident on a backend. */
#ifndef DDPG_REPLAY_H
#define DDPG_REPLAY_H

#include <stdint.h>

typedef struct Backend Backend;
typedef struct TensorList TensorList;

/* Where the ring stands; in device memory, advanced by replay_insert, so
 * that a captured iteration inserts at the right slot on every replay. */
typedef struct {
    int64_t next;   /* the slot the next transition goes to */
    int64_t filled; /* slots that hold a transition (at most the capacity) */
} ReplayCursor;

typedef struct {
    int64_t capacity;
    int obs_dim, act_dim;
    float *obs;           /* (capacity, obs_dim) device */
    float *act;           /* (capacity, act_dim) device */
    float *rew;           /* (capacity) device */
    float *next_obs;      /* (capacity, obs_dim) device: the true next obs, before any reset */
    float *term;          /* (capacity) device: 1 if terminated (not truncated) */
    ReplayCursor *cursor; /* (1) device */
} Replay;

/* A sampled minibatch. */
typedef struct {
    int size, obs_dim, act_dim;
    float *obs;      /* (size, obs_dim) device */
    float *act;      /* (size, act_dim) device */
    float *rew;      /* (size) device */
    float *next_obs; /* (size, obs_dim) device */
    float *term;     /* (size) device */
    int64_t *idx;    /* (size) device: the sampled slots */
} Batch;

/* Lists the ring's buffers (state) under prefix, for capacity transitions. */
void replay_tensors(Replay *r, int64_t capacity, int obs_dim, int act_dim, const char *prefix,
                    TensorList *l);
/* Lists a batch's buffers under prefix, for size rows: work for a training
 * minibatch, state for the probe states that stay. */
void batch_tensors(Batch *b, int size, int obs_dim, int act_dim, const char *prefix, int kind,
                   TensorList *l);

/* On their own (tests, benchmarks): 0, or -1 when out of memory. */
int replay_create(Replay *r, Backend *be, int64_t capacity, int obs_dim, int act_dim);
void replay_destroy(Replay *r, Backend *be);
int batch_create(Batch *b, Backend *be, int size, int obs_dim, int act_dim);
void batch_destroy(Batch *b, Backend *be);

#endif
