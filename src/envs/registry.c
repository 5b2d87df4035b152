/* registry.c - the environments --env knows: the built-in ones of
 * envs/registry.h, and any a program (or a test) registers. */
#include <string.h>

#include "ddpg/env.h"
#include "ddpg/envs/registry.h"

#define ENV_TABLE_MAX 32

static const EnvSpec *g_envs[ENV_TABLE_MAX];
static int g_n_envs = -1; /* -1: the built-in ones not listed yet */

static void list_builtins(void) {
    if (g_n_envs >= 0) return;
    g_n_envs = 0;
#define ENV_ENTRY(NAME) g_envs[g_n_envs++] = NAME##_spec();
    DDPG_ENVS(ENV_ENTRY)
#undef ENV_ENTRY
}

const EnvSpec *env_find(const char *name) {
    list_builtins();
    for (int i = 0; i < g_n_envs; i++)
        if (strcmp(g_envs[i]->id, name) == 0 || strcmp(g_envs[i]->alias, name) == 0)
            return g_envs[i];
    return NULL;
}

const EnvSpec *env_at(int i) {
    list_builtins();
    return i >= 0 && i < g_n_envs ? g_envs[i] : NULL;
}

int env_register(const EnvSpec *spec) {
    list_builtins();
    if (env_find(spec->id) || env_find(spec->alias) || g_n_envs == ENV_TABLE_MAX) return -1;
    g_envs[g_n_envs++] = spec;
    return 0;
}
