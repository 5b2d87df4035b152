/* test_pendulum.c - the C Pendulum-v1 against Gymnasium's own.
 *
 * tests/fixtures/pendulum.csv holds transitions recorded from
 * gymnasium.make("Pendulum-v1") by scripts/gen_pendulum_fixtures.py (see its
 * header for what is covered). Tests run from the repository root.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/env.h"
#include "ddpg/envs/pendulum.h"
#include "fixture_csv.h"
#include "suites.h"

#define FIXTURE_PATH "tests/fixtures/pendulum.csv"
/* Element level: the state is float64 in both, so the C matches to rounding. */
#define STATE_RTOL 1e-9
/* Trajectory level, on the float32 observation and reward a learner sees. */
#define TRAJ_TOL 1e-5

/* The states of a batch of Pendulums (host memory on the CPU backend). */
#define PST(e) ((Pendulum *)(e)->state)

struct FixtureRow {
    int seed, episode, t;
    double th, thdot; /* state before the step */
    float action;
    double next_th, next_thdot;
    float obs[3]; /* float32 observation after the step */
    double reward;
    int terminated, truncated;
};

/* The file's columns, in order, and the fields they fill. */
static const FixtureCol COLS[] = {
    FIXTURE_COL("seed", seed, COL_INT),
    FIXTURE_COL("episode", episode, COL_INT),
    FIXTURE_COL("t", t, COL_INT),
    FIXTURE_COL("th", th, COL_F64),
    FIXTURE_COL("thdot", thdot, COL_F64),
    FIXTURE_COL("action", action, COL_F32),
    FIXTURE_COL("next_th", next_th, COL_F64),
    FIXTURE_COL("next_thdot", next_thdot, COL_F64),
    FIXTURE_COL("obs0", obs[0], COL_F32),
    FIXTURE_COL("obs1", obs[1], COL_F32),
    FIXTURE_COL("obs2", obs[2], COL_F32),
    FIXTURE_COL("reward", reward, COL_F64),
    FIXTURE_COL("terminated", terminated, COL_INT),
    FIXTURE_COL("truncated", truncated, COL_INT),
};

static Fixture fixture_load(void) {
    return fixture_csv_load(FIXTURE_PATH, COLS, (int)(sizeof COLS / sizeof COLS[0]),
                            sizeof(FixtureRow), "`make fixtures`");
}

/* Distance in units in the last place between two finite floats. */
static int64_t ulp_diff(float a, float b) {
    int32_t ia, ib;
    memcpy(&ia, &a, 4), memcpy(&ib, &b, 4);
    int64_t ka = ia < 0 ? (int64_t)INT32_MIN - ia : ia, kb = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return ka > kb ? ka - kb : kb - ka;
}

static double rel_err(double got, double want) { return fabs(got - want) / fmax(fabs(want), 1e-3); }

/* ---- (a) element level ------------------------------------------------- */

START_TEST(test_step_elem_matches_gymnasium) {
    Fixture f = fixture_load();
    double worst_state = 0.0, worst_rew = 0.0;
    int64_t worst_ulp = 0;
    int n_act_clip = 0, n_speed_clip = 0, n_wrap = 0, n_trunc = 0;
    for (int i = 0; i < f.n; i++) {
        const FixtureRow *r = &f.rows[i];
        double th = r->th, thdot = r->thdot;
        double rew = pendulum_step_elem(&th, &thdot, r->action);
        double e_th = rel_err(th, r->next_th), e_w = rel_err(thdot, r->next_thdot);
        double e_r = rel_err(rew, r->reward);
        ck_assert_msg(e_th <= STATE_RTOL && e_w <= STATE_RTOL && e_r <= STATE_RTOL,
                      "row %d (seed %d ep %d t %d): next (th, thdot, reward) = (%.17g, %.17g, "
                      "%.17g), gymnasium (%.17g, %.17g, %.17g)",
                      i, r->seed, r->episode, r->t, th, thdot, rew, r->next_th, r->next_thdot,
                      r->reward);
        float obs[3];
        pendulum_obs_elem(th, thdot, obs);
        for (int j = 0; j < 3; j++) {
            int64_t u = ulp_diff(obs[j], r->obs[j]);
            ck_assert_msg(u <= 1, "row %d: obs[%d] = %.9g, gymnasium %.9g (%lld ulp)", i, j,
                          (double)obs[j], (double)r->obs[j], (long long)u);
            if (u > worst_ulp) worst_ulp = u;
        }
        worst_state = fmax(worst_state, fmax(e_th, e_w));
        worst_rew = fmax(worst_rew, e_r);
        n_act_clip += fabsf(r->action) > PENDULUM_MAX_TORQUE;
        n_speed_clip += fabs(r->next_thdot) == PENDULUM_MAX_SPEED;
        n_wrap += fabs(r->th) > DDPG_PI;
        n_trunc += r->truncated;
        ck_assert_int_eq(r->terminated, 0);
    }
    /* The fixture must exercise what it is there for. */
    ck_assert_msg(n_act_clip > 100 && n_speed_clip > 50 && n_wrap > 50 && n_trunc >= 10,
                  "fixture coverage: %d clipped actions, %d at the speed clip, %d with |th| > pi, "
                  "%d truncations",
                  n_act_clip, n_speed_clip, n_wrap, n_trunc);
    printf("pendulum elem: %d gymnasium rows, max rel diff state %.2g reward %.2g, obs %lld ulp\n",
           f.n, worst_state, worst_rew, (long long)worst_ulp);
    free(f.rows);
}
END_TEST

