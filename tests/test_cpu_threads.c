/* test_cpu_threads.c - the CPU backend's threads: the pool's hand-off
 * (every task once, nesting inline, sleep and wake-up, FTZ/DAZ), and the
 * promise of src/backend/cpu/cpu_common.h that any thread count gives bit-identical
 * results, op by op and over whole DDPG updates at odd batch sizes. */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "../src/backend/cpu/pool.h"
#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/elem.h"
#include "ddpg/replay.h"
#include "ddpg/envs/pendulum.h"
#include "suites.h"

static void sleep_us(long us) {
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* ---- the pool ----------------------------------------------------------- */

enum { MAX_TASKS = 16 };

/* What each task of one pool_run saw. */
typedef struct {
    atomic_int count[MAX_TASKS];
    pthread_t tid[MAX_TASKS];
    int in_task[MAX_TASKS];
} TaskLog;

static int runs_of(TaskLog *t, int i) { return atomic_load(&t->count[i]); }

static void log_task(void *ctx, int i) {
    TaskLog *t = ctx;
    sleep_us(200); /* a pool_run that returned early would find the count still 0 */
    t->tid[i] = pthread_self();
    t->in_task[i] = pool_in_task();
    atomic_fetch_add(&t->count[i], 1);
}

/* Every task once, before pool_run returns, on thread i % threads with
 * thread 0 the caller (pool.h); pool_in_task() inside only. Loop: threads. */
START_TEST(test_pool_runs_each_task_once) {
    const int threads = _i;
    const int ns[] = {0, 1, 2, 3, 5, 8, 9};
    Pool *p = pool_create(threads);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(pool_threads(p), threads);
    pthread_t self = pthread_self();
    for (size_t c = 0; c < sizeof ns / sizeof ns[0]; c++) {
        int n = ns[c];
        TaskLog t;
        memset(&t, 0, sizeof t);
        ck_assert_int_eq(pool_in_task(), 0);
        pool_run(p, n, log_task, &t);
        ck_assert_int_eq(pool_in_task(), 0);
        for (int i = 0; i < MAX_TASKS; i++)
            ck_assert_msg(runs_of(&t, i) == (i < n), "threads %d, n %d: task %d ran %d times",
                          threads, n, i, runs_of(&t, i));
        for (int i = 0; i < n; i++) {
            ck_assert_msg(t.in_task[i] == 1, "threads %d, n %d: pool_in_task() = %d in task %d",
                          threads, n, t.in_task[i], i);
            /* n == 1 runs inline: i % threads == 0 too */
            ck_assert_msg(pthread_equal(t.tid[i], self) == (i % threads == 0),
                          "threads %d, n %d: task %d on the wrong thread", threads, n, i);
            ck_assert(pthread_equal(t.tid[i], t.tid[i % threads]));
            for (int j = 0; j < i && i < threads; j++)
                ck_assert_msg(!pthread_equal(t.tid[i], t.tid[j]),
                              "threads %d, n %d: tasks %d and %d on one thread", threads, n, j, i);
        }
    }
    pool_destroy(p);
}
END_TEST

typedef struct {
    Pool *pool;
    pthread_t tid[MAX_TASKS];
    TaskLog inner[MAX_TASKS]; /* the nested pool_run of each outer task */
    int inner_done[MAX_TASKS]; /* all inner tasks had run when pool_run returned */
    int in_task_after[MAX_TASKS];
} Nested;

enum { INNER_N = 5 };

static void nested_task(void *ctx, int i) {
    Nested *x = ctx;
    x->tid[i] = pthread_self();
    pool_run(x->pool, INNER_N, log_task, &x->inner[i]);
    int done = 1;
    for (int k = 0; k < INNER_N; k++) done &= runs_of(&x->inner[i], k) == 1;
    x->inner_done[i] = done;
    x->in_task_after[i] = pool_in_task();
}

/* A pool_run inside a task runs its tasks inline, on the task's thread. */
START_TEST(test_pool_nested_run_is_inline) {
    const int threads = _i;
    Nested x;
    memset(&x, 0, sizeof x);
    x.pool = pool_create(threads);
    ck_assert_ptr_nonnull(x.pool);
    pool_run(x.pool, threads, nested_task, &x);
    for (int i = 0; i < threads; i++) {
        ck_assert_msg(x.inner_done[i], "outer task %d: inner pool_run returned early", i);
        ck_assert_int_eq(x.in_task_after[i], 1);
        for (int k = 0; k < INNER_N; k++) {
            ck_assert_int_eq(x.inner[i].in_task[k], 1);
            ck_assert_msg(pthread_equal(x.inner[i].tid[k], x.tid[i]),
                          "outer task %d: inner task %d ran on another thread", i, k);
        }
    }
    ck_assert_int_eq(pool_in_task(), 0);
    pool_destroy(x.pool);
}
END_TEST

typedef struct {
    unsigned run;
    unsigned out[MAX_TASKS];
} Stamp;

static void stamp_task(void *ctx, int i) {
    Stamp *s = ctx;
    s->out[i] = s->run * MAX_TASKS + (unsigned)i;
}

/* Back-to-back jobs: each run's results are all there when pool_run returns. */
START_TEST(test_pool_back_to_back_runs) {
    enum { RUNS = 20000, N = 5 };
    Pool *p = pool_create(2);
    ck_assert_ptr_nonnull(p);
    Stamp s;
    memset(&s, 0, sizeof s);
    for (unsigned r = 1; r <= RUNS; r++) {
        s.run = r;
        pool_run(p, N, stamp_task, &s);
        for (int i = 0; i < N; i++)
            if (s.out[i] != r * MAX_TASKS + (unsigned)i)
                ck_abort_msg("run %u: task %d left %u", r, i, s.out[i]);
    }
    pool_destroy(p);
}
END_TEST

/* Workers sleep after a few hundred microseconds of spinning: a job
 * published then must wake them. A lost wake-up hangs (Check's timeout). */
static void count_task(void *ctx, int i) { atomic_fetch_add(&((atomic_int *)ctx)[i], 1); }

/* Runs with fewer tasks than threads wait only for the workers that have a
 * task, so an idle worker may wake up jobs late. It must never run a task of
 * a job it has no part in, nor a task twice: every run gets its own counters,
 * checked after pool_destroy has joined every worker. */
START_TEST(test_pool_idle_workers_run_nothing_twice) {
    enum { RUNS = 20000, THREADS = 4 };
    atomic_int(*cnt)[THREADS] = calloc(RUNS, sizeof *cnt);
    ck_assert_ptr_nonnull(cnt);
    Pool *p = pool_create(THREADS);
    ck_assert_ptr_nonnull(p);
    for (int r = 0; r < RUNS; r++) pool_run(p, 1 + r % THREADS, count_task, cnt[r]);
    pool_destroy(p);
    for (int r = 0; r < RUNS; r++)
        for (int i = 0; i < THREADS; i++)
            if (atomic_load(&cnt[r][i]) != (i < 1 + r % THREADS))
                ck_abort_msg("run %d (%d tasks): task %d ran %d times", r, 1 + r % THREADS, i,
                             atomic_load(&cnt[r][i]));
    free(cnt);
}
END_TEST

START_TEST(test_pool_wakes_sleeping_workers) {
    Pool *p = pool_create(3);
    ck_assert_ptr_nonnull(p);
    for (int round = 0; round < 3; round++) {
        TaskLog t;
        memset(&t, 0, sizeof t);
        sleep_us(20000);
        pool_run(p, 3, log_task, &t);
        for (int i = 0; i < 3; i++) ck_assert_int_eq(runs_of(&t, i), 1);
        ck_assert(!pthread_equal(t.tid[1], pthread_self())); /* a worker did task 1 */
    }
    pool_destroy(p);
}
END_TEST

/* Create and destroy, with and without a job in between: no hang. */
START_TEST(test_pool_create_destroy_repeatedly) {
    for (int k = 0; k < 50; k++) {
        Pool *p = pool_create(3);
        ck_assert_ptr_nonnull(p);
        if (k % 2) {
            TaskLog t;
            memset(&t, 0, sizeof t);
            pool_run(p, 3, log_task, &t);
            for (int i = 0; i < 3; i++) ck_assert_int_eq(runs_of(&t, i), 1);
        }
        pool_destroy(p);
    }
}
END_TEST

#if defined(__x86_64__) || defined(__i386__)
/* 1e-39 * 0.5 is denormal: 0 under FTZ or DAZ. volatile keeps the compiler
 * from folding it. */
static float denormal_product(void) {
    volatile float x = 1e-39f, half = 0.5f;
    return x * half;
}

typedef struct {
    pthread_t tid[2];
    float product[2];
} FlushLog;

static void flush_task(void *ctx, int i) {
    FlushLog *f = ctx;
    f->tid[i] = pthread_self();
    f->product[i] = denormal_product();
}

START_TEST(test_pool_flushes_denormals) {
    _mm_setcsr(_mm_getcsr() & ~0x8040u); /* FTZ and DAZ off */
    ck_assert_msg(denormal_product() != 0.0f, "denormals already flushed before pool_create");
    Pool *p = pool_create(2);
    ck_assert_ptr_nonnull(p);
    ck_assert_msg(denormal_product() == 0.0f, "the creating thread keeps denormals");
    FlushLog f;
    memset(&f, 0, sizeof f);
    pool_run(p, 2, flush_task, &f);
    ck_assert(!pthread_equal(f.tid[1], pthread_self()));
    ck_assert_msg(f.product[1] == 0.0f, "a worker keeps denormals: %g", (double)f.product[1]);
    pool_destroy(p);
}
END_TEST
#endif

/* ---- bit-identical ops across thread counts ----------------------------- */

/* The thread count compared with one thread: odd, so parts are uneven. */
enum { MANY = 3 };

/* Reports the first differing element (of how many) with both values. */
static void assert_same_floats(const char *what, const float *one, const float *many, size_t n,
                               int threads) {
    size_t first = n, ndiff = 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(&one[i], &many[i], sizeof(float)) != 0) {
            if (first == n) first = i;
            ndiff++;
        }
    if (ndiff)
        ck_abort_msg("%s: %zu of %zu differ, first [%zu]: %.9g (1 thread) vs %.9g (%d threads)",
                     what, ndiff, n, first, (double)one[first], (double)many[first], threads);
}

