/* options.def.h - every option of the program, once. From this one list
 * come the fields of Config (config.h), its defaults, the parser, --help,
 * --config files, the checkpoint's configuration text and config.json's
 * option keys (docs/design.md, "Adding an option").
 *
 * X(TYPE, field, name, default, range, value, scope, help):
 *   TYPE     how the value is stored and parsed:
 *              INT, I64, U64, DBL  int, int64_t, uint64_t, double in `range`;
 *              FLAG                int, 0 or 1 (--name alone sets it);
 *              ENUM                int, the index of its word in `value`;
 *              NAME                text, one of the words of `value`;
 *              ENV                 text, an environment's alias (any name or
 *                                  Gymnasium id of the registry is taken);
 *              PATH                text of up to CONFIG_PATH_MAX - 1 bytes;
 *              HIDDEN              int field[CONFIG_MAX_HIDDEN] and n_field,
 *                                  comma-separated values each in `range`
 *   field    the Config field
 *   name     the long option (--name); config.json's key is the name with
 *            '_' for '-' (option_json_key)
 *   default  the value at --envs 1 (the notebook's), as the command line
 *            writes it; "" leaves the field zero (no text)
 *   range    RANGE(lo, hi): [lo, hi]; RANGE_ABOVE(lo, hi): (lo, hi];
 *            NO_RANGE for what is not a number
 *   value    what --help writes after --name: the words "a|b|c" of an ENUM
 *            or NAME (the only values taken), a metavar, or NULL (N, R or
 *            W,W,... by TYPE)
 *   scope    RUN: saved in checkpoints and config.json, and a resumed run
 *            must not contradict it; RESUMABLE: saved, a resume may change
 *            it; COMMAND: how this command runs, not saved
 *   help     --help's line, before the accepted range and the default
 *
 * The order is config.json's, the checkpoint text's and --help's. */
#ifndef DDPG_OPTIONS_DEF_H
#define DDPG_OPTIONS_DEF_H

