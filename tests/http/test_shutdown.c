/* test_shutdown.c: graceful shutdown. On SIGTERM the server turns
 * unready, stops accepting, lets the requests in flight finish, and exits
 * 0; past --drain-seconds it stops anyway; SIGINT does the same. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/image.h"
#include "tests/http/raw_client.h"
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

/* keep's last transfer: 0 when it went through with status want, on the
 * connection keep already had (no new one) when reused, and with
 * "Connection: close" in its answer exactly when closes. */
static void expect_transfer(CURL *keep, const Sink *head, long want, int reused, int closes)
{
    long status = 0, connects = -1;
    assert_int_equal(curl_easy_perform(keep), CURLE_OK);
    curl_easy_getinfo(keep, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(keep, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(status, want);
    assert_int_equal(connects, reused ? 0 : 1);
    assert_int_equal(memmem(head->data, head->len, "Connection: close", 17) != NULL, closes);
}

static void test_sigterm_drains(void **state)
{
    Harness h;
    /* --timeout: the kept-alive connection below idles while the picture
     * uploads; it is not the idle timeout that may close it. */
    const char *args[] = {"--workers", "1", "--drain-seconds", "60", "--timeout", "600", NULL};
    size_t len;
    uint8_t *jpeg = harness_jpeg(900, 700, 90, &len);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: image/jpeg");
    Sink out = {0}, ks = {0}, khead = {0};
    CURLM *m;
    CURL *slow, *keep;
    long status = 0;
    char url[128];
    Reply r;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);

    /* A connection opened and kept alive before the signal (its answer
     * came before it, so without "Connection: close"), to ask /readyz on
     * after the listening socket is gone. */
    keep = curl_easy_init();
    snprintf(url, sizeof url, "%s/healthz", h.url);
    curl_easy_setopt(keep, CURLOPT_URL, url);
    curl_easy_setopt(keep, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(keep, CURLOPT_WRITEDATA, &ks);
    curl_easy_setopt(keep, CURLOPT_HEADERFUNCTION, sink);
    curl_easy_setopt(keep, CURLOPT_HEADERDATA, &khead);
    curl_easy_setopt(keep, CURLOPT_NOSIGNAL, 1L);
    expect_transfer(keep, &khead, 200, 0, 0);

    m = curl_multi_init();
    slow = stylize_handle(&h, jpeg, len, &out, hdrs);
    curl_multi_add_handle(m, slow);
    assert_int_equal(drive_until_inflight(m, &h, 1, 30), 0);

    /* The server logs "draining" once it is unready and its listening
     * socket is closed. Asking before that races the signal: a /readyz
     * answered 200 as the drain begins goes out with "Connection: close"
     * (every answer does from then on), so the next request needs a new
     * connection, which is refused (curl error 7, issue 13). */
    harness_signal(&h, SIGTERM);
    assert_int_equal(harness_wait_log(&h, "\"msg\":\"draining\"", NULL, 30), 0);
    /* Unready, on the connection opened before the signal; closed after. */
    snprintf(url, sizeof url, "%s/readyz", h.url);
    curl_easy_setopt(keep, CURLOPT_URL, url);
    free(khead.data);
    khead = (Sink){0};
    expect_transfer(keep, &khead, 503, 1, 1);
    /* No new connections. */
    assert_int_equal(harness_get(&h, "/healthz", &r), 0);
    assert_int_equal(r.curl_code, CURLE_COULDNT_CONNECT);
    reply_free(&r);

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
    free(khead.data);
    free(jpeg);
    assert_int_equal(harness_log_count(&h, "\"msg\":\"stopped\"", NULL), 1);
    assert_int_equal(harness_stop(&h), 0);
}

static void test_drain_deadline(void **state)
{
    Harness h;
    const char *args[] = {"--workers", "1", "--queue", "8", "--drain-seconds", "1", NULL};
    static const char head[] = "POST /stylize HTTP/1.1\r\nHost: t\r\n"
                               "Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n";
    enum { N = 5 };
    size_t len;
    uint8_t *jpeg = harness_jpeg(900, 700, 90, &len);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: image/jpeg");
    Sink out[N] = {{0}};
    CURL *c[N];
    CURLM *m = curl_multi_init();
    char buf[64];
    double t0;
    int status, held;
    ssize_t got;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    /* A request whose body never arrives whole: it is in flight when the
     * deadline comes, however fast the machine runs the others. */
    held = raw_connect(h.port);
    raw_send(held, head, sizeof head - 1);
    raw_send(held, jpeg, 1000);
    for (int i = 0; i < N; i++) {
        c[i] = stylize_handle(&h, jpeg, len, &out[i], hdrs);
        curl_multi_add_handle(m, c[i]);
    }
    assert_int_equal(drive_until_inflight(m, &h, N + 1, 30), 0);
    t0 = harness_now();
    harness_signal(&h, SIGTERM);
    /* The deadline cuts the drain short, and the process still exits 0.
     * Each client gets an answer (200 or 503) or a closed connection,
     * never a hang. */
    drive(m);
    status = harness_wait_exit(&h, 60);
    assert_int_equal(status, 0);
    printf("exited %.1f s after SIGTERM (--drain-seconds 1)\n", harness_now() - t0);
    assert_true(harness_now() - t0 >= 1.0);
    for (int i = 0; i < N; i++) {
        long st = 0;
        curl_easy_getinfo(c[i], CURLINFO_RESPONSE_CODE, &st);
        if (st != 0 && st != 200 && st != 503) {
            print_error("request %d: status %ld\n", i, st);
            fail();
        }
        curl_multi_remove_handle(m, c[i]);
        curl_easy_cleanup(c[i]);
        free(out[i].data);
    }
    /* The held request was cut off: no answer, the connection closed (the
     * process is gone, so this does not wait). */
    got = recv(held, buf, sizeof buf, 0);
    assert_true(got == 0 || (got < 0 && errno == ECONNRESET));
    close(held);
    assert_int_equal(harness_log_count(&h, "drain deadline passed", NULL), 1);
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