/* n floats uniform in [-1, 1), the same for a given seed. */
static void fill_uniform(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        x[i] = -1.0f + 2.0f * rng_u01f(philox4x32(seed, (uint32_t)i, 0, 0).v[0]);
}

static float *dev_uniform(Backend *be, size_t n, uint64_t seed) {
    float *h = malloc(sizeof(float) * n), *d = be->alloc(be, sizeof(float) * n);
    ck_assert(h && d);
    fill_uniform(h, n, seed);
    be->to_device(be, d, h, sizeof(float) * n);
    free(h);
    return d;
}

static float *host_copy(Backend *be, const float *d, size_t n) {
    float *h = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(h);
    be->to_host(be, h, d, sizeof(float) * n);
    return h;
}

/* Each *_result runs one op on be from inputs fixed by their seeds and
 * returns its output as a host copy; the test runs it on 1 and MANY threads. */

typedef struct {
    int m, n, k;
} Mnk;

/* C (m, ldc) after alpha op(A) op(B) + beta C; leading dimensions padded by 3
 * so that a part's offset into A, B or C must use them. */
static float *gemm_result(Backend *be, int ta, int tb, Mnk s, size_t *nc) {
    int lda = (ta ? s.m : s.k) + 3, ldb = (tb ? s.k : s.n) + 3, ldc = s.n + 3;
    size_t na = (size_t)(ta ? s.k : s.m) * lda, nb = (size_t)(tb ? s.n : s.k) * ldb;
    *nc = (size_t)s.m * ldc;
    float *A = dev_uniform(be, na, 1), *B = dev_uniform(be, nb, 2), *C = dev_uniform(be, *nc, 3);
    be->gemm(be, ta, tb, s.m, s.n, s.k, 0.75f, A, lda, B, ldb, -0.5f, C, ldc);
    float *out = host_copy(be, C, *nc);
    be->free(be, A), be->free(be, B), be->free(be, C);
    return out;
}

