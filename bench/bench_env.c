/* bench_env.c - environment steps per second of each backend's env step op
 * (Backend.env_step: every env's step, auto-reset and episode log), for every
 * environment of the registry and 1, 256, 4,096 and 65,536 envs at once, and
 * 1,048,576 on a GPU; and the GPU/CPU ratio of every row that ran on both.
 *
 *   build/bench/bench_env [rounds]
 *
 * Each env's action is drawn once, uniformly in its bounds, and the envs then
 * step with it (a Pendulum env truncates every 200 steps, so the auto-reset
 * is in the figure). The CPU backend (one thread per core) runs its op as
 * its trainer does; the GPU replays a CUDA Graph of one step, as the trainer
 * replays its iterations. Each figure is the median of `rounds` rounds
 * (default 5) of about 0.1 s, after a warm-up round. Without a GPU, one line
 * says why. Last line: one JSON object (bench_common.h's figures). */
#include "bench_common.h"
#include "ddpg/env.h"
#include "ddpg/tensor.h"

#define ROUND_S 0.1

static const int ENVS[] = {1, 256, 4096, 65536, 1 << 20};
#define N_ENVS ((int)(sizeof ENVS / sizeof ENVS[0]))
#define GPU_ONLY_FROM 1048576 /* envs: too many for the CPU's share of the run */

typedef struct {
    Backend *be;
    VecEnv e;
    float *act;                      /* (n, act_dim) device */
    float *rew, *term, *trunc;       /* (n) device */
    float *real_next_obs, *next_obs; /* (n, obs_dim) device */
    uint64_t *ctr;                   /* (1) device: the actions' RNG counter */
} StepCtx;

static void step_tensors(StepCtx *s, const EnvSpec *spec, int n, TensorList *l) {
    size_t f = (size_t)n;
    TENSOR_ADD(l, "bench.", "act", &s->act, f * spec->act_dim, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "rew", &s->rew, f, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "term", &s->term, f, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "trunc", &s->trunc, f, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "real_next_obs", &s->real_next_obs, f * spec->obs_dim, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "next_obs", &s->next_obs, f * spec->obs_dim, TENSOR_WORK);
    TENSOR_ADD(l, "bench.", "ctr", &s->ctr, 1, TENSOR_WORK);
}

static void one_step(void *ctx) {
    StepCtx *s = ctx;
    s->be->env_step(s->be, &s->e, s->act, s->real_next_obs, s->rew, s->term, s->trunc,
                    s->next_obs);
}

/* Median us per vectorized step of n envs of spec (through a graph of one
 * step where the backend has graphs); NAN when out of memory or the capture
 * fails. The episode log holds n records, a ring that a round may wrap. */
static double time_env_step(Backend *be, const EnvSpec *spec, int n, int rounds) {
    StepCtx s;
    memset(&s, 0, sizeof s);
    s.be = be;
    if (env_create(&s.e, be, spec, n, 11, n)) return NAN;
    TensorList l;
    tensors_init(&l);
    step_tensors(&s, spec, n, &l);
    double us = NAN;
    if (tensors_alloc(be, &l, NULL) == 0) {
        be->env_reset(be, &s.e, s.next_obs);
        be->uniform_actions(be, s.act, n, env_bounds(spec), 5, s.ctr);
        BenchWork w = {be, one_step, &s, NULL, 1, 1};
        if (be->capture_begin) w.graph = bench_capture(be, one_step, &s, 1);
        if (!be->capture_begin || w.graph) {
            bench_calibrate(&w, ROUND_S, 1 << 22);
            us = bench_time_work(&w, rounds);
        }
        if (w.graph) be->graph_destroy(be, w.graph);
    }
    tensors_free(be, &l);
    tensors_release(&l);
    env_destroy(&s.e, be);
    return us;
}

int main(int argc, char **argv) {
    int rounds = bench_rounds_arg(argc, argv, "bench_env", 5);
    if (rounds < 0) return 2;
    bench_print_openblas();
    char why[256] = "";
    Backend *gpu = bench_gpu_open(why, sizeof why);
    Backend *cpu = backend_cpu_create(0);
    printf("CPU: %s, the CPU backend on %d thread%s | GPU: %s\n", cpu->device_name,
           cpu->threads, cpu->threads > 1 ? "s" : "", gpu ? gpu->device_name : "none");
    printf("env steps per second (env step op alone, median of %d rounds)\n", rounds);
    printf("%-28s %9s %14s %14s %9s\n", "environment", "envs", "cpu steps/s", "gpu steps/s",
           "GPU/CPU");
    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    for (int e = 0; env_at(e); e++) {
        const EnvSpec *spec = env_at(e);
        for (int i = 0; i < N_ENVS; i++) {
            int n = ENVS[i];
            if (n >= GPU_ONLY_FROM && !gpu) continue;
            double sps_c = NAN, sps_g = NAN;
            if (n < GPU_ONLY_FROM) sps_c = n / time_env_step(cpu, spec, n, rounds) * 1e6;
            if (gpu && gpu->env_supported(gpu, spec))
                sps_g = n / time_env_step(gpu, spec, n, rounds) * 1e6;
            double ratio = sps_g / sps_c;
            char c_s[24] = "-", g_s[24] = "-", r_s[16] = "-";
            if (isfinite(sps_c)) snprintf(c_s, sizeof c_s, "%.0f", sps_c);
            if (isfinite(sps_g)) snprintf(g_s, sizeof g_s, "%.0f", sps_g);
            if (isfinite(ratio)) snprintf(r_s, sizeof r_s, "%.1fx", ratio);
            printf("%-28s %9d %14s %14s %9s\n", i ? "" : spec->id, n, c_s, g_s, r_s);
            if (n < GPU_ONLY_FROM) {
                BenchRow r = {"cpu", cpu->threads, "env_steps_per_s", spec->id, n, 0, NULL,
                              "env step op", sps_c, "1/s", NAN, NAN, NAN};
                bench_rows_add(&rows, &r);
            }
            if (gpu) {
                BenchRow r = {"cuda", 0, "env_steps_per_s", spec->id, n, 0, NULL,
                              "env step op, graph of one step", sps_g, "1/s", NAN, NAN, ratio};
                bench_rows_add(&rows, &r);
            }
        }
    }
    printf("{\"bench\": \"env\", \"cpu\": ");
    bench_json_str(stdout, cpu->device_name);
    printf(", \"gpu\": ");
    bench_json_str(stdout, gpu ? gpu->device_name : NULL);
    printf(", \"no_gpu\": ");
    bench_json_str(stdout, gpu ? NULL : why);
    printf(", \"openblas_core\": \"%s\", \"rounds\": %d, ", openblas_get_corename(), rounds);
    bench_rows_print(&rows);
    printf("}\n");
    if (gpu) gpu->destroy(gpu);
    cpu->destroy(cpu);
    return 0;
}
