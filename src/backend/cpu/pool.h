/* pool.h - the CPU backend's worker threads.
 *
 * pool_run(p, n, fn, ctx) calls fn(ctx, i) for every i in [0, n): task i runs
 * on thread i % threads, thread 0 being the caller, and pool_run returns when
 * all tasks are done. Tasks last microseconds to milliseconds (a split GEMM,
 * one lane of a DDPG update), so idle workers spin briefly before they sleep
 * and the caller spins while it waits; a hand-off costs about a microsecond.
 *
 * A pool_run issued from inside a task runs its tasks inline, one after the
 * other: nesting never deadlocks and never puts two tasks on one core.
 * Every pool thread, and the thread that creates the pool, flushes
 * denormals to zero (see cpu_flush_denormals).
 */
#ifndef DDPG_CPU_POOL_H
#define DDPG_CPU_POOL_H

typedef void (*PoolFn)(void *ctx, int task);
typedef struct Pool Pool;

/* threads >= 1 (1: no workers, everything inline). NULL when a thread
 * cannot be started. */
Pool *pool_create(int threads);
void pool_destroy(Pool *p);
int pool_threads(const Pool *p);

void pool_run(Pool *p, int n, PoolFn fn, void *ctx);

/* 1 while the calling thread runs a pool task (of any pool). */
int pool_in_task(void);

/* Flush-to-zero and denormals-are-zero on the calling thread. Denormal
 * operands cost the CPU a microcode assist per element: Adam's first moments
 * of dead ReLU units decay through the denormal range (0.9^t) within a few
 * hundred updates, which made the Adam steps slower (bench/results/cpu_update.md). */
void cpu_flush_denormals(void);

#endif
