/* test_mlp.c - the MLP and the DDPG losses' gradients against finite differences.
 *
 * The backward pass runs in float32 on the CPU backend. The finite differences
 * are central differences in double, of a double-precision forward pass
 * written here independently of src/agent/mlp.c (and itself checked against
 * mlp_forward), with step FD_H = 1e-6: truncation error ~h^2 and rounding
 * error ~1e-16/h, both far below the float32 error of the gradient under test.
 * A gradient g passes when |g - fd| <= 1e-5 (|fd| + max_k |fd_k|): float32
 * arithmetic on these small nets errs by < 5e-7 of the largest gradient, a
 * wrong gradient by O(|fd|).
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/elem.h"
#include "ddpg/mlp.h"
#include "suites.h"

#define FD_H 1e-6
#define GRAD_RTOL 1e-5
/* The base point must be this far from every ReLU kink for the central
 * difference to see one linear piece. */
#define KINK_MARGIN 1e-4

/* Deterministic test data: uniform in [lo, hi) from Philox (elem.h). */
static float test_uniform(uint64_t seed, uint32_t i, float lo, float hi) {
    Philox4 r = philox4x32(seed, i, 0x7e57, 0);
    return lo + (hi - lo) * rng_u01f(r.v[0]);
}

static void fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = test_uniform(seed, (uint32_t)i, lo, hi);
}

static double *to_double(const float *x, size_t n) {
    double *d = malloc(sizeof(double) * n);
    ck_assert_ptr_nonnull(d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

/* ---- the reference: an MLP forward pass in double ---------------------- */

/* y(rows, out) = the MLP of shape s at params p (flat, W (out,in) then b per
 * layer, as torch.nn.Linear) on x(rows, in). Returns the smallest |pre-
 * activation| of any ReLU unit, to keep finite differences off the kinks. */
static double ref_forward(const MlpShape *s, const double *p, const double *x, int rows,
                          double *y) {
    int width = 0;
    for (int l = 0; l <= s->n_layers; l++) width = s->sizes[l] > width ? s->sizes[l] : width;
    double *a = malloc(sizeof(double) * width), *z = malloc(sizeof(double) * width);
    ck_assert(a && z);
    double min_kink = INFINITY;
    for (int r = 0; r < rows; r++) {
        memcpy(a, x + (size_t)r * s->sizes[0], sizeof(double) * s->sizes[0]);
        for (int l = 0; l < s->n_layers; l++) {
            int in = s->sizes[l], out = s->sizes[l + 1];
            const double *W = p + s->w_off[l], *b = p + s->b_off[l];
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int i = 0; i < in; i++) acc += W[(size_t)o * in + i] * a[i];
                z[o] = acc;
            }
            if (mlp_layer_normed(s, l)) { /* torch.nn.LayerNorm: biased variance, eps 1e-5 */
                const double *gain = p + s->g_off[l], *shift = gain + out;
                double mean = 0.0, var = 0.0;
                for (int o = 0; o < out; o++) mean += z[o] / out;
                for (int o = 0; o < out; o++) var += (z[o] - mean) * (z[o] - mean) / out;
                for (int o = 0; o < out; o++)
                    z[o] = (z[o] - mean) / sqrt(var + 1e-5) * gain[o] + shift[o];
            }
            int last = l == s->n_layers - 1;
            for (int o = 0; o < out; o++) {
                if (!last) {
                    if (fabs(z[o]) < min_kink) min_kink = fabs(z[o]);
                    a[o] = z[o] > 0.0 ? z[o] : 0.0;
                } else if (s->out_act == ACT_TANH_SCALE) {
                    double lo = s->bounds.low[o], hi = s->bounds.high[o];
                    a[o] = 0.5 * (hi - lo) * tanh(z[o]) + 0.5 * (hi + lo);
                } else {
                    ck_assert_int_eq(s->out_act, ACT_NONE);
                    a[o] = z[o];
                }
            }
        }
        memcpy(y + (size_t)r * s->sizes[s->n_layers], a, sizeof(double) * s->sizes[s->n_layers]);
    }
    free(a);
    free(z);
    return min_kink;
}

