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
        if (be->run_lanes && !(w->dh2[l] = be->alloc(be, bytes))) return -1;
        if (be->relu_masks && l > 0 && layer_act(s, l - 1) == ACT_RELU &&
            !(w->mask[l] = be->alloc(be, sizeof(uint32_t) * (size_t)max_rows *
                                              relu_mask_words(s->sizes[l]))))
            return -1;
    }
    return 0;
}

void mlp_work_destroy(MlpWork *w, Backend *be) {
    for (int l = 0; l <= MLP_MAX_LAYERS; l++) {
        if (l > 0 && w->h[l]) be->free(be, w->h[l]);
        if (w->dh[l]) be->free(be, w->dh[l]);
        if (w->dh2[l]) be->free(be, w->dh2[l]);
        if (w->mask[l]) be->free(be, w->mask[l]);
    }
    memset(w, 0, sizeof *w);
}

MlpWork mlp_work_rows(const MlpWork *w, const MlpShape *s, int row0) {
    MlpWork v = *w;
    v.max_rows = w->max_rows - row0;
    for (int l = 0; l <= s->n_layers; l++) {
        if (l > 0) v.h[l] = w->h[l] + (size_t)row0 * s->sizes[l];
        v.dh[l] = w->dh[l] + (size_t)row0 * s->sizes[l];
        if (w->dh2[l]) v.dh2[l] = w->dh2[l] + (size_t)row0 * s->sizes[l];
        if (w->mask[l]) v.mask[l] = w->mask[l] + (size_t)row0 * relu_mask_words(s->sizes[l]);
    }
    return v;
}

