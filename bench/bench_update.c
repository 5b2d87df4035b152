/* bench_update.c - one DDPG update's time over a grid of batch sizes and
 * hidden layers, on every backend there is, beside what its GEMMs alone allow.
 *
 *   build/bench/bench_update [rounds]
 *
 * Batch 64, 128, 256, 1024 and hidden 64,64 / 256,256 / 400,300, Pendulum's
 * sizes (obs 3, act 1) and the notebook's hyperparameters; the update is
 * ddpg_update (a replay sample, the critic's and the actor's steps, the soft
 * updates) through the backend's own schedule. Backends: the CPU with one
 * thread and with one per core; the GPU when there is one, as a CUDA Graph of
 * 20 updates replayed (as the trainer replays its iterations). Per row:
 *  - us per update: the median of `rounds` rounds (default 5) of about
 *    0.1 s each, after a warm-up round;
 *  - the update's GEMM FLOPs, from the layer shapes (update_flops), checked
 *    here against the products that one update of the generic path runs;
 *  - the fraction of the GEMM bound: the time those FLOPs take at the
 *    backend's measured GEMM rate (an sgemm of 256x256x256, a hidden layer's
 *    forward at batch 256, through the backend's own gemm op on the same
 *    threads; the fastest of 11 rounds) over the measured time. 1 is an
 *    update that is all GEMM at that speed; the rest is the element-wise
 *    ops, sampling, the optimizer, threads waiting for each other, and GEMMs
 *    slower than that one (the thin input and output layers). The rate is
 *    measured once, before the grid: on a host whose load changes, a row
 *    can show more than 1;
 *  - GPU/CPU: the CPU's time (one thread per core) over the GPU's.
 * Last line: one JSON object (bench_common.h's figures). */
#include <unistd.h>

#include "bench_common.h"
#include "ddpg/ddpg.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/envs/pendulum.h"

#define ROUND_S 0.1     /* seconds per round */
#define GRAPH_UPDATES 20 /* updates per graph on the GPU */
#define REPLAY_N 20000  /* transitions in the replay the batches are drawn from */

static const int BATCHES[] = {64, 128, 256, 1024};
#define N_BATCHES ((int)(sizeof BATCHES / sizeof BATCHES[0]))
static const struct {
    const char *name;
    int sizes[2];
} HIDDEN[] = {{"64,64", {64, 64}}, {"256,256", {256, 256}}, {"400,300", {400, 300}}};
#define N_HIDDEN ((int)(sizeof HIDDEN / sizeof HIDDEN[0]))
#define N_CONFIGS (N_BATCHES * N_HIDDEN)

/* ---- FLOPs ---- */

/* 2 rows in out, summed over the layers of s from layer `from` on: the
 * GEMMs of one forward pass (from = 0), or of one of the two products of a
 * backward pass, the weight gradients or the input gradients. */
static double pass_flops(const MlpShape *s, int rows, int from) {
    double f = 0;
    for (int l = from; l < s->n_layers; l++) f += 2.0 * rows * s->sizes[l] * s->sizes[l + 1];
    return f;
}

/* One DDPG update's GEMM FLOPs, as src/ddpg.c runs it. With P(net) the
 * products of one pass over the batch and P1(net) the same without the
 * first layer (no gradient goes to a network's input), A the actor and C
 * the critic:
 *   the TD target, mu'(s') and Q'(s', a')                      P(A) + P(C)
 *   the critic's step: Q(s, a), weight and input gradients     2 P(C) + P1(C)
 *   the actor's loss: mu(s), Q(s, mu(s)) and its gradient
 *     to the action (through every critic layer, no weights)   P(A) + 2 P(C)
 *   the actor's step: weight and input gradients               P(A) + P1(A)
 * The element-wise work (bias, activations, losses, Adam) is not counted. */
static double update_flops(const Ddpg *d) {
    const MlpShape *a = &d->actor.shape, *c = &d->critic[0].shape;
    int B = d->p.batch_size;
    double A = pass_flops(a, B, 0), A1 = pass_flops(a, B, 1);
    double C = pass_flops(c, B, 0), C1 = pass_flops(c, B, 1);
    return (A + C) + (2 * C + C1) + (A + 2 * C) + (A + A1);
}

