/* test_main.c - runs every Check suite; exit status from the failure count. */
#include <check.h>
#include <stdlib.h>

#include "suites.h"

int main(void) {
    SRunner *sr = srunner_create(NULL);
    for (int i = 0; ALL_SUITES[i]; i++) srunner_add_suite(sr, ALL_SUITES[i]());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