#define CONFIG_OPTIONS(X)                                                                         \
    X(ENV, env, "env", "pendulum", NO_RANGE, "NAME", RUN,                                         \
      "environment, by name or Gymnasium id (the list and their own defaults: below)")            \
    X(INT, envs, "envs", "1", RANGE(1, 16777216), NULL, RUN, "environments stepped in lockstep")  \
    X(NAME, device, "device", "auto", NO_RANGE, "auto|cuda|cpu", RESUMABLE,                       \
      "backend: the GPU when there is one (auto), or force one")                                  \
    X(U64, seed, "seed", "42", RANGE(0, 9.2e18), NULL, RUN, "random seed")                        \
    X(I64, total_steps, "total-steps", "15000", RANGE(1, 1e12), NULL, RESUMABLE,                  \
      "env steps to train, summed over all envs")                                                 \
    X(INT, batch_size, "batch-size", "128", RANGE(1, 65536), NULL, RUN,                           \
      "minibatch size per update")                                                                \
    X(I64, replay_size, "replay-size", "200000", RANGE(1, 1e9), NULL, RUN,                        \
      "replay buffer capacity")                                                                   \
    X(DBL, gamma, "gamma", "0.99", RANGE(0, 1), NULL, RUN, "discount factor")                     \
    X(DBL, tau, "tau", "0.005", RANGE_ABOVE(0, 1), NULL, RUN, "target network soft-update rate")  \
    X(DBL, actor_lr, "actor-lr", "0.001", RANGE_ABOVE(0, 1000), NULL, RUN,                        \
      "actor Adam learning rate")                                                                 \
    X(DBL, critic_lr, "critic-lr", "0.001", RANGE_ABOVE(0, 1000), NULL, RUN,                      \
      "critic Adam learning rate")                                                                \
    X(I64, start_steps, "start-steps", "2000", RANGE(0, 1e12), NULL, RUN,                         \
      "env steps of uniform random actions before the actor acts")                                \
    X(I64, update_after, "update-after", "1000", RANGE(0, 1e12), NULL, RUN,                       \
      "env steps before the first gradient update")                                               \
    X(INT, updates_per_step, "updates-per-step", "1", RANGE(1, 10000), NULL, RUN,                 \
      "gradient updates per vectorized env step")                                                 \
    X(ENUM, noise, "noise", "gaussian", NO_RANGE, "gaussian|ou", RUN,                             \
      "exploration noise process (ou = Ornstein-Uhlenbeck)")                                      \
    X(DBL, noise_sigma, "noise-sigma", "0.1", RANGE(0, 100), NULL, RUN,                           \
      "exploration noise std, in action units")                                                   \
    X(DBL, ou_theta, "ou-theta", "0.15", RANGE_ABOVE(0, 100), NULL, RUN,                          \
      "OU mean-reversion rate")                                                                   \
    X(HIDDEN, hidden, "hidden", "256,256", RANGE(1, 65536), NULL, RUN,                            \
      "hidden layer widths, comma separated")                                                     \
    X(FLAG, layer_norm, "layer-norm", "off", NO_RANGE, NULL, RUN,                                 \
      "LayerNorm (learned gain and bias, eps 1e-5) after each hidden linear layer, before its "   \
      "ReLU, in the actor and the critics")                                                       \
    X(ENUM, algo, "algo", "ddpg", NO_RANGE, "ddpg|td3", RUN,                                      \
      "ddpg, or td3 (Fujimoto et al. 2018: twin critics, target policy smoothing, delayed "       \
      "actor and target updates)")                                                                \
    X(DBL, target_noise, "target-noise", "0.2", RANGE(0, 10), NULL, RUN,                          \
      "td3: std of the noise on the target action, for an action bound of 1 (scaled to each "     \
      "dimension's half range)")                                                                  \
    X(DBL, target_noise_clip, "target-noise-clip", "0.5", RANGE_ABOVE(0, 10), NULL, RUN,          \
      "td3: that noise is clipped to +- this, for an action bound of 1")                          \
    X(INT, policy_delay, "policy-delay", "2", RANGE(1, 1000), NULL, RUN,                          \
      "td3: critic updates per actor and target update")                                          \
    X(DBL, grad_clip, "grad-clip", "1", RANGE(0, 1e9), NULL, RUN,                                 \
      "clip each network's gradient to this global L2 norm (0 = off)")                            \
    X(INT, probe_n, "probe-n", "32", RANGE(0, 4096), NULL, RUN, "fixed probe states (0 = off)")   \
    X(INT, probe_every, "probe-every", "5", RANGE(1, 1000000000), NULL, RUN,                      \
      "probe snapshot every this many finished episodes")                                         \
    X(I64, eval_every, "eval-every", "1000", RANGE(0, 1e12), NULL, RUN,                           \
      "env steps between deterministic evaluations (0 = off)")                                    \
    X(INT, eval_episodes, "eval-episodes", "10", RANGE(1, 4096), NULL, RUN,                       \
      "episodes per evaluation")                                                                  \
    X(INT, threads, "threads", "0", RANGE(0, 1024), NULL, RESUMABLE,                              \
      "CPU threads for the cpu device (0 = one per core)")                                        \
    X(FLAG, truncation_as_terminal, "truncation-as-terminal", "off", NO_RANGE, NULL, RUN,         \
      "store done = terminated or truncated, as the notebook does (for comparison)")              \
    X(FLAG, stop_when_solved, "stop-when-solved", "off", NO_RANGE, NULL, RUN,                     \
      "end the run at the first evaluation whose mean return reaches the environment's "          \
      "solved threshold")                                                                         \
    X(FLAG, quiet, "quiet", "off", NO_RANGE, NULL, COMMAND, "no progress lines")                  \
    X(PATH, out, "out", "", NO_RANGE, "DIR", COMMAND,                                             \
      "run directory to write (created if missing)")                                              \
    X(I64, save_every, "save-every", "0", RANGE(0, 1e12), NULL, RESUMABLE,                        \
      "env steps between checkpoints in DIR/checkpoint.bin (0 = at the end and on a signal "      \
      "only)")                                                                                    \
    X(FLAG, save_replay, "save-replay", "off", NO_RANGE, NULL, RESUMABLE,                         \
      "checkpoints hold the replay buffer too (for an exact resume)")                             \
    X(PATH, resume, "resume", "", NO_RANGE, "DIR", COMMAND,                                       \
      "continue the run in DIR from its checkpoint, with its configuration")                      \
    X(PATH, eval_only, "eval-only", "", NO_RANGE, "PATH", COMMAND,                                \
      "evaluate the actor of checkpoint PATH (--eval-episodes, --seed), print JSON, exit")        \
    X(FLAG, overwrite, "overwrite", "off", NO_RANGE, NULL, COMMAND,                               \
      "replace the run in --out (only the files this program writes are removed)")                \
    X(FLAG, no_out, "no-out", "off", NO_RANGE, NULL, COMMAND,                                     \
      "keep nothing: no run directory (without --out a run goes to "                              \
      "runs/<date>-<time>-<env>-s<seed>)")                                                        \
    X(PATH, config_file, "config", "", NO_RANGE, "FILE", COMMAND,                                 \
      "read options from FILE first (key = value lines, or a run's config.json); the "            \
      "command line wins")

#endif
