/* suites.h - every Check suite of the project, one per module. */
#ifndef DDPG_TEST_SUITES_H
#define DDPG_TEST_SUITES_H

#include <check.h>
#include <stdlib.h>

/* The program the tests run (make sets DDPG_BIN: ./ddpg_cuda, or the
 * sanitizers' build-asan/ddpg_cuda) and its build folder (DDPG_BUILD). */
static inline const char *test_bin(void) {
    const char *b = getenv("DDPG_BIN");
    return b && *b ? b : "./ddpg_cuda";
}
static inline const char *test_build(void) {
    const char *b = getenv("DDPG_BUILD");
    return b && *b ? b : "build";
}

Suite *cli_suite(void);
Suite *mlp_suite(void);
Suite *optim_suite(void);
Suite *replay_suite(void);
Suite *pendulum_suite(void);
Suite *mountain_car_suite(void);
Suite *envs_suite(void);
Suite *td3_suite(void);
Suite *learning_suite(void);
Suite *gpu_parity_suite(void);
Suite *cpu_threads_suite(void);
Suite *cpu_ops_suite(void);
Suite *schedule_suite(void);
Suite *checkpoint_suite(void);
Suite *rundir_suite(void);
Suite *config_suite(void);
Suite *graph_suite(void);
Suite *options_suite(void);

typedef Suite *(*SuiteFn)(void);
static const SuiteFn ALL_SUITES[] = {cli_suite,         mlp_suite,       optim_suite,
                                     replay_suite,      pendulum_suite,  mountain_car_suite,
                                     envs_suite,        td3_suite,       learning_suite,
                                     gpu_parity_suite,  cpu_threads_suite, cpu_ops_suite,
                                     schedule_suite,    checkpoint_suite,  rundir_suite,
                                     config_suite,      graph_suite,       options_suite,
                                     NULL};

#endif
