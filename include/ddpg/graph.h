/* graph.h - work captured once as a CUDA Graph and replayed (op by op where
 * the backend has no graphs), and the graphs of the training iteration.
 *
 * A graph replays a fixed sequence of ops and none of the host code that
 * enqueued them. Work that comes in a few variants (TD3's iteration, whose
 * policy steps fall on different updates from one iteration to the next)
 * needs a graph per variant: a GraphCache, keyed by a pattern that names
 * the variant's sequence of ops. */
#ifndef DDPG_GRAPH_H
#define DDPG_GRAPH_H

#include <stdint.h>

#include "ddpg/backend.h"

/* A piece of work captured once as a CUDA Graph and replayed. */
typedef struct {
    void *exec;  /* the instantiated graph, once captured */
    int eager;   /* no graphs here, or the capture failed: run op by op */
} BackendGraph;

/* Runs fn(ctx): through g's graph, captured on the first call, where the
 * backend has graphs; op by op where it has none or the capture failed
 * (then never tried again). fn must only enqueue ops. */
void backend_graph_run(Backend *be, BackendGraph *g, void (*fn)(void *ctx), void *ctx);
void backend_graph_free(Backend *be, BackendGraph *g);

/* Variants of one piece of work kept, at most. */
#define GRAPH_CACHE_SLOTS 4

/* One graph per pattern, each taken at the pattern's first use. */
typedef struct {
    BackendGraph graph[GRAPH_CACHE_SLOTS];
    uint64_t pattern[GRAPH_CACHE_SLOTS];
    int n; /* slots taken, whether their capture worked or not */
} GraphCache;

/* The graph of this pattern: its slot, a new slot at its first use, or
 * NULL when every slot holds another pattern (run op by op). */
BackendGraph *graph_cache_get(GraphCache *c, uint64_t pattern);
/* Slots that hold an instantiated graph: not those whose capture failed, nor
 * those of a backend without graphs (they run op by op). */
int graph_cache_count(const GraphCache *c);
void graph_cache_free(Backend *be, GraphCache *c);

/* The pattern of policy steps in an iteration of k updates after `begun`
 * updates, where update u (counted from 1 over the run) is a policy step
 * when u % delay == 0 (ddpg_policy_step): the index of the iteration's first
 * policy step, or k when it has none. The others follow every delay
 * updates, so this names the iteration's sequence of ops for any k; there
 * are at most min(delay, k + 1) patterns, and DDPG (delay 1) has one. */
uint64_t graph_policy_pattern(int64_t begun, int k, int delay);

/* The training iteration's graphs, one for each of its two steady phases:
 * random actions without updates, and the policy's actions with updates
 * (one graph per pattern of policy steps). */
typedef struct {
    BackendGraph explore;
    GraphCache update;
} IterationGraphs;

/* The graph of an iteration that acts at random or by the policy and runs
 * `updates` gradient updates after `begun` (the agent's clock), with TD3's
 * delay (1: DDPG); NULL for the rare iterations that mix the phases (random
 * actions with updates, the policy's without): they run op by op. */
BackendGraph *iteration_graph(IterationGraphs *g, int random_actions, int updates,
                              int64_t begun, int delay);
void iteration_graphs_free(Backend *be, IterationGraphs *g);

#endif
