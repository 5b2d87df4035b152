/* trainer.c - TD3 with LayerNorm and OU noise through the whole trainer on
 * the GPU, compared with what the same GPU can reproduce bit for bit
 * (issue 23): the iteration replayed as CUDA Graphs against the same run op
 * by op, and a run saved and resumed against one run straight through. The
 * same kernels on the same inputs in the same order give the same bits, so
 * any difference is a missing stream join, a graph that replays stale
 * host-side values, or state a checkpoint leaves out. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/checkpoint.h"
#include "ddpg/train.h"
#include "parity.h"

/* TD3 (delay 2) with LayerNorm and OU noise on 16 envs, 3 updates an
 * iteration: TD3's two patterns of policy steps alternate. */
static Config td3_config(int64_t total_steps) {
    Config c;
    config_defaults(&c);
    c.envs = 16;
    c.hidden[0] = c.hidden[1] = 64;
    c.batch_size = 64;
    c.start_steps = c.update_after = 640;
    c.updates_per_step = 3;
    c.algo = ALGO_TD3;
    c.policy_delay = 2;
    c.layer_norm = 1;
    c.noise = NOISE_OU;
    c.eval_every = 0;
    c.probe_n = 0;
    c.replay_size = 20000;
    c.save_replay = 1;
    c.quiet = 1;
    c.total_steps = total_steps;
    return c;
}

/* Every state tensor of one list (the agent's or the trainer's) the same,
 * byte for byte, in a and b (lists of the same shapes, on one GPU). */
static void expect_list_identical(Pair *same, const TensorList *la, const TensorList *lb,
                                  const char *what) {
    ck_assert_int_eq(la->n, lb->n);
    for (int i = 0; i < la->n; i++) {
        const Tensor *x = &la->t[i], *y = &lb->t[i];
        if (x->kind != TENSOR_STATE) continue;
        char name[160];
        snprintf(name, sizeof name, "%s: %s", what, x->name);
        ck_assert_str_eq(x->name, y->name);
        ck_assert_uint_eq(tensor_bytes(x), tensor_bytes(y));
        if (tensor_on_host(x))
            ck_assert_msg(memcmp(tensor_ptr(x), tensor_ptr(y), tensor_bytes(x)) == 0,
                          "%s differs", name);
        else
            expect_twin_equal(same, name, tensor_ptr(x), tensor_ptr(y), tensor_bytes(x));
    }
}

void expect_trainers_identical(Pair *same, Trainer *a, Trainer *b, const char *what) {
    TensorList la, lb;
    tensors_init(&la);
    tensors_init(&lb);
    ddpg_tensors(&a->agent, &la);
    ddpg_tensors(&b->agent, &lb);
    expect_list_identical(same, &la, &lb, what);
    tensors_release(&la);
    tensors_release(&lb);
    tensors_init(&la);
    tensors_init(&lb);
    trainer_tensors(a, &la);
    trainer_tensors(b, &lb);
    expect_list_identical(same, &la, &lb, what);
    tensors_release(&la);
    tensors_release(&lb);
    ck_assert_int_eq(a->agent.updates, b->agent.updates);
    ck_assert_int_eq(a->prog.global_step, b->prog.global_step);
    ck_assert_int_eq(a->prog.episodes, b->prog.episodes);
}

/* The run through its graphs (one for the random phase, one per pattern of
 * policy steps) against the same run op by op: a backend table like the GPU's
 * without capture (backend_graph_run then runs every iteration eagerly). */
START_TEST(test_graphs_against_eager) {
    Pair *p = parity_pair("graphs_against_eager");
    if (!p) return;
    Pair same = {p->gpu, p->gpu};
    Backend eager = *p->gpu; /* the same device and streams; no graphs */
    eager.capture_begin = NULL;
    Config c = td3_config(2400);
    RunSummary s;
    Trainer a, b;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(&a, &c, p->gpu, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_run(&a, &s, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_create(&b, &c, &eager, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_run(&b, &s, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_ptr_nonnull(a.graphs.explore.exec);
    ck_assert_int_eq(graph_cache_count(&a.graphs.update), 2); /* delay 2, 3 updates */
    ck_assert_int_eq(graph_cache_count(&b.graphs.update), 0);
    ck_assert_int_eq(a.agent.updates, (2400 - 640) / 16 * 3 + 3);
    expect_trainers_identical(&same, &a, &b, "graphs against eager");
    trainer_destroy(&a);
    trainer_destroy(&b);
}
END_TEST

int64_t train_straight_and_resumed(Backend *be, const Config *whole, const Config *first,
                                   Trainer *a, Trainer *c) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/ddpg_gpu_resume_%d.bin", (int)getpid());
    RunSummary s;
    Trainer b;
    Error err = {STATUS_OK, ""};
    ck_assert_msg(trainer_create(a, whole, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_run(a, &s, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_create(&b, first, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(trainer_run(&b, &s, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(checkpoint_save(&b, path, &err) == STATUS_OK, "%s", err.msg);
    int64_t saved_updates = b.agent.updates;
    trainer_destroy(&b);
    ck_assert_msg(trainer_create(c, whole, be, NULL, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_msg(checkpoint_load(c, path, &err) == STATUS_OK, "%s", err.msg);
    ck_assert_int_eq(c->prog.global_step, first->total_steps);
    ck_assert_int_eq(c->agent.updates, saved_updates);
    ck_assert_msg(trainer_run(c, &s, &err) == STATUS_OK, "%s", err.msg);
    unlink(path);
    return saved_updates;
}

/* 2400 env steps in one run, and 1216 saved (replay included), loaded into a
 * new trainer at an odd update count (between two policy steps) and run on
 * to 2400: the same state. */
START_TEST(test_td3_resume_exact) {
    Pair *p = parity_pair("td3_resume_exact");
    if (!p) return;
    Pair same = {p->gpu, p->gpu};
    Config whole = td3_config(2400), first = td3_config(1216);
    Trainer a, c;
    int64_t saved = train_straight_and_resumed(p->gpu, &whole, &first, &a, &c);
    ck_assert_int_eq(saved % 2, 1); /* the resume starts between policy steps */
    expect_trainers_identical(&same, &a, &c, "td3 resume");
    trainer_destroy(&a);
    trainer_destroy(&c);
}
END_TEST

void gpu_trainer_cases(Suite *s) {
    TCase *tc = parity_tcase("trainer");
    tcase_add_test(tc, test_graphs_against_eager);
    tcase_add_test(tc, test_td3_resume_exact);
    suite_add_tcase(s, tc);
}
