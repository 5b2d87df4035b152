/* parity.c - the GPU parity suite's fixture, helpers and assembly (parity.h). */
#include "parity.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../suites.h"
#include "ddpg/elem.h"
#include "ddpg/envs/pendulum.h"

/* ------------------------------------------------------------------------ */
/* The fixture                                                               */

static Pair g_pair;      /* this case's backends; gpu NULL without a device */
static char g_why[256];  /* why there is no GPU */

/* Checked: runs in the forked test process, before each case. */
static void pair_open(void) {
    g_why[0] = '\0';
    g_pair.gpu = backend_cuda_create(g_why, sizeof g_why);
    g_pair.cpu = g_pair.gpu ? backend_cpu_create(1) : NULL;
}

static void pair_close(void) {
    if (g_pair.gpu) g_pair.gpu->destroy(g_pair.gpu);
    if (g_pair.cpu) g_pair.cpu->destroy(g_pair.cpu);
    memset(&g_pair, 0, sizeof g_pair);
}

Pair *parity_pair(const char *test) {
    if (g_pair.gpu) return &g_pair;
    printf("SKIP gpu_parity/%s: %s\n", test, g_why[0] ? g_why : "no CUDA device");
    fflush(stdout);
    return NULL;
}

TCase *parity_tcase(const char *name) {
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, pair_open, pair_close);
    tcase_set_timeout(tc, 300); /* context creation + 1000 env steps with readbacks */
    return tc;
}

Suite *gpu_parity_suite(void) {
    Suite *s = suite_create("gpu_parity");
    gpu_dense_cases(s);
    gpu_loss_cases(s);
    gpu_optim_cases(s);
    gpu_random_cases(s);
    gpu_env_cases(s);
    gpu_norm_cases(s);
    gpu_replay_cases(s);
    gpu_update_cases(s);
    gpu_schedule_cases(s);
    gpu_checkpoint_cases(s);
    gpu_trainer_cases(s);
    return s;
}

/* ------------------------------------------------------------------------ */
/* Host data                                                                 */

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;

void seed_host_rng(uint64_t s) { g_rng = s * 0x9E3779B97F4A7C15ULL + 1; }

double urand(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }

float *host_floats(size_t n, float lo, float hi) {
    float *x = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++) x[i] = frand(lo, hi);
    return x;
}

/* ------------------------------------------------------------------------ */
/* Twins                                                                     */

Twin twin(Pair *p, const void *host, size_t bytes) {
    Twin t = {p->gpu->alloc(p->gpu, bytes), p->cpu->alloc(p->cpu, bytes), bytes};
    ck_assert_ptr_nonnull(t.g);
    ck_assert_ptr_nonnull(t.c);
    if (host) twin_set(p, &t, host);
    return t;
}

void twin_set(Pair *p, Twin *t, const void *host) {
    p->gpu->to_device(p->gpu, t->g, host, t->bytes);
    p->cpu->to_device(p->cpu, t->c, host, t->bytes);
}

void twin_free(Pair *p, Twin *t) {
    p->gpu->free(p->gpu, t->g);
    p->cpu->free(p->cpu, t->c);
}

void *fetch(Backend *be, const void *dev, size_t bytes) {
    void *h = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(h);
    be->to_host(be, h, dev, bytes);
    return h;
}

int64_t fetch_i64(Backend *be, const void *dev) {
    int64_t v;
    be->to_host(be, &v, dev, sizeof v);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Comparisons                                                               */

Diff diff_floats(const float *g, const float *c, size_t n, const double *tol, double atol,
                 double rtol) {
    Diff d = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)g[i] - (double)c[i]);
        double r = a / fmax(fabs((double)c[i]), 1e-30);
        if (a > d.max_abs || isnan(a)) d.max_abs = a;
        if (r > d.max_rel || isnan(r)) d.max_rel = r;
        double t = tol ? tol[i] : atol + rtol * fabs((double)c[i]);
        if (!(a <= t)) {
            if (!d.bad) d.first_bad = i;
            d.bad++;
        }
    }
    return d;
}

void report(const char *what, Diff d, size_t n, const float *g, const float *c,
            const char *tol_text) {
    printf("gpu_parity/%s: n=%zu max abs %.3g max rel %.3g (tol %s)\n", what, n, d.max_abs,
           d.max_rel, tol_text);
    fflush(stdout);
    ck_assert_msg(
        d.bad == 0, "%s: %zu of %zu elements beyond tolerance %s; first [%zu] gpu %.9g cpu %.9g",
        what, d.bad, n, tol_text, d.first_bad, (double)g[d.first_bad], (double)c[d.first_bad]);
}

