/* checkpoint.c - a run's state tensors to and from a checkpoint file. */
#include "ddpg/checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/env.h"

#define STAGE_BYTES ((size_t)4 << 20) /* host staging per copy */

void checkpoint_tensors(Trainer *t, int with_replay, TensorList *l) {
    TensorList all;
    tensors_init(&all);
    ddpg_tensors(&t->agent, &all);
    trainer_tensors(t, &all);
    if (t->cfg->probe_n > 0) probes_tensors(&t->probes, &all);
    train_progress_tensors(t, &all);
    for (int i = 0; i < all.n; i++) {
        const Tensor *x = &all.t[i];
        if (x->kind != TENSOR_STATE) continue;
        if (!with_replay && strncmp(x->name, "replay.", 7) == 0) continue;
        tensor_add(l, "", x->name, x->field, x->host, x->count, x->elem_size, x->dtype, x->kind);
    }
    tensors_release(&all);
}

/* Whether n floats or doubles of dtype at p are all finite. */
static int all_finite(const void *p, size_t n, TensorDtype dtype) {
    if (dtype == DT_F32) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(((const float *)p)[i])) return 0;
    } else if (dtype == DT_F64) {
        for (size_t i = 0; i < n; i++)
            if (!isfinite(((const double *)p)[i])) return 0;
    }
    return 1;
}

static void fill_header(const Trainer *t, const TensorList *l, size_t config_bytes,
                        int with_replay, CkptHeader *h) {
    const Config *c = t->cfg;
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CKPT_MAGIC, sizeof h->magic);
    h->version = CKPT_VERSION;
    h->byte_order = CKPT_BYTE_ORDER;
    h->header_bytes = CKPT_HEADER_BYTES;
    h->n_tensors = (uint32_t)l->n;
    h->config_bytes = config_bytes;
    h->body_bytes = tensors_bytes(l, NULL);
    snprintf(h->env, sizeof h->env, "%s", t->spec->id);
    snprintf(h->algo, sizeof h->algo, "%s", ALGO_NAMES[c->algo]);
    h->obs_dim = t->agent.p.obs_dim;
    h->act_dim = t->agent.p.act_dim;
    h->n_hidden = c->n_hidden;
    for (int i = 0; i < c->n_hidden && i < CKPT_MAX_HIDDEN; i++) h->hidden[i] = c->hidden[i];
    h->flags = (with_replay ? CKPT_FLAG_REPLAY : 0) | (c->layer_norm ? CKPT_FLAG_LAYER_NORM : 0);
}

int checkpoint_save(Trainer *t, const char *path, FILE *err) {
    Backend *be = t->be;
    int with_replay = t->cfg->save_replay;
    TensorList l;
    tensors_init(&l);
    checkpoint_tensors(t, with_replay, &l);
    char config[CKPT_MAX_CONFIG_BYTES];
    int config_bytes = config_to_text(t->cfg, config, sizeof config);
    char *stage = malloc(STAGE_BYTES);
    char why[512];
    CkptWriter w;
    int rc = 0;
    if (config_bytes < 0 || !stage) {
        fprintf(err, "error: checkpoint '%s': out of host memory\n", path);
        rc = 4;
    } else if (ckpt_begin(&w, path, why, sizeof why) != 0) {
        fprintf(err, "error: %s\n", why);
        rc = 4;
    }
    if (rc) {
        free(stage);
        tensors_release(&l);
        return rc;
    }
    CkptHeader h;
    fill_header(t, &l, (size_t)config_bytes, with_replay, &h);
    ckpt_write(&w, &h, sizeof h);
    uint64_t offset = 0;
    for (int i = 0; i < l.n; i++) {
        CkptEntry e;
        memset(&e, 0, sizeof e);
        snprintf(e.name, sizeof e.name, "%s", l.t[i].name);
        e.dtype = (uint32_t)l.t[i].dtype;
        e.elem_size = (uint32_t)l.t[i].elem_size;
        e.count = l.t[i].count;
        e.offset = offset;
        offset += tensor_bytes(&l.t[i]);
        ckpt_write(&w, &e, sizeof e);
    }
    ckpt_write(&w, config, (size_t)config_bytes);
    for (int i = 0; i < l.n && rc == 0; i++) {
        const Tensor *x = &l.t[i];
        if (tensor_on_host(x)) {
            ckpt_write(&w, x->host, tensor_bytes(x));
            continue;
        }
        size_t per = STAGE_BYTES / x->elem_size * x->elem_size;
        for (size_t off = 0; off < tensor_bytes(x); off += per) {
            size_t n = tensor_bytes(x) - off < per ? tensor_bytes(x) - off : per;
            be->to_host(be, stage, (const char *)tensor_ptr(x) + off, n);
            if (!all_finite(stage, n / x->elem_size, x->dtype)) { /* never save a diverged run */
                train_mark_diverged(t, t->agent.updates, x->name);
                rc = 3;
                break;
            }
            ckpt_write(&w, stage, n);
        }
    }
    if (rc) {
        ckpt_abort(&w);
    } else if (ckpt_commit(&w, why, sizeof why) != 0) {
        fprintf(err, "error: %s\n", why);
        rc = 4;
    }
    free(stage);
    tensors_release(&l);
    return rc;
}

