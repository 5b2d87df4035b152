/* pool.c - worker threads that spin, then sleep, between short tasks. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* An idle worker polls for POOL_SPIN_IDLE rounds (~25 ns each with pause),
 * about the longest gap between the ops of one update, and then yields its
 * core on every round until POOL_POLL_IDLE, before it sleeps. A waiting
 * caller pauses POOL_SPIN_WAIT rounds, then yields on every round. Yielding
 * early matters when the cores are shared (another run, a parallel build):
 * a thread that spins on a core the thread it waits for needs stalls both. */
#define POOL_SPIN_IDLE 2048
#define POOL_POLL_IDLE 4096
#define POOL_SPIN_WAIT 2048

struct Pool {
    int threads;
    pthread_t *tid; /* (threads - 1) workers */
    /* The current job. fn and ctx are written before job is stored and read
     * only by workers that have a task in it, which the caller waits for. */
    PoolFn fn;
    void *ctx;
    /* (generation << 32) | task count: one word, so that a worker that wakes
     * late never pairs one job's generation with another job's task count */
    atomic_ullong job;
    atomic_int pending;  /* workers with a task in the current job, not done */
    atomic_int sleepers; /* workers blocked on cv */
    atomic_int quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct {
    Pool *pool;
    int self;
    uint64_t seen; /* job when the worker was created: any other value is new */
} WorkerArg;

static _Thread_local int tl_in_task = 0;

int pool_in_task(void) { return tl_in_task; }

void cpu_flush_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
#endif
}

static void run_share(Pool *p, int self, int n) {
    tl_in_task = 1;
    for (int i = self; i < n; i += p->threads) p->fn(p->ctx, i);
    tl_in_task = 0;
}

/* Waits until job differs from seen; returns the new value. */
static uint64_t wait_job(Pool *p, uint64_t seen) {
    uint64_t g;
    for (int spin = 0; spin < POOL_POLL_IDLE; spin++) {
        g = atomic_load_explicit(&p->job, memory_order_acquire);
        if (g != seen) return g;
        if (spin < POOL_SPIN_IDLE)
            cpu_relax();
        else
            sched_yield();
    }
    /* sleepers is raised before job is read again (both sequentially
     * consistent), and publish stores job before it reads sleepers: either it
     * sees this sleeper and signals under mu, or this thread sees the new job. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while ((g = atomic_load(&p->job)) == seen) pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    WorkerArg a = *(WorkerArg *)arg;
    free(arg);
    Pool *p = a.pool;
    cpu_flush_denormals();
    /* Not atomic_load(&p->job) here: the creator may already have published
     * a job (or the quit) before this thread first ran. */
    uint64_t seen = a.seen;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load_explicit(&p->quit, memory_order_acquire)) break;
        int n = (int)(seen & 0xFFFFFFFFu);
        if (a.self >= n) continue; /* no task here, and the caller does not wait for us */
        run_share(p, a.self, n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
    return NULL;
}

/* Starts job n (0 for the quit); only the caller thread publishes. */
static void publish(Pool *p, int n) {
    uint64_t gen = (atomic_load_explicit(&p->job, memory_order_relaxed) >> 32) + 1;
    atomic_store(&p->job, gen << 32 | (uint32_t)n); /* sequentially consistent: see wait_job */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

Pool *pool_create(int threads) {
    if (threads < 1) threads = 1;
    Pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    cpu_flush_denormals();
    if (threads == 1) return p;
    p->tid = calloc((size_t)threads - 1, sizeof *p->tid);
    if (!p->tid) {
        pool_destroy(p);
        return NULL;
    }
    for (int i = 1; i < threads; i++) {
        WorkerArg *a = malloc(sizeof *a);
        if (a) *a = (WorkerArg){p, i, atomic_load(&p->job)};
        if (!a || pthread_create(&p->tid[i - 1], NULL, worker_main, a) != 0) {
            free(a);
            p->threads = i; /* destroy joins the ones that started */
            pool_destroy(p);
            return NULL;
        }
    }
    return p;
}

void pool_destroy(Pool *p) {
    if (!p) return;
    if (p->tid) {
        atomic_store(&p->quit, 1);
        publish(p, 0);
        for (int i = 1; i < p->threads; i++) pthread_join(p->tid[i - 1], NULL);
        free(p->tid);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

int pool_threads(const Pool *p) { return p->threads; }

void pool_run(Pool *p, int n, PoolFn fn, void *ctx) {
    if (n <= 0) return;
    if (p->threads == 1 || n == 1 || tl_in_task) {
        int outer = tl_in_task;
        tl_in_task = 1;
        for (int i = 0; i < n; i++) fn(ctx, i);
        tl_in_task = outer;
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    /* only the workers that get a task report back: a run of 2 lanes on a
     * pool of many threads waits for one worker, not for all of them */
    atomic_store_explicit(&p->pending, (n < p->threads ? n : p->threads) - 1,
                          memory_order_relaxed);
    publish(p, n);
    run_share(p, 0, n);
    for (long spin = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spin++) {
        if (spin < POOL_SPIN_WAIT)
            cpu_relax();
        else
            sched_yield();
    }
}
