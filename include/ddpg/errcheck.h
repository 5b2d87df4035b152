/* errcheck.h - tiny checks that add file and line (named so that it does not
 * shadow Check's <check.h>). */
#ifndef DDPG_ERRCHECK_H
#define DDPG_ERRCHECK_H

#include <stdio.h>
#include <stdlib.h>

static inline void malloc_check_(const void *p, const char *file, int line) {
    if (!p) {
        fprintf(stderr, "error: out of host memory at %s:%d\n", file, line);
        exit(1);
    }
}
#define mallocCheck(p) malloc_check_((p), __FILE__, __LINE__)

static inline FILE *fopen_check_(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) {
        fprintf(stderr, "error: cannot open %s (mode %s) at %s:%d\n", path, mode, file, line);
        perror("  reason");
        exit(1);
    }
    return f;
}
#define fopenCheck(path, mode) fopen_check_((path), (mode), __FILE__, __LINE__)

#endif
