/* checkpoint.c - a run's state tensors to and from a checkpoint file. */
#include "ddpg/checkpoint.h"

#include <math.h>
#include <stdio.h>
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

/* The table: each tensor's name, type, count and offset in the body. */
static void write_table(CkptWriter *w, const TensorList *l) {
    uint64_t offset = 0;
    for (int i = 0; i < l->n; i++) {
        CkptEntry en;
        memset(&en, 0, sizeof en);
        snprintf(en.name, sizeof en.name, "%s", l->t[i].name);
        en.dtype = (uint32_t)l->t[i].dtype;
        en.elem_size = (uint32_t)l->t[i].elem_size;
        en.count = l->t[i].count;
        en.offset = offset;
        offset += tensor_bytes(&l->t[i]);
        ckpt_write(w, &en, sizeof en);
    }
}

/* The body: every tensor, a backend buffer through the staging copy, each
 * checked finite on its way (never save a diverged run: t is marked). */
static Status write_body(Trainer *t, CkptWriter *w, const TensorList *l, char *stage,
                         const char *path, Error *e) {
    for (int i = 0; i < l->n; i++) {
        const Tensor *x = &l->t[i];
        if (tensor_on_host(x)) {
            ckpt_write(w, x->host, tensor_bytes(x));
            continue;
        }
        size_t per = STAGE_BYTES / x->elem_size * x->elem_size;
        for (size_t off = 0; off < tensor_bytes(x); off += per) {
            size_t n = tensor_bytes(x) - off < per ? tensor_bytes(x) - off : per;
            t->be->to_host(t->be, stage, (const char *)tensor_ptr(x) + off, n);
            if (!all_finite(stage, n / x->elem_size, x->dtype)) {
                train_mark_diverged(t, t->agent.updates, x->name);
                return error_set(e, STATUS_DIVERGED, "checkpoint '%s' not written: %s is not "
                                 "finite", path, x->name);
            }
            ckpt_write(w, stage, n);
        }
    }
    return STATUS_OK;
}

Status checkpoint_save(Trainer *t, const char *path, Error *e) {
    int with_replay = t->cfg->save_replay;
    TensorList l;
    tensors_init(&l);
    checkpoint_tensors(t, with_replay, &l);
    char config[CKPT_MAX_CONFIG_BYTES];
    int config_bytes = config_to_text(t->cfg, config, sizeof config);
    char *stage = malloc(STAGE_BYTES);
    CkptWriter w;
    Status rc = STATUS_OK;
    if (config_bytes < 0 || !stage)
        rc = error_set(e, STATUS_IO, "checkpoint '%s': out of host memory", path);
    else
        rc = ckpt_begin(&w, path, e);
    if (rc == STATUS_OK) {
        CkptHeader h;
        fill_header(t, &l, (size_t)config_bytes, with_replay, &h);
        ckpt_write(&w, &h, sizeof h);
        write_table(&w, &l);
        ckpt_write(&w, config, (size_t)config_bytes);
        rc = write_body(t, &w, &l, stage, path, e);
        if (rc == STATUS_OK)
            rc = ckpt_commit(&w, e);
        else
            ckpt_abort(&w);
    }
    free(stage);
    tensors_release(&l);
    return rc;
}

/* The file's table is the run's list: names, types and counts, in order. */
static Status same_tensors(const CkptFile *f, const TensorList *l, const char *path, Error *e) {
    if ((int)f->h.n_tensors != l->n)
        return error_set(e, STATUS_BAD_INPUT, "checkpoint '%s' holds %u tensors; this run has %d",
                         path, f->h.n_tensors, l->n);
    for (int i = 0; i < l->n; i++) {
        const CkptEntry *en = &f->table[i];
        const Tensor *x = &l->t[i];
        if (strncmp(en->name, x->name, CKPT_NAME_MAX) != 0 || en->dtype != (uint32_t)x->dtype ||
            en->count != x->count)
            return error_set(e, STATUS_BAD_INPUT, "checkpoint '%s' has tensor %s of %llu "
                             "elements (type %u) where this run has %s of %zu (type %d)", path,
                             en->name, (unsigned long long)en->count, en->dtype, x->name,
                             x->count, (int)x->dtype);
    }
    return STATUS_OK;
}

/* Reads entry en of f into t's tensor x (host data, or a backend buffer
 * through a staging copy). */
