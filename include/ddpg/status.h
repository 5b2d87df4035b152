/* status.h - the one error convention: a Status, whose values are the exit
 * statuses the README documents, and an Error that carries it with its
 * message.
 *
 * A function that can fail returns a Status and, when it fails, fills the
 * caller's Error (error_set) instead of printing: a library never prints and
 * never exits; the program prints the message once, where it decides to stop
 * (error_print), and exits with the status. Warnings (what will not go as the
 * options suggest) are not errors: they go to a FILE * the caller gives.
 */
#ifndef DDPG_STATUS_H
#define DDPG_STATUS_H

#include <stdarg.h>
#include <stdio.h>

typedef enum {
    STATUS_OK = 0,
    STATUS_BAD_INPUT = 2, /* command line, config, checkpoint, memory that cannot be had */
    STATUS_DIVERGED = 3,  /* a loss or parameter not finite */
    STATUS_IO = 4,        /* a file that could not be written (a full disk) */
    STATUS_SIGINT = 130,  /* stopped by SIGINT, after logs, checkpoint and report */
    STATUS_SIGTERM = 143  /* stopped by SIGTERM, likewise */
} Status;

#define ERROR_MSG_MAX 2048

typedef struct {
    Status status;          /* STATUS_OK: nothing went wrong */
    char msg[ERROR_MSG_MAX]; /* what went wrong, naming the option, file or value; no
                               "error: " prefix, no final newline */
} Error;

/* Sets e's status and message (printf format) and returns s; e may be NULL
 * (the caller wants the status only). The first failure is kept: a cleanup
 * that fails after it does not hide the cause. */
static inline Status error_set(Error *e, Status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline Status error_set(Error *e, Status s, const char *fmt, ...) {
    if (e && e->status == STATUS_OK) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        e->status = s;
    }
    return s;
}

/* Clears e: no error. */
static inline void error_clear(Error *e) {
    e->status = STATUS_OK;
    e->msg[0] = 0;
}

/* "error: MESSAGE\n" on f, when e holds an error. */
static inline void error_print(const Error *e, FILE *f) {
    if (e->status != STATUS_OK) fprintf(f, "error: %s\n", e->msg);
}

#endif
