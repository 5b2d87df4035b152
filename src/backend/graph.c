/* graph.c - work captured once as a CUDA Graph and replayed, or run op by op;
 * the graphs of a piece of work in its variants, and the training
 * iteration's. */
#include "ddpg/graph.h"

void backend_graph_run(Backend *be, BackendGraph *g, void (*fn)(void *ctx), void *ctx) {
    if (!g->exec && !g->eager) {
        g->eager = 1;
        if (be->capture_begin && be->capture_begin(be) == 0) {
            fn(ctx); /* recorded, not run */
            if (be->capture_end(be, &g->exec) != 0) g->exec = NULL;
            g->eager = !g->exec;
        }
        if (g->eager) { /* no graph: run it now, and op by op from now on */
            fn(ctx);
            return;
        }
    }
    if (g->exec)
        be->graph_launch(be, g->exec);
    else
        fn(ctx);
}

void backend_graph_free(Backend *be, BackendGraph *g) {
    if (g->exec && be->graph_destroy) be->graph_destroy(be, g->exec);
    g->exec = NULL;
    g->eager = 0;
}

BackendGraph *graph_cache_get(GraphCache *c, uint64_t pattern) {
    for (int i = 0; i < c->n; i++)
        if (c->pattern[i] == pattern) return &c->graph[i];
    if (c->n == GRAPH_CACHE_SLOTS) return NULL;
    c->pattern[c->n] = pattern;
    return &c->graph[c->n++];
}

int graph_cache_count(const GraphCache *c) {
    int k = 0;
    for (int i = 0; i < c->n; i++) k += c->graph[i].exec != NULL;
    return k;
}

void graph_cache_free(Backend *be, GraphCache *c) {
    for (int i = 0; i < c->n; i++) backend_graph_free(be, &c->graph[i]);
    c->n = 0;
}

uint64_t graph_policy_pattern(int64_t begun, int k, int delay) {
    /* the first j >= 0 with (begun + j + 1) % delay == 0 */
    int64_t first = (delay - 1 - begun % delay) % delay;
    return (uint64_t)(first < k ? first : k);
}

BackendGraph *iteration_graph(IterationGraphs *g, int random_actions, int updates,
                              int64_t begun, int delay) {
    if (random_actions && updates == 0) return &g->explore;
    if (random_actions || updates == 0) return NULL;
    return graph_cache_get(&g->update, graph_policy_pattern(begun, updates, delay));
}

void iteration_graphs_free(Backend *be, IterationGraphs *g) {
    backend_graph_free(be, &g->explore);
    graph_cache_free(be, &g->update);
}
