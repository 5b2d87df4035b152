/* mlp.c - MLP forward and backward on backend ops. */
#include "ddpg/mlp.h"

#include <math.h>
#include <string.h>

#include "ddpg/elem.h"

void mlp_shape_init(MlpShape *s, int in, const int *hidden, int n_hidden, int out,
                    Activation out_act, const ActionBounds *bounds) {
    memset(s, 0, sizeof *s);
    s->n_layers = n_hidden + 1;
    s->sizes[0] = in;
    for (int i = 0; i < n_hidden; i++) s->sizes[i + 1] = hidden[i];
    s->sizes[s->n_layers] = out;
    s->out_act = out_act;
    if (bounds) s->bounds = *bounds;
    size_t off = 0;
    for (int l = 0; l < s->n_layers; l++) {
        s->w_off[l] = off;
        off += (size_t)s->sizes[l + 1] * s->sizes[l];
        s->b_off[l] = off;
        off += (size_t)s->sizes[l + 1];
    }
    s->n_params = off;
}

void mlp_init_params(const MlpShape *s, float *p, uint64_t seed, uint32_t stream) {
    uint64_t ctr = 0;
    for (int l = 0; l < s->n_layers; l++) {
        float bound = 1.0f / sqrtf((float)s->sizes[l]);
        size_t n = (size_t)s->sizes[l + 1] * s->sizes[l] + s->sizes[l + 1];
        float *base = p + s->w_off[l]; /* W then b are contiguous */
        for (size_t i = 0; i < n; i++, ctr++) {
            Philox4 r = philox4x32(seed, stream, RNG_INIT, ctr);
            base[i] = bound * (2.0f * rng_u01f(r.v[0]) - 1.0f);
        }
    }
}

static Activation layer_act(const MlpShape *s, int l) {
    return l == s->n_layers - 1 ? s->out_act : ACT_RELU;
}

int mlp_work_create(MlpWork *w, Backend *be, const MlpShape *s, int max_rows) {
    memset(w, 0, sizeof *w);
    w->max_rows = max_rows;
    for (int l = 0; l <= s->n_layers; l++) {
        size_t bytes = sizeof(float) * (size_t)max_rows * s->sizes[l];
        if (l > 0 && !(w->h[l] = be->alloc(be, bytes))) return -1;
        if (!(w->dh[l] = be->alloc(be, bytes))) return -1;
    }
    return 0;
}

void mlp_work_destroy(MlpWork *w, Backend *be) {
    for (int l = 0; l <= MLP_MAX_LAYERS; l++) {
        if (l > 0 && w->h[l]) be->free(be, w->h[l]);
        if (w->dh[l]) be->free(be, w->dh[l]);
    }
    memset(w, 0, sizeof *w);
}

MlpWork mlp_work_rows(const MlpWork *w, const MlpShape *s, int row0) {
    MlpWork v = *w;
    v.max_rows = w->max_rows - row0;
    for (int l = 0; l <= s->n_layers; l++) {
        if (l > 0) v.h[l] = w->h[l] + (size_t)row0 * s->sizes[l];
        v.dh[l] = w->dh[l] + (size_t)row0 * s->sizes[l];
    }
    return v;
}

float *mlp_forward(Backend *be, const MlpShape *s, const float *params, const float *x, int rows,
                   MlpWork *w) {
    w->h[0] = (float *)x;
    for (int l = 0; l < s->n_layers; l++) {
        int in = s->sizes[l], out = s->sizes[l + 1];
        /* h[l+1] = h[l] W^T, then bias and activation */
        be->gemm(be, 0, 1, rows, out, in, 1.0f, w->h[l], in, params + s->w_off[l], in, 0.0f,
                 w->h[l + 1], out);
        be->bias_act(be, w->h[l + 1], params + s->b_off[l], rows, out, layer_act(s, l),
                     &s->bounds);
    }
    return w->h[s->n_layers];
}

/* ---- backward ---- */

typedef struct {
    Backend *be;
    const MlpShape *s;
    const float *params;
    int rows;
    MlpWork *w;
    float *grads, *dx;
    int fork; /* the layer whose dW and dX run as two lanes */
} Backward;

/* A layer is worth two lanes when its GEMMs have this many multiply-adds. */
#define MLP_FORK_MIN_MACS (1 << 20)

/* dW_l (out,in) = dz^T h[l]; db_l = column sums of dz, with dz = dh[l+1]. */
static void layer_param_grads(const Backward *b, int l) {
    const MlpShape *s = b->s;
    int in = s->sizes[l], out = s->sizes[l + 1];
    float *dz = b->w->dh[l + 1];
    b->be->gemm(b->be, 1, 0, out, in, b->rows, 1.0f, dz, out, b->w->h[l], in, 0.0f,
                b->grads + s->w_off[l], in);
    b->be->col_sum(b->be, b->grads + s->b_off[l], dz, b->rows, out);
}

/* dh[l] (rows,in) = dz W_l, or dx for l = 0. */
static void layer_input_grad(const Backward *b, int l) {
    const MlpShape *s = b->s;
    int in = s->sizes[l], out = s->sizes[l + 1];
    float *dst = l > 0 ? b->w->dh[l] : b->dx;
    b->be->gemm(b->be, 0, 0, b->rows, in, out, 1.0f, b->w->dh[l + 1], out,
                b->params + s->w_off[l], in, 0.0f, dst, in);
}

static void backward_layers(const Backward *b, int top);

/* Lane 0: the forked layer's dW and db. Lane 1: its dX, then every layer
 * below it. They write disjoint buffers and read only what lane 1 leaves
 * alone (dz of the forked layer, h[l]). */
static void backward_lane(void *ctx, int lane) {
    const Backward *b = ctx;
    if (lane == 0) {
        layer_param_grads(b, b->fork);
    } else {
        layer_input_grad(b, b->fork);
        backward_layers(b, b->fork - 1);
    }
}

static void backward_layers(const Backward *b, int top) {
    const MlpShape *s = b->s;
    for (int l = top; l >= 0; l--) {
        int in = s->sizes[l], out = s->sizes[l + 1];
        /* through the activation: dz = dh[l+1] * act'(h[l+1]) */
        b->be->act_grad(b->be, b->w->dh[l + 1], b->w->h[l + 1], b->rows, out, layer_act(s, l),
                        &s->bounds);
        int want_dx = l > 0 || b->dx;
        if (b->grads && want_dx &&
            (double)b->rows * in * out >= MLP_FORK_MIN_MACS) {
            Backward f = *b;
            f.fork = l;
            backend_run_lanes(b->be, 2, backward_lane, &f);
            return;
        }
        if (b->grads) layer_param_grads(b, l);
        if (want_dx) layer_input_grad(b, l);
    }
}

void mlp_backward(Backend *be, const MlpShape *s, const float *params, int rows, MlpWork *w,
                  const float *dy, float *grads, float *dx) {
    int L = s->n_layers;
    be->copy(be, w->dh[L], dy, sizeof(float) * (size_t)rows * s->sizes[L]);
    Backward b = {be, s, params, rows, w, grads, dx, -1};
    backward_layers(&b, L - 1);
}
