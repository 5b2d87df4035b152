/* bench_gemm_rows.c - what the CPU backend's GEMM row blocks cost and keep.
 *
 *   build/bench/bench_gemm_rows [reps]
 *
 * The CPU backend cuts a GEMM into blocks of 128 rows of C by its shape alone
 * (src/backend/cpu/dense.c), and the update schedule cuts the Q(s, mu(s)) pass at a
 * multiple of 32 rows below two blocks (src/backend/cpu/update.c), because OpenBLAS
 * may round a row differently with the number of rows in its call. For the
 * update's products at 256 hidden units this prints:
 *  - the time of one call against 128- and 64-row blocks (best of reps
 *    rounds of 50 calls, one thread), and
 *  - whether cutting the rows in two at a multiple of 32 (every such cut,
 *    and a cut at 16 for contrast) gives the whole call's bits.
 * Last line: one JSON object (with bench_common.h's figures: the times).
 * OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE pick OpenBLAS's kernel: run with
 * both unset (env -u ...); the kernel is printed. */
#include "bench_common.h"

typedef struct {
    const char *what;
    int ta, tb, m, n, k;
} Shape;

/* The update's products at batch 128 (forward x W^T, dX = dz W, dW = dz^T h,
 * the critic's one-output layer), the forward at batch 256, and a small
 * layer at batch 65, where a cut near either end changes bits. */
static const Shape SHAPES[] = {
    {"forward 128x256x256 (NT)", 0, 1, 128, 256, 256},
    {"dX 128x256x256 (NN)", 0, 0, 128, 256, 256},
    {"dW 256x256x128 (TN)", 1, 0, 256, 256, 128},
    {"forward 256x256x256 (NT)", 0, 1, 256, 256, 256},
    {"critic out 128x1x256 (NT)", 0, 1, 128, 1, 256},
    {"dX to input 128x4x256 (NN)", 0, 0, 128, 4, 256},
    {"input 128x256x4 (NN)", 0, 0, 128, 256, 4},
    {"hidden 64: 65x64x64 (NT)", 0, 1, 65, 64, 64},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

/* C(o:o+len, :) of the shape's product, one OpenBLAS call. */
static void rows_call(const Shape *s, const float *A, const float *B, float *C, int o, int len) {
    int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
    const float *a = A + (s->ta ? (size_t)o : (size_t)o * lda);
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                s->tb ? CblasTrans : CblasNoTrans, len, s->n, s->k, 1.0f, a, lda, B, ldb, 0.0f,
                C + (size_t)o * s->n, s->n);
}

static void blocked(const Shape *s, const float *A, const float *B, float *C, int block) {
    for (int o = 0; o < s->m; o += block)
        rows_call(s, A, B, C, o, s->m - o < block ? s->m - o : block);
}

/* Best microseconds per product over reps rounds of 50. */
static double time_blocks(const Shape *s, const float *A, const float *B, float *C, int block,
                          int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = bench_now_s();
        for (int i = 0; i < 50; i++) blocked(s, A, B, C, block);
        double t = (bench_now_s() - t0) / 50 * 1e6;
        if (t < best) best = t;
    }
    return best;
}

/* Cuts at multiples of `step` (0 < cut < m) that change a bit of C. */
static int bad_cuts(const Shape *s, const float *A, const float *B, const float *whole, float *C,
                    int step, int *cuts) {
    int bad = 0;
    *cuts = 0;
    for (int cut = step; cut < s->m; cut += step) {
        rows_call(s, A, B, C, 0, cut);
        rows_call(s, A, B, C, cut, s->m - cut);
        bad += memcmp(C, whole, sizeof(float) * (size_t)s->m * s->n) != 0;
        ++*cuts;
    }
    return bad;
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 7;
    if (reps < 1 || reps > 1000) {
        fprintf(stderr, "usage: %s [reps in 1..1000]\n", argv[0]);
        return 2;
    }
    openblas_set_num_threads(1);
    printf("OpenBLAS core %s, one thread; best of %d rounds of 50 products\n",
           openblas_get_corename(), reps);
    printf("%-28s %9s %9s %9s  %-14s %s\n", "product", "whole us", "128 rows", "64 rows",
           "cuts at 32k", "cuts at 16");
    char json[N_SHAPES][256];
    BenchRows rows;
    if (bench_rows_open(&rows)) return 1;
    srand(1);
    for (int i = 0; i < N_SHAPES; i++) {
        const Shape *s = &SHAPES[i];
        size_t na = (size_t)s->m * s->k, nb = (size_t)s->n * s->k, nc = (size_t)s->m * s->n;
        float *A = malloc(sizeof(float) * na), *B = malloc(sizeof(float) * nb);
        float *C = malloc(sizeof(float) * nc), *whole = malloc(sizeof(float) * nc);
        if (!A || !B || !C || !whole) return 1;
        for (size_t j = 0; j < na; j++) A[j] = (float)rand() / RAND_MAX - 0.5f;
        for (size_t j = 0; j < nb; j++) B[j] = (float)rand() / RAND_MAX - 0.5f;
        rows_call(s, A, B, whole, 0, s->m);
        double t_whole = time_blocks(s, A, B, C, s->m, reps);
        double t128 = time_blocks(s, A, B, C, 128, reps), t64 = time_blocks(s, A, B, C, 64, reps);
        int c32, c16;
        int bad32 = bad_cuts(s, A, B, whole, C, 32, &c32);
        int bad16 = bad_cuts(s, A, B, whole, C, 16, &c16);
        char b32[32], b16[32];
        snprintf(b32, sizeof b32, "%d of %d differ", bad32, c32);
        snprintf(b16, sizeof b16, "%d of %d differ", bad16, c16);
        printf("%-28s %9.1f %9.1f %9.1f  %-14s %s\n", s->what, t_whole, t128, t64, b32, b16);
        static const char *const ways[3] = {"whole", "128-row blocks", "64-row blocks"};
        const double ts[3] = {t_whole, t128, t64};
        for (int w = 0; w < 3; w++) {
            char cfg[96];
            snprintf(cfg, sizeof cfg, "%s, %s", s->what, ways[w]);
            BenchRow r = {"cpu", 1, "sgemm_us", NULL, 0, 0, NULL, cfg, ts[w], "us",
                          2.0 * s->m * s->n * s->k, NAN, NAN};
            bench_rows_add(&rows, &r);
        }
        snprintf(json[i], sizeof json[i],
                 "{\"shape\": \"%s\", \"whole_us\": %.1f, \"rows128_us\": %.1f, "
                 "\"rows64_us\": %.1f, \"bad_cuts_32\": %d, \"bad_cuts_16\": %d}",
                 s->what, t_whole, t128, t64, bad32, bad16);
        free(A), free(B), free(C), free(whole);
    }
    printf("{\"bench\": \"gemm_rows\", \"openblas_core\": \"%s\", \"shapes\": [",
           openblas_get_corename());
    for (int i = 0; i < N_SHAPES; i++) printf("%s%s", i ? ", " : "", json[i]);
    printf("], ");
    bench_rows_print(&rows);
    printf("}\n");
    return 0;
}
