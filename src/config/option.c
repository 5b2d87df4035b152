/* option.c - the table of options, built from options.def.h, and one
 * option's value: strict parsing by type, and its text. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/env.h"
#include "ddpg/options.h"

/* The range column of options.def.h: lo, hi, lo_open. */
#define RANGE(lo, hi) lo, hi, 0
#define RANGE_ABOVE(lo, hi) lo, hi, 1
#define NO_RANGE 0, 0, 0

#define OPTION_ROW(type, field, name, def, range, value, scope, help)                            \
    {name, OPT_##type, offsetof(Config, field), sizeof(((Config *)0)->field), def, range, value, \
     SCOPE_##scope, help},

const Option OPTIONS[] = {CONFIG_OPTIONS(OPTION_ROW)};
const size_t N_OPTIONS = sizeof OPTIONS / sizeof OPTIONS[0];
_Static_assert(sizeof OPTIONS / sizeof OPTIONS[0] <= 64, "Config.set has one bit per option");

const char *const NOISE_NAMES[2] = {"gaussian", "ou"};
const char *const ALGO_NAMES[2] = {"ddpg", "td3"};

const Option *option_find(const char *name) {
    for (size_t k = 0; k < N_OPTIONS; k++)
        if (strcmp(OPTIONS[k].name, name) == 0) return &OPTIONS[k];
    return NULL;
}

void option_json_key(const Option *o, char *buf, size_t len) {
    snprintf(buf, len, "%s", strcmp(o->name, "device") == 0 ? "device_requested" : o->name);
    for (char *p = buf; *p; p++)
        if (*p == '-') *p = '_';
}

const Option *option_find_json(const char *key) {
    for (size_t k = 0; k < N_OPTIONS; k++) {
        char own[64];
        option_json_key(&OPTIONS[k], own, sizeof own);
        if (strcmp(own, key) == 0) return &OPTIONS[k];
    }
    return NULL;
}

void option_default_text(const Option *o, const Config *d, char *buf, size_t len) {
    const void *p = option_cfield(d, o);
    switch (o->type) {
    case OPT_INT: snprintf(buf, len, "%d", *(const int *)p); break;
    case OPT_I64: snprintf(buf, len, "%lld", (long long)*(const int64_t *)p); break;
    case OPT_U64: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)p); break;
    case OPT_DBL: snprintf(buf, len, "%g", *(const double *)p); break;
    case OPT_NAME: case OPT_ENV: case OPT_PATH:
        snprintf(buf, len, "%s", *(const char *)p ? (const char *)p : "none");
        break;
    case OPT_ENUM: {
        const char *s = o->value;
        for (int i = *(const int *)p; i > 0 && *s; i--) s += strcspn(s, "|") + 1;
        snprintf(buf, len, "%.*s", (int)strcspn(s, "|"), s);
        break;
    }
    case OPT_FLAG: snprintf(buf, len, "off"); break;
    case OPT_HIDDEN: {
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; i < d->n_hidden && k < len; i++)
            k += (size_t)snprintf(buf + k, len - k, i ? ",%d" : "%d", ((const int *)p)[i]);
        break;
    }
    }
}

void option_value_text(const Option *o, const Config *c, char *buf, size_t len) {
    const void *p = option_cfield(c, o);
    if (o->type == OPT_DBL)
        snprintf(buf, len, "%.17g", *(const double *)p);
    else if (o->type == OPT_FLAG)
        snprintf(buf, len, "%s", *(const int *)p ? "on" : "off");
    else if (o->type == OPT_NAME || o->type == OPT_ENV || o->type == OPT_PATH)
        snprintf(buf, len, "%s", (const char *)p);
    else
        option_default_text(o, c, buf, len);
}

void option_range_text(const Option *o, char *buf, size_t len) {
    if (o->type == OPT_DBL)
        snprintf(buf, len, "%s%g, %g]", o->lo_open ? "(" : "[", o->lo, o->hi);
    else
        snprintf(buf, len, "%s%.0f, %.0f]", o->lo_open ? "(" : "[", o->lo, o->hi);
}

/* ---- parsing, one function per type ---- */

/* The index of v among "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v) {
    size_t vl = strlen(v);
    for (int i = 0; *choices; i++) {
        size_t l = strcspn(choices, "|");
        if (l == vl && strncmp(choices, v, l) == 0) return i;
        choices += l + (choices[l] == '|');
    }
    return -1;
}

/* ENV: stored as the environment's alias. */
static Status parse_env(Config *c, const Option *o, const char *v, Error *e) {
    const EnvSpec *spec = env_find(v);
    if (!spec) {
        char names[512];
        size_t k = 0;
        names[0] = 0;
        for (int i = 0; env_at(i) && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s or %s", i ? ", " : "",
                                  env_at(i)->alias, env_at(i)->id);
        return error_set(e, STATUS_BAD_INPUT, "--%s: '%s' is not an environment (%s)", o->name,
                         v, names);
    }
    snprintf(option_field(c, o), o->size, "%s", spec->alias);
    return STATUS_OK;
}