/* Python's floor-mod semantics of angle_normalize, also for negative angles. */
START_TEST(test_angle_normalize) {
    const double x[] = {0.0, 1.0, -1.0, DDPG_PI - 1e-9, 4.0, -4.0, 10.0, -10.0, 100.5, -100.5};
    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) {
        double a = pendulum_angle_normalize(x[i]);
        double k = (x[i] - a) / (2.0 * DDPG_PI); /* a differs from x by whole turns */
        ck_assert_msg(a >= -DDPG_PI && a < DDPG_PI && fabs(k - round(k)) < 1e-9,
                      "angle_normalize(%g) = %.17g", x[i], a);
    }
    ck_assert_double_eq_tol(pendulum_angle_normalize(DDPG_PI), -DDPG_PI, 1e-12);
}
END_TEST

/* ---- (b) trajectory level ---------------------------------------------- */

/* Runs one fixture episode (rows[0..len)) through be->env_step from its
 * recorded start state and compares every step. */
static void run_fixture_episode(Backend *be, const FixtureRow *rows, int len, double *worst) {
    VecEnv e;
    ck_assert_int_eq(env_create(&e, be, pendulum_spec(), 1, 99, 8), 0);
    float act, next_obs[3], rew, term, trunc, obs_out[3];
    PST(&e)[0].th = rows[0].th, PST(&e)[0].thdot = rows[0].thdot; /* host memory on the CPU backend */
    double ret = 0.0;
    for (int s = 0; s < len; s++) {
        const FixtureRow *r = &rows[s];
        ck_assert_int_eq(r->t, s);
        act = r->action;
        be->env_step(be, &e, &act, next_obs, &rew, &term, &trunc, obs_out);
        for (int j = 0; j < 3; j++) {
            ck_assert_msg(fabsf(next_obs[j] - r->obs[j]) <= TRAJ_TOL,
                          "seed %d ep %d t %d: obs[%d] = %.9g, gymnasium %.9g", r->seed, r->episode,
                          s, j, (double)next_obs[j], (double)r->obs[j]);
            *worst = fmax(*worst, fabsf(next_obs[j] - r->obs[j]));
        }
        ck_assert_msg(fabs(rew - r->reward) <= TRAJ_TOL * fmax(1.0, fabs(r->reward)),
                      "seed %d ep %d t %d: reward %.9g, gymnasium %.9g", r->seed, r->episode, s,
                      (double)rew, r->reward);
        ret += r->reward;
        ck_assert(term == 0.0f); /* Pendulum-v1 never terminates */
        int want_trunc = s == PENDULUM_MAX_STEPS - 1;
        ck_assert_int_eq(r->truncated, want_trunc);
        ck_assert_msg(trunc == (want_trunc ? 1.0f : 0.0f), "seed %d ep %d t %d: trunc %g", r->seed,
                      r->episode, s, (double)trunc);
        if (!want_trunc) {
            ck_assert_mem_eq(obs_out, next_obs, sizeof next_obs);
            ck_assert_int_eq(e.t[0], s + 1);
            ck_assert_int_eq(*e.log.count, 0);
            continue;
        }
        /* Truncated: next_obs was the true last observation (checked above);
         * obs_out is the first observation of a fresh episode. */
        ck_assert_int_eq(e.t[0], 0);
        ck_assert_int_eq(e.resets[0], 1);
        ck_assert_float_eq(e.ep_return[0], 0.0f);
        ck_assert(PST(&e)[0].th >= -DDPG_PI && PST(&e)[0].th < DDPG_PI);
        ck_assert(PST(&e)[0].thdot >= -1.0 && PST(&e)[0].thdot < 1.0);
        float fresh[3];
        pendulum_obs_elem(PST(&e)[0].th, PST(&e)[0].thdot, fresh);
        ck_assert_mem_eq(obs_out, fresh, sizeof fresh);
        ck_assert_int_ne(memcmp(obs_out, next_obs, sizeof fresh), 0);
        /* the finished episode's record */
        ck_assert_int_eq(*e.log.count, 1);
        ck_assert_int_eq(e.log.len[0], PENDULUM_MAX_STEPS);
        ck_assert_int_eq(e.log.env[0], 0);
        ck_assert_int_eq(e.log.step[0], s); /* the vectorized step it ended on, from 0 */
        ck_assert_msg(fabs(e.log.ret[0] - ret) <= 1e-5 * fabs(ret),
                      "seed %d: episode return %.9g, sum of gymnasium rewards %.9g", r->seed,
                      (double)e.log.ret[0], ret);
    }
    ck_assert_int_eq(*e.vstep, len);
    env_destroy(&e, be);
}

