/* test_web.c: what the studio needs from the server, over HTTP against the
 * real `atelier serve`: the embedded page (Content-Type, ETag and 304, the
 * gzip copy, CSP and nosniff, --ui off), the per-version thumbnail (painted
 * once, then read from its cache), POST /stylize?version=N, the "pinned"
 * member, and a training job's history and per-checkpoint previews, also
 * after a restart. The browser tests (tests/web/) drive the page itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>

#include "tests/http/train_util.h"

static const char *const server_args[] = {"--workers", "2", "--token", TRAIN_TOKEN, NULL};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static void expect_header(const Reply *r, const char *name, const char *value)
{
    char buf[512];
    const char *v = reply_header(r, name, buf, sizeof buf);
    if (!v || (value && strcmp(v, value)))
        fail_msg("%s: '%s', expected '%s'", name, v ? v : "(absent)", value ? value : "(any)");
}

static void test_page(void **state)
{
    Harness h;
    Reply r;
    size_t len;
    char *index = read_file("web/index.html", &len), etag[64], csp[512];
    const char *const gzip[] = {"Accept-Encoding: br, gzip", NULL};
    const char *const no_gzip[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    const char *match[] = {NULL, NULL};
    char inm[128];   /* the prefix (34) and any etag[64] fit */
    assert_int_equal(harness_start(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(harness_get(&h, "/", &r), 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, index, len);
    expect_header(&r, "Content-Type", "text/html; charset=utf-8");
    expect_header(&r, "Cache-Control", "no-cache");
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    expect_header(&r, "Vary", "Accept-Encoding");
    assert_non_null(reply_header(&r, "Content-Security-Policy", csp, sizeof csp));
    assert_non_null(strstr(csp, "script-src 'self'"));
    assert_null(strstr(csp, "unsafe-inline"));
    assert_non_null(reply_header(&r, "ETag", etag, sizeof etag));
    assert_true(strlen(etag) == 18 && etag[0] == '"');
    reply_free(&r);
    /* Revalidation: 304 without a body, for the same representation. */
    snprintf(inm, sizeof inm, "If-None-Match: \"0000000000000000\", %s", etag);
    match[0] = inm;
    assert_int_equal(harness_request(&h, "GET", "/", NULL, NULL, 0, match, &r), 304);
    assert_int_equal(r.len, 0);
    reply_free(&r);
    /* The gzip copy when accepted, with its own ETag; plain when refused. */
    assert_int_equal(harness_request(&h, "GET", "/", NULL, NULL, 0, gzip, &r), 200);
    expect_header(&r, "Content-Encoding", "gzip");
    assert_true(r.len < len && r.body[0] == 0x1f && r.body[1] == 0x8b);
    assert_non_null(reply_header(&r, "ETag", inm, sizeof inm));
    assert_string_not_equal(inm, etag);
    reply_free(&r);
    assert_int_equal(harness_request(&h, "GET", "/", NULL, NULL, 0, no_gzip, &r), 200);
    assert_int_equal(r.len, len);
    assert_null(reply_header(&r, "Content-Encoding", inm, sizeof inm));
    reply_free(&r);
    /* The modules, the icon and the sample photo, each with its type. */
    assert_int_equal(harness_get(&h, "/ui/app.js", &r), 200);
    expect_header(&r, "Content-Type", "text/javascript; charset=utf-8");
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/ui/icon.svg", &r), 200);
    expect_header(&r, "Content-Type", "image/svg+xml");
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/ui/sample.jpg", &r), 200);
    expect_header(&r, "Content-Type", "image/jpeg");
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/ui/nothing.js", &r), 404);
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/ui/", &r), 404);
    reply_free(&r);
    assert_int_equal(harness_request(&h, "POST", "/", "text/plain", "x", 1, NULL, &r), 405);
    reply_free(&r);
    /* The API's own answers are not cached and are not sniffed either. */
    assert_int_equal(harness_get(&h, "/models", &r), 200);
    expect_header(&r, "Cache-Control", "no-store");
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
    free(index);
}

static void test_ui_off(void **state)
{
    Harness h;
    Reply r;
    const char *const args[] = {"--ui", "off", NULL};
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(harness_get(&h, "/", &r), 404);
    assert_non_null(strstr((char *)r.body, "--ui off"));
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/ui/app.js", &r), 404);
    reply_free(&r);
    /* The API is unchanged; the thumbnail still paints. */
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail", &r), 200);
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

/* The only file in <data>/thumbnails/<name>/, into out. */
static int thumbnail_file(const Harness *h, const char *name, char *out, size_t len)
{
    char cmd[600];
    FILE *p;
    int n = 0;
    snprintf(cmd, sizeof cmd, "ls %s/data/thumbnails/%s 2>/dev/null", h->root, name);
    p = popen(cmd, "r");
    while (p && fgets(out, (int)len, p))
        n++;
    if (p)
        pclose(p);
    out[strcspn(out, "\n")] = '\0';
    return n;
}

static void test_thumbnail(void **state)
{
    Harness h;
    Reply r;
    char file[256], path[700];
    uint8_t *marker;
    size_t mlen;
    FILE *f;
    assert_int_equal(harness_start(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    /* tiny's CURRENT pins v1: its thumbnail, our sample photo's size. */
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail", &r), 200);
    expect_header(&r, "Content-Type", "image/jpeg");
    expect_header(&r, "X-Atelier-Model", "tiny/v1");
    assert_true(r.len > 100 && r.body[0] == 0xFF && r.body[1] == 0xD8);
    reply_free(&r);
    assert_int_equal(thumbnail_file(&h, "tiny", file, sizeof file), 1);
    assert_int_equal(strncmp(file, "v1-", 3), 0);
    /* Made once: the next request reads the cached file (replaced here by
     * another picture, which comes back). */
    marker = harness_jpeg(40, 30, 90, &mlen);
    snprintf(path, sizeof path, "%s/data/thumbnails/tiny/%s", h.root, file);
    assert_non_null(f = fopen(path, "wb"));
    assert_int_equal(fwrite(marker, 1, mlen, f), mlen);
    fclose(f);
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail?version=1", &r), 200);
    assert_int_equal(r.len, mlen);
    assert_memory_equal(r.body, marker, mlen);
    expect_header(&r, "X-Atelier-Model", "tiny/v1");
    reply_free(&r);
    free(marker);
    /* Another version: painted by it, while v1 stays served. */
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail?version=2", &r), 200);
    expect_header(&r, "X-Atelier-Model", "tiny/v2");
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/tiny", &r), 200);
    assert_non_null(strstr((char *)r.body, "\"current\":1"));
    assert_non_null(strstr((char *)r.body, "\"pinned\":1"));
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/tnet", &r), 200);
    assert_non_null(strstr((char *)r.body, "\"pinned\":null"));
    reply_free(&r);
    /* Refusals. */
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail?version=9", &r), 404);
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail?version=x", &r), 400);
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/tiny/thumbnail?size=9", &r), 400);
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/nope/thumbnail", &r), 404);
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/models/broken/thumbnail?version=1", &r), 500);
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_stylize_version(void **state)
{
    Harness h;
    Reply r;
    size_t len;
    uint8_t *png = harness_png(40, 30, &len);
    assert_int_equal(harness_start(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(harness_request(&h, "POST", "/stylize?model=tiny&version=2", "image/png", png,
                                     len, NULL, &r), 200);
    expect_header(&r, "X-Atelier-Model", "tiny/v2");
    reply_free(&r);
    assert_int_equal(harness_request(&h, "POST", "/stylize?model=tiny&version=1", "image/png", png,
                                     len, NULL, &r), 200);
    expect_header(&r, "X-Atelier-Model", "tiny/v1");
    reply_free(&r);
    /* Served is still v1; a version that does not exist is named. */
    assert_int_equal(harness_request(&h, "POST", "/stylize?model=tiny", "image/png", png, len,
                                     NULL, &r), 200);
    expect_header(&r, "X-Atelier-Model", "tiny/v1");
    reply_free(&r);
    harness_request(&h, "POST", "/stylize?model=tiny&version=7", "image/png", png, len, NULL, &r);
    train_expect_problem(&r, 404, "version");
    reply_free(&r);
    harness_request(&h, "POST", "/stylize?model=tiny&version=0", "image/png", png, len, NULL, &r);
    train_expect_problem(&r, 400, "version");
    reply_free(&r);
    assert_int_equal(harness_stop(&h), 0);
    free(png);
}

static json_t *get_json(const Harness *h, const char *path)
{
    Reply r;
    json_t *j;
    assert_int_equal(harness_request(h, "GET", path, NULL, NULL, 0, train_auth, &r), 200);
    j = train_json_of(&r);
    reply_free(&r);
    return j;
}

static void test_history(void **state)
{
    Harness h;
    Reply r;
    char id[17], path[96];
    json_t *job, *hist, *points, *cps, *again;
    assert_int_equal(harness_start(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(train_submit(&h,
                                  "{\"name\": \"curve\", \"steps\": 6, \"size\": 32, "
                                  "\"checkpoint_every\": 3, \"width\": 8, \"blocks\": 1}",
                                  1, 8, &r),
                     202);
    assert_int_equal(train_id(&r, id), 0);
    reply_free(&r);
    job = train_wait(&h, id, "succeeded", 120);
    assert_non_null(job);
    snprintf(path, sizeof path, "/train/%s/history", id);
    hist = get_json(&h, path);
    points = json_object_get(hist, "points");
    cps = json_object_get(hist, "checkpoints");
    /* One point a step, every loss in it; a checkpoint per version. */
    assert_int_equal(json_array_size(points), 6);
    for (size_t i = 0; i < 6; i++) {
        json_t *p = json_array_get(points, i);
        assert_int_equal(json_integer_value(json_object_get(p, "step")), (json_int_t)i + 1);
        assert_true(json_is_number(json_object_get(p, "style")));
        assert_true(json_is_number(json_object_get(p, "d")));
    }
    assert_int_equal(json_array_size(cps), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(cps, 0), "step")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(cps, 1), "version")),
                     json_integer_value(json_array_get(json_object_get(job, "versions"), 1)));
    /* Only what came after a step. */
    snprintf(path, sizeof path, "/train/%s/history?since=4", id);
    again = get_json(&h, path);
    assert_int_equal(json_array_size(json_object_get(again, "points")), 2);
    assert_int_equal(json_array_size(json_object_get(again, "checkpoints")), 1);
    json_decref(again);
    /* Each checkpoint's preview; none for a version not the job's. */
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "/train/%s/preview?version=%lld", id,
                 (long long)json_integer_value(json_object_get(json_array_get(cps, i), "version")));
        assert_int_equal(harness_request(&h, "GET", path, NULL, NULL, 0, train_auth, &r), 200);
        assert_true(r.len > 100 && r.body[0] == 0xFF);
        reply_free(&r);
    }
    snprintf(path, sizeof path, "/train/%s/preview?version=99", id);
    assert_int_equal(harness_request(&h, "GET", path, NULL, NULL, 0, train_auth, &r), 404);
    reply_free(&r);
    snprintf(path, sizeof path, "/train/%s/history?since=-3", id);
    assert_int_equal(harness_request(&h, "GET", path, NULL, NULL, 0, train_auth, &r), 400);
    reply_free(&r);
    assert_int_equal(harness_get(&h, "/train/0123456789abcdef/history", &r), 401);
    reply_free(&r);
    /* Kept across a restart. */
    harness_signal(&h, SIGTERM);
    assert_int_equal(harness_wait_exit(&h, 30), 0);
    assert_int_equal(harness_restart(&h, server_args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    snprintf(path, sizeof path, "/train/%s/history", id);
    again = get_json(&h, path);
    assert_true(json_equal(again, hist));
    json_decref(again);
    json_decref(hist);
    json_decref(job);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_ui_off),
        cmocka_unit_test(test_thumbnail),
        cmocka_unit_test(test_stylize_version),
        cmocka_unit_test(test_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
