/* test_mountain_car.c - the C MountainCarContinuous-v0 against Gymnasium's own.
 *
 * tests/fixtures/mountain_car.csv holds transitions recorded from
 * gymnasium.make("MountainCarContinuous-v0") by
 * scripts/gen_mountain_car_fixtures.py (see its header for what is covered).
 * The C environment must match it to the last bit: the state, observation,
 * reward and termination of every step. Tests run from the repository root.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/envs/mountain_car.h"
#include "fixture_csv.h"
#include "suites.h"

#define FIXTURE_PATH "tests/fixtures/mountain_car.csv"
#define FIXTURE_HAND_SEED 300 /* HAND_SEED of the generator: the hand-set states */

struct FixtureRow {
    int seed, episode, t;
    int f64; /* the state before the step is reset's float64 one */
    double position, velocity; /* state before the step */
    float obs[2];              /* the observation before the step */
    float action;
    double next_position, next_velocity;
    float next_obs[2];
    double reward; /* Gymnasium's Python float */
    int terminated, truncated;
};

/* The file's columns, in order, and the fields they fill. */
static const FixtureCol COLS[] = {
    FIXTURE_COL("seed", seed, COL_INT),
    FIXTURE_COL("episode", episode, COL_INT),
    FIXTURE_COL("t", t, COL_INT),
    FIXTURE_COL("f64", f64, COL_INT),
    FIXTURE_COL("position", position, COL_F64),
    FIXTURE_COL("velocity", velocity, COL_F64),
    FIXTURE_COL("obs0", obs[0], COL_F32),
    FIXTURE_COL("obs1", obs[1], COL_F32),
    FIXTURE_COL("action", action, COL_F32),
    FIXTURE_COL("next_position", next_position, COL_F64),
    FIXTURE_COL("next_velocity", next_velocity, COL_F64),
    FIXTURE_COL("next_obs0", next_obs[0], COL_F32),
    FIXTURE_COL("next_obs1", next_obs[1], COL_F32),
    FIXTURE_COL("reward", reward, COL_F64),
    FIXTURE_COL("terminated", terminated, COL_INT),
    FIXTURE_COL("truncated", truncated, COL_INT),
};

static Fixture fixture_load(void) {
    return fixture_csv_load(FIXTURE_PATH, COLS, (int)(sizeof COLS / sizeof COLS[0]),
                            sizeof(FixtureRow), "scripts/gen_mountain_car_fixtures.py");
}

/* ---- Gymnasium, step by step ----------------------------------------- */

/* Every row replayed from its recorded state, the first steps from reset's
 * float64 state: everything equal, not close. */
START_TEST(test_step_matches_gymnasium) {
    Fixture f = fixture_load();
    for (int i = 0; i < f.n; i++) {
        const FixtureRow *r = &f.rows[i];
        MountainCar s = {r->position, r->velocity, r->f64, 0};
        float obs[2];
        mountain_car_observe(&s, obs);
        ck_assert_msg(memcmp(obs, r->obs, sizeof obs) == 0,
                      "row %d (seed %d t %d): obs before (%.9g, %.9g), gymnasium (%.9g, %.9g)", i,
                      r->seed, r->t, (double)obs[0], (double)obs[1], (double)r->obs[0],
                      (double)r->obs[1]);
        int term = -1;
        float rew = mountain_car_step(&s, &r->action, &term);
        ck_assert_msg(s.position == r->next_position && s.velocity == r->next_velocity,
                      "row %d (seed %d t %d, f64 %d, action %.9g): next (%.17g, %.17g), "
                      "gymnasium (%.17g, %.17g)",
                      i, r->seed, r->t, r->f64, (double)r->action, s.position, s.velocity,
                      r->next_position, r->next_velocity);
        ck_assert_int_eq(s.f64, 0);
        mountain_car_observe(&s, obs);
        ck_assert_msg(memcmp(obs, r->next_obs, sizeof obs) == 0, "row %d: next obs", i);
        ck_assert_msg(term == r->terminated, "row %d (seed %d t %d): terminated %d, gymnasium %d",
                      i, r->seed, r->t, term, r->terminated);
        double rew64 = mountain_car_reward(r->action, term);
        ck_assert_msg(rew64 == r->reward && rew == (float)r->reward,
                      "row %d: reward %.17g (float %.9g), gymnasium %.17g", i, rew64, (double)rew,
                      r->reward);
    }
    printf("mountain_car: %d gymnasium rows, bit for bit\n", f.n);
    free(f.rows);
}
END_TEST

/* The fixture must still hold what it is there for, or the test above proves
 * little. */