/* The file's table is the run's list: names, types and counts, in order. */
static int same_tensors(const CkptFile *f, const TensorList *l, const char *path, FILE *err) {
    if ((int)f->h.n_tensors != l->n) {
        fprintf(err, "error: checkpoint '%s' holds %u tensors; this run has %d\n", path,
                f->h.n_tensors, l->n);
        return 2;
    }
    for (int i = 0; i < l->n; i++) {
        const CkptEntry *e = &f->table[i];
        const Tensor *x = &l->t[i];
        if (strncmp(e->name, x->name, CKPT_NAME_MAX) != 0 || e->dtype != (uint32_t)x->dtype ||
            e->count != x->count) {
            fprintf(err, "error: checkpoint '%s' has tensor %s of %llu elements (type %u) where "
                    "this run has %s of %zu (type %d)\n", path, e->name,
                    (unsigned long long)e->count, e->dtype, x->name, x->count, (int)x->dtype);
            return 2;
        }
    }
    return 0;
}

/* Reads entry e of f into t's tensor x (host data, or a backend buffer
 * through a staging copy). */
static int load_tensor(Backend *be, const CkptFile *f, const CkptEntry *e, const Tensor *x,
                       char *stage, FILE *err) {
    char why[512];
    size_t bytes = tensor_bytes(x);
    if (tensor_on_host(x)) {
        if (ckpt_read(f, e, 0, x->host, bytes, why, sizeof why)) goto fail;
        return 0;
    }
    size_t per = STAGE_BYTES / x->elem_size * x->elem_size;
    for (size_t off = 0; off < bytes; off += per) {
        size_t n = bytes - off < per ? bytes - off : per;
        if (ckpt_read(f, e, off, stage, n, why, sizeof why)) goto fail;
        be->to_device(be, (char *)tensor_ptr(x) + off, stage, n);
    }
    return 0;
fail:
    fprintf(err, "error: %s\n", why);
    return 2;
}

/* Opens path, and checks that it is a checkpoint of an environment and an
 * algorithm this program knows. */
static int open_checked(CkptFile *f, const char *path, FILE *err) {
    char why[512];
    if (ckpt_open(f, path, why, sizeof why)) {
        fprintf(err, "error: %s\n", why);
        return 2;
    }
    if (!env_find(f->h.env) || (strcmp(f->h.algo, ALGO_NAMES[ALGO_DDPG]) != 0 &&
                                strcmp(f->h.algo, ALGO_NAMES[ALGO_TD3]) != 0)) {
        fprintf(err, "error: checkpoint '%s' is of %s (%s); this program trains", path,
                f->h.env, f->h.algo);
        for (int i = 0; env_at(i); i++) fprintf(err, "%s %s", i ? "," : "", env_at(i)->id);
        fprintf(err, " (ddpg, td3)\n");
        ckpt_close(f);
        return 2;
    }
    return 0;
}

/* The file's environment is the run's (its header against its configuration,
 * or a trainer's). */
static int same_env(const CkptFile *f, const char *path, const char *id, FILE *err) {
    if (strcmp(f->h.env, id) == 0) return 0;
    fprintf(err, "error: checkpoint '%s' is of %s, and its run of %s\n", path, f->h.env, id);
    return 2;
}

int checkpoint_load(Trainer *t, const char *path, FILE *err) {
    CkptFile f;
    if (open_checked(&f, path, err)) return 2;
    if (same_env(&f, path, t->spec->id, err)) {
        ckpt_close(&f);
        return 2;
    }
    int with_replay = (f.h.flags & CKPT_FLAG_REPLAY) != 0;
    TensorList l;
    tensors_init(&l);
    checkpoint_tensors(t, with_replay, &l);
    char *stage = malloc(STAGE_BYTES);
    int rc = stage ? same_tensors(&f, &l, path, err) : 2;
    if (!stage) fprintf(err, "error: out of host memory\n");
    for (int i = 0; i < l.n && rc == 0; i++)
        rc = load_tensor(t->be, &f, &f.table[i], &l.t[i], stage, err);
    if (rc == 0) {
        if (!with_replay) t->prog.replay_filled = 0; /* the ring is empty: it fills again */
        t->resumed = 1;
        t->checkpoint_step = t->prog.global_step;
    }
    free(stage);
    tensors_release(&l);
    ckpt_close(&f);
    return rc;
}

int checkpoint_read_config(const char *path, Config *c, FILE *err) {
    CkptFile f;
    if (open_checked(&f, path, err)) return 2;
    Error e;
    error_clear(&e);
    int rc = config_from_text(c, f.config, &e);
    error_print(&e, err);
    if (rc) fprintf(err, "error: checkpoint '%s': its configuration does not parse\n", path);
    if (rc == 0) rc = same_env(&f, path, env_find(c->env)->id, err);
    ckpt_close(&f);
    return rc;
}

int checkpoint_load_actor(Ddpg *d, const char *path, FILE *err) {
    CkptFile f;
    if (open_checked(&f, path, err)) return 2;
    const CkptEntry *e = ckpt_find(&f, "actor.params");
    size_t n = d->actor.shape.n_params;
    int rc = 0;
    if (!e || e->dtype != DT_F32 || e->count != n) {
        fprintf(err, "error: checkpoint '%s' has no actor of %zu parameters\n", path, n);
        rc = 2;
    } else {
        char *stage = malloc(STAGE_BYTES);
        Tensor x = {.field = &d->actor.params, .count = n, .elem_size = 4, .dtype = DT_F32};
        rc = stage ? load_tensor(d->be, &f, e, &x, stage, err) : 2;
        free(stage);
    }
    ckpt_close(&f);
    return rc;
}
