/* scale.c - the defaults that scale with --envs.
 *
 * At one environment every default is the notebook's. With many, each
 * vectorized step brings --envs transitions, and what decides the wall time
 * is the number of gradient updates to learn (on the GPU an update costs far
 * more than a step of 256 envs). The values below were chosen by measuring
 * updates to solve Pendulum-v1 on 3-4 seeds per candidate, then checked on
 * 10 seeds by bench/solve_study.sh (bench/results/solve_study_2026-11-30.md):
 *
 *  - a larger batch, a faster target (tau) and larger learning rates: fewer
 *    updates, each one from a fresher, more varied batch;
 *  - one update per 64 env steps at least once --envs passes 64: at 256
 *    envs, 4 updates per step solved in fewer updates than 1 (and in a
 *    quarter of the env steps), and 4096 envs need no more env steps than 256;
 *  - the replay holds at least 250 vectorized steps; random actions and
 *    the first update wait at least as many env steps as at one env, and at
 *    least 8 and 4 vectorized steps (docs/scaling.md gives the formulas);
 *  - the evaluation runs about every 50 updates, with min(envs, 100)
 *    episodes: 10 fixed start states decide "solved" by their luck (one
 *    seed's 10 were all hard: its policy scored -206 on them and -156 on 100).
 *    An environment with longer episodes evaluates as much less often
 *    (MountainCar's 999 steps: every 250 updates), so that evaluating stays a
 *    small part of the run (what it cost at 256 envs:
 *    bench/results/code_comment_figures.md).
 *
 * A value set on the command line, in --config or by the environment wins. */
#include <stdio.h>
#include <string.h>

#include "ddpg/config.h"
#include "ddpg/env.h"
#include "ddpg/options.h"

/* batch, tau and learning rates by tier: the row of the largest min_envs at
 * or below --envs */
typedef struct {
    int min_envs, batch;
    double tau, lr;
} Tier;

static const Tier TIERS[] = {
    {1, 128, 0.005, 1e-3}, /* the notebook */
    {16, 512, 0.05, 5e-3},
};

static const char *const SCALED[] = {"batch-size",  "updates-per-step", "tau",
                                     "actor-lr",    "critic-lr",        "replay-size",
                                     "start-steps", "update-after",     "eval-every",
                                     "eval-episodes"};
#define N_SCALED (sizeof SCALED / sizeof SCALED[0])

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Env steps between evaluations, at least the notebook's 1000: about 50
 * updates for episodes of up to 200 steps (Pendulum's), proportionally more
 * for longer ones. */
static int64_t eval_every_for(int envs, int updates_per_step, int max_steps) {
    int64_t updates = max_steps > 200 ? (50 * (int64_t)max_steps + 199) / 200 : 50;
    return max64(1000, updates * envs / updates_per_step);
}

/* The time limit of c's environment (200 when it is unknown). */
static int env_max_steps(const Config *c) {
    const EnvSpec *e = env_find(c->env);
    return e ? e->max_steps : 200;
}

/* Holds a scaled value inside its option's accepted range, so that the
 * configuration is one the command line could give (a checkpoint saves it as
 * command-line words). */
static void clamp_to_range(Config *s, const Option *o) {
    char *p = (char *)s + o->offset;
    switch (o->type) {
    case OPT_INT: if (*(int *)p > o->hi) *(int *)p = (int)o->hi; break;
    case OPT_I64: if (*(int64_t *)p > o->hi) *(int64_t *)p = (int64_t)o->hi; break;
    case OPT_DBL: if (*(double *)p > o->hi) *(double *)p = o->hi; break;
    default: break;
    }
}

void config_scaled_values(int envs, Config *s) {
    config_defaults(s);
    if (envs < 1) envs = 1;
    s->envs = envs;
    const Tier *t = &TIERS[0];
    for (size_t i = 0; i < sizeof TIERS / sizeof TIERS[0]; i++)
        if (envs >= TIERS[i].min_envs) t = &TIERS[i];
    s->batch_size = t->batch;
    s->tau = t->tau;
    s->actor_lr = s->critic_lr = t->lr;
    s->updates_per_step = envs > 64 ? (envs + 63) / 64 : 1;
    s->replay_size = max64(s->replay_size, 250 * (int64_t)envs);
    s->start_steps = max64(s->start_steps, 8 * (int64_t)envs);
    s->update_after = max64(s->update_after, 4 * (int64_t)envs);
    s->eval_every = eval_every_for(envs, s->updates_per_step, env_max_steps(s));
    s->eval_episodes = envs < s->eval_episodes ? s->eval_episodes : envs < 100 ? envs : 100;
    for (size_t i = 0; i < N_SCALED; i++) clamp_to_range(s, option_find(SCALED[i]));
}

void config_scale_defaults(Config *c) {
    Config s;
    config_scaled_values(c->envs, &s);
    for (size_t i = 0; i < N_SCALED; i++) {
        const Option *o = option_find(SCALED[i]);
        if (!option_was_set(c, o)) memcpy((char *)c + o->offset, (char *)&s + o->offset, o->size);
    }
    /* the evaluation's cadence follows the updates per step the run will use */
    const Option *every = option_find("eval-every");
    if (!option_was_set(c, every)) {
        c->eval_every = eval_every_for(c->envs, c->updates_per_step, env_max_steps(c));
        clamp_to_range(c, every);
    }
    /* a replay the user made small still holds a batch */
    if (!option_was_set(c, option_find("batch-size")) && c->batch_size > c->replay_size)
        c->batch_size = (int)c->replay_size;
}

void config_print_scaled(FILE *f) {
    static const int AT[] = {1, 16, 256, 4096};
    fprintf(f, "\ndefaults that scale with --envs (unless the command line, --config or the "
               "environment\nsets them; batch, tau and the learning rates are the notebook's "
               "below %d envs and\nthe %d column's from there, the others follow --envs; the "
               "evaluations are Pendulum's,\nan environment with longer episodes evaluates "
               "as much less often):\n",
            TIERS[1].min_envs, TIERS[1].min_envs);
    fprintf(f, "  %-20s", "--envs");
    for (size_t j = 0; j < sizeof AT / sizeof AT[0]; j++) fprintf(f, " %10d", AT[j]);
    fprintf(f, "\n");
    for (size_t i = 0; i < N_SCALED; i++) {
        const Option *o = option_find(SCALED[i]);
        fprintf(f, "  --%-18s", o->name);
        for (size_t j = 0; j < sizeof AT / sizeof AT[0]; j++) {
            Config s;
            char v[64];
            config_scaled_values(AT[j], &s);
            option_default_text(o, &s, v, sizeof v);
            fprintf(f, " %10s", v);
        }
        fprintf(f, "\n");
    }
}
