/* bench_cpu.c - CPU backend: microseconds per DDPG update (256,256, batch 128)
 * and env-steps/s of the notebook's setting (--envs 1, one update per step).
 *
 *   build/bench/bench_cpu [updates]
 *   build/bench/bench_cpu --rounds R [--threads T] [updates]
 *
 * Prints a table, then one JSON object as its last line (with
 * bench_common.h's figures). The PyTorch update it is compared with is timed by
 * bench/pytorch_update.py in the same `make bench`. With --rounds, only
 * the update time: R rounds of `updates` updates on T threads (default 2),
 * each round's time, and the fastest, first-quartile and median round; for
 * comparing two builds in turns on a noisy host (bench/ab_update.sh). OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE change which OpenBLAS kernel runs: run benchmarks with both
 * unset (env -u ...); the kernel in use is printed.
 *
 * The two-thread figure moves data between cores every few microseconds, so
 * it depends on how far apart the two cores are. On a virtual machine that
 * changes from run to run (the host places the vCPUs), so the bench measures
 * and prints the cross-core round trip next to it. */
#include <pthread.h>
#include <stdatomic.h>

#include "bench_common.h"
#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/ddpg.h"
#include "ddpg/elem.h"
#include "ddpg/train.h"
#include "ddpg/envs/pendulum.h"

/* Nanoseconds for a cache line to go to another thread and back (median of
 * 5 rounds of 20000 ping-pongs). A round stops after ROUND_CAP_S: on a host
 * busy with other work the two threads are not on cores at once, and each
 * ping can wait a whole time slice (a round took minutes so). */
static _Alignas(64) atomic_int g_ball; /* -1: the round is over */
enum { PINGS = 20000 };
#define ROUND_CAP_S 0.5
static void *pong(void *arg) {
    (void)arg;
    for (int i = 0; i < PINGS; i++) {
        int b;
        while ((b = atomic_load_explicit(&g_ball, memory_order_acquire)) != 2 * i + 1)
            if (b < 0) return NULL;
        atomic_store_explicit(&g_ball, 2 * i + 2, memory_order_release);
    }
    return NULL;
}
static double cross_core_round_trip_ns(void) {
    double t[5];
    for (int k = 0; k < 5; k++) {
        atomic_store(&g_ball, 0);
        pthread_t th;
        if (pthread_create(&th, NULL, pong, NULL) != 0) return NAN;
        double t0 = bench_now_s();
        int done = 0;
        while (done < PINGS) {
            atomic_store_explicit(&g_ball, 2 * done + 1, memory_order_release);
            while (atomic_load_explicit(&g_ball, memory_order_acquire) != 2 * done + 2) {}
            /* the clock at 1, 2, 4, ... 256 pings, then every 256th */
            done++;
            int look = done < 256 ? (done & (done - 1)) == 0 : done % 256 == 0;
            if (look && bench_now_s() - t0 > ROUND_CAP_S) break;
        }
        t[k] = (bench_now_s() - t0) / done * 1e9;
        atomic_store(&g_ball, -1);
        pthread_join(th, NULL);
    }
    qsort(t, 5, sizeof t[0], bench_cmp_double);
    return t[2];
}

/* Microseconds per update of each of `reps` rounds of `n` updates, sorted
 * into t[reps]. */
static void time_rounds(int threads, int batch, int n, int reps, double *t) {
    Backend *be = backend_cpu_create(threads);
    int hidden[2] = {256, 256};
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    DdpgParams p = {.obs_dim = 3, .act_dim = 1, .hidden = hidden, .n_hidden = 2, .bounds = ab,
                    .batch_size = batch, .gamma = 0.99f, .tau = 0.005f, .grad_clip = 1.0f,
                    .actor_lr = 1e-3f, .critic_lr = 1e-3f, .seed = 1};
    Ddpg d;
    if (ddpg_create(&d, be, &p, NULL)) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    Replay r;
    replay_create(&r, be, 20000, 3, 1);
    env_fill_random(be, pendulum_spec(), &r, 20000, 7);
    for (int i = 0; i < 50; i++) ddpg_update(&d, &r);
    for (int k = 0; k < reps; k++) {
        double t0 = bench_now_s();
        for (int i = 0; i < n; i++) ddpg_update(&d, &r);
        t[k] = (bench_now_s() - t0) / n * 1e6;
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp_double);
    replay_destroy(&r, be);
    ddpg_destroy(&d);
    be->destroy(be);
}

/* Median microseconds per update over `reps` rounds of `n` updates. */
static double time_updates(int threads, int batch, int n, int reps) {
    double t[16];
    if (reps > 16) reps = 16;
    time_rounds(threads, batch, n, reps, t);
    return t[reps / 2];
}