START_TEST(test_fixture_coverage) {
    Fixture f = fixture_load();
    const float wall = (float)MOUNTAIN_CAR_MIN_POSITION, vmax = (float)MOUNTAIN_CAR_MAX_SPEED;
    const float goal = (float)MOUNTAIN_CAR_GOAL_POSITION;
    int term = 0, trunc = 0, clip = 0, unit = 0, first_in = 0, first_clip = 0, hit_wall = 0;
    int vclip_pos = 0, vclip_neg = 0, right_end = 0, goal32 = 0, beyond_left = 0;
    for (int i = 0; i < f.n; i++) {
        const FixtureRow *r = &f.rows[i];
        int clipped = fabsf(r->action) > 1.0f;
        term += r->terminated;
        if (r->truncated) {
            ck_assert_int_eq(r->t, MOUNTAIN_CAR_MAX_STEPS - 1);
            trunc++;
        }
        clip += clipped;
        unit += fabsf(r->action) == 1.0f;
        first_in += r->f64 && !clipped;
        first_clip += r->f64 && clipped;
        hit_wall += r->next_position == wall && r->next_velocity == 0.0 && r->velocity < 0.0;
        vclip_pos += r->next_velocity == vmax;
        vclip_neg += r->next_velocity == -vmax;
        right_end += r->next_position == (float)MOUNTAIN_CAR_MAX_POSITION;
        goal32 += r->next_position == goal && r->terminated;
        beyond_left += r->next_position >= goal && r->next_velocity < 0.0 && !r->terminated;
        ck_assert(r->f64 == (r->t == 0 && r->seed < FIXTURE_HAND_SEED));
    }
    ck_assert_msg(term >= 10 && trunc >= 1, "%d terminated episodes, %d truncated at %d", term,
                  trunc, MOUNTAIN_CAR_MAX_STEPS);
    ck_assert_msg(clip > 100 && unit > 10 && first_in >= 10 && first_clip >= 10,
                  "actions: %d clipped, %d of +-1, first steps %d in range %d clipped", clip, unit,
                  first_in, first_clip);
    ck_assert_msg(hit_wall >= 10 && vclip_pos >= 1 && vclip_neg >= 1 && vclip_pos + vclip_neg >= 10,
                  "%d wall hits, %d + %d at the velocity clip", hit_wall, vclip_pos, vclip_neg);
    /* 0.45f is below 0.45: only the float32 goal test ends that episode */
    ck_assert((double)goal < MOUNTAIN_CAR_GOAL_POSITION);
    ck_assert_msg(right_end >= 1 && goal32 >= 1 && beyond_left >= 1,
                  "%d at the right end, %d on 0.45f, %d beyond the flag moving left", right_end,
                  goal32, beyond_left);
    printf("mountain_car fixture: %d terminated, %d truncated, %d clipped actions, %d first steps, "
           "%d wall hits, %d velocity clips\n",
           term, trunc, clip, first_in + first_clip, hit_wall, vclip_pos + vclip_neg);
    free(f.rows);
}
END_TEST

/* ---- resets and the spec ----------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_reset) {
    enum { N = 4096 };
    double *pos = malloc(sizeof(double) * N);
    ck_assert_ptr_nonnull(pos);
    for (int i = 0; i < N; i++) {
        /* env i % 64 at its reset i / 64 */
        EnvRng rng = env_rng(7, (uint32_t)(i % 64), RNG_RESET, (uint64_t)(i / 64));
        MountainCar s;
        memset(&s, 0xff, sizeof s);
        mountain_car_reset(&s, &rng);
        ck_assert_msg(s.position >= -0.6 && s.position < -0.4, "reset %d: position %.17g", i,
                      s.position);
        ck_assert(s.velocity == 0.0 && s.f64 == 1 && s.pad == 0);
        pos[i] = s.position;
        /* the same (key, stream, counter), the same start */
        EnvRng again = env_rng(7, (uint32_t)(i % 64), RNG_RESET, (uint64_t)(i / 64));
        MountainCar t;
        memset(&t, 0, sizeof t);
        mountain_car_reset(&t, &again);
        ck_assert_mem_eq(&s, &t, sizeof s);
    }
    /* other envs, other resets, another key: other starts */
    EnvRng other = env_rng(8, 0, RNG_RESET, 0);
    MountainCar o;
    mountain_car_reset(&o, &other);
    ck_assert(o.position != pos[0]);
    qsort(pos, N, sizeof(double), cmp_double);
    for (int i = 1; i < N; i++)
        ck_assert_msg(pos[i] != pos[i - 1], "two resets start at %.17g", pos[i]);
    ck_assert(pos[0] < -0.599 && pos[N - 1] > -0.401);
    free(pos);
}
END_TEST

/* Length of an episode from position p0 at rest (a reset's float64 state)
 * under full throttle along the velocity, first_push at rest. */
static int bang_bang_steps(double p0, float first_push) {
    MountainCar s = {p0, 0.0, 1, 0};
    for (int t = 1; t <= MOUNTAIN_CAR_MAX_STEPS; t++) {
        float a = s.velocity > 0.0 ? 1.0f : (s.velocity < 0.0 ? -1.0f : first_push);
        int term;
        mountain_car_step(&s, &a, &term);
        if (term) return t;
    }
    return MOUNTAIN_CAR_MAX_STEPS + 1;
}

/* The spec's lower bound on episode length (its proof is in mountain_car.h)
 * against the fastest controller we know, from 2000 starts across the reset
 * range, pushing either way first. */
