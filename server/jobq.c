/* jobq.c: the training job queue (jobq.h): validation, storage, the
 * runner threads and the jobs' progress.
 *
 * DESIGN
 * ------
 * Threads: `runners` runner threads (--train-jobs, default 1), started by
 * jobq_open and joined by jobq_close. Each takes the oldest queued job and
 * runs it with trainer_run on its own thread. A runner lowers its own
 * priority before it trains: nice (setpriority on its thread id,
 * --train-nice) and SCHED_BATCH, so the inference workers win the cores
 * whenever both want them; the trainer's networks split their layers
 * across cfg.threads engine threads (--engine-threads, as a forward pass
 * does), the count its memory estimate is made for.
 * The HTTP thread calls submit / get / list / cancel / preview.
 *
 * Lock: one mutex guards the job table and every Job field but `cancel`
 * (an atomic the trainer polls once per step). It is never held while
 * training, loading or writing files, except job.json, which is small:
 * a snapshot of the job is taken under the lock and written after it.
 * A condition variable wakes runners when a job is queued or at close.
 *
 * Durability: job.json is rewritten (temporary file, fsync, rename) when a
 * job is queued, starts, publishes a checkpoint and ends. A job that was
 * running when the process stopped is "running" on disk; jobq_open queues
 * it again, and when it runs again with a trainer state file present
 * (repo.h's REPO_STATE, written by the trainer before
 * each checkpoint's version) it resumes from it (trainer resume: weights,
 * Adam moments, step, RNG). A job starting afresh removes a state file
 * left there by an earlier run, so a resume is always its own. Two jobs
 * for one model are never queued at once.
 *
 * Ownership: the Jobq owns its jobs (never freed before jobq_close), the
 * threads and the files under <data>/jobs; the registry is borrowed.
 */
#include "server/jobq.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/image.h"
#include "engine/train/traindata.h"
#include "engine/train/trainer.h"
#include "server/gate.h"
#include "server/jobq_config.h"
#include "server/jobq_history.h"
#include "server/log.h"
#include "engine/repo.h"
#include "engine/util.h"

#define MAX_JOBS 100000
#define MAX_VERSIONS 4096


typedef struct Job {
    char id[JOBQ_ID_LEN + 1];
    uint64_t seq;                 /* submission order */
    int state;                    /* a JobState; -1 while reading job.json */
    JobConfig cfg;                /* the config, parsed (job.json keeps its JSON) */
    json_t *config;               /* the validated config, defaults filled */
    int uploaded_content;
    int started;                  /* has run before: a state file may be its own */
    double created, began, ended; /* wall clock, s */
    TrainProgress last;           /* newest progress (path unused) */
    int64_t steps_seen;           /* for the steps counter */
    int *versions;
    int nversions;
    json_t *cands;                /* [{version, state, passed, reasons, scores}] */
    json_t *canary;               /* {version, share, requests, served, failed, outcome} */
    int promoted;                 /* the version this job promoted, 0 = none */
    double estimate_s;            /* at submission: its duration, from measured steps/s;
                                     < 0 = no measurement yet */
    char estimate_from[64];
    char error[256];
    JobHistory history;           /* the curve, saved as history.json */
    atomic_int cancel;
    int cancel_user;              /* the cancel came from DELETE, not shutdown */
    int crashes;                  /* times the process died while it ran */
    int stopped_cleanly;          /* "running" on disk because the server stopped */
    int crashed;                  /* restore counted a crash: to be saved */
} Job;

struct Jobq {
    JobqConfig cfg;
    char jobs_dir[PATH_MAX];
    char content_dir[PATH_MAX];
    Registry *reg;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    Job **jobs;
    int n, cap;
    uint64_t next_seq;
    int stopping;
    pthread_t *threads;
    int nthreads;
    long steps_total, published;
    /* Steps per second measured by jobs of this server, per shape (size,
     * batch, width, blocks), the newest kept: what an estimate is made of. */
    struct Rate {
        int size, batch, width, blocks;
        double steps_per_s;
    } rates[16];
    int nrates;
};

/* Keeps j's measured speed (lock held). */
static void note_rate(Jobq *q, const Job *j, double sps)
{
    const TrainConfig *c = &j->cfg.train;
    int i = 0;
    while (i < q->nrates && !(q->rates[i].size == c->size && q->rates[i].batch == c->batch &&
                              q->rates[i].width == c->width && q->rates[i].blocks == c->blocks))
        i++;
    if (i == (int)(sizeof q->rates / sizeof q->rates[0]))
        i = 0;                    /* full: the oldest slot goes */
    else if (i == q->nrates)
        q->nrates++;
    q->rates[i] = (struct Rate){c->size, c->batch, c->width, c->blocks, sps};
}

/* j's duration from the measured speeds (lock held): a job of the same
 * shape's, else one of the same generator at another size or batch, scaled
 * by the pixels per step. Fills j->estimate_*; -1 when nothing was measured. */