/* Central difference of f along v[k]. */
typedef double (*LossFn)(void *ctx);
static double central_diff(LossFn f, void *ctx, double *v, size_t k) {
    double v0 = v[k];
    v[k] = v0 + FD_H;
    double lp = f(ctx);
    v[k] = v0 - FD_H;
    double lm = f(ctx);
    v[k] = v0;
    return (lp - lm) / (2.0 * FD_H);
}

/* Compares n analytic gradients g with finite differences of f along v:
 * |g - fd| <= GRAD_RTOL (|fd| + max |fd|) + 1e-9. Returns how many are
 * clearly nonzero (above 1e-3 of the largest), so that a test cannot pass on
 * all zeros. */
static int check_grads(const char *what, const float *g, LossFn f, void *ctx, double *v,
                       size_t n) {
    double *fd = malloc(sizeof(double) * n), scale = 0.0;
    ck_assert_ptr_nonnull(fd);
    for (size_t k = 0; k < n; k++) {
        fd[k] = central_diff(f, ctx, v, k);
        scale = fmax(scale, fabs(fd[k]));
    }
    int nonzero = 0;
    for (size_t k = 0; k < n; k++) {
        double err = fabs((double)g[k] - fd[k]);
        double tol = GRAD_RTOL * (fabs(fd[k]) + scale) + 1e-9;
        ck_assert_msg(err <= tol,
                      "%s[%zu]: backward %.8g, finite difference %.8g (|diff| %.3g > %.3g)", what,
                      k, (double)g[k], fd[k], err, tol);
        nonzero += fabs(fd[k]) > 1e-3 * scale;
    }
    free(fd);
    return nonzero;
}

/* ---- mlp_backward ------------------------------------------------------ */

/* L = sum_ij G_ij y_ij, so dL/dy = G. */
typedef struct {
    const MlpShape *s;
    double *p, *x, *G, *y;
    int rows;
} MlpLoss;

static double mlp_loss(void *ctx) {
    MlpLoss *c = ctx;
    ref_forward(c->s, c->p, c->x, c->rows, c->y);
    double L = 0.0;
    for (int i = 0; i < c->rows * c->s->sizes[c->s->n_layers]; i++) L += c->G[i] * c->y[i];
    return L;
}

