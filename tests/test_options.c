/* test_options.c - the table of options (include/ddpg/options.def.h) and
 * what comes from it: the defaults, the checkpoint's configuration text,
 * config.json and --help each hold every option the table says they hold,
 * with its value; a configuration with no option at its default shows that
 * no value is lost or taken from another option on the way. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddpg/config.h"
#include "ddpg/env.h"
#include "ddpg/options.h"
#include "ddpg/runlog.h"
#include "helpers.h"
#include "suites.h"

/* A value of o other than its default d, as the command line writes it. */
static void other_value(const Option *o, const Config *d, char *buf, size_t len) {
    char def[CONFIG_PATH_MAX];
    option_value_text(o, d, def, sizeof def);
    switch (o->type) {
    case OPT_INT: case OPT_I64: case OPT_U64: {
        double v = strtod(def, NULL);
        snprintf(buf, len, "%.0f", v < o->hi ? v + 1 : o->lo);
        break;
    }
    case OPT_DBL: {
        double v = strtod(def, NULL);
        snprintf(buf, len, "%.17g", v < o->hi ? (v + o->hi) / 2 : (o->lo + o->hi) / 2);
        break;
    }
    case OPT_FLAG: snprintf(buf, len, "on"); break;
    case OPT_ENUM: case OPT_NAME: { /* the first word that is not the default */
        const char *w = o->value;
        size_t n = strcspn(w, "|");
        if (strlen(def) == n && strncmp(w, def, n) == 0) w += n + 1;
        snprintf(buf, len, "%.*s", (int)strcspn(w, "|"), w);
        break;
    }
    case OPT_ENV: snprintf(buf, len, "%s", env_at(!strcmp(env_at(0)->alias, def))->alias); break;
    case OPT_PATH: snprintf(buf, len, "/tmp/ddpg_%s_here", o->name); break;
    case OPT_HIDDEN: snprintf(buf, len, "3,5,7"); break;
    }
}

/* Every option at a value other than its default. */
static void all_other(Config *x) {
    Config d;
    config_defaults(&d);
    *x = d;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char v[CONFIG_PATH_MAX], was[CONFIG_PATH_MAX], now[CONFIG_PATH_MAX];
        other_value(&OPTIONS[i], &d, v, sizeof v);
        Error e = {0};
        ck_assert_msg(option_parse(x, &OPTIONS[i], v, &e) == STATUS_OK, "%s", e.msg);
        option_value_text(&OPTIONS[i], &d, was, sizeof was);
        option_value_text(&OPTIONS[i], x, now, sizeof now);
        ck_assert_msg(strcmp(was, now) != 0, "--%s %s is its default", OPTIONS[i].name, v);
    }
}

/* 1 when o has the same value in a and b. */
static int same_value(const Option *o, const Config *a, const Config *b) {
    char va[CONFIG_PATH_MAX], vb[CONFIG_PATH_MAX];
    option_value_text(o, a, va, sizeof va);
    option_value_text(o, b, vb, sizeof vb);
    return strcmp(va, vb) == 0;
}

/* Each default parses, and the Config's defaults are those values. */
START_TEST(test_defaults_are_the_table) {
    Config d;
    config_defaults(&d);
    ck_assert_int_eq(d.set, 0);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        Config one;
        memset(&one, 0, sizeof one);
        Error e = {0};
        if (*o->def) ck_assert_msg(option_parse(&one, o, o->def, &e) == STATUS_OK, "%s", e.msg);
        ck_assert_msg(same_value(o, &one, &d), "--%s: default", o->name);
    }
}
END_TEST

/* The words of --noise and --algo are the names the rest of the program
 * gives their values (NOISE_NAMES, ALGO_NAMES: a checkpoint's header). */
START_TEST(test_enum_words_are_the_names) {
    char want[64];
    snprintf(want, sizeof want, "%s|%s", NOISE_NAMES[NOISE_GAUSSIAN], NOISE_NAMES[NOISE_OU]);
    ck_assert_str_eq(option_find("noise")->value, want);
    snprintf(want, sizeof want, "%s|%s", ALGO_NAMES[ALGO_DDPG], ALGO_NAMES[ALGO_TD3]);
    ck_assert_str_eq(option_find("algo")->value, want);
}
END_TEST

