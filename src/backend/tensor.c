/* tensor.c - lists of buffers: allocation, freeing and sizes from one list. */
#include "ddpg/tensor.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/backend.h"
#include "ddpg/errcheck.h"

void tensors_init(TensorList *l) { memset(l, 0, sizeof *l); }

void tensors_release(TensorList *l) {
    free(l->t);
    memset(l, 0, sizeof *l);
}

void tensors_why(TensorList *l, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->why, sizeof l->why, fmt, ap);
    va_end(ap);
}

Tensor *tensor_add(TensorList *l, const char *prefix, const char *name, void *field, void *host,
                   size_t count, size_t elem_size, TensorDtype dtype, TensorKind kind) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        Tensor *t = realloc(l->t, sizeof(Tensor) * (size_t)cap);
        mallocCheck(t);
        l->t = t;
        l->cap = cap;
    }
    Tensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s%s", prefix ? prefix : "", name);
    t->field = field;
    t->host = host;
    t->count = count;
    t->elem_size = elem_size;
    t->dtype = dtype;
    t->kind = kind;
    memcpy(t->why, l->why, sizeof t->why);
    return t;
}


/* The fields are pointers of several types (float *, int64_t *, ...); they
 * are read and written through memcpy, not through a void ** lvalue. */
void *tensor_ptr(const Tensor *t) {
    if (tensor_on_host(t)) return t->host;
    void *p;
    memcpy(&p, t->field, sizeof p);
    return p;
}

static void set_ptr(const Tensor *t, void *p) { memcpy(t->field, &p, sizeof p); }

size_t tensors_bytes(const TensorList *l, const char *why) {
    size_t s = 0;
    for (int i = 0; i < l->n; i++)
        if (!why || strcmp(l->t[i].why, why) == 0) s += tensor_bytes(&l->t[i]);
    return s;
}

static Status alloc_all(Backend *be, const TensorList *l, Error *e, int host) {
    for (int i = 0; i < l->n; i++) {
        const Tensor *t = &l->t[i];
        if (tensor_on_host(t) || tensor_ptr(t)) continue;
        void *p = host ? be->host_alloc(be, tensor_bytes(t)) : be->alloc(be, tensor_bytes(t));
        if (!p) {
            char why[256] = "";
            if (t->why[0])
                snprintf(why, sizeof why, "; %s needs %.1f MiB in all", t->why,
                         tensors_bytes(l, t->why) / 1048576.0);
            return error_set(e, STATUS_BAD_INPUT, "%s: out of memory: cannot allocate %.1f MiB "
                             "%sfor %s%s", be->name, tensor_bytes(t) / 1048576.0,
                             host ? "of host memory " : "", t->name, why);
        }
        set_ptr(t, p);
    }
    return STATUS_OK;
}

static void free_all(Backend *be, const TensorList *l, int host) {
    for (int i = 0; i < l->n; i++) {
        if (tensor_on_host(&l->t[i])) continue;
        void *p = tensor_ptr(&l->t[i]);
        if (p) {
            if (host)
                be->host_free(be, p);
            else
                be->free(be, p);
        }
        set_ptr(&l->t[i], NULL);
    }
}

Status tensors_alloc(Backend *be, const TensorList *l, Error *e) { return alloc_all(be, l, e, 0); }
Status tensors_alloc_host(Backend *be, const TensorList *l, Error *e) {
    return alloc_all(be, l, e, 1);
}
void tensors_free(Backend *be, const TensorList *l) { free_all(be, l, 0); }
void tensors_free_host(Backend *be, const TensorList *l) { free_all(be, l, 1); }

const Tensor *tensors_find(const TensorList *l, const char *name) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->t[i].name, name) == 0) return &l->t[i];
    return NULL;
}
