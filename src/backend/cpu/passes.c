/* passes.c - the CPU schedule's MLP passes: mlp_forward and mlp_backward's
 * numbers, arranged for two cores.
 *
 * The forward pass also writes the ReLU masks of the hidden layers (of a
 * normalised layer, the mask of ReLU after its LayerNorm). The backward pass
 * runs a large layer's weight gradient (dW, db, and a normalised layer's
 * gain and shift gradients) beside its input gradient (dX) as two parts on
 * the pool's threads ("lanes"): lane 0 takes the dW of the forked layer and
 * of the small layers above it, lane 1 the dX and everything below. Both
 * lanes first work out the forked layer's dz from dy (through its
 * LayerNorm, when it has one), each into its own buffers (lane 1 into dh2
 * and dz2): the small layers above cost less twice over than once while
 * the other core waits, or than moving their gradients between the cores.
 * The dX lane reads ReLU's derivative from the masks, 4 KB per 128 x 256
 * layer, not from the activations the other core wrote (128 KB, whose lines
 * the next forward pass would have to take back). Each layer's dW lane also
 * sums the squares of the gradient it just made, while it is in that core's
 * cache, for the optimizer's norm. Per-phase times are in
 * bench/results/cpu_update.md.
 */
#include "passes.h"

#include "cpu_common.h"

float *cpu_pass_forward(Backend *be, const MlpShape *s, const float *params, const float *x,
                        int rows, CpuPass *p) {
    MlpWork *w = &p->w;
    w->h[0] = (float *)x;
    for (int l = 0; l < s->n_layers; l++) {
        int in = s->sizes[l], out = s->sizes[l + 1];
        const float *W = params + s->w_off[l], *b = params + s->b_off[l];
        if (!mlp_layer_normed(s, l)) {
            cpu_linear_act_mask(be, w->h[l + 1], w->h[l], W, b, rows, in, out,
                                mlp_layer_act(s, l), &s->bounds, p->mask[l + 1]);
            continue;
        }
        const float *gain = params + s->g_off[l], *shift = gain + out;
        cpu_linear_act_mask(be, w->z[l + 1], w->h[l], W, b, rows, in, out, ACT_NONE, &s->bounds,
                            NULL);
        cpu_layernorm_mask(be, w->h[l + 1], w->z[l + 1], gain, shift, w->mean[l + 1],
                           w->rstd[l + 1], rows, out, mlp_layer_act(s, l), p->mask[l + 1]);
    }
    return w->h[s->n_layers];
}

CpuPass cpu_pass_rows(const CpuPass *p, const MlpShape *s, int row0) {
    CpuPass v = *p;
    const MlpWork *w = &p->w;
    v.w.max_rows = w->max_rows - row0;
    for (int l = 1; l <= s->n_layers; l++) {
        size_t off = (size_t)row0 * s->sizes[l];
        v.w.h[l] = w->h[l] + off;
        if (w->dh[l]) v.w.dh[l] = w->dh[l] + off;
        if (w->z[l]) v.w.z[l] = w->z[l] + off;
        if (w->dz[l]) v.w.dz[l] = w->dz[l] + off;
        if (w->mean[l]) v.w.mean[l] = w->mean[l] + row0, v.w.rstd[l] = w->rstd[l] + row0;
        if (p->dh2[l]) v.dh2[l] = p->dh2[l] + off;
        if (p->dz2[l]) v.dz2[l] = p->dz2[l] + off;
        if (p->mask[l]) v.mask[l] = p->mask[l] + (size_t)row0 * relu_mask_words(s->sizes[l]);
    }
    return v;
}

/* ---- backward ---- */

typedef struct {
    Backend *be;
    const MlpShape *s;
    const float *params;
    int rows;
    const CpuPass *p;
    float *grads, *dx;
    double *sumsq; /* per layer: the sum of squares of its dW, db (gain, shift), or NULL */
    int fork;      /* the layer whose dW and dX run as two lanes */
    int pend;      /* layers fork+1..pend have their dW and db still to do */
} Backward;

/* A layer is worth two lanes when its GEMMs have this many multiply-adds
 * (about 20 us of sgemm on one core; a hand-off costs about 1 us). */
#define FORK_MIN_MACS (1 << 20)

static float *dh(const Backward *b, int l) { return b->p->w.dh[l]; }

/* Layer l's gradient before its activation and LayerNorm, which its dW and
 * dX read: dh[l+1], or a normalised layer's dz[l+1]. */
static float *dz(const Backward *b, int l) {
    return mlp_layer_normed(b->s, l) ? b->p->w.dz[l + 1] : dh(b, l + 1);
}

/* Layer l's dW and its dX are worth two lanes: the dX is wanted (l > 0, or
 * the caller asked for dx) and the GEMMs are large. */
static int layer_forks(const Backward *b, int l) {
    const MlpShape *s = b->s;
    return b->grads && (l > 0 || b->dx) &&
           (double)b->rows * s->sizes[l] * s->sizes[l + 1] >= FORK_MIN_MACS;
}

/* Through a normalised layer l's LayerNorm: dz[l+1] from dh[l+1] (dX only). */
static void through_norm(const Backward *b, int l) {
    if (!mlp_layer_normed(b->s, l)) return;
    const MlpWork *w = &b->p->w;
    cpu_layernorm_dx(b->be, w->dz[l + 1], w->dh[l + 1], w->z[l + 1],
                     b->params + b->s->g_off[l], w->mean[l + 1], w->rstd[l + 1], b->rows,
                     b->s->sizes[l + 1]);
}

