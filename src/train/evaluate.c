/* evaluate.c - deterministic evaluation: the actor's mean action, no noise,
 * from the same start states every time. */
#include "ddpg/evaluate.h"

#include <string.h>

/* The evaluation envs' reset key: the seed with a fixed salt, so that their
 * start states are not the training envs'. */
#define EVAL_SEED_SALT 0x9E3779B97F4A7C15ULL

void evaluator_tensors(Evaluator *e, TensorList *l) {
    const MlpShape *s = &e->agent->actor.shape;
    int n = e->episodes, od = s->sizes[0];
    tensors_why(l, "--eval-episodes %d", n);
    env_tensors(&e->env, e->spec, n, e->seed ^ EVAL_SEED_SALT, n, "eval.env.", l);
    e->env.once = 1; /* one record per env: the log holds n */
    mlp_work_tensors(&e->work, s, n, 0, "eval.actor.", l);
    TENSOR_ADD(l, "eval.", "obs0", &e->obs[0], (size_t)n * od, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "obs1", &e->obs[1], (size_t)n * od, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "real_next_obs", &e->real_next_obs, (size_t)n * od, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "rew", &e->rew, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "term", &e->term, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "trunc", &e->trunc, (size_t)n, TENSOR_WORK);
    if (!e->with_q) return;
    const Net *c = &e->agent->critic[0];
    int ad = s->sizes[s->n_layers];
    mlp_work_tensors(&e->critic_work, &c->shape, n, 0, "eval.critic.", l);
    TENSOR_ADD(l, "eval.", "x0", &e->x0, (size_t)n * (od + ad), TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "act0", &e->act0, (size_t)n * ad, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "q", &e->q, (size_t)n, TENSOR_WORK);
    TENSOR_ADD(l, "eval.", "disc", &e->disc, (size_t)n, TENSOR_WORK);
}

void evaluator_host_tensors(Evaluator *e, TensorList *l) {
    size_t n = (size_t)e->episodes;
    tensors_why(l, "--eval-episodes %d", e->episodes);
    TENSOR_ADD(l, "eval.host.", "ret", &e->h_ret, n, TENSOR_WORK);
    TENSOR_ADD(l, "eval.host.", "env", &e->h_env, n, TENSOR_WORK);
    TENSOR_ADD(l, "eval.host.", "zeros", &e->h_zeros, n, TENSOR_WORK);
    if (!e->with_q) return;
    TENSOR_ADD(l, "eval.host.", "q", &e->h_q, n, TENSOR_WORK);
    TENSOR_ADD(l, "eval.host.", "disc", &e->h_disc, n, TENSOR_WORK);
}

void evaluator_init(Evaluator *e, Backend *be, Ddpg *agent, const EnvSpec *spec, int episodes,
                    uint64_t seed, int with_q) {
    memset(e, 0, sizeof *e);
    e->be = be;
    e->agent = agent;
    e->spec = spec;
    e->with_q = with_q;
    e->episodes = episodes;
    e->seed = seed;
}

Status evaluator_alloc(Evaluator *e, Error *err) {
    Backend *be = e->be;
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    evaluator_tensors(e, &l);
    evaluator_host_tensors(e, &h);
    Status rc = tensors_alloc(be, &l, err);
    if (rc == STATUS_OK) rc = tensors_alloc_host(be, &h, err);
    tensors_release(&l);
    tensors_release(&h);
    return rc;
}

Status evaluator_create(Evaluator *e, Backend *be, Ddpg *agent, const EnvSpec *spec,
                        int episodes, uint64_t seed, int with_q, Error *err) {
    evaluator_init(e, be, agent, spec, episodes, seed, with_q);
    return evaluator_alloc(e, err);
}

void evaluator_destroy(Evaluator *e) {
    if (!e->be) return;
    TensorList l, h;
    tensors_init(&l);
    tensors_init(&h);
    evaluator_tensors(e, &l);
    evaluator_host_tensors(e, &h);
    tensors_free(e->be, &l);
    tensors_free_host(e->be, &h);
    tensors_release(&l);
    tensors_release(&h);
    backend_graph_free(e->be, &e->graph);
    memset(e, 0, sizeof *e);
}

/* Enqueues one evaluation's episodes: reset, then max_steps noiseless
 * steps, after which every env has finished its one episode (an env whose
 * episode terminated early stands still). No copies between the steps: the env reads the actor's output in
 * place, and the observations alternate between two buffers. */
static void episodes(void *ctx) {
    Evaluator *e = ctx;
    Backend *be = e->be;
    const Net *a = &e->agent->actor;
    e->be->env_reset(be, &e->env, e->obs[0]);
    if (e->with_q) {
        ddpg_probe(e->agent, e->obs[0], e->episodes, e->act0, e->q, &e->work, &e->critic_work,
                   e->x0);
        be->fill(be, e->disc, 0.0f, (size_t)e->episodes);
    }
    double discount = 1.0; /* gamma^s; an env past its episode's end earns 0 */
    for (int s = 0; s < e->env.max_steps; s++) {
        const float *act =
            mlp_forward(be, &a->shape, a->params, e->obs[s & 1], e->episodes, &e->work);
        be->env_step(be, &e->env, act, e->real_next_obs, e->rew, e->term, e->trunc,
                     e->obs[(s + 1) & 1]);
        if (e->with_q) be->axpy(be, e->disc, e->rew, (float)discount, e->episodes);
        discount *= e->agent->p.gamma;
    }
}

void evaluator_run(Evaluator *e, float *returns) {
    Backend *be = e->be;
    int n = e->episodes;
    /* The same start states at every evaluation: rewind the reset counters. */
    be->to_device(be, e->env.resets, e->h_zeros, sizeof(int64_t) * n);
    be->to_device(be, e->env.log.count, e->h_zeros, sizeof(int64_t));
    /* The episodes read the actor in place, so on the GPU they are captured
     * once and replayed at every evaluation (thousands of small launches). */
    backend_graph_run(be, &e->graph, episodes, e);
    /* Every env finished exactly one episode; records are in any order. */
    be->to_host(be, e->h_ret, e->env.log.ret, sizeof(float) * n);
    be->to_host(be, e->h_env, e->env.log.env, sizeof(int32_t) * n);
    for (int i = 0; i < n; i++) returns[e->h_env[i]] = e->h_ret[i];
    if (e->with_q) {
        be->to_host(be, e->h_q, e->q, sizeof(float) * n);
        be->to_host(be, e->h_disc, e->disc, sizeof(float) * n);
    }
}