/* ENUM (the word's index) and NAME (the word). */
static Status parse_choice(Config *c, const Option *o, const char *v, Error *e) {
    int index = choice_index(o->value, v);
    if (index < 0)
        return error_set(e, STATUS_BAD_INPUT, "--%s: '%s' is not one of %s", o->name, v,
                         o->value);
    if (o->type == OPT_ENUM)
        *(int *)option_field(c, o) = index;
    else
        snprintf(option_field(c, o), o->size, "%s", v);
    return STATUS_OK;
}

static Status parse_path(Config *c, const Option *o, const char *v, Error *e) {
    if (*v == 0) return error_set(e, STATUS_BAD_INPUT, "--%s: empty value", o->name);
    if (strlen(v) >= o->size)
        return error_set(e, STATUS_BAD_INPUT, "--%s: value longer than %zu characters", o->name,
                         o->size - 1);
    memcpy(option_field(c, o), v, strlen(v) + 1);
    return STATUS_OK;
}

/* The words of a --config file; the command line's --flag says "on". */
static Status parse_flag(Config *c, const Option *o, const char *v, Error *e) {
    int on = !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1");
    int off = !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0");
    if (!on && !off)
        return error_set(e, STATUS_BAD_INPUT, "%s takes true or false, not '%s'", o->name, v);
    *(int *)option_field(c, o) = on;
    return STATUS_OK;
}

/* HIDDEN: the hidden layers' widths, and their count in n_hidden. */
static Status parse_hidden(Config *c, const Option *o, const char *v, Error *e) {
    int n = 0, vals[CONFIG_MAX_HIDDEN];
    char range[64];
    option_range_text(o, range, sizeof range);
    for (const char *s = v;;) {
        char *end;
        errno = 0;
        long x = strtol(s, &end, 10);
        if (end == s || errno || x < (long)o->lo || x > (long)o->hi || (*end != ',' && *end != 0))
            return error_set(e, STATUS_BAD_INPUT,
                             "--%s: '%s' is not a comma-separated list of widths, each in %s",
                             o->name, v, range);
        if (n == CONFIG_MAX_HIDDEN)
            return error_set(e, STATUS_BAD_INPUT, "--%s: at most %d hidden layers", o->name,
                             CONFIG_MAX_HIDDEN);
        vals[n++] = (int)x;
        if (*end == 0) break;
        s = end + 1;
    }
    memcpy(option_field(c, o), vals, sizeof(int) * n);
    c->n_hidden = n;
    return STATUS_OK;
}

/* INT, I64, U64 (digits only: strtod would take 1e3 and 1.5) and DBL, in range. */
static Status parse_number(Config *c, const Option *o, const char *v, Error *e) {
    char range[64];
    option_range_text(o, range, sizeof range);
    const char *q = v + (*v == '+' || *v == '-');
    if (o->type != OPT_DBL && (!*q || strspn(q, "0123456789") != strlen(q)))
        return error_set(e, STATUS_BAD_INPUT, "--%s: '%s' is not an integer in %s", o->name, v,
                         range);
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != 0 || errno || !isfinite(x))
        return error_set(e, STATUS_BAD_INPUT, "--%s: '%s' is not a number in %s", o->name, v,
                         range);
    if (x < o->lo || x > o->hi || (o->lo_open && x <= o->lo))
        return error_set(e, STATUS_BAD_INPUT, "--%s: %s is out of range %s", o->name, v, range);
    void *p = option_field(c, o);
    switch (o->type) {
    case OPT_INT: *(int *)p = (int)x; break;
    case OPT_I64: *(int64_t *)p = strtoll(v, NULL, 10); break;
    case OPT_U64: *(uint64_t *)p = strtoull(v, NULL, 10); break;
    default: *(double *)p = x; break;
    }
    return STATUS_OK;
}

Status option_parse(Config *c, const Option *o, const char *v, Error *e) {
    switch (o->type) {
    case OPT_ENV: return parse_env(c, o, v, e);
    case OPT_ENUM: case OPT_NAME: return parse_choice(c, o, v, e);
    case OPT_PATH: return parse_path(c, o, v, e);
    case OPT_FLAG: return parse_flag(c, o, v, e);
    case OPT_HIDDEN: return parse_hidden(c, o, v, e);
    default: return parse_number(c, o, v, e);
    }
}
