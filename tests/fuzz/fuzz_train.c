/* fuzz_train.c: a training job's config on its way in and back: the
 * `config` field of POST /train (json_loadb as api_train_body calls it,
 * then jobq_config_parse), and a job's stored job.json read back when the
 * server starts (jobq_open's restore, then the job listed, described,
 * cancelled and read back again).
 *
 * Input: a first byte 'J' makes the rest a job.json, written to
 * <tmp>/data/jobs/0123456789abcdef/ before jobq_open (no runner threads:
 * nothing trains); any other input is a config as a client sends it.
 *
 * Checked for a config: a refusal names a field (the key at fault, which
 * may be "", or "config") and says why; an accepted config is within the
 * ranges the settings table (train_opts.h) gives a job, and stored as
 * save() stores it (jobq_config_json, JSON text at 10 digits) and parsed
 * again it gives the same config and the same trainer settings, so a job
 * resumed after a restart trains as it was asked to.
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

#include "engine/train/train_opts.h"
#include "engine/train/trainer.h"
#include "server/jobq.h"
#include "server/jobq_config.h"
#include "server/log.h"
#include "engine/repo.h"
#include "server/registry.h"
#include "tests/fuzz/fuzz.h"

#define JOB_ID "0123456789abcdef"

static Registry *reg;
static char data_dir[512], job_dir[600], job_json[700];

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
    snprintf(job_dir, sizeof job_dir, "%s/jobs/%s", data_dir, JOB_ID);
    snprintf(job_json, sizeof job_json, "%s/job.json", job_dir);
    return 0;
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

/* Within the job profile: finishing it again (which checks every row's
 * job range and the rules between rows) must not refuse it. */
static void check_config(const JobConfig *c)
{
    TrainConfig tc;
    char err[256];
    jobq_config_train(c, &tc);
    if (!repo_valid_name(c->name) || (c->init[0] && !repo_valid_name(c->init)) ||
        (!c->init[0] && c->init_version) ||
        train_opts_finish(&tc, TRAIN_PROFILE_JOB, NULL, err, sizeof err) ||
        tc.arch != TRAIN_ARCH_FAST || tc.lr_d != tc.lr_g ||
        strlen(c->style_title) > JOBQ_TEXT_MAX || strlen(c->style_license) > JOBQ_TEXT_MAX)
        abort();
}

/* The settings the trainer is given must not change across a restart:
 * every row of the table, as it writes them, and the job's own keys. */
static void same_training(const JobConfig *a, const JobConfig *b)
{
    TrainConfig x, y;
    jobq_config_train(a, &x);
    jobq_config_train(b, &y);
    json_t *jx = train_opts_to_json(&x, TOPT_CLI | TOPT_JOB | TOPT_CARD);
    json_t *jy = train_opts_to_json(&y, TOPT_CLI | TOPT_JOB | TOPT_CARD);
    if (!jx || !jy || !json_equal(jx, jy) || strcmp(x.name, y.name) ||
        memcmp(x.style_levels, y.style_levels, sizeof x.style_levels) ||
        strcmp(a->init, b->init) || a->init_version != b->init_version)
        abort();
    json_decref(jx);
    json_decref(jy);
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    char field[64], err[384], field2[64], err2[384], *text;
    json_error_t jerr;
    JobConfig s, s2;
    json_t *cfg = json_loadb((const char *)data, size, 0, &jerr), *stored, *back;
    if (!json_is_object(cfg)) {
        json_decref(cfg);
        return;
    }
    field[0] = err[0] = '\0';
    if (jobq_config_parse(cfg, &s, field, sizeof field, err, sizeof err)) {
        check_refusal(cfg, field, err);
        json_decref(cfg);
        return;
    }
    json_decref(cfg);
    check_config(&s);
    if (s.init[0])
        s.init_version = 7;   /* jobq_submit: the version current at submission */
    if (!(stored = jobq_config_json(&s)))
        abort();
    text = json_dumps(stored, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(stored);
    if (!text || !(back = json_loads(text, 0, &jerr)))
        abort();
    free(text);
    if (jobq_config_parse(back, &s2, field2, sizeof field2, err2, sizeof err2)) {
        fprintf(stderr, "fuzz_train: the stored config does not parse: %s\n", err2);
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
        JobConfig s;
        if (strcmp(st, "queued") && strcmp(st, "succeeded") && strcmp(st, "failed") &&
            strcmp(st, "cancelled"))
            abort();
        if (jobq_config_parse(json_object_get(job, "config"), &s, field, sizeof field, err,
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
    /* Named members: a field added to JobqConfig (the gate's) is zero here
     * instead of breaking the -Werror build. */
    JobqConfig jc = {.data_dir = data_dir, .content_dir = "", .max_queued = 4, .threads = 1,
                     .mem_bytes = INT64_C(1) << 40, .max_crashes = 3, .retention_s = 100000000,
                     .max_pixels = INT64_C(50000000), .upload_pixels = INT64_C(1) << 40};
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
    /* The queue may remove the job's folder (a job it prunes or cannot
     * keep), so each input makes it again. */
    if (mkdir(job_dir, 0755) && errno != EEXIST) {
        perror(job_dir);
        abort();
    }
    fuzz_write(job_json, data, size);
    q = open_queue();
    check_jobs(q);
    memset(&g, 0, sizeof g);
    jobq_stats(q, &g);
    if ((img = jobq_preview(q, JOB_ID, 0, &len, &code)))
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