static void estimate(const Jobq *q, Job *j)
{
    const TrainConfig *c = &j->cfg.train;
    const struct Rate *best = NULL;
    for (int i = 0; i < q->nrates; i++) {
        const struct Rate *r = &q->rates[i];
        if (r->width != c->width || r->blocks != c->blocks)
            continue;
        if (r->size == c->size && r->batch == c->batch) {
            best = r;
            break;
        }
        if (!best)
            best = r;
    }
    j->estimate_s = -1;
    snprintf(j->estimate_from, sizeof j->estimate_from, "no job of this generator ran yet");
    if (!best)
        return;
    double scale = (double)c->size * c->size * c->batch /
                   ((double)best->size * best->size * best->batch);
    j->estimate_s = (double)c->steps * scale / best->steps_per_s;
    snprintf(j->estimate_from, sizeof j->estimate_from, "%.3g steps/s measured at %dx%d, batch %d",
             best->steps_per_s, best->size, best->size, best->batch);
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void job_free(Job *j)
{
    if (!j)
        return;
    json_decref(j->config);
    json_decref(j->cands);
    json_decref(j->canary);
    free(j->versions);
    history_free(&j->history);
    free(j);
}

static int job_dir(const Jobq *q, const Job *j, const char *sub, char *out, size_t len)
{
    int n = snprintf(out, len, "%s/%s%s%s", q->jobs_dir, j->id, sub ? "/" : "", sub ? sub : "");
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ---- job.json -------------------------------------------------------------- */

/* The job as the API shows it (lock held). */
static json_t *describe(const Job *j)
{
    json_t *o = json_object(), *vs = json_array();
    const TrainProgress *p = &j->last;
    if (!o || !vs) {
        json_decref(o);
        json_decref(vs);
        return NULL;
    }
    for (int i = 0; i < j->nversions; i++)
        json_array_append_new(vs, json_integer(j->versions[i]));
    json_object_set_new(o, "id", json_string(j->id));
    json_object_set_new(o, "state", json_string(job_state_name(j->state)));
    json_object_set_new(o, "model", json_string(j->cfg.name));
    json_object_set_new(o, "step", json_integer(p->step));
    json_object_set_new(o, "steps", json_integer(j->cfg.train.steps));
    json_object_set_new(o, "losses", json_pack("{s:f, s:f, s:f, s:f, s:f}", "d", p->d_loss,
                                               "g_adv", p->g_adv, "content", p->content,
                                               "style", p->style, "tv", p->tv));
    json_object_set_new(o, "steps_per_s", json_real(j->state == JOB_RUNNING ? p->steps_per_s : 0));
    json_object_set_new(o, "eta_s", j->state == JOB_RUNNING && p->steps_per_s > 0
                                        ? json_real(p->eta_s) : json_null());
    json_object_set_new(o, "versions", vs);
    json_object_set_new(o, "candidates", j->cands ? json_deep_copy(j->cands) : json_array());
    json_object_set_new(o, "promoted", j->promoted ? json_integer(j->promoted) : json_null());
    json_object_set_new(o, "canary", j->canary ? json_deep_copy(j->canary) : json_null());
    if (j->estimate_from[0]) {
        json_object_set_new(o, "estimate_s", j->estimate_s >= 0 ? json_real(j->estimate_s)
                                                                : json_null());
        json_object_set_new(o, "estimate_from", json_string(j->estimate_from));
    }
    json_object_set_new(o, "created", json_real(j->created));
    json_object_set_new(o, "started", j->began > 0 ? json_real(j->began) : json_null());
    json_object_set_new(o, "finished", j->ended > 0 ? json_real(j->ended) : json_null());
    json_object_set_new(o, "error", j->error[0] ? json_string(j->error) : json_null());
    json_object_set_new(o, "cancel_requested", json_boolean(j->cancel_user));
    json_object_set_new(o, "config", json_incref(j->config));
    return o;
}

/* What job.json holds besides the description (lock held). */
static json_t *record(const Job *j)
{
    json_t *o = describe(j);
    if (o) {
        json_object_set_new(o, "seq", json_integer((json_int_t)j->seq));
        json_object_set_new(o, "uploaded_content", json_boolean(j->uploaded_content));
        json_object_set_new(o, "has_run", json_boolean(j->started));
        json_object_set_new(o, "crashes", json_integer(j->crashes));
        json_object_set_new(o, "stopped_cleanly", json_boolean(j->stopped_cleanly));
        json_object_set_new(o, "elapsed_s", json_real(j->last.elapsed_s));
    }
    return o;
}

/* Writes job.json and history.json atomically; errors are logged (the
 * job goes on). */
static int save(Jobq *q, Job *j)
{
    char path[PATH_MAX], *text, *hist;
    json_t *o, *h;
    int rc;
    pthread_mutex_lock(&q->lock);
    o = record(j);
    h = history_json(&j->history, -1);
    pthread_mutex_unlock(&q->lock);
    text = o ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
    /* 9 significant digits give a float back exactly. */
    hist = h ? json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    json_decref(h);
    rc = !text || !hist || job_dir(q, j, "history.json", path, sizeof path) ||
                 util_write_atomic(path, hist, strlen(hist), NULL, 0) ||
                 job_dir(q, j, "job.json", path, sizeof path)
             ? -1
             : util_write_atomic(path, text, strlen(text), NULL, 0);
    if (rc)
        log_write("error", "cannot write job.json", "{s:s, s:s}", "job", j->id, "error",
                  strerror(errno));
    free(text);
    free(hist);
    return rc;
}

/* Restores a job from its job.json; NULL when it is not a job. */
static Job *restore(Jobq *q, const char *id)
{
    char path[PATH_MAX], field[64], err[256];
    json_t *o = NULL, *v;
    Job *j = calloc(1, sizeof *j);
    const char *st;
    if (!j || strlen(id) != JOBQ_ID_LEN)
        goto fail;
    memcpy(j->id, id, JOBQ_ID_LEN + 1);
    if (job_dir(q, j, "job.json", path, sizeof path) || !(o = json_load_file(path, 0, NULL)))
        goto fail;
    st = json_string_value(json_object_get(o, "state"));
    j->state = -1;
    for (int i = 0; st && i < JOB_STATE_COUNT; i++)
        if (!strcmp(st, job_state_name(i)))
            j->state = i;
    j->config = json_deep_copy(json_object_get(o, "config"));
    if (j->state < 0 || !j->config ||
        jobq_config_parse(j->config, &j->cfg, field, sizeof field, err, sizeof err)) {
        log_write("error", "ignoring a job that does not parse", "{s:s}", "job", id);
        goto fail;
    }
    j->seq = (uint64_t)json_integer_value(json_object_get(o, "seq"));
    j->uploaded_content = json_is_true(json_object_get(o, "uploaded_content"));
    j->started = json_is_true(json_object_get(o, "has_run"));
    j->crashes = (int)json_integer_value(json_object_get(o, "crashes"));
    j->created = json_number_value(json_object_get(o, "created"));
    j->began = json_number_value(json_object_get(o, "started"));
    j->ended = json_number_value(json_object_get(o, "finished"));
    j->last.step = json_integer_value(json_object_get(o, "step"));
    j->last.elapsed_s = json_number_value(json_object_get(o, "elapsed_s"));
    j->steps_seen = j->last.step;
    if ((v = json_object_get(o, "error")) && json_is_string(v))
        snprintf(j->error, sizeof j->error, "%s", json_string_value(v));
    v = json_object_get(o, "versions");
    if (json_array_size(v) && (j->versions = calloc(json_array_size(v), sizeof(int))))
        for (size_t i = 0; i < json_array_size(v) && i < MAX_VERSIONS; i++)
            j->versions[j->nversions++] = (int)json_integer_value(json_array_get(v, i));
    if (json_is_array(v = json_object_get(o, "candidates")))
        j->cands = json_deep_copy(v);
    j->promoted = (int)json_integer_value(json_object_get(o, "promoted"));
    if (j->state == JOB_RUNNING) {
        /* Interrupted: runs again, resuming; unless the process died under
         * it (an OOM kill, kill -9) more than max_crashes times, which a
         * job that sinks the host would do for ever. */
        if (!json_is_true(json_object_get(o, "stopped_cleanly"))) {
            j->crashes++;
            j->crashed = 1;
        }
        if (j->crashes > q->cfg.max_crashes) {
            j->state = JOB_FAILED;
            j->ended = wall();
            snprintf(j->error, sizeof j->error,
                     "the server died %d times while this job ran (last recorded step %lld; out "
                     "of memory?); it is not resumed again. Lower size, batch or width, or "
                     "raise the memory limit and --train-mem-mb",
                     j->crashes, (long long)j->last.step);
            log_write("error", "training job failed: it crashed the server", "{s:s, s:i}",
                      "job", id, "crashes", j->crashes);
        } else {
            j->state = JOB_QUEUED;
        }
    }
    json_decref(o);
    if (!job_dir(q, j, "history.json", path, sizeof path) &&
        (o = json_load_file(path, 0, NULL))) {
        history_load(&j->history, o);
        json_decref(o);
    }
    return j;
fail:
    json_decref(o);
    job_free(j);
    return NULL;
}

static int cmp_seq(const void *a, const void *b)
{
    uint64_t x = (*(Job *const *)a)->seq, y = (*(Job *const *)b)->seq;
    return (x > y) - (x < y);
}

/* Adds j to the table (lock held). */
static int add_job(Jobq *q, Job *j)
{
    UTIL_ASSERT(util_mutex_held(&q->lock));
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 32;
        Job **nj = cap <= MAX_JOBS ? realloc(q->jobs, (size_t)cap * sizeof *nj) : NULL;
        if (!nj)
            return -1;
        q->jobs = nj;
        q->cap = cap;
    }
    q->jobs[q->n++] = j;
    if (j->seq >= q->next_seq)
        q->next_seq = j->seq + 1;
    return 0;
}

static Job *find(Jobq *q, const char *id)
{
    for (int i = 0; id && i < q->n; i++)
        if (!strcmp(q->jobs[i]->id, id))
            return q->jobs[i];
    return NULL;
}

/* ---- running a job ------------------------------------------------------- */

typedef struct RunCtx {
    Jobq *q;
    Job *job;
    Gate *gate;
    QualityScores served;         /* the served version's numbers */
    int has_served;
} RunCtx;

/* Makes version v of the job's model the one served: its card says
 * "promoted", so the newest-version rule serves it (and a version another
 * process publishes later still takes over, as before); when CURRENT pins
 * the model, the pin moves to v (registry_pin loads it first). 0 or -1
 * (logged, and the reason kept in the job's error). */
static int promote(Jobq *q, Job *j, int v)
{
    char err[256] = "";
    const char *models = registry_dir(q->reg);
    int pinned = repo_pinned_version(models, j->cfg.name);
    if (repo_set_version_state(models, j->cfg.name, v, REPO_PROMOTED, NULL, err, sizeof err) ||
        (pinned && registry_pin(q->reg, j->cfg.name, v, err, sizeof err)) ||
        registry_rescan(q->reg) < 0) {
        log_write("error", "cannot promote a candidate", "{s:s, s:s, s:i, s:s}", "job", j->id,
                  "model", j->cfg.name, "version", v, "error", err);
        pthread_mutex_lock(&q->lock);
        snprintf(j->error, sizeof j->error, "cannot promote v%d: %.200s", v, err);
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    j->promoted = v;
    for (size_t i = 0; i < json_array_size(j->cands); i++) {
        json_t *c = json_array_get(j->cands, i);
        if (json_integer_value(json_object_get(c, "version")) == v)
            json_object_set_new(c, "state", json_string(repo_state_name(REPO_PROMOTED)));
    }
    pthread_mutex_unlock(&q->lock);
    log_write("info", "candidate promoted", "{s:s, s:s, s:i}", "job", j->id, "model",
              j->cfg.name, "version", v);
    return 0;
}

/* The canary's figures into the job's record (lock taken here). */
static void canary_note(Jobq *q, Job *j, long served, long failed, const char *outcome)
{
    pthread_mutex_lock(&q->lock);
    json_object_set_new(j->canary, "served", json_integer(served));
    json_object_set_new(j->canary, "failed", json_integer(failed));
    json_object_set_new(j->canary, "outcome", json_string(outcome));
    pthread_mutex_unlock(&q->lock);
}

/* Promotes v, through a canary when the job asks for one: v answers that
 * share of ?model=NAME's requests until it has answered canary_requests of
 * them (the job thread waits, polling; a cancel or shutdown stops it, and
 * v is not promoted), then is promoted when none of them failed, else
 * refused with the count in its card. 0 when promoted, -1 when not. */
static int release(Jobq *q, Job *j, int v)
{
    const TrainConfig *c = &j->cfg.train;
    char err[256] = "";
    long served = 0, failed = 0, left = c->canary_requests;
    if (c->canary <= 0)
        return promote(q, j, v);
    registry_scan(q->reg);        /* a new model's first version is known */
    if (registry_canary_start(q->reg, j->cfg.name, v, c->canary, c->canary_requests, err,
                              sizeof err)) {
        log_write("error", "cannot start a canary", "{s:s, s:i, s:s}", "model", j->cfg.name,
                  "version", v, "error", err);
        return -1;
    }
    pthread_mutex_lock(&q->lock);
    json_decref(j->canary);
    j->canary = json_pack("{s:i, s:f, s:I, s:I, s:I, s:s}", "version", v, "share", c->canary,
                          "requests", (json_int_t)c->canary_requests, "served", (json_int_t)0,
                          "failed", (json_int_t)0,
                          "outcome", "running");
    pthread_mutex_unlock(&q->lock);
    save(q, j);
    while (registry_canary_status(q->reg, j->cfg.name, &served, &failed, &left) && left > 0 &&
           !atomic_load(&j->cancel)) {
        canary_note(q, j, served, failed, "running");
        usleep(50 * 1000);
    }
    registry_canary_end(q->reg, j->cfg.name);
    log_write("info", "canary ended", "{s:s, s:i, s:I, s:I, s:I}", "model", j->cfg.name,
              "version", v, "served", (json_int_t)served, "failed", (json_int_t)failed,
              "left", (json_int_t)left);
    if (left > 0) {
        canary_note(q, j, served, failed, "stopped");
        return -1;
    }
    if (failed) {
        canary_note(q, j, served, failed, "refused");
        json_t *canary = json_pack("{s:{s:I, s:I}}", "canary", "served", (json_int_t)served,
                                   "failed", (json_int_t)failed);
        repo_set_version_state(registry_dir(q->reg), j->cfg.name, v, REPO_REFUSED, canary, err,
                               sizeof err);       /* borrows canary */
        json_decref(canary);
        registry_rescan(q->reg);
        return -1;
    }
    canary_note(q, j, served, failed, "promoted");
    return promote(q, j, v);
}

/* Runs the gate on a new checkpoint: its verdict goes into the version's
 * card (state candidate, or refused with the reasons) and the job's
 * candidates; with promote "best" a passing candidate that beats the
 * served version is promoted at once, with "each" any passing one. */
static void judge(RunCtx *rc, int v, const char *path)
{
    Jobq *q = rc->q;
    Job *j = rc->job;
    QualityScores sc;
    char why[768], err[256];
    const QualityScores *served = rc->has_served ? &rc->served : NULL;
    int passed = 0;
    json_t *verdict, *members;
    if (gate_score(rc->gate, path, &sc, err, sizeof err)) {
        memset(&sc, 0, sizeof sc);
        snprintf(why, sizeof why, "the gate could not run it: %s", err);
    } else {
        passed = gate_judge(&q->cfg.gate, &sc, served, why, sizeof why);
    }
    verdict = gate_json(rc->gate, &sc, served, passed, why);
    members = json_pack("{s:O}", "gate", verdict);      /* borrowed by the call */
    if (repo_set_version_state(registry_dir(q->reg), j->cfg.name, v,
                               passed ? REPO_CANDIDATE : REPO_REFUSED, members, err, sizeof err))
        log_write("error", "cannot write a candidate's card", "{s:s, s:i, s:s}", "model",
                  j->cfg.name, "version", v, "error", err);
    json_decref(members);
    pthread_mutex_lock(&q->lock);
    if (!j->cands)
        j->cands = json_array();
    json_array_append_new(j->cands, json_pack("{s:i, s:s, s:b, s:s, s:O}", "version", v,
                                              "state", passed ? "candidate" : "refused",
                                              "passed", passed, "reasons", why, "scores",
                                              json_object_get(verdict, "scores")));
    pthread_mutex_unlock(&q->lock);
    log_write(passed ? "info" : "warn", passed ? "candidate passed the gate"
                                               : "candidate refused by the gate",
              "{s:s, s:s, s:i, s:f, s:f, s:f, s:f, s:s}", "job", j->id, "model", j->cfg.name,
              "version", v, "edges", sc.edges, "spread", sc.spread, "style", sc.style,
              "strokes", sc.strokes, "reasons", why);
    json_decref(verdict);
    int promote_now = j->cfg.train.promote == TRAIN_PROMOTE_EACH ||
                      (j->cfg.train.promote == TRAIN_PROMOTE_BEST &&
                       (!served || sc.style < served->style));
    if (passed && promote_now && !release(q, j, v)) {
        rc->served = sc;
        rc->has_served = 1;
    }
}

/* Judges the candidates of the model that were never judged: a kill
 * between a checkpoint's write and its verdict leaves one, which the job,
 * resumed, judges before it trains on. */
static void judge_leftovers(RunCtx *rc)
{
    const char *models = registry_dir(rc->q->reg), *name = rc->job->cfg.name;
    int n = repo_versions(models, name, NULL, 0), *vs;
    char path[PATH_MAX];
    if (n <= 0 || !(vs = malloc((size_t)n * sizeof *vs)))
        return;
    n = repo_versions(models, name, vs, n);
    for (int i = 0; i < n; i++) {
        int st;
        char *text = repo_version_card(models, name, vs[i], &st);
        json_t *card = text ? json_loads(text, 0, NULL) : NULL;
        if (st == REPO_CANDIDATE && !json_object_get(card, "gate") &&
            !repo_version_path(models, name, vs[i], path, sizeof path))
            judge(rc, vs[i], path);
        json_decref(card);
        free(text);
    }
    free(vs);
}

/* The newest candidate of the job that passed the gate, 0 when none. */
static int newest_passed(Jobq *q, Job *j)
{
    int v = 0;
    pthread_mutex_lock(&q->lock);
    for (size_t i = 0; i < json_array_size(j->cands); i++) {
        json_t *c = json_array_get(j->cands, i);
        if (json_is_true(json_object_get(c, "passed")))
            v = (int)json_integer_value(json_object_get(c, "version"));
    }
    pthread_mutex_unlock(&q->lock);
    return v;
}

/* The gate of a job and the numbers of the version served now (the one a
 * candidate must not be worse than). NULL with a message. */
static Gate *gate_for(RunCtx *rc, const char *content, const char *painting, char *err,
                      size_t errlen)
{
    RegistryInfo info;
    char path[PATH_MAX], e[256];
    const TrainConfig *t = &rc->job->cfg.train;
    Gate *g = gate_new(&rc->q->cfg.gate, rc->q->cfg.threads, content, painting, t->size,
                       t->style_lo, t->style_hi, err, errlen);
    if (!g)
        return NULL;
    rc->gate = g;
    if (!registry_info(rc->q->reg, rc->job->cfg.name, &info)) {
        int v = info.loaded ? info.loaded : info.current;
        if (v > 0 && !repo_version_path(registry_dir(rc->q->reg), info.name, v, path,
                                        sizeof path) &&
            !gate_score(g, path, &rc->served, e, sizeof e))
            rc->has_served = 1;
        registry_info_clear(&info);
    }
    return g;
}

static void on_progress(void *arg, const TrainProgress *p)
{
    RunCtx *rc = arg;
    Jobq *q = rc->q;
    Job *j = rc->job;
    pthread_mutex_lock(&q->lock);
    j->last = *p;
    j->last.path = NULL;
    history_add(&j->history, p);
    if (p->steps_per_s > 0)
        note_rate(q, j, p->steps_per_s);
    if (p->step > j->steps_seen) {
        q->steps_total += p->step - j->steps_seen;
        j->steps_seen = p->step;
    }
    if (p->version > 0 && j->nversions < MAX_VERSIONS) {
        int *nv = realloc(j->versions, (size_t)(j->nversions + 1) * sizeof *nv);
        if (nv) {
            nv[j->nversions++] = p->version;
            j->versions = nv;
        }
        q->published++;
    }
    pthread_mutex_unlock(&q->lock);
    if (p->version > 0) {
        log_write("info", "training checkpoint published", "{s:s, s:s, s:i, s:I}", "job", j->id,
                  "model", j->cfg.name, "version", p->version, "step", (json_int_t)p->step);
        if (p->path)
            judge(rc, p->version, p->path);
        save(q, j);
        /* A candidate is listed at once, not at the watch's next look. */
        registry_rescan(q->reg);
    }
}

/* The files of a job's upload folder, as new paths (caller frees). */
static int list_files(const char *dir, char ***out)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **v = NULL;
    int n = 0;
    *out = NULL;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        char **nv;
        if (e->d_name[0] == '.' || n >= JOBQ_MAX_FILES)
            continue;
        if (!(nv = realloc(v, (size_t)(n + 1) * sizeof *nv)) ||
            asprintf(&nv[n], "%s/%s", dir, e->d_name) < 0) {
            v = nv ? nv : v;
            break;
        }
        v = nv;
        n++;
    }
    closedir(d);
    *out = v;
    return n;
}

