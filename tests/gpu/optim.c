/* optim.c - parity of kernels/optim.cu: one network's optimizer step
 * (clipping to the global norm, Adam, the soft target update). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "parity.h"

enum { CLIP_OFF, CLIP_INACTIVE, CLIP_ACTIVE };

typedef struct {
    const char *name;
    int clip; /* CLIP_OFF: max_norm 0; INACTIVE: far above the norm; ACTIVE: a quarter of it */
    int with_acc;   /* norm_acc given */
    int with_targ;  /* targ given */
} Mode;

static const Mode MODES[] = {
    {"clip off, norm_acc, target", CLIP_OFF, 1, 1},
    {"clip off, no norm, target", CLIP_OFF, 0, 1},
    {"clip inactive", CLIP_INACTIVE, 0, 0},
    {"clip active, norm_acc", CLIP_ACTIVE, 1, 0},
    {"clip active, target", CLIP_ACTIVE, 0, 1},
};
#define N_MODES ((int)(sizeof MODES / sizeof MODES[0]))

/* Four steps of one mode at size n with fresh gradients (one element zero).
 * The norm's parts sum to n, one of them empty for n = 1 (the GPU reduces g
 * as a whole; the CPU sums part by part). p, m, v and the target agree with
 * the CPU's, the accumulator holds its start plus the four norms, and both
 * step counters read 4. */
static void check_mode(Pair *p, size_t n, const Mode *mode) {
    float *x = host_floats(n, -1, 1), *t = host_floats(n, -1, 1);
    const float acc0 = 3.0f;
    Twin tp = twin(p, x, sizeof(float) * n), tt = twin(p, t, sizeof(float) * n);
    Twin tg = twin(p, NULL, sizeof(float) * n), tm = twin(p, NULL, sizeof(float) * n);
    Twin tv = twin(p, NULL, sizeof(float) * n), tacc = twin(p, &acc0, sizeof acc0);
    Twin tstep = twin(p, NULL, sizeof(int64_t));
    size_t parts[3] = {n / 3, n / 2 - n / 3, n - n / 2};
    AdamHyper h = {1e-3f, 0.9f, 0.999f, 1e-8f};
    double norms = 0.0;
    for (int step = 0; step < 4; step++) {
        float *g = host_floats(n, -0.1f, 0.1f);
        if (n > 1) g[0] = 0.0f;
        double ss = 0.0;
        for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
        norms += sqrt(ss);
        float max_norm = mode->clip == CLIP_OFF        ? 0.0f
                         : mode->clip == CLIP_INACTIVE ? 1e9f
                                                       : 0.25f * (float)sqrt(ss);
        twin_set(p, &tg, g);
        p->gpu->optim_step(p->gpu, tp.g, tg.g, tm.g, tv.g, n, parts, 3, max_norm,
                           mode->with_acc ? tacc.g : NULL, h, tstep.g,
                           mode->with_targ ? tt.g : NULL, 0.01f);
        p->cpu->optim_step(p->cpu, tp.c, tg.c, tm.c, tv.c, n, parts, 3, max_norm,
                           mode->with_acc ? tacc.c : NULL, h, tstep.c,
                           mode->with_targ ? tt.c : NULL, 0.01f);
        free(g);
    }
    char what[160];
    snprintf(what, sizeof what, "optim_step n=%zu %s: p", n, mode->name);
    expect_twin_close(p, what, tp.g, tp.c, n, 1e-6, 1e-5);
    snprintf(what, sizeof what, "optim_step n=%zu %s: m", n, mode->name);
    expect_twin_close(p, what, tm.g, tm.c, n, 1e-7, 1e-5);
    snprintf(what, sizeof what, "optim_step n=%zu %s: v", n, mode->name);
    expect_twin_close(p, what, tv.g, tv.c, n, 1e-9, 1e-5);
    if (mode->with_targ) {
        snprintf(what, sizeof what, "optim_step n=%zu %s: target", n, mode->name);
        expect_twin_close(p, what, tt.g, tt.c, n, 1e-6, 1e-5);
    }
    if (mode->with_acc) {
        snprintf(what, sizeof what, "optim_step n=%zu %s: norm_acc", n, mode->name);
        expect_twin_close(p, what, tacc.g, tacc.c, 1, 0, 1e-6);
        float *acc = fetch(p->gpu, tacc.g, sizeof(float));
        ck_assert_float_eq_tol(*acc, acc0 + norms, 1e-5 * (acc0 + norms));
        free(acc);
    }
    ck_assert_int_eq(fetch_i64(p->gpu, tstep.g), 4);
    ck_assert_int_eq(fetch_i64(p->cpu, tstep.c), 4);
    free(x), free(t);
    twin_free(p, &tp), twin_free(p, &tt), twin_free(p, &tg), twin_free(p, &tm);
    twin_free(p, &tv), twin_free(p, &tacc), twin_free(p, &tstep);
}

/* Every mode at sizes from one element to several reduction blocks. */
START_TEST(test_optim_step) {
    Pair *p = parity_pair("optim_step");
    if (!p) return;
    seed_host_rng(14);
    static const size_t ns[] = {1, 65, 4099, 300007};
    for (int s = 0; s < 4; s++)
        for (int m = 0; m < N_MODES; m++) check_mode(p, ns[s], &MODES[m]);
}
END_TEST

void gpu_optim_cases(Suite *s) {
    TCase *tc = parity_tcase("optim");
    tcase_add_test(tc, test_optim_step);
    suite_add_tcase(s, tc);
}
