/* ckpt_file.h - the checkpoint file: its layout, and reading and writing it
 * with every check. Plain C with no backend, so that the embeddable policy
 * library (policy.h) links it alone. scripts/checkpoint.py reads the same
 * layout from Python.
 *
 * Layout (version 1), every number in the byte order of the machine that
 * wrote it, which byte_order records:
 *
 *   CkptHeader            256 bytes (below)
 *   table                 n_tensors CkptEntry records of 72 bytes: name, element
 *                         type and size, element count, offset in the body
 *   configuration         config_bytes of text: the run's options as command-line
 *                         words, one per line ("--seed", "42", "--hidden", "256,256", ...)
 *   body                  body_bytes: the tensors, at their offsets, in table order
 *   crc32                 uint32: CRC-32 (zlib's) of every byte before it
 *
 * A checkpoint is written to a temporary file in its directory, flushed to
 * disk, and renamed over the old one: a crash never leaves a broken file in
 * place of a good one.
 *
 * Errors follow status.h: a bad file is STATUS_BAD_INPUT, a write that fails
 * STATUS_IO, each with a message "checkpoint 'PATH': ..." in the caller's
 * Error; nothing here prints.
 */
#ifndef DDPG_CKPT_FILE_H
#define DDPG_CKPT_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ddpg/status.h"

#define CKPT_MAGIC "DDPGCKPT"
#define CKPT_VERSION 1
#define CKPT_BYTE_ORDER 0x01020304u
#define CKPT_HEADER_BYTES 256
#define CKPT_MAX_HIDDEN 8
#define CKPT_MAX_TENSORS 4096
#define CKPT_MAX_CONFIG_BYTES (1 << 16)
#define CKPT_NAME_MAX 48
#define CKPT_FLAG_REPLAY 1u     /* the replay ring is in the file */
#define CKPT_FLAG_LAYER_NORM 2u /* the networks' hidden layers are normalised (mlp.h) */

typedef struct {
    char magic[8];          /* CKPT_MAGIC, no terminating NUL */
    uint32_t version;       /* CKPT_VERSION */
    uint32_t byte_order;    /* CKPT_BYTE_ORDER as the writer stored it */
    uint32_t header_bytes;  /* CKPT_HEADER_BYTES */
    uint32_t n_tensors;
    uint64_t config_bytes;
    uint64_t body_bytes;
    char env[32];           /* the environment's Gymnasium id, NUL-terminated */
    char algo[16];          /* "ddpg" or "td3" */
    int32_t obs_dim, act_dim;
    int32_t n_hidden;
    int32_t hidden[CKPT_MAX_HIDDEN];
    uint32_t flags;         /* CKPT_FLAG_* */
    uint8_t reserved[120];  /* zero */
} CkptHeader;

typedef struct {
    char name[CKPT_NAME_MAX]; /* NUL-terminated */
    uint32_t dtype;           /* TensorDtype (tensor.h) */
    uint32_t elem_size;       /* bytes per element, as the dtype says */
    uint64_t count;           /* elements */
    uint64_t offset;          /* bytes from the start of the body */
} CkptEntry;

/* A checked file, open for reading its tensors. */
typedef struct {
    CkptHeader h;
    CkptEntry *table;  /* (h.n_tensors) */
    char *config;      /* (h.config_bytes + 1) NUL-terminated */
    uint64_t body_at;  /* file offset of the body */
    FILE *f;
} CkptFile;

/* CRC-32 (the polynomial of zlib's crc32), continued from crc (0 to start). */
uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n);

/* Opens path and checks all of it before anything is loaded: a directory, an
 * empty or truncated file, the magic, the byte order, a newer version, the
 * layout's sizes, the table, and the checksum. STATUS_OK with c filled, or
 * STATUS_BAD_INPUT with the reason in e (c then holds nothing). */
Status ckpt_open(CkptFile *c, const char *path, Error *e);
/* The same over an open stream of `size` bytes (the fuzz target's entry),
 * named `what` in messages; ckpt_close it either way. */
Status ckpt_open_stream(CkptFile *c, FILE *f, uint64_t size, const char *what, Error *e);
void ckpt_close(CkptFile *c);

const CkptEntry *ckpt_find(const CkptFile *c, const char *name);
/* Reads bytes [off, off + n) of entry en into dst. STATUS_OK, or
 * STATUS_BAD_INPUT with the reason. */
Status ckpt_read(const CkptFile *c, const CkptEntry *en, uint64_t off, void *dst, size_t n,
                 Error *e);

/* Writing: a temporary file beside path, every write checked and summed,
 * then ckpt_commit (checksum, fsync, rename, fsync of the directory) or
 * ckpt_abort (the temporary file removed, the old checkpoint untouched).
 * ckpt_begin and ckpt_commit: STATUS_OK, or STATUS_IO with the reason. */
typedef struct {
    FILE *f;
    uint32_t crc;
    int failed;        /* a write failed: errno_at_fail says why */
    int errno_at_fail;
    char path[1100], tmp[1100];
} CkptWriter;

Status ckpt_begin(CkptWriter *w, const char *path, Error *e);
void ckpt_write(CkptWriter *w, const void *data, size_t n);
Status ckpt_commit(CkptWriter *w, Error *e);
void ckpt_abort(CkptWriter *w);

#endif