static void check_mlp_backward(int in, const int *hidden, int n_hidden, int out,
                               Activation act, const ActionBounds *ab, uint64_t seed,
                               int layer_norm) {
    Backend *be = backend_cpu_create(1);
    const int rows = 6;
    MlpShape s;
    mlp_shape_init(&s, in, hidden, n_hidden, out, act, ab);
    if (layer_norm) mlp_shape_layer_norm(&s);
    size_t np = s.n_params, nx = (size_t)rows * in, ny = (size_t)rows * out;
    float *p = be->alloc(be, sizeof(float) * np);
    float *x = be->alloc(be, sizeof(float) * nx);
    float *G = be->alloc(be, sizeof(float) * ny);
    float *grads = be->alloc(be, sizeof(float) * np);
    float *dx = be->alloc(be, sizeof(float) * nx);
    float *grads2 = be->alloc(be, sizeof(float) * np);
    float *dx2 = be->alloc(be, sizeof(float) * nx);
    ck_assert(p && x && G && grads && dx && grads2 && dx2);
    /* Weights at 2x PyTorch's init so that the tanh head leaves its linear range. */
    mlp_init_params(&s, p, seed, 0);
    for (size_t k = 0; k < np; k++) p[k] *= 2.0f;
    for (int l = 0; l < s.n_layers; l++) /* LayerNorm's gain and shift away from 1 and 0 */
        if (mlp_layer_normed(&s, l)) {
            size_t out = (size_t)s.sizes[l + 1];
            fill_uniform(p + s.g_off[l], out, seed + 3 + l, 0.5f, 1.5f);
            fill_uniform(p + s.g_off[l] + out, out, seed + 13 + l, -0.3f, 0.3f);
        }
    fill_uniform(x, nx, seed + 1, -2.0f, 2.0f);
    fill_uniform(G, ny, seed + 2, -1.0f, 1.0f);

    MlpWork w;
    ck_assert_int_eq(mlp_work_create(&w, be, &s, rows), 0);
    const float *y = mlp_forward(be, &s, p, x, rows, &w);

    MlpLoss c = {&s, to_double(p, np), to_double(x, nx), to_double(G, ny),
                 malloc(sizeof(double) * ny), rows};
    ck_assert_ptr_nonnull(c.y);
    double kink = ref_forward(&s, c.p, c.x, rows, c.y);
    ck_assert_msg(kink > KINK_MARGIN, "test setup: a ReLU input is %.3g from the kink", kink);
    for (size_t i = 0; i < ny; i++)
        ck_assert_msg(fabs(y[i] - c.y[i]) <= 1e-5 * (1.0 + fabs(c.y[i])),
                      "mlp_forward y[%zu] = %.8g, double reference %.8g", i, (double)y[i], c.y[i]);
    if (act == ACT_TANH_SCALE) { /* the head must be exercised away from its centre */
        int far = 0;
        for (size_t i = 0; i < ny; i++) {
            int o = (int)(i % out);
            double sc = 0.5 * (ab->high[o] - ab->low[o]), sh = 0.5 * (ab->high[o] + ab->low[o]);
            far += fabs((c.y[i] - sh) / sc) > 0.3;
        }
        ck_assert_msg(far > 0, "test setup: tanh head never leaves its linear range");
    }

    mlp_backward(be, &s, p, rows, &w, G, grads, dx);
    char what[64];
    int nz = 0;
    for (int l = 0; l < s.n_layers; l++) {
        size_t nw = (size_t)s.sizes[l + 1] * s.sizes[l];
        snprintf(what, sizeof what, "dW%d", l);
        nz += check_grads(what, grads + s.w_off[l], mlp_loss, &c, c.p + s.w_off[l], nw);
        snprintf(what, sizeof what, "db%d", l);
        nz += check_grads(what, grads + s.b_off[l], mlp_loss, &c, c.p + s.b_off[l],
                          (size_t)s.sizes[l + 1]);
        if (!mlp_layer_normed(&s, l)) continue;
        snprintf(what, sizeof what, "dgain%d", l);
        nz += check_grads(what, grads + s.g_off[l], mlp_loss, &c, c.p + s.g_off[l],
                          (size_t)s.sizes[l + 1]);
        snprintf(what, sizeof what, "dshift%d", l);
        nz += check_grads(what, grads + s.g_off[l] + s.sizes[l + 1], mlp_loss, &c,
                          c.p + s.g_off[l] + s.sizes[l + 1], (size_t)s.sizes[l + 1]);
    }
    ck_assert_msg(nz > (int)np / 3, "only %d of %zu parameter gradients are nonzero", nz, np);
    nz = check_grads("dx", dx, mlp_loss, &c, c.x, nx);
    ck_assert_msg(nz > (int)nx / 2, "only %d of %zu input gradients are nonzero", nz, nx);

    /* grads and dx are independent outputs: either may be NULL. */
    mlp_forward(be, &s, p, x, rows, &w);
    mlp_backward(be, &s, p, rows, &w, G, grads2, NULL);
    mlp_forward(be, &s, p, x, rows, &w);
    mlp_backward(be, &s, p, rows, &w, G, NULL, dx2);
    ck_assert_mem_eq(grads2, grads, sizeof(float) * np);
    ck_assert_mem_eq(dx2, dx, sizeof(float) * nx);

    free(c.p), free(c.x), free(c.G), free(c.y);
    mlp_work_destroy(&w, be, &s);
    float *bufs[] = {p, x, G, grads, dx, grads2, dx2};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) be->free(be, bufs[i]);
    be->destroy(be);
}

static const int HIDDEN_5_7[2] = {5, 7};

START_TEST(test_backward_linear_output) {
    check_mlp_backward(4, HIDDEN_5_7, 2, 2, ACT_NONE, NULL, 11, 0);
}
END_TEST

START_TEST(test_backward_tanh_symmetric_bounds) {
    ActionBounds ab = {2, {-2.0f, -2.0f}, {2.0f, 2.0f}};
    check_mlp_backward(4, HIDDEN_5_7, 2, 2, ACT_TANH_SCALE, &ab, 12, 0);
}
END_TEST

/* Different bounds per output column catch a column mix-up in act_grad. */
START_TEST(test_backward_tanh_asymmetric_bounds) {
    ActionBounds ab = {2, {-1.0f, 0.0f}, {3.0f, 0.5f}};
    check_mlp_backward(4, HIDDEN_5_7, 2, 2, ACT_TANH_SCALE, &ab, 13, 0);
}
END_TEST