static void log_removed_temp(const char *path, void *arg)
{
    log_write("info", "removed an interrupted checkpoint's temporary file", "{s:s}", "path", path);
}

static int run_job(Jobq *q, Job *j)
{
    char style_dir[PATH_MAX], content[PATH_MAX], state[PATH_MAX], init[PATH_MAX];
    char err[512] = "", **styles = NULL;
    int nstyles, rc = -1, resume;
    struct stat st;
    TrainConfig tc;
    Trainer *t;
    RunCtx ctx = {q, j, NULL, {0}, 0};
    const char *models = registry_dir(q->reg);
    if (job_dir(q, j, "style", style_dir, sizeof style_dir) ||
        (j->uploaded_content ? job_dir(q, j, "content", content, sizeof content)
                             : snprintf(content, sizeof content, "%s", q->content_dir) < 0) ||
        repo_path(models, j->cfg.name, REPO_STATE, 0, state, sizeof state)) {
        pthread_mutex_lock(&q->lock);
        snprintf(j->error, sizeof j->error, "path too long");
        pthread_mutex_unlock(&q->lock);
        return -1;
    }
    nstyles = list_files(style_dir, &styles);
    /* What a trainer of this model killed mid-write left (none runs now). */
    repo_sweep_temps(models, j->cfg.name, log_removed_temp, NULL);
    resume = j->started && !stat(state, &st);
    if (!j->started && !stat(state, &st) && unlink(state))
        log_write("warn", "cannot remove an old trainer state", "{s:s}", "path", state);
    pthread_mutex_lock(&q->lock);
    j->started = 1;
    pthread_mutex_unlock(&q->lock);
    save(q, j);
    jobq_config_train(&j->cfg, &tc);
    tc.styles = (const char *const *)styles;
    tc.nstyles = nstyles;
    tc.content_dir = content;
    tc.models_dir = models;
    tc.resume = resume;
    tc.log_every = 1;
    tc.candidate = 1;
    tc.command = "POST /train";
    if (j->cfg.init_version > 0 && !resume) {
        repo_version_path(models, j->cfg.init, j->cfg.init_version, init, sizeof init);
        tc.init = init;
    }
    log_write("info", resume ? "training job resumes" : "training job starts",
              "{s:s, s:s, s:I}", "job", j->id, "model", j->cfg.name, "steps",
              (json_int_t)j->cfg.train.steps);
    if (nstyles > 0 && gate_for(&ctx, content, styles[0], err, sizeof err))
        judge_leftovers(&ctx);      /* a kill's unjudged candidates, before new ones */
    if (ctx.gate && (t = trainer_new(&tc, q->cfg.threads, err, sizeof err))) {
        rc = trainer_run(t, &j->cancel, on_progress, &ctx, err, sizeof err);
        trainer_free(t);
    } else if (nstyles < 1) {
        snprintf(err, sizeof err, "the job's style images are missing");
    }
    if (rc == 0 && j->cfg.train.promote == TRAIN_PROMOTE_ON_SUCCESS) {
        int v = newest_passed(q, j);
        if (v)
            release(q, j, v);
        else
            log_write("warn", "no candidate passed the gate: nothing promoted", "{s:s, s:s}",
                      "job", j->id, "model", j->cfg.name);
    }
    gate_free(ctx.gate);
    if (rc < 0) {
        pthread_mutex_lock(&q->lock);
        snprintf(j->error, sizeof j->error, "%.*s", (int)sizeof j->error - 1, err);
        pthread_mutex_unlock(&q->lock);
    } else if (rc == 0) {
        /* Done: at its last step, also when it resumed from a state saved
         * after the step its job.json last recorded (a full --data disk). */
        pthread_mutex_lock(&q->lock);
        j->last.step = j->cfg.train.steps;
        pthread_mutex_unlock(&q->lock);
    }
    for (int i = 0; i < nstyles; i++)
        free(styles[i]);
    free(styles);
    return rc;
}

