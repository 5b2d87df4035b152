/* config.c - defaults (the notebook's values) and strict command-line parsing. */
#include "ddpg/config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/env.h"
#include "options.h"

void config_defaults(Config *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->env, sizeof c->env, "pendulum");
    c->envs = 1;
    snprintf(c->device, sizeof c->device, "auto");
    c->seed = 42;
    c->total_steps = 15000;
    c->batch_size = 128;
    c->replay_size = 200000;
    c->gamma = 0.99;
    c->tau = 0.005;
    c->actor_lr = 1e-3;
    c->critic_lr = 1e-3;
    c->start_steps = 2000;
    c->update_after = 1000;
    c->updates_per_step = 1;
    c->noise_sigma = 0.1;
    c->noise = NOISE_GAUSSIAN;
    c->ou_theta = 0.15;
    c->hidden[0] = 256;
    c->hidden[1] = 256;
    c->n_hidden = 2;
    c->layer_norm = 0;
    c->algo = ALGO_DDPG;
    c->target_noise = 0.2;   /* Fujimoto et al. 2018 */
    c->target_noise_clip = 0.5;
    c->policy_delay = 2;
    c->grad_clip = 1.0;
    c->probe_n = 32;
    c->probe_every = 5;
    c->eval_every = 1000;
    c->eval_episodes = 10;
    c->threads = 0;
    c->truncation_as_terminal = 0;
    c->quiet = 0;
    c->out[0] = 0;
}

/* OPT_ENUM: an int field holding the index of one of `choices` */
#define F(field) offsetof(Config, field), sizeof(((Config *)0)->field)

/* The tail of an entry: saved in checkpoints, a resume must not change it;
 * saved, a resume may change it; not saved. Then --help's metavar. */
#define RUN SCOPE_RUN, NULL
#define RESUMABLE SCOPE_RESUMABLE, NULL
#define COMMAND(metavar) SCOPE_COMMAND, metavar

