/* config.c - defaults (the notebook's values) and strict command-line parsing. */
#include "ddpg/config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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
typedef enum {
    OPT_INT, OPT_I64, OPT_U64, OPT_DBL, OPT_STR, OPT_ENUM, OPT_HIDDEN, OPT_FLAG
} OptType;

const char *const NOISE_NAMES[2] = {"gaussian", "ou"};

/* What an option is to a checkpoint (the text of config_to_text): RUN
 * options are saved and a resumed run must not contradict them; RESUMABLE
 * ones are saved but a resume may change them; COMMAND ones are not saved. */
typedef enum { SCOPE_RUN = 0, SCOPE_RESUMABLE, SCOPE_COMMAND } Scope;

typedef struct {
    const char *name;
    OptType type;
    size_t offset;
    size_t size;    /* OPT_STR: buffer size */
    double lo, hi;  /* accepted range (inclusive unless *_open) */
    int lo_open;    /* 1: lo excluded */
    const char *choices; /* OPT_STR, OPT_ENUM: "a|b|c", NULL = free text */
    const char *help;
    Scope scope;         /* SCOPE_RUN unless given */
    const char *metavar; /* --help's word for the value; NULL: N, or DIR for text */
} Option;

#define F(field) offsetof(Config, field), sizeof(((Config *)0)->field)

/* The tail of an entry: saved in checkpoints, a resume must not change it;
 * saved, a resume may change it; not saved. Then --help's metavar. */
#define RUN SCOPE_RUN, NULL
#define RESUMABLE SCOPE_RESUMABLE, NULL
#define COMMAND(metavar) SCOPE_COMMAND, metavar

static const Option OPTIONS[] = {
    {"env", OPT_STR, F(env), 0, 0, 0, "pendulum|Pendulum-v1", "environment (Pendulum-v1)", RUN},
    {"envs", OPT_INT, F(envs), 1, 16777216, 0, NULL, "environments stepped in lockstep", RUN},
    {"device", OPT_STR, F(device), 0, 0, 0, "auto|cuda|cpu",
     "backend: the GPU when there is one (auto), or force one", RESUMABLE},
    {"seed", OPT_U64, F(seed), 0, 9.2e18, 0, NULL, "random seed", RUN},
    {"total-steps", OPT_I64, F(total_steps), 1, 1e12, 0, NULL,
     "env steps to train, summed over all envs", RESUMABLE},
    {"batch-size", OPT_INT, F(batch_size), 1, 65536, 0, NULL, "minibatch size per update", RUN},
    {"replay-size", OPT_I64, F(replay_size), 1, 1e9, 0, NULL, "replay buffer capacity", RUN},
    {"gamma", OPT_DBL, F(gamma), 0, 1, 0, NULL, "discount factor", RUN},
    {"tau", OPT_DBL, F(tau), 0, 1, 1, NULL, "target network soft-update rate, in (0, 1]", RUN},
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
    {"hidden", OPT_HIDDEN, F(hidden), 1, 65536, 0, NULL,
     "hidden layer widths, comma separated, 1 to 8 layers", RUN},
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
     "end the run at the first evaluation with mean return >= -200", RUN},
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
};
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])
_Static_assert(N_OPTIONS <= 64, "Config.set has one bit per option");

