/* checkpoint.c - a run saved and resumed on the GPU goes on as one run does
 * (tests/test_checkpoint.c checks the same on the CPU through the logs):
 * 3200 env steps in one run, and 1600 steps saved, loaded into a new trainer
 * and run on to 3200, end with the same networks, Adam state, counters and
 * metrics, up to the GPU's own run-to-run determinism. */
#include <stdio.h>
#include <unistd.h>

#include "ddpg/checkpoint.h"
#include "ddpg/train.h"
#include "parity.h"

static Config small_config(int64_t total_steps) {
    Config c;
    config_defaults(&c);
    c.envs = 16;
    c.hidden[0] = c.hidden[1] = 64;
    c.batch_size = 64;
    c.start_steps = c.update_after = 640;
    c.eval_every = 0;
    c.probe_n = 0;
    c.replay_size = 20000;
    c.save_replay = 1;
    c.quiet = 1;
    c.total_steps = total_steps;
    return c;
}

START_TEST(test_resume) {
    Pair *p = parity_pair("resume");
    if (!p) return;
    Pair same = {p->gpu, p->gpu};
    Config whole = small_config(3200), first = small_config(1600);
    Trainer a, c;
    train_straight_and_resumed(p->gpu, &whole, &first, &a, &c);
    ck_assert_int_eq(c.prog.global_step, a.prog.global_step);
    ck_assert_int_eq(c.agent.updates, a.agent.updates);
    ck_assert_int_eq(c.prog.episodes, a.prog.episodes);
    ck_assert_int_eq(a.agent.updates, (3200 - 640) / 16 + 1);
    expect_agents_close(&same, &c.agent, &a.agent, "resume");
    expect_twin_close(&same, "resume replay", c.replay.obs, a.replay.obs,
                      (size_t)whole.replay_size * 3, 1e-6, 0);
    trainer_destroy(&a);
    trainer_destroy(&c);
}
END_TEST

void gpu_checkpoint_cases(Suite *s) {
    TCase *tc = parity_tcase("checkpoint");
    tcase_add_test(tc, test_resume);
    suite_add_tcase(s, tc);
}