static Status load_tensor(Backend *be, const CkptFile *f, const CkptEntry *en, const Tensor *x,
                          char *stage, Error *e) {
    size_t bytes = tensor_bytes(x);
    if (tensor_on_host(x)) return ckpt_read(f, en, 0, x->host, bytes, e);
    size_t per = STAGE_BYTES / x->elem_size * x->elem_size;
    for (size_t off = 0; off < bytes; off += per) {
        size_t n = bytes - off < per ? bytes - off : per;
        Status rc = ckpt_read(f, en, off, stage, n, e);
        if (rc) return rc;
        be->to_device(be, (char *)tensor_ptr(x) + off, stage, n);
    }
    return STATUS_OK;
}

/* Opens path, and checks that it is a checkpoint of an environment and an
 * algorithm this program knows. */
static Status open_checked(CkptFile *f, const char *path, Error *e) {
    Status rc = ckpt_open(f, path, e);
    if (rc) return rc;
    if (env_find(f->h.env) && (strcmp(f->h.algo, ALGO_NAMES[ALGO_DDPG]) == 0 ||
                               strcmp(f->h.algo, ALGO_NAMES[ALGO_TD3]) == 0))
        return STATUS_OK;
    char known[512] = "";
    for (int i = 0, n = 0; env_at(i) && n < (int)sizeof known; i++)
        n += snprintf(known + n, sizeof known - (size_t)n, "%s %s", i ? "," : "", env_at(i)->id);
    error_set(e, STATUS_BAD_INPUT, "checkpoint '%s' is of %s (%s); this program trains%s "
              "(ddpg, td3)", path, f->h.env, f->h.algo, known);
    ckpt_close(f);
    return STATUS_BAD_INPUT;
}

/* The file's environment is the run's (its header against its configuration,
 * or a trainer's). */
static Status same_env(const CkptFile *f, const char *path, const char *id, Error *e) {
    if (strcmp(f->h.env, id) == 0) return STATUS_OK;
    return error_set(e, STATUS_BAD_INPUT, "checkpoint '%s' is of %s, and its run of %s", path,
                     f->h.env, id);
}

Status checkpoint_load(Trainer *t, const char *path, Error *e) {
    CkptFile f;
    Status rc = open_checked(&f, path, e);
    if (rc) return rc;
    int with_replay = (f.h.flags & CKPT_FLAG_REPLAY) != 0;
    TensorList l;
    tensors_init(&l);
    checkpoint_tensors(t, with_replay, &l);
    char *stage = malloc(STAGE_BYTES);
    rc = same_env(&f, path, t->spec->id, e);
    if (rc == STATUS_OK && !stage) rc = error_set(e, STATUS_BAD_INPUT, "out of host memory");
    if (rc == STATUS_OK) rc = same_tensors(&f, &l, path, e);
    for (int i = 0; i < l.n && rc == STATUS_OK; i++)
        rc = load_tensor(t->be, &f, &f.table[i], &l.t[i], stage, e);
    if (rc == STATUS_OK) {
        if (!with_replay) t->prog.replay_filled = 0; /* the ring is empty: it fills again */
        t->resumed = 1;
        t->checkpoint_step = t->prog.global_step;
    }
    free(stage);
    tensors_release(&l);
    ckpt_close(&f);
    return rc;
}


Status checkpoint_read_config(const char *path, Config *c, Error *e) {
    CkptFile f;
    Status rc = open_checked(&f, path, e);
    if (rc) return rc;
    Error why;
    error_clear(&why);
    if (config_from_text(c, f.config, &why) != STATUS_OK)
        rc = error_set(e, STATUS_BAD_INPUT, "checkpoint '%s': its configuration does not parse: "
                       "%s", path, why.msg);
    if (rc == STATUS_OK) rc = same_env(&f, path, env_find(c->env)->id, e);
    ckpt_close(&f);
    return rc;
}

Status checkpoint_load_actor(Ddpg *d, const char *path, Error *e) {
    CkptFile f;
    Status rc = open_checked(&f, path, e);
    if (rc) return rc;
    const CkptEntry *en = ckpt_find(&f, "actor.params");
    size_t n = d->actor.shape.n_params;
    if (!en || en->dtype != DT_F32 || en->count != n) {
        rc = error_set(e, STATUS_BAD_INPUT, "checkpoint '%s' has no actor of %zu parameters",
                       path, n);
    } else {
        char *stage = malloc(STAGE_BYTES);
        Tensor x = {.field = &d->actor.params, .count = n, .elem_size = 4, .dtype = DT_F32};
        rc = stage ? load_tensor(d->be, &f, en, &x, stage, e)
                   : error_set(e, STATUS_BAD_INPUT, "out of host memory");
        free(stage);
    }
    ckpt_close(&f);
    return rc;
}
