/* bench_update.c - one DDPG update's time over a grid of batch sizes and
 * hidden layers, on every backend there is, beside what its GEMMs alone allow;
 * and TD3's and LayerNorm's updates beside DDPG's.
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
 *    here against the products that the generic path runs (update_bound.h);
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
 * At hidden 256,256, batch 128 and 256, four agents instead of one, their
 * rounds interleaved (3 x `rounds` rounds of each, time_agents): DDPG, TD3
 * (delay 2, the default), DDPG and TD3 with LayerNorm; per feature the
 * median us per update (over TD3's policy and other steps alike) and the
 * median of its rounds' ratios to DDPG's round beside them. The grid's DDPG
 * figure there is that DDPG agent's.
 * Last line: one JSON object (bench_common.h's figures; the features' as
 * metrics feature_update_us and feature_vs_ddpg, config naming the feature). */
#include <unistd.h>

#include "bench_common.h"
#include "ddpg/ddpg.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/envs/pendulum.h"
#include "update_bound.h"

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

/* What an agent is: DDPG, TD3 (the defaults: delay 2, noise 0.2 clipped at
 * 0.5), with or without LayerNorm. FEATURES[0] is the grid's. */
typedef struct {
    const char *name;
    Algo algo;
    int layer_norm;
} Feature;
static const Feature FEATURES[] = {
    {"ddpg", ALGO_DDPG, 0}, {"td3", ALGO_TD3, 0}, {"layernorm", ALGO_DDPG, 1},
    {"td3+layernorm", ALGO_TD3, 1}};
#define N_FEATURES ((int)(sizeof FEATURES / sizeof FEATURES[0]))

/* The features' configurations: HIDDEN[1] (256,256) at these batches. */
static const int FEATURE_BATCHES[] = {128, 256};
#define N_FEATURE_BATCHES ((int)(sizeof FEATURE_BATCHES / sizeof FEATURE_BATCHES[0]))
#define FEATURE_HIDDEN 1
#define FEATURE_ROUNDS(r) (3 * (r) < BENCH_MAX_ROUNDS ? 3 * (r) : BENCH_MAX_ROUNDS)

/* ---- timing ---- */

typedef struct {
    Ddpg d;
    Replay r;
} Agent;

static int agent_create(Agent *a, Backend *be, const int *hidden, int batch, const Feature *f) {
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    DdpgParams p = {.obs_dim = 3, .act_dim = 1, .hidden = hidden, .n_hidden = 2, .bounds = ab,
                    .batch_size = batch, .gamma = 0.99f, .tau = 0.005f, .grad_clip = 1.0f,
                    .actor_lr = 1e-3f, .critic_lr = 1e-3f, .seed = 1,
                    .layer_norm = f->layer_norm, .algo = f->algo, .target_noise = 0.2f,
                    .target_noise_clip = 0.5f, .policy_delay = f->algo == ALGO_TD3 ? 2 : 1};
    if (ddpg_create(&a->d, be, &p, NULL)) return -1;
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

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof x[0], bench_cmp_double);
    return x[n / 2];
}

/* Rounds of about ROUND_S of each of the n agents in turn (interleaved, so
 * that a change of a shared host's load falls on all alike), after a
 * warm-up round of each; on the GPU through a graph of GRAPH_UPDATES
 * updates. us[k]: agent k's median us per update; vs_first[k]: the median
 * of its rounds' ratios to agent 0's round beside them. -1 when a capture
 * fails. */
static int time_agents(Backend *be, Agent *a, int n, int rounds, double *us, double *vs_first) {
    BenchWork w[N_FEATURES];
    static double t[N_FEATURES][BENCH_MAX_ROUNDS];
    double ratio[BENCH_MAX_ROUNDS];
    int made = 0, rc = 0;
    for (; made < n && rc == 0; made++) {
        w[made] = (BenchWork){be, one_update, &a[made], NULL, 1, 1};
        if (be->capture_begin) {
            w[made].graph = bench_capture(be, one_update_graph, &a[made], 1);
            w[made].per = GRAPH_UPDATES;
            if (!w[made].graph) rc = -1;
        }
        if (rc == 0) bench_calibrate(&w[made], ROUND_S, 1 << 20);
    }
    for (int r = -1; r < rounds && rc == 0; r++)
        for (int k = 0; k < n; k++) {
            be->sync(be);
            double t0 = bench_now_s();
            bench_round(&w[k]);
            be->sync(be);
            if (r >= 0) t[k][r] = (bench_now_s() - t0) * 1e6 / ((double)w[k].count * w[k].per);
        }
    for (int k = 0; k < n && rc == 0; k++) {
        for (int r = 0; r < rounds; r++) ratio[r] = t[k][r] / t[0][r];
        vs_first[k] = median(ratio, rounds);
        us[k] = median(t[k], rounds);
    }
    for (int k = 0; k < made; k++)
        if (w[k].graph) be->graph_destroy(be, w[k].graph);
    return rc;
}

