/* parity.h - what the GPU parity cases share (tests/gpu/): every CUDA op,
 * and the whole update, against a reference on identical inputs.
 *
 * The reference is the CPU backend, except where a case says otherwise (the
 * GPU's update schedule against the GPU's own generic update). Each case
 * prints its largest differences and asserts a stated tolerance, with odd
 * sizes (1, 65, 257, 4099) to catch tail handling. Without a CUDA device
 * each case prints one line "SKIP gpu_parity/<case>: <reason>" and passes
 * (scripts/gpu_check.sh fails a GPU machine's run on such a line).
 *
 * Both backends draw the same Philox bits for the same (seed, index,
 * purpose, counter) (kernels/cuda_rng.h), so random ops, resets and replay
 * sampling are compared value by value, not only statistically.
 *
 * The backends are opened by a checked fixture, which Check runs inside
 * the forked test process: no CUDA context exists before the fork. */
#ifndef DDPG_TESTS_GPU_PARITY_H
#define DDPG_TESTS_GPU_PARITY_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/train.h"
#include "ddpg/replay.h"

/* ---- the backends ---- */

/* The backend under test (gpu) and the reference (cpu). Everything below
 * reads side .g from gpu and side .c from cpu; a case that compares two
 * paths on the GPU passes a Pair whose two members are the GPU. */
typedef struct {
    Backend *gpu, *cpu;
} Pair;

/* The pair the fixture opened for this case, or NULL after printing the
 * case's SKIP line when there is no CUDA device. Every case starts so:
 *     Pair *p = parity_pair("gemm");
 *     if (!p) return;                                                     */
Pair *parity_pair(const char *test);

/* A test case of the suite, with the fixture and a timeout fit for
 * context creation and long loops with readbacks. */
TCase *parity_tcase(const char *name);

/* Each op family's cases (one file each, as kernels/). */
void gpu_dense_cases(Suite *s);
void gpu_loss_cases(Suite *s);
void gpu_optim_cases(Suite *s);
void gpu_random_cases(Suite *s);
void gpu_env_cases(Suite *s);
void gpu_norm_cases(Suite *s);
void gpu_replay_cases(Suite *s);
void gpu_update_cases(Suite *s);
void gpu_schedule_cases(Suite *s);
void gpu_checkpoint_cases(Suite *s);
void gpu_trainer_cases(Suite *s);

/* ---- host data: deterministic (splitmix64) ---- */

void seed_host_rng(uint64_t s);
double urand(void);                            /* [0, 1) */
float frand(float lo, float hi);               /* [lo, hi) */
float *host_floats(size_t n, float lo, float hi); /* malloc'd, uniform */

/* ---- the same buffer on both backends ---- */

typedef struct {
    void *g, *c; /* on p->gpu, on p->cpu */
    size_t bytes;
} Twin;

/* Allocated on both, with host's bytes (or zeroed when host is NULL). */
Twin twin(Pair *p, const void *host, size_t bytes);
void twin_set(Pair *p, Twin *t, const void *host);
void twin_free(Pair *p, Twin *t);

/* A host copy of device memory (caller frees). */
void *fetch(Backend *be, const void *dev, size_t bytes);
int64_t fetch_i64(Backend *be, const void *dev);

/* ---- comparisons (each prints what it found, then asserts) ---- */

typedef struct {
    double max_abs, max_rel;
    size_t bad, first_bad;
} Diff;

/* |g - c| <= tol[i] (or atol + rtol |c| when tol is NULL); NaN counts as bad. */
Diff diff_floats(const float *g, const float *c, size_t n, const double *tol, double atol,
                 double rtol);
/* Prints d and asserts that nothing was beyond tol_text's tolerance. */
void report(const char *what, Diff d, size_t n, const float *g, const float *c,
            const char *tol_text);
/* |gpu - cpu| <= atol + rtol |cpu| for n floats on both backends. */
void expect_twin_close(Pair *p, const char *what, const void *gdev, const void *cdev, size_t n,
                       double atol, double rtol);
/* `bytes` identical on both backends. */
void expect_twin_equal(Pair *p, const char *what, const void *gdev, const void *cdev,
                       size_t bytes);
/* ||gpu - cpu||_2 <= rel ||cpu||_2 for n floats, after dividing each side by
 * its own norm when up_to_scale (parity.c says why). */
void expect_twin_l2(Pair *p, const char *what, const float *gdev, const float *cdev, size_t n,
                    double rel, int up_to_scale);

/* ---- shared inputs ---- */

#define N_SIZES 4
extern const int SIZES[N_SIZES]; /* 1, 65, 257, 4099 */

/* Box bounds of `dim` dimensions, a different interval per dimension. */
ActionBounds test_bounds(int dim);

/* n random transitions inserted into both rings (obs, act, rew, next_obs, term). */
void replay_insert_twin(Pair *p, Replay *rg, Replay *rc, int n);

/* Rings of capacity cap on both backends: rg on p->gpu, rc on p->cpu. */
void replay_twin_create(Pair *p, Replay *rg, Replay *rc, int64_t cap, int obs_dim, int act_dim);
void replay_twin_destroy(Pair *p, Replay *rg, Replay *rc);

/* ---- agents ---- */

/* A Pendulum agent at hidden 64,64, clipping on, with this batch size. */
DdpgParams parity_params(int batch);

/* An agent of the same parameters on each backend (the same initial
 * networks), each with a ring of 1000 holding the same 1000 random
 * transitions: where the update cases start. */
typedef struct {
    Ddpg g, c;     /* on p->gpu, on p->cpu */
    Replay rg, rc; /* their rings */
} AgentTwin;

void agent_twin_create(Pair *p, AgentTwin *a, const DdpgParams *prm);
/* n ddpg_update calls on each side, each from its own ring. */
void agent_twin_update(AgentTwin *a, int n);
void agent_twin_destroy(Pair *p, AgentTwin *a);

/* Parameters and targets within 1e-4, gradients and first moments within
 * 1e-2 in relative L2, the metrics, the Adam steps and the sampling counter. */
void expect_agents_close(Pair *p, Ddpg *g, Ddpg *c, const char *what);

/* Two trainers on one GPU (same = {gpu, gpu}): the agents' and the
 * trainers' whole state (networks, Adam, targets, counters, replay, envs, OU
 * state, RNG counters) identical, byte for byte (tests/gpu/trainer.c). */
void expect_trainers_identical(Pair *same, Trainer *a, Trainer *b, const char *what);
/* On be: *a trained to whole's total steps in one run; *c from a checkpoint
 * of a run of first's total steps (saved, loaded, checked), trained on to
 * whole's. Both are left for the caller to compare and destroy. Returns the
 * updates the checkpoint holds. */
int64_t train_straight_and_resumed(Backend *be, const Config *whole, const Config *first,
                                   Trainer *a, Trainer *c);

#endif
