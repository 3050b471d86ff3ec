/* test_gate.c: training that cannot hurt production (issue 16), against
 * the real server on port 0: the explicit default model, a 404 that lists
 * the models, and (below) names, candidates, the gate and the canary. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/http/server_harness.h"
#include "tests/http/train_util.h"

static const char *const auth_json[] = {"Authorization: Bearer " TRAIN_TOKEN,
                                        "Content-Type: application/json", NULL};

static int start(Harness *h, const char *default_model)
{
    const char *args[] = {"--workers", "2", "--token", TRAIN_TOKEN, "--rescan-ms", "300",
                          "--default-model", default_model, NULL};
    if (harness_start(h, args) || harness_wait_ready(h, 60))
        return -1;
    return 0;
}

static json_t *get_json(const Harness *h, const char *path, long want)
{
    Reply r;
    long st = harness_get(h, path, &r);
    if (st != want)
        print_error("GET %s: %ld, want %ld: %.*s\n", path, st, want, (int)r.len, r.body);
    assert_int_equal(st, want);
    json_t *j = train_json_of(&r);
    reply_free(&r);
    return j;
}

/* POST /stylize?QUERY with a small JPEG; the reply in r. */
static long stylize(const Harness *h, const char *query, Reply *r)
{
    size_t len;
    uint8_t *jpg = harness_jpeg(48, 32, 90, &len);
    char path[256];
    snprintf(path, sizeof path, "/stylize%s%s", *query ? "?" : "", query);
    long st = harness_request(h, "POST", path, "image/jpeg", jpg, len, NULL, r);
    free(jpg);
    return st;
}

static long put_default(const Harness *h, const char *body, const char *const *headers, Reply *r)
{
    return harness_request(h, "PUT", "/models/default", NULL, body, strlen(body), headers, r);
}

static void expect_detail(const Reply *r, const char *part)
{
    json_t *j = train_json_of(r);
    const char *d = json_string_value(json_object_get(j, "detail"));
    if (!d || !strstr(d, part))
        print_error("detail '%s' lacks '%s'\n", d ? d : "(none)", part);
    assert_non_null(d);
    assert_non_null(strstr(d, part));
    json_decref(j);
}

/* The default model is explicit: with several models and no flag and no
 * DEFAULT file there is none (never the first by name); PUT /models/default
 * writes DEFAULT, which a restart reads back; GET /models says which and
 * from where. */
static void test_default_model(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    char v[128], path[400];
    assert_int_equal(start(&h, "tnet"), 0);
    json_t *j = get_json(&h, "/models", 200);
    assert_string_equal(json_string_value(json_object_get(j, "default")), "tnet");
    assert_string_equal(json_string_value(json_object_get(j, "default_from")), "flag");
    json_decref(j);
    assert_int_equal(harness_stop(&h), 0);

    assert_int_equal(harness_start(&h, (const char *[]){"--token", TRAIN_TOKEN, "--default-model",
                                                         "", NULL}), 0);
    j = get_json(&h, "/models/default", 200);
    assert_true(json_is_null(json_object_get(j, "default")));
    assert_string_equal(json_string_value(json_object_get(j, "from")), "none");
    json_decref(j);
    /* No default: a request that names no model is told to name one, and
     * which there are. */
    assert_int_equal(stylize(&h, "", &r), 400);
    expect_detail(&r, "broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"model\":\"tiny\"}", NULL, &r), 401);
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"model\":\"wave\"}", auth_json, &r), 404);
    expect_detail(&r, "the models are: broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"name\":\"tiny\"}", auth_json, &r), 400);
    reply_free(&r);
    assert_int_equal(put_default(&h, "{\"model\":\"tiny\"}", auth_json, &r), 200);
    reply_free(&r);
    assert_int_equal(stylize(&h, "", &r), 200);
    assert_string_equal(reply_header(&r, "X-Atelier-Model", v, sizeof v), "tiny/v1");
    reply_free(&r);
    snprintf(path, sizeof path, "%s/DEFAULT", h.models);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(v, sizeof v, f));
    fclose(f);
    assert_string_equal(v, "tiny\n");
    harness_signal(&h, SIGTERM);
    assert_int_equal(harness_wait_exit(&h, 30), 0);
    assert_int_equal(harness_restart(&h, (const char *[]){"--default-model", "", NULL}), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    j = get_json(&h, "/models", 200);
    assert_string_equal(json_string_value(json_object_get(j, "default")), "tiny");
    assert_string_equal(json_string_value(json_object_get(j, "default_from")), "file");
    json_decref(j);
    assert_int_equal(harness_stop(&h), 0);
}

/* An unknown model is a 404 that lists the models there are, for
 * /stylize and for GET /models/{name}. */
static void test_unknown_model_lists(void **state)
{
    (void)state;
    Harness h;
    Reply r;
    assert_int_equal(start(&h, "tnet"), 0);
    assert_int_equal(stylize(&h, "model=wave", &r), 404);
    expect_detail(&r, "no model 'wave'; the models are: broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/wave", &r), 404);
    expect_detail(&r, "the models are: broken, tiny, tnet");
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_model),
        cmocka_unit_test(test_unknown_model_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