void expect_twin_close(Pair *p, const char *what, const void *gdev, const void *cdev, size_t n,
                       double atol, double rtol) {
    float *g = fetch(p->gpu, gdev, sizeof(float) * n);
    float *c = fetch(p->cpu, cdev, sizeof(float) * n);
    char tol[64];
    snprintf(tol, sizeof tol, "%.0e + %.0e|cpu|", atol, rtol);
    report(what, diff_floats(g, c, n, NULL, atol, rtol), n, g, c, tol);
    free(g);
    free(c);
}

void expect_twin_equal(Pair *p, const char *what, const void *gdev, const void *cdev,
                       size_t bytes) {
    unsigned char *g = fetch(p->gpu, gdev, bytes), *c = fetch(p->cpu, cdev, bytes);
    size_t first = bytes;
    for (size_t i = 0; i < bytes && first == bytes; i++)
        if (g[i] != c[i]) first = i;
    printf("gpu_parity/%s: %zu bytes %s\n", what, bytes, first == bytes ? "identical" : "DIFFER");
    fflush(stdout);
    ck_assert_msg(first == bytes, "%s: first differing byte at %zu of %zu", what, first, bytes);
    free(g);
    free(c);
}

/* Gradients are compared in L2: a ReLU whose input is within rounding of 0
 * may pass one sample's gradient on one backend and not on the other, a
 * legitimate difference of up to ~1/batch in a few elements, while a wrong
 * kernel is off by O(1). With up_to_scale, each side is first divided by
 * its own L2 norm: after optim_step a backend may hold g clipped or
 * unclipped (backend.h), a positive factor apart, so only the direction is
 * theirs to agree on (the clipped size shows in Adam's first moment and the
 * parameters). */
void expect_twin_l2(Pair *p, const char *what, const float *gdev, const float *cdev, size_t n,
                    double rel, int up_to_scale) {
    float *g = fetch(p->gpu, gdev, sizeof(float) * n), *c = fetch(p->cpu, cdev, sizeof(float) * n);
    double gn = 0, cn = 0;
    for (size_t i = 0; i < n; i++) {
        gn += (double)g[i] * g[i];
        cn += (double)c[i] * c[i];
    }
    gn = sqrt(gn), cn = sqrt(cn);
    double sg = up_to_scale && gn > 0 ? 1 / gn : 1, sc = up_to_scale && cn > 0 ? 1 / cn : 1;
    double dd = 0, cc = 0, amax = 0;
    for (size_t i = 0; i < n; i++) {
        double d = g[i] * sg - c[i] * sc;
        dd += d * d;
        cc += c[i] * sc * (c[i] * sc);
        amax = fmax(amax, fabs(d));
    }
    double r = sqrt(dd) / fmax(sqrt(cc), 1e-30);
    printf("gpu_parity/%s: n=%zu relative L2 difference %.3g, max abs %.3g (tol %.0e L2)", what, n,
           cc > 0 ? r : sqrt(dd), amax, rel);
    if (up_to_scale) printf(" of the directions; norms gpu %.4g cpu %.4g", gn, cn);
    printf("\n");
    fflush(stdout);
    ck_assert_msg(cc > 0 ? r <= rel : dd == 0, "%s: relative L2 difference %.3g > %.0e", what, r,
                  rel);
    free(g), free(c);
}

/* ------------------------------------------------------------------------ */
/* Shared inputs                                                             */

const int SIZES[N_SIZES] = {1, 65, 257, 4099};

ActionBounds test_bounds(int dim) {
    ActionBounds ab;
    memset(&ab, 0, sizeof ab);
    ab.dim = dim;
    for (int d = 0; d < dim; d++) {
        ab.low[d] = -1.0f - 0.5f * d;
        ab.high[d] = 2.0f + 0.25f * d;
    }
    return ab;
}

void replay_insert_twin(Pair *p, Replay *rg, Replay *rc, int n) {
    int od = rg->obs_dim, ad = rg->act_dim;
    float *o = host_floats((size_t)n * od, -1, 1), *a = host_floats((size_t)n * ad, -2, 2);
    float *r = host_floats((size_t)n, -16, 0), *no = host_floats((size_t)n * od, -1, 1);
    float *t = host_floats((size_t)n, 0, 1);
    for (int i = 0; i < n; i++) t[i] = t[i] < 0.5f ? 0.0f : 1.0f;
    Twin to = twin(p, o, sizeof(float) * n * od), ta = twin(p, a, sizeof(float) * n * ad);
    Twin tr = twin(p, r, sizeof(float) * n), tn = twin(p, no, sizeof(float) * n * od);
    Twin tt = twin(p, t, sizeof(float) * n);
    p->gpu->replay_insert(p->gpu, rg, to.g, ta.g, tr.g, tn.g, tt.g, n);
    p->cpu->replay_insert(p->cpu, rc, to.c, ta.c, tr.c, tn.c, tt.c, n);
    free(o), free(a), free(r), free(no), free(t);
    twin_free(p, &to), twin_free(p, &ta), twin_free(p, &tr), twin_free(p, &tn), twin_free(p, &tt);
}

