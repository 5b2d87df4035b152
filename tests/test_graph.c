/* test_graph.c - which CUDA Graph each training iteration gets (graph.h):
 * the pattern of TD3's policy steps, the cache of graphs it keys, and the
 * trainer's choice, through the CPU backend with a fake graph capture that
 * records what it captures and launches. The choice is host logic: no GPU
 * is needed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/checkpoint.h"
#include "ddpg/graph.h"
#include "ddpg/train.h"
#include "helpers.h"
#include "suites.h"

/* Whether update u (counted from 1) is a policy step (ddpg_policy_step). */
static int policy_step(int64_t u, int delay) { return u % delay == 0; }

/* Whether iterations of k updates after `a` and after `b` updates have
 * their policy steps on the same of their updates (the same ops). */
static int same_policy_steps(int64_t a, int64_t b, int k, int delay) {
    for (int j = 0; j < k; j++)
        if (policy_step(a + j + 1, delay) != policy_step(b + j + 1, delay)) return 0;
    return 1;
}

/* Patterns among n iterations of k updates from `begun` on. */
static int distinct_patterns(int64_t begun, int n, int k, int delay) {
    int d = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++)
            seen |= same_policy_steps(begun + (int64_t)i * k, begun + (int64_t)j * k, k, delay);
        d += !seen;
    }
    return d;
}

/* ---- the pattern and the cache ---- */

/* Two iterations get the same pattern exactly when their policy steps fall
 * on the same of their updates, for any number of updates (64 fills a
 * 64-bit mask, 65 and 128 overflow it), also far into a run; a delay d has
 * at most min(d, k + 1) patterns. */
START_TEST(test_pattern_names_policy_steps) {
    static const int KS[] = {1, 2, 4, 63, 64, 65, 128};
    static const int64_t FROM[] = {0, 1000000000007LL};
    for (size_t i = 0; i < sizeof KS / sizeof KS[0]; i++)
        for (int delay = 1; delay <= 7; delay++)
            for (int f = 0; f < 2; f++) {
                int k = KS[i], n = 0;
                uint64_t seen[16];
                for (int64_t a = FROM[f]; a < FROM[f] + 2 * delay; a++) {
                    uint64_t pa = graph_policy_pattern(a, k, delay);
                    int known = 0;
                    for (int j = 0; j < n; j++) known |= seen[j] == pa;
                    if (!known) seen[n++] = pa;
                    for (int64_t b = FROM[f]; b < FROM[f] + 2 * delay; b++) {
                        int same = pa == graph_policy_pattern(b, k, delay);
                        ck_assert_msg(same == same_policy_steps(a, b, k, delay),
                                      "k %d, delay %d: after %lld and %lld updates", k, delay,
                                      (long long)a, (long long)b);
                    }
                }
                ck_assert_int_le(n, delay < k + 1 ? delay : k + 1);
            }
}
END_TEST

/* A slot per pattern, the same slot for the same pattern, none once every
 * slot is taken; only instantiated graphs count. */
START_TEST(test_cache_slots) {
    GraphCache c;
    memset(&c, 0, sizeof c);
    BackendGraph *g7 = graph_cache_get(&c, 7);
    ck_assert_ptr_nonnull(g7);
    ck_assert_ptr_eq(graph_cache_get(&c, 7), g7);
    for (uint64_t p = 0; p + 1 < GRAPH_CACHE_SLOTS; p++)
        ck_assert_ptr_nonnull(graph_cache_get(&c, 100 + p));
    ck_assert_int_eq(c.n, GRAPH_CACHE_SLOTS);
    ck_assert_ptr_null(graph_cache_get(&c, 1));
    ck_assert_ptr_eq(graph_cache_get(&c, 7), g7);
    ck_assert_int_eq(graph_cache_count(&c), 0); /* slots taken, none captured */
    static int exec;
    g7->exec = &exec;
    ck_assert_int_eq(graph_cache_count(&c), 1);
}
END_TEST

/* ---- the trainer, with a fake capture ---- */

/* A graph the fake captured: the iteration it was captured for. */
typedef struct {
    int64_t begun; /* the agent's updates before it */
    int updates;   /* gradient updates in it (replay samples recorded) */
} FakeGraph;

/* The fake's record. A capture on the CPU runs the ops (they are not
 * deferred), and a launch runs nothing: the run's numbers are not the point
 * here, only which graph each iteration takes. */
typedef struct {
    const Trainer *t;
    int fail;                 /* every capture fails (at its end) */
    int capturing, just_captured;
    int64_t begun;            /* of the capture under way or just made */
    int samples;              /* replay samples in the capture under way */
    FakeGraph graph[32];
    int n_graphs;
    int update_launches;      /* launches of graphs with updates */
    int mismatched;           /* launches for an iteration of other policy steps */
    int64_t eager_updates;    /* updates run op by op (outside any graph) */
    int64_t next_clock;       /* the agent's count the next of them should see */
    int clock_jumps;          /* those that saw another */
    void (*replay_sample)(Backend *, const Replay *, Batch *, uint64_t, uint64_t *);
} Fake;

