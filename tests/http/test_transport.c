/* test_transport.c: the transport limits and framing rules of issue 15
 * against the real server, each case the reproduction of a finding:
 *   1  the body budget: bodies in flight hold at most --body-budget-mb;
 *      past it 503 + Retry-After, before the body (declared length) or
 *      while it arrives (chunked); room again once a holder ends;
 *   2  slowloris: a request head dribbled a byte at a time is cut at
 *      --header-timeout, a body under --min-upload-kbps is answered 408,
 *      and /healthz answers from another address while slow clients hold
 *      more connections than --max-connections;
 *   4  Content-Length with Transfer-Encoding: 400 and closed, the request
 *      hidden behind it never answered;
 *   7  a space before a colon, a folded line, two Hosts, no Host on
 *      HTTP/1.1, an unknown transfer coding;
 *   8  hundreds of query parameters: answered at once;
 *   13 an encoded slash in the path never reaches a route;
 *   14 (in test_api.c: 401 carries WWW-Authenticate).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/http/raw_client.h"
#include "tests/http/server_harness.h"

#define HEADER_TIMEOUT "2"
#define MAX_CONNECTIONS 8
#define TOKEN "transport-token"

static Harness srv;

static int setup(void **state)
{
    static char token_path[400];
    FILE *f;
    const char *args[] = {"--max-body-mb", "4", "--body-budget-mb", "8",
                          "--header-timeout", HEADER_TIMEOUT, "--min-upload-kbps", "64",
                          "--max-connections", "8", "--per-ip-limit", "100",
                          "--timeout", "30", "--token-file", token_path, NULL};
    snprintf(token_path, sizeof token_path, "/tmp/atelier-transport-token.%d", (int)getpid());
    if (!(f = fopen(token_path, "w")))
        return -1;
    fputs(TOKEN "\n", f);
    fclose(f);
    if (harness_start(&srv, args) || harness_wait_ready(&srv, 120))
        return -1;
    unlink(token_path);
    return 0;
}

static int teardown(void **state)
{
    return harness_stop(&srv) == 0 ? 0 : -1;
}

/* A connection from a chosen loopback address (127.0.0.x) to the server. */
static int connect_from(const char *addr)
{
    struct sockaddr_in local = {.sin_family = AF_INET}, a = {.sin_family = AF_INET};
    struct timeval tv = {20, 0};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    inet_pton(AF_INET, addr, &local.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&local, sizeof local), 0);
    a.sin_port = htons((uint16_t)srv.port);
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads what the server sends until it closes the connection, or until
 * seconds pass (then *closed is 0). A new NUL-terminated string. */
static char *read_until_close(int fd, double seconds, int *closed)
{
    size_t got = 0, cap = 65536;
    char *buf = malloc(cap + 1);
    double until = harness_now() + seconds;
    assert_non_null(buf);
    *closed = 0;
    while (got < cap) {
        struct pollfd p = {fd, POLLIN, 0};
        double left = until - harness_now();
        ssize_t n;
        if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) <= 0)
            break;
        n = recv(fd, buf + got, cap - got, 0);
        if (n <= 0) {
            *closed = 1;
            break;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Sends request (which may hide a second one) on a connection left open
 * for writing: the server must answer status, once and with the detail
 * text `says` when the answer is ours (libmicrohttpd 0.9.75 writes the
 * head of its own 400 twice: says NULL), and close the connection itself. */
static void refused_and_closed(const char *what, const char *request, long status,
                               const char *says)
{
    int fd = raw_connect(srv.port), closed;
    char *reply;
    raw_send(fd, request, strlen(request));
    reply = read_until_close(fd, 15, &closed);
    close(fd);
    if (raw_status(reply) != status || !closed ||
        (says && (count(reply, "HTTP/1.1 ") != 1 || !strstr(reply, says)))) {
        print_error("%s: answered %ld (want %ld), %d answers, %s: %.400s\n", what,
                    raw_status(reply), status, count(reply, "HTTP/1.1 "),
                    closed ? "closed" : "left open", reply);
        fail();
    }
    free(reply);
}

static void healthz_from(const char *addr, const char *after)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    int fd = connect_from(addr), closed;
    char *reply;
    raw_send(fd, req, sizeof req - 1);
    reply = read_until_close(fd, 15, &closed);
    close(fd);
    if (raw_status(reply) != 200) {
        print_error("/healthz from %s %s: %ld: %.200s\n", addr, after, raw_status(reply), reply);
        fail();
    }
    free(reply);
}

/* ---- 4, 7, 8, 13: framing and form of the request head ------------------ */

