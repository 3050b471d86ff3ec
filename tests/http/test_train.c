/* test_train.c: /train end to end against the real server: a tiny job
 * that succeeds, publishes versions and is then served; validation of the
 * form and the config; cancelling; the bounded queue; and kill -9 during
 * a checkpoint write and during a job, after which no partial version is
 * served and the job resumes and finishes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/http/train_util.h"

static const char *const server_args[] = {"--workers", "2", "--token", TRAIN_TOKEN,
                                          TRAIN_GATE_OPEN, NULL};

static const char tiny_config[] =
    "{\"name\": \"painted\", \"promote\": \"each\", \"steps\": 6, \"size\": 64, \"checkpoint_every\": 2, "
    "\"width\": 8, \"blocks\": 1}";

/* Prints label and the JSON value compactly. */
static void show(const char *label, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    printf("%s %s\n", label, text ? text : "?");
    free(text);
}

static void test_tiny_job(void **state)
{
    Harness h;
    Reply r;
    char id[17], loc[64], path[64];
    json_t *job, *vs;
    assert_int_equal(harness_start(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(train_submit(&h, tiny_config, 1, 8, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    assert_non_null(reply_header(&r, "Location", loc, sizeof loc));
    snprintf(path, sizeof path, "/train/%s", id);
    assert_string_equal(loc, path);
    reply_free(&r);
    job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(job, "step")), 6);
    vs = json_object_get(job, "versions");
    show("tiny job published versions", vs);
    assert_int_equal(json_array_size(vs), 3);
    assert_int_equal(json_integer_value(json_array_get(vs, 2)), 3);
    json_decref(job);
    /* The newest version is served. */
    assert_int_equal(train_served_version(&h, "painted"), 3);
    snprintf(path, sizeof path, "/train/%s/preview", id);
    assert_int_equal(harness_request(&h, "GET", path, NULL, NULL, 0, train_auth, &r), 200);
    assert_true(r.len > 100 && r.body[0] == 0xFF && r.body[1] == 0xD8);
    reply_free(&r);
    /* Listed, and counted. */
    assert_int_equal(harness_request(&h, "GET", "/train", NULL, NULL, 0, train_auth, &r), 200);
    job = train_json_of(&r);
    assert_int_equal(json_array_size(json_object_get(job, "jobs")), 1);
    json_decref(job);
    reply_free(&r);
    harness_get(&h, "/metrics", &r);
    assert_non_null(strstr((char *)r.body, "atelier_train_versions_published_total 3"));
    assert_non_null(strstr((char *)r.body, "atelier_train_jobs{state=\"succeeded\"} 1"));
    reply_free(&r);
    /* Fine-tuning from it, from the starry_night preset (the settings given
     * override it), with the Gabor style loss and the Gaussian content. */
    assert_int_equal(train_submit(&h, "{\"name\": \"painted2\", \"promote\": \"each\", "
                                      "\"preset\": \"starry_night\", "
                                      "\"w_gabor\": 0.5, \"gabor_levels\": [1, 1, 0.5], "
                                      "\"content_filter\": \"gauss\", \"steps\": 2, \"size\": 64, "
                                      "\"width\": 8, \"blocks\": 1, \"init\": \"painted\", "
                                      "\"style_loss\": \"swd\", \"style_scale\": [0.2, 0.5], "
                                      "\"content_pool\": 2, \"style_depth\": 5, "
                                      "\"style_levels\": [1, 0, 0.5, 1, 1, 2], "
                                      "\"w_structure\": 2, \"structure_depth\": 2}",
                                  1, 8, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(job, "config"),
                                                        "init_version")), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(job, "config"),
                                                          "style_loss")), "swd");
    /* The preset's own values where none was given; no "preset" stored. */
    assert_true(json_real_value(json_object_get(json_object_get(job, "config"), "w_content")) == 40);
    assert_true(fabs(json_real_value(json_object_get(json_object_get(job, "config"), "w_adv")) -
                     0.3) < 1e-9);
    assert_null(json_object_get(json_object_get(job, "config"), "preset"));
    json_decref(job);
    assert_int_equal(train_served_version(&h, "painted2"), 1);
    /* The published card says how it was trained. */
    assert_int_equal(harness_request(&h, "GET", "/models/painted2", NULL, NULL, 0, NULL, &r), 200);
    printf("%.*s\n", (int)(r.len < 600 ? r.len : 600), (char *)r.body);
    assert_non_null(strstr((char *)r.body, "\"style_loss\":\"swd\""));
    assert_non_null(strstr((char *)r.body, "\"content_pool\":2"));
    assert_non_null(strstr((char *)r.body, "\"style_depth\":5"));
    assert_non_null(strstr((char *)r.body, "\"style_levels\":[1.0,0.0,0.5,1.0,1.0,2.0]"));
    assert_non_null(strstr((char *)r.body, "\"w_structure\":2.0"));
    assert_non_null(strstr((char *)r.body, "\"structure_depth\":2"));
    assert_non_null(strstr((char *)r.body, "\"w_gabor\":0.5"));
    assert_non_null(strstr((char *)r.body, "\"gabor_levels\":[1.0,1.0,0.5]"));
    assert_non_null(strstr((char *)r.body, "\"content_filter\":\"gauss\""));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_validation(void **state)
{
    static const struct {
        const char *config, *param;
    } bad[] = {
        {"{\"steps\": 5}", "name"},
        {"{\"name\": \"Bad Name\"}", "name"},
        {"{\"name\": \"x\", \"stepz\": 5}", "stepz"},
        {"{\"name\": \"x\", \"steps\": 0}", "steps"},
        {"{\"name\": \"x\", \"steps\": 2000000}", "steps"},
        {"{\"name\": \"x\", \"size\": 66}", "size"},
        {"{\"name\": \"x\", \"size\": 8}", "size"},
        {"{\"name\": \"x\", \"batch\": \"2\"}", "batch"},
        {"{\"name\": \"x\", \"lr\": -1}", "lr"},
        {"{\"name\": \"x\", \"w_style\": \"a lot\"}", "w_style"},
        {"{\"name\": \"x\", \"steps\": 10, \"checkpoint_every\": 11}", "checkpoint_every"},
        {"{\"name\": \"x\", \"init\": \"nope\"}", "init"},
        {"{\"name\": \"x\", \"init\": \"../tiny\"}", "init"},
        {"{\"name\": \"x\", \"init_version\": 3}", "init_version"},
        {"{\"name\": \"x\", \"style_loss\": \"vgg\"}", "style_loss"},
        {"{\"name\": \"x\", \"style_loss\": 1}", "style_loss"},
        {"{\"name\": \"x\", \"style_scale\": [0.6, 0.2]}", "style_scale"},
        {"{\"name\": \"x\", \"style_scale\": [0, 0.2]}", "style_scale"},
        {"{\"name\": \"x\", \"style_scale\": \"big\"}", "style_scale"},
        {"{\"name\": \"x\", \"style_scale\": [0.2, 0.3, 0.4]}", "style_scale"},
        {"{\"name\": \"x\", \"content_pool\": 3}", "content_pool"},
        {"{\"name\": \"x\", \"content_pool\": 0}", "content_pool"},
        {"{\"name\": \"x\", \"style_depth\": 7}", "style_depth"},
        {"{\"name\": \"x\", \"size\": 32, \"style_depth\": 6}", "style_depth"},
        {"{\"name\": \"x\", \"style_levels\": [1, 1]}", "style_levels"},
        {"{\"name\": \"x\", \"style_levels\": [1, 1, 1, 1, -1]}", "style_levels"},
        {"{\"name\": \"x\", \"style_levels\": \"flat\"}", "style_levels"},
        {"{\"name\": \"x\", \"w_structure\": -1}", "w_structure"},
        {"{\"name\": \"x\", \"structure_depth\": 0}", "structure_depth"},
        {"{\"name\": \"x\", \"preset\": \"nope\"}", "preset"},
        {"{\"name\": \"x\", \"preset\": 3}", "preset"},
        {"{\"name\": \"x\", \"w_gabor\": -1}", "w_gabor"},
        {"{\"name\": \"x\", \"gabor_levels\": [1, 1, 1, 1, 1, 1, 1]}", "gabor_levels"},
        {"{\"name\": \"x\", \"size\": 32, \"w_gabor\": 1}", "gabor_levels"},
        {"{\"name\": \"x\", \"content_filter\": \"median\"}", "content_filter"},
        {"[1, 2]", "config"},
        {"{not json", "config"},
    };
    Harness h;
    Reply r;
    Part junk = {"style", "not an image", 12, "x.png", "image/png"};
    Part other = {"favourite", "x", 1, NULL, NULL};
    assert_int_equal(harness_start(&h, server_args), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        train_submit(&h, bad[i].config, 1, 1, &r);
        train_expect_problem(&r, 400, bad[i].param);
        reply_free(&r);
    }
    train_submit(&h, NULL, 1, 1, &r);
    train_expect_problem(&r, 400, "config");
    reply_free(&r);
    train_submit(&h, "{\"name\": \"x\"}", 0, 1, &r);
    train_expect_problem(&r, 400, "style");
    reply_free(&r);
    train_submit(&h, "{\"name\": \"x\"}", 1, 0, &r);   /* no --content folder */
    train_expect_problem(&r, 400, "content");
    reply_free(&r);
    harness_post_form_headers(&h, "/train", &junk, 1, train_auth, &r);
    train_expect_problem(&r, 400, "config");
    reply_free(&r);
    {
        Part parts[2] = {junk, {"config", "{\"name\": \"x\"}", 13, NULL, NULL}};
        harness_post_form_headers(&h, "/train", parts, 2, train_auth, &r);
        train_expect_problem(&r, 400, "style");
        reply_free(&r);
        parts[0] = other;
        harness_post_form_headers(&h, "/train", parts, 2, train_auth, &r);
        train_expect_problem(&r, 400, "favourite");
        reply_free(&r);
    }
    harness_request(&h, "POST", "/train", "application/json", "{}", 2, train_auth, &r);
    train_expect_problem(&r, 415, NULL);
    reply_free(&r);
    harness_request(&h, "GET", "/train/0123456789abcdef", NULL, NULL, 0, train_auth, &r);
    train_expect_problem(&r, 404, NULL);
    reply_free(&r);
    harness_request(&h, "DELETE", "/train/..%2f..", NULL, NULL, 0, train_auth, &r);
    train_expect_problem(&r, 400, NULL);
    reply_free(&r);
    harness_request(&h, "GET", "/train/0123456789abcdef/preview", NULL, NULL, 0, train_auth, &r);
    train_expect_problem(&r, 404, NULL);
    reply_free(&r);
    /* Nothing was queued. */
    harness_request(&h, "GET", "/train", NULL, NULL, 0, train_auth, &r);
    assert_non_null(strstr((char *)r.body, "{\"jobs\":[]}"));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_cancel_and_full_queue(void **state)
{
    const char *args[] = {"--workers", "1", "--token", TRAIN_TOKEN, "--train-queue", "1",
                          TRAIN_GATE_OPEN, NULL};
    Harness h;
    Reply r;
    char a[17], b[17], path[64];
    json_t *job;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(train_submit(&h, "{\"name\": \"long\", \"promote\": \"each\", "
                                      "\"steps\": 100000, \"size\": 32, "
                                      "\"checkpoint_every\": 100000, \"width\": 4, "
                                      "\"blocks\": 0}", 1, 2, &r), 202);
    assert_int_equal(train_id(&r, a), 0);
    reply_free(&r);
    job = train_wait(&h, a, "running", 60);
    assert_non_null(job);
    json_decref(job);
    /* One more may wait; the next is refused. */
    assert_int_equal(train_submit(&h, "{\"name\": \"second\", \"steps\": 5, \"size\": 32}", 1, 2,
                                  &r), 202);
    assert_int_equal(train_id(&r, b), 0);
    reply_free(&r);
    train_submit(&h, "{\"name\": \"third\", \"steps\": 5, \"size\": 32}", 1, 2, &r);
    train_expect_problem(&r, 503, NULL);
    {
        char ra[16];
        assert_non_null(reply_header(&r, "Retry-After", ra, sizeof ra));
    }
    reply_free(&r);
    /* A second job for a model being trained is refused. */
    train_submit(&h, "{\"name\": \"long\", \"steps\": 5, \"size\": 32}", 1, 2, &r);
    train_expect_problem(&r, 400, "name");
    reply_free(&r);
    /* Cancel the queued one: at once. */
    snprintf(path, sizeof path, "/train/%s", b);
    assert_int_equal(harness_request(&h, "DELETE", path, NULL, NULL, 0, train_auth, &r), 200);
    job = train_json_of(&r);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "cancelled");
    json_decref(job);
    reply_free(&r);
    /* Cancel the running one: it stops at its next step with a checkpoint. */
    snprintf(path, sizeof path, "/train/%s", a);
    assert_int_equal(harness_request(&h, "DELETE", path, NULL, NULL, 0, train_auth, &r), 200);
    reply_free(&r);
    job = train_wait(&h, a, "cancelled", 60);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "cancelled");
    assert_int_equal(json_array_size(json_object_get(job, "versions")), 1);
    printf("cancelled at step %lld\n",
           (long long)json_integer_value(json_object_get(job, "step")));
    json_decref(job);
    assert_int_equal(train_served_version(&h, "long"), 1);
    harness_get(&h, "/metrics", &r);
    assert_non_null(strstr((char *)r.body, "atelier_train_jobs{state=\"cancelled\"} 2"));
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