/* Through layer l's activation, dh[l+1] *= act'(h[l+1]) in place, and its
 * LayerNorm: dz(l) is made. */
static void through_act(const Backward *b, int l) {
    const MlpShape *s = b->s;
    cpu_act_grad_mask(b->be, dh(b, l + 1), b->p->w.h[l + 1], b->rows, s->sizes[l + 1],
                      mlp_layer_act(s, l), &s->bounds, b->p->mask[l + 1]);
    through_norm(b, l);
}

/* A normalised layer's gain and shift gradients (from dh[l+1], after the
 * activation); dW_l (out,in) = dz^T h[l]; db_l = column sums of dz. */
static void layer_param_grads(const Backward *b, int l) {
    const MlpShape *s = b->s;
    const MlpWork *w = &b->p->w;
    int in = s->sizes[l], out = s->sizes[l + 1];
    if (mlp_layer_normed(s, l)) {
        float *dgain = b->grads + s->g_off[l];
        cpu_layernorm_dparams(b->be, dgain, dgain + out, w->dh[l + 1], w->z[l + 1],
                              w->mean[l + 1], w->rstd[l + 1], b->rows, out);
    }
    float *dzl = dz(b, l);
    cpu_gemm(b->be, 1, 0, out, in, b->rows, 1.0f, dzl, out, w->h[l], in, 0.0f,
             b->grads + s->w_off[l], in);
    cpu_col_sum(b->be, b->grads + s->b_off[l], dzl, b->rows, out);
    /* W_l, b_l (gain_l, shift_l) are adjacent in the flat layout: one part of the norm */
    if (b->sumsq) b->sumsq[l] = cpu_part_sumsq(b->grads + s->w_off[l], mlp_layer_params(s, l));
}

/* dh[l] (rows,in) = dz W_l, or dx for l = 0. */
static void layer_input_grad(const Backward *b, int l) {
    const MlpShape *s = b->s;
    int in = s->sizes[l], out = s->sizes[l + 1];
    float *dst = l > 0 ? dh(b, l) : b->dx;
    cpu_gemm(b->be, 0, 0, b->rows, in, out, 1.0f, dz(b, l), out, b->params + s->w_off[l], in,
             0.0f, dst, in);
}

/* dh[l] = dz W_l as layer_input_grad, and for a layer with one output
 * (l > 0) also through the activation of layer l - 1, in one op, and its
 * LayerNorm. Returns 1 when dz(l - 1) is made. */
static int layer_input_grad_act(const Backward *b, int l) {
    const MlpShape *s = b->s;
    if (l == 0 || s->sizes[l + 1] != 1) {
        layer_input_grad(b, l);
        return 0;
    }
    cpu_outer_act_grad(b->be, dh(b, l), dz(b, l), b->params + s->w_off[l], b->p->w.h[l],
                       b->rows, s->sizes[l], mlp_layer_act(s, l - 1), &s->bounds, b->p->mask[l]);
    through_norm(b, l - 1);
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

/* Layers top..0; dz_ready: dz(top) is already made. */
static void backward_layers(const Backward *b, int top, int dz_ready) {
    for (int l = top; l >= 0; l--) {
        if (!dz_ready) through_act(b, l);
        if (layer_forks(b, l)) {
            Backward f = *b;
            f.fork = l;
            f.pend = top;
            cpu_run_parts(b->be, 2, backward_lane, &f);
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

/* From dy down to dz of layer f (in dh[f + 1]): through the output
 * activation and the small layers above f, their dX only. */
static void dz_down_to(const Backward *b, const float *dy, int f) {
    const MlpShape *s = b->s;
    int L = s->n_layers;
    b->be->copy(b->be, dh(b, L), dy, sizeof(float) * (size_t)b->rows * s->sizes[L]);
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

/* Both lanes work out dz of the fork layer from dy, lane 1 into dh2 and dz2. Then
 * lane 0 does the dW and db of the fork layer and those above; lane 1 its
 * dX and everything below. */
static void top_fork_lane(void *ctx, int lane) {
    const TopFork *t = ctx;
    const Backward *b = t->b;
    int f = b->fork, L = b->s->n_layers;
    if (lane == 0) {
        dz_down_to(b, t->dy, f);
        for (int l = L - 1; l >= f; l--) layer_param_grads(b, l);
        return;
    }
    CpuPass p2 = *b->p;
    for (int l = f + 1; l <= L; l++) p2.w.dh[l] = b->p->dh2[l], p2.w.dz[l] = b->p->dz2[l];
    Backward b2 = *b;
    b2.p = &p2;
    dz_down_to(&b2, t->dy, f);
    /* into the shared dh[f] (or dx) */
    backward_layers(b, f - 1, layer_input_grad_act(&b2, f));
}

void cpu_pass_backward(Backend *be, const MlpShape *s, const float *params, int rows,
                       const CpuPass *p, const float *dy, float *grads, double *sumsq,
                       float *dx) {
    int L = s->n_layers;
    Backward b = {be, s, params, rows, p, grads, dx, grads ? sumsq : NULL, -1, -1};
    b.fork = top_fork_layer(&b);
    /* inside a pool task (one of TD3's critics) the lanes would run one
     * after the other: no second lane's copy of the top layers then */
    if (b.fork >= 0 && cpu_threads(be) > 1 && p->dh2[L] && !pool_in_task()) {
        TopFork t = {&b, dy};
        cpu_run_parts(be, 2, top_fork_lane, &t);
        return;
    }
    be->copy(be, dh(&b, L), dy, sizeof(float) * (size_t)rows * s->sizes[L]);
    backward_layers(&b, L - 1, 0);
}
