/* fuzz_train.c: a training job's config on its way in and back: the
 * `config` field of POST /train (json_loadb as train_api_body calls it,
 * then jobq_spec_parse), and a job's stored job.json read back when the
 * server starts (jobq_open's restore, then the job listed, described,
 * cancelled and read back again).
 *
 * Input: a first byte 'J' makes the rest a job.json, written to
 * <tmp>/data/jobs/0123456789abcdef/ before jobq_open (no runner threads:
 * nothing trains); any other input is a config as a client sends it.
 *
 * Checked for a config: a refusal names a field (the key at fault, which
 * may be "", or "config") and says why; an accepted spec is within its documented
 * ranges, and stored as save() stores it (jobq_spec_json, JSON text at
 * 10 digits) and parsed again it gives the same spec and the same trainer
 * settings, so a job resumed after a restart trains as it was asked to.
 * For a job.json: every job read back is "queued" (an interrupted one
 * runs again) or in a final state, its description holds a config that
 * parses, and a queued job cancelled is read back as cancelled. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/trainer.h"
#include "server/jobq.h"
#include "server/jobq_spec.h"
#include "server/log.h"
#include "engine/repo.h"
#include "server/registry.h"
#include "tests/fuzz/fuzz.h"

#define JOB_ID "0123456789abcdef"

static Registry *reg;
static char data_dir[512], job_json[700];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char models[512], dir[600], err[512];
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0)
        log_set_fd(devnull);   /* "ignoring a job that does not parse", at every run */
    snprintf(models, sizeof models, "%s/models", fuzz_tmpdir());
    snprintf(data_dir, sizeof data_dir, "%s/data", fuzz_tmpdir());
    fuzz_write_models(models);
    if (!(reg = registry_open(models, NULL, err, sizeof err))) {
        fprintf(stderr, "fuzz_train: %s\n", err);
        abort();
    }
    snprintf(dir, sizeof dir, "%s/jobs", data_dir);
    if ((mkdir(data_dir, 0755) && errno != EEXIST) || (mkdir(dir, 0755) && errno != EEXIST)) {
        perror(dir);
        abort();
    }
    snprintf(dir, sizeof dir, "%s/jobs/%s", data_dir, JOB_ID);
    if (mkdir(dir, 0755) && errno != EEXIST) {
        perror(dir);
        abort();
    }
    snprintf(job_json, sizeof job_json, "%s/job.json", dir);
    return 0;
}