/* Removes the files in each of j's folders subs[0..n) (NULL: the job's
 * folder itself), then the folder. */
static void remove_level(const Jobq *q, const Job *j, const char *const *subs, int n)
{
    char dir[PATH_MAX], path[PATH_MAX + 300];
    for (int i = 0; i < n; i++) {
        DIR *d;
        struct dirent *e;
        if (job_dir(q, j, subs[i], dir, sizeof dir) || !(d = opendir(dir)))
            continue;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
                unlink(path);
        closedir(d);
        rmdir(dir);
    }
}

/* Removes the folder of a job (one that could not be stored, or one
 * pruned) and what it holds: its uploads and job.json, one level below. */
static void remove_stored(const Jobq *q, const Job *j)
{
    static const char *const subs[] = {"style", "content", NULL};
    remove_level(q, j, subs, 3);
}

/* An ended job keeps its record (job.json, history.json) but not its
 * uploads: nothing will train on them again (issue 15: six submit and
 * cancel cycles left 49 MiB behind). */
static void remove_uploads(const Jobq *q, const Job *j)
{
    static const char *const subs[] = {"style", "content"};
    remove_level(q, j, subs, 2);
}

static int ended(const Job *j)
{
    return j->state == JOB_SUCCEEDED || j->state == JOB_FAILED || j->state == JOB_CANCELLED;
}