START_TEST(test_backward_layer_counts) {
    const int deep[3] = {6, 5, 4};
    check_mlp_backward(3, NULL, 0, 2, ACT_NONE, NULL, 14, 0); /* one linear layer */
    check_mlp_backward(3, deep, 3, 1, ACT_NONE, NULL, 15, 0);
}
END_TEST

/* LayerNorm after each hidden layer: the weights', biases', gains', shifts'
 * and inputs' gradients against finite differences of a double reference
 * (torch.nn.LayerNorm's arithmetic), under a linear and a tanh head, at odd
 * widths and three hidden layers. */
START_TEST(test_backward_layer_norm) {
    ActionBounds ab = {2, {-1.0f, 0.0f}, {3.0f, 0.5f}};
    const int deep[3] = {6, 5, 9};
    check_mlp_backward(4, HIDDEN_5_7, 2, 2, ACT_NONE, NULL, 21, 1);
    check_mlp_backward(4, HIDDEN_5_7, 2, 2, ACT_TANH_SCALE, &ab, 22, 1);
    check_mlp_backward(3, deep, 3, 1, ACT_NONE, NULL, 23, 1);
}
END_TEST

/* With LayerNorm the layout grows by a gain and a shift per hidden unit, the
 * weights and biases keep their initial values, gains start at 1, shifts at
 * 0, and the norm's parts are whole layers. */
START_TEST(test_layer_norm_layout_and_init) {
    MlpShape a, b;
    mlp_shape_init(&a, 3, HIDDEN_5_7, 2, 1, ACT_NONE, NULL);
    b = a;
    mlp_shape_layer_norm(&b);
    ck_assert_uint_eq(b.n_params, a.n_params + 2 * (5 + 7));
    ck_assert_uint_eq(mlp_layer_params(&b, 0), mlp_layer_params(&a, 0) + 10);
    ck_assert_uint_eq(mlp_layer_params(&b, 2), mlp_layer_params(&a, 2)); /* the head */
    size_t sum = 0;
    for (int l = 0; l < b.n_layers; l++) sum += mlp_layer_params(&b, l);
    ck_assert_uint_eq(sum, b.n_params);
    float *pa = malloc(sizeof(float) * a.n_params), *pb = malloc(sizeof(float) * b.n_params);
    ck_assert(pa && pb);
    mlp_init_params(&a, pa, 5, 1);
    mlp_init_params(&b, pb, 5, 1);
    for (int l = 0; l < a.n_layers; l++) {
        size_t nwb = mlp_layer_params(&a, l);
        ck_assert_mem_eq(pb + b.w_off[l], pa + a.w_off[l], sizeof(float) * nwb);
        if (!mlp_layer_normed(&b, l)) continue;
        for (int j = 0; j < b.sizes[l + 1]; j++) {
            ck_assert(pb[b.g_off[l] + j] == 1.0f);
            ck_assert(pb[b.g_off[l] + b.sizes[l + 1] + j] == 0.0f);
        }
    }
    free(pa), free(pb);
}
END_TEST

/* ---- the DDPG losses through ddpg_update_batch ------------------------- */

typedef struct {
    const Ddpg *d;
    double *actor, *critic, *actor_targ, *critic_targ; /* params, double */
    double *critic2, *critic2_targ;                     /* TD3's second critic */
    double *obs, *act, *rew, *next_obs, *term;          /* the batch, double */
    double *a, *x, *q;                                  /* scratch */
    double min_kink;
} DdpgLoss;

/* q(B) = Q_critic([s | a]) */
static void ref_q(DdpgLoss *c, const double *critic, const double *s, const double *a,
                  double *q) {
    const DdpgParams *p = &c->d->p;
    int od = p->obs_dim, ad = p->act_dim, B = p->batch_size;
    for (int i = 0; i < B; i++) {
        memcpy(c->x + (size_t)i * (od + ad), s + (size_t)i * od, sizeof(double) * od);
        memcpy(c->x + (size_t)i * (od + ad) + od, a + (size_t)i * ad, sizeof(double) * ad);
    }
    double k = ref_forward(&c->d->critic[0].shape, critic, c->x, B, q);
    if (k < c->min_kink) c->min_kink = k;
}

