/* test_faults.c: faults from outside that are not bad requests: clients
 * that go away mid-upload, mid-job (queued or running) and mid-response,
 * with a FIN or a reset; and a model repository holding a truncated
 * version, an unreadable one (a dangling link: root reads any mode) and a
 * pin on a truncated one. The server must keep serving, and serve only the
 * good versions.
 *
 * For later, with the job queue: disk full while writing a checkpoint or
 * job state, and kill -9 during a training job.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/http/raw_client.h"
#include "tests/http/server_harness.h"

static Harness srv;

static int setup(void **state)
{
    const char *args[] = {"--max-body-mb", "8", "--timeout", "5", NULL};
    if (harness_start(&srv, args) || harness_wait_ready(&srv, 120))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    return harness_stop(&srv) == 0 ? 0 : -1;    /* a clean exit, no leaks */
}

static void still_serving(const char *after)
{
    Reply r;
    harness_get(&srv, "/healthz", &r);
    if (r.status != 200) {
        print_error("after %s: /healthz answered %ld (curl %d %s)\n", after, r.status,
                    r.curl_code, r.error);
        fail();
    }
    reply_free(&r);
}

/* ---- clients that go away ------------------------------------------------ */

static void test_disconnects(void **state)
{
    size_t jl, pl;
    uint8_t *jpeg = harness_jpeg(48, 40, 90, &jl), *png = harness_png(1200, 900, &pl);
    char head[512], buf[512];
    int fd;
    /* Mid-upload, both ways: after the headers and after part of the body. */
    for (int rst = 0; rst < 2; rst++) {
        fd = raw_connect(srv.port);
        snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: image/png\r\nContent-Length: %zu\r\n\r\n", pl);
        raw_send(fd, head, strlen(head));
        rst ? raw_reset(fd) : (void)close(fd);
        fd = raw_connect(srv.port);
        raw_send(fd, head, strlen(head));
        raw_send(fd, png, pl / 2);
        rst ? raw_reset(fd) : (void)close(fd);
        still_serving(rst ? "reset mid-upload" : "close mid-upload");
    }
    /* Mid-job: the whole request, then gone before the answer. Four at
     * once, so some wait in the queue while others run. */
    snprintf(head, sizeof head, "POST /stylize?model=tiny&format=png HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: image/png\r\nContent-Length: %zu\r\n\r\n", pl);
    for (int rst = 0; rst < 2; rst++) {
        int fds[4];
        for (int i = 0; i < 4; i++) {
            fds[i] = raw_connect(srv.port);
            raw_send(fds[i], head, strlen(head));
            raw_send(fds[i], png, pl);
        }
        for (int i = 0; i < 4; i++)
            rst ? raw_reset(fds[i]) : (void)close(fds[i]);
        still_serving(rst ? "reset mid-job" : "close mid-job");
    }
    /* Mid-response: read the status line of a large PNG answer (1200x900:
     * megabytes), then go. */
    for (int rst = 0; rst < 2; rst++) {
        struct timeval tv = {600, 0};   /* the jobs left by the clients above run first */
        ssize_t n;
        fd = raw_connect(srv.port);
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        raw_send(fd, head, strlen(head));
        raw_send(fd, png, pl);
        n = recv(fd, buf, sizeof buf - 1, 0);
        assert_true(n > 12);
        buf[n] = '\0';
        if (raw_status(buf) != 200) {
            print_error("large answer: %.200s\n", buf);
            fail();
        }
        rst ? raw_reset(fd) : (void)close(fd);
        still_serving(rst ? "reset mid-response" : "close mid-response");
    }
    /* The server still does real work afterwards. */
    Reply r;
    harness_request(&srv, "POST", "/stylize?model=tiny", "image/jpeg", jpeg, jl, NULL, &r);
    if (r.status != 200) {
        print_error("stylize after the disconnects: %ld\n", r.status);
        fail();
    }
    reply_free(&r);
    free(jpeg);
    free(png);
}

/* ---- a repository with bad files ----------------------------------------- */

static void test_bad_model_files(void **state)
{
    Harness bad;
    char repo[400], p[512], v[64];
    const char *args[] = {"--models", repo, "--default-model", "good", NULL};
    size_t jl;
    uint8_t *jpeg = harness_jpeg(48, 40, 90, &jl);
    struct stat sb;
    json_t *j;
    Reply r;
    /* good: v1 a model, v2 truncated, v3 a dangling link (unreadable: root
     * reads any mode); pinned: CURRENT names the truncated v2. */
    snprintf(repo, sizeof repo, "%s/bad-repo", srv.root);
    assert_int_equal(mkdir(repo, 0755), 0);
    snprintf(p, sizeof p, "%s/good", repo);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/good/v1.safetensors", repo);
    assert_int_equal(harness_write_tiny_model(p, 7), 0);
    snprintf(p, sizeof p, "%s/good/v2.safetensors", repo);
    assert_int_equal(harness_write_tiny_model(p, 8), 0);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size - 100), 0);
    snprintf(p, sizeof p, "%s/good/v3.safetensors", repo);
    assert_int_equal(symlink("/nonexistent/v3.safetensors", p), 0);
    snprintf(p, sizeof p, "%s/pinned", repo);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/pinned/v1.safetensors", repo);
    assert_int_equal(harness_write_tiny_model(p, 9), 0);
    snprintf(p, sizeof p, "%s/pinned/v2.safetensors", repo);
    assert_int_equal(harness_write_tiny_model(p, 10), 0);
    assert_int_equal(truncate(p, 40), 0);
    snprintf(p, sizeof p, "%s/pinned/CURRENT", repo);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("2\n", f);
    fclose(f);

    assert_int_equal(harness_start(&bad, args), 0);
    assert_int_equal(harness_wait_ready(&bad, 60), 0);
    for (int i = 0; i < 2; i++) {
        const char *q = i ? "/stylize?model=pinned" : "/stylize";
        harness_request(&bad, "POST", q, "image/jpeg", jpeg, jl, NULL, &r);
        if (r.status != 200) {
            print_error("%s: %ld: %.*s\n", q, r.status, (int)r.len, r.body ? (char *)r.body : "");
            fail();
        }
        assert_non_null(reply_header(&r, "X-Atelier-Model", v, sizeof v));
        assert_string_equal(v, i ? "pinned/v1" : "good/v1");
        reply_free(&r);
    }
    harness_get(&bad, "/models/good", &r);
    assert_int_equal(r.status, 200);
    j = json_loadb((const char *)r.body, r.len, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "current")), 1);
    json_decref(j);
    reply_free(&r);
    assert_int_equal(harness_stop(&bad), 0);
    free(jpeg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_disconnects),
        cmocka_unit_test(test_bad_model_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