static void test_framing(void **state)
{
    char *q = malloc(8192), head[9000];
    size_t n = 0;
    /* 4: CL.TE. Framed by chunked, "0\r\n\r\n" ends the body and the
     * DELETE behind it would be a second request; framed by length, it is
     * the body. Either way a proxy and we could disagree: refused. */
    refused_and_closed("Content-Length with Transfer-Encoding",
                       "POST /stylize HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
                       "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
                       400, "Transfer-Encoding");
    refused_and_closed("Transfer-Encoding then Content-Length",
                       "POST /models HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                       "Content-Length: 3\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding");
    refused_and_closed("two Transfer-Encodings",
                       "POST /models HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Transfer-Encoding");
    refused_and_closed("Transfer-Encoding on HTTP/1.0",
                       "POST /models HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "0\r\n\r\n", 400, "HTTP/1.0");
    refused_and_closed("a transfer coding other than chunked",
                       "POST /stylize HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n"
                       "\r\n0\r\n\r\n", 501, "Transfer-Encoding");
    /* 7: a space before the colon made the length ignored, so the body was
     * read as the next request. */
    refused_and_closed("space before the colon",
                       "POST /models HTTP/1.1\r\nHost: t\r\nContent-Length : 34\r\n\r\n"
                       "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 400, "not a token");
    refused_and_closed("tab in a field name",
                       "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A\t: 1\r\n\r\n", 400, "not a token");
    refused_and_closed("obs-fold", "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n",
                       400, "folded");
    refused_and_closed("obs-fold with a tab",
                       "GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\nX-B: c\r\n\r\n", 400,
                       "folded");
    refused_and_closed("two Hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
                       "Host");
    /* libmicrohttpd's own answer (strict mode): only the status. */
    refused_and_closed("HTTP/1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, NULL);
    /* 8: 500 parameters (1.9 KB of query) exhausted libmicrohttpd's
     * connection memory: no answer until --timeout. */
    n = (size_t)snprintf(q, 8192, "GET /healthz?p0=1");
    for (int i = 1; i < 500; i++)
        n += (size_t)snprintf(q + n, 8192 - n, "&p%d=1", i);
    snprintf(head, sizeof head, "%s HTTP/1.1\r\nHost: t\r\n\r\n", q);
    refused_and_closed("500 query parameters", head, 400, "query parameters");
    /* 13: an encoded slash would turn one segment into two routes' worth;
     * refused before routing, with the token or without. */
    refused_and_closed("%2F in a model name",
                       "DELETE /models/tiny%2Fcurrent HTTP/1.1\r\nHost: t\r\n"
                       "Authorization: Bearer " TOKEN "\r\n\r\n", 400, "encoded slash");
    refused_and_closed("%2f in a job id", "GET /train/x%2fpreview HTTP/1.1\r\nHost: t\r\n\r\n",
                       400, "encoded slash");
    refused_and_closed("%5C in a path", "GET /models/a%5Cb HTTP/1.1\r\nHost: t\r\n\r\n", 400,
                       "encoded slash");
    free(q);
    /* None of this cost the server anything. */
    healthz_from("127.0.0.1", "after the framing cases");
    /* Within bounds: 32 parameters are read, and other escapes still
     * decode (a model name spelt with %74 is tiny). */
    {
        Reply r;
        harness_get(&srv, "/models/%74iny", &r);
        assert_int_equal(r.status, 200);
        reply_free(&r);
    }
}

/* ---- 2: slowloris ---------------------------------------------------------- */

/* Waits until the server has closed every fd (each read gives EOF or an
 * answer and then EOF); -1 if some stay open past seconds. */
static int wait_all_closed(const int *fds, int n, double seconds)
{
    double until = harness_now() + seconds;
    int open_left = n;
    char *done = calloc((size_t)n, 1), sink[4096];
    assert_non_null(done);
    while (open_left > 0 && harness_now() < until) {
        for (int i = 0; i < n; i++) {
            struct pollfd p = {fds[i], POLLIN, 0};
            if (done[i] || poll(&p, 1, 0) <= 0)
                continue;
            ssize_t k = recv(fds[i], sink, sizeof sink, MSG_DONTWAIT);
            if (k <= 0 && (k == 0 || (p.revents & (POLLHUP | POLLERR)))) {
                done[i] = 1;
                open_left--;
            }
        }
        poll(NULL, 0, 50);
        /* dribble: one more byte of head on each connection still open */
        for (int i = 0; i < n; i++)
            if (!done[i])
                send(fds[i], "X", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    free(done);
    return open_left ? -1 : 0;
}

static void test_slowloris(void **state)
{
    enum { SLOW = MAX_CONNECTIONS + 12 };
    int fds[SLOW];
    double t0 = harness_now();
    char head[256], *reply;
    int fd, closed;
    /* More dribbling heads than the table holds, from one address. */
    for (int i = 0; i < SLOW; i++) {
        fds[i] = connect_from("127.0.0.1");
        static const char start[] = "GET /healthz HTTP/1.1\r\nX-Slow: ";
        raw_send(fds[i], start, sizeof start - 1);
    }
    /* The probe from another address is answered while they are there. */
    healthz_from("127.0.0.2", "with slow heads filling the table");
    healthz_from("127.0.0.3", "with slow heads filling the table");
    /* And every slow head is cut: none lives past --header-timeout (plus
     * the sweep), however it dribbles. */
    if (wait_all_closed(fds, SLOW, 3 * atoi(HEADER_TIMEOUT) + 5)) {
        print_error("slow request heads still open after %.1f s\n", harness_now() - t0);
        fail();
    }
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    /* A body of one byte at a time: 408 once the grace is over. */
    fd = raw_connect(srv.port);
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: image/png\r\nContent-Length: 1000000\r\n\r\n");
    raw_send(fd, head, strlen(head));
    t0 = harness_now();
    closed = 0;
    reply = NULL;
    while (!closed && harness_now() - t0 < 3 * atoi(HEADER_TIMEOUT) + 5) {
        struct pollfd p = {fd, POLLIN, 0};
        send(fd, "x", 1, MSG_NOSIGNAL);
        if (poll(&p, 1, 200) > 0) {
            reply = read_until_close(fd, 5, &closed);
            break;
        }
    }
    close(fd);
    if (!reply || raw_status(reply) != 408 || !strstr(reply, "too-slow")) {
        print_error("a body of one byte at a time: %s\n", reply ? reply : "(no answer)");
        fail();
    }
    free(reply);
    healthz_from("127.0.0.1", "after the slow body");
}

/* ---- 1: the body budget ---------------------------------------------------- */

static int post_head(int length, const char *extra)
{
    char head[300];
    int fd = raw_connect(srv.port);
    snprintf(head, sizeof head, "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: image/png\r\n%sContent-Length: %d\r\n\r\n", extra, length);
    raw_send(fd, head, strlen(head));
    return fd;
}

/* Waits until /metrics shows this many bytes of the body budget in use. */
static void wait_reserved(long long bytes)
{
    char want[96];
    double until = harness_now() + 30;
    snprintf(want, sizeof want, "\natelier_upload_bytes_reserved %lld\n", bytes);
    for (;;) {
        Reply r;
        int seen;
        harness_get(&srv, "/metrics", &r);
        seen = r.body && strstr((const char *)r.body, want) != NULL;
        if (!seen && harness_now() > until) {
            const char *at = r.body ? strstr((const char *)r.body, "\natelier_upload_bytes_reserved ")
                                    : NULL;
            fail_msg("the body budget never showed %lld bytes in use (%.60s)", bytes,
                     at ? at + 1 : "none");
        }
        reply_free(&r);
        if (seen)
            return;
        poll(NULL, 0, 20);
    }
}

static void test_body_budget(void **state)
{
    enum { MiB = 1 << 20 };
    char *chunk = calloc(1, MiB), line[32], *reply;
    int a, b, c, closed;
    assert_non_null(chunk);
    /* Two 4 MiB bodies in flight hold the 8 MiB budget... */
    a = post_head(4 * MiB, "");
    raw_send(a, chunk, MiB);
    b = post_head(4 * MiB, "");
    raw_send(b, chunk, MiB);
    /* (their declared lengths are reserved once their heads are read) */
    wait_reserved(8 * MiB);
    healthz_from("127.0.0.1", "with two bodies in flight");
    /* ... so a third is refused before its body is read... */
    c = post_head(4 * MiB, "Expect: 100-continue\r\n");
    reply = read_until_close(c, 15, &closed);
    close(c);
    if (raw_status(reply) != 503 || !strstr(reply, "Retry-After: ") ||
        !strstr(reply, "upload budget") || !closed) {
        print_error("a body past the budget: %.400s\n", reply);
        fail();
    }
    free(reply);
    /* ... and a chunked one once its first MiB needs room. */
    c = raw_connect(srv.port);
    {
        static const char chunked[] = "POST /stylize?model=tiny HTTP/1.1\r\nHost: t\r\n"
                                      "Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n";
        raw_send(c, chunked, sizeof chunked - 1);
    }
    snprintf(line, sizeof line, "%x\r\n", MiB);
    raw_send(c, line, strlen(line));
    raw_send(c, chunk, MiB);
    raw_send(c, "\r\n", 2);
    reply = read_until_close(c, 15, &closed);
    close(c);
    if (raw_status(reply) != 503 || !strstr(reply, "upload budget")) {
        print_error("a chunked body past the budget: %.400s\n", reply);
        fail();
    }
    free(reply);
    /* Small requests without bodies are not affected. */
    healthz_from("127.0.0.1", "with the budget full");
    /* One holder finishes (a's body is no image: 415): its reservation
     * returns, and a body fits again. */
    for (int k = 0; k < 3; k++)
        raw_send(a, chunk, MiB);
    reply = read_until_close(a, 15, &closed);
    assert_int_equal(raw_status(reply), 415);
    free(reply);
    close(a);
    wait_reserved(4 * MiB);
    c = post_head(MiB, "Connection: close\r\n");
    raw_send(c, chunk, MiB);
    reply = read_until_close(c, 15, &closed);
    close(c);
    /* a MiB of zeros is no image: 415, but it was read */
    assert_int_equal(raw_status(reply), 415);
    free(reply);
    close(b);
    wait_reserved(0);
    free(chunk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_slowloris),
        cmocka_unit_test(test_body_budget),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