/* Forgets the jobs that ended more than --train-retention-s ago: out of
 * the table, and their folders removed. */
static void prune(Jobq *q)
{
    Job **old = NULL;
    int n = 0, kept = 0;
    double before = wall() - q->cfg.retention_s;
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < q->n; i++)
        if (ended(q->jobs[i]) && q->jobs[i]->ended > 0 && q->jobs[i]->ended < before)
            n++;
    if (n && (old = malloc((size_t)n * sizeof *old))) {
        n = 0;
        for (int i = 0; i < q->n; i++) {
            Job *j = q->jobs[i];
            if (ended(j) && j->ended > 0 && j->ended < before)
                old[n++] = j;
            else
                q->jobs[kept++] = j;
        }
        q->n = kept;
    } else {
        n = 0;
    }
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < n; i++) {
        log_write("info", "training job pruned", "{s:s, s:s}", "job", old[i]->id, "model",
                  old[i]->cfg.name);
        remove_stored(q, old[i]);
        job_free(old[i]);
    }
    free(old);
}

static void lower_priority(int nice)
{
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
}

static Job *next_queued(Jobq *q)
{
    Job *best = NULL;
    for (int i = 0; i < q->n; i++)
        if (q->jobs[i]->state == JOB_QUEUED && (!best || q->jobs[i]->seq < best->seq))
            best = q->jobs[i];
    return best;
}

