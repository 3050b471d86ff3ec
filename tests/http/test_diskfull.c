/* test_diskfull.c: training jobs when the disk fills up, on tiny tmpfs
 * mounts (the test makes its own mount namespace: as root, or as root of a
 * new user namespace; where neither works it skips, saying why).
 *
 * What a model server should do, and what is checked:
 * - The model repository fills while a checkpoint is written: the job
 *   fails with an error naming the lack of space (it does not retry in the
 *   background: an operator frees space and submits again, or fine-tunes
 *   from the last version with init); no temporary file is left, every
 *   version on disk loads, the newest listed one is served, and /stylize
 *   and /healthz keep answering. When space returns, a new job for the
 *   model trains and publishes the next versions.
 * - The job folder (--data) fills while a job runs: writing job.json
 *   fails (logged), the job goes on and ends in memory; a new submission
 *   is refused with 507 (insufficient storage) and leaves no half-stored job. The server
 *   is then killed (-9) with job.json still saying "running"; when space
 *   returns and it starts again, the job resumes from its last checkpoint
 *   and succeeds: it is not lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "tests/http/train_util.h"

static char why[600];        /* why mounting is impossible, "" when it works */
static char base[256];       /* <base>/models and <base>/data are tmpfs mounts */
static char models[300], data[300];

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY);
    ssize_t n = fd < 0 ? -1 : write(fd, s, strlen(s));
    if (fd >= 0)
        close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

/* A mount namespace of our own, so the mounts vanish with the test. */
static int private_mounts(void)
{
    char map[64];
    uid_t uid = geteuid();
    gid_t gid = getegid();
    int e;
    if (unshare(CLONE_NEWNS)) {
        e = errno;
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
            snprintf(why, sizeof why, "no mount namespace: unshare: %s; as a user: %s",
                     strerror(e), strerror(errno));
            return -1;
        }
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        if (write_str("/proc/self/setgroups", "deny") ||
            write_str("/proc/self/uid_map", map) ||
            (snprintf(map, sizeof map, "0 %u 1", (unsigned)gid),
             write_str("/proc/self/gid_map", map))) {
            snprintf(why, sizeof why, "cannot map our user in a user namespace: %s",
                     strerror(errno));
            return -1;
        }
    }
    if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
        snprintf(why, sizeof why, "cannot make / private: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int mount_tmpfs(const char *dir, long kib)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%ldk,mode=0755", kib);
    if (mkdir(dir, 0755) || mount("tmpfs", dir, "tmpfs", 0, opts)) {
        snprintf(why, sizeof why, "cannot mount a tmpfs on %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    snprintf(base, sizeof base, "/tmp/atelier-full-XXXXXX");
    if (!mkdtemp(base)) {
        snprintf(why, sizeof why, "mkdtemp: %s", strerror(errno));
        return 0;
    }
    snprintf(models, sizeof models, "%s/models", base);
    snprintf(data, sizeof data, "%s/data", base);
    if (private_mounts() || mount_tmpfs(models, 32 * 1024) || mount_tmpfs(data, 2048))
        return 0;
    char tiny[sizeof models + 32];
    snprintf(tiny, sizeof tiny, "%s/tiny", models);
    mkdir(tiny, 0755);
    snprintf(tiny, sizeof tiny, "%s/tiny/v1.safetensors", models);
    if (harness_write_tiny_model(tiny, 1))
        snprintf(why, sizeof why, "cannot write the tiny model to %s", tiny);
    return 0;
}

static int teardown(void **state)
{
    if (!base[0])
        return 0;
    umount2(models, MNT_DETACH);
    umount2(data, MNT_DETACH);
    rmdir(models);
    rmdir(data);
    rmdir(base);
    return 0;
}

static const char *const *server_args(void)
{
    static const char *args[24];
    static const char *const open_gate[] = {TRAIN_GATE_OPEN};
    int n = 0;
    for (size_t i = 0; i < sizeof open_gate / sizeof *open_gate; i++)
        args[n++] = open_gate[i];
    args[n++] = "--workers";
    args[n++] = "2";
    args[n++] = "--token";
    args[n++] = TRAIN_TOKEN;
    args[n++] = "--models";
    args[n++] = models;
    args[n++] = "--default-model";
    args[n++] = "tiny";
    args[n++] = "--data";
    args[n++] = data;
    args[n] = NULL;
    return args;
}

static long free_bytes(const char *dir)
{
    struct statvfs sv;
    return statvfs(dir, &sv) ? -1 : (long)(sv.f_bavail * sv.f_frsize);
}

/* Grows the file dir/filler until at most leave bytes are free on dir's
 * file system (0: until the disk is full). Returns the bytes now free. */
static long fill(const char *dir, long leave)
{
    static char zeros[64 * 1024];
    char path[400];
    int fd;
    snprintf(path, sizeof path, "%s/filler", dir);
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    for (;;) {
        long room = free_bytes(dir) - leave;
        size_t n = room > (long)sizeof zeros ? sizeof zeros : (size_t)(room > 0 ? room : 0);
        if (n == 0 || write(fd, zeros, n) <= 0)
            break;
    }
    close(fd);
    return free_bytes(dir);
}

static void unfill(const char *dir)
{
    char path[400];
    snprintf(path, sizeof path, "%s/filler", dir);
    unlink(path);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) ? -1 : (long)sb.st_size;
}

