/* runlog.c - writing the run directory. */
#include "ddpg/runlog.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static const char *CSV_FILES[] = {"episodes.csv", "updates.csv", "probes.csv", "eval.csv",
                                  "progress.csv"};
/* updates.csv's header is "update," and the caller's metric names */
static const char *CSV_HEADERS[] = {
    "episode,env,return,length,global_step,wall_s",
    "update",
    "episode,probe,action,q",
    "global_step,wall_s,mean_return,std_return,min_return,max_return",
    "global_step,wall_s,episodes,env_steps_per_s,updates_per_s"};
#define N_CSV RUNLOG_N_CSV

/* mkdir -p; on failure returns -1 with errno set. Records which levels it made. */
static int mkdir_p(const char *path, char made[][1024], int *n_made) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    size_t len = strlen(buf);
    while (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            struct stat st;
            if (stat(buf, &st) != 0) {
                if (mkdir(buf, 0755) != 0) return -1;
                if (*n_made < 16) snprintf(made[(*n_made)++], 1024, "%s", buf);
            } else if (!S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                return -1;
            }
            *p = c;
            if (c == 0) break;
        }
    }
    return 0;
}

static FILE **csv_slot(RunLog *l, int i) {
    FILE **slots[] = {&l->episodes, &l->updates, &l->probes, &l->eval, &l->progress};
    return slots[i];
}

int runlog_open(RunLog *l, const char *dir, const char *const *metrics, int n_metrics,
                FILE *err) {
    memset(l, 0, sizeof *l);
    if (strlen(dir) + 32 >= sizeof l->dir) {
        fprintf(err, "error: --out: path too long\n");
        return 2;
    }
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    char made[16][1024];
    int n_made = 0;
    if (mkdir_p(dir, made, &n_made) != 0) {
        fprintf(err, "error: --out: cannot create directory '%s': %s\n", dir, strerror(errno));
        goto undo;
    }
    for (int i = 0; i < N_CSV; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, CSV_FILES[i]);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(err, "error: --out: cannot write '%s': %s\n", path, strerror(errno));
            goto undo;
        }
        fprintf(f, "%s", CSV_HEADERS[i]);
        if (csv_slot(l, i) == &l->updates)
            for (int k = 0; k < n_metrics; k++) fprintf(f, ",%s", metrics[k]);
        fputc('\n', f);
        *csv_slot(l, i) = f;
    }
    return 0;
undo:
    for (int i = 0; i < N_CSV; i++) {
        FILE **f = csv_slot(l, i);
        if (*f) {
            char path[1100];
            fclose(*f);
            *f = NULL;
            snprintf(path, sizeof path, "%s/%s", dir, CSV_FILES[i]);
            unlink(path);
        }
    }
    for (int i = n_made - 1; i >= 0; i--) rmdir(made[i]);
    return 2;
}

int runlog_reopen(RunLog *l, const char *dir, const int64_t sizes[RUNLOG_N_CSV], FILE *err) {
    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    for (int i = 0; i < N_CSV; i++) {
        char path[1100];
        snprintf(path, sizeof path, "%s/%s", dir, CSV_FILES[i]);
        FILE *f = fopen(path, "r+");
        struct stat st;
        if (!f || fstat(fileno(f), &st) != 0) {
            fprintf(err, "error: --resume: cannot open '%s': %s\n", path, strerror(errno));
            if (f) fclose(f);
            runlog_close(l);
            return 2;
        }
        *csv_slot(l, i) = f;
        if (st.st_size < sizes[i]) {
            fprintf(err, "error: --resume: '%s' has %lld bytes, fewer than the %lld it had when "
                    "the checkpoint was written\n", path, (long long)st.st_size,
                    (long long)sizes[i]);
            runlog_close(l);
            return 2;
        }
        /* rows written after the checkpoint are written again by the resumed run */
        if (ftruncate(fileno(f), (off_t)sizes[i]) != 0 || fseeko(f, 0, SEEK_END) != 0) {
            fprintf(err, "error: --resume: cannot cut '%s' back to the checkpoint: %s\n", path,
                    strerror(errno));
            runlog_close(l);
            return 2;
        }
    }
    return 0;
}

int runlog_sync(RunLog *l, int64_t sizes[RUNLOG_N_CSV]) {
    for (int i = 0; i < N_CSV; i++) {
        FILE *f = *csv_slot(l, i);
        if (fflush(f) != 0 || fsync(fileno(f)) != 0) return -1;
        off_t at = ftello(f);
        if (at < 0) return -1;
        sizes[i] = (int64_t)at;
    }
    return 0;
}

