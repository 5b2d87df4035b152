/* replay.c - parity of kernels/replay.cu: inserts into the ring (wrapping
 * it), and uniform sampling of minibatches, index for index. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/env.h"
#include "ddpg/envs/pendulum.h"
#include "parity.h"

static void expect_replay_equal(Pair *p, const Replay *rg, const Replay *rc, const char *when) {
    size_t c = (size_t)rg->capacity;
    char what[128];
    snprintf(what, sizeof what, "replay_insert %s cursor", when);
    expect_twin_equal(p, what, rg->cursor, rc->cursor, sizeof(ReplayCursor));
    snprintf(what, sizeof what, "replay_insert %s obs", when);
    expect_twin_equal(p, what, rg->obs, rc->obs, sizeof(float) * c * rg->obs_dim);
    snprintf(what, sizeof what, "replay_insert %s act", when);
    expect_twin_equal(p, what, rg->act, rc->act, sizeof(float) * c * rg->act_dim);
    snprintf(what, sizeof what, "replay_insert %s rew,term,next_obs", when);
    expect_twin_equal(p, what, rg->rew, rc->rew, sizeof(float) * c);
    expect_twin_equal(p, what, rg->term, rc->term, sizeof(float) * c);
    expect_twin_equal(p, what, rg->next_obs, rc->next_obs, sizeof(float) * c * rg->obs_dim);
}

/* Inserts that wrap the ring, one longer than the ring; the buffers and the
 * ring pointers must be identical to the CPU's after each. */
START_TEST(test_replay_insert) {
    Pair *p = parity_pair("replay_insert");
    if (!p) return;
    seed_host_rng(13);
    Replay rg, rc;
    replay_twin_create(p, &rg, &rc, 300, 3, 2);
    static const int chunks[] = {65, 257, 1, 700, 65};
    for (int i = 0; i < 5; i++) {
        replay_insert_twin(p, &rg, &rc, chunks[i]);
        char when[48];
        snprintf(when, sizeof when, "after %d rows", chunks[i]);
        expect_replay_equal(p, &rg, &rc, when);
    }
    ReplayCursor cur;
    p->gpu->to_host(p->gpu, &cur, rg.cursor, sizeof cur);
    ck_assert_int_eq(cur.next, (65 + 257 + 1 + 700 + 65) % 300);
    ck_assert_int_eq(cur.filled, 300);
    replay_twin_destroy(p, &rg, &rc);
}
END_TEST

/* pendulum_fill_random (staged on the host, inserted in chunks) into a ring
 * it wraps, smaller than its 4096-row chunk: the same bytes on both backends. */
START_TEST(test_replay_fill_random) {
    Pair *p = parity_pair("replay_fill_random");
    if (!p) return;
    Replay rg, rc;
    replay_twin_create(p, &rg, &rc, 3001, 3, 1);
    ck_assert_int_eq(env_fill_random(p->gpu, pendulum_spec(), &rg, 10000, 3), 0);
    ck_assert_int_eq(env_fill_random(p->cpu, pendulum_spec(), &rc, 10000, 3), 0);
    expect_replay_equal(p, &rg, &rc, "fill_random 10000 rows");
    replay_twin_destroy(p, &rg, &rc);
}
END_TEST

/* Sampling from a partly and a fully filled ring: the CPU's indices and rows;
 * indices inside the fill; each gathered row equal to the stored row at its
 * index; the mean index near the middle of the fill. */
