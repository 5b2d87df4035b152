/* errcheck.h - tiny checks that add file and line (named so that it does not
 * shadow Check's <check.h>).
 *
 * Out of memory is bad input, as everywhere in this program: exit status 2
 * with a message. Buffers whose size an option sets come from tensor lists
 * (tensor.h), whose messages name that option; mallocCheck guards the small
 * fixed-size rest. */
#ifndef DDPG_ERRCHECK_H
#define DDPG_ERRCHECK_H

#include <stdio.h>
#include <stdlib.h>

static inline void malloc_check_(const void *p, const char *file, int line) {
    if (!p) {
        fprintf(stderr, "error: out of host memory at %s:%d\n", file, line);
        exit(2);
    }
}
#define mallocCheck(p) malloc_check_((p), __FILE__, __LINE__)

#endif