/* A GEMM is cut into blocks of 128 rows of C, each block far above
 * GEMM_PART_MIN_MACS = 2^20: 257x129x300 is 3 blocks, 1001x65x257 is 8, so
 * MANY threads take MANY parts. (With A transposed, a weight gradient, it
 * is one call.) */
START_TEST(test_gemm_same_any_threads) {
    const Mnk shapes[] = {{257, 129, 300}, {1001, 65, 257}};
    Backend *b1 = backend_cpu_create(1), *bm = backend_cpu_create(MANY);
    for (int c = 0; c < 2; c++)
        for (int t = 0; t < 4; t++) {
            int ta = t & 1, tb = t >> 1;
            size_t n1, nm;
            float *one = gemm_result(b1, ta, tb, shapes[c], &n1);
            float *many = gemm_result(bm, ta, tb, shapes[c], &nm);
            char what[64];
            snprintf(what, sizeof what, "gemm ta=%d tb=%d %dx%dx%d", ta, tb, shapes[c].m,
                     shapes[c].n, shapes[c].k);
            assert_same_floats(what, one, many, n1, MANY);
            free(one), free(many);
        }
    b1->destroy(b1), bm->destroy(bm);
}
END_TEST

typedef struct {
    Activation act;
    int rows, cols;
} ActCase;