/* ---- the grid ---- */

typedef struct {
    double us[N_FEATURES], vs_ddpg[N_FEATURES], flops[N_FEATURES];
} FeatureRow;

/* One backend's column of the grid. */
typedef struct {
    Backend *be;
    const char *label; /* "cpu" or "cuda" */
    int threads;       /* 0 on the GPU */
    double gflops;     /* its GEMM rate */
    double us[N_CONFIGS];
    FeatureRow feat[N_FEATURE_BATCHES];
} Column;

/* Config i's row of the features, or -1. */
static int feature_row(int i) {
    for (int b = 0; b < N_FEATURE_BATCHES && i / N_BATCHES == FEATURE_HIDDEN; b++)
        if (BATCHES[i % N_BATCHES] == FEATURE_BATCHES[b]) return b;
    return -1;
}

/* Config i: DDPG's agent, or at a feature row every feature's agent, timed
 * side by side; check_bad (on the first column): the FLOPs formula against
 * the ops, for each agent. */
static int run_config(Column *col, int i, int rounds, double *flops, int *check_bad) {
    int h = i / N_BATCHES, batch = BATCHES[i % N_BATCHES], fr = feature_row(i);
    int n = fr >= 0 ? N_FEATURES : 1, made = 0, rc = 0;
    Agent a[N_FEATURES];
    FeatureRow row;
    for (; made < n && rc == 0; made += rc == 0)
        rc = agent_create(&a[made], col->be, HIDDEN[h].sizes, batch, &FEATURES[made]);
    if (rc)
        fprintf(stderr, "bench_update: out of memory at %s batch %d on %s\n", HIDDEN[h].name,
                batch, col->label);
    for (int k = 0; k < made && rc == 0; k++) {
        row.flops[k] = update_flops(&a[k].d);
        if (check_bad && counted_flops(&a[k].d) != row.flops[k]) {
            fprintf(stderr, "bench_update: %s batch %d %s: %.0f FLOPs counted, %.0f computed\n",
                    HIDDEN[h].name, batch, FEATURES[k].name, g_counted, row.flops[k]);
            ++*check_bad;
        }
    }
    int r = fr >= 0 ? FEATURE_ROUNDS(rounds) : rounds;
    if (rc == 0 && time_agents(col->be, a, n, r, row.us, row.vs_ddpg)) row.us[0] = NAN, fr = -1;
    if (rc == 0) flops[i] = row.flops[0], col->us[i] = row.us[0];
    if (rc == 0 && fr >= 0) col->feat[fr] = row;
    for (int k = 0; k < made; k++) agent_destroy(&a[k], col->be);
    return rc;
}

/* ---- the report ---- */

static void column_name(char *buf, size_t len, const Column *col) {
    snprintf(buf, len, col->threads ? "%s %dt" : "%s", col->label, col->threads);
}

static void print_grid(const Column *cols, int n_cols, int cpu_all, const double *flops,
                       BenchRows *rows) {
    printf("%-8s %5s %7s %8s %10s %8s %8s %8s\n", "hidden", "batch", "MFLOP", "backend",
           "us/update", "GFLOP/s", "of GEMM", "GPU/CPU");
    for (int i = 0; i < N_CONFIGS; i++) {
        const char *hidden = HIDDEN[i / N_BATCHES].name;
        int batch = BATCHES[i % N_BATCHES];
        for (int c = 0; c < n_cols; c++) {
            const Column *col = &cols[c];
            double us = col->us[i], frac = fraction_of_bound(flops[i], col->gflops, us);
            double ratio = col->threads == 0 ? cols[cpu_all].us[i] / us : NAN;
            char be_name[32], ratio_s[16] = "", batch_s[16] = "", mflop_s[16] = "";
            column_name(be_name, sizeof be_name, col);
            if (isfinite(ratio)) snprintf(ratio_s, sizeof ratio_s, "%.2fx", ratio);
            if (c == 0) {
                snprintf(batch_s, sizeof batch_s, "%d", batch);
                snprintf(mflop_s, sizeof mflop_s, "%.1f", flops[i] * 1e-6);
            }
            printf("%-8s %5s %7s %8s %10.1f %8.1f %8.3f %8s\n", c ? "" : hidden, batch_s,
                   mflop_s, be_name, us, flops[i] / us * 1e-3, frac, ratio_s);
            BenchRow r = {col->label, col->threads, "update_us", NULL, 0, batch, hidden, NULL,
                          us, "us", flops[i], frac, ratio};
            bench_rows_add(rows, &r);
        }
    }
}

