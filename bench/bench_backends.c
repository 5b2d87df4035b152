/* bench_backends.c - the same training configuration on both backends, in one
 * run: env-steps/s and updates/s for --envs 1, 256, 4096, 65536, and the
 * GPU/CPU throughput ratio. Without a GPU the CUDA column says why.
 *
 *   build/bench/bench_backends [iterations]
 *
 * Configuration per row: 256,256 networks, batch 256, one update per
 * vectorized step, updates from the first step, no evaluation. Last line:
 * one JSON object (with bench_common.h's figures). */
#include "bench_common.h"
#include "ddpg/backend.h"
#include "ddpg/config.h"
#include "ddpg/train.h"

typedef struct {
    double sps, ups;
    int ok;
} Rate;

static Rate measure(Backend *be, int envs, int iters) {
    Config c;
    config_defaults(&c);
    c.envs = envs;
    c.batch_size = 256;
    c.start_steps = 0;
    c.update_after = 0;
    c.eval_every = 0;
    c.probe_n = 0;
    c.quiet = 1;
    c.replay_size = (int64_t)envs * iters + 256 < 1000000 ? (int64_t)envs * iters + 256 : 1000000;
    c.total_steps = (int64_t)envs * iters;
    Trainer tr;
    Rate r = {0, 0, 0};
    Error err = {STATUS_OK, ""};
    if (trainer_create(&tr, &c, be, NULL, &err)) {
        error_print(&err, stderr);
        trainer_destroy(&tr);
        return r;
    }
    RunSummary s;
    trainer_run(&tr, &s, &err);
    trainer_destroy(&tr);
    r.sps = s.env_steps_per_s;
    r.ups = s.updates_per_s;
    r.ok = 1;
    return r;
}

int main(int argc, char **argv) {
    int iters = argc > 1 ? atoi(argv[1]) : 300;
    const int envs[] = {1, 256, 4096, 65536};
    bench_print_openblas();
    char why[256] = "";
    Backend *gpu = bench_gpu_open(why, sizeof why);
    Backend *cpu = backend_cpu_create(0);
    printf("CPU: %s, the CPU backend on %d thread%s | GPU: %s\n", cpu->device_name,
           cpu->threads, cpu->threads > 1 ? "s" : "", gpu ? gpu->device_name : "none");
    printf("%8s %14s %12s %14s %12s %10s\n", "envs", "cpu steps/s", "cpu upd/s", "gpu steps/s",
           "gpu upd/s", "gpu/cpu");
    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    char json[2048];
    size_t k = (size_t)snprintf(json, sizeof json, "{\"bench\": \"backends\", \"iterations\": %d, "
                                "\"gpu\": %s%s%s, \"rows\": [", iters, gpu ? "\"" : "",
                                gpu ? gpu->device_name : "null", gpu ? "\"" : "");
    for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
        /* fewer CPU iterations for large N: the CPU rate is steady after a few */
        int cpu_iters = envs[i] >= 4096 ? (envs[i] >= 65536 ? 8 : 40) : iters;
        Rate rc = measure(cpu, envs[i], cpu_iters);
        Rate rg = gpu ? measure(gpu, envs[i], iters) : (Rate){0, 0, 0};
        double ratio = rg.ok && rc.ok ? rg.sps / rc.sps : NAN;
        if (rg.ok)
            printf("%8d %14.0f %12.0f %14.0f %12.0f %9.1fx\n", envs[i], rc.sps, rc.ups, rg.sps,
                   rg.ups, ratio);
        else
            printf("%8d %14.0f %12.0f %14s %12s %10s\n", envs[i], rc.sps, rc.ups, "-", "-", "-");
        k += (size_t)snprintf(json + k, sizeof json - k,
                              "%s{\"envs\": %d, \"cpu_env_steps_per_s\": %.1f, "
                              "\"cpu_updates_per_s\": %.1f, \"gpu_env_steps_per_s\": ",
                              i ? ", " : "", envs[i], rc.sps, rc.ups);
        if (rg.ok)
            k += (size_t)snprintf(json + k, sizeof json - k,
                                  "%.1f, \"gpu_updates_per_s\": %.1f, \"gpu_cpu_ratio\": %.2f}",
                                  rg.sps, rg.ups, ratio);
        else
            k += (size_t)snprintf(json + k, sizeof json - k,
                                  "null, \"gpu_updates_per_s\": null, \"gpu_cpu_ratio\": null}");
        for (int g = 0; g <= (rg.ok ? 1 : 0); g++) {
            const Rate *x = g ? &rg : &rc;
            const char *be = g ? "cuda" : "cpu";
            int th = g ? 0 : cpu->threads;
            BenchRow s = {be, th, "train_env_steps_per_s", "Pendulum-v1", envs[i], 256,
                          "256,256", "training, 1 update per vectorized step", x->sps, "1/s",
                          NAN, NAN, g ? ratio : NAN};
            BenchRow u = s;
            u.metric = "train_updates_per_s", u.value = x->ups;
            u.ratio = g ? rg.ups / rc.ups : NAN;
            bench_rows_add(&rows, &s);
            bench_rows_add(&rows, &u);
        }
    }
    printf("%s], ", json);
    bench_rows_print(&rows);
    printf("}\n");
    if (gpu) gpu->destroy(gpu);
    cpu->destroy(cpu);
    return 0;
}