/* The check: the products one generic update runs, counted at the backend's
 * gemm and linear_act (the forward layer) ops. */
static double g_counted;
static void (*g_gemm)(Backend *, int, int, int, int, int, float, const float *, int,
                      const float *, int, float, float *, int);
static void (*g_linear_act)(Backend *, float *, const float *, const float *, const float *,
                            int, int, int, Activation, const ActionBounds *);

static void counting_gemm(Backend *be, int ta, int tb, int m, int n, int k, float alpha,
                          const float *A, int lda, const float *B, int ldb, float beta, float *C,
                          int ldc) {
    g_counted += 2.0 * m * n * k;
    g_gemm(be, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void counting_linear_act(Backend *be, float *y, const float *x, const float *w,
                                const float *b, int rows, int in, int out, Activation act,
                                const ActionBounds *ab) {
    g_counted += 2.0 * rows * in * out;
    g_linear_act(be, y, x, w, b, rows, in, out, act, ab);
}

static double counted_flops(Ddpg *d) {
    Backend *be = d->be;
    g_gemm = be->gemm, g_linear_act = be->linear_act;
    be->gemm = counting_gemm, be->linear_act = counting_linear_act;
    g_counted = 0;
    ddpg_update_generic(d);
    be->sync(be);
    be->gemm = g_gemm, be->linear_act = g_linear_act;
    return g_counted;
}

/* ---- timing ---- */

typedef struct {
    Ddpg d;
    Replay r;
} Agent;

static int agent_create(Agent *a, Backend *be, const int *hidden, int batch) {
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    DdpgParams p = {.obs_dim = 3, .act_dim = 1, .hidden = hidden, .n_hidden = 2, .bounds = ab,
                    .batch_size = batch, .gamma = 0.99f, .tau = 0.005f, .grad_clip = 1.0f,
                    .actor_lr = 1e-3f, .critic_lr = 1e-3f, .seed = 1};
    if (ddpg_create(&a->d, be, &p)) return -1;
    if (replay_create(&a->r, be, REPLAY_N, 3, 1) ||
        env_fill_random(be, pendulum_spec(), &a->r, REPLAY_N, 7)) {
        ddpg_destroy(&a->d);
        return -1;
    }
    return 0;
}

static void agent_destroy(Agent *a, Backend *be) {
    replay_destroy(&a->r, be);
    ddpg_destroy(&a->d);
}

static void one_update(void *ctx) {
    Agent *a = ctx;
    ddpg_update(&a->d, &a->r);
}

static void one_update_graph(void *ctx) {
    for (int i = 0; i < GRAPH_UPDATES; i++) one_update(ctx);
}

/* Median us per update of a; through a graph of GRAPH_UPDATES updates where
 * the backend has graphs. NAN when the capture fails. */
static double time_update(Backend *be, Agent *a, int rounds) {
    BenchWork w = {be, one_update, a, NULL, 1, 1};
    void *g = NULL;
    if (be->capture_begin) {
        g = bench_capture(be, one_update_graph, a, 1);
        if (!g) return NAN;
        w.graph = g, w.per = GRAPH_UPDATES;
    }
    bench_calibrate(&w, ROUND_S, 1 << 20);
    double us = bench_time_work(&w, rounds);
    if (g) be->graph_destroy(be, g);
    return us;
}

/* ---- the GEMM rate ---- */

typedef struct {
    Backend *be;
    float *A, *B, *C; /* (256, 256) device each */
} GemmCtx;

#define RATE_N 256

static void one_gemm(void *ctx) {
    GemmCtx *g = ctx;
    g->be->gemm(g->be, 0, 1, RATE_N, RATE_N, RATE_N, 1.0f, g->A, RATE_N, g->B, RATE_N, 0.0f,
                g->C, RATE_N);
}

/* GFLOP/s of be's gemm op at 256x256x256 (A B^T, the forward layer's form):
 * the fastest of RATE_ROUNDS rounds, as a bound is the machine at its best
 * (and on a shared host the least disturbed round); NAN when out of memory. */
#define RATE_ROUNDS 11
static double gemm_rate(Backend *be) {
    size_t n = (size_t)RATE_N * RATE_N, bytes = sizeof(float) * n;
    GemmCtx g = {be, be->alloc(be, bytes), be->alloc(be, bytes), be->alloc(be, bytes)};
    double gflops = NAN;
    float *host = malloc(bytes);
    if (g.A && g.B && g.C && host) {
        srand(1);
        for (size_t i = 0; i < n; i++) host[i] = (float)rand() / RAND_MAX - 0.5f;
        be->to_device(be, g.A, host, bytes);
        be->to_device(be, g.B, host, bytes);
        BenchWork w = {be, one_gemm, &g, NULL, 1, 1};
        bench_calibrate(&w, ROUND_S / 2, 1 << 20);
        double t[RATE_ROUNDS];
        bench_time_rounds(&w, RATE_ROUNDS, t);
        double us = t[0];
        gflops = 2.0 * RATE_N * RATE_N * RATE_N / us * 1e-3;
    }
    free(host);
    if (g.A) be->free(be, g.A);
    if (g.B) be->free(be, g.B);
    if (g.C) be->free(be, g.C);
    return gflops;
}

/* ---- the grid ---- */

/* One backend's column of the grid. */
typedef struct {
    Backend *be;
    const char *label; /* "cpu" or "cuda" */
    int threads;       /* 0 on the GPU */
    double gflops;     /* its GEMM rate */
    double us[N_CONFIGS];
} Column;

static int run_column(Column *col, int rounds, double flops[N_CONFIGS], int *check_bad) {
    col->gflops = gemm_rate(col->be);
    for (int h = 0; h < N_HIDDEN; h++)
        for (int b = 0; b < N_BATCHES; b++) {
            Agent a;
            if (agent_create(&a, col->be, HIDDEN[h].sizes, BATCHES[b])) {
                fprintf(stderr, "bench_update: out of memory at %s batch %d on %s\n",
                        HIDDEN[h].name, BATCHES[b], col->label);
                return -1;
            }
            int i = h * N_BATCHES + b;
            flops[i] = update_flops(&a.d);
            /* the formula against the ops, once per configuration (on the first column) */
            if (check_bad && counted_flops(&a.d) != flops[i]) {
                fprintf(stderr, "bench_update: %s batch %d: %.0f FLOPs counted, %.0f computed\n",
                        HIDDEN[h].name, BATCHES[b], g_counted, flops[i]);
                ++*check_bad;
            }
            col->us[i] = time_update(col->be, &a, rounds);
            agent_destroy(&a, col->be);
        }
    return 0;
}

static double fraction_of_bound(double flops, double gflops, double us) {
    return flops / (gflops * 1e3) / us;
}

int main(int argc, char **argv) {
    int rounds = bench_rounds_arg(argc, argv, "bench_update", 5);
    if (rounds < 0) return 2;
    bench_print_openblas();
    char why[256] = "";
    Backend *gpu = bench_gpu_open(why, sizeof why);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    Column cols[3];
    int n_cols = 0;
    cols[n_cols++] = (Column){backend_cpu_create(1), "cpu", 1, NAN, {0}};
    if (cores > 1) cols[n_cols++] = (Column){backend_cpu_create(0), "cpu", 0, NAN, {0}};
    int cpu_all = n_cols - 1; /* the column the GPU is compared with */
    if (gpu) cols[n_cols++] = (Column){gpu, "cuda", 0, NAN, {0}};
    if (cols[cpu_all].threads == 0) cols[cpu_all].threads = cols[cpu_all].be->threads;
    printf("CPU: %s, %ld cores | GPU: %s\n", cols[0].be->device_name, cores,
           gpu ? gpu->device_name : "none");

    double flops[N_CONFIGS];
    int check_bad = 0;
    for (int c = 0; c < n_cols; c++)
        if (run_column(&cols[c], rounds, flops, c == 0 ? &check_bad : NULL)) return 1;

    printf("GEMM rate (sgemm 256x256x256 A B^T through the backend's gemm, fastest of %d):",
           RATE_ROUNDS);
    for (int c = 0; c < n_cols; c++) {
        if (cols[c].threads)
            printf("%s cpu %d thread%s %.1f GFLOP/s", c ? "," : "", cols[c].threads,
                   cols[c].threads > 1 ? "s" : "", cols[c].gflops);
        else
            printf("%s %s %.1f GFLOP/s", c ? "," : "", cols[c].label, cols[c].gflops);
    }
    printf("\nGEMM FLOPs per update from the layer shapes; against the products of one generic"
           " update: %s\n", check_bad ? "DIFFERENT (see stderr)" : "equal in every configuration");
    printf("DDPG update (Pendulum: obs 3, act 1), us per update, median of %d rounds%s\n", rounds,
           gpu ? "; GPU: a CUDA Graph of 20 updates replayed" : "");
    printf("(cpu Nt: the CPU backend on N threads; of GEMM: the fraction of the GEMM bound)\n");
    printf("%-8s %5s %7s %8s %10s %8s %8s %8s\n", "hidden", "batch", "MFLOP", "backend",
           "us/update", "GFLOP/s", "of GEMM", "GPU/CPU");

    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    for (int c = 0; c < n_cols; c++) {
        char cfg[64];
        snprintf(cfg, sizeof cfg, "sgemm %dx%dx%d A B^T", RATE_N, RATE_N, RATE_N);
        BenchRow r = {cols[c].label, cols[c].threads, "gemm_gflops", NULL, 0, 0, NULL, cfg,
                      cols[c].gflops, "GFLOP/s", 2.0 * RATE_N * RATE_N * RATE_N, NAN, NAN};
        bench_rows_add(&rows, &r);
    }
    for (int i = 0; i < N_CONFIGS; i++) {
        const char *hidden = HIDDEN[i / N_BATCHES].name;
        int batch = BATCHES[i % N_BATCHES];
        for (int c = 0; c < n_cols; c++) {
            const Column *col = &cols[c];
            double us = col->us[i], frac = fraction_of_bound(flops[i], col->gflops, us);
            double ratio = col->threads == 0 ? cols[cpu_all].us[i] / us : NAN;
            char be_name[32];
            snprintf(be_name, sizeof be_name, col->threads ? "%s %dt" : "%s", col->label,
                     col->threads);
            char ratio_s[16] = "";
            if (isfinite(ratio)) snprintf(ratio_s, sizeof ratio_s, "%.2fx", ratio);
            char batch_s[16] = "", mflop_s[16] = "";
            if (c == 0) {
                snprintf(batch_s, sizeof batch_s, "%d", batch);
                snprintf(mflop_s, sizeof mflop_s, "%.1f", flops[i] * 1e-6);
            }
            printf("%-8s %5s %7s %8s %10.1f %8.1f %8.3f %8s\n", c ? "" : hidden, batch_s,
                   mflop_s, be_name, us, flops[i] / us * 1e-3, frac, ratio_s);
            BenchRow r = {col->label, col->threads, "update_us", NULL, 0, batch, hidden, NULL,
                          us, "us", flops[i], frac, ratio};
            bench_rows_add(&rows, &r);
        }
    }

    printf("{\"bench\": \"update\", \"openblas_core\": \"%s\", \"cpu\": ",
           openblas_get_corename());
    bench_json_str(stdout, cols[0].be->device_name);
    printf(", \"cores\": %ld, \"gpu\": ", cores);
    bench_json_str(stdout, gpu ? gpu->device_name : NULL);
    printf(", \"no_gpu\": ");
    bench_json_str(stdout, gpu ? NULL : why);
    printf(", \"rounds\": %d, \"flops_check\": \"%s\", ", rounds, check_bad ? "different" : "equal");
    bench_rows_print(&rows);
    printf("}\n");
    for (int c = 0; c < n_cols; c++) cols[c].be->destroy(cols[c].be);
    return check_bad ? 1 : 0;
}