const Option OPTIONS[] = {
    {"env", OPT_ENV, F(env), 0, 0, 0, NULL,
     "environment, by name or Gymnasium id (the list and their own defaults: below)",
     SCOPE_RUN, "NAME"},
    {"envs", OPT_INT, F(envs), 1, 16777216, 0, NULL, "environments stepped in lockstep", RUN},
    {"device", OPT_STR, F(device), 0, 0, 0, "auto|cuda|cpu",
     "backend: the GPU when there is one (auto), or force one", RESUMABLE},
    {"seed", OPT_U64, F(seed), 0, 9.2e18, 0, NULL, "random seed", RUN},
    {"total-steps", OPT_I64, F(total_steps), 1, 1e12, 0, NULL,
     "env steps to train, summed over all envs", RESUMABLE},
    {"batch-size", OPT_INT, F(batch_size), 1, 65536, 0, NULL, "minibatch size per update", RUN},
    {"replay-size", OPT_I64, F(replay_size), 1, 1e9, 0, NULL, "replay buffer capacity", RUN},
    {"gamma", OPT_DBL, F(gamma), 0, 1, 0, NULL, "discount factor", RUN},
    {"tau", OPT_DBL, F(tau), 0, 1, 1, NULL, "target network soft-update rate", RUN},
    {"actor-lr", OPT_DBL, F(actor_lr), 0, 1000, 1, NULL, "actor Adam learning rate", RUN},
    {"critic-lr", OPT_DBL, F(critic_lr), 0, 1000, 1, NULL, "critic Adam learning rate", RUN},
    {"start-steps", OPT_I64, F(start_steps), 0, 1e12, 0, NULL,
     "env steps of uniform random actions before the actor acts", RUN},
    {"update-after", OPT_I64, F(update_after), 0, 1e12, 0, NULL,
     "env steps before the first gradient update", RUN},
    {"updates-per-step", OPT_INT, F(updates_per_step), 1, 10000, 0, NULL,
     "gradient updates per vectorized env step", RUN},
    {"noise-sigma", OPT_DBL, F(noise_sigma), 0, 100, 0, NULL,
     "exploration noise std, in action units", RUN},
    {"noise", OPT_ENUM, F(noise), 0, 0, 0, "gaussian|ou",
     "exploration noise process (ou = Ornstein-Uhlenbeck)", RUN},
    {"ou-theta", OPT_DBL, F(ou_theta), 0, 100, 1, NULL, "OU mean-reversion rate", RUN},
    {"hidden", OPT_HIDDEN, F(hidden), 1, 65536, 0, NULL, "hidden layer widths, comma separated",
     RUN},
    {"layer-norm", OPT_FLAG, F(layer_norm), 0, 1, 0, NULL,
     "LayerNorm (learned gain and bias, eps 1e-5) after each hidden linear layer, before its "
     "ReLU, in the actor and the critics", RUN},
    {"algo", OPT_ENUM, F(algo), 0, 0, 0, "ddpg|td3",
     "ddpg, or td3 (Fujimoto et al. 2018: twin critics, target policy smoothing, delayed "
     "actor and target updates)", RUN},
    {"target-noise", OPT_DBL, F(target_noise), 0, 10, 0, NULL,
     "td3: std of the noise on the target action, for an action bound of 1 (scaled to each "
     "dimension's half range)", RUN},
    {"target-noise-clip", OPT_DBL, F(target_noise_clip), 0, 10, 1, NULL,
     "td3: that noise is clipped to +- this, for an action bound of 1", RUN},
    {"policy-delay", OPT_INT, F(policy_delay), 1, 1000, 0, NULL,
     "td3: critic updates per actor and target update", RUN},
    {"grad-clip", OPT_DBL, F(grad_clip), 0, 1e9, 0, NULL,
     "clip each network's gradient to this global L2 norm (0 = off)", RUN},
    {"probe-n", OPT_INT, F(probe_n), 0, 4096, 0, NULL, "fixed probe states (0 = off)", RUN},
    {"probe-every", OPT_INT, F(probe_every), 1, 1000000000, 0, NULL,
     "probe snapshot every this many finished episodes", RUN},
    {"eval-every", OPT_I64, F(eval_every), 0, 1e12, 0, NULL,
     "env steps between deterministic evaluations (0 = off)", RUN},
    {"eval-episodes", OPT_INT, F(eval_episodes), 1, 4096, 0, NULL, "episodes per evaluation",
     RUN},
    {"threads", OPT_INT, F(threads), 0, 1024, 0, NULL,
     "CPU threads for the cpu device (0 = one per core)", RESUMABLE},
    {"truncation-as-terminal", OPT_FLAG, F(truncation_as_terminal), 0, 1, 0, NULL,
     "store done = terminated or truncated, as the notebook does (for comparison)", RUN},
    {"stop-when-solved", OPT_FLAG, F(stop_when_solved), 0, 1, 0, NULL,
     "end the run at the first evaluation whose mean return reaches the environment's "
     "solved threshold", RUN},
    {"quiet", OPT_FLAG, F(quiet), 0, 1, 0, NULL, "no progress lines", COMMAND(NULL)},
    {"out", OPT_STR, F(out), 0, 0, 0, NULL, "run directory to write (created if missing)",
     COMMAND("DIR")},
    {"save-every", OPT_I64, F(save_every), 0, 1e12, 0, NULL,
     "env steps between checkpoints in DIR/checkpoint.bin (0 = at the end and on a signal "
     "only)", RESUMABLE},
    {"save-replay", OPT_FLAG, F(save_replay), 0, 1, 0, NULL,
     "checkpoints hold the replay buffer too (for an exact resume)", RESUMABLE},
    {"resume", OPT_STR, F(resume), 0, 0, 0, NULL,
     "continue the run in DIR from its checkpoint, with its configuration", COMMAND("DIR")},
    {"eval-only", OPT_STR, F(eval_only), 0, 0, 0, NULL,
     "evaluate the actor of checkpoint PATH (--eval-episodes, --seed), print JSON, exit",
     COMMAND("PATH")},
    {"overwrite", OPT_FLAG, F(overwrite), 0, 1, 0, NULL,
     "replace the run in --out (only the files this program writes are removed)",
     COMMAND(NULL)},
    {"no-out", OPT_FLAG, F(no_out), 0, 1, 0, NULL,
     "keep nothing: no run directory (without --out a run goes to "
     "runs/<date>-<time>-<env>-s<seed>)", COMMAND(NULL)},
    {"config", OPT_STR, F(config_file), 0, 0, 0, NULL,
     "read options from FILE first (key = value lines, or a run's config.json); the "
     "command line wins", COMMAND("FILE")},
};
const size_t N_OPTIONS = sizeof OPTIONS / sizeof OPTIONS[0];
_Static_assert(sizeof OPTIONS / sizeof OPTIONS[0] <= 64, "Config.set has one bit per option");