/* The job once it has published min_versions or ended; NULL after seconds. */
static json_t *job_when(const Harness *h, const char *id, int min_versions, double seconds)
{
    for (double end = harness_now() + seconds; harness_now() < end; usleep(50 * 1000)) {
        json_t *j = train_get(h, id);
        const char *st = json_string_value(json_object_get(j, "state"));
        if (st && ((int)json_array_size(json_object_get(j, "versions")) >= min_versions ||
                   !strcmp(st, "succeeded") || !strcmp(st, "failed") ||
                   !strcmp(st, "cancelled")))
            return j;
        json_decref(j);
    }
    return NULL;
}

static const char *state_of(const json_t *job)
{
    const char *s = json_string_value(json_object_get(job, "state"));
    return s ? s : "(none)";
}

/* The repository invariants, and the server still answering. */
static void check_serving(const Harness *h, const char *model, const char *when)
{
    char msg[512];
    Reply r;
    int n = train_check_repo(h, models, model, 1, msg, sizeof msg);
    if (n < 0) {
        print_error("%s: %s\n", when, msg);
        fail();
    }
    printf("%s: %s has %d versions, all load, newest served; no temporary file\n", when, model,
           n);
    assert_int_equal(harness_get(h, "/healthz", &r), 200);
    reply_free(&r);
    assert_int_equal(train_served_version(h, "tiny"), 1);
}

