/* test_healthcheck.c: `atelier healthcheck` through the real binary against
 * a one-connection listener in this test that answers what each case
 * needs: a 2xx, a 503, garbage, a status line in pieces, or silence; and
 * against the real `atelier serve` (tests/http/server_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "tests/engine/util.h"
#include "tests/http/server_harness.h"

enum { PEER_REPLY, PEER_SPLIT, PEER_SILENT };

typedef struct Peer {
    int lfd;            /* listening socket on 127.0.0.1 */
    int port;
    int mode;
    const char *reply;  /* PEER_REPLY: the whole answer; PEER_SPLIT: sent in two */
    char req[2048];     /* the request head as received */
    pthread_t thread;
} Peer;

/* Reads the request head (up to the blank line), then answers per mode. */
static void *peer_main(void *arg)
{
    Peer *p = arg;
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    size_t have = 0;
    while (have + 1 < sizeof(p->req)) {
        ssize_t n = recv(fd, p->req + have, sizeof(p->req) - 1 - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        p->req[have] = '\0';
        if (strstr(p->req, "\r\n\r\n"))
            break;
    }
    if (p->mode == PEER_REPLY) {
        send(fd, p->reply, strlen(p->reply), MSG_NOSIGNAL);
    } else if (p->mode == PEER_SPLIT) {
        send(fd, p->reply, 10, MSG_NOSIGNAL);
        usleep(100 * 1000);
        send(fd, p->reply + 10, strlen(p->reply) - 10, MSG_NOSIGNAL);
    } else {
        char c;
        while (recv(fd, &c, 1, 0) > 0)   /* until the client gives up */
            ;
    }
    close(fd);
    return NULL;
}

static void peer_start(Peer *p, int mode, const char *reply)
{
    memset(p, 0, sizeof(*p));
    p->mode = mode;
    p->reply = reply;
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->lfd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(p->lfd, 4), 0);
    /* accept() gives up too, so a client that never connects fails the
     * case instead of hanging it. */
    struct timeval tv = { .tv_sec = 10 };
    setsockopt(p->lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_stop(Peer *p)
{
    pthread_join(p->thread, NULL);
    close(p->lfd);
}

/* Runs the binary with the ATELIER_* variables it reads cleared, then
 * `extra` (more variables), then healthcheck and args. */
static int healthcheck(char **out, const char *extra, const char *fmt, ...)
{
    char args[512], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "env -u ATELIER_HOST -u ATELIER_PORT %s %s healthcheck %s",
             extra, tu_atelier(), args);
    int rc = tu_run(cmd, out);
    printf("  $ %s %s healthcheck %s -> %d\n    %s", extra, tu_atelier(), args, rc,
           *out ? *out : "(no output)\n");
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_ok(void **state)
{
    (void)state;
    Peer p;
    char *out, host[64];
    peer_start(&p, PEER_REPLY, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
    assert_int_equal(healthcheck(&out, "", "--port %d", p.port), 0);
    peer_stop(&p);
    assert_non_null(strstr(out, "200 OK"));
    free(out);
    /* One GET of /healthz, HTTP/1.1, with a Host header and no body. */
    printf("    request: %.60s...\n", p.req);
    assert_int_equal(strncmp(p.req, "GET /healthz HTTP/1.1\r\n", 23), 0);
    snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", p.port);
    assert_non_null(strstr(p.req, host));
    assert_non_null(strstr(p.req, "\r\nConnection: close\r\n"));
}

static void test_env_port_and_path(void **state)
{
    (void)state;
    Peer p;
    char *out, env[64];
    /* $ATELIER_PORT is the default port; a wildcard $ATELIER_HOST means
     * loopback; --path picks the route; 204 is a 2xx too. */
    peer_start(&p, PEER_REPLY, "HTTP/1.1 204 No Content\r\n\r\n");
    snprintf(env, sizeof(env), "ATELIER_PORT=%d ATELIER_HOST=0.0.0.0", p.port);
    assert_int_equal(healthcheck(&out, env, "--path /readyz"), 0);
    peer_stop(&p);
    free(out);
    assert_int_equal(strncmp(p.req, "GET /readyz HTTP/1.1\r\n", 22), 0);
    /* --port wins over the variable. */
    peer_start(&p, PEER_REPLY, "HTTP/1.0 200 OK\r\n\r\n");
    assert_int_equal(healthcheck(&out, "ATELIER_PORT=1", "--host 127.0.0.1 --port %d", p.port), 0);
    peer_stop(&p);
    free(out);
}

static void test_not_2xx(void **state)
{
    (void)state;
    Peer p;
    char *out;
    peer_start(&p, PEER_REPLY,
               "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n");
    assert_int_equal(healthcheck(&out, "", "--port %d --path /readyz", p.port), 1);
    peer_stop(&p);
    assert_non_null(strstr(out, "503 Service Unavailable"));
    assert_non_null(strstr(out, "/readyz"));
    free(out);
    peer_start(&p, PEER_REPLY, "HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n");
    assert_int_equal(healthcheck(&out, "", "--port %d", p.port), 1);
    peer_stop(&p);
    free(out);
}

static void test_split_status_line(void **state)
{
    (void)state;
    Peer p;
    char *out;
    peer_start(&p, PEER_SPLIT, "HTTP/1.1 200 OK\r\n\r\n");
    assert_int_equal(healthcheck(&out, "", "--port %d", p.port), 0);
    peer_stop(&p);
    free(out);
}

static void test_not_http(void **state)
{
    (void)state;
    Peer p;
    char *out;
    const char *bad[] = { "SSH-2.0-OpenSSH_9.2\r\n", "HTTP/1.1 2x0 OK\r\n\r\n",
                          "HTTP/1.1 2000 OK\r\n\r\n", "", "HTTP/1.1 200" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        peer_start(&p, PEER_REPLY, bad[i]);
        assert_int_equal(healthcheck(&out, "", "--port %d", p.port), 1);
        peer_stop(&p);
        assert_non_null(strstr(out, "atelier healthcheck: http://127.0.0.1:"));
        free(out);
    }
    /* A status line longer than anything HTTP sends. */
    static char flood[4096];
    memset(flood, 'A', sizeof(flood) - 1);
    peer_start(&p, PEER_REPLY, flood);
    assert_int_equal(healthcheck(&out, "", "--port %d", p.port), 1);
    peer_stop(&p);
    assert_non_null(strstr(out, "not HTTP"));
    free(out);
}

static void test_refused(void **state)
{
    (void)state;
    /* A port that was just free and has no listener. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    char *out;
    assert_int_equal(healthcheck(&out, "", "--port %d", ntohs(a.sin_port)), 1);
    assert_non_null(strstr(out, "refused"));
    free(out);
}

static void test_timeout(void **state)
{
    (void)state;
    Peer p;
    char *out;
    peer_start(&p, PEER_SILENT, NULL);
    double t0 = now_s();
    assert_int_equal(healthcheck(&out, "", "--port %d --timeout 1", p.port), 1);
    double took = now_s() - t0;
    peer_stop(&p);
    printf("    silent server: gave up after %.2f s (timeout 1 s)\n", took);
    assert_non_null(strstr(out, "no answer in time"));
    assert_true(took < 5.0);
    free(out);
}

static void test_usage(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(healthcheck(&out, "", "--help"), 0);
    assert_non_null(strstr(out, "usage: atelier healthcheck"));
    free(out);
    /* Anything wrong is 1, never 2: Docker reserves 2. */
    const char *bad[] = { "--bogus", "--port 0", "--port 70000", "--port x",
                          "--path healthz", "--path '/a b'", "--timeout 0", "extra" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(healthcheck(&out, "", "%s", bad[i]), 1);
        assert_non_null(strstr(out, "atelier healthcheck:"));
        free(out);
    }
    assert_int_equal(healthcheck(&out, "ATELIER_PORT=nope", ""), 1);
    assert_non_null(strstr(out, "nope"));
    free(out);
}

/* The real server: healthy once up, ready once its model is loaded, and
 * refused once SIGTERM has stopped it. */
static void test_real_server(void **state)
{
    (void)state;
    Harness h;
    char *out;
    if (harness_start(&h, NULL))
        fail_msg("atelier serve did not start");
    if (harness_wait_ready(&h, 30)) {
        harness_stop(&h);
        fail_msg("atelier serve not ready in 30 s");
    }
    int live = healthcheck(&out, "", "--port %d", h.port);
    free(out);
    int ready = healthcheck(&out, "", "--port %d --path /readyz", h.port);
    free(out);
    int missing = healthcheck(&out, "", "--port %d --path /no-such-route", h.port);
    int says_404 = strstr(out, "404") != NULL;
    free(out);
    harness_signal(&h, SIGTERM);
    int status = harness_wait_exit(&h, 30);
    int gone = healthcheck(&out, "", "--port %d", h.port);
    free(out);
    harness_stop(&h);
    assert_int_equal(live, 0);
    assert_int_equal(ready, 0);
    assert_int_equal(missing, 1);
    assert_true(says_404);
    assert_int_equal(status, 0);
    assert_int_equal(gone, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_env_port_and_path),
        cmocka_unit_test(test_not_2xx),
        cmocka_unit_test(test_split_status_line),
        cmocka_unit_test(test_not_http),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_real_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