void json_write_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int write_atomically(RunLog *l, const char *name, void (*body)(FILE *, const void *),
                            const void *arg) {
    char tmp[1100], path[1100];
    snprintf(path, sizeof path, "%s/%s", l->dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", l->dir, name);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "error: cannot write '%s': %s\n", tmp, strerror(errno));
        return -1;
    }
    body(f, arg);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "error: cannot write '%s': %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* c's settings as JSON object members (no braces), one per line after ind. */
static void config_members(const Config *c, FILE *f, const char *ind) {
    fprintf(f, "%s\"env\": \"%s\",\n", ind, c->env);
    fprintf(f, "%s\"envs\": %d,\n", ind, c->envs);
    fprintf(f, "%s\"device_requested\": \"%s\",\n", ind, c->device);
    fprintf(f, "%s\"seed\": %llu,\n", ind, (unsigned long long)c->seed);
    fprintf(f, "%s\"total_steps\": %lld,\n", ind, (long long)c->total_steps);
    fprintf(f, "%s\"batch_size\": %d,\n", ind, c->batch_size);
    fprintf(f, "%s\"replay_size\": %lld,\n", ind, (long long)c->replay_size);
    fprintf(f, "%s\"gamma\": %.17g,\n", ind, c->gamma);
    fprintf(f, "%s\"tau\": %.17g,\n", ind, c->tau);
    fprintf(f, "%s\"actor_lr\": %.17g,\n", ind, c->actor_lr);
    fprintf(f, "%s\"critic_lr\": %.17g,\n", ind, c->critic_lr);
    fprintf(f, "%s\"start_steps\": %lld,\n", ind, (long long)c->start_steps);
    fprintf(f, "%s\"update_after\": %lld,\n", ind, (long long)c->update_after);
    fprintf(f, "%s\"updates_per_step\": %d,\n", ind, c->updates_per_step);
    fprintf(f, "%s\"noise\": \"%s\",\n", ind, NOISE_NAMES[c->noise]);
    fprintf(f, "%s\"noise_sigma\": %.17g,\n", ind, c->noise_sigma);
    fprintf(f, "%s\"ou_theta\": %.17g,\n", ind, c->ou_theta);
    fprintf(f, "%s\"hidden\": [", ind);
    for (int i = 0; i < c->n_hidden; i++) fprintf(f, i ? ", %d" : "%d", c->hidden[i]);
    fprintf(f, "],\n");
    fprintf(f, "%s\"grad_clip\": %.17g,\n", ind, c->grad_clip);
    fprintf(f, "%s\"probe_n\": %d,\n", ind, c->probe_n);
    fprintf(f, "%s\"probe_every\": %d,\n", ind, c->probe_every);
    fprintf(f, "%s\"eval_every\": %lld,\n", ind, (long long)c->eval_every);
    fprintf(f, "%s\"eval_episodes\": %d,\n", ind, c->eval_episodes);
    fprintf(f, "%s\"threads\": %d,\n", ind, c->threads);
    fprintf(f, "%s\"truncation_as_terminal\": %s,\n", ind,
            c->truncation_as_terminal ? "true" : "false");
    fprintf(f, "%s\"stop_when_solved\": %s,\n", ind, c->stop_when_solved ? "true" : "false");
    fprintf(f, "%s\"save_every\": %lld,\n", ind, (long long)c->save_every);
    fprintf(f, "%s\"save_replay\": %s,\n", ind, c->save_replay ? "true" : "false");
    fprintf(f, "%s\"version\": \"%s\"", ind, DDPG_VERSION);
}

typedef struct {
    const Config *c;
    const char *backend, *device_name;
} ConfigArg;

static void config_body(FILE *f, const void *arg) {
    const ConfigArg *a = arg;
    fprintf(f, "{\n");
    config_members(a->c, f, "  ");
    fprintf(f, ",\n  \"backend\": ");
    json_write_string(f, a->backend);
    fprintf(f, ",\n  \"device\": ");
    json_write_string(f, a->backend);
    fprintf(f, ",\n  \"device_name\": ");
    json_write_string(f, a->device_name);
    fprintf(f, ",\n  \"out\": ");
    json_write_string(f, a->c->out);
    fprintf(f, "\n}\n");
}

int runlog_write_config(RunLog *l, const Config *c, const char *backend,
                        const char *device_name) {
    ConfigArg a = {c, backend, device_name};
    return write_atomically(l, "config.json", config_body, &a);
}

void runlog_episode(RunLog *l, int64_t episode, int env, float ret, int len, int64_t global_step,
                    double wall_s) {
    fprintf(l->episodes, "%lld,%d,%.6g,%d,%lld,%.4f\n", (long long)episode, env, ret, len,
            (long long)global_step, wall_s);
}

void runlog_update(RunLog *l, int64_t update, const float *m, int n) {
    fprintf(l->updates, "%lld", (long long)update);
    for (int k = 0; k < n; k++) fprintf(l->updates, ",%.6g", m[k]);
    fputc('\n', l->updates);
}

void runlog_probe(RunLog *l, int64_t episode, int n, const float *act, const float *q) {
    for (int i = 0; i < n; i++)
        fprintf(l->probes, "%lld,%d,%.6g,%.6g\n", (long long)episode, i, act[i], q[i]);
}

void runlog_eval(RunLog *l, int64_t global_step, double wall_s, const float *r, int n,
                 double *mean_out) {
    double s = 0, lo = r[0], hi = r[0];
    for (int i = 0; i < n; i++) {
        s += r[i];
        lo = r[i] < lo ? r[i] : lo;
        hi = r[i] > hi ? r[i] : hi;
    }
    double mean = s / n, var = 0;
    for (int i = 0; i < n; i++) var += (r[i] - mean) * (r[i] - mean);
    fprintf(l->eval, "%lld,%.4f,%.6g,%.6g,%.6g,%.6g\n", (long long)global_step, wall_s, mean,
            sqrt(var / n), lo, hi);
    if (mean_out) *mean_out = mean;
}

void runlog_progress(RunLog *l, int64_t global_step, double wall_s, int64_t episodes,
                     double sps, double ups) {
    fprintf(l->progress, "%lld,%.4f,%lld,%.1f,%.1f\n", (long long)global_step, wall_s,
            (long long)episodes, sps, ups);
}

static void num_or_null(FILE *f, int have, double v) {
    if (have && isfinite(v))
        fprintf(f, "%.6g", v);
    else
        fprintf(f, "null");
}

static void summary_body(FILE *f, const void *arg) {
    const RunSummary *s = arg;
    fprintf(f, "{\n  \"status\": ");
    json_write_string(f, s->status);
    fprintf(f, ",\n  \"device\": ");
    json_write_string(f, s->device);
    fprintf(f, ",\n  \"device_name\": ");
    json_write_string(f, s->device_name);
    fprintf(f, ",\n  \"envs\": %d,\n  \"env_steps\": %lld,\n  \"updates\": %lld,\n", s->envs,
            (long long)s->env_steps, (long long)s->updates);
    fprintf(f, "  \"wall_s\": %.4f,\n  \"env_steps_per_s\": %.1f,\n  \"updates_per_s\": %.1f,\n",
            s->wall_s, s->env_steps_per_s, s->updates_per_s);
    fprintf(f, "  \"final_eval_return\": ");
    num_or_null(f, s->have_eval, s->final_eval_return);
    fprintf(f, ",\n  \"best_eval_return\": ");
    num_or_null(f, s->have_eval, s->best_eval_return);
    fprintf(f, ",\n  \"solved_step\": ");
    if (s->solved_step >= 0)
        fprintf(f, "%lld", (long long)s->solved_step);
    else
        fprintf(f, "null");
    fprintf(f, ",\n  \"solved_wall_s\": ");
    num_or_null(f, s->solved_step >= 0, s->solved_wall_s);
    fprintf(f, ",\n  \"checkpoint_step\": ");
    if (s->checkpoint_step >= 0)
        fprintf(f, "%lld", (long long)s->checkpoint_step);
    else
        fprintf(f, "null");
    fprintf(f, ",\n  \"diverged\": ");
    if (s->diverged_what) {
        fprintf(f, "{\"update\": %lld, \"quantity\": ", (long long)s->diverged_update);
        json_write_string(f, s->diverged_what);
        fprintf(f, "}");
    } else {
        fprintf(f, "null");
    }
    fprintf(f, "\n}\n");
}

int runlog_write_summary(RunLog *l, const RunSummary *s) {
    return write_atomically(l, "summary.json", summary_body, s);
}

void runlog_flush(RunLog *l) {
    for (int i = 0; i < N_CSV; i++)
        if (*csv_slot(l, i)) fflush(*csv_slot(l, i));
}

void runlog_close(RunLog *l) {
    for (int i = 0; i < N_CSV; i++) {
        FILE **f = csv_slot(l, i);
        if (*f) fclose(*f);
        *f = NULL;
    }
}
