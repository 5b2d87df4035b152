/* config_file.c - a configuration as text: the words a checkpoint saves,
 * --config files (key = value lines, or a run's config.json), and the
 * configuration of a resumed run. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/config.h"
#include "options.h"

int config_to_text(const Config *c, char *buf, size_t len) {
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        char v[1100];
        option_value_text(o, c, v, sizeof v);
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
        option_value_text(o, saved, a, sizeof a);
        option_value_text(o, cli, b, sizeof b);
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


/* ---- --config FILE ---- */

/* Applies name = value from file:line (text of the value; a flag takes
 * true/false, on/off, 1/0). 0, or 2 after a message naming file:line. */
static int apply(Config *c, const char *name, const char *value, const char *file, int line,
                 FILE *err) {
    const Option *o = option_find(name);
    if (!o || !strcmp(name, "config")) {
        fprintf(err, "error: %s:%d: %s '%s'\n", file, line,
                o ? "a file cannot name another file:" : "unknown option", name);
        return 2;
    }
    if (o->type == OPT_FLAG) {
        int on = !strcmp(value, "true") || !strcmp(value, "on") || !strcmp(value, "1");
        int off = !strcmp(value, "false") || !strcmp(value, "off") || !strcmp(value, "0");
        if (!on && !off) {
            fprintf(err, "error: %s:%d: %s takes true or false, not '%s'\n", file, line, name,
                    value);
            return 2;
        }
        *(int *)((char *)c + o->offset) = on;
        option_mark_set(c, o);
        return 0;
    }
    /* option_parse's message, behind the place it came from */
    char *msg = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&msg, &len);
    int rc = m ? option_parse(c, o, value, m) : 2;
    if (m) fclose(m);
    if (rc)
        fprintf(err, "error: %s:%d: %s", file, line,
                msg && strncmp(msg, "error: ", 7) == 0 ? msg + 7 : "cannot read the value\n");
    else
        option_mark_set(c, o);
    free(msg);
    return rc;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1])) s[--n] = 0;
    return s;
}

static int read_lines(Config *c, FILE *f, const char *path, FILE *err) {
    char buf[4096];
    for (int line = 1; fgets(buf, sizeof buf, f); line++) {
        if (!strchr(buf, '\n') && !feof(f)) {
            fprintf(err, "error: %s:%d: line longer than %zu characters\n", path, line,
                    sizeof buf - 2);
            return 2;
        }
        char *hash = strchr(buf, '#');
        if (hash) *hash = 0;
        char *s = trim(buf);
        if (!*s) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(err, "error: %s:%d: not 'key = value': %s\n", path, line, s);
            return 2;
        }
        *eq = 0;
        char *key = trim(s), *value = trim(eq + 1);
        if (strncmp(key, "--", 2) == 0) key += 2;
        for (char *p = key; *p; p++) /* batch_size as config.json writes it, or batch-size */
            if (*p == '_') *p = '-';
        if (apply(c, key, value, path, line, err)) return 2;
    }
    return 0;
}

/* The keys of a run's config.json that are not options (what the run was,
 * not what it asks for). */
static int informational(const char *key) {
    static const char *const keys[] = {"backend", "device", "device_name", "version", "out",
                                       "env_id", "solved_return", NULL};
    for (int i = 0; keys[i]; i++)
        if (!strcmp(key, keys[i])) return 1;
    return 0;
}

static int read_json(Config *c, const char *path, FILE *err) {
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root || !json_is_object(root)) {
        fprintf(err, "error: %s:%d: not a JSON object: %s\n", path, root ? 1 : je.line,
                root ? "" : je.text);
        json_decref(root);
        return 2;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (informational(key)) continue;
        char name[64], text[1100];
        snprintf(name, sizeof name, "%s", !strcmp(key, "device_requested") ? "device" : key);
        for (char *p = name; *p; p++)
            if (*p == '_') *p = '-';
        if (json_is_string(v))
            snprintf(text, sizeof text, "%s", json_string_value(v));
        else if (json_is_integer(v))
            snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(text, sizeof text, "%.17g", json_real_value(v));
        else if (json_is_boolean(v))
            snprintf(text, sizeof text, "%s", json_is_true(v) ? "true" : "false");
        else if (json_is_array(v)) { /* hidden: [256, 256] */
            size_t k = 0, i;
            json_t *x;
            text[0] = 0;
            json_array_foreach(v, i, x)
                k += (size_t)snprintf(text + k, sizeof text - k, "%s%lld", i ? "," : "",
                                      (long long)json_integer_value(x));
        } else {
            fprintf(err, "error: %s: %s: a value this program does not take\n", path, key);
            rc = 2;
            break;
        }
        /* a JSON file has no lines to name per key: line 1 stands for the file */
        if ((rc = apply(c, name, text, path, 1, err))) break;
    }
    json_decref(root);
    return rc;
}

int config_read_file(Config *c, const char *path, FILE *err) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(err, "error: --config %s: %s\n", path, strerror(errno));
        return 2;
    }
    int first = fgetc(f);
    while (first == ' ' || first == '\t' || first == '\n' || first == '\r') first = fgetc(f);
    rewind(f);
    int rc = first == '{' ? read_json(c, path, err) : read_lines(c, f, path, err);
    fclose(f);
    return rc;
}