START_TEST(test_min_episode_steps) {
    enum { STARTS = 2000 };
    int fastest = MOUNTAIN_CAR_MAX_STEPS + 1;
    double best_p0 = 0.0;
    for (int i = 0; i < STARTS; i++) {
        double p0 = -0.6 + 0.2 * i / (STARTS - 1);
        for (int d = 0; d < 2; d++) {
            int n = bang_bang_steps(p0, d ? 1.0f : -1.0f);
            ck_assert_msg(n <= MOUNTAIN_CAR_MAX_STEPS, "start %.6f: no flag in %d steps", p0,
                          MOUNTAIN_CAR_MAX_STEPS);
            if (n < fastest) fastest = n, best_p0 = p0;
        }
    }
    const EnvSpec *spec = mountain_car_spec();
    ck_assert_msg(fastest >= spec->min_episode_steps,
                  "an episode from %.6f ends after %d steps, min_episode_steps is %d", best_p0,
                  fastest, spec->min_episode_steps);
    printf("mountain_car: fastest bang-bang episode %d steps (from %.4f), bound %d\n", fastest,
           best_p0, spec->min_episode_steps);
}
END_TEST

START_TEST(test_spec) {
    const EnvSpec *spec = mountain_car_spec();
    ck_assert_str_eq(spec->name, "mountain_car");
    ck_assert_str_eq(spec->id, "MountainCarContinuous-v0");
    ck_assert_str_eq(spec->alias, "mountaincar");
    ck_assert_ptr_nonnull(strstr(spec->about, "(solved: 90)"));
    ck_assert_int_eq(spec->obs_dim, MOUNTAIN_CAR_OBS_DIM);
    ck_assert_int_eq(spec->act_dim, 1);
    ck_assert_int_le(spec->act_dim, ENV_MAX_ACT_DIM);
    ck_assert(spec->act_low[0] == -1.0f && spec->act_high[0] == 1.0f);
    ck_assert_int_eq(spec->max_steps, 999);
    ck_assert(spec->min_episode_steps >= 1 && spec->min_episode_steps <= spec->max_steps);
    ck_assert(spec->solved_return == 90.0);
    ck_assert_str_eq(spec->defaults,
                     "noise = ou\nnoise-sigma = 0.5\nactor-lr = 0.001\ncritic-lr = 0.001\n");
    /* plain data without holes: a saved state is its bytes */
    ck_assert_int_eq(spec->fns.state_bytes, (int)sizeof(MountainCar));
    ck_assert_int_eq(sizeof(MountainCar), 2 * sizeof(double) + 2 * sizeof(int));

    /* the type-erased table is the same three functions */
    EnvFns fns = mountain_car_fns();
    ck_assert(fns.reset == spec->fns.reset && fns.step == spec->fns.step &&
              fns.observe == spec->fns.observe && fns.state_bytes == spec->fns.state_bytes);
    EnvRng r1 = env_rng(3, 1, RNG_RESET, 0), r2 = r1;
    MountainCar a, b;
    spec->fns.reset(&a, &r1);
    mountain_car_reset(&b, &r2);
    ck_assert_mem_eq(&a, &b, sizeof a);
    float act = 0.7f, oa[2], ob[2];
    int ta, tb;
    ck_assert(spec->fns.step(&a, &act, &ta) == mountain_car_step(&b, &act, &tb) && ta == tb);
    ck_assert_mem_eq(&a, &b, sizeof a);
    spec->fns.observe(&a, oa);
    mountain_car_observe(&b, ob);
    ck_assert_mem_eq(oa, ob, sizeof oa);

    /* random states: anywhere, float32 values, as after a step */
    ck_assert_ptr_nonnull(spec->random_state);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < 1000; i++) {
        EnvRng r = env_rng(5, (uint32_t)i, RNG_FILL, 0);
        MountainCar s;
        spec->random_state(&s, &r);
        ck_assert(s.f64 == 0 && s.pad == 0);
        ck_assert(s.position == (float)s.position && s.velocity == (float)s.velocity);
        ck_assert(s.position >= (float)MOUNTAIN_CAR_MIN_POSITION &&
                  s.position <= (float)MOUNTAIN_CAR_MAX_POSITION);
        ck_assert(fabs(s.velocity) <= (float)MOUNTAIN_CAR_MAX_SPEED);
        lo = fmin(lo, s.position), hi = fmax(hi, s.position);
    }
    ck_assert(lo < -1.19 && hi > 0.59);
}
END_TEST

Suite *mountain_car_suite(void) {
    Suite *s = suite_create("mountain_car");
    TCase *tc = tcase_create("gymnasium");
    tcase_add_test(tc, test_step_matches_gymnasium);
    tcase_add_test(tc, test_fixture_coverage);
    suite_add_tcase(s, tc);

    tc = tcase_create("env");
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_min_episode_steps);
    tcase_add_test(tc, test_spec);
    suite_add_tcase(s, tc);
    return s;
}