static void *runner_main(void *arg)
{
    Jobq *q = arg;
    lower_priority(q->cfg.nice);
    pthread_mutex_lock(&q->lock);
    for (;;) {
        Job *j;
        int rc;
        while (!q->stopping && !(j = next_queued(q)))
            pthread_cond_wait(&q->wake, &q->lock);
        if (q->stopping)
            break;
        j->state = JOB_RUNNING;
        j->began = wall();
        j->error[0] = '\0';
        j->stopped_cleanly = 0;
        pthread_mutex_unlock(&q->lock);
        rc = run_job(q, j);
        pthread_mutex_lock(&q->lock);
        if (rc == 1 && !j->cancel_user) {
            /* Stopped by jobq_close: "running" on disk, resumed at start
             * (not counted as a crash). */
            j->stopped_cleanly = 1;
            pthread_mutex_unlock(&q->lock);
            save(q, j);
            pthread_mutex_lock(&q->lock);
            break;
        }
        j->state = rc == 0 ? JOB_SUCCEEDED : rc == 1 ? JOB_CANCELLED : JOB_FAILED;
        j->ended = wall();
        if (j->state == JOB_FAILED && !j->error[0])
            /* A failed job always says why, even when the trainer did not. */
            snprintf(j->error, sizeof j->error,
                     "training stopped with an error the trainer did not describe "
                     "(at step %lld); the server log has the job's lines",
                     (long long)j->last.step);
        pthread_mutex_unlock(&q->lock);
        /* Only once its end is on disk: a job.json that still says
         * "running" (a full --data) resumes after a crash, and needs them. */
        if (!save(q, j))
            remove_uploads(q, j);
        log_write(rc < 0 ? "error" : "info", "training job ended", "{s:s, s:s, s:s}", "job",
                  j->id, "state", job_state_name(j->state), "error", j->error);
        prune(q);
        pthread_mutex_lock(&q->lock);
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/* ---- open / close ------------------------------------------------------- */


/* What a crash can leave in jobs/<id>/: temporary copies of job.json (a
 * kill during its rewrite), or a whole folder without job.json (a kill while
 * a submission's uploads were stored: the client never had its 202, so no
 * job is lost by removing it). A folder whose job.json exists is never
 * removed here, even when it does not parse. */
static void sweep_leftovers(const Jobq *q, const char *id)
{
    Job j;
    char dir[PATH_MAX], path[PATH_MAX + 300];
    struct stat sb;
    DIR *d;
    struct dirent *e;
    if (strlen(id) != JOBQ_ID_LEN)
        return;
    memcpy(j.id, id, JOBQ_ID_LEN + 1);
    if (job_dir(q, &j, "job.json", path, sizeof path) || job_dir(q, &j, NULL, dir, sizeof dir))
        return;
    if (stat(path, &sb) && errno == ENOENT) {
        log_write("warn", "removing an upload a crash left without its job.json", "{s:s}",
                  "job", id);
        remove_stored(q, &j);
        return;
    }
    if (!(d = opendir(dir)))
        return;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, ".job.json.tmp", 13) &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
            unlink(path);
    closedir(d);
}

Jobq *jobq_open(const JobqConfig *cfg, Registry *reg, char *err, size_t errlen)
{
    Jobq *q = calloc(1, sizeof *q);
    DIR *d;
    struct dirent *e;
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->cfg = *cfg;
    q->reg = reg;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->wake, NULL);
    if (snprintf(q->jobs_dir, sizeof q->jobs_dir, "%s/jobs", cfg->data_dir) >=
            (int)sizeof q->jobs_dir - 64 ||
        snprintf(q->content_dir, sizeof q->content_dir, "%s",
                 cfg->content_dir ? cfg->content_dir : "") >= (int)sizeof q->content_dir) {
        snprintf(err, errlen, "--data or --content path too long");
        goto fail;
    }
    q->cfg.content_dir = q->content_dir;
    q->cfg.data_dir = NULL;
    if ((mkdir(cfg->data_dir, 0755) && errno != EEXIST) ||
        (mkdir(q->jobs_dir, 0755) && errno != EEXIST)) {
        snprintf(err, errlen, "cannot create %s: %s", q->jobs_dir, strerror(errno));
        goto fail;
    }
    if (!(d = opendir(q->jobs_dir))) {
        snprintf(err, errlen, "cannot read %s: %s", q->jobs_dir, strerror(errno));
        goto fail;
    }
    while ((e = readdir(d))) {
        Job *j;
        if (e->d_name[0] == '.')
            continue;
        sweep_leftovers(q, e->d_name);
        if (!(j = restore(q, e->d_name)))
            continue;
        if (j->crashed)
            save(q, j);       /* the count holds even if it dies again at once */
        if (ended(j))
            remove_uploads(q, j);     /* also what older servers kept */
        /* No runner yet, but add_job's contract is the lock held. */
        pthread_mutex_lock(&q->lock);
        int full = add_job(q, j);
        pthread_mutex_unlock(&q->lock);
        if (full) {
            job_free(j);
            break;
        }
    }
    closedir(d);
    if (q->n)
        qsort(q->jobs, (size_t)q->n, sizeof *q->jobs, cmp_seq);
    prune(q);
    q->threads = calloc((size_t)cfg->runners, sizeof *q->threads);
    if (!q->threads) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (; q->nthreads < cfg->runners; q->nthreads++)
        if (pthread_create(&q->threads[q->nthreads], NULL, runner_main, q)) {
            snprintf(err, errlen, "cannot start a training thread");
            goto fail;
        }
    return q;
fail:
    jobq_close(q);
    return NULL;
}

void jobq_close(Jobq *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    for (int i = 0; i < q->n; i++)
        if (q->jobs[i]->state == JOB_RUNNING)
            atomic_store(&q->jobs[i]->cancel, 1);
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->nthreads; i++)
        pthread_join(q->threads[i], NULL);
    free(q->threads);
    for (int i = 0; i < q->n; i++)
        job_free(q->jobs[i]);
    free(q->jobs);
    pthread_cond_destroy(&q->wake);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* ---- submit ----------------------------------------------------------- */

/* Writes the uploads to dir/NN.jpg|png. 0, or -1 with errno. */
static int store_files(const char *dir, const JobFile *f, int n)
{
    char path[PATH_MAX];
    if (mkdir(dir, 0755) && errno != EEXIST)
        return -1;
    for (int i = 0; i < n; i++) {
        if (snprintf(path, sizeof path, "%s/%03d.%s", dir, i,
                     image_sniff(f[i].data, f[i].len) == IMG_PNG ? "png" : "jpg") >=
            (int)sizeof path) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (util_write_atomic(path, f[i].data, f[i].len, NULL, 0))
            return -1;
    }
    return 0;
}

/* Checks the uploads are images. 0, or -1 with field and err. */
/* The smallest side of a style crop the trainer samples (traindata.c
 * clamps the low end of style_scale to it; a crop smaller than this is a
 * degenerate painting). */
#define MIN_STYLE_CROP 8

/* Probes each file's header into info[]. */
static int check_images(const char *what, const JobFile *f, int n, ImageInfo *info,
                        char *field, size_t fieldlen, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        if (image_probe(f[i].data, f[i].len, &info[i])) {
            snprintf(field, fieldlen, "%s", what);
            snprintf(err, errlen, "%s file %d is not a JPEG or PNG image", what, i + 1);
            return -1;
        }
    }
    return 0;
}

/* Pictures are decoded one at a time when the job starts, and kept shrunk
 * (traindata.h): what a job may upload is bounded by their pixels, each
 * and all together, from their headers. */
static int check_pixels(const Jobq *q, const ImageInfo *sinfo, int nstyles,
                        const ImageInfo *cinfo, int ncontent, char *field, size_t fieldlen,
                        char *err, size_t errlen)
{
    int64_t total = 0;
    for (int k = 0; k < nstyles + ncontent; k++) {
        const ImageInfo *in = k < nstyles ? &sinfo[k] : &cinfo[k - nstyles];
        const char *what = k < nstyles ? "style" : "content";
        int64_t px = (int64_t)in->w * in->h;
        if (px > q->cfg.max_pixels) {
            snprintf(field, fieldlen, "%s", what);
            snprintf(err, errlen, "%s file %d is %dx%d, %lld pixels, above the %lld a picture may "
                     "have (--max-pixels)", what, (k < nstyles ? k : k - nstyles) + 1, in->w,
                     in->h, (long long)px, (long long)q->cfg.max_pixels);
            return -1;
        }
        total += px;
    }
    if (total > q->cfg.upload_pixels) {
        snprintf(field, fieldlen, "%s", nstyles ? "style" : "content");
        snprintf(err, errlen, "the pictures have %lld pixels in all, above the %lld one job may "
                 "upload (--train-upload-mpixels)", (long long)total,
                 (long long)q->cfg.upload_pixels);
        return -1;
    }
    return 0;
}