/* Row-wise passes split at ROWS_PART_MIN_ELEMS = 32768 elements per part:
 * 1025x65 gives 2 parts, 20001x7 gives 3 (9001x7 would stay whole). */
static const ActCase ACT_CASES[] = {
    {ACT_RELU, 1025, 65}, {ACT_NONE, 1025, 65}, {ACT_TANH_SCALE, 20001, 7}};

static ActionBounds act_bounds(int cols) {
    ActionBounds ab = {cols <= DDPG_MAX_ACT_DIM ? cols : 0, {0}, {0}};
    for (int j = 0; j < ab.dim; j++) ab.low[j] = -1.0f - 0.5f * j, ab.high[j] = 2.0f + 0.25f * j;
    return ab;
}

/* A forward layer with 9 inputs: the GEMM, then the bias and activation. */
static float *linear_act_result(Backend *be, ActCase c) {
    size_t n = (size_t)c.rows * c.cols;
    ActionBounds ab = act_bounds(c.cols);
    float *x = dev_uniform(be, (size_t)c.rows * 9, 4), *w = dev_uniform(be, (size_t)c.cols * 9, 5);
    float *b = dev_uniform(be, (size_t)c.cols, 6), *y = be->alloc(be, sizeof(float) * n);
    ck_assert_ptr_nonnull(y);
    be->linear_act(be, y, x, w, b, c.rows, 9, c.cols, c.act, &ab);
    float *out = host_copy(be, y, n);
    be->free(be, x), be->free(be, w), be->free(be, b), be->free(be, y);
    return out;
}

/* dy *= act'(y), with y a possible output of the activation. */
static float *act_grad_result(Backend *be, ActCase c) {
    size_t n = (size_t)c.rows * c.cols;
    ActionBounds ab = act_bounds(c.cols);
    float *dy = dev_uniform(be, n, 6), *y = dev_uniform(be, n, 7);
    float *h = host_copy(be, y, n);
    for (size_t i = 0; i < n; i++) {
        int j = (int)(i % (size_t)c.cols);
        if (c.act == ACT_RELU) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
        if (c.act == ACT_TANH_SCALE)
            h[i] = ab.low[j] + (ab.high[j] - ab.low[j]) * 0.5f * (h[i] + 1.0f);
    }
    be->to_device(be, y, h, sizeof(float) * n);
    free(h);
    be->act_grad(be, dy, y, c.rows, c.cols, c.act, &ab);
    float *out = host_copy(be, dy, n);
    be->free(be, dy), be->free(be, y);
    return out;
}

