/* embed_policy.c - a trained actor in a program of your own (include/ddpg/policy.h).
 *
 *   make examples
 *   build/examples/embed_policy runs/pendulum/checkpoint.bin
 *
 * Loads the checkpoint's actor and drives one Pendulum-v1 episode with it,
 * with the dynamics written out here (Gymnasium's, as include/ddpg/elem.h has
 * them), from the pendulum hanging down at rest. Prints the action at a few
 * steps and the return. Links libddpg_policy.a and libm only. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ddpg/policy.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CHECKPOINT\n", argv[0]);
        return 2;
    }
    char err[512];
    DdpgPolicy *p = ddpg_policy_load(argv[1], err, sizeof err);
    if (!p) {
        fprintf(stderr, "error: %s\n", err);
        return 2;
    }
    printf("%s: observations of %d, actions of %d\n", ddpg_policy_env(p), ddpg_policy_obs_dim(p),
           ddpg_policy_act_dim(p));
    double th = M_PI, thdot = 0.0, ret = 0.0; /* hanging down, at rest */
    for (int t = 0; t < 200; t++) {
        float obs[3] = {(float)cos(th), (float)sin(th), (float)thdot}, u;
        ddpg_policy_act(p, obs, 1, &u);
        double a = u < -2.0f ? -2.0 : u > 2.0f ? 2.0 : u;
        double norm = fmod(th + M_PI, 2 * M_PI);
        if (norm < 0) norm += 2 * M_PI;
        norm -= M_PI;
        ret -= norm * norm + 0.1 * thdot * thdot + 0.001 * a * a;
        thdot += (3.0 * 10.0 / 2.0 * sin(th) + 3.0 * a) * 0.05;
        thdot = thdot < -8.0 ? -8.0 : thdot > 8.0 ? 8.0 : thdot;
        th += thdot * 0.05;
        if (t % 50 == 0) printf("step %3d: action %+.3f\n", t, a);
    }
    printf("return over 200 steps: %.1f\n", ret);
    ddpg_policy_free(p);
    return 0;
}
