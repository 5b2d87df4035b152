/* probe.h - the notebook's probes: the actor's action and the critic's Q on
 * a fixed set of states, drawn once from the replay, every few episodes. */
#ifndef DDPG_PROBE_H
#define DDPG_PROBE_H

#include <stdint.h>
#include <stdio.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/tensor.h"

typedef struct {
    Backend *be;
    Ddpg *agent;
    int n;               /* probe states */
    uint64_t seed;
    Batch states;        /* (n rows) the probe states, sampled once */
    uint64_t *ctr;       /* (1) device: their sampling counter */
    MlpWork actor_work;  /* (n rows) */
    MlpWork critic_work; /* (n rows) */
    float *act, *q;      /* (n, act_dim), (n) device */
    float *x;            /* (n, obs+act) device: [s | mu(s)] */
    float *h_act, *h_q;  /* host copies */
    int ready;           /* the states are drawn */
} Probes;

/* n probe states of agent's networks (n > 0). Returns STATUS_OK, or
 * STATUS_BAD_INPUT with err saying what did not fit. */
Status probes_create(Probes *p, Backend *be, Ddpg *agent, int n, uint64_t seed, Error *err);
void probes_destroy(Probes *p);
/* probes_create in two: the fields, then the buffers. */
void probes_init(Probes *p, Backend *be, Ddpg *agent, int n, uint64_t seed);
Status probes_alloc(Probes *p, Error *err);
/* Lists the probes' device buffers, and their host buffers. */
void probes_tensors(Probes *p, TensorList *l);
void probes_host_tensors(Probes *p, TensorList *l);

/* Draws the probe states from r (once, when r holds enough). */
void probes_draw(Probes *p, const Replay *r);

/* The actor's action and Q of every probe state, into h_act and h_q. */
void probes_run(Probes *p);

#endif