START_TEST(test_linear_act_and_act_grad_same_any_threads) {
    Backend *b1 = backend_cpu_create(1), *bm = backend_cpu_create(MANY);
    for (size_t c = 0; c < sizeof ACT_CASES / sizeof ACT_CASES[0]; c++) {
        ActCase ac = ACT_CASES[c];
        size_t n = (size_t)ac.rows * ac.cols;
        char what[64];
        float *one = linear_act_result(b1, ac), *many = linear_act_result(bm, ac);
        snprintf(what, sizeof what, "linear_act act=%d %dx%d", (int)ac.act, ac.rows, ac.cols);
        assert_same_floats(what, one, many, n, MANY);
        free(one), free(many);
        one = act_grad_result(b1, ac), many = act_grad_result(bm, ac);
        snprintf(what, sizeof what, "act_grad act=%d %dx%d", (int)ac.act, ac.rows, ac.cols);
        assert_same_floats(what, one, many, n, MANY);
        free(one), free(many);
    }
    b1->destroy(b1), bm->destroy(bm);
}
END_TEST

/* 1025 rows: parts of >= 31 columns (16-aligned), so 257 columns give 3. */
static float *col_sum_result(Backend *be, int rows, int cols) {
    float *dy = dev_uniform(be, (size_t)rows * cols, 8), *db = dev_uniform(be, (size_t)cols, 9);
    be->col_sum(be, db, dy, rows, cols);
    float *out = host_copy(be, db, (size_t)cols);
    be->free(be, dy), be->free(be, db);
    return out;
}

START_TEST(test_col_sum_same_any_threads) {
    Backend *b1 = backend_cpu_create(1), *bm = backend_cpu_create(MANY);
    float *one = col_sum_result(b1, 1025, 257), *many = col_sum_result(bm, 1025, 257);
    assert_same_floats("col_sum 1025x257", one, many, 257, MANY);
    free(one), free(many);
    b1->destroy(b1), bm->destroy(bm);
}
END_TEST

/* 100003 elements in three uneven parts for the norm, element-wise parts
 * of >= ELEM_PART_MIN = 8192: MANY parts. */
enum { BIG_N = 100003 };

/* p, m, v and the target (4 BIG_N), then the norm, after three optimizer
 * steps from zero moments. */
static float *optim_result(Backend *be, float max_norm) {
    float *p = dev_uniform(be, BIG_N, 11), *t = dev_uniform(be, BIG_N, 12);
    float *g = be->alloc(be, sizeof(float) * BIG_N), *mv = be->alloc(be, sizeof(float) * 2 * BIG_N);
    float *acc = be->alloc(be, sizeof(float));
    int64_t *step = be->alloc(be, sizeof(int64_t));
    ck_assert(g && mv && acc && step);
    const size_t parts[3] = {33, 70000, BIG_N - 70033};
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    for (int s = 0; s < 3; s++) {
        float *gs = dev_uniform(be, BIG_N, 13 + s);
        be->copy(be, g, gs, sizeof(float) * BIG_N);
        be->free(be, gs);
        be->optim_step(be, p, g, mv, mv + BIG_N, BIG_N, parts, 3, max_norm, acc, h, step, t,
                       0.005f);
    }
    float *out = malloc(sizeof(float) * (4 * BIG_N + 1));
    ck_assert_ptr_nonnull(out);
    be->to_host(be, out, p, sizeof(float) * BIG_N);
    be->to_host(be, out + BIG_N, mv, sizeof(float) * 2 * BIG_N);
    be->to_host(be, out + 3 * BIG_N, t, sizeof(float) * BIG_N);
    be->to_host(be, out + 4 * BIG_N, acc, sizeof(float));
    be->free(be, p), be->free(be, t), be->free(be, g), be->free(be, mv);
    be->free(be, acc), be->free(be, step);
    return out;
}