const char *const NOISE_NAMES[2] = {"gaussian", "ou"};
const char *const ALGO_NAMES[2] = {"ddpg", "td3"};

const Option *option_find(const char *name) {
    for (size_t k = 0; k < N_OPTIONS; k++)
        if (strcmp(OPTIONS[k].name, name) == 0) return &OPTIONS[k];
    return NULL;
}


void option_default_text(const Option *o, const Config *d, char *buf, size_t len) {
    const char *p = (const char *)d + o->offset;
    switch (o->type) {
    case OPT_INT: snprintf(buf, len, "%d", *(const int *)p); break;
    case OPT_I64: snprintf(buf, len, "%lld", (long long)*(const int64_t *)p); break;
    case OPT_U64: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case OPT_DBL: snprintf(buf, len, "%g", *(const double *)p); break;
    case OPT_STR: case OPT_ENV: snprintf(buf, len, "%s", *p ? p : "none"); break;
    case OPT_ENUM: {
        const char *s = o->choices;
        for (int i = *(const int *)p; i > 0 && *s; i--) s += strcspn(s, "|") + 1;
        snprintf(buf, len, "%.*s", (int)strcspn(s, "|"), s);
        break;
    }
    case OPT_FLAG: snprintf(buf, len, "off"); break;
    case OPT_HIDDEN: {
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; i < d->n_hidden && k < len; i++)
            k += (size_t)snprintf(buf + k, len - k, i ? ",%d" : "%d", d->hidden[i]);
        break;
    }
    }
}

void option_range_text(const Option *o, char *buf, size_t len) {
    if (o->type == OPT_DBL)
        snprintf(buf, len, "%s%g, %g]", o->lo_open ? "(" : "[", o->lo, o->hi);
    else
        snprintf(buf, len, "%s%.0f, %.0f]", o->lo_open ? "(" : "[", o->lo, o->hi);
}

/* The index of v among "a|b|c", or -1 (also when choices is NULL). */
static int choice_index(const char *choices, const char *v) {
    size_t vl = strlen(v);
    for (int i = 0; choices && *choices; i++) {
        size_t l = strcspn(choices, "|");
        if (l == vl && strncmp(choices, v, l) == 0) return i;
        choices += l + (choices[l] == '|');
    }
    return -1;
}