/* The actor loss of DDPG: -mean_i Q(s_i, mu_theta(s_i)). */
static double actor_loss(void *ctx) {
    DdpgLoss *c = ctx;
    int B = c->d->p.batch_size;
    double k = ref_forward(&c->d->actor.shape, c->actor, c->obs, B, c->a);
    if (k < c->min_kink) c->min_kink = k;
    ref_q(c, c->critic, c->obs, c->a, c->q);
    double L = 0.0;
    for (int i = 0; i < B; i++) L -= c->q[i];
    return L / B;
}

/* The critic loss: mean_i (Q(s_i, a_i) - y_i)^2, y = r + gamma (1 - term) Q'(s', mu'(s')).
 * TD3's (without target noise): mean (Q1 - y)^2 + mean (Q2 - y)^2 with
 * y = r + gamma (1 - term) min(Q1'(s', mu'(s')), Q2'(s', mu'(s'))). */
static double critic_loss(void *ctx) {
    DdpgLoss *c = ctx;
    const DdpgParams *p = &c->d->p;
    int B = p->batch_size, twins = c->d->n_critics == 2;
    double *y = malloc(sizeof(double) * B), *q2 = malloc(sizeof(double) * B);
    ck_assert(y && q2);
    ref_forward(&c->d->actor.shape, c->actor_targ, c->next_obs, B, c->a);
    if (twins) ref_q(c, c->critic2_targ, c->next_obs, c->a, q2);
    ref_q(c, c->critic_targ, c->next_obs, c->a, c->q);
    for (int i = 0; i < B; i++) {
        double qn = twins && q2[i] < c->q[i] ? q2[i] : c->q[i];
        y[i] = c->rew[i] + (double)p->gamma * (1.0 - c->term[i]) * qn;
    }
    double L = 0.0;
    ref_q(c, c->critic, c->obs, c->act, c->q);
    for (int i = 0; i < B; i++) L += (c->q[i] - y[i]) * (c->q[i] - y[i]) / B;
    if (twins) {
        ref_q(c, c->critic2, c->obs, c->act, q2);
        for (int i = 0; i < B; i++) L += (q2[i] - y[i]) * (q2[i] - y[i]) / B;
    }
    free(y), free(q2);
    return L;
}

/* One ddpg_update_batch on a hand-filled batch; the gradients it left in
 * the critic's and the actor's grad (grad_clip 0: unclipped) are compared with
 * finite differences of the two losses. The critic gradient is at the
 * parameters before the update; the actor gradient is at the actor before the
 * update, through the critic after its step (the order of ddpg_update_batch). */
