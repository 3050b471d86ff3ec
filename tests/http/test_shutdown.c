/* test_shutdown.c: graceful shutdown. On SIGTERM the server turns
 * unready, stops accepting, lets the requests in flight finish, and exits
 * 0; past --drain-seconds it stops anyway; SIGINT does the same. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/image.h"
#include "tests/http/server_harness.h"

typedef struct Sink {
    uint8_t *data;
    size_t len;
} Sink;

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
    Sink *s = arg;
    uint8_t *d = realloc(s->data, s->len + size * n);
    if (!d)
        return 0;
    memcpy(d + s->len, p, size * n);
    s->data = d;
    s->len += size * n;
    return size * n;
}

static CURL *stylize_handle(const Harness *h, const uint8_t *body, size_t len, Sink *out,
                            struct curl_slist *hdrs)
{
    char url[128];
    CURL *c = curl_easy_init();
    snprintf(url, sizeof url, "%s/stylize", h->url);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    return c;
}

/* Drives m until every transfer is over. */
static void drive(CURLM *m)
{
    int running;
    do {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 50, NULL);
    } while (running);
}

/* Drives m until the server holds n requests in flight (it says so in
 * /metrics) or seconds pass. */
static int drive_until_inflight(CURLM *m, const Harness *h, int n, double seconds)
{
    char want[64];
    snprintf(want, sizeof want, "atelier_inflight_requests %d\n", n + 1);  /* + /metrics */
    for (double end = harness_now() + seconds; harness_now() < end;) {
        int running;
        Reply r;
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 20, NULL);
        harness_get(h, "/metrics", &r);
        int found = r.body && strstr((char *)r.body, want);
        reply_free(&r);
        if (found)
            return 0;
    }
    return -1;
}

static void test_sigterm_drains(void **state)
{
    Harness h;
    const char *args[] = {"--workers", "1", "--drain-seconds", "60", NULL};
    size_t len;
    uint8_t *jpeg = harness_jpeg(900, 700, 90, &len);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: image/jpeg");
    Sink out = {0};
    CURLM *m;
    CURL *slow, *keep;
    long status = 0;
    char url[128];
    Reply r;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);

    /* A kept-alive connection, to ask /readyz after the listening socket
     * is gone. */
    keep = curl_easy_init();
    Sink ks = {0};
    snprintf(url, sizeof url, "%s/healthz", h.url);
    curl_easy_setopt(keep, CURLOPT_URL, url);
    curl_easy_setopt(keep, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(keep, CURLOPT_WRITEDATA, &ks);
    assert_int_equal(curl_easy_perform(keep), CURLE_OK);

    m = curl_multi_init();
    slow = stylize_handle(&h, jpeg, len, &out, hdrs);
    curl_multi_add_handle(m, slow);
    assert_int_equal(drive_until_inflight(m, &h, 1, 30), 0);

    harness_signal(&h, SIGTERM);
    /* Unready at once, on the connection already open. */
    snprintf(url, sizeof url, "%s/readyz", h.url);
    curl_easy_setopt(keep, CURLOPT_URL, url);
    for (double end = harness_now() + 5; harness_now() < end;) {
        assert_int_equal(curl_easy_perform(keep), CURLE_OK);
        curl_easy_getinfo(keep, CURLINFO_RESPONSE_CODE, &status);
        if (status == 503)
            break;
        curl_multi_perform(m, &(int){0});
    }
    assert_int_equal(status, 503);
    /* No new connections. */
    for (double end = harness_now() + 5; harness_now() < end;) {
        harness_get(&h, "/healthz", &r);
        status = r.status;
        reply_free(&r);
        if (status == 0)
            break;
    }
    assert_int_equal(status, 0);

    /* The request in flight completes. */
    drive(m);
    curl_easy_getinfo(slow, CURLINFO_RESPONSE_CODE, &status);
    assert_int_equal(status, 200);
    int code;
    char err[128];
    Image *img = image_decode(out.data, out.len, 1 << 22, &code, err, sizeof err);
    assert_non_null(img);
    assert_int_equal(img->w, 900);
    image_free(img);
    assert_int_equal(harness_wait_exit(&h, 30), 0);

    curl_multi_remove_handle(m, slow);
    curl_easy_cleanup(slow);
    curl_easy_cleanup(keep);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(out.data);
    free(ks.data);
    free(jpeg);
    char *log = harness_log_text(&h);
    assert_non_null(strstr(log, "\"msg\":\"draining\""));
    assert_non_null(strstr(log, "\"msg\":\"stopped\""));
    free(log);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_drain_deadline(void **state)
{
    Harness h;
    const char *args[] = {"--workers", "1", "--queue", "8", "--drain-seconds", "1", NULL};
    enum { N = 5 };
    size_t len;
    uint8_t *jpeg = harness_jpeg(900, 700, 90, &len);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: image/jpeg");
    Sink out[N] = {{0}};
    CURL *c[N];
    CURLM *m = curl_multi_init();
    double t0;
    int status;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    for (int i = 0; i < N; i++) {
        c[i] = stylize_handle(&h, jpeg, len, &out[i], hdrs);
        curl_multi_add_handle(m, c[i]);
    }
    assert_int_equal(drive_until_inflight(m, &h, N, 30), 0);
    t0 = harness_now();
    harness_signal(&h, SIGTERM);
    /* Queued work is more than a second: the deadline cuts it short, and
     * the process still exits 0. Each client gets an answer (200 or 503)
     * or a closed connection, never a hang. */
    drive(m);
    status = harness_wait_exit(&h, 60);
    assert_int_equal(status, 0);
    double took = harness_now() - t0;
    int done = 0;
    for (int i = 0; i < N; i++) {
        long st = 0;
        curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &st);
        done += st == 200;
        if (st != 0 && st != 200 && st != 503) {
            print_error("request %d: status %ld\n", i, st);
            fail();
        }
        curl_multi_remove_handle(m, c[i]);
        curl_easy_cleanup(c[i]);
        free(out[i].data);
    }
    if (done == N) {
        print_error("all %d requests finished in %.1f s: the deadline was never reached\n", N,
                    took);
        fail();
    }
    char *log = harness_log_text(&h);
    assert_non_null(strstr(log, "drain deadline passed"));
    free(log);
    curl_multi_cleanup(m);
    curl_slist_free_all(hdrs);
    free(jpeg);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_sigint(void **state)
{
    Harness h;
    assert_int_equal(harness_start(&h, NULL), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    harness_signal(&h, SIGHUP);            /* ignored */
    Reply r;
    assert_int_equal(harness_get(&h, "/healthz", &r), 200);
    reply_free(&r);
    harness_signal(&h, SIGINT);
    assert_int_equal(harness_wait_exit(&h, 30), 0);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigterm_drains),
        cmocka_unit_test(test_drain_deadline),
        cmocka_unit_test(test_sigint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