START_TEST(test_optim_step_same_any_threads) {
    /* |g| ~ sqrt(BIG_N / 3) ~ 183 per step: 1 clips, 1000 does not */
    const float max_norms[] = {1.0f, 1000.0f};
    const char *names[] = {"p", "m", "v", "target"};
    Backend *b1 = backend_cpu_create(1), *bm = backend_cpu_create(MANY);
    for (int c = 0; c < 2; c++) {
        float *one = optim_result(b1, max_norms[c]), *many = optim_result(bm, max_norms[c]);
        float norm = one[4 * BIG_N] / 3; /* the mean of three norms */
        ck_assert((norm > max_norms[c]) == (c == 0)); /* both paths are taken */
        char what[64];
        for (int k = 0; k < 4; k++) {
            snprintf(what, sizeof what, "optim_step n=%d max_norm=%g: %s", BIG_N,
                     (double)max_norms[c], names[k]);
            assert_same_floats(what, one + k * BIG_N, many + k * BIG_N, BIG_N, MANY);
        }
        assert_same_floats("optim_step: the norms", one + 4 * BIG_N, many + 4 * BIG_N, 1, MANY);
        free(one), free(many);
    }
    b1->destroy(b1), bm->destroy(bm);
}
END_TEST

enum { SAMPLE_B = 257 }; /* parts of >= 64 rows: MANY parts */

/* Every field of two consecutive samples, host copies, in one buffer:
 * per sample obs, act, next_obs, rew, term (floats), then the idx bits. */
static float *sample_result(Backend *be, size_t *n) {
    Replay r;
    Batch b;
    ck_assert_int_eq(replay_create(&r, be, 5000, 3, 1), 0);
    ck_assert_int_eq(batch_create(&b, be, SAMPLE_B, 3, 1), 0);
    env_fill_random(be, pendulum_spec(), &r, 3001, 7);
    uint64_t *ctr = be->alloc(be, sizeof(uint64_t));
    ck_assert_ptr_nonnull(ctr);
    size_t per = (size_t)SAMPLE_B * (3 + 1 + 3 + 1 + 1 + 2); /* idx: 2 floats' bits */
    *n = 2 * per;
    float *out = malloc(sizeof(float) * *n);
    ck_assert_ptr_nonnull(out);
    for (int s = 0; s < 2; s++) {
        be->replay_sample(be, &r, &b, 1, ctr);
        float *o = out + s * per;
        be->to_host(be, o, b.obs, sizeof(float) * SAMPLE_B * 3), o += SAMPLE_B * 3;
        be->to_host(be, o, b.act, sizeof(float) * SAMPLE_B), o += SAMPLE_B;
        be->to_host(be, o, b.next_obs, sizeof(float) * SAMPLE_B * 3), o += SAMPLE_B * 3;
        be->to_host(be, o, b.rew, sizeof(float) * SAMPLE_B), o += SAMPLE_B;
        be->to_host(be, o, b.term, sizeof(float) * SAMPLE_B), o += SAMPLE_B;
        be->to_host(be, o, b.idx, sizeof(int64_t) * SAMPLE_B);
    }
    be->free(be, ctr);
    batch_destroy(&b, be);
    replay_destroy(&r, be);
    return out;
}