static void check_ddpg_grads(int act_dim, const ActionBounds *ab, uint64_t seed, Algo algo,
                             int layer_norm) {
    Backend *be = backend_cpu_create(1);
    const int hidden[2] = {8, 8};
    /* TD3 without target noise (its draws are tested in test_td3.c) and with
     * an actor step on every update, so that both gradients are made */
    DdpgParams prm = {.obs_dim = 3, .act_dim = act_dim, .hidden = hidden, .n_hidden = 2,
                      .bounds = *ab, .batch_size = 5, .gamma = 0.9f, .tau = 0.05f,
                      .grad_clip = 0.0f, .actor_lr = 1e-2f, .critic_lr = 1e-2f, .seed = seed,
                      .layer_norm = layer_norm, .algo = algo, .target_noise = 0.0f,
                      .target_noise_clip = 0.5f, .policy_delay = 1};
    Ddpg d;
    ck_assert_int_eq(ddpg_create(&d, be, &prm, NULL), 0);
    int B = prm.batch_size, od = prm.obs_dim, ad = act_dim;
    Batch *b = &d.batch;
    fill_uniform(b->obs, (size_t)B * od, seed + 1, -1.0f, 1.0f);
    for (int i = 0; i < B * ad; i++)
        b->act[i] = test_uniform(seed + 2, i, ab->low[i % ad], ab->high[i % ad]);
    fill_uniform(b->rew, B, seed + 3, -5.0f, 0.0f);
    fill_uniform(b->next_obs, (size_t)B * od, seed + 4, -1.0f, 1.0f);
    for (int i = 0; i < B; i++) b->term[i] = i == 1 ? 1.0f : 0.0f;
    /* targets unlike the online nets (and a larger Q'), so that mixing them up shows */
    Net *actor = &d.actor, *critic = &d.critic[0];
    mlp_init_params(&actor->shape, actor->target, seed + 100, 0);
    mlp_init_params(&critic->shape, critic->target, seed + 100, 1);
    for (size_t k = 0; k < critic->shape.n_params; k++) critic->target[k] *= 3.0f;
    Net *critic2 = d.n_critics == 2 ? &d.critic[1] : NULL;
    if (critic2) { /* a twin target that is sometimes the smaller, sometimes not */
        mlp_init_params(&critic2->shape, critic2->target, seed + 200, 2);
        for (size_t k = 0; k < critic2->shape.n_params; k++) critic2->target[k] *= 3.0f;
    }

    size_t na = actor->shape.n_params, nc = critic->shape.n_params;
    DdpgLoss c = {.d = &d, .min_kink = INFINITY};
    c.actor = to_double(actor->params, na);
    c.critic = to_double(critic->params, nc);
    c.actor_targ = to_double(actor->target, na);
    c.critic_targ = to_double(critic->target, nc);
    if (critic2) {
        c.critic2 = to_double(critic2->params, nc);
        c.critic2_targ = to_double(critic2->target, nc);
    }
    c.obs = to_double(b->obs, (size_t)B * od);
    c.act = to_double(b->act, (size_t)B * ad);
    c.rew = to_double(b->rew, B);
    c.next_obs = to_double(b->next_obs, (size_t)B * od);
    c.term = to_double(b->term, B);
    c.a = malloc(sizeof(double) * B * ad);
    c.x = malloc(sizeof(double) * B * (od + ad));
    c.q = malloc(sizeof(double) * B);
    ck_assert(c.a && c.x && c.q);

    ddpg_update_batch(&d);

    critic_loss(&c);
    ck_assert_msg(c.min_kink > KINK_MARGIN, "test setup: ReLU input %.3g from the kink",
                  c.min_kink);
    int nz = check_grads("critic_grad", critic->grad, critic_loss, &c, c.critic, nc);
    ck_assert_msg(nz > (int)nc / 4, "only %d of %zu critic gradients are nonzero", nz, nc);
    if (critic2) {
        nz = check_grads("critic2_grad", critic2->grad, critic_loss, &c, c.critic2, nc);
        ck_assert_msg(nz > (int)nc / 4, "only %d of %zu critic2 gradients are nonzero", nz, nc);
    }

    /* the actor loss goes through the critic after its Adam step */
    free(c.critic);
    c.critic = to_double(critic->params, nc);
    c.min_kink = INFINITY;
    actor_loss(&c);
    ck_assert_msg(c.min_kink > KINK_MARGIN, "test setup: ReLU input %.3g from the kink",
                  c.min_kink);
    nz = check_grads("actor_grad", actor->grad, actor_loss, &c, c.actor, na);
    ck_assert_msg(nz > (int)na / 4, "only %d of %zu actor gradients are nonzero", nz, na);

    double *bufs[] = {c.actor, c.critic, c.actor_targ, c.critic_targ, c.obs, c.act, c.rew,
                      c.next_obs, c.term, c.a, c.x, c.q, c.critic2, c.critic2_targ};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    ddpg_destroy(&d);
    be->destroy(be);
}

START_TEST(test_ddpg_gradients_pendulum_sizes) {
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    check_ddpg_grads(1, &ab, 21, ALGO_DDPG, 0);
}
END_TEST

/* TD3's critic loss (the sum of the twins' MSEs against the smaller target),
 * and its actor's through the first critic; with and without LayerNorm. */
START_TEST(test_td3_gradients) {
    ActionBounds ab = {2, {-1.0f, -0.5f}, {3.0f, 0.5f}};
    check_ddpg_grads(2, &ab, 24, ALGO_TD3, 0);
    ab.dim = 1; /* the first column's bounds */
    check_ddpg_grads(1, &ab, 31, ALGO_TD3, 1);
}
END_TEST

START_TEST(test_ddpg_gradients_layer_norm) {
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    check_ddpg_grads(1, &ab, 26, ALGO_DDPG, 1);
}
END_TEST

