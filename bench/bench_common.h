/* bench_common.h - what the programs in bench/ share: the clock, rounds of
 * work timed by their median, CUDA Graph capture, the header line, the GPU
 * or the one line that says why there is none, and the suite's rows.
 *
 * Every program prints a table and, as its last line, one JSON object whose
 * "figures" list holds what it measured in the suite's schema (BenchRow;
 * bench/gather.py writes them to the suite's CSV, one row each).
 *
 * Header only (static functions), so that a program is still one .c file of
 * bench/ (the Makefile builds each into build/bench/NAME); bench/ab_update.sh
 * copies this header with bench_cpu.c into the revisions it builds. */
#ifndef DDPG_BENCH_COMMON_H
#define DDPG_BENCH_COMMON_H

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddpg/backend.h"

#define BENCH_MAX_ROUNDS 101

static inline double bench_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- rounds of work ---------------------------------------------------- */

/* What one round repeats: `count` calls of fn(ctx), or replays of a graph. */
typedef struct {
    Backend *be;
    void (*fn)(void *ctx);
    void *ctx;
    void *graph; /* when set, replayed instead of calling fn */
    int count;   /* calls (or replays) per round */
    int per;     /* units of work per call: us per unit = round / (count * per) */
} BenchWork;

static inline void bench_round(const BenchWork *w) {
    for (int i = 0; i < w->count; i++) {
        if (w->graph)
            w->be->graph_launch(w->be, w->graph);
        else
            w->fn(w->ctx);
    }
}

/* Microseconds per unit of work of each of `rounds` rounds, sorted into
 * t[rounds], after one warm-up round (module load, workspaces, the first
 * graph upload); the backend is synchronised before and after each round. */
static inline void bench_time_rounds(const BenchWork *w, int rounds, double *t) {
    bench_round(w);
    w->be->sync(w->be);
    for (int k = 0; k < rounds; k++) {
        double t0 = bench_now_s();
        bench_round(w);
        w->be->sync(w->be);
        t[k] = (bench_now_s() - t0) * 1e6 / ((double)w->count * w->per);
    }
    qsort(t, (size_t)rounds, sizeof t[0], bench_cmp_double);
}

/* The median of bench_time_rounds (rounds at most BENCH_MAX_ROUNDS). */
static inline double bench_time_work(const BenchWork *w, int rounds) {
    double t[BENCH_MAX_ROUNDS];
    if (rounds > BENCH_MAX_ROUNDS) rounds = BENCH_MAX_ROUNDS;
    bench_time_rounds(w, rounds, t);
    return t[rounds / 2];
}

/* Sets w->count so that a round takes about round_s, within [1, max_count]:
 * doubles the calls until they take a tenth of that (the first call warms up). */
static inline void bench_calibrate(BenchWork *w, double round_s, int max_count) {
    w->count = 1;
    bench_round(w);
    w->be->sync(w->be);
    double t = 0;
    for (int c = 1;; c *= 2) {
        w->count = c;
        double t0 = bench_now_s();
        bench_round(w);
        w->be->sync(w->be);
        t = (bench_now_s() - t0) / c;
        if (t * c >= round_s / 10 || c >= max_count) break;
    }
    double n = t > 0 ? round_s / t : max_count;
    w->count = n < 1 ? 1 : n > max_count ? max_count : (int)n;
}

/* Captures `reps` calls of fn(ctx) as one graph; NULL (with a message on
 * stderr) when the capture fails. */
static inline void *bench_capture(Backend *be, void (*fn)(void *), void *ctx, int reps) {
    void *g = NULL;
    if (be->capture_begin(be)) {
        fprintf(stderr, "bench: graph capture could not begin\n");
        return NULL;
    }
    for (int i = 0; i < reps; i++) fn(ctx);
    if (be->capture_end(be, &g)) {
        fprintf(stderr, "bench: graph capture failed\n");
        return NULL;
    }
    return g;
}

/* ---- the machine ------------------------------------------------------- */

/* The OpenBLAS build and the kernel it runs, and the two variables that
 * change the kernel (the README runs the bench with both unset). */
/* The one optional argument of bench_env, bench_gpu and bench_update: the
 * rounds per figure (1 to BENCH_MAX_ROUNDS), else `fallback`; -1 after a usage
 * line (exit 2). */
static inline int bench_rounds_arg(int argc, char **argv, const char *name, int fallback) {
    if (argc == 1) return fallback;
    char *end;
    long v = strtol(argv[1], &end, 10);
    if (argc > 2 || end == argv[1] || *end || v < 1 || v > BENCH_MAX_ROUNDS) {
        fprintf(stderr, "usage: %s [rounds (1 to %d)]\n", name, BENCH_MAX_ROUNDS);
        return -1;
    }
    return (int)v;
}

