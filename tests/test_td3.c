/* test_td3.c - TD3's changes to the update (Fujimoto et al. 2018): the
 * target from the smaller twin with a smoothed target action, against values
 * worked out here from their definition; the delay, counted; and a whole run
 * through the program. The twins' gradients are checked against finite
 * differences in test_mlp.c. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/ddpg.h"
#include "ddpg/env.h"
#include "ddpg/envs/pendulum.h"
#include "suites.h"

static float uniform(uint64_t seed, uint64_t i, float lo, float hi) {
    Philox4 r = philox4x32(seed, 0, 7, i);
    return lo + (hi - lo) * rng_u01f(r.v[0]);
}

/* y = r + gamma (1 - term) min(Q1'(s', a~), Q2'(s', a~)) with a~ = clip(mu'(s')
 * + clip(sigma h n, -c h, c h), low, high), h each dimension's half range and
 * n the draw add_noise makes: recomputed here step by step. */
START_TEST(test_td3_target_by_hand) {
    Backend *be = backend_cpu_create(1);
    const int hidden[2] = {16, 9};
    ActionBounds ab = {2, {-1.0f, -0.5f}, {3.0f, 0.5f}};
    DdpgParams prm = {.obs_dim = 3, .act_dim = 2, .hidden = hidden, .n_hidden = 2,
                      .bounds = ab, .batch_size = 37, .gamma = 0.9f, .tau = 0.05f,
                      .grad_clip = 1.0f, .actor_lr = 1e-3f, .critic_lr = 1e-3f, .seed = 77,
                      .algo = ALGO_TD3, .target_noise = 0.6f, .target_noise_clip = 0.3f,
                      .policy_delay = 2};
    Ddpg d;
    ck_assert_int_eq(ddpg_create(&d, be, &prm, NULL), 0);
    ck_assert_int_eq(d.n_critics, 2);
    int B = prm.batch_size, od = 3, ad = 2;
    Batch *b = &d.batch;
    for (int i = 0; i < B; i++) {
        for (int k = 0; k < od; k++) b->next_obs[i * od + k] = uniform(1, i * od + k, -2, 2);
        b->rew[i] = uniform(2, i, -3, 1);
        b->term[i] = i % 5 == 0 ? 1.0f : 0.0f;
    }
    /* twins that disagree both ways, and an actor whose actions reach the bounds */
    for (size_t k = 0; k < d.critic[1].shape.n_params; k++)
        d.critic[1].target[k] = uniform(3, k, -0.6f, 0.6f);
    for (size_t k = 0; k < d.actor.shape.n_params; k++) d.actor.target[k] *= 4.0f;
    MlpWork wa, wc;
    ck_assert_int_eq(mlp_work_create(&wa, be, &d.actor.shape, B), 0);
    ck_assert_int_eq(mlp_work_create(&wc, be, &d.critic[0].shape, B), 0);
    float *a = malloc(sizeof(float) * B * ad), *x = malloc(sizeof(float) * B * (od + ad));
    float *q1 = malloc(sizeof(float) * B), *q2 = malloc(sizeof(float) * B);
    ck_assert(a && x && q1 && q2);
    memcpy(a, mlp_forward(be, &d.actor.shape, d.actor.target, b->next_obs, B, &wa),
           sizeof(float) * B * ad);
    int noise_clipped = 0, at_bound = 0;
    for (int i = 0; i < B; i++)
        for (int k = 0; k < ad; k++) {
            size_t j = (size_t)i * ad + k;
            Philox4 r = philox4x32(prm.seed ^ DDPG_SMOOTH_SEED_SALT, (uint32_t)j, RNG_NOISE, 0);
            float h = 0.5f * (ab.high[k] - ab.low[k]), c = prm.target_noise_clip * h;
            float e = prm.target_noise * h * rng_normal(r.v[0], r.v[1]);
            noise_clipped += e < -c || e > c;
            e = e < -c ? -c : e > c ? c : e;
            float v = a[j] + e;
            at_bound += v <= ab.low[k] || v >= ab.high[k];
            a[j] = v < ab.low[k] ? ab.low[k] : v > ab.high[k] ? ab.high[k] : v;
        }
    for (int i = 0; i < B; i++) {
        memcpy(x + i * (od + ad), b->next_obs + i * od, sizeof(float) * od);
        memcpy(x + i * (od + ad) + od, a + i * ad, sizeof(float) * ad);
    }
    memcpy(q1, mlp_forward(be, &d.critic[0].shape, d.critic[0].target, x, B, &wc),
           sizeof(float) * B);
    memcpy(q2, mlp_forward(be, &d.critic[1].shape, d.critic[1].target, x, B, &wc),
           sizeof(float) * B);

    ddpg_td_target(&d);
    ck_assert_int_eq(*d.smooth_ctr, 1);
    int first = 0, second = 0;
    for (int i = 0; i < B; i++) {
        for (int k = 0; k < ad; k++)
            ck_assert_msg(d.x_next[i * (od + ad) + od + k] == a[i * ad + k],
                          "row %d: target action %d %.9g, by hand %.9g", i, k,
                          (double)d.x_next[i * (od + ad) + od + k], (double)a[i * ad + k]);
        float m = q1[i] < q2[i] ? q1[i] : q2[i];
        first += q1[i] < q2[i], second += q2[i] < q1[i];
        float y = b->rew[i] + prm.gamma * (1.0f - b->term[i]) * m;
        ck_assert_msg(fabsf(d.y[i] - y) <= 1e-6f * (1.0f + fabsf(y)), "row %d: y %.9g, by hand %.9g",
                      i, (double)d.y[i], (double)y);
    }
    printf("td3 target: %d rows, noise clipped %d of %d, actions at a bound %d, min from Q1 %d "
           "and Q2 %d\n", B, noise_clipped, B * ad, at_bound, first, second);
    /* the case cannot pass on an untested branch */
    ck_assert(noise_clipped > 0 && noise_clipped < B * ad);
    ck_assert(at_bound > 0);
    ck_assert(first > 0 && second > 0);
    free(a), free(x), free(q1), free(q2);
    mlp_work_destroy(&wa, be, &d.actor.shape);
    mlp_work_destroy(&wc, be, &d.critic[0].shape);
    ddpg_destroy(&d);
    be->destroy(be);
}
END_TEST

