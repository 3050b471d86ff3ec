/* test_killtrain.c: kill -9 at random points of a training job.
 *
 * The real server trains a small job with a checkpoint at every step (so
 * a good share of its time is spent writing versions and the trainer
 * state) and is killed with SIGKILL several times: each time once the job,
 * running again, has published 0 or 1 more versions, then either after a
 * random delay of up to one and a half of its steps or (in one round of
 * three, and at least once) as soon as a checkpoint's temporary file
 * appears, during its write. The choices come from a seed that is printed;
 * ATELIER_KILL_SEED=N repeats a run. After each restart on the same
 * folders: every version file on disk loads, every listed version is
 * such a file, the newest listed is served, and the job is known and not
 * failed. At the end the job has resumed and succeeded with all its steps,
 * and no temporary file is left (a resumed job removes the ones the killed
 * run left).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/http/train_util.h"

#define KILLS 8
#define STEPS 24

/* Eight kills under one job: more than --train-max-crashes allows by
 * default (3, after which the job is failed: tests/http/test_jobs.c). */
static const char *const server_args[] = {"--workers", "2", "--token", TRAIN_TOKEN,
                                          "--train-max-crashes", "8", TRAIN_GATE_OPEN, NULL};

static const char config[] =
    "{\"name\": \"phoenix\", \"promote\": \"each\", \"steps\": 24, \"size\": 32, \"checkpoint_every\": 1, "
    "\"width\": 4, \"blocks\": 0}";

/* 1 when a checkpoint of the model is being written (a temporary version
 * or trainer state exists). */
static int writing(const char *models)
{
    static const char *const subs[] = {"", "/.train"};
    char dir[512];
    int hit = 0;
    for (int i = 0; i < 2 && !hit; i++) {
        DIR *d;
        struct dirent *e;
        snprintf(dir, sizeof dir, "%s/phoenix%s", models, subs[i]);
        if (!(d = opendir(dir)))
            continue;
        while (!hit && (e = readdir(d)))
            hit = e->d_name[0] == '.' && strstr(e->d_name, ".safetensors.tmp") != NULL;
        closedir(d);
    }
    return hit;
}

static const char *state_of(const json_t *job)
{
    const char *s = json_string_value(json_object_get(job, "state"));
    return s ? s : "(none)";
}

static int nversions(const json_t *job)
{
    return (int)json_array_size(json_object_get(job, "versions"));
}

/* The job once it has published at least n versions or is no longer
 * running; NULL after seconds. */
static json_t *wait_versions(const Harness *h, const char *id, int n, double seconds)
{
    for (double end = harness_now() + seconds; harness_now() < end; usleep(20 * 1000)) {
        json_t *j = train_get(h, id);
        const char *st = json_string_value(json_object_get(j, "state"));
        if (st && (nversions(j) >= n || (strcmp(st, "running") && strcmp(st, "queued"))))
            return j;
        json_decref(j);
    }
    return NULL;
}

static void check_after_restart(const Harness *h, const char *id, int round)
{
    char msg[512];
    json_t *job = train_get(h, id);
    int n = train_check_repo(h, h->models, "phoenix", 0, msg, sizeof msg);
    if (n < 0) {
        print_error("after kill %d: %s\n", round, msg);
        fail();
    }
    if (!job || !strcmp(state_of(job), "failed")) {
        print_error("after kill %d: the job is %s: %s\n", round, job ? state_of(job) : "lost",
                    job ? json_string_value(json_object_get(job, "error")) : "");
        fail();
    }
    printf("  restarted: job %s at step %lld, %d versions listed, all load, newest served\n",
           state_of(job), (long long)json_integer_value(json_object_get(job, "step")), n);
    json_decref(job);
}

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

static void test_random_kills(void **state)
{
    const char *env = getenv("ATELIER_KILL_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10)
                        : (unsigned)time(NULL) ^ (unsigned)getpid();
    Harness h;
    Reply r;
    char id[17], msg[512], *log;
    json_t *job;
    int during = 0, kills = 0, target, tried = 0, resumes;
    double t0 = harness_now();
    printf("seed %u (ATELIER_KILL_SEED=%u repeats this run)\n", seed, seed);
    assert_int_equal(harness_start(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(train_submit(&h, config, 1, 8, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    for (int round = 1; round <= KILLS; round++) {
        /* One round in three, and the last if none was, waits for a write. */
        int at_write = rand_r(&seed) % 3 == 0 || (round == KILLS && !tried), caught = 0;
        double u = (rand_r(&seed) % 1000) / 1000.0, delay, sps, end;
        int more = rand_r(&seed) % 2;
        job = train_wait(&h, id, "running", 60);
        assert_non_null(job);
        target = nversions(job) + more;
        json_decref(job);
        job = wait_versions(&h, id, target, 90);
        assert_non_null(job);
        if (strcmp(state_of(job), "running")) {
            printf("kill %d: none, the job is %s already\n", round, state_of(job));
            json_decref(job);
            break;
        }
        /* Up to one and a half steps more, at the job's own pace. */
        sps = json_number_value(json_object_get(job, "steps_per_s"));
        delay = u * 1.5 * (sps > 0.01 ? 1.0 / sps : 0.3);
        json_decref(job);
        end = harness_now() + delay;
        tried |= at_write;
        if (at_write) {
            for (end += 3; harness_now() < end && !caught; usleep(1000))
                caught = writing(h.models);
        } else {
            usleep((useconds_t)(delay * 1e6));
        }
        harness_signal(&h, SIGKILL);
        assert_int_equal(harness_wait_exit(&h, 10), 128 + SIGKILL);
        kills++;
        during += caught;
        if (at_write)
            printf("kill %d: after %d versions, %s\n", round, target,
                   caught ? "during a checkpoint write" : "waiting for a write (none seen)");
        else
            printf("kill %d: after %d versions and %.2f s more\n", round, target, delay);
        assert_int_equal(harness_restart(&h, server_args), 0);
        assert_int_equal(harness_wait_ready(&h, 60), 0);
        check_after_restart(&h, id, round);
    }
    job = train_wait(&h, id, "succeeded", 180);
    assert_non_null(job);
    if (strcmp(state_of(job), "succeeded")) {
        print_error("the job ended %s: %s\n", state_of(job),
                    json_string_value(json_object_get(job, "error")));
        fail();
    }
    assert_int_equal(json_integer_value(json_object_get(job, "step")), STEPS);
    json_decref(job);
    if (train_check_repo(&h, h.models, "phoenix", 1, msg, sizeof msg) < 0) {
        print_error("at the end: %s\n", msg);
        fail();
    }
    log = harness_log_text(&h);
    resumes = log ? count(log, "training job resumes") : 0;
    free(log);
    printf("%d kills (%d during a checkpoint write), %d resumes, done in %.1f s\n", kills,
           during, resumes, harness_now() - t0);
    assert_true(resumes >= 1);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_kills),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
