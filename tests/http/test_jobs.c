/* test_jobs.c: the findings of issue 15 about the management routes and
 * training jobs, against the real server:
 *   5  a config whose estimated memory is over --train-mem-mb is refused at
 *      submission, naming the limit; a job under which the server dies
 *      (kill -9 standing in for the OOM killer) more than
 *      --train-max-crashes times is failed with the reason, not resumed;
 *   6  what one job may upload is bounded by pixels, each picture
 *      (--max-pixels) and all together (--train-upload-mpixels), from their
 *      headers (paintings are kept shrunk: tests/train/test_traindata.c);
 *   9  a DELETE with an oversized Content-Length (or any body) is refused
 *      before it unpins or cancels anything;
 *   10 an empty part in POST /train is refused with 400 (the undefined
 *      behaviour it caused is in tests/fuzz/regress/fuzz_form too);
 *   11 what the trainer would fail on later is refused at submission,
 *      naming the field: a painting 1 pixel wide, a style_scale whose
 *      crops are a pixel or two;
 *   12 an ended or cancelled job keeps its record but not its uploads, and
 *      is forgotten (its folder removed) --train-retention-s after it ended;
 *   15 GET /models and GET /models/{name}, open to anyone, show no path of
 *      the server's machine, also for a card an older trainer wrote with
 *      absolute paths, and in a version's load error.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/http/raw_client.h"
#include "tests/http/train_util.h"

static const char long_job[] =
    "{\"name\": \"long\", \"steps\": 100000, \"size\": 32, \"checkpoint_every\": 100000, "
    "\"width\": 4, \"blocks\": 0}";

static const char *job_state(const Harness *h, const char *id)
{
    static char state[32];
    json_t *j = train_get(h, id);
    snprintf(state, sizeof state, "%s", j ? json_string_value(json_object_get(j, "state")) : "?");
    json_decref(j);
    return state;
}

static int current_version(const Harness *h, const char *model)
{
    char path[64];
    Reply r;
    json_t *m;
    int v;
    snprintf(path, sizeof path, "/models/%s", model);
    assert_int_equal(harness_get(h, path, &r), 200);
    m = train_json_of(&r);
    v = (int)json_integer_value(json_object_get(m, "current"));
    json_decref(m);
    reply_free(&r);
    return v;
}

/* ---- 5: the memory a job may use, and the crash loop --------------------- */

static void test_memory_limit(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, "--train-mem-mb", "300",
                          NULL};
    Harness h;
    Reply r;
    assert_int_equal(harness_start(&h, args), 0);
    /* The config: past 2 GiB in seconds. Refused before it is
     * stored, the limit named. */
    train_submit(&h, "{\"name\": \"big\", \"size\": 512, \"batch\": 2}", 1, 1, &r);
    train_expect_problem(&r, 400, "config");
    printf("refused: %.*s\n", (int)r.len, (const char *)r.body);
    assert_non_null(strstr((const char *)r.body, "300 MiB"));
    assert_non_null(strstr((const char *)r.body, "--train-mem-mb"));
    reply_free(&r);
    /* A small one fits. */
    assert_int_equal(train_submit(&h, "{\"name\": \"small\", \"steps\": 2, \"size\": 32, "
                                      "\"width\": 4, \"blocks\": 0}", 1, 1, &r), 202);
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

/* Waits until the job runs and has made a step (so the server has stored
 * it as running: what an OOM kill deep in training finds). */
static void wait_stepping(const Harness *h, const char *id)
{
    double until = harness_now() + 120;
    while (harness_now() < until) {
        json_t *j = train_get(h, id);
        int ok = j && !strcmp(json_string_value(json_object_get(j, "state")), "running") &&
                 json_integer_value(json_object_get(j, "step")) >= 1;
        json_decref(j);
        if (ok)
            return;
        usleep(50 * 1000);
    }
    fail_msg("job %s did not make a step", id);
}