int option_parse(Config *c, const Option *o, const char *v, FILE *err) {
    char *p = (char *)c + o->offset;
    char range[64];
    option_range_text(o, range, sizeof range);
    if (o->type == OPT_ENV) { /* stored as the environment's alias */
        const EnvSpec *spec = env_find(v);
        if (!spec) {
            fprintf(err, "error: --%s: '%s' is not an environment (", o->name, v);
            for (int i = 0; env_at(i); i++)
                fprintf(err, "%s%s or %s", i ? ", " : "", env_at(i)->alias, env_at(i)->id);
            fprintf(err, ")\n");
            return 2;
        }
        snprintf(p, o->size, "%s", spec->alias);
        return 0;
    }
    if (o->type == OPT_STR || o->type == OPT_ENUM) {
        int index = choice_index(o->choices, v);
        if (o->choices && index < 0) {
            fprintf(err, "error: --%s: '%s' is not one of %s\n", o->name, v, o->choices);
            return 2;
        }
        if (o->type == OPT_ENUM) {
            *(int *)p = index;
            return 0;
        }
        if (*v == 0) {
            fprintf(err, "error: --%s: empty value\n", o->name);
            return 2;
        }
        if (strlen(v) >= o->size) {
            fprintf(err, "error: --%s: value longer than %zu characters\n", o->name,
                    o->size - 1);
            return 2;
        }
        memcpy(p, v, strlen(v) + 1);
        return 0;
    }
    if (o->type == OPT_HIDDEN) {
        int n = 0, vals[CONFIG_MAX_HIDDEN];
        const char *s = v;
        while (1) {
            char *end;
            errno = 0;
            long x = strtol(s, &end, 10);
            if (end == s || errno || x < (long)o->lo || x > (long)o->hi ||
                (*end != ',' && *end != 0)) {
                fprintf(err,
                        "error: --hidden: '%s' is not a comma-separated list of widths, "
                        "each in [1, 65536]\n",
                        v);
                return 2;
            }
            if (n == CONFIG_MAX_HIDDEN) {
                fprintf(err, "error: --hidden: at most %d hidden layers\n", CONFIG_MAX_HIDDEN);
                return 2;
            }
            vals[n++] = (int)x;
            if (*end == 0) break;
            s = end + 1;
        }
        memcpy(c->hidden, vals, sizeof(int) * n);
        c->n_hidden = n;
        return 0;
    }
    char *end;
    errno = 0;
    double x;
    if (o->type == OPT_DBL) {
        x = strtod(v, &end);
    } else {
        /* integers: digits only (strtod would accept 1e3 and 1.5) */
        const char *q = v;
        if (*q == '+' || *q == '-') q++;
        if (!*q || strspn(q, "0123456789") != strlen(q)) {
            fprintf(err, "error: --%s: '%s' is not an integer in %s\n", o->name, v, range);
            return 2;
        }
        x = strtod(v, &end);
    }
    if (end == v || *end != 0 || errno || !isfinite(x)) {
        fprintf(err, "error: --%s: '%s' is not a number in %s\n", o->name, v, range);
        return 2;
    }
    if (x < o->lo || x > o->hi || (o->lo_open && x <= o->lo)) {
        fprintf(err, "error: --%s: %s is out of range %s\n", o->name, v, range);
        return 2;
    }
    switch (o->type) {
    case OPT_INT: *(int *)p = (int)x; break;
    case OPT_I64: *(int64_t *)p = strtoll(v, NULL, 10); break;
    case OPT_U64: *(uint64_t *)p = strtoull(v, NULL, 10); break;
    default: *(double *)p = x; break;
    }
    return 0;
}

/* The value of --config in argv (the last one), or NULL. */
static const char *config_file_arg(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--config=", 9) == 0) path = argv[i] + 9;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) path = argv[++i];
    }
    return path;
}

int config_parse(Config *c, int argc, char **argv, FILE *out, FILE *err) {
    const char *file = config_file_arg(argc, argv);
    if (file && *file && config_read_file(c, file, err)) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            config_print_help(out);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            fprintf(out, "ddpg_cuda %s\n", DDPG_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(err, "error: unexpected argument '%s' (options start with --; see --help)\n",
                    a);
            return 2;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a + 2, nl);
        name[nl] = 0;
        const Option *o = option_find(name);
        if (!o) {
            fprintf(err, "error: unknown option '--%s' (see --help)\n", name);
            return 2;
        }
        option_mark_set(c, o);
        if (o->type == OPT_FLAG) {
            if (eq) {
                fprintf(err, "error: --%s takes no value\n", o->name);
                return 2;
            }
            *(int *)((char *)c + o->offset) = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) {
            fprintf(err, "error: --%s needs a value (see --help)\n", o->name);
            return 2;
        }
        if (o->type == OPT_STR && !o->choices && strncmp(v, "--", 2) == 0) {
            fprintf(err, "error: --%s %s: a path that starts with -- (is the value of --%s "
                         "missing?)\n", o->name, v, o->name);
            return 2;
        }
        int rc = option_parse(c, o, v, err);
        if (rc) return rc;
    }
    return 0;
}