static int rounds_main(int threads, int n, int reps) {
    double *t = malloc(sizeof(double) * (size_t)reps);
    if (!t) return 1;
    double rtt0 = cross_core_round_trip_ns();
    time_rounds(threads, 128, n, reps, t);
    double rtt1 = cross_core_round_trip_ns();
    printf("256,256 batch 128, %d thread%s, %d rounds of %d updates (us/update, sorted):", threads,
           threads > 1 ? "s" : "", reps, n);
    for (int k = 0; k < reps; k++) printf(" %.1f", t[k]);
    printf("\n{\"bench\": \"cpu_rounds\", \"openblas_core\": \"%s\", \"threads\": %d, "
           "\"updates_per_round\": %d, \"rounds\": %d, \"min_us\": %.1f, \"q1_us\": %.1f, "
           "\"median_us\": %.1f, \"cross_core_round_trip_ns\": [%.0f, %.0f]}\n",
           openblas_get_corename(), threads, n, reps, t[0], t[reps / 4], t[reps / 2], rtt0, rtt1);
    free(t);
    return 0;
}

/* env-steps/s of the notebook's setting, updates included (steady state:
 * updates from the first step that has a batch). */
static double time_training(int threads, int64_t steps) {
    Config c;
    config_defaults(&c);
    snprintf(c.device, sizeof c.device, "cpu");
    c.threads = threads;
    c.total_steps = steps;
    c.start_steps = 0;
    c.update_after = 0;
    c.eval_every = 0;
    c.probe_n = 0;
    c.quiet = 1;
    Backend *be = backend_cpu_create(threads);
    Trainer tr;
    Error err = {STATUS_OK, ""};
    if (trainer_create(&tr, &c, be, NULL, &err)) {
        error_print(&err, stderr);
        exit(1);
    }
    RunSummary s;
    trainer_run(&tr, &s, &err);
    trainer_destroy(&tr);
    be->destroy(be);
    return s.env_steps_per_s;
}

/* A whole positive integer up to 1000000, or -1. */
static int positive_arg(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    return end != s && *end == '\0' && v >= 1 && v <= 1000000 ? (int)v : -1;
}

int main(int argc, char **argv) {
    int n = 200, rounds = 0, threads = 2;
    for (int i = 1; i < argc; i++) {
        int is_rounds = strcmp(argv[i], "--rounds") == 0;
        int is_threads = strcmp(argv[i], "--threads") == 0;
        const char *val = is_rounds || is_threads ? (i + 1 < argc ? argv[++i] : "") : argv[i];
        int v = positive_arg(val);
        if (v < 0) {
            fprintf(stderr, "%s: %s'%s' is not a positive integer\n"
                            "usage: %s [--rounds R [--threads T]] [updates]\n",
                    argv[0], is_rounds ? "--rounds: " : is_threads ? "--threads: " : "updates: ",
                    val, argv[0]);
            return 2;
        }
        if (is_rounds)
            rounds = v;
        else if (is_threads)
            threads = v;
        else
            n = v;
    }
    if (rounds > 0) return rounds_main(threads, n, rounds);
    bench_print_openblas();
    printf("%-34s %10s\n", "configuration", "us/update");
    double best = INFINITY;
    int best_threads = 1;
    double per_threads[3] = {0};
    double rtt_before = cross_core_round_trip_ns();
    for (int th = 1; th <= 2; th++) {
        double us = time_updates(th, 128, n, 5);
        per_threads[th] = us;
        printf("%-34s %10.1f\n", th == 1 ? "256,256 batch 128, 1 thread" : "256,256 batch 128, 2 threads",
               us);
        if (us < best) best = us, best_threads = th;
    }
    double rtt_after = cross_core_round_trip_ns();
    printf("cross-core round trip: %.0f ns before, %.0f ns after the runs above\n", rtt_before,
           rtt_after);
    double us256 = time_updates(best_threads, 256, n, 5);
    printf("%-34s %10.1f\n", "256,256 batch 256, best threads", us256);
    double sps = time_training(best_threads, 3000);
    printf("notebook setting (--envs 1, 1 update/step, %d thread%s): %.1f env-steps/s\n",
           best_threads, best_threads > 1 ? "s" : "", sps);
    printf("{\"bench\": \"cpu\", \"openblas_core\": \"%s\", \"us_per_update\": %.1f, "
           "\"us_per_update_1thread\": %.1f, \"us_per_update_2threads\": %.1f, "
           "\"best_threads\": %d, \"us_per_update_batch256\": %.1f, \"env_steps_per_s\": %.1f, "
           "\"cross_core_round_trip_ns\": [%.0f, %.0f], ",
           openblas_get_corename(), best, per_threads[1], per_threads[2], best_threads, us256,
           sps, rtt_before, rtt_after);
    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    for (int th = 1; th <= 2; th++) {
        BenchRow r = {"cpu", th, "update_us", NULL, 0, 128, "256,256", "median of 5 rounds",
                      per_threads[th], "us", NAN, NAN, NAN};
        bench_rows_add(&rows, &r);
    }
    BenchRow r256 = {"cpu", best_threads, "update_us", NULL, 0, 256, "256,256",
                     "median of 5 rounds", us256, "us", NAN, NAN, NAN};
    bench_rows_add(&rows, &r256);
    BenchRow rt = {"cpu", best_threads, "train_env_steps_per_s", "Pendulum-v1", 1, 128, "256,256",
                   "the notebook's setting: 1 update per step", sps, "1/s", NAN, NAN, NAN};
    bench_rows_add(&rows, &rt);
    bench_rows_print(&rows);
    printf("}\n");
    return 0;
}
