/* probe.c - the actor's action and the critic's Q on fixed probe states. */
#include "ddpg/probe.h"

#include <string.h>

/* The probe states' sampling key: the seed with a fixed salt, so that they
 * are not the first training batch. */
#define PROBE_SEED_SALT 0x50B3ULL

void probes_tensors(Probes *p, TensorList *l) {
    const Ddpg *d = p->agent;
    int n = p->n, od = d->p.obs_dim, ad = d->p.act_dim;
    tensors_why(l, "--probe-n %d", n);
    batch_tensors(&p->states, n, od, ad, "probe.states.", TENSOR_STATE, l);
    TENSOR_ADD_HOST(l, "probe.", "ready", &p->ready, 1, TENSOR_STATE);
    TENSOR_ADD(l, "probe.", "ctr", &p->ctr, 1, TENSOR_STATE);
    mlp_work_tensors(&p->actor_work, &d->actor.shape, n, 0, "probe.actor.", l);
    mlp_work_tensors(&p->critic_work, &d->critic[0].shape, n, 0, "probe.critic.", l);
    TENSOR_ADD(l, "probe.", "act", &p->act, (size_t)n * ad, TENSOR_WORK);
    TENSOR_ADD(l, "probe.", "q", &p->q, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "probe.", "x", &p->x, (size_t)n * (od + ad), TENSOR_WORK);
}

void probes_host_tensors(Probes *p, TensorList *l) {
    tensors_why(l, "--probe-n %d", p->n);
    TENSOR_ADD(l, "probe.host.", "act", &p->h_act, (size_t)p->n * p->agent->p.act_dim,
               TENSOR_WORK);
    TENSOR_ADD(l, "probe.host.", "q", &p->h_q, (size_t)p->n, TENSOR_WORK);
}

void probes_init(Probes *p, Backend *be, Ddpg *agent, int n, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->be = be;
    p->agent = agent;
    p->n = n;
    p->seed = seed ^ PROBE_SEED_SALT;
}

Status probes_alloc(Probes *p, Error *err) {
    Backend *be = p->be;
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    probes_tensors(p, &l);
    probes_host_tensors(p, &h);
    Status rc = tensors_alloc(be, &l, err);
    if (rc == STATUS_OK) rc = tensors_alloc_host(be, &h, err);
    tensors_release(&l);
    tensors_release(&h);
    return rc;
}

Status probes_create(Probes *p, Backend *be, Ddpg *agent, int n, uint64_t seed, Error *err) {
    probes_init(p, be, agent, n, seed);
    return probes_alloc(p, err);
}

void probes_destroy(Probes *p) {
    if (!p->be) return;
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    probes_tensors(p, &l);
    probes_host_tensors(p, &h);
    tensors_free(p->be, &l);
    tensors_free_host(p->be, &h);
    tensors_release(&l);
    tensors_release(&h);
    memset(p, 0, sizeof *p);
}

void probes_draw(Probes *p, const Replay *r) {
    p->be->replay_sample(p->be, r, &p->states, p->seed, p->ctr);
    p->ready = 1;
}

void probes_run(Probes *p) {
    Backend *be = p->be;
    int n = p->n;
    ddpg_probe(p->agent, p->states.obs, n, p->act, p->q, &p->actor_work, &p->critic_work, p->x);
    be->to_host(be, p->h_act, p->act, sizeof(float) * n * p->agent->p.act_dim);
    be->to_host(be, p->h_q, p->q, sizeof(float) * n);
}
