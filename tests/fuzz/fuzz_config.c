/* fuzz_config.c - libFuzzer target: the command-line parser and the --config
 * file reader (src/config/) on any bytes.
 *
 *   make fuzz FUZZ_SECONDS=60
 *
 * The first byte chooses: odd, the rest is command-line words separated by
 * NUL bytes (with --config taken out: it would read a file the input
 * names); even, the rest is the text of a --config file (key = value lines,
 * or JSON). Either way the parser must refuse with a status and a message
 * or accept within the ranges: the sanitizers turn anything else into a
 * crash, and an accepted configuration is checked against the table's
 * promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/config.h"

static FILE *devnull(void) {
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

/* A refusal says why: a status and a message. */
static void check_refused(Status s, const Error *e) {
    if (s != STATUS_BAD_INPUT || e->status != s || !e->msg[0]) abort();
}

static void check_accepted(const Config *c) {
    if (c->envs < 1 || c->batch_size < 1 || c->n_hidden > CONFIG_MAX_HIDDEN ||
        !(c->tau > 0 && c->tau <= 1) || !(c->gamma >= 0 && c->gamma <= 1) ||
        (int)c->noise < 0 || (int)c->noise > 1 || memchr(c->out, 0, sizeof c->out) == NULL)
        abort(); /* accepted a value outside its range */
}

static void parse_words(const uint8_t *d, size_t n) {
    char *buf = malloc(n + 1), *argv[65];
    if (!buf) return;
    memcpy(buf, d, n);
    buf[n] = 0;
    int argc = 0;
    argv[argc++] = "ddpg_cuda";
    for (char *w = buf; w < buf + n + 1 && argc < 65; w += strlen(w) + 1) {
        if (strncmp(w, "--config", 8) == 0) continue;
        argv[argc++] = w;
    }
    Config c;
    Error e;
    error_clear(&e);
    int printed;
    config_defaults(&c);
    Status s = config_parse(&c, argc, argv, devnull(), &printed, &e);
    if (s == STATUS_OK && !printed) {
        config_scale_defaults(&c);
        s = config_validate(&c, &e);
    }
    if (s != STATUS_OK) {
        check_refused(s, &e);
    } else if (!printed) {
        check_accepted(&c);
        char text[1 << 16];
        Config back;
        if (config_to_text(&c, text, sizeof text) >= 0 && config_from_text(&back, text, &e) != 0)
            abort(); /* the checkpoint's text of an accepted configuration must parse */
    }
    free(buf);
}

static void parse_file(const uint8_t *d, size_t n) {
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_config_%d.conf", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(d, 1, n, f);
    fclose(f);
    Config c;
    Error e;
    error_clear(&e);
    config_defaults(&c);
    Status s = config_read_file(&c, path, &e);
    if (s == STATUS_OK)
        check_accepted(&c);
    else
        check_refused(s, &e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1)
        parse_words(data + 1, size - 1);
    else
        parse_file(data + 1, size - 1);
    return 0;
}
