/* test_swap.c: the registry under change: PUT / DELETE of a model's
 * CURRENT pin, versions written into the repository by another process
 * (a temporary file and a rename) picked up by the watch, broken files
 * skipped, new model folders, and all of it while clients stylize and a
 * training job publishes into the same model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/http/server_harness.h"
#include "tests/http/train_util.h"

#define TOKEN TRAIN_TOKEN

static const char *const auth[] = {"Authorization: Bearer " TOKEN, NULL};
static const char *const auth_json[] = {"Authorization: Bearer " TOKEN,
                                        "Content-Type: application/json", NULL};

static int start(Harness *h)
{
    const char *args[] = {"--workers", "2", "--token", TOKEN, "--rescan-ms", "500",
                          TRAIN_GATE_OPEN, NULL};
    if (harness_start(h, args) || harness_wait_ready(h, 60))
        return -1;
    return 0;
}

static long put_current(const Harness *h, const char *model, const char *body, Reply *r)
{
    char path[128];
    snprintf(path, sizeof path, "/models/%s/current", model);
    return harness_request(h, "PUT", path, NULL, body, strlen(body), auth_json, r);
}

/* Polls until model serves version; the seconds it took, or -1 after
 * limit. The limits below are generous: how soon a version is served is a
 * figure the test prints, not one it asserts (a loaded machine is slow). */
#define SERVED_LIMIT 60.0
static double wait_served(const Harness *h, const char *model, int version, double limit)
{
    double t0 = harness_now();
    while (harness_now() - t0 < limit) {
        if (train_served_version(h, model) == version)
            return harness_now() - t0;
        usleep(20000);
    }
    return -1;
}

/* Writes a version as another process would: a temporary name in the
 * folder, then a rename. garbage writes a file that does not load. */
static void publish(const Harness *h, const char *model, int version, int garbage)
{
    char dir[400], tmp[480], path[480];
    snprintf(dir, sizeof dir, "%s/%s", h->models, model);
    mkdir(dir, 0755);
    snprintf(tmp, sizeof tmp, "%s/.v%d.safetensors.tmp1234", dir, version);
    snprintf(path, sizeof path, "%s/v%d.safetensors", dir, version);
    if (garbage) {
        FILE *f = fopen(tmp, "w");
        assert_non_null(f);
        fputs("this is not a safetensors file", f);
        fclose(f);
    } else {
        assert_int_equal(harness_write_tiny_model(tmp, 100 + version), 0);
    }
    assert_int_equal(rename(tmp, path), 0);
}

