/* mlp.c - MLP forward and backward on backend ops: the reference passes. */
#include "ddpg/mlp.h"

#include <math.h>
#include <string.h>

#include "ddpg/elem.h"

/* The flat layout: per layer W, b, and a normalised layer's gain and shift. */
static void layout(MlpShape *s) {
    size_t off = 0;
    for (int l = 0; l < s->n_layers; l++) {
        s->w_off[l] = off;
        off += (size_t)s->sizes[l + 1] * s->sizes[l];
        s->b_off[l] = off;
        off += (size_t)s->sizes[l + 1];
        s->g_off[l] = off;
        if (mlp_layer_normed(s, l)) off += 2 * (size_t)s->sizes[l + 1];
    }
    s->n_params = off;
}

void mlp_shape_init(MlpShape *s, int in, const int *hidden, int n_hidden, int out,
                    Activation out_act, const ActionBounds *bounds) {
    memset(s, 0, sizeof *s);
    s->n_layers = n_hidden + 1;
    s->sizes[0] = in;
    for (int i = 0; i < n_hidden; i++) s->sizes[i + 1] = hidden[i];
    s->sizes[s->n_layers] = out;
    s->out_act = out_act;
    if (bounds) s->bounds = *bounds;
    layout(s);
}

void mlp_shape_layer_norm(MlpShape *s) {
    s->layer_norm = 1;
    layout(s);
}

Activation mlp_layer_act(const MlpShape *s, int l) {
    return l == s->n_layers - 1 ? s->out_act : ACT_RELU;
}

size_t mlp_layer_params(const MlpShape *s, int l) {
    return (size_t)s->sizes[l + 1] * (size_t)(s->sizes[l] + 1 + 2 * mlp_layer_normed(s, l));
}

void mlp_init_params(const MlpShape *s, float *p, uint64_t seed, uint32_t stream) {
    uint64_t ctr = 0; /* counts W and b alone: the same draws with and without LayerNorm */
    for (int l = 0; l < s->n_layers; l++) {
        float bound = 1.0f / sqrtf((float)s->sizes[l]);
        size_t out = (size_t)s->sizes[l + 1], n = out * (size_t)(s->sizes[l] + 1);
        float *base = p + s->w_off[l]; /* W then b are contiguous */
        for (size_t i = 0; i < n; i++, ctr++) {
            Philox4 r = philox4x32(seed, stream, RNG_INIT, ctr);
            base[i] = bound * (2.0f * rng_u01f(r.v[0]) - 1.0f);
        }
        if (!mlp_layer_normed(s, l)) continue;
        for (size_t j = 0; j < out; j++) p[s->g_off[l] + j] = 1.0f, p[s->g_off[l] + out + j] = 0.0f;
    }
}

void mlp_work_tensors(MlpWork *w, const MlpShape *s, int max_rows, int backward,
                      const char *prefix, TensorList *l) {
    w->max_rows = max_rows;
    char name[16];
    for (int k = 1; k <= s->n_layers; k++) {
        size_t n = (size_t)max_rows * s->sizes[k];
        snprintf(name, sizeof name, "h%d", k);
        TENSOR_ADD(l, prefix, name, &w->h[k], n, TENSOR_WORK);
        if (mlp_layer_normed(s, k - 1)) {
            snprintf(name, sizeof name, "z%d", k);
            TENSOR_ADD(l, prefix, name, &w->z[k], n, TENSOR_WORK);
            snprintf(name, sizeof name, "mean%d", k);
            TENSOR_ADD(l, prefix, name, &w->mean[k], (size_t)max_rows, TENSOR_WORK);
            snprintf(name, sizeof name, "rstd%d", k);
            TENSOR_ADD(l, prefix, name, &w->rstd[k], (size_t)max_rows, TENSOR_WORK);
            if (backward) {
                snprintf(name, sizeof name, "dz%d", k);
                TENSOR_ADD(l, prefix, name, &w->dz[k], n, TENSOR_WORK);
            }
        }
        if (!backward) continue;
        snprintf(name, sizeof name, "dh%d", k);
        TENSOR_ADD(l, prefix, name, &w->dh[k], n, TENSOR_WORK);
    }
}

int mlp_work_create(MlpWork *w, Backend *be, const MlpShape *s, int max_rows) {
    memset(w, 0, sizeof *w);
    TensorList l;
    tensors_init(&l);
    mlp_work_tensors(w, s, max_rows, 1, "work.", &l);
    int rc = tensors_alloc(be, &l, NULL);
    tensors_release(&l);
    return rc;
}