static void default_string(const Option *o, const Config *d, char *buf, size_t len) {
    const char *p = (const char *)d + o->offset;
    switch (o->type) {
    case OPT_INT: snprintf(buf, len, "%d", *(const int *)p); break;
    case OPT_I64: snprintf(buf, len, "%lld", (long long)*(const int64_t *)p); break;
    case OPT_U64: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case OPT_DBL: snprintf(buf, len, "%g", *(const double *)p); break;
    case OPT_STR: snprintf(buf, len, "%s", *p ? p : "none"); break;
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

void config_print_help(FILE *f) {
    Config d;
    config_defaults(&d);
    fprintf(f,
            "ddpg_cuda %s - DDPG (Lillicrap et al. 2015) on vectorized Pendulum-v1\n\n"
            "usage: ddpg_cuda [options]\n\noptions (default in brackets):\n",
            DDPG_VERSION);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        char def[64], left[96];
        default_string(o, &d, def, sizeof def);
        if (o->type == OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name,
                     o->choices ? o->choices : o->metavar ? o->metavar : "N");
        fprintf(f, "  %-28s %s [%s]\n", left, o->help, def);
    }
    fprintf(f, "  %-28s %s\n  %-28s %s\n", "--help", "this text", "--version",
            "print the version");
}

/* Range text for messages, e.g. "[1, 65536]" or "(0, 1]". */
static void range_text(const Option *o, char *buf, size_t len) {
    snprintf(buf, len, "%s%g, %g]", o->lo_open ? "(" : "[", o->lo, o->hi);
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

static int parse_value(Config *c, const Option *o, const char *v, FILE *err) {
    char *p = (char *)c + o->offset;
    char range[64];
    range_text(o, range, sizeof range);
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

int config_parse(Config *c, int argc, char **argv, FILE *out, FILE *err) {
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
        const Option *o = NULL;
        for (size_t k = 0; k < N_OPTIONS; k++)
            if (strcmp(OPTIONS[k].name, name) == 0) o = &OPTIONS[k];
        if (!o) {
            fprintf(err, "error: unknown option '--%s' (see --help)\n", name);
            return 2;
        }
        c->set |= 1ull << (o - OPTIONS);
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
        int rc = parse_value(c, o, v, err);
        if (rc) return rc;
    }
    return 0;
}

/* o's value in c as its command line takes it, exactly ("%.17g" for reals);
 * a flag is "on" or "off". */
static void value_text(const Option *o, const Config *c, char *buf, size_t len) {
    const char *p = (const char *)c + o->offset;
    if (o->type == OPT_DBL)
        snprintf(buf, len, "%.17g", *(const double *)p);
    else if (o->type == OPT_FLAG)
        snprintf(buf, len, "%s", *(const int *)p ? "on" : "off");
    else if (o->type == OPT_STR)
        snprintf(buf, len, "%s", p);
    else
        default_string(o, c, buf, len);
}

int config_to_text(const Config *c, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        char v[1100];
        value_text(o, c, v, sizeof v);
        if (o->scope == SCOPE_COMMAND || (o->type == OPT_FLAG && strcmp(v, "off") == 0))
            continue;
        int n = o->type == OPT_FLAG ? snprintf(buf + k, len - k, "--%s\n", o->name)
                                    : snprintf(buf + k, len - k, "--%s\n%s\n", o->name, v);
        if (n < 0 || (size_t)n >= len - k) return -1;
        k += (size_t)n;
    }
    return (int)k;
}

int config_from_text(Config *c, const char *text, FILE *err) {
    enum { MAX_WORDS = 2 * 64 + 1 };
    char *copy = strdup(text), *argv[MAX_WORDS];
    if (!copy) {
        fprintf(err, "error: out of host memory\n");
        return 2;
    }
    int argc = 0;
    argv[argc++] = "ddpg_cuda";
    for (char *w = strtok(copy, "\n"); w; w = strtok(NULL, "\n")) {
        if (argc == MAX_WORDS) {
            fprintf(err, "error: the saved configuration has too many words\n");
            free(copy);
            return 2;
        }
        argv[argc++] = w;
    }
    config_defaults(c);
    int rc = config_parse(c, argc, argv, err, err);
    c->set = 0;
    free(copy);
    return rc == 0 ? 0 : 2;
}

int config_merge_resume(const Config *saved, const Config *cli, Config *merged, FILE *err) {
    *merged = *saved;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        if (!(cli->set >> i & 1) || o->scope == SCOPE_COMMAND) continue;
        if (o->scope == SCOPE_RESUMABLE) { /* the command line's value */
            memcpy((char *)merged + o->offset, (const char *)cli + o->offset, o->size);
            continue;
        }
        char a[1100], b[1100];
        value_text(o, saved, a, sizeof a);
        value_text(o, cli, b, sizeof b);
        if (strcmp(a, b) != 0) {
            fprintf(err, "error: --%s %s contradicts the checkpoint's --%s %s (a resumed run "
                         "keeps its configuration)\n", o->name, b, o->name, a);
            return 2;
        }
    }
    merged->quiet = cli->quiet;
    snprintf(merged->resume, sizeof merged->resume, "%s", cli->resume);
    snprintf(merged->out, sizeof merged->out, "%s", cli->resume);
    merged->set = cli->set;
    return 0;
}