int config_env_defaults(Config *c, FILE *err) {
    const EnvSpec *spec = env_find(c->env);
    if (!spec) {
        fprintf(err, "error: --env: '%s' is not an environment\n", c->env);
        return 2;
    }
    for (const char *line = spec->defaults; line && *line;) {
        size_t len = strcspn(line, "\n");
        char key[64], value[256];
        /* "key = value": the environment's own text, checked by the tests */
        if (sscanf(line, " %63[^= \n] = %255[^\n]", key, value) == 2) {
            const Option *o = option_find(key);
            if (!o) {
                fprintf(err, "error: %s's defaults: unknown option '%s'\n", spec->id, key);
                return 2;
            }
            if (!option_was_set(c, o) && option_parse(c, o, value, err)) return 2;
        }
        line += len + (line[len] == '\n');
    }
    return 0;
}

/* o's value in c as its command line takes it, exactly ("%.17g" for reals);
 * a flag is "on" or "off". */
void option_value_text(const Option *o, const Config *c, char *buf, size_t len) {
    const char *p = (const char *)c + o->offset;
    if (o->type == OPT_DBL)
        snprintf(buf, len, "%.17g", *(const double *)p);
    else if (o->type == OPT_FLAG)
        snprintf(buf, len, "%s", *(const int *)p ? "on" : "off");
    else if (o->type == OPT_STR || o->type == OPT_ENV)
        snprintf(buf, len, "%s", p);
    else
        option_default_text(o, c, buf, len);
}

int config_validate(const Config *c, FILE *err) {
    const char *paths[][2] = {{"out", c->out},
                              {"resume", c->resume},
                              {"eval-only", c->eval_only},
                              {"config", c->config_file}};
    for (int i = 0; i < 4; i++)
        if (strncmp(paths[i][1], "--", 2) == 0) {
            fprintf(err, "error: --%s %s: a path that starts with -- (is the value of --%s "
                         "missing?)\n", paths[i][0], paths[i][1], paths[i][0]);
            return 2;
        }
    const char *why = NULL;
    if (c->n_hidden < 1) why = "--hidden: at least one hidden layer";
    else if (c->batch_size > c->replay_size)
        why = "--batch-size is larger than --replay-size: no batch could ever be sampled";
    else if (c->stop_when_solved && c->eval_every == 0)
        why = "--stop-when-solved needs evaluations: --eval-every 0 turns them off";
    else if (c->resume[0] && c->eval_only[0]) why = "--resume and --eval-only: one at a time";
    else if (c->no_out && (c->out[0] || c->resume[0]))
        why = "--no-out and a run directory (--out or --resume): one or the other";
    else if (c->overwrite && c->resume[0])
        why = "--overwrite and --resume: a resumed run keeps what its directory holds";
    else if (c->overwrite && !c->out[0]) why = "--overwrite: which run? (--out DIR)";
    else if (c->resume[0] && c->out[0] && strcmp(c->out, c->resume) != 0)
        why = "--out: a resumed run writes to its own directory (--resume DIR)";
    if (why) {
        fprintf(err, "error: %s\n", why);
        return 2;
    }
    return 0;
}

void config_settle(Config *c, FILE *err) {
    int64_t vec = (c->total_steps + c->envs - 1) / c->envs, total = vec * c->envs;
    if (total != c->total_steps)
        fprintf(err, "warning: --total-steps %lld is not a multiple of --envs %d: the run takes "
                "%lld env steps (%lld vectorized step%s)\n", (long long)c->total_steps, c->envs,
                (long long)total, (long long)vec, vec == 1 ? "" : "s");
    c->total_steps = total;
    int64_t fill = total < c->replay_size ? total : c->replay_size;
    if (c->update_after > total || c->batch_size > fill)
        fprintf(err, "warning: no gradient update will run: %s\n",
                c->update_after > total ? "--update-after is beyond --total-steps"
                                        : "the replay never holds a batch (--batch-size)");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (c->threads > 0 && cores > 0 && c->threads > cores)
        fprintf(err, "warning: --threads %d on %ld cores: threads will wait for each other\n",
                c->threads, cores);
}
