/* tensor.h - the one list of the flat buffers a struct owns.
 *
 * Every struct that owns backend memory (a network, the agent, the replay
 * ring, the environments, the trainer) has one function that lists its
 * buffers: name, the field that holds the pointer, element count and size,
 * and whether the buffer is state (what a run needs to continue: parameters,
 * targets, Adam moments and steps, counters, env states, the replay ring) or
 * work (scratch that every use recomputes). That list alone drives
 * allocation, freeing, the memory figures of error messages, and saving and
 * loading (llm.c's parameter table is the model). A second list of the same
 * buffers is a bug waiting to happen.
 *
 * The list holds the addresses of the owner's fields, so it is built again
 * (cheaply) wherever it is needed rather than kept.
 */
#ifndef DDPG_TENSOR_H
#define DDPG_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ddpg/status.h"

typedef struct Backend Backend;

typedef enum {
    TENSOR_STATE, /* saved and loaded with a run */
    TENSOR_WORK   /* scratch */
} TensorKind;

/* Element types, as checkpoint files record them (scripts/checkpoint.py). */
typedef enum {
    DT_F32 = 1,
    DT_F64 = 2,
    DT_I32 = 3,
    DT_I64 = 4,
    DT_U64 = 5,
    DT_U32 = 6,
    DT_U8 = 7 /* raw bytes: an environment's State structs */
} TensorDtype;

/* The type of an lvalue's elements (C11 _Generic; C files only). */
#define TENSOR_DTYPE_OF(x)                                                                    \
    _Generic((x), float: DT_F32, double: DT_F64, int32_t: DT_I32, int64_t: DT_I64,            \
             uint64_t: DT_U64, uint32_t: DT_U32, uint8_t: DT_U8)

#define TENSOR_NAME_MAX 48
#define TENSOR_WHY_MAX 64

typedef struct {
    char name[TENSOR_NAME_MAX]; /* "critic0.adam_m": unique in its list */
    void *field;                /* address of the owner's pointer field (T **) to a backend
                                   buffer, or NULL for host data at `host` */
    void *host;                 /* host data inside the owner (counters), when field is NULL */
    size_t count;               /* elements */
    size_t elem_size;           /* bytes per element */
    TensorDtype dtype;
    TensorKind kind;
    char why[TENSOR_WHY_MAX];   /* what sizes it, for messages: "--replay-size 200000" */
} Tensor;

typedef struct TensorList {
    Tensor *t;
    int n, cap;
    char why[TENSOR_WHY_MAX]; /* given to the tensors added from now on */
} TensorList;

void tensors_init(TensorList *l);
void tensors_release(TensorList *l); /* frees the list, not the buffers */

/* What sizes the tensors added from now on (printf format), for messages. */
void tensors_why(TensorList *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends prefix + name: a backend buffer whose pointer is in field (the
 * address of a pointer field, &n->params), or, with field NULL, host data
 * at host (the address of a counter in the owner). Returns the entry. */
Tensor *tensor_add(TensorList *l, const char *prefix, const char *name, void *field, void *host,
                   size_t count, size_t elem_size, TensorDtype dtype, TensorKind kind);
#define TENSOR_ADD(l, prefix, name, fieldp, count, kind)                                  \
    tensor_add((l), (prefix), (name), (fieldp), NULL, (count), sizeof(**(fieldp)),         \
               TENSOR_DTYPE_OF(**(fieldp)), (kind))
/* host scalars or arrays inside the owner: &t->counters.global_step */
#define TENSOR_ADD_HOST(l, prefix, name, ptr, count, kind)                                \
    tensor_add((l), (prefix), (name), NULL, (ptr), (count), sizeof(*(ptr)),               \
               TENSOR_DTYPE_OF(*(ptr)), (kind))

/* Where t's data is: the pointer held in its field, or its host data. */
void *tensor_ptr(const Tensor *t);
/* 1 for host data inside the owner (not allocated or freed by the list). */
static inline int tensor_on_host(const Tensor *t) { return t->field == NULL; }
/* The bytes of one element's type (0: not a type). */
static inline size_t tensor_dtype_size(TensorDtype d) {
    switch (d) {
    case DT_F32: case DT_I32: case DT_U32: return 4;
    case DT_F64: case DT_I64: case DT_U64: return 8;
    case DT_U8: return 1;
    }
    return 0;
}
static inline size_t tensor_bytes(const Tensor *t) { return t->count * t->elem_size; }

/* Bytes of every tensor; of those with t->why equal to why (NULL: all). */
size_t tensors_bytes(const TensorList *l, const char *why);

/* Allocates every backend tensor whose field is still NULL, zeroed. Returns
 * STATUS_OK, or STATUS_BAD_INPUT with e (when not NULL) saying which tensor
 * did not fit, its size and what sizes it, with the total for that cause;
 * what was allocated stays for tensors_free. */
Status tensors_alloc(Backend *be, const TensorList *l, Error *e);
/* Frees every tensor that holds a buffer and clears its field. */
void tensors_free(Backend *be, const TensorList *l);
/* The same for a list of host buffers (be->host_alloc: pinned on the GPU). */
Status tensors_alloc_host(Backend *be, const TensorList *l, Error *e);
void tensors_free_host(Backend *be, const TensorList *l);

/* The tensor named `name`, or NULL. */
const Tensor *tensors_find(const TensorList *l, const char *name);

#endif
