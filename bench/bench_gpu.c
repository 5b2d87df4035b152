/* bench_gpu.c - the GPU figures of the GPU issue, each timed on its own:
 *
 *   build/bench/bench_gpu [rounds]
 *
 *  1. One DDPG update (sample, critic step, actor step, soft updates) at
 *     256,256 with batch 256 and 128: enqueued op by op, replayed as a CUDA
 *     Graph of one update, and as a graph of 20 updates in a row.
 *  2. One step of each environment of the registry (auto-reset and episode
 *     log included) for 65,536 and 1,048,576 envs, replayed as a graph of
 *     one step, with uniformly random actions.
 *
 * Each figure is the median over `rounds` rounds (default 21) of one round's
 * wall time over its count, the stream synchronised before and after each
 * round, after a warm-up round. Without a GPU it prints why and a JSON line
 * of nulls, and exits 0. The last line is a JSON object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/tensor.h"
#include "ddpg/envs/pendulum.h"

#define MAX_ROUNDS 101

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* What one round repeats: `count` calls of fn(ctx), or of a graph replay. */
typedef struct {
    Backend *be;
    void (*fn)(void *ctx);
    void *ctx;
    void *graph; /* when set, replayed instead of calling fn */
    int count;   /* calls (or replays) per round */
    int per;     /* units of work per call: us per unit = round / (count * per) */
} Work;

static void do_round(const Work *w) {
    for (int i = 0; i < w->count; i++) {
        if (w->graph)
            w->be->graph_launch(w->be, w->graph);
        else
            w->fn(w->ctx);
    }
}

/* median microseconds per unit of work over `rounds` rounds */
static double time_work(const Work *w, int rounds) {
    double t[MAX_ROUNDS];
    do_round(w); /* warm-up: module load, cuBLAS workspaces, first graph upload */
    w->be->sync(w->be);
    for (int k = 0; k < rounds; k++) {
        double t0 = now_s();
        do_round(w);
        w->be->sync(w->be);
        t[k] = (now_s() - t0) * 1e6 / ((double)w->count * w->per);
    }
    qsort(t, (size_t)rounds, sizeof t[0], cmp_double);
    return t[rounds / 2];
}

/* Captures `reps` calls of fn(ctx) as one graph; NULL (with a message) on failure. */
static void *capture(Backend *be, void (*fn)(void *), void *ctx, int reps) {
    void *g = NULL;
    if (be->capture_begin(be)) {
        fprintf(stderr, "bench_gpu: graph capture could not begin\n");
        return NULL;
    }
    for (int i = 0; i < reps; i++) fn(ctx);
    if (be->capture_end(be, &g)) {
        fprintf(stderr, "bench_gpu: graph capture failed\n");
        return NULL;
    }
    return g;
}

typedef struct {
    Ddpg d;
    Replay r;
} UpdateCtx;

static void one_update(void *ctx) {
    UpdateCtx *u = ctx;
    ddpg_update(&u->d, &u->r);
}

/* us per update at 256,256 and `batch`: direct, graph of 1, graph of 20 */
static int time_update(Backend *be, int batch, int rounds, double out[3]) {
    static int hidden[2] = {256, 256};
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    DdpgParams p = {3, 1, hidden, 2, ab, batch, 0.99f, 0.005f, 1.0f, 1e-3f, 1e-3f, 1};
    UpdateCtx u;
    if (ddpg_create(&u.d, be, &p)) return -1;
    if (replay_create(&u.r, be, 100000, 3, 1)) {
        ddpg_destroy(&u.d);
        return -1;
    }
    env_fill_random(be, pendulum_spec(), &u.r, 100000, 7);
    Work w = {be, one_update, &u, NULL, 200, 1};
    out[0] = time_work(&w, rounds);
    void *g1 = capture(be, one_update, &u, 1), *g20 = capture(be, one_update, &u, 20);
    int rc = g1 && g20 ? 0 : -1;
    if (!rc) {
        w.graph = g1;
        out[1] = time_work(&w, rounds);
        w.graph = g20;
        w.count = 10;
        w.per = 20;
        out[2] = time_work(&w, rounds);
    }
    if (g1) be->graph_destroy(be, g1);
    if (g20) be->graph_destroy(be, g20);
    replay_destroy(&u.r, be);
    ddpg_destroy(&u.d);
    return rc;
}

typedef struct {
    Backend *be;
    VecEnv e;
    float *act;                      /* (n, act_dim) device */
    float *rew, *term, *trunc;       /* (n) device */
    float *real_next_obs, *next_obs; /* (n, obs_dim) device */
    uint64_t *ctr;                   /* (1) device: the actions' RNG counter */
} StepCtx;