static int in_range(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

/* A refusal names "config", "name" (required), or a key of cfg (a key
 * longer than the 40 bytes quoted by its start), and says why. */
static void check_refusal(json_t *cfg, const char *field, const char *err)
{
    const char *key;
    json_t *v;
    int found = !strcmp(field, "config") || !strcmp(field, "name");
    if (!err[0])
        abort();
    json_object_foreach(cfg, key, v) found |= field[0] ? !strncmp(key, field, strlen(field))
                                                       : !key[0];
    if (!found)
        abort();
}

static void check_spec(const JobSpec *s)
{
    if (!repo_valid_name(s->name) || !in_range(s->steps, 1, 1000000) ||
        !in_range(s->size, 32, 1024) || s->size % 4 || !in_range(s->batch, 1, 16) ||
        !in_range(s->checkpoint_every, 1, s->steps) || s->seed > (UINT64_C(1) << 53) ||
        !in_range(s->width, 4, 128) || !in_range(s->blocks, 0, 16) ||
        !in_range(s->content_pool, 1, 64) || s->size % s->content_pool ||
        !in_range(s->style_depth, STYLE_MIN_DEPTH, STYLE_MAX_DEPTH) ||
        s->size >> (s->style_depth - 1) < 2 ||
        !in_range(s->structure_depth, STYLE_MIN_DEPTH, STYLE_MAX_DEPTH) ||
        s->size >> (s->structure_depth - 1) < 2 || !(s->w_structure >= 0 && s->w_structure <= 1e6) ||
        !(s->style_lo >= 0.01 && s->style_lo <= s->style_hi && s->style_hi <= 1) ||
        !(s->lr >= 1e-7 && s->lr <= 0.1) || !(s->w_adv >= 0 && s->w_adv <= 1e6) ||
        !(s->w_content >= 0 && s->w_content <= 1e6) || !(s->w_style >= 0 && s->w_style <= 1e6) ||
        !(s->w_tv >= 0 && s->w_tv <= 1e6) || (s->init[0] && !repo_valid_name(s->init)) ||
        (!s->init[0] && s->init_version) || memchr(s->name, 0, sizeof s->name) == NULL ||
        memchr(s->style_title, 0, sizeof s->style_title) == NULL ||
        memchr(s->style_license, 0, sizeof s->style_license) == NULL)
        abort();
    for (int l = 0; l <= STYLE_MAX_DEPTH; l++)
        if (!(s->style_levels[l] >= 0 && s->style_levels[l] <= 1e6))
            abort();
}

/* The settings the trainer is given must not change across a restart. */
static void same_training(const JobSpec *a, const JobSpec *b)
{
    TrainConfig x, y;
    trainer_defaults(&x);
    trainer_defaults(&y);
    jobq_spec_apply(a, &x);
    jobq_spec_apply(b, &y);
    if (strcmp(x.name, y.name) || x.steps != y.steps || x.size != y.size ||
        x.batch != y.batch || x.checkpoint_every != y.checkpoint_every || x.seed != y.seed ||
        x.lr_g != y.lr_g || x.lr_d != y.lr_d || x.w_adv != y.w_adv ||
        x.w_content != y.w_content || x.w_style != y.w_style || x.w_tv != y.w_tv ||
        x.width != y.width || x.blocks != y.blocks || x.arch != y.arch ||
        x.content_pool != y.content_pool || x.style_kind != y.style_kind ||
        x.style_lo != y.style_lo || x.style_hi != y.style_hi ||
        x.style_depth != y.style_depth || x.w_structure != y.w_structure ||
        x.structure_depth != y.structure_depth ||
        memcmp(x.style_levels, y.style_levels, sizeof x.style_levels) ||
        strcmp(x.style_title ? x.style_title : "", y.style_title ? y.style_title : "") ||
        strcmp(x.style_license ? x.style_license : "", y.style_license ? y.style_license : "") ||
        strcmp(a->init, b->init) || a->init_version != b->init_version)
        abort();
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    char field[64], err[384], field2[64], err2[384], *text;
    json_error_t jerr;
    JobSpec s, s2;
    json_t *cfg = json_loadb((const char *)data, size, 0, &jerr), *stored, *back;
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return;
    }
    field[0] = err[0] = '\0';
    if (jobq_spec_parse(cfg, &s, field, sizeof field, err, sizeof err)) {
        check_refusal(cfg, field, err);
        json_decref(cfg);
        return;
    }
    json_decref(cfg);
    check_spec(&s);
    if (s.init[0])
        s.init_version = 7;   /* jobq_submit: the version current at submission */
    if (!(stored = jobq_spec_json(&s)))
        abort();
    text = json_dumps(stored, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(stored);
    if (!text || !(back = json_loads(text, 0, &jerr)))
        abort();
    free(text);
    if (jobq_spec_parse(back, &s2, field2, sizeof field2, err2, sizeof err2)) {
        fprintf(stderr, "fuzz_train: the stored spec does not parse: %s\n", err2);
        abort();
    }
    json_decref(back);
    same_training(&s, &s2);
}

static const char *state_of(json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "state"));
    if (!st)
        abort();
    return st;
}

static void check_jobs(Jobq *q)
{
    json_t *jobs = jobq_list(q), *job;
    size_t i;
    char *text;
    if (!jobs || json_array_size(jobs) > 1)
        abort();
    json_array_foreach(jobs, i, job) {
        const char *st = state_of(job);
        char field[64], err[384];
        JobSpec s;
        if (strcmp(st, "queued") && strcmp(st, "succeeded") && strcmp(st, "failed") &&
            strcmp(st, "cancelled"))
            abort();
        if (jobq_spec_parse(json_object_get(job, "config"), &s, field, sizeof field, err,
                            sizeof err))
            abort();
    }
    if (!(text = json_dumps(jobs, JSON_COMPACT)))
        abort();
    free(text);
    json_decref(jobs);
}

static Jobq *open_queue(void)
{
    JobqConfig jc = {data_dir, "", 4, 0, 0};
    char err[256];
    Jobq *q = jobq_open(&jc, reg, err, sizeof err);
    if (!q) {
        fprintf(stderr, "fuzz_train: %s\n", err);
        abort();
    }
    return q;
}

static void fuzz_job_json(const uint8_t *data, size_t size)
{
    Jobq *q;
    json_t *job;
    int code, queued;
    MetricsGauges g;
    size_t len;
    uint8_t *img;
    fuzz_write(job_json, data, size);
    q = open_queue();
    check_jobs(q);
    memset(&g, 0, sizeof g);
    jobq_stats(q, &g);
    if ((img = jobq_preview(q, JOB_ID, &len, &code)))
        abort();   /* no model folder holds a preview */
    job = jobq_get(q, JOB_ID, &code);
    if (!job) {
        jobq_close(q);
        return;
    }
    queued = !strcmp(state_of(job), "queued");
    json_decref(job);
    json_decref(jobq_cancel(q, JOB_ID, &code));
    jobq_close(q);
    if (!queued)
        return;
    /* Cancelled while queued: written at once, and read back so. */
    q = open_queue();
    check_jobs(q);
    job = jobq_get(q, JOB_ID, &code);
    if (!job || strcmp(state_of(job), "cancelled"))
        abort();
    json_decref(job);
    jobq_close(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 && data[0] == 'J')
        fuzz_job_json(data + 1, size - 1);
    else
        fuzz_config(data, size);
    return 0;
}
