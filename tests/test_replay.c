/* test_replay.c - the ring replay buffer: insertion, wrap-around, uniform
 * sampling of filled slots only, gathering, determinism. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/elem.h"
#include "ddpg/env.h"
#include "ddpg/replay.h"
#include "ddpg/envs/pendulum.h"
#include "suites.h"

enum { OD = 3, AD = 2 };

/* Transition number k has recognisable values in every field. */
static float obs_val(int k, int j) { return 100.0f * k + j; }
static float act_val(int k, int j) { return -100.0f * k - j - 0.5f; }
static float rew_val(int k) { return 0.25f * k; }
static float next_val(int k, int j) { return 1000.0f + 10.0f * k + j; }
static float term_val(int k) { return (float)(k % 2); }

/* Inserts transitions first..first+n-1 in one call. */
static void insert_range(Backend *be, Replay *r, int first, int n) {
    float *obs = malloc(sizeof(float) * n * OD), *act = malloc(sizeof(float) * n * AD);
    float *rew = malloc(sizeof(float) * n), *next = malloc(sizeof(float) * n * OD);
    float *term = malloc(sizeof(float) * n);
    ck_assert(obs && act && rew && next && term);
    for (int i = 0; i < n; i++) {
        int k = first + i;
        for (int j = 0; j < OD; j++)
            obs[i * OD + j] = obs_val(k, j), next[i * OD + j] = next_val(k, j);
        for (int j = 0; j < AD; j++) act[i * AD + j] = act_val(k, j);
        rew[i] = rew_val(k);
        term[i] = term_val(k);
    }
    be->replay_insert(be, r, obs, act, rew, next, term, n);
    free(obs), free(act), free(rew), free(next), free(term);
}

/* Slot `slot` of r holds transition k. */
static void check_slot(const Replay *r, int64_t slot, int k) {
    for (int j = 0; j < OD; j++) {
        ck_assert_msg(r->obs[slot * OD + j] == obs_val(k, j), "slot %lld obs: want transition %d",
                      (long long)slot, k);
        ck_assert(r->next_obs[slot * OD + j] == next_val(k, j));
    }
    for (int j = 0; j < AD; j++) ck_assert(r->act[slot * AD + j] == act_val(k, j));
    ck_assert(r->rew[slot] == rew_val(k));
    ck_assert(r->term[slot] == term_val(k));
}

/* Every row of b equals the stored row at b->idx. */
static void check_gathered(const Replay *r, const Batch *b) {
    for (int i = 0; i < b->size; i++) {
        int64_t k = b->idx[i];
        ck_assert_mem_eq(b->obs + i * OD, r->obs + k * OD, sizeof(float) * OD);
        ck_assert_mem_eq(b->act + i * AD, r->act + k * AD, sizeof(float) * AD);
        ck_assert_mem_eq(b->next_obs + i * OD, r->next_obs + k * OD, sizeof(float) * OD);
        ck_assert(b->rew[i] == r->rew[k]);
        ck_assert(b->term[i] == r->term[k]);
    }
}

START_TEST(test_insert_and_wrap_around) {
    Backend *be = backend_cpu_create(1);
    Replay r;
    ck_assert_int_eq(replay_create(&r, be, 5, OD, AD), 0);
    ck_assert_int_eq(r.cursor->next, 0);
    ck_assert_int_eq(r.cursor->filled, 0);
    insert_range(be, &r, 0, 3);
    ck_assert_int_eq(r.cursor->next, 3);
    ck_assert_int_eq(r.cursor->filled, 3);
    for (int k = 0; k < 3; k++) check_slot(&r, k, k);

    insert_range(be, &r, 3, 4); /* 3, 4 fill slots 3, 4; 5, 6 overwrite slots 0, 1 */
    ck_assert_int_eq(r.cursor->next, 2);
    ck_assert_int_eq(r.cursor->filled, 5);
    check_slot(&r, 0, 5);
    check_slot(&r, 1, 6);
    check_slot(&r, 2, 2);
    check_slot(&r, 3, 3);
    check_slot(&r, 4, 4);

    insert_range(be, &r, 7, 5); /* a whole capacity in one call: every slot is new */
    ck_assert_int_eq(r.cursor->next, 2);
    ck_assert_int_eq(r.cursor->filled, 5);
    for (int k = 7; k < 12; k++) check_slot(&r, (k - 5) % 5, k);
    replay_destroy(&r, be);
    be->destroy(be);
}
END_TEST

