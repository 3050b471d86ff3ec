/* test_jobs.c: the findings of issue 15 about the management routes and
 * training jobs, against the real server:
 *   9  a DELETE with an oversized Content-Length (or any body) is refused
 *      before it unpins or cancels anything;
 *   10 an empty part in POST /train is refused with 400 (the undefined
 *      behaviour it caused is in tests/fuzz/regress/fuzz_form too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refuse_before_acting),
        cmocka_unit_test(test_empty_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