/* What the trainer would fail on later, refused now: a painting whose
 * crops at style_scale are smaller than MIN_STYLE_CROP pixels. */
static int check_styles(const ImageInfo *info, int n, const TrainConfig *tc, char *field,
                        size_t fieldlen, char *err, size_t errlen)
{
    for (int i = 0; i < n; i++) {
        int s = info[i].w < info[i].h ? info[i].w : info[i].h;
        if (s < MIN_STYLE_CROP) {
            snprintf(field, fieldlen, "style");
            snprintf(err, errlen, "style file %d is %dx%d: a painting needs at least %d pixels "
                     "on its shorter side", i + 1, info[i].w, info[i].h, MIN_STYLE_CROP);
            return -1;
        }
        if ((int)(tc->style_hi * s) < MIN_STYLE_CROP) {
            snprintf(field, fieldlen, "style_scale");
            snprintf(err, errlen, "style_scale up to %g crops at most %d pixels of style file %d "
                     "(%dx%d); crops need %d: raise style_scale or upload a larger painting",
                     tc->style_hi, (int)(tc->style_hi * s), i + 1, info[i].w, info[i].h,
                     MIN_STYLE_CROP);
            return -1;
        }
    }
    return 0;
}

/* Bytes of an image kept at most max_short pixels on its shorter side
 * (RGB, 8 bits), as traindata.c keeps it. */
static double kept_bytes(const ImageInfo *in, double max_short)
{
    double s = in->w < in->h ? in->w : in->h, f = max_short > 0 && s > max_short ? max_short / s : 1;
    return (double)in->w * f * in->h * f * 3;
}

/* A job's memory, estimated before it is accepted: the trainer's own
 * estimate of its networks and buffers (engine/train/trainer.h), the photos it
 * keeps (shorter side 2 x size), the paintings it keeps, and the largest
 * image decoded whole on the way. Over the limit: refused, the limit
 * named. */
static int check_memory(const Jobq *q, const JobConfig *jc, const ImageInfo *sinfo, int nstyles,
                        const ImageInfo *cinfo, int ncontent, char *field, size_t fieldlen,
                        char *err, size_t errlen)
{
    TrainConfig tc;
    size_t net = 0;
    double total, largest = 0;
    char why[256];
    jobq_config_train(jc, &tc);
    if (trainer_estimate_bytes(&tc, q->cfg.threads, &net, why, sizeof why)) {
        snprintf(field, fieldlen, "config");
        snprintf(err, errlen, "this config cannot be planned: %s", why);
        return -1;
    }
    total = (double)net;
    for (int i = 0; i < nstyles; i++) {
        total += kept_bytes(&sinfo[i], tdata_style_short(tc.size, tc.style_lo));
        largest = fmax(largest, (double)sinfo[i].w * sinfo[i].h * 3);
    }
    for (int i = 0; i < ncontent; i++) {
        total += kept_bytes(&cinfo[i], 2.0 * tc.size);
        largest = fmax(largest, (double)cinfo[i].w * cinfo[i].h * 3);
    }
    if (!ncontent) {        /* the server's folder: its photos, taken as 3:2 */
        char **names = NULL;
        int n = tdata_list_photos(q->content_dir, &names, why, sizeof why);
        if (n > 0) {
            total += n * 2.0 * tc.size * 3.0 * tc.size * 3;
            tdata_free_names(names, n);
        }
    }
    total += largest;
    if (total > (double)q->cfg.mem_bytes) {
        snprintf(field, fieldlen, "config");
        snprintf(err, errlen, "this job needs about %.0f MiB to train (size %d, batch %d; "
                 "%.0f MiB of it the networks), over the %lld MiB a job may use "
                 "(--train-mem-mb, ATELIER_TRAIN_MEM_MB): lower size, batch or width",
                 total / 1048576, tc.size, tc.batch, net / 1048576.0,
                 (long long)(q->cfg.mem_bytes >> 20));
        return -1;
    }
    return 0;
}

static void new_id(char *id)
{
    uint8_t b[JOBQ_ID_LEN / 2];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (uint8_t)(rand() ^ (int)(wall() * 1e6));
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(id + 2 * i, 3, "%02x", b[i]);
}

/* A job that could not be stored: JOBQ_ENOSPC when the disk (or quota) is
 * full, else JOBQ_EIO; the reason in err. */
static int store_failed(int e, char *err, size_t errlen)
{
    snprintf(err, errlen, "cannot store the job: %s", strerror(e));
    return e == ENOSPC || e == EDQUOT ? JOBQ_ENOSPC : JOBQ_EIO;
}