/* What the sampling cases share: a CPU backend, a replay of capacity cap
 * holding transitions 0..n-1 (wrapped when n > cap), a batch of `batch`
 * rows and the sampling counter. */
typedef struct {
    Backend *be;
    Replay r;
    Batch b;
    uint64_t *ctr; /* (1) device */
} Sampler;

static Sampler sampler_create(int64_t cap, int batch, int n) {
    Sampler s = {.be = backend_cpu_create(1)};
    ck_assert_ptr_nonnull(s.be);
    ck_assert_int_eq(replay_create(&s.r, s.be, cap, OD, AD), 0);
    ck_assert_int_eq(batch_create(&s.b, s.be, batch, OD, AD), 0);
    insert_range(s.be, &s.r, 0, n);
    s.ctr = s.be->alloc(s.be, sizeof(uint64_t));
    ck_assert_ptr_nonnull(s.ctr);
    return s;
}

/* A batch drawn with this seed at the counter's value, into s->b. */
static void sampler_draw(Sampler *s, uint64_t seed) {
    s->be->replay_sample(s->be, &s->r, &s->b, seed, s->ctr);
}

static void sampler_destroy(Sampler *s) {
    s->be->free(s->be, s->ctr);
    batch_destroy(&s->b, s->be);
    replay_destroy(&s->r, s->be);
    s->be->destroy(s->be);
}

START_TEST(test_sample_only_filled_slots) {
    Sampler s = sampler_create(1000, 64, 10);
    int hits[10] = {0};
    for (int d = 0; d < 200; d++) {
        sampler_draw(&s, 77);
        for (int i = 0; i < s.b.size; i++) {
            ck_assert_msg(s.b.idx[i] >= 0 && s.b.idx[i] < 10, "sampled slot %lld of 10 filled",
                          (long long)s.b.idx[i]);
            hits[s.b.idx[i]]++;
        }
        check_gathered(&s.r, &s.b);
    }
    for (int k = 0; k < 10; k++) ck_assert_msg(hits[k] > 0, "slot %d never sampled", k);
    sampler_destroy(&s);
}
END_TEST

START_TEST(test_sample_gathers_stored_rows) {
    /* wrapped: slots hold transitions 37..49 and 13..36 */
    Sampler s = sampler_create(37, 65, 50);
    for (int d = 0; d < 20; d++) {
        sampler_draw(&s, 5);
        check_gathered(&s.r, &s.b);
        for (int i = 0; i < s.b.size; i++) { /* and the stored row is the newest there */
            int64_t k = s.b.idx[i];
            ck_assert(k >= 0 && k < 37);
            int t = k < 13 ? 37 + (int)k : (int)k;
            ck_assert(s.b.obs[i * OD] == obs_val(t, 0));
            ck_assert(s.b.act[i * AD + 1] == act_val(t, 1));
            ck_assert(s.b.rew[i] == rew_val(t));
        }
    }
    sampler_destroy(&s);
}
END_TEST

START_TEST(test_sample_deterministic_counter) {
    Sampler s = sampler_create(500, 32, 500);
    int64_t first[32], again[32];

    *s.ctr = 41;
    sampler_draw(&s, 9);
    ck_assert_uint_eq(*s.ctr, 42); /* advanced by one per call */
    memcpy(first, s.b.idx, sizeof first);
    sampler_draw(&s, 9);
    ck_assert_uint_eq(*s.ctr, 43);
    ck_assert_int_ne(memcmp(first, s.b.idx, sizeof first), 0); /* next counter, new draw */

    *s.ctr = 41; /* same seed and counter: same indices */
    sampler_draw(&s, 9);
    memcpy(again, s.b.idx, sizeof again);
    ck_assert_mem_eq(again, first, sizeof first);

    *s.ctr = 41; /* another seed: another draw */
    sampler_draw(&s, 10);
    ck_assert_int_ne(memcmp(first, s.b.idx, sizeof first), 0);

    int distinct = 0; /* within one batch the rows are independent draws */
    for (int i = 0; i < 32; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= first[j] == first[i];
        distinct += !seen;
    }
    ck_assert_msg(distinct >= 28, "only %d distinct of 32 drawn from 500", distinct);
    sampler_destroy(&s);
}
END_TEST

