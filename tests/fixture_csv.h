/* fixture_csv.h - reading a fixture of transitions recorded from Gymnasium
 * (tests/fixtures/, made by scripts/gen_..._fixtures.py): a header line, then
 * rows of `cols` numbers. Columns that hold float32 values are read with
 * strtof (exact for their shortest repr), the others with strtod. Tests run
 * from the repository root. */
#ifndef DDPG_TESTS_FIXTURE_CSV_H
#define DDPG_TESTS_FIXTURE_CSV_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    double *v; /* (rows, cols) */
    int rows, cols;
} FixtureCsv;

/* The rows of path, whose first line must start with header; f32 (cols
 * flags) marks the float32 columns; `regen` says how to make the file again. */
static inline FixtureCsv fixture_csv_load(const char *path, const char *header, int cols,
                                          const int *f32, const char *regen) {
    FixtureCsv f = {NULL, 0, cols};
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s (run the tests from the repository root; "
                  "regenerate it with %s)", path, regen);
    char line[1024];
    ck_assert_msg(fgets(line, sizeof line, fp) && strncmp(line, header, strlen(header)) == 0,
                  "%s: unexpected header", path);
    int cap = 0;
    while (fgets(line, sizeof line, fp)) {
        if (f.rows == cap) {
            cap = cap ? 2 * cap : 1024;
            f.v = realloc(f.v, sizeof(double) * (size_t)cap * cols);
            ck_assert_ptr_nonnull(f.v);
        }
        double *v = f.v + (size_t)f.rows * cols;
        char *p = line, *end;
        for (int c = 0; c < cols; c++) {
            v[c] = f32[c] ? strtof(p, &end) : strtod(p, &end);
            int last = c == cols - 1;
            ck_assert_msg(end != p && (*end == (last ? '\n' : ',') || (last && *end == 0)),
                          "%s line %d, column %d: cannot parse", path, f.rows + 2, c);
            p = end + 1;
        }
        f.rows++;
    }
    fclose(fp);
    ck_assert_msg(f.rows > 1000, "%s: only %d rows", path, f.rows);
    return f;
}

#endif