static Fake fake;

static int fake_capture_begin(Backend *be) {
    fake.capturing = 1;
    fake.begun = fake.t->agent.updates;
    fake.samples = 0;
    return 0;
}

static int fake_capture_end(Backend *be, void **exec) {
    fake.capturing = 0;
    *exec = NULL;
    if (fake.fail || fake.n_graphs == 32) return -1;
    FakeGraph *g = &fake.graph[fake.n_graphs++];
    g->begun = fake.begun;
    g->updates = fake.samples;
    fake.just_captured = 1;
    *exec = g;
    return 0;
}

/* The first launch follows its capture, whose host code has counted the
 * updates already; later launches come before the loop counts them. */
static void fake_graph_launch(Backend *be, void *exec) {
    const FakeGraph *g = exec;
    int64_t begun = fake.just_captured ? fake.begun : fake.t->agent.updates;
    fake.just_captured = 0;
    if (g->updates == 0) return;
    fake.update_launches++;
    fake.mismatched += !same_policy_steps(g->begun, begun, g->updates,
                                          fake.t->agent.p.policy_delay);
}

static void fake_graph_destroy(Backend *be, void *exec) {}

static void fake_replay_sample(Backend *be, const Replay *r, Batch *b, uint64_t seed,
                               uint64_t *ctr) {
    if (fake.capturing) {
        fake.samples++;
    } else {
        fake.eager_updates++;
        fake.clock_jumps += fake.t->agent.updates != fake.next_clock;
        fake.next_clock = fake.t->agent.updates + 1;
    }
    fake.replay_sample(be, r, b, seed, ctr);
}

/* The CPU backend with the fake's capture; a fresh record. */
static Backend *fake_backend(int fail) {
    Backend *be = backend_cpu_create(1);
    memset(&fake, 0, sizeof fake);
    fake.fail = fail;
    fake.replay_sample = be->replay_sample;
    be->replay_sample = fake_replay_sample;
    be->capture_begin = fake_capture_begin;
    be->capture_end = fake_capture_end;
    be->graph_launch = fake_graph_launch;
    be->graph_destroy = fake_graph_destroy;
    return be;
}

/* TD3 on 4 envs: 16 iterations of random actions, then from env step 64
 * the policy's with k updates each (never the two phases mixed). */
static Config small_config(int k, int delay, int64_t total_steps) {
    Config c;
    config_defaults(&c);
    c.algo = ALGO_TD3;
    c.policy_delay = delay;
    c.envs = 4;
    c.start_steps = 64;
    c.update_after = 65;
    c.updates_per_step = k;
    c.batch_size = 16;
    c.hidden[0] = c.hidden[1] = 16;
    c.replay_size = 4096;
    c.save_replay = 1; /* a resumed run updates from its first iteration on */
    c.eval_every = 0;
    c.probe_n = 0;
    c.quiet = 1;
    c.total_steps = total_steps;
    return c;
}

#define START_UPDATES 64 /* the env step of the first iteration with updates */

/* Runs t from where it is to its total steps; checks that every iteration
 * with updates replayed a graph of its own policy steps and that the cache
 * holds a graph per pattern met. Returns the eager updates. */
