/* options.h - private to src/config*.c: the table of command-line options
 * that parsing, --help, the checkpoint's saved configuration and --config
 * files all read. */
#ifndef DDPG_OPTIONS_H
#define DDPG_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "ddpg/config.h"

/* OPT_ENUM: an int field holding the index of one of `choices`; OPT_ENV: the
 * alias of an environment of the registry (env_find) */
typedef enum {
    OPT_INT, OPT_I64, OPT_U64, OPT_DBL, OPT_STR, OPT_ENUM, OPT_HIDDEN, OPT_FLAG, OPT_ENV
} OptType;

/* What an option is to a checkpoint (the text of config_to_text): RUN
 * options are saved and a resumed run must not contradict them; RESUMABLE
 * ones are saved but a resume may change them; COMMAND ones are not saved. */
typedef enum { SCOPE_RUN = 0, SCOPE_RESUMABLE, SCOPE_COMMAND } Scope;

typedef struct {
    const char *name;
    OptType type;
    size_t offset;
    size_t size;         /* OPT_STR: buffer size */
    double lo, hi;       /* accepted range (inclusive unless lo_open) */
    int lo_open;         /* 1: lo excluded */
    const char *choices; /* OPT_STR, OPT_ENUM: "a|b|c", NULL = free text */
    const char *help;
    Scope scope;
    const char *metavar; /* --help's word for the value; NULL: N or R */
} Option;

extern const Option OPTIONS[];
extern const size_t N_OPTIONS;

/* The option called name (without --), or NULL. */
const Option *option_find(const char *name);
/* Parses v into o's field of c; 0, or 2 after a message naming --name. */
int option_parse(Config *c, const Option *o, const char *v, FILE *err);
/* o's value in c as its command line takes it, exactly ("%.17g" for
 * reals); a flag is "on" or "off". */
void option_value_text(const Option *o, const Config *c, char *buf, size_t len);
/* o's value in c as --help shows it ("none" for no text, "off" for a flag). */
void option_default_text(const Option *o, const Config *c, char *buf, size_t len);
/* o's range: "[1, 65536]", "(0, 1]"; integers in full. */
void option_range_text(const Option *o, char *buf, size_t len);
/* 1 when the command line set option o in c (Config.set). */
static inline int option_was_set(const Config *c, const Option *o) {
    return (int)(c->set >> (o - OPTIONS) & 1);
}
static inline void option_mark_set(Config *c, const Option *o) {
    c->set |= 1ull << (o - OPTIONS);
}

#endif