START_TEST(test_replay_sample_same_any_threads) {
    Backend *b1 = backend_cpu_create(1), *bm = backend_cpu_create(MANY);
    size_t n1, nm;
    float *one = sample_result(b1, &n1), *many = sample_result(bm, &nm);
    const char *fields[] = {"obs", "act", "next_obs", "rew", "term", "idx"};
    const size_t len[] = {3, 1, 3, 1, 1, 2};
    size_t off = 0;
    for (int s = 0; s < 2; s++)
        for (int f = 0; f < 6; f++) {
            char what[64];
            snprintf(what, sizeof what, "replay_sample %d of batch %d: %s", s, SAMPLE_B,
                     fields[f]);
            assert_same_floats(what, one + off, many + off, SAMPLE_B * len[f], MANY);
            off += SAMPLE_B * len[f];
        }
    ck_assert_uint_eq(off, n1);
    /* the idx of the first sample spread over the fill, not all one slot */
    int64_t idx[2];
    memcpy(idx, one + SAMPLE_B * 9, sizeof idx);
    ck_assert(idx[0] != idx[1]);
    free(one), free(many);
    b1->destroy(b1), bm->destroy(bm);
}
END_TEST

/* ---- whole DDPG updates ------------------------------------------------- */

enum { N_UPDATES = 20 };

/* An agent's state after its updates, copied to the host. */
typedef struct {
    size_t na, nc;
    float *buf[8]; /* in the order of SNAP_NAMES */
    float metrics[DDPG_N_METRICS];
    int64_t adam_step[2];
} Snapshot;

static const char *SNAP_NAMES[8] = {"actor",    "actor_targ", "actor_m",  "actor_v",
                                    "critic",   "critic_targ", "critic_m", "critic_v"};

static Snapshot train_snapshot(int threads, const DdpgParams *p) {
    Backend *be = backend_cpu_create(threads);
    Ddpg d;
    Replay r;
    ck_assert_int_eq(ddpg_create(&d, be, p, NULL), 0);
    ck_assert_int_eq(replay_create(&r, be, 20000, 3, 1), 0);
    env_fill_random(be, pendulum_spec(), &r, 20000, 7);
    for (int i = 0; i < N_UPDATES; i++) ddpg_update(&d, &r);
    const Net *a = &d.actor, *c = &d.critic[0];
    Snapshot s = {a->shape.n_params, c->shape.n_params, {0}, {0}, {0}};
    float *src[8] = {a->params, a->target, a->adam_m, a->adam_v,
                     c->params, c->target, c->adam_m, c->adam_v};
    for (int k = 0; k < 8; k++) s.buf[k] = host_copy(be, src[k], k < 4 ? s.na : s.nc);
    be->to_host(be, s.metrics, d.metrics, sizeof(float) * METRIC_Q2_MEAN); /* DDPG's */
    be->to_host(be, &s.adam_step[0], a->adam_step, sizeof(int64_t));
    be->to_host(be, &s.adam_step[1], c->adam_step, sizeof(int64_t));
    replay_destroy(&r, be);
    ddpg_destroy(&d);
    be->destroy(be);
    return s;
}

static void snapshot_free(Snapshot *s) {
    for (int k = 0; k < 8; k++) free(s->buf[k]);
}

static void assert_same_snapshots(const Snapshot *one, const Snapshot *many, int threads,
                                  const char *config) {
    char what[96];
    for (int k = 0; k < 8; k++) {
        snprintf(what, sizeof what, "%s after %d updates: %s", config, N_UPDATES, SNAP_NAMES[k]);
        assert_same_floats(what, one->buf[k], many->buf[k], k < 4 ? one->na : one->nc, threads);
    }
    snprintf(what, sizeof what, "%s after %d updates: metrics", config, N_UPDATES);
    assert_same_floats(what, one->metrics, many->metrics, METRIC_Q2_MEAN, threads);
    ck_assert_int_eq(many->adam_step[0], N_UPDATES);
    ck_assert_int_eq(many->adam_step[1], N_UPDATES);
}

static DdpgParams bench_params(const int *hidden, int n_hidden, int batch) {
    DdpgParams p = {.obs_dim = 3, .act_dim = 1, .hidden = hidden, .n_hidden = n_hidden,
                    .bounds = {1, {-2.0f}, {2.0f}}, .batch_size = batch, .gamma = 0.99f,
                    .tau = 0.005f, .grad_clip = 1.0f, .actor_lr = 1e-3f, .critic_lr = 1e-3f,
                    .seed = 1};
    return p;
}