static int same(const float *a, const float *b, size_t n) { return !memcmp(a, b, 4 * n); }

/* policy_delay 3: the critics move at every update; the actor and every
 * target only at updates 3 and 6 (as Stable-Baselines3 counts); Adam's step
 * counts follow. */
START_TEST(test_td3_delay_counted) {
    Backend *be = backend_cpu_create(1);
    const int hidden[2] = {32, 32};
    DdpgParams prm = {.obs_dim = PENDULUM_OBS_DIM, .act_dim = PENDULUM_ACT_DIM,
                      .hidden = hidden, .n_hidden = 2,
                      .bounds = env_bounds(pendulum_spec()), .batch_size = 32,
                      .gamma = 0.99f, .tau = 0.05f, .grad_clip = 1.0f, .actor_lr = 1e-3f,
                      .critic_lr = 1e-3f, .seed = 5, .algo = ALGO_TD3, .target_noise = 0.2f,
                      .target_noise_clip = 0.5f, .policy_delay = 3};
    Ddpg d;
    ck_assert_int_eq(ddpg_create(&d, be, &prm, NULL), 0);
    Replay r;
    ck_assert_int_eq(replay_create(&r, be, 500, PENDULUM_OBS_DIM, PENDULUM_ACT_DIM), 0);
    ck_assert_int_eq(env_fill_random(be, pendulum_spec(), &r, 500, 3), 0);
    size_t na = d.actor.shape.n_params, nc = d.critic[0].shape.n_params;
    float *prev[5];
    float *now[5] = {d.actor.params, d.actor.target, d.critic[0].params, d.critic[0].target,
                     d.critic[1].target};
    size_t n[5] = {na, na, nc, nc, nc};
    for (int k = 0; k < 5; k++) prev[k] = malloc(4 * n[k]);
    for (int u = 1; u <= 7; u++) {
        for (int k = 0; k < 5; k++) memcpy(prev[k], now[k], 4 * n[k]);
        ddpg_update(&d, &r);
        int policy = u % 3 == 0;
        ck_assert_int_eq(ddpg_policy_step(&d), policy);
        ck_assert_msg(same(prev[0], now[0], na) == !policy, "update %d: actor", u);
        ck_assert_msg(same(prev[1], now[1], na) == !policy, "update %d: actor target", u);
        ck_assert_msg(!same(prev[2], now[2], nc), "update %d: the critic did not move", u);
        ck_assert_msg(same(prev[3], now[3], nc) == !policy, "update %d: critic target", u);
        ck_assert_msg(same(prev[4], now[4], nc) == !policy, "update %d: critic 2's target", u);
    }
    ck_assert_int_eq(d.updates, 7);
    ck_assert_int_eq(*d.actor.adam_step, 2);
    ck_assert_int_eq(*d.critic[0].adam_step, 7);
    ck_assert_int_eq(*d.critic[1].adam_step, 7);
    ck_assert_int_eq(*d.smooth_ctr, 7);
    for (int k = 0; k < 5; k++) free(prev[k]);
    replay_destroy(&r, be);
    ddpg_destroy(&d);
    be->destroy(be);
}
END_TEST

Suite *td3_suite(void) {
    Suite *s = suite_create("td3");
    TCase *tc = tcase_create("update");
    tcase_add_test(tc, test_td3_target_by_hand);
    tcase_add_test(tc, test_td3_delay_counted);
    suite_add_tcase(s, tc);
    return s;
}
