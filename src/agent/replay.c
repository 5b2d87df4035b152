/* replay.c - the replay buffer's and minibatches' buffers on a backend. */
#include "ddpg/replay.h"

#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/tensor.h"

void replay_tensors(Replay *r, int64_t capacity, int obs_dim, int act_dim, const char *prefix,
                    TensorList *l) {
    r->capacity = capacity;
    r->obs_dim = obs_dim;
    r->act_dim = act_dim;
    size_t c = (size_t)capacity;
    TENSOR_ADD(l, prefix, "obs", &r->obs, c * obs_dim, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "act", &r->act, c * act_dim, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "rew", &r->rew, c, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "next_obs", &r->next_obs, c * obs_dim, TENSOR_STATE);
    TENSOR_ADD(l, prefix, "term", &r->term, c, TENSOR_STATE);
    /* the cursor's two int64s: next slot, filled slots */
    tensor_add(l, prefix, "cursor", &r->cursor, NULL, 2, sizeof(int64_t), DT_I64, TENSOR_STATE);
}

void batch_tensors(Batch *b, int size, int obs_dim, int act_dim, const char *prefix, int kind,
                   TensorList *l) {
    b->size = size;
    b->obs_dim = obs_dim;
    b->act_dim = act_dim;
    size_t n = (size_t)size;
    TENSOR_ADD(l, prefix, "obs", &b->obs, n * obs_dim, (TensorKind)kind);
    TENSOR_ADD(l, prefix, "act", &b->act, n * act_dim, (TensorKind)kind);
    TENSOR_ADD(l, prefix, "rew", &b->rew, n, (TensorKind)kind);
    TENSOR_ADD(l, prefix, "next_obs", &b->next_obs, n * obs_dim, (TensorKind)kind);
    TENSOR_ADD(l, prefix, "term", &b->term, n, (TensorKind)kind);
    TENSOR_ADD(l, prefix, "idx", &b->idx, n, (TensorKind)kind);
}

int replay_create(Replay *r, Backend *be, int64_t capacity, int obs_dim, int act_dim) {
    memset(r, 0, sizeof *r);
    TensorList l;
    tensors_init(&l);
    replay_tensors(r, capacity, obs_dim, act_dim, "replay.", &l);
    int rc = tensors_alloc(be, &l, NULL);
    tensors_release(&l);
    return rc;
}

void replay_destroy(Replay *r, Backend *be) {
    TensorList l;
    tensors_init(&l);
    replay_tensors(r, r->capacity, r->obs_dim, r->act_dim, "replay.", &l);
    tensors_free(be, &l);
    tensors_release(&l);
    memset(r, 0, sizeof *r);
}

int batch_create(Batch *b, Backend *be, int size, int obs_dim, int act_dim) {
    memset(b, 0, sizeof *b);
    TensorList l;
    tensors_init(&l);
    batch_tensors(b, size, obs_dim, act_dim, "batch.", TENSOR_WORK, &l);
    int rc = tensors_alloc(be, &l, NULL);
    tensors_release(&l);
    return rc;
}

void batch_destroy(Batch *b, Backend *be) {
    TensorList l;
    tensors_init(&l);
    batch_tensors(b, b->size, b->obs_dim, b->act_dim, "batch.", TENSOR_WORK, &l);
    tensors_free(be, &l);
    tensors_release(&l);
    memset(b, 0, sizeof *b);
}
