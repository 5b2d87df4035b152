/* config.c - the defaults, the command line and the checkpoint's words for
 * it, an environment's own defaults, and the checks of a whole
 * configuration. */
#include "ddpg/config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/env.h"
#include "ddpg/options.h"

void config_defaults(Config *c) {
    memset(c, 0, sizeof *c);
    /* the table's defaults parse (tests/test_config.c checks each one) */
    for (size_t i = 0; i < N_OPTIONS; i++)
        if (*OPTIONS[i].def) option_parse(c, &OPTIONS[i], OPTIONS[i].def, NULL);
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

/* The option of the word a ("--name" or "--name=value"), with the value
 * after '=' in *eq_value (NULL when there is no '='). */
static Status word_option(const char *a, const Option **o, const char **eq_value, Error *e) {
    if (strncmp(a, "--", 2) != 0)
        return error_set(e, STATUS_BAD_INPUT,
                         "unexpected argument '%s' (options start with --; see --help)", a);
    char name[64];
    const char *eq = strchr(a + 2, '=');
    size_t nl = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
    if (nl >= sizeof name) nl = sizeof name - 1;
    memcpy(name, a + 2, nl);
    name[nl] = 0;
    *o = option_find(name);
    *eq_value = eq ? eq + 1 : NULL;
    if (!*o) return error_set(e, STATUS_BAD_INPUT, "unknown option '--%s' (see --help)", name);
    return STATUS_OK;
}

/* The words argv[1..argc-1], left to right. With out NULL (a saved
 * configuration) --help and --version are no options. */
static Status parse_words(Config *c, int argc, char **argv, FILE *out, int *printed, Error *e) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        const Option *o;
        if (out && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            config_print_help(out);
            *printed = 1;
            return STATUS_OK;
        }
        if (out && strcmp(a, "--version") == 0) {
            fprintf(out, "ddpg_cuda %s\n", DDPG_VERSION);
            *printed = 1;
            return STATUS_OK;
        }
        Status s = word_option(a, &o, &v, e);
        if (s) return s;
        option_mark_set(c, o);
        if (o->type == OPT_FLAG) {
            if (v) return error_set(e, STATUS_BAD_INPUT, "--%s takes no value", o->name);
            option_parse(c, o, "on", e);
            continue;
        }
        if (!v && i + 1 < argc) v = argv[++i];
        if (!v) return error_set(e, STATUS_BAD_INPUT, "--%s needs a value (see --help)", o->name);
        if (o->type == OPT_PATH && strncmp(v, "--", 2) == 0)
            return error_set(e, STATUS_BAD_INPUT,
                             "--%s %s: a path that starts with -- (is the value of --%s "
                             "missing?)", o->name, v, o->name);
        if ((s = option_parse(c, o, v, e))) return s;
    }
    return STATUS_OK;
}

Status config_parse(Config *c, int argc, char **argv, FILE *out, int *printed, Error *e) {
    *printed = 0;
    const char *file = config_file_arg(argc, argv);
    if (file && *file) {
        Status s = config_read_file(c, file, e);
        if (s) return s;
    }
    return parse_words(c, argc, argv, out, printed, e);
}

int config_to_text(const Config *c, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        char v[CONFIG_PATH_MAX + 64];
        option_value_text(o, c, v, sizeof v);
        if (!option_is_saved(o) || (o->type == OPT_FLAG && strcmp(v, "off") == 0)) continue;
        int n = o->type == OPT_FLAG ? snprintf(buf + k, len - k, "--%s\n", o->name)
                                    : snprintf(buf + k, len - k, "--%s\n%s\n", o->name, v);
        if (n < 0 || (size_t)n >= len - k) return -1;
        k += (size_t)n;
    }
    return (int)k;
}

