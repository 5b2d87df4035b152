/* file.c - --config files (key = value lines, or a run's config.json) and
 * the configuration of a resumed run. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/config.h"
#include "ddpg/options.h"

Status config_merge_resume(const Config *saved, const Config *cli, Config *merged, Error *e) {
    *merged = *saved;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        if (!option_was_set(cli, o) || !option_is_saved(o)) continue;
        if (o->scope == SCOPE_RESUMABLE) { /* the command line's value */
            memcpy(option_field(merged, o), option_cfield(cli, o), o->size);
            continue;
        }
        char a[CONFIG_PATH_MAX + 64], b[CONFIG_PATH_MAX + 64];
        option_value_text(o, saved, a, sizeof a);
        option_value_text(o, cli, b, sizeof b);
        if (strcmp(a, b) != 0)
            return error_set(e, STATUS_BAD_INPUT,
                             "--%s %s contradicts the checkpoint's --%s %s (a resumed run "
                             "keeps its configuration)", o->name, b, o->name, a);
    }
    merged->quiet = cli->quiet;
    snprintf(merged->resume, sizeof merged->resume, "%s", cli->resume);
    snprintf(merged->out, sizeof merged->out, "%s", cli->resume);
    merged->set = cli->set;
    return STATUS_OK;
}

/* ---- --config FILE ---- */

/* Applies name = value from file:line (option_parse's words; a flag takes
 * true/false, on/off, 1/0); the message names file:line. */
static Status apply(Config *c, const char *name, const char *value, const char *file, int line,
                    Error *e) {
    const Option *o = option_find(name);
    if (!o || !strcmp(name, "config"))
        return error_set(e, STATUS_BAD_INPUT, "%s:%d: %s '%s'", file, line,
                         o ? "a file cannot name another file:" : "unknown option", name);
    Error why;
    error_clear(&why);
    if (option_parse(c, o, value, &why))
        return error_set(e, why.status, "%s:%d: %s", file, line, why.msg);
    option_mark_set(c, o);
    return STATUS_OK;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1])) s[--n] = 0;
    return s;
}

static Status read_lines(Config *c, FILE *f, const char *path, Error *e) {
    char buf[4096];
    for (int line = 1; fgets(buf, sizeof buf, f); line++) {
        if (!strchr(buf, '\n') && !feof(f))
            return error_set(e, STATUS_BAD_INPUT, "%s:%d: line longer than %zu characters", path,
                             line, sizeof buf - 2);
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        char *s = trim(buf);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return error_set(e, STATUS_BAD_INPUT, "%s:%d: not 'key = value': %s", path, line, s);
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (strncmp(key, "--", 2) == 0) key += 2;
        for (char *p = key; *p; p++) /* batch_size as config.json writes it, or batch-size */
            if (*p == '_') *p = '-';
        Status st = apply(c, key, value, path, line, e);
        if (st) return st;
    }
    return STATUS_OK;
}

/* The keys of a run's config.json that are not options (what the run was,
 * not what it asks for: runlog_write_config). */
static int informational(const char *key) {
    static const char *const keys[] = {"backend", "device", "device_name", "version", "out",
                                       "env_id", "solved_return", NULL};
    for (int i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

/* v as the command line would write it, in text; 0, or -1 for a JSON value
 * that no option takes. */
static int json_value_text(json_t *v, char *text, size_t len) {
    if (json_is_string(v))
        snprintf(text, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(text, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(text, len, "%.17g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(text, len, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_array(v)) { /* hidden: [256, 256] */
        size_t k = 0, i;
        json_t *x;
        text[0] = 0;
        json_array_foreach(v, i, x)
            k += (size_t)snprintf(text + k, len - k, "%s%lld", i ? "," : "",
                                  (long long)json_integer_value(x));
    } else
        return -1;
    return 0;
}

static Status read_json(Config *c, const char *path, Error *e) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return error_set(e, STATUS_BAD_INPUT, "%s:%d: not a JSON object: %s", path,
                         root ? 1 : je.line, root ? "" : je.text);
    }
    const char *key;
    json_t *v;
    Status s = STATUS_OK;
    json_object_foreach(root, key, v) {
        if (informational(key)) continue;
        const Option *o = option_find_json(key);
        char name[64], text[CONFIG_PATH_MAX + 64];
        snprintf(name, sizeof name, "%s", o ? o->name : key);
        for (char *p = name; *p; p++) /* an unknown key, named as the option it is not */
            if (*p == '_') *p = '-';
        if (json_value_text(v, text, sizeof text)) {
            s = error_set(e, STATUS_BAD_INPUT, "%s: %s: a value this program does not take",
                          path, key);
            break;
        }
        /* a JSON file has no lines to name per key: line 1 stands for the file */
        if ((s = apply(c, name, text, path, 1, e))) break;
    }
    json_decref(root);
    return s;
}

Status config_read_file(Config *c, const char *path, Error *e) {
    FILE *f = fopen(path, "r");
    if (!f) return error_set(e, STATUS_BAD_INPUT, "--config %s: %s", path, strerror(errno));
    int first = fgetc(f);
    while (first == ' ' || first == '\t' || first == '\n' || first == '\r') first = fgetc(f);
    rewind(f);
    Status s = first == '{' ? read_json(c, path, e) : read_lines(c, f, path, e);
    fclose(f);
    return s;
}
