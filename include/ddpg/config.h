/* config.h - every setting of a run, its default and its command-line parsing. */
#ifndef DDPG_CONFIG_H
#define DDPG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "ddpg/backend.h"

#define DDPG_VERSION "0.1.0"
#define CONFIG_MAX_HIDDEN 8

typedef struct {
    char env[32];          /* --env: the environment's alias (pendulum, mountaincar) */
    int envs;              /* --envs: environments stepped in lockstep */
    char device[8];        /* --device: auto | cuda | cpu */
    uint64_t seed;         /* --seed */
    int64_t total_steps;   /* --total-steps: env steps summed over all envs */
    int batch_size;        /* --batch-size: minibatch per gradient update */
    int64_t replay_size;   /* --replay-size: replay capacity in transitions */
    double gamma;          /* --gamma: discount */
    double tau;            /* --tau: Polyak rate of the target networks */
    double actor_lr;       /* --actor-lr: Adam step size, actor */
    double critic_lr;      /* --critic-lr: Adam step size, critic */
    int64_t start_steps;   /* --start-steps: uniform random actions before this */
    int64_t update_after;  /* --update-after: no gradient updates before this */
    int updates_per_step;  /* --updates-per-step: updates per vectorized step */
    double noise_sigma;    /* --noise-sigma: exploration std in action units */
    NoiseKind noise;       /* --noise: gaussian | ou */
    double ou_theta;       /* --ou-theta: OU mean reversion rate */
    int hidden[CONFIG_MAX_HIDDEN]; /* --hidden: hidden layer widths */
    int n_hidden;
    int layer_norm;        /* --layer-norm: LayerNorm after each hidden linear layer */
    int algo;              /* --algo: ALGO_DDPG | ALGO_TD3 */
    double target_noise;   /* --target-noise: TD3's target smoothing std (a bound of 1) */
    double target_noise_clip; /* --target-noise-clip: ... and its clip */
    int policy_delay;      /* --policy-delay: TD3's critic updates per actor update */
    double grad_clip;      /* --grad-clip: global-norm clip per network, 0 = off */
    int probe_n;           /* --probe-n: fixed probe states, 0 = off */
    int probe_every;       /* --probe-every: snapshot every this many episodes */
    int64_t eval_every;    /* --eval-every: env steps between evaluations, 0 = off */
    int eval_episodes;     /* --eval-episodes: episodes per evaluation */
    int threads;           /* --threads: CPU backend threads, 0 = one per core */
    int truncation_as_terminal; /* --truncation-as-terminal: the notebook's done bug */
    int stop_when_solved;  /* --stop-when-solved: end at the first eval at or above the
                              environment's threshold (Pendulum: -200) */
    int quiet;             /* --quiet: no progress lines */
    char out[1024];        /* --out: run directory ("" = none) */
    int64_t save_every;    /* --save-every: env steps between checkpoints, 0 = at the end only */
    int save_replay;       /* --save-replay: checkpoints hold the replay ring */
    char resume[1024];     /* --resume: continue the run in this directory ("" = no) */
    char eval_only[1024];  /* --eval-only: evaluate this checkpoint's actor ("" = no) */
    int overwrite;         /* --overwrite: replace the run in --out */
    int no_out;            /* --no-out: no run directory at all */
    char config_file[1024]; /* --config: options read from this file first */
    uint64_t set;          /* bit i: the command line set option i (config.c's table) */
} Config;

void config_defaults(Config *c);

/* Parses argv into c: first the file of --config when there is one, then
 * the command line, which wins. Returns 0 to run, 1 when --help/--version
 * was printed (exit 0), 2 on bad input after printing a message naming the
 * option (or FILE:LINE) to err. */
int config_parse(Config *c, int argc, char **argv, FILE *out, FILE *err);

/* Reads options from path into c, marking them set: "key = value" lines
 * with the long option names ('#' starts a comment; a flag takes true or
 * false), or a run's config.json. 0, or 2 after a message naming
 * path:line. */
int config_read_file(Config *c, const char *path, FILE *err);

/* The environment's own defaults (its spec's "key = value" lines) for the
 * options that neither the command line nor --config set. 0, or 2 after a
 * message (an environment whose defaults name no option). */
int config_env_defaults(Config *c, FILE *err);

/* The defaults that scale with --envs (src/config_scale.c): s gets the
 * defaults of a run of `envs` environments (at 1, the notebook's). */
void config_scaled_values(int envs, Config *s);
/* Sets those of them that neither the command line nor --config set, from
 * c->envs. Called before config_env_defaults: an environment's own
 * defaults win over the scaled ones. */
void config_scale_defaults(Config *c);
/* --help's table of the scaled defaults at 1, 16, 256 and 4096 envs. */
void config_print_scaled(FILE *f);

/* Refuses what can never run as asked (a batch larger than the replay,
 * --stop-when-solved without evaluations, a path that starts with --, ...):
 * 0, or 2 after a message. */
int config_validate(const Config *c, FILE *err);

/* Warns, on err, about what will not go as the options suggest (no update
 * will ever run, --total-steps not a multiple of --envs, more threads than
 * cores), and rounds total_steps up to whole vectorized steps. */
void config_settle(Config *c, FILE *err);

void config_print_help(FILE *f);


/* The run's options as command-line words, one per line ("--seed\n42\n..."):
 * every option but --out, --resume, --eval-only and --quiet. What
 * checkpoints store. Returns the length, or -1 when buf is too small. */
int config_to_text(const Config *c, char *buf, size_t len);
/* Defaults, then the words of text (config_to_text's form). 0, or 2 after
 * a message to err. */
int config_from_text(Config *c, const char *text, FILE *err);

/* A resumed run's configuration: saved (the checkpoint's) with what the
 * command line cli may change on a resume (--total-steps, --device,
 * --threads, --save-every, --save-replay, --quiet). Any other option that
 * cli sets to another value than saved's is an error naming both values
 * (exit 2). Returns 0 with *merged filled, or 2. */
int config_merge_resume(const Config *saved, const Config *cli, Config *merged, FILE *err);

/* The --noise names, indexed by NoiseKind; the --algo names, by Algo. */
extern const char *const NOISE_NAMES[2];
extern const char *const ALGO_NAMES[2];

#endif
