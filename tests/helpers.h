/* helpers.h - what the Check suites share: running the program (or a shell
 * line) with its output and exit status captured, temporary directories and
 * their removal, and reading the files a run writes. Each helper asserts
 * (Check) on what it cannot do, so that a test reads as its own checks. */
#ifndef DDPG_TESTS_HELPERS_H
#define DDPG_TESTS_HELPERS_H

#include <stddef.h>

#define HELPERS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ---- running (each command line made printf-style) ---- */

/* Runs the shell command line fmt... (in dir when dir is not NULL) with its
 * stderr joined to stdout. Returns the exit status, or -1 when it did not
 * exit (a signal). The output's first len - 1 bytes go to out, NUL-ended,
 * when out is not NULL; the rest is read and dropped, so that the command
 * never dies writing to a closed pipe. */
int run_sh(const char *dir, char *out, size_t len, const char *fmt, ...) HELPERS_PRINTF(4, 5);

/* Runs the program (test_bin(): DDPG_BIN) with the arguments fmt..., as
 * run_sh does. */
int run_program(char *out, size_t len, const char *fmt, ...) HELPERS_PRINTF(3, 4);

/* ---- temporary directories ---- */

/* Makes a new directory /tmp/ddpg_<tag>_XXXXXX; its path in dir. */
void tmpdir_create(char *dir, size_t len, const char *tag);

/* Removes the path and, for a directory, all below it, without following
 * links, as `rm -rf` does (a path that is not there is no error). */
void rm_rf(const char *path);

/* ---- files (each path made printf-style) ---- */

/* Whether the path exists. */
int path_exists(const char *fmt, ...) HELPERS_PRINTF(1, 2);

/* The file's whole text, NUL-ended (malloc'd: the caller frees); asserts
 * that it opens. */
char *file_read(const char *fmt, ...) HELPERS_PRINTF(1, 2);

/* A CSV file's text with column col (0-based) left out of every line, with
 * the comma after it, the newlines kept (col -1: nothing left out); as
 * file_read. For the columns a comparison must pass over (wall_s). */
char *csv_read_without(int col, const char *fmt, ...) HELPERS_PRINTF(2, 3);

/* Writes text as the whole of the file (made or emptied). */
void file_write(const char *text, const char *fmt, ...) HELPERS_PRINTF(2, 3);

/* The file's number of lines (newlines), -1 when it does not open. */
int file_lines(const char *fmt, ...) HELPERS_PRINTF(1, 2);

#endif