Status config_from_text(Config *c, const char *text, Error *e) {
    enum { MAX_WORDS = 2 * 64 + 1 };
    char *copy = strdup(text), *argv[MAX_WORDS];
    if (!copy) return error_set(e, STATUS_BAD_INPUT, "out of host memory");
    int argc = 0, printed = 0;
    argv[argc++] = "ddpg_cuda";
    Status s = STATUS_OK;
    for (char *w = strtok(copy, "\n"); w && !s; w = strtok(NULL, "\n"))
        if (argc == MAX_WORDS)
            s = error_set(e, STATUS_BAD_INPUT, "the saved configuration has too many words");
        else
            argv[argc++] = w;
    config_defaults(c);
    if (!s) s = parse_words(c, argc, argv, NULL, &printed, e);
    c->set = 0;
    free(copy);
    return s;
}

Status config_env_defaults(Config *c, Error *e) {
    const EnvSpec *spec = env_find(c->env);
    if (!spec) return error_set(e, STATUS_BAD_INPUT, "--env: '%s' is not an environment", c->env);
    for (const char *line = spec->defaults; line && *line;) {
        size_t len = strcspn(line, "\n");
        char key[64], value[256];
        /* "key = value": the environment's own text, checked by the tests */
        if (sscanf(line, " %63[^= \n] = %255[^\n]", key, value) == 2) {
            const Option *o = option_find(key);
            if (!o)
                return error_set(e, STATUS_BAD_INPUT, "%s's defaults: unknown option '%s'",
                                 spec->id, key);
            if (!option_was_set(c, o)) {
                Status s = option_parse(c, o, value, e);
                if (s) return s;
            }
        }
        line += len + (line[len] == '\n');
    }
    return STATUS_OK;
}

/* Why c cannot run as asked, or NULL. */
static const char *refusal(const Config *c) {
    if (c->n_hidden < 1) return "--hidden: at least one hidden layer";
    if (c->batch_size > c->replay_size)
        return "--batch-size is larger than --replay-size: no batch could ever be sampled";
    if (c->stop_when_solved && c->eval_every == 0)
        return "--stop-when-solved needs evaluations: --eval-every 0 turns them off";
    if (c->resume[0] && c->eval_only[0]) return "--resume and --eval-only: one at a time";
    if (c->no_out && (c->out[0] || c->resume[0]))
        return "--no-out and a run directory (--out or --resume): one or the other";
    if (c->overwrite && c->resume[0])
        return "--overwrite and --resume: a resumed run keeps what its directory holds";
    if (c->overwrite && !c->out[0]) return "--overwrite: which run? (--out DIR)";
    if (c->resume[0] && c->out[0] && strcmp(c->out, c->resume) != 0)
        return "--out: a resumed run writes to its own directory (--resume DIR)";
    return NULL;
}

Status config_validate(const Config *c, Error *e) {
    /* a path from a --config file (the command line's are checked as they come) */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        const char *path = option_cfield(c, o);
        if (o->type == OPT_PATH && strncmp(path, "--", 2) == 0)
            return error_set(e, STATUS_BAD_INPUT,
                             "--%s %s: a path that starts with -- (is the value of --%s "
                             "missing?)", o->name, path, o->name);
    }
    const char *why = refusal(c);
    return why ? error_set(e, STATUS_BAD_INPUT, "%s", why) : STATUS_OK;
}

void config_settle(Config *c, FILE *warn) {
    int64_t vec = (c->total_steps + c->envs - 1) / c->envs, total = vec * c->envs;
    if (total != c->total_steps)
        fprintf(warn, "warning: --total-steps %lld is not a multiple of --envs %d: the run takes "
                "%lld env steps (%lld vectorized step%s)\n", (long long)c->total_steps, c->envs,
                (long long)total, (long long)vec, vec == 1 ? "" : "s");
    c->total_steps = total;
    int64_t fill = total < c->replay_size ? total : c->replay_size;
    if (c->update_after > total || c->batch_size > fill)
        fprintf(warn, "warning: no gradient update will run: %s\n",
                c->update_after > total ? "--update-after is beyond --total-steps"
                                        : "the replay never holds a batch (--batch-size)");
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (c->threads > 0 && cores > 0 && c->threads > cores)
        fprintf(warn, "warning: --threads %d on %ld cores: threads will wait for each other\n",
                c->threads, cores);
}