void replay_twin_create(Pair *p, Replay *rg, Replay *rc, int64_t cap, int obs_dim, int act_dim) {
    ck_assert_int_eq(replay_create(rg, p->gpu, cap, obs_dim, act_dim), 0);
    ck_assert_int_eq(replay_create(rc, p->cpu, cap, obs_dim, act_dim), 0);
}

void replay_twin_destroy(Pair *p, Replay *rg, Replay *rc) {
    replay_destroy(rg, p->gpu);
    replay_destroy(rc, p->cpu);
}

/* ------------------------------------------------------------------------ */
/* Agents                                                                    */

static const int PARITY_HIDDEN[] = {64, 64};

DdpgParams parity_params(int batch) {
    DdpgParams prm;
    memset(&prm, 0, sizeof prm);
    prm.obs_dim = PENDULUM_OBS_DIM;
    prm.act_dim = PENDULUM_ACT_DIM;
    prm.hidden = PARITY_HIDDEN;
    prm.n_hidden = 2;
    prm.bounds.dim = 1;
    prm.bounds.low[0] = -2.0f;
    prm.bounds.high[0] = 2.0f;
    prm.batch_size = batch;
    prm.gamma = 0.99f;
    prm.tau = 0.005f;
    prm.grad_clip = 1.0f;
    prm.actor_lr = 1e-3f;
    prm.critic_lr = 1e-3f;
    prm.seed = 2024;
    return prm;
}

void agent_twin_create(Pair *p, AgentTwin *a, const DdpgParams *prm) {
    replay_twin_create(p, &a->rg, &a->rc, 1000, prm->obs_dim, prm->act_dim);
    replay_insert_twin(p, &a->rg, &a->rc, 1000);
    ck_assert_int_eq(ddpg_create(&a->g, p->gpu, prm, NULL), 0);
    ck_assert_int_eq(ddpg_create(&a->c, p->cpu, prm, NULL), 0);
}

void agent_twin_update(AgentTwin *a, int n) {
    for (int u = 0; u < n; u++) {
        ddpg_update(&a->g, &a->rg);
        ddpg_update(&a->c, &a->rc);
    }
}

void agent_twin_destroy(Pair *p, AgentTwin *a) {
    ddpg_destroy(&a->g);
    ddpg_destroy(&a->c);
    replay_twin_destroy(p, &a->rg, &a->rc);
}

/* One network of each agent: parameters and target within 1e-4 (a tenth of
 * one Adam step), its gradient (up to scale) and first moment in relative
 * L2, its Adam step count identical. */
static void expect_nets_close(Pair *p, const Net *g, const Net *c, const char *what) {
    size_t n = g->shape.n_params;
    char w[160];
    snprintf(w, sizeof w, "%s params", what);
    expect_twin_close(p, w, g->params, c->params, n, 1e-4, 1e-4);
    snprintf(w, sizeof w, "%s target", what);
    expect_twin_close(p, w, g->target, c->target, n, 1e-4, 1e-4);
    snprintf(w, sizeof w, "%s grad", what);
    expect_twin_l2(p, w, g->grad, c->grad, n, 1e-2, 1);
    snprintf(w, sizeof w, "%s adam_m", what);
    expect_twin_l2(p, w, g->adam_m, c->adam_m, n, 1e-2, 0);
    snprintf(w, sizeof w, "%s adam_step", what);
    expect_twin_equal(p, w, g->adam_step, c->adam_step, sizeof(int64_t));
}

void expect_agents_close(Pair *p, Ddpg *g, Ddpg *c, const char *what) {
    char w[128];
    ck_assert_int_eq(g->n_critics, c->n_critics);
    snprintf(w, sizeof w, "%s actor", what);
    expect_nets_close(p, &g->actor, &c->actor, w);
    for (int i = 0; i < g->n_critics; i++) {
        snprintf(w, sizeof w, "%s critic%d", what, i);
        expect_nets_close(p, &g->critic[i], &c->critic[i], w);
    }
    snprintf(w, sizeof w, "%s metrics", what);
    expect_twin_close(p, w, g->metrics, c->metrics, (size_t)c->n_metrics, 1e-4, 1e-3);
    snprintf(w, sizeof w, "%s sample_ctr", what);
    expect_twin_equal(p, w, g->sample_ctr, c->sample_ctr, sizeof(uint64_t));
}
