/* fuzz_checkpoint.c - libFuzzer target: the checkpoint loader (ckpt_file.c)
 * and the saved configuration's parser (config.c) on any bytes.
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * Every input must be refused with a message or read in bounds: the
 * sanitizers (address, undefined) turn anything else into a crash. Inputs
 * that crashed are kept in tests/fuzz/regressions/, which test_checkpoint.c
 * loads on every test run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpg/ckpt_file.h"
#include "ddpg/config.h"

static void load(const uint8_t *data, size_t size) {
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return;
    CkptFile c;
    Error err = {STATUS_OK, ""};
    if (ckpt_open_stream(&c, f, size, "fuzz", &err) == STATUS_OK) {
        char buf[256];
        for (uint32_t i = 0; i < c.h.n_tensors; i++) { /* every tensor's first and last bytes */
            const CkptEntry *e = &c.table[i];
            uint64_t bytes = e->count * e->elem_size;
            size_t n = bytes < sizeof buf ? (size_t)bytes : sizeof buf;
            if (ckpt_read(&c, e, 0, buf, n, &err) || ckpt_read(&c, e, bytes - n, buf, n, &err))
                abort(); /* a checked file reads in bounds */
        }
        Config cfg;
        Error err_cfg;
        error_clear(&err_cfg);
        config_from_text(&cfg, c.config, &err_cfg);
    }
    ckpt_close(&c);
}

/* Each input twice: as it is (the checksum refuses nearly every mutation),
 * and with its last four bytes made the checksum of the rest, so that the
 * table and configuration checks behind it meet mutated files too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0; /* fmemopen takes no empty buffer; ckpt_open tests empty files */
    load(data, size);
    if (size < 4) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint32_t crc = ckpt_crc32(0, fixed, size - 4);
    memcpy(fixed + size - 4, &crc, 4);
    load(fixed, size);
    free(fixed);
    return 0;
}