/* bench_cpu's agent: 256x256 layers at batch 128 fork the backward pass
 * into lanes; the Q(s, mu(s)) pass runs as two parts of 64 rows. */
START_TEST(test_ddpg_updates_same_any_threads) {
    const int hidden[2] = {256, 256};
    DdpgParams p = bench_params(hidden, 2, 128);
    Snapshot one = train_snapshot(1, &p);
    for (int k = 0; k < METRIC_Q2_MEAN; k++) /* DDPG's metrics */
        ck_assert_msg(isfinite(one.metrics[k]) && one.metrics[k] != 0.0f, "metric %d = %g", k,
                      (double)one.metrics[k]);
    for (int threads = 2; threads <= 3; threads++) {
        Snapshot many = train_snapshot(threads, &p);
        assert_same_snapshots(&one, &many, threads, "256,256 batch 128");
        snapshot_free(&many);
    }
    snapshot_free(&one);
}
END_TEST

/* Odd batch sizes, where halves of the batch would be uneven: 65 (the
 * Q(s, mu(s)) pass cut at 32 rows), 37 and 19 (not cut), 300 (cut at 128).
 * Three hidden layers: at width 128, 65x128x128 MACs >= the fork threshold
 * (2^20), so the backward pass forks at the top hidden layer and again
 * inside that lane (nested lanes, run inline); at width 64 it never forks.
 * 1, 2 and MANY threads. */
START_TEST(test_ddpg_updates_odd_batches) {
    const struct {
        int width, batch;
    } cases[] = {{64, 65}, {128, 65}, {256, 37}, {33, 19}, {64, 300}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int w = cases[c].width;
        const int hidden[3] = {w, w, w};
        DdpgParams p = bench_params(hidden, 3, cases[c].batch);
        Snapshot one = train_snapshot(1, &p);
        for (int threads = 2; threads <= MANY; threads++) {
            Snapshot many = train_snapshot(threads, &p);
            char config[48];
            snprintf(config, sizeof config, "%d,%d,%d batch %d", w, w, w, cases[c].batch);
            assert_same_snapshots(&one, &many, threads, config);
            snapshot_free(&many);
        }
        snapshot_free(&one);
    }
}
END_TEST

Suite *cpu_threads_suite(void) {
    Suite *s = suite_create("cpu_threads");
    TCase *tc = tcase_create("pool");
    /* A lost wake-up hangs, and the timeout catches it. Check's 4 s default was
     * too short for 20000 runs of 4 threads on 2 busy cores: it expired twice
     * while another build shared the machine, and 30 s once with two training
     * runs beside the tests (load 5 on 2 cores: the whole case took 17-21 s).
     * A hang is still caught; a slow machine no longer fails. */
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_pool_runs_each_task_once, 1, 5); /* threads 1..4 */
    tcase_add_loop_test(tc, test_pool_nested_run_is_inline, 1, 5);
    tcase_add_test(tc, test_pool_back_to_back_runs);
    tcase_add_test(tc, test_pool_idle_workers_run_nothing_twice);
    tcase_add_test(tc, test_pool_wakes_sleeping_workers);
    tcase_add_test(tc, test_pool_create_destroy_repeatedly);
#if defined(__x86_64__) || defined(__i386__)
    tcase_add_test(tc, test_pool_flushes_denormals);
#endif
    suite_add_tcase(s, tc);

    tc = tcase_create("ops_bit_identical");
    tcase_add_test(tc, test_gemm_same_any_threads);
    tcase_add_test(tc, test_linear_act_and_act_grad_same_any_threads);
    tcase_add_test(tc, test_col_sum_same_any_threads);
    tcase_add_test(tc, test_optim_step_same_any_threads);
    tcase_add_test(tc, test_replay_sample_same_any_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("ddpg_bit_identical");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ddpg_updates_same_any_threads);
    tcase_add_test(tc, test_ddpg_updates_odd_batches);
    suite_add_tcase(s, tc);
    return s;
}
