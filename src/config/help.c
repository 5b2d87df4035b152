/* help.c - --help: every option with what it accepts and its default. */
#include <stdio.h>
#include <string.h>

#include "ddpg/config.h"
#include "ddpg/env.h"
#include "ddpg/options.h"

/* What o accepts, for --help: "an integer in [1, 8]", "a real in (0, 1]". */
static void accepts_text(const Option *o, char *buf, size_t len) {
    char r[96];
    option_range_text(o, r, sizeof r);
    switch (o->type) {
    case OPT_INT: case OPT_I64: case OPT_U64: snprintf(buf, len, "an integer in %s", r); break;
    case OPT_DBL: snprintf(buf, len, "a real in %s", r); break;
    case OPT_HIDDEN: snprintf(buf, len, "1 to %d widths, each in %s", CONFIG_MAX_HIDDEN, r); break;
    default: buf[0] = 0;
    }
}

/* Prints text from column `at`, wrapped to continue at column `indent`
 * before column `width`. */
static void print_wrapped(FILE *f, const char *text, int at, int indent, int width) {
    int start = at;
    while (*text) {
        size_t word = strcspn(text, " ");
        if (at > start && at + 1 + (int)word > width) {
            fprintf(f, "\n%*s", indent, "");
            at = start = indent;
        } else if (at > start) {
            fputc(' ', f);
            at++;
        }
        fprintf(f, "%.*s", (int)word, text);
        at += (int)word;
        text += word;
        while (*text == ' ') text++;
    }
    fputc('\n', f);
}

void config_print_help(FILE *f) {
    Config d;
    config_defaults(&d);
    fprintf(f,
            "ddpg_cuda %s - DDPG (Lillicrap et al. 2015) on vectorized environments\n\n"
            "usage: ddpg_cuda [options]\n\noptions (default at --envs 1 in brackets):\n",
            DDPG_VERSION);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        char def[64], left[96], accepts[128], text[512];
        option_default_text(o, &d, def, sizeof def);
        const char *value = o->value ? o->value : o->type == OPT_DBL ? "R"
                            : o->type == OPT_HIDDEN ? "W,W,..." : "N";
        if (o->type == OPT_FLAG)
            snprintf(left, sizeof left, "--%s", o->name);
        else
            snprintf(left, sizeof left, "--%s %s", o->name, value);
        accepts_text(o, accepts, sizeof accepts);
        snprintf(text, sizeof text, "%s%s%s [%s]", o->help, accepts[0] ? "; " : "", accepts, def);
        int col = fprintf(f, "  %-28s ", left);
        print_wrapped(f, text, col, 31, 100);
    }
    fprintf(f, "  %-28s %s\n  %-28s %s\n", "--help", "this text", "--version",
            "print the version");
    config_print_scaled(f);
    fprintf(f, "\nenvironments (--env NAME; an environment's own defaults replace the ones "
               "above\nunless the command line or --config sets them):\n");
    for (int i = 0; env_at(i); i++) {
        const EnvSpec *e = env_at(i);
        char text[512], left[96];
        size_t k = (size_t)snprintf(text, sizeof text, "%s: %d observations, %d action%s in "
                                    "[%g, %g], %d steps; defaults:", e->about, e->obs_dim,
                                    e->act_dim, e->act_dim == 1 ? "" : "s", e->act_low[0],
                                    e->act_high[0], e->max_steps);
        if (!e->defaults || !*e->defaults) snprintf(text + k, sizeof text - k, " the above");
        for (const char *d = e->defaults; d && *d && k < sizeof text;) {
            size_t len = strcspn(d, "\n");
            char key[64], value[256];
            if (sscanf(d, " %63[^= \n] = %255[^\n]", key, value) == 2)
                k += (size_t)snprintf(text + k, sizeof text - k, "%s --%s %s",
                                      d == e->defaults ? "" : ",", key, value);
            d += len + (d[len] == '\n');
        }
        snprintf(left, sizeof left, "%s, %s", e->alias, e->id);
        int col = strlen(left) > 28 ? fprintf(f, "  %s\n%31s", left, "") - (int)strlen(left) - 3
                                     : fprintf(f, "  %-28s ", left);
        print_wrapped(f, text, col, 31, 100);
    }
}