static void test_pin_and_unpin(void **state)
{
    Harness h;
    Reply r;
    char path[480], text[32] = "";
    FILE *f;
    json_t *j;
    assert_int_equal(start(&h), 0);
    assert_int_equal(train_served_version(&h, "tiny"), 1);      /* CURRENT pins v1 */

    assert_int_equal(put_current(&h, "tiny", "{\"version\": 2}", &r), 200);
    j = train_json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "current")), 2);
    json_decref(j);
    reply_free(&r);
    assert_int_equal(train_served_version(&h, "tiny"), 2);
    snprintf(path, sizeof path, "%s/tiny/CURRENT", h.models);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(text, sizeof text, f));
    fclose(f);
    assert_string_equal(text, "2\n");

    /* Roll back, then the bad bodies: each names its field. */
    assert_int_equal(put_current(&h, "tiny", "{\"version\": 1}", &r), 200);
    reply_free(&r);
    assert_int_equal(train_served_version(&h, "tiny"), 1);
    put_current(&h, "tiny", "{\"version\": 9}", &r);
    train_expect_problem(&r, 404, NULL);
    reply_free(&r);
    put_current(&h, "tiny", "{\"versio\": 2}", &r);
    train_expect_problem(&r, 400, "versio");
    reply_free(&r);
    put_current(&h, "tiny", "{\"version\": \"2\"}", &r);
    train_expect_problem(&r, 400, "version");
    reply_free(&r);
    put_current(&h, "tiny", "{\"version\": 0}", &r);
    train_expect_problem(&r, 400, "version");
    reply_free(&r);
    put_current(&h, "tiny", "[2]", &r);
    train_expect_problem(&r, 400, "body");
    reply_free(&r);
    put_current(&h, "tiny", "", &r);
    train_expect_problem(&r, 400, "body");
    reply_free(&r);
    put_current(&h, "nope", "{\"version\": 1}", &r);
    train_expect_problem(&r, 404, NULL);
    reply_free(&r);
    put_current(&h, "..", "{\"version\": 1}", &r);
    train_expect_problem(&r, 404, NULL);
    reply_free(&r);
    /* A version that does not load is refused and changes nothing. */
    put_current(&h, "broken", "{\"version\": 1}", &r);
    train_expect_problem(&r, 400, "version");
    reply_free(&r);
    harness_request(&h, "PUT", "/models/tiny/current", NULL, "{\"version\": 2}", 14, NULL, &r);
    train_expect_problem(&r, 401, NULL);
    reply_free(&r);
    assert_int_equal(train_served_version(&h, "tiny"), 1);

    /* DELETE: back to the newest. */
    assert_int_equal(harness_request(&h, "DELETE", "/models/tiny/current", NULL, NULL, 0, auth,
                                     &r), 200);
    reply_free(&r);
    assert_int_equal(train_served_version(&h, "tiny"), 2);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(harness_request(&h, "DELETE", "/models/tiny/current", NULL, NULL, 0, auth,
                                     &r), 200);
    reply_free(&r);
    harness_request(&h, "DELETE", "/models/nope/current", NULL, NULL, 0, auth, &r);
    train_expect_problem(&r, 404, NULL);
    reply_free(&r);

    harness_get(&h, "/metrics", &r);
    assert_non_null(strstr((char *)r.body, "atelier_model_swaps_total 3"));
    assert_non_null(strstr((char *)r.body, "atelier_model_rollbacks_total 1"));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_external_versions(void **state)
{
    Harness h;
    Reply r;
    double s;
    assert_int_equal(start(&h), 0);
    assert_int_equal(harness_request(&h, "DELETE", "/models/tiny/current", NULL, NULL, 0, auth,
                                     &r), 200);
    reply_free(&r);
    /* Another process writes v3: served (the time it took is printed). */
    publish(&h, "tiny", 3, 0);
    s = wait_served(&h, "tiny", 3, SERVED_LIMIT);
    printf("v3 served %.3f s after its rename\n", s);
    assert_true(s >= 0);
    /* A broken v4 is never served and v3 stays: once the watch has tried
     * it (waited for in the log, not for a guessed time). */
    publish(&h, "tiny", 4, 1);
    assert_int_equal(harness_wait_log(&h, "model failed to load", "\"version\":4", SERVED_LIMIT),
                     0);
    assert_int_equal(train_served_version(&h, "tiny"), 3);
    /* A temporary file alone is ignored. */
    {
        char tmp[480];
        snprintf(tmp, sizeof tmp, "%s/tiny/.v5.safetensors.tmpABCD", h.models);
        assert_int_equal(harness_write_tiny_model(tmp, 5), 0);
    }
    /* v5 after the broken v4 is served; the rescans that found it did not
     * try v4 again (it is remembered by its mtime and size). */
    publish(&h, "tiny", 5, 0);
    assert_true(wait_served(&h, "tiny", 5, SERVED_LIMIT) >= 0);
    assert_int_equal(harness_log_count(&h, "model failed to load", "\"version\":4"), 1);
    /* A new model folder appears. */
    publish(&h, "fresh", 1, 0);
    s = wait_served(&h, "fresh", 1, SERVED_LIMIT);
    printf("new model served %.3f s after its rename\n", s);
    assert_true(s >= 0);
    harness_get(&h, "/models/fresh", &r);
    assert_int_equal(r.status, 200);
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

/* Writes text to <model>/CURRENT as an operator's editor would (a new
 * file renamed over the old one). */
static void write_current(const Harness *h, const char *model, const char *text)
{
    char tmp[480], path[480];
    snprintf(tmp, sizeof tmp, "%s/%s/.CURRENT.tmp1234", h->models, model);
    snprintf(path, sizeof path, "%s/%s/CURRENT", h->models, model);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* GET /models/{model}: its "error" (a new string, or NULL) and pin. */
static char *model_error(const Harness *h, const char *model, int *pinned)
{
    char path[128];
    Reply r;
    snprintf(path, sizeof path, "/models/%s", model);
    assert_int_equal(harness_get(h, path, &r), 200);
    json_t *j = train_json_of(&r);
    const char *e = json_string_value(json_object_get(j, "error"));
    char *copy = e ? strdup(e) : NULL;
    *pinned = (int)json_integer_value(json_object_get(j, "pinned"));
    json_decref(j);
    reply_free(&r);
    return copy;
}

/* CURRENT written by hand: "v3" pins v3 as "3" does (v3 and v5 present);
 * what is no version is refused loudly: logged once, listed as the
 * model's error in GET /models/{name}, and the newest version served. */
static void test_current_by_hand(void **state)
{
    Harness h;
    char dir[400], path[480], *err;
    FILE *f;
    int pinned;
    assert_int_equal(start(&h), 0);
    /* The folder appears whole (made beside the repository, then renamed
     * in): the first scan sees CURRENT, v3 and v5 together. */
    snprintf(dir, sizeof dir, "%s/hand", h.root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("v3\n", f);
    assert_int_equal(fclose(f), 0);
    for (int v = 3; v <= 5; v += 2) {
        snprintf(path, sizeof path, "%s/v%d.safetensors", dir, v);
        assert_int_equal(harness_write_tiny_model(path, 100 + v), 0);
    }
    snprintf(path, sizeof path, "%s/hand", h.models);
    assert_int_equal(rename(dir, path), 0);
    assert_int_equal(harness_wait_log(&h, "model loaded", "\"model\":\"hand\"", SERVED_LIMIT), 0);
    assert_int_equal(train_served_version(&h, "hand"), 3);
    err = model_error(&h, "hand", &pinned);
    assert_null(err);
    assert_int_equal(pinned, 3);

    /* No version: refused, said in the log and with the model; the newest
     * is served. */
    write_current(&h, "hand", "three\n");
    assert_true(wait_served(&h, "hand", 5, SERVED_LIMIT) >= 0);
    assert_int_equal(harness_wait_log(&h, "CURRENT refused", "CURRENT holds \\\"three\\\"",
                                      SERVED_LIMIT), 0);
    err = model_error(&h, "hand", &pinned);
    assert_non_null(err);
    printf("GET /models/hand error: %s\n", err);
    assert_non_null(strstr(err, "CURRENT holds \"three\", not a version"));
    assert_int_equal(pinned, 0);
    free(err);
    /* Logged once, though the folder is rescanned again (v7 arrives). */
    publish(&h, "hand", 7, 0);
    assert_true(wait_served(&h, "hand", 7, SERVED_LIMIT) >= 0);
    assert_int_equal(harness_log_count(&h, "CURRENT refused", NULL), 1);
    /* A version that is not there: refused the same way. */
    write_current(&h, "hand", "v4\n");
    assert_int_equal(harness_wait_log(&h, "CURRENT refused", "CURRENT pins v4", SERVED_LIMIT), 0);
    assert_int_equal(train_served_version(&h, "hand"), 7);
    /* Fixed by hand: served at once, the error gone. */
    write_current(&h, "hand", "3\n");
    assert_true(wait_served(&h, "hand", 3, SERVED_LIMIT) >= 0);
    err = model_error(&h, "hand", &pinned);
    assert_null(err);
    assert_int_equal(pinned, 3);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- under load --------------------------------------------------------- */

#define MAXV 32

typedef struct Shared {
    const Harness *h;
    atomic_int stop;
    /* Per version: when it may first have become current (the moment the
     * action making it current began) and when it surely stopped being
     * current (the action replacing it was confirmed). */
    double from[MAXV], until[MAXV];
    pthread_mutex_t lock;
    pthread_cond_t more;        /* signalled at each answer */
    long ok, failed, bad_version;
} Shared;

typedef struct Client {
    Shared *s;
    pthread_t thread;
} Client;

static void *client_main(void *arg)
{
    Client *c = arg;
    Shared *s = c->s;
    size_t len;
    uint8_t *jpeg = harness_jpeg(64, 48, 90, &len);
    while (!atomic_load(&s->stop)) {
        Reply r;
        char v[96];
        const char *slash;
        double t0 = harness_now(), t1;
        long status = harness_request(s->h, "POST", "/stylize?model=tiny", "image/jpeg", jpeg,
                                      len, NULL, &r);
        int version = -1;
        t1 = harness_now();
        if (status == 200 && reply_header(&r, "X-Atelier-Model", v, sizeof v) &&
            (slash = strstr(v, "/v")))
            version = atoi(slash + 2);
        pthread_mutex_lock(&s->lock);
        if (version < 1 || version >= MAXV) {
            s->failed++;
            print_error("request failed: status %ld %.*s\n", status, (int)r.len,
                        r.body ? (char *)r.body : "");
        } else if (!(s->from[version] > 0 && s->from[version] <= t1 &&
                     (s->until[version] == 0 ||
                      s->until[version] >= t0))) {
            s->bad_version++;
            print_error("v%d answered over [%.3f, %.3f] but was current over [%.3f, %.3f]\n",
                        version, t0, t1, s->from[version], s->until[version]);
        } else {
            s->ok++;
        }
        pthread_cond_broadcast(&s->more);
        pthread_mutex_unlock(&s->lock);
        reply_free(&r);
    }
    free(jpeg);
    return NULL;
}

/* Waits until the clients have had n more answers, so that requests see
 * each state the model goes through however slow the machine is. */
static void wait_answers(Shared *s, long n)
{
    struct timespec until;
    long want;
    int timed_out = 0;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 120;
    pthread_mutex_lock(&s->lock);
    want = s->ok + s->failed + s->bad_version + n;
    while (!timed_out && s->ok + s->failed + s->bad_version < want)
        timed_out = pthread_cond_timedwait(&s->more, &s->lock, &until) == ETIMEDOUT;
    pthread_mutex_unlock(&s->lock);
    assert_false(timed_out);
}

/* Makes version current by action (already begun at t_begin), then waits
 * until the server serves it, and closes the window of the previous one. */
static void confirm(Shared *s, int prev, int version, double t_begin)
{
    assert_true(wait_served(s->h, "tiny", version, SERVED_LIMIT) >= 0);
    pthread_mutex_lock(&s->lock);
    if (s->from[version] == 0 || s->until[version] != 0)
        s->from[version] = t_begin;
    s->until[version] = 0;
    s->until[prev] = harness_now();
    pthread_mutex_unlock(&s->lock);
}

static void begin(Shared *s, int version, double *t)
{
    *t = harness_now();
    pthread_mutex_lock(&s->lock);
    if (s->until[version] != 0 || s->from[version] == 0) {
        s->from[version] = *t;
        s->until[version] = 0;
    }
    pthread_mutex_unlock(&s->lock);
}

static void test_swap_under_load(void **state)
{
    enum { NCLIENTS = 4 };
    Harness h;
    Shared s;
    Client c[NCLIENTS];
    Reply r;
    double t;
    assert_int_equal(start(&h), 0);
    memset(&s, 0, sizeof s);
    s.h = &h;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.more, NULL);
    s.from[1] = 1;              /* pinned at start */
    for (int i = 0; i < NCLIENTS; i++) {
        c[i].s = &s;
        assert_int_equal(pthread_create(&c[i].thread, NULL, client_main, &c[i]), 0);
    }
    wait_answers(&s, NCLIENTS);
    /* Unpin: v2. */
    begin(&s, 2, &t);
    assert_int_equal(harness_request(&h, "DELETE", "/models/tiny/current", NULL, NULL, 0, auth,
                                     &r), 200);
    reply_free(&r);
    confirm(&s, 1, 2, t);
    /* A training job publishes v3, v4, v5 into the same model. Each may be
     * current from the submission on, and none after the job's last one is
     * served (a loose but sound window: the true one lies inside it). */
    {
        char id[17];
        json_t *job;
        begin(&s, 3, &t);
        begin(&s, 4, &t);
        begin(&s, 5, &t);
        assert_int_equal(train_submit(&h, "{\"name\": \"tiny\", \"overwrite\": true, "
                                          "\"promote\": \"each\", \"steps\": 6, \"size\": 32, "
                                          "\"checkpoint_every\": 2, \"width\": 4, "
                                          "\"blocks\": 1}", 1, 2, &r), 202);
        assert_int_equal(train_id(&r, id), 0);
        reply_free(&r);
        job = train_wait(&h, id, "succeeded", 120);
        assert_non_null(job);
        assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
        assert_int_equal(json_array_size(json_object_get(job, "versions")), 3);
        json_decref(job);
        confirm(&s, 2, 5, t);
        pthread_mutex_lock(&s.lock);
        s.until[3] = s.until[4] = s.until[2];
        pthread_mutex_unlock(&s.lock);
    }
    /* Versions from another process. */
    for (int v = 6; v <= 8; v++) {
        begin(&s, v, &t);
        publish(&h, "tiny", v, 0);
        confirm(&s, v - 1, v, t);
        wait_answers(&s, NCLIENTS);
    }
    /* A broken one changes nothing (asked once the watch has tried it). */
    publish(&h, "tiny", 9, 1);
    assert_int_equal(harness_wait_log(&h, "model failed to load", "\"version\":9", SERVED_LIMIT),
                     0);
    wait_answers(&s, NCLIENTS);
    /* Roll back to v4 (the job's) over PUT. */
    begin(&s, 4, &t);
    assert_int_equal(put_current(&h, "tiny", "{\"version\": 4}", &r), 200);
    reply_free(&r);
    confirm(&s, 8, 4, t);
    wait_answers(&s, NCLIENTS);
    atomic_store(&s.stop, 1);
    for (int i = 0; i < NCLIENTS; i++)
        pthread_join(c[i].thread, NULL);
    printf("under load: %ld answers, %ld failed, %ld named a version not current\n", s.ok,
           s.failed, s.bad_version);
    assert_int_equal(s.failed, 0);
    assert_int_equal(s.bad_version, 0);
    assert_true(s.ok > 20);
    pthread_cond_destroy(&s.more);
    pthread_mutex_destroy(&s.lock);
    assert_int_equal(harness_stop(&h), 0);   /* clean exit: no leak under ASan */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_and_unpin),
        cmocka_unit_test(test_external_versions),
        cmocka_unit_test(test_current_by_hand),
        cmocka_unit_test(test_swap_under_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