static int64_t run_checked(Trainer *t, int expect_graphs_all) {
    const Config *c = t->cfg;
    int k = c->updates_per_step, delay = t->agent.p.policy_delay;
    int64_t from = t->prog.global_step > START_UPDATES ? t->prog.global_step : START_UPDATES;
    int iters = (int)((c->total_steps - from) / c->envs);
    int64_t begun = t->agent.updates;
    fake.t = t;
    fake.update_launches = fake.mismatched = 0;
    fake.eager_updates = 0;
    fake.next_clock = begun;
    fake.clock_jumps = 0;
    Error err = {STATUS_OK, ""};
    RunSummary s;
    ck_assert_msg(trainer_run(t, &s, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(t->agent.updates, begun + (int64_t)iters * k);
    ck_assert_int_eq(s.updates, t->agent.updates);
    ck_assert_int_eq(fake.mismatched, 0);
    if (expect_graphs_all) {
        ck_assert_int_eq(fake.update_launches, iters);
        ck_assert_int_eq(fake.eager_updates, 0);
        ck_assert_int_eq(graph_cache_count(&t->graphs.update),
                         distinct_patterns(begun, iters, k, delay));
    }
    return fake.eager_updates;
}

/* The agent's count, and the progress's name for it, in a checkpoint. */
static void expect_saved_updates(const char *path, int64_t want) {
    CkptFile f;
    Error why = {STATUS_OK, ""};
    ck_assert_msg(ckpt_open(&f, path, &why) == STATUS_OK, "%s", why.msg);
    const char *names[] = {"updates", "train.updates"};
    for (int i = 0; i < 2; i++) {
        const CkptEntry *e = ckpt_find(&f, names[i]);
        ck_assert_msg(e != NULL, "no %s in the checkpoint", names[i]);
        int64_t v = -1;
        ck_assert_msg(ckpt_read(&f, e, 0, &v, sizeof v, &why) == STATUS_OK, "%s", why.msg);
        ck_assert_msg(v == want, "%s: %lld, want %lld", names[i], (long long)v, (long long)want);
    }
    ckpt_close(&f);
}

static const struct {
    int k, delay;
} CASES[] = {{1, 1},  {1, 2},  {1, 3},  {4, 1},  {4, 2},  {4, 3},
             {64, 1}, {64, 2}, {64, 3}, {65, 1}, {65, 2}, {65, 3}};

/* 1, 4, 64 and 65 updates an iteration at delays 1 to 3: every iteration
 * with updates replays the graph of its own pattern of policy steps, one
 * graph per pattern (64 at delay 2: one; 65 at delay 2: two, alternating),
 * none runs op by op; the same after a resume at an odd update count (5
 * iterations of 1 or 65 updates), from the one count the checkpoint holds
 * under both its names. */
START_TEST(test_trainer_graph_per_pattern) {
    int k = CASES[_i].k, delay = CASES[_i].delay;
    char dir[64], path[128];
    tmpdir_create(dir, sizeof dir, "graph");
    snprintf(path, sizeof path, "%s/checkpoint.bin", dir);
    Backend *be = fake_backend(0);
    Error err = {STATUS_OK, ""};
    Config first = small_config(k, delay, START_UPDATES + 5 * 4);
    Config whole = small_config(k, delay, START_UPDATES + 11 * 4);
    RunLog log;
    Trainer a, b;
    ck_assert_msg(trainer_create(&a, &first, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(runlog_open(&log, dir, DDPG_METRIC_NAMES, a.agent.n_metrics, &err) == STATUS_OK,
                  "%s", err.msg);
    a.log = &log;
    run_checked(&a, 1);
    ck_assert_ptr_nonnull(a.graphs.explore.exec);
    ck_assert_msg(runlog_close(&log, &err) == STATUS_OK, "%s", err.msg);
    trainer_destroy(&a);
    expect_saved_updates(path, 5 * k);

    ck_assert_msg(trainer_create(&b, &whole, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(checkpoint_load(&b, path, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(b.agent.updates, 5 * k);
    ck_assert_msg(runlog_reopen(&log, dir, b.prog.csv_bytes, &err) == STATUS_OK, "%s", err.msg);
    b.log = &log;
    run_checked(&b, 1);
    ck_assert_msg(runlog_close(&log, &err) == STATUS_OK, "%s", err.msg);
    trainer_destroy(&b);
    be->destroy(be);
    rm_rf(dir);
}
END_TEST

/* More patterns than slots (4 updates at a delay of 7: the first policy step
 * at index 0, 1, 2, 3 or none): the fifth pattern met runs op by op, the
 * four before it through their graphs. */
START_TEST(test_trainer_cache_full) {
    Backend *be = fake_backend(0);
    Config c = small_config(4, 7, START_UPDATES + 10 * 4);
    Trainer t;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&t, &c, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(distinct_patterns(0, 10, 4, 7), GRAPH_CACHE_SLOTS + 1);
    int64_t eager = run_checked(&t, 0);
    ck_assert_int_eq(graph_cache_count(&t.graphs.update), GRAPH_CACHE_SLOTS);
    ck_assert_int_eq(eager, 4); /* one iteration (the 7th) of the fifth pattern */
    ck_assert_int_eq(fake.update_launches, 10 - 1);
    trainer_destroy(&t);
    be->destroy(be);
}
END_TEST

/* Captures that fail leave their slots taken but hold no graph: the cache
 * counts none, and every iteration runs op by op, each update on its own
 * count (the iteration that follows a failed capture too: the capture's host
 * code has counted its updates already). */
START_TEST(test_trainer_capture_fails) {
    Backend *be = fake_backend(1);
    Config c = small_config(3, 2, START_UPDATES + 6 * 4);
    Trainer t;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&t, &c, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    int64_t eager = run_checked(&t, 0);
    ck_assert_int_eq(t.graphs.update.n, 2); /* 3 updates at delay 2: two patterns */
    ck_assert_int_eq(graph_cache_count(&t.graphs.update), 0);
    ck_assert_ptr_null(t.graphs.explore.exec);
    ck_assert_int_eq(eager, 6 * 3);
    ck_assert_int_eq(fake.clock_jumps, 0);
    ck_assert_int_eq(fake.update_launches, 0);
    trainer_destroy(&t);
    be->destroy(be);
}
END_TEST

Suite *graph_suite(void) {
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("pattern");
    tcase_add_test(tc, test_pattern_names_policy_steps);
    tcase_add_test(tc, test_cache_slots);
    suite_add_tcase(s, tc);
    tc = tcase_create("trainer");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_trainer_graph_per_pattern, 0,
                        (int)(sizeof CASES / sizeof CASES[0]));
    tcase_add_test(tc, test_trainer_cache_full);
    tcase_add_test(tc, test_trainer_capture_fails);
    suite_add_tcase(s, tc);
    return s;
}
