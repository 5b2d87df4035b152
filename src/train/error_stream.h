/* error_stream.h - the message of a callee that still reports on a FILE *
 * ("error: MESSAGE\n": tensors_alloc, ddpg_alloc, checkpoint_save), caught
 * into an Error (status.h), so that the trainer prints nothing and its
 * caller says it once. Private to src/train/. */
#ifndef DDPG_TRAIN_ERROR_STREAM_H
#define DDPG_TRAIN_ERROR_STREAM_H

#include <stdio.h>
#include <string.h>

#include "ddpg/status.h"

typedef struct {
    FILE *f;                  /* NULL: no memory stream could be had */
    char text[ERROR_MSG_MAX]; /* what the callee wrote */
} ErrorStream;

/* The stream to give the callee: into s->text, or stderr when no memory
 * stream can be had (the message is then said there, as before). */
static inline FILE *error_stream_open(ErrorStream *s) {
    memset(s->text, 0, sizeof s->text);
    s->f = fmemopen(s->text, sizeof s->text - 1, "w");
    return s->f ? s->f : stderr;
}

/* Closes s; when st is a failure, e gets st and the callee's message,
 * without its "error: " and its newline. Returns st. */
static inline Status error_stream_close(ErrorStream *s, Error *e, Status st) {
    if (s->f) fclose(s->f);
    char *m = s->text;
    if (strncmp(m, "error: ", 7) == 0) m += 7;
    size_t n = strlen(m);
    while (n > 0 && m[n - 1] == '\n') m[--n] = 0;
    if (st != STATUS_OK) error_set(e, st, "%s", *m ? m : "(said on stderr above)");
    return st;
}

#endif
