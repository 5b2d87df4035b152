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

typedef struct {
    const char *name;
    OptType type;
    size_t offset;
    size_t size;    /* OPT_STR: buffer size */
    double lo, hi;  /* accepted range (inclusive unless *_open) */
    int lo_open;    /* 1: lo excluded */
    const char *choices; /* OPT_STR, OPT_ENUM: "a|b|c", NULL = free text */
    const char *help;
} Option;

#define F(field) offsetof(Config, field), sizeof(((Config *)0)->field)

static const Option OPTIONS[] = {
    {"env", OPT_STR, F(env), 0, 0, 0, "pendulum|Pendulum-v1", "environment (Pendulum-v1)"},
    {"envs", OPT_INT, F(envs), 1, 16777216, 0, NULL, "environments stepped in lockstep"},
    {"device", OPT_STR, F(device), 0, 0, 0, "auto|cuda|cpu",
     "backend: the GPU when there is one (auto), or force one"},
    {"seed", OPT_U64, F(seed), 0, 9.2e18, 0, NULL, "random seed"},
    {"total-steps", OPT_I64, F(total_steps), 1, 1e12, 0, NULL,
     "env steps to train, summed over all envs"},
    {"batch-size", OPT_INT, F(batch_size), 1, 65536, 0, NULL, "minibatch size per update"},
    {"replay-size", OPT_I64, F(replay_size), 1, 1e9, 0, NULL, "replay buffer capacity"},
    {"gamma", OPT_DBL, F(gamma), 0, 1, 0, NULL, "discount factor"},
    {"tau", OPT_DBL, F(tau), 0, 1, 1, NULL, "target network soft-update rate, in (0, 1]"},
    {"actor-lr", OPT_DBL, F(actor_lr), 0, 1, 1, NULL, "actor Adam learning rate"},
    {"critic-lr", OPT_DBL, F(critic_lr), 0, 1, 1, NULL, "critic Adam learning rate"},
    {"start-steps", OPT_I64, F(start_steps), 0, 1e12, 0, NULL,
     "env steps of uniform random actions before the actor acts"},
    {"update-after", OPT_I64, F(update_after), 0, 1e12, 0, NULL,
     "env steps before the first gradient update"},
    {"updates-per-step", OPT_INT, F(updates_per_step), 1, 10000, 0, NULL,
     "gradient updates per vectorized env step"},
    {"noise-sigma", OPT_DBL, F(noise_sigma), 0, 100, 0, NULL,
     "exploration noise std, in action units"},
    {"noise", OPT_ENUM, F(noise), 0, 0, 0, "gaussian|ou",
     "exploration noise process (ou = Ornstein-Uhlenbeck)"},
    {"ou-theta", OPT_DBL, F(ou_theta), 0, 100, 1, NULL, "OU mean-reversion rate"},
    {"hidden", OPT_HIDDEN, F(hidden), 1, 65536, 0, NULL,
     "hidden layer widths, comma separated, 1 to 8 layers"},
    {"grad-clip", OPT_DBL, F(grad_clip), 0, 1e9, 0, NULL,
     "clip each network's gradient to this global L2 norm (0 = off)"},
    {"probe-n", OPT_INT, F(probe_n), 0, 4096, 0, NULL, "fixed probe states (0 = off)"},
    {"probe-every", OPT_INT, F(probe_every), 1, 1000000000, 0, NULL,
     "probe snapshot every this many finished episodes"},
    {"eval-every", OPT_I64, F(eval_every), 0, 1e12, 0, NULL,
     "env steps between deterministic evaluations (0 = off)"},
    {"eval-episodes", OPT_INT, F(eval_episodes), 1, 4096, 0, NULL,
     "episodes per evaluation"},
    {"threads", OPT_INT, F(threads), 0, 1024, 0, NULL, "CPU threads for the cpu device (0 = one per core)"},
    {"truncation-as-terminal", OPT_FLAG, F(truncation_as_terminal), 0, 1, 0, NULL,
     "store done = terminated or truncated, as the notebook does (for comparison)"},
    {"stop-when-solved", OPT_FLAG, F(stop_when_solved), 0, 1, 0, NULL,
     "end the run at the first evaluation with mean return >= -200"},
    {"quiet", OPT_FLAG, F(quiet), 0, 1, 0, NULL, "no progress lines"},
    {"out", OPT_STR, F(out), 0, 0, 0, NULL, "run directory to write (created if missing)"},
};
#define N_OPTIONS (sizeof OPTIONS / sizeof OPTIONS[0])

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
                     o->choices ? o->choices : (o->type == OPT_STR ? "DIR" : "N"));
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

void config_write_json(const Config *c, FILE *f, const char *ind) {
    fprintf(f, "%s\"env\": \"%s\",\n", ind, c->env);
    fprintf(f, "%s\"envs\": %d,\n", ind, c->envs);
    fprintf(f, "%s\"device_requested\": \"%s\",\n", ind, c->device);
    fprintf(f, "%s\"seed\": %llu,\n", ind, (unsigned long long)c->seed);
    fprintf(f, "%s\"total_steps\": %lld,\n", ind, (long long)c->total_steps);
    fprintf(f, "%s\"batch_size\": %d,\n", ind, c->batch_size);
    fprintf(f, "%s\"replay_size\": %lld,\n", ind, (long long)c->replay_size);
    fprintf(f, "%s\"gamma\": %.17g,\n", ind, c->gamma);
    fprintf(f, "%s\"tau\": %.17g,\n", ind, c->tau);
    fprintf(f, "%s\"actor_lr\": %.17g,\n", ind, c->actor_lr);
    fprintf(f, "%s\"critic_lr\": %.17g,\n", ind, c->critic_lr);
    fprintf(f, "%s\"start_steps\": %lld,\n", ind, (long long)c->start_steps);
    fprintf(f, "%s\"update_after\": %lld,\n", ind, (long long)c->update_after);
    fprintf(f, "%s\"updates_per_step\": %d,\n", ind, c->updates_per_step);
    fprintf(f, "%s\"noise\": \"%s\",\n", ind, NOISE_NAMES[c->noise]);
    fprintf(f, "%s\"noise_sigma\": %.17g,\n", ind, c->noise_sigma);
    fprintf(f, "%s\"ou_theta\": %.17g,\n", ind, c->ou_theta);
    fprintf(f, "%s\"hidden\": [", ind);
    for (int i = 0; i < c->n_hidden; i++) fprintf(f, i ? ", %d" : "%d", c->hidden[i]);
    fprintf(f, "],\n");
    fprintf(f, "%s\"grad_clip\": %.17g,\n", ind, c->grad_clip);
    fprintf(f, "%s\"probe_n\": %d,\n", ind, c->probe_n);
    fprintf(f, "%s\"probe_every\": %d,\n", ind, c->probe_every);
    fprintf(f, "%s\"eval_every\": %lld,\n", ind, (long long)c->eval_every);
    fprintf(f, "%s\"eval_episodes\": %d,\n", ind, c->eval_episodes);
    fprintf(f, "%s\"threads\": %d,\n", ind, c->threads);
    fprintf(f, "%s\"truncation_as_terminal\": %s,\n", ind,
            c->truncation_as_terminal ? "true" : "false");
    fprintf(f, "%s\"stop_when_solved\": %s,\n", ind, c->stop_when_solved ? "true" : "false");
    fprintf(f, "%s\"version\": \"%s\"", ind, DDPG_VERSION);
}