float *mlp_forward(Backend *be, const MlpShape *s, const float *params, const float *x, int rows,
                   MlpWork *w) {
    w->h[0] = (float *)x;
    for (int l = 0; l < s->n_layers; l++) {
        int in = s->sizes[l], out = s->sizes[l + 1];
        /* h[l+1] = act(h[l] W^T + b) */
        be->linear_act(be, w->h[l + 1], w->h[l], params + s->w_off[l], params + s->b_off[l], rows,
                       in, out, layer_act(s, l), &s->bounds, w->mask[l + 1]);
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
    double *sumsq; /* per layer: the sum of squares of its dW and db, or NULL */
    int fork; /* the layer whose dW and dX run as two lanes */
    int pend; /* layers fork+1..pend have their dW and db still to do */
} Backward;

/* A layer is worth two lanes when its GEMMs have this many multiply-adds. */
#define MLP_FORK_MIN_MACS (1 << 20)

/* Layer l's dW and its dX are worth two lanes: the dX is wanted (l > 0, or
 * the caller asked for dx) and the GEMMs are large. */
static int layer_forks(const Backward *b, int l) {
    const MlpShape *s = b->s;
    return b->grads && (l > 0 || b->dx) &&
           (double)b->rows * s->sizes[l] * s->sizes[l + 1] >= MLP_FORK_MIN_MACS;
}

/* Through layer l's activation: dz = dh[l+1] * act'(h[l+1]), in place. */
static void through_act(const Backward *b, int l) {
    const MlpShape *s = b->s;
    b->be->act_grad(b->be, b->w->dh[l + 1], b->w->h[l + 1], b->rows, s->sizes[l + 1],
                    layer_act(s, l), &s->bounds, b->w->mask[l + 1]);
}

/* dW_l (out,in) = dz^T h[l]; db_l = column sums of dz, with dz = dh[l+1]. */
static void layer_param_grads(const Backward *b, int l) {
    const MlpShape *s = b->s;
    int in = s->sizes[l], out = s->sizes[l + 1];
    float *dz = b->w->dh[l + 1];
    b->be->gemm(b->be, 1, 0, out, in, b->rows, 1.0f, dz, out, b->w->h[l], in, 0.0f,
                b->grads + s->w_off[l], in);
    b->be->col_sum(b->be, b->grads + s->b_off[l], dz, b->rows, out);
    /* W_l and b_l are adjacent in the flat layout: one sum over both */
    if (b->sumsq) b->be->sumsq(b->be, b->sumsq + l, b->grads + s->w_off[l], (size_t)out * (in + 1));
}

/* dh[l] (rows,in) = dz W_l, or dx for l = 0. */
static void layer_input_grad(const Backward *b, int l) {
    const MlpShape *s = b->s;
    int in = s->sizes[l], out = s->sizes[l + 1];
    float *dst = l > 0 ? b->w->dh[l] : b->dx;
    b->be->gemm(b->be, 0, 0, b->rows, in, out, 1.0f, b->w->dh[l + 1], out,
                b->params + s->w_off[l], in, 0.0f, dst, in);
}

/* dh[l] = dz W_l as layer_input_grad, and for a layer with one output
 * (l > 0) also through the activation of layer l - 1, in one op. Returns 1
 * when dh[l] is already that layer's dz. */
static int layer_input_grad_act(const Backward *b, int l) {
    const MlpShape *s = b->s;
    if (l == 0 || s->sizes[l + 1] != 1) {
        layer_input_grad(b, l);
        return 0;
    }
    b->be->outer_act_grad(b->be, b->w->dh[l], b->w->dh[l + 1], b->params + s->w_off[l],
                          b->w->h[l], b->rows, s->sizes[l], layer_act(s, l - 1), &s->bounds,
                          b->w->mask[l]);
    return 1;
}

static void backward_layers(const Backward *b, int top, int dz_ready);

/* Lane 0: the forked layer's dW and db, and those of the small layers above
 * it, which nothing below needs. Lane 1: its dX, then every layer below it.
 * They write disjoint buffers and read only what lane 1 leaves alone (dz of
 * the forked layer and above, h[l]). */
static void backward_lane(void *ctx, int lane) {
    const Backward *b = ctx;
    if (lane == 0) {
        for (int l = b->pend; l >= b->fork; l--) layer_param_grads(b, l);
    } else {
        backward_layers(b, b->fork - 1, layer_input_grad_act(b, b->fork));
    }
}

/* Layers top..0; dz_ready: dh[top + 1] already went through the activation. */
static void backward_layers(const Backward *b, int top, int dz_ready) {
    for (int l = top; l >= 0; l--) {
        if (!dz_ready) through_act(b, l);
        if (layer_forks(b, l)) {
            Backward f = *b;
            f.fork = l;
            f.pend = top;
            backend_run_lanes(b->be, 2, backward_lane, &f);
            return;
        }
        /* a small layer's dW waits for the next fork's short lane: only dX
         * is on the way down */
        dz_ready = (l > 0 || b->dx) && layer_input_grad_act(b, l);
    }
    if (b->grads)
        for (int l = top; l >= 0; l--) layer_param_grads(b, l);
}

/* The highest layer whose dW and dX are worth two lanes, or -1. */
static int top_fork_layer(const Backward *b) {
    for (int l = b->s->n_layers - 1; l >= 0; l--)
        if (layer_forks(b, l)) return l;
    return -1;
}

/* From dy down to dz of layer f (in b->w->dh[f + 1]): through the output
 * activation and the small layers above f, their dX only. */
static void dz_down_to(const Backward *b, const float *dy, int f) {
    const MlpShape *s = b->s;
    int L = s->n_layers;
    b->be->copy(b->be, b->w->dh[L], dy, sizeof(float) * (size_t)b->rows * s->sizes[L]);
    int dz_ready = 0;
    for (int l = L - 1; l >= f; l--) {
        if (!dz_ready) through_act(b, l);
        dz_ready = l > f && layer_input_grad_act(b, l);
    }
}

typedef struct {
    const Backward *b; /* fork = the top fork layer */
    const float *dy;
} TopFork;

/* Both lanes work out dz of the fork layer from dy, each into its own
 * buffers (lane 1 into dh2): the small layers above it cost less twice over
 * than once while the other core waits, and than moving their gradients
 * between the cores. Then lane 0 does the dW and db of the fork layer and
 * those above; lane 1 its dX and everything below. */
static void top_fork_lane(void *ctx, int lane) {
    const TopFork *t = ctx;
    const Backward *b = t->b;
    int f = b->fork, L = b->s->n_layers;
    if (lane == 0) {
        dz_down_to(b, t->dy, f);
        for (int l = L - 1; l >= f; l--) layer_param_grads(b, l);
        return;
    }
    MlpWork w2 = *b->w;
    for (int l = f + 1; l <= L; l++) w2.dh[l] = b->w->dh2[l];
    Backward b2 = *b;
    b2.w = &w2;
    dz_down_to(&b2, t->dy, f);
    /* into the shared dh[f] (or dx) */
    backward_layers(b, f - 1, layer_input_grad_act(&b2, f));
}

void mlp_backward(Backend *be, const MlpShape *s, const float *params, int rows, MlpWork *w,
                  const float *dy, float *grads, double *grad_sumsq, float *dx) {
    int L = s->n_layers;
    Backward b = {be, s, params, rows, w, grads, dx,
                  grads && be->sumsq ? grad_sumsq : NULL, -1, -1};
    b.fork = top_fork_layer(&b);
    if (b.fork >= 0 && be->run_lanes && w->dh2[L]) {
        TopFork t = {&b, dy};
        be->run_lanes(be, 2, top_fork_lane, &t);
        return;
    }
    be->copy(be, w->dh[L], dy, sizeof(float) * (size_t)rows * s->sizes[L]);
    backward_layers(&b, L - 1, 0);
}