/* The checkpoint's text holds every saved option with its value (and no
 * other): a configuration with no default left reads back the same. */
START_TEST(test_text_holds_every_saved_option) {
    Config x, back, d;
    all_other(&x);
    config_defaults(&d);
    char text[1 << 14];
    ck_assert_int_gt(config_to_text(&x, text, sizeof text), 0);
    Error e = {0};
    ck_assert_msg(config_from_text(&back, text, &e) == STATUS_OK, "%s", e.msg);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        ck_assert_msg(same_value(o, option_is_saved(o) ? &x : &d, &back), "--%s", o->name);
    }
}
END_TEST

/* config.json: the saved options under their keys, each of its JSON type,
 * with every key of a committed run (tests/fixtures/run_small) in its
 * order; read back with --config, every value is the run's. */
START_TEST(test_config_json_holds_every_saved_option) {
    Config x, back, d;
    all_other(&x);
    config_defaults(&d);
    RunLog l;
    memset(&l, 0, sizeof l);
    tmpdir_create(l.dir, sizeof l.dir, "config_json");
    ck_assert_int_eq(runlog_write_config(&l, &x, "cpu", "a CPU", x.threads, NULL), 0);
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", l.dir);
    json_t *got = json_load_file(path, 0, NULL);
    json_t *want = json_load_file("tests/fixtures/run_small/config.json", 0, NULL);
    ck_assert(got && want);
    /* the committed run's keys, in its order (a new option adds one) */
    void *iw = json_object_iter(want);
    const char *k;
    json_t *jv;
    json_object_foreach(got, k, jv) {
        if (!json_object_get(want, k)) continue;
        ck_assert_ptr_nonnull(iw);
        ck_assert_str_eq(k, json_object_iter_key(iw));
        iw = json_object_iter_next(want, iw);
    }
    ck_assert_msg(iw == NULL, "config.json: no %s", json_object_iter_key(iw));
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        char key[64];
        option_json_key(o, key, sizeof key);
        if (!option_is_saved(o)) continue; /* config.json's out is the run's directory */
        json_t *v = json_object_get(got, key);
        int type = o->type <= OPT_U64 ? JSON_INTEGER : o->type == OPT_DBL ? JSON_REAL
                   : o->type == OPT_HIDDEN ? JSON_ARRAY : o->type == OPT_FLAG ? JSON_TRUE
                   : JSON_STRING;
        ck_assert_msg(v && (int)json_typeof(v) == type, "config.json: %s", key);
        ck_assert_ptr_eq(option_find_json(key), o);
    }
    json_decref(got);
    json_decref(want);
    config_defaults(&back);
    Error e = {0};
    ck_assert_msg(config_read_file(&back, path, &e) == STATUS_OK, "%s", e.msg);
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const Option *o = &OPTIONS[i];
        ck_assert_msg(same_value(o, option_is_saved(o) ? &x : &d, &back), "--%s", o->name);
    }
    rm_rf(l.dir);
}
END_TEST

/* --help: every option, in the table's order, with its default. */
START_TEST(test_help_lists_every_option) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_help(f);
    fclose(f);
    Config d;
    config_defaults(&d);
    const char *at = text;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        char head[64], def[CONFIG_PATH_MAX + 8], v[CONFIG_PATH_MAX];
        snprintf(head, sizeof head, "\n  --%s ", OPTIONS[i].name);
        at = strstr(at, head);
        ck_assert_msg(at != NULL, "--help: --%s missing or out of order", OPTIONS[i].name);
        option_default_text(&OPTIONS[i], &d, v, sizeof v);
        snprintf(def, sizeof def, "[%s]\n", v);
        const char *end = strstr(at + 1, "\n  --");
        const char *found = strstr(at, def);
        ck_assert_msg(found && found < end, "--help: --%s: no %s", OPTIONS[i].name, def);
    }
    free(text);
}
END_TEST

Suite *options_suite(void) {
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_defaults_are_the_table);
    tcase_add_test(tc, test_enum_words_are_the_names);
    tcase_add_test(tc, test_text_holds_every_saved_option);
    tcase_add_test(tc, test_config_json_holds_every_saved_option);
    tcase_add_test(tc, test_help_lists_every_option);
    suite_add_tcase(s, tc);
    return s;
}