static inline void bench_print_openblas(void) {
    const char *ct = getenv("OPENBLAS_CORETYPE"), *l2 = getenv("OPENBLAS_L2_SIZE");
    printf("OpenBLAS: %s | core %s | OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n",
           openblas_get_config(), openblas_get_corename(), ct ? ct : "(unset)",
           l2 ? l2 : "(unset)");
}

/* The CUDA backend, or NULL after one line "no GPU: <why>" (any error of
 * the device query counts as no GPU; why holds the reason). */
static inline Backend *bench_gpu_open(char *why, size_t len) {
    Backend *be = backend_cuda_create(why, len);
    if (!be) printf("no GPU: %s\n", why);
    return be;
}

/* ---- JSON and the suite's rows ----------------------------------------- */

/* s as a JSON string (quotes and backslashes escaped, control bytes
 * dropped), or null for NULL. */
static inline void bench_json_str(FILE *f, const char *s) {
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

/* x with `digits` decimals, or null for NaN or infinity. */
static inline void bench_json_num(FILE *f, double x, int digits) {
    if (isfinite(x))
        fprintf(f, "%.*f", digits, x);
    else
        fputs("null", f);
}

/* One measured figure: a row of the suite's CSV. Unused fields: NULL, 0 or
 * NAN (they are empty in the CSV). */
typedef struct {
    const char *backend;  /* "cpu", "cuda", or a peer's ("pytorch-cpu") */
    int threads;          /* CPU threads it ran on; 0 on the GPU */
    const char *metric;   /* what was measured: "update_us", "env_steps_per_s", ... */
    const char *env;      /* a Gymnasium id, or NULL */
    long envs;            /* environments stepped at once, or 0 */
    int batch;            /* minibatch, or 0 */
    const char *hidden;   /* hidden layers, "256,256", or NULL */
    const char *config;   /* anything else that names the configuration, or NULL */
    double value;
    const char *unit;     /* "us", "1/s", "GFLOP/s", ... */
    double flops;         /* the GEMM FLOPs of one unit of the work, or NAN */
    double fraction;      /* of the GEMM bound: (flops / GEMM rate) / time, or NAN */
    double ratio;         /* GPU over CPU (throughput; CPU time / GPU time), or NAN */
} BenchRow;

/* Appends r to a JSON list being written to f (first: no comma before it). */
static inline void bench_json_row(FILE *f, const BenchRow *r, int first) {
    fputs(first ? "{\"backend\": " : ", {\"backend\": ", f);
    bench_json_str(f, r->backend);
    fprintf(f, ", \"threads\": %d, \"metric\": ", r->threads);
    bench_json_str(f, r->metric);
    fputs(", \"env\": ", f);
    bench_json_str(f, r->env);
    fprintf(f, ", \"envs\": %ld, \"batch\": %d, \"hidden\": ", r->envs, r->batch);
    bench_json_str(f, r->hidden);
    fputs(", \"config\": ", f);
    bench_json_str(f, r->config);
    fputs(", \"value\": ", f);
    bench_json_num(f, r->value, 3);
    fputs(", \"unit\": ", f);
    bench_json_str(f, r->unit);
    fputs(", \"flops\": ", f);
    bench_json_num(f, r->flops, 0);
    fputs(", \"fraction_of_gemm_bound\": ", f);
    bench_json_num(f, r->fraction, 4);
    fputs(", \"gpu_cpu_ratio\": ", f);
    bench_json_num(f, r->ratio, 3);
    fputc('}', f);
}

/* A growing JSON list of rows (open_memstream). */
typedef struct {
    char *buf;
    size_t len;
    FILE *f;
    int n;
} BenchRows;

static inline int bench_rows_open(BenchRows *rs) {
    memset(rs, 0, sizeof *rs);
    rs->f = open_memstream(&rs->buf, &rs->len);
    if (!rs->f) perror("bench: open_memstream");
    return rs->f ? 0 : -1;
}

static inline void bench_rows_add(BenchRows *rs, const BenchRow *r) {
    bench_json_row(rs->f, r, rs->n++ == 0);
}

/* Writes `"figures": [...]` to stdout and frees the list. */
static inline void bench_rows_print(BenchRows *rs) {
    fflush(rs->f);
    printf("\"figures\": [%s]", rs->buf ? rs->buf : "");
    fclose(rs->f);
    free(rs->buf);
    memset(rs, 0, sizeof *rs);
}

#endif
