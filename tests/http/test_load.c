/* test_load.c: the service under concurrent clients: many /stylize
 * requests at once, a full queue answering 503 with Retry-After, clients
 * that dribble their headers while others are served, the idle timeout and
 * the per-address connection limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/image.h"
#include "tests/http/server_harness.h"

static int connect_to(const Harness *h)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* 1 when the server has closed fd (EOF or reset) within seconds. */
static int closed_within(int fd, double seconds)
{
    struct pollfd p = {fd, POLLIN, 0};
    char buf[256];
    if (poll(&p, 1, (int)(seconds * 1000)) <= 0)
        return 0;
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_many_clients(void **state)
{
    Harness h;
    const char *args[] = {"--workers", "2", "--queue", "64", NULL};
    enum { N = 24 };
    Reply r[N];
    size_t len;
    uint8_t *jpeg = harness_jpeg(160, 120, 90, &len);
    char v[64];
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(harness_post_many(&h, N, "/stylize?model=tiny", "image/jpeg", jpeg, len, r), N);
    for (int i = 0; i < N; i++) {
        int code;
        char err[128];
        if (r[i].status != 200) {
            print_error("request %d: status %ld (%s)\n", i, r[i].status, r[i].error);
            fail();
        }
        assert_string_equal(reply_header(&r[i], "X-Atelier-Model", v, sizeof v), "tiny/v1");
        Image *img = image_decode(r[i].body, r[i].len, 1 << 20, &code, err, sizeof err);
        assert_non_null(img);
        assert_int_equal(img->w, 160);
        image_free(img);
        reply_free(&r[i]);
    }
    /* Every request counted, the queue empty again. */
    Reply m;
    harness_get(&h, "/metrics", &m);
    char line[128];
    snprintf(line, sizeof line, "route=\"/stylize\",method=\"POST\",status=\"200\"} %d", N);
    assert_non_null(strstr((char *)m.body, line));
    assert_non_null(strstr((char *)m.body, "atelier_queue_depth 0\n"));
    reply_free(&m);
    assert_int_equal(harness_stop(&h), 0);
    free(jpeg);
}

static void test_queue_full(void **state)
{
    Harness h;
    /* One worker, one waiting place: of 8 requests at once at most 2 can
     * be accepted while the first runs. */
    const char *args[] = {"--workers", "1", "--queue", "1", NULL};
    enum { N = 8 };
    Reply r[N];
    size_t len;
    uint8_t *jpeg = harness_jpeg(900, 700, 90, &len);
    int ok = 0, full = 0;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    assert_int_equal(harness_post_many(&h, N, "/stylize", "image/jpeg", jpeg, len, r), N);
    for (int i = 0; i < N; i++) {
        if (r[i].status == 200) {
            ok++;
        } else if (r[i].status == 503) {
            char ra[32], *end;
            json_t *j = json_loadb((char *)r[i].body, r[i].len, 0, NULL);
            full++;
            assert_non_null(reply_header(&r[i], "Retry-After", ra, sizeof ra));
            long s = strtol(ra, &end, 10);
            assert_true(*end == '\0' && s >= 1 && s <= 3600);
            assert_non_null(j);
            assert_string_equal(json_string_value(json_object_get(j, "type")),
                                "urn:atelier:problem:overloaded");
            json_decref(j);
        } else {
            print_error("request %d: status %ld (%s)\n", i, r[i].status, r[i].error);
            fail();
        }
        reply_free(&r[i]);
    }
    if (full < 1 || ok < 1) {
        print_error("%d answered 200 and %d 503; want both\n", ok, full);
        fail();
    }
    assert_int_equal(harness_stop(&h), 0);
    free(jpeg);
}

static void test_slow_clients(void **state)
{
    Harness h;
    const char *args[] = {"--per-ip-limit", "200", "--timeout", "3", NULL};
    enum { SLOW = 60 };
    int fds[SLOW];
    static const char head[] = "GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Dribble: ";
    size_t len;
    uint8_t *jpeg = harness_jpeg(96, 64, 90, &len);
    double worst = 0;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    for (int i = 0; i < SLOW; i++) {
        fds[i] = connect_to(&h);
        assert_true(fds[i] >= 0);
        assert_int_equal(send(fds[i], head, 10, MSG_NOSIGNAL), 10);
    }
    /* While 60 clients dribble a byte at a time, others are served. */
    for (int round = 0; round < 12; round++) {
        Reply r;
        for (int i = 0; i < SLOW; i++)
            send(fds[i], head + 10 + round % 20, 1, MSG_NOSIGNAL);
        harness_get(&h, "/healthz", &r);
        assert_int_equal(r.status, 200);
        if (r.seconds > worst)
            worst = r.seconds;
        reply_free(&r);
        harness_request(&h, "POST", "/stylize?model=tiny", "image/jpeg", jpeg, len, NULL, &r);
        assert_int_equal(r.status, 200);
        if (r.seconds > worst)
            worst = r.seconds;
        reply_free(&r);
    }
    if (worst > 2.0) {
        print_error("a request took %.2f s while clients dribbled\n", worst);
        fail();
    }
    /* Dribblers that stop are dropped after --timeout (3 s). */
    int dropped = 0;
    double t0 = harness_now();
    for (int i = 0; i < SLOW; i++)
        dropped += closed_within(fds[i], 8.0 - (harness_now() - t0));
    if (dropped != SLOW) {
        print_error("%d of %d stalled clients dropped after the timeout\n", dropped, SLOW);
        fail();
    }
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    assert_int_equal(harness_stop(&h), 0);
    free(jpeg);
}

static void test_per_ip_limit(void **state)
{
    Harness h;
    const char *args[] = {"--per-ip-limit", "3", NULL};
    static const char get[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    int fds[3], ok = 0;
    Reply r;
    assert_int_equal(harness_start(&h, args), 0);
    assert_int_equal(harness_wait_ready(&h, 60), 0);
    /* Three kept-alive connections, each known to be accepted: it has
     * answered a request. */
    for (int i = 0; i < 3; i++) {
        char buf[1024];
        struct pollfd p;
        assert_true((fds[i] = connect_to(&h)) >= 0);
        assert_int_equal(send(fds[i], get, sizeof get - 1, MSG_NOSIGNAL), (ssize_t)sizeof get - 1);
        p = (struct pollfd){fds[i], POLLIN, 0};
        assert_int_equal(poll(&p, 1, 10000), 1);
        assert_true(recv(fds[i], buf, sizeof buf, 0) > 0);
    }
    harness_get(&h, "/healthz", &r);
    if (r.status != 0) {
        print_error("a 4th connection from one address got status %ld\n", r.status);
        fail();
    }
    reply_free(&r);
    /* One closes: a place frees up once the server has seen it go (and
     * each refused or finished attempt has been cleaned up too). */
    close(fds[0]);
    for (double end = harness_now() + 60; !ok && harness_now() < end;) {
        harness_get(&h, "/healthz", &r);
        ok = r.status == 200;
        reply_free(&r);
    }
    assert_true(ok);
    close(fds[1]);
    close(fds[2]);
    assert_int_equal(harness_stop(&h), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_slow_clients),
        cmocka_unit_test(test_per_ip_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
