/* fixture_csv.h - reading a fixture of transitions recorded from Gymnasium
 * (tests/fixtures/, made by scripts/gen_..._fixtures.py): a header line, then
 * rows of numbers. A test defines its row, struct FixtureRow, and states
 * the file's columns once, in a table of (name, field of the row, type):
 * the header, the parsing and the decoding all follow from it. Columns that hold float32 values are read
 * with strtof (exact for their shortest repr), the others with strtod. Tests
 * run from the repository root. */
#ifndef DDPG_TESTS_FIXTURE_CSV_H
#define DDPG_TESTS_FIXTURE_CSV_H

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a column is stored: an int (its value read as a double, then cast),
 * a float64 or a float32. */
typedef enum { COL_INT, COL_F64, COL_F32 } FixtureColType;

/* A column of the file: its name in the header, where in the row struct it
 * goes and how many bytes the field has there (checked against its type). */
typedef struct {
    const char *name;
    size_t offset, bytes;
    FixtureColType type;
} FixtureCol;

/* A row of the fixture: each test's own struct, defined by the test. */
typedef struct FixtureRow FixtureRow;

/* The rows of a fixture file. */
typedef struct {
    FixtureRow *rows; /* (n) host, malloc'd: the caller frees */
    int n;
} Fixture;

/* A column named name that fills field (of type type) of the FixtureRow. */
#define FIXTURE_COL(name, field, type) \
    {name, offsetof(FixtureRow, field), sizeof(((FixtureRow *)0)->field), type}

/* The rows of path, whose first line must start with the columns' names
 * (n_cols of them, comma-separated), each decoded into a FixtureRow of
 * row_bytes. `regen` says how to make the file again. */
static inline Fixture fixture_csv_load(const char *path, const FixtureCol *cols, int n_cols,
                                       size_t row_bytes, const char *regen) {
    char header[1024] = "";
    for (int c = 0; c < n_cols; c++) {
        static const size_t bytes[] = {[COL_INT] = sizeof(int), [COL_F64] = sizeof(double),
                                       [COL_F32] = sizeof(float)};
        ck_assert_msg(cols[c].bytes == bytes[cols[c].type], "column %s: field of %zu bytes",
                      cols[c].name, cols[c].bytes);
        ck_assert(strlen(header) + strlen(cols[c].name) + 2 < sizeof header);
        strcat(strcat(header, c ? "," : ""), cols[c].name);
    }
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s (run the tests from the repository root; "
                  "regenerate it with %s)", path, regen);
    char line[1024];
    ck_assert_msg(fgets(line, sizeof line, fp) && strncmp(line, header, strlen(header)) == 0,
                  "%s: unexpected header", path);
    char *rows = NULL;
    int cap = 0, n = 0;
    while (fgets(line, sizeof line, fp)) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            rows = realloc(rows, row_bytes * (size_t)cap);
            ck_assert_ptr_nonnull(rows);
        }
        char *row = rows + row_bytes * (size_t)n, *p = line, *end;
        for (int c = 0; c < n_cols; c++) {
            void *at = row + cols[c].offset;
            if (cols[c].type == COL_F32) *(float *)at = strtof(p, &end);
            else if (cols[c].type == COL_F64) *(double *)at = strtod(p, &end);
            else *(int *)at = (int)strtod(p, &end);
            int last = c == n_cols - 1;
            ck_assert_msg(end != p && (*end == (last ? '\n' : ',') || (last && *end == 0)),
                          "%s line %d, column %d: cannot parse", path, n + 2, c);
            p = end + 1;
        }
        n++;
    }
    fclose(fp);
    ck_assert_msg(n > 1000, "%s: only %d rows", path, n);
    return (Fixture){(FixtureRow *)rows, n};
}

#endif