START_TEST(test_env_step_trajectories_match_gymnasium) {
    Backend *be = backend_cpu_create(1);
    Fixture f = fixture_load();
    int episodes = 0, full = 0;
    double worst = 0.0;
    for (int i = 0; i < f.n;) {
        int j = i + 1;
        while (j < f.n && f.rows[j].seed == f.rows[i].seed &&
               f.rows[j].episode == f.rows[i].episode)
            j++;
        run_fixture_episode(be, f.rows + i, j - i, &worst);
        episodes++;
        full += j - i == PENDULUM_MAX_STEPS;
        i = j;
    }
    ck_assert_msg(full >= 10 && episodes > full, "%d episodes, %d of 200 steps", episodes, full);
    printf("pendulum env_step: %d gymnasium episodes (%d truncated at 200), max obs diff %.2g\n",
           episodes, full, worst);
    free(f.rows);
    be->destroy(be);
}
END_TEST

/* ---- (c) resets -------------------------------------------------------- */

START_TEST(test_reset_ranges) {
    Backend *be = backend_cpu_create(1);
    enum { N = 4096, BINS = 8 };
    VecEnv e, e2;
    ck_assert_int_eq(env_create(&e, be, pendulum_spec(), N, 7, 16), 0);
    ck_assert_int_eq(env_create(&e2, be, pendulum_spec(), N, 8, 16), 0);
    float *obs = malloc(sizeof(float) * N * 3), *obs2 = malloc(sizeof(float) * N * 3);
    ck_assert(obs && obs2);
    int hist_th[BINS] = {0}, hist_w[BINS] = {0};
    double th_lo = INFINITY, th_hi = -INFINITY, w_lo = INFINITY, w_hi = -INFINITY;
    double s_th = 0.0, s_w = 0.0, s_tt = 0.0, s_ww = 0.0, s_tw = 0.0;
    for (int round = 0; round < 2; round++) {
        be->env_reset(be, &e, obs);
        for (int i = 0; i < N; i++) {
            double th = PST(&e)[i].th, w = PST(&e)[i].thdot;
            ck_assert_msg(th >= -DDPG_PI && th < DDPG_PI, "env %d: th %.17g", i, th);
            ck_assert_msg(w >= -1.0 && w < 1.0, "env %d: thdot %.17g", i, w);
            ck_assert_int_eq(e.t[i], 0);
            ck_assert_int_eq(e.resets[i], round + 1);
            float want[3];
            pendulum_obs_elem(th, w, want);
            ck_assert_mem_eq(obs + 3 * i, want, sizeof want);
            hist_th[(int)((th + DDPG_PI) / (2.0 * DDPG_PI) * BINS)]++;
            hist_w[(int)((w + 1.0) / 2.0 * BINS)]++;
            th_lo = fmin(th_lo, th), th_hi = fmax(th_hi, th);
            w_lo = fmin(w_lo, w), w_hi = fmax(w_hi, w);
            s_th += th, s_w += w, s_tt += th * th, s_ww += w * w, s_tw += th * w;
        }
        if (round == 0) memcpy(obs2, obs, sizeof(float) * N * 3);
    }
    /* the second reset draws new states */
    ck_assert_int_ne(memcmp(obs, obs2, sizeof(float) * N * 3), 0);
    ck_assert(th_lo < -DDPG_PI + 0.01 && th_hi > DDPG_PI - 0.01);
    ck_assert(w_lo < -0.99 && w_hi > 0.99);
    /* th and thdot independent: correlation over 2N draws has sd ~0.011 */
    double n2 = 2.0 * N, cov = s_tw / n2 - (s_th / n2) * (s_w / n2);
    double corr =
        cov / sqrt((s_tt / n2 - (s_th / n2) * (s_th / n2)) * (s_ww / n2 - (s_w / n2) * (s_w / n2)));
    ck_assert_msg(fabs(corr) < 0.05, "corr(th, thdot) over resets = %.3f", corr);
    /* 2N draws, 1024 per bin expected, sd ~30 */
    for (int b = 0; b < BINS; b++) {
        ck_assert_msg(hist_th[b] > 850 && hist_th[b] < 1200, "th bin %d: %d of %d", b, hist_th[b],
                      2 * N);
        ck_assert_msg(hist_w[b] > 850 && hist_w[b] < 1200, "thdot bin %d: %d of %d", b, hist_w[b],
                      2 * N);
    }
    /* another seed, other states; the same seed, the same states */
    be->env_reset(be, &e2, obs2);
    ck_assert_int_ne(memcmp(e.state, e2.state, sizeof(Pendulum) * N), 0);
    env_destroy(&e2, be);
    ck_assert_int_eq(env_create(&e2, be, pendulum_spec(), N, 7, 16), 0);
    be->env_reset(be, &e2, obs2);
    be->env_reset(be, &e2, obs2);
    ck_assert_mem_eq(e.state, e2.state, sizeof(Pendulum) * N);
    free(obs), free(obs2);
    env_destroy(&e, be), env_destroy(&e2, be);
    be->destroy(be);
}
END_TEST