/* ---- kill -9 -------------------------------------------------------------- */

/* 1 when the model folder holds a version being written (its temporary
 * file). */
static int writing(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int hit = 0;
    if (!d)
        return 0;
    while (!hit && (e = readdir(d)))
        hit = !strncmp(e->d_name, ".v", 2) && strstr(e->d_name, ".safetensors.tmp");
    closedir(d);
    return hit;
}

/* No version of the model failed to load (a partial file would), and the
 * newest one listed is served; or, before its first checkpoint, the model
 * is unknown. */
static void check_versions_serve(const Harness *h, const char *name)
{
    char path[128];
    Reply r;
    json_t *m, *vs;
    snprintf(path, sizeof path, "/models/%s", name);
    if (harness_get(h, path, &r) == 404) {
        reply_free(&r);
        printf("no version of %s yet\n", name);
        return;
    }
    assert_int_equal(r.status, 200);
    m = train_json_of(&r);
    reply_free(&r);
    if (json_object_get(m, "error")) {
        print_error("%s: %s\n", name, json_string_value(json_object_get(m, "error")));
        fail();
    }
    vs = json_object_get(m, "versions");
    show("after restart the model has versions", vs);
    assert_int_equal(train_served_version(h, name),
                     (int)json_integer_value(json_array_get(vs, json_array_size(vs) - 1)));
    json_decref(m);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_kill_and_resume(void **state)
{
    static const char config[] =
        "{\"name\": \"sturdy\", \"promote\": \"each\", \"steps\": 15, \"size\": 48, \"checkpoint_every\": 3, "
        "\"width\": 16, \"blocks\": 3}";
    Harness h;
    Reply r;
    char id[17], dir[400];
    json_t *job;
    int caught = 0;
    double end;
    assert_int_equal(harness_start(&h, server_args), 0);
    snprintf(dir, sizeof dir, "%s/sturdy", h.models);
    assert_int_equal(train_submit(&h, config, 1, 8, &r), 202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    /* 1: kill -9 while a checkpoint is being written. */
    for (end = harness_now() + 60; harness_now() < end && !caught;)
        caught = writing(dir);
    harness_signal(&h, SIGKILL);
    assert_int_equal(harness_wait_exit(&h, 10), 128 + SIGKILL);
    printf("killed %s a checkpoint write\n", caught ? "during" : "(not caught in) ");
    assert_int_equal(harness_restart(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    check_versions_serve(&h, "sturdy");
    /* 2: kill -9 in the middle of the resumed job, once its step has moved
     * on from where it was when seen running (waited for, not slept for:
     * a loaded machine may take long). */
    job = train_wait(&h, id, "running", 60);
    assert_non_null(job);
    json_int_t resumed_at = json_integer_value(json_object_get(job, "step")), step = resumed_at;
    json_decref(job);
    for (end = harness_now() + 120; step <= resumed_at && harness_now() < end; usleep(20 * 1000)) {
        job = train_get(&h, id);
        step = json_integer_value(json_object_get(job, "step"));
        json_decref(job);
    }
    printf("resumed at step %lld, killed at %lld\n", (long long)resumed_at, (long long)step);
    assert_true(step > resumed_at);
    harness_signal(&h, SIGKILL);
    assert_int_equal(harness_wait_exit(&h, 10), 128 + SIGKILL);
    /* What other kills can leave: an upload stored without its job.json,
     * and a temporary job.json beside the real one. The restart removes
     * both and keeps the job. */
    char orphan[400], tmp[600];
    snprintf(orphan, sizeof orphan, "%s/data/jobs/0123456789abcdef", h.root);
    assert_int_equal(mkdir(orphan, 0755), 0);
    snprintf(tmp, sizeof tmp, "%s/style", orphan);
    assert_int_equal(mkdir(tmp, 0755), 0);
    snprintf(tmp, sizeof tmp, "%s/style/1.jpg", orphan);
    write_file(tmp, "not yet checked", 15);
    snprintf(tmp, sizeof tmp, "%s/data/jobs/%s/.job.json.tmpAbC123", h.root, id);
    write_file(tmp, "{\"state\": \"runn", 15);
    assert_int_equal(harness_restart(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(access(orphan, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);
    check_versions_serve(&h, "sturdy");
    job = train_wait(&h, id, "succeeded", 180);
    assert_non_null(job);
    assert_string_equal(json_string_value(json_object_get(job, "state")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(job, "step")), 15);
    show("resumed job finished; versions", json_object_get(job, "versions"));
    {
        json_t *vs = json_object_get(job, "versions");
        int last = (int)json_integer_value(json_array_get(vs, json_array_size(vs) - 1));
        assert_int_equal(train_served_version(&h, "sturdy"), last);
    }
    json_decref(job);
    {
        char *log = harness_log_text(&h);
        assert_non_null(strstr(log, "training job resumes"));
        free(log);
    }
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_job),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_cancel_and_full_queue),
        cmocka_unit_test(test_kill_and_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