/* Two action columns with different bounds: the slice of dQ/dx to the action
 * columns and the per-column tanh scale must both be right. */
START_TEST(test_ddpg_gradients_two_actions) {
    ActionBounds ab = {2, {-1.0f, -0.5f}, {3.0f, 0.5f}};
    check_ddpg_grads(2, &ab, 22, ALGO_DDPG, 0);
}
END_TEST

/* ---- the tanh head ----------------------------------------------------- */

/* Float central differences of the float32 functions themselves: step 1e-2
 * (rounding error ~2 ulp(a)/h ~ 5e-5, truncation ~h^2 |a'''|/6 ~ 3e-5 scale);
 * tolerance 1e-3 relative + 2e-4 scale absolute. */
START_TEST(test_tanh_bounds_elem_derivative) {
    const float bounds[][2] = {{-2.0f, 2.0f}, {-1.0f, 3.0f}, {0.0f, 0.5f}, {-10.0f, -4.0f}};
    const float h = 1e-2f;
    for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
        float lo = bounds[k][0], hi = bounds[k][1];
        float scale = 0.5f * (hi - lo), shift = 0.5f * (hi + lo);
        for (int i = -25; i <= 25; i++) {
            float z = 0.1f * i;
            float a = tanh_bounds_elem(z, lo, hi);
            double exact = scale * tanh((double)z) + shift;
            ck_assert_msg(fabs(a - exact) <= 1e-6 * (fabs(exact) + scale),
                          "tanh_bounds_elem(%g) in [%g,%g] = %.8g, expected %.8g", z, lo, hi,
                          (double)a, exact);
            ck_assert(a >= lo && a <= hi);
            float g = tanh_bounds_grad_elem(a, lo, hi);
            float fd = (tanh_bounds_elem(z + h, lo, hi) - tanh_bounds_elem(z - h, lo, hi)) /
                       (2.0f * h);
            ck_assert_msg(fabsf(g - fd) <= 1e-3f * fabsf(fd) + 2e-4f * scale,
                          "d tanh_bounds/dz at z=%g in [%g,%g]: grad %.8g, finite difference %.8g",
                          z, lo, hi, (double)g, (double)fd);
            double dexact = scale * (1.0 - tanh((double)z) * tanh((double)z));
            ck_assert_msg(fabs(g - dexact) <= 1e-4 * dexact + 1e-6 * scale,
                          "grad %.8g, exact %.8g", (double)g, dexact);
        }
    }
}
END_TEST

START_TEST(test_tanh_scale_output_within_bounds) {
    Backend *be = backend_cpu_create(1);
    /* bounds whose float scale*1+shift lands exactly on the end points */
    ActionBounds ab = {3, {-2.0f, -1.0f, 0.25f}, {2.0f, 3.0f, 0.75f}};
    MlpShape s;
    mlp_shape_init(&s, 4, HIDDEN_5_7, 2, 3, ACT_TANH_SCALE, &ab);
    const int rows = 64;
    float *p = be->alloc(be, sizeof(float) * s.n_params);
    float *x = be->alloc(be, sizeof(float) * rows * 4);
    ck_assert(p && x);
    mlp_init_params(&s, p, 5, 0);
    for (size_t k = 0; k < s.n_params; k++) p[k] *= 10.0f;
    for (int i = 0; i < rows * 4; i++) /* |x| from 1e2 to 1e5, both signs */
        x[i] = (i % 3 ? 1.0f : -1.0f) * powf(10.0f, 2.0f + 3.0f * test_uniform(31, i, 0, 1));
    MlpWork w;
    ck_assert_int_eq(mlp_work_create(&w, be, &s, rows), 0);
    const float *y = mlp_forward(be, &s, p, x, rows, &w);
    int at_bound = 0;
    for (int i = 0; i < rows * 3; i++) {
        int o = i % 3;
        ck_assert_msg(isfinite(y[i]) && y[i] >= ab.low[o] && y[i] <= ab.high[o],
                      "output %d (column %d) = %.9g outside [%g, %g]", i, o, (double)y[i],
                      (double)ab.low[o], (double)ab.high[o]);
        at_bound += fminf(y[i] - ab.low[o], ab.high[o] - y[i]) < 1e-3f;
    }
    ck_assert_msg(at_bound > rows * 3 / 2, "test setup: only %d outputs saturated", at_bound);
    mlp_work_destroy(&w, be, &s);
    be->free(be, p), be->free(be, x);
    be->destroy(be);
}
END_TEST

