/* helpers.c - the shared helpers of the Check suites (helpers.h). */
#include "helpers.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "suites.h"

/* ---- running ---- */

/* Runs the command line prefix fmt... with stderr joined, as run_sh says. */
static int run_line(const char *prefix, char *out, size_t len, const char *fmt, va_list ap) {
    char cmd[8192], sink[4096];
    int k = snprintf(cmd, sizeof cmd, "%s", prefix);
    int n = k >= 0 && (size_t)k < sizeof cmd ? vsnprintf(cmd + k, sizeof cmd - k, fmt, ap) : -1;
    ck_assert_msg(n >= 0 && (size_t)(k + n) + sizeof " 2>&1" <= sizeof cmd,
                  "command line too long: %s%s", prefix, fmt);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run: %s", cmd);
    size_t got = fread(out ? out : sink, 1, (out ? len : sizeof sink) - 1, p);
    (out ? out : sink)[got] = 0;
    while (fread(sink, 1, sizeof sink, p) > 0) {}
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int run_sh(const char *dir, char *out, size_t len, const char *fmt, ...) {
    char cd[4200] = "";
    if (dir) ck_assert((size_t)snprintf(cd, sizeof cd, "cd '%s' && ", dir) < sizeof cd);
    va_list ap;
    va_start(ap, fmt);
    int rc = run_line(cd, out, len, fmt, ap);
    va_end(ap);
    return rc;
}

int run_program(char *out, size_t len, const char *fmt, ...) {
    char bin[4200];
    ck_assert((size_t)snprintf(bin, sizeof bin, "%s ", test_bin()) < sizeof bin);
    va_list ap;
    va_start(ap, fmt);
    int rc = run_line(bin, out, len, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- temporary directories ---- */

void tmpdir_create(char *dir, size_t len, const char *tag) {
    int k = snprintf(dir, len, "/tmp/ddpg_%s_XXXXXX", tag);
    ck_assert_msg(k > 0 && (size_t)k < len, "no room for the directory's name");
    ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp %s: %s", dir, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    ck_assert_msg(remove(path) == 0, "cannot remove %s: %s", path, strerror(errno));
    return 0;
}

void rm_rf(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0 && errno == ENOENT) return;
    /* depth first (the contents before their directory), links not followed */
    ck_assert_msg(nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "cannot remove %s: %s",
                  path, strerror(errno));
}

/* ---- files ---- */

/* Declares char path[] and makes it from fmt and the arguments after it. */
#define PATH_FROM_ARGS(path, fmt)                                                            \
    char path[4096];                                                                         \
    do {                                                                                     \
        va_list ap_;                                                                         \
        va_start(ap_, fmt);                                                                  \
        int k_ = vsnprintf(path, sizeof path, fmt, ap_);                                     \
        va_end(ap_);                                                                         \
        ck_assert_msg(k_ > 0 && (size_t)k_ < sizeof path, "path too long: %s", fmt);         \
    } while (0)

int path_exists(const char *fmt, ...) {
    PATH_FROM_ARGS(path, fmt);
    struct stat st;
    return stat(path, &st) == 0;
}

char *file_read(const char *fmt, ...) {
    PATH_FROM_ARGS(path, fmt);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no %s", path);
    size_t cap = 1 << 16, n = 0, k;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    while ((k = fread(text + n, 1, cap - n - 1, f)) > 0) {
        n += k;
        if (n + 1 == cap) {
            text = realloc(text, cap *= 2);
            ck_assert_ptr_nonnull(text);
        }
    }
    ck_assert_msg(!ferror(f), "cannot read %s", path);
    fclose(f);
    text[n] = 0;
    return text;
}

char *csv_read_without(int col, const char *fmt, ...) {
    PATH_FROM_ARGS(path, fmt);
    char *text = file_read("%s", path);
    size_t n = 0;
    int k = 0; /* the column of the character at p */
    for (const char *p = text; *p; p++) {
        if (*p == '\n' || k != col) text[n++] = *p;
        k = *p == '\n' ? 0 : k + (*p == ',');
    }
    text[n] = 0;
    return text;
}

void file_write(const char *text, const char *fmt, ...) {
    PATH_FROM_ARGS(path, fmt);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s: %s", path, strerror(errno));
    ck_assert_msg(fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

int file_lines(const char *fmt, ...) {
    PATH_FROM_ARGS(path, fmt);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}
