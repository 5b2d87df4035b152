/* ckpt_file.c - reading and writing the checkpoint layout of ckpt_file.h. */
#include "ddpg/ckpt_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ddpg/tensor.h"

_Static_assert(sizeof(CkptHeader) == CKPT_HEADER_BYTES, "the header is 256 bytes");
_Static_assert(sizeof(CkptEntry) == 72, "a table entry is 72 bytes");

uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n) {
    static uint32_t table[256];
    static int ready = 0;
    if (!ready) { /* reflected polynomial 0xEDB88320, as zlib */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* Fills e with "checkpoint 'WHAT': MESSAGE" and returns s. */
static Status fail(Error *e, Status s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static Status fail(Error *e, Status s, const char *what, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return error_set(e, s, "checkpoint '%s': %s", what, msg);
}

/* A file that is not a good checkpoint. */
#define BAD(...) fail(e, STATUS_BAD_INPUT, __VA_ARGS__)

/* ---- reading ---- */

void ckpt_close(CkptFile *c) {
    if (c->f) fclose(c->f);
    free(c->table);
    free(c->config);
    memset(c, 0, sizeof *c);
}

/* Reads n bytes at the stream's position into dst and adds them to *crc. */
static int read_summed(FILE *f, void *dst, size_t n, uint32_t *crc) {
    if (fread(dst, 1, n, f) != n) return -1;
    *crc = ckpt_crc32(*crc, dst, n);
    return 0;
}

/* The table makes sense: names terminated and unique-enough to find, element
 * types known with their sizes, tensors laid out one after the other. */
static Status check_table(const CkptFile *c, const char *what, Error *e) {
    uint64_t at = 0;
    for (uint32_t i = 0; i < c->h.n_tensors; i++) {
        const CkptEntry *en = &c->table[i];
        if (memchr(en->name, 0, sizeof en->name) == NULL || en->name[0] == 0)
            return BAD(what, "table entry %u has no name", i);
        size_t es = tensor_dtype_size((TensorDtype)en->dtype);
        if (es == 0 || en->elem_size != es)
            return BAD(what, "tensor %s has an unknown element type %u (size %u)",
                       en->name, en->dtype, en->elem_size);
        if (en->offset != at || en->count > (c->h.body_bytes - at) / es)
            return BAD(what, "tensor %s lies outside the body", en->name);
        at += en->count * es;
    }
    if (at != c->h.body_bytes)
        return BAD(what, "the tensors fill %llu of the body's %llu bytes",
                   (unsigned long long)at, (unsigned long long)c->h.body_bytes);
    return STATUS_OK;
}

Status ckpt_open_stream(CkptFile *c, FILE *f, uint64_t size, const char *what, Error *e) {
    memset(c, 0, sizeof *c);
    c->f = f;
    CkptHeader *h = &c->h;
    if (size == 0) return BAD(what, "the file is empty");
    if (size < sizeof *h)
        return BAD(what, "truncated: %llu bytes, less than the %d-byte header",
                   (unsigned long long)size, CKPT_HEADER_BYTES);
    uint32_t crc = 0;
    if (read_summed(f, h, sizeof *h, &crc))
        return BAD(what, "cannot read the header");
    if (memcmp(h->magic, CKPT_MAGIC, sizeof h->magic) != 0)
        return BAD(what, "not a ddpg_cuda checkpoint (wrong magic)");
    if (h->byte_order != CKPT_BYTE_ORDER)
        return BAD(what, "written on a machine of another byte order");
    if (h->version > CKPT_VERSION)
        return BAD(what,
                   "format version %u is newer than this program's (%d): update ddpg_cuda",
                    h->version, CKPT_VERSION);
    if (h->version < 1 || h->header_bytes != CKPT_HEADER_BYTES)
        return BAD(what, "format version %u, header %u bytes: not a valid header",
                   h->version, h->header_bytes);
    if (h->n_tensors > CKPT_MAX_TENSORS || h->config_bytes > CKPT_MAX_CONFIG_BYTES ||
        memchr(h->env, 0, sizeof h->env) == NULL || memchr(h->algo, 0, sizeof h->algo) == NULL ||
        h->n_hidden < 0 || h->n_hidden > CKPT_MAX_HIDDEN)
        return BAD(what, "the header's fields are out of range");
    /* header + table + configuration + body + crc must be the file */
    uint64_t table_bytes = (uint64_t)h->n_tensors * sizeof(CkptEntry);
    uint64_t fixed = sizeof *h + table_bytes + h->config_bytes + 4;
    if (h->body_bytes > UINT64_MAX - fixed)
        return BAD(what, "the header's sizes are out of range");
    uint64_t want = fixed + h->body_bytes;
    if (size < want)
        return BAD(what, "truncated: %llu bytes of %llu",
                   (unsigned long long)size, (unsigned long long)want);
    if (size > want)
        return BAD(what, "%llu bytes where the header describes %llu",
                   (unsigned long long)size, (unsigned long long)want);
    c->table = calloc(h->n_tensors ? h->n_tensors : 1, sizeof(CkptEntry));
    c->config = calloc(h->config_bytes + 1, 1);
    if (!c->table || !c->config) return BAD(what, "out of host memory");
    if (read_summed(f, c->table, (size_t)table_bytes, &crc) ||
        read_summed(f, c->config, (size_t)h->config_bytes, &crc))
        return BAD(what, "cannot read the table");
    c->body_at = sizeof *h + table_bytes + h->config_bytes;
    /* the checksum, over the body in chunks, before anything is used */
    char buf[1 << 16];
    for (uint64_t left = h->body_bytes; left > 0;) {
        size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
        if (read_summed(f, buf, n, &crc)) return BAD(what, "cannot read the body");
        left -= n;
    }
    uint32_t stored;
    if (fread(&stored, 1, 4, f) != 4) return BAD(what, "cannot read the checksum");
    if (stored != crc)
        return BAD(what, "checksum mismatch (%08x stored, %08x computed): the file "
                   "is damaged", stored, crc);
    if (strlen(c->config) != h->config_bytes)
        return BAD(what, "the configuration text holds a NUL byte");
    return check_table(c, what, e);
}

Status ckpt_open(CkptFile *c, const char *path, Error *e) {
    memset(c, 0, sizeof *c);
    struct stat st;
    if (stat(path, &st) != 0) return BAD(path, "%s", strerror(errno));
    if (S_ISDIR(st.st_mode)) return BAD(path, "is a directory, not a file");
    if (!S_ISREG(st.st_mode)) return BAD(path, "not a regular file");
    FILE *f = fopen(path, "rb");
    if (!f) return BAD(path, "%s", strerror(errno));
    Status rc = ckpt_open_stream(c, f, (uint64_t)st.st_size, path, e);
    if (rc) ckpt_close(c);
    return rc;
}

const CkptEntry *ckpt_find(const CkptFile *c, const char *name) {
    for (uint32_t i = 0; i < c->h.n_tensors; i++)
        if (strncmp(c->table[i].name, name, CKPT_NAME_MAX) == 0) return &c->table[i];
    return NULL;
}

Status ckpt_read(const CkptFile *c, const CkptEntry *en, uint64_t off, void *dst, size_t n,
                 Error *e) {
    uint64_t bytes = en->count * en->elem_size;
    if (off > bytes || n > bytes - off) return BAD(en->name, "read past the tensor's end");
    if (fseeko(c->f, (off_t)(c->body_at + en->offset + off), SEEK_SET) != 0 ||
        fread(dst, 1, n, c->f) != n)
        return BAD(en->name, "cannot read: %s", strerror(errno));
    return STATUS_OK;
}

/* ---- writing ---- */

Status ckpt_begin(CkptWriter *w, const char *path, Error *e) {
    memset(w, 0, sizeof *w);
    if (strlen(path) + 16 >= sizeof w->path) return fail(e, STATUS_IO, path, "path too long");
    snprintf(w->path, sizeof w->path, "%s", path);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    snprintf(w->tmp, sizeof w->tmp, "%s/.%s.tmp", dirname(dir), basename(w->path));
    snprintf(w->path, sizeof w->path, "%s", path); /* basename may modify its argument */
    w->f = fopen(w->tmp, "wb");
    if (!w->f) return fail(e, STATUS_IO, w->tmp, "cannot create: %s", strerror(errno));
    return STATUS_OK;
}

void ckpt_write(CkptWriter *w, const void *data, size_t n) {
    if (w->failed || n == 0) return;
    if (fwrite(data, 1, n, w->f) != n) {
        w->failed = 1;
        w->errno_at_fail = errno ? errno : EIO;
        return;
    }
    w->crc = ckpt_crc32(w->crc, data, n);
}

void ckpt_abort(CkptWriter *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    unlink(w->tmp);
}

/* fsync of the directory that holds path, so that the rename is on disk. */
static int sync_dir(const char *path) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    int fd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

Status ckpt_commit(CkptWriter *w, Error *e) {
    uint32_t crc = w->crc;
    ckpt_write(w, &crc, sizeof crc);
    if (!w->failed && (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0))
        w->failed = 1, w->errno_at_fail = errno;
    if (w->failed) {
        int saved = w->errno_at_fail;
        ckpt_abort(w);
        return fail(e, STATUS_IO, w->tmp, "cannot write: %s", strerror(saved));
    }
    int rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0 || rename(w->tmp, w->path) != 0) {
        int saved = errno;
        unlink(w->tmp);
        return fail(e, STATUS_IO, w->path, "cannot write: %s", strerror(saved));
    }
    if (sync_dir(w->path) != 0)
        return fail(e, STATUS_IO, w->path, "cannot sync its directory: %s", strerror(errno));
    return STATUS_OK;
}
