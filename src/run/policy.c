/* policy.c - the embeddable actor (policy.h): a checkpoint's actor and a
 * forward pass in plain loops, with the trainer's element math (elem.h),
 * LayerNorm included. The sums run in index order, so an action may differ
 * from the trainer's OpenBLAS forward pass in its last bits. */
#include "ddpg/policy.h"

#include <stdlib.h>
#include <string.h>

#include "ddpg/ckpt_file.h"
#include "ddpg/elem.h"
#include "ddpg/mlp.h"
#include "ddpg/status.h"
#include "ddpg/tensor.h"

struct DdpgPolicy {
    char env[32];
    MlpShape shape;
    float *params;   /* (shape.n_params) the actor's, flat as the trainer keeps them */
    float *scratch;  /* (2 * the widest layer) one row's activations */
    int widest;
};

const char *ddpg_policy_env(const DdpgPolicy *p) { return p->env; }
int ddpg_policy_obs_dim(const DdpgPolicy *p) { return p->shape.sizes[0]; }
int ddpg_policy_act_dim(const DdpgPolicy *p) { return p->shape.sizes[p->shape.n_layers]; }

void ddpg_policy_free(DdpgPolicy *p) {
    if (!p) return;
    free(p->params);
    free(p->scratch);
    free(p);
}

/* Reads float tensor `name` of count elements into dst. */
static Status read_floats(const CkptFile *f, const char *name, size_t count, float *dst,
                          Error *e) {
    const CkptEntry *en = ckpt_find(f, name);
    if (!en || en->dtype != DT_F32 || en->count != count)
        return error_set(e, STATUS_BAD_INPUT, "checkpoint: no tensor %s of %zu floats", name,
                         count);
    return ckpt_read(f, en, 0, dst, sizeof(float) * count, e);
}

/* The actor's shape and parameters from the open file f into p. */
static Status read_actor(const CkptFile *f, const char *path, DdpgPolicy *p, Error *e) {
    const CkptHeader *h = &f->h;
    if (h->obs_dim < 1 || h->act_dim < 1 || h->act_dim > DDPG_MAX_ACT_DIM || h->n_hidden < 1 ||
        h->n_hidden >= MLP_MAX_LAYERS)
        return error_set(e, STATUS_BAD_INPUT, "checkpoint '%s': sizes out of range", path);
    snprintf(p->env, sizeof p->env, "%s", h->env);
    ActionBounds ab = {h->act_dim, {0}, {0}};
    Status rc = read_floats(f, "actor.action_low", (size_t)h->act_dim, ab.low, e);
    if (rc == STATUS_OK) rc = read_floats(f, "actor.action_high", (size_t)h->act_dim, ab.high, e);
    if (rc) return rc;
    mlp_shape_init(&p->shape, h->obs_dim, h->hidden, h->n_hidden, h->act_dim, ACT_TANH_SCALE, &ab);
    if (h->flags & CKPT_FLAG_LAYER_NORM) mlp_shape_layer_norm(&p->shape);
    for (int l = 0; l <= p->shape.n_layers; l++)
        if (p->shape.sizes[l] > p->widest) p->widest = p->shape.sizes[l];
    p->params = malloc(sizeof(float) * p->shape.n_params);
    p->scratch = malloc(sizeof(float) * 2 * (size_t)p->widest);
    if (!p->params || !p->scratch) return error_set(e, STATUS_BAD_INPUT, "out of host memory");
    return read_floats(f, "actor.params", p->shape.n_params, p->params, e);
}

/* The public contract keeps its (err, errlen) form; inside, status.h's. */
DdpgPolicy *ddpg_policy_load(const char *path, char *err, size_t errlen) {
    Error e = {STATUS_OK, ""};
    CkptFile f;
    DdpgPolicy *p = NULL;
    Status rc = ckpt_open(&f, path, &e);
    if (rc == STATUS_OK) {
        p = calloc(1, sizeof *p);
        rc = p ? read_actor(&f, path, p, &e)
               : error_set(&e, STATUS_BAD_INPUT, "out of host memory");
        ckpt_close(&f);
    }
    if (rc == STATUS_OK) return p;
    ddpg_policy_free(p);
    if (err && errlen) snprintf(err, errlen, "%s", e.msg);
    return NULL;
}

void ddpg_policy_act(const DdpgPolicy *p, const float *obs, int n, float *act) {
    const MlpShape *s = &p->shape;
    int od = s->sizes[0], ad = s->sizes[s->n_layers];
    for (int r = 0; r < n; r++) {
        const float *x = obs + (size_t)r * od;
        float *y = p->scratch;
        for (int l = 0; l < s->n_layers; l++) {
            int in = s->sizes[l], out = s->sizes[l + 1];
            const float *W = p->params + s->w_off[l], *b = p->params + s->b_off[l];
            Activation a = mlp_layer_act(s, l);
            for (int j = 0; j < out; j++) {
                float z = 0.0f;
                for (int i = 0; i < in; i++) z += W[(size_t)j * in + i] * x[i];
                y[j] = z + b[j];
            }
            if (mlp_layer_normed(s, l)) { /* the row's LayerNorm, as the CPU backend's */
                const float *gain = p->params + s->g_off[l], *shift = gain + out;
                double sum = 0.0, var = 0.0;
                for (int j = 0; j < out; j++) sum += y[j];
                float mean = (float)(sum / out);
                for (int j = 0; j < out; j++) var += (double)(y[j] - mean) * (y[j] - mean);
                float rstd = (float)(1.0 / sqrt(var / out + (double)LN_EPS));
                for (int j = 0; j < out; j++)
                    y[j] = layernorm_elem(y[j], mean, rstd, gain[j], shift[j]);
            }
            for (int j = 0; j < out; j++) {
                float z = y[j];
                if (a == ACT_RELU) {
                    z = relu_elem(z);
                } else if (a == ACT_TANH_SCALE) {
                    z = tanh_bounds_elem(z, s->bounds.low[j], s->bounds.high[j]);
                }
                y[j] = z;
            }
            x = y; /* the two halves of scratch take turns */
            y = y == p->scratch ? p->scratch + p->widest : p->scratch;
        }
        memcpy(act + (size_t)r * ad, x, sizeof(float) * ad);
    }
}
