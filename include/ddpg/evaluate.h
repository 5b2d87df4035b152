/* evaluate.h - deterministic evaluation of the actor: eval_episodes episodes
 * from the same start states every time, no exploration noise. With the
 * critic (with_q), also what it predicts of them: Q1(s0, mu(s0)) at each
 * start state, beside the discounted return the episode then got (their
 * difference is the critic's overestimation, which TD3 is meant to reduce). */
#ifndef DDPG_EVALUATE_H
#define DDPG_EVALUATE_H

#include <stdint.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/env.h"
#include "ddpg/graph.h"
#include "ddpg/tensor.h"

typedef struct {
    Backend *be;
    Ddpg *agent;
    const EnvSpec *spec;
    int episodes;
    uint64_t seed;       /* the start states' key (with a salt) */
    VecEnv env;          /* one env per episode, each playing one (VecEnv.once) */
    MlpWork work;        /* (episodes rows) the actor's pass */
    float *obs[2];       /* (episodes, obs) device: observations, alternating step by step */
    float *real_next_obs, *rew, *term, *trunc; /* the env step's other outputs, device */
    float *h_ret;        /* (episodes) host: returns as the env log holds them */
    int32_t *h_env;      /* (episodes) host: which env each return belongs to */
    int with_q;          /* 1: the critic's view too (a trained agent's critic) */
    MlpWork critic_work; /* (episodes rows) Q(s0, mu(s0)) */
    float *x0, *act0;    /* (episodes, obs+act), (episodes, act) device */
    float *q, *disc;     /* (episodes) device: Q1(s0, mu(s0)); sum_t gamma^t r_t */
    float *h_q, *h_disc; /* (episodes) host copies, by env (evaluator_run) */
    int64_t *h_zeros;    /* (episodes) host: zeros, to rewind the reset counters */
    BackendGraph graph;  /* one evaluation's episodes, captured once */
} Evaluator;

/* Allocates the evaluation of agent's actor over `episodes` episodes, start
 * states from `seed`. Returns STATUS_OK, or STATUS_BAD_INPUT with err saying
 * what did not fit. */
Status evaluator_create(Evaluator *e, Backend *be, Ddpg *agent, const EnvSpec *spec,
                        int episodes, uint64_t seed, int with_q, Error *err);
void evaluator_destroy(Evaluator *e);

/* evaluator_create in two: the fields, then the buffers. */
void evaluator_init(Evaluator *e, Backend *be, Ddpg *agent, const EnvSpec *spec, int episodes,
                    uint64_t seed, int with_q);
Status evaluator_alloc(Evaluator *e, Error *err);

/* Lists the evaluation's device buffers, and its host buffers. */
void evaluator_tensors(Evaluator *e, TensorList *l);
void evaluator_host_tensors(Evaluator *e, TensorList *l);

/* Runs one evaluation; returns[i] is episode i's return (host, episodes);
 * with_q: h_q[i] and h_disc[i] its Q1(s0, mu(s0)) and discounted return. */
void evaluator_run(Evaluator *e, float *returns);

#endif