/* Pearson's chi-square over the slots of a full (wrapped) buffer: 100 bins,
 * 99 degrees of freedom, mean 99 and sd 14. Upper bound 170 (p ~ 5e-5: a
 * skewed sampler fails), lower bound 50 (p ~ 1e-6: a sampler cycling through
 * the slots in order fails). The draws are deterministic, so the test is too. */
START_TEST(test_sample_uniform_chi_square) {
    enum { CAP = 100, BATCH = 257, DRAWS = 400 };
    Sampler s = sampler_create(CAP, BATCH, CAP + 33);
    long counts[CAP] = {0};
    for (int d = 0; d < DRAWS; d++) {
        sampler_draw(&s, 1234);
        for (int i = 0; i < BATCH; i++) counts[s.b.idx[i]]++;
    }
    double expect = (double)BATCH * DRAWS / CAP, chi2 = 0.0;
    for (int k = 0; k < CAP; k++) chi2 += (counts[k] - expect) * (counts[k] - expect) / expect;
    ck_assert_msg(chi2 > 50.0 && chi2 < 170.0, "chi-square %.1f over %d slots (99 dof)", chi2, CAP);
    sampler_destroy(&s);
}
END_TEST

/* env_fill_random of Pendulum: real Pendulum transitions, chunked inserts that wrap
 * the ring the same way as a replay big enough to hold them all. */
START_TEST(test_fill_random_transitions_and_wrap) {
    Backend *be = backend_cpu_create(1);
    Replay big, small;
    ck_assert_int_eq(replay_create(&big, be, 9000, 3, 1), 0);
    ck_assert_int_eq(replay_create(&small, be, 3000, 3, 1), 0);
    ck_assert_int_eq(env_fill_random(be, pendulum_spec(), &big, 5000, 7), 0);
    ck_assert_int_eq(env_fill_random(be, pendulum_spec(), &small, 5000, 7), 0);
    ck_assert_int_eq(big.cursor->next, 5000);
    ck_assert_int_eq(big.cursor->filled, 5000);
    ck_assert_int_eq(small.cursor->next, 2000);
    ck_assert_int_eq(small.cursor->filled, 3000);
    for (int k = 0; k < 5000; k++) {
        const float *o = big.obs + 3 * k, *no = big.next_obs + 3 * k;
        ck_assert_float_eq_tol(o[0] * o[0] + o[1] * o[1], 1.0f, 1e-5f);
        ck_assert(fabsf(big.act[k]) <= 2.0f && fabsf(o[2]) <= 8.0f);
        ck_assert(big.term[k] == 0.0f);
        /* the step again from the stored observation (angle within float rounding) */
        double th = atan2(o[1], o[0]), thdot = o[2];
        double rew = pendulum_step_elem(&th, &thdot, big.act[k]);
        ck_assert_msg(fabs(rew - big.rew[k]) <= 1e-4 * (1 + fabs(rew)), "row %d reward", k);
        ck_assert_float_eq_tol(no[0], (float)cos(th), 1e-5f);
        ck_assert_float_eq_tol(no[1], (float)sin(th), 1e-5f);
        ck_assert_float_eq_tol(no[2], (float)thdot, 1e-4f);
    }
    for (int j = 0; j < 3000; j++) { /* slot j of the ring of 3000 holds the latest of j + 3000 i */
        int k = j < 2000 ? 3000 + j : j;
        ck_assert_mem_eq(small.obs + 3 * j, big.obs + 3 * k, sizeof(float) * 3);
        ck_assert_mem_eq(small.next_obs + 3 * j, big.next_obs + 3 * k, sizeof(float) * 3);
        ck_assert(small.act[j] == big.act[k] && small.rew[j] == big.rew[k]);
    }
    replay_destroy(&big, be);
    replay_destroy(&small, be);
    be->destroy(be);
}
END_TEST

Suite *replay_suite(void) {
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("insert");
    tcase_add_test(tc, test_insert_and_wrap_around);
    tcase_add_test(tc, test_fill_random_transitions_and_wrap);
    suite_add_tcase(s, tc);

    tc = tcase_create("sample");
    tcase_add_test(tc, test_sample_only_filled_slots);
    tcase_add_test(tc, test_sample_gathers_stored_rows);
    tcase_add_test(tc, test_sample_deterministic_counter);
    tcase_add_test(tc, test_sample_uniform_chi_square);
    suite_add_tcase(s, tc);
    return s;
}
