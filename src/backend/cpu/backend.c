/* backend.c - the CPU backend: memory, splitting work over the thread pool,
 * and the Backend table over the op families (dense.c, loss.c, optim.c,
 * random.c, env.c, replay.c) and the update schedule (update.c).
 * "Device" memory is host memory; every op runs to completion when called. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu_common.h"
#include "ddpg/errcheck.h"

/* ---- splitting ---- */

typedef struct {
    RangeFn body;
    void *ctx;
    size_t n, chunk;
} RangeJob;

static void range_task(void *arg, int part) {
    const RangeJob *j = arg;
    size_t lo = (size_t)part * j->chunk;
    size_t hi = j->n - lo < j->chunk ? j->n : lo + j->chunk;
    if (lo < hi) j->body(j->ctx, lo, hi);
}

void cpu_for(Backend *be, size_t n, size_t align, size_t min_part, RangeFn body, void *ctx) {
    const Cpu *c = be->impl;
    size_t parts = pool_in_task() ? 1 : (size_t)c->threads;
    if (min_part < 1) min_part = 1;
    if (n / min_part < parts) parts = n / min_part;
    if (parts <= 1) {
        body(ctx, 0, n);
        return;
    }
    size_t chunk = (n + parts - 1) / parts;
    chunk = (chunk + align - 1) / align * align;
    RangeJob j = {body, ctx, n, chunk};
    pool_run(c->pool, (int)((n + chunk - 1) / chunk), range_task, &j);
}

size_t cpu_rows_min_part(int cols) {
    size_t m = ROWS_PART_MIN_ELEMS / (size_t)(cols > 0 ? cols : 1);
    return m ? m : 1;
}

void cpu_run_parts(Backend *be, int n, PoolFn fn, void *ctx) {
    pool_run(((Cpu *)be->impl)->pool, n, fn, ctx);
}

/* ---- memory ---- */

/* Large blocks come from mmap and so all start at the same offset in a page:
 * the streams of an element-wise pass (Adam reads p, g, m, v) then compete
 * for the same cache sets (what it cost: bench/results/code_comment_figures.md).
 * Each block of at
 * least COLOUR_MIN bytes starts at its own multiple of 64 bytes within the
 * page ("cache colouring"). A header line before the block keeps the
 * pointer that malloc returned. */
#define COLOUR_MIN 16384
#define COLOURS 61 /* prime, so the offsets of consecutive blocks differ */

static void *cpu_alloc(Backend *be, size_t bytes) {
    Cpu *c = be->impl;
    size_t rounded = (bytes + 63) / 64 * 64; /* 64-byte alignment for SIMD */
    size_t colour = bytes >= COLOUR_MIN ? 64 * (c->next_colour++ % COLOURS) : 0;
    if (rounded < bytes || rounded > SIZE_MAX - 128 - colour) return NULL;
    char *raw = aligned_alloc(64, 64 + colour + (rounded ? rounded : 64));
    if (!raw) return NULL;
    char *p = raw + 64 + colour;
    ((void **)p)[-1] = raw;
    memset(p, 0, rounded ? rounded : 64);
    return p;
}
static void cpu_free(Backend *be, void *p) {
    (void)be;
    if (p) free(((void **)p)[-1]);
}
static void cpu_memcpy(Backend *be, void *dst, const void *src, size_t bytes) {
    (void)be;
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_sync(Backend *be) { (void)be; }

size_t host_memory_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return SIZE_MAX;
    char line[256];
    unsigned long long kb = 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    fclose(f);
    return found ? (size_t)kb * 1024 : SIZE_MAX;
}

static size_t cpu_mem_available(Backend *be) {
    (void)be;
    return host_memory_available();
}

static void cpu_destroy(Backend *be) {
    Cpu *c = be->impl;
    pool_destroy(c->pool);
    free(c);
    free(be);
}

/* ---- creation ---- */

static void cpu_device_name(char *buf, size_t len) {
    snprintf(buf, len, "CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, len, "%s", c);
            }
            break;
        }
    }
    fclose(f);
}

Backend *backend_cpu_create(int threads) {
    Backend *be = calloc(1, sizeof *be);
    Cpu *c = calloc(1, sizeof *c);
    mallocCheck(be);
    mallocCheck(c);
    if (threads <= 0) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        threads = online > 0 ? (int)online : 1;
    }
    /* Our threads split the work; OpenBLAS inside each stays on one core. */
    openblas_set_num_threads(1);
    c->pool = pool_create(threads);
    if (!c->pool) c->pool = pool_create(1); /* no threads to spare: run inline */
    mallocCheck(c->pool);
    c->threads = pool_threads(c->pool);
    be->threads = c->threads;
    be->impl = c;
    be->name = "cpu";
    cpu_device_name(be->device_name, sizeof be->device_name);
    be->destroy = cpu_destroy;
    be->mem_available = cpu_mem_available;
    be->shares_host_memory = 1;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->to_device = cpu_memcpy;
    be->to_host = cpu_memcpy;
    be->copy = cpu_memcpy;
    be->sync = cpu_sync;
    be->host_alloc = cpu_alloc;
    be->host_free = cpu_free;
    be->to_host_async = cpu_memcpy;
#define SET_OP(op) be->op = cpu_##op;
    BACKEND_COMPUTE_OPS(SET_OP)
#undef SET_OP
    be->schedule = &CPU_DDPG_SCHEDULE;
    return be;
}