START_TEST(test_replay_sample) {
    Pair *p = parity_pair("replay_sample");
    if (!p) return;
    seed_host_rng(14);
    const int cap = 300, od = 3, ad = 2;
    Replay rg, rc;
    replay_twin_create(p, &rg, &rc, cap, od, ad);
    Twin ctr = twin(p, NULL, sizeof(uint64_t));
    static const int fills[] = {65, 1000};
    for (int f = 0; f < 2; f++) {
        replay_insert_twin(p, &rg, &rc, fills[f]);
        int64_t filled = fills[f] < cap ? fills[f] : cap;
        float *ro = fetch(p->gpu, rg.obs, sizeof(float) * cap * od);
        float *ra = fetch(p->gpu, rg.act, sizeof(float) * cap * ad);
        float *rr = fetch(p->gpu, rg.rew, sizeof(float) * cap);
        float *rn = fetch(p->gpu, rg.next_obs, sizeof(float) * cap * od);
        float *rt = fetch(p->gpu, rg.term, sizeof(float) * cap);
        double idx_sum = 0;
        int64_t draws = 0;
        for (int s = 0; s < 3; s++)
            for (int rep = 0; rep < 10; rep++) {
                int B = SIZES[s];
                Batch bg, bc;
                ck_assert_int_eq(batch_create(&bg, p->gpu, B, od, ad), 0);
                ck_assert_int_eq(batch_create(&bc, p->cpu, B, od, ad), 0);
                p->gpu->replay_sample(p->gpu, &rg, &bg, 5, ctr.g);
                p->cpu->replay_sample(p->cpu, &rc, &bc, 5, ctr.c);
                if (rep == 0) {
                    char what[128];
                    snprintf(what, sizeof what, "replay_sample fill=%lld B=%d idx",
                             (long long)filled, B);
                    expect_twin_equal(p, what, bg.idx, bc.idx, sizeof(int64_t) * B);
                    snprintf(what, sizeof what, "replay_sample fill=%lld B=%d obs",
                             (long long)filled, B);
                    expect_twin_equal(p, what, bg.obs, bc.obs, sizeof(float) * B * od);
                }
                int64_t *idx = fetch(p->gpu, bg.idx, sizeof(int64_t) * B);
                float *bo = fetch(p->gpu, bg.obs, sizeof(float) * B * od);
                float *ba = fetch(p->gpu, bg.act, sizeof(float) * B * ad);
                float *br = fetch(p->gpu, bg.rew, sizeof(float) * B);
                float *bn = fetch(p->gpu, bg.next_obs, sizeof(float) * B * od);
                float *bt = fetch(p->gpu, bg.term, sizeof(float) * B);
                for (int i = 0; i < B; i++) {
                    int64_t k = idx[i];
                    ck_assert_msg(k >= 0 && k < filled, "index %lld outside [0, %lld)",
                                  (long long)k, (long long)filled);
                    ck_assert(memcmp(bo + (size_t)i * od, ro + k * od, sizeof(float) * od) == 0);
                    ck_assert(memcmp(bn + (size_t)i * od, rn + k * od, sizeof(float) * od) == 0);
                    ck_assert(memcmp(ba + (size_t)i * ad, ra + k * ad, sizeof(float) * ad) == 0);
                    ck_assert(br[i] == rr[k] && bt[i] == rt[k]);
                    idx_sum += (double)k;
                    draws++;
                }
                free(idx), free(bo), free(ba), free(br), free(bn), free(bt);
                batch_destroy(&bg, p->gpu);
                batch_destroy(&bc, p->cpu);
            }
        double mean = idx_sum / draws, want = 0.5 * (filled - 1);
        double sd = sqrt(((double)filled * filled - 1) / 12.0) / sqrt((double)draws);
        printf(
            "gpu_parity/replay_sample fill=%lld: %lld draws, mean index %.2f (want %.2f +- %.2f)\n",
            (long long)filled, (long long)draws, mean, want, 5 * sd);
        ck_assert(fabs(mean - want) < 5 * sd);
        free(ro), free(ra), free(rr), free(rn), free(rt);
    }
    ck_assert_int_eq(fetch_i64(p->gpu, ctr.g), 2 * 3 * 10);
    twin_free(p, &ctr);
    replay_twin_destroy(p, &rg, &rc);
}
END_TEST

void gpu_replay_cases(Suite *s) {
    TCase *tc = parity_tcase("replay");
    tcase_add_test(tc, test_replay_insert);
    tcase_add_test(tc, test_replay_fill_random);
    tcase_add_test(tc, test_replay_sample);
    suite_add_tcase(s, tc);
}
