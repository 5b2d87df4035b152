/* runjson.c - config.json and summary.json, built with jansson and written
 * atomically (a temporary file, flushed to disk, renamed), every write
 * checked. Text that is not UTF-8 (a path's bytes) is written with U+FFFD in
 * place of each byte that is not, so that the files are always valid JSON. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/env.h"
#include "ddpg/options.h"
#include "ddpg/runlog.h"

/* Length of the well-formed UTF-8 sequence at s (1..4), or 0 when it is
 * not one (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), as jansson checks it. */
static int utf8_len(const unsigned char *s) {
    int n = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : (s[0] & 0xF0) == 0xE0 ? 3
            : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return n;
}

/* A JSON string of text, with U+FFFD for every byte that is not UTF-8. */
static json_t *json_text(const char *text) {
    size_t n = strlen(text);
    char *clean = malloc(3 * n + 1), *o = clean;
    if (!clean) return NULL;
    for (const unsigned char *s = (const unsigned char *)text; *s;) {
        int k = utf8_len(s);
        if (k == 0) { /* U+FFFD */
            memcpy(o, "\xEF\xBF\xBD", 3), o += 3, s++;
        } else {
            memcpy(o, s, (size_t)k), o += k, s += k;
        }
    }
    *o = 0;
    json_t *j = json_string(clean);
    free(clean);
    return j;
}

/* A real, or null when it is not finite (JSON has no NaN). */
static json_t *json_number(int have, double v) {
    return have && isfinite(v) ? json_real(v) : json_null();
}

static json_t *json_step(int64_t step) { return step >= 0 ? json_integer(step) : json_null(); }

/* Writes root (taken) to its file f of the run directory through a
 * temporary file. STATUS_OK, or STATUS_IO naming the file and the error. */
static Status write_json(const RunLog *l, RunFile f, json_t *root, Error *e) {
    char tmp[RUNDIR_PATH_MAX], path[RUNDIR_PATH_MAX];
    rundir_path(l->dir, f, path, sizeof path);
    rundir_temp_path(l->dir, f, tmp, sizeof tmp);
    int ok = 0;
    FILE *out = root ? fopen(tmp, "w") : NULL;
    if (!root) {
        errno = ENOMEM;
    } else if (out) {
        ok = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
             fputc('\n', out) != EOF && fflush(out) == 0 && fsync(fileno(out)) == 0;
        int saved = errno;
        ok = fclose(out) == 0 && ok;
        if (!ok) errno = saved ? saved : EIO;
        ok = ok && rename(tmp, path) == 0;
    }
    Status rc = ok ? STATUS_OK
                   : error_set(e, STATUS_IO, "cannot write '%s': %s", path, strerror(errno));
    if (!ok) unlink(tmp);
    json_decref(root);
    return rc;
}

/* o's value in c as config.json holds it: a number, a boolean, a list of
 * widths, or text. */
static json_t *json_option(const Option *o, const Config *c) {
    const void *p = option_cfield(c, o);
    switch (o->type) {
    case OPT_INT: return json_integer(*(const int *)p);
    case OPT_I64: return json_integer(*(const int64_t *)p);
    case OPT_U64: return json_integer((json_int_t)*(const uint64_t *)p);
    case OPT_DBL: return json_real(*(const double *)p);
    case OPT_FLAG: return json_boolean(*(const int *)p);
    case OPT_HIDDEN: {
        json_t *a = json_array();
        for (int i = 0; i < c->n_hidden; i++) json_array_append_new(a, json_integer(c->hidden[i]));
        return a;
    }
    default: {
        char text[CONFIG_PATH_MAX + 64];
        option_value_text(o, c, text, sizeof text);
        return json_text(text);
    }
    }
}

/* The options that checkpoints keep, in the table's order, under their keys
 * (option_json_key): --env followed by what the environment is (env_id,
 * solved_return), --threads as the threads used; then what the run got. */
Status runlog_write_config(RunLog *l, const Config *c, const char *backend,
                           const char *device_name, int threads, Error *e) {
    json_t *o = json_object();
    const EnvSpec *spec = env_find(c->env);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *opt = &OPTIONS[i];
        if (!option_is_saved(opt)) continue;
        char key[64];
        option_json_key(opt, key, sizeof key);
        json_object_set_new(o, key, opt->offset == offsetof(Config, threads)
                                        ? json_integer(threads) : json_option(opt, c));
        if (opt->offset != offsetof(Config, env)) continue;
        json_object_set_new(o, "env_id", json_text(spec ? spec->id : c->env));
        json_object_set_new(o, "solved_return",
                            json_number(spec != NULL, spec ? spec->solved_return : 0.0));
    }
    json_object_set_new(o, "version", json_string(DDPG_VERSION));
    json_object_set_new(o, "backend", json_text(backend));
    json_object_set_new(o, "device", json_text(backend));
    json_object_set_new(o, "device_name", json_text(device_name));
    json_object_set_new(o, "out", json_text(c->out));
    return write_json(l, RUN_FILE_CONFIG, o, e);
}

Status runlog_write_summary(RunLog *l, const RunSummary *s, Error *e) {
    json_t *o = json_object();
    json_object_set_new(o, "status", json_text(s->status));
    if (s->error) json_object_set_new(o, "error", json_text(s->error));
    json_object_set_new(o, "device", json_text(s->device));
    json_object_set_new(o, "device_name", json_text(s->device_name));
    json_object_set_new(o, "env_id", json_text(s->env_id));
    json_object_set_new(o, "solved_return", json_number(1, s->solved_return));
    json_object_set_new(o, "envs", json_integer(s->envs));
    json_object_set_new(o, "env_steps", json_integer(s->env_steps));
    json_object_set_new(o, "updates", json_integer(s->updates));
    json_object_set_new(o, "wall_s", json_number(1, s->wall_s));
    json_object_set_new(o, "env_steps_per_s", json_number(1, s->env_steps_per_s));
    json_object_set_new(o, "updates_per_s", json_number(1, s->updates_per_s));
    json_object_set_new(o, "final_eval_return", json_number(s->have_eval, s->final_eval_return));
    json_object_set_new(o, "best_eval_return", json_number(s->have_eval, s->best_eval_return));
    json_object_set_new(o, "solved_step", json_step(s->solved_step));
    json_object_set_new(o, "solved_wall_s", json_number(s->solved_step >= 0, s->solved_wall_s));
    json_object_set_new(o, "checkpoint_step", json_step(s->checkpoint_step));
    json_t *d = json_null();
    if (s->diverged_what) {
        d = json_object();
        json_object_set_new(d, "update", json_integer(s->diverged_update));
        json_object_set_new(d, "quantity", json_text(s->diverged_what));
    }
    json_object_set_new(o, "diverged", d);
    return write_json(l, RUN_FILE_SUMMARY, o, e);
}
