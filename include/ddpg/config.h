/* config.h - every setting of a run (the options of options.def.h), its
 * defaults, and the command line, --config files and saved text that set it. */
#ifndef DDPG_CONFIG_H
#define DDPG_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "ddpg/backend.h"
#include "ddpg/options.def.h"
#include "ddpg/status.h"

#define DDPG_VERSION "0.1.0"
#define CONFIG_MAX_HIDDEN 8
#define CONFIG_PATH_MAX 1024

/* A Config field of each TYPE of options.def.h. */
#define CONFIG_FIELD_INT(f) int f
#define CONFIG_FIELD_I64(f) int64_t f
#define CONFIG_FIELD_U64(f) uint64_t f
#define CONFIG_FIELD_DBL(f) double f
#define CONFIG_FIELD_FLAG(f) int f
#define CONFIG_FIELD_ENUM(f) int f
#define CONFIG_FIELD_NAME(f) char f[32]
#define CONFIG_FIELD_ENV(f) char f[32]
#define CONFIG_FIELD_PATH(f) char f[CONFIG_PATH_MAX]
#define CONFIG_FIELD_HIDDEN(f) int f[CONFIG_MAX_HIDDEN]; int n_##f
#define CONFIG_FIELD(type, field, ...) CONFIG_FIELD_##type(field);

/* Every setting of a run: one field per option of options.def.h, named
 * there with its type, default, range and meaning (the ENUMs index
 * NOISE_NAMES and ALGO_NAMES). */
typedef struct {
    CONFIG_OPTIONS(CONFIG_FIELD)
    uint64_t set; /* bit i: the command line or --config set option i (OPTIONS[i]) */
} Config;

/* Every field at its default (options.def.h), nothing marked set. */
void config_defaults(Config *c);

/* Parses argv into c: first the file of --config when there is one, then
 * the command line, which wins. Sets *printed to 1 when it printed --help or
 * --version on out (nothing more to do: exit 0), else to 0. On bad input
 * returns STATUS_BAD_INPUT with e's message naming the option (or
 * FILE:LINE). */
Status config_parse(Config *c, int argc, char **argv, FILE *out, int *printed, Error *e);

/* Reads options from path into c, marking them set: "key = value" lines
 * with the long option names ('#' starts a comment; a flag takes true or
 * false), or a run's config.json. STATUS_OK, or STATUS_BAD_INPUT with a
 * message naming path:line. */
Status config_read_file(Config *c, const char *path, Error *e);

/* The environment's own defaults (its spec's "key = value" lines) for the
 * options that neither the command line nor --config set. STATUS_OK, or
 * STATUS_BAD_INPUT (an environment whose defaults name no option). */
Status config_env_defaults(Config *c, Error *e);

/* The defaults that scale with --envs (src/config/scale.c): s gets the
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
 * STATUS_OK, or STATUS_BAD_INPUT with the reason. */
Status config_validate(const Config *c, Error *e);

/* Warns, on warn, about what will not go as the options suggest (no update
 * will ever run, --total-steps not a multiple of --envs, more threads than
 * cores), and rounds total_steps up to whole vectorized steps. */
void config_settle(Config *c, FILE *warn);

void config_print_help(FILE *f);

/* The run's options as command-line words, one per line ("--seed\n42\n..."):
 * every option of scope RUN or RESUMABLE, a flag only when on. What
 * checkpoints store. Returns the length, or -1 when buf is too small. */
int config_to_text(const Config *c, char *buf, size_t len);
/* Defaults, then the words of text (config_to_text's form). STATUS_OK, or
 * STATUS_BAD_INPUT with the reason. */
Status config_from_text(Config *c, const char *text, Error *e);

/* A resumed run's configuration: saved (the checkpoint's) with what the
 * command line cli may change on a resume (the RESUMABLE options, and
 * --quiet). Any RUN option that cli sets to another value than saved's is
 * an error naming both values. STATUS_OK with *merged filled, or
 * STATUS_BAD_INPUT. */
Status config_merge_resume(const Config *saved, const Config *cli, Config *merged, Error *e);

/* The --noise names, indexed by NoiseKind; the --algo names, by Algo. */
extern const char *const NOISE_NAMES[2];
extern const char *const ALGO_NAMES[2];

#endif