/* ---- (d) vectorized ---------------------------------------------------- */

/* N envs with different states, time counters and actions step together;
 * each must follow exactly the run of a lone env from the same state with the
 * same actions (same code, so bit for bit). Resets differ by design (the env
 * index is part of the RNG counter): the lone env then continues from the
 * state the vectorized env was reset to. */
START_TEST(test_vectorized_envs_are_independent) {
    enum { N = 257, T = 230, T0_STRIDE = 7 };
    Backend *be = backend_cpu_create(1);
    Fixture f = fixture_load();
    VecEnv e;
    ck_assert_int_eq(env_create(&e, be, pendulum_spec(), N, 5, 1024), 0);
    size_t nt = (size_t)T * N;
    float *act = malloc(sizeof(float) * nt), *next = malloc(sizeof(float) * nt * 3);
    float *rew = malloc(sizeof(float) * nt), *term = malloc(sizeof(float) * nt);
    float *trunc = malloc(sizeof(float) * nt), *out = malloc(sizeof(float) * nt * 3);
    double *th = malloc(sizeof(double) * nt), *thdot = malloc(sizeof(double) * nt);
    ck_assert(act && next && rew && term && trunc && out && th && thdot);
    for (int i = 0; i < N; i++) {
        const FixtureRow *r = &f.rows[(i * 17) % f.n];
        PST(&e)[i].th = r->th, PST(&e)[i].thdot = r->thdot;
        e.t[i] = (i * T0_STRIDE) % PENDULUM_MAX_STEPS; /* staggered time limits */
        for (int s = 0; s < T; s++) act[(size_t)s * N + i] = f.rows[(i * 31 + s * 3) % f.n].action;
    }
    for (int s = 0; s < T; s++) {
        size_t o = (size_t)s * N;
        be->env_step(be, &e, act + o, next + 3 * o, rew + o, term + o, trunc + o, out + 3 * o);
        for (int i = 0; i < N; i++) th[o + i] = PST(&e)[i].th, thdot[o + i] = PST(&e)[i].thdot;
    }

    int64_t rec = 0, n_trunc = 0;
    for (int i = 0; i < N; i++) {
        VecEnv one;
        ck_assert_int_eq(env_create(&one, be, pendulum_spec(), 1, 5, 8), 0);
        PST(&one)[0].th = f.rows[(i * 17) % f.n].th, PST(&one)[0].thdot = f.rows[(i * 17) % f.n].thdot;
        one.t[0] = (i * T0_STRIDE) % PENDULUM_MAX_STEPS;
        for (int s = 0; s < T; s++) {
            size_t k = (size_t)s * N + i;
            float n1[3], r1, te1, tr1, o1[3];
            be->env_step(be, &one, act + k, n1, &r1, &te1, &tr1, o1);
            ck_assert_msg(memcmp(n1, next + 3 * k, sizeof n1) == 0 && r1 == rew[k] &&
                              te1 == term[k] && tr1 == trunc[k],
                          "env %d of %d, step %d: differs from a lone env", i, N, s);
            int want_trunc = (i * T0_STRIDE) % PENDULUM_MAX_STEPS + s + 1 == PENDULUM_MAX_STEPS ||
                             (i * T0_STRIDE) % PENDULUM_MAX_STEPS + s + 1 == 2 * PENDULUM_MAX_STEPS;
            ck_assert_int_eq((int)tr1, want_trunc);
            if (tr1 == 0.0f) {
                ck_assert(PST(&one)[0].th == th[k] && PST(&one)[0].thdot == thdot[k]);
                ck_assert_mem_eq(o1, out + 3 * k, sizeof o1);
                continue;
            }
            n_trunc++;
            /* the vectorized env's episode record for env i at step s */
            ck_assert_int_lt(rec, *e.log.count);
            while (e.log.env[rec] != i || e.log.step[rec] != s) {
                rec++;
                ck_assert_msg(rec < *e.log.count, "no episode record for env %d at step %d", i, s);
            }
            int64_t r1i = *one.log.count - 1;
            ck_assert_int_eq(e.log.len[rec], one.log.len[r1i]);
            ck_assert_float_eq(e.log.ret[rec], one.log.ret[r1i]);
            ck_assert_int_eq(one.log.step[r1i], s);
            rec = 0;
            /* env i was reset to a state of its own, which the lone env takes over */
            float fresh[3];
            pendulum_obs_elem(th[k], thdot[k], fresh);
            ck_assert_mem_eq(out + 3 * k, fresh, sizeof fresh);
            if (i >= PENDULUM_MAX_STEPS) { /* env i - 200 truncated on the same step */
                size_t k2 = (size_t)s * N + (i - PENDULUM_MAX_STEPS);
                ck_assert(trunc[k2] == 1.0f);
                ck_assert(th[k2] != th[k] && thdot[k2] != thdot[k]);
            }
            PST(&one)[0].th = th[k], PST(&one)[0].thdot = thdot[k];
        }
        env_destroy(&one, be);
    }
    ck_assert_int_eq(*e.log.count, n_trunc);
    ck_assert(n_trunc > N);
    free(act), free(next), free(rew), free(term), free(trunc), free(out), free(th), free(thdot);
    free(f.rows);
    env_destroy(&e, be);
    be->destroy(be);
}
END_TEST

Suite *pendulum_suite(void) {
    Suite *s = suite_create("pendulum");
    TCase *tc = tcase_create("gymnasium");
    tcase_add_test(tc, test_step_elem_matches_gymnasium);
    tcase_add_test(tc, test_angle_normalize);
    tcase_add_test(tc, test_env_step_trajectories_match_gymnasium);
    suite_add_tcase(s, tc);

    tc = tcase_create("vec_env");
    tcase_add_test(tc, test_reset_ranges);
    tcase_add_test(tc, test_vectorized_envs_are_independent);
    suite_add_tcase(s, tc);
    return s;
}