/* ---- initialisation ---------------------------------------------------- */

START_TEST(test_init_params_bounds_and_spread) {
    const int hidden[2] = {256, 64};
    MlpShape s;
    mlp_shape_init(&s, 3, hidden, 2, 1, ACT_NONE, NULL);
    ck_assert_uint_eq(s.n_params, (3 * 256 + 256) + (256 * 64 + 64) + (64 + 1));
    float *p = malloc(sizeof(float) * s.n_params), *p2 = malloc(sizeof(float) * s.n_params);
    ck_assert(p && p2);
    mlp_init_params(&s, p, 42, 0);
    for (int l = 0; l < s.n_layers; l++) {
        /* PyTorch nn.Linear: W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        double bound = 1.0 / sqrt((double)s.sizes[l]);
        size_t n = (size_t)s.sizes[l + 1] * s.sizes[l] + s.sizes[l + 1];
        const float *q = p + s.w_off[l];
        ck_assert_uint_eq(s.b_off[l], s.w_off[l] + (size_t)s.sizes[l + 1] * s.sizes[l]);
        double lo = INFINITY, hi = -INFINITY, mean = 0.0;
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(fabs(q[i]) <= bound, "layer %d param %zu = %g outside +-%g", l, i,
                          (double)q[i], bound);
            lo = fmin(lo, q[i]), hi = fmax(hi, q[i]), mean += q[i];
            distinct += i == 0 || q[i] != q[i - 1];
        }
        mean /= n;
        ck_assert_msg(distinct > n / 2, "layer %d: only %zu distinct neighbours", l, distinct);
        ck_assert_msg(hi - lo > 0.0, "layer %d: all parameters equal", l);
        if (n >= 200) { /* the whole range is used, centred on 0 */
            ck_assert_msg(lo < -0.9 * bound && hi > 0.9 * bound, "layer %d: range [%g, %g] of +-%g",
                          l, lo, hi, bound);
            ck_assert_msg(fabs(mean) < 0.1 * bound, "layer %d: mean %g", l, mean);
        }
    }
    /* deterministic in (seed, stream), different across either */
    mlp_init_params(&s, p2, 42, 0);
    ck_assert_mem_eq(p, p2, sizeof(float) * s.n_params);
    mlp_init_params(&s, p2, 42, 1);
    ck_assert_int_ne(memcmp(p, p2, sizeof(float) * s.n_params), 0);
    mlp_init_params(&s, p2, 43, 0);
    ck_assert_int_ne(memcmp(p, p2, sizeof(float) * s.n_params), 0);
    free(p), free(p2);
}
END_TEST

Suite *mlp_suite(void) {
    Suite *s = suite_create("mlp");
    TCase *tc = tcase_create("backward");
    tcase_add_test(tc, test_backward_linear_output);
    tcase_add_test(tc, test_backward_tanh_symmetric_bounds);
    tcase_add_test(tc, test_backward_tanh_asymmetric_bounds);
    tcase_add_test(tc, test_backward_layer_counts);
    tcase_add_test(tc, test_backward_layer_norm);
    tcase_add_test(tc, test_layer_norm_layout_and_init);
    suite_add_tcase(s, tc);

    tc = tcase_create("ddpg_losses");
    tcase_add_test(tc, test_ddpg_gradients_pendulum_sizes);
    tcase_add_test(tc, test_ddpg_gradients_two_actions);
    tcase_add_test(tc, test_td3_gradients);
    tcase_add_test(tc, test_ddpg_gradients_layer_norm);
    suite_add_tcase(s, tc);

    tc = tcase_create("tanh_head");
    tcase_add_test(tc, test_tanh_bounds_elem_derivative);
    tcase_add_test(tc, test_tanh_scale_output_within_bounds);
    suite_add_tcase(s, tc);

    tc = tcase_create("init");
    tcase_add_test(tc, test_init_params_bounds_and_spread);
    suite_add_tcase(s, tc);
    return s;
}