static void print_features(const Column *cols, int n_cols, int rounds, BenchRows *rows) {
    printf("\nFeatures at hidden %s (TD3: delay 2), rounds interleaved: us per update (median of "
           "%d rounds), x DDPG (median of the rounds' ratios)\n%5s %8s",
           HIDDEN[FEATURE_HIDDEN].name, rounds, "batch", "backend");
    for (int f = 0; f < N_FEATURES; f++) printf(" %21s", FEATURES[f].name);
    printf("\n");
    for (int b = 0; b < N_FEATURE_BATCHES; b++)
        for (int c = 0; c < n_cols; c++) {
            const FeatureRow *fr = &cols[c].feat[b];
            char be_name[32];
            column_name(be_name, sizeof be_name, &cols[c]);
            printf("%5d %8s", FEATURE_BATCHES[b], be_name);
            for (int f = 0; f < N_FEATURES; f++) {
                printf(" %10.1f us %6.3fx", fr->us[f], fr->vs_ddpg[f]);
                BenchRow r = {cols[c].label, cols[c].threads, "feature_update_us", NULL, 0,
                              FEATURE_BATCHES[b], HIDDEN[FEATURE_HIDDEN].name, FEATURES[f].name,
                              fr->us[f], "us", fr->flops[f],
                              fraction_of_bound(fr->flops[f], cols[c].gflops, fr->us[f]), NAN};
                bench_rows_add(rows, &r);
                r.metric = "feature_vs_ddpg", r.value = fr->vs_ddpg[f], r.unit = "x";
                r.flops = r.fraction = NAN;
                bench_rows_add(rows, &r);
            }
            printf("\n");
        }
}

/* The GEMM rates: printed, and the suite's first rows. */
static void print_rates(const Column *cols, int n_cols, BenchRows *rows) {
    char cfg[64];
    snprintf(cfg, sizeof cfg, "sgemm %dx%dx%d A B^T", RATE_N, RATE_N, RATE_N);
    printf("GEMM rate (%s through the backend's gemm, fastest of %d):", cfg, RATE_ROUNDS);
    for (int c = 0; c < n_cols; c++) {
        if (cols[c].threads)
            printf("%s cpu %d thread%s %.1f GFLOP/s", c ? "," : "", cols[c].threads,
                   cols[c].threads > 1 ? "s" : "", cols[c].gflops);
        else
            printf("%s %s %.1f GFLOP/s", c ? "," : "", cols[c].label, cols[c].gflops);
        BenchRow r = {cols[c].label, cols[c].threads, "gemm_gflops", NULL, 0, 0, NULL, cfg,
                      cols[c].gflops, "GFLOP/s", 2.0 * RATE_N * RATE_N * RATE_N, NAN, NAN};
        bench_rows_add(rows, &r);
    }
    printf("\n");
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
    cols[n_cols++] = (Column){.be = backend_cpu_create(1), .label = "cpu", .threads = 1};
    if (cores > 1) cols[n_cols++] = (Column){.be = backend_cpu_create(0), .label = "cpu"};
    int cpu_all = n_cols - 1; /* the column the GPU is compared with */
    if (gpu) cols[n_cols++] = (Column){.be = gpu, .label = "cuda"};
    if (cols[cpu_all].threads == 0) cols[cpu_all].threads = cols[cpu_all].be->threads;
    printf("CPU: %s, %ld cores | GPU: %s\n", cols[0].be->device_name, cores,
           gpu ? gpu->device_name : "none");

    double flops[N_CONFIGS];
    int check_bad = 0;
    for (int c = 0; c < n_cols; c++) {
        cols[c].gflops = gemm_rate(cols[c].be, ROUND_S / 2);
        for (int i = 0; i < N_CONFIGS; i++)
            if (run_config(&cols[c], i, rounds, flops, c == 0 ? &check_bad : NULL)) return 1;
    }
    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    print_rates(cols, n_cols, &rows);
    printf("GEMM FLOPs per update from the layer shapes; against the products of the generic"
           " updates: %s\n", check_bad ? "DIFFERENT (see stderr)" : "equal in every configuration");
    printf("DDPG update (Pendulum: obs 3, act 1), us per update, median of %d rounds%s\n", rounds,
           gpu ? "; GPU: a CUDA Graph of 20 updates replayed" : "");
    printf("(cpu Nt: the CPU backend on N threads; of GEMM: the fraction of the GEMM bound)\n");
    print_grid(cols, n_cols, cpu_all, flops, &rows);
    print_features(cols, n_cols, FEATURE_ROUNDS(rounds), &rows);

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