static void test_crash_loop(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, "--train-max-crashes", "1",
                          NULL};
    Harness h;
    Reply r;
    char id[17];
    json_t *j;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(train_submit(&h, long_job, 1, 2, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    /* Two deaths while it runs: the first is forgiven (it resumes), the
     * second is one too many. */
    for (int kill = 1; kill <= 2; kill++) {
        wait_stepping(&h, id);
        harness_signal(&h, SIGKILL);
        assert_int_equal(harness_wait_exit(&h, 10), 128 + SIGKILL);
        assert_int_equal(harness_restart(&h, args), 0);
        assert_int_equal(harness_wait_ready(&h, 60), 0);
    }
    j = train_get(&h, id);
    assert_non_null(j);
    printf("after two kills: %s: %s\n", json_string_value(json_object_get(j, "state")),
           json_string_value(json_object_get(j, "error")));
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "died 2 times"));
    json_decref(j);
    /* And it stays failed: a clean restart does not run it again. */
    harness_signal(&h, SIGTERM);
    assert_int_equal(harness_wait_exit(&h, 30), 0);
    assert_int_equal(harness_restart(&h, args), 0);
    j = train_get(&h, id);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    json_decref(j);
    /* A clean stop is no crash: a running job stopped by SIGTERM twice
     * resumes each time. */
    assert_int_equal(train_submit(&h, "{\"name\": \"calm\", \"steps\": 100000, \"size\": 32, "
                                      "\"checkpoint_every\": 100000, \"width\": 4, "
                                      "\"blocks\": 0}", 1, 2, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    for (int stop = 1; stop <= 2; stop++) {
        wait_stepping(&h, id);
        harness_signal(&h, SIGTERM);
        assert_int_equal(harness_wait_exit(&h, 60), 0);
        assert_int_equal(harness_restart(&h, args), 0);
    }
    wait_stepping(&h, id);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- 6: pixels one job may upload ----------------------------------------- */

static void test_upload_pixels(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, "--max-pixels", "1000000",
                          "--train-upload-mpixels", "1", NULL};
    static const char config[] = "{\"name\": \"x\", \"steps\": 2, \"size\": 32}";
    Harness h;
    Reply r;
    size_t bl, sl, jl;
    uint8_t *big = harness_png(1200, 1000, &bl), *mid = harness_png(600, 600, &sl);
    uint8_t *photo = harness_jpeg(96, 80, 90, &jl);
    assert_int_equal(harness_start(&h, args), 0);
    {
        /* One picture over --max-pixels: 413, named. */
        Part parts[3] = {{"style", big, bl, "big.png", "image/png"},
                         {"content", photo, jl, "c.jpg", "image/jpeg"},
                         {"config", config, sizeof config - 1, NULL, NULL}};
        harness_post_form_headers(&h, "/train", parts, 3, train_auth, &r);
        train_expect_problem(&r, 413, "style");
        assert_non_null(strstr((const char *)r.body, "--max-pixels"));
        reply_free(&r);
    }
    {
        /* Each under it, together over --train-upload-mpixels. */
        Part parts[5] = {{"style", mid, sl, "a.png", "image/png"},
                         {"style", mid, sl, "b.png", "image/png"},
                         {"style", mid, sl, "c.png", "image/png"},
                         {"content", photo, jl, "c.jpg", "image/jpeg"},
                         {"config", config, sizeof config - 1, NULL, NULL}};
        harness_post_form_headers(&h, "/train", parts, 5, train_auth, &r);
        train_expect_problem(&r, 413, "style");
        assert_non_null(strstr((const char *)r.body, "--train-upload-mpixels"));
        reply_free(&r);
        /* Two of them fit. */
        Part two[4] = {parts[0], parts[1], parts[3], parts[4]};
        assert_int_equal(harness_post_form_headers(&h, "/train", two, 4, train_auth, &r), 202);
        reply_free(&r);
    }
    free(big);
    free(mid);
    free(photo);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- 9: refused before acting ------------------------------------------- */

static void test_refuse_before_acting(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, "--max-body-mb", "4", NULL};
    Harness h;
    Reply r;
    char id[17], head[512], *reply;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(current_version(&h, "tiny"), 1);     /* CURRENT pins v1 of 2 */
    assert_int_equal(train_submit(&h, long_job, 1, 2, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    /* An oversized declared length: 413, and the pin and the job stay. */
    snprintf(head, sizeof head, "DELETE /models/tiny/current HTTP/1.1\r\nHost: t\r\n"
             "Authorization: Bearer " TRAIN_TOKEN "\r\nContent-Length: 999999999\r\n\r\n");
    reply = raw_exchange(h.port, head, NULL, 0);
    assert_int_equal(raw_status(reply), 413);
    free(reply);
    assert_int_equal(current_version(&h, "tiny"), 1);
    snprintf(head, sizeof head, "DELETE /train/%s HTTP/1.1\r\nHost: t\r\n"
             "Authorization: Bearer " TRAIN_TOKEN "\r\nContent-Length: 999999999\r\n\r\n", id);
    reply = raw_exchange(h.port, head, NULL, 0);
    assert_int_equal(raw_status(reply), 413);
    free(reply);
    assert_string_not_equal(job_state(&h, id), "cancelled");
    /* Any body on a DELETE (chunked, which no length announces): 400, and
     * nothing done either. */
    snprintf(head, sizeof head, "DELETE /train/%s HTTP/1.1\r\nHost: t\r\n"
             "Authorization: Bearer " TRAIN_TOKEN "\r\nTransfer-Encoding: chunked\r\n\r\n", id);
    reply = raw_exchange(h.port, head, "5\r\nhello\r\n0\r\n\r\n", 15);
    assert_int_equal(raw_status(reply), 400);
    assert_non_null(strstr(reply, "DELETE takes no body"));
    free(reply);
    assert_string_not_equal(job_state(&h, id), "cancelled");
    snprintf(head, sizeof head, "DELETE /models/tiny/current HTTP/1.1\r\nHost: t\r\n"
             "Authorization: Bearer " TRAIN_TOKEN "\r\nContent-Length: 3\r\n\r\n");
    reply = raw_exchange(h.port, head, "abc", 3);
    assert_int_equal(raw_status(reply), 400);
    free(reply);
    assert_int_equal(current_version(&h, "tiny"), 1);
    /* Without a body, both act. */
    snprintf(head, sizeof head, "/train/%s", id);
    assert_int_equal(harness_request(&h, "DELETE", head, NULL, NULL, 0, train_auth, &r), 200);
    reply_free(&r);
    {
        json_t *j = train_wait(&h, id, "cancelled", 60);
        assert_non_null(j);
        json_decref(j);
    }
    assert_int_equal(harness_request(&h, "DELETE", "/models/tiny/current", NULL, NULL, 0,
                                     train_auth, &r), 200);
    reply_free(&r);
    assert_int_equal(current_version(&h, "tiny"), 2);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- 10: an empty part ---------------------------------------------------- */

static void test_empty_parts(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, NULL};
    Harness h;
    Reply r;
    size_t len;
    uint8_t *png = harness_png(120, 100, &len);
    static const char config[] = "{\"name\": \"x\", \"steps\": 2, \"size\": 32}";
    assert_int_equal(harness_start(&h, args), 0);
    {
        /* An empty content file, an empty style file, an empty config. */
        Part empty_content[3] = {{"style", png, len, "s.png", "image/png"},
                                 {"content", "", 0, "c.jpg", "image/jpeg"},
                                 {"config", config, sizeof config - 1, NULL, NULL}};
        Part empty_style[2] = {{"style", "", 0, "s.png", "image/png"},
                               {"config", config, sizeof config - 1, NULL, NULL}};
        Part empty_config[2] = {{"style", png, len, "s.png", "image/png"},
                                {"config", "", 0, NULL, NULL}};
        Part empty_first[3] = {{"content", "", 0, NULL, NULL},
                               {"style", png, len, "s.png", "image/png"},
                               {"config", config, sizeof config - 1, NULL, NULL}};
        harness_post_form_headers(&h, "/train", empty_content, 3, train_auth, &r);
        train_expect_problem(&r, 400, "content");
        reply_free(&r);
        harness_post_form_headers(&h, "/train", empty_style, 2, train_auth, &r);
        train_expect_problem(&r, 400, "style");
        reply_free(&r);
        harness_post_form_headers(&h, "/train", empty_config, 2, train_auth, &r);
        train_expect_problem(&r, 400, "config");
        reply_free(&r);
        harness_post_form_headers(&h, "/train", empty_first, 3, train_auth, &r);
        train_expect_problem(&r, 400, "content");
        reply_free(&r);
    }
    /* Nothing was queued, and the server is whole (under ASan + UBSan the
     * undefined behaviour made it abort). */
    harness_request(&h, "GET", "/train", NULL, NULL, 0, train_auth, &r);
    assert_non_null(strstr((char *)r.body, "{\"jobs\":[]}"));
    reply_free(&r);
    free(png);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- 11: validated at submission ---------------------------------------- */

static void test_submit_validation(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, NULL};
    static const char config[] = "{\"name\": \"x\", \"steps\": 2, \"size\": 32}";
    Harness h;
    Reply r;
    size_t tl, jl;
    uint8_t *thin = harness_png(1, 300, &tl), *photo = harness_jpeg(96, 80, 90, &jl);
    assert_int_equal(harness_start(&h, args), 0);
    {
        Part parts[3] = {{"style", thin, tl, "thin.png", "image/png"},
                         {"content", photo, jl, "c.jpg", "image/jpeg"},
                         {"config", config, sizeof config - 1, NULL, NULL}};
        harness_post_form_headers(&h, "/train", parts, 3, train_auth, &r);
        train_expect_problem(&r, 400, "style");
        assert_non_null(strstr((const char *)r.body, "1x300"));
        reply_free(&r);
    }
    /* The harness's paintings are 120x100: 1 % of 100 is a 1-pixel crop. */
    train_submit(&h, "{\"name\": \"x\", \"steps\": 2, \"size\": 32, "
                     "\"style_scale\": [0.01, 0.01]}", 1, 1, &r);
    train_expect_problem(&r, 400, "style_scale");
    reply_free(&r);
    /* 8 % of 100 is 8: enough. */
    assert_int_equal(train_submit(&h, "{\"name\": \"x\", \"steps\": 2, \"size\": 32, "
                                      "\"style_scale\": [0.08, 0.08], \"width\": 4, "
                                      "\"blocks\": 0}", 1, 1, &r), 202);
    {
        char id[17];
        json_t *j;
        assert_int_equal(train_id(&r, id), 0);
        j = train_wait(&h, id, "succeeded", 120);
        assert_non_null(j);
        assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
        json_decref(j);
    }
    reply_free(&r);
    free(thin);
    free(photo);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- 12: uploads of ended jobs, and retention ---------------------------- */

static int exists(const Harness *h, const char *id, const char *sub)
{
    char path[512];
    snprintf(path, sizeof path, "%s/data/jobs/%s%s%s", h->root, id, sub ? "/" : "", sub ? sub : "");
    return access(path, F_OK) == 0;
}

static void test_uploads_and_retention(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, "--train-retention-s", "2",
                          NULL};
    Harness h;
    Reply r;
    char running[17], ids[6][17], path[160];
    json_t *j;
    double until;
    assert_int_equal(harness_start(&h, args), 0);
    /* One job runs, so the others stay queued until cancelled. */
    assert_int_equal(train_submit(&h, long_job, 1, 2, &r), 202);
    assert_int_equal(train_id(&r, running), 0);
    reply_free(&r);
    /* Six submit-and-cancel cycles (they grew --data by 49 MiB): each
     * keeps its job.json, none its uploads. */
    for (int i = 0; i < 6; i++) {
        char config[128];
        snprintf(config, sizeof config, "{\"name\": \"cycle%d\", \"steps\": 5, \"size\": 32}",
                 i);
        assert_int_equal(train_submit(&h, config, 2, 3, &r), 202);
        assert_int_equal(train_id(&r, ids[i]), 0);
        reply_free(&r);
        assert_true(exists(&h, ids[i], "style"));
        snprintf(path, sizeof path, "/train/%s", ids[i]);
        assert_int_equal(harness_request(&h, "DELETE", path, NULL, NULL, 0, train_auth, &r), 200);
        reply_free(&r);
        assert_true(exists(&h, ids[i], "job.json"));
        assert_false(exists(&h, ids[i], "style"));
        assert_false(exists(&h, ids[i], "content"));
    }
    /* The running one, cancelled, ends with its uploads removed too. */
    snprintf(path, sizeof path, "/train/%s", running);
    assert_int_equal(harness_request(&h, "DELETE", path, NULL, NULL, 0, train_auth, &r), 200);
    reply_free(&r);
    j = train_wait(&h, running, "cancelled", 60);
    assert_non_null(j);
    json_decref(j);
    until = harness_now() + 30;
    while (exists(&h, running, "style") && harness_now() < until)
        usleep(50 * 1000);
    assert_false(exists(&h, running, "style"));
    assert_true(exists(&h, running, "job.json"));
    /* Past the retention, listing forgets them all: 404, folders gone. */
    until = harness_now() + 30;
    for (;;) {
        harness_request(&h, "GET", "/train", NULL, NULL, 0, train_auth, &r);
        int empty = r.body && strstr((const char *)r.body, "{\"jobs\":[]}") != NULL;
        reply_free(&r);
        if (empty || harness_now() > until)
            break;
        usleep(200 * 1000);
    }
    for (int i = 0; i < 6; i++)
        assert_false(exists(&h, ids[i], NULL));
    assert_false(exists(&h, running, NULL));
    snprintf(path, sizeof path, "/train/%s", ids[0]);
    assert_int_equal(harness_request(&h, "GET", path, NULL, NULL, 0, train_auth, &r), 404);
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- 15: no internal paths in open answers ---------------------------- */

/* Fails when text holds an absolute path of this machine. */
static void no_paths(const char *what, const char *text, const Harness *h)
{
    static const char *const marks[] = {"/tmp/", "/work/", "/srv/", "/data/jobs"};
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (strstr(text, marks[i]) || strstr(text, h->root)) {
            print_error("%s shows a path (%s): %s\n", what, marks[i], text);
            fail();
        }
}

static void test_card_paths(void **state)
{
    const char *args[] = {"--workers", "1", NULL};
    Harness h;
    Reply r;
    char dir[400], path[460];
    FILE *f;
    double until;
    assert_int_equal(harness_start(&h, args), 0);
    /* A model whose card an older trainer wrote, on this machine. */
    snprintf(dir, sizeof dir, "%s/oldcard", h.models);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/card.json", dir);
    assert_non_null(f = fopen(path, "w"));
    fprintf(f, "{\"name\": \"oldcard\", \"training\": {\"command\": \"atelier train "
               "--style %s/data/jobs/ab12/style/0.png --content /srv/photos --models %s "
               "--name oldcard\", \"content\": \"/srv/photos\", \"styles\": "
               "[\"/work/shared/data/style/x.jpg\"]}}", h.root, h.models);
    fclose(f);
    snprintf(path, sizeof path, "%s/v1.safetensors", dir);
    assert_int_equal(harness_write_tiny_model(path, 3), 0);
    /* The repository is watched: wait until the model is listed. */
    until = harness_now() + 30;
    while (harness_get(&h, "/models/oldcard", &r) != 200 && harness_now() < until) {
        reply_free(&r);
        usleep(50 * 1000);
    }
    assert_int_equal(r.status, 200);
    no_paths("GET /models/oldcard", (const char *)r.body, &h);
    assert_non_null(strstr((const char *)r.body, "--style 0.png --content photos"));
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models", &r), 200);
    no_paths("GET /models", (const char *)r.body, &h);
    reply_free(&r);
    /* A version that does not load: its error names the file, not where. */
    assert_int_equal(harness_get(&h, "/models/broken", &r), 200);
    no_paths("GET /models/broken", (const char *)r.body, &h);
    assert_non_null(strstr((const char *)r.body, "\"error\""));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_paths),
        cmocka_unit_test(test_upload_pixels),
        cmocka_unit_test(test_uploads_and_retention),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_crash_loop),
        cmocka_unit_test(test_submit_validation),
        cmocka_unit_test(test_refuse_before_acting),
        cmocka_unit_test(test_empty_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