static void step_tensors(StepCtx *s, const EnvSpec *spec, int n, TensorList *l) {
    size_t f = (size_t)n;
    TENSOR_ADD(l, "bench.", "act", &s->act, f * spec->act_dim, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "rew", &s->rew, f, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "term", &s->term, f, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "trunc", &s->trunc, f, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "real_next_obs", &s->real_next_obs, f * spec->obs_dim, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "next_obs", &s->next_obs, f * spec->obs_dim, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "ctr", &s->ctr, 1, TENSOR_WORK);
}

static void one_step(void *ctx) {
    StepCtx *s = ctx;
    s->be->env_step(s->be, &s->e, s->act, s->real_next_obs, s->rew, s->term, s->trunc,
                    s->next_obs);
}

/* us per vectorized step of n envs (graph of one step); -1 on out of memory.
 * The episode log holds n records, a ring: a round may wrap it. */
static double time_env_step(Backend *be, const EnvSpec *spec, int n, int rounds) {
    StepCtx s;
    memset(&s, 0, sizeof s);
    s.be = be;
    if (env_create(&s.e, be, spec, n, 11, n)) return -1;
    TensorList l;
    tensors_init(&l);
    step_tensors(&s, spec, n, &l);
    double us = -1;
    if (tensors_alloc(be, &l, NULL) == 0) {
        be->env_reset(be, &s.e, s.next_obs);
        be->uniform_actions(be, s.act, n, env_bounds(spec), 5, s.ctr);
        void *g = capture(be, one_step, &s, 1);
        if (g) {
            /* 200 steps a round (a Pendulum env truncates once per round) */
            Work w = {be, one_step, &s, g, 200, 1};
            us = time_work(&w, rounds);
            be->graph_destroy(be, g);
        }
    }
    tensors_free(be, &l);
    tensors_release(&l);
    env_destroy(&s.e, be);
    return us;
}

int main(int argc, char **argv) {
    int rounds = 21;
    if (argc > 1) {
        char *end;
        long v = strtol(argv[1], &end, 10);
        if (argc > 2 || *end || v < 1 || v > MAX_ROUNDS) {
            fprintf(stderr, "usage: bench_gpu [rounds (1 to %d)]\n", MAX_ROUNDS);
            return 2;
        }
        rounds = (int)v;
    }
    char why[256] = "";
    Backend *be = backend_cuda_create(why, sizeof why);
    if (!be) {
        printf("no GPU: %s\n", why);
        printf("{\"bench\": \"gpu\", \"gpu\": null, \"us_per_update_b256\": null, "
               "\"env_step_us\": null}\n");
        return 0;
    }
    printf("GPU: %s, %d rounds per figure (median)\n", be->device_name, rounds);
    double b256[3], b128[3];
    if (time_update(be, 256, rounds, b256) || time_update(be, 128, rounds, b128)) {
        fprintf(stderr, "bench_gpu: update setup failed\n");
        return 1;
    }
    printf("%-34s %10s %10s %12s\n", "DDPG update, 256,256 (us/update)", "direct", "graph x1",
           "graph x20");
    printf("%-34s %10.1f %10.1f %12.1f\n", "batch 256", b256[0], b256[1], b256[2]);
    printf("%-34s %10.1f %10.1f %12.1f\n", "batch 128", b128[0], b128[1], b128[2]);
    char envs_json[1024];
    size_t k = 0;
    envs_json[0] = 0;
    for (int i = 0; env_at(i) && k < sizeof envs_json; i++) {
        const EnvSpec *spec = env_at(i);
        double s64k = time_env_step(be, spec, 65536, rounds);
        double s1m = time_env_step(be, spec, 1 << 20, rounds);
        printf("%s step (graph, us/step): 65,536 envs %.1f, 1,048,576 envs %.1f\n", spec->id,
               s64k, s1m);
        k += (size_t)snprintf(envs_json + k, sizeof envs_json - k,
                              "%s\"%s\": {\"65536\": %.1f, \"1048576\": %.1f}", i ? ", " : "",
                              spec->id, s64k, s1m);
    }
    printf("{\"bench\": \"gpu\", \"gpu\": \"%s\", \"rounds\": %d, "
           "\"us_per_update_b256\": {\"direct\": %.1f, \"graph1\": %.1f, \"graph20\": %.1f}, "
           "\"us_per_update_b128\": {\"direct\": %.1f, \"graph1\": %.1f, \"graph20\": %.1f}, "
           "\"env_step_us\": {%s}}\n",
           be->device_name, rounds, b256[0], b256[1], b256[2], b128[0], b128[1], b128[2],
           envs_json);
    be->destroy(be);
    return 0;
}
