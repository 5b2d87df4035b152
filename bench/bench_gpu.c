/* bench_gpu.c - one DDPG update on the GPU, three ways:
 *
 *   build/bench/bench_gpu [rounds]
 *
 * At 256,256 with batch 256 and 128: enqueued op by op, replayed as a CUDA
 * Graph of one update, and as a graph of 20 updates in a row (what the
 * launches cost against the work). The grid of batch sizes and hidden layers
 * on every backend is bench_update's; env steps per second, bench_env's.
 *
 * Each figure is the median over `rounds` rounds (default 21) of one round's
 * wall time over its count, the stream synchronised before and after each
 * round, after a warm-up round. Without a GPU it prints why in one line and
 * a JSON line of nulls, and exits 0. The last line is a JSON object
 * (bench_common.h's figures). */
#include "bench_common.h"
#include "ddpg/ddpg.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/envs/pendulum.h"

typedef struct {
    Ddpg d;
    Replay r;
} UpdateCtx;

static void one_update(void *ctx) {
    UpdateCtx *u = ctx;
    ddpg_update(&u->d, &u->r);
}

/* us per update at 256,256 and `batch`: direct, graph of 1, graph of 20 */
static int time_update(Backend *be, int batch, int rounds, double out[3]) {
    static int hidden[2] = {256, 256};
    ActionBounds ab = {1, {-2.0f}, {2.0f}};
    DdpgParams p = {.obs_dim = 3, .act_dim = 1, .hidden = hidden, .n_hidden = 2, .bounds = ab,
                    .batch_size = batch, .gamma = 0.99f, .tau = 0.005f, .grad_clip = 1.0f,
                    .actor_lr = 1e-3f, .critic_lr = 1e-3f, .seed = 1};
    UpdateCtx u;
    if (ddpg_create(&u.d, be, &p, NULL)) return -1;
    if (replay_create(&u.r, be, 100000, 3, 1)) {
        ddpg_destroy(&u.d);
        return -1;
    }
    env_fill_random(be, pendulum_spec(), &u.r, 100000, 7);
    BenchWork w = {be, one_update, &u, NULL, 200, 1};
    out[0] = bench_time_work(&w, rounds);
    void *g1 = bench_capture(be, one_update, &u, 1), *g20 = bench_capture(be, one_update, &u, 20);
    int rc = g1 && g20 ? 0 : -1;
    if (!rc) {
        w.graph = g1;
        out[1] = bench_time_work(&w, rounds);
        w.graph = g20;
        w.count = 10;
        w.per = 20;
        out[2] = bench_time_work(&w, rounds);
    }
    if (g1) be->graph_destroy(be, g1);
    if (g20) be->graph_destroy(be, g20);
    replay_destroy(&u.r, be);
    ddpg_destroy(&u.d);
    return rc;
}

int main(int argc, char **argv) {
    int rounds = bench_rounds_arg(argc, argv, "bench_gpu", 21);
    if (rounds < 0) return 2;
    bench_print_openblas();
    char why[256] = "";
    Backend *be = bench_gpu_open(why, sizeof why);
    if (!be) {
        printf("{\"bench\": \"gpu\", \"gpu\": null, \"no_gpu\": ");
        bench_json_str(stdout, why);
        printf(", \"us_per_update_b256\": null, \"us_per_update_b128\": null, \"figures\": []}\n");
        return 0;
    }
    printf("GPU: %s, %d rounds per figure (median)\n", be->device_name, rounds);
    static const int batches[2] = {256, 128};
    double us[2][3];
    for (int b = 0; b < 2; b++)
        if (time_update(be, batches[b], rounds, us[b])) {
            fprintf(stderr, "bench_gpu: update setup failed\n");
            return 1;
        }
    static const char *const ways[3] = {"direct", "graph x1", "graph x20"};
    printf("%-34s %10s %10s %12s\n", "DDPG update, 256,256 (us/update)", ways[0], ways[1],
           ways[2]);
    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    for (int b = 0; b < 2; b++) {
        printf("batch %-28d %10.1f %10.1f %12.1f\n", batches[b], us[b][0], us[b][1], us[b][2]);
        for (int k = 0; k < 3; k++) {
            BenchRow r = {"cuda", 0, "update_us", NULL, 0, batches[b], "256,256", ways[k],
                          us[b][k], "us", NAN, NAN, NAN};
            bench_rows_add(&rows, &r);
        }
    }
    printf("{\"bench\": \"gpu\", \"gpu\": ");
    bench_json_str(stdout, be->device_name);
    printf(", \"rounds\": %d, "
           "\"us_per_update_b256\": {\"direct\": %.1f, \"graph1\": %.1f, \"graph20\": %.1f}, "
           "\"us_per_update_b128\": {\"direct\": %.1f, \"graph1\": %.1f, \"graph20\": %.1f}, ",
           rounds, us[0][0], us[0][1], us[0][2], us[1][0], us[1][1], us[1][2]);
    bench_rows_print(&rows);
    printf("}\n");
    be->destroy(be);
    return 0;
}
