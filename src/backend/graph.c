/* graph.c - work captured once as a CUDA Graph and replayed, or run op by op. */
#include "ddpg/backend.h"

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