static int count_jobs(void)
{
    char path[400];
    DIR *d;
    struct dirent *e;
    int n = 0;
    snprintf(path, sizeof path, "%s/jobs", data);
    if (!(d = opendir(path)))
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Starts the server and a job of config; returns once the job runs and has
 * published its first version (its id in id). */
static void start_running(Harness *h, const char *config, char *id)
{
    Reply r;
    json_t *job;
    assert_int_equal(harness_start(h, server_args()), 0);
    assert_int_equal(harness_wait_ready(h, 60), 0);
    assert_int_equal(train_submit(h, config, 1, 8, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    job = job_when(h, id, 1, 120);
    assert_non_null(job);
    assert_string_equal(state_of(job), "running");
    json_decref(job);
}

static void test_models_fill_during_checkpoint(void **state)
{
    static const char config[] =
        "{\"name\": \"painted\", \"promote\": \"each\", \"steps\": 100000, \"size\": 32, \"checkpoint_every\": 1, "
        "\"width\": 4, \"blocks\": 0}";
    Harness h;
    Reply r;
    char id[17], statefile[400];
    json_t *job;
    long st_size, left;
    const char *err;
    if (why[0]) {
        printf("skipped: %s\n", why);
        skip();
    }
    start_running(&h, config, id);
    /* Leave half a trainer state free: the next checkpoint's state file
     * fills the disk while it is written. */
    snprintf(statefile, sizeof statefile, "%s/painted/.train/state.safetensors", models);
    st_size = file_size(statefile);
    assert_true(st_size > 0);
    left = fill(models, st_size / 2);
    printf("models tmpfs: %ld bytes free, the trainer state is %ld\n", left, st_size);
    job = train_wait(&h, id, "failed", 120);
    assert_non_null(job);
    err = json_string_value(json_object_get(job, "error"));
    printf("job %s at step %lld, versions ", state_of(job),
           (long long)json_integer_value(json_object_get(job, "step")));
    json_dumpf(json_object_get(job, "versions"), stdout, JSON_COMPACT);
    printf(", error: %s\n", err ? err : "(none)");
    assert_string_equal(state_of(job), "failed");
    assert_non_null(err);
    assert_non_null(strstr(err, strerror(ENOSPC)));
    json_decref(job);
    check_serving(&h, "painted", "disk full");
    /* The job's record says so after a restart too. */
    harness_signal(&h, SIGTERM);
    assert_int_equal(harness_wait_exit(&h, 30), 0);
    assert_int_equal(harness_restart(&h, server_args()), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    job = train_get(&h, id);
    assert_non_null(job);
    assert_string_equal(state_of(job), "failed");
    json_decref(job);
    check_serving(&h, "painted", "disk full, restarted");
    /* Space returns: the model trains again. */
    unfill(models);
    assert_int_equal(train_submit(&h, "{\"name\": \"painted\", \"overwrite\": true, "
                                      "\"promote\": \"each\", \"steps\": 2, \"size\": 32, "
                                      "\"checkpoint_every\": 1, \"width\": 4, \"blocks\": 0}",
                                  1, 8, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    assert_string_equal(state_of(job), "succeeded");
    assert_int_equal(json_array_size(json_object_get(job, "versions")), 2);
    json_decref(job);
    check_serving(&h, "painted", "space returned");
    assert_int_equal(harness_stop(&h), 0);
}

static void test_data_fill_while_running(void **state)
{
    static const char config[] =
        "{\"name\": \"sturdy\", \"promote\": \"each\", \"steps\": 6, \"size\": 32, \"checkpoint_every\": 2, "
        "\"width\": 4, \"blocks\": 0}";
    Harness h;
    Reply r;
    char id[17], *log;
    json_t *job, *p;
    int jobs, found;
    if (why[0]) {
        printf("skipped: %s\n", why);
        skip();
    }
    start_running(&h, config, id);
    printf("data tmpfs: %ld bytes free after filling\n", fill(data, 0));
    /* A new job cannot be stored: refused, nothing half-stored left. */
    jobs = count_jobs();
    train_submit(&h, "{\"name\": \"other\", \"steps\": 2, \"size\": 32}", 1, 8, &r);
    printf("POST /train on a full disk: %ld %.*s\n", r.status, (int)r.len, (char *)r.body);
    assert_int_equal(r.status, 507);
    p = json_loadb((const char *)r.body, r.len, 0, NULL);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "type")),
                        "urn:atelier:problem:insufficient-storage");
    assert_non_null(strstr(json_string_value(json_object_get(p, "detail")), strerror(ENOSPC)));
    json_decref(p);
    reply_free(&r);
    assert_int_equal(count_jobs(), jobs);
    /* The running job goes on; its record on disk cannot follow. */
    job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    assert_string_equal(state_of(job), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(job, "step")), 6);
    json_decref(job);
    log = harness_log_text(&h);
    found = log && strstr(log, "cannot write job.json");
    free(log);
    assert_true(found);
    check_serving(&h, "sturdy", "data full");
    /* Killed with job.json saying "running"; space returns; it resumes. */
    harness_signal(&h, SIGKILL);
    assert_int_equal(harness_wait_exit(&h, 10), 128 + SIGKILL);
    unfill(data);
    assert_int_equal(harness_restart(&h, server_args()), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    assert_string_equal(state_of(job), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(job, "step")), 6);
    json_decref(job);
    log = harness_log_text(&h);
    found = log && strstr(log, "training job resumes");
    free(log);
    assert_true(found);
    check_serving(&h, "sturdy", "space returned, restarted");
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_models_fill_during_checkpoint),
        cmocka_unit_test(test_data_fill_while_running),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