int jobq_submit(Jobq *q, json_t *config, const JobFile *styles, int nstyles,
                const JobFile *content, int ncontent, char *id, char *field, size_t fieldlen,
                char *err, size_t errlen)
{
    char dir[PATH_MAX];
    Job *j;
    int queued = 0, rc = JOBQ_EINVAL;
    prune(q);
    j = calloc(1, sizeof *j);
    RegistryInfo info;
    ImageInfo sinfo[JOBQ_MAX_FILES], cinfo[JOBQ_MAX_FILES];
    if (!j)
        return JOBQ_ENOMEM;
    field[0] = '\0';
    if (jobq_config_parse(config, &j->cfg, field, fieldlen, err, errlen))
        goto fail;
    if (nstyles < 1 || nstyles > JOBQ_MAX_FILES) {
        snprintf(field, fieldlen, "style");
        snprintf(err, errlen, "send 1..%d files in the field 'style'", JOBQ_MAX_FILES);
        goto fail;
    }
    if (ncontent > JOBQ_MAX_FILES) {
        snprintf(field, fieldlen, "content");
        snprintf(err, errlen, "at most %d files in the field 'content'", JOBQ_MAX_FILES);
        goto fail;
    }
    if (check_images("style", styles, nstyles, sinfo, field, fieldlen, err, errlen) ||
        check_images("content", content, ncontent, cinfo, field, fieldlen, err, errlen))
        goto fail;
    if (check_pixels(q, sinfo, nstyles, cinfo, ncontent, field, fieldlen, err, errlen)) {
        rc = JOBQ_ETOOLARGE;
        goto fail;
    }
    if (
        check_styles(sinfo, nstyles, &j->cfg.train, field, fieldlen, err, errlen) ||
        check_memory(q, &j->cfg, sinfo, nstyles, cinfo, ncontent, field, fieldlen, err, errlen))
        goto fail;
    if (!ncontent && !q->content_dir[0]) {
        snprintf(field, fieldlen, "content");
        snprintf(err, errlen, "upload content photos: the server has no photo folder "
                              "(--content)");
        goto fail;
    }
    if (!j->cfg.train.overwrite && strcmp(j->cfg.init, j->cfg.name) &&
        !registry_info(q->reg, j->cfg.name, &info)) {
        registry_info_clear(&info);
        rc = JOBQ_ECONFLICT;
        snprintf(field, fieldlen, "name");
        snprintf(err, errlen, "model '%s' exists: fine-tune it with \"init\": \"%s\", or "
                 "publish into it from scratch with \"overwrite\": true", j->cfg.name,
                 j->cfg.name);
        goto fail;
    }
    if (j->cfg.init[0]) {
        if (registry_info(q->reg, j->cfg.init, &info)) {
            snprintf(field, fieldlen, "init");
            snprintf(err, errlen, "no model '%s' to start from", j->cfg.init);
            goto fail;
        }
        j->cfg.init_version = info.current;
        registry_info_clear(&info);
    }
    if (!(j->config = jobq_config_json(&j->cfg))) {
        rc = JOBQ_ENOMEM;
        goto fail;
    }
    new_id(j->id);
    j->uploaded_content = ncontent > 0;
    j->created = wall();
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < q->n; i++) {
        queued += q->jobs[i]->state == JOB_QUEUED;
        if ((q->jobs[i]->state == JOB_QUEUED || q->jobs[i]->state == JOB_RUNNING) &&
            !strcmp(q->jobs[i]->cfg.name, j->cfg.name)) {
            pthread_mutex_unlock(&q->lock);
            snprintf(field, fieldlen, "name");
            snprintf(err, errlen, "job %s already trains model '%s'", q->jobs[i]->id,
                     j->cfg.name);
            goto fail;
        }
    }
    j->seq = q->next_seq++;
    estimate(q, j);
    pthread_mutex_unlock(&q->lock);
    if (queued >= q->cfg.max_queued) {
        rc = JOBQ_EFULL;
        snprintf(err, errlen, "%d training jobs are queued already", queued);
        goto fail;
    }
    if (job_dir(q, j, NULL, dir, sizeof dir) || mkdir(dir, 0755)) {
        rc = store_failed(errno, err, errlen);
        goto fail;
    }
    if (job_dir(q, j, "style", dir, sizeof dir) || store_files(dir, styles, nstyles) ||
        job_dir(q, j, "content", dir, sizeof dir) ||
        (ncontent && store_files(dir, content, ncontent)) || save(q, j)) {
        rc = store_failed(errno, err, errlen);
        remove_stored(q, j);   /* a disk full leaves no half-stored job */
        goto fail;
    }
    pthread_mutex_lock(&q->lock);
    if (add_job(q, j)) {
        pthread_mutex_unlock(&q->lock);
        rc = JOBQ_ENOMEM;
        goto fail;
    }
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
    memcpy(id, j->id, JOBQ_ID_LEN + 1);
    log_write("info", "training job queued", "{s:s, s:s}", "job", j->id, "model", j->cfg.name);
    return JOBQ_OK;
fail:
    job_free(j);
    return rc;
}

/* ---- queries ------------------------------------------------------------ */

json_t *jobq_get(Jobq *q, const char *id, int *code)
{
    json_t *o = NULL;
    Job *j;
    pthread_mutex_lock(&q->lock);
    if ((j = find(q, id)))
        o = describe(j);
    pthread_mutex_unlock(&q->lock);
    *code = !j ? JOBQ_ENOENT : !o ? JOBQ_ENOMEM : JOBQ_OK;
    return o;
}

json_t *jobq_list(Jobq *q)
{
    json_t *a;
    prune(q);
    a = json_array();
    pthread_mutex_lock(&q->lock);
    for (int i = q->n - 1; a && i >= 0; i--)
        json_array_append_new(a, describe(q->jobs[i]));
    pthread_mutex_unlock(&q->lock);
    return a;
}

json_t *jobq_cancel(Jobq *q, const char *id, int *code)
{
    Job *j;
    int changed = 0;
    pthread_mutex_lock(&q->lock);
    if ((j = find(q, id))) {
        if (j->state == JOB_QUEUED) {
            j->state = JOB_CANCELLED;
            j->ended = wall();
            j->cancel_user = 1;
            changed = 1;
        } else if (j->state == JOB_RUNNING) {
            j->cancel_user = 1;
            atomic_store(&j->cancel, 1);
        }
    }
    pthread_mutex_unlock(&q->lock);
    if (changed && !save(q, j))
        remove_uploads(q, j);
    return jobq_get(q, id, code);
}

uint8_t *jobq_preview(Jobq *q, const char *id, int version, size_t *len, int *code)
{
    char path[PATH_MAX];
    Job *j;
    int v = 0, ok = 0;
    FILE *f;
    uint8_t *buf = NULL;
    long size;
    pthread_mutex_lock(&q->lock);
    if ((j = find(q, id)) && j->nversions) {
        v = j->versions[j->nversions - 1];
        for (int i = 0; version && i < j->nversions; i++)
            if (j->versions[i] == version)
                v = version;
        if (version && v != version)
            v = 0;      /* not one of this job's checkpoints */
        ok = v > 0 && !repo_path(registry_dir(q->reg), j->cfg.name, REPO_PREVIEW, v, path,
                                 sizeof path);
    }
    pthread_mutex_unlock(&q->lock);
    *code = JOBQ_ENOENT;
    if (!ok || !(f = fopen(path, "rbe")))
        return NULL;
    if (!fseek(f, 0, SEEK_END) && (size = ftell(f)) > 0 && size < (64L << 20) &&
        !fseek(f, 0, SEEK_SET) && (buf = malloc((size_t)size))) {
        if (fread(buf, 1, (size_t)size, f) == (size_t)size) {
            *len = (size_t)size;
            *code = JOBQ_OK;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

json_t *jobq_history(Jobq *q, const char *id, int64_t since, int *code)
{
    json_t *h = NULL;
    Job *j;
    pthread_mutex_lock(&q->lock);
    if ((j = find(q, id)))
        h = history_json(&j->history, since);
    pthread_mutex_unlock(&q->lock);
    *code = !j ? JOBQ_ENOENT : h ? JOBQ_OK : JOBQ_ENOMEM;
    return h;
}

void jobq_stats(Jobq *q, MetricsGauges *g)
{
    g->jobs_known = 1;
    pthread_mutex_lock(&q->lock);
    for (int i = 0; i < q->n; i++) {
        g->jobs[q->jobs[i]->state]++;
        if (q->jobs[i]->state == JOB_RUNNING)
            g->train_steps_per_s += q->jobs[i]->last.steps_per_s;
    }
    g->train_steps = q->steps_total;
    g->versions_published = q->published;
    pthread_mutex_unlock(&q->lock);
}