void mlp_work_destroy(MlpWork *w, Backend *be, const MlpShape *s) {
    TensorList l;
    tensors_init(&l);
    mlp_work_tensors(w, s, w->max_rows, 1, "work.", &l);
    tensors_free(be, &l);
    tensors_release(&l);
    memset(w, 0, sizeof *w);
}

float *mlp_forward(Backend *be, const MlpShape *s, const float *params, const float *x, int rows,
                   MlpWork *w) {
    w->h[0] = (float *)x;
    for (int l = 0; l < s->n_layers; l++) {
        int in = s->sizes[l], out = s->sizes[l + 1];
        const float *W = params + s->w_off[l], *b = params + s->b_off[l];
        if (!mlp_layer_normed(s, l)) { /* h[l+1] = act(h[l] W^T + b) */
            be->linear_act(be, w->h[l + 1], w->h[l], W, b, rows, in, out, mlp_layer_act(s, l),
                           &s->bounds);
            continue;
        }
        /* z = h[l] W^T + b, h[l+1] = relu(layernorm(z)) */
        const float *gain = params + s->g_off[l], *shift = gain + out;
        be->linear_act(be, w->z[l + 1], w->h[l], W, b, rows, in, out, ACT_NONE, &s->bounds);
        be->layernorm(be, w->h[l + 1], w->z[l + 1], gain, shift, w->mean[l + 1], w->rstd[l + 1],
                      rows, out, mlp_layer_act(s, l));
    }
    return w->h[s->n_layers];
}

void mlp_layer_act_grad(Backend *be, const MlpShape *s, MlpWork *w, int rows, int l) {
    be->act_grad(be, w->dh[l + 1], w->h[l + 1], rows, s->sizes[l + 1], mlp_layer_act(s, l),
                 &s->bounds);
}

void mlp_layer_norm_grad(Backend *be, const MlpShape *s, const float *params, MlpWork *w,
                         int rows, int l, float *grads) {
    if (!mlp_layer_normed(s, l)) return;
    int out = s->sizes[l + 1];
    float *dgain = grads ? grads + s->g_off[l] : NULL, *dshift = grads ? dgain + out : NULL;
    be->layernorm_grad(be, w->dz[l + 1], dgain, dshift, w->dh[l + 1], w->z[l + 1],
                       params + s->g_off[l], w->mean[l + 1], w->rstd[l + 1], rows, out);
}

/* Layer l's gradient before its activation (and LayerNorm). */
static float *layer_dz(const MlpShape *s, const MlpWork *w, int l) {
    return mlp_layer_normed(s, l) ? w->dz[l + 1] : w->dh[l + 1];
}

void mlp_layer_param_grads(Backend *be, const MlpShape *s, const MlpWork *w, int rows, int l,
                           float *grads) {
    int in = s->sizes[l], out = s->sizes[l + 1];
    const float *dz = layer_dz(s, w, l);
    be->gemm(be, 1, 0, out, in, rows, 1.0f, dz, out, w->h[l], in, 0.0f, grads + s->w_off[l], in);
    be->col_sum(be, grads + s->b_off[l], dz, rows, out);
}

void mlp_layer_input_grad(Backend *be, const MlpShape *s, const float *params, MlpWork *w,
                          int rows, int l, float *dx) {
    int in = s->sizes[l], out = s->sizes[l + 1];
    be->gemm(be, 0, 0, rows, in, out, 1.0f, layer_dz(s, w, l), out, params + s->w_off[l], in,
             0.0f, l > 0 ? w->dh[l] : dx, in);
}

void mlp_backward(Backend *be, const MlpShape *s, const float *params, int rows, MlpWork *w,
                  const float *dy, float *grads, float *dx) {
    int L = s->n_layers;
    be->copy(be, w->dh[L], dy, sizeof(float) * (size_t)rows * s->sizes[L]);
    for (int l = L - 1; l >= 0; l--) {
        mlp_layer_act_grad(be, s, w, rows, l);
        mlp_layer_norm_grad(be, s, params, w, rows, l, grads);
        if (grads) mlp_layer_param_grads(be, s, w, rows, l, grads);
        if (l > 0 || dx) mlp_layer_input_grad(be, s, params, w, rows, l, dx);
    }
}
