/* options.h - the table of options (OPTIONS), built from options.def.h:
 * what parsing, --help, --config files, the checkpoint's configuration text
 * and config.json walk, and the text of one option's value. */
#ifndef DDPG_OPTIONS_H
#define DDPG_OPTIONS_H

#include <stddef.h>

#include "ddpg/config.h"

/* The TYPEs of options.def.h. */
typedef enum {
    OPT_INT, OPT_I64, OPT_U64, OPT_DBL, OPT_FLAG, OPT_ENUM, OPT_NAME, OPT_ENV, OPT_PATH, OPT_HIDDEN
} OptType;

/* What an option is to a checkpoint and config.json (options.def.h). */
typedef enum { SCOPE_RUN = 0, SCOPE_RESUMABLE, SCOPE_COMMAND } Scope;

typedef struct {
    const char *name;    /* without -- */
    OptType type;
    size_t offset, size; /* its Config field */
    const char *def;     /* the default, as the command line writes it; "": none */
    double lo, hi;       /* accepted range (inclusive unless lo_open) */
    int lo_open;         /* 1: lo excluded */
    const char *value;   /* ENUM, NAME: the words taken, "a|b|c"; else --help's metavar or NULL */
    Scope scope;
    const char *help;
} Option;

extern const Option OPTIONS[];
extern const size_t N_OPTIONS;

/* The option called name (without --), or NULL. */
const Option *option_find(const char *name);
/* The option whose config.json key is key, or NULL. */
const Option *option_find_json(const char *key);
/* o's config.json key: its name with '_' for '-'; --device's is
 * device_requested, since config.json's "device" is the device the run got. */
void option_json_key(const Option *o, char *buf, size_t len);
/* Parses v into o's field of c (a flag takes true or false, on or off, 1 or
 * 0). STATUS_OK, or STATUS_BAD_INPUT with a message naming --name. */
Status option_parse(Config *c, const Option *o, const char *v, Error *e);
/* o's value in c as its command line takes it, exactly ("%.17g" for
 * reals); a flag is "on" or "off". */
void option_value_text(const Option *o, const Config *c, char *buf, size_t len);
/* o's value in c as --help shows it ("none" for no text, "off" for a flag). */
void option_default_text(const Option *o, const Config *c, char *buf, size_t len);
/* o's range: "[1, 65536]", "(0, 1]"; integers in full. */
void option_range_text(const Option *o, char *buf, size_t len);

/* 1 when checkpoints and config.json keep o (scope RUN or RESUMABLE). */
static inline int option_is_saved(const Option *o) { return o->scope != SCOPE_COMMAND; }
/* 1 when the command line or --config set option o in c (Config.set). */
static inline int option_was_set(const Config *c, const Option *o) {
    return (int)(c->set >> (o - OPTIONS) & 1);
}
static inline void option_mark_set(Config *c, const Option *o) {
    c->set |= 1ull << (o - OPTIONS);
}
/* o's field in c. */
static inline void *option_field(Config *c, const Option *o) { return (char *)c + o->offset; }
static inline const void *option_cfield(const Config *c, const Option *o) {
    return (const char *)c + o->offset;
}

#endif
